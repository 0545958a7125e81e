"""ember.nn normalization (functional and modules) against torch: values, node names,
gradients of inputs, weights and biases, running statistics, gradcheck/gradgradcheck, errors
and reprs."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn.functional as EF
from tests.helpers import assert_same, check_gradcheck, check_op, check_raises_like, torch

TF = torch.nn.functional


def F(lib):
    return TF if lib is torch else EF


def nn(lib):
    return torch.nn if lib is torch else ember.nn


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 4), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=2),
       training=st.booleans(), affine=st.booleans(), momentum=st.sampled_from([0.1, 0.5]),
       eps=st.sampled_from([1e-5, 1e-2]), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 999))
def test_batch_norm_hypothesis(n, c, spatial, training, affine, momentum, eps, dtype, seed):
    def fn(lib, x, w, b):
        rm = lib.linspace(-1, 1, c).to(x.dtype)
        rv = lib.linspace(0.5, 2, c).to(x.dtype)
        out = F(lib).batch_norm(x, rm, rv, w if affine else None, b if affine else None,
                                training, momentum, eps)
        return out, rm, rv
    check_op(fn, [(n, c, *spatial), (c,), (c,)], dtype=dtype, seed=seed)


@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       norm=st.lists(st.integers(1, 4), min_size=1, max_size=2), affine=st.booleans(),
       bias=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 999))
def test_layer_norm_hypothesis(lead, norm, affine, bias, dtype, seed):
    def fn(lib, x, w, b):
        return F(lib).layer_norm(x, norm, w if affine else None,
                                 b if affine and bias else None, 1e-3)
    check_op(fn, [(*lead, *norm), norm, norm], dtype=dtype, seed=seed)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(1, 3), per=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 3), max_size=2), affine=st.booleans(),
       dtype=st.just("float64"), seed=st.integers(0, 999))
def test_group_norm_hypothesis(n, groups, per, spatial, affine, dtype, seed):
    # float64 only: with 2 values a group's input gradient cancels to a few float32 ulps
    # of its terms, and torch's and ember's float32 roundings then differ beyond rtol
    c = groups * per
    if per * int(np.prod(spatial)) == 1:
        return  # one value per group: torch divides 0 by 0 the same, but both are nan
    def fn(lib, x, w, b):
        return F(lib).group_norm(x, groups, w if affine else None, b if affine else None)
    check_op(fn, [(n, c, *spatial), (c,), (c,)], dtype=dtype, seed=seed)


@pytest.mark.parametrize("use_input_stats", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_instance_norm(use_input_stats, dtype):
    def fn(lib, x, w, b):
        rm = lib.linspace(-1, 1, 4).to(x.dtype)
        rv = lib.linspace(0.5, 2, 4).to(x.dtype)
        return F(lib).instance_norm(x, rm, rv, w, b, use_input_stats, 0.3), rm, rv
    check_op(fn, [(2, 4, 3), (4,), (4,)], dtype=dtype)
    check_op(lambda lib, x: F(lib).instance_norm(x), [(2, 4, 3, 2)], dtype=dtype)


@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_and_local_response_norm(eps):
    check_op(lambda lib, x, w: F(lib).rms_norm(x, (3,), w, eps), [(2, 4, 3), (3,)])
    check_op(lambda lib, x: F(lib).rms_norm(x, [4, 3], eps=eps), [(2, 4, 3)], dtype="float64")
    for size in (1, 2, 3, 4):
        check_op(lambda lib, x, size=size: F(lib).local_response_norm(x, size, 0.1, 0.6, 2.0),
                 [(2, 5, 3)])
        check_op(lambda lib, x, size=size: F(lib).local_response_norm(x, size), [(2, 5, 3, 2)])


@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_and_gradgradcheck(training):
    def bn(lib, x, w, b):
        stats = None if training else lib.linspace(-1, 1, 3).double()
        var = None if training else lib.linspace(0.5, 2, 3).double()
        return F(lib).batch_norm(x, stats, var, w, b, training)
    check_gradcheck(bn, [(4, 3, 2), (3,), (3,)])
    check_gradcheck(lambda lib, x, w, b: F(lib).layer_norm(x, (2, 3), w, b),
                    [(2, 2, 3), (2, 3), (2, 3)])
    check_gradcheck(lambda lib, x, w, b: F(lib).group_norm(x, 2, w, b),
                    [(2, 4, 3), (4,), (4,)])
    check_gradcheck(lambda lib, x, w, b: F(lib).instance_norm(x, weight=w, bias=b),
                    [(2, 3, 4), (3,), (3,)])
    check_gradcheck(lambda lib, x, w: F(lib).rms_norm(x, (3,), w), [(2, 3), (3,)])
    check_gradcheck(lambda lib, x: F(lib).local_response_norm(x, 3), [(2, 4, 3)])


def test_double_backward_matches_torch():
    def fn(lib, x, w, b):
        out = F(lib).batch_norm(x, None, None, w, b, True)
        grads = lib.autograd.grad((out ** 3).sum(), (x, w), create_graph=True)
        return grads[0] * 1.5 + grads[1].sum()  # the nodes: torch's AddBackward0 and ours
    check_op(fn, [(4, 3, 2), (3,), (3,)], dtype="float64")

    def fn2(lib, x, w, b):
        out = F(lib).layer_norm(x, (3,), w, b)
        return lib.autograd.grad((out ** 3).sum(), x, create_graph=True)[0] + 0
    check_op(fn2, [(4, 3), (3,), (3,)], dtype="float64")


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (4, 3)), ("BatchNorm1d", (4, 3, 2)),
                                       ("BatchNorm2d", (4, 3, 2, 2)),
                                       ("BatchNorm3d", (2, 3, 2, 1, 2)),
                                       ("SyncBatchNorm", (4, 3, 2)),
                                       ("InstanceNorm1d", (2, 3, 4)),
                                       ("InstanceNorm2d", (2, 3, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"track_running_stats": False},
                                    {"bias": False},
                                    {"affine": True, "track_running_stats": True}])
def test_norm_modules_running_stats(cls, shape, momentum, kwargs):
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(shape) * (i + 1) + i for i in range(3)]
    mods = {lib: getattr(nn(lib), cls)(3, momentum=momentum, **kwargs)
            for lib in (torch, ember)}
    assert repr(mods[ember]) == repr(mods[torch])
    for lib, mod in mods.items():
        for i, data in enumerate(batches):
            if i == 2:
                mod.eval()
            x = lib.tensor(data, dtype=lib.float32, requires_grad=True)
            out = mod(x)
            (out * lib.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
            mod.last = (out, x.grad)
    t_state, e_state = mods[torch].state_dict(), mods[ember].state_dict()
    assert list(e_state) == list(t_state)
    for key in t_state:
        np.testing.assert_allclose(e_state[key].numpy(), t_state[key].numpy(), rtol=1e-5,
                                   atol=1e-5, err_msg=key)
    for e, t in zip(mods[ember].last, mods[torch].last):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    for (name, e), (_, t) in zip(mods[ember].named_parameters(),
                                 mods[torch].named_parameters()):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_reset_running_stats_and_parameters():
    for lib in (torch, ember):
        mod = nn(lib).BatchNorm1d(2)
        mod(lib.tensor([[1.0, 2.0], [3.0, 5.0]]))
        mod.reset_running_stats()
        assert mod.running_mean.tolist() == [0.0, 0.0]
        assert mod.running_var.tolist() == [1.0, 1.0]
        assert int(mod.num_batches_tracked) == 0


@pytest.mark.parametrize("make", [
    lambda lib: nn(lib).LayerNorm((3, 4)),
    lambda lib: nn(lib).LayerNorm(4, eps=1e-3, elementwise_affine=False),
    lambda lib: nn(lib).LayerNorm(4, bias=False),
    lambda lib: nn(lib).GroupNorm(2, 4, affine=False),
    lambda lib: nn(lib).GroupNorm(1, 4),
    lambda lib: nn(lib).GroupNorm(2, 4, bias=False),
    lambda lib: nn(lib).RMSNorm([4]),
    lambda lib: nn(lib).RMSNorm(4, eps=1e-4, elementwise_affine=False),
    lambda lib: nn(lib).LocalResponseNorm(3, k=2.0),
    lambda lib: nn(lib).InstanceNorm3d(4, affine=True),
    lambda lib: nn(lib).BatchNorm2d(4, eps=1e-3, momentum=None),
])
def test_module_repr_state_and_forward(make):
    t_mod, e_mod = make(torch), make(ember)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    shape = (2, 3, 4) if "(3, 4)" in repr(t_mod) else (2, 4, 2, 3, 4)
    if isinstance(t_mod, (torch.nn.LayerNorm, torch.nn.RMSNorm)) and "(3, 4)" not in repr(
            t_mod):
        shape = (2, 3, 4)
    if isinstance(t_mod, torch.nn.BatchNorm2d):
        shape = (2, 4, 2, 3)
    check_op(lambda lib, x: (t_mod if lib is torch else e_mod)(x), [shape])


@pytest.mark.parametrize("call", [
    lambda lib: nn(lib).BatchNorm2d(3)(lib.zeros(2, 3, 4)),
    lambda lib: nn(lib).BatchNorm1d(3)(lib.zeros(1, 3)),
    lambda lib: nn(lib).GroupNorm(3, 4),
    lambda lib: F(lib).group_norm(lib.zeros(2, 4, 3), 3),
    lambda lib: F(lib).layer_norm(lib.zeros(2, 4, 3), (4,)),
    lambda lib: F(lib).layer_norm(lib.zeros(2, 3), (3,), lib.ones(2)),
    lambda lib: F(lib).batch_norm(lib.zeros(2, 3), lib.zeros(3), lib.ones(3), lib.ones(2)),
    lambda lib: F(lib).local_response_norm(lib.zeros(2, 3), 2),
    lambda lib: nn(lib).InstanceNorm1d(3, affine=True)(lib.zeros(2, 4, 5)),
    lambda lib: nn(lib).InstanceNorm2d(3)(lib.zeros(2, 4)),
    lambda lib: F(lib).instance_norm(lib.zeros(2, 3, 1)),
])
def test_errors_match_torch(call):
    check_raises_like(call)


def test_batch_norm_fused_backward_shared_input():
    """Two training-mode batch norms of one input, summed (so one gradient reaches both
    nodes), with different weights and eps: each node's fused first-order backward
    (NOTE [Fused batch norm backward]) must use its own sums."""
    grads = {}
    for lib in (torch, ember):
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32), requires_grad=True)
        w1, w2 = (lib.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
                  for _ in range(2))
        b = lib.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
        F = lib.nn.functional
        y = (F.batch_norm(x, None, None, w1, b, training=True)
             + F.batch_norm(x, None, None, w2, b, training=True, eps=0.5))
        y.backward(lib.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32)))
        grads[lib] = (x.grad, w1.grad, w2.grad, b.grad)
    for e, t in zip(grads[ember], grads[torch]):
        assert_same(e, t)


# ---- layer norm's (rows, cols) kernels -----------------------------------------------------


@pytest.mark.parametrize("offset, dtype", [(0.0, "float32"), (0.0, "float64"),
                                           (1e3, "float64")])
def test_layer_norm_rows_kernel_matches_torch(offset, dtype):
    # a large mean (cancellation in x - mean: float64, as float32 inputs 1e3 apart from their
    # mean carry only 1e-4 of their spread), two normalised dims, a non-contiguous input,
    # and a weight without a gradient (the input formula must not leave its weight gradient
    # to a later call)
    arr = np.random.default_rng(3).standard_normal((6, 5, 4, 3)) + offset
    def fn(lib, x, w, b):
        return F(lib).layer_norm(x.transpose(0, 1) * 2, (4, 3), w, b, 1e-5)
    check_op(fn, [arr.shape, (4, 3), (4, 3)], dtype=dtype, low=offset - 2, high=offset + 2)
    for lib_requires in (False, True):
        outs = []
        for lib in (torch, ember):
            x = lib.tensor(arr, dtype=getattr(lib, dtype), requires_grad=True)
            w = lib.tensor(np.linspace(0.5, 1.5, 12).reshape(4, 3), dtype=getattr(lib, dtype),
                           requires_grad=lib_requires)
            y = F(lib).layer_norm(x, (4, 3), w, None)
            y.backward(lib.tensor(np.cos(arr), dtype=getattr(lib, dtype)))
            outs.append((y, x.grad, w.grad))
        (t_y, t_gx, t_gw), (e_y, e_gx, e_gw) = outs
        assert_same(e_y, t_y)
        assert_same(e_gx, t_gx, what="input gradient")
        if lib_requires:
            assert_same(e_gw, t_gw, what="weight gradient")
        else:
            assert e_gw is None and t_gw is None


def test_layer_norm_inf_and_nan_rows_silently():
    arr = np.random.default_rng(4).standard_normal((3, 4))
    arr[1, 2] = np.inf
    arr[2, 0] = np.nan
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e_y = F(ember).layer_norm(ember.tensor(arr, dtype=ember.float32), (4,))
    assert_same(e_y, F(torch).layer_norm(torch.tensor(arr, dtype=torch.float32), (4,)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 7), (8, 3, 4, 4), (4, 2, 3, 2, 5), (1, 3, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_channel_columns_match_torch(shape, dtype, affine):
    """The channel-column kernels (NOTE [Batch norm as channel columns]): training-mode
    forward, running statistics and every gradient, on inputs whose mean is away from zero
    (far in float64, where the centred sums must not cancel; float32's own rounding of
    x - mean would exceed its tolerance at the same distance, in torch as in ember)."""
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(shape) * 3 + (100 if dtype == "float64" else 2)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        bn = getattr(lib.nn, f"BatchNorm{max(len(shape) - 2, 1)}d")(
            shape[1], affine=affine, dtype=getattr(lib, dtype))
        if affine:
            with lib.no_grad():
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-1, 1)
        t = lib.tensor(x, requires_grad=True)
        out = bn(t)
        out.backward(lib.tensor(g))
        results[lib] = [out, t.grad, bn.running_mean, bn.running_var] + (
            [bn.weight.grad, bn.bias.grad] if affine else [])
    for e, t in zip(results[ember], results[torch]):
        assert_same(e, t)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_half_types_round_once_like_torch(dtype: str, affine: bool) -> None:
    # torch normalises float16/bfloat16 in float32 and rounds the output, mean and rstd once
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32)).astype(np.float32) * 3 + 1
    w, b = rng.standard_normal((2, 32)).astype(np.float32)
    outs = []
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        args = (lib.tensor(w).to(dt), lib.tensor(b).to(dt)) if affine else (None, None)
        outs.append([t.float().numpy() for t in lib.native_layer_norm(
            lib.tensor(x).to(dt), (32,), *args, 1e-5)])
    for t, e in zip(*outs):
        assert t.shape == e.shape
        assert (t == e).all(), f"{int((t != e).sum())} of {t.size} differ"


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm_half_types_compute_in_float32_like_torch(dtype: str, weighted: bool) -> None:
    # torch's rms_norm of a half type runs in float32 (float32's eps by default, the weight
    # included) and rounds once: the same bits and the same final node
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 5)).astype(np.float32) * 2 + 1
    w = rng.standard_normal(5).astype(np.float32)
    outs = []
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        xt = lib.tensor(x).to(dt).requires_grad_()
        y = lib.nn.functional.rms_norm(xt, (5,), lib.tensor(w).to(dt) if weighted else None)
        outs.append((y.detach().float().numpy(), type(y.grad_fn).__name__))
    assert outs[1][1] == outs[0][1]
    assert (outs[1][0] == outs[0][0]).all()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_group_norm_half_types_compute_in_float32_like_torch(dtype: str) -> None:
    # normalised in float32 and rounded once, as torch's: the outputs agree but for the odd
    # value where the two libraries' float32 sums round differently (1 of 640 here, one half
    # ulp); computed in the half type, a third to three quarters of them differed
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 5)).astype(np.float32) * 2 + 1
    outs = [lib.nn.functional.group_norm(lib.tensor(x).to(getattr(lib, dtype)), 2).float()
            .numpy() for lib in (torch, ember)]
    assert (outs[1] != outs[0]).mean() < 0.01
    spacing = np.abs(outs[0]) * (2.0 ** -10 if dtype == "float16" else 2.0 ** -7)
    assert (np.abs(outs[1] - outs[0]) <= spacing + 1e-6).all()


# ---- batch norm and instance norm of float16/bfloat16 (NOTE [Half-precision batch norm]) ----
#
# The data are small multiples of 1/4 (or 1/64), a power-of-two count of them per channel (per
# instance) or of zero mean, so that every float32 sum the two libraries take is exact whatever
# order they add in: torch's vectorised sums (whose order varies with the CPU) and ember's
# must then agree to the bit, which leaves the rest of the algorithm to be compared bit for
# bit.


def _quarters(rng, shape: tuple, zero_mean: bool = False, steps: int = 4, top: int = 8):
    """Multiples of 1/``steps`` in [-top, top] / steps; with ``zero_mean`` each channel's
    values are pairs of opposites (and a 0 for an odd count), for a count that is not a power
    of two."""
    if not zero_mean:
        return rng.integers(-top, top + 1, shape).astype(np.float32) / steps
    moved = (shape[0], *shape[2:], shape[1])
    count = math.prod(moved[:-1])
    half = rng.integers(-top, top + 1, (count // 2, shape[1])).astype(np.float32) / steps
    values = np.concatenate([half, -half, np.zeros((count % 2, shape[1]), np.float32)])
    return np.moveaxis(rng.permuted(values, axis=0).reshape(moved), -1, 1).copy()


def _laid_out(lib, t, layout: str):
    if layout == "channels_last":
        return t.contiguous(memory_format=lib.channels_last if t.ndim == 4 else
                            lib.channels_last_3d)
    if layout == "transposed":  # neither C-ordered nor channels-last
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    return t


def _assert_bits(e, t, what: str) -> None:
    assert repr(e.dtype) == repr(t.dtype), f"{what}: dtype {e.dtype!r} != {t.dtype!r}"
    assert tuple(e.shape) == tuple(t.shape), f"{what}: shape {tuple(e.shape)}"
    ev, tv = e.detach().float().numpy(), t.detach().float().numpy()
    differ = int((ev != tv).sum())
    assert differ == 0, f"{what}: {differ} of {ev.size} values differ"


_HALF_BN_CASES = [("BatchNorm1d", (32, 3)), ("BatchNorm1d", (4, 3, 8)),
                  ("BatchNorm2d", (8, 3, 2, 2)), ("BatchNorm3d", (2, 3, 2, 2, 4))]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mixed", [False, True], ids=["same", "float32_params"])
@pytest.mark.parametrize("cls,shape", _HALF_BN_CASES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_half_types_match_torch_bits(dtype, mixed, cls, shape, momentum):
    """Training (two steps: running statistics, num_batches_tracked, momentum=None's average)
    then evaluation, every output and gradient torch's bits; float32 parameters and running
    statistics (autocast's mixed case) included."""
    rng = np.random.default_rng(5)
    batches = [_quarters(rng, shape) for _ in range(3)]
    cotangents = [_quarters(rng, shape) for _ in range(3)]
    affine = rng.standard_normal((2, shape[1])).astype(np.float32)
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        bn = getattr(lib.nn, cls)(shape[1], momentum=momentum)
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(affine[0]))
            bn.bias.copy_(lib.tensor(affine[1]))
        bn.to(lib.float32 if mixed else dt)
        got = []
        for i, (data, cotangent) in enumerate(zip(batches, cotangents)):
            if i == 2:  # a running mean of quarters too: exact sums of x - mean in backward
                bn.eval()
                with lib.no_grad():
                    bn.running_mean.copy_(lib.tensor(affine[1].round() / 4))
            x = lib.tensor(data).to(dt).requires_grad_()
            bn.zero_grad()
            y = bn(x)
            y.backward(lib.tensor(cotangent).to(dt))
            got += [y, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean.clone(),
                    bn.running_var.clone(), bn.num_batches_tracked.clone()]
            assert type(y.grad_fn).__name__.endswith("NativeBatchNormBackward0")
        results[lib] = got
    names = ["out", "input grad", "weight grad", "bias grad", "running_mean", "running_var",
             "num_batches_tracked"]
    for i, (e, t) in enumerate(zip(results[ember], results[torch])):
        _assert_bits(e, t, f"step {i // len(names)}: {names[i % len(names)]}")


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mixed", [False, True], ids=["same", "float32_params"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layout, grad_layout", [
    ("contiguous", "contiguous"), ("channels_last", "channels_last"),
    ("channels_last", "contiguous"), ("contiguous", "transposed"),
    ("transposed", "contiguous")])
