"""ember's random functions give torch's CPU numbers bit for bit after the same seed."""
import warnings

import numpy as np
import pytest

import ember
from ember._ops import random as er
from tests.helpers import assert_same, check_raises_like, recording_compared, torch

# Every test here asserts bits: CI reruns them under each NumPy SIMD dispatch target.
pytestmark = pytest.mark.bitexact

SEEDS = [0, 1, 42, 12345]
SHAPES = [(), (0,), (1,), (2,), (3,), (5,), (7,), (8,), (15,), (16,), (17,), (31,), (32,),
          (33,), (100,), (1000,), (1001,), (2, 3), (4, 4), (3, 5, 7), (2, 0, 3), (16, 1),
          (9, 9), (4097,)]
E = ember
FLOATS = [(torch.float32, ember.float32), (torch.float64, ember.float64)]


def same_bits(e, t) -> None:
    """Values, dtype and shape identical to torch's, compared as bits (NaNs included)."""
    ea = e._data if isinstance(e, ember.Tensor) else e
    if t.dtype == torch.bfloat16:  # NumPy cannot hold torch's bfloat16: compare the bits
        assert repr(e.dtype) == repr(t.dtype)
        ea, t = ea.view(np.int16), t.view(torch.int16)
    ta = t.detach().numpy()
    assert ea.dtype == ta.dtype, (ea.dtype, ta.dtype)
    assert ea.shape == ta.shape, (ea.shape, ta.shape)
    if ea.dtype.kind in "fc":
        view = {4: np.uint32, 8: np.uint64, 2: np.uint16, 16: np.uint64}[ea.dtype.itemsize]
        ea, ta = ea.view(view), ta.view(view)
    mismatch = np.nonzero(np.atleast_1d(ea != ta))
    assert not mismatch[0].size, f"{mismatch[0].size} differ, first at {mismatch}"


def both(fn, seed):
    """fn(lib) after seeding each library the same way; returns (ember, torch) results."""
    torch.manual_seed(seed)
    t = fn(torch)
    er.manual_seed(seed)
    e = fn(E)
    return e, t


def check_bits(fn, seed, compare=same_bits) -> None:
    """fn(lib) after seeding each library the same way, each pair of results compared as
    bits; the names fn used join the coverage registry (NOTE [Compared names])."""
    with recording_compared() as run:
        torch.manual_seed(seed)
        t = run(torch, fn)
        er.manual_seed(seed)
        e = run(E, fn)
        assert len(e) == len(t)
        for ei, ti in zip(e, t):
            compare(ei, ti)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dt", FLOATS, ids=["f32", "f64"])
def test_rand_randn(seed, shape, dt):
    def run(lib):
        d = dt[0] if lib is torch else dt[1]
        return [lib.rand(shape, dtype=d), lib.randn(shape, dtype=d),
                lib.randn(*(shape or (1,)), dtype=d), lib.rand(3, dtype=d)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_default_dtype_and_mixed_sequence(seed):
    def run(lib):
        return [lib.rand(5), lib.randn(3), lib.randn(20), lib.randint(10, (7,)),
                lib.randn(1, dtype=lib.float64), lib.randn(1), lib.randperm(13),
                lib.rand(2, 2, dtype=lib.float64), lib.randint(-3, 2 ** 40, (5,)),
                lib.normal(2.0, 3.0, (17,)), lib.randn(3, dtype=lib.float64), lib.rand(1)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_randint(seed, shape):
    def run(lib):
        return [lib.randint(10, shape), lib.randint(-5, 5, shape), lib.randint(0, 2 ** 33, shape),
                lib.randint(-2 ** 62, 2 ** 62, shape),
                lib.randint(3, 1000, shape, dtype=lib.int32),
                lib.randint(0, 100, shape, dtype=lib.float32), lib.randint(7, (2,))]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_randint_keyword_forms(seed):
    check_bits(lambda lib: [lib.randint(high=5, size=(7,)), lib.randint(2, high=9, size=(3,)),
                            lib.randint(low=-4, high=4, size=(2, 3)), lib.randint(6, size=(4,))],
               seed)
    for call in (lambda lib: lib.randint(5), lambda lib: lib.randint(3, high=4),
                 lambda lib: lib.randint(5, (2,), high=3)):
        with pytest.raises(TypeError):
            call(torch)
        with pytest.raises(TypeError):
            call(ember)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 16, 17, 100, 1000, 5001])
