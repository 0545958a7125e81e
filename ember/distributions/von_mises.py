"""Mirrors ``torch.distributions.VonMises``."""
from __future__ import annotations

import math

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _EMPTY_SHAPE, broadcast_all, lazy_property

__all__ = ["VonMises"]

# Polynomial approximations of the modified Bessel functions I0 and I1 (Abramowitz and
# Stegun 9.8.1-9.8.4), lowest power first: I_n(x) ~ x^n P(y) with y = (x / 3.75)^2 below
# x = 3.75, and exp(x) / sqrt(x) Q(3.75 / x) above. torch evaluates the same polynomials,
# so log_prob and its gradients agree with it to rounding.
_BESSEL_SMALL = (
    (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2),
    (0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3),
)
_BESSEL_LARGE = (
    (0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1,
     0.2635537e-1, -0.1647633e-1, 0.392377e-2),
    (0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1, 0.2282967e-1,
     -0.2895312e-1, 0.1787654e-1, -0.420059e-2),
)


def _polynomial(y: Tensor, coefficients: tuple) -> Tensor:
    """``sum(c_k y^k)`` by Horner's rule, from the highest power down."""
    result = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        result = coefficient + y * result
    return result


def _log_modified_bessel_fn(x: Tensor, order: int = 0) -> Tensor:
    """``log I_order(x)`` for ``order`` 0 or 1 and ``x > 0``, differentiable in ``x``."""
    small = _polynomial((x / 3.75).pow(2), _BESSEL_SMALL[order])
    if order == 1:
        small = x.abs() * small
    large = x - 0.5 * x.log() + _polynomial(3.75 / x, _BESSEL_LARGE[order]).log()
    return ember.where(x < 3.75, small.log(), large)


def _rejection_sample(loc: Tensor, concentration: Tensor, proposal_r: Tensor,
                      x: Tensor) -> Tensor:
    """Best and Fisher's (1979) wrapped-Cauchy rejection sampler, over the whole array at
    once: each round draws ``torch.rand((3,) + x.shape)`` of ``loc``'s dtype and takes, for
    every element that accepts (again: an element accepted earlier is overwritten, as in
    torch), ``sign(u3 - 1/2) acos(f)``; rounds repeat until every element has accepted."""
    done = ember.zeros(x.shape, dtype=ember.bool, device=loc.device)
    while not done.all():
        u1, u2, u3 = ember.rand((3,) + tuple(x.shape), dtype=loc.dtype,
                                device=loc.device).unbind()
        z = ember.cos(math.pi * u1)
        f = (1 + proposal_r * z) / (proposal_r + z)
        c = concentration * (proposal_r - f)
        accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
        if accept.any():
            x = ember.where(accept, (u3 - 0.5).sign() * f.acos(), x)
            done = done | accept
    return (x + math.pi + loc) % (2 * math.pi) - math.pi


class VonMises(Distribution):
    """Mirrors ``torch.distributions.VonMises(loc, concentration, validate_args=None)``: the
    circular density ``exp(k cos(x - loc)) / (2 pi I0(k))``, ``x`` read modulo ``2 pi``.

    ``sample`` runs Best and Fisher's rejection sampler in float64 whatever the parameters'
    dtype (``torch.rand((3,) + shape, dtype=float64)`` per round, as torch draws) and casts
    the result back; samples lie in ``[-pi, pi)``. There is no ``rsample``, ``cdf`` or
    ``entropy`` (torch has none). ``I0`` and ``I1`` are torch's polynomial approximations.
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None) -> None:
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, Size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        # Unlike the other families, torch's VonMises builds the expanded distribution through
        # its class's constructor (a subclass's own __init__ included), validating again
        # unless validation was set off for this instance; it takes _instance for the
        # common signature and does not use it.
        return type(self)(self.loc.expand(batch_shape), self.concentration.expand(batch_shape),
                          validate_args=self.__dict__.get("_validate_args"))

    @lazy_property
    def _loc(self) -> Tensor:
        return self.loc.to(ember.float64)

    @lazy_property
    def _concentration(self) -> Tensor:
        return self.concentration.to(ember.float64)

    @lazy_property
    def _proposal_r(self) -> Tensor:
        """The wrapped-Cauchy proposal's ``r``; below ``k = 1e-5`` the closed form loses
        its digits to cancellation and torch takes its expansion ``1 / k + k``."""
        kappa = self._concentration
        tau = 1 + (1 + 4 * kappa.pow(2)).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        exact = (1 + rho.pow(2)) / (2 * rho)
        return ember.where(kappa < 1e-5, 1 / kappa + kappa, exact)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.concentration * ember.cos(value - self.loc)
        return (log_prob - math.log(2 * math.pi)
                - _log_modified_bessel_fn(self.concentration, order=0))

    def sample(self, sample_shape=_EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            x = ember.empty(shape, dtype=self._loc.dtype, device=self.loc.device)
            drawn = _rejection_sample(self._loc, self._concentration, self._proposal_r, x)
            return drawn.to(self.loc.dtype)

    @property
    def mean(self) -> Tensor:
        """The circular mean, ``loc``."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        """The circular variance, ``1 - I1(k) / I0(k)``."""
        return 1 - (_log_modified_bessel_fn(self.concentration, order=1)
                    - _log_modified_bessel_fn(self.concentration, order=0)).exp()
