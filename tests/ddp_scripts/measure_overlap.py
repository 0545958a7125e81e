"""Measures how much of DDP's gradient all-reduce is hidden behind backward (not a test).

Run as ``mpirun -n 2 python tests/ddp_scripts/measure_overlap.py``. Prints the median
time per step of the waits at the end of backward and the median time of the same
buckets' all-reduces run alone, back to back.
"""
from __future__ import annotations

import statistics
import time

import ember as torch
import ember.distributed as dist
from ember import nn

STEPS = 30


def main() -> None:
    dist.init_process_group("mpi")
    torch.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(512, 512), nn.ReLU())],
                          nn.Linear(512, 10))
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=1)
    waits = []
    finalize = ddp._finalize

    def timed_finalize() -> None:
        start = time.perf_counter()
        finalize()
        waits.append(time.perf_counter() - start)

    ddp._finalize = timed_finalize
    x, y = torch.randn(256, 512), torch.randint(0, 10, (256,))
    steps = []
    for _ in range(STEPS):
        start = time.perf_counter()
        ddp.zero_grad()
        nn.functional.cross_entropy(ddp(x), y).backward()
        steps.append(time.perf_counter() - start)
    alone = []
    for _ in range(STEPS):
        dist.barrier()
        start = time.perf_counter()
        for bucket in ddp._buckets:
            dist.all_reduce(bucket.tensor)
        alone.append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        wait, total = statistics.median(waits), statistics.median(alone)
        print(f"{len(ddp._buckets)} buckets, {sum(p.numel() for p in model.parameters())} "
              f"parameters; step {statistics.median(steps) * 1e3:.1f} ms, all-reduce alone "
              f"{total * 1e3:.2f} ms, end-of-backward wait + copy-back {wait * 1e3:.2f} ms: "
              f"{max(0.0, 1 - wait / total):.0%} hidden")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
