"""Mirrors ``torch.distributions.Wishart``."""
from __future__ import annotations

import math
import warnings

import ember
from ember import Size, Tensor
from ember.distributions import constraints
from ember.distributions.chi2 import Chi2
from ember.distributions.distribution import Distribution
from ember.distributions.exp_family import ExponentialFamily
from ember.distributions.multivariate_normal import _precision_to_scale_tril
from ember.distributions.utils import _EMPTY_SHAPE, _NUMBER, lazy_property

__all__ = ["Wishart"]

_MATRIX_NAMES = ("covariance_matrix", "precision_matrix", "scale_tril")


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma of order ``p``: ``sum_{i<p} digamma(x - i/2)``, the
    derivative of ``mvlgamma(x, p)``."""
    halves = ember.arange(p, dtype=x.dtype, device=x.device).div(2)
    return ember.digamma(x.unsqueeze(-1) - halves.expand(tuple(x.shape) + (-1,))).sum(-1)


class Wishart(ExponentialFamily):
    """Mirrors ``torch.distributions.Wishart(df, covariance_matrix=None,
    precision_matrix=None, scale_tril=None, validate_args=None)``: the distribution of
    ``X^T X`` for ``df`` rows ``X`` drawn from ``N(0, covariance_matrix)``, for real
    ``df > p - 1``; exactly one of the three matrices is given, and batch dimensions of
    ``df`` and the matrix broadcast.

    ``rsample`` is the Bartlett decomposition, as torch's: a lower factor with
    ``sqrt(Chi2(df - i))`` on its diagonal and standard normals below it, pushed through
    ``scale_tril``; the same seed gives torch's draws (NOTE [torch's Wishart retry]).

    Differs from torch: ``max_try_correction`` defaults to 10 always (torch takes 3 while a
    JIT trace is recording; ember has no JIT tracer).

    Example: ``Wishart(ember.tensor(4.0), covariance_matrix=ember.eye(3)).rsample()``."""

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self) -> dict:
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self._event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None) -> None:
        matrices = (covariance_matrix, precision_matrix, scale_tril)
        if sum(m is not None for m in matrices) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        name, param = next((n, m) for n, m in zip(_MATRIX_NAMES, matrices) if m is not None)
        if param.dim() < 2:
            # torch names scale_tril here whichever matrix was given
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if isinstance(df, _NUMBER):
            batch_shape = Size(param.shape[:-2])
            self.df = ember.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = ember.broadcast_shapes(param.shape[:-2], df.shape)
            self.df = df.expand(batch_shape)
        event_shape = Size(param.shape[-2:])
        p = event_shape[-1]
        if self.df.le(p - 1).any():
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        setattr(self, name, param.expand(tuple(batch_shape) + (-1, -1)))
        if self.df.lt(p).any():
            warnings.warn("Low df values detected. Singular samples are highly likely to "
                          "occur for ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        # the diagonal of the Bartlett factor: sqrt(Chi2(df - i)) in row i
        steps = ember.arange(p, dtype=self._unbroadcasted_scale_tril.dtype,
                             device=self._unbroadcasted_scale_tril.device)
        self._dist_chi2 = Chi2(df=self.df.unsqueeze(-1)
                               - steps.expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(batch_shape)
        cov_shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in _MATRIX_NAMES:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        new._dist_chi2 = self._dist_chi2.expand(batch_shape + (self.event_shape[-1],))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> Size:
        return self._batch_shape + self._event_shape

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        identity = ember.eye(self._event_shape[-1], device=L.device, dtype=L.dtype)
        return ember.cholesky_solve(identity, L).expand(self._matrix_shape())

    def _df_matrix(self) -> Tensor:
        """``df`` with two trailing dimensions, to scale one matrix per batch element."""
        return self.df.view(self._batch_shape + (1, 1))

    @property
    def mean(self) -> Tensor:
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        factor = self.df - self._event_shape[-1] - 1
        factor[factor <= 0] = math.nan  # the mode exists for df >= p + 1 only
        return factor.view(self._batch_shape + (1, 1)) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        V = self.covariance_matrix
        diag_V = V.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (V.pow(2) + ember.einsum("...i,...j->...ij", diag_V, diag_V))

    def _bartlett_sampling(self, sample_shape=_EMPTY_SHAPE) -> Tensor:
        p = self._event_shape[-1]
        # a root that underflows would give a singular factor: torch lifts it to eps
        root = self._dist_chi2.rsample(sample_shape).sqrt()
        noise = root.clamp(min=ember.finfo(root.dtype).eps).diag_embed(dim1=-2, dim2=-1)
        i, j = ember.tril_indices(p, p, offset=-1)
        below = Size(sample_shape) + self._batch_shape + (p * (p - 1) // 2,)
        noise[..., i, j] = ember.randn(below, dtype=noise.dtype, device=noise.device)
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.transpose(-2, -1)

    def rsample(self, sample_shape=_EMPTY_SHAPE, max_try_correction=None) -> Tensor:
        """Mirrors ``Wishart.rsample(sample_shape=(), max_try_correction=None)``.

        NOTE [torch's Wishart retry]: torch means to redraw the samples that are not
        positive definite, up to ``max_try_correction`` times, but its first test is
        inverted: it flags the samples that *are* positive definite (per sample, across the
        batch), warns "Singular sample detected." and redraws those, then stops once no
        redraw is singular. So for ordinary parameters every call draws twice and returns
        the second draw, and a singular first draw is kept. ember makes the same calls,
        for the same numbers and the same generator state afterwards.

        Differs from torch: torch's backward through a redraw with a non-empty
        ``sample_shape`` fails (the mask it indexed with is then modified in place); ember's
        keeps that round's mask and differentiates."""
        if max_try_correction is None:
            max_try_correction = 10
        sample = self._bartlett_sampling(sample_shape)
        flagged = self.support.check(sample)
        if self._batch_shape:
            flagged = flagged.amax(self._batch_dims)
        if flagged.any():
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                # the mask of this round stays as it is: ``flagged`` changes below, and the
                # backward of the assignment needs the mask it was given
                redraw = flagged.clone()
                redrawn = self._bartlett_sampling(flagged[redraw].shape)
                # a 0-d mask (one sample, True here) goes in as a Python bool: torch assigns
                # through a view then (CopySlices), which ember does for a bool, not for a
                # 0-d bool tensor (IndexPutBackward0)
                sample[bool(redraw) if redraw.dim() == 0 else redraw] = redrawn
                still_singular = ~self.support.check(redrawn)
                if self._batch_shape:
                    still_singular = still_singular.amax(self._batch_dims)
                flagged[redraw] = still_singular
                if not flagged.any():
                    return sample
        return sample

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return (-nu * (p * math.log(2) / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                - ember.mvlgamma(nu / 2, p=p)
                + (nu - p - 1) / 2 * ember.linalg.slogdet(value).logabsdet
                - ember.cholesky_solve(value, L).diagonal(dim1=-2, dim2=-1).sum(dim=-1) / 2)

    def entropy(self) -> Tensor:
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return ((p + 1) * (p * math.log(2) / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                + ember.mvlgamma(nu / 2, p=p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p)
                + nu * p / 2)

    @property
    def _natural_params(self) -> tuple:
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (self.df - p - 1) / 2

    def _log_normalizer(self, x, y) -> Tensor:
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-ember.linalg.slogdet(-2 * x).logabsdet + p * math.log(2))
                + ember.mvlgamma(y + (p + 1) / 2, p=p))
