"""Normalization kernels of ``ember.nn``: batch, layer and group norm.

Each is one record returning, like torch's ``native_*_norm``, the output and the statistics
it normalised with (mean, 1/std, and the biased variance the running stats need); only the
output is differentiable. The backward formulas are written in ember ops, so they can be
differentiated again.

NOTE [Norm statistics in backward]: the saved mean and 1/std are constants of the graph. A
first-order backward (the engine runs it under ``no_grad``) uses them as they are; a backward
that records a graph (``create_graph=True``) recomputes them from the input in ember ops,
because they depend on the input and a second derivative must see that dependence.

NOTE [Fused batch norm backward]: a first-order backward of a training-mode batch norm (no
graph recorded, no vmap or forward-mode levels active) skips the ember-op formulas and runs
one NumPy computation: ``x - mean``, the per-channel sums of ``grad`` and of ``grad * (x -
mean)`` (times 1/std, the weight gradient; the first is the bias gradient), then the input
gradient from them, updating those arrays in place.
The engine calls the three formulas one after the other with the same ``grads`` and
``result``; the sums are kept for the later formulas under weak references to those two
objects, which ``result`` (made afresh for every call of the node) makes unique to one call.
"""
from __future__ import annotations

import math
import weakref

from ember._backend import np
from ember._ops.nn_conv import channels_last_format, format_of, in_format
from ember._ops.registry import (
    KEEP,
    defop,
    first_order,
    ones_vector,
    reduced_float,
    round_through,
)
from ember._tensor import Tensor, make
from ember.autograd import grad_mode

_grad_state = grad_mode.state


