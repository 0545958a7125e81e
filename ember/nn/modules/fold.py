"""Part of ``ember.nn.modules``: ``Fold`` (col2im) and ``Unfold`` (im2col)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn._functional.vision import fold, unfold
from ember.nn.modules.module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Mirrors ``torch.nn.Fold``: sums (N, C * prod(kernel_size), L) columns into an
    (N, C, *output_size) tensor; output_size, kernel_size, dilation=1, padding=0,
    stride=1."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Mirrors ``torch.nn.Unfold``: the sliding blocks of an (N, C, H, W) input as
    (N, C * prod(kernel_size), L) columns; kernel_size, dilation=1, padding=0, stride=1."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
