"""Scaled matrix products of float8 matrices: the op behind ``F.scaled_mm``.

On the CPU torch dequantizes both operands to float32 (each multiplied by its scales),
multiplies them in float32, adds the bias in float32 and rounds once to the output dtype;
the forward below does the same with one matmul. torch records the op without a derivative
(its node is ``NotImplemented``): a backward through it raises torch's error.
"""
from __future__ import annotations

from ember import _dtype
from ember._ops.registry import KEEP, defop, not_implemented


def _to_float32(xp, array):
    return _dtype.cast(array, xp.float32)


def _scaled_mm_forward(xp, mat_a, mat_b, scale_a, scale_b, bias, out_np):
    a = _to_float32(xp, mat_a) * _to_float32(xp, scale_a)
    b = _to_float32(xp, mat_b) * _to_float32(xp, scale_b)
    out = xp.matmul(a, b)
    if bias is not None:
        out += _to_float32(xp, bias)
    return (_dtype.cast(out, out_np),)


_NO_DERIVATIVE = not_implemented("_scaled_mm_v2")

# One output, returned as a tuple (multi): ``run`` casts a single result of a several-input
# op to its promoted dtype, and this op's output dtype is an argument of its own.
SCALED_MM = defop("_scaled_mm_v2", node="NotImplemented", nin=5, kind=KEEP, promote=(0,),
                  multi=True, forward=_scaled_mm_forward, backward=(_NO_DERIVATIVE,) * 5)
SCALED_MM.node_cls.name = lambda self: "torch::autograd::NotImplemented"
