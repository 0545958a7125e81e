"""``ember.backends.cuda``: mirrors ``torch.backends.cuda``: whether CUDA is built in, and
cuBLAS's ``matmul`` flags. ``matmul.allow_tf32`` is the float32 matmul precision seen from
CUDA's side: True exactly when ``get_float32_matmul_precision()`` is not ``"highest"``."""
from __future__ import annotations

from ember import _device


def is_built() -> bool:
    """Mirrors ``torch.backends.cuda.is_built``: whether a backend serves CUDA."""
    return "cuda" in _device._BACKENDS


class cuBLASModule:
    """Mirrors ``torch.backends.cuda.matmul``: cuBLAS's switches."""

    _FLAGS = ("allow_tf32", "allow_fp16_reduced_precision_reduction",
              "allow_bf16_reduced_precision_reduction", "allow_fp16_accumulation")

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {
            "allow_fp16_reduced_precision_reduction": True,
            "allow_bf16_reduced_precision_reduction": True,
            "allow_fp16_accumulation": False})

    def __getattr__(self, name: str):
        from ember import _runtime

        if name == "allow_tf32":
            return _runtime._settings["matmul_precision"] != "highest"
        if name in self._FLAGS:
            return self._values[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value) -> None:
        from ember import _runtime

        if name == "allow_tf32":
            _runtime._settings["matmul_precision"] = "high" if value else "highest"
        elif name in self._FLAGS:
            self._values[name] = value
        else:
            raise AttributeError(f"Unknown attribute {name}")


cuBLASModule.__module__ = __name__
matmul = cuBLASModule()
