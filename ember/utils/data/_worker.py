"""The worker-process side of ``DataLoader(num_workers > 0)``: mirrors
``torch.utils.data._utils.worker`` (``get_worker_info``, the per-worker seeds) with ember's own
loop and transport.

NOTE [Batches across processes]: a worker pickles each ``(task index, batch)`` itself with
a pickler that reduces an ember ``Tensor`` to its NumPy array (one buffer copied whole, never
element by element) and puts the bytes on the shared result queue; the main process
unpickles them into tensors again. Exceptions travel as ``ExceptionWrapper`` with the
worker's traceback text and are re-raised in the main process.
"""
from __future__ import annotations

import dataclasses
import io
import os
import pickle
import queue
import random
import sys
import traceback
from typing import Any

__all__ = ["WorkerInfo", "get_worker_info"]

# How often (seconds) a worker waiting for work checks that its parent is still alive and
# has not asked the workers to stop.
STATUS_CHECK_INTERVAL = 0.25


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """Mirrors ``torch.utils.data._utils.worker.WorkerInfo``: what ``get_worker_info()``
    returns inside a worker (``id``, ``num_workers``, ``seed`` = base seed + id, this worker's
    copy of ``dataset``)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str = "multiprocessing"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Mirrors ``torch.utils.data.get_worker_info``: this worker's ``WorkerInfo`` inside a
    ``DataLoader`` worker process, ``None`` in the main process. Use it in an
    ``IterableDataset.__iter__`` or a ``worker_init_fn`` to split the work."""
    return _worker_info


class KeyErrorMessage(str):
    """A ``KeyError`` shows ``repr`` of its argument: keep the traceback text readable."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as its type and the
    text of its traceback (torch's ``Caught X in DataLoader worker process N.`` form)."""

    def __init__(self, where: str) -> None:
        exc_type, exc_value, _ = sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc_value,
                                                          exc_value.__traceback__))
        self.where = where

    def reraise(self) -> None:
        """Raise the worker's exception type with the worker's traceback in its message."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class IterableDatasetStopIteration:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class ResumeIteration:
    """Tells a persistent worker that a new pass begins (its answer is the same marker)."""


def _rebuild_tensor(array, requires_grad: bool):
    from ember._tensor import make

    return make(array, requires_grad)


def _reduce_tensor(tensor):
    if tensor.requires_grad and tensor.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since "
            "autograd does not support crossing process boundaries.  If you just want to "
            "transfer the data, call detach() on the tensor before serializing (e.g., "
            "putting it on the queue).")
    return _rebuild_tensor, (tensor._data, tensor.requires_grad)


def register_tensor_reducer() -> None:
    """Let ``multiprocessing`` pickle ember tensors as arrays (a spawned worker receives the
    dataset this way); only ``multiprocessing``'s own pickler is affected."""
    from multiprocessing.reduction import ForkingPickler

    from ember._tensor import Tensor

    ForkingPickler.register(Tensor, _reduce_tensor)


class _BatchPickler(pickle.Pickler):
    def reducer_override(self, obj):
        from ember._tensor import Tensor

        if type(obj) is Tensor:
            return _reduce_tensor(obj)
        return NotImplemented


def pack(obj: Any) -> bytes:
    """``obj`` as bytes, tensors as their arrays (NOTE [Batches across processes])."""
    buffer = io.BytesIO()
    _BatchPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def unpack(payload: bytes) -> Any:
    """The inverse of ``pack``."""
    return pickle.loads(payload)


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's, ember's and NumPy's global generators as torch seeds a worker's: the
    first two with ``base_seed + worker_id``, NumPy's with the 4-word state torch derives
    from ``(worker_id, base_seed)`` (NumPy's ``SeedSequence`` of those words)."""
    import numpy as np

    import ember

    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    np.random.seed(np.random.SeedSequence(words).generate_state(4))
    return seed


def worker_loop(make_fetcher, dataset, iterable: bool, index_queue, result_queue,
                done_event, base_seed: int, init_fn, worker_id: int, num_workers: int,
                parent_pid: int) -> None:
    """The body of a worker process: answer each ``(task index, indices)`` from
    ``index_queue`` with ``(task index, packed batch)`` on ``result_queue`` until told to
    stop (``None``) or the parent disappears."""
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher()
        except Exception:
            init_error = ExceptionWrapper(where)
        exhausted = False
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                # The stop signal may never come through the queue when the main process
                # shuts down from a garbage collection: the event suffices.
                if os.getppid() != parent_pid or done_event.is_set():
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                exhausted = False
                if init_error is None:
                    fetcher = make_fetcher()
                result_queue.put(pack((task, None)))
                continue
            if done_event.is_set() or exhausted:
                continue
            task_index, indices = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(indices)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data = IterableDatasetStopIteration(worker_id)
                        exhausted = True
                except Exception:
                    data = ExceptionWrapper(where)
            try:
                payload = pack((task_index, data))
            except Exception:
                payload = pack((task_index, ExceptionWrapper(where)))
            result_queue.put(payload)
            del data
    except KeyboardInterrupt:
        pass  # the main process handles the interrupt and shuts the workers down
    if done_event.is_set():
        # The main process no longer reads: leave without flushing what is queued.
        result_queue.cancel_join_thread()
        result_queue.close()
