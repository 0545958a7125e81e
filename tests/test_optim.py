"""ember.optim against torch.optim: every optimizer with each of its options in turn, on
one small problem, 20 steps from the same state: same parameters, same ``state_dict()``
(keys, nesting, value types, values), and state dicts exchanged both ways mid-run; each with
its defaults on the same ember.nn / torch.nn MLP; LBFGS on Rosenbrock and on that MLP."""
from __future__ import annotations

import copy
import importlib
import warnings

import numpy as np
import pytest

import ember
import ember.optim
from tests.helpers import (
    TOLERANCES,
    assert_raises_like,
    check_raises_like,
    records_compared,
    to_numpy,
    torch,
    torch_or_refused,
)

# float64 runs follow torch's arithmetic order: they agree far below torch.testing's 1e-7.
TOL64 = (1e-12, 1e-12)

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "foreach": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "fused": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.4)}),
    ("Adam", {"lr": 0.05, "foreach": True}),
    ("Adam", {"lr": 0.05, "fused": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.3}),
    ("Adamax", {"lr": 0.05}),
    ("Adamax", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.05, "maximize": True}),
    ("NAdam", {"lr": 0.05}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.05, "momentum_decay": 0.1, "maximize": True}),
    ("RAdam", {"lr": 0.05}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.05, "betas": (0.9, 0.5), "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "maximize": True}),
    ("Adagrad", {"lr": 0.05}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.1}),
    ("Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.2, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.05, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("ASGD", {"lr": 0.05}),
    ("ASGD", {"lr": 0.05, "t0": 5, "lambd": 0.01}),
    ("ASGD", {"lr": 0.05, "t0": 5, "weight_decay": 0.1, "maximize": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"lr": 0.01, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05)}),
    ("Rprop", {"lr": 0.01, "maximize": True}),
]


def _ids(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def make_problem(lib, dtype):
    """Parameters (a matrix, a bias-free matrix, a vector, a 0-d scale) and a fixed loss."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((3, 2)),
              rng.standard_normal(3), np.array(0.7)]
    data = rng.standard_normal((5, 4))
    params = [lib.tensor(a, dtype=getattr(lib, dtype)).requires_grad_() for a in arrays]

    def loss_fn(maximize=False):
        w1, w2, b, s = params
        x = lib.tensor(data, dtype=w1.dtype)
        out = (lib.tanh(x @ w1 + b) * s) @ w2
        loss = ((out - 0.5) ** 2).mean() + 0.01 * (w1 ** 4).sum()
        return -loss if maximize else loss

    return params, loss_fn


def run_steps(lib, opt, params, loss_fn, n, maximize=False):
    for _ in range(n):
        opt.zero_grad()
        loss_fn(maximize).backward()
        opt.step()


def tolerance(dtype):
    return TOL64 if dtype == "float64" else TOLERANCES[dtype]


def assert_params(e_params, t_params, dtype, tol=None):
    rtol, atol = tol or tolerance(dtype)
    for i, (e, t) in enumerate(zip(e_params, t_params)):
        assert repr(e.dtype) == repr(t.dtype)
        np.testing.assert_allclose(e.detach()._data, t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"param {i}")


def assert_same_state(e, t, dtype, path="state_dict", tol=None):
    """Same nesting, keys, value types and values (tensors: dtype, shape, values)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f"{path}: {type(e).__name__} is not a Tensor"
        assert repr(e.dtype) == repr(t.dtype), f"{path}: {e.dtype} != {t.dtype}"
        assert tuple(e.shape) == tuple(t.shape), path
        rtol, atol = tol or tolerance(dtype)
        np.testing.assert_allclose(e._data, t.numpy(), rtol=rtol, atol=atol, err_msg=path)
    elif isinstance(t, dict):
        assert isinstance(e, dict) and list(e.keys()) == list(t.keys()), \
            f"{path}: keys {list(e)} != {list(t)}"
        for k in t:
            assert_same_state(e[k], t[k], dtype, f"{path}[{k!r}]", tol)
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), path
        for i, (a, b) in enumerate(zip(e, t)):
            assert_same_state(a, b, dtype, f"{path}[{i}]", tol)
    elif isinstance(t, float) and dtype == "float32":
        assert type(e) is type(t), path
        np.testing.assert_allclose(e, t, rtol=1e-5, err_msg=path)
    else:
        assert type(e) is type(t) and e == t, f"{path}: {e!r} != {t!r}"


def to_ember(value):
    if isinstance(value, torch.Tensor):
        return ember.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: to_ember(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_ember(v) for v in value)
    return value


def to_torch(value):
    if isinstance(value, ember.Tensor):
        return torch.from_numpy(np.array(value._data))
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v) for v in value)
    return value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
@records_compared()
def test_matches_torch(case, dtype):
    name, kwargs = case
    maximize = kwargs.get("maximize", False)
    t_params, t_loss = make_problem(torch, dtype)
    e_params, e_loss = make_problem(ember, dtype)
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    e_opt = getattr(ember.optim, name)(e_params, **kwargs)
    run_steps(torch, t_opt, t_params, t_loss, 20, maximize)
    run_steps(ember, e_opt, e_params, e_loss, 20, maximize)
    assert_params(e_params, t_params, dtype)
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), dtype)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"])
def test_tensor_betas(name):
    """Betas given as 0-d tensors (torch runs every Adam-family algorithm with them) give
    torch's steps, and the groups keep the tensors."""
    t_params, t_loss = make_problem(torch, "float32")
    e_params, e_loss = make_problem(ember, "float32")
    t_opt = getattr(torch.optim, name)(t_params, lr=0.05,
                                       betas=(torch.tensor(0.8), torch.tensor(0.9)))
    e_opt = getattr(ember.optim, name)(e_params, lr=0.05,
                                       betas=(ember.tensor(0.8), ember.tensor(0.9)))
    run_steps(torch, t_opt, t_params, t_loss, 20)
    run_steps(ember, e_opt, e_params, e_loss, 20)
    assert_params(e_params, t_params, "float32")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float32")


@pytest.mark.parametrize("case", CASES[::3], ids=_ids)
def test_state_dict_exchange(case):
    """A torch optimizer's state dict (through NumPy) continues identically in ember, and
    the reverse."""
    name, kwargs = case
    maximize = kwargs.get("maximize", False)
    t_params, t_loss = make_problem(torch, "float64")
    e_params, e_loss = make_problem(ember, "float64")
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    run_steps(torch, t_opt, t_params, t_loss, 10, maximize)
    for e, t in zip(e_params, t_params):
        e._data[...] = t.detach().numpy()
    e_opt = getattr(ember.optim, name)(e_params, **kwargs)
    saved = copy.deepcopy(t_opt.state_dict())
    e_opt.load_state_dict(to_ember(saved))
    # torch loading the same dict (its casts included) is the reference
    t_opt = getattr(torch.optim, name)(t_params, **kwargs)
    t_opt.load_state_dict(saved)
    run_steps(torch, t_opt, t_params, t_loss, 10, maximize)
    run_steps(ember, e_opt, e_params, e_loss, 10, maximize)
    assert_params(e_params, t_params, "float64")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")
    # and back: ember's state dict loaded into a fresh torch optimizer
    t2_params, t2_loss = make_problem(torch, "float64")
    with torch.no_grad():
        for e, t in zip(e_params, t2_params):
            t.copy_(torch.from_numpy(np.array(e._data)))
    t2_opt = getattr(torch.optim, name)(t2_params, **kwargs)
    t2_opt.load_state_dict(to_torch(e_opt.state_dict()))
    run_steps(torch, t2_opt, t2_params, t2_loss, 5, maximize)
    run_steps(ember, e_opt, e_params, e_loss, 5, maximize)
    assert_params(e_params, t2_params, "float64")


