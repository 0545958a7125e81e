"""Op record of ``torch.nn.functional.grouped_mm``: several matrix products in one call.

NOTE [Grouped products by padding]
The groups of a grouped product are runs of rows (or columns, or of the contraction dim) of
a 2-d operand, ended at the cumulative ``offs``. Rather than one product per group, the
runs are scattered into a zero-padded (G, longest run, ...) stack by one fancy-index write,
multiplied by one batched ``matmul``, and gathered back: the zero padding adds nothing to
the products. Positions past the last offset belong to no group and come out zero (torch
leaves them unwritten). The gradients are grouped products again, of the other operand's
transpose, through this record, so they are differentiable in turn.
"""
from __future__ import annotations

from ember._backend import np
from ember._ops.registry import KEEP, defop, run
from ember._tensor import Tensor


def _runs(offs, total: int) -> tuple:
    """For the ``total`` positions split at ``offs``: (group, place in its group) of those
    that belong to a group, their positions, and the longest run."""
    ends = offs.astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    pos = np.arange(min(total, int(ends[-1]) if ends.size else 0))
    group = np.searchsorted(ends, pos, side="right")
    place = pos - starts[group]
    longest = int((ends - starts).max(initial=0))
    return group, place, pos, max(longest, 0)


def _grouped_forward(xp, a, b, offs, out_np):
    compute = a.dtype if a.dtype in (np.float32, np.float64) else np.float32
    a = a.astype(compute, copy=False)
    b = b.astype(compute, copy=False)
    if offs is None:  # (G, M, K) @ (G, K, N)
        out = xp.matmul(a, b)
    elif a.ndim == 2 and b.ndim == 3:  # rows of a in groups, b[g] for group g
        group, place, pos, longest = _runs(offs, a.shape[0])
        stack = xp.zeros((b.shape[0], longest, a.shape[1]), compute)
        stack[group, place] = a[pos]
        out = xp.zeros((a.shape[0], b.shape[2]), compute)
        out[pos] = xp.matmul(stack, b)[group, place]
    elif a.ndim == 3:  # columns of b in groups, a[g] for group g
        group, place, pos, longest = _runs(offs, b.shape[1])
        stack = xp.zeros((a.shape[0], longest, b.shape[0]), compute)
        stack[group, place] = b[:, pos].T
        out = xp.zeros((a.shape[1], b.shape[1]), compute)
        out[:, pos] = xp.matmul(a, stack.transpose(0, 2, 1))[group, :, place].T
    else:  # the contraction dim in groups: one (M, N) product per group
        group, place, pos, longest = _runs(offs, a.shape[1])
        a_stack = xp.zeros((len(offs), a.shape[0], longest), compute)
        a_stack[group, :, place] = a[:, pos].T
        b_stack = xp.zeros((len(offs), longest, b.shape[1]), compute)
        b_stack[group, place] = b[pos]
        out = xp.matmul(a_stack, b_stack)
    return xp.ascontiguousarray(out.astype(out_np, copy=False))


def check_strides(mat: Tensor) -> None:
    """torch's layout rule for a grouped product's operand: one of its two matrix dims has
    stride 1, the other a stride of a multiple of 16 bytes."""
    strides = mat.stride()[-2:]
    if 1 not in strides:
        raise RuntimeError(f"Invalid strides/sizes, got {list(mat.stride())} for strides and "
                           f"{list(mat.shape)} for sizes")
    lead = strides[0] if strides[1] == 1 else strides[1]
    if lead * mat.element_size() % 16:
        raise RuntimeError("strides should be multiple of 16 bytes")


def _grouped(a: Tensor, b: Tensor, offs, out_np) -> Tensor:
    # the gradients are grouped products under the same layout rule as torch's
    check_strides(a)
    check_strides(b)
    return run(GROUPED_MM, a, b, offs, out_np)


def _a_grad(grad, a, b, offs, out_np):
    # in each of the four layouts, grad times b's transpose, grouped alike
    return _grouped(grad, b.transpose(-2, -1), offs, out_np)


def _b_grad(grad, a, b, offs, out_np):
    return _grouped(a.transpose(-2, -1), grad, offs, out_np)


GROUPED_MM = defop(
    "_grouped_mm", node="GroupedMmBackward0", nin=2, kind=KEEP, promote=(0,), save=(0, 1),
    forward=_grouped_forward, backward=(_a_grad, _b_grad))
