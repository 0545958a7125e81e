"""Elementwise ops: arithmetic, comparisons, unary math, clamp, where.

Each record's backward formulas follow torch's derivatives (derivatives.yaml vocabulary:
``grad``, ``self``, ``other``, ``exponent``, ``result``) and are written in ember ops, so
they are differentiable again. Broadcast gradients are reduced by the engine
(``graph.fit_gradient``), never here.
"""
from __future__ import annotations

import math

from ember._dtype import scalar_type_name
from ember._ops._promote import OperandTypeError
from ember._ops.registry import COMPARE, FLOAT, KEEP, attach, defop, not_implemented, run
from ember._tensor import Tensor

# ---- arithmetic ---------------------------------------------------------------------


def _scaled(grad, alpha):
    return grad if alpha == 1 else grad * alpha


ADD = defop(
    "add", node="AddBackward0", nin=2,
    forward=lambda xp, self, other, alpha: (
        xp.add(self, other) if alpha == 1 else xp.add(self, xp.multiply(other, alpha))),
    backward=(lambda grad, self, other, alpha: grad,
              lambda grad, self, other, alpha: _scaled(grad, alpha)))

def _is_bool(x) -> bool:
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b")


def _no_bool_sub(self, other, alpha=1) -> None:
    if _is_bool(self) and _is_bool(other) and isinstance(self, Tensor) \
            and isinstance(other, Tensor):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead.")
    if (isinstance(self, Tensor) and _is_bool(self)) or (
            isinstance(other, Tensor) and _is_bool(other)):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _refuse_bool(message: str, error: type = RuntimeError):
    def check(self, *params) -> None:
        if self._data.dtype.kind == "b":
            raise error(message)
    return check


SUB = defop(
    "sub", node="SubBackward0", nin=2, check=_no_bool_sub,
    forward=lambda xp, self, other, alpha: (
        xp.subtract(self, other) if alpha == 1
        else xp.subtract(self, xp.multiply(other, alpha))),
    backward=(lambda grad, self, other, alpha: grad,
              lambda grad, self, other, alpha: _scaled(-grad, alpha)))

# ``number - tensor``: torch's rsub with a Scalar ``other`` (``self`` is the tensor).
RSUB = defop(
    "rsub", node="RsubBackward1", nin=2, check=_no_bool_sub,
    forward=lambda xp, self, other, alpha: (
        xp.subtract(other, self) if alpha == 1
        else xp.subtract(other, xp.multiply(self, alpha))),
    backward=(lambda grad, self, other, alpha: _scaled(-grad, alpha),
              lambda grad, self, other, alpha: grad))

MUL = defop(
    "mul", node="MulBackward0", nin=2, save=(0, 1),
    forward=lambda xp, self, other: xp.multiply(self, other),
    backward=(lambda grad, self, other: grad * other,
              lambda grad, self, other: grad * self))

DIV = defop(
    "div", node="DivBackward0", nin=2, kind=FLOAT, save=(0, 1),
    forward=lambda xp, self, other: xp.true_divide(self, other),
    backward=(lambda grad, self, other: grad / other,
              lambda grad, self, other: -grad * ((self / other) / other)))



def _div_rounded(xp, self, other, mode):
    if mode == "floor":
        return xp.floor_divide(self, other)  # Python's floor division, as torch's
    if xp.result_type(self, other).kind == "f":
        return xp.trunc(xp.true_divide(self, other))
    quotient = xp.floor_divide(self, other)
    inexact = (xp.remainder(self, other) != 0) & ((xp.less(self, 0)) != (xp.less(other, 0)))
    return quotient + inexact


# The rounded quotient is piecewise constant: its gradient is zero almost everywhere.
DIV_ROUNDED = defop(
    "div", node="DivBackward2", nin=2,
    forward=_div_rounded,
    backward=(lambda grad, self, other, mode: grad * 0,
              lambda grad, self, other, mode: grad * 0))

