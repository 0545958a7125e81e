"""``ember.func.vmap`` against ``torch.func.vmap``: per-sample gradients of an MLP, the op
families with batching rules, in_dims/out_dims, the per-sample fallback, and errors."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 4, 3))
Y = RNG.normal(size=(6, 3))


def both(fn):
    out = []
    for lib in (torch, ember):
        out.append(fn(lib, importlib.import_module(lib.__name__ + ".func")))
    return out


def compare(t, e) -> None:
    if isinstance(t, tuple):
        assert isinstance(e, tuple) and len(e) == len(t)
        for a, b in zip(t, e):
            compare(a, b)
    else:
        assert_same(e, t, rtol=1e-9, atol=1e-9)


CASES = {
    "pointwise": lambda L, F: F.vmap(lambda a, b: (a.sin() * b).exp() + 1)(
        L.tensor(X[:, 0]), L.tensor(Y)),
    "broadcast-unbatched": lambda L, F: F.vmap(lambda a, b: a * b, in_dims=(0, None))(
        L.tensor(X), L.tensor(Y[0])),
    "reductions": lambda L, F: F.vmap(lambda a: (a.sum(), a.mean(0), a.sum(-1, keepdim=True)))(
        L.tensor(X)),
    "shapes": lambda L, F: F.vmap(lambda a: (a.t(), a.reshape(-1), a.unsqueeze(0).squeeze(0),
                                             a.permute(1, 0), a[1:, ::2], a.expand(2, 4, 3)))(
        L.tensor(X)),
    "matmul": lambda L, F: F.vmap(lambda a, v: (a @ v, a.t() @ a, v @ v))(
        L.tensor(X), L.tensor(Y)),
    "in-dims-1": lambda L, F: F.vmap(lambda a: a.sum(0), in_dims=1)(L.tensor(X)),
    "out-dims-1": lambda L, F: F.vmap(lambda a: a * 2, out_dims=1)(L.tensor(X)),
    "unbatched-output": lambda L, F: F.vmap(lambda a: L.ones(2))(L.tensor(Y)),
    "fallback": lambda L, F: F.vmap(lambda a: a.cumsum(0) * a.logsumexp(1, keepdim=True))(
        L.tensor(X)),
    "nested": lambda L, F: F.vmap(F.vmap(lambda r: (r.sin() * 2).sum()))(L.tensor(X)),
    "nested-outer-closure": lambda L, F: F.vmap(
        lambda x: F.vmap(lambda y: (x * y).sum(-1))(L.tensor(Y)))(L.tensor(X)),
    "nested-in-dims": lambda L, F: F.vmap(
        lambda a: F.vmap(lambda c: c @ c, in_dims=1)(a))(L.tensor(X)),
    "nested-out-dims": lambda L, F: F.vmap(
        F.vmap(lambda r: r.t() @ r.reshape(3, 1)), in_dims=1, out_dims=1)(L.tensor(X)),
    "nested-self": lambda L, F: F.vmap(
        lambda a: F.vmap(lambda b: a * b, out_dims=1)(a))(L.tensor(Y)),
    "jacrev": lambda L, F: F.vmap(F.jacrev(lambda v: (v.exp() * v.sum()).tanh()))(
        L.tensor(Y[:3])),
    "hessian": lambda L, F: F.vmap(F.hessian(lambda v: (v ** 3).sum() * v[0]))(
        L.tensor(Y[:2])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_matches_torch(name: str) -> None:
    t, e = both(CASES[name])
    compare(t, e)


def _mlp(L):
    rng = np.random.default_rng(1)
    w1 = L.tensor(rng.normal(size=(10, 16)) * 0.3)
    b1 = L.tensor(rng.normal(size=(16,)) * 0.1)
    w2 = L.tensor(rng.normal(size=(16, 3)) * 0.3)
    x = L.tensor(rng.normal(size=(64, 10)))
    y = L.tensor(rng.normal(size=(64, 3)))
    return w1, b1, w2, x, y


def _loss(w1, b1, w2, x, y):
    h = (x @ w1 + b1).tanh()
    return ((h @ w2 - y) ** 2).mean()


def test_per_sample_gradients_match_torch_and_the_loop() -> None:
    def fn(L, F):
        w1, b1, w2, x, y = _mlp(L)
        batched = F.vmap(F.grad(_loss, argnums=(0, 1, 2)), in_dims=(None, None, None, 0, 0))(
            w1, b1, w2, x, y)
        loop = [F.grad(_loss, argnums=(0, 1, 2))(w1, b1, w2, x[i], y[i]) for i in range(64)]
        return batched, tuple(L.stack([g[k] for g in loop]) for k in range(3))
    (t_vmap, t_loop), (e_vmap, e_loop) = both(fn)
    compare(t_vmap, e_vmap)
    compare(t_loop, e_loop)
    compare(e_loop, e_vmap)


def test_inplace_inside_vmap_is_refused_not_wrong() -> None:
    for fn in (lambda a: a.mul_(2), lambda a: a.zero_(), lambda a: (a * 1).add_(1)):
        with pytest.raises(RuntimeError, match="inside vmap"):
            ember.func.vmap(fn)(ember.tensor(X))


def test_ops_computing_from_values_are_refused_not_wrong() -> None:
    # sort's public function computes the order from the values: inside ember's vmap that
    # would be the first sample's, so it is refused (torch batches it; ember does not yet)
    with pytest.raises(RuntimeError, match="vmap over"):
        ember.func.vmap(lambda a: a.sort(1).values)(ember.tensor(X))


@pytest.mark.parametrize("fn", [
    lambda L, F: F.vmap(lambda a: a.sum().item())(L.ones(3, 2)),
    lambda L, F: F.vmap(lambda a: a if a.sum() > 0 else -a)(L.ones(3, 2)),
    lambda L, F: F.vmap(lambda a, b: a + b)(L.ones(3, 2), L.ones(4, 2)),
    lambda L, F: F.vmap(lambda a: a)(1.0),
    lambda L, F: F.vmap(lambda a: a, in_dims=(0, 0))(L.ones(3)),
], ids=["item", "control-flow", "sizes", "non-tensor", "in-dims-structure"])
def test_vmap_errors(fn) -> None:
    t_err = e_err = None
    try:
        fn(torch, torch.func)
    except Exception as exc:  # noqa: BLE001 - whatever torch raises is the reference
        t_err = exc
    try:
        fn(ember, ember.func)
    except Exception as exc:  # noqa: BLE001
        e_err = exc
    assert t_err is not None and type(e_err) is type(t_err)
