"""Part of ``ember.nn.modules``: the padding layers (``ZeroPad*``, ``ConstantPad*``,
``ReflectionPad*``, ``ReplicationPad*``, ``CircularPad*``), each an ``F.pad`` call."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn._functional.vision import pad
from ember.nn.modules.module import Module

__all__ = [f"{kind}Pad{n}d" for kind in ("Zero", "Constant", "Reflection", "Replication",
                                           "Circular") for n in (1, 2, 3)]


def _sizes(padding, nd: int) -> tuple:
    """An int as the same size on both sides of ``nd`` dims; a tuple as given."""
    if isinstance(padding, int):
        return (padding,) * (2 * nd)
    return tuple(padding)


class _PadNd(Module):
    _nd = 0
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _sizes(padding, self._nd)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _pad_class(name: str, base: type, nd: int, mode: str, doc: str) -> type:
    return type(name, (base,), {"_nd": nd, "_mode": mode, "__module__": __name__,
                                "__doc__": f"Mirrors ``torch.nn.{name}``: {doc}"})


_DOCS = {
    "Zero": "pads with zeros; ``padding`` an int (every side) or (left, right, top, bottom, "
            "front, back) sizes from the last dim, negative sizes crop.",
    "Constant": "pads with ``value``; ``padding`` as ``ZeroPad``.",
    "Reflection": "pads with the reflection of the input (the edge not repeated).",
    "Replication": "pads by repeating the edge values.",
    "Circular": "pads with the input wrapped around (periodic).",
}
ZeroPad1d = _pad_class("ZeroPad1d", _ZeroPadNd, 1, "constant", _DOCS["Zero"])
ZeroPad2d = _pad_class("ZeroPad2d", _ZeroPadNd, 2, "constant", _DOCS["Zero"])
ZeroPad3d = _pad_class("ZeroPad3d", _ZeroPadNd, 3, "constant", _DOCS["Zero"])
ConstantPad1d = _pad_class("ConstantPad1d", _ConstantPadNd, 1, "constant", _DOCS["Constant"])
ConstantPad2d = _pad_class("ConstantPad2d", _ConstantPadNd, 2, "constant", _DOCS["Constant"])
ConstantPad3d = _pad_class("ConstantPad3d", _ConstantPadNd, 3, "constant", _DOCS["Constant"])
ReflectionPad1d = _pad_class("ReflectionPad1d", _PadNd, 1, "reflect", _DOCS["Reflection"])
ReflectionPad2d = _pad_class("ReflectionPad2d", _PadNd, 2, "reflect", _DOCS["Reflection"])
ReflectionPad3d = _pad_class("ReflectionPad3d", _PadNd, 3, "reflect", _DOCS["Reflection"])
ReplicationPad1d = _pad_class("ReplicationPad1d", _PadNd, 1, "replicate",
                              _DOCS["Replication"])
ReplicationPad2d = _pad_class("ReplicationPad2d", _PadNd, 2, "replicate",
                              _DOCS["Replication"])
ReplicationPad3d = _pad_class("ReplicationPad3d", _PadNd, 3, "replicate",
                              _DOCS["Replication"])
CircularPad1d = _pad_class("CircularPad1d", _PadNd, 1, "circular", _DOCS["Circular"])
CircularPad2d = _pad_class("CircularPad2d", _PadNd, 2, "circular", _DOCS["Circular"])
CircularPad3d = _pad_class("CircularPad3d", _PadNd, 3, "circular", _DOCS["Circular"])
