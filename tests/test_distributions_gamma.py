"""ember's gamma kernels (``_standard_gamma``, ``_standard_gamma_grad``, ``_sample_dirichlet``,
``_dirichlet_grad``) and the Gamma-family distributions (Gamma, Chi2, Beta, Dirichlet,
StudentT, InverseGamma, FisherSnedecor) against torch: sample bits for the same seed and the
generator's state afterwards, values, dtypes, shapes, gradients of every parameter, the KL
pairs torch registers, reprs and torch's errors."""
import math
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import (
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    distribution_validation,
    examples,
    recording_compared,
    torch,
)

pytestmark = pytest.mark.skipif(torch is None, reason="needs torch as the oracle")


@pytest.fixture(autouse=True)
def _validation_on():
    """Both libraries validate arguments, as torch does by default (another test file may
    have compiled something, which turns torch's validation off)."""
    with distribution_validation():
        yield


def _D(lib):
    """torch.distributions, or ember.distributions with this family's modules (which the
    package's own namespace may not list yet)."""
    if lib is torch:
        return torch.distributions
    from ember.distributions import (
        beta,
        chi2,
        dirichlet,
        fishersnedecor,
        gamma,
        inverse_gamma,
        studentT,
    )

    names = {name: getattr(ember.distributions, name) for name in dir(ember.distributions)}
    for module in (beta, chi2, dirichlet, fishersnedecor, gamma, inverse_gamma, studentT):
        names.update({name: getattr(module, name) for name in module.__all__})
    return types.SimpleNamespace(**names)


def _bits(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach()._data


def _same_bits(e, t) -> None:
    assert repr(e.dtype) == repr(t.dtype) and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.ascontiguousarray(_bits(e)).reshape(-1).view(np.uint8),
                                  np.ascontiguousarray(_bits(t)).reshape(-1).view(np.uint8))


# ---- _standard_gamma: torch's stream --------------------------------------------------------

