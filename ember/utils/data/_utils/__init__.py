"""Mirrors ``torch.utils.data._utils``: ``collate`` holds ``default_collate``,
``default_convert`` and the extensible ``collate`` with ``default_collate_fn_map``, at the
path torch's documentation of ``default_collate`` gives for extending it."""
from ember.utils.data._utils import collate

__all__ = ["collate"]
