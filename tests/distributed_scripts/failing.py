"""A job of tests/test_distributed.py that must fail fast rather than hang. ``raise``: rank
1 raises while the others wait in a barrier. ``hang``: rank 1 stops calling collectives and
the others' barrier outlives the group's 2-second timeout.
Usage: ``mpirun -n N python failing.py raise|hang``."""
from __future__ import annotations

import sys
import time
from datetime import timedelta

import ember.distributed as dist

if __name__ == "__main__":
    mode = sys.argv[1]
    dist.init_process_group("mpi", timeout=timedelta(seconds=2) if mode == "hang" else None)
    if dist.get_rank() == 1:
        if mode == "raise":
            raise ValueError("rank 1 gives up")
        time.sleep(120)
    dist.barrier()
    print("barrier passed")
