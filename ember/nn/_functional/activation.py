"""Part of ``ember.nn.functional``: the activation functions.

Those with a node of their own in torch run an op record of ``ember._ops.nn_activation``;
relu, sigmoid, tanh, softmax and log_softmax are ember's tensor ops; softsign, tanhshrink
and softmin are composed from other ops, as torch composes them (so their nodes are the
composing ops', as in torch). ``inplace=True`` writes into the input as torch's in-place ops
do: the version counter moves and the input's history is rewritten.
"""
from __future__ import annotations

import warnings

import ember
from ember import _dtype
from ember._ops import nn_activation as _act
from ember._ops.registry import run, run_inplace
from ember._tensor import Tensor, refuse_non_tensor, tensor_argument

__all__ = [
    "threshold", "threshold_", "relu", "relu_", "hardtanh", "hardtanh_", "relu6", "elu", "elu_",
    "selu", "selu_", "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_",
    "glu", "gelu", "logsigmoid", "hardshrink", "tanhshrink", "softsign", "softplus", "softmin",
    "softmax", "log_softmax", "softshrink", "tanh", "sigmoid", "hardsigmoid", "silu", "mish",
    "hardswish", "gumbel_softmax",
]


def _apply(op, inplace_op, input: Tensor, inplace: bool, *params) -> Tensor:
    if inplace:
        return run_inplace(inplace_op, input, *params)
    return run(op, input, *params)


