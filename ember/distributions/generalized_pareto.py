"""Mirrors ``torch.distributions.GeneralizedPareto``."""
from __future__ import annotations

import math

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _EMPTY_SHAPE, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Mirrors ``torch.distributions.GeneralizedPareto(loc, scale, concentration,
    validate_args=None)``: with ``z = (x - loc) / scale`` and ``c = concentration``, the
    survival function is ``(1 + c z)^(-1/c)`` (``exp(-z)`` where ``c`` is close to 0, by
    ``isclose``). The support is ``[loc, inf)`` for ``c >= 0`` and
    ``[loc, loc - scale / c]`` for ``c < 0``. ``rsample`` is ``icdf`` of ``torch.rand``'s
    numbers.

    Like torch's, ``log_prob`` and ``cdf`` apply the formulas outside the support too
    (validation aside), giving the same ``inf``/``nan`` there. Where ember differs: torch
    2.13 compares ``concentration`` with a float32 zero, so its ``log_prob``, ``cdf``,
    ``log_cdf`` and ``log_survival_function`` raise ``RuntimeError: Double did not match
    Float`` for float64 parameters; ember compares with a zero of the parameter's dtype and
    computes them.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _z(self, x) -> Tensor:
        return (x - self.loc) / self.scale

    def _exponential_case(self) -> tuple:
        """Where ``concentration`` counts as 0, and the concentration with 1 put there, so
        that the general formula (divided by it) stays finite where it is not used."""
        zero = ember.zeros((), dtype=self.concentration.dtype, device=self.concentration.device)
        is_zero = ember.isclose(self.concentration, zero)
        return is_zero, ember.where(is_zero, ember.ones_like(self.concentration),
                                    self.concentration)

    def rsample(self, sample_shape=_EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = ember.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        is_zero, safe_concentration = self._exponential_case()
        power = 1 / safe_concentration + 1
        # where the exponent is 0 (c = -1, the uniform case) the log1p term may be -inf;
        # 0 * -inf would be nan, so the exponent itself (0) is taken
        general = ember.where(power == 0, power, power * ember.log1p(safe_concentration * z))
        return -ember.log(self.scale) - ember.where(is_zero, z, general)

    def log_survival_function(self, value) -> Tensor:
        """Mirrors ``GeneralizedPareto.log_survival_function``: ``log(1 - cdf(value))``."""
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        is_zero, safe_concentration = self._exponential_case()
        return ember.where(is_zero, -z, -ember.log1p(safe_concentration * z)
                           / safe_concentration)

    def log_cdf(self, value) -> Tensor:
        """Mirrors ``GeneralizedPareto.log_cdf``: ``log(cdf(value))``."""
        return ember.log1p(-ember.exp(self.log_survival_function(value)))

    def cdf(self, value) -> Tensor:
        return ember.exp(self.log_cdf(value))

    def icdf(self, value) -> Tensor:
        is_zero, safe_concentration = self._exponential_case()
        log1m_value = ember.log1p(-value)
        general = ember.expm1(-safe_concentration * log1m_value) / safe_concentration
        return ember.where(is_zero, self.loc - self.scale * log1m_value,
                           self.loc + self.scale * general)

    @property
    def mean(self) -> Tensor:
        # finite for concentration < 1; the placeholder 0.5 keeps the discarded branch finite
        finite = self.concentration < 1
        safe = ember.where(finite, self.concentration, 0.5 * ember.ones_like(
            self.concentration))
        result = self.loc + self.scale / (1 - safe)
        return ember.where(finite, result, math.nan * ember.ones_like(result))

    @property
    def variance(self) -> Tensor:
        finite = self.concentration < 0.5
        safe = ember.where(finite, self.concentration, 0.25 * ember.ones_like(
            self.concentration))
        result = self.scale.pow(2) / ((1 - safe).pow(2) * (1 - 2 * safe))
        return ember.where(finite, result, math.nan * ember.ones_like(result))

    @property
    def mode(self) -> Tensor:
        return self.loc

    def entropy(self) -> Tensor:
        return (ember.log(self.scale) + self.concentration + 1).expand(self._batch_shape)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = ember.where(self.concentration < 0, self.loc - self.scale / self.concentration,
                            math.inf * ember.ones_like(self.loc))
        return constraints.interval(self.loc, upper)
