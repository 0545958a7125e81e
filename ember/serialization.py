"""Mirrors ``torch.serialization``: ``save`` and ``load`` in PyTorch's checkpoint format,
readable and writable without torch, and safe by default.

NOTE [Checkpoint format]
A checkpoint is a zip archive ``<name>/`` holding ``data.pkl`` (a pickle of the object in
which each storage appears as a persistent id ``('storage', <torch.XStorage>, key,
location, numel)``), one entry ``data/<key>`` per storage (raw little-endian bytes, stored
uncompressed at a 64-byte aligned offset), ``version``, ``byteorder``, ``.format_version``,
``.storage_alignment`` and ``.data/serialization_id``. A tensor pickles as
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
with offset and strides in elements. ember's tensors are NumPy arrays: tensors whose arrays
share one memory block (views) are written as one storage with their offsets, and loaded
tensors are strided views of one array per storage, so they share memory again. A storage
object pickles as its persistent id alone (an ``UntypedStorage`` as bytes) and loads as a
``TypedStorage`` over that memory (NOTE [Loaded storages]).

Loading never imports torch. With ``weights_only=True`` (the default) the pickle is run by
``ember._serialization_unpickler``, which resolves globals only through torch's allow-list
(plus ``add_safe_globals``) and checks every size against the bytes the file holds.
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import pickle
import struct
import sys
import warnings
import weakref
from collections import Counter, OrderedDict
from typing import Any

from ember import _dtype, _runtime
from ember._backend import np
from ember._device import device
from ember._serialization_unpickler import (
    TORCH_OPCODES,
    Callable,
    RestrictedUnpickler,
    _Refused,
    refuse_global,
    weights_only_error,
)
from ember._serialization_zip import CheckpointError, ZipReader, ZipWriter
from ember._tensor import Size, Tensor, make
from ember.storage import TypedStorage, UntypedStorage, register

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals", "get_unsafe_globals_in_checkpoint", "DEFAULT_PROTOCOL",
           "CheckpointError"]

DEFAULT_PROTOCOL = 2
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_SMALL_RECORD = 1 << 16

_STORAGE_NAMES = {
    "bool": "BoolStorage", "uint8": "ByteStorage", "int8": "CharStorage",
    "int16": "ShortStorage", "int32": "IntStorage", "int64": "LongStorage",
    "float16": "HalfStorage", "bfloat16": "BFloat16Storage", "float32": "FloatStorage",
    "float64": "DoubleStorage", "complex64": "ComplexFloatStorage",
    "complex128": "ComplexDoubleStorage"}


class _StorageType:
    """Stands for ``torch.<X>Storage`` in a pickle: the element type of a storage."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: _dtype.dtype | None) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"<class 'torch.{self.name}'>"

    def __reduce__(self):
        return self.name  # a global: ``_Pickler.save_global`` writes torch's name


_STORAGE_TYPES = {name: _StorageType(name, getattr(_dtype, d if d != "bool" else "bool_"))
                  for d, name in _STORAGE_NAMES.items()}
for _name in ("QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage",
              "QUInt8Storage"):
    _STORAGE_TYPES[_name] = _StorageType(_name, None)  # quantized: ember has none
_STORAGE_OF_DTYPE = {t.dtype: t for t in _STORAGE_TYPES.values() if t.dtype is not None}
# NOTE [Untyped storages]: torch has no typed storage class for the float8 dtypes; it saves
# such a tensor as ``_rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks,
# dtype)`` over a ``torch.storage.UntypedStorage`` (its numel counts bytes), offset and
# strides in elements of ``dtype``. ember reads an untyped storage as bytes.
_UNTYPED = _StorageType("UntypedStorage", _dtype.uint8)


# NOTE [Loaded storages]: a loaded storage is the ``TypedStorage`` torch gives for every
# storage it loads (an untyped one included). Tensors rebuilt on it measure their offset from
# one element array per storage, registered as the memory of its ``UntypedStorage``, so they
# share memory and ``untyped_storage()`` objects with one another and with the storage.
# untyped storage loaded -> that element array
_LOADED_ELEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loaded_storage(elements, dt: _dtype.dtype) -> TypedStorage:
    """The storage a checkpoint's record loads as, over ``elements``, a 1-d array of
    ``dt``'s elements (NOTE [Loaded storages])."""
    untyped = UntypedStorage._wrap(elements.view(np.uint8))
    register(elements, untyped)
    _LOADED_ELEMENTS[untyped] = elements
    return TypedStorage._wrap(untyped, dt)


def _elements(storage: TypedStorage):
    """The element array tensors on a loaded storage measure from (NOTE [Loaded
    storages]); a storage that a ``map_location`` callable supplied gives a new one."""
    elements = _LOADED_ELEMENTS.get(storage._untyped_storage)
    if elements is None or elements.dtype != storage.dtype.np:
        return storage._values()
    return elements


# ---- rebuilding tensors ---------------------------------------------------------------


def _ints(values, what: str) -> tuple:
    if not isinstance(values, (tuple, list)) or not all(
            type(v) is int or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
        raise RuntimeError(f"ember.load: the checkpoint's tensor {what} is not a sequence of "
                           f"ints: {values!r}")
    return tuple(int(v) for v in values)


def _strided(storage, storage_offset, size, stride):
    """The array of a tensor over ``storage``, with torch's bounds check (so no view ever
    reaches past the bytes the file provided)."""
    if type(storage_offset) is not int:
        raise RuntimeError("ember.load: the storage offset is not an int")
    size = _ints(size, "size")
    stride = _ints(stride, "stride")
    if len(size) != len(stride) or len(size) > 64:
        raise RuntimeError(f"ember.load: size {list(size)} and stride {list(stride)} do not "
                           "match")
    if storage_offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"ember.load: negative size, stride or offset (size {list(size)}, "
                           f"stride {list(stride)}, offset {storage_offset})")
    array = storage
    itemsize = array.itemsize
    if 0 in size:
        return np.empty(size, array.dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= array.shape[0]:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
            f"{storage_offset}, and itemsize {itemsize} requiring a storage size of "
            f"{(last + 1) * itemsize} are out of bounds for storage of size "
            f"{array.shape[0] * itemsize}")
    try:
        # an ndarray over the storage's bytes (not as_strided, whose result hides its base
        # behind a wrapper object): saving it again finds the storage as its root
        return np.ndarray(size, array.dtype, buffer=array.view(np.uint8),
                          offset=storage_offset * itemsize,
                          strides=tuple(s * itemsize for s in stride))
    except (ValueError, OverflowError, TypeError) as exc:
        raise RuntimeError(f"ember.load: tensor of size {list(size)} cannot be made: {exc}"
                           ) from None


