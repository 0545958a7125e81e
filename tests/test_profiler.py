"""The profiler (ember.profiler, ember.autograd.profiler) against torch's: the table's
string layout for the same timings, the op and node names of a training step, the Chrome
trace, record_function, schedule, and that recording leaves the op path as it found it."""
from __future__ import annotations

import gc
import json
import threading
import warnings

import numpy as np
import pytest

import ember
import ember.autograd.profiler as eprof
import ember.profiler
from ember._ops import registry
from ember.autograd import engine
from tests.helpers import torch

tpu = pytest.importorskip("torch.autograd.profiler_util")

# (id, name, start_us, end_us, input shapes, parent id): a forest of ranges with times
# that exercise every unit (us, ms, s), a repeated name, a long name and an empty range.
FAKE = [
    (1, "aten::linear", 0.0, 1500.5, [[5, 4], [3, 4], [3]], None),
    (2, "aten::t", 10.0, 30.0, [[3, 4]], 1),
    (3, "aten::addmm", 40.0, 1400.0, [[3], [5, 4], [4, 3], [], []], 1),
    (4, "aten::relu", 2000.0, 2002500.0, [[5, 3]], None),
    (5, "aten::t", 2002600.0, 2002601.25, [[4, 3]], None),
    (6, "autograd::engine::evaluate_function: MseLossBackward0", 2002700.0, 2002999.0, [],
     None),
    (7, "MseLossBackward0", 2002710.0, 2002900.5, [[]], 6),
    (8, "aten::zero_", 2003000.0, 2003000.0, [[5, 3]], None),
]


def _fake_events(lib):
    made = {}
    for i, name, start, end, shapes, parent in FAKE:
        if lib is torch:
            e = tpu.FunctionEvent(id=i, name=name, thread=1, start_us=start, end_us=end,
                                  input_shapes=shapes, stack=[])
        else:
            e = eprof.FunctionEvent(i, name, 1, start, end, shapes)
        if parent is not None:
            if lib is torch:
                e.set_cpu_parent(made[parent])
                made[parent].append_cpu_child(e)
            else:
                e.cpu_parent = made[parent]
                made[parent].cpu_children.append(e)
        made[i] = e
    events = (tpu.EventList if lib is torch else eprof.EventList)(made.values())
    if lib is torch:
        events._tree_built = True  # the tree is given, as a profile run builds it
    return events


TABLE_CASES = [
    ({}, False),
    (dict(sort_by="self_cpu_time_total", row_limit=3), False),
    (dict(sort_by="cpu_time_total"), True),
    (dict(sort_by="count", max_name_column_width=10), False),
    (dict(header="A HEADER", top_level_events_only=True), True),
    (dict(time_unit="ms"), False),
    (dict(time_unit="us", sort_by="cpu_time"), True),
    (dict(time_unit="s", max_shapes_column_width=12), True),
    (dict(row_limit=-1, max_name_column_width=30), False),
]


@pytest.mark.parametrize("kwargs,by_shapes", TABLE_CASES)
def test_table_layout_matches_torch(kwargs, by_shapes):
    t_table = _fake_events(torch).key_averages(by_shapes).table(**kwargs)
    e_table = _fake_events(ember).key_averages(by_shapes).table(**kwargs)
    assert e_table == t_table


def test_event_list_table_and_totals_match_torch():
    t_events, e_events = _fake_events(torch), _fake_events(ember)
    assert e_events.table() == t_events.table()
    assert e_events.table(sort_by="self_cpu_time_total") == t_events.table(
        sort_by="self_cpu_time_total")
    assert e_events.self_cpu_time_total == pytest.approx(t_events.self_cpu_time_total)
    t_avg, e_avg = t_events.key_averages(), e_events.key_averages()
    assert [a.key for a in e_avg] == [a.key for a in t_avg]
    for e, t in zip(e_avg, t_avg):
        assert (e.count, e.cpu_time_total, e.self_cpu_time_total, e.cpu_time) == \
            pytest.approx((t.count, t.cpu_time_total, t.self_cpu_time_total, t.cpu_time))
    assert e_events.total_average().self_cpu_time_total == pytest.approx(
        t_events.total_average().self_cpu_time_total)


