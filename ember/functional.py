"""``ember.functional``: mirrors ``torch.functional``, the module where torch defines some
of its top-level functions in Python. The same functions as ``ember.<name>``."""
from __future__ import annotations

import warnings

from ember import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    broadcast_shapes,
    broadcast_tensors,
    cartesian_prod,
    cdist,
    einsum,
    meshgrid,
    norm,
    split,
    tensordot,
    unique,
    unravel_index,
)
from ember._tensor import Tensor

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
           "broadcast_tensors", "cartesian_prod", "cdist", "chain_matmul", "einsum", "meshgrid",
           "norm", "split", "tensordot", "unique", "unravel_index"]


def chain_matmul(*matrices: Tensor, out=None) -> Tensor:
    """Mirrors the deprecated ``torch.chain_matmul``: the product of 2-D matrices, left to
    right (torch picks the cheapest bracketing; the values agree up to rounding). Warns as
    torch does."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two "
                  "or more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    if out is not None:
        raise TypeError("chain_matmul(): ember does not take out=")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = result.mm(m)
    return result.view(result.shape)  # torch's result is a view of multi_dot's (ViewBackward0)
