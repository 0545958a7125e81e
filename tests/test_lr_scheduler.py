"""ember.optim.lr_scheduler against torch's: 100 steps give torch's learning rates (and
momenta) to 1e-15 relative, chained and sequential forms included; state dicts round-trip;
torch's warnings and errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
import ember.optim
from tests.helpers import (
    assert_same,
    check_raises_like,
    recording_compared,
    records_compared,
    torch,
)


class Scale:
    """A callable object: its attributes go into the state dict."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, epoch):
        return self.factor ** epoch


def make_optimizer(lib, name="SGD", groups=2):
    params = [lib.zeros(2, requires_grad=True) for _ in range(groups)]
    spec = [{"params": [p], "lr": 0.1 * (k + 1)} for k, p in enumerate(params)]
    if name == "SGD":
        return lib.optim.SGD(spec, lr=0.1, momentum=0.9)
    return lib.optim.Adam(spec, lr=0.1)


def S(lib):
    return lib.optim.lr_scheduler


SCHEDULERS = {
    "LambdaLR": lambda lib, o: S(lib).LambdaLR(o, lambda e: 0.95 ** e),
    "LambdaLR-list": lambda lib, o: S(lib).LambdaLR(o, [lambda e: 1 / (e + 1), Scale(0.9)]),
    "MultiplicativeLR": lambda lib, o: S(lib).MultiplicativeLR(o, lambda e: 0.97),
    "StepLR": lambda lib, o: S(lib).StepLR(o, step_size=7, gamma=0.3),
    "MultiStepLR": lambda lib, o: S(lib).MultiStepLR(o, milestones=[10, 30, 30, 80],
                                                     gamma=0.5),
    "ConstantLR": lambda lib, o: S(lib).ConstantLR(o, factor=0.3, total_iters=13),
    "LinearLR": lambda lib, o: S(lib).LinearLR(o, start_factor=0.1, end_factor=0.9,
                                               total_iters=37),
    "ExponentialLR": lambda lib, o: S(lib).ExponentialLR(o, gamma=0.93),
    "PolynomialLR": lambda lib, o: S(lib).PolynomialLR(o, total_iters=60, power=2.3),
    "CosineAnnealingLR": lambda lib, o: S(lib).CosineAnnealingLR(o, T_max=17, eta_min=1e-3),
    "CosineAnnealingWarmRestarts": lambda lib, o: S(lib).CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=2, eta_min=1e-4),
    "CyclicLR": lambda lib, o: S(lib).CyclicLR(o, 0.01, [0.1, 0.3], step_size_up=9,
                                               step_size_down=4),
    "CyclicLR-triangular2": lambda lib, o: S(lib).CyclicLR(o, 0.01, 0.1, step_size_up=6,
                                                           mode="triangular2"),
    "CyclicLR-exp_range": lambda lib, o: S(lib).CyclicLR(o, 0.01, 0.1, step_size_up=6,
                                                         mode="exp_range", gamma=0.98),
    "CyclicLR-scale_fn": lambda lib, o: S(lib).CyclicLR(
        o, 0.01, 0.1, step_size_up=5, scale_fn=lambda x: 0.9 ** x, scale_mode="iterations",
        cycle_momentum=False),
    "OneCycleLR": lambda lib, o: S(lib).OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=101),
    "OneCycleLR-linear": lambda lib, o: S(lib).OneCycleLR(
        o, max_lr=0.5, epochs=10, steps_per_epoch=11, anneal_strategy="linear"),
    "OneCycleLR-three_phase": lambda lib, o: S(lib).OneCycleLR(
        o, max_lr=0.5, total_steps=120, three_phase=True, pct_start=0.25),
    "SequentialLR": lambda lib, o: S(lib).SequentialLR(
        o, [S(lib).LinearLR(o, start_factor=0.2, total_iters=10),
            S(lib).CosineAnnealingLR(o, T_max=30), S(lib).ExponentialLR(o, gamma=0.9)],
        milestones=[10, 50]),
    "ChainedScheduler": lambda lib, o: S(lib).ChainedScheduler(
        [S(lib).ConstantLR(o, factor=0.5, total_iters=20), S(lib).ExponentialLR(o, gamma=0.95),
         S(lib).StepLR(o, step_size=15, gamma=0.5)]),
}


