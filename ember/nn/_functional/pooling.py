"""Part of ``ember.nn.functional``: pooling (max, average, power-average, adaptive,
unpooling). Kernels are op records in ``ember/_ops/nn_pool.py`` (NOTE [Separable
pooling]); one-dimensional pooling runs the two-dimensional op on an inserted unit dim, as
torch does (its result's node is ``SqueezeBackward1``).
"""
from __future__ import annotations

import math

from ember import _dtype
from ember._backend import np
from ember._ops import nn_pool
from ember._ops.nn_conv import channels_last_format, in_format
from ember._ops.registry import run
from ember._tensor import Tensor, make

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
    "fractional_max_pool3d_with_indices",
]


def _tuple(value, nd: int, fname: str, what: str) -> tuple:
    if isinstance(value, int):
        return (value,) * nd
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * nd
    if len(value) != nd:
        count = {2: "two", 3: "three"}.get(nd, str(nd))
        raise RuntimeError(f"{fname}: {what} must either be a single int, or a tuple of "
                           f"{count} ints")
    return value


def _pool_params(nd: int, fname: str, kernel_size, stride, padding, dilation=1) -> tuple:
    kernel = _tuple(kernel_size, nd, fname, "kernel_size")
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        stride = kernel
    else:
        stride = _tuple(stride, nd, fname, "stride")
    padding = _tuple(padding, nd, fname, "padding")
    dilation = _tuple(dilation, nd, fname, "dilation")
    if any(s == 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(k <= 0 for k in kernel):
        dims = ("depth", "height", "width")[3 - nd:] if nd > 1 else ("height", "width")
        raise RuntimeError(
            "kernel size should be greater than zero, but got " + " ".join(
                f"k{d[0].upper()}: {k}" for d, k in zip(dims, kernel)))
    if any(d <= 0 for d in dilation):
        names = ("T", "H", "W")[3 - nd:]
        raise RuntimeError("dilation should be greater than zero, but got " + " ".join(
            f"dilation{n}: {d}" for n, d in zip(names, dilation)))
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}")
    return kernel, stride, padding, dilation


def _check_pool_input(input: Tensor, nd: int) -> None:
    if input.dim() not in (nd + 1, nd + 2) or any(s == 0 for s in input.shape[-nd - 1:]):
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           "input")


def _check_pool_dtype(input: Tensor, frame: str, halves: bool = True,
                      long: bool = False) -> None:
    """torch's pooling kernels dispatch on the dtype: the floating types (float16 and
    bfloat16 only where ``halves``), and int64 for the average pools that take it."""
    dtype = input.dtype
    if dtype.category == _dtype.FLOAT and (halves or dtype.itemsize > 2) or (
            long and dtype is _dtype.int64):
        return
    raise NotImplementedError(
        f'"{frame}" not implemented for \'{_dtype.scalar_type_name(dtype)}\'')


def _avg_pool_long(input: Tensor, mats: tuple) -> Tensor:
    """torch's average pooling of int64: each window's sum divided by the window's divisor,
    truncated toward zero. A window matrix's row holds one weight, 1 / (that dim's share of
    the divisor), where the window reads (NOTE [Separable pooling])."""
    data = input._data
    sums = nn_pool.apply_mats_array(np, data, tuple((m != 0).astype(np.int64) for m in mats))
    weight = np.ones(())
    for m in mats:
        weight = np.multiply.outer(weight, m.max(1))
    divisor = np.rint(1.0 / weight).astype(np.int64)
    quotient = np.abs(sums) // divisor
    return make(in_format(np.where(sums < 0, -quotient, quotient),
                          channels_last_format(data)))


def _check_out_size(input: Tensor, out: tuple) -> None:
    if any(o <= 0 for o in out):
        spatial = tuple(input.shape[-len(out):])
        c = input.shape[-len(out) - 1]
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, (c,) + spatial))}). Calculated output "
            f"size: ({'x'.join(map(str, (c,) + out))}). Output size is too small")


