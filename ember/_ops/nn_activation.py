"""The activation functions of ``torch.nn.functional`` that torch gives a node of their own.

Each record's forward works on arrays and is written so that no intermediate overflows
(``exp`` is only taken of non-positive arguments), so +-1e4, inf and nan give torch's values
without NumPy warnings. The backward formulas follow torch's derivatives and are written in
ember ops, so they are differentiable again. The ops torch composes from others (softsign,
tanhshrink, softmin, ...) are composed in ``ember.nn._functional.activation``.

The in-place forms whose torch node differs from the out-of-place one (``elu_`` records
``EluBackward1``, ``leaky_relu_`` ``LeakyReluBackward1``, ...) have records of their own
whose formulas read the result, as torch's do; they run through ``registry.run_inplace``
(version counter, history moved onto the new node: NOTE [Version counters]).
"""
from __future__ import annotations

import math

from ember import _memory_format as _mf
from ember._backend import np
from ember._ops.creation import zero_gradient
from ember._ops.pointwise import (
    THRESHOLD_BACKWARD,
    _erfc32,
    _erfc64,
    _half_in_float32_n,
    _refuse,
    _sigmoid_of_half,
    _unsupported,
    fma32,
    select,
    where,
)
from ember._ops.registry import (
    KEEP,
    _scalar_array,
    _scalar_arrays,
    arrays_unwatched,
    defop,
    float32_of,
    not_implemented,
    run,
    saved_as,
    saved_names,
    saved_output,
)
from ember._tensor import Tensor, make
from ember.autograd import grad_mode

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_BETA = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _floats(kernel: str):
    """torch's refusal of integer, bool and complex inputs by a real floating-point
    kernel."""
    return _refuse(kernel, "biuc")


def _half_in_float32(fn):
    """``fn`` computed in float32 for float16/bfloat16 input and rounded once, as torch's CPU
    kernels compute half precision in float."""
    def forward(xp, x, *params):
        # inf and nan inputs give torch's inf/nan results silently, as torch does
        with np.errstate(over="ignore", invalid="ignore"):
            if x.dtype.itemsize == 2 and x.dtype.kind not in "iu":
                out = fn(xp, x.astype(np.float32), *params)
                if type(out) is tuple:  # the result, then workspaces kept in float32
                    return (out[0].astype(x.dtype),) + out[1:]
                return out.astype(x.dtype)
            return fn(xp, x, *params)
    return forward


def _as(x, r):
    return r.astype(x.dtype, copy=False)


