"""``ember.xpu``: mirrors ``torch.xpu`` (Intel GPUs) as a build without XPU has it:
``is_available()`` False, ``device_count()`` 0, seeding accepted and ignored, and what
needs a device raises torch's ``AssertionError: Torch not compiled with XPU enabled``."""
from __future__ import annotations

from ember import _device


def is_available() -> bool:
    """Mirrors ``torch.xpu.is_available`` (NOTE [Device backends])."""
    return "xpu" in _device._BACKENDS


def _lazy_init() -> None:
    if not is_available():
        raise _device.unavailable("xpu")


def is_initialized() -> bool:
    """Mirrors ``torch.xpu.is_initialized``."""
    return False


def init() -> None:
    """Mirrors ``torch.xpu.init``."""
    _lazy_init()


def device_count() -> int:
    """Mirrors ``torch.xpu.device_count``: 0 without XPU."""
    return 0


def current_device() -> int:
    """Mirrors ``torch.xpu.current_device``."""
    _lazy_init()
    return 0


def synchronize(device=None) -> None:
    """Mirrors ``torch.xpu.synchronize``."""
    _lazy_init()


def manual_seed(seed: int) -> None:
    """Mirrors ``torch.xpu.manual_seed``: without XPU nothing is seeded."""
    int(seed)


def manual_seed_all(seed: int) -> None:
    """Mirrors ``torch.xpu.manual_seed_all``."""
    int(seed)


def seed() -> None:
    """Mirrors ``torch.xpu.seed``."""


def seed_all() -> None:
    """Mirrors ``torch.xpu.seed_all``."""


def empty_cache() -> None:
    """Mirrors ``torch.xpu.empty_cache``: no cache without XPU."""
