"""Part of ``ember.nn.functional``: batch, instance, layer, group, RMS and local response
normalization (mirrors the functions of ``torch.nn.functional``)."""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._ops import nn_norm
from ember._ops.registry import reduced_float, run
from ember._tensor import Tensor
from ember.nn._functional._args import int_tuple

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "local_response_norm"]


def _write(buffer: Tensor, array) -> None:
    """Overwrite a running-statistics buffer in place, as torch's kernels do (no graph, one
    version bump)."""
    buffer._data[...] = array
    buffer._vc[0] += 1


def _check_channels(name: str, tensor, channels: int) -> None:
    if tensor is not None and tensor.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {tensor.numel()}")


def _update_running(running_mean, running_var, mean, var, momentum: float, count: int,
                    by_instance: int | None = None) -> None:
    """Move the running statistics by ``momentum`` towards the batch's: ``mean`` and ``var``
    are the batch norm's second and fourth results, the mean and biased variance (a half
    type's record, NOTE [Half-precision batch norm]); running_var tracks the unbiased
    variance, as torch's does. Instance norm (``by_instance`` samples) updates a copy per
    sample and writes their average, as torch's composition does (the average of no
    samples is nan)."""
    if by_instance == 0:
        for buffer in (running_mean, running_var):
            if buffer is not None:
                _write(buffer, np.full(buffer._data.shape, np.nan, buffer._data.dtype))
        return
    if var.ndim == mean.ndim and not by_instance:
        # each moved in place: the sum written into the buffer, no new array and no copy
        for buffer, batch in ((running_mean, mean), (running_var, var)):
            if buffer is not None:
                _moved(buffer._data, batch if batch is mean else _unbiased(var, count),
                       momentum, out=buffer._data)
                buffer._vc[0] += 1
        return
    old_mean = None if running_mean is None else running_mean._data
    old_var = None if running_var is None else running_var._data
    if by_instance:
        old_mean = None if old_mean is None else np.tile(old_mean, by_instance)
        old_var = None if old_var is None else np.tile(old_var, by_instance)
    if var.ndim > mean.ndim:  # a half-type batch norm's record (NOTE [Half-precision batch norm])
        new_mean, new_var = nn_norm.half_running_stats(var, old_mean, old_var, momentum, count)
    else:
        new_mean = None if old_mean is None else _moved(old_mean, mean, momentum)
        new_var = None if old_var is None else _moved(old_var, _unbiased(var, count), momentum)
    for buffer, new in ((running_mean, new_mean), (running_var, new_var)):
        if buffer is not None:
            _write(buffer, _sample_average(new, by_instance) if by_instance else new)


def _moved(old, batch, momentum: float, out=None):
    """``(1 - momentum) * old + momentum * batch`` (into ``out`` where given: computed in the
    operands' type and cast to out's, as copying the result into it would)."""
    return np.add((1 - momentum) * old, momentum * batch.reshape(-1), out=out)


def _unbiased(var, count: int):
    """The unbiased variance from the biased one of ``count`` values (inf times it for one
    value, nan for none, as torch's)."""
    if count > 1:  # a product by a finite positive factor: nothing to silence
        return var * (count / (count - 1))
    with np.errstate(invalid="ignore"):
        return var * np.inf


def _sample_average(stats, samples: int):
    """The average over ``samples`` of per-sample statistics laid end to end, in their dtype
    (a half type's summed in float32 and rounded once, as torch's ``mean``)."""
    rows = stats.reshape(samples, -1)
    if not reduced_float(rows.dtype):
        return rows.mean(0)
    total = rows.astype(np.float32).sum(0, dtype=np.float64).astype(np.float32)
    return (total / np.float32(samples)).astype(rows.dtype)


def _check_dtypes(input: Tensor, weight, bias, running_mean, running_var,
                  training: bool) -> None:
    """torch's dtype rules for batch norm's parameters and running statistics: of the input's
    dtype, or all float32 with a float16/bfloat16 input (torch's "mixed" case, decided by the
    first one given)."""
    params = (weight, bias, running_mean, running_var)
    if _check_mixed(input, params):
        return
    # torch reads the running statistics first in training, the affine parameters in eval
    order = (running_mean, running_var, weight, bias) if training else params
    for t in order:
        if t is not None and t.dtype is not input.dtype:
            raise _dtype.scalar_type_mismatch(input.dtype, t.dtype)


