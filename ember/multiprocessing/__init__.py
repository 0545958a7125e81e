"""``ember.multiprocessing``: mirrors ``torch.multiprocessing``: Python's ``multiprocessing``
(``Process``, ``Pool``, ``Queue``, ``get_context``, ``set_start_method``, ...) with ember
tensors sent through shared memory (NOTE [Tensors across processes]), torch's sharing
strategies, and ``spawn``/``start_processes``.
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403 - torch.multiprocessing is multiprocessing's API

from ember.multiprocessing import reductions
from ember.multiprocessing.reductions import _STRATEGIES, _strategy, init_reductions
from ember.multiprocessing.spawn import (
    ProcessContext,
    ProcessExitedException,
    ProcessRaisedException,
    SpawnContext,
    spawn,
    start_processes,
)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           *multiprocessing.__all__]
__all__ += ["ProcessContext", "ProcessExitedException", "ProcessRaisedException",
            "SpawnContext", "spawn", "start_processes", "init_reductions", "reductions"]


def set_sharing_strategy(new_strategy: str) -> None:
    """Mirrors ``torch.multiprocessing.set_sharing_strategy``: how tensors' shared memory
    reaches another process, one of ``get_all_sharing_strategies()`` (NOTE [Tensors across
    processes])."""
    if new_strategy not in _STRATEGIES:
        raise AssertionError(f"invalid sharing strategy '{new_strategy}', expected one of "
                             f"{_STRATEGIES}")
    _strategy[0] = new_strategy


def get_sharing_strategy() -> str:
    """Mirrors ``torch.multiprocessing.get_sharing_strategy``: "file_descriptor" until set."""
    return _strategy[0]


def get_all_sharing_strategies() -> set:
    """Mirrors ``torch.multiprocessing.get_all_sharing_strategies``: the strategies of a
    Linux build, ``{"file_descriptor", "file_system"}``."""
    return set(_STRATEGIES)


init_reductions()
