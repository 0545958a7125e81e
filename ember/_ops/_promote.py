"""Type promotion as torch does it, and Python-scalar handling.

torch sorts operands into three groups — tensors with dimensions, zero-dim tensors, and
wrapped Python numbers — promotes within each group, and lets a lower group decide the
result only when it is of a higher category (bool < int < float < complex). A Python float
stands for the default dtype, a Python int for int64, a Python complex for the default
complex dtype. Results are cached per operand description, so the hot path pays one dict
lookup; the cache is cleared when the default dtype changes (NOTE [Default dtype]).
"""
from __future__ import annotations

import math

from ember import _dtype
from ember._backend import np
from ember._tensor import Tensor

cache: dict = {}


class OperandTypeError(TypeError):
    """An operand that is neither a tensor nor a number (dunders answer NotImplemented)."""


class WideRefusal:
    """An op's promotion kind for an op whose torch kernel refuses uint16, uint32 and uint64
    (``registry.refuse_wide``): ``compute`` raises torch's error when the operands promote
    to one of them. One object per op keeps its cache entries apart from other ops'."""

    __slots__ = ("kind", "kernel", "refused")

    def __init__(self, kind: int, kernel: str, bool_too: bool = False) -> None:
        self.kind = kind
        self.kernel = kernel
        self.refused = _dtype.BIG_UNSIGNED + ((_dtype.bool_,) if bool_too else ())


def wide_unsupported(kernel: str, d: _dtype.dtype) -> NotImplementedError:
    """torch's error for a kernel without uint16/32/64 (NOTE [Wide unsigned dtypes])."""
    return NotImplementedError(
        f'"{kernel}" not implemented for \'{_dtype.scalar_type_name(d)}\'')


def refuse_wide_input(input: Tensor, kernel: str, empty_too: bool = False) -> None:
    """torch's error for a kernel without uint16/32/64 (NOTE [Wide unsigned dtypes]) when
    ``input`` holds one; an empty input reaches the kernel only where ``empty_too`` says."""
    data = input._data
    if data.dtype.kind == "u" and data.dtype.itemsize > 1 and (data.size or empty_too):
        raise wide_unsupported(kernel, _dtype.from_np(data.dtype))


def clear_caches() -> None:
    cache.clear()


def result_types(args: tuple, positions: tuple, kind: int):
    """(numpy dtype to compute in, numpy dtype of the result) for the arguments at
    ``positions``; None arguments (an absent clamp bound) take no part."""
    first = args[positions[0]] if positions else None
    if type(first) is Tensor:
        # one dtype throughout (a stack or cat of like tensors): promotion is that of one
        # operand, whatever is 0-d
        dt = first._data.dtype
        for i in positions:
            a = args[i]
            if type(a) is not Tensor or a._data.dtype is not dt:
                break
        else:
            key = (kind, dt, False)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = compute(key)
            return hit
    key = [kind]
    for i in positions:
        a = args[i]
        if isinstance(a, Tensor):
            d = a._data
            key.append(d.dtype)
            key.append(d.ndim == 0)
        elif a is not None:
            key.append(type(a))
            key.append(None)
    key = tuple(key)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = compute(key)
    return hit


def compute(key: tuple):
    """Promote a key of (kind, then per operand: numpy dtype and is-0-d, or Python type and
    None) to (compute dtype, result dtype), both numpy dtypes."""
    kind = key[0]
    refusal = None
    if type(kind) is WideRefusal:
        refusal, kind = kind, kind.kind
    dims = zeros = wrapped = None
    for i in range(1, len(key), 2):
        item, zero_dim = key[i], key[i + 1]
        if zero_dim is None:
            d = scalar_dtype(item)
            wrapped = d if wrapped is None else _dtype.promote_types(wrapped, d)
        else:
            d = _dtype.from_np(item)
            if zero_dim:
                zeros = d if zeros is None else _dtype.promote_types(zeros, d)
            else:
                dims = d if dims is None else _dtype.promote_types(dims, d)
    compute = _combine(dims, _combine(zeros, wrapped))
    if compute is None:
        raise TypeError("an op needs at least one tensor or number")
    if refusal is not None and compute in refusal.refused:
        raise wide_unsupported(refusal.kernel, compute)
    from ember._ops.registry import COMPARE, FLOAT

    if kind == FLOAT and compute.category < _dtype.FLOAT:
        compute = _dtype.get_default_dtype()
    out = _dtype.bool_ if kind == COMPARE else compute
    return compute.np, out.np


def scalar_dtype(kind: type) -> _dtype.dtype:
    """The dtype a Python number of this type stands for in promotion."""
    if issubclass(kind, bool) or kind is np.bool_:
        return _dtype.bool_
    if issubclass(kind, (int, np.integer)):
        return _dtype.int64
    if issubclass(kind, (float, np.floating)):
        return _dtype.get_default_dtype()
    if issubclass(kind, (complex, np.complexfloating)):
        return _dtype.default_complex()
    raise OperandTypeError(f"unsupported operand type: '{kind.__name__}'")