def _check_mixed(input: Tensor, params: tuple) -> bool:
    """torch's check of a normalisation's "mixed" dtypes: when the first parameter given
    (weight, bias, then running statistics) differs in dtype from the input, every
    parameter must be float32 and the input float16 or bfloat16 (torch normalises those in
    float32); whether the parameters are mixed so."""
    given = [t for t in params if t is not None]
    if not given or given[0].dtype is input.dtype:
        return False
    if any(t.dtype is not _dtype.float32 for t in given):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if input.dtype is not _dtype.float16 and input.dtype is not _dtype.bfloat16:
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return True


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Mirrors ``torch.nn.functional.batch_norm``: normalise each channel (dim 1) over the
    batch and the spatial dims. In training the batch statistics are used and the running
    statistics (when given) move towards them by ``momentum`` (the variance unbiased); in
    evaluation the running statistics are used. The node is ``NativeBatchNormBackward0``."""
    if training:
        size = input.shape
        count = size[0]
        for s in size[2:]:
            count *= s
        if count == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {size}")
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                       eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                eps) -> Tensor:
    # torch's order: each running statistic (its size, or its absence in evaluation), the
    # affine parameters' sizes, the input's dims, then a lone running statistic in training
    channels = input.shape[1] if input.ndim > 1 else 0
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            _check_channels(name, t, channels)
        elif not training:
            raise RuntimeError(f"{name} must be defined in evaluation mode")
    _check_channels("weight", weight, channels)
    _check_channels("bias", bias, channels)
    if input.ndim < 2:
        top = max(input.ndim, 1)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-top}, "
                         f"{top - 1}], but got 1)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither "
                         "be None")
    _floating_only(input, "batch_norm")  # before torch's mixed-dtype check, as torch's
    _check_dtypes(input, weight, bias, running_mean, running_var, training)
    out, mean, _, var = run(
        nn_norm.BATCH_NORM, input, weight, bias,
        None if running_mean is None else running_mean._data,
        None if running_var is None else running_var._data, bool(training), float(eps))
    # an empty batch leaves the running statistics as they are (torch's)
    if training and running_mean is not None and input.numel():
        count = input.numel() // channels if channels else 0
        _update_running(running_mean, running_var, mean._data, var._data, momentum, count)
    return out


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Mirrors ``torch.nn.functional.instance_norm``: each (sample, channel) normalised over
    its spatial dims; torch's composition (batch norm of the input seen as one sample of
    N*C channels, then a view), so the node is ``ViewBackward0``. Running statistics, when
    given, move towards the batch average of the per-instance statistics."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher input to instance_norm, got {input.ndim}D")
    size = input.shape
    if use_input_stats:
        count = 1
        for s in size[2:]:
            count *= s
        if count == 1:
            raise ValueError("Expected more than 1 spatial element when training, got input "
                             f"size {size}")
    _floating_only(input, "batch_norm")
    _check_mixed(input, (weight, bias, running_mean, running_var))
    n, c = size[0], size[1]
    flat = input.contiguous().reshape((1, n * c) + tuple(size[2:]))
    if weight is not None:
        weight = weight.repeat(n)
    if bias is not None:
        bias = bias.repeat(n)
    # the running statistics repeated per sample, as torch's (their dtype decides a half
    # type's mixed case, NOTE [Half-precision batch norm])
    tiled_mean = None if running_mean is None else np.tile(running_mean._data, n)
    tiled_var = None if running_var is None else np.tile(running_var._data, n)
    if use_input_stats:
        out, mean, _, var = run(nn_norm.BATCH_NORM, flat, weight, bias, tiled_mean, tiled_var,
                                True, float(eps))
        if running_mean is not None or running_var is not None:
            _update_running(running_mean, running_var, mean._data, var._data, momentum,
                            flat.numel() // (n * c) if n * c else 0, n)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        out = run(nn_norm.BATCH_NORM, flat, weight, bias, tiled_mean, tiled_var, False,
                  float(eps))[0]
    return out.view(size)


def _floating_only(input: Tensor, kernel: str) -> None:
    """torch's refusal of an integer or bool input by a normalisation kernel (ember's
    formulas would normalise the integers and store them back as integers)."""
    if input._data.dtype.kind in "biu":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")


def _normalized_shape(fname: str, normalized_shape) -> tuple:
    return int_tuple(fname, "normalized_shape", normalized_shape)


def _check_normalized(input: Tensor, shape: tuple, weight, bias) -> None:
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(t.shape)} and normalized_shape = {list(shape)}")
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape or \
            input.ndim < len(shape):
        if not shape:
            raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                               "containing at least one element, but got normalized_shape = "
                               "[]")
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
            f"{list(input.shape)}")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Mirrors ``torch.nn.functional.layer_norm``: normalise over the last
    ``len(normalized_shape)`` dims, then scale by ``weight`` and shift by ``bias``; the
    node is ``NativeLayerNormBackward0``."""
    shape = _normalized_shape("layer_norm", normalized_shape)
    _check_normalized(input, shape, weight, bias)
    _check_mixed(input, (weight, bias))
    _floating_only(input, "LayerNormKernelImpl")
    return run(nn_norm.LAYER_NORM, input, weight, bias, len(shape), float(eps))[0]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Mirrors ``torch.nn.functional.group_norm``: the channels (dim 1) split into
    ``num_groups`` groups, each sample's group normalised over its channels and spatial
    dims, then a per-channel affine; the node is ``NativeGroupNormBackward0``."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    channels = input.shape[1]
    if channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != channels):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}")
    _check_mixed(input, (weight, bias))
    _floating_only(input, "GroupNormKernelImpl")
    return run(nn_norm.GROUP_NORM, input, weight, bias, int(num_groups), float(eps))[0]


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.rms_norm``: ``input / sqrt(mean(input**2) + eps)``
    over the last ``len(normalized_shape)`` dims, times ``weight``; ``eps`` defaults to the
    dtype's machine epsilon. Composed of ember ops as torch composes it."""
    shape = _normalized_shape("rms_norm", normalized_shape)
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of "
            f"shape {list(weight.shape)} and normalized_shape = {list(shape)}")
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}")
    _floating_only(input, "rms_norm")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    if input.dtype in (_dtype.float16, _dtype.bfloat16):
        # as torch: computed in float32 (eps float32's by default), weight included, and
        # rounded to the input's type once (the result's node is ToCopyBackward0)
        wide = input.to(_dtype.float32)
        out = wide * (wide.pow(2).mean(axes, keepdim=True)
                      + (_dtype.finfo(_dtype.float32).eps if eps is None else eps)).rsqrt()
        if weight is not None:
            out = out * weight.to(_dtype.float32)
        return out.to(input.dtype)
    if eps is None:
        eps = _dtype.finfo(input.dtype).eps
    out = input * (input.pow(2).mean(axes, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Mirrors ``torch.nn.functional.local_response_norm``: each element divided by
    ``(k + alpha * mean of the squares of the `size` neighbouring channels) ** beta``
    (zero padding, the mean over ``size`` as torch's average pooling takes it)."""
    dim = input.ndim
    if dim < 3:
        # torch's message carries the indentation of its source line
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    # torch averages the squares with avg_pool2d (3-d input) or avg_pool3d, whose loops
    # take int64 (averaging in integers) and the floats (avg_pool3d no half types)
    kept = (_dtype.int64, _dtype.float32, _dtype.float64) + (
        (_dtype.float16, _dtype.bfloat16) if dim == 3 else ())
    if input.dtype not in kept:
        kernel = "avg_pool2d" if dim == 3 else "avg_pool3d_out_frame"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    from ember._ops.shape import cat

    squares = input * input
    before, after = size // 2, (size - 1) // 2
    pads = []
    if before:
        pads.append(squares.new_zeros((squares.shape[0], before) + tuple(squares.shape[2:])))
    pads.append(squares)
    if after:
        pads.append(squares.new_zeros((squares.shape[0], after) + tuple(squares.shape[2:])))
    padded = cat(pads, 1) if len(pads) > 1 else squares
    window_sum = padded.unfold(1, size, 1).sum(-1)
    window_mean = window_sum.div(size, rounding_mode="trunc") if input.dtype is _dtype.int64 \
        else window_sum / size
    div = (window_mean * alpha + k).pow(beta)
    return input / div
