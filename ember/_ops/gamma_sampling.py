"""torch's private gamma and Dirichlet kernels: ``_standard_gamma``, ``_standard_gamma_grad``,
``_sample_dirichlet`` and ``_dirichlet_grad``, the samplers and reparameterisation gradients
behind ``torch.distributions``' Gamma family.

NOTE [torch's gamma stream]: ``_standard_gamma`` walks the elements in index order (whatever
the input's strides; the result is contiguous) and samples each with Marsaglia and Tsang's
method ("A simple method for generating gamma variables", 2000) on float64 uniforms and
float64 normals drawn one at a time (``Generator._uniform64`` and ``Generator._normals``: a
normal uses the generator's cached second Box-Muller sample when there is one). Learnt by
experiment against torch 2.13 on the CPU:

- ``alpha == 0`` (either sign) gives 0 and draws nothing; ``alpha < 1`` draws one uniform
  ``u`` first and scales the sample by ``(1 - u) ** (1 / alpha)``, then samples ``alpha + 1``;
- ``d = alpha - 1/3`` and ``c = 1 / sqrt(9 d)``; normals ``x`` are drawn until
  ``v = (1 + c x)**3`` has ``1 + c x > 0``, then ``u = 1 - uniform``; the sample
  ``scale * d * v`` is taken unless ``u >= 1 - 0.0331 x**4`` and
  ``log u >= x**2 / 2 + d (1 - v + log v)``. The comparisons are written so that a NaN
  accepts: NaN, negative and infinite alphas end after one try, as in torch;
- the constants ``1/3`` and ``0.0331`` are float32 literals, widened to float64;
- for float32 alphas, ``1 / alpha``, ``alpha + 1`` and ``alpha - 1/3`` are float32
  arithmetic, the rest float64; the sample is rounded to the dtype and clamped below at the
  dtype's smallest normal number (``max(tiny, s)``, so a NaN sample becomes ``tiny``);
- the transcendental steps are the C library's (``pow``, ``log``), as ``math`` calls it
  (NOTE [Sampler math on every CPU]).

``_sample_dirichlet`` samples the same way on the alphas widened to float64 (clamped at
float64's ``tiny``, so a row whose gammas all underflow becomes uniform), sums each row in
torch's order (NOTE [torch's row sum]), divides, rounds to the dtype and clamps into
``[tiny, 1)``.
"""
from __future__ import annotations

import math

from ember import _dtype
from ember._backend import np
from ember._ops._promote import broadcast_error
from ember._ops.pointwise import _digamma64
from ember._ops.random import Generator, _gen, _unsupported
from ember._ops.registry import KEEP, defop, not_implemented, run
from ember._tensor import Tensor

__all__ = ["_standard_gamma", "_standard_gamma_grad", "_sample_dirichlet", "_dirichlet_grad"]

_F32 = np.float32
_F64 = np.float64
_THIRD = float(_F32(1) / _F32(3))   # torch's ``1.0f / 3.0f``
_SQUEEZE = float(_F32(0.0331))      # torch's ``0.0331f``
_NAN = math.nan
_INF = math.inf
_SAMPLED = (np.dtype(_F32), np.dtype(_F64))  # torch's kernels take no half types


def _require_float(np_dtype, kernel: str) -> None:
    if np_dtype not in _SAMPLED:
        raise _unsupported(kernel, np_dtype)


def _c_log(x: float) -> float:
    """C's ``log``: -inf at 0 and NaN below, where ``math.log`` raises."""
    if x > 0:
        return math.log(x)
    return -_INF if x == 0 else _NAN


def _c_pow(base: float, exponent: float) -> float:
    """C's ``pow`` for a base in (0, 1]: inf on overflow, where ``math.pow`` raises."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return _INF


def _gamma_constants(alphas, single: bool):
    """Per element: the boost exponent ``1 / alpha`` (NaN where no boost), and ``d``, ``c``
    of the boosted alpha, in torch's precision (float32 steps for float32 alphas)."""
    kind = _F32 if single else _F64
    a = alphas.astype(kind)
    with np.errstate(all="ignore"):
        boost = (a < 1) & (a != 0)
        exponent = np.where(boost, kind(1) / np.where(boost, a, kind(1)), np.nan)
        a = np.where(boost, a + kind(1), a)
        d = (a - kind(_THIRD)).astype(_F64)
        c = 1.0 / np.sqrt(9.0 * d)
    return exponent.astype(_F64), d, c


