"""Op records of the vision ops: index gathers along spatial dims (nearest interpolation,
reflection and replication padding), im2col / col2im (``unfold`` / ``fold``), pixel
shuffles and channel shuffle.
"""
from __future__ import annotations

import functools
import itertools
import math

from ember._backend import np
from ember._ops.nn_conv import channels_last_format, convolution, in_format, pad_array, windows
from ember._ops.registry import KEEP, defop, not_implemented, run
from ember._tensor import Tensor, make

# ---- gathers along the trailing dims ---------------------------------------------------------

# NOTE [Gathers by runs]
# Reflect and replicate padding and nearest interpolation read, along each trailing dim, the
# input at an index array ``idx`` (output position j reads input position idx[j]). Such an
# array splits into a few runs of one step each: +1 copies, -1 mirrors, 0 repeats (a reflect
# pad is a mirrored run, the interior and a mirrored run). The forward copies the interior
# runs of all dims at once and then fills each dim's border runs from values already
# written: one pass over the output. The adjoint copies the gradient of the interior run
# and adds each border run back as one slice (a sum for a repeat): no scattered adds, no
# one-hot products. Nearest interpolation's indices repeat positions and make many runs:
# its forward is a take and its adjoint sums each stretch of repeats (for an integer scale
# a reshape and one sum; else the first reads of every stretch, plus the second, ...).
# Half-precision gradients are summed as torch sums them: a nearest adjoint in float32,
# rounded once; a padding's by adding the blocks of all dims' runs one at a time in the
# padded tensor's order, rounding each sum, as torch adds position by position.
# The gather and its adjoint are two records, each the other's backward, so every order of
# derivative is one of them (torch's ...Backward0 and ...BackwardBackward0 nodes).

# Above this many runs along a dim the forward takes and the adjoint sums stretches.
_MAX_RUNS = 8


def _greedy_runs(idx, steps, lo: int, hi: int):
    """idx[lo:hi] split greedily into runs ``(j0, j1, s0, step)`` (``steps`` is
    ``diff(idx)``), or None past ``2 * _MAX_RUNS`` of them; one iteration per run."""
    runs = []
    i = lo
    while i < hi:
        step = int(steps[i]) if i + 1 < hi else 1
        j = i + 1
        if step in (-1, 0, 1):
            ends = np.flatnonzero(steps[i:hi - 1] != step)
            j = i + 1 + (int(ends[0]) if ends.size else hi - 1 - i)
        else:
            step = 1
        runs.append((i, j, int(idx[i]), step))
        if len(runs) > 2 * _MAX_RUNS:
            return None
        i = j
    return runs


@functools.lru_cache(maxsize=256)
def _runs_of(key: bytes) -> tuple:
    idx = np.frombuffer(key, np.int64)
    m = len(idx)
    steps = np.diff(idx)
    # the interior: the longest stretch of step +1 (a single position when there is none)
    ones = np.flatnonzero(np.diff(np.concatenate(([0], steps == 1, [0])).astype(np.int8)))
    if ones.size:
        lengths = ones[1::2] - ones[::2]
        k = int(np.argmax(lengths))
        first, last = int(ones[2 * k]), int(ones[2 * k + 1]) + 1
    else:
        first, last = 0, min(m, 1)
    interior = (first, last, int(idx[first]) if m else 0)
    before = _greedy_runs(idx, steps, 0, first)
    after = _greedy_runs(idx, steps, last, m)
    return interior, None if before is None or after is None else tuple(before + after)


def index_runs(idx: np.ndarray) -> tuple:
    """``((j0, j1, s0), runs)`` for a gather index array (NOTE [Gathers by runs]): the
    interior run (output positions j0..j1 read s0, s0 + 1, ...) and the other runs as
    ``(j0, j1, s0, step)``, or None for more than ``2 * _MAX_RUNS`` of them; cached per index
    array."""
    return _runs_of(np.ascontiguousarray(idx, np.int64).tobytes())


