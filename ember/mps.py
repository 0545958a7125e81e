"""``ember.mps``: mirrors ``torch.mps`` on a machine without Apple's Metal: the queries
answer as torch's do, and what needs the device raises torch's error."""
from __future__ import annotations

from ember import _device


def is_available() -> bool:
    """Mirrors ``torch.mps.is_available`` (NOTE [Device backends])."""
    return "mps" in _device._BACKENDS


def device_count() -> int:
    """Mirrors ``torch.mps.device_count``: 0 without MPS."""
    return 0


def manual_seed(seed: int) -> None:
    """Mirrors ``torch.mps.manual_seed``: nothing to seed without MPS."""
    int(seed)


def seed() -> None:
    """Mirrors ``torch.mps.seed``: raises torch's error without MPS."""
    raise RuntimeError("Cannot execute getDefaultGenerator() without MPS backend.")


def synchronize() -> None:
    """Mirrors ``torch.mps.synchronize``."""
    raise RuntimeError("Cannot execute deviceSynchronize() without MPS backend.")


def empty_cache() -> None:
    """Mirrors ``torch.mps.empty_cache``: raises torch's error without MPS."""
    raise RuntimeError("Cannot execute emptyCache() without MPS backend.")


def current_allocated_memory() -> int:
    """Mirrors ``torch.mps.current_allocated_memory``: raises torch's error without MPS."""
    raise RuntimeError("Cannot execute getCurrentAllocatedMemory() without MPS backend.")
