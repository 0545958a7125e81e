"""dtype objects, torch's type-promotion lattice and the default dtype.

Each dtype is interned: ``ember.float32 is ember.float32`` and comparisons are identity.
It prints as torch's does (``torch.float32``), because user code compares those strings.
"""
from __future__ import annotations

import math

from ember._backend import bfloat16_dtype, np

# Categories, ordered as torch orders them when a lower category meets a higher one.
BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3


class dtype:
    """Mirrors ``torch.dtype``: a named element type with torch's predicates."""

    __slots__ = ("name", "_np", "category", "itemsize", "is_signed", "_rank")

    def __init__(self, name: str, np_dtype, category: int, itemsize: int, signed: bool, rank):
        self.name = name
        self._np = np_dtype
        self.category = category
        self.itemsize = itemsize
        self.is_signed = signed
        self._rank = rank

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == COMPLEX

    @property
    def np(self):
        """The NumPy dtype that holds this dtype's elements."""
        if self._np is None:  # bfloat16 and float8: ml_dtypes is imported on first use
            _resolve_ml_dtypes()
        return self._np

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
        if self._rank is None or self.category < FLOAT or self in BIG_UNSIGNED:
            raise RuntimeError(f"Unknown Complex ScalarType for {_LEGACY[self.name]}")
        return {float64: complex128, complex128: complex128}.get(self, complex64)

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return self.name


dtype.__module__ = "ember"  # the public name: ``<class 'ember.dtype'>``


bool_ = dtype("bool", np.dtype(np.bool_), BOOL, 1, False, 0)
uint8 = dtype("uint8", np.dtype(np.uint8), INT, 1, False, 1)
int8 = dtype("int8", np.dtype(np.int8), INT, 1, True, 1)
int16 = dtype("int16", np.dtype(np.int16), INT, 2, True, 2)
int32 = dtype("int32", np.dtype(np.int32), INT, 4, True, 3)
int64 = dtype("int64", np.dtype(np.int64), INT, 8, True, 4)
# NOTE [Wide unsigned dtypes]: torch's uint16, uint32 and uint64 promote only with
# themselves and with the floating dtypes (not with bool, other integers or complex: see
# promote_types), and most of torch's CPU kernels refuse them ("not implemented for
# 'UInt16'"); creation, conversion, printing, copies, views, ``==``/``!=``, ``*``, ``/``,
# ``&``/``|``/``^``, sums and sorting work. ember refuses what torch refuses (registry.
# refuse_wide, and the ops' own checks), except ``add``/``sub`` of two tensors of one such
# dtype, which compute: a check there would cost every addition.
uint16 = dtype("uint16", np.dtype(np.uint16), INT, 2, False, 2)
uint32 = dtype("uint32", np.dtype(np.uint32), INT, 4, False, 3)
uint64 = dtype("uint64", np.dtype(np.uint64), INT, 8, False, 4)
BIG_UNSIGNED = (uint16, uint32, uint64)
float16 = dtype("float16", np.dtype(np.float16), FLOAT, 2, True, 1)
bfloat16 = dtype("bfloat16", None, FLOAT, 2, True, 1)
float32 = dtype("float32", np.dtype(np.float32), FLOAT, 4, True, 2)
float64 = dtype("float64", np.dtype(np.float64), FLOAT, 8, True, 3)
complex64 = dtype("complex64", np.dtype(np.complex64), COMPLEX, 8, True, 2)
complex128 = dtype("complex128", np.dtype(np.complex128), COMPLEX, 16, True, 3)
# NOTE [float8 dtypes]: torch's five 8-bit float formats, held in ml_dtypes' NumPy types of
# the same names. torch promotes none of them with any other dtype (rank None: see
# promote_types), computes only a few ops on them on the CPU, and converts to them with its
# own saturation and NaN rules (``to_float8``), which differ from ml_dtypes' casts.
float8_e4m3fn = dtype("float8_e4m3fn", None, FLOAT, 1, True, None)
float8_e5m2 = dtype("float8_e5m2", None, FLOAT, 1, True, None)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", None, FLOAT, 1, True, None)
float8_e5m2fnuz = dtype("float8_e5m2fnuz", None, FLOAT, 1, True, None)
float8_e8m0fnu = dtype("float8_e8m0fnu", None, FLOAT, 1, False, None)
FLOAT8 = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
       complex64, complex128) + FLOAT8 + BIG_UNSIGNED
