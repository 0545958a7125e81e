"""torch's factorisations beyond ember._ops.linalg: LU, Householder QR pieces and the
general eigendecomposition, with their top-level and Tensor forms.

NumPy has no LU or Householder routines, so the kernels here are written on arrays, each
one loop over the columns of the factorisation (the algorithm's sequential dimension) with
the batch and the trailing submatrix handled by whole-array operations. They follow
LAPACK's conventions (getrf's pivot choice, geqrf's reflectors), so their results equal
torch's, pivots and signs included.
"""
from __future__ import annotations

import warnings

from ember._backend import np
from ember._dtype import FLOAT, scalar_type_name
from ember._ops.linalg import (
    _check_dims,
    _check_float,
    _check_lapack_dtype,
    qr,
    svd,
)
from ember._ops.reduction import _return_type
from ember._ops.registry import KEEP, attach, defop, not_implemented, run
from ember._tensor import (
    Tensor,
    bool_argument,
    bools_method,
    make,
    method_taking_tensor,
    tensor_argument,
)

lu_factor_result = _return_type("linalg_lu_factor", ("LU", "pivots"))
lu_factor_ex_result = _return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
lu_with_info_result = _return_type("_lu_with_info", ("LU", "pivots", "info"))
lu_result = _return_type("linalg_lu", ("P", "L", "U"))
lu_unpack_result = _return_type("lu_unpack", ("P", "L", "U"))
geqrf_result = _return_type("geqrf", ("a", "tau"))
eig_result = _return_type("linalg_eig", ("eigenvalues", "eigenvectors"))


# ---- array kernels ----------------------------------------------------------------------


def _batched(a) -> tuple:
    """``a`` as a stack of matrices (a copy, to be factorised in place) and its batch shape."""
    batch = a.shape[:-2]
    return a.reshape((int(np.prod(batch)),) + a.shape[-2:]).copy(), batch


