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


# ---- ops with several outputs -----------------------------------------------------------
# Each case maps an input of shape (3, 4) to the op's outputs. GAUGE names, per case, the
# outputs made of vectors fixed only up to sign (singular vectors, eigenvectors) and the dim
# the vectors run along: those are compared after aligning each vector's sign with torch's
# (a tangent flips with its vector), which leaves only gauge-invariant content to differ.

MULTI = {
    "max": lambda L, a: a.max(1), "min": lambda L, a: a.min(0, keepdim=True),
    "median": lambda L, a: a.median(1), "kthvalue": lambda L, a: a.kthvalue(2, 0),
    "sort": lambda L, a: a.sort(1, descending=True), "sort_stable": lambda L, a: a.sort(
        stable=True, dim=0), "topk": lambda L, a: a.topk(2), "cummax": lambda L, a: a.cummax(1),
    "cummin": lambda L, a: a.cummin(0), "var_mean": lambda L, a: L.var_mean(a, 1),
    "std_mean": lambda L, a: L.std_mean(a), "unbind": lambda L, a: a.unbind(1),
    "split": lambda L, a: a.split(2, 1), "split_sizes": lambda L, a: a.split([1, 3], 1),
    "chunk": lambda L, a: a.chunk(2), "tensor_split": lambda L, a: a.tensor_split(3, 1),
    "slogdet": lambda L, a: L.linalg.slogdet(a[:, :3]), "qr": lambda L, a: L.linalg.qr(a),
    "qr_tall": lambda L, a: L.linalg.qr(a.T), "qr_complete": lambda L, a: L.linalg.qr(
        a, mode="complete"), "svd": lambda L, a: L.linalg.svd(a, full_matrices=False),
    "svd_full": lambda L, a: L.linalg.svd(a), "svd_tall": lambda L, a: L.linalg.svd(a.T),
    "svd_batched": lambda L, a: L.linalg.svd(a.reshape(2, 2, 3), full_matrices=False),
    "svdvals": lambda L, a: (L.linalg.svdvals(a),),
    "eigh": lambda L, a: L.linalg.eigh(a[:, :3] @ a[:, :3].T),
    "eigh_upper": lambda L, a: L.linalg.eigh(a[:, 1:], UPLO="U"),
    "lstsq": lambda L, a: L.linalg.lstsq(a.T, a.T[:, :2]),
    "lstsq_gelsd": lambda L, a: L.linalg.lstsq(a.T, a.T[:, 1:], driver="gelsd"),
    "aminmax": lambda L, a: tuple(L.aminmax(a, dim=1)), "aminmax_all": lambda L, a: tuple(
        a.aminmax()), "mode": lambda L, a: a.mode(0), "nanmedian": lambda L, a: a.nanmedian(1),
}
GAUGE = {"svd": {0: -2, 2: -1}, "svd_full": {0: -2, 2: -1}, "svd_tall": {0: -2, 2: -1},
         "svd_batched": {0: -2, 2: -1}, "eigh": {1: -2}, "eigh_upper": {1: -2}}


def _numpy(t) -> np.ndarray:
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else t.detach()._data


def _signs(e, t, dim: int) -> np.ndarray:
    """+1/-1 per vector of ``e`` (vectors along ``dim``) to match ``t``'s orientation."""
    s = np.sign((_numpy(e) * _numpy(t)).sum(dim, keepdims=True))
    return np.where(s == 0, 1.0, s)


def compare_outputs(name: str, e_outs, t_outs, what: str) -> None:
    assert len(e_outs) == len(t_outs)
    for k, (e, t) in enumerate(zip(e_outs, t_outs)):
        (ep, et), (tp, tt) = e, t
        assert (et is None) == (tt is None), f"{what} {k}: tangent {et} vs torch's {tt}"
        dim = GAUGE.get(name, {}).get(k)
        s = 1.0 if dim is None else _signs(ep, tp, dim)
        assert_same(ember.tensor(_numpy(ep) * s).to(ep.dtype), tp, rtol=1e-9, atol=1e-9,
                    what=f"{what} {k} primal")
        if tt is not None:
            assert_same(ember.tensor(_numpy(et) * s).to(et.dtype), tt, rtol=1e-7, atol=1e-9,
                        what=f"{what} {k} tangent")