_ALPHAS = np.concatenate([[1e-3, 0.01, 0.1, 0.5, 0.999, 1.0, 1.0, 2.0, 1 / 3, 4 / 3, 7.5,
                           100.0, 1e4, 1e8], np.random.default_rng(0).exponential(2, 18)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_standard_gamma_bits_and_generator_state(dtype):
    """Same seed, same sample bits, over many seeds and alphas (small, < 1, 1, large); the
    next draws after it (a uniform, a single normal through the cached sample) agree too."""
    for seed in range(25):
        out = []
        for lib in (torch, ember):
            lib.manual_seed(seed)
            alpha = lib.tensor(_ALPHAS, dtype=getattr(lib, dtype))
            out.append((lib._standard_gamma(alpha), lib.rand(3, dtype=lib.float64),
                        lib.randn(1, dtype=lib.float64)))
        for e, t in zip(out[1], out[0]):
            _same_bits(e, t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_standard_gamma_edge_alphas(dtype):
    """alpha 0 (either sign) draws nothing and gives tiny; NaN, negative and infinite alphas
    stop after one try; underflowing samples are clamped to the dtype's tiny."""
    alphas = [0.0, -0.0, math.nan, -1.0, -0.5, -math.inf, math.inf, 1e-30, 1e-300, 1e-310,
              3e38, 2.0, 0.25]
    for lib_order in range(2):
        out = []
        for lib in (torch, ember):
            lib.manual_seed(11 + lib_order)
            alpha = lib.tensor(alphas[lib_order:], dtype=getattr(lib, dtype))
            out.append((lib._standard_gamma(alpha), lib.rand(2, dtype=lib.float64)))
        for e, t in zip(out[1], out[0]):
            _same_bits(e, t)


def test_standard_gamma_shapes_generator_and_strides():
    """0-d, empty, non-contiguous and expanded alphas sample in index order into a contiguous
    result; an explicit generator is used and left where torch leaves it."""
    base = np.random.default_rng(3).uniform(0.1, 4, (3, 4))

    def fn(lib):
        g = lib.Generator().manual_seed(5)
        a = lib.tensor(base)
        outs = [lib._standard_gamma(a.t(), generator=g), lib._standard_gamma(a[:, ::2], g),
                lib._standard_gamma(lib.tensor(2.5), generator=g),
                lib._standard_gamma(lib.zeros(0, 3), generator=g),
                lib._standard_gamma(lib.tensor([[0.5], [3.0]]).expand(2, 5), generator=g),
                lib.rand(2, generator=g)]
        return outs + [lib.tensor(outs[0].stride())]

    with recording_compared() as run:
        for e, t in zip(run(ember, fn), run(torch, fn)):
            _same_bits(e, t)


@settings(max_examples=examples(10), deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), shape=st.lists(st.integers(0, 4), max_size=3),
       log_alpha=st.floats(-4, 4), dtype=st.sampled_from(["float32", "float64"]))
def test_standard_gamma_bits_hypothesis(seed, shape, log_alpha, dtype):
    size = int(np.prod(shape)) if shape else 1
    alpha = np.exp(log_alpha + np.linspace(-1, 1, size)).reshape(shape)
    out = []
    for lib in (torch, ember):
        lib.manual_seed(seed)
        out.append((lib._standard_gamma(lib.tensor(alpha, dtype=getattr(lib, dtype))),
                    lib.rand(1)))
    for e, t in zip(out[1], out[0]):
        _same_bits(e, t)


KERNEL_ERRORS = {
    "gamma-int": lambda lib: lib._standard_gamma(lib.ones(2, dtype=lib.int64)),
    "gamma-half": lambda lib: lib._standard_gamma(lib.ones(2, dtype=lib.float16)),
    "gamma-bfloat16": lambda lib: lib._standard_gamma(lib.ones(2, dtype=lib.bfloat16)),
    "gamma-bool": lambda lib: lib._standard_gamma(lib.ones(2, dtype=lib.bool)),
    "dirichlet-int": lambda lib: lib._sample_dirichlet(lib.ones(2, dtype=lib.int64)),
    "dirichlet-half": lambda lib: lib._sample_dirichlet(lib.ones(2, dtype=lib.float16)),
    "grad-int": lambda lib: lib._standard_gamma_grad(lib.ones(2, dtype=lib.int64),
                                                     lib.ones(2, dtype=lib.int64)),
    "grad-dtypes": lambda lib: lib._standard_gamma_grad(lib.ones(2),
                                                        lib.ones(2, dtype=lib.float64)),
    "grad-shapes": lambda lib: lib._standard_gamma_grad(lib.ones(2), lib.ones(3)),
    "dirichlet-grad-int": lambda lib: lib._dirichlet_grad(*[lib.ones(2, dtype=lib.int64)] * 3),
    "dirichlet-grad-dtypes": lambda lib: lib._dirichlet_grad(
        lib.ones(3) / 2, lib.ones(3), lib.ones(3, dtype=lib.float64)),
    "gamma-backward-twice": lambda lib: lib._standard_gamma_grad(
        lib.ones(2, requires_grad=True), lib.ones(2)).sum().backward(),
    "dirichlet-backward": lambda lib: lib._sample_dirichlet(
        lib.ones(2, requires_grad=True)).sum().backward(),
    "dirichlet-grad-backward": lambda lib: lib._dirichlet_grad(
        lib.ones(2) / 2, lib.ones(2, requires_grad=True), lib.ones(2) * 2).sum().backward(),
}


@pytest.mark.parametrize("case", KERNEL_ERRORS, ids=list(KERNEL_ERRORS))
def test_kernel_errors_match_torch(case):
    check_raises_like(KERNEL_ERRORS[case])


def test_kernel_nodes_and_no_tensor_methods():
    def fn(lib):
        a = lib.tensor([0.5, 2.0], requires_grad=True)
        x = lib.tensor([0.3, 1.5])
        return [lib._standard_gamma(a).grad_fn.name(),
                lib._standard_gamma_grad(a, x).grad_fn.name(),
                lib._standard_gamma_grad(x, a).requires_grad,
                lib._sample_dirichlet(a).grad_fn.name(),
                lib._dirichlet_grad(x / 2, a, x * 2).grad_fn.name()]

    assert fn(ember) == fn(torch)
    for name in ("_standard_gamma", "_standard_gamma_grad", "_sample_dirichlet",
                 "_dirichlet_grad", "standard_gamma", "sample_dirichlet"):
        assert hasattr(ember.Tensor, name) == hasattr(torch.Tensor, name)


# ---- _sample_dirichlet ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 9, 16, 17, 33, 70, 300, 1100])
def test_sample_dirichlet_bits(dtype, k):
    """Row sums in torch's order matter to the last bit from 5 categories on."""
    rng = np.random.default_rng(k)
    for seed in range(3):
        alpha = rng.exponential(2, (3, k)) + 0.01
        out = []
        for lib in (torch, ember):
            lib.manual_seed(seed)
            out.append((lib._sample_dirichlet(lib.tensor(alpha, dtype=getattr(lib, dtype))),
                        lib.rand(2, dtype=lib.float64), lib.randn(1, dtype=lib.float64)))
        for e, t in zip(out[1], out[0]):
            _same_bits(e, t)


def test_sample_dirichlet_edges():
    """Rows whose gammas all underflow become uniform; 0-d, empty and one-category inputs;
    NaN concentrations; results stay in [tiny, 1)."""
    def fn(lib):
        lib.manual_seed(2)
        return [lib._sample_dirichlet(lib.full((2, 3), 1e-30, dtype=lib.float64)),
                lib._sample_dirichlet(lib.full((2, 3), 1e-30)),
                lib._sample_dirichlet(lib.tensor(2.0)),
                lib._sample_dirichlet(lib.ones(0, 3)), lib._sample_dirichlet(lib.ones(2, 0)),
                lib._sample_dirichlet(lib.full((2, 1), 3.0)),
                lib._sample_dirichlet(lib.tensor([[math.nan, 1.0, 2.0], [1e-3, 50.0, 1e-3]])),
                lib._sample_dirichlet(lib.tensor([[0.5, 1.5]]).expand(3, 2)),
                lib.rand(2)]

    with recording_compared() as run:
        for e, t in zip(run(ember, fn), run(torch, fn)):
            _same_bits(e, t)


# ---- the reparameterisation gradients -------------------------------------------------------

def _gamma_pairs(lib, dtype, seed=0):
    rng = np.random.default_rng(seed)
    alpha = np.concatenate([[0.01, 0.1, 0.5, 0.99, 1.0, 1.5, 3.0, 7.9, 8.1, 20.0, 300.0],
                            rng.exponential(3, 13)])
    alpha = np.repeat(alpha, 8)
    torch.manual_seed(seed)
    x = torch._standard_gamma(torch.tensor(alpha)).numpy()
    return (lib.tensor(alpha, dtype=getattr(lib, dtype)),
            lib.tensor(x, dtype=getattr(lib, dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_standard_gamma_grad_matches_torch(dtype):
    """Measured against a 30-digit mpmath reference (-(dP/da) / p by numerical
    differentiation of the regularised incomplete gamma) on 222 (alpha, sample) pairs with
    alpha from 0.01 to 1000: torch's approximations are off by up to 3.2e-4 relative (median
    1.4e-5; worst near alpha = 8, where it switches formulas), ember's series by at most
    1e-13. So the two must agree within 1e-3 relative, and nowhere closer is asked."""
    t = torch._standard_gamma_grad(*_gamma_pairs(torch, dtype))
    e = ember._standard_gamma_grad(*_gamma_pairs(ember, dtype))
    assert_same(e, t, rtol=1e-3, atol=0)


def test_standard_gamma_grad_is_exact():
    """ember's series against mpmath (when installed) to 1e-11."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    alpha, x = _gamma_pairs(ember, "float64", seed=4)
    alpha, x = alpha[::7], x[::7]
    got = ember._standard_gamma_grad(alpha, x)._data

    def reference(a, v):
        a, v = mp.mpf(a), mp.mpf(v)
        slope = mp.diff(lambda s: mp.gammainc(s, 0, v, regularized=True), a)
        return float(-slope / mp.exp((a - 1) * mp.log(v) - v - mp.loggamma(a)))

    want = np.array([reference(a, v) for a, v in zip(alpha.tolist(), x.tolist())])
    np.testing.assert_allclose(got, want, rtol=1e-11)


def _beta_triples(lib, dtype):
    rng = np.random.default_rng(1)
    a = np.repeat([0.1, 0.5, 1.0, 2.0, 5.0, 0.3, 20.0, 4.0], 6)
    b = np.repeat([0.4, 1.5, 1.0, 1.0, 1.0, 1.2, 30.0, 0.5], 6)
    x = np.clip(rng.beta(a, b), 1e-6, 1 - 1e-6)
    return tuple(lib.tensor(v, dtype=getattr(lib, dtype)) for v in (x, a, a + b))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dirichlet_grad_matches_torch(dtype):
    """Against mpmath (-(dI/da) at fixed b over the Beta pdf, over 1 - x) on 60 draws with
    concentrations 0.02 to 50: torch's approximations are off by up to 4.4e-4 relative
    (median 1e-14), ember's quadrature by up to 7.3e-6 (median 6e-10, the worst for the
    peaked Beta(20, 30)). So agreement within 1e-3 relative."""
    t = torch._dirichlet_grad(*_beta_triples(torch, dtype))
    e = ember._dirichlet_grad(*_beta_triples(ember, dtype))
    assert_same(e, t, rtol=1e-3, atol=0)


def test_dirichlet_grad_is_accurate():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 25
    x, a, total = (v[::5] for v in _beta_triples(ember, "float64"))
    got = ember._dirichlet_grad(x, a, total)._data

    def reference(v, p, t):
        v, p, q = mp.mpf(v), mp.mpf(p), mp.mpf(t) - mp.mpf(p)
        slope = mp.diff(lambda s: mp.betainc(s, q, 0, v, regularized=True), p)
        pdf = mp.exp((p - 1) * mp.log(v) + (q - 1) * mp.log(1 - v) - mp.log(mp.beta(p, q)))
        return float(-slope / pdf / (1 - v))

    want = np.array([reference(*v) for v in zip(x.tolist(), a.tolist(), total.tolist())])
    np.testing.assert_allclose(got, want, rtol=2e-5)


# ---- the distributions ----------------------------------------------------------------------

def _summary(lib, d, value, *, sample_shape=(4,), cdf=False, mode=True, entropy=True,
             moments=True):
    outs = [d.log_prob(value)]
    if moments:
        outs += [d.mean, d.variance, d.stddev]
    if entropy:
        outs.append(d.entropy())
    if mode:
        outs.append(d.mode)
    if cdf:
        outs.append(d.cdf(value))
    lib.manual_seed(7)
    outs += [d.sample(sample_shape), d.rsample(sample_shape), d.rsample()]
    return tuple(outs)


def _pos(x):
    """A positive parameter made with correctly rounded ops only: float32 ``exp`` differs by
    an ulp between NumPy and torch, and a concentration below 1 magnifies that in its samples
    (``(1 - u) ** (1 / alpha)``)."""
    return x * x + 0.3


# (name, fn(lib, *inputs) -> outputs, input shapes[, check_op options]); the rsample
# gradients go through _standard_gamma_grad / _dirichlet_grad, whose values differ from
# torch's by its approximation error (see the kernel tests): 1e-3 relative.
_GRAD = {"grad_rtol": 1e-3, "grad_atol": 1e-6}
# Dirichlet's gradient of a concentration sums, over the draws and categories, terms of
# either sign (``_dirichlet_grad * (grad_i - sum_j x_j grad_j)``), each off by torch's 4.4e-4
# relative: the sum's error is relative to the terms, not to the (possibly small) total.
_DGRAD = {"grad_rtol": 1e-3, "grad_atol": 1e-3}
ROWS = [
    # cdf: torch's igamma has no derivative in the concentration (ember's has), so the
    # cdf rows detach it
    ("Gamma", lambda lib, c, r, v: _summary(
        lib, _D(lib).Gamma(_pos(c), _pos(r)), v.exp())
        + (_D(lib).Gamma(_pos(c).detach(), _pos(r)).cdf(v.exp()),), [(3,), (2, 3), (2, 3)],
     _GRAD),
    ("Gamma-scalars", lambda lib, v: _summary(
        lib, _D(lib).Gamma(0.7, 2.0), v.exp(), cdf=True), [(2, 3)], _GRAD),
    ("Gamma-0d", lambda lib, c, r, v: _summary(
        lib, _D(lib).Gamma(_pos(c), _pos(r)), v.exp(), sample_shape=()), [(), (), ()], _GRAD),
    ("Gamma-small", lambda lib, c, v: _summary(
        lib, _D(lib).Gamma(_pos(c) * 0.1, 1.0), v.exp()), [(5,), (5,)], _GRAD),
    ("Chi2", lambda lib, df, v: _summary(
        lib, _D(lib).Chi2(_pos(df)), v.exp())
        + (_D(lib).Chi2(_pos(df)).df, _D(lib).Chi2(_pos(df).detach()).cdf(v.exp())),
     [(3,), (2, 3)], _GRAD),
    ("Beta", lambda lib, a, b, v: _summary(
        lib, _D(lib).Beta(_pos(a), _pos(b)), lib.sigmoid(v))
        + (_D(lib).Beta(_pos(a), _pos(b)).concentration1,
           _D(lib).Beta(_pos(a), _pos(b)).concentration0), [(3,), (2, 3), (2, 3)], _DGRAD),
    ("Beta-scalars", lambda lib, v: _summary(
        lib, _D(lib).Beta(0.5, 2.0), lib.sigmoid(v)), [(2,)], _DGRAD),
    ("Dirichlet", lambda lib, c, v: _summary(
        lib, _D(lib).Dirichlet(_pos(c)), lib.softmax(v, -1)), [(2, 3), (5, 2, 3)], _DGRAD),
    ("Dirichlet-wide", lambda lib, c, v: _summary(
        lib, _D(lib).Dirichlet(_pos(c) * 3), lib.softmax(v, -1), sample_shape=(2,)),
     [(2, 7), (7,)], _DGRAD),
    ("Dirichlet-mode-vertex", lambda lib, c: (
        _D(lib).Dirichlet(lib.sigmoid(c) * 0.9).mode, _D(lib).Dirichlet(_pos(c) + 1).mode),
     [(2, 4)]),
    ("StudentT", lambda lib, df, loc, s, v: _summary(
        lib, _D(lib).StudentT(_pos(df) * 2, loc, _pos(s)), v), [(4,), (4,), (4,), (2, 4)],
     {"low": -1.2, "high": 1.2, **_GRAD}),
    ("StudentT-default", lambda lib, df, v: _summary(
        lib, _D(lib).StudentT(_pos(df) * 3), v), [(3,), (3,)], _GRAD),
    ("InverseGamma", lambda lib, c, r, v: _summary(
        lib, _D(lib).InverseGamma(_pos(c) * 2, _pos(r)), v.exp())
        + (_D(lib).InverseGamma(_pos(c).detach() * 2, _pos(r)).cdf(v.exp()),),
     [(4,), (4,), (2, 4)], _GRAD),
    ("FisherSnedecor", lambda lib, a, b, v: _summary(
        lib, _D(lib).FisherSnedecor(_pos(a) * 3, _pos(b) * 3), v.exp(), entropy=False),
     [(4,), (4,), (2, 4)], _GRAD),
    ("FisherSnedecor-scalars", lambda lib, v: _summary(
        lib, _D(lib).FisherSnedecor(3.0, 5.0), v.exp(), entropy=False), [(2,)], _GRAD),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_matches_torch(row):
    _, fn, shapes, *options = row
    check_op(fn, shapes, **(options[0] if options else {}))


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_float64(row):
    _, fn, shapes, *options = row
    check_op(fn, shapes, dtype="float64", seed=1, **(options[0] if options else {}))


def test_samples_bit_exact():
    """The draws themselves (check_op compares within tolerance) are bit for bit torch's."""
    def fn(lib):
        D = _D(lib)
        out = []
        for dtype in (lib.float32, lib.float64):
            c = lib.tensor([[0.3, 1.0, 4.0], [2.5, 0.7, 9.0]], dtype=dtype)
            lib.manual_seed(21)
            out += [D.Gamma(c, 2.0).sample((3,)), D.Chi2(c).rsample(), D.Beta(c, c.t()[0]
                    .unsqueeze(-1)).sample((2,)), D.Dirichlet(c).rsample((2,)),
                    D.StudentT(c, 1.0, 2.0).sample(), D.InverseGamma(c, 1.5).sample(),
                    D.FisherSnedecor(c, c + 1).sample((2,)), lib.rand(2)]
        return out

    with recording_compared() as run:
        for e, t in zip(run(ember, fn), run(torch, fn)):
            _same_bits(e, t)


def test_log_prob_entropy_gradcheck():
    """float64 finite differences of ember's own log_prob and entropy. (rsample's gradient
    is the implicit reparameterisation one, not the pathwise derivative of the rejection
    sampler's output, so finite differences of a fixed-seed rsample do not check it: the
    kernel tests compare it with mpmath instead.)"""
    def fn(lib, a, b, v):
        D = _D(lib)
        return (D.Beta(a.exp(), b.exp()).log_prob(lib.sigmoid(v)),
                D.Gamma(a.exp(), b.exp()).log_prob(v.exp()),
                D.Dirichlet(lib.stack([a, b], -1).exp()).entropy(),
                D.StudentT(a.exp(), b, v.exp()).entropy(),
                D.FisherSnedecor(a.exp(), b.exp()).log_prob(v.exp()),
                D.Gamma(a.exp(), b.exp()).entropy())

    check_gradcheck(fn, [(3,), (3,), (3,)])


def test_exponential_family_parts_match_torch():
    def fn(lib):
        D = _D(lib)
        c = lib.tensor([[0.5, 2.0, 3.0], [1.5, 0.8, 4.0]], dtype=lib.float64)
        out = []
        for d in (D.Gamma(c, c + 1), D.Beta(c, c.flip(-1)), D.Dirichlet(c)):
            params = d._natural_params
            out += list(params) + [d._log_normalizer(*params)]
        out.append(D.kl_divergence(D.Gamma(c, 1.0), D.Gamma(c + 1, 2.0)))
        out.append(D.ExponentialFamily.entropy(D.Gamma(c, c + 1)))
        return out

    with recording_compared() as run:
        for e, t in zip(run(ember, fn), run(torch, fn)):
            assert_same(e, t)


# every pair torch registers for these families
KL_ROWS = [
    ("Gamma-Gamma", lambda D, lib, a, b: (D.Gamma(a.exp(), b.exp()), D.Gamma(b.exp(), 2.0))),
    ("Beta-Beta", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()), D.Beta(b.exp(), a.exp()))),
    ("Dirichlet-Dirichlet", lambda D, lib, a, b: (D.Dirichlet(a.exp()), D.Dirichlet(b.exp()))),
    ("Beta-Pareto", lambda D, lib, a, b: (D.Beta(a.exp(), 1.0), D.Pareto(1.0, b.exp()))),
    ("Beta-Exponential", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()),
                                               D.Exponential(b.exp()))),
    ("Beta-Gamma", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()), D.Gamma(b.exp(), a.exp()))),
    ("Beta-ContinuousBernoulli", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()),
                                                       D.ContinuousBernoulli(lib.sigmoid(a)))),
    ("Gamma-ContinuousBernoulli", lambda D, lib, a, b: (
        D.Gamma(a.exp(), b.exp()), D.ContinuousBernoulli(lib.sigmoid(b)))),
    ("Beta-Normal", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()), D.Normal(a, b.exp()))),
    ("Beta-Uniform", lambda D, lib, a, b: (D.Beta(a.exp(), b.exp()),
                                           D.Uniform(a.detach() * 0.4 - 1, 1.5))),
    ("Exponential-Beta", lambda D, lib, a, b: (D.Exponential(a.exp()), D.Beta(b.exp(), 1.0))),
    ("Exponential-Gamma", lambda D, lib, a, b: (D.Exponential(a.exp()),
                                                D.Gamma(b.exp(), a.exp()))),
    ("Gamma-Uniform", lambda D, lib, a, b: (D.Gamma(a.exp(), 1.0), D.Uniform(0.0, b.exp()))),
    ("Gamma-Pareto", lambda D, lib, a, b: (D.Gamma(a.exp(), 1.0), D.Pareto(1.0, b.exp()))),
    ("Gamma-Beta", lambda D, lib, a, b: (D.Gamma(a.exp(), 1.0), D.Beta(b.exp(), 1.0))),
    ("Gamma-Exponential", lambda D, lib, a, b: (D.Gamma(a.exp(), b.exp()),
                                                D.Exponential(a.exp()))),
    ("Gamma-Gumbel", lambda D, lib, a, b: (D.Gamma(a.exp(), b.exp()), D.Gumbel(a, b.exp()))),
    ("Gamma-Normal", lambda D, lib, a, b: (D.Gamma(a.exp(), b.exp()), D.Normal(b, a.exp()))),
    ("Gumbel-Gamma", lambda D, lib, a, b: (D.Gumbel(a, 1.0), D.Gamma(b.exp(), 1.0))),
    ("Gumbel-Beta", lambda D, lib, a, b: (D.Gumbel(a, 1.0), D.Beta(b.exp(), 1.0))),
    ("Laplace-Gamma", lambda D, lib, a, b: (D.Laplace(a, 1.0), D.Gamma(b.exp(), 1.0))),
    ("Laplace-Beta", lambda D, lib, a, b: (D.Laplace(a, 1.0), D.Beta(b.exp(), 1.0))),
    ("Normal-Gamma", lambda D, lib, a, b: (D.Normal(a, 1.0), D.Gamma(b.exp(), 1.0))),
    ("Normal-Beta", lambda D, lib, a, b: (D.Normal(a, 1.0), D.Beta(b.exp(), 1.0))),
    ("Pareto-Beta", lambda D, lib, a, b: (D.Pareto(a.exp(), 2.0), D.Beta(b.exp(), 1.0))),
    ("Pareto-Gamma", lambda D, lib, a, b: (D.Pareto(a.exp(), b.exp() + 0.5),
                                           D.Gamma(b.exp(), a.exp()))),
    ("Uniform-Beta", lambda D, lib, a, b: (D.Uniform(lib.sigmoid(a) * 0.5,
                                                     lib.sigmoid(b) * 0.5 + 0.5),
                                           D.Beta(b.exp(), a.exp()))),
    ("Uniform-Beta-outside", lambda D, lib, a, b: (D.Uniform(a - 3, a.detach() + 3),
                                                   D.Beta(b.exp(), 1.0))),
    ("Uniform-Gamma", lambda D, lib, a, b: (D.Uniform(a.exp(), a.exp() + b.exp()),
                                            D.Gamma(b.exp(), a.exp()))),
    ("Uniform-Gamma-outside", lambda D, lib, a, b: (D.Uniform(a - 3, a.detach() + 3),
                                                    D.Gamma(b.exp(), 1.0))),
]


