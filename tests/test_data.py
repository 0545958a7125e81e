"""ember.utils.data against torch.utils.data in one process: datasets, samplers,
random_split, collation, DataLoader (num_workers=0) and DistributedSampler. Multi-process
loading is in tests/test_dataloader_workers.py."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.utils.data as edata
from tests.helpers import check_raises_like, torch

tdata = torch.utils.data

Point = collections.namedtuple("Point", "x y")


def lib_data(lib):
    return lib.utils.data


def plain(obj):
    """A nested structure with tensors of either library as (dtype name, shape, values), and
    containers tagged by their type, so ember's and torch's outputs compare with ``==``."""
    if isinstance(obj, (ember.Tensor, torch.Tensor)):
        values = obj.detach().numpy() if isinstance(obj, torch.Tensor) else obj.numpy()
        return ("tensor", str(obj.dtype).split(".")[-1], tuple(obj.shape), values.tolist())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, tuple(plain(v) for v in obj))
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: plain(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(v) for v in obj])
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.tolist())
    return (type(obj).__name__, obj)


def both(fn):
    """``fn(torch)`` and ``fn(ember)`` as plain structures, equal."""
    expected = plain(fn(torch))
    got = plain(fn(ember))
    assert got == expected
    return got


def seeded(fn, seed=0):
    """Run ``fn(lib)`` after ``lib.manual_seed(seed)``, then one more ``rand`` draw, so the
    default generator's position afterwards is compared too."""
    def run(lib):
        lib.manual_seed(seed)
        out = fn(lib)
        return out, lib.rand(2)
    return run


