"""Checkpoint save / load of a ~100 MB float32 state dict: ember against torch in one run.

Cases: ``save`` (``ember.save`` / ``torch.save`` to a file), ``load``, ``load mmap``,
``load torch file`` (ember reading the file torch wrote), ``save legacy``
(``_use_new_zipfile_serialization=False``) and, when the ``safetensors`` package is
installed, ``st save_file`` / ``st load_file`` (``ember.utils.safetensors`` against
``safetensors.torch``). The two libraries run interleaved repeat by repeat; times are
medians in milliseconds and ``ratio`` is ember/torch (above 1: ember is slower; the goal
for save and load is 1.2 at most). Files go to a temporary directory, so the page cache
(not the disk) is what is measured. Benchmarks print; they assert nothing.

Usage: ``python benchmarks/bench_serialization.py [--repeats N] [--mb SIZE]``
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ember  # noqa: E402
from ember import serialization  # noqa: E402


def _state_dicts(total_mb: int):
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


def _medians(t_fn, e_fn, repeats: int) -> tuple:
    t_times, e_times = [], []
    for _ in range(repeats):
        for fn, times in ((t_fn, t_times), (e_fn, e_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(t_times), statistics.median(e_times)


def _cases(t_sd, e_sd, tmp: str) -> list:
    t_path, e_path = os.path.join(tmp, "t.pt"), os.path.join(tmp, "e.pt")
    t_old, e_old = os.path.join(tmp, "t_old.pt"), os.path.join(tmp, "e_old.pt")
    torch.save(t_sd, t_path)
    ember.save(e_sd, e_path)
    rows = [
        ("save", lambda: torch.save(t_sd, t_path), lambda: ember.save(e_sd, e_path)),
        ("load", lambda: torch.load(t_path), lambda: ember.load(e_path)),
        ("load mmap", lambda: torch.load(t_path, mmap=True),
         lambda: ember.load(e_path, mmap=True)),
        ("load torch file", lambda: torch.load(t_path), lambda: ember.load(t_path)),
        ("save legacy", lambda: torch.save(t_sd, t_old, _use_new_zipfile_serialization=False),
         lambda: serialization.save(e_sd, e_old, _use_new_zipfile_serialization=False)),
    ]
    if importlib.util.find_spec("safetensors") is not None:
        import safetensors.torch as st

        from ember.utils import safetensors as est

        t_st, e_st = os.path.join(tmp, "t.safetensors"), os.path.join(tmp, "e.safetensors")
        st.save_file(t_sd, t_st)
        est.save_file(e_sd, e_st)
        rows += [("st save_file", lambda: st.save_file(t_sd, t_st),
                  lambda: est.save_file(e_sd, e_st)),
                 ("st load_file", lambda: st.load_file(t_st), lambda: est.load_file(e_st))]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    t_sd, e_sd, size = _state_dicts(args.mb)
    print(f"state dict: {len(t_sd)} tensors, {size / 2 ** 20:.0f} MiB, "
          f"median of {args.repeats}")
    print(f"{'case':<16}{'torch ms':>10}{'ember ms':>10}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, t_fn, e_fn in _cases(t_sd, e_sd, tmp):
            t_time, e_time = _medians(t_fn, e_fn, args.repeats)
            print(f"{name:<16}{t_time * 1e3:>10.1f}{e_time * 1e3:>10.1f}"
                  f"{e_time / t_time:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