@pytest.mark.parametrize("row", KL_ROWS, ids=[r[0] for r in KL_ROWS])
def test_kl_divergence_matches_torch(row):
    name, make = row

    def fn(lib, a, b):
        p, q = make(_D(lib), lib, a, b)
        return lib.distributions.kl_divergence(p, q)

    shapes = [(2, 3), (3,)]
    check_op(fn, shapes)
    check_op(fn, shapes, dtype="float64", seed=2)


def test_kl_registry_covers_torch_pairs():
    names = {"Gamma", "Chi2", "Beta", "Dirichlet", "StudentT", "InverseGamma",
             "FisherSnedecor"}
    from ember.distributions import kl as ember_kl

    ours = {(p.__name__, q.__name__) for p, q in ember_kl._KL_REGISTRY}
    theirs = {(p.__name__, q.__name__) for p, q in torch.distributions.kl._KL_REGISTRY
              if p.__name__ in names or q.__name__ in names}
    assert theirs <= ours


def _reprs(lib):
    D = _D(lib)
    x = lib.ones(2, 3)
    dists = [D.Gamma(1.0, 2.0), D.Gamma(x, 1.0), D.Chi2(x), D.Chi2(3.0), D.Beta(0.5, 0.5),
             D.Beta(x, x), D.Dirichlet(x), D.Dirichlet(lib.ones(4)), D.StudentT(x),
             D.StudentT(3.0, 1.0, 2.0), D.InverseGamma(x, 2.0), D.InverseGamma(2.0, 3.0),
             D.FisherSnedecor(x, 2.0), D.FisherSnedecor(2.0, 3.0),
             D.Gamma(x, 1.0).expand((4, 2, 3)), D.Dirichlet(x).expand((5, 2)),
             D.Beta(x, x).expand((4, 2, 3)), D.Chi2(x).expand((3, 2, 3)),
             D.StudentT(x).expand((2, 2, 3)), D.InverseGamma(x, 1.0).expand((2, 2, 3)),
             D.FisherSnedecor(x, 2.0).expand((1, 2, 3))]
    out = [repr(d) for d in dists] + [type(d).__name__ for d in dists]
    out += [repr((d.batch_shape, d.event_shape, d.has_rsample, d.has_enumerate_support,
                  sorted(d.arg_constraints), repr(d.support))) for d in dists]
    return out