def several_tangents(L, fw, fn, array, tangent_array):
    with fw.dual_level():
        out = fn(L, fw.make_dual(L.tensor(array), L.tensor(tangent_array)))
        return [tuple(fw.unpack_dual(o)) for o in out]


@pytest.mark.parametrize("name", sorted(MULTI))
def test_several_output_tangents(name: str) -> None:
    rng = np.random.default_rng(3)
    arr, tan = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    t = several_tangents(torch, tfw, MULTI[name], arr, tan)
    e = several_tangents(ember, efw, MULTI[name], arr, tan)
    compare_outputs(name, e, t, "output")


def test_every_several_output_record_is_covered() -> None:
    """Each op record with several outputs is reached by a MULTI case or refuses forward
    mode as torch does (test_forward_refusals)."""
    import ember._ops.linalg as linalg
    import ember._ops.reduction as reduction
    import ember._ops.shape as shape

    records = {op.name for mod in (linalg, reduction, shape) for op in vars(mod).values()
               if isinstance(op, ember._ops.registry.Op) and op.multi}
    covered = {"max", "min", "median", "kthvalue", "sort", "topk", "cummax", "cummin",
               "var_mean", "std_mean", "unbind", "split", "split_with_sizes", "linalg_slogdet",
               "linalg_qr", "linalg_svd", "linalg_eigh", "linalg_lstsq", "_unique2",
               "unique_dim", "aminmax", "mode", "nanmedian"}
    assert records <= covered, records - covered


@pytest.mark.parametrize("fn", [
    lambda L: L.unique(L.autograd.forward_ad.make_dual(L.ones(3), L.ones(3)),
                       return_inverse=True),
    lambda L: L.unique(L.autograd.forward_ad.make_dual(L.ones(3, 2), L.ones(3, 2)), dim=0),
    lambda L: L.linalg.qr(L.autograd.forward_ad.make_dual(L.ones(3, 2), L.ones(3, 2)),
                          mode="r"),
    lambda L: L.linalg.qr(L.autograd.forward_ad.make_dual(L.ones(3, 2), L.ones(3, 2)),
                          mode="complete"),
], ids=["unique", "unique_dim", "qr_r", "qr_complete_tall"])
def test_forward_refusals(fn) -> None:
    def inside_level(L):
        with L.autograd.forward_ad.dual_level():
            return fn(L)

    check_raises_like(inside_level)


def test_level_errors_match_torch() -> None:
    def nested(L):
        with L.autograd.forward_ad.dual_level(), L.autograd.forward_ad.dual_level():
            pass

    def twice(L):
        fw = L.autograd.forward_ad
        with fw.dual_level():
            fw.make_dual(fw.make_dual(L.ones(2), L.ones(2)), L.ones(2))

    def bad_level(L):
        fw = L.autograd.forward_ad
        with fw.dual_level():
            fw.make_dual(L.ones(2), L.ones(2), level=3)

    def bad_exit(L):
        fw = L.autograd.forward_ad
        with fw.dual_level():
            fw.exit_dual_level(level=2)

    for fn in (nested, twice, bad_level, bad_exit,
               lambda L: L.autograd.forward_ad.exit_dual_level()):
        check_raises_like(fn)
    for L, fw in ((torch, tfw), (ember, efw)):
        assert fw.enter_dual_level() == 0
        try:
            d = fw.make_dual(L.ones(2), L.ones(2) * 3, level=0)
            assert fw.unpack_dual(d, level=0).tangent.tolist() == [3.0, 3.0]
            assert fw.unpack_dual(L.ones(2), level=4).tangent is None
        finally:
            fw.exit_dual_level(level=0)

    def unpack_bad_level(L):
        fw = L.autograd.forward_ad
        with fw.dual_level():
            fw.unpack_dual(fw.make_dual(L.ones(2), L.ones(2)), level=4)

    check_raises_like(unpack_bad_level)


