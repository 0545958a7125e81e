"""``ember.utils``: mirrors ``torch.utils`` (``checkpoint``, ``swap_tensors`` today)."""
from ember._runtime import swap_tensors  # noqa: F401 - torch.utils.swap_tensors
