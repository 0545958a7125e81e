"""The rest of torch.special: Bessel and Airy functions, orthogonal polynomials, the normal
distribution's functions, incomplete gamma, zeta, and their top-level and Tensor forms.

NOTE [More special-function kernels]: as NOTE [Special-function kernels] in pointwise.py,
every kernel runs in float64 on whole arrays (a mask per branch, a fixed or data-bounded
number of terms, never a loop over elements) and rounds once to the result dtype:
  I0, I1 (and their scaled forms)  the power series below 25, Hankel's expansion above.
  K0, K1  the power series with the logarithm below 2; above, e^x K(x) = int_0^inf
          e^(-x (cosh t - 1)) cosh(nu t) dt by the trapezoidal rule, which converges
          geometrically for this analytic, doubly decaying integrand.
  J0, J1  Bessel's integral (1/pi) int_0^pi cos(n t - x sin t) dt by the trapezoidal rule
          (exact up to aliasing of orders beyond 2N) below 25, Hankel's expansion above.
  Y0, Y1  the series with the logarithm below 2; to 25 the integral form (Gauss-Legendre on
          both parts); Hankel's expansion above.
  Ai      the Maclaurin series on [-8, 1); K_1/3 (the integral above) beyond 1; the
          oscillatory asymptotic expansion below -8.
  P(a, x), Q(a, x)  the series of P when x < a + 1, Legendre's continued fraction for Q
          otherwise, each summed until every element has converged.
  zeta(s, q)  direct sum until q + k >= 12, then the Euler-Maclaurin tail.
  polynomials  their three-term recurrences, run to the largest degree present, in the
          result dtype as torch's (the closed forms torch uses for Chebyshev of high degree).
"""
from __future__ import annotations

import functools
import math

from ember._backend import np
from ember._ops.pointwise import (
    _BERNOULLI,
    _EULER_GAMMA,
    POLYGAMMA,
    _erfc64,
    _erfinv64,
    _in_float64,
    _lgamma64,
    _tensors_only,
    _unsupported,
    digamma,
    erf,
    lgamma,
    where,
)
from ember._ops.registry import FLOAT, SAME, attach, defop, run, run_inplace
from ember._tensor import Tensor, method_taking_tensor, tensor_argument

