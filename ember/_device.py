"""Device objects (``ember.device``) and the one place that decides which array backend
serves a device.

Every device type torch names can be written down, printed and compared
(``ember.device('cuda:1')``), as in torch. Only devices with a backend in ``_BACKENDS`` can
hold tensors; asking for another raises what a CPU-only torch build raises. A GPU backend
plugs in by adding its array module there (and its availability to ``ember.cuda``).
"""
from __future__ import annotations

from ember._backend import np

# torch's device types, in the order its error message lists them.
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
          "privateuseone")
_NO_ACCELERATOR = "Cannot access accelerator device when none is available."


def _invalid_arguments(arg) -> TypeError:
    return TypeError(
        f"device() received an invalid combination of arguments - got "
        f"({type(arg).__name__}), but expected one of:\n * (torch.device device)\n      "
        f"didn't match because some of the arguments have invalid types: "
        f"(!{type(arg).__name__}!)\n * (str type, int index = -1)\n")


class device:
    """Mirrors ``torch.device``: ``device('cpu')``, ``device('cuda:1')``,
    ``device('cuda', 1)``, ``device(type='cpu')``. Any of torch's device types can be
    named; whether tensors can live there is ``backend``'s decision. A bare integer means
    the current accelerator, which a CPU-only build lacks (torch's RuntimeError). Used as a
    context manager it sets the default device for factories, as torch's does."""

    __slots__ = ("type", "index", "_previous")

    def __new__(cls, type: str | device | int = "cpu",  # noqa: A002 - torch's name
                index: int | None = None) -> device:
        if isinstance(type, device):
            return type
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError(_NO_ACCELERATOR)
        if not isinstance(type, str):
            raise _invalid_arguments(type)
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"device(): argument 'index' (position 2) must be int, not "
                                f"{builtin_type(index).__name__}")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        if not type:
            raise RuntimeError("Device string must not be empty")
        name, colon, text_index = type.partition(":")
        if not (name.isascii() and name.replace("_", "a").isalpha()) or (colon and not (
                text_index.isascii() and text_index.isdigit()
                and (text_index == "0" or text_index[0] != "0"))):
            raise RuntimeError(f"Invalid device string: '{type}'")
        if name not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {name}")
        if colon:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index "
                                   f"was passed explicitly: {type}")
            index = int(text_index)
        if name == "cpu" and index is None:
            return CPU
        obj = object.__new__(cls)
        obj.type, obj.index = name, index
        return obj

    def __eq__(self, other) -> bool:
        # torch compares devices only with devices: ``device('cpu') == 'cpu'`` is False.
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (self.type,) if self.index is None else (self.type, self.index))

    def __enter__(self) -> device:
        self._previous = _default[0]
        _default[0] = None if self is CPU else self
        return self

    def __exit__(self, *exc) -> None:
        _default[0] = self._previous

    @property
    def xp(self):
        """The array module that holds this device's tensors (see ``backend``)."""
        return backend(self)


builtin_type = type
device.__module__ = "ember"

CPU = object.__new__(device)
CPU.type, CPU.index = "cpu", None

# NOTE [Device backends]: the device types whose tensors ember can hold, and the array
# module that holds them. This is the only place that decides it: factories (``place``),
# ``Tensor.to``/``cuda`` (``serve``) and the device namespaces (``ember.cuda``) ask here.
_BACKENDS = {"cpu": np}

# The device factories use when given none (``set_default_device``); None means the CPU.
_default: list = [None]


def unavailable(type_: str) -> Exception:
    """The error a CPU-only torch raises when a tensor is put on a ``type_`` device."""
    if type_ == "cuda":
        return AssertionError("Torch not compiled with CUDA enabled")
    if type_ == "xpu":
        return AssertionError("Torch not compiled with XPU enabled")
    return RuntimeError(f"PyTorch is not linked with support for {type_} devices")


# What a CPU-only torch says where a device's own library would be needed: a generator on
# it (``Generator(device=...)``) or pinned memory for it (``pin_memory(device)``). Types not
# listed are "not an accelerator".
_CUDA_LIBRARY = (
    " without ATen_cuda library. PyTorch splits its backend into two shared libraries: a CPU "
    "library and a CUDA library; this error has occurred because you are trying to use some "
    "CUDA functionality, but the CUDA library has not been loaded by the dynamic linker for "
    "some reason.  The CUDA library MUST be loaded, EVEN IF you don't directly use any "
    "symbols from the CUDA library! One common culprit is a lack of -Wl,--no-as-needed in "
    "your link arguments; many dynamic linkers will delete dynamic library dependencies if "
    "you don't depend on any of their symbols.  You can check if this has occurred by using "
    "ldd on your binary to see if there is a dependency on *_cuda.so library.")