def test_param_groups_and_lr_by_hand():
    t_params, t_loss = make_problem(torch, "float64")
    e_params, e_loss = make_problem(ember, "float64")

    def groups(p):
        return [{"params": p[:2], "lr": 0.1}, {"params": p[2:], "momentum": 0.5}]

    t_opt = torch.optim.SGD(groups(t_params), lr=0.01, momentum=0.9)
    e_opt = ember.optim.SGD(groups(e_params), lr=0.01, momentum=0.9)
    for step in range(6):
        if step == 3:
            for opt in (t_opt, e_opt):
                opt.param_groups[0]["lr"] = 0.02
                opt.param_groups[1]["momentum"] = 0.1
        run_steps(torch, t_opt, t_params, t_loss, 1)
        run_steps(ember, e_opt, e_params, e_loss, 1)
    assert_params(e_params, t_params, "float64")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")
    assert repr(e_opt) == repr(t_opt)


def test_add_param_group_and_zero_grad():
    e_params, e_loss = make_problem(ember, "float64")
    t_params, t_loss = make_problem(torch, "float64")
    e_opt = ember.optim.Adam(e_params[:2], lr=0.1)
    t_opt = torch.optim.Adam(t_params[:2], lr=0.1)
    e_opt.add_param_group({"params": e_params[2:], "lr": 0.01})
    t_opt.add_param_group({"params": t_params[2:], "lr": 0.01})
    run_steps(ember, e_opt, e_params, e_loss, 3)
    run_steps(torch, t_opt, t_params, t_loss, 3)
    assert_params(e_params, t_params, "float64")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")
    e_loss().backward()
    e_opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in e_params)
    e_opt.zero_grad()
    assert all(p.grad is None for p in e_params)


@pytest.mark.filterwarnings("ignore:optimizer contains a parameter group with duplicate")
def test_state_dict_ids_of_a_parameter_given_twice():
    """torch numbers a parameter given twice in a group by its last position."""
    sds = []
    for lib in (torch, ember):
        p, q = lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)
        opt = lib.optim.Adam([q, p, q, p], lr=0.1)
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        p.grad, q.grad = lib.ones(2), lib.ones(1)
        opt.step()
        sd = opt.state_dict()
        sds.append((sorted(sd["state"]), [g["params"] for g in sd["param_groups"]]))
    assert sds[1] == sds[0]


@pytest.mark.filterwarnings("ignore:optimizer contains a parameter group with duplicate")
@pytest.mark.parametrize("kwargs", [{"momentum": 0.9}, {"momentum": 0.9, "weight_decay": 0.1},
                                    {"momentum": 0.9, "nesterov": True}])
def test_sgd_momentum_of_a_parameter_given_twice(kwargs):
    """torch's SGD reads every buffer before its first update: a parameter given twice
    starts two buffers from its gradient in the first step."""
    results = []
    for lib in (torch, ember):
        p = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.SGD([p, p], lr=0.1, **kwargs)
        for _ in range(3):
            p.grad = p.detach() * 2 + 1
            opt.step()
        results.append((p.detach().numpy() if lib is torch else p.detach()._data,
                        opt.state_dict()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    assert_same_state(results[1][1], results[0][1], "float64")


def test_named_parameters():
    e_params, _ = make_problem(ember, "float64")
    t_params, _ = make_problem(torch, "float64")
    e_opt = ember.optim.SGD([(f"p{i}", p) for i, p in enumerate(e_params)], lr=0.1)
    t_opt = torch.optim.SGD([(f"p{i}", p) for i, p in enumerate(t_params)], lr=0.1)
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")


def test_update_bumps_version_in_place():
    e_params, e_loss = make_problem(ember, "float32")
    data = [p._data for p in e_params]
    versions = [p._version for p in e_params]
    opt = ember.optim.Adam(e_params)
    run_steps(ember, opt, e_params, e_loss, 1)
    assert all(p._data is d for p, d in zip(e_params, data))
    assert all(p._version > v for p, v in zip(e_params, versions))


def test_hooks():
    calls = []
    e_params, e_loss = make_problem(ember, "float64")
    opt = ember.optim.SGD(e_params, lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    g = ember.optim.optimizer.register_optimizer_step_pre_hook(
        lambda o, a, k: calls.append("global"))
    opt.register_state_dict_pre_hook(lambda o: calls.append("sd_pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("load_pre"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("load_post"))
    run_steps(ember, opt, e_params, e_loss, 1)
    assert calls == ["global", "pre", "post"]
    h1.remove()
    h2.remove()
    g.remove()
    run_steps(ember, opt, e_params, e_loss, 1)
    assert calls == ["global", "pre", "post"]
    sd = opt.state_dict()
    assert sd["extra"] == 1 and calls[-1] == "sd_pre"
    opt.load_state_dict(sd)
    assert calls[-2:] == ["load_pre", "load_post"]


def test_grad_mode_of_steps():
    """A user's Optimizer subclass steps in the caller's grad mode (torch wraps its step for
    the hooks only); the algorithms step with grad disabled unless differentiable."""
    seen = {}
    for lib in (torch, ember):
        modes = seen[lib.__name__] = []

        class Recording(lib.optim.Optimizer):
            def step(self, closure=None, modes=modes, lib=lib):
                modes.append(lib.is_grad_enabled())

        p = lib.zeros(2, requires_grad=True)
        p.grad = lib.ones(2)
        opt = Recording([p], {"lr": 0.1})
        opt.step()
        with lib.no_grad():
            opt.step()
        sgd = lib.optim.SGD([p], lr=0.1)
        sgd.register_step_pre_hook(lambda o, a, k, modes=modes, lib=lib:
                                   modes.append(lib.is_grad_enabled()))
        sgd.step()
    assert seen["ember"] == seen["torch"]


def test_closure_returns_loss():
    e_params, e_loss = make_problem(ember, "float64")
    t_params, t_loss = make_problem(torch, "float64")
    e_opt = ember.optim.RMSprop(e_params)
    t_opt = torch.optim.RMSprop(t_params)

    def closure(opt, loss_fn):
        def run():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss
        return run

    e_out = e_opt.step(closure(e_opt, e_loss))
    t_out = t_opt.step(closure(t_opt, t_loss))
    assert abs(e_out.item() - t_out.item()) < 1e-12
    assert_params(e_params, t_params, "float64")


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop",
                                  "ASGD", "Adadelta", "NAdam", "RAdam", "Adamax"])
def test_differentiable_keeps_graph(name):
    """differentiable=True: the update is built from ops, so the parameters after a
    step have gradients with respect to the parameters and gradients before them, equal
    to torch's."""
    kwargs = {"lr": 0.1, "differentiable": True}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    if name in ("Adam", "AdamW"):
        kwargs["amsgrad"] = True
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(4), rng.standard_normal(())]
    grad_arrays = [[rng.standard_normal(a.shape) for a in arrays]]
    results = []
    for lib, optim in ((torch, torch.optim), (ember, ember.optim)):
        leaves = [lib.tensor(a).requires_grad_() for a in arrays]
        grad_leaves = [[lib.tensor(g).requires_grad_() for g in gs] for gs in grad_arrays]
        params = [p.clone() for p in leaves]
        opt = getattr(optim, name)(params, **kwargs)
        for gs in grad_leaves:
            for p, g in zip(params, gs):
                p.grad = g.clone()
            opt.step()
        out = sum(((p * (k + 1)) ** 2).sum() for k, p in enumerate(params))
        inputs = leaves + grad_leaves[0]
        results.append(lib.autograd.grad(out, inputs, allow_unused=True))
    for i, (e, t) in enumerate(zip(results[1], results[0])):
        if t is None:
            assert e is None or not e._data.any(), f"input {i}"
        else:
            np.testing.assert_allclose(e._data, t.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"input {i}")


def rosenbrock(lib, xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 3])
@records_compared()
def test_lbfgs_rosenbrock(line_search_fn, history_size):
    results = []
    for lib, optim in ((torch, torch.optim), (ember, ember.optim)):
        xy = lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)
        opt = optim.LBFGS([xy], lr=1 if line_search_fn else 0.1, max_iter=20,
                          history_size=history_size, line_search_fn=line_search_fn)
        count = [0]

        def closure(lib=lib, opt=opt, xy=xy, count=count):
            count[0] += 1
            opt.zero_grad()
            loss = rosenbrock(lib, xy)
            loss.backward()
            return loss

        iterates = []
        for _ in range(5):
            opt.step(closure)
            iterates.append(xy.detach().numpy().copy() if lib is torch else
                            np.array(xy._data))
        results.append((np.array(iterates), count[0], opt.state_dict()))
    (t_it, t_count, t_sd), (e_it, e_count, e_sd) = results
    # Not bit-exact, and ember cannot be made so in general. torch's LBFGS rounds as (a)
    # ``add_(x, alpha=a)``: one fused multiply-add per element on this CPU, where NumPy's
    # ``q += a * x`` rounds twice, and (b) ``dot``: MKL's ddot, unfused for two elements but
    # for longer vectors summed in an order of MKL's own, CPU-dispatched choosing that no
    # NumPy expression reproduces (not sequential, not pairwise, not OpenBLAS's, which fuses).
    # An exact FMA (Dekker's product, as ``_fma64`` in ember/_ops/random.py: ~20 NumPy passes
    # per axpy instead of 2) plus an unfused multiply-and-sum dot does make these
    # two-variable runs bit-exact, but only because n = 2; so ember keeps NumPy's BLAS dot
    # and plain axpy. The valley's ill-conditioning amplifies the last-bit differences to
    # ~1e-9 relative (history_size=3), hence torch.testing's float64 rtol 1e-7.
    np.testing.assert_allclose(e_it, t_it, rtol=1e-7, atol=1e-12)
    assert e_count == t_count
    assert e_sd["state"][0]["func_evals"] == t_sd["state"][0]["func_evals"]
    assert e_sd["state"][0]["n_iter"] == t_sd["state"][0]["n_iter"]
    assert len(e_sd["state"][0]["old_dirs"]) == len(t_sd["state"][0]["old_dirs"])
    assert e_sd["param_groups"] == t_sd["param_groups"]