def test_randperm(seed, n):
    def run(lib):
        return [lib.randperm(n), lib.randperm(n, dtype=lib.int32), lib.rand(2)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_streams_up_to_a_hundred_thousand(seed):
    # float32 and int64 streams on sizes from 1 to 10**5, one after another from one seed,
    # so each draw also starts where the last left the generator.
    sizes = [1, 2, 9, 15, 16, 17, 63, 64, 65, 999, 1024, 4099, 10_007, 65_537, 100_000]

    def run(lib):
        out = []
        for n in sizes:
            out += [lib.rand(n), lib.randn(n), lib.randint(-7, 1 << 20, (n,)),
                    lib.randint(0, 1 << 40, (n,)), lib.randperm(n)]
        return out
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(), (3,), (15,), (16,), (17,), (100,), (2, 33)])
def test_normal_overloads(seed, shape):
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(shape)
    std = rng.random(shape) + 0.5

    def run(lib):
        m64, s64 = lib.tensor(mean), lib.tensor(std)
        m32, s32 = m64.to(lib.float32), s64.to(lib.float32)
        return [lib.normal(m64, s64), lib.normal(m32, s32), lib.normal(m32, 2.5),
                lib.normal(1.5, s64), lib.normal(m64, 0.3), lib.normal(-1.0, 0.5, shape),
                lib.normal(0.25, 2.0, shape, dtype=lib.float64), lib.normal(m32[None], s32)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_generator_objects(seed):
    tg = torch.Generator().manual_seed(seed)
    eg = er.Generator().manual_seed(seed)
    torch.manual_seed(seed + 1)
    er.manual_seed(seed + 1)
    same_bits(er.rand(20, generator=eg), torch.rand(20, generator=tg))
    same_bits(er.rand(3), torch.rand(3))  # the default generator is untouched
    same_bits(er.randn(5, generator=eg), torch.randn(5, generator=tg))
    same_bits(er.randint(3, 9, (4,), generator=eg), torch.randint(3, 9, (4,), generator=tg))
    same_bits(er.randperm(9, generator=eg), torch.randperm(9, generator=tg))
    same_bits(er.normal(0.0, 2.0, (18,), generator=eg), torch.normal(0.0, 2.0, (18,), generator=tg))
    e = er.rand_like(er.randn(4, 4, dtype=ember.float64), generator=eg)
    same_bits(e, torch.rand_like(torch.randn(4, 4, dtype=torch.float64), generator=tg))
    assert eg.initial_seed() == tg.initial_seed() == seed
    assert er.Generator().initial_seed() == torch.Generator().initial_seed()


def test_seed_functions():
    assert er.manual_seed(7) is er.default_generator
    assert er.initial_seed() == 7
    er.manual_seed(-1)
    torch.manual_seed(-1)
    assert er.initial_seed() == torch.initial_seed()
    same_bits(er.rand(4), torch.rand(4))
    er.manual_seed(2 ** 40 + 3)
    torch.manual_seed(2 ** 40 + 3)
    assert er.initial_seed() == torch.initial_seed()
    same_bits(er.randn(20), torch.randn(20))
    s = er.seed()
    assert er.initial_seed() == s
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        torch.manual_seed(2 ** 64)
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        er.manual_seed(2 ** 64)


@pytest.mark.parametrize("seed", SEEDS)
def test_like_functions(seed):
    def run(lib):
        x = lib.zeros(3, 7, dtype=lib.float64)
        y = lib.zeros(17, dtype=lib.int32)
        return [lib.rand_like(x), lib.randn_like(x), lib.randn_like(x, dtype=lib.float32),
                lib.randint_like(y, 9), lib.randint_like(x, -4, 4)]
    check_bits(run, seed)


INPLACE = [
    ("uniform_", lambda t: t.uniform_()),
    ("uniform_ab", lambda t: t.uniform_(-2.5, 3.25)),
    ("normal_", lambda t: t.normal_()),
    ("normal_ms", lambda t: t.normal_(1.5, 0.75)),
    ("exponential_", lambda t: t.exponential_()),
    ("exponential_l", lambda t: t.exponential_(2.5)),
    ("geometric_", lambda t: t.geometric_(0.3)),
    ("cauchy_", lambda t: t.cauchy_()),
    ("cauchy_ms", lambda t: t.cauchy_(1.0, 0.5)),
    ("log_normal_", lambda t: t.log_normal_()),
    ("log_normal_ms", lambda t: t.log_normal_(0.5, 0.25)),
    ("bernoulli_", lambda t: t.bernoulli_()),
    ("bernoulli_p", lambda t: t.bernoulli_(0.3)),
    ("random_to", lambda t: t.random_(10)),
    ("random_from_to", lambda t: t.random_(-3, 40)),
    ("random_", lambda t: t.random_()),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (5,), (15,), (16,), (17,), (3, 11), (200,)])
