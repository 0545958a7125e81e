"""DistributedDataParallel and SyncBatchNorm on real 2-process MPI jobs.

One ``mpirun -n 2`` job (tests/ddp_scripts/train_check.py) trains several models and saves
each rank's final state; the tests compare the ranks with each other bit for bit and with a
single-process run on the concatenated batches (ember here, and torch where cheap). Other
jobs run a torch-style script under ``python -m ember.distributed.run`` and the DDP example.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ember
from tests.helpers import TOLERANCES, torch

pytest.importorskip("mpi4py")

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "ddp_scripts"
MPIRUN = Path(sys.executable).parent / "mpirun"
if not MPIRUN.exists():
    MPIRUN = shutil.which("mpirun")
if MPIRUN is None:
    pytest.skip("no mpirun", allow_module_level=True)

ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "PYTHONPATH": str(ROOT), "OMPI_MCA_rmaps_base_oversubscribe": "1"}
RTOL, ATOL = TOLERANCES["float32"]


def _job(command: list, cwd: Path, timeout: float = 120) -> str:
    """Runs a job to completion (killed after ``timeout``); its output, asserting success."""
    proc = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _load_script():
    spec = importlib.util.spec_from_file_location("ddp_train_check",
                                                  SCRIPTS / "train_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    _job([str(MPIRUN), "-n", "2", sys.executable, str(SCRIPTS / "train_check.py"), str(out)],
         ROOT)
    return out


def _state(out: Path, name: str, rank: int) -> dict:
    with np.load(out / f"{name}_rank{rank}.npz") as f:
        return dict(f)


def _rank_batches(kind: str, micro: int, lib=ember) -> list:
    """The (x, y) batches of both ranks, step by step, as the job's samplers deal them."""
    dataset = script.data(kind)
    loaders = []
    for rank in range(2):
        sampler = ember.utils.data.DistributedSampler(dataset, 2, rank, shuffle=True, seed=3)
        loaders.append((sampler, ember.utils.data.DataLoader(dataset, batch_size=micro,
                                                             sampler=sampler)))
    steps = []
    for epoch in range(2):
        for sampler, _ in loaders:
            sampler.set_epoch(epoch)
        pairs = zip(*(loader for _, loader in loaders))
        for _, pair in zip(range(script.STEPS // 2 * (script.BATCH // micro)), pairs):
            steps.append([(lib.from_numpy(x.numpy()), lib.from_numpy(y.numpy()))
                          for x, y in pair])
    return steps


def _reference(kind: str, lib=ember) -> dict:
    """One process trains on the concatenated batches of both ranks; its final state dict
    (with the keys the DDP run saved)."""
    ember.manual_seed(100)
    model = script.build(kind.split("_")[0])
    if lib is torch:
        initial = model.state_dict()
        model = script.build(kind.split("_")[0], torch.nn)
        model.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in initial.items()})
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ce = lib.nn.functional.cross_entropy
    accumulate = kind.endswith("_accum")
    steps = _rank_batches(kind.split("_")[0], script.BATCH // 2 if accumulate else
                          script.BATCH, lib)
    if accumulate:  # two micro-batches per step: one large batch of all four
        steps = [steps[i] + steps[i + 1] for i in range(0, len(steps), 2)]
    for batches in steps:
        optimizer.zero_grad()
        if kind == "cnn":
            # plain BatchNorm under DDP: each rank normalises its own half, and rank 0's
            # running statistics are the ones broadcast (so rank 1's update is dropped)
            buffers = [b.clone() for b in model.buffers()]
            out1 = model(batches[1][0])
            with lib.no_grad():
                for b, saved in zip(model.buffers(), buffers):
                    b.copy_(saved)
            loss = (ce(model(batches[0][0]), batches[0][1]) + ce(out1, batches[1][1])) / 2
        else:
            x = lib.cat([b[0] for b in batches])
            y = lib.cat([b[1] for b in batches])
            loss = ce(model(x), y)
        loss.backward()
        optimizer.step()
    return {f"module.{k}": v.detach().numpy() for k, v in model.state_dict().items()}


def _assert_close(actual: dict, expected: dict, keys=None) -> None:
    for key in keys or expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=RTOL, atol=ATOL,
                                   err_msg=key)


@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn_sync", "mlp_accum", "mlp_view"])
def test_ranks_identical_and_equal_to_one_process(trained, name):
    rank0, rank1 = _state(trained, name, 0), _state(trained, name, 1)
    params = [k for k in rank0 if "running" not in k and "num_batches" not in k]
    for key in params if name == "cnn" else rank0:  # plain BN: rank-local running stats
        assert np.array_equal(rank0[key], rank1[key]), key
    kind = "mlp" if name == "mlp_view" else name
    _assert_close(rank0, _reference(kind))


@pytest.mark.parametrize("kind", ["mlp", "cnn_sync"])
def test_one_process_reference_matches_torch(kind):
    expected = _reference(kind, torch)
    _assert_close(_reference(kind), expected)


def test_find_unused_parameters(trained):
    ember.manual_seed(5)
    model = script.WithUnused()
    ranks = [_state(trained, "unused", r) for r in range(2)]
    for step in range(3):
        use_spare = step == 1
        expected = {}
        for state in ranks:
            model.zero_grad()
            model(ember.from_numpy(state["x"]), use_spare).sum().backward()
            for n, p in model.named_parameters():
                if p.grad is not None:
                    expected[n] = expected.get(n, 0) + p.grad.numpy() / 2
        for state in ranks:
            got = {k.split("/", 1)[1]: v for k, v in state.items() if k.startswith(f"{step}/")}
            assert sorted(got) == sorted(expected)  # no rank used spare: its grad stays None
            _assert_close(got, expected)


