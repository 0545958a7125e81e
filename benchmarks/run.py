"""ember's benchmark suite: the workloads of the performance goals, on ember and torch.

Each workload is written once against the torch API and run with each library module
(``ember``, and ``torch`` when installed), each in a worker process of its own (``Worker``),
interleaved repeat by repeat after warm-up, so both see the same machine load. The table
gives medians and ember/torch ratios (above 1x: ember is slower). All workloads are float32
on the CPU:

W1   the seed cell: ``y = x**3; z = sin(y); z.backward(); x.grad.zero_()``
W2   the seed's sigmoid neuron: binary cross-entropy over 3 samples, backward, grads reset
W3   a 3-element ``a + b``, with grad (W3g) and without (W3)
W4   an MLP 784-256-128-10 with ReLU, cross-entropy, batch 64, SGD step
W5   a LeNet-style CNN on 1x28x28, batch 32, Adam step
W6   a 10,000-op scalar chain, forward and backward
W7   a 1024x1024 matmul, forward and backward
W8   one GPT-style block (vocab 65, d 64, 4 heads, seq 32, batch 8), AdamW step
W9   an LSTM (2 layers, hidden 128, seq 32, batch 16), forward and backward
W10  one training epoch of the digits demo's CNN with its DataLoader (Adam, batch 64)
mm2048  a 2048x2048 matmul through ember against NumPy's own ``@`` on the same arrays
mem  peak resident memory of 200 training steps of W4 and W8, each in a fresh process
import  ``import ember`` / ``import torch`` against ``import numpy`` in fresh processes:
     added seconds and resident megabytes (bytecode cached, as after an install)

Usage::

    python -m benchmarks                 # everything (a few minutes)
    python -m benchmarks --only W4 --only W8
    python -m benchmarks --quick --json results.json
    python -m benchmarks --same-process  # both libraries timed in this one process

Some machines set ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``, which slows NumPy's matmul;
to see the figures without them, run ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m
benchmarks``. Benchmarks print; nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import functools
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
PYCACHE = Path(tempfile.gettempdir()) / "ember-bench-pycache"

Step = Callable[[], object]

# Seconds between one worker's repeat and the next's: BLAS and OpenMP threads spin for a
# while after their last parallel work before they sleep (OpenBLAS's for about 2^28
# cycles), and a worker's spinning threads would take the cores from the next worker's
# repeat, which no user of one library meets.
SETTLE = 0.2


# --- the workloads: each takes the library module and returns one iteration's callable ------


def w1_seed_cell(lib: ModuleType) -> Step:
    x = lib.tensor(2.0, requires_grad=True)

    def step() -> None:
        y = x**3
        z = lib.sin(y)
        z.backward()
        x.grad.zero_()

    return step


def w2_sigmoid_neuron(lib: ModuleType) -> Step:
    x = lib.tensor([6.7, 8.1, 9.0])
    y = lib.tensor([0.0, 1.0, 1.0])
    w = lib.tensor(1.0, requires_grad=True)
    b = lib.tensor(0.0, requires_grad=True)

    def step() -> None:
        ypred = lib.sigmoid(w * x + b)
        loss = lib.sum(-(y * lib.log(ypred) + (1 - y) * lib.log(1 - ypred)))
        loss.backward()
        w.grad.zero_()
        b.grad.zero_()

    return step


def w3_add(lib: ModuleType, requires_grad: bool) -> Step:
    a = lib.tensor([1.0, 2.0, 3.0], requires_grad=requires_grad)
    b = lib.tensor([4.0, 5.0, 6.0], requires_grad=requires_grad)
    return lambda: a + b


def _train_step(lib: ModuleType, model, optimizer, x, y) -> Step:
    loss_fn = lib.nn.functional.cross_entropy

    def step() -> None:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def w4_mlp(lib: ModuleType) -> Step:
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    x, y = lib.randn(64, 784), lib.randint(0, 10, (64,))
    return _train_step(lib, model, lib.optim.SGD(model.parameters(), lr=0.01), x, y)


def w5_lenet(lib: ModuleType) -> Step:
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    x, y = lib.randn(32, 1, 28, 28), lib.randint(0, 10, (32,))
    return _train_step(lib, model, lib.optim.Adam(model.parameters()), x, y)


def w6_chain(lib: ModuleType) -> Step:
    x = lib.tensor(1.0, requires_grad=True)

    def step() -> None:
        y = x
        for _ in range(5_000):
            y = y * 1.0001
            y = y + 1e-4
        y.backward()
        x.grad = None

    return step


def w7_matmul(lib: ModuleType) -> Step:
    lib.manual_seed(0)
    a = lib.randn(1024, 1024, requires_grad=True)
    b = lib.randn(1024, 1024, requires_grad=True)

    def step() -> None:
        (a @ b).sum().backward()
        a.grad = None
        b.grad = None

    return step


def gpt_block(lib: ModuleType):
    """One pre-norm transformer block with causal attention, between an embedding and a
    vocabulary head (vocab 65, d 64, 4 heads)."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self, vocab: int = 65, d: int = 64, heads: int = 4, ctx: int = 32):
            super().__init__()
            self.heads = heads
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(ctx, d)
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)

        def forward(self, idx):
            n, t = idx.shape
            x = self.tok(idx) + self.pos(lib.arange(t))
            q, k, v = self.qkv(self.ln1(x)).split(x.shape[-1], dim=-1)
            q, k, v = (z.view(n, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(n, t, -1))
            x = x + self.mlp(self.ln2(x))
            return self.head(self.ln_f(x))

    return Block()


def w8_gpt_block(lib: ModuleType) -> Step:
    lib.manual_seed(0)
    model = gpt_block(lib)
    idx, target = lib.randint(0, 65, (8, 32)), lib.randint(0, 65, (8, 32))
    optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.functional.cross_entropy

    def step() -> None:
        loss = loss_fn(model(idx).view(-1, 65), target.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def w9_lstm(lib: ModuleType) -> Step:
    lib.manual_seed(0)
    model = lib.nn.LSTM(128, 128, num_layers=2)
    x = lib.randn(32, 16, 128)

    def step() -> None:
        model.zero_grad()
        out, _ = model(x)
        out.sum().backward()

    return step


def w10_digits_epoch(lib: ModuleType) -> Step:
    from ember.examples import digits

    lib.manual_seed(0)
    train_set, _ = digits.split(digits.load_digits(lib), 0, lib)
    model = digits.build_model(lib.nn)
    optimizer = lib.optim.Adam(model.parameters(), lr=0.01)
    loader = lib.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    loss_fn = lib.nn.functional.cross_entropy

    def step() -> None:
        model.train()
        for images, labels in loader:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return step


WORKLOADS: dict[str, tuple[Callable[[ModuleType], Step], str, float]] = {
    # name: (maker, unit, seconds of one repeat)
    "W1": (w1_seed_cell, "µs/iter", 0.2),
    "W2": (w2_sigmoid_neuron, "µs/iter", 0.2),
    "W3": (lambda lib: w3_add(lib, False), "µs/iter", 0.2),
    "W3g": (lambda lib: w3_add(lib, True), "µs/iter", 0.2),
    "W4": (w4_mlp, "µs/step", 0.3),
    "W5": (w5_lenet, "µs/step", 0.3),
    "W6": (w6_chain, "µs/chain", 0.5),
    "W7": (w7_matmul, "µs/iter", 0.5),
    "W8": (w8_gpt_block, "µs/step", 0.5),
    "W9": (w9_lstm, "µs/iter", 0.5),
    "W10": (w10_digits_epoch, "µs/epoch", 1.0),
}
EXTRAS = ("mm2048", "mem", "import")
NAMES = (*WORKLOADS, *EXTRAS)


# --- timing -----------------------------------------------------------------------------------


def _calibrate(timer: timeit.Timer, seconds: float) -> int:
    number = 1
    while True:
        for mult in (1, 2, 5):
            if timer.timeit(number * mult) >= seconds:
                return number * mult
        number *= 10


def _warm_timer(step: Step, seconds: float) -> tuple[timeit.Timer, int]:
    """A timer of ``step`` after warm-up, and the calls per repeat that last ``seconds``."""
    for _ in range(2):  # warm-up: first-call caches, gradients allocated
        step()
    # timeit switches the garbage collector off; a user's program runs with it on, and it
    # costs a library in proportion to the objects each op creates
    timer = timeit.Timer(step, setup="gc.enable()", globals={"gc": gc})
    return timer, _calibrate(timer, seconds)


def time_interleaved(makers: dict[str, Callable[[], Step]], repeats: int,
                     seconds: float) -> dict[str, float]:
    """Median seconds per call for each entry of ``makers``, repeats interleaved."""
    timers, numbers = {}, {}
    for name, make in makers.items():
        timers[name], numbers[name] = _warm_timer(make(), seconds)
    samples: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(repeats):
        for name in makers:
            samples[name].append(timers[name].timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(s) for name, s in samples.items()}


class Worker:
    """One library's own process, running its side of each workload when asked: a library
    is timed in a process as its users run it, without the other's objects in the heap (the
    garbage collector's full collections walk every object the process holds: torch's import
    leaves about 146,000, which a library allocating Python objects per op would pay for in
    a shared process) or the other's thread pools and allocator state. The parent alternates
    the workers repeat by repeat, so both still see the same machine load."""

    def __init__(self, module: str, compiled: bool = False) -> None:
        self.module = module
        self.compiled = compiled  # the step function through ``lib.compile``
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "--worker", module], cwd=REPO,
            env=_child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._answer()  # the import done

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.module} worker stopped (see its output above)")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:  # it stopped already
            pass
        self.proc.wait(timeout=60)


