"""Part of ``ember.nn.modules``: the activation modules.

Each is a short class over ``ember.nn.functional``: constructor arguments, attributes and
``extra_repr`` are torch's, and ``forward`` is one functional call.
"""
from __future__ import annotations

import warnings
from typing import Any

from ember._ops.creation import empty
from ember._tensor import Tensor
from ember.nn import init
from ember.nn._functional import activation as F
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = [
    "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh", "SiLU",
    "Mish", "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink", "LeakyReLU",
    "LogSigmoid", "Softplus", "Softshrink", "PReLU", "Softsign", "Tanhshrink", "Softmin",
    "Softmax", "Softmax2d", "LogSoftmax", "MultiheadAttention",
]


def _inplace_suffix(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


def _inplace_only(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class Threshold(Module):
    """Mirrors ``torch.nn.Threshold``: ``x`` where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class ReLU(Module):
    """Mirrors ``torch.nn.ReLU``: ``max(x, 0)``; ``inplace`` writes into the input."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class RReLU(Module):
    """Mirrors ``torch.nn.RReLU``: in training, slopes for non-positive elements drawn from
    ``U(lower, upper)`` (torch's draws for the same seed); in eval, their mean."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_suffix(self.inplace)}"


class Hardtanh(Module):
    """Mirrors ``torch.nn.Hardtanh``: ``x`` clamped to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to "
                          "`min_val`", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to "
                          "`max_val`", FutureWarning, stacklevel=2)
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(
                f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")
    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"


class ReLU6(Hardtanh):
    """Mirrors ``torch.nn.ReLU6``: ``min(max(x, 0), 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Sigmoid(Module):
    """Mirrors ``torch.nn.Sigmoid``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class Tanh(Module):
    """Mirrors ``torch.nn.Tanh``."""

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class _InplaceActivation(Module):
    """An activation whose only argument is ``inplace``; ``_fn`` is its functional form."""

    _fn = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, inplace=self.inplace)


class Hardsigmoid(_InplaceActivation):
    """Mirrors ``torch.nn.Hardsigmoid``: ``clamp(x + 3, 0, 6) / 6``."""

    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_InplaceActivation):
    """Mirrors ``torch.nn.Hardswish``: ``x * clamp(x + 3, 0, 6) / 6``."""

    _fn = staticmethod(F.hardswish)


class SiLU(_InplaceActivation):
    """Mirrors ``torch.nn.SiLU``: ``x * sigmoid(x)``."""

    _fn = staticmethod(F.silu)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Mish(_InplaceActivation):
    """Mirrors ``torch.nn.Mish``: ``x * tanh(softplus(x))``."""

    _fn = staticmethod(F.mish)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class SELU(_InplaceActivation):
    """Mirrors ``torch.nn.SELU``: ``scale * elu(x, alpha)`` with SELU's constants."""

    _fn = staticmethod(F.selu)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class ELU(Module):
    """Mirrors ``torch.nn.ELU``: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class CELU(ELU):
    """Mirrors ``torch.nn.CELU``: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)


class GLU(Module):
    """Mirrors ``torch.nn.GLU``: ``a * sigmoid(b)`` for the halves of the input along
    ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """Mirrors ``torch.nn.GELU``: ``x * Phi(x)`` (``approximate='tanh'``: its tanh
    approximation)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Hardshrink(Module):
    """Mirrors ``torch.nn.Hardshrink``: ``x`` where ``|x| > lambd``, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """Mirrors ``torch.nn.Softshrink``: ``x -+ lambd`` outside ``[-lambd, lambd]``, else 0."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class LeakyReLU(Module):
    """Mirrors ``torch.nn.LeakyReLU``: ``x`` for ``x > 0``, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class LogSigmoid(Module):
    """Mirrors ``torch.nn.LogSigmoid``: ``log(sigmoid(x))``, computed stably."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softplus(Module):
    """Mirrors ``torch.nn.Softplus``: ``log(1 + exp(beta x)) / beta``, linear above
    ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class PReLU(Module):
    """Mirrors ``torch.nn.PReLU``: ``x`` for ``x > 0``, else ``weight * x``, with one learnt
    slope or one per channel (``num_parameters``), each initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None,
                 dtype=None) -> None:
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """Mirrors ``torch.nn.Softsign``: ``x / (1 + |x|)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """Mirrors ``torch.nn.Tanhshrink``: ``x - tanh(x)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class _AlongDim(Module):
    """A softmax-like module along ``dim`` (torch's implicit choice and warning when ``dim``
    is None)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(_AlongDim):
    """Mirrors ``torch.nn.Softmin``: ``softmax(-x)`` along ``dim``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax(_AlongDim):
    """Mirrors ``torch.nn.Softmax`` along ``dim``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_AlongDim):
    """Mirrors ``torch.nn.LogSoftmax`` along ``dim``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Mirrors ``torch.nn.Softmax2d``: softmax over the channels of a ``(N, C, H, W)`` or
    ``(C, H, W)`` input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)


