"""``ember.autograd.functional`` against ``torch.autograd.functional``."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch


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


# ---- errors, strict mode, vectorize and strategy, as torch -------------------------------

def _x(L):
    return L.tensor([1.0, 2.0, 3.0])


def _y(L):
    return L.tensor([0.5, -1.0, 2.0])


ERROR_CASES = {
    "jacobian-strict-constant": lambda L, F: F.jacobian(lambda a: L.ones(2), _x(L), strict=True),
    "jacobian-strict-unused": lambda L, F: F.jacobian(lambda a, b: a * 2, (_x(L), _y(L)),
                                                      strict=True),
    "jacobian-strict-vectorized": lambda L, F: F.jacobian(lambda a: a * 2, _x(L), strict=True,
                                                          vectorize=True),
    "jacobian-forward-not-vectorized": lambda L, F: F.jacobian(lambda a: a * 2, _x(L),
                                                               strategy="forward-mode"),
    "jacobian-forward-strict": lambda L, F: F.jacobian(lambda a: a * 2, _x(L), strict=True,
                                                       strategy="forward-mode", vectorize=True),
    "jacobian-unknown-strategy": lambda L, F: F.jacobian(lambda a: a * 2, _x(L), strategy="x"),
    "jacobian-forward-create-graph": lambda L, F: F.jacobian(
        lambda a: a * 2, _x(L), strategy="forward-mode", vectorize=True, create_graph=True),
    "jacobian-number-input": lambda L, F: F.jacobian(lambda a: a, 3.0),
    "jacobian-list-input": lambda L, F: F.jacobian(lambda a, b: a * b, [_x(L), _y(L)]),
    "jacobian-tuple-with-number": lambda L, F: F.jacobian(lambda a, b: a * b, (_x(L), 3.0)),
    "jacobian-number-output": lambda L, F: F.jacobian(lambda a: 3.0, _x(L)),
    "jacobian-list-output": lambda L, F: F.jacobian(lambda a: [a, a], _x(L)),
    "vjp-strict-constant": lambda L, F: F.vjp(lambda a: L.ones(2), _x(L), L.ones(2),
                                              strict=True),
    "vjp-strict-unused": lambda L, F: F.vjp(lambda a, b: a * 2, (_x(L), _y(L)), L.ones(3),
                                            strict=True),
    "vjp-v-size": lambda L, F: F.vjp(lambda a: a * 2, _x(L), L.ones(2)),
    "vjp-v-entry-size": lambda L, F: F.vjp(lambda a, b: (a * b, a), (_x(L), _y(L)),
                                           (L.ones(3), L.ones(2))),
    "vjp-v-missing": lambda L, F: F.vjp(lambda a: a * 2, _x(L)),
    "vjp-number-output": lambda L, F: F.vjp(lambda a: 3, _x(L), L.ones(3)),
    "jvp-strict-unused": lambda L, F: F.jvp(lambda a, b: a * 2, (_x(L), _y(L)),
                                            (L.ones(3), L.ones(3)), strict=True),
    "jvp-v-length": lambda L, F: F.jvp(lambda a, b: a * b, (_x(L), _y(L)), (L.ones(3),)),
    "jvp-v-missing": lambda L, F: F.jvp(lambda a: a * 2, _x(L)),
    "jvp-list-input": lambda L, F: F.jvp(lambda a, b: a * b, [_x(L), _y(L)], L.ones(3)),
    "vhp-strict-linear": lambda L, F: F.vhp(lambda a: a.sum(), _x(L), L.ones(3), strict=True),
    "vhp-not-scalar": lambda L, F: F.vhp(lambda a: a, _x(L), L.ones(3)),
    "vhp-two-outputs": lambda L, F: F.vhp(lambda a: (a.sum(), a.sum()), _x(L), L.ones(3)),
    "vhp-v-missing": lambda L, F: F.vhp(lambda a: a.pow(3).sum(), _x(L)),
    "hvp-strict-linear": lambda L, F: F.hvp(lambda a: a.sum(), _x(L), L.ones(3), strict=True),
    "hvp-not-scalar": lambda L, F: F.hvp(lambda a: a, _x(L), L.ones(3)),
    "hvp-v-entry-size": lambda L, F: F.hvp(lambda a, b: (a * b).sum(), (_x(L), _y(L)),
                                           (L.ones(3), L.ones(2))),
    "hessian-strict-linear": lambda L, F: F.hessian(lambda a: a.sum(), _x(L), strict=True),
    "hessian-strict-unused": lambda L, F: F.hessian(lambda a, b: (a * a).sum(),
                                                    (_x(L), _y(L)), strict=True),
    "hessian-strict-constant": lambda L, F: F.hessian(lambda a: L.ones(()), _x(L),
                                                      strict=True),
    "hessian-two-outputs": lambda L, F: F.hessian(lambda a: (a.sum(), a.sum()), _x(L)),
    "hessian-not-scalar": lambda L, F: F.hessian(lambda a: a, _x(L)),
    "hessian-forward-not-vectorized": lambda L, F: F.hessian(
        lambda a: a.pow(3).sum(), _x(L), outer_jacobian_strategy="forward-mode"),
    "hessian-unknown-strategy": lambda L, F: F.hessian(lambda a: a.pow(3).sum(), _x(L),
                                                       outer_jacobian_strategy="x"),
    "hessian-strict-vectorized": lambda L, F: F.hessian(lambda a: a.pow(3).sum(), _x(L),
                                                        strict=True, vectorize=True),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch(name: str) -> None:
    check_raises_like(lambda L: ERROR_CASES[name](L, L.autograd.functional))


RESULT_CASES = {
    "jacobian-vectorized": lambda L, F: F.jacobian(lambda a, b: (a * b, (a + b).exp()),
                                                   (_x(L), _y(L)), vectorize=True),
    "jacobian-vectorized-unused": lambda L, F: F.jacobian(lambda a, b: a * 2, (_x(L), _y(L)),
                                                          vectorize=True),
    "jacobian-vectorized-constant": lambda L, F: F.jacobian(lambda a: L.ones(2), _x(L),
                                                            vectorize=True),
    "jacobian-vectorized-create-graph": lambda L, F: F.jacobian(
        lambda a: a.exp(), _x(L).requires_grad_(), vectorize=True, create_graph=True),
    "jacobian-forward": lambda L, F: F.jacobian(lambda a: a.exp() * a.sum(), _x(L),
                                                vectorize=True, strategy="forward-mode"),
    "jacobian-forward-tuples": lambda L, F: F.jacobian(
        lambda a, b: (a * b, a + b), (_x(L), _y(L)), vectorize=True, strategy="forward-mode"),
    "jacobian-forward-tuple-input": lambda L, F: F.jacobian(
        lambda a, b: a * b, (_x(L), _y(L)), vectorize=True, strategy="forward-mode"),
    "jacobian-forward-tuple-output": lambda L, F: F.jacobian(
        lambda a: (a, a * 2), _x(L), vectorize=True, strategy="forward-mode"),
    "jacobian-forward-unused": lambda L, F: F.jacobian(
        lambda a, b: a * 2, (_x(L), _y(L)), vectorize=True, strategy="forward-mode"),
    "jacobian-scalar": lambda L, F: F.jacobian(lambda a: a.sum() * a, L.tensor(2.0)),
    "hessian-vectorized": lambda L, F: F.hessian(lambda a, b: (a * b).pow(3).sum(),
                                                 (_x(L), _y(L)), vectorize=True),
    "hessian-forward": lambda L, F: F.hessian(
        lambda a, b: (a * b).pow(3).sum(), (_x(L), _y(L)), vectorize=True,
        outer_jacobian_strategy="forward-mode"),
    "hessian-create-graph": lambda L, F: F.hessian(lambda a: a.pow(3).sum(), _x(L),
                                                   create_graph=True),
    "jvp-strict-linear": lambda L, F: F.jvp(lambda a: a * 2, _x(L), L.ones(3), strict=True),
    "vjp-v-scalar-default": lambda L, F: F.vjp(lambda a: a * 2, L.tensor(2.0)),
    "hvp-create-graph": lambda L, F: F.hvp(lambda a: a.pow(3).sum(), _x(L), L.ones(3),
                                           create_graph=True),
}


def _structure(value, tensors: list):
    """Containers' types and every tensor's shape and requires_grad; the tensors go to
    ``tensors``."""
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_structure(v, tensors) for v in value])
    tensors.append(value.detach())
    return (tuple(value.shape), value.requires_grad)


@pytest.mark.parametrize("name", sorted(RESULT_CASES))
def test_results_match_torch(name: str) -> None:
    # the same containers (torch's forward-mode Jacobians are lists), requires_grad and
    # values
    tensors = {torch: [], ember: []}
    got = [_structure(RESULT_CASES[name](L, L.autograd.functional), tensors[L])
           for L in (torch, ember)]
    assert got[1] == got[0]
    for e, t in zip(tensors[ember], tensors[torch]):
        assert_same(e, t)