def lrs_and_momenta(opt):
    out = []
    for group in opt.param_groups:
        out.append(group["lr"])
        out.append(group.get("momentum", group.get("betas", (None,))[0]))
    return out


def assert_close(e, t, what):
    assert len(e) == len(t), what
    for a, b in zip(e, t):
        if b is None:
            assert a is None, what
        else:
            assert math.isclose(a, b, rel_tol=1e-15, abs_tol=0.0), f"{what}: {a!r} != {b!r}"


def run(lib, key, optimizer="SGD", steps=100):
    opt = make_optimizer(lib, optimizer)
    sched = SCHEDULERS[key](lib, opt)
    history = [lrs_and_momenta(opt) + list(sched.get_last_lr())]
    for _ in range(steps):
        opt.step()
        sched.step()
        history.append(lrs_and_momenta(opt) + list(sched.get_last_lr()))
    return history, sched, opt


@pytest.mark.parametrize("key", SCHEDULERS)
@records_compared()
def test_matches_torch(key):
    optimizer = "Adam" if key.startswith("OneCycleLR-") else "SGD"
    t_hist, t_sched, _ = run(torch, key, optimizer)
    e_hist, e_sched, _ = run(ember, key, optimizer)
    for step, (e, t) in enumerate(zip(e_hist, t_hist)):
        assert_close(e, t, f"{key} step {step}")
    e_sd, t_sd = e_sched.state_dict(), t_sched.state_dict()
    assert set(e_sd) == set(t_sd)
    for k in t_sd:
        if k not in ("_schedulers",):
            assert e_sd[k] == t_sd[k] or (isinstance(t_sd[k], float) and math.isclose(
                e_sd[k], t_sd[k], rel_tol=1e-15)), k


@pytest.mark.parametrize("key", SCHEDULERS)
def test_param_group_added_after_the_scheduler(key):
    """A group added to the optimizer after its scheduler was made: the schedulers whose
    per-group lists torch zips strictly raise its ValueError, OneCycleLR its KeyError (the
    group has no initial_lr), the others go on."""
    outcomes = []
    for lib in (torch, ember):
        opt = make_optimizer(lib)
        sched = SCHEDULERS[key](lib, opt)
        history = []
        try:
            for i in range(6):
                if i == 2:
                    opt.add_param_group({"params": [lib.zeros(2, requires_grad=True)],
                                         "lr": 0.3, "momentum": 0.9})
                opt.step()
                sched.step()
                history.append([float(lr) for lr in sched.get_last_lr()])
        except (ValueError, KeyError) as exc:
            history.append((type(exc).__name__, str(exc)))
        outcomes.append(history)
    t_hist, e_hist = outcomes
    assert len(e_hist) == len(t_hist)
    for e, t in zip(e_hist, t_hist):
        if isinstance(t, tuple):
            assert e == t
        else:
            assert_close(e, t, key)


