"""More of torch's top-level names: the window functions, ``vmap``, ``can_cast``, the
``is_*`` predicates, ``isreal`` and the deprecated ``range``, each compared with torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch

WINDOWS = ("hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window")
LENGTHS = (0, 1, 2, 3, 4, 5, 8, 17, 64, 255)
DTYPES = ("float32", "float64", "float16", "bfloat16")


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_window_values(name, dtype):
    with recording_compared(f"torch.{name}") as run:
        for n in LENGTHS:
            for periodic in (True, False):
                def fn(lib, n=n, periodic=periodic):
                    return getattr(lib, name)(n, periodic, dtype=getattr(lib, dtype))
                assert_same(run(ember, fn), run(torch, fn))


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", DTYPES)
def test_bartlett_window_bits(dtype):
    # no transcendental function: torch's steps give torch's bits on every CPU
    for n in LENGTHS + (1000, 4097):
        for periodic in (True, False):
            e = ember.bartlett_window(n, periodic, dtype=getattr(ember, dtype))
            t = torch.bartlett_window(n, periodic, dtype=getattr(torch, dtype))
            assert np.array_equal(e.to(ember.float64).numpy(), t.to(torch.float64).numpy())
            assert e.dtype.itemsize == t.dtype.itemsize


def test_window_arguments():
    with recording_compared("torch.hamming_window", "torch.kaiser_window",
                            "torch.hann_window") as run:
        for fn in (lambda lib: lib.hamming_window(9, False, 0.3, 0.6, dtype=lib.float64),
                   lambda lib: lib.kaiser_window(9, False, 3.0),
                   lambda lib: lib.hann_window(6, requires_grad=True)):
            e, t = run(ember, fn), run(torch, fn)
            assert_same(e, t)
            assert e.requires_grad == t.requires_grad


@pytest.mark.parametrize("fn", [
    lambda lib: lib.hann_window(5, dtype=lib.int64),
    lambda lib: lib.kaiser_window(4, dtype=lib.int32),
    lambda lib: lib.blackman_window(4, dtype=lib.bool),
    lambda lib: lib.hann_window(-1),
    lambda lib: lib.hann_window(5.0),
    lambda lib: lib.bartlett_window(True),
    lambda lib: lib.hamming_window(4, dtype=lib.complex64),
])
def test_window_errors(fn):
    check_raises_like(fn)


def test_window_periodic_not_bool():
    # torch lists its overloads in the message; ember names the argument: the type agrees
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            lib.hann_window(4, "yes")


def test_vmap_is_func_vmap():
    assert ember.vmap is ember.func.vmap
    x, y = np.random.default_rng(0).standard_normal((2, 3, 4))
    with recording_compared("torch.vmap") as run:
        def fn(lib):
            return lib.vmap(lambda a, b: (a * b).sum())(lib.tensor(x), lib.tensor(y))
        assert_same(run(ember, fn), run(torch, fn))


def test_can_cast():
    dtypes = ("bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32",
              "float64", "complex64", "complex128")
    with recording_compared("torch.can_cast"):
        for a in dtypes:
            for b in dtypes:
                assert ember.can_cast(getattr(ember, a), getattr(ember, b)) == \
                    torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)
    check_raises_like(lambda lib: lib.can_cast(1, lib.int32))


def test_predicates():
    with recording_compared("torch.is_signed", "torch.is_inference",
                            "torch.is_same_size") as run:
        for dtype in ("uint8", "int8", "bool", "float32", "complex64"):
            def fn(lib, dtype=dtype):
                return lib.is_signed(lib.zeros(2, dtype=getattr(lib, dtype)))
            assert run(ember, fn) == run(torch, fn)
        for fn in (lambda lib: lib.is_inference(lib.ones(2)),
                   lambda lib: lib.is_same_size(lib.ones(2, 3), lib.ones(2, 3)),
                   lambda lib: lib.is_same_size(lib.ones(2, 3), lib.ones(3, 2))):
            assert run(ember, fn) == run(torch, fn)
    for fn in (lambda lib: lib.is_signed(3), lambda lib: lib.is_same_size(lib.ones(2), 3),
               lambda lib: lib.isreal(3)):
        check_raises_like(fn)


def test_isreal():
    with recording_compared("torch.isreal") as run:
        for fn in (lambda lib: lib.isreal(lib.tensor([1 + 1j, 2, -0.0j, 3j])),
                   lambda lib: lib.isreal(lib.arange(4.0)),
                   lambda lib: lib.isreal(lib.tensor([1, 2]))):
            assert_same(run(ember, fn), run(torch, fn))


def test_range_deprecated():
    with recording_compared("torch.range") as run:
        for fn in (lambda lib: lib.range(1, 4), lambda lib: lib.range(1.0, 2.0, 0.3),
                   lambda lib: lib.range(1, 4, dtype=lib.int64),
                   lambda lib: lib.range(3, -1, -0.5, dtype=lib.float64),
                   lambda lib: lib.range(0, 1, 0.1, requires_grad=True)):
            with warnings.catch_warnings(record=True) as e_warn:
                warnings.simplefilter("always")
                e = run(ember, fn)
            with warnings.catch_warnings(record=True) as t_warn:
                warnings.simplefilter("always")
                t = run(torch, fn)
            assert_same(e, t)
            assert e.requires_grad == t.requires_grad
            assert [str(w.message) for w in e_warn] == [str(w.message) for w in t_warn]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in (lambda lib: lib.range(1, 3, 0), lambda lib: lib.range(3, 1),
                   lambda lib: lib.range(5)):
            check_raises_like(fn)
