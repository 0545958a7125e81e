"""softmax, log_softmax, cross_entropy and nll_loss of float16/bfloat16 against torch's bits
(NOTE [Softmax of float16/bfloat16] in ember/_ops/reduction.py and NOTE [nll_loss of
float16/bfloat16] in ember/_ops/nn_loss.py): forwards and gradients, along the last dim
(torch's row kernel) and along others, 0-d to 5-d, contiguous or not.

ember follows the summation order of torch's AVX2 kernels. Where torch dispatches to others
(its AVX-512 ones, 16-lane vectors, on some CPUs or by ATEN_CPU_CAPABILITY), rows are summed
in another order and a last bit may differ: there these tests check the values to one unit
in the last place instead.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import torch

DTYPES = ["float16", "bfloat16"]
_ULP_BITS = {"float16": 10, "bfloat16": 7}  # fraction bits
_TORCH_AVX2 = torch.backends.cpu.get_cpu_capability() == "AVX2"


def assert_torch_bits(e, t, dtype: str, what: str = "value") -> None:
    """ember's tensor ``e`` has torch's ``t``'s dtype, shape and bits (NaN where torch's is);
    within one unit in the last place where torch runs other kernels than its AVX2 ones."""
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1] == dtype, what
    ev, tv = e.detach().float().numpy(), t.detach().float().numpy()
    assert ev.shape == tv.shape, what
    same = (ev == tv) | (np.isnan(ev) & np.isnan(tv))
    if _TORCH_AVX2:
        assert same.all(), f"{what}: {int((~same).sum())} of {same.size} differ"
    else:
        spacing = np.maximum(np.abs(tv), 2.0 ** -14) * 2.0 ** -_ULP_BITS[dtype]
        assert (same | (np.abs(ev - tv) <= spacing)).all(), what


def _node(t) -> str:
    return type(t.grad_fn).__name__


def _inputs(lib, values, dtype: str, contiguous: bool):
    """``values`` as a half tensor that needs its gradient; not contiguous: the same values
    read through a permutation of a tensor of the reversed shape."""
    dt = getattr(lib, dtype)
    if contiguous or values.ndim < 2:
        return lib.tensor(values).to(dt).requires_grad_()
    order = tuple(reversed(range(values.ndim)))
    x = lib.tensor(np.ascontiguousarray(values.transpose(order))).to(dt).permute(order)
    assert not x.is_contiguous()
    return x.detach().requires_grad_()


# (shape, dim): torch's row kernel when dim is the last, its kernel across the other dims
# otherwise (vectors of 16 half values, its scalar loop on the rest)
_SOFTMAX_CASES = [
    ((8, 100), 1), ((8, 100), 0), ((100,), 0), ((64, 10), 1), ((64, 10), 0),
    ((4, 30, 5), 0), ((4, 30, 5), 1), ((4, 30, 5), -1), ((2, 3, 4, 33), 3),
    ((2, 40, 3, 33), 1), ((5, 7), 1), ((5, 17), -1), ((3, 2000), 1), ((2, 30, 16), 1),
    ((), 0),
]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", _SOFTMAX_CASES)
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
def test_softmax_half_forward_and_backward_match_torch_bits(dtype, op, shape, dim, contiguous):
    # inputs where torch's own exp, about 1e-5 of whose results sway a last bit of the half
    # type from ember's (NOTE [Softmax of float16/bfloat16]), happens to sway none
    rng = np.random.default_rng(0)
    values = np.asarray(rng.standard_normal(shape) * 3 + 2, np.float32)
    cotangent = np.asarray(rng.standard_normal(shape), np.float32)
    results = {}
    for lib in (torch, ember):
        x = _inputs(lib, values, dtype, contiguous)
        y = getattr(x, op)(dim)
        grad, = lib.autograd.grad(y, x, lib.tensor(cotangent).to(getattr(lib, dtype)))
        results[lib] = y, grad
    (ty, tg), (ey, eg) = results[torch], results[ember]
    assert _node(ey) == _node(ty)
    assert_torch_bits(ey, ty, dtype, "forward")
    assert_torch_bits(eg, tg, dtype, "gradient")


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_half_of_the_issue_matches_torch_bits(dtype, op):
    # the report's check: x (8, 100) of randn * 3 + 2, and the gradient of (y * y).sum()
    for seed in range(5):
        values = np.random.default_rng(seed).standard_normal((8, 100)) * 3 + 2
        results = {}
        for lib in (torch, ember):
            x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
            y = getattr(x, op)(1)
            (y * y).sum().backward()
            results[lib] = y, x.grad
        for e, t, what in zip(results[ember], results[torch], ("forward", "gradient")):
            assert_torch_bits(e, t, dtype, what)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(3, 50, 20), (3, 50, 48), (8, 10, 20), (1, 6, 40)])
def test_softmax_half_along_inner_dims_follows_torch_threads(dtype, threads, shape):
    # along a dim other than the last, torch's kernel splits the positions across its
    # threads and rounds exp to the half type where a thread's part ends in its scalar loop:
    # the same bits for each thread count set in both libraries
    rng = np.random.default_rng(0)
    values = np.asarray(rng.standard_normal(shape) * 2 + 1, np.float32)
    before = torch.get_num_threads(), ember.get_num_threads()
    try:
        torch.set_num_threads(threads)
        ember.set_num_threads(threads)
        outs = [lib.tensor(values).to(getattr(lib, dtype)).softmax(1) for lib in (torch, ember)]
    finally:
        torch.set_num_threads(before[0])
        ember.set_num_threads(before[1])
    assert_torch_bits(outs[1], outs[0], dtype)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_half_special_values_match_torch_bits(dtype, op, dim):
    inf, nan = float("inf"), float("nan")
    values = np.array([[0.0, 1.0, 2.0, 3.0], [-inf, 0.0, 1.0, 2.0], [inf, 0.0, 1.0, 2.0],
                       [nan, 0.0, 1.0, 2.0], [-inf] * 4, [inf, inf, 0.0, 1.0],
                       [60000.0, 60000.0, -60000.0, 0.0], [0.0] * 4], np.float32)
    results = {}
    for lib in (torch, ember):
        x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
        y = getattr(x, op)(dim)
        grad, = lib.autograd.grad(y, x, lib.full_like(y, 0.5))
        results[lib] = y, grad
    for e, t, what in zip(results[ember], results[torch], ("forward", "gradient")):
        assert_torch_bits(e, t, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_half_double_backward(dtype, op):
    # under create_graph the gradient is the same formula in float32 ember ops (summed in
    # NumPy's order, so a last bit may differ), and differentiable again
    rng = np.random.default_rng(3)
    values, cotangent = np.asarray(rng.standard_normal((2, 6, 20)), np.float32)
    results = {}
    for lib in (torch, ember):
        x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
        y = getattr(x, op)(1)
        grad, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        second, = lib.autograd.grad((grad * lib.tensor(cotangent).to(grad.dtype)).sum(), x)
        assert grad.dtype == second.dtype == getattr(lib, dtype)
        results[lib] = grad.detach().float().numpy(), second.float().numpy()
    (tg, ts), (eg, es) = results[torch], results[ember]
    np.testing.assert_allclose(eg, tg, rtol=2.0 ** -_ULP_BITS[dtype], atol=1e-3)
    # torch's second derivative rounds to the half type along its own formulas
    np.testing.assert_allclose(es, ts, rtol=0, atol=4 * 2.0 ** -_ULP_BITS[dtype] * np.abs(ts).max())


# ---- cross_entropy and nll_loss ---------------------------------------------------------------


_LOSS_SHAPES = [(64, 10), (8, 100), (100,), (4, 10, 5), (4, 7, 3, 5), (2, 5, 3, 4, 6)]
_LOSS_OPTIONS = [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
    {"ignore_index": 2}, {"weight": True, "ignore_index": 2},
    {"weight": True, "reduction": "sum"}, {"weight": True, "reduction": "none"},
    {"label_smoothing": 0.1}, {"label_smoothing": 0.1, "weight": True},
    {"label_smoothing": 0.2, "ignore_index": 2, "reduction": "sum"},
    {"label_smoothing": 0.1, "weight": True, "ignore_index": 2, "reduction": "none"},
]


def _targets(rng, shape, options):
    classes = shape[1] if len(shape) > 1 else shape[0]
    target = np.asarray(rng.integers(0, classes, (shape[0],) + shape[2:] if len(shape) > 1
                                     else ()))
    if "ignore_index" in options and target.ndim:
        target.reshape(-1)[rng.random(target.size) < 0.3] = options["ignore_index"]
    return target, rng.uniform(0.2, 2.0, classes).astype(np.float32)


def _loss_results(fn: str, values, target, weight, options: dict, dtype: str, contiguous=True):
    cotangent_rng = np.random.default_rng(7)
    results = {}
    cotangent = None
    for lib in (torch, ember):
        x = _inputs(lib, values, dtype, contiguous)
        kwargs = dict(options)
        if kwargs.pop("weight", False):
            kwargs["weight"] = lib.tensor(weight).to(getattr(lib, dtype))
        loss = getattr(lib.nn.functional, fn)(x, lib.tensor(target), **kwargs)
        if cotangent is None:
            cotangent = np.asarray(cotangent_rng.standard_normal(tuple(loss.shape)), np.float32)
        grad, = lib.autograd.grad(loss, x, lib.tensor(cotangent).to(getattr(lib, dtype)))
        results[lib] = loss, grad
    return results


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", _LOSS_SHAPES)
@pytest.mark.parametrize("options", _LOSS_OPTIONS, ids=str)
def test_cross_entropy_half_matches_torch_bits(dtype, shape, options):
    rng = np.random.default_rng(4)
    values = np.asarray(rng.standard_normal(shape) * 3 + 2, np.float32)
    target, weight = _targets(rng, shape, options)
    results = _loss_results("cross_entropy", values, target, weight, options, dtype,
                            contiguous=len(shape) != 3)
    (tl, tg), (el, eg) = results[torch], results[ember]
    assert _node(el) == _node(tl)
    assert_torch_bits(el, tl, dtype, "loss")
    assert_torch_bits(eg, tg, dtype, "gradient")


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"reduction": "sum"}, {"label_smoothing": 0.1},
                                     {"weight": True}], ids=str)
def test_cross_entropy_half_of_probabilities_matches_torch_bits(dtype, options):
    rng = np.random.default_rng(5)
    values = np.asarray(rng.standard_normal((16, 10)) * 3, np.float32)
    probabilities = rng.dirichlet(np.ones(10), 16).astype(np.float32)
    weight = rng.uniform(0.2, 2.0, 10).astype(np.float32)
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        x = lib.tensor(values).to(dt).requires_grad_()
        kwargs = dict(options)
        if kwargs.pop("weight", False):
            kwargs["weight"] = lib.tensor(weight).to(dt)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(probabilities).to(dt), **kwargs)
        results[lib] = loss, lib.autograd.grad(loss, x)[0]
    for e, t, what in zip(results[ember], results[torch], ("loss", "gradient")):
        assert_torch_bits(e, t, dtype, what)


_NLL_OPTIONS = [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
    {"ignore_index": 2}, {"weight": True, "ignore_index": 2},
    {"weight": True, "reduction": "sum", "ignore_index": 2},
]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", _LOSS_SHAPES + [(300, 7), (5000, 3), (4, 3, 40, 40)])
@pytest.mark.parametrize("options", _NLL_OPTIONS, ids=str)
def test_nll_loss_half_matches_torch_bits(dtype, shape, options):
    # log-probabilities as a half type: torch sums the losses and weights in the half type,
    # a cascade of partial sums (a few thousand targets take three of its levels)
    rng = np.random.default_rng(6)
    values = np.asarray(-rng.exponential(3.0, shape), np.float32)
    target, weight = _targets(rng, shape, options)
    results = _loss_results("nll_loss", values, target, weight, options, dtype)
    (tl, tg), (el, eg) = results[torch], results[ember]
    assert _node(el) == _node(tl)
    assert_torch_bits(el, tl, dtype, "loss")
    assert_torch_bits(eg, tg, dtype, "gradient")


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_loss_half_skips_ignored_targets_turns_to_carry(dtype, weighted, reduction):
    # a target equal to ignore_index takes no part in torch's cascade, not even in carrying
    # a partial sum on (at the multiples of 16 and 256 here); all ignored: nan, gradient 0
    rng = np.random.default_rng(8)
    values = np.asarray(-rng.exponential(3.0, (600, 4)), np.float32)
    weight = rng.uniform(0.2, 2.0, 4).astype(np.float32)
    target = rng.integers(0, 4, 600)
    target[[0, 16, 32, 33, 256, 272, 512]] = -100
    options = {"reduction": reduction, "weight": True} if weighted else {"reduction": reduction}
    for labels in (target, np.full(600, -100)):
        results = _loss_results("nll_loss", values, labels, weight, options, dtype)
        for e, t, what in zip(results[ember], results[torch], ("loss", "gradient")):
            assert_torch_bits(e, t, dtype, what)
