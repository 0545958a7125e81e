"""Part of ``ember.nn.modules``: the dropout modules (active in training mode only).

Their masks come from ember's generator exactly as torch's do (NOTE [Dropout masks] in
``ember.nn._functional.dropout``): the same seed drops the same elements.
"""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn._functional import dropout as F
from ember.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """The shared constructor and ``extra_repr`` of the dropout modules."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Mirrors ``torch.nn.Dropout``: zeroes elements with probability ``p`` and scales the
    rest by ``1 / (1 - p)`` in training."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Mirrors ``torch.nn.Dropout1d``: zeroes whole channels of ``(N, C, L)`` / ``(C, L)``
    inputs."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Mirrors ``torch.nn.Dropout2d``: zeroes whole channels of ``(N, C, H, W)`` inputs."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Mirrors ``torch.nn.Dropout3d``: zeroes whole channels of ``(N, C, D, H, W)`` /
    ``(C, D, H, W)`` inputs."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Mirrors ``torch.nn.AlphaDropout``: dropout keeping SELU's zero mean and unit
    variance."""

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Mirrors ``torch.nn.FeatureAlphaDropout``: alpha dropout of whole channels."""

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
