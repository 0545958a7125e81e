"""Attention kernels of ``ember.nn``: fused softmax attention and the safe softmax.

NOTE [Fused attention]: torch's CPU ``scaled_dot_product_attention`` runs a fused kernel
(``_scaled_dot_product_flash_attention_for_cpu``, node
``ScaledDotProductFlashAttentionForCpuBackward0``) when its inputs allow it (4-D, no
dropout, a mask that needs no gradient, ...), and otherwise composes it from ``matmul``,
``_safe_softmax`` and ``dropout`` (learnt by experiment against torch 2.13). ember does the
same: ``FLASH_ATTENTION`` is one record whose forward is two batched matmuls over all
batch and head dimensions around a masked, "safe" softmax (a row whose every score is
masked gives zeros, not nan), and whose backward is one record too
(``FLASH_ATTENTION_BACKWARD``) computing the three input gradients from the saved
probabilities. torch cannot differentiate that backward again (its node is
``NotImplemented``): neither can ember, with torch's error. The composed path lives in
``ember.nn._functional.attention`` and is differentiable to any order, as torch's is.
"""
from __future__ import annotations

from ember._backend import np
from ember._ops.registry import KEEP, defop, not_implemented, ones_vector, run
from ember._tensor import Tensor


def _memory_order(data) -> tuple:
    """The dimensions of ``data`` from outermost to innermost in memory."""
    if data.flags.c_contiguous:
        return tuple(range(data.ndim))
    return tuple(sorted(range(data.ndim), key=lambda d: -abs(data.strides[d])))


def _empty_like_layout(shape: tuple, dtype, like):
    """An uninitialised array of ``shape`` whose memory is ordered like ``like``'s (torch's
    fused kernel writes its output in the query's layout, so ``permute(...).contiguous()``
    after it is a no-op)."""
    order = _memory_order(like)
    if order == tuple(range(like.ndim)):
        return np.empty(shape, dtype)
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return np.empty(tuple(shape[d] for d in order), dtype).transpose(inverse)


# NOTE [Softmax without the row maximum]: softmax subtracts each row's maximum before ``exp``
# so that ``exp`` cannot overflow, and ``max`` along a short last axis is one of NumPy's
# slowest reductions (a call per row). When every score that takes part lies within
# +-_UNSHIFTED (checked by one global ``min`` and ``max``), ``exp`` of the scores themselves
# neither overflows nor underflows a row's sum to zero, and the quotient is the same softmax
# (to rounding); otherwise the maximum is subtracted. Row sums are a matrix-vector product
# with ones.
_UNSHIFTED = 64.0


def _in_unshifted_range(scores) -> bool:
    # a nan fails both comparisons: the shifted path then gives torch's nan
    return bool(scores.size and -_UNSHIFTED <= scores.min() and scores.max() <= _UNSHIFTED)


def _softmax_rows_(scores, unshifted: bool):
    """Safe softmax over the last dim of the float array ``scores``, in place: a row whose
    every score is ``-inf`` gives zeros, not nan. ``unshifted``: the scores that are not
    ``-inf`` are known to lie within +-_UNSHIFTED (NOTE [Softmax without the row
    maximum])."""
    if scores.size == 0:
        return scores
    if not unshifted:
        top = np.amax(scores, axis=-1, keepdims=True)
        top[top == -np.inf] = 0
        scores -= top
    np.exp(scores, out=scores)
    total = scores @ ones_vector(scores.shape[-1], scores.dtype)
    total[total == 0] = 1
    scores /= total[..., None]
    return scores


def safe_softmax_array(xp, scores):
    """Softmax over the last dim whose fully masked (all ``-inf``) rows give zeros."""
    if scores.dtype in (np.float32, np.float64):
        return _softmax_rows_(scores.copy(), _in_unshifted_range(scores))
    if scores.size == 0:
        return scores.copy()
    top = xp.amax(scores, axis=-1, keepdims=True)
    top = xp.where(top == -np.inf, 0, top)
    e = xp.exp(scores - top)
    total = xp.add.reduce(e, axis=-1, keepdims=True)
    return e / xp.where(total == 0, 1, total)


_causal_masks: dict = {}


def _causal_mask(rows: int, cols: int):
    """True above the diagonal: the scores a causal query does not see (cached)."""
    mask = _causal_masks.get((rows, cols))
    if mask is None:
        if len(_causal_masks) >= 64:
            _causal_masks.clear()
        mask = _causal_masks[rows, cols] = ~np.tri(rows, cols, dtype=bool)
        mask.flags.writeable = False
    return mask


def _probs(xp, q, k, mask, scale, causal):
    """The attention probabilities, a fresh array (NOTE [Softmax without the row
    maximum])."""
    scores = xp.matmul(q, xp.swapaxes(k, -1, -2))
    scores *= scale
    # without an additive mask, the scores that take part are the product's own
    unshifted = (mask is None or mask.dtype == np.bool_) and _in_unshifted_range(scores)
    if causal:
        np.copyto(scores, -np.inf, where=_causal_mask(scores.shape[-2], scores.shape[-1]))
    if mask is not None:
        if mask.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~mask)
        else:
            scores = (scores + mask).astype(q.dtype, copy=False)
    if scores.dtype not in (np.float32, np.float64):
        return safe_softmax_array(xp, scores)
    return _softmax_rows_(scores, unshifted)


