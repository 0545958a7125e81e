"""Op records of convolution, ``conv_tbc`` and constant padding (``torch.convolution``,
``constant_pad_nd``).

NOTE [Convolution as im2col]
The forward of a convolution reads the zero-padded input through one strided view whose
shape is (N, C, *out, *kernel) (``windows``), lays it out as columns and multiplies it by
the weight: one ``matmul`` per image (batched over the groups), whose result is already in
the output's layout, or, for small outputs, one product over the whole batch and a
transpose. Small images take the channels-last columns instead (``windows_last``, one row
per output position): their copy reads runs of kernel width x channels elements where the
other layout reads runs of the output width, a few elements for a 4x4 map. A transposed
convolution is col2im: one product gives every input position's contribution at each
kernel offset, and a loop over the kernel offsets adds them into the output at the strided
positions they reach (the zero-inserted input a transposed convolution amounts to is never
built); an offset that reaches every output position (the centre of a stride-1 "same"
kernel) is copied rather than added onto zeros; a stride-1 one over small images is the
convolution by the flipped kernel in channels-last columns. The bias is added in place on
the product. Gradients are convolutions again, run through the same record, so double
backward works: the input's gradient is the transposed convolution of ``grad`` (and the
transposed one's a plain convolution), the weight's gradient is a convolution of the
input, read with its batch and channel dims swapped, by ``grad`` used as the weight (stride
and dilation exchange roles). A first-order backward (nothing recorded, no vmap or
forward-mode level) computes the weight's gradient on arrays instead
(``_weight_grad_array``): the input's columns times ``grad`` per image, summed over the
batch, without the layout copies of the batch/channel swap (for small images, one product
of ``grad`` by the channels-last columns of the whole batch).

The per-image kernels (the forward, the stride-1 input gradient, the weight gradient's
products) split the batch over the threads (NOTE [Batch-parallel kernels] in
ember/_threads.py) and work through a few images at a time (``_CACHE_BYTES``), so the
columns a product writes are still in cache when the sum or copy reads them. Where the
time goes (Conv2d(16, 32, 3, padding=1) on a (32, 16, 32, 32) float32 batch, two threads,
wall time, best of 30 on the 2-core machine): forward ~3.7 ms (one thread's BLAS: the sgemm,
32 x 144 by 144 x 1024 per image at ~60 GFLOP/s, is ~2.6 ms of each half), input gradient
~3.7 ms, weight gradient ~3.0 ms; before the split 4.7, 6.2 and 4.7 ms. Forward + backward
10.7-12.7 ms against torch's 5.9-7.4 ms in the same runs: the three GEMMs at OpenBLAS's
~60 GFLOP/s per core on these thin shapes (torch's oneDNN kernels reach ~80-95) are most of
it; the im2col copies, the col2im sum, the bias gradient's sum and the leaf gradient's copy
the rest.
"""
from __future__ import annotations

import itertools
import math

from ember import _memory_format as _mf
from ember import _threads
from ember._backend import np
from ember._ops import batching
from ember._ops.registry import KEEP, defop, first_order, run
from ember._tensor import Tensor, make
from ember.autograd import forward_ad, grad_mode

_grad_state = grad_mode.state
_batch_levels = batching.levels
_dual_levels = forward_ad.levels

# ---- array kernels ----------------------------------------------------------------------


def windows(xp, x, kernel: tuple, stride: tuple, dilation: tuple):
    """A read-only view of ``x`` (N, C, *spatial) of shape (N, C, *out, *kernel): element
    [..., o, k] is x[..., o * stride + k * dilation] per spatial dim."""
    nd = len(kernel)
    spatial = x.shape[2:]
    out = tuple(max((spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1, 0)
                for i in range(nd))
    st = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, x.shape[:2] + out + tuple(kernel),
        st[:2] + tuple(st[2 + i] * stride[i] for i in range(nd))
        + tuple(st[2 + i] * dilation[i] for i in range(nd)), writeable=False)