class Squares:
    """A plain map-style dataset (no base class): sample ``i`` is ``(i, i * i)``."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i, float(i * i)


def tensors(lib, n=10):
    x = lib.arange(n * 3, dtype=lib.float32).reshape(n, 3)
    y = lib.arange(n) % 3
    return x, y


# ---- DataLoader: the seeded order --------------------------------------------------------


@pytest.mark.parametrize("kw", [
    dict(batch_size=4, shuffle=True),
    dict(batch_size=3, shuffle=True, drop_last=True),
    dict(batch_size=1, shuffle=True),
    dict(batch_size=None, shuffle=True),
    dict(batch_size=4, shuffle=False),
])
def test_loader_seeded_matches_torch(kw):
    both(seeded(lambda lib: list(lib_data(lib).DataLoader(
        lib_data(lib).TensorDataset(*tensors(lib)), **kw))))


def test_loader_two_epochs_and_generator():
    def run(lib):
        g = lib.Generator().manual_seed(7)
        dl = lib_data(lib).DataLoader(range(13), batch_size=5, shuffle=True, generator=g)
        return [list(dl), list(dl), lib.randperm(5, generator=g)]
    both(seeded(run, seed=3))


def test_loader_plain_dataset_and_python_samples():
    both(seeded(lambda lib: list(lib_data(lib).DataLoader(Squares(7), batch_size=3,
                                                          shuffle=True))))


@pytest.mark.parametrize("kw", [
    dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
    dict(batch_size=4, shuffle=True),
])
def test_loader_len(kw):
    assert len(edata.DataLoader(range(10), **kw)) == len(tdata.DataLoader(range(10), **kw))


def test_loader_batch_sampler_collate_fn_getitems():
    class Rows:
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 6

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 10 for i in idx]

    def run(lib):
        d = lib_data(lib)
        rows = Rows()
        out = list(d.DataLoader(rows, batch_sampler=[[0, 2], [5], [1, 3, 4]]))
        out2 = list(d.DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b)))
        return out, rows.calls, out2
    both(run)


@pytest.mark.parametrize("kw", [dict(batch_size=4, shuffle=True), dict(batch_size=3)])
def test_loader_over_subsets_matches_torch(kw):
    # random_split's Subsets of a TensorDataset, nested too, with list, range and tensor
    # indices: the batches and their dtypes as torch's
    def run(lib):
        d = lib_data(lib)
        base = d.TensorDataset(*tensors(lib))
        outer, _ = d.random_split(base, [0.7, 0.3], generator=lib.Generator().manual_seed(1))
        inner = d.Subset(outer, [6, 0, 3, 5, -1])
        ranged = d.Subset(base, range(8, 1, -2))
        by_tensor = d.Subset(base, lib.tensor([9, 2, 4]))
        return [list(d.DataLoader(ds, **kw)) for ds in (outer, inner, ranged, by_tensor)]
    both(seeded(run))


@pytest.mark.parametrize("indices", [[0, 10], [0, -11], [0, 1.5]])
def test_subset_gather_path_errors_like_torch(indices):
    check_raises_like(lambda lib: list(lib_data(lib).DataLoader(
        lib_data(lib).Subset(lib_data(lib).TensorDataset(*tensors(lib)), indices),
        batch_size=2)))


def test_subset_index_out_of_the_subset_like_torch():
    check_raises_like(lambda lib: list(lib_data(lib).DataLoader(
        lib_data(lib).Subset(lib_data(lib).TensorDataset(*tensors(lib)), [0, 1]),
        batch_sampler=[[0, 2]])))


def test_tensordataset_gather_path_errors_like_torch():
    check_raises_like(lambda lib: list(lib_data(lib).DataLoader(
        lib_data(lib).TensorDataset(*tensors(lib)), batch_sampler=[[0, 10]])))
    # a tensor needing grad keeps the per-sample path: torch's grad_fn comes out
    def run(lib):
        x = lib.ones(4, 2, requires_grad=True)
        (batch,) = next(iter(lib_data(lib).DataLoader(lib_data(lib).TensorDataset(x),
                                                      batch_size=2)))
        return type(batch.grad_fn).__name__, batch.requires_grad
    assert run(ember) == run(torch)


def test_loader_iterable_dataset():
    def run(lib):
        class Stream(lib_data(lib).IterableDataset):
            def __iter__(self):
                return iter(range(7))

            def __len__(self):
                return 7
        d = lib_data(lib)
        return [list(d.DataLoader(Stream(), batch_size=3)),
                list(d.DataLoader(Stream(), batch_size=3, drop_last=True)),
                list(d.DataLoader(Stream(), batch_size=None)),
                len(d.DataLoader(Stream(), batch_size=3)),
                len(d.DataLoader(Stream(), batch_size=3, drop_last=True))]
    both(seeded(run))


@pytest.mark.parametrize("kw", [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(shuffle=True, sampler=[0]), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
    dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="bad"),
    dict(num_workers=1, multiprocessing_context=3), dict(batch_size=0),
])
def test_loader_errors(kw):
    check_raises_like(lambda lib: lib_data(lib).DataLoader(range(3), **kw))


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(shuffle=1), dict(shuffle="yes"),
                                dict(sampler=[0]), dict(batch_sampler=[[0]])])
def test_loader_iterable_errors(kw):
    def make(lib):
        class Stream(lib_data(lib).IterableDataset):
            def __iter__(self):
                return iter(range(3))
        return lib_data(lib).DataLoader(Stream(), **kw)
    check_raises_like(make)


@pytest.mark.parametrize("shuffle", [None, False, 0])
def test_loader_iterable_accepts_an_unset_shuffle(shuffle):
    def run(lib):
        class Stream(lib_data(lib).IterableDataset):
            def __iter__(self):
                return iter(range(3))
        return list(lib_data(lib).DataLoader(Stream(), shuffle=shuffle))
    both(run)


def pickled_iterator(lib, num_workers=0):
    """``pickle.dumps`` of a loader's iterator (then run to its end, ending any workers)."""
    import pickle

    it = iter(lib_data(lib).DataLoader(range(3), num_workers=num_workers))
    try:
        return pickle.dumps(it)
    finally:
        list(it)


def test_loader_iterator_refuses_pickling_like_torch():
    check_raises_like(pickled_iterator)


@pytest.mark.parametrize("attr", ["batch_size", "sampler", "dataset", "drop_last",
                                  "batch_sampler", "persistent_workers"])
def test_loader_frozen_attributes(attr):
    check_raises_like(lambda lib: setattr(lib_data(lib).DataLoader(range(3)), attr, None))


