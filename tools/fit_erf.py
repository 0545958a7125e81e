"""Fit the polynomials of ember's erf (ember/_ops/pointwise.py, ``_ERF_POLY`` and
``_ERF_POLY32``).

erf(x) / x, as a polynomial in t = x^2 on [0, 2.25] (|x| < 1.5), fitted by Chebyshev
interpolation at 40 significant digits (mpmath, which comes with the test dependencies) and
rounded to the dtype it is evaluated in. Prints the coefficients, highest degree first, and
each fit's largest error over the interval, evaluated as ember evaluates it (Horner in that
dtype)::

    python tools/fit_erf.py
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

# name: (degree, the dtype of the arithmetic): float64 results (``_ERF_POLY``); float32
# arithmetic throughout (``_ERF_POLY32``, GELU's float32 kernels)
DEGREES = {"float64": (16, np.float64), "float32 arithmetic": (7, np.float32)}


def erf_over_x(t):
    return mp.erf(mp.sqrt(t)) / mp.sqrt(t) if t > 0 else 2 / mp.sqrt(mp.pi)


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


if __name__ == "__main__":
    main()
