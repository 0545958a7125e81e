"""Normalization kernels of ``ember.nn``: batch, layer and group norm.

Each is one record returning, like torch's ``native_*_norm``, the output and the statistics
it normalised with (mean, 1/std, and the biased variance the running stats need); only the
output is differentiable. The backward formulas are written in ember ops, so they can be
differentiated again.

NOTE [Norm statistics in backward]: the saved mean and 1/std are constants of the graph. A
first-order backward (the engine runs it under ``no_grad``) uses them as they are; a backward
that records a graph (``create_graph=True``) recomputes them from the input in ember ops,
because they depend on the input and a second derivative must see that dependence.
"""
from __future__ import annotations

from ember._backend import np
from ember._ops.registry import KEEP, defop
from ember._tensor import Tensor, make
from ember.autograd import grad_mode

_grad_state = grad_mode.state


def _moments(xp, x, axes: tuple, eps: float):
    """(mean, 1/std, biased variance) over ``axes``, kept as size-1 dims."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = xp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = xp.mean(centred * centred, axis=axes, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + eps)
    return mean, invstd, var


def _stats(x: Tensor, axes: tuple, eps: float, saved_mean, saved_invstd) -> tuple:
    """The statistics the backward reads (NOTE [Norm statistics in backward])."""
    if not _grad_state.enabled:
        return make(saved_mean), make(saved_invstd)
    mean = x.mean(axes, keepdim=True)
    centred = x - mean
    invstd = ((centred * centred).mean(axes, keepdim=True) + eps).rsqrt()
    return mean, invstd


def _input_grad(scaled: Tensor, xhat: Tensor, invstd: Tensor, axes: tuple) -> Tensor:
    """The gradient of the input of ``xhat = (x - mean(x)) * invstd(x)`` for the
    gradient ``scaled`` of ``xhat`` (the statistics taken over ``axes``)."""
    return invstd * (scaled - scaled.mean(axes, keepdim=True)
                     - xhat * (scaled * xhat).mean(axes, keepdim=True))


def _sum_except(t: Tensor, keep_axes: tuple) -> Tensor:
    axes = tuple(i for i in range(t.ndim) if i not in keep_axes)
    return t.sum(axes) if axes else t


# ---- batch norm -------------------------------------------------------------------------


def _affine_shape(ndim: int, channels: int) -> tuple:
    return (1, channels) + (1,) * (ndim - 2)


def _batch_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def _batch_norm(xp, x, weight, bias, running_mean, running_var, training, eps):
    shape = _affine_shape(x.ndim, x.shape[1])
    if training:
        mean, invstd, var = _moments(xp, x, _batch_axes(x.ndim), eps)
    else:
        mean = running_mean.reshape(shape).astype(x.dtype)
        var = running_var.reshape(shape).astype(x.dtype)
        invstd = 1.0 / xp.sqrt(var + eps)
    out = (x - mean) * invstd
    if weight is not None:
        out = out * weight.reshape(shape).astype(x.dtype)
    if bias is not None:
        out = out + bias.reshape(shape).astype(x.dtype)
    return out.astype(x.dtype, copy=False), mean, invstd, var


def _batch_norm_normalised(input, running_mean, running_var, training, eps, result):
    # (xhat, invstd) in the layout of the input, the statistics as the backward needs them
    axes = _batch_axes(input.ndim)
    if training:
        mean, invstd = _stats(input, axes, eps, result[1]._data, result[2]._data)
    else:
        mean, invstd = make(result[1]._data), make(result[2]._data)
    return (input - mean) * invstd, invstd


def _batch_norm_input_grad(grads, input, weight, bias, running_mean, running_var, training,
                           eps, result):
    grad = grads[0]
    if weight is not None:
        grad = grad * weight.reshape(_affine_shape(input.ndim, input.shape[1]))
    if not training:
        return grad * make(result[2]._data)
    xhat, invstd = _batch_norm_normalised(input, running_mean, running_var, training, eps,
                                          result)
    return _input_grad(grad, xhat, invstd, _batch_axes(input.ndim))


def _batch_norm_weight_grad(grads, input, weight, bias, running_mean, running_var, training,
                            eps, result):
    xhat, _ = _batch_norm_normalised(input, running_mean, running_var, training, eps, result)
    return _sum_except(grads[0] * xhat, (1,))


BATCH_NORM = defop(
    "native_batch_norm", node="NativeBatchNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_batch_norm,
    backward=(_batch_norm_input_grad, _batch_norm_weight_grad,
              lambda grads, input, weight, bias, *params: _sum_except(grads[0], (1,))))


# ---- layer norm -------------------------------------------------------------------------


def _layer_norm(xp, x, weight, bias, k, eps):
    axes = tuple(range(x.ndim - k, x.ndim))
    mean, invstd, _ = _moments(xp, x, axes, eps)
    out = (x - mean) * invstd
    if weight is not None:
        out = out * weight.astype(x.dtype)
    if bias is not None:
        out = out + bias.astype(x.dtype)
    return out.astype(x.dtype, copy=False), mean, invstd


def _layer_norm_normalised(input, k, eps, result):
    axes = tuple(range(input.ndim - k, input.ndim))
    mean, invstd = _stats(input, axes, eps, result[1]._data, result[2]._data)
    return (input - mean) * invstd, invstd, axes


def _layer_norm_input_grad(grads, input, weight, bias, k, eps, result):
    grad = grads[0] if weight is None else grads[0] * weight
    xhat, invstd, axes = _layer_norm_normalised(input, k, eps, result)
    return _input_grad(grad, xhat, invstd, axes)


def _layer_norm_weight_grad(grads, input, weight, bias, k, eps, result):
    xhat, _, _ = _layer_norm_normalised(input, k, eps, result)
    return _sum_except(grads[0] * xhat, tuple(range(input.ndim - k, input.ndim)))


LAYER_NORM = defop(
    "native_layer_norm", node="NativeLayerNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_layer_norm,
    backward=(_layer_norm_input_grad, _layer_norm_weight_grad,
              lambda grads, input, weight, bias, k, eps, result: _sum_except(
                  grads[0], tuple(range(grads[0].ndim - k, grads[0].ndim)))))


# ---- group norm -------------------------------------------------------------------------


def _grouped(shape: tuple, groups: int) -> tuple:
    return (shape[0], groups, -1)


def _group_norm(xp, x, weight, bias, groups, eps):
    shape = x.shape
    grouped = x.reshape(_grouped(shape, groups))
    mean, invstd, _ = _moments(xp, grouped, (2,), eps)
    out = ((grouped - mean) * invstd).reshape(shape)
    affine = _affine_shape(x.ndim, shape[1])
    if weight is not None:
        out = out * weight.reshape(affine).astype(x.dtype)
    if bias is not None:
        out = out + bias.reshape(affine).astype(x.dtype)
    return out.astype(x.dtype, copy=False), mean.reshape(shape[0], groups), \
        invstd.reshape(shape[0], groups)


def _group_norm_normalised(input, groups, eps, result):
    grouped = input.reshape(_grouped(tuple(input.shape), groups))
    saved = (result[1]._data[..., None], result[2]._data[..., None])
    mean, invstd = _stats(grouped, (2,), eps, *saved)
    return (grouped - mean) * invstd, invstd


def _group_norm_input_grad(grads, input, weight, bias, groups, eps, result):
    grad = grads[0]
    if weight is not None:
        grad = grad * weight.reshape(_affine_shape(input.ndim, input.shape[1]))
    xhat, invstd = _group_norm_normalised(input, groups, eps, result)
    grouped = grad.reshape(_grouped(tuple(input.shape), groups))
    return _input_grad(grouped, xhat, invstd, (2,)).reshape(input.shape)


def _group_norm_weight_grad(grads, input, weight, bias, groups, eps, result):
    xhat, _ = _group_norm_normalised(input, groups, eps, result)
    return _sum_except(grads[0] * xhat.reshape(input.shape), (1,))


GROUP_NORM = defop(
    "native_group_norm", node="NativeGroupNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_group_norm,
    backward=(_group_norm_input_grad, _group_norm_weight_grad,
              lambda grads, input, weight, bias, *params: _sum_except(grads[0], (1,))))
