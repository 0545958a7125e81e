"""``ember.utils.dlpack``: mirrors ``torch.utils.dlpack`` (the same functions as
``ember.from_dlpack`` and ``ember.to_dlpack``)."""
from ember._ops.creation_more import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
