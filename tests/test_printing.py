"""``repr(ember tensor)`` must be character-for-character torch's ``repr``.

Every expected string is produced by torch itself from the same NumPy data, so each test
fails as soon as ember prints anything torch would not.
"""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
from ember import _tensor_str
from ember._backend import bfloat16_dtype, np
from tests.helpers import examples, torch

BF16 = bfloat16_dtype()
NAN, INF = math.nan, math.inf
DTYPE_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
               "float32", "float64", "complex64", "complex128"]
FLOAT_NAMES = ["float16", "bfloat16", "float32", "float64", "complex64", "complex128"]


@pytest.fixture(autouse=True)
def _restore_printoptions():
    """Each test starts and ends with torch's and ember's default print options."""
    torch.set_printoptions(profile="default")
    ember.set_printoptions(profile="default")
    yield
    torch.set_printoptions(profile="default")
    ember.set_printoptions(profile="default")


def _np_dtype(name):
    return BF16 if name == "bfloat16" else np.dtype(name)


def _cast(real, dtype_name, imag=None):
    """Float64 values as an array of ``dtype_name``, the way a user would convert them."""
    return np.asarray(_cast_values(np.asarray(real), dtype_name, imag))


def _cast_values(real, dtype_name, imag):
    with np.errstate(all="ignore"):
        if dtype_name == "bool":
            return real > 0
        if dtype_name.startswith(("int", "uint")):
            info = np.iinfo(dtype_name)
            clean = np.nan_to_num(real, nan=0.0, posinf=info.max, neginf=info.min)
            return np.trunc(clean.clip(info.min, info.max)).astype(dtype_name)
        if dtype_name == "bfloat16":
            # Through float32, so torch's and ml_dtypes' roundings see the same values.
            return real.astype(np.float32).astype(BF16)
        if dtype_name.startswith("complex"):
            out = np.empty(real.shape, dtype=np.complex128)
            # Assigned part by part: real + 1j * imag would turn an infinite part into nan.
            out.real = real
            if imag is None:  # reversed, so that the two parts differ.
                imag = real[::-1] if real.ndim else -real
            out.imag = imag
            return out.astype(dtype_name)
        return real.astype(dtype_name)


def _torch_of(arr):
    """The torch tensor holding exactly the values of ``arr``."""
    if arr.dtype == BF16:
        # bfloat16 -> float32 is exact, and torch converts it back without rounding.
        return torch.from_numpy(np.asarray(arr.astype(np.float32))).to(torch.bfloat16)
    return torch.from_numpy(np.array(arr, copy=True, order="C"))


def _pair(arr, requires_grad=False):
    expected = _torch_of(arr)
    if requires_grad:
        expected.requires_grad_()
    return expected, ember.tensor(arr, requires_grad=requires_grad)


def _check(arr, requires_grad=False):
    expected, actual = _pair(arr, requires_grad)
    assert repr(actual) == repr(expected)
    assert str(actual) == str(expected)


# --------------------------------------------------------------------------------------------
# Property tests

SPECIALS = [0.0, -0.0, NAN, INF, -INF]
UNIT = st.floats(-10, 10)
TINY = st.floats(-1e-5, 1e-5)
HUGE = st.one_of(st.floats(-1e12, 1e12), st.floats(-1e30, 1e30))
ELEMENTS = {
    "unit": UNIT,
    "tiny": TINY,
    "huge": HUGE,
    "mixed": st.one_of(TINY, UNIT, HUGE),
    "integral": st.integers(-1000, 1000).map(float),
    "big_integral": st.integers(-10**10, 10**10).map(float),
    "special": st.one_of(st.sampled_from(SPECIALS), UNIT),
    "special_integral": st.one_of(st.sampled_from(SPECIALS), st.integers(-50, 50).map(float)),
    "rounded": st.floats(-100, 100).map(lambda x: round(x, 2)),
}


