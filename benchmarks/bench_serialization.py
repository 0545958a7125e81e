"""save / load of a ~100 MB state dict: ember against torch in the same run.

Run: ``.venv/bin/python benchmarks/bench_serialization.py``. Prints best-of-N wall times and
the ember/torch ratio (goal: within 1.2x). Files go to a temporary directory.
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import torch

import ember


def _state_dicts(total_mb: int = 100):
    rng = np.random.default_rng(0)
    shapes = [(1024, 1024), (4096, 256), (512, 3, 3, 3), (1024,), (256, 256, 4)]
    arrays, size, i = {}, 0, 0
    while size < total_mb * 2 ** 20:
        shape = shapes[i % len(shapes)]
        a = rng.standard_normal(shape, dtype=np.float32)
        arrays[f"layer{i}.weight"] = a
        size += a.nbytes
        i += 1
    t_sd = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    e_sd = {k: ember.from_numpy(v.copy()) for k, v in arrays.items()}
    return t_sd, e_sd, size


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    t_sd, e_sd, size = _state_dicts()
    with tempfile.TemporaryDirectory() as tmp:
        t_path, e_path = os.path.join(tmp, "t.pt"), os.path.join(tmp, "e.pt")
        rows = [
            ("save", lambda: torch.save(t_sd, t_path), lambda: ember.save(e_sd, e_path)),
            ("load", lambda: torch.load(t_path), lambda: ember.load(e_path)),
            ("load mmap", lambda: torch.load(t_path, mmap=True),
             lambda: ember.load(e_path, mmap=True)),
            ("load torch file", lambda: torch.load(t_path), lambda: ember.load(t_path)),
        ]
        print(f"state dict: {len(t_sd)} tensors, {size / 2 ** 20:.0f} MiB")
        print(f"{'case':<16}{'torch ms':>10}{'ember ms':>10}{'ratio':>8}")
        for name, t_fn, e_fn in rows:
            t_time, e_time = _best(t_fn), _best(e_fn)
            print(f"{name:<16}{t_time * 1e3:>10.1f}{e_time * 1e3:>10.1f}"
                  f"{e_time / t_time:>8.2f}")


if __name__ == "__main__":
    main()
