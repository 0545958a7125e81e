"""``ember.func.vmap`` against ``torch.func.vmap``: per-sample gradients of an MLP, the op
families with batching rules, in_dims/out_dims, the per-sample fallback, and errors."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

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


INPLACE_CASES = {
    "add_": lambda L, a, b: a.clone().add_(b[0]),
    "mul_": lambda L, a, b: a.clone().mul_(2),
    "zero_": lambda L, a, b: a.clone().zero_(),
    "setitem": lambda L, a, b: _set(a.clone(), 0, L.tensor(Y[0])),
    "setitem-batched-value": lambda L, a, b: _set(a.clone(), (slice(None), 1), b[:, 1]),
    "write-through-view": lambda L, a, b: (lambda c: (c[:, 1].mul_(3), c)[1])(a.clone()),
    "mapped-input": lambda L, a, b: (a.add_(1), a)[1],
}


def _set(t, key, value):
    t[key] = value
    return t


@pytest.mark.parametrize("name", sorted(INPLACE_CASES))
def test_inplace_on_batched_tensors_matches_torch(name: str) -> None:
    def fn(L, F):
        x = L.tensor(X)
        out = F.vmap(lambda a, b: INPLACE_CASES[name](L, a, b))(x, L.tensor(X) * 2)
        return out, x  # the mapped input is written through, as in torch
    t, e = both(fn)
    compare(t, e)


def test_per_sample_gradients_through_inplace_ops_match_torch() -> None:
    t, e = both(lambda L, F: F.vmap(F.grad(lambda a: (a * 1).mul_(a).sin().sum()))(
        L.tensor(X)))
    compare(t, e)


@pytest.mark.parametrize("fn", [
    lambda L, a: L.tensor(X[0]).mul_(a),
    lambda L, a: L.tensor(X[0]).copy_(a),
    lambda L, a: _set(L.zeros(4, 3, dtype=L.float64), 0, a[0]),
], ids=["mul_", "copy_", "setitem"])
def test_inplace_on_unbatched_tensor_with_batched_argument_raises_like_torch(fn) -> None:
    from tests.helpers import check_raises_like

    check_raises_like(lambda L: importlib.import_module(L.__name__ + ".func").vmap(
        lambda a: fn(L, a))(L.tensor(X)))


IDX = RNG.integers(0, 3, size=(6, 4, 2))
W = RNG.normal(size=(4, 3))

# Ops whose public function computes arrays from the values (an order, an index tensor's
# entries): every sample must use its own.
VALUE_CASES = {
    "sort": lambda L, a, i: tuple(a.sort(1)) + tuple(a.sort(0, descending=True)),
    "argsort": lambda L, a, i: a.argsort(-1),
    "topk": lambda L, a, i: tuple(a.topk(2, 0)),
    "max-min": lambda L, a, i: tuple(a.max(1)) + tuple(a.min(0, keepdim=True)),
    "median-kthvalue": lambda L, a, i: tuple(a.median(1)) + tuple(a.kthvalue(2, 0)),
    "argmax": lambda L, a, i: (a.argmax(), a.argmax(1), a.argmin(0, keepdim=True)),
    "cummax-cummin": lambda L, a, i: tuple(a.cummax(0)) + tuple(a.cummin(1)),
    "0-d": lambda L, a, i: tuple(a[0, 0].max(0)) + tuple(a[0, 0].sort()),
    "gather": lambda L, a, i: (a.gather(1, i), a.gather(1, L.tensor(IDX[0])),
                               L.tensor(X[0]).gather(1, i)),
    "take_along_dim": lambda L, a, i: L.take_along_dim(a, i, 1),
    "index_select": lambda L, a, i: (a.index_select(0, i[:, 0]),
                                     a.index_select(1, L.tensor([2, 0])),
                                     L.tensor(X[0]).index_select(1, i[:, 1])),
    "getitem": lambda L, a, i: (a[i[:, 0]], a[:, i[:, 0]], a[i[:2, 0], 1:],
                                a[L.tensor([0, 2]), :, None], L.tensor(X[0])[i[:, 0], i[:, 1]],
                                a[L.tensor([True, False, True, True])]),
    "scatter": lambda L, a, i: (a.scatter(1, i, a[:, :2] * 2), a.scatter_add(1, i, a[:, :2]),
                                L.zeros(4, 3, dtype=L.float64).scatter(1, i, 1.5)),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_ops_computing_from_values_match_torch(name: str) -> None:
    t, e = both(lambda L, F: F.vmap(lambda a, i: VALUE_CASES[name](L, a, i))(
        L.tensor(X), L.tensor(IDX)))
    compare(t, e)


GRAD_CASES = {
    "sort": lambda L, a, i: a.sort(1).values * 1.5,
    "topk": lambda L, a, i: a.topk(2, 1).values.exp(),
    "max": lambda L, a, i: a.max(1, keepdim=True).values.sin(),
    "median": lambda L, a, i: a.median(1, keepdim=True).values ** 2,
    "kthvalue": lambda L, a, i: a.kthvalue(2, 1, keepdim=True).values ** 2,
    "cummax": lambda L, a, i: a.cummax(0).values ** 2,
    "gather": lambda L, a, i: a.gather(1, i) ** 2,
    "index_select": lambda L, a, i: a.index_select(0, i[:, 0]) ** 2,
    "getitem": lambda L, a, i: a[i[:, 0]] ** 2 + a[:, i[:3, 1]],
    "scatter": lambda L, a, i: a.scatter(1, i, a[:, :2] * 2) ** 2,
    "scatter_add": lambda L, a, i: a.scatter_add(1, i, a[:, :2] * 2) ** 2,
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_per_sample_gradients_through_value_ops_match_torch(name: str) -> None:
    def loss(L):
        def f(a, i, w):
            out = GRAD_CASES[name](L, a, i)
            return (out * w[:, :out.shape[1]]).sum()
        return f
    t, e = both(lambda L, F: F.vmap(F.grad(loss(L), argnums=(0, 2)), in_dims=(0, 0, None))(
        L.tensor(X), L.tensor(IDX), L.tensor(W)))
    compare(t, e)


NESTED_VALUE_CASES = {
    "sort": lambda L, F: F.vmap(F.vmap(lambda r: r.sort().values * L.arange(3)))(L.tensor(X)),
    "gather": lambda L, F: F.vmap(lambda a, i: F.vmap(lambda r, j: r.gather(0, j))(a, i))(
        L.tensor(X), L.tensor(IDX)),
    "getitem-outer-index": lambda L, F: F.vmap(
        lambda i: F.vmap(lambda r: r[i])(L.tensor(X)))(L.tensor(IDX[:, 0, :])),
}


@pytest.mark.parametrize("name", sorted(NESTED_VALUE_CASES))
def test_nested_vmap_over_value_ops_matches_torch(name: str) -> None:
    t, e = both(NESTED_VALUE_CASES[name])
    compare(t, e)


@pytest.mark.parametrize("fn", [
    lambda L, a: L.unique(a),
    lambda L, a: L.unique(a, dim=0),
    lambda L, a: L.nonzero(a),
    lambda L, a: a.masked_select(a > 0),
    lambda L, a: a[a > 0],
    lambda L, a: a.nonzero(as_tuple=True),
    lambda L, a: L.where(a > 0),
], ids=["unique", "unique-dim", "nonzero", "masked_select", "bool-mask", "nonzero-as-tuple",
        "where-condition"])
def test_dynamic_shapes_are_refused_like_torch(fn) -> None:
    from tests.helpers import check_raises_like

    check_raises_like(lambda L: importlib.import_module(L.__name__ + ".func").vmap(
        lambda a: fn(L, a))(L.tensor(X)))


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


V = RNG.normal(size=(3,))


def _through(f, in_dims=0, out_dims=0, nested=False):
    """vmap(f) differentiated: the outputs and the gradients of the mapped input and of the
    tensors f closes over (a leaf and a non-leaf), for a random cotangent."""
    def fn(L, F):
        x = L.tensor(X, requires_grad=True)
        w = L.tensor(W, requires_grad=True)
        v = L.tensor(V, requires_grad=True)
        w2 = w * 2
        mapped = F.vmap(lambda a: f(L, a, w2, v), in_dims=in_dims, out_dims=out_dims)
        if nested:
            mapped = F.vmap(mapped)
        ys = mapped(x)
        ys = ys if isinstance(ys, tuple) else (ys,)
        rng = np.random.default_rng(3)
        cots = [L.tensor(rng.normal(size=tuple(y.shape))) for y in ys]
        grads = L.autograd.grad(ys, (x, w, v), cots, allow_unused=True, materialize_grads=True)
        return tuple(ys) + tuple(grads)
    return fn


THROUGH_CASES = {
    "pointwise": _through(lambda L, a, w, v: (a * w).sin() + v),
    "matmul": _through(lambda L, a, w, v: a @ v + (a.t() @ w).sum()),
    "in-dims-1": _through(lambda L, a, w, v: a.exp() * v[:2].sum(), in_dims=1),
    "out-dims-1": _through(lambda L, a, w, v: (a * w, a.sum(0)), out_dims=1),
    "sort": _through(lambda L, a, w, v: a.sort(1).values * w),
    "per-sample-fallback": _through(lambda L, a, w, v: a.cumsum(0).gather(
        1, L.tensor(IDX[0])) * a.logsumexp(1, keepdim=True)),
    "nested": _through(lambda L, a, w, v: (a * v).tanh(), nested=True),
    "grad-of-vmap": lambda L, F: F.grad(lambda x: F.vmap(lambda a: (a ** 3).sum())(x).sum())(
        L.tensor(X)),
}


@pytest.mark.parametrize("name", sorted(THROUGH_CASES))
def test_differentiating_through_vmap_matches_torch(name: str) -> None:
    t, e = both(THROUGH_CASES[name])
    compare(t, e)


def test_backward_through_vmap_accumulates_like_torch() -> None:
    def fn(L, F):
        x = L.tensor(X, requires_grad=True)
        w = L.tensor(W, requires_grad=True)
        y = F.vmap(lambda a: (a * w).sin())(x)
        y.sum().backward()
        return y.grad_fn.name(), x.grad, w.grad
    (t_name, *t), (e_name, *e) = both(fn)
    assert e_name == t_name
    compare(tuple(t), tuple(e))


def _twice(f, in_dims=0, out_dims=0, nested=False, third=False):
    """vmap(f) differentiated twice (three times with ``third``) with ``create_graph``: the
    second derivatives with respect to the mapped input, the tensors f closes over (a leaf
    and a non-leaf) and the first backward's cotangents, for random cotangents."""
    def fn(L, F):
        x = L.tensor(X, requires_grad=True)
        w = L.tensor(W, requires_grad=True)
        v = L.tensor(V, requires_grad=True)
        w2 = w * 2
        mapped = F.vmap(lambda a: f(L, a, w2, v), in_dims=in_dims, out_dims=out_dims)
        if nested:
            mapped = F.vmap(mapped)
        ys = mapped(x)
        ys = ys if isinstance(ys, tuple) else (ys,)
        rng = np.random.default_rng(5)
        cots = [L.tensor(rng.normal(size=tuple(y.shape)), requires_grad=True) for y in ys]
        leaves = (x, w, v)
        first = L.autograd.grad(ys, leaves, cots, create_graph=True, allow_unused=True,
                                materialize_grads=True)
        total = sum((g * L.tensor(rng.normal(size=tuple(g.shape)))).sum() for g in first)
        second = L.autograd.grad(total, leaves + tuple(cots), create_graph=third,
                                 allow_unused=True, materialize_grads=True)
        if not third:
            return tuple(first) + tuple(second)
        total = sum((g.sin()).sum() for g in second[:3])
        return tuple(second) + L.autograd.grad(total, leaves, allow_unused=True,
                                               materialize_grads=True)
    return fn


