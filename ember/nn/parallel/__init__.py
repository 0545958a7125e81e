"""Mirrors ``torch.nn.parallel``: ``DataParallel`` and ``DistributedDataParallel``
(data-parallel training across processes over ``ember.distributed``)."""
from ember.nn.parallel.data_parallel import DataParallel
from ember.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