@pytest.mark.parametrize("key", SCHEDULERS)
def test_state_dict_round_trip(key):
    """A scheduler restored from another's state dict (mid-run) continues identically."""
    optimizer = "Adam" if key.startswith("OneCycleLR-") else "SGD"
    hist, sched, opt = run(ember, key, optimizer, steps=40)
    opt2 = make_optimizer(ember, optimizer)
    sched2 = SCHEDULERS[key](ember, opt2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    for _ in range(30):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert lrs_and_momenta(opt2) == lrs_and_momenta(opt)
        assert sched2.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("mode,threshold_mode,cooldown,min_lr", [
    ("min", "rel", 0, 0), ("min", "abs", 2, 0.004), ("max", "rel", 1, [0.001, 0.02]),
    ("max", "abs", 0, 0.0)])
@records_compared()
def test_reduce_lr_on_plateau(mode, threshold_mode, cooldown, min_lr):
    rng = np.random.default_rng(3)
    metrics = np.cumsum(rng.standard_normal(100)) * 0.1
    results = []
    for lib in (torch, ember):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=0.5, patience=3, threshold=0.01,
            threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr)
        hist = []
        for m in metrics:
            opt.step()
            sched.step(float(m))
            hist.append(lrs_and_momenta(opt) + sched.get_last_lr())
        results.append((hist, sched.state_dict()))
    for step, (e, t) in enumerate(zip(results[1][0], results[0][0])):
        assert_close(e, t, f"step {step}")
    assert results[1][1] == results[0][1]


def test_epoch_argument_uses_closed_form_and_warns():
    for key in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                "PolynomialLR", "ConstantLR"):
        hist = []
        for lib in (torch, ember):
            opt = make_optimizer(lib)
            sched = SCHEDULERS[key](lib, opt)
            opt.step()
            with pytest.warns(UserWarning, match="The epoch parameter"):
                sched.step(25)
            hist.append(sched.get_last_lr())
        assert_close(hist[1], hist[0], key)


def test_step_order_warning():
    for lib in (torch, ember):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()
        opt2 = make_optimizer(lib)
        sched2 = lib.optim.lr_scheduler.StepLR(opt2, 3)
        opt2.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sched2.step()


@pytest.mark.parametrize("replaced", ["after", "after_second_scheduler", "never"])
def test_replaced_optimizer_step_warning(replaced):
    """torch warns at the first scheduler step when ``optimizer.step`` was replaced on the
    instance after the scheduler was made (a wrapper that still steps)."""
    caught = {}
    for lib in (torch, ember):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        if replaced != "never":
            opt.step = _forwarding(opt.step)
        if replaced == "after_second_scheduler":
            lib.optim.lr_scheduler.ExponentialLR(opt, 0.5)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            opt.step()
            sched.step()
        caught[lib.__name__] = [str(w.message) for w in record]
    assert caught["ember"] == caught["torch"]


def _forwarding(step):
    """A replacement ``step`` that calls the original (a bound method, as torch's scheduler
    needs to wrap it)."""

    class Forwarding:
        def step(self, *args, **kwargs):
            return step(*args, **kwargs)

    return Forwarding().step


def test_get_lr_outside_step_warns():
    for lib in (torch, ember):
        sched = lib.optim.lr_scheduler.StepLR(make_optimizer(lib), 3)
        with pytest.warns(UserWarning, match="get_last_lr"):
            sched.get_lr()


