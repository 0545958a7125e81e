"""Pooling (functional and modules) against torch: values, indices, gradients, gradcheck,
reprs and errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_gradcheck, check_op, check_raises_like, torch


def _f(name, *args, **kwargs):
    def fn(lib, x):
        return getattr(lib.nn.functional, name)(x, *args, **kwargs)
    fn.__name__ = name
    return fn


# (function, input shape); values are drawn apart enough that maxima are unique
ROWS = [
    (_f("max_pool1d", 3, 2, 1, return_indices=True), (2, 3, 9)),
    (_f("max_pool1d", 2, ceil_mode=True), (3, 7)),
    (_f("max_pool2d", 3, 2, 1, ceil_mode=True), (2, 3, 8, 7)),
    (_f("max_pool2d", (2, 3), (1, 2), (1, 1), dilation=(2, 1), return_indices=True),
     (2, 3, 8, 7)),
    (_f("max_pool2d", 2), (3, 5, 5)),
    (_f("max_pool2d_with_indices", 2), (1, 2, 5, 4)),
    (_f("max_pool3d", 2, ceil_mode=True, return_indices=True), (2, 2, 5, 5, 5)),
    (_f("max_pool3d", (1, 2, 2), padding=(0, 1, 1)), (2, 4, 3, 4)),
    (_f("avg_pool1d", 3, 2, 1), (2, 3, 9)),
    (_f("avg_pool1d", 3, 2, 1, ceil_mode=True, count_include_pad=False), (3, 8)),
    (_f("avg_pool2d", 3, 2, 1, ceil_mode=True), (2, 3, 8, 7)),
    (_f("avg_pool2d", 3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 7)),
    (_f("avg_pool2d", 3, 2, 1, divisor_override=5), (2, 3, 8, 7)),
    (_f("avg_pool3d", 2, 1, 1), (2, 3, 4, 4, 4)),
    (_f("avg_pool3d", (2, 3, 2), ceil_mode=True, count_include_pad=False), (3, 5, 5, 4)),
    (_f("lp_pool1d", 3, 2), (2, 3, 6)),
    (_f("lp_pool2d", 2, 2), (2, 3, 6, 6)),
    (_f("lp_pool2d", 1.5, (2, 3), 2, ceil_mode=True), (2, 3, 7, 6)),
    (_f("lp_pool3d", 2, (2, 1, 2)), (2, 2, 4, 3, 4)),
    (_f("adaptive_avg_pool1d", 4), (2, 3, 7)),
    (_f("adaptive_avg_pool2d", (3, 4)), (2, 3, 7, 9)),
    (_f("adaptive_avg_pool2d", (None, 4)), (3, 7, 9)),
    (_f("adaptive_avg_pool2d", 1), (2, 3, 5, 5)),
    (_f("adaptive_avg_pool3d", (3, 2, 4)), (2, 3, 5, 7, 9)),
    (_f("adaptive_max_pool1d", 4, True), (2, 3, 7)),
    (_f("adaptive_max_pool2d", (3, 4), True), (2, 3, 7, 9)),
    (_f("adaptive_max_pool2d", 5), (3, 7, 5)),
    (_f("adaptive_max_pool3d", 3, True), (2, 3, 5, 7, 9)),
]


def _distinct(shape, seed: int = 0) -> np.ndarray:
    """Distinct values (no ties between window maxima) in a random order."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) / n * 4 + 0.1).reshape(shape)


def _check(fn, shape, dtype: str, seed: int = 0) -> None:
    check_op(fn, [shape], dtype=dtype, low=0.1, high=2.0, seed=seed)


@pytest.mark.parametrize("fn,shape", ROWS, ids=[r[0].__name__ for r in ROWS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pooling_matches_torch(fn, shape, dtype):
    _check(fn, shape, dtype)


@pytest.mark.parametrize("fn,shape", ROWS, ids=[r[0].__name__ for r in ROWS])
def test_pooling_gradcheck(fn, shape):
    check_gradcheck(fn, [shape], low=0.1, high=2.0)


@pytest.mark.parametrize("fn,shape", ROWS[:8], ids=[r[0].__name__ for r in ROWS[:8]])
def test_pooling_noncontiguous(fn, shape):
    check_op(fn, [shape], low=0.1, noncontiguous=True)


@st.composite
def pool_args(draw):
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(k, 7)) for k in kernel)
    ceil_mode = draw(st.booleans())
    return nd, kernel, stride, padding, size, ceil_mode