TORCH_CONSTRUCTOR = r"""
import json, sys, warnings
import torch, torch.distributed as dist, torch.nn as nn
sys.path.insert(0, sys.argv[1])
from tests.ddp_scripts.train_check import build


class WithUnused(nn.Module):  # train_check.WithUnused in torch.nn
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(12, 5)
        self.spare = nn.Linear(12, 5)

    def forward(self, x, use_spare):
        out = self.body(x)
        return out + self.spare(x) if use_spare else out


dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
results = {}
cases = {"device_ids": dict(device_ids=[0]), "two_ids": dict(device_ids=[0, 1]),
         "output_device0": dict(output_device=0), "check_reduction":
         dict(check_reduction=True), "broadcast_buffers": dict(broadcast_buffers=False),
         "both": dict(broadcast_buffers=True, forward_sync_buffers=True)}
for name, kwargs in cases.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nn.parallel.DistributedDataParallel(nn.Linear(2, 2), **kwargs)
            results[name] = ["ok", [str(w.message) for w in caught]]
        except Exception as error:
            results[name] = [type(error).__name__, str(error)]
try:
    nn.parallel.DistributedDataParallel(nn.ReLU())
except RuntimeError as error:
    results["no_params"] = ["RuntimeError", str(error)]
ddp = nn.parallel.DistributedDataParallel(build("mlp", nn))
results["keys"] = list(ddp.state_dict())
results["attrs"] = [ddp.dim, ddp.broadcast_buffers, ddp.find_unused_parameters,
                    ddp.gradient_as_bucket_view, ddp.static_graph,
                    ddp.require_backward_grad_sync, ddp.bucket_bytes_cap,
                    ddp.device_ids, ddp.output_device]
results["repr"] = repr(ddp)
plain = nn.parallel.DistributedDataParallel(WithUnused())
x = torch.ones(4, 12)
plain(x, use_spare=False).sum().backward()
try:
    plain(x, use_spare=False)
except RuntimeError as error:
    results["unfinished"] = str(error)
print(json.dumps(results))
"""


def test_constructor_and_errors_match_torch(trained):
    torch_results = json.loads(_job([sys.executable, "-c", TORCH_CONSTRUCTOR, str(ROOT)],
                                    ROOT).splitlines()[-1])
    ours = json.loads((trained / "constructor.json").read_text())
    for key, value in ours.items():
        assert value == torch_results[key], key
    for rank in range(2):
        message = (trained / f"unfinished_rank{rank}.txt").read_text()
        assert message == repr(torch_results["unfinished"].replace("rank 0", f"rank {rank}"))


def test_bucket_assignment_matches_torch():
    sizes = [100000, 200000, 50000, 300000, 10, 400000, 262144, 5]
    dtypes = ["float32"] * 3 + ["float64"] + ["float32"] * 4
    for limits in ([1 << 20, 25 << 20], [1 << 20, 2 << 20], [400000, 800000], [1 << 40]):
        ours = ember.nn.parallel.distributed.bucket_assignment(
            [ember.zeros(n, dtype=getattr(ember, d)) for n, d in zip(sizes, dtypes)], limits)
        theirs = torch.distributed._compute_bucket_assignment_by_size(
            [torch.zeros(n, dtype=getattr(torch, d)) for n, d in zip(sizes, dtypes)], limits,
            [False] * len(sizes))
        assert ours == (theirs[0], list(theirs[1]))


TORCH_STYLE_SCRIPT = """
import import_ember_as_torch as torch

dist = torch.distributed
torch.distributed.init_process_group(backend="mpi")
rank, world = dist.get_rank(), dist.get_world_size()
dataset = torch.utils.data.TensorDataset(torch.randn(64, 6, generator=torch.Generator()
                                         .manual_seed(0)), torch.arange(64) % 3)
sampler = torch.utils.data.distributed.DistributedSampler(dataset)
loader = torch.utils.data.DataLoader(dataset, batch_size=8, sampler=sampler)
torch.manual_seed(rank)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(
    torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 3)))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(2):
    sampler.set_epoch(epoch)
    for x, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
if rank == 0:
    torch.save(model.state_dict(), "ddp.pt")
dist.barrier()
print("rank", rank, "of", world, "sum", sum(p.sum().item() for p in model.parameters()))
dist.destroy_process_group()
""".replace("import import_ember_as_torch as torch", "import ember as torch")


def test_torch_script_under_launcher(tmp_path):
    (tmp_path / "train.py").write_text(textwrap.dedent(TORCH_STYLE_SCRIPT))
    out = _job([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                "train.py"], tmp_path)
    sums = sorted(line.split()[-1] for line in out.splitlines() if line.startswith("rank"))
    assert len(sums) == 2 and sums[0] == sums[1]  # the replicas ended identical
    state = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert next(iter(state)) == "module.0.weight"


def test_example_quick(tmp_path):
    out = _job([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                str(ROOT / "examples" / "ddp_digits.py"), "--quick", "--out",
                str(tmp_path)], tmp_path)
    assert "rank 0: epoch 1/1" in out and "rank 1: epoch 1/1" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 50
    from ember.examples.digits import build_model

    model = build_model(torch.nn)  # the same CNN in PyTorch loads rank 0's checkpoint
    model.load_state_dict(torch.load(tmp_path / "ddp_digits_cnn.pt", weights_only=True))