def _max_pool(nd: int, input: Tensor, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices: bool, fname: str):
    kernel, stride, padding, dilation = _pool_params(nd, fname, kernel_size, stride, padding,
                                                     dilation)
    _check_pool_input(input, nd)
    out = tuple(nn_pool.pool_out_size(input.shape[-nd + i], kernel[i], stride[i], padding[i],
                                      dilation[i], bool(ceil_mode)) for i in range(nd))
    _check_out_size(input, out)
    if input.dtype.category in (_dtype.BOOL, _dtype.COMPLEX):  # torch's kernels: real numbers
        raise NotImplementedError(f'"{fname}" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    values, indices = run(nn_pool.MAX_POOL[nd], input, kernel, stride, padding, dilation,
                          bool(ceil_mode))
    return (values, indices) if return_indices else values


def _widen(value, fill: int):
    """A 1-D pooling argument as the 2-D one (``fill`` for the inserted unit dim)."""
    if value is None:
        return None
    return (fill,) + ((value,) if isinstance(value, int) else tuple(value))


def _one_d(fn, input: Tensor, nd: int, *args):
    """Run a 2-D pooling on a 1-D input (an inserted unit height), as torch does."""
    outs = fn(nd, input.unsqueeze(-2), *args)
    if isinstance(outs, tuple):
        return tuple(o.squeeze(-2) for o in outs)
    return outs.squeeze(-2)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool1d_with_indices``: (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool1d`` over (N, C, L) or (C, L); with
    ``return_indices`` also the flat positions of the maxima."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"max_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{list(input.shape)}")

    kernel = _widen(kernel_size, 1)
    if kernel[1] <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got "
                           f"{kernel[1]}")
    stride = None if stride is None or (not isinstance(stride, int) and not len(stride)) \
        else _widen(stride, 1)
    length = input.shape[-1]
    out = nn_pool.pool_out_size(length, kernel[1], (stride or kernel)[1],
                                _widen(padding, 0)[1], _widen(dilation, 1)[1], bool(ceil_mode))
    if out <= 0 and (stride is None or stride[1] > 0):
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    if not return_indices and not input.requires_grad:  # torch's own 1-d kernel: floats
        _check_pool_dtype(input, "max_pool1d_impl")
    return _one_d(_max_pool, input, 2, kernel, stride, _widen(padding, 0), _widen(dilation, 1),
                  ceil_mode, return_indices, "max_pool2d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool2d`` over (N, C, H, W) or (C, H, W); with
    ``return_indices`` also the maxima's flat positions in each H x W plane."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, "max_pool2d")


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool3d`` over (N, C, D, H, W) or unbatched."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, "max_pool3d")


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool2d_with_indices``: (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.max_pool3d_with_indices``: (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(nd: int, input: Tensor, kernel_size, stride, padding, ceil_mode,
              count_include_pad, divisor_override, fname: str) -> Tensor:
    kernel, stride, padding, _ = _pool_params(nd, fname, kernel_size, stride, padding)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _check_pool_input(input, nd)
    spatial = tuple(input.shape[-nd:])
    mats = tuple(nn_pool.avg_pool_matrix(spatial[i], kernel[i], stride[i], padding[i],
                                         bool(ceil_mode), bool(count_include_pad),
                                         divisor_override is None) for i in range(nd))
    _check_out_size(input, tuple(m.shape[0] for m in mats))
    if divisor_override is not None:
        mats = (mats[0] / divisor_override,) + mats[1:]
    _check_pool_dtype(input, "avg_pool2d" if nd == 2 else "avg_pool3d_out_frame",
                      halves=nd == 2, long=True)
    if input.dtype is _dtype.int64:
        return _avg_pool_long(input, mats)
    return run(nn_pool.SEPARABLE[f"AvgPool{nd}DBackward0"], input, mats)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mirrors ``torch.nn.functional.avg_pool1d`` over (N, C, L) or (C, L)."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"avg_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{list(input.shape)}")
    return _one_d(_avg_pool, input, 2, _widen(kernel_size, 1), _widen(stride, 1),
                  _widen(padding, 0), ceil_mode, count_include_pad, None, "avg_pool2d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.avg_pool2d``; inf inputs may make NaNs outside their
    windows (ember multiplies by window matrices, see NOTE [Separable pooling])."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool2d")


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.avg_pool3d`` (see ``avg_pool2d`` on infinities)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool3d")


def _lp_pool(nd: int, input: Tensor, norm_type: float, kernel_size, stride, ceil_mode):
    kernel = _tuple(kernel_size, nd, f"lp_pool{nd}d", "kernel_size")
    if isinstance(norm_type, (int, float)) and math.isinf(norm_type):
        # the limits, as torch: each window's largest |x| (smallest for -inf)
        maximum = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
        if norm_type > 0:
            return maximum(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return -maximum(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    out = pool(input.pow(norm_type), kernel if nd > 1 else kernel[0], stride, 0, ceil_mode)
    count = 1
    for k in kernel:
        count *= k
    return (out.sign() * out.abs().relu()).mul(count).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.lp_pool1d``: (sum over each window of x^p)^(1/p)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.lp_pool2d``: (sum over each window of x^p)^(1/p)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.lp_pool3d``: (sum over each window of x^p)^(1/p)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _output_size(output_size, input: Tensor, nd: int, fname: str) -> tuple:
    if isinstance(output_size, int):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) == 1 and nd > 1:
        output_size = output_size * nd
    if len(output_size) != nd:
        raise RuntimeError(f"{fname}: output_size must be {nd}")
    return tuple(input.shape[-nd + i] if o is None else int(o)
                 for i, o in enumerate(output_size))


def _check_adaptive_input(input: Tensor, nd: int, fname: str, colon: str = "") -> None:
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fname}(): Expected {nd + 1}D or {nd + 2}D tensor, but got"
                           f"{colon} {list(input.shape)}")


def _check_adaptive_sizes(input: Tensor, first: int, fname: str) -> None:
    """torch's adaptive pools refuse an input with an empty dim from ``first`` on."""
    shape = tuple(input.shape)
    for i in range(first, len(shape)):
        if not shape[i]:
            raise RuntimeError(f"{fname}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(shape)} with dimension "
                               f"{i} being empty")


def _adaptive_avg(nd: int, input: Tensor, output_size) -> Tensor:
    fname = f"adaptive_avg_pool{nd}d"
    _check_adaptive_input(input, nd, fname)
    out = _output_size(output_size, input, nd, fname)
    # the 2-d pool checks its spatial dims, the 3-d one every dim after the first
    _check_adaptive_sizes(input, input.dim() - 2 if nd == 2 else 1, fname)
    if min(out) < 0:
        sizes = ", ".join(map(str, out)) if nd == 2 else f"{out[0]}, {out[1]},{out[2]}"
        raise RuntimeError(f"{fname}: elements of output_size must be greater than or equal "
                           f"to 0 but received {{{sizes}}}")
    if all(o == 1 for o in out):  # torch takes the mean (its node is MeanBackward1)
        return input.mean(tuple(range(-nd, 0)), keepdim=True)
    _check_pool_dtype(input, "adaptive_avg_pool2d" if nd == 2 else "adaptive_avg_pool3d_cpu")
    mats = tuple(nn_pool.adaptive_avg_matrix(input.shape[-nd + i], out[i]) for i in range(nd))
    return run(nn_pool.SEPARABLE[f"AdaptiveAvgPool{nd}DBackward0"], input, mats)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mirrors ``torch.nn.functional.adaptive_avg_pool1d``."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got "
                           f"{list(input.shape)}")
    size = output_size if isinstance(output_size, int) else tuple(output_size)[0]
    return _one_d(_adaptive_avg, input, 2, (1, size))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mirrors ``torch.nn.functional.adaptive_avg_pool2d``; None in ``output_size`` keeps
    that dim's size."""
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Mirrors ``torch.nn.functional.adaptive_avg_pool3d``."""
    return _adaptive_avg(3, input, output_size)


def _adaptive_max(nd: int, input: Tensor, output_size, return_indices: bool):
    fname = f"adaptive_max_pool{nd}d"
    _check_adaptive_input(input, nd, fname, ":")
    out = _output_size(output_size, input, nd, fname)
    _check_adaptive_sizes(input, 1, fname)
    if min(out) < 0:
        shape = list(input.shape[:-nd]) + list(out)
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{next(o for o in out if o < 0)}: {shape}")
    _check_pool_dtype(input, "adaptive_max_pool2d" if nd == 2 else "adaptive_max_pool3d_cpu")
    index = tuple(nn_pool.adaptive_index(input.shape[-nd + i], out[i]) for i in range(nd))
    values, indices = run(nn_pool.ADAPTIVE_MAX[nd], input, index)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool1d``."""
    size = output_size if isinstance(output_size, int) else tuple(output_size)[0]
    if input.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_max_pool1d(): Expected 2D or 3D tensor, but got: "
                           f"{list(input.shape)}")
    _check_adaptive_sizes(input, 1, "adaptive_max_pool1d")
    return _one_d(_adaptive_max, input, 2, (1, size), return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool2d``."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool3d``."""
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices=False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool1d_with_indices``."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices=False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool2d_with_indices``."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size, return_indices=False):
    """Mirrors ``torch.nn.functional.adaptive_max_pool3d_with_indices``."""
    return adaptive_max_pool3d(input, output_size, True)


