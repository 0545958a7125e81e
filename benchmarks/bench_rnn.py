"""Forward + backward of an LSTM (2 layers, hidden 128, seq 32, batch 16): ember vs torch,
in the same run (goal: ember within 2x of torch). Prints the median time of each and the
ratio; never asserted.

Run: ``.venv/bin/python benchmarks/bench_rnn.py``
"""
from __future__ import annotations

import os

# Both libraries on one thread: torch by set_num_threads, NumPy's OpenBLAS by its variable
# (read when NumPy loads). On a busy machine, waking OpenBLAS's idle threads costs tens of
# milliseconds per small matmul, which would measure the scheduler, not ember.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402


def _median_ms(fn, repeat: int = 20, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _step(lib, model, x):
    def run():
        model.zero_grad()
        out, _ = model(x)
        out.sum().backward()
    return run


def main() -> None:
    import numpy as np
    import torch

    import ember
    import ember.nn

    torch.set_num_threads(1)  # ember's NumPy runs one BLAS thread per call here too
    warnings.simplefilter("ignore")
    seq, batch, features, hidden = 32, 16, 64, 128
    data = np.random.default_rng(0).standard_normal((seq, batch, features)).astype(np.float32)
    for name, cls_args in (("LSTM", {}), ("GRU", {}), ("RNN", {})):
        results = {}
        for lib in (torch, ember):
            lib.manual_seed(0)
            model = getattr(lib.nn, name)(features, hidden, num_layers=2, **cls_args)
            x = lib.tensor(data, requires_grad=True)
            results[lib.__name__] = _median_ms(_step(lib, model, x))
        ratio = results["ember"] / results["torch"]
        print(f"{name:5s} 2x{hidden} seq {seq} batch {batch} fwd+bwd: "
              f"torch {results['torch']:7.2f} ms  ember {results['ember']:7.2f} ms  "
              f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
