"""ember against PyTorch on nn layers, forward and forward+backward.

Cases on one (32, 16, 32, 32) float32 batch:

``conv``       ``Conv2d(16, 32, 3, padding=1)``
``maxpool``    ``MaxPool2d(2)``
``avgpool``    ``AvgPool2d(2)``
``upsample``   ``F.interpolate(scale_factor=2, mode='bilinear')``
``pad``        ``F.pad(x, (1, 1, 1, 1), mode='reflect')``
``batchnorm``  ``BatchNorm2d(16)`` in training mode

and ``mlp``: one training step of a 784-256-128-10 ReLU MLP on a batch of 64 (forward,
cross-entropy, ``backward``, and an SGD update under ``no_grad``).

Each case runs forward alone and forward + ``backward`` (of a fixed random cotangent); the
time is the minimum over repeats after a warm-up, the two libraries interleaved repeat by
repeat so machine load hits both alike. ``ember/torch`` above 1 means ember is slower. The
last column compares CPU time (of all the process's threads), which a loaded machine
disturbs far less than wall time; with one thread each (``--threads 1`` and
``OPENBLAS_NUM_THREADS=1`` in the environment) it compares the work done. torch runs with
its default thread count (``--threads N`` sets it). Prints; asserts nothing.

Usage: ``python benchmarks/bench_nn.py [--repeats N] [--threads N] [--cases conv,mlp,...]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import ember

try:
    import torch
except ImportError:  # only ember's column then
    torch = None


def _cases(lib) -> dict:
    nn = lib.nn
    F = nn.functional
    lib.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3, padding=1)
    pool = nn.MaxPool2d(2)
    avg = nn.AvgPool2d(2)
    return {
        "conv": conv,
        "maxpool": pool,
        "avgpool": avg,
        "upsample": lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        "pad": lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"),
        "batchnorm": nn.BatchNorm2d(16),
    }


def _mlp_step(lib):
    """One SGD training step of a 784-256-128-10 MLP on a fixed batch of 64."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    rng = np.random.default_rng(2)
    x = lib.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))
    params = list(model.parameters())

    def run():
        loss = nn.functional.cross_entropy(model(x), y)
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= 0.01 * p.grad
    return run


def _report(label: str, fns: dict, repeats: int) -> None:
    best = {name: float("inf") for name in fns}
    cpu = dict(best)
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, used = _time(fn, 1)
            best[name] = min(best[name], wall)
            cpu[name] = min(cpu[name], used)
    e = best["ember"] * 1e3
    if "torch" in best:
        t = best["torch"] * 1e3
        print(f"{label:<22}{e:>10.2f}{t:>10.2f}{e / t:>12.2f}x"
              f"{cpu['ember'] / cpu['torch']:>10.2f}x")
    else:
        print(f"{label:<22}{e:>10.2f}")


def _step(lib, layer, x_np: np.ndarray, backward: bool):
    x = lib.tensor(x_np, requires_grad=backward)
    cot = None

    def run():
        nonlocal cot
        y = layer(x)
        if backward:
            if cot is None:
                cot = lib.tensor(np.random.default_rng(1).standard_normal(
                    tuple(y.shape)).astype(np.float32))
            y.backward(cot)
    return run


def _time(fn, repeats: int) -> tuple:
    """(best wall time, best CPU time of the process) of ``fn`` over ``repeats`` runs."""
    fn()  # warm-up
    best = used = float("inf")
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        used = min(used, time.process_time() - cpu)
        best = min(best, time.perf_counter() - start)
    return best, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cases", default=None,
                        help="comma-separated subset of the cases (conv, ..., mlp)")
    args = parser.parse_args()
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    x_np = np.random.default_rng(0).standard_normal((32, 16, 32, 32)).astype(np.float32)
    libs = [("ember", ember)] + ([("torch", torch)] if torch is not None else [])
    layers = {name: _cases(lib) for name, lib in libs}
    chosen = set(args.cases.split(",")) if args.cases else set(layers["ember"]) | {"mlp"}
    print(f"{'case':<22}{'ember ms':>10}{'torch ms':>10}{'ember/torch':>13}{'cpu':>10}")
    for case in [c for c in layers["ember"] if c in chosen]:
        for backward in (False, True):
            fns = {name: _step(lib, layers[name][case], x_np, backward) for name, lib in libs}
            _report(f"{case} {'fwd+bwd' if backward else 'fwd'}", fns, args.repeats)
    if "mlp" in chosen:
        _report("mlp step", {name: _mlp_step(lib) for name, lib in libs}, args.repeats)

if __name__ == "__main__":
    main()