def test_batch_norm_half_types_layouts_match_torch_bits(dtype, mixed, training, layout,
                                                        grad_layout):
    """torch takes other kernels for other layouts (NOTE [Half-precision batch norm]): a dense
    input's forward computes in float32, another's rounds each operation; the vectorised
    backward needs the input and gradient in one dense format. ``F.batch_norm`` with running
    statistics, torch's bits in each combination (the transposed input has 1028 values per
    channel, which bfloat16 rounds to 1024 where torch's per-operation kernel divides)."""
    rng = np.random.default_rng(11)
    shape = (257, 3, 2, 2) if layout == "transposed" else (8, 3, 2, 2)
    data = _quarters(rng, shape, zero_mean=layout == "transposed")
    cotangent = _quarters(rng, shape)
    params = rng.standard_normal((4, 3)).astype(np.float32)
    params[2] = params[2].round() / 4  # quarters: exact sums of x - running_mean in eval
    params[3] = np.abs(params[3]) + 0.5
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        pdt = lib.float32 if mixed else dt
        w, b, mean, var = (lib.tensor(p).to(pdt) for p in params)
        w.requires_grad_()
        b.requires_grad_()
        x = _laid_out(lib, lib.tensor(data).to(dt), layout).requires_grad_()
        y = lib.nn.functional.batch_norm(x, mean, var, w, b, training, 0.3)
        y.backward(_laid_out(lib, lib.tensor(cotangent).to(dt), grad_layout))
        saved = lib.native_batch_norm(x.detach(), w.detach(), b.detach(), None, None, True,
                                      0.1, 1e-5)
        results[lib] = [y, x.grad, w.grad, b.grad, mean, var, *saved]
    names = ["out", "input grad", "weight grad", "bias grad", "running_mean", "running_var",
             "native out", "save_mean", "save_invstd"]
    for name, e, t in zip(names, results[ember], results[torch]):
        _assert_bits(e, t, name)
        assert e.stride() == t.stride(), f"{name}: strides {e.stride()} != {t.stride()}"


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mixed", [False, True], ids=["same", "float32_params"])
@pytest.mark.parametrize("form", ["plain", "affine", "running_stats", "eval_stats"])
def test_instance_norm_half_types_match_torch_bits(dtype, mixed, form):
    """``F.instance_norm`` (batch norm of the input seen as one sample): output, input,
    weight and bias gradients, and the per-sample running statistics averaged over the
    batch, torch's bits."""
    rng = np.random.default_rng(7)
    shape = (2, 3, 4, 8)
    data, cotangent = _quarters(rng, shape), _quarters(rng, shape)
    params = rng.standard_normal((4, 3)).astype(np.float32)
    params[2] = params[2].round() / 4  # quarters: exact sums of x - running_mean in eval
    params[3] = np.abs(params[3]) + 0.5
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        pdt = lib.float32 if mixed else dt
        w, b, mean, var = (lib.tensor(p).to(pdt) for p in params)
        w.requires_grad_()
        b.requires_grad_()
        x = lib.tensor(data).to(dt).requires_grad_()
        F = lib.nn.functional
        if form == "plain":
            y = F.instance_norm(x)
        elif form == "affine":
            y = F.instance_norm(x, weight=w, bias=b)
        else:
            y = F.instance_norm(x, mean, var, w, b, use_input_stats=form == "running_stats",
                                momentum=0.3)
        y.backward(lib.tensor(cotangent).to(dt))
        results[lib] = [y, x.grad] + ([w.grad, b.grad] if form != "plain" else []) + (
            [mean, var] if form != "affine" else [])
    for i, (e, t) in enumerate(zip(results[ember], results[torch])):
        _assert_bits(e, t, f"result {i}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_batch_norm_half_types_random_data_near_torch(dtype):
    """On arbitrary data the float32 sums of the two libraries round differently now and
    then (NOTE [Half-precision batch norm]): the half-type results still agree but for a
    rare value one ulp away; computed in the half type, most of them differed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 5, 5)).astype(np.float32) * 3 + 2
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        bn = lib.nn.BatchNorm2d(4).to(dt)
        xt = lib.tensor(x).to(dt).requires_grad_()
        y = bn(xt)
        y.backward(lib.tensor(g).to(dt))
        bn.eval()
        results[lib] = [y, xt.grad, bn.weight.grad, bn.bias.grad, bn.running_mean,
                        bn.running_var, bn(xt)]
    ulp = 2.0 ** (-10 if dtype == "float16" else -7)
    for e, t in zip(results[ember], results[torch]):
        ev, tv = e.detach().float().numpy(), t.detach().float().numpy()
        assert (ev != tv).mean() < 0.002
        assert (np.abs(ev - tv) <= np.abs(tv) * ulp + 1e-6).all()


@pytest.mark.parametrize("combo", [
    ("float32", "float32", "half", "float32"), ("half", "float32", "half", "half"),
    ("float64", None, None, None), (None, None, "float64", "float64"),
    ("half", None, "float32", "float32"), ("float32", "half", None, None)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_half_types_mixed_dtype_errors(combo, training):
    """Parameters and running statistics of a half-type input: all of its dtype or all
    float32, decided by the first one given; torch's errors otherwise."""
    def call(lib):
        def make(name):
            dt = {"half": lib.float16, "float32": lib.float32, "float64": lib.float64}[name]
            return lib.ones(3, dtype=dt)
        w, b, mean, var = (None if name is None else make(name) for name in combo)
        if not training and mean is None:
            mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        return F(lib).batch_norm(lib.ones(4, 3, dtype=lib.float16), mean, var, w, b,
                                 training)
    check_raises_like(call)


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mixed", [False, True], ids=["same", "float32_params"])
def test_batch_norm_half_types_fused_multiply_add_like_torch(dtype, mixed):
    """torch's vectorised kernels round ``x * alpha + beta`` and ``(grad - mean) - centred *
    k`` once (a fused multiply-add), which changes a rounding to the half type now and then:
    many distinct values show it (multiples of 1/64 of zero mean, 1024 per channel: the sums
    stay exact)."""
    rng = np.random.default_rng(3)
    shape = (16, 64, 8, 8)
    data = _quarters(rng, shape, zero_mean=True, steps=64, top=127)
    cotangent = _quarters(rng, shape)
    params = rng.standard_normal((2, 64)).astype(np.float32)
    results = {}
    for lib in (torch, ember):
        dt = getattr(lib, dtype)
        w, b = (lib.tensor(p).to(lib.float32 if mixed else dt).requires_grad_()
                for p in params)
        x = lib.tensor(data).to(dt).requires_grad_()
        y = lib.nn.functional.batch_norm(x, None, None, w, b, True)
        y.backward(lib.tensor(cotangent).to(dt))
        results[lib] = [y, x.grad]
    for name, e, t in zip(["out", "input grad"], results[ember], results[torch]):
        _assert_bits(e, t, name)


_BN_STAT_ERRORS = [
    # (input shape, running_mean, running_var, weight size, training)
    ((4, 3), 3, None, None, True),
    ((4, 3), None, 3, None, True),
    ((4, 3), 3, None, None, False),
    ((4, 3), None, 3, None, False),
    ((4, 3), None, None, None, False),
    ((4, 3), None, 3, 5, False),
    ((4, 3), 3, None, 5, True),
    ((4, 3), 5, None, None, True),
    ((3,), 3, None, None, True),
    ((3,), None, None, None, True),
    ((3,), None, None, None, False),
    ((3,), None, None, 3, True),
]


@pytest.mark.parametrize("shape,mean,var,weight,training", _BN_STAT_ERRORS)
def test_batch_norm_running_stat_errors_as_torch(shape, mean, var, weight, training):
    """torch's checks in its order: each running statistic's size (or, in evaluation, its
    absence), the weight's size, the input's dims, then a lone running statistic."""
    def call(lib):
        return lib.nn.functional.batch_norm(
            lib.ones(shape), None if mean is None else lib.zeros(mean),
            None if var is None else lib.ones(var),
            None if weight is None else lib.ones(weight), training=training)
    check_raises_like(call)


@pytest.mark.parametrize("mean,var,training", [(3, None, True), (None, 3, False)])
def test_native_batch_norm_lone_running_stat_as_torch(mean, var, training):
    def call(lib):
        return lib.native_batch_norm(lib.ones(4, 3), None, None,
                                     None if mean is None else lib.zeros(mean),
                                     None if var is None else lib.ones(var), training, 0.1,
                                     1e-5)
    check_raises_like(call)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2, 2)])
