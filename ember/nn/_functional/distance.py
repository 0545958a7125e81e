"""Part of ``ember.nn.functional``: distances and similarities between vectors.

cosine_similarity, pairwise_distance and normalize are composed of ember ops as torch composes
them (so their graphs, and their gradients at zero vectors, are torch's); pdist runs its own
record (``PdistBackward0``).
"""
from __future__ import annotations

import ember
from ember._ops import nn_sparse as _sparse
from ember._ops.registry import run
from ember._tensor import Tensor, tensor_argument

__all__ = ["cosine_similarity", "pairwise_distance", "pdist", "normalize"]


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Mirrors ``torch.nn.functional.cosine_similarity``: ``sum(x1 * x2) / (max(|x1|, eps) *
    max(|x2|, eps))`` along ``dim``, after broadcasting. As in torch each input is divided by
    its own clamped norm first (no overflow for large inputs), and the clamp is applied
    without recording, so a zero vector's gradient is ``x2 / (eps |x2|)``, as in torch."""
    common = ember.promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is "
                           f"{ember._dtype.scalar_type_name(common)}")
    x1, x2 = ember.broadcast_tensors(x1, x2)
    norm1 = ember.linalg.vector_norm(x1, 2, dim, keepdim=True).clone()
    norm2 = ember.linalg.vector_norm(x2, 2, dim, keepdim=True).clone()
    with ember.no_grad():
        norm1.clamp_min_(eps)
        norm2.clamp_min_(eps)
    return ((x1 / norm1) * (x2 / norm2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.pairwise_distance``: ``norm(x1 - x2 + eps, p)`` along
    the last dimension (of the broadcast shape)."""
    ndim = max(x1.dim(), x2.dim())
    return (x1 - x2 + eps).norm(p, ndim - 1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """Mirrors ``torch.nn.functional.pdist``: the ``p``-norm distances between each pair of
    rows ``i < j`` of a 2-D input, in row-major order of the pairs."""
    tensor_argument("pdist", "input", input, 1)
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return run(_sparse.PDIST, input, float(p))


def normalize(input: Tensor, p: float = 2.0, dim=1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.normalize``: ``input / max(norm(input, p, dim), eps)``;
    ``dim`` may be a tuple. With ``out`` the result is written there (not differentiable, as
    in torch)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    with ember.no_grad():
        return out.copy_(input / denom)
