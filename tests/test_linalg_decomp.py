"""LU, Householder and general eigen factorisations against torch.

LU and geqrf follow LAPACK's conventions in both libraries, so their factors, pivots and
reflectors are compared directly. ``eig``'s eigenvectors are fixed only up to a phase per
column (LAPACK builds differ in it for complex-conjugate pairs): they are compared after
turning each column's largest component real, and their gradients through losses that do
not depend on the phase (torch refuses the others, and so does ember).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.linalg
from tests.helpers import (
    assert_raises_like,
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    examples,
    recording_compared,
    torch,
)


def _square(L, a):
    """A well-conditioned square matrix from any square ``a``."""
    n = a.shape[-1]
    return a + L.eye(n, dtype=a.dtype) * n


@pytest.fixture(autouse=True)
def _quiet_deprecations():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.lu", category=UserWarning)
        yield


# ---- LU -------------------------------------------------------------------------------

LU_SHAPES = [(4, 4), (2, 3, 3), (5, 3), (3, 5), (2, 1, 4, 2), (0, 0), (2, 0, 3), (1, 1)]


@pytest.mark.parametrize("shape", LU_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_factor_ex(shape, dtype):
    check_op(lambda L, a: L.linalg.lu_factor_ex(a), [shape], dtype=dtype)


@pytest.mark.parametrize("shape", LU_SHAPES, ids=str)
def test_lu_factor_and_lu(shape):
    check_op(lambda L, a: L.linalg.lu_factor(a), [shape], dtype="float64")
    check_op(lambda L, a: L.linalg.lu(a), [shape], dtype="float64")


@pytest.mark.parametrize("shape", LU_SHAPES, ids=str)
@pytest.mark.parametrize("unpack", [(True, True), (True, False), (False, True)])
def test_lu_unpack(shape, unpack):
    def fn(L, a):
        LU, pivots = L.linalg.lu_factor(a)
        return L.lu_unpack(LU, pivots, *unpack)

    # without L and U torch's backward fails on the empty tensors it returns
    check_op(fn, [shape], dtype="float64", grad=unpack[0])


def test_lu_noncontiguous_and_ties():
    check_op(lambda L, a: L.linalg.lu_factor_ex(a), [(3, 4, 4)], noncontiguous=True)
    # equal magnitudes in a column: the first one is the pivot, as in LAPACK
    with recording_compared() as run:
        a = np.array([[1.0, 2.0, 3.0], [-1.0, 5.0, 1.0], [1.0, -2.0, 7.0]])
        e = run(ember, lambda L, x: L.linalg.lu_factor(x), ember.tensor(a))
        t = run(torch, lambda L, x: L.linalg.lu_factor(x), torch.tensor(a))
        assert_same(e.pivots, t.pivots)
        assert_same(e.LU, t.LU)


def test_lu_singular():
    with recording_compared() as run:
        for a in (np.zeros((2, 3, 3)), np.array([[1.0, 2.0], [2.0, 4.0]]),
                  np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 4.0]])):
            e = run(ember, lambda L, x: L.linalg.lu_factor_ex(x), ember.tensor(a))
            t = run(torch, lambda L, x: L.linalg.lu_factor_ex(x), torch.tensor(a))
            for x, y in zip(e, t):
                assert_same(x, y)
    for a in (np.zeros((2, 3, 3)), np.array([[1.0, 2.0], [2.0, 4.0]])):
        check_raises_like(lambda L, a=a: L.linalg.lu_factor(L.tensor(a)))
        check_raises_like(lambda L, a=a: L.linalg.lu_factor_ex(L.tensor(a), check_errors=True))
    with recording_compared() as run:  # torch.lu never raises, even with get_infos=False
        a = np.zeros((2, 3, 3))
        e = run(ember, lambda L, x: L.lu(x), ember.tensor(a))
        t = run(torch, lambda L, x: L.lu(x), torch.tensor(a))
        assert type(e) is tuple and type(t) is tuple
        for x, y in zip(e, t):
            assert_same(x, y)
        e = run(ember, lambda L, x: L.lu(x, get_infos=True), ember.tensor(a))
        t = run(torch, lambda L, x: L.lu(x, get_infos=True), torch.tensor(a))
        assert repr(type(e).__name__) == repr(type(t).__name__)
        for x, y in zip(e, t):
            assert_same(x, y)


def test_lu_complex():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))
    with recording_compared() as run:
        for fn in (lambda L, x: L.linalg.lu_factor_ex(x), lambda L, x: L.linalg.lu(x),
                   lambda L, x: L.geqrf(x)):
            for e, t in zip(run(ember, fn, ember.tensor(a)), run(torch, fn, torch.tensor(a))):
                assert_same(e, t)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("shapes", [[(4, 4), (4, 2)], [(2, 3, 3), (3, 3)],
                                    [(3, 3), (2, 3, 3)], [(3, 3), (3, 0)]], ids=str)
def test_lu_solve(left, adjoint, shapes):
    def fn(L, a, b):
        LU, pivots = L.linalg.lu_factor(_square(L, a))
        return L.linalg.lu_solve(LU, pivots, b if left else b.mT, left=left, adjoint=adjoint)

    check_op(fn, shapes, dtype="float64")


def test_lu_solve_legacy_and_methods():
    def legacy(L, a, b):
        LU, pivots = L.lu(_square(L, a))
        return L.lu_solve(b, LU, pivots)

    def methods(L, a, b):
        LU, pivots, info = _square(L, a).lu(get_infos=True)
        return b.lu_solve(LU, pivots), info

    check_op(legacy, [(2, 3, 3), (2, 3, 2)], dtype="float64")
    check_op(methods, [(3, 3), (3, 1)], dtype="float64")


def test_lu_gradcheck():
    check_gradcheck(lambda L, a: L.linalg.lu_factor(_square(L, a)).LU, [(3, 3)])
    for shape in [(3, 3), (4, 2), (2, 4)]:
        check_gradcheck(lambda L, a: L.linalg.lu(a)[1:], [shape], gradgrad=False)
    check_gradcheck(lambda L, a: L.lu_unpack(*L.linalg.lu_factor(a))[1:], [(3, 4)],
                    gradgrad=False)
    check_gradcheck(lambda L, a, b: L.linalg.lu_solve(
        *L.linalg.lu_factor(_square(L, a)), b, adjoint=True), [(3, 3), (3, 2)])


def test_lu_errors():
    a = np.random.default_rng(0).standard_normal((3, 3))
    for fn in [
        lambda L: L.linalg.lu_factor(L.tensor(a), pivot=False),
        lambda L: L.linalg.lu(L.tensor(a), pivot=False),
        lambda L: L.linalg.lu_factor(L.zeros(3)),
        lambda L: L.linalg.lu_factor(L.zeros(3, 3, dtype=L.int64)),
        lambda L: L.linalg.lu_factor(L.zeros(3, 3, dtype=L.float16)),
        lambda L: L.lu_unpack(L.zeros(3, 3), L.ones(3, dtype=L.int64)),
        lambda L: L.linalg.lu_solve(*L.linalg.lu_factor(L.tensor(a)), L.zeros(2, 2)),
        lambda L: L.linalg.lu_solve(*L.linalg.lu_factor(L.tensor(a)), L.zeros(3, 2),
                                    left=False),
        lambda L: L.linalg.lu_solve(*L.linalg.lu_factor(L.tensor(a)), L.zeros(3, 2)),
        lambda L: L.linalg.lu_solve(L.linalg.lu_factor(L.tensor(a))[0],
                                    L.ones(3, dtype=L.int64), L.zeros(3, 2).double()),
        lambda L: L.linalg.lu_solve(L.zeros(3, 2), L.ones(3, dtype=L.int32), L.zeros(3, 2)),
        lambda L: L.linalg.lu_solve(L.zeros(3, 3), L.ones(2, dtype=L.int32), L.zeros(3, 2)),
        lambda L: L.linalg.lu_solve(L.zeros(2, 3, 3), L.ones(3, dtype=L.int32),
                                    L.zeros(3, 2)),
    ]:
        check_raises_like(fn)


@settings(max_examples=examples(15), deadline=None)
@given(batch=st.lists(st.integers(0, 3), max_size=2), m=st.integers(0, 5),
       n=st.integers(0, 5), seed=st.integers(0, 2 ** 16))
def test_lu_hypothesis(batch, m, n, seed):
    check_op(lambda L, a: L.linalg.lu_factor_ex(a), [tuple(batch) + (m, n)], dtype="float64",
             seed=seed)


# ---- geqrf, householder_product, orgqr, ormqr --------------------------------------------


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4, 2), (0, 3), (3, 0)],
                         ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_geqrf(shape, dtype):
    check_op(lambda L, a: L.geqrf(a), [shape], dtype=dtype)


def test_geqrf_zero_column_and_method():
    with recording_compared() as run:
        a = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
        for fn in (lambda L, x: L.geqrf(x), lambda L, x: x.geqrf()):
            for e, t in zip(run(ember, fn, ember.tensor(a)), run(torch, fn, torch.tensor(a))):
                assert_same(e, t)
    check_raises_like(lambda L: L.geqrf(L.zeros(3)))
    check_raises_like(lambda L: L.geqrf(L.zeros(3, 3, dtype=L.int64)))


@pytest.mark.parametrize("shapes", [[(4, 4), (4,)], [(5, 3), (2,)], [(2, 4, 2), (2, 2)],
                                    [(3, 3), (0,)]], ids=str)
@pytest.mark.parametrize("orgqr", [False, True])
def test_householder_product(shapes, orgqr):
    def fn(L, a, tau):
        return L.orgqr(a, tau) if orgqr else L.linalg.householder_product(a, tau)

    check_op(fn, shapes, dtype="float64")
    check_op(lambda L, a, tau: a.orgqr(tau), shapes)


def test_householder_of_geqrf_is_qr():
    with recording_compared() as run:
        a = np.random.default_rng(1).standard_normal((2, 5, 3))

        def fn(L, x):
            return L.linalg.householder_product(*L.geqrf(x))

        assert_same(run(ember, fn, ember.tensor(a)), run(torch, fn, torch.tensor(a)))


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("shapes", [[(4, 3), (3,), (4, 2)], [(2, 4, 4), (2, 4), (2, 4, 3)]],
                         ids=str)
def test_ormqr(left, transpose, shapes):
    def fn(L, a, tau, c):
        return L.ormqr(a, tau, c if left else c.mT, left, transpose)

    check_op(fn, shapes, dtype="float64")
    check_op(lambda L, a, tau, c: a.ormqr(tau, c if left else c.mT, left=left,
                                          transpose=transpose), shapes, dtype="float64")


def test_householder_gradcheck():
    check_gradcheck(lambda L, a, tau: L.linalg.householder_product(a, tau),
                    [(4, 3), (2,)], gradgrad=False)
    check_gradcheck(lambda L, a, tau, c: L.ormqr(a, tau, c, False, True),
                    [(3, 3), (3,), (2, 3)], gradgrad=False)


def test_householder_errors():
    for fn in [
        lambda L: L.linalg.householder_product(L.zeros(2, 3), L.zeros(2)),
        lambda L: L.linalg.householder_product(L.zeros(3, 2), L.zeros(3)),
        lambda L: L.linalg.householder_product(L.zeros(3, 3), L.zeros(1, 3)),
        lambda L: L.linalg.householder_product(L.zeros(3, 3), L.zeros(3).double()),
        lambda L: L.linalg.householder_product(L.zeros(3, 3, dtype=L.int64),
                                               L.zeros(3, dtype=L.int64)),
        lambda L: L.ormqr(L.zeros(3, 3), L.zeros(3), L.zeros(2, 2)),
        lambda L: L.ormqr(L.zeros(3, 3), L.zeros(3), L.zeros(3, 2), left=False),
        lambda L: L.ormqr(L.zeros(4, 2), L.zeros(3), L.zeros(4, 2)),
    ]:
        check_raises_like(fn)


# ---- eig, eigvals ---------------------------------------------------------------------


def _phase_fixed(v):
    """Each column times the phase that makes its largest component real and positive."""
    data = v.detach().resolve_conj().numpy() if isinstance(v, torch.Tensor) else (
        v.detach()._data)
    if data.size == 0:
        return data
    idx = np.abs(data).argmax(-2)[..., None, :]
    top = np.take_along_axis(data, idx, -2)
    return data * (np.abs(top) / top)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5, 5), (1, 1), (0, 0)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eig(shape, dtype):
    with recording_compared() as run:
        a = np.random.default_rng(2).standard_normal(shape)
        e = run(ember, lambda L, x: L.linalg.eig(x), ember.tensor(a).to(getattr(ember, dtype)))
        t = run(torch, lambda L, x: L.linalg.eig(x), torch.tensor(a).to(getattr(torch, dtype)))
        assert type(e).__name__ == type(t).__name__
        assert_same(e.eigenvalues, t.eigenvalues)
        assert_same(e.eigenvectors, t.eigenvectors, atol=1e9)  # shape and dtype
        rtol, atol = (1e-4, 1e-4) if dtype == "float32" else (1e-7, 1e-7)
        np.testing.assert_allclose(_phase_fixed(e.eigenvectors), _phase_fixed(t.eigenvectors),
                                   rtol=rtol, atol=atol)  # float32: eigenvector conditioning


def test_eig_complex_and_eigvals():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))
    with recording_compared() as run:
        e = run(ember, lambda L, x: L.linalg.eig(x), ember.tensor(a))
        t = run(torch, lambda L, x: L.linalg.eig(x), torch.tensor(a))
        assert_same(e.eigenvalues, t.eigenvalues)
        np.testing.assert_allclose(_phase_fixed(e[1]), _phase_fixed(t[1]), atol=1e-7)
        assert_same(run(ember, lambda L, x: L.linalg.eigvals(x), ember.tensor(a)),
                    run(torch, lambda L, x: L.linalg.eigvals(x), torch.tensor(a)))
    check_op(lambda L, a: L.linalg.eigvals(a), [(3, 3)], dtype="float64")
    check_op(lambda L, a: L.linalg.eigvals(a), [(2, 4, 4)], grad=False)


def test_eig_gradients():
    def loss(L, a):
        w, v = L.linalg.eig(a)
        return w, v.abs()

    check_op(loss, [(4, 4)], dtype="float64")
    check_op(lambda L, a: L.linalg.eig(a)[0], [(2, 3, 3)], dtype="float64")
    # the phase-dependent loss is refused in both
    check_op(lambda L, a: L.linalg.eig(a)[1], [(3, 3)], dtype="float64")
    check_gradcheck(lambda L, a: L.linalg.eigvals(a).real, [(3, 3)], gradgrad=False)
    check_gradcheck(lambda L, a: L.linalg.eig(a)[1].abs(), [(3, 3)], gradgrad=False)


def test_eig_errors():
    for fn in [lambda L: L.linalg.eig(L.zeros(2, 3)), lambda L: L.linalg.eig(L.zeros(3)),
               lambda L: L.linalg.eig(L.zeros(3, 3, dtype=L.int64)),
               lambda L: L.linalg.eigvals(L.zeros(2, 2, dtype=L.float16))]:
        check_raises_like(fn)


# ---- ldl_factor, ldl_solve --------------------------------------------------------------


def _ldl_inputs(seed: int, shape: tuple, complex_: bool):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if complex_:
        a = a + 1j * rng.standard_normal(shape)
    if shape[-1]:
        a[..., 0, 0] = 0  # the first column then takes a 2x2 pivot or an interchange
    b = rng.standard_normal(shape[:-1] + (2,)).astype(a.dtype)
    return a, b


@settings(max_examples=examples(20), deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=1), n=st.integers(0, 6),
       complex_=st.booleans(), hermitian=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_ldl_factor_and_solve(batch, n, complex_, hermitian, seed):
    a, b = _ldl_inputs(seed, tuple(batch) + (n, n), complex_)
    with recording_compared() as run:
        def factor(L, x):
            return L.linalg.ldl_factor_ex(x, hermitian=hermitian)

        e = run(ember, factor, ember.tensor(a))
        t = run(torch, factor, torch.tensor(a))
        for x, y in zip(e, t):  # the same pivots: LAPACK's Bunch-Kaufman choices
            assert_same(x, y)

        def solve(L, ld, piv, rhs):
            return L.linalg.ldl_solve(ld, piv, rhs, hermitian=hermitian)

        assert_same(run(ember, solve, e.LD, e.pivots, ember.tensor(b)),
                    run(torch, solve, t.LD, t.pivots, torch.tensor(b)))


def test_ldl_factor_float32_and_grad():
    check_op(lambda L, a: L.linalg.ldl_factor(a + a.mT), [(2, 4, 4)])
    # torch records a node that refuses to differentiate; ember too
    check_op(lambda L, a: L.linalg.ldl_factor(a + a.mT).LD, [(3, 3)], dtype="float64")
    check_op(lambda L, a, b: L.linalg.ldl_solve(*L.linalg.ldl_factor(a.detach() + a.mT.detach()),
                                                b), [(3, 3), (3, 2)], dtype="float64")


def test_ldl_errors():
    a = np.random.default_rng(0).standard_normal((3, 3))
    a = a + a.T
    for fn in [
        lambda L: L.linalg.ldl_factor(L.zeros(2, 3)),
        lambda L: L.linalg.ldl_factor(L.zeros(3)),
        lambda L: L.linalg.ldl_factor(L.zeros(3, 3, dtype=L.int64)),
        lambda L: L.linalg.ldl_factor(L.zeros(3, 3, dtype=L.float16)),
        lambda L: L.linalg.ldl_solve(*L.linalg.ldl_factor(L.tensor(a)), L.zeros(4, 1).double()),
        lambda L: L.linalg.ldl_solve(*L.linalg.ldl_factor(L.tensor(a)), L.zeros(3, 1)),
        lambda L: L.linalg.ldl_solve(*L.linalg.ldl_factor(L.tensor(a)), L.zeros(3).double()),
        lambda L: L.linalg.ldl_solve(L.linalg.ldl_factor(L.tensor(a))[0],
                                     L.ones(2, dtype=L.int32), L.zeros(3, 1).double()),
        lambda L: L.linalg.ldl_solve(L.zeros(2, 3), L.ones(3, dtype=L.int32), L.zeros(3, 1)),
    ]:
        check_raises_like(fn)
    # a zero block: torch words it as a failed internal assert ahead of the same text
    for fn, phrase in [
            (lambda L: L.linalg.ldl_factor(L.zeros(3, 3)),
             "torch.linalg.ldl_factor: Unknown error code: 1."),
            (lambda L: L.linalg.ldl_factor_ex(L.zeros(2, 3, 3), check_errors=True),
             "torch.linalg.ldl_factor_ex: Unknown error code: 1.")]:
        with pytest.raises(RuntimeError) as info:
            fn(torch)
        assert_raises_like(info.value, lambda fn=fn: fn(ember), error_match=phrase)


def test_complex_gradcheck():
    """complex128 finite differences (torch's gradient convention) for the differentiable
    factorisations, and a complex gradient compared with torch's."""
    rng = np.random.default_rng(5)

    def leaf(*shape, shift=0.0):
        data = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        if shift:
            data = data + shift * np.eye(shape[-1])
        return data, ember.tensor(data).requires_grad_()

    def check(fn, *leaves):
        assert ember.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5, rtol=1e-3)

    (a, A), (tau_data, tau), (_, C) = leaf(4, 3), leaf(3), leaf(4, 2)
    (_, Sq), (_, B) = leaf(3, 3, shift=3.0), leaf(3, 2)
    check(lambda x: (ember.linalg.eigvals(x), ember.linalg.eig(x)[1].abs()), Sq)
    check(lambda x, y: ember.linalg.householder_product(x, y), A, tau)
    check(lambda x, y, z: ember.ormqr(x, y, z, True, True), A, tau, C)
    check(lambda x, y: ember.linalg.lu_solve(*ember.linalg.lu_factor(x), y), Sq, B)
    check(lambda x: ember.linalg.lu(x)[1:], Sq)
    check_gradcheck(lambda L, x, y: L.linalg.householder_product(x, y), [(4, 3), (2,)])
    with recording_compared() as run:
        def loss(L, x, y):
            return L.linalg.householder_product(x, y).abs().sum() + (
                L.linalg.eigvals(x[:3]).abs().sum())

        leaves = []
        for lib in (ember, torch):
            x = lib.tensor(a).requires_grad_()
            y = lib.tensor(tau_data).requires_grad_()
            run(lib, loss, x, y).backward()
            leaves.append((x.grad, y.grad))
        assert_same(leaves[0][0], leaves[1][0])
        assert_same(leaves[0][1], leaves[1][1])


# ---- the legacy qr and svd as methods ---------------------------------------------------


def test_qr_svd_methods():
    check_op(lambda L, a: a.qr(), [(4, 3)], dtype="float64")
    check_op(lambda L, a: a.qr(some=False).R, [(4, 3)], dtype="float64")
    check_op(lambda L, a: a.svd().S, [(4, 3)], dtype="float64")
    check_op(lambda L, a: a.svd(compute_uv=False), [(2, 3)], dtype="float64", grad=False)