def _getrf(a) -> tuple:
    """Partial-pivoting LU of a batch of (m, n) matrices, as LAPACK getrf: the pivot of a
    column is its first entry of largest magnitude (|re| + |im| for complex, as izamax), a
    zero pivot is recorded in ``info`` (1-based) and its column left unscaled. Returns the
    packed factors, the 1-based int32 pivots and the int32 info, batch-shaped."""
    lu, batch = _batched(a)
    count, m, n = lu.shape
    k = min(m, n)
    pivots = np.empty((count, k), np.int32)
    info = np.zeros(count, np.int32)
    rows = np.arange(count)
    magnitude = (lambda x: np.abs(x.real) + np.abs(x.imag)) if lu.dtype.kind == "c" else np.abs
    for j in range(k):
        p = j + np.argmax(magnitude(lu[:, j:, j]), axis=1)
        pivots[:, j] = p + 1
        top = lu[rows, j].copy()
        lu[rows, j] = lu[rows, p]
        lu[rows, p] = top
        pivot = lu[:, j, j]
        zero = pivot == 0
        info[(info == 0) & zero] = j + 1
        # A zero pivot's column is zero below it: dividing by 1 leaves it so.
        lu[:, j + 1:, j] /= np.where(zero, 1, pivot)[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return lu.reshape(a.shape), pivots.reshape(batch + (k,)), info.reshape(batch)


def _permutation(pivots, m: int):
    """The row order ``perm`` that LAPACK's sequential swaps make (``A[perm] = L U``)."""
    flat = pivots.reshape(int(np.prod(pivots.shape[:-1])), pivots.shape[-1]).astype(np.intp) - 1
    count = flat.shape[0]
    perm = np.broadcast_to(np.arange(m), (count, m)).copy()
    rows = np.arange(count)
    for j in range(flat.shape[1]):
        target = flat[:, j]
        first = perm[:, j].copy()
        perm[:, j] = perm[rows, target]
        perm[rows, target] = first
    return perm.reshape(pivots.shape[:-1] + (m,))


def _permutation_matrix(pivots, m: int, dtype):
    """P with ``A = P L U`` for getrf's pivots: P[perm[i], i] = 1."""
    perm = _permutation(pivots, m)
    return (perm[..., None, :] == np.arange(m)[:, None]).astype(dtype)


def _unpack_arrays(lu):
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = np.tril(lu[..., :, :k], -1)
    idx = np.arange(k)
    L[..., idx, idx] = 1
    U = np.triu(lu[..., :k, :])
    return L, U


def _tri_solve(T, B):
    """T^-1 B for triangular T (NumPy has no triangular solver; gesv on a triangular
    matrix pivots nothing away, so its result is the triangular solve's)."""
    return np.linalg.solve(T, B)


def _lu_solve_arrays(lu, pivots, B, adjoint: bool):
    """A^-1 B (A^-H B with ``adjoint``) for A = P L U given by getrf's output; batch dims
    broadcast."""
    L, U = _unpack_arrays(lu)
    P = _permutation_matrix(pivots, lu.shape[-1], lu.dtype)
    batch = np.broadcast_shapes(lu.shape[:-2], B.shape[:-2])
    n = lu.shape[-1]
    L = np.broadcast_to(L, batch + (n, n))
    U = np.broadcast_to(U, batch + (n, n))
    P = np.broadcast_to(P, batch + (n, n))
    B = np.broadcast_to(B, batch + B.shape[-2:])
    if adjoint:  # A^H = U^H L^H P^T
        X = _tri_solve(np.conj(np.swapaxes(U, -1, -2)), B)
        X = _tri_solve(np.conj(np.swapaxes(L, -1, -2)), X)
        return np.matmul(P, X)
    X = np.matmul(np.swapaxes(P, -1, -2), B)
    return _tri_solve(U, _tri_solve(L, X))


def _larfg(x):
    """LAPACK larfg on a batch of vectors ``x`` (count, length): beta, tau and the scaled
    tail of v (v[0] = 1 implicit), with beta = -sign(re alpha) * ||x|| and tau = 0 (H = I)
    when there is nothing to reflect."""
    alpha = x[:, 0]
    xnorm = np.linalg.norm(x[:, 1:], axis=1)
    keep = (xnorm == 0) & (alpha.imag == 0)
    beta = -np.copysign(np.hypot(np.abs(alpha), xnorm), alpha.real)
    beta = np.where(keep, alpha.real, beta)
    safe_beta = np.where(keep, 1, beta)
    tau = np.where(keep, 0, (beta - alpha) / safe_beta).astype(x.dtype)
    scale = np.where(keep, 1, 1 / np.where(keep, 1, alpha - beta))
    return beta, tau, x[:, 1:] * scale[:, None].astype(x.dtype)


def _geqrf(a) -> tuple:
    """Householder QR as LAPACK geqrf: R on and above the diagonal, the reflectors' vectors
    below it, and tau."""
    qr_, batch = _batched(a)
    count, m, n = qr_.shape
    k = min(m, n)
    tau = np.zeros((count, k), qr_.dtype)
    for j in range(k):
        beta, tau_j, tail = _larfg(qr_[:, j:, j])
        tau[:, j] = tau_j
        qr_[:, j, j] = beta
        qr_[:, j + 1:, j] = tail
        v = qr_[:, j:, j].copy()
        v[:, 0] = 1
        # H^H = I - conj(tau) v v^H, applied to the columns on the right
        trailing = qr_[:, j:, j + 1:]
        w = np.einsum("bi,bij->bj", np.conj(v), trailing)
        trailing -= (np.conj(tau_j)[:, None, None] * v[:, :, None]) * w[:, None, :]
    return qr_.reshape(a.shape), tau.reshape(batch + (k,))


def _reflectors(A, k: int):
    """The vectors v_i (count, k, m) of A's first k reflectors: zeros above i, 1 at i."""
    v = np.triu(np.swapaxes(A[:, :, :k], -1, -2), 1)
    v[:, np.arange(k), np.arange(k)] = 1
    return v


def _apply_reflectors(A, tau, C, left: bool, transpose: bool):
    """Q C, Q^H C, C Q or C Q^H for Q = H_0 ... H_{k-1}, H_i = I - tau_i v_i v_i^H, batch
    dims of A, tau and C already equal. Q is never formed."""
    batch = C.shape[:-2]
    count = int(np.prod(batch))
    A = A.reshape((count,) + A.shape[-2:])
    tau = tau.reshape(count, tau.shape[-1])
    C = C.reshape((count,) + C.shape[-2:]).astype(np.result_type(C, A), copy=True)
    k = tau.shape[-1]
    v = _reflectors(A, k)
    # Q C applies H_{k-1} first; Q^H C applies H_0^H first; C Q applies H_0 first.
    order = range(k - 1, -1, -1) if left != transpose else range(k)
    for i in order:
        vi = v[:, i]
        t = np.conj(tau[:, i]) if transpose else tau[:, i]
        if left:
            w = np.einsum("bi,bij->bj", np.conj(vi), C)
            C -= (t[:, None, None] * vi[:, :, None]) * w[:, None, :]
        else:
            w = np.einsum("bij,bj->bi", C, vi)
            C -= (t[:, None, None] * w[:, :, None]) * np.conj(vi)[:, None, :]
    return C.reshape(batch + C.shape[-2:])


def _orgqr(A, tau):
    m, n = A.shape[-2:]
    eye = np.broadcast_to(np.eye(m, n, dtype=A.dtype), A.shape)
    return _apply_reflectors(A, tau, eye, True, False)


# ---- gradient helpers (ember ops, so they differentiate again) --------------------------


def _mH(x: Tensor) -> Tensor:
    return x.transpose(-2, -1).conj()


def _constant(array) -> Tensor:
    return make(np.ascontiguousarray(array))


def _solve_arrays(xp, T, B):
    if T.shape[-1] == 0 or B.shape[-1] == 0:
        batch = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
        return np.zeros(batch + B.shape[-2:], np.result_type(T, B))
    return xp.linalg.solve(T, B)


def _solve_grad_B(grad, T, B, result):
    return run(SOLVE, _mH(T), grad)


def _solve_grad_T(grad, T, B, result):
    return -(_solve_grad_B(grad, T, B, result) @ _mH(result))


# T^-1 B inside the gradient formulas, whose matrices are invertible by construction (the
# factors of a factorisation that succeeded): no singularity check, no loop over the batch.
SOLVE = defop("linalg_solve_triangular", node="LinalgSolveTriangularBackward0", nin=2,
              kind=KEEP, save=(0, "result"), forward=_solve_arrays,
              backward=(_solve_grad_T, _solve_grad_B), real_formulas=False)


def _unitri_solve_left(L: Tensor, B: Tensor) -> Tensor:
    return run(SOLVE, L, B)


def _solve_right(U: Tensor, B: Tensor) -> Tensor:
    """B U^-1."""
    return _mH(run(SOLVE, _mH(U), _mH(B)))


def _lu_backward(gL, gU, P, L, U) -> Tensor:
    """The gradient of A = P L U from those of L (m, k) and U (k, n): torch's formulas
    (linalg_lu_backward), for square, wide and tall A; complex-correct."""
    from ember._ops.shape import cat

    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if m == n:
        inner = 0
        if gL is not None:
            inner = (_mH(L) @ gL).tril(-1)
        if gU is not None:
            inner = inner + (gU @ _mH(U)).triu()
        gA = _unitri_solve_left(_mH(L), _solve_right(_mH(U), inner))
    elif m < n:
        U1, gU1 = U[..., :, :k], None if gU is None else gU[..., :, :k]
        inner = 0
        if gL is not None:
            inner = _mH(L) @ gL
        if gU is not None:
            inner = inner - gU.triu() @ _mH(U)
        gA = _solve_right(_mH(U1), inner.tril(-1))
        if gU is not None:
            gA = cat([gA + gU1.triu(), gU[..., :, k:]], -1)
            gA = _unitri_solve_left(_mH(L), gA)
        else:
            gA = _unitri_solve_left(_mH(L), gA)
            gA = cat([gA, U[..., :, k:] * 0], -1)
    else:
        L1, gL1 = L[..., :k, :], None if gL is None else gL[..., :k, :]
        inner = 0
        if gU is not None:
            inner = gU @ _mH(U)
        if gL is not None:
            inner = inner - _mH(L) @ gL.tril(-1)
        gA = _unitri_solve_left(_mH(L1), inner.triu())
        if gL is not None:
            gA = cat([gA + gL1.tril(-1), gL[..., k:, :]], -2)
            gA = _solve_right(_mH(U), gA)
        else:
            gA = _solve_right(_mH(U), gA)
            gA = cat([gA, L[..., k:, :] * 0], -2)
    return P @ gA


def _unpack(LU: Tensor) -> tuple:
    """(L, U) of packed factors, as ember ops of ``LU``."""
    m, n = LU.shape[-2:]
    k = min(m, n)
    L = LU[..., :, :k].tril(-1) + _constant(np.eye(m, k, dtype=LU._data.dtype))
    return L, LU[..., :k, :].triu()


# ---- lu_factor, lu, lu_unpack, lu_solve -------------------------------------------------


def _lu_factor_backward(grads, A, result):
    LU, pivots, _ = result
    gLU = grads[0]
    m, n = LU.shape[-2:]
    k = min(m, n)
    L, U = _unpack(LU)
    P = _constant(_permutation_matrix(pivots._data, m, LU._data.dtype))
    return _lu_backward(gLU[..., :, :k].tril(-1), gLU[..., :k, :].triu(), P, L, U)


LU_FACTOR = defop("linalg_lu_factor_ex", node="LinalgLuFactorExBackward0", kind=KEEP,
                  save=("result",), multi=1, forward=lambda xp, A: _getrf(A),
                  backward=_lu_factor_backward, real_formulas=False)


def _lu_forward(xp, A):
    lu, pivots, _ = _getrf(A)
    L, U = _unpack_arrays(lu)
    return L, U, _permutation_matrix(pivots, A.shape[-2], A.dtype)


def _lu_grad(grads, A, result):
    L, U, P = result
    return _lu_backward(grads[0], grads[1], P, L, U)


# The outputs are (L, U, P): P has no gradient, and the differentiable outputs come first.
LU = defop("linalg_lu", node="LinalgLuBackward0", kind=KEEP, save=("result",), multi=2,
           forward=_lu_forward, backward=_lu_grad, real_formulas=False)


def _check_lu_input(A: Tensor, name: str, pivot: bool, caller: str = "torch.lu_factor") -> None:
    if A._data.ndim < 2:
        raise RuntimeError(f"{caller}: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(A._data.shape)} instead")
    if not pivot:
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU")
    _check_lapack_dtype(A, "lu_cpu", any_dtype=True)


def _raise_singular(info, name: str, batched: bool) -> None:
    bad = np.flatnonzero(info.reshape(-1))
    if bad.size:
        b = int(bad[0])
        i = int(info.reshape(-1)[b])
        where = f"(Batch element {b}): " if batched else ""
        raise RuntimeError(
            f"{name}: {where}U[{i},{i}] is zero and using it on lu_solve would result in a "
            "division by zero. If you still want to perform the factorization, consider "
            "calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """Mirrors ``torch.linalg.lu_factor_ex``: (LU, pivots, info) of partial-pivoting LU of
    a batch of (m, n) matrices, pivots 1-based int32 as LAPACK's, info the 1-based index of
    the first zero pivot (0: none); ``check_errors`` raises on it. ``pivot=False`` is
    refused, as by torch on the CPU."""
    _check_lu_input(A, "linalg.lu_factor", pivot)
    LU_, pivots, info = run(LU_FACTOR, A)
    if check_errors:
        _raise_singular(info._data, "torch.linalg.lu_factor_ex", A._data.ndim > 2)
    return lu_factor_ex_result((LU_, pivots, info))


def lu_factor(A: Tensor, *, pivot: bool = True):
    """Mirrors ``torch.linalg.lu_factor``: (LU, pivots) as ``lu_factor_ex``, raising torch's
    error for a singular matrix."""
    _check_lu_input(A, "linalg.lu_factor", pivot)
    LU_, pivots, info = run(LU_FACTOR, A)
    _raise_singular(info._data, "torch.linalg.lu_factor", A._data.ndim > 2)
    return lu_factor_result((LU_, pivots))


def linalg_lu(A: Tensor, *, pivot: bool = True):
    """Mirrors ``torch.linalg.lu``: (P, L, U) with ``A = P @ L @ U``, L unit lower (m, k),
    U upper (k, n); differentiable through L and U."""
    _check_lu_input(A, "linalg.lu_factor", pivot, "linalg.lu")
    L, U, P = run(LU, A)
    return lu_result((P, L, U))


def _lu_unpack_forward(xp, LU_data, pivots, unpack_data, unpack_pivots):
    empty = np.empty((0,), LU_data.dtype)
    L, U = _unpack_arrays(LU_data) if unpack_data else (empty, empty)
    P = (_permutation_matrix(pivots, LU_data.shape[-2], LU_data.dtype) if unpack_pivots
         else empty)
    return L, U, P


def _lu_unpack_backward(grads, LU_data, pivots, unpack_data, unpack_pivots):
    gL, gU = grads[0], grads[1]
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    from ember._ops.creation import zeros
    from ember._ops.shape import cat

    grad = zeros(LU_data.shape, dtype=LU_data.dtype)
    if gL is not None:
        low = gL.tril(-1)
        grad = grad + (cat([low, zeros(low.shape[:-1] + (n - k,), dtype=low.dtype)], -1)
                       if n > k else low)
    if gU is not None:
        up = gU.triu()
        grad = grad + (cat([up, zeros(up.shape[:-2] + (m - k, n), dtype=up.dtype)], -2)
                       if m > k else up)
    return grad


LU_UNPACK = defop("lu_unpack", node="LuUnpackBackward0", kind=KEEP, save=(0,), multi=2,
                  forward=_lu_unpack_forward, backward=_lu_unpack_backward,
                  real_formulas=False)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True):
    """Mirrors ``torch.lu_unpack``: (P, L, U) from ``lu_factor``'s output; an output not
    asked for is an empty tensor, as in torch."""
    if LU_pivots.dtype.name != "int32":
        raise RuntimeError(
            "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 "
            "dtype.\nNote: this function is intended to be used with the output produced by "
            "torch.linalg.lu_factor")
    L, U, P = run(LU_UNPACK, LU_data, LU_pivots._data, bool(unpack_data), bool(unpack_pivots))
    return lu_unpack_result((P, L, U))


def _lu_solve_forward(xp, LU_data, B, pivots, left, adjoint):
    if left:
        return _lu_solve_arrays(LU_data, pivots, B, adjoint)
    # X A = B  <=>  A^H X^H = B^H
    Bh = np.conj(np.swapaxes(B, -1, -2))
    return np.conj(np.swapaxes(_lu_solve_arrays(LU_data, pivots, Bh, not adjoint), -1, -2))


def _lu_solve_grad_B(grad, LU_data, B, pivots, left, adjoint, result):
    return run(LU_SOLVE, LU_data, grad, pivots, left, not adjoint)


def _lu_solve_grad_LU(grad, LU_data, B, pivots, left, adjoint, result):
    gB = _lu_solve_grad_B(grad, LU_data, B, pivots, left, adjoint, result)
    X = result
    if left:
        gA = -(X @ _mH(gB)) if adjoint else -(gB @ _mH(X))
    else:
        gA = -(_mH(gB) @ X) if adjoint else -(_mH(X) @ gB)
    # A = P L U: gL = P^T gA U^H (strictly lower part), gU = L^H P^T gA (upper part)
    L, U = _unpack(LU_data)
    P = _constant(_permutation_matrix(pivots, LU_data.shape[-1], LU_data._data.dtype))
    PtgA = P.transpose(-2, -1) @ gA
    return (PtgA @ _mH(U)).tril(-1) + (_mH(L) @ PtgA).triu()


LU_SOLVE = defop("linalg_lu_solve", node="LinalgLuSolveBackward0", nin=2, kind=KEEP,
                 save=(0, "result"), forward=_lu_solve_forward,
                 backward=(_lu_solve_grad_LU, _lu_solve_grad_B), real_formulas=False)




def _check_lu_solve(LU_data: Tensor, pivots: Tensor, B: Tensor, left: bool) -> None:
    _check_dims(LU_data, "torch.linalg.lu_solve")
    if B._data.ndim < 2:
        raise RuntimeError(
            "linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    if LU_data._data.dtype != B._data.dtype:
        raise RuntimeError(
            "linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type "
            f"{scalar_type_name(LU_data.dtype)} and B of type {scalar_type_name(B.dtype)} "
            "instead")
    if pivots.dtype.name != "int32":
        raise RuntimeError(
            "linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    n = LU_data._data.shape[-1]
    rows, cols = B._data.shape[-2:]
    if (rows if left else cols) != n:
        raise RuntimeError(
            "linalg.lu_solve: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    if pivots._data.shape[-1:] != (n,):
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as "
                           "the dimension of the matrix")
    if pivots._data.shape != LU_data._data.shape[:-1]:
        raise RuntimeError(
            "linalg.lu_solve: Expected LU.shape[:-1] and pivots.shape to be the same, but got "
            f"pivots with shape {list(pivots._data.shape)} instead")
    from ember._ops.linalg import _broadcast_batch

    _broadcast_batch(B._data.shape[:-2], LU_data._data.shape[:-2])
    _check_lapack_dtype(LU_data, "lu_cpu", any_dtype=True)


def linalg_lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
                    adjoint: bool = False) -> Tensor:
    """Mirrors ``torch.linalg.lu_solve``: X with ``A X = B`` (``X A = B`` when ``left`` is
    False; A^H in place of A with ``adjoint``) for A given by ``lu_factor``'s (LU,
    pivots); batch dims broadcast. Differentiable in LU and B."""
    _check_lu_solve(LU, pivots, B, left)
    return run(LU_SOLVE, LU, B, pivots._data, bool(left), bool(adjoint))


def lu_solve(input: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """Mirrors ``torch.lu_solve`` (deprecated): ``linalg.lu_solve`` with the arguments in
    the older order, and torch's deprecation warning."""
    warnings.warn(
        "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in "
        "a future PyTorch release.\nNote that torch.linalg.lu_solve has its arguments "
        "reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = "
        "torch.linalg.lu_solve(LU, pivots, B)", UserWarning, stacklevel=2)
    return linalg_lu_solve(LU_data, LU_pivots, input)


def lu(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """Mirrors ``torch.lu`` (``torch.functional.lu``, deprecated): the tuple (LU, pivots),
    or with ``get_infos`` a ``torch.return_types._lu_with_info`` (LU, pivots, info). It
    never raises for a singular matrix (torch's does not either)."""
    tensor_argument("_lu_with_info", "input", A, 1)
    if type(pivot) is not bool:  # torch's Python form passes it by keyword
        pivot = bool_argument(pivot, "_lu_with_info", "pivot", None)
    warnings.warn(
        "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex"
        " and will be removed in a future PyTorch release.\nLU, pivots = torch.lu(A, "
        "compute_pivots)\nshould be replaced with\nLU, pivots = torch.linalg.lu_factor(A, "
        "compute_pivots)\nand\nLU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)"
        "\nshould be replaced with\nLU, pivots, info = torch.linalg.lu_factor_ex(A, "
        "compute_pivots)", UserWarning, stacklevel=2)
    result = lu_factor_ex(A, pivot=pivot)
    return lu_with_info_result(result) if get_infos else tuple(result[:2])


# ---- geqrf, householder_product / orgqr, ormqr ------------------------------------------


def _geqrf_backward(grads, A):
    raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


GEQRF = defop("geqrf", node="GeqrfBackward0", kind=KEEP, multi=True,
              forward=lambda xp, A: _geqrf(A), backward=_geqrf_backward)


def geqrf(input: Tensor):
    """Mirrors ``torch.geqrf``: (a, tau) of LAPACK's Householder QR: R on and above the
    diagonal of ``a``, the reflectors' vectors below it (v[0] = 1 implicit), tau their
    scales. Not differentiable (torch's backward raises)."""
    if input._data.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _check_lapack_dtype(input, "geqrf_cpu", any_dtype=True)
    return geqrf_result(run(GEQRF, input))


def _reflector_grads(G: Tensor, A: Tensor, tau: Tensor) -> tuple:
    """The gradients of A and tau for Q = H_0 ... H_{k-1} E (E the first columns of the
    identity, as many as G has) given Q's gradient G: gH_i = (H_0..H_{i-1})^H G
    (H_{i+1}..H_{k-1} E)^H, then g_tau_i = -v_i^H gH_i v_i and
    g_v_i = -conj(tau_i) gH_i v_i - tau_i gH_i^H v_i. Complex-correct."""
    from ember._ops.shape import stack

    m, n = A.shape[-2:]
    k = tau.shape[-1]
    dtype = A._data.dtype
    V = A[..., :, :k].tril(-1) + _constant(np.eye(m, k, dtype=dtype))
    eye = _constant(np.eye(m, dtype=dtype))
    vs = [V[..., :, i:i + 1] for i in range(k)]
    H = [eye - tau[..., i, None, None] * (vs[i] @ _mH(vs[i])) for i in range(k)]
    right = [None] * k
    acc = _constant(np.eye(m, G.shape[-1], dtype=dtype))
    for i in range(k - 1, -1, -1):
        right[i] = acc
        acc = H[i] @ acc
    left = eye
    g_tau, g_v = [], []
    for i in range(k):
        gH = _mH(left) @ G @ _mH(right[i])
        v = vs[i]
        g_tau.append(-(_mH(v) @ gH @ v)[..., 0, 0])
        g_v.append((-(tau[..., i, None, None].conj() * (gH @ v))
                    - tau[..., i, None, None] * (_mH(gH) @ v))[..., 0])
        left = left @ H[i]
    if k == 0:  # no reflectors: torch gives no gradient at all
        return None, None
    gV = stack(g_v, -1).tril(-1)
    if n > k:
        from ember._ops.creation import zeros
        from ember._ops.shape import cat

        gV = cat([gV, zeros(gV.shape[:-1] + (n - k,), dtype=gV.dtype)], -1)
    return gV, stack(g_tau, -1)


def _householder_grad_A(grad, A, tau):
    return _reflector_grads(grad, A, tau)[0]


def _householder_grad_tau(grad, A, tau):
    return _reflector_grads(grad, A, tau)[1]


HOUSEHOLDER = defop("linalg_householder_product", node="LinalgHouseholderProductBackward0",
                    nin=2, kind=KEEP, save=(0, 1), forward=lambda xp, A, tau: _orgqr(A, tau),
                    backward=(_householder_grad_A, _householder_grad_tau),
                    real_formulas=False)


def householder_product(input: Tensor, tau: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.householder_product`` (and ``torch.orgqr``): the first n
    columns of H_0 ... H_{k-1}, H_i = I - tau_i v_i v_i^H with v_i read below A's diagonal
    (``geqrf``'s convention); differentiable in both."""
    name = "torch.linalg.householder_product"
    A = input
    a, t = A._data.shape, tau._data.shape
    if len(a) < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if a[-2] < a[-1]:
        raise RuntimeError(
            f"{name}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if a[-1] < (t[-1] if t else 0):
        raise RuntimeError(
            f"{name}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if len(t) != len(a) - 1:
        raise RuntimeError(
            f"{name}: Expected tau to have one dimension less than input, but got tau.ndim "
            f"equal to {len(t)} and input.ndim is equal to {len(a)}")
    if t[:-1] != a[:-2]:
        raise RuntimeError(
            f"{name}: Expected batch dimensions of tau to be equal to input.shape[:-2], but "
            f"got {list(t[:-1])}")
    if A._data.dtype != tau._data.dtype:
        raise RuntimeError(
            f"{name}: tau dtype {scalar_type_name(tau.dtype)} does not match input dtype "
            f"{scalar_type_name(A.dtype)}")
    _check_lapack_dtype(A, "orgqr_cpu", any_dtype=True)
    return run(HOUSEHOLDER, A, tau)


def orgqr(input: Tensor, input2: Tensor) -> Tensor:
    """Mirrors ``torch.orgqr``: ``linalg.householder_product`` (``input2`` is tau)."""
    tensor_argument("orgqr", "input2", input2, 2)
    return householder_product(input, input2)


def _ormqr_gQ(grad, other, left, transpose):
    if left:
        return other @ _mH(grad) if transpose else grad @ _mH(other)
    return _mH(grad) @ other if transpose else _mH(other) @ grad


def _ormqr_grad_A(grad, input, tau, other, left, transpose):
    return _reflector_grads(_ormqr_gQ(grad, other, left, transpose), input, tau)[0]


def _ormqr_grad_tau(grad, input, tau, other, left, transpose):
    return _reflector_grads(_ormqr_gQ(grad, other, left, transpose), input, tau)[1]


def _ormqr_grad_other(grad, input, tau, other, left, transpose):
    return run(ORMQR, input, tau, grad, left, not transpose)


ORMQR = defop("ormqr", node="OrmqrBackward0", nin=3, kind=KEEP, save=(0, 1, 2),
              forward=lambda xp, A, tau, C, left, transpose: _apply_reflectors(
                  A, tau, C, left, transpose),
              backward=(_ormqr_grad_A, _ormqr_grad_tau, _ormqr_grad_other),
              real_formulas=False)


def ormqr(input: Tensor, input2: Tensor, input3: Tensor, left: bool = True,
          transpose: bool = False) -> Tensor:
    """Mirrors ``torch.ormqr``: Q @ other (other @ Q when ``left`` is False; Q^H in place of
    Q with ``transpose``) for Q = H_0 ... H_{k-1} given by ``geqrf``'s (input, tau), with
    tau = ``input2`` and other = ``input3`` (torch's names), without forming Q;
    differentiable in all three."""
    name = "torch.ormqr"
    tau, other = input2, input3
    a, t, c = input._data.shape, tau._data.shape, other._data.shape
    if len(a) < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if len(c) < 2:
        raise RuntimeError(f"{name}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if c[side] != a[-2]:
        raise RuntimeError(
            f"{name}: other.shape[{side}] must be equal to input.shape[-2]")
    if (t[-1] if t else 0) != min(c[side], a[-1]):
        raise RuntimeError(
            f"{name}: tau.shape[-1] must be equal to min(other.shape[{side}], "
            "input.shape[-1])")
    if len(t) != len(a) - 1:
        raise RuntimeError(
            f"{name}: Expected tau to have one dimension less than input, but got tau.ndim "
            f"equal to {len(t)} and input.ndim is equal to {len(a)}")
    if len(c) != len(a):
        raise RuntimeError(
            f"{name}: Expected other to have the same number of dimensions as input, but got "
            f"other.ndim equal to {len(c)} and input.ndim is equal to {len(a)}")
    if t[:-1] != a[:-2] or c[:-2] != a[:-2]:
        raise RuntimeError(
            f"{name}: Expected batch dimensions of tau and other to be equal to "
            f"input.shape[:-2]")
    for what, x in (("tau", tau), ("other", other)):
        if x._data.dtype != input._data.dtype:
            raise RuntimeError(
                f"{name}: Expected input and {what} to have the same dtype, but input has "
                f"dtype {scalar_type_name(input.dtype)} and {what} has dtype "
                f"{scalar_type_name(x.dtype)}")
    _check_lapack_dtype(input, "ormqr_cpu", any_dtype=True)
    return run(ORMQR, input, tau, other, bool(left), bool(transpose))


# ---- eig, eigvals -----------------------------------------------------------------------


def _complex_of(dtype):
    return np.result_type(dtype, np.complex64)


def _eig_forward(xp, A, real_input):
    if not np.isfinite(A).all():
        raise RuntimeError("torch.linalg.eig: input tensor should not contain infs or NaNs.")
    L, V = np.linalg.eig(A)
    dtype = _complex_of(A.dtype)
    return L.astype(dtype), V.astype(dtype)


def _eig_backward(grads, A, real_input, result):
    # torch's linalg_eig_backward: with E_ij = L_j - L_i,
    # gA = V^-H (diag(gL) + (V^H gV - V^H V diag(re(V^H gV))) / conj(E)) V^H,
    # the real part for a real input.
    gL, gV = grads
    L, V = result
    Vh = _mH(V)
    n = L.shape[-1]
    diagonal = _constant(np.eye(n, dtype=bool))
    if gV is not None:
        VhgV = Vh @ gV
        diag = VhgV.diagonal(0, -2, -1)
        if float(np.abs(diag._data.imag).max(initial=0)) > 1e-2 * (
                1 + float(np.abs(diag._data).max(initial=0))):
            raise RuntimeError(
                "linalg_eig_backward: The eigenvectors in the complex case are specified up "
                "to multiplication by e^{i phi}. The specified loss function depends on this "
                "quantity, so it is ill-defined.")
        VhgV = VhgV - (Vh @ V) * diag.real.unsqueeze(-2)
        from ember._ops.pointwise import where

        E = L.unsqueeze(-2) - L.unsqueeze(-1)
        inner = where(diagonal, 0, VhgV / where(diagonal, 1, E).conj())
        if gL is not None:
            inner = inner + gL.unsqueeze(-1) * _constant(np.eye(n, dtype=L._data.dtype))
    else:
        inner = gL.unsqueeze(-1) * _constant(np.eye(n, dtype=L._data.dtype))
    gA = run(SOLVE, Vh, inner @ Vh)
    return gA.real if real_input else gA


EIG = defop("linalg_eig", node="LinalgEigBackward0", kind=KEEP, save=("result",),
            multi=True, forward=_eig_forward, backward=_eig_backward, real_formulas=False)


def _check_eig(A: Tensor, name: str = "linalg.eig") -> None:
    if A.dtype.category < FLOAT:
        raise RuntimeError(f"Unknown Complex ScalarType for {scalar_type_name(A.dtype)}")
    _check_float(A, name)
    _check_dims(A, name)
    _check_lapack_dtype(A, "linalg_eig_out_cpu")


def eig(input: Tensor):
    """Mirrors ``torch.linalg.eig``: complex eigenvalues and eigenvectors (LAPACK geev's:
    unit norm, largest component real), complex even for a real input. The gradient is
    torch's, and refuses losses that depend on the eigenvectors' phases, as torch does."""
    _check_eig(input)
    return eig_result(run(EIG, input, input._data.dtype.kind != "c"))


def eigvals(input: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.eigvals``: output 0 of ``eig`` when a gradient is needed (its
    node is torch's ``LinalgEigBackward0``), else the eigenvalues alone."""
    A = input
    _check_eig(A, "linalg.eigvals")
    data = A._data
    finite = np.isfinite(data).all(axis=(-2, -1))
    if not finite.all():
        # torch's LAPACK returns what its iteration made of them; ember gives nan for
        # every eigenvalue of such a matrix (NumPy refuses them)
        values = np.full(data.shape[:-1], complex(np.nan, np.nan), _complex_of(data.dtype))
        values[finite] = np.linalg.eigvals(data[finite])
        return make(values)
    if A.requires_grad:
        return run(EIG, A, A._data.dtype.kind != "c")[0]
    return make(np.linalg.eigvals(data).astype(_complex_of(data.dtype)))


_qr_method = bools_method(qr, "some")
_svd_method = bools_method(svd, "some", "compute_uv")


# ---- ldl_factor, ldl_solve --------------------------------------------------------------

_BUNCH_KAUFMAN_ALPHA = (1 + 17 ** 0.5) / 8


def _mirror(a, hermitian: bool):
    """The full matrix of which ``a``'s lower triangle is kept (conjugated with
    ``hermitian``)."""
    low = np.tril(a, -1)
    upper = np.swapaxes(np.conj(low) if hermitian else low, -1, -2)
    return low + upper + a * np.eye(a.shape[-1], dtype=bool)


def _sytrf(a, hermitian: bool) -> tuple:
    """Bunch-Kaufman LDL^T (LDL^H with ``hermitian``) of the lower triangles of a batch, as
    LAPACK sytrf/hetrf with uplo 'L': 1x1 or 2x2 pivots, chosen per matrix, so each matrix
    keeps its own column position; the matrices move together, one block per step. Kept as
    full (mirrored) matrices, on which LAPACK's interchanges of the trailing part are one
    symmetric permutation."""
    work, batch = _batched(a)
    count, n, _ = work.shape
    hermitian = hermitian and work.dtype.kind == "c"
    work = _mirror(work, hermitian)
    if hermitian:
        work = work.copy()
        idx = np.arange(n)
        work[:, idx, idx] = work[:, idx, idx].real
    pivots = np.zeros((count, n), np.int32)
    info = np.zeros(count, np.int32)
    col = np.zeros(count, np.intp)
    b = np.arange(count)
    r = np.arange(n)
    complex_ = work.dtype.kind == "c"

    def mag(x):
        return np.abs(x.real) + np.abs(x.imag) if complex_ else np.abs(x)

    conj = np.conj if hermitian else (lambda x: x)
    with np.errstate(divide="ignore", invalid="ignore"):
        while n and (col < n).any():
            active = col < n
            k = np.minimum(col, n - 1)
            k1 = np.minimum(k + 1, n - 1)
            diag = work[b, k, k]
            absakk = np.abs(diag.real) if hermitian else mag(diag)
            below = r > k[:, None]
            colvals = np.where(below, mag(work[b, :, k]), -1.0)
            imax = colvals.argmax(1)
            colmax = np.maximum(colvals[b, imax], 0)
            rowvals = np.where((r >= k[:, None]) & (r != imax[:, None]),
                               mag(work[b, imax, :]), -1.0)
            rowmax = np.maximum(rowvals.max(1), 0)
            diag_imax = work[b, imax, imax]
            zero = np.maximum(absakk, colmax) == 0
            no_swap = zero | (absakk >= _BUNCH_KAUFMAN_ALPHA * colmax) | (
                absakk >= _BUNCH_KAUFMAN_ALPHA * colmax * (colmax / rowmax))
            swap_one = ~no_swap & ((np.abs(diag_imax.real) if hermitian else mag(diag_imax))
                                   >= _BUNCH_KAUFMAN_ALPHA * rowmax)
            two = ~no_swap & ~swap_one & active
            kp = np.where(no_swap, k, imax)
            kk = k + two
            # the symmetric interchange of kk and kp in the trailing part
            perm = np.broadcast_to(r, (count, n)).copy()
            perm[b, kk] = kp
            perm[b, kp] = kk
            trailing = (r >= k[:, None])[:, :, None] & (r >= k[:, None])[:, None, :]
            moved = (active & (kp != kk))[:, None, None] & trailing
            work = np.where(moved, work[b[:, None, None], perm[:, :, None],
                                        perm[:, None, :]], work)
            # 1x1: A -= x x^H / d, the column becomes x / d
            one = active & ~two & ~zero
            d = work[b, k, k].real if hermitian else work[b, k, k]
            d = np.where(one, d, 1)
            x = np.where(below & one[:, None], work[b, :, k], 0)
            update = x[:, :, None] * (conj(x) / d[:, None])[:, None, :]
            # 2x2: LAPACK's formulas, with D's off-diagonal element d21
            below2 = r > k1[:, None]
            x1 = np.where(below2 & two[:, None], work[b, :, k], 0)
            x2 = np.where(below2 & two[:, None], work[b, :, k1], 0)
            d21 = np.where(two, work[b, k1, k], 1)
            if hermitian:
                dabs = np.abs(d21)
                d11 = work[b, k1, k1].real / dabs
                d22 = work[b, k, k].real / dabs
                unit = d21 / dabs
                scale = (1 / (d11 * d22 - 1)) / dabs
                wk = scale[:, None] * (d11[:, None] * x1 - unit[:, None] * x2)
                wkp1 = scale[:, None] * (d22[:, None] * x2 - np.conj(unit)[:, None] * x1)
            else:
                d11 = work[b, k1, k1] / d21
                d22 = work[b, k, k] / d21
                scale = (1 / (d11 * d22 - 1)) / d21
                wk = scale[:, None] * (d11[:, None] * x1 - x2)
                wkp1 = scale[:, None] * (d22[:, None] * x2 - x1)
            wk = np.where(two[:, None], wk, 0)
            wkp1 = np.where(two[:, None], wkp1, 0)
            update = update + x1[:, :, None] * conj(wk)[:, None, :] + (
                x2[:, :, None] * conj(wkp1)[:, None, :])
            work = work - update
            column = np.where(below & one[:, None], x / d[:, None], work[b, :, k])
            column = np.where(below2 & two[:, None], wk, column)
            work[b, :, k] = column
            work[b, :, k1] = np.where(below2 & two[:, None], wkp1, work[b, :, k1])
            work = _mirror(work, hermitian)
            info[(info == 0) & zero & active] = (k + 1)[(info == 0) & zero & active]
            pivots[b[active], k[active]] = np.where(two, -(kp + 1), kp + 1)[active]
            pivots[b[two], k1[two]] = -(kp + 1)[two]
            col = col + 1 + two
    return (np.tril(work).reshape(a.shape), pivots.reshape(batch + (n,)),
            info.reshape(batch))


def _ldl_parts(LD, pivots, hermitian: bool):
    """(M, D, first_two) with A = M D M^T (M^H with ``hermitian``) for sytrf's packed
    output, as stacks: M the product of the interchanges and the unit lower blocks, D block
    diagonal, first_two where a 2x2 block starts."""
    work, batch = _batched(LD)
    count, n, _ = work.shape
    piv = pivots.reshape(count, n).astype(np.intp)
    b = np.arange(count)
    r = np.arange(n)
    # a 2x2 block's second column: the column after a negative pivot that starts a block
    second = np.zeros((count, n), bool)
    for k in range(1, n):
        second[:, k] = (piv[:, k - 1] < 0) & ~second[:, k - 1]
    first_two = (piv < 0) & ~second
    D = np.zeros_like(work)
    D[:, r, r] = work[:, r, r]
    off = np.zeros((count, n), work.dtype)
    off[:, :-1] = np.where(first_two[:, :-1], work[:, r[1:], r[:-1]], 0)
    D[:, r[1:], r[:-1]] = off[:, :-1]
    D[:, r[:-1], r[1:]] = np.conj(off[:, :-1]) if hermitian else off[:, :-1]
    M = np.broadcast_to(np.eye(n, dtype=work.dtype), (count, n, n)).copy()
    for k in range(n):
        start = ~second[:, k]
        size = np.where(first_two[:, k], 2, 1)
        # the interchange: row k (1x1) or k + 1 (2x2) with the pivot row
        target = np.where(piv[:, k] > 0, piv[:, k], -piv[:, k]) - 1
        row = np.minimum(k + size - 1, n - 1)
        swap = start & (target != row)
        perm = np.broadcast_to(r, (count, n)).copy()
        perm[b, row] = np.where(swap, target, row)
        perm[b, target] = np.where(swap, row, target)
        M = M[b[:, None, None], r[None, :, None], perm[:, None, :]]
        # then the unit lower block: column k (and k + 1) below the block
        for j in range(2):
            colj = np.minimum(k + j, n - 1)
            use = start & (j < size)
            low = np.where((r > k + size[:, None] - 1) & use[:, None], work[b, :, colj], 0)
            M[b, :, colj] += np.einsum("bij,bj->bi", M, low)
    return M, D, first_two


def _block_diag_solve(D, first_two, Y):
    """D^-1 Y for sytrf's block-diagonal D (count, n, n), block by block, so that a zero
    block gives inf and nan as LAPACK sytrs does rather than an error."""
    count, n = D.shape[0], D.shape[-1]
    b = np.arange(count)[:, None]
    r = np.arange(n)
    diag = D[:, r, r]
    second = np.zeros_like(first_two)
    second[:, 1:] = first_two[:, :-1]
    # each row's partner in its 2x2 block (itself in a 1x1 block)
    partner = r + first_two - second
    off = D[b, r, partner]
    partner_diag = diag[b, partner]
    det = diag * partner_diag - off * D[b, partner, r]
    in_two = (first_two | second)[:, :, None]
    Y_partner = Y[b, partner]
    with np.errstate(divide="ignore", invalid="ignore"):
        two = (partner_diag[:, :, None] * Y - off[:, :, None] * Y_partner) / det[:, :, None]
        return np.where(in_two, two, Y / diag[:, :, None])


def _ldl_solve_forward(xp, LD, B, pivots, hermitian):
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    n = LD.shape[-1]
    if n == 0 or B.shape[-1] == 0:
        return np.zeros(batch + B.shape[-2:], B.dtype)
    full = np.broadcast_to
    LD = full(LD, batch + (n, n))
    M, D, first_two = _ldl_parts(LD, full(pivots, batch + (n,)), hermitian)
    Mt = np.swapaxes(np.conj(M) if hermitian else M, -1, -2)
    X = np.linalg.solve(M, full(B, batch + B.shape[-2:]).reshape((-1,) + B.shape[-2:]))
    X = _block_diag_solve(D, first_two, X)
    return np.linalg.solve(Mt, X).reshape(batch + B.shape[-2:])


ldl_factor_result = _return_type("linalg_ldl_factor", ("LD", "pivots"))
ldl_factor_ex_result = _return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))
# torch records both with a node that refuses to differentiate
LDL_FACTOR = defop("linalg_ldl_factor_ex", node="NotImplemented", kind=KEEP, multi=1,
                   forward=lambda xp, A, hermitian: _sytrf(A, hermitian),
                   backward=not_implemented("linalg_ldl_factor_ex"))
LDL_SOLVE = defop("linalg_ldl_solve", node="NotImplemented", nin=2, kind=KEEP,
                  forward=_ldl_solve_forward,
                  backward=(not_implemented("linalg_ldl_solve"),
                            not_implemented("linalg_ldl_solve")))


def _ldl_run(A: Tensor, hermitian: bool, name: str, check_errors: bool) -> tuple:
    _check_dims(A, "torch.linalg.ldl_factor_ex")
    _check_float(A, "torch.linalg.ldl_factor_ex")
    _check_lapack_dtype(A, "ldl_factor_kernel_cpu")
    LD, pivots, info = run(LDL_FACTOR, A, bool(hermitian))
    if check_errors and info._data.any():
        # torch words it as a failed internal assert ahead of this
        first = int(info._data.reshape(-1)[np.flatnonzero(info._data)[0]])
        raise RuntimeError(f"{name}: Unknown error code: {first}.")
    return LD, pivots, info


def ldl_factor_ex(input: Tensor, *, hermitian: bool = False, check_errors: bool = False):
    """Mirrors ``torch.linalg.ldl_factor_ex``: (LD, pivots, info) of the Bunch-Kaufman
    factorisation of the lower triangle of ``input`` (LAPACK sytrf, hetrf with ``hermitian``):
    L below the diagonal, D's 1x1 and 2x2 blocks on it (a 2x2 block's pivots both
    negative), info the 1-based index of a zero block. Not differentiable, as in torch."""
    return ldl_factor_ex_result(_ldl_run(input, hermitian, "torch.linalg.ldl_factor_ex",
                                         check_errors))


def ldl_factor(input: Tensor, *, hermitian: bool = False):
    """Mirrors ``torch.linalg.ldl_factor``: (LD, pivots) as ``ldl_factor_ex``, raising for
    a zero block of D."""
    return ldl_factor_result(_ldl_run(input, hermitian, "torch.linalg.ldl_factor", True)[:2])


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False) -> Tensor:
    """Mirrors ``torch.linalg.ldl_solve``: X with ``A X = B`` for A given by
    ``ldl_factor``'s (LD, pivots); batch dims broadcast. ember solves through the factors
    rebuilt as matrices rather than LAPACK sytrs' sweeps (the same X)."""
    _check_dims(LD, "torch.linalg.ldl_solve")
    if B._data.ndim < 2:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(B._data.ndim, 1)}, "
            f"{max(B._data.ndim, 1) - 1}], but got -2)")
    if LD._data.dtype != B._data.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type "
            f"{scalar_type_name(B.dtype)} and A of type {scalar_type_name(LD.dtype)} instead.")
    n = LD._data.shape[-1]
    if B._data.shape[-2] != n:
        raise RuntimeError(
            f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix is {n} by "
            f"{n} but each b matrix is {B._data.shape[-2]} by {B._data.shape[-1]}")
    if pivots._data.shape != LD._data.shape[:-1]:
        raise RuntimeError(
            "torch.linalg.ldl_solve: Expected LD.shape[:-1] and pivots.shape to be the same, "
            f"but got pivots with shape {list(pivots._data.shape)} instead")
    from ember._ops.linalg import _broadcast_batch

    _broadcast_batch(B._data.shape[:-2], LD._data.shape[:-2])
    return run(LDL_SOLVE, LD, B, pivots._data, bool(hermitian))


# torch.lu and torch.lu_solve are the deprecated top-level forms; torch.linalg's are
# linalg_lu and linalg_lu_solve here (ember.linalg names them lu and lu_solve).
__all__ = ["geqrf", "lu", "lu_solve", "lu_unpack", "orgqr", "ormqr"]
LINALG_ALL = ["eig", "eigvals", "householder_product", "ldl_factor", "ldl_factor_ex",
              "ldl_solve", "lu_factor", "lu_factor_ex"]

attach({"lu": lu, "lu_solve": method_taking_tensor(lu_solve, "LU_data", "LU_pivots"),
        "geqrf": geqrf, "orgqr": method_taking_tensor(orgqr, "input2"),
        "ormqr": method_taking_tensor(ormqr, "input2", "input3"), "qr": _qr_method,
        "svd": _svd_method})