def _lbfgs_state_kinds(state: dict) -> dict:
    """Each state entry's type and dtype (the lists by their first element)."""
    kinds = {}
    for key, value in state.items():
        first = value[0] if isinstance(value, list) else value
        kinds[key] = (type(value).__name__, type(first).__name__.replace("ember", "torch"),
                      repr(getattr(first, "dtype", None)))
    return kinds


@pytest.mark.parametrize("lr_dtype", [None, "float32", "float64"])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@records_compared()
def test_lbfgs_tensor_lr_like_torch(line_search_fn, lr_dtype):
    """A tensor lr keeps its dtype through the step sizes: torch stores ``t`` as a tensor
    of that dtype and, in the line search, rounds the step bounds and the interpolation's
    ``number / (x1 - x2)`` (reciprocal, then product) in it."""
    results = []
    for lib in (torch, ember):
        xy = lib.tensor([1.5, -0.5], dtype=lib.float64, requires_grad=True)
        lr = 0.3 if lr_dtype is None else lib.tensor(0.3, dtype=getattr(lib, lr_dtype))
        opt = lib.optim.LBFGS([xy], lr=lr, max_iter=5, line_search_fn=line_search_fn)

        def closure(opt=opt, xy=xy):
            opt.zero_grad()
            loss = ((xy - 1) ** 4).sum() + (xy[0] * xy[1]) ** 2
            loss.backward()
            return loss

        iterates = []
        for _ in range(4):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # float() of the loss, as torch
                opt.step(closure)
            iterates.append(to_numpy(xy))
        state = opt.state_dict()["state"][0]
        results.append((np.array(iterates), _lbfgs_state_kinds(state), to_numpy(
            lib.as_tensor(state["t"])), state["func_evals"]))
    (t_it, t_kinds, t_t, t_evals), (e_it, e_kinds, e_t, e_evals) = results
    assert e_kinds == t_kinds and e_evals == t_evals
    np.testing.assert_array_equal(e_t, t_t)
    # the last-bit differences of test_lbfgs_rosenbrock's comment; a float32 step bound
    # rounded as float64 moves these iterates by ~1e-7
    np.testing.assert_allclose(e_it, t_it, rtol=1e-12, atol=1e-13)


def _params(lib):
    return [lib.zeros(3, requires_grad=True)]


@pytest.mark.parametrize("make", [
    lambda lib: lib.optim.SGD([], lr=0.1),
    lambda lib: lib.optim.SGD(_params(lib), lr=-0.1),
    lambda lib: lib.optim.SGD(_params(lib), lr=0.1, momentum=-1),
    lambda lib: lib.optim.SGD(_params(lib), lr=0.1, nesterov=True),
    lambda lib: lib.optim.SGD(_params(lib), lr=0.1, fused=True, foreach=True),
    lambda lib: lib.optim.SGD(_params(lib), lr=0.1, fused=True, differentiable=True),
    lambda lib: lib.optim.SGD(lib.zeros(3, requires_grad=True), lr=0.1),
    lambda lib: lib.optim.SGD([{"params": {lib.zeros(3, requires_grad=True)}}], lr=0.1),
    lambda lib: lib.optim.SGD([lib.zeros(3, requires_grad=True) * 2], lr=0.1),
    lambda lib: lib.optim.SGD([1.0], lr=0.1),
    lambda lib: (lambda p: lib.optim.SGD([{"params": p}, {"params": p}], lr=0.1))(
        _params(lib)),
    lambda lib: lib.optim.Adam(_params(lib), betas=(1.0, 0.9)),
    lambda lib: lib.optim.Adam(_params(lib), betas=(0.9, 1.5)),
    lambda lib: lib.optim.Adam(_params(lib), eps=-1.0),
    lambda lib: lib.optim.Adam(_params(lib), weight_decay=-1.0),
    lambda lib: lib.optim.Adam(_params(lib), lr=lib.tensor([0.1, 0.2])),
    lambda lib: lib.optim.Adam(_params(lib), betas=(0.9, lib.tensor(0.9))),
    lambda lib: lib.optim.AdamW(_params(lib), lr=-1.0),
    lambda lib: lib.optim.NAdam(_params(lib), momentum_decay=-1.0),
    lambda lib: lib.optim.RMSprop(_params(lib), alpha=-1.0),
    lambda lib: lib.optim.Adagrad(_params(lib), lr_decay=-1.0),
    lambda lib: lib.optim.Adagrad(_params(lib), initial_accumulator_value=-1.0),
    lambda lib: lib.optim.Adadelta(_params(lib), rho=1.5),
    lambda lib: lib.optim.Rprop(_params(lib), etas=(1.5, 1.2)),
    lambda lib: lib.optim.SparseAdam(_params(lib), lr=0.0),
    lambda lib: lib.optim.LBFGS([{"params": _params(lib)}, {"params": _params(lib)}]),
    lambda lib: lib.optim.Optimizer(
        _params(lib), {"lr": importlib.import_module(lib.__name__ + ".optim.optimizer").required}),
    lambda lib: lib.optim.SGD([("a", lib.zeros(1, requires_grad=True)),
                               lib.zeros(1, requires_grad=True)]),
])
def test_constructor_errors(make):
    check_raises_like(make)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop",
                                  "Adadelta", "ASGD", "Rprop"])
def test_capturable_refused_on_cpu(name):
    def run(lib):
        p = lib.zeros(3, requires_grad=True)
        p.grad = lib.ones(3)
        getattr(lib.optim, name)([p], capturable=True).step()

    check_raises_like(run)


