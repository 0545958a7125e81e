"""Part of ``ember.nn.functional``: ``linear`` and ``bilinear``."""
from __future__ import annotations

from ember._tensor import Tensor

__all__ = ["linear", "bilinear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.linear``: ``input @ weight.T + bias``.

    Composed as torch composes it, so ``grad_fn`` is torch's: ``addmm`` for a 2-d input
    with a bias (``AddmmBackward0``); a contiguous input of another rank with a 1-d bias is
    flattened to 2-d, ``addmm``-ed and viewed back
    (``ViewBackward0``); otherwise ``matmul`` (``MmBackward0``, ``UnsafeViewBackward0``,
    ``SqueezeBackward4``) followed by an in-place add of the bias (``AddBackward0``).
    """
    from ember._ops.linalg import addmm, matmul

    ndim = input.dim()
    if bias is not None:
        if ndim == 2:
            return addmm(bias, input, weight.t())
        if input.is_contiguous() and bias.dim() == 1:
            sizes = tuple(input.shape)
            flat_rows = 1
            for s in sizes[:-1]:
                flat_rows *= s
            out = addmm(bias, input.reshape(flat_rows, sizes[-1]), weight.t())
            return out.view(sizes[:-1] + (out.shape[1],))
    out = matmul(input, weight.t())
    if bias is None:
        return out
    if bias.dim() > out.dim() or any(b not in (1, o) for b, o in
                                     zip(bias.shape[::-1], out.shape[::-1])):
        out.add_(bias)  # torch adds in place: a bias that would grow the result raises
    # Out of place otherwise: the same values and node (AddBackward0), and ember's in-place
    # add on a view result would show the view's node instead.
    return out + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.bilinear``: ``y_k = x1^T A_k x2 + b_k`` over the
    leading (batch) dims, with torch's shape checks.

    ember computes the contraction with one ``einsum`` where torch runs its ``_trilinear``
    kernel; the outer node is torch's (``ViewBackward0``, or ``AddBackward0`` with a bias).
    """
    from ember._ops.linalg import einsum

    if input1.dim() != input2.dim():
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.dim()} and "
            f"{input2.dim()}")
    for i in range(input1.dim() - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got "
                f"{input1.shape[i]} and "
                f"{input2.shape[i]}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
            f"expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
            f"expected {weight.shape[2]}")
    if bias is not None and bias.shape[-1] != weight.shape[0]:
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias.shape[-1]} but "
            f"expected {weight.shape[0]}")
    batch = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    out = einsum("ni,oij,nj->no", x1, weight, x2).view(batch + (weight.shape[0],))
    if bias is not None:
        out = out + bias
    return out
