"""Two level-1 BLAS updates, ``y = a x + b y`` and ``y += a x``, on the BLAS NumPy loaded.

NumPy has no fused multiply-add ufunc, so ``y = a x + b y`` costs it three passes over memory
(a temporary for ``a x``, ``y *= b``, ``y += temporary``). The optimizers' moment updates are
that expression; BLAS's ``axpby`` and ``axpy`` do it in one pass. NumPy's wheels bundle
OpenBLAS with 64-bit integers under a ``scipy_`` prefix (the library ember/_threads.py finds);
its C entry points serve contiguous float32 and float64 arrays. The functions return False
where they do nothing (another BLAS, other dtypes, strided arrays), and the caller takes its
NumPy path, in torch's order of operations. The two paths round differently (BLAS may fuse
the multiply and the add), each the same way for every element wherever an array is cut, so
results do not depend on how a step is split over threads (NOTE [Optimizer threads]).
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

_kernels: list = []  # [{dtype: axpby}] once looked up (empty dict: none found)


def _lookup() -> dict:
    if _kernels:
        return _kernels[0]
    from ember._threads import _loaded_libraries

    found: dict = {}
    for path in _loaded_libraries():
        if "scipy_openblas64" not in os.path.basename(path).lower():
            continue
        try:
            library = ctypes.CDLL(path)
            for code, dtype, scalar in (("s", np.float32, ctypes.c_float),
                                        ("d", np.float64, ctypes.c_double)):
                axpby = getattr(library, f"scipy_cblas_{code}axpby64_")
                n, ptr = ctypes.c_int64, ctypes.c_void_p
                axpby.argtypes, axpby.restype = [n, scalar, ptr, n, scalar, ptr, n], None
                found[np.dtype(dtype)] = axpby
        except (OSError, AttributeError):
            found = {}
            continue
        break
    _kernels.append(found)
    return found


def _kernel(x: np.ndarray, y: np.ndarray):
    """The axpby for ``x`` and ``y``, or None when they need NumPy's path."""
    if (x.dtype is not y.dtype and x.dtype != y.dtype) or x.shape != y.shape \
            or not (x.flags.c_contiguous and y.flags.c_contiguous):
        return None
    return (_kernels[0] if _kernels else _lookup()).get(x.dtype)


def usable(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether ``axpby``/``axpy`` of ``x`` into ``y`` run in BLAS."""
    return _kernel(x, y) is not None


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> bool:
    """``y = alpha * x + beta * y`` in place in one BLAS pass; False (nothing done) when the
    arrays need NumPy's path, which the caller then takes."""
    kernel = _kernel(x, y)
    if kernel is None:
        return False
    if x.size:
        kernel(x.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)
    return True


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y += alpha * x`` in place in one BLAS pass; False as in ``axpby``. It is axpby with
    ``b = 1``: OpenBLAS's own axpy starts its thread pool on long arrays, which would contend
    with the optimizer's threads that each update a part (NOTE [Optimizer threads])."""
    return axpby(alpha, x, 1.0, y)
