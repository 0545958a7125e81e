"""Mirrors ``torch.storage``: ``UntypedStorage`` (a tensor's memory as bytes), the deprecated
``TypedStorage`` (the same bytes read as one dtype) and torch's legacy storage classes
(``FloatStorage``, ``LongStorage``, ...), whose constructors make ``TypedStorage`` objects.

NOTE [Storages over arrays]
An ember tensor's values live in a NumPy array; its storage is the memory of its base (the
tensor itself when it is not a view) from the base's first element on, the block
``storage_offset`` counts in (see ember._ops.shape). A storage object is a one-dim uint8
array over those bytes, so writes through the storage and through the tensor (and its
views) reach the same memory. One storage object stands for one block: it is registered
under the array that ``storage_offset`` measures from, so every view of a tensor returns the
same object, as torch's do.

A NumPy array cannot change its buffer. Growing a storage (``UntypedStorage.resize_``,
``Tensor.resize_`` or ``Tensor.set_`` past its end) therefore copies the block into a new
allocation and re-points every live tensor on the old block at the same byte offset and
strides, found among the garbage collector's live objects as ``share_memory_`` finds them
(NOTE [Shared tensor memory]); views stay views of one another. A block that only the
growing tensor or storage holds skips the scan. ember differs from torch in two places:
a storage does not shrink below the end of a tensor on it (torch lets that tensor read
past its storage), and a NumPy array a user took with ``Tensor.numpy()`` keeps the old
memory (in torch it would dangle).
"""
from __future__ import annotations

import sys
import warnings
import weakref

from ember import _dtype
from ember._backend import ndarray, np
from ember._device import CPU, serve

__all__ = ["UntypedStorage", "TypedStorage"]

_TYPED_STORAGE_WARNING = (
    "TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be "
    "the only storage class. This should only matter to you if you are using storages "
    "directly.  To access UntypedStorage directly, use tensor.untyped_storage() instead of "
    "tensor.storage()")
_warned = [False]


def _warn_typed_storage_removal(stacklevel: int = 2) -> None:
    """torch's deprecation warning for the TypedStorage API: once per process (until
    ``_reset_warn_typed_storage_removal``), as torch warns."""
    if not _warned[0]:
        _warned[0] = True
        warnings.warn(_TYPED_STORAGE_WARNING, UserWarning, stacklevel=stacklevel + 1)


def _reset_warn_typed_storage_removal() -> None:
    """Mirrors ``torch.storage._reset_warn_typed_storage_removal``: the next TypedStorage
    use warns again."""
    _warned[0] = False


def _address(array: ndarray) -> int:
    return array.__array_interface__["data"][0]


def _owner(array: ndarray) -> ndarray:
    while isinstance(array.base, ndarray):
        array = array.base
    return array


def _np_dtype(dt: _dtype.dtype):
    if dt._np is None:  # bfloat16 and the float8 types come from ml_dtypes, loaded on use
        _dtype._resolve_ml_dtypes()
    return dt._np


def _alloc_error(n: int) -> RuntimeError:
    return RuntimeError(
        "[enforce fail at alloc_cpu.cpp:98] ((ptrdiff_t)nbytes) >= 0. alloc_cpu() seems to "
        f"have been called with negative number: {n % 2 ** 64}")


def _index(value, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"can't index a {what} with {type(value).__name__}")
    return value.__index__()


class StorageBase:
    """Mirrors ``torch.StorageBase`` (torch's ``torch._C.StorageBase``): the base class of
    ``UntypedStorage``; holds the bytes (``_bytes``, a one-dim uint8 array)."""

    __slots__ = ("_bytes", "_resizable", "__weakref__")


StorageBase.__module__ = "ember"


