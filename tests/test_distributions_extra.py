"""NegativeBinomial, Kumaraswamy, LKJCholesky and Wishart against torch: values, dtypes,
shapes, gradients of every parameter, the generator calls of their samplers (the draws bit
for bit and the generator's state afterwards), float64 gradcheck of log_prob, KL dispatch,
reprs and torch's errors and warnings."""
import math
import types
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import (
    assert_raises_like,
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    distribution_validation,
    recording_compared,
    torch,
)

pytestmark = pytest.mark.skipif(torch is None, reason="needs torch as the oracle")


@pytest.fixture(autouse=True)
def _validation_on():
    """Both libraries validate arguments, as torch does by default; Wishart's warnings
    ("Singular sample detected." on every rsample, see NOTE [torch's Wishart retry]) are
    compared where they matter and silenced elsewhere."""
    with distribution_validation(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Singular sample detected", UserWarning)
        warnings.filterwarnings("ignore", "Low df values detected", UserWarning)
        yield


def _D(lib):
    """torch.distributions, or ember.distributions with these four modules (which the
    package's namespace may not list yet)."""
    if lib is torch:
        return torch.distributions
    from ember.distributions import kl, kumaraswamy, lkj_cholesky, negative_binomial, wishart

    names = {name: getattr(ember.distributions, name) for name in dir(ember.distributions)}
    for module in (kumaraswamy, lkj_cholesky, negative_binomial, wishart):
        names.update({name: getattr(module, name) for name in module.__all__})
    names["kl_divergence"] = kl.kl_divergence
    return types.SimpleNamespace(**names)


def _bits(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach()._data


def _same_bits(e, t) -> None:
    assert repr(e.dtype) == repr(t.dtype) and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.ascontiguousarray(_bits(e)).reshape(-1).view(np.uint8),
                                  np.ascontiguousarray(_bits(t)).reshape(-1).view(np.uint8))


def _pos(x):
    """A positive parameter from correctly rounded ops only (float32 ``exp`` differs by an
    ulp between NumPy and torch)."""
    return x * x + 0.3


def _unit(x):
    """A probability in (0.05, 0.95) from correctly rounded ops only."""
    return 0.5 + 0.45 * x / (1 + x.abs())


def _tril(lib, m):
    """A lower Cholesky factor from a square input: its strict lower part and a positive
    diagonal."""
    return m.tril(-1) + lib.diag_embed(_pos(m.diagonal(dim1=-2, dim2=-1)))


def _pd(lib, m):
    """A positive definite matrix from a square input."""
    return m @ m.transpose(-2, -1) + lib.eye(m.shape[-1], dtype=m.dtype)


def _summary(lib, d, value, *, moments=True, entropy=True, mode=True, rsample=True,
             sample_shape=(3,)):
    outs = [d.log_prob(value)]
    if moments:
        outs += [d.mean, d.variance, d.stddev]
    if entropy:
        outs.append(d.entropy())
    if mode:
        outs.append(d.mode)
    lib.manual_seed(5)
    outs.append(d.sample(sample_shape))
    if rsample:
        outs.append(d.rsample())
    return tuple(outs)


def _nb_values(lib, like, shape=(2,)):
    """Counts to evaluate log_prob at: a fixed pattern, 0 included."""
    counts = lib.arange(int(np.prod(shape + tuple(like.shape))), dtype=like.dtype) % 7
    return counts.reshape(shape + tuple(like.shape))


def _lkj_values(lib, d, n=2):
    lib.manual_seed(9)
    return d.sample((n,))


def _wishart_value(lib, m):
    return _pd(lib, m.detach()) + 0.5


# (name, fn(lib, *inputs) -> outputs, input shapes[, check_op options]). Samples of the
# samplers that reduce or multiply matrices (LKJCholesky, Wishart) agree within rounding of
# those reductions; the draws themselves are checked bit for bit in test_sampler_calls.
# Wishart's rsample gradients go through _standard_gamma_grad, torch's approximations of
# which are off by up to 3.2e-4 relative (tests/test_distributions_gamma.py).
_GRAD = {"grad_rtol": 1e-3, "grad_atol": 1e-5}
ROWS = [
    ("NegativeBinomial-probs", lambda lib, n, p: _summary(
        lib, _D(lib).NegativeBinomial(_pos(n) * 3, _unit(p)), _nb_values(lib, p),
        entropy=False, rsample=False) + (_D(lib).NegativeBinomial(_pos(n), _unit(p)).logits,),
     [(3,), (2, 3)]),
    ("NegativeBinomial-logits", lambda lib, n, g: _summary(
        lib, _D(lib).NegativeBinomial(_pos(n) * 3, logits=g), _nb_values(lib, g),
        entropy=False, rsample=False) + (_D(lib).NegativeBinomial(_pos(n), logits=g).probs,),
     [(2, 3), (3,)]),
    ("NegativeBinomial-numbers", lambda lib, v: (
        _D(lib).NegativeBinomial(4.0, 0.3).log_prob(v.detach().abs().round()),
        _D(lib).NegativeBinomial(4.0, 0.3).mean, _D(lib).NegativeBinomial(2.5, 0.5).sample(
            (4,))), [(5,)]),
    ("NegativeBinomial-0d", lambda lib, n, p: _summary(
        lib, _D(lib).NegativeBinomial(_pos(n), _unit(p)), _nb_values(lib, p), entropy=False,
        rsample=False, sample_shape=()), [(), ()]),
    ("NegativeBinomial-empty", lambda lib, n, p: _summary(
        lib, _D(lib).NegativeBinomial(_pos(n), _unit(p)), _nb_values(lib, p), entropy=False,
        rsample=False), [(0, 3), (3,)]),
    ("NegativeBinomial-zero-count", lambda lib, p: (
        _D(lib).NegativeBinomial(lib.zeros(3, dtype=p.dtype), _unit(p)).log_prob(
            lib.tensor([0.0, 1.0, 2.0], dtype=p.dtype)),
        _D(lib).NegativeBinomial(lib.zeros(3, dtype=p.dtype), _unit(p)).sample((2,))),
     [(3,)]),
    ("Kumaraswamy", lambda lib, a, b, v: _summary(
        lib, _D(lib).Kumaraswamy(_pos(a), _pos(b)), lib.sigmoid(v))
        + (_D(lib).Kumaraswamy(_pos(a), _pos(b)).rsample((2,)),), [(3,), (2, 3), (2, 3)]),
    ("Kumaraswamy-numbers", lambda lib, v: _summary(
        lib, _D(lib).Kumaraswamy(2.0, 5.0), lib.sigmoid(v)), [(4,)]),
    ("Kumaraswamy-0d", lambda lib, a, b, v: _summary(
        lib, _D(lib).Kumaraswamy(_pos(a), _pos(b)), lib.sigmoid(v), sample_shape=()),
     [(), (), ()]),
    ("Kumaraswamy-empty", lambda lib, a, b, v: _summary(
        lib, _D(lib).Kumaraswamy(_pos(a), _pos(b)), lib.sigmoid(v)), [(0, 2), (2,), (2,)]),
    ("Kumaraswamy-expand", lambda lib, a, b: _summary(
        lib, _D(lib).Kumaraswamy(_pos(a), _pos(b)).expand((2, 3)), lib.full((3,), 0.4)),
     [(3,), (3,)]),
    ("LKJCholesky-2", lambda lib, c: (
        _D(lib).LKJCholesky(2, _pos(c)).log_prob(_lkj_values(lib, _D(lib).LKJCholesky(2, 1.0))),
        _lkj_values(lib, _D(lib).LKJCholesky(2, _pos(c)), 3)), [(4,)]),
    ("LKJCholesky-4", lambda lib, c: (
        _D(lib).LKJCholesky(4, _pos(c)).log_prob(_lkj_values(lib, _D(lib).LKJCholesky(4, 2.0))),
        _lkj_values(lib, _D(lib).LKJCholesky(4, _pos(c)))), [(2, 3)]),
    ("LKJCholesky-number", lambda lib: (
        _D(lib).LKJCholesky(3, 0.5).log_prob(_lkj_values(lib, _D(lib).LKJCholesky(3, 0.5))),
        _lkj_values(lib, _D(lib).LKJCholesky(3)).sum(-1)), []),
    ("LKJCholesky-empty", lambda lib, c: (
        _D(lib).LKJCholesky(3, _pos(c)).log_prob(lib.eye(3, dtype=c.dtype)),
        _lkj_values(lib, _D(lib).LKJCholesky(3, _pos(c)))), [(0,)]),
    ("LKJCholesky-expand", lambda lib, c: (
        _lkj_values(lib, _D(lib).LKJCholesky(3, _pos(c)).expand((2, 3))),
        _D(lib).LKJCholesky(3, _pos(c)).expand((2, 3)).log_prob(lib.eye(3, dtype=c.dtype))),
     [(3,)]),
    ("Wishart-scale_tril", lambda lib, df, m, v: _summary(
        lib, _D(lib).Wishart(_pos(df) + 2, scale_tril=_tril(lib, m)), _wishart_value(lib, v),
        sample_shape=(2,)), [(2,), (2, 3, 3), (3, 3)], _GRAD),
    ("Wishart-covariance", lambda lib, df, m, v: _summary(
        lib, _D(lib).Wishart(_pos(df) + 3, covariance_matrix=_pd(lib, m)),
        _wishart_value(lib, v)), [(), (3, 3), (2, 3, 3)], _GRAD),
    ("Wishart-precision", lambda lib, m, v: _summary(
        lib, _D(lib).Wishart(4.5, precision_matrix=_pd(lib, m)), _wishart_value(lib, v)),
     [(2, 2), (2, 2)], _GRAD),
    ("Wishart-broadcast", lambda lib, df, m, v: _summary(
        lib, _D(lib).Wishart(_pos(df) + 1, scale_tril=_tril(lib, m)), _wishart_value(lib, v)),
     [(3, 1), (2, 2, 2), (2, 2)], _GRAD),
    ("Wishart-mode-nan", lambda lib, m: (
        _D(lib).Wishart(lib.tensor([2.5, 3.5, 6.0], dtype=m.dtype),
                        covariance_matrix=_pd(lib, m)).mode,), [(3, 3)]),
    ("Wishart-empty", lambda lib, m, v: _summary(
        lib, _D(lib).Wishart(3.0, scale_tril=_tril(lib, m)), _wishart_value(lib, v)),
     [(0, 2, 2), (2, 2)]),
    ("Wishart-expand", lambda lib, df, m: _summary(
        lib, _D(lib).Wishart(_pos(df) + 2, scale_tril=_tril(lib, m)).expand((2, 3)),
        _wishart_value(lib, m), entropy=True), [(3,), (2, 2)], _GRAD),
    ("Wishart-natural-params", lambda lib, df, m: (
        _D(lib).Wishart(_pos(df) + 2, covariance_matrix=_pd(lib, m))._natural_params
        + (_D(lib).ExponentialFamily.entropy(
            _D(lib).Wishart(_pos(df) + 2, covariance_matrix=_pd(lib, m))),)),
     [(2,), (2, 2, 2)]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_matches_torch(row):
    _, fn, shapes, *options = row
    check_op(fn, shapes, **(options[0] if options else {}))


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_float64(row):
    _, fn, shapes, *options = row
    check_op(fn, shapes, dtype="float64", seed=1, **(options[0] if options else {}))


# ---- the samplers' generator calls ----------------------------------------------------------

def _replay_negative_binomial(lib, d, shape):
    """torch's calls: a Gamma(total_count, exp(-logits)) sample, then poisson of it."""
    shape = tuple(shape) + tuple(d.batch_shape)
    standard = lib._standard_gamma(d.total_count.expand(shape))
    # the rate's float32 exp may differ by an ulp between the libraries: not a draw
    gamma = standard / lib.exp(-d.logits).expand(shape)
    gamma = gamma.clamp(min=lib.finfo(gamma.dtype).tiny)
    return [standard], lib.poisson(gamma)


def _replay_kumaraswamy(lib, d, shape):
    """One uniform draw per sample through the three transforms."""
    u = lib.rand(tuple(shape) + tuple(d.batch_shape), dtype=d.concentration0.dtype)
    first, _, last = d.transforms  # their exponents: 1 / concentration0, 1 / concentration1
    return [u], (1 - u ** first.exponent) ** last.exponent


def _replay_lkj(lib, d, shape):
    """A Beta draw per row, then one randn matrix: the onion method."""
    y = d._beta.sample(shape).unsqueeze(-1)
    normal = lib.randn(tuple(shape) + tuple(d.batch_shape) + (d.dim, d.dim),
                       dtype=y.dtype).tril(-1)
    direction = normal / normal.norm(dim=-1, keepdim=True)
    direction[..., 0, :] = 0
    w = y.sqrt() * direction
    diagonal = (1 - (w ** 2).sum(-1)).clamp(min=lib.finfo(w.dtype).tiny).sqrt()
    return [y, normal], w + lib.diag_embed(diagonal)


def _replay_wishart(lib, d, shape):
    """Bartlett's factor, then again for the samples (across the batch) that came out
    positive definite, and again for those of the redraws that did not (NOTE [torch's
    Wishart retry])."""
    p = d.event_shape[-1]
    draws = []

    def bartlett(sample_shape):
        chi2 = d._dist_chi2.rsample(sample_shape)
        below = lib.randn(tuple(sample_shape) + tuple(d.batch_shape) + (p * (p - 1) // 2,),
                          dtype=chi2.dtype)
        # torch's float32 sqrt of 32 elements or more is not always correctly rounded (NumPy's
        # is): the draws are compared before it
        draws.extend([chi2, below])
        root = chi2.sqrt()
        noise = lib.diag_embed(root.clamp(min=lib.finfo(root.dtype).eps))
        i, j = lib.tril_indices(p, p, offset=-1)
        noise[..., i, j] = below
        chol = d._unbroadcasted_scale_tril @ noise
        return chol @ chol.transpose(-2, -1)

    def flags(sample, positive_definite):
        ok = lib.linalg.cholesky_ex(sample).info == 0
        ok = ok if positive_definite else ~ok
        return ok.reshape(tuple(ok.shape[:len(ok.shape) - len(d.batch_shape)]) + (-1,)).any(-1)

    sample = bartlett(shape)
    redraw = flags(sample, True)
    for _ in range(10):
        if not redraw.any():
            break
        new = bartlett((int(redraw.sum()),))
        sample[redraw] = new
        redraw = redraw.clone()
        redraw[redraw.clone()] = flags(new, False)
    return draws, sample


def _sampler_cases(lib, dtype):
    D = _D(lib)
    c = lib.tensor([[0.4, 1.0, 3.0], [2.5, 0.7, 9.0]], dtype=dtype)
    A = lib.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 3.0]], dtype=dtype)
    return [
        (D.NegativeBinomial(c * 4, c / 10), _replay_negative_binomial, (3,)),
        (D.NegativeBinomial(c[0] + 20, logits=c[:, :1] - 1.5), _replay_negative_binomial, ()),
        (D.NegativeBinomial(c * 4, lib.full((3,), 0.5, dtype=dtype)),
         _replay_negative_binomial, (2,)),
        (D.Kumaraswamy(c, c.flip(-1)), _replay_kumaraswamy, (4,)),
        (D.Kumaraswamy(c, 2.0).expand((3, 2, 3)), _replay_kumaraswamy, ()),
        (D.LKJCholesky(2, c), _replay_lkj, (2,)),
        (D.LKJCholesky(5, c[0]), _replay_lkj, (2, 2)),
        (D.LKJCholesky(3, 1.5), _replay_lkj, ()),
        (D.Wishart(c[0] + 2, covariance_matrix=A), _replay_wishart, (2,)),
        (D.Wishart(lib.tensor(4.0, dtype=dtype), scale_tril=lib.linalg.cholesky(A)),
         _replay_wishart, (2, 3)),
        (D.Wishart(3.5, precision_matrix=A[:2, :2].expand(2, 2, 2)), _replay_wishart, ()),
    ]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sampler_calls(dtype):
    """For the same seed, every distribution's sampler makes torch's generator calls: the
    draws (replayed with primitives after reseeding) are bit for bit torch's, the replay is
    what each library's sampler returns (bit for bit: NegativeBinomial's counts and the
    replays' own arithmetic), and a ``rand`` right after agrees. Across the libraries the
    samples agree bit for bit for NegativeBinomial; Kumaraswamy's powers (torch's Sleef
    ``pow``), LKJCholesky's row norms and Wishart's matrix products round differently in
    the last bits, so those compare within tolerance."""
    out = {}
    for lib in (torch, ember):
        results = []
        for k, (d, replay, shape) in enumerate(_sampler_cases(lib, getattr(lib, dtype))):
            lib.manual_seed(100 + k)
            sample = d.sample(shape)
            after = lib.rand(3, dtype=lib.float64)
            lib.manual_seed(100 + k)
            draws, replayed = replay(lib, d, shape)
            if lib is ember:
                _same_bits(sample, replayed)
            else:
                torch.testing.assert_close(sample, replayed, rtol=0, atol=0)
            results.append((type(d).__name__, sample, after, draws))
        out[lib] = results
    for (name, e_sample, e_after, e_draws), (_, t_sample, t_after, t_draws) in zip(
            out[ember], out[torch]):
        _same_bits(e_after, t_after)
        for e, t in zip(e_draws, t_draws):
            _same_bits(e, t)
        if name == "NegativeBinomial":
            _same_bits(e_sample, t_sample)
            continue
        if name == "LKJCholesky":
            # a diagonal entry is sqrt(1 - (sum of its row's squares)): the sum's rounding
            # is absolute, so compare squares (sign kept), not the small roots
            e_sample, t_sample = e_sample * e_sample.abs(), t_sample * t_sample.abs()
        assert_same(e_sample, t_sample, rtol=2e-5 if dtype == "float32" else 1e-12,
                    atol=1e-6 if dtype == "float32" else 1e-13, what=name)


@pytest.mark.bitexact
def test_rsample_bits_and_generator_state():
    """rsample (Kumaraswamy, Wishart) draws what sample draws, and leaves the generator
    where torch leaves it; Wishart's retry warns as torch's does."""
    def fn(lib):
        D = _D(lib)
        c = lib.tensor([0.5, 2.0, 4.0], dtype=lib.float64, requires_grad=True)
        outs = []
        lib.manual_seed(3)
        outs.append(D.Kumaraswamy(c, 1.5).rsample((2,)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outs.append(D.Wishart(c + 2, covariance_matrix=lib.eye(2, dtype=lib.float64))
                        .rsample((2,)))
            outs.append(D.Wishart(c + 1, scale_tril=lib.eye(2, dtype=lib.float64))
                        .rsample(max_try_correction=0))
        outs.append(lib.rand(4, dtype=lib.float64))
        return outs, [str(w.message) for w in caught]

    with recording_compared() as run:
        (e_out, e_warn), (t_out, t_warn) = run(ember, fn), run(torch, fn)
    assert e_warn == t_warn
    _same_bits(e_out[-1], t_out[-1])
    for e, t in zip(e_out[:-1], t_out[:-1]):
        assert_same(e, t, rtol=1e-12, atol=1e-13)


@pytest.mark.bitexact
def test_negative_binomial_sample_bits_hypothesis_like():
    """Many seeds and a range of counts (0, fractional, large) and probabilities, both
    parameterisations, float32 and float64: the counts are torch's."""
    rng = np.random.default_rng(7)
    counts = np.concatenate([[0.0, 0.5, 1.0, 30.0, 200.0], rng.uniform(0, 15, 11)])
    probs = np.concatenate([[0.0, 0.5, 0.99, 0.01, 0.3], rng.uniform(0, 0.95, 11)])
    for seed in range(6):
        out = []
        for lib in (torch, ember):
            dtype = lib.float32 if seed % 2 else lib.float64
            lib.manual_seed(seed)
            n, p = lib.tensor(counts, dtype=dtype), lib.tensor(probs, dtype=dtype)
            out.append((_D(lib).NegativeBinomial(n, p).sample((3,)),
                        _D(lib).NegativeBinomial(n, logits=p - 0.5).sample(),
                        lib.rand(2)))
        for e, t in zip(out[1], out[0]):
            _same_bits(e, t)


# ---- gradients --------------------------------------------------------------------------------

def test_log_prob_gradcheck():
    """float64 finite differences of ember's log_prob (and entropy) in every parameter."""
    def fn(lib, a, b, m):
        D = _D(lib)
        counts = lib.tensor([0.0, 1.0, 4.0], dtype=a.dtype)
        lkj = lib.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.48, 0.36, 0.8]],
                         dtype=a.dtype)
        wishart_value = lib.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=a.dtype)
        return (D.NegativeBinomial(_pos(a), logits=b).log_prob(counts),
                D.NegativeBinomial(_pos(a), _unit(b)).log_prob(counts),
                D.Kumaraswamy(_pos(a), _pos(b)).log_prob(lib.sigmoid(b)),
                D.Kumaraswamy(_pos(a), _pos(b)).entropy(),
                D.Kumaraswamy(_pos(a), _pos(b)).variance,
                D.LKJCholesky(3, _pos(a)).log_prob(lkj),
                D.Wishart(_pos(a[0]) + 1, scale_tril=_tril(lib, m)).log_prob(wishart_value),
                D.Wishart(_pos(a[1]) + 1, covariance_matrix=_pd(lib, m)).entropy())

    check_gradcheck(fn, [(3,), (3,), (2, 2)], gradgrad=False)