def threshold(input: Tensor, threshold: float, value: float,  # noqa: A002
              inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.threshold``: ``x`` where ``x > threshold``, else
    ``value``."""
    return _apply(_act.THRESHOLD, _act.THRESHOLD_, input, inplace, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """Mirrors ``torch.nn.functional.threshold_``: ``threshold`` written into ``input``."""
    return run_inplace(_act.THRESHOLD_, input, threshold, value)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.relu``: ``max(x, 0)`` (ember's ``relu`` op)."""
    return input.relu_() if inplace else ember.relu(input)


def relu_(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.relu_``."""
    tensor_argument("relu_", "input", input, 1)
    return input.relu_()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.hardtanh``: ``x`` clamped to ``[min_val, max_val]``."""
    try:
        if min_val > max_val:
            raise ValueError("min_val cannot be greater than max_val")
        _hardtanh_dtype(input, min_val, max_val)
    except AttributeError as error:
        refuse_non_tensor("hardtanh", error, input, "input")
        raise
    return _apply(_act.HARDTANH, _act.HARDTANH_, input, inplace, min_val, max_val)


def _hardtanh_dtype(input: Tensor, min_val, max_val) -> None:
    """torch's hardtanh refusals: bool inputs, and negative limits for an unsigned input."""
    kind = input._data.dtype.kind
    if kind == "b":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if kind == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if kind == "u" and (min_val < 0 or max_val < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Mirrors ``torch.nn.functional.hardtanh_``."""
    tensor_argument("hardtanh_", "input", input, 1)
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.relu6``: ``hardtanh(x, 0, 6)`` (its node is torch's
    ``HardtanhBackward0``)."""
    try:
        _hardtanh_dtype(input, 0, 6)
    except AttributeError as error:
        refuse_non_tensor("relu6", error, input, "input")
        raise
    return _apply(_act.HARDTANH, _act.HARDTANH_, input, inplace, 0, 6)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.elu``: ``x`` for ``x > 0``, else
    ``alpha * (exp(x) - 1)``. Its scales are the integer 1, as torch's node saves them."""
    return _apply(_act.ELU, _act.ELU_, input, inplace, alpha, 1, 1)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Mirrors ``torch.nn.functional.elu_``."""
    tensor_argument("elu_", "input", input, 1)
    return run_inplace(_act.ELU_, input, alpha, 1, 1)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.selu``: ``scale * elu(x, alpha)`` with the SELU constants
    (its node is torch's ``EluBackward0``)."""
    try:
        return _apply(_act.ELU, _act.ELU_, input, inplace, _act.SELU_ALPHA, _act.SELU_SCALE, 1)
    except TypeError as error:  # the op runner names elu
        refuse_non_tensor("selu", error, input, "input")
        raise


def selu_(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.selu_``."""
    tensor_argument("selu_", "input", input, 1)
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.celu``: ``max(0, x) + min(0, alpha * (exp(x / alpha) -
    1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(_act.CELU, _act.CELU_, input, inplace, alpha, 1.0, 1.0 / alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Mirrors ``torch.nn.functional.celu_``."""
    tensor_argument("celu_", "input", input, 1)
    return celu(input, alpha, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.leaky_relu``: ``x`` for ``x > 0``, else
    ``negative_slope * x``."""
    return _apply(_act.LEAKY_RELU, _act.LEAKY_RELU_, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """Mirrors ``torch.nn.functional.leaky_relu_``."""
    tensor_argument("leaky_relu_", "input", input, 1)
    return run_inplace(_act.LEAKY_RELU_, input, negative_slope)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.prelu``: ``x`` for ``x > 0``, else ``weight * x`` with
    one weight, or one per channel (dimension 1)."""
    from ember._tensor import tensor_argument

    tensor_argument("prelu", "weight", weight, 2)
    if input.dtype is not weight.dtype:  # torch's first check
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{_dtype.scalar_type_name(input.dtype)} and "
                           f"{_dtype.scalar_type_name(weight.dtype)}")
    if input._data.dtype.kind in "biuc":
        from ember._ops.pointwise import _unsupported

        raise _unsupported("prelu_cpu", input._data.dtype)
    ndim = input._data.ndim
    if ndim == 0 and weight._data.size != 1:  # one weight may scale a 0-d input
        raise RuntimeError("Not allow zero-dim input tensor.")
    if weight._data.ndim > 1:
        raise RuntimeError("prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight._data.ndim}")
    channels = input._data.shape[1] if ndim >= 2 else 1
    count = weight._data.size
    if count != 1 and count != channels:
        raise RuntimeError("Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {count} and channel size = {channels}.")
    if ndim >= 2:
        shape = [1] * ndim
        shape[1] = count
        weight = weight.reshape(shape)
    elif ndim == 0:
        weight = weight.reshape(())  # the result keeps the 0-d input's shape
    return run(_act.PRELU, input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.rrelu``: in training, each non-positive element is
    multiplied by a slope drawn uniformly from ``[lower, upper]`` (from ember's generator, in
    torch's order: the same seed gives torch's slopes); otherwise leaky_relu with slope
    ``(lower + upper) / 2``."""
    tensor_argument("rrelu", "input", input, 1)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    noise = _act.rrelu_noise(input, lower, upper) if training else None
    return _apply(_act.RRELU, _act.RRELU_, input, inplace, noise, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.rrelu_``."""
    tensor_argument("rrelu_", "input", input, 1)
    return rrelu(input, lower, upper, training, inplace=True)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Mirrors ``torch.nn.functional.glu``: ``a * sigmoid(b)`` for the two halves ``a, b`` of
    ``input`` along ``dim``."""
    from ember._tensor import wrap_dim

    ndim = input._data.ndim
    if ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, ndim)
    size = input._data.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    return run(_act.GLU, input, d)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Mirrors ``torch.nn.functional.gelu``: ``x * Phi(x)``, or its tanh approximation with
    ``approximate='tanh'``."""
    return run(_act.GELU, input, approximate)[0]  # NOTE [GELU's workspace]


def logsigmoid(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.logsigmoid``: ``log(sigmoid(x))``, computed stably."""
    return run(_act.LOG_SIGMOID, input)[0]  # the buffer is the node's


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Mirrors ``torch.nn.functional.hardshrink``: ``x`` where ``|x| > lambd``, else 0."""
    return run(_act.HARDSHRINK, input, lambd)


def tanhshrink(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.tanhshrink``: ``x - tanh(x)``."""
    return input - input.tanh()


def softsign(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.softsign``: ``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """Mirrors ``torch.nn.functional.softplus``: ``log(1 + exp(beta x)) / beta``, and ``x``
    where ``beta x > threshold``."""
    return run(_act.SOFTPLUS, input, beta, threshold)


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """Mirrors ``torch.nn.functional.softmin``: ``softmax(-x)``; without ``dim`` it warns and
    picks torch's implicit dimension."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    return ember.softmax(-input, dim, dtype=dtype)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """Mirrors ``torch.nn.functional.softmax`` (ember's ``softmax`` op); without ``dim`` it
    warns and picks torch's implicit dimension; ``dtype`` casts the input first."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return ember.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """Mirrors ``torch.nn.functional.log_softmax`` (ember's ``log_softmax`` op), with
    softmax's implicit-dimension warning."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return ember.log_softmax(input, dim, dtype=dtype)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Mirrors ``torch.nn.functional.gumbel_softmax``: ``softmax((logits + g) / tau)`` with
    Gumbel noise ``g = -log(e)``, ``e`` drawn by ``exponential_`` from the generator as torch
    draws it (so a seeded call gives torch's sample). ``hard=True`` returns the one-hot of
    the argmax with the soft sample's gradient (``y_hard - y_soft.detach() + y_soft``).
    ``eps`` is deprecated and has no effect, as in torch (it warns)."""
    tensor_argument("empty_like", "input", logits, 1)  # torch fails in its draw
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -ember.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = ember.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Mirrors ``torch.nn.functional.softshrink``: ``x - lambd`` above ``lambd``, ``x +
    lambd`` below ``-lambd``, 0 between."""
    return run(_act.SOFTSHRINK, input, lambd)


def tanh(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.tanh`` (ember's ``tanh``)."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """Mirrors ``torch.nn.functional.sigmoid`` (ember's ``sigmoid``)."""
    return input.sigmoid()


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.hardsigmoid``: ``clamp(x + 3, 0, 6) / 6``."""
    return _apply(_act.HARDSIGMOID, _act.HARDSIGMOID, input, inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.silu``: ``x * sigmoid(x)``."""
    return _apply(_act.SILU, _act.SILU, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.mish``: ``x * tanh(softplus(x))``."""
    return _apply(_act.MISH, _act.MISH, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.hardswish``: ``x * clamp(x + 3, 0, 6) / 6``."""
    return _apply(_act.HARDSWISH, _act.HARDSWISH, input, inplace)