def test_table_of_zero_time_and_empty_lists_match_torch():
    zero = {}
    for lib, cls, ev in ((torch, tpu.EventList, None), (ember, eprof.EventList, None)):
        if lib is torch:
            ev = tpu.FunctionEvent(id=1, name="x", thread=1, start_us=0, end_us=0, stack=[])
            events = cls([ev])
            events._tree_built = True
        else:
            events = cls([eprof.FunctionEvent(1, "x", 1, 0.0, 0.0)])
        zero[lib] = events.key_averages().table()
    assert zero[ember] == zero[torch]  # "NaN" percentages
    assert eprof.EventList([]).table() == tpu.EventList([]).table() == ""


def _step(lib, x_np, y_np):
    lib.manual_seed(0)
    lin = lib.nn.Linear(4, 3)
    x, y = lib.tensor(x_np), lib.tensor(y_np)
    return lambda: lib.nn.functional.mse_loss(lib.relu(lin(x)), y).backward()


# What torch's table lists for a Linear+ReLU+MSE step and ember's does not, and why. Every
# op ember runs is in torch's table (ember lists nothing torch does not).
TORCH_ONLY = {
    # torch's internals under an op ember runs as one NumPy call: t = transpose over
    # as_strided, addmm's bias expand + copy_, conjugation checks, mse_loss's output
    # allocation, its mean's sum + div_ (with a dtype copy), mse_loss_backward's zeroed
    # output, grad detaching in AccumulateGrad.
    "aten::transpose", "aten::as_strided", "aten::expand", "aten::copy_",
    "aten::resolve_conj", "aten::broadcast_tensors", "aten::resize_", "aten::empty",
    "aten::fill_", "aten::div_", "aten::to", "aten::_to_copy", "aten::empty_strided",
    "aten::empty_like", "aten::zeros_like", "aten::zero_", "aten::detach", "detach",
    # the seed gradient of backward(): ember makes it in Tensor.backward (and
    # autograd.backward) with NumPy, before the engine runs, without an op record
    "aten::ones_like",
}


def test_step_lists_torch_names():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((5, 4)).astype(np.float32)
    y_np = rng.standard_normal((5, 3)).astype(np.float32)
    names = {}
    for lib in (torch, ember):
        step = _step(lib, x_np, y_np)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                                      record_shapes=True) as prof:
                step()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=100)
        rows = table.splitlines()[3:-2]
        names[lib] = {row[:55].strip() for row in rows}
        assert table.splitlines()[-1].startswith("Self CPU time total: ")
    t_names, e_names = names[torch], names[ember]
    assert t_names - e_names == TORCH_ONLY
    assert e_names <= t_names
    # every node and every evaluate_function row is torch's
    assert {n for n in t_names if not n.startswith("aten::")} - TORCH_ONLY == \
        {n for n in e_names if not n.startswith("aten::")}


def _forward_events(lib, x_np, y_np, bias):
    lib.manual_seed(0)
    lin = lib.nn.Linear(4, 3, bias=bias)
    x, y = lib.tensor(x_np), lib.tensor(y_np)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.profiler.profile(record_shapes=True) as prof:
            lib.nn.functional.mse_loss(lib.relu(lin(x)), y)
    return prof.events()


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 5, 4)])
def test_forward_ranges_nest_as_torch(x_shape):
    # every (op, its parent) of ember's forward is one of torch's: linear around its ops,
    # clamp_min inside relu, mean inside mse_loss
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal(x_shape).astype(np.float32)
    y_np = rng.standard_normal(x_shape[:-1] + (3,)).astype(np.float32)
    found = {}
    for lib in (torch, ember):
        found[lib] = {(e.name, e.cpu_parent.name if e.cpu_parent else None)
                      for e in _forward_events(lib, x_np, y_np, True)}
    assert found[ember] <= found[torch]
    assert {name for name, _ in found[ember]} >= {
        "aten::linear", "aten::clamp_min", "aten::mean"}


@pytest.mark.parametrize("bias", [True, False])
def test_linear_range_shapes_match_torch(bias):
    x_np = np.ones((5, 4), np.float32)
    y_np = np.ones((5, 3), np.float32)
    shapes = {}
    for lib in (torch, ember):
        shapes[lib] = {e.name: e.input_shapes for e in _forward_events(lib, x_np, y_np, bias)
                       if e.name in ("aten::linear", "aten::clamp_min", "aten::mean")}
    assert shapes[ember] == shapes[torch]