TWICE_CASES = {
    "pointwise": _twice(lambda L, a, w, v: (a * w).sin() + v),
    "matmul": _twice(lambda L, a, w, v: (a @ v).tanh() + ((a.t() @ w) ** 2).sum()),
    "in-dims-1": _twice(lambda L, a, w, v: a.exp() * (v[:2] ** 2).sum(), in_dims=1),
    "out-dims-1": _twice(lambda L, a, w, v: ((a * w).cos(), (a ** 3).sum(0)), out_dims=1),
    "unbatched-output": _twice(lambda L, a, w, v: ((a * w).sin(), (v ** 3).sum())),
    "per-sample-fallback": _twice(lambda L, a, w, v: a.cumsum(0).sin() * (a * w).logsumexp(
        1, keepdim=True)),
    "nested": _twice(lambda L, a, w, v: (a * v).tanh() * a, nested=True),
    "third-order": _twice(lambda L, a, w, v: (a * w).sin() * (a @ v).unsqueeze(1),
                          third=True),
    "grad-of-grad": lambda L, F: F.grad(lambda x: (F.grad(lambda x: F.vmap(
        lambda a: (a.sin() * a).sum())(x).sum())(x) ** 2).sum())(L.tensor(X)),
    "grad-of-grad-closure": lambda L, F: F.grad(lambda w: F.grad(lambda x: F.vmap(
        lambda a: ((a * w).tanh() * a).sum())(x).sum())(L.tensor(X)).cos().sum())(
        L.tensor(W)),
    "jacrev-of-jacrev": lambda L, F: F.jacrev(F.jacrev(lambda v: F.vmap(
        lambda a: (a @ v).sin() * v)(L.tensor(X[:, 0]))))(L.tensor(V)),
}