def _gamma_draws(g: Generator, alphas, single: bool):
    """Standard gamma samples (float64, before rounding and clamping) of the float64 array
    ``alphas``, with torch's draws (NOTE [torch's gamma stream]). The uniforms are drawn
    ahead in batches (a sample's draws depend on earlier values); the generator is then wound
    back to just after the last one used, its cached normal torch's."""
    n = alphas.size
    out = np.zeros(n, _F64)
    if n == 0:
        return out
    exponent, d_all, c_all = _gamma_constants(alphas, single)
    start, fresh = g._bits.state, g._fresh
    cached = g._normal
    g._normal = None
    budget = 4 * n + 64
    uniforms = g._uniform64(budget).tolist()
    at = 0
    log1p, cos, sin, sqrt, two_pi = math.log1p, math.cos, math.sin, math.sqrt, 2.0 * math.pi
    squeeze = _SQUEEZE
    zero_alpha = (alphas == 0).tolist()
    for i, (e, d, c) in enumerate(zip(exponent.tolist(), d_all.tolist(), c_all.tolist())):
        if zero_alpha[i]:
            continue
        if len(uniforms) - at < 64:
            uniforms.extend(g._uniform64(budget).tolist())
        scale = 1.0
        if e == e:  # boosted (the exponent is NaN otherwise)
            scale = _c_pow(1.0 - uniforms[at], e)
            at += 1
        while True:
            while True:
                if cached is None:
                    if len(uniforms) - at < 8:
                        uniforms.extend(g._uniform64(budget).tolist())
                    theta = two_pi * uniforms[at]
                    radius = sqrt(-2.0 * log1p(-uniforms[at + 1]))
                    at += 2
                    x = radius * cos(theta)
                    cached = radius * sin(theta)
                else:
                    x, cached = cached, None
                y = 1.0 + c * x
                if not y <= 0:  # a NaN ``c`` leaves too
                    break
            v = y * y * y
            if len(uniforms) - at < 8:
                uniforms.extend(g._uniform64(budget).tolist())
            u = 1.0 - uniforms[at]
            at += 1
            xx = x * x
            if not u >= 1.0 - squeeze * xx * xx:
                break
            if not _c_log(u) >= 0.5 * xx + d * (1.0 - v + _c_log(v)):
                break
        out[i] = scale * d * v
    g._bits.state = start
    g._fresh = fresh
    for done in range(0, at, 1 << 22):  # two words per float64 uniform
        g._words(2 * min(1 << 22, at - done))
    g._normal = cached
    return out


def _at_least_tiny(values, np_dtype):
    """C++'s ``std::max(tiny, value)``: a NaN becomes ``tiny`` too."""
    tiny = np.finfo(np_dtype).tiny
    return np.where(values > tiny, values, tiny).astype(np_dtype)


def _standard_gamma_forward(xp, alpha, generator):
    _require_float(alpha.dtype, "gamma_cpu")
    flat = np.ascontiguousarray(alpha).reshape(-1)
    single = alpha.dtype == _F32
    samples = _gamma_draws(_gen(generator), flat.astype(_F64), single)
    with np.errstate(over="ignore"):
        rounded = samples.astype(alpha.dtype)
    return _at_least_tiny(rounded, alpha.dtype).reshape(alpha.shape)


def _standard_gamma_backward(grad, self, generator, result):
    return grad * _standard_gamma_grad(self, result)


_STANDARD_GAMMA = defop("_standard_gamma", node="StandardGammaBackward0", kind=KEEP,
                        save=(0, "result"), forward=_standard_gamma_forward,
                        backward=_standard_gamma_backward)