class UntypedStorage(StorageBase):
    """Mirrors ``torch.UntypedStorage``: bytes on the CPU.

    ``UntypedStorage()`` is empty, ``UntypedStorage(n)`` holds ``n`` uninitialised bytes,
    ``UntypedStorage(sequence)`` the given byte values (each taken modulo 256, as torch
    stores them). ``tensor.untyped_storage()`` gives the storage a tensor lives in (NOTE
    [Storages over arrays]). ember differs: no ``from_buffer``/``from_file``, no shared-memory
    or pinned storages, and a slice of a storage cannot be resized (torch's error)."""

    __slots__ = ()
    is_sparse = False
    is_sparse_csr = False
    is_cuda = False
    is_hpu = False
    filename = None

    def __init__(self, *args, device=None) -> None:
        serve(device)
        if not args:
            data = np.empty(0, np.uint8)
        elif len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
            if args[0] < 0:
                raise _alloc_error(args[0])
            data = np.empty(args[0], np.uint8)
        elif len(args) == 1 and isinstance(args[0], (list, tuple)):
            data = (np.array(args[0], np.int64).reshape(-1) % 256).astype(np.uint8)
        else:
            raise TypeError(
                f"UntypedStorage(): invalid arguments: {tuple(type(a).__name__ for a in args)}")
        self._bytes = data
        self._resizable = True

    @classmethod
    def _wrap(cls, data: ndarray, resizable: bool = True) -> UntypedStorage:
        storage = object.__new__(cls)
        storage._bytes = data
        storage._resizable = resizable
        return storage

    # ---- sizes and addresses ----------------------------------------------------------
    def nbytes(self) -> int:
        """Mirrors ``UntypedStorage.nbytes``."""
        return self._bytes.shape[0]

    def size(self) -> int:
        """Mirrors ``UntypedStorage.size``: the number of bytes."""
        return self._bytes.shape[0]

    def __len__(self) -> int:
        return self._bytes.shape[0]

    def element_size(self) -> int:
        """Mirrors ``UntypedStorage.element_size``: 1 (a byte)."""
        return 1

    def data_ptr(self) -> int:
        """Mirrors ``UntypedStorage.data_ptr``: the first byte's address (0 when empty)."""
        return _address(self._bytes) if self._bytes.shape[0] else 0

    @property
    def device(self):
        return CPU

    def get_device(self) -> None:
        """Mirrors ``UntypedStorage.get_device``: the device's index, None on the CPU."""
        return None

    def resizable(self) -> bool:
        """Mirrors ``UntypedStorage.resizable``."""
        return self._resizable

    def is_pinned(self, device="cuda") -> bool:
        """Mirrors ``UntypedStorage.is_pinned``: ember has no pinned memory."""
        return False

    def is_shared(self) -> bool:
        """Mirrors ``UntypedStorage.is_shared``: whether the bytes are a shared mapping made
        by ``Tensor.share_memory_``."""
        import mmap

        base = _owner(self._bytes).base
        return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)

    def type(self) -> str:
        """Mirrors ``UntypedStorage.type()`` with no argument: the class's name (ember
        leaves out converting with ``type(dtype)``)."""
        return "torch.storage.UntypedStorage"

    def untyped(self) -> UntypedStorage:
        """Mirrors ``UntypedStorage.untyped``: itself."""
        return self

    def cpu(self) -> UntypedStorage:
        """Mirrors ``UntypedStorage.cpu``: itself (already on the CPU)."""
        return self

    # ---- elements ---------------------------------------------------------------------
    def _slice(self, key) -> slice:
        start, stop, step = key.indices(self._bytes.shape[0])
        if step != 1:
            raise RuntimeError(
                f"Trying to slice with a step of {step}, but only a step of 1 is supported")
        return slice(start, max(start, stop))

    def __getitem__(self, key):
        if isinstance(key, slice):
            # a view of the same bytes: torch's slice shares memory and cannot grow
            return UntypedStorage._wrap(self._bytes[self._slice(key)], False)
        i = _index(key, "torch.UntypedStorage")
        n = self._bytes.shape[0]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for storage of size {n}")
        return int(self._bytes[i])

    def __setitem__(self, key, value) -> None:
        if isinstance(key, slice):
            where = self._slice(key)
        else:
            where = _index(key, "torch.UntypedStorage")
            if not 0 <= where < self._bytes.shape[0]:  # torch takes no negative index here
                raise RuntimeError("out of bounds")
        self._bytes[where] = int(value) % 256

    def __iter__(self):
        return iter(self._bytes.tolist())

    def tolist(self) -> list:
        """Mirrors ``UntypedStorage.tolist``: the byte values."""
        return self._bytes.tolist()

    def fill_(self, value) -> UntypedStorage:
        """Mirrors ``UntypedStorage.fill_``: every byte set to ``value`` (modulo 256)."""
        self._bytes[...] = int(value) % 256
        return self

    def copy_(self, src, non_blocking=None) -> UntypedStorage:
        """Mirrors ``UntypedStorage.copy_``: the bytes of ``src`` (a storage of the same
        size in bytes)."""
        src = src.untyped()
        if src.nbytes() != self.nbytes():
            raise RuntimeError(f"size does not match, self was {self.nbytes()} bytes but src "
                               f"was {src.nbytes()} bytes")
        self._bytes[...] = src._bytes
        return self

    def clone(self) -> UntypedStorage:
        """Mirrors ``UntypedStorage.clone``: a copy in new memory."""
        return UntypedStorage._wrap(self._bytes.copy())

    def resize_(self, size: int) -> UntypedStorage:
        """Mirrors ``UntypedStorage.resize_``: ``size`` bytes, the first ones kept, the new
        ones uninitialised. Tensors on the storage follow it (NOTE [Storages over arrays]);
        ember refuses to shrink a storage below the end of a tensor on it (torch lets the
        tensor read out of bounds until it is used)."""
        if not self._resizable:
            raise RuntimeError("Trying to resize storage that is not resizable")
        size = _index(size, "torch.UntypedStorage")
        if size < 0:
            raise _alloc_error(size)
        grow(self, size)
        return self

    # ---- conversions ------------------------------------------------------------------
    def _to(self, dt: _dtype.dtype) -> TypedStorage:
        values = self._bytes.astype(_np_dtype(dt)) if dt is not _dtype.bool_ else (
            self._bytes != 0)
        return TypedStorage._wrap(UntypedStorage._wrap(values.view(np.uint8).reshape(-1)), dt)

    def __repr__(self) -> str:
        return _storage_str(self.tolist(), f"torch.storage.UntypedStorage(device=cpu) of size "
                                           f"{self.nbytes()}")

    __str__ = __repr__


