"""``ember.multiprocessing`` compared with ``torch.multiprocessing``: tensors sent between
processes share memory, the sharing strategies, and ``spawn``/``start_processes`` with their
join semantics and errors. Every process is bounded by a timeout and cleaned up."""
from __future__ import annotations

import os
import signal
import time
import warnings
from multiprocessing.reduction import ForkingPickler

import pytest

import ember
import ember.multiprocessing as emp
from tests.helpers import assert_same, check_raises_like, torch

tmp = pytest.importorskip("torch.multiprocessing")

TIMEOUT = 60


def _lib(name: str):
    return ember if name == "ember" else torch


def _mp(name: str):
    return emp if name == "ember" else tmp


# ---- children (module level: a spawned process imports them) ------------------------------

def _add_one_and_reply(inbox, outbox, done) -> None:
    t = inbox.get(timeout=TIMEOUT)
    t.add_(1)
    outbox.put(t[1:])
    done.wait(TIMEOUT)  # the receiver takes the descriptor from this process


def _ok(i: int, path: str) -> None:
    with open(f"{path}.{i}", "w") as f:
        f.write(str(i))


def _raise_in_one(i: int) -> None:
    if i == 1:
        raise ValueError(f"bad {i}")
    time.sleep(TIMEOUT)


def _exit_in_one(i: int, code: int) -> None:
    if i == 0:
        raise SystemExit(code)
    time.sleep(TIMEOUT)