# NOTE [Channels-last outputs]
# torch gives the nn ops a channels-last result (channels_last for 4-d, channels_last_3d for
# 5-d) when it reads the input's strides as that format (``suggest_memory_format``); a
# convolution does so when the input's or the weight's strides read that way, and its input
# and weight gradients then follow the same format whatever the incoming gradient's layout.
# ember decides the format from the arrays' strides (``channels_last_format``); a kernel
# computes in that layout where it comes naturally (the convolution's columns are taken
# from the N, *spatial, C layout) and otherwise lays its C-ordered result out in it with one
# copy (``in_format``). A C-ordered input with no size-1 dim is never channels-last, so the
# default path decides with one flag test.


def channels_last_format(x):
    """``channels_last`` or ``channels_last_3d`` when torch reads the strides of ``x`` as
    that format (NOTE [Channels-last outputs]), else None."""
    if x.ndim not in (4, 5) or (x.flags.c_contiguous and 1 not in x.shape):
        return None
    fmt = _mf.suggest_format(x.shape, _mf.element_strides(x))
    return None if fmt is _mf.contiguous_format else fmt


def _target_strides(shape: tuple, fmt, like) -> tuple:
    if like is not None:
        strides = _mf.element_strides(like)
        if _mf.is_format(shape, strides, fmt):
            return strides
    return _mf.format_strides(shape, fmt)


def in_format(x, fmt, like=None):
    """The array ``x`` laid out in format ``fmt`` (None: as it is), copied only when its
    strides differ; with ``like`` (an array of the same shape) contiguous in that format,
    laid out with ``like``'s strides instead (whose size-1 dims may differ)."""
    if fmt is None:
        return x
    strides = _target_strides(x.shape, fmt, like)
    if _mf.element_strides(x) == strides:
        return x
    return _mf.copy_with_strides(x, strides)


def format_of(t: Tensor, fmt, like=None) -> Tensor:
    """``in_format`` in ember ops (a gradient's layout, NOTE [Channels-last outputs]); a
    tensor under vmap or forward mode is left as it is (its array is not the logical one)."""
    if fmt is None or _batch_levels or _dual_levels:
        return t
    strides = _target_strides(tuple(t.shape), fmt, like)
    if _mf.element_strides(t._data) == strides:
        return t
    if _grad_state.enabled:
        # recorded (a double backward): the format's strides, a size-1 dim's aside
        return t.contiguous(memory_format=fmt)
    return make(_mf.copy_with_strides(t._data, strides))


def _conv_format(x, w):
    """The layout of a convolution's result and gradients (NOTE [Channels-last outputs]),
    and whether the weight gradient takes the weight's own strides where those are
    contiguous in it. torch's float32 kernels (oneDNN) honour both channels-last formats;
    its other dtypes take kernels that honour ``channels_last`` only and give the weight
    gradient the weight's strides."""
    fmt = channels_last_format(x) or channels_last_format(w)
    if fmt is None or x.dtype == np.float32:
        return fmt, False
    return (fmt if x.ndim == 4 else None), True


def pad_array(xp, x, pads: tuple, value=0):
    """``x`` padded (or cropped, for negative sizes) by ``pads`` = ((before, after), ...)
    on its trailing dims."""
    lead = x.ndim - len(pads)
    if any(b < 0 or a < 0 for b, a in pads):
        x = x[(slice(None),) * lead + tuple(slice(max(-b, 0), x.shape[lead + i] - max(-a, 0))
                                             for i, (b, a) in enumerate(pads))]
        pads = tuple((max(b, 0), max(a, 0)) for b, a in pads)
    if not any(b or a for b, a in pads):
        return x
    # one fill and one copy: cheaper than ``np.pad``, which fills each border separately
    shape = x.shape[:lead] + tuple(x.shape[lead + i] + b + a for i, (b, a) in enumerate(pads))
    out = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    out[(Ellipsis,) + tuple(slice(b, b + x.shape[lead + i])
                            for i, (b, _) in enumerate(pads))] = x
    return out