@settings(max_examples=20, deadline=None)
@given(args=pool_args(), dilation=st.integers(1, 2), seed=st.integers(0, 1000))
def test_max_pool_hypothesis(args, dilation, seed):
    nd, kernel, stride, padding, size, ceil_mode = args
    if any(p > (dilation * (k - 1) + 1) // 2 for p, k in zip(padding, kernel)) or any(
            s < dilation * (k - 1) + 1 for s, k in zip(size, kernel)):
        dilation = 1
    fn = _f(f"max_pool{nd}d", kernel, stride, padding, dilation, ceil_mode,
            return_indices=True)
    x = _distinct((2, 2) + size, seed)
    t_in = torch.tensor(x, requires_grad=True)
    e_in = ember.tensor(x, requires_grad=True)
    tv, ti = fn(torch, t_in)
    ev, ei = fn(ember, e_in)
    assert_same(ev, tv)
    assert_same(ei, ti, what="indices")
    assert ev.grad_fn.name() == tv.grad_fn.name()
    cot = np.random.default_rng(seed + 1).standard_normal(tuple(tv.shape))
    tv.backward(torch.tensor(cot))
    ev.backward(ember.tensor(cot))
    assert_same(e_in.grad, t_in.grad, what="grad")


@settings(max_examples=20, deadline=None)
@given(args=pool_args(), count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, 3]), seed=st.integers(0, 1000))
def test_avg_pool_hypothesis(args, count_include_pad, divisor, seed):
    nd, kernel, stride, padding, size, ceil_mode = args
    kwargs = {} if nd == 1 else {"divisor_override": divisor}
    fn = _f(f"avg_pool{nd}d", kernel, stride, padding, ceil_mode, count_include_pad, **kwargs)
    check_op(fn, [(2, 2) + size], dtype="float64", seed=seed)


@settings(max_examples=15, deadline=None)
@given(size=st.lists(st.integers(1, 8), min_size=1, max_size=3),
       out=st.lists(st.integers(1, 5), min_size=3, max_size=3), seed=st.integers(0, 1000))
def test_adaptive_hypothesis(size, out, seed):
    nd = len(size)
    out = tuple(out[:nd])
    check_op(_f(f"adaptive_avg_pool{nd}d", out if nd > 1 else out[0]), [(2, 2) + tuple(size)],
             dtype="float64", seed=seed)
    x = _distinct((2, 2) + tuple(size), seed)
    fn = _f(f"adaptive_max_pool{nd}d", out if nd > 1 else out[0], True)
    tv, ti = fn(torch, torch.tensor(x))
    ev, ei = fn(ember, ember.tensor(x))
    assert_same(ev, tv)
    assert_same(ei, ti, what="indices")


def test_max_unpool():
    def unpool2(lib, x):
        out, idx = lib.nn.functional.max_pool2d(x, 2, return_indices=True)
        return lib.nn.functional.max_unpool2d(out, idx, 2, output_size=(7, 7))

    def unpool1(lib, x):
        out, idx = lib.nn.functional.max_pool1d(x, 3, 2, return_indices=True)
        return lib.nn.functional.max_unpool1d(out, idx, 3, 2)

    def unpool3(lib, x):
        out, idx = lib.nn.functional.max_pool3d(x, 2, return_indices=True)
        return lib.nn.functional.max_unpool3d(out, idx, 2)

    check_op(unpool2, [(2, 3, 7, 7)])
    check_op(unpool1, [(2, 3, 9)])
    check_op(unpool3, [(1, 2, 4, 4, 4)])
    check_gradcheck(unpool2, [(1, 2, 7, 7)])


