"""Mirrors ``torch.distributions.NegativeBinomial``."""
from __future__ import annotations

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.gamma import Gamma
from ember.distributions.utils import (
    _EMPTY_SHAPE,
    _BinaryParams,
    _expand_probs_or_logits,
    broadcast_all,
    lazy_property,
)

__all__ = ["NegativeBinomial"]


class NegativeBinomial(_BinaryParams, Distribution):
    """Mirrors ``torch.distributions.NegativeBinomial(total_count, probs=None, logits=None,
    validate_args=None)``: the number of successes, each of probability ``probs``, before
    ``total_count`` failures; ``total_count`` may be any nonnegative real.

    ``sample`` draws as torch does: a Gamma(``total_count``, ``exp(-logits)``) sample, then
    ``ember.poisson`` of it, so the same seed gives torch's numbers. Like torch's, it has no
    ``entropy`` and no ``rsample``.

    Example: ``NegativeBinomial(ember.tensor([3.0]), probs=ember.tensor([0.4])).sample()``."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        total_count, param = broadcast_all(total_count, given)
        # torch takes the count's dtype from the probabilities, whichever dtype it came in
        self.total_count = total_count.type_as(param)
        setattr(self, "probs" if probs is not None else "logits", param)
        self._param = param
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        batch_shape = Size(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        _expand_probs_or_logits(self, new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.total_count * ember.exp(self.logits)

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / ember.sigmoid(-self.logits)

    @property
    def param_shape(self) -> Size:
        return self._param.size()

    @lazy_property
    def _gamma(self) -> Gamma:
        # a count of 0 is allowed here, though not as a Gamma concentration: no validation
        return Gamma(concentration=self.total_count, rate=ember.exp(-self.logits),
                     validate_args=False)

    def sample(self, sample_shape=_EMPTY_SHAPE) -> Tensor:
        with ember.no_grad():
            return ember.poisson(self._gamma.sample(sample_shape))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        from ember.nn.functional import logsigmoid

        log_unnormalized = (self.total_count * logsigmoid(-self.logits)
                            + value * logsigmoid(self.logits))
        log_normalization = (-ember.lgamma(self.total_count + value)
                             + ember.lgamma(1.0 + value) + ember.lgamma(self.total_count))
        # count 0 and value 0 is a certain event: inf - inf there, log 1 in torch
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized - log_normalization
