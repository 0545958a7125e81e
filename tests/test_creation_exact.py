"""linspace, arange and logspace give torch's exact bits (NOTE [Exact ranges] and NOTE
[Exact logspace] in ember/_ops/creation.py) for float32, float64, float16, bfloat16 and
integer dtypes.

torch's own values depend on its CPU kernels: its AVX2 and AVX-512 builds (what torch picks
on every x86-64 CPU since 2013) round as these tests expect, its plain build does not, so
the tests skip there."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch

pytestmark = pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="torch's plain CPU kernels round ranges otherwise")

FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]
INT_DTYPES = ["int64", "int32", "int16"]


def _bits_equal(e, t) -> None:
    assert repr(e.dtype) == repr(t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
        np.testing.assert_array_equal(e._data.view(np.int16), t.numpy())
    else:
        np.testing.assert_array_equal(e._data, t.numpy())


@pytest.mark.bitexact
@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES + INT_DTYPES),
       scale=st.sampled_from([1e-3, 1.0, 7.0, 100.0, 1e5]),
       start=st.floats(-1, 1), end=st.floats(-1, 1), steps=st.integers(0, 3000))
def test_linspace_bits(dtype, scale, start, end, steps) -> None:
    assume(dtype != "float16" or scale < 6e4)  # torch refuses ends beyond float16's range
    assume(dtype != "int16" or scale < 300)
    start, end = start * scale, end * scale
    with recording_compared("torch.linspace") as run:
        t = run(torch, lambda L: L.linspace(start, end, steps, dtype=getattr(L, dtype)))
        e = run(ember, lambda L: L.linspace(start, end, steps, dtype=getattr(L, dtype)))
        _bits_equal(e, t)


@pytest.mark.bitexact
@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES + INT_DTYPES),
       scale=st.sampled_from([1e-2, 1.0, 10.0, 1000.0]),
       start=st.floats(-1, 1), step=st.floats(0.001, 1), count=st.integers(0, 2000),
       sign=st.sampled_from([1, -1]), frac=st.floats(-0.5, 0.5))
def test_arange_bits(dtype, scale, start, step, count, sign, frac) -> None:
    start, step = start * scale, step * scale * sign
    end = start + step * (count + frac)
    if dtype in INT_DTYPES:
        start, end, step = start * 10, end * 10, step * 10 + sign
    assume(dtype != "float16" or abs(end) < 6e4)
    try:
        t = torch.arange(start, end, step, dtype=getattr(torch, dtype))
    except RuntimeError:
        return  # a size torch refuses (tested with the other errors in test_ops)
    with recording_compared("torch.arange"):
        _bits_equal(ember.arange(start, end, step, dtype=getattr(ember, dtype)), t)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES)
def test_integer_arguments(dtype) -> None:
    for args in [(0, 10), (3, 50, 7), (-5, 5, 3), (0.5, 10, 1.5), (-2.7, 10, 2.5)]:
        _bits_equal(ember.arange(*args, dtype=getattr(ember, dtype)),
                    torch.arange(*args, dtype=getattr(torch, dtype)))
    for args in [(0, 1, 5), (-3, 7, 11), (1e-3, 1e3, 257), (5, 5, 4), (2, -2, 1)]:
        _bits_equal(ember.linspace(*args, dtype=getattr(ember, dtype)),
                    torch.linspace(*args, dtype=getattr(torch, dtype)))


INT_LOGSPACE_DTYPES = INT_DTYPES + ["int8", "uint8"]


@pytest.mark.bitexact
@settings(max_examples=300, deadline=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES + INT_LOGSPACE_DTYPES),
       base=st.sampled_from([10.0, 2.0, 2.5, 0.5, 7.3, -2.0, 1.0, 0.0, 1e-3]),
       scale=st.sampled_from([1e-2, 1.0, 4.0, 30.0]),
       start=st.floats(-1, 1), end=st.floats(-1, 1), steps=st.integers(0, 600))
def test_logspace_bits(dtype, base, scale, start, end, steps) -> None:
    start, end = start * scale, end * scale
    if dtype in INT_LOGSPACE_DTYPES:
        # integer results must stay in range: out-of-range casts are undefined in C++
        start, end = abs(start) if dtype == "uint8" else start, abs(end)
        assume(abs(base) <= 2.5 and max(start, end) <= 6 and (base >= 0 or dtype != "uint8"))
        assume(base != 0 or min(start, end) >= 0)
    with recording_compared("torch.logspace") as run:
        t = run(torch, lambda L: L.logspace(start, end, steps, base, dtype=getattr(L, dtype)))
        e = run(ember, lambda L: L.logspace(start, end, steps, base, dtype=getattr(L, dtype)))
        _bits_equal(e, t)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_LOGSPACE_DTYPES)
def test_logspace_fixed_arguments(dtype) -> None:
    for args in [(0, 10, 11, 2.0), (-1.7, 2.9, 7, 2.0), (0.1, 1, 1), (1.9, 1, 1, 2.0),
                 (0, 2, 5), (-2, 2, 5, -2.0), (2, 0, 4, 3.0), (0, 3, 0), (-2, 2, 5, 1.01),
                 (-128, 0, 3, 1.001), (-255, 0, 3, 1.001)]:
        try:
            expected = torch.logspace(*args, dtype=getattr(torch, dtype))
        except RuntimeError:  # a start or end outside the dtype's range
            check_raises_like(lambda L: L.logspace(*args, dtype=getattr(L, dtype)))  # noqa: B023
            continue
        _bits_equal(ember.logspace(*args, dtype=getattr(ember, dtype)), expected)


def test_logspace_default_dtype_and_errors() -> None:
    _bits_equal(ember.logspace(0.118, 4.5, 4), torch.logspace(0.118, 4.5, 4))
    check_raises_like(lambda L: L.logspace(0, 1, 3, dtype=L.bool))
    check_raises_like(lambda L: L.logspace(0, 1, -1))
    for dtype, value, steps in [("uint8", -1.0, 3), ("uint8", -0.3, 3), ("int8", 128.0, 3),
                                ("uint8", -256, 3), ("int8", -129, 3), ("uint8", 256, 3),
                                ("int8", 300.0, 1), ("int16", 1e6, 1), ("int32", 1e10, 3),
                                ("int64", 1e19, 3), ("float16", 65519.0, 3),
                                ("bfloat16", 1e39, 3), ("float32", 3.4028236e38, 3),
                                ("float32", 39.0, 1)]:
        check_raises_like(
            lambda L: L.logspace(value, 0, steps, dtype=getattr(L, dtype)))  # noqa: B023
    for dtype, value, steps in [("uint8", -1.0, 1), ("float16", 65504.0, 3),
                                ("float32", float("inf"), 3), ("float16", 1e5, 1)]:
        _bits_equal(ember.logspace(value, 0, steps, dtype=getattr(ember, dtype)),
                    torch.logspace(value, 0, steps, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("fn", [
    lambda L: L.arange(5, 1), lambda L: L.arange(0, 1, -0.5), lambda L: L.arange(-3),
    lambda L: L.arange(5, dtype=L.bool), lambda L: L.arange(1, 2, 0, dtype=L.bool),
    lambda L: L.arange(1, 5, 0.5, dtype=L.int64), lambda L: L.arange(1, 0, -0.3, dtype=L.int64),
    lambda L: L.linspace(0, 1, 5, dtype=L.bool), lambda L: L.logspace(0, 1, 2, dtype=L.bool),
], ids=["decreasing", "negative-step", "negative-end", "bool", "bool-zero-step",
        "int64-step-truncates-to-0", "int64-negative-step-to-0", "linspace-bool",
        "logspace-bool"])
def test_range_refusals_match_torch(fn) -> None:
    check_raises_like(fn)


@pytest.mark.parametrize("fn", [
    lambda L: L.arange(1, 5, 0.5, dtype=L.int32), lambda L: L.linspace(0, 1, 1, dtype=L.bool),
    lambda L: L.linspace(0, 1, 0, dtype=L.bool), lambda L: L.logspace(0, 1, 1, dtype=L.bool),
    lambda L: L.logspace(0, 1, 0, dtype=L.bool),
], ids=["int32-step-truncates-to-0", "linspace-bool-1", "linspace-bool-0", "logspace-bool-1",
        "logspace-bool-0"])
def test_ranges_torch_accepts(fn) -> None:
    assert_same(fn(ember), fn(torch))


ALL_INT_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


def _range_number(draw_int: int, draw_float: float, which: int):
    return (draw_int, draw_float, float(draw_int), -draw_int)[which]


def _same_range(fn) -> None:
    """``fn(lib)`` gives torch's bits, or torch's exception."""
    try:
        expected = fn(torch)
    except Exception:  # torch refuses: ember must refuse the same way
        check_raises_like(fn)
        return
    _bits_equal(fn(ember), expected)


@pytest.mark.bitexact
@settings(max_examples=400, deadline=None)
@given(dtype=st.sampled_from(ALL_INT_DTYPES), scale=st.sampled_from([3, 100, 127, 255, 40000]),
       ints=st.tuples(st.integers(-1, 1), st.integers(-1, 1)),
       floats=st.tuples(st.floats(-1, 1), st.floats(-1, 1)),
       which=st.tuples(st.integers(0, 3), st.integers(0, 3)), steps=st.integers(0, 40))
def test_integer_linspace_ends_convert_as_torch(dtype, scale, ints, floats, which,
                                                steps) -> None:
    # ends outside the dtype are refused (an int down to minus uint8's maximum wraps into
    # it: -4 is 252), one step is filled with ``start``, and the values truncate
    start, end = (_range_number(i * scale, round(f * scale, 2), w)
                  for i, f, w in zip(ints, floats, which))
    with recording_compared("torch.linspace"):
        _same_range(lambda L: L.linspace(start, end, steps, dtype=getattr(L, dtype)))


@pytest.mark.parametrize("fn", [
    lambda L: L.linspace(0, 2 ** 63, 3, dtype=L.int64),
    lambda L: L.linspace(0, 2 ** 64, 0), lambda L: L.linspace(-2 ** 63 - 1, 0, 3),
    lambda L: L.logspace(0, 2 ** 64, 3), lambda L: L.arange(2 ** 63),
    lambda L: L.arange(0, 2 ** 63, 2 ** 62), lambda L: L.arange(2 ** 64),
    lambda L: L.arange(-2 ** 63 - 1, 0), lambda L: L.linspace(-256, 0, 3, dtype=L.uint8),
    lambda L: L.linspace(300, 0, 1, dtype=L.uint8), lambda L: L.linspace(-1.5, 0, 3, dtype=L.uint8),
    lambda L: L.linspace(0, 70000.0, 3, dtype=L.float16),
    lambda L: L.linspace(0, 1e39, 3, dtype=L.float32),
    lambda L: L.linspace(1e39, 0, 1, dtype=L.float32),
], ids=["int64-end-2**63", "beyond-64-bits", "below-int64", "logspace-beyond-64-bits",
        "arange-2**63", "arange-end-2**63", "arange-beyond-64-bits", "arange-below-int64",
        "uint8-start-below-wrap", "uint8-one-step-start", "uint8-negative-float",
        "float16-end", "float32-end", "float32-one-step-start"])
def test_range_arguments_refused_as_torch(fn) -> None:
    check_raises_like(fn)


@pytest.mark.parametrize("fn", [
    lambda L: L.linspace(-4, 3.2, 27, dtype=L.uint8),
    lambda L: L.linspace(-127, 1, 8, dtype=L.uint8),
    lambda L: L.linspace(-255, 0, 3, dtype=L.uint8),
    lambda L: L.linspace(0, 40000, 1, dtype=L.int16),
    lambda L: L.linspace(1e39, 0, 1, dtype=L.float16),
    lambda L: L.linspace(0, float("inf"), 3, dtype=L.float32),
], ids=["uint8-negative-int-start", "uint8-negative-int-start-2", "uint8-minus-max",
        "one-step-end-unchecked", "float16-one-step-overflows-to-inf", "inf-end"])
def test_range_arguments_accepted_as_torch(fn) -> None:
    _bits_equal(fn(ember), fn(torch))