UntypedStorage.__module__ = "ember.storage"


def _storage_str(values: list, what: str) -> str:
    return " " + "\n ".join(str(v) for v in values) + f"\n[{what}]"


class TypedStorage:
    """Mirrors ``torch.TypedStorage`` (deprecated in torch, with its one-time
    ``UserWarning``): an ``UntypedStorage`` read as elements of one dtype.

    ``TypedStorage()``, ``TypedStorage(n, dtype=...)``, ``TypedStorage(sequence,
    dtype=...)``, ``TypedStorage(wrap_storage=untyped, dtype=...)``; ``dtype`` defaults to
    the default dtype. ``tensor.storage()`` gives one over the tensor's memory."""

    __slots__ = ("_untyped_storage", "dtype", "__weakref__")
    is_sparse = False
    is_cuda = False
    is_hpu = False
    filename = None

    def __init__(self, *args, device=None, dtype=None, wrap_storage=None,
                 _internal: bool = False) -> None:
        if not _internal:
            _warn_typed_storage_removal()
        serve(device)
        dt = _dtype.get_default_dtype() if dtype is None else dtype
        if wrap_storage is not None:
            if args:
                raise RuntimeError("TypedStorage(): no positional arguments are allowed with "
                                   "wrap_storage")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError("expected a torch.UntypedStorage for wrap_storage, not "
                                f"{type(wrap_storage).__name__}")
            untyped = wrap_storage
        else:
            untyped = _typed_bytes(args, dt)
        self._untyped_storage = untyped
        self.dtype = dt

    @classmethod
    def _wrap(cls, untyped: UntypedStorage, dt: _dtype.dtype) -> TypedStorage:
        storage = object.__new__(TypedStorage)
        storage._untyped_storage = untyped
        storage.dtype = dt
        return storage

    def _values(self) -> ndarray:
        data = self._untyped_storage._bytes
        item = self.dtype.itemsize
        return data[:data.shape[0] // item * item].view(_np_dtype(self.dtype))

    def _size(self) -> int:
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    def size(self) -> int:
        """Mirrors ``TypedStorage.size``: the number of elements."""
        _warn_typed_storage_removal()
        return self._size()

    def __len__(self) -> int:
        _warn_typed_storage_removal()
        return self._size()

    def nbytes(self) -> int:
        """Mirrors ``TypedStorage.nbytes``."""
        _warn_typed_storage_removal()
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        """Mirrors ``TypedStorage.element_size``: bytes per element."""
        _warn_typed_storage_removal()
        return self.dtype.itemsize

    def data_ptr(self) -> int:
        """Mirrors ``TypedStorage.data_ptr``."""
        _warn_typed_storage_removal()
        return self._untyped_storage.data_ptr()

    @property
    def device(self):
        _warn_typed_storage_removal()
        return CPU

    def get_device(self) -> None:
        """Mirrors ``TypedStorage.get_device``: the device's index, None on the CPU."""
        _warn_typed_storage_removal()
        return None

    def untyped(self) -> UntypedStorage:
        """Mirrors ``TypedStorage.untyped``: the bytes underneath."""
        _warn_typed_storage_removal()
        return self._untyped_storage

    def resizable(self) -> bool:
        """Mirrors ``TypedStorage.resizable``."""
        _warn_typed_storage_removal()
        return self._untyped_storage._resizable

    def is_pinned(self, device="cuda") -> bool:
        """Mirrors ``TypedStorage.is_pinned``: ember has no pinned memory."""
        _warn_typed_storage_removal()
        return False

    def is_shared(self) -> bool:
        """Mirrors ``TypedStorage.is_shared``."""
        _warn_typed_storage_removal()
        return self._untyped_storage.is_shared()

    def type(self) -> str:
        """Mirrors ``TypedStorage.type()`` with no argument: the legacy class's name
        (``'torch.FloatStorage'``; ember leaves out converting with ``type(dtype)``)."""
        _warn_typed_storage_removal()
        return f"torch.{_dtype._LEGACY[self.dtype.name]}Storage"

    def pickle_storage_type(self) -> str:
        """Mirrors ``TypedStorage.pickle_storage_type``: the legacy class name that torch's
        checkpoints record (``'FloatStorage'``)."""
        _warn_typed_storage_removal()
        return f"{_dtype._LEGACY[self.dtype.name]}Storage"

    def cpu(self) -> TypedStorage:
        """Mirrors ``TypedStorage.cpu``: a new TypedStorage over the same bytes."""
        _warn_typed_storage_removal()
        return TypedStorage._wrap(self._untyped_storage.cpu(), self.dtype)

    def __getitem__(self, key):
        _warn_typed_storage_removal()
        if isinstance(key, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        i = _index(key, "torch.TypedStorage")
        n = self._size()
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for storage of size {n}")
        return _python_values(self._values()[i % n:][:1])[0]

    def __setitem__(self, key, value) -> None:
        _warn_typed_storage_removal()
        values = self._values()
        if isinstance(key, slice):
            where = slice(*key.indices(values.shape[0]))
        else:
            where = _index(key, "torch.TypedStorage")
            n = values.shape[0]
            if not -n <= where < n:
                raise IndexError(
                    f"index {where} is out of bounds for dimension 0 with size {n}")
        values[where] = _element(value, self.dtype)

    def __iter__(self):
        _warn_typed_storage_removal()
        return iter(_python_values(self._values()))

    def tolist(self) -> list:
        """Mirrors ``TypedStorage.tolist``: the elements as Python numbers."""
        _warn_typed_storage_removal()
        return _python_values(self._values())

    def fill_(self, value) -> TypedStorage:
        """Mirrors ``TypedStorage.fill_``."""
        _warn_typed_storage_removal()
        self._values()[...] = _element(value, self.dtype)
        return self

    def copy_(self, source, non_blocking=None) -> TypedStorage:
        """Mirrors ``TypedStorage.copy_``: the bytes of a storage of the same size."""
        _warn_typed_storage_removal()
        self._untyped_storage.copy_(source.untyped() if isinstance(source, TypedStorage)
                                    else source)
        return self

    def clone(self) -> TypedStorage:
        """Mirrors ``TypedStorage.clone``: a copy in new memory."""
        _warn_typed_storage_removal()
        return TypedStorage._wrap(self._untyped_storage.clone(), self.dtype)

    def resize_(self, size: int) -> None:
        """Mirrors ``TypedStorage.resize_``: ``size`` elements (torch returns None)."""
        _warn_typed_storage_removal()
        self._untyped_storage.resize_(_index(size, "torch.TypedStorage") * self.dtype.itemsize)

    def _to(self, dt: _dtype.dtype) -> TypedStorage:
        _warn_typed_storage_removal()
        if dt is self.dtype:
            return self
        from ember._tensor import make

        values = make(self._values()).to(dt)._data
        return TypedStorage._wrap(UntypedStorage._wrap(values.view(np.uint8).reshape(-1)), dt)

    def __repr__(self) -> str:
        _warn_typed_storage_removal()
        return _storage_str(_python_values(self._values()),
                            f"torch.storage.TypedStorage(dtype=torch.{self.dtype.name}, "
                            f"device=cpu) of size {self._size()}")

    __str__ = __repr__


TypedStorage.__module__ = "ember.storage"


def _python_values(values: ndarray) -> list:
    if values.dtype.type.__module__ == "ml_dtypes":
        values = values.astype(np.float32)  # bfloat16 and float8: Python floats via float32
    return values.tolist()


def _element(value, dt: _dtype.dtype):
    from ember._tensor import make

    return make(np.array(value)).to(dt)._data


def _typed_bytes(args: tuple, dt: _dtype.dtype) -> UntypedStorage:
    if not args:
        return UntypedStorage._wrap(np.empty(0, np.uint8))
    if len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
        if args[0] < 0:
            raise _alloc_error(args[0] * dt.itemsize)
        return UntypedStorage._wrap(np.empty(args[0] * dt.itemsize, np.uint8))
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        values = _element(list(args[0]), dt).reshape(-1)
        return UntypedStorage._wrap(values.view(np.uint8).reshape(-1).copy())
    raise TypeError(f"TypedStorage(): invalid arguments: {tuple(type(a).__name__ for a in args)}")


_CONVERSIONS = {
    "float": _dtype.float32, "double": _dtype.float64, "half": _dtype.float16,
    "bfloat16": _dtype.bfloat16, "long": _dtype.int64, "int": _dtype.int32,
    "short": _dtype.int16, "char": _dtype.int8, "byte": _dtype.uint8, "bool": _dtype.bool_,
    "complex_float": _dtype.complex64, "complex_double": _dtype.complex128,
}


def _conversion(name: str, dt: _dtype.dtype):
    def convert(self):
        return self._to(dt)
    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = f"Mirrors ``Storage.{name}``: a copy as a ``TypedStorage`` of {dt!r}."
    return convert


for _name, _dt in _CONVERSIONS.items():
    setattr(UntypedStorage, _name, _conversion(_name, _dt))
    setattr(TypedStorage, _name, _conversion(_name, _dt))


class _LegacyStorageMeta(type):
    """A legacy storage class (``FloatStorage``) is an instance check on a TypedStorage's
    dtype, as in torch."""

    dtype: _dtype.dtype

    def __instancecheck__(cls, instance) -> bool:
        if type(instance) is TypedStorage:
            return instance.dtype is cls.dtype
        return type.__instancecheck__(cls, instance)


class _LegacyStorage(TypedStorage, metaclass=_LegacyStorageMeta):
    """torch's legacy storage classes: calling one makes a ``TypedStorage`` of its dtype
    (no arguments, a size, a sequence, or ``wrap_storage=``)."""

    __slots__ = ()

    def __new__(cls, *args, wrap_storage=None, **kwargs):
        if kwargs or (wrap_storage is not None and args) or len(args) > 1:
            extra = f"Keyword argument '{next(iter(kwargs))}' cannot be specified" if kwargs \
                else "Too many positional arguments"
            raise RuntimeError(
                f"<class 'torch.{cls.__name__}'>.__new__ received an invalid combination of "
                "arguments. Expected one of:\n * no arguments\n * (int size)\n * (Sequence "
                f"data)\n * (*, UntypedStorage wrap_storage)\n{extra}")
        return TypedStorage(*args, dtype=cls.dtype, wrap_storage=wrap_storage)


def _legacy_class(dt: _dtype.dtype) -> type:
    name = f"{_dtype._LEGACY[dt.name]}Storage"
    cls = _LegacyStorageMeta(name, (_LegacyStorage,), {"__slots__": (), "dtype": dt,
                                                       "__module__": "ember"})
    cls.__doc__ = f"Mirrors ``torch.{name}``: makes a ``TypedStorage`` of {dt!r}."
    return cls


LEGACY_STORAGES = {dt: _legacy_class(dt) for dt in (
    _dtype.float32, _dtype.float64, _dtype.float16, _dtype.bfloat16, _dtype.int64,
    _dtype.int32, _dtype.int16, _dtype.int8, _dtype.uint8, _dtype.bool_, _dtype.complex64,
    _dtype.complex128)}


# ---- storages of tensors ----------------------------------------------------------------
# id(the array storage_offset measures from) -> (weak ref to that array, weak ref to its
# storage object): one storage object per block while someone holds it (NOTE [Storages
# over arrays]).
_STORAGES: dict = {}


def register(memory: ndarray, storage: UntypedStorage) -> None:
    """Make ``storage`` the storage object of the tensors whose storage array is
    ``memory``."""
    key = id(memory)

    def forget(_ref, key=key) -> None:
        entry = _STORAGES.get(key)
        if entry is not None and (entry[0]() is None or entry[1]() is None):
            del _STORAGES[key]

    _STORAGES[key] = (weakref.ref(memory, forget), weakref.ref(storage, forget))


# id(tensor) -> (weak ref to the tensor, its storage object): torch keeps a tensor's storage
# object alive as long as the tensor, so that it stays the same object; ember holds it here
# rather than in the tensor, which copies and pickles would then carry.
_KEPT: dict = {}


def keep_alive(tensor, storage: UntypedStorage | None) -> None:
    """Hold ``storage`` (None: nothing) for as long as ``tensor`` lives."""
    key = id(tensor)
    if storage is None:
        _KEPT.pop(key, None)
        return
    entry = _KEPT.get(key)
    if entry is not None and entry[0]() is tensor:
        if entry[1] is storage:
            return
        _KEPT[key] = (entry[0], storage)
        return

    def forget(ref, key=key) -> None:
        entry = _KEPT.get(key)
        if entry is not None and entry[0] is ref:
            del _KEPT[key]

    _KEPT[key] = (weakref.ref(tensor, forget), storage)


def storage_for(memory: ndarray, nbytes: int) -> UntypedStorage:
    """The storage object of the block that starts at ``memory``'s first element and spans
    ``nbytes`` bytes; made and registered on first request."""
    entry = _STORAGES.get(id(memory))
    if entry is not None and entry[0]() is memory:
        storage = entry[1]()
        if storage is not None:
            return storage
    storage = UntypedStorage._wrap(_bytes_of(memory, nbytes))
    register(memory, storage)
    return storage


def _bytes_of(memory: ndarray, nbytes: int) -> ndarray:
    """A uint8 array over ``nbytes`` bytes from ``memory``'s first element. Made from the
    allocation itself when it is one contiguous block, so that its chain of bases leads
    there (NOTE [Shared tensor memory] finds tensors by that chain)."""
    if nbytes == 0:
        return np.empty(0, np.uint8)
    owner = _owner(memory)
    if owner.flags.c_contiguous:
        flat = owner.reshape(-1).view(np.uint8)
        start = _address(memory) - _address(owner)
        return flat[start:start + nbytes]
    return np.lib.stride_tricks.as_strided(memory, (nbytes // memory.itemsize,),
                                           (memory.itemsize,)).view(np.uint8)


class _Holder:
    __slots__ = ("array",)


def _references(array: ndarray) -> int:
    return sys.getrefcount(array)


def _calibrate() -> int:
    holder = _Holder()
    holder.array = np.empty(0, np.uint8)
    return _references(holder.array)


# How many references an array has when one attribute alone holds it: the baseline of
# ``_references(obj.attr)`` (measured rather than assumed, as it varies between Pythons).
_LONE_REFERENCES = _calibrate()


def sole_holder(obj, attr: str) -> bool:
    """Whether ``obj.attr`` is an array that nothing else refers to, directly or through a
    view of it, so that no tensor or storage besides ``obj`` uses its memory. Arrays made
    by NumPy for ``obj.attr`` alone (its own allocation, or one view of a fresh one) count;
    anything more involved is taken as shared."""
    if _references(getattr(obj, attr)) > _LONE_REFERENCES:
        return False
    base = getattr(obj, attr).base
    if base is None:
        return True
    # ``base`` here is a local name too: one reference more than an attribute's alone
    return (isinstance(base, ndarray) and base.base is None
            and _references(base) <= _LONE_REFERENCES + 1)


def grow(storage: UntypedStorage, nbytes: int) -> None:
    """Resize ``storage`` to ``nbytes`` bytes in new memory (the first bytes kept) and move
    every live tensor on it there (NOTE [Storages over arrays])."""
    shared = not sole_holder(storage, "_bytes")
    old = storage._bytes
    new = np.empty(nbytes, np.uint8)
    keep = min(nbytes, old.shape[0])
    new[:keep] = old[:keep]
    views = _move_tensors(old, new) if shared and old.shape[0] else ()
    storage._bytes = new
    for view in views:
        register(view, storage)


def _move_tensors(old: ndarray, new: ndarray) -> list:
    """Re-point the tensors whose memory lies in ``old``'s bytes at the same place in
    ``new`` (refusing first if one would end past ``new``); returns the typed arrays over
    ``new`` that their bases now measure storage offsets from."""
    from ember._ops.shape import _memory
    from ember._shared_memory import _tensors_on

    low = _address(old)
    high = low + old.shape[0]
    moving = []
    for holder in _tensors_on(_owner(old)):
        memory = _memory(holder)
        if memory.size == 0 or not low <= _address(memory) < high:
            continue
        data = holder._data
        end = np.lib.array_utils.byte_bounds(data)[1] - low if data.size else 0
        if end > new.shape[0]:
            raise RuntimeError(
                f"ember: cannot shrink a storage to {new.shape[0]} bytes while a tensor of "
                f"size {list(data.shape)} uses its bytes up to {end}")
        moving.append(holder)
    typed: dict = {}
    for holder in moving:
        data = holder._data
        view = typed.get(data.dtype)
        if view is None:
            whole = new.shape[0] // data.itemsize * data.itemsize
            view = typed[data.dtype] = new[:whole].view(data.dtype)
        if data.size:
            moved = np.ndarray(data.shape, data.dtype, buffer=new, offset=_address(data) - low,
                               strides=data.strides)
            moved.flags.writeable = data.flags.writeable
        else:
            moved = np.empty(data.shape, data.dtype)
        holder._data = moved
        if holder._base is None:
            holder._storage = view
    return list(typed.values())