@pytest.mark.parametrize("make", [
    lambda lib: lib.optim.lr_scheduler.StepLR(None, 3),
    lambda lib: lib.optim.lr_scheduler.StepLR(make_optimizer(lib), 3, last_epoch=5),
    lambda lib: lib.optim.lr_scheduler.ConstantLR(make_optimizer(lib), factor=1.5),
    lambda lib: lib.optim.lr_scheduler.LinearLR(make_optimizer(lib), start_factor=0),
    lambda lib: lib.optim.lr_scheduler.LinearLR(make_optimizer(lib), end_factor=2),
    lambda lib: lib.optim.lr_scheduler.LambdaLR(make_optimizer(lib), [lambda e: 1]),
    lambda lib: lib.optim.lr_scheduler.MultiplicativeLR(make_optimizer(lib), [1, 2]),
    lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(lib), 0),
    lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(lib), 2,
                                                                   T_mult=0),
    lambda lib: lib.optim.lr_scheduler.CyclicLR(make_optimizer(lib), 0.1, 1, mode="x"),
    lambda lib: lib.optim.lr_scheduler.CyclicLR(make_optimizer(lib), [0.1], 1),
    lambda lib: lib.optim.lr_scheduler.CyclicLR(
        lib.optim.Adagrad([lib.zeros(1, requires_grad=True)]), 0.1, 1),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(make_optimizer(lib), 0.1),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(make_optimizer(lib), 0.1, total_steps=0),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(make_optimizer(lib), 0.1, total_steps=10,
                                                  pct_start=1),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(make_optimizer(lib), 0.1, total_steps=10,
                                                  anneal_strategy="x"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(lib), factor=1.0),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(lib), mode="x"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(lib),
                                                         threshold_mode="x"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(make_optimizer(lib), min_lr=[1]),
    lambda lib: lib.optim.lr_scheduler.SequentialLR(make_optimizer(lib), [], []),
    lambda lib: (lambda o: lib.optim.lr_scheduler.SequentialLR(
        o, [lib.optim.lr_scheduler.StepLR(o, 2)], [3]))(make_optimizer(lib)),
    lambda lib: (lambda o: lib.optim.lr_scheduler.ChainedScheduler(
        [lib.optim.lr_scheduler.ReduceLROnPlateau(o)]))(make_optimizer(lib)),
    lambda lib: lib.optim.lr_scheduler.ChainedScheduler([]),
])
def test_errors(make):
    check_raises_like(make)


def test_one_cycle_overrun():
    def run_over(lib):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
        for _ in range(4):
            opt.step()
            sched.step()

    check_raises_like(run_over)


# ---- swa_utils ------------------------------------------------------------------------------

@pytest.mark.parametrize("anneal_strategy,anneal_epochs", [("cos", 10), ("linear", 5),
                                                           ("cos", 0)])
@records_compared()
def test_swalr(anneal_strategy, anneal_epochs):
    hist = []
    for lib in (torch, ember):
        opt = make_optimizer(lib)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs,
                                          anneal_strategy=anneal_strategy)
        h = []
        for _ in range(30):
            opt.step()
            sched.step()
            h.append(sched.get_last_lr())
        hist.append(h)
    for e, t in zip(hist[1], hist[0]):
        assert_close(e, t, "SWALR")


@pytest.mark.parametrize("kind", ["swa", "swa_fn", "ema", "ema_multi", "swa_multi",
                                  "buffers"])
def test_averaged_model(kind):
    # the swa_utils names this kind calls on both libraries
    names = ["AveragedModel", *{"swa_fn": ["get_swa_avg_fn"], "ema": ["get_ema_avg_fn"],
                                "ema_multi": ["get_ema_multi_avg_fn"],
                                "swa_multi": ["get_swa_multi_avg_fn"]}.get(kind, [])]
    with recording_compared(*(f"torch.optim.swa_utils.{name}" for name in names)):
        rng = np.random.default_rng(0)
        snapshots = [(rng.standard_normal((3, 4)), rng.standard_normal(3)) for _ in range(5)]
        results = []
        for lib in (torch, ember):
            model = lib.nn.Linear(4, 3)
            swa = lib.optim.swa_utils
            kwargs = {"swa": {}, "swa_fn": {"avg_fn": swa.get_swa_avg_fn()},
                      "ema": {"avg_fn": swa.get_ema_avg_fn(0.9)},
                      "ema_multi": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.8)},
                      "swa_multi": {"multi_avg_fn": swa.get_swa_multi_avg_fn()},
                      "buffers": {"use_buffers": True}}[kind]
            averaged = swa.AveragedModel(model, **kwargs)
            for w, b in snapshots:
                with lib.no_grad():
                    model.weight.copy_(lib.tensor(w, dtype=lib.float32))
                    model.bias.copy_(lib.tensor(b, dtype=lib.float32))
                averaged.update_parameters(model)
            results.append([np.array(p.detach().numpy() if lib is torch else p._data)
                            for p in averaged.module.parameters()] + [int(averaged.n_averaged)])
        for e, t in zip(results[1], results[0]):
            np.testing.assert_allclose(e, t, rtol=1.3e-6, atol=1e-5)