# ember has no sparse tensors: refusing a dense gradient with torch's error is all that
# SparseAdam's step does, so that is its comparison with torch
@records_compared()
def test_sparse_adam_dense_gradient():
    def run(lib):
        p = lib.zeros(3, requires_grad=True)
        p.grad = lib.ones(3)
        lib.optim.SparseAdam([p]).step()

    check_raises_like(run)


def test_load_state_dict_errors():
    def wrong_groups(lib):
        p = _params(lib)
        opt = lib.optim.SGD(p, lr=0.1)
        sd = lib.optim.SGD([{"params": p}, {"params": _params(lib)}], lr=0.1).state_dict()
        opt.load_state_dict(sd)

    def wrong_size(lib):
        opt = lib.optim.SGD(_params(lib), lr=0.1)
        opt.load_state_dict(lib.optim.SGD(_params(lib) * 0 + _params(lib) + _params(lib),
                                          lr=0.1).state_dict())

    check_raises_like(wrong_groups)
    check_raises_like(wrong_size)


DEFAULT_NAMES = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
                 "Adadelta", "ASGD", "Rprop"]

# options that torch's later versions added to the groups, and state scalars that its older
# versions kept as Python numbers
NEWER_OPTIONS = ("foreach", "maximize", "differentiable", "capturable", "fused",
                 "decoupled_weight_decay")
SCALAR_STATE = ("step", "eta", "mu", "mu_product")


@pytest.mark.parametrize("name", DEFAULT_NAMES)
def test_load_state_dict_from_older_torch(name):
    """A state dict in an older torch's layout (groups without the newer options, ``step``
    as a number) loads as torch loads it: options defaulted, scalars made tensors, and the
    run goes on to the same parameters."""
    t_params, t_loss = make_problem(torch, "float64")
    t_opt = getattr(torch.optim, name)(t_params, lr=0.01)
    run_steps(torch, t_opt, t_params, t_loss, 3)
    old = copy.deepcopy(t_opt.state_dict())
    for group in old["param_groups"]:
        for key in NEWER_OPTIONS:
            group.pop(key, None)
    for state in old["state"].values():
        for key in SCALAR_STATE:
            if key in state:
                state[key] = state[key].item()
    e_params, e_loss = make_problem(ember, "float64")
    for e, t in zip(e_params, t_params):
        e._data[...] = t.detach().numpy()
    t_opt = getattr(torch.optim, name)(t_params, lr=0.01)
    e_opt = getattr(ember.optim, name)(e_params, lr=0.01)
    t_opt.load_state_dict(copy.deepcopy(old))
    e_opt.load_state_dict(to_ember(old))
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")
    run_steps(torch, t_opt, t_params, t_loss, 3)
    run_steps(ember, e_opt, e_params, e_loss, 3)
    assert_params(e_params, t_params, "float64")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float64")


def make_mlp(lib, dtype):
    """A 4-8-1 tanh MLP as an nn.Module: a 0-d ``scale`` parameter registered on the module
    (first in ``parameters()``), ``fc1`` with a bias, a bias-free ``fc2``."""
    nn = lib.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(lib.tensor(0.7, dtype=dtype))
            self.fc1 = nn.Linear(4, 8, dtype=dtype)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(8, 1, bias=False, dtype=dtype)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x))) * self.scale

    return MLP()


def mlp_pair(dtype):
    """The same MLP in both libraries: torch's seeded weights copied through NumPy, and a
    fixed regression problem (MSE loss)."""
    torch.manual_seed(0)
    t_model = make_mlp(torch, getattr(torch, dtype))
    e_model = make_mlp(ember, getattr(ember, dtype))
    with ember.no_grad():
        for (t_name, t_p), (e_name, e_p) in zip(t_model.named_parameters(),
                                                e_model.named_parameters(), strict=True):
            assert e_name == t_name
            e_p.copy_(ember.tensor(t_p.detach().numpy().copy()))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4))
    y = np.sin(x.sum(axis=1, keepdims=True))
    return t_model, e_model, x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", DEFAULT_NAMES)
@records_compared()
def test_nn_model_matches_torch(name, dtype):
    """Each optimizer with its default options trains the same ember.nn and torch.nn MLP
    for 20 steps to the same parameters and state dict."""
    t_model, e_model, x, y = mlp_pair(dtype)
    opts = []
    for lib, model in ((torch, t_model), (ember, e_model)):
        opt = getattr(lib.optim, name)(model.parameters())
        inputs, targets, criterion = lib.tensor(x), lib.tensor(y), lib.nn.MSELoss()
        for _ in range(20):
            opt.zero_grad()
            criterion(model(inputs), targets).backward()
            opt.step()
        opts.append(opt)
    t_opt, e_opt = opts
    assert [n for n, _ in e_model.named_parameters()] == \
        [n for n, _ in t_model.named_parameters()]
    # In float32 the MLP's matmul and tanh round differently from torch's (and between
    # NumPy's AVX-512, AVX2 and baseline kernels) in the last bit, and the adaptive
    # optimizers divide each gradient by its running RMS: a last-bit difference in a
    # gradient near zero moves a parameter by up to ~1e-5 over 20 steps (float64 agrees to
    # 1e-12, so the updates themselves are torch's).
    tol = (1e-5, 1e-4) if dtype == "float32" else None
    assert_params(list(e_model.parameters()), list(t_model.parameters()), dtype, tol)
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), dtype, tol=tol)


@pytest.mark.parametrize("line_search_fn,lr", [(None, 0.5), ("strong_wolfe", 1)])
@records_compared()
def test_lbfgs_mlp(line_search_fn, lr):
    """LBFGS on an ember.nn MLP: the iterates after each step(), the losses step() returns,
    the closure call counts and the state's counters are torch's."""
    t_model, e_model, x, y = mlp_pair("float64")
    results = []
    for lib, model in ((torch, t_model), (ember, e_model)):
        opt = lib.optim.LBFGS(model.parameters(), lr=lr, line_search_fn=line_search_fn)
        inputs, targets, criterion = lib.tensor(x), lib.tensor(y), lib.nn.MSELoss()
        count = [0]

        def closure(opt=opt, model=model, inputs=inputs, targets=targets,
                    criterion=criterion, count=count):
            count[0] += 1
            opt.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            return loss

        steps = []
        for _ in range(4):
            loss = opt.step(closure)
            flat = np.concatenate([to_numpy(p).ravel() for p in model.parameters()])
            steps.append((loss.item(), flat, count[0]))
        state = opt.state_dict()["state"][0]
        results.append((steps, state["func_evals"], state["n_iter"]))
    (t_steps, t_evals, t_iters), (e_steps, e_evals, e_iters) = results
    # matmul (MKL against OpenBLAS) and tanh (SIMD kernels) differ in the last bit, and the
    # curvature pairs LBFGS builds from the gradients amplify that to ~1e-12 over 80
    # iterations: far below torch.testing's 1e-7, so 1e-9 still catches any real deviation.
    for k, ((t_loss, t_flat, t_count), (e_loss, e_flat, e_count)) in enumerate(
            zip(t_steps, e_steps)):
        np.testing.assert_allclose(e_flat, t_flat, rtol=1e-9, atol=1e-9, err_msg=f"step {k}")
        np.testing.assert_allclose(e_loss, t_loss, rtol=1e-9, atol=1e-12, err_msg=f"step {k}")
        assert e_count == t_count, f"step {k}: closure calls"
    assert (e_evals, e_iters) == (t_evals, t_iters)


# The algorithms with an array fast path (NOTE [Optimizer threads]), each option that
# changes its kernel's branches.
FAST_CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.4)}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "maximize": True}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
]

# With the 0-d, the empty and the one-element parameter; the tests that split steps over
# threads lower the work a thread must get (NOTE [Optimizer threads]) so that these few
# thousand elements are cut.
BIG_SHAPES = [(70, 60), (), (0, 3), (1,), (37,)]


