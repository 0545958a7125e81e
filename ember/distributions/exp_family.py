"""Mirrors ``torch.distributions.ExponentialFamily``."""
from __future__ import annotations

import ember
from ember import Tensor
from ember.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Mirrors ``torch.distributions.ExponentialFamily``: densities
    ``exp(<t(x), theta> - F(theta) + k(x))``. A subclass gives ``_natural_params`` (theta),
    ``_log_normalizer`` (F) and ``_mean_carrier_measure`` (E[k(x)]); the entropy and the KL
    divergence between two members of one family then follow from F's gradient (the
    Bregman divergence of F)."""

    @property
    def _natural_params(self) -> tuple:
        raise NotImplementedError

    def _log_normalizer(self, *natural_params) -> Tensor:
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self) -> float:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """``F(theta) - <theta, grad F(theta)> - E[k(x)]``, differentiable."""
        result = -self._mean_carrier_measure
        natural = [p.detach().requires_grad_() for p in self._natural_params]
        log_normalizer = self._log_normalizer(*natural)
        gradients = ember.autograd.grad(log_normalizer.sum(), natural, create_graph=True)
        result = result + log_normalizer
        for param, grad in zip(natural, gradients):
            result = result - (param * grad).reshape(
                tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
