"""Mirrors ``torch.utils.data.distributed``: ``DistributedSampler``."""
from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from typing import TypeVar

from ember.utils.data.dataset import Dataset
from ember.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]

_T_co = TypeVar("_T_co", covariant=True)


def _process_group():
    """``ember.distributed``, when MPI is there to back it."""
    dist = importlib.import_module("ember.distributed")
    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return dist


class DistributedSampler(Sampler[_T_co]):
    """Mirrors ``torch.utils.data.distributed.DistributedSampler``: this replica's share of
    the dataset's indices.

    The indices (a permutation from a generator seeded ``seed + epoch`` when ``shuffle``,
    else in order) are padded by repeating from the start to a multiple of ``num_replicas``
    (or cut to one when ``drop_last``), and rank ``r`` takes every ``num_replicas``-th one
    from position ``r``: torch's partition exactly. Call ``set_epoch`` before each epoch to
    reshuffle. ``num_replicas``/``rank`` default to the process group's world size and rank
    (``ember.distributed``; without it they must be given).
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _process_group().get_world_size()
        if rank is None:
            rank = _process_group().get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        length = len(self.dataset)
        if self.drop_last and length % self.num_replicas != 0:
            self.num_samples = math.ceil((length - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(length / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        import ember

        length = len(self.dataset)
        if self.shuffle:
            g = ember.Generator().manual_seed(self.seed + self.epoch)
            indices = ember.randperm(length, generator=g).tolist()
        else:
            indices = list(range(length))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        if len(indices) != self.total_size:
            raise AssertionError
        own = indices[self.rank:self.total_size:self.num_replicas]
        if len(own) != self.num_samples:
            raise AssertionError
        return iter(own)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Mirrors ``DistributedSampler.set_epoch``: the epoch seeds the shuffle, so every
        replica shuffles alike and each epoch differently."""
        self.epoch = epoch