@pytest.fixture
def small_thread_work(monkeypatch):
    monkeypatch.setattr(importlib.import_module("ember.optim.optimizer"), "_WORK_PER_THREAD",
                        1 << 10)


def _big_problem(lib, steps=3):
    rng = np.random.default_rng(0)
    params = [lib.tensor(rng.standard_normal(s).astype(np.float32)).requires_grad_()
              for s in BIG_SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in BIG_SHAPES]
             for _ in range(steps)]
    return params, grads


def _run_big(lib, name, kwargs, threads=None):
    # RAdam's rectified step begins at its sixth step
    params, grads = _big_problem(lib, 7 if name == "RAdam" else 3)
    opt = getattr(lib.optim, name)(params, **kwargs)
    before = lib.get_num_threads()
    if threads is not None:
        lib.set_num_threads(threads)
    try:
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = lib.tensor(g)
            opt.step()
    finally:
        lib.set_num_threads(before)
    return params, opt


def _assert_like_torch(e_params, e_opt, t_params, t_opt, kwargs):
    assert_params(e_params, t_params, "float32")
    # Centred RMSprop divides by sqrt(square_avg - grad_avg**2): where an element's three
    # random gradients nearly agree, that difference cancels, and torch's fused
    # multiply-adds round it differently (up to ~1% in a few of 400,000 momentum entries;
    # the parameters, moved by lr times them, still agree). The small problem of
    # test_matches_torch compares that state.
    if not kwargs.get("centered"):
        assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float32")


def _bits(params, opt):
    """The parameters' and state tensors' arrays, to compare bit for bit."""
    state = [np.array(v._data) for s in opt.state.values() for v in s.values()
             if isinstance(v, ember.Tensor)]
    return [np.array(p._data) for p in params] + state


@pytest.mark.parametrize("blas_from", [None, 2000])
@pytest.mark.parametrize("case", FAST_CASES, ids=_ids)
def test_threads_give_same_bits_and_torch(case, blas_from, small_thread_work, monkeypatch):
    """A step split over one, two or three threads gives the same bits (every element sees
    the same operations), and torch's values. With ``blas_from`` the 70 x 60 parameter
    takes BLAS's passes (NOTE [BLAS passes on large arrays]) and the small ones NumPy's,
    decided per parameter, so the threads' cuts of it (smaller than that) change nothing."""
    if blas_from is not None:
        monkeypatch.setattr(importlib.import_module("ember._blas"), "PASSES_MIN", blas_from)
    name, kwargs = case
    runs = []
    for threads in (1, 2, 3):
        params, opt = _run_big(ember, name, kwargs, threads)
        assert {runner for runner, _ in opt._scratch} == set(range(threads))  # it was cut
        runs.append(_bits(params, opt))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)
    _assert_like_torch(*_run_big(ember, name, kwargs), *_run_big(torch, name, kwargs), kwargs)


@pytest.mark.parametrize("case", FAST_CASES, ids=_ids)
def test_non_contiguous_parameter(case, small_thread_work):
    """A parameter whose array is a transposed view is updated in place, as a contiguous
    one is (the step is not split over threads then)."""
    name, kwargs = case
    results = []
    for lib in (torch, ember):
        rng = np.random.default_rng(3)
        base = rng.standard_normal((60, 50)).astype(np.float32)
        params = [lib.tensor(base).t().detach().requires_grad_(),
                  lib.tensor(base[:4]).requires_grad_()]
        opt = getattr(lib.optim, name)(params, **kwargs)
        for _ in range(3):
            for p in params:
                p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
            opt.step()
        results.append((params, opt))
    (t_params, t_opt), (e_params, e_opt) = results
    assert not e_params[0]._data.flags.c_contiguous
    _assert_like_torch(e_params, e_opt, t_params, t_opt, kwargs)


@pytest.mark.parametrize("case", FAST_CASES, ids=_ids)
def test_foreach_and_fused_give_same_bits(case):
    """``foreach=True`` and ``fused=True`` (where torch's optimizer has it) run the same
    arithmetic as the default path."""
    name, kwargs = case
    default = _bits(*_run_big(ember, name, kwargs))
    flags = ("foreach", "fused") if name in ("SGD", "Adam", "AdamW", "Adagrad") else ("foreach",)
    for flag in flags:
        for a, b in zip(default, _bits(*_run_big(ember, name, {**kwargs, flag: True}))):
            np.testing.assert_array_equal(a, b, err_msg=flag)


@pytest.mark.parametrize("case", FAST_CASES, ids=_ids)
def test_step_writes_in_place_and_bumps_versions(case):
    """step() writes the parameters and their state in place (same arrays, same state
    tensors from step to step) and moves every written tensor's version counter."""
    name, kwargs = case
    e_params, e_loss = make_problem(ember, "float32")
    opt = getattr(ember.optim, name)(e_params, **kwargs)
    run_steps(ember, opt, e_params, e_loss, 1)
    data = [p._data for p in e_params]
    state = {id(p): dict(opt.state[p]) for p in e_params}
    versions = [p._version for p in e_params]
    state_versions = {k: {n: v._version for n, v in s.items()} for k, s in state.items()}
    run_steps(ember, opt, e_params, e_loss, 1)
    assert all(p._data is d for p, d in zip(e_params, data))
    assert all(p._version > v for p, v in zip(e_params, versions))
    for p in e_params:
        for key, tensor in opt.state[p].items():
            assert tensor is state[id(p)][key], key
            assert tensor._version > state_versions[id(p)][key], key


def test_scratch_is_not_state(small_thread_work):
    """The step's temporaries are not part of the state dict, a pickle or a deep copy."""
    params, grads = _big_problem(ember)
    opt = ember.optim.Adam(params, weight_decay=0.1)
    for p, g in zip(params, grads[0]):
        p.grad = ember.tensor(g)
    opt.step()
    assert opt._scratch
    assert "_scratch" not in opt.__getstate__()
    assert all(set(s) == {"step", "exp_avg", "exp_avg_sq"}
               for s in opt.state_dict()["state"].values())
    clone = copy.deepcopy(opt)
    assert clone._scratch == {}
    clone.step()
    opt.step()
    for a, b in zip(clone.param_groups[0]["params"], params):
        np.testing.assert_array_equal(a._data, b._data)


@records_compared()
def test_adagrad_state_of_groups_like_torch():
    """Adagrad makes a parameter's state at construction, or at the first step of a group
    added later; its sum starts at the constructor's initial_accumulator_value (a group's
    own value is not read, in torch)."""
    results = []
    for lib in (torch, ember):
        first = lib.nn.Parameter(lib.tensor([1.0, -2.0, 0.5]))
        second = lib.nn.Parameter(lib.tensor([[0.25, -1.5]]))
        later = lib.nn.Parameter(lib.tensor([3.0, -0.75]))
        opt = lib.optim.Adagrad([{"params": [first]},
                                 {"params": [second], "initial_accumulator_value": 5.0}],
                                lr=0.1, initial_accumulator_value=0.5, lr_decay=0.01)
        for step in range(3):
            if step == 1:
                opt.add_param_group({"params": [later], "lr": 0.05,
                                     "initial_accumulator_value": 2.0})
            opt.zero_grad()
            loss = (first ** 2).sum() + (second ** 3).sum() * (step + 1)
            if step:
                loss = loss + (later * first[:2]).sum()
            loss.backward()
            opt.step()
        state = opt.state_dict()
        results.append((state, [to_numpy(p) for p in (first, second, later)]))
    (t_state, t_params), (e_state, e_params) = results
    assert_same_state(e_state, t_state, "float32")
    for e, t in zip(e_params, t_params):
        np.testing.assert_allclose(e, t, rtol=1.3e-6, atol=1e-5)


@pytest.mark.parametrize("foreach", [None, False, True])
@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "ASGD", "NAdam", "RAdam",
                                  "RMSprop", "Rprop", "Adadelta"])