@st.composite
def shapes(draw):
    kind = draw(st.sampled_from(["0-d", "1-d", "n-d", "empty", "summarized"]))
    if kind == "0-d":
        return ()
    if kind == "1-d":
        return (draw(st.integers(1, 40)),)
    if kind == "n-d":
        return tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=4)))
    if kind == "empty":
        dims = draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
        dims[draw(st.integers(0, len(dims) - 1))] = 0
        return tuple(dims)
    return draw(st.sampled_from([(1001,), (2000,), (3, 400), (40, 30), (2, 3, 200),
                                 (11, 10, 10), (2, 2, 2, 130), (1, 1200)]))


@st.composite
def arrays(draw, dtype_names=DTYPE_NAMES):
    """An array of any supported dtype, shape and magnitude, sometimes a strided view."""
    shape = draw(shapes())
    dtype_name = draw(st.sampled_from(dtype_names))
    elements = ELEMENTS[draw(st.sampled_from(sorted(ELEMENTS)))]
    real = draw(hnp.arrays(np.float64, shape, elements=elements))
    imag = draw(hnp.arrays(np.float64, shape, elements=elements))
    arr = _cast(real, dtype_name, imag)
    if arr.ndim >= 2 and draw(st.booleans()):
        arr = arr.swapaxes(0, -1)
    return arr


def _slow(max_examples):
    """Settings for tests whose examples hold thousands of elements."""
    return settings(max_examples=examples(max_examples), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_slow(400)
@given(arrays())
def test_repr_matches_torch(arr):
    _check(arr)


@_slow(100)
@given(arrays(FLOAT_NAMES))
def test_repr_requires_grad_matches_torch(arr):
    _check(arr, requires_grad=True)


@_slow(200)
@given(arrays(), st.integers(0, 8), st.sampled_from([0, 5, 20, 100, 1000, math.inf]),
       st.integers(0, 4), st.integers(5, 140), st.sampled_from([None, True, False]))
def test_repr_with_printoptions_matches_torch(arr, precision, threshold, edgeitems, linewidth,
                                             sci_mode):
    options = dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                   linewidth=linewidth, sci_mode=sci_mode)
    torch.set_printoptions(**options)
    ember.set_printoptions(**options)
    _check(arr)


# --------------------------------------------------------------------------------------------
# Explicit cases, one group per printing rule


@pytest.mark.parametrize("value, dtype_name", [
    (1.5, "float32"), (1.0, "float32"), (1e-5, "float32"), (NAN, "float32"), (INF, "float32"),
    (-INF, "float64"), (-0.0, "float32"), (1e9, "float32"), (1e8, "float32"),
    (123456.789, "float64"), (True, "bool"), (False, "bool"), (3, "int64"), (-7, "int8"),
    (255, "uint8"), (1 + 2j, "complex64"), (-0.5 - 1e-7j, "complex128"), (0.1, "float16"),
    (0.1, "bfloat16"),
])
def test_scalar(value, dtype_name):
    _check(_cast(np.array(value), dtype_name) if dtype_name == "bfloat16"
           else np.array(value, dtype=_np_dtype(dtype_name)))


@pytest.mark.parametrize("values", [
    [1.0, 2.0, 3.0], [1.0, 1000.0], [1.0, 1001.0], [-3.0, 2.0, 0.0], [1e8, 1.0], [1e8, 2e8],
    [1.0, -0.0, NAN, INF], [1e-4, 1.0], [9.9e-5, 1.0], [1.0, 1000.5], [0.001, 1.0],
    [0.0011, 1.0], [1e-3, 1e3], [1.5, 2.25, -3.125], [99999999.5, 1.0], [1e-5, 1.0],
    [NAN, INF], [0.0, 0.0], [-0.0, 0.0], [NAN, 1.0], [-INF, 1.5], [-0.0, 1.5], [-0.0, 1e-5],
    [-INF, 1e-5], [NAN] * 40, [0.0] * 40, [-0.0] * 40, [-INF] * 40, [-INF] * 20 + [1.0] * 20,
])
@pytest.mark.parametrize("dtype_name", ["float32", "float64", "float16", "bfloat16"])
def test_float_modes(values, dtype_name):
    _check(_cast(np.array(values), dtype_name))


