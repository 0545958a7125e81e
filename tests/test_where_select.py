"""``where`` and the kernels built on its bitwise select (NOTE [Bitwise select] in
ember/_ops/pointwise.py) against torch, on tensors large enough to take that path: every
bit of the result, NaN payloads, infinities and signed zeros included, for each dtype the
select serves, with broadcasting, and through ReLU's backward and the activations that
choose between two branches."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember._ops import pointwise
from tests.helpers import assert_raises_like, assert_same, records_compared, torch

SIZE = 4 * pointwise._SELECT_MIN  # every case below takes the bitwise path


def _specials(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "fc":
        flat = a.reshape(-1)
        flat[::7] = np.nan
        flat[::11] = -0.0
        flat[::13] = np.inf
        flat[::17] = -np.inf
    return a


def _values(rng, shape, dtype: str) -> np.ndarray:
    a = rng.standard_normal(shape) * 100
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return _specials(a.astype(dtype))


def _same_bits(e, t) -> None:
    e_np, t_np = e.numpy(), t.numpy()
    assert e_np.dtype == t_np.dtype and e_np.shape == t_np.shape
    assert np.array_equal(np.ascontiguousarray(e_np).view(np.uint8),
                          np.ascontiguousarray(t_np).view(np.uint8))


SHAPES = [((64, 64), (64, 64), (64, 64)), ((64, 64), (64,), (64, 1)),
          ((64, 1), (1, 64), (3, 64, 64)), ((), (64, 64), (64, 64))]


@records_compared("torch.where")
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int16", "int32", "int64",
                                   "complex64"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_where_bits_match_torch(dtype, shapes):
    rng = np.random.default_rng(0)
    a_shape, b_shape, c_shape = shapes
    a, b = _values(rng, a_shape, dtype), _values(rng, b_shape, dtype)
    cond = rng.random(c_shape) < 0.5
    out = {lib: lib.where(lib.tensor(cond), lib.tensor(a), lib.tensor(b))
           for lib in (torch, ember)}
    _same_bits(out[ember], out[torch])


@records_compared("torch.where")
def test_where_with_a_number_matches_torch():
    rng = np.random.default_rng(1)
    b = _values(rng, (SIZE,), "float32")
    cond = rng.random(SIZE) < 0.5
    for value in (0.0, -0.0, 2.5, float("nan")):
        out = {lib: lib.where(lib.tensor(cond), value, lib.tensor(b)) for lib in (torch, ember)}
        _same_bits(out[ember], out[torch])


@records_compared("torch.relu", "torch.Tensor.backward")
def test_relu_backward_keeps_torchs_bits():
    # the mask is unpredictable, the incoming gradient holds NaN, infinities and -0.0, and
    # the input NaN: torch zeroes the gradient where input <= 0 and passes it elsewhere
    rng = np.random.default_rng(2)
    x_np = _specials(rng.standard_normal((8, 16, 32)).astype(np.float32))
    g_np = _values(rng, (8, 16, 32), "float32")
    grads = {}
    for lib in (torch, ember):
        x = lib.tensor(x_np, requires_grad=True)
        y = lib.relu(x)
        y.backward(lib.tensor(g_np))
        grads[lib] = x.grad
    _same_bits(grads[ember], grads[torch])


ACTIVATIONS = {
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.1),
    "elu": lambda F, x: F.elu(x),
    "threshold": lambda F, x: F.threshold(x, 0.5, -2.0),
    "softplus": lambda F, x: F.softplus(x, beta=2.0, threshold=3.0),
    "hardshrink": lambda F, x: F.hardshrink(x, 0.5),
    "softshrink": lambda F, x: F.softshrink(x, 0.5),
    "hardtanh": lambda F, x: F.hardtanh(x),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_branching_activations_match_torch(name):
    rng = np.random.default_rng(3)
    x_np = (rng.standard_normal((8, 16, 32)) * 3).astype(np.float32)
    g_np = rng.standard_normal((8, 16, 32)).astype(np.float32)
    out, grads = {}, {}
    for lib in (torch, ember):
        x = lib.tensor(x_np, requires_grad=True)
        y = ACTIVATIONS[name](lib.nn.functional, x)
        y.backward(lib.tensor(g_np))
        out[lib], grads[lib] = y, x.grad
    assert_same(out[ember], out[torch])
    assert_same(grads[ember], grads[torch])


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64"])
@pytest.mark.parametrize("value", [-1, 256, 2 ** 40, 2 ** 63])
def test_where_with_an_int_the_integer_tensor_cannot_hold(dtype, value):
    # the int takes the tensor's dtype: out of its range is torch's overflow error (ember
    # wrapped it), a negative one wraps into uint8
    def run(lib, swap):
        x = lib.tensor([1, 2], dtype=getattr(lib, dtype))
        c = lib.tensor([True, False])
        return lib.where(c, value, x) if swap else lib.where(c, x, value)
    for swap in (False, True):
        try:
            expected = run(torch, swap)
        except RuntimeError as exc:
            assert_raises_like(exc, lambda swap=swap: run(ember, swap))
        else:
            assert_same(run(ember, swap), expected)