@records_compared()
def test_capturable_steps_refused_like_torch(name, foreach):
    """On the CPU torch refuses a capturable step; its foreach kernels word the refusal
    with their own list of devices (and NAdam's with one more comma)."""
    def step(lib):
        p = lib.nn.Parameter(lib.ones(2))
        opt = getattr(lib.optim, name)([p], capturable=True, foreach=foreach)
        p.grad = lib.ones(2)
        opt.step()

    check_raises_like(step)


def _adafactor_run(lib, dtype, options, steps=6, scale=1.0):
    """Adafactor on parameters of 0 to 3 dims (factored from two on), a second group added
    after the first step; the parameters after each step and the state dict."""
    rng = np.random.default_rng(0)
    params = [lib.nn.Parameter(lib.tensor(rng.standard_normal(shape),
                                          dtype=getattr(lib, dtype)))
              for shape in [(3, 4), (5,), (), (2, 3, 4)]]
    options = {k: lib.tensor(0.1) if v == "tensor" else v for k, v in options.items()}
    opt = lib.optim.Adafactor(params[:3], **options)
    iterates = []
    for k in range(steps):
        if k == 1:
            opt.add_param_group({"params": [params[3]], "lr": 0.05})
        opt.zero_grad()
        loss = sum(((p * (k + 1)) ** 2).sum() * scale + p.sin().sum() * scale for p in params)
        loss.backward()
        opt.step()
        iterates.append([to_numpy(p).copy() for p in params])
    return iterates, opt


@pytest.mark.parametrize("scale", [1.0, 1e-9])
@pytest.mark.parametrize("options", [
    {}, {"lr": 0.5, "weight_decay": 0.1, "maximize": True},
    {"beta2_decay": -0.5, "d": 2.0, "eps": (1e-3, 1e-2)}, {"lr": "tensor"}, {"foreach": True}])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@records_compared()
def test_adafactor_like_torch(dtype, options, scale):
    """Iterates, state (step, row_var/col_var or variance) and param groups; the tiny scale
    reaches epsilon1's floor (the dtype's machine epsilon by default)."""
    (t_its, t_opt), (e_its, e_opt) = (_adafactor_run(lib, dtype, options, scale=scale)
                                      for lib in (torch, ember))
    # float32: torch's mean and norm reductions sum in their own order (last bits)
    rtol, atol = TOLERANCES[dtype] if dtype == "float32" else TOL64
    for k, (t_step, e_step) in enumerate(zip(t_its, e_its)):
        for t, e in zip(t_step, e_step):
            np.testing.assert_allclose(e, t, rtol=rtol, atol=atol, err_msg=f"step {k}")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), dtype,
                      tol=(rtol, atol) if dtype == "float32" else None)


@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (2, 3, 4)])
@records_compared()
def test_adafactor_row_and_col_means_bit_exact(shape):
    """torch takes a factored parameter's mean square along a dim as its norm squared over
    the length, so the running row and column variances hold those bits (a row [1, -1]:
    sqrt(2) ** 2 / 2 rounds to 0.99999994 in float32, the mean of squares to 1)."""
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    grads[0][..., :2] = [1.0, -1.0]
    states = []
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.ones(shape))
        opt = lib.optim.Adafactor([p])
        for g in grads:
            p.grad = lib.tensor(g)
            opt.step()
        states.append({k: to_numpy(v) for k, v in opt.state[p].items()})
    for key in ("row_var", "col_var"):
        np.testing.assert_array_equal(states[1][key], states[0][key], err_msg=key)


@records_compared()
def test_adafactor_state_dict_round_trip_and_refusals_like_torch():
    results = []
    for lib in (torch, ember):
        _, opt = _adafactor_run(lib, "float64", {"lr": 0.3}, steps=3)
        params = [p for group in opt.param_groups for p in group["params"]]
        fresh = lib.optim.Adafactor(params[:3], lr=0.3)
        fresh.add_param_group({"params": [params[3]], "lr": 0.05})
        fresh.load_state_dict(opt.state_dict())
        for p in params:
            p.grad = lib.ones_like(p)
        fresh.step()
        results.append(([to_numpy(p).copy() for p in params], fresh.state_dict()))
    for t, e in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(e, t, rtol=TOL64[0], atol=TOL64[1])
    assert_same_state(results[1][1], results[0][1], "float64")
    for bad in ({"lr": -1.0}, {"beta2_decay": 0.1}, {"eps": (-1.0, 1e-3)}, {"eps": (None, -1.0)},
                {"d": 0.5}, {"weight_decay": -1.0}):
        check_raises_like(lambda lib, bad=bad: lib.optim.Adafactor(
            [lib.nn.Parameter(lib.ones(2))], **bad))

    def complex_step(lib):
        p = lib.nn.Parameter(lib.ones(2, dtype=lib.complex64))
        p.grad = lib.ones(2, dtype=lib.complex64)
        lib.optim.Adafactor([p]).step()

    check_raises_like(complex_step)


