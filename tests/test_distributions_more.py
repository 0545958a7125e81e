"""The rest of torch.distributions against torch: the Cat, Stack, Reshape, StickBreaking,
LowerCholesky, PositiveDefinite, CorrCholesky and CumulativeDistribution transforms,
``biject_to``/``transform_to``, and ContinuousBernoulli, GeneralizedPareto, LogisticNormal
and VonMises (values, dtypes, node names, gradients of every input, draws for the same seed,
KL pairs, errors, reprs, ``expand``)."""
import fractions
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.distributions.constraint_registry
import ember.distributions.continuous_bernoulli
import ember.distributions.generalized_pareto
import ember.distributions.logistic_normal
import ember.distributions.von_mises
from tests.helpers import (
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    distribution_validation,
    recording_compared,
    torch,
    torch_or_refused,
)

_NEW = {"ContinuousBernoulli": ember.distributions.continuous_bernoulli,
        "GeneralizedPareto": ember.distributions.generalized_pareto,
        "LogisticNormal": ember.distributions.logistic_normal,
        "VonMises": ember.distributions.von_mises}


def _D(lib):
    """``lib.distributions`` with the four families, whether or not ember's package exports
    them yet, and ``biject_to``/``transform_to``."""
    D = lib.distributions
    if lib is torch:
        names = {name: getattr(D, name) for name in _NEW}
    else:
        names = {name: getattr(module, name) for name, module in _NEW.items()}
    namespace = {n: getattr(D, n) for n in dir(D) if not n.startswith("_")}
    namespace.update(names, biject_to=D.constraint_registry.biject_to,
                     transform_to=D.constraint_registry.transform_to,
                     ConstraintRegistry=D.constraint_registry.ConstraintRegistry)
    return types.SimpleNamespace(**namespace)


def _T(lib):
    return lib.distributions.transforms


def _C(lib):
    return lib.distributions.constraints


@pytest.fixture(autouse=True)
def _validation_on():
    """Both libraries validate arguments, torch's default (see test_distributions.py)."""
    with distribution_validation():
        yield


def _check(fn, shapes, **options):
    """``check_op`` that first makes sure torch computes the row: a row whose torch side
    raised would only compare errors, and these rows are meant to compare values."""
    from tests.helpers import make_inputs

    _, _, t_args, _ = make_inputs(shapes, options.get("dtype", "float32"),
                                  low=options.get("low", -2.0), high=options.get("high", 2.0),
                                  seed=options.get("seed", 0))
    fn(torch, *t_args)
    check_op(fn, shapes, **options)


# ---------------------------------------------------------------------------- transforms

def _round_trip(t, x):
    """Forward, inverse of the forward, and the log-Jacobian at the pair."""
    y = t(x)
    return y, t.inv(y), t.log_abs_det_jacobian(x, y)


def _cat(lib):
    T = _T(lib)
    return T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, -2.0),
                           T.SigmoidTransform()], dim=-1, lengths=[2, 1, 1])


# (name, fn(lib, *inputs) -> outputs, input shapes)
TRANSFORM_ROWS = [
    ("StickBreaking", lambda lib, x: _round_trip(_T(lib).StickBreakingTransform(), x),
     [(2, 3)]),
    ("StickBreaking-1", lambda lib, x: _round_trip(_T(lib).StickBreakingTransform(), x),
     [(1,)]),
    ("StickBreaking-empty-batch", lambda lib, x: _round_trip(
        _T(lib).StickBreakingTransform(), x), [(0, 4)]),
    # fractions that round to 0 or 1 are clipped into [tiny, 1 - eps], as in torch, so the
    # inverse and log-Jacobian stay finite
    ("StickBreaking-saturated", lambda lib, x: _round_trip(_T(lib).StickBreakingTransform(),
                                                           x * 60), [(4, 3)]),
    ("StickBreaking-inverse-of-simplex", lambda lib, v: (
        _T(lib).StickBreakingTransform().inv(lib.softmax(v, -1)),
        _T(lib).StickBreakingTransform().inv.log_abs_det_jacobian(
            lib.softmax(v, -1), _T(lib).StickBreakingTransform().inv(lib.softmax(v, -1)))),
     [(3, 5)]),
    ("LowerCholesky", lambda lib, m: (_T(lib).LowerCholeskyTransform()(m),
                                      _T(lib).LowerCholeskyTransform().inv(
                                          _T(lib).LowerCholeskyTransform()(m))), [(2, 3, 3)]),
    ("PositiveDefinite", lambda lib, m: (_T(lib).PositiveDefiniteTransform()(m),
                                         _T(lib).PositiveDefiniteTransform().inv(
                                             _T(lib).PositiveDefiniteTransform()(m))),
     [(3, 3)]),
    ("PositiveDefinite-batched", lambda lib, m: _T(lib).PositiveDefiniteTransform()(m),
     [(2, 4, 4)]),
    # the round trip's gradient passes sqrt(1 - cumsum(y^2)) twice: float32 rounding grows
    # past torch.testing's bound (float64 rows: default bounds)
    ("CorrCholesky", lambda lib, x: _round_trip(_T(lib).CorrCholeskyTransform(), x),
     [(2, 6)], {"grad_rtol": 1e-4}),
    ("CorrCholesky-2x2", lambda lib, x: _round_trip(_T(lib).CorrCholeskyTransform(), x),
     [(4, 1)], {"grad_rtol": 1e-4}),
    ("CorrCholesky-1x1", lambda lib, x: _T(lib).CorrCholeskyTransform()(x), [(2, 0)]),
    ("CorrCholesky-large", lambda lib, x: _round_trip(_T(lib).CorrCholeskyTransform(), x),
     [(10,)], {"grad_rtol": 1e-4}),
    ("Cat-last", lambda lib, x: _round_trip(_cat(lib), x), [(3, 4)]),
    ("Cat-batch-dim", lambda lib, x: _round_trip(_T(lib).CatTransform(
        [_T(lib).ExpTransform(), _T(lib).SigmoidTransform()], dim=0, lengths=[1, 2]), x),
     [(3, 4)]),
    ("Cat-positive-dim", lambda lib, x: _round_trip(_T(lib).CatTransform(
        [_T(lib).TanhTransform(), _T(lib).AffineTransform(0.5, 3.0)], dim=1), x), [(3, 2)]),
    ("Cat-event-parts", lambda lib, x: _round_trip(_T(lib).CatTransform(
        [_T(lib).IndependentTransform(_T(lib).ExpTransform(), 1),
         _T(lib).SoftplusTransform()], dim=0, lengths=[2, 1]), x), [(3, 4)]),
    ("Stack", lambda lib, x: _round_trip(_T(lib).StackTransform(
        [_T(lib).ExpTransform(), _T(lib).SigmoidTransform(),
         _T(lib).AffineTransform(-1.0, 0.5)], dim=-1), x), [(2, 3)]),
    ("Stack-dim0", lambda lib, x: _round_trip(_T(lib).StackTransform(
        [_T(lib).TanhTransform(), _T(lib).ExpTransform()]), x), [(2, 3)]),
    ("Reshape", lambda lib, x: _round_trip(_T(lib).ReshapeTransform((2, 3), (3, 2)), x),
     [(4, 2, 3)]),
    ("Reshape-flatten", lambda lib, x: _round_trip(_T(lib).ReshapeTransform((2, 3), (6,)),
                                                   x), [(2, 3)]),
    ("CumulativeDistribution", lambda lib, loc, x: _round_trip(
        _T(lib).CumulativeDistributionTransform(lib.distributions.Normal(loc, 2.0)), x),
     [(3,), (2, 3)]),
    ("Compose-with-new", lambda lib, x: _round_trip(_T(lib).ComposeTransform(
        [_T(lib).StickBreakingTransform(), _T(lib).AffineTransform(0.0, 2.0)]), x), [(2, 3)]),
    ("Inverse-CorrCholesky", lambda lib, x: (
        _T(lib).CorrCholeskyTransform().inv.log_abs_det_jacobian(
            _T(lib).CorrCholeskyTransform()(x), x),), [(3,)]),
]


