"""Making tensors: ``tensor``, factories (``zeros``, ``arange``, ...), and the copy ops
``to`` and ``clone``."""
from __future__ import annotations

import itertools
import math
import numbers
import warnings

from ember import _dtype
from ember import _memory_format as _mf
from ember import storage as _storage
from ember._backend import ndarray, np
from ember._device import device as _device
from ember._device import place as _place
from ember._device import serve as _serve
from ember._ops import _promote
from ember._ops.registry import KEEP, attach, defop, run, run_inplace, saved_names
from ember._tensor import Size, Tensor, c_type_name, make, refuse_non_tensor
from ember.autograd import grad_mode

# ---- dtype inference ------------------------------------------------------------------

# NOTE [Data to tensors]
# torch.tensor reads nested sequences as torch does: the dtype (when not given) promotes the
# dtypes of all the leaves (``promote_types``, not the weak rules of arithmetic): a Python
# bool is bool, an int int64, a float the default dtype, a complex the default complex
# dtype, a tensor (a scalar of one element here) or NumPy scalar its own dtype; a NumPy
# array inside is a nested sequence of its dtype. Storing checks each value against the
# dtype as torch does: a complex number does not become real, an integer dtype refuses
# values outside its range, an int beyond int64 is refused. Data made of Python numbers
# alone (the common case) goes to NumPy in one call, its dtype read from the set of the
# leaves' types (one C-level pass per nesting level), and the checks run on the array;
# only data holding anything else is walked in Python.

_PY_NUMBERS = frozenset((bool, int, float, complex))
_NESTED = frozenset((list, tuple))
_NUMBER_KINDS = {bool: "b", int: "i", float: "f", complex: "c"}


def _number_category_dtype(kind: str) -> _dtype.dtype:
    """The dtype torch infers for Python numbers of this NumPy kind ("b", "i", "f", "c")."""
    if kind == "b":
        return _dtype.bool_
    if kind == "f":
        return _dtype.get_default_dtype()
    if kind == "c":
        return _dtype.default_complex()
    return _dtype.int64


def _check_ragged(data, dim: int = 0) -> None:
    """torch's ValueError for a nested sequence whose rows differ in length."""
    if not isinstance(data, (list, tuple)) or not data:
        return
    first = data[0]
    if isinstance(first, (list, tuple)):
        length = len(first)
        for item in data:
            if not isinstance(item, (list, tuple)):
                raise TypeError("not a sequence")
            if len(item) != length:
                raise ValueError(f"expected sequence of length {length} at dim {dim + 1} "
                                 f"(got {len(item)})")
        for item in data:
            _check_ragged(item, dim + 1)


def _leaf_types(data) -> set:
    """The types of the leaves of rectangular nested lists and tuples, one C-level pass per
    nesting level."""
    level = data
    while True:
        kinds = set(map(type, level))
        if not kinds or not kinds <= _NESTED:
            return kinds
        level = list(itertools.chain.from_iterable(level))


def _bad_leaf(item, dtype) -> Exception:
    """torch's error for a leaf that is no number: inferring its dtype, or storing it."""
    name = type(item).__name__
    if dtype is None:
        if isinstance(item, (str, bytes)):
            return TypeError(f"new(): invalid data type '{name}'")
        return RuntimeError(f"Could not infer dtype of {name}")
    if dtype.category <= _dtype.INT:
        return TypeError(f"'{name}' object cannot be interpreted as an integer")
    return TypeError(f"must be real number, not {name}")


def _tensor_leaf(t: Tensor, dtype):
    """The Python number a tensor of one element inside a sequence stands for, checked
    against ``dtype`` as torch stores it."""
    value = t.item()
    if dtype is None:
        return value
    source = t.dtype.category
    if dtype.category <= _dtype.INT and source >= _dtype.FLOAT:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    if dtype.category == _dtype.FLOAT and source == _dtype.COMPLEX:
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {_dtype.cpp_type_name(dtype)}"
                               " without overflow")
        value = value.real
    return value


def _mixed_leaves(data, dtype) -> tuple:
    """Nested data holding tensors, NumPy values or non-numbers as Python numbers, and the
    dtype its leaves promote to (NOTE [Data to tensors])."""
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, str):
        raise ValueError("too many dimensions 'str'")
    seen = []
    oversized = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            return [walk(x) for x in item]
        kind = type(item)
        if kind in _PY_NUMBERS:
            seen.append(_number_category_dtype(_NUMBER_KINDS[kind]))
            return item
        if isinstance(item, Tensor):
            seen.append(item.dtype)
            if item._data.size != 1:
                oversized.append(item)  # torch's error depends on the dtype: raised below
                return None
            return _tensor_leaf(item, dtype)
        if isinstance(item, ndarray):
            if item.ndim == 0:
                raise TypeError("len() of unsized object")
            seen.append(_dtype.from_np(item.dtype))
            _warn_once("list_of_ndarrays", _LIST_OF_NDARRAYS)
            return item.tolist()
        if isinstance(item, np.generic):
            if item.dtype == np.uint64:  # NOTE [NumPy uint64 scalars]
                if dtype is None:
                    raise TypeError("an integer is required")
                if item >= 2 ** 63:
                    raise ValueError("Overflow when unpacking long long")
            seen.append(_dtype.from_np(item.dtype))
            value = item.item()
            if isinstance(value, complex) and dtype is not None and not dtype.is_complex:
                value = value.real  # a NumPy scalar converts as NumPy converts it
            return value
        for base in (int, float, complex):  # a subclass (an IntEnum member): its value
            if isinstance(item, base):
                seen.append(_number_category_dtype(_NUMBER_KINDS[base]))
                return base(item)
        raise _bad_leaf(item, dtype)

    values = walk(data)
    inferred = _dtype.get_default_dtype()
    if seen:
        inferred = seen[0]
        for d in seen[1:]:
            inferred = _dtype.promote_types(inferred, d)
    if oversized:
        if (dtype or inferred).category <= _dtype.INT:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index")
        raise ValueError("only one element tensors can be converted to Python scalars")
    return values, inferred


def _store(array: ndarray, dtype: _dtype.dtype) -> ndarray:
    """Python numbers (as NumPy read them) stored as ``dtype``, with torch's errors for
    values that dtype cannot hold (NOTE [Data to tensors])."""
    kind = array.dtype.kind
    category = dtype.category
    if kind == "c" and category in (_dtype.INT, _dtype.FLOAT):
        raise _bad_leaf(1j, dtype)
    if category == _dtype.INT:
        if kind in "Ou":  # ints beyond int64
            raise ValueError("Overflow when unpacking long long")
        if array.size and kind in "if" and (kind == "f" or dtype.itemsize < 8):
            info = np.iinfo(dtype.np)
            # negative ints wrap into unsigned types; negative floats do not
            low = int(info.min) if kind == "f" else min(int(info.min), -int(info.max))
            finite = kind == "i" or bool(np.isfinite(array).all())
            if not finite or array.min() < low or array.max() > info.max:
                raise RuntimeError(
                    f"value cannot be converted to type {dtype.name} without overflow")
    elif kind == "O":
        if category == _dtype.BOOL:
            array = np.asarray(array != 0)  # an array even when 0-d: NumPy gives a scalar
        else:
            array = array.astype(np.complex128 if category == _dtype.COMPLEX else np.float64)
    if array.dtype != dtype.np:
        array = array.astype(dtype.np)
    return array


