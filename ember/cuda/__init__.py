"""``ember.cuda``: mirrors ``torch.cuda`` as a CPU-only torch build has it.

Whether CUDA is there is ``ember._device``'s decision (NOTE [Device backends]); without it,
the queries answer as torch's CPU build does (``is_available()`` is False,
``device_count()`` 0, the memory counters 0), seeding is accepted and does nothing, and
whatever needs a device raises torch's ``AssertionError: Torch not compiled with CUDA
enabled``.
"""
from __future__ import annotations

import warnings

from ember import _device
from ember._legacy import CUDA_TYPES
from ember.cuda import amp  # noqa: F401 - the torch.cuda.amp namespace

BFloat16Tensor = CUDA_TYPES["BFloat16Tensor"]
BoolTensor = CUDA_TYPES["BoolTensor"]
ByteTensor = CUDA_TYPES["ByteTensor"]
CharTensor = CUDA_TYPES["CharTensor"]
DoubleTensor = CUDA_TYPES["DoubleTensor"]
FloatTensor = CUDA_TYPES["FloatTensor"]
HalfTensor = CUDA_TYPES["HalfTensor"]
IntTensor = CUDA_TYPES["IntTensor"]
LongTensor = CUDA_TYPES["LongTensor"]
ShortTensor = CUDA_TYPES["ShortTensor"]

default_generators: tuple = ()


def is_available() -> bool:
    """Mirrors ``torch.cuda.is_available``: whether a backend serves CUDA devices."""
    return "cuda" in _device._BACKENDS


def _lazy_init() -> None:
    # torch initialises CUDA on first use; without a backend that is where it fails.
    if not is_available():
        raise _device.unavailable("cuda")


def is_initialized() -> bool:
    """Mirrors ``torch.cuda.is_initialized``."""
    return False


def init() -> None:
    """Mirrors ``torch.cuda.init``: raises torch's error when CUDA is not available."""
    _lazy_init()


def device_count() -> int:
    """Mirrors ``torch.cuda.device_count``: 0 without CUDA."""
    return 0


def current_device() -> int:
    """Mirrors ``torch.cuda.current_device``."""
    _lazy_init()
    return 0


def synchronize(device=None) -> None:
    """Mirrors ``torch.cuda.synchronize``."""
    _lazy_init()


def get_device_name(device=None) -> str:
    """Mirrors ``torch.cuda.get_device_name``."""
    _lazy_init()
    raise AssertionError("unreachable")  # pragma: no cover - no CUDA backend yet


def get_device_properties(device=None):
    """Mirrors ``torch.cuda.get_device_properties``."""
    _lazy_init()
    raise AssertionError("unreachable")  # pragma: no cover - no CUDA backend yet


def get_device_capability(device=None) -> tuple:
    """Mirrors ``torch.cuda.get_device_capability``."""
    _lazy_init()
    raise AssertionError("unreachable")  # pragma: no cover - no CUDA backend yet


def can_device_access_peer(device, peer_device) -> bool:
    """Mirrors ``torch.cuda.can_device_access_peer``."""
    _lazy_init()
    return False


def mem_get_info(device=None) -> tuple:
    """Mirrors ``torch.cuda.mem_get_info``."""
    _lazy_init()
    return (0, 0)


def set_per_process_memory_fraction(fraction: float, device=None) -> None:
    """Mirrors ``torch.cuda.set_per_process_memory_fraction``."""
    _lazy_init()


def ipc_collect() -> None:
    """Mirrors ``torch.cuda.ipc_collect``."""
    _lazy_init()


def current_blas_handle():
    """Mirrors ``torch.cuda.current_blas_handle``."""
    _lazy_init()


def current_stream(device=None):
    """Mirrors ``torch.cuda.current_stream``."""
    _lazy_init()


def default_stream(device=None):
    """Mirrors ``torch.cuda.default_stream``."""
    _lazy_init()


def initial_seed() -> int:
    """Mirrors ``torch.cuda.initial_seed``."""
    _lazy_init()
    return 0


def get_rng_state(device="cuda"):
    """Mirrors ``torch.cuda.get_rng_state``."""
    _lazy_init()


def get_rng_state_all() -> list:
    """Mirrors ``torch.cuda.get_rng_state_all``: one state per device, none here."""
    return []


def set_rng_state(new_state, device="cuda") -> None:
    """Mirrors ``torch.cuda.set_rng_state``: torch queues it until CUDA starts, which it
    never does without CUDA, so nothing changes."""


def set_rng_state_all(new_states) -> None:
    """Mirrors ``torch.cuda.set_rng_state_all``."""
    for state in new_states:
        set_rng_state(state)


def manual_seed(seed: int) -> None:
    """Mirrors ``torch.cuda.manual_seed``: the seed is checked as torch converts it, then,
    as in torch without CUDA, it seeds nothing (CPU streams keep their own seeds)."""
    int(seed)