MUON_OPTIONS = [
    {}, {"nesterov": False, "lr": 0.3}, {"momentum": 0.0, "weight_decay": 0.0},
    {"adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.3},
    {"adjust_lr_fn": "original", "eps": 1e-3, "lr": "tensor"},
]


def _muon_run(lib, options, dtype="float32", steps=4):
    """Muon on a tall and a wide matrix (and a parameter without a gradient) for ``steps``
    steps of fixed gradients: the iterates and the optimizer."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((5, 3)), rng.standard_normal((4, 6)), np.ones((2, 2))]
    params = [lib.nn.Parameter(lib.tensor(a, dtype=getattr(lib, dtype))) for a in arrays]
    options = dict(options)
    if options.get("lr") == "tensor":
        options["lr"] = lib.tensor([0.05])
    opt = lib.optim.Muon(params, **options)
    iterates = []
    for k in range(steps):
        for p, g in zip(params[:2], (rng.standard_normal((5, 3)), rng.standard_normal((4, 6)))):
            p.grad = lib.tensor(g * (k + 1), dtype=p.dtype)
        opt.step()
        iterates.append([to_numpy(p).copy() for p in params])
    return iterates, opt


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", MUON_OPTIONS)
@records_compared()
def test_muon_without_iterations_bit_exact(options, dtype):
    """With ns_steps=0 the update is the bfloat16 momentum (Nesterov's or not) over its norm:
    every step's parameters and momentum buffers are torch's bits."""
    options = {**options, "ns_steps": 0}
    (t_its, t_opt), (e_its, e_opt) = (_muon_run(lib, options, dtype) for lib in (torch, ember))
    for k, (t_step, e_step) in enumerate(zip(t_its, e_its)):
        for i, (t, e) in enumerate(zip(t_step, e_step)):
            np.testing.assert_array_equal(e, t, err_msg=f"step {k} param {i}")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), dtype, tol=(0, 0))


@pytest.mark.parametrize("options", MUON_OPTIONS)
@records_compared()
def test_muon_like_torch(options):
    """The default five Newton-Schulz iterations. They run as bfloat16 addmm calls, whose
    results torch rounds once from float32 (beta * input + alpha * product) while ember
    rounds the product to bfloat16 first, and the iterations amplify those last bits: the
    updates agree to about a tenth of their size (a wrong step is off by all of it)."""
    (t_its, t_opt), (e_its, e_opt) = (_muon_run(lib, options) for lib in (torch, ember))
    lr = 0.05 if options.get("lr") == "tensor" else options.get("lr", 1e-3)
    for k, (t_step, e_step) in enumerate(zip(t_its, e_its)):
        for i, (t, e) in enumerate(zip(t_step, e_step)):
            np.testing.assert_allclose(e, t, rtol=0, atol=0.2 * lr * (k + 1),
                                       err_msg=f"step {k} param {i}")
    assert_same_state(e_opt.state_dict(), t_opt.state_dict(), "float32", tol=(0, 0))
    # and the state dict, loaded into a fresh optimizer, carries on as torch's does
    results = []
    for lib, opt in ((torch, t_opt), (ember, e_opt)):
        params = [p for group in opt.param_groups for p in group["params"]]
        fresh = lib.optim.Muon(params, lr=0.5)
        fresh.load_state_dict(opt.state_dict())
        for p in params[:2]:
            p.grad = lib.ones_like(p)
        fresh.step()
        results.append((to_numpy(params[0]), fresh.state_dict()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=0, atol=0.2 * lr * 5)
    assert_same_state(results[1][1], results[0][1], "float32", tol=(0, 0))


@pytest.mark.parametrize("make", [
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], lr=-1.0),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], lr=lib.tensor([0.1, 0.2])),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], momentum=-0.5),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], weight_decay=-0.5),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], adjust_lr_fn="rms"),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2))], foreach=True),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2)), lib.nn.Parameter(lib.ones(3))]),
    lambda lib: lib.optim.Muon([lib.nn.Parameter(lib.ones(2, 2, 2))]),
])
def test_muon_constructor_errors(make):
    check_raises_like(make)


@pytest.mark.parametrize("options,dtype", [
    ({"ns_steps": 100}, "float32"), ({"ns_coefficients": (1.0, 2.0)}, "float32"),
    ({}, "complex64")])
def test_muon_step_errors(options, dtype):
    def step(lib):
        p = lib.nn.Parameter(lib.ones(2, 3, dtype=getattr(lib, dtype)))
        opt = lib.optim.Muon([p], **options)
        p.grad = lib.ones_like(p)
        opt.step()

    check_raises_like(step)


def _swap_in_setup(lib):
    """An Adam with state over two groups, a state dict of other tensors with the first
    group's lr changed, and other parameters (with gradients) to swap in."""
    w = lib.nn.Parameter(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
    b, c = lib.nn.Parameter(lib.tensor([0.5, -0.5])), lib.nn.Parameter(lib.tensor([2.0]))
    opt = lib.optim.Adam([{"params": [w, b]}, {"params": [c], "lr": 0.01}], lr=0.1)
    for p in (w, b, c):
        p.grad = lib.ones_like(p)
    opt.step()
    saved = opt.state_dict()
    swap_state = {"state": {k: {n: v.clone() for n, v in s.items()}
                            for k, s in saved["state"].items()},
                  "param_groups": copy.deepcopy(saved["param_groups"])}
    swap_state["param_groups"][0]["lr"] = 0.5
    others = {name: p.detach().clone().requires_grad_() for name, p in zip("wbc", (w, b, c))}
    for p in others.values():
        p.grad = lib.full_like(p, 2.0)
    return opt, [w, b, c], swap_state, others


@records_compared("torch.optim.swap_in_optimizer_params_and_state")
def test_swap_in_optimizer_params_and_state_like_torch():
    """A step inside the block updates the swapped-in parameters and, in place, the given
    state dict's tensors (hooks see the swapped-in groups); on exit the optimizer's own
    groups (the same params list), state and parameters are back, untouched."""
    results = []
    for lib in (torch, ember):
        opt, params, swap_state, others = _swap_in_setup(lib)
        params_list, seen = opt.param_groups[0]["params"], []
        opt.register_step_pre_hook(lambda o, args, kwargs, seen=seen, w=others["w"]: seen.append(
            (o.param_groups[0]["lr"], o.param_groups[0]["params"][0] is w)))
        del swap_state["state"][2]  # a parameter without state starts afresh
        with lib.optim.swap_in_optimizer_params_and_state(opt, others, swap_state):
            opt.step()
        assert opt.param_groups[0]["params"] is params_list
        results.append(([to_numpy(p) for p in list(others.values()) + params], swap_state,
                         opt.state_dict(), seen))
    (t_values, t_swap, t_sd, t_seen), (e_values, e_swap, e_sd, e_seen) = results
    for t, e in zip(t_values, e_values):
        np.testing.assert_allclose(e, t, *TOLERANCES["float32"])
    assert_same_state(e_swap, t_swap, "float32")
    assert_same_state(e_sd, t_sd, "float32")
    assert e_seen == t_seen


@pytest.mark.parametrize("edit", [
    "opt.state.clear()", "swap_state = [swap_state]", "swap_state['state'] = [1]",
    "del swap_state['state']", "swap_state['state'] = {others['w']: {}}",
    "swap_state['state'][0] = 5", "swap_state['param_groups'] = (1,)",
    "swap_state['param_groups'].pop()", "swap_state['param_groups'][1] = [1]",
    "swap_state['param_groups'][0]['params'] = [0, 1.0]",
    "swap_state['param_groups'][0]['params'] = [0]",
    "swap_state['param_groups'][0]['extra'] = 1; del swap_state['param_groups'][0]['eps']",
    "del others['c']", "swap_state['state'][7] = {}; swap_state['state']['z'] = {}",
])
def test_swap_in_optimizer_params_and_state_refusals_like_torch(edit):
    def swap(lib):
        opt, params, swap_state, others = _swap_in_setup(lib)
        scope = {"opt": opt, "swap_state": swap_state, "others": others}
        exec(edit, scope)
        with lib.optim.swap_in_optimizer_params_and_state(opt, scope["others"],
                                                          scope["swap_state"]):
            opt.step()

    check_raises_like(swap)


FOREACH_NAMES = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad", "Adadelta",
                 "RMSprop", "Rprop", "ASGD"]


@pytest.mark.parametrize("grads", ["all", "none"])
@pytest.mark.parametrize("name,capturable", [
    (name, capturable) for name in FOREACH_NAMES for capturable in (False, True)
    if not (capturable and name in ("SGD", "Adagrad"))])  # those two have no capturable
@records_compared()
def test_differentiable_foreach_step_refused_like_torch(name, capturable, grads):
    """torch's foreach kernels record no graph: a differentiable step of a group with
    foreach=True raises AssertionError (Adamax's, Adadelta's and Adagrad's kernels even
    when no parameter has a gradient; Adam's after its capturable check, the others'
    before it); SGD's foreach step is the single-tensor one. A first group without
    foreach has stepped by then."""
    options = {"capturable": True} if capturable else {}

    def step(lib):
        params = [lib.ones(3), lib.ones(2)]  # plain leaves: the in-place update is allowed
        opt = getattr(lib.optim, name)([{"params": params[:1], "foreach": False},
                                        {"params": params[1:], **options}], lr=0.1,
                                       foreach=True, differentiable=True)
        if grads == "all":
            for p in params:
                p.grad = lib.ones_like(p)
        opt.step()
        return params

    t_params = torch_or_refused(step, AssertionError)
    if t_params is not None:
        for t, e in zip(t_params, step(ember)):
            np.testing.assert_array_equal(to_numpy(e), to_numpy(t))


DIFFERENTIABLE_CASES = [
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}), ("Adamax", {"weight_decay": 0.1}),
    ("NAdam", {"weight_decay": 0.1}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}), ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adagrad", {"lr_decay": 0.01, "weight_decay": 0.1}), ("Adadelta", {"weight_decay": 0.1}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}), ("RMSprop", {}),
    ("Rprop", {}), ("ASGD", {"t0": 1, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("lr_kind", ["float", "tensor"])
@pytest.mark.parametrize("case", DIFFERENTIABLE_CASES, ids=_ids)
@records_compared()
def test_differentiable_steps_gradients_like_torch(case, lr_kind):
    """Three differentiable steps of a non-leaf parameter, then the gradients of a loss of
    the result with respect to the initial values, the gradients fed and the lr (a 0-d
    tensor that requires grad): torch's values and gradients, or torch's error (a tensor
    lr reaches an argument typed Number in Adamax, Adagrad, Adadelta, RMSprop and Rprop;
    torch refuses it)."""
    name, options = case

    def run(lib):
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        g = lib.tensor([0.3, 0.2, -0.7], dtype=lib.float64, requires_grad=True)
        lr = lib.tensor(0.1, dtype=lib.float64, requires_grad=True)
        p = w.clone()
        opt = getattr(lib.optim, name)([p], lr=lr if lr_kind == "tensor" else 0.1,
                                       differentiable=True, **options)
        for i in range(3):
            p.grad = g * (i + 1) + p * 0.1
            opt.step()
        inputs = (w, g, lr) if lr_kind == "tensor" else (w, g)
        return p, lib.autograd.grad((p ** 2).sum(), inputs), opt.state_dict()

    try:
        t_p, t_grads, t_state = run(torch)
    except (TypeError, RuntimeError) as exc:
        # Rprop's saved step sizes are clamped in place by the next step: torch's message
        # names the node that made them ("output 0 of Clamp1"), ember's engine does not
        assert_raises_like(exc, lambda: run(ember),
                           error_match="modified by an inplace operation"
                           if "inplace" in str(exc) else None)
        return
    e_p, e_grads, e_state = run(ember)
    np.testing.assert_allclose(to_numpy(e_p), to_numpy(t_p), *TOL64)
    for t, e in zip(t_grads, e_grads):  # backward formulas may round in their own order
        np.testing.assert_allclose(to_numpy(e), to_numpy(t), rtol=1e-12, atol=1e-15)
    assert_same_state(_detached(e_state), _detached(t_state), "float64")


def _detached(value):
    """A state dict with its tensors detached (a differentiable step's state is in the
    graph)."""
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value.detach() if isinstance(value, (torch.Tensor, ember.Tensor)) else value


@pytest.mark.parametrize("case", [
    ("Adam", {}), ("Adam", {"amsgrad": True, "maximize": True}), ("Adam", {"weight_decay": "t"}),
    ("AdamW", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}),
], ids=_ids)
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("which", ["beta1", "beta2", "both"])
@records_compared()
def test_differentiable_steps_with_tensor_betas_like_torch(case, which, steps):
    """Betas (and Adam's weight decay) given as tensors that require grad: torch's Adam
    keeps them in the graph (a lerp for the second moment, the bias corrections from a
    copy of the step), NAdam and RAdam refuse a beta2 and Adamax a beta1 that reach an
    argument typed Number."""
    name, options = case

    def run(lib):
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        hyper = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in (0.8, 0.9, 0.1)]
        betas = (hyper[0] if which != "beta2" else 0.8, hyper[1] if which != "beta1" else 0.9)
        kwargs = {k: hyper[2] if v == "t" else v for k, v in options.items()}
        p = w.clone()
        opt = getattr(lib.optim, name)([p], lr=0.1, betas=betas, differentiable=True, **kwargs)
        for _ in range(steps):
            p.grad = p * 0.1 + 0.3
            opt.step()
        return p, lib.autograd.grad((p ** 2).sum(), (w, *hyper), allow_unused=True)

    try:
        t_p, t_grads = run(torch)
    except (TypeError, ValueError, RuntimeError) as exc:
        # a lerp's saved weight or end changed in place by the next step: torch's message
        # names the node by its overload ("Lerp1"), ember's by the op
        assert_raises_like(exc, lambda: run(ember),
                           error_match="modified by an inplace operation"
                           if "inplace" in str(exc) else None)
        return
    e_p, e_grads = run(ember)
    np.testing.assert_allclose(to_numpy(e_p), to_numpy(t_p), *TOL64)
    for t, e in zip(t_grads, e_grads):
        assert (e is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(to_numpy(e), to_numpy(t), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("to", ["float64", "float16"])
@pytest.mark.parametrize("case", [
    ("Adam", {}), ("AdamW", {"amsgrad": True}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}),
    ("RMSprop", {"centered": True}), ("Adam", {"differentiable": True}),
], ids=_ids)
def test_parameter_dtype_changed_after_state_refused_like_torch(case, to):
    """A parameter whose dtype changes after its state was made (``p.data =
    p.data.double()``): torch's lerp of the running average toward the gradient refuses
    the mix with lerp's RuntimeError."""
    name, options = case

    def step(lib):
        p = lib.ones(2, 2)
        opt = getattr(lib.optim, name)([p], **options)
        p.grad = lib.ones(2, 2)
        opt.step()
        p.data = p.data.to(getattr(lib, to))
        p.grad = lib.ones(2, 2, dtype=getattr(lib, to))
        opt.step()

    check_raises_like(step)


@pytest.mark.parametrize("case", [
    ("Adam", {}), ("Adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"amsgrad": True}), ("Adamax", {}), ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adagrad", {"lr_decay": 0.1}), ("ASGD", {}),
], ids=_ids)
@records_compared()
def test_float32_tensor_lr_with_float64_parameters_like_torch(case):
    """torch computes what a step derives from a tensor lr (step sizes, decay factors,
    ASGD's eta) in the lr's dtype: a float32 lr rounds them to float32, which float64
    parameters see (ember computed them in float64: 1e-7 apart)."""
    name, options = case
    results = []
    for lib in (torch, ember):
        rng = np.random.default_rng(0)
        p = lib.tensor(rng.standard_normal((3, 4)))
        opt = getattr(lib.optim, name)([p], lr=lib.tensor(0.0123), **options)
        for _ in range(5):
            p.grad = lib.tensor(rng.standard_normal((3, 4)))
            opt.step()
        results.append(to_numpy(p))
    np.testing.assert_allclose(results[1], results[0], *TOL64)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
@records_compared()
def test_fused_step_checks_only_parameters_with_gradients(name):
    """torch's fused steps check the dtype of the parameters they update: an integer
    parameter without a gradient (frozen) in the group does not stop the step."""
    results = []
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.ones(3))
        frozen = lib.nn.Parameter(lib.ones(2, dtype=lib.int64), requires_grad=False)
        opt = getattr(lib.optim, name)([p, frozen], lr=0.1, fused=True)
        p.grad = lib.tensor([1.0, -2.0, 0.5])
        opt.step()
        results.append((to_numpy(p), opt.state_dict()))
    np.testing.assert_allclose(results[1][0], results[0][0], *TOLERANCES["float32"])
    assert_same_state(results[1][1], results[0][1], "float32")


