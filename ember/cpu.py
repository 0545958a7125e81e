"""``ember.cpu``: mirrors ``torch.cpu``, the CPU seen through the device-module interface
``torch.cuda`` defines (one device, always available, nothing to synchronise)."""
from __future__ import annotations


def is_available() -> bool:
    """Mirrors ``torch.cpu.is_available``: always True."""
    return True


def device_count() -> int:
    """Mirrors ``torch.cpu.device_count``: the CPU counts as one device."""
    return 1


def current_device() -> str:
    """Mirrors ``torch.cpu.current_device``: ``'cpu'``."""
    return "cpu"


def synchronize(device=None) -> None:
    """Mirrors ``torch.cpu.synchronize``: CPU work is synchronous; nothing to wait for."""


def is_initialized() -> bool:
    """Mirrors ``torch.cpu.is_initialized``."""
    return True



def __getattr__(name: str):
    # ``ember.cpu.amp`` loads with its first use, as ``ember.amp`` does
    if name == "amp":
        from ember.amp import cpu_amp

        globals()["amp"] = cpu_amp
        return cpu_amp
    raise AttributeError(f"module 'ember.cpu' has no attribute '{name}'")
