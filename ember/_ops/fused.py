"""Fused multiply-adds as torch's CPU kernels compute them: ``a * b + c`` rounded once.

torch's kernels are compiled with floating-point contraction, so its ``add``/``sub`` with an
``alpha``, ``lerp``, ``addcmul`` and its samplers' float32 polynomials round a product and a
sum once, where NumPy rounds each. ``fma32`` and ``fma64`` compute that single rounding on
NumPy's arrays; ``fma`` picks one by dtype.
"""
from __future__ import annotations

from ember._backend import np

_F32 = np.float32
_F64 = np.float64
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def fma32(a, b, c):
    """Single-precision fused multiply-add, rounded once. The float64 product of two
    float32s is exact; rounding its float64 sum to float32 is a double rounding only where
    that sum lands exactly halfway between two float32s, so only there is the sum's own
    error consulted to break the tie (float32 subnormal results aside)."""
    p = np.asarray(a, _F64) * np.asarray(b, _F64)
    c = np.asarray(c, _F64)
    s = np.asarray(p + c)
    tie = (s.view(np.int64) & 0x1FFFFFFF) == 0x10000000
    if tie.any():
        shape = s.shape
        p, c = (np.atleast_1d(v) for v in np.broadcast_arrays(p, c))
        s = np.atleast_1d(s)
        at = np.nonzero(np.atleast_1d(tie))
        p_t, c_t, s_t = p[at], c[at], s[at]
        back = s_t - p_t
        err = (p_t - (s_t - back)) + (c_t - back)
        s[at] = np.where(err == 0, s_t, np.nextafter(s_t, np.where(err > 0, np.inf, -np.inf)))
        s = s.reshape(shape)
    return s.astype(_F32)


def fma64(a, b, c):
    """Double-precision fused multiply-add: the product's rounding error is recovered exactly
    (Dekker) and added back with the sum's. Equal to a single rounding except in
    astronomically rare double-rounding ties."""
    if isinstance(b, float) and b == 1.0:  # a * 1 is exact, so the fused result is one sum
        return np.asarray(a, _F64) + c
    a = np.asarray(a, _F64)
    b = np.asarray(b, _F64)
    p = a * b
    a_hi = a * _SPLIT - (a * _SPLIT - a)
    b_hi = b * _SPLIT - (b * _SPLIT - b)
    a_lo = a - a_hi
    b_lo = b - b_hi
    p_err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s = p + c
    back = s - p
    s_err = (p - (s - back)) + (c - back)
    fused = s + (p_err + s_err)
    # the error terms are NaN where the product or sum overflows: the plain result is right
    return np.where(np.isfinite(fused), fused, s)


def fma(a, b, c, dtype):
    """``a * b + c`` rounded once to the float32 or float64 ``dtype`` (NumPy's), from operands
    of that dtype; a float16/bfloat16 ``dtype`` takes torch's float32 fused result rounded to
    it (its kernels compute half types in float32)."""
    if dtype == _F64:
        return fma64(a, b, c)
    r = fma32(a, b, c)
    return r if dtype == _F32 else r.astype(dtype)