def _unpool(nd: int, input: Tensor, indices: Tensor, kernel_size, stride, padding,
            output_size, check: bool = True) -> Tensor:
    kernel = _tuple(kernel_size, nd, f"max_unpool{nd}d", "kernel_size")
    stride = kernel if stride is None else _tuple(stride, nd, f"max_unpool{nd}d", "stride")
    padding = _tuple(padding, nd, f"max_unpool{nd}d", "padding")
    spatial = tuple(input.shape[-nd:])
    default = tuple((spatial[i] - 1) * stride[i] - 2 * padding[i] + kernel[i]
                    for i in range(nd))
    if output_size is None:
        out = default
    else:
        out = tuple(output_size)
        if len(out) == nd + 2:
            out = out[2:]
        elif len(out) == nd + 1:
            out = out[1:]
        if len(out) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(out)}'")
        for i in range(nd):
            lo = default[i] - stride[i]
            hi = default[i] + stride[i]
            if not lo < out[i] < hi:
                raise ValueError(f'invalid output_size "{list(out)}" (dim {i} must be between '
                                 f"{lo} and {hi})")
    if check:
        _check_unpool(nd, input, indices, stride)
    _check_pool_dtype(input, f"max_unpool{nd}d")
    size = 1
    for o in out:
        size *= o
    idx = indices._data
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx.max()) if idx.max() >= size else int(idx.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, out))})")
    return run(nn_pool.MAX_UNPOOL[nd], input, idx, out)