@pytest.mark.parametrize("name", sorted(TWICE_CASES))
def test_higher_order_gradients_through_vmap_match_torch(name: str) -> None:
    t, e = both(TWICE_CASES[name])
    compare(t, e)


def test_gradgradcheck_through_vmap() -> None:
    x = ember.tensor(X[:3, :2], requires_grad=True)
    w = ember.tensor(W[:2], requires_grad=True)
    f = ember.func.vmap(lambda a: (a * w).sin() @ a.t())
    assert ember.autograd.gradgradcheck(lambda x, w: f(x), (x, w), eps=1e-6, atol=1e-5,
                                        rtol=1e-3)


T = RNG.normal(size=X.shape)


def _mapped_sin(L, F):
    return F.vmap(lambda a: (a.sin() * a.sum()).cumsum(0))


def _make_dual(inside_closure: bool):
    """forward_ad.make_dual on vmap's input (or on a tensor func closes over), the tangents
    of several outputs read with unpack_dual."""
    def fn(L, F):
        fa = L.autograd.forward_ad
        with fa.dual_level():
            if inside_closure:
                w = fa.make_dual(L.tensor(W), L.tensor(W[::-1].copy()))
                ys = F.vmap(lambda a: ((a * w).sin(), w.exp()))(L.tensor(X))
            else:
                x = fa.make_dual(L.tensor(X), L.tensor(T))
                ys = F.vmap(lambda a: (a.sin() * a.sum(), a.cumsum(0)))(x)
            return tuple(t for y in ys for t in fa.unpack_dual(y))
    return fn


