"""``ember.amp``: mirrors ``torch.amp`` — ``autocast`` (mixed precision on torch's CPU op
lists), ``custom_fwd``/``custom_bwd`` (autocast for custom autograd functions) and
``GradScaler`` (loss scaling with inf checks)."""
from ember.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from ember.amp.grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_available", "custom_fwd", "custom_bwd"]