@pytest.mark.parametrize("kw", [dict(), dict(pin_memory_device="cpu"),
                                dict(pin_memory=False, pin_memory_device="cpu")])
def test_loader_pin_memory_warns_like_torch(kw):
    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = list(lib_data(lib).DataLoader(range(3), **{"pin_memory": True, **kw},
                                                in_order=False))
        return out, [str(w.message) for w in caught]
    both(run)


def test_single_process_loader_refuses_a_timeout_like_torch():
    check_raises_like(lambda lib: iter(lib_data(lib).DataLoader(range(3), timeout=1)))


def warned(fn):
    """``fn(lib)`` as a function of ``lib`` giving (its result, the warnings' texts)."""
    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(lib)
        return out, [str(w.message) for w in caught]
    return run


def overlong_stream(lib, n=7, length=5):
    """An iterable dataset of ``n`` items that claims ``length``."""
    class Stream(lib_data(lib).IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return length

        def __repr__(self):
            return "Stream"
    return Stream()


@pytest.mark.parametrize("kw", [dict(batch_size=None), dict(batch_size=1),
                                dict(batch_size=2), dict(batch_size=None, ask_len=False)])
def test_loader_iterable_longer_than_its_len_warns_like_torch(kw):
    # Without ask_len only list() asks for the length, once the pass's iterator exists: the
    # first pass cannot warn, the second can.
    def run(lib):
        kw_loader = dict(kw)
        ask_len = kw_loader.pop("ask_len", True)
        dl = lib_data(lib).DataLoader(overlong_stream(lib), **kw_loader)
        length = len(dl) if ask_len else None
        return length, list(dl), list(dl)
    both(warned(run))


# ---- samplers ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    dict(), dict(replacement=True), dict(num_samples=4), dict(num_samples=23),
    dict(replacement=True, num_samples=70), dict(num_samples=20),
])
@pytest.mark.parametrize("with_generator", [False, True])
def test_random_sampler(kw, with_generator):
    def run(lib):
        g = lib.Generator().manual_seed(5) if with_generator else None
        s = lib_data(lib).RandomSampler(range(10), generator=g, **kw)
        return [list(s), list(s), len(s)]
    both(seeded(run))


def test_subset_and_weighted_samplers():
    def run(lib):
        d = lib_data(lib)
        g = lib.Generator().manual_seed(11)
        sub = d.SubsetRandomSampler([3, 9, 4, 1, 7])
        sub_g = d.SubsetRandomSampler([3, 9, 4, 1, 7], generator=g)
        weights = [0.1, 0.5, 2.0, 0.0, 1.0]
        w = d.WeightedRandomSampler(weights, 12)
        w_norep = d.WeightedRandomSampler(weights, 4, replacement=False, generator=g)
        return [list(sub), list(sub_g), list(sub_g), len(sub), list(w), list(w_norep),
                len(w)]
    both(seeded(run))


def test_batch_and_sequential_samplers():
    def run(lib):
        d = lib_data(lib)
        seq = d.SequentialSampler(range(7))
        return [list(seq), len(seq), list(d.BatchSampler(seq, 3, False)),
                list(d.BatchSampler(seq, 3, True)), len(d.BatchSampler(seq, 3, False)),
                len(d.BatchSampler(seq, 3, True)), list(d.BatchSampler(range(4), 4, True))]
    both(run)


@pytest.mark.parametrize("make", [
    lambda d: d.RandomSampler(range(3), replacement=1),
    lambda d: d.RandomSampler(range(3), num_samples=0),
    lambda d: d.RandomSampler(range(0)),
    lambda d: d.WeightedRandomSampler([1.0, 2.0], 0),
    lambda d: d.WeightedRandomSampler([[1.0, 2.0]], 2),
    lambda d: d.WeightedRandomSampler([1.0, 2.0], 2, replacement=3),
    lambda d: d.BatchSampler(range(3), 0, False),
    lambda d: d.BatchSampler(range(3), True, False),
    lambda d: d.BatchSampler(range(3), 2, 1),
])
def test_sampler_errors(make):
    check_raises_like(lambda lib: make(lib_data(lib)))