def _reverse_over_forward(L, F):
    x = L.tensor(X[:3], requires_grad=True)
    t = L.tensor(T[:3], requires_grad=True)
    w = L.tensor(W, requires_grad=True)
    _, tangent = F.jvp(lambda y: F.vmap(lambda a: (a * w).sin() * a)(y), (x,), (t,))
    return L.autograd.grad((tangent * L.tensor(X[:3] ** 2)).sum(), (x, t, w))


def _inplace_on_mapped(L, F):
    def f(x):
        y = x.clone()
        out = F.vmap(lambda a: a.mul_(2).sin())(y)
        return out, y  # y was written through vmap: its tangent is written too
    return F.jvp(f, (L.tensor(Y),), (L.tensor(Y[::-1].copy()),))


FORWARD_CASES = {
    "jvp": lambda L, F: F.jvp(lambda x: _mapped_sin(L, F)(x), (L.tensor(X),),
                              (L.tensor(T),)),
    "jvp-closure": lambda L, F: F.jvp(lambda w: F.vmap(lambda a: ((a * w).tanh(), w.sin()))(
        L.tensor(X)), (L.tensor(W),), (L.tensor(W ** 2),)),
    "jvp-in-out-dims": lambda L, F: F.jvp(lambda x, w: F.vmap(
        lambda a, b: ((a @ a.t()) * b.sum(), a.sum(0)), in_dims=(1, None), out_dims=(1, 0))(
        x, w), (L.tensor(X), L.tensor(V)), (L.tensor(T), L.tensor(V[::-1].copy()))),
    "jvp-nested-vmap": lambda L, F: F.jvp(lambda x: F.vmap(F.vmap(
        lambda r: r.cumsum(0) * r.logsumexp(0), in_dims=1), out_dims=1)(x), (L.tensor(X),),
        (L.tensor(T),)),
    "jvp-of-jvp": lambda L, F: F.jvp(lambda x: F.jvp(lambda y: F.vmap(
        lambda a: a.exp() * a)(y), (x,), (x.cos(),))[1], (L.tensor(X),), (L.tensor(T),)),
    "jacfwd": lambda L, F: F.jacfwd(lambda x: F.vmap(lambda a: a.sin() * a.logsumexp(0))(
        x))(L.tensor(X[:2, :2])),
    "jacfwd-closure": lambda L, F: F.jacfwd(lambda v: F.vmap(
        lambda a: (a @ v).tanh().unsqueeze(1) * a)(L.tensor(X)))(L.tensor(V)),
    "jacfwd-index-ops": lambda L, F: F.jacfwd(lambda x: F.vmap(
        lambda a: a.sort()[0] * a.amax(0) + a[L.tensor([0, 2])].sum() + a.gather(
            0, L.tensor([1, 1, 0])))(x))(L.tensor(Y[:2])),
    "hessian": lambda L, F: F.hessian(lambda v: F.vmap(lambda a: (a * v).sin().sum())(
        L.tensor(X[:, 0])).sum())(L.tensor(V)),
    "hessian-mapped": lambda L, F: F.hessian(lambda x: _mapped_sin(L, F)(x).pow(2).sum())(
        L.tensor(X[:2, :2])),
    "hessian-nested-vmap": lambda L, F: F.hessian(lambda x: F.vmap(F.vmap(
        lambda a: a.sin() * a))(x).sum())(L.tensor(X[:2, :2])),
    "jacfwd-of-hessian": lambda L, F: F.jacfwd(F.hessian(lambda x: F.vmap(
        lambda a: (a.sin() * a.sum()).sum())(x).sum()))(L.tensor(Y[:2, :2])),
    "jacrev-of-jacfwd": lambda L, F: F.jacrev(F.jacfwd(lambda w: F.vmap(
        lambda a: (a * w).sin())(L.tensor(X[:2]))))(L.tensor(W)),
    "reverse-over-forward": _reverse_over_forward,
    "make_dual": _make_dual(False),
    "make_dual-closure": _make_dual(True),
    "inplace-on-mapped-input": _inplace_on_mapped,
    "vmap-of-jvp": lambda L, F: F.vmap(lambda x, t: F.jvp(lambda y: (y.sin() * y).exp(),
                                                          (x,), (t,)))(L.tensor(Y),
                                                                       L.tensor(Y ** 2)),
    "vmap-of-jvp-closure": lambda L, F: F.vmap(lambda x: F.jvp(
        lambda v: (v * x).sin(), (L.tensor(V),), (x,)))(L.tensor(Y)),
    "vmap-of-jacfwd": lambda L, F: F.vmap(F.jacfwd(lambda y: (y.sin() * y.sum()).exp()))(
        L.tensor(Y)),
    "vmap-of-jvp-of-vmap": lambda L, F: F.vmap(lambda x, t: F.jvp(lambda y: F.vmap(
        lambda a: a.exp() * a.sum())(y), (x,), (t,)))(L.tensor(X), L.tensor(T)),
}


