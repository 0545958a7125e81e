"""``ember.backends.cudnn``: mirrors ``torch.backends.cudnn``. ember has no cuDNN (it needs
CUDA); the flags keep torch's defaults and read back what is set, and torch's check that
``enabled``, ``benchmark``, ``deterministic`` and ``allow_tf32`` are bools is kept."""
from __future__ import annotations

from ember.backends._flags import flag_module, set_flags

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = None


def is_available() -> bool:
    """Mirrors ``torch.backends.cudnn.is_available``: False, no cuDNN."""
    return False


def version() -> None:
    """Mirrors ``torch.backends.cudnn.version``: None when cuDNN is not available."""
    return None


def is_acceptable(tensor) -> bool:
    """Mirrors ``torch.backends.cudnn.is_acceptable``: whether cuDNN could take ``tensor``
    (never without cuDNN)."""
    return False


def flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
          deterministic: bool = False, allow_tf32: bool = True):
    """Mirrors ``torch.backends.cudnn.flags``: a context manager that sets the flags for
    its block and restores them after."""
    return set_flags(__name__, enabled=enabled, benchmark=benchmark,
                     benchmark_limit=benchmark_limit, deterministic=deterministic,
                     allow_tf32=allow_tf32)


flag_module(__name__, {"enabled": "set_enabled_cudnn", "benchmark": "set_benchmark_cudnn",
                       "deterministic": "set_deterministic_cudnn",
                       "allow_tf32": "set_allow_tf32_cublas"})
