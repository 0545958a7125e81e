"""Op records of convolution, ``conv_tbc`` and constant padding (``torch.convolution``,
``constant_pad_nd``).

NOTE [Convolution as im2col]
The forward of a convolution reads the zero-padded input through one strided view whose
shape is (N, C, *out, *kernel) (``windows``), lays it out as columns and multiplies it by
the weight: one ``matmul`` per image (batched over the groups), whose result is already in
the output's layout, or, for small outputs, one product over the whole batch and a
transpose. A transposed convolution is col2im: one product gives every input position's
contribution at each kernel offset, and a loop over the kernel offsets adds them into the
output at the strided positions they reach (the zero-inserted input a transposed
convolution amounts to is never built). The bias is added in place on the product.
Gradients are convolutions again, run through the same record, so double backward
works: the input's gradient is the transposed convolution of ``grad`` (and the transposed
one's a plain convolution), the weight's gradient is a convolution of the input, read with
its batch and channel dims swapped, by ``grad`` used as the weight (stride and dilation
exchange roles).

Where the time goes (Conv2d(16, 32, 3, padding=1) on a (32, 16, 32, 32) float32 batch, best
of many runs on the shared 2-core machine, torch 2.13 CPU alongside): the forward takes
~4.3 ms against torch's ~1.6 ms: the sgemm (32 x 144 by 144 x 1024 per image, 0.3 GFLOP)
~2.8 ms, the im2col copy ~0.9 ms, the bias and padding ~0.5 ms; OpenBLAS reaches ~110
GFLOP/s on the two cores where torch's direct convolution is near the machine's peak. The
backward adds the input gradient (~7.5 ms: an sgemm with an inner dim of only 32, ~3.7 ms,
and the col2im adds, ~3.9 ms, bound by memory traffic over the 19 MB of columns) and the
weight gradient (~5 ms: an sgemm with a long inner dim, ~3 ms, and the copies that lay the
input and ``grad`` out for it). Forward + backward is ~2-3x torch's: three GEMMs of 0.3
GFLOP each are the floor of this design.
"""
from __future__ import annotations

import itertools
import math

from ember._ops.registry import KEEP, defop, run
from ember._tensor import Tensor

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


def _conv_forward(xp, x, w, b, stride, padding, dilation, groups):
    """A convolution (NOTE [Convolution as im2col]), the bias ``b`` (or None) added."""
    nd = x.ndim - 2
    x = pad_array(xp, x, tuple((p, p) for p in padding))
    kernel = w.shape[2:]
    win = windows(xp, x, kernel, stride, dilation)  # (N, C, *out, *kernel)
    n, c = x.shape[:2]
    o = w.shape[0]
    out = win.shape[2:2 + nd]
    length = math.prod(out)
    cgk = (c // groups) * math.prod(kernel)
    weight = w.reshape(groups, o // groups, cgk)
    out_axes = tuple(range(2, 2 + nd))
    kernel_axes = tuple(range(2 + nd, 2 + 2 * nd))
    # The im2col copy reads runs along the last dim of the output or of the kernel; the
    # columns are laid out so that the longer run is innermost (the weight gradient is a
    # convolution with a big kernel and a small output).
    if kernel[-1] > out[-1]:
        cols = win.transpose((0,) + out_axes + (1,) + kernel_axes)
        cols = cols.reshape(n * length, groups, cgk).swapaxes(0, 1)
        result = xp.matmul(cols, weight.swapaxes(1, 2))  # (G, N * L, O / G)
        result = result.reshape(groups, n, length, o // groups).transpose(1, 0, 3, 2)
        result = xp.ascontiguousarray(result).reshape(n, o, length)
    elif length >= _PER_IMAGE_MIN:
        # one product per image writes the result in its final layout (no transpose)
        cols = win.transpose((0, 1) + kernel_axes + out_axes).reshape(n, groups, cgk, length)
        result = xp.matmul(weight, cols).reshape(n, o, length)  # (N, G, O / G, L)
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


def _conv_transpose_forward(xp, x, w, b, stride, padding, dilation, output_padding, groups):
    """A transposed convolution as col2im: each input position's contribution to every
    kernel offset comes from one matrix product, then each offset's columns are added into
    the output at its strided positions (a loop over the few kernel offsets)."""
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
    cols = xp.matmul(weight, x.reshape(n, groups, cin // groups, length))
    cols = cols.reshape((n, cout) + kernel + spatial)  # (N, G, Cout/G * k, L)
    out = xp.zeros((n, cout) + size, cols.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        dst = [slice(None), slice(None)]
        src = [slice(None), slice(None), *offset]
        for i in range(nd):
            start = offset[i] * dilation[i] - padding[i]
            first, last = _scatter_range(start, spatial[i], stride[i], size[i])
            if last == first:  # this offset lands outside the (cropped) output
                break
            dst.append(slice(start + first * stride[i], start + (last - 1) * stride[i] + 1,
                             stride[i]))
            src.append(slice(first, last))
        else:
            out[tuple(dst)] += cols[tuple(src)]
    if b is not None:
        out += b.reshape((cout,) + (1,) * nd)
    return out


def _convolution_forward(xp, x, w, b, stride, padding, dilation, transposed, output_padding,
                         groups):
    if transposed:
        return _conv_transpose_forward(xp, x, w, b, stride, padding, dilation, output_padding,
                                       groups)
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
    if transposed:
        return _weight_grad(grad, input, weight.shape, stride, padding, dilation, groups)
    return _weight_grad(input, grad, weight.shape, stride, padding, dilation, groups)


def _bias_grad(grad, input, weight, bias, stride, padding, dilation, transposed,
               output_padding, groups):
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
    return xp.ascontiguousarray(pad_array(xp, x, pads, value))


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
