"""``ember.cuda.amp``: mirrors ``torch.cuda.amp`` without CUDA: ``GradScaler`` and
``autocast`` disable themselves (as torch's do when CUDA is not available), so everything
passes through at its own precision."""
from __future__ import annotations

import warnings

from ember import _dtype
from ember._autocast import autocast as _autocast


def amp_definitely_not_available() -> bool:
    """Mirrors ``torch.cuda.amp.common.amp_definitely_not_available``: True without CUDA."""
    from ember import cuda

    return not cuda.is_available()


class GradScaler:
    """Mirrors ``torch.cuda.amp.GradScaler`` when CUDA is not available: it warns and
    disables itself, so ``scale`` returns its argument, ``step`` calls
    ``optimizer.step`` unchanged, ``unscale_``/``update`` do nothing and ``get_scale()``
    is 1.0. The arguments are torch's; a disabled scaler does not use them."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        if enabled and amp_definitely_not_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available. "
                          " Disabling.", UserWarning, stacklevel=2)
        self._device = "cuda"
        self._enabled = False

    def is_enabled(self) -> bool:
        """Whether scaling is on: never without CUDA."""
        return self._enabled

    def scale(self, outputs):
        """The outputs multiplied by the scale: unchanged when disabled."""
        return outputs

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale: nothing to do when disabled."""

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)``; a disabled scaler skips no steps."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Adjust the scale for the next iteration: nothing to do when disabled."""

    def get_scale(self) -> float:
        """The current scale: 1.0 when disabled."""
        return 1.0

    def state_dict(self) -> dict:
        """The scaler's state: empty when disabled."""
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state: a disabled scaler keeps none."""


GradScaler.__module__ = "ember.cuda.amp"


class autocast(_autocast):
    """Mirrors the deprecated ``torch.cuda.amp.autocast``: ``torch.amp.autocast("cuda",
    ...)`` with torch's arguments (``enabled``, ``dtype`` default ``torch.float16``,
    ``cache_enabled``). It warns that it is deprecated and, CUDA not being available,
    that it disables itself: the region runs as outside it (CPU autocast unchanged)."""

    def __init__(self, enabled: bool = True, dtype: _dtype.dtype = _dtype.float16,
                 cache_enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


autocast.__module__ = "ember.cuda.amp"
