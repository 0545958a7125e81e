"""What ``ember.backends``' modules share: flags checked on assignment, as torch's are,
and the ``flags(...)`` context manager."""
from __future__ import annotations

import contextlib
import sys
import types


class _FlagModule(types.ModuleType):
    """A module whose boolean flags are checked on assignment; ``_setters`` maps each flag
    to the setter name torch's error message shows."""

    _setters: dict = {}

    def __setattr__(self, name: str, value) -> None:
        setter = self._setters.get(name)
        if setter is not None and not isinstance(value, bool):
            raise RuntimeError(f"{setter} expects a bool, but got {type(value).__name__}")
        super().__setattr__(name, value)


def flag_module(name: str, setters: dict) -> None:
    """Make module ``name`` check its flags' types on assignment."""
    module = sys.modules[name]
    module.__class__ = type(f"{name.rsplit('.', 1)[1]}_module", (_FlagModule,),
                            {"_setters": setters})


@contextlib.contextmanager
def set_flags(name: str, **values):
    """Set module ``name``'s flags for a ``with`` block, then restore them."""
    module = sys.modules[name]
    previous = {flag: getattr(module, flag) for flag in values}
    for flag, value in values.items():
        setattr(module, flag, value)
    try:
        yield
    finally:
        for flag, value in previous.items():
            setattr(module, flag, value)
