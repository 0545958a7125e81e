"""Mirrors ``torch.nn.utils.init``: ``skip_init``."""
from __future__ import annotations

import inspect

from ember.nn.modules.module import Module


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """Mirrors ``torch.nn.utils.skip_init``: ``module_cls(*args, **kwargs)`` with its
    parameters and buffers left uninitialised, on ``device`` (a keyword, default the CPU),
    the class having to take one. Where torch builds the module on its meta device, ember
    builds it with the random generator's state put back afterwards, so that, as in torch,
    no random number is drawn; the tensors are then replaced by fresh empty ones
    (``to_empty``: ember's hold zeros, torch's whatever memory held)."""
    from ember.random import fork_rng

    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    device = kwargs.pop("device", "cpu")
    with fork_rng():
        module = module_cls(*args, device=device, **kwargs)
    return module.to_empty(device=device)
