"""All-reduce bandwidth of ember.distributed against raw mpi4py, on the same ranks.

Each repeat runs, interleaved, ``comm.Allreduce(MPI.IN_PLACE, array, MPI.SUM)`` on a NumPy
array (raw mpi4py), ``ember.distributed.all_reduce(tensor)`` and the same with
``async_op=True`` then ``wait()``, on a float32 buffer of ``--mb`` megabytes (16 by
default). Rank 0 prints the median time of each and the bandwidth as torch's benchmarks
report it (bytes of the buffer per second) and ``ratio``, ember's bandwidth over raw
mpi4py's (the goal is 0.9 at least). Benchmarks print; they assert nothing.

Usage: ``mpirun -n 2 python benchmarks/bench_distributed.py [--mb 16] [--repeats 30]``
(or ``python -m ember.distributed.run --nproc-per-node 2 benchmarks/bench_distributed.py``)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ember  # noqa: E402
import ember.distributed as dist  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=16.0, help="buffer size in megabytes")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    dist.init_process_group("mpi")
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    n = int(args.mb * 2 ** 20) // 4
    array = np.ones(n, np.float32)
    tensor = ember.ones(n)

    def raw() -> None:
        comm.Allreduce(MPI.IN_PLACE, array, MPI.SUM)

    def ember_sync() -> None:
        dist.all_reduce(tensor)

    def ember_async() -> None:
        dist.all_reduce(tensor, async_op=True).wait()

    cases = {"mpi4py Allreduce": raw, "ember all_reduce": ember_sync,
             "ember all_reduce async": ember_async}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for repeat in range(args.repeats + 3):
        for name, fn in cases.items():
            comm.Barrier()
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            # every rank's time is the slowest rank's: the collective ends when all have
            elapsed = comm.allreduce(elapsed, op=MPI.MAX)
            if repeat >= 3:  # warm-up
                times[name].append(elapsed)
    if dist.get_rank() == 0:
        nbytes = n * 4
        base = statistics.median(times["mpi4py Allreduce"])
        print(f"all-reduce of {nbytes / 2 ** 20:.0f} MB float32 on {dist.get_world_size()} "
              f"ranks, median of {args.repeats}")
        print(f"{'case':<26}{'ms':>9}{'GB/s':>9}{'ratio':>8}")
        for name, ts in times.items():
            t = statistics.median(ts)
            print(f"{name:<26}{t * 1e3:>9.2f}{nbytes / t / 1e9:>9.2f}{base / t:>8.2f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
