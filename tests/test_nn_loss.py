"""ember.nn losses (functional and modules) against torch: values, node names, gradients of
inputs, targets and weights, gradcheck/gradgradcheck, errors, warnings and reprs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn.functional as EF
from tests.helpers import (
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    torch,
    torch_or_refused,
)

TF = torch.nn.functional


def F(lib):
    return TF if lib is torch else EF


def nn(lib):
    return torch.nn if lib is torch else ember.nn


def idx(lib, values):
    return lib.tensor(np.asarray(values), dtype=lib.int64)


T1 = [0, 2, 1, -100]
T3 = np.array([[0, 2], [1, -100], [2, 2], [0, 1]])
MLM = [[0, 1, -1, 2], [3, -1, 0, 0], [1, 0, 2, 3]]
CTC_T = np.array([[1, 2, 2], [3, 1, 0], [1, 1, 1]])

# name: (fn(lib, reduction, *inputs), input shapes, low, high, gradgrad in torch)
ROWS = {
    "mse": (lambda lib, r, x, y: F(lib).mse_loss(x, y, reduction=r), [(3, 4), (3, 4)]),
    "l1": (lambda lib, r, x, y: F(lib).l1_loss(x, y, reduction=r), [(3, 4), (3, 4)]),
    "smooth_l1": (lambda lib, r, x, y: F(lib).smooth_l1_loss(x, y, reduction=r, beta=0.5),
                  [(3, 4), (3, 4)]),
    "smooth_l1_beta0": (lambda lib, r, x, y: F(lib).smooth_l1_loss(x, y, reduction=r, beta=0),
                        [(3, 4), (3, 4)]),
    "huber": (lambda lib, r, x, y: F(lib).huber_loss(x, y, reduction=r, delta=0.7),
              [(3, 4), (3, 4)]),
    "soft_margin": (lambda lib, r, x, y: F(lib).soft_margin_loss(x, y.detach().sign(), reduction=r),
                    [(3, 4), (3, 4)]),
    "bce": (lambda lib, r, x, y, w: F(lib).binary_cross_entropy(
        x.sigmoid(), y.sigmoid(), w.detach(), reduction=r), [(3, 4), (3, 4), (4,)]),
    "bce_logits_pw": (lambda lib, r, x, y, w, pw: F(lib).binary_cross_entropy_with_logits(
        x, y.sigmoid(), w.detach(), reduction=r, pos_weight=pw), [(3, 4), (3, 4), (4,), (4,)]),
    "bce_logits": (lambda lib, r, x, y: F(lib).binary_cross_entropy_with_logits(
        x, y.sigmoid(), reduction=r), [(3, 4), (3, 4)]),
    "nll": (lambda lib, r, x, w: F(lib).nll_loss(x, idx(lib, T1), w.detach(), reduction=r),
            [(4, 3), (3,)]),
    "nll_unbatched": (lambda lib, r, x: F(lib).nll_loss(x, idx(lib, 2), reduction=r), [(3,)]),
    "nll_4d": (lambda lib, r, x: F(lib).nll_loss(x, idx(lib, T3[..., None]), reduction=r),
               [(4, 3, 2, 1)]),
    "ce_smooth_w": (lambda lib, r, x, w: F(lib).cross_entropy(
        x, idx(lib, T1), w.detach(), reduction=r, label_smoothing=0.2), [(4, 3), (3,)]),
    "ce_smooth": (lambda lib, r, x: F(lib).cross_entropy(
        x, idx(lib, T1), reduction=r, label_smoothing=0.2), [(4, 3)]),
    "ce_3d": (lambda lib, r, x, w: F(lib).cross_entropy(x, idx(lib, T3), w.detach(), reduction=r),
              [(4, 3, 2), (3,)]),
    "ce_5d": (lambda lib, r, x, w: F(lib).cross_entropy(
        x, idx(lib, T3[..., None, None]), w.detach(), reduction=r), [(4, 3, 2, 1, 1), (3,)]),
    "ce_probs": (lambda lib, r, x, y, w: F(lib).cross_entropy(
        x, y.softmax(1), w.detach(), reduction=r, label_smoothing=0.1), [(4, 3), (4, 3), (3,)]),
    "ce_unbatched": (lambda lib, r, x: F(lib).cross_entropy(x, idx(lib, 1), reduction=r),
                     [(3,)]),
    "kl_div_log_target": (lambda lib, r, x, y: F(lib).kl_div(
        x, y, reduction="batchmean" if r == "mean" else r, log_target=True), [(3, 4), (3, 4)]),
    "kl_div": (lambda lib, r, x, y: F(lib).kl_div(
        x, y.abs(), reduction="batchmean" if r == "mean" else r), [(3, 4), (3, 4)]),
    "poisson_full": (lambda lib, r, x, y: F(lib).poisson_nll_loss(
        x, y.abs() * 3, reduction=r, full=True), [(3, 4), (3, 4)]),
    "poisson_linear": (lambda lib, r, x, y: F(lib).poisson_nll_loss(
        x.abs(), y.abs(), log_input=False, reduction=r), [(3, 4), (3, 4)]),
    "gaussian_full": (lambda lib, r, x, y, v: F(lib).gaussian_nll_loss(
        x, y, v.abs(), reduction=r, full=True), [(3, 4), (3, 4), (3, 4)]),
    "gaussian_homo": (lambda lib, r, x, y, v: F(lib).gaussian_nll_loss(
        x, y, v.abs(), reduction=r), [(3, 4), (3, 4), (3,)]),
    "cosine_embedding": (lambda lib, r, x, y: F(lib).cosine_embedding_loss(
        x, y, lib.tensor([1, -1, 1], dtype=x.dtype), margin=0.1, reduction=r),
        [(3, 4), (3, 4)]),
    "margin_ranking": (lambda lib, r, x, y: F(lib).margin_ranking_loss(
        x, y, lib.tensor([1, -1, 1], dtype=x.dtype), margin=0.1, reduction=r), [(3,), (3,)]),
    "hinge_embedding": (lambda lib, r, x, y: F(lib).hinge_embedding_loss(
        x, y.sign(), margin=0.5, reduction=r), [(3, 4), (3, 4)]),
    "multilabel_soft_margin": (lambda lib, r, x, y, w: F(lib).multilabel_soft_margin_loss(
        x, (y > 0).to(x.dtype), w, reduction=r), [(3, 4), (3, 4), (4,)]),
    "multilabel_margin": (lambda lib, r, x: F(lib).multilabel_margin_loss(
        x, idx(lib, MLM), reduction=r), [(3, 4)]),
    "multilabel_margin_1d": (lambda lib, r, x: F(lib).multilabel_margin_loss(
        x, idx(lib, [3, 1, -1, 2]), reduction=r), [(4,)]),
    "multi_margin_p1": (lambda lib, r, x, w: F(lib).multi_margin_loss(
        x, idx(lib, [0, 3, 1]), p=1, margin=0.8, weight=w.detach(), reduction=r), [(3, 4), (4,)]),
    "multi_margin_p2": (lambda lib, r, x, w: F(lib).multi_margin_loss(
        x, idx(lib, [0, 3, 1]), p=2, margin=0.8, weight=w.detach(), reduction=r), [(3, 4), (4,)]),
    "triplet_swap_p1": (lambda lib, r, a, b, c: F(lib).triplet_margin_loss(
        a, b, c, swap=True, p=1, reduction=r), [(3, 4), (3, 4), (3, 4)]),
    "triplet_distance": (lambda lib, r, a, b, c: F(lib).triplet_margin_with_distance_loss(
        a, b, c, reduction=r), [(3, 4), (3, 4), (3, 4)]),
    "ctc_padded": (lambda lib, r, x: F(lib).ctc_loss(
        x.log_softmax(2), idx(lib, CTC_T), idx(lib, [6, 5, 6]), idx(lib, [3, 2, 0]),
        reduction=r), [(6, 3, 4)]),
    "ctc_concatenated": (lambda lib, r, x: F(lib).ctc_loss(
        x.log_softmax(2), idx(lib, [1, 2, 2, 3, 1]), [6, 5, 6], [3, 2, 0], reduction=r),
        [(6, 3, 4)]),
    "ctc_zero_infinity": (lambda lib, r, x: F(lib).ctc_loss(
        x.log_softmax(2), idx(lib, [1, 1, 1, 1]), idx(lib, [2, 3, 6]), idx(lib, [2, 1, 1]),
        reduction=r, zero_infinity=True), [(6, 3, 4)]),
    "ctc_unbatched": (lambda lib, r, x: F(lib).ctc_loss(
        x.log_softmax(1), idx(lib, [1, 2]), idx(lib, 5), idx(lib, 2), blank=3, reduction=r),
        [(5, 4)]),
}
# torch refuses a second derivative of these (or of their index-driven parts)
NO_GRADGRAD = {"multilabel_margin", "multilabel_margin_1d", "ctc_padded",
               "ctc_concatenated", "ctc_zero_infinity", "ctc_unbatched", "multi_margin_p1",
               "multi_margin_p2", "bce"}
# how many leading inputs a row can differentiate (the rest are weights)
FREE = {"bce": 2, "bce_logits_pw": 2, "nll": 1, "ce_smooth_w": 1, "ce_3d": 1, "ce_5d": 1,
        "ce_probs": 2, "multi_margin_p1": 1, "multi_margin_p2": 1, "soft_margin": 1}
REDUCTIONS = ("none", "mean", "sum")


@pytest.mark.parametrize("name", sorted(ROWS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_matches_torch(name, reduction, dtype):
    fn, shapes = ROWS[name]
    check_op(lambda lib, *xs: fn(lib, reduction, *xs), shapes, dtype=dtype)


@pytest.mark.parametrize("name", sorted(set(ROWS)))
def test_loss_gradcheck(name):
    fn, shapes = ROWS[name]
    if name.startswith("ctc"):  # torch's ctc gradient is only a gradient after log_softmax
        gradgrad = False
    else:
        gradgrad = name not in NO_GRADGRAD
    # away from the kinks of the piecewise losses, where finite differences straddle them
    # weights torch refuses to differentiate are fixed: only the others are checked
    fixed = [ember.tensor(np.linspace(0.5, 1.5, int(np.prod(s))).reshape(s))
             for s in shapes[FREE.get(name, len(shapes)):]]
    free = shapes[:FREE.get(name, len(shapes))]
    check_gradcheck(lambda lib, *xs: fn(lib, "sum", *xs, *fixed), free, seed=3,
                    gradgrad=gradgrad)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), extra=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.3]),
       weighted=st.booleans(), ignore=st.sampled_from([-100, 0]), seed=st.integers(0, 999))
def test_cross_entropy_hypothesis(n, c, extra, reduction, smoothing, weighted, ignore, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, size=(n, *extra))
    if ignore == -100:
        target[rng.random(target.shape) < 0.2] = -100

    def fn(lib, x, w):
        return F(lib).cross_entropy(x, idx(lib, target), w if weighted else None,
                                    ignore_index=ignore, reduction=reduction,
                                    label_smoothing=smoothing)
    check_op(fn, [(n, c, *extra), (c,)], seed=seed, dtype="float64")


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       reduction=st.sampled_from(REDUCTIONS), beta=st.sampled_from([0.3, 1.0, 2.0]),
       seed=st.integers(0, 999))
def test_regression_losses_hypothesis(shape, reduction, beta, seed):
    for fn in (lambda lib, x, y: F(lib).mse_loss(x, y, reduction=reduction),
               lambda lib, x, y: F(lib).smooth_l1_loss(x, y, reduction=reduction, beta=beta),
               lambda lib, x, y: F(lib).huber_loss(x, y, reduction=reduction, delta=beta),
               lambda lib, x, y: F(lib).soft_margin_loss(x, y, reduction=reduction),
               lambda lib, x, y: F(lib).binary_cross_entropy_with_logits(
                   x * 5, y.sigmoid(), reduction=reduction)):
        check_op(fn, [shape, shape], seed=seed)


@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 7), n=st.integers(1, 3), c=st.integers(2, 5), seed=st.integers(0, 999),
       reduction=st.sampled_from(REDUCTIONS))
def test_ctc_hypothesis(t, n, c, seed, reduction):
    rng = np.random.default_rng(seed)
    in_lengths = rng.integers(1, t + 1, size=n)
    tgt_lengths = rng.integers(0, 4, size=n)
    targets = rng.integers(1, c, size=(n, 3))

    def fn(lib, x):
        return F(lib).ctc_loss(x.log_softmax(2), idx(lib, targets), idx(lib, in_lengths),
                               idx(lib, tgt_lengths), reduction=reduction, zero_infinity=True)
    check_op(fn, [(t, n, c)], seed=seed, dtype="float64")


def _ctc_lengths(lib, input_lengths, target_lengths, **kwargs):
    log_probs = lib.tensor(np.random.default_rng(0).normal(size=(5, 2, 4))).log_softmax(2)
    lengths = [lib.tensor(v) if isinstance(v, np.ndarray) else v
               for v in (input_lengths, target_lengths)]
    return F(lib).ctc_loss(log_probs, idx(lib, [[1, 2], [3, 3]]), *lengths, **kwargs)


@pytest.mark.parametrize("targets", [[[3, 1, 2], [1, 3, 3]], [[1, 3, 1], [3, 3, 2]]])
def test_ctc_loss_target_equal_to_blank(targets):
    # torch's docs rule such targets out, but its kernel gives them a value: the label is
    # one like any other, reached by skipping a blank unless it repeats the previous label.
    # Only the loss is compared: torch's gradient at the last frame there is not the
    # derivative of its loss (ember's is).
    def fn(lib):
        log_probs = lib.tensor(np.random.default_rng(1).normal(size=(6, 2, 4))).log_softmax(2)
        return F(lib).ctc_loss(log_probs, idx(lib, targets), [6, 5], [3, 2], blank=3,
                               reduction="none")
    assert_same(fn(ember), fn(torch))


@pytest.mark.parametrize("lengths", [
    (np.array([5, 4]), np.array([2, 1])), ([5, 4], (2, 1)),
    (np.array([[5, 4]]), np.array([2, 1])),  # any shape, read flat
    (np.array([5, 4], dtype=np.int8), np.array([2, 1], dtype=np.uint8)),
    ([np.int64(5), 4], [2, 1]),
    # torch's argument parser: two tensors or two lists of ints, nothing else
    (np.array([5, 4]), [2, 1]), ([5, 4], np.array([2, 1])), (5, np.array([2, 1])), (5, 2),
    ((5.0, 4.0), (2, 1)), ([True, 4], [2, 1]), (range(5, 3, -1), [2, 1]),
    ((5, 4), 2),
    # float or bool length tensors, then the batch size
    (np.array([5.0, 4.0]), np.array([2, 1])), (np.array([5, 4]), np.array([2.0, 1.0])),
    (np.array([True, True]), np.array([2, 1])),
    (np.array([5]), np.array([2, 1])), ((5, 4), (2,)), (np.array(5), np.array(2)),
])
@pytest.mark.parametrize("kwargs", [{}, {"blank": 3, "zero_infinity": True}])
def test_ctc_loss_lengths_as_torch_takes_them(lengths, kwargs):
    t_out = torch_or_refused(lambda lib: _ctc_lengths(lib, *lengths, **kwargs),
                             TypeError, RuntimeError)
    if t_out is not None:
        assert_same(_ctc_lengths(ember, *lengths, **kwargs), t_out)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs", [("nll_loss", {}), ("cross_entropy", {}),
                                         ("cross_entropy", {"label_smoothing": 0.3})])
def test_unbatched_input_with_one_element_target(name, kwargs, weighted, reduction):
    # one sample of C classes whose target is a (1,) vector: torch's loss is 0-d, as for a
    # 0-d target (its backward refuses the pair, a defect of its kernel's size check); with
    # label smoothing its in-place masking of the 0-d smoothing term refuses the (1,) mask
    kwargs = {**kwargs, "reduction": reduction}

    def fn(lib, x, w):
        return getattr(F(lib), name)(x, idx(lib, [2]), w.detach() if weighted else None,
                                     **kwargs)
    check_op(fn, [(4,), (4,)], torch_backward_bug="size mismatch (got input: [4], target: [1])")


@pytest.mark.parametrize("call", [
    lambda lib: F(lib).nll_loss(lib.zeros(4), idx(lib, [0, 1])),
    lambda lib: F(lib).cross_entropy(lib.zeros(4), idx(lib, np.zeros(0, np.int64))),
])
def test_unbatched_input_refuses_a_longer_target(call):
    check_raises_like(call)


def _nll(lib, shape, target, weight=None, **kwargs):
    return F(lib).nll_loss(lib.ones(shape, dtype=kwargs.pop("dtype", lib.float32)),
                           lib.tensor(np.asarray(target), dtype=kwargs.pop("target_dtype",
                                                                           lib.int64)),
                           weight if weight is None else lib.ones(weight, dtype=kwargs.pop(
                               "weight_dtype", lib.float32)), **kwargs)


# each refusal names the first of torch's checks that fails (NOTE [nll_loss's checks])
@pytest.mark.parametrize("call", [
    lambda lib: _nll(lib, (4,), [1.0, 2.0], target_dtype=lib.float32),
    lambda lib: _nll(lib, (4,), [1.0], (3,), target_dtype=lib.float32),
    lambda lib: _nll(lib, (4,), [1, 2], (3,)),
    lambda lib: _nll(lib, (2, 4), [1, 2], (2, 2)),
    lambda lib: _nll(lib, (2, 4), [1, 2], (1, 4)),
    lambda lib: _nll(lib, (2, 4), [1, 2], (4,), weight_dtype=lib.float64),
    lambda lib: _nll(lib, (2, 4), [1, 9], (4,), dtype=lib.float64),
    lambda lib: _nll(lib, (2, 4), [1, 2], (4,), dtype=lib.int64),
    lambda lib: _nll(lib, (2, 4), [1.0, 2.0], dtype=lib.int64, target_dtype=lib.float32),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3))),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 2, 1))),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 3))),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 3)), target_dtype=lib.float32),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 2)), (3,)),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 2)), (3,), target_dtype=lib.float32),
    lambda lib: _nll(lib, (2, 4, 3), np.ones((2, 3)), (3,), target_dtype=lib.float32),
    lambda lib: _nll(lib, (2, 4, 3), np.ones((2, 3)), (4,), weight_dtype=lib.float64),
    lambda lib: _nll(lib, (2, 4, 3), np.ones((2, 3)), target_dtype=lib.uint8),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 2)), (4,), dtype=lib.int64,
                     target_dtype=lib.uint8, weight_dtype=lib.float64),
    lambda lib: _nll(lib, (2, 4, 3, 2), np.ones((2, 3, 2)), (4,), target_dtype=lib.uint8,
                     weight_dtype=lib.float64),
])
def test_nll_loss_checks_in_torchs_order(call):
    check_raises_like(call)


# a target of the input's shape holds class probabilities (torch decides by the shapes alone)
@pytest.mark.parametrize("call", [
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4, dtype=lib.int32)),
    lambda lib: F(lib).cross_entropy(lib.ones(4), lib.ones(4, dtype=lib.int64)),
    lambda lib: F(lib).cross_entropy(lib.ones(()), lib.tensor(0)),
    lambda lib: F(lib).cross_entropy(lib.ones(()), lib.tensor(0.0)),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4, dtype=lib.int32),
                                     label_smoothing=1.5),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), ignore_index=0),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), weight=lib.ones(3),
                                     ignore_index=1),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), weight=lib.ones(3),
                                     label_smoothing=3.0),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), weight=lib.ones(1, 4)),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), weight=lib.ones(2, 2)),
    lambda lib: F(lib).cross_entropy(lib.ones(2, 4), lib.ones(2, 4), label_smoothing=1.5),
])
def test_cross_entropy_probability_target_checks(call):
    check_raises_like(call)


@pytest.mark.parametrize("probabilities", [False, True])
def test_cross_entropy_ignores_a_negative_label_smoothing(probabilities):
    # torch checks only label_smoothing > 1 and smooths only when it is positive
    def fn(lib, x, y):
        target = y.softmax(1) if probabilities else idx(lib, [0, 3, 1])
        return F(lib).cross_entropy(x, target, ignore_index=-5, label_smoothing=-0.5)
    check_op(fn, [(3, 4), (3, 4)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target", [((4,), [2]), ((4,), 2), ((1, 4), 2), ((), [0]),
                                          ((), 0)])
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss_shapes(shape, target, p, reduction):
    # torch reads N class indices from a 0-d or 1-D target (N = 1 for an input (C) or a 0-d
    # one-class input); the unreduced loss has the target's shape
    check_op(lambda lib, x: F(lib).multi_margin_loss(x, idx(lib, target), p=p, margin=0.7,
                                                     reduction=reduction), [shape])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target", [[0], 0, -1])
def test_multilabel_margin_loss_of_one_class(target, reduction):
    check_op(lambda lib, x: F(lib).multilabel_margin_loss(x, idx(lib, target),
                                                          reduction=reduction), [()])


@pytest.mark.parametrize("call", [
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), idx(lib, [[1, 2]])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), idx(lib, [1])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(4), idx(lib, [1, 2])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 3, 4), idx(lib, [1, 2])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 0), lib.tensor([1.0, 2.0])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), idx(lib, [1, 2]), weight=lib.ones(3)),
    lambda lib: F(lib).multi_margin_loss(lib.ones(()), idx(lib, [0]), weight=lib.ones(2)),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), lib.tensor([1.0, 2.0]),
                                         weight=lib.ones(4, dtype=lib.float64)),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), idx(lib, [1, 7]),
                                         weight=lib.ones(4, dtype=lib.float64)),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4, dtype=lib.int64), lib.tensor([1., 2.])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4, dtype=lib.bfloat16), idx(lib, [1, 2])),
    lambda lib: F(lib).multi_margin_loss(lib.ones(2, 4), lib.tensor([1, 2], dtype=lib.int32)),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 3, 4), lib.ones(2, 3, 4).long()),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 0), lib.ones(2, 0).long()),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 4), idx(lib, [[1, 2, 3, 7]] * 2)),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 4, dtype=lib.int64),
                                              idx(lib, [[1, 2, 3, 7]] * 2)),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 4, dtype=lib.int64),
                                              idx(lib, [[1, 2, 3, -1]] * 2)),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(2, 4), lib.tensor([[1.0, 2, 3, -1]] * 2)),
    lambda lib: F(lib).multilabel_margin_loss(lib.ones(()), idx(lib, 1)),
])
def test_margin_losses_check_like_torch(call):
    check_raises_like(call)


def _ctc(lib, targets, input_lengths, target_lengths, unbatched=False):
    log_probs = lib.tensor(np.random.default_rng(0).normal(size=(5, 2, 4))).log_softmax(2)
    if unbatched:
        log_probs = log_probs[:, 0]
    return F(lib).ctc_loss(log_probs, idx(lib, targets), idx(lib, input_lengths),
                           idx(lib, target_lengths))


@pytest.mark.parametrize("call", [
    lambda lib: _ctc(lib, np.ones((2, 3)), [5, 5], [4, 3]),
    lambda lib: _ctc(lib, np.ones(5), [5, 5], [4, 3]),
    lambda lib: _ctc(lib, np.ones((3, 3)), [5, 5], [1, 3]),
    lambda lib: _ctc(lib, np.ones((2, 3, 3)), [5, 5], [1, 3]),
    lambda lib: _ctc(lib, np.ones((2, 3)), [5, 5], [-1, 3]),
    lambda lib: _ctc(lib, np.ones((2, 3)), [5, -1], [1, 3]),
    lambda lib: _ctc(lib, np.ones((2, 3)), [5, 6], [1, 3]),
    lambda lib: _ctc(lib, np.ones(3), 5, 2, unbatched=True),
    lambda lib: _ctc(lib, np.ones((2, 3)), 5, 1, unbatched=True),
])
def test_ctc_loss_checks_targets_and_lengths_as_torch(call):
    # targets shorter than their lengths indexed past the end (an IndexError) or were read
    # padded; negative lengths were taken; an unbatched 1-D target is a concatenation
    check_raises_like(call)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 4, 3, 1)])
def test_spatial_nll_loss_reads_any_weight_of_c_elements(shape, reduction):
    target = np.arange(6).reshape((2, 3) + shape[3:]) % 4

    def fn(lib, x, w):
        return F(lib).nll_loss(x, idx(lib, target), w.detach().reshape(2, 2),
                               reduction=reduction)
    check_op(fn, [shape, (4,)])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,target", [((3, 4), [1, -100, 2]), ((4,), -100),
                                          ((2, 4, 1, 2), [[[1, -100]], [[-100, 2]]])])
def test_nll_loss_zeros_are_positive(shape, target, reduction, dtype, create_graph):
    # torch skips an ignored target (its loss is 0) and writes each target's gradient into
    # zeros: no -0 in the loss or the gradient, even for a negative incoming gradient
    out = {}
    for lib in (torch, ember):
        x = lib.ones(shape, dtype=getattr(lib, dtype), requires_grad=True)
        loss = F(lib).nll_loss(x, idx(lib, target), reduction=reduction)
        (grad,) = lib.autograd.grad(loss, x, -lib.ones_like(loss), create_graph=create_graph)
        out[lib] = [repr(loss.detach()), repr(grad.detach())]
    assert out[ember] == out[torch]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses(name, reduction):
    # torch's weighted mse and l1 means divide by the weights' sum (huber's by the count);
    # the weight must have the input's own shape. (Compared directly: under a torch
    # function mode, as check_op's recorder, torch's l1_loss drops its weight.)
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=(3, 3, 4))
    out, grads = [], []
    for lib in (torch, ember):
        xs = lib.tensor(x, requires_grad=True)
        loss = getattr(F(lib), name)(xs, lib.tensor(y), weight=lib.tensor(abs(w)),
                                     reduction=reduction)
        loss.sum().backward()
        out.append(loss)
        grads.append(xs.grad)
    assert_same(out[1], out[0])
    assert_same(grads[1], grads[0])
    check_raises_like(lambda lib: getattr(F(lib), name)(lib.ones(2, 3), lib.zeros(2, 3),
                                                        weight=lib.ones(3)))
    with warnings.catch_warnings():  # the broadcast target's warning
        warnings.simplefilter("ignore")
        check_raises_like(lambda lib: getattr(F(lib), name)(lib.ones(3), lib.zeros(2, 3),
                                                            weight=lib.ones(2, 3)))


def test_extreme_logits_are_stable():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    target = [0, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lib in (torch, ember):
            x = lib.tensor(logits, requires_grad=True)
            out = F(lib).cross_entropy(x, idx(lib, target))
            out.backward()
            bce = F(lib).binary_cross_entropy_with_logits(
                x, lib.tensor(np.eye(3)[[0, 2]]), pos_weight=lib.tensor([2.0, 1.0, 0.5]))
            bce.backward()
        check_op(lambda lib, x: F(lib).cross_entropy(x * 1e4, idx(lib, target)), [(2, 3)],
                 dtype="float64")
        check_op(lambda lib, x, y: F(lib).binary_cross_entropy_with_logits(
            x * 1e4, y.sigmoid()), [(2, 3), (2, 3)], dtype="float64")
        check_op(lambda lib, x: F(lib).binary_cross_entropy(
            (x > 0).to(x.dtype), lib.ones_like(x) * 0.5), [(3, 4)], grad=False)


def test_deprecated_arguments_warn_like_torch():
    for kwargs in ({"size_average": False}, {"reduce": False}, {"size_average": True},
                   {"reduction": "elementwise_mean"}):
        results = []
        for lib in (torch, ember):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                x = lib.tensor([[1.0, 2.0], [3.0, 5.0]])
                out = F(lib).mse_loss(x, x * 2, **kwargs)
            results.append((out.tolist(), [(w.category, str(w.message)) for w in caught]))
        assert results[0] == results[1]


@pytest.mark.parametrize("call", [
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3), idx(lib, [0, 1, 5, 1])),
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3), idx(lib, [0, 1, 1])),
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3), lib.tensor(1)),  # 0-d: a batch of 0
    lambda lib: F(lib).cross_entropy(lib.zeros(4, 3), lib.tensor(1)),
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3), lib.tensor([0.0, 1, 1, 1])),
    lambda lib: F(lib).cross_entropy(lib.zeros(4, 3), idx(lib, [0, 1, -3, 1])),
    lambda lib: F(lib).mse_loss(lib.zeros(3), lib.zeros(3), reduction="foo"),
    lambda lib: F(lib).binary_cross_entropy(lib.zeros(4, 3), lib.zeros(4, 2)),
    lambda lib: F(lib).binary_cross_entropy(lib.full((2,), 2.0), lib.zeros(2)),
    lambda lib: F(lib).binary_cross_entropy_with_logits(lib.zeros(4, 3), lib.zeros(4, 2)),
    lambda lib: F(lib).multi_margin_loss(lib.zeros(2, 3), idx(lib, [0, 1]), p=3),
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3), idx(lib, [0, 1, 1, 1]), weight=lib.ones(2)),
    lambda lib: F(lib).nll_loss(lib.zeros(4, 3, 2, 2, 2), lib.zeros(4, 2, 2, 3).long()),
    lambda lib: F(lib).triplet_margin_loss(lib.zeros(2, 3), lib.zeros(2, 3), lib.zeros(3)),
    lambda lib: F(lib).mse_loss(lib.ones(2, 3).long(), lib.ones(2, 3).long()),
    lambda lib: F(lib).mse_loss(lib.ones(2, 3).int(), lib.ones(2, 3).long()),
    lambda lib: F(lib).mse_loss(lib.ones(2, 3).bool(), lib.ones(2, 3).bool()),
    lambda lib: F(lib).smooth_l1_loss(lib.ones(2, 3).int(), lib.ones(2, 3).int()),
    lambda lib: F(lib).huber_loss(lib.ones(2, 3).long(), lib.ones(2, 3).long()),
    lambda lib: F(lib).cosine_embedding_loss(lib.ones(2, 3), lib.ones(2, 3), lib.ones(2, 1)),
    lambda lib: F(lib).cosine_embedding_loss(lib.ones(2, 3, 1), lib.ones(2, 3, 1),
                                             lib.ones(2, 3)),
    lambda lib: F(lib).triplet_margin_with_distance_loss(
        lib.zeros(2, 3), lib.zeros(2, 3), lib.zeros(2, 3), margin=0),
    lambda lib: F(lib).gaussian_nll_loss(lib.zeros(2, 3), lib.zeros(2, 3), lib.zeros(3, 3)),
    lambda lib: F(lib).gaussian_nll_loss(lib.zeros(2, 3), lib.zeros(2, 3), -lib.ones(2, 3)),
    lambda lib: F(lib).smooth_l1_loss(lib.zeros(2), lib.zeros(2), beta=-1.0),
    lambda lib: F(lib).cross_entropy(lib.zeros(2, 3), idx(lib, [0, 1]), label_smoothing=2.0),
])
def test_errors_match_torch(call):
    check_raises_like(call)


MODULES = [
    ("L1Loss", {}), ("MSELoss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 2.0}), ("SoftMarginLoss", {}), ("BCELoss", {}),
    ("BCEWithLogitsLoss", {}), ("CrossEntropyLoss", {"label_smoothing": 0.1}),
    ("NLLLoss", {"ignore_index": 1}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("PoissonNLLLoss", {"full": True}), ("GaussianNLLLoss", {"eps": 1e-3}),
    ("CosineEmbeddingLoss", {"margin": 0.2}), ("MarginRankingLoss", {"margin": 0.1}),
    ("HingeEmbeddingLoss", {"margin": 2.0}), ("MultiLabelSoftMarginLoss", {}),
    ("MultiLabelMarginLoss", {}), ("MultiMarginLoss", {"p": 2, "margin": 0.5}),
    ("TripletMarginLoss", {"margin": 0.5, "swap": True}),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5}), ("CTCLoss", {"blank": 1}),
]


@pytest.mark.parametrize("name,kwargs", MODULES)
def test_module_repr_and_state(name, kwargs):
    if name == "TripletMarginWithDistanceLoss" and not hasattr(ember.nn, "PairwiseDistance"):
        pytest.skip("its default distance is nn.PairwiseDistance (modules/distance.py)")
    t_mod = getattr(torch.nn, name)(**kwargs)
    e_mod = getattr(ember.nn, name)(**kwargs)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    assert e_mod.reduction == t_mod.reduction


def test_modules_compute_like_functional():
    def fn(lib, x, w):
        loss = nn(lib).CrossEntropyLoss(weight=w.detach(), label_smoothing=0.1)
        return loss(x, idx(lib, [0, 2, 1]))
    check_op(fn, [(3, 3), (3,)])

    def fn2(lib, x, y):
        return (nn(lib).BCEWithLogitsLoss(pos_weight=lib.tensor([1.0, 2.0, 3.0]))(x, y.sigmoid())
                + nn(lib).MSELoss(reduction="sum")(x, y) + nn(lib).HuberLoss()(x, y)
                + nn(lib).TripletMarginLoss(p=1)(x, y, y * 2)
                + nn(lib).GaussianNLLLoss(full=True)(x, y, y.abs() + 0.1)
                + nn(lib).MultiMarginLoss()(x, idx(lib, [0, 1, 2])))
    check_op(fn2, [(3, 3), (3, 3)])

    def fn3(lib, x):
        ctc = nn(lib).CTCLoss(reduction="sum", zero_infinity=True)
        return ctc(x.log_softmax(2), idx(lib, CTC_T), [4, 4, 3], [3, 2, 1])
    check_op(fn3, [(4, 3, 4)])


def test_nll_loss_2d_is_the_deprecated_nll_loss() -> None:
    rng = np.random.default_rng(3)
    logp = rng.normal(size=(2, 3, 4, 5))
    target = rng.integers(0, 3, size=(2, 4, 5))
    out = {}
    for lib in (torch, ember):
        with pytest.warns(FutureWarning) as record:
            loss = lib.nn.NLLLoss2d(ignore_index=1, reduction="sum")
        out[lib.__name__] = (str(record[0].message), repr(loss),
                             loss(lib.tensor(logp), lib.tensor(target)))
    assert out["ember"][:2] == out["torch"][:2]
    assert_same(out["ember"][2], out["torch"][2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (), (0, 2)])
def test_mse_loss_backward_record(reduction, shape):
    # MseLossBackward0 runs one op, mse_loss_backward, whose node (MseLossBackwardBackward0)
    # gives the second derivatives in the incoming gradient, the input and the target.
    out_shape = shape if reduction == "none" else ()

    def fn(lib, x, y, g):
        loss = F(lib).mse_loss(x, y, reduction=reduction)
        return lib.autograd.grad(loss, (x, y), g, create_graph=True)
    check_op(fn, [shape, shape, out_shape], dtype="float64")
    check_op(fn, [shape, shape, out_shape])
    if 0 not in shape:
        check_gradcheck(fn, [shape, shape, out_shape])


@pytest.mark.parametrize("input_dtype,target_dtype", [
    ("float64", "float32"), ("float32", "float64"), ("float32", "float16"),
    ("float16", "float32"), ("float32", "bfloat16")])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_with_logits_result_has_the_targets_dtype(input_dtype, target_dtype, reduction):
    # torch's result dtype is the target's, whichever of the two is wider
    logits, targets = np.linspace(-2.0, 2.0, 5), np.linspace(0.0, 1.0, 5)
    out = {}
    for lib in (torch, ember):
        x = lib.tensor(logits).to(getattr(lib, input_dtype)).requires_grad_()
        t = lib.tensor(targets).to(getattr(lib, target_dtype)).requires_grad_()
        r = lib.nn.functional.binary_cross_entropy_with_logits(x, t, reduction=reduction)
        r.sum().backward()
        out[lib] = (r, x.grad, t.grad)
    for e, t in zip(out[ember], out[torch]):
        assert repr(e.dtype) == repr(t.dtype)
        if {input_dtype, target_dtype} <= {"float32", "float64"}:
            # (half precision: the two libraries round the intermediate steps differently)
            assert_same(e, t)


def _grads_two_ways(fn, x):
    """x's gradient of ``fn(x)`` from a first-order backward (formulas on arrays where they
    have a path for it) and from one that records a graph (the formulas' ops)."""
    out = []
    for create_graph in (False, True):
        leaf = x.detach().requires_grad_()
        y = fn(leaf)
        seed = ember.linspace(-1.5, 2.0, y.numel(), dtype=y.dtype).reshape(y.shape)
        (g,) = ember.autograd.grad(y, leaf, seed, create_graph=create_graph)
        out.append(g.detach())
    return out


@pytest.mark.bitexact
@pytest.mark.parametrize("shape, dim", [((64, 10), 1), ((5, 3, 4), 1), ((7,), 0),
                                        ((4, 6), 0), ((2, 3), -1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_first_order_backward_is_its_formula_bit_for_bit(shape, dim, dtype):
    # LogSoftmaxBackward0 computes on arrays when nothing records a graph: the same NumPy
    # calls as the formula's ops, so the same bits (both ways on this machine)
    x = ember.tensor(np.random.default_rng(0).standard_normal(shape) * 3,
                     dtype=getattr(ember, dtype))
    arrays, ops = _grads_two_ways(lambda t: t.log_softmax(dim), x)
    assert arrays.dtype == ops.dtype and arrays.stride() == ops.stride()
    assert arrays.numpy().tobytes() == ops.numpy().tobytes()


@pytest.mark.bitexact
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", ["plain", "weighted", "ignored", "unbatched"])
def test_cross_entropy_first_order_backward_is_its_formulas_bit_for_bit(reduction, case):
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((6, 5)).astype(np.float32))
    target = ember.tensor(np.array([0, 4, 2, 2, 1, 3]))
    kwargs = {"reduction": reduction}
    if case == "weighted":
        kwargs["weight"] = ember.tensor(np.linspace(0.5, 2.0, 5, dtype=np.float32))
    if case == "ignored":
        target = ember.tensor(np.array([0, -100, 2, 2, -100, 3]))
    if case == "unbatched":
        x, target = x[0], target[1]
    arrays, ops = _grads_two_ways(lambda t: EF.cross_entropy(t, target, **kwargs), x)
    assert arrays.dtype == ops.dtype and arrays.stride() == ops.stride()
    assert arrays.numpy().tobytes() == ops.numpy().tobytes()


def test_kl_div_target_gradient_sums_in_torch_order():
    """torch computes ``target * input`` before ``xlogy(target, target)``, so its engine adds
    the target's gradient terms as (xlogy's two) + the product's: in float64 that order
    decides the last bit of about a sixth of the elements."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 40))
    t = rng.random((50, 40)) * 3 + 0.1
    grads = {}
    for lib in (torch, ember):
        xt = lib.tensor(x, requires_grad=True)
        tt = lib.tensor(t, requires_grad=True)
        out = lib.nn.functional.kl_div(xt, tt, reduction="sum")
        grads[lib] = lib.autograd.grad(out, tt)[0].numpy()
    # torch's order, with NumPy's log (ember's): exact whatever the CPU
    np.testing.assert_array_equal(grads[ember], (np.log(t) + t / t) + -x)
    np.testing.assert_allclose(grads[ember], grads[torch], rtol=1e-15, atol=0)


def _graph(node):
    """A graph as nested (name, inputs) tuples, None where an input needs no gradient."""
    if node is None:
        return None
    return node.name(), tuple(_graph(f) for f, _ in node.next_functions)


# The losses whose gradient is an op of its own in torch (nll_loss_backward,
# _log_softmax_backward_data, _softmax_backward_data): a graph of the gradient has their
# ...BackwardBackward0 nodes, and its own gradient follows their formulas.
DOUBLE_BACKWARD_ROWS = {
    "nll": lambda lib, x, t, w: F(lib).nll_loss(lib.log_softmax(x, 1), t),
    "nll_weight_sum": lambda lib, x, t, w: F(lib).nll_loss(lib.log_softmax(x, 1), t, weight=w,
                                                          reduction="sum"),
    "nll_none_ignored": lambda lib, x, t, w: F(lib).nll_loss(
        lib.log_softmax(x, 1), t, reduction="none", ignore_index=1).sum(),
    "nll_of_square": lambda lib, x, t, w: F(lib).nll_loss(x * x, t, weight=w),
    "nll_one_sample": lambda lib, x, t, w: F(lib).nll_loss((x * x).sum(0), t[0]),
    "nll2d": lambda lib, x, t, w: F(lib).nll_loss(lib.log_softmax(x.view(2, 3, 2, 2), 1),
                                                 t.view(2, 2, 2), weight=w),
    "cross_entropy": lambda lib, x, t, w: F(lib).cross_entropy(x, t),
    "cross_entropy_smoothed": lambda lib, x, t, w: F(lib).cross_entropy(
        x, t, weight=w, label_smoothing=0.2),
    "cross_entropy_probabilities": lambda lib, x, t, w: F(lib).cross_entropy(
        x, lib.softmax(x.detach() * 2, 1)),
    "softmax": lambda lib, x, t, w: (lib.softmax(x, 0) * lib.softmax(x, 0).exp()).sum(),
    "log_softmax_float32": lambda lib, x, t, w: (lib.log_softmax(x.float(), 1).sin()).sum(),
}


@pytest.mark.parametrize("name", sorted(DOUBLE_BACKWARD_ROWS))
def test_double_backward_graphs_like_torch(name) -> None:
    fn = DOUBLE_BACKWARD_ROWS[name]
    rng = np.random.default_rng(0)
    values = rng.standard_normal((8, 3))
    results = []
    for lib in (torch, ember):
        x = lib.tensor(values, requires_grad=True)
        target = lib.tensor([0, 1, 2, 1, 0, 2, 1, 1])
        weight = lib.tensor([0.2, 1.0, 3.0], dtype=lib.float64)
        (grad,) = lib.autograd.grad(fn(lib, x, target, weight), x, create_graph=True)
        (second,) = lib.autograd.grad((grad * grad).sum(), x)
        results.append((_graph(grad.grad_fn), grad, second))
    (t_graph, t_grad, t_second), (e_graph, e_grad, e_second) = results
    assert e_graph == t_graph
    # computed in float32, compared as the float64 of the leaf: float32's tolerances
    tol = {"rtol": 1.3e-6, "atol": 1e-5} if name.endswith("float32") else {}
    assert_same(e_grad.detach(), t_grad.detach(), what="gradient", **tol)
    assert_same(e_second, t_second, what="second derivative", **tol)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("dtypes", [
    ("float32", "float64"), ("float64", "float32"), ("float32", "int64"), ("float32", "bool"),
    ("int64", "float32"), ("float32", "float16"), ("float16", "float16"), ("bool", "bool"),
    ("int64", "int64"), ("bool", "float32"), ("float64", "int32"), ("float16", "bool"),
])
def test_binary_cross_entropy_dtypes_as_torch(name: str, dtypes: tuple) -> None:
    # ember computed where torch refuses: BCE of an int64 input gave 100, BCE with logits of
    # a bool target gave tensor(True) and of an int64 target tensor(0)
    def fn(L):
        inp, tgt = (getattr(L, d) for d in dtypes)
        return getattr(L.nn.functional, name)(L.tensor([0.5]).to(inp), L.tensor([1]).to(tgt))
    t = torch_or_refused(fn, RuntimeError, NotImplementedError)
    if t is not None:
        assert_same(fn(ember), t)


_LOSS_ROLES = {
    "mse_loss": ("x", "y"), "l1_loss": ("x", "y"), "smooth_l1_loss": ("x", "y"),
    "huber_loss": ("x", "y"), "soft_margin_loss": ("x", "y"), "kl_div": ("x", "y"),
    "poisson_nll_loss": ("x", "y"), "gaussian_nll_loss": ("x", "y", "v"),
    "multilabel_soft_margin_loss": ("x2", "y2"), "hinge_embedding_loss": ("x", "y"),
    "margin_ranking_loss": ("x", "x", "y"), "cosine_embedding_loss": ("x2", "x2", "y1"),
    "triplet_margin_loss": ("x2", "x2", "x2"), "multi_margin_loss": ("x2", "c"),
    "nll_loss": ("x2", "c"), "cross_entropy": ("x2", "c"),
}
_LOSS_DTYPES = ["float32", "float64", "int64", "bool", "float16"]


@pytest.mark.parametrize("name", sorted(_LOSS_ROLES))
@pytest.mark.parametrize("input_dtype", _LOSS_DTYPES)
@pytest.mark.parametrize("target_dtype", _LOSS_DTYPES)
def test_losses_over_dtypes_as_torch(name: str, input_dtype: str, target_dtype: str) -> None:
    # ember computed where torch refuses (kl_div of integers, huber_loss and soft_margin_loss
    # of an integer input, hinge_embedding_loss's mean of one), returned the promoted dtype
    # where torch keeps the input's (huber_loss, soft_margin_loss), and refused
    # margin_ranking_loss of integers, which torch computes in float
    def fn(L):
        def make(role):
            values = {"x": [0.2, 0.7, 0.4], "x2": [[0.2, 0.7, 0.4], [0.1, 0.3, 0.9]],
                      "y": [1., 0., 1.], "y2": [[1., 0., 1.], [0., 1., 0.]], "y1": [1., -1.],
                      "v": [0.5, 0.5, 0.5], "c": [0, 2]}[role]
            dtype = input_dtype if role.startswith("x") else target_dtype
            return L.tensor(values).to(getattr(L, dtype))
        return getattr(L.nn.functional, name)(*[make(role) for role in _LOSS_ROLES[name]])
    t = torch_or_refused(fn, RuntimeError, NotImplementedError, TypeError)
    if t is not None:
        assert_same(fn(ember), t)


def test_multilabel_soft_margin_loss_nodes_as_torch() -> None:
    # ember composed log-sigmoid of clamp_max, abs, exp and log1p: other nodes, other
    # half-precision rounding than torch's LogSigmoidBackward0
    def nodes(L):
        x = L.tensor([[0.2, -0.7]], requires_grad=True)
        fn, names = L.nn.functional.multilabel_soft_margin_loss(
            x, L.tensor([[1., 0.]])).grad_fn, []
        stack = [fn]
        while stack:
            fn = stack.pop()
            if fn is not None:
                names.append(fn.name().split("::")[-1])
                stack.extend(n for n, _ in fn.next_functions)
        return names
    assert nodes(ember) == nodes(torch)


@pytest.mark.parametrize("shapes", [((3, 1), (3,)), ((3,), (3, 1)), ((2, 3), (3,)), ((3,), (2,)),
                                    ((2, 3), (2, 1)), ((), (3,))])
def test_soft_margin_loss_target_shapes_as_torch(shapes) -> None:
    # ember warned of the size and broadcast both ways; torch broadcasts the target into the
    # input's shape silently and refuses a target that would grow it
    def fn(L):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return L.nn.functional.soft_margin_loss(L.full(shapes[0], 0.4), L.full(shapes[1], 0.7))
    t = torch_or_refused(fn, RuntimeError)
    if t is not None:
        assert_same(fn(ember), t)
