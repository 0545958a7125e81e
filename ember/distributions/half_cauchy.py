"""Mirrors ``torch.distributions.HalfCauchy``."""
from __future__ import annotations

import math

import ember
from ember import Tensor
from ember.distributions.cauchy import Cauchy
from ember.distributions.half_normal import _Half

__all__ = ["HalfCauchy"]


class HalfCauchy(_Half):
    """Mirrors ``torch.distributions.HalfCauchy(scale, validate_args=None)``: ``|x|`` for
    ``x`` from ``Cauchy(0, scale)``."""

    _base = Cauchy
    _value_as_tensor = True

    @property
    def mean(self) -> Tensor:
        return ember.full(self._extended_shape(), math.inf, dtype=self.scale.dtype,
                          device=self.scale.device)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance
