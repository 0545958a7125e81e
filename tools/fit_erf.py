"""Fit the polynomials of ember's erf (ember/_ops/pointwise.py, ``_ERF_POLYS``).

erf(x) / x, as a polynomial in t = x^2 on [0, 2.25] (|x| < 1.5), fitted by Chebyshev
interpolation at 40 significant digits (mpmath, which comes with the test dependencies) and
rounded to float64. Prints the coefficients, highest degree first, and each fit's largest
error over the interval, evaluated as ember evaluates it (Horner in float64)::

    python tools/fit_erf.py
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

DEGREES = {"float64": 16, "float32": 12}  # results rounded to float64 / to float32 or narrower


def erf_over_x(t):
    return mp.erf(mp.sqrt(t)) / mp.sqrt(t) if t > 0 else 2 / mp.sqrt(mp.pi)


def main() -> None:
    mp.mp.dps = 40
    x = np.linspace(0.0, 1.5, 20001)
    exact = np.array([float(mp.erf(mp.mpf(float(v)))) for v in x])
    for name, degree in DEGREES.items():
        coeffs, _ = mp.chebyfit(erf_over_x, [0, 2.25], degree + 1, error=True)
        floats = [float(c) for c in coeffs]
        acc = np.full_like(x, floats[0])
        for c in floats[1:]:
            acc = acc * (x * x) + c
        worst = np.max(np.abs(acc * x - exact) / np.maximum(np.abs(exact), 1e-300))
        print(f"{name}: degree {degree}, largest relative error {worst:.2e}")
        print("    (" + ",\n     ".join(repr(c) for c in floats) + ")")


if __name__ == "__main__":
    main()