def _fills_from_interior(idx) -> bool:
    (j0, j1, s0), runs = index_runs(idx)
    if runs is None or len(runs) > _MAX_RUNS or j1 == j0:
        return False
    for start, end, s, step in runs:
        last = s + step * (end - 1 - start)
        if min(s, last) < s0 or max(s, last) >= s0 + j1 - j0:
            return False  # a border reads a position the crop left out
    return True


def _gather_forward(xp, x, indices: tuple, self_shape: tuple):
    lead = x.ndim - len(indices)
    if not all(idx is None or _fills_from_interior(idx) for idx in indices):
        for i, idx in enumerate(indices):
            if idx is not None:
                x = xp.take(x, idx, axis=lead + i)
        return xp.ascontiguousarray(x)
    plans = [None if idx is None else index_runs(idx) for idx in indices]
    shape = x.shape[:lead] + tuple(x.shape[lead + i] if idx is None else len(idx)
                                   for i, idx in enumerate(indices))
    out = xp.empty(shape, x.dtype)
    inner = [slice(None) if p is None else slice(p[0][0], p[0][1]) for p in plans]
    src = [slice(None) if p is None else slice(p[0][2], p[0][2] + p[0][1] - p[0][0])
           for p in plans]
    full = (slice(None),) * lead
    out[full + tuple(inner)] = x[full + tuple(src)]
    for d, plan in enumerate(plans):
        if plan is None:
            continue
        (j0, _, s0), runs = plan
        before = full + (slice(None),) * d
        after = tuple(inner[d + 1:])
        for start, end, s, step in runs:
            at = j0 + s - s0  # where input position s sits in the output
            if step == 1:
                read = slice(at, at + end - start)
            elif step == -1:
                stop = at - (end - start)
                read = slice(at, stop if stop >= 0 else None, -1)
            else:
                read = slice(at, at + 1)
            out[before + (slice(start, end),) + after] = out[before + (read,) + after]
    return out


@functools.lru_cache(maxsize=256)
def _stretches_of(key: bytes) -> tuple:
    idx = np.frombuffer(key, np.int64)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(idx)) + 1))
    counts = np.diff(np.append(starts, len(idx)))
    return starts, counts, idx[starts]


def _repeats_back(xp, grad, axis: int, idx, size: int):
    """The adjoint of a gather whose ``idx`` never decreases (nearest interpolation): each
    stretch of one repeated position summed, as the sum of its first, second, ... reads."""
    before = (slice(None),) * axis
    starts, counts, sources = _stretches_of(np.ascontiguousarray(idx, np.int64).tobytes())
    repeat = int(counts[0])
    if len(sources) == size and (counts == repeat).all():
        # an integer scale: the r-th reads are every repeat-th position from r (a sum over
        # a short inner axis would be far slower)
        sums = grad[before + (slice(0, None, repeat),)].copy()
        for r in range(1, repeat):
            sums += grad[before + (slice(r, None, repeat),)]
        return sums
    sums = xp.take(grad, starts, axis=axis)
    for r in range(1, int(counts.max())):
        more = np.flatnonzero(counts > r)
        sums[before + (more,)] += xp.take(grad, starts[more] + r, axis=axis)
    if len(sources) == size:
        return sums
    out = xp.zeros(grad.shape[:axis] + (size,) + grad.shape[axis + 1:], grad.dtype)
    out[before + (sources,)] = sums
    return out


def _gather_back_dim(xp, grad, axis: int, idx, size: int):
    """``grad`` summed back along ``axis`` through the gather ``idx`` of a dim of ``size``
    (NOTE [Gathers by runs])."""
    shape = grad.shape[:axis] + (size,) + grad.shape[axis + 1:]
    before = (slice(None),) * axis
    (j0, j1, s0), runs = index_runs(idx)
    if runs is None or len(runs) > _MAX_RUNS:
        if not (idx[1:] >= idx[:-1]).all():
            # an order that sorts the reads makes the index non-decreasing
            order = np.argsort(idx, kind="stable")
            grad, idx = xp.take(grad, order, axis=axis), idx[order]
        return _repeats_back(xp, grad, axis, idx, size)
    out = xp.empty(shape, grad.dtype)
    s1 = s0 + j1 - j0
    out[before + (slice(s0, s1),)] = grad[before + (slice(j0, j1),)]
    out[before + (slice(0, s0),)] = 0
    out[before + (slice(s1, None),)] = 0
    for start, end, s, step in runs:
        part = grad[before + (slice(start, end),)]
        if step == 1:
            out[before + (slice(s, s + end - start),)] += part
        elif step == -1:
            out[before + (slice(s - (end - start) + 1, s + 1),)] += part[
                before + (slice(None, None, -1),)]
        else:
            out[before + (slice(s, s + 1),)] += part.sum(axis, keepdims=True)
    return out