class MultiheadAttention(Module):
    """Mirrors ``torch.nn.MultiheadAttention``: ``Concat(head_1, ..., head_h) W_O`` with
    ``head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)``.

    Args:
        embed_dim: the model's width (``E``); split over ``num_heads`` heads.
        num_heads: the number of heads (must divide ``embed_dim``).
        dropout: dropout on the attention weights in training.
        bias: input and output projection biases (default ``True``).
        add_bias_kv: learnt ``bias_k``/``bias_v`` appended to the keys and values.
        add_zero_attn: a zero key and value appended to each sequence.
        kdim, vdim: the keys' and values' widths (default ``embed_dim``); when either
            differs the projections are separate parameters ``q/k/v_proj_weight``, else one
            packed ``in_proj_weight``.
        batch_first: inputs and output are ``(N, L, E)`` instead of ``(L, N, E)``.
        device, dtype: of the parameters.

    Parameters are created and drawn in torch's order (``out_proj``'s default init, then
    ``xavier_uniform_`` projections, zero biases, ``xavier_normal_`` ``bias_k``/``bias_v``),
    so ``manual_seed`` gives torch's values. ``forward`` returns ``(output, weights)`` as
    ``F.multi_head_attention_forward`` does. torch's evaluation-mode fast path
    (``_native_multi_head_attention``) gives the same values to rounding, with two
    exceptions ember reproduces (NOTE [Transformer fast paths] in
    ember/nn/modules/transformer.py).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None) -> None:
        from ember.nn.modules.linear import NonDynamicallyQuantizableLinear

        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != self.embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(
                empty((embed_dim, embed_dim), device=device, dtype=dtype))
            self.k_proj_weight = Parameter(
                empty((embed_dim, self.kdim), device=device, dtype=dtype))
            self.v_proj_weight = Parameter(
                empty((embed_dim, self.vdim), device=device, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), device=device,
                                                 dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), device=device, dtype=dtype))
            self.bias_v = Parameter(empty((1, 1, embed_dim), device=device, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple:
        from ember.nn._functional import attention as A

        is_batched = query.dim() == 3
        fast = self._takes_fast_path(query, key, value, key_padding_mask, attn_mask)
        key_padding_mask = A._canonical_mask(key_padding_mask, "key_padding_mask",
                                             A._none_or_dtype(attn_mask), "attn_mask",
                                             query.dtype)
        attn_mask = A._canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                      check_other=False)
        if self.batch_first and is_batched:
            # transposed once per distinct tensor, so that ``query is key`` still tells the
            # functional form that this is self-attention
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = A.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights or fast,
            attn_mask=attn_mask, use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal and not fast)
        if fast and not need_weights:
            weights = None
        if self.batch_first and is_batched:
            return out.transpose(1, 0), weights
        return out, weights

    def _takes_fast_path(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask,
                         attn_mask) -> bool:
        """Whether torch runs this call through ``_native_multi_head_attention`` (NOTE
        [Transformer fast paths]): batched self-attention in evaluation mode with no gradient
        to record, on a module without ``bias_k``/``bias_v``, ``add_zero_attn`` or separate
        projections, an even head count, ``batch_first``, boolean masks, no autocast."""
        from ember import is_autocast_enabled
        from ember.autograd import grad_mode

        if any(m is not None and m.is_floating_point() for m in (key_padding_mask, attn_mask)):
            return False
        if query.dim() != 3 or query is not key or key is not value or self.training:
            return False
        if self.in_proj_weight is None or query.dtype != self.in_proj_weight.dtype or (
                self.in_proj_bias is None or query.dtype != self.in_proj_bias.dtype):
            return False
        if self.num_heads % 2 or not self.batch_first or self.bias_k is not None \
                or self.bias_v is not None or self.add_zero_attn or is_autocast_enabled():
            return False
        tensors = (query, self.in_proj_weight, self.in_proj_bias, self.out_proj.weight,
                   self.out_proj.bias)
        return not (grad_mode.state.enabled
                    and any(t is not None and t.requires_grad for t in tensors))