def _serve(module: str) -> None:
    """A worker's loop (``Worker``): {"setup": workload, "seconds": s, "compiled": c} builds,
    warms up and calibrates the workload's step; {"time": true} answers the seconds per call
    of one repeat."""
    lib = importlib.import_module(module)
    reply = sys.stdout
    sys.stdout = sys.stderr  # a workload's own prints must not reach the parent's pipe
    print(json.dumps({"ready": True}), file=reply, flush=True)
    timer = number = None
    for line in sys.stdin:
        request = json.loads(line)
        if "setup" in request:
            timer = number = None
            gc.collect()
            step = WORKLOADS[request["setup"]][0](lib)
            if request["compiled"]:
                step = lib.compile(step)
                for _ in range(3):  # two tracing calls per guard set, then the program
                    step()
            timer, number = _warm_timer(step, request["seconds"])
            answer = {"number": number}
        else:
            answer = {"seconds": timer.timeit(number) / number}
        print(json.dumps(answer), file=reply, flush=True)


def time_in_workers(workers: dict[str, Worker], workload: str, repeats: int,
                    seconds: float) -> dict[str, float]:
    """Median seconds per call of ``workload`` in each worker, repeats interleaved."""
    for worker in workers.values():
        worker.ask(setup=workload, seconds=seconds, compiled=worker.compiled)
    samples: dict[str, list[float]] = {name: [] for name in workers}
    for _ in range(repeats):
        for name, worker in workers.items():
            time.sleep(SETTLE)
            samples[name].append(worker.ask(time=True)["seconds"])
    return {name: statistics.median(s) for name, s in samples.items()}


