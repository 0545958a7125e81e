"""Batch normalisation over the batches of all processes of a group (the op behind
``nn.SyncBatchNorm`` in training with more than one process).

# NOTE [Synchronised batch norm]
Forward: one all-reduce of (count, per-channel sum) gives the global mean, a second of the
per-channel sum of squared deviations from it gives the global biased variance; the two
passes keep the variance as accurate as single-process batch norm's. Backward: with
``xhat = (x - mean) * invstd`` the input gradient is
``(grad - sum(grad) / M - xhat * sum(grad * xhat) / M) * invstd * weight``, where the
sums run over the whole group's batch (one all-reduce) and ``M`` is its size, so each
process gets the gradient of the sum of all processes' losses with respect to its own
input, as single-process batch norm over the concatenated batch gives. The weight and
bias gradients stay this process's own sums, as torch's do: DDP averages them.
Sums are accumulated in float64 before they are shared, so every process divides the
same numbers and the statistics agree bit for bit across the group.
"""
from __future__ import annotations

import importlib

import numpy as np

from ember._tensor import Tensor, make
from ember.autograd.function import Function, once_differentiable
from ember.nn._functional.normalization import _update_running


def _all_reduce(array: np.ndarray, group) -> None:
    importlib.import_module("ember.distributed").all_reduce(make(array), group=group)


def _layout(x: np.ndarray) -> tuple:
    channels = x.shape[1]
    return (0,) + tuple(range(2, x.ndim)), (1, channels) + (1,) * (x.ndim - 2)


class SyncBatchNorm(Function):
    """The autograd function of synchronised batch norm (node ``SyncBatchNormBackward``,
    torch's name); see NOTE [Synchronised batch norm]."""

    @staticmethod
    def forward(ctx, input: Tensor, weight: Tensor | None, bias: Tensor | None,
                running_mean: Tensor | None, running_var: Tensor | None, eps: float,
                momentum: float, process_group) -> Tensor:
        x = input._data
        axes, shape = _layout(x)
        channels = x.shape[1]
        first = np.empty(channels + 1)
        first[0] = x.size // channels
        x.sum(axes, dtype=np.float64, out=first[1:])
        _all_reduce(first, process_group)
        total = first[0]
        if total <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {tuple(x.shape)}")
        mean = (first[1:] / total).astype(x.dtype)
        centred = x - mean.reshape(shape)
        squares = np.square(centred).sum(axes, dtype=np.float64)
        _all_reduce(squares, process_group)
        var = squares / total
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        if running_mean is not None or running_var is not None:
            _update_running(running_mean, running_var, mean, var.astype(x.dtype), momentum,
                            int(total))
        scale = invstd if weight is None else invstd * weight._data.astype(x.dtype)
        out = centred
        out *= scale.reshape(shape)
        if bias is not None:
            out += bias._data.astype(x.dtype).reshape(shape)
        ctx.save_for_backward(input, weight)
        ctx.stats = (mean, invstd, total, process_group)
        return make(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: Tensor) -> tuple:
        input, weight = ctx.saved_tensors
        mean, invstd, total, process_group = ctx.stats
        x = input._data
        g = grad_output._data
        axes, shape = _layout(x)
        channels = x.shape[1]
        xhat = x - mean.reshape(shape)
        xhat *= invstd.reshape(shape)
        sums = np.empty(2 * channels)
        g.sum(axes, dtype=np.float64, out=sums[:channels])
        (g * xhat).sum(axes, dtype=np.float64, out=sums[channels:])
        grad_bias = make(sums[:channels].astype(x.dtype))
        grad_weight = make(sums[channels:].astype(x.dtype))
        grad_input = None
        if ctx.needs_input_grad[0]:
            _all_reduce(sums, process_group)
            mean_grad = (sums[:channels] / total).astype(x.dtype).reshape(shape)
            mean_grad_xhat = (sums[channels:] / total).astype(x.dtype).reshape(shape)
            xhat *= mean_grad_xhat
            out = g - mean_grad
            out -= xhat
            scale = invstd if weight is None else invstd * weight._data
            out *= scale.reshape(shape)
            grad_input = make(out)
        if weight is None:
            grad_weight = None
        if not ctx.needs_input_grad[2]:
            grad_bias = None
        return grad_input, grad_weight, grad_bias, None, None, None, None, None