def _killed(i: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(i: int, seconds: float) -> None:
    time.sleep(seconds)


def _sum(t):
    return t.sum()


# ---- namespace and strategies -----------------------------------------------------------

def test_namespace_has_torch_names():
    assert set(tmp.__all__) <= set(emp.__all__)
    for name in ("Process", "Pool", "Queue", "SimpleQueue", "get_context", "set_start_method",
                 "ProcessContext", "ProcessRaisedException", "ProcessExitedException",
                 "SpawnContext", "spawn", "start_processes", "init_reductions"):
        assert hasattr(emp, name), name
    assert emp.get_context is tmp.get_context  # both are multiprocessing's


def test_sharing_strategies():
    assert emp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert emp.get_sharing_strategy() == tmp.get_sharing_strategy()
    for lib_mp in (emp, tmp):
        with pytest.raises(AssertionError, match="invalid sharing strategy 'x', expected one "
                                                 "of"):
            lib_mp.set_sharing_strategy("x")
    try:
        emp.set_sharing_strategy("file_system")
        tmp.set_sharing_strategy("file_system")
        assert emp.get_sharing_strategy() == tmp.get_sharing_strategy()
    finally:
        emp.set_sharing_strategy("file_descriptor")
        tmp.set_sharing_strategy("file_descriptor")


def test_exceptions_match_torch():
    for cls in ("ProcessRaisedException", "ProcessExitedException"):
        assert [c.__name__ for c in getattr(emp, cls).__mro__] == \
            [c.__name__ for c in getattr(tmp, cls).__mro__]
    import pickle

    for lib_mp in (emp, tmp):
        exc = lib_mp.ProcessExitedException("m", 1, 22, 3, "SIGX")
        back = pickle.loads(pickle.dumps(exc))
        assert (str(back), back.error_index, back.error_pid, back.exit_code,
                back.signal_name) == ("m", 1, 22, 3, "SIGX")
        raised = lib_mp.ProcessRaisedException("m", 1, 22)
        assert (str(raised), raised.error_index, raised.error_pid) == ("m", 1, 22)


def test_spawn_context_is_deprecated():
    caught = {}
    for name in ("ember", "torch"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            _mp(name).SpawnContext([], [])
        caught[name] = [(x.category, str(x.message)) for x in w]
    assert caught["ember"] == caught["torch"]


# ---- tensors through queues share memory --------------------------------------------------

def _round_trip(name: str, method: str, strategy: str):
    lib, lib_mp = _lib(name), _mp(name)
    lib_mp.set_sharing_strategy(strategy)
    ctx = lib_mp.get_context(method)
    inbox, outbox, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    t = lib.arange(5.0)
    view = t[2:]
    child = ctx.Process(target=_add_one_and_reply, args=(inbox, outbox, done))
    child.start()
    try:
        inbox.put(t)
        back = outbox.get(timeout=TIMEOUT)
        done.set()
        child.join(TIMEOUT)
        exitcode = child.exitcode
        back.mul_(10)  # the child's slice is the parent's memory too
        return t, view, back, t.is_shared(), back.is_shared(), exitcode
    finally:
        done.set()
        if child.is_alive():
            child.kill()
            child.join()
        lib_mp.set_sharing_strategy("file_descriptor")


# each strategy forked, and one spawned run (a spawned child imports torch: slow)
@pytest.mark.parametrize("method,strategy", [("fork", "file_descriptor"), ("fork", "file_system"),
                                             ("spawn", "file_descriptor")])
def test_queue_shares_memory(method, strategy):
    e_t, e_view, e_back, *e_flags = _round_trip("ember", method, strategy)
    t_t, t_view, t_back, *t_flags = _round_trip("torch", "fork", strategy)
    assert_same(e_t, t_t)
    assert_same(e_view, t_view)
    assert_same(e_back, t_back)
    assert e_flags == t_flags


def test_pickled_tensor_keeps_layout_and_requires_grad():
    seen = {}
    for name in ("ember", "torch"):
        lib = _lib(name)
        base = lib.arange(12.0).reshape(3, 4)
        seen[name] = []
        for t in (base.t(), base[1:, ::2], lib.ones(2, requires_grad=True), lib.zeros(0),
                  lib.tensor(3.5)):
            back = ForkingPickler.loads(ForkingPickler.dumps(t))
            seen[name].append((back.tolist(), back.requires_grad, back.stride(),
                               back.is_shared(), t.is_shared()))
    assert seen["ember"] == seen["torch"]


def test_non_leaf_requiring_grad_is_refused():
    check_raises_like(lambda lib: ForkingPickler.dumps(lib.ones(2, requires_grad=True) * 2))


def test_pool_maps_tensors():
    results = {}
    for name in ("ember", "torch"):
        lib, lib_mp = _lib(name), _mp(name)
        with lib_mp.get_context("fork").Pool(2) as pool:
            results[name] = pool.map(_sum, [lib.ones(3), lib.arange(4.0)], chunksize=1)
    for e, t in zip(results["ember"], results["torch"]):
        assert_same(e, t)


# ---- spawn / start_processes --------------------------------------------------------------

def test_start_processes_runs_every_index(tmp_path):
    path = str(tmp_path / "out")
    assert emp.start_processes(_ok, args=(path,), nprocs=3, start_method="fork") is None
    assert sorted(open(f"{path}.{i}").read() for i in range(3)) == ["0", "1", "2"]


def test_spawn_uses_spawn(tmp_path):
    path = str(tmp_path / "out")
    assert emp.spawn(_ok, args=(path,), nprocs=1) is None
    assert open(f"{path}.0").read() == "0"


def test_spawn_other_method_warns():
    caught = {}
    for name in ("ember", "torch"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert _mp(name).spawn(_ok, args=("unused",), nprocs=0, start_method="fork") is None
        caught[name] = [(x.category, str(x.message)) for x in w]
    assert caught["ember"] == caught["torch"]


def test_start_processes_unknown_method():
    for lib_mp in (emp, tmp):
        with pytest.raises(ValueError, match="cannot find context for 'bogus'"):
            lib_mp.start_processes(_ok, args=("unused",), start_method="bogus")


def test_process_context_join_without_blocking():
    for lib_mp in (emp, tmp):
        context = lib_mp.start_processes(_sleep, args=(1.0,), nprocs=2, join=False,
                                         start_method="fork")
        try:
            assert type(context).__name__ == "ProcessContext"
            assert context.pids() == [p.pid for p in context.processes]
            assert context.join(0.01) is False
            deadline = time.monotonic() + TIMEOUT
            while not context.join(1) and time.monotonic() < deadline:
                pass
            assert context.join() is True
            assert all(p.exitcode == 0 for p in context.processes)
        finally:
            for process in context.processes:
                process.kill()


def _failure(lib_mp, fn, args=()):
    start = time.monotonic()
    with pytest.raises((lib_mp.ProcessRaisedException, lib_mp.ProcessExitedException)) as info:
        lib_mp.start_processes(fn, args=args, nprocs=2, start_method="fork")
    assert time.monotonic() - start < TIMEOUT / 2  # the sleeping sibling was stopped
    return info.value


def test_raised_exception_carries_the_traceback():
    e_exc, t_exc = _failure(emp, _raise_in_one), _failure(tmp, _raise_in_one)
    assert type(e_exc).__name__ == type(t_exc).__name__ == "ProcessRaisedException"
    assert e_exc.error_index == t_exc.error_index == 1
    e_lines, t_lines = str(e_exc).splitlines(), str(t_exc).splitlines()
    assert e_lines[:4] == t_lines[:4]  # heading and "Traceback (most recent call last):"
    assert e_lines[-1] == t_lines[-1] == "ValueError: bad 1"


@pytest.mark.parametrize("fn,args", [(_exit_in_one, (3,)), (_killed, ())])
def test_exited_process(fn, args):
    e_exc, t_exc = _failure(emp, fn, args), _failure(tmp, fn, args)
    assert type(e_exc).__name__ == type(t_exc).__name__ == "ProcessExitedException"
    assert str(e_exc).split()[2:] == str(t_exc).split()[2:]  # after "process <i>"
    assert (e_exc.exit_code, e_exc.signal_name) == (t_exc.exit_code, t_exc.signal_name)
