"""Part of ``ember.nn.functional``: ``linear``, ``bilinear``, the grouped product and the
scaled (float8) products."""
from __future__ import annotations

import enum

from ember._dtype import bfloat16
from ember._ops import registry
from ember._ops.registry import run
from ember._tensor import Tensor

__all__ = ["linear", "bilinear", "grouped_mm", "scaled_mm", "scaled_grouped_mm", "ScalingType",
           "SwizzleType"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.linear``: ``input @ weight.T + bias``.

    Composed as torch composes it, so ``grad_fn`` is torch's: ``addmm`` for a 2-d input
    with a bias (``AddmmBackward0``); a contiguous input of another rank with a 1-d bias is
    flattened to 2-d, ``addmm``-ed and viewed back
    (``ViewBackward0``); otherwise ``matmul`` (``MmBackward0``, ``UnsafeViewBackward0``,
    ``SqueezeBackward4``) followed by an in-place add of the bias (``AddBackward0``).
    """
    if registry._modes:
        from ember.autograd.profiler import op_range

        # torch's profile shows aten::linear around the ops it runs
        with op_range("aten::linear", (_sizes(input), _sizes(weight), _sizes(bias))):
            return _linear(input, weight, bias)
    return _linear(input, weight, bias)


def _sizes(t: Tensor | None) -> tuple:
    return () if t is None else t._data.shape


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
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
    from ember._dtype import cpp_type_name
    from ember._ops.linalg import einsum

    given = [("input1", input1), ("input2", input2), ("weight", weight)] + (
        [("bias", bias)] if bias is not None else [])
    if any(t.dtype is not input1.dtype for _, t in given):  # torch's first check
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{name}: {cpp_type_name(t.dtype)}" for name, t in given))
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


class _ScalingType(enum.Enum):
    """Mirrors ``torch.nn.functional.ScalingType``: how a scaled product's operand was
    scaled (one scale for the tensor, one per row, or per block); ``int()`` gives its
    value as torch's enum does."""

    TensorWise = 0
    RowWise = 1
    BlockWise1x16 = 2
    BlockWise1x32 = 3
    BlockWise1x128 = 4
    BlockWise128x128 = 5

    def __int__(self) -> int:
        return self.value

    __index__ = __int__


class _SwizzleType(enum.Enum):
    """Mirrors ``torch.nn.functional.SwizzleType``: the layout of a block-scaled operand's
    scales."""

    NO_SWIZZLE = 0
    SWIZZLE_32_4_4 = 1

    def __int__(self) -> int:
        return self.value

    __index__ = __int__


_ScalingType.__module__ = _SwizzleType.__module__ = "ember.nn.functional"
ScalingType = _ScalingType
SwizzleType = _SwizzleType


def _size(t: Tensor, dim: int) -> int:
    """``t.size(dim)`` with torch's errors (the scaled products read scales' sizes so)."""
    ndim = t.dim()
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return t.shape[dim]


def _single(value):
    """A scale or recipe given as a list: (its first element, whether it was one)."""
    if isinstance(value, (list, tuple)):
        return (value[0] if value else None), len(value) == 1
    return value, True


def _scaling_error(mat_a: Tensor, scale_a: Tensor, mat_b: Tensor, scale_b: Tensor) -> ValueError:
    from ember._dtype import scalar_type_name

    m, n = mat_a.shape[0], mat_b.shape[1]

    def described(name: str, mat: Tensor, scale: Tensor, last: str) -> str:
        return (f"mat_{name}.dtype()={scalar_type_name(mat.dtype)}, "
                f"scale_{name}.dtype()={scalar_type_name(scale.dtype)}, "
                f"scale_{name}.size()={list(scale.shape)}{last}"
                f"scale_{name}.stride()={list(scale.stride())}")
    return ValueError(
        "Invalid scaling configuration.\n"
        "- For TensorWise scaling, a and b should be float8, scales should be float and "
        "singletons.\n"
        "- For RowWise scaling, a and b should be float8, scales should be float, scale_a "
        f"should be ({m}, 1) and scale_b should be (1, {n}), and both should be contiguous.\n"
        f"Got {described('a', mat_a, scale_a, ', ')}, {described('b', mat_b, scale_b, ' and ')}")


def _valid_scaling(mat_a: Tensor, scale_a: Tensor, recipe_a, mat_b: Tensor, scale_b: Tensor,
                   recipe_b) -> bool:
    from ember._dtype import FLOAT8, float8_e8m0fnu, float32

    if recipe_a is not recipe_b or scale_a.dtype is not float32 or \
            scale_b.dtype is not float32:
        return False
    if any(m.dtype not in FLOAT8 or m.dtype is float8_e8m0fnu for m in (mat_a, mat_b)):
        return False
    if recipe_a is _ScalingType.TensorWise:
        return scale_a.numel() == 1 and scale_b.numel() == 1
    if recipe_a is _ScalingType.RowWise:
        _size(scale_a, 0), _size(scale_a, 1), _size(scale_b, 0), _size(scale_b, 1)
        return scale_a.numel() == mat_a.shape[0] and scale_b.numel() == mat_b.shape[1]
    return False  # block-wise scaling: torch's CPU kernel has none


def scaled_mm(mat_a: Tensor, mat_b: Tensor, scale_a, scale_recipe_a, scale_b, scale_recipe_b,
              swizzle_a=None, swizzle_b=None, bias: Tensor | None = None,
              output_dtype=bfloat16, contraction_dim=(),
              use_fast_accum: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.scaled_mm`` on the CPU: ``(mat_a * scale_a) @ (mat_b
    * scale_b) + bias`` for float8 matrices, computed in float32 and rounded once to
    ``output_dtype`` (default bfloat16; None: ``mat_a``'s dtype).

    Scales and recipes may be given as one-element lists. ``TensorWise`` takes one float32
    scale per operand, ``RowWise`` one per row of ``mat_a`` (shape (M, 1)) and per column
    of ``mat_b`` ((1, N)); other recipes raise torch's ValueError. As on torch's CPU, the
    swizzles, ``use_fast_accum`` and a ``contraction_dim`` whose sizes agree do not change
    the product (``mat_a @ mat_b``). Not differentiable: the result's node is torch's
    ``NotImplemented``, whose backward raises."""
    from ember._ops.nn_scaled import SCALED_MM

    for name, mat in (("mat_a", mat_a), ("mat_b", mat_b)):
        if mat.dim() != 2:
            raise ValueError(f"{name} must be a matrix")
    if contraction_dim:
        if len(contraction_dim) != 2:
            raise ValueError("contraction_dim must have exactly 2 elements")
        dim_a, dim_b = contraction_dim
        if _size(mat_a, dim_a) != _size(mat_b, dim_b):
            raise ValueError(
                f"mat_a and mat_b shapes cannot be multiplied ({mat_a.shape[0]}x"
                f"{mat_a.shape[1]} and {mat_b.shape[0]}x{mat_b.shape[1]}) with contraction "
                f"dims mat_a: {dim_a}, mat_b: {dim_b}")
    if mat_a.shape[1] != mat_b.shape[0]:
        raise ValueError(
            f"mat_a and mat_b shapes cannot be multiplied ({mat_a.shape[0]}x{mat_a.shape[1]} "
            f"and {mat_b.shape[0]}x{mat_b.shape[1]})")
    (scale_a, one_a), (scale_b, one_b) = _single(scale_a), _single(scale_b)
    (recipe_a, _), (recipe_b, _) = _single(scale_recipe_a), _single(scale_recipe_b)
    if not (one_a and one_b and _valid_scaling(mat_a, scale_a, recipe_a, mat_b, scale_b,
                                               recipe_b)):
        raise _scaling_error(mat_a, scale_a, mat_b, scale_b)
    if recipe_a is _ScalingType.RowWise:
        for name, scale in (("a", scale_a), ("b", scale_b)):
            if scale.stride(1) != 1:
                raise ValueError(f"expected scale_{name}.stride(1) to be 1, but got "
                                 f"{scale.stride(1)}")
    if bias is not None and bias.numel() != mat_b.shape[1]:
        raise ValueError(f"Bias must be size {mat_b.shape[1]} but got {bias.numel()}")
    from ember._ops._promote import broadcast_error

    for mat, scale in ((mat_a, scale_a), (mat_b, scale_b)):
        error = broadcast_error([tuple(mat.shape), tuple(scale.shape)])
        if error is not None:
            raise error
    out = run(SCALED_MM, mat_a, mat_b, scale_a, scale_b, bias,
              (mat_a.dtype if output_dtype is None else output_dtype).np)[0]
    if out.dim() != 2:
        raise RuntimeError(f"output with shape [{mat_a.shape[0]}, {mat_b.shape[1]}] doesn't "
                           f"match the broadcast shape {list(out.shape)}")
    return out


def scaled_grouped_mm(mat_a: Tensor, mat_b: Tensor, scale_a, scale_recipe_a, scale_b,
                      scale_recipe_b, swizzle_a=None, swizzle_b=None,
                      bias: Tensor | None = None, offs: Tensor | None = None,
                      output_dtype=None, contraction_dim=(),
                      use_fast_accum: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.scaled_grouped_mm`` on the CPU, where torch has no
    kernel for it: whatever the arguments, it raises torch's NotImplementedError (the first
    sentences of torch's dispatcher message; torch goes on to list its backends)."""
    raise NotImplementedError(
        "Could not run 'aten::_scaled_grouped_mm_v2' with arguments from the 'CPU' backend. "
        "This could be because the operator doesn't exist for this backend, or was omitted "
        "during the selective/custom build process (if using custom build).")