def stable_sigmoid(xp, x):
    """1 / (1 + e^-x) with ``exp`` taken of -|x| only (no overflow)."""
    e = xp.exp(-xp.abs(x))
    return select(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_of(self: Tensor) -> Tensor:
    """sigmoid in ember ops for the backward formulas, exp taken of non-positive arguments
    only (no overflow at +-1e4) and differentiable again (clamp passes the gradient at 0)."""
    positive = 1 / (1 + (-self.clamp_min(0)).exp())
    e = self.clamp_max(0).exp()
    return where(self >= 0, positive, e / (1 + e))


def _softplus_unit(xp, x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


# ---- backward kernels: NOTE [Backward kernels] in ember/_ops/pointwise.py -----------------
#
# NOTE [Nan in backward kernels]: torch's elu_backward, hardswish_backward, hardtanh_backward
# and the shrinks' backward kernels give a nan input another gradient in their vectorised loop
# (nan, or 0) than in their scalar loop (g * scale or g, the gradient passed on), which runs
# tensors of fewer than 16 float32 elements and the tail of longer ones. ember follows the
# scalar loop, whatever the length.


def _opmath(x):
    """A float16/bfloat16 array as float32 (the kernels' arithmetic); others as they are."""
    return x.astype(np.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _constant(value, dtype):
    """``value`` as a cached 0-d array of ``dtype``, which NumPy's loops take faster than a
    Python number, to the same bits (NOTE [Scalar operands as arrays])."""
    array = _scalar_arrays.get((value, type(value), dtype))
    return array if array is not None else _scalar_array(value, type(value), dtype)


# The kernels below take ``half``: whether their input was float16/bfloat16, whose float32
# arithmetic reproduces torch's bits with correctly rounded functions and fused multiply-adds
# (NOTE [Backward kernels]); float32 and float64 inputs use NumPy's own functions, unfused.


def _exp(x, half: bool):
    return float32_of(np.exp, x) if half else np.exp(x)


def _fma(a, b, c, half: bool):
    return fma32(a, b, c) if half else a * b + c


def _sigmoid_values(x, half: bool):
    """1 / (1 + e^-x), e^-x overflowing to inf below -88 (float32) with the sigmoid then 0, as
    torch's."""
    if half:
        return _sigmoid_of_half(np, x)
    with np.errstate(over="ignore"):
        e = np.exp(-x)
    e += 1
    return 1 / e


# torch's vectorised float32 tanh (SLEEF's) gives exactly +-1 beyond this magnitude, where the
# correctly rounded tanh is still 1 - 2^-24 up to 9.01 (found by probing torch's kernels:
# gelu_backward's and mish_backward's gradients are exact there)
_TANH_ONE_FROM = np.float32(8.664339742)


def _tanh32(x):
    """tanh of a float32 array as torch's vectorised kernels compute it (``_TANH_ONE_FROM``)."""
    t = float32_of(np.tanh, x)
    return select(np.abs(x) > _TANH_ONE_FROM, np.sign(x, dtype=np.float32), t)


def _tanh_values(x, half: bool):
    return _tanh32(x) if half else np.tanh(x)


# ---- hardtanh / relu6, leaky_relu, threshold ---------------------------------------------

def _hardtanh(xp, x, min_val, max_val):
    return _as(x, xp.minimum(xp.maximum(x, min_val), max_val))


# The backward kernels of the piecewise-linear activations (hardtanh_backward,
# leaky_relu_backward, softshrink_backward, hardshrink_backward) pass the incoming gradient on
# or replace it; being linear in it, their own derivatives are the kernel again (by the
# gradient) and zeros (by the input), under torch's nodes (HardtanhBackwardBackward0, ...). A
# nan input passes its gradient on, as in torch's scalar loop (NOTE [Nan in backward kernels]:
# its vectorised loop gives 0 for hardtanh and the shrinks).


def _zeros_where(condition, grad_output):
    return select(condition, 0, grad_output)


def _hardtanh_backward(xp, grad_output, self, min_val, max_val):
    x = _opmath(self)  # a half input meets the bounds in float32, as torch's kernel compares
    return _zeros_where((x <= _constant(min_val, x.dtype)) | (x >= _constant(max_val, x.dtype)),
                        grad_output)


HARDTANH_BACKWARD = defop(
    "hardtanh_backward", node="HardtanhBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,)}, forward=_hardtanh_backward,
    backward=(lambda grad, grad_output, self, min_val, max_val: run(
                  HARDTANH_BACKWARD, grad, self, min_val, max_val), zero_gradient))


def _hardtanh_grad(grad, self, min_val, max_val):
    return run(HARDTANH_BACKWARD, grad, self, min_val, max_val)


HARDTANH = defop("hardtanh", node="HardtanhBackward0", kind=KEEP, save=(0,),
                 check=_refuse("clamp_scalar_cpu", "b"),
                 forward=_hardtanh, backward=_hardtanh_grad)
# hardtanh_ reads its result: the result is inside (min, max) exactly where self was.
HARDTANH_ = defop("hardtanh_", node="HardtanhBackward0", kind=KEEP, save=("result",),
                  check=_refuse("clamp_scalar_cpu", "b"), forward=_hardtanh,
                  backward=lambda grad, self, min_val, max_val, result: _hardtanh_grad(
                      grad, result, min_val, max_val))


def _leaky_relu(xp, x, negative_slope):
    return _as(x, select(x > 0, x, x * negative_slope))


def _leaky_relu_backward(xp, grad_output, self, negative_slope):
    # the slope's product in float32 for the half types, rounded once
    g = _opmath(grad_output)
    return _as(grad_output, select(self > 0, grad_output,
                                   g * _constant(negative_slope, g.dtype)))


LEAKY_RELU_BACKWARD = defop(
    "leaky_relu_backward", node="LeakyReluBackwardBackward0", nin=2, kind=KEEP,
    promote=(0, 1), save={0: (1,)}, forward=_leaky_relu_backward,
    backward=(lambda grad, grad_output, self, negative_slope: run(
                  LEAKY_RELU_BACKWARD, grad, self, negative_slope), zero_gradient))

LEAKY_RELU = defop(
    "leaky_relu", node="LeakyReluBackward0", kind=KEEP, save=(0,),
    check=_floats("leaky_relu_cpu"), forward=_half_in_float32(_leaky_relu),
    backward=lambda grad, self, negative_slope: run(
        LEAKY_RELU_BACKWARD, grad, self, negative_slope))


def _leaky_relu_result_grad(grad, self, negative_slope, result):
    if negative_slope < 0:
        raise RuntimeError(
            "In-place leakyReLu backward calculation is triggered with a negative slope which "
            "is not supported. This is caused by calling in-place forward function with a "
            "negative slope, please call out-of-place version instead. File an issue at "
            "https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
            "backward calculation with negative slope")
    return run(LEAKY_RELU_BACKWARD, grad, result, negative_slope)


LEAKY_RELU_ = defop("leaky_relu_", node="LeakyReluBackward1", kind=KEEP, save=("result",),
                    check=_floats("leaky_relu_cpu"), forward=_half_in_float32(_leaky_relu),
                    backward=_leaky_relu_result_grad)


def _threshold(xp, x, threshold, value):
    # a half input meets the threshold in float32, as torch's kernel compares
    return _as(x, select(_opmath(x) <= threshold, value, x))


def _threshold_grad(grad, self, threshold, value):
    # torch's kernel, threshold_backward (ReLU's: NOTE [Backward kernels])
    return run(THRESHOLD_BACKWARD, grad, self, threshold)


THRESHOLD = defop(
    "threshold", node="ThresholdBackward0", kind=KEEP, save=(0,), forward=_threshold,
    check=_refuse("threshold_cpu", "bc"), backward=_threshold_grad)
# threshold_ keeps a copy of the original input for its formula (the result cannot tell a
# replaced element from a kept one), as torch's ThresholdBackward1 does.
THRESHOLD_ = defop(
    "threshold_", node="ThresholdBackward1", kind=KEEP, save=(0,), forward=_threshold,
    check=_refuse("threshold_cpu", "bc"), backward=_threshold_grad)

# ---- elu family (elu, selu, celu) --------------------------------------------------------


def _elu(xp, x, alpha, scale, input_scale):
    # expm1 of the non-positive part only: a large positive x must not overflow.
    negative = xp.expm1(xp.minimum(x, 0) * input_scale) * (alpha * scale)
    return _as(x, select(x <= 0, negative, x * scale))


def _elu_backward(xp, grad_output, self_or_result, alpha, scale, input_scale, is_result):
    # torch's elu_backward kernel: g * scale where x > 0, else
    # g * input_scale * (alpha * scale) * e^(x * input_scale), or from the result y,
    # g * input_scale * (y + alpha * scale); left to right, the coefficients rounded to float32
    # (their product too) for float32 and the half types, which compute in float32. A nan x
    # takes the positive side, as in torch's scalar loop (its vectorised loop, the one for all
    # but the last few elements of a long tensor, gives nan there): NOTE [Nan in backward
    # kernels]
    half = self_or_result.dtype.itemsize == 2
    g, x = _opmath(grad_output), _opmath(self_or_result)
    coefficient = float if x.dtype == np.float64 else np.float32
    # a coefficient of 1 multiplies exactly: skipped (elu's are all 1)
    negiptcoef = coefficient(input_scale) if input_scale != 1 else None
    negcoef = coefficient(alpha) * coefficient(scale) if alpha != 1 or scale != 1 else None
    negative = g if negiptcoef is None else g * negiptcoef
    if is_result:
        negative = negative * (x + (1 if negcoef is None else negcoef))
    else:
        # the exponent of x > 0 is not used: taken of min(x, 0), it cannot overflow
        power = np.minimum(x, 0)
        if negiptcoef is not None:
            power *= negiptcoef
        power = _exp(power, half)
        if negcoef is not None:
            negative = negative * negcoef
        power *= negative
        negative = power
    positive = g if scale == 1 else g * coefficient(scale)
    return _as(self_or_result, select(x <= 0, negative, positive))


def _elu_backward_grad(grad, grad_output, self_or_result, alpha, scale, input_scale,
                       is_result):
    # d/dx of the kernel: the negative side's slope once more times input_scale, or from the
    # result, input_scale alone
    x = self_or_result
    if is_result:
        return where(x > 0, 0.0, grad * grad_output * input_scale)
    slope = (x.clamp_max(0) * input_scale).exp() * (input_scale * input_scale * alpha * scale)
    return where(x > 0, 0.0, grad * grad_output * slope)


# torch's EluBackward0/1 and CeluBackward0/1 (selu's too) run one kernel, ``elu_backward``,
# whose own node (EluBackwardBackward0) carries the second derivatives
ELU_BACKWARD = defop(
    "elu_backward", node="EluBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_elu_backward,
    backward=(lambda grad, grad_output, self_or_result, alpha, scale, input_scale, is_result:
              run(ELU_BACKWARD, grad, self_or_result, alpha, scale, input_scale, is_result),
              _elu_backward_grad))


def _elu_grad(grad, self, alpha, scale, input_scale):
    return run(ELU_BACKWARD, grad, self, alpha, scale, input_scale, False)


def _elu_result_grad(grad, self, alpha, scale, input_scale, result):
    if alpha < 0:
        raise RuntimeError(
            "In-place elu backward calculation is triggered with a negative slope which is not "
            "supported. This is caused by calling in-place forward function with a negative "
            "slope, please call out-of-place version instead.")
    return run(ELU_BACKWARD, grad, result, alpha, scale, input_scale, True)


def _celu_backward_scale(alpha: float) -> float:
    # torch's CELU nodes give elu_backward 1 / alpha with alpha rounded to float32 first (the
    # forward takes 1 / alpha itself): its ``_saved_input_scale`` for alpha=1.3 is
    # 0.7692307974459868, and float64 gradients follow it
    return 1.0 / float(np.float32(alpha))


def _celu_grad(grad, self, alpha, scale, input_scale):
    return _elu_grad(grad, self, alpha, scale, _celu_backward_scale(alpha))


def _celu_result_grad(grad, self, alpha, scale, input_scale, result):
    return _elu_result_grad(grad, self, alpha, scale, _celu_backward_scale(alpha), result)


def _elu_records(name: str, node: str, grad, result_grad):
    forward = _half_in_float32(_elu)
    check = _floats("elu_cpu")
    return (defop(name, node=node + "0", kind=KEEP, save=(0,), check=check, forward=forward,
                  backward=grad),
            defop(name + "_", node=node + "1", kind=KEEP, save=("result",), check=check,
                  forward=forward, backward=result_grad))


ELU, ELU_ = _elu_records("elu", "EluBackward", _elu_grad, _elu_result_grad)
CELU, CELU_ = _elu_records("celu", "CeluBackward", _celu_grad, _celu_result_grad)

# ---- gelu, silu, mish, softplus, logsigmoid ---------------------------------------------


# NOTE [GELU's workspace]: the backward of GELU needs what its forward computed on the way,
# Phi(x) (erfc's polynomial and tail: two thirds of the float32 backward's time) or, for the
# tanh form, tanh of its inner term. The record returns it as a second, plain output that
# the node keeps with its result, as the fused LSTM layer keeps its gate activations
# (NOTE [Fused LSTM layers]); ``nn.functional.gelu`` hands back the first output only. A
# backward whose ops nothing watches (``registry.arrays_unwatched``: no ``create_graph``, no
# op mode such as the profiler or autocast, no vmap or forward-mode level; compile's tracer
# takes the formula whole, so its programs replay this too) on float32/float64 computes
# torch's ``gelu_backward`` formula from it, the same calls on the same values as the
# kernel's (the same bits); otherwise the formula runs the ``gelu_backward`` op, which
# recomputes it, so a profile lists ``aten::gelu_backward`` under ``GeluBackward0`` and a
# graph of it has torch's ``GeluBackwardBackward0`` node. The node keeps the workspace only
# (``save="result1"``), not the output, which users may still write to in place as torch
# allows (its node saves no output); one array per GELU until its node is released.


def _gelu(xp, x, approximate):
    """(gelu(x), the workspace)."""
    out, work = _gelu_values(xp, x, approximate)
    # a pointwise result keeps the input's layout (torch's TensorIterator; channels_last
    # among others), which the float64 detour through ``_erfc64`` does not
    return _mf.relayout(x, out, None), work


def _gelu_values(xp, x, approximate):
    """(gelu(x), the workspace of NOTE [GELU's workspace]) of a float32/float64 array."""
    if approximate == "tanh":
        inner = _GELU_BETA * (x + _GELU_KAPPA * (x * x * x))
        tanh_inner = xp.tanh(inner)
        return _as(x, 0.5 * x * (1 + tanh_inner)), tanh_inner
    if x.dtype == np.float32:  # in float32, as torch's kernel (half types arrive as float32)
        cdf = _normal_cdf32(x)
        return np.multiply(cdf, x), cdf
    cdf = 0.5 * _erfc64(x * -_SQRT1_2)  # float64
    return x * cdf, cdf


def _normal_cdf32(x):
    """Phi(x) of a float32 array, erfc(-x / sqrt 2) / 2 in float32 (no 1 + erf cancellation
    for negative x)."""
    return _erfc32(x * np.float32(-_SQRT1_2), 0.5)


def _gelu_backward(xp, grad_output, self, approximate):
    # laid out as the incoming gradient, the first of the kernel's inputs (torch's
    # TensorIterator order)
    return _mf.relayout(grad_output, _gelu_backward_values(xp, grad_output, self, approximate),
                        None)


def _gelu_backward_values(xp, grad_output, self, approximate, work=None):
    """d gelu / dx times ``grad_output``, fused into one array expression: Phi(x) + x phi(x)
    (exact), or the derivative of the tanh form; ``work`` is the forward's workspace (NOTE
    [GELU's workspace]) or None to compute it."""
    if approximate == "tanh":
        x_sq = self * self
        tanh_inner = xp.tanh(_GELU_BETA * (self + _GELU_KAPPA * (x_sq * self))) \
            if work is None else work
        left = 0.5 * (1 + tanh_inner)
        right = (0.5 * self) * (1 - tanh_inner * tanh_inner) * (
            _GELU_BETA * (1 + 3 * _GELU_KAPPA * x_sq))
        return _as(self, grad_output * (left + right))
    if self.dtype == np.float32:  # in float32, in place on flat arrays (a 0-d one too)
        x = np.ravel(self)
        cdf = _normal_cdf32(x) if work is None else np.ravel(work)
        pdf = np.multiply(x, x)
        pdf *= np.float32(-0.5)
        np.exp(pdf, out=pdf)
        pdf *= x
        pdf *= np.float32(_INV_SQRT_2PI)
        pdf += cdf  # Phi + x phi: an addition's bits do not depend on the operands' order
        pdf *= np.ravel(grad_output)
        return pdf.reshape(self.shape)
    cdf = 0.5 * _erfc64(self * -_SQRT1_2) if work is None else work  # float64
    pdf = np.exp(-0.5 * self * self) * _INV_SQRT_2PI
    return _as(self, grad_output * (cdf + self * pdf))


def _gelu_derivative_grad(grad, grad_output, self, approximate):
    # the second derivative of gelu, times grad and grad_output, in ember ops
    if approximate == "tanh":
        x_sq = self * self
        inner_grad = _GELU_BETA * (1 + 3 * _GELU_KAPPA * x_sq)
        inner = _GELU_BETA * (self + _GELU_KAPPA * (x_sq * self))
        tanh_inner = inner.tanh()
        sech_sq = inner.cosh().reciprocal().square()  # not 1 - tanh^2: no cancellation
        second = sech_sq * (inner_grad - self * tanh_inner * inner_grad * inner_grad
                            + self * (3 * _GELU_BETA * _GELU_KAPPA) * self)
        return grad * grad_output * second
    pdf = (-0.5 * self * self).exp() * _INV_SQRT_2PI
    return grad * grad_output * (pdf * (2 - self * self))


_GELU_BETA32 = np.float32(_GELU_BETA)
_GELU_KAPPA32 = np.float32(_GELU_KAPPA)


def _gelu_tanh_backward32(g, x):
    """torch's gelu_backward kernel for the tanh form, on float32 arrays as its half-precision
    kernels compute (NOTE [Backward kernels]): inner = beta (x + kappa x^3) and the derivative
    0.5 (1 + t) + 0.5 x (1 - t^2) beta (1 + 3 kappa x^2), t = tanh(inner), its multiply-adds
    fused and its tanh saturating as torch's (``_tanh32``)."""
    x_sq = x * x
    with np.errstate(over="ignore", invalid="ignore"):
        t = _tanh32(_GELU_BETA32 * fma32(_GELU_KAPPA32, x_sq * x, x))
    left_derivative = np.float32(0.5) * (1 + t)
    inner_derivative = _GELU_BETA32 * fma32(3 * _GELU_KAPPA32, x_sq, 1)
    right_derivative = np.float32(0.5) * x * fma32(-t, t, 1) * inner_derivative
    return g * (left_derivative + right_derivative)


_gelu_backward_in_float32 = _half_in_float32_n(_gelu_backward)


def _gelu_backward_kernel(xp, grad_output, self, approximate):
    if approximate == "tanh" and self.dtype.itemsize == 2:
        grad = _gelu_tanh_backward32(_opmath(grad_output), _opmath(self))
        return _mf.relayout(grad_output, grad.astype(self.dtype), None)
    return _gelu_backward_in_float32(xp, grad_output, self, approximate)


# torch's GeluBackward0 runs the kernel ``gelu_backward(grad, self)``, whose own node
# (GeluBackwardBackward0) carries the second derivatives. float32 and float64 keep ember's
# formula of NOTE [GELU's workspace]; the half types' tanh form computes torch's bits.
GELU_BACKWARD = defop(
    "gelu_backward", node="GeluBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_gelu_backward_kernel,
    backward=(lambda grad, grad_output, self, approximate: run(
                  GELU_BACKWARD, grad, self, approximate),
              _gelu_derivative_grad))


def _gelu_grad(grads, self, approximate, result):
    grad = grads[0]
    g, x = grad._data, self._data
    if x.dtype in (np.float32, np.float64) and g.dtype == x.dtype and arrays_unwatched():
        # NOTE [GELU's workspace]
        return make(_mf.relayout(g, _gelu_backward_values(np, g, x, approximate,
                                                          result[1]._data), None))
    return run(GELU_BACKWARD, grad, self, approximate)


def _gelu_check(self, approximate):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _floats("GeluKernelImpl")(self)


GELU = defop("gelu", node="GeluBackward0", kind=KEEP, multi=1, save=(0, "result1"),
             check=_gelu_check, forward=_half_in_float32(_gelu), backward=(_gelu_grad,))
saved_names(GELU, "approximate", "self")  # its workspace output is ember's own


def _silu(xp, x):
    if x.dtype.kind == "c":  # torch's complex kernel: x / (1 + e^-x)
        return x / (1 + xp.exp(-x))
    return _as(x, x * stable_sigmoid(xp, x))


def _silu_backward(xp, grad_output, self):
    # torch's silu_backward kernel: (g * s) * (x * (1 - s) + 1), s = sigmoid(x), the last
    # product and sum fused (NOTE [Backward kernels])
    half = self.dtype.itemsize == 2
    g, x = _opmath(grad_output), _opmath(self)
    s = _sigmoid_values(x, half)
    return _as(self, (g * s) * _fma(x, 1 - s, 1, half))


def _silu_backward_grad(grad, grad_output, self):
    # d/dx of s (1 + x (1 - s)): s (1 - s) (2 + x (1 - 2 s))
    s = _sigmoid_of(self)
    return grad * grad_output * (s * (1 - s) * (2 + self * (1 - 2 * s)))


# torch's SiluBackward0 runs ``silu_backward(grad, self)`` on a first-order backward and
# composes it of ops under ``create_graph`` (its double backward is theirs, not a kernel's:
# SILU_BACKWARD's own formulas serve vmap and forward mode)
SILU_BACKWARD = defop(
    "silu_backward", node="SiluBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_silu_backward,
    backward=(lambda grad, grad_output, self: run(SILU_BACKWARD, grad, self),
              _silu_backward_grad))


def _silu_grad(grad, self):
    if grad_mode.state.enabled:  # torch's composition, op by op: (g * s) * (x * (1 - s) + 1)
        s = self.sigmoid()
        return grad * s * (self * (1 - s) + 1)
    return run(SILU_BACKWARD, grad, self)


def _silu_check(self) -> None:
    _refuse("silu_cpu", "biu")(self)
    if self._data.dtype.kind == "c" and self._requires_grad and grad_mode.state.enabled:
        # torch computes complex silu but has no derivative for it
        raise RuntimeError("silu does not support automatic differentiation for outputs with "
                           "complex dtype.")


SILU = defop("silu", node="SiluBackward0", kind=KEEP, save=(0,), check=_silu_check,
             forward=_half_in_float32(_silu), backward=_silu_grad)


def _mish(xp, x):
    return _as(x, x * xp.tanh(_softplus_unit(xp, x)))


def _mish_backward(xp, grad_output, self):
    # torch's mish_backward kernel: g * (t + (x * s) * (1 - t * t)), t = tanh(log1p(e^x)),
    # s = sigmoid(x), the two multiply-adds fused (NOTE [Backward kernels])
    half = self.dtype.itemsize == 2
    g, x = _opmath(grad_output), _opmath(self)
    with np.errstate(over="ignore"):
        softplus = float32_of(np.log1p, _exp(x, half)) if half else np.log1p(np.exp(x))
    t = _tanh_values(softplus, half)
    slope = _fma(x * _sigmoid_values(x, half), _fma(-t, t, 1, half), t, half)
    return _as(self, g * slope)


def _mish_derivative(self):
    tanh_sp = run(SOFTPLUS, self, 1, 20).tanh()
    return tanh_sp, _sigmoid_of(self)


def _mish_backward_grad(grad, grad_output, self):
    # d/dx of t + x s (1 - t^2), with dt/dx = s (1 - t^2) and ds/dx = s (1 - s)
    t, s = _mish_derivative(self)
    sech_sq = 1 - t * t
    second = sech_sq * s * (2 + self * (1 - s) - 2 * self * t * s)
    return grad * grad_output * second


# as silu's: a kernel on a first-order backward, torch's composition under ``create_graph``
MISH_BACKWARD = defop(
    "mish_backward", node="MishBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_mish_backward,
    backward=(lambda grad, grad_output, self: run(MISH_BACKWARD, grad, self),
              _mish_backward_grad))


def _mish_grad(grad, self):
    if grad_mode.state.enabled:  # torch's composition: g * (t + (x * s) * (1 - t * t))
        t = self.exp().log1p().tanh()
        return grad * (t + self * self.sigmoid() * (1 - t * t))
    return run(MISH_BACKWARD, grad, self)


MISH = defop("mish", node="MishBackward0", kind=KEEP, save=(0,), check=_floats("mish_cpu"),
             forward=_half_in_float32(_mish), backward=_mish_grad)


def _softplus(xp, x, beta, threshold):
    scaled = x * beta
    # Above the threshold torch returns x itself; below it log1p(e^(beta x)) / beta, whose
    # exp is bounded by the threshold (the minimum keeps the unused branch finite).
    soft = xp.log1p(xp.exp(xp.minimum(scaled, threshold))) / beta
    return _as(x, select(scaled > threshold, x, soft))


def _softplus_backward(xp, grad_output, self, beta, threshold):
    # torch's softplus_backward kernel: z = e^(beta x); g where beta x > threshold, else
    # (g * z) / (z + 1); beta in float32 for float32 and the half types
    g, x = _opmath(grad_output), _opmath(self)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = x * (np.float32(beta) if x.dtype == np.float32 else beta)
        z = _exp(scaled, self.dtype.itemsize == 2)
        soft = g * z
        soft /= z + 1
    return _as(self, select(scaled > threshold, g, soft))


def _softplus_backward_grad(grad, grad_output, self, beta, threshold):
    scaled = self * beta
    s = _sigmoid_of(scaled)
    return where(scaled > threshold, 0.0, grad * grad_output * beta * s * (1 - s))


# torch's SoftplusBackward0 runs one kernel, ``softplus_backward``, whose own node
# (SoftplusBackwardBackward0) carries the second derivatives
SOFTPLUS_BACKWARD = defop(
    "softplus_backward", node="SoftplusBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_softplus_backward,
    backward=(lambda grad, grad_output, self, beta, threshold: run(
                  SOFTPLUS_BACKWARD, grad, self, beta, threshold),
              _softplus_backward_grad))

SOFTPLUS = defop("softplus", node="SoftplusBackward0", kind=KEEP, save=(0,),
                 check=_floats("softplus_cpu"), forward=_half_in_float32(_softplus),
                 backward=lambda grad, self, beta, threshold: run(
                     SOFTPLUS_BACKWARD, grad, self, beta, threshold))


def _log_sigmoid(xp, x):
    """(log sigmoid(x), torch's buffer e^-|x| in x's dtype), the half types computed in
    float32 (their buffer correctly rounded, as torch's: NOTE [Backward kernels])."""
    half = x.dtype.itemsize == 2
    wide = _opmath(x)
    with np.errstate(over="ignore", invalid="ignore"):
        buffer = _exp(-np.abs(wide), half)
        out = np.minimum(wide, 0) - (float32_of(np.log1p, buffer) if half else np.log1p(buffer))
    return _as(x, out), _as(x, buffer)


def _log_sigmoid_backward(xp, grad_output, self, buffer):
    # torch's log_sigmoid_backward kernel, from its forward's buffer z = e^-|x| (rounded to
    # the input's dtype): g * (1 - z / (1 + z)) where x < 0, else g * (z / (1 + z))
    g, x, z = _opmath(grad_output), _opmath(self), _opmath(buffer)
    ratio = z / (1 + z)
    return _as(self, select(x < 0, 1 - ratio, ratio) * g)


def _log_sigmoid_backward_grad(grad, grad_output, self, buffer):
    s = _sigmoid_of(self)
    return grad * grad_output * (s - 1) * s


# torch's log_sigmoid_forward returns the output and a buffer its backward reads; its
# LogSigmoidBackward0 runs one kernel, ``log_sigmoid_backward(grad, self, buffer)``, whose own
# node (LogSigmoidBackwardBackward0) carries the second derivative. As GELU's workspace
# (NOTE [GELU's workspace]), the buffer is a second output the node keeps.
LOG_SIGMOID_BACKWARD = defop(
    "log_sigmoid_backward", node="LogSigmoidBackwardBackward0", nin=3, kind=KEEP,
    promote=(0, 1), save={0: (1, 2), 1: (0, 1)}, forward=_log_sigmoid_backward,
    backward=(lambda grad, grad_output, self, buffer: run(
                  LOG_SIGMOID_BACKWARD, grad, self, buffer),
              _log_sigmoid_backward_grad, None))

LOG_SIGMOID = defop(
    "log_sigmoid", node="LogSigmoidBackward0", kind=KEEP, multi=1, save=(0, "result1"),
    check=_floats("log_sigmoid_cpu"), forward=_log_sigmoid,
    backward=(lambda grads, self, result: run(
        LOG_SIGMOID_BACKWARD, grads[0], self, result[1]),))
saved_as(LOG_SIGMOID, buffer=saved_output(1))

# ---- hardsigmoid, hardswish, shrinks ----------------------------------------------------


def _hardsigmoid(xp, x):
    return _as(x, xp.minimum(xp.maximum(x + 3, 0), 6) / 6)


# torch's hardsigmoid_backward multiplies by 1/6 rounded to float32, float64 too (learnt by
# experiment); the half types compute in float32
_ONE_SIXTH_AS_FLOAT = float(np.float32(1 / 6))


def _hardsigmoid_backward(xp, grad_output, self):
    g, x = _opmath(grad_output), _opmath(self)
    slope = g * _constant(_ONE_SIXTH_AS_FLOAT, g.dtype)  # float32(1/6) exactly, float64 too
    return _as(self, select((x > _constant(-3, x.dtype)) & (x < _constant(3, x.dtype)), slope,
                            0))


# torch's HardsigmoidBackward0 runs one kernel, ``hardsigmoid_backward``, which torch cannot
# differentiate: its node is NotImplemented, and backward through it raises
HARDSIGMOID_BACKWARD = defop(
    "hardsigmoid_backward", node="NotImplemented", nin=2, kind=KEEP, promote=(0, 1),
    forward=_hardsigmoid_backward,
    backward=(not_implemented("hardsigmoid_backward"),
              not_implemented("hardsigmoid_backward")))

HARDSIGMOID = defop(
    "hardsigmoid", node="HardsigmoidBackward0", kind=KEEP, save=(0,),
    check=_floats("hardsigmoid_cpu"), forward=_half_in_float32(_hardsigmoid),
    backward=lambda grad, self: run(HARDSIGMOID_BACKWARD, grad, self))


def _hardswish(xp, x):
    return _as(x, x * xp.minimum(xp.maximum(x + 3, 0), 6) / 6)


def _hardswish_backward(xp, grad_output, self):
    # torch's hardswish_backward kernel: 0 for x <= -3, g for x >= 3 (and nan: NOTE [Nan in
    # backward kernels]), else g * (x / 3 + 0.5); the half types in float32
    g, x = _opmath(grad_output), _opmath(self)
    three = _constant(3, x.dtype)
    inner = g * (x / three + _constant(0.5, x.dtype))
    return _as(self, select(x <= _constant(-3, x.dtype), 0, select(x < three, inner, g)))


# torch's HardswishBackward0 runs one kernel, ``hardswish_backward``, whose own node
# (HardswishBackwardBackward0) carries the second derivatives
HARDSWISH_BACKWARD = defop(
    "hardswish_backward", node="HardswishBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_hardswish_backward,
    backward=(lambda grad, grad_output, self: run(HARDSWISH_BACKWARD, grad, self),
              lambda grad, grad_output, self: where(
                  (self > -3) & (self < 3), grad * grad_output / 3, 0.0)))

HARDSWISH = defop(
    "hardswish", node="HardswishBackward0", kind=KEEP, save=(0,),
    check=_floats("hardswish_cpu"), forward=_half_in_float32(_hardswish),
    backward=lambda grad, self: run(HARDSWISH_BACKWARD, grad, self))


def _softshrink(xp, x, lambd):
    # nan stays nan, as in torch (both comparisons are false for it)
    shrunk = select(x > lambd, x - lambd, select(x < -lambd, x + lambd, 0))
    return _as(x, select(x != x, x, shrunk))


def _softshrink_check(self, lambd):
    _floats("softshrink_check")(self)
    dt = self._data.dtype
    largest = float(np.finfo(np.float32 if dt.itemsize == 2 else dt).max)
    if not 0 <= lambd <= largest:
        from ember._dtype import scalar_type_name

        raise RuntimeError(f"lambda must be in range [0, {largest:g}] for input dtype "
                           f"{scalar_type_name(self.dtype)}, but found {lambd:g}")


def _shrink_backward(xp, grad_output, self, lambd):
    # lambd rounded to the input's dtype, as torch's kernels compare
    return _zeros_where((self >= _constant(-lambd, self.dtype))
                        & (self <= _constant(lambd, self.dtype)), grad_output)


SOFTSHRINK_BACKWARD = defop(
    "softshrink_backward", node="SoftshrinkBackwardBackward0", nin=2, kind=KEEP,
    promote=(0, 1), save={0: (1,)}, forward=_shrink_backward,
    backward=(lambda grad, grad_output, self, lambd: run(SOFTSHRINK_BACKWARD, grad, self, lambd),
              zero_gradient))

SOFTSHRINK = defop(
    "softshrink", node="SoftshrinkBackward0", kind=KEEP, save=(0,), check=_softshrink_check,
    forward=_half_in_float32(_softshrink),
    backward=lambda grad, self, lambd: run(SOFTSHRINK_BACKWARD, grad, self, lambd))


def _hardshrink(xp, x, lambd):
    return _as(x, select((x >= -lambd) & (x <= lambd), 0, x))


HARDSHRINK_BACKWARD = defop(
    "hardshrink_backward", node="HardshrinkBackwardBackward0", nin=2, kind=KEEP,
    promote=(0, 1), save={0: (1,)}, forward=_shrink_backward,
    backward=(lambda grad, grad_output, self, lambd: run(HARDSHRINK_BACKWARD, grad, self, lambd),
              zero_gradient))

HARDSHRINK = defop(
    "hardshrink", node="HardshrinkBackward0", kind=KEEP, save=(0,),
    check=_floats("hardshrink_cpu"), forward=_hardshrink,
    backward=lambda grad, self, lambd: run(HARDSHRINK_BACKWARD, grad, self, lambd))

# ---- glu, prelu, rrelu ------------------------------------------------------------------


def _glu(xp, x, dim):
    a, b = xp.split(x, 2, axis=dim)
    return _as(x, a * stable_sigmoid(xp, b))


def _glu_backward(xp, grad_output, self, dim):
    # torch's glu_backward kernel, for a = first half, b = second half, s = sigmoid(b):
    # [g * s, (1 - s) * s * a * g], left to right; the half types compute in float32 from s
    # rounded to the half type (learnt by experiment)
    half = self.dtype.itemsize == 2
    a, b = xp.split(_opmath(self), 2, axis=dim)
    g = _opmath(grad_output)
    s = _sigmoid_values(b, half)
    if half:
        s = s.astype(self.dtype).astype(np.float32)
    return _as(self, np.concatenate([g * s, (1 - s) * s * a * g], axis=dim))


def _glu_backward_by_grad_output(grad, grad_output, self, dim):
    # glu_backward is linear in grad_output: [grad_a, grad_b] . [s, s (1 - s) a]
    grad_a, grad_b = grad.chunk(2, dim)
    a, b = self.chunk(2, dim)
    s = _sigmoid_of(b)
    return grad_a * s + grad_b * (s * (1 - s)) * a


def _glu_backward_by_self(grad, grad_output, self, dim):
    from ember._ops.shape import cat

    grad_a, grad_b = grad.chunk(2, dim)
    a, b = self.chunk(2, dim)
    s = _sigmoid_of(b)
    slope = s * (1 - s)
    by_a = grad_b * grad_output * slope
    by_b = (grad_a + grad_b * a * (1 - 2 * s)) * grad_output * slope
    return cat([by_a, by_b], dim)


# torch's GluBackward0 runs one kernel, ``glu_backward(grad, self, dim)``, whose own node
# (GluBackwardBackward0) carries the second derivatives
GLU_BACKWARD = defop(
    "glu_backward", node="GluBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save=(0, 1), forward=_glu_backward,
    backward=(_glu_backward_by_grad_output, _glu_backward_by_self))

GLU = defop("glu", node="GluBackward0", kind=KEEP, save=(0,), check=_floats("glu_cpu"),
            forward=_half_in_float32(_glu),
            backward=lambda grad, self, dim: run(GLU_BACKWARD, grad, self, dim))

# The weight reaches the kernel reshaped to broadcast along the channel dimension (as in
# torch); the engine sums its gradient back over the other dimensions.
PRELU = defop(
    "_prelu_kernel", node="PreluKernelBackward0", nin=2, kind=KEEP, save=(0, 1),
    forward=lambda xp, self, weight: _as(self, select(self > 0, self, weight * self)),
    backward=(lambda grad, self, weight: where(self > 0, grad, weight * grad),
              lambda grad, self, weight: where(self > 0, 0.0, self * grad)))


def _rrelu(xp, x, noise, lower, upper, training):
    if training:
        return _as(x, x * noise._data)
    return _leaky_relu(xp, x, (lower + upper) / 2)


def _rrelu_backward(xp, grad_output, self, noise, lower, upper, training):
    if training and upper - lower > 1e-6:
        return grad_output * noise._data.astype(grad_output.dtype)
    return _leaky_relu_backward(xp, grad_output, self, (lower + upper) / 2)


# torch's rrelu_with_noise_backward: differentiable in the incoming gradient, and (with a
# zero gradient) in the input, so a gradient of the gradient reaches the input as zeros
RRELU_BACKWARD = defop(
    "rrelu_with_noise_backward", node="RreluWithNoiseBackwardBackward0", nin=2, kind=KEEP,
    promote=(0, 1), save={0: (1,)}, forward=_rrelu_backward,
    backward=(lambda grad, grad_output, self, noise, lower, upper, training: run(
                  RRELU_BACKWARD, grad, self, noise, lower, upper, training), zero_gradient))


def _rrelu_grad(grad, self, noise, lower, upper, training):
    return run(RRELU_BACKWARD, grad, self, noise, lower, upper, training)


def _rrelu_result_grad(grad, self, noise, lower, upper, training, result):
    if training and upper - lower > 1e-6:
        return grad * noise.to(grad.dtype)
    return _leaky_relu_result_grad(grad, None, (lower + upper) / 2, result)


RRELU = defop("rrelu_with_noise", node="RreluWithNoiseBackward0", kind=KEEP, save=(0,),
              check=_floats("leaky_relu_cpu"), forward=_rrelu, backward=_rrelu_grad)
RRELU_ = defop("rrelu_with_noise_", node="RreluWithNoiseBackward1", kind=KEEP,
               save=("result",), check=_floats("leaky_relu_cpu"), forward=_rrelu,
               backward=_rrelu_result_grad)


def rrelu_noise(input: Tensor, lower: float, upper: float) -> Tensor:
    """The slopes of a training-mode rrelu, drawn as torch draws them: one float64 uniform in
    [lower, upper] per non-positive element, in the elements' logical order, rounded to the
    input's dtype (float32 for half types); 1 elsewhere."""
    from ember import _dtype
    from ember._ops.creation import empty
    from ember._tensor import make

    data = input._data
    if data.dtype.kind in "biu" or data.dtype == np.float16:  # torch's kernel has no such
        raise _unsupported("rrelu_with_noise_out_cpu", data.dtype)  # loop: refused undrawn
    negative = data <= 0
    unit = empty(int(np.count_nonzero(negative)), dtype=_dtype.float64).uniform_()._data
    # half types: torch multiplies by the float slope and rounds once (the noise it keeps
    # for the backward is rounded to the half type)
    noise = np.ones(data.shape, np.float32 if data.dtype.itemsize == 2 else data.dtype)
    # torch rounds the bounds to the input's dtype (float for half types), then scales the
    # unit draws in float64 with a separate multiply and add (uniform_'s own scaling is
    # fused: one rounding less)
    bound_dtype = np.float32 if data.dtype.itemsize == 2 else data.dtype
    lo, hi = (float(np.asarray(bound).astype(bound_dtype)) for bound in (lower, upper))
    noise[negative] = (unit * (hi - lo) + lo).astype(noise.dtype)
    return make(noise)
