"""Gradients of reductions and losses of float16/bfloat16 against torch's bits: logsumexp
(NOTE [logsumexp of float16/bfloat16]), vector norms and what is composed of them (NOTE
[vector_norm of float16/bfloat16]), std, prod (NOTE [prod of float16/bfloat16]) in
ember/_ops/reduction.py; binary_cross_entropy (with logits), smooth_l1_loss (NOTE [Loss
gradients of float16/bfloat16] in ember/_ops/nn_loss.py) and kl_div.

The inputs are multiples of 1/8 (or, for logsumexp, in [-2, 0]), so that every float32 sum
in torch's and ember's forwards is exact in any order, and the bits do not depend on the CPU
or on which SIMD kernels NumPy dispatches to.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from tests.helpers import torch

TF = torch.nn.functional
DTYPES = ["float16", "bfloat16"]
SHAPE = (6, 7)


def _eighths(rs, low: int, high: int, shape=SHAPE):
    """Multiples of 1/8 from low/8 to high/8, none of them 0."""
    k = rs.randint(low, high + 1, size=shape)
    return (np.where(k == 0, 1, k) / 8).astype(np.float32)


def _signed(rs):
    return _eighths(rs, -24, 24)


def _wide(rs):
    """Up to 8 in size: cubes of up to 18 bits, whose sums over 6 are exact in float32."""
    return _eighths(rs, -64, 64)


def _probabilities(rs):
    return (rs.randint(1, 8, size=SHAPE) / 8).astype(np.float32)


def _positive(rs):
    return _eighths(rs, 5, 12)


def _normal(rs):
    """For elementwise formulas only (no sums)."""
    return (rs.randn(*SHAPE) * 2).astype(np.float32)


def _log_domain(rs):
    """In [-2, 0]: the exps of a row lie in [e**-2, 1], so their float32 sum is exact."""
    return _eighths(rs, -16, -1)


def _centred(axis: int):
    """Inputs whose sums along ``axis`` are divisible by its size: the means are multiples
    of 1/8 and the deviations, their squares and sums are exact."""
    def make(rs):
        k = np.moveaxis(rs.randint(-16, 17, size=SHAPE), axis, -1).copy()
        k[..., -1] -= k.sum(-1) % k.shape[-1]
        return (np.moveaxis(k, -1, axis) / 8).astype(np.float32)
    return make


# name: (fn(lib, F, *inputs), makers of the inputs that need gradients, makers of the others)
CASES = {
    "bce_none": (lambda t, F, p, y: F.binary_cross_entropy(p, y, reduction="none"),
                 [_probabilities, _probabilities], []),
    "bce_mean_weight": (lambda t, F, p, y, w: F.binary_cross_entropy(p, y, weight=w),
                        [_probabilities, _probabilities], [_positive]),
    "bce_sum_weight": (lambda t, F, p, y, w: F.binary_cross_entropy(p, y, weight=w,
                                                                    reduction="sum"),
                       [_probabilities, _probabilities], [_positive]),
    "bce_logits_none": (lambda t, F, x, y: F.binary_cross_entropy_with_logits(
        x, y, reduction="none"), [_signed, _probabilities], []),
    "bce_logits_mean_weights": (lambda t, F, x, y, w, pw: F.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw[0]), [_signed, _probabilities], [_positive, _positive]),
    "bce_logits_sum_pos_weight": (lambda t, F, x, y, pw: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=pw[0], reduction="sum"), [_signed, _probabilities], [_positive]),
    "logsumexp_dim0": (lambda t, F, x: x.logsumexp(0), [_log_domain], []),
    "logsumexp_middle_dim": (lambda t, F, x: x.reshape(2, 3, 7).logsumexp(1), [_log_domain],
                             []),
    "norm_dim1": (lambda t, F, x: x.norm(dim=1), [_signed], []),
    "norm_all": (lambda t, F, x: x.norm(), [_signed], []),
    "vector_norm_3": (lambda t, F, x: t.linalg.vector_norm(x, 3, dim=0), [_wide], []),
    "normalize": (lambda t, F, x: F.normalize(x, dim=1), [_signed], []),
    "cosine_similarity": (lambda t, F, a, b: F.cosine_similarity(a, b), [_signed, _signed],
                          []),
    "pairwise_distance": (lambda t, F, a, b: F.pairwise_distance(a, b), [_signed, _signed],
                          []),
    "std_dim0": (lambda t, F, x: x.std(0), [_centred(0)], []),
    "std_dim1_uncorrected": (lambda t, F, x: x.std(1, correction=0), [_centred(1)],
                             []),
    "std_mean": (lambda t, F, x: t.std_mean(x, 0)[0] * t.std_mean(x, 0)[1], [_centred(0)], []),
    "prod_dim1": (lambda t, F, x: x.prod(1), [_positive], []),
    "prod_dim0": (lambda t, F, x: x.prod(0, keepdim=True), [_positive], []),
    "prod_all": (lambda t, F, x: x[:2].prod(), [_positive], []),
    "kl_div_none": (lambda t, F, x, y: F.kl_div(x, y, reduction="none"),
                    [_signed, _probabilities], []),
    "kl_div_batchmean": (lambda t, F, x, y: F.kl_div(x, y, reduction="batchmean"),
                         [_signed, _probabilities], []),
    "smooth_l1_none": (lambda t, F, a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.5),
                       [_normal, _normal], []),
    "smooth_l1_mean": (lambda t, F, a, b: F.smooth_l1_loss(a, b), [_normal, _normal], []),
}


# Values not compared: those of binary_cross_entropy_with_logits and smooth_l1_loss (their
# forwards of half types are not yet torch's bits) and of the reduced losses (sums in the half
# type in torch's own order); the gradients do not depend on them.
_VALUES_UNCHECKED = {"bce_logits_none", "smooth_l1_none", "bce_mean_weight", "bce_sum_weight",
                     "bce_logits_mean_weights", "bce_logits_sum_pos_weight", "kl_div_batchmean",
                     "smooth_l1_mean"}

_SEEDS = 5


def _run(lib, F, name: str, dtype: str, seed: int, create_graph: bool = False):
    fn, needing, others = CASES[name]
    rs = np.random.RandomState(seed)
    arrays = [make(rs) for make in needing + others]
    dt = getattr(lib, dtype)
    inputs = [lib.tensor(a).to(dt) for a in arrays]
    for x in inputs[:len(needing)]:
        x.requires_grad_()
    out = fn(lib, F, *inputs)
    upstream = lib.cos(lib.arange(out.numel()).to(lib.float32)).to(dt).reshape(out.shape)
    leaves = inputs[:len(needing)]
    return leaves, out, lib.autograd.grad(out, leaves, upstream, create_graph=create_graph)


def _assert_bits(e, t, what: str) -> None:
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], what
    ev, tv = e.detach().float().numpy(), t.detach().float().numpy()
    assert ev.shape == tv.shape, what
    same = (ev == tv) | (np.isnan(ev) & np.isnan(tv))
    assert same.all(), f"{what}: {int((~same).sum())} of {same.size} differ"


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_equal_torch_bits(name, dtype):
    for seed in range(_SEEDS):
        _, t_out, t_grads = _run(torch, TF, name, dtype, seed)
        _, e_out, e_grads = _run(ember, EF, name, dtype, seed)
        if name != "pairwise_distance":  # torch's is NormBackward1, not yet ember's
            assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
        if name not in _VALUES_UNCHECKED:
            _assert_bits(e_out, t_out, f"{name} value (seed {seed})")
        for i, (e, t) in enumerate(zip(e_grads, t_grads)):
            _assert_bits(e, t, f"{name} gradient {i} (seed {seed})")


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["bce_logits_mean_weights", "bce_mean_weight",
                                  "kl_div_none", "logsumexp_dim0", "norm_dim1", "prod_dim1",
                                  "smooth_l1_mean", "std_dim0"])
def test_gradients_under_create_graph_equal_torch_bits(name, dtype):
    # the half formulas are differentiable again; their first derivatives keep torch's bits
    for seed in range(_SEEDS):
        _, _, t_grads = _run(torch, TF, name, dtype, seed, create_graph=True)
        leaves, _, e_grads = _run(ember, EF, name, dtype, seed, create_graph=True)
        for i, (e, t) in enumerate(zip(e_grads, t_grads)):
            assert e.requires_grad
            _assert_bits(e, t, f"{name} gradient {i} (seed {seed})")
            if name.startswith("bce_logits"):  # torch composes these: its nodes are ember's
                assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__
        second = ember.autograd.grad(e_grads[0].float().sum(), leaves, allow_unused=True)
        assert any(g is not None for g in second)
