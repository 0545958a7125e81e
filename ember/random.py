"""``ember.random``: mirrors ``torch.random``, the module of the CPU random number generator's
seed and state functions (the same objects as ``ember.manual_seed``, ``ember.get_rng_state``,
...), ``fork_rng`` and ``thread_safe_generator``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from ember._ops.random import (  # noqa: F401 - torch.random's too
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__all__ = ["set_rng_state", "get_rng_state", "manual_seed", "seed", "initial_seed",
           "fork_rng", "thread_safe_generator"]


@contextlib.contextmanager
def fork_rng(devices: Iterable | None = None, enabled: bool = True,
             device_type: str | None = None) -> Iterator[None]:
    """Mirrors ``torch.random.fork_rng``: a context manager (and decorator) that saves the
    CPU generator's state, and that of the ``devices`` of ``device_type``, on entry and
    restores them on exit, also when the block raises.

    Arguments as torch's: ``devices`` (device indices; default every device of the type),
    ``enabled`` (False: fork nothing), ``device_type`` (default "cuda", this build having no
    current accelerator; "meta" forks nothing, not even the CPU's state, as in torch). A
    type this build has no devices of adds nothing to fork; naming devices of it raises that
    module's error (torch's ``AssertionError`` for CUDA). torch's private ``_caller`` and
    ``_devices_kw`` (which name the caller in its warning about forking many devices) are
    left out: no device type here has more than one device."""
    from ember._runtime import get_device_module

    if device_type == "meta" or not enabled:
        yield
        return
    device_module = get_device_module("cuda" if device_type is None else device_type)
    devices = list(range(device_module.device_count()) if devices is None else devices)
    device_states = [device_module.get_rng_state(index) for index in devices]
    cpu_state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for index, state in zip(devices, device_states):
            device_module.set_rng_state(state, index)


def thread_safe_generator() -> Generator | None:
    """Mirrors ``torch.random.thread_safe_generator``: the worker's own generator inside a
    DataLoader thread worker, else None (the default generator is used). ember's DataLoader
    workers are processes, each with its own default generator, so this is always None."""
    return None
