"""Gradients of the pointwise ops and activations for float16/bfloat16 inputs, bit for bit
against torch's (NOTE [Backward kernels] in ember/_ops/pointwise.py): torch's dedicated
backward kernels (tanh_backward, silu_backward, elu_backward, ...) compute in float32 and round
once, and its composed derivatives (atan2, hypot, sinc, addcdiv, ...) are sequences of
half-precision ops in an order of their own. Also the double-backward nodes of those kernels,
and the forwards whose half-precision values these gradients read (ldexp, rounded division).

Where torch's own bits depend on where an element sits (NOTE [Nan in backward kernels]: a nan
input in its vectorised loop), the inputs leave that case out."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import torch

HALF = ["float16", "bfloat16"]


def _f(lib):
    return lib.nn.functional


# name -> (fn(lib, *inputs), input kinds, whether a nan input's gradient is torch's
# position-dependent one). Kinds: "any" randn * 2, "pos" positive, "unit" inside (-1, 1).
ROWS = {
    "tanh": (lambda lib, x: lib.tanh(x), ("any",), False),
    "tanh_": (lambda lib, x: (x * 1).tanh_(), ("any",), False),
    "tanhshrink": (lambda lib, x: _f(lib).tanhshrink(x), ("any",), False),
    "sigmoid": (lambda lib, x: lib.sigmoid(x), ("any",), False),
    "silu": (lambda lib, x: _f(lib).silu(x), ("any",), False),
    "softplus": (lambda lib, x: _f(lib).softplus(x), ("any",), False),
    "softplus_beta": (lambda lib, x: _f(lib).softplus(x, 2.0, 3.0), ("any",), False),
    "mish": (lambda lib, x: _f(lib).mish(x), ("any",), False),
    "elu": (lambda lib, x: _f(lib).elu(x), ("any",), True),
    "elu_alpha": (lambda lib, x: _f(lib).elu(x, 0.7), ("any",), True),
    "elu_": (lambda lib, x: _f(lib).elu(x * 1, 0.7, inplace=True), ("any",), True),
    "selu": (lambda lib, x: _f(lib).selu(x), ("any",), True),
    "selu_": (lambda lib, x: _f(lib).selu(x * 1, inplace=True), ("any",), True),
    "celu": (lambda lib, x: _f(lib).celu(x, 1.3), ("any",), True),
    "celu_": (lambda lib, x: _f(lib).celu(x * 1, 1.3, inplace=True), ("any",), True),
    "hardswish": (lambda lib, x: _f(lib).hardswish(x), ("any",), True),
    "hardswish_": (lambda lib, x: _f(lib).hardswish(x * 1, inplace=True), ("any",), True),
    "hardsigmoid": (lambda lib, x: _f(lib).hardsigmoid(x), ("any",), False),
    "logsigmoid": (lambda lib, x: _f(lib).logsigmoid(x), ("any",), False),
    "gelu_tanh": (lambda lib, x: _f(lib).gelu(x, approximate="tanh"), ("any",), False),
    "glu": (lambda lib, x: _f(lib).glu(x, 0), ("any",), False),
    "hardtanh": (lambda lib, x: _f(lib).hardtanh(x, -0.5, 0.7), ("any",), True),
    "relu6": (lambda lib, x: _f(lib).relu6(x * 4), ("any",), True),
    "leaky_relu": (lambda lib, x: _f(lib).leaky_relu(x, 0.1), ("any",), False),
    "leaky_relu_": (lambda lib, x: _f(lib).leaky_relu(x * 1, 0.1, inplace=True), ("any",),
                    False),
    "softshrink": (lambda lib, x: _f(lib).softshrink(x, 0.4), ("any",), True),
    "hardshrink": (lambda lib, x: _f(lib).hardshrink(x, 0.4), ("any",), True),
    "threshold": (lambda lib, x: _f(lib).threshold(x, 0.1, 2.0), ("any",), False),
    "exp2": (lambda lib, x: lib.exp2(x), ("any",), False),
    "sinc": (lambda lib, x: lib.sinc(x), ("any",), False),
    "erf": (lambda lib, x: lib.erf(x), ("any",), False),
    "erfinv": (lambda lib, x: lib.erfinv(x), ("unit",), False),
    "log2": (lambda lib, x: lib.log2(x), ("pos",), False),
    "log10": (lambda lib, x: lib.log10(x), ("pos",), False),
    "sinh": (lambda lib, x: lib.sinh(x), ("any",), False),
    "cosh": (lambda lib, x: lib.cosh(x), ("any",), False),
    "asinh": (lambda lib, x: lib.asinh(x), ("any",), False),
    "atanh": (lambda lib, x: lib.atanh(x), ("unit",), False),
    "reciprocal": (lambda lib, x: lib.reciprocal(x), ("any",), False),
    "sqrt": (lambda lib, x: lib.sqrt(x), ("pos",), False),
    "pow_2.5": (lambda lib, x: x ** 2.5, ("pos",), False),
    "pow_3": (lambda lib, x: x ** 3, ("any",), False),
    "rpow": (lambda lib, x: 2.5 ** x, ("any",), False),
    "atan2": (lambda lib, x, y: lib.atan2(x, y), ("any", "any"), False),
    "hypot": (lambda lib, x, y: lib.hypot(x, y), ("any", "any"), False),
    "fmod": (lambda lib, x, y: lib.fmod(x, y), ("any", "any"), False),
    "remainder": (lambda lib, x, y: lib.remainder(x, y), ("any", "any"), False),
    "div": (lambda lib, x, y: x / y, ("any", "any"), False),
    "pow": (lambda lib, x, y: lib.pow(x, y), ("pos", "any"), False),
    "ldexp": (lambda lib, x, y: lib.ldexp(x, y), ("any", "any"), False),
    "lerp": (lambda lib, x, y: lib.lerp(x, y, 0.3), ("any", "any"), False),
    "lerp_tensor": (lambda lib, x, y, w: lib.lerp(x, y, w), ("any", "any", "any"), False),
    "addcmul": (lambda lib, x, y, z: lib.addcmul(x, y, z, value=0.7), ("any",) * 3, False),
    "addcdiv": (lambda lib, x, y, z: lib.addcdiv(x, y, z, value=0.7), ("any",) * 3, False),
    "addcdiv_1": (lambda lib, x, y, z: lib.addcdiv(x, y, z), ("any",) * 3, False),
    "xlogy": (lambda lib, x, y: lib.xlogy(x, y), ("any", "pos"), False),
}
UNARY = [name for name, (_, kinds, _) in ROWS.items() if len(kinds) == 1]
# Kernels that take exp, log1p or tanh (SLEEF's in torch, within an ulp of the correctly rounded
# values ember takes: NOTE [Backward kernels]): where a sum cancels, a near-tie rounds the
# other way in about one half-precision gradient in 10^5.
FUNCTION_KERNELS = {"silu", "softplus", "softplus_beta", "mish", "elu", "elu_alpha", "selu",
                    "celu", "logsigmoid", "gelu_tanh", "glu"}
# torch's half-precision rsqrt rounds the square root to the half type first in its scalar
# loop (the last elements of a tensor, all of a short one) and not in its vectorised loop:
# gradients through it (asinh's, asin's, acosh's) depend on where an element sits, so only
# the exhaustive test below (one long contiguous tensor) checks them
POSITIONAL = {"asinh"}


def _draw(kind: str, rng, shape):
    x = rng.standard_normal(shape) * 2
    if kind == "pos":
        return np.abs(x) + 0.05
    if kind == "unit":
        return np.tanh(x)
    return x


def _same_bits(e, t) -> np.ndarray:
    """Elementwise: the same value and sign (every nan alike), the half values compared as
    float32, which holds each exactly."""
    a = e.detach().to(ember.float32).numpy()
    b = t.detach().to(torch.float32).numpy()
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


def _grads(lib, fn, arrays, dtype, cotangent):
    leaves = [lib.tensor(a).to(getattr(lib, dtype)).requires_grad_() for a in arrays]
    with np.errstate(all="ignore"):
        out = fn(lib, *leaves)
        cot = lib.tensor(cotangent.reshape(tuple(out.shape))).to(getattr(lib, dtype))
        return lib.autograd.grad(out, leaves, cot, allow_unused=True)


def _check_bits(name, dtype, arrays, cotangent, near_ties: int = 0) -> None:
    """ember's gradients are torch's bits, but for at most ``near_ties`` elements, each one
    step of the half type away."""
    fn = ROWS[name][0]
    for k, (e, t) in enumerate(zip(_grads(ember, fn, arrays, dtype, cotangent),
                                   _grads(torch, fn, arrays, dtype, cotangent))):
        assert (e is None) == (t is None)
        if t is None:
            continue
        assert e.dtype == getattr(ember, dtype)
        same = _same_bits(e, t)
        message = (f"{name} {dtype} gradient {k}: {np.count_nonzero(~same)} of {same.size} "
                   f"differ, first at {np.flatnonzero(~same)[:5]}")
        assert np.count_nonzero(~same) <= near_ties, message
        if not same.all():
            steps = (e.detach().view(ember.int16).numpy().astype(np.int32)
                     - t.detach().view(torch.int16).numpy().astype(np.int32))
            assert np.abs(steps[~same]).max() == 1, message


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", [name for name in ROWS if name not in POSITIONAL])
def test_gradients_match_torch_bits(name, dtype):
    # the differential check that found the mismatches: (6, 7) inputs, randn * 2 (positive
    # or inside (-1, 1) where the op needs it), the cotangent cos(arange(n)) in the half type
    rng = np.random.default_rng(sorted(ROWS).index(name))
    kinds = ROWS[name][1]
    shape = (6, 7) if name != "glu" else (6, 8)
    arrays = [_draw(kind, rng, shape) for kind in kinds]
    out_numel = 24 if name == "glu" else 42
    _check_bits(name, dtype, arrays, np.cos(np.arange(out_numel)))


def _every_half_value(dtype: str) -> np.ndarray:
    bits = ember.arange(2 ** 16, dtype=ember.int32).to(ember.int16).view(getattr(ember, dtype))
    return bits.to(ember.float32).numpy()


def _every_value_case(name, dtype):
    """All 2^16 values of the half type (infinities, subnormals, signed zeros) in one
    contiguous tensor, but those whose gradient torch gives by their position: nan where
    NOTE [Nan in backward kernels] says, and for sinh and cosh the magnitudes beyond 88.7
    (torch's vectorised float32 cosh overflows there, its scalar loop does not)."""
    x = _every_half_value(dtype)
    if ROWS[name][2]:
        x = x[~np.isnan(x)]
    if name in ("sinh", "cosh"):
        x = x[~(np.abs(x) > 88.5)]
    if name == "glu":
        x = x.reshape(2, -1)
    return [x], np.cos(np.arange(x.size // (2 if name == "glu" else 1)) * 0.37)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", [name for name in UNARY if name not in FUNCTION_KERNELS])
def test_gradients_of_every_half_value_match_torch_bits(name, dtype):
    _check_bits(name, dtype, *_every_value_case(name, dtype))


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", sorted(FUNCTION_KERNELS))
def test_gradients_of_every_half_value_match_torch_but_near_ties(name, dtype):
    # the kernels that take SLEEF's functions in torch: bit for bit but for at most two of the
    # 2^16 values, one step of the half type away (none on the machine these were learnt on
    # but celu's float16 one)
    _check_bits(name, dtype, *_every_value_case(name, dtype), near_ties=2)


_SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 3.0, -3.0, 0.5, 1e-7,
                     -1e-7, 6e-8, 300.0, -300.0, 6e4, -6e4])


def _with_specials(kinds, rng):
    """Inputs of 4096 elements whose first ones pair the special values with each other."""
    arrays = []
    grid = np.meshgrid(*[_SPECIAL] * len(kinds), indexing="ij")
    for kind, special in zip(kinds, grid):
        x = _draw(kind, rng, 4096) * np.where(rng.random(4096) < 0.2, 30.0, 1.0)
        x[:min(special.size, 4096)] = special.ravel()[:4096]
        arrays.append(x)
    return arrays


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", [name for name in ROWS if name not in UNARY])
def test_gradients_of_several_inputs_with_special_values_match_torch_bits(name, dtype):
    rng = np.random.default_rng(7)
    _check_bits(name, dtype, _with_specials(ROWS[name][1], rng), np.cos(np.arange(4096)))


# float32 and float64 gradients these kernels and formulas give bit for bit (the others read
# NumPy's transcendental functions, within an ulp of torch's: NOTE [Backward kernels])
EXACT_WIDE = ["hardswish", "hardsigmoid", "leaky_relu", "hardtanh", "softshrink", "hardshrink",
              "threshold", "addcdiv", "addcmul", "lerp_tensor"]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", EXACT_WIDE)
def test_wide_gradients_match_torch_bits(name, dtype):
    rng = np.random.default_rng(3)
    kinds = ROWS[name][1]
    arrays = [_draw(kind, rng, 4096) for kind in kinds]
    _check_bits(name, dtype, arrays, np.cos(np.arange(4096)))


# ---- forwards whose half-precision values the gradients read ------------------------------

FORWARDS = {
    "ldexp": lambda lib, x, y: lib.ldexp(x, y),
    "div_floor": lambda lib, x, y: lib.div(x, y, rounding_mode="floor"),
    "div_trunc": lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"),
    "floor_divide": lambda lib, x, y: lib.floor_divide(x, y),
    "sigmoid": lambda lib, x, y: lib.sigmoid(x),
    "threshold": lambda lib, x, y: _f(lib).threshold(x, 0.1, 2.0),
}


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", list(FORWARDS))
def test_forwards_of_every_half_value_match_torch_bits(name, dtype):
    # every half value, and against every other reversed (torch's ldexp rounds 2^y to the half
    # type before it multiplies; its rounded division rounds after each step; its sigmoid
    # takes a float32 exp within an ulp of the correct one; its threshold compares in float32)
    x = _every_half_value(dtype)
    results = []
    for lib in (ember, torch):
        a = lib.tensor(x).to(getattr(lib, dtype))
        with np.errstate(all="ignore"):
            results.append(FORWARDS[name](lib, a, lib.flip(a, [0])))
    assert _same_bits(*results).all()


# ---- the kernels' nodes and second derivatives ---------------------------------------------

DOUBLE = ["tanh", "silu", "softplus_beta", "mish", "elu_alpha", "selu", "celu", "elu_",
          "celu_", "hardswish", "logsigmoid", "glu", "hardtanh", "leaky_relu", "softshrink",
          "hardshrink", "threshold", "atan2", "sinc"]


@pytest.mark.parametrize("dtype", ["float64", "float16"])
@pytest.mark.parametrize("name", DOUBLE)
def test_double_backward_nodes_and_values_match_torch(name, dtype):
    # under create_graph torch's gradient is its kernel's node (TanhBackwardBackward0, ...) or,
    # for silu and mish, the ops it composes then; second derivatives through both inputs
    fn, kinds, _ = ROWS[name]
    rng = np.random.default_rng(5)
    shape = (4, 6)
    arrays = [_draw(kind, rng, shape) for kind in kinds]
    found = {}
    for lib in (torch, ember):
        leaves = [lib.tensor(a).to(getattr(lib, dtype)).requires_grad_() for a in arrays]
        out = fn(lib, *leaves)
        grad = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        grad = grad.to(getattr(lib, dtype)).requires_grad_()
        firsts = lib.autograd.grad(out, leaves, grad, create_graph=True)
        names = [first.grad_fn.name() for first in firsts]
        seconds = lib.autograd.grad(firsts, leaves + [grad], [lib.ones_like(f) for f in firsts],
                                    allow_unused=True)
        found[lib] = names, [None if s is None else s.detach().double().numpy()
                             for s in seconds]
    assert found[ember][0] == found[torch][0]
    for e, t in zip(found[ember][1], found[torch][1]):
        assert (e is None) == (t is None)
        if t is not None and dtype == "float64":
            np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def test_hardsigmoid_double_backward_raises_as_torch():
    # torch's HardsigmoidBackward0 runs hardsigmoid_backward, which it cannot differentiate:
    # the first gradient's node is NotImplemented and backward through it raises
    errors = []
    for lib in (torch, ember):
        x = lib.tensor([-1.0, 0.5, 4.0], dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(_f(lib).hardsigmoid(x), x, lib.ones_like(x),
                                  create_graph=True)
        assert gx.grad_fn.name() == "torch::autograd::NotImplemented"
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(gx.sum(), x)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
@pytest.mark.parametrize("name", ["logsigmoid", "celu", "elu_alpha", "softplus_beta", "glu",
                                  "hardswish", "tanh", "leaky_relu"])
def test_kernel_nodes_save_what_torch_saves(name, dtype):
    # the double-backward nodes keep torch's values under torch's names: log_sigmoid's buffer
    # e^-|x| (in the input's dtype), CELU's kernel scale 1 / float32(alpha), ...
    fn = ROWS[name][0]
    x = np.linspace(-3, 3, 12).reshape(4, 3)
    nodes = {}
    for lib in (torch, ember):
        leaf = lib.tensor(x).to(getattr(lib, dtype)).requires_grad_()
        out = fn(lib, leaf)
        grad = lib.ones(out.shape, dtype=getattr(lib, dtype), requires_grad=True)
        (first,) = lib.autograd.grad(out, leaf, grad, create_graph=True)
        nodes[lib] = first.grad_fn
    names = [attr for attr in dir(nodes[torch]) if attr.startswith("_saved_")]
    assert names
    for attr in names:
        t_value, e_value = getattr(nodes[torch], attr), getattr(nodes[ember], attr)
        if not isinstance(t_value, torch.Tensor):
            assert e_value == t_value, attr
            continue
        assert str(e_value.dtype) == str(t_value.dtype), attr
        # float64's buffer is NumPy's exp, within an ulp of torch's
        np.testing.assert_allclose(e_value.detach().double().numpy(),
                                   t_value.detach().double().numpy(), rtol=4e-16, err_msg=attr)