def test_batch_norm_empty_batch_keeps_running_stats_as_torch(shape):
    """An empty batch in training leaves the running statistics as they were (the batch
    counter still moves) and gives zero affine gradients, without a NumPy warning."""
    got = {}
    for lib in (torch, ember):
        bn = (lib.nn.BatchNorm1d if len(shape) == 2 else lib.nn.BatchNorm2d)(3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = bn(lib.ones(shape))
        (y * 2).sum().backward()
        got[lib] = (y, bn.running_mean, bn.running_var, bn.num_batches_tracked,
                    bn.weight.grad, bn.bias.grad)
    for e, t in zip(got[ember], got[torch]):
        assert_same(e, t)


def test_instance_norm_empty_batch_running_stats_as_torch():
    # torch averages no per-sample statistics: nan
    got = {}
    for lib in (torch, ember):
        norm = lib.nn.InstanceNorm1d(3, track_running_stats=True)
        y = norm(lib.ones(0, 3, 4))
        got[lib] = (y, norm.running_mean, norm.running_var)
    for e, t in zip(got[ember], got[torch]):
        assert_same(e, t)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 4, 3), 3),
    lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 3), [3.0]),
    lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 3), (1, 3.5)),
    lambda lib: lib.nn.functional.layer_norm(lib.ones(2, 3), None),
    lambda lib: lib.layer_norm(lib.ones(2, 3), 3),
    lambda lib: lib.native_layer_norm(lib.ones(2, 3), 3, None, None, 1e-5),
    lambda lib: lib.nn.functional.rms_norm(lib.ones(2, 4, 3), 3),
    lambda lib: lib.nn.functional.rms_norm(lib.ones(2, 3), [3.0]),
    lambda lib: lib.nn.functional.rms_norm(lib.ones(2, 4, 3), (2, 3)),
    lambda lib: lib.nn.functional.rms_norm(lib.ones(2, 4, 3), (4,)),
])
def test_normalized_shape_parsed_as_torch(call):
    # torch's normalized_shape is a tuple of ints (an int is refused: ember normalised over
    # the last dim), and rms_norm words its shape error '[*4]' where layer_norm's is '[*, 4]'
    check_raises_like(call)
