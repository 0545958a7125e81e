"""Op records of pooling: max pooling (with indices), average pooling, adaptive average and
max pooling, max unpooling.

NOTE [Separable pooling]
Average pooling, adaptive average pooling and the linear interpolations are separable: the
result is the input multiplied, along each spatial dim, by a small matrix (``out x in``) whose
rows hold a window's weights. The forward applies those matrices with ``matmul`` (one BLAS
call per spatial dim) and the backward applies their transposes with ember's ``matmul``,
so second derivatives come for free. Max pooling (NOTE [Max pooling by offsets]) keeps a
running maximum over the kernel offsets; adaptive bins are read by an index gather and
reduced with ``argmax``. The gradient goes back to the winners through the backward's own
record (``np.add.at`` at the flat indices; its derivative is a gather), or through
``scatter_add`` when a vmap or forward-mode level is active.

NOTE [Max pooling by offsets]
For each kernel offset the input seen at that offset of every window is one strided view
(N, C, *out); the forward keeps a running maximum over these few views, and the offset that
last raised it (``v > best``: the first of equal maxima wins). torch's rule also lets every
NaN win (the last NaN of a window), and its index of a window with nothing above the padding
value (all of it the lowest value) is the first position inside the input: both are rare,
detected on the result, and then recomputed exactly. The indices are flat positions in the
input's spatial dims: a per-output base plus a per-offset step, looked up by offset.
"""
from __future__ import annotations

import functools
import itertools
import math

from ember import _blas
from ember._backend import np
from ember._ops import batching
from ember._ops.nn_conv import channels_last_format, format_of, in_format
from ember._ops.registry import KEEP, defop, first_order, reduced_float, run
from ember._tensor import Tensor, make
from ember.autograd import forward_ad

# ---- separable linear maps ------------------------------------------------------------------


def apply_mats_array(xp, x, mats: tuple):
    """``x`` (N, C, *spatial) multiplied along each trailing spatial dim by ``mats[i]``
    (out_i x in_i); None leaves a dim as it is. A float16/bfloat16 ``x`` is mapped in
    float32 and rounded once, as torch's kernels accumulate them in float."""
    dtype = x.dtype
    if reduced_float(dtype):
        return apply_mats_array(xp, x.astype(np.float32), mats).astype(dtype)
    lead = x.ndim - len(mats)
    for i, m in enumerate(mats):
        if m is None:
            continue
        d = lead + i
        shape = x.shape
        pre = math.prod(shape[:d])
        rest = math.prod(shape[d + 1:])
        x = xp.matmul(m.astype(x.dtype, copy=False), x.reshape(pre, shape[d], rest))
        x = x.reshape(shape[:d] + (m.shape[0],) + shape[d + 1:])
    return xp.ascontiguousarray(x)


def apply_mats(t: Tensor, mats: tuple, transpose: bool = False) -> Tensor:
    """``apply_mats_array`` in ember ops (differentiable again); ``transpose`` applies the
    matrices' transposes (the backward of the map). Half types as in ``apply_mats_array``."""
    if reduced_float(t._data.dtype):
        return apply_mats(t.float(), mats, transpose).to(t.dtype)
    lead = t.dim() - len(mats)
    for i, m in enumerate(mats):
        if m is None:
            continue
        d = lead + i
        shape = tuple(t.shape)
        pre = math.prod(shape[:d])
        rest = math.prod(shape[d + 1:])
        arr = m.T if transpose else m
        mt = make(np.ascontiguousarray(arr.astype(t._data.dtype)))
        t = mt.matmul(t.reshape(pre, shape[d], rest)).reshape(
            shape[:d] + (arr.shape[0],) + shape[d + 1:])
    return t


# The layouts torch gives these ops' results and input gradients for a channels-last input
# (NOTE [Channels-last outputs]): the 3-d average poolings are C-ordered both ways; the
# linear interpolations' gradients follow the incoming gradient's format and the cubic
# ones' are C-ordered; the rest follow the input's format.
_C_ORDERED = frozenset(("AvgPool3DBackward0", "AdaptiveAvgPool3DBackward0"))
_GRAD_LIKE_GRAD = frozenset((
    "UpsampleLinear1DBackward0", "UpsampleBilinear2DBackward0", "UpsampleTrilinear3DBackward0",
    "UpsampleBilinear2DAaBackward0"))
_GRAD_C_ORDERED = _C_ORDERED | frozenset((
    "UpsampleBicubic2DBackward0", "UpsampleBicubic2DAaBackward0",
    "UpsampleLanczos2DAaBackward0"))


