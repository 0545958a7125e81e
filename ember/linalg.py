"""Mirrors ``torch.linalg``: the namespace of linear-algebra functions (defined with their
gradients in ``ember._ops.linalg``)."""
from ember._ops.linalg import (
    LinAlgError,
    _linalg_cross,
    det,
    eigh,
    eigvalsh,
    inv,
    linalg_cholesky,
    linalg_qr,
    linalg_svd,
    lstsq,
    matmul,
    matrix_exp,
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

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "norm", "pinv", "qr",
           "slogdet", "solve", "svd", "svdvals", "vector_norm"]


def cross(input, other, *, dim: int = -1):
    """Mirrors ``torch.linalg.cross``: the cross product along ``dim`` (default -1)."""
    return _linalg_cross(input, other, dim)


_install_out(globals(), "linalg.")  # torch's out= keyword
del _install_out
