"""DataLoader throughput, ember against torch, in one run.

One epoch over a ``TensorDataset`` of 60000 x 784 float32 images and int64 labels,
``batch_size=64``, ``shuffle=True``, with ``num_workers`` 0 and 2 (worker processes). The
figure is batches per second over a whole epoch (worker start-up included), the best of
the repeats, the two libraries interleaved repeat by repeat; ``ember/torch`` above 1 means
ember is faster. Benchmarks print; they assert nothing.

Usage: ``python benchmarks/bench_data.py [--repeats N] [--workers 0 2]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ember  # noqa: E402
import ember.utils.data  # noqa: E402

N, FEATURES, BATCH = 60000, 784, 64


def loader(lib, images, labels, workers: int):
    data = lib.utils.data
    return data.DataLoader(data.TensorDataset(lib.from_numpy(images), lib.from_numpy(labels)),
                           batch_size=BATCH, shuffle=True, num_workers=workers)


def epoch(dl) -> float:
    start = time.perf_counter()
    count = 0
    for x, _ in dl:
        count += x.shape[0]
    elapsed = time.perf_counter() - start
    assert count == N
    return len(dl) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    import torch

    rng = np.random.default_rng(0)
    images = rng.standard_normal((N, FEATURES), dtype=np.float32)
    labels = rng.integers(0, 10, N)
    print(f"DataLoader epoch: TensorDataset {N} x {FEATURES} float32, batch {BATCH}, "
          "shuffle=True (batches per second, best of repeats)")
    print(f"{'num_workers':>12} {'ember':>10} {'torch':>10} {'ember/torch':>12}")
    for workers in args.workers:
        best = {"ember": 0.0, "torch": 0.0}
        for _ in range(args.repeats):
            for name, lib in (("ember", ember), ("torch", torch)):
                best[name] = max(best[name], epoch(loader(lib, images, labels, workers)))
        print(f"{workers:>12} {best['ember']:>10.0f} {best['torch']:>10.0f} "
              f"{best['ember'] / best['torch']:>12.2f}")


if __name__ == "__main__":
    main()
