"""Mirrors ``torch.linalg``: the namespace of linear-algebra functions (defined with their
gradients in ``ember._ops.linalg``)."""
from ember._ops import linalg_decomp as _linalg_decomp
from ember._ops import linalg_more as _linalg_more
from ember._ops.linalg import (
    LinAlgError,
    _linalg_cross,
    det,
    eigh,
    eigvalsh,
    inv,
    linalg_cholesky,
    linalg_matrix_exp,
    linalg_qr,
    linalg_svd,
    lstsq,
    matmul,
    matrix_norm,
    matrix_power,
    norm,
    pinv,
    slogdet,
    solve,
    svdvals,
    vector_norm,
)
from ember._ops.out import install as _install_out

svd = linalg_svd
cholesky = linalg_cholesky
qr = linalg_qr
matrix_exp = linalg_matrix_exp

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "norm", "pinv", "qr",
           "slogdet", "solve", "svd", "svdvals", "vector_norm"]


def cross(input, other, *, dim: int = -1):
    """Mirrors ``torch.linalg.cross``: the cross product along ``dim`` (default -1)."""
    return _linalg_cross(input, other, dim)


# torch.linalg's functions defined with the factorisations and the rest of linalg's ops
for _module in (_linalg_decomp, _linalg_more):
    globals().update({_name: getattr(_module, _name) for _name in _module.LINALG_ALL})
    __all__ += _module.LINALG_ALL
del _module
# torch.lu / torch.lu_solve (top level) and torch.linalg's differ: these are linalg's
lu = _linalg_decomp.linalg_lu
lu_solve = _linalg_decomp.linalg_lu_solve
__all__ += ["lu", "lu_solve"]

_install_out(globals(), "linalg.")  # torch's out= keyword
del _install_out