__all__: list[str] = ["igamma", "igammac", "mvlgamma"]  # torch's top-level names
SPECIAL_ALL: list[str] = [  # torch.special's names
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p", "entr", "erfcx", "gammainc",
    "gammaincc", "i0e", "i1e", "log_ndtr", "ndtr", "ndtri", "log_softmax", "softmax",
    "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
    "multigammaln", "spherical_bessel_j0", "xlog1py", "zeta"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_LN2 = math.log(2.0)


def _check(kernel: str, kinds: str):
    """A check refusing inputs whose promoted dtype kind is in ``kinds`` ("e" half types,
    "c" complex, "iub" integers and bool), with torch's kernel error."""
    def check(*args) -> None:
        dtypes = [a._data.dtype for a in args if isinstance(a, Tensor)]
        if not dtypes:
            return  # a number: the forward meets it, and the op runner refuses it
        dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes[0]
        code = "e" if dtype.itemsize == 2 and dtype.kind in "fV" else dtype.kind
        if code in kinds:
            raise _unsupported(kernel, dtype)
    return check


def _binary_float64(kernel):
    """A two-input forward computing ``kernel`` in float64, rounded to the result dtype."""
    def forward(xp, a, b):
        dtype = np.result_type(a, b)
        with np.errstate(all="ignore"):
            r = kernel(np.asarray(a, np.float64), np.asarray(b, np.float64))
        if dtype.itemsize == 2:
            r = r.astype(np.float32)
        return np.asarray(r).astype(dtype, copy=False)
    return forward


def _quiet(kernel):
    def wrapped(x):
        with np.errstate(all="ignore"):
            return kernel(x)
    return wrapped


def _unary_op(name, kernel, node=None, backward=None, save=(), halves=True, kernel_name=None):
    kinds = "c" if halves else "ce"
    return defop(name, node=node, kind=FLOAT, save=save, backward=backward,
                 check=_check(kernel_name or name + "_cpu", kinds),
                 forward=_in_float64(_quiet(kernel)))


# ---- modified Bessel functions -----------------------------------------------------------

_SERIES_TERMS = 80
_HANKEL_FROM = 25.0
_HANKEL_TERMS = 24


def _hankel_coefficients(nu: float, terms: int) -> list[float]:
    """a_k(nu) = prod_{j<=k} (4 nu^2 - (2j - 1)^2) / (8 j), Hankel's coefficients."""
    coeffs = [1.0]
    for j in range(1, terms):
        coeffs.append(coeffs[-1] * (4 * nu * nu - (2 * j - 1) ** 2) / (8 * j))
    return coeffs


def _bessel_i_scaled(order: int, x):
    """e^-|x| I_order(x) for order 0 or 1, and |x| (the scale's exponent)."""
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < _HANKEL_FROM
    xs = ax[small]
    term = (xs / 2) ** order
    quarter_square = xs * xs / 4
    total = term.copy()
    for k in range(1, _SERIES_TERMS):
        term = term * quarter_square / (k * (k + order))
        total += term
    out[small] = total * np.exp(-xs)
    xb = ax[~small]
    acc = np.zeros_like(xb)
    inv = 1.0 / xb
    for c in reversed(_hankel_coefficients(order, _HANKEL_TERMS)):
        acc = acc * (-inv) + c
    out[~small] = acc / (_SQRT_2PI * np.sqrt(xb))  # 2 pi x would overflow first
    if order == 1:
        out = np.copysign(out, x)
    return out, ax


def _i0e64(x):
    return _bessel_i_scaled(0, x)[0]


def _i1e64(x):
    return _bessel_i_scaled(1, x)[0]


def _unscaled(order: int):
    def kernel(x):
        scaled, ax = _bessel_i_scaled(order, x)
        # e^|x| overflows a little before I(x) does (past 709.78): inf there, as torch
        return np.where(np.isinf(x), np.nan, scaled * np.exp(ax))
    return kernel


_K_SMALL = 2.0
_K_STEP = 0.125
_K_NODES = 49  # t up to 6: x (cosh t - 1) > 40 there for every x >= 2


def _k_scaled_integral(nu: float, x):
    """e^x K_nu(x) for x well away from 0, by the trapezoidal rule in t."""
    acc = np.zeros_like(x)
    for k in range(_K_NODES):
        t = k * _K_STEP
        weight = 0.5 if k == 0 else 1.0
        acc += weight * math.cosh(nu * t) * np.exp(-x * (math.cosh(t) - 1.0))
    return acc * _K_STEP


def _harmonic(terms: int) -> list[float]:
    values = [0.0]
    for k in range(1, terms):
        values.append(values[-1] + 1.0 / k)
    return values


_HARMONIC = _harmonic(42)


def _log_series_sums(order: int, x, q, terms: int):
    """The two power series of the small-argument forms of K and Y (orders 0 and 1): the
    sum of t_k = (x/2)^order q^k / (k! (k + order)!) and its sum weighted by the harmonic
    numbers (H_k, or H_k + H_(k+1) - 2 gamma for order 1)."""
    term = np.ones_like(x) if order == 0 else x / 2
    plain = np.zeros_like(x)
    weighted = np.zeros_like(x)
    for k in range(terms):
        if k:
            term = term * q / (k * (k + order))
        plain += term
        if order == 0:
            weighted += _HARMONIC[k] * term
        else:
            weighted += (_HARMONIC[k] + _HARMONIC[k + 1] - 2 * _EULER_GAMMA) * term
    return plain, weighted


def _k_series(order: int, x):
    """K_order(x) for small positive x (A&S 9.6.13 and 9.6.11)."""
    log_half = np.log(x / 2)  # torch's: inf (K0) and nan (K1) at the least subnormal
    i_sum, digamma_sum = _log_series_sums(order, x, x * x / 4, 40)
    if order == 0:
        return -(log_half + _EULER_GAMMA) * i_sum + digamma_sum
    return 1.0 / x + log_half * i_sum - 0.5 * digamma_sum


def _k_scaled_hankel(nu: float, x):
    """e^x K_nu(x) for large x: sqrt(pi / 2x) sum_k a_k(nu) / x^k (A&S 9.7.2)."""
    acc = np.zeros_like(x)
    inv = 1.0 / x
    for c in reversed(_hankel_coefficients(nu, _HANKEL_TERMS)):
        acc = acc * inv + c
    return acc * np.sqrt(math.pi / (2 * x))


def _k_scaled(nu: float, x):
    """e^x K_nu(x) for x >= 2: the integral to 25, Hankel's expansion beyond (where the
    integrand's peak at t = 0 grows too narrow for the rule's step)."""
    out = np.empty_like(x)
    near = x < _HANKEL_FROM
    out[near] = _k_scaled_integral(nu, x[near])
    out[~near] = _k_scaled_hankel(nu, x[~near])
    return out


def _bessel_k(order: int, scaled: bool):
    def kernel(x):
        out = np.full_like(x, np.nan)
        small = (x > 0) & (x < _K_SMALL)
        xs = x[small]
        series = _k_series(order, xs)
        out[small] = series * np.exp(xs) if scaled else series
        big = (x >= _K_SMALL) & np.isfinite(x)
        xb = x[big]
        integral = _k_scaled(order, xb)
        out[big] = integral if scaled else integral * np.exp(-xb)
        out[x == 0] = np.inf
        out[x == np.inf] = 0.0
        return out
    return kernel


# ---- Bessel functions of the first and second kind -----------------------------------------

_J_INTERVALS = 64


def _j_integral(order: int, x):
    """J_order(x) = (1/pi) int_0^pi cos(order t - x sin t) dt: the integrand is even and
    2 pi-periodic, so the trapezoidal rule is exact up to aliasing (orders beyond 2N)."""
    acc = np.zeros_like(x)
    for k in range(_J_INTERVALS + 1):
        t = math.pi * k / _J_INTERVALS
        weight = 0.5 if k in (0, _J_INTERVALS) else 1.0
        acc += weight * np.cos(order * t - x * math.sin(t))
    return acc / _J_INTERVALS


def _hankel_pq(order: int, x):
    """Hankel's P and Q for large positive x."""
    coeffs = _hankel_coefficients(order, 2 * _HANKEL_TERMS)
    inv2 = 1.0 / (x * x)
    p = np.zeros_like(x)
    q = np.zeros_like(x)
    for k in range(_HANKEL_TERMS - 1, -1, -1):
        sign = -1.0 if k % 2 else 1.0
        p = p * inv2 + sign * coeffs[2 * k]
        q = q * inv2 + sign * coeffs[2 * k + 1]
    return p, q / x


def _hankel(order: int, x, second_kind: bool):
    p, q = _hankel_pq(order, x)
    chi = x - (order / 2 + 0.25) * math.pi
    c, s = np.cos(chi), np.sin(chi)
    amplitude = np.sqrt(2.0 / (math.pi * x))
    return amplitude * (p * s + q * c) if second_kind else amplitude * (p * c - q * s)


def _j_series(order: int, x):
    """J_order(x) by its power series, for small |x|."""
    term = np.ones_like(x) if order == 0 else x / 2
    q = -x * x / 4
    total = term.copy()
    for k in range(1, 30):
        term = term * q / (k * (k + order))
        total += term
    return total


def _bessel_j(order: int):
    def kernel(x):
        ax = np.abs(x)
        out = np.empty_like(ax)
        small = ax < _K_SMALL
        out[small] = _j_series(order, ax[small])
        middle = (ax >= _K_SMALL) & (ax < _HANKEL_FROM)
        out[middle] = _j_integral(order, ax[middle])
        big = ~(small | middle)
        out[big] = _hankel(order, ax[big], False)
        return np.where(x < 0, -out, out) if order == 1 else out
    return kernel


@functools.cache
def _gauss_legendre(n: int):
    return np.polynomial.legendre.leggauss(n)


_Y_NODES = 80


def _y_integral(order: int, x):
    """Y_order(x) for x in [2, 25): (1/pi) int_0^pi sin(x sin t - order t) dt - (1/pi)
    int_0^inf (e^(order t) + (-1)^order e^(-order t)) e^(-x sinh t) dt (A&S 9.1.22)."""
    nodes, weights = _gauss_legendre(_Y_NODES)
    first = np.zeros_like(x)
    second = np.zeros_like(x)
    upper = np.arcsinh(45.0 / x) + 1.0  # e^(-x sinh t) is below e^-45 beyond
    sign = -1.0 if order % 2 else 1.0
    for u, w in zip(nodes, weights):
        t = math.pi * (u + 1) / 2
        first += w * np.sin(x * math.sin(t) - order * t)
        s = upper * (u + 1) / 2
        second += w * (np.exp(order * s) + sign * np.exp(-order * s)) * np.exp(-x * np.sinh(s))
    return (first * (math.pi / 2) - second * (upper / 2)) / math.pi


def _y_series(order: int, x):
    """Y_order(x) for small positive x (A&S 9.1.13 and 9.1.11)."""
    log_term = (2 / math.pi) * (np.log(x) - _LN2)  # x / 2 underflows at 5e-324
    j_sum, digamma_sum = _log_series_sums(order, x, -x * x / 4, 30)
    if order == 0:
        return (log_term + 2 * _EULER_GAMMA / math.pi) * j_sum - (2 / math.pi) * digamma_sum
    return -2 / (math.pi * x) + log_term * j_sum - digamma_sum / math.pi


def _bessel_y(order: int):
    def kernel(x):
        out = np.full_like(x, np.nan)
        small = (x > 0) & (x < _K_SMALL)
        out[small] = _y_series(order, x[small])
        middle = (x >= _K_SMALL) & (x < _HANKEL_FROM)
        out[middle] = _y_integral(order, x[middle])
        big = (x >= _HANKEL_FROM) & np.isfinite(x)
        out[big] = _hankel(order, x[big], True)
        out[x == 0] = -np.inf
        return out
    return kernel


def _spherical_bessel_j0(x):
    r = np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1.0, x))
    return np.where(np.isinf(x), 0.0, r)