def _from_python(data, dtype) -> ndarray:
    """The array of nested Python data (NOTE [Data to tensors])."""
    if type(data) not in _NESTED and type(data) not in _PY_NUMBERS:
        if isinstance(data, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        if isinstance(data, (int, float, complex)):  # a subclass of a number: as a leaf
            data = [data]
            return _from_python(data, dtype).reshape(())
        if not hasattr(data, "__len__"):
            raise _bad_leaf(data, dtype)
        data = list(data)  # range, torch.Size and other sequences
    _check_ragged(data)
    leaves = _leaf_types(data) if type(data) in _NESTED else {type(data)}
    if dtype is _dtype.uint64:
        return _uint64_from_python(data, leaves)
    if leaves <= _PY_NUMBERS:
        # NumPy may keep big ints as objects, so the category comes from the leaves' types
        inferred = _number_category_dtype(max((_NUMBER_KINDS[k] for k in leaves),
                                              key="bifc".index, default="f"))
    else:
        data, inferred = _mixed_leaves(data, dtype)
    try:
        array = np.array(data)
    except OverflowError:  # ints of both signs beyond int64
        array = np.array(data, dtype=object)
    target = dtype or inferred
    if (array.dtype.kind == "f" and int in leaves and target.category == _dtype.INT
            and array.size and np.abs(array).max() >= 2.0 ** 63 and _beyond_int64(data)):
        # NumPy made ints beyond int64 beside floats into floats, which would be stored
        # as saturated ints; torch refuses the ints
        raise ValueError("Overflow when unpacking long long")
    return _store(array, target)


_OUTSIDE_INT64 = np.frompyfunc(lambda v: type(v) is int and not -2 ** 63 <= v < 2 ** 63, 1, 1)


def _beyond_int64(data) -> bool:
    """Whether nested Python data holds an int outside int64's range."""
    return bool(_OUTSIDE_INT64(np.array(data, dtype=object)).any())


# NOTE [NumPy uint64 scalars]: torch reads a NumPy scalar into a uint64 tensor, and a NumPy
# uint64 scalar into any tensor, through Python's unsigned conversion, which takes only
# Python ints: both raise "an integer is required" (a uint64 *array* converts). Inside a
# list, such a scalar is read as an int64 when a dtype is given (so 2**63 and up overflow).
def _uint64_from_python(data, leaves: set) -> ndarray:
    """Python data stored as uint64: torch reads each leaf as C's unsigned 64-bit integer
    (Python's conversion), so only ints and bools are taken, none negative or of 64 bits
    or more (ints beyond int64 included, which other integer dtypes refuse)."""
    if not leaves <= {bool, int}:
        raise TypeError("an integer is required")
    array = np.array(data, dtype=object) if int in leaves else np.array(data)
    if array.size and int in leaves:
        if array.min() < 0:
            raise OverflowError("can't convert negative int to unsigned")
        if array.max() >= 2 ** 64:
            raise OverflowError("int too big to convert")
    return array.astype(np.uint64)


def _from_storage(data, dtype) -> Tensor:
    """torch.tensor of a storage: a tensor over the storage's whole memory (shared, as torch
    shares it), of ``dtype``; an ``UntypedStorage`` defaults to int64 and a ``TypedStorage``
    must hold the dtype asked for (the default dtype when none is)."""
    from ember._tensor_attrs import set_

    if isinstance(data, _storage.TypedStorage):
        want = dtype or _dtype.get_default_dtype()
        if data.dtype is not want:
            raise RuntimeError(
                f"Expected a Storage of type {_dtype.scalar_type_name(want)} or an "
                f"UntypedStorage, but got {_dtype.scalar_type_name(data.dtype)}")
    else:
        want = dtype or _dtype.int64
    t = set_(make(np.empty(0, want.np)), data)
    t._vc[0] = 0  # a new tensor, not one set_ wrote to: torch's version is 0
    return t


def _finish(data: ndarray, requires_grad: bool) -> Tensor:
    t = make(data)
    if requires_grad:
        _require_grad(t)
    return t


def _require_grad(t: Tensor) -> None:
    data = t._data
    if data.dtype.kind not in "fc" and data.dtype != _dtype.bfloat16.np:
        raise RuntimeError(
            "Only Tensors of floating point and complex dtype can require gradients")
    t._requires_grad = True


def tensor(data, *, dtype: _dtype.dtype | None = None, device=None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.tensor``: copies ``data`` (a tensor, NumPy array, nested sequence of
    numbers and one-element tensors, or a storage, which it shares as torch does) into a
    tensor of ``dtype``, else of the dtype torch infers (NOTE [Data to tensors])."""
    _place(device)
    if pin_memory:
        check_tensor_options("tensor", None, pin_memory)
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
            "requires_grad_(True), rather than torch.tensor(sourceTensor).",
            UserWarning, stacklevel=2)
        array = data._data.copy()
    elif isinstance(data, (ndarray, np.generic)):
        if isinstance(data, ndarray):
            _check_numpy_source(data)
        elif data.dtype == np.uint64 or dtype is _dtype.uint64:
            raise TypeError("an integer is required")  # NOTE [NumPy uint64 scalars]
        array = np.array(data)
        _dtype.from_np(array.dtype)
    elif isinstance(data, (_storage.UntypedStorage, _storage.TypedStorage)):
        t = _from_storage(data, dtype)
        if requires_grad:
            _require_grad(t)
        return t
    else:
        array = _from_python(data, dtype)
    if dtype is not None and array.dtype != dtype.np:
        array = array.astype(dtype.np)
    return _finish(array, requires_grad)


def as_tensor(data, dtype: _dtype.dtype | None = None, device=None) -> Tensor:
    """Mirrors ``torch.as_tensor``: shares memory with a tensor or NumPy array when no
    conversion is needed."""
    _place(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, ndarray):
        if dtype is None or data.dtype == dtype.np:
            return from_numpy(data)
        _check_numpy_source(data)
        if not data.flags.writeable:
            _warn_once("numpy_not_writable", _NUMPY_NOT_WRITABLE)
    return tensor(data, dtype=dtype)


_NUMPY_NOT_WRITABLE = (
    "The given NumPy array is not writable, and PyTorch does not support non-writable "
    "tensors. This means writing to this tensor will result in undefined behavior. You may "
    "want to copy the array to protect its data or make it writable before converting it to "
    "a tensor. This type of warning will be suppressed for the rest of this program.")
_LIST_OF_NDARRAYS = (
    "Creating a tensor from a list of numpy.ndarrays is extremely slow. Please consider "
    "converting the list to a single numpy.ndarray with numpy.array() before converting to a "
    "tensor.")


def _warn_once(key: str, message: str) -> None:
    from ember._runtime import _warn_once as warn  # loads after the op tables

    warn(key, message, stacklevel=5)


def _check_numpy_source(array: ndarray) -> None:
    """torch's refusals of a NumPy array it would read: another byte order, a dtype it
    lacks, a negative stride."""
    if not array.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")
    _dtype.from_np(array.dtype)
    if any(st < 0 for st in array.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with "
            "negative strides are not currently supported. (You can probably work around "
            "this by making a copy of your array  with array.copy().) ")


def _writable_alias(array: ndarray) -> ndarray:
    """An array over a read-only array's memory that can be written, as torch's tensor of
    it can (torch warns instead of refusing); it keeps ``array`` alive."""
    import ctypes

    if array.size == 0:
        return array.copy()
    span = sum((n - 1) * st for n, st in zip(array.shape, array.strides)) + array.itemsize
    raw = (ctypes.c_char * span).from_address(array.__array_interface__["data"][0])
    raw.owner = array
    return np.ndarray(array.shape, array.dtype, buffer=raw, strides=array.strides)


def from_numpy(ndarray_: ndarray, /) -> Tensor:
    """Mirrors ``torch.from_numpy``: the tensor shares the array's memory (a read-only
    array's too, with torch's warning: writes through the tensor reach it)."""
    if not isinstance(ndarray_, ndarray):
        from ember._tensor import c_type_name

        raise TypeError(f"expected np.ndarray (got {c_type_name(ndarray_)})")
    _check_numpy_source(ndarray_)
    if not ndarray_.flags.writeable:
        _warn_once("numpy_not_writable", _NUMPY_NOT_WRITABLE)
        return make(_writable_alias(ndarray_))
    return make(ndarray_)


# ---- factories ------------------------------------------------------------------------


def _is_size_int(value) -> bool:
    """Whether torch's argument parser takes ``value`` as a whole ``int[]`` argument's
    first (or only) size: an int or NumPy integer, never a bool, or a one-element integer
    tensor."""
    if isinstance(value, Tensor):
        return value._data.size == 1 and value.dtype.category <= _dtype.INT and \
            value.dtype is not _dtype.bool_
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _unpack_later(name: str, arg: str, sizes, start: int) -> None:
    # The elements after the first go through torch's plain index conversion: a bool is
    # taken as 0 or 1, a float or a float tensor is refused, an int must fit in 64 bits.
    from ember._tensor import c_type_name

    for pos in range(start, len(sizes)):
        item = sizes[pos]
        if isinstance(item, Tensor) or isinstance(item, (bool, int, np.integer)) and \
                not isinstance(item, np.bool_):
            try:
                value = int(item.__index__())
            except TypeError:
                value = None
            if value is not None and -_LONG_END <= value < _LONG_END:
                continue
            if value is not None:
                raise TypeError(f"{name}(): argument '{arg}' failed to unpack the object at pos "
                                f"{pos + 1} with error \"Overflow when unpacking long long")
        raise TypeError(f"{name}(): argument '{arg}' failed to unpack the object at pos "
                        f"{pos + 1} with error \"type must be tuple of ints,but got "
                        f"{c_type_name(item)}\"")


def _check_int_list(values: tuple, name: str, arg: str, keyword: bool, one_int: bool,
                    position: int, refuse) -> None:
    """torch's TypeErrors for an ``int[]`` argument given as ``values`` (the positionals, or
    with ``keyword`` the one keyword value): several positionals must start with an int; a
    sequence's first element is checked more strictly than the others (``zeros((2, True))``
    passes where ``zeros((True, 2))`` does not); a lone int passes only with ``one_int``.
    ``refuse``, when given, raises instead of the errors about the argument as a whole (an
    overloaded function's message)."""
    from ember._tensor import c_type_name

    where = "" if keyword else f" (position {position})"
    if keyword or len(values) == 1:
        value = values[0]
        if not keyword and one_int and _is_size_int(value):
            _unpack_later(name, arg, values, 0)
            return
        if not isinstance(value, (tuple, list)):
            if refuse is not None:
                refuse()
            raise TypeError(f"{name}(): argument '{arg}'{where} must be tuple of ints, not "
                            f"{c_type_name(value)}")
        if value and not _is_size_int(value[0]):
            if refuse is not None:
                refuse()
            if keyword:
                raise TypeError(f"{name}(): argument '{arg}' must be tuple of ints, not "
                                f"{c_type_name(value)}")
            raise TypeError(f"{name}(): argument '{arg}'{where} must be tuple of ints, but "
                            f"found element of type {c_type_name(value[0])} at pos 0")
        _unpack_later(name, arg, value, 1)
        return
    if not _is_size_int(values[0]):
        if refuse is not None:
            refuse()
        raise TypeError(f"{name}() takes 1 positional argument but {len(values)} were given")
    _unpack_later(name, arg, values, 1)


_LONG_END = 2 ** 63


def int_list(values: tuple, name: str, arg: str, keyword: bool = False, one_int: bool = True,
             position: int = 1, refuse=None) -> tuple:
    """An ``int[]`` argument as torch's argument parser reads it: ``f(2, 3)``, ``f((2, 3))``,
    ``f([2, 3])`` and ``f(Size)`` all give (2, 3), else torch's TypeError naming ``name``'s
    argument ``arg`` (see ``_check_int_list``); ``keyword``: ``values`` holds the one value
    of a keyword argument."""
    # a tuple of plain ints comes back as it is: a new tuple would be one more object the
    # collector tracks for every call (an op's parameters live as long as its node)
    if not keyword and len(values) == 1 and isinstance(values[0], (tuple, list)):
        inner = values[0]
        if all(type(s) is int for s in inner):
            return inner if type(inner) is tuple else tuple(inner)
        _check_int_list(values, name, arg, keyword, one_int, position, refuse)
        values = inner
    elif keyword or not one_int:
        _check_int_list(values, name, arg, keyword, one_int, position, refuse)
        values = values[0]
    elif all(type(s) is int for s in values):
        return values
    else:
        _check_int_list(values, name, arg, keyword, one_int, position, refuse)
    return tuple(int(s) for s in values)


def missing_arguments(name: str, *names: str) -> TypeError:
    """torch's argument parser's TypeError for required arguments of ``name`` not given, in
    its words: "arguments" after one, "argument" after several."""
    return TypeError(f"{name}() missing {len(names)} required positional argument"
                     f"{'s' if len(names) == 1 else ''}: " + ", ".join(f'"{n}"' for n in names))


_NOT_GIVEN = object()  # a required argument's default, so that torch's error can name it
# what torch's factories take after their own arguments, as its overload lists name it
_FACTORY_OPTIONS = ("torch.dtype dtype = None, torch.layout layout = None, torch.device "
                    "device = None, bool pin_memory = False, bool requires_grad = False")


def overloads_refusal(name: str, overloads: tuple, positionals: tuple,
                      keywords: dict) -> TypeError:
    """torch's TypeError for arguments that match none of ``name``'s ``overloads``: the types
    of its ``positionals`` and of its ``keywords`` (in torch's sorted order; None values are
    left out), then the overloads."""
    got = [c_type_name(a) for a in positionals] + [
        f"{key}={'torch.dtype' if isinstance(value, _dtype.dtype) else c_type_name(value)}"
        for key, value in sorted(keywords.items()) if value is not None]
    lines = [f" * {o}" for o in overloads]
    if name == "random_" and len(positionals) == 1 and "generator" in keywords:
        lines.insert(1, "      didn't match because some of the keywords were incorrect: "
                        "generator")
    # torch's list ends with ", " when it holds keywords only
    end = ", " if got and not positionals else ""
    return TypeError(f"{name}() received an invalid combination of arguments - got "
                     f"({', '.join(got)}{end}), but expected one of:\n" + "\n".join(lines)
                     + "\n")


def first_missing(name: str, overloads: tuple, first: str, keywords: dict) -> TypeError:
    """torch's TypeError for ``name`` called without its first argument ``first``: with no
    argument at all, none of its ``overloads`` matched; with a keyword (``keywords``: the
    keyword arguments' values, None or False where not given), ``first`` is missing."""
    if any(value is not None and value is not False for value in keywords.values()):
        return missing_arguments(name, first)
    return overloads_refusal(name, overloads, (), {})


def parse_size(size: tuple, name: str = "", keyword: bool = False, one_int: bool = True
               ) -> tuple:
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(Size)`` all name shape (2, 3);
    ``keyword``: ``size`` holds the one value of a ``size=`` keyword; without ``one_int``
    a lone int is refused as torch's ``full`` refuses it."""
    name = name or "new"
    if not size and not keyword:
        raise missing_arguments(name, "size")
    shape = int_list(size, name, "size", keyword, one_int)
    for pos, s in enumerate(shape):
        if not 0 <= s < _LONG_END:
            _size_refusal(name, shape, pos)
    return shape


def _size_refusal(name: str, shape: tuple, pos: int) -> None:
    s = shape[pos]
    if s >= _LONG_END or s < -_LONG_END:
        raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                        f"{pos + 1} with error \"Overflow when unpacking long long")
    if name == "zeros":  # torch's zeros checks sizes with a message of its own
        raise RuntimeError("zeros: Dimension size must be non-negative.")
    raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")


