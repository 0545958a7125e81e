"""``ember.func`` against ``torch.func``: one script on both libraries, identical output."""
from __future__ import annotations

import contextlib
import importlib
import io

import pytest

import ember
from tests.helpers import torch


def scenario(L, F) -> None:
    def f(x, y):
        return (x.sin() * y).sum()

    x = L.tensor([1.0, 2.0])
    y = L.tensor([3.0, 4.0])
    print(F.grad(f)(x, y), F.grad(f, argnums=(0, 1))(x, y), F.grad_and_value(f)(x, y))
    print(F.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(x))
    out, fn = F.vjp(lambda x: x.exp(), x)
    print(out, fn(L.ones(2)))
    print(F.jvp(lambda x: x.exp(), (x,), (L.ones(2),)))
    print(F.jacrev(lambda x: x.exp())(x), F.jacfwd(lambda x: x.exp())(x))
    print(F.hessian(lambda x: (x ** 3).sum())(x))
    print(F.grad(F.grad(lambda t: t.sin().sum().sin()))(L.tensor(0.5)))
    print(F.jacrev(lambda a, b: a @ b, argnums=(0, 1))(L.ones(2, 3), L.ones(3)))
    w = L.tensor([0.5, -1.0], requires_grad=True)
    g = F.grad(lambda v: (v * w).sum() ** 2)(x)
    print(g)
    g.sum().backward()
    print(w.grad)
    try:
        F.grad(lambda t: t)(x)
    except RuntimeError as exc:
        print(exc)


def test_func_transforms_like_torch() -> None:
    outputs = []
    for lib in (torch, ember):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            scenario(lib, importlib.import_module(lib.__name__ + ".func"))
        outputs.append(buffer.getvalue())
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize("lib", ["torch", "ember"])
def test_per_sample_gradients_by_loop_match(lib: str) -> None:
    L = torch if lib == "torch" else ember
    F = importlib.import_module(lib + ".func")
    w = L.tensor([[0.5, -1.0], [2.0, 0.3]])
    xs = L.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])

    def loss(weight, x):
        return (x @ weight).tanh().sum()

    per_sample = [F.grad(loss)(w, x) for x in xs]
    total = F.grad(lambda weight: sum(loss(weight, x) for x in xs))(w)
    assert (sum(per_sample) - total).abs().max().item() < 1e-6