# ---- the Airy function -----------------------------------------------------------------

_AIRY_C1 = 0.355028053887817239260063186004  # Ai(0) = 1 / (3^(2/3) Gamma(2/3))
_AIRY_C2 = 0.258819403792806798405183560189  # -Ai'(0) = 1 / (3^(1/3) Gamma(1/3))
_AIRY_SERIES_FROM = -8.0
_AIRY_K_FROM = 1.0
_AIRY_SERIES_TERMS = 60
_AIRY_ASYMPTOTIC_TERMS = 16


def _airy_series(x):
    cube = x * x * x
    f_term = np.ones_like(x)
    g_term = x.copy()
    f = f_term.copy()
    g = g_term.copy()
    for k in range(1, _AIRY_SERIES_TERMS):
        f_term = f_term * cube / ((3 * k - 1) * (3 * k))
        g_term = g_term * cube / ((3 * k) * (3 * k + 1))
        f += f_term
        g += g_term
    return _AIRY_C1 * f - _AIRY_C2 * g


def _airy_oscillating(x):
    """Ai(x) for large negative x (A&S 10.4.60)."""
    z = -x
    zeta = 2.0 / 3.0 * z * np.sqrt(z)
    u = [1.0]
    for k in range(1, 2 * _AIRY_ASYMPTOTIC_TERMS):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    inv2 = 1.0 / (zeta * zeta)
    even = np.zeros_like(z)
    odd = np.zeros_like(z)
    for k in range(_AIRY_ASYMPTOTIC_TERMS - 1, -1, -1):
        sign = -1.0 if k % 2 else 1.0
        even = even * inv2 + sign * u[2 * k]
        odd = odd * inv2 + sign * u[2 * k + 1]
    phase = zeta + math.pi / 4
    return (np.sin(phase) * even - np.cos(phase) * odd / zeta) / (_SQRT_PI * np.sqrt(np.sqrt(z)))


def _airy_ai64(x):
    out = np.full_like(x, np.nan)
    middle = (x >= _AIRY_SERIES_FROM) & (x < _AIRY_K_FROM)
    out[middle] = _airy_series(x[middle])
    big = (x >= _AIRY_K_FROM) & np.isfinite(x)
    xb = x[big]
    zeta = 2.0 / 3.0 * xb * np.sqrt(xb)
    out[big] = np.sqrt(xb / 3) / math.pi * _k_scaled(1.0 / 3.0, zeta) * np.exp(-zeta)
    low = (x < _AIRY_SERIES_FROM) & np.isfinite(x)
    out[low] = _airy_oscillating(x[low])
    return out


# ---- the normal distribution, entropy, erfcx ----------------------------------------------

_ERFCX_FRACTION_FROM = 1.5
_ERFCX_DEPTH = 80


def _erfcx64(x):
    out = np.empty_like(x)
    big = x >= _ERFCX_FRACTION_FROM
    xb = x[big]
    # erfcx(x) = 1 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))): no e^x^2
    tail = xb.copy()
    for k in range(_ERFCX_DEPTH, 0, -1):
        tail = xb + (k / 2.0) / tail
    out[big] = np.where(np.isinf(xb), 0.0, 1.0 / (_SQRT_PI * tail))
    xs = x[~big]
    out[~big] = np.exp(xs * xs) * _erfc64(xs)
    return out


def _entr64(x):
    r = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)), -np.inf)
    r = np.where(x == 0, 0.0, r)
    return np.where(np.isnan(x), np.nan, r)


def _log_ndtr64(x):
    t = x * _SQRT1_2
    low = x < -1.0
    # below -1 the tail is erfc(-t) / 2 = erfcx(-t) e^(-t^2) / 2, whose log needs no e^(-t^2)
    tail = np.log(_erfcx64(np.where(low, -t, 1.0)) / 2) - t * t
    return np.where(low, tail, np.log1p(-_erfc64(np.where(low, 0.0, t)) / 2))


def _ndtr_tail64(x):
    """ndtr(x) = erfc(-x / sqrt 2) / 2, accurate in relative terms for negative x."""
    return _erfc64(-x * _SQRT1_2) / 2


