"""Part of ``ember.nn.modules``: ``PixelShuffle`` and ``PixelUnshuffle``."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn._functional.vision import pixel_shuffle, pixel_unshuffle
from ember.nn.modules.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """Mirrors ``torch.nn.PixelShuffle``: (*, C r^2, H, W) to (*, C, H r, W r) for
    ``upscale_factor`` r."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Mirrors ``torch.nn.PixelUnshuffle``: (*, C, H r, W r) to (*, C r^2, H, W) for
    ``downscale_factor`` r."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
