"""Third derivatives of every differentiable pointwise op, against torch (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch

POS = (0.3, 2.0)
UNIT = (-0.8, 0.8)

UNARY = {
    "exp": None, "log": POS, "log2": POS, "log10": POS, "log1p": POS, "expm1": None,
    "sqrt": POS, "rsqrt": POS, "sin": None, "cos": None, "tan": UNIT, "asin": UNIT,
    "acos": UNIT, "atan": None, "sinh": None, "cosh": None, "tanh": None, "sigmoid": None,
    "relu": None, "abs": None, "neg": None, "reciprocal": POS, "square": None, "exp2": None,
    "erf": None, "erfc": None, "erfinv": UNIT, "lgamma": POS, "digamma": POS, "sinc": None,
    "logit": (0.2, 0.8), "frac": None, "floor": None, "ceil": None, "trunc": None,
    "round": None, "sign": None, "sgn": None,
}

BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1), "pow": lambda a, b: a.abs().add(0.5) ** b,
    "atan2": lambda a, b: a.atan2(b), "hypot": lambda a, b: a.hypot(b),
    "maximum": lambda a, b: a.maximum(b), "minimum": lambda a, b: a.minimum(b),
    "xlogy": lambda a, b: a.xlogy(b.abs() + 0.5), "logaddexp": lambda a, b: a.logaddexp(b),
    "lerp": lambda a, b: a.lerp(b, 0.3), "copysign": lambda a, b: a.copysign(b),
    "fmod": lambda a, b: a.fmod(b.abs() + 0.5), "remainder": lambda a, b: a % (b.abs() + 0.5),
    "where": lambda a, b: a.where(a > b, b),
    "clamp": lambda a, b: a.clamp(-0.5, 0.5) * b,
}


def third_derivatives(L, fn, arrays):
    xs = [L.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs).sum()
    results = []
    grads = L.autograd.grad(out, xs, create_graph=True, allow_unused=True,
                            materialize_grads=True)
    results.extend(grads)
    for _ in range(2):
        total = sum(g.sum() for g in grads if g.requires_grad)
        if not isinstance(total, L.Tensor) or not total.requires_grad:
            grads = [L.zeros_like(x) for x in xs]
        else:
            grads = L.autograd.grad(total, xs, create_graph=True, allow_unused=True,
                                    materialize_grads=True)
        results.extend(grads)
    return results


@pytest.mark.parametrize("name", sorted(UNARY))
def test_third_derivative_unary(name: str) -> None:
    low, high = UNARY[name] or (-1.5, 1.5)
    arr = np.random.default_rng(0).uniform(low, high, size=(5,))
    t = third_derivatives(torch, lambda x: getattr(torch, name)(x), [arr])
    e = third_derivatives(ember, lambda x: getattr(ember, name)(x), [arr])
    for i, (a, b) in enumerate(zip(e, t)):
        assert_same(a, b, what=f"derivative {i + 1}", rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_third_derivative_binary(name: str) -> None:
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(-1.5, 1.5, size=(4,)), rng.uniform(-1.5, 1.5, size=(4,))]
    t = third_derivatives(torch, BINARY[name], arrays)
    e = third_derivatives(ember, BINARY[name], arrays)
    for i, (a, b) in enumerate(zip(e, t)):
        assert_same(a, b, what=f"derivative {i // 2 + 1} of input {i % 2}", rtol=1e-9,
                    atol=1e-9)


@pytest.mark.parametrize("name, fn", [
    ("prod", lambda L, x: x.prod()),
    ("prod_dim", lambda L, x: (x.prod(1) * L.tensor([1.0, -2.0], dtype=L.float64)).sum()),
    ("prod_dim0", lambda L, x: x.prod(0, keepdim=True).sum()),
    ("cumprod", lambda L, x: (x.cumprod(1) * L.tensor([1.0, -2.0, 3.0, 0.5],
                                                     dtype=L.float64)).sum()),
    ("cumprod_dim0", lambda L, x: x.cumprod(0).sum()),
])
def test_derivatives_of_products_over_zeros_to_third_order(name: str, fn) -> None:
    """prod and cumprod take the zero-safe gradient path when the input holds zeros; that
    path must be differentiable again, as torch's is."""
    data = [[2.0, 0.0, 3.0, 0.5], [1.0, 0.5, 0.0, 0.0]]
    out = []
    for L in (torch, ember):
        x = L.tensor(data, dtype=L.float64, requires_grad=True)
        (g,) = L.autograd.grad(fn(L, x), x, create_graph=True)
        (h,) = L.autograd.grad((g * g).sum(), x, create_graph=True)
        (t,) = L.autograd.grad((h * h.exp()).sum(), x)
        out.append((g.detach(), h.detach(), t))
    for e, t in zip(out[1], out[0]):
        assert_same(e, t, rtol=1e-12, atol=1e-12)
