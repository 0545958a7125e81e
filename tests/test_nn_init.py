"""ember.nn.init against torch.nn.init: the same seed gives the same values."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

SHAPES = [(3, 5), (5, 3), (4, 3, 2), (2, 3, 3, 3), (6, 2, 1, 2, 2), (1, 1)]


def run_both(fn, shape, dtype="float32", seed=0):
    out = []
    for lib in (torch, ember):
        lib.manual_seed(seed)
        t = lib.empty(shape, dtype=getattr(lib, dtype))
        result = fn(lib, t)
        assert result is t
        out.append(t)
    return out


def assert_bits(e, t) -> None:
    assert e.dtype is getattr(ember, str(t.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(e.numpy(), t.numpy())


BIT_EXACT = {
    "uniform": lambda lib, t: lib.nn.init.uniform_(t),
    "uniform_ab": lambda lib, t: lib.nn.init.uniform_(t, -0.3, 2.5),
    "normal": lambda lib, t: lib.nn.init.normal_(t),
    "normal_ms": lambda lib, t: lib.nn.init.normal_(t, 1.5, 0.2),
    "constant": lambda lib, t: lib.nn.init.constant_(t, 0.7),
    "ones": lambda lib, t: lib.nn.init.ones_(t),
    "zeros": lambda lib, t: lib.nn.init.zeros_(t),
    "xavier_uniform": lambda lib, t: lib.nn.init.xavier_uniform_(t),
    "xavier_uniform_gain": lambda lib, t: lib.nn.init.xavier_uniform_(
        t, gain=lib.nn.init.calculate_gain("tanh")),
    "xavier_normal": lambda lib, t: lib.nn.init.xavier_normal_(t, gain=2.0),
    "kaiming_uniform": lambda lib, t: lib.nn.init.kaiming_uniform_(t),
    "kaiming_uniform_sqrt5": lambda lib, t: lib.nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
    "kaiming_uniform_fan_out_relu": lambda lib, t: lib.nn.init.kaiming_uniform_(
        t, mode="fan_out", nonlinearity="relu"),
    "kaiming_normal": lambda lib, t: lib.nn.init.kaiming_normal_(t),
    "kaiming_normal_fan_out": lambda lib, t: lib.nn.init.kaiming_normal_(
        t, a=0.2, mode="Fan_Out"),
    "kaiming_normal_selu": lambda lib, t: lib.nn.init.kaiming_normal_(t, nonlinearity="selu"),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BIT_EXACT))
def test_init_bit_identical(name, shape, dtype):
    e, t = run_both(BIT_EXACT[name], shape, dtype)[::-1]
    assert_bits(e, t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (1000,), (4, 3, 2)], ids=str)
def test_uniform_normal_any_rank(shape, dtype):
    for fn in (BIT_EXACT["uniform_ab"], BIT_EXACT["normal_ms"]):
        e, t = run_both(fn, shape, dtype)[::-1]
        assert_bits(e, t)


def test_generator_argument():
    out = []
    for lib in (torch, ember):
        g = lib.Generator().manual_seed(5)
        t = lib.empty(4, 6)
        lib.nn.init.kaiming_uniform_(t, generator=g)
        lib.nn.init.xavier_normal_(t, generator=g)
        out.append(t)
    assert_bits(out[1], out[0])


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 4), (5, 1, 2, 2)], ids=str)
def test_eye_and_dirac(shape):
    if len(shape) == 2:
        e, t = run_both(lambda lib, x: lib.nn.init.eye_(x), shape)[::-1]
        assert_bits(e, t)
    else:
        for groups in (1, shape[0]) if shape[0] > 1 else (1,):
            e, t = run_both(lambda lib, x, g=groups: lib.nn.init.dirac_(x, g), shape)[::-1]
            assert_bits(e, t)


@pytest.mark.parametrize("shape", [(8, 4), (4, 8), (5, 5), (3, 2, 4), (6, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_orthogonal(shape, dtype):
    # The normal draws are torch's bit for bit; the QR is LAPACK's in both, but the
    # libraries may call it through different routines, so values agree to rounding.
    e, t = run_both(lambda lib, x: lib.nn.init.orthogonal_(x, gain=1.5), shape, dtype)[::-1]
    assert_same(e, t, rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args", [(), (0.5, 2.0), (0.0, 1.0, -0.5, 0.5), (3.0, 0.5, 2.0, 4.0),
                                  (0.0, 1.0, 2.0, 3.0), (0.0, 1.0, -0.1, 0.2)],
                         ids=str)
def test_trunc_normal(args, dtype):
    # Rejection sampling from bit-identical draws; a log of a candidate near the acceptance
    # threshold could round the other way, hence the default tolerances, not bit equality.
    e, t = run_both(lambda lib, x: lib.nn.init.trunc_normal_(x, *args), (40, 30), dtype)[::-1]
    assert_same(e, t)
    a, b = (args[2], args[3]) if len(args) == 4 else (-2.0, 2.0)
    assert float(e.min()) >= a and float(e.max()) <= b


def test_trunc_normal_warns_like_torch():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="mean is more than 2 std from"):
            lib.nn.init.trunc_normal_(lib.empty(3), mean=10.0)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 1.0])
def test_sparse(sparsity):
    e, t = run_both(lambda lib, x: lib.nn.init.sparse_(x, sparsity, std=0.5), (10, 6))[::-1]
    assert_bits(e, t)


def test_sparse_with_a_generator_draws_rows_from_the_default_one():
    # torch's sparse_ hands its generator to the normal draws only
    out = []
    for lib in (torch, ember):
        lib.manual_seed(3)
        t = lib.empty(8, 6)
        lib.nn.init.sparse_(t, 0.5, generator=lib.Generator().manual_seed(9))
        out.append((t, lib.rand(2)))
    assert_bits(out[1][0], out[0][0])
    assert_bits(out[1][1], out[0][1])


def test_init_on_parameter_keeps_leaf():
    p = ember.nn.Parameter(ember.empty(3, 4))
    for fn in (ember.nn.init.kaiming_uniform_, ember.nn.init.orthogonal_,
               ember.nn.init.trunc_normal_, ember.nn.init.eye_):
        assert fn(p) is p
        assert p.is_leaf and p.requires_grad and p.grad_fn is None


@pytest.mark.parametrize("args", [
    ("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",), ("tanh",), ("relu",),
    ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu",),
])
def test_calculate_gain(args):
    assert ember.nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.init.calculate_gain("softmax"),
    lambda lib: lib.nn.init.calculate_gain("leaky_relu", True),
    lambda lib: lib.nn.init.calculate_gain("leaky_relu", "x"),
    lambda lib: lib.nn.init.xavier_uniform_(lib.empty(3)),
    lambda lib: lib.nn.init.kaiming_normal_(lib.empty(3, 3), mode="fan_avg"),
    lambda lib: lib.nn.init.kaiming_uniform_(lib.empty(3)),
    lambda lib: lib.nn.init.eye_(lib.empty(3, 3, 3)),
    lambda lib: lib.nn.init.dirac_(lib.empty(3, 3)),
    lambda lib: lib.nn.init.dirac_(lib.empty(3, 3, 3), groups=2),
    lambda lib: lib.nn.init.orthogonal_(lib.empty(3)),
    lambda lib: lib.nn.init.sparse_(lib.empty(3, 3, 3), 0.1),
    lambda lib: lib.nn.init.uniform_(lib.empty(3), 2.0, 1.0),
    lambda lib: lib.nn.init.normal_(lib.empty(3), 0.0, -1.0),
])
def test_init_errors(fn):
    check_raises_like(fn)


def test_fan_in_fan_out():
    for shape in SHAPES[:5]:
        assert ember.nn.init._calculate_fan_in_and_fan_out(ember.empty(shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_zero_element_kaiming_warns():
    for lib in (torch, ember):
        t = lib.empty(0, 3)
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert lib.nn.init.kaiming_uniform_(t) is t
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ember.nn.init.orthogonal_(ember.empty(0, 3)).shape == (0, 3)


def test_deprecated_aliases():
    for lib in (torch, ember):
        lib.manual_seed(0)
        with pytest.warns(FutureWarning, match=r"`nn.init.normal` is now deprecated in favor "
                                               r"of `nn.init.normal_`"):
            lib.nn.init.normal(lib.empty(2))
