"""Pointwise ops bit for bit against torch, on every NumPy dispatch target: clamps of a
tensor by numbers and ReLU (signed zeros: torch keeps ``x`` where it equals the bound, so
relu(-0.0) is -0.0; NaN payloads; NOTE [Bounds first] in ember/_ops/pointwise.py) and the
powers torch multiplies out."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, to_numpy, torch

pytestmark = pytest.mark.bitexact

_SPECIAL = [-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1.0, -1.0, 6.0, -6.0, 5e-45]


def _values(dtype, n: int):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    x[:len(_SPECIAL) * 3:3] = _SPECIAL
    return x


CALLS = {
    "relu": lambda lib, t: lib.relu(t),
    "relu_": lambda lib, t: t.clone().relu_(),
    "F.relu": lambda lib, t: lib.nn.functional.relu(t),
    "clamp_min 0": lambda lib, t: lib.clamp_min(t, 0),
    "clamp_min -0.0": lambda lib, t: t.clamp_min(-0.0),
    "clamp_min nan": lambda lib, t: t.clamp_min(float("nan")),
    "clamp_max 0": lambda lib, t: lib.clamp_max(t, 0.0),
    "clamp_max -0.0": lambda lib, t: t.clamp_max(-0.0),
    "clamp 0 6": lambda lib, t: lib.clamp(t, 0, 6),
    "clamp -0.0 0.0": lambda lib, t: t.clamp(-0.0, 0.0),
    "clamp_ -1 1": lambda lib, t: t.clone().clamp_(-1, 1),
    "clamp min only": lambda lib, t: t.clamp(min=0.0),
    "clamp max only": lambda lib, t: t.clamp(max=-0.0),
}


# 5003: above the size where a float32 input meets a zero bound as an array (NOTE [Zero
# bounds as arrays])
@pytest.mark.parametrize("n", [40, 1031, 5003])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", list(CALLS))
def test_bits_match_torch(call, dtype, n):
    x = _values(dtype, n)
    t = CALLS[call](torch, torch.tensor(x)).numpy()
    e = CALLS[call](ember, ember.tensor(x)).numpy()
    assert e.dtype == t.dtype
    assert np.array_equal(e.view(np.uint8), t.view(np.uint8))


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "strided"])
@pytest.mark.parametrize("call", ["relu", "clamp_min 0", "clamp_max 0", "clamp min only"])
def test_zero_bounds_keep_layout_and_bits(call, layout):
    # large float32 inputs that are not C-ordered: torch's result strides and bits
    x = _values(np.float32, 8 * 16 * 12 * 10).reshape(8, 16, 12, 10)
    laid_out = {"transposed": lambda lib, t: t.transpose(1, 3),
                "channels_last": lambda lib, t: t.contiguous(memory_format=lib.channels_last),
                "strided": lambda lib, t: t[:, ::2]}[layout]
    results = {}
    for lib in (torch, ember):
        out = CALLS[call](lib, laid_out(lib, lib.tensor(x)))
        results[lib] = (out.stride(), _bits(lib, out.contiguous()))
    assert results[ember][0] == results[torch][0]
    assert np.array_equal(results[ember][1], results[torch][1])


@pytest.mark.parametrize("call", ["relu", "clamp_min 0", "clamp 0 6", "clamp_max 0"])
def test_integers_match_torch(call):
    x = np.arange(-20, 20, dtype=np.int64)
    t = CALLS[call](torch, torch.tensor(x))
    e = CALLS[call](ember, ember.tensor(x))
    assert str(e.dtype) == str(t.dtype)
    assert np.array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("exponent", [3, -2, 3.0, -2.0, 2, -1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
def test_multiplied_out_powers_match_torch(dtype, exponent):
    x = _values(np.float32, 2053)
    if dtype in ("bfloat16", "float16"):
        # half-precision NaNs come out of every op (square, reciprocal too) with other
        # payloads than torch's: NaN-ness is compared elsewhere, the bits here
        x = np.nan_to_num(x, nan=1.5)
    t = torch.tensor(x).to(getattr(torch, dtype))
    # the same bits in both (compared as integers: float conversions of a NaN may differ in
    # payload)
    view = "int16" if dtype in ("bfloat16", "float16") else \
        "int32" if dtype == "float32" else "int64"
    e = ember.tensor(t.view(getattr(torch, view)).numpy()).view(getattr(ember, dtype))
    t_bits = t.pow(exponent).view(getattr(torch, view)).numpy()
    e_bits = e.pow(exponent).view(getattr(ember, view)).numpy()
    assert np.array_equal(e_bits, t_bits)


def _bits(lib, t):
    view = {2: "int16", 4: "int32", 8: "int64"}[t.element_size()]
    return t.view(getattr(lib, view)).numpy()


def _same_inputs(dtype: str, n: int):
    x = _values(np.float32, n)
    t = torch.tensor(x).to(getattr(torch, dtype))
    e = ember.tensor(_bits(torch, t)).view(getattr(ember, dtype))
    return t, e


@pytest.mark.parametrize("exponent", [-0.5, 0.5])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_square_root_powers_match_torch(dtype, exponent):
    # torch's pow takes 1 / sqrt for -0.5 (bit for bit here); for 0.5 its sqrt, which is
    # not correctly rounded on every CPU build (MKL's), so 0.5 is compared where it decides
    # the result's kind: signed zeros, nan for negatives and -inf; float16 keeps pow in both
    t, e = _same_inputs(dtype, 1031)
    t_bits, e_bits = _bits(torch, t.pow(exponent)), _bits(ember, e.pow(exponent))
    # NaN-ness compared; the bits where not NaN (half-precision NaN payloads differ)
    nan = np.isnan(e.pow(exponent).to(ember.float64).numpy())
    assert np.array_equal(nan, np.isnan(t.pow(exponent).to(torch.float64).numpy()))
    keep = ~nan
    if exponent == 0.5 and dtype != "float16":
        keep &= np.isin(t.to(torch.float64).numpy(), [0.0, np.inf])
    assert np.array_equal(e_bits[keep], t_bits[keep])


# special bases and exponents whose exact powers are representable: the values do not
# depend on which pow kernel rounds them
_POW_BASES = [-np.inf, np.inf, -0.0, 0.0, -1.0, 1.0, np.nan, -4.0, 4.0, 0.25, -0.25, 16.0]
_POW_EXPONENTS = [0.5, -0.5, 1.5, -1.5, 2.5, 0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, np.inf,
                  -np.inf, np.nan]
TENSOR_EXPONENTS = {
    "0-d": lambda lib, x, e: x.pow(lib.tensor(e, dtype=x.dtype)),
    "1-element": lambda lib, x, e: x.pow(lib.tensor([e], dtype=x.dtype)),
    "full": lambda lib, x, e: x.pow(lib.full(x.shape, e, dtype=x.dtype)),
    "expanded": lambda lib, x, e: x.pow(lib.tensor([e], dtype=x.dtype).expand(x.shape)),
    "column": lambda lib, x, e: x[None].pow(lib.tensor([[e], [e]], dtype=x.dtype)),
    "0-d float32": lambda lib, x, e: lib.pow(x, lib.tensor(e)),
    "pow_": lambda lib, x, e: x.clone().pow_(lib.tensor(e, dtype=x.dtype)),
    "**": lambda lib, x, e: x ** lib.tensor(e, dtype=x.dtype),
    "number ** 0-d": lambda lib, x, e: lib.stack(
        [lib.pow(b, lib.tensor(e, dtype=x.dtype)) for b in _POW_BASES]),
    "float_power": lambda lib, x, e: lib.float_power(x, lib.tensor(e, dtype=x.dtype)),
}


@pytest.mark.parametrize("layout", list(TENSOR_EXPONENTS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_tensor_exponents_match_torch(dtype, layout):
    # pow with a tensor exponent is pow for every element, however the exponent is laid out:
    # NumPy's power takes sqrt for a repeated 0.5 (-inf ** 0.5 gave nan where torch gives
    # inf, -0.0 ** 0.5 gave -0.0 where torch gives 0.0)
    call = TENSOR_EXPONENTS[layout]
    for exponent in _POW_EXPONENTS:
        t = call(torch, torch.tensor(_POW_BASES, dtype=getattr(torch, dtype)), exponent)
        e = call(ember, ember.tensor(_POW_BASES, dtype=getattr(ember, dtype)), exponent)
        assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape)
        nan = np.isnan(e.to(ember.float64).numpy())
        assert np.array_equal(nan, np.isnan(t.to(torch.float64).numpy())), exponent
        assert np.array_equal(_bits(ember, e)[~nan], _bits(torch, t)[~nan]), exponent


@pytest.mark.parametrize("exponent", [-0.5, 0.5])
def test_bfloat16_square_root_powers_of_special_values(exponent):
    # torch's bfloat16 x ** -0.5 is 1 / sqrt (nan for -inf, -inf for -0.0; ember took pow:
    # 0.0 and inf); its finite values depend on where an element falls in torch's
    # vectorised loop, so the exact powers are compared
    x = _POW_BASES * 3
    t = torch.tensor(x, dtype=torch.bfloat16).pow(exponent)
    e = ember.tensor(x, dtype=ember.bfloat16).pow(exponent)
    nan = np.isnan(e.to(ember.float64).numpy())
    assert np.array_equal(nan, np.isnan(t.to(torch.float64).numpy()))
    assert np.array_equal(_bits(ember, e)[~nan], _bits(torch, t)[~nan])


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_half_power_is_sqrt(dtype):
    # pow(x, 0.5) is sqrt(x) bit for bit, as in torch
    _, e = _same_inputs(dtype, 1031)
    assert np.array_equal(_bits(ember, e.pow(0.5)), _bits(ember, e.sqrt()))
    assert np.array_equal(_bits(ember, e ** 0.5), _bits(ember, e.sqrt()))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
def test_sigmoid_backward_kernel_matches_torch(dtype):
    # SigmoidBackward0's one kernel, (g * (1 - y)) * y in torch's order and roundings, on the
    # same gradients and outputs (special values included)
    from ember._ops.pointwise import SIGMOID_BACKWARD
    from ember._ops.registry import run

    rng = np.random.default_rng(11)
    g = _values(np.float64, 4099)
    y = rng.random(4099)
    y[:6] = [0.0, 1.0, -0.0, np.nan, 0.5, 1e-30]
    t = torch.ops.aten.sigmoid_backward(torch.tensor(g, dtype=getattr(torch, dtype)),
                                        torch.tensor(y, dtype=getattr(torch, dtype)))
    e = run(SIGMOID_BACKWARD, ember.tensor(g, dtype=getattr(ember, dtype)),
            ember.tensor(y, dtype=getattr(ember, dtype)))
    assert e.dtype == getattr(ember, dtype)
    t_bits = t.view(torch.int16 if t.element_size() == 2 else
                    torch.int32 if t.element_size() == 4 else torch.int64).numpy()
    e_bits = e._data.view(t_bits.dtype)
    nan = np.isnan(e.float().numpy())
    assert (np.isnan(t.float().numpy()) == nan).all()
    assert (e_bits[~nan] == t_bits[~nan]).all()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("divisor", [-1, 1, -2.0, 2.0, 0.5, "tensor"])
def test_remainder_zero_signs_match_torch(dtype, divisor):
    # a zero remainder takes the dividend's sign in torch (fmod, then the divisor added to
    # a nonzero result of the other sign); NumPy gives it the divisor's
    raw = [3.0, -3.0, 0.0, -0.0, 2.5, -2.5, 7.0, -7.0, 1e-3, 4.0, -4.0, 6.0, -6.0]

    def bits(lib):
        x = lib.tensor(raw).to(getattr(lib, dtype))
        other = lib.tensor([-1.0, 2.0, -2.0, 1.0] * 3 + [2.0]).to(x.dtype) \
            if divisor == "tensor" else divisor
        nonzero = lib.tensor([3.0, -3.0, 2.5, -2.5, 7.0, -7.0, 0.5, -0.5]).to(x.dtype)
        return x.remainder(other).float().view(lib.int32).tolist(), \
            (7 % nonzero).float().view(lib.int32).tolist()
    assert bits(ember) == bits(torch)


@pytest.mark.parametrize("fn", ["cumsum", "cumprod", "logcumsumexp"])
@pytest.mark.parametrize("dtype", ["float32", "complex64", "float64"])
@pytest.mark.parametrize("dim", [0, 1])
def test_scans_carry_torchs_accumulation_type(fn: str, dtype: str, dim: int) -> None:
    # torch's CPU scans carry a float32 running value in double (complex float in complex
    # double) and round each result once: ember's float32 cumsum of 700 values drifted from
    # torch's in most elements
    rng = np.random.default_rng(3)
    data = rng.standard_normal((20, 700))
    if dtype == "complex64":
        data = data + 1j * rng.standard_normal((20, 700))
    if fn == "cumprod":
        data = 1 + 1e-3 * data

    def run(L):
        x = L.tensor(data).to(getattr(L, dtype))
        return getattr(x, fn)(dim)
    t, e = run(torch), run(ember)
    assert str(e.dtype) == str(t.dtype)
    if fn == "logcumsumexp" and dtype == "complex64":
        # to the ulp, the phase taken modulo 2 pi (a few land on the other side of pi)
        assert_same(e.exp(), t.exp())
    else:
        np.testing.assert_array_equal(to_numpy(e), to_numpy(t))


_MOMENT_CASES = [((1000,), None), ((100, 37), 1), ((100, 37), 0), ((3, 4, 5), (0, 2)),
                 ((7, 300, 5), 1), ((6,), 0), ((0, 4), 1), ((5,), None)]


# torch's complex std is left out: the root of the complex variance above matches torch's in
# 80-90% of the elements, its parts' order of rounding being its kernels'
@pytest.mark.parametrize("fn,dtype", [
    ("var", "float32"), ("std", "float32"), ("var_mean", "float32"), ("std_mean", "float32"),
    ("var", "complex64"), ("var_mean", "complex64")])
@pytest.mark.parametrize("correction", [1, 0, 3])
@pytest.mark.parametrize("case", range(len(_MOMENT_CASES)))
def test_moments_accumulate_as_torch(fn: str, dtype: str, correction: int, case: int) -> None:
    # torch accumulates float32 moments in double and rounds each result once (a complex
    # variance: those of its real and imaginary parts, each rounded, added); ember's float32
    # passes left a third to all of the elements an ulp off torch's
    shape, dim = _MOMENT_CASES[case]
    rng = np.random.default_rng(case)
    data = rng.standard_normal(shape) * 3 + 1
    if dtype == "complex64":
        data = data + 1j * rng.standard_normal(shape)

    def run(L):
        out = getattr(L, fn)(L.tensor(data).to(getattr(L, dtype)), dim=dim,
                             correction=correction)
        return out if isinstance(out, tuple) else (out,)
    for e, t in zip(run(ember), run(torch)):
        assert str(e.dtype) == str(t.dtype)
        np.testing.assert_array_equal(to_numpy(e), to_numpy(t))
