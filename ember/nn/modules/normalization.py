"""Part of ``ember.nn.modules``: LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm and
CrossMapLRN2d (mirror ``torch.nn``'s)."""
from __future__ import annotations

import numbers

from ember._ops.creation import arange, empty
from ember._ops.shape import cat
from ember._tensor import Tensor
from ember.autograd.function import Function, once_differentiable
from ember.nn import init
from ember.nn._functional import normalization as F
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm", "CrossMapLRN2d"]


def _as_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(normalized_shape)


def register_affine(module: Module, affine: bool, bias: bool, shape, device, dtype) -> None:
    """Registers a norm layer's ``weight`` and ``bias`` parameters of ``shape`` (values set
    by ``reset_affine``), or None for each that ``affine``/``bias`` leave out, in torch's
    order."""
    weight = Parameter(empty(shape, device=device, dtype=dtype)) if affine else None
    module.register_parameter("weight", weight)
    module.register_parameter(
        "bias", Parameter(empty(shape, device=device, dtype=dtype)) if affine and bias else None)


def reset_affine(module: Module) -> None:
    """A norm layer's affine parameters back to torch's start: weight 1, bias 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class LayerNorm(Module):
    """Mirrors ``torch.nn.LayerNorm``: ``F.layer_norm`` over the last dims, with an
    elementwise ``weight`` (1) and ``bias`` (0) when ``elementwise_affine`` (``bias=False``
    drops the bias)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        register_affine(self, elementwise_affine, bias, self.normalized_shape, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0 (as torch)."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Mirrors ``torch.nn.GroupNorm``: ``F.group_norm`` with per-channel ``weight`` (1)
    and ``bias`` (0) when ``affine``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        register_affine(self, affine, bias, num_channels, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0 (as torch)."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Mirrors ``torch.nn.RMSNorm``: ``F.rms_norm`` with an elementwise ``weight`` (1)
    when ``elementwise_affine``; ``eps`` None means the dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1 (as torch)."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Mirrors ``torch.nn.LocalResponseNorm``: ``F.local_response_norm``."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _channel_window_sums(values: Tensor, first: Tensor, last: Tensor) -> Tensor:
    """``values[:, first[c]:last[c] + 1].sum(1)`` for every channel ``c`` at once, from one
    cumulative sum (``first``/``last`` already clipped to the channels; empty windows,
    ``last < first``, give 0)."""
    n, _, h, w = values.shape
    cumulative = cat([values.new_zeros(n, 1, h, w), values.cumsum(1)], dim=1)
    upper = cumulative.index_select(1, last + 1)
    lower = cumulative.index_select(1, first)
    return (upper - lower) * (last >= first).to(values.dtype).view(1, -1, 1, 1)


class _CrossMapLRN2dImpl(Function):
    """torch's legacy ``CrossMapLRN2d`` function, with its forward's channel window (the
    running sum never drops channel 0 once the window has passed it) and its hand-written
    backward (a centred window of ``size`` channels): ember reproduces both, as torch's
    gradients are not the exact derivative of its forward."""

    @staticmethod
    def forward(ctx, input: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D "
                             "instead.")
        channels = input.size(1)
        pre_pad = int((size - 1) / 2 + 1)
        channel = arange(channels)
        square = input * input
        summed = _channel_window_sums(square, (channel * 0),
                                      (channel + pre_pad - 1).clamp(max=channels - 1))
        dropped = _channel_window_sums(square, (channel * 0 + 1),
                                       (channel - pre_pad).clamp(min=0))
        scale = (summed - dropped) * (alpha / size) + k
        output = input * scale.pow(-beta)
        ctx.save_for_backward(input, output, scale)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: Tensor):
        input, output, scale = ctx.saved_tensors
        size, alpha, beta = ctx.size, ctx.alpha, ctx.beta
        channels = input.size(1)
        inverse_pre_pad = int(size - (size - 1) / 2)
        channel = arange(channels)
        ratio = grad_output * output / scale
        accumulated = _channel_window_sums(
            ratio, (channel - inverse_pre_pad).clamp(min=0),
            (channel + size - 1 - inverse_pre_pad).clamp(max=channels - 1))
        grad_input = scale.pow(-beta) * grad_output \
            - input * accumulated * (2 * alpha * beta / size)
        return grad_input, None, None, None, None


# a Function's node is named after its class: torch's is CrossMapLRN2dBackward, and the
# module below holds the name CrossMapLRN2d
_CrossMapLRN2dFunction = type(Function)("CrossMapLRN2d", (_CrossMapLRN2dImpl,),
                                        {"__module__": __name__})


class CrossMapLRN2d(Module):
    """Mirrors ``torch.nn.CrossMapLRN2d``: local response normalisation across channels of
    a 4-D input, as torch's legacy (Lua Torch) implementation computes it; its node is
    ``CrossMapLRN2dBackward``, differentiable once (torch's double backward raises too)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
