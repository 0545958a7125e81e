"""Part of ``ember.nn.functional``: ``scaled_dot_product_attention`` and
``multi_head_attention_forward``.

Both follow torch's choice of computation (NOTE [Fused attention] in
``ember/_ops/nn_attention.py``): the fused record where torch runs its fused CPU kernel, the
composition torch uses elsewhere (so the graph, its node names and the dropout draws are
torch's: a seeded run drops the same attention weights).
"""
from __future__ import annotations

import math
import warnings

import ember
from ember import _dtype
from ember._ops import nn_attention
from ember._ops.registry import run
from ember._tensor import Tensor
from ember.autograd import grad_mode
from ember.nn._functional.dropout import dropout
from ember.nn._functional.linear import linear
from ember.nn._functional.vision import pad

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _check_sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask) -> None:
    if not (query.dtype is key.dtype is value.dtype):
        names = [_dtype.cpp_type_name(t.dtype) for t in (query, key, value)]
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{names[0]} key.dtype: {names[1]} and value.dtype: {names[2]} instead.")
    dims = (query.dim(), key.dim(), value.dim())
    if min(dims) < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {dims[0]} key.dim: {dims[1]} and value.dim: {dims[2]} instead.")
    if attn_mask is not None and attn_mask.dtype is not ember.bool and \
            attn_mask.dtype is not query.dtype:
        raise RuntimeError(
            "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {_dtype.cpp_type_name(attn_mask.dtype)} and  query.dtype: "
            f"{_dtype.cpp_type_name(query.dtype)} instead.")


def _gqa_groups(query: Tensor, key: Tensor, value: Tensor, enable_gqa: bool) -> int:
    """How many query heads share one key/value head (1 without grouped-query attention)."""
    if not enable_gqa or query.dim() < 3:
        return 1
    q_heads, k_heads, v_heads = query.shape[-3], key.shape[-3], value.shape[-3]
    if k_heads == q_heads and v_heads == q_heads:
        return 1
    if k_heads == 0 or v_heads == 0 or q_heads % k_heads or q_heads % v_heads \
            or k_heads != v_heads:
        raise RuntimeError(
            "Number of heads in key and value must divide the number of heads in ")
    return q_heads // k_heads


def _fusable(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p: float,
             groups: int) -> bool:
    """Whether torch's CPU dispatcher picks its fused kernel for these arguments."""
    if dropout_p > 0 or query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        return False
    qs, ks, vs = query.shape, key.shape, value.shape
    if not (qs[0] == ks[0] == vs[0]) or ks[1] != vs[1] or qs[1] != ks[1] * groups:
        return False
    if not (qs[3] == ks[3] == vs[3]) or ks[2] != vs[2] or 0 in (qs[2], ks[2], qs[0], qs[1]):
        return False
    if any(t._data.strides[-1] != t._data.itemsize and t.shape[-1] != 1
           for t in (query, key, value)):
        return False
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 4):
            return False
        if attn_mask.requires_grad and grad_mode.state.enabled:
            return False
    return True


def _bool_to_additive(mask: Tensor, dtype) -> Tensor:
    """A boolean mask (True takes part) as the additive float mask torch turns it into."""
    return ember.zeros(tuple(mask.shape), dtype=dtype).masked_fill_(mask.logical_not(),
                                                                    float("-inf"))


def _scaled_by(t: Tensor, factor: float) -> Tensor:
    from ember._ops.reduction import MUL_SCALAR  # torch's Scalar overload: MulBackward1

    return run(MUL_SCALAR, t, factor)