@pytest.mark.parametrize("name", sorted(FORWARD_CASES))
def test_forward_mode_through_vmap_matches_torch(name: str) -> None:
    t, e = both(FORWARD_CASES[name])
    compare(t, e)


SRC = RNG.normal(size=(6, 4, 2))
SLOTS = [2, 0]

INDEX_WRITE_CASES = {
    "index_copy": lambda L, F: F.vmap(lambda a, s: a.index_copy(1, L.tensor(SLOTS), s))(
        L.tensor(X), L.tensor(SRC)),
    "index_copy-unbatched-source": lambda L, F: F.vmap(
        lambda a: a.index_copy(1, L.tensor(SLOTS), L.tensor(SRC[0])))(L.tensor(X)),
    "index_fill": lambda L, F: F.vmap(lambda a: a.index_fill(0, L.tensor(SLOTS), -1.5))(
        L.tensor(X)),
    "index_fill-batched-value": lambda L, F: F.vmap(
        lambda a, v: a.index_fill(1, L.tensor(SLOTS), v))(L.tensor(X), L.tensor(X[:, 0, 0])),
    "index_put": lambda L, F: F.vmap(lambda a, s: a.index_put(
        (L.tensor(SLOTS), L.tensor([1, 2])), s[0]))(L.tensor(X), L.tensor(SRC)),
    "index_put-accumulate": lambda L, F: F.vmap(lambda a: a.index_put(
        (L.tensor([1, 1]),), L.tensor(X[0, :1]), accumulate=True))(L.tensor(X)),
    "setitem": lambda L, F: F.vmap(_setitem(L))(L.tensor(X), L.tensor(SRC)),
    "setitem-0d": lambda L, F: F.vmap(_setitem_0d, in_dims=(0, None))(L.tensor(Y),
                                                                      L.tensor(V)),
    "index_copy-grad": lambda L, F: F.vmap(F.grad(lambda a, s: (
        a.index_copy(1, L.tensor(SLOTS), s.sin()) ** 2).sum(), argnums=(0, 1)))(
        L.tensor(X), L.tensor(SRC)),
}


def _setitem(L):
    def f(a, s):
        a = a.clone()
        a[:, L.tensor(SLOTS)] = s
        a[L.tensor([0, 3]), L.tensor([2, 1])] = s[0, 0]
        a[L.tensor([0, 3])] += 1.0
        return a
    return f


def _setitem_0d(a, w):
    # a 0-d view of a batched tensor is written in place: it must be a view, not a copy
    b = a.clone()
    b[0] = w[1]
    b[1].mul_(w[2])
    return b * w


@pytest.mark.parametrize("name", sorted(INDEX_WRITE_CASES))
def test_index_writes_with_unbatched_index_match_torch(name: str) -> None:
    t, e = both(INDEX_WRITE_CASES[name])
    compare(t, e)


FLAT = np.array([[0, 5, -1], [11, 2, 2], [3, 3, 0], [1, 7, 8], [4, 4, 4], [9, 10, 6]])
REDUCE_AT = [[0, 1, 0], [3, 3, 3]]

