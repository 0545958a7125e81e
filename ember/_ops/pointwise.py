"""Elementwise ops: arithmetic, comparisons, logic, rounding, unary and special math, clamp,
where.

Each record's backward formulas follow torch's derivatives (derivatives.yaml vocabulary:
``grad``, ``self``, ``other``, ``exponent``, ``result``) and are written in ember ops, so
they are differentiable again. Broadcast gradients are reduced by the engine
(``graph.fit_gradient``), never here.
"""
from __future__ import annotations

import builtins
import math

from ember import _memory_format as _mf
from ember._backend import ndarray, np
from ember._dtype import (
    complex128,
    cpp_type_name,
    float64,
    from_np,
    get_default_dtype,
    int64,
    scalar_type_name,
)
from ember._ops import _promote, batching, registry
from ember._ops._promote import OperandTypeError, fill_value
from ember._ops.creation import zero_gradient, zeros_like
from ember._ops.fused import fma
from ember._ops.registry import (
    COMPARE,
    FLOAT,
    KEEP,
    _scalar_array,
    _scalar_arrays,
    attach,
    defop,
    float32_of,
    not_implemented,
    reduced_float,
    run,
    saved_as,
    saved_output,
)
from ember._tensor import Tensor, c_type_name, refuse_non_tensor, tensor_argument

# ---- helpers: torch's errors, integer powers, moduli, bitwise kernels ------------------

def _type_name(np_dtype) -> str:
    return scalar_type_name(from_np(np_dtype))


def _unsupported(kernel: str, np_dtype) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(np_dtype)}\'')


def _refuse(kernel: str, kinds: str):
    """A check refusing a first input whose dtype kind is in ``kinds``, and uint16/32/64
    (NOTE [Wide unsigned dtypes]), as torch's kernel."""
    def check(self, *params) -> None:
        dt = self._data.dtype
        if dt.kind in kinds or (dt.kind == "u" and dt.itemsize > 1):
            raise _unsupported(kernel, dt)
    return check


def _wide(dt) -> bool:
    """Whether a NumPy dtype is uint16, uint32 or uint64 (NOTE [Wide unsigned dtypes])."""
    return dt.kind == "u" and dt.itemsize > 1


def _tensors_only(fname: str, **named) -> None:
    """torch's argument-parser error for a number where only a tensor is accepted."""
    for position, (name, value) in enumerate(named.items(), start=1):
        tensor_argument(fname, name, value, position)


# The overloads torch lists when a binary function that takes a number only as its second
# operand gets one first.
_OTHER_TENSOR_OR_NUMBER = ("(Tensor input, Tensor other, *, Tensor out = None)",
                           "(Tensor input, Number other, *, Tensor out = None)")


def overload_refusal(fname: str, args: tuple, overloads: tuple) -> TypeError:
    """torch's TypeError for arguments that match none of ``fname``'s ``overloads`` (given
    positionally: their types are listed)."""
    got = ", ".join(c_type_name(a) for a in args)
    return TypeError(f"{fname}() received an invalid combination of arguments - got ({got}), "
                     "but expected one of:\n" + "".join(f" * {o}\n" for o in overloads))


def _numbers_refused(fname: str, args: tuple, second: str = "other", number_out: bool = False
                     ) -> TypeError:
    """torch's TypeError for a binary function given two numbers: its overloads take a
    tensor on one side at least. ``second``: the name of its second argument;
    ``number_out``: whether its ``(Number self, Tensor ...)`` form takes ``out=`` (where it
    does not, torch adds the line saying why that form did not match)."""
    if number_out:
        middle = f"(Number self, Tensor {second}, *, Tensor out = None)"
    else:
        kinds = ", ".join(f"!{c_type_name(a)}!" for a in args)
        middle = (f"(Number self, Tensor {second})\n      didn't match because some of the "
                  f"arguments have invalid types: ({kinds})")
    return overload_refusal(fname, args, (
        f"(Tensor input, Tensor {second}, *, Tensor out = None)", middle,
        f"(Tensor input, Number {second}, *, Tensor out = None)"))


def _complex_refused(name: str):
    """The NumPy ufunc ``name`` of two operands, refusing complex ones (after promotion), as
    torch's extremum kernels do: complex numbers have no order."""
    def forward(xp, self, other):
        kind = self.dtype.kind
        if kind in "cu":
            if kind == "c":
                raise RuntimeError(f"{name} not implemented for complex tensors.")
            if _wide(self.dtype):
                raise _unsupported(f"{name}_cpu", self.dtype)
        return getattr(xp, name)(self, other)
    return forward


def _float_only(kernel: str, forward, refused: str = "biu"):
    """``forward`` refusing arrays (the promoted dtype) of the NumPy kinds ``refused``
    (integers and bools unless said otherwise), as torch's kernel."""
    def checked(xp, *arrays):
        if arrays[0].dtype.kind in refused:
            raise _unsupported(kernel, arrays[0].dtype)
        return forward(xp, *arrays)
    return checked


_NEGATIVE_INT_POWER = "Integers to negative integer powers are not allowed."


def _int_power(xp, base, exponent):
    """Integer powers with C's rules for negative exponents, as torch's kernel: 1 and -1
    keep their magnitude, every other base gives 0."""
    negative = exponent < 0
    r = xp.power(base, xp.where(negative, 0, exponent))
    odd = xp.remainder(exponent, 2) != 0
    unit = xp.where(base == 1, 1, xp.where(base == -1, xp.where(odd, -1, 1), 0))
    return xp.where(negative, unit, r).astype(r.dtype, copy=False)


def _power(xp, base, exponent):
    try:
        return xp.power(base, exponent)
    except ValueError:  # integers to negative integer powers, element by element
        return _int_power(xp, base, exponent)


def _power_of_repeated_exponent(xp, base, exponent):
    """``base ** exponent`` for an ``exponent`` that may repeat one value along NumPy's
    inner loop (a 0-d, broadcast or expanded one). NumPy's power takes the square root when
    such an exponent is 0.5: -inf ** 0.5 gives nan and -0.0 ** 0.5 gives -0.0 where pow, as
    torch's kernel for a tensor exponent, gives inf and 0.0. An exponent laid out in full
    makes NumPy call pow for every element."""
    half = exponent.item() == 0.5 if exponent.size == 1 else (exponent == 0.5).any()
    if not half:
        return xp.power(base, exponent)
    shape = xp.broadcast_shapes(xp.shape(base), exponent.shape)
    # a 0-d result is computed as one element: both operands of a 0-d call step by 0 bytes
    spread = xp.broadcast_to(exponent, shape or (1,)).copy()
    result = xp.power(base, spread)
    return result.reshape(shape) if not shape else result


def _power_tensors(xp, base, exponent):
    if base.dtype.kind in "bu" and (base.dtype.kind == "b" or _wide(base.dtype)):
        raise _unsupported("pow", base.dtype)
    if exponent.dtype.kind == "f" and (
            exponent.ndim == 0 or exponent.shape != base.shape or 0 in exponent.strides):
        return _power_of_repeated_exponent(xp, base, exponent)
    return _power(xp, base, exponent)


def _is_bfloat16(dt) -> bool:
    # NumPy builds ``dtype.name`` anew on each read (2 us); bfloat16 is the one 2-byte dtype
    # of kind V (ml_dtypes' float8 types take one byte)
    return dt.kind == "V" and dt.itemsize == 2


def _power_rule(dt, exponent):
    """The kernel torch computes ``x ** exponent`` with for NumPy dtype ``dt``: a
    multiplied-out power, a root, or pow itself."""
    if exponent == 2 or exponent == 3 or exponent == -2:
        if (dt.kind == "f" and dt.itemsize >= 4 or _is_bfloat16(dt)) \
                and type(exponent) in _REAL_NUMBERS:
            # torch multiplies these powers out (x * x, x * x * x, 1 / (x * x): bfloat16
            # rounding each step) where pow would round differently in a third of the
            # elements (x * x is pow's value, at a quarter of its cost); float16 goes through
            # float32 in both libraries, as NumPy's power computes it
            return _square if exponent == 2 else _cube if exponent == 3 else _inverse_square
    elif exponent == 0.5 or exponent == -0.5:
        if type(exponent) is float and (dt.kind == "f" and dt.itemsize >= 4
                                        or _is_bfloat16(dt)):
            # torch takes the square root here (1 / sqrt for -0.5), as its sqrt and rsqrt
            # give (-0 for -0, nan for -inf), where pow rounds otherwise; float16 keeps pow,
            # as torch's kernel for it does
            return _root if exponent == 0.5 else _inverse_root
    return _pow_number


def _square(xp, base, exponent):
    return base * base


def _cube(xp, base, exponent):
    return base * base * base


def _inverse_square(xp, base, exponent):
    return 1 / (base * base)


def _root(xp, base, exponent):
    return xp.sqrt(base)


def _inverse_root(xp, base, exponent):
    if _is_bfloat16(base.dtype):
        # torch's vectorised bfloat16 kernel computes 1 / sqrt in float32 and rounds once
        return (1 / xp.sqrt(base.astype(xp.float32))).astype(base.dtype)
    return 1 / xp.sqrt(base)


def _pow_number(xp, base, exponent):
    dt = base.dtype
    if dt.kind in "biu":
        if type(exponent) is int and exponent < 0:
            raise RuntimeError(_NEGATIVE_INT_POWER)
        if _wide(dt) and exponent != 0 and exponent != 1:
            # torch fills ones for ** 0 and copies for ** 1 before its kernel refuses
            raise _unsupported("pow", dt)
    return xp.power(base, exponent)


def _power_scalar(xp, base, exponent):
    return _power_rule(base.dtype, exponent)(xp, base, exponent)


# a compiled step's replay calls the kernel itself (NOTE [Specialised forwards] in
# ember/_compile.py)
_power_scalar.specialize = lambda xp, base, exponent: _power_rule(base.dtype, exponent)


_REAL_NUMBERS = (int, float)


def _modulus(ufunc, kernel):
    """fmod / remainder: bool and complex refused, an integer division by zero is torch's
    error."""
    def forward(xp, self, other):
        try:
            r = ufunc(self, other)
        except TypeError:  # complex operands: torch's kernel has no such dtype
            raise _unsupported(kernel, xp.result_type(self, other)) from None
        kind = r.dtype.kind
        if kind in "fV" and ufunc is np.remainder:
            # NumPy gives a zero remainder the divisor's sign, torch's kernel (fmod, then
            # the divisor added to a nonzero result of the other sign) the dividend's
            zero = r == 0
            if zero.any():
                r = xp.where(zero, xp.copysign(xp.zeros_like(r), self), r)
        elif kind in "iub":
            if kind == "b" or any(isinstance(x, ndarray) and x.dtype.kind == "b"
                                  for x in (self, other)):
                raise _unsupported(kernel, np.dtype(bool))
            if _wide(r.dtype):
                raise _unsupported(kernel, r.dtype)
            # count_nonzero: the cheapest full scan NumPy offers (np.all costs 3x more)
            if (xp.count_nonzero(other) != other.size if isinstance(other, ndarray)
                    else other == 0):
                raise RuntimeError("ZeroDivisionError")
        return r
    return forward


def _reversed_modulus(ufunc, kernel):
    forward = _modulus(ufunc, kernel)
    return lambda xp, self, other: forward(xp, other, self)


def _bitwise(ufunc, kernel: str):
    def forward(xp, a, b):
        try:
            return ufunc(a, b)
        except TypeError:  # floating operands: torch's kernel has no such dtype
            raise _unsupported(kernel, xp.result_type(a, b)) from None
    return forward


# ---- arithmetic ---------------------------------------------------------------------


def _scaled(grad, alpha):
    return grad if alpha == 1 else grad * alpha


# NOTE [Fused multiply-adds]: torch's CPU kernels are compiled with contraction, so a
# product and a sum in one expression round once: ``add``/``sub`` with an ``alpha`` are
# ``fma(other, alpha, self)``, ``lerp`` is ``fma(weight, end - self, self)`` (from ``end``
# with ``weight - 1`` when |weight| >= 0.5), ``addcmul`` is ``fma(value * tensor1, tensor2,
# self)``, in the vectorised and the scalar loops alike; float16/bfloat16 compute that in
# float32 and round once more (``add``'s alpha, and a number operand, rounded to the half
# type first). Learnt by experiment against torch 2.13: every element of
# 100,000 random float32 and float64 values (and of short tensors, the scalar loop) agreed
# with these single roundings, against 75-84% with NumPy's two. ``fused.fma`` computes them.
# ``addcdiv`` is not contracted: ``self + (value * tensor1) / tensor2``, three roundings.
def _float_dtype(dtype) -> bool:
    return dtype.kind == "f" or reduced_float(dtype)


def _check_alpha(kind: str, alpha) -> None:
    """torch's refusals of an ``alpha`` for a result of NumPy dtype kind ``kind``, in its
    order: a bool alpha outside bool results, a non-integral one (float or complex) for
    integers and bools, a complex one for floats."""
    if isinstance(alpha, (bool, np.bool_)) and kind != "b":
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if kind in "biu" and isinstance(alpha, (builtins.float, builtins.complex)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a "
                           "floating point number.")
    if kind != "c" and isinstance(alpha, builtins.complex):
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a "
                           "complex number.")


def _fused_add(xp, self, other, alpha, negated: bool = False):
    """``self + alpha * other`` (``self - alpha * other`` when ``negated``: torch's sub is
    add with ``-alpha``, checked first) as torch's kernel rounds it (NOTE [Fused multiply-adds]):
    fused in a floating dtype, ``alpha`` first rounded to a half type. torch's scalar loop
    (tensors of a few elements and the last few of longer ones) rounds otherwise for a
    number operand, and for half types; ember follows the vectorised loop."""
    # a number takes the tensor's dtype (NumPy's result_type of a number and a bfloat16
    # array depends on their order)
    arrays = [x for x in (self, other) if isinstance(x, ndarray)]
    dtype = arrays[0].dtype if len(arrays) == 1 else xp.result_type(self, other)
    kind = dtype.kind
    _check_alpha(kind, alpha)
    if dtype.itemsize == 2 and kind in "fV":  # NOTE [Half fill values]
        fill_value(alpha, dtype)
    if negated:
        alpha = -alpha
    if kind in "biu":
        # alpha converts to the dtype as a number filling it would (True for any nonzero
        # alpha of bools, -1 wraps into uint8, 300 overflows int8), a number operand wraps
        alpha = fill_value(alpha, dtype)
        self, other = _promote.wrap_ints([self, other], dtype)
        if kind == "b":
            return xp.logical_or(self, xp.logical_and(other, alpha))
    if xp is not np or not _float_dtype(dtype):
        return xp.add(self, xp.multiply(other, alpha))
    if dtype == np.float64:
        wide = np.float64
    else:
        wide = np.float32
        if dtype != np.float32:  # float16/bfloat16: torch rounds alpha (and a number) to the
            # tensors' type first
            alpha = np.asarray(alpha, dtype).astype(np.float32)
            self, other = np.asarray(self, dtype), np.asarray(other, dtype)
    return fma(np.asarray(other, wide), wide(alpha), np.asarray(self, wide), dtype)


ADD = defop(
    "add", node="AddBackward0", nin=2,
    forward=lambda xp, self, other, alpha: (
        xp.add(self, other) if alpha == 1 else _fused_add(xp, self, other, alpha)),
    backward=(lambda grad, self, other, alpha: grad,
              lambda grad, self, other, alpha: _scaled(grad, alpha)))

def _is_bool(x) -> bool:
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b")


def _no_bool_sub(self, other, alpha=1) -> None:
    # torch wraps a Python bool as a bool tensor: ``x - True`` is refused as ``x - mask`` is
    self_bool, other_bool = _is_bool(self), _is_bool(other)
    if self_bool and other_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead.")
    if self_bool or other_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _relu_check(self) -> None:
    kind = self._data.dtype.kind
    if kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if kind == "u" and self._data.dtype.itemsize > 1:  # relu is torch's clamp_min(0)
        raise _unsupported("clamp_min_scalar_cpu", self._data.dtype)
    if kind == "c":  # relu is torch's clamp_min(0)
        raise NotImplementedError(_CLAMP_COMPLEX)


_CLAMP_COMPLEX = "clamp is not supported for complex types"


def _complex_extremum(kernel: str, input: Tensor, bound: Tensor) -> None:
    # clamp_min/clamp_max with a tensor bound run torch's maximum/minimum kernel
    for t in (input, bound):
        if t._data.dtype.kind == "c":
            raise _unsupported(kernel, t._data.dtype)


def _refuse_bool(message: str, error: type = RuntimeError, wide: str | None = None):
    """A check refusing a bool input with ``message``, and, given the kernel's name
    ``wide``, uint16/32/64 inputs (NOTE [Wide unsigned dtypes])."""
    def check(self, *params) -> None:
        dt = self._data.dtype
        if dt.kind in "bu":
            if dt.kind == "b":
                raise error(message)
            if wide is not None and dt.itemsize > 1:
                raise _unsupported(wide, dt)
    return check


SUB = defop(
    "sub", node="SubBackward0", nin=2, check=_no_bool_sub,
    forward=lambda xp, self, other, alpha: (
        xp.subtract(self, other) if alpha == 1 else _fused_add(xp, self, other, alpha, True)),
    backward=(lambda grad, self, other, alpha: grad,
              lambda grad, self, other, alpha: _scaled(-grad, alpha)))