MODULES = [
    lambda nn: nn.MaxPool1d(2), lambda nn: nn.MaxPool2d(2, return_indices=True),
    lambda nn: nn.MaxPool3d((2, 1, 2), 1, 0, 1, True), lambda nn: nn.AvgPool1d(2),
    lambda nn: nn.AvgPool2d(3, 2, 1, True, False, 2), lambda nn: nn.AvgPool3d(2),
    lambda nn: nn.LPPool1d(2, 3), lambda nn: nn.LPPool2d(2, 3), lambda nn: nn.LPPool3d(2, 2),
    lambda nn: nn.AdaptiveAvgPool1d(3), lambda nn: nn.AdaptiveAvgPool2d((3, None)),
    lambda nn: nn.AdaptiveAvgPool3d(3), lambda nn: nn.AdaptiveMaxPool1d(3),
    lambda nn: nn.AdaptiveMaxPool2d(3, True), lambda nn: nn.AdaptiveMaxPool3d(3),
    lambda nn: nn.MaxUnpool1d(2), lambda nn: nn.MaxUnpool2d(2),
    lambda nn: nn.MaxUnpool3d(2, 1, 1),
]


@pytest.mark.parametrize("make", MODULES)
def test_pooling_module_repr(make):
    assert repr(make(ember.nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("make,shape", [
    (MODULES[1], (2, 3, 6, 6)), (MODULES[2], (2, 2, 4, 4, 4)), (MODULES[4], (2, 3, 7, 7)),
    (MODULES[7], (2, 3, 6, 6)), (MODULES[10], (2, 3, 7, 5)), (MODULES[13], (2, 3, 7, 7)),
    (MODULES[8], (2, 2, 6, 6, 6))])
def test_pooling_module_forward(make, shape):
    check_op(lambda lib, x: make(lib.nn)(x), [shape], low=0.1)


ERRORS = [
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(2, 3, 6, 6), 2, padding=2),
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(2, 3, 6, 6), 7),
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(2, 3, 6, 6), (2, 2, 2)),
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(2, 3, 6, 6), 2, stride=0),
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(2, 3, 6, 6), 2, dilation=0),
    lambda lib: lib.nn.functional.max_pool2d(lib.ones(6, 6), 2),
    lambda lib: lib.nn.functional.avg_pool2d(lib.ones(2, 3, 6, 6), 2, padding=2),
    lambda lib: lib.nn.functional.avg_pool2d(lib.ones(2, 3, 6, 6), 7),
    lambda lib: lib.nn.functional.avg_pool2d(lib.ones(2, 3, 6, 6), 3, divisor_override=0),
    lambda lib: lib.nn.functional.max_pool1d(lib.ones(3, 6), 7),
    lambda lib: lib.nn.functional.max_pool1d(lib.ones(3, 6), 0),
    lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.ones(2, 3, 6, 6), (2, 2, 2)),
    lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.ones(6, 6), 2),
    lambda lib: lib.nn.functional.adaptive_max_pool2d(lib.ones(6, 6), 2),
]


@pytest.mark.parametrize("fn", ERRORS)
def test_pooling_errors(fn):
    check_raises_like(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, output_size=4),
                                    dict(kernel_size=(3, 2), output_ratio=(0.5, 0.6)),
                                    dict(kernel_size=2, output_size=(1, 3))])
@pytest.mark.parametrize("shape", [(2, 3, 9, 9), (3, 10, 8)])
def test_fractional_max_pool_seeded(kwargs, shape, dtype):
    """Same seed, same pseudo-random windows as torch (the samples are drawn inside)."""
    def fn(lib, x):
        lib.manual_seed(5)
        return lib.nn.functional.fractional_max_pool2d(x, return_indices=True, **kwargs)
    check_op(fn, [shape], dtype=dtype)


def test_fractional_max_pool_module_and_gradcheck():
    for lib in (torch, ember):
        lib.manual_seed(1)
    tm = torch.nn.FractionalMaxPool2d(3, output_size=5)
    em = ember.nn.FractionalMaxPool2d(3, output_size=5)
    assert repr(em) == repr(tm)
    x = _distinct((2, 3, 11, 11)).astype(np.float32)
    assert_same(em(ember.tensor(x)), tm(torch.tensor(x)))
    check_gradcheck(lambda lib, x: lib.nn.functional.fractional_max_pool2d(
        x, 2, output_size=3, _random_samples=lib.tensor([[[0.3, 0.7]]], dtype=lib.float64)),
        [(1, 1, 6, 6)])
    check_raises_like(lambda lib: lib.nn.FractionalMaxPool2d(2, output_ratio=1.5))
    check_raises_like(lambda lib: lib.nn.FractionalMaxPool2d(2))
    check_raises_like(lambda lib: lib.nn.FractionalMaxPool2d(2, 3, 0.5))
    check_raises_like(lambda lib: lib.nn.functional.fractional_max_pool2d(
        lib.ones(2, 3, 9, 9), 5, output_size=6))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, output_size=3),
                                    dict(kernel_size=(3, 2, 2), output_ratio=(0.5, 0.6, 0.4)),
                                    dict(kernel_size=2, output_ratio=0.5),
                                    dict(kernel_size=(1, 2, 3), output_size=(4, 1, 3))])