def test_wishart_rsample_gradient_through_the_retry():
    """The redraw that replaces the first sample is what the gradient flows through (torch
    can differentiate it only with an empty sample shape)."""
    def fn(lib, df, m):
        lib.manual_seed(4)
        return _D(lib).Wishart(_pos(df) + 2, scale_tril=_tril(lib, m)).rsample()

    check_op(fn, [(), (3, 3)], dtype="float64", **_GRAD)
    check_op(fn, [(2,), (3, 3)], **_GRAD)


# ---- KL, reprs, errors ------------------------------------------------------------------------

def test_kl_dispatch_matches_torch():
    """torch registers no pair for these four: Wishart falls to the exponential-family
    Bregman divergence, Kumaraswamy to TransformedDistribution's pair (which refuses unless
    the transforms are equal), the others raise."""
    pairs = {
        "wishart": lambda D, lib: (D.Wishart(3.5, covariance_matrix=lib.eye(2) * 2),
                                   D.Wishart(4.0, covariance_matrix=lib.tensor(
                                       [[1.0, 0.2], [0.2, 0.5]]))),
        "kumaraswamy": lambda D, lib: (D.Kumaraswamy(2.0, 3.0), D.Kumaraswamy(2.0, 4.0)),
        "negative-binomial": lambda D, lib: (D.NegativeBinomial(3.0, 0.5),
                                             D.NegativeBinomial(3.0, 0.4)),
        "lkj": lambda D, lib: (D.LKJCholesky(2, 1.0), D.LKJCholesky(2, 2.0)),
        "kumaraswamy-beta": lambda D, lib: (D.Kumaraswamy(2.0, 3.0), D.Beta(2.0, 3.0)),
    }
    t = _D(torch).kl_divergence(*pairs["wishart"](_D(torch), torch))
    e = _D(ember).kl_divergence(*pairs["wishart"](_D(ember), ember))
    assert_same(e, t)
    for name in list(pairs)[1:]:
        check_raises_like(lambda lib, make=pairs[name]: _D(lib).kl_divergence(
            *make(_D(lib), lib)))
    from ember.distributions import kl as ember_kl
    names = {"NegativeBinomial", "Kumaraswamy", "LKJCholesky", "Wishart"}
    theirs = {(p.__name__, q.__name__) for p, q in torch.distributions.kl._KL_REGISTRY
              if {p.__name__, q.__name__} & names}
    ours = {(p.__name__, q.__name__) for p, q in ember_kl._KL_REGISTRY}
    assert theirs <= ours