_FROM_NP = {d._np: d for d in ALL if d._np is not None}


def _resolve_ml_dtypes() -> None:
    """Give the dtypes that ml_dtypes holds their NumPy types (imported on first use)."""
    bfloat16._np = bfloat16_dtype()
    _FROM_NP[bfloat16._np] = bfloat16
    import ml_dtypes

    for d in FLOAT8:
        d._np = np.dtype(getattr(ml_dtypes, d.name))
        _FROM_NP[d._np] = d


def from_np(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; raises TypeError for types torch lacks."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    # NumPy's other integer widths and platform aliases.
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _FROM_NP:
        return _FROM_NP[np_dtype]
    if bfloat16._np is None and np_dtype.type.__module__ == "ml_dtypes":
        _resolve_ml_dtypes()
        return from_np(np_dtype)
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{np_dtype.type.__name__}. The only supported "
        "types are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, "
        "uint64, uint32, uint16, uint8, and bool.")


_LEGACY = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
           "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
           "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
           "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64",
           **{d.name: "F" + d.name[1:] for d in FLOAT8}}  # Float8_e4m3fn, ...


def legacy_type_name(np_dtype) -> str:
    """torch's legacy tensor-type name (``torch.FloatTensor``), as ``Tensor.type()`` and
    some error messages show it."""
    return f"torch.{_LEGACY[from_np(np_dtype).name]}Tensor"


def deprecated_type_name(np_dtype) -> str:
    """The type torch's C++ errors print (``torch.FloatTensor`` for the eight types that had
    legacy tensor classes in C++, ``CPUBoolType`` for the others): ``expand``'s."""
    name = _LEGACY[from_np(np_dtype).name]
    if name in ("Byte", "Char", "Short", "Int", "Long", "Half", "Float", "Double"):
        return f"torch.{name}Tensor"
    return f"CPU{name}Type"


_CPP_NAMES = {
    "bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
    "int32": "int", "int64": "long int", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
    "float32": "float", "float64": "double", "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>", "uint16": "short unsigned int",
    "uint32": "unsigned int", "uint64": "long unsigned int",
    **{d.name: "c10::F" + d.name[1:] for d in FLOAT8}}


def cpp_type_name(d) -> str:
    """The C++ type torch prints for a dtype in some errors (``long int``, ``c10::Half``);
    ``d`` is an ember or a NumPy dtype."""
    return _CPP_NAMES[d.name]


def scalar_type_name(d: dtype) -> str:
    """torch's C++ scalar-type name (``Float``, ``Long``), as its error messages show it."""
    return _LEGACY[d.name]


def scalar_type_mismatch(expected: dtype, found: dtype) -> RuntimeError:
    """torch's error for an operand of another dtype than the one its kernel expects."""
    return RuntimeError(f"expected scalar type {scalar_type_name(expected)} but found "
                        f"{scalar_type_name(found)}")


