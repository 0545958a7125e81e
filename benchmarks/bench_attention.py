"""ember against PyTorch on attention, forward + backward.

Cases, all float32, ``MultiheadAttention(128, 4)`` self-attention on a (64, 8, 128) batch
(sequence 64, batch 8) in training mode without dropout:

``mha``          ``need_weights=True`` (torch's composed baddbmm/softmax/bmm path)
``mha-sdpa``     ``need_weights=False`` (through ``scaled_dot_product_attention``, fused)
``mha-causal``   ``need_weights=False`` with a causal mask and ``is_causal=True``
``sdpa``         ``F.scaled_dot_product_attention`` on (8, 4, 64, 32) q, k, v

Each case runs forward and ``backward`` of a fixed random cotangent; the time is the
minimum over repeats after a warm-up, the two libraries interleaved repeat by repeat so
machine load hits both alike. ``ember/torch`` above 1 means ember is slower (the goal for
``mha`` is 1.5 or below). torch runs with its default thread count (``--threads N`` sets
it). Prints; asserts nothing.

Usage: ``python benchmarks/bench_attention.py [--repeats N] [--threads N]``
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

SEQ, BATCH, DIM, HEADS = 64, 8, 128, 4


def _case(lib, name: str):
    """(step function, leaves) for one case in library ``lib``."""
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    if name == "sdpa":
        shape = (BATCH, HEADS, SEQ, DIM // HEADS)
        q, k, v = (lib.tensor(rng.standard_normal(shape), dtype=lib.float32,
                              requires_grad=True) for _ in range(3))
        cot = lib.tensor(rng.standard_normal(shape), dtype=lib.float32)

        def step():
            lib.nn.functional.scaled_dot_product_attention(q, k, v).backward(cot)
        return step
    mha = lib.nn.MultiheadAttention(DIM, HEADS)
    x = lib.tensor(rng.standard_normal((SEQ, BATCH, DIM)), dtype=lib.float32,
                   requires_grad=True)
    cot = lib.tensor(rng.standard_normal((SEQ, BATCH, DIM)), dtype=lib.float32)
    mask = lib.nn.Transformer.generate_square_subsequent_mask(SEQ)

    def step():
        if name == "mha":
            out = mha(x, x, x)[0]
        elif name == "mha-sdpa":
            out = mha(x, x, x, need_weights=False)[0]
        else:
            out = mha(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]
        out.backward(cot)
    return step


def _seconds(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    print(f"{'case':<12} {'ember ms':>9} {'torch ms':>9} {'ember/torch':>12}")
    for name in ("mha", "mha-sdpa", "mha-causal", "sdpa"):
        e_step = _case(ember, name)
        t_step = _case(torch, name) if torch is not None else None
        for _ in range(3):  # warm-up
            e_step()
            if t_step is not None:
                t_step()
        e_best, t_best = float("inf"), float("inf")
        for _ in range(args.repeats):  # interleaved: load hits both alike
            e_best = min(e_best, _seconds(e_step))
            if t_step is not None:
                t_best = min(t_best, _seconds(t_step))
        if t_step is None:
            print(f"{name:<12} {e_best * 1e3:9.3f}")
        else:
            print(f"{name:<12} {e_best * 1e3:9.3f} {t_best * 1e3:9.3f} "
                  f"{e_best / t_best:12.2f}")


if __name__ == "__main__":
    main()
