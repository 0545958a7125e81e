"""Part of ``ember.nn.functional``: convolutions (``conv1d`` ... ``conv_transpose3d``).

The kernel is one op record, ``torch.convolution`` (``ember/_ops/nn_conv.py``, see NOTE
[Convolution as im2col]); these functions check arguments as torch does and call it.
"""
from __future__ import annotations

import warnings

from ember._backend import np
from ember._dtype import cpp_type_name, scalar_type_mismatch, scalar_type_name
from ember._ops.nn_conv import CONSTANT_PAD, CONV_TBC, convolution
from ember._ops.registry import run
from ember._tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "conv_tbc"]


def expand_param(value, nd: int, name: str) -> tuple:
    """An int or a sequence as an ``nd``-tuple, with torch's error for a wrong length."""
    if isinstance(value, int):
        return (value,) * nd
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * nd
    if len(value) != nd:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {nd} values to match "
            f"the convolution dimensions, but got {name}={list(value)}")
    return value


def _size(shape) -> str:
    return str(list(shape))


def _check_input_dim(input: Tensor, nd: int, fname: str) -> bool:
    """Whether ``input`` is batched; torch's error for a wrong number of dims."""
    dim = input.dim()
    if dim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fname}, but got "
            f"input of size: {_size(input.shape)}")
    return dim == nd + 2


def _refuse_kernel_dtype(input: Tensor, nd: int, transposed: bool) -> None:
    """torch's CPU convolution kernels have no bool loop, and its transposed ones no loop
    for integers but int64: their NotImplementedError, named by the kernel torch runs."""
    kind = input._data.dtype
    if kind == np.bool_ or (transposed and kind.kind in "iu" and kind != np.int64):
        if transposed:
            kernel = f"slow_conv_transpose{max(nd, 2)}d_out_cpu"
        else:
            kernel = "compute_columns3d" if nd == 3 else "slow_conv2d_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(input.dtype)}'")


def _check_common(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups,
                  transposed: bool, output_padding=None) -> None:
    nd = input.dim() - 2
    if weight.dim() != input.dim():
        raise RuntimeError(
            f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
            f"{_size(weight.shape)}, but got {input.dim()}-dimensional input of size "
            f"{_size(input.shape)} instead")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    # the bias first, as torch's convolution checks it (its transposed kernels the weight)
    bias_first = bias is not None and not transposed
    if bias_first and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({cpp_type_name(input.dtype)}) and bias type "
                           f"({cpp_type_name(bias.dtype)}) should be the same")
    if input.dtype is not weight.dtype:
        raise scalar_type_mismatch(input.dtype, weight.dtype)
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({cpp_type_name(input.dtype)}) and bias type "
                           f"({cpp_type_name(bias.dtype)}) should be the same")
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
            f"0, but got weight of size [{_size(weight.shape)}] instead")
    channels = weight.shape[0] if transposed else weight.shape[1] * groups
    if input.shape[1] != channels:
        what = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(
            f"Given {what}, weight of size {_size(weight.shape)}, expected input"
            f"{_size(input.shape)} to have {channels} channels, but got {input.shape[1]} "
            "channels instead")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(
            f"Given weight of size {_size(weight.shape)}, expected bias to be 1-dimensional "
            f"with {out_channels} elements, but got bias of size {_size(bias.shape)} instead")
    spatial = input.shape[2:]
    kernel = weight.shape[2:]
    _refuse_kernel_dtype(input, nd, transposed)
    if transposed:
        if any(output_padding[i] >= stride[i] and output_padding[i] >= dilation[i]
               for i in range(nd)):
            names = ("depth", "height", "width")[3 - nd:]
            text = " ".join(f"output_padding_{n}: {output_padding[i]}"
                            for i, n in enumerate(names))
            text += " " + " ".join(f"stride_{n}: {stride[i]}" for i, n in enumerate(names))
            text += " " + " ".join(f"dilation_{n}: {dilation[i]}" for i, n in enumerate(names))
            raise RuntimeError("output padding must be smaller than either stride or "
                               f"dilation, but got {text}")
        out = [(spatial[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
               + output_padding[i] + 1 for i in range(nd)]
        if any(o <= 0 for o in out):
            raise RuntimeError(
                f"Given input size per channel: ({' x '.join(map(str, spatial))}). Calculated "
                f"output size per channel: ({' x '.join(map(str, out))}). Output size is too "
                "small")
        return
    padded = [spatial[i] + 2 * padding[i] for i in range(nd)]
    dilated = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    if any(padded[i] < dilated[i] for i in range(nd)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, dilated))}). Kernel size can't be greater "
            "than actual input size")


