"""The torchrun-style environment of a rank started by ``mpirun``.

Imported by ``ember.distributed`` (for ``mpirun -n N python script.py``), and run by path as
each rank's first program under ``python -m ember.distributed.run``: ``python _env.py
PROGRAM ARGS...`` sets the variables and replaces itself with the user's command, so the
user's program sees them from its first line, as under torchrun. Run by path, it imports
neither ember nor MPI, so a rank starts no slower than with plain ``mpirun``.
"""
from __future__ import annotations

import os
import sys

# torchrun's variable <- Open MPI's per-process variable (mpirun sets one for every rank).
_FROM_OPEN_MPI = (
    ("RANK", "OMPI_COMM_WORLD_RANK"),
    ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"),
    ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"),
)


def set_rank_environment(overwrite: bool = False) -> None:
    """Give a process started by ``mpirun`` the variables torchrun sets (RANK, WORLD_SIZE,
    LOCAL_RANK, LOCAL_WORLD_SIZE), from Open MPI's. Variables already set are kept unless
    ``overwrite`` (the launcher's ranks: one value inherited by all of them would be
    wrong for all but one)."""
    environ = os.environ
    for name, source in _FROM_OPEN_MPI:
        value = environ.get(source)
        if value is not None and (overwrite or name not in environ):
            environ[name] = value


if __name__ == "__main__":
    set_rank_environment(overwrite=True)
    os.execvp(sys.argv[1], sys.argv[1:])