# ---- reverse mode over forward mode -----------------------------------------------------
# torch itself cannot differentiate the logsumexp tangent (its tangent formula overwrites a
# tensor it saved: "modified by an inplace operation"); its slogdet tangent is computed from
# detached factors, so its reverse over forward is 0 (torch.func.jacrev(jacfwd(f)) then
# disagrees with its own hessian); its eigh tangent's derivative is nan (an inf on the
# eigenvalue gaps' diagonal times 0). Those are checked against torch's reverse over reverse
# instead (test_reverse_over_forward_where_torch_fails).
TORCH_FAILS_REVERSE = {"logsumexp"}
# INVARIANT: several-output ops reduced to one gauge-invariant tensor, so that a loss on its
# tangent is differentiable the same way in both libraries.
INVARIANT = {
    "sort": lambda L, a: a.sort(1).values, "max": lambda L, a: a.max(0).values,
    "median": lambda L, a: a.median(1).values, "topk": lambda L, a: a.topk(2, 0).values,
    "cummax": lambda L, a: a.cummax(1).values, "var_mean": lambda L, a: L.stack(
        L.var_mean(a, 1)), "std_mean": lambda L, a: L.stack(L.std_mean(a, 0)),
    "unbind": lambda L, a: a.unbind(1)[2] * a.unbind(1)[0],
    "split": lambda L, a: a.split(2, 1)[1].exp(), "qr": lambda L, a: L.linalg.qr(a.T).R,
    "slogdet_sign": lambda L, a: L.linalg.slogdet(a[:, :3]).sign * a[0, 0],
    "svdvals": lambda L, a: L.linalg.svdvals(a), "svd_projector": lambda L, a: (
        lambda u: u @ u.T)(L.linalg.svd(a).U[:, :1]),
    "eigh": lambda L, a: (lambda r: r.eigenvalues[:1] * (
        r.eigenvectors[:, :1] @ r.eigenvectors[:, :1].T))(L.linalg.eigh(a[:, :3] + a[:, :3].T)),
    "lstsq": lambda L, a: L.linalg.lstsq(a.T, a.T[:, :2].cos()).solution,
}
REVERSE = {**{f"unary_{n}": lambda L, a, n=n: getattr(L, n)(a) for n in UNARY},
           **{f"other_{n}": lambda L, a, f=f: f(a) for n, f in OTHER.items()
              if n not in TORCH_FAILS_REVERSE},
           **{f"binary_{n}": lambda L, a, f=f: f(a, a.flip(0) * 0.7 + 0.1)
              for n, f in BINARY.items()},
           **{n: f for n, f in INVARIANT.items() if n != "eigh"}}


def tangent_gradients(L, fw, fn, array, tangent_array, cotangent):
    """Gradients of ``<tangent of fn, cotangent>`` with respect to the primal and the
    tangent fed to make_dual."""
    x = L.tensor(array, requires_grad=True)
    t = L.tensor(tangent_array, requires_grad=True)
    with fw.dual_level():
        out = fn(L, fw.make_dual(x, t))
        tan = fw.unpack_dual(out).tangent
    loss = (tan * L.tensor(cotangent)).sum()
    return (loss, *L.autograd.grad(loss, (x, t), allow_unused=True, materialize_grads=True))


@pytest.mark.parametrize("name", sorted(REVERSE))
def test_reverse_over_forward(name: str) -> None:
    domain = UNARY.get(name[6:]) if name.startswith("unary_") else None
    low, high = domain or (-1.5, 1.5)
    rng = np.random.default_rng(5)
    arr, tan = rng.uniform(low, high, size=(3, 4)), rng.normal(size=(3, 4))
    with torch.no_grad():
        shape = tuple(REVERSE[name](torch, torch.tensor(arr)).shape)
    cot = rng.normal(size=shape)
    try:
        t = tangent_gradients(torch, tfw, REVERSE[name], arr, tan, cot)
    except RuntimeError as exc:  # a tangent with no graph (a zero derivative): ember too
        with pytest.raises(RuntimeError, match="does not require grad"):
            tangent_gradients(ember, efw, REVERSE[name], arr, tan, cot)
        assert "does not require grad" in str(exc)
        return
    e = tangent_gradients(ember, efw, REVERSE[name], arr, tan, cot)
    for what, a, b in zip(("loss", "grad of primal", "grad of tangent"), e, t):
        assert_same(a, b, rtol=1e-7, atol=1e-9, what=what)


TORCH_FAILS = {
    "slogdet": lambda L, a: L.linalg.slogdet(a[:, :3]).logabsdet,
    "logsumexp": lambda L, a: a.logsumexp(1), "eigh": INVARIANT["eigh"],
}


