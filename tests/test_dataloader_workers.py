"""DataLoader with worker processes, against torch's: order, per-worker seeds, iterable
sharding, persistent workers, and the errors for a raising, a killed and a slow worker.
Each test runs under an alarm and checks that no worker process outlives it."""
from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest

import ember
import ember.utils.data as edata
from tests.helpers import check_raises_like, torch
from tests.test_data import overlong_stream, pickled_iterator, plain, tensors, warned

tdata = torch.utils.data
TIME_LIMIT = 20  # seconds per test, enforced by SIGALRM


@pytest.fixture(autouse=True)
def bounded_and_clean():
    def expire(signum, frame):
        raise TimeoutError(f"worker test exceeded {TIME_LIMIT} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # the loaders' workers are gone once their iterators are (an exception's traceback may
    # have held one); a loaded machine may take a while to reap them
    gc.collect()
    deadline = time.time() + 30
    while multiprocessing.active_children() and time.time() < deadline:
        time.sleep(0.05)
    left = multiprocessing.active_children()
    for child in left:
        child.kill()
    assert not left, f"worker processes left running: {left}"


def lib_data(lib):
    return lib.utils.data


class Augmented:
    """Each sample draws from the library's, NumPy's and Python's global generators, and
    reports the worker it came from."""

    def __init__(self, lib, n=12):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = lib_data(self.lib).get_worker_info()
        wid = -1 if info is None else info.id
        seed = -1 if info is None else info.seed
        return {"i": i, "noise": self.lib.rand(2), "np": float(np.random.rand()),
                "py": random.random(), "wid": wid, "seed": seed,
                "k": self.lib.randint(0, 100, (1,))}


def test_workers_match_single_process_and_torch():
    def run(lib, workers):
        lib.manual_seed(0)
        x, y = tensors(lib, 50)
        dl = lib_data(lib).DataLoader(lib_data(lib).TensorDataset(x, y), batch_size=8,
                                      shuffle=True, num_workers=workers)
        return list(dl), lib.rand(2)
    ember2 = plain(run(ember, 2))
    assert ember2 == plain(run(ember, 0))
    assert ember2 == plain(run(torch, 2))


def test_random_augmentation_in_workers_matches_torch():
    def run(lib):
        lib.manual_seed(1)
        dl = lib_data(lib).DataLoader(Augmented(lib), batch_size=3, shuffle=True,
                                      num_workers=2)
        return list(dl), lib.rand(1)
    got = plain(run(ember))
    assert got == plain(run(torch))


def test_worker_init_fn_and_info():
    def run(lib):
        def init(worker_id):
            info = lib_data(lib).get_worker_info()
            assert info.id == worker_id and info.num_workers == 2
            lib.manual_seed(100 + worker_id)  # a user reseeding in the init function
        lib.manual_seed(2)
        return list(lib_data(lib).DataLoader(Augmented(lib, 6), batch_size=2, num_workers=2,
                                             worker_init_fn=init))
    assert plain(run(ember)) == plain(run(torch))
    assert edata.get_worker_info() is None


def make_stream(lib, shard):
    class Stream(lib_data(lib).IterableDataset):
        def __iter__(self):
            info = lib_data(lib).get_worker_info()
            if shard and info is not None:
                return iter(range(info.id, 11, info.num_workers))
            return iter(range(5))
    return Stream()


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None)])
@pytest.mark.parametrize("shard", [True, False])
def test_iterable_dataset_workers(kw, shard):
    def run(lib):
        lib.manual_seed(0)
        return list(lib_data(lib).DataLoader(make_stream(lib, shard), num_workers=2, **kw))
    assert plain(run(ember)) == plain(run(torch))


def test_unsharded_iterable_longer_than_its_len_warns_like_torch():
    # Each of two workers streams the whole dataset: twice the length len() reported.
    def run(lib):
        lib.manual_seed(0)
        dl = lib_data(lib).DataLoader(overlong_stream(lib, n=3, length=4), batch_size=None,
                                      num_workers=2)
        return len(dl), sorted(list(dl))
    assert plain(warned(run)(ember)) == plain(warned(run)(torch))


def test_worker_iterator_refuses_pickling_like_torch():
    check_raises_like(lambda lib: pickled_iterator(lib, num_workers=1))


def test_persistent_workers_two_passes():
    def run(lib):
        lib.manual_seed(4)
        dl = lib_data(lib).DataLoader(Augmented(lib, 8), batch_size=2, shuffle=True,
                                      num_workers=2, persistent_workers=True,
                                      prefetch_factor=1)
        first = list(dl)
        between = lib.rand(1)
        second = list(dl)
        return first, between, second, lib.rand(1), list(
            lib_data(lib).DataLoader(make_stream(lib, True), batch_size=2, num_workers=2,
                                     persistent_workers=True))
    out = plain(run(ember))
    assert out == plain(run(torch))


