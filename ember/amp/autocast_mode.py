"""``ember.amp.autocast_mode``: mirrors ``torch.amp.autocast_mode`` (``autocast``,
``is_autocast_available``); the state and the casting mode live in ``ember._autocast``."""
from ember._autocast import autocast, is_autocast_available

__all__ = ["autocast", "is_autocast_available"]