def _child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _child(code: str) -> dict:
    """Runs ``code`` in a fresh interpreter (bytecode cached) and returns the JSON it prints
    on its last line."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_child_env(),
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Resident sizes from /proc (Linux): VmHWM is the process's own peak since exec, where
# getrusage's ru_maxrss would carry the parent's peak across fork and exec.
_RSS = (
    "def _status(key):\n"
    "    with open('/proc/self/status') as f:\n"
    "        for line in f:\n"
    "            if line.startswith(key):\n"
    "                return int(line.split()[1]) / 1024\n"
    "def rss_mb():\n"
    "    return _status('VmRSS:')\n"
    "def peak_mb():\n"
    "    return _status('VmHWM:')\n"
)


def import_costs(modules: list[str], runs: int) -> dict[str, dict[str, float]]:
    """Median seconds and resident MB that importing each module adds to ``import numpy``,
    each in a fresh process."""
    code = (_RSS + "import time, json\nimport numpy\nm0 = rss_mb()\nt0 = time.perf_counter()\n"
            "import {module}\nt = time.perf_counter() - t0\n"
            "print(json.dumps({{'s': t, 'mb': rss_mb() - m0}}))\n")
    for module in modules:  # warm-up: bytecode cache written, files in the page cache
        _child(code.format(module=module))
    samples: dict[str, list[dict]] = {m: [] for m in modules}
    for _ in range(runs):
        for module in modules:
            samples[module].append(_child(code.format(module=module)))
    return {m: {k: statistics.median(s[k] for s in samples[m]) for k in ("s", "mb")}
            for m in modules}


def peak_memory(workload: str, module: str, steps: int = 200) -> dict[str, float]:
    """Peak resident MB of ``steps`` training steps of ``workload`` in a fresh process, and
    the part of it above the process's size right after the import."""
    code = (_RSS + "import json, importlib\n"
            f"lib = importlib.import_module({module!r})\n"
            "base = rss_mb()\n"
            "from benchmarks.run import WORKLOADS\n"
            f"step = WORKLOADS[{workload!r}][0](lib)\n"
            f"for _ in range({steps}):\n    step()\n"
            "print(json.dumps({'peak': peak_mb(), 'above_import': peak_mb() - base}))\n")
    return _child(code)


