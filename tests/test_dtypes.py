"""dtype conversions and type promotion against torch: values and dtypes of casts between
every pair of dtypes, and what torch.tensor makes of Python data at the edges of a dtype."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_raises_like, torch

INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]


def same_outcome(fn) -> None:
    """``fn(lib)`` gives the same repr on both libraries, or raises the same exception."""
    try:
        expected = fn(torch)
    except Exception as exc:  # torch refuses: ember must refuse the same way
        assert_raises_like(exc, lambda: fn(ember))
        return
    assert repr(fn(ember)) == repr(expected)


# float values whose conversion to each integer dtype torch defines on every kernel (in
# range of int64; NaN, infinities and beyond differ between torch's own vector and scalar
# paths)
_FLOAT_VALUES = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -3.7, 127.9, 128.0, 255.5, 256.0,
                 -129.0, 300.0, 65535.0, 65536.0, 70000.5, -70000.0, 2.0 ** 31, 2.0 ** 32,
                 5e9, -5e9, 2.0 ** 53 + 1]


@pytest.mark.parametrize("source", FLOATS)
@pytest.mark.parametrize("target", INTS + ["bool"])
def test_float_to_integer_conversions(source: str, target: str) -> None:
    values = np.array(_FLOAT_VALUES)
    if source == "float16":
        values = values[np.abs(values) < 65504]

    def convert(lib):
        out = lib.tensor(values).to(getattr(lib, source)).to(getattr(lib, target))
        return out.tolist(), repr(out)
    same_outcome(convert)


@pytest.mark.parametrize("data", ["[2**63, 1.5]", "[1.5, 2**63]", "[2**70, 1.5]",
                                  "[-2**63-1, 1.5]", "[-2**63, 1.5]", "[2.0**63, 1]",
                                  "[[2**63], [1.5]]", "[1e30, 1]"])
@pytest.mark.parametrize("dtype", [None, "float32", "complex64", "bool"] + INTS)
def test_ints_beyond_int64_beside_floats(data: str, dtype) -> None:
    def make(lib):
        return lib.tensor(eval(data), dtype=dtype and getattr(lib, dtype))
    same_outcome(make)