def test_averaged_model_multi_avg_fn_with_integer_buffers():
    """With ``use_buffers`` a batch norm's int64 ``num_batches_tracked`` is averaged too:
    torch calls ``multi_avg_fn`` once per dtype, so the float lists lerp and the integer
    one takes the integer branch (EMA: a rounded blend)."""
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(4)]
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))
        calls = []
        ema = lib.optim.swa_utils.get_ema_multi_avg_fn(0.7)

        def recording_ema(averaged, current, n, ema=ema, calls=calls):
            calls.append(sorted({str(t.dtype).split(".")[-1] for t in averaged}))
            ema(averaged, current, n)

        averaged = lib.optim.swa_utils.AveragedModel(model, multi_avg_fn=recording_ema,
                                                     use_buffers=True)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        for x in batches:
            opt.zero_grad()
            model(lib.tensor(x)).pow(2).sum().backward()
            opt.step()
            averaged.update_parameters(model)
        results.append(({k: np.array(v.detach().numpy() if lib is torch else v._data)
                         for k, v in averaged.state_dict().items()}, sorted(calls)))
    (e_state, e_calls), (t_state, t_calls) = results[1], results[0]
    assert e_calls == t_calls
    assert list(e_state) == list(t_state)
    for key in t_state:
        assert e_state[key].dtype == t_state[key].dtype, key
        np.testing.assert_allclose(e_state[key], t_state[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def _average_into_another_model(lib):
    averaged = lib.optim.swa_utils.AveragedModel(
        lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2)))
    averaged.update_parameters(lib.nn.Sequential(lib.nn.Linear(2, 2)))


def _lists_of_two_lengths(lib, name, dtype, reverse):
    swa = lib.optim.swa_utils
    update = swa.get_swa_multi_avg_fn() if name == "swa" else swa.get_ema_multi_avg_fn(0.5)
    dtype = getattr(lib, dtype)
    longer = [lib.ones(2, dtype=dtype), lib.ones(1, dtype=dtype)]
    shorter = [lib.ones(2, dtype=dtype)]
    averaged, current = (shorter, longer) if reverse else (longer, shorter)
    update(averaged, current, lib.tensor(1))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize("name", ["swa", "ema"])
def test_swa_updates_refuse_lists_of_two_lengths(name, dtype, reverse):
    check_raises_like(lambda lib: _lists_of_two_lengths(lib, name, dtype, reverse))


def test_averaged_model_refuses_another_model():
    check_raises_like(_average_into_another_model)


def test_swa_errors():
    check_raises_like(lambda lib: lib.optim.swa_utils.get_ema_avg_fn(1.5))
    check_raises_like(lambda lib: lib.optim.swa_utils.SWALR(make_optimizer(lib), 0.1,
                                                            anneal_epochs=-1))
    check_raises_like(lambda lib: lib.optim.swa_utils.SWALR(make_optimizer(lib), 0.1,
                                                            anneal_strategy="x"))


def bn_model(lib, kind):
    """A model with batch norms: BatchNorm1d with momentum 0.3 ("1d"), or BatchNorm2d with
    the default momentum followed by a BatchNorm1d with momentum None ("2d", input
    (N, 3, 5, 4))."""
    nn = lib.nn
    if kind == "1d":
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, momentum=0.3), nn.ReLU(),
                             nn.Linear(6, 1))
    return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm2d(3), nn.Tanh(), nn.Flatten(),
                         nn.BatchNorm1d(60, momentum=None), nn.Linear(60, 1))


class PairLoader:
    """A loader yielding ``[input, target]`` lists, re-iterable like a DataLoader."""

    def __init__(self, inputs, targets):
        self.inputs, self.targets = inputs, targets

    def __iter__(self):
        return iter([[x, y] for x, y in zip(self.inputs, self.targets)])


