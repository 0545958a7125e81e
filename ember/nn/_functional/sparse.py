"""Part of ``ember.nn.functional``: embedding lookups and one-hot encoding.

ember has no sparse tensors: ``sparse=True`` is accepted (models and optimizers that pass it
keep working) and the weight's gradient is the dense tensor whose ``to_dense()`` torch's
sparse gradient would equal.
"""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._ops import batching
from ember._ops import nn_sparse as _sparse
from ember._ops.registry import run
from ember._tensor import Tensor, make, tensor_argument

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_indices(indices: Tensor, fname: str) -> None:
    if indices.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {indices.type()} instead (while checking arguments "
            f"for {fname})")


def _padding_index(padding_idx: int | None, num_weights: int) -> int:
    """torch's normalisation of ``padding_idx``: -1 for none, negative counts from the end."""
    if padding_idx is None:
        return -1
    if padding_idx > 0:
        if padding_idx >= num_weights:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num_weights:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num_weights
    return padding_idx


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.embedding``: the rows of ``weight`` at the indices
    ``input``. ``padding_idx``'s row gets no gradient; ``max_norm`` first renormalises the
    looked-up rows of ``weight`` in place (as torch does); ``scale_grad_by_freq`` divides each
    row's gradient by its frequency in ``input``. ``sparse=True``: the gradient is dense
    (ember has no sparse tensors; see the module's docstring)."""
    num_weights = weight.shape[0] if weight._data.ndim else 0
    padding_idx = _padding_index(padding_idx, num_weights)
    if weight._data.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    _check_indices(input, "embedding")
    every = batching.values(input).astype(np.int64, copy=False)  # every sample's, in vmap
    if every.size and (every.min() < 0 or every.max() >= num_weights):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _sparse.embedding_renorm_(weight, every, max_norm, norm_type)
    indices = batching.param(input, lambda a, k: a.astype(np.int64, copy=False))
    return run(_sparse.EMBEDDING, weight, indices, num_weights, padding_idx,
               bool(scale_grad_by_freq))


_MODES = {"sum": _sparse.MODE_SUM, "mean": _sparse.MODE_MEAN, "max": _sparse.MODE_MAX}
# The weight dtypes whose unpadded sum and mean bags torch's CPU build runs in its fbgemm
# kernel, which words a bad index differently from its generic kernel
_FBGEMM_DTYPES = (_dtype.float32, _dtype.float16, _dtype.bfloat16)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.embedding_bag``: the sum, mean or max of the embedding
    rows of each bag, without materialising the lookups. A 2-D ``input`` is one bag per row;
    a 1-D one is cut into bags at ``offsets`` (with ``include_last_offset`` the last offset
    ends the last bag). ``per_sample_weights`` scales each lookup (mode 'sum'); padding
    entries are left out of their bag (an empty bag gives zeros). ``sparse=True`` gives a
    dense gradient, as ``embedding``."""
    if weight._data.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight._data.ndim}")
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
            f"then it must have the same shape as the input ({input.shape})")
    if input._data.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets)}")
        rows, length = input._data.shape
        offset_array = np.arange(0, rows * length, length, dtype=np.int64)
        indices_t = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input._data.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets._data.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offset_array = None
        indices_t = input
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input._data.ndim}")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if max_norm is not None:
        _check_indices(indices_t, "embedding_bag")
        _sparse.embedding_renorm_(weight, indices_t._data, max_norm, norm_type)
    if scale_grad_by_freq and mode == "max":
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub.")
    _check_indices(indices_t, "embedding_bag")
    offsets_type = "torch.LongTensor"
    if offset_array is None:
        _check_indices(offsets, "embedding_bag")
        offset_array = offsets._data.astype(np.int64)
        offsets_type = offsets.type()
    if per_sample_weights is not None and per_sample_weights.dtype is not weight.dtype:
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have the same type as tensor for "
            f"argument #1 'per_sample_weights'; but type {weight.type()} does not equal "
            f"{per_sample_weights.type()} (while checking arguments for embedding_bag)")
    bags = _bags(indices_t._data.astype(np.int64), offset_array, weight.shape[0],
                 _padding_index(padding_idx, weight.shape[0]), _MODES[mode],
                 include_last_offset, bool(scale_grad_by_freq), weight.dtype, offsets_type)
    return run(_sparse.EMBEDDING_BAG, weight, per_sample_weights, bags)


def _bags(indices, offsets, num_weights: int, padding_idx: int, mode: int,
          include_last_offset: bool, scale_grad_by_freq: bool, dtype,
          offsets_type: str) -> _sparse.Bags:
    n = indices.size
    if offsets.size and offsets[0] != 0:
        # torch's message ends with the C++ printout of the offending 0-d tensor
        raise RuntimeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {offsets[0]}\n[ {offsets_type}{{}} ]")
    if offsets.size and offsets[-1] > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got "
                           f"offsets[-1] of {offsets[-1]}")
    num_bags = max(offsets.size - 1 if include_last_offset else offsets.size, 0)
    bag = np.searchsorted(offsets, np.arange(n), side="right") - 1
    outside = (indices < 0) | (indices >= num_weights)
    if outside.any():
        k = int(np.argmax(outside))
        if mode == _sparse.MODE_MAX or padding_idx >= 0 or dtype not in _FBGEMM_DTYPES:
            # torch's generic kernel: the first bad index, in input order
            raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but "
                               f"found idx to be {int(indices[k])}")
        raise RuntimeError(f"Index {int(bag[k])} of input takes value {int(indices[k])} which "
                           f"is not in the valid range [0, {num_weights})")
    # NOTE [embedding_bag's last offset]: with include_last_offset, torch's CPU kernels
    # (2.13) count (mean) and take the max over the last bag up to the end of the input, past
    # the last offset, and the mean's backward spreads the gradient over them; its float64
    # sum (and any sum with a padding_idx: the generic kernel) does too, while its float32
    # and half sums without one stop at the last offset. ember reproduces this: such
    # positions belong to the last bag, and are summed only in those cases.
    trailing = bag >= num_bags
    bag = np.minimum(bag, max(num_bags - 1, 0))
    keep = (indices != padding_idx) & (num_bags > 0)
    past_last = dtype is _dtype.float64 or padding_idx >= 0
    summed = keep if past_last else keep & ~trailing
    return _sparse.Bags(indices, bag, keep, summed, num_bags, num_weights, mode,
                        scale_grad_by_freq)


@batching.samplewise
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Mirrors ``torch.nn.functional.one_hot``: an int64 tensor with a new last dimension of
    ``num_classes`` (inferred as ``max + 1`` when -1) holding a 1 at each value."""
    tensor_argument("one_hot", "input", tensor, 1)
    if tensor.dtype is not _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    if data.size == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return make(np.zeros(data.shape + (num_classes,), np.int64))
    if data.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(data.max()) + 1
    elif data.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return make((data[..., None] == np.arange(num_classes)).astype(np.int64))