def _ndtri64(p):
    x = math.sqrt(2.0) * _erfinv64(2.0 * p - 1.0)
    lower = p < 0.5
    target = np.where(lower, p, 1.0 - p)  # 1 - p is exact for p >= 1/2
    z = np.where(lower, x, -x)  # the lower tail: ndtr(z) = target, z <= 0
    # for tiny p the erfinv estimate loses digits; the tail's asymptotic root is closer
    log_t = np.log(np.where(target > 0, target, 1.0))
    r = np.sqrt(np.maximum(-2.0 * log_t, 0.0))
    guess = -np.sqrt(np.maximum(r * r - np.log(np.maximum(r * r, 1.0) * 2 * math.pi), 0.0))
    z = np.where((target < 1e-10) | ~np.isfinite(z), guess, z)
    finite = (target > 0) & np.isfinite(z)
    z = np.where(finite, z, 0.0)
    for _ in range(4):  # Halley's method on ndtr(z) = target, relative residual
        density = np.exp(-z * z / 2) / _SQRT_2PI
        u = (_ndtr_tail64(z) - target) / density
        z = z - u / (1.0 + z * u / 2)
    # Deep in the tail ndtr(z) is subnormal and loses digits: Newton on log ndtr(z) instead
    tiny = target < 1e-290
    z = np.array(z, np.float64)  # a 0-d result of the arithmetic above is a NumPy scalar
    if tiny.any():
        zt, log_target = z[tiny], log_t[tiny]
        for _ in range(4):
            log_cdf = _log_ndtr64(zt)
            zt = zt - (log_cdf - log_target) * _SQRT_2PI * np.exp(zt * zt / 2 + log_cdf)
        z[tiny] = zt
    z = np.where(lower, z, -z)
    z = np.where(p == 0, -np.inf, np.where(p == 1, np.inf, z))
    return np.where((p < 0) | (p > 1) | np.isnan(p), np.nan, z)


def _erfcx_backward(grad, self, result):
    return grad * (2 * self * result - 2 / _SQRT_PI)


def _i0e_backward(grad, self):
    return grad * (run(I1E, self) - self.sgn() * run(I0E, self))


def _i1e_backward(grad, self, result):
    nonzero = where(self == 0, 1.0, self)
    slope = run(I0E, self) - result * (self.sgn() + 1 / nonzero)
    return grad * where(self == 0, 0.5, slope)


ENTR = _unary_op("special_entr", _entr64, "SpecialEntrBackward0",
                 lambda grad, self: grad * -(1 + self.log()), (0,), kernel_name="entr_cpu")
ERFCX = _unary_op("special_erfcx", _erfcx64, "SpecialErfcxBackward0", _erfcx_backward,
                  (0, "result"), halves=False, kernel_name="erfcx_cpu")
I0E = _unary_op("special_i0e", _i0e64, "SpecialI0EBackward0", _i0e_backward, (0,),
                kernel_name="i0e_cpu")
I1E = _unary_op("special_i1e", _i1e64, "SpecialI1EBackward0", _i1e_backward, (0, "result"),
                kernel_name="i1e_cpu")
LOG_NDTR = _unary_op(
    "special_log_ndtr", _log_ndtr64, "SpecialLogNdtrBackward0",
    lambda grad, self, result: grad * (-self * self / 2 - result).exp() / _SQRT_2PI,
    (0, "result"), halves=False, kernel_name="log_ndtr_cpu")
NDTRI = _unary_op(
    "special_ndtri", _ndtri64, "SpecialNdtriBackward0",
    lambda grad, self, result: grad * _SQRT_2PI * (result * result / 2).exp(),
    ("result",), halves=False, kernel_name="ndtri_cpu")

# No derivative in torch: these record no graph.
AIRY_AI = _unary_op("special_airy_ai", _airy_ai64, halves=False, kernel_name="airy_ai_cpu")
BESSEL_J0 = _unary_op("special_bessel_j0", _bessel_j(0), halves=False,
                      kernel_name="bessel_j0_cpu")
BESSEL_J1 = _unary_op("special_bessel_j1", _bessel_j(1), halves=False,
                      kernel_name="bessel_j1_cpu")
BESSEL_Y0 = _unary_op("special_bessel_y0", _bessel_y(0), halves=False,
                      kernel_name="bessel_y0_cpu")
BESSEL_Y1 = _unary_op("special_bessel_y1", _bessel_y(1), halves=False,
                      kernel_name="bessel_y1_cpu")
MODIFIED_I0 = _unary_op("special_modified_bessel_i0", _unscaled(0), halves=False,
                        kernel_name="modified_bessel_i0_cpu")
MODIFIED_I1 = _unary_op("special_modified_bessel_i1", _unscaled(1), halves=False,
                        kernel_name="modified_bessel_i1_cpu")
MODIFIED_K0 = _unary_op("special_modified_bessel_k0", _bessel_k(0, False), halves=False,
                        kernel_name="modified_bessel_k0_cpu")
MODIFIED_K1 = _unary_op("special_modified_bessel_k1", _bessel_k(1, False), halves=False,
                        kernel_name="modified_bessel_k1_cpu")
SCALED_K0 = _unary_op("special_scaled_modified_bessel_k0", _bessel_k(0, True), halves=False,
                      kernel_name="scaled_modified_bessel_k0_cpu")
SCALED_K1 = _unary_op("special_scaled_modified_bessel_k1", _bessel_k(1, True), halves=False,
                      kernel_name="scaled_modified_bessel_k1_cpu")
SPHERICAL_J0 = _unary_op("special_spherical_bessel_j0", _spherical_bessel_j0, halves=False,
                         kernel_name="spherical_bessel_j0_cpu")


def _unary_function(op, name: str, what: str):
    def fn(input: Tensor) -> Tensor:
        return run(op, input)
    return _named(fn, name, what)


def _unary_function_x(op, name: str, what: str):
    """As ``_unary_function``, for the functions whose torch parameter is named ``x``."""
    def fn(x: Tensor) -> Tensor:
        return run(op, x)
    return _named(fn, name, what)


def _named(fn, name: str, what: str):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Mirrors ``torch.special.{name}``: {what} (ember's own float64 kernel, "
                  "NOTE [More special-function kernels]); integers give the default float.")
    return fn


