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
        if self._np is None:  # bfloat16: ml_dtypes is imported on first use
            self._np = bfloat16_dtype()
            _FROM_NP[self._np] = self
        return self._np

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
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
float16 = dtype("float16", np.dtype(np.float16), FLOAT, 2, True, 1)
bfloat16 = dtype("bfloat16", None, FLOAT, 2, True, 1)
float32 = dtype("float32", np.dtype(np.float32), FLOAT, 4, True, 2)
float64 = dtype("float64", np.dtype(np.float64), FLOAT, 8, True, 3)
complex64 = dtype("complex64", np.dtype(np.complex64), COMPLEX, 8, True, 2)
complex128 = dtype("complex128", np.dtype(np.complex128), COMPLEX, 16, True, 3)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
       complex64, complex128)
_FROM_NP = {d._np: d for d in ALL if d._np is not None}


def from_np(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; raises TypeError for types torch lacks."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    if np_dtype == bfloat16.np:
        return bfloat16
    # NumPy's other integer widths and platform aliases.
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _FROM_NP:
        return _FROM_NP[np_dtype]
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{np_dtype.name}. The only supported types are: "
        "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, "
        "and bool.")


_LEGACY = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
           "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
           "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def legacy_type_name(np_dtype) -> str:
    """torch's legacy tensor-type name (``torch.FloatTensor``), as ``Tensor.type()`` and
    some error messages show it."""
    return f"torch.{_LEGACY[from_np(np_dtype).name]}Tensor"


_CPP_NAMES = {
    "bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
    "int32": "int", "int64": "long int", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
    "float32": "float", "float64": "double", "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>"}


def cpp_type_name(d) -> str:
    """The C++ type torch prints for a dtype in some errors (``long int``, ``c10::Half``);
    ``d`` is an ember or a NumPy dtype."""
    return _CPP_NAMES[d.name]


def scalar_type_name(d: dtype) -> str:
    """torch's C++ scalar-type name (``Float``, ``Long``), as its error messages show it."""
    return _LEGACY[d.name]


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


_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL}


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """Mirrors ``torch.promote_types``: the smallest dtype both inputs convert to safely."""
    return _PROMOTE[type1, type2]


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
        if d is bfloat16:
            import ml_dtypes

            info = ml_dtypes.finfo(d.np)
        else:
            info = np.finfo(d.np)
        self.bits = d.itemsize * 8
        self.eps = float(info.eps)
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
            raise TypeError(f"{type!r} is not supported by torch.iinfo")
        info = np.iinfo(type.np)
        self.bits = type.itemsize * 8
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


finfo.__module__ = iinfo.__module__ = "ember"
