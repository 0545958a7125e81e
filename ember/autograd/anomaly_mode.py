"""Anomaly detection: mirrors ``torch.autograd.detect_anomaly`` and ``set_detect_anomaly``.

While enabled, every recorded node keeps the traceback of the forward call that made it;
a backward that fails in a node warns with that traceback, and (with ``check_nan``) a node
whose gradients contain nan raises torch's RuntimeError naming it.
"""
from __future__ import annotations

import os
import warnings

# [enabled, check_nan]: global, as torch's anomaly mode is (not per thread).
state = [False, True]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_anomaly_enabled() -> bool:
    """Mirrors ``torch.is_anomaly_enabled``."""
    return state[0]


def is_anomaly_check_nan_enabled() -> bool:
    """Mirrors ``torch.is_anomaly_check_nan_enabled``."""
    return state[1]


class detect_anomaly:
    """Mirrors ``torch.autograd.detect_anomaly``: a context manager (and decorator) that
    turns anomaly detection on inside it."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = tuple(state)
        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should "
            "only be enabled for debugging.", UserWarning, stacklevel=2)

    def __enter__(self) -> None:
        self.prev = tuple(state)
        state[:] = [True, self.check_nan]

    def __exit__(self, *exc) -> None:
        state[:] = list(self.prev)

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Mirrors ``torch.autograd.set_detect_anomaly``: sets the mode now; as a context
    manager it restores the previous mode on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = tuple(state)
        state[:] = [bool(mode), bool(check_nan)]

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        state[:] = list(self.prev)


def forward_trace() -> list:
    """The user's frames of the current stack (ember's own are left out)."""
    import traceback  # only under anomaly mode: keeps it off ``import ember``

    return [frame for frame in traceback.extract_stack()[:-1]
            if not frame.filename.startswith(_PACKAGE)]


def warn_error_in(node) -> None:
    import traceback

    trace = (node._extra or {}).get("trace")
    if trace is None:
        return
    warnings.warn(
        f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
        + "".join(traceback.format_list(trace)), UserWarning, stacklevel=3)


def check_nan(node, outputs) -> None:
    from ember._backend import np

    for i, grad in enumerate(outputs):
        if grad is not None and np.isnan(grad._data).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
