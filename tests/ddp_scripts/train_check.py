"""A DDP job for tests/test_ddp.py: trains small models data-parallel and saves each rank's
final parameters and buffers (and a few observations) for the test to compare.

Run as ``mpirun -n 2 python tests/ddp_scripts/train_check.py OUT_DIR``.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

import ember as torch
import ember.distributed as dist
from ember import nn
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset

STEPS = 20
BATCH = 8  # per rank


def data(kind: str) -> TensorDataset:
    """The dataset of a run, the same on every rank (and in the test's reference)."""
    rng = np.random.default_rng(7)
    shape = (STEPS * BATCH, 12) if kind == "mlp" else (STEPS * BATCH, 2, 6, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 5, len(x))
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def build(kind: str, nn=nn):
    """The model of a run; ``nn`` is ember.nn or torch.nn (the test's torch reference)."""
    if kind == "mlp":
        return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, 5))
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 5))


class WithUnused(nn.Module):
    """A module whose ``spare`` layer takes part only on odd steps."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(12, 5)
        self.spare = nn.Linear(12, 5)

    def forward(self, x, use_spare: bool):
        out = self.body(x)
        return out + self.spare(x) if use_spare else out


def train(kind: str, rank: int, out: Path, **ddp_kwargs) -> None:
    torch.manual_seed(100 + rank)  # different on each rank: DDP must broadcast rank 0's
    model = build(kind.removesuffix("_sync").removesuffix("_accum"))
    if kind.endswith("_sync"):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = nn.parallel.DistributedDataParallel(model, **ddp_kwargs)
    dataset = data(kind.split("_")[0])
    sampler = DistributedSampler(dataset, shuffle=True, seed=3)
    micro = BATCH // 2 if kind.endswith("_accum") else BATCH
    loader = DataLoader(dataset, batch_size=micro, sampler=sampler)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    step = 0
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = iter(loader)
        for x, y in batches:
            optimizer.zero_grad()
            if kind.endswith("_accum"):
                with ddp.no_sync():
                    (nn.functional.cross_entropy(ddp(x), y) / 2).backward()
                x, y = next(batches)
                (nn.functional.cross_entropy(ddp(x), y) / 2).backward()
            else:
                nn.functional.cross_entropy(ddp(x), y).backward()
            optimizer.step()
            step += 1
            if step == STEPS // 2:
                break
    state = {k: v.numpy() for k, v in ddp.state_dict().items()}
    np.savez(out / f"{kind}{'_view' if ddp_kwargs else ''}_rank{rank}.npz", **state)


def unused(rank: int, out: Path) -> None:
    torch.manual_seed(5)
    ddp = nn.parallel.DistributedDataParallel(WithUnused(), find_unused_parameters=True)
    rng = np.random.default_rng(rank)
    x = torch.from_numpy(rng.standard_normal((4, 12)).astype(np.float32))
    grads = []
    for step in range(3):
        ddp.zero_grad()
        ddp(x, use_spare=step == 1).sum().backward()
        grads.append({n: None if p.grad is None else p.grad.numpy().copy()
                      for n, p in ddp.module.named_parameters()})
    np.savez(out / f"unused_rank{rank}.npz", x=x.numpy(),
             **{f"{i}/{n}": g for i, g_i in enumerate(grads) for n, g in g_i.items()
                if g is not None})
    # without find_unused_parameters an unused parameter leaves the reduction unfinished
    plain = nn.parallel.DistributedDataParallel(WithUnused())
    plain(x, use_spare=False).sum().backward()
    try:
        plain(x, use_spare=False)
        message = None
    except RuntimeError as error:
        message = str(error)
    (out / f"unfinished_rank{rank}.txt").write_text(repr(message))


def constructor_errors(rank: int, out: Path) -> None:
    """Exceptions and warnings of DDP's constructor, recorded for the test to compare with
    torch's (run on every rank: a construction broadcasts)."""
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
            except Exception as error:  # noqa: BLE001 - recorded for comparison
                results[name] = [type(error).__name__, str(error)]
    try:
        nn.parallel.DistributedDataParallel(nn.ReLU())
    except RuntimeError as error:
        results["no_params"] = ["RuntimeError", str(error)]
    ddp = nn.parallel.DistributedDataParallel(build("mlp"))
    results["keys"] = list(ddp.state_dict())
    results["attrs"] = [ddp.dim, ddp.broadcast_buffers, ddp.find_unused_parameters,
                        ddp.gradient_as_bucket_view, ddp.static_graph,
                        ddp.require_backward_grad_sync, ddp.bucket_bytes_cap,
                        ddp.device_ids, ddp.output_device]
    results["repr"] = repr(ddp)
    if rank == 0:
        (out / "constructor.json").write_text(json.dumps(results))


def main() -> None:
    out = Path(sys.argv[1])
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    for kind in ("mlp", "cnn", "cnn_sync", "mlp_accum"):
        train(kind, rank, out)
    # several small buckets, gradients as bucket views, copies batched per bucket
    train("mlp", rank, out, bucket_cap_mb=0.002, gradient_as_bucket_view=True,
          batched_grad_copy=True)
    unused(rank, out)
    constructor_errors(rank, out)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