@pytest.mark.parametrize("kind,loader,training,device", [
    ("1d", "tensors", True, None), ("1d", "pairs", False, "cpu"),
    ("2d", "lists", True, None), ("2d", "pairs", False, None)])
@records_compared("torch.optim.swa_utils.AveragedModel", "torch.optim.swa_utils.update_bn")
def test_update_bn(kind, loader, training, device):
    """AveragedModel over SGD steps, then update_bn over a loader (inputs alone, (input,
    target) tuples, or [input, target] lists): the averaged model's parameters, running
    statistics and num_batches_tracked, the restored momenta and training flags, and its
    evaluation output are torch's."""
    rng = np.random.default_rng(0)
    shape = (8, 4) if kind == "1d" else (8, 3, 5, 4)
    batches = [(rng.standard_normal(shape).astype(np.float32) + k,
                rng.standard_normal((8, 1)).astype(np.float32)) for k in range(5)]
    probe = rng.standard_normal(shape).astype(np.float32)
    torch.manual_seed(0)
    t_model = bn_model(torch, kind)
    e_model = bn_model(ember, kind)
    e_model.load_state_dict({k: ember.tensor(v.numpy().copy())
                             for k, v in t_model.state_dict().items()})
    results = []
    for lib, model in ((torch, t_model), (ember, e_model)):
        swa = lib.optim.swa_utils
        averaged = swa.AveragedModel(model)
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for x, y in batches[:4]:
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
            averaged.update_parameters(model)
        inputs = [lib.tensor(x) for x, _ in batches]
        targets = [lib.tensor(y) for _, y in batches]
        data = {"tensors": inputs, "pairs": (xy for xy in zip(inputs, targets)),
                "lists": PairLoader(inputs, targets)}[loader]
        averaged.train(training)
        swa.update_bn(data, averaged, device=device)
        bns = [m for m in averaged.modules() if "BatchNorm" in type(m).__name__]
        flags = [m.training for m in averaged.modules()]
        averaged.eval()
        with lib.no_grad():
            out = averaged(lib.tensor(probe))
        results.append((averaged.state_dict(), [m.momentum for m in bns], flags, out))
    (t_sd, t_mom, t_flags, t_out), (e_sd, e_mom, e_flags, e_out) = results
    assert list(e_sd) == list(t_sd)
    for key in t_sd:
        assert_same(e_sd[key], t_sd[key], what=key)
    assert e_mom == t_mom and t_mom == ([0.3] if kind == "1d" else [0.1, None])
    assert e_flags == t_flags
    assert_same(e_out, t_out, what="output")


def test_update_bn_without_batch_norm():
    """No batch norm: update_bn returns at once, leaving the loader unread and the mode."""
    for lib in (torch, ember):
        model = lib.nn.Linear(2, 1).eval()
        loader = iter([lib.ones(3, 2), lib.zeros(3, 2)])
        lib.optim.swa_utils.update_bn(loader, model)
        assert not model.training
        assert len(list(loader)) == 2


@pytest.mark.parametrize("stepped_before", [False, True])
def test_call_order_warning_counts_steps_from_the_first_scheduler(stepped_before):
    # torch starts counting the optimizer's steps when its first scheduler is made: a step
    # taken before that does not silence the call-order warning
    import warnings

    seen = {}
    for lib in (torch, ember):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1)
        if stepped_before:
            opt.step()
        scheduler = lib.optim.lr_scheduler.StepLR(opt, 1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scheduler.step()
            later = lib.optim.lr_scheduler.ExponentialLR(opt, 0.5)  # a second scheduler
            opt.step()
            later.step()
        seen[lib] = [str(w.message)[:60] for w in caught]
    assert seen[ember] == seen[torch]
    assert len(seen[ember]) == 1