def _tensor_from(storage, storage_offset, size, stride, requires_grad=False) -> Tensor:
    if not isinstance(storage, TypedStorage):
        raise RuntimeError(f"ember.load: expected a storage, got {type(storage).__name__}")
    elements = _elements(storage)
    t = make(_strided(elements, storage_offset, size, stride))
    # storage_offset() measures from ``_storage`` (see ember._ops.shape._memory)
    t._storage = elements
    if requires_grad:
        t.requires_grad = True
    return t


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None) -> Tensor:
    """Rebuilds a tensor as ``torch._utils._rebuild_tensor_v2`` does."""
    if metadata:
        raise RuntimeError(f"ember.load: tensor metadata {metadata!r} is not supported")
    if type(requires_grad) is not bool:
        raise RuntimeError("ember.load: requires_grad is not a bool")
    return _tensor_from(storage, storage_offset, size, stride, requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None) -> Tensor:
    """Rebuilds a tensor as ``torch._utils._rebuild_tensor_v3`` does: ``storage`` holds bytes
    (NOTE [Untyped storages]), read as ``dtype``'s elements."""
    if not isinstance(dtype, _dtype.dtype):
        raise RuntimeError(f"ember.load: {dtype!r:.100} is not a dtype")
    if not isinstance(storage, TypedStorage):
        raise RuntimeError(f"ember.load: expected a storage, got {type(storage).__name__}")
    if storage.dtype is not dtype:
        data = _elements(storage)
        if data.dtype != np.uint8 or data.shape[0] % dtype.itemsize:
            raise RuntimeError(f"ember.load: a storage of {data.shape[0]} bytes cannot hold "
                               f"{dtype} elements")
        storage = _loaded_storage(data.view(dtype.np), dtype)
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                              backward_hooks, metadata)


def _rebuild_tensor(storage, storage_offset, size, stride) -> Tensor:
    """Rebuilds a tensor as the older ``torch._utils._rebuild_tensor`` does."""
    return _tensor_from(storage, storage_offset, size, stride)


def _set_state(obj, state) -> None:
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for part in (state, slots):
        if part is None:
            continue
        if not isinstance(part, dict) or any(type(k) is not str for k in part):
            raise RuntimeError("ember.load: an object's state is not a dict of attributes")
        for key, value in part.items():
            setattr(obj, key, value)


