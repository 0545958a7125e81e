"""Device objects (``ember.device``). Only the CPU exists today; each device names the
array module its tensors live in, so a GPU backend slots in here."""
from __future__ import annotations

from ember._backend import np


class device:
    """Mirrors ``torch.device``: ``device('cpu')``, ``device('cpu', 0)``, ``device(type='cpu')``."""

    __slots__ = ("type", "index")

    def __new__(cls, type: str | device = "cpu", index: int | None = None) -> device:  # noqa: A002
        if isinstance(type, device):
            return type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments: {type!r}")
        name, _, idx = type.partition(":")
        if idx:
            index = int(idx)
        if name != "cpu":
            raise RuntimeError(
                f"Expected one of cpu device type at start of device string: {type}")
        if index is None:
            return CPU
        obj = object.__new__(cls)
        obj.type, obj.index = name, index
        return obj

    @property
    def xp(self):
        """The array module that holds this device's tensors."""
        return np

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = object.__new__(device)
CPU.type, CPU.index = "cpu", None
