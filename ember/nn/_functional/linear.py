"""Part of ``ember.nn.functional``: ``linear`` and ``bilinear``."""
from __future__ import annotations

from ember._ops.registry import run
from ember._tensor import Tensor

__all__ = ["linear", "bilinear", "grouped_mm"]


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


def grouped_mm(mat_a: Tensor, mat_b: Tensor, *, offs: Tensor | None = None,
               bias: Tensor | None = None, out_dtype=None) -> Tensor:
    """Mirrors ``torch.nn.functional.grouped_mm``: matrix products of groups of rows,
    columns or contraction slices. Both 3-d: a batched product, no ``offs``. Otherwise
    ``offs`` (1-d int32, cumulative ends) splits the 2-d operand's rows (2-d ``mat_a``,
    3-d ``mat_b``: out (M, N)), columns (3-d ``mat_a``, 2-d ``mat_b``: out (M, N)) or the
    contraction dim (both 2-d: out (G, M, N)). float32, bfloat16 and float16 as on torch's
    CPU, with its stride rules; ``bias`` is refused as torch does. Rows past the last
    offset come out zero (torch leaves them unset). See NOTE [Grouped products by
    padding] in ember/_ops/nn_grouped.py."""
    from ember._dtype import cpp_type_name, scalar_type_name
    from ember._ops.nn_grouped import GROUPED_MM, check_strides

    for name, mat in (("mat_a", mat_a), ("mat_b", mat_b)):
        if mat.dim() not in (2, 3):
            raise RuntimeError(f"{name} has to be 2 or 3d")
    for name, mat in (("mat_a", mat_a), ("mat_b", mat_b)):
        if mat.dtype.np.name not in ("float32", "bfloat16", "float16"):
            raise RuntimeError(f"Expected {name} to be Float32, BFloat16 or Float16 matrix, "
                               f"got {scalar_type_name(mat.dtype)}")
    if out_dtype is not None and out_dtype is not mat_a.dtype:
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")
    if mat_b.dtype is not mat_a.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {cpp_type_name(mat_b.dtype)}, "
                           f"but got {cpp_type_name(mat_a.dtype)} instead")
    if offs is not None:
        if offs.dim() != 1:
            raise RuntimeError("offs has to be 1D")
        if offs.dtype.np.name != "int32":
            raise RuntimeError("Offsets have to be int32")
    if (offs is not None) == (mat_a.dim() == 3 and mat_b.dim() == 3):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if "
                           "both matrices are 3d")
    if mat_a.shape[-1] != mat_b.shape[-2]:
        raise RuntimeError("contraction dimension of mat_a and mat_b must match")
    groups = [m.shape[0] for m in (mat_a, mat_b) if m.dim() == 3]
    if offs is not None:
        groups.append(offs.shape[0])
    if len(set(groups)) > 1:
        raise RuntimeError("matrix batch sizes have to match" if offs is not None
                           else "batched dimension has to match")
    check_strides(mat_a)
    check_strides(mat_b)
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    return run(GROUPED_MM, mat_a, mat_b, None if offs is None else offs._data, mat_a.dtype.np)
