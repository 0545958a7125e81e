"""``ember.backends.mkldnn``: mirrors ``torch.backends.mkldnn`` (oneDNN). ember's kernels
are NumPy's, not oneDNN's, so ``is_available()`` is False where torch's CPU build says
True; the flags keep torch's defaults. ``enabled`` chooses, as in torch, between the graph of
torch's oneDNN LSTM (one ``MkldnnRnnLayerBackward0`` per layer) and its composed one."""
from __future__ import annotations

from ember.backends._flags import flag_module, set_flags

enabled = True
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Mirrors ``torch.backends.mkldnn.is_available``: False, ember does not use oneDNN."""
    return False


def flags(enabled: bool = False, deterministic: bool = False, allow_tf32: bool = True):
    """Mirrors ``torch.backends.mkldnn.flags``: sets the flags for a ``with`` block."""
    return set_flags(__name__, enabled=enabled, deterministic=deterministic,
                     allow_tf32=allow_tf32)


flag_module(__name__, {"enabled": "set_enabled_mkldnn",
                       "deterministic": "set_deterministic_mkldnn"})
