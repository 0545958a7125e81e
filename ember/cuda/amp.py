"""``ember.cuda.amp``: mirrors ``torch.cuda.amp`` without CUDA: ``GradScaler`` disables
itself (as torch's does when CUDA is not available) and passes everything through.
Autocast is not part of ember yet (a later task)."""
from __future__ import annotations

import warnings


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