@pytest.mark.parametrize("new_shape", [(2, 3), (2, 1), (3, 2, 2), (4,)])
@pytest.mark.parametrize("case", [
    ("SGD", {"momentum": 0.9}), ("Adam", {}), ("AdamW", {}), ("Adamax", {}), ("NAdam", {}),
    ("RAdam", {}), ("Adagrad", {}), ("Adadelta", {}), ("RMSprop", {"centered": True}),
], ids=_ids)
def test_parameter_resized_after_state_refused_like_torch(case, new_shape):
    """A parameter resized after its state was made (``p.data = ...``): torch's update of
    the state by the gradient (or of the parameter by the state) raises its broadcasting
    RuntimeError; ember leaked NumPy's ValueError."""
    name, options = case

    def step(lib):
        p = lib.ones(2, 2)
        opt = getattr(lib.optim, name)([p], **options)
        p.grad = lib.ones(2, 2)
        opt.step()
        p.data = lib.ones(new_shape)
        p.grad = lib.ones(new_shape)
        opt.step()

    check_raises_like(step)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_complex_parameter_refused_at_the_step_like_torch(name):
    """torch makes a fused optimizer over a complex parameter and refuses it at the step
    that updates it (Adagrad's constructor too checks nothing)."""
    def step(lib):
        p = lib.nn.Parameter(lib.ones(2, dtype=lib.complex64))
        opt = getattr(lib.optim, name)([p], lr=0.1, fused=True)
        p.grad = lib.ones(2, dtype=lib.complex64)
        opt.step()

    check_raises_like(step)