def _flash_forward(xp, q, k, v, mask, scale, causal, groups):
    if groups > 1:  # grouped-query attention: each key/value head serves ``groups`` heads
        k = xp.repeat(k, groups, axis=-3)
        v = xp.repeat(v, groups, axis=-3)
    probs = _probs(xp, q, k, mask, scale, causal)
    shape = np.broadcast_shapes(probs.shape[:-2], v.shape[:-2]) + (probs.shape[-2],
                                                                   v.shape[-1])
    out = _empty_like_layout(shape, q.dtype, q)
    np.matmul(probs, v, out=out, casting="unsafe")
    return out, probs


def _fold_groups(grad, groups):
    """The gradient of a key/value repeated ``groups`` times along the head dim."""
    if groups == 1:
        return grad
    shape = grad.shape
    return grad.reshape(shape[:-3] + (shape[-3] // groups, groups) + shape[-2:]).sum(axis=-3)


def _flash_backward(xp, grad, q, k, v, probs, scale, groups):
    if groups > 1:
        k = xp.repeat(k, groups, axis=-3)
        v = xp.repeat(v, groups, axis=-3)
    grad_v = xp.matmul(xp.swapaxes(probs, -1, -2), grad)
    # probs * (grad_probs - rowsum(grad_probs * probs)) * scale, in place on grad_probs
    grad_scores = xp.matmul(grad, xp.swapaxes(v, -1, -2))
    if grad_scores.dtype in (np.float32, np.float64) and grad_scores.shape == probs.shape:
        row_dots = np.einsum("...j,...j->...", grad_scores, probs)
        grad_scores -= row_dots[..., None]
        grad_scores *= probs
    else:
        grad_scores = probs * (grad_scores - xp.add.reduce(grad_scores * probs, axis=-1,
                                                           keepdims=True))
    grad_scores *= scale
    grad_q = xp.matmul(grad_scores, k)
    grad_k = xp.matmul(xp.swapaxes(grad_scores, -1, -2), q)
    dtype = q.dtype
    return (grad_q.astype(dtype, copy=False), _fold_groups(grad_k, groups).astype(dtype),
            _fold_groups(grad_v, groups).astype(dtype))


_NOT_TWICE = not_implemented("_scaled_dot_product_flash_attention_for_cpu_backward")

FLASH_ATTENTION_BACKWARD = defop(
    "_scaled_dot_product_flash_attention_for_cpu_backward", node="NotImplemented", nin=4,
    kind=KEEP, promote=(0,), multi=True, forward=_flash_backward,
    backward=(_NOT_TWICE,) * 4)

# One backward run serves the formulas of q, k and v: the engine calls them one after the
# other with the same ``grads`` list, so the list's identity keys the shared result.
_shared = [None, None]


def _input_grads(grads, query, key, value, result, scale, groups):
    if _shared[0] is not grads:
        probs = result[1]._data
        _shared[1] = run(FLASH_ATTENTION_BACKWARD, grads[0], query, key, value, probs, scale,
                         groups)
        _shared[0] = grads
    return _shared[1]


def _formula(i):
    def formula(grads, query, key, value, attn_mask, scale, is_causal, groups, result):
        return _input_grads(grads, query, key, value, result, scale, groups)[i]
    return formula


FLASH_ATTENTION = defop(
    "_scaled_dot_product_flash_attention_for_cpu",
    node="ScaledDotProductFlashAttentionForCpuBackward0", nin=4, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, 2, "result"), forward=_flash_forward,
    backward=(_formula(0), _formula(1), _formula(2), None))


def flash_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask, scale: float,
                    is_causal: bool, groups: int) -> Tensor:
    """The fused attention of 4-D ``(N, H, L, E)`` inputs (NOTE [Fused attention]);
    ``attn_mask`` (bool: True takes part; float: added to the scores) needs no gradient."""
    return run(FLASH_ATTENTION, query, key, value, attn_mask, scale, is_causal, groups)[0]


def _safe_softmax_grad(grad, self, dim, result):
    return result * (grad - (grad * result).sum(dim, keepdim=True))


SAFE_SOFTMAX = defop(
    "_safe_softmax", node="SafeSoftmaxBackward0", kind=KEEP, save=("result",),
    forward=lambda xp, x, dim: safe_softmax_array(xp, x) if dim in (-1, x.ndim - 1)
    else xp.moveaxis(safe_softmax_array(xp, xp.moveaxis(x, dim, -1)), -1, dim),
    backward=_safe_softmax_grad)


def safe_softmax(input: Tensor, dim: int) -> Tensor:
    """torch's ``_safe_softmax``: softmax along ``dim`` where a fully masked row gives 0."""
    return run(SAFE_SOFTMAX, input, dim)