@pytest.mark.parametrize("dt", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("name,fn", INPLACE, ids=[r[0] for r in INPLACE])
def test_inplace_float(seed, shape, dt, name, fn):
    def run(lib):
        t = lib.zeros(shape, dtype=dt[0] if lib is torch else dt[1])
        r = fn(t)
        assert r is t
        assert t._version == 1
        return [t, lib.rand(2, dtype=lib.float64)]  # the stream stays in step
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool"])
def test_random_integer_dtypes(seed, dtype):
    def run(lib):
        a = lib.zeros(37, dtype=getattr(lib, dtype))
        b = lib.zeros(5, dtype=getattr(lib, dtype))
        return [a.random_(), b.random_(0, 2), lib.rand(1)]
    check_bits(run, seed)


def test_normal_inplace_non_contiguous():
    def run(lib):
        t = lib.zeros(8, 6, dtype=lib.float32).transpose(0, 1)
        t.normal_()
        return [t.contiguous(), lib.rand(1)]
    check_bits(run, 3)


def test_inplace_refuses_leaf_requiring_grad():
    e = ember.zeros(3, requires_grad=True)
    t = torch.zeros(3, requires_grad=True)
    for name in ["uniform_", "normal_", "exponential_", "cauchy_", "log_normal_", "bernoulli_"]:
        with pytest.raises(RuntimeError) as te:
            getattr(t, name)()
        with pytest.raises(RuntimeError) as ee:
            getattr(e, name)()
        assert str(ee.value) == str(te.value)
    with ember.no_grad():
        e.uniform_()
    assert e._version == 1


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(), (4,), (16,), (17,), (3, 9)])
def test_bernoulli_tensor(seed, shape):
    probs = np.random.default_rng(seed).random(shape)

    def run(lib):
        p64 = lib.tensor(probs)
        p32 = p64.to(lib.float32)
        return [lib.bernoulli(p64), lib.bernoulli(p32), p32.bernoulli(),
                lib.bernoulli(p32, 0.7), lib.zeros(shape).bernoulli_(p64), lib.rand(1)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_multinomial(seed):
    rows = np.random.default_rng(seed).random((3, 6)) + 0.05

    def run(lib):
        p = lib.tensor(rows)
        p32 = p.to(lib.float32)
        return [lib.multinomial(p, 4, replacement=True), lib.multinomial(p32, 10, True),
                lib.multinomial(p[0], 7, True), lib.multinomial(p, 1),
                lib.multinomial(p32, 3), lib.multinomial(p[1], 6), p32.multinomial(2),
                lib.rand(1)]
    check_bits(run, seed)


_NAN, _INF = float("nan"), float("inf")
# (probabilities, dtype, num_samples, replacement): torch's checks of the probabilities, on
# the path without replacement (one sample, or several) and on the one with (row by row,
# entry by entry), and the argument checks in torch's order
_BAD_DISTRIBUTIONS = [
    ([0.0, 0.0], "float32", 1, False), ([0.0, 0.0], "float32", 2, True),
    ([0.0, 0.0], "float32", 2, False), ([-0.0, -0.0], "float32", 1, False),
    ([-1.0, 2.0], "float32", 1, False), ([-1.0, 2.0], "float32", 3, True),
    ([_NAN, 2.0], "float32", 1, False), ([_NAN, 2.0], "float32", 2, True),
    ([2.0, _NAN], "float32", 2, True), ([_INF, 2.0], "float32", 1, False),
    ([_INF, 2.0], "float32", 2, True), ([-_INF, 2.0], "float32", 2, True),
    ([_INF, -1.0], "float32", 2, True),
    ([[1.0, 1.0], [0.0, 0.0]], "float32", 1, False),
    ([[1.0, 1.0], [0.0, 0.0]], "float32", 3, True),
    ([[1.0, 1.0], [0.0, -1.0]], "float32", 1, False),
    ([[1.0, _INF], [-1.0, 1.0]], "float32", 2, True),
    ([[0.0, 0.0], [-1.0, 1.0]], "float32", 2, True),
    ([[0.0, 0.0], [-1.0, 1.0]], "float32", 1, False),
    ([0.0, 0.0], "float64", 1, False), ([0.0, 0.0], "float16", 1, False),
    ([-1.0, 1.0], "bfloat16", 1, False), ([0.0], "float32", 3, True),
    ([], "float32", 1, False), ([], "float32", 1, True), ([], "float32", 2, True),
    ([[], []], "float32", 1, True), ([[], []], "float32", 3, True),
    (1.0, "float32", 1, False), (1, "int64", 1, False), ([1, 2], "int64", 1, False),
    ([[[1.0]]], "float32", 1, False), ([1.0, 2.0], "float32", 0, False),
    ([1.0, 2.0], "float32", 3, False),
]


@pytest.mark.parametrize("probs, dtype, n, replacement", _BAD_DISTRIBUTIONS)
def test_multinomial_refuses_bad_distributions_as_torch(probs, dtype, n, replacement):
    # a row of zeros, a negative, inf or nan probability: torch's error, never a draw
    check_raises_like(lambda lib: lib.multinomial(
        lib.tensor(probs, dtype=getattr(lib, dtype)), n, replacement))


def test_multinomial_edge_distributions_draw_as_torch():
    # what torch accepts: a tiny or signed-zero entry, rows past float32's range, fewer
    # non-zero categories than samples without replacement, no rows at all
    cases = [([0.0, 1e-30], 1, False), ([-0.0, 1.0], 1, False), ([1e-45, 0.0], 2, True),
             ([3e38, 3e38], 1, False), ([3e38, 3e38], 2, True), ([0.0, 1.0, 0.0], 2, False),
             ([[1.0, 1.0], [0.0, 1.0]], 2, False)]
    for probs, n, replacement in cases:
        drawn = {}
        for lib in (torch, ember):
            lib.manual_seed(3)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # and no NumPy warning on the way
                drawn[lib] = lib.multinomial(lib.tensor(probs), n, replacement)
        assert drawn[ember].tolist() == drawn[torch].tolist(), probs
    for lib in (torch, ember):
        assert tuple(lib.multinomial(lib.zeros(0, 3), 2).shape) == (0, 2)
        assert tuple(lib.multinomial(lib.zeros(0, 3), 5, True).shape) == (0, 5)


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson(seed):
    rates = np.random.default_rng(seed).random((4, 5)) * 9.5
    rates[0, 0] = 0.0

    def run(lib):
        r = lib.tensor(rates)
        return [lib.poisson(r), lib.poisson(r.to(lib.float32)), lib.rand(1)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson_large_rates(seed):
    # rates from 10 on take torch's transformed-rejection path
    rates = np.concatenate([[10.0, 10.5, 12.5, 50.0, 1000.0, 3.0],
                            np.random.default_rng(seed).random(30) * 300])

    def run(lib):
        r = lib.tensor(rates)
        return [lib.poisson(r), lib.poisson(r.to(lib.float32)), lib.rand(2)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_rng_state_layout_and_round_trip(seed):
    torch.manual_seed(seed)
    er.manual_seed(seed)
    same_bits(er.get_rng_state(), torch.get_rng_state())
    for step in [lambda lib: lib.rand(3), lambda lib: lib.randn(1, dtype=lib.float64),
                 lambda lib: lib.randn(700), lambda lib: lib.randint(9, (5,))]:
        step(torch)
        step(E)
        same_bits(er.get_rng_state(), torch.get_rng_state())
    # torch's saved state restores ember's stream, and ember's restores torch's
    saved = torch.get_rng_state()
    er.set_rng_state(ember.tensor(saved.numpy()))
    same_bits(er.randn(7), torch.randn(7))
    mine = er.get_rng_state()
    torch.set_rng_state(torch.from_numpy(mine._data.copy()))
    same_bits(er.randn(3, dtype=ember.float64), torch.randn(3, dtype=torch.float64))
    g = er.Generator()
    g.set_state(er.get_rng_state())
    same_bits(er.rand(5, generator=g), torch.rand(5))


def test_rng_state_errors():
    with pytest.raises(RuntimeError) as te:
        torch.set_rng_state(torch.zeros(10, dtype=torch.uint8))
    with pytest.raises(RuntimeError) as ee:
        er.set_rng_state(ember.zeros(10, dtype=ember.uint8))
    assert str(ee.value) == str(te.value)


def test_errors_match_torch():
    cases = [lambda lib: lib.randint(5, 3, (2,)),
             lambda lib: lib.normal(0.0, -1.0, (2,)),
             lambda lib: lib.zeros(2).random_(4, 4)]
    for case in cases:
        with pytest.raises(RuntimeError) as te:
            case(torch)
        with pytest.raises(RuntimeError) as ee:
            case(E)
        assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_uniforms(seed, dtype):
    # float32 uniforms rounded to half; one that rounds up to the excluded bound wraps
    # to the lower bound, as torch's do (checked over sizes where that happens).
    def run(lib):
        d = getattr(lib, dtype)
        return [lib.rand(5, dtype=d), lib.rand(5000, dtype=d), lib.rand_like(lib.ones(17, dtype=d)),
                lib.empty(1001, dtype=d).uniform_(-2, 3), lib.rand(2)]
    def compare(e, t):
        if t.dtype == torch.float32:
            same_bits(e, t)
        else:  # compare the 16-bit patterns (NumPy cannot hold torch's bfloat16)
            assert repr(e.dtype) == repr(t.dtype)
            assert np.array_equal(e._data.view(np.int16), t.view(torch.int16).numpy())
    check_bits(run, seed, compare)


HALVES = ["float16", "bfloat16"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 5, 15, 16, 17, 20, 31, 32, 33, 47, 1001])
@pytest.mark.parametrize("dtype", HALVES)
def test_half_precision_samplers(seed, n, dtype):
    # normals of 16 or more come from float32 uniforms padded to whole blocks of 16, the last
    # block overwriting the last 16 elements; double samples round to half through float
    def run(lib):
        d = getattr(lib, dtype)
        return [lib.randn(n, dtype=d), lib.normal(0.5, 2.5, (n,), dtype=d),
                lib.zeros(n, dtype=d).normal_(-1.0, 0.75), lib.randn(n, 3, dtype=d).t(),
                lib.zeros(3, n, dtype=d).t().normal_(), lib.normal(lib.ones(n, dtype=d), 0.5),
                lib.normal(lib.ones(n, dtype=d), lib.full((n,), 2.0, dtype=d)),
                lib.zeros(n, dtype=d).exponential_(1.5), lib.zeros(n, dtype=d).cauchy_(0.5, 2.0),
                lib.zeros(n, dtype=d).log_normal_(0.25, 0.5), lib.zeros(n, dtype=d).geometric_(0.2),
                lib.bernoulli(lib.full((n,), 0.4, dtype=d)), lib.zeros(n, dtype=d).bernoulli_(0.3),
                lib.zeros(n, dtype=d).random_(), lib.zeros(n, dtype=d).random_(-7, 200),
                lib.randint(0, 100, (n,), dtype=d), lib.randperm(n, dtype=d),
                lib.poisson(lib.full((n,), 4.5, dtype=d)), lib.multinomial(lib.ones(n, dtype=d), 1),
                lib.rand(2, dtype=lib.float64)]
    check_bits(run, seed, lambda e, t: same_bits(e.contiguous(), t.contiguous()))


@pytest.mark.parametrize("dtype", HALVES)
def test_half_precision_many_draws(dtype):
    # enough samples to meet the rare values where rounding double -> half directly and
    # through float differ
    def run(lib):
        d = getattr(lib, dtype)
        return [lib.zeros(100000, dtype=d).exponential_(), lib.zeros(100000, dtype=d).cauchy_(),
                lib.randn(20000, dtype=d), lib.rand(2)]
    check_bits(run, 7)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 5, 8, 9, 17])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_samplers(seed, n, dtype):
    # a complex tensor samples its interleaved real and imaginary parts; normals share the
    # variance (each part has std / sqrt(2))
    def run(lib):
        d = getattr(lib, dtype)
        return [lib.rand(n, dtype=d), lib.randn(n, dtype=d), lib.normal(1.5, 2.0, (n,), dtype=d),
                lib.zeros(n, dtype=d).uniform_(-1, 2), lib.zeros(n, dtype=d).normal_(0.5, 3.0),
                lib.normal(lib.ones(n, dtype=d), 2.0), lib.rand_like(lib.zeros(n, dtype=d)),
                lib.rand(2)]
    check_bits(run, seed)


