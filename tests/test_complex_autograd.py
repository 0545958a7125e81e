"""Gradients through complex tensors, compared with torch (NOTE [Complex gradients]):
torch's gradient of a real loss with respect to a complex input is
dL/d(re z) + i dL/d(im z)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch


def _complex(L, shape, seed: int, requires_grad: bool = True):
    r = np.random.default_rng(seed)
    return L.tensor(r.standard_normal(shape) + 1j * r.standard_normal(shape),
                    requires_grad=requires_grad)


def _real_loss(L, y, seed: int = 99):
    """A real loss with a random complex (or real) cotangent, so no gradient is trivial."""
    r = np.random.default_rng(seed)
    c = r.standard_normal(tuple(y.shape))
    if y.is_complex():
        c = c + 1j * r.standard_normal(tuple(y.shape))
    loss = (y * L.tensor(c)).sum()
    return loss.real if loss.is_complex() else loss


def _compare(fn, n_inputs: int, shape=(3, 3), create_graph: bool = False) -> None:
    results = []
    for L in (torch, ember):
        xs = [_complex(L, shape, seed) for seed in range(n_inputs)]
        y = fn(L, *xs)
        grads = L.autograd.grad(_real_loss(L, y), xs, create_graph=create_graph)
        out = [y, *grads]
        if create_graph:  # second order: differentiate a real function of the gradients
            out += L.autograd.grad(sum(_real_loss(L, g, 7 + i) for i, g in enumerate(grads)),
                                   xs)
        results.append([t.detach().resolve_conj() for t in out])
    for t, e in zip(*results):
        assert_same(e, t, rtol=1e-10, atol=1e-12)


UNARY = {
    "exp": lambda L, x: x.exp(), "log": lambda L, x: x.log(), "sin": lambda L, x: x.sin(),
    "cos": lambda L, x: x.cos(), "tan": lambda L, x: x.tan(), "tanh": lambda L, x: x.tanh(),
    "sinh": lambda L, x: x.sinh(), "cosh": lambda L, x: x.cosh(),
    "sigmoid": lambda L, x: x.sigmoid(), "sqrt": lambda L, x: x.sqrt(),
    "rsqrt": lambda L, x: x.rsqrt(), "reciprocal": lambda L, x: x.reciprocal(),
    "square": lambda L, x: x.square(), "pow2": lambda L, x: x ** 2,
    "pow_half": lambda L, x: x ** 0.5, "asin": lambda L, x: x.asin(),
    "acos": lambda L, x: x.acos(), "atan": lambda L, x: x.atan(),
    "log1p": lambda L, x: x.log1p(), "expm1": lambda L, x: x.expm1(),
    "log2": lambda L, x: x.log2(), "sinc": lambda L, x: x.sinc(),
    "sum": lambda L, x: x.sum(0), "mean": lambda L, x: x.mean(), "prod": lambda L, x: x.prod(1),
    "abs": lambda L, x: x.abs(), "angle": lambda L, x: x.angle(), "sgn": lambda L, x: x.sgn(),
    "conj": lambda L, x: x.conj(), "conj_physical": lambda L, x: x.conj_physical(),
    "real": lambda L, x: x.real * 2, "imag": lambda L, x: x.imag * 2,
    "mT": lambda L, x: x.mT, "mH": lambda L, x: x.mH, "flip": lambda L, x: x.flip(0),
    "index": lambda L, x: x[[0, 2, 0]], "norm": lambda L, x: x.norm(),
    "var": lambda L, x: x.var(0), "trace": lambda L, x: x.trace(),
    "det": lambda L, x: L.linalg.det(x), "inv": lambda L, x: L.linalg.inv(x),
    "matrix_exp": lambda L, x: L.linalg.matrix_exp(x),
    "slogdet_sign": lambda L, x: L.linalg.slogdet(x)[0],
    "slogdet_logabsdet": lambda L, x: L.linalg.slogdet(x)[1],
    "slogdet_both": lambda L, x: L.linalg.slogdet(x)[0] * L.linalg.slogdet(x)[1],
    "logdet": lambda L, x: L.logdet(x),
}

BINARY = {
    "add": lambda L, x, y: x + y, "sub": lambda L, x, y: x - y, "mul": lambda L, x, y: x * y,
    "div": lambda L, x, y: x / y, "pow": lambda L, x, y: x ** y,
    "matmul": lambda L, x, y: x @ y, "dot": lambda L, x, y: L.dot(x[0], y[1]),
    "vdot": lambda L, x, y: L.vdot(x[0], y[1]), "outer": lambda L, x, y: L.outer(x[0], y[1]),
    "lerp": lambda L, x, y: L.lerp(x, y, 0.3), "kron": lambda L, x, y: L.kron(x, y),
    "solve": lambda L, x, y: L.linalg.solve(x, y),
    "where": lambda L, x, y: L.where(x.real > 0, x, y),
    "cat": lambda L, x, y: L.cat([x, y], 1),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_complex_gradients(name: str) -> None:
    _compare(UNARY[name], 1)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_complex_gradients(name: str) -> None:
    _compare(BINARY[name], 2)


@pytest.mark.parametrize("name", ["mul", "div", "matmul", "vdot", "exp", "sgn", "abs"])
def test_complex_second_derivatives(name: str) -> None:
    fn = BINARY.get(name) or UNARY[name]
    _compare(fn, 2 if name in BINARY else 1, create_graph=True)


def test_real_input_meets_complex_values() -> None:
    """A real tensor mixed with complex ones gets the real part of its gradient, reduced
    over broadcasting; a real tensor cast to complex likewise."""
    results = []
    for L in (torch, ember):
        x = L.tensor(np.linspace(-1.0, 1.0, 3), requires_grad=True)
        z = _complex(L, (2, 3), 5)
        y = x * z + (x * 1j).exp() + x.to(L.complex128) / z
        grads = L.autograd.grad(_real_loss(L, y), [x, z])
        results.append([y.detach(), *grads])
    for t, e in zip(*results):
        assert_same(e, t, rtol=1e-10, atol=1e-12)


def test_inplace_ops_on_complex_tensors() -> None:
    results = []
    for L in (torch, ember):
        x = _complex(L, (3,), 1)
        y = x * 2
        y.mul_(_complex(L, (3,), 2, requires_grad=False))
        y[1:] *= 1j
        (g,) = L.autograd.grad(_real_loss(L, y.exp()), x)
        results.append([y.detach(), g])
    for t, e in zip(*results):
        assert_same(e, t, rtol=1e-10, atol=1e-12)


def _write_real_part(L, z, w):
    L.view_as_real(z)[0, :, 0] = w[0]


def _write_imag_column(L, z, w):
    L.view_as_real(z)[:, 1, 1] = w[0, 1]


def _scale_pairs(L, z, w):
    L.view_as_real(z)[1:].mul_(w[0, 0])


def _add_pairs(L, z, w):
    L.view_as_real(z).add_(w[:, :, None])


def _clamp_parts(L, z, w):
    L.view_as_real(z.t())[1:].clamp_(min=0).mul_(w[2, 2])


def _write_through_complex_view(L, z, w):
    L.view_as_complex(L.view_as_real(z))[1:] *= w[0, 0] * 1j


# writes into a real view of a complex tensor: a CopySlices whose chain reinterprets dtypes
WRITES_THROUGH_REAL_VIEWS = {f.__name__[1:]: f for f in (
    _write_real_part, _write_imag_column, _scale_pairs, _add_pairs, _clamp_parts,
    _write_through_complex_view)}


@pytest.mark.parametrize("name", sorted(WRITES_THROUGH_REAL_VIEWS))
def test_writes_through_view_as_real(name: str) -> None:
    """Gradients (first and second order) of the complex base and of the real value written
    into it through ``view_as_real``, as torch's; ember's CopySlices backward raised
    KeyError replaying the view on its bool mask."""
    results = []
    for L in (torch, ember):
        x = _complex(L, (3, 3), 1)
        w = L.tensor(np.linspace(-1.0, 2.0, 9).reshape(3, 3), requires_grad=True)
        z = x * 1.5
        WRITES_THROUGH_REAL_VIEWS[name](L, z, w)
        gx, gw = L.autograd.grad(_real_loss(L, z.exp()), [x, w], create_graph=True)
        second = L.autograd.grad(_real_loss(L, gx, 7) + (gw * gw).sum(), [x, w])
        results.append([z.detach(), gx.detach(), gw.detach(), *second])
    for t, e in zip(*results):
        assert_same(e, t, rtol=1e-10, atol=1e-12)


def _tangents(fn, n_inputs: int, shape=(3, 3)) -> None:
    results = []
    for L in (torch, ember):
        fa = L.autograd.forward_ad
        with fa.dual_level():
            duals = [fa.make_dual(_complex(L, shape, s, False), _complex(L, shape, 10 + s, False))
                     for s in range(n_inputs)]
            y = fn(L, *duals)
            primal, tangent = fa.unpack_dual(y)
            results.append([primal.resolve_conj(), tangent.resolve_conj()])
    for t, e in zip(*results):
        assert_same(e, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_complex_tangents(name: str) -> None:
    _tangents(UNARY[name], 1)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_complex_tangents(name: str) -> None:
    _tangents(BINARY[name], 2)


def _hermitian(L, x):
    return x @ x.mH + 3 * L.eye(x.shape[-1], dtype=x.dtype)


# Complex decompositions are not complex-analytic: their gradients take conjugate transposes
# and, for the SVD, the phase each pair of singular vectors may take. Each function is a
# smooth function of an unconstrained complex input (gauge-invariant where vectors appear).
COMPLEX_DECOMPOSITIONS = {
    "cholesky": (lambda L, a: L.linalg.cholesky(_hermitian(L, a)), (3, 3)),
    "cholesky upper": (lambda L, a: L.linalg.cholesky(_hermitian(L, a), upper=True), (3, 3)),
    "cholesky of a Hermitian input": (lambda L, a: L.linalg.cholesky(a), "hermitian"),
    "cholesky_inverse": (lambda L, a: L.cholesky_inverse(L.linalg.cholesky(_hermitian(L, a))),
                         (3, 3)),
    "cholesky_solve": (lambda L, a: L.cholesky_solve(a[:, :2], L.linalg.cholesky(
        _hermitian(L, a))), (3, 3)),
    "qr tall": (lambda L, a: L.linalg.qr(a), (4, 3)),
    "qr wide": (lambda L, a: L.linalg.qr(a), (3, 4)),
    "svdvals": (lambda L, a: L.linalg.svdvals(a), (4, 3)),
    "svd magnitudes": (lambda L, a: tuple(f.abs() for f in L.linalg.svd(a, full_matrices=False)),
                       (4, 3)),
    "svd of a wide input": (lambda L, a: (lambda u, s, vh: u @ vh)(
        *L.linalg.svd(a, full_matrices=False)), (3, 4)),
    "nuclear norm": (lambda L, a: L.linalg.matrix_norm(a, "nuc"), (4, 3)),
    "spectral norm": (lambda L, a: L.linalg.matrix_norm(a, 2), (4, 3)),
    "condition number": (lambda L, a: L.linalg.cond(a), (3, 3)),
    "eigvalsh": (lambda L, a: L.linalg.eigvalsh(_hermitian(L, a)), (3, 3)),
    "eigh magnitudes": (lambda L, a: L.linalg.eigh(_hermitian(L, a))[1].abs(), (3, 3)),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_DECOMPOSITIONS))
def test_complex_decomposition_gradients_as_torch(name: str) -> None:
    fn, shape = COMPLEX_DECOMPOSITIONS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    if shape == "hermitian":
        x = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
        data = x @ x.conj().T + 3 * np.eye(3)
    else:
        data = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    found = []
    for lib in (ember, torch):
        a = lib.tensor(data).requires_grad_()
        outs = fn(lib, a)
        outs = outs if isinstance(outs, tuple) else (outs,)
        loss = 0
        for k, out in enumerate(outs):
            w = np.random.default_rng(k).standard_normal(tuple(out.shape))
            if out.is_complex():
                w = w + 1j * np.random.default_rng(k + 10).standard_normal(tuple(out.shape))
            loss = loss + (out * lib.tensor(w)).sum()
        (loss.real if loss.is_complex() else loss).backward()
        found.append(([o.detach() for o in outs], a.grad))
    for e, t in zip(found[0][0], found[1][0]):
        assert_same(e, t)
    assert_same(found[0][1], found[1][1])
    if shape != "hermitian":
        a = ember.tensor(data).requires_grad_()
        assert ember.autograd.gradcheck(lambda x: fn(ember, x), (a,))