@pytest.mark.parametrize("values", [
    [1 + 2j, 1 + 200j, -3.5 - 1j], [1 + 2j], [1e-5 + 2j, 3 + 4j], [1.5 + 2.25j] * 12,
    [1 + 2j] * 12, [complex(NAN, NAN), complex(-0.0, 0.0), complex(0.0, -0.0)],
    [complex(NAN, 1), 1.5 + 2j], [complex(-0.0, -0.0), 1.5 + 2j], [complex(-0.0, 0.0)] * 40,
    [complex(INF, -INF), 1e10 + 1e-10j],
])
@pytest.mark.parametrize("dtype_name", ["complex64", "complex128"])
def test_complex(values, dtype_name):
    _check(np.array(values, dtype=dtype_name))


@pytest.mark.parametrize("values", [[True, False], [[True], [False]], [False] * 30])
def test_bool(values):
    _check(np.array(values, dtype=bool))


@pytest.mark.parametrize("dtype_name", ["uint8", "int8", "int16", "int32", "int64"])
def test_integers(dtype_name):
    info = np.iinfo(dtype_name)
    _check(np.array([info.min, 0, info.max, 1], dtype=dtype_name))
    _check(np.arange(24, dtype=dtype_name).reshape(2, 3, 4))


@pytest.mark.parametrize("n", range(6, 14))
def test_line_wrapping(n):
    _check(np.arange(n, dtype=np.int64) * 1000000)
    _check(np.arange(2 * n, dtype=np.float32).reshape(2, n) * 1.5)
    _check(np.arange(3 * n, dtype=np.float64).reshape(3, n, 1).swapaxes(1, 2) / 7)


def test_n_d_layout():
    _check(np.arange(24).reshape(2, 3, 4))
    _check(np.arange(48.0).reshape(2, 2, 3, 4) / 3)
    _check(np.arange(5.0).reshape(1, 1, 1, 5))


@pytest.mark.parametrize("shape", [(2000,), (1001,), (20, 100), (2, 10, 100), (1, 2000),
                                   (2000, 1), (5, 5, 5, 9)])
def test_summarization(shape):
    _check(np.arange(math.prod(shape)).reshape(shape))
    _check(np.arange(math.prod(shape), dtype=np.float32).reshape(shape) / 3)


def test_summarized_width_uses_only_shown_elements():
    # The hidden middle values are huge and fractional; torch ignores them entirely.
    values = np.ones(2000)
    values[100:1900] = 12345678.5
    _check(values)
    _check(values.reshape(40, 50))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0), (0, 2, 3), (3, 0, 1)])
@pytest.mark.parametrize("dtype_name", DTYPE_NAMES)
def test_empty(shape, dtype_name):
    _check(np.zeros(shape, dtype=_np_dtype(dtype_name)))


@pytest.mark.parametrize("dtype_name", FLOAT_NAMES)
def test_empty_requires_grad(dtype_name):
    _check(np.zeros((0,), dtype=_np_dtype(dtype_name)), requires_grad=True)


@pytest.mark.parametrize("dtype_name", DTYPE_NAMES)
def test_dtype_suffix(dtype_name):
    _check(np.ones((3,), dtype=_np_dtype(dtype_name)))
    _check(np.ones((), dtype=_np_dtype(dtype_name)))


@pytest.mark.parametrize("n", range(10, 17))
def test_suffix_wrapping(n):
    _check(np.arange(n, dtype=np.int32))
    _check(np.arange(2 * n, dtype=np.int32).reshape(2, n))


@pytest.mark.parametrize("linewidth", range(20, 90, 3))
def test_suffix_wrapping_with_linewidth(linewidth):
    torch.set_printoptions(linewidth=linewidth)
    ember.set_printoptions(linewidth=linewidth)
    for n in (1, 5, 13):
        _check(np.arange(n, dtype=np.int32))
        _check(np.arange(2 * n, dtype=np.int16).reshape(2, n))
        _check(np.arange(n, dtype=np.float64), requires_grad=True)
    _check(np.array(3.0, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("dtype_name", FLOAT_NAMES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 16), (1200,)])
def test_grad_fn_suffix(dtype_name, shape):
    arr = _cast(np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 4, dtype_name)
    expected, actual = _pair(arr, requires_grad=True)
    expected, actual = expected * 2, actual * 2
    assert repr(actual) == repr(expected)


