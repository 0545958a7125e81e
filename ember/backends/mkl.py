"""``ember.backends.mkl``: mirrors ``torch.backends.mkl``."""
from __future__ import annotations


def is_available() -> bool:
    """Mirrors ``torch.backends.mkl.is_available``: False, ember calls whichever BLAS
    NumPy was built with, not MKL through torch (torch's CPU build says True)."""
    return False