def _combine(higher, lower):
    """Merge a higher-priority group's dtype with a lower one's (torch's rule)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == _dtype.COMPLEX:
        return higher
    if lower.category == _dtype.COMPLEX:
        return higher.to_complex() if higher.category == _dtype.FLOAT else lower
    if higher.category == _dtype.FLOAT:
        return higher
    if higher is _dtype.bool_ or lower.category == _dtype.FLOAT:
        return _dtype.promote_types(higher, lower)
    return higher


def result_type(tensor=None, other=None, *, scalar=None, scalar1=None,
                scalar2=None) -> _dtype.dtype:
    """Mirrors ``torch.result_type``: the dtype an op on two operands (tensors or Python
    numbers) computes in. torch's overloads name them ``(tensor, other)``, ``(scalar,
    tensor)`` and ``(scalar1, scalar2)``; ember differs in taking numbers positionally
    under any of them, as torch does, and under ``tensor=``/``other=`` by keyword too."""
    from ember._ops.registry import SAME
    from ember._tensor import Tensor

    operands = tuple(v for v in (tensor, other, scalar, scalar1, scalar2) if v is not None)
    if len(operands) != 2 or any(isinstance(v, Tensor) for v in (scalar, scalar1, scalar2)):
        raise TypeError("result_type() received an invalid combination of arguments")
    return _dtype.from_np(result_types(operands, range(2), SAME)[1])


def wrap_ints(arrays: list, np_dtype) -> list:
    """Python ints outside ``np_dtype``'s range, wrapped around as torch's cast does."""
    return [np.array(a).astype(np_dtype) if type(a) is int else a for a in arrays]


def broadcast_error(shapes: list) -> RuntimeError | None:
    """torch's error for shapes that do not broadcast (None when they do)."""
    out = ()
    for shape in shapes:
        n = max(len(out), len(shape))
        a = (1,) * (n - len(out)) + tuple(out)
        b = (1,) * (n - len(shape)) + tuple(shape)
        merged = []
        for i in range(n - 1, -1, -1):
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                return RuntimeError(
                    f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                    f"non-singleton dimension {i}")
            merged.append(b[i] if a[i] == 1 else a[i])
        out = tuple(reversed(merged))
    return None


_INT_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
                "int64": "int64_t"}


def _overflow(name: str) -> RuntimeError:
    return RuntimeError(f"value cannot be converted to type {name} without overflow")


def check_scalar_int(value: int) -> None:
    """Python's error for an int that torch's argument parser cannot read as a 64-bit
    Scalar (one beyond int64 down, beyond uint64 up)."""
    if value < -2 ** 63:
        raise OverflowError("can't convert negative int to unsigned")
    if value >= 2 ** 64:
        raise OverflowError("int too big to convert")


def fill_value(value, np_dtype, check_half: bool = True):
    """A Python number that fills a tensor of ``np_dtype`` (fill_, full, masked_fill,
    index_fill, scatter, ``__setitem__``), converted as torch converts it: an int beyond 64
    bits is refused as Python refuses it; into an integer dtype, a value outside its range
    (a NaN, an infinity, a complex number with an imaginary part) is torch's overflow error,
    and a negative int down to minus an unsigned dtype's maximum wraps, as in C; into a
    floating dtype, so is a complex number with an imaginary part, and a finite number beyond
    the dtype's range; into bool, any number is its truth. ``check_half``: whether a float16
    or bfloat16 dtype's range is checked too (NOTE [Half fill values])."""
    kind = type(value)
    if kind is int:
        check_scalar_int(value)
    elif kind is not float and kind is not complex:
        return value
    code = np_dtype.kind
    if code == "b":
        return value != 0
    if code not in "iu":  # floating, complex, and ml_dtypes' floats (kind "V")
        return _float_fill_value(value, kind, np_dtype, check_half)
    info = np.iinfo(np_dtype)
    unsigned = info.min == 0
    if kind is complex:
        fits = value.imag == 0
        value, kind = value.real, float
    else:
        fits = True
    if kind is int:
        fits = (-int(info.max) if unsigned else int(info.min)) <= value <= info.max
    else:
        fits = fits and info.min <= value <= info.max  # False for NaN
    if not fits:
        raise _overflow(_INT_C_NAMES[np_dtype.name])
    return value + int(info.max) + 1 if kind is int and unsigned and value < 0 else value


# by (kind, itemsize): NumPy builds ``dtype.name`` anew on each read; ml_dtypes' bfloat16 is
# kind V, its float8 types (one byte) are left to NumPy's conversion
_FLOAT_C_NAMES = {("f", 2): "c10::Half", ("V", 2): "c10::BFloat16", ("f", 4): "float",
                  ("f", 8): "double", ("c", 8): "c10::complex<float>",
                  ("c", 16): "c10::complex<double>"}


_FLOAT_LIMITS = {("f", 4): float(np.finfo(np.float32).max),
                 ("f", 8): float(np.finfo(np.float64).max),
                 ("c", 8): float(np.finfo(np.float32).max),
                 ("c", 16): float(np.finfo(np.float64).max)}


# NOTE [Half fill values]: torch checks a number's range against float16 and bfloat16 where
# it converts the number for a kernel (clamp's bounds, pow's exponent, add's alpha,
# masked_fill, index_fill, scatter), but fill_ writes a tensor of one element without the
# check (so do full, full_like, new_full and fill, which fill through it), and index_put
# (``x[i] = v``) and arange convert without one: a value beyond the range becomes an
# infinity there, as NumPy converts it. Learnt by experiment against torch 2.13.
_HALF_LIMITS = {("f", 2): 65504.0, ("V", 2): 3.3895313892515355e38}


def _float_fill_value(value, kind, np_dtype, check_half: bool):
    size = (np_dtype.kind, np_dtype.itemsize)
    name = _FLOAT_C_NAMES.get(size)
    if name is None:
        return value
    if kind is complex and np_dtype.kind != "c":
        if value.imag:
            raise _overflow(name)
        value, kind = value.real, float
    if np_dtype.itemsize == 2:
        if check_half and math.isfinite(value) and abs(value) > _HALF_LIMITS[size]:
            raise _overflow(name)
        return value
    limit = _FLOAT_LIMITS[size]
    for part in (value.real, value.imag) if kind is complex else (value,):
        if math.isfinite(part) and abs(part) > limit:
            raise _overflow(name)
    return value