@pytest.mark.parametrize("shape", [(2, 3, 7, 8, 9), (3, 6, 7, 8)])
def test_fractional_max_pool3d_seeded(kwargs, shape, dtype):
    """Same seed, same (time, height, width) windows as torch."""
    def fn(lib, x):
        lib.manual_seed(5)
        return lib.nn.functional.fractional_max_pool3d(x, return_indices=True, **kwargs)
    check_op(fn, [shape], dtype=dtype)


def test_fractional_max_pool3d_given_samples():
    samples = np.random.default_rng(3).uniform(size=(2, 3, 3)).astype(np.float32)

    def fn(lib, x):
        return lib.nn.functional.fractional_max_pool3d_with_indices(
            x, (2, 3, 2), (3, 2, 4), _random_samples=lib.tensor(samples))
    check_op(fn, [(2, 3, 6, 7, 8)])
    check_op(lambda lib, x: lib.nn.functional.fractional_max_pool3d(
        x, 2, output_size=2, _random_samples=lib.tensor(samples[:1])), [(1, 3, 5, 5, 5)])


def test_fractional_max_pool3d_module_errors_and_gradcheck():
    for lib in (torch, ember):
        lib.manual_seed(1)
    tm = torch.nn.FractionalMaxPool3d(2, output_ratio=0.5, return_indices=True)
    em = ember.nn.FractionalMaxPool3d(2, output_ratio=0.5, return_indices=True)
    assert repr(em) == repr(tm)
    assert (em.kernel_size, em.output_ratio, em.output_size) == (
        tm.kernel_size, tm.output_ratio, tm.output_size)
    x = _distinct((2, 3, 6, 7, 8)).astype(np.float32)
    for e, t in zip(em(ember.tensor(x)), tm(torch.tensor(x))):
        assert_same(e, t)
    check_gradcheck(lambda lib, x: lib.nn.functional.fractional_max_pool3d(
        x, 2, output_size=2, _random_samples=lib.tensor([[[0.3, 0.7, 0.1]]],
                                                        dtype=lib.float64)),
        [(1, 1, 4, 5, 4)])
    x5 = lambda lib: lib.ones(1, 2, 5, 6, 7)  # noqa: E731
    for fn in [
        lambda lib: lib.nn.FractionalMaxPool3d(2, output_ratio=1.5),
        lambda lib: lib.nn.FractionalMaxPool3d(2),
        lambda lib: lib.nn.FractionalMaxPool3d(2, 3, 0.5),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), 2),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), 5, output_size=2),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), 2, output_size=(2, 5, 6)),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), (2, 2), output_size=2),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), 2, output_size=(2, 2)),
        lambda lib: lib.nn.functional.fractional_max_pool3d(x5(lib), 2, output_ratio=(0.5,)),
        lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(5, 6, 7), 2,
                                                            output_size=2),
        lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(1, 1, 2, 5, 6, 7), 2,
                                                            output_size=2),
        lambda lib: lib.nn.functional.fractional_max_pool3d(
            x5(lib), 2, output_size=2, _random_samples=lib.rand(1, 2, 2)),
        lambda lib: lib.nn.functional.fractional_max_pool3d(
            x5(lib), 2, output_size=2, _random_samples=lib.rand(1, 3, 3)),
        lambda lib: lib.nn.functional.fractional_max_pool3d(
            x5(lib), 2, output_size=2, _random_samples=lib.rand(1, 2, 3, dtype=lib.float64)),
    ]:
        check_raises_like(fn)


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.max_pool2d(x, 2, return_indices=True),
    lambda lib, x: lib.nn.functional.avg_pool2d(x, 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 2, True),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 3),
])
def test_pooling_empty_batch(fn):
    check_op(fn, [(0, 3, 4, 4)])


