"""Data-parallel training of the digits CNN on several processes (DistributedDataParallel).

An ordinary PyTorch DDP script; ``import ember as torch`` is the only difference. Run it with

    python -m ember.distributed.run --nproc-per-node 2 examples/ddp_digits.py
    mpirun -n 2 python examples/ddp_digits.py            # the same, by hand

Each process trains on its own shard of every epoch (DistributedSampler), DDP averages the
gradients across the processes during backward, so all replicas stay identical and the
job trains as one process would on the full batch (``--batch-size`` is per process).
Each rank prints its throughput; rank 0 prints the loss every 10 steps and the test
accuracy, and saves the checkpoint (a state_dict in PyTorch's format). Started alone
(``python examples/ddp_digits.py``) it is a group of one process. Under PyTorch (``import
torch``, ranks started with torchrun) the same code runs on the gloo backend; ember takes
"gloo" as a name for its MPI backend. ``--quick`` is a smoke test. The data are the digits
bundled with ember (see ``ember/data/README.md``).
"""
from __future__ import annotations

import argparse
import gzip
import os
import time
from importlib import resources
from pathlib import Path

import numpy as np

import ember as torch

# attributes, not ``from torch import ...``: an import statement would find the real torch
dist = torch.distributed
nn = torch.nn
DDP = torch.nn.parallel.DistributedDataParallel
DataLoader = torch.utils.data.DataLoader
DistributedSampler = torch.utils.data.DistributedSampler
TensorDataset = torch.utils.data.TensorDataset


def load_digits(seed: int) -> tuple:
    """(train, test) TensorDatasets of 1x8x8 images in [0, 1] and labels: a fixed 80/20
    split of the bundled digits, the same on every rank."""
    path = resources.files("ember") / "data" / "digits.csv.gz"
    with gzip.open(path.open("rb"), "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    images = (table[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    order = np.random.default_rng(seed).permutation(len(table))
    cut = int(0.8 * len(table))
    parts = [order[:cut], order[cut:]]
    return tuple(TensorDataset(torch.from_numpy(images[p]), torch.from_numpy(table[p, 64]))
                 for p in parts)


def build_model() -> nn.Module:
    """The CNN of ``python -m ember.examples.digits``."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 10),
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Data-parallel digits CNN.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sync-bn", action="store_true",
                        help="batch statistics over all processes (SyncBatchNorm)")
    parser.add_argument("--out", type=Path, default=Path("ember-ddp-out"))
    parser.add_argument("--quick", action="store_true", help="1 epoch: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1
    return args


def main() -> None:
    args = parse_args()
    # A process started alone is a group of one (torchrun and mpirun set these for ranks).
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "29500")):
        os.environ.setdefault(name, value)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    train_set, test_set = load_digits(args.seed)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)

    torch.manual_seed(args.seed + rank)  # DDP starts every rank from rank 0's weights
    model = build_model()
    if args.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = DDP(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if rank == 0:
        print(f"{world} processes, {len(train_set)} training digits, "
              f"{args.batch_size} per process and step")

    step = 0
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        seen, total_loss, start = 0, 0.0, time.perf_counter()
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(labels)
            total_loss += loss.item() * len(labels)
            if rank == 0 and step % 10 == 0:
                print(f"loss {step} {loss.item():.4f}", flush=True)
            step += 1
        rate = seen / (time.perf_counter() - start)
        print(f"rank {rank}: epoch {epoch}/{args.epochs} loss {total_loss / seen:.4f}, "
              f"{rate:,.0f} img/s", flush=True)

    if rank == 0:
        # the wrapped module itself: DDP's forward would wait for the other ranks
        model.module.eval()
        images, labels = test_set.tensors
        with torch.no_grad():
            accuracy = (model.module(images).argmax(1) == labels).float().mean().item()
        print(f"test accuracy {accuracy:.2%}")
        args.out.mkdir(parents=True, exist_ok=True)
        checkpoint = args.out / "ddp_digits_cnn.pt"
        torch.save(model.module.state_dict(), checkpoint)
        print(f"checkpoint: {checkpoint}")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
