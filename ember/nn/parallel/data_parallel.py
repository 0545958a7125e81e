"""Mirrors ``torch.nn.parallel.data_parallel``."""
from __future__ import annotations

from typing import Any

from ember.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Mirrors ``torch.nn.DataParallel`` as torch's CPU build runs it: with no GPU to
    replicate onto, it holds ``module`` (so state-dict keys gain torch's ``module.``
    prefix), keeps ``device_ids`` empty, and its forward calls ``module`` directly.

    Args:
        module: the module to wrap.
        device_ids, output_device, dim: accepted for torch's signature; without GPUs there
            is nothing to scatter to or gather from, as in torch's CPU build.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None,
                 dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