FLOOR_DIVIDE = defop(
    "floor_divide", node="NotImplemented", nin=2,
    forward=lambda xp, self, other: _div_rounded(xp, self, other, "floor"),
    backward=(not_implemented("floor_divide"), not_implemented("floor_divide")))


def _remainder(xp, self, other):
    return xp.remainder(self, other)


REMAINDER_SCALAR = defop(
    "remainder", node="RemainderBackward0", nin=2,
    forward=_remainder,
    backward=(lambda grad, self, other: grad, None))

REMAINDER = defop(
    "remainder", node="RemainderBackward1", nin=2, save=(0, 1),
    forward=_remainder,
    backward=(lambda grad, self, other: grad,
              lambda grad, self, other: -grad * div(self, other, rounding_mode="floor")))

RREMAINDER = defop(
    "remainder", node="NotImplemented", nin=2,
    forward=lambda xp, self, other: xp.remainder(other, self),
    backward=(not_implemented("remainder"), None))


def _pow_backward(grad, self, exponent):
    if exponent == 0:
        return grad * 0
    return grad * (exponent * self.pow(exponent - 1))


POW_SCALAR = defop(
    "pow", node="PowBackward0", nin=1, promote=(0, 1), save=(0,),
    forward=lambda xp, self, exponent: xp.power(self, exponent),
    backward=_pow_backward)

POW = defop(
    "pow", node="PowBackward1", nin=2, save=(0, 1, "result"),
    forward=lambda xp, self, exponent: xp.power(self, exponent),
    backward=(
        lambda grad, self, exponent, result: where(
            exponent == 0, 0.0, grad * (exponent * self.pow(exponent - 1))),
        lambda grad, self, exponent, result: grad * where(
            (self == 0) & (exponent >= 0), 0.0, result * self.log())))



def _rpow_backward(grad, exponent, base, result):
    if base == 0:  # d/dx 0**x: 0 where x >= 0 (torch's convention), else -inf-scaled
        return grad * where(exponent >= 0, 0.0, result * -math.inf)
    return grad * (result * (math.log(base) if base > 0 else math.nan))


# ``number ** tensor`` (torch's pow.Scalar): the number is a parameter, not an edge.
RPOW = defop(
    "pow", node="PowBackward2", nin=1, promote=(0, 1), save=(0, "result"),
    forward=lambda xp, exponent, base: xp.power(base, exponent),
    backward=_rpow_backward)

RECIPROCAL = defop(
    "reciprocal", node="ReciprocalBackward0", kind=FLOAT, save=("result",),
    forward=lambda xp, x: xp.reciprocal(x),
    backward=lambda grad, self, result: -grad * (result * result))

