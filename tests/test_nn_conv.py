"""Convolutions (functional and modules) against torch: values, gradients of input, weight
and bias, gradcheck/gradgradcheck, seeded weights, reprs and errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import check_gradcheck, check_op, check_raises_like, torch


@st.composite
def conv_args(draw, transposed: bool = False):
    """A convolution's shapes and arguments, drawn so that the output is not empty."""
    nd = draw(st.integers(1, 3), label="nd")
    groups = draw(st.integers(1, 2), label="groups")
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    span = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    size = tuple(draw(st.integers(max(span[i] - 2 * padding[i], 1), 6)) for i in range(nd))
    batch = draw(st.integers(1, 2))
    bias = draw(st.booleans(), label="bias")
    if transposed:
        output_padding = tuple(draw(st.integers(0, max(stride[i], dilation[i]) - 1))
                               for i in range(nd))
        weight = (cin, cout // groups) + kernel
        # torch refuses an output size below one: keep the padding small enough
        padding = tuple(min(padding[i], ((size[i] - 1) * stride[i] + span[i] - 1) // 2)
                        for i in range(nd))
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                      output_padding=output_padding)
    else:
        weight = (cout, cin // groups) + kernel
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    shapes = [(batch, cin) + size, weight] + ([(cout,)] if bias else [])
    return nd, shapes, kwargs


def _conv_fn(nd: int, transposed: bool, kwargs: dict):
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"

    def fn(lib, x, w, b=None):
        return getattr(lib.nn.functional, name)(x, w, b, **kwargs)
    return fn


@settings(max_examples=40, deadline=None)
@given(args=conv_args(), dtype=st.sampled_from(["float32", "float64"]))
def test_conv_matches_torch(args, dtype):
    nd, shapes, kwargs = args
    check_op(_conv_fn(nd, False, kwargs), shapes, dtype=dtype)


@settings(max_examples=30, deadline=None)
@given(args=conv_args(transposed=True), dtype=st.sampled_from(["float32", "float64"]))
def test_conv_transpose_matches_torch(args, dtype):
    nd, shapes, kwargs = args
    check_op(_conv_fn(nd, True, kwargs), shapes, dtype=dtype)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel", [3, 4])
def test_conv_string_padding(padding, kernel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch and ember both warn for an even 'same' kernel
        check_op(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=padding,
                                                               dilation=(1, 2)),
                 [(2, 3, 7, 8), (4, 3, kernel, 3), (4,)])


def test_conv_unbatched_and_noncontiguous():
    check_op(lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding=1), [(3, 6), (2, 3, 3)])
    check_op(lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2),
             [(5, 6, 3, 2), (4, 2, 3, 2)], noncontiguous=True)
    check_op(lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2),
             [(4, 5, 3, 2), (2, 3, 3, 2)], noncontiguous=True)


def test_conv_empty_batch():
    check_op(lambda lib, x, w: lib.nn.functional.conv2d(x, w), [(0, 3, 5, 5), (4, 3, 3, 3)])


def test_conv_grad_fn_and_gradcheck():
    check_gradcheck(lambda lib, x, w, b: lib.nn.functional.conv2d(
        x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
        [(2, 4, 5, 6), (4, 2, 2, 2), (4,)])
    check_gradcheck(lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2,
        output_padding=(1, 0)), [(2, 4, 3, 4), (4, 1, 2, 2), (2,)])
    check_gradcheck(lambda lib, x, w: lib.nn.functional.conv1d(x, w, stride=2, padding=1),
                    [(2, 2, 6), (3, 2, 3)])
    check_gradcheck(lambda lib, x, w: lib.nn.functional.conv3d(x, w, padding=1),
                    [(1, 1, 3, 3, 3), (2, 1, 2, 2, 2)], gradgrad=False)


