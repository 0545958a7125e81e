"""Fit the polynomials of ember's erf (ember/_ops/pointwise.py, ``_ERF_POLY``,
``_ERF_POLY32`` and ``_ERFCX_POLY``).

erf(x) / x, as a polynomial in t = x^2 on [0, 2.25] (|x| < 1.5), fitted by Chebyshev
interpolation at 40 significant digits (mpmath, which comes with the test dependencies) and
rounded to the dtype it is evaluated in. Prints the coefficients, highest degree first, and
each fit's largest error over the interval, evaluated as ember evaluates it (Horner in that
dtype)::

    python tools/fit_erf.py

The float32 erfc beyond the split, 1.5 <= z <= 10.5, is erfcx(z) = e^(z^2) erfc(z) = w Q(w)
with w = 2 / (2 + z): Q of degree 9 interpolates erfcx(z) / w at 64 Chebyshev nodes in w,
evaluated in float64 (Horner, highest degree first).
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

# name: (degree, the dtype of the arithmetic): float64 results (``_ERF_POLY``); float32
# arithmetic throughout (``_ERF_POLY32``, GELU's float32 kernels)
DEGREES = {"float64": (16, np.float64), "float32 arithmetic": (7, np.float32)}


def erf_over_x(t):
    return mp.erf(mp.sqrt(t)) / mp.sqrt(t) if t > 0 else 2 / mp.sqrt(mp.pi)


TAIL = (1.5, 10.5)  # the z range of ``_ERFCX_POLY``
TAIL_DEGREE = 9


def erfcx(z: float) -> float:
    return float(mp.exp(mp.mpf(z) ** 2) * mp.erfc(mp.mpf(z)))


def fit_tail() -> None:
    w_lo, w_hi = 2 / (2 + TAIL[1]), 2 / (2 + TAIL[0])
    nodes = np.cos(np.pi * (np.arange(64) + 0.5) / 64)
    w = w_lo + (w_hi - w_lo) * (nodes + 1) / 2
    series = np.polynomial.Chebyshev.fit(w, [erfcx(2 / v - 2) / v for v in w], TAIL_DEGREE,
                                         domain=[w_lo, w_hi])
    coeffs = series.convert(kind=np.polynomial.Polynomial, domain=[-1, 1],
                            window=[-1, 1]).coef[::-1]
    z = np.linspace(*TAIL, 20001)
    wz = 2 / (2 + z)
    acc = np.full_like(wz, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * wz + c
    worst = np.max(np.abs(acc * wz / np.array([erfcx(v) for v in z]) - 1))
    print(f"erfcx tail: degree {TAIL_DEGREE}, largest relative error {worst:.2e}")
    print("    (" + ",\n     ".join(repr(float(c)) for c in coeffs) + ")")


def main() -> None:
    mp.mp.dps = 40
    for name, (degree, dtype) in DEGREES.items():
        x = np.linspace(0.0, 1.5, 20001).astype(dtype)
        exact = np.array([float(mp.erf(mp.mpf(float(v)))) for v in x])
        coeffs, _ = mp.chebyfit(erf_over_x, [0, 2.25], degree + 1, error=True)
        floats = [float(dtype(float(c))) for c in coeffs]
        acc = np.full_like(x, floats[0])
        for c in floats[1:]:
            acc = acc * (x * x) + dtype(c)
        worst = np.max(np.abs(acc * x - exact) / np.maximum(np.abs(exact), 1e-300))
        print(f"{name}: degree {degree}, largest relative error {worst:.2e}")
        print("    (" + ",\n     ".join(repr(c) for c in floats) + ")")
    fit_tail()


if __name__ == "__main__":
    main()
