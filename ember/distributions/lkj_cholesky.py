"""Mirrors ``torch.distributions.LKJCholesky``."""
from __future__ import annotations

import math

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.beta import Beta
from ember.distributions.distribution import Distribution
from ember.distributions.utils import _EMPTY_SHAPE, broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """Mirrors ``torch.distributions.LKJCholesky(dim, concentration=1.0,
    validate_args=None)``: the LKJ distribution over ``dim x dim`` correlation matrices,
    expressed through their lower Cholesky factors; the density of a correlation matrix
    ``M`` is proportional to ``det(M) ** (concentration - 1)``.

    ``sample`` uses the onion method as torch does (Lewandowski, Kurowicka and Joe, 2009;
    Ghosh and Henderson, 2003): one ``Beta`` draw per row gives the squared length of its
    strictly lower part, a ``randn`` matrix with its upper triangle dropped gives each row's
    direction, and the diagonal completes every row to unit length. The same seed gives
    torch's draws. Like torch's, it has no ``rsample``, ``mean``, ``variance`` or
    ``entropy``.

    Example: ``LKJCholesky(3, ember.tensor([0.5, 2.0])).sample()``."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration=1.0, validate_args=None) -> None:
        if dim < 2:
            raise ValueError("Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = Size((dim, dim))
        # row i (from 0) of the factor has squared off-diagonal length
        # Beta(i / 2, concentration + (dim - 2 - i) / 2); row 0 has none, and torch samples
        # it anyway as Beta(1/2, concentration + (dim - 2) / 2), so the draws line up
        marginal_concentration = self.concentration + 0.5 * (self.dim - 2)
        offset = ember.arange(self.dim - 1, dtype=self.concentration.dtype,
                              device=self.concentration.device)
        offset = ember.cat([offset.new_zeros((1,)), offset])
        beta_concentration1 = offset + 0.5
        beta_concentration0 = marginal_concentration.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_concentration1, beta_concentration0)
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=_EMPTY_SHAPE) -> Tensor:
        with ember.no_grad():
            squared_length = self._beta.sample(sample_shape).unsqueeze(-1)
            normal = ember.randn(self._extended_shape(sample_shape), dtype=squared_length.dtype,
                                 device=squared_length.device).tril(-1)
            direction = normal / normal.norm(dim=-1, keepdim=True)
            direction[..., 0, :].fill_(0.0)  # row 0 is 0 / 0 here; its length is 0
            w = ember.sqrt(squared_length) * direction
            tiny = ember.finfo(w.dtype).tiny
            diagonal = ember.clamp(1 - ember.sum(w ** 2, dim=-1), min=tiny).sqrt()
            return w + ember.diag_embed(diagonal)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # the density of L is prod_{i=2..dim} L_ii ** (dim - i + 2 (concentration - 1)):
        # det(M) ** (concentration - 1) times the Jacobian of M = L L^T
        diagonal = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = ember.arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diagonal.log()).sum(-1)
        # the normalising constant of Lewandowski, Kurowicka and Joe (2009), eq. 16
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = ember.lgamma(alpha) * dm1
        numerator = ember.mvlgamma(alpha - 0.5, dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        return unnormalized - (pi_constant + numerator - denominator)