def _parameter_class():
    from ember.nn.parameter import Parameter

    return Parameter


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    """Rebuilds an ``nn.Parameter`` as ``torch._utils._rebuild_parameter`` does."""
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        raise RuntimeError("ember.load: malformed Parameter record")
    return _parameter_class()(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """Rebuilds an ``nn.Parameter`` with attributes, as torch's function of that name."""
    param = _rebuild_parameter(data, requires_grad, backward_hooks)
    _set_state(param, state)
    return param


def _rebuild_from_type_v2(func, new_type, args, state):
    """Rebuilds a tensor with attributes (or of a subclass), as torch's function of that
    name does: ``func(*args)``, retyped to ``new_type``, then its state set."""
    if type(func) is Callable:
        func = func.func
    if not isinstance(args, tuple):
        raise RuntimeError("ember.load: malformed tensor record")
    ret = func(*args)
    if not isinstance(ret, Tensor) or not isinstance(new_type, type) or \
            not issubclass(new_type, Tensor):
        raise RuntimeError(f"ember.load: cannot make a {new_type!r} from {type(ret).__name__}")
    if type(ret) is not new_type:
        ret = new_type(ret, ret.requires_grad) if new_type is _parameter_class() \
            else ret.as_subclass(new_type)
    _set_state(ret, state)
    return ret


def _unsupported(kind: str):
    def refuse(*args):
        raise RuntimeError(f"ember.load: the checkpoint holds {kind}, which ember does not "
                           "support")
    return refuse


# ---- checked stand-ins for the builtins torch allows ----------------------------------
_CONTAINERS = (list, tuple, dict, set, frozenset, OrderedDict)


def _container(args, what):
    if len(args) > 1 or (args and type(args[0]) not in _CONTAINERS):
        raise _Refused(f"{what} expects a container argument")
    return args


def _make_ordered_dict(*args):
    return OrderedDict(*_container(args, "OrderedDict"))


def _make_counter(*args):
    return Counter(*_container(args, "Counter"))


def _make_set(*args):
    return set(*_container(args, "set"))


def _make_bytearray(*args):
    # bytearray(int) would allocate what the file asks for: only data is accepted
    if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        return bytearray(args[0])
    if len(args) == 2 and type(args[0]) is str and args[1] in ("latin1", "latin-1"):
        return bytearray(args[0], args[1])
    if not args:
        return bytearray()
    raise _Refused("bytearray expects bytes")


def _make_complex(*args):
    if len(args) > 2 or not all(type(a) in (int, float) for a in args):
        raise _Refused("complex expects numbers")
    return complex(*args)


def _codecs_encode(text, encoding="utf-8", *rest):
    if type(text) is not str or encoding not in ("latin1", "latin-1") or rest:
        raise _Refused("_codecs.encode expects a str and latin1")
    return text.encode(encoding)


def _make_size(*args):
    if len(args) != 1:
        raise _Refused("torch.Size expects one sequence")
    return Size(_ints(args[0], "size"))


def _make_device(*args):
    if not 1 <= len(args) <= 2 or type(args[0]) is not str or (
            len(args) == 2 and type(args[1]) is not int):
        raise _Refused("torch.device expects a str and an optional index")
    return device(*args)


def _torch_names() -> dict:
    """``(module, name)`` of torch's weights-only allow-list -> what ember makes of it.
    Callables are wrapped in ``Callable``; others are values only."""
    from ember import _legacy

    names: dict = {
        ("torch._utils", "_rebuild_tensor_v2"): Callable(_rebuild_tensor_v2),
        ("torch._utils", "_rebuild_tensor"): Callable(_rebuild_tensor),
        ("torch._utils", "_rebuild_tensor_v3"): Callable(_rebuild_tensor_v3),
        ("torch.storage", "UntypedStorage"): _UNTYPED,
        ("torch", "UntypedStorage"): _UNTYPED,
        ("torch._utils", "_rebuild_parameter"): Callable(_rebuild_parameter),
        ("torch._utils", "_rebuild_parameter_with_state"):
            Callable(_rebuild_parameter_with_state),
        ("torch._tensor", "_rebuild_from_type_v2"): Callable(_rebuild_from_type_v2),
        ("collections", "OrderedDict"): Callable(_make_ordered_dict),
        ("collections", "Counter"): Callable(_make_counter),
        ("builtins", "set"): Callable(_make_set),
        ("builtins", "bytearray"): Callable(_make_bytearray),
        ("builtins", "complex"): Callable(_make_complex),
        ("_codecs", "encode"): Callable(_codecs_encode),
        ("torch", "Size"): Callable(_make_size),
        ("torch", "device"): Callable(_make_device),
        ("torch", "Tensor"): Tensor,
    }
    for kind, fn in (("quantized tensors", "_rebuild_qtensor"),
                     ("sparse tensors", "_rebuild_sparse_tensor"),
                     ("nested tensors", "_rebuild_nested_tensor"),
                     ("meta tensors", "_rebuild_meta_tensor_no_storage"),
                     ("tensor subclasses", "_rebuild_wrapper_subclass"),
                     ("device tensors", "_rebuild_device_tensor_from_numpy"),
                     ("device tensors", "_rebuild_device_tensor_from_cpu_tensor")):
        names["torch._utils", fn] = Callable(_unsupported(kind))
    names["torch.serialization", "_get_layout"] = Callable(_runtime._get_layout)
    for d in _dtype.ALL:
        names["torch", d.name] = d
    for name, stype in _STORAGE_TYPES.items():
        names["torch", name] = stype
        names["torch.cuda", name] = stype
    for name, cls in _legacy.CPU_TYPES.items():
        names["torch", name] = cls
    return names


_TORCH_NAMES: dict | None = None
_PARAMETER_KEY = ("torch.nn.parameter", "Parameter")


def _allowed() -> dict:
    global _TORCH_NAMES
    if _TORCH_NAMES is None:
        _TORCH_NAMES = _torch_names()
    return _TORCH_NAMES


# ---- the user's allow-list ------------------------------------------------------------
_safe_globals: list = []


def _global_key(entry) -> str:
    if isinstance(entry, tuple):
        if len(entry) != 2 or not isinstance(entry[1], str):
            raise ValueError("safe globals are objects or (object, 'module.name') pairs")
        return entry[1]
    return f"{entry.__module__}.{entry.__qualname__}"


def _user_globals() -> dict:
    return {_global_key(e): (e[0] if isinstance(e, tuple) else e) for e in _safe_globals}


def add_safe_globals(safe_globals: list) -> None:
    """Mirrors ``torch.serialization.add_safe_globals``: allow these functions/classes in
    ``load(..., weights_only=True)``. Entries are objects or ``(object, "module.name")``.
    A name under ``torch`` in a checkpoint also matches the same name under ``ember``."""
    for entry in safe_globals:
        _global_key(entry)
    _safe_globals.extend(safe_globals)


def get_safe_globals() -> list:
    """Mirrors ``torch.serialization.get_safe_globals``: the user-added allow-list."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Mirrors ``torch.serialization.clear_safe_globals``."""
    _safe_globals.clear()


class safe_globals(contextlib.ContextDecorator):
    """Mirrors ``torch.serialization.safe_globals``: a context manager that adds globals to
    the allow-list for its duration."""

    def __init__(self, safe_globals: list) -> None:
        self.safe_globals = list(safe_globals)
        self._previous: list = []

    def __enter__(self) -> None:
        self._previous = list(_safe_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc) -> None:
        _safe_globals[:] = self._previous


# Python 2 names in protocol-2 pickles, as torch's weights-only unpickler maps them (a name
# first, else its module): the subset of pickle's fix_imports tables that torch applies
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue",
                "repr": "reprlib", "_abcoll": "collections.abc", "UserDict": "collections",
                "UserList": "collections", "UserString": "collections", "whichdb": "dbm",
                "StringIO": "io", "cStringIO": "io"}
_PY2_NAMES = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "basestring"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("itertools", "izip"): ("builtins", "zip"),
    ("itertools", "imap"): ("builtins", "map"),
    ("itertools", "ifilter"): ("builtins", "filter"),
    ("itertools", "ifilterfalse"): ("itertools", "filterfalse"),
    ("itertools", "izip_longest"): ("itertools", "zip_longest"),
    ("UserDict", "IterableUserDict"): ("collections", "UserDict"),
    ("UserDict", "UserDict"): ("collections", "UserDict"),
    ("UserList", "UserList"): ("collections", "UserList"),
    ("UserString", "UserString"): ("collections", "UserString"),
    ("exceptions", "StandardError"): ("builtins", "Exception"),
}