NEG = defop("neg", node="NegBackward0", forward=lambda xp, self: xp.negative(self),
            backward=lambda grad, self: -grad,
            check=_refuse_bool(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead."))

# ---- comparisons and logic (no gradient) ---------------------------------------------

EQ = defop("eq", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.equal(a, b))
NE = defop("ne", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.not_equal(a, b))
LT = defop("lt", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.less(a, b))
LE = defop("le", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.less_equal(a, b))
GT = defop("gt", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.greater(a, b))
GE = defop("ge", nin=2, kind=COMPARE, forward=lambda xp, a, b: xp.greater_equal(a, b))
BITWISE_AND = defop("bitwise_and", nin=2, forward=lambda xp, a, b: xp.bitwise_and(a, b))
BITWISE_OR = defop("bitwise_or", nin=2, forward=lambda xp, a, b: xp.bitwise_or(a, b))
BITWISE_XOR = defop("bitwise_xor", nin=2, forward=lambda xp, a, b: xp.bitwise_xor(a, b))
BITWISE_NOT = defop("bitwise_not", kind=KEEP,
                    forward=lambda xp, a: xp.logical_not(a) if a.dtype == bool else xp.invert(a))

# ---- unary math ----------------------------------------------------------------------

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _unary(name, node, fn, backward, save, kind=FLOAT, check=None):
    return defop(name, node=node, forward=fn, backward=backward, save=save, kind=kind,
                 check=check)


EXP = _unary("exp", "ExpBackward0", lambda xp, x: xp.exp(x),
             lambda grad, self, result: grad * result, ("result",))
LOG = _unary("log", "LogBackward0", lambda xp, x: xp.log(x),
             lambda grad, self: grad / self, (0,))
LOG2 = _unary("log2", "Log2Backward0", lambda xp, x: xp.log2(x),
              lambda grad, self: grad / (self * _LN2), (0,))
LOG10 = _unary("log10", "Log10Backward0", lambda xp, x: xp.log10(x),
               lambda grad, self: grad / (self * _LN10), (0,))
LOG1P = _unary("log1p", "Log1PBackward0", lambda xp, x: xp.log1p(x),
               lambda grad, self: grad / (self + 1), (0,))
EXPM1 = _unary("expm1", "Expm1Backward0", lambda xp, x: xp.expm1(x),
               lambda grad, self, result: grad * (result + 1), ("result",))
SQRT = _unary("sqrt", "SqrtBackward0", lambda xp, x: xp.sqrt(x),
              lambda grad, self, result: grad / (2 * result), ("result",))
RSQRT = _unary("rsqrt", "RsqrtBackward0", lambda xp, x: xp.reciprocal(xp.sqrt(x)),
               lambda grad, self, result: -0.5 * grad * result.pow(3), ("result",))
SIN = _unary("sin", "SinBackward0", lambda xp, x: xp.sin(x),
             lambda grad, self: grad * self.cos(), (0,))
COS = _unary("cos", "CosBackward0", lambda xp, x: xp.cos(x),
             lambda grad, self: grad * -self.sin(), (0,))
TAN = _unary("tan", "TanBackward0", lambda xp, x: xp.tan(x),
             lambda grad, self, result: grad * (1 + result.pow(2)), ("result",))
ASIN = _unary("asin", "AsinBackward0", lambda xp, x: xp.arcsin(x),
              lambda grad, self: grad * (-self * self + 1).rsqrt(), (0,))
ACOS = _unary("acos", "AcosBackward0", lambda xp, x: xp.arccos(x),
              lambda grad, self: grad * -((-self * self + 1).rsqrt()), (0,))
ATAN = _unary("atan", "AtanBackward0", lambda xp, x: xp.arctan(x),
              lambda grad, self: grad / (self * self + 1), (0,))
SINH = _unary("sinh", "SinhBackward0", lambda xp, x: xp.sinh(x),
              lambda grad, self: grad * self.cosh(), (0,))
COSH = _unary("cosh", "CoshBackward0", lambda xp, x: xp.cosh(x),
              lambda grad, self: grad * self.sinh(), (0,))
TANH = _unary("tanh", "TanhBackward0", lambda xp, x: xp.tanh(x),
              lambda grad, self, result: grad * (1 - result * result), ("result",))


def _sigmoid(xp, x):
    # 1 / (1 + e^-x), as torch computes it; e^-x overflowing to inf gives exactly 0.
    return xp.reciprocal(xp.add(xp.exp(xp.negative(x)), 1, dtype=x.dtype))


SIGMOID = _unary("sigmoid", "SigmoidBackward0", _sigmoid,
                 lambda grad, self, result: grad * ((1 - result) * result), ("result",))
ABS = _unary("abs", "AbsBackward0", lambda xp, x: xp.absolute(x),
             lambda grad, self: grad * self.sign(), (0,), kind=KEEP,
             check=_refuse_bool('"abs_cpu" not implemented for \'Bool\'', NotImplementedError))


def _sign(xp, x):
    if x.dtype.kind == "b":
        return x.copy()
    # torch's sign(nan) is 0
    return xp.where(x != x, 0, xp.sign(x)).astype(x.dtype, copy=False)


SIGN = _unary("sign", "SignBackward0", _sign, lambda grad, self: grad * 0, (), kind=KEEP)
RELU = _unary("relu", "ReluBackward0", lambda xp, x: xp.maximum(x, 0),
              lambda grad, self, result: where(result <= 0, 0.0, grad), ("result",), kind=KEEP,
              check=_refuse_bool("Boolean inputs not supported for relu"))

# ---- clamp, maximum, minimum, where --------------------------------------------------


def _in_bounds(self, lo, hi):
    if lo is None:
        return self <= hi
    if hi is None:
        return self >= lo
    return (self >= lo) & (self <= hi)


def _clamp(xp, self, lo, hi):
    if lo is not None and hi is not None:
        return xp.minimum(xp.maximum(self, lo), hi)
    if lo is not None:
        return xp.maximum(self, lo)
    return xp.minimum(self, hi)


CLAMP_SCALAR = defop(
    "clamp", node="ClampBackward1", nin=1, promote=(0, 1, 2), save=(0,),
    forward=_clamp,
    backward=lambda grad, self, lo, hi: where(_in_bounds(self, lo, hi), grad, 0.0))

CLAMP = defop(
    "clamp", node="ClampBackward0", nin=3, save=(0, 1, 2),
    forward=_clamp,
    backward=(lambda grad, self, lo, hi: where(_in_bounds(self, lo, hi), grad, 0.0),
              lambda grad, self, lo, hi: where(self < lo, grad, 0.0),
              lambda grad, self, lo, hi: where(self > hi, grad, 0.0)))


def _ties_split(grad, self, other, keep):
    # torch gives each side half the gradient where the two inputs are equal.
    return where(self == other, grad / 2, where(keep, grad, 0.0))


MAXIMUM = defop(
    "maximum", node="MaximumBackward0", nin=2, save=(0, 1),
    forward=lambda xp, self, other: xp.maximum(self, other),
    backward=(lambda grad, self, other: _ties_split(grad, self, other, self > other),
              lambda grad, self, other: _ties_split(grad, self, other, self < other)))

MINIMUM = defop(
    "minimum", node="MinimumBackward0", nin=2, save=(0, 1),
    forward=lambda xp, self, other: xp.minimum(self, other),
    backward=(lambda grad, self, other: _ties_split(grad, self, other, self < other),
              lambda grad, self, other: _ties_split(grad, self, other, self > other)))

WHERE = defop(
    "where", node="WhereBackward0", nin=3, promote=(1, 2), save=(0,),
    forward=lambda xp, condition, self, other: xp.where(condition, self, other),
    backward=(None,
              lambda grad, condition, self, other: where(condition, grad, 0.0),
              lambda grad, condition, self, other: where(condition, 0.0, grad)))


# ---- the public functions (torch.f and Tensor.f) -------------------------------------


def add(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.add``: ``input + alpha * other``."""
    return run(ADD, input, other, alpha)


def sub(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.sub``: ``input - alpha * other``."""
    return run(SUB, input, other, alpha)


subtract = sub


def rsub(input, other, *, alpha=1) -> Tensor:
    """Mirrors ``torch.rsub``: ``other - alpha * input``."""
    if isinstance(other, Tensor):
        return run(SUB, other, input, alpha)
    return run(RSUB, input, other, alpha)


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


divide = true_divide = div


def floor_divide(input, other) -> Tensor:
    """Mirrors ``torch.floor_divide`` (rounds toward negative infinity)."""
    return run(FLOOR_DIVIDE, input, other)


def remainder(input, other) -> Tensor:
    """Mirrors ``torch.remainder``: Python's modulus, the sign of the divisor."""
    if not isinstance(input, Tensor):
        return run(RREMAINDER, other, input)
    if isinstance(other, Tensor):
        return run(REMAINDER, input, other)
    return run(REMAINDER_SCALAR, input, other)


def pow(input, exponent) -> Tensor:  # noqa: A001 - torch's name
    """Mirrors ``torch.pow`` (three overloads, three nodes, as in torch)."""
    if not isinstance(input, Tensor):
        return run(RPOW, exponent, input)
    if isinstance(exponent, Tensor):
        return run(POW, input, exponent)
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
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return run(CLAMP, input, min, max)
    return run(CLAMP_SCALAR, input, min, max)


clip = clamp


def maximum(input, other) -> Tensor:
    """Mirrors ``torch.maximum`` (nan propagates; ties split the gradient)."""
    return run(MAXIMUM, input, other)


def minimum(input, other) -> Tensor:
    """Mirrors ``torch.minimum``."""
    return run(MINIMUM, input, other)


def where(condition, input=None, other=None) -> Tensor:
    """Mirrors ``torch.where(condition, input, other)``; inputs may be numbers."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if condition._data.dtype != bool:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            + scalar_type_name(condition.dtype))
    return run(WHERE, condition, input, other)


def eq(input, other) -> Tensor:
    """Mirrors ``torch.eq``."""
    return run(EQ, input, other)


def ne(input, other) -> Tensor:
    """Mirrors ``torch.ne``."""
    return run(NE, input, other)


def lt(input, other) -> Tensor:
    """Mirrors ``torch.lt``."""
    return run(LT, input, other)


def le(input, other) -> Tensor:
    """Mirrors ``torch.le``."""
    return run(LE, input, other)


def gt(input, other) -> Tensor:
    """Mirrors ``torch.gt``."""
    return run(GT, input, other)


def ge(input, other) -> Tensor:
    """Mirrors ``torch.ge``."""
    return run(GE, input, other)


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def bitwise_and(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_and`` (logical and for bool tensors)."""
    return run(BITWISE_AND, input, other)


def bitwise_or(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_or``."""
    return run(BITWISE_OR, input, other)


def bitwise_xor(input, other) -> Tensor:
    """Mirrors ``torch.bitwise_xor``."""
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
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": div, "floor_divide": floor_divide, "remainder": remainder,
    "pow": pow, "reciprocal": reciprocal, "neg": neg, "negative": neg, "exp": exp, "log": log,
    "log2": log2,
    "log10": log10, "log1p": log1p, "expm1": expm1, "sqrt": sqrt, "rsqrt": rsqrt, "sin": sin,
    "cos": cos, "tan": tan, "asin": asin, "arcsin": asin, "acos": acos, "arccos": acos,
    "atan": atan, "arctan": atan, "sinh": sinh, "cosh": cosh, "tanh": tanh,
    "sigmoid": sigmoid, "abs": abs, "absolute": abs, "sign": sign, "relu": relu,
    "clamp": clamp, "clip": clamp, "maximum": maximum, "minimum": minimum, "eq": eq,
    "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne, "less": lt,
    "less_equal": le, "greater": gt, "greater_equal": ge, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "where": lambda self, condition, other: where(condition, self, other),
    "__add__": _dunder(ADD, alpha=True), "__radd__": _dunder(ADD, alpha=True),
    "__sub__": _dunder(SUB, alpha=True), "__rsub__": _dunder(RSUB, alpha=True),
    "__mul__": _dunder(MUL), "__rmul__": _dunder(MUL),
    "__truediv__": _dunder(DIV), "__rtruediv__": _dispatching_dunder(_rtruediv),
    "__floordiv__": _dunder(FLOOR_DIVIDE), "__rfloordiv__": _dunder(FLOOR_DIVIDE, True),
    "__mod__": _dispatching_dunder(remainder), "__rmod__": _dunder(RREMAINDER),
    "__pow__": _dispatching_dunder(pow), "__rpow__": _dispatching_dunder(pow, True),
    "__neg__": neg, "__abs__": abs, "__invert__": bitwise_not,
    "__eq__": _dunder(EQ), "__ne__": _dunder(NE), "__lt__": _dunder(LT), "__le__": _dunder(LE),
    "__gt__": _dunder(GT), "__ge__": _dunder(GE),
    "__and__": _dunder(BITWISE_AND), "__or__": _dunder(BITWISE_OR),
    "__xor__": _dunder(BITWISE_XOR), "__rand__": _dunder(BITWISE_AND),
    "__ror__": _dunder(BITWISE_OR), "__rxor__": _dunder(BITWISE_XOR),
})
