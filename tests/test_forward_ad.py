"""Forward-mode AD (``ember.autograd.forward_ad``) against torch's: tangents of every
pointwise op, reductions, shapes and products, dual-tensor printing and errors."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as efw
from tests.helpers import assert_same, check_raises_like, torch
from tests.test_higher_order import BINARY, UNARY

tfw = torch.autograd.forward_ad

OTHER = {
    "sum": lambda a: a.sum(), "mean_dim": lambda a: a.mean(0), "matmul": lambda a: a @ a.T,
    "reshape": lambda a: a.reshape(-1) * 2, "transpose": lambda a: a.t().exp(),
    "getitem": lambda a: a[1:, ::2], "norm": lambda a: a.norm(), "max": lambda a: a.amax(1),
    "logsumexp": lambda a: a.logsumexp(1), "cumsum": lambda a: a.cumsum(1),
    "clamp": lambda a: a.clamp(-0.5, 0.5), "where": lambda a: ember_or_torch(a).where(
        a > 0, a, a * a), "softplus_like": lambda a: (1 + a.exp()).log(),
    "inplace": lambda a: a.clone().mul_(3).sin_(), "stack": lambda a: ember_or_torch(a).stack(
        [a, a * 2], 1),
}


def ember_or_torch(t):
    return ember if isinstance(t, ember.Tensor) else torch


def tangent(L, fw, fn, arrays, tangents):
    with fw.dual_level():
        duals = [fw.make_dual(L.tensor(a), L.tensor(t)) for a, t in zip(arrays, tangents)]
        out = fn(*duals)
        primal, tan = fw.unpack_dual(out)
        return primal, tan


def compare(fn, arrays) -> None:
    rng = np.random.default_rng(7)
    tangents = [rng.normal(size=np.shape(a)) for a in arrays]
    t = tangent(torch, tfw, fn(torch), arrays, tangents)
    e = tangent(ember, efw, fn(ember), arrays, tangents)
    assert_same(e[0], t[0], rtol=1e-9, atol=1e-9, what="primal")
    assert_same(e[1], t[1], rtol=1e-9, atol=1e-9, what="tangent")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_tangents(name: str) -> None:
    low, high = UNARY[name] or (-1.5, 1.5)
    arr = np.random.default_rng(0).uniform(low, high, size=(5,))
    compare(lambda L: getattr(L, name), [arr])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_tangents(name: str) -> None:
    rng = np.random.default_rng(1)
    compare(lambda L: BINARY[name], [rng.uniform(-1.5, 1.5, size=(4,)),
                                     rng.uniform(-1.5, 1.5, size=(4,))])


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_tangents(name: str) -> None:
    arr = np.random.default_rng(2).uniform(-1.5, 1.5, size=(3, 4))
    compare(lambda L: OTHER[name], [arr])


def test_dual_printing_and_unpacking() -> None:
    texts = []
    for L, fw in ((torch, tfw), (ember, efw)):
        with fw.dual_level():
            d = fw.make_dual(L.tensor([1.0, 2.0], dtype=L.float64),
                             L.tensor([0.5, -1.0], dtype=L.float64))
            p, t = fw.unpack_dual(d * 2)
            texts.append((repr(d), repr(p), repr(t), fw.unpack_dual(L.ones(2)).tangent))
        texts.append(fw.unpack_dual(d).tangent)  # the level is gone
    assert texts[2] == texts[0] and texts[3] is None and texts[1] is None


@pytest.mark.parametrize("fn", [
    lambda L: L.autograd.forward_ad.make_dual(L.ones(2), L.ones(2)),
], ids=["no-level"])
def test_errors_match_torch(fn) -> None:
    check_raises_like(fn)


def test_tangent_shape_error() -> None:
    for L, fw in ((torch, tfw), (ember, efw)):
        with fw.dual_level(), pytest.raises(RuntimeError, match="different size"):
            fw.make_dual(L.ones(2), L.ones(3))
