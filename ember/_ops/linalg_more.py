"""The rest of torch.linalg and torch's legacy linear-algebra names: condition numbers, ranks,
triangular and Cholesky solves, tensor inverses, and the names torch keeps only to say that
the function was removed.

Ops torch records with a node of their own (``solve_triangular``, ``triangular_solve``,
``cholesky_solve``, ``cholesky_inverse``, and the ``_ex`` forms when they report a failure)
are records here, with backward formulas in ember ops; the rest are composed of existing ops
the way torch composes them, so their ``grad_fn`` is the node torch shows.
"""
from __future__ import annotations

import math
import warnings

from ember._backend import np
from ember._dtype import FLOAT, cpp_type_name, scalar_type_name
from ember._ops import linalg as E
from ember._ops.reduction import _norm_backward, _return_type, _vector_norm
from ember._ops.registry import KEEP, attach, defop, run
from ember._tensor import (
    Tensor,
    bool_argument,
    bools_method,
    make,
    method_taking_tensor,
    tensor_argument,
)

__all__: list[str] = [  # torch's top-level names
    "cholesky_inverse", "cholesky_solve", "triangular_solve", "nuclear_norm", "frobenius_norm",
    "norm_except_dim", "eig", "lstsq", "solve", "symeig", "svd_lowrank", "pca_lowrank",
]
LINALG_ALL: list[str] = [  # torch.linalg's names
    "cholesky_ex", "cond", "diagonal", "inv_ex", "matrix_rank", "multi_dot", "solve_ex",
    "solve_triangular", "tensorinv", "tensorsolve", "vander", "vecdot",
]

cholesky_ex_result = _return_type("linalg_cholesky_ex", ("L", "info"))
inv_ex_result = _return_type("linalg_inv_ex", ("inverse", "info"))
solve_ex_result = _return_type("linalg_solve_ex", ("result", "info"))
triangular_solve_result = _return_type("triangular_solve", ("solution", "cloned_coefficient"))


def _info(shape: tuple) -> Tensor:
    """torch's int32 ``info`` tensor of a batch in which every factorisation succeeded."""
    return make(np.zeros(shape, dtype=np.int32))


# ---- the _ex forms ----------------------------------------------------------------------
# NOTE [_ex failures]
# torch's ``_ex`` functions report a failed factorisation in ``info`` instead of raising. In
# the common case nothing failed: ember runs the ordinary op (the node torch records is the
# same) and returns zeros. When an element fails, the op is run again through a record of
# the same node whose forward does not raise: ``info`` is LAPACK's (the first zero pivot,
# the order of the first minor that is not positive-definite), and the failed elements'
# values are nan, where torch leaves LAPACK's partial results.


def _per_matrix(A, fn):
    """``fn`` on each matrix of a batch: (results stacked, info per matrix)."""
    flat = A.reshape((-1,) + A.shape[-2:])
    results, infos = [], []
    for m in flat:
        value, info = fn(m)
        results.append(value)
        infos.append(info)
    shape = A.shape[:-2]
    out = np.stack(results).reshape(shape + results[0].shape) if results else A.copy()
    return out, np.array(infos, dtype=np.int32).reshape(shape)


def _inv_one(m):
    if np.isnan(m).any():  # NOTE [NaN matrices]: all nan, and no error
        return np.full_like(m, E._nan_of(m.dtype)), 0
    info = E._lu_singular_index(m)
    if info is not None:
        return np.full_like(m, np.nan), info
    return np.linalg.inv(m), 0


def _inv_ex_forward(xp, A):
    return _per_matrix(A, _inv_one)


INV_EX = defop("linalg_inv_ex", node="LinalgInvExBackward0", kind=KEEP, save=("result",),
               multi=1, forward=_inv_ex_forward,
               backward=lambda grads, A, result: E.INV.backward[0](grads[0], A, result[0]))


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """Mirrors ``torch.linalg.inv_ex``: (inverse, info), info the 1-based index of the first
    zero pivot of each singular matrix (0 elsewhere); ``check_errors`` raises as
    ``linalg.inv`` does. See NOTE [_ex failures] for the values of singular elements."""
    try:
        return inv_ex_result((E.inv(A), _info(A._data.shape[:-2])))
    except E.LinAlgError as error:
        if check_errors:
            raise E.LinAlgError(str(error).replace("linalg.inv:", "linalg.inv_ex:", 1)) from None
    return inv_ex_result(run(INV_EX, A))


def _solve_one(vector, left):
    def solve_one(pair):
        m, b = pair
        info = E._lu_singular_index(m)
        if info is not None:
            return np.full_like(b, np.nan), info
        return E._solve_forward(np, m, b, vector, left), 0
    return solve_one


def _solve_ex_forward(xp, A, B, vector, left):
    shape = np.broadcast_shapes(A.shape[:-2], B.shape[:-1] if vector else B.shape[:-2])
    A = np.broadcast_to(A, shape + A.shape[-2:]).reshape((-1,) + A.shape[-2:])
    tail = B.shape[-1:] if vector else B.shape[-2:]
    B = np.broadcast_to(B, shape + tail).reshape((-1,) + tail)
    results, infos = zip(*map(_solve_one(vector, left), zip(A, B))) if len(A) else ((), ())
    out = np.stack(results).reshape(shape + tail) if results else np.zeros(shape + tail, B.dtype)
    return out, np.array(infos, dtype=np.int32).reshape(shape)


