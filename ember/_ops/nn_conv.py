"""Op records of convolution and constant padding (``torch.convolution``,
``constant_pad_nd``).

NOTE [Convolution as im2col]
The forward of a convolution reads the zero-padded input through one strided view whose
shape is (N, C, *out, *kernel) (``_windows``), lays it out as columns and multiplies it by
the weight in one ``matmul`` (batched over the groups). A transposed convolution is the
same kernel on the input with zeros inserted between its elements (the stride), padded by
``dilation * (kernel - 1) - padding`` and convolved with the flipped, in/out-swapped
weight. Gradients are convolutions again, run through the same record, so double backward
works: the input's gradient is the transposed convolution of ``grad`` (and the transposed
one's a plain convolution), the weight's gradient is a convolution of the input, read with
its batch and channel dims swapped, by ``grad`` used as the weight (stride and dilation
exchange roles).
"""
from __future__ import annotations

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
    crop = tuple(slice(max(-b, 0), x.shape[lead + i] - max(-a, 0))
                 for i, (b, a) in enumerate(pads))
    if any(b < 0 or a < 0 for b, a in pads):
        x = x[(slice(None),) * lead + crop]
    widths = ((0, 0),) * lead + tuple((max(b, 0), max(a, 0)) for b, a in pads)
    if not any(b or a for b, a in widths):
        return x
    return xp.pad(x, widths, constant_values=value)


def _conv_forward(xp, x, w, stride, padding, dilation, groups):
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
    else:
        cols = win.transpose((1,) + kernel_axes + (0,) + out_axes)
        cols = cols.reshape(groups, cgk, n * length)
        result = xp.matmul(weight, cols)  # (G, O / G, N * L)
        result = result.reshape(groups, o // groups, n, length).transpose(2, 0, 1, 3)
    return xp.ascontiguousarray(result).reshape((n, o) + out)


def _dilate(xp, x, stride):
    """``x`` with ``stride - 1`` zeros inserted between neighbours along each spatial dim."""
    if all(s == 1 for s in stride):
        return x
    nd = len(stride)
    shape = x.shape[:2] + tuple((x.shape[2 + i] - 1) * stride[i] + 1 if x.shape[2 + i] else 0
                                for i in range(nd))
    z = xp.zeros(shape, x.dtype)
    z[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    return z


def _conv_transpose_forward(xp, x, w, stride, padding, dilation, output_padding, groups):
    nd = x.ndim - 2
    kernel = w.shape[2:]
    z = _dilate(xp, x, stride)
    edge = tuple(dilation[i] * (kernel[i] - 1) - padding[i] for i in range(nd))
    z = pad_array(xp, z, tuple((edge[i], edge[i] + output_padding[i]) for i in range(nd)))
    cin = w.shape[0]
    cout_g = w.shape[1]
    # (Cin, Cout/G, *k) -> (Cout, Cin/G, *k), the kernel flipped
    wt = w.reshape((groups, cin // groups, cout_g) + kernel).swapaxes(1, 2)
    wt = wt[(Ellipsis,) + (slice(None, None, -1),) * nd]
    wt = wt.reshape((groups * cout_g, cin // groups) + kernel)
    return _conv_forward(xp, z, wt, (1,) * nd, (0,) * nd, dilation, groups)


def _convolution_forward(xp, x, w, b, stride, padding, dilation, transposed, output_padding,
                         groups):
    if transposed:
        out = _conv_transpose_forward(xp, x, w, stride, padding, dilation, output_padding,
                                      groups)
    else:
        out = _conv_forward(xp, x, w, stride, padding, dilation, groups)
    if b is not None:
        out = out + b.reshape((-1,) + (1,) * (x.ndim - 2))
    return xp.ascontiguousarray(out)


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
