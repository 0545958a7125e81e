"""torch's legacy tensor types: ``FloatTensor``, ``LongTensor``, ... and their CUDA twins.

Each is a class whose metaclass (``tensortype``, as in torch) makes it a constructor and an
``isinstance`` test: ``ember.FloatTensor([1, 2])`` makes a float32 tensor (an ordinary
``ember.Tensor``), and ``isinstance(t, ember.FloatTensor)`` is true exactly when ``t`` is a
float32 CPU tensor. ``Tensor.type`` reads the table here to convert by name or class.
"""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._device import cuda_library_error
from ember._device import device as _device
from ember._tensor import Size, Tensor, make

_OPTIONS = ("TensorOptions(dtype={}, device=cpu, layout=Strided, requires_grad=false "
            "(default), pinned_memory=false (default), memory_format=(nullopt))")


class tensortype(type):
    """Mirrors ``torch.tensortype``, the metaclass of the legacy tensor types: calling one
    constructs a tensor of its dtype, ``isinstance`` compares a tensor's dtype and device."""

    dtype: _dtype.dtype
    is_cuda: bool

    def __instancecheck__(cls, obj) -> bool:
        return (not cls.is_cuda and isinstance(obj, Tensor)
                and obj._data.dtype == cls.dtype.np)

    def __call__(cls, *args, device=None) -> Tensor:
        if cls.is_cuda:
            raise TypeError(f"type torch.cuda.{cls.__name__} not available. Torch not compiled "
                            "with CUDA enabled.")
        if device is not None and _device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{_device(device).type} was passed")
        return _construct(cls.dtype, args)


tensortype.__module__ = "ember"


def _construct(dt: _dtype.dtype, args: tuple) -> Tensor:
    """A legacy constructor's tensor: from sizes (zero-filled, where torch leaves the memory
    uninitialised), from data, or an alias of a tensor of this dtype."""
    from ember._ops.creation import tensor

    if not args:
        return make(np.zeros(0, dt.np))
    first = args[0]
    if len(args) == 1 and isinstance(first, Tensor):
        if first._data.dtype != dt.np:
            raise TypeError(f"expected {_OPTIONS.format(_dtype.cpp_type_name(dt))} (got "
                            f"{_OPTIONS.format(_dtype.cpp_type_name(first.dtype))})")
        from ember._ops.shape import alias

        return alias(first)  # torch's: a view that keeps the history (AliasBackward0)
    if len(args) == 1 and isinstance(first, Size):
        args = tuple(first)
    elif len(args) == 1 and not isinstance(first, int):
        if isinstance(first, str):
            raise TypeError("new(): invalid data type 'str'")
        return tensor(first, dtype=dt)
    for pos, size in enumerate(args):
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"new(): argument 'size' failed to unpack the object at pos "
                            f"{pos + 1} with error \"type must be tuple of ints,but got "
                            f"{type(size).__name__}\"")
    for size in args:
        if size < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                               f"{list(args)}")
    return make(np.zeros(args, dt.np))


_NAMES = {"Float": _dtype.float32, "Double": _dtype.float64, "Half": _dtype.float16,
          "BFloat16": _dtype.bfloat16, "Long": _dtype.int64, "Int": _dtype.int32,
          "Short": _dtype.int16, "Char": _dtype.int8, "Byte": _dtype.uint8,
          "Bool": _dtype.bool_}


def _make_type(name: str, dt: _dtype.dtype, cuda: bool) -> tensortype:
    cls = tensortype(f"{name}Tensor", (), {
        "dtype": dt, "is_cuda": cuda, "is_sparse": False,
        "__module__": "ember.cuda" if cuda else "ember",
        "__doc__": f"Mirrors ``torch.{'cuda.' if cuda else ''}{name}Tensor``."})
    return cls


CPU_TYPES = {f"{name}Tensor": _make_type(name, dt, False) for name, dt in _NAMES.items()}
CUDA_TYPES = {f"{name}Tensor": _make_type(name, dt, True) for name, dt in _NAMES.items()}


def convert(t: Tensor, target) -> Tensor:
    """``Tensor.type(target)``: a dtype, a legacy type (class or its ``torch.`` name) or
    ``Tensor`` itself (the default float type)."""
    if isinstance(target, str):
        if target.startswith("torch.cuda.") and target[11:] in CUDA_TYPES:
            raise cuda_library_error("initialize CUDA")
        name = target[6:] if target.startswith("torch.") else None
        cls = CPU_TYPES.get(name)
        if cls is not None:
            return t.to(cls.dtype)
        if target == "torch.Tensor":
            return t.to(_dtype.get_default_dtype())
        complex_names = {_dtype.legacy_type_name(d.np): d for d in (_dtype.complex64,
                                                                      _dtype.complex128)}
        if target in complex_names:
            return t.to(complex_names[target])
        raise ValueError(f"invalid type: '{target}'")
    if isinstance(target, _dtype.dtype):
        return t.to(target)
    if isinstance(target, tensortype):
        if target.is_cuda:
            raise cuda_library_error("initialize CUDA")
        return t.to(target.dtype)
    if target is Tensor:
        return t.to(_dtype.get_default_dtype())
    raise TypeError("dtype must be a type, str, or dtype object")
