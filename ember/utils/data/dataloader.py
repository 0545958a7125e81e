"""DataLoader: mirrors ``torch.utils.data.DataLoader``.

Combines a dataset with a sampler and yields batches, in the main process
(``num_workers=0``) or from worker processes (``multiprocessing``), in order. Random draws
(the base seed of the workers, the sampler's seed) come from ember's torch-identical
generator in torch's order, so a seeded loader yields torch's batches and a worker's
``ember.rand`` gives the numbers torch's worker gives.
"""
from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import multiprocessing.context
import os
import queue
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import numpy as np

from ember.utils.data import _worker
from ember.utils.data._utils.collate import default_collate, default_convert
from ember.utils.data.dataset import Dataset, IterableDataset, Subset, TensorDataset
from ember.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_T_co = TypeVar("_T_co", covariant=True)

_worker.register_tensor_reducer()

# How long (seconds) the main process waits on the result queue before checking that every
# worker is alive: a killed worker is reported after at most this long.
_LIVENESS_INTERVAL = 0.1
# How long shutting down waits for each worker to leave before terminating it.
_JOIN_TIMEOUT = 5.0


class _DatasetKind:
    Map = 0
    Iterable = 1


class _InfiniteConstantSampler(Sampler):
    """``None`` forever: the index stream of an iterable dataset (the worker's fetcher
    only counts the items)."""

    def __iter__(self):
        while True:
            yield None


def _tensor_rows(dataset) -> tuple | None:
    """(the Subsets, outermost first, the TensorDataset) when ``dataset`` is a TensorDataset
    of tensors that do not require grad under a chain of Subsets (the exact classes), else
    None (NOTE [Batched TensorDataset reads])."""
    subsets = []
    while type(dataset) is Subset:
        subsets.append(dataset)
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset or any(t.requires_grad for t in dataset.tensors):
        return None
    return subsets, dataset


