"""Micro-benchmarks of ember's per-op overhead against PyTorch, in one run.

Each case is one library-agnostic function that takes the library module (``ember`` or
``torch``) and returns a zero-argument callable doing one iteration of the work; both
libraries run the very same code. What is measured:

``seed``
    The seed notebook cell: ``y = x**3; z = sin(y); z.backward(); x.grad.zero_()`` on a
    0-d leaf, per iteration.
``add_grad`` / ``add_nograd``
    Forward of ``a + b`` on 3-element tensors, with and without ``requires_grad`` inputs.
``bce``
    One sigmoid-neuron binary-cross-entropy step on 3 samples (forward, ``backward``, then
    zeroing the two scalar leaves' grads), per step.
``chain``
    A 10,000-op chain on a 0-d leaf (alternating ``* 1.0001`` and ``+ 1e-4``) followed by
    ``backward``, per whole chain; the table also shows the cost per op of the chain.
``vmap_grads`` / ``loop_grads``
    Per-sample gradients of a small MLP (10-16-3, tanh, MSE) for a batch of 64: with
    ``func.vmap(func.grad(loss))`` and with a Python loop of ``func.grad`` per sample.
    Their ratio (printed) is what vmap's batching rules buy.
``import``
    ``import ember`` against ``import torch`` in fresh child processes: the import
    statement alone (``time.perf_counter`` around it, inside the child) and the wall time
    of the whole child process; median and minimum over the runs. Bytecode is cached (in
    a private folder under the temp dir, written by a warm-up run), as for an installed
    package.

Timing is timeit-style: after warm-up, the number of calls per repeat is calibrated so a
repeat lasts a fixed time, and the reported time is the minimum over the repeats (the
least disturbed one; the machine is shared and noisy). The two libraries run interleaved,
repeat by repeat, so drifts in machine load hit both alike. Times are microseconds per
iteration unless the unit column says otherwise; ``ember/torch`` above 1 means ember is
slower. torch is optional: without it only ember's numbers are printed.

Benchmarks print; they never assert anything about speed.

Usage: ``python benchmarks/bench.py [--quick] [--only NAME ...]``
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: benchmarks/run.py's workloads are shared
    sys.path.insert(0, str(REPO))
from benchmarks.run import w1_seed_cell as seed_cell  # noqa: E402
from benchmarks.run import w3_add as add_forward  # noqa: E402

# Children import with bytecode cached here (the normal state of an installed package), not
# next to the sources: the checkout stays untouched, and PYTHONDONTWRITEBYTECODE=1 in the
# environment would otherwise make every ``import ember`` compile from source.
PYCACHE = Path(tempfile.gettempdir()) / "ember-bench-pycache"
CHAIN_OPS = 10_000

Step = Callable[[], object]


# --- the cases: one function per case, the library passed in -------------------------------


def bce_step(lib: ModuleType) -> Step:
    """One gradient computation of a sigmoid neuron's binary cross-entropy on 3 samples."""
    w = lib.tensor(0.5, requires_grad=True)
    b = lib.tensor(-0.1, requires_grad=True)
    x = lib.tensor([1.0, 2.0, 3.0])
    y = lib.tensor([0.0, 1.0, 1.0])

    def step() -> None:
        z = w * x + b
        p = lib.sigmoid(z)
        loss = -(y * lib.log(p) + (1 - y) * lib.log(1 - p)).sum()
        loss.backward()
        w.grad.zero_()
        b.grad.zero_()

    return step


def scalar_chain(lib: ModuleType, n_ops: int = CHAIN_OPS) -> Step:
    """``n_ops`` scalar ops (alternating mul and add) on a 0-d leaf, then backward."""
    x = lib.tensor(1.0, requires_grad=True)

    def step() -> None:
        y = x
        for _ in range(n_ops // 2):
            y = y * 1.0001
            y = y + 1e-4
        y.backward()
        x.grad = None

    return step


def _mlp_per_sample(lib: ModuleType):
    import importlib

    import numpy as np

    func = importlib.import_module(lib.__name__ + ".func")
    rng = np.random.default_rng(0)
    w1 = lib.tensor(rng.normal(size=(10, 16)) * 0.3)
    b1 = lib.tensor(rng.normal(size=(16,)) * 0.1)
    w2 = lib.tensor(rng.normal(size=(16, 3)) * 0.3)
    x = lib.tensor(rng.normal(size=(64, 10)))
    y = lib.tensor(rng.normal(size=(64, 3)))

    def loss(w1, b1, w2, x, y):
        return (((x @ w1 + b1).tanh() @ w2 - y) ** 2).mean()

    return func, loss, (w1, b1, w2, x, y)


def vmap_grads(lib: ModuleType) -> Step:
    """Per-sample gradients of the MLP with vmap(grad(loss))."""
    func, loss, (w1, b1, w2, x, y) = _mlp_per_sample(lib)
    batched = func.vmap(func.grad(loss, argnums=(0, 1, 2)), in_dims=(None, None, None, 0, 0))

    def step() -> None:
        batched(w1, b1, w2, x, y)

    return step


def loop_grads(lib: ModuleType) -> Step:
    """Per-sample gradients of the MLP with a loop of grad(loss) over the 64 samples."""
    func, loss, (w1, b1, w2, x, y) = _mlp_per_sample(lib)
    one = func.grad(loss, argnums=(0, 1, 2))

    def step() -> None:
        for i in range(64):
            one(w1, b1, w2, x[i], y[i])

    return step


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[ModuleType], Step]
    unit: str = "µs/iter"
    ops: int = 0  # when set, also report the time per op
    seconds: float = 0.2  # target duration of one repeat (full mode)