def _factory(shape: tuple, fill, dtype, requires_grad: bool) -> Tensor:
    np_dtype = (dtype or _dtype.get_default_dtype()).np
    if 0 in shape:
        return _finish(_empty_contiguous(shape, np_dtype), requires_grad)
    if fill == 0:
        data = np.zeros(shape, np_dtype)
    else:
        data = np.full(shape, fill, np_dtype)
    return _finish(data, requires_grad)


def _empty_contiguous(shape: tuple, np_dtype) -> ndarray:
    """An array with no elements that carries torch's contiguous strides (a size-0 dim
    counting as 1), so that its views keep the strides torch's views of it have; NumPy
    would give every stride 0 (see ember._ops.shape.stride)."""
    return _mf.empty_strided_array(shape, _mf.format_strides(shape, _mf.contiguous_format),
                                   np_dtype)


def check_tensor_options(name: str, layout, pin_memory) -> None:
    """torch's checks of factory ``name``'s ``layout`` and ``pin_memory`` (see
    ``ember._runtime.check_tensor_options``); called only when either is given."""
    from ember._runtime import check_tensor_options as check  # loads after the op tables

    check(name, layout, pin_memory)


def sizes_or_size(sizes: tuple, size, name: str) -> tuple:
    """The shape a factory's ``*size`` positionals or its ``size=`` keyword name (torch's
    error when both are given)."""
    if size is not None:
        if sizes:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        return parse_size((size,), name, keyword=True)
    return parse_size(sizes, name)