@pytest.mark.parametrize("name", sorted(TORCH_FAILS))
def test_reverse_over_forward_where_torch_fails(name: str) -> None:
    """The derivative of a tangent is the second derivative: compare ember's jacrev over
    jacfwd with torch's jacrev over jacrev."""
    fn = TORCH_FAILS[name]
    arr = np.random.default_rng(6).uniform(-1.5, 1.5, size=(3, 4))
    t = torch.func.jacrev(torch.func.jacrev(lambda a: fn(torch, a)))(torch.tensor(arr))
    e = ember.func.jacrev(ember.func.jacfwd(lambda a: fn(ember, a)))(ember.tensor(arr))
    assert_same(e, t, rtol=1e-7, atol=1e-9)


# ---- func transforms built on forward mode -----------------------------------------------
# Functions of a (3, 4) input through the several-output ops, for jacfwd, hessian and the
# compositions of func.jvp with itself and with reverse mode.
THROUGH = {**{n: f for n, f in INVARIANT.items() if n not in ("eigh", "svd_projector")},
           "chain": lambda L, a: (a.sin() * a.sum(0)).exp()}
TRANSFORMS = {
    "jacfwd": lambda F, f: F.jacfwd(f),
    "hessian": lambda F, f: F.hessian(lambda a: f(a).pow(2).sum()),
    "jacrev_jacfwd": lambda F, f: F.jacrev(F.jacfwd(f)),
    "jacfwd_jacfwd": lambda F, f: F.jacfwd(F.jacfwd(lambda a: f(a).reshape(-1)[:2])),
    "grad_of_jvp": lambda F, f: F.grad(lambda a: F.jvp(f, (a,), (a.cos(),))[1].pow(2).sum()),
    "jvp_of_jvp": lambda F, f: lambda a: F.jvp(lambda b: F.jvp(f, (b,), (b * b,))[1], (a,),
                                                (a.flip(1),)),
}


# Third order through a factorization (lstsq, qr, svdvals under jacfwd_jacfwd or
# jvp_of_jvp) is left out: slow, and covered by the cheaper ops.
@pytest.mark.parametrize("name,transform", [
    (name, transform) for name in sorted(THROUGH) for transform in sorted(TRANSFORMS)
    if not (transform in ("jacfwd_jacfwd", "jvp_of_jvp")
            and name in ("lstsq", "qr", "svdvals"))], ids=str)
def test_func_transforms(name: str, transform: str) -> None:
    arr = np.random.default_rng(8).uniform(-1.5, 1.5, size=(3, 4))
    outs = []
    for L in (torch, ember):
        fn = TRANSFORMS[transform](L.func, lambda a, L=L: THROUGH[name](L, a))
        out = fn(L.tensor(arr))
        outs.append(out if isinstance(out, tuple) else (out,))
    for k, (e, t) in enumerate(zip(outs[1], outs[0])):
        assert_same(e, t, rtol=1e-7, atol=1e-9, what=f"output {k}")


def test_autograd_of_a_jvp_result() -> None:
    """torch.autograd.grad of func.jvp's outputs with respect to a primal and a tangent that
    require grad (outside any transform)."""
    rng = np.random.default_rng(9)
    arr, tan = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    results = []
    for L in (torch, ember):
        x = L.tensor(arr, requires_grad=True)
        t = L.tensor(tan, requires_grad=True)
        value, jvp_out = L.func.jvp(lambda a: a.sort(1).values.tanh() * a.sum(), (x,), (t,))
        results.append((value, jvp_out, *L.autograd.grad(
            (value * jvp_out).sum(), (x, t))))
    for what, e, t in zip(("value", "jvp", "grad x", "grad t"), results[1], results[0]):
        assert_same(e, t, rtol=1e-9, atol=1e-9, what=what)


def _jvp_and_hvps(L, name: str, arr, v) -> tuple:
    def fn(a):
        return THROUGH[name](L, a)

    def loss(a):
        return fn(a).pow(2).sum()

    _, jvp_out = L.autograd.functional.jvp(fn, L.tensor(arr), L.tensor(v))
    _, hvp_out = L.autograd.functional.hvp(loss, L.tensor(arr), L.tensor(v))
    with L.autograd.forward_ad.dual_level():  # forward over reverse, by hand
        dual = L.autograd.forward_ad.make_dual(L.tensor(arr), L.tensor(v))
        fwd_hvp = L.autograd.forward_ad.unpack_dual(L.func.grad(loss)(dual)).tangent
    return jvp_out, hvp_out, fwd_hvp


