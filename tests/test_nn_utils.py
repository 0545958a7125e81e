"""ember.nn.utils against torch.nn.utils: clipping, vector conversion, functional_call."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch


def params_with_grads(lib, seed: int = 0, scale: float = 1.0, dtype: str = "float32"):
    rng = np.random.default_rng(seed)
    params = []
    for shape in [(3, 4), (4,), (2, 2, 2), ()]:
        p = lib.nn.Parameter(lib.tensor(rng.standard_normal(shape)).to(getattr(lib, dtype)))
        p.grad = lib.tensor(rng.standard_normal(shape) * scale).to(getattr(lib, dtype))
        params.append(p)
    no_grad = lib.nn.Parameter(lib.ones(2).to(getattr(lib, dtype)))
    return params + [no_grad]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0)])
def test_clip_grad_norm(norm_type, max_norm, scale, dtype):
    results = []
    for lib in (torch, ember):
        params = params_with_grads(lib, scale=scale, dtype=dtype)
        total = lib.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type,
                                             foreach=True if lib is torch else None)
        results.append((total, [p.grad for p in params]))
    (t_total, t_grads), (e_total, e_grads) = results
    assert_same(e_total, t_total)
    for e, t in zip(e_grads, t_grads):
        if t is None:
            assert e is None
        else:
            assert_same(e, t)


def test_clip_grad_norm_single_tensor_and_empty():
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.tensor([3.0, 4.0]))
        p.grad = lib.tensor([3.0, 4.0])
        total = lib.nn.utils.clip_grad_norm_(p, 1.0)
        assert float(total) == 5.0
        np.testing.assert_allclose(np.asarray(p.grad.tolist()), [0.6, 0.8], rtol=1e-5)
    assert_same(ember.nn.utils.clip_grad_norm_([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0))
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
            lib.nn.utils.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_nonfinite():
    def attempt(lib, error):
        p = lib.nn.Parameter(lib.ones(3))
        p.grad = lib.tensor([1.0, float("nan"), 2.0])
        return lib.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=error), p.grad

    check_raises_like(lambda lib: attempt(lib, True))
    (e_total, e_grad), (t_total, t_grad) = attempt(ember, False), attempt(torch, False)
    assert_same(e_total, t_total)
    assert_same(e_grad, t_grad)


def test_get_total_norm_and_clip_grads_with_norm():
    out = []
    for lib in (torch, ember):
        params = params_with_grads(lib, seed=3)
        grads = [p.grad for p in params if p.grad is not None]
        total = lib.nn.utils.get_total_norm(grads, norm_type=3.0)
        lib.nn.utils.clip_grads_with_norm_(params, 0.7, total)
        out.append((total, grads, lib.nn.utils.get_total_norm([])))
    for e, t in zip(out[1][1], out[0][1]):
        assert_same(e, t)
    assert_same(out[1][0], out[0][0])
    assert_same(out[1][2], out[0][2])


def test_clip_grad_norm_deprecated_alias():
    for lib in (torch, ember):
        with pytest.warns(FutureWarning, match="`torch.nn.utils.clip_grad_norm` is now "
                                               "deprecated"):
            lib.nn.utils.clip_grad_norm(params_with_grads(lib), 1.0)


@pytest.mark.parametrize("clip_value", [0.1, 1, 5.0])
def test_clip_grad_value(clip_value):
    grads = []
    for lib in (torch, ember):
        params = params_with_grads(lib, seed=1)
        assert lib.nn.utils.clip_grad_value_(params, clip_value) is None
        grads.append([p.grad for p in params])
    for e, t in zip(grads[1], grads[0]):
        if t is None:
            assert e is None
        else:
            assert_same(e, t)


def test_parameters_to_vector_and_back():
    out = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Bilinear(4, 2, 2))
        vec = lib.nn.utils.parameters_to_vector(m.parameters())
        assert vec.grad_fn.name() == "CatBackward0"
        (vec * lib.arange(vec.numel()).float()).sum().backward()
        grads = [p.grad for p in m.parameters()]
        lib.nn.utils.vector_to_parameters(lib.arange(vec.numel()).float() / 10, m.parameters())
        out.append((vec, grads, list(m.parameters())))
    (t_vec, t_grads, t_params), (e_vec, e_grads, e_params) = out
    np.testing.assert_array_equal(e_vec.detach().numpy(), t_vec.detach().numpy())
    for e, t in zip(e_grads + e_params, t_grads + t_params):
        assert_same(e, t)
    assert all(isinstance(p, ember.nn.Parameter) for p in e_params)
    check_raises_like(lambda lib: lib.nn.utils.vector_to_parameters(
        [1.0], lib.nn.Linear(1, 1).parameters()))


# ---- functional_call ---------------------------------------------------------------------


def tied_model(lib):
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.Linear(3, 2))
    m.register_buffer("shift", lib.ones(2))
    m.tied = m[0]  # the same Linear under a second name: its weights are tied
    return m


def forward_with_shift(m, x):
    return m[1](m[0](x)) + m.shift


@pytest.mark.parametrize("replace", [
    lambda lib: {"0.weight": lib.ones(3, 3)},
    lambda lib: {"tied.weight": lib.ones(3, 3) * 0.5, "shift": lib.zeros(2)},
    lambda lib: ({"1.bias": lib.full((2,), 2.0)}, {"0.bias": lib.zeros(3)}),
])
@pytest.mark.parametrize("tie_weights", [True, False])
def test_functional_call_matches_torch(replace, tie_weights):
    x = np.random.default_rng(0).standard_normal((4, 3))
    outs = []
    for lib in (torch, ember):
        m = tied_model(lib)
        m.forward = lambda inp, m=m: forward_with_shift(m, inp)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        out = lib.func.functional_call(m, replace(lib), (lib.tensor(x).float(),),
                                       tie_weights=tie_weights)
        if lib is ember:
            # Everything is restored afterwards. (torch 2.13 leaves a module reached under
            # two names holding the replacement, so only ember is checked here.)
            for k, v in m.state_dict().items():
                np.testing.assert_array_equal(v.numpy(), before[k].numpy())
            assert isinstance(m[0].weight, lib.nn.Parameter)
        outs.append(out)
    assert_same(outs[1], outs[0])


def test_functional_call_gradients_with_func_grad():
    x = np.random.default_rng(0).standard_normal((5, 3))
    grads = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 2)
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, inp, m=m, lib=lib):
            return (lib.func.functional_call(m, p, inp) ** 2).sum()

        grads.append(lib.func.grad(loss)(params, lib.tensor(x).float()))
    for k in grads[0]:
        assert_same(grads[1][k], grads[0][k])


def test_stateless_functional_call_deprecated():
    outs = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Linear(2, 2)
        with pytest.warns(FutureWarning, match="`torch.nn.utils.stateless.functional_call` is "
                                               "deprecated"):
            outs.append(lib.nn.utils.stateless.functional_call(
                m, {"weight": lib.ones(2, 2)}, lib.ones(2)))
    assert_same(outs[1], outs[0])


@pytest.mark.parametrize("call", [
    lambda lib, m: lib.func.functional_call(m, {"0.weight": lib.ones(3, 3), "x": lib.ones(1)},
                                            (lib.ones(3),), strict=True),
    lambda lib, m: lib.func.functional_call(m, ({"shift": lib.ones(2)}, {"shift": lib.ones(2)}),
                                            (lib.ones(3),)),
    lambda lib, m: lib.func.functional_call(m, {"0.weight": lib.ones(3, 3),
                                                "tied.weight": lib.zeros(3, 3)}, (lib.ones(3),)),
    lambda lib, m: lib.func.functional_call(m, 3, (lib.ones(3),)),
])
def test_functional_call_errors(call):
    check_raises_like(lambda lib: call(lib, tied_model(lib)))


def test_convert_conv_weight_memory_format_as_torch():
    # every Conv2d/ConvTranspose2d weight in the tree (the module itself included) laid out
    # in the format, the same parameter objects and values; other modules untouched
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Sequential(nn.ConvTranspose2d(3, 2, 2)),
                              nn.Linear(2, 2), nn.Conv3d(1, 2, 1), nn.ConvTranspose3d(2, 1, 2))
        before = [p for p in model.parameters()]
        values = [p.detach().clone() for p in before]
        assert nn.utils.convert_conv2d_weight_memory_format(model, lib.channels_last) is model
        strides = [p.stride() for p in model.parameters()]
        assert nn.utils.convert_conv3d_weight_memory_format(
            model, lib.channels_last_3d) is model
        strides3 = [p.stride() for p in model.parameters()]
        assert all(a is b for a, b in zip(before, model.parameters()))
        assert all(lib.equal(a, b) for a, b in zip(values, model.parameters()))
        single = nn.Conv2d(2, 2, 2)
        nn.utils.convert_conv2d_weight_memory_format(single, lib.channels_last)
        results[lib] = (strides, strides3, single.weight.stride())
    assert results[ember] == results[torch]


def test_skip_init_as_torch():
    # no random number drawn, the module's own class and shapes, torch's refusals
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        linear = lib.nn.utils.skip_init(lib.nn.Linear, 3, 2, bias=False, device="cpu")
        conv = lib.nn.utils.skip_init(lib.nn.Conv2d, 1, 2, 3)
        results[lib] = (type(linear).__name__, tuple(linear.weight.shape), linear.bias,
                        tuple(conv.weight.shape), conv.weight.requires_grad,
                        lib.rand(2).tolist())
    assert results[ember] == results[torch]


def test_skip_init_refusals_as_torch():
    def no_device(lib):
        class NoDevice(lib.nn.Module):
            pass
        return lib.nn.utils.skip_init(NoDevice)

    check_raises_like(no_device)
    check_raises_like(lambda lib: lib.nn.utils.skip_init(3))
    check_raises_like(lambda lib: lib.nn.utils.skip_init(dict))
    check_raises_like(lambda lib: lib.nn.utils.skip_init(lib.nn.Linear, 2, 2, device="cuda"))


@pytest.mark.parametrize("name", ["eye", "dirac"])
def test_deprecated_eye_and_dirac_as_torch(name):
    shape = (2, 3) if name == "eye" else (2, 2, 3)
    results = []
    for lib in (torch, ember):
        with pytest.warns(FutureWarning, match=f"`nn.init.{name}` is now deprecated in favor "
                          f"of `nn.init.{name}_`."):
            out = getattr(lib.nn.init, name)(lib.empty(*shape))
        assert out.tolist() == getattr(lib.nn.init, name + "_")(lib.empty(*shape)).tolist()
        results.append(out.tolist())
    assert results[0] == results[1]