# ``number - tensor``: torch's rsub with a Scalar ``other`` (``self`` is the tensor).
RSUB = defop(
    "rsub", node="RsubBackward1", nin=2, check=_no_bool_sub,
    forward=lambda xp, self, other, alpha: (
        xp.subtract(other, self) if alpha == 1 else _fused_add(xp, other, self, alpha, True)),
    backward=(lambda grad, self, other, alpha: _scaled(-grad, alpha),
              lambda grad, self, other, alpha: grad))
# ``torch.rsub(tensor, tensor)``: the same formulas, torch's other node name.
RSUB_TENSOR = defop(
    "rsub", node="RsubBackward0", nin=2, check=_no_bool_sub, forward=RSUB.forward,
    backward=RSUB.backward)

MUL = defop(
    "mul", node="MulBackward0", nin=2, save={0: (1,), 1: (0,)},
    forward=lambda xp, self, other: xp.multiply(self, other),
    backward=(lambda grad, self, other: grad * other,
              lambda grad, self, other: grad * self))

DIV = defop(
    "div", node="DivBackward0", nin=2, kind=FLOAT, save={0: (1,), 1: (0, 1)},
    forward=lambda xp, self, other: xp.true_divide(self, other),
    backward=(lambda grad, self, other: grad / other,
              lambda grad, self, other: -grad * ((self / other) / other)))


def _floor_divide_half(xp, self, other, dt):
    """Python's floor division of float16/bfloat16 operands rounded to ``dt`` after each step,
    as torch's half kernel computes it (NumPy's float16 loop computes it in float32 and rounds
    once, which differs in about one quotient in 200)."""
    a = xp.asarray(self, dt)
    b = xp.asarray(other, dt)
    one = xp.asarray(1, dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        mod = xp.fmod(a, b)
        quotient = (a - mod) / b
        quotient = xp.where((mod != 0) & ((b < 0) != (mod < 0)), quotient - one, quotient)
        floor = xp.floor(quotient)
        floor = xp.where(quotient - floor > xp.asarray(0.5, dt), floor + one, floor)
        exact = a / b
        floor = xp.where(quotient == 0, xp.copysign(xp.zeros_like(exact), exact), floor)
        return xp.where(b == 0, exact, floor).astype(dt, copy=False)


def _div_rounded(xp, self, other, mode):
    dt = xp.result_type(self, other)
    kind = dt.kind
    if kind in "biuc":  # bool, complex and uint16/32/64 refused; a zero divisor of an
        if kind in "bc" or _wide(dt):  # integer is torch's error
            raise _unsupported(f"div_{mode}_cpu", dt)
        if (xp.count_nonzero(other) != other.size if isinstance(other, ndarray)
                else other == 0):
            raise RuntimeError("ZeroDivisionError")
    if mode == "floor":
        if dt.itemsize == 2 and kind in "fV":
            return _floor_divide_half(xp, self, other, dt)
        return xp.floor_divide(self, other)  # Python's floor division, as torch's
    if kind == "f" or _is_bfloat16(dt):
        # a half quotient is rounded before it is truncated, as torch's half kernel does
        return xp.trunc(xp.true_divide(self, other))
    quotient = xp.floor_divide(self, other)
    inexact = (xp.remainder(self, other) != 0) & ((xp.less(self, 0)) != (xp.less(other, 0)))
    return quotient + inexact


# The rounded quotient is piecewise constant: its gradient is zero almost everywhere.
DIV_ROUNDED = defop(
    "div", node="DivBackward2", nin=2,
    forward=_div_rounded,
    backward=(lambda grad, self, other, rounding_mode: grad * 0,
              lambda grad, self, other, rounding_mode: grad * 0))

FLOOR_DIVIDE = defop(
    "floor_divide", node="NotImplemented", nin=2,
    forward=lambda xp, self, other: _div_rounded(xp, self, other, "floor"),
    backward=(not_implemented("floor_divide"), not_implemented("floor_divide")))


REMAINDER_SCALAR = defop(
    "remainder", node="RemainderBackward0", nin=2,
    forward=_modulus(np.remainder, "remainder_cpu"),
    backward=(lambda grad, self, other: grad, None))

REMAINDER = defop(
    "remainder", node="RemainderBackward1", nin=2, save={1: (0, 1)},
    forward=_modulus(np.remainder, "remainder_cpu"),
    backward=(lambda grad, self, other: grad,
              lambda grad, self, other: -grad * div(self, other, rounding_mode="floor")))

RREMAINDER = defop(
    "remainder", node="NotImplemented", nin=2,
    forward=_reversed_modulus(np.remainder, "remainder_cpu"),
    backward=(not_implemented("remainder"), None))


def _pow_backward(grad, self, exponent):
    if exponent == 0:
        return grad * 0
    return grad * (exponent * self.pow(exponent - 1))


POW_SCALAR = defop(
    "pow", node="PowBackward0", nin=1, promote=(0, 1), save=(0,),
    forward=_power_scalar,
    backward=_pow_backward)

def _real_nonnegative(exponent: Tensor) -> Tensor:
    # where 0 ** exponent has a zero derivative: a complex exponent's real part decides (an
    # order comparison of complex numbers is refused, as in torch)
    return (exponent.real if exponent.is_complex() else exponent) >= 0


POW = defop(
    "pow", node="PowBackward1", nin=2, save=(0, 1, "result"),
    forward=_power_tensors,
    backward=(
        lambda grad, self, exponent, result: where(
            exponent == 0, 0.0, grad * (exponent * self.pow(exponent - 1))),
        lambda grad, self, exponent, result: grad * where(
            (self == 0) & _real_nonnegative(exponent), 0.0, result * self.log())))


def _rpow_backward(grad, exponent, self, result):
    # ``self`` is the number raised (torch's name: ``_saved_self``)
    if self == 0:  # d/dx 0**x: 0 where x >= 0 (torch's convention), else -inf-scaled
        return grad * where(_real_nonnegative(exponent), 0.0, result * -math.inf)
    return grad * (result * (math.log(self) if self > 0 else math.nan))


# ``number ** tensor`` (torch's pow.Scalar): the number is a parameter, not an edge.
def _rpow(xp, exponent, base):
    if exponent.dtype.kind == "b":  # a bool number to bool powers: torch has no such kernel
        raise _unsupported("pow", exponent.dtype)
    if exponent.dtype.kind == "f" and (exponent.ndim == 0 or 0 in exponent.strides):
        return _power_of_repeated_exponent(xp, base, exponent)
    return _power(xp, base, exponent)


RPOW = defop(
    "pow", node="PowBackward2", nin=1, promote=(0, 1), save=(0, "result"),
    forward=_rpow,
    backward=_rpow_backward)

RECIPROCAL = defop(
    "reciprocal", node="ReciprocalBackward0", kind=FLOAT, save=("result",),
    forward=lambda xp, x: xp.reciprocal(x),
    backward=lambda grad, self, result: -grad * (result * result))

NEG = defop("neg", node="NegBackward0", forward=lambda xp, self: xp.negative(self),
            backward=lambda grad, self: -grad,
            check=_refuse_bool(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead.",
                wide="neg_cpu"))

# ---- comparisons and logic (no gradient) ---------------------------------------------

def _ordering(ufunc, kernel: str):
    """An order comparison, refusing complex operands (their promoted dtype) as torch's
    kernel does: NumPy would order them lexicographically."""
    def forward(xp, a, b):
        dt = (a if type(a) is ndarray else b).dtype
        if dt.kind == "c":
            raise _unsupported(kernel, dt)
        return ufunc(a, b)
    return forward


EQ = defop("eq", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.equal(a, b))
NE = defop("ne", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.not_equal(a, b))
LT = defop("lt", nin=2, kind=COMPARE, forward=_ordering(np.less, "lt_cpu"))
LE = defop("le", nin=2, kind=COMPARE, forward=_ordering(np.less_equal, "le_cpu"))
GT = defop("gt", nin=2, kind=COMPARE, forward=_ordering(np.greater, "gt_cpu"))
GE = defop("ge", nin=2, kind=COMPARE, forward=_ordering(np.greater_equal, "ge_cpu"))
BITWISE_AND = defop("bitwise_and", nin=2, forward=_bitwise(np.bitwise_and, "bitwise_and_cpu"))
BITWISE_OR = defop("bitwise_or", nin=2, forward=_bitwise(np.bitwise_or, "bitwise_or_cpu"))
BITWISE_XOR = defop("bitwise_xor", nin=2, forward=_bitwise(np.bitwise_xor, "bitwise_xor_cpu"))
BITWISE_NOT = defop("bitwise_not", kind=KEEP, check=_refuse("bitwise_not_cpu", "fcV"),
                    forward=lambda xp, a: xp.logical_not(a) if a.dtype == bool else xp.invert(a))

# ---- unary math ----------------------------------------------------------------------

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _unary(name, node, fn, backward, save, kind=FLOAT, check=None):
    return defop(name, node=node, forward=fn, backward=backward, save=save, kind=kind,
                 check=check)


# NOTE [Half math on every CPU]: torch computes float16/bfloat16 math in float32 (its
# vectorised kernels, accurate to about an ulp) and rounds once to the half type. NumPy's own
# float16 and float32 kernels for the transcendental functions are chosen at run time (AVX-512,
# AVX2 or baseline) and round a few of the 2**16 half values differently from one CPU to
# another. Computed in float64 and rounded through float32, the result depends on the CPU only
# where a float64 ulp decides a float32 rounding, which no half input hits: the tests check all
# 2**16 values of both half types against torch under each dispatch target. Where torch's
# float32 kernel itself misrounds (sin, sinh, cosh, asin, asinh: 2 to 4 of the 2**16 values),
# ember gives the correctly rounded value, one half ulp from torch's.


def _half_via(fn, wide=np.float32):
    """A forward that, for float16/bfloat16 input, computes in ``wide`` and rounds through
    float32 to the input's dtype, as torch's CPU kernels compute in float32 and round once (two
    half-precision roundings would differ from torch's). ``wide=np.float64`` makes the result
    independent of NumPy's SIMD kernels (NOTE [Half math on every CPU])."""
    def forward(xp, x, *params):
        if x.dtype.itemsize == 2:  # float16 or bfloat16 (integers were cast to float)
            return fn(xp, x.astype(wide), *params).astype(np.float32).astype(x.dtype)
        return fn(xp, x, *params)
    # NOTE [Specialised forwards]
    forward.specialize = lambda xp, x, *params: forward if x.dtype.itemsize == 2 else fn
    return forward


def _half_in_float64(fn):
    return _half_via(fn, np.float64)


# NOTE [Backward kernels]: torch computes the gradients of many elementwise ops in a kernel of
# their own (``tanh_backward``, ``sigmoid_backward``, ``silu_backward``, ``elu_backward``, ...),
# not as a sequence of ops; ember gives each such kernel one op record whose node carries the
# second derivatives under torch's name (``TanhBackwardBackward0``). What the kernels compute,
# learnt by running torch 2.13 on many inputs and comparing bits:
# - float16 and bfloat16 are computed in float32 and rounded once (sigmoid_backward's float16,
#   which rounds after each step, and glu_backward, which rounds the sigmoid, excepted);
# - the compiled float32 arithmetic contracts a product and a sum into one fused multiply-add
#   (silu_backward's ``x * (1 - s) + 1``, tanh_backward's ``1 - y * y``): ``fma32`` computes
#   it through float64, where the product of two float32 values is exact;
# - their exp, log1p and tanh are SLEEF's vectorised functions, within an ulp of the correctly
#   rounded float32 value and nearly always equal to it: ``float32_of`` takes the correctly
#   rounded value (computed in float64, so the same on every CPU, NOTE [Half math on every
#   CPU]), but for tanh, which is exactly +-1 from 8.66 on (nn_activation's ``_tanh32``). The
#   few float32 values where SLEEF's differ change a half-precision gradient in about one
#   element in 10^5 (where a sum cancels); the elements a vectorised loop leaves to its scalar
#   tail (the last ``n % 32`` of a contiguous half tensor, on AVX2) use the C library's
#   functions instead, which ember does not single out either.
# float32 and float64 inputs take the same formulas in torch's order with NumPy's own
# functions, unfused: the float32 paths are hot, and NumPy's float64 exp costs four times its
# float32 one (on AVX2), an emulated fused multiply-add ten times a product. Their gradients
# are torch's bits where no function value or fused step decides them (hardswish,
# hardsigmoid, elu's result form, sigmoid), within an ulp or so elsewhere, as before.


def fma32(a, b, c):
    """``a * b + c`` of float32 operands rounded once to float32, as a fused multiply-add (NOTE
    [Backward kernels]): the float64 product is exact, and the float64 sum's own rounding
    changes the float32 result only on an exact float32 tie, which no float32 operands of
    these kernels' magnitudes reach."""
    r = np.multiply(a, b, dtype=np.float64)
    r += c
    return r.astype(np.float32)


EXP = _unary("exp", "ExpBackward0", _half_in_float64(lambda xp, x: xp.exp(x)),
             lambda grad, self, result: grad * result, ("result",))
LOG = _unary("log", "LogBackward0", _half_in_float64(lambda xp, x: xp.log(x)),
             lambda grad, self: grad / self, (0,))
LOG2 = _unary("log2", "Log2Backward0", _half_in_float64(lambda xp, x: xp.log2(x)),
              lambda grad, self: grad / (self * _LN2), (0,))
LOG10 = _unary("log10", "Log10Backward0", _half_in_float64(lambda xp, x: xp.log10(x)),
               lambda grad, self: grad / (self * _LN10), (0,))
LOG1P = _unary("log1p", "Log1PBackward0", _half_in_float64(lambda xp, x: xp.log1p(x)),
               lambda grad, self: grad / (self + 1), (0,))
EXPM1 = _unary("expm1", "Expm1Backward0", _half_in_float64(lambda xp, x: xp.expm1(x)),
               lambda grad, self, result: grad * (result + 1), ("result",))
SQRT = _unary("sqrt", "SqrtBackward0", lambda xp, x: xp.sqrt(x),
              lambda grad, self, result: grad / (2 * result), ("result",))
RSQRT = _unary("rsqrt", "RsqrtBackward0",
               _half_via(lambda xp, x: xp.reciprocal(xp.sqrt(x))),
               lambda grad, self, result: -0.5 * grad * result.pow(3), ("result",))
SIN = _unary("sin", "SinBackward0", _half_in_float64(lambda xp, x: xp.sin(x)),
             lambda grad, self: grad * self.cos(), (0,))
COS = _unary("cos", "CosBackward0", _half_in_float64(lambda xp, x: xp.cos(x)),
             lambda grad, self: grad * -self.sin(), (0,))
TAN = _unary("tan", "TanBackward0", _half_in_float64(lambda xp, x: xp.tan(x)),
             lambda grad, self, result: grad * (1 + result.pow(2)), ("result",))
ASIN = _unary("asin", "AsinBackward0", _half_in_float64(lambda xp, x: xp.arcsin(x)),
              lambda grad, self: grad * (-self * self + 1).rsqrt(), (0,))
ACOS = _unary("acos", "AcosBackward0", _half_in_float64(lambda xp, x: xp.arccos(x)),
              lambda grad, self: grad * -((-self * self + 1).rsqrt()), (0,))
ATAN = _unary("atan", "AtanBackward0", _half_in_float64(lambda xp, x: xp.arctan(x)),
              lambda grad, self: grad / (self * self + 1), (0,))
SINH = _unary("sinh", "SinhBackward0", _half_in_float64(lambda xp, x: xp.sinh(x)),
              lambda grad, self: grad * self.cosh(), (0,))
COSH = _unary("cosh", "CoshBackward0", _half_in_float64(lambda xp, x: xp.cosh(x)),
              lambda grad, self: grad * self.sinh(), (0,))


def _tanh_backward(xp, grad_output, output):
    # torch's tanh_backward kernel: g * (1 - y * y) (NOTE [Backward kernels]), for a half y in
    # float32, where y * y is exact (so torch's fused 1 - y * y is this one)
    dt = output.dtype
    if dt.itemsize == 2:
        y = output.astype(np.float32)
        y *= y
        np.subtract(1, y, out=y)
        y *= grad_output
        return y.astype(dt)
    one = _scalar_arrays.get((1, int, dt))  # NOTE [Scalar operands as arrays]
    if one is None:
        one = _scalar_array(1, int, dt)
    return grad_output * (one - output * output)


# torch's TanhBackward0 runs one kernel, ``tanh_backward(grad, result)``, whose own node
# (TanhBackwardBackward0) carries the second derivatives (NOTE [Backward kernels]); a complex
# gradient keeps the composed formula, as sigmoid's does.
TANH_BACKWARD = defop(
    "tanh_backward", node="TanhBackwardBackward0", nin=2,
    save={0: (1,), 1: (0, 1)}, forward=_tanh_backward,
    backward=(lambda grad, grad_output, output: run(TANH_BACKWARD, grad, output),
              lambda grad, grad_output, output: -2 * output * grad * grad_output))


def _tanh_grad(grad, self, result):
    if result._data.dtype.kind == "c":
        return grad * (1 - result * result)
    return run(TANH_BACKWARD, grad, result)


TANH = _unary("tanh", "TanhBackward0", _half_in_float64(lambda xp, x: xp.tanh(x)), _tanh_grad,
              ("result",))


def _sigmoid(xp, x):
    # 1 / (1 + e^-x), as torch computes it; e^-x overflowing to inf gives exactly 0.
    # the 1 as registry's cached 0-d array of x's dtype (NOTE [Scalar operands as arrays])
    one = _scalar_arrays.get((1, int, x.dtype))
    if one is None:
        one = _scalar_array(1, int, x.dtype)
    return xp.reciprocal(xp.add(xp.exp(xp.negative(x)), one))


def _sigmoid_backward(xp, grad_output, output):
    # torch's sigmoid_backward kernel, one pass: (g * (1 - y)) * y in that order; bfloat16
    # in float32, rounded once; float16 rounding after each step, as torch's Half arithmetic
    if _is_bfloat16(output.dtype):
        y = output.astype(np.float32)
        return ((grad_output.astype(np.float32) * (1 - y)) * y).astype(output.dtype)
    return (grad_output * (1 - output)) * output


# torch's SigmoidBackward0 runs one kernel, ``sigmoid_backward(grad, result)``, whose own
# node (SigmoidBackwardBackward0) carries the second derivatives. Real dtypes: a complex
# gradient keeps the composed formula (the node conjugates around it, NOTE [Complex
# gradients]), which gives torch's grad * conj((1 - y) * y).
SIGMOID_BACKWARD = defop(
    "sigmoid_backward", node="SigmoidBackwardBackward0", nin=2,
    save={0: (1,), 1: (0, 1)}, forward=_sigmoid_backward,
    backward=(lambda grad, grad_output, output: run(SIGMOID_BACKWARD, grad, output),
              lambda grad, grad_output, output: grad * grad_output * (-2 * output + 1)))


def _sigmoid_grad(grad, self, result):
    if result._data.dtype.kind == "c":
        return grad * ((1 - result) * result)
    return run(SIGMOID_BACKWARD, grad, result)


def _sigmoid_of_half(xp, x):
    """torch's float32 sigmoid of a half tensor's values (a float32 array), 1 / (1 + e^-x) with
    e^-x correctly rounded to float32 (NOTE [Backward kernels]; NumPy's float32 exp is not, and
    depends on the CPU: two float16 sigmoids near a tie rounded otherwise with it)."""
    with np.errstate(over="ignore"):
        e = float32_of(np.exp, -x)
    e += 1
    return 1 / e


def _sigmoid_forward(xp, x):
    if x.dtype.itemsize == 2:  # float16 or bfloat16 (integers were cast to float)
        return _sigmoid_of_half(xp, x.astype(np.float32)).astype(x.dtype)
    return _sigmoid(xp, x)


# NOTE [Specialised forwards]
_sigmoid_forward.specialize = lambda xp, x: _sigmoid_forward if x.dtype.itemsize == 2 \
    else _sigmoid


SIGMOID = _unary("sigmoid", "SigmoidBackward0", _sigmoid_forward, _sigmoid_grad, ("result",))
ABS = _unary("abs", "AbsBackward0", lambda xp, x: xp.absolute(x),
             lambda grad, self: grad * self.sgn(), (0,), kind=KEEP,
             check=_refuse_bool('"abs_cpu" not implemented for \'Bool\'', NotImplementedError,
                                wide="abs_cpu"))


def _sign(xp, x):
    if x.dtype.kind == "b":
        return x.copy()
    if _wide(x.dtype):
        raise _unsupported("sign_cpu", x.dtype)
    if x.dtype.kind == "c":
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                                  "numbers. Please use torch.sgn instead.")
    # torch's sign(nan) is 0
    return xp.where(x != x, 0, xp.sign(x)).astype(x.dtype, copy=False)


