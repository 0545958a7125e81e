"""Autocast (ember.autocast, ember.amp.autocast, ember.cpu.amp.autocast) and GradScaler
against torch: output dtypes of the listed ops, values within bfloat16 tolerance,
gradients through the casts, nesting and state functions, and loss scaling step by step."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import ember
from ember._ops import registry
from tests.helpers import assert_same, check_raises_like, recording_compared, torch


def _autocast(lib, *args, **kwargs):
    return lib.autocast(*args, **kwargs)


def _linear_relu_mse(lib, x_np, y_np):
    lib.manual_seed(0)
    lin = lib.nn.Linear(4, 8)
    x = lib.tensor(x_np, requires_grad=True)
    with _autocast(lib, "cpu", dtype=lib.bfloat16):
        h = lin(x)
        a = lib.relu(h)
        loss = lib.nn.functional.mse_loss(a, lib.tensor(y_np))
    loss.backward()
    return [h, a, loss, x.grad, lin.weight.grad, lin.bias.grad]


def test_linear_relu_mse_dtypes_values_and_grads_match_torch():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((5, 4)).astype(np.float32)
    y_np = rng.standard_normal((5, 8)).astype(np.float32)
    t_out = _linear_relu_mse(torch, x_np, y_np)
    e_out = _linear_relu_mse(ember, x_np, y_np)
    for what, e, t in zip(["linear", "relu", "mse_loss", "x.grad", "weight.grad",
                           "bias.grad"], e_out, t_out):
        # float32 results computed from bfloat16 values: bfloat16's tolerance
        assert_same(e, t, rtol=1.6e-2, atol=1e-5, what=what)
    assert e_out[0].grad_fn.name() == t_out[0].grad_fn.name() == "AddmmBackward0"


def test_mlp_forward_under_bfloat16_autocast_matches_torch():
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((6, 4)).astype(np.float32)
    outs = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        mlp = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 3))
        with _autocast(lib, "cpu", dtype=lib.bfloat16):
            hs, h = [], lib.tensor(x_np)
            for layer in mlp:
                h = layer(h)
                hs.append(h)
        outs[lib] = hs
    for e, t in zip(outs[ember], outs[torch]):
        assert_same(e, t)


# (name, fn, input dtypes): ops on torch's lists and off them, one row each
OPS = [
    ("mm", lambda lib, a, b: lib.mm(a, b), ("float32", "float32")),
    ("mm float64 stays", lambda lib, a, b: lib.mm(a, b), ("float64", "float64")),
    ("mm bfloat16", lambda lib, a, b: lib.mm(a, b), ("bfloat16", "bfloat16")),
    ("bmm", lambda lib, a, b: lib.bmm(a.reshape(1, 3, 3), b.reshape(1, 3, 3)),
     ("float32", "float32")),
    ("baddbmm", lambda lib, a, b: lib.baddbmm(a, a.reshape(1, 3, 3), b.reshape(1, 3, 3)),
     ("float32", "float32")),
    ("addmm", lambda lib, a, b: lib.addmm(a, a, b), ("float32", "float32")),
    ("matmul", lambda lib, a, b: a @ b, ("float32", "float32")),
    ("conv2d", lambda lib, a, b: lib.nn.functional.conv2d(a.reshape(1, 1, 3, 3),
                                                         b.reshape(1, 1, 3, 3)),
     ("float32", "float32")),
    ("mse_loss", lambda lib, a, b: lib.nn.functional.mse_loss(a, b), ("bfloat16", "bfloat16")),
    ("prod", lambda lib, a, b: lib.prod(a), ("bfloat16", "bfloat16")),
    ("binary_cross_entropy_with_logits",
     lambda lib, a, b: lib.nn.functional.binary_cross_entropy_with_logits(a, b.sigmoid()),
     ("bfloat16", "bfloat16")),
    ("cat promotes", lambda lib, a, b: lib.cat([a, b]), ("bfloat16", "float32")),
    ("stack", lambda lib, a, b: lib.stack([a, b]), ("bfloat16", "bfloat16")),
    ("add not listed", lambda lib, a, b: a + b, ("bfloat16", "bfloat16")),
    ("relu not listed", lambda lib, a, b: lib.relu(a), ("float32", "float32")),
    ("exp not listed", lambda lib, a, b: a.exp(), ("bfloat16", "bfloat16")),
]


@pytest.mark.parametrize("name,fn,dtypes", OPS)
def test_op_lists_match_torch(name, fn, dtypes):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 3)).astype(np.float32) for _ in dtypes]
    results = {}
    for lib in (torch, ember):
        args = [lib.tensor(a).to(getattr(lib, d)).requires_grad_() for a, d in
                zip(arrays, dtypes)]
        with _autocast(lib, "cpu"):
            out = fn(lib, *args)
        out.float().sum().backward()
        results[lib] = (out, [a.grad for a in args])
    (e_out, e_grads), (t_out, t_grads) = results[ember], results[torch]
    assert_same(e_out, t_out, rtol=1.6e-2, atol=1e-2, what=name)
    for e, t in zip(e_grads, t_grads):
        if t is None:  # an argument the op does not use
            assert e is None
        else:
            assert_same(e, t, rtol=1.6e-2, atol=1e-2, what=name + " grad")


def test_cast_of_a_weight_is_cached_once_per_region_as_in_torch():
    for lib in (torch, ember):
        a = lib.ones(2, 2, requires_grad=True)
        with _autocast(lib, "cpu"):
            y = lib.mm(a, a)
        (first, _), (second, _) = y.grad_fn.next_functions
        assert first.name() == "ToCopyBackward0"
        assert first is second
        with _autocast(lib, "cpu", cache_enabled=False):
            y = lib.mm(a, a)
        (first, _), (second, _) = y.grad_fn.next_functions
        assert first is not second


def test_nesting_enabled_and_dtype_restore_like_torch():
    seen = {}
    for lib in (torch, ember):
        is_on, get_dtype = lib.is_autocast_enabled, lib.get_autocast_dtype
        a = lib.ones(2, 2)
        log = [is_on("cpu"), is_on()]
        with _autocast(lib, "cpu"):
            log += [is_on("cpu"), lib.mm(a, a).dtype]
            with _autocast(lib, "cpu", enabled=False):
                log += [is_on("cpu"), lib.mm(a, a).dtype]
            with _autocast(lib, "cpu", dtype=lib.float16):
                log += [get_dtype("cpu"), lib.mm(a, a).dtype]
            log += [get_dtype("cpu"), lib.mm(a, a).dtype]
        log += [is_on("cpu"), lib.mm(a, a).dtype, get_dtype("cpu"), get_dtype("cuda")]
        seen[lib] = [repr(v) for v in log]
    assert seen[ember] == seen[torch]
    assert registry._modes == ()


def test_decorator_and_namespaces():
    @ember.amp.autocast("cpu")
    def f(a):
        return ember.mm(a, a)

    assert f(ember.ones(2, 2)).dtype is ember.bfloat16
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        ctx = ember.cpu.amp.autocast()
    with ctx:
        assert ember.is_autocast_enabled("cpu")
    assert issubclass(ember.cpu.amp.autocast, ember.amp.autocast)
    assert ember.amp.autocast is ember.autocast
    assert repr(ember.amp.autocast) == repr(torch.amp.autocast).replace("torch", "ember")
    assert ember.amp.is_autocast_available("cpu") == torch.amp.is_autocast_available("cpu")


def test_warnings_and_errors_match_torch():
    for kwargs in (dict(device_type="cpu", dtype="float32"), dict(device_type="cuda")):
        texts = {}
        for lib in (torch, ember):
            kw = dict(kwargs)
            if "dtype" in kw:
                kw["dtype"] = getattr(lib, kw["dtype"])
            with pytest.warns(UserWarning) as record:
                with _autocast(lib, **kw):
                    on = lib.is_autocast_enabled(kw["device_type"])
            texts[lib] = (str(record[0].message), on)
        assert texts[ember] == texts[torch]
    check_raises_like(lambda lib: _autocast(lib, 1))
    check_raises_like(lambda lib: _autocast(lib, "foo"))
    check_raises_like(lambda lib: lib.get_autocast_dtype("meta"))


# The state functions take no tensor, so torch's function mode cannot see them being
# compared: the test names them (NOTE [Compared names] in tests/helpers.py).
STATE_FUNCTIONS = (
    "autocast_decrement_nesting", "autocast_increment_nesting", "clear_autocast_cache",
    "get_autocast_cpu_dtype", "get_autocast_dtype", "is_autocast_cache_enabled",
    "is_autocast_cpu_enabled", "is_autocast_enabled", "set_autocast_cache_enabled",
    "set_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_dtype",
    "set_autocast_enabled",
)


def test_state_functions_match_torch():
    seen = {}
    with recording_compared(*(f"torch.{name}" for name in STATE_FUNCTIONS)):
        for lib in (torch, ember):
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                lib.set_autocast_cpu_enabled(True)
                on = lib.is_autocast_cpu_enabled()
                lib.set_autocast_cpu_dtype(lib.float16)
                dtype = lib.get_autocast_cpu_dtype()
                lib.set_autocast_enabled("cpu", False)
                lib.set_autocast_dtype("cpu", lib.bfloat16)
                dtype_now = lib.get_autocast_dtype("cpu")
            nest = [lib.autocast_increment_nesting(), lib.autocast_decrement_nesting()]
            lib.set_autocast_cache_enabled(False)
            cache = lib.is_autocast_cache_enabled()
            lib.set_autocast_cache_enabled(True)
            lib.clear_autocast_cache()
            seen[lib] = (on, repr(dtype), repr(dtype_now), nest, cache,
                         lib.is_autocast_enabled("cpu"),
                         [type(w.category).__name__ for w in record],
                         [str(w.message).split(" (Triggered")[0] for w in record])
        assert seen[ember] == seen[torch]
    assert registry._modes == ()


def test_autocast_is_thread_local():
    seen = []
    with ember.autocast("cpu"):
        thread = threading.Thread(
            target=lambda: seen.append(ember.mm(ember.ones(2, 2), ember.ones(2, 2)).dtype))
        thread.start()
        thread.join()
        assert ember.mm(ember.ones(2, 2), ember.ones(2, 2)).dtype is ember.bfloat16
    assert seen == [ember.float32]


# ---- GradScaler ----------------------------------------------------------------------------


def _scaled_training(lib, make_scaler, dtype="float32", steps=5):
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 2).to(getattr(lib, dtype))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = make_scaler(lib)
    x = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)).to(model.weight.dtype)
    log = []
    for i in range(steps):
        opt.zero_grad()
        loss = model(x).sum()
        if i == 1:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        if i == 3:
            scaler.unscale_(opt)
            log.append(model.weight.grad.float().numpy().copy())
        scaler.step(opt)
        scaler.update()
        log.append((scaler.get_scale(), scaler.state_dict()))
        log.append(model.weight.detach().float().numpy().copy())
    return log


def _assert_logs_equal(e_log, t_log):
    assert len(e_log) == len(t_log)
    for e, t in zip(e_log, t_log):
        if isinstance(e, tuple):
            assert e == t
        else:
            np.testing.assert_allclose(e, t, rtol=1.6e-2, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_grad_scaler_steps_match_torch(dtype):
    def make(lib):
        return lib.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    _assert_logs_equal(_scaled_training(ember, make, dtype), _scaled_training(torch, make, dtype))


def test_cpu_grad_scaler_and_disabled_scaler_match_torch():
    def cpu(lib):
        with pytest.warns(FutureWarning):
            return lib.cpu.amp.GradScaler(init_scale=4.0, growth_interval=1)
    _assert_logs_equal(_scaled_training(ember, cpu), _scaled_training(torch, cpu))

    def off(lib):
        return lib.amp.GradScaler("cpu", enabled=False)
    _assert_logs_equal(_scaled_training(ember, off), _scaled_training(torch, off))
    with pytest.warns(UserWarning) as t_rec:
        t_default = torch.amp.GradScaler()
    with pytest.warns(UserWarning) as e_rec:
        e_default = ember.amp.GradScaler()
    assert str(e_rec[0].message) == str(t_rec[0].message)
    assert e_default.is_enabled() == t_default.is_enabled()


def test_grad_scaler_state_dict_and_errors_match_torch():
    state = {"scale": 8.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 5,
             "_growth_tracker": 2}
    seen = {}
    for lib in (torch, ember):
        s = lib.amp.GradScaler("cpu")
        before = s.state_dict()
        s.load_state_dict(state)
        s.scale(lib.ones(1))
        s.update(new_scale=2.0)
        seen[lib] = (before, s.state_dict(), s.get_scale(), s.get_growth_factor(),
                     s.get_backoff_factor(), s.get_growth_interval(),
                     [repr(v) for v in s.scale([lib.ones(1), (lib.ones(2),)])[1]])
    assert seen[ember] == seen[torch]

    def fresh(lib):
        lib.manual_seed(0)
        p = lib.nn.Parameter(lib.ones(2))
        return lib.amp.GradScaler("cpu"), lib.optim.SGD([p], lr=0.1), p

    def twice_unscaled(lib):
        s, opt, p = fresh(lib)
        s.scale(p.sum()).backward()
        s.unscale_(opt)
        s.unscale_(opt)

    def after_step(lib):
        s, opt, p = fresh(lib)
        s.scale(p.sum()).backward()
        s.step(opt)
        s.unscale_(opt)

    def step_twice(lib):
        s, opt, p = fresh(lib)
        s.scale(p.sum()).backward()
        s.step(opt)
        s.step(opt)

    def fp16_grads(lib):
        p = lib.nn.Parameter(lib.ones(2, dtype=lib.float16))
        s, opt = lib.amp.GradScaler("cpu"), lib.optim.SGD([p], lr=0.1)
        s.scale(p.sum()).backward()
        s.unscale_(opt)

    for case in (twice_unscaled, after_step, step_twice, fp16_grads,
                 lambda lib: lib.amp.GradScaler("cpu").update(),
                 lambda lib: lib.amp.GradScaler("cpu").load_state_dict({}),
                 lambda lib: lib.amp.GradScaler("cpu").scale(3.0)):
        check_raises_like(case)


@pytest.mark.parametrize("label,device", [("gpu", "cuda"), ("ipu", "ipu"), ("xla", "xla")])
def test_deprecated_device_state_functions_match_torch(label, device):
    names = [f"get_autocast_{label}_dtype", f"set_autocast_{label}_dtype"]
    if label != "gpu":  # torch has no is/set_autocast_gpu_enabled
        names += [f"is_autocast_{label}_enabled", f"set_autocast_{label}_enabled"]
    seen = {}
    with recording_compared(*(f"torch.{name}" for name in names)):
        for lib in (torch, ember):
            before = (lib.get_autocast_dtype(device), lib.is_autocast_enabled(device))
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                first = getattr(lib, f"get_autocast_{label}_dtype")()
                getattr(lib, f"set_autocast_{label}_dtype")(lib.float64)
                after = lib.get_autocast_dtype(device)
                flags = []
                if label != "gpu":
                    getattr(lib, f"set_autocast_{label}_enabled")(True)
                    flags = [getattr(lib, f"is_autocast_{label}_enabled")(),
                             lib.is_autocast_enabled(device)]
            lib.set_autocast_dtype(device, before[0])
            lib.set_autocast_enabled(device, before[1])
            seen[lib] = (repr(first), repr(after), flags,
                         [type(w.category).__name__ for w in record],
                         [str(w.message).split(" (Triggered")[0] for w in record])
        assert seen[ember] == seen[torch]
    assert not hasattr(ember, "is_autocast_gpu_enabled")


def _custom_function(lib, cast):
    class Product(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast)
        def forward(ctx, x, w, extra):
            ctx.save_for_backward(x, w)
            ctx.seen = (x.dtype, w.dtype, extra["t"][0].dtype, extra["i"].dtype,
                        lib.is_autocast_enabled("cpu"))
            return x @ w

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            ctx.seen_backward = (lib.is_autocast_enabled("cpu"), g.dtype)
            return g @ w.t(), x.t() @ g, None

    return Product


@pytest.mark.parametrize("enabled", [False, True])
@pytest.mark.parametrize("cast", [None, "float32", "bfloat16"])
def test_custom_fwd_and_bwd_as_torch(cast, enabled):
    # custom_fwd casts floating-point tensor arguments (in containers too, not integers) and
    # turns autocast off when given a dtype inside a region, else runs in the region's
    # state; custom_bwd runs the backward in the forward's state
    seen = {}
    for lib in (torch, ember):
        product = _custom_function(lib, None if cast is None else getattr(lib, cast))
        x = lib.ones(2, 3, requires_grad=True)
        w = lib.full((3, 2), 0.5, requires_grad=True)
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=enabled):
            out = product.apply(x, w, {"t": [lib.ones(1)], "i": lib.ones(1, dtype=lib.long)})
        out.float().sum().backward()
        seen[lib] = (str(out.dtype), [str(v) for v in out.grad_fn.seen],
                     [str(v) for v in out.grad_fn.seen_backward], x.grad.tolist(),
                     w.grad.tolist())
    assert seen[ember] == seen[torch]


def test_custom_fwd_refuses_a_device_type_that_is_no_string():
    check_raises_like(lambda lib: lib.amp.custom_fwd(device_type=None))
    check_raises_like(lambda lib: lib.amp.custom_bwd(device_type=3))
