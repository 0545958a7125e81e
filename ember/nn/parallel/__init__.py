"""Mirrors ``torch.nn.parallel``: ``DataParallel`` (data-parallel training across processes,
``DistributedDataParallel``, comes with ``ember.distributed``)."""
from ember.nn.parallel.data_parallel import DataParallel

__all__ = ["DataParallel"]
