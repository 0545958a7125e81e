"""torch's memory formats (``torch.channels_last``, ...) and how ember's strided arrays honour
them.

ember's arrays are NumPy arrays with real strides, so a memory format is a physical order of
the elements: ``channels_last`` stores a 4-d (N, C, H, W) tensor as N, H, W, C. The helpers
here decide a tensor's strides the way torch does (NOTE [Memory format rules]) and make
arrays laid out that way; the ops that take ``memory_format=`` call them.
"""
from __future__ import annotations

import math

from ember._backend import ndarray, np

__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d"]


class memory_format:
    """Mirrors ``torch.memory_format``: the four interned objects ``torch.contiguous_format``,
    ``torch.preserve_format``, ``torch.channels_last`` and ``torch.channels_last_3d``;
    no others can be made. They print, compare and pickle as torch's (by name, so that a
    pickle loads the same object)."""

    __slots__ = ("_name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'torch.memory_format' instances")

    def __repr__(self) -> str:
        return "torch." + self._name

    def __reduce__(self) -> str:
        return self._name

    def _unordered(self, other, op: str):
        if type(other) is not memory_format:
            return NotImplemented
        raise TypeError(f"'{op}' not supported between instances of 'torch.memory_format' and "
                        "'torch.memory_format'")

    def __lt__(self, other):
        return self._unordered(other, "<")

    def __le__(self, other):
        return self._unordered(other, "<=")

    def __gt__(self, other):
        return self._unordered(other, ">")

    def __ge__(self, other):
        return self._unordered(other, ">=")


memory_format.__module__ = "ember"  # the public name: ``<class 'ember.memory_format'>``


def _intern(name: str) -> memory_format:
    obj = object.__new__(memory_format)
    obj._name = name
    return obj


contiguous_format = _intern("contiguous_format")
preserve_format = _intern("preserve_format")
channels_last = _intern("channels_last")
channels_last_3d = _intern("channels_last_3d")

# NOTE [Memory format rules]
# What torch does, observed and documented, in element strides:
# - channels_last (rank 4) orders dims slowest to fastest as N, H, W, C; channels_last_3d
#   (rank 5) as N, D, H, W, C. Their strides are plain products of the faster sizes (a
#   size-0 dim makes the slower strides 0); contiguous strides count a size-0 dim as 1.
# - ``is_contiguous(memory_format=f)`` walks f's order from the fastest dim and requires each
#   dim of size other than 1 to have the product of the sizes before it as its stride.
# - non-overlapping and dense: the dims of size 2 or more, sorted by stride, have strides
#   1, n0, n0*n1, ... (an empty tensor counts as dense).
# - ``preserve_format`` (clone, ``to``, the ``*_like`` factories) keeps a non-overlapping,
#   dense input's strides as they are; otherwise it lays out densely in the order of the
#   input's strides (dims sorted fastest first by stride, a zero stride deciding nothing, a
#   tie broken by size).
# - ``to(memory_format=f)`` with nothing else to change returns the tensor itself when f is
#   the format torch reads from its strides (``suggest_format``), contiguous or not.

_ORDERS = {4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}  # slowest to fastest
_RANKS = {"channels_last": 4, "channels_last_3d": 5}


def check_format(fmt, name: str) -> None:
    """torch's TypeError for a ``memory_format`` argument of function ``name`` that is not a
    memory format."""
    if type(fmt) is not memory_format:
        raise TypeError(f"{name}(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(fmt).__name__}")


def check_rank(fmt: memory_format, ndim: int) -> None:
    """torch's RuntimeError for a channels-last format on a tensor of another rank."""
    rank = _RANKS.get(fmt._name)
    if rank is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")