ALL_DTYPES = ["float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8",
              "uint8", "bool", "complex64", "complex128"]
SAMPLERS = [
    lambda lib, d: lib.rand(3, dtype=d), lambda lib, d: lib.randn(3, dtype=d),
    lambda lib, d: lib.normal(0.0, 1.0, (3,), dtype=d),
    lambda lib, d: lib.normal(lib.zeros(3, dtype=d), lib.ones(3, dtype=d)),
    lambda lib, d: lib.zeros(3, dtype=d).uniform_(),
    lambda lib, d: lib.zeros(3, dtype=d).normal_(),
    lambda lib, d: lib.zeros(3, dtype=d).exponential_(),
    lambda lib, d: lib.zeros(3, dtype=d).cauchy_(),
    lambda lib, d: lib.zeros(3, dtype=d).log_normal_(),
    lambda lib, d: lib.zeros(3, dtype=d).geometric_(0.5),
    lambda lib, d: lib.bernoulli(lib.ones(3, dtype=d)),
    lambda lib, d: lib.zeros(3, dtype=d).bernoulli_(0.5),
    lambda lib, d: lib.zeros(3, dtype=d).bernoulli_(lib.ones(3, dtype=d)),
    lambda lib, d: lib.zeros(3, dtype=d).random_(),
    lambda lib, d: lib.zeros(3, dtype=d).random_(2),
    lambda lib, d: lib.zeros(3, dtype=d).random_(-3, 7),
    lambda lib, d: lib.randint(0, 2, (3,), dtype=d),
    lambda lib, d: lib.randint(0, 200, (3,), dtype=d),
    lambda lib, d: lib.randperm(3, dtype=d),
    lambda lib, d: lib.poisson(lib.ones(3, dtype=d)),
    lambda lib, d: lib.multinomial(lib.ones(3, dtype=d), 2),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("k", range(len(SAMPLERS)))
def test_every_sampler_every_dtype(dtype, k):
    """Each sampler gives torch's numbers in each dtype, or raises torch's error."""
    def run(lib):
        return SAMPLERS[k](lib, getattr(lib, dtype))
    torch.manual_seed(0)
    try:
        expected = run(torch)
    except Exception:  # noqa: BLE001 - torch refuses this dtype: so must ember
        check_raises_like(run)
        return
    with recording_compared() as rec:
        e, t = both(lambda lib: rec(lib, lambda L: [run(L), L.rand(2)]), 0)
        for ei, ti in zip(e, t):
            same_bits(ei, ti)
        assert repr(e[0].dtype) == repr(expected.dtype)


def test_random_bounds_errors_and_warnings():
    for case in [lambda lib: lib.zeros(3, dtype=lib.int8).random_(0, 1000),
                 lambda lib: lib.zeros(3, dtype=lib.int8).random_(-1000, 3),
                 lambda lib: lib.zeros(3, dtype=lib.uint8).random_(-1, 3),
                 lambda lib: lib.zeros(3, dtype=lib.bool).random_(3),
                 lambda lib: lib.zeros(3, dtype=lib.int8).random_(200, 100),
                 lambda lib: lib.randint(-5, 300, (3,), dtype=lib.uint8),
                 lambda lib: lib.randperm(2050, dtype=lib.float16),
                 lambda lib: lib.randperm(129, dtype=lib.int8),
                 lambda lib: lib.randperm(257, dtype=lib.uint8),
                 lambda lib: lib.zeros(3).uniform_(2, 1),
                 lambda lib: lib.zeros(3).geometric_(0), lambda lib: lib.zeros(3).geometric_(1),
                 lambda lib: lib.zeros(3).cauchy_(0, -1),
                 lambda lib: lib.zeros(3).log_normal_(0, 0),
                 lambda lib: lib.normal(lib.zeros(2, dtype=lib.complex64),
                                        lib.ones(2, dtype=lib.complex64)),
                 lambda lib: lib.poisson(lib.tensor([1.0, -1.0])),
                 lambda lib: lib.poisson(lib.tensor([float("nan")]))]:
        check_raises_like(case)
    for dtype, low, high in [("float16", 0, 5000), ("float16", -5000, 3), ("bfloat16", 0, 300),
                             ("float32", 0, 2 ** 25), ("float64", 0, 2 ** 60)]:
        # past the exact integers torch also moves the bounds to values the dtype holds
        caught, values = [], []
        for lib in (torch, ember):
            lib.manual_seed(3)
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                values.append(lib.zeros(300, dtype=getattr(lib, dtype)).random_(low, high))
            caught.append([str(w.message).split(" (Triggered")[0] for w in record])
        assert caught[0] == caught[1] and caught[0]
        same_bits(values[1], values[0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_mixed_rates_and_stream(seed, dtype):
    # below and above 10 interleaved (each element draws until it stops), zero rates, huge
    # rates, an infinite one (torch's sample is the lowest int64), non-contiguous input
    rng = np.random.default_rng(seed)
    rates = rng.choice([0.0, 0.5, 3.0, 9.99, 10.0, 10.01, 25.0, 1e3, 1e6, 1e9, 1e15],
                       size=(7, 9))
    rates[rng.random((7, 9)) < 0.3] = rng.random() * 20

    def run(lib):
        r = lib.tensor(rates, dtype=getattr(lib, dtype))
        return [lib.poisson(r), lib.poisson(r.t()), lib.poisson(lib.tensor([float("inf"), 2.0])),
                lib.poisson(lib.zeros(4)), lib.rand(3, dtype=lib.float64)]
    check_bits(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_randperm_sizes(seed):
    def run(lib):
        return [lib.randperm(n) for n in (2, 64, 100000, 65537)] + [lib.rand(2)]
    check_bits(run, seed)


_WIDE_N = (2 ** 32 - 1) // 20  # from here on torch shuffles inside out on 64-bit draws
# Recorded from torch 2.13.0 on the CPU (running torch at this n takes 40 s to minutes):
#   torch.manual_seed(0); p = torch.randperm(214748364)
#   where the 8 largest values sit: {v: (p == v).nonzero() for v >= n - 8}; then torch.rand(2)
_WIDE_POSITIONS = {214748363: 179603580, 214748362: 200594085, 214748361: 93109770,
                   214748360: 84312737, 214748359: 71390560, 214748358: 129679294,
                   214748357: 3033663, 214748356: 86015663}
_WIDE_NEXT = [0.9478152990341187, 0.7895811796188354]


def test_randperm_large_n_last_steps():
    """randperm's inside-out pass from n = (2**32 - 1) // 20 on. The inverse permutation is
    a forward Fisher-Yates pass over the steps in reverse, whose first positions follow from
    its first steps alone: so torch's draws, reduced at full n, and the last few steps give
    where torch put the largest values, without building the whole permutation."""
    g = er.Generator().manual_seed(0)
    picks = er._inside_out_draws(g, _WIDE_N)
    count = len(_WIDE_POSITIONS)
    targets = (_WIDE_N - 1) - picks[::-1][:count].astype(np.int64)
    mirrored = er._fisher_yates(targets)  # mirrored[s]: n-1 - position of value n-1-s
    positions = {_WIDE_N - 1 - s: _WIDE_N - 1 - int(mirrored[s]) for s in range(count)}
    assert positions == _WIDE_POSITIONS
    assert er.rand(2, generator=g).tolist() == _WIDE_NEXT


@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial_of_no_rows_and_no_samples_match_torch(replacement):
    for lib in (torch, ember):
        lib.manual_seed(0)
        drawn = lib.multinomial(lib.ones(0, 3), 2, replacement)
        assert tuple(drawn.shape) == (0, 2) and drawn.dtype == lib.int64
    assert_same(ember.rand(3), torch.rand(3))  # nothing was drawn from the generators
    check_raises_like(lambda L: L.multinomial(L.ones(2, 3), 0, replacement))
    check_raises_like(lambda L: L.multinomial(L.ones(3), -1, replacement))


@pytest.mark.parametrize("call", [
    "L.normal(0., L.tensor([float('nan')]))", "L.normal(L.zeros(1), float('nan'))",
    "L.normal(0., float('nan'), (2,))",
    "L.binomial(L.tensor([5.], dtype=L.float16), L.tensor([0.5], dtype=L.float16))",
    "L.binomial(L.tensor([5.], dtype=L.bfloat16), L.tensor([0.5], dtype=L.bfloat16))",
])
def test_draws_refuse_nan_std_and_half_binomial(call: str) -> None:
    # a NaN std drew NaNs where torch refuses it; a half binomial drew where torch has no loop
    check_raises_like(lambda L: eval(call, {"L": L}))


def test_poisson_of_nothing_draws_nothing() -> None:
    # ember's poisson of an empty tensor moved the default generator on (64 uniforms)
    values = []
    for L in (torch, ember):
        L.manual_seed(0)
        out = L.poisson(L.ones(0))
        values.append((tuple(out.shape), L.rand(3).tolist()))
    assert values[0] == values[1]


@pytest.mark.parametrize("call", [
    "L.randint(5)", "L.randint()", "L.randint(1, 2, 3, 4)", "L.randint(5, dtype=L.int32)",
    "L.randint(dtype=L.int32)", "L.randint(1, 2, 3, 4, dtype=L.int32)",
    "L.randint(5, generator=L.Generator())",
])
def test_randint_argument_counts_refused_as_torch(call: str) -> None:
    # ember said "randint() received an invalid combination of arguments" and stopped, where
    # torch lists its four overloads, or names the missing size when a keyword was given
    check_raises_like(lambda L: eval(call, {"L": L}))


@pytest.mark.parametrize("call", [
    "L.randn()", "L.rand()", "L.randperm()", "L.rand_like()", "L.randn_like()", "L.normal()",
    "L.bernoulli()", "L.randn(dtype=L.float64)", "L.rand(requires_grad=True)",
    "L.randn(generator=5)", "L.randperm(dtype=L.int32)", "L.randn_like(dtype=L.float64)",
    "L.normal(std=2.0)", "L.normal(dtype=L.float64)", "L.bernoulli(p=0.5)",
    "L.randint(high=5)", "L.randint(low=0)", "L.randint(size=(2,))", "L.randint(low=0, high=5)",
    "L.randint(low=0, size=(2,))", "L.randint(dtype=L.int32, low=0)",
    "L.randint(high=5, requires_grad=True)",
])
def test_random_factories_without_arguments_refused_as_torch(call: str) -> None:
    # with no argument at all torch lists its overloads (ember named the missing size in
    # Python's words, or torch's for randn and rand); with a keyword it names the missing
    # arguments, from the first one on, "arguments" after one and "argument" after several
    check_raises_like(lambda L: eval(call, {"L": L}))