def _sum_of_products(a, b, axes: tuple):
    """The sum of ``a * b`` over ``axes``, kept as size-1 dims. In float32 and float64 one
    ``einsum`` pass (the product is never stored); half types keep NumPy's float32
    accumulation of ``sum``."""
    if a.dtype not in (np.float32, np.float64) or a.dtype != b.dtype:
        return (a * b).sum(axes, keepdims=True)
    letters = "abcdefghijklmnopqrstuvwxyz"[:a.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    total = np.einsum(f"{letters},{letters}->{kept}", a, b)
    return total.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


def _moments(xp, x, axes: tuple, eps: float):
    """(mean, 1/std, biased variance) over ``axes``, kept as size-1 dims, and ``x - mean``
    (a fresh array the caller may overwrite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if any(x.shape[i] == 0 for i in axes):  # nan, without NumPy's empty-mean warning
            mean = xp.full(tuple(1 if i in axes else s for i, s in enumerate(x.shape)),
                           xp.nan, x.dtype)
        else:
            mean = xp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        # an empty reduction divides 0 by 0: nan, as the mean of nothing is
        var = _sum_of_products(centred, centred, axes) / math.prod(x.shape[i] for i in axes)
        invstd = 1.0 / xp.sqrt(var + eps)
    return mean, invstd, var, centred


def _affine(xp, centred, invstd, weight, bias, shape: tuple):
    """``centred * invstd * weight + bias`` in place on ``centred`` (invstd, weight and bias
    may be None; weight and bias are reshaped to ``shape``)."""
    dtype = centred.dtype
    scale = invstd
    if weight is not None:
        weight = weight.reshape(shape).astype(dtype)
        scale = weight if scale is None else scale * weight
    if scale is not None:
        xp.multiply(centred, scale, out=centred, casting="unsafe")
    if bias is not None:
        xp.add(centred, bias.reshape(shape).astype(dtype), out=centred, casting="unsafe")
    return centred


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


# NOTE [Batch norm as channel columns]: a C-ordered (N, C, *spatial) float32/float64 input
# seen as an (N, C * S) matrix has each channel's S elements side by side in every row, so a
# per-channel factor tiled S times (``np.repeat``, C * S elements) broadcasts along the rows:
# every pass is a row operation over C * S contiguous elements, where broadcasting (1, C, 1,
# 1) runs NumPy's inner loop over the last spatial dim only (4 or 8 elements on small maps).
# Per-channel sums are column sums (a product with ones) folded S to one.


def _channel_rows(x):
    """(x as an (N, C * S) matrix, C, S) for the channel-column kernels, or None."""
    if x.dtype not in (np.float32, np.float64) or not x.flags.c_contiguous or x.ndim < 2 \
            or x.size == 0:
        return None
    n, c = x.shape[:2]
    return x.reshape(n, -1), c, x.size // (n * c)


def _channel_sums(columns, c: int, spatial: int):
    """Per-channel totals of column totals (NOTE [Batch norm as channel columns])."""
    return columns.reshape(c, spatial).sum(1) if spatial > 1 else columns


def _batch_norm_columns(rows, c, spatial, x_shape, shape, weight, bias, eps):
    """Training-mode batch norm on the channel columns: (out, mean, invstd, var), the
    statistics in ``shape`` (1, C, 1, ...)."""
    n = rows.shape[0]
    count = n * spatial
    ones = ones_vector(n, rows.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _channel_sums(ones @ rows, c, spatial) / count
        out = rows - mean.repeat(spatial)  # a fresh C-ordered array: the result
        var = _channel_sums(np.einsum("ij,ij->j", out, out), c, spatial) / count
        invstd = 1.0 / np.sqrt(var + eps)
    scale = invstd if weight is None else invstd * weight.astype(rows.dtype, copy=False)
    out *= scale.repeat(spatial)
    if bias is not None:
        out += bias.astype(rows.dtype, copy=False).repeat(spatial)
    return (out.reshape(x_shape), mean.reshape(shape), invstd.reshape(shape),
            var.reshape(shape))


def _batch_norm(xp, x, weight, bias, running_mean, running_var, training, eps):
    shape = _affine_shape(x.ndim, x.shape[1])
    if training and xp is np:
        columns = _channel_rows(x)
        if columns is not None:
            return _batch_norm_columns(*columns, x.shape, shape, weight, bias, eps)
    if reduced_float(x.dtype) and x.size:
        return _batch_norm_half(x, weight, bias, running_mean, running_var, training, eps)
    if training:
        mean, invstd, var, centred = _moments(xp, x, _batch_axes(x.ndim), eps)
    else:
        mean = running_mean.reshape(shape).astype(x.dtype)
        var = running_var.reshape(shape).astype(x.dtype)
        invstd = 1.0 / xp.sqrt(var + eps)
        centred = x - mean
    out = _affine(xp, centred, invstd, weight, bias, shape)
    return out.astype(x.dtype, copy=False), mean, invstd, var


# ---- batch norm of float16/bfloat16 -------------------------------------------------------
#
# NOTE [Half-precision batch norm]
# torch's CPU batch norm of a float16/bfloat16 input computes in float32 and rounds its results
# to the input's type; the parameters and running statistics are either all of the input's
# type or all float32 (autocast's "mixed" case, whose saved mean and 1/std are float32 too).
# Learnt by experiment against torch 2.13, step by step, each matching torch's bits on
# thousands of random inputs:
# - A C-ordered or channels-last input: the float32 mean and sum of squared deviations of each
#   channel. The mean is saved rounded to the statistics' type, 1/std = 1/sqrt(sum / n + eps)
#   in double; bfloat16 with bfloat16 parameters rounds the sum of squares to bfloat16 and
#   divides it by n (rounded to bfloat16 too), and updates its running statistics in bfloat16,
#   every operation rounded, where the other cases update them in float32 from the unrounded
#   mean. The output is ``x * alpha + beta`` in one fused multiply-add (emulated in float64,
#   where the product of a half value and a float32 is exact), ``alpha = invstd * weight`` and
#   ``beta = bias - mean * alpha`` in float32 from the saved statistics (in evaluation from the
#   running ones, 1/std in float32).
# - Another layout (a transposed or sliced input): the mean rounded first and the squares taken
#   from it, the running statistics updated in double, and the output ``((x - mean) * invstd)
#   * weight + bias``, each operation rounded to the input's type unless the parameters are
#   float32 (in evaluation 1/std too is computed so).
# - The gradients, where the input and the gradient are both C-ordered or both channels-last:
#   float32 sums of ``grad`` and ``grad * (x - mean)`` per channel, then ``((grad - sum / n) -
#   (x - mean) * k) * invstd * weight`` (the subtraction of the product fused), ``k = dot *
#   invstd**2 / n``, rounded once; in evaluation 1/std in double. Other layouts run the same
#   formula one operation at a time, a result rounded to the input's type where torch's
#   operands are of it (a bfloat16 gradient's sum too).
# The one thing not torch's: its float32 sums are vectorised, rounding on the way in an order
# of its own (and of the CPU's vector width); ember's are exact sums rounded once. A float32
# result not rounded to the half type after (the mixed case's saved and running statistics
# and weight and bias gradients) then differs from torch's in its last bit or few (measured:
# the weight gradient in half to most channels, the running variance in a third, the mean and
# bias gradient in a few in a hundred), and a half result where its value lands on a rounding
# boundary: a few in 10,000 on random data, but up to a tenth of an input gradient that cancels
# to rounding noise (a loss of ``out`` alone, such as ``out.pow(2).sum()``, whose exact input
# gradient is zero).


def _float32_sum(a, axes: tuple):
    """The sum of a float32 array over ``axes`` (kept as size-1 dims), exact in float64 and
    rounded once (NOTE [Half-precision batch norm])."""
    return a.sum(axes, dtype=np.float64, keepdims=True).astype(np.float32)


def _rounder(dtype):
    """A float32 array rounded to ``dtype`` and back: one rounded operation of torch's."""
    def rounded(a):
        return round_through(a, dtype)
    return rounded


def _unrounded(a):
    return a


def _half_layout(x) -> tuple:
    """(the channels-last format of ``x`` or None, whether torch's kernels read ``x`` as dense:
    C-ordered or channels-last)."""
    fmt = channels_last_format(x)
    return fmt, fmt is not None or x.flags.c_contiguous


def _invstd(var, eps: float):
    """1 / sqrt(var + eps) of a float32 array, computed in double as torch's ``InvStd``."""
    with np.errstate(divide="ignore"):
        return (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)


def _stat_dtype(x, params):
    """The dtype of a half-type batch norm's statistics: its parameters' (float32 in the mixed
    case), else the input's."""
    for p in params:
        if p is not None:
            return p.dtype
    return x.dtype


def _batch_norm_half(x, weight, bias, running_mean, running_var, training, eps):
    """Batch norm of a float16/bfloat16 input as torch's (NOTE [Half-precision batch norm]):
    (out, mean, invstd, record), the statistics in the parameters' dtype. In training the
    record holds what the running statistics update reads (see ``half_running_stats``), in
    evaluation the running variance."""
    half = x.dtype
    stat = _stat_dtype(x, (weight, bias, running_mean, running_var))
    mixed = stat != half
    fmt, dense = _half_layout(x)
    f32 = np.float32
    shape = _affine_shape(x.ndim, x.shape[1])
    wide = x.astype(f32)  # in the input's layout
    if training:
        axes = _batch_axes(x.ndim)
        count = x.size // x.shape[1]
        mean = _float32_sum(wide, axes) / f32(count)
        if not dense:  # the squares are taken from the saved (rounded) mean
            mean = mean.astype(stat).astype(f32)
        centred = wide - mean
        squares = _float32_sum(np.multiply(centred, centred, out=centred), axes)
        if dense and not mixed and half != np.float16:
            # bfloat16 throughout: the sum of squares rounded, divided by n rounded
            squares = squares.astype(half)
            divisor = f32(count).astype(half).astype(f32)
            var = (squares.astype(f32) / divisor).astype(half)
            save_mean = mean.astype(half)
            save_invstd = _invstd(var, eps).astype(half)
            record = np.stack([save_mean, squares])
        else:
            save_mean = mean.astype(stat)
            save_invstd = _invstd(squares / f32(count), eps).astype(stat)
            # float32 arithmetic from the unrounded mean; double from the saved one
            record = np.stack([mean, squares]) if dense else np.stack(
                [save_mean, squares]).astype(np.float64)
        mean, invstd = save_mean.astype(f32), save_invstd.astype(f32)
    else:
        mean = running_mean.reshape(shape).astype(f32)
        var = running_var.reshape(shape).astype(f32)
        if dense or mixed:
            invstd = f32(1) / np.sqrt(var + f32(eps))
        else:
            rounded = _rounder(half)
            invstd = rounded(f32(1) / rounded(np.sqrt(rounded(var + f32(eps)))))
        save_mean, save_invstd, record = mean.astype(stat), invstd.astype(stat), var.astype(stat)
    w = None if weight is None else weight.reshape(shape).astype(f32)
    b = None if bias is None else bias.reshape(shape).astype(f32)
    if dense:
        alpha = invstd if w is None else invstd * w
        beta = (f32(0) if b is None else b) - mean * alpha
        out = (x.astype(np.float64) * alpha + beta).astype(f32).astype(half)
        return in_format(out, fmt), save_mean, save_invstd, record
    rounded = _unrounded if mixed else _rounder(half)
    out = rounded(rounded(wide - mean) * invstd)
    if w is not None:
        out = rounded(out * w)
    if b is not None:
        out = rounded(out + b)
    return np.ascontiguousarray(out.astype(half)), save_mean, save_invstd, record


def half_running_stats(record, running_mean, running_var, momentum: float, count: int) -> tuple:
    """The running statistics after a half-type batch norm in training, from its ``record``
    (NOTE [Half-precision batch norm]): its mean and sum of squared deviations stacked, in the
    dtype the update runs in (bfloat16: each operation rounded to it). Returns (mean, var),
    each None where that statistic is, in its dtype."""
    f32 = np.float32
    kind = record.dtype
    mean, squares = record[0].reshape(-1), record[1].reshape(-1)
    new_mean = new_var = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind in (np.float32, np.float64):
            rate = kind.type(momentum)
            unbiased = (squares.astype(f32) / f32(count - 1)).astype(kind)
            if running_mean is not None:
                new_mean = rate * mean + (1 - rate) * running_mean.astype(kind)
            if running_var is not None:
                new_var = rate * unbiased + (1 - rate) * running_var.astype(kind)
        else:
            rounded = _rounder(kind)
            rate = rounded(f32(momentum))
            keep = rounded(f32(1) - rate)
            if running_mean is not None:
                new_mean = rounded(rate * mean.astype(f32)) + rounded(
                    keep * running_mean.astype(f32))
            if running_var is not None:
                unbiased = rounded(squares.astype(f32) / rounded(f32(count - 1)))
                new_var = rate * unbiased + rounded(keep * running_var.astype(f32))
    return (None if new_mean is None else new_mean.astype(running_mean.dtype),
            None if new_var is None else new_var.astype(running_var.dtype))


_fused_sums: list = [None]  # NOTE [Fused batch norm backward]: (keys, sum_grad, sum_grad_xhat)


def _first_order_sums(grads, input, result, columns=None, centred=None) -> tuple:
    """(sum of grad, sum of grad * xhat) per channel, kept as size-1 dims, for this call of
    the node (NOTE [Fused batch norm backward]); ``columns`` and ``centred`` are
    ``_grad_columns`` and ``input - mean`` (on the columns where there are) when the caller
    has them."""
    grad = grads[0]
    entry = _fused_sums[0]
    if entry is not None and entry[0]() is result[1] and entry[1]() is grad:
        return entry[2], entry[3]
    x = input._data
    g = grad._data
    if centred is None:
        columns, centred = _centred(g, x, result[1]._data)
    if columns is not None:
        rows, c, spatial = columns
        grows = g.reshape(rows.shape)
        shape = result[1]._data.shape
        sum_grad = _channel_sums(ones_vector(rows.shape[0], g.dtype) @ grows, c,
                                 spatial).reshape(shape)
        sum_grad_xhat = _channel_sums(np.einsum("ij,ij->j", grows, centred), c,
                                      spatial).reshape(shape) * result[2]._data
    else:
        axes = _batch_axes(x.ndim)
        sum_grad = g.sum(axes, keepdims=True)
        sum_grad_xhat = _sum_of_products(g, centred, axes) * result[2]._data
    _fused_sums[0] = (weakref.ref(result[1]), weakref.ref(grad), sum_grad, sum_grad_xhat)
    return sum_grad, sum_grad_xhat


def _grad_columns(g, x):
    """The channel columns of ``x`` when its gradient ``g`` can be read the same way."""
    if g.dtype != x.dtype or not g.flags.c_contiguous:
        return None
    return _channel_rows(x)


def _centred(g, x, mean) -> tuple:
    """(``_grad_columns``, a fresh ``x - mean``: on the columns where there are)."""
    columns = _grad_columns(g, x)
    if columns is None:
        return None, x - mean
    rows, c, spatial = columns
    return columns, rows - mean.reshape(c).repeat(spatial)


def _fused(training: bool) -> bool:
    return training and first_order()


def _fused_input_grad(grads, input, weight, result) -> Tensor:
    # invstd * (grad - mean(grad) - xhat * mean(grad * xhat)) * weight, with
    # xhat = (x - mean) * invstd: the centred input is scaled once, not normalised first
    x = input._data
    invstd = result[2]._data
    g = grads[0]._data
    columns, centred = _centred(g, x, result[1]._data)
    if columns is not None:  # NOTE [Batch norm as channel columns]
        rows, c, spatial = columns
        g = g.reshape(rows.shape)

        def per_channel(v):
            return v.reshape(c).repeat(spatial)
    else:
        def per_channel(v):
            return v
    sum_grad, sum_grad_xhat = _first_order_sums(grads, input, result, columns, centred)
    count = x.size // x.shape[1] if x.shape[1] else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        centred *= per_channel(invstd * (sum_grad_xhat / count))
        mean_grad = sum_grad / count
    out = g - per_channel(mean_grad)
    out -= centred
    scale = invstd
    if weight is not None:
        scale = scale * weight._data.reshape(scale.shape)
    out *= per_channel(scale)
    return make(out.reshape(x.shape))


# The per-channel sums of a half-type backward (NOTE [Half-precision batch norm]) for the
# three formulas the engine calls with the same ``grads`` and ``result``, kept under weak
# references to them as NOTE [Fused batch norm backward]'s sums.
_half_sums: list = [None]  # (result[1], grads[0], (sum of grad, sum of grad * (x - mean)))


def _half_backward_stats(grads, input, running_mean, running_var, training, eps,
                         result) -> tuple:
    """(the rounding of an operation on the input's type, that of one on the statistics'
    type, mean, invstd, sum of grad, sum of grad * (x - mean), x - mean or None where the
    sums were kept), the per-channel values float32 in (1, C, 1, ...), for this call of the
    node."""
    grad = grads[0]
    x = input._data
    half = x.dtype
    save_mean = result[1]._data
    mixed = save_mean.dtype != half
    # torch's vectorised kernels take an input and a gradient both C-ordered or both
    # channels-last, and compute in float32; the other kernel rounds each operation on the
    # input's type (on the statistics', where those are of it)
    fmt = channels_last_format(x)
    dense = (x.flags.c_contiguous and grad._data.flags.c_contiguous) or (
        fmt is not None and fmt == channels_last_format(grad._data))
    rounded = _unrounded if dense else _rounder(half)
    param_rounded = _unrounded if dense or mixed else rounded
    f32 = np.float32
    if training:
        mean, invstd = save_mean.astype(f32), result[2]._data.astype(f32)
    else:
        mean = running_mean.reshape(save_mean.shape).astype(f32)
        invstd = param_rounded(_invstd(running_var.reshape(save_mean.shape), eps))
    entry = _half_sums[0]
    if entry is not None and entry[0]() is result[1] and entry[1]() is grad:
        return (rounded, param_rounded, mean, invstd) + entry[2] + (None,)
    axes = _batch_axes(x.ndim)
    g = grad._data.astype(f32)
    sum_grad = _float32_sum(g, axes)
    if not dense and half != np.float16:  # torch sums a bfloat16 gradient to bfloat16
        sum_grad = rounded(sum_grad)
    centred = param_rounded(x.astype(f32) - mean)
    sums = (sum_grad, _float32_sum(param_rounded(centred * g), axes))
    _half_sums[0] = (weakref.ref(result[1]), weakref.ref(grad), sums)
    return (rounded, param_rounded, mean, invstd) + sums + (centred,)


def _half_input_grad(grads, input, weight, running_mean, running_var, training, eps, result):
    """The input gradient of a half-type batch norm (NOTE [Half-precision batch norm])."""
    rounded, param_rounded, mean, invstd, sum_grad, dot, centred = _half_backward_stats(
        grads, input, running_mean, running_var, training, eps, result)
    f32 = np.float32
    x = input._data
    g = grads[0]._data.astype(f32)
    if training:
        if centred is None:
            centred = param_rounded(x.astype(f32) - mean)
        # n enters each of torch's divisions in the other operand's type (the sum of a
        # bfloat16 gradient is of the input's type)
        count = f32(x.size // x.shape[1])
        k = rounded(param_rounded(param_rounded(rounded(dot) * invstd) * invstd)
                    / param_rounded(count))
        if rounded is _unrounded:
            # one fused multiply-add (emulated in float64, where its product is exact)
            out = ((g - sum_grad / count).astype(np.float64) - centred.astype(np.float64) * k
                   ).astype(f32)
        else:
            if x.dtype != np.float16:
                count = rounded(count)
            out = rounded(rounded(g - rounded(sum_grad / count)) - rounded(centred * k))
    else:
        out = g
    out = param_rounded(out * invstd)
    if weight is not None:
        out = param_rounded(out * weight._data.reshape(mean.shape).astype(f32))
    return make(out.astype(x.dtype))


def _half_weight_grad(grads, input, running_mean, running_var, training, eps, result):
    stats = _half_backward_stats(grads, input, running_mean, running_var, training, eps,
                                 result)
    return make((stats[5] * stats[3]).astype(result[1]._data.dtype).reshape(-1))


def _half_bias_grad(grads, input, running_mean, running_var, training, eps, result):
    stats = _half_backward_stats(grads, input, running_mean, running_var, training, eps,
                                 result)
    return make(stats[4].astype(result[1]._data.dtype).reshape(-1))


def _half_first_order(input) -> bool:
    """Whether a backward formula takes the half-type kernels (NOTE [Half-precision batch
    norm]): a first-order backward of a float16/bfloat16 input."""
    return reduced_float(input._data.dtype) and input._data.size > 0 and first_order()


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
    # torch lays the input gradient out in the input's format (NOTE [Channels-last outputs])
    return format_of(_batch_norm_input_grad_any(grads, input, weight, running_mean,
                                                running_var, training, eps, result),
                     channels_last_format(input._data))


def _batch_norm_input_grad_any(grads, input, weight, running_mean, running_var, training, eps,
                               result):
    if _half_first_order(input):
        return _half_input_grad(grads, input, weight, running_mean, running_var, training, eps,
                                result)
    if _fused(training):
        return _fused_input_grad(grads, input, weight, result)
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
    if not input._data.size:  # an empty batch: zeros (nothing multiplies the nan statistics)
        return grads[0].new_zeros(input.shape[1:2])
    if _half_first_order(input):
        return _half_weight_grad(grads, input, running_mean, running_var, training, eps, result)
    if _fused(training):
        return make(_first_order_sums(grads, input, result)[1].reshape(-1))
    xhat, _ = _batch_norm_normalised(input, running_mean, running_var, training, eps, result)
    return _sum_except(grads[0] * xhat, (1,))


def _batch_norm_bias_grad(grads, input, weight, bias, running_mean, running_var, training,
                          eps, result):
    if _half_first_order(input):
        return _half_bias_grad(grads, input, running_mean, running_var, training, eps, result)
    if _fused(training):
        return make(_first_order_sums(grads, input, result)[0].reshape(-1))
    return _sum_except(grads[0], (1,))


BATCH_NORM = defop(
    "native_batch_norm", node="NativeBatchNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_batch_norm,
    backward=(_batch_norm_input_grad, _batch_norm_weight_grad, _batch_norm_bias_grad))


# ---- layer norm -------------------------------------------------------------------------
#
# NOTE [Layer norm as rows]: layer norm normalises each row of the input seen as a (rows,
# cols) matrix, cols the product of the normalised dims. In float32 and float64 its forward
# and first-order backward (as NOTE [Fused batch norm backward]'s conditions) run on that
# matrix: row sums by a matrix-vector product with ones, sums of products by one ``einsum``,
# scalings in place, a handful of passes in all. Half types, empty inputs and backwards that
# record a graph (or see vmap/forward-mode levels) take the general path below.


def _rows_kernel(x, weight, bias) -> bool:
    """Whether the (rows, cols) kernels serve these arrays (NOTE [Layer norm as rows])."""
    dtype = x.dtype
    return (dtype in (np.float32, np.float64) and x.size > 0
            and (weight is None or weight.dtype == dtype)
            and (bias is None or bias.dtype == dtype))


def _row_sums(rows):
    return rows @ ones_vector(rows.shape[1], rows.dtype)


def _layer_norm_rows(x, weight, bias, k, eps):
    lead = x.shape[:x.ndim - k]
    cols = math.prod(x.shape[x.ndim - k:])
    rows = x.reshape(-1, cols)  # a copy where the normalised dims do not merge
    with np.errstate(divide="ignore", invalid="ignore"):  # inf and nan as torch's, silently
        mean = _row_sums(rows)
        mean /= cols
        out = rows - mean[:, None]  # a fresh C-ordered array: torch's result layout
        var = np.einsum("ij,ij->i", out, out)
        var /= cols
        var += eps
        invstd = np.sqrt(var, out=var)
        np.divide(1.0, invstd, out=invstd)
    out *= invstd[:, None]
    if weight is not None:
        out *= weight.reshape(-1)
    if bias is not None:
        out += bias.reshape(-1)
    stat_shape = lead + (1,) * k
    return out.reshape(x.shape), mean.reshape(stat_shape), invstd.reshape(stat_shape)


def _layer_norm(xp, x, weight, bias, k, eps):
    if _rows_kernel(x, weight, bias):
        return _layer_norm_rows(x, weight, bias, k, eps)
    if reduced_float(x.dtype) and x.size and all(
            p is None or p.dtype == x.dtype for p in (weight, bias)):
        # float16/bfloat16: torch normalises in float32 and rounds each output once
        def wide(a):
            return None if a is None else a.astype(np.float32)
        out, mean, invstd = _layer_norm_rows(wide(x), wide(weight), wide(bias), k, eps)
        return out.astype(x.dtype), mean.astype(x.dtype), invstd.astype(x.dtype)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean, invstd, _, centred = _moments(xp, x, axes, eps)
    out = _affine(xp, centred, invstd, weight, bias, x.shape[x.ndim - k:])
    # torch's result is C-ordered whatever the input's layout
    return xp.ascontiguousarray(out.astype(x.dtype, copy=False)), mean, invstd


def _fused_rows(grads, input, weight, result) -> bool:
    """Whether this backward formula runs on the (rows, cols) matrix (NOTE [Layer norm as
    rows])."""
    return (first_order()
            and _rows_kernel(input._data, None if weight is None else weight._data, None)
            and grads[0]._data.dtype == input._data.dtype)


def _normalised_rows(input, k, result):
    """The fused formulas' xhat, a fresh (rows, cols) array."""
    x = input._data
    xhat = x.reshape(-1, math.prod(x.shape[x.ndim - k:])) - result[1]._data.reshape(-1, 1)
    xhat *= result[2]._data.reshape(-1, 1)
    return xhat


def _c_ordered(t: Tensor) -> Tensor:
    """``t`` in C order (torch's layer norm input gradient, whatever the layouts)."""
    if t._data.flags.c_contiguous:
        return t
    return t.contiguous() if _grad_state.enabled else make(np.ascontiguousarray(t._data))


def _layer_norm_normalised(input, k, eps, result):
    axes = tuple(range(input.ndim - k, input.ndim))
    mean, invstd = _stats(input, axes, eps, result[1]._data, result[2]._data)
    return (input - mean) * invstd, invstd, axes


def _rows_weight_grad(grads, xhat, trailing: tuple):
    return make(np.einsum("ij,ij->j", grads[0]._data.reshape(xhat.shape), xhat).reshape(
        trailing))


# The weight gradient the input-gradient formula computed beside its own from the same xhat,
# for the weight formula the engine calls next with the same ``grads`` and ``result`` (keyed
# by weak references to them, as NOTE [Fused batch norm backward]'s sums).
_rows_weight_grads: list = [None]  # (result[1], grads[0], weight gradient)


def _layer_norm_input_grad(grads, input, weight, bias, k, eps, result):
    if _fused_rows(grads, input, weight, result):
        # invstd * (g - mean(g) - xhat * mean(g * xhat)) per row, g = grad * weight
        xhat = _normalised_rows(input, k, result)
        trailing = input._data.shape[input.ndim - k:]
        if weight is not None and weight._requires_grad:
            _rows_weight_grads[0] = (weakref.ref(result[1]), weakref.ref(grads[0]),
                                     _rows_weight_grad(grads, xhat, trailing))
        scaled = grads[0]._data.reshape(xhat.shape)
        if weight is not None:
            scaled = scaled * weight._data.reshape(-1)
        cols = xhat.shape[1]
        mean_scaled = _row_sums(scaled)
        mean_scaled /= cols
        mean_product = np.einsum("ij,ij->i", scaled, xhat)
        mean_product /= cols
        xhat *= mean_product[:, None]
        np.subtract(scaled, xhat, out=xhat)
        xhat -= mean_scaled[:, None]
        xhat *= result[2]._data.reshape(-1, 1)
        return make(xhat.reshape(input._data.shape))
    grad = grads[0] if weight is None else grads[0] * weight
    xhat, invstd, axes = _layer_norm_normalised(input, k, eps, result)
    return _c_ordered(_input_grad(grad, xhat, invstd, axes))


def _layer_norm_weight_grad(grads, input, weight, bias, k, eps, result):
    if _fused_rows(grads, input, weight, result):
        entry = _rows_weight_grads[0]
        _rows_weight_grads[0] = None
        if entry is not None and entry[0]() is result[1] and entry[1]() is grads[0]:
            return entry[2]
        return _rows_weight_grad(grads, _normalised_rows(input, k, result),
                                 input._data.shape[input.ndim - k:])
    xhat, _, _ = _layer_norm_normalised(input, k, eps, result)
    return _sum_except(grads[0] * xhat, tuple(range(input.ndim - k, input.ndim)))


def _layer_norm_bias_grad(grads, input, weight, bias, k, eps, result):
    grad = grads[0]
    trailing = grad.shape[grad.ndim - k:]
    if _fused_rows(grads, input, weight, result):
        rows = grad._data.reshape(-1, math.prod(trailing))
        return make((ones_vector(rows.shape[0], rows.dtype) @ rows).reshape(trailing))
    return _sum_except(grad, tuple(range(grad.ndim - k, grad.ndim)))


LAYER_NORM = defop(
    "native_layer_norm", node="NativeLayerNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_layer_norm,
    backward=(_layer_norm_input_grad, _layer_norm_weight_grad, _layer_norm_bias_grad))


# ---- group norm -------------------------------------------------------------------------


def _grouped(shape: tuple, groups: int) -> tuple:
    return (shape[0], groups, -1)


def _group_norm(xp, x, weight, bias, groups, eps):
    if reduced_float(x.dtype) and all(p is None or p.dtype == x.dtype for p in (weight, bias)):
        # float16/bfloat16: torch normalises in float32 and rounds each output once
        out, mean, invstd = _group_norm(xp, x.astype(np.float32), *(
            None if p is None else p.astype(np.float32) for p in (weight, bias)), groups, eps)
        return out.astype(x.dtype), mean.astype(x.dtype), invstd.astype(x.dtype)
    shape = x.shape
    grouped = x.reshape(_grouped(shape, groups))
    mean, invstd, _, centred = _moments(xp, grouped, (2,), eps)
    centred *= invstd
    out = _affine(xp, centred.reshape(shape), None, weight, bias, _affine_shape(x.ndim, shape[1]))
    # laid out in the input's format, as torch's (NOTE [Channels-last outputs])
    return in_format(out.astype(x.dtype, copy=False), channels_last_format(x)), \
        mean.reshape(shape[0], groups), invstd.reshape(shape[0], groups)


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
    # torch lays the input gradient out in the input's format (NOTE [Channels-last outputs])
    return format_of(_input_grad(grouped, xhat, invstd, (2,)).reshape(input.shape),
                     channels_last_format(input._data))


def _group_norm_weight_grad(grads, input, weight, bias, groups, eps, result):
    xhat, _ = _group_norm_normalised(input, groups, eps, result)
    return _sum_except(grads[0] * xhat.reshape(input.shape), (1,))


GROUP_NORM = defop(
    "native_group_norm", node="NativeGroupNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=1, save=(0, 1, "result"), forward=_group_norm,
    backward=(_group_norm_input_grad, _group_norm_weight_grad,
              lambda grads, input, weight, bias, *params: _sum_except(grads[0], (1,))))
