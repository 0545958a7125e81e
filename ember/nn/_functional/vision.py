"""Part of ``ember.nn.functional``: padding, ``unfold``/``fold``, pixel and channel
shuffles, ``interpolate`` (and the deprecated ``upsample*``).

Kernels are op records in ``ember/_ops/nn_conv.py`` (constant padding), ``nn_vision.py``
(gathers, im2col, shuffles) and ``nn_pool.py`` (the separable linear maps of linear and
cubic interpolation, NOTE [Separable pooling]).
"""
from __future__ import annotations

import math
import warnings

from ember._backend import np
from ember._dtype import FLOAT, INT, bool_, scalar_type_mismatch, scalar_type_name
from ember._dtype import uint8 as uint8_dtype
from ember._ops import batching, nn_pool, nn_vision
from ember._ops.creation import _C_TYPE_NAMES
from ember._ops.nn_conv import CONSTANT_PAD
from ember._ops.registry import run
from ember._tensor import Tensor
from ember.nn._functional._args import int_tuple
from ember.nn._functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
)

__all__ = ["pad", "unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
           "native_channel_shuffle", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear", "affine_grid", "grid_sample"]

_SUPPORTED = ("Supported combinations for non-constant padding:\n"
              "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
              "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
              "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.pad``: ``pad`` lists (before, after) sizes from the last
    dim backwards; ``mode`` is constant (``value``, default 0), reflect, replicate or
    circular; negative sizes crop."""
    pad = int_tuple("pad", "pad", pad)
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    dim = input.dim()
    if len(pad) // 2 > dim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {dim}")
    nd = len(pad) // 2
    pads = tuple((pad[2 * (nd - 1 - i)], pad[2 * (nd - 1 - i) + 1]) for i in range(nd))
    if mode == "constant":
        return _constant(input, pads, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if nd not in (1, 2, 3) or dim not in (nd + 1, nd + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {dim}D input tensor.\n{_SUPPORTED}")
    spatial = tuple(input.shape[-nd:])
    if mode == "circular":
        return _circular(input, pads)
    if any(s == 0 for s in input.shape[-nd - 1:]):
        raise RuntimeError(
            f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 batch size "
            f"and other non-zero dimensions for input, but got: {list(input.shape)}")
    if mode == "reflect":
        for i, (b, a) in enumerate(pads):
            if b >= spatial[i] or a >= spatial[i]:
                raise RuntimeError(
                    f"Argument #{2 + 2 * nd}: Padding size should be less than the "
                    f"corresponding input dimension, but got: padding ({b}, {a}) at dimension "
                    f"{dim - nd + i} of input {list(input.shape)}")
    name = "Reflection" if mode == "reflect" else "Replication"
    if input.dtype is bool_:
        raise NotImplementedError(f'"{name.lower()}_pad{nd}d" not implemented for \'Bool\'')
    # the indices follow from the shape alone: the same for every sample of a vmap
    indices = tuple(batching.shared(nn_vision.pad_index(spatial[i], b, a, mode))
                    for i, (b, a) in enumerate(pads))
    return run(nn_vision.GATHERS[f"{name}Pad{nd}DBackward0"], input, indices,
               tuple(input.shape))


def _constant(input: Tensor, pads: tuple, value) -> Tensor:
    for i, (b, a) in enumerate(pads):
        if input.shape[input.dim() - len(pads) + i] + b + a < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    _check_pad_value(value, input.dtype)
    return run(CONSTANT_PAD, input, pads, value)


def _check_pad_value(value, dtype) -> None:
    """torch converts the fill value to the input's type with a range check: a value outside
    an integer type's range (or NaN), or a finite one beyond a floating type's, is refused
    (NumPy would wrap it, or round it to infinity)."""
    if value == 0 or dtype.category not in (INT, FLOAT) or isinstance(value, bool):
        return  # zero (the default) fits every type
    info = np.iinfo(dtype.np) if dtype.category == INT else np.finfo(dtype.np)
    value = float(value) if dtype.category == FLOAT else value
    inside = info.min <= value <= info.max
    if not inside and (dtype.category == INT or math.isfinite(value)):
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[dtype.name]} "
                           f"without overflow")


def _circular(input: Tensor, pads: tuple) -> Tensor:
    # torch crops the negative sides first, then copies the cropped tensor into the middle
    # of the result and its wrapped edges beside it (its node is CopySlices).
    nd = len(pads)
    lead = input.dim() - nd
    for i, (b, a) in enumerate(pads):
        size = input.shape[lead + i]
        if b < 0 or a < 0:
            input = input.narrow(lead + i, max(-b, 0), size - max(-b, 0) - max(-a, 0))
    spatial = tuple(input.shape[lead:])
    for i, (b, a) in enumerate(pads):
        if b > spatial[i] or a > spatial[i]:
            raise RuntimeError("Padding value causes wrapping around more than once.")
    pos = tuple((max(b, 0), max(a, 0)) for b, a in pads)
    shape = tuple(input.shape[:lead]) + tuple(spatial[i] + b + a for i, (b, a) in enumerate(pos))
    out = input.new_zeros(shape)
    full = (slice(None),) * lead
    middle = out
    for i, (b, _) in enumerate(pos):
        middle = middle.narrow(lead + i, b, spatial[i])
    middle.copy_(input)  # a view of ``out`` even when nothing is padded: CopySlices
    for i, (b, a) in enumerate(pos):
        n = spatial[i]
        before = full + (slice(None),) * i
        if b:
            out[before + (slice(0, b),)] = out[before + (slice(n, n + b),)]
        if a:
            out[before + (slice(b + n, b + n + a),)] = out[before + (slice(b, b + a),)]
    return out


def _pair(value, name: str) -> tuple:
    """torch's ``_pair`` then im2col's length check: an int is used for both dims, a
    sequence must hold two."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
    return value


_WINDOW_CHECKS = {
    "kernel": lambda v: v[0] > 0 and v[1] > 0,
    "dilation": lambda v: v[0] > 0 and v[1] > 0,
    "padding": lambda v: v[0] >= 0 and v[1] >= 0,
    "stride": lambda v: v[0] > 0 and v[1] > 0,
}
_WINDOW_ERRORS = {
    "kernel": "kernel size should be greater than zero, but got kernel_height: {} "
              "kernel_width: {}",
    "dilation": "dilation should be greater than zero, but got dilation_height: {} "
                "dilation_width: {}",
    "padding": "padding should be non-negative, but got pad_height: {} pad_width: {}",
    "stride": "stride should be greater than zero, but got stride_height: {} stride_width: {}",
}


def _check_window(**params) -> None:
    """im2col's and col2im's checks of the window's numbers, in the order given."""
    for name, value in params.items():
        if not _WINDOW_CHECKS[name](value):
            raise RuntimeError(_WINDOW_ERRORS[name].format(*value))


def _check_unfold_dtype(input: Tensor, frame: str) -> None:
    if input.dtype.category == INT:
        raise NotImplementedError(
            f'"{frame}" not implemented for \'{scalar_type_name(input.dtype)}\'')


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Mirrors ``torch.nn.functional.unfold`` (im2col): (N, C, H, W) or (C, H, W) to
    (N, C * kH * kW, L) columns, one per sliding block."""
    kernel = _pair(kernel_size, "kernel_size")
    dilation = _pair(dilation, "dilation")
    padding = _pair(padding, "padding")
    stride = _pair(stride, "stride")
    _check_window(kernel=kernel, dilation=dilation, padding=padding, stride=stride)
    shape = tuple(input.shape)
    if not shape:  # torch reads sizes 1 and 2 before it looks at the rank
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    valid = input.size(1) != 0 and input.size(2) != 0
    if not (len(shape) == 3 and shape[0] and valid or len(shape) == 4 and valid and shape[3]):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: {list(shape)}")
    h, w = input.shape[-2:]
    blocks = tuple((s + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                   for i, s in enumerate((h, w)))
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size=({kernel[0]}, "
            f"{kernel[1]}), dilation=({dilation[0]}, {dilation[1]}), padding=({padding[0]}, "
            f"{padding[1]}), calculated shape of the array of sliding blocks as "
            f"({blocks[0]}, {blocks[1]}), but its components must be at least one.")
    _check_unfold_dtype(input, "im2col_out_cpu")
    return run(nn_vision.IM2COL, input, kernel, dilation, padding, stride)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Mirrors ``torch.nn.functional.fold`` (col2im): sums (N, C * kH * kW, L) columns into
    their blocks of an (N, C, *output_size) tensor."""
    output_size = _pair(output_size, "output_size")
    kernel = _pair(kernel_size, "kernel_size")
    dilation = _pair(dilation, "dilation")
    padding = _pair(padding, "padding")
    stride = _pair(stride, "stride")
    _check_window(kernel=kernel, stride=stride, dilation=dilation, padding=padding)
    shape = tuple(input.shape)
    if not (len(shape) == 2 and shape[0] and shape[1] or len(shape) == 3 and shape[1]
            and shape[2]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(shape)}")
    ck, length = input.shape[-2:]
    k = kernel[0] * kernel[1]
    if ck % k:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={ck} and kernel_size=({kernel[0]}, "
            f"{kernel[1]}).")
    blocks = tuple((output_size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                   // stride[i] + 1 for i in range(2))
    if blocks[0] * blocks[1] != length:
        raise RuntimeError(
            f"Given output_size=({output_size[0]}, {output_size[1]}), kernel_size=({kernel[0]}"
            f", {kernel[1]}), dilation=({dilation[0]}, {dilation[1]}), padding=({padding[0]}, "
            f"{padding[1]}), stride=({stride[0]}, {stride[1]}), expected size of input's "
            f"dimension 2 to match the calculated number of sliding blocks {blocks[0]} * "
            f"{blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={length}.")
    _check_unfold_dtype(input, "col2im_out_cpu")
    return run(nn_vision.COL2IM, input, output_size, kernel, dilation, padding, stride)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Mirrors ``torch.nn.functional.pixel_shuffle``: (*, C r^2, H, W) to (*, C, H r, W r)."""
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    r = int(upscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c = input.shape[-3]
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c}"
                           f" is not divisible by {r * r}")
    return run(nn_vision.PIXEL_SHUFFLE, input, r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Mirrors ``torch.nn.functional.pixel_unshuffle``: (*, C, H r, W r) to
    (*, C r^2, H, W)."""
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, "
                           f"but got input with {input.dim()} dimension(s)")
    r = int(downscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    h, w = input.shape[-2:]
    if h % r:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by "
                           f"downscale_factor, but input.size(-1)={w} is not divisible by {r}")
    return run(nn_vision.PIXEL_UNSHUFFLE, input, r)


def _shuffle_channels(op, input: Tensor, groups: int) -> Tensor:
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value "
                           f"of groups:{groups}")
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    return run(op, input, int(groups))


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Mirrors ``torch.nn.functional.channel_shuffle``: (N, g * k, *) with the channels
    read as (g, k) and transposed to (k, g)."""
    return _shuffle_channels(nn_vision.CHANNEL_SHUFFLE, input, groups)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Mirrors ``torch.nn.functional.native_channel_shuffle``: ``channel_shuffle``'s values,
    recorded as torch records them, by a node whose backward raises (torch defines no
    derivative for it)."""
    return _shuffle_channels(nn_vision.NATIVE_CHANNEL_SHUFFLE, input, groups)

_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_NAMES = {1: "1D", 2: "2D", 3: "3D"}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.interpolate`` for 3-D to 5-D inputs; modes nearest,
    nearest-exact, linear, bilinear, bicubic, trilinear, area and (with ``antialias=True``
    only) lanczos. ``antialias=True`` (bilinear, bicubic, lanczos; 4-D input) resizes with
    torch's antialiasing filters (NOTE [Antialiased resize] in ember/_ops/nn_vision.py)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and output "
                    f"size of {size}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and output size in (o1, o2, ...,oK) format.")
            if not all(isinstance(s, (int, np.integer, Tensor)) for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    "Tuple[int, int, int], but got size with types "
                    f"{[type(s) for s in size]}")
            out = tuple(int(s) for s in size)
        else:
            out = (int(size),) * nd
        scales = None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor "
                    "in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                    "format.")
            scales = tuple(float(s) for s in scale_factor)
        else:
            scales = (float(scale_factor),) * nd
        products = [float(input.shape[2 + i]) * scales[i] for i in range(nd)]
        if mode != "area" and not recompute_scale_factor and not all(
                abs(v) < 2.0 ** 63 for v in products):  # inf and nan too
            # torch's kernels size the output from the scale (Python floors it for area
            # and recompute_scale_factor, raising Python's errors)
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        out = tuple(int(math.floor(v)) for v in products)
        if recompute_scale_factor:
            scales = None
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode in _INTERP_DIMS and _INTERP_DIMS[mode] != nd and nd in (1, 2, 3) and \
            mode != "bicubic":  # torch words a bicubic of another rank as any other mode
        raise NotImplementedError(
            f"Got {input.dim()}D input, but {mode} mode needs {_INTERP_DIMS[mode] + 2}D input")
    if nd not in (1, 2, 3) or (mode == "bicubic" and nd != 2):
        raise NotImplementedError(
            "Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{input.dim()}D) for the modes: nearest | linear | bilinear | bicubic | trilinear "
            f"| lanczos | area | nearest-exact (got {mode})")
    spatial = tuple(input.shape[2:])
    # torch hands the kernels 1 / scale_factor when a scale factor is used
    inv = tuple(None if scales is None or not scales[i] else 1.0 / scales[i]
                for i in range(nd))  # a zero scale gives an empty output, refused below
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1]
        return pool(input, out)
    if mode == "lanczos" and nd == 2:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if min(spatial) <= 0 or min(out) <= 0:  # torch's resampling kernels' shared check
        names = ("D", "H", "W")[3 - nd:]
        sizes = [", ".join(f"{n}: {v}" for n, v in zip(names, dims)) for dims in (spatial, out)]
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({sizes[0]}){' and' if nd == 1 else ''} output ({sizes[1]})")
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        _check_interp_dtype(input, "upsample_nearest2d_channels_last" if nd == 2 else
                            "compute_indices_weights_nearest", uint8=True)
        index = tuple(batching.shared(nn_vision.nearest_index(out[i], spatial[i], inv[i], exact))
                      for i in range(nd))
        name = "NearestExact" if exact else "Nearest"
        return run(nn_vision.GATHERS[f"Upsample{name}{_NAMES[nd]}Backward0"], input, index,
                   tuple(input.shape))
    if antialias:
        # torch's separable kernels leave a dim whose size does not change as it is (for
        # any scale factor), here and in the linear modes below
        mats = tuple(None if out[i] == spatial[i] else nn_vision.antialias_matrix(
            out[i], spatial[i], inv[i], align_corners, mode) for i in range(nd))
        _check_interp_dtype(input, "compute_index_ranges_weights", uint8=True, halves=False)
        node = f"Upsample{mode.capitalize()}2DAaBackward0"
        return run(nn_pool.SEPARABLE[node], input, mats)
    if mode == "bicubic":
        mats = tuple(nn_vision.cubic_matrix(out[i], spatial[i], inv[i], align_corners)
                     for i in range(nd))
    elif mode in _INTERP_DIMS:
        mats = tuple(None if out[i] == spatial[i] else nn_vision.linear_matrix(
            out[i], spatial[i], inv[i], align_corners) for i in range(nd))
    else:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
            "the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            f"nearest-exact (got {mode})")
    node = {"linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
            "bicubic": "UpsampleBicubic2DBackward0",
            "trilinear": "UpsampleTrilinear3DBackward0"}[mode]
    _check_interp_dtype(input, _INTERP_FRAMES[mode], uint8=mode in ("bilinear", "bicubic"))
    return run(nn_pool.SEPARABLE[node], input, mats)


