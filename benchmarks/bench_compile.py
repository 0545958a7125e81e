"""``ember.compile`` on the step functions of W1, W2, W4 and W8 against torch eager.

Each workload of ``benchmarks/run.py`` is built three times, each in a worker process of
its own (benchmarks/run.py's ``Worker``): ember eager, ember with its step function compiled
(``ember.compile``), and torch eager; the three are timed interleaved, repeat by repeat, after
warm-up (which includes the compiled step's tracing calls). Ratios are against torch eager
(below 1x: faster than torch)::

    python -m benchmarks.bench_compile [--quick] [--only W4 ...] [--threads 1]

``--threads N`` runs NumPy's BLAS and torch on N threads each: on a machine shared with
other work, BLAS threads that spin for a busy core can make a small matmul a hundred times
slower, in either library; one thread each compares the libraries, not their thread pools.
"""
from __future__ import annotations

import argparse
import os
import sys

from benchmarks.run import WORKLOADS, Worker, load_libraries, time_in_workers

NAMES = ("W1", "W2", "W4", "W8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=NAMES, metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--threads", type=int, help="BLAS and torch threads (default: theirs)")
    args = parser.parse_args(argv)
    if args.threads:
        if "numpy" in sys.modules:
            parser.error("--threads must be set before NumPy is imported")
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    repeats = 3 if args.quick else 7
    scale = 0.25 if args.quick else 1.0
    libs = load_libraries()  # which are installed (the workers import their own)
    print(f"{'workload':<10}{'ember':>14}{'compiled':>14}{'torch':>14}{'eager/t':>9}"
          f"{'comp/t':>9}")
    workers = {"ember": Worker("ember"), "compiled": Worker("ember", compiled=True)}
    if "torch" in libs:
        workers["torch"] = Worker("torch")
    try:
        for name in args.only or NAMES:
            unit, seconds = WORKLOADS[name][1:]
            medians = time_in_workers(workers, name, repeats, seconds * scale)
            us = {k: v * 1e6 for k, v in medians.items()}
            torch_us = us.get("torch")
            line = f"{name:<10}{us['ember']:>14,.1f}{us['compiled']:>14,.1f}"
            if torch_us:
                line += (f"{torch_us:>14,.1f}{us['ember'] / torch_us:>8.2f}x"
                         f"{us['compiled'] / torch_us:>8.2f}x")
            print(line + f"  ({unit})", flush=True)
    finally:
        for worker in workers.values():
            worker.close()


if __name__ == "__main__":
    main()