@pytest.mark.parametrize("row,kwargs", [
    ([1.0, float("nan"), 2.0, float("nan"), 5.0], dict(kernel_size=(1, 5))),  # last NaN wins
    ([1.0, float("nan"), float("nan"), 5.0], dict(kernel_size=(1, 2), stride=1, padding=(0, 1))),
    ([-float("inf")] * 3, dict(kernel_size=(1, 2), stride=1, padding=(0, 1))),
    ([-float("inf")] * 3, dict(kernel_size=(1, 3), stride=2, dilation=(1, 2), padding=(0, 1))),
    ([-float("inf")] * 3, dict(kernel_size=(1, 2), stride=2, padding=(0, 1), ceil_mode=True)),
])
def test_max_pool_nan_and_padding_indices(row, kwargs):
    """torch's winner rules: every NaN wins (the last NaN of a window), and a window with
    nothing above the padding value points at its first position inside the input."""
    t_out = torch.nn.functional.max_pool2d(torch.tensor([[[row]]]), return_indices=True,
                                           **kwargs)
    e_out = ember.nn.functional.max_pool2d(ember.tensor([[[row]]]), return_indices=True,
                                           **kwargs)
    for e, t in zip(e_out, t_out):
        assert_same(e, t)


def test_max_pool_double_backward_graph():
    """The gradient's own node is torch's ``...BackwardBackward0``, with the input as an
    edge (its gradient is zero), and its derivative is a gather."""
    grads = {}
    for lib in (torch, ember):
        x = lib.tensor(np.random.default_rng(0).standard_normal((2, 3, 5, 5)),
                       requires_grad=True)
        y = lib.nn.functional.max_pool2d(x, 3, stride=1, padding=1)
        cot = lib.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)),
                         requires_grad=True)
        (g,) = lib.autograd.grad(y, x, cot, create_graph=True)
        assert g.grad_fn.name() == "MaxPool2DWithIndicesBackwardBackward0"
        (g * g).sum().backward()
        grads[lib] = (g, cot.grad, x.grad)
    for e, t in zip(grads[ember], grads[torch]):
        assert_same(e, t)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=3, padding=1),
                                    dict(kernel_size=2, stride=1),
                                    dict(kernel_size=2, stride=3, dilation=2)])