# ---- datasets and random_split ---------------------------------------------------------


def test_tensor_and_stack_datasets():
    def run(lib):
        d = lib_data(lib)
        x, y = tensors(lib, 5)
        td = d.TensorDataset(x, y)
        st = d.StackDataset(x, y)
        sd = d.StackDataset(a=x, b=Squares(5))
        return [td[2], td[-1], len(td), st[1], len(st), sd[3], len(sd),
                list(d.DataLoader(sd, batch_size=2)), list(d.DataLoader(st, batch_size=3))]
    both(run)


@pytest.mark.parametrize("make", [
    lambda lib, d: d.TensorDataset(lib.zeros(2), lib.zeros(3)),
    lambda lib, d: d.StackDataset(range(2), a=range(2)),
    lambda lib, d: d.StackDataset(),
    lambda lib, d: d.StackDataset(range(2), range(3)),
    lambda lib, d: d.StackDataset(a=range(2), b=range(3)),
    lambda lib, d: d.ConcatDataset([]),
    lambda lib, d: d.ConcatDataset([range(3)])[-4],
    lambda lib, d: d.Dataset()[0],
    lambda lib, d: iter(d.IterableDataset()),
])
def test_dataset_errors(make):
    check_raises_like(lambda lib: make(lib, lib_data(lib)))


def test_concat_chain_subset():
    def run(lib):
        d = lib_data(lib)

        class Stream(d.IterableDataset):
            def __init__(self, start, n):
                self.start, self.n = start, n

            def __iter__(self):
                return iter(range(self.start, self.start + self.n))

            def __len__(self):
                return self.n
        cat = d.ConcatDataset([range(3), Squares(4), range(10, 12)])
        plus = d.TensorDataset(lib.arange(2)) + d.TensorDataset(lib.arange(5, 8))
        chain = d.ChainDataset([Stream(0, 2), Stream(5, 3)])
        sub = d.Subset(Squares(10), [9, 2, 5])
        return [[cat[i] for i in range(len(cat))], cat[-1], cat[-9], cat.cumulative_sizes,
                [plus[i] for i in range(len(plus))], list(chain), len(chain),
                list(Stream(0, 2) + Stream(7, 1)),
                [sub[i] for i in range(3)], len(sub), list(d.DataLoader(sub, batch_size=2)),
                d.Subset(lib.arange(10) * 2, [4, 2])[[0, 1]]]
    both(run)


def test_concat_dataset_old_cummulative_sizes_warns_like_torch():
    both(warned(lambda lib: lib_data(lib).ConcatDataset([range(3), range(2)]).cummulative_sizes))


GENERIC_NAMES = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
                 "ChainDataset", "Subset", "Sampler", "SequentialSampler", "RandomSampler",
                 "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
                 "DistributedSampler", "DataLoader"]


@pytest.mark.parametrize("name", GENERIC_NAMES)
def test_generic_classes_like_torch(name):
    """``Dataset[Tensor]``-style annotations: the same classes take a type argument (and
    the same refuse one) as in torch, with torch's type parameters and base classes."""
    def run(lib):
        cls = getattr(lib_data(lib), name)
        try:
            alias = repr(cls[int]).replace(lib.__name__ + ".", "")
        except TypeError as exc:
            alias = type(exc).__name__ + str(exc).replace(lib.__name__ + ".", "")
        return (alias, [repr(p) for p in getattr(cls, "__parameters__", ())],
                [base.__name__ for base in cls.__mro__])
    assert run(ember) == run(torch)


def test_generic_dataset_subclass_loads_like_torch():
    def run(lib):
        d = lib_data(lib)

        class Rows(d.Dataset[int]):
            def __getitem__(self, i):
                return i * 2

            def __len__(self):
                return 3

        class Order(d.Sampler[int]):
            def __iter__(self):
                return iter([2, 0, 1])

        return list(d.DataLoader(Rows(), batch_size=2, sampler=Order()))
    both(run)


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.5, 0.0], [0.34, 0.33, 0.33],
                                     [10], [0.1, 0.1, 0.8]])