SIGN = _unary("sign", "SignBackward0", _sign, zero_gradient, (), kind=KEEP)
def _threshold_backward(xp, grad_output, self, threshold):
    # laid out like ``self`` (channels_last stays so), as torch's kernel lays it out; a half
    # input meets the threshold in float32, as torch's kernel compares (ReLU's 0 is exact)
    x = self.astype(np.float32) if reduced_float(self.dtype) and threshold != 0 else self
    return _mf.relayout(self, select(x <= threshold, grad_output.dtype.type(0), grad_output),
                        None)


# torch's ReluBackward0 runs one kernel, ``threshold_backward(grad, result, 0)``, whose own
# node (ThresholdBackwardBackward0) carries the second derivative.
THRESHOLD_BACKWARD = defop(
    "threshold_backward", node="ThresholdBackwardBackward0", nin=2, save={0: (1,)},
    forward=_threshold_backward,
    backward=(lambda grad, grad_output, self, threshold: run(
                  THRESHOLD_BACKWARD, grad, self, threshold), zero_gradient))
def _relu(xp, x):
    if registry._modes:
        from ember.autograd.profiler import op_range

        # torch's relu runs clamp_min(x, 0), which its profile lists inside aten::relu;
        # NOTE [Bounds first]
        with op_range("aten::clamp_min", (x.shape, ())):
            return bound_first(xp.maximum, 0, x)
    return bound_first(xp.maximum, 0, x)


RELU = _unary("relu", "ReluBackward0", _relu,
              lambda grad, self, result: run(THRESHOLD_BACKWARD, grad, result, 0), ("result",),
              kind=KEEP, check=_relu_check)

# ---- clamp, maximum, minimum, where --------------------------------------------------


def _in_bounds(self, lo, hi):
    if lo is None:
        return self <= hi
    if hi is None:
        return self >= lo
    return (self >= lo) & (self <= hi)


# NOTE [Zero bounds as arrays]: NumPy's float32 ``maximum`` and ``minimum`` against a number
# (a stride-0 operand) take a loop three times as slow as against an array: a ReLU over 64K
# elements took 33 us, against a C-ordered array of zeros 11 us, 16-19 with the zeros made
# for the call. A float32 input bounded by a zero takes the array: the same values (each
# element is still ``ufunc(0, x)``, NOTE [Bounds first]), in a fresh array laid out as
# ``x`` (the operand order keeps x where the two are equal; the bound's sign is +0.0 only).
_ZERO_BOUND_MIN = 4096  # below this the number is as fast


def bound_first(ufunc, bound, x):
    """``ufunc(bound, x)``, ``ufunc`` NumPy's ``maximum`` or ``minimum`` and ``bound`` a
    number (NOTE [Bounds first], NOTE [Zero bounds as arrays])."""
    if x.dtype == np.float32 and x.size >= _ZERO_BOUND_MIN and type(bound) in (int, float) \
            and bound == 0 and math.copysign(1.0, bound) > 0:
        out = np.zeros_like(x)
        return ufunc(out, x, out=out)
    return ufunc(bound, x)


def _clamp_scalar(xp, self, lo, hi):
    # NOTE [Bounds first]: NumPy's maximum and minimum give their second operand where the
    # two are equal, so with the bound first ``x`` comes out for x == bound, as torch's
    # clamp of a number gives it (-0.0 stays -0.0 under relu and clamp_min(x, 0)); NaNs
    # propagate either way
    if lo is not None and hi is not None:
        return xp.minimum(hi, xp.maximum(lo, self))
    if lo is not None:
        return bound_first(xp.maximum, lo, self)
    return bound_first(xp.minimum, hi, self)


def _clamp(xp, self, lo, hi):
    if lo is not None and hi is not None:
        out = xp.minimum(xp.maximum(self, lo), hi)
        if out.dtype.kind == "b":  # after the shapes are checked: torch's kernel has no
            raise _unsupported("clamp_cpu", out.dtype)  # bool loop
        return out
    if lo is not None:
        return xp.maximum(self, lo)
    return xp.minimum(self, hi)


CLAMP_SCALAR = defop(
    "clamp", node="ClampBackward1", nin=1, promote=(0, 1, 2), save=(0,),
    forward=_clamp_scalar,  # the formula's names are torch's ``_saved_min``/``_saved_max``
    backward=lambda grad, self, min, max: where(_in_bounds(self, min, max), grad, 0.0))

CLAMP = defop(
    "clamp", node="ClampBackward0", nin=3, save=(0, 1, 2),
    forward=_clamp,  # the formulas' names are torch's ``_saved_min``/``_saved_max``
    backward=(lambda grad, self, min, max: where(_in_bounds(self, min, max), grad, 0.0),
              lambda grad, self, min, max: where(self < min, grad, 0.0),
              lambda grad, self, min, max: where(self > max, grad, 0.0)))


def _ties_split(grad, self, other, keep):
    # torch gives each side half the gradient where the two inputs are equal.
    return where(self == other, grad / 2, where(keep, grad, 0.0))


MAXIMUM = defop(
    "maximum", node="MaximumBackward0", nin=2, save=(0, 1),
    forward=_complex_refused("maximum"),
    backward=(lambda grad, self, other: _ties_split(grad, self, other, self > other),
              lambda grad, self, other: _ties_split(grad, self, other, self < other)))

MINIMUM = defop(
    "minimum", node="MinimumBackward0", nin=2, save=(0, 1),
    forward=_complex_refused("minimum"),
    backward=(lambda grad, self, other: _ties_split(grad, self, other, self < other),
              lambda grad, self, other: _ties_split(grad, self, other, self > other)))

# NOTE [Bitwise select]: NumPy's ``where`` runs a branch per element, ~4 ns an element when
# the condition is unpredictable (a ReLU's mask), ten times an arithmetic pass. For operands
# of one 2-, 4- or 8-byte dtype ``select`` takes the bits instead: b ^ ((a ^ b) & mask),
# the mask all ones where the condition holds; a few SIMD passes, exact for every value
# (NaN payloads and signed zeros included), so the result is ``where``'s bit for bit.
_SELECT_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_SELECT_MIN = 1024  # below this many elements ``where``'s one call is the cheaper


def select(condition, a, b):
    """``np.where(condition, a, b)`` (NOTE [Bitwise select]); ``a`` and ``b`` arrays or
    numbers, of NumPy's result dtype for them."""
    if np.size(condition) < _SELECT_MIN:  # decided before the dtype: small wheres are hot
        return np.where(condition, a, b)
    dtype = np.result_type(a, b)
    bits = _SELECT_BITS.get(dtype.itemsize)
    if bits is None or dtype.kind not in "iufc":
        return np.where(condition, a, b)
    a_bits = np.asarray(a, dtype).view(bits)
    b_bits = np.asarray(b, dtype).view(bits)
    mask = np.asarray(condition).astype(bits)
    # the result goes into the mask's array where it has the result's shape: one large
    # temporary fewer, and large temporaries cost page faults as well as their pass
    if a_bits.ndim == 0 and not a_bits:  # where(c, 0, b), a ReLU's backward: b & ~mask
        mask -= 1  # 1 -> 0, 0 -> all ones (unsigned arithmetic wraps)
        into = mask if mask.shape == b_bits.shape else None
        return np.bitwise_and(b_bits, mask, out=into).view(dtype)
    np.negative(mask, out=mask)  # 1 -> all ones
    if b_bits.ndim == 0 and not b_bits:  # where(c, a, 0): a & mask
        into = mask if mask.shape == a_bits.shape else None
        return np.bitwise_and(a_bits, mask, out=into).view(dtype)
    out = np.bitwise_and(np.bitwise_xor(a_bits, b_bits), mask)
    out ^= b_bits
    return out.view(dtype)


WHERE = defop(
    "where", node="WhereBackward0", nin=3, promote=(1, 2), save=(0,),
    forward=lambda xp, condition, self, other: select(condition, self, other),
    backward=(None,
              lambda grad, condition, self, other: where(condition, grad, 0.0),
              lambda grad, condition, self, other: where(condition, 0.0, grad)))


# ---- special-function kernels --------------------------------------------------------
#
# NOTE [Special-function kernels]: NumPy has no erf, erfinv, lgamma or digamma, and ember
# takes no SciPy, so they are computed here in float64 (results are rounded to the input's
# dtype), vectorised, from textbook expansions:
#   erf   |x| < 1.5: x P(x^2), P the polynomial fitted to erf(x)/x by Chebyshev
#         interpolation (tools/fit_erf.py; relative error 4e-16); beyond, 1 - erfc(x).
#   erfc  |x| >= 1.5: Laplace's continued fraction, evaluated bottom-up to a fixed depth;
#         below, 1 - erf(x) (erfc >= 0.03 there, so no digits are lost).
#   erfinv  Winitzki's closed-form estimate, then three Halley steps on erf(x) = y (on
#         erfc(x) = 1 - y when |y| > 1/2, where 1 - y is exact).
#   lgamma  x in [1/2, 13): the Taylor series of lgamma(2 + z), |z| <= 1/2, whose
#         coefficients are (zeta(k) - 1)/k, then the recurrence upward (a product, so no
#         cancellation); x >= 13: Stirling's series; x < 1/2: the reflection formula.
#   digamma  the recurrence up to x >= 10, then its asymptotic series; x < 0: reflection.
#   polygamma(n)  (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta summed directly until
#         x + k >= 21 + n and the rest by Euler-Maclaurin; trigamma reflects x < 1/2.
# Each is within a few float64 roundings of the true value except near the zeros of
# lgamma and digamma on the negative axis (and digamma's positive zero), where the
# reflection's difference cancels, as it does in torch's own kernels.

_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_EULER_GAMMA = 0.57721566490153286061
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
_ERF_SPLIT = 1.5
# P, highest degree first (tools/fit_erf.py), and the depth of erfc's continued fraction
# that brings its relative error at the split (its worst point) below 2^-55.
_ERF_POLY = (5.7576765073143e-16, -2.0228771051208672e-14, 4.1007877897879646e-13,
             -6.590309159346088e-12, 9.393394515555037e-11, -1.2285272929100173e-09,
             1.480648066710169e-08, -1.6365772583546365e-07, 1.6462108911940447e-06,
             -1.4925650054313179e-05, 0.00012055332969568869, -0.0008548327023108964,
             0.0052239776254358735, -0.026866170645130544, 0.11283791670955122,
             -0.37612638903183754, 1.1283791670955126)
_ERFC_DEPTH = 98
# P of degree 7 for float32 arithmetic (tools/fit_erf.py): erf within 2.4e-7 relative, a few
# float32 ulps, as torch's own float32 kernels compute it (GELU's)
_ERF_POLY32 = tuple(np.float32(c) for c in (
    -5.724338279833319e-06, 9.252342715626583e-05, -0.000806111260317266,
    0.005175185389816761, -0.026839084923267365, 0.11283043771982193, -0.37612560391426086,
    1.1283791065216064))
_ERF_POLY32_SCALED = {np.float32(1): _ERF_POLY32}  # by scale (``_erfc32``), made on first use
_ERF_SPLIT_SQ32 = np.float32(_ERF_SPLIT * _ERF_SPLIT)
_ERF_BLOCK = 32768  # elements per block: the working arrays stay in L2 cache
# float32's erfc beyond the split: erfcx(z) = e^(z^2) erfc(z) = w Q(w), w = 2 / (2 + z), for
# 1.5 <= z <= 10.5, Q of degree 9 (highest first) fitted by Chebyshev interpolation of
# erfcx(z) / w in w (tools/fit_erf.py): relative error 1.7e-11 (2^-35.8), so float32
# roundings of it are erfc's correct ones but for ties this close. Past 10.5 erfc is under
# half float32's smallest subnormal.
_ERFCX_POLY = (-0.09418758507366508, 0.30223371514821884, -0.31522344918770273,
               0.07490575873494203, -0.04734362764525339, 0.093077532878829,
               0.17497216786556402, 0.24695340006329852, 0.28208868540684473,
               0.2820949218783271)
_ERFCX_TOP = 10.5


def _erf_poly(ax):
    """erf(|x|) from the polynomial, for every element of the flat array ``ax`` of |x| (the
    elements beyond the split get erf(1.5)'s neighbourhood and are replaced by the caller)."""
    coeffs = _ERF_POLY
    acc = np.empty_like(ax)
    for start in range(0, ax.size, _ERF_BLOCK):
        block = ax[start:start + _ERF_BLOCK]
        t = np.minimum(block * block, _ERF_SPLIT * _ERF_SPLIT)
        part = acc[start:start + _ERF_BLOCK]
        part.fill(coeffs[0])
        for c in coeffs[1:]:
            np.multiply(part, t, out=part)
            np.add(part, c, out=part)
        np.multiply(part, np.minimum(block, _ERF_SPLIT), out=part)
    return acc


def _erfc_fraction(x, depth):
    # erfc(x) = e^-x^2 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), x > 0
    tail = x.copy()
    for start in range(0, x.size, _ERF_BLOCK):
        block = x[start:start + _ERF_BLOCK]
        part = tail[start:start + _ERF_BLOCK]
        for k in range(depth, 0, -1):
            np.divide(k / 2.0, part, out=part)
            np.add(block, part, out=part)
    return np.exp(-x * x) / (_SQRT_PI * tail)


def _erf64(x):
    """erf of a float64 array."""
    ax = np.abs(x).ravel()
    r = _erf_poly(ax)
    large = ax >= _ERF_SPLIT
    if large.any():  # few elements, usually: the fraction runs on them only
        r[large] = 1.0 - _erfc_fraction(ax[large], _ERFC_DEPTH)
    return np.copysign(r.reshape(np.shape(x)), x)


