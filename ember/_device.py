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