def manual_seed_all(seed: int) -> None:
    """Mirrors ``torch.cuda.manual_seed_all`` (see ``manual_seed``)."""
    int(seed)


def seed() -> None:
    """Mirrors ``torch.cuda.seed``: nothing to reseed without CUDA."""


def seed_all() -> None:
    """Mirrors ``torch.cuda.seed_all``: nothing to reseed without CUDA."""


def empty_cache() -> None:
    """Mirrors ``torch.cuda.empty_cache``: no cache without CUDA, nothing to free."""


def memory_allocated(device=None) -> int:
    """Mirrors ``torch.cuda.memory_allocated``: 0 bytes without CUDA."""
    return 0


def max_memory_allocated(device=None) -> int:
    """Mirrors ``torch.cuda.max_memory_allocated``: 0 bytes without CUDA."""
    return 0


def memory_reserved(device=None) -> int:
    """Mirrors ``torch.cuda.memory_reserved``: 0 bytes without CUDA."""
    return 0


def max_memory_reserved(device=None) -> int:
    """Mirrors ``torch.cuda.max_memory_reserved``: 0 bytes without CUDA."""
    return 0


def memory_cached(device=None) -> int:
    """Mirrors the deprecated ``torch.cuda.memory_cached`` (``memory_reserved``)."""
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`",
                  FutureWarning, stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    """Mirrors the deprecated ``torch.cuda.max_memory_cached``."""
    warnings.warn("`torch.cuda.max_memory_cached` has been renamed to "
                  "`torch.cuda.max_memory_reserved`", FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def memory_stats(device=None) -> dict:
    """Mirrors ``torch.cuda.memory_stats``: empty without CUDA."""
    from collections import OrderedDict

    return OrderedDict()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Mirrors ``torch.cuda.is_bf16_supported``: False without CUDA."""
    return False


def is_tf32_supported() -> bool:
    """Mirrors ``torch.cuda.is_tf32_supported``: False without CUDA."""
    return False


def get_arch_list() -> list:
    """Mirrors ``torch.cuda.get_arch_list``: no CUDA architectures compiled in."""
    return []


def get_gencode_flags() -> str:
    """Mirrors ``torch.cuda.get_gencode_flags``."""
    return ""


class device:
    """Mirrors the context manager ``torch.cuda.device(index)``: entering it selects a
    CUDA device, which raises torch's error without CUDA (an index of -1 or a non-CUDA
    device selects nothing)."""

    def __init__(self, device) -> None:
        self.idx = _device_index(device)
        self.prev_idx = -1

    def __enter__(self) -> None:
        if self.idx != -1:
            raise RuntimeError("PyTorch was compiled without CUDA support")

    def __exit__(self, *exc) -> bool:
        return False


def _device_index(dev) -> int:
    if isinstance(dev, int):
        return dev
    dev = _device.device(dev)
    return -1 if dev.type != "cuda" or dev.index is None else dev.index


class device_of(device):
    """Mirrors ``torch.cuda.device_of(obj)``: ``device`` for a tensor's device (a CPU
    tensor selects nothing)."""

    def __init__(self, obj) -> None:
        super().__init__(obj.get_device() if obj.is_cuda else -1)


def set_device(device) -> None:
    """Mirrors ``torch.cuda.set_device``: a CUDA index raises torch's error without CUDA;
    a negative index or a non-CUDA device does nothing."""
    if _device_index(device) >= 0:
        raise RuntimeError("PyTorch was compiled without CUDA support")


class Stream:
    """Mirrors ``torch.cuda.Stream``: a queue of work on a CUDA device; needs CUDA."""

    def __new__(cls, device=None, priority: int = 0, **kwargs):
        raise RuntimeError("torch.cuda.Stream requires CUDA support")


class Event:
    """Mirrors ``torch.cuda.Event``: a marker in a stream; needs CUDA."""

    def __new__(cls, enable_timing: bool = False, blocking: bool = False,
                interprocess: bool = False):
        raise RuntimeError("Tried to instantiate dummy base class Event")


class StreamContext:
    """Mirrors ``torch.cuda.StreamContext``: ``stream(None)`` selects nothing."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __enter__(self) -> None:
        if self.stream is not None:
            _lazy_init()

    def __exit__(self, *exc) -> bool:
        return False


def stream(stream) -> StreamContext:
    """Mirrors ``torch.cuda.stream``."""
    return StreamContext(stream)


for _cls in (device, device_of, Stream, Event, StreamContext):
    _cls.__module__ = "ember.cuda"
del _cls


# torch.cuda.memory's names (it reads the counters above, so it comes last)
from ember.cuda import memory  # noqa: E402, F401
from ember.cuda.memory import *  # noqa: E402, F403
