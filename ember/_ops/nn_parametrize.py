"""Op records and array pieces of ``nn.utils``' parametrizations: ``torch._weight_norm``
(whose CPU kernel records ``WeightNormInterfaceBackward0`` when the norm keeps dim 0 or the
last dim; the norms are ``torch.norm_except_dim``'s, from ``linalg_more``) and
``torch.geqrf`` / ``torch.linalg.householder_product``, which
``parametrizations.orthogonal`` needs (ember's linalg does not have them yet). Imported only
by ``ember.nn``.
"""
from __future__ import annotations

from ember._backend import np
from ember._ops.creation import eye
from ember._ops.linalg_more import norm_except_dim
from ember._ops.registry import KEEP, defop, run
from ember._tensor import Tensor, make

__all__: list = []


def _kept_axes(ndim: int, dim: int) -> tuple:
    return tuple(d for d in range(ndim) if d != dim)


def _weight_norm_forward(xp, v, g, dim):
    axes = _kept_axes(v.ndim, dim)
    norm = xp.sqrt(xp.sum(v * v, axis=axes, keepdims=True))
    return (v * (g / norm)).astype(v.dtype, copy=False)


def _weight_norm_v_grad(grad, v, g, dim):
    axes = _kept_axes(v.dim(), dim)
    norm = (v * v).sum(axes, keepdim=True).sqrt()
    projection = (grad * v).sum(axes, keepdim=True)
    return (g / norm) * (grad - v * (projection / (norm * norm)))


def _weight_norm_g_grad(grad, v, g, dim):
    axes = _kept_axes(v.dim(), dim)
    norm = (v * v).sum(axes, keepdim=True).sqrt()
    return ((grad * v).sum(axes, keepdim=True) / norm).reshape(g.shape)


_WEIGHT_NORM_INTERFACE = defop(
    "_weight_norm_interface", node="WeightNormInterfaceBackward0", nin=2, kind=KEEP,
    save=(0, 1), forward=_weight_norm_forward,
    backward=(_weight_norm_v_grad, _weight_norm_g_grad))


def weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """Mirrors ``torch._weight_norm``: ``v * (g / norm_except_dim(v, 2, dim))``. Like torch
    on the CPU, one fused node for ``dim`` 0 or ``v.dim() - 1``, composed ops otherwise."""
    if dim == 0 or dim == v.dim() - 1:
        return run(_WEIGHT_NORM_INTERFACE, v, g, dim)
    return v * (g / norm_except_dim(v, 2, dim))


def geqrf(a: Tensor) -> tuple[Tensor, Tensor]:
    """Mirrors ``torch.geqrf`` (LAPACK's QR in Householder form, batched; not
    differentiable, as in torch)."""
    h, tau = np.linalg.qr(a._data, mode="raw")
    return make(np.ascontiguousarray(np.swapaxes(h, -1, -2))), make(tau)


def householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.householder_product``: the first ``n`` columns of
    ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^H`` with ``v_i`` column ``i`` of ``a`` below
    the diagonal and 1 on it. Composed from ember ops (so differentiable); ember differs in
    that the result's node is the last op's, not ``LinalgHouseholderProductBackward0``."""
    m, n = a.shape[-2], a.shape[-1]
    lower = a.tril(-1) + eye(m, n, dtype=a.dtype)
    q = eye(m, dtype=a.dtype).expand(*a.shape[:-2], m, m)
    # one reflector per step: k is at most n, and each step is a batched rank-1 update
    for i in range(tau.shape[-1]):
        v = lower[..., :, i:i + 1]
        q = q - (q @ v) * tau[..., i:i + 1].unsqueeze(-1) @ v.mH
    return q[..., :n]