SOLVE_EX = defop("linalg_solve_ex", node="LinalgSolveExBackward0", nin=2, kind=KEEP,
                 save=(0, "result"), multi=1, forward=_solve_ex_forward,
                 backward=(lambda grads, A, B, vector, left, result: E._solve_grad_A(
                     grads[0], A, B, vector, left, result[0]),
                           lambda grads, A, B, vector, left, result: E._solve_grad_B(
                     grads[0], A, B, vector, left, result[0])))


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """Mirrors ``torch.linalg.solve_ex``: (result, info) of ``linalg.solve``, info the first
    zero pivot of each singular matrix; ``check_errors`` raises instead. See NOTE [_ex
    failures]."""
    try:
        X = E.solve(A, B, left=left)  # checks the arguments as torch does
    except E.LinAlgError as error:
        if check_errors:
            raise E.LinAlgError(str(error).replace(
                "torch.linalg.solve:", "torch.linalg.solve_ex:", 1)) from None
        X = None
    a, b = A._data.shape, B._data.shape
    vector = len(b) == 1 or (len(b) == len(a) - 1 and b == a[:-1])  # as linalg.solve reads B
    if X is not None:
        return solve_ex_result((X, _info(np.broadcast_shapes(
            a[:-2], b[:-1] if vector else b[:-2]))))
    return solve_ex_result(run(SOLVE_EX, A, B, vector, bool(left)))


def _cholesky_one(upper):
    def cholesky_one(m):
        m = E.cholesky_read(np, m, upper)
        k = E.failed_minor(m)
        if k:
            return np.full_like(m, np.nan), k
        L = np.linalg.cholesky(m)
        return (np.conj(L.T) if upper else L), 0
    return cholesky_one


CHOLESKY_EX = defop("linalg_cholesky_ex", node="LinalgCholeskyExBackward0", kind=KEEP,
                    save=("result",), multi=1,
                    forward=lambda xp, A, upper: _per_matrix(A, _cholesky_one(upper)),
                    backward=lambda grads, A, upper, result: E._cholesky_backward(
                        grads[0], A, upper, result[0]))


def cholesky_ex(input: Tensor, *, upper: bool = False, check_errors: bool = False):
    """Mirrors ``torch.linalg.cholesky_ex``: (L, info), info the order of the first leading
    minor of each matrix that is not positive-definite; ``check_errors`` raises instead. See
    NOTE [_ex failures]."""
    A = input
    try:
        return cholesky_ex_result((E.linalg_cholesky(A, upper=upper),
                                   _info(A._data.shape[:-2])))
    except E.LinAlgError as error:
        if check_errors:
            raise E.LinAlgError(str(error).replace(
                "linalg.cholesky:", "linalg.cholesky_ex:", 1)) from None
    return cholesky_ex_result(run(CHOLESKY_EX, A, bool(upper)))


# ---- triangular and Cholesky solves -----------------------------------------------------


def _triangle(A, upper: bool, unitriangular: bool):
    """The array of the triangle a triangular solve reads (ones on a unit diagonal)."""
    if unitriangular:
        part = np.triu(A, 1) if upper else np.tril(A, -1)
        return part + np.eye(A.shape[-1], dtype=A.dtype)
    return np.triu(A) if upper else np.tril(A)


def _triangular_solve_array(A, B, upper, left, unitriangular):
    T = _triangle(A, upper, unitriangular)
    if T.shape[-1] == 0 or B.size == 0:
        shape = np.broadcast_shapes(T.shape[:-2], B.shape[:-2]) + B.shape[-2:]
        return np.zeros(shape, dtype=B.dtype)
    if not left:  # X T = B  <=>  T^T X^T = B^T
        T, B, upper = np.swapaxes(T, -1, -2), np.swapaxes(B, -1, -2), not upper
    try:
        X = np.linalg.solve(T, B)
    except np.linalg.LinAlgError:
        X = _singular_triangular(T, B, upper)
    return np.swapaxes(X, -1, -2) if not left else X


def _singular_triangular(T, B, upper):
    """A triangular solve with zeros on some diagonals: the unknowns substitution reaches
    before the first zero are solved, the rest are nan (ember differs: torch's substitution
    may leave inf or -inf there instead of nan)."""
    shape = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    Ts = np.broadcast_to(T, shape + T.shape[-2:]).reshape((-1,) + T.shape[-2:])
    Bs = np.broadcast_to(B, shape + B.shape[-2:]).reshape((-1,) + B.shape[-2:])
    X = np.full(Bs.shape, np.nan, dtype=np.result_type(T, B))
    for m, b, x in zip(Ts, Bs, X):
        zeros = np.flatnonzero(np.diagonal(m) == 0)
        if not len(zeros):
            x[...] = np.linalg.solve(m, b)
        elif upper:
            k = zeros.max() + 1
            if k < len(m):
                x[k:] = np.linalg.solve(m[k:, k:], b[k:])
        elif zeros.min():
            k = zeros.min()
            x[:k] = np.linalg.solve(m[:k, :k], b[:k])
    return X.reshape(shape + B.shape[-2:])