def test_max_pool_backward_adds_into_zero_as_torch(dtype, kwargs):
    """Windows apart or overlapping, each input position's gradient is torch's 0 + g (the
    sum where windows share a winner): a -0.0 cotangent gives 0.0."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 7))
    cot_shape = tuple(torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs).shape)
    cot = rng.standard_normal(cot_shape) * rng.integers(0, 2, cot_shape)
    cot[..., 0, :] = -0.0
    found = {}
    for lib in (torch, ember):
        xt = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        lib.nn.functional.max_pool2d(xt, **kwargs).backward(
            lib.tensor(cot, dtype=getattr(lib, dtype)))
        found[lib] = xt.grad
    assert_same(found[ember], found[torch], rtol=0, atol=0)
    signs = [np.signbit(g.float().numpy()) for g in (found[ember], found[torch])]
    assert (signs[0] == signs[1]).all()


@settings(max_examples=25, deadline=None)
@given(nd=st.integers(1, 3), kernel=st.integers(1, 3), extra=st.integers(0, 2),
       layout=st.sampled_from(["contiguous", "channels_last", "strided"]),
       ceil_mode=st.booleans(), seed=st.integers(0, 1000))
def test_max_pool_tiled_windows_ties_as_torch(nd, kernel, extra, layout, ceil_mode, seed):
    """Windows that tile the input (stride = kernel): with many equal values and signed
    zeros, the winner is the first maximum in row-major offset order and the value is the
    winner's own (0.0 before -0.0 gives 0.0), as torch's; partial windows are dropped or,
    under ceil_mode, kept; any input layout."""
    rng = np.random.default_rng(seed)
    size = tuple(kernel * int(rng.integers(1, 4)) + extra for _ in range(nd))
    x = rng.integers(-2, 2, (2, 3) + size).astype(np.float32)
    x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, 0.0, -0.0)
    fn = _f(f"max_pool{nd}d", kernel, ceil_mode=ceil_mode, return_indices=True)
    got = {}
    for lib in (torch, ember):
        t = lib.tensor(x)
        if layout == "channels_last" and nd == 2:
            t = t.to(memory_format=lib.channels_last)
        elif layout == "strided":
            t = lib.tensor(np.repeat(x, 2, axis=-1))[..., ::2]
        t.requires_grad_()
        values, indices = fn(lib, t)
        values.backward(lib.ones_like(values))
        got[lib] = values, indices, t.grad
    (ev, ei, eg), (tv, ti, tg) = got[ember], got[torch]
    assert_same(ev, tv)
    np.testing.assert_array_equal(np.signbit(ev.detach().numpy()), np.signbit(tv.detach().numpy()))
    assert_same(ei, ti, what="indices")
    assert_same(eg, tg, what="grad")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("fn", [
    _f("avg_pool2d", 3, 2, 1), _f("avg_pool2d", 2), _f("avg_pool2d", 3, divisor_override=7),
    _f("adaptive_avg_pool2d", (4, 3)), _f("interpolate", scale_factor=2, mode="bilinear"),
    _f("interpolate", size=(5, 17), mode="bilinear", align_corners=True),
])
def test_separable_maps_keep_half_types(fn, dtype):
    # the window matrices map a half input in float32 and round once, as torch's forward
    # kernels accumulate in float: the result keeps the input's dtype (bfloat16 came out
    # float32). torch's backward adds overlapping windows' shares in the half type, one
    # rounding per window, where ember rounds once: the gradients agree to a few half ulps.
    check_op(fn, [(2, 3, 9, 10)], dtype=dtype, grad_atol=1e-3)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("norm_type", [float("inf"), -float("inf")])
@pytest.mark.parametrize("fn,shape", [
    (lambda lib, x, p, c: lib.nn.functional.lp_pool1d(x, p, 3, 2, ceil_mode=c), (2, 3, 8)),
    (lambda lib, x, p, c: lib.nn.functional.lp_pool2d(x, p, (2, 3), ceil_mode=c), (2, 3, 7, 8)),
    (lambda lib, x, p, c: lib.nn.functional.lp_pool3d(x, p, 2, 1, ceil_mode=c), (1, 2, 3, 4, 3)),
    (lambda lib, x, p, c: lib.nn.LPPool2d(p, 2, ceil_mode=c)(x), (2, 3, 5, 5)),
])
def test_lp_pool_infinite_norm_is_a_max_of_magnitudes(fn, shape, norm_type, ceil_mode):
    # torch takes the limit: each window's largest |x| (the smallest for -inf), by max pooling
    check_op(lambda lib, x: fn(lib, x, norm_type, ceil_mode), [shape])


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("fn", [
    lambda lib, x, c, i: lib.nn.functional.avg_pool1d(x[0], 3, 2, 1, c, i),
    lambda lib, x, c, i: lib.nn.functional.avg_pool2d(x, 3, 2, 1, c, i),
    lambda lib, x, c, i: lib.nn.functional.avg_pool2d(x, (2, 3), 1, (1, 0), c, i,
                                                      divisor_override=5),
    lambda lib, x, c, i: lib.nn.functional.avg_pool3d(x[None], 2, (1, 2, 1), 1, c, i),
    lambda lib, x, c, i: lib.nn.functional.avg_pool2d(
        x.to(memory_format=lib.channels_last), 3, 2, 1, c, i),
])
def test_int64_average_pooling_truncates_as_torch(fn, ceil_mode, count_include_pad):
    # torch averages int64 windows as sum / divisor truncated toward zero (the window
    # matrices' fractions were cast to integers: zeros)
    data = np.random.default_rng(1).integers(-1000, 1000, size=(2, 3, 7, 8))
    out = [fn(lib, lib.tensor(data), ceil_mode, count_include_pad) for lib in (torch, ember)]
    assert_same(out[1], out[0])
    assert out[1].stride() == out[0].stride()


_AVERAGES = [
    lambda lib, x: lib.nn.functional.avg_pool1d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.avg_pool2d(x[0], 2),
    lambda lib, x: lib.nn.functional.avg_pool3d(x, 2),
]
_ADAPTIVE = [
    lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x[0], 2),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool3d(x, 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool1d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x[0], 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool3d(x, 2),
]
_REFUSED = ["int32", "uint8", "bool", "complex64"]


@pytest.mark.parametrize("fn,dtype", [(fn, d) for fn in _AVERAGES for d in _REFUSED]
                         + [(fn, d) for fn in _ADAPTIVE for d in _REFUSED + ["int64"]]
                         + [(_AVERAGES[2], "float16"), (_AVERAGES[2], "bfloat16")])
def test_pooling_refuses_dtypes_as_torch(fn, dtype):
    # the average pools take int64 (above) and refuse other integer, bool and complex
    # inputs (avg_pool3d the half types too); the adaptive ones refuse every non-floating
    # dtype (ember averaged integers with weights cast to zero)
    data = np.arange(2 * 2 * 4 * 4 * 4).reshape(2, 2, 4, 4, 4) % 7
    check_raises_like(lambda lib: fn(lib, lib.tensor(data).to(getattr(lib, dtype))))


_MAX_POOLS = [
    lambda lib, x: lib.nn.functional.max_pool1d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.max_pool1d(x[0, 0], 2, return_indices=True),
    lambda lib, x: lib.nn.functional.max_pool2d(x[0], 2),
    lambda lib, x: lib.nn.functional.max_pool3d(x, 2, return_indices=True),
]
_UNPOOLS = [
    lambda lib, x: lib.nn.functional.max_unpool1d(x[0, 0], lib.zeros(4, 4, 4).long(), 2),
    lambda lib, x: lib.nn.functional.max_unpool2d(x[0], lib.zeros(2, 4, 4, 4).long(), 2),
    lambda lib, x: lib.nn.functional.max_unpool3d(x, lib.zeros(2, 2, 4, 4, 4).long(), 2),
]


@pytest.mark.parametrize("fn,dtype", [(fn, d) for fn in _MAX_POOLS for d in ("bool", "complex64")]
                         + [(_MAX_POOLS[0], d) for d in ("int64", "uint8")]
                         + [(fn, d) for fn in _UNPOOLS for d in ("int32", "bool", "complex64")])
def test_max_pooling_refuses_dtypes_as_torch(fn, dtype):
    # max pooling takes real numbers (max_pool1d's own kernel, without indices, floats
    # only); unpooling floats only. ember raised NumPy's ValueError or computed.
    data = np.arange(2 * 2 * 4 * 4 * 4).reshape(2, 2, 4, 4, 4) % 7
    check_raises_like(lambda lib: fn(lib, lib.tensor(data).to(getattr(lib, dtype))))


def _unpool_call(nd, shape, index_shape=None, index_dtype="int64", **kwargs):
    def call(lib):
        fn = getattr(lib.nn.functional, f"max_unpool{nd}d")
        indices = lib.zeros(index_shape or shape).to(getattr(lib, index_dtype))
        return fn(lib.ones(shape), indices, 2, **kwargs)
    return call


@pytest.mark.parametrize("call", [
    _unpool_call(1, (2, 2, 4, 4)), _unpool_call(1, (4,)), _unpool_call(2, (2, 2, 2, 4, 4)),
    _unpool_call(2, (4, 4)), _unpool_call(3, (1, 2, 2, 2, 4, 4)), _unpool_call(3, (2, 4, 4)),
    _unpool_call(1, (2, 4), (2, 3)), _unpool_call(2, (2, 4, 4), (2, 4, 3)),
    _unpool_call(3, (2, 2, 4, 4), (2, 2, 4, 3)),
    _unpool_call(2, (2, 4, 4), index_dtype="int32"),
    _unpool_call(3, (2, 2, 4, 4), index_dtype="float32"),
    _unpool_call(2, (2, 2, 2, 4, 4), index_dtype="int32"),
    _unpool_call(1, (2, 0)), _unpool_call(2, (2, 0, 4)), _unpool_call(3, (2, 2, 0, 4)),
    _unpool_call(3, (2, 2, 4, 4), stride=0),
    lambda lib: lib.nn.functional.max_unpool2d(lib.ones(2, 4, 4), lib.full((2, 4, 4), 100), 2),
])
def test_max_unpool_checks_as_torch(call):
    # ember took inputs of any rank (a 4-d input to max_unpool1d gave a 2-d result) and
    # indices of other shapes and dtypes
    check_raises_like(call)


@pytest.mark.parametrize("nd,shape", [(1, (0, 2, 3)), (2, (0, 2, 2, 3)), (3, (0, 1, 2, 2, 2)),
                                      (2, (2, 3, 2))])
def test_max_unpool_empty_batch_and_unbatched(nd, shape):
    def fn(lib, x):
        pool = getattr(lib.nn.functional, f"max_pool{nd}d")
        values, indices = pool(x, 2, return_indices=True)
        return getattr(lib.nn.functional, f"max_unpool{nd}d")(values, indices, 2)
    check_op(fn, [shape[:-nd] + tuple(2 * s for s in shape[-nd:])])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("case", ["negative", "empty", "empty_channels"])
def test_adaptive_pool_sizes_checked_as_torch(nd, kind, case):
    # a negative output size gave an empty result (average) or a NumPy error (max); an
    # empty input dim gave values from nothing (average) or NumPy's argmax error (max)
    shape = {"negative": (1, 2) + (3,) * nd, "empty": (1, 2, 0) + (3,) * (nd - 1),
             "empty_channels": (1, 0) + (3,) * nd}[case]
    size = (-1 if case == "negative" else 2,) * nd

    def call(lib):
        return getattr(lib.nn.functional, f"adaptive_{kind}_pool{nd}d")(lib.ones(shape), size)
    try:
        call(torch)
    except RuntimeError:
        check_raises_like(call)
    else:  # torch's 2-d average pools an input without channels
        assert_same(call(ember), call(torch))


# NOTE [Average pooling gradients of float16/bfloat16]: torch divides each output's gradient
# in the half type and adds it into its window's inputs one rounded sum at a time; its
# forward divides a float32 window sum and rounds once.
HALF_AVERAGE_ROWS = {
    "avg_pool1d": (_f("avg_pool1d", 3, 2, 1), (2, 3, 11)),
    "avg_pool2d": (_f("avg_pool2d", 3, 2, 1), (2, 3, 9, 8)),
    "avg_pool2d_overlapping": (_f("avg_pool2d", 3, 1), (1, 2, 7, 7)),
    "avg_pool2d_divisor": (_f("avg_pool2d", 3, 1, divisor_override=7), (1, 2, 7, 7)),
    "avg_pool2d_no_pad_count": (_f("avg_pool2d", 3, 2, 1, ceil_mode=True,
                                   count_include_pad=False), (1, 2, 7, 7)),
    "avg_pool2d_unbatched": (_f("avg_pool2d", (2, 3), (1, 2)), (3, 6, 7)),
    "adaptive_avg_pool1d": (_f("adaptive_avg_pool1d", 5), (1, 2, 13)),
    "adaptive_avg_pool2d": (_f("adaptive_avg_pool2d", (3, 4)), (2, 2, 7, 9)),
    "adaptive_avg_pool3d": (_f("adaptive_avg_pool3d", (2, 3, 4)), (1, 2, 5, 6, 7)),
}


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(HALF_AVERAGE_ROWS))
def test_half_average_pooling_and_gradients_match_torch_bits(name, dtype) -> None:
    fn, shape = HALF_AVERAGE_ROWS[name]
    rng = np.random.default_rng(0)
    values = rng.standard_normal(shape) * 4
    results = []
    for lib in (torch, ember):
        x = lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()
        out = fn(lib, x)
        cotangent = np.random.default_rng(1).standard_normal(tuple(out.shape)) * 4
        out.backward(lib.tensor(cotangent).to(getattr(lib, dtype)))
        results.append((out.detach(), x.grad))
    (t_out, t_grad), (e_out, e_grad) = results
    assert repr(e_grad.dtype) == repr(t_grad.dtype)
    np.testing.assert_array_equal(np.array(e_grad.float().tolist()), t_grad.float().numpy())
    if name != "adaptive_avg_pool3d":  # its forward rounds in a way not yet learnt
        np.testing.assert_array_equal(np.array(e_out.float().tolist()),
                                      t_out.float().numpy())
