"""Datasets: mirrors ``torch.utils.data.dataset``.

Map-style datasets (``__getitem__`` and ``__len__``) and iterable-style ones (``__iter__``),
the wrappers that combine them, and ``random_split``, which draws its permutation from
ember's torch-identical generator so that the same seed splits the same way as torch.
"""
from __future__ import annotations

import bisect
import itertools
import math
import typing
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from ember._tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]

# The type parameters of torch's generic datasets, by torch's names and variances, so that
# annotations such as ``Dataset[Tensor]`` (and a subclass of one) work as in torch.
_T_co = TypeVar("_T_co", covariant=True)
_T_stack = TypeVar("_T_stack", tuple[_T_co, ...], dict[str, _T_co])


class Dataset(Generic[_T_co]):
    """Mirrors ``torch.utils.data.Dataset``: an abstract map from keys to samples.

    Subclasses define ``__getitem__`` (and usually ``__len__``, which samplers and
    ``DataLoader``'s ``len`` need). They may also define ``__getitems__(indices)``, which
    ``DataLoader`` then calls once per batch instead of ``__getitem__`` once per sample.
    ``ds1 + ds2`` is a ``ConcatDataset``.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co], typing.Iterable[_T_co]):
    """Mirrors ``torch.utils.data.IterableDataset``: a dataset read as a stream.

    Subclasses define ``__iter__``. With ``DataLoader(num_workers > 0)`` each worker
    iterates its own copy; split the stream with ``get_worker_info()`` inside ``__iter__``.
    ``ds1 + ds2`` is a ``ChainDataset``. ``__iter__`` is abstract, as in torch.
    """

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Mirrors ``torch.utils.data.TensorDataset``: sample ``i`` is the tuple of each
    tensor's row ``i``; all tensors must have the same first dimension.

    Example: ``TensorDataset(x, y)[3] == (x[3], y[3])``.
    """

    def __init__(self, *tensors) -> None:
        if not all(tensors[0].size(0) == t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class StackDataset(Dataset[_T_stack]):
    """Mirrors ``torch.utils.data.StackDataset``: zips datasets of one length, as a tuple
    (positional arguments) or a dict (keyword arguments).

    Example: ``StackDataset(image=images, label=labels)[0] == {"image": ..., "label": ...}``.
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args:
            if kwargs:
                raise ValueError("Supported either ``tuple``- (via ``args``) or"
                                 "``dict``- (via ``kwargs``) like input/output, but both "
                                 "types are given.")
            self._length = len(args[0])
            if any(self._length != len(dataset) for dataset in args):
                raise ValueError("Size mismatch between datasets")
            self.datasets = args
        elif kwargs:
            tmp = list(kwargs.values())
            self._length = len(tmp[0])
            if any(self._length != len(dataset) for dataset in tmp):
                raise ValueError("Size mismatch between datasets")
            self.datasets = kwargs
        else:
            raise ValueError("At least one dataset should be passed")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        # One batched read per part where a part offers it (torch's contract: a list back,
        # one sample per index).
        parts = self.datasets.items() if isinstance(self.datasets, dict) else \
            enumerate(self.datasets)
        columns = {}
        for key, dataset in parts:
            if callable(getattr(dataset, "__getitems__", None)):
                items = dataset.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError("Nested dataset's output size mismatch. "
                                     f"Expected {len(indices)}, got {len(items)}")
            else:
                items = [dataset[i] for i in indices]
            columns[key] = items
        if isinstance(self.datasets, dict):
            return [{k: col[i] for k, col in columns.items()} for i in range(len(indices))]
        return [tuple(col[i] for col in columns.values()) for i in range(len(indices))]

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset[_T_co]):
    """Mirrors ``torch.utils.data.ConcatDataset``: map-style datasets one after another.

    ``cumulative_sizes`` holds the running lengths; negative indices count from the end.
    """

    @staticmethod
    def cumsum(sequence: Iterable) -> list:
        """The running lengths of ``sequence``'s datasets (torch's static helper)."""
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    @property
    def cummulative_sizes(self) -> list:
        """torch's old, misspelled name of ``cumulative_sizes``: warns, then gives it."""
        warnings.warn("`cummulative_sizes` attribute is renamed to `cumulative_sizes`",
                      FutureWarning, stacklevel=2)
        return self.cumulative_sizes

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Mirrors ``torch.utils.data.ChainDataset``: iterable datasets streamed one after
    another; ``len`` is the sum of their lengths."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        super().__init__()
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset[_T_co]):
    """Mirrors ``torch.utils.data.Subset``: the samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        mapped = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(lengths: Sequence, total: int) -> list:
    """Fractions summing to 1 as item counts: floors, then the remainder dealt one by one
    from the first split on (torch's rounding)."""
    counts = []
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts.append(int(math.floor(total * frac)))
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    for i, length in enumerate(counts):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. "
                          f"This might result in an empty dataset.", stacklevel=3)
    return counts


def random_split(dataset: Dataset, lengths: Sequence, generator: Any = None) -> list[Subset]:
    """Mirrors ``torch.utils.data.random_split``: non-overlapping ``Subset``s of the given
    lengths, or of fractions of ``len(dataset)`` when ``lengths`` sums to 1.

    The split is ``randperm(len(dataset), generator=generator)`` cut in order, so with the
    same seed (default generator) or the same ``ember.Generator`` state it equals torch's.
    """
    import ember

    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _split_lengths(lengths, len(dataset))
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    if generator is None:
        generator = ember.default_generator
    indices = ember.randperm(sum(lengths), generator=generator).tolist()
    return [Subset(dataset, indices[stop - length:stop])
            for stop, length in zip(itertools.accumulate(lengths), lengths)]
