"""Part of ``ember.nn.modules``: instance normalization (mirrors ``torch.nn``'s
InstanceNorm1d/2d/3d)."""
from __future__ import annotations

import warnings

from ember._tensor import Tensor
from ember.nn._functional import normalization as F
from ember.nn.modules.batchnorm import _LazyNormBase, _NormBase

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _InstanceNorm(_NormBase):
    """torch's ``_InstanceNorm``: ``_NormBase`` with ``affine`` and
    ``track_running_stats`` off by default; an input without a batch dim is normalised as
    a batch of one."""

    _no_batch_dim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _apply_instance_norm(self, input: Tensor) -> Tensor:
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        feature_dim = input.dim() - self._no_batch_dim
        if input.size(feature_dim) != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {input.size(feature_dim)}.")
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can "
                "silence this warning by not passing in num_features, which is not used "
                "because affine=False", stacklevel=2)
        if input.dim() == self._no_batch_dim:
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Mirrors ``torch.nn.InstanceNorm1d``: (N, C, L) or (C, L) input."""

    _no_batch_dim = 2

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class InstanceNorm2d(_InstanceNorm):
    """Mirrors ``torch.nn.InstanceNorm2d``: (N, C, H, W) or (C, H, W) input."""

    _no_batch_dim = 3

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.dim()}D input)")


class InstanceNorm3d(_InstanceNorm):
    """Mirrors ``torch.nn.InstanceNorm3d``: (N, C, D, H, W) or (C, D, H, W) input."""

    _no_batch_dim = 4

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (4, 5):
            raise ValueError(f"expected 4D or 5D input (got {input.dim()}D input)")


# As in torch, the lazy instance norms take _LazyNormBase's defaults (affine and
# track_running_stats True, unlike InstanceNorm*d), and read num_features from dim 1 even
# for an input without a batch dim.
class LazyInstanceNorm1d(_LazyNormBase, _InstanceNorm):
    """Mirrors ``torch.nn.LazyInstanceNorm1d``: an ``InstanceNorm1d`` whose
    ``num_features`` is dim 1 of its first input; it then becomes an ``InstanceNorm1d``."""

    cls_to_become = InstanceNorm1d
    _no_batch_dim = 2
    _check_input_dim = InstanceNorm1d._check_input_dim


class LazyInstanceNorm2d(_LazyNormBase, _InstanceNorm):
    """Mirrors ``torch.nn.LazyInstanceNorm2d``: an ``InstanceNorm2d`` whose
    ``num_features`` is dim 1 of its first input; it then becomes an ``InstanceNorm2d``."""

    cls_to_become = InstanceNorm2d
    _no_batch_dim = 3
    _check_input_dim = InstanceNorm2d._check_input_dim


class LazyInstanceNorm3d(_LazyNormBase, _InstanceNorm):
    """Mirrors ``torch.nn.LazyInstanceNorm3d``: an ``InstanceNorm3d`` whose
    ``num_features`` is dim 1 of its first input; it then becomes an ``InstanceNorm3d``."""

    cls_to_become = InstanceNorm3d
    _no_batch_dim = 4
    _check_input_dim = InstanceNorm3d._check_input_dim
