"""Part of ``ember.nn.modules``: the Transformer and its encoder and decoder stacks.

Constructor arguments, submodules (so parameter names, order and initial values after
``manual_seed``), ``repr`` and the order of dropout draws in training are torch's.

NOTE [Transformer fast paths]: in evaluation, torch swaps in fused kernels
(``_transformer_encoder_layer_fwd``, ``_native_multi_head_attention``) that give the general
path's values to float rounding; ember always runs the general path, and reproduces where
the fast paths change values:
- ``TransformerEncoder`` with ``enable_nested_tensor`` (and a layer that allows it),
  evaluation mode, no gradient needed, a ``src_key_padding_mask`` padding at the end of each
  sequence and no ``mask`` packs the batch into a nested tensor, and the padded positions
  come out as zeros (before the final ``norm``). ember zeroes the padded positions under the
  same conditions.
- The fused attention of ``MultiheadAttention`` and ``TransformerEncoderLayer`` (conditions
  in their ``_takes_fast_path``) is a plain softmax even without ``need_weights``: a query
  whose keys are all masked out gives nan there, where the general path's
  ``scaled_dot_product_attention`` gives 0. And it ignores ``is_causal``: without a mask it
  attends to every key (the general path refuses, or masks causally). Under those
  conditions ember runs the weights path (``need_weights``) and drops ``is_causal``.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import ember
from ember._tensor import Tensor
from ember.autograd import grad_mode
from ember.nn import init
from ember.nn._functional import activation as F_act
from ember.nn._functional import attention as F_attn
from ember.nn.modules.activation import GELU, MultiheadAttention, ReLU
from ember.nn.modules.container import ModuleList
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder",
           "TransformerEncoderLayer", "TransformerDecoderLayer"]


def _generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """``(sz, sz)`` float mask: -inf above the diagonal, 0 elsewhere."""
    if dtype is None:
        dtype = ember.get_default_dtype()
    return ember.full((sz, sz), float("-inf"), device=device, dtype=dtype).triu(diagonal=1)


def _get_seq_len(src: Tensor, batch_first: bool):
    if src.dim() == 2:  # unbatched: (S, E)
        return src.size(0)
    return src.size(1 if batch_first else 0)


def _detect_is_causal_mask(mask, is_causal=None, size=None) -> bool:
    """``is_causal`` if given, else whether ``mask`` is the square subsequent mask."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.size(-2)
        causal = _generate_square_subsequent_mask(sz, dtype=mask.dtype)
        if tuple(mask.shape) == tuple(causal.shape):
            make_causal = bool((mask == causal).all())
        else:
            make_causal = False
    return make_causal


