"""``ember.backends.openmp``: mirrors ``torch.backends.openmp``."""
from __future__ import annotations


def is_available() -> bool:
    """Mirrors ``torch.backends.openmp.is_available``: False, ember's kernels do not run
    on OpenMP (torch's CPU build says True)."""
    return False