def _math_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask, dropout_p: float,
                    is_causal: bool, scale: float, groups: int) -> Tensor:
    """torch's composite attention: q and k each scaled by sqrt(scale) before the product,
    the mask added, a safe softmax, dropout, the product with v."""
    root = math.sqrt(abs(scale))
    query = _scaled_by(query, -root if scale < 0 else root)
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not "
                               "be set when is_causal=True")
        size = (query.shape[-2], key.shape[-2])
        attn_mask = ember.ones(size, dtype=ember.bool).tril()
    if attn_mask is not None and attn_mask.dtype is ember.bool:
        attn_mask = _bool_to_additive(attn_mask, query.dtype)
    if groups > 1:
        key = key.repeat_interleave(groups, -3)
        value = value.repeat_interleave(groups, -3)
    scores = ember.matmul(query, _scaled_by(key.transpose(-2, -1), root))
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = nn_attention.safe_softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return ember.matmul(weights, value)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.scaled_dot_product_attention``:
    ``softmax(q k^T * scale + mask) v`` over the last two dims, batched over the others.

    Args:
        query, key, value: ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``.
        attn_mask: bool (True takes part) or float (added to the scores), broadcastable to
            ``(..., L, S)``.
        dropout_p: dropout on the attention weights (always applied, as in torch; the mask
            is torch's for the same seed).
        is_causal: a lower-triangular (top-left aligned) mask.
        scale: defaults to ``1 / sqrt(E)``.
        enable_gqa: key/value may have fewer heads (dim -3) than query, each shared by a
            group of query heads.

    A row with every score masked gives zeros. Where torch runs its fused CPU kernel the
    node is ``ScaledDotProductFlashAttentionForCpuBackward0`` and cannot be differentiated
    twice; elsewhere the composite graph is torch's.
    """
    _check_sdpa(query, key, value, attn_mask)
    groups = _gqa_groups(query, key, value, enable_gqa)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if _fusable(query, key, value, attn_mask, dropout_p, groups):
        return nn_attention.flash_attention(query, key, value, attn_mask, scale, is_causal,
                                            groups)
    return _math_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, groups)


# ---- multi-head attention ----------------------------------------------------------------


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name: str, other_type, other_name: str, target_type,
                    check_other: bool = True):
    """torch's mask normalisation: a bool mask (True = masked out) becomes an additive float
    mask of ``target_type`` (-inf where True); a float mask passes through."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype is not ember.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.", stacklevel=3)
    if not is_float:
        mask = ember.zeros(tuple(mask.shape), dtype=target_type).masked_fill_(
            mask, float("-inf"))
    return mask


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask,
                     num_heads: int) -> bool:
    """torch's checks of the inputs' ranks; True for a batched (3-D) query."""
    if query.dim() == 3:
        if not (key.dim() == 3 and value.dim() == 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D "
                f"but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                f"but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if not (key.dim() == 2 and value.dim() == 2):
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                f"but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or "
                    f"3-D but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but "
                                         f"got {attn_mask.shape}")
        return False
    raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.dim()}-D query tensor")


def _split_heads(packed: Tensor, parts: int, embed_dim: int):
    """(..., parts * E) -> ``parts`` contiguous (..., E) tensors, by torch's view chain."""
    packed = packed.unflatten(-1, (parts, embed_dim)).unsqueeze(0).transpose(0, -2)
    packed = packed.squeeze(-2).contiguous()
    return tuple(packed[i] for i in range(parts))


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b=None) -> tuple:
    embed_dim = q.shape[-1]
    if k is v:
        if q is k:  # self-attention: one projection
            return _split_heads(linear(q, w, b), 3, embed_dim)
        w_q, w_kv = w.split([embed_dim, embed_dim * 2])
        b_q, b_kv = (None, None) if b is None else b.split([embed_dim, embed_dim * 2])
        return (linear(q, w_q, b_q),) + _split_heads(linear(k, w_kv, b_kv), 2, embed_dim)
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _check_projection(name: str, w: Tensor, b, rows: int, cols: int) -> None:
    if tuple(w.shape) != (rows, cols):
        raise AssertionError(f"expecting {name} weights shape of {(rows, cols)}, but got "
                             f"{w.shape}")
    if b is not None and tuple(b.shape) != (rows,):
        raise AssertionError(f"expecting {name} bias shape of {(rows,)}, but got {b.shape}")


