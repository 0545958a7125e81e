"""Mirrors ``torch.nn.utils.memory_format``: convolution weights converted to a memory
format in place, through a module tree."""
from __future__ import annotations

from ember.nn.modules.module import Module


def _convert_weights(module: Module, memory_format, kinds: tuple) -> Module:
    from ember._ops.creation import empty
    from ember.autograd.grad_mode import no_grad

    if isinstance(module, kinds):
        weight = module.weight
        with no_grad():
            # the same values in fresh memory of the format's strides (those of ``empty``,
            # as torch's resize_ gives them: a dim of size 1 too), in the same parameter
            # object (optimizers and hooks holding it see the new layout)
            laid_out = empty(tuple(weight.shape), dtype=weight.dtype,
                             memory_format=memory_format)
            laid_out.copy_(weight.detach())
            weight.data = laid_out
    for child in module.children():
        _convert_weights(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module: Module, memory_format) -> Module:
    """Mirrors ``torch.nn.utils.convert_conv2d_weight_memory_format``: the weight of every
    ``Conv2d`` and ``ConvTranspose2d`` in ``module`` (itself included) laid out in
    ``memory_format`` (``channels_last``: the convolutions then compute in it); returns
    ``module``."""
    from ember.nn.modules.conv import Conv2d, ConvTranspose2d

    return _convert_weights(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: Module, memory_format) -> Module:
    """Mirrors ``torch.nn.utils.convert_conv3d_weight_memory_format``: as the 2-d one, for
    ``Conv3d`` and ``ConvTranspose3d`` (``channels_last_3d``)."""
    from ember.nn.modules.conv import Conv3d, ConvTranspose3d

    return _convert_weights(module, memory_format, (Conv3d, ConvTranspose3d))
