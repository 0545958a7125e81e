"""``ember.utils``: mirrors ``torch.utils`` (``checkpoint`` today)."""