def _get_activation_fn(activation: str) -> Callable:
    if activation == "relu":
        return F_act.relu
    if activation == "gelu":
        return F_act.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Mirrors ``torch.nn.TransformerEncoderLayer``: self-attention then a feed-forward
    block, each with dropout, a residual connection and LayerNorm (after the residual, or
    before the block with ``norm_first``).

    Args:
        d_model, nhead: width and number of attention heads.
        dim_feedforward: the feed-forward block's hidden width (default 2048).
        dropout: dropout probability (default 0.1).
        activation: "relu", "gelu" or a callable (a module is registered as a submodule).
        layer_norm_eps, batch_first, norm_first, bias: as in torch.

    Masks (``src_mask``, ``src_key_padding_mask``) are bool (True = masked out) or additive
    float; ``is_causal`` is a hint that ``src_mask`` is causal.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = F_act.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        # torch's fast-path flag: 1 for relu, 2 for gelu, 0 otherwise
        if activation is F_act.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F_act.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        src_key_padding_mask = F_attn._canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", F_attn._none_or_dtype(src_mask),
            "src_mask", src.dtype)
        src_mask = F_attn._canonical_mask(src_mask, "src_mask", None, "", src.dtype,
                                          check_other=False)
        fast = self._takes_fast_path(src)
        is_causal = is_causal and not fast  # NOTE [Transformer fast paths]
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal,
                                   fast)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal,
                                              fast))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _takes_fast_path(self, src: Tensor) -> bool:
        """Whether torch runs this call through ``_transformer_encoder_layer_fwd`` (NOTE
        [Transformer fast paths]): a batched input in evaluation mode with no gradient to
        record, ``batch_first`` self-attention with biases and one projection, a relu or
        gelu activation, equal norm eps, an even head count, no autocast and no hooks."""
        attn = self.self_attn
        if src.dim() != 3 or self.training or not attn.batch_first:
            return False
        if attn.in_proj_bias is None or not attn._qkv_same_embed_dim:
            return False
        if not self.activation_relu_or_gelu or self.norm1.eps != self.norm2.eps:
            return False
        if attn.num_heads % 2 == 1 or ember.is_autocast_enabled():
            return False
        if any(m._forward_hooks or m._forward_pre_hooks for m in self.modules()):
            return False
        if grad_mode.state.enabled:
            tensors = (src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                       attn.out_proj.bias, self.norm1.weight, self.norm1.bias,
                       self.norm2.weight, self.norm2.bias, self.linear1.weight,
                       self.linear1.bias, self.linear2.weight, self.linear2.bias)
            return not any(t.requires_grad for t in tensors)
        return True

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool,
                  fused: bool = False) -> Tensor:
        # fused: torch's fast path, a plain softmax (NOTE [Transformer fast paths])
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=fused, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Mirrors ``torch.nn.TransformerDecoderLayer``: self-attention, attention over the
    encoder's output (``memory``), then a feed-forward block, each with dropout, a residual
    connection and LayerNorm (``norm_first`` as in the encoder layer). Arguments as
    ``TransformerEncoderLayer``'s."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = F_act.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, device=device,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias,
                                                 device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _why_not_nested(layer: Module) -> str:
    """torch's reason for not packing an encoder's batch into a nested tensor, or ''."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not layer.self_attn.batch_first:
        return (f"{name}.self_attn.batch_first was not True"
                "(use batch_first for better inference performance)")
    if not layer.self_attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


def _left_aligned(padding: Tensor) -> bool:
    """Whether each row of the (N, S) padding mask pads only at its end."""
    data = padding._data
    return bool((data[:, 1:] >= data[:, :-1]).all())


class TransformerEncoder(Module):
    """Mirrors ``torch.nn.TransformerEncoder``: ``num_layers`` deep copies of
    ``encoder_layer`` applied in turn, then ``norm`` if given.

    ``enable_nested_tensor`` and ``mask_check`` are torch's: ember computes the padded
    batch densely and gives the nested path's values (NOTE [Transformer fast paths]),
    warning as torch does when the layer rules nested tensors out.
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_not_nested(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False "
                          f"because {why_not}", stacklevel=2)
            self.use_nested_tensor = False

    def _nested(self, src: Tensor, padding, mask) -> bool:
        """Whether torch would run this call on a nested tensor."""
        first = self.layers[0]
        if not isinstance(first, TransformerEncoderLayer) or not self.use_nested_tensor:
            return False
        if first.training or src.dim() != 3 or padding is None or mask is not None:
            return False
        if self.mask_check and not _left_aligned(padding != 0):
            return False
        if grad_mode.state.enabled:
            attn = first.self_attn
            tensors = (src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                       attn.out_proj.bias, first.norm1.weight, first.norm1.bias,
                       first.norm2.weight, first.norm2.bias, first.linear1.weight,
                       first.linear1.bias, first.linear2.weight, first.linear2.bias)
            if any(t is not None and t.requires_grad for t in tensors):
                return False
        return True

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool | None = None
                ) -> Tensor:
        src_key_padding_mask = F_attn._canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", F_attn._none_or_dtype(mask), "mask",
            src.dtype)
        mask = F_attn._canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
        nested = self._nested(src, src_key_padding_mask, mask)
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if isinstance(
            first, TransformerEncoderLayer) else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if nested:
            padded = (src_key_padding_mask != 0).unsqueeze(-1)
            output = output.masked_fill(padded, 0.0)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """Mirrors ``torch.nn.TransformerDecoder``: ``num_layers`` deep copies of
    ``decoder_layer`` applied in turn over ``(tgt, memory)``, then ``norm`` if given;
    ``tgt_is_causal=None`` detects a square subsequent ``tgt_mask``."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        output = tgt
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Mirrors ``torch.nn.Transformer``: an encoder stack over ``src`` and a decoder stack
    over ``tgt`` attending to the encoder's output, each ending in a LayerNorm.

    Args:
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout,
        activation, layer_norm_eps, batch_first, norm_first, bias: as in torch (defaults
            512, 8, 6, 6, 2048, 0.1, relu, 1e-5, False, False, True).
        custom_encoder, custom_decoder: modules used instead of the default stacks.

    Every parameter with more than one dim is redrawn by ``xavier_uniform_`` after
    construction, in torch's order.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = F_act.relu,
                 custom_encoder: Any = None, custom_decoder: Any = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, device=device, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, device=device, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        is_batched = src.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if is_batched and src.size(batch_dim) != tgt.size(batch_dim):
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.size(-1) != self.d_model or tgt.size(-1) != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """Mirrors ``torch.nn.Transformer.generate_square_subsequent_mask``: an ``(sz,
        sz)`` float mask, -inf above the diagonal and 0 elsewhere."""
        return _generate_square_subsequent_mask(sz, device, dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
