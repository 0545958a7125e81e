"""``ember.autograd.functional`` against ``torch.autograd.functional``."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch


def _inputs(lib, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(lib.tensor(rng.uniform(0.5, 1.5, size=s), dtype=lib.float64) for s in shapes)


def _flatten(x):
    if isinstance(x, tuple):
        out = []
        for item in x:
            out.extend(_flatten(item))
        return out
    return [x]


def _compare(e, t) -> None:
    assert type(e) is type(t) or (isinstance(e, ember.Tensor) and isinstance(t, torch.Tensor))
    fe, ft = _flatten(e), _flatten(t)
    assert len(fe) == len(ft)
    for a, b in zip(fe, ft):
        assert_same(a, b)


FUNCS = {
    "one-in-one-out": (lambda L: (lambda x: (x.sin() * x).sum(-1)), [(2, 3)]),
    "scalar": (lambda L: (lambda x: (x.exp() * x.sum()).sum()), [(3,)]),
    "two-in": (lambda L: (lambda x, y: x @ y), [(2, 3), (3,)]),
    "two-out": (lambda L: (lambda x: (x * 2, x.log().sum())), [(4,)]),
    "unused-input": (lambda L: (lambda x, y: x * 3), [(2,), (2,)]),
}


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian(name: str, create_graph: bool) -> None:
    make, shapes = FUNCS[name]
    results = []
    for lib in (torch, ember):
        xs = _inputs(lib, shapes)
        arg = xs if len(xs) > 1 else xs[0]
        results.append(lib.autograd.functional.jacobian(make(lib), arg,
                                                        create_graph=create_graph))
    _compare(results[1], results[0])


@pytest.mark.parametrize("name", ["one-in-one-out", "two-in", "two-out", "unused-input"])
def test_vjp_and_jvp(name: str) -> None:
    make, shapes = FUNCS[name]
    for which in ("vjp", "jvp"):
        results = []
        for lib in (torch, ember):
            xs = _inputs(lib, shapes)
            f = make(lib)
            outs = f(*xs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            if which == "vjp":
                v = _inputs(lib, [tuple(o.shape) for o in outs], seed=1)
            else:
                v = _inputs(lib, shapes, seed=1)
            arg = xs if len(xs) > 1 else xs[0]
            varg = v if len(v) > 1 else v[0]
            results.append(getattr(lib.autograd.functional, which)(f, arg, varg))
        _compare(results[1], results[0])


@pytest.mark.parametrize("which", ["hessian", "hvp", "vhp"])
def test_second_order(which: str) -> None:
    results = []
    for lib in (torch, ember):
        w1, w2 = _inputs(lib, [(3, 4), (4,)])
        x = _inputs(lib, [(5, 3)], seed=2)[0]

        def mlp(a, b, x=x):
            return ((x @ a).tanh() @ b).pow(2).mean()

        if which == "hessian":
            results.append(lib.autograd.functional.hessian(mlp, (w1, w2)))
        else:
            v = _inputs(lib, [(3, 4), (4,)], seed=3)
            results.append(getattr(lib.autograd.functional, which)(mlp, (w1, w2), v))
    _compare(results[1], results[0])


def test_strict_mode_error() -> None:
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="independent of input 1"):
            lib.autograd.functional.vjp(lambda x, y: x * 2, (lib.ones(2), lib.ones(2)),
                                        lib.ones(2), strict=True)