def matmul_2048(repeats: int) -> dict[str, float]:
    """Seconds of a 2048x2048 float32 matmul through ember and through NumPy's ``@``."""
    import numpy as np

    import ember

    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    b = rng.standard_normal((2048, 2048), dtype=np.float32)
    ta, tb = ember.from_numpy(a), ember.from_numpy(b)
    return time_interleaved({"ember": lambda: lambda: ta @ tb,
                             "numpy": lambda: lambda: a @ b}, repeats, 0.5)


# --- report -----------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"


class Report:
    """The printed table, and the same figures for ``--json``."""

    def __init__(self, other: str | None) -> None:
        self.other = other
        self.rows: list[dict] = []
        head = f"{'workload':<26}{'unit':<12}{'ember':>12}"
        if other:
            head += f"{other:>12}{'ratio':>9}"
        print(head)
        print("-" * len(head))

    def row(self, name: str, unit: str, ember_value: float, other_value: float | None,
            other: str | None = None) -> None:
        other = other or self.other
        ratio = ember_value / other_value if other_value else None
        self.rows.append({"workload": name, "unit": unit, "ember": ember_value,
                          "other": other, "other_value": other_value, "ratio": ratio})
        line = f"{name:<26}{unit:<12}{_fmt(ember_value):>12}"
        if self.other:
            line += f"{_fmt(other_value):>12}{'-' if ratio is None else f'{ratio:.2f}x':>9}"
        print(line, flush=True)


def load_libraries() -> dict[str, ModuleType]:
    """ember (from this checkout) and, when importable, torch; both on the thread count
    torch picks, so a ratio compares the libraries, not their thread pools."""
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
    parser.add_argument("--only", action="append", choices=NAMES, metavar="NAME",
                        help=f"run only this workload (repeatable): {', '.join(NAMES)}")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--same-process", action="store_true",
                        help="time both libraries in this one process (as before the workers)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _serve(args.worker)
        return
    names = args.only or list(NAMES)
    repeats = args.repeats or (3 if args.quick else 7)
    scale = 0.25 if args.quick else 1.0

    libs = load_libraries()
    with_torch = "torch" in libs
    versions = ", ".join(f"{n} {getattr(m, '__version__', '?')}" for n, m in libs.items())
    where = "one process" if args.same_process else "a process each"
    print(f"python {sys.version.split()[0]}; {versions}; medians of {repeats} interleaved "
          f"repeats, {where}\n")
    report = Report("torch" if with_torch else None)
    timed = [name for name in names if name in WORKLOADS]
    workers = {} if args.same_process or not timed else {n: Worker(n) for n in libs}
    try:
        for name in timed:
            make, unit, seconds = WORKLOADS[name]
            if workers:
                medians = time_in_workers(workers, name, repeats, seconds * scale)
            else:
                gc.collect()
                medians = time_interleaved(
                    {n: functools.partial(make, lib) for n, lib in libs.items()}, repeats,
                    seconds * scale)
            report.row(name, unit, medians["ember"] * 1e6,
                       medians["torch"] * 1e6 if with_torch else None)
    finally:
        for worker in workers.values():
            worker.close()
    if "mm2048" in names:
        medians = matmul_2048(repeats)
        report.row("mm2048 (vs numpy)", "ms", medians["ember"] * 1e3, medians["numpy"] * 1e3,
                   other="numpy")
    if "mem" in names:
        for workload in ("W4", "W8"):
            figures = {n: peak_memory(workload, n, 50 if args.quick else 200) for n in libs}
            report.row(f"{workload} peak RSS", "MB", figures["ember"]["peak"],
                       figures["torch"]["peak"] if with_torch else None)
            report.row(f"{workload} peak above import", "MB", figures["ember"]["above_import"],
                       figures["torch"]["above_import"] if with_torch else None)
    if "import" in names:
        costs = import_costs(list(libs), 3 if args.quick else 7)
        report.row("import (s over numpy)", "ms", costs["ember"]["s"] * 1e3,
                   costs["torch"]["s"] * 1e3 if with_torch else None)
        report.row("import (MB over numpy)", "MB", costs["ember"]["mb"],
                   costs["torch"]["mb"] if with_torch else None)
    if args.json:
        Path(args.json).write_text(json.dumps({"versions": versions, "repeats": repeats,
                                               "rows": report.rows}, indent=2))


if __name__ == "__main__":
    main()
