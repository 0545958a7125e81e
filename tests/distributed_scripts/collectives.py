"""One rank of tests/test_distributed.py's collectives job: runs many ember.distributed
operations on inputs every rank (and the test) can rebuild from ``make_input``, and writes
what it got to ``OUT_DIR/rank<R>.npz`` and ``OUT_DIR/rank<R>.json`` for the test to compare
with NumPy. Usage: ``mpirun -n N python collectives.py OUT_DIR``."""
from __future__ import annotations

import json
import os
import sys
import zlib

import ml_dtypes
import numpy as np

FLOATS = ("float32", "float64", "bfloat16", "float16")
INTS = ("int64", "int32")
COMPLEX = ("complex64",)
DTYPES = FLOATS + INTS + COMPLEX
OPS = ("SUM", "AVG", "PRODUCT", "MIN", "MAX")
BITWISE = ("BAND", "BOR", "BXOR")
SHAPE = (3, 4)
ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def np_dtype(name: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def make_input(rank: int, key: str, dtype: str = "float32", shape=SHAPE) -> np.ndarray:
    """Rank ``rank``'s input for the operation named ``key``: small positive values, so that
    products stay in range and every dtype represents them."""
    rng = np.random.default_rng([zlib.crc32(key.encode()), rank])
    if dtype in INTS:
        return rng.integers(1, 4, shape).astype(dtype)
    values = rng.uniform(0.5, 1.5, shape)
    if dtype in COMPLEX:
        values = values + 1j * rng.uniform(0.5, 1.5, shape)
    return values.astype(np_dtype(dtype))


def split_sizes(sender: int, receiver: int) -> int:
    """Rows rank ``sender`` sends rank ``receiver`` in all_to_all_single (uneven)."""
    return (sender + 2 * receiver) % 3 + 1


def main(out_dir: str) -> None:
    import ember as torch
    import ember.distributed as dist

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    arrays: dict[str, np.ndarray] = {}
    info: dict = {"env": {k: os.environ.get(k) for k in ENV}, "errors": {}, "rank": rank,
                  "size": size, "backend": dist.get_backend()}

    def tensor(key, dtype="float32", shape=SHAPE):
        return torch.from_numpy(make_input(rank, key, dtype, shape).copy())

    def keep(key, t):
        arrays[key] = t.float().numpy() if t.dtype in (torch.bfloat16, torch.float16) \
            else t.numpy().copy()

    def error(key, call):
        try:
            call()
        except Exception as e:  # the test compares type and text with torch's
            info["errors"][key] = [type(e).__name__, str(e)]

    # all_reduce: every dtype, every op, sync and async
    versions = []
    for dtype in DTYPES:
        for op in OPS + (BITWISE if dtype in INTS else ()):
            for mode in ("sync", "async"):
                key = f"all_reduce|{dtype}|{op}|{mode}"
                t = tensor(key, dtype)
                before = t._version
                reduce_op = getattr(dist.ReduceOp, op)
                if dtype in COMPLEX and op in ("PRODUCT", "MIN", "MAX"):
                    error(key, lambda t=t, reduce_op=reduce_op: dist.all_reduce(t, reduce_op))
                    continue
                if mode == "sync":
                    run = lambda t=t, reduce_op=reduce_op: dist.all_reduce(t, reduce_op)  # noqa: E731
                else:
                    def run(t=t, reduce_op=reduce_op):
                        work = dist.all_reduce(t, reduce_op, async_op=True)
                        assert work.wait() is True and work.is_completed()
                if dtype in INTS and op == "AVG":
                    error(key, run)  # torch's rule: the sum is kept, then the division fails
                else:
                    run()
                keep(key, t)
                versions.append(t._version - before)
    info["all_reduce_version_bumps"] = sorted(set(versions))

    # a non-contiguous tensor (written back through its copy) and a 0-d one
    base = tensor("noncontig")
    view = base.t()
    dist.all_reduce(view)
    keep("noncontig", base)
    scalar = torch.tensor(float(rank + 1))
    dist.all_reduce(scalar, dist.ReduceOp.MAX)
    keep("scalar", scalar)

    for dtype in ("float32", "bfloat16", "int64"):
        t = tensor(f"broadcast|{dtype}", dtype)
        dist.broadcast(t, src=size - 1)
        keep(f"broadcast|{dtype}", t)
        t = tensor(f"broadcast_async|{dtype}", dtype)
        dist.broadcast(t, src=0, async_op=True).wait()
        keep(f"broadcast_async|{dtype}", t)

    for key, dtype, op, async_op in (("reduce|SUM", "float32", "SUM", False),
                                     ("reduce|MAX", "int64", "MAX", True),
                                     ("reduce|AVG", "bfloat16", "AVG", False)):
        t = tensor(key, dtype)
        work = dist.reduce(t, dst=1, op=getattr(dist.ReduceOp, op), async_op=async_op)
        if async_op:
            work.wait()
        keep(key, t)

    for dtype in ("float32", "bfloat16"):
        outs = [torch.zeros(SHAPE, dtype=getattr(torch, dtype)) for _ in range(size)]
        dist.all_gather(outs, tensor(f"all_gather|{dtype}", dtype))
        keep(f"all_gather|{dtype}", torch.stack(outs))
    out = torch.zeros(size * SHAPE[0], SHAPE[1])
    dist.all_gather_into_tensor(out, tensor("all_gather_into_tensor"))
    keep("all_gather_into_tensor", out)
    out = torch.zeros((size,) + SHAPE, dtype=torch.int64)
    dist.all_gather_into_tensor(out, tensor("all_gather_into_tensor|stack", "int64"),
                                async_op=True).wait()
    keep("all_gather_into_tensor|stack", out)
    error("all_gather_into_tensor|size",
          lambda: dist.all_gather_into_tensor(torch.zeros(size * 12 + 1), torch.zeros(12)))

    gathered = [torch.zeros(SHAPE) for _ in range(size)] if rank == 0 else None
    dist.gather(tensor("gather"), gathered, dst=0)
    if rank == 0:
        keep("gather", torch.stack(gathered))
    error("gather|no list", lambda: dist.gather(torch.zeros(2), None, dst=rank))
    received = torch.zeros(SHAPE)
    pieces = [tensor(f"scatter|{i}") for i in range(size)] if rank == size - 1 else None
    dist.scatter(received, pieces, src=size - 1, async_op=True).wait()
    keep("scatter", received)

    out = torch.zeros(SHAPE)
    dist.reduce_scatter(out, [tensor(f"reduce_scatter|{i}") for i in range(size)])
    keep("reduce_scatter", out)
    out = torch.zeros(SHAPE, dtype=torch.float64)
    dist.reduce_scatter_tensor(out, tensor("reduce_scatter_tensor|AVG", "float64",
                                           (size * SHAPE[0], SHAPE[1])), dist.ReduceOp.AVG)
    keep("reduce_scatter_tensor|AVG", out)
    out = torch.zeros(SHAPE, dtype=torch.bfloat16)
    dist.reduce_scatter_tensor(out, tensor("reduce_scatter_tensor|bf16", "bfloat16",
                                           (size,) + SHAPE), async_op=True).wait()
    keep("reduce_scatter_tensor|bf16", out)

    outs = [torch.zeros(2 * i + rank + 1) for i in range(size)]
    dist.all_to_all(outs, [tensor(f"all_to_all|{j}", shape=(2 * rank + j + 1,))
                           for j in range(size)])
    keep("all_to_all", torch.cat(outs))
    send_rows = [split_sizes(rank, j) for j in range(size)]
    recv_rows = [split_sizes(i, rank) for i in range(size)]
    out = torch.zeros(sum(recv_rows), 2)
    dist.all_to_all_single(out, tensor("all_to_all_single", shape=(sum(send_rows), 2)),
                           recv_rows, send_rows, async_op=True).wait()
    keep("all_to_all_single", out)
    out = torch.zeros(size * 2, dtype=torch.int64)
    dist.all_to_all_single(out, tensor("all_to_all_single|even", "int64", (size * 2,)))
    keep("all_to_all_single|even", out)

    # point to point: a ring, sync receive and async receive from any rank
    right, left = (rank + 1) % size, (rank - 1) % size
    work = dist.isend(tensor("ring"), dst=right, tag=7)
    got = torch.zeros(SHAPE)
    info["recv_from"] = dist.recv(got, src=left, tag=7)
    work.wait()
    keep("ring", got)
    got = torch.zeros(SHAPE)
    receive = dist.irecv(got, tag=8)
    dist.send(tensor("any_source"), dst=right, tag=8)
    receive.wait()
    info["irecv_source"] = receive.source_rank()
    keep("any_source", got)
    error("send|self", lambda: dist.send(torch.zeros(2), dst=rank))

    objects = [{"from": rank}, [rank] * 2] if rank == 1 else [None, None]
    dist.broadcast_object_list(objects, src=1)
    info["broadcast_object_list"] = objects
    everyone = [None] * size
    dist.all_gather_object(everyone, ("rank", rank))
    info["all_gather_object"] = everyone
    at_root = [None] * size if rank == 0 else None
    dist.gather_object({"r": rank}, at_root, dst=0)
    info["gather_object"] = at_root
    mine = [None]
    dist.scatter_object_list(mine, [f"to {i}" for i in range(size)] if rank == 0 else None)
    info["scatter_object_list"] = mine[0]

    # a subgroup of the first and last ranks
    members = [0, size - 1]
    sub = dist.new_group(members)
    info["subgroup_rank"] = dist.get_rank(sub) if rank in members else None
    if rank in members:
        t = tensor("subgroup")
        dist.all_reduce(t, group=sub)
        keep("subgroup", t)
        info["subgroup_ranks"] = dist.get_process_group_ranks(sub)
    else:
        info["subgroup_not_member"] = sub == dist.GroupMember.NON_GROUP_MEMBER

    future = dist.all_reduce(torch.ones(2), async_op=True).get_future()
    info["future"] = future.then(lambda f: f.value()[0].sum().item()).wait()
    dist.barrier(async_op=True).wait()
    error("init twice", lambda: dist.init_process_group("mpi"))
    error("single tensor", lambda: dist.all_reduce([torch.ones(2)]))
    dist.barrier()
    dist.destroy_process_group()
    info["initialized_after_destroy"] = dist.is_initialized()
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **arrays)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main(sys.argv[1])