SHARED_INDEX_CASES = {
    "take": lambda L, F: F.vmap(lambda a: a.take(L.tensor([0, 5, -1])))(L.tensor(X)),
    "take-batched-index": lambda L, F: F.vmap(lambda i: L.tensor(X[0]).take(i))(
        L.tensor(FLAT)),
    "take-both-batched": lambda L, F: F.vmap(lambda a, i: a.take(i))(L.tensor(X),
                                                                     L.tensor(FLAT)),
    "take-grad": lambda L, F: F.vmap(F.grad(lambda a, i: (a.take(i) ** 2).sum()))(
        L.tensor(X), L.tensor(FLAT)),
    "take-grad-shared-index": lambda L, F: F.vmap(F.grad(lambda a: (a.take(L.tensor(
        [0, 5, 5])) ** 2).sum()))(L.tensor(X)),
    "scatter_reduce-sum": lambda L, F: F.vmap(lambda a, s: a.scatter_reduce(
        0, L.tensor(REDUCE_AT), s, "sum"))(L.tensor(X), L.tensor(SRC[:, :, :1].repeat(3, 2))),
    "scatter_reduce-amax-grad": lambda L, F: F.vmap(F.grad(lambda a, s: (a.scatter_reduce(
        1, L.tensor([[0, 1, 0], [1, 1, 1], [2, 2, 0], [0, 0, 0]]), s, "amax",
        include_self=False) ** 2).sum(),
        argnums=(0, 1)))(L.tensor(X), L.tensor(SRC[:, :, :1].repeat(3, 2))),
}


@pytest.mark.parametrize("name", sorted(SHARED_INDEX_CASES))
def test_ops_with_an_unbatched_index_match_torch(name: str) -> None:
    t, e = both(SHARED_INDEX_CASES[name])
    compare(t, e)


def test_per_sample_fallback_refuses_arrays_not_known_to_be_shared() -> None:
    from ember._ops import batching, indexing, registry

    index = np.array([0, 5], dtype=np.intp)
    out = ember.func.vmap(lambda a: registry.run(indexing.TAKE, a, batching.shared(index)))(
        ember.tensor(X))
    assert_same(out, torch.tensor(X).reshape(6, -1)[:, index], rtol=0, atol=0)
    # a plain array may have been computed from a batched tensor's first sample only
    with pytest.raises(RuntimeError, match="vmap over take is not supported yet"):
        ember.func.vmap(lambda a: registry.run(indexing.TAKE, a, index))(ember.tensor(X))
    with pytest.raises(RuntimeError, match="vmap over take is not supported yet"):
        ember.func.vmap(lambda a: registry.run(indexing.TAKE, a, batching.shared(index) + 0))(
            ember.tensor(X))


@pytest.mark.parametrize("name", ["max", "min", "median", "amax", "nanmedian"])
def test_vmap_of_grad_of_full_reductions_with_ties_and_nan(name: str) -> None:
    """Each sample's gradient is split among its own ties (among its nans when its result
    is nan), as torch's per-sample gradients are."""
    data = np.array([[1.0, 3.0, 3.0], [2.0, np.nan, 0.0], [5.0, 1.0, 5.0]])
    out = []
    for L in (torch, ember):
        x = L.tensor(data, dtype=L.float64)
        out.append(L.func.vmap(L.func.grad(lambda a: getattr(a, name)()))(x))
    assert_same(out[1], out[0])


# ---- random ops inside vmap (NOTE [Random ops inside vmap]) ------------------------------


def _dropout(L, a, p=0.5):
    return L.nn.functional.dropout(a + 1, p)


