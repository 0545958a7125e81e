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
import threading
from collections.abc import Callable

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


# ---- ember's own threads ------------------------------------------------------------------

_executor_state: list = [0, None]  # (workers, ThreadPoolExecutor), made on first use


def _after_fork() -> None:
    # A forked child has none of its parent's threads: it makes its own pool when needed.
    # Parts its parent was running (NOTE [Batch-parallel kernels]) never finish here, so the
    # BLAS pool they held at one thread gets its count back, and the lock (which one of
    # those threads may have held at the fork) starts anew.
    global _blas_hold
    _executor_state[:] = [0, None]
    _blas_hold = threading.Lock()
    if _blas_held[0]:
        count = _blas_held[1]
        _blas_held[:] = [0, None]
        if count not in (None, 1):
            set_blas_threads(count)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def executor(workers: int):
    """The process's pool of at least ``workers`` threads for ember's parallel kernels (the
    optimizers' steps, the batch-parallel convolution), made on first use."""
    if _executor_state[0] < workers:
        from concurrent.futures import ThreadPoolExecutor

        old = _executor_state[1]
        _executor_state[:] = [workers, ThreadPoolExecutor(workers, thread_name_prefix="ember")]
        if old is not None:
            old.shutdown(wait=False)
    return _executor_state[1]


# NOTE [Batch-parallel kernels]
# A kernel whose work is independent per image (the convolution's forward, its input
# gradient, the per-image products of its weight gradient) runs as one part per thread, each
# part a contiguous range of the batch doing its own copies and products, as torch's CPU
# kernels split the batch over its intra-op threads. NumPy's copies and reductions run on
# one core, so splitting the batch is what puts them on all of them; while parts run, the
# BLAS pool is held at one thread (each part's products then run in the part's own thread,
# not two pools contending for the cores) and restored when the last concurrent part set
# finishes. A part computes exactly what the whole batch would for its images (the same
# products, image by image), so results do not depend on the thread count.
_blas_hold = threading.Lock()
_blas_held: list = [0, None]  # [part sets running, the BLAS thread count to restore]


def run_parts(fn: Callable[[int, int], None], n: int, threads: int, block: int = 0) -> None:
    """Call ``fn(start, stop)`` on ``threads`` contiguous parts of ``range(n)`` at once (the
    calling thread takes the first), with NumPy's BLAS at one thread meanwhile (NOTE
    [Batch-parallel kernels]); one call over the whole range when ``threads`` < 2. With
    ``block``, a part is worked through in ranges of at most that many items, each call's
    temporaries small enough to stay in cache."""
    if 0 < block < n:
        whole = fn

        def fn(start: int, stop: int) -> None:
            for first in range(start, stop, block):
                whole(first, min(stop, first + block))

    threads = min(threads, n)
    if threads < 2:
        fn(0, n)
        return
    with _blas_hold:
        if _blas_held[0] == 0:
            _blas_held[1] = get_blas_threads()
            if _blas_held[1] is not None and _blas_held[1] != 1:
                set_blas_threads(1)
        _blas_held[0] += 1
    try:
        step = -(-n // threads)
        pool = executor(threads - 1)
        futures = [pool.submit(fn, start, min(n, start + step))
                   for start in range(step, n, step)]
        try:
            fn(0, step)
        finally:
            for future in futures:
                future.result()
    finally:
        with _blas_hold:
            _blas_held[0] -= 1
            if _blas_held[0] == 0 and _blas_held[1] not in (None, 1):
                set_blas_threads(_blas_held[1])