entr = _unary_function(ENTR, "entr", "-x log(x) elementwise, -inf below 0")
erfcx = _unary_function(ERFCX, "erfcx", "the scaled complementary error function")
i0e = _unary_function(I0E, "i0e", "the exponentially scaled I0, e^-|x| I0(x)")
i1e = _unary_function(I1E, "i1e", "the exponentially scaled I1, e^-|x| I1(x)")
log_ndtr = _unary_function(LOG_NDTR, "log_ndtr", "the log of the standard normal CDF")
ndtri = _unary_function(NDTRI, "ndtri", "the inverse of the standard normal CDF")
airy_ai = _unary_function_x(AIRY_AI, "airy_ai", "the Airy function Ai (no derivative)")
bessel_j0 = _unary_function(BESSEL_J0, "bessel_j0", "the Bessel function J0 (no derivative)")
bessel_j1 = _unary_function(BESSEL_J1, "bessel_j1", "the Bessel function J1 (no derivative)")
bessel_y0 = _unary_function(BESSEL_Y0, "bessel_y0", "the Bessel function Y0 (no derivative)")
bessel_y1 = _unary_function(BESSEL_Y1, "bessel_y1", "the Bessel function Y1 (no derivative)")
modified_bessel_i0 = _unary_function(MODIFIED_I0, "modified_bessel_i0",
                                     "the modified Bessel function I0 (no derivative)")
modified_bessel_i1 = _unary_function(MODIFIED_I1, "modified_bessel_i1",
                                     "the modified Bessel function I1 (no derivative)")
modified_bessel_k0 = _unary_function(MODIFIED_K0, "modified_bessel_k0",
                                     "the modified Bessel function K0 (no derivative)")
modified_bessel_k1 = _unary_function(MODIFIED_K1, "modified_bessel_k1",
                                     "the modified Bessel function K1 (no derivative)")
scaled_modified_bessel_k0 = _unary_function_x(SCALED_K0, "scaled_modified_bessel_k0",
                                            "e^x K0(x) (no derivative)")
scaled_modified_bessel_k1 = _unary_function_x(SCALED_K1, "scaled_modified_bessel_k1",
                                            "e^x K1(x) (no derivative)")
spherical_bessel_j0 = _unary_function_x(SPHERICAL_J0, "spherical_bessel_j0",
                                      "sin(x) / x (no derivative)")


# add's Scalar overload (mul's is reduction.MUL_SCALAR): ndtr's graph has torch's nodes
_ADD_SCALAR = defop("add", node="AddBackward1", promote=(0, 1),
                    forward=lambda xp, self, other: xp.add(self, other),
                    backward=lambda grad, self, other: grad)


def ndtr(input: Tensor) -> Tensor:
    """Mirrors ``torch.special.ndtr``: the standard normal CDF, ``(1 + erf(x / sqrt 2)) / 2``,
    composed from ember ops as torch composes it (so its graph's nodes are torch's)."""
    from ember._ops.reduction import MUL_SCALAR

    tensor_argument("special_ndtr", "input", input, 1)
    if input._data.dtype.kind == "c":
        raise _unsupported("erf_vml_cpu", input._data.dtype)
    return run(MUL_SCALAR, run(_ADD_SCALAR, erf(run(MUL_SCALAR, input, _SQRT1_2)), 1), 0.5)


# ---- xlog1py and zeta --------------------------------------------------------------------


def _xlog1py64(x, y):
    return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log1p(y))


def _xlog1py_self(grad, self, other):
    slope = xlog1py(grad, other)
    if isinstance(other, Tensor):
        return where((self == 0) & (other <= -1), 0.0, slope)
    return where(self == 0, 0.0, slope) if other <= -1 else slope


def _xlog1py_other(grad, self, other):
    return grad * self / (other + 1)


_XLOG1PY_CHECK = _check("xlog1py_cpu", "c")
XLOG1PY = defop("special_xlog1py", node="SpecialXlog1PyBackward0", nin=2, kind=FLOAT,
                save=(0, 1), check=_XLOG1PY_CHECK, forward=_binary_float64(_xlog1py64),
                backward=(_xlog1py_self, _xlog1py_other))
XLOG1PY_NUMBER_SELF = defop("special_xlog1py", node="SpecialXlog1PyBackward1", nin=2,
                            kind=FLOAT, save=(0, 1), check=_XLOG1PY_CHECK,
                            forward=_binary_float64(_xlog1py64),
                            backward=(None, _xlog1py_other))
XLOG1PY_NUMBER_OTHER = defop("special_xlog1py", node="SpecialXlog1PyBackward2", nin=2,
                             kind=FLOAT, save=(1,), check=_XLOG1PY_CHECK,
                             forward=_binary_float64(_xlog1py64),
                             backward=(_xlog1py_self, None))


def xlog1py(input, other) -> Tensor:
    """Mirrors ``torch.special.xlog1py``: ``input * log1p(other)``, 0 where ``input`` is 0
    (unless ``other`` is nan); either operand may be a number."""
    if not isinstance(input, Tensor):
        return run(XLOG1PY_NUMBER_SELF, input, other)
    if not isinstance(other, Tensor):
        return run(XLOG1PY_NUMBER_OTHER, input, other)
    return run(XLOG1PY, input, other)


_ZETA_DIRECT_FROM = 12.0


def _zeta64(s, q):
    s, q = np.broadcast_arrays(s, q)
    s = s.astype(np.float64)
    acc = np.zeros(s.shape)
    y = q.astype(np.float64)
    # The Euler-Maclaurin tail is accurate once y >= 12 + s (its terms then fall like
    # (2 pi)^-2j); an element whose direct terms fall below float64 precision first stops
    # there with no tail (its tail is smaller still).
    active = (y < _ZETA_DIRECT_FROM + s) & np.isfinite(y) & (s > 1) & np.isfinite(s)
    negligible = np.zeros(s.shape, bool)
    while active.any():
        term = np.where(active, y ** -s, 0.0)
        acc = acc + term
        y = np.where(active, y + 1.0, y)
        small = active & (y > 0) & (np.abs(term) * (1.0 + y / (s - 1)) <= 1e-18 * np.abs(acc))
        negligible |= small
        active &= ~small & (y < _ZETA_DIRECT_FROM + s)
    tail = y ** (1 - s) / (s - 1) + 0.5 * y ** -s
    rising = s.copy()
    for j, b in enumerate(_BERNOULLI, start=1):
        tail = tail + b / math.factorial(2 * j) * rising * y ** (-s - 2 * j + 1)
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
    r = acc + np.where(negligible, 0.0, tail)
    # s = inf: q^-s is 1, 0 or inf, and torch's sum turns 0 into nan (0 * inf in its tail)
    r = np.where(s == np.inf, np.where(q == 1, 1.0, np.where(q < 1, np.inf, np.nan)), r)
    r = np.where(q == np.inf, np.nan, r)  # the same 0 / 0 in torch's sum
    # torch's domain checks, applied so that the first that holds wins: s == 1, s < 1,
    # then q a non-positive integer, then q <= 0 with s not an integer
    r = np.where((q <= 0) & (s != np.floor(s)), np.nan, r)
    r = np.where((q <= 0) & (q == np.floor(q)), np.inf, r)
    return np.where(s == 1, np.inf, np.where(s < 1, np.nan, r))