def test_shapes_and_parents_of_recorded_events():
    x = ember.randn(5, 4, requires_grad=True)
    with eprof.profile(record_shapes=True) as prof:
        (x.t() * 2).sum().backward()
    by_name = {}
    for e in prof.function_events:  # the first event of each name
        by_name.setdefault(e.name, e)
    assert by_name["aten::t"].input_shapes == [[5, 4]]
    assert by_name["aten::mul"].input_shapes == [[4, 5], []]
    node = by_name["MulBackward0"]
    assert node.cpu_parent is by_name["autograd::engine::evaluate_function: MulBackward0"]
    assert node.input_shapes == [[4, 5]]
    assert all(c.cpu_parent is node for c in node.cpu_children)
    assert node.self_cpu_time_total <= node.cpu_time_total
    for e in prof.function_events:
        assert e.end_us >= e.start_us
    grouped = prof.key_averages(group_by_input_shape=True)
    assert "Input Shapes" in grouped.table()
    with eprof.profile() as plain:
        x * 2
    assert plain.function_events[0].input_shapes == []
    assert "Input Shapes" not in plain.key_averages().table()


def test_recording_keeps_no_object_per_event():
    # NOTE [Profiler records]: what recording keeps must not bring on garbage collections
    # the program would not have had (their pauses would be timed as part of some op); the
    # events become objects only when asked for
    x = ember.ones(3, requires_grad=True)

    def work(count: int) -> None:
        for _ in range(count):
            with ember.profiler.record_function("step"):
                ember.relu(x * 2).sum().backward()

    def made_less_freed(profiled: bool) -> int:
        # the collector's count of tracked objects made less those freed, which starts a
        # collection when it passes a threshold
        with eprof.profile(record_shapes=True, enabled=profiled) as prof:
            work(5)  # what is made once (caches, first calls)
            gc.collect()
            work(300)
            count = gc.get_count()[0]
        return count, prof

    enabled = gc.isenabled()
    gc.disable()
    try:
        plain, _ = made_less_freed(False)
        profiled, prof = made_less_freed(True)
    finally:
        if enabled:
            gc.enable()
    events = len(prof.function_events)
    assert events >= 300 * 13
    assert profiled - plain < events // 100, (profiled, plain)


def test_events_of_two_threads():
    x = ember.ones(3, requires_grad=True)
    idents = {}

    def worker() -> None:
        idents["worker"] = threading.get_ident()
        with ember.profiler.record_function("in worker"):
            ember.relu(x * 3)

    with eprof.profile() as prof:
        with ember.profiler.record_function("in main"):
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join(timeout=60)
            x - 1
    assert not thread.is_alive()
    events = prof.function_events
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert [e.start_us for e in events] == sorted(e.start_us for e in events)
    by_name = {e.name: e for e in events}
    main, work = by_name["in main"], by_name["in worker"]
    assert main.thread == threading.get_ident() and work.thread == idents["worker"]
    # nesting stays within each thread: the worker's range is not a child of main's
    assert work.cpu_parent is None
    assert [(c.name, c.thread) for c in work.cpu_children] == [
        ("aten::mul", idents["worker"]), ("aten::relu", idents["worker"])]
    assert [c.name for c in by_name["aten::relu"].cpu_children] == ["aten::clamp_min"]
    assert [c.name for c in main.cpu_children] == ["aten::sub"]
    assert all(e.start_us <= e.end_us for e in events)
    assert main.start_us <= work.start_us and work.end_us <= main.end_us


def test_ranges_left_open_end_at_stop_and_out_of_order_closes():
    x = ember.ones(3)
    with eprof.profile() as prof:
        outer = ember.profiler.record_function("outer").__enter__()
        inner = ember.profiler.record_function("inner").__enter__()
        outer.__exit__(None, None, None)  # closed before the range inside it
        x + 1  # outer is closed: the add is inner's
        inner.__exit__(None, None, None)
        ember.profiler.record_function("left open").__enter__()
        x * 2
    by_name = {e.name: e for e in prof.function_events}
    assert by_name["aten::add"].cpu_parent is by_name["inner"]
    assert by_name["outer"].end_us <= by_name["aten::add"].start_us
    assert by_name["inner"].end_us >= by_name["aten::add"].end_us
    assert by_name["left open"].end_us >= by_name["aten::mul"].end_us
    assert by_name["aten::mul"].cpu_parent is by_name["left open"]


def test_record_function_context_and_decorator():
    x = ember.ones(3)

    @ember.profiler.record_function("deco")
    def f():
        return x - 1

    with ember.profiler.profile() as prof:
        f()
        with ember.profiler.record_function("outer", "argstr"):
            x * 3
    parents = [(e.name, e.cpu_parent and e.cpu_parent.name) for e in prof.events()]
    assert parents == [("deco", None), ("aten::sub", "deco"), ("outer", None),
                       ("aten::mul", "outer")]
    with ember.autograd.profiler.record_function("idle"):  # no profiler: nothing recorded
        x + 1