def _half(dtype) -> bool:
    return dtype.name in ("float16", "bfloat16")


def _gather_back_forward(xp, grad, indices: tuple, self_shape: tuple):
    lead = grad.ndim - len(indices)
    sizes = self_shape[len(self_shape) - len(indices):]
    dtype = grad.dtype
    if _half(dtype):  # torch sums a half-precision gradient in float32, rounded once
        grad = grad.astype(xp.float32)
    for i, idx in enumerate(indices):
        if idx is not None:
            grad = _gather_back_dim(xp, grad, lead + i, idx, sizes[i])
    return grad.astype(dtype, copy=False)


def _sorted_runs(idx) -> list:
    """All runs of a gather index array (the interior too) in output order, the repeats
    split into single positions."""
    (j0, j1, s0), runs = index_runs(idx)
    out = [(j0, j1, s0, 1)] if j1 > j0 else []
    for start, end, s, step in runs:
        out.extend([(j, j + 1, s, 0) for j in range(start, end)] if step == 0 else
                   [(start, end, s, step)])
    return sorted(out)


def _pad_back_forward(xp, grad, indices: tuple, self_shape: tuple):
    """A padding's adjoint (NOTE [Gathers by runs]). In half precision torch adds the
    gradient of each padded position into the input's in turn, in the padded tensor's
    order, rounding every sum: the runs of all dims are added one block at a time in that
    order, which rounds alike (within a block no two positions meet)."""
    if not _half(grad.dtype) or any(index_runs(idx)[1] is None for idx in indices):
        return _gather_back_forward(xp, grad, indices, self_shape)
    lead = grad.ndim - len(indices)
    full = (slice(None),) * lead
    out = xp.zeros(grad.shape[:lead] + tuple(self_shape[len(self_shape) - len(indices):]),
                   grad.dtype)
    for blocks in itertools.product(*(_sorted_runs(idx) for idx in indices)):
        dst, src = [], []
        for start, end, s, step in blocks:
            if step == -1:
                dst.append(slice(s - (end - start) + 1, s + 1))
                src.append(slice(end - 1, start - 1 if start else None, -1))
            else:
                dst.append(slice(s, s + end - start if step else s + 1))
                src.append(slice(start, end))
        out[full + tuple(dst)] += grad[full + tuple(src)]
    return out


def _gather_in_format(xp, x, indices: tuple, self_shape: tuple):
    """``_gather_forward`` laid out in the input's format (NOTE [Channels-last outputs])."""
    return in_format(_gather_forward(xp, x, indices, self_shape), channels_last_format(x))


def _gather_back_like_grad(xp, grad, indices: tuple, self_shape: tuple):
    """``_gather_back_forward`` laid out in the format of ``grad``: torch's 2-d nearest
    upsampling gradient (NOTE [Channels-last outputs]; its 3-d one is C-ordered)."""
    return in_format(_gather_back_forward(xp, grad, indices, self_shape),
                     channels_last_format(grad))