def _zeta_self(grad, self, other):
    raise NotImplementedError("the derivative for 'zeta' is not implemented.")


def _zeta_other(grad, self, other):
    return grad * -self * zeta(self + 1, other)


_ZETA_CHECK = _check("zeta_cpu", "ce")
ZETA = defop("special_zeta", node="SpecialZetaBackward0", nin=2, kind=FLOAT, save=(0, 1),
             check=_ZETA_CHECK, forward=_binary_float64(_zeta64),
             backward=(_zeta_self, _zeta_other))
ZETA_NUMBER_SELF = defop("special_zeta", node="SpecialZetaBackward1", nin=2, kind=FLOAT,
                         save=(0, 1), check=_ZETA_CHECK, forward=_binary_float64(_zeta64),
                         backward=(None, _zeta_other))
ZETA_NUMBER_OTHER = defop("special_zeta", node="SpecialZetaBackward2", nin=2, kind=FLOAT,
                          save=(0, 1), check=_ZETA_CHECK, forward=_binary_float64(_zeta64),
                          backward=(_zeta_self, None))


def zeta(input, other) -> Tensor:
    """Mirrors ``torch.special.zeta``: the Hurwitz zeta function ``sum_k (other + k)^-input``
    (differentiable in ``other`` only, as torch); either operand may be a number."""
    if not isinstance(input, Tensor):
        return run(ZETA_NUMBER_SELF, input, other)
    if not isinstance(other, Tensor):
        return run(ZETA_NUMBER_OTHER, input, other)
    return run(ZETA, input, other)


# ---- the regularized incomplete gamma functions -------------------------------------------

_GAMMA_EPS = 1e-15  # a few float64 ulps: a Lentz factor settles within them of 1
_GAMMA_MAX_TERMS = 100000  # a bound only: orders near 1e9 need ~sqrt(a) terms
_TINY = 1e-300


def _gamma_series(a, x):
    """P(a, x) by its series, for x < a + 1; each element leaves the loop once its terms fall
    below float64's precision of its sum."""
    total = np.ones_like(a)
    idx = np.arange(a.size)
    term, aw, xw, sw = total.copy(), a.copy(), x.copy(), total.copy()
    k = 1
    while idx.size and k < _GAMMA_MAX_TERMS:
        term = term * xw / (aw + k)
        sw = sw + term
        k += 1
        done = ~(np.abs(term) > _GAMMA_EPS * np.abs(sw))
        if done.any():
            total[idx[done]] = sw[done]
            keep = ~done
            idx, term, aw, xw, sw = idx[keep], term[keep], aw[keep], xw[keep], sw[keep]
    total[idx] = sw
    return total * np.exp(a * np.log(x) - x - _lgamma64(a + 1))


def _gamma_fraction(a, x):
    """Q(a, x) by Legendre's continued fraction (modified Lentz), for x >= a + 1; each
    element leaves the loop once its factor settles within a few ulps of 1."""
    h = np.empty_like(x)
    idx = np.arange(x.size)
    aw = a.copy()
    b = x + 1.0 - a
    c = np.full_like(x, 1.0 / _TINY)
    d = 1.0 / b
    hw = d.copy()
    k = 1
    while idx.size and k < _GAMMA_MAX_TERMS:
        an = -k * (k - aw)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        hw = hw * delta
        k += 1
        done = ~(np.abs(delta - 1.0) > _GAMMA_EPS)
        if done.any():
            h[idx[done]] = hw[done]
            keep = ~done
            idx, aw, b, c, d, hw = idx[keep], aw[keep], b[keep], c[keep], d[keep], hw[keep]
    h[idx] = hw
    return np.exp(a * np.log(x) - x - _lgamma64(a)) * h


def _igamma_pair(a, x, upper: bool):
    a, x = np.broadcast_arrays(a, x)
    out = np.full(a.shape, np.nan)
    regular = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
    series = regular & (x < a + 1)
    lower = _gamma_series(a[series], x[series])
    out[series] = 1.0 - lower if upper else lower
    fraction = regular & ~series
    tail = _gamma_fraction(a[fraction], x[fraction])
    out[fraction] = tail if upper else 1.0 - tail
    zero, one = (1.0, 0.0) if upper else (0.0, 1.0)
    # torch's special cases, applied so that the first that holds wins: a negative
    # argument, a == 0, x == 0, a == inf, x == inf (the later ones even with a nan beside)
    out = np.where(x == np.inf, one, out)
    out = np.where(a == np.inf, np.where(x == np.inf, np.nan, zero), out)
    out = np.where(x == 0, zero, out)
    out = np.where(a == 0, np.where(x > 0, one, np.nan), out)
    return np.where((a < 0) | (x < 0), np.nan, out)


def _igamma_self(name: str):
    def formula(grad, self, other):
        raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
    return formula


def _igamma_other(grad, self, other):
    return grad * ((self - 1) * other.log() - other - lgamma(self)).exp()


IGAMMA = defop("igamma", node="IgammaBackward0", nin=2, kind=SAME, save=(0, 1),
               check=_check("igamma_cpu", "biuc"),
               forward=_binary_float64(lambda a, x: _igamma_pair(a, x, False)),
               backward=(_igamma_self("igamma"), _igamma_other))
IGAMMAC = defop("igammac", node="IgammacBackward0", nin=2, kind=SAME, save=(0, 1),
                check=_check("igammac_cpu", "biuc"),
                forward=_binary_float64(lambda a, x: _igamma_pair(a, x, True)),
                backward=(_igamma_self("igammac"), lambda grad, self, other: -_igamma_other(
                    grad, self, other)))


