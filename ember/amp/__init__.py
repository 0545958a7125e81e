"""``ember.amp``: mirrors ``torch.amp`` — ``autocast`` (mixed precision on torch's CPU op
lists) and ``GradScaler`` (loss scaling with inf checks)."""
from ember.amp.autocast_mode import autocast, is_autocast_available
from ember.amp.grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_available"]
