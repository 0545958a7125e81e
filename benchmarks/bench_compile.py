"""``ember.compile`` on the step functions of W1, W2, W4 and W8 against torch eager.

Each workload of ``benchmarks/run.py`` is built three times: ember eager, ember with its
step function compiled (``ember._compile.compile``), and torch eager; the three are timed
interleaved, repeat by repeat, after warm-up (which includes the compiled step's tracing
calls). Ratios are against torch eager (below 1x: faster than torch)::

    python -m benchmarks.bench_compile [--quick] [--only W4 ...] [--threads 1]

``--threads N`` runs NumPy's BLAS and torch on N threads each: on a machine shared with
other work, BLAS threads that spin for a busy core can make a small matmul a hundred times
slower, in either library; one thread each compares the libraries, not their thread pools.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from types import ModuleType

from benchmarks.run import WORKLOADS, load_libraries, time_interleaved

NAMES = ("W1", "W2", "W4", "W8")


def _compiled(make, lib: ModuleType):
    step = lib.compile(make(lib))
    for _ in range(3):  # two tracing calls per guard set, then the program
        step()
    return step


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
    libs = load_libraries()
    if args.threads and "torch" in libs:
        libs["torch"].set_num_threads(args.threads)
    print(f"{'workload':<10}{'ember':>14}{'compiled':>14}{'torch':>14}{'eager/t':>9}"
          f"{'comp/t':>9}")
    for name in args.only or NAMES:
        make, unit, seconds = WORKLOADS[name]
        makers = {"ember": functools.partial(make, libs["ember"]),
                  "compiled": functools.partial(_compiled, make, libs["ember"])}
        if "torch" in libs:
            makers["torch"] = functools.partial(make, libs["torch"])
        medians = time_interleaved(makers, repeats, seconds * scale)
        us = {k: v * 1e6 for k, v in medians.items()}
        torch_us = us.get("torch")
        line = f"{name:<10}{us['ember']:>14,.1f}{us['compiled']:>14,.1f}"
        if torch_us:
            line += (f"{torch_us:>14,.1f}{us['ember'] / torch_us:>8.2f}x"
                     f"{us['compiled'] / torch_us:>8.2f}x")
        print(line + f"  ({unit})", flush=True)


if __name__ == "__main__":
    main()
