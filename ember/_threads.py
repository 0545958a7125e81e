"""The BLAS thread pool behind NumPy's matmul, which ``ember.set_num_threads`` controls.

torch's ``set_num_threads`` sizes the pool its kernels run on; ember's parallel work is the
BLAS library NumPy was built with (OpenBLAS in NumPy's wheels, possibly MKL in other
builds), so that is the pool it sizes. The library is found on first use, among the shared
objects this process has loaded (NumPy loads its BLAS at import), and driven through the
library's own thread-count functions. Where no known BLAS is loaded (NumPy built against a
BLAS without such functions), there is no pool to size: the count is recorded only.
"""
from __future__ import annotations

import ctypes
import os

# (name fragment of the library file, setter, getter), tried in order: NumPy's wheels bundle
# OpenBLAS with 64-bit integers under a "scipy_openblas" prefix; other builds link plain
# OpenBLAS or MKL's runtime library.
_KNOWN = (
    ("openblas", "scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas", "scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas", "openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas", "openblas_set_num_threads", "openblas_get_num_threads"),
    ("mkl_rt", "MKL_Set_Num_Threads", "MKL_Get_Max_Threads"),
)
_pool: list = []  # [(setter, getter)] once looked up; [None] when there is none


def _loaded_libraries() -> list[str]:
    """Paths of the shared objects mapped into this process (Linux), else the ones beside
    NumPy's package (its wheels keep their BLAS in ``numpy.libs`` or ``numpy/.dylibs``)."""
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(None, 5) for line in maps]
        return sorted({f[5].strip() for f in fields if len(f) == 6 and f[5].startswith("/")})
    except OSError:
        pass
    import numpy

    root = os.path.dirname(numpy.__file__)
    found = []
    for folder in (root + ".libs", os.path.join(root, ".dylibs")):
        if os.path.isdir(folder):
            found += [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    return found


def _lookup():
    if _pool:
        return _pool[0]
    import numpy  # noqa: F401 - NumPy loads its BLAS; look only after it has

    functions = None
    for path in _loaded_libraries():
        name = os.path.basename(path).lower()
        for fragment, set_name, get_name in _KNOWN:
            if fragment not in name:
                continue
            try:
                library = ctypes.CDLL(path)
                setter, getter = getattr(library, set_name), getattr(library, get_name)
            except (OSError, AttributeError):
                continue
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            functions = (setter, getter)
            break
        if functions is not None:
            break
    _pool.append(functions)
    return functions


def set_blas_threads(count: int) -> bool:
    """Size the BLAS pool to ``count`` threads; False when there is no pool to size."""
    functions = _lookup()
    if functions is None:
        return False
    functions[0](count)
    return True


def get_blas_threads() -> int | None:
    """The BLAS pool's thread count, or None when there is no pool."""
    functions = _lookup()
    return None if functions is None else functions[1]()