def test_chrome_trace_loads(tmp_path):
    x = ember.randn(3, 3, requires_grad=True)
    with ember.profiler.profile(record_shapes=True) as prof:
        with ember.profiler.record_function("region"):
            (x @ x).relu().sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == len(prof.events())
    for span, event in zip(spans, prof.events()):
        assert span["name"] == event.name
        assert span["dur"] >= 0 and isinstance(span["ts"], float)
        assert {"pid", "tid", "cat", "args"} <= span.keys()
    region = spans[0]
    assert region["cat"] == "user_annotation"
    inside = [s for s in spans[1:] if s["name"] == "aten::mm"]
    assert inside and region["ts"] <= inside[0]["ts"] <= region["ts"] + region["dur"]
    assert inside[0]["args"]["Input Dims"] == [[3, 3], [3, 3]]


@pytest.mark.parametrize("kwargs", [
    dict(wait=1, warmup=1, active=2),
    dict(wait=1, warmup=1, active=2, repeat=2, skip_first=1),
    dict(wait=2, warmup=1, active=1, repeat=1),
    dict(wait=2, warmup=1, active=3, skip_first_wait=1),
    dict(wait=0, warmup=2, active=1, repeat=3, skip_first=2, skip_first_wait=1),
])
def test_schedule_matches_torch(kwargs):
    t_sched = torch.profiler.schedule(**kwargs)
    e_sched = ember.profiler.schedule(**kwargs)
    assert [e_sched(i).name for i in range(20)] == [t_sched(i).name for i in range(20)]


def test_scheduled_profile_cycles_like_torch():
    results = {}
    for lib in (torch, ember):
        ready = []
        x = lib.ones(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.profiler.profile(
                    schedule=lib.profiler.schedule(wait=1, warmup=1, active=2, repeat=2),
                    on_trace_ready=lambda p, ready=ready: ready.append(
                        [e.name for e in p.events() if e.name in ("ProfilerStep*", "aten::add",
                                                                  "mystep")])) as p:
                for i in range(10):
                    with lib.profiler.record_function("mystep"):
                        x + i
                    p.step()
        results[lib] = (ready, p.step_num, p.current_action.name)
    assert results[ember] == results[torch]


def test_profiler_off_leaves_the_op_path_alone():
    assert registry._modes == () and engine.profiler is None
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(ValueError):
        with ember.profiler.profile():
            (x * 2).sum().backward()
            raise ValueError("inside")
    assert registry._modes == () and engine.profiler is None
    with eprof.profile(enabled=False) as prof:
        x * 2
    assert registry._modes == ()
    with pytest.raises(RuntimeError, match="didn't finish"):
        prof.key_averages()


def test_legacy_profile_results():
    x = ember.ones(3)
    with ember.autograd.profiler.profile() as prof:
        x * 2
        x + 1
    assert [e.name for e in prof.function_events] == ["aten::mul", "aten::add"]
    assert prof.self_cpu_time_total == pytest.approx(
        sum(e.self_cpu_time_total for e in prof.function_events))
    assert prof.total_average().count == 2
    assert prof.table() == prof.function_events.table()
    assert str(prof) == prof.function_events.table()


def test_profiler_activity_and_action_names_match_torch():
    assert str(ember.profiler.ProfilerActivity.CPU) == str(torch.profiler.ProfilerActivity.CPU)
    assert repr(ember.profiler.ProfilerActivity.CPU) == repr(
        torch.profiler.ProfilerActivity.CPU)
    assert [a.name for a in ember.profiler.ProfilerAction] == [
        a.name for a in torch.profiler.ProfilerAction][:4]


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_optimizer_ranges_as_torch(name):
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        lin = lib.nn.Linear(4, 3)
        opt = getattr(lib.optim, name)(lin.parameters(), lr=0.1)
        x = lib.ones(5, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.profiler.profile() as prof:
                opt.zero_grad()
                lin(x).sum().backward()
                opt.step()
        found[lib] = [(e.name, e.cpu_parent) for e in prof.events()
                      if e.name.startswith("Optimizer.")]
    assert found[ember] == found[torch] == [
        (f"Optimizer.zero_grad#{name}.zero_grad", None), (f"Optimizer.step#{name}.step", None)]