@pytest.mark.parametrize("name", sorted(THROUGH))
def test_functional_jvp_and_hvp(name: str) -> None:
    rng = np.random.default_rng(10)
    arr, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    outs = [_jvp_and_hvps(L, name, arr, v) for L in (torch, ember)]
    for what, e, t in zip(("jvp", "hvp", "forward-over-reverse hvp"), outs[1], outs[0]):
        assert_same(e, t, rtol=1e-7, atol=1e-9, what=what)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_hessian_of_unary(name: str) -> None:
    """Forward over reverse through each pointwise op (ops whose backward reads their own
    output, exp or tanh, need the saved output's tangent)."""
    low, high = UNARY[name] or (-1.5, 1.5)
    arr = np.random.default_rng(11).uniform(low, high, size=(4,))
    t = torch.func.hessian(lambda a: getattr(torch, name)(a).sum())(torch.tensor(arr))
    e = ember.func.hessian(lambda a: getattr(ember, name)(a).sum())(ember.tensor(arr))
    assert_same(e, t, rtol=1e-7, atol=1e-9)


def _inplace_tangents(L) -> list:
    fa = L.autograd.forward_ad
    out = []
    with fa.dual_level():
        t = L.tensor([3.0, 4.0], dtype=L.float64)
        x = fa.make_dual(L.tensor([1.0, 2.0], dtype=L.float64), t)
        x.mul_(2)  # the tangent is written in place, the caller's included
        out += [t.clone(), fa.unpack_dual(x).tangent.clone()]
        y = x * 1
        v = y[1:]
        v.mul_(0.5)  # through a view: the base's tangent changes too
        out += [fa.unpack_dual(y).tangent.clone(), fa.unpack_dual(v).tangent.clone()]
        y[0] = 7.0  # a constant written: zero tangent there
        out.append(fa.unpack_dual(y).tangent.clone())
        for fill in (lambda w: w.zero_(), lambda w: w.fill_(2.0),
                     lambda w: w.copy_(L.tensor([5.0, 6.0], dtype=L.float64))):
            w = x * 1
            fill(w)
            out.append(fa.unpack_dual(w).tangent.clone())
        for f in (lambda x: x + 0, lambda x: x * 1, lambda x: x.clone(), lambda x: L.cat([x]),
                  lambda x: x.contiguous(), lambda x: x.reshape(2), lambda x: x.flatten()):
            y = f(x)
            y.mul_(3)  # a copy's tangent is its own; a view's (or x itself) is shared
            out += [fa.unpack_dual(x).tangent.clone(), fa.unpack_dual(y).tangent.clone()]
    return out


def test_inplace_ops_write_tangents_in_place() -> None:
    for e, t in zip(_inplace_tangents(ember), _inplace_tangents(torch)):
        assert_same(e, t)


@pytest.mark.parametrize("fn", [lambda L, d: d // 2,
                                lambda L, d: L.heaviside(d, L.ones(2, dtype=L.float64))])
def test_ops_without_forward_rules_raise_torchs_error(fn) -> None:
    def run(L):
        fa = L.autograd.forward_ad
        with fa.dual_level():
            fn(L, fa.make_dual(L.tensor([1.0, 0.5], dtype=L.float64),
                               L.ones(2, dtype=L.float64)))
    check_raises_like(run)


FORWARD_AD_REFUSALS = {
    "an integer tangent": lambda L: L.autograd.forward_ad.make_dual(
        L.ones(3), L.ones(3, dtype=L.int64)),
    "an integer primal": lambda L: L.autograd.forward_ad.make_dual(
        L.ones(3, dtype=L.int64), L.ones(3, dtype=L.int64)),
    "an integer primal, a wrong size": lambda L: L.autograd.forward_ad.make_dual(
        L.ones(2, dtype=L.int64), L.ones(3)),
    "unpacking an array": lambda L: L.autograd.forward_ad.unpack_dual(L.ones(2).numpy()),
}


@pytest.mark.parametrize("name", sorted(FORWARD_AD_REFUSALS))
def test_forward_ad_refusals_as_torch(name: str) -> None:
    def fn(L):
        with L.autograd.forward_ad.dual_level():
            FORWARD_AD_REFUSALS[name](L)
    check_raises_like(fn)


def test_unpacking_outside_a_level_passes_anything_through_as_torch() -> None:
    for lib in (ember, torch):
        unpacked = lib.autograd.forward_ad.unpack_dual(5)
        assert (unpacked.primal, unpacked.tangent) == (5, None)