def _reprs(lib):
    D = _D(lib)
    x = lib.full((2, 3), 0.5)
    eye = lib.eye(2).expand(3, 2, 2)
    dists = [D.NegativeBinomial(3.0, 0.5), D.NegativeBinomial(x, logits=x),
             D.NegativeBinomial(lib.tensor([2]), x), D.NegativeBinomial(x, x).expand((4, 2, 3)),
             D.Kumaraswamy(1.0, 2.0), D.Kumaraswamy(x, 2.0), D.Kumaraswamy(x, x).expand((2, 2, 3)),
             D.LKJCholesky(2), D.LKJCholesky(4, x), D.LKJCholesky(3, x).expand((5, 2, 3)),
             D.Wishart(3.0, covariance_matrix=lib.eye(2)), D.Wishart(lib.tensor([3.0, 4.0, 5.0]),
                                                                     scale_tril=eye),
             D.Wishart(lib.tensor([[3.0], [4.0]]), precision_matrix=eye),
             D.Wishart(3, covariance_matrix=eye).expand((2, 3))]
    nb = D.NegativeBinomial(x, x)
    _ = nb.logits  # computed, so the repr lists it as torch's does
    dists.append(nb)
    out = [repr(d) for d in dists]
    out += [repr((type(d).__name__, d.batch_shape, d.event_shape, d.has_rsample,
                  d.has_enumerate_support, list(d.arg_constraints.items()), d.support))
            for d in dists]
    w = D.Wishart(lib.tensor([3.0, 4.0]), precision_matrix=eye[:2])
    out += [repr(w.df.dtype), repr(w._dist_chi2.df), repr(w._batch_dims)]
    out += [repr(D.Wishart(3, covariance_matrix=lib.eye(2)).df),
            repr(D.Wishart(lib.tensor(3), covariance_matrix=lib.eye(2)).df),
            repr(D.LKJCholesky(3, x)._beta.concentration0),
            repr(D.NegativeBinomial(lib.tensor([2]), x).total_count.dtype),
            repr(D.NegativeBinomial(x, x).param_shape)]
    return out


