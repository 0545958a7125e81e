"""``ember.accelerator``: mirrors ``torch.accelerator``, the device-generic view of
whichever accelerator (CUDA, MPS, XPU, ...) serves tensors (NOTE [Device backends]).
ember has none today: ``is_available()`` is False, ``current_accelerator()`` None, and
what needs one raises torch's RuntimeError."""
from __future__ import annotations

from ember import _device

_ACCELERATORS = ("cuda", "mps", "xpu", "mtia", "hpu", "privateuseone")


def current_accelerator(check_available: bool = False):
    """Mirrors ``torch.accelerator.current_accelerator``: the accelerator's device type as
    a ``device``, or None."""
    for type_ in _ACCELERATORS:
        if type_ in _device._BACKENDS:
            return _device.device(type_)
    return None


def is_available() -> bool:
    """Mirrors ``torch.accelerator.is_available``."""
    return current_accelerator() is not None


def device_count() -> int:
    """Mirrors ``torch.accelerator.device_count``: 0 without an accelerator."""
    return 0


def _require() -> None:
    if not is_available():
        raise RuntimeError(_device._NO_ACCELERATOR)


def current_device_index() -> int:
    """Mirrors ``torch.accelerator.current_device_index``."""
    _require()
    return 0


current_device_idx = current_device_index


def set_device_index(device) -> None:
    """Mirrors ``torch.accelerator.set_device_index``."""
    _require()


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    """Mirrors ``torch.accelerator.synchronize``."""
    _require()


def current_stream(device=None):
    """Mirrors ``torch.accelerator.current_stream``."""
    _require()