@pytest.mark.parametrize("with_generator", [False, True])
def test_random_split(lengths, with_generator):
    def run(lib):
        g = lib.Generator().manual_seed(42) if with_generator else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts = lib_data(lib).random_split(range(10), lengths, generator=g)
        return [list(p.indices) for p in parts], [str(w.message) for w in caught]
    both(seeded(run))


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [1.2, -0.2]])
def test_random_split_errors(lengths):
    check_raises_like(lambda lib: lib_data(lib).random_split(range(10), lengths))


# ---- collation -----------------------------------------------------------------------------


BATCHES = {
    "ints": lambda lib: [1, 2, 3],
    "floats": lambda lib: [1.0, 2.5],
    "bools": lambda lib: [True, False],
    "mixed_numbers": lambda lib: [1, 2.5],
    "strings": lambda lib: ["a", "bc"],
    "bytes": lambda lib: [b"a", b"b"],
    "numpy_str": lambda lib: [np.str_("a"), np.str_("b")],
    "tensors": lambda lib: [lib.arange(3), lib.arange(3, 6)],
    "tensors_2d_f16": lambda lib: [lib.ones(2, 2, dtype=lib.float16)] * 3,
    "scalar_tensors": lambda lib: [lib.tensor(1.5), lib.tensor(2.5)],
    "numpy_arrays": lambda lib: [np.arange(4, dtype=np.int16), np.ones(4, np.int16)],
    "numpy_scalars": lambda lib: [np.float32(1), np.float32(2)],
    "numpy_bool": lambda lib: [np.bool_(True), np.bool_(False)],
    "numpy_0d": lambda lib: [np.array(1.5), np.array(2.0)],
    "tuples": lambda lib: [(1, "a", 2.0), (2, "b", 3.0)],
    "lists": lambda lib: [[1, 2], [3, 4]],
    "namedtuples": lambda lib: [Point(1, 2.0), Point(3, 4.0)],
    "dicts": lambda lib: [{"x": lib.zeros(2), "y": 1}, {"x": lib.ones(2), "y": 2}],
    "ordered_dicts": lambda lib: [collections.OrderedDict(b=1, a=2.0)] * 2,
    "nested": lambda lib: [{"p": Point(lib.tensor([1]), [np.float64(1), "s"])}] * 2,
}


@pytest.mark.parametrize("kind", list(BATCHES))
def test_default_collate(kind):
    both(lambda lib: lib_data(lib).default_collate(BATCHES[kind](lib)))


@pytest.mark.parametrize("sample", [
    lambda lib: np.arange(3), lambda lib: np.float64(2), lambda lib: (1, np.int8(2)),
    lambda lib: [np.arange(2), "s"], lambda lib: {"a": np.ones(1, np.float32)},
    lambda lib: Point(np.int8(1), 2), lambda lib: "s", lambda lib: np.array(["a"]),
    lambda lib: lib.arange(2), lambda lib: 3,
])
def test_default_convert(sample):
    both(lambda lib: lib_data(lib).default_convert(sample(lib)))


@pytest.mark.parametrize("batch", [
    lambda lib: [[1, 2], [3]], lambda lib: [np.array(["a"])], lambda lib: [object()],
    lambda lib: [lib.zeros(2), lib.zeros(3)], lambda lib: [np.zeros(2), np.zeros(3)],
    lambda lib: [None], lambda lib: [np.array("a")],
])
def test_default_collate_errors(batch):
    check_raises_like(lambda lib: lib_data(lib).default_collate(batch(lib)))


