"""Small correctness items: tril_indices/triu_indices dtypes."""
from __future__ import annotations

import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

ALL_DTYPES = ["float32", "float64", "float16", "bfloat16", "bool", "uint8", "int8", "int16",
              "int32", "int64", "complex64"]


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_triangle_indices_dtypes(name, dtype) -> None:
    if dtype in ("int32", "int64"):
        for args in [(3, 3), (4, 2, 1), (2, 5, -1), (0, 3)]:
            assert_same(getattr(ember, name)(*args, dtype=getattr(ember, dtype)),
                        getattr(torch, name)(*args, dtype=getattr(torch, dtype)))
    else:
        check_raises_like(lambda L: getattr(L, name)(3, 3, dtype=getattr(L, dtype)))