def _gather_ops(node: str, pad: bool) -> tuple:
    """The gather record named ``node`` and its adjoint's record; a pad's adjoint also
    takes the padded input (torch's ``*_pad*d_backward(grad_output, self, padding)``, whose
    gradient for ``self`` is zero). Results and a pad's gradient are laid out in the input's
    format (NOTE [Channels-last outputs])."""
    back_node = node.replace("Backward0", "BackwardBackward0")
    if pad:
        def grad_output_grad(grad, grad_output, self, indices, self_shape):
            return run(gather, grad, indices, self_shape)

        def self_grad(grad, grad_output, self, indices, self_shape):
            return grad.new_zeros(self_shape)

        back = defop(
            back_node, node=back_node, nin=2, kind=KEEP, promote=(0,),
            forward=lambda xp, grad_output, self, indices, self_shape: in_format(
                _pad_back_forward(xp, grad_output, indices, self_shape),
                channels_last_format(self)),
            backward=(grad_output_grad, self_grad))
        gather = defop(node, node=node, kind=KEEP, save=(0,), forward=_gather_in_format,
                       backward=lambda grad, self, indices, self_shape: run(
                           back, grad, self, indices, self_shape))
    else:
        back = defop(back_node, node=back_node, kind=KEEP,
                     forward=(_gather_back_like_grad if "2D" in node else _gather_back_forward),
                     backward=lambda grad, grad_output, indices, self_shape: run(
                         gather, grad, indices, self_shape))
        gather = defop(node, node=node, kind=KEEP, forward=_gather_in_format,
                       backward=lambda grad, self, indices, self_shape: run(
                           back, grad, indices, self_shape))
    return gather, back


GATHERS = {node: _gather_ops(node, "Pad" in node)[0] for node in (
    [f"{kind}Pad{n}DBackward0" for kind in ("Reflection", "Replication") for n in (1, 2, 3)]
    + [f"UpsampleNearest{n}DBackward0" for n in (1, 2, 3)]
    + [f"UpsampleNearestExact{n}DBackward0" for n in (1, 2, 3)])}


def pad_index(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """The source index of each padded position along one dim (reflect, replicate or
    circular; negative sizes crop)."""
    pos = np.arange(-before, size + after)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    if mode == "circular":
        return pos % size
    period = 2 * (size - 1)
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= size, period - pos, pos)


# ---- im2col / col2im ------------------------------------------------------------------------


def _im2col_forward(xp, x, kernel, dilation, padding, stride):
    if x.ndim == 3:  # unbatched (C, H, W)
        return _im2col_forward(xp, x[None], kernel, dilation, padding, stride)[0]
    x = pad_array(xp, x, tuple((p, p) for p in padding))
    win = windows(xp, x, kernel, stride, dilation)  # (N, C, oh, ow, kh, kw)
    n, c = x.shape[:2]
    cols = win.transpose(0, 1, 4, 5, 2, 3)
    blocks = win.shape[2] * win.shape[3]
    return xp.ascontiguousarray(cols).reshape(n, c * kernel[0] * kernel[1], blocks)


