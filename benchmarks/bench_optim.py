"""Optimizer step cost, ember against torch, in one run.

Cases (each one ``optimizer.step()`` over the parameters of a 784-1024-256-10 MLP, weights
and biases, ~1.07M float32 values, with fixed gradients):

``adam``        ``Adam(lr=1e-3)``
``adamw``       ``AdamW(lr=1e-3, weight_decay=1e-2)``
``sgd_momentum`` ``SGD(lr=1e-2, momentum=0.9)``

torch runs its default CPU implementation (the single-tensor one). Times are the minimum
over repeats, in microseconds per step, the two libraries interleaved repeat by repeat;
``ember/torch`` above 1 means ember is slower. Benchmarks print; they assert nothing.

Usage: ``python benchmarks/bench_optim.py [--repeats N]``
"""
from __future__ import annotations

import argparse
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


def best_time(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=20)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    n = sum(int(np.prod(s)) for s in SHAPES)
    print(f"optimizer step over {n:,} float32 parameters in {len(SHAPES)} tensors")
    print(f"{'case':<14}{'ember us':>12}{'torch us':>12}{'ember/torch':>13}")
    for case in CASES:
        e_step = make(ember, case)
        t_step = make(torch, case) if torch is not None else None
        e_best = t_best = float("inf")
        for _ in range(args.repeats):
            e_best = min(e_best, best_time(e_step, args.number))
            if t_step is not None:
                t_best = min(t_best, best_time(t_step, args.number))
        if t_step is None:
            print(f"{case:<14}{e_best * 1e6:>12.0f}{'-':>12}{'-':>13}")
        else:
            print(f"{case:<14}{e_best * 1e6:>12.0f}{t_best * 1e6:>12.0f}"
                  f"{e_best / t_best:>13.2f}")


if __name__ == "__main__":
    main()