def _masked(M: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    """``M`` with only the entries of the triangle a solve read (the gradient of A)."""
    n = M.shape[-1]
    k = 1 if unitriangular else 0
    mask = np.triu(np.ones((n, n), dtype=M._data.dtype), k) if upper else np.tril(
        np.ones((n, n), dtype=M._data.dtype), -k)
    return M * make(mask)


def _solve_triangular_grad_B(grad, A, B, upper, left, unitriangular, result):
    return solve_triangular(E._mT(A), grad, upper=not upper, left=left,
                            unitriangular=unitriangular)


def _solve_triangular_grad_A(grad, A, B, upper, left, unitriangular, result):
    gB = _solve_triangular_grad_B(grad, A, B, upper, left, unitriangular, result)
    gA = -(gB @ E._mT(result)) if left else -(E._mT(result) @ gB)
    return _masked(gA, upper, unitriangular)


SOLVE_TRIANGULAR = defop(
    "linalg_solve_triangular", node="LinalgSolveTriangularBackward0", nin=2, kind=KEEP,
    save={0: (0, "result"), 1: (0,)}, forward=lambda xp, A, B, upper, left, unitriangular:
    _triangular_solve_array(A, B, upper, left, unitriangular),
    backward=(_solve_triangular_grad_A, _solve_triangular_grad_B))


def _check_pair(name: str, A: Tensor, B: Tensor, left: bool = True) -> None:
    for t, arg in ((A, "A"), (B, "B")):
        if t._data.ndim < 2:
            raise RuntimeError(
                f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    E._check_dims(A, name)
    a, b = A._data.shape, B._data.shape
    if (b[-2] if left else b[-1]) != a[-1]:
        raise RuntimeError(
            f"{name}: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({a[-2]}x{a[-1]} and {b[-2]}x{b[-1]})")
    E._broadcast_batch(a[:-2], b[:-2])


def solve_triangular(input: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """Mirrors ``torch.linalg.solve_triangular``: X with ``A @ X = B`` (``X @ A = B`` when
    ``left`` is False) reading only the ``upper`` or lower triangle of ``A`` (its diagonal
    taken as ones when ``unitriangular``); batch dims broadcast, and ``B`` is cast to
    ``A``'s dtype as in torch."""
    A = input
    _check_pair("linalg.solve_triangular", A, B, left)
    E._check_lapack_dtype(A, "triangular_solve_cpu", any_dtype=True)
    if B._data.dtype != A._data.dtype:  # torch solves in A's dtype
        B = B.to(A.dtype)
    return run(SOLVE_TRIANGULAR, A, B, bool(upper), bool(left), bool(unitriangular))


def _triangular_solve_forward(xp, b, A, upper, transpose, unitriangular):
    T = np.swapaxes(A, -1, -2) if transpose else A
    X = _triangular_solve_array(T, b, upper != transpose, True, unitriangular)
    batch = X.shape[:-2]
    return X, np.broadcast_to(A, batch + A.shape[-2:]).copy()


def _triangular_solve_backward(grads, b, A, upper, transpose, unitriangular, result):
    g_solution, g_clone = grads
    X = result[0]
    grad_b = grad_A = None
    if g_solution is not None:
        # X = op(A)^-1 b with op the transpose or not: gb = op(A)^-T g, gA from -gb X^T.
        grad_b = triangular_solve(g_solution, A, upper, not transpose, unitriangular)[0]
        gA = -(X @ E._mT(grad_b)) if transpose else -(grad_b @ E._mT(X))
        grad_A = _masked(gA, upper, unitriangular)
    if g_clone is not None:
        grad_A = g_clone if grad_A is None else grad_A + g_clone
    return grad_b, grad_A


TRIANGULAR_SOLVE = defop(
    "triangular_solve", node="TriangularSolveBackward0", nin=2, kind=KEEP,
    save=(1, "result"), multi=True, forward=_triangular_solve_forward,
    backward=(lambda grads, b, A, upper, transpose, unitriangular, result:
              _triangular_solve_backward(grads, b, A, upper, transpose, unitriangular,
                                         result)[0],
              lambda grads, b, A, upper, transpose, unitriangular, result:
              _triangular_solve_backward(grads, b, A, upper, transpose, unitriangular,
                                         result)[1]))


def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """Mirrors the deprecated ``torch.triangular_solve(b, A)``: (solution, cloned_coefficient)
    with ``op(A) @ solution = b``, ``op`` transposing when ``transpose``; the clone is ``A``
    broadcast to the batch. Warns as torch does."""
    tensor_argument("triangular_solve", "A", A, 2)
    warnings.warn(
        "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand "
        "will be removed in a future PyTorch release.\ntorch.linalg.solve_triangular has its "
        "arguments reversed and does not return a copy of one of the inputs.\nX = "
        "torch.triangular_solve(B, A).solution\nshould be replaced with\nX = "
        "torch.linalg.solve_triangular(A, B).", UserWarning, stacklevel=2)
    b = input
    for t, arg in ((b, "b"), (A, "A")):
        if t._data.ndim < 2:
            raise RuntimeError(
                f"torch.triangular_solve: Expected {arg} to have at least 2 dimensions, but it "
                f"has {t._data.ndim} dimensions instead")
    if b._data.dtype != A._data.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(b.dtype)} and A of type {scalar_type_name(A.dtype)} instead.")
    a = A._data.shape
    if a[-1] != a[-2]:
        raise RuntimeError(
            f"A must be batches of square matrices, but they are {a[-2]} by {a[-1]} matrices")
    if b._data.shape[-2] != A._data.shape[-1]:
        raise RuntimeError(
            "Incompatible matrix sizes for triangular_solve: each A matrix is "
            f"{A._data.shape[-1]} by {A._data.shape[-1]} but each b matrix is "
            f"{b._data.shape[-2]} by {b._data.shape[-1]}")
    E._check_lapack_dtype(A, "triangular_solve_cpu", any_dtype=True)
    return triangular_solve_result(run(TRIANGULAR_SOLVE, b, A, bool(upper), bool(transpose),
                                       bool(unitriangular)))


def _cholesky_solve_array(B, L, upper):
    LH = np.swapaxes(L.conj(), -1, -2)
    if upper:  # A = U^H U
        Y = _triangular_solve_array(LH, B, False, True, False)
        return _triangular_solve_array(L, Y, True, True, False)
    Y = _triangular_solve_array(L, B, False, True, False)
    return _triangular_solve_array(LH, Y, True, True, False)


# The Cholesky-solve formulas are written for complex inputs (conjugate transposes), as the
# forward conjugates L: real_formulas=False on their records.
def _factor_grad(common: Tensor, L: Tensor, upper: bool) -> Tensor:
    # A = L L^H (or U^H U): a Hermitian gradient S of A gives L's as S L (U's as U S).
    return -(L @ common) if upper else -(common @ L)


def _cholesky_solve_grad_B(grad, B, L, upper, result):
    return cholesky_solve(grad, L, upper)


def _cholesky_solve_grad_L(grad, B, L, upper, result):
    gB = cholesky_solve(grad, L, upper)
    common = gB @ result.mH
    return _factor_grad(common + common.mH, L, upper)


CHOLESKY_SOLVE = defop(
    "cholesky_solve", node="CholeskySolveBackward0", nin=2, kind=KEEP,
    save={0: (1,), 1: (1, "result")},
    forward=lambda xp, B, L, upper: _cholesky_solve_array(B, L, upper),
    backward=(_cholesky_solve_grad_B, _cholesky_solve_grad_L), real_formulas=False)


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    """Mirrors ``torch.cholesky_solve(B, L)``: X with ``L L^H X = B`` (``U^H U X = B`` when
    ``upper``), ``L`` a Cholesky factor; batch dims broadcast."""
    tensor_argument("cholesky_solve", "input2", input2, 2)
    B, L = input, input2
    for t, arg in ((B, "self"), (L, "A")):
        if t._data.ndim < 2:
            raise RuntimeError(
                f"b should have at least 2 dimensions, but has {B._data.ndim} dimensions "
                "instead" if arg == "self" else
                f"u should have at least 2 dimensions, but has {L._data.ndim} dimensions "
                "instead")
    if B._data.dtype != L._data.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(B.dtype)} and A of type {scalar_type_name(L.dtype)} instead.")
    E._check_dims(L, "torch.cholesky_solve")
    if B._data.shape[-2] != L._data.shape[-1]:
        raise RuntimeError(
            "Incompatible matrix sizes for cholesky_solve: each A matrix is "
            f"{L._data.shape[-1]} by {L._data.shape[-1]} but each b matrix is "
            f"{B._data.shape[-2]} by {B._data.shape[-1]}")
    E._check_lapack_dtype(L, "cholesky_solve_cpu", any_dtype=True)
    return run(CHOLESKY_SOLVE, B, L, bool(upper))


def _cholesky_inverse_array(L, upper):
    n = L.shape[-1]
    eye = np.broadcast_to(np.eye(n, dtype=L.dtype), L.shape)
    return _cholesky_solve_array(eye, L, upper)


def _cholesky_inverse_grad(grad, L, upper, result):
    common = result @ (grad + grad.mH) @ result
    return _factor_grad(common, L, upper)


CHOLESKY_INVERSE = defop(
    "cholesky_inverse", node="CholeskyInverseBackward0", kind=KEEP, save=(0, "result"),
    forward=lambda xp, L, upper: _cholesky_inverse_array(L, upper),
    backward=_cholesky_inverse_grad, real_formulas=False)


def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """Mirrors ``torch.cholesky_inverse(L)``: ``(L L^H)^-1`` from a Cholesky factor
    (``(U^H U)^-1`` when ``upper``), batched."""
    if type(upper) is not bool:
        upper = bool_argument(upper, "cholesky_inverse", "upper", 2)
    E._check_dims(input, "cholesky_inverse")
    E._check_lapack_dtype(input, "cholesky_inverse_out_cpu", any_dtype=True)
    return run(CHOLESKY_INVERSE, input, bool(upper))


# ---- composed linalg functions ----------------------------------------------------------


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Mirrors ``torch.linalg.diagonal``: ``torch.diagonal`` with the last two dims as the
    default matrix dims."""
    tensor_argument("linalg_diagonal", "A", A, 1)
    return A.diagonal(offset, dim1, dim2)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Mirrors ``torch.linalg.vecdot``: ``sum(conj(x) * y, dim)``, broadcasting; for two 1-d
    tensors it is ``vdot``, as in torch."""
    E._check_float(x, "linalg.vecdot")
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(
            f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
            f"{scalar_type_name(x.dtype)} and y of type {scalar_type_name(y.dtype)} instead")
    if x._data.ndim == 1 and y._data.ndim == 1:
        return E.vdot(x, y)
    if x._data.dtype.kind == "c":
        x = x.conj()
    return (x * y).sum(dim)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """Mirrors ``torch.linalg.vander``: columns ``x**0, x**1, ..., x**(N-1)`` (N defaults to
    ``x.shape[-1]``), composed as torch composes it: a column of ones and a cumulative
    product (``CatBackward0``)."""
    tensor_argument("linalg_vander", "x", x, 1)
    from ember._ops.creation import ones_like
    from ember._ops.reduction import cumprod
    from ember._ops.shape import cat

    if x._data.dtype.kind == "b":
        raise RuntimeError(
            "linalg.vander supports floating point, complex, and integer tensors, but got Bool")
    n = x._data.shape[-1] if x._data.ndim else 1
    if N is None:
        N = n
    if N <= 1 or x._data.ndim == 0:
        raise RuntimeError("N must be greater than 1.")
    column = x.unsqueeze(-1)
    ones = ones_like(column)
    powers = cumprod(column.expand(tuple(x.shape) + (N - 1,)), -1)
    return cat([ones, powers], -1)


def matrix_rank(input: Tensor, tol=None, hermitian: bool = False, *, atol=None,
                rtol=None) -> Tensor:
    """Mirrors ``torch.linalg.matrix_rank``: the number of singular values (absolute
    eigenvalues when ``hermitian``) above ``max(atol, rtol * largest)``. With neither given,
    rtol is ``eps * max(m, n)``; with only ``atol`` positive, rtol is 0. ``tol`` is torch's
    older spelling of ``atol``; tolerances may be numbers or tensors (broadcast over the
    batch). Not differentiable (an int64 result)."""
    A = input
    if A._data.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    if A.dtype.category < FLOAT:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:
        atol, rtol = tol, 0.0
    data = A._data
    if data.size == 0:
        return make(np.zeros(data.shape[:-2], dtype=np.int64))
    if hermitian:
        s = np.abs(np.linalg.eigvalsh(data))
        smax = s.max(-1)
    else:
        s = E.svd_arrays(data, compute_uv=False)
        smax = s[..., 0]
    real = s.dtype

    def value(t):
        return t._data.astype(real) if isinstance(t, Tensor) else np.asarray(t, real)

    if atol is None and rtol is None:
        rtol_v = np.asarray(np.finfo(real).eps * max(data.shape[-2:]), real)
    elif rtol is None:
        a = value(atol)
        rtol_v = np.where(a > 0, 0, np.finfo(real).eps * max(data.shape[-2:])).astype(real)
    else:
        rtol_v = value(rtol)
    atol_v = np.asarray(0, real) if atol is None else value(atol)
    tolerance = np.maximum(atol_v, rtol_v * smax)
    return make((s > tolerance[..., None]).sum(-1).astype(np.int64))


def cond(input: Tensor, p=None) -> Tensor:
    """Mirrors ``torch.linalg.cond``: the condition number in the norm ``p`` (None or 2,
    -2, ``'fro'``, ``'nuc'``, 1, -1, inf, -inf), composed as torch composes it: a ratio of
    singular values for ±2, ``sum(s) * sum(1 / s)`` for ``'nuc'``, else
    ``matrix_norm(A) * matrix_norm(inv(A))`` with inf for singular matrices."""
    from ember._ops.indexing import masked_fill
    from ember._ops.pointwise import nan_to_num

    A = input
    if A._data.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    valid = p is None or (p in ("fro", "nuc") if isinstance(p, str) else abs(p) in (
        1, 2, math.inf))
    if not valid:
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    data = A._data
    by_svd = p is None or p == "nuc" or (isinstance(p, (int, float)) and abs(p) == 2)
    if not by_svd:
        name = p if isinstance(p, str) else (int(p) if math.isfinite(p) else p)
        E._check_dims(A, f"linalg.cond(ord={name})")
    if data.size == 0:  # zeros of the input's (real) dtype, whatever it is, as torch's
        real = np.empty(0, data.dtype).real.dtype
        return make(np.zeros(data.shape[:-2], dtype=real))
    # torch checks the dtype in the op it composes
    E._check_float(A, "linalg.svd" if by_svd else "linalg.inv")
    if p is None or p == 2 or p == -2:
        s = E.svdvals(A)
        largest, smallest = s[..., :1], s[..., -1:]
        ratio = smallest / largest if p == -2 else largest / smallest
        return ratio.squeeze(-1)
    if p == "nuc":
        s = E.svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    inverse, info = inv_ex(A)
    inverse = masked_fill(inverse, (info > 0).unsqueeze(-1).unsqueeze(-1), math.inf)
    result = E.matrix_norm(A, p) * E.matrix_norm(inverse, p)
    return nan_to_num(result, math.inf, math.inf, -math.inf)


def multi_dot(tensors) -> Tensor:
    """Mirrors ``torch.linalg.multi_dot``: the product of two or more matrices (the first
    may be 1-d, a row; the last 1-d, a column) in the cheapest bracketing, as torch picks
    it; the result is a view of the last product (``ViewBackward0``)."""
    from ember._ops.shape import tensor_list

    tensors = list(tensor_list(tensors, "linalg_multi_dot"))
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    if first._data.ndim not in (1, 2):
        raise RuntimeError(
            f"multi_dot(): the first tensor must be 1D or 2D but got {first._data.ndim}D")
    if last._data.ndim not in (1, 2):
        raise RuntimeError(
            f"multi_dot(): the last tensor must be 1D or 2D but got {last._data.ndim}D")
    for i in range(1, n - 1):
        if tensors[i]._data.ndim != 2:
            raise RuntimeError(
                f"multi_dot(): tensor {i} must be 2D but got {tensors[i]._data.ndim}D")
    dtype = first._data.dtype
    for i, t in enumerate(tensors[1:], 1):
        if t._data.dtype != dtype:
            raise RuntimeError(
                "multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                f"{cpp_type_name(first.dtype)} and tensor {i} {cpp_type_name(t.dtype)}")
    out_shape = []
    if first._data.ndim == 1:
        tensors[0] = first.unsqueeze(0)
    else:
        out_shape.append(first._data.shape[0])
    if last._data.ndim == 1:
        tensors[-1] = last.unsqueeze(-1)
    else:
        out_shape.append(last._data.shape[1])
    for i in range(n - 1):
        a, b = tensors[i]._data.shape, tensors[i + 1]._data.shape
        if a[1] != b[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(a)} and {list(b)} "
                "cannot be multiplied")
    return _chain(tensors).view(out_shape)


def _chain(mats: list) -> Tensor:
    """The product of 2-d ``mats`` in the order that needs the fewest scalar products."""
    n = len(mats)
    if n == 2:
        return E.mm(mats[0], mats[1])
    dims = [m._data.shape[0] for m in mats] + [mats[-1]._data.shape[1]]
    if n == 3:
        a, b, c, d = dims
        if a * b * c + a * c * d <= b * c * d + a * b * d:
            return E.mm(E.mm(mats[0], mats[1]), mats[2])
        return E.mm(mats[0], E.mm(mats[1], mats[2]))
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = split[i][j]
        return E.mm(product(i, k), product(k + 1, j))

    return product(0, n - 1)


def tensorinv(input: Tensor, ind: int = 2) -> Tensor:
    """Mirrors ``torch.linalg.tensorinv``: the inverse of ``A`` seen as a matrix of its first
    ``ind`` dims by the rest, shaped ``A.shape[ind:] + A.shape[:ind]``."""
    A = input
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = A._data.shape
    rows, cols = math.prod(shape[:ind]), math.prod(shape[ind:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}")
    from ember._ops.shape import RESHAPE_ALIAS

    try:
        inverse = E.inv(A.reshape(rows, cols))
    except E.LinAlgError as error:  # torch's tensorinv names its inverse "inv"
        raise E.LinAlgError(str(error).replace("linalg.inv:", "inv:", 1)) from None
    # torch's inverse is laid out column-major, so its reshape is an alias (its node name)
    out_shape = tuple(shape[ind:]) + tuple(shape[:ind])
    return run(RESHAPE_ALIAS, inverse, out_shape, tuple(inverse.shape))


def tensorsolve(input: Tensor, other: Tensor, dims=None) -> Tensor:
    """Mirrors ``torch.linalg.tensorsolve``: X with ``tensordot(A, X, X.ndim) = B``, ``dims``
    naming dims of ``A`` to move to the end first."""
    A, B = input, other
    if dims is not None:
        dims = list(dims)
        A = A.movedim(dims, list(range(A.dim() - len(dims), A.dim())))
    shape = A._data.shape
    k = B._data.ndim
    rows, cols = math.prod(shape[:k]), math.prod(shape[k:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    X = E.solve(A.reshape(rows, cols), B.reshape(rows))
    return X.view(tuple(shape[k:]))


# ---- norms -------------------------------------------------------------------------------
# torch.frobenius_norm and torch.norm_except_dim run aten::norm, whose nodes are
# NormBackward1 (over dims) and NormBackward0 (the whole tensor): the vector-norm kernel and
# formula of ember.norm under those names.
NORM_DIMS = defop("norm", node="NormBackward1", kind=KEEP, save=(0, "result"),
                  forward=_vector_norm, backward=_norm_backward)
NORM_ALL = defop("norm", node="NormBackward0", kind=KEEP, save=(0, "result"),
                 forward=_vector_norm, backward=_norm_backward)


def frobenius_norm(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """Mirrors the deprecated ``torch.frobenius_norm``: the 2-norm over one or two ``dim``
    (``NormBackward1``); warns as torch does."""
    from ember._tensor import wrap_dim

    warnings.warn(
        "at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will "
        "be removed in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, "
        "keepdim)` instead", UserWarning, stacklevel=2)
    dims = [dim] if isinstance(dim, int) else list(dim)
    if len(dims) > 2:
        raise RuntimeError(
            f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    if input.dtype.category < FLOAT:
        raise RuntimeError(
            "norm(): input dtype should be either floating point or complex. Got "
            f"{scalar_type_name(input.dtype)} instead.")
    ndim = input._data.ndim
    # no dims, like a 0-d input, is the norm of the whole tensor (torch's empty dim list)
    axes = tuple(wrap_dim(d, max(ndim, 1)) for d in dims) if ndim and dims else None
    return run(NORM_DIMS, input, 2, axes, bool(keepdim))


def nuclear_norm(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mirrors the deprecated ``torch.nuclear_norm``: the sum of the singular values of the
    matrices in ``dim`` (two dims, default the last two); ``keepdim`` may come second as in
    torch. Composed as torch composes it: the matrix dims permuted to the end, ``svdvals``,
    a sum, and with ``keepdim`` the dims put back (``PermuteBackward0``). Warns as torch
    does."""
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    warnings.warn(
        "at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be "
        "removed in a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, "
        "keepdim)` instead", UserWarning, stacklevel=2)
    from ember._tensor import wrap_dim

    ndim = input._data.ndim
    if ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    dims = (-2, -1) if dim is None else tuple(dim)
    if len(dims) != 2:
        return E.matrix_norm(input, "nuc", dims, keepdim)  # torch's error for the dims
    rows, cols = (wrap_dim(d, ndim) for d in dims)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({rows}, {cols})")
    rest = [d for d in range(ndim) if d not in (rows, cols)]
    order = rest + [rows, cols]
    result = E.svdvals(input.permute(order)).sum(-1)
    if not keepdim:
        return result
    back = [order.index(d) for d in range(ndim)]
    return result.unsqueeze(-1).unsqueeze(-1).permute(back)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """Mirrors ``torch.norm_except_dim``: the ``pow``-norm of ``v`` over every dim but
    ``dim``, shaped with size-1 dims there; ``dim=-1`` is the norm of the whole tensor
    (0-d, ``NormBackward0``). Composed as torch composes it: the kept dim first, the rest
    flattened, one norm over them, viewed back (and transposed back for a middle dim)."""
    tensor_argument("norm_except_dim", "v", v, 1)
    ndim = v._data.ndim
    if dim == -1:
        return run(NORM_ALL, v, pow, None, False)
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if dim != 0 and dim != ndim - 1:
        return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)
    size = v._data.shape[dim]
    shape = [1] * ndim
    shape[dim] = size
    if dim == 0:
        flat = v.contiguous().view(size, -1)
        return run(NORM_DIMS, flat, pow, (1,), False).view(shape)
    flat = v.contiguous().view(-1, size)
    return run(NORM_DIMS, flat, pow, (0,), False).view(shape)


# ---- low-rank approximations -------------------------------------------------------------
# Halko, Martinsson and Tropp's randomised range finder (Algorithm 4.4, subspace iteration),
# with torch's random draws: one ``randn(n, q)`` test matrix, from the generator every
# ``randn`` uses, so that with one seed ember's factors are torch's.


def _range_basis(A: Tensor, q: int, niter: int, M: Tensor | None) -> Tensor:
    """An orthonormal basis Q (m x q) of the range of ``A - M``, sharpened by ``niter``
    rounds of power iteration."""
    from ember._ops.random import randn

    def times(X: Tensor) -> Tensor:
        return A @ X if M is None else A @ X - M @ X

    def adjoint_times(X: Tensor) -> Tensor:
        return A.mH @ X if M is None else A.mH @ X - M.mH @ X

    Q = E.linalg_qr(times(randn(A.shape[-1], q, dtype=A.dtype)))[0]
    for _ in range(niter):
        Q = E.linalg_qr(adjoint_times(Q))[0]
        Q = E.linalg_qr(times(Q))[0]
    return Q


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2,
                M: Tensor | None = None):
    """Mirrors ``torch.svd_lowrank``: (U, S, V) of a rank-``q`` approximation of ``A - M``
    (``M`` broadcast to ``A``'s shape), by a random range finder with ``niter`` power
    iterations; a wide ``A`` is approximated through its transpose, as in torch. Uses the
    global random generator like torch, so the same seed gives torch's factors."""
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:
        Mt = None if M is None else M.mT
        Q = _range_basis(A.mT, q, niter, Mt)
        B = Q.mH @ A.mT if M is None else Q.mH @ A.mT - Q.mH @ Mt
        U_t, S, Vh_t = E.linalg_svd(B, full_matrices=False)
        if A.is_complex():  # A = conj of the transposed problem's factors
            return Vh_t.mT, S, Q.conj() @ U_t.conj()
        return Vh_t.mH, S, Q @ U_t
    Q = _range_basis(A, q, niter, M)
    B = Q.mH @ A if M is None else Q.mH @ A - Q.mH @ M
    U, S, Vh = E.linalg_svd(B, full_matrices=False)
    return Q @ U, S, Vh.mH


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2):
    """Mirrors ``torch.pca_lowrank``: ``svd_lowrank`` of ``A`` (its column means subtracted
    when ``center``), ``q`` defaulting to ``min(6, m, n)``."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(
            f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(-2, keepdim=True)
    return svd_lowrank(A, q, niter=niter)


# ---- the removed functions ----------------------------------------------------------------
# torch 2.x keeps these names so that old code gets a message saying what replaced them.

_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def eig(self: Tensor, eigenvectors: bool = False, *, e=None, v=None):
    """Mirrors ``torch.eig``, removed from torch: raises torch's RuntimeError naming
    ``torch.linalg.eig`` and ``torch.linalg.eigvals``."""
    raise RuntimeError(
        _REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` "
        "rather than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
        "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, "
        "eigenvectors=True) should be replaced with:\nL_complex, V_complex = "
        "torch.linalg.eig(A)")


def symeig(input: Tensor, eigenvectors: bool = False, upper: bool = True, *, out=None):
    """Mirrors ``torch.symeig``, removed from torch: raises torch's RuntimeError naming
    ``torch.linalg.eigh`` and ``torch.linalg.eigvalsh``."""
    raise RuntimeError(
        _REMOVED + "The default behavior has changed from using the upper triangular portion "
        "of the matrix by default to using the lower triangular portion.\n\nL, _ = "
        "torch.symeig(A, upper=upper) should be replaced with:\nL = torch.linalg.eigvalsh(A, "
        "UPLO='U' if upper else 'L')\n\nand\n\nL, V = torch.symeig(A, eigenvectors=True) "
        "should be replaced with:\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def solve(input: Tensor, A: Tensor, *, out=None):
    """Mirrors ``torch.solve``, removed from torch: raises torch's RuntimeError naming
    ``torch.linalg.solve``."""
    raise RuntimeError(
        _REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU "
        "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be used with "
        "`torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should be "
        "replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq(input: Tensor, A: Tensor, *, out=None):
    """Mirrors ``torch.lstsq``, removed from torch: raises torch's RuntimeError naming
    ``torch.linalg.lstsq``."""
    raise RuntimeError(
        _REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
        "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition "
        "in the returned tuple (although it returns other information about the problem).\n\n"
        "To get the QR decomposition consider using `torch.linalg.qr`.\n\nThe returned "
        "solution in `torch.lstsq` stored the residuals of the solution in the last m - n "
        "columns of the returned value whenever m > n. In torch.linalg.lstsq, the residuals "
        "are in the field 'residuals' of the returned named tuple.\n\nThe unpacking of the "
        "solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced "
        "with:\nX = torch.linalg.lstsq(A, B).solution")


# torch.matrix_rank (removed) and torch.linalg.matrix_rank share a name, and this module's
# ``matrix_rank`` is the linalg one: the removed one is bound as ``torch.matrix_rank`` where
# the top-level namespace is built.
def _removed_matrix_rank(input: Tensor, tol=None, symmetric: bool = False, *, out=None):
    """Mirrors ``torch.matrix_rank``, removed from torch: raises torch's RuntimeError naming
    ``torch.linalg.matrix_rank``."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\nPlease use the "
        "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
        "`torch.linalg.matrix_rank()` to 'hermitian'.")


def _tensor_lstsq(self: Tensor, other: Tensor):
    """Mirrors ``Tensor.lstsq``: ``torch.lstsq(self, other)``, removed."""
    return lstsq(self, other)


def _tensor_solve(self: Tensor, other: Tensor):
    """Mirrors ``Tensor.solve``: ``torch.solve(self, other)``, removed."""
    return solve(self, other)


def _tensor_cholesky(self: Tensor, upper: bool = False) -> Tensor:
    """Mirrors ``Tensor.cholesky``: ``torch.cholesky(self, upper)``."""
    return E.cholesky(self, upper)


_removed_matrix_rank.__name__ = _removed_matrix_rank.__qualname__ = "matrix_rank"
_tensor_lstsq.__name__ = _tensor_lstsq.__qualname__ = "lstsq"
_tensor_solve.__name__ = _tensor_solve.__qualname__ = "solve"
_tensor_cholesky.__name__ = _tensor_cholesky.__qualname__ = "cholesky"

attach({"cholesky": bools_method(_tensor_cholesky, "upper", name="cholesky"),
        "cholesky_inverse": bools_method(cholesky_inverse, "upper"),
        "cholesky_solve": method_taking_tensor(cholesky_solve, "input2"),
        "triangular_solve": method_taking_tensor(triangular_solve, "A"), "eig": eig,
        "lstsq": _tensor_lstsq, "solve": _tensor_solve, "symeig": symeig})