def test_more_workers_than_cpus_warn_when_made():
    """torch warns about a worker count above the CPUs the process may use when the loader
    is made (as well as at each new iterator); made only here, so no process starts."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    caught = []
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            loader = lib_data(lib).DataLoader(list(range(4)), num_workers=cpus + 1)
            loader.check_worker_number_rationality()  # torch's public name for the check
        caught.append([str(w.message) for w in record])
    assert caught[1] == caught[0] and len(caught[0]) == 2


class Box:
    """A sample type default_collate does not know."""

    def __init__(self, value):
        self.value = value


def _collate_boxes(batch, *, collate_fn_map=None):
    return sum(box.value for box in batch)


def test_collate_map_keys_like_torch(tmp_path):
    """The map holds torch's keys, so replacing the function for NumPy arrays also collates
    their subclasses (memmaps) the new way, as in torch."""
    def run(lib):
        module = lib.utils.data._utils.collate
        keys = [getattr(key, "__name__", key) for key in module.default_collate_fn_map]
        saved = module.default_collate_fn_map[np.ndarray]
        module.default_collate_fn_map[np.ndarray] = lambda batch, **kw: "replaced"
        try:
            path = tmp_path / "values.bin"
            np.arange(4, dtype=np.float32).tofile(path)
            arrays = [np.memmap(path, dtype=np.float32, mode="r") for _ in range(2)]
            collated = lib.utils.data.default_collate(arrays)
        finally:
            module.default_collate_fn_map[np.ndarray] = saved
        return keys, collated, module.default_collate_err_msg_format
    both(run)


def test_collate_extended_through_utils_path():
    """torch's documentation of default_collate extends it through
    ``torch.utils.data._utils.collate``: ``collate`` with a map that knows a new type, and
    ``default_collate_fn_map`` updated for DataLoader's default."""
    def extended(lib):
        module = lib.utils.data._utils.collate
        fn_map = {**module.default_collate_fn_map, Box: _collate_boxes}
        direct = module.collate([(Box(1), lib.ones(2)), (Box(2), lib.zeros(2))],
                                collate_fn_map=fn_map)
        module.default_collate_fn_map[Box] = _collate_boxes
        try:
            loaded = list(lib.utils.data.DataLoader([Box(i) for i in range(5)], batch_size=2))
        finally:
            del module.default_collate_fn_map[Box]
        return direct, loaded

    both(extended)


# ---- DistributedSampler --------------------------------------------------------------------


@pytest.mark.parametrize("n,replicas", [(10, 3), (10, 4), (3, 7), (12, 4), (1, 2)])
@pytest.mark.parametrize("shuffle,drop_last", [(True, False), (False, False), (True, True),
                                               (False, True)])
def test_distributed_sampler(n, replicas, shuffle, drop_last):
    def run(lib):
        out = []
        for rank in range(replicas):
            s = lib.utils.data.distributed.DistributedSampler(
                range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=3,
                drop_last=drop_last)
            epochs = [list(s)]
            s.set_epoch(2)
            epochs.append(list(s))
            out.append([epochs, len(s), s.total_size])
        return out
    both(run)


@pytest.mark.parametrize("rank", [2, -1])
def test_distributed_sampler_errors(rank):
    check_raises_like(lambda lib: lib.utils.data.distributed.DistributedSampler(
        range(5), num_replicas=2, rank=rank))


def test_distributed_sampler_needs_a_process_group():
    check_raises_like(lambda lib: lib.utils.data.distributed.DistributedSampler(range(5)))


def test_distributed_sampler_without_mpi(monkeypatch):
    import ember.distributed

    monkeypatch.setattr(ember.distributed, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        ember.utils.data.distributed.DistributedSampler(range(5))


# ---- the namespace -------------------------------------------------------------------------


def test_names_match_torch():
    wanted = {name for name in tdata.__all__
              if "DataPipe" not in name and name not in (
                  "DataChunk", "functional_datapipe", "guaranteed_datapipes_determinism",
                  "non_deterministic", "runtime_validation", "runtime_validation_disabled",
                  "argument_validation")}
    assert wanted <= set(edata.__all__)
    for name in edata.__all__:
        assert hasattr(edata, name)


def test_import_ember_does_not_load_data():
    code = ("import sys, ember; assert 'ember.utils.data' not in sys.modules; "
            "assert 'multiprocessing' not in sys.modules; ember.utils.data.DataLoader")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_iterator_classes_named_like_torch(num_workers):
    names = []
    for lib in (torch, ember):
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.arange(4)),
                                           num_workers=num_workers)
        it = iter(loader)
        names.append([cls.__name__ for cls in type(it).__mro__[:2]])
        assert len(list(it)) == 4  # to the end, which ends the workers
    assert names[1] == names[0]