def _in_projection(q: Tensor, k: Tensor, v: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor,
                   b_q=None, b_k=None, b_v=None) -> tuple:
    e_q, e_k, e_v = q.shape[-1], k.shape[-1], v.shape[-1]
    _check_projection("query", w_q, b_q, e_q, e_q)
    _check_projection("key", w_k, b_k, e_q, e_k)
    _check_projection("value", w_v, b_v, e_q, e_v)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _fit_attn_mask(attn_mask: Tensor, tgt_len: int, src_len: int, bsz: int,
                   num_heads: int) -> Tensor:
    if attn_mask.dim() == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                               f"should be {(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.dim() == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                               f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _heads(t: Tensor, static, length: int, bsz: int, num_heads: int, head_dim: int,
           name: str) -> Tensor:
    """(S, N, E) -> (N * heads, S, head_dim), or the given static one after its checks."""
    if static is None:
        return t.view(length, bsz * num_heads, head_dim).transpose(0, 1)
    if static.size(0) != bsz * num_heads:
        raise AssertionError(f"expecting static_{name}.size(0) of {bsz * num_heads}, but got "
                             f"{static.size(0)}")
    if static.size(2) != head_dim:
        raise AssertionError(f"expecting static_{name}.size(2) of {head_dim}, but got "
                             f"{static.size(2)}")
    return static


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn: bool,
        dropout_p: float, out_proj_weight: Tensor, out_proj_bias, training: bool = True,
        key_padding_mask=None, need_weights: bool = True, attn_mask=None,
        use_separate_proj_weight: bool = False, q_proj_weight=None, k_proj_weight=None,
        v_proj_weight=None, static_k=None, static_v=None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple:
    """Mirrors ``torch.nn.functional.multi_head_attention_forward``: project, split into
    heads, attend, merge and project out. Inputs are ``(L, N, E)`` (or unbatched ``(L,
    E)``); returns ``(output, weights)``, the weights ``(N, L, S)`` averaged over heads
    (``(N, heads, L, S)`` with ``average_attn_weights=False``) or None without
    ``need_weights``.

    Masks: ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * heads, L,
    S)``, bool (True = masked out) or additive float. With ``need_weights`` the attention is
    composed of ``baddbmm``/``softmax``/``dropout``/``bmm`` as in torch (a fully masked row
    gives nan there, as in torch); without, it runs ``scaled_dot_product_attention``.
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # scaled_dot_product_attention makes the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, "
                             f"but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not "
                                 f"match value's {value.shape[:2]}")
        for name, weight in (("q", q_proj_weight), ("k", k_proj_weight),
                             ("v", v_proj_weight)):
            if weight is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight,
                                 v_proj_weight, b_q, b_k, b_v)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is "
                                 "None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        attn_mask = _fit_attn_mask(attn_mask, tgt_len, src_len, bsz, num_heads)
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = ember.cat([k, bias_k.repeat(1, bsz, 1)])
        v = ember.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    q = q.view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, k.shape[0], bsz, num_heads, head_dim, "k")
    v = _heads(v, static_v, v.shape[0], bsz, num_heads, head_dim, "v")
    if add_zero_attn:
        zeros = (bsz * num_heads, 1, head_dim)
        k = ember.cat([k, ember.zeros(zeros, dtype=k.dtype)], dim=1)
        v = ember.cat([v, ember.zeros(zeros, dtype=v.dtype)], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.size(1)
    if key_padding_mask is not None:
        # torch checks the batch size first, then the length; its message spells the
        # argument "key_padded_mask"
        for dim, expected in enumerate((bsz, src_len)):
            if key_padding_mask.shape[dim] != expected:
                raise AssertionError(f"Expected key_padded_mask.shape[{dim}] to be {expected}, "
                                     f"but got {key_padding_mask.shape[dim]}")
        key_padding_mask = key_padding_mask.view(bsz, 1, 1, src_len).expand(
            -1, num_heads, -1, -1).reshape(bsz * num_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0
    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        if attn_mask is not None:
            weights = ember.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
        else:
            weights = ember.bmm(q_scaled, k.transpose(-2, -1))
        weights = ember.softmax(weights, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = ember.bmm(weights, v)
        out = out.transpose(0, 1).contiguous().view(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.view(tgt_len, bsz, out.size(1))
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out = out.squeeze(1)
            weights = weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).contiguous().view(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.size(1))
    if not is_batched:
        out = out.squeeze(1)
    return out, None
