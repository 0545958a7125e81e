"""Part of ``ember.nn.modules``: ``ChannelShuffle``."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn._functional.vision import channel_shuffle
from ember.nn.modules.module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Mirrors ``torch.nn.ChannelShuffle``: the channels, read as (groups, C / groups),
    transposed."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