# NOTE [Average pooling gradients of float16/bfloat16]
# torch's CPU forward of avg_pool2d/3d and adaptive_avg_pool2d/3d of a half type (channels
# first) sums each window in float32 and divides the sum by the window's size (the adaptive
# ones by each dim's bin length in turn) before rounding to the half type; ember sums in
# float64, exactly for the few half values of a window, so the float32 of that sum is
# torch's but where torch's own float32 running sum rounded. The backward works in the half
# type: each output's gradient is divided by its window's size and
# rounded (the adaptive ones divide by each dim's bin length in turn, rounding each time),
# then added into every input of its window, each sum rounded, the outputs taken in raster
# order. ember adds in that order too: for each input the outputs whose windows hold it,
# ascending along each dim, so the k-th of them along every dim is one vectorised step.
# Learnt by experiment against torch 2.13, bit for bit. A graph of the gradient
# (create_graph) maps in float32 as before.
_HALF_WINDOW_SUMS = {"AvgPool2DBackward0": False, "AvgPool3DBackward0": False,
                     "AdaptiveAvgPool2DBackward0": True, "AdaptiveAvgPool3DBackward0": True}
# the forwards learnt so (adaptive_avg_pool3d's rounds otherwise, not yet known)
_HALF_WINDOW_MEANS = {node: adaptive for node, adaptive in _HALF_WINDOW_SUMS.items()
                      if node != "AdaptiveAvgPool3DBackward0"}


def _window_holders(mat) -> np.ndarray:
    """(inputs x k) table of one dim's map (outputs x inputs): for each input the outputs
    whose window holds it, ascending, -1 past the last."""
    inside = mat != 0
    rank = np.cumsum(inside, 0) - 1
    table = np.full((mat.shape[1], max(int(inside.sum(0).max(initial=0)), 1)), -1)
    rows, cols = np.nonzero(inside)
    table[cols, rank[rows, cols]] = rows
    return table


def _half_avg_pool(x, mats: tuple, adaptive: bool):
    """An average pooling of a half type as torch's kernel computes it (NOTE [Average
    pooling gradients of float16/bfloat16])."""
    nd = len(mats)
    sums = apply_mats_array(np, x.astype(np.float64),
                            tuple((m != 0).astype(np.float64) for m in mats))
    out = sums.astype(np.float32)
    if adaptive:
        for d, m in enumerate(mats):
            length = (m != 0).sum(1).astype(np.float32)
            out = out / length.reshape((-1,) + (1,) * (nd - 1 - d))
    else:
        weight = functools.reduce(np.multiply.outer, [m.max(1) for m in mats])
        out = out / np.rint(1 / weight).astype(np.float32)
    return out.astype(x.dtype)


_UINT8_RESAMPLES = frozenset((
    "UpsampleBilinear2DBackward0", "UpsampleBicubic2DBackward0", "UpsampleBilinear2DAaBackward0",
    "UpsampleBicubic2DAaBackward0", "UpsampleLanczos2DAaBackward0"))