def _py3_name(module: str, name: str) -> tuple:
    found = _PY2_NAMES.get((module, name))
    return found if found is not None else (_PY2_MODULES.get(module, module), name)


def _restricted_resolver(user: dict):
    allowed = _allowed()

    def resolve(module: str, name: str):
        key = module, name = _py3_name(module, name)
        found = allowed.get(key)
        if found is not None:
            return found
        if key == _PARAMETER_KEY:
            return _parameter_class()
        full = f"{module}.{name}"
        obj = user.get(full)
        if obj is None and (module == "torch" or module.startswith("torch.")):
            obj = user.get("ember" + full[len("torch"):])
        if obj is None:
            raise refuse_global(module, name)
        return obj if isinstance(obj, type) else Callable(obj)
    return resolve


# ---- saving ---------------------------------------------------------------------------
def _torch_global_names() -> dict:
    """id of an ember object -> the ``(module, name)`` torch pickles it as."""
    out = {id(_rebuild_tensor_v2): ("torch._utils", "_rebuild_tensor_v2"),
           id(_rebuild_tensor_v3): ("torch._utils", "_rebuild_tensor_v3"),
           id(_UNTYPED): ("torch.storage", "UntypedStorage"),
           id(_rebuild_parameter): ("torch._utils", "_rebuild_parameter"),
           id(_rebuild_parameter_with_state): ("torch._utils", "_rebuild_parameter_with_state"),
           id(_rebuild_from_type_v2): ("torch._tensor", "_rebuild_from_type_v2"),
           id(Tensor): ("torch", "Tensor"), id(Size): ("torch", "Size"),
           id(device): ("torch", "device"),
           id(_runtime._get_layout): ("torch.serialization", "_get_layout")}
    for d in _dtype.ALL:
        out[id(d)] = ("torch", d.name)
    for stype in _STORAGE_OF_DTYPE.values():
        out[id(stype)] = ("torch", stype.name)
    return out


_SAVE_NAMES: dict | None = None
# ember keeps its own bookkeeping (``_base``, ``_view_src``, ``_storage``...) in a tensor's
# __dict__ under private names; the public ones and torch's ``_is_buffer`` mark are the user
# state torch would save.
_SAVED_PRIVATE_ATTRS = frozenset({"_is_buffer"})


def _byte_bounds(a) -> tuple:
    lo = hi = a.__array_interface__["data"][0]
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


def _root(array):
    """The array that owns ``array``'s memory block. ``as_strided`` results reach it through
    a wrapper object whose ``base`` is the array."""
    while True:
        base = array.base
        if isinstance(base, np.ndarray):
            array = base
        elif isinstance(getattr(base, "base", None), np.ndarray):
            array = base.base
        else:
            return array