def test_reprs_shapes_and_flags_match_torch():
    with recording_compared() as run:
        assert run(ember, _reprs) == run(torch, _reprs)


def test_mode_and_missing_moments_match_torch():
    """Kumaraswamy's mode is torch's NaN everywhere; LKJCholesky has no moments, entropy or
    rsample; NegativeBinomial no entropy or rsample."""
    def fn(lib):
        D = _D(lib)
        c = lib.tensor([0.5, 1.0, 2.0, 5.0])
        return [D.Kumaraswamy(c, c.flip(0)).mode, D.Kumaraswamy(c.flip(0), 1.0).mode]

    e, t = fn(ember), fn(torch)
    for a, b in zip(e, t):
        assert_same(a, b)
    for what in ("mean", "variance", "entropy", "rsample"):
        check_raises_like(lambda lib, w=what: _attr(_D(lib).LKJCholesky(3), w))
    with pytest.raises(NotImplementedError) as t_info:
        _attr(_D(torch).LKJCholesky(3), "mode")
    # the message names the class, whose module path is ember's
    assert_raises_like(t_info.value, lambda: _attr(_D(ember).LKJCholesky(3), "mode"),
                       error_match="LKJCholesky'> does not implement mode")
    for what in ("entropy", "rsample"):
        check_raises_like(lambda lib, w=what: _attr(_D(lib).NegativeBinomial(2.0, 0.5), w))