def _conv(nd: int, fname: str, input: Tensor, weight: Tensor, bias, stride, padding,
          dilation, groups: int) -> Tensor:
    batched = _check_input_dim(input, nd, fname)
    stride = expand_param(stride, nd, "stride")
    dilation = expand_param(dilation, nd, "dilation")
    extra = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [dilation[i] * (weight.shape[2 + i] - 1) if weight.dim() == nd + 2 else 0
                     for i in range(nd)]
            padding = tuple(t // 2 for t in total)
            if any(t % 2 for t in total):
                warnings.warn(
                    "Using padding='same' with even kernel lengths and odd dilation may require "
                    "a zero-padded copy of the input be created", UserWarning, stacklevel=3)
                extra = tuple((0, t % 2) for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: {padding!r}")
    else:
        padding = expand_param(padding, nd, "padding")
    if not batched:
        input = input.unsqueeze(0)
    _check_common(input, weight, bias, stride, padding, dilation, groups, False)
    if extra is not None:
        input = run(CONSTANT_PAD, input, extra, 0)
    out = convolution(input, weight, bias, stride, padding, dilation, False, (0,) * nd, groups)
    return out if batched else out.squeeze(0)


def _conv_transpose(nd: int, fname: str, input: Tensor, weight: Tensor, bias, stride,
                    padding, output_padding, groups: int, dilation) -> Tensor:
    if isinstance(padding, str):
        raise TypeError(f"{fname}(): argument 'padding' must be tuple of ints, not str")
    batched = _check_input_dim(input, nd, fname)
    stride = expand_param(stride, nd, "stride")
    padding = expand_param(padding, nd, "padding")
    output_padding = expand_param(output_padding, nd, "output_padding")
    dilation = expand_param(dilation, nd, "dilation")
    if not batched:
        input = input.unsqueeze(0)
    _check_common(input, weight, bias, stride, padding, dilation, groups, True, output_padding)
    out = convolution(input, weight, bias, stride, padding, dilation, True, output_padding,
                      groups)
    return out if batched else out.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv1d``: input (N, C_in, L) or (C_in, L), weight
    (C_out, C_in / groups, k); ``padding`` an int, a 1-tuple, ``'valid'`` or ``'same'``."""
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv2d``: input (N, C_in, H, W) or unbatched, weight
    (C_out, C_in / groups, kH, kW); ``padding`` ints, ``'valid'`` or ``'same'``."""
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv3d``: input (N, C_in, D, H, W) or unbatched, weight
    (C_out, C_in / groups, kD, kH, kW); ``padding`` ints, ``'valid'`` or ``'same'``."""
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv_transpose1d``: weight (C_in, C_out / groups, k);
    the gradient of ``conv1d`` with respect to its input."""
    return _conv_transpose(1, "conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv_transpose2d``: weight (C_in, C_out / groups, kH,
    kW); the gradient of ``conv2d`` with respect to its input."""
    return _conv_transpose(2, "conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Mirrors ``torch.nn.functional.conv_transpose3d``: weight (C_in, C_out / groups, kD,
    kH, kW); the gradient of ``conv3d`` with respect to its input."""
    return _conv_transpose(3, "conv_transpose3d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """Mirrors ``torch.nn.functional.conv_tbc``: a 1-d convolution over (time, batch,
    channels) input with a (kernel_width, in_channels, out_channels) weight and a bias of
    out_channels, zero-padding the time dim by ``pad`` on both sides."""
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    t_out = input.shape[0] + 2 * pad - weight.shape[0] + 1
    if t_out < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {t_out}: "
                           f"[{t_out}, {input.shape[1]}, {weight.shape[2]}]")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(input.dtype)} and "
                           f"{scalar_type_name(weight.dtype)}")
    # torch's kernel views the input as (time * batch, channels): a layout that cannot be
    # viewed so is refused with view's error
    input.view(-1, input.shape[2])
    return run(CONV_TBC, input, weight, bias, pad)
