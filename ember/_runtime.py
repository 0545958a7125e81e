"""torch's runtime settings and small namespace helpers: thread counts, deterministic
algorithms, the default device, ``typename`` and ``torch.detach``.

ember runs its kernels through NumPy on the CPU, so the settings are recorded and reported
back as torch reports them; they change nothing in how ember computes (its ops are already
deterministic).
"""
from __future__ import annotations

import os

from ember._device import device
from ember._tensor import Tensor

# torch starts with one thread per core this process may run on
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_settings = {"threads": _CORES or 1, "interop": _CORES or 1,
             "deterministic": False, "warn_only": False}


def get_num_threads() -> int:
    """Mirrors ``torch.get_num_threads``: the number set by ``set_num_threads`` (the CPU
    count until then). ember's NumPy kernels do not read it."""
    return _settings["threads"]


def set_num_threads(int: int) -> None:  # noqa: A002 - torch's argument name
    """Mirrors ``torch.set_num_threads``; refuses a count below 1, as torch does."""
    if int <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _settings["threads"] = int


def get_num_interop_threads() -> int:
    """Mirrors ``torch.get_num_interop_threads``."""
    return _settings["interop"]


def set_num_interop_threads(int: int) -> None:  # noqa: A002 - torch's argument name
    """Mirrors ``torch.set_num_interop_threads``."""
    if int <= 0:
        raise RuntimeError("Expected positive number of threads")
    _settings["interop"] = int


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Mirrors ``torch.use_deterministic_algorithms``. ember's ops are deterministic
    already; the flags are kept for ``are_deterministic_algorithms_enabled``."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must "
                        f"be bool, not {type(mode).__name__}")
    _settings["deterministic"] = mode
    _settings["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Mirrors ``torch.are_deterministic_algorithms_enabled``."""
    return _settings["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Mirrors ``torch.is_deterministic_algorithms_warn_only_enabled``."""
    return _settings["warn_only"]


def get_default_device() -> device:
    """Mirrors ``torch.get_default_device``: ember's tensors live on the CPU."""
    return device("cpu")


def set_default_device(device_) -> None:
    """Mirrors ``torch.set_default_device``; ember has only the CPU, so anything else is
    refused (None resets to the CPU, as in torch)."""
    if device_ is not None and device(device_).type != "cpu":
        raise RuntimeError(f"ember: only the 'cpu' device is available, not {device_!r}")


def typename(obj) -> str:
    """Mirrors ``torch.typename``: a tensor's legacy type name (``torch.FloatTensor``),
    else the object's class as ``module.QualName`` (builtins without the module)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return qualname if module in ("builtins", None) else f"{module}.{qualname}"


def detach(input: Tensor) -> Tensor:
    """Mirrors ``torch.detach``: ``input.detach()``."""
    return input.detach()


__all__ = [
    "are_deterministic_algorithms_enabled", "detach", "get_default_device",
    "get_num_interop_threads", "get_num_threads", "is_deterministic_algorithms_warn_only_enabled",
    "set_default_device", "set_num_interop_threads", "set_num_threads", "typename",
    "use_deterministic_algorithms",
]
