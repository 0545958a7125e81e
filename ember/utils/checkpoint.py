"""Activation checkpointing: mirrors ``torch.utils.checkpoint.checkpoint`` with torch's
default ``use_reentrant=False`` semantics.

The function runs once with its graph recorded as usual, but the tensors its nodes save for
backward are not kept: a ``saved_tensors_hooks`` pair stores only their positions. The
first time backward needs one, the function runs again (under grad mode, on the same
inputs) and the tensors it saves, in the same order, stand in for the dropped ones. Memory
for saved activations is traded for a second forward.
"""
from __future__ import annotations

from ember.autograd.grad_mode import enable_grad
from ember.autograd.graph import saved_tensors_hooks


class _Recomputation:
    def __init__(self, function, args: tuple, kwargs: dict) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.count = 0
        self.tensors = None

    def pack(self, tensor) -> int:
        self.count += 1
        return self.count - 1

    def unpack(self, index: int):
        if self.tensors is None:
            self.tensors = []
            keep = self.tensors.append
            with enable_grad(), saved_tensors_hooks(lambda t: keep(t) or len(self.tensors),
                                                    lambda i: self.tensors[i - 1]):
                self.function(*self._detached_args(), **self.kwargs)
            if len(self.tensors) != self.count:
                raise RuntimeError(
                    "torch.utils.checkpoint: A different number of tensors was saved during "
                    f"the original forward and recomputation.\nNumber of tensors saved during "
                    f"forward: {self.count}\nNumber of tensors saved during recomputation: "
                    f"{len(self.tensors)}.")
        return self.tensors[index]

    def _detached_args(self) -> tuple:
        from ember._tensor import Tensor

        return tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                     for a in self.args)


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=None,
               determinism_check: str = "default", debug: bool = False,
               preserve_rng_state: bool = True, **kwargs):
    """Mirrors ``torch.utils.checkpoint.checkpoint``: ``function(*args, **kwargs)`` with its
    saved activations recomputed during backward instead of kept. ember implements the
    non-reentrant variant for either value of ``use_reentrant``; the gradients are the
    same."""
    recomputation = _Recomputation(function, args, kwargs)
    with saved_tensors_hooks(recomputation.pack, recomputation.unpack):
        return function(*args, **kwargs)