def zeros(*sizes, size=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
          requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.zeros``: the shape as positionals or ``size=``."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("zeros", layout, pin_memory)
    return _factory(sizes_or_size(sizes, size, "zeros"), 0, dtype, requires_grad)


def ones(*sizes, size=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
         requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.ones``: the shape as positionals or ``size=``."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("ones", layout, pin_memory)
    return _factory(sizes_or_size(sizes, size, "ones"), 1, dtype, requires_grad)


def empty(*sizes, size=None, dtype=None, layout=None, device=None, pin_memory: bool = False,
          requires_grad: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``torch.empty`` (the shape as positionals or ``size=``, laid out as
    ``memory_format`` says); ember's memory is zero-filled rather than uninitialised."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("empty", layout, pin_memory)
    shape = sizes_or_size(sizes, size, "empty")
    if memory_format is None or memory_format is _mf.contiguous_format:
        return _factory(shape, 0, dtype, requires_grad)
    _mf.check_format(memory_format, "empty")
    if memory_format is _mf.preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    _mf.check_rank(memory_format, len(shape))
    np_dtype = (dtype or _dtype.get_default_dtype()).np
    strides = _mf.format_strides(shape, memory_format)
    return _finish(_mf.empty_strided_array(shape, strides, np_dtype), requires_grad)


def _number_dtype(value) -> _dtype.dtype:
    from ember._ops._promote import scalar_dtype

    return scalar_dtype(type(value))


def full(size=_NOT_GIVEN, fill_value=_NOT_GIVEN, *, dtype=None, layout=None, device=None,
         pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.full``: the dtype follows ``fill_value`` when not given."""
    if size is _NOT_GIVEN:  # torch names every argument from the first one missing
        raise missing_arguments("full", "size", "fill_value")
    if fill_value is _NOT_GIVEN:
        parse_size((size,), "full", one_int=False)  # torch refuses a size that is no list first
        raise missing_arguments("full", "fill_value")
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("full", layout, pin_memory)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = dtype or _number_dtype(fill_value)
    shape = parse_size((size,), "full", one_int=False)
    # NOTE [Half fill values]: one element is filled unchecked
    value = _promote.fill_value(fill_value, dtype.np, check_half=math.prod(shape) != 1)
    return _factory(shape, value, dtype, requires_grad)


def like_layout(input: Tensor, np_dtype, memory_format, name: str):
    """For a ``*_like`` factory ``name``: a fresh zero-filled array of ``input``'s shape laid
    out as torch's ``memory_format`` rule says (NOTE [Memory format rules]), or None when
    that layout is C order."""
    data = input._data
    if memory_format is not None and memory_format is not _mf.preserve_format:
        _mf.check_format(memory_format, name)
        if memory_format is _mf.contiguous_format:
            return None
        _mf.check_rank(memory_format, data.ndim)
        strides = _mf.format_strides(data.shape, memory_format)
    elif _mf.has_c_strides(data):  # the common case: preserving C order is C order
        return None
    else:
        strides = _mf.preserved_strides(data)
    if strides == _mf.format_strides(data.shape, _mf.contiguous_format):
        return None
    return _mf.empty_strided_array(data.shape, strides, np_dtype)


def _like(input: Tensor, fill, dtype, requires_grad: bool, memory_format, name: str
          ) -> Tensor:
    dtype = dtype or input.dtype
    out = like_layout(input, dtype.np, memory_format, name)
    if out is None:
        return _factory(input._data.shape, fill, dtype, requires_grad)
    if fill != 0:
        out.fill(fill)
    return _finish(out, requires_grad)


def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None,
               pin_memory: bool = False, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Mirrors ``torch.zeros_like``."""
    try:
        _serve(device)
        if layout is not None or pin_memory:
            check_tensor_options("zeros_like", layout, pin_memory)
        return _like(input, 0, dtype, requires_grad, memory_format, "zeros_like")
    except AttributeError as error:
        refuse_non_tensor("zeros_like", error, input, "input")
        raise


def ones_like(input: Tensor, *, dtype=None, layout=None, device=None,
              pin_memory: bool = False, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    """Mirrors ``torch.ones_like``."""
    try:
        _serve(device)
        if layout is not None or pin_memory:
            check_tensor_options("ones_like", layout, pin_memory)
        return _like(input, 1, dtype, requires_grad, memory_format, "ones_like")
    except AttributeError as error:
        refuse_non_tensor("ones_like", error, input, "input")
        raise


def empty_like(input: Tensor, *, dtype=None, layout=None, device=None,
               pin_memory: bool = False, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Mirrors ``torch.empty_like`` (zero-filled)."""
    try:
        _serve(device)
        if layout is not None or pin_memory:
            check_tensor_options("empty_like", layout, pin_memory)
        return _like(input, 0, dtype, requires_grad, memory_format, "empty_like")
    except AttributeError as error:
        refuse_non_tensor("empty_like", error, input, "input")
        raise


def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None,
              pin_memory: bool = False, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    """Mirrors ``torch.full_like``: the dtype is the input's unless given."""
    _serve(device)
    if layout is not None or pin_memory:
        check_tensor_options("full_like", layout, pin_memory)
    fill_value = _promote.fill_value(fill_value, (dtype or input.dtype).np,
                                     check_half=input._data.size != 1)
    return _like(input, fill_value, dtype, requires_grad, memory_format, "full_like")


def _plain_number(x):
    if isinstance(x, Tensor):
        return x.item()
    if type(x) is int and not -2 ** 63 <= x < 2 ** 64:
        _promote.check_scalar_int(x)
    return x


# NOTE [Exact ranges]
# torch's CPU kernels for arange and linspace (in their AVX2/AVX-512 builds, which every
# x86-64 CPU of the last decade runs) compute each element as one fused multiply-add,
# rounded once: linspace as ``start + step * i`` over the first half and
# ``end - step * (steps - 1 - i)`` over the second, in the output dtype with ``step``
# rounded to it; arange in double, in blocks of one vector (8 floats, 4 doubles) whose
# first element is ``start + step * i`` and the others that element plus ``step * j``, the
# remainder past whole pairs of vectors element by element. NumPy has no fused multiply-add,
# so ``_fma`` computes the exactly rounded a * b + c from exact products and sums
# (Dekker's product, Knuth's sum, and a sum rounded to odd; Boldo and Melquiond), which
# holds bit for bit whatever SIMD NumPy itself uses.


def _two_sum(a: ndarray, b: ndarray) -> tuple:
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def _split(a: ndarray) -> tuple:
    c = 134217729.0 * a  # 2 ** 27 + 1: halves of 26 bits whose products are exact
    high = c - (c - a)
    return high, a - high


def _two_product(a: ndarray, b: ndarray) -> tuple:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _sum_to_odd(a: ndarray, b: ndarray) -> ndarray:
    """a + b rounded to odd (an inexact sum gets the neighbour with an odd last bit), so
    that rounding it again to fewer bits rounds the exact sum once."""
    s, err = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    fix = (err != 0) & even
    return np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)


def _fma(a, b, c) -> ndarray:
    """a * b + c in float64 rounded once (NOTE [Exact ranges])."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    p, p_err = _two_product(a, b)
    s, s_err = _two_sum(c, p)
    correction = _sum_to_odd(s_err, p_err)
    # a zero correction leaves s as it is (-0.0 + 0.0 would be +0.0)
    return np.where(correction == 0, s, s + correction)


def _fma32(a, b, c) -> ndarray:
    """a * b + c rounded once to float32, for float32 ``a``/``c`` and integer ``b`` below
    2 ** 29: the product is exact in float64, the sum is rounded to odd there."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    # c broadcast by a product with ones, not a sum with zeros: -0.0 must stay -0.0
    return _sum_to_odd(np.asarray(c, np.float64) * np.ones_like(p), p).astype(np.float32)


def _arange_values(start, step, n: int, dtype) -> ndarray:
    """torch's arange values for a floating dtype (NOTE [Exact ranges]): float64 and
    float32 accumulate in double, float16 and bfloat16 in float; vectors are 32 bytes."""
    kind = dtype.np.type
    idx = np.arange(n, dtype=np.float64)
    width = 32 // np.dtype(kind).itemsize
    vectored = n // (2 * width) * (2 * width)
    lane = idx[:vectored] % width
    block = idx[:vectored] - lane
    if kind in (np.float64, np.float32):
        base = _fma(block, step, start).astype(kind)
        head = _fma(lane, step, base)
        tail = _fma(idx[vectored:], step, start)
    else:
        start, step = np.float32(start), np.float32(step)
        base = _fma32(step, block, start).astype(kind).astype(np.float32)
        head = _fma32(step, lane, base)
        tail = _fma32(step, idx[vectored:], start)
    return np.concatenate([head.astype(kind), tail.astype(kind)])


def _linspace_values(start, end, steps: int, dtype) -> ndarray:
    """torch's linspace values for ``steps`` > 1 (NOTE [Exact ranges]): integer dtypes
    truncate the ends and step in double; float16 and bfloat16 round every operation (in
    float) to themselves, with no fused multiply-add."""
    half = steps // 2
    up = np.arange(half, dtype=np.float64)
    down = np.arange(steps - 1 - half, -1, -1, dtype=np.float64)
    kind = dtype.np.type
    if dtype.category == _dtype.INT:
        first, last = math.trunc(start), math.trunc(end)
        if dtype is _dtype.uint8:  # the ends are converted to the dtype first: -4 is 252
            first, last = first % 256, last % 256
        step = (last - first) / (steps - 1)
        values = np.concatenate([_fma(up, step, first), _fma(down, -step, last)])
        return np.trunc(values).astype(np.int64).astype(kind)
    if kind in (np.float64, np.float32):
        first, last = kind(start), kind(end)
        step = kind((last - first) / kind(steps - 1))
        fma = _fma32 if kind == np.float32 else _fma
        return np.concatenate([fma(up, step, first), fma(down, -step, last)]).astype(kind)

    def rounded(x):
        return np.asarray(x, np.float32).astype(kind).astype(np.float32)

    first, last = rounded(start), rounded(end)
    step = rounded(rounded(last - first) / rounded(steps - 1))
    ups = rounded(first + rounded(step * rounded(up)))
    downs = rounded(last - rounded(step * rounded(down)))
    return np.concatenate([ups, downs]).astype(kind)


def _c_number(value) -> str:
    """A number as torch's C++ messages print a Scalar (``%g`` for a float)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


_ARANGE_OVERLOADS = (f"(Number end, *, Tensor out = None, {_FACTORY_OPTIONS})",
                     f"(Number start, Number end, *, {_FACTORY_OPTIONS})",
                     "(Number start, Number end, Number step = 1, *, Tensor out = None, "
                     f"{_FACTORY_OPTIONS})")


def arange(start=_NOT_GIVEN, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False, out=None) -> Tensor:
    """Mirrors ``torch.arange``: int64 for integer arguments, else the default float;
    element i is ``start + i * step`` in double precision, float32 and float64 bit for bit
    as torch's CPU kernel rounds them (NOTE [Exact ranges])."""
    if start is _NOT_GIVEN:
        if end is None:
            raise first_missing("arange", _ARANGE_OVERLOADS, "end", dict(
                dtype=dtype, device=device, requires_grad=requires_grad, out=out))
        start = 0  # arange(end=n)
    _place(device)
    if end is None:
        start, end = 0, start
    start, end, step = _plain_number(start), _plain_number(end), _plain_number(step)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = _dtype.get_default_dtype() if is_float else _dtype.int64
    if dtype.category == _dtype.BOOL or dtype in _dtype.BIG_UNSIGNED:
        raise NotImplementedError(
            f"\"arange_cpu\" not implemented for '{_dtype.scalar_type_name(dtype)}'")
    if dtype.category == _dtype.INT:
        for value in (start, end, step):  # torch reads them as int64 for an integer dtype
            if type(value) is int:
                _check_fits(value, _dtype.int64)
    if step == 0 or step != step:  # a NaN step counts as zero, as in torch
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {_c_number(start)} -> {_c_number(end)}")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = max(math.ceil((end - start) / step), 0)
    if dtype.category == _dtype.INT:
        # integer dtypes count in int64 from the truncated arguments; int64 also takes its
        # length from them, the others from the arguments as given
        first, last, by = math.trunc(start), math.trunc(end), math.trunc(step)
        if dtype is _dtype.int64:
            if not by:  # a fractional step truncates to 0 (the other dtypes repeat start)
                raise ValueError("step must be nonzero")
            n = max(math.ceil((last - first) / by), 0)
        data = (first + np.arange(n, dtype=np.int64) * by).astype(dtype.np)
    elif dtype.category == _dtype.FLOAT:
        data = _arange_values(float(start), float(step), n, dtype)
    else:
        data = (start + np.arange(n, dtype=np.float64) * step).astype(dtype.np)
    return _finish(data, requires_grad)


def _spaced_overloads(base: str) -> tuple:
    return tuple(f"({start} start, {end} end, int steps, {base}*, Tensor out = None, "
                 f"{_FACTORY_OPTIONS})"
                 for start, end in (("Tensor", "Tensor"), ("Number", "Tensor"),
                                    ("Tensor", "Number"), ("Number", "Number")))


_SPACED_OVERLOADS = {"linspace": _spaced_overloads(""),
                     "logspace": _spaced_overloads("float base = 10.0, ")}


def _spaced_refusal(name: str, bounds: tuple, keywords: dict) -> TypeError:
    """torch's TypeError for ``linspace`` or ``logspace`` called without all of start, end
    and steps (``bounds``, _NOT_GIVEN where missing): its four overloads."""
    given = tuple(b for b in bounds if b is not _NOT_GIVEN)
    return overloads_refusal(name, _SPACED_OVERLOADS[name], given, keywords)


def linspace(start=_NOT_GIVEN, end=_NOT_GIVEN, steps: int = _NOT_GIVEN, *, dtype=None,
             device=None, requires_grad: bool = False, out=None) -> Tensor:
    """Mirrors ``torch.linspace``: the first half counts up from ``start`` and the second
    half down from ``end``, as torch does, so both ends are exact; float32 and float64 bit
    for bit as torch's CPU kernel rounds them (NOTE [Exact ranges])."""
    if steps is _NOT_GIVEN or end is _NOT_GIVEN:
        raise _spaced_refusal("linspace", (start, end, steps), dict(
            dtype=dtype, device=device, requires_grad=requires_grad or None, out=out))
    _place(device)
    start, end = _plain_number(start), _plain_number(end)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = dtype or _dtype.get_default_dtype()
    if steps > 1 and (dtype.category == _dtype.BOOL or dtype in _dtype.BIG_UNSIGNED):
        raise NotImplementedError(
            f"\"linspace_cpu\" not implemented for '{_dtype.scalar_type_name(dtype)}'")
    if steps > 1 and dtype.category in (_dtype.INT, _dtype.FLOAT):
        _check_fits(start, dtype)
        _check_fits(end, dtype)
        data = _linspace_values(start, end, steps, dtype)
    elif steps == 1:  # torch fills the one element with ``start``, as ``fill_`` converts it
        data = np.full(1, start, np.float64)
        if dtype.category in (_dtype.INT, _dtype.FLOAT):
            _promote.fill_value(start, dtype.np, check_half=False)
    else:
        step = (end - start) / (steps - 1)
        idx = np.arange(steps, dtype=np.float64)
        half = steps // 2
        data = np.concatenate([start + step * idx[:half],
                               end - step * (steps - 1 - idx[half:])])
    return _finish(data.astype(dtype.np), requires_grad)


_EYE_OVERLOADS = (f"(int n, *, Tensor out = None, {_FACTORY_OPTIONS})",
                  f"(int n, int m, *, Tensor out = None, {_FACTORY_OPTIONS})")


def eye(n: int = _NOT_GIVEN, m: int | None = None, *, dtype=None, layout=None, device=None,
        pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.eye``."""
    if n is _NOT_GIVEN:
        raise first_missing("eye", _EYE_OVERLOADS, "n", dict(
            m=m, dtype=dtype, layout=layout, device=device, pin_memory=pin_memory,
            requires_grad=requires_grad))
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("eye", layout, pin_memory)
    return _finish(np.eye(n, m, dtype=(dtype or _dtype.get_default_dtype()).np), requires_grad)


def legacy_new(cls, *args, **kwargs) -> Tensor:
    """``Tensor(*sizes)``, ``Tensor(size)``, ``Tensor(data)`` (a sequence, copied to the
    default dtype), ``Tensor(tensor)`` (an alias of it) or ``Tensor(storage)`` (the storage's
    whole memory read as the default dtype, shared): torch's legacy constructor."""
    _place(kwargs.pop("device", None))
    if kwargs:
        raise TypeError(f"new() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        t = zeros(*args)
    elif len(args) == 1 and isinstance(args[0], (Size, tuple)) and not args[0]:
        t = zeros(0)
    elif len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            from ember._ops.shape import alias  # shape's ops come after creation's

            t = alias(data)  # torch's alias: a view that keeps the history (AliasBackward0)
        elif isinstance(data, (_storage.UntypedStorage, _storage.TypedStorage)):
            t = _legacy_from_storage(data)
        elif isinstance(data, (ndarray, str)) or hasattr(data, "__len__"):
            t = tensor(data, dtype=_dtype.get_default_dtype())
        else:
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    elif not args:
        t = zeros(0)
    else:
        raise TypeError("new(): invalid arguments")
    if cls is not Tensor:
        obj = object.__new__(cls)
        obj._data, obj._requires_grad, obj._grad_fn, obj._vc = \
            t._data, t._requires_grad, t._grad_fn, t._vc
        obj.__dict__.update(t.__dict__)
        return obj
    return t


def _legacy_from_storage(data) -> Tensor:
    """``Tensor(storage)``: the storage's whole memory as the default dtype, shared."""
    from ember._tensor_attrs import set_

    want = _dtype.get_default_dtype()
    if isinstance(data, _storage.TypedStorage) and data.dtype is not want:
        raise RuntimeError(
            f"Expected a Storage of type {_dtype.scalar_type_name(want)} or an UntypedStorage, "
            f"but got type {_dtype.scalar_type_name(data.dtype)} for argument 1 'storage'")
    return set_(zeros(0), data)


# ---- copies ---------------------------------------------------------------------------

# A copy keeps its input's layout (``preserve_format``) unless told otherwise: NOTE [Memory
# format rules]. The ``*_FORMAT`` records take the format as a parameter.
TO = defop("to", node="ToCopyBackward0", kind=KEEP,
           forward=lambda xp, self, np_dtype: _mf.relayout(self, _dtype.cast(self, np_dtype),
                                                           None),
           # the engine casts the gradient back to the input's dtype (fit_gradient)
           backward=lambda grad, self, np_dtype: grad)
TO_FORMAT = defop("to", node="ToCopyBackward0", kind=KEEP,
                  forward=lambda xp, self, np_dtype, memory_format: _mf.relayout(
                      self, _dtype.cast(self, np_dtype), memory_format),
                  backward=lambda grad, self, np_dtype, memory_format: grad)

CLONE = defop("clone", node="CloneBackward0", kind=KEEP,
              forward=lambda xp, self: _mf.preserve_copy(self),
              backward=lambda grad, self: grad)
CLONE_FORMAT = defop("clone", node="CloneBackward0", kind=KEEP,
                     forward=lambda xp, self, memory_format: _mf.copy_in_format(
                         self, memory_format),
                     backward=lambda grad, self, memory_format: grad)
# torch's copies keep nothing (ember's records keep the dtype and the format as parameters)
for _op in (TO, TO_FORMAT, CLONE, CLONE_FORMAT):
    saved_names(_op)
del _op


def _to(self: Tensor, *args, **kwargs) -> Tensor:
    """Mirrors ``Tensor.to(dtype)``, ``to(device)``, ``to(other)``; returns ``self`` when
    nothing changes (dtype, and the layout ``memory_format`` asks for) and ``copy`` is
    False. A copy keeps ``self``'s strides unless ``memory_format`` says otherwise."""
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    _serve(kwargs.pop("device", None))
    fmt = kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, _device)):
            _serve(a)
        elif isinstance(a, bool):
            pass
        elif type(a) is int:  # a device index: an accelerator's, which this build lacks
            raise RuntimeError("Device index must not be negative" if a < 0 else
                               "Cannot access accelerator device when none is available.")
        elif a is not None:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    if fmt is _mf.preserve_format:
        fmt = None
    elif fmt is not None:
        _mf.check_format(fmt, "to")
        _mf.check_rank(fmt, self._data.ndim)
    np_dtype = self._data.dtype if dtype is None else dtype.np
    if np_dtype == self._data.dtype and not copy and (
            fmt is None or _mf.suggest_format(self._data.shape,
                                              _mf.element_strides(self._data)) is fmt):
        return self
    op, args = (TO, (self, np_dtype)) if fmt is None else (TO_FORMAT, (self, np_dtype, fmt))
    if dtype is not None and dtype.category < _dtype.FLOAT and self._requires_grad:
        with grad_mode.no_grad():  # integer and bool results have no gradient in torch
            return run(op, *args)
    return run(op, *args)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """Mirrors ``torch.clone``: the copy keeps ``input``'s strides when they are
    non-overlapping and dense (``preserve_format``, the default), else lays out as
    ``memory_format`` says (NOTE [Memory format rules])."""
    if memory_format is None or memory_format is _mf.preserve_format:
        return run(CLONE, input)
    _mf.check_format(memory_format, "clone")
    _mf.check_rank(memory_format, input._data.ndim)
    return run(CLONE_FORMAT, input, memory_format)


def contiguous(self: Tensor, memory_format=_mf.contiguous_format) -> Tensor:
    """Mirrors ``Tensor.contiguous``: ``self`` when already contiguous in ``memory_format``,
    else a copy laid out that way."""
    if memory_format is _mf.contiguous_format:
        return self if self._data.flags.c_contiguous else run(CLONE_FORMAT, self, memory_format)
    _mf.check_format(memory_format, "contiguous")
    if is_contiguous(self, memory_format):
        return self
    if memory_format is _mf.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    _mf.check_rank(memory_format, self._data.ndim)
    return run(CLONE_FORMAT, self, memory_format)


def is_contiguous(self: Tensor, memory_format=_mf.contiguous_format) -> bool:
    """Mirrors ``Tensor.is_contiguous``: whether the strides are ``memory_format``'s (a
    channels-last format on another rank: False; ``preserve_format`` asks for contiguous)."""
    if memory_format is _mf.contiguous_format or memory_format is _mf.preserve_format:
        return bool(self._data.flags.c_contiguous)
    _mf.check_format(memory_format, "is_contiguous")
    data = self._data
    return _mf.is_format(data.shape, _mf.element_strides(data), memory_format)


def _new_factory(fill, name: str):
    def new(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
        from ember._ops.shape import keyword_sizes  # shape loads after this table

        _serve(device)
        if size is not None:
            keyword_sizes(name, sizes, "size", size)
            return _factory(parse_size((size,), name, keyword=True), fill,
                            dtype or self.dtype, requires_grad)
        return _factory(parse_size(sizes, name), fill, dtype or self.dtype, requires_grad)
    return new


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    _serve(device)
    dtype = dtype or self.dtype
    shape = parse_size((size,), "new_full", one_int=False)
    value = _promote.fill_value(fill_value, dtype.np, check_half=math.prod(shape) != 1)
    return _factory(shape, value, dtype, requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=_serve(device),
                  requires_grad=requires_grad)


def zero_gradient(grad, *args) -> Tensor:
    """torch's ``zeros_like(grad)``: the gradient of an input whose values the result does
    not depend on (a fill, a draw, a piecewise-constant op), 0 even where ``grad`` is inf or
    nan."""
    return zeros_like(grad)


# Filling makes the values constant: the gradient to what was there before is zero.
ZERO = defop("zero_", node="ZeroBackward0", kind=KEEP,
             forward=lambda xp, self: xp.zeros_like(self), backward=zero_gradient)
FILL = defop("fill_", node="FillBackward2", kind=KEEP,
             forward=lambda xp, self, value: xp.full_like(self, value), backward=zero_gradient)


def _zero_(self: Tensor) -> Tensor:
    """Mirrors ``Tensor.zero_``."""
    if (self._requires_grad and grad_mode.state.enabled) or "_fw" in self.__dict__:
        return run_inplace(ZERO, self)
    return _fill_unrecorded(self, 0)


def _fill_(self: Tensor, value) -> Tensor:
    """Mirrors ``Tensor.fill_``."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.dim()} dimensions.")
        if ((self._requires_grad or value._requires_grad) and grad_mode.state.enabled) or \
                "_fw" in self.__dict__ or "_fw" in value.__dict__:
            # torch's Tensor overload: its own node, whose value gets the summed gradient
            from ember._ops import indexing  # imported after this table
            return run_inplace(indexing.FILL, self, value)
    # NOTE [Half fill values]: one element is filled unchecked
    value = _promote.fill_value(_plain_number(value), self._data.dtype,
                                check_half=self._data.size != 1)
    if (self._requires_grad and grad_mode.state.enabled) or "_fw" in self.__dict__:
        return run_inplace(FILL, self, value)
    return _fill_unrecorded(self, value)


def _fill_unrecorded(self: Tensor, value) -> Tensor:
    # Nothing to record (e.g. ``x.grad.zero_()``): write in place and bump the version.
    phys = self.__dict__.get("_phys")
    if phys is not None:  # every sample (vmap); ``_data`` is the first one's view
        phys.array.fill(value)
    self._data.fill(value)
    self._vc[0] += 1
    return self


attach({
    "to": _to, "clone": clone, "contiguous": contiguous, "is_contiguous": is_contiguous,
    "new_zeros": _new_factory(0, "new_zeros"), "new_ones": _new_factory(1, "new_ones"),
    "new_empty": _new_factory(0, "new_empty"),
    "new_full": _new_full, "new_tensor": _new_tensor, "zero_": _zero_, "fill_": _fill_,
})


# ---- more factories: logspace, scalar_tensor, tril_indices/triu_indices -------------------


# NOTE [Exact logspace]
# torch's CPU logspace rounds ``start`` and ``end`` to the output dtype (integer dtypes
# truncate), takes their difference in that dtype, divides it by ``steps - 1`` in double,
# and builds each exponent in double without a fused multiply-add, counting up from
# ``start`` over the first half and down from ``end`` over the second; the power is the C
# library's double ``pow``, rounded once to the dtype (half types through float). NumPy's
# ``float_power`` calls that same ``pow`` on every CPU (``power`` may take a SIMD kernel
# whose last bit differs), so the values match torch's bit for bit. ``steps == 1`` is
# ``base ** start`` with ``start`` unrounded.

_C_TYPE_NAMES = {
    "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
    "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
}


def _check_fits(value, dtype) -> None:
    """Raises torch's overflow error for a number outside ``dtype``'s range (infinities and
    NaN pass for floating dtypes); a Python int may also be the negative of an unsigned
    dtype's value (it wraps)."""
    info = np.iinfo(dtype.np) if dtype.category == _dtype.INT else np.finfo(dtype.np)
    if isinstance(value, int) and dtype.category == _dtype.INT:  # exactly: 2**63 > int64's
        low = -int(info.max) if info.min == 0 else int(info.min)
        inside = low <= value <= int(info.max)
    else:
        low = -int(info.max) if isinstance(value, int) and info.min == 0 else info.min
        inside = float(low) <= value <= float(info.max)
    if not inside and (dtype.category == _dtype.INT or math.isfinite(value)):
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[dtype.name]}"
                           " without overflow")


def _logspace_exponents(start, end, steps: int, dtype) -> ndarray:
    """The double exponents of torch's logspace for ``steps`` > 1 (NOTE [Exact logspace])."""
    _check_fits(start, dtype)
    _check_fits(end, dtype)
    if dtype.category == _dtype.INT:
        first, last = math.trunc(start), math.trunc(end)
        if dtype is _dtype.uint8:
            first, last = first % 256, last % 256
        difference = float(last - first)
    else:
        kind = dtype.np.type
        if kind in (np.float32, np.float64):
            first, last = kind(start), kind(end)
            difference = float(last - first)
        else:
            first, last = (np.float32(v).astype(kind) for v in (start, end))
            difference = float(np.float32(np.float32(last) - np.float32(first)).astype(kind))
        first, last = float(first), float(last)
    step = difference / (steps - 1)
    half = steps // 2
    up = first + step * np.arange(half, dtype=np.float64)
    down = last - step * np.arange(steps - 1 - half, -1, -1, dtype=np.float64)
    return np.concatenate([up, down])


def logspace(start=_NOT_GIVEN, end=_NOT_GIVEN, steps: int = _NOT_GIVEN, base: float = 10.0, *,
             dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """Mirrors ``torch.logspace``: ``base ** linspace(start, end, steps)``; integer and
    floating dtypes bit for bit as torch's CPU kernel computes them (NOTE [Exact logspace]),
    complex dtypes from double exponents."""
    if steps is _NOT_GIVEN or end is _NOT_GIVEN:
        raise _spaced_refusal("logspace", (start, end, steps), dict(
            dtype=dtype, device=device, requires_grad=requires_grad or None, out=out))
    _place(device)
    start, end = _plain_number(start), _plain_number(end)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = dtype or _dtype.get_default_dtype()
    if steps > 1 and (dtype.category == _dtype.BOOL or dtype in _dtype.BIG_UNSIGNED):
        raise NotImplementedError(
            f"\"logspace_cpu\" not implemented for '{_dtype.scalar_type_name(dtype)}'")
    with np.errstate(all="ignore"):
        if steps == 1 and dtype.category != _dtype.COMPLEX:
            data = np.float_power(float(base), np.full(1, float(start)))
            if dtype.category != _dtype.BOOL:
                _check_fits(float(data[0]), dtype)
        elif steps > 1 and dtype.category != _dtype.COMPLEX:
            data = np.float_power(float(base), _logspace_exponents(start, end, steps, dtype))
        else:
            exponents = linspace(start, end, steps, dtype=_dtype.float64)._data
            data = np.float_power(float(base), exponents)
        if dtype is _dtype.bfloat16:
            # torch's bfloat16 conversion makes every NaN its one positive quiet NaN
            data = np.where(np.isnan(data), np.nan, data).astype(np.float32)
        elif dtype is _dtype.float16:
            data = data.astype(np.float32)
        return _finish(data.astype(dtype.np), requires_grad)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory: bool = False,
                  requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.scalar_tensor``: a 0-d tensor of the default float dtype (whatever
    the number's type) unless ``dtype`` says otherwise."""
    if not isinstance(s, (numbers.Number, Tensor)):
        raise TypeError(f"scalar_tensor(): argument 's' (position 1) must be Number, not "
                        f"{c_type_name(s)}")
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("scalar_tensor", layout, pin_memory)
    dtype = dtype or _dtype.get_default_dtype()
    return _finish(np.asarray(_plain_number(s)).astype(dtype.np), requires_grad)


def _triangle_indices(name: str, row: int, col: int, offset: int, lower: bool, dtype, layout,
                      pin_memory, requires_grad: bool) -> Tensor:
    if layout is not None or pin_memory:
        check_tensor_options(name, layout, pin_memory)
    if dtype not in (_dtype.int32, _dtype.int64):
        raise NotImplementedError(
            f"\"{name}\" not implemented for '{_dtype.scalar_type_name(dtype)}'")
    rows, cols = np.indices((row, col)).reshape(2, -1)
    keep = cols - rows <= offset if lower else cols - rows >= offset
    return _finish(np.stack([rows[keep], cols[keep]]).astype(dtype.np), requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.tril_indices``: the (2, N) coordinates of the lower triangle of a
    ``row`` x ``col`` matrix, row by row."""
    _place(device)
    return _triangle_indices("tril_indices", row, col, offset, True, dtype or _dtype.int64,
                             layout, pin_memory, requires_grad)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.triu_indices``: the (2, N) coordinates of the upper triangle."""
    _place(device)
    return _triangle_indices("triu_indices", row, col, offset, False, dtype or _dtype.int64,
                             layout, pin_memory, requires_grad)


def _new_empty_strided(self: Tensor, size, stride, *, dtype=None, device=None,
                       requires_grad: bool = False) -> Tensor:
    """Mirrors ``Tensor.new_empty_strided``: a tensor of ``size`` laid out with ``stride``
    (in elements) over fresh memory; ember fills it with zeros."""
    _serve(device)
    size, stride = tuple(size), tuple(stride)
    np_dtype = (dtype or self.dtype).np
    span = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if 0 not in size else 0
    memory = np.zeros(span, np_dtype)
    item = memory.itemsize
    data = np.lib.stride_tricks.as_strided(memory, size, tuple(s * item for s in stride))
    return _finish(data, requires_grad)


attach({"new_empty_strided": _new_empty_strided})