def _check_unpool(nd: int, input: Tensor, indices: Tensor, stride) -> None:
    """torch's max_unpooling shape checks (max_unpool1d's on its inputs with a trailing unit
    dim, as torch runs the 2-d kernel on them)."""
    name = f"max_unpooling{nd}d"
    if indices.dtype is not _dtype.int64:
        raise RuntimeError("elements in indices should be type int64" + (
            "" if nd == 3 else f" but got: {_dtype.scalar_type_name(indices.dtype)}"))
    shape = tuple(input.shape)
    if len(shape) not in (nd + 1, nd + 2):
        raise RuntimeError(f"Input to {name} should be a {nd + 1}d or {nd + 2}d Tensor, but "
                           f"got a tensor with {len(shape)} dimensions.")
    if tuple(indices.shape) != shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    for i in range(1, len(shape)):
        if not shape[i]:
            raise RuntimeError(f"{name}_forward_out_cpu(): Expected input to have non-zero "
                               f"size for non-batch dimensions, but got {list(shape)} with "
                               f"dimension {i} being empty.")
    if nd == 3 and any(s <= 0 for s in stride):
        raise RuntimeError(f"strides should be greater than zero, but got stride: "
                           f"{list(stride)}")


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Mirrors ``torch.nn.functional.max_unpool1d``: the inverse of ``max_pool1d``, zeros
    off the maxima."""
    size = None if output_size is None else tuple(output_size)[:-1] + (1,) + tuple(
        output_size)[-1:]
    _check_unpool(2, input.unsqueeze(-1), indices.unsqueeze(-1), None)
    return _unpool(2, input.unsqueeze(-2), indices.unsqueeze(-2), _widen(kernel_size, 1),
                   _widen(stride, 1), _widen(padding, 0), size, check=False).squeeze(-2)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Mirrors ``torch.nn.functional.max_unpool2d``."""
    return _unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Mirrors ``torch.nn.functional.max_unpool3d``."""
    return _unpool(3, input, indices, kernel_size, stride, padding, output_size)


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """Mirrors ``torch.nn.functional.fractional_max_pool2d``: max pooling over windows at
    pseudo-random positions (Graham, 2014). Without ``_random_samples`` (N, C, 2) they are
    drawn as torch draws them (``rand`` in the input's dtype), so a seed gives torch's
    windows."""
    from ember._ops.random import rand

    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool2d requires specifying either an output_size or "
                         "an output_ratio")
    kernel = _tuple(kernel_size, 2, "fractional_max_pool2d", "kernel_size")
    if output_size is None:
        if len(output_ratio) == 1:  # torch reads a sequence here (a float raises)
            output_ratio = tuple(output_ratio) * 2
        out = (int(input.shape[-2] * output_ratio[0]), int(input.shape[-1] * output_ratio[1]))
    else:
        out = _tuple(output_size, 2, "fractional_max_pool2d", "output_size")
    if input.dim() not in (3, 4):
        raise RuntimeError(f"fractional_max_pool2d(): Expected 3D or 4D tensor, but got: "
                           f"{list(input.shape)}")
    for name, o, k, size in (("height", out[0], kernel[0], input.shape[-2]),
                             ("width", out[1], kernel[1], input.shape[-1])):
        if o + k - 1 >= size:
            raise RuntimeError(f"fractional_max_pool2d(): pool {name} {k} too large relative "
                               f"to input {name} {size}")
    if _random_samples is None:
        batch = 1 if input.dim() == 3 else input.shape[0]
        _random_samples = rand(batch, input.shape[-3], 2, dtype=input.dtype)
    samples = _random_samples._data
    if input.dim() == 3:
        samples = samples[0]
    values, indices = run(nn_pool.FRACTIONAL_MAX_POOL[2], input, kernel, out, samples)
    return (values, indices) if return_indices else values


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples=None):
    """Mirrors ``torch.nn.functional.fractional_max_pool2d_with_indices``."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def _triple_arg(value, what: str) -> tuple:
    if isinstance(value, int):
        return (value,) * 3
    value = tuple(value)
    if len(value) != 3:
        raise RuntimeError(f"fractional_max_pool3d: {what} must either be a single Int or "
                           "tuple of three Ints")
    return tuple(int(v) for v in value)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """Mirrors ``torch.nn.functional.fractional_max_pool3d``: the 3-d form of
    ``fractional_max_pool2d`` on (N, C, T, H, W) or (C, T, H, W) input. Without
    ``_random_samples`` (N, C, 3) they are drawn as torch draws them (``rand`` in the input's
    dtype, one (time, height, width) triple per plane), so a seed gives torch's windows."""
    from ember._ops.random import rand

    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool3d requires specifying either an output_size or "
                         "an output_ratio")
    if output_size is None:
        if isinstance(output_ratio, (int, float)):
            output_ratio = (output_ratio,) * 3
        output_size = [int(input.size(-3) * output_ratio[0]),
                       int(input.size(-2) * output_ratio[1]),
                       int(input.size(-1) * output_ratio[2])]
    if _random_samples is None:
        batch = 1 if input.dim() == 4 else input.size(0)
        _random_samples = rand(batch, input.size(-4), 3, dtype=input.dtype)
    kernel = _triple_arg(kernel_size, "kernel_size")
    out = _triple_arg(output_size, "output_size")
    if input.dim() not in (4, 5):
        raise RuntimeError(f"fractional_max_pool3d_out(): Expected 4D or 5D tensor, but got: "
                           f"{list(input.shape)}")
    # torch checks the width before the height
    for d, name in ((0, "time"), (2, "width"), (1, "height")):
        o, k, size = out[d], kernel[d], input.shape[d - 3]
        if o + k - 1 >= size:
            raise RuntimeError(f"fractional_max_pool3d_out(): pool {name} {k} too large "
                               f"relative to input {name} {size}")
    if _random_samples.size(2) != 3:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to 3; got "
                           f"{_random_samples.size(2)}.")
    if _random_samples.size(1) != input.size(-4):
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if _random_samples.dtype is not input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    samples = _random_samples._data
    samples = samples[0] if input.dim() == 4 else samples[:input.size(0)]
    values, indices = run(nn_pool.FRACTIONAL_MAX_POOL[3], input, kernel, out, samples)
    return (values, indices) if return_indices else values


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples=None):
    """Mirrors ``torch.nn.functional.fractional_max_pool3d_with_indices``."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)
