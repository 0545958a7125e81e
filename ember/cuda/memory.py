"""``ember.cuda.memory``: mirrors ``torch.cuda.memory``, the CUDA caching allocator's
statistics and controls, as a CPU-only torch build has them.

Without CUDA there is no allocator: the statistics are empty (``memory_stats`` and the
nested and host variants), the counters 0 (``ember.cuda.memory_allocated`` and its
siblings), and the functions that would reach into the allocator raise what torch's CPU
build raises: an ``AttributeError`` for the missing binding (the message names torch's
``torch._C`` attribute, as torch prints it), or ``AssertionError: Torch not compiled with
CUDA enabled`` where torch first initialises CUDA. ``memory_summary`` fails as torch's does
on the empty statistics (``KeyError``).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict

from ember.cuda import (
    _lazy_init,
    empty_cache,
    max_memory_allocated,
    max_memory_cached,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_cached,
    memory_reserved,
    memory_stats,
    set_per_process_memory_fraction,
)

__all__ = ["caching_allocator_alloc", "caching_allocator_delete", "caching_allocator_disabled",
           "caching_allocator_enable", "get_per_process_memory_fraction",
           "set_per_process_memory_fraction", "empty_cache", "memory_stats",
           "memory_stats_as_nested_dict", "reset_accumulated_memory_stats",
           "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached",
           "host_memory_stats", "host_memory_stats_as_nested_dict",
           "reset_accumulated_host_memory_stats", "reset_peak_host_memory_stats",
           "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "memory_cached", "max_memory_cached", "memory_snapshot", "memory_summary",
           "list_gpu_processes", "mem_get_info"]


def _no_binding(name: str) -> AttributeError:
    return AttributeError(f"module 'torch._C' has no attribute '{name}'")


def caching_allocator_alloc(size: int, device=None, stream=None) -> int:
    """Mirrors ``torch.cuda.caching_allocator_alloc``: allocates ``size`` bytes on a CUDA
    device; raises torch's not-compiled error without CUDA."""
    _lazy_init()
    raise _no_binding("_cuda_cudaCachingAllocator_raw_alloc")


def caching_allocator_delete(mem_ptr: int) -> None:
    """Mirrors ``torch.cuda.caching_allocator_delete``: frees memory from
    ``caching_allocator_alloc``; without CUDA torch's binding is missing."""
    raise _no_binding("_cuda_cudaCachingAllocator_raw_delete")


def caching_allocator_enable(value: bool = True) -> None:
    """Mirrors ``torch.cuda.caching_allocator_enable``: switches the caching allocator on
    or off once CUDA is initialised; without CUDA it never is, so nothing happens."""


class _AllocatorDisabled:
    def __enter__(self) -> None:
        raise _no_binding("_cuda_cudaCachingAllocator_is_enabled")

    def __exit__(self, *exc) -> None:
        return None


def caching_allocator_disabled() -> _AllocatorDisabled:
    """Mirrors ``torch.cuda.caching_allocator_disabled``: a context with the caching
    allocator off; entering it without CUDA raises torch's missing-binding error."""
    return _AllocatorDisabled()


def get_per_process_memory_fraction(device=None) -> float:
    """Mirrors ``torch.cuda.get_per_process_memory_fraction``: needs CUDA (torch's
    error)."""
    _lazy_init()
    return 1.0


def memory_stats_as_nested_dict(device=None) -> dict:
    """Mirrors ``torch.cuda.memory_stats_as_nested_dict``: empty without CUDA."""
    return {}


def reset_accumulated_memory_stats(device=None) -> None:
    """Mirrors ``torch.cuda.reset_accumulated_memory_stats``: torch's missing-binding
    error without CUDA."""
    raise _no_binding("_cuda_resetAccumulatedMemoryStats")


def reset_peak_memory_stats(device=None) -> None:
    """Mirrors ``torch.cuda.reset_peak_memory_stats``: torch's missing-binding error without
    CUDA."""
    raise _no_binding("_cuda_resetPeakMemoryStats")


def reset_max_memory_allocated(device=None) -> None:
    """Mirrors ``torch.cuda.reset_max_memory_allocated``: warns that it resets every peak
    statistic, then is ``reset_peak_memory_stats``."""
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None) -> None:
    """Mirrors ``torch.cuda.reset_max_memory_cached``: warns that it resets every peak
    statistic, then is ``reset_peak_memory_stats``."""
    warnings.warn("torch.cuda.reset_max_memory_cached now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def host_memory_stats() -> dict:
    """Mirrors ``torch.cuda.host_memory_stats`` (pinned host memory): empty without CUDA."""
    return OrderedDict()


def host_memory_stats_as_nested_dict() -> dict:
    """Mirrors ``torch.cuda.host_memory_stats_as_nested_dict``: empty without CUDA."""
    return {}


def reset_accumulated_host_memory_stats() -> None:
    """Mirrors ``torch.cuda.reset_accumulated_host_memory_stats``: torch's missing-binding
    error without CUDA."""
    raise _no_binding("_cuda_resetAccumulatedHostMemoryStats")


def reset_peak_host_memory_stats() -> None:
    """Mirrors ``torch.cuda.reset_peak_host_memory_stats``: torch's missing-binding error
    without CUDA."""
    raise _no_binding("_cuda_resetPeakHostMemoryStats")


def memory_snapshot(mempool_id=None, include_traces: bool = True) -> list:
    """Mirrors ``torch.cuda.memory_snapshot``: torch's missing-binding error without
    CUDA."""
    raise _no_binding("_cuda_memorySnapshot")


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """Mirrors ``torch.cuda.memory_summary``: torch formats its table from
    ``memory_stats``, which is empty without CUDA, so it fails on the first statistic it
    reads (``KeyError: 'allocated_bytes.all.current'``), as torch's CPU build does."""
    raise KeyError("allocated_bytes.all.current")


def list_gpu_processes(device=None) -> str:
    """Mirrors ``torch.cuda.list_gpu_processes``: torch asks NVML (``pynvml``) and, where it
    is not installed, returns that message; ember never uses NVML."""
    return "pynvml module not found, please install nvidia-ml-py"