def igamma(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.igamma`` (``torch.special.gammainc``): the regularized lower
    incomplete gamma function P(input, other), for floating tensors; differentiable in
    ``other`` only, as torch."""
    _tensors_only("igamma", input=input, other=other)
    return run(IGAMMA, input, other)


def igammac(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.igammac`` (``torch.special.gammaincc``): the regularized upper
    incomplete gamma function Q(input, other) = 1 - P(input, other)."""
    _tensors_only("igammac", input=input, other=other)
    return run(IGAMMAC, input, other)


def gammainc(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.special.gammainc`` (= ``torch.igamma``)."""
    _tensors_only("special_gammainc", input=input, other=other)
    return run(IGAMMA, input, other)


def gammaincc(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.special.gammaincc`` (= ``torch.igammac``)."""
    _tensors_only("special_gammaincc", input=input, other=other)
    return run(IGAMMAC, input, other)


def igamma_(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.igamma_``."""
    return run_inplace(IGAMMA, self, other)


def igammac_(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.igammac_``."""
    return run_inplace(IGAMMAC, self, other)


# ---- the multivariate log-gamma ------------------------------------------------------------


def _mvlgamma64(p: int, x):
    total = np.full_like(x, p * (p - 1) / 4 * math.log(math.pi))
    for j in range(p):
        total = total + _lgamma64(x - j / 2)
    return total


def _mvlgamma_backward(grad, self, p):
    total = digamma(self)
    for j in range(1, p):
        total = total + digamma(self - j / 2)
    return grad * total


MVLGAMMA = defop("mvlgamma", node="MvlgammaBackward0", kind=FLOAT, save=(0,),
                 check=_check("mvlgamma_cpu", "c"), forward=_in_float64(_mvlgamma64),
                 backward=_mvlgamma_backward)


def _check_p(p: int) -> None:
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """Mirrors ``torch.mvlgamma``: the multivariate log-gamma of dimension ``p``,
    ``p (p - 1) / 4 log(pi) + sum_j lgamma(input - j / 2)``."""
    _check_p(p)
    return run(MVLGAMMA, input, p)


def multigammaln(input: Tensor, p: int) -> Tensor:
    """Mirrors ``torch.special.multigammaln`` (= ``torch.mvlgamma``)."""
    _check_p(p)
    return run(MVLGAMMA, input, p)


def mvlgamma_(self: Tensor, p: int) -> Tensor:
    """Mirrors ``Tensor.mvlgamma_``."""
    _check_p(p)
    return run_inplace(MVLGAMMA, self, p)


# torch's in-place overload records its own node name
POLYGAMMA_ = defop("polygamma", node="PolygammaBackward1", kind=FLOAT, save=(0,),
                   forward=POLYGAMMA.forward, backward=POLYGAMMA.backward)


def polygamma_(self: Tensor, n: int) -> Tensor:
    """Mirrors ``Tensor.polygamma_``: ``polygamma(n, self)`` written into ``self``."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return run_inplace(POLYGAMMA_, self, n)


# ---- orthogonal polynomials ----------------------------------------------------------------


def _recurrence(x, n, first, second, step):
    """p_n(x) from p_0 = ``first``, p_1 = ``second`` and p_(k+1) = step(k, x, p_k, p_(k-1)),
    elementwise for integer degrees ``n`` >= 0. The loop runs over degrees, not elements;
    an element leaves it at its degree, or once its value is nan (it stays nan)."""
    out = np.where(n == 0, first, second).copy()  # C order, even 0-d
    flat = out.reshape(-1)  # a view: written below
    idx = np.flatnonzero(n >= 2)
    xs, ns = x.reshape(-1)[idx], n.reshape(-1)[idx]
    prev, cur = first.reshape(-1)[idx], second.reshape(-1)[idx]
    k = 1
    while idx.size:
        prev, cur = cur, step(k, xs, cur, prev)
        k += 1
        done = (ns == k) | np.isnan(cur)
        if done.any():
            flat[idx[done]] = cur[done]
            keep = ~done
            idx, xs, ns, prev, cur = idx[keep], xs[keep], ns[keep], prev[keep], cur[keep]
    return out


def _degrees(x, n):
    x, n = np.broadcast_arrays(x, n)
    finite = np.where(np.isfinite(n), n, -1.0)
    return x.copy(), np.trunc(finite).astype(np.int64), np.isnan(n)


def _odd(n):
    return n % 2 == 1


def _trigonometric(x, n, from_degree: int, form):
    """torch's closed forms for the Chebyshev polynomials of high degree inside (-1, 1):
    ``form(n, theta)`` with theta = acos(x), where the recurrence would take n steps."""
    inside = (n > from_degree) & (np.abs(x) < 1)
    theta = np.arccos(np.where(inside, x, x.dtype.type(0)))
    return inside, form(n, theta)


def _chebyshev(x, n, first_degree_one, from_degree, form, at_one, at_minus_one):
    x, n, nan_n = _degrees(x, n)
    inside, closed = _trigonometric(x, n.astype(x.dtype), from_degree, form)
    outside = np.where(inside, 0.0, x)  # the recurrence skips the closed form's elements
    r = _recurrence(outside, np.where(inside, 0, n), np.ones_like(x),
                    first_degree_one(outside), lambda k, x, p, q: 2 * x * p - q)
    r = np.where(inside, closed, r)
    r = np.where(x == 1, at_one(n), np.where(x == -1, at_minus_one(n), r))
    return np.where((n < 0) | nan_n, 0.0, r)


def _sign_by_parity(n, value):
    return np.where(_odd(n), -value, value)


def _chebyshev_t64(x, n, from_degree=6):
    return _chebyshev(x, n, lambda x: x, from_degree, lambda n, t: np.cos(n * t),
                      lambda n: np.ones(n.shape), lambda n: _sign_by_parity(n, 1.0))


def _chebyshev_u64(x, n, from_degree=8):
    return _chebyshev(x, n, lambda x: 2 * x, from_degree,
                      lambda n, t: np.sin((n + 1) * t) / np.sin(t),
                      lambda n: n + 1.0, lambda n: _sign_by_parity(n, n + 1.0))


# torch's closed forms for V and W fall back to their values at -1 and 1 where the half
# angle's sine or cosine rounds to 1 (in the working dtype: float32 reaches it first)
def _v_form(n, t):
    return np.where(np.sin(t / 2) != 1, np.cos((n + 0.5) * t) / np.cos(t / 2),
                    _sign_by_parity(n, 2 * n + 1))


def _w_form(n, t):
    return np.where(np.cos(t / 2) != 1, np.sin((n + 0.5) * t) / np.sin(t / 2), 2 * n + 1)


def _chebyshev_v64(x, n, from_degree=8):
    return _chebyshev(x, n, lambda x: 2 * x - 1, from_degree, _v_form,
                      lambda n: np.ones(n.shape), lambda n: _sign_by_parity(n, 2.0 * n + 1))


def _chebyshev_w64(x, n, from_degree=8):
    return _chebyshev(x, n, lambda x: 2 * x + 1, from_degree, _w_form,
                      lambda n: 2.0 * n + 1, lambda n: _sign_by_parity(n, 1.0))


def _shifted(kernel):
    def shifted(x, n):
        return kernel(2 * x - 1, n, from_degree=6)  # torch's shifted forms start at 7
    return shifted


def _hermite_h64(x, n):
    x, n, nan_n = _degrees(x, n)
    r = _recurrence(x, n, np.ones_like(x), 2 * x, lambda k, x, p, q: 2 * x * p - 2 * k * q)
    return np.where((n < 0) | nan_n, 0.0, r)


def _hermite_he64(x, n):
    x, n, nan_n = _degrees(x, n)
    r = _recurrence(x, n, np.ones_like(x), x, lambda k, x, p, q: x * p - k * q)
    return np.where((n < 0) | nan_n, 0.0, r)


def _laguerre_l64(x, n):
    x, n, nan_n = _degrees(x, n)
    r = _recurrence(x, n, np.ones_like(x), 1 - x,
                    lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1))
    r = np.where(x == 0, 1.0, r)
    return np.where((n < 0) | nan_n, 0.0, r)


def _legendre_p64(x, n):
    x, n, nan_n = _degrees(x, n)
    r = _recurrence(x, n, np.ones_like(x), x,
                    lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1))
    r = np.where(np.abs(x) == 1, np.where((x > 0) | ~_odd(n), 1.0, -1.0), r)
    return np.where((n < 0) | nan_n, 0.0, r)


def _in_result_dtype(kernel):
    """A polynomial's forward: the recurrence runs in the result dtype, as torch's does (a
    float32 recurrence of high degree drifts from a float64 one by more than float32's
    tolerance, and torch's values are the float32 ones)."""
    def forward(xp, x, n):
        dtype = np.result_type(x, n)
        with np.errstate(all="ignore"):
            r = kernel(np.asarray(x, dtype), np.asarray(n, dtype))
        return np.asarray(r).astype(dtype, copy=False)
    return forward


def _polynomial(name: str, kernel, what: str):
    op = defop("special_" + name, nin=2, kind=FLOAT, check=_check(name + "_cpu", "ce"),
               forward=_in_result_dtype(kernel))

    def fn(x, n) -> Tensor:
        if not isinstance(x, Tensor) and not isinstance(n, Tensor):
            raise TypeError(
                f"special_{name}() received an invalid combination of arguments - got "
                f"({type(x).__name__}, {type(n).__name__}), but expected one of:\n"
                " * (Tensor x, Tensor n, *, Tensor out = None)\n"
                " * (Number x, Tensor n, *, Tensor out = None)\n"
                " * (Tensor x, Number n, *, Tensor out = None)\n")
        return run(op, x, n)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Mirrors ``torch.special.{name}``: {what} of degree ``n`` (a tensor or a "
                  "number, broadcast; truncated to an integer, 0 for negative degrees) at "
                  "``x`` (a tensor or a number), by its recurrence (or torch's closed form) "
                  "in the result dtype. No derivative, as torch.")
    return fn


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _chebyshev_t64,
                                     "the Chebyshev polynomial of the first kind")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _chebyshev_u64,
                                     "the Chebyshev polynomial of the second kind")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _chebyshev_v64,
                                     "the Chebyshev polynomial of the third kind")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _chebyshev_w64,
                                     "the Chebyshev polynomial of the fourth kind")