def _attr(d, name):
    value = getattr(d, name)
    return value() if callable(value) else value


ERROR_CASES = {
    "nb-neither": lambda lib: _D(lib).NegativeBinomial(2.0),
    "nb-both": lambda lib: _D(lib).NegativeBinomial(2.0, 0.5, 0.0),
    "nb-probs-one": lambda lib: _D(lib).NegativeBinomial(2.0, lib.tensor([1.0])),
    "nb-count": lambda lib: _D(lib).NegativeBinomial(lib.tensor([-1.0]), 0.5),
    "nb-value": lambda lib: _D(lib).NegativeBinomial(2.0, 0.5).log_prob(lib.tensor([1.5])),
    "nb-types": lambda lib: _D(lib).NegativeBinomial("a", 0.5),
    "nb-shapes": lambda lib: _D(lib).NegativeBinomial(lib.ones(2), lib.ones(3) / 2),
    "kumaraswamy-concentration": lambda lib: _D(lib).Kumaraswamy(lib.tensor([0.0]), 1.0),
    "kumaraswamy-value": lambda lib: _D(lib).Kumaraswamy(1.0, 1.0).log_prob(
        lib.tensor([1.5])),
    "kumaraswamy-types": lambda lib: _D(lib).Kumaraswamy(None, 1.0),
    "kumaraswamy-expand": lambda lib: _D(lib).Kumaraswamy(lib.ones(2), 1.0).expand((3,)),
    "lkj-dim": lambda lib: _D(lib).LKJCholesky(1),
    "lkj-concentration": lambda lib: _D(lib).LKJCholesky(2, lib.tensor([-1.0])),
    "lkj-value": lambda lib: _D(lib).LKJCholesky(2).log_prob(lib.ones(2, 2)),
    "lkj-value-shape": lambda lib: _D(lib).LKJCholesky(2).log_prob(lib.eye(3)),
    "wishart-none": lambda lib: _D(lib).Wishart(3.0),
    "wishart-two": lambda lib: _D(lib).Wishart(3.0, covariance_matrix=lib.eye(2),
                                                scale_tril=lib.eye(2)),
    "wishart-1d": lambda lib: _D(lib).Wishart(3.0, precision_matrix=lib.ones(2)),
    "wishart-df": lambda lib: _D(lib).Wishart(1.0, covariance_matrix=lib.eye(2)),
    "wishart-df-tensor": lambda lib: _D(lib).Wishart(lib.tensor([0.5, 3.0]),
                                                     covariance_matrix=lib.eye(2)),
    "wishart-df-unvalidated": lambda lib: _D(lib).Wishart(0.5, covariance_matrix=lib.eye(2),
                                                          validate_args=False),
    "wishart-covariance": lambda lib: _D(lib).Wishart(3.0, covariance_matrix=-lib.eye(2)),
    "wishart-scale_tril": lambda lib: _D(lib).Wishart(3.0, scale_tril=lib.ones(2, 2)),
    "wishart-value": lambda lib: _D(lib).Wishart(3.0, covariance_matrix=lib.eye(2)).log_prob(
        lib.ones(2, 2)),
    "wishart-value-shape": lambda lib: _D(lib).Wishart(
        3.0, covariance_matrix=lib.eye(2)).log_prob(lib.eye(3)),
    "wishart-expand": lambda lib: _D(lib).Wishart(
        3.0, covariance_matrix=lib.eye(2).expand(2, 2, 2)).expand((3,)),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=list(ERROR_CASES))
