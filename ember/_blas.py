"""Two level-1 BLAS updates, ``y = a x + b y`` and ``y += a x``, and a transposing copy, on
the BLAS NumPy loaded.

NumPy has no fused multiply-add ufunc, so ``y = a x + b y`` costs it three passes over memory
(a temporary for ``a x``, ``y *= b``, ``y += temporary``). The optimizers' moment updates are
that expression; BLAS's ``axpby`` and ``axpy`` do it in one pass. NumPy's wheels bundle
OpenBLAS with 64-bit integers under a ``scipy_`` prefix (the library ember/_threads.py finds);
its C entry points serve contiguous float32 and float64 arrays. The functions return False
(or None) where they do nothing (another BLAS, other dtypes, strided arrays), and the caller
takes its NumPy path, in torch's order of operations. The two paths round differently (BLAS
may fuse the multiply and the add), each the same way for every element wherever an array is
cut, so results do not depend on how a step is split over threads (NOTE [Optimizer
threads]).

NumPy copies a transposed matrix element by element along the destination, reading the
source a column at a time; OpenBLAS's ``omatcopy`` copies it in cache-sized tiles, 4-7x
faster from a few thousand elements (``transposed_copy``; a copy, so exact).
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

# [{dtype: axpby, ("omatcopy", dtype): omatcopy}] once looked up (empty dict: none found)
_kernels: list = []


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
                omatcopy = getattr(library, f"scipy_cblas_{code}omatcopy64_")
                omatcopy.argtypes = [ctypes.c_int, ctypes.c_int, n, n, scalar, ptr, n, ptr, n]
                omatcopy.restype = None
                found[("omatcopy", np.dtype(dtype))] = omatcopy
        except (OSError, AttributeError):
            found = {}
            continue
        break
    _kernels.append(found)
    return found


# NOTE [BLAS passes on large arrays]: a BLAS update saves passes over memory, which pays on
# large arrays; a call through ctypes costs a few microseconds more than a NumPy call, which
# on small ones is most of the time: an Adam step's kernel took 25 against 16 us on 64
# values, 33 against 15 on 4,096, about the same from 16,384 to 32,768, and 117 against 143
# on 65,536. Callers that can choose decide per parameter (never per thread's cut of one, so
# that results do not depend on the thread count) and take BLAS from this many elements.
PASSES_MIN = 32768

_ROW_MAJOR, _TRANSPOSE = 101, 112  # CBLAS's CblasRowMajor and CblasTrans
_TRANSPOSED_COPY_MIN = 4096  # below this many elements NumPy's copy is the faster


def transposed_copy(a: np.ndarray) -> np.ndarray | None:
    """A C-ordered copy of the 2-d array ``a`` whose transpose is C-contiguous (a transposed
    matrix), by OpenBLAS's tiled ``omatcopy``; None where NumPy's copy serves (another BLAS
    or dtype, another layout, a small matrix)."""
    if a.ndim != 2 or a.size < _TRANSPOSED_COPY_MIN or not a.T.flags.c_contiguous \
            or a.flags.c_contiguous:
        return None
    kernel = (_kernels[0] if _kernels else _lookup()).get(("omatcopy", a.dtype))
    if kernel is None:
        return None
    rows, cols = a.shape
    out = np.empty((rows, cols), a.dtype)
    # the source in memory is the (cols, rows) row-major matrix a.T
    kernel(_ROW_MAJOR, _TRANSPOSE, cols, rows, 1.0, a.ctypes.data, rows, out.ctypes.data, cols)
    return out


def _address(a: np.ndarray) -> int:
    """The address of a C-contiguous array's first element: through a ctypes buffer view,
    four times cheaper than ``a.ctypes.data`` (which a read-only array still takes)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except TypeError:
        return a.ctypes.data


def _kernel(x: np.ndarray, y: np.ndarray):
    """The axpby for ``x`` and ``y``, or None when they need NumPy's path."""
    if (x.dtype is not y.dtype and x.dtype != y.dtype) or x.shape != y.shape \
            or not (x.flags.c_contiguous and y.flags.c_contiguous):
        return None
    return (_kernels[0] if _kernels else _lookup()).get(x.dtype)


def kernels_for(dtype: np.dtype) -> bool:
    """Whether NumPy's BLAS is the OpenBLAS these functions call, with kernels for
    ``dtype`` (layout choices measured on OpenBLAS hold for it only)."""
    return dtype in (_kernels[0] if _kernels else _lookup())


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
        kernel(x.size, alpha, _address(x), 1, beta, _address(y), 1)
    return True


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y += alpha * x`` in place in one BLAS pass; False as in ``axpby``. It is axpby with
    ``b = 1``: OpenBLAS's own axpy starts its thread pool on long arrays, which would contend
    with the optimizer's threads that each update a part (NOTE [Optimizer threads])."""
    return axpby(alpha, x, 1.0, y)