class _StorageTable:
    """Assigns tensors to storages: arrays over one NumPy memory block share a storage."""

    def __init__(self) -> None:
        self.by_root: dict = {}  # id(root array) -> (key, root, lo, dtype, numel)
        self.blobs: list = []  # (key, contiguous byte array)

    def own(self, array, dt) -> tuple:
        """A storage of its own for a copy of ``array``; ``locate``'s result."""
        blob = np.ascontiguousarray(array).reshape(-1)
        key = str(len(self.blobs))
        self.blobs.append((key, blob.view(np.uint8)))
        return (key, dt, blob.shape[0]), 0, tuple(array.shape), _contiguous_strides(array.shape)

    def locate(self, array, dt) -> tuple:
        """``((key, dtype, numel), offset, size, stride)`` of an array, in elements."""
        itemsize = array.itemsize
        if array.size == 0:
            return self.own(array, dt)
        root = _root(array)
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            return self.own(array, dt)
        lo, hi = _byte_bounds(root)
        start = array.__array_interface__["data"][0]
        strides = array.strides
        if (start - lo) % itemsize or (hi - lo) % itemsize or any(
                s < 0 or s % itemsize for s in strides):
            return self.own(array, dt)
        entry = self.by_root.get(id(root))
        if entry is None:
            key = str(len(self.blobs))
            flat = root.reshape(-1, order="A")
            self.blobs.append((key, flat.view(np.uint8) if flat.dtype.itemsize > 0 else flat))
            entry = (key, root, lo, dt, (hi - lo) // itemsize)
            self.by_root[id(root)] = entry
        elif entry[3] is not dt:
            raise RuntimeError("Cannot save multiple tensors or storages that view the same "
                               "data as different types")
        key, _, lo, _, numel = entry
        return ((key, dt, numel), (start - lo) // itemsize, tuple(array.shape),
                tuple(s // itemsize for s in strides))


def _contiguous_strides(shape) -> tuple:
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


class _StorageRef:
    __slots__ = ("pid",)

    def __init__(self, pid) -> None:
        self.pid = pid


class _Pickler(pickle._Pickler):
    """Python's pickler, writing ember's tensors, dtypes, devices and sizes under torch's
    names (the C pickler insists on importing the module a global names)."""

    def __init__(self, file, protocol: int, legacy: bool) -> None:
        super().__init__(file, protocol)
        self.storages = _StorageTable()
        self.refs: dict = {}
        # the legacy format's persistent ids end in a storage view record, always None
        self.pid_tail = (None,) if legacy else ()

    def persistent_id(self, obj):
        cls = type(obj)
        if cls is _StorageRef:
            return obj.pid
        if cls is UntypedStorage:  # torch's pickle names an untyped storage's bytes as such
            return self._whole_storage(obj._bytes, _dtype.uint8)
        if isinstance(obj, TypedStorage):  # the legacy ``FloatStorage``-style classes too
            return self._whole_storage(obj._values(), obj.dtype)
        return None

    def _whole_storage(self, elements, dt: _dtype.dtype) -> tuple:
        """The persistent id of a storage object: a storage record of its own, shared with
        the tensors on its memory when its elements are that whole block."""
        (key, _, numel), offset, size, _ = self.storages.locate(elements, dt)
        if offset or size != (numel,):
            (key, _, numel), _, _, _ = self.storages.own(elements, dt)
        return self._ref(key, dt, numel).pid

    def _storage(self, t: Tensor) -> tuple:
        if "_phys" in t.__dict__:
            raise RuntimeError("Cannot save a batched tensor (inside vmap)")
        dt = t.dtype
        (key, dt, numel), offset, size, stride = self.storages.locate(t._data, dt)
        return self._ref(key, dt, numel), offset, Size(size), stride

    def _ref(self, key: str, dt: _dtype.dtype, numel: int) -> _StorageRef:
        ref = self.refs.get(key)
        if ref is None:
            stype = _STORAGE_OF_DTYPE.get(dt)
            if stype is None:  # NOTE [Untyped storages]
                stype, numel = _UNTYPED, numel * dt.itemsize
            ref = self.refs[key] = _StorageRef(
                ("storage", stype, key, "cpu", numel) + self.pid_tail)
        return ref

    def reducer_override(self, obj):
        cls = type(obj)
        if isinstance(obj, Tensor):
            if not cls.__module__.startswith("ember"):
                return NotImplemented
            storage, offset, size, stride = self._storage(obj)
            is_param = cls.__name__ == "Parameter" and cls is _parameter_class()
            args = (storage, offset, size, stride,
                    False if is_param else obj.requires_grad, OrderedDict())
            rebuild = _rebuild_tensor_v2
            if obj.dtype not in _STORAGE_OF_DTYPE:  # NOTE [Untyped storages]
                rebuild, args = _rebuild_tensor_v3, args + (obj.dtype,)
            state = {k: v for k, v in obj.__dict__.items()
                     if k[:1] != "_" or k in _SAVED_PRIVATE_ATTRS}
            if is_param:
                if state:
                    return (_rebuild_parameter_with_state,
                            (_Rebuilt(rebuild, args), obj.requires_grad, OrderedDict(), state))
                return _rebuild_parameter, (_Rebuilt(rebuild, args), obj.requires_grad,
                                            OrderedDict())
            if cls is Tensor and not state:
                return rebuild, args
            return _rebuild_from_type_v2, (rebuild, cls, args, state)
        if cls is Size:
            return Size, (tuple(obj),)
        return NotImplemented

    def save_global(self, obj, name=None):
        names = _SAVE_NAMES.get(id(obj))
        if names is None:
            return super().save_global(obj, name)
        module, qualname = names
        if self.proto >= 4:
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())
        self.memoize(obj)

    # the base class's table calls its own save_global for functions and classes
    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[type(_rebuild_tensor_v2)] = save_global
    dispatch[type] = save_global


class _Rebuilt:
    """A tensor record inside a Parameter record: pickled as the nested REDUCE torch
    writes (``_rebuild_parameter(_rebuild_tensor_v2(...), ...)``)."""

    __slots__ = ("rebuild", "args")

    def __init__(self, rebuild, args) -> None:
        self.rebuild, self.args = rebuild, args

    def __reduce__(self):
        return self.rebuild, self.args


def _open_for_write(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "wb"), True
    if not hasattr(f, "write"):
        raise AttributeError(f"'{type(f).__name__}' object has no attribute 'write'")
    return f, False


def save(obj: Any, f, pickle_protocol: int = DEFAULT_PROTOCOL, *, pickle_module=None,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Mirrors ``torch.save``: writes ``obj`` to ``f`` (a path or a binary file object) in
    torch's zip checkpoint format (NOTE [Checkpoint format]), which ``torch.load`` reads.

    Args:
        obj: what to save; tensors, dtypes, devices and sizes pickle under torch's names,
            other objects under their own (ember) names.
        f: a path (``str``/``os.PathLike``) or a binary file object (need not be seekable).
        pickle_protocol: 2 to 5, as torch's.
        pickle_module: only ``pickle`` (or None) is accepted. Keyword-only here, where
            torch's is the third positional argument.
        _use_new_zipfile_serialization: False writes torch's legacy (pre-1.6) format
            instead (NOTE [Legacy format]), which ``torch.load`` and ``ember.load`` read but
            cannot memory-map.

    Tensors whose arrays share memory are saved as one storage, so views stay views.
    """
    global _SAVE_NAMES
    if _SAVE_NAMES is None:
        _SAVE_NAMES = _torch_global_names()
    if pickle_module is not None and pickle_module is not pickle:
        raise TypeError("ember.save supports only the standard pickle module")
    if not isinstance(pickle_protocol, int) or not 2 <= pickle_protocol <= 5:
        raise ValueError(f"pickle_protocol must be between 2 and 5, got {pickle_protocol!r}")
    legacy = not _use_new_zipfile_serialization
    if not legacy and isinstance(f, (str, os.PathLike)):
        # torch's zip writer checks the directory before it pickles anything
        parent = os.path.dirname(os.fspath(f))
        if parent and not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, pickle_protocol, legacy)
    pickler.dump(obj)
    fp, owned = _open_for_write(f)
    try:
        if legacy:
            _write_legacy(fp, buffer.getbuffer(), pickler, pickle_protocol)
        else:
            name = pathlib.Path(os.fspath(f)).stem if owned else "archive"
            _write_zip(fp, name or "archive", buffer.getbuffer(), pickler.storages.blobs)
    finally:
        if owned:
            fp.close()


def _write_zip(fp, name: str, data_pkl, blobs: list) -> None:
    writer = ZipWriter(fp)
    records = [(f"{name}/data.pkl", data_pkl), (f"{name}/.format_version", b"1"),
               (f"{name}/.storage_alignment", b"64"),
               (f"{name}/byteorder", sys.byteorder.encode())]
    records += [(f"{name}/data/{key}", blob) for key, blob in blobs]
    records += [(f"{name}/version", b"3\n"),
                (f"{name}/.data/serialization_id",
                 f"{int.from_bytes(os.urandom(16), 'little'):040d}".encode())]
    writer.write_all(records)
    writer.close()


# NOTE [Legacy format]
# torch's pre-1.6 checkpoint is a stream of pickles: the magic number, the protocol version
# (1001), a dict describing the machine, the object (persistent ids ``('storage', <torch.
# XStorage>, key, location, numel, None)``), the list of storage keys; then, for each key in
# that order, the storage's element count as a little-endian int64 and its raw bytes.
_LEGACY_SYS_INFO = {"protocol_version": _LEGACY_PROTOCOL, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}


def _write_legacy(fp, data_pkl, pickler: _Pickler, protocol: int) -> None:
    if sys.byteorder != "little":
        raise RuntimeError("ember.save writes the legacy format on little-endian machines "
                           "only")
    for header in (_LEGACY_MAGIC, _LEGACY_PROTOCOL, _LEGACY_SYS_INFO):
        pickle.dump(header, fp, protocol=protocol)
    fp.write(data_pkl)
    # torch lists the keys sorted, as strings
    blobs = sorted(pickler.storages.blobs, key=lambda blob: blob[0])
    pickle.dump([key for key, _ in blobs], fp, protocol=protocol)
    for key, blob in blobs:
        fp.write(struct.pack("<q", pickler.refs[key].pid[4]))
        fp.write(blob)


# ---- loading --------------------------------------------------------------------------
_NO_CUDA = ("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
            "is False. If you are running on a CPU-only machine, please use torch.load with "
            "map_location=torch.device('cpu') to map your storages to the CPU.")


def _placement(location: str, map_location):
    """Where a storage saved at ``location`` goes: a callable's result (a storage or None)
    or the target location string."""
    if map_location is None:
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif isinstance(map_location, (str, device)) or type(map_location).__name__ == "device":
        target = str(map_location)  # ember's device, or torch's
    elif callable(map_location):
        return map_location
    else:
        raise TypeError(f"map_location should be None, a str, a device, a dict or a callable, "
                        f"not {type(map_location).__name__}")
    if isinstance(target, device):
        target = str(target)
    if not isinstance(target, str):
        raise TypeError(f"map_location maps {location!r} to a {type(target).__name__}")
    if target == "cpu":
        return None
    # torch asks each backend's deserializer in turn: the CPU's takes "cpu" only, the
    # others their device type with or without an index
    backend = target.split(":")[0]
    if backend == "cuda":
        device(target)  # a malformed index raises torch's error
        raise RuntimeError(_NO_CUDA)
    if backend in _UNAVAILABLE_BACKENDS:
        raise RuntimeError(_UNAVAILABLE_BACKENDS[backend])
    if backend == "meta":
        raise RuntimeError(f"ember.load: cannot place storages on {target}: ember holds "
                           "tensors on the CPU only")
    raise RuntimeError("don't know how to restore data location of "
                       f"torch.storage.UntypedStorage (tagged with {target})")


_TO_CPU = ("If you are running on a CPU-only machine, please use torch.load with "
           "map_location=torch.device('cpu') to map your storages to the CPU.")
# torch's words for the backends it knows but this machine lacks
_UNAVAILABLE_BACKENDS = {
    "xpu": "Attempting to deserialize object on a XPU device but torch.xpu.is_available() "
           "is False. " + _TO_CPU,
    "hpu": "The HPU device module is not registered. " + _TO_CPU,
    "privateuseone": "The PRIVATEUSEONE device module is not registered. " + _TO_CPU,
    "mps": "torch.UntypedStorage(): Storage device not recognized: mps",
    "mtia": "Cannot execute getCurrentDevice() without MTIA backend.",
}


class _Loader:
    """Reads storages on demand for the unpickler's persistent ids."""

    def __init__(self, reader, map_location, mmap_path, swap: bool) -> None:
        self.reader = reader
        self.map_location = map_location
        self.mmap_path = mmap_path
        self.swap = swap
        self.raw: dict = {}  # key -> 1-d uint8 array of the entry
        self.typed: dict = {}  # (key, dtype) -> the TypedStorage loaded

    def _raw(self, key: str):
        raw = self.raw.get(key)
        if raw is None:
            name = f"data/{key}"
            size = self.reader.size(name)
            if self.mmap_path is not None:
                raw = self.reader.memmap(self.mmap_path, name, np.uint8, size)
            else:
                raw = np.empty(size, np.uint8)
                self.reader.read_into(name, memoryview(raw))
            self.raw[key] = raw
        return raw

    def __call__(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise RuntimeError(f"ember.load: unknown persistent id {pid!r:.200}")
        _, stype, key, location, numel = pid
        if not isinstance(stype, _StorageType):
            raise RuntimeError(f"ember.load: {stype!r:.100} is not a storage type")
        if stype.dtype is None:
            raise RuntimeError(f"ember.load: the checkpoint holds a torch.{stype.name}, "
                               "which ember does not support")
        if type(key) is not str or type(location) is not str or type(numel) is not int \
                or numel < 0 or "/" in key or ".." in key:
            raise RuntimeError(f"ember.load: malformed storage record {pid!r:.200}")
        dt = stype.dtype
        cached = self.typed.get((key, dt))
        if cached is not None:
            return cached
        placement = _placement(location, self.map_location)
        if not self.reader.has(f"data/{key}"):
            raise CheckpointError(f"PytorchStreamReader failed locating file data/{key}: file "
                                  "not found")
        nbytes = self.reader.size(f"data/{key}")
        if nbytes != numel * dt.itemsize:
            raise CheckpointError(
                f"storage data/{key} holds {nbytes} bytes but the checkpoint declares "
                f"{numel} elements of {dt} ({numel * dt.itemsize} bytes)")
        array = self._raw(key).view(dt.np)
        if self.swap and dt.itemsize > 1:
            array = array.byteswap()
        storage = _placed(_loaded_storage(array, dt), location, placement)
        self.typed[key, dt] = storage
        return storage


def _placed(storage: TypedStorage, location: str, placement) -> TypedStorage:
    """``storage`` where a ``map_location`` callable puts it: torch hands the callable the
    ``UntypedStorage`` and wraps what it returns (None: the storage stays)."""
    if placement is None:
        return storage
    mapped = placement(storage._untyped_storage, location)
    if mapped is None or mapped is storage._untyped_storage:
        return storage
    return TypedStorage(wrap_storage=mapped, dtype=storage.dtype, _internal=True)


class _FullUnpickler(pickle.Unpickler):
    """The unrestricted unpickler (``weights_only=False``): torch's names map to ember's;
    other globals are imported as pickle does, so the file can run code."""

    def __init__(self, file, loader, **kwargs) -> None:
        super().__init__(file, **kwargs)
        self.loader = loader

    def persistent_load(self, pid):
        return self.loader(pid)

    def find_class(self, module: str, name: str):
        found = _allowed().get((module, name))
        if found is not None:
            return found.func if type(found) is Callable else found
        if (module, name) == _PARAMETER_KEY:
            return _parameter_class()
        if module == "torch" or module.startswith("torch."):
            try:
                return super().find_class("ember" + module[len("torch"):], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def _unpickle(data: bytes, loader, weights_only: bool, encoding: str):
    if not weights_only:
        return _FullUnpickler(io.BytesIO(data), loader, encoding=encoding).load()
    user = _user_globals()
    user_types = [v for v in user.values() if isinstance(v, type)]
    unpickler = RestrictedUnpickler(data, _restricted_resolver(user), loader, user_types,
                                    encoding, torch_opcodes=True)
    try:
        return unpickler.load()
    except _Refused as exc:
        raise weights_only_error(exc.detail, exc.blocked) from None


def _open_for_read(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), True
    if not hasattr(f, "read"):
        raise AttributeError(f"'{type(f).__name__}' object has no attribute 'read'")
    seekable = getattr(f, "seekable", None)
    if seekable is None or not seekable():
        return io.BytesIO(f.read()), False
    return f, False


def _is_zip(fp) -> bool:
    start = fp.tell()
    magic = fp.read(4)
    fp.seek(start)
    return magic == b"PK\x03\x04"


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Mirrors ``torch.load``: reads an object saved by ``torch.save`` or ``ember.save``
    without importing torch.

    Args:
        f: a path (``str``/``os.PathLike``) or a binary file object.
        map_location: ``'cpu'``, a ``device``, a dict from saved to new locations, or a
            callable ``(storage, location) -> storage or None``. ember holds tensors on the
            CPU only: storages saved on CUDA need ``map_location='cpu'`` (torch's error).
        pickle_module: only ``pickle`` (or None) is accepted; naming it makes
            ``weights_only`` default to False, as in torch.
        weights_only: True (the default, as in torch 2.6+) unpickles with the allow-list
            (see ``add_safe_globals``); False runs the pickle unrestricted, which can
            execute arbitrary code: ask for it only for trusted files.
        mmap: map the storages of an uncompressed zip checkpoint (copy-on-write) instead of
            reading them; ``f`` must be a path.
        pickle_load_args: ``encoding`` for Python 2 strings in old files.
    """
    if weights_only is None:  # torch's default: restricted unless a pickle module is named
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if pickle_module is not None and pickle_module is not pickle:
        raise TypeError("ember.load supports only the standard pickle module")
    unknown = set(pickle_load_args) - {"encoding"}
    if unknown:
        raise TypeError(f"load() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    encoding = pickle_load_args.get("encoding", "utf-8")
    weights_only = bool(weights_only)
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError("f must be a file path in order to use the mmap argument")
    fp, owned = _open_for_read(f)
    try:
        if _is_zip(fp):
            return _load_zip(fp, os.fspath(f) if mmap else None, map_location, weights_only,
                             encoding)
        if mmap:
            named = f"{f}, " if isinstance(f, str) else ""  # torch names a str path only
            raise RuntimeError("mmap can only be used with files saved with "
                               f"`torch.save({named}_use_new_zipfile_serialization=True), "
                               "please torch.save your checkpoint with this option in order "
                               "to use mmap.")
        return _load_legacy(fp, map_location, weights_only, encoding)
    finally:
        if owned:
            fp.close()


def _load_zip(fp, mmap_path, map_location, weights_only: bool, encoding: str):
    reader = ZipReader(fp)
    swap = False
    if reader.has("byteorder"):
        order = reader.read("byteorder", _MAX_SMALL_RECORD)
        if order not in (b"little", b"big"):
            raise CheckpointError(f"unknown byteorder record {order[:20]!r}")
        swap = order.decode() != sys.byteorder
    data = reader.read("data.pkl")
    loader = _Loader(reader, map_location, mmap_path, swap)
    return _unpickle(data, loader, weights_only, encoding)


# ---- reading torch's legacy (pre-1.6) format (NOTE [Legacy format]) --------------------
def _read_small_pickle(fp, weights_only: bool, encoding: str):
    """One of the legacy format's header pickles (plain values only)."""
    start = fp.tell()
    # the header pickles are small; parse from a bounded window, then resynchronise
    window = fp.read(1 << 16)
    if not window:
        raise EOFError("Ran out of input")
    unpickler = RestrictedUnpickler(window, _restricted_resolver({}), _no_persistent, (),
                                    encoding, torch_opcodes=weights_only)
    try:
        value = unpickler.load()
    except _Refused as exc:
        raise (weights_only_error(exc.detail, exc.blocked) if weights_only else
               pickle.UnpicklingError(exc.detail)) from None
    fp.seek(start + unpickler.pos)
    return value


def _no_persistent(pid):
    raise _Refused("persistent id in a header record")


def _pickle_end(data: bytes) -> int:
    """Where the first pickle in ``data`` ends (after its STOP), by walking its opcodes."""
    import pickletools

    try:
        for opcode, _, pos in pickletools.genops(data):
            if opcode.name == "STOP":
                return pos + 1
    except (ValueError, struct.error) as exc:
        raise pickle.UnpicklingError(f"malformed pickle: {exc}") from None
    raise pickle.UnpicklingError("pickle data was truncated")


def _load_legacy(fp, map_location, weights_only: bool, encoding: str):
    start = fp.tell()
    fp.seek(0, 2)
    length = fp.tell()
    fp.seek(start)
    if length == start:  # pickle's words; torch's weights-only unpickler gives none
        raise EOFError() if weights_only else EOFError("Ran out of input")
    magic = _read_small_pickle(fp, weights_only, encoding)
    if magic != _LEGACY_MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file?")
    version = _read_small_pickle(fp, weights_only, encoding)
    if version != _LEGACY_PROTOCOL:
        raise RuntimeError(f"Invalid protocol version: {version}")
    info = _read_small_pickle(fp, weights_only, encoding)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise RuntimeError("ember.load: only little-endian legacy checkpoints are supported")
    rest = fp.read()
    end = _pickle_end(rest)
    main, rest = rest[:end], rest[end:]
    pending: dict = {}  # key -> (uint8 buffer, dtype, numel)
    loaded_storages: dict = {}  # (key, view's offset and size) -> its TypedStorage

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise RuntimeError(f"ember.load: unknown persistent id {pid!r:.200}")
        _, stype, key, location, numel, view = pid
        if not isinstance(stype, _StorageType) or stype.dtype is None:
            raise RuntimeError(f"ember.load: unsupported storage type {stype!r:.100}")
        if type(key) is not str or type(location) is not str or type(numel) is not int \
                or numel < 0:
            raise RuntimeError(f"ember.load: malformed storage record {pid!r:.200}")
        dt = stype.dtype
        placement = _placement(location, map_location)
        entry = pending.get(key)
        if entry is None:
            if numel * dt.itemsize > len(rest):  # the data follows the pickles
                raise CheckpointError(f"storage {key} declares {numel * dt.itemsize} bytes "
                                      f"but the file holds {len(rest)} after its records")
            entry = pending[key] = (np.zeros(numel * dt.itemsize, np.uint8), dt, numel)
        elif entry[1] is not dt or entry[2] != numel:
            raise CheckpointError(f"storage {key} is declared with two types or sizes")
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and type(view[1]) is int
                    and type(view[2]) is int and 0 <= view[1]
                    and view[1] + view[2] <= numel and view[2] >= 0):
                raise CheckpointError(f"malformed storage view {view!r:.100}")
        loaded_key = (key, None if view is None else view[1:])
        loaded = loaded_storages.get(loaded_key)
        if loaded is not None:
            return loaded
        elements = entry[0].view(dt.np)
        if view is not None:
            elements = elements[view[1]:view[1] + view[2]]
        loaded = loaded_storages[loaded_key] = _placed(_loaded_storage(elements, dt), location,
                                                       placement)
        return loaded

    result = _unpickle(main, persistent_load, weights_only, encoding)
    keys_end = _pickle_end(rest)
    keys = RestrictedUnpickler(rest[:keys_end], _restricted_resolver({}), _no_persistent,
                               (), encoding, torch_opcodes=weights_only)
    try:
        keys = keys.load()
    except _Refused as exc:
        raise (weights_only_error(exc.detail, exc.blocked) if weights_only else
               pickle.UnpicklingError(exc.detail)) from None
    if not isinstance(keys, list):
        raise CheckpointError("malformed legacy checkpoint: no storage key list")
    pos = keys_end
    for key in keys:
        entry = pending.get(key)
        if entry is None:
            raise CheckpointError(f"legacy checkpoint lists unknown storage {key!r:.100}")
        buffer, dt, numel = entry
        if pos + 8 > len(rest):
            raise CheckpointError("legacy checkpoint is truncated")
        (count,) = struct.unpack_from("<q", rest, pos)
        pos += 8
        if count != numel or pos + buffer.nbytes > len(rest):
            raise CheckpointError(f"legacy storage {key!r} holds {count} elements, the "
                                  f"checkpoint declares {numel} (or the file is truncated)")
        buffer[:] = np.frombuffer(rest, np.uint8, buffer.nbytes, pos)
        pos += buffer.nbytes
    return result



def get_unsafe_globals_in_checkpoint(f) -> list:
    """Mirrors ``torch.serialization.get_unsafe_globals_in_checkpoint``: the
    ``module.name`` of each global in a zip checkpoint that ``load(weights_only=True)``
    would refuse (the file is parsed, never run)."""
    import pickletools

    fp, owned = _open_for_read(f)
    try:
        data = ZipReader(fp).read("data.pkl")
    finally:
        if owned:
            fp.close()
    resolve = _restricted_resolver(_user_globals())
    found: list = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            code = ord(opcode.code)
            if code not in TORCH_OPCODES:  # NOTE [Weights-only opcodes]: torch's scan too
                raise pickle.UnpicklingError(f"Unsupported operand {code}")
            if opcode.name != "GLOBAL":
                continue
            module, name = arg.split(" ", 1)
            try:
                resolve(module, name)
            except _Refused:
                full = ".".join(_py3_name(module, name))
                if full not in found:
                    found.append(full)
    except (ValueError, struct.error) as exc:
        raise pickle.UnpicklingError(f"malformed pickle: {exc}") from None
    return found