def _erfc64(x):
    """erfc of a float64 array, accurate relative to erfc (no 1 - erf cancellation for large
    x)."""
    flat = np.ravel(x)
    ax = np.abs(flat)
    r = _erf_poly(ax)
    np.copysign(r, flat, out=r)
    np.subtract(1.0, r, out=r)  # 1 - erf(x): at least 0.03 below the split, no digits lost
    large = ax >= _ERF_SPLIT
    if large.any():
        tail = _erfc_fraction(ax[large], _ERFC_DEPTH)
        r[large] = np.where(flat[large] < 0, 2.0 - tail, tail)
    return r.reshape(np.shape(x))


def _horner(var, coeffs):
    """The polynomial ``coeffs`` (highest degree first) at ``var``, in place on one fresh
    array."""
    acc = np.multiply(var, coeffs[0])
    add, multiply = np.add, np.multiply  # the ufuncs called with ``out=``: the operators'
    for c in coeffs[1:-1]:               # bits, without their dispatch (a fixed cost a pass)
        add(acc, c, out=acc)
        multiply(acc, var, out=acc)
    add(acc, coeffs[-1], out=acc)
    return acc


def _erfc_tail32(z):
    """erfc of the float64 array ``z`` >= 1.5 (inf included) to float32's needs
    (``_ERFCX_POLY``): a fresh array."""
    w = np.minimum(z, _ERFCX_TOP)
    w += 2.0
    np.divide(2.0, w, out=w)
    q = _horner(w, _ERFCX_POLY)
    q *= w
    damping = np.multiply(z, z)  # exact: z has float32's 24 bits
    np.negative(damping, out=damping)
    np.exp(damping, out=damping)
    q *= damping
    return q


def _erfc32(x, scale: float = 1.0):
    """``scale`` times erfc of a float32 array in float32 arithmetic (``_ERF_POLY32``), for
    the kernels torch computes in float32; ``scale`` is a power of two (folded into the
    polynomial, exactly). Beyond the split erfc is computed in float64 on those elements only
    (``_erfc_tail32``), so that it keeps its relative accuracy in the tail."""
    shape = np.shape(x)
    x = np.ravel(x)  # 1-d: in-place ufuncs need arrays, and a 0-d one gives scalars
    # x P(x^2) is erf(x) with its sign; beyond the split P's values (inf or nan for huge x)
    # are replaced below
    scale = np.float32(scale)
    coeffs = _ERF_POLY32_SCALED.get(scale)
    if coeffs is None:
        coeffs = _ERF_POLY32_SCALED[scale] = tuple(c * scale for c in _ERF_POLY32)
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.multiply(x, x)
        r = _horner(t, coeffs)
        np.multiply(r, x, out=r)
    np.subtract(scale, r, out=r)
    # the largest t decides whether any element is beyond the split (a nan max: look)
    if t.size and not t.max() < _ERF_SPLIT_SQ32:
        large = np.flatnonzero(t >= _ERF_SPLIT_SQ32)
        if large.size:
            beyond = x[large].astype(np.float64)
            tail = _erfc_tail32(np.abs(beyond))
            r[large] = np.where(beyond < 0, 2.0 - tail, tail) * float(scale)
    return r.reshape(shape)


def _erfinv64(y):
    ay = np.abs(y)
    a = 0.147  # Winitzki's constant: the estimate's relative error is ~2e-3 everywhere
    log_term = np.log1p(-ay * ay)
    b = 2.0 / (math.pi * a) + 0.5 * log_term
    x = np.sqrt(np.sqrt(b * b - log_term / a) - b)
    finite = np.isfinite(x)
    x = np.where(finite, x, 0.0)
    upper = ay > 0.5
    complement = 1.0 - ay
    for _ in range(3):  # Halley's method triples the digits: 2e-3 -> 1e-8 -> exact
        residual = np.where(upper, complement - _erfc64(x), _erf64(x) - ay)
        u = residual / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
        x = x - u / (1.0 + x * u)
    x = np.where(finite, x, np.where(ay == 1.0, np.inf, np.nan))
    return np.copysign(x, y)


def _zeta_minus_one(s: int) -> float:
    """zeta(s) - 1 for an integer s >= 2: a direct sum to 49, then the Euler-Maclaurin tail."""
    n = 50
    terms = [k ** -s for k in range(2, n)]
    terms += [n ** (1 - s) / (s - 1), 0.5 * n ** -s]
    rising = s
    for j, b in enumerate(_BERNOULLI[:4], start=1):
        terms.append(b / math.factorial(2 * j) * rising * n ** (-s - 2 * j + 1))
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return math.fsum(terms)


# lgamma(2 + z) = (1 - gamma) z + sum_k>=2 (-1)^k (zeta(k) - 1) z^k / k; at |z| <= 1/2 the
# terms fall like 4^-k, so thirty reach float64 rounding.
_LGAMMA2_COEFFS = (1.0 - _EULER_GAMMA,) + tuple(
    (-1) ** k * _zeta_minus_one(k) / k for k in range(2, 31))
_STIRLING_FROM = 13
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _lgamma_positive(x):
    """lgamma for x >= 1/2 (entries below are computed but meaningless)."""
    n = np.floor(x + 0.5)
    z = x - n
    series = np.zeros_like(z)
    for c in reversed(_LGAMMA2_COEFFS):
        series = (series + c) * z
    series = np.where(n == 1, series - np.log1p(z), series)  # lgamma(1+z) = lgamma(2+z) - log(1+z)
    product = np.ones_like(x)
    for j in range(2, _STIRLING_FROM):
        product = np.where(n > j, product * (j + z), product)
    big = x >= _STIRLING_FROM
    xs = np.where(big, x, float(_STIRLING_FROM))
    inv = 1.0 / xs
    inv2 = inv * inv
    acc = np.zeros_like(xs)
    for j in range(len(_BERNOULLI), 0, -1):
        acc = acc * inv2 + _BERNOULLI[j - 1] / (2 * j * (2 * j - 1))
    stirling = (xs - 0.5) * np.log(xs) - xs + _HALF_LOG_2PI + acc * inv
    return np.where(big, stirling, series + np.log(product))


def _lgamma64(x):
    low = x < 0.5
    pos = _lgamma_positive(np.where(low, 1.0 - x, x))
    sin_pi_x = np.abs(np.sin(math.pi * (x - np.round(x))))  # exact reduction: period 1
    r = np.where(low, np.log(math.pi / sin_pi_x) - pos, pos)
    # Near 0, pi / sin(pi x) overflows before lgamma does; -log|x| - gamma x is exact there.
    tiny = np.abs(x) < 1e-9
    r = np.where(tiny, -np.log(np.abs(x)) - _EULER_GAMMA * x, r)
    return np.where(np.isinf(x), np.inf, r)


def _digamma64(x):
    neg = x < 0
    y = np.where(neg, 1.0 - x, x)
    acc = np.zeros_like(y)
    for _ in range(10):
        small = y < 10.0
        acc = np.where(small, acc + 1.0 / y, acc)
        y = np.where(small, y + 1.0, y)
    inv2 = 1.0 / (y * y)
    series = np.zeros_like(y)
    for j in range(len(_BERNOULLI), 0, -1):
        series = series * inv2 + _BERNOULLI[j - 1] / (2 * j)
    r = np.log(y) - 0.5 / y - series * inv2 - acc
    r = np.where(neg, r - math.pi / np.tan(math.pi * (x - np.round(x))), r)
    r = np.where(neg & (x == np.round(x)), np.nan, r)  # torch: nan at negative integers
    r = np.where(x == 0, np.copysign(np.inf, -x), r)  # and -inf at +0, +inf at -0
    return np.where(x == np.inf, np.inf, r)


def _hurwitz_zeta(s: int, x):
    """zeta(s, x) = sum_k>=0 (x + k)^-s for an integer s >= 2."""
    start = 20.0 + s
    finite = x[np.isfinite(x)]
    steps = int(max(0.0, math.ceil(start - finite.min()))) if finite.size else 0
    acc = np.zeros_like(x)
    y = x
    for _ in range(steps):
        small = y < start
        acc = np.where(small, acc + y ** -s, acc)
        y = np.where(small, y + 1.0, y)
    tail = y ** (1 - s) / (s - 1) + 0.5 * y ** -s
    rising = float(s)
    for j, b in enumerate(_BERNOULLI, start=1):
        tail = tail + b / math.factorial(2 * j) * rising * y ** (-s - 2 * j + 1)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return acc + tail


def _polygamma64(n: int, x):
    if n == 0:
        return _digamma64(x)
    if n == 1:  # reflected, so that large negative x does not need a long recurrence
        neg = x < 0.5
        pos = _hurwitz_zeta(2, np.where(neg, 1.0 - x, x))
        reflected = (math.pi / np.sin(math.pi * (x - np.round(x)))) ** 2 - pos
        return np.where(neg, reflected, pos)
    return (-1) ** (n + 1) * math.factorial(n) * _hurwitz_zeta(n + 1, x)


def _in_float64(kernel):
    """A forward computing ``kernel`` in float64 and rounding to the input's dtype."""
    def forward(xp, x, *params):
        r = kernel(*params, x.astype(np.float64, copy=False))
        if x.dtype.itemsize == 2:  # torch's half kernels round through float32
            r = r.astype(np.float32)
        return r.astype(x.dtype, copy=False)
    return forward


# ---- rounding and sign --------------------------------------------------------------


def _rounding(name: str, node: str, fn, kernel: str):
    """floor, ceil, trunc, round: integers are returned unchanged, bool is refused, and so
    are complex numbers (round by its kernel, the others by a message of their own)."""
    refuse_bool = _refuse(kernel, "b")

    def check(self, *params) -> None:
        if self._data.dtype.kind == "c":
            if name == "round":
                raise _unsupported(kernel, self._data.dtype)
            raise NotImplementedError(f"{name} is not supported for complex inputs")
        refuse_bool(self)
    return defop(name, node=node, kind=KEEP, check=check, backward=zero_gradient,
                 forward=lambda xp, x: x.copy() if x.dtype.kind in "iu" else fn(x))


FLOOR = _rounding("floor", "FloorBackward0", np.floor, "floor_vml_cpu")
CEIL = _rounding("ceil", "CeilBackward0", np.ceil, "ceil_vml_cpu")
TRUNC = _rounding("trunc", "TruncBackward0", np.trunc, "trunc_vml_cpu")
ROUND = _rounding("round", "RoundBackward0", np.rint, "round_vml_cpu")  # half to even


def _round_decimals(xp, x, decimals):
    # As torch: scale by 10^|decimals| in the input's dtype, round half to even, unscale.
    if x.dtype.kind == "c":
        raise _unsupported("round_cpu", x.dtype)
    scale = xp.asarray(10.0 ** (decimals if decimals >= 0 else -decimals), dtype=x.dtype)
    if decimals >= 0:
        return xp.rint(x * scale) / scale
    return xp.rint(x / scale) * scale


ROUND_DECIMALS = defop("round", node="RoundBackward1", kind=KEEP, check=_refuse("round_cpu", "biu"),
                       forward=_round_decimals, backward=zero_gradient)
FRAC = defop("frac", node="FracBackward0", kind=KEEP, check=_refuse("frac_cpu", "biuc"),
             forward=lambda xp, x: x - xp.trunc(x), backward=lambda grad, self: grad)


def _sgn(xp, x):
    if x.dtype.kind != "c":
        return _sign(xp, x)
    magnitude = xp.abs(x)
    return xp.where(magnitude == 0, 0, x / xp.where(magnitude == 0, 1, magnitude))


def _sgn_backward(grad, self, result):
    if self._data.dtype.kind != "c":
        return zeros_like(grad)
    # z/|z| moves only along the circle: the gradient's component along the result is
    # removed, the rest scaled by 1/|z|; zero at z = 0.
    magnitude = self.abs()
    along = (grad * result.conj()).real * result
    return where(magnitude == 0, 0.0, (grad - along) / where(magnitude == 0, 1.0, magnitude))


SGN = defop("sgn", node="SgnBackward0", kind=KEEP, save=(0, "result"), forward=_sgn,
            backward=_sgn_backward, real_formulas=False)

# ---- powers and exponentials ----------------------------------------------------------

EXP2 = _unary("exp2", "Exp2Backward0", _half_in_float64(lambda xp, x: xp.exp2(x)),
              lambda grad, self, result: grad * result * _LN2, ("result",))

# ---- special functions ----------------------------------------------------------------

# torch's kernels of these special functions have no complex loop (ember's would take the
# real part)
ERF = _unary("erf", "ErfBackward0", _in_float64(_erf64),
             lambda grad, self: grad * (_TWO_OVER_SQRT_PI * (-self * self).exp()), (0,),
             check=_refuse("erf_vml_cpu", "c"))
ERFC = _unary("erfc", "ErfcBackward0", _in_float64(_erfc64),
              lambda grad, self: grad * (-_TWO_OVER_SQRT_PI * (-self * self).exp()), (0,),
              check=_refuse("erfc_vml_cpu", "c"))
# torch's node saves the input and computes erfinv again in backward (the same bits as the
# result: one deterministic kernel), so ``_saved_self`` is what it keeps
ERFINV = _unary("erfinv", "ErfinvBackward0", _in_float64(_erfinv64),
                lambda grad, self: grad * (0.5 * _SQRT_PI * self.erfinv().pow(2).exp()),
                (0,), check=_refuse("erfinv_vml_cpu", "c"))
LGAMMA = _unary("lgamma", "LgammaBackward0", _in_float64(_lgamma64),
                lambda grad, self: grad * digamma(self), (0,),
                check=_refuse("lgamma_vml_cpu", "c"))
DIGAMMA = _unary("digamma", "DigammaBackward0", _in_float64(_digamma64),
                 lambda grad, self: grad * polygamma(1, self), (0,),
                 check=_refuse("digamma", "c"))
def _polygamma_check(self, n) -> None:
    # torch's kernels for n = 0 and 1 are digamma's and trigamma's
    if self._data.dtype.kind == "c":
        raise _unsupported({0: "digamma", 1: "trigamma"}.get(n, "polygamma"), self._data.dtype)


POLYGAMMA = defop("polygamma", node="PolygammaBackward0", kind=FLOAT, save=(0,),
                  check=_polygamma_check, forward=_in_float64(_polygamma64),
                  backward=lambda grad, self, n: grad * polygamma(n + 1, self))


def _sinc(xp, x):
    # Half-precision inputs are computed in float32, as torch's kernel does: pi * x rounded
    # to float16 would move the result by several float16 steps.
    wide = x.astype(np.float32) if x.dtype.itemsize < 4 else x
    scaled = wide * math.pi
    return xp.where(wide == 0, 1, xp.sin(scaled) / scaled).astype(x.dtype, copy=False)


def _sinc_backward(grad, self):
    # torch's order: pi x cos(pi x) - sin(pi x) over pi x^2 as (x * x) * pi, times grad; 0
    # where x * x is 0 (underflowing for tiny x too, whose 0 / 0 would be nan)
    scaled = self * math.pi
    square = self * self
    slope = (scaled * scaled.cos() - scaled.sin()) / (square * math.pi)
    return where(square == 0, 0.0, grad * slope)


SINC = _unary("sinc", "SincBackward0", _sinc, _sinc_backward, (0,))


def _logit(xp, x, eps):
    if x.dtype.kind == "c":
        raise _unsupported("logit_cpu", x.dtype)
    if eps is not None:
        x = xp.clip(x, eps, 1 - eps)
    return xp.log(x / (1 - x))


def _logit_backward(grad, self, eps):
    slope = grad / (self * (1 - self))
    if eps is None:
        return slope
    return where((self < eps) | (self > 1 - eps), 0.0, slope)


LOGIT = defop("logit", node="LogitBackward0", kind=FLOAT, save=(0,), forward=_logit,
              backward=_logit_backward)


