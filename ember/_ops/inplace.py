"""The in-place forms (``add_``, ``x += y``, ...) of the ops in the other tables.

Each is the out-of-place op written back into ``self`` by ``registry.inplace``, which
keeps torch's semantics: version counters, refusal on leaves that require grad, dtype
casting rules, and the history moved onto the new node. Imported after the op tables.
"""
from __future__ import annotations

from ember import _dtype
from ember._ops.registry import KEEP, attach, check_no_overlap, defop, inplace, run
from ember._tensor import Tensor, method_taking_tensor

# torch's in-place methods whose out-of-place op ember has; a name missing on Tensor is
# skipped, so the list can run ahead of the tables.
NAMES = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "pow", "neg", "negative", "abs", "absolute", "exp", "log",
    "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos",
    "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "relu", "clamp",
    "clip", "reciprocal", "sign", "sgn", "maximum", "minimum", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "floor", "ceil", "round",
    "trunc", "fix", "frac", "square", "exp2", "atan2", "arctan2", "hypot", "lerp", "erf",
    "erfc", "erfinv", "lgamma", "digamma", "xlogy", "sinc", "logit", "nan_to_num", "fmod",
    "copysign", "float_power", "heaviside", "logical_and", "logical_or", "logical_xor",
    "logical_not", "bitwise_left_shift", "bitwise_right_shift", "clamp_min", "clamp_max",
    "cumsum", "cumprod", "conj_physical",
)
# The in-place forms of addcmul/addcdiv (optimizers' updates), tril/triu and the
# matrix-product accumulations. (The comparisons' and the view ops' in-place forms are their
# tables' own: they record nodes of their own.)
NAMES += (
    "addcmul", "addcdiv", "deg2rad", "rad2deg", "gcd", "lcm", "ldexp", "nextafter", "tril",
    "triu", "addmm", "addmv", "addbmm", "baddbmm", "addr",
)

# The augmented operators and the in-place method each one is.
AUGMENTED = {
    "__iadd__": "add", "__isub__": "sub", "__imul__": "mul", "__itruediv__": "div",
    "__idiv__": "div",
    "__ifloordiv__": "floor_divide", "__imod__": "remainder", "__ipow__": "pow",
    "__iand__": "bitwise_and", "__ior__": "bitwise_or", "__ixor__": "bitwise_xor",
    "__ilshift__": "bitwise_left_shift", "__irshift__": "bitwise_right_shift",
}


def _inplace_method(name: str, fn):
    def method(self, *args, **kwargs):
        # torch refuses an operand that partially overlaps self (NOTE [Memory overlap]); only
        # a view of the same memory can (it shares the version counter)
        if kwargs:
            check_no_overlap(self, *args, *kwargs.values(), partial_only=True)
        else:
            vc = self._vc
            for a in args:
                if type(a) is Tensor and a._vc is vc:
                    check_no_overlap(self, *args, partial_only=True)
                    break
        return inplace(fn, self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"Mirrors ``Tensor.{name}_``: ``{name}`` written into ``self``."
    tensors = getattr(fn, "tensor_arguments", None)
    return method if tensors is None else method_taking_tensor(method, *tensors)


def _number_bounded(fn):
    """clamp's in-place forms: with number bounds, torch's dtype error names the C++ type of
    ``self`` (``long int``, not ``Long``)."""
    def bounded(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        have, want = out._data.dtype, self._data.dtype
        if have != want and not _dtype.can_cast_np(have, want) and not any(
                isinstance(b, Tensor) for b in (*args, *kwargs.values())):
            raise RuntimeError(
                f"result type {_dtype.scalar_type_name(_dtype.from_np(have))} can't be cast to "
                f"the desired output type {_dtype.cpp_type_name(want)}")
        return out
    return bounded


_NUMBER_BOUNDED = ("clamp", "clip", "clamp_min", "clamp_max")


def _scan_inplace(name: str, fn):
    """cumsum_/cumprod_: torch scans in ``self``'s own dtype (an int8 tensor's cumsum_ wraps
    in int8, a bool one has no kernel) and refuses a ``dtype`` other than it."""
    def scan_(self, *args, dtype=None, **kwargs):
        if dtype is not None and dtype is not self.dtype:
            raise RuntimeError(
                f"Bad in-place call: input tensor dtype {_dtype.cpp_type_name(self.dtype)} and "
                f"output tensor dtype {_dtype.cpp_type_name(dtype)} should match")
        return inplace(fn, self, *args, dtype=self.dtype, **kwargs)
    scan_.__name__ = scan_.__qualname__ = name + "_"
    scan_.__doc__ = f"Mirrors ``Tensor.{name}_``: ``{name}`` in ``self``'s dtype, into ``self``."
    return scan_


_SCANS = ("cumsum", "cumprod")


def _float_power_(self, exponent):
    """Mirrors ``Tensor.float_power_``: only a float64 (complex128) ``self`` can hold the
    result, which torch computes in that dtype whatever the operands are."""
    complex_ = self.is_complex() or isinstance(exponent, complex) or (
        isinstance(exponent, Tensor) and exponent.is_complex())
    wide = _dtype.complex128 if complex_ else _dtype.float64
    if self.dtype is not wide:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {_dtype.scalar_type_name(self.dtype)} "
            f"but the operation's result requires dtype {_dtype.scalar_type_name(wide)}")
    return inplace(Tensor.float_power, self, exponent)


def _real_only(method):
    """abs_'s refusal of complex ``self``, which cannot hold the real result in torch."""
    def real_only(self, *args, **kwargs):
        if self._data.dtype.kind == "c":
            raise RuntimeError("In-place abs is not supported for complex tensors.")
        return method(self, *args, **kwargs)
    real_only.__name__ = real_only.__qualname__ = method.__name__
    real_only.__doc__ = method.__doc__
    return real_only


def _conj_physical_(self):
    """Mirrors ``Tensor.conj_physical_``: torch records its own node even for a real
    ``self``, whose values stay as they are."""
    return inplace(lambda t: run(_CONJ_PHYSICAL_, t), self)


_CONJ_PHYSICAL_ = defop("conj_physical_", node="ConjPhysicalBackward1", kind=KEEP,
                        forward=lambda xp, self: xp.conj(self) if self.dtype.kind == "c"
                        else self.copy(),  # NumPy's conj of bools is int8
                        backward=lambda grad, self: grad.conj(), real_formulas=False)


def attach_inplace() -> None:
    """Attach every in-place form whose op exists; rerun after a table grows."""
    methods = {}
    for name in NAMES:
        fn = getattr(Tensor, name, None)
        if fn is not None and name + "_" not in vars(Tensor):
            if name in _NUMBER_BOUNDED:
                fn = _number_bounded(fn)
            methods[name + "_"] = (_scan_inplace if name in _SCANS else _inplace_method)(
                name, fn)
    methods.update(float_power_=_float_power_, conj_physical_=_conj_physical_)
    for name in ("abs_", "absolute_"):
        if name in methods:  # (attached on the first run)
            methods[name] = _real_only(methods[name])
    attach(methods)
    attach({dunder: vars(Tensor)[name + "_"] for dunder, name in AUGMENTED.items()
            if name + "_" in vars(Tensor)})


attach_inplace()