def _standard_gamma(self: Tensor, generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch._standard_gamma``: one Gamma(``alpha``, 1) sample per element, with
    torch's CPU stream for the same seed (NOTE [torch's gamma stream]); float32 and float64
    only. Differentiable (``StandardGammaBackward0``, through ``_standard_gamma_grad``).

    Example: ``ember.manual_seed(0); ember._standard_gamma(ember.tensor([0.5, 2.0]))``."""
    return run(_STANDARD_GAMMA, self, generator)


# ---- the reparameterisation gradient of a gamma sample -------------------------------------

# NOTE [Gamma sample gradient]: for x ~ Gamma(a, 1) drawn by inverting P(a, x) (the regularised
# lower incomplete gamma), implicit differentiation gives dx/da = -(dP/da) / p(x; a) with
# p = x**(a-1) e**-x / Gamma(a). Writing P = e**-x sum_n x**(a+n) / Gamma(a+n+1) and dividing
# by p, every Gamma function cancels into ratios:
#     dx/da = sum_{n>=0} r_n (psi(a+n+1) - log x),   r_0 = x / a,   r_n = r_{n-1} x / (a+n).
# The terms grow until n passes x - a and then fall like a Gaussian of width sqrt(a), so the
# sum is exact to float64 rounding (measured below) at a cost of about x - a + 9 sqrt(a)
# terms. torch evaluates the same derivative with its own approximations (a Taylor series for
# small x, a rational fit in (log x, log a) elsewhere, an asymptotic form for large a).
_MAX_SERIES_ALPHA = 1e5  # beyond this the series is long; Wilson-Hilferty is then exact enough


def _gamma_grad_series(a, x):
    """dx/da by the series of NOTE [Gamma sample gradient] (float64 arrays, a > 0, x > 0)."""
    log_x = np.log(x)
    psi = _digamma64(a) + 1.0 / a  # psi(a + 1)
    term = x / a
    total = term * (psi - log_x)
    live = np.arange(a.size)
    n = 0
    while live.size:
        n += 1
        shift = a[live] + n
        psi[live] = psi[live] + 1.0 / shift
        term[live] = term[live] * (x[live] / shift)
        piece = term[live] * (psi[live] - log_x[live])
        total[live] = total[live] + piece
        going = (shift <= x[live]) | (np.abs(piece) > 1e-17 * np.abs(total[live]))
        live = live[going & np.isfinite(total[live])]
    return total


def _gamma_grad_wilson_hilferty(a, x):
    """dx/da for large ``a``: x = a w**3 with w = 1 - 1/(9a) + z / (3 sqrt a) for a fixed
    normal z (Wilson and Hilferty's cube-root normal approximation)."""
    root = np.sqrt(a)
    w = np.cbrt(x / a)
    z = 3.0 * root * (w - 1.0 + 1.0 / (9.0 * a))
    dw = 1.0 / (9.0 * a * a) - z / (6.0 * a * root)
    return w ** 3 + 3.0 * a * w * w * dw


def _standard_gamma_grad_forward(xp, self, output):
    _require_float(self.dtype, "_standard_gamma_grad_cpu")
    out = output._data if isinstance(output, Tensor) else np.asarray(output)
    if out.dtype != self.dtype:
        raise RuntimeError(f"Found dtype {_dtype.scalar_type_name(_dtype.from_np(out.dtype))} "
                           f"but expected {_dtype.scalar_type_name(_dtype.from_np(self.dtype))}")
    try:
        a, x = np.broadcast_arrays(self.astype(_F64), out.astype(_F64))
    except ValueError:
        raise broadcast_error([self.shape, out.shape]) from None
    a, x = a.reshape(-1), x.reshape(-1)
    result = np.full(a.size, np.nan)
    with np.errstate(all="ignore"):
        usable = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
        series = usable & (a <= _MAX_SERIES_ALPHA)
        large = usable & (a > _MAX_SERIES_ALPHA)
        result[series] = _gamma_grad_series(a[series], x[series])
        result[large] = _gamma_grad_wilson_hilferty(a[large], x[large])
        result[(a > 0) & (x == 0)] = 0.0  # every term of the series vanishes with x
    return result.astype(self.dtype).reshape(np.broadcast_shapes(self.shape, out.shape))


def _standard_gamma_grad_not_implemented(grad, self, output):
    raise NotImplementedError("the derivative for '_standard_gamma_grad' is not implemented.")


# The output is a parameter, not a graph edge: torch does not differentiate through it.
_STANDARD_GAMMA_GRAD = defop("_standard_gamma_grad", node="StandardGammaGradBackward0",
                             kind=KEEP, forward=_standard_gamma_grad_forward,
                             backward=_standard_gamma_grad_not_implemented)


def _standard_gamma_grad(self: Tensor, output: Tensor) -> Tensor:
    """Mirrors ``torch._standard_gamma_grad(alpha, x)``: the derivative of a standard gamma
    sample ``x`` with respect to its concentration ``alpha`` (implicit reparameterisation,
    NOTE [Gamma sample gradient]). ember sums an exact series where torch uses fitted
    approximations, so the two differ by torch's approximation error."""
    return run(_STANDARD_GAMMA_GRAD, self, output)


# ---- Dirichlet ------------------------------------------------------------------------------

# NOTE [torch's row sum]: torch sums a contiguous float64 row with 4-lane vectors (its AVX2
# kernel, the one it picks on CPUs without AVX-512) in four interleaved accumulators, the vector
# rows grouped in cascading levels of 16, leftover vectors into the first accumulator, the
# accumulators folded in order, then the scalar tail summed and the four lanes added one by
# one. The order matters to the last bit of a Dirichlet sample from 5 categories on. A row
# longer than torch's parallel grain (32768) is split across threads by torch, which this
# does not follow.
_LANES = 4
_ACCUMULATORS = 4
_LEVELS = 4


def _cascade(blocks):
    """The four accumulators of ``blocks`` (rows, count, accumulators, lanes), added item by
    item in cascading levels as torch's multi-row sum does."""
    rows, count = blocks.shape[0], blocks.shape[1]
    ceil_log2 = 1 if count <= 2 else (count - 1).bit_length()
    power = max(4, ceil_log2 // _LEVELS)
    step = 1 << power
    mask = step - 1
    acc = np.zeros((_LEVELS, rows, _ACCUMULATORS, _LANES))
    i = 0
    while i + step <= count:
        for _ in range(step):
            acc[0] = acc[0] + blocks[:, i]
            i += 1
        for level in range(1, _LEVELS):
            acc[level] = acc[level] + acc[level - 1]
            acc[level - 1] = 0.0
            if i & (mask << (level * power)):
                break
    for j in range(i, count):
        acc[0] = acc[0] + blocks[:, j]
    for level in range(1, _LEVELS):
        acc[0] = acc[0] + acc[level]
    return acc[0]


def _torch_row_sums(x):
    """Each row of the float64 matrix ``x`` summed in torch's order (NOTE [torch's row
    sum])."""
    rows, k = x.shape
    vectors = k // _LANES
    grouped = vectors // _ACCUMULATORS
    vec = x[:, :vectors * _LANES].reshape(rows, vectors, _LANES)
    acc = _cascade(vec[:, :grouped * _ACCUMULATORS].reshape(
        rows, grouped, _ACCUMULATORS, _LANES))
    first = acc[:, 0]
    for j in range(grouped * _ACCUMULATORS, vectors):
        first = first + vec[:, j]
    for r in range(1, _ACCUMULATORS):
        first = first + acc[:, r]
    total = np.zeros(rows)
    for j in range(vectors * _LANES, k):
        total = total + x[:, j]
    for lane in range(_LANES):
        total = total + first[:, lane]
    return total


def _sample_dirichlet_forward(xp, alpha, generator):
    _require_float(alpha.dtype, "dirichlet")
    shape = alpha.shape
    flat = np.ascontiguousarray(alpha).astype(_F64).reshape(-1)
    gammas = _at_least_tiny(_gamma_draws(_gen(generator), flat, single=False), _F64)
    k = shape[-1] if shape else 1
    rows = gammas.reshape(-1, k) if k else gammas.reshape(0, 0)
    with np.errstate(all="ignore"):
        ratios = (rows / _torch_row_sums(rows)[:, None]).astype(alpha.dtype)
    kind = alpha.dtype.type
    below_one = np.nextafter(kind(1), kind(0))
    clamped = _at_least_tiny(ratios, alpha.dtype)
    return np.where(clamped < below_one, clamped, below_one).astype(alpha.dtype).reshape(shape)


_SAMPLE_DIRICHLET = defop("_sample_dirichlet", node="NotImplemented", kind=KEEP,
                          forward=_sample_dirichlet_forward,
                          backward=not_implemented("_sample_dirichlet"))
_SAMPLE_DIRICHLET.node_cls.name = lambda self: "torch::autograd::NotImplemented"


def _sample_dirichlet(self: Tensor, generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch._sample_dirichlet``: one Dirichlet sample per row of the last
    dimension, with torch's stream: a float64 gamma per element (NOTE [torch's gamma
    stream]) then each row divided by its sum (NOTE [torch's row sum]). Not differentiable,
    as in torch (``Dirichlet.rsample`` differentiates through ``_dirichlet_grad``)."""
    return run(_SAMPLE_DIRICHLET, self, generator)


# NOTE [Dirichlet sample gradient]: torch's Dirichlet.rsample backward is
#     grad_alpha_i = _dirichlet_grad(x, alpha, total)_i * (grad_i - sum_j x_j grad_j).
# The marginal x_i is Beta(a, b) with a = alpha_i and b = total - a the sum of the other
# concentrations, which do not move with alpha_i; the other components are (1 - x_i) times a
# split that does not depend on alpha_i. So dx/dalpha_i = g (e_i - x) / (1 - x_i) with
# g = dx_i/da = -(dI/da) / pdf at fixed b (I = I_x(a, b), the regularised incomplete beta),
# and ``_dirichlet_grad`` is g / (1 - x), which torch's values confirm. Differentiating under
# the integral, with t ~ Beta(a, b):
#     dI/da = E[log t; t < x] - I (psi(a) - psi(a + b)),
# and for x > 1/2 the mirror I_x(a, b) = 1 - I_(1-x)(b, a) keeps the integration range below
# 1/2. On [0, y] the substitution t = y s**(1/p) removes the t**(p-1) singularity; the
# integral over s is Gauss-Legendre on panels graded towards both ends (log s at 0, and
# s**(1/p) steep near 1 for small p).
_quadrature_rule: list = []  # (s, weights, log s), made on first use


def _quadrature() -> tuple:
    """The graded Gauss-Legendre rule on [0, 1] of NOTE [Dirichlet sample gradient] (built
    on first use: numpy.polynomial is not loaded by ``import ember``)."""
    if not _quadrature_rule:
        nodes, weights = np.polynomial.legendre.leggauss(24)
        edges = np.concatenate([[0.0], np.geomspace(1e-14, 1e-2, 7),
                                np.linspace(0.05, 0.95, 10),
                                1.0 - np.geomspace(1e-2, 1e-12, 6), [1.0]])
        s = ((edges[:-1, None] + edges[1:, None]) / 2
             + np.diff(edges)[:, None] / 2 * nodes).reshape(-1)
        _quadrature_rule.append((s, (np.diff(edges)[:, None] / 2 * weights).reshape(-1),
                                 np.log(s)))
    return _quadrature_rule[0]


def _beta_partial_integrals(y, p, q, log_beta_fn):
    """For t ~ Beta(p, q) restricted to [0, y] (y <= 1/2): P(t < y), E[log t; t < y] and
    E[log(1 - t); t < y], by the quadrature of NOTE [Dirichlet sample gradient]."""
    _, s_weights, log_s = _quadrature()
    yy, pp, qq = y[..., None], p[..., None], q[..., None]
    log_t = np.log(yy) + log_s / pp
    t = np.exp(log_t)
    log_1mt = np.log1p(-t)
    body = np.exp((qq - 1.0) * log_1mt) * s_weights
    front = np.exp(p * np.log(y) - np.log(p) - log_beta_fn)  # t**(p-1) dt = y**p / p ds
    return (front * body.sum(-1), front * (body * log_t).sum(-1),
            front * (body * log_1mt).sum(-1))


def _dirichlet_grad_values(x, alpha, total):
    """``_dirichlet_grad`` of NOTE [Dirichlet sample gradient] (float64 arrays, broadcast)."""
    from ember._ops.pointwise import _lgamma64

    a, b = alpha, total - alpha
    log_beta_fn = _lgamma64(a) + _lgamma64(b) - _lgamma64(total)
    psi_gap = _digamma64(a) - _digamma64(total)
    mirror = x > 0.5
    y = np.where(mirror, 1.0 - x, x)
    p, q = np.where(mirror, b, a), np.where(mirror, a, b)
    cdf, log_t_moment, log_1mt_moment = _beta_partial_integrals(y, p, q, log_beta_fn)
    # mirrored, a is the second parameter of I_y(b, a): d/da I_x(a, b) = -d/da I_y(b, a)
    d_cdf = np.where(mirror, -(log_1mt_moment - cdf * psi_gap), log_t_moment - cdf * psi_gap)
    log_pdf = (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - log_beta_fn
    return -d_cdf / np.exp(log_pdf) / (1.0 - x)


def _dirichlet_grad_forward(xp, x, alpha, total):
    for tensor in (x, alpha, total):
        _require_float(tensor.dtype, "_dirichlet_grad_cpu")
    for tensor in (alpha, total):
        if tensor.dtype != x.dtype:
            raise RuntimeError(
                f"Found dtype {_dtype.scalar_type_name(_dtype.from_np(tensor.dtype))} but "
                f"expected {_dtype.scalar_type_name(_dtype.from_np(x.dtype))}")
    arrays = np.broadcast_arrays(x.astype(_F64), alpha.astype(_F64), total.astype(_F64))
    with np.errstate(all="ignore"):
        values = _dirichlet_grad_values(*arrays)
    return values.astype(x.dtype)


_DIRICHLET_GRAD = defop("_dirichlet_grad", node="NotImplemented", nin=3, kind=KEEP,
                        promote=(0,), forward=_dirichlet_grad_forward,
                        backward=(not_implemented("_dirichlet_grad"),) * 3)
_DIRICHLET_GRAD.node_cls.name = lambda self: "torch::autograd::NotImplemented"


def _dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """Mirrors ``torch._dirichlet_grad(x, alpha, total)``: for each ``x`` drawn from
    Beta(``alpha``, ``total - alpha``), the derivative dx/dalpha with ``total`` moving with
    ``alpha`` (NOTE [Dirichlet sample gradient]), the factor torch's ``Dirichlet.rsample``
    backward uses. ember integrates numerically where torch uses fitted approximations."""
    return run(_DIRICHLET_GRAD, x, alpha, total)