@pytest.mark.parametrize("row", TRANSFORM_ROWS, ids=[r[0] for r in TRANSFORM_ROWS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transform_values_match_torch(row, dtype):
    _, fn, shapes, *options = row
    options = dict(options[0]) if options else {}
    if dtype == "float64":
        options.pop("grad_rtol", None)
    _check(fn, shapes, dtype=dtype, **options)


def test_transform_properties_match_torch():
    def fn(lib):
        T, D = _T(lib), lib.distributions
        cat, normal = _cat(lib), D.Normal(lib.zeros(2), 1.0)
        stack = T.StackTransform([T.ExpTransform(), T.IndependentTransform(
            T.SigmoidTransform(), 1)], dim=0)
        reshape = T.ReshapeTransform([2, 3], (6,))
        cdf = T.CumulativeDistributionTransform(normal)
        parts = {"sb": T.StickBreakingTransform(), "lc": T.LowerCholeskyTransform(),
                 "pd": T.PositiveDefiniteTransform(), "cc": T.CorrCholeskyTransform(),
                 "cat": cat, "stack": stack, "reshape": reshape, "cdf": cdf}
        out = []
        for name, t in parts.items():
            out.append((name, repr(t), repr(t.domain), repr(t.codomain), t.bijective,
                        repr(t.inv), repr(t.inv.domain), t.inv.bijective,
                        t == parts[name], t.with_cache(1)._cache_size, t.inv.inv is t))
            for attr in ("event_dim", "sign"):
                try:
                    out.append((name, attr, getattr(t, attr)))
                except (ValueError, NotImplementedError) as exc:
                    out.append((name, attr, type(exc).__name__, str(exc)))
        out += [T.StickBreakingTransform() == T.StickBreakingTransform(),
                T.LowerCholeskyTransform() == T.LowerCholeskyTransform(),
                T.PositiveDefiniteTransform() == T.PositiveDefiniteTransform(),
                T.CorrCholeskyTransform() == T.CorrCholeskyTransform(),
                T.StickBreakingTransform() == T.ExpTransform(),
                cat == _cat(lib), reshape == T.ReshapeTransform([2, 3], (6,)),
                cdf == T.CumulativeDistributionTransform(normal),
                cat.length, cat.lengths, cat.dim, stack.dim, len(cat.transforms),
                tuple(reshape.in_shape), tuple(reshape.out_shape), repr(reshape.in_shape),
                cdf.distribution is normal, cdf.with_cache(1).distribution is normal,
                repr(cdf.domain), repr(T.CumulativeDistributionTransform(
                    D.Uniform(0.0, 2.0)).domain),
                tuple(T.StickBreakingTransform().forward_shape((2, 3))),
                tuple(T.StickBreakingTransform().inverse_shape((2, 4))),
                tuple(T.CorrCholeskyTransform().forward_shape((5, 10))),
                tuple(T.CorrCholeskyTransform().inverse_shape((5, 4, 4))),
                tuple(reshape.forward_shape((7, 2, 3))), tuple(reshape.inverse_shape((6,))),
                repr(reshape.forward_shape(lib.Size([7, 2, 3]))),
                tuple(cat.forward_shape((3, 4))), tuple(stack.inverse_shape((2, 5))),
                T.CatTransform([T.ExpTransform()], cache_size=1).transforms[0]._cache_size,
                T.StackTransform([T.ExpTransform()]).with_cache(1).transforms[0]._cache_size,
                T.CatTransform([T.ExpTransform()]).with_cache(1).lengths,
                T.ReshapeTransform([2], [1, 2]).with_cache(1).out_shape == lib.Size([1, 2]),
                T.CatTransform([T.ExpTransform(), T.PositiveDefiniteTransform()]).bijective,
                T.StackTransform([T.ExpTransform(), T.AbsTransform()]).bijective]
        return repr(out)

    with recording_compared() as run:
        assert run(ember, fn) == run(torch, fn)


def test_transform_caching():
    def fn(lib):
        T = _T(lib)
        out = []
        for t in (T.StickBreakingTransform(cache_size=1), T.CorrCholeskyTransform(cache_size=1),
                  T.CatTransform([T.ExpTransform()], dim=-1, lengths=[3], cache_size=1),
                  T.StackTransform([T.ExpTransform()] * 3, dim=-1, cache_size=1),
                  T.ReshapeTransform((3,), (1, 3), cache_size=1),
                  T.LowerCholeskyTransform().with_cache(),
                  T.CumulativeDistributionTransform(lib.distributions.Normal(0.0, 1.0), 1)):
            x = lib.ones(3, 3) / 4
            y = t(x)
            out += [t.inv(y) is x, t(x) is y]
            z = t.inv.with_cache(0)(y)
            out += [z is x, bool((z - x).abs().max() < 1e-5)]
        return out

    assert fn(ember) == fn(torch)


def test_transform_subclass_with_cache_matches_torch():
    """torch's with_cache of these families builds the family itself, not the subclass."""
    def fn(lib):
        T = _T(lib)
        made = {"cdf": T.CumulativeDistributionTransform(lib.distributions.Normal(0.0, 1.0)),
                "affine": T.AffineTransform(1.0, 2.0), "power": T.PowerTransform(2.0),
                "compose": T.ComposeTransform([T.ExpTransform()])}
        out = []
        for name, transform in made.items():
            sub = type("Sub", (type(transform),), {})
            transform.__class__ = sub
            out.append((name, repr(transform.with_cache(1)), repr(transform.inv.with_cache(1))))
        return out

    assert fn(ember) == fn(torch)


def test_transform_pickling_matches_torch():
    """A transform whose inverse was asked for pickles (the link to the inverse is dropped
    and rebuilt), and so does a distribution built on one; a pickled inverse alone has lost
    what it inverts and refuses as torch's does."""
    import pickle

    def fn(lib):
        T, D = _T(lib), lib.distributions
        compose = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
        log_normal = D.LogNormal(lib.zeros(2), 1.0)
        x = lib.tensor([0.5, 1.5])
        out = [compose.inv(x), log_normal.log_prob(x)]
        compose, log_normal = pickle.loads(pickle.dumps((compose, log_normal)))
        out += [repr(compose), repr(compose.inv), compose.inv.inv is compose, compose.inv(x),
                repr(log_normal), log_normal.log_prob(x)]
        lost = pickle.loads(pickle.dumps(T.ExpTransform().inv))
        out.append(repr(lost))
        for attempt in (lambda: lost(x), lambda: lost.domain, lambda: lost.sign,
                        lambda: lost == lost, lambda: lost.with_cache(1),
                        lambda: lost.log_abs_det_jacobian(x, x)):
            try:
                attempt()
            except AssertionError as exc:
                out.append(str(exc))
        return out

    e, t = fn(ember), fn(torch)
    assert len(e) == len(t)
    for e_value, t_value in zip(e, t):
        if isinstance(t_value, torch.Tensor):
            assert_same(e_value, t_value)
        else:
            assert e_value == t_value


TRANSFORM_ERRORS = {
    "cat-type": lambda lib: _T(lib).CatTransform([1]),
    "cat-lengths": lambda lib: _T(lib).CatTransform([_T(lib).ExpTransform()], lengths=[1, 2]),
    "cat-size": lambda lib: _cat(lib)(lib.zeros(2, 3)),
    "cat-dim": lambda lib: _T(lib).CatTransform([_T(lib).ExpTransform()], dim=1)(lib.zeros(1)),
    "cat-inverse-size": lambda lib: _cat(lib).inv(lib.zeros(2, 5)),
    "cat-inverse-dim": lambda lib: _T(lib).CatTransform([_T(lib).ExpTransform()], dim=1).inv(
        lib.zeros(1)),
    "cat-ladj-dim": lambda lib: _T(lib).CatTransform([_T(lib).ExpTransform()], dim=1)
    .log_abs_det_jacobian(lib.zeros(1), lib.zeros(1)),
    "cat-ladj-x": lambda lib: _cat(lib).log_abs_det_jacobian(lib.zeros(2, 3),
                                                             lib.zeros(2, 4)),
    "cat-ladj-y": lambda lib: _cat(lib).log_abs_det_jacobian(lib.zeros(2, 4),
                                                             lib.zeros(2, 3)),
    "cat-sign": lambda lib: _cat(lib).sign,
    "cat-empty-event-dim": lambda lib: _T(lib).CatTransform([]).event_dim,
    "stack-type": lambda lib: _T(lib).StackTransform([2]),
    "stack-size": lambda lib: _T(lib).StackTransform([_T(lib).ExpTransform()] * 2, dim=1)(
        lib.zeros(3, 3)),
    "stack-dim": lambda lib: _T(lib).StackTransform([_T(lib).ExpTransform()], dim=1)(
        lib.zeros(3)),
    "stack-inverse": lambda lib: _T(lib).StackTransform([_T(lib).ExpTransform()] * 2).inv(
        lib.zeros(3)),
    "stack-ladj-dim": lambda lib: _T(lib).StackTransform([_T(lib).ExpTransform()], dim=1)
    .log_abs_det_jacobian(lib.zeros(3), lib.zeros(3)),
    "stack-ladj-y": lambda lib: _T(lib).StackTransform([_T(lib).ExpTransform()] * 2, dim=1)
    .log_abs_det_jacobian(lib.zeros(2, 2), lib.zeros(2, 3)),
    "reshape-numel": lambda lib: _T(lib).ReshapeTransform((2, 3), (4,)),
    "reshape-few-dims": lambda lib: _T(lib).ReshapeTransform((2, 3), (6,)).forward_shape((3,)),
    "reshape-mismatch": lambda lib: _T(lib).ReshapeTransform((2, 3), (6,)).forward_shape(
        (2, 2)),
    "reshape-inverse-mismatch": lambda lib: _T(lib).ReshapeTransform((2, 3), (6,))
    .inverse_shape((5,)),
    "reshape-inverse-few-dims": lambda lib: _T(lib).ReshapeTransform((2, 3), (6,))
    .inverse_shape(()),
    "reshape-sign": lambda lib: _T(lib).ReshapeTransform((2, 3), (6,)).sign,
    "stickbreaking-forward-shape": lambda lib: _T(lib).StickBreakingTransform()
    .forward_shape(()),
    "stickbreaking-inverse-shape": lambda lib: _T(lib).StickBreakingTransform()
    .inverse_shape(()),
    # torch takes only Python numbers as numbers: another scale is used as a tensor would be
    "affine-numpy-scale-sign": lambda lib: _T(lib).AffineTransform(1.0, np.float32(2.0)).sign,
    "affine-numpy-int-scale-sign": lambda lib: _T(lib).AffineTransform(
        1.0, np.int64(-3)).sign,
    "affine-fraction-eq": lambda lib: _T(lib).AffineTransform(
        fractions.Fraction(1, 2), 2.0) == _T(lib).AffineTransform(fractions.Fraction(1, 2), 2.0),
    "stickbreaking-bool": lambda lib: _T(lib).StickBreakingTransform()(
        lib.tensor([True, False])),
    "stickbreaking-sign": lambda lib: _T(lib).StickBreakingTransform().sign,
    "lowercholesky-ladj": lambda lib: _T(lib).LowerCholeskyTransform().log_abs_det_jacobian(
        lib.eye(2), lib.eye(2)),
    "corrcholesky-event-dim": lambda lib: _T(lib).CorrCholeskyTransform().event_dim,
    "corrcholesky-forward-shape": lambda lib: _T(lib).CorrCholeskyTransform().forward_shape(
        (5,)),
    "corrcholesky-forward-few": lambda lib: _T(lib).CorrCholeskyTransform().forward_shape(()),
    "corrcholesky-inverse-shape": lambda lib: _T(lib).CorrCholeskyTransform().inverse_shape(
        (3, 4)),
    "corrcholesky-inverse-few": lambda lib: _T(lib).CorrCholeskyTransform().inverse_shape(
        (3,)),
    "corrcholesky-vector-size": lambda lib: _T(lib).CorrCholeskyTransform()(lib.zeros(5)),
    # a size just past a triangle number: torch's fill reports the mismatch
    "corrcholesky-vector-size-4": lambda lib: _T(lib).CorrCholeskyTransform()(lib.zeros(2, 4)),
    "corrcholesky-1x1-ladj": lambda lib: _T(lib).CorrCholeskyTransform().log_abs_det_jacobian(
        lib.zeros(2, 0), lib.ones(2, 1, 1)),
    "positivedefinite-not-pd": lambda lib: _T(lib).PositiveDefiniteTransform().inv(
        -lib.eye(2)),
}


def test_corr_cholesky_of_integers_matches_torch():
    """tanh makes an integer input floating before the clamp reads its dtype's eps."""
    def fn(lib):
        return _T(lib).CorrCholeskyTransform()(lib.arange(-1, 2))

    assert_same(fn(ember), fn(torch))


def _tril_cases():
    """(vector length or matrix shape, diagonal) pairs: every diagonal torch accepts and
    some it refuses, triangle numbers and the lengths between them."""
    vectors = [("vec", n, diag) for n in range(12) for diag in range(-4, 5)]
    matrices = [("mat", shape, diag)
                for shape in [(3, 3), (2, 4, 4), (1, 1), (2, 0, 0), (4, 3), (1, 9), (3,), ()]
                for diag in range(-5, 6)]
    return vectors + matrices


@pytest.mark.parametrize("case", _tril_cases(), ids=str)
def test_tril_vector_utilities_match_torch(case):
    kind, size, diag = case

    def fn(lib):
        utils = lib.distributions.utils
        if kind == "vec":
            return utils.vec_to_tril_matrix(lib.arange(1.0, size + 1.0), diag)
        mat = lib.arange(1.0, 1.0 + float(np.prod(size))).reshape(size)
        return utils.tril_matrix_to_vec(mat, diag)

    expected = torch_or_refused(fn, ValueError, RuntimeError, IndexError)
    if expected is not None:
        assert_same(fn(ember), expected)


def test_tril_vector_utilities_gradients_and_dtypes():
    def fn(lib, vec, mat):
        utils = lib.distributions.utils
        return (utils.vec_to_tril_matrix(vec), utils.vec_to_tril_matrix(vec, diag=-2),
                utils.tril_matrix_to_vec(mat, -1), utils.tril_matrix_to_vec(mat, diag=1))

    check_op(fn, [(2, 6), (2, 3, 3)])
    check_op(fn, [(6,), (3, 3)], dtype="float64")
    check_raises_like(lambda lib: lib.distributions.utils.vec_to_tril_matrix(lib.arange(6)))
    assert ember.distributions.utils.euler_constant == torch.distributions.utils.euler_constant
    assert sorted(ember.distributions.utils.__all__) == sorted(
        torch.distributions.utils.__all__)


@pytest.mark.parametrize("name", list(TRANSFORM_ERRORS))
def test_transform_errors_match_torch(name):
    check_raises_like(TRANSFORM_ERRORS[name])


# ---------------------------------------------------------------- biject_to / transform_to

def _constraints(lib):
    """One constraint of every type torch registers (and the bound variants that pick
    different transforms), keyed by a name."""
    C = _C(lib)
    return {
        "real": C.real, "real_vector": C.real_vector, "positive": C.positive,
        "nonnegative": C.nonnegative, "greater_than": C.greater_than(2.0),
        "greater_than_eq-tensor": C.greater_than_eq(lib.tensor([1.0, -2.0, 0.5])),
        "less_than": C.less_than(3.0), "unit_interval": C.unit_interval,
        "interval": C.interval(-1.0, 2.0), "interval-ints": C.interval(0, 1),
        "interval-tensor": C.interval(lib.zeros(3), lib.tensor([1.0, 2.0, 3.0])),
        "interval-tensor-upper": C.interval(0.0, lib.tensor(1.0)),
        "half_open_interval": C.half_open_interval(0.0, 1.0),
        "half_open_interval-shifted": C.half_open_interval(-3.0, 1.0),
        "simplex": C.simplex, "lower_cholesky": C.lower_cholesky,
        "positive_definite": C.positive_definite,
        "positive_semidefinite": C.positive_semidefinite, "corr_cholesky": C.corr_cholesky,
        "cat": C.cat([C.positive, C.real, C.unit_interval], -1, [1, 1, 1]),
        "stack": C.stack([C.positive, C.interval(-2.0, 2.0), C.less_than(0.0)], -1),
        "independent": C.independent(C.positive, 1),
        "independent-simplex": C.independent(C.simplex, 1),
        "boolean": C.boolean, "lower_triangular": C.lower_triangular,
        "positive_integer": C.positive_integer, "dependent": C.dependent, "square": C.square,
        "symmetric": C.symmetric, "one_hot": C.one_hot,
        "integer_interval": C.integer_interval(0, 3),
    }


# input shape each constraint's transform takes
_INPUT_SHAPES = {"lower_cholesky": (2, 3, 3), "positive_definite": (3, 3),
                 "positive_semidefinite": (2, 3, 3), "corr_cholesky": (2, 3),
                 "independent-simplex": (2, 2, 3), "simplex": (2, 3)}


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", list(_constraints(torch)))
def test_constraint_registry_matches_torch(registry, name):
    def describe(lib):
        try:
            t = getattr(_D(lib), registry)(_constraints(lib)[name])
        except NotImplementedError as exc:
            return "NotImplementedError", str(exc)
        return (repr(t), type(t).__name__, t.bijective, repr(t.domain), repr(t.codomain),
                [type(p).__name__ for p in getattr(t, "parts", getattr(t, "transforms", []))])

    described = describe(torch)
    assert describe(ember) == described
    if described[0] == "NotImplementedError":
        return

    def fn(lib, x):
        t = getattr(_D(lib), registry)(_constraints(lib)[name])
        y = t(x)
        out = [y, _C(lib).independent(t.codomain, 0).check(y) if t.codomain.event_dim == 0
               else t.codomain.check(y)]
        if t.bijective:
            out += [t.inv(y), t.log_abs_det_jacobian(x, y)]
        return out

    shape = _INPUT_SHAPES.get(name, (2, 3))
    _check(fn, [shape], low=-1.5, high=1.5)
    _check(fn, [shape], dtype="float64", low=-1.5, high=1.5, seed=1)


def test_constraint_registry_register_and_errors():
    def fn(lib):
        D, C, T = _D(lib), _C(lib), _T(lib)
        registry = D.ConstraintRegistry()

        @registry.register(C.positive)
        def _to_positive(constraint):
            return T.ExpTransform()

        registry.register(C.interval, lambda c: T.SigmoidTransform())
        return [repr(registry(C.greater_than(5.0))), repr(registry(C.unit_interval)),
                _to_positive(None).__class__.__name__]

    assert fn(ember) == fn(torch)
    check_raises_like(lambda lib: _D(lib).ConstraintRegistry()(_C(lib).real))
    check_raises_like(lambda lib: _D(lib).ConstraintRegistry().register(3, lambda c: c))
    check_raises_like(lambda lib: _D(lib).ConstraintRegistry().register(int)(lambda c: c))
    check_raises_like(lambda lib: _D(lib).biject_to(_C(lib).lower_cholesky))


def test_unit_interval_bounds_that_are_not_python_numbers():
    """Only Python numbers 0 and 1 make the interval the plain unit one (a sigmoid alone);
    numpy scalars get torch's sigmoid-then-affine, as tensors do."""
    def fn(lib):
        D, C = _D(lib), _C(lib)
        bounds = [(np.float32(0), 1.0), (0, np.int64(1)), (np.float64(0.0), 1.0), (False, True)]
        return [repr(D.transform_to(C.interval(lo, hi))) + repr(D.biject_to(
            C.half_open_interval(lo, hi))) for lo, hi in bounds]

    assert fn(ember) == fn(torch)


# --------------------------------------------------------------------------- distributions

def _summary(lib, d, value, *, sample_shape=(3,), cdf=None, icdf=None, rsample=True,
             entropy=True):
    outs = [d.log_prob(value), d.mean, d.variance, d.stddev]
    if entropy:
        outs.append(d.entropy())
    if cdf is not None:
        outs.append(d.cdf(cdf))
    if icdf is not None:
        outs.append(d.icdf(icdf))
    lib.manual_seed(7)
    outs.append(d.sample(sample_shape))
    if rsample:
        outs.append(d.rsample(sample_shape))
    # the generator's next number: the draws consumed the same stream
    outs.append(lib.rand(2, dtype=lib.float64))
    return tuple(outs)


def _cb(lib, d, v, natural=True):
    outs = _summary(lib, d, v, cdf=v, icdf=v) + (d.probs, d.logits, d._cont_bern_log_norm())
    if natural:
        outs += (d._log_normalizer(*d._natural_params),)
    return outs


def _gp(lib, d, v, u):
    return _summary(lib, d, v, cdf=v, icdf=u) + (
        d.mode, d.log_cdf(v), d.log_survival_function(v), d.support.upper_bound)


_GP_CONCENTRATIONS = [0.0, 0.5, -0.5, 1e-9, -1.0, 1.2]


def _gp_concentration(lib, like):
    return lib.tensor(_GP_CONCENTRATIONS, dtype=like.dtype)


def _vm(lib, d, v):
    return _summary(lib, d, v, sample_shape=(40,), rsample=False, entropy=False) + (
        d.mode, d.sample())


def _ln(lib, d, v):
    lib.manual_seed(5)
    return (d.log_prob(v), d.loc, d.scale, d.sample((2,)), d.rsample((3,)),
            lib.rand(2, dtype=lib.float64))


# (name, fn(lib, *inputs) -> outputs, input shapes[, check_op options]). Values for
# log_prob/cdf lie inside the support (validation is on).
ROWS = [
    ("ContinuousBernoulli-probs", lambda lib, p, v: _cb(
        lib, _D(lib).ContinuousBernoulli(lib.sigmoid(p)), lib.sigmoid(v)), [(2, 3), (4, 2, 3)],
     # the gradient sums a dozen outputs' terms, some of them ill-conditioned in float32
     # (pow, log of differences); float64 rows: default bounds
     {"grad_rtol": 1e-4}),
    ("ContinuousBernoulli-logits", lambda lib, p, v: _cb(
        lib, _D(lib).ContinuousBernoulli(logits=p), lib.sigmoid(v)), [(3,), (2, 3)],
     {"grad_rtol": 1e-4}),
    ("ContinuousBernoulli-scalar", lambda lib, v: _cb(
        lib, _D(lib).ContinuousBernoulli(0.3), lib.sigmoid(v)), [(2,)]),
    ("ContinuousBernoulli-lims", lambda lib, p, v: _cb(
        lib, _D(lib).ContinuousBernoulli(lib.sigmoid(p), lims=(0.3, 0.7)), lib.sigmoid(v)),
     [(4,), (4,)], {"low": -1.0, "high": 1.0, "grad_rtol": 1e-4}),
    # probs exactly at the unstable region's ends (lims[0] lies outside it, lims[1] inside)
    ("ContinuousBernoulli-region-ends", lambda lib, v: _cb(
        lib, _D(lib).ContinuousBernoulli(lib.tensor([0.499, 0.501, 0.5, 0.4995, 0.5015],
                                                    dtype=v.dtype)), lib.sigmoid(v),
        # float32 logits of probs this near 1/2 keep two or three digits (log p - log1p(-p)
        # cancels), which the log-normaliser's exp(x) - 1 then exposes: float64 only
        natural=v.dtype == lib.float64), [(2, 5)]),
    ("GeneralizedPareto", lambda lib, loc, s, v, u: _gp(
        lib, _D(lib).GeneralizedPareto(loc, s.exp(), _gp_concentration(lib, loc)),
        loc.detach() + lib.sigmoid(v) * 0.4, lib.sigmoid(u)), [(6,), (6,), (2, 6), (6,)],
     # loc's float32 gradient sums a dozen outputs' terms (float64 rows: default bounds)
     {"grad_rtol": 1e-5}),
    ("GeneralizedPareto-grad-concentration", lambda lib, loc, s, c, v, u: _gp(
        lib, _D(lib).GeneralizedPareto(loc, s.exp(), c), loc.detach() + v.exp(),
        lib.sigmoid(u)), [(3,), (3,), (3,), (2, 3), (3,)], {"low": 0.1, "high": 0.9}),
    ("GeneralizedPareto-scalars", lambda lib, v, u: _gp(
        lib, _D(lib).GeneralizedPareto(0.5, 2.0, 0.25), 0.5 + v.exp(), lib.sigmoid(u)),
     [(3,), (3,)]),
    ("GeneralizedPareto-unvalidated", lambda lib, loc, s, c, v, u: _gp(
        lib, _D(lib).GeneralizedPareto(loc, s.exp(), c, validate_args=False), v,
        lib.sigmoid(u)), [(6,), (6,), (6,), (2, 6), (6,)]),
    ("VonMises", lambda lib, loc, k, v: _vm(
        lib, _D(lib).VonMises(loc, (3 * k).exp()), v), [(4,), (4,), (2, 4)]),
    ("VonMises-extreme-concentration", lambda lib, loc, v: _vm(
        lib, _D(lib).VonMises(loc, lib.tensor([1e-7, 1e-5, 3.75, 100.0], dtype=loc.dtype)),
        v), [(4,), (2, 4)]),
    ("VonMises-scalars", lambda lib, v: _vm(lib, _D(lib).VonMises(1.0, 2.0), v), [(3,)]),
    ("LogisticNormal", lambda lib, loc, s, v: _ln(
        lib, _D(lib).LogisticNormal(loc, s.exp()), lib.softmax(v, -1)),
     [(2, 3), (3,), (4, 2, 4)]),
    ("LogisticNormal-scalars", lambda lib, v: _ln(
        lib, _D(lib).LogisticNormal(0.5, 2.0), lib.softmax(v, -1)), [(3, 2)]),
]


def _float64_default_on_torch(fn):
    """``fn`` with torch's default dtype float64 while torch runs it: torch 2.13's
    GeneralizedPareto compares float64 parameters with a float32 zero and raises (see its
    docstring in ember); under a float64 default its zero is float64 and it computes the
    reference. Every tensor in these rows is typed explicitly, so nothing else changes."""
    def wrapped(lib, *args):
        if lib is not torch:
            return fn(lib, *args)
        saved = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            return fn(lib, *args)
        finally:
            torch.set_default_dtype(saved)
    return wrapped


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_matches_torch(row):
    _, fn, shapes, *options = row
    _check(fn, shapes, **(options[0] if options else {}))


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_family_float64(row):
    name, fn, shapes, *options = row
    options = {k: v for k, v in (options[0] if options else {}).items() if k != "grad_rtol"}
    if name.startswith("GeneralizedPareto") and not name.endswith("scalars"):
        fn = _float64_default_on_torch(fn)
    _check(fn, shapes, dtype="float64", seed=1, **options)


def test_von_mises_expand_builds_through_the_constructor():
    """torch's VonMises.expand calls type(self)(...): a subclass with its own __init__
    expands (the other families refuse it), and validation runs again unless it was set off
    for the instance. MixtureSameFamily's repr names the family even for a subclass."""
    def fn(lib):
        D = _D(lib)

        class Mine(D.VonMises):
            def __init__(self, loc, concentration, validate_args=None):
                super().__init__(loc, concentration, validate_args=validate_args)

        class Mixture(lib.distributions.MixtureSameFamily):
            pass

        mine = Mine(lib.zeros(2), lib.ones(2)).expand((3, 2))
        out = [type(mine).__name__, repr(mine), sorted(vars(mine))]
        lib.distributions.Distribution.set_default_validate_args(False)
        unchecked = D.VonMises(lib.zeros(2), -lib.ones(2))
        lib.distributions.Distribution.set_default_validate_args(True)
        try:
            unchecked.expand((3, 2))
        except ValueError as exc:
            out.append(str(exc))
        off = D.VonMises(lib.zeros(2), -lib.ones(2), validate_args=False).expand((3, 2))
        out += [repr(off), off._validate_args]
        mixture = Mixture(lib.distributions.Categorical(lib.ones(2)),
                          lib.distributions.Normal(lib.zeros(2), 1.0))
        return out + [repr(mixture), repr(mixture.expand((3,)))]

    assert fn(ember) == fn(torch)


def test_von_mises_proposal_matches_torch():
    """The wrapped-Cauchy proposal's ``r`` on both sides of the switch to its expansion
    (``k < 1e-5``), where the two forms differ by more than float64's tolerance."""
    def fn(lib):
        k = lib.tensor([1e-7, 1e-6, 3e-6, 9.9e-6, 1e-5, 1.01e-5, 1e-3, 2.0],
                       dtype=lib.float64)
        return _D(lib).VonMises(lib.zeros(8, dtype=lib.float64), k)._proposal_r

    assert_same(fn(ember), fn(torch))


def test_generalized_pareto_float64_is_torch_bug():
    """The reason for ``_float64_default_on_torch``: torch refuses, ember computes."""
    d = torch.distributions.GeneralizedPareto(torch.zeros(2, dtype=torch.float64), 1.0, 0.0)
    with pytest.raises(RuntimeError, match="Double did not match Float"):
        d.log_prob(torch.ones(2, dtype=torch.float64))
    e = _D(ember).GeneralizedPareto(ember.zeros(2, dtype=ember.float64), 1.0, 0.0)
    assert e.log_prob(ember.ones(2, dtype=ember.float64)).dtype is ember.float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_bits_match_torch(dtype):
    """Bit-exact draws where no transcendental lies between the generator and the sample
    (ContinuousBernoulli inside its unstable region returns torch.rand's numbers as they
    are), and the same stream consumed everywhere (the generator's next numbers equal):
    VonMises' float64 rejection rounds included, whatever the parameters' dtype."""
    def fn(lib):
        D = _D(lib)
        dt = getattr(lib, dtype)
        out = []
        for d in (D.ContinuousBernoulli(lib.full((4, 3), 0.5, dtype=dt)),
                  D.GeneralizedPareto(lib.zeros(3, dtype=dt), 1.0, 0.5),
                  D.VonMises(lib.zeros(50, dtype=dt), lib.full((50,), 0.05, dtype=dt)),
                  D.VonMises(lib.zeros(7, dtype=dt), lib.full((7,), 30.0, dtype=dt)),
                  D.LogisticNormal(lib.zeros(3, dtype=dt), 1.0)):
            lib.manual_seed(21)
            drawn = d.sample((5,))
            out.append((drawn.dtype, lib.rand(3, dtype=lib.float64)))
        lib.manual_seed(21)
        out.append(D.ContinuousBernoulli(lib.full((4, 3), 0.5, dtype=dt)).rsample((2,)))
        return out

    for (e_dtype, e_next), (t_dtype, t_next) in zip(fn(ember)[:-1], fn(torch)[:-1]):
        assert repr(e_dtype) == repr(t_dtype)
        assert np.array_equal(e_next.numpy(), t_next.numpy())
    assert np.array_equal(fn(ember)[-1].numpy(), fn(torch)[-1].numpy())


# (name, fn(lib, *inputs) -> KL tensor, input shapes): every pair torch registers for
# ContinuousBernoulli whose other family ember has
KL_ROWS = [
    ("CB-CB", lambda lib, a, b: _kl(lib, lambda D: (D.ContinuousBernoulli(lib.sigmoid(a)),
                                                    D.ContinuousBernoulli(logits=b))),
     [(2, 3), (3,)]),
    ("CB-Exponential", lambda lib, a, b: _kl(
        lib, lambda D: (D.ContinuousBernoulli(lib.sigmoid(a)), D.Exponential(b.exp()))),
     [(3,), (3,)]),
    ("CB-Normal", lambda lib, a, b, c: _kl(
        lib, lambda D: (D.ContinuousBernoulli(logits=a), D.Normal(b, c.exp()))),
     [(3,), (3,), (3,)]),
    ("CB-Uniform", lambda lib, a, b, c: _kl(
        lib, lambda D: (D.ContinuousBernoulli(lib.sigmoid(a)),
                        D.Uniform(b - 1.0 + lib.tensor([0.0, 0.0, 1.5], dtype=b.dtype),
                                  b + 2 + c.exp()))), [(3,), (3,), (3,)],
     {"low": -0.5, "high": 0.5}),
    ("Uniform-CB", lambda lib, a, b, c: _kl(
        lib, lambda D: (D.Uniform(lib.sigmoid(b) * 0.4 - lib.tensor([0.0, 0.0, 0.5],
                                                                     dtype=b.dtype),
                                  0.6 + lib.sigmoid(c) * 0.3),
                        D.ContinuousBernoulli(lib.sigmoid(a)))), [(3,), (3,), (3,)]),
    ("infinite", lambda lib, a, b: [_kl(lib, lambda D, p=p, q=q: (p(D), q(D))) for p, q in [
        (lambda D: D.ContinuousBernoulli(lib.sigmoid(a)), lambda D: D.Pareto(1.0, b.exp())),
        (lambda D: D.Exponential(a.exp()), lambda D: D.ContinuousBernoulli(lib.sigmoid(b))),
        (lambda D: D.Gumbel(a, 1.0), lambda D: D.ContinuousBernoulli(lib.sigmoid(b))),
        (lambda D: D.Laplace(a, 1.0), lambda D: D.ContinuousBernoulli(lib.sigmoid(b))),
        (lambda D: D.Normal(a, 1.0), lambda D: D.ContinuousBernoulli(lib.sigmoid(b))),
        (lambda D: D.Pareto(a.exp(), 1.0), lambda D: D.ContinuousBernoulli(lib.sigmoid(b)))]],
     [(3,), (3,)]),
]


def _kl(lib, make):
    p, q = make(_D(lib))
    return lib.distributions.kl_divergence(p, q)


@pytest.mark.parametrize("row", KL_ROWS, ids=[r[0] for r in KL_ROWS])
def test_kl_divergence_matches_torch(row):
    _, fn, shapes, *options = row
    _check(fn, shapes, **(options[0] if options else {}))
    _check(fn, shapes, dtype="float64", seed=2, **(options[0] if options else {}))


def test_kl_registered_pairs():
    """Every registered pair of torch's involving the four families is registered in ember
    too."""
    from torch.distributions.kl import _KL_REGISTRY as torch_registry

    from ember.distributions.kl import _KL_REGISTRY as ember_registry

    ember_pairs = {(p.__name__, q.__name__) for p, q in ember_registry}
    expected = {(p.__name__, q.__name__) for p, q in torch_registry
                if {p.__name__, q.__name__} & set(_NEW)}
    assert expected and expected <= ember_pairs


DIST_ERRORS = {
    "cb-neither": lambda lib: _D(lib).ContinuousBernoulli(),
    "cb-both": lambda lib: _D(lib).ContinuousBernoulli(0.5, 0.1),
    "cb-explicit-validation": lambda lib: _D(lib).ContinuousBernoulli(
        lib.tensor([1.5]), validate_args=True),
    "cb-explicit-no-validation": lambda lib: _D(lib).ContinuousBernoulli(
        lib.tensor([1.5]), validate_args=False),
    "cb-support": lambda lib: _D(lib).ContinuousBernoulli(lib.tensor([0.5])).log_prob(
        lib.tensor([1.5])),
    "cb-cdf-support": lambda lib: _D(lib).ContinuousBernoulli(lib.tensor([0.5])).cdf(
        lib.tensor([-0.5])),
    "cb-type": lambda lib: _D(lib).ContinuousBernoulli("a"),
    "gp-scale": lambda lib: _D(lib).GeneralizedPareto(0.0, -1.0, 0.0),
    "gp-support": lambda lib: _D(lib).GeneralizedPareto(0.0, 1.0, -0.5).log_prob(
        lib.tensor(3.0)),
    "gp-below-support": lambda lib: _D(lib).GeneralizedPareto(0.0, 1.0, 0.5).cdf(
        lib.tensor(-1.0)),
    "gp-type": lambda lib: _D(lib).GeneralizedPareto(0.0, 1.0, "a"),
    "gp-value-type": lambda lib: _D(lib).GeneralizedPareto(0.0, 1.0, 0.5).log_prob(1.0),
    "vm-concentration": lambda lib: _D(lib).VonMises(0.0, -1.0),
    "vm-nan-value": lambda lib: _D(lib).VonMises(lib.tensor(0.0), 1.0).log_prob(
        lib.tensor(float("nan"))),
    "vm-rsample": lambda lib: _D(lib).VonMises(0.0, 1.0).rsample(),
    "vm-entropy": lambda lib: _D(lib).VonMises(0.0, 1.0).entropy(),
    "vm-cdf": lambda lib: _D(lib).VonMises(0.0, 1.0).cdf(lib.tensor(0.0)),
    "ln-scale": lambda lib: _D(lib).LogisticNormal(0.0, -1.0),
    "ln-support": lambda lib: _D(lib).LogisticNormal(lib.zeros(2), 1.0).log_prob(
        lib.tensor([0.5, 0.6, 0.2])),
    "ln-event-shape": lambda lib: _D(lib).LogisticNormal(lib.zeros(2), 1.0).log_prob(
        lib.tensor([0.5, 0.5])),
    "ln-mean": lambda lib: _D(lib).LogisticNormal(0.0, 1.0).mean,
    "ln-entropy": lambda lib: _D(lib).LogisticNormal(0.0, 1.0).entropy(),
    "ln-expand-subclass": lambda lib: type("Sub", (_D(lib).LogisticNormal,), {
        "__init__": lambda self, a: _D(lib).LogisticNormal.__init__(self, a, 1.0)})(
        0.0).expand((2,)),
}


@pytest.mark.parametrize("name", list(DIST_ERRORS))
def test_errors_match_torch(name):
    check_raises_like(DIST_ERRORS[name])


def test_validation_quirks_match_torch():
    """ContinuousBernoulli clamps ``probs`` before the default validation sees it, so an
    out-of-range ``probs`` passes without ``validate_args``; GeneralizedPareto with
    ``validate_args=False`` evaluates its formulas outside the support."""
    def fn(lib):
        D = _D(lib)
        cb = D.ContinuousBernoulli(lib.tensor([1.5, -0.5, 0.0]))
        gp = D.GeneralizedPareto(0.0, 1.0, -0.5, validate_args=False)
        uniform = D.GeneralizedPareto(0.0, 1.0, -1.0)  # exponent 0 at the upper end
        return [cb.probs, cb.mean, gp.log_prob(lib.tensor([-1.0, 0.0, 3.0])),
                gp.cdf(lib.tensor([2.0, 3.0])), uniform.log_prob(lib.tensor([0.0, 0.5, 1.0]))]

    with recording_compared() as run:
        for e, t in zip(run(ember, fn), run(torch, fn)):
            assert_same(e, t)


def _reprs(lib):
    D = _D(lib)
    x = lib.ones(2, 3) / 4
    dists = [D.ContinuousBernoulli(0.3), D.ContinuousBernoulli(x),
             D.ContinuousBernoulli(logits=x), D.ContinuousBernoulli(lib.tensor([0.2])),
             D.GeneralizedPareto(0.0, 1.0, 0.5), D.GeneralizedPareto(x, 1.0, -0.5),
             D.VonMises(0.0, 1.0), D.VonMises(x, x), D.LogisticNormal(0.0, 1.0),
             D.LogisticNormal(x, 1.0), D.LogisticNormal(x, x).expand((4, 2))]
    out = []
    for d in dists:
        out.append((repr(d), tuple(d.batch_shape), tuple(d.event_shape), d.has_rsample,
                    d.has_enumerate_support, repr(d.support), sorted(d.arg_constraints),
                    [repr(c) for c in d.arg_constraints.values()],
                    isinstance(d, lib.distributions.ExponentialFamily),
                    isinstance(d, lib.distributions.TransformedDistribution)))
    out += [tuple(D.ContinuousBernoulli(x).param_shape), D.ContinuousBernoulli(x)._lims,
            D.ContinuousBernoulli(x, lims=(0.2, 0.8)).expand((3, 2, 3))._lims,
            D.ContinuousBernoulli._mean_carrier_measure,
            repr(D.ContinuousBernoulli.support), repr(D.VonMises.support),
            repr(D.LogisticNormal.support), D.VonMises(x, x).mean is D.VonMises(x, x).loc,
            repr(D.LogisticNormal(x, 1.0).transforms), repr(D.LogisticNormal(x, 1.0).base_dist),
            D.VonMises(x, x)._proposal_r.dtype, D.VonMises(x, x)._loc.dtype]
    return repr(out)


def test_reprs_shapes_and_flags_match_torch():
    assert _reprs(ember) == _reprs(torch)


EXPAND_CASES = {
    "ContinuousBernoulli": lambda lib, x: _D(lib).ContinuousBernoulli(lib.sigmoid(x)),
    "ContinuousBernoulli-logits": lambda lib, x: _D(lib).ContinuousBernoulli(logits=x),
    "GeneralizedPareto": lambda lib, x: _D(lib).GeneralizedPareto(x, x.exp(), 0.3),
    "VonMises": lambda lib, x: _D(lib).VonMises(x, x.exp()),
    "LogisticNormal": lambda lib, x: _D(lib).LogisticNormal(x, x.exp()),
}


@pytest.mark.parametrize("name", list(EXPAND_CASES))
def test_expand_matches_torch(name):
    def fn(lib, x):
        d = EXPAND_CASES[name](lib, x)
        big = d.expand((2,) + tuple(d.batch_shape))
        lib.manual_seed(5)
        value = big.sample((2,))
        return (big.log_prob(value), value, lib.tensor(list(big.batch_shape)),
                lib.tensor(list(big.event_shape) or [0]), type(big) is type(d))

    def compare(lib, x):
        log_prob, value, batch, event, same_type = fn(lib, x)
        return log_prob, value, batch, event, lib.tensor(same_type)

    _check(compare, [(3,)])


@pytest.mark.parametrize("fn", [
    lambda lib, a, b, v: _D(lib).ContinuousBernoulli(lib.sigmoid(a)).log_prob(
        lib.sigmoid(v)) * b,
    lambda lib, a, b, v: _D(lib).ContinuousBernoulli(logits=a).entropy() * b
    + _D(lib).ContinuousBernoulli(logits=b).icdf(lib.sigmoid(v)),
    lambda lib, a, b, v: _D(lib).GeneralizedPareto(a, b.exp(), 0.3).log_prob(a + v.exp()),
    lambda lib, a, b, v: _D(lib).GeneralizedPareto(a, b.exp(), v).icdf(lib.sigmoid(a)),
    lambda lib, a, b, v: _D(lib).VonMises(a, b.exp() * 3).log_prob(v),
    lambda lib, a, b, v: _D(lib).VonMises(a, (b + 1.5) * 3).variance * v,
    lambda lib, a, b, v: _D(lib).LogisticNormal(a, b.exp()).log_prob(lib.softmax(
        lib.cat([v, v[:1]]), -1)),
    lambda lib, a, b, v: _round_trip(_T(lib).CorrCholeskyTransform(), lib.cat([a, b]))[0],
    lambda lib, a, b, v: _T(lib).CorrCholeskyTransform().log_abs_det_jacobian(
        lib.cat([a, b]), _T(lib).CorrCholeskyTransform()(lib.cat([a, b]))),
    lambda lib, a, b, v: _round_trip(_T(lib).StickBreakingTransform(), a * v + b),
    lambda lib, a, b, v: _T(lib).PositiveDefiniteTransform()(lib.stack([a, b, v])),
], ids=["CB-log_prob", "CB-entropy-icdf", "GP-log_prob", "GP-icdf", "VM-log_prob",
        "VM-variance", "LN-log_prob", "CorrCholesky", "CorrCholesky-ladj", "StickBreaking",
        "PositiveDefinite"])
def test_gradcheck(fn):
    check_gradcheck(fn, [(3,), (3,), (3,)], low=-1.0, high=1.0)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_broadcast_and_sample_shapes_hypothesis(data):
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    sample_shape = data.draw(st.lists(st.integers(0, 3), max_size=2))
    family = data.draw(st.sampled_from(["ContinuousBernoulli", "GeneralizedPareto",
                                        "VonMises"]))

    def fn(lib, a, b, v):
        D = _D(lib)
        if family == "ContinuousBernoulli":
            d, v = D.ContinuousBernoulli(logits=a + b), lib.sigmoid(v)
        elif family == "GeneralizedPareto":
            d, v = D.GeneralizedPareto(a, b.exp(), 0.2), a.detach() + v.exp()
        else:
            d = D.VonMises(a, b.exp())
        lib.manual_seed(11)
        return d.log_prob(v), d.sample(sample_shape), d.variance

    _check(fn, list(shapes.input_shapes))


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_stick_breaking_and_corr_cholesky_hypothesis(data):
    """Round trips for any batch shape and event size."""
    batch = data.draw(st.lists(st.integers(0, 3), max_size=2), label="batch")
    size = data.draw(st.integers(1, 5), label="size")
    # kept inside |x| <= 2: further out 1 - cumsum(y^2) cancels to a few digits and the
    # inverse's gradient magnifies the last ulp of tanh (NumPy's kernel against torch's)
    scale = data.draw(st.sampled_from([0.5, 1.0]), label="scale")

    def fn(lib, x):
        sb, cc = _T(lib).StickBreakingTransform(), _T(lib).CorrCholeskyTransform()
        y = sb(x * scale)
        z = cc(x * scale)
        return (y, sb.inv(y), sb.log_abs_det_jacobian(x * scale, y), z, cc.inv(z),
                cc.log_abs_det_jacobian(x * scale, z))

    _check(fn, [tuple(batch) + (size * (size + 1) // 2,)], dtype="float64")


def test_signatures_match_torch():
    import inspect

    def signature(obj):
        return [(p.name, p.kind, repr(p.default))
                for p in inspect.signature(obj).parameters.values()]

    checked = 0
    pairs = [(getattr(_T(ember), n), getattr(_T(torch), n)) for n in (
        "CatTransform", "StackTransform", "ReshapeTransform", "StickBreakingTransform",
        "LowerCholeskyTransform", "PositiveDefiniteTransform", "CorrCholeskyTransform",
        "CumulativeDistributionTransform")]
    pairs += [(getattr(_D(ember), n), getattr(_D(torch), n)) for n in _NEW]
    pairs += [(ember.distributions.constraint_registry.ConstraintRegistry,
               torch.distributions.constraint_registry.ConstraintRegistry)]
    for e_obj, t_obj in pairs:
        for attr in ("__init__", "sample", "rsample", "log_prob", "cdf", "icdf", "entropy",
                     "expand", "log_abs_det_jacobian", "with_cache", "forward_shape",
                     "inverse_shape", "register", "__call__", "log_cdf",
                     "log_survival_function"):
            t_attr = t_obj.__dict__.get(attr)
            if inspect.isfunction(t_attr):
                assert signature(getattr(e_obj, attr)) == signature(t_attr), (t_obj, attr)
                checked += 1
    assert checked > 30