def col2im(cols: Tensor, output_size: tuple, kernel: tuple, dilation: tuple, padding: tuple,
           stride: tuple) -> Tensor:
    """``fold`` in ember ops: the columns summed back into their windows, a transposed
    convolution of one-hot kernels, one group per channel."""
    n, ck, _ = cols.shape
    k = kernel[0] * kernel[1]
    c = ck // k
    blocks = tuple((output_size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                   // stride[i] + 1 for i in range(2))
    eye = np.eye(k, dtype=cols._data.dtype).reshape((k, 1) + tuple(kernel))
    weight = make(np.ascontiguousarray(np.tile(eye, (c, 1, 1, 1))))
    extra = tuple(output_size[i] - ((blocks[i] - 1) * stride[i] - 2 * padding[i]
                                    + dilation[i] * (kernel[i] - 1) + 1) for i in range(2))
    return convolution(cols.reshape((n, ck) + blocks), weight, None, stride, padding,
                       dilation, True, extra, c)


IM2COL = defop("im2col", node="Im2ColBackward0", kind=KEEP, save=(0,),
               forward=_im2col_forward,
               backward=lambda grad, self, kernel, dilation, padding, stride: run(
                   COL2IM, grad, tuple(self.shape[-2:]), kernel, dilation, padding, stride))


def _col2im_forward(xp, cols, output_size, kernel, dilation, padding, stride):
    if cols.ndim == 2:  # unbatched (C * kH * kW, L)
        return _col2im_forward(xp, cols[None], output_size, kernel, dilation, padding,
                               stride)[0]
    return col2im(make(cols), output_size, kernel, dilation, padding, stride)._data


COL2IM = defop("col2im", node="Col2ImBackward0", kind=KEEP,
               forward=_col2im_forward,
               backward=lambda grad, self, output_size, kernel, dilation, padding, stride: run(
                   IM2COL, grad, kernel, dilation, padding, stride))


# ---- shuffles -----------------------------------------------------------------------------


def _pixel_shuffle_forward(xp, x, r):
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    oc = c // (r * r)
    y = x.reshape(lead + (oc, r, r, h, w))
    n = len(lead)
    y = y.transpose(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return xp.ascontiguousarray(y).reshape(lead + (oc, h * r, w * r))


def _pixel_unshuffle_forward(xp, x, r):
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    y = x.reshape(lead + (c, h // r, r, w // r, r))
    n = len(lead)
    y = y.transpose(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return xp.ascontiguousarray(y).reshape(lead + (c * r * r, h // r, w // r))


PIXEL_SHUFFLE = defop("pixel_shuffle", node="PixelShuffleBackward0", kind=KEEP,
                      forward=_pixel_shuffle_forward,
                      backward=lambda grad, self, r: run(PIXEL_UNSHUFFLE, grad, r))
PIXEL_UNSHUFFLE = defop("pixel_unshuffle", node="PixelUnshuffleBackward0", kind=KEEP,
                        forward=_pixel_unshuffle_forward,
                        backward=lambda grad, self, r: run(PIXEL_SHUFFLE, grad, r))


def _channel_shuffle_forward(xp, x, groups):
    n, c = x.shape[:2]
    rest = x.shape[2:]
    y = x.reshape((n, groups, c // groups) + rest).swapaxes(1, 2)
    return xp.ascontiguousarray(y).reshape(x.shape)


CHANNEL_SHUFFLE = defop(
    "channel_shuffle", node="ChannelShuffleBackward0", kind=KEEP,
    forward=_channel_shuffle_forward,
    backward=lambda grad, self, groups: run(CHANNEL_SHUFFLE, grad,
                                            grad.shape[1] // groups))

NATIVE_CHANNEL_SHUFFLE = defop(
    "native_channel_shuffle", node="NotImplemented", kind=KEEP,
    forward=_channel_shuffle_forward,
    backward=not_implemented("native_channel_shuffle"))


# ---- interpolation matrices ----------------------------------------------------------------


def source_coords(out: int, size: int, scale, align_corners: bool, cubic: bool = False):
    """torch's source coordinate of each output position along one dim (``scale`` is
    1 / scale_factor when one is used, else None)."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        step = (size - 1) / (out - 1) if out > 1 else 0.0
        return dst * step
    step = scale if scale is not None else size / out
    src = (dst + 0.5) * step - 0.5
    return src if cubic else np.maximum(src, 0.0)


def linear_matrix(out: int, size: int, scale, align_corners: bool) -> np.ndarray:
    src = source_coords(out, size, scale, align_corners)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    m = np.zeros((out, size))
    rows = np.arange(out)
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


def cubic_matrix(out: int, size: int, scale, align_corners: bool) -> np.ndarray:
    src = source_coords(out, size, scale, align_corners, cubic=True)
    i = np.floor(src).astype(np.int64)
    t = src - i
    a = -0.75

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    coeffs = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((out, size))
    rows = np.arange(out)
    for offset, w in zip((-1, 0, 1, 2), coeffs):
        np.add.at(m, (rows, np.clip(i + offset, 0, size - 1)), w)
    return m


# NOTE [Antialiased resize]
# torch's antialiased resize (Pillow's) is separable: along each dim, output i is a
# normalised filter over the inputs near its centre ``scale * (i + 0.5)``. Downsampling
# (scale > 1) stretches the filter by ``scale``, so every input in the widened support
# contributes; upsampling keeps the filter's own support. Inputs j in
# [trunc(centre - support + 0.5), trunc(centre + support + 0.5)) clipped to the input get
# ``filter((j - centre + 0.5) / stretch)``, divided by their sum. As a matrix (out x in)
# it goes through the separable record (NOTE [Separable pooling]).
_AA_FILTERS = {
    "bilinear": (1.0, lambda x: np.maximum(1.0 - np.abs(x), 0.0)),
    "bicubic": (2.0, lambda x: _keys_cubic(np.abs(x), -0.5)),
    "lanczos": (3.0, lambda x: np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)),
}


def _keys_cubic(x, a: float):
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def antialias_matrix(out: int, size: int, scale, align_corners: bool,
                     mode: str) -> np.ndarray:
    """The (out x size) matrix of torch's antialiased ``mode`` resize along one dim
    (NOTE [Antialiased resize]); ``scale`` is 1 / scale_factor when one is used."""
    if align_corners:
        scale = (size - 1) / (out - 1) if out > 1 else 0.0
    elif scale is None:
        scale = size / out
    half, kernel = _AA_FILTERS[mode]
    stretch = scale if scale >= 1.0 else 1.0
    support = half * stretch
    centre = scale * (np.arange(out, dtype=np.float64) + 0.5)
    low = np.maximum(np.trunc(centre - support + 0.5), 0.0)
    high = np.minimum(np.trunc(centre + support + 0.5), size)
    cols = np.arange(size, dtype=np.float64)
    inside = (cols >= low[:, None]) & (cols < high[:, None])
    weights = np.where(inside, kernel((cols - centre[:, None] + 0.5) / stretch), 0.0)
    total = weights.sum(1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total != 0)


def nearest_index(out: int, size: int, scale, exact: bool) -> np.ndarray:
    # torch computes these in single precision (floorf)
    step = np.float32(scale if scale is not None else size / out)
    dst = np.arange(out, dtype=np.float32)
    src = np.floor((dst + np.float32(0.5)) * step if exact else dst * step)
    return np.minimum(src.astype(np.int64), size - 1)


# ---- affine_grid ---------------------------------------------------------------------------


def affine_base(spatial: tuple, align_corners: bool) -> np.ndarray:
    """The (prod(spatial), nd + 1) base grid of ``affine_grid``: normalised x, y(, z), 1
    per output position, x varying fastest."""
    axes = []
    for size in spatial:
        line = np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(size)
        if not align_corners and size > 1:
            line = line * (size - 1) / size
        axes.append(line)
    mesh = np.meshgrid(*axes, indexing="ij")  # one array per dim, slowest first
    coords = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(mesh[0].size)]
    return np.stack(coords, -1)


def _affine_forward(xp, theta, base, out_shape):
    grid = xp.matmul(base.astype(theta.dtype), theta.swapaxes(1, 2))
    return grid.reshape(out_shape)


AFFINE_GRID = defop(
    "affine_grid_generator", node="AffineGridGeneratorBackward0", kind=KEEP,
    forward=_affine_forward,
    backward=lambda grad, theta, base, out_shape: grad.reshape(
        out_shape[0], -1, out_shape[-1]).transpose(1, 2).matmul(
        make(base.astype(grad._data.dtype))))


# ---- grid_sample (2-D) ------------------------------------------------------------------------

_CUBIC_A = -0.75


def _reflect(x: np.ndarray, twice_low: int, twice_high: int) -> tuple:
    """torch's reflect_coordinates and its derivative (+1 or -1) per element."""
    if twice_low == twice_high:
        return np.zeros_like(x), np.zeros_like(x)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    sign = np.where(x < low, -1.0, 1.0)
    x = np.abs(x - low)
    extra = np.fmod(x, span)
    flips = np.floor(x / span)
    even = flips % 2 == 0
    return np.where(even, extra + low, span - extra + low), np.where(even, sign, -sign)


def _padded(raw: np.ndarray, size: int, padding_mode: str, align_corners: bool) -> tuple:
    """Padded source coordinates (border / reflection) and their derivative."""
    deriv = np.ones_like(raw)
    if padding_mode == "reflection":
        if align_corners:
            raw, deriv = _reflect(raw, 0, 2 * (size - 1))
        else:
            raw, deriv = _reflect(raw, -1, 2 * size - 1)
    inside = (raw > 0) & (raw < size - 1)
    return np.clip(raw, 0, size - 1), np.where(inside, deriv, 0.0)


def _source(g: Tensor, size: int, padding_mode: str, align_corners: bool, pad: bool):
    """A normalised grid coordinate as a source position (an ember expression of ``g``, so
    its derivatives follow), and d(position)/d(g) as an array."""
    scale = (size - 1) / 2 if align_corners else size / 2
    pos = g * scale + (size - 1) / 2
    if not pad or padding_mode == "zeros":
        return pos, np.full(tuple(g.shape), scale)
    value, deriv = _padded(pos._data, size, padding_mode, align_corners)
    # value with the padding's derivative: value + deriv * (pos - pos), to every order
    dtype = pos._data.dtype
    return (make(value.astype(dtype)) + make(deriv.astype(dtype)) * (pos - pos.detach()),
            deriv * scale)


def _cubic_near(t):
    return ((_CUBIC_A + 2) * t - (_CUBIC_A + 3)) * t * t + 1


def _cubic_far(t):
    return ((_CUBIC_A * t - 5 * _CUBIC_A) * t + 8 * _CUBIC_A) * t - 4 * _CUBIC_A


def _cubic_near_d(t):
    return (3 * (_CUBIC_A + 2) * t - 2 * (_CUBIC_A + 3)) * t


def _cubic_far_d(t):
    return (3 * _CUBIC_A * t - 10 * _CUBIC_A) * t + 8 * _CUBIC_A


def _taps_1d(pos: Tensor, mode: str) -> list:
    """(integer index array, weight, d weight / d pos) per tap along one dim."""
    if mode == "nearest":
        index = np.rint(pos._data).astype(np.int64)
        one = make(np.ones(index.shape, pos._data.dtype))
        return [(index, one, one * 0)]
    base = np.floor(pos._data)
    t = pos - make(base)
    index = base.astype(np.int64)
    if mode == "bilinear":
        return [(index, 1 - t, t * 0 - 1), (index + 1, t, t * 0 + 1)]
    return [(index - 1, _cubic_far(t + 1), _cubic_far_d(t + 1)),
            (index, _cubic_near(t), _cubic_near_d(t)),
            (index + 1, _cubic_near(1 - t), -_cubic_near_d(1 - t)),
            (index + 2, _cubic_far(2 - t), -_cubic_far_d(2 - t))]


def _tap_index(index: np.ndarray, size: int, padding_mode: str, align_corners: bool,
               cubic: bool) -> tuple:
    """A tap's index clamped for the gather, and whether it reads the input (1) or a zero."""
    if cubic and padding_mode != "zeros":
        index, _ = _padded(index.astype(np.float64), size, padding_mode, align_corners)
        index = index.astype(np.int64)
    inside = (index >= 0) & (index < size)
    return np.clip(index, 0, size - 1), inside


def _grid_terms(input: Tensor, grid: Tensor, mode: str, padding_mode: str,
                align_corners: bool) -> tuple:
    """The taps of a grid sample over nd = 2 or 3 spatial dims: per combination of one tap
    per dim, the flat input index (N, 1, L), the weight and, per dim, the weight's
    derivative along that dim's position; and per dim d(position)/d(grid)."""
    spatial = tuple(input.shape[2:])
    nd = len(spatial)
    cubic = mode == "bicubic"
    dtype = input._data.dtype
    per_dim = []
    dpos = []
    # grid[..., 0] is x (the last dim), grid[..., 1] is y, grid[..., 2] is z
    for d in range(nd):
        size = spatial[nd - 1 - d]
        pos, deriv = _source(grid[..., d], size, padding_mode, align_corners, not cubic)
        taps = []
        for index, weight, dweight in _taps_1d(pos, mode):
            clamped, inside = _tap_index(index, size, padding_mode, align_corners, cubic)
            taps.append((clamped, inside, weight, dweight))
        per_dim.append(taps)
        dpos.append(make(deriv.astype(dtype)))
    n = grid.shape[0]
    length = math.prod(tuple(grid.shape)[1:-1])
    strides = [math.prod(spatial[nd - d:]) for d in range(nd)]  # x: 1, y: W, z: H * W
    terms = []
    for combo in itertools.product(*per_dim):
        flat = sum(tap[0] * stride for tap, stride in zip(combo, strides))
        inside = np.logical_and.reduce([tap[1] for tap in combo])
        mask = make(inside.astype(dtype))
        weights = [tap[2] for tap in combo]
        weight = mask
        for wt in weights:
            weight = weight * wt
        dweights = []
        for d in range(nd):
            dw = mask
            for e, tap in enumerate(combo):
                dw = dw * (tap[3] if e == d else tap[2])
            dweights.append(dw)
        terms.append((make(flat.reshape(n, 1, length)), weight, dweights))
    return terms, dpos


def _gathered(input: Tensor, flat: Tensor) -> Tensor:
    n, c = input.shape[:2]
    flat_input = input.reshape(n, c, math.prod(tuple(input.shape)[2:]))
    return flat_input.gather(2, flat.expand(n, c, flat.shape[2]))


def grid_sample_nd(input: Tensor, grid: Tensor, mode: str, padding_mode: str,
                   align_corners: bool) -> Tensor:
    """``grid_sample`` of an (N, C, *spatial) input at an (N, *out, nd) grid, in ember
    ops."""
    terms, _ = _grid_terms(input, grid, mode, padding_mode, align_corners)
    n, c = input.shape[:2]
    out = None
    for flat, weight, _ in terms:
        part = _gathered(input, flat) * weight.reshape(n, 1, flat.shape[2])
        out = part if out is None else out + part
    return out.reshape((n, c) + tuple(grid.shape[1:-1]))


def _grid_forward(xp, input, grid, mode, padding_mode, align_corners):
    from ember.autograd.grad_mode import no_grad

    with no_grad():
        return grid_sample_nd(make(input), make(grid), mode, padding_mode,
                              align_corners)._data


def _grid_input_grad(grad, input, grid, mode, padding_mode, align_corners):
    from ember._ops.creation import zeros

    terms, _ = _grid_terms(input, grid, mode, padding_mode, align_corners)
    n, c = input.shape[:2]
    g = grad.reshape(n, c, math.prod(tuple(grad.shape)[2:]))
    out = zeros((n, c, math.prod(input.shape[2:])), dtype=grad.dtype)
    for flat, weight, _ in terms:
        out = out.scatter_add(2, flat.expand(n, c, flat.shape[2]),
                              g * weight.reshape(n, 1, flat.shape[2]))
    return out.reshape(tuple(input.shape))


def _grid_grid_grad(grad, input, grid, mode, padding_mode, align_corners):
    from ember._ops.shape import stack

    terms, dpos = _grid_terms(input, grid, mode, padding_mode, align_corners)
    n, c = input.shape[:2]
    g = grad.reshape(n, c, math.prod(tuple(grad.shape)[2:]))
    sums = [None] * len(dpos)
    for flat, _, dweights in terms:
        seen = (_gathered(input, flat) * g).sum(1)  # (N, L)
        for d, dw in enumerate(dweights):
            part = seen * dw.reshape(n, flat.shape[2])
            sums[d] = part if sums[d] is None else sums[d] + part
    shape = tuple(grid.shape[:-1])
    return stack([s.reshape(shape) * dp for s, dp in zip(sums, dpos)], -1)


GRID_SAMPLERS = {nd: defop(
    f"grid_sampler_{nd}d", node=f"GridSampler{nd}DBackward0", nin=2, kind=KEEP,
    promote=(0, 1), save=(0, 1), forward=_grid_forward,
    backward=(_grid_input_grad, _grid_grid_grad)) for nd in (2, 3)}