RANDOM_CASES = {
    # name: (function of (lib, func), randomness modes it is compared under)
    "rand": (lambda L, F, r: F.vmap(lambda a: L.rand(2) + a, randomness=r)(L.zeros(3, 2)),
             ("same", "different")),
    "randn-16": (lambda L, F, r: F.vmap(lambda a: L.randn(16) + a, randomness=r)(
        L.zeros(2, 16)), ("same", "different")),
    "randint": (lambda L, F, r: F.vmap(lambda a: L.randint(0, 10, (3,)) + a, randomness=r)(
        L.zeros(2, 3, dtype=L.long)), ("same", "different")),
    "randperm": (lambda L, F, r: F.vmap(lambda a: L.randperm(4) + a, randomness=r)(
        L.zeros(3, 4, dtype=L.long)), ("same", "different")),
    "normal-numbers": (lambda L, F, r: F.vmap(lambda a: L.normal(0.0, 2.0, (3,)) + a,
                                              randomness=r)(L.zeros(2, 3)),
                       ("same", "different")),
    "rand_like": (lambda L, F, r: F.vmap(L.rand_like, randomness=r)(L.zeros(2, 3)),
                  ("same", "different")),
    "randn_like": (lambda L, F, r: F.vmap(L.randn_like, randomness=r)(L.zeros(2, 17)),
                   ("same", "different")),
    "uniform_-batched": (lambda L, F, r: F.vmap(lambda a: a.clone().uniform_(), randomness=r)(
        L.zeros(3, 2)), ("same", "different")),
    "normal_-batched": (lambda L, F, r: F.vmap(lambda a: a.clone().normal_(), randomness=r)(
        L.zeros(2, 16)), ("same", "different")),
    "uniform_-unbatched": (lambda L, F, r: F.vmap(lambda a: L.empty(2).uniform_() + a,
                                                  randomness=r)(L.ones(3, 2)),
                           ("same", "different")),
    "dropout": (lambda L, F, r: F.vmap(lambda a: _dropout(L, a), randomness=r)(L.zeros(2, 20)),
                ("same", "different")),
    "dropout-transposed": (lambda L, F, r: F.vmap(lambda a: _dropout(L, a.t()), randomness=r)(
        L.zeros(2, 3, 5)), ("same", "different")),
    "dropout2d": (lambda L, F, r: F.vmap(lambda a: L.nn.functional.dropout2d(a + 1),
                                         randomness=r)(L.zeros(2, 3, 4, 2, 2)),
                  ("same", "different")),
    "bernoulli": (lambda L, F, r: F.vmap(L.bernoulli, randomness=r)(L.full((3, 4), 0.5)),
                  ("same", "different")),
    "bernoulli_-batched-p": (lambda L, F, r: F.vmap(lambda p: L.zeros(3).bernoulli_(p),
                                                    randomness=r)(L.full((2, 3), 0.5)),
                             ("same", "different")),
    "normal-tensor": (lambda L, F, r: F.vmap(lambda m: L.normal(m, 1.0), randomness=r)(
        L.arange(6.0).reshape(2, 3)), ("same", "different")),
    "normal-unbatched-tensor": (lambda L, F, r: F.vmap(lambda a: L.normal(L.zeros(3), 1.0) + a,
                                                       randomness=r)(L.zeros(2, 3)),
                                ("same", "different")),
    "multinomial": (lambda L, F, r: F.vmap(lambda p: L.multinomial(p, 2), randomness=r)(
        L.tensor([[1.0, 2, 3, 4, 5], [5.0, 1, 1, 1, 1]])), ("same", "different")),
    "multinomial-rows": (lambda L, F, r: F.vmap(lambda p: L.multinomial(p, 3, True),
                                                randomness=r)(L.ones(2, 3, 4)),
                         ("same", "different")),
    "poisson": (lambda L, F, r: F.vmap(L.poisson, randomness=r)(L.full((2, 3), 4.0)),
                ("same", "different")),
    "nested-different-different": (
        lambda L, F, r: F.vmap(F.vmap(lambda a: L.rand(()) + a, randomness=r),
                               randomness=r)(L.zeros(2, 3)), ("same", "different")),
    "nested-different-same": (
        lambda L, F, r: F.vmap(F.vmap(lambda a: L.rand(()) + a, randomness="same"),
                               randomness=r)(L.zeros(2, 3)), ("same", "different")),
    "nested-same-different": (
        lambda L, F, r: F.vmap(F.vmap(lambda a: L.rand(()) + a, randomness=r),
                               randomness="same")(L.zeros(2, 3)), ("same", "different")),
    "error-default": (lambda L, F, r: F.vmap(lambda a: L.rand(2) + a)(L.zeros(3, 2)), ("-",)),
    "error-dropout": (lambda L, F, r: F.vmap(lambda a: _dropout(L, a))(L.zeros(3, 2)), ("-",)),
    "error-bernoulli_": (lambda L, F, r: F.vmap(lambda a: a.bernoulli_(0.5))(L.zeros(3, 2)),
                         ("-",)),
    "error-inner": (lambda L, F, r: F.vmap(F.vmap(lambda a: L.rand(()) + a),
                                           randomness="same")(L.zeros(2, 3)), ("-",)),
    "error-outer": (lambda L, F, r: F.vmap(F.vmap(lambda a: L.rand(()) + a,
                                                  randomness="different"))(L.zeros(2, 3)),
                    ("-",)),
    "unknown-mode": (lambda L, F, r: F.vmap(lambda a: a, randomness="sometimes"), ("-",)),
    "jacfwd": (lambda L, F, r: F.jacfwd(lambda a: a * L.rand(3), randomness=r)(L.ones(3)),
               ("same", "different")),
    "jacfwd-error": (lambda L, F, r: F.jacfwd(lambda a: a * L.rand(3))(L.ones(3)), ("-",)),
    "jacfwd-unknown": (lambda L, F, r: F.jacfwd(lambda a: a, randomness="x")(L.ones(2)),
                       ("-",)),
}


@pytest.mark.parametrize("name", sorted(RANDOM_CASES))
def test_random_ops_follow_randomness_as_torch(name: str) -> None:
    # the same draws (bits) after the same seed, the generator left where torch leaves it,
    # or torch's error for the mode
    fn, modes = RANDOM_CASES[name]
    for mode in modes:
        results = []
        for lib in (torch, ember):
            lib.manual_seed(0)
            func = importlib.import_module(lib.__name__ + ".func")
            try:
                out = fn(lib, func, mode)
            except RuntimeError as e:
                results.append((type(e), str(e)))
                continue
            results.append((out.dtype, tuple(out.shape), out.tolist(), lib.rand(2).tolist()))
        expected, got = results
        assert got[1:] == expected[1:], mode
        # the dtype's name, or the exception's type
        assert str(got[0]).rsplit(".", 1)[-1] == str(expected[0]).rsplit(".", 1)[-1]