def _nan_to_num(xp, x, nan, posinf, neginf):
    if x.dtype.kind not in "fcV":
        return x.copy()
    if x.dtype.kind == "V":  # bfloat16: NumPy's finfo does not know it
        import ml_dtypes

        info = ml_dtypes.finfo(x.dtype)
    else:
        info = xp.finfo(x.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    r = xp.where(x != x, nan, x)
    r = xp.where(x == math.inf, big, r)
    return xp.where(x == -math.inf, small, r).astype(x.dtype, copy=False)


NAN_TO_NUM = defop("nan_to_num", node="NanToNumBackward0", kind=KEEP, save=(0,),
                   forward=_nan_to_num,
                   backward=lambda grad, self, nan, posinf, neginf: grad * isfinite(self))

# ---- two-input math -------------------------------------------------------------------


def _atan2_reciprocal(self, other):
    # torch's 1 / (self^2 + other^2), 0 where that sum is 0 (not where it is merely tiny: a
    # sum that rounds to a subnormal gives inf)
    denominator = self * self + other * other
    return where(denominator == 0, 0.0, denominator.reciprocal())


# The half types take torch's steps, (grad * other) * r, r the reciprocal above: their bits.
# float32 and float64 keep one division by the sum, half the ops on a hot path (their bits
# differ from torch's in about four gradients in ten, by an ulp, as they did before).
def _atan2_self(grad, self, other):
    if reduced_float(self._data.dtype):
        return grad * other * _atan2_reciprocal(self, other)
    return grad * (other / (self * self + other * other))


def _atan2_other(grad, self, other):
    if reduced_float(self._data.dtype):
        return grad * -self * _atan2_reciprocal(self, other)
    return grad * (-self / (self * self + other * other))


def _atan2(xp, self, other):
    try:
        return xp.arctan2(self, other)
    except TypeError:  # complex operands: torch's kernel has no such dtype
        raise _unsupported("atan2_cpu", xp.result_type(self, other)) from None


ATAN2 = defop("atan2", node="Atan2Backward0", nin=2, kind=FLOAT, save=(0, 1),
              forward=_atan2,
              backward=(_atan2_self, _atan2_other))
HYPOT = defop("hypot", node="HypotBackward0", nin=2, save={0: (0, "result"), 1: (1, "result")},
              forward=_float_only("hypot_cpu", lambda xp, self, other: xp.hypot(self, other)),
              backward=(lambda grad, self, other, result: grad * self / result,
                        lambda grad, self, other, result: grad * other / result))


def _lerp(xp, self, end, weight):
    # As torch: from the nearer end, so that weight 0 gives self and weight 1 gives end.
    dtype = self.dtype
    if xp is np and _float_dtype(dtype):  # NOTE [Fused multiply-adds]
        wide = np.float64 if dtype == np.float64 else np.float32
        a, b = self.astype(wide, copy=False), end.astype(wide, copy=False)
        w = np.asarray(weight, wide)
        near = np.abs(w) < 0.5
        # -(1 - w) is w - 1, the same value rounded the same way
        return fma(np.where(near, w, w - wide(1)), b - a, np.where(near, a, b), dtype)
    diff = end - self
    r = xp.where(xp.abs(weight) < 0.5, self + weight * diff, end - diff * (1 - weight))
    return r.astype(dtype, copy=False)  # a Python weight promotes bfloat16 in NumPy


LERP = defop("lerp", node="LerpBackward0", nin=2, forward=_lerp,
             backward=(lambda grad, self, end, weight: grad * (1 - weight),
                       lambda grad, self, end, weight: grad * weight))
LERP_TENSOR = defop("lerp", node="LerpBackward1", nin=3, promote=(0, 1),
                    save={0: (2,), 1: (2,), 2: (0, 1, 2)},
                    forward=_lerp,
                    backward=(lambda grad, self, end, weight: grad * (1 - weight),
                              lambda grad, self, end, weight: grad * weight,
                              lambda grad, self, end, weight: grad * (end - self)))


def _xlogy(xp, x, y):
    dt = (x if type(x) is ndarray else y).dtype  # the promoted dtype
    if dt.kind == "c":
        raise _unsupported("xlogy_cpu", dt)
    return xp.where((x == 0) & (y == y), 0, x * xp.log(y))


def _xlogy_self(grad, self, other):
    # torch's: xlogy(grad, other), with 0 where self is 0 and other is not positive
    if not isinstance(other, Tensor):
        return where(self == 0, 0.0, xlogy(grad, other)) if other <= 0 else xlogy(grad, other)
    return where((self == 0) & (other <= 0), 0.0, xlogy(grad, other))


def _xlogy_other(grad, self, other):
    return grad * self / other


XLOGY = defop("xlogy", node="XlogyBackward0", nin=2, kind=FLOAT, save=(0, 1), forward=_xlogy,
              backward=(_xlogy_self, _xlogy_other))
XLOGY_NUMBER_SELF = defop("xlogy", node="XlogyBackward1", nin=2, kind=FLOAT, save=(1,),
                          forward=_xlogy, backward=(None, _xlogy_other))
XLOGY_NUMBER_OTHER = defop("xlogy", node="XlogyBackward2", nin=2, kind=FLOAT, save=(0,),
                           forward=_xlogy, backward=(_xlogy_self, None))


def logaddexp_complex(xp, a, b):
    """``log(exp(a) + exp(b))`` of complex arrays, as torch's kernel: the operand of larger
    real part (``a`` on a tie) is factored out; two real parts of -inf give ``b``, two of
    +inf the sum taken directly, and a nan anywhere gives nan."""
    larger = a.real >= b.real
    big = xp.where(larger, a, b)
    small = xp.where(larger, b, a)
    with np.errstate(all="ignore"):
        out = big + xp.log1p(xp.exp(small - big))
        both_inf = xp.isinf(big.real) & (small.real == big.real)
        if both_inf.any():
            direct = xp.log(xp.exp(big) + xp.exp(small))
            out = xp.where(both_inf, xp.where(big.real > 0, direct, b), out)
    nan = xp.isnan(a) | xp.isnan(b)
    if nan.any():
        out = xp.where(nan, builtins.complex(math.nan, math.nan), out)
    return out.astype(a.dtype, copy=False)


def _logaddexp(xp, a, b):
    if a.dtype.kind == "c":
        return logaddexp_complex(xp, a, b)
    return xp.logaddexp(a, b)


LOGADDEXP = defop(
    "logaddexp", node="LogaddexpBackward0", nin=2, save=(0, 1),
    forward=_float_only("logaddexp_cpu", _logaddexp),
    backward=(lambda grad, self, other: grad / (1 + (other - self).exp()),
              lambda grad, self, other: grad / (1 + (self - other).exp())))
LOGADDEXP2 = defop(
    "logaddexp2", node="Logaddexp2Backward0", nin=2, save=(0, 1),
    forward=_float_only("logaddexp2_cpu", lambda xp, a, b: xp.logaddexp2(a, b), "biuc"),
    backward=(lambda grad, self, other: grad / (1 + (other - self).exp2()),
              lambda grad, self, other: grad / (1 + (self - other).exp2())))


FMOD_SCALAR = defop("fmod", node="FmodBackward0", nin=2,
                    forward=_modulus(np.fmod, "fmod_cpu"),
                    backward=(lambda grad, self, other: grad, None))
FMOD = defop("fmod", node="FmodBackward1", nin=2, save={1: (0, 1)},
             forward=_modulus(np.fmod, "fmod_cpu"),
             backward=(lambda grad, self, other: grad,
                       lambda grad, self, other: -grad * div(self, other, rounding_mode="trunc")))


def _copysign_self(grad, self, other, result):
    return grad * where(self == 0, 0.0, result / self)


def _copysign_check(self, other) -> None:
    kinds = [a._data.dtype for a in (self, other) if isinstance(a, Tensor)]
    if any(d.kind == "c" for d in kinds) or type(other) is builtins.complex:
        raise _unsupported("copysign_cpu", np.result_type(*kinds, *(
            [] if isinstance(other, Tensor) else [np.complex64])))


COPYSIGN = defop("copysign", node="CopysignBackward0", nin=2, kind=FLOAT,
                 check=_copysign_check, save={0: (0, "result"), 1: ("result",)},
                 forward=lambda xp, self, other: xp.copysign(self, other),
                 backward=(_copysign_self, zero_gradient))
COPYSIGN_SCALAR = defop("copysign", node="CopysignBackward1", nin=2, kind=FLOAT,
                        check=_copysign_check, save=(0, "result"),
                        forward=lambda xp, self, other: xp.copysign(self, other),
                        backward=(_copysign_self, None))

HEAVISIDE = defop(
    "heaviside", node="NotImplemented", nin=2,
    forward=lambda xp, self, values: xp.where(self == 0, values, self > 0).astype(
        xp.result_type(self, values), copy=False),
    backward=(not_implemented("heaviside"), not_implemented("heaviside")))

# clamp_min / clamp_max: torch keeps them apart from clamp, with nodes of their own.
CLAMP_MIN_SCALAR = defop(
    "clamp_min", node="ClampMinBackward0", nin=1, promote=(0, 1), save=(0,),
    forward=lambda xp, self, min: bound_first(xp.maximum, min, self),
    backward=lambda grad, self, min: where(self >= min, grad, 0.0))
CLAMP_MIN = defop(
    "clamp_min", node="ClampMinBackward1", nin=2, save=(0, 1),
    forward=lambda xp, self, min: xp.maximum(self, min),
    backward=(lambda grad, self, min: where(self >= min, grad, 0.0),
              lambda grad, self, min: where(self < min, grad, 0.0)))
CLAMP_MAX_SCALAR = defop(
    "clamp_max", node="ClampMaxBackward0", nin=1, promote=(0, 1), save=(0,),
    forward=lambda xp, self, max: bound_first(xp.minimum, max, self),
    backward=lambda grad, self, max: where(self <= max, grad, 0.0))
CLAMP_MAX = defop(
    "clamp_max", node="ClampMaxBackward1", nin=2, save=(0, 1),
    forward=lambda xp, self, max: xp.minimum(self, max),
    backward=(lambda grad, self, max: where(self <= max, grad, 0.0),
              lambda grad, self, max: where(self > max, grad, 0.0)))

# ---- floating-point classification (no gradient) ------------------------------------


def _classify(name: str, fn, integers: bool, complex_: bool = True):
    """An is* op: ``fn`` on floating arrays, the constant ``integers`` elsewhere; complex
    input refused unless ``complex_``."""
    def check(x) -> None:
        if x._data.dtype.kind == "c":
            raise RuntimeError(f"{name} does not support complex inputs.")
    return defop(name, kind=KEEP, check=None if complex_ else check, forward=lambda xp, x: (
        fn(xp, x) if x.dtype.kind in "fcV" else xp.full(x.shape, integers)))


ISNAN = _classify("isnan", lambda xp, x: x != x, False)
ISINF = _classify("isinf", lambda xp, x: xp.isinf(x), False)
ISFINITE = _classify("isfinite", lambda xp, x: xp.isfinite(x), True)
ISPOSINF = _classify("isposinf", lambda xp, x: x == math.inf, False, complex_=False)
ISNEGINF = _classify("isneginf", lambda xp, x: x == -math.inf, False, complex_=False)


def _isclose(xp, self, other, rtol, atol, equal_nan):
    close = self == other
    if equal_nan:
        close = close | ((self != self) & (other != other))
    if rtol == 0 and atol == 0:
        return close
    if self.dtype.kind in "biu":  # torch measures integer distances in the default dtype
        default = get_default_dtype().np
        self, other = self.astype(default), other.astype(default)
    error = xp.abs(self - other)
    return close | (xp.isfinite(error) & (error <= atol + xp.abs(rtol * other)))


ISCLOSE = defop("isclose", nin=2, kind=COMPARE, forward=_isclose)

# ---- logic and shifts (no gradient) -------------------------------------------------


def _shift(left: bool):
    kernel = "lshift_cpu" if left else "rshift_cpu"

    def forward(xp, a, b):
        dt = xp.result_type(a, b)
        if dt.kind not in "iu" or _wide(dt):
            raise _unsupported(kernel, dt)
        a = xp.asarray(a, dtype=dt)
        b = xp.asarray(b, dtype=dt)
        # Shifting by the width or more (or by a negative count) is undefined in C and in
        # NumPy; torch defines it: all bits shifted out (the sign fills a right shift).
        out_of_range = (b < 0) | (b >= dt.itemsize * 8)
        safe = xp.where(out_of_range, 0, b).astype(dt, copy=False)
        if left:
            return xp.where(out_of_range, 0, xp.left_shift(a, safe)).astype(dt, copy=False)
        filled = xp.where(a < 0, -1, 0) if dt.kind == "i" else 0
        return xp.where(out_of_range, filled, xp.right_shift(a, safe)).astype(dt, copy=False)
    return forward


LEFT_SHIFT = defop("bitwise_left_shift", nin=2, forward=_shift(True))
RIGHT_SHIFT = defop("bitwise_right_shift", nin=2, forward=_shift(False))
LOGICAL_AND = defop("logical_and", nin=2, kind=COMPARE,
                    forward=lambda xp, a, b: xp.logical_and(a != 0, b != 0))
LOGICAL_OR = defop("logical_or", nin=2, kind=COMPARE,
                   forward=lambda xp, a, b: xp.logical_or(a != 0, b != 0))
LOGICAL_XOR = defop("logical_xor", nin=2, kind=COMPARE,
                    forward=lambda xp, a, b: xp.logical_xor(a != 0, b != 0))
LOGICAL_NOT = defop("logical_not", kind=KEEP, forward=lambda xp, a: a == 0,
                    check=_refuse("logical_not_cpu", ""))


# ---- complex parts ---------------------------------------------------------------------
# torch reads the parts of a complex tensor as views (view_as_real, then select), so
# their nodes are SelectBackward0; the gradient flows back into the chosen part.

REAL = defop("real", node="SelectBackward0", kind=KEEP, view=True,
             forward=lambda xp, self: self.real,
             backward=lambda grad, self: grad)  # cast back to complex by the engine
IMAG = defop("imag", node="SelectBackward0", kind=KEEP, view=True,
             forward=lambda xp, self: self.imag,
             backward=lambda grad, self: grad * 1j)
CONJ = defop("conj", node="ConjBackward0", kind=KEEP,
             forward=lambda xp, self: xp.conj(self),
             backward=lambda grad, self: grad.conj(), real_formulas=False)
CONJ_PHYSICAL = defop("conj_physical", node="ConjPhysicalBackward0", kind=KEEP,
                      forward=lambda xp, self: xp.conj(self),
                      backward=lambda grad, self: grad.conj(), real_formulas=False)


def _angle_backward(grad, self):
    if not self.is_complex():
        return grad * 0
    return grad * ((1j * self.real - self.imag) / (self.abs() ** 2))


ANGLE = defop("angle", node="AngleBackward0", kind=FLOAT, save=(0,),
              forward=lambda xp, self: xp.angle(self) if self.dtype.kind == "c"
              else xp.where(xp.isnan(self), self, xp.where(self < 0, xp.pi, 0.0)).astype(
                  self.dtype),
              backward=_angle_backward)


def real(input: Tensor) -> Tensor:
    """Mirrors ``torch.real``: the real part, a view (``input`` itself when real)."""
    try:
        return run(REAL, input) if input._data.dtype.kind == "c" else input
    except AttributeError as error:
        refuse_non_tensor("real", error, input, "input")
        raise


def imag(input: Tensor) -> Tensor:
    """Mirrors ``torch.imag``: the imaginary part of a complex tensor, a view."""
    try:
        if input._data.dtype.kind != "c":
            raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    except AttributeError as error:
        refuse_non_tensor("imag", error, input, "input")
        raise
    return run(IMAG, input)


def conj(input: Tensor) -> Tensor:
    """Mirrors ``torch.conj`` (``input`` itself when real). ember conjugates eagerly where
    torch sets a lazy conjugate bit; the values are the same."""
    try:
        return run(CONJ, input) if input._data.dtype.kind == "c" else input
    except AttributeError as error:
        refuse_non_tensor("conj", error, input, "input")
        raise


def conj_physical(input: Tensor) -> Tensor:
    """Mirrors ``torch.conj_physical``: the conjugate computed now (``input`` itself when
    real)."""
    return run(CONJ_PHYSICAL, input) if input._data.dtype.kind == "c" else input


def is_conj(input: Tensor) -> bool:
    """Mirrors ``torch.is_conj``. ember has no lazy conjugate bit (``conj`` computes the
    values at once), so this is always False; torch says True for ``x.conj()``."""
    tensor_argument("is_conj", "input", input, 1)
    return False


def is_neg(input: Tensor) -> bool:
    """Mirrors ``torch.is_neg``; ember has no lazy negative bit, so always False."""
    tensor_argument("is_neg", "input", input, 1)
    return False


def resolve_conj(input: Tensor) -> Tensor:
    """Mirrors ``torch.resolve_conj``: ``input`` itself, since ember's conjugates are
    already materialised."""
    tensor_argument("resolve_conj", "input", input, 1)
    return input


def resolve_neg(input: Tensor) -> Tensor:
    """Mirrors ``torch.resolve_neg``: ``input`` itself (ember has no lazy negative bit)."""
    tensor_argument("resolve_neg", "input", input, 1)
    return input


def angle(input: Tensor) -> Tensor:
    """Mirrors ``torch.angle``: the argument of each element (0 or pi for real ones)."""
    return run(ANGLE, input)


def is_complex(input: Tensor) -> bool:
    """Mirrors ``torch.is_complex``."""
    try:
        return input.is_complex()
    except AttributeError as error:
        refuse_non_tensor("is_complex", error, input, "input")
        raise


# ---- the public functions (torch.f and Tensor.f) -------------------------------------


def _check_unit_alpha(input, other, alpha) -> None:
    """``_check_alpha`` for an alpha equal to 1 but no int (True, 1.0, 1+0j), which the
    forward takes as 1 without a look."""
    if alpha == 1:
        _check_alpha(_promote.result_type(input, other).np.kind, alpha)


def add(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.add``: ``input + alpha * other``."""
    if type(alpha) is not int:
        _check_unit_alpha(input, other, alpha)
    return run(ADD, input, other, alpha)


def sub(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.sub``: ``input - alpha * other``."""
    if type(alpha) is not int:
        _no_bool_sub(input, other)  # torch refuses bools first
        _check_unit_alpha(input, other, alpha)
    return run(SUB, input, other, alpha)


subtract = sub


def rsub(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.rsub``: ``other - alpha * input``."""
    if not isinstance(input, Tensor):
        raise overload_refusal("rsub", (input, other), (
            "(Tensor input, Tensor other, *, Number alpha = 1)",
            "(Tensor input, Number other, Number alpha = 1)"))
    if type(alpha) is not int:
        _no_bool_sub(input, other)  # torch refuses bools first
        _check_unit_alpha(input, other, alpha)
    return run(RSUB_TENSOR if isinstance(other, Tensor) else RSUB, input, other, alpha)


def mul(input, other) -> Tensor:
    """Mirrors ``torch.mul``."""
    return run(MUL, input, other)


multiply = mul


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """Mirrors ``torch.div``: true division, or rounded with ``"trunc"`` / ``"floor"``."""
    if rounding_mode is None:
        return run(DIV, input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'")
    return run(DIV_ROUNDED, input, other, rounding_mode)


divide = div


def true_divide(input, other) -> Tensor:
    """Mirrors ``torch.true_divide``: ``div`` without a rounding mode."""
    return run(DIV, input, other)


def floor_divide(input, other) -> Tensor:
    """Mirrors ``torch.floor_divide`` (rounds toward negative infinity)."""
    return run(FLOOR_DIVIDE, input, other)


def remainder(input, other) -> Tensor:
    """Mirrors ``torch.remainder``: Python's modulus, the sign of the divisor."""
    if not isinstance(input, Tensor):
        if not isinstance(other, Tensor):
            raise _numbers_refused("remainder", (input, other))
        return run(RREMAINDER, other, input)
    if isinstance(other, Tensor):
        return run(REMAINDER, input, other)
    return run(REMAINDER_SCALAR, input, other)


def pow(input, exponent) -> Tensor:  # noqa: A001 - torch's name
    """Mirrors ``torch.pow`` (three overloads, three nodes, as in torch)."""
    if not isinstance(input, Tensor):
        if not isinstance(exponent, Tensor):
            raise _numbers_refused("pow", (input, exponent), "exponent", True)
        return run(RPOW, exponent, input)
    if isinstance(exponent, Tensor):
        return run(POW, input, exponent)
    if type(exponent) is int and input._data.dtype.kind in "biu":
        # torch converts an int exponent to int64, then a non-negative one to the tensor's
        # integer dtype, with its overflow checks (ember would wrap it: int8 ** 200 as
        # ** -56); a negative one is refused by the kernel
        if not -2 ** 63 <= exponent < 2 ** 63:
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        if exponent > 0:
            fill_value(exponent, input._data.dtype)
    elif input._data.dtype.itemsize == 2:
        _half_number(input, exponent)
    return run(POW_SCALAR, input, exponent)


def reciprocal(input) -> Tensor:
    """Mirrors ``torch.reciprocal``."""
    return run(RECIPROCAL, input)


def neg(input) -> Tensor:
    """Mirrors ``torch.neg``."""
    return run(NEG, input)


negative = neg


def _unary_function(op, doc_name):
    def fn(input) -> Tensor:
        return run(op, input)
    fn.__name__ = fn.__qualname__ = doc_name
    fn.__doc__ = f"Mirrors ``torch.{doc_name}``."
    return fn


exp = _unary_function(EXP, "exp")
log = _unary_function(LOG, "log")
log2 = _unary_function(LOG2, "log2")
log10 = _unary_function(LOG10, "log10")
log1p = _unary_function(LOG1P, "log1p")
expm1 = _unary_function(EXPM1, "expm1")
sqrt = _unary_function(SQRT, "sqrt")
rsqrt = _unary_function(RSQRT, "rsqrt")
sin = _unary_function(SIN, "sin")
cos = _unary_function(COS, "cos")
tan = _unary_function(TAN, "tan")
asin = arcsin = _unary_function(ASIN, "asin")
acos = arccos = _unary_function(ACOS, "acos")
atan = arctan = _unary_function(ATAN, "atan")
sinh = _unary_function(SINH, "sinh")
cosh = _unary_function(COSH, "cosh")
tanh = _unary_function(TANH, "tanh")
sigmoid = _unary_function(SIGMOID, "sigmoid")
abs = absolute = _unary_function(ABS, "abs")  # noqa: A001 - torch's name
sign = _unary_function(SIGN, "sign")
relu = _unary_function(RELU, "relu")


def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    """Mirrors ``torch.clamp``: bounds are numbers or tensors; at least one is given."""
    if min is None and max is None:
        tensor_argument("clamp", "input", input, 1)
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    kind = input._data.dtype.kind
    if kind == "c":
        raise NotImplementedError(_CLAMP_COMPLEX)
    tensors = isinstance(min, Tensor) or isinstance(max, Tensor)
    # torch's clamp kernels refuse uint16/32/64 (NOTE [Wide unsigned dtypes]) and bool
    # results (bool bounds), which its maximum and minimum (one tensor bound) compute
    if (kind == "u" and input._data.dtype.itemsize > 1) or (kind == "b" and all(
            bound is None or _is_bool(bound) for bound in (min, max))):
        if min is not None and max is not None:
            kernel = "clamp_cpu" if tensors else "clamp_scalar_cpu"
        elif tensors:
            kernel = "maximum_cpu" if max is None else "minimum_cpu"
        else:
            kernel = "clamp_min_scalar_cpu" if max is None else "clamp_max_scalar_cpu"
        # (two bool tensor bounds: _clamp refuses the bool result after NumPy's shape check,
        # as torch reports a shape mismatch first)
        if kind == "u" or kernel.startswith("clamp") and not tensors:
            raise _unsupported(kernel, input._data.dtype)
    if tensors:
        _check_tensor_bounds(input, min, max)
        return run(CLAMP, input, min, max)
    if kind in "iu" and (type(min) is int or type(max) is int):
        min, max = _int_bound(input, min), _int_bound(input, max)
    elif _half(input):
        min, max = _half_number(input, min), _half_number(input, max)
    return run(CLAMP_SCALAR, input, min, max)


def _check_tensor_bounds(input: Tensor, min, max) -> None:  # noqa: A002 - torch's names
    """torch binds clamp's bounds as two tensors or two numbers, never one of each."""
    if min is None or max is None:
        return
    if not isinstance(min, Tensor) or not isinstance(max, Tensor):
        raise TypeError(
            "clamp() received an invalid combination of arguments - got (Tensor, "
            f"{c_type_name(min)}, {c_type_name(max)}), but expected one of:\n"
            " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
            " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)\n")


def _refuse_bool_bounds(kernel: str, *bounds) -> None:
    # bool bounds keep a bool input's dtype: torch's scalar kernels have no bool loop
    if all(b is None or type(b) is bool for b in bounds):
        raise NotImplementedError(f"\"{kernel}_scalar_cpu\" not implemented for 'Bool'")


def _half(input: Tensor) -> bool:
    dt = input._data.dtype
    return dt.itemsize == 2 and dt.kind in "fV"


def _half_number(input: Tensor, number):
    """``number`` (a clamp bound, pow's exponent, add's alpha) as torch converts it for a
    float16/bfloat16 kernel: beyond the dtype's range its overflow error (NOTE [Half fill
    values])."""
    if type(number) in (int, float) and _half(input):
        fill_value(number, input._data.dtype)
    return number


def _int_bound(input: Tensor, bound):
    # torch converts an int bound (or where's int operand) to an integer tensor's dtype: out
    # of its range is torch's overflow error, and a negative one wraps into uint8
    # (clamp(min=-3) clamps to 253)
    if type(bound) is int and input._data.dtype.kind in "iu":
        return fill_value(bound, input._data.dtype)
    return bound


clip = clamp


def maximum(input, other) -> Tensor:
    """Mirrors ``torch.maximum`` (nan propagates; ties split the gradient)."""
    if type(input) is not Tensor or type(other) is not Tensor:
        _tensors_only("maximum", input=input, other=other)  # torch takes no number
    return run(MAXIMUM, input, other)


def minimum(input, other) -> Tensor:
    """Mirrors ``torch.minimum``."""
    if type(input) is not Tensor or type(other) is not Tensor:
        _tensors_only("minimum", input=input, other=other)
    return run(MINIMUM, input, other)


_WHERE_OVERLOADS = ("(Tensor condition)",
                    "(Tensor condition, Tensor input, Tensor other, *, Tensor out = None)",
                    "(Tensor condition, Number self, Tensor other)",
                    "(Tensor condition, Tensor input, Number other)",
                    "(Tensor condition, Number self, Number other)")


def where(condition, input=None, other=None) -> Tensor:
    """Mirrors ``torch.where(condition, input, other)``; inputs may be numbers. ember's
    refusals name the overloads without torch's line on why each did not match."""
    if input is None and other is None:
        batching.refuse_dynamic("where", condition)  # torch names where, not nonzero
        return condition.nonzero(as_tuple=True)
    if input is None or other is None or not isinstance(condition, Tensor):
        raise overload_refusal("where", (condition, input, other), _WHERE_OVERLOADS)
    if condition._data.dtype != bool:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            + scalar_type_name(condition.dtype))
    if type(other) is int and isinstance(input, Tensor):
        other = _int_bound(input, other)  # the integer tensor's dtype holds it, as in torch
    elif type(input) is int and isinstance(other, Tensor):
        input = _int_bound(other, input)
    return run(WHERE, condition, input, other)


def _where_method(self: Tensor, condition, other) -> Tensor:
    if not isinstance(condition, Tensor) or other is None:
        raise overload_refusal("where", (condition, other), (
            "(Tensor condition, Tensor other)", "(Tensor condition, Number other)"))
    return where(condition, self, other)


def _comparison(op, name: str):
    def compare(input, other) -> Tensor:
        if not isinstance(input, Tensor):  # torch has no overload with a number first
            raise overload_refusal(name, (input, other), _OTHER_TENSOR_OR_NUMBER)
        return run(op, input, other)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Mirrors ``torch.{name}``."
    return compare


eq, ne, lt, le, gt, ge = (_comparison(op, name) for op, name in (
    (EQ, "eq"), (NE, "ne"), (LT, "lt"), (LE, "le"), (GT, "gt"), (GE, "ge")))
not_equal, less, less_equal, greater, greater_equal = (_comparison(op, name) for op, name in (
    (NE, "not_equal"), (LT, "less"), (LE, "less_equal"), (GT, "greater"),
    (GE, "greater_equal")))


def bitwise_and(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_and`` (logical and for bool tensors)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _numbers_refused("bitwise_and", (input, other))
    return run(BITWISE_AND, input, other)


def bitwise_or(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_or``."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _numbers_refused("bitwise_or", (input, other))
    return run(BITWISE_OR, input, other)


def bitwise_xor(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_xor``."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _numbers_refused("bitwise_xor", (input, other))
    return run(BITWISE_XOR, input, other)


def bitwise_not(input) -> Tensor:
    """Mirrors ``torch.bitwise_not``."""
    return run(BITWISE_NOT, input)


# ---- dunders -------------------------------------------------------------------------


def _dunder(op, reflected: bool = False, alpha: bool = False):
    """``Tensor.__op__`` straight to ``run``. An operand that is neither a tensor nor a
    number gives NotImplemented, so Python can try the other side (``t == None`` is False,
    as in torch)."""
    if alpha:
        if reflected:
            def method(self, other):
                try:
                    return run(op, other, self, 1)
                except OperandTypeError:
                    return NotImplemented
        else:
            def method(self, other):
                try:
                    return run(op, self, other, 1)
                except OperandTypeError:
                    return NotImplemented
    elif reflected:
        def method(self, other):
            try:
                return run(op, other, self)
            except OperandTypeError:
                return NotImplemented
    else:
        def method(self, other):
            try:
                return run(op, self, other)
            except OperandTypeError:
                return NotImplemented
    return method


def _dispatching_dunder(fn, reflected: bool = False):
    """A dunder for an op whose overload depends on the operand types (pow, %)."""
    def method(self, other):
        try:
            return fn(other, self) if reflected else fn(self, other)
        except OperandTypeError:
            return NotImplemented
    return method


def _rtruediv(self, other):
    # torch computes ``number / tensor`` as ``tensor.reciprocal() * number``.
    return run(MUL, run(RECIPROCAL, self), other)


attach({
    "real": property(real), "imag": property(imag), "conj": conj, "angle": angle,
    "conj_physical": conj_physical, "is_conj": is_conj, "is_neg": is_neg,
    "resolve_conj": resolve_conj, "resolve_neg": resolve_neg,
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": true_divide, "floor_divide": floor_divide, "remainder": remainder,
    "pow": pow, "reciprocal": reciprocal, "neg": neg, "negative": neg, "exp": exp, "log": log,
    "log2": log2,
    "log10": log10, "log1p": log1p, "expm1": expm1, "sqrt": sqrt, "rsqrt": rsqrt, "sin": sin,
    "cos": cos, "tan": tan, "asin": asin, "arcsin": asin, "acos": acos, "arccos": acos,
    "atan": atan, "arctan": atan, "sinh": sinh, "cosh": cosh, "tanh": tanh,
    "sigmoid": sigmoid, "abs": abs, "absolute": abs, "sign": sign, "relu": relu,
    "clamp": clamp, "clip": clamp, "maximum": maximum, "minimum": minimum, "eq": eq,
    "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": not_equal, "less": less,
    "less_equal": less_equal, "greater": greater, "greater_equal": greater_equal,
    "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "where": _where_method,
    "__add__": _dunder(ADD, alpha=True), "__radd__": _dunder(ADD, alpha=True),
    "__sub__": _dunder(SUB, alpha=True), "__rsub__": _dunder(RSUB, alpha=True),
    "__mul__": _dunder(MUL), "__rmul__": _dunder(MUL),
    "__truediv__": _dunder(DIV), "__rtruediv__": _dispatching_dunder(_rtruediv),
    "__div__": _dunder(DIV), "__rdiv__": _dispatching_dunder(_rtruediv),  # Python 2's names
    "__floordiv__": _dunder(FLOOR_DIVIDE), "__rfloordiv__": _dunder(FLOOR_DIVIDE, True),
    "__mod__": _dispatching_dunder(remainder), "__rmod__": _dunder(RREMAINDER),
    "__pow__": _dispatching_dunder(pow), "__rpow__": _dispatching_dunder(pow, True),
    "__neg__": neg, "__abs__": abs,
    "__eq__": _dunder(EQ), "__ne__": _dunder(NE), "__lt__": _dunder(LT), "__le__": _dunder(LE),
    "__gt__": _dunder(GT), "__ge__": _dunder(GE),
    "__and__": _dunder(BITWISE_AND), "__or__": _dunder(BITWISE_OR),
    "__xor__": _dunder(BITWISE_XOR), "__rand__": _dunder(BITWISE_AND),
    "__ror__": _dunder(BITWISE_OR), "__rxor__": _dunder(BITWISE_XOR),
})


# ---- the public functions of the rest of the elementwise set ---------------------------

floor = _unary_function(FLOOR, "floor")
ceil = _unary_function(CEIL, "ceil")
trunc = fix = _unary_function(TRUNC, "trunc")
frac = _unary_function(FRAC, "frac")
sgn = _unary_function(SGN, "sgn")
exp2 = _unary_function(EXP2, "exp2")
erf = _unary_function(ERF, "erf")
erfc = _unary_function(ERFC, "erfc")
erfinv = _unary_function(ERFINV, "erfinv")
lgamma = _unary_function(LGAMMA, "lgamma")
digamma = _unary_function(DIGAMMA, "digamma")
sinc = _unary_function(SINC, "sinc")
isnan = _unary_function(ISNAN, "isnan")
isinf = _unary_function(ISINF, "isinf")
isfinite = _unary_function(ISFINITE, "isfinite")
isposinf = _unary_function(ISPOSINF, "isposinf")
isneginf = _unary_function(ISNEGINF, "isneginf")
logical_not = _unary_function(LOGICAL_NOT, "logical_not")
for _fn, _kernel in ((erf, "float64 series / continued fraction"),
                     (erfc, "float64 series / continued fraction"),
                     (erfinv, "Winitzki's estimate and Halley steps"),
                     (lgamma, "float64 series"), (digamma, "float64 series")):
    _fn.__doc__ += f" Computed in ember ({_kernel}; see NOTE [Special-function kernels])."
del _fn, _kernel


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Mirrors ``torch.round``: half to even; ``decimals`` rounds to that many decimal places
    (negative: to tens, hundreds, ...) by scaling, as torch does."""
    if decimals == 0:
        return run(ROUND, input)
    return run(ROUND_DECIMALS, input, decimals)


def square(input: Tensor) -> Tensor:
    """Mirrors ``torch.square``: ``pow(input, 2)`` (its node is PowBackward0); bool squares
    to int64, as in torch."""
    if input._data.dtype.kind == "b":
        input = input.to(int64)
    return run(POW_SCALAR, input, 2)


def float_power(input, exponent) -> Tensor:
    """Mirrors ``torch.float_power``: ``pow`` computed in float64 (complex128 for complex
    operands), whatever the inputs' dtypes."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise _numbers_refused("float_power", (input, exponent), "exponent", True)
    complex_ = any(isinstance(v, builtins.complex) or (isinstance(v, Tensor) and v.is_complex())
                   for v in (input, exponent))
    wide = complex128 if complex_ else float64
    if isinstance(input, Tensor):
        input = input.to(wide)
    else:
        input = builtins.complex(input) if complex_ else float(input)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(wide)
    else:
        exponent = builtins.complex(exponent) if complex_ else float(exponent)
    return pow(input, exponent)


def polygamma(n: int, input: Tensor) -> Tensor:
    """Mirrors ``torch.polygamma``: the n-th derivative of digamma (computed in ember, see
    NOTE [Special-function kernels]). ember gives inf at the non-positive integers, where
    torch's trigamma gives large finite values."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return run(POLYGAMMA, input, n)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """Mirrors ``torch.logit``: ``log(p / (1 - p))``, ``p`` clamped to [eps, 1 - eps] when
    ``eps`` is given (the gradient is then 0 outside that interval)."""
    return run(LOGIT, input, eps)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Mirrors ``torch.nan_to_num``: infinities default to the dtype's extremes."""
    return run(NAN_TO_NUM, input, nan, posinf, neginf)


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.atan2`` (both operands tensors, as torch requires)."""
    _tensors_only("atan2", input=input, other=other)
    return run(ATAN2, input, other)


def arctan2(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.arctan2``: ``atan2`` under NumPy's name."""
    _tensors_only("arctan2", input=input, other=other)
    return run(ATAN2, input, other)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.hypot`` (floating tensors only, as torch)."""
    _tensors_only("hypot", input=input, other=other)
    return run(HYPOT, input, other)


def _lerp_dtype(input: Tensor, name: str, value: Tensor) -> None:
    if value._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"expected dtype {cpp_type_name(input.dtype)} for `{name}` but got dtype "
            f"{cpp_type_name(value.dtype)}")


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """Mirrors ``torch.lerp``: ``input + weight * (end - input)``, ``weight`` a number or a
    tensor; ``end`` (and a tensor ``weight`` with dimensions) must have ``input``'s dtype."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise overload_refusal("lerp", (input, end, weight), (
            "(Tensor input, Tensor end, Tensor weight, *, Tensor out = None)",
            "(Tensor input, Tensor end, Number weight, *, Tensor out = None)"))
    _lerp_dtype(input, "end", end)
    tensor_weight = isinstance(weight, Tensor)
    if tensor_weight and weight.dim() > 0:
        _lerp_dtype(input, "weight", weight)
    if input._data.dtype.kind in "biu":
        raise _unsupported("lerp_kernel_tensor" if tensor_weight else "lerp_kernel_scalar",
                           input._data.dtype)
    if tensor_weight:
        return run(LERP_TENSOR, input, end, weight)
    return run(LERP, input, end, weight)


def xlogy(input, other) -> Tensor:
    """Mirrors ``torch.xlogy``: ``input * log(other)``, 0 where ``input`` is 0 (unless
    ``other`` is nan); either operand may be a number."""
    if not isinstance(input, Tensor):
        if not isinstance(other, Tensor):
            raise _numbers_refused("xlogy", (input, other), "other", True)
        return run(XLOGY_NUMBER_SELF, input, other)
    if not isinstance(other, Tensor):
        return run(XLOGY_NUMBER_OTHER, input, other)
    return run(XLOGY, input, other)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.logaddexp``: ``log(exp(input) + exp(other))`` without overflow."""
    _tensors_only("logaddexp", input=input, other=other)
    return run(LOGADDEXP, input, other)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.logaddexp2``: ``log2(2**input + 2**other)`` without overflow."""
    _tensors_only("logaddexp2", input=input, other=other)
    return run(LOGADDEXP2, input, other)


def fmod(input: Tensor, other) -> Tensor:
    """Mirrors ``torch.fmod``: C's remainder, with the sign of the dividend."""
    if not isinstance(input, Tensor):
        raise overload_refusal("fmod", (input, other), _OTHER_TENSOR_OR_NUMBER)
    if isinstance(other, Tensor):
        return run(FMOD, input, other)
    return run(FMOD_SCALAR, input, other)


def copysign(input: Tensor, other) -> Tensor:
    """Mirrors ``torch.copysign``: the magnitude of ``input`` with the sign of ``other``."""
    if not isinstance(input, Tensor):
        raise overload_refusal("copysign", (input, other), _OTHER_TENSOR_OR_NUMBER)
    if isinstance(other, Tensor):
        return run(COPYSIGN, input, other)
    return run(COPYSIGN_SCALAR, input, other)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """Mirrors ``torch.heaviside``: 0 below zero, 1 above, ``values`` at zero."""
    _tensors_only("heaviside", input=input, values=values)
    if input._data.dtype.kind == "c" or values._data.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return run(HEAVISIDE, input, values)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002 - torch's name
    """Mirrors ``torch.clamp_min`` (``min`` a number or a tensor)."""
    if isinstance(min, Tensor):
        _complex_extremum("maximum_cpu", input, min)
        return run(CLAMP_MIN, input, min)
    kind = input._data.dtype.kind
    if kind == "c":
        raise NotImplementedError(_CLAMP_COMPLEX)
    if kind == "b":
        _refuse_bool_bounds("clamp_min", min)
    return run(CLAMP_MIN_SCALAR, input, _half_number(input, _int_bound(input, min)))


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002 - torch's name
    """Mirrors ``torch.clamp_max`` (``max`` a number or a tensor)."""
    if isinstance(max, Tensor):
        _complex_extremum("minimum_cpu", input, max)
        return run(CLAMP_MAX, input, max)
    kind = input._data.dtype.kind
    if kind == "c":
        raise NotImplementedError(_CLAMP_COMPLEX)
    if kind == "b":
        _refuse_bool_bounds("clamp_max", max)
    return run(CLAMP_MAX_SCALAR, input, _half_number(input, _int_bound(input, max)))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Mirrors ``torch.isclose``: ``|input - other| <= atol + rtol * |other|``; both
    tensors of one dtype."""
    _tensors_only("isclose", input=input, other=other)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{scalar_type_name(input.dtype)} did not match "
                           f"{scalar_type_name(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    return run(ISCLOSE, input, other, rtol, atol, equal_nan)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Mirrors ``torch.allclose``: whether ``isclose`` holds everywhere (a Python bool)."""
    _tensors_only("allclose", input=input, other=other)
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """Mirrors ``torch.equal``: same shape and same values (nan is never equal)."""
    _tensors_only("equal", input=input, other=other)
    if input._data.shape != other._data.shape:
        return False
    return bool(run(EQ, input, other)._data.all())


def bitwise_left_shift(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_left_shift``: shifts past the width give 0, as torch."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _numbers_refused("bitwise_left_shift", (input, other))
    return run(LEFT_SHIFT, input, other)


def bitwise_right_shift(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_right_shift``: arithmetic for signed dtypes; shifts past the
    width give 0 (or -1 for negative values), as torch."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _numbers_refused("bitwise_right_shift", (input, other))
    return run(RIGHT_SHIFT, input, other)


def logical_and(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.logical_and``: nonzero is true; the result is bool."""
    _tensors_only("logical_and", input=input, other=other)
    return run(LOGICAL_AND, input, other)


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.logical_or``."""
    _tensors_only("logical_or", input=input, other=other)
    return run(LOGICAL_OR, input, other)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.logical_xor``."""
    _tensors_only("logical_xor", input=input, other=other)
    return run(LOGICAL_XOR, input, other)


# torch.special's basics (the lead wires them into an ``ember.special`` namespace).


def expit(input: Tensor) -> Tensor:
    """Mirrors ``torch.special.expit``: the logistic sigmoid (its node is SigmoidBackward0)."""
    return run(SIGMOID, input)


def gammaln(input: Tensor) -> Tensor:
    """Mirrors ``torch.special.gammaln``: ``lgamma``."""
    return run(LGAMMA, input)


psi = digamma

SPECIAL = {
    "expit": expit, "logit": logit, "erf": erf, "erfc": erfc, "erfinv": erfinv,
    "gammaln": gammaln, "digamma": digamma, "psi": psi, "polygamma": polygamma,
    "exp2": exp2, "expm1": expm1, "log1p": log1p, "sinc": sinc, "round": round,
    "xlogy": xlogy,
}


def _invert(self: Tensor) -> Tensor:
    if self._data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return run(BITWISE_NOT, self)


# ---- more of torch's elementwise set: inverse hyperbolics, addcmul/addcdiv, fmax/fmin,
# ---- gcd/lcm, signbit, positive, ldexp, nextafter, frexp, deg2rad/rad2deg -----------------

ASINH = _unary("asinh", "AsinhBackward0", _half_in_float64(lambda xp, x: xp.arcsinh(x)),
               lambda grad, self: grad * (self * self + 1).rsqrt(), (0,))
ACOSH = _unary("acosh", "AcoshBackward0", _half_in_float64(lambda xp, x: xp.arccosh(x)),
               lambda grad, self: grad * (self * self - 1).rsqrt(), (0,))
ATANH = _unary("atanh", "AtanhBackward0", _half_in_float64(lambda xp, x: xp.arctanh(x)),
               lambda grad, self: grad / (1 - self * self), (0,))

_DEG_PER_RAD = 180.0 / math.pi
_RAD_PER_DEG = math.pi / 180.0


def _no_complex(message: str, error: type = RuntimeError):
    def check(self, *params) -> None:
        if isinstance(self, Tensor) and self._data.dtype.kind == "c":
            raise error(message)
    return check


DEG2RAD = _unary("deg2rad", "Deg2RadBackward0",
                 _half_via(lambda xp, x: xp.multiply(x, _RAD_PER_DEG, dtype=x.dtype)),
                 lambda grad, self: grad * _RAD_PER_DEG, (),
                 check=_no_complex("deg2rad is not supported for complex tensors."))
RAD2DEG = _unary("rad2deg", "Rad2DegBackward0",
                 _half_via(lambda xp, x: xp.multiply(x, _DEG_PER_RAD, dtype=x.dtype)),
                 lambda grad, self: grad * _DEG_PER_RAD, (),
                 check=_no_complex("rad2deg is not supported for complex tensors."))


def _half_in_float32_n(fn):
    """``_half_via`` (float32) for several inputs of one promoted dtype."""
    def forward(xp, *args):
        dtype = args[0].dtype
        if dtype.itemsize == 2 and dtype.kind not in "iu":  # float16 or bfloat16
            wide = [a.astype(np.float32) if isinstance(a, ndarray) else a for a in args]
            return fn(xp, *wide).astype(dtype)
        return fn(xp, *args)
    return forward


def _value_for(dtype, value):
    # torch converts ``value`` to the computation's scalar type: an integral one truncates.
    return int(value) if dtype.kind in "iu" else value


def _addcmul(xp, self, tensor1, tensor2, value):
    if self.dtype.kind == "b":
        raise _unsupported("addcmul_cpu_out", self.dtype)
    dtype = xp.result_type(self, tensor1, tensor2)
    if xp is np and dtype in (np.float32, np.float64):  # NOTE [Fused multiply-adds]
        scaled = tensor1 if value == 1 else np.multiply(tensor1, dtype.type(value))
        return fma(scaled, tensor2, self, dtype)
    product = xp.multiply(tensor1, tensor2)
    value = _value_for(product.dtype, value)
    return xp.add(self, product if value == 1 else xp.multiply(product, value))


def _addcdiv(xp, self, tensor1, tensor2, value):
    # torch's order (NOTE [Fused multiply-adds]): the value scales tensor1 before the division
    scaled = tensor1 if value == 1 else xp.multiply(tensor1, value)
    return xp.add(self, xp.true_divide(scaled, tensor2))


ADDCMUL = defop(
    "addcmul", node="AddcmulBackward0", nin=3, save={1: (2,), 2: (1,)},
    forward=_half_in_float32_n(_addcmul),
    backward=(lambda grad, self, tensor1, tensor2, value: grad,
              lambda grad, self, tensor1, tensor2, value: grad * (tensor2 * value),
              lambda grad, self, tensor1, tensor2, value: grad * (tensor1 * value)))


def _addcdiv_tensor1(grad, self, tensor1, tensor2, value):
    # torch's ``value / tensor2`` fills a tensor of tensor2's floating dtype with value
    # (rounding it to a half type) and divides that, where ember's number / tensor multiplies
    # a reciprocal
    dt = tensor2._data.dtype
    if dt.kind in "biu":
        return grad * (value / tensor2)
    if reduced_float(dt):
        value = float(np.asarray(value, dt))
    return grad * run(DIV, value, tensor2)


ADDCDIV = defop(
    "addcdiv", node="AddcdivBackward0", nin=3, save={1: (2,), 2: (1, 2)},
    forward=_half_in_float32_n(_addcdiv),
    backward=(lambda grad, self, tensor1, tensor2, value: grad,
              _addcdiv_tensor1,
              lambda grad, self, tensor1, tensor2, value:
                  -grad * (value * tensor1 / (tensor2 * tensor2))))


# fmax/fmin ignore nan: the side that was picked gets the gradient; ties go to ``self``.
FMAX = defop(
    "fmax", node="FmaxBackward0", nin=2, save=(0, 1), forward=_complex_refused("fmax"),
    backward=(lambda grad, self, other: where((self >= other) | other.isnan(), grad, 0.0),
              lambda grad, self, other: where((self >= other) | other.isnan(), 0.0, grad)))
FMIN = defop(
    "fmin", node="FminBackward0", nin=2, save=(0, 1), forward=_complex_refused("fmin"),
    backward=(lambda grad, self, other: where((self <= other) | other.isnan(), grad, 0.0),
              lambda grad, self, other: where((self <= other) | other.isnan(), 0.0, grad)))


def _integer_only(name: str, ufunc):
    def forward(xp, self, other):
        dtype = xp.result_type(self, other)
        if dtype.kind not in "iu" or _wide(dtype):
            raise _unsupported(f"{name}_cpu", dtype)
        return ufunc(self, other)
    return forward


GCD = defop("gcd", nin=2, forward=_integer_only("gcd", np.gcd))
LCM = defop("lcm", nin=2, forward=_integer_only("lcm", np.lcm))


def _signbit(xp, x):
    if x.dtype.kind == "c":
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    if x.dtype.kind in "bu":
        return xp.zeros(x.shape, dtype=bool)
    return x < 0 if x.dtype.kind == "i" else xp.signbit(x)


SIGNBIT = defop("signbit", kind=KEEP, forward=_signbit)


def _ldexp(xp, self, other):
    if self.dtype.itemsize == 2:
        # torch: self * pow(2, other), the power rounded to the half type first (computed in
        # float64: NOTE [Half math on every CPU])
        power = xp.exp2(other, dtype=np.float64).astype(np.float32).astype(self.dtype)
        return xp.multiply(self, power)
    return xp.multiply(self, xp.exp2(other, dtype=self.dtype), dtype=self.dtype)


LDEXP = defop(
    "ldexp", node="LdexpBackward0", nin=2, kind=FLOAT, save={0: (1,), 1: ("result",)},
    forward=_ldexp,
    backward=(lambda grad, self, other, result: grad * other.exp2(),
              lambda grad, self, other, result: grad * result * _LN2))


def _nextafter(xp, self, other):
    if self.dtype.kind not in "fV":  # bfloat16's kind is V
        raise _unsupported("nextafter_cpu", self.dtype)
    return xp.nextafter(self, other)


# torch's node keeps both inputs (``_saved_self``, ``_saved_other``), which its formulas
# do not read
NEXTAFTER = defop("nextafter", node="NextafterBackward0", nin=2, save=(0, 1),
                  forward=_nextafter, backward=(lambda grad, self, other: grad, zero_gradient))


def _frexp(xp, x):
    mantissa, exponent = xp.frexp(x)
    return mantissa, exponent.astype(np.int32, copy=False)


def _frexp_backward(grads, self, result):
    # mantissa = self * 2^-exponent, the exponent constant between powers of two. As torch's
    # formula: 2^exponent in the default dtype, so beyond its range (float64 inputs past
    # 2^128 in float32) the gradient is 0 or inf, as torch's is.
    return grads[0] / result[1].exp2()


# torch's node keeps the exponent (``_saved_exponent``), not the input
FREXP = defop("frexp", node="FrexpBackward0", kind=KEEP, multi=1, save=("result",),
              forward=_frexp, backward=_frexp_backward)
saved_as(FREXP, exponent=saved_output(1))


def _inplace_underivable(name: str):
    """The formula of torch's in-place inverse hyperbolics: their nodes are recorded, but
    backward through them raises torch's error."""
    def formula(grad, self):
        raise NotImplementedError(f"the derivative for 'inplace version of {name}' is not "
                                  "implemented.")
    return formula


# NOTE [Wide unsigned dtypes] (ember/_dtype.py): the ops whose torch kernels refuse uint16,
# uint32 and uint64. The promotion cache refuses them wherever operands promote; a call
# that does not promote (two tensors of one dtype, one tensor alone) is refused by the op's
# check or forward where it has one that reads the dtype: ``_refuse_wide`` below.
for _kernel, _ops in (
        ("add_stub", (ADD, SUB, RSUB, RSUB_TENSOR)),
        ("div_floor_cpu", (FLOOR_DIVIDE,)),
        ("remainder_cpu", (REMAINDER_SCALAR, REMAINDER, RREMAINDER)),
        ("fmod_cpu", (FMOD_SCALAR, FMOD)),
        ("pow", (POW, RPOW)),
        ("lt_cpu", (LT,)), ("le_cpu", (LE,)), ("gt_cpu", (GT,)), ("ge_cpu", (GE,)),
        ("maximum_cpu", (MAXIMUM, CLAMP_MIN)), ("minimum_cpu", (MINIMUM, CLAMP_MAX)),
        ("clamp_min_scalar_cpu", (CLAMP_MIN_SCALAR,)),
        ("clamp_max_scalar_cpu", (CLAMP_MAX_SCALAR,)),
        ("lshift_cpu", (LEFT_SHIFT,)), ("rshift_cpu", (RIGHT_SHIFT,)),
        ("logical_and_cpu", (LOGICAL_AND,)), ("logical_or_cpu", (LOGICAL_OR,)),
        ("logical_xor_cpu", (LOGICAL_XOR,)),
        ("gcd_cpu", (GCD,)), ("lcm_cpu", (LCM,)),
        ("lerp_kernel_scalar", (LERP,)), ("lerp_kernel_tensor", (LERP_TENSOR,))):
    registry.refuse_wide(_kernel, *_ops)
# torch's clamp kernels refuse bool results too (a bool tensor with a bool bound)
registry.refuse_wide("clamp_min_scalar_cpu", CLAMP_MIN_SCALAR, bool_too=True)
registry.refuse_wide("clamp_max_scalar_cpu", CLAMP_MAX_SCALAR, bool_too=True)


def _inplace_op(op, node: str):
    from ember._ops.registry import run_inplace

    inplace_op = defop(op.name + "_", node=node, forward=op.forward,
                       backward=_inplace_underivable(op.name), kind=op.kind, check=op.check)
    inplace_op.promo = op.promo

    def method(self: Tensor) -> Tensor:
        return run_inplace(inplace_op, self)
    method.__name__ = method.__qualname__ = op.name + "_"
    method.__doc__ = (f"Mirrors ``Tensor.{op.name}_``; as in torch, backward through it "
                      "raises.")
    return method


asinh_ = _inplace_op(ASINH, "AsinhBackward1")
acosh_ = _inplace_op(ACOSH, "AcoshBackward1")
atanh_ = _inplace_op(ATANH, "AtanhBackward1")
asinh = arcsinh = _unary_function(ASINH, "asinh")
acosh = arccosh = _unary_function(ACOSH, "acosh")
atanh = arctanh = _unary_function(ATANH, "atanh")
deg2rad = _unary_function(DEG2RAD, "deg2rad")
rad2deg = _unary_function(RAD2DEG, "rad2deg")
signbit = _unary_function(SIGNBIT, "signbit")


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """Mirrors ``torch.addcmul``: ``input + value * tensor1 * tensor2`` (an integral result
    truncates ``value``, as torch does)."""
    _tensors_only("addcmul", input=input, tensor1=tensor1, tensor2=tensor2)
    return run(ADDCMUL, input, tensor1, tensor2, value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """Mirrors ``torch.addcdiv``: ``input + value * tensor1 / tensor2``; two integral
    ``tensor1``/``tensor2`` are refused, as torch does."""
    _tensors_only("addcdiv", input=input, tensor1=tensor1, tensor2=tensor2)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) "
            "for float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    return run(ADDCDIV, input, tensor1, tensor2, value)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.fmax``: the elementwise maximum, a nan losing to a number."""
    _tensors_only("fmax", input=input, other=other)
    return run(FMAX, input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.fmin``: the elementwise minimum, a nan losing to a number."""
    _tensors_only("fmin", input=input, other=other)
    return run(FMIN, input, other)


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.gcd``: integer tensors only; the result is non-negative."""
    _tensors_only("gcd", input=input, other=other)
    return run(GCD, input, other)


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.lcm``: integer tensors only; the result is non-negative."""
    _tensors_only("lcm", input=input, other=other)
    return run(LCM, input, other)


def positive(input: Tensor) -> Tensor:
    """Mirrors ``torch.positive``: ``input`` itself (bool refused)."""
    try:
        if input._data.dtype.kind == "b":
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    except AttributeError as error:
        refuse_non_tensor("positive", error, input, "input")
        raise
    return input


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.ldexp``: ``input * 2 ** other`` in a floating dtype."""
    _tensors_only("ldexp", input=input, other=other)
    return run(LDEXP, input, other)


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.nextafter``: the next representable value after ``input`` towards
    ``other``."""
    _tensors_only("nextafter", input=input, other=other)
    return run(NEXTAFTER, input, other)


def frexp(input: Tensor):
    """Mirrors ``torch.frexp``: ``torch.return_types.frexp(mantissa, exponent)``, mantissa in
    [0.5, 1) in magnitude and an int32 exponent with ``input = mantissa * 2 ** exponent``."""
    from ember._ops.reduction import return_types

    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return return_types.frexp(run(FREXP, input))


attach({
    "asinh": asinh, "arcsinh": asinh, "acosh": acosh, "arccosh": acosh, "atanh": atanh,
    "arctanh": atanh, "deg2rad": deg2rad, "rad2deg": rad2deg, "signbit": signbit,
    "addcmul": addcmul, "addcdiv": addcdiv, "fmax": fmax, "fmin": fmin, "gcd": gcd,
    "lcm": lcm, "positive": positive, "__pos__": positive, "ldexp": ldexp,
    "nextafter": nextafter, "frexp": frexp,
    "asinh_": asinh_, "arcsinh_": asinh_, "acosh_": acosh_, "arccosh_": acosh_,
    "atanh_": atanh_, "arctanh_": atanh_,
})

attach({
    "floor": floor, "ceil": ceil, "round": round, "trunc": trunc, "fix": trunc, "frac": frac,
    "sgn": sgn, "square": square, "exp2": exp2, "float_power": float_power,
    "erf": erf, "erfc": erfc, "erfinv": erfinv, "lgamma": lgamma, "digamma": digamma,
    "polygamma": lambda self, n: polygamma(n, self), "sinc": sinc, "logit": logit,
    "nan_to_num": nan_to_num, "atan2": atan2, "arctan2": arctan2, "hypot": hypot,
    "lerp": lerp, "xlogy": xlogy, "logaddexp": logaddexp, "logaddexp2": logaddexp2,
    "fmod": fmod, "copysign": copysign, "heaviside": heaviside, "clamp_min": clamp_min,
    "clamp_max": clamp_max, "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "isposinf": isposinf, "isneginf": isneginf, "isclose": isclose, "allclose": allclose,
    "equal": equal, "bitwise_left_shift": bitwise_left_shift,
    "bitwise_right_shift": bitwise_right_shift, "logical_and": logical_and,
    "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "__lshift__": _dunder(LEFT_SHIFT), "__rlshift__": _dunder(LEFT_SHIFT, True),
    "__rshift__": _dunder(RIGHT_SHIFT), "__rrshift__": _dunder(RIGHT_SHIFT, True),
    "__invert__": _invert,
})

__all__ = [
    "real", "imag", "conj", "angle", "is_complex", "conj_physical", "is_conj", "is_neg",
    "resolve_conj", "resolve_neg",
    "abs", "absolute", "acos", "add", "allclose", "arccos", "arcsin", "arctan", "arctan2",
    "asin", "atan", "atan2", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "ceil", "clamp", "clamp_max", "clamp_min", "clip",
    "copysign", "cos", "cosh", "digamma", "div", "divide", "eq", "equal", "erf", "erfc",
    "erfinv", "exp", "exp2", "expm1", "fix", "float_power", "floor", "floor_divide", "fmod",
    "frac", "ge", "greater", "greater_equal", "gt", "heaviside", "hypot", "isclose",
    "isfinite", "isinf", "isnan", "isneginf", "isposinf", "le", "lerp", "less", "less_equal",
    "lgamma", "log", "log1p", "log2", "log10", "logaddexp", "logaddexp2", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logit", "lt", "maximum", "minimum", "mul",
    "multiply", "nan_to_num", "ne", "neg", "negative", "not_equal", "polygamma", "pow",
    "reciprocal", "relu", "remainder", "round", "rsqrt", "rsub", "sgn", "sigmoid", "sign",
    "sin", "sinc", "sinh", "sqrt", "square", "sub", "subtract", "tan", "tanh", "true_divide",
    "trunc", "where", "xlogy",
]
__all__ += [
    "asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh", "deg2rad", "rad2deg",
    "signbit", "addcmul", "addcdiv", "fmax", "fmin", "gcd", "lcm", "positive", "ldexp",
    "nextafter", "frexp",
]


# ---- in-place comparisons: eq_, ne_, lt_, le_, gt_, ge_ and their aliases --------------------
# torch records a node for them (GtBackward0 against a number, GtBackward1 against a tensor)
# whose gradients are zeros, so the overwritten tensor's history stops there instead of
# passing gradients through values the comparison replaced.

def _compare_inplace(op, name: str):
    from ember._ops.registry import inplace, number_operands

    node = name.capitalize() + "Backward"
    # the number compares as in ``op`` (uint8.lt_(-1) with 255, uint16 refused by the
    # order kernels), though the node has one edge
    number_op = defop(name + "_", node=node + "0", nin=1, kind=COMPARE,
                      forward=lambda xp, x, other: op.forward(xp, *number_operands(op, x, other)),
                      backward=zero_gradient)
    tensor_op = defop(name + "_", node=node + "1", nin=2, kind=COMPARE, forward=op.forward,
                      backward=(zero_gradient, zero_gradient))

    def compare(self: Tensor, other) -> Tensor:
        return run(tensor_op if isinstance(other, Tensor) else number_op, self, other)

    def method(self: Tensor, other) -> Tensor:
        return inplace(compare, self, other)
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = (f"Mirrors ``Tensor.{name}_``: ``self`` becomes 1 where ``self {name} "
                      "other`` holds, else 0; gradients through it are zeros, as in torch.")
    return method


eq_ = _compare_inplace(EQ, "eq")
ne_ = _compare_inplace(NE, "ne")
lt_ = _compare_inplace(LT, "lt")
le_ = _compare_inplace(LE, "le")
gt_ = _compare_inplace(GT, "gt")
ge_ = _compare_inplace(GE, "ge")

attach({"eq_": eq_, "ne_": ne_, "lt_": lt_, "le_": le_, "gt_": gt_, "ge_": ge_,
        "not_equal_": ne_, "less_": lt_, "less_equal_": le_, "greater_": gt_,
        "greater_equal_": ge_})


# ---- complex, polar, i0 (and special.i1, its derivative) -------------------------------


def _complex_check(name: str, first: str, second: str):
    def check(a, b, marker) -> None:
        if not isinstance(a, Tensor) or not isinstance(b, Tensor):
            _tensors_only(name, **{first: a, second: b})
        kinds = (a._data.dtype, b._data.dtype)
        if any(k not in (np.float16, np.float32, np.float64) for k in kinds):
            raise RuntimeError(
                "Expected both inputs to be Half, Float or Double tensors but got "
                f"{scalar_type_name(a.dtype)} and {scalar_type_name(b.dtype)}")
        if kinds[0] != kinds[1]:
            raise RuntimeError(
                f"Expected object of scalar type {scalar_type_name(a.dtype)} but got scalar "
                f"type {scalar_type_name(b.dtype)} for second argument")
        if kinds[0] == np.float16:
            raise TypeError("ember has no complex32 (torch's ComplexHalf); use float32 parts")
    return check


def _from_parts(xp, real_part, imag_part):
    # Parts are written separately: real + 1j * imag would turn an infinite imaginary part
    # into a nan real part (0 * inf).
    real_part, imag_part = xp.broadcast_arrays(real_part, imag_part)
    out = xp.empty(real_part.shape, xp.result_type(real_part.dtype, xp.complex64))
    out.real = real_part
    out.imag = imag_part
    return out


# complex and polar take a complex zero after their inputs and promote it with them: the
# result dtype is then the parts' complex counterpart (float32 -> complex64), which ``run``
# gives the result; the inputs arrive as complex arrays whose real parts are the values.
_COMPLEX_RESULT = 0j


def _complex_forward(xp, real, imag, marker):
    return _from_parts(xp, real.real, imag.real)


def _polar_forward(xp, abs, angle, marker):
    abs, angle = abs.real, angle.real
    return _from_parts(xp, abs * xp.cos(angle), abs * xp.sin(angle))


COMPLEX = defop("complex", node="ComplexBackward0", nin=2, kind=KEEP, promote=(0, 1, 2),
                check=_complex_check("complex", "real", "imag"), forward=_complex_forward,
                real_formulas=False,
                backward=(lambda grad, real, imag, marker: grad.real,
                          lambda grad, real, imag, marker: grad.imag))


def _polar_backward_abs(grad, abs, angle, marker):
    # torch's direction is sgn(result): a negative abs turns it round, and 0 gives 0
    return (grad.conj() * run(POLAR, abs, angle, marker).sgn()).real


def _polar_backward_angle(grad, abs, angle, marker):
    # d out / d angle = i * out, and Re(conj(grad) * i * out) = -Im(conj(grad) * out)
    return -(grad.conj() * run(POLAR, abs, angle, marker)).imag


POLAR = defop("polar", node="PolarBackward0", nin=2, kind=KEEP, promote=(0, 1, 2),
              save=(0, 1), check=_complex_check("polar", "abs", "angle"), real_formulas=False,
              forward=_polar_forward, backward=(_polar_backward_abs, _polar_backward_angle))


# ``complex`` shadows the builtin in this module from here on: code above names it
# ``builtins.complex``.
def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch's name
    """Mirrors ``torch.complex``: the complex tensor ``real + imag * 1j`` (broadcast) from
    two float32 or float64 tensors of one dtype. ember has no complex32, so half-precision
    parts are refused where torch gives ComplexHalf."""
    return run(COMPLEX, real, imag, _COMPLEX_RESULT)


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - torch's names
    """Mirrors ``torch.polar``: ``abs * (cos(angle) + sin(angle) * 1j)``, with
    ``complex``'s dtype rules."""
    return run(POLAR, abs, angle, _COMPLEX_RESULT)


_I1_SERIES_TERMS = 80     # enough for |x| < _I1_ASYMPTOTIC_FROM at float64 precision
_I1_ASYMPTOTIC_FROM = 25.0
_I1_ASYMPTOTIC_TERMS = 40  # the series' terms shrink below 1e-20 of the sum from x = 25


def _i1_kernel(x):
    """The modified Bessel function of the first kind of order one, to float64 precision:
    its power series sum (x/2)^(2k+1) / (k! (k+1)!) below 25 (all terms positive, so no
    cancellation) and Hankel's asymptotic expansion above. I1 is odd."""
    x = np.asarray(x, np.float64)
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < _I1_ASYMPTOTIC_FROM
    xs = ax[small]
    term = xs / 2
    half_square = term * term
    total = term.copy()
    for k in range(1, _I1_SERIES_TERMS):
        term = term * half_square / (k * (k + 1))
        total += term
    out[small] = total
    xb = ax[~small]
    term = np.ones_like(xb)
    series = term.copy()
    for k in range(1, _I1_ASYMPTOTIC_TERMS):
        term = term * ((2 * k - 1) ** 2 - 4) / (8 * k * xb)
        series += term
    with np.errstate(over="ignore", invalid="ignore"):
        # e^x overflows past 709.78 a little before I1 does; torch gives inf there too
        out[~small] = np.exp(xb) * series / np.sqrt(2 * np.pi * xb)
    out[np.isnan(ax)] = np.nan
    return np.copysign(out, x)


def _no_complex_kernel(kernel: str):
    def check(self) -> None:
        if self._data.dtype.kind == "c":
            raise NotImplementedError(
                f"\"{kernel}\" not implemented for '{scalar_type_name(self.dtype)}'")
    return check


def _i0_forward(xp, x):
    with np.errstate(over="ignore", invalid="ignore"):  # inf past 713; nan at +-inf, as torch
        return xp.asarray(xp.i0(x.astype(np.float64))).astype(x.dtype, copy=False)


def _i1_forward(xp, x):
    return _i1_kernel(x).astype(x.dtype, copy=False)


I1 = defop("special_i1", node="SpecialI1Backward0", kind=FLOAT, save=(0, "result"),
           check=_no_complex_kernel("i1_cpu"),
           forward=_half_via(_i1_forward),
           # I1' = I0 - I1 / x, whose limit at 0 is 1/2
           backward=lambda grad, self, result: grad * where(
               self == 0, 0.5, run(I0, self) - result / where(self == 0, 1.0, self)))
I0 = defop("i0", node="I0Backward0", kind=FLOAT, save=(0,),
           check=_no_complex_kernel("i0_vml_cpu"),
           forward=_half_via(_i0_forward),
           backward=lambda grad, self: grad * run(I1, self))


def i0(input: Tensor) -> Tensor:
    """Mirrors ``torch.i0`` (and ``torch.special.i0``): the modified Bessel function of the
    first kind of order zero; integers give the default float dtype."""
    return run(I0, input)


def i1(input: Tensor) -> Tensor:
    """Mirrors ``torch.special.i1``: the modified Bessel function of the first kind of order
    one (ember's own kernel, to float64 precision)."""
    return run(I1, input)


def i0_(self: Tensor) -> Tensor:
    """Mirrors ``Tensor.i0_``."""
    from ember._ops.registry import run_inplace

    return run_inplace(I0, self)


attach({"i0": i0, "i0_": i0_})
__all__ += ["complex", "polar", "i0"]