def cast(array, np_dtype):
    """``array`` converted to ``np_dtype`` as torch converts (``Tensor.to``): NumPy's
    ``astype``, except to and from the float8 dtypes (NOTE [float8 dtypes]) and to the 16-bit
    floats, where torch's rules differ from NumPy's and ml_dtypes' casts:

    - to float8_e4m3fn, finite values beyond +-448 and infinities saturate to +-448 (NaN in
      ml_dtypes); to float8_e5m2, a NaN becomes 0x7f/0xff (ml_dtypes: 0x7e/0xfe);
    - to float8_e8m0fnu (a power of two, no sign), the sign is dropped, zero becomes 2**-127
      and the float32 mantissa rounds half up (ml_dtypes: round to nearest even, zero NaN);
    - from a float8 dtype, a NaN has torch's float32 payload;
    - to bfloat16 and float16, from a float dtype, through float32 (from float64 too, which
      can round twice); a NaN becomes 0x7fc0 in bfloat16 (ml_dtypes keeps its sign) and in
      float16 is quieted keeping its top payload bits, as x86's conversion does (NumPy's
      may leave it signalling).

    torch's vectorised float32 -> bfloat16 copy (AVX2 and up) gives 0xffff for a NaN, its
    scalar one 0x7fc0: ember gives 0x7fc0 whatever the CPU.
    """
    target = np.dtype(np_dtype)
    source = from_np(array.dtype)
    if source._rank is None and target != array.dtype:
        array = _FROM_FLOAT8[source.name][array.view(np.uint8)]
        if target == array.dtype:
            return array
        source = float32
    ember_target = _FROM_NP.get(target)
    if source is bfloat16 and target.kind in "iu":
        # ml_dtypes' casts to integers saturate (-1.5 -> uint8 0); torch converts the float
        # value as it converts a float32's (-1.5 -> 255), and bfloat16 -> float32 is exact
        return array.astype(np.float32).astype(target)
    if (ember_target is bfloat16 or ember_target is float16) and source.category == FLOAT and (
            source is not ember_target):
        return _to_16bit(array, target, ember_target is bfloat16)
    if ember_target is None or ember_target._rank is not None:
        return array.astype(target)
    if ember_target is float8_e4m3fn:
        if array.dtype.kind == "c":
            array = array.real
        if array.dtype.kind != "b":
            array = np.clip(array, -448, 448)
        return array.astype(target)
    if ember_target is float8_e5m2:
        bits = array.astype(target).view(np.uint8)
        return np.where((bits & 0x7F) > 0x7C, bits | 0x03, bits).view(target)
    if ember_target is float8_e8m0fnu:
        bits = array.astype(np.float32).view(np.uint32)
        exponent = (bits >> 23) & 0xFF
        mantissa = bits & 0x7FFFFF
        round_up = (mantissa > 0x400000) | ((mantissa == 0x400000) & (exponent != 0))
        exponent = np.where(exponent == 0xFF, 0xFF, np.minimum(exponent + round_up, 0xFF))
        return exponent.astype(np.uint8).view(target)
    return array.astype(target)


def _to_16bit(array, target, brain: bool):
    """A float array in float16 or (``brain``) bfloat16, as torch converts (see ``cast``)."""
    if array.dtype != np.float32:
        array = array.astype(np.float32)
    result = array.astype(target)
    nan = np.isnan(array)
    if nan.any():
        bits = result.view(np.uint16)
        if brain:
            bits[nan] = 0x7FC0
        else:
            source = array.view(np.uint32)[nan]
            bits[nan] = ((source >> 16) & 0x8000) | 0x7E00 | ((source >> 13) & 0x3FF)
    return result


# torch's float32 bits for the float8 NaN patterns (byte -> bits); the other NaN patterns of
# a format are its other bytes that decode to NaN: they all give ``_NAN_BITS``.
_NAN_PAYLOADS = {
    "float8_e4m3fn": {0x7F: 0x7FF00000, 0xFF: 0xFFF00000},
    "float8_e5m2": {0x7D: 0x7FE00000, 0x7E: 0x7FC00000, 0x7F: 0x7FE00000,
                    0xFD: 0xFFE00000, 0xFE: 0xFFC00000, 0xFF: 0xFFE00000}}
_NAN_BITS = 0x7F800001


class _Float8Tables(dict):
    """Per float8 dtype name, the float32 value of each of the 256 byte patterns, NaNs with
    torch's payloads; each table is built on first use."""

    def __missing__(self, name: str):
        import ml_dtypes

        table = np.arange(256, dtype=np.uint8).view(getattr(ml_dtypes, name)).astype(np.float32)
        bits = table.view(np.uint32)
        bits[np.isnan(table)] = _NAN_BITS
        for byte, nan_bits in _NAN_PAYLOADS.get(name, {}).items():
            bits[byte] = nan_bits
        self[name] = table
        return table


_FROM_FLOAT8 = _Float8Tables()


# NumPy kinds ordered as torch's categories (ml_dtypes' floats are kind "V")
_CAST_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}