# ---- batched index tensors (each sample's own indices) ------------------------------------

_X = np.arange(6.0, dtype=np.float32).reshape(2, 3)
_I = np.array([[2, 0], [1, 1]])
INDEX_CASES = {
    "embedding": lambda L, F: F.vmap(lambda j: L.nn.functional.embedding(
        j, L.arange(8.0).reshape(4, 2)))(L.tensor(_I)),
    "one_hot": lambda L, F: F.vmap(lambda j: L.nn.functional.one_hot(j, 3))(L.tensor(_I)),
    "bincount": lambda L, F: F.vmap(lambda j: L.bincount(j, minlength=3))(L.tensor(_I)),
    "bucketize": lambda L, F: F.vmap(lambda v: L.bucketize(v, L.tensor([1.0, 3.0])))(
        L.tensor(_X)),
    "searchsorted": lambda L, F: F.vmap(lambda s, v: L.searchsorted(s, v))(
        L.tensor(_X), L.tensor([[1.5], [4.5]])),
    "isin": lambda L, F: F.vmap(lambda v: L.isin(v, L.tensor([1.0, 4.0])))(L.tensor(_X)),
    "unravel_index": lambda L, F: F.vmap(lambda j: L.stack(L.unravel_index(j, (2, 2))))(
        L.tensor(_I)),
    "repeat_interleave-counts": lambda L, F: F.vmap(lambda r: L.repeat_interleave(r))(
        L.tensor([[1, 2, 0], [0, 1, 2]])),
    "repeat_interleave-by": lambda L, F: F.vmap(lambda s, r: s.repeat_interleave(r))(
        L.tensor(_X), L.tensor([[1, 2, 0], [0, 1, 2]])),
    "index_put": lambda L, F: F.vmap(lambda s, j: s.index_put((j,), L.tensor(9.0)))(
        L.tensor(_X), L.tensor([[2], [0]])),
    "index_put-accumulate": lambda L, F: F.vmap(
        lambda s, j: s.index_put((j,), L.tensor(1.0), accumulate=True))(
        L.tensor(_X), L.tensor([[2, 2], [0, 1]])),
    "setitem": lambda L, F: F.vmap(_set_nine)(L.tensor(_X), L.tensor([[2], [0]])),
    "index_fill": lambda L, F: F.vmap(lambda s, j: s.index_fill(0, j, 5.0))(
        L.tensor(_X), L.tensor([[0], [2]])),
    "index_fill-0d": lambda L, F: F.vmap(lambda s: s.clone().index_fill_(0, L.tensor(0), 9.0))(
        L.tensor([1.0, 2.0])),
    "index_reduce": lambda L, F: F.vmap(
        lambda s, j: s.index_reduce(0, j, L.ones(2) * 5, "amax"))(L.tensor(_X), L.tensor(_I)),
    "put": lambda L, F: F.vmap(lambda s, j: s.put(j, L.tensor([7.0, 8.0])))(
        L.tensor(_X), L.tensor([[2, 2], [0, 0]])),
    "scatter-0d": lambda L, F: F.vmap(lambda s: s.scatter(0, L.tensor(0), 5.0))(
        L.tensor([1.0, 2.0, 3.0])),
}


def _set_nine(s, j):
    s = s.clone()
    s[j] = 9.0
    return s


@pytest.mark.parametrize("name", sorted(INDEX_CASES))
def test_batched_indices_match_torch(name: str) -> None:
    # every sample uses its own index values (not the first sample's)
    t, e = both(lambda L, F: INDEX_CASES[name](L, F))
    if isinstance(t, tuple):
        t, e = t[0], e[0]
    assert e.tolist() == t.tolist()
    assert str(e.dtype).rsplit(".")[-1] == str(t.dtype).rsplit(".")[-1]


def test_per_sample_embedding_gradients_match_torch() -> None:
    # vmap(grad) over examples of a lookup: each sample's gradient of the table
    def fn(L, F):
        table = L.tensor(np.arange(8.0).reshape(4, 2) / 7, dtype=L.float64)

        def loss(w, j):
            return (L.nn.functional.embedding(j, w) ** 2).sum()
        return F.vmap(F.grad(loss), in_dims=(None, 0))(table, L.tensor(_I))
    t, e = both(fn)
    assert_same(e, t)


def test_samples_of_different_result_shapes_are_refused() -> None:
    check_raises_like(lambda L: importlib.import_module(L.__name__ + ".func").vmap(
        lambda j: L.bincount(j))(L.tensor([[0, 1], [3, 3]])))