def test_conv_double_backward_matches_torch():
    """Second derivatives of a convolution (through its input and weight) agree."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    results = []
    for lib in (torch, ember):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, stride=2, padding=1)
        (gx,) = lib.autograd.grad((y ** 2).sum(), xt, create_graph=True)
        gx.pow(2).sum().backward()
        results.append((xt.grad, wt.grad))
    for e, t in zip(results[1], results[0]):
        np.testing.assert_allclose(e.detach()._data, t.detach().numpy(), rtol=1e-7, atol=1e-7)


MODULES = [
    lambda nn, dt: nn.Conv1d(3, 6, 4, padding="same", padding_mode="circular", dtype=dt),
    lambda nn, dt: nn.Conv2d(3, 6, (3, 5), stride=2, padding=1, dilation=2, groups=3,
                             bias=False, padding_mode="reflect", dtype=dt),
    lambda nn, dt: nn.Conv2d(3, 6, 3, padding=1, padding_mode="replicate", dtype=dt),
    lambda nn, dt: nn.Conv2d(4, 8, 3, padding="valid", dtype=dt),
    lambda nn, dt: nn.Conv3d(2, 4, 3, padding="same", dtype=dt),
    lambda nn, dt: nn.ConvTranspose1d(4, 6, 3, stride=2, groups=2, dtype=dt),
    lambda nn, dt: nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=1, dilation=2,
                                      dtype=dt),
    lambda nn, dt: nn.ConvTranspose3d(2, 2, 2, stride=2, bias=False, dtype=dt),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make", MODULES)
def test_conv_modules(make, dtype):
    torch.manual_seed(0)
    tm = make(torch.nn, getattr(torch, dtype))
    ember.manual_seed(0)
    em = make(ember.nn, getattr(ember, dtype))
    assert repr(em) == repr(tm)
    t_params = dict(tm.named_parameters())
    e_params = dict(em.named_parameters())
    assert list(e_params) == list(t_params)
    for name, tp in t_params.items():  # same seed, same weights: bit for bit
        np.testing.assert_array_equal(e_params[name].detach()._data, tp.detach().numpy())
    nd = len(tm.kernel_size)
    size = (6,) * 3 if nd == 3 else (9,) * nd
    x = np.random.default_rng(1).standard_normal((2, tm.in_channels) + size)
    tx = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
    ex = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty, ey = tm(tx), em(ex)
    cot = np.random.default_rng(2).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(cot).to(ty.dtype))
    ey.backward(ember.tensor(cot).to(ey.dtype))
    from tests.helpers import assert_same
    assert_same(ey, ty, what="output")
    assert_same(ex.grad, tx.grad, what="input grad")
    for name, tp in t_params.items():
        assert_same(e_params[name].grad, tp.grad, what=f"{name} grad")


def test_conv_transpose_output_size():
    for lib in (torch, ember):
        lib.manual_seed(0)
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2)
    em = ember.nn.ConvTranspose2d(3, 2, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4)).astype(np.float32)
    from tests.helpers import assert_same
    assert_same(em(ember.tensor(x), output_size=(10, 10)),
                tm(torch.tensor(x), output_size=(10, 10)))
    check_raises_like(lambda lib: lib.nn.ConvTranspose2d(3, 2, 3, stride=2)(
        lib.ones(1, 3, 4, 4), output_size=(12, 12)))


def test_lazy_conv():
    for lib in (torch, ember):
        lib.manual_seed(0)
    tm = torch.nn.LazyConv2d(6, 3)
    em = ember.nn.LazyConv2d(6, 3)
    assert repr(em) == repr(tm)
    ty = tm(torch.ones(2, 4, 5, 5))
    ey = em(ember.ones(2, 4, 5, 5))
    assert repr(em) == repr(tm)
    assert type(em) is ember.nn.Conv2d
    np.testing.assert_array_equal(em.weight.detach()._data, tm.weight.detach().numpy())
    np.testing.assert_allclose(ey.detach()._data, ty.detach().numpy(), rtol=1.3e-6, atol=1e-5)


ERRORS = [
    lambda lib: lib.nn.functional.conv2d(lib.ones(4, 9), lib.ones(6, 4, 3, 3)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 5, 9, 9), lib.ones(6, 4, 3, 3)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3), groups=3),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(5, 2, 3, 3), groups=2),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 2, 2), lib.ones(6, 4, 3, 3)),
    lambda lib: lib.nn.functional.conv1d(lib.ones(2, 4, 9, dtype=lib.float64),
                                         lib.ones(6, 4, 3)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         lib.ones(6, dtype=lib.float64)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         lib.ones(5)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3), stride=0),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         padding=-1),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         dilation=0),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         padding="same", stride=2),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         padding="foo"),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3),
                                         stride=(1, 1, 1)),
    lambda lib: lib.nn.functional.conv2d(lib.ones(2, 4, 9, 9), lib.ones(6, 4, 3, 3), groups=0),
    lambda lib: lib.nn.functional.conv1d(lib.ones(2, 4, 9), lib.ones(6, 4, 3, 3)),
    lambda lib: lib.nn.functional.conv_transpose2d(lib.ones(2, 4, 9, 9), lib.ones(4, 3, 3, 3),
                                                   stride=2, output_padding=2),
    lambda lib: lib.nn.functional.conv_transpose2d(lib.ones(2, 4, 9, 9), lib.ones(5, 3, 3, 3)),
    lambda lib: lib.nn.functional.conv_transpose2d(lib.ones(1, 4, 1, 1), lib.ones(4, 3, 3, 3),
                                                   padding=3),
    lambda lib: lib.nn.functional.conv_transpose1d(lib.ones(2, 5, 5, 5), lib.ones(2, 3, 2)),
    lambda lib: lib.nn.Conv2d(4, 6, 3, groups=3),
    lambda lib: lib.nn.Conv2d(4, 6, 3, groups=0),
    lambda lib: lib.nn.Conv2d(4, 6, 3, padding="foo"),
    lambda lib: lib.nn.Conv2d(4, 6, 3, padding="same", stride=2),
    lambda lib: lib.nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"),
]


@pytest.mark.parametrize("fn", ERRORS)
def test_conv_errors(fn):
    check_raises_like(fn)


def test_conv_padding_mode_error():
    # torch prints a set of the four modes, whose order is fixed when its module is compiled
    # (a frozenset constant): compare the set's members, not their order
    for lib in (torch, ember):
        with pytest.raises(ValueError) as info:
            lib.nn.Conv2d(4, 6, 3, padding_mode="foo")
        text = str(info.value)
        assert text.startswith("padding_mode must be one of {")
        assert text.endswith("}, but got padding_mode='foo'")
        assert sorted(text[text.index("{") + 1:text.index("}")].split(", ")) == [
            "'circular'", "'reflect'", "'replicate'", "'zeros'"]


@pytest.mark.parametrize("shape,kwargs", [
    ((2, 4, 18, 18), dict(padding=1)),  # 324 positions per image: one product per image
    ((2, 4, 17, 16), dict(padding=1, groups=2, bias=False)),
    ((3, 4, 9, 9), dict(stride=2, padding=1)),  # 25 positions: one product over the batch
    ((3, 4, 9, 9), dict(dilation=2, groups=2)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_product_layouts(shape, kwargs, dtype):
    """Both layouts of the im2col product (one per image for large outputs, one over the
    batch for small ones), with their input gradient (col2im) and weight gradient (the
    big-kernel layout)."""
    kwargs = dict(kwargs)
    bias = kwargs.pop("bias", True)
    weight = (6, shape[1] // kwargs.get("groups", 1), 3, 3)
    shapes = [shape, weight] + ([(6,)] if bias else [])
    # float32: the weight gradient sums ~650 products per element, in an order that differs
    # from torch's (the code before this layout missed the default tolerance as well)
    tol = dict(grad_rtol=1e-5, grad_atol=1e-4) if dtype == "float32" else {}
    check_op(lambda lib, x, w, b=None: lib.nn.functional.conv2d(x, w, b, **kwargs), shapes,
             dtype=dtype, **tol)


@pytest.mark.parametrize("kwargs", [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 3), padding=(2, 0), dilation=(2, 1)),
    dict(stride=3, padding=4, groups=2),  # the first offsets start outside the output
])
def test_conv_transpose_col2im(kwargs):
    """The col2im kernel of transposed convolutions on outputs larger than the hypothesis
    draws: kernel offsets that fall partly or wholly outside the cropped output (float64:
    float32 weight gradients here sum hundreds of products in an order unlike torch's)."""
    check_op(lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(x, w, b, **kwargs),
             [(2, 4, 12, 11), (4, 3, 3, 3), (3 * kwargs.get("groups", 1),)], dtype="float64")