def element_strides(array: ndarray) -> tuple:
    """The strides torch reports for ``array`` (``Tensor.stride``), in elements."""
    if array.size == 0:
        steps = []
        step = 1
        for size in reversed(array.shape):
            steps.append(step)
            step *= max(size, 1)
        return tuple(reversed(steps))
    item = array.itemsize
    return tuple(s // item for s in array.strides)


def format_strides(shape: tuple, fmt: memory_format) -> tuple:
    """The strides of a fresh tensor of ``shape`` in format ``fmt`` (contiguous or
    channels-last; the rank already checked)."""
    strides = [0] * len(shape)
    if fmt._name in _RANKS:
        step = 1
        for d in reversed(_ORDERS[len(shape)]):
            strides[d] = step
            step *= shape[d]
        return tuple(strides)
    step = 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = step
        step *= max(shape[d], 1)
    return tuple(strides)


def is_format(shape: tuple, strides: tuple, fmt: memory_format) -> bool:
    """Whether ``strides`` are contiguous in format ``fmt`` (NOTE [Memory format rules]);
    a channels-last format on another rank is never contiguous."""
    rank = _RANKS.get(fmt._name)
    if rank is None:
        order = range(len(shape))
    elif len(shape) != rank:
        return False
    else:
        order = _ORDERS[rank]
    if rank is None and 0 in shape:
        return True
    expected = 1
    for d in reversed(order):
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def _strides_like(shape: tuple, strides: tuple, order: tuple) -> bool:
    """Whether strides read as a channels-last order (``order`` slowest to fastest), as
    torch guesses a tensor's format from its strides: the channel stride is not 0, no dim is
    empty, strides grow along the order (a size-1 dim needs only not to shrink them) and a
    batch stride equal to the channel stride is read as contiguous (NOTE [Memory format
    rules])."""
    if strides[1] == 0:
        return False
    least = 0
    for d in reversed(order):
        if shape[d] == 0 or strides[d] < least:
            return False
        if d == 0 and least == strides[1]:
            return False
        least = strides[d] * shape[d] if shape[d] > 1 else strides[d]
    return True


def suggest_format(shape: tuple, strides: tuple) -> memory_format:
    """The format torch reads from a tensor's strides (``suggest_memory_format``): a
    channels-last one when the strides are laid out that way, else contiguous."""
    order = _ORDERS.get(len(shape))
    if order is not None and _strides_like(shape, strides, order):
        return channels_last if len(shape) == 4 else channels_last_3d
    return contiguous_format


def is_dense(shape: tuple, strides: tuple) -> bool:
    """Whether the strides are non-overlapping and dense (NOTE [Memory format rules])."""
    if 0 in shape:
        return True
    expected = 1
    for stride, size in sorted((st, n) for n, st in zip(shape, strides) if n > 1):
        if stride != expected:
            return False
        expected *= size
    return True


def dim_comparison(shape: tuple, strides: tuple):
    """torch's comparison of two dims by their strides, then sizes: 1 when dim ``a`` lies
    outside dim ``b``, -1 inside, 0 undecided (a zero stride, or equal strides and sizes)."""
    def outer(a: int, b: int) -> int:
        if strides[a] == 0 or strides[b] == 0:
            return 0
        if strides[a] != strides[b]:
            return 1 if strides[a] > strides[b] else -1
        return 1 if shape[a] > shape[b] else 0
    return outer


def sort_inner_first(order: list, outer) -> None:
    """Sort the dims ``order`` (innermost first) in place by ``outer`` (``dim_comparison``),
    as torch does: an insertion sort, since an undecided pair keeps its place and no key
    sort can express that."""
    for i in range(1, len(order)):
        moving = i
        for j in range(i - 1, -1, -1):
            verdict = outer(order[j], order[moving])
            if verdict > 0:
                order[j], order[moving] = order[moving], order[j]
                moving = j
            elif verdict < 0:
                break


def _infer_dense_strides(shape: tuple, strides: tuple) -> tuple:
    """Dense strides in the order of ``strides`` (NOTE [Memory format rules])."""
    ndim = len(shape)
    perm = list(range(ndim - 1, -1, -1))  # fastest first
    sort_inner_first(perm, dim_comparison(shape, strides))
    out = [0] * ndim
    step = 1
    for d in perm:
        out[d] = step
        step *= max(shape[d], 1)
    return tuple(out)


def preserved_strides(array: ndarray) -> tuple:
    """The strides ``preserve_format`` gives a copy of ``array``."""
    shape, strides = array.shape, element_strides(array)
    if is_dense(shape, strides):
        return strides
    return _infer_dense_strides(shape, strides)


def empty_strided_array(shape: tuple, strides: tuple, np_dtype) -> ndarray:
    """A fresh zero-filled array of ``shape`` with element ``strides`` (any non-negative
    strides, overlapping ones too), owning exactly the memory they span."""
    if 0 in shape:  # no memory, but the strides asked for (NumPy's zeros would give 0s)
        item = np.dtype(np_dtype).itemsize
        return np.ndarray(shape, np_dtype, buffer=np.zeros(0, np_dtype),
                          strides=tuple(s * item for s in strides))
    if strides == format_strides(shape, contiguous_format):  # the common case
        return np.zeros(shape, np_dtype)
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides))
    memory = np.zeros(span, np_dtype)
    if span == math.prod(shape):
        # dense: a transposed C-ordered array has the wanted strides in the common case and
        # is cheaper to make and to copy into than an as_strided view
        order = sorted(range(len(shape)), key=lambda d: -strides[d])
        inverse = np.argsort(order)
        guess = memory.reshape([shape[d] for d in order]).transpose(inverse)
        if element_strides(guess) == tuple(strides):
            return guess
    item = memory.itemsize
    return np.lib.stride_tricks.as_strided(memory, shape, tuple(s * item for s in strides))