_INTERP_FRAMES = {"linear": "compute_indices_weights_linear",
                  "trilinear": "compute_indices_weights_linear",
                  "bilinear": "upsample_bilinear2d_channels_last",
                  "bicubic": "compute_indices_weights_cubic"}


def _check_interp_dtype(input: Tensor, frame: str, uint8: bool = False,
                        halves: bool = True) -> None:
    """torch's resampling kernels take the floating types (the half ones where ``halves``)
    and, where ``uint8``, uint8 images; other dtypes raise as torch's dispatch does."""
    dtype = input.dtype
    if dtype.category == FLOAT and (halves or dtype.itemsize > 2) or (
            uint8 and dtype is uint8_dtype):
        return
    raise NotImplementedError(
        f'"{frame}" not implemented for \'{scalar_type_name(dtype)}\'')


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Mirrors the deprecated ``torch.nn.functional.upsample`` (``interpolate``)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Mirrors the deprecated ``torch.nn.functional.upsample_nearest``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Mirrors the deprecated ``torch.nn.functional.upsample_bilinear``
    (``align_corners=True``)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.affine_grid``: the (N, H, W, 2) (or (N, D, H, W, 3))
    sampling grid of the affine maps ``theta`` (N, 2, 3) (or (N, 3, 4)) for an output of
    ``size`` (N, C, H, W) (or (N, C, D, H, W))."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    given, size = size, tuple(int(s) for s in size)  # the messages show size as given
    if len(size) == 4:
        nd = 2
    elif len(size) == 5:
        nd = 3
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {given}.")
    if theta.dim() != 3 or tuple(theta.shape[1:]) != (nd, nd + 1) or theta.shape[0] != size[0]:
        raise ValueError(
            f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size "
            f"{given}. Got {theta.shape}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      UserWarning, stacklevel=2)
    if min(spatial) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {given}")
    base = nn_vision.affine_base(spatial, bool(align_corners))
    return run(nn_vision.AFFINE_GRID, theta, base, (size[0],) + spatial + (nd,))


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.grid_sample``: an (N, C, H, W) input sampled at an
    (N, Ho, Wo, 2) grid of normalised (x, y) positions, or an (N, C, D, H, W) one at an
    (N, Do, Ho, Wo, 3) grid; mode bilinear (trilinear for 5-D), nearest or bicubic (4-D
    only), padding_mode zeros, border or reflection."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if input.dim() != grid.dim() or input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, "
            f"but got grid with sizes {list(grid.shape)}")
    if input.dim() not in (4, 5):
        raise RuntimeError(
            "grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
            f"but got input with sizes {list(input.shape)} and grid with sizes "
            f"{list(grid.shape)}")
    if mode == "bicubic" and input.dim() == 5:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input.dtype is not grid.dtype:
        raise scalar_type_mismatch(input.dtype, grid.dtype)
    if input.dtype.category != FLOAT:  # torch's samplers have floating loops only
        kernel = "grid_sampler_2d_cpu_kernel_impl" if input.dim() == 4 else "grid_sampler3d_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(input.dtype)}'")
    return run(nn_vision.GRID_SAMPLERS[input.dim() - 2], input, grid, mode, padding_mode,
               bool(align_corners))