CASES: list[Case] = [
    Case("seed", seed_cell),
    Case("add_grad", lambda lib: add_forward(lib, True)),
    Case("add_nograd", lambda lib: add_forward(lib, False)),
    Case("bce", bce_step),
    Case("chain", scalar_chain, unit="µs/chain", ops=CHAIN_OPS, seconds=0.5),
    Case("vmap_grads", vmap_grads, unit="µs/batch"),
    Case("loop_grads", loop_grads, unit="µs/batch", seconds=0.5),
]
CASE_NAMES = [c.name for c in CASES] + ["import"]


# --- timing -----------------------------------------------------------------------------------


def calibrate(timer: timeit.Timer, seconds: float) -> int:
    """The number of calls (1, 2, 5, 10, 20, ...) that takes at least ``seconds``."""
    number = 1
    while True:
        for mult in (1, 2, 5):
            n = number * mult
            if timer.timeit(n) >= seconds:
                return n
        number *= 10


def time_case(case: Case, libs: dict[str, ModuleType], repeats: int,
              scale: float) -> dict[str, float]:
    """Minimum seconds per call of ``case`` for each library, repeats interleaved."""
    timers = {}
    numbers = {}
    for name, lib in libs.items():
        step = case.make(lib)
        for _ in range(3):  # warm-up: first-call caches, x.grad allocated, ...
            step()
        timers[name] = timeit.Timer(step)
        numbers[name] = calibrate(timers[name], case.seconds * scale)
    best = dict.fromkeys(libs, float("inf"))
    for _ in range(repeats):
        for name in libs:
            t = timers[name].timeit(numbers[name]) / numbers[name]
            best[name] = min(best[name], t)
    return best


def _child_import(module: str) -> tuple[float, float]:
    """(seconds of the import statement, wall seconds of the whole child process)."""
    code = (
        "import time\n"
        "t0 = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - t0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - start
    return float(proc.stdout.strip().splitlines()[-1]), wall


def time_imports(modules: list[str], runs: int) -> dict[str, dict[str, list[float]]]:
    """Import and process times per module over ``runs`` fresh children, interleaved."""
    for module in modules:  # warm-up: file-system caches, bytecode cache written
        _child_import(module)
    samples = {m: {"import": [], "process": []} for m in modules}
    for _ in range(runs):
        for module in modules:
            stmt, wall = _child_import(module)
            samples[module]["import"].append(stmt)
            samples[module]["process"].append(wall)
    return samples


# --- report -----------------------------------------------------------------------------------


def _fmt(us: float | None) -> str:
    if us is None:
        return "-"
    return f"{us:,.0f}" if us >= 1000 else f"{us:.2f}"


class Table:
    """Rows of (case, unit, ember µs, torch µs or None), printed as they come."""

    def __init__(self, with_torch: bool) -> None:
        self.with_torch = with_torch
        head = f"{'case':<22}{'unit':<16}{'ember':>12}"
        if with_torch:
            head += f"{'torch':>12}{'ember/torch':>13}"
        print(head)
        print("-" * len(head))

    def row(self, case: str, unit: str, ember_us: float, torch_us: float | None) -> None:
        line = f"{case:<22}{unit:<16}{_fmt(ember_us):>12}"
        if self.with_torch:
            ratio = "-" if not torch_us else f"{ember_us / torch_us:.1f}x"
            line += f"{_fmt(torch_us):>12}{ratio:>13}"
        print(line, flush=True)


def run_cases(names: Iterator[str], libs: dict[str, ModuleType], table: Table,
              repeats: int, scale: float) -> None:
    for case in CASES:
        if case.name not in names:
            continue
        gc.collect()
        best = time_case(case, libs, repeats, scale)
        ember_us = best["ember"] * 1e6
        torch_us = best["torch"] * 1e6 if "torch" in best else None
        table.row(case.name, case.unit, ember_us, torch_us)
        if case.ops:
            table.row(f"  {case.name} per op", "µs/op", ember_us / case.ops,
                      torch_us / case.ops if torch_us is not None else None)


def run_imports(modules: list[str], table: Table, runs: int) -> None:
    samples = time_imports(modules, runs)
    for kind in ("import", "process"):
        for stat, fn in (("median", statistics.median), ("min", min)):
            us = {m: fn(samples[m][kind]) * 1e6 for m in modules}
            label = "import stmt" if kind == "import" else "import process"
            table.row(f"{label} {stat}", f"µs ({runs} runs)", us["ember"], us.get("torch"))


def load_libraries() -> dict[str, ModuleType]:
    """ember (from this checkout) and, when importable, torch."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    libs = {"ember": importlib.import_module("ember")}
    try:
        libs["torch"] = importlib.import_module("torch")
    except ImportError:
        print("torch is not importable: ember's numbers alone.\n")
    return libs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter repeats (a rough look, noisier)")
    parser.add_argument("--only", action="append", choices=CASE_NAMES, metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(CASE_NAMES)}")
    args = parser.parse_args(argv)
    names = set(args.only or CASE_NAMES)
    repeats, scale, import_runs = (3, 0.25, 3) if args.quick else (7, 1.0, 9)

    libs = load_libraries()
    versions = ", ".join(f"{n} {getattr(m, '__version__', '?')}" for n, m in libs.items())
    print(f"python {sys.version.split()[0]}; {versions}; "
          f"min of {repeats} repeats, interleaved\n")
    table = Table("torch" in libs)
    run_cases(names, libs, table, repeats, scale)
    if "import" in names:
        run_imports(list(libs), table, import_runs)


if __name__ == "__main__":
    main()
