"""Mirrors ``torch.distributions.Kumaraswamy``."""
from __future__ import annotations

import math

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.transforms import AffineTransform, PowerTransform
from ember.distributions.uniform import Uniform
from ember.distributions.utils import broadcast_all, euler_constant

__all__ = ["Kumaraswamy"]


def _moments(a: Tensor, b: Tensor, n: int) -> Tensor:
    """The ``n``-th raw moment of Kumaraswamy(a, b): ``b * B(1 + n / a, b)``."""
    arg = 1 + n / a
    log_beta = ember.lgamma(arg) + ember.lgamma(b) - ember.lgamma(arg + b)
    return b * ember.exp(log_beta)


class Kumaraswamy(TransformedDistribution):
    """Mirrors ``torch.distributions.Kumaraswamy(concentration1, concentration0,
    validate_args=None)``: density ``a b x**(a-1) (1 - x**a)**(b-1)`` on ``[0, 1]`` with
    ``a = concentration1``, ``b = concentration0``.

    Built as torch builds it, a ``TransformedDistribution`` of ``Uniform(0, 1)`` through
    ``x ** (1/b)``, ``1 - x`` and ``x ** (1/a)``, so ``rsample`` turns ``ember.rand``'s draws
    (torch's for the same seed) into samples and ``log_prob`` inverts the transforms.

    ``mode`` follows torch's formula, which is NaN for every concentration: torch takes
    ``log1p(-b)`` (NaN for ``b > 1``, -inf at 1) where the mode needs ``log(a - 1)``, and
    masks the rest (``a < 1`` or ``b < 1``) with NaN.

    Example: ``Kumaraswamy(ember.tensor([2.0]), ember.tensor([5.0])).rsample()``."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(ember.full_like(self.concentration0, 0),
                            ember.full_like(self.concentration0, 1),
                            validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        batch_shape = Size(batch_shape)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        return _moments(self.concentration1, self.concentration0, 1)

    @property
    def mode(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        log_mode[(b < 1) | (a < 1)] = math.nan
        return log_mode.exp()

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        return _moments(a, b, 2) - ember.pow(self.mean, 2)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        harmonic_b = ember.digamma(b + 1) + euler_constant  # the b-th harmonic number
        return ((1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic_b
                - ember.log(a) - ember.log(b))
