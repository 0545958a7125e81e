"""Mirrors ``torch.distributions.LogisticNormal``."""
from __future__ import annotations

from ember import Tensor
from ember.distributions import constraints
from ember.distributions.normal import Normal
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """Mirrors ``torch.distributions.LogisticNormal(loc, scale, validate_args=None)``: a
    ``Normal(loc, scale)`` over the last dimension (``K`` values, a batch of one where
    ``loc`` and ``scale`` are both 0-d) pushed onto the ``K + 1`` simplex by
    ``StickBreakingTransform``. Samples draw ``torch.normal``'s numbers (``rsample``:
    ``normal_``), as Normal's do; ``mean``, ``variance`` and ``entropy`` have no closed form
    and raise, as in torch."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None) -> None:
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.base_dist.scale