def test_in_order_false_yields_every_batch():
    dl = edata.DataLoader(range(20), batch_size=3, num_workers=2, in_order=False)
    batches = [b.tolist() for b in dl]
    assert sorted(sum(batches, [])) == list(range(20))


def test_spawn_context():
    x, y = tensors(ember, 10)
    dl = edata.DataLoader(edata.TensorDataset(x, y), batch_size=4, num_workers=1,
                          multiprocessing_context="spawn")
    assert plain(list(dl)) == plain(list(edata.DataLoader(edata.TensorDataset(x, y),
                                                          batch_size=4)))


class Raising:
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 5:
            raise self.exc("bad sample 5")
        return i


@pytest.mark.parametrize("exc", [ValueError, KeyError])
def test_worker_exception_reraised_with_traceback(exc):
    errors = {}
    for lib in (torch, ember):
        start = time.time()
        it = iter(lib_data(lib).DataLoader(Raising(exc), batch_size=2, num_workers=2))
        with pytest.raises(exc) as info:
            list(it)
        assert time.time() - start < 10
        it._shutdown_workers()  # both libraries' name: torch's otherwise waits 10 s
        errors[lib.__name__] = str(info.value)
        del info
    first_line = errors["torch"].splitlines()[0]
    assert first_line == f"Caught {exc.__name__} in DataLoader worker process 0."
    assert errors["ember"].splitlines()[:2] == errors["torch"].splitlines()[:2]
    assert 'raise self.exc("bad sample 5")' in errors["ember"]
    assert errors["ember"].splitlines()[-1] == errors["torch"].splitlines()[-1]


class Samples:
    """A map-style dataset of ``make(lib)``'s samples."""

    def __init__(self, lib, make):
        self.samples = make(lib)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


@pytest.mark.parametrize("make", [
    lambda lib: [lib.zeros(2), lib.ones(2, dtype=lib.int64)],  # later samples cast
    lambda lib: [lib.ones(2, dtype=lib.int64), lib.zeros(2)],  # ... or cannot
    lambda lib: [lib.zeros(2, dtype=lib.float16), lib.ones(2, dtype=lib.float64)],
    lambda lib: [lib.zeros(2), lib.zeros(3)],
    lambda lib: [lib.zeros(3), lib.zeros(2)],  # too few elements for the batch's buffer
    lambda lib: [lib.ones(2), lib.ones(2, requires_grad=True)],
    lambda lib: [lib.ones(2, 3).t(), lib.ones(3, 2)],
], ids=["cast", "uncastable", "half-first", "ragged-growing", "ragged-shrinking",
        "requires-grad", "transposed"])
def test_worker_collate_stacks_like_torch(make):
    """A worker stacks a batch as torch's does (into a buffer of the first sample's
    dtype and shape), so it fails where torch's fails."""
    def run(lib):
        it = iter(lib_data(lib).DataLoader(Samples(lib, make), batch_size=2, num_workers=1))
        try:
            return [(str(b.dtype), b.tolist(), b.requires_grad) for b in it]
        except Exception as exc:  # the worker's error, re-raised: type, first and last line
            lines = str(exc).splitlines()
            return type(exc).__name__, lines[0], lines[-1]
        finally:
            it._shutdown_workers()
    assert run(ember) == run(torch)


class Slow:
    def __init__(self, delay):
        self.delay = delay

    def __len__(self):
        return 100

    def __getitem__(self, i):
        time.sleep(self.delay)
        return i


def test_killed_worker_raises_quickly():
    messages = {}
    for lib in (torch, ember):
        it = iter(lib_data(lib).DataLoader(Slow(0.02), num_workers=2))
        next(it)
        pid = it._workers[0].pid
        os.kill(pid, signal.SIGKILL)
        start = time.time()
        with pytest.raises(RuntimeError) as info:
            for _ in it:
                pass
        assert time.time() - start < 10
        it._shutdown_workers()  # both libraries' name: the other worker goes now
        messages[lib.__name__] = str(info.value).replace(str(pid), "PID")
        del it, info
    # torch words it one of two ways, depending on whether its SIGCHLD handler or its check
    # of the workers' liveness sees the death first (a race on a loaded machine); ember
    # reports it the second way
    assert messages["torch"] in KILLED_WORKER_MESSAGES
    assert messages["ember"] == KILLED_WORKER_MESSAGES[1]


KILLED_WORKER_MESSAGES = ("DataLoader worker (pid PID) is killed by signal: Killed. ",
                          "DataLoader worker (pid(s) PID) exited unexpectedly")


def test_timeout():
    messages = []
    for lib in (torch, ember):
        it = iter(lib_data(lib).DataLoader(Slow(1.0), num_workers=1, timeout=0.3))
        with pytest.raises(RuntimeError) as info:
            list(it)
        it._shutdown_workers()
        messages.append(str(info.value))
        del info
    assert messages[0] == messages[1]
