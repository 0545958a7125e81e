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
from ember._ops.pointwise import _erfc32, _erfc64, _half_in_float32_n, _refuse, select, where
from ember._ops.registry import KEEP, arrays_unwatched, defop, run
from ember._tensor import Tensor, make

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_BETA = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _floats(kernel: str):
    """torch's refusal of integer and bool inputs by a floating-point kernel."""
    return _refuse(kernel, "biu")


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


# ---- hardtanh / relu6, leaky_relu, threshold ---------------------------------------------

def _hardtanh(xp, x, min_val, max_val):
    return _as(x, xp.minimum(xp.maximum(x, min_val), max_val))


def _hardtanh_grad(grad, self, min_val, max_val):
    # torch's test is written for the zero side: a nan input passes its gradient on
    return where((self <= min_val) | (self >= max_val), 0.0, grad)


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


LEAKY_RELU = defop(
    "leaky_relu", node="LeakyReluBackward0", kind=KEEP, save=(0,),
    check=_floats("leaky_relu_cpu"), forward=_half_in_float32(_leaky_relu),
    backward=lambda grad, self, negative_slope: where(self > 0, grad, grad * negative_slope))


def _leaky_relu_result_grad(grad, self, negative_slope, result):
    if negative_slope < 0:
        raise RuntimeError(
            "In-place leakyReLu backward calculation is triggered with a negative slope which "
            "is not supported. This is caused by calling in-place forward function with a "
            "negative slope, please call out-of-place version instead. File an issue at "
            "https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
            "backward calculation with negative slope")
    return where(result > 0, grad, grad * negative_slope)


LEAKY_RELU_ = defop("leaky_relu_", node="LeakyReluBackward1", kind=KEEP, save=("result",),
                    check=_floats("leaky_relu_cpu"), forward=_half_in_float32(_leaky_relu),
                    backward=_leaky_relu_result_grad)


def _threshold(xp, x, threshold, value):
    return _as(x, select(x <= threshold, value, x))


THRESHOLD = defop(
    "threshold", node="ThresholdBackward0", kind=KEEP, save=(0,), forward=_threshold,
    check=_refuse("threshold_cpu", "b"),
    backward=lambda grad, self, threshold, value: where(self <= threshold, 0.0, grad))
# threshold_ keeps a copy of the original input for its formula (the result cannot tell a
# replaced element from a kept one), as torch's ThresholdBackward1 does.
THRESHOLD_ = defop(
    "threshold_", node="ThresholdBackward1", kind=KEEP, save=(0,), forward=_threshold,
    check=_refuse("threshold_cpu", "b"),
    backward=lambda grad, self, threshold, value: where(self <= threshold, 0.0, grad))

# ---- elu family (elu, selu, celu) --------------------------------------------------------


def _elu(xp, x, alpha, scale, input_scale):
    # expm1 of the non-positive part only: a large positive x must not overflow.
    negative = xp.expm1(xp.minimum(x, 0) * input_scale) * (alpha * scale)
    return _as(x, select(x <= 0, negative, x * scale))


def _elu_grad(grad, self, alpha, scale, input_scale):
    slope = (self.clamp_max(0) * input_scale).exp() * (input_scale * alpha * scale)
    return where(self <= 0, grad * slope, grad * scale)


def _elu_result_grad(grad, self, alpha, scale, input_scale, result):
    if alpha < 0:
        raise RuntimeError(
            "In-place elu backward calculation is triggered with a negative slope which is not "
            "supported. This is caused by calling in-place forward function with a negative "
            "slope, please call out-of-place version instead.")
    return where(result <= 0, grad * ((result + alpha * scale) * input_scale), grad * scale)


def _elu_records(name: str, node: str):
    forward = _half_in_float32(_elu)
    check = _floats("elu_cpu")
    return (defop(name, node=node + "0", kind=KEEP, save=(0,), check=check, forward=forward,
                  backward=_elu_grad),
            defop(name + "_", node=node + "1", kind=KEEP, save=("result",), check=check,
                  forward=forward, backward=_elu_result_grad))


ELU, ELU_ = _elu_records("elu", "EluBackward")
CELU, CELU_ = _elu_records("celu", "CeluBackward")

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


