"""``ember.backends.mps``: mirrors ``torch.backends.mps`` (Apple's Metal)."""
from __future__ import annotations

from ember import _device


def is_available() -> bool:
    """Mirrors ``torch.backends.mps.is_available``: whether a backend serves MPS devices
    (NOTE [Device backends])."""
    return "mps" in _device._BACKENDS


def is_built() -> bool:
    """Mirrors ``torch.backends.mps.is_built``: False, ember has no MPS backend."""
    return "mps" in _device._BACKENDS