def _fixed_point(m):
    """NOTE [uint8 resampling]: torch's uint8 image kernels weigh in fixed point: the
    weights of a pass scaled by 2**p, p the largest (below 22) for which twice the largest
    weight still fits an int16, and rounded half away from zero."""
    largest = m.max()
    precision = 0
    while precision < 22 and int(0.5 + largest * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = m * (1 << precision)
    return np.trunc(scaled + np.where(scaled >= 0, 0.5, -0.5)).astype(np.int64), precision


def _uint8_resample(x, mats: tuple):
    """A uint8 image resampled as torch's uint8 kernels do (NOTE [uint8 resampling]): the
    width first, then the height, each pass in fixed point with its sum rounded and clamped
    to [0, 255]; a dim whose size does not change is left as it is."""
    lead = x.ndim - len(mats)
    out = x.astype(np.int64)
    for i in reversed(range(len(mats))):
        m = mats[i]
        if m is None or m.shape[0] == m.shape[1]:
            continue
        weights, precision = _fixed_point(m)
        moved = np.moveaxis(out, lead + i, -1)
        summed = moved @ weights.T + (1 << (precision - 1))
        out = np.moveaxis(np.clip(summed >> precision, 0, 255), -1, lead + i)
    return np.ascontiguousarray(out.astype(np.uint8))


def _map(node: str, xp, self, mats: tuple):
    """A separable map's forward: its matrices, or for a half type's average pooling
    torch's own rounding (channels first), or for a uint8 image torch's fixed point."""
    if self.dtype == np.uint8 and node in _UINT8_RESAMPLES:
        return _uint8_resample(self, mats)
    adaptive = _HALF_WINDOW_MEANS.get(node)
    if adaptive is not None and reduced_float(self.dtype) and not channels_last_format(self):
        return _half_avg_pool(self, mats, adaptive)
    return apply_mats_array(xp, self, mats)


def _half_avg_pool_grad(grad, mats: tuple, adaptive: bool):
    """The input gradient of an average pooling of a half type, rounded as torch's kernel
    rounds it (NOTE [Average pooling gradients of float16/bfloat16])."""
    dtype = grad.dtype
    nd = len(mats)
    g = grad.astype(np.float32)
    if adaptive:
        for d, m in enumerate(mats):
            length = (m != 0).sum(1).astype(np.float32)
            g = (g / length.reshape((-1,) + (1,) * (nd - 1 - d))).astype(dtype).astype(
                np.float32)
    else:
        weight = functools.reduce(np.multiply.outer, [m.max(1) for m in mats])
        g = (g / np.rint(1 / weight).astype(np.float32)).astype(dtype).astype(np.float32)
    holders = [_window_holders(m) for m in mats]
    total = np.zeros(grad.shape[:-nd] + tuple(m.shape[1] for m in mats), np.float32)
    for ranks in itertools.product(*(range(h.shape[1]) for h in holders)):
        rows = [h[:, k] for h, k in zip(holders, ranks)]
        held = functools.reduce(np.logical_and.outer, [r >= 0 for r in rows])
        part = g[(Ellipsis,) + np.ix_(*[np.maximum(r, 0) for r in rows])]
        total = (total + np.where(held, part, 0)).astype(dtype).astype(np.float32)
    return total.astype(dtype)


def _map_back(node: str, grad: Tensor, self_data, mats: tuple) -> Tensor:
    """The backward of a separable map: its transposed matrices, or for a half type's
    average pooling torch's own rounding (channels first, first order only)."""
    adaptive = _HALF_WINDOW_SUMS.get(node)
    if adaptive is not None and reduced_float(grad._data.dtype) and first_order() and (
            self_data is None or not channels_last_format(self_data)):
        return make(_half_avg_pool_grad(grad._data, mats, adaptive))
    return apply_mats(grad, mats, True)


def _separable_op(node: str):
    if node in _C_ORDERED:
        return defop(node, node=node, kind=KEEP,
                     forward=lambda xp, self, mats: _map(node, xp, self, mats),
                     backward=lambda grad, self, mats: _map_back(node, grad, None, mats))
    save = ()
    if node in _GRAD_C_ORDERED:
        def backward(grad, self, mats):
            return apply_mats(grad, mats, True)
    elif node in _GRAD_LIKE_GRAD:
        def backward(grad, self, mats):
            return format_of(apply_mats(grad, mats, True), channels_last_format(grad._data))
    else:
        # the input is saved, as torch saves it for these (its layout decides the gradient's)
        save = (0,)

        def backward(grad, self, mats):
            return format_of(_map_back(node, grad, self._data, mats),
                             channels_last_format(self._data))
    return defop(node, node=node, kind=KEEP, save=save,
                 forward=lambda xp, self, mats: in_format(_map(node, xp, self, mats),
                                                          channels_last_format(self)),
                 backward=backward)


SEPARABLE = {node: _separable_op(node) for node in (
    "AvgPool2DBackward0", "AvgPool3DBackward0", "AdaptiveAvgPool2DBackward0",
    "AdaptiveAvgPool3DBackward0", "UpsampleLinear1DBackward0", "UpsampleBilinear2DBackward0",
    "UpsampleTrilinear3DBackward0", "UpsampleBicubic2DBackward0", "UpsampleNearest1DBackward0",
    "UpsampleNearest2DBackward0", "UpsampleNearest3DBackward0",
    "UpsampleNearestExact1DBackward0", "UpsampleNearestExact2DBackward0",
    "UpsampleNearestExact3DBackward0", "UpsampleBilinear2DAaBackward0",
    "UpsampleBicubic2DAaBackward0", "UpsampleLanczos2DAaBackward0")}


def pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                  ceil_mode: bool) -> int:
    """torch's pooling output size (``pooling_output_shape``)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def avg_pool_matrix(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool,
                    count_include_pad: bool, divide: bool) -> np.ndarray:
    """The (out x size) matrix of one dim's average pooling: row i holds 1 / count over the
    window (1 when ``divide`` is False: a divisor_override divides afterwards)."""
    out = pool_out_size(size, kernel, stride, pad, 1, ceil_mode)
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    count = end - start
    lo = np.maximum(start, 0)
    hi = np.minimum(end, size)
    if not count_include_pad:
        count = hi - lo
    cols = np.arange(size)
    inside = (cols >= lo[:, None]) & (cols < hi[:, None])
    weight = 1.0 / np.maximum(count, 1) if divide else np.ones(out)
    return np.where(inside, weight[:, None], 0.0)


def adaptive_bins(size: int, out: int) -> tuple:
    """torch's adaptive bins along one dim: start = floor(i * size / out), end =
    ceil((i + 1) * size / out)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_matrix(size: int, out: int) -> np.ndarray:
    start, end = adaptive_bins(size, out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return np.where(inside, 1.0 / np.maximum(end - start, 1)[:, None], 0.0)


# ---- max pooling ------------------------------------------------------------------------------


def _lowest(dtype):
    return -np.inf if dtype.kind in "fV" else np.iinfo(dtype).min  # bfloat16's kind is V


def _winners(xp, win, nd: int):
    """Values and kernel offsets (one array per dim) of the max of each window of ``win``
    (..., *out, *kernel); NaN wins, as in torch, and the first of equal maxima."""
    kernel = win.shape[-nd:]
    lead = win.shape[:-nd]
    # kernel positions first: argmax and max then run along contiguous rows (SIMD)
    perm = tuple(range(win.ndim - nd, win.ndim)) + tuple(range(win.ndim - nd))
    flat = xp.ascontiguousarray(win.transpose(perm)).reshape(math.prod(kernel), math.prod(lead))
    arg = flat.argmax(0)
    values = flat.max(0).reshape(lead)
    return values, xp.unravel_index(arg.reshape(lead), kernel)


def _ravel(xp, coords: list, spatial: tuple):
    flat = coords[0]
    for c, size in zip(coords[1:], spatial[1:]):
        flat = flat * size + c
    return flat.astype(xp.int64)


def _offset_views(x, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> list:
    """One strided view (N, C, *out) of ``x`` per kernel offset, in row-major offset order."""
    views = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        key = (slice(None), slice(None)) + tuple(
            slice(offset[i] * dilation[i], offset[i] * dilation[i] + (out[i] - 1) * stride[i] + 1,
                  stride[i]) for i in range(len(kernel)))
        views.append(x[key])
    return views


def _running_max(xp, views: list, nan_rule: bool):
    """(max, offset number of the winner) over ``views``: the first of equal maxima wins,
    and with ``nan_rule`` every NaN wins (torch's ``val > max || isnan(val)``)."""
    best = views[0].copy()
    small = len(views) < 128
    arg = xp.zeros(best.shape, xp.int8 if small else xp.int64)
    for k, view in enumerate(views[1:], 1):
        if nan_rule:
            raise_ = (view > best) | (view != view)
            xp.copyto(best, view, where=raise_)
        else:
            raise_ = view > best
            # the view first: on equal values maximum gives its second operand, so the
            # earlier winner's own value stays (torch's 0.0 before -0.0 gives 0.0)
            xp.maximum(view, best, out=best)
        # offsets come in increasing order, so the winner so far is the largest offset that
        # raised the maximum: a running maximum of k * raised (much cheaper than a masked
        # write)
        step = raise_.view(xp.int8) if small else raise_.astype(xp.int64)
        step *= k
        xp.maximum(arg, step, out=arg)
    return best, arg


def _contiguous_rows(xp, v):
    """The 2-D view ``v`` (rows of contiguous elements) copied into a C-contiguous array,
    each row moved as one item: NumPy copies a strided 2-D view one row per inner loop, which
    costs a loop call per row when rows are a few elements long."""
    rows, width = v.shape
    if width == 1:
        return xp.ascontiguousarray(v[:, 0])
    wide = v.view(xp.dtype((xp.void, width * v.itemsize)))[:, 0]
    return xp.ascontiguousarray(wide).view(v.dtype)


def _tiled_views(xp, x, kernel: tuple, out: tuple) -> list:
    """The views of ``_offset_views`` as C-contiguous arrays, for windows that tile the input
    (stride = kernel, no padding or dilation): the last spatial dim's offsets are split by
    one transposing copy ((rest, k) to (k, rest)), each earlier dim's by copying its rows as
    whole items (``_contiguous_rows``). NumPy's copy of a strided offset view is a loop call
    per output row, a few elements long on small images."""
    n, c = x.shape[:2]
    crop = tuple(o * k for o, k in zip(out, kernel))
    if x.shape[2:] != crop:
        x = x[(Ellipsis,) + tuple(slice(0, s) for s in crop)]
    flat = xp.ascontiguousarray(x).reshape(-1, kernel[-1])
    split = _blas.transposed_copy(flat.T) if xp is np else None
    if split is None:
        split = xp.ascontiguousarray(flat.T)
    parts = [((j,), split[j]) for j in range(kernel[-1])]
    for d in reversed(range(len(kernel) - 1)):
        before = n * c * math.prod(crop[:d]) * out[d]
        after = math.prod(out[d + 1:])
        parts = [((i,) + offset, _contiguous_rows(xp, part.reshape(before, kernel[d], after)
                                                   [:, i, :]))
                 for offset, part in parts for i in range(kernel[d])]
    parts.sort(key=lambda item: item[0])  # row-major offset order, as _offset_views
    return [part.reshape((n, c) + tuple(out)) for _, part in parts]


def _max_pool_forward(xp, x, kernel, stride, padding, dilation, ceil_mode):
    fmt = channels_last_format(x)
    values, indices = _max_pool_values(xp, x, kernel, stride, padding, dilation, ceil_mode)
    return in_format(values, fmt), in_format(indices, fmt)


# A base of fewer windows than this is tiled over the (N, C) planes, so adding it is one
# contiguous pass: broadcast over them, NumPy's inner loop covers one plane's few windows
# (4 on a 4x4 map pooled by 2: the addition took 8x as long). Tiled only up to _TILED_MAX
# elements (1 MB of int64), since it is kept per geometry: the two caches below hold at
# most 64 geometries each.
_TILED_WINDOWS = 64
_TILED_MAX = 1 << 17


def _tiled(planes: int, windows: int) -> bool:
    """Whether ``planes`` planes of ``windows`` windows each take a kept tiled array."""
    return 0 < planes and 0 < windows < _TILED_WINDOWS and planes * windows <= _TILED_MAX


@functools.lru_cache(maxsize=64)
def _index_parts(xp, spatial: tuple, kernel: tuple, stride: tuple, padding: tuple,
                 dilation: tuple, out: tuple, planes: int) -> tuple:
    """(step per kernel offset, base per window) of the flat indices: index = base (the
    window's start) + step (the offset), per dim, in the unpadded input's spatial strides
    (NOTE [Max pooling by offsets]); read-only, kept per geometry (a training loop pools the
    same shapes every step). With ``planes`` (the N * C of the input, 0 for none) the base
    is repeated for each plane, shaped (planes, *out)."""
    nd = len(kernel)
    sizes = [math.prod(spatial[i + 1:]) for i in range(nd)]
    steps = xp.array([sum(o[i] * dilation[i] * sizes[i] for i in range(nd))
                      for o in itertools.product(*(range(k) for k in kernel))], xp.int64)
    base = xp.zeros(out, xp.int64)
    for i in range(nd):
        shape = [1] * nd
        shape[i] = out[i]
        base = base + ((xp.arange(out[i]) * stride[i] - padding[i]) * sizes[i]).reshape(shape)
    if planes:
        base = xp.tile(base.reshape(-1), planes).reshape((planes,) + out)
    steps.flags.writeable = base.flags.writeable = False
    return steps, base


def _max_pool_values(xp, x, kernel, stride, padding, dilation, ceil_mode):
    nd = len(kernel)
    spatial = x.shape[2:]
    out = tuple(pool_out_size(spatial[i], kernel[i], stride[i], padding[i], dilation[i],
                              ceil_mode) for i in range(nd))
    right = tuple(max((out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
                      - spatial[i] - padding[i], 0) for i in range(nd))
    padded = any(padding) or any(right)
    lowest = _lowest(x.dtype)
    if padded:
        x = xp.pad(x, ((0, 0), (0, 0)) + tuple(zip(padding, right)), constant_values=lowest)
    if not padded and stride == kernel and all(d == 1 for d in dilation) and len(kernel) > 0:
        views = _tiled_views(xp, x, kernel, out)
    else:
        views = _offset_views(x, kernel, stride, dilation, out)
        if stride[-1] > 1 and len(views) > 1:
            # strided views make every pass of the running maximum a strided loop; one copy
            # puts each view's elements side by side (the same values, in the same order)
            views = list(xp.stack(views))
    values, arg = _running_max(xp, views, False)
    floating = x.dtype.kind in "fc"
    if floating and xp.isnan(values).any():
        values, arg = _running_max(xp, views, True)
    planes = math.prod(x.shape[:2])
    windows = math.prod(out)
    tiled = xp is np and _tiled(planes, windows)
    steps, base = _index_parts(xp, tuple(spatial), tuple(kernel), tuple(stride),
                               tuple(padding), tuple(dilation), out, planes if tiled else 0)
    indices = xp.take(steps, arg)
    indices += base.reshape(indices.shape) if tiled else base
    if padded:
        stuck = values == lowest
        if stuck.any():  # windows with nothing above the padding: the first inside position
            sizes = [math.prod(spatial[i + 1:]) for i in range(nd)]
            first = xp.zeros(out, xp.int64)
            for i in range(nd):
                start = xp.arange(out[i]) * stride[i] - padding[i]
                inside = start + (-(start // dilation[i])).clip(0) * dilation[i]
                shape = [1] * nd
                shape[i] = out[i]
                first = first + (inside.clip(0, spatial[i] - 1) * sizes[i]).reshape(shape)
            indices = xp.where(stuck, first, indices)
    return values, indices


@functools.lru_cache(maxsize=64)
def _plane_starts(planes: int, size: int, windows: int):
    """The flat position of each plane's first element, once per window of the plane (a
    plane of ``size`` elements pooled to ``windows``), read-only, kept per geometry as
    ``_index_parts``'s tiled bases are."""
    starts = np.repeat(np.arange(planes, dtype=np.int64) * size, windows)
    starts.flags.writeable = False
    return starts


def _max_pool_backward(xp, grad, self, indices, self_shape, nd, disjoint):
    lead = math.prod(self_shape[:-nd])
    size = math.prod(self_shape[-nd:])
    width = indices.size // lead if lead else 0
    if xp is np and _tiled(lead, width):
        flat = indices.reshape(-1) + _plane_starts(lead, size, width)
    else:
        flat = indices.reshape(lead, width) + (xp.arange(lead, dtype=xp.int64) * size)[:, None]
    out = xp.zeros(lead * size, grad.dtype)
    if disjoint:
        # windows that do not overlap pick distinct positions: each receives one gradient,
        # stored as torch's 0 + g (a -0.0 becomes 0.0) at a tenth of ``add.at``'s cost
        out[flat.reshape(-1)] = grad.reshape(-1) + 0
    else:
        xp.add.at(out, flat.reshape(-1), grad.reshape(-1))
    return out.reshape(self_shape)


def _max_pool_backward_in_format(xp, grad, self, indices, self_shape, nd, disjoint):
    """``_max_pool_backward`` laid out in the input's format (NOTE [Channels-last
    outputs])."""
    return in_format(_max_pool_backward(xp, grad, self, indices, self_shape, nd, disjoint),
                     channels_last_format(self))


def _max_pool_double_backward(grad, grad_output, self, indices, self_shape, nd, disjoint):
    """The derivative of the scatter by ``grad_output``: ``grad`` read at the indices."""
    lead = math.prod(self_shape[:-nd])
    size = math.prod(self_shape[-nd:])
    width = indices.size // lead if lead else 0
    picked = grad.reshape(lead, size).gather(1, make(indices.reshape(lead, width)))
    return picked.reshape(indices.shape)  # grad_output is not saved: it has their shape


def _max_pool_self_grad(grad, grad_output, self, indices, self_shape, nd, disjoint):
    """The scatter does not depend on the input's values: torch's zero gradient."""
    from ember._ops.creation import zeros

    return zeros(self_shape, dtype=grad.dtype)


_BACKWARDS: dict = {}
# max poolings whose result and input gradient torch lays out in C order whatever the input's
# format (NOTE [Channels-last outputs])
_C_ORDERED_MAX = frozenset(("AdaptiveMaxPool3DBackward0", "FractionalMaxPool2DBackward0",
                            "FractionalMaxPool3DBackward0"))


def scatter_back(grad: Tensor, indices: Tensor, self_shape: tuple, nd: int,
                 node: str = "", self: Tensor | None = None, disjoint: bool = False
                 ) -> Tensor:
    """``grad`` summed into a zero tensor of ``self_shape`` at the flat indices over its
    last ``nd`` dims (the backward of every max pooling; differentiable: a gather). ``node``,
    the pooling's node name, names the record (torch's ``...BackwardBackward0``, whose
    inputs are ``grad`` and the pooling's input ``self``). ``disjoint``: the indices are
    distinct (windows that do not overlap), so each position is stored, not summed."""
    if self is not None and not batching.levels and not forward_ad.levels:
        op = _BACKWARDS.get(node)
        if op is None:
            op = _BACKWARDS[node] = defop(
                node.replace("Backward0", "_backward"),
                node=node.replace("Backward0", "BackwardBackward0"), nin=2, kind=KEEP,
                forward=(_max_pool_backward if node in _C_ORDERED_MAX
                         else _max_pool_backward_in_format),
                backward=(_max_pool_double_backward, _max_pool_self_grad))
        return run(op, grad, self, indices._data, self_shape, nd, disjoint)
    from ember._ops.creation import zeros

    lead = math.prod(self_shape[:-nd])
    flat = zeros((lead, math.prod(self_shape[-nd:])), dtype=grad.dtype)
    width = math.prod(tuple(grad.shape)[-nd:])
    return flat.scatter_add(1, indices.reshape(lead, width), grad.reshape(lead, width)).reshape(
        self_shape)


def _gather_max(xp, x, index_arrays: tuple):
    """Max over bins given per dim as (out_i, k_i) index arrays (adaptive pooling)."""
    nd = len(index_arrays)
    key = [slice(None), slice(None)]
    for i, idx in enumerate(index_arrays):
        shape = [1] * (2 * nd)
        shape[2 * i], shape[2 * i + 1] = idx.shape
        key.append(idx.reshape(shape))
    g = x[tuple(key)]  # (N, C, o0, k0, o1, k1, ...)
    perm = (0, 1) + tuple(2 + 2 * i for i in range(nd)) + tuple(3 + 2 * i for i in range(nd))
    win = g.transpose(perm)
    values, offsets = _winners(xp, win, nd)
    coords = []
    for i, idx in enumerate(index_arrays):
        o = idx.shape[0]
        shape = [1] * nd
        shape[i] = o
        rows = xp.arange(o).reshape(shape)
        coords.append(idx[rows, offsets[i]])
    return xp.ascontiguousarray(values), _ravel(xp, coords, x.shape[2:])


def adaptive_index(size: int, out: int) -> np.ndarray:
    """(out, widest bin) indices of each adaptive bin, the last repeated to fill a row."""
    start, end = adaptive_bins(size, out)
    width = int((end - start).max()) if out else 1
    return np.minimum(start[:, None] + np.arange(width), end[:, None] - 1)


def _indexed_op(node: str, forward, disjoint=None):
    """A max pooling record: ``forward(xp, self, *params)`` gives (values, indices); the
    formula scatters ``grad`` back by the indices (the op's second output).
    ``disjoint(*params)`` tells whether the windows cannot overlap (default: they can)."""
    def backward(grads, self, *params_and_result):
        nd = len(params_and_result[0])
        apart = disjoint is not None and disjoint(*params_and_result[:-1])
        return scatter_back(grads[0], params_and_result[-1][1], tuple(self.shape), nd, node,
                            self, apart)

    def batched_forward(xp, self, *params):
        nd = len(params[0])
        if self.ndim == nd + 1:  # unbatched (C, *spatial)
            values, indices = forward(xp, self[None], *params)
            return values[0], indices[0]
        return forward(xp, self, *params)
    return defop(node, node=node, kind=KEEP, multi=1, save=(0, "result"),
                 forward=batched_forward, backward=backward)


def _windows_apart(kernel, stride, padding, dilation, ceil_mode) -> bool:
    """Whether max pooling windows cannot overlap: each starts past the previous one's end
    (the index of a window of padding alone is inside that window too)."""
    return all(s > d * (k - 1) for k, s, d in zip(kernel, stride, dilation))


MAX_POOL = {nd: _indexed_op(f"MaxPool{nd}DWithIndicesBackward0", _max_pool_forward,
                            _windows_apart)
            for nd in (2, 3)}
def _adaptive_max_in_format(xp, x, index_arrays: tuple):
    fmt = channels_last_format(x)
    values, indices = _gather_max(xp, x, index_arrays)
    return in_format(values, fmt), in_format(indices, fmt)


ADAPTIVE_MAX = {2: _indexed_op("AdaptiveMaxPool2DBackward0", _adaptive_max_in_format),
                3: _indexed_op("AdaptiveMaxPool3DBackward0",
                               lambda xp, self, index_arrays: _gather_max(xp, self,
                                                                          index_arrays))}


# ---- max unpooling ----------------------------------------------------------------------------


def _unpool_forward(xp, self, indices, out_spatial):
    # (N, C, *in) or unbatched (C, *in): each plane's values put at their flat indices
    lead = self.shape[:self.ndim - len(out_spatial)]
    planes, size = math.prod(lead), math.prod(out_spatial)
    out = xp.zeros((planes, size), self.dtype)
    xp.put_along_axis(out, indices.reshape(planes, -1 if planes else 0),
                      self.reshape(planes, -1 if planes else 0), 1)
    return out.reshape(lead + tuple(out_spatial))


def _unpool_backward(grad, self, indices, out_spatial):
    lead = tuple(self.shape[:self.dim() - len(out_spatial)])
    planes = math.prod(lead)
    idx = make(indices.reshape(planes, -1 if planes else 0))
    return grad.reshape(planes, math.prod(out_spatial)).gather(1, idx).reshape(
        tuple(self.shape))


MAX_UNPOOL = {nd: defop(f"max_unpool{nd}d", node=f"MaxUnpool{nd}DBackward0", kind=KEEP,
                        save=(0,), forward=_unpool_forward, backward=_unpool_backward)
              for nd in (2, 3)}


# ---- fractional max pooling -----------------------------------------------------------------


def fractional_starts(samples, size: int, out: int, pool: int):
    """The window starts along one dim for each of ``samples`` (any shape): torch's
    pseudo-random sequence, ``int((i + u) * alpha) - int(u * alpha)`` with
    ``alpha = (size - pool) / (out - 1)``, the last window ending at the edge."""
    u = samples.astype(np.float64)[..., None]
    if out > 1:
        alpha = (size - pool) / (out - 1)
        i = np.arange(out - 1)
        starts = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    else:
        starts = np.zeros(u.shape[:-1] + (0,), np.int64)
    last = np.full(u.shape[:-1] + (1,), size - pool, np.int64)
    return np.concatenate([starts, last], -1)


def _fractional_forward(xp, x, kernel, out, samples):
    nd = len(kernel)
    if x.ndim == nd + 1:  # unbatched (C, *spatial), samples (C, nd)
        values, indices = _fractional_forward(xp, x[None], kernel, out, samples[None])
        return values[0], indices[0]
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    # torch's sample order: (width, height) in 2-d, (time, height, width) in 3-d
    order = (1, 0) if nd == 2 else tuple(range(nd))
    # flat input position of each (window, offset) pair: dims interleaved as
    # (out_0, ..., out_{nd-1}, k_0, ..., k_{nd-1}) after (N, C)
    flat = np.zeros((n, c) + (1,) * (2 * nd), np.int64)
    for d in range(nd):
        starts = fractional_starts(samples[..., order[d]], spatial[d], out[d], kernel[d])
        pos = starts.reshape((n, c) + (1,) * d + (out[d],) + (1,) * (2 * nd - d - 1))
        pos = pos + np.arange(kernel[d]).reshape((1,) * (nd + d + 2) + (kernel[d],)
                                                  + (1,) * (nd - d - 1))
        flat = flat * spatial[d] + pos
    flat = flat.reshape(n, c, -1)
    win = xp.take_along_axis(x.reshape(n, c, -1), flat, 2).reshape(
        n, c, math.prod(out), math.prod(kernel))
    arg = win.argmax(-1)[..., None]
    values = xp.take_along_axis(win, arg, -1).reshape(n, c, *out)
    indices = xp.take_along_axis(flat.reshape(win.shape), arg, -1).reshape(n, c, *out)
    return xp.ascontiguousarray(values), indices.astype(xp.int64)


def _fractional_op(nd: int):
    node = f"FractionalMaxPool{nd}DBackward0"
    return defop(
        f"fractional_max_pool{nd}d", node=node, kind=KEEP, multi=1, save=(0, "result"),
        forward=_fractional_forward,
        backward=lambda grads, self, kernel, out, samples, result: scatter_back(
            grads[0], result[1], tuple(self.shape), nd, node, self))


FRACTIONAL_MAX_POOL = {nd: _fractional_op(nd) for nd in (2, 3)}