_XLA_LIBRARY = (
    " without torch_xla library. This error has occurred because you are trying to use some "
    "XLA functionality, but the XLA library has not been loaded by the dynamic linker. You "
    "must load xla libraries by `import torch_xla`")
_PRIVATE_USE = ("Please register PrivateUse1HooksInterface by "
                "`RegisterPrivateUse1HooksInterface` first.")
_NO_GENERATOR = {
    "cuda": "Cannot get CUDA generator" + _CUDA_LIBRARY,
    "xpu": "Cannot get XPU generator without ATen_xpu library.",
    "xla": "Cannot get XLA generator" + _XLA_LIBRARY,
    "mps": "Cannot execute getNewGenerator() without MPS backend.",
    "mtia": "Cannot execute getNewGenerator() without MTIA backend.",
    "hip": "Backend doesn`t support getNewGenerator()",
    "hpu": "Backend doesn`t support getNewGenerator()",
    "privateuseone": _PRIVATE_USE,
}
_NO_PINNING = {
    "cuda": "Cannot initialize CUDA" + _CUDA_LIBRARY,
    "xpu": "Cannot initialize XPU without ATen_xpu library.",
    "xla": "Cannot initialize XLA" + _XLA_LIBRARY,
    "hip": "Cannot initialize HIP without ATen_hip library.",
    "mps": "Cannot execute init() without MPS backend.",
    "mtia": "Cannot execute getPinnedMemoryAllocator() without MTIA backend.",
    "hpu": "Cannot initialize HPU without HPU backend",
    "privateuseone": _PRIVATE_USE,
}


def cuda_library_error(action: str) -> RuntimeError:
    """torch's error where a CPU-only build is asked to ``action`` (``initialize CUDA``)."""
    return RuntimeError(f"Cannot {action}{_CUDA_LIBRARY}")


def device_argument(dev, argument: str) -> device:
    """``dev``, a ``device=`` argument torch's signature types as a device, as a device;
    ``argument`` names it in torch's TypeError (``"Generator(): argument 'device'"``)."""
    if isinstance(dev, bool) or not isinstance(dev, (str, int, device)):
        raise TypeError(f"{argument} must be torch.device, not {builtin_type(dev).__name__}")
    return device(dev)


def generator_device(dev) -> device:
    """The device of ``Generator(device=dev)``: the CPU, or torch's error for a device this
    build has no generator for."""
    if dev is None:
        return CPU
    dev = device_argument(dev, "Generator(): argument 'device'")
    if dev.type == "cpu":
        return CPU
    raise RuntimeError(_NO_GENERATOR.get(dev.type, f"{dev.type.upper()} device type not an "
                                                   "accelerator."))


def pinning_error(dev: device | None) -> RuntimeError:
    """torch's error for ``pin_memory(dev)`` on a CPU-only build (no accelerator to pin
    for; ``dev`` None: the current one)."""
    if dev is None:
        return RuntimeError(_NO_ACCELERATOR)
    return RuntimeError(_NO_PINNING.get(dev.type, f"{dev.type.upper()} device type not an "
                                                  "accelerator."))


def backend(dev: device):
    """The array module serving ``dev``, or torch's error for a device this build lacks."""
    xp = _BACKENDS.get(dev.type)
    if xp is None:
        raise unavailable(dev.type)
    return xp


def serve(dev) -> device:
    """The device a tensor moves to for a ``device=`` argument that names one explicitly
    (``Tensor.to``, ``*_like``, ``new_*``): None keeps the CPU. Raises torch's error for a
    device this build lacks."""
    if dev is None or dev is CPU or dev == "cpu":
        return CPU
    dev = device(dev)
    backend(dev)
    return dev


def place(dev) -> device:
    """The device a factory (``zeros``, ``tensor``, ``rand``, ...) puts its result on:
    ``dev``, or the default device (``set_default_device``) when None."""
    if dev is None:
        dev = _default[0]
        if dev is None:
            return CPU
    return serve(dev)


def default_device() -> device:
    """The default device as ``torch.get_default_device`` reports it: an unindexed
    accelerator is asked for its current index, which a CPU-only build refuses."""
    dev = _default[0]
    if dev is None:
        return CPU
    if dev.index is None and dev.type != "cpu":
        raise unavailable(dev.type)
    return dev


def set_default(dev) -> None:
    """Record the default device (None: the CPU), as ``torch.set_default_device``."""
    dev = None if dev is None else device(dev)
    _default[0] = None if dev is CPU else dev
