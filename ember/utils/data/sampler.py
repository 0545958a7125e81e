"""Samplers: mirrors ``torch.utils.data.sampler``.

Every random draw goes through ember's torch-identical generator in torch's order
(``RandomSampler`` seeds a fresh generator from one ``random_()`` draw of the default
generator when it is given none), so the same seed gives torch's indices.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

_T_co = TypeVar("_T_co", covariant=True)  # torch's type parameter: Sampler[int] works

_CHUNK = 32  # RandomSampler(replacement=True) draws this many indices at a time, as torch


class Sampler(Generic[_T_co]):
    """Mirrors ``torch.utils.data.Sampler``: the base class of index iterators.

    Subclasses define ``__iter__`` (yielding dataset keys, or lists of keys for a batch
    sampler) and optionally ``__len__``.
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """Mirrors ``torch.utils.data.SequentialSampler``: ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _seeded_generator():
    """A fresh generator seeded from one ``random_()`` draw of the default generator: what
    torch's samplers do when given no generator."""
    import ember

    seed = int(ember.empty((), dtype=ember.int64).random_().item())
    return ember.Generator().manual_seed(seed)


class RandomSampler(Sampler[int]):
    """Mirrors ``torch.utils.data.RandomSampler``: a random permutation of the dataset's
    indices (``replacement=False``, ``num_samples`` may exceed the length: whole
    permutations then a cut one), or ``num_samples`` uniform draws with replacement.

    Arguments: ``data_source``, ``replacement=False``, ``num_samples=None`` (the dataset's
    length), ``generator=None`` (then each pass seeds a fresh generator from the default
    one, as torch does).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        """The number of indices one pass yields (the dataset's length unless given)."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        import ember

        n = len(self.data_source)
        generator = _seeded_generator() if self.generator is None else self.generator
        if self.replacement:
            for _ in range(self.num_samples // _CHUNK):
                yield from ember.randint(n, (_CHUNK,), dtype=ember.int64,
                                         generator=generator).tolist()
            yield from ember.randint(n, (self.num_samples % _CHUNK,),
                                     dtype=ember.int64, generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from ember.randperm(n, generator=generator).tolist()
            # torch draws this last permutation even when nothing of it is used
            yield from ember.randperm(n, generator=generator).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """Mirrors ``torch.utils.data.SubsetRandomSampler``: ``indices`` in a random order
    (``randperm`` of their count, from ``generator`` or the default generator)."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        import ember

        for i in ember.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """Mirrors ``torch.utils.data.WeightedRandomSampler``: ``num_samples`` indices drawn
    by ``multinomial`` over ``weights`` (float64), with or without replacement."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        import ember

        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        weights_tensor = ember.as_tensor(weights, dtype=ember.double)
        if len(weights_tensor.shape) != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_tensor.shape)}")
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        import ember

        drawn = ember.multinomial(self.weights, self.num_samples, self.replacement,
                                  generator=self.generator)
        yield from iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Mirrors ``torch.utils.data.BatchSampler``: groups another sampler's indices into
    lists of ``batch_size``; ``drop_last`` drops a short last batch.

    Example: ``list(BatchSampler(SequentialSampler(range(5)), 2, False))`` is
    ``[[0, 1], [2, 3], [4]]``.
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
