"""Optimizer step cost, ember against torch, in one run.

Cases (each one ``optimizer.step()`` over the parameters of a 784-1024-256-10 MLP, weights
and biases, ~1.07M float32 values, with fixed gradients):

``adam``          ``Adam(lr=1e-3)``
``adamw``         ``AdamW(lr=1e-3, weight_decay=1e-2)``
``sgd_momentum``  ``SGD(lr=1e-2, momentum=0.9)``
``sgd_nesterov``  ``SGD(lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4)``
``rmsprop``       ``RMSprop(lr=1e-2)``
``adagrad``       ``Adagrad(lr=1e-2)``

torch runs its default CPU implementation (the single-tensor one). The two libraries are
timed in turn, repeat by repeat, so that a busy machine slows both alike; each figure is
the median over repeats of the mean time of ``--number`` steps, in microseconds;
``ember/torch`` above 1 means ember is slower. ``--threads N`` sets both libraries' intra-op
thread count (``set_num_threads``; ember's optimizers split a large step over that many
threads as torch's kernels do); left out, each keeps its default (one per core).
``--cpu`` times the CPU time of the calling thread instead of the wall clock: with
``--threads 1`` (all the work in that thread) a figure that other processes on a busy
machine disturb far less. Benchmarks print; they assert nothing.

Usage: ``python benchmarks/bench_optim.py [--repeats N] [--number N] [--threads N] [--cpu]
[case ...]``
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
import ember.optim  # noqa: E402

SHAPES = [(1024, 784), (1024,), (256, 1024), (256,), (10, 256), (10,)]
CASES = {
    "adam": lambda optim, ps: optim.Adam(ps, lr=1e-3),
    "adamw": lambda optim, ps: optim.AdamW(ps, lr=1e-3, weight_decay=1e-2),
    "sgd_momentum": lambda optim, ps: optim.SGD(ps, lr=1e-2, momentum=0.9),
    "sgd_nesterov": lambda optim, ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True,
                                                weight_decay=1e-4),
    "rmsprop": lambda optim, ps: optim.RMSprop(ps, lr=1e-2),
    "adagrad": lambda optim, ps: optim.Adagrad(ps, lr=1e-2),
}


def make(lib, case):
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        p = lib.tensor(rng.standard_normal(shape).astype(np.float32) * 0.01).requires_grad_()
        p.grad = lib.tensor(rng.standard_normal(shape).astype(np.float32) * 0.01)
        params.append(p)
    opt = CASES[case](lib.optim, params)
    opt.step()  # state made outside the timing
    return opt.step


def mean_time(fn, number, clock=time.perf_counter):
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--number", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("cases", nargs="*", help=f"some of {', '.join(CASES)} (all if none)")
    args = parser.parse_args()
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    try:
        import torch
    except ImportError:
        torch = None
    if args.threads is not None:
        ember.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    n = sum(int(np.prod(s)) for s in SHAPES)
    threads = f"ember {ember.get_num_threads()}"
    if torch is not None:
        threads += f", torch {torch.get_num_threads()}"
    clock = time.thread_time if args.cpu else time.perf_counter
    print(f"optimizer step over {n:,} float32 parameters in {len(SHAPES)} tensors; "
          f"threads: {threads}; {'CPU' if args.cpu else 'wall'} time")
    print(f"{'case':<14}{'ember us':>12}{'torch us':>12}{'ember/torch':>13}")
    for case in args.cases or CASES:
        e_step = make(ember, case)
        t_step = make(torch, case) if torch is not None else None
        e_times, t_times = [], []
        for _ in range(args.repeats):
            e_times.append(mean_time(e_step, args.number, clock))
            if t_step is not None:
                t_times.append(mean_time(t_step, args.number, clock))
        e_med = statistics.median(e_times)
        if t_step is None:
            print(f"{case:<14}{e_med * 1e6:>12.0f}{'-':>12}{'-':>13}")
        else:
            t_med = statistics.median(t_times)
            print(f"{case:<14}{e_med * 1e6:>12.0f}{t_med * 1e6:>12.0f}{e_med / t_med:>13.2f}")


if __name__ == "__main__":
    main()