def test_errors_match_torch(case):
    check_raises_like(ERROR_CASES[case])


def test_wishart_shape_mismatch():
    """df and the matrices' batch shapes must broadcast. (ember.broadcast_shapes words the
    shape in its message as a tuple where torch prints ``torch.Size([3])``.)"""
    def fn(lib):
        return _D(lib).Wishart(lib.ones(3) * 3, covariance_matrix=lib.eye(2).expand(2, 2, 2))

    with pytest.raises(RuntimeError) as t_info:
        fn(torch)
    assert_raises_like(t_info.value, lambda: fn(ember),
                       error_match="Attempting to broadcast a dimension of length 3 at -1!")


def test_wishart_low_df_warning_matches_torch():
    def fn(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _D(lib).Wishart(lib.tensor([1.5, 3.0]), covariance_matrix=lib.eye(2))
            _D(lib).Wishart(2.0, covariance_matrix=lib.eye(2))
        return [(w.category.__name__, str(w.message)) for w in caught]

    assert fn(ember) == fn(torch)


def test_lkj_samples_are_correlation_factors():
    """Every sample lies in the support, rows of unit length, for large dims too."""
    d = _D(ember).LKJCholesky(6, ember.tensor([0.3, 1.0, 40.0], dtype=ember.float64))
    ember.manual_seed(0)
    sample = d.sample((50,))
    assert bool(d.support.check(sample).all())
    np.testing.assert_allclose((sample ** 2).sum(-1)._data, 1.0, rtol=1e-12)
    assert math.isfinite(float(d.log_prob(sample).sum()))