# Below this many output positions per image the batch is folded into one matrix product
# (one large GEMM and a transpose) rather than one product per image.
_PER_IMAGE_MIN = 256
# Small images are convolved in the channels-last layout when its columns' contiguous runs
# (kernel width times channels) are at least this many times the output rows' (measured on
# 3x3 kernels: 2x longer runs gained nothing, 6x and more halved the time).
_SHORT_RUNS = 4
# A kernel splits its batch over threads (NOTE [Batch-parallel kernels]) from this many
# multiply-adds (~0.3 ms of one core's BLAS): below it, handing a part to another thread
# costs about what the thread saves.
_PARALLEL_MACS = 1 << 24
# The bytes of columns a per-image kernel makes at once: a few images' worth, so the product
# that writes them and the copy or sum that reads them work in cache (measured on the input
# gradient of Conv2d(16, 32, 3) over 32x32 images: 4 images at a time, 2.7 MB, took 0.7x
# the time of 16).
_CACHE_BYTES = 3 << 20


def _cache_block(per_item: int) -> int:
    """How many images a kernel works through at once whose temporaries take ``per_item``
    bytes per image (at least one)."""
    return max(_CACHE_BYTES // max(per_item, 1), 1)


def _part_threads(xp, macs: int) -> int:
    """How many threads a per-image kernel of ``macs`` multiply-adds splits its batch over."""
    if xp is not np or macs < _PARALLEL_MACS:
        return 1
    from ember._runtime import get_num_threads

    return get_num_threads()


def windows_last(xp, x, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                 out: tuple | None = None):
    """A read-only view (N, *out, *kernel, C) of ``x`` (N, C, *spatial) laid out channels-last
    and zero-padded: element [n, o, k, c] is the padded x[n, c, o * stride + k * dilation];
    ``out`` (default: every whole window) may ask for fewer windows."""
    nd = x.ndim - 2
    to_last = (0,) + tuple(range(2, 2 + nd)) + (1,)
    xl = pad_array(xp, x.transpose(to_last), tuple((p, p) for p in padding) + ((0, 0),))
    if out is None:
        out = tuple(max((xl.shape[1 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1,
                        0) for i in range(nd))
    st = xl.strides
    return xp.lib.stride_tricks.as_strided(
        xl, (x.shape[0],) + tuple(out) + tuple(kernel) + (x.shape[1],),
        (st[0],) + tuple(st[1 + i] * stride[i] for i in range(nd))
        + tuple(st[1 + i] * dilation[i] for i in range(nd)) + (st[-1],), writeable=False)


def _conv_forward_channels_last(xp, x, w, b, stride, padding, dilation, groups):
    """A convolution computed in the channels-last layout (NOTE [Channels-last outputs]):
    the columns are windows of the (N, *spatial, C) input, one row per output position, and
    one product by the weight read as (*kernel, C) per output channel gives the
    (N, *out, O) result, returned as an (N, O, *out) view."""
    nd = x.ndim - 2
    kernel = w.shape[2:]
    win = windows_last(xp, x, kernel, stride, padding, dilation)
    out = win.shape[1:1 + nd]
    n, c = x.shape[:2]
    o = w.shape[0]
    rows = n * math.prod(out)
    k = math.prod(kernel)
    cg = c // groups
    weight = w.reshape((groups, o // groups, cg) + tuple(kernel))
    weight = weight.transpose((0, 1) + tuple(range(3, 3 + nd)) + (2,)).reshape(
        groups, o // groups, k * cg)
    if groups == 1:
        result = xp.matmul(win.reshape(rows, k * c), weight[0].T)
    else:
        cols = win.reshape(rows, k, groups, cg).transpose(2, 0, 1, 3).reshape(
            groups, rows, k * cg)
        result = xp.matmul(cols, weight.swapaxes(1, 2))  # (G, rows, O / G)
        result = xp.ascontiguousarray(result.transpose(1, 0, 2)).reshape(rows, o)
    if b is not None:
        result += b
    return result.reshape((n,) + out + (o,)).transpose((0, nd + 1) + tuple(range(1, nd + 1)))


def _conv_forward(xp, x, w, b, stride, padding, dilation, groups):
    """A convolution (NOTE [Convolution as im2col]), the bias ``b`` (or None) added."""
    nd = x.ndim - 2
    pads = tuple((p, p) for p in padding)
    kernel = w.shape[2:]
    n, c = x.shape[:2]
    o = w.shape[0]
    out = tuple(max((x.shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                    // stride[i] + 1, 0) for i in range(nd))
    length = math.prod(out)
    cgk = (c // groups) * math.prod(kernel)
    weight = w.reshape(groups, o // groups, cgk)
    out_axes = tuple(range(2, 2 + nd))
    kernel_axes = tuple(range(2 + nd, 2 + 2 * nd))
    # The im2col copy reads runs along the last dim of the output or of the kernel; the
    # columns are laid out so that the longer run is innermost (the weight gradient is a
    # convolution with a big kernel and a small output).
    if kernel[-1] <= out[-1] and length >= _PER_IMAGE_MIN:
        # one product per image writes the result in its final layout (no transpose), the
        # batch split over threads (NOTE [Batch-parallel kernels])
        result = xp.empty((n, o, length), xp.result_type(x.dtype, w.dtype))

        def part(start: int, stop: int) -> None:
            win = windows(xp, pad_array(xp, x[start:stop], pads), kernel, stride, dilation)
            cols = win.transpose((0, 1) + kernel_axes + out_axes)
            cols = cols.reshape(stop - start, groups, cgk, length)
            xp.matmul(weight, cols, out=result[start:stop].reshape(
                stop - start, groups, o // groups, length))  # (N, G, O / G, L)
            if b is not None:
                result[start:stop] += b.reshape(o, 1)

        _threads.run_parts(part, n, _part_threads(xp, n * o * cgk * length),
                           block=_cache_block(cgk * length * x.itemsize))
        return result.reshape((n, o) + out)
    if groups == 1 and stride[-1] == 1 and dilation[-1] == 1 \
            and _SHORT_RUNS * out[-1] <= c * kernel[-1] and kernel[-1] <= out[-1]:
        # The columns' copy reads runs of out[-1] elements in this layout and of
        # kernel[-1] * C in the channels-last one, where small images copy much faster.
        return xp.ascontiguousarray(_conv_forward_channels_last(
            xp, x, w, b, stride, padding, dilation, groups))
    win = windows(xp, pad_array(xp, x, pads), kernel, stride, dilation)  # (N, C, *out, *k)
    if kernel[-1] > out[-1]:
        cols = win.transpose((0,) + out_axes + (1,) + kernel_axes)
        cols = cols.reshape(n * length, groups, cgk).swapaxes(0, 1)
        result = xp.matmul(cols, weight.swapaxes(1, 2))  # (G, N * L, O / G)
        result = result.reshape(groups, n, length, o // groups).transpose(1, 0, 3, 2)
    else:
        cols = win.transpose((1,) + kernel_axes + (0,) + out_axes)
        cols = cols.reshape(groups, cgk, n * length)
        result = xp.matmul(weight, cols)  # (G, O / G, N * L)
        result = result.reshape(groups, o // groups, n, length).transpose(2, 0, 1, 3)
    result = xp.ascontiguousarray(result).reshape(n, o, length)
    if b is not None:
        result += b.reshape(o, 1)
    return result.reshape((n, o) + out)


def _scatter_range(start: int, count: int, stride: int, size: int) -> tuple:
    """(first, last + 1) of the i in range(count) with 0 <= start + i * stride < size."""
    first = max(-(start // stride), 0) if start < 0 else 0
    last = min(count, (size - 1 - start) // stride + 1) if size > start else 0
    return first, max(last, first)


# NOTE [Col2im in one pass]
# A stride-1 transposed convolution (the input gradient of a stride-1 convolution) sums, at
# each output position o, the columns of the kernel offsets j at input position
# o + padding - j * dilation. With the input placed in a zero frame (``before`` / ``after``
# positions around each spatial dim, enough that every such position lies inside it) and
# the product taken over the framed input, the columns are one array (N, Cout * k, F) over
# the F framed positions, and the position read for (o, j) is linear in both: one strided
# view (N, Cout, *out, *kernel) of the columns reads every term, and one sum over its kernel
# axes is the output, already cropped. This replaces one read-modify-write pass over the
# output per kernel offset by one pass over the columns, for a product larger by the frame
# (taken only while the frame adds at most ``_FRAME_MAX - 1`` of the positions).
_FRAME_MAX = 1.35


def _col2im_flat(xp, x, weight, kernel: tuple, size: tuple, padding, dilation, before: tuple,
                 after: tuple, cout: int, out) -> None:
    """NOTE [Col2im in one pass]: ``x`` (N, Cin, *in) and ``weight`` read as (G, Cout/G * k,
    Cin/G); writes the (N, Cout, *size) output into ``out``."""
    nd = x.ndim - 2
    n, cin = x.shape[:2]
    groups = weight.shape[0]
    kernel_count = math.prod(kernel)
    frame = tuple(x.shape[2 + i] + before[i] + after[i] for i in range(nd))
    framed = xp.zeros((n, cin) + frame, x.dtype)
    framed[(slice(None), slice(None)) + tuple(
        slice(before[i], before[i] + x.shape[2 + i]) for i in range(nd))] = x
    length = math.prod(frame)
    cols = xp.matmul(weight, framed.reshape(n, groups, cin // groups, length))
    cols = cols.reshape(n, cout * kernel_count, length)  # (N, G, Cout/G * k, F)
    item = cols.itemsize
    # element strides of the framed positions per dim, and of the kernel offsets per dim
    pos = [math.prod(frame[i + 1:]) for i in range(nd)]
    rows = [math.prod(kernel[i + 1:]) for i in range(nd)]
    start = sum((padding[i] + before[i]) * pos[i] for i in range(nd))
    view = xp.lib.stride_tricks.as_strided(
        cols.reshape(-1)[start:], (n, cout) + size + kernel,
        tuple(s * item for s in (cout * kernel_count * length, kernel_count * length))
        + tuple(p * item for p in pos)
        + tuple((rows[i] * length - dilation[i] * pos[i]) * item for i in range(nd)),
        writeable=False)
    view.sum(tuple(range(2 + nd, 2 + 2 * nd)), out=out)


def _conv_transpose_forward(xp, x, w, b, stride, padding, dilation, output_padding, groups):
    """A transposed convolution as col2im: each input position's contribution to every
    kernel offset comes from one matrix product, then, for stride 1, one sum over a strided
    view of them (NOTE [Col2im in one pass]), else each offset's columns are added into the
    output at its strided positions (a loop over the few kernel offsets)."""
    nd = x.ndim - 2
    n, cin = x.shape[:2]
    spatial = x.shape[2:]
    kernel = w.shape[2:]
    cout_g = w.shape[1]
    cout = groups * cout_g
    length = math.prod(spatial)
    size = tuple((spatial[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
                 + output_padding[i] + 1 for i in range(nd))
    # (Cin, Cout/G, *k) read as (G, Cout/G * k, Cin/G)
    weight = w.reshape(groups, cin // groups, cout_g * math.prod(kernel)).swapaxes(1, 2)
    if all(s == 1 for s in stride) and math.prod(kernel) > 1:
        # the zero frame the flat col2im needs around each dim (NOTE [Col2im in one pass])
        before = tuple(max(dilation[i] * (kernel[i] - 1) - padding[i], 0) for i in range(nd))
        after = tuple(max(dilation[i] * (kernel[i] - 1) - padding[i] + output_padding[i], 0)
                      for i in range(nd))
        framed = math.prod(spatial[i] + before[i] + after[i] for i in range(nd))
        if framed <= _FRAME_MAX * length:
            out = xp.empty((n, cout) + size, xp.result_type(x.dtype, w.dtype))

            def part(start: int, stop: int) -> None:
                _col2im_flat(xp, x[start:stop], weight, kernel, size, padding, dilation,
                             before, after, cout, out[start:stop])
                if b is not None:
                    out[start:stop] += b.reshape((cout,) + (1,) * nd)

            _threads.run_parts(part, n, _part_threads(
                xp, n * cin * cout_g * math.prod(kernel) * framed),
                block=_cache_block(cout * math.prod(kernel) * framed * x.itemsize))
            return out
        if groups == 1 and not any(output_padding) and dilation[-1] == 1 \
                and _SHORT_RUNS * spatial[-1] <= cin * kernel[-1] and 8 * cout >= cin:
            # small images: the convolution of ``x`` by the flipped kernel, in the
            # channels-last layout (see ``_conv_forward``), whose columns (Cin per position)
            # are not many more than col2im's (Cout per position)
            flipped = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
            return xp.ascontiguousarray(_conv_forward_channels_last(
                xp, x, flipped.swapaxes(0, 1), b, stride,
                tuple(dilation[i] * (kernel[i] - 1) - padding[i] for i in range(nd)), dilation,
                1))
    cols = xp.matmul(weight, x.reshape(n, groups, cin // groups, length))
    cols = cols.reshape((n, cout) + kernel + spatial)  # (N, G, Cout/G * k, L)
    adds = []
    cover = None  # an offset that reaches every output position is copied, not added
    for offset in itertools.product(*(range(k) for k in kernel)):
        dst = [slice(None), slice(None)]
        src = [slice(None), slice(None), *offset]
        full = True
        for i in range(nd):
            start = offset[i] * dilation[i] - padding[i]
            first, last = _scatter_range(start, spatial[i], stride[i], size[i])
            if last == first:  # this offset lands outside the (cropped) output
                break
            dst.append(slice(start + first * stride[i], start + (last - 1) * stride[i] + 1,
                             stride[i]))
            src.append(slice(first, last))
            full = full and stride[i] == 1 and start + first == 0 and last - first == size[i]
        else:
            if full and cover is None:
                cover = tuple(src)
            else:
                adds.append((tuple(dst), tuple(src)))
    if cover is None:
        out = xp.zeros((n, cout) + size, cols.dtype)
    else:
        out = xp.empty((n, cout) + size, cols.dtype)
        out[...] = cols[cover]
    for dst, src in adds:
        out[dst] += cols[src]
    if b is not None:
        out += b.reshape((cout,) + (1,) * nd)
    return out


def _weight_grad_array(xp, a, b, weight_shape: tuple, stride, padding, dilation, groups):
    """The weight gradient of the convolution of ``a`` (N, C, *in) whose result's gradient
    is ``b`` (N, O, *out): per image, ``a``'s columns (G, Cg * k, L) times ``b`` read as
    (G, L, O / G) (one batched product, ``b`` never copied), summed over the batch."""
    nd = a.ndim - 2
    kernel = tuple(weight_shape[2:])
    out = b.shape[2:]
    n, c = a.shape[:2]
    o = b.shape[1]
    length = math.prod(out)
    cgk = (c // groups) * math.prod(kernel)
    if groups == 1 and dilation[-1] == 1 and _SHORT_RUNS * out[-1] <= c * kernel[-1] \
            and length < _PER_IMAGE_MIN:
        # small images: one product of ``b`` by the channels-last columns (see
        # ``_conv_forward``), over the whole batch
        rows = windows_last(xp, a, kernel, stride, padding, dilation, out).reshape(
            n * length, cgk)
        grads = b.reshape(n, o, length).transpose(0, 2, 1).reshape(n * length, o)
        result = xp.matmul(grads.T, rows).reshape((o,) + kernel + (c,))  # (O, *k, C)
        return xp.ascontiguousarray(result.transpose((0, nd + 1) + tuple(range(1, nd + 1))))
    products = xp.empty((n, groups, cgk, o // groups), xp.result_type(a.dtype, b.dtype))

    def part(start: int, stop: int) -> None:
        win = windows(xp, pad_array(xp, a[start:stop], tuple((p, p) for p in padding)),
                      kernel, stride, dilation)
        if win.shape[2:2 + nd] != out:
            # a transposed convolution's output_padding of at least the stride leaves
            # positions no input reached: the windows past its input's extent are not read
            win = win[(slice(None), slice(None)) + tuple(slice(0, k) for k in out)]
        cols = win.transpose((0, 1) + tuple(range(2 + nd, 2 + 2 * nd))
                             + tuple(range(2, 2 + nd)))
        cols = cols.reshape(stop - start, groups, cgk, length)
        grads = b[start:stop].reshape(stop - start, groups, o // groups, length)
        xp.matmul(cols, grads.swapaxes(2, 3), out=products[start:stop])

    # the per-image products split over threads (NOTE [Batch-parallel kernels]), summed
    # over the batch in one reduction whatever the split
    _threads.run_parts(part, n, _part_threads(xp, n * cgk * o * length),
                       block=_cache_block(groups * cgk * length * a.itemsize))
    result = products.sum(0)  # (G, Cg * k, O / G)
    return xp.ascontiguousarray(result.swapaxes(1, 2)).reshape(weight_shape)


def _convolution_forward(xp, x, w, b, stride, padding, dilation, transposed, output_padding,
                         groups):
    fmt = _conv_format(x, w)[0]
    if transposed:
        return in_format(_conv_transpose_forward(xp, x, w, b, stride, padding, dilation,
                                                 output_padding, groups), fmt)
    if fmt is not None:
        return _conv_forward_channels_last(xp, x, w, b, stride, padding, dilation, groups)
    return _conv_forward(xp, x, w, b, stride, padding, dilation, groups)


# ---- backward formulas (ember ops) --------------------------------------------------------


def convolution(input: Tensor, weight: Tensor, bias, stride: tuple, padding: tuple,
                dilation: tuple, transposed: bool, output_padding: tuple,
                groups: int) -> Tensor:
    """``torch.convolution`` without argument checks (the functional API checks)."""
    return run(CONVOLUTION, input, weight, bias, stride, padding, dilation, transposed,
               output_padding, groups)


def _weight_grad(input, grad, weight_shape, stride, padding, dilation, groups):
    """d(conv(input, w))/dw applied to ``grad``, a convolution: input (N, G*Cg, *in) read
    as (Cg, G*N, *in), ``grad`` (N, O, *out) as the weight (O, N, *out)."""
    nd = input.dim() - 2
    n, c = input.shape[:2]
    cg = c // groups
    spatial = tuple(input.shape[2:])
    x = input.reshape((n, groups, cg) + spatial).transpose(0, 2).reshape(
        (cg, groups * n) + spatial)
    w = grad.transpose(0, 1)
    out = convolution(x, w, None, dilation, padding, stride, False, (0,) * nd, groups)
    kernel = weight_shape[2:]
    if tuple(out.shape[2:]) != tuple(kernel):
        out = out[(slice(None), slice(None)) + tuple(slice(0, k) for k in kernel)]
    return out.transpose(0, 1)


def _input_grad(grad, input, weight, stride, padding, dilation, transposed, output_padding,
                groups):
    fmt = _conv_format(input._data, weight._data)[0]
    return format_of(_input_grad_any(grad, input, weight, stride, padding, dilation,
                                     transposed, output_padding, groups), fmt)


def _input_grad_any(grad, input, weight, stride, padding, dilation, transposed,
                    output_padding, groups):
    nd = input.dim() - 2
    if transposed:
        out = convolution(grad, weight, None, stride, padding, dilation, False, (0,) * nd,
                          groups)
        # an output_padding of at least the stride (allowed below the dilation) adds output
        # positions that no input reached: the convolution then reads one window too many
        spatial = tuple(input.shape[2:])
        if tuple(out.shape[2:]) != spatial:
            out = out[(slice(None), slice(None)) + tuple(slice(0, n) for n in spatial)]
        return out
    kernel = weight.shape[2:]
    extra = tuple(input.shape[2 + i] - ((grad.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                                        + dilation[i] * (kernel[i] - 1) + 1)
                  for i in range(nd))
    return convolution(grad, weight, None, stride, padding, dilation, True, extra, groups)


def _weight_grad_formula(grad, input, weight, bias, stride, padding, dilation, transposed,
                         output_padding, groups):
    fmt, keep = _conv_format(input._data, weight._data)
    like = weight._data if keep else None
    if first_order():
        # a first-order backward: the product of the columns and ``grad`` on arrays, with
        # none of the layout copies of the convolution the formula below runs
        a, b = (grad, input) if transposed else (input, grad)
        return make(in_format(_weight_grad_array(np, a._data, b._data, tuple(weight.shape),
                                                 stride, padding, dilation, groups), fmt, like))
    if transposed:
        result = _weight_grad(grad, input, weight.shape, stride, padding, dilation, groups)
    else:
        result = _weight_grad(input, grad, weight.shape, stride, padding, dilation, groups)
    return format_of(result, fmt, like)


def _bias_grad(grad, input, weight, bias, stride, padding, dilation, transposed,
               output_padding, groups):
    g = grad._data
    if g.ndim > 2 and g.size and g.dtype in (np.float32, np.float64) \
            and g.flags.c_contiguous and first_order():
        # NumPy sums over (N, *spatial) of an (N, C, *spatial) array a call per run of the
        # last dim (62 us for W10's 64 x 32 x 4 x 4 gradient); as an (N, C * S) matrix its
        # column sums are row additions over C * S contiguous elements, then each channel's S
        # columns fold into one (9 us), the order fixed on every CPU
        n, c = g.shape[:2]
        return make(np.add.reduce(g.reshape(n, -1), axis=0).reshape(c, -1).sum(1))
    return grad.sum((0,) + tuple(range(2, grad.dim())))


CONVOLUTION = defop(
    "convolution", node="ConvolutionBackward0", nin=3, kind=KEEP, promote=(0, 1),
    save=(0, 1),
    forward=_convolution_forward,
    backward=(lambda grad, input, weight, bias, stride, padding, dilation, transposed,
              output_padding, groups: _input_grad(grad, input, weight, stride, padding,
                                                  dilation, transposed, output_padding,
                                                  groups),
              _weight_grad_formula, _bias_grad))


# ---- padding ------------------------------------------------------------------------------


def _constant_pad_forward(xp, x, pads, value):
    # torch lays the result out in the input's format (NOTE [Channels-last outputs])
    out = pad_array(xp, x, pads, value)
    if not any(b > 0 or a > 0 for b, a in pads):
        # nothing added: pad_array gave the input or a cropped view of it; torch's result is
        # a new tensor (and a 0-d one stays 0-d)
        out = out.copy(order="C")
    return in_format(out, channels_last_format(x))


CONSTANT_PAD = defop(
    "constant_pad_nd", node="ConstantPadNdBackward0", kind=KEEP,
    forward=_constant_pad_forward,
    backward=lambda grad, self, pads, value: run(
        CONSTANT_PAD, grad, tuple((-b, -a) for b, a in pads), 0))


# ---- conv_tbc -------------------------------------------------------------------------------


def _conv_tbc_forward(xp, x, w, b, pad):
    k = w.shape[0]
    x = pad_array(xp, x, ((pad, pad), (0, 0), (0, 0)))
    t_out = x.shape[0] - k + 1
    out = xp.empty((t_out, x.shape[1], w.shape[2]), x.dtype)
    out[...] = b.astype(x.dtype, copy=False)
    if k and t_out and x.shape[1]:
        # (K, B, Cin, T_out) windows contracted with (K, Cin, Cout): one BLAS product
        view = xp.lib.stride_tricks.sliding_window_view(x, t_out, axis=0)
        out += xp.tensordot(view, w, axes=([0, 2], [0, 1])).transpose(1, 0, 2)
    return out


def _conv_tbc_input_grad(grad, self, weight, bias, pad):
    # a conv_tbc of ``grad`` with the kernel reversed and transposed; a pad beyond the
    # kernel's reach becomes a crop (negative padding), which the forward accepts
    k = weight.shape[0]
    flipped = weight.flip(0).transpose(1, 2)
    return run(CONV_TBC, grad, flipped, grad.new_zeros(self.shape[2]), k - 1 - pad)


def _conv_tbc_weight_grad(grad, self, weight, bias, pad):
    k, c_in, c_out = weight.shape
    t_out = grad.shape[0]
    padded = run(CONSTANT_PAD, self, ((pad, pad), (0, 0), (0, 0)), 0)
    cols = padded.unfold(0, t_out, 1)[:k]  # (K, B, Cin, T_out)
    cols = cols.permute(0, 2, 3, 1).reshape(k, c_in, -1)
    return cols.matmul(grad.reshape(-1, c_out))


CONV_TBC = defop(
    "conv_tbc", node="ConvTbcBackward0", nin=3, kind=KEEP, promote=(0,), save=(0, 1),
    forward=_conv_tbc_forward,
    backward=(_conv_tbc_input_grad, _conv_tbc_weight_grad,
              lambda grad, self, weight, bias, pad: grad.sum((0, 1))))