def test_reprs_shapes_and_flags_match_torch():
    with recording_compared() as run:
        assert run(ember, _reprs) == run(torch, _reprs)


ERROR_CASES = {
    "gamma-concentration": lambda lib: _D(lib).Gamma(lib.tensor([-1.0]), 1.0),
    "gamma-rate": lambda lib: _D(lib).Gamma(1.0, lib.tensor([0.0, 1.0])),
    "gamma-value": lambda lib: _D(lib).Gamma(1.0, 1.0).log_prob(lib.tensor([-1.0])),
    "gamma-cdf-value": lambda lib: _D(lib).Gamma(1.0, 1.0).cdf(lib.tensor([-1.0])),
    "gamma-types": lambda lib: _D(lib).Gamma("a", 1.0),
    "gamma-shapes": lambda lib: _D(lib).Gamma(lib.ones(2), lib.ones(3)),
    "chi2-df": lambda lib: _D(lib).Chi2(lib.tensor([-2.0])),
    "beta-concentration": lambda lib: _D(lib).Beta(lib.tensor([0.0]), lib.tensor([1.0])),
    "beta-value": lambda lib: _D(lib).Beta(1.0, 1.0).log_prob(lib.tensor([1.5])),
    "dirichlet-0d": lambda lib: _D(lib).Dirichlet(lib.tensor(1.0)),
    "dirichlet-negative": lambda lib: _D(lib).Dirichlet(lib.tensor([1.0, -1.0])),
    "dirichlet-value": lambda lib: _D(lib).Dirichlet(lib.ones(3)).log_prob(lib.ones(3)),
    "studentT-df": lambda lib: _D(lib).StudentT(lib.tensor([0.0])),
    "studentT-scale": lambda lib: _D(lib).StudentT(1.0, 0.0, lib.tensor([-1.0])),
    "inverse-gamma-rate": lambda lib: _D(lib).InverseGamma(1.0, lib.tensor([-1.0])),
    "inverse-gamma-value": lambda lib: _D(lib).InverseGamma(1.0, 1.0).log_prob(
        lib.tensor([-1.0])),
    "fisher-df2": lambda lib: _D(lib).FisherSnedecor(1.0, lib.tensor([-1.0])),
    "fisher-value": lambda lib: _D(lib).FisherSnedecor(1.0, 2.0).log_prob(lib.tensor([-1.0])),
    "expand-bad": lambda lib: _D(lib).Gamma(lib.ones(2), 1.0).expand((3,)),
    "fisher-entropy": lambda lib: _D(lib).FisherSnedecor(1.0, 2.0).entropy(),
    "studentT-cdf": lambda lib: _D(lib).StudentT(1.0).cdf(lib.tensor([0.0])),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=list(ERROR_CASES))
def test_errors_match_torch(case):
    check_raises_like(ERROR_CASES[case])


@settings(max_examples=examples(12), deadline=None)
@given(shapes=st.sampled_from([[(), ()], [(3,), ()], [(2, 1), (3,)], [(0, 2), (2,)],
                               [(2, 3), (1, 3)]]),
       family=st.sampled_from(["Gamma", "InverseGamma", "Beta", "FisherSnedecor"]),
       seed=st.integers(0, 1000), dtype=st.sampled_from(["float32", "float64"]))
def test_two_parameter_families_hypothesis(shapes, family, seed, dtype):
    def fn(lib, a, b):
        d = getattr(_D(lib), family)(_pos(a), _pos(b))
        lib.manual_seed(seed)
        value = d.sample((2,))
        return d.log_prob(value), d.mean, d.rsample((2,))

    check_op(fn, shapes, dtype=dtype, seed=seed, grad_rtol=1e-3, grad_atol=1e-6)
