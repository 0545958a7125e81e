"""The fast kernels of padding, nearest interpolation and convolution against torch: the
gathers by runs and their adjoint records (NOTE [Gathers by runs] in ember/_ops/nn_vision.py),
the first-order weight gradient of a convolution and the col2im of a transposed convolution
(ember/_ops/nn_conv.py). Values, gradients, node names, double backward and gradcheck."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember._ops import nn_conv
from tests.helpers import (
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    make_inputs,
    torch,
)


def _pad(pads, mode):
    def fn(lib, x):
        return lib.nn.functional.pad(x, pads, mode=mode)
    return fn


def _nearest(mode, **kwargs):
    def fn(lib, x):
        return lib.nn.functional.interpolate(x, mode=mode, **kwargs)
    return fn


PADS = [
    ((1, 2), (2, 3, 7)),
    ((3, 0), (2, 3, 7)),
    ((-2, 3), (2, 3, 7)),            # a crop, then a mirror of positions the crop removed
    ((-3, -1), (2, 3, 7)),
    ((1, 1, 1, 1), (4, 5, 6, 6)),
    ((2, 0, 1, 3), (3, 5, 6)),       # unbatched
    ((0, 0, 2, 2), (2, 3, 5, 5)),
    ((1, -2, 3, 1), (2, 3, 5, 6)),
    ((1, 2, 0, 1, 2, 1), (2, 2, 4, 5, 3)),
    ((-1, 1, 2, -1, 1, 0), (2, 2, 4, 5, 4)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("pads,shape", PADS)
def test_pad_matches_torch(mode, pads, shape):
    check_op(_pad(pads, mode), [shape])
    check_op(_pad(pads, mode), [shape], dtype="float64", noncontiguous=True)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("pads,shape", [PADS[0], PADS[4], PADS[8], ((3, 3, 2, 3), (2, 3, 5, 4))])
def test_pad_half_precision(dtype, mode, pads, shape):
    # torch rounds after every addition of a border's gradient, in the padded tensor's order
    check_op(_pad(pads, mode), [shape], dtype=dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pad_bool_refused(mode, nd):
    check_raises_like(lambda lib: lib.nn.functional.pad(
        lib.zeros((1, 2) + (3,) * nd, dtype=lib.bool), (1, 1) * nd, mode=mode))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("pads,shape", [PADS[0], PADS[2], PADS[5], PADS[9]])
def test_pad_gradcheck(mode, pads, shape):
    check_gradcheck(_pad(pads, mode), [shape])


def _double_backward(fn, shape, dtype="float64"):
    """The gradient of x's gradient (for a cotangent that requires grad), both libraries:
    node names of the first gradient, and the gradients of (x, cotangent) of a random
    function of it."""
    t_leaves, e_leaves, _, _ = make_inputs([shape], dtype, seed=3)
    rng = np.random.default_rng(4)
    out_shape = tuple(fn(torch, t_leaves[0]).shape)
    cot = rng.standard_normal(out_shape)
    weights = rng.standard_normal(shape)
    results = []
    for lib, x in ((torch, t_leaves[0]), (ember, e_leaves[0])):
        y = fn(lib, x)
        gy = lib.tensor(cot, dtype=getattr(lib, dtype), requires_grad=True)
        gx, = lib.autograd.grad(y, x, gy, create_graph=True)
        names = (gx.grad_fn.name(), len(gx.grad_fn.next_functions))
        loss = (gx * gx * lib.tensor(weights, dtype=getattr(lib, dtype))).sum()
        dx, dgy = lib.autograd.grad(loss, (x, gy), allow_unused=True)
        results.append((names, gx, dx, dgy))
    (t_names, t_gx, t_dx, t_dgy), (e_names, e_gx, e_dx, e_dgy) = results
    assert e_names == t_names
    assert_same(e_gx, t_gx, what="first gradient")
    assert_same(e_dgy, t_dgy, what="gradient of the cotangent")
    if t_dx is None:
        assert e_dx is None
    else:
        assert_same(e_dx, t_dx, what="gradient of the input")


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("pads,shape", [PADS[0], PADS[2], PADS[4], PADS[8]])
def test_pad_double_backward(mode, pads, shape):
    _double_backward(_pad(pads, mode), shape)


def test_pad_third_order_gradgradcheck():
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 4)),
                     requires_grad=True)

    def first_grad(x):
        y = ember.nn.functional.pad(x, (2, 1, 1, 3), mode="reflect")
        gx, = ember.autograd.grad((y * y).sum(), x, create_graph=True)
        return gx

    assert ember.autograd.gradgradcheck(first_grad, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(["reflect", "replicate"]), nd=st.integers(1, 3),
       pads=st.lists(st.integers(-2, 3), min_size=6, max_size=6),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 1000))
def test_pad_hypothesis(mode, nd, pads, dtype, seed):
    check_op(_pad(tuple(pads[:2 * nd]), mode), [(2, 2) + (5, 4, 6)[:nd]], dtype=dtype,
             seed=seed)


NEAREST = [
    ("nearest", dict(scale_factor=2), (2, 3, 5, 4)),
    ("nearest", dict(scale_factor=3), (2, 3, 4)),
    ("nearest", dict(size=(7, 9)), (2, 3, 4, 5)),            # uneven repeats
    ("nearest", dict(size=(3, 2)), (2, 3, 7, 5)),            # positions never read
    ("nearest", dict(size=(3, 7, 2)), (1, 2, 5, 3, 4)),
    ("nearest-exact", dict(scale_factor=1.7), (2, 3, 5, 6)),
    ("nearest-exact", dict(size=(4, 11)), (2, 2, 7, 4)),
    ("nearest", dict(size=40), (2, 2, 9)),
]


@pytest.mark.parametrize("mode,kwargs,shape", NEAREST)
def test_nearest_matches_torch(mode, kwargs, shape):
    check_op(_nearest(mode, **kwargs), [shape])
    check_op(_nearest(mode, **kwargs), [shape], dtype="float64", noncontiguous=True)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode,kwargs,shape", [NEAREST[0], NEAREST[2], NEAREST[5]])
def test_nearest_half_precision(dtype, mode, kwargs, shape):
    # torch sums the repeats of a half-precision gradient in float32, rounded once
    check_op(_nearest(mode, **kwargs), [shape], dtype=dtype)


@pytest.mark.parametrize("mode,kwargs,shape", [NEAREST[0], NEAREST[2], NEAREST[3]])
def test_nearest_double_backward(mode, kwargs, shape):
    _double_backward(_nearest(mode, **kwargs), shape)
    check_gradcheck(_nearest(mode, **kwargs), [shape])


def _conv(name, **kwargs):
    def fn(lib, x, w, b=None):
        return getattr(lib.nn.functional, name)(x, w, b, **kwargs)
    return fn


CONVS = [
    ("conv2d", dict(padding=1), [(3, 4, 6, 7), (5, 4, 3, 3), (5,)]),
    ("conv2d", dict(stride=2, padding=(1, 2), dilation=(2, 1)), [(2, 4, 9, 8), (6, 4, 3, 2)]),
    ("conv2d", dict(groups=2, padding=2, dilation=2), [(2, 4, 7, 7), (6, 2, 3, 3), (6,)]),
    ("conv2d", dict(stride=(1, 3), groups=4), [(2, 4, 6, 10), (4, 1, 2, 3)]),
    ("conv1d", dict(stride=3, padding=2), [(2, 3, 11), (4, 3, 4), (4,)]),
    ("conv3d", dict(padding=(1, 0, 1), stride=(1, 2, 1)), [(2, 2, 4, 5, 4), (3, 2, 2, 3, 3)]),
    ("conv2d", dict(padding="same", dilation=(1, 2)), [(2, 3, 5, 6), (4, 3, 3, 3)]),
    ("conv_transpose2d", dict(padding=1), [(2, 4, 5, 6), (4, 3, 3, 3), (3,)]),
    ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1),
     [(2, 4, 4, 5), (4, 3, 3, 3)]),
    # an output_padding of at least the stride (below the dilation): positions no input
    # reached, which the weight gradient must not read
    ("conv_transpose2d", dict(stride=1, dilation=3, output_padding=2, groups=2),
     [(2, 4, 4, 3), (4, 1, 2, 2), (2,)]),
    ("conv_transpose1d", dict(stride=3, padding=2, output_padding=2, dilation=3),
     [(2, 3, 5), (3, 2, 3)]),
    ("conv_transpose3d", dict(padding=(0, 1, 1)), [(1, 2, 3, 4, 3), (2, 3, 2, 3, 3)]),
]


@pytest.mark.parametrize("name,kwargs,shapes", CONVS)
def test_conv_fast_paths_match_torch(name, kwargs, shapes):
    # check_op's backward is first order: the weight gradient takes the array kernel
    check_op(_conv(name, **kwargs), shapes)
    check_op(_conv(name, **kwargs), shapes, dtype="float64", noncontiguous=True)


@pytest.mark.parametrize("name,kwargs,shapes", CONVS)
def test_conv_first_order_equals_recorded(name, kwargs, shapes):
    """The array kernel of the first-order weight gradient and the ember-op formula that a
    recorded backward (create_graph=True) runs give the same gradient."""
    _, (x, w, *b), _, _ = make_inputs(shapes, "float64", seed=5)
    y = _conv(name, **kwargs)(ember, x, w, *b)
    cot = ember.tensor(np.random.default_rng(6).standard_normal(tuple(y.shape)))
    fast = ember.autograd.grad(y, (x, w), cot, retain_graph=True)
    recorded = ember.autograd.grad(y, (x, w), cot, create_graph=True)
    for f, r in zip(fast, recorded):
        np.testing.assert_allclose(f.detach().numpy(), r.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize("name,kwargs,shapes", [CONVS[1], CONVS[2], CONVS[9]])
def test_conv_fast_paths_gradcheck(name, kwargs, shapes):
    check_gradcheck(_conv(name, **kwargs), shapes)


def test_conv_double_backward_matches_torch():
    fn = _conv("conv2d", stride=2, padding=1, groups=2)
    t_leaves, e_leaves, _, _ = make_inputs([(2, 4, 6, 5), (4, 2, 3, 3)], "float64", seed=8)
    cot = np.random.default_rng(9).standard_normal(tuple(fn(torch, *t_leaves).shape))
    grads = []
    for lib, leaves in ((torch, t_leaves), (ember, e_leaves)):
        y = fn(lib, *leaves)
        gx, gw = lib.autograd.grad(y, leaves, lib.tensor(cot), create_graph=True)
        grads.append(lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), leaves))
    for e, t in zip(grads[1], grads[0]):
        assert_same(e, t)


def test_conv_float32_stays_float32():
    _, (x, w), _, _ = make_inputs([(2, 3, 6, 6), (4, 3, 3, 3)], "float32", seed=10)
    y = ember.nn.functional.conv2d(x, w, padding=1)
    y.backward(ember.ones_like(y))
    assert y.dtype is ember.float32
    assert x.grad.dtype is ember.float32 and w.grad.dtype is ember.float32
    assert x.grad._data.dtype == np.float32 and w.grad._data.dtype == np.float32


@st.composite
def _stride1_transposed(draw):
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    size = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    output_padding = tuple(draw(st.integers(0, d - 1)) for d in dilation)
    # any padding that leaves an output (torch refuses an empty one)
    padding = tuple(draw(st.integers(0, (size[i] + dilation[i] * (kernel[i] - 1)
                                         + output_padding[i] - 1) // 2)) for i in range(nd))
    groups = draw(st.integers(1, 2))
    shapes = [(2, 2 * groups) + size, (2 * groups, draw(st.integers(1, 3))) + kernel]
    return nd, shapes, dict(padding=padding, dilation=dilation, groups=groups,
                            output_padding=output_padding)


@contextlib.contextmanager
def _frame_max(value: float):
    """Every stride-1 transposed convolution takes the one-pass col2im (a large value) or
    the offset loop (0), whatever its frame."""
    saved = nn_conv._FRAME_MAX
    nn_conv._FRAME_MAX = value
    try:
        yield
    finally:
        nn_conv._FRAME_MAX = saved


@pytest.mark.parametrize("frame_max", [1e9, 0.0], ids=["one-pass", "offset-loop"])
@settings(max_examples=30, deadline=None)
@given(args=_stride1_transposed(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 1000))
def test_col2im_paths_hypothesis(frame_max, args, dtype, seed):
    # stride-1 transposed convolutions, and so the input gradients of stride-1 convolutions
    nd, shapes, kwargs = args
    with _frame_max(frame_max):
        check_op(_conv(f"conv_transpose{nd}d", **kwargs), shapes, dtype=dtype, seed=seed)
        check_op(_conv(f"conv{nd}d", padding=kwargs["padding"], dilation=kwargs["dilation"],
                       groups=kwargs["groups"]),
                 [shapes[0][:1] + (shapes[1][1] * kwargs["groups"],) + shapes[0][2:],
                  (shapes[0][1],) + shapes[1][1:]], dtype=dtype, seed=seed)


def test_col2im_in_one_pass_large_frame_and_bias():
    # a 16 x 16 map with a 3 x 3 kernel: the frame is small, the one-pass col2im runs; a
    # 2 x 2 map with a 5 x 5 kernel: the frame is large, the offset loop runs. float64:
    # the weight gradients sum 512 products of size ~30 into values near 1, where two
    # float32 summation orders differ by more than float32's default tolerance
    check_op(_conv("conv_transpose2d", padding=1), [(2, 3, 16, 16), (3, 4, 3, 3), (4,)],
             dtype="float64")
    check_op(_conv("conv_transpose2d", padding=1), [(2, 3, 2, 2), (3, 4, 5, 5), (4,)])
    check_op(_conv("conv2d", padding=2, dilation=(1, 2)), [(2, 3, 16, 12), (4, 3, 3, 3)],
             dtype="float64")


@pytest.mark.parametrize("fn", [
    _pad((1, 2, 2, 1), "reflect"), _pad((2, 0, 1, 3), "replicate"),
    _nearest("nearest", scale_factor=2), _nearest("nearest-exact", size=(7, 4)),
], ids=["reflect", "replicate", "nearest", "nearest-exact"])
def test_gathers_under_vmap_and_jvp(fn):
    # the gathers' index arrays follow from shapes alone: vmap maps them per sample, and
    # per-sample gradients and forward-mode tangents go through the adjoint records
    rng = np.random.default_rng(11)
    batch, tangent = rng.standard_normal((2, 2, 3, 5, 6)), rng.standard_normal((2, 3, 5, 6))
    results = []
    for lib in (torch, ember):
        per_sample = lib.func.vmap(lib.func.grad(lambda a, lib=lib: fn(lib, a).sin().sum()))
        _, jvp_out = lib.func.jvp(lambda a, lib=lib: fn(lib, a), (lib.tensor(batch[0]),),
                                  (lib.tensor(tangent),))
        results.append((per_sample(lib.tensor(batch)), jvp_out))
    for e, t in zip(results[1], results[0]):
        assert_same(e, t)
