"""Mirrors ``torch.nn.utils.convert_parameters``."""
from __future__ import annotations

from collections.abc import Iterable

from ember._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Mirrors ``torch.nn.utils.parameters_to_vector``: the parameters flattened and
    concatenated into one 1-d tensor (differentiable, ``CatBackward0``)."""
    from ember._ops.shape import cat

    return cat([p.view(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Mirrors ``torch.nn.utils.vector_to_parameters``: slice ``vec`` into the parameters'
    shapes and make each slice the parameter's data."""
    if not isinstance(vec, Tensor):
        from ember._runtime import typename

        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    pointer = 0
    for param in parameters:
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param