def can_cast_np(from_np, to_np) -> bool:
    """torch's canCast on NumPy dtypes, the rule for writing a result into an existing tensor
    (in-place ops, ``out=``): nothing from a higher category (bool < integer < floating <
    complex), and to bool only from bool; within a category any cast is allowed, signed to
    unsigned too (NumPy's ``same_kind`` refuses that one)."""
    source = _CAST_RANK[from_np.kind]
    target = _CAST_RANK[to_np.kind]
    return source <= target if target else source == 0


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        low, high = (a, b) if a.category < b.category else (b, a)
        if high.category == COMPLEX and low.category == FLOAT:
            return complex128 if low is float64 else high
        return high
    if a.category == INT:
        if a.is_signed == b.is_signed:
            return a if a._rank > b._rank else b
        unsigned, signed = (a, b) if not a.is_signed else (b, a)
        return signed if signed._rank > unsigned._rank else int16
    if a.category == FLOAT and a._rank == b._rank:  # float16 with bfloat16
        return float32
    return a if a._rank > b._rank else b


def _promotes(a: dtype, b: dtype) -> bool:
    """Whether torch promotes the pair at all (NOTE [float8 dtypes], NOTE [Wide unsigned
    dtypes])."""
    if a is b:
        return True
    if a._rank is None or b._rank is None:
        return False
    if a in BIG_UNSIGNED:
        return b.category == FLOAT
    return b not in BIG_UNSIGNED or a.category == FLOAT


_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL if _promotes(a, b)}


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """Mirrors ``torch.promote_types``: the smallest dtype both inputs convert to safely.
    A float8 dtype promotes only with itself (NOTE [float8 dtypes]), uint16, uint32 and
    uint64 with themselves and the floating dtypes (NOTE [Wide unsigned dtypes])."""
    try:
        return _PROMOTE[type1, type2]
    except KeyError:
        kinds = ("Float8 Types" if type1._rank is None or type2._rank is None
                 else "uint16, uint32, uint64 types")
        raise RuntimeError(
            f"Promotion for {kinds} is not supported, attempted to promote "
            f"{_LEGACY[type1.name]} and {_LEGACY[type2.name]}") from None


# NOTE [Default dtype]: Python floats, float factories and int->float ops use this dtype.
# Anything that caches a promotion result must be cleared when it changes (see
# _promote.clear_caches, called from set_default_dtype).
_default = [float32]


def get_default_dtype() -> dtype:
    """Mirrors ``torch.get_default_dtype``."""
    return _default[0]


def default_complex() -> dtype:
    return complex128 if _default[0] is float64 else complex64


def set_default_dtype(d: dtype) -> None:
    """Mirrors ``torch.set_default_dtype``; only floating-point dtypes are accepted."""
    if not isinstance(d, dtype) or d.category != FLOAT:
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d
    from ember._ops import _promote

    _promote.clear_caches()


class finfo:
    """Mirrors ``torch.finfo``: machine limits of a floating-point dtype (complex dtypes
    give their real part's)."""

    def __init__(self, type: dtype | None = None) -> None:  # noqa: A002 - torch's name
        d = get_default_dtype() if type is None else type
        if d.category < FLOAT:
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        d = d.to_real()
        if d._np is None or d.itemsize < 2:  # bfloat16 and float8: ml_dtypes knows them
            import ml_dtypes

            info = ml_dtypes.finfo(d.np)
        else:
            info = np.finfo(d.np)
        self.bits = d.itemsize * 8
        # torch gives float8_e5m2fnuz float8_e4m3fnuz's epsilon, where ml_dtypes has 2**-2
        self.eps = 0.125 if d is float8_e5m2fnuz else float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        # torch's resolution is 10**-digits, digits being the decimal digits eps resolves
        self.resolution = 10.0 ** -math.floor(-math.log10(self.eps))
        self.dtype = d.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Mirrors ``torch.iinfo``: the range of an integer dtype."""

    def __init__(self, type: dtype) -> None:  # noqa: A002 - torch's name
        if type.category != INT:
            if type is bool_:
                raise TypeError(f"{type!r} is not supported by torch.iinfo")
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.bits = type.itemsize * 8
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


finfo.__module__ = iinfo.__module__ = "ember"