def copy_with_strides(array: ndarray, strides: tuple, np_dtype=None) -> ndarray:
    """A copy of ``array`` (cast to ``np_dtype`` when given, with NumPy's cast) laid out with
    element ``strides``."""
    out = empty_strided_array(array.shape, strides, np_dtype or array.dtype)
    np.copyto(out, array, casting="unsafe")
    return out


def relayout(source: ndarray, result: ndarray, fmt: memory_format | None) -> ndarray:
    """``result`` (a fresh copy of ``source``'s values, possibly cast) in the layout that
    format ``fmt`` (None: preserve) asks of a copy of ``source``; copied again only when its
    strides differ."""
    if fmt is None or fmt is preserve_format:
        # the common cases, decided without working out strides: both in C order with no
        # size-1 dim (whose stride may be anything), or the same strides
        if source.flags.c_contiguous and result.flags.c_contiguous and 1 not in source.shape:
            return result
        if result.itemsize == source.itemsize and result.strides == source.strides:
            return result
        wanted = preserved_strides(source)
    else:
        wanted = format_strides(source.shape, fmt)
    if element_strides(result) == wanted:
        return result
    return copy_with_strides(result, wanted)


def preserve_copy(array: ndarray) -> ndarray:
    """A copy of ``array`` laid out as ``preserve_format`` asks (``clone``'s default)."""
    result = array.copy(order="K")
    if result.strides == array.strides:  # the common case: nothing to work out
        return result
    return relayout(array, result, None)


def copy_in_format(array: ndarray, fmt: memory_format | None) -> ndarray:
    """A copy of ``array`` laid out as format ``fmt`` (None: preserve) asks."""
    return relayout(array, array.copy(order="C" if fmt is contiguous_format else "K"), fmt)


def has_c_strides(array: ndarray) -> bool:
    """Whether ``array``'s strides are exactly those of a fresh C-ordered array of its shape
    (NumPy's C-contiguous flag lets a size-1 dim have any stride; torch reports them)."""
    if not array.flags.c_contiguous:
        return False
    return 1 not in array.shape or array.strides == np.empty(array.shape, array.dtype).strides
