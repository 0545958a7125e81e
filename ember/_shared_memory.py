"""Shared memory for tensors: ``Tensor.share_memory_``, ``Tensor.is_shared`` and, through
them, ``Module.share_memory``.

NOTE [Shared tensor memory]
A tensor's values live in a NumPy array; several tensors (views, ``detach``-ed copies) may
read the same memory through arrays of their own. ``share_memory_`` copies that memory, the
whole allocation the tensor's array belongs to, once, into an anonymous shared mapping
(``mmap(-1, n)``: MAP_SHARED | MAP_ANONYMOUS on POSIX), so a process forked afterwards
writes where the parent reads. Every tensor that still reads the old memory is then
re-pointed at the same byte offset and strides in the mapping: the views stay views of one
another, and the values and version counters do not change. A NumPy array cannot change
its buffer, and neither an array nor a tensor knows its views (arrays are not tracked by the
garbage collector), so those tensors are found among the collector's live objects: one scan
per shared allocation, paid once, as torch pays a copy. A tensor is shared when its memory
is such a mapping.
"""
from __future__ import annotations

import ctypes
import gc
import mmap

from ember._backend import ndarray, np
from ember._tensor import Tensor

__all__ = ["share_memory_", "is_shared"]


def _owner(array: ndarray) -> ndarray:
    """The array at the root of ``array``'s chain of bases: the allocation it views."""
    while isinstance(array.base, ndarray):
        array = array.base
    return array


def _address(array: ndarray) -> int:
    return array.__array_interface__["data"][0]


def is_shared(tensor: Tensor) -> bool:
    """Mirrors ``Tensor.is_shared``: whether the tensor's memory is a shared mapping made by
    ``share_memory_`` (NOTE [Shared tensor memory])."""
    base = _owner(tensor._data).base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)


_DATA_SLOT = Tensor.__dict__["_data"]  # the slot itself: an uninitialized Parameter's
# ``_data`` property raises


def _tensors_on(owner: ndarray) -> list:
    """Every live tensor whose array is ``owner`` or a view of it."""
    found = []
    for obj in gc.get_objects():
        if issubclass(type(obj), Tensor):
            try:
                data = _DATA_SLOT.__get__(obj)
            except AttributeError:  # no data yet
                continue
            if _owner(data) is owner:
                found.append(obj)
    return found


def share_memory_(tensor: Tensor) -> Tensor:
    """Mirrors ``Tensor.share_memory_``: move the tensor's memory (and so that of every
    tensor viewing it) into shared memory; a no-op when it is shared already. Returns
    ``tensor``."""
    if is_shared(tensor):
        return tensor
    owner = _owner(tensor._data)
    low, high = np.lib.array_utils.byte_bounds(owner)
    mapping = mmap.mmap(-1, max(high - low, 1))
    # the array's base views the mapping: see ``is_shared``
    move_memory(owner, np.frombuffer(mapping, np.uint8))
    return tensor


def move_memory(owner: np.ndarray, flat: np.ndarray) -> None:
    """Copy the bytes the array ``owner`` spans into ``flat`` (uint8, at least as long) and
    re-point every tensor viewing ``owner``'s memory into ``flat``, at the same offsets."""
    low, high = np.lib.array_utils.byte_bounds(owner)
    if high > low:
        ctypes.memmove(_address(flat), low, high - low)
    for holder in _tensors_on(owner):
        old = holder._data
        new = np.ndarray(old.shape, old.dtype, buffer=flat, offset=_address(old) - low,
                         strides=old.strides)
        new.flags.writeable = old.flags.writeable
        holder._data = new
