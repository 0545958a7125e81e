"""Clamps of a tensor by numbers and ReLU, bit for bit against torch: signed zeros (torch
keeps ``x`` where it equals the bound: relu(-0.0) is -0.0) and NaN payloads, on every NumPy
dispatch target (NOTE [Bounds first] in ember/_ops/pointwise.py)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import torch

pytestmark = pytest.mark.bitexact

_SPECIAL = [-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1.0, -1.0, 6.0, -6.0, 5e-45]


def _values(dtype, n: int):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    x[:len(_SPECIAL) * 3:3] = _SPECIAL
    return x


CALLS = {
    "relu": lambda lib, t: lib.relu(t),
    "relu_": lambda lib, t: t.clone().relu_(),
    "F.relu": lambda lib, t: lib.nn.functional.relu(t),
    "clamp_min 0": lambda lib, t: lib.clamp_min(t, 0),
    "clamp_min -0.0": lambda lib, t: t.clamp_min(-0.0),
    "clamp_min nan": lambda lib, t: t.clamp_min(float("nan")),
    "clamp_max 0": lambda lib, t: lib.clamp_max(t, 0.0),
    "clamp_max -0.0": lambda lib, t: t.clamp_max(-0.0),
    "clamp 0 6": lambda lib, t: lib.clamp(t, 0, 6),
    "clamp -0.0 0.0": lambda lib, t: t.clamp(-0.0, 0.0),
    "clamp_ -1 1": lambda lib, t: t.clone().clamp_(-1, 1),
    "clamp min only": lambda lib, t: t.clamp(min=0.0),
    "clamp max only": lambda lib, t: t.clamp(max=-0.0),
}


@pytest.mark.parametrize("n", [40, 1031])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", list(CALLS))
def test_bits_match_torch(call, dtype, n):
    x = _values(dtype, n)
    t = CALLS[call](torch, torch.tensor(x)).numpy()
    e = CALLS[call](ember, ember.tensor(x)).numpy()
    assert e.dtype == t.dtype
    assert np.array_equal(e.view(np.uint8), t.view(np.uint8))


@pytest.mark.parametrize("call", ["relu", "clamp_min 0", "clamp 0 6", "clamp_max 0"])
def test_integers_match_torch(call):
    x = np.arange(-20, 20, dtype=np.int64)
    t = CALLS[call](torch, torch.tensor(x))
    e = CALLS[call](ember, ember.tensor(x))
    assert str(e.dtype) == str(t.dtype)
    assert np.array_equal(e.numpy(), t.numpy())
