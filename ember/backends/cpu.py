"""``ember.backends.cpu``: mirrors ``torch.backends.cpu``."""
from __future__ import annotations


def get_cpu_capability() -> str:
    """Mirrors ``torch.backends.cpu.get_cpu_capability``: the widest vector instruction set
    the kernels use. NumPy picks its SIMD kernels itself at run time; ember reports
    ``"DEFAULT"``, the name torch gives to kernels without a chosen extension."""
    return "DEFAULT"
