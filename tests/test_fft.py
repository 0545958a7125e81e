"""ember.fft, stft and istft against torch: values, dtypes, nodes, gradients for random
(complex) cotangents, float64 gradcheck, and torch's errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import (
    check_gradcheck,
    check_op,
    check_raises_like,
    recording_compared,
    torch,
)


def _complex(L, x):
    return x * (1 + 0.5j) + x.flip(-1) * 0.25j


def _window(L, n: int, dtype):
    return L.tensor(np.hanning(n + 2)[1:-1]).to(dtype)


# (name, fn(lib, x), input shape, complex input?)
FFT_ROWS = [
    ("fft", lambda L, x: L.fft.fft(x), (3, 6), False),
    ("fft-n-ortho", lambda L, x: L.fft.fft(x, n=5, dim=0, norm="ortho"), (3, 6), True),
    ("fft-pad", lambda L, x: L.fft.fft(x, n=9), (3, 6), True),
    ("ifft", lambda L, x: L.fft.ifft(x, norm="forward"), (3, 6), True),
    ("ifft-real", lambda L, x: L.fft.ifft(x, n=8), (3, 6), False),
    ("rfft", lambda L, x: L.fft.rfft(x), (3, 6), False),
    ("rfft-odd", lambda L, x: L.fft.rfft(x, n=7, dim=0, norm="ortho"), (3, 6), False),
    ("irfft", lambda L, x: L.fft.irfft(x), (3, 6), True),
    ("irfft-odd", lambda L, x: L.fft.irfft(x, n=9, norm="forward"), (3, 6), True),
    ("irfft-cut", lambda L, x: L.fft.irfft(x, n=4), (3, 6), True),
    ("hfft", lambda L, x: L.fft.hfft(x), (3, 6), True),
    ("hfft-n", lambda L, x: L.fft.hfft(x, n=7, norm="ortho"), (3, 6), True),
    ("ihfft", lambda L, x: L.fft.ihfft(x, n=5), (3, 6), False),
    ("fft2", lambda L, x: L.fft.fft2(x), (2, 3, 4), True),
    ("ifft2", lambda L, x: L.fft.ifft2(x, s=(2, 5)), (2, 3, 4), False),
    ("fftn", lambda L, x: L.fft.fftn(x, s=(2, 9)), (2, 3, 4), True),
    ("fftn-dims", lambda L, x: L.fft.fftn(x, dim=(0, 2), norm="ortho"), (2, 3, 4), False),
    ("fftn-none", lambda L, x: L.fft.fftn(x, dim=()), (2, 3), False),
    ("ifftn", lambda L, x: L.fft.ifftn(x), (2, 3, 4), True),
    ("rfft2", lambda L, x: L.fft.rfft2(x), (2, 3, 4), False),
    ("rfftn", lambda L, x: L.fft.rfftn(x, s=(3, 5), dim=(2, 0), norm="forward"), (2, 3, 4), False),
    ("irfft2", lambda L, x: L.fft.irfft2(x), (2, 3, 4), True),
    ("irfftn", lambda L, x: L.fft.irfftn(x, s=(5, 7)), (2, 3, 4), True),
    ("hfft2", lambda L, x: L.fft.hfft2(x), (2, 3, 4), True),
    ("hfftn", lambda L, x: L.fft.hfftn(x, s=(3, 5, 9), norm="ortho"), (2, 3, 4), True),
    ("ihfft2", lambda L, x: L.fft.ihfft2(x), (2, 3, 4), False),
    ("ihfftn", lambda L, x: L.fft.ihfftn(x, dim=(0, 2), norm="forward"), (2, 3, 4), False),
    ("fftshift", lambda L, x: L.fft.fftshift(x), (3, 4, 5), False),
    ("ifftshift", lambda L, x: L.fft.ifftshift(x, dim=(0, -1)), (3, 4, 5), True),
]


def _row_fn(fn, complex_input: bool):
    return (lambda L, x: fn(L, _complex(L, x))) if complex_input else fn


@pytest.mark.parametrize("name, fn, shape, complex_input", FFT_ROWS, ids=[r[0] for r in FFT_ROWS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fft_matches_torch(name, fn, shape, complex_input, dtype) -> None:
    # MKL and pocketfft round differently: float32 sums of up to ~100 terms
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {}
    check_op(_row_fn(fn, complex_input), [shape], dtype=dtype, seed=len(name),
             grad_rtol=tol.get("rtol"), grad_atol=tol.get("atol"), **tol)


@pytest.mark.parametrize("name, fn, shape, complex_input", FFT_ROWS, ids=[r[0] for r in FFT_ROWS])
def test_fft_gradcheck(name, fn, shape, complex_input) -> None:
    check_gradcheck(_row_fn(fn, complex_input), [shape], gradgrad=name in (
        "fft", "irfft", "hfftn", "ihfftn", "rfftn"))


def test_fft_noncontiguous_and_dtypes() -> None:
    check_op(lambda L, x: L.fft.rfftn(x), [(3, 4)], noncontiguous=True)
    for dtype in ("int64", "bool"):
        check_op(lambda L, x: L.fft.fft(x), [(3, 4)], dtype=dtype, grad=False)
        check_op(lambda L, x: L.fft.irfft(x), [(3, 4)], dtype=dtype, grad=False)


@pytest.mark.parametrize("call", [
    lambda L: L.fft.fft(L.ones(4), n=0),
    lambda L: L.fft.fft(L.ones(4), norm="bad"),
    lambda L: L.fft.fft(L.ones(4), dim=2),
    lambda L: L.fft.fft(L.tensor(1.0)),
    lambda L: L.fft.fft(L.ones(3, 0)),
    lambda L: L.fft.fft(L.ones(4).half()),
    lambda L: L.fft.rfft(L.ones(4).to(L.complex64)),
    lambda L: L.fft.ihfft(L.ones(4).to(L.complex64)),
    lambda L: L.fft.rfftn(L.ones(4).to(L.complex64)),
    lambda L: L.fft.ihfftn(L.ones(4, 4).to(L.complex64)),
    lambda L: L.fft.fftn(L.ones(4, 4), dim=(0, 0)),
    lambda L: L.fft.fftn(L.ones(4, 4), s=(3,), dim=(0, 1)),
    lambda L: L.fft.fftn(L.ones(4, 4), s=(3, 3, 3)),
    lambda L: L.fft.fftn(L.ones(4, 4), s=(3, 0)),
    lambda L: L.fft.fft2(L.ones(3)),
    lambda L: L.fft.rfftn(L.ones(4), dim=()),
    lambda L: L.fft.irfftn(L.ones(4), dim=()),
    lambda L: L.fft.hfftn(L.ones(4), dim=()),
    lambda L: L.fft.irfft(L.ones(3, 1).to(L.complex64)),
    lambda L: L.fft.irfft(L.ones(0).to(L.complex64)),
    lambda L: L.fft.fftshift(L.tensor(1.0)),
    lambda L: L.fft.fftfreq(-1),
    lambda L: L.fft.fftfreq(5, dtype=L.int64),
    lambda L: L.fft.fftfreq(4.0),
])
def test_fft_errors_match_torch(call) -> None:
    check_raises_like(call)


@pytest.mark.parametrize("fname", ["fftfreq", "rfftfreq"])
def test_freq_bits(fname) -> None:
    with recording_compared(f"torch.fft.{fname}"):
        for n in (0, 1, 5, 6, 7, 10, 33):
            for d in (1.0, 0.1, 0.3, 3.7):
                for dtype in ("float32", "float64", "float16"):
                    t = getattr(torch.fft, fname)(n, d, dtype=getattr(torch, dtype))
                    e = getattr(ember.fft, fname)(n, d, dtype=getattr(ember, dtype))
                    assert e.dtype is getattr(ember, dtype)
                    np.testing.assert_array_equal(e._data, t.numpy())
    assert ember.fft.fftfreq(4, requires_grad=True).requires_grad


def test_fft_module_is_lazy_and_complete() -> None:
    import subprocess
    import sys

    code = "import sys, ember; print('ember._ops.fft' in sys.modules, 'ember.fft' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
    public = {n for n in dir(torch.fft) if not n.startswith("_") and callable(
        getattr(torch.fft, n)) and getattr(torch.fft, n).__module__ != "typing"}
    public -= {"Tensor"}
    assert public <= set(dir(ember.fft))


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_fft_hypothesis(data) -> None:
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    name = data.draw(st.sampled_from(["fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"]))
    norm = data.draw(st.sampled_from([None, "backward", "forward", "ortho"]))
    dims = tuple(data.draw(st.permutations(range(ndim)))[:data.draw(st.integers(1, ndim))])
    sizes = tuple(data.draw(st.integers(1, 6)) for _ in dims)
    complex_input = name in ("ifftn", "irfftn", "hfftn")

    def fn(L, x):
        return getattr(L.fft, name)(x, s=sizes, dim=dims, norm=norm)

    check_op(_row_fn(fn, complex_input), [shape], dtype="float64",
             seed=data.draw(st.integers(0, 99)))


# ---- stft / istft ------------------------------------------------------------------------

STFT_ROWS = [
    ("hann", lambda L, x: L.stft(x, 16, window=_window(L, 16, x.dtype), return_complex=True)),
    ("1d-win", lambda L, x: L.stft(x[0], 16, hop_length=5, win_length=10,
                                   window=_window(L, 10, x.dtype), return_complex=True)),
    ("complex", lambda L, x: L.stft(_complex(L, x), 16, normalized=True, pad_mode="constant")),
    ("real-out", lambda L, x: L.stft(x, 16, center=False, onesided=False,
                                     return_complex=False)),
    ("align", lambda L, x: L.stft(x, 16, win_length=10, window=_window(L, 10, x.dtype),
                                  center=False, align_to_window=True, return_complex=True)),
    ("method", lambda L, x: x.stft(12, 3, pad_mode="replicate", return_complex=True)),
    ("istft", lambda L, x: L.istft(
        L.stft(x, 16, window=_window(L, 16, x.dtype), return_complex=True), 16,
        window=_window(L, 16, x.dtype))),
    ("istft-length", lambda L, x: L.istft(
        L.stft(x[1], 16, window=_window(L, 16, x.dtype), return_complex=True) * 1.5, 16,
        window=_window(L, 16, x.dtype), length=50, normalized=True)),
    ("istft-complex", lambda L, x: L.istft(
        L.stft(x, 16, window=_window(L, 16, x.dtype), return_complex=True, onesided=False),
        16, window=_window(L, 16, x.dtype), return_complex=True)),
    ("istft-method", lambda L, x: L.stft(x, 8, 2, window=_window(L, 8, x.dtype),
                                         return_complex=True).istft(8, 2, length=30,
                                                                    center=True,
                                                                    window=_window(L, 8,
                                                                                   x.dtype))),
]


@pytest.mark.parametrize("name, fn", STFT_ROWS, ids=[r[0] for r in STFT_ROWS])
def test_stft_matches_torch(name, fn) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's and ember's deprecations
        for dtype in ("float32", "float64"):
            tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {}
            check_op(fn, [(2, 40)], dtype=dtype, grad_rtol=tol.get("rtol"),
                     grad_atol=tol.get("atol"), **tol)
        check_gradcheck(fn, [(2, 40)], gradgrad=False)


@pytest.mark.parametrize("call", [
    lambda L: L.stft(L.ones(2, 40), 16),
    lambda L: L.stft(L.ones(2, 40), 100, return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 100, center=False, return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 16, hop_length=0, return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 16, win_length=20, return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 16, window=L.ones(10), return_complex=True),
    lambda L: L.stft(L.ones(1, 2, 40), 16, window=L.ones(16), return_complex=True),
    lambda L: L.stft(L.ones(2, 40).long(), 16, return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 16, pad_mode="bad", return_complex=True),
    lambda L: L.stft(L.ones(2, 40), 16, align_to_window=True, return_complex=True),
    lambda L: L.stft(L.ones(2, 40).to(L.complex64), 16, onesided=True),
    lambda L: L.istft(L.ones(2, 9, 11), 16),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 15, window=L.ones(16)),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 16, window=L.ones(16),
                      hop_length=20),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 16, window=L.ones(10)),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 16, window=L.zeros(16)),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 16, window=L.ones(16),
                      onesided=False),
    lambda L: L.istft(L.ones(2, 9, 0).to(L.complex64), 16, window=L.ones(16)),
    lambda L: L.istft(L.ones(2, 9, 11).to(L.complex64), 16, window=L.ones(16),
                      return_complex=True),
])
def test_stft_errors_match_torch(call) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_raises_like(call)


def test_stft_warns_like_torch() -> None:
    # torch's warnings are once a process; under set_warn_always(True) they are given on
    # every call
    x = ember.ones(2, 40)
    always = ember.is_warn_always_enabled()
    ember.set_warn_always(True)
    try:
        with pytest.warns(UserWarning, match="A window was not provided"):
            ember.stft(x, 16, return_complex=True)
        with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
            ember.stft(x, 16, window=ember.ones(16), return_complex=False)
    finally:
        ember.set_warn_always(always)