shifted_chebyshev_polynomial_t = _polynomial(
    "shifted_chebyshev_polynomial_t", _shifted(_chebyshev_t64),
    "the shifted Chebyshev polynomial of the first kind, T_n(2x - 1),")
shifted_chebyshev_polynomial_u = _polynomial(
    "shifted_chebyshev_polynomial_u", _shifted(_chebyshev_u64),
    "the shifted Chebyshev polynomial of the second kind, U_n(2x - 1),")
shifted_chebyshev_polynomial_v = _polynomial(
    "shifted_chebyshev_polynomial_v", _shifted(_chebyshev_v64),
    "the shifted Chebyshev polynomial of the third kind, V_n(2x - 1),")
shifted_chebyshev_polynomial_w = _polynomial(
    "shifted_chebyshev_polynomial_w", _shifted(_chebyshev_w64),
    "the shifted Chebyshev polynomial of the fourth kind, W_n(2x - 1),")
hermite_polynomial_h = _polynomial("hermite_polynomial_h", _hermite_h64,
                                   "the physicists' Hermite polynomial")
hermite_polynomial_he = _polynomial("hermite_polynomial_he", _hermite_he64,
                                    "the probabilists' Hermite polynomial")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _laguerre_l64,
                                    "the Laguerre polynomial")
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _legendre_p64,
                                    "the Legendre polynomial")


# ---- softmax, log_softmax, logsumexp -------------------------------------------------------


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Mirrors ``torch.special.softmax``: ``torch.softmax`` along ``dim``, the input cast to
    ``dtype`` first when given."""
    from ember._ops.reduction import softmax as _softmax
    from ember._ops.reduction import softmax_dtype

    softmax_dtype("special_softmax", dtype)
    return _softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Mirrors ``torch.special.log_softmax``: ``torch.log_softmax`` along ``dim``."""
    from ember._ops.reduction import log_softmax as _log_softmax
    from ember._ops.reduction import softmax_dtype

    softmax_dtype("special_log_softmax", dtype)
    return _log_softmax(input, dim, dtype)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.special.logsumexp`` (= ``torch.logsumexp``)."""
    from ember._ops.reduction import logsumexp as _logsumexp

    return _logsumexp(input, dim, keepdim)


# torch's in-place forms take only a tensor (the others take numbers too)
attach({"igamma": igamma, "igamma_": method_taking_tensor(igamma_, "other"), "igammac": igammac,
        "igammac_": method_taking_tensor(igammac_, "other"),
        "mvlgamma": mvlgamma, "mvlgamma_": mvlgamma_, "polygamma_": polygamma_})