class _MapFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        # NOTE [Batched TensorDataset reads]: collating TensorDataset rows with
        # default_collate stacks them, which equals one gather of the batch's rows; reading
        # them through Subsets (random_split's) maps the indices first, as Subset's
        # __getitems__ does. Take that path when nothing can tell the difference (the exact
        # classes, no tensor requiring grad, in-range integer indices); otherwise read sample
        # by sample.
        self._rows = _tensor_rows(dataset) if auto_collation \
            and collate_fn is default_collate else None

    def _gathered(self, indices):
        from ember._tensor import make

        subsets, tensors = self._rows
        for subset in subsets:  # outermost first; an index out of a list raises as torch's
            indices = [subset.indices[i] for i in indices]
        rows = np.asarray(indices)
        n = len(tensors)
        if rows.ndim != 1 or rows.dtype.kind not in "iu" or rows.size == 0 \
                or rows.min() < -n or rows.max() >= n:
            return None
        return [make(t._data.take(rows, axis=0)) for t in tensors.tensors]

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self._rows is not None:
            batch = self._gathered(index)
            if batch is not None:
                return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            data = getitems(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def _make_fetcher(kind: int, dataset, auto_collation: bool, collate_fn: Callable,
                  drop_last: bool):
    cls = _MapFetcher if kind == _DatasetKind.Map else _IterableFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _draw_seed(generator) -> int:
    """One int64 ``random_()`` draw: torch's base seed for a pass of a loader."""
    import ember

    return int(ember.empty((), dtype=ember.int64).random_(generator=generator).item())


class DataLoader(Generic[_T_co]):
    """Mirrors ``torch.utils.data.DataLoader``: iterates batches of ``dataset``.

    Arguments are torch's: ``batch_size=1`` (``None`` turns automatic batching off and
    converts each sample with ``default_convert``), ``shuffle`` (a ``RandomSampler`` drawing
    from ``generator`` or the default generator), ``sampler``, ``batch_sampler``,
    ``num_workers`` (worker *processes* from ``multiprocessing_context`` or the default
    start method), ``collate_fn`` (``default_collate``), ``pin_memory`` (a CPU build has no
    pinned memory: torch's warning, then ignored as in torch), ``drop_last``, ``timeout``
    (seconds to wait for a worker's batch, 0 = forever), ``worker_init_fn(worker_id)``,
    ``generator``, ``prefetch_factor`` (batches in flight per worker, 2 by default),
    ``persistent_workers`` (keep the workers between passes), ``pin_memory_device`` and
    ``in_order`` (``False`` yields worker batches as they arrive).

    Where ember differs: batches leave workers as pickled NumPy buffers rather than
    shared-memory tensors (NOTE [Batches across processes]); a ``TensorDataset``, or
    Subsets of one, with ``default_collate`` is read one gather per batch (NOTE [Batched
    TensorDataset reads]).

    Example: ``for x, y in DataLoader(TensorDataset(X, Y), batch_size=64, shuffle=True)``.
    """

    _initialized = False

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable "
                             "multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:  # 0 passes, as it does in torch's set test
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        # The length len() last reported for an iterable dataset: a pass that yields more
        # batches than that warns (NOTE [Overlong iterable datasets]).
        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        # torch warns when made, and again at each new iterator
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        """The ``multiprocessing`` context the workers start from (``None``: the default)."""
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers <= 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, attr: str, value: Any) -> None:
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler",
                                          "drop_last", "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def check_worker_number_rationality(self) -> None:
        """Mirrors ``DataLoader.check_worker_number_rationality``: warn when ``num_workers``
        exceeds the CPUs this process may run on."""
        try:
            suggested = len(os.sched_getaffinity(0))
        except AttributeError:
            suggested = os.cpu_count()
        if suggested is not None and self.num_workers > suggested:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total. "
                f"Our suggested max number of worker in current system is {suggested}, which "
                "is smaller than what this DataLoader is going to create. Please be aware "
                "that excessive worker creation might get DataLoader running slow or even "
                "freeze, lower the worker number to avoid potential slowness/freeze if "
                "necessary.", stacklevel=3)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._in_order = loader.in_order
        self._generator = loader.generator
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn("pin_memory_device is deprecated, the current accelerator will be "
                          "used as the device,ignore "
                          f"pin_memory_device='{loader.pin_memory_device}'.", stacklevel=4)
        if loader.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=4)
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._num_yielded = 0

    def _reset(self, loader: DataLoader) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0  # persistent workers keep their seeds: nothing is drawn
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def __iter__(self):
        return self

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        # NOTE [Overlong iterable datasets]: an iterable dataset whose length was asked for
        # (len(loader)) and that then yields more batches warns at each extra one, as torch
        # does; with workers the usual cause is every worker iterating the whole stream.
        if self._dataset_kind == _DatasetKind.Iterable \
                and self._IterableDataset_len_called is not None \
                and self._num_yielded > self._IterableDataset_len_called:
            message = (f"Length of IterableDataset {self._dataset} was reported to be "
                       f"{self._IterableDataset_len_called}(when accessing len(dataloader)), "
                       f"but {self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each worker. "
                            "Please see https://pytorch.org/docs/stable/data.html#torch.utils."
                            "data.IterableDataset for examples.")
            warnings.warn(message, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        # An iterator holds a pass in progress (and maybe worker processes): torch refuses
        # to pickle it, with this message (its format arguments left unapplied).
        raise NotImplementedError("{} cannot be pickled", self.__class__.__name__)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if self._timeout != 0:  # nothing to wait for in one process: torch refuses it
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._fetcher = _make_fetcher(self._dataset_kind, self._dataset,
                                      self._auto_collation, self._collate_fn, self._drop_last)

    def _next_data(self):
        index = self._next_index()
        return self._fetcher.fetch(index)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Worker processes fed round-robin through one index queue each, answering on one
    shared result queue; the main process reorders answers by task index."""

    _shutdown = True  # until the workers exist, there is nothing to shut down

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        context = loader.multiprocessing_context or multiprocessing
        make_fetcher = functools.partial(_make_fetcher, self._dataset_kind, self._dataset,
                                         self._auto_collation, self._collate_fn,
                                         self._drop_last)
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues = []
        self._workers = []
        self._workers_status = [True] * self._num_workers
        self._shutdown = False
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            worker = context.Process(
                target=_worker.worker_loop,
                args=(make_fetcher, self._dataset,
                      self._dataset_kind == _DatasetKind.Iterable, index_queue,
                      self._result_queue, self._done_event, self._base_seed,
                      loader.worker_init_fn, worker_id, self._num_workers, os.getpid()),
                daemon=True)
            worker.start()
            self._index_queues.append(index_queue)
            self._workers.append(worker)
        self._start_pass(first=True)

    def _reset(self, loader: DataLoader) -> None:
        super()._reset(loader)
        self._start_pass(first=False)

    def _start_pass(self, first: bool) -> None:
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first:
            # Persistent workers: every worker confirms the new pass before work is sent.
            for index_queue in self._index_queues:
                index_queue.put(_worker.ResumeIteration())
            waiting = self._num_workers
            while waiting:
                task_index, _ = self._get_data()
                if isinstance(task_index, _worker.ResumeIteration):
                    waiting -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker is done
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _get_data(self):
        """The next ``(task index, data)`` from any worker, raising torch's errors for a
        timeout or a worker that died."""
        waited = 0.0
        while True:
            try:
                payload = self._result_queue.get(timeout=_LIVENESS_INTERVAL)
            except queue.Empty:
                waited += _LIVENESS_INTERVAL
                self._check_workers_alive()
                if self._timeout > 0 and waited >= self._timeout:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds") from None
                continue
            return _worker.unpack(payload)

    def _check_workers_alive(self) -> None:
        failed = [w for w, active in zip(self._workers, self._workers_status)
                  if active and not w.is_alive()]
        if failed:
            pids = ", ".join(str(w.pid) for w in failed)
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")

    def _next_data(self):
        while True:
            # Skip tasks of workers whose iterable ran out: they will never answer them.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            task_index, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker.IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._retire_worker(data.worker_id)
                self._try_put_index()
                continue
            if task_index == self._rcvd_idx:
                del self._task_info[task_index]
                self._rcvd_idx += 1
                return self._process(data)
            if not self._in_order:
                del self._task_info[task_index]
                return self._process(data)
            self._task_info[task_index] += (data,)

    def _process(self, data):
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _retire_worker(self, worker_id: int) -> None:
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._done_event.set()
        for worker_id, active in enumerate(self._workers_status):
            if active or self._persistent_workers:
                try:
                    self._index_queues[worker_id].put(None)
                except ValueError:
                    pass  # already closed by a garbage collection: the event suffices
        for worker in self._workers:
            worker.join(timeout=_JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for index_queue in self._index_queues:
            index_queue.cancel_join_thread()
            index_queue.close()
        self._result_queue.cancel_join_thread()
        self._result_queue.close()

    def __del__(self) -> None:
        self._shutdown_workers()
