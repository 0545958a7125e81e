"""Collation: mirrors ``torch.utils.data._utils.collate`` (``default_collate``,
``default_convert`` and the extensible ``collate`` with its type-to-function map).

A batch of samples becomes one sample of batches: tensors and NumPy arrays are stacked
along a new first dimension, Python numbers become int64/float64 tensors, strings stay
lists, and containers (dicts, named tuples, sequences) are collated field by field.
"""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ember._tensor import Tensor

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn",
           "default_collate_err_msg_format"]

# dtype kinds that cannot become tensors: bytes, str, unicode, object
_STRING_OR_OBJECT = re.compile(r"[SaUO]")

# torch's public name: custom collate functions reuse it for their own refusals.
default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, "
                                  "numbers, dicts or lists; found {}")


def _is_namedtuple(obj: Any) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def default_convert(data: Any) -> Any:
    """Mirrors ``torch.utils.data.default_convert``: NumPy arrays and scalars become
    tensors, containers are converted element by element (a plain tuple becomes a list, as
    in torch), anything else is returned as is. ``DataLoader`` uses it as the collate
    function when automatic batching is off (``batch_size=None``)."""
    import ember

    data_type = type(data)
    if isinstance(data, Tensor):
        return data
    if data_type.__module__ == "numpy" and data_type.__name__ not in ("str_", "string_"):
        if data_type.__name__ in ("ndarray", "memmap") \
                and _STRING_OR_OBJECT.search(data.dtype.str) is not None:
            return data
        return ember.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(converted)
            return clone
        try:
            return data_type(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return data_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            for i, d in enumerate(converted):
                clone[i] = d
            return clone
        try:
            return data_type(converted)
        except TypeError:
            return converted
    return data


def collate(batch: list, *, collate_fn_map: dict | None = None) -> Any:
    """Mirrors ``torch.utils.data._utils.collate.collate``: collates ``batch`` with the
    function ``collate_fn_map`` gives for the type of its first element (an exact type
    first, then the first ``isinstance`` match), recursing into mappings, named tuples and
    sequences. Each function is called as ``fn(batch, collate_fn_map=collate_fn_map)``."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                    for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return elem_type(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # each column stays a tuple, as torch passes it (a column of strings stays a tuple)
        columns = [collate(samples, collate_fn_map=collate_fn_map)
                   for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch returns a list for tuples (backwards compatibility)
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, column in enumerate(columns):
                clone[i] = column
            return clone
        try:
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Stacks tensors along a new first dimension (torch's ``stack`` errors for ragged
    shapes).

    In a ``DataLoader`` worker, torch stacks into a buffer made for the first sample's
    shape and dtype (its shared memory, of as many elements as the batch holds), and that
    shows: later samples must cast to the first one's dtype, a batch whose later samples are
    smaller fails to size the buffer, and samples that require grad are refused (``stack``
    with ``out=``). Workers stack the same way here, so they fail where torch's fail.
    """
    import ember
    from ember.utils.data._worker import get_worker_info

    if get_worker_info() is None:
        return ember.stack(batch, 0)
    elem = batch[0]
    if sum(sample.numel() for sample in batch) < len(batch) * elem.numel():
        raise RuntimeError("Trying to resize storage that is not resizable")
    out = ember.empty((len(batch), *elem.shape), dtype=elem.dtype)
    return ember.stack(batch, 0, out=out)


def collate_numpy_array_fn(batch: list, *, collate_fn_map: dict | None = None) -> Any:
    """NumPy arrays of numbers as tensors, then stacked; strings and objects refused."""
    import ember

    elem = batch[0]
    if _STRING_OR_OBJECT.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([ember.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """NumPy scalars as a 1-d tensor of their dtype."""
    import ember

    return ember.as_tensor(batch)


def collate_float_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python floats as a float64 tensor."""
    import ember

    return ember.tensor(batch, dtype=ember.float64)


def collate_int_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python ints (and bools) as a tensor, torch's dtype inference."""
    import ember

    return ember.tensor(batch)


def collate_str_fn(batch: list, *, collate_fn_map: dict | None = None) -> list:
    """Strings and bytes stay a list."""
    return batch


default_collate_fn_map: dict[type | tuple, Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: list) -> Any:
    """Mirrors ``torch.utils.data.default_collate``: the collate function ``DataLoader``
    uses with automatic batching. Tensors and NumPy arrays are stacked (a new first
    dimension), NumPy scalars give a tensor of their dtype, Python ints an int64 tensor,
    Python floats a float64 tensor; strings and bytes stay lists; dicts, named tuples and
    sequences are collated per field (a tuple gives a list). Ragged batches raise torch's
    errors.

    Example: ``default_collate([(0, 1.0), (1, 2.0)])`` is
    ``[tensor([0, 1]), tensor([1., 2.], dtype=torch.float64)]``.
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