# torch's GeluBackward0 runs the kernel ``gelu_backward(grad, self)``, whose own node
# (GeluBackwardBackward0) carries the second derivatives.
GELU_BACKWARD = defop(
    "gelu_backward", node="GeluBackwardBackward0", nin=2, kind=KEEP, promote=(0, 1),
    save={0: (1,), 1: (0, 1)}, forward=_half_in_float32_n(_gelu_backward),
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


def _silu(xp, x):
    return _as(x, x * stable_sigmoid(xp, x))


def _silu_grad(grad, self):
    s = _sigmoid_of(self)
    return grad * (s * (1 + self * (1 - s)))


SILU = defop("silu", node="SiluBackward0", kind=KEEP, save=(0,), check=_floats("silu_cpu"),
             forward=_half_in_float32(_silu), backward=_silu_grad)


def _mish(xp, x):
    return _as(x, x * xp.tanh(_softplus_unit(xp, x)))


def _mish_grad(grad, self):
    from ember._ops.registry import run

    tanh_sp = run(SOFTPLUS, self, 1, 20).tanh()
    return grad * (tanh_sp + self * _sigmoid_of(self) * (1 - tanh_sp * tanh_sp))


MISH = defop("mish", node="MishBackward0", kind=KEEP, save=(0,), check=_floats("mish_cpu"),
             forward=_half_in_float32(_mish), backward=_mish_grad)


def _softplus(xp, x, beta, threshold):
    scaled = x * beta
    # Above the threshold torch returns x itself; below it log1p(e^(beta x)) / beta, whose
    # exp is bounded by the threshold (the minimum keeps the unused branch finite).
    soft = xp.log1p(xp.exp(xp.minimum(scaled, threshold))) / beta
    return _as(x, select(scaled > threshold, x, soft))


def _softplus_grad(grad, self, beta, threshold):
    scaled = self * beta
    return where(scaled > threshold, grad, grad * _sigmoid_of(scaled))


SOFTPLUS = defop("softplus", node="SoftplusBackward0", kind=KEEP, save=(0,),
                 check=_floats("softplus_cpu"), forward=_half_in_float32(_softplus),
                 backward=_softplus_grad)


def _log_sigmoid(xp, x):
    return _as(x, xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))))


LOG_SIGMOID = defop("log_sigmoid", node="LogSigmoidBackward0", kind=KEEP, save=(0,),
                    check=_floats("log_sigmoid_cpu"), forward=_half_in_float32(_log_sigmoid),
                    backward=lambda grad, self: grad * _sigmoid_of(-self))

# ---- hardsigmoid, hardswish, shrinks ----------------------------------------------------


def _hardsigmoid(xp, x):
    return _as(x, xp.minimum(xp.maximum(x + 3, 0), 6) / 6)


HARDSIGMOID = defop(
    "hardsigmoid", node="HardsigmoidBackward0", kind=KEEP, save=(0,),
    check=_floats("hardsigmoid_cpu"), forward=_half_in_float32(_hardsigmoid),
    backward=lambda grad, self: where((self > -3) & (self < 3), grad / 6, 0.0))


def _hardswish(xp, x):
    return _as(x, x * xp.minimum(xp.maximum(x + 3, 0), 6) / 6)


HARDSWISH = defop(
    "hardswish", node="HardswishBackward0", kind=KEEP, save=(0,),
    check=_floats("hardswish_cpu"), forward=_half_in_float32(_hardswish),
    backward=lambda grad, self: where(
        self <= -3, 0.0, where(self < 3, grad * (self / 3 + 0.5), grad)))


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


SOFTSHRINK = defop(
    "softshrink", node="SoftshrinkBackward0", kind=KEEP, save=(0,), check=_softshrink_check,
    forward=_half_in_float32(_softshrink),
    backward=lambda grad, self, lambd: where((self >= -lambd) & (self <= lambd), 0.0, grad))


def _hardshrink(xp, x, lambd):
    return _as(x, select((x >= -lambd) & (x <= lambd), 0, x))


HARDSHRINK = defop(
    "hardshrink", node="HardshrinkBackward0", kind=KEEP, save=(0,),
    check=_floats("hardshrink_cpu"), forward=_hardshrink,
    backward=lambda grad, self, lambd: where((self >= -lambd) & (self <= lambd), 0.0, grad))

# ---- glu, prelu, rrelu ------------------------------------------------------------------


def _glu(xp, x, dim):
    a, b = xp.split(x, 2, axis=dim)
    return _as(x, a * stable_sigmoid(xp, b))


def _glu_grad(grad, self, dim):
    from ember._ops.shape import cat

    a, b = self.chunk(2, dim)
    gate = _sigmoid_of(b)
    grad_a = grad * gate
    return cat([grad_a, grad_a * a * (1 - gate)], dim)


GLU = defop("glu", node="GluBackward0", kind=KEEP, save=(0,), check=_floats("glu_cpu"),
            forward=_half_in_float32(_glu), backward=_glu_grad)

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


def _rrelu_grad(grad, self, noise, lower, upper, training):
    if training and upper - lower > 1e-6:
        return grad * noise.to(grad.dtype)
    slope = (lower + upper) / 2
    return where(self > 0, grad, grad * slope)


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