@pytest.mark.parametrize("linewidth", [35, 40, 49, 50, 51, 60])
def test_grad_fn_suffix_wrapping(linewidth):
    torch.set_printoptions(linewidth=linewidth)
    ember.set_printoptions(linewidth=linewidth)
    expected, actual = _pair(np.array([2.0, 3.0], dtype=np.float64), requires_grad=True)
    assert repr(actual * 2) == repr(expected * 2)


def test_non_default_float_dtype_suffixes():
    saved_torch, saved_ember = torch.get_default_dtype(), ember.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    ember.set_default_dtype(ember.float64)
    try:
        for dtype_name in DTYPE_NAMES:
            for shape in [(), (3,), (0,), (2, 0)]:
                _check(np.ones(shape, dtype=_np_dtype(dtype_name)))
    finally:
        torch.set_default_dtype(saved_torch)
        ember.set_default_dtype(saved_ember)


@pytest.mark.parametrize("view", [
    # torch.from_numpy refuses negative strides (so does ember's): steps stay positive
    lambda a: a.T, lambda a: a[::3], lambda a: a[:, ::2], lambda a: a[1:, 1:3],
    lambda a: a.swapaxes(0, 1)[1::2],
])
def test_non_contiguous(view):
    arr = np.arange(60, dtype=np.float32).reshape(6, 10) / 8
    strided = view(arr)
    assert repr(ember.from_numpy(strided)) == repr(_torch_of(strided))


@pytest.mark.parametrize("options", [
    dict(sci_mode=True), dict(sci_mode=False), dict(precision=0), dict(precision=2),
    dict(precision=10), dict(linewidth=30), dict(linewidth=200), dict(threshold=5),
    dict(threshold=5, edgeitems=1), dict(threshold=5, edgeitems=0), dict(edgeitems=0),
    dict(profile="short"), dict(profile="full"), dict(profile="full", precision=6),
    dict(profile="default", threshold=10), dict(linewidth=5, threshold=3, edgeitems=1),
])
@pytest.mark.parametrize("values", [
    [1.5, 2.25], [1e-5, 1.0], [1e-8, 1e10], [1.0, 1e20], [0.0, 0.0], [1.0, 2.0],
    list(range(3000)), [[1.0 / 3] * 40] * 40, [1 + 2j, 0.5 - 1e-6j], [3.25],
])
def test_printoptions(options, values):
    torch.set_printoptions(**options)
    ember.set_printoptions(**options)
    assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
    _check(np.array(values))
    _check(np.array(values[0]))
    arr = np.array(values)
    _check(arr.astype(np.complex64 if arr.dtype.kind == "c" else np.float32), requires_grad=True)


@pytest.mark.parametrize("calls", [
    [dict(precision=2)], [dict(sci_mode=True), dict(precision=2)],
    [dict(profile="short")], [dict(profile="full", precision=6)],
    [dict(threshold=5), dict(profile="default")], [dict(edgeitems=1, linewidth=30)],
    [dict(profile="no-such-profile")],
])
def test_get_printoptions(calls):
    for kwargs in calls:
        torch.set_printoptions(**kwargs)
        _tensor_str.set_printoptions(**kwargs)
        assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()


def test_printoptions_context_manager_restores():
    torch.set_printoptions(precision=3, sci_mode=True)
    ember.set_printoptions(precision=3, sci_mode=True)
    arr = np.array([1.0 / 3, 2.0])
    with torch._tensor_str.printoptions(precision=1, linewidth=20), \
            _tensor_str.printoptions(precision=1, linewidth=20):
        assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
        _check(arr)
    assert _tensor_str.get_printoptions() == torch._tensor_str.get_printoptions()
    _check(arr)


def test_grad_fn_in_repr_is_the_node_type_name() -> None:
    """torch prints type(grad_fn).__name__: CopySlices, not its name() torch::autograd::..."""
    def tensors(L):
        a = L.zeros(3, requires_grad=True).clone()
        a[0] = 1.0
        b = L.ones(2, 3, requires_grad=True) * 2
        b[:, 1].mul_(3)
        return [a, b, b.sum(), L.ones(2, requires_grad=True).exp()]
    assert [repr(t) for t in tensors(ember)] == [repr(t) for t in tensors(torch)]
