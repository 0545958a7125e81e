"""The C allocator's thresholds, set once at ``import ember`` (NOTE [Allocator thresholds]).

NOTE [Allocator thresholds]: every NumPy array's memory comes from the C library's
``malloc``. glibc's malloc serves a block above its *mmap threshold* with a fresh ``mmap``
(unmapped again when freed) and gives the free memory at the top of its heap back to the
system once it exceeds its *trim threshold*; both start at 128 KiB and rise only when an
mmapped block is freed (to that block's size, and twice that). An op sequence whose
temporaries, together, outgrow twice the largest one that was ever mmapped (a convolution's
columns, its product and its padded input; an LSTM step's gates and states) therefore grows
the heap and trims it again on every call, and the kernels that write the new memory take a
page fault every 4 KiB, each slower again while a BLAS thread runs beside them: the digits
net's second convolution took 500-700 µs a call inside a training step against 160-220 µs
with the thresholds fixed (114 page faults a call -> 1), a GPT block's step 7.4-9.3 ms
against 5.2-5.4 (178 faults a step -> 2), the LSTM of the benchmarks 18 ms against 11-13
(2,244 -> 0), the digits epoch 122-134 against 106-112 ms.

ember sets both thresholds where glibc's own rule lets them rise to at most: the mmap
threshold at its ceiling (32 MiB on 64-bit systems) and the trim threshold at twice that. So
blocks below 32 MiB come from the heap, and the heap keeps up to 64 MiB of free memory for
the next op instead of handing it back and faulting it in again: what a long-running
program whose arrays glibc has seen freed gets anyway, from the first step on. torch's
allocator faces the same choice (PyTorch's performance tuning guide advises preloading
jemalloc or TCMalloc on CPU); ember, whose ops allocate more temporaries than torch's fused kernels,
makes it at import, where it costs two library calls.

Nothing is changed where the user has chosen: if the environment sets any of glibc's
malloc variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_``, or ``glibc.malloc`` tunables in
``GLIBC_TUNABLES``), or the C library is not glibc (musl, macOS, Windows). An allocator
preloaded in glibc's place (jemalloc, tcmalloc) is left as it is: its own ``mallopt``
ignores these settings, or it has none and glibc's, which then serves nothing, takes them.
"""
from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's ceiling for the dynamic mmap threshold: 4 MiB times the size of a long
_MMAP_CEILING = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
_USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                   "MALLOC_MMAP_MAX_")

# whether ember set the thresholds in this process
tuned = False


def _glibc_mallopt():
    """glibc's ``mallopt``, or None where the C library is another one."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc alone
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


def set_thresholds() -> None:
    """Set glibc's mmap and trim thresholds (NOTE [Allocator thresholds]) unless the user's
    environment tunes malloc or the C library is not glibc."""
    global tuned
    if any(name in os.environ for name in _USER_VARIABLES) \
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return
    # the mmap threshold first: setting either one ends glibc's raising of both
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_CEILING)
                 and mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_CEILING))
