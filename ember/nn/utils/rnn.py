"""Mirrors ``torch.nn.utils.rnn``: packed variable-length batches for the RNN modules.

A ``PackedSequence`` holds the steps of a batch of sequences sorted by decreasing length,
time-major: ``data`` has the first step of every sequence, then the second step of those
at least two long, ...; ``batch_sizes[t]`` says how many sequences are still running at
step t. Packing and padding are each one vectorised gather or scatter, recorded with torch's
nodes (``PackPaddedSequenceBackward0``, ``CopySlices``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import ember
from ember._backend import np
from ember._ops import nn_rnn
from ember._ops.registry import run
from ember._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """Mirrors ``torch.nn.utils.rnn.PackedSequence``: a named tuple ``(data, batch_sizes,
    sorted_indices, unsorted_indices)``, made by ``pack_padded_sequence`` or
    ``pack_sequence`` rather than by hand. ``sorted_indices`` orders the original batch by
    decreasing length; ``unsorted_indices`` (its inverse, computed when not given) undoes
    it. ``PackedSequence((data, batch_sizes))`` is accepted too, as in torch."""

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def pin_memory(self) -> PackedSequence:
        """The same sequence with pinned data (ember's CPU memory needs no pinning)."""
        return type(self)(self.data.pin_memory(), self.batch_sizes,
                          _bind(self.sorted_indices, lambda t: t.pin_memory()),
                          _bind(self.unsorted_indices, lambda t: t.pin_memory()))

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)``; the index tensors follow the data's device, ``batch_sizes``
        stays on the CPU. Returns ``self`` when the data is unchanged."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def follow(t: Tensor) -> Tensor:
            return t.to(data.device)

        return type(self)(data, self.batch_sizes, _bind(self.sorted_indices, follow),
                          _bind(self.unsorted_indices, follow))

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``to("cuda", ...)``, as torch."""
        kwargs.setdefault("device", "cuda")
        return self.to(*args, **kwargs)

    def cpu(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``to("cpu", ...)``."""
        kwargs.setdefault("device", "cpu")
        return self.to(*args, **kwargs)

    def double(self) -> PackedSequence:
        return self.to(dtype=ember.double)

    def float(self) -> PackedSequence:
        return self.to(dtype=ember.float)

    def half(self) -> PackedSequence:
        return self.to(dtype=ember.half)

    def long(self) -> PackedSequence:
        return self.to(dtype=ember.long)

    def int(self) -> PackedSequence:
        return self.to(dtype=ember.int)

    def short(self) -> PackedSequence:
        return self.to(dtype=ember.short)

    def char(self) -> PackedSequence:
        return self.to(dtype=ember.int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=ember.uint8)

    @property
    def is_cuda(self) -> bool:
        """Whether the data is on a CUDA device."""
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """Whether the data is in pinned memory."""
        return self.data.is_pinned()


def _bind(optional, fn):
    return None if optional is None else fn(optional)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """Mirrors ``torch.nn.utils.rnn.invert_permutation``: the permutation that undoes
    ``permutation`` (None for None)."""
    if permutation is None:
        return None
    inverse = np.empty_like(permutation._data)
    inverse[permutation._data] = np.arange(permutation._data.size, dtype=inverse.dtype)
    return ember.tensor(inverse)


def _lengths_array(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        lengths = lengths.to(ember.int64)
        if lengths.dim() != 1:
            raise RuntimeError(
                "'lengths' argument should be a 1D CPU int64 tensor, but got "
                f"{lengths.dim()}D cpu Long tensor")
        return lengths._data
    return np.asarray(ember.as_tensor(lengths, dtype=ember.int64)._data)


def pack_padded_sequence(input: Tensor, lengths: Tensor | list[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Mirrors ``torch.nn.utils.rnn.pack_padded_sequence``: pack a padded batch
    ``(T, B, *)`` (``batch_first``: ``(B, T, *)``) of sequences of the given ``lengths``.

    With ``enforce_sorted`` the lengths must decrease; otherwise the batch is sorted first
    (``sorted_indices``) and ``unsorted_indices`` restores the order after the RNN.
    """
    lengths_array = _lengths_array(lengths)
    if input.dim() < 2:  # torch reaches for the time or batch dim 1 first
        if input.dim() == 0 and enforce_sorted and not batch_first:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but "
                         "got 1)")
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lengths_array, kind="stable")
        lengths_array = lengths_array[order]
        sorted_indices = ember.tensor(order.astype(np.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _pack(input, lengths_array, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def _pack(input: Tensor, lengths: np.ndarray, batch_first: bool) -> tuple:
    shape = tuple(input.shape)
    batch = shape[0] if batch_first else shape[1]
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if lengths.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={batch})")
    if lengths.size and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
            "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
            "pack_sequence to sidestep this requirement if you do not need ONNX "
            "exportability.")
    steps = shape[1] if batch_first else shape[0]
    if lengths.size and lengths[0] > steps:
        raise RuntimeError(f"Expected sequence length to be at most {steps} in "
                           f"pack_padded_sequence, but got {lengths[0]}")
    longest = int(lengths[0]) if lengths.size else 0
    running = np.arange(longest)[:, None] < lengths[None, :]  # (step, sequence)
    t, b = np.nonzero(running)
    index = b * steps + t if batch_first else t * batch + b
    data = run(nn_rnn.PACK_PADDED, input, index, shape)
    return data, ember.tensor(running.sum(1).astype(np.int64))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Mirrors ``torch.nn.utils.rnn.pad_packed_sequence``: the inverse of
    ``pack_padded_sequence``, ``(padded, lengths)``, the padding filled with
    ``padding_value`` and the time dim at least ``total_length`` long; the original batch
    order is restored when the sequence was sorted."""
    batch_sizes = sequence.batch_sizes._data
    steps = batch_sizes.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{steps}")
        steps = total_length
    data = sequence.data
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    running = np.arange(batch)[None, :] < batch_sizes[:, None]  # (step, sequence)
    t, b = np.nonzero(running)
    features = tuple(data.shape[1:])
    padded = ember.full((steps, batch) + features, padding_value, dtype=data.dtype)
    # written through a view, so the node is torch's CopySlices; a slice (not a flattening
    # view) since the backward replays it on a gradient of any layout
    padded[:].index_put_((ember.tensor(t), ember.tensor(b)), data)
    lengths = ember.tensor(running.sum(0).astype(np.int64))
    if batch_first:
        padded = padded.transpose(0, 1)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        return padded.index_select(0 if batch_first else 1, unsorted), lengths[unsorted]
    return padded, lengths


def pad_sequence(sequences: Tensor | list[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Mirrors ``torch.nn.utils.rnn.pad_sequence``: stack sequences of shapes ``(L_i, *)``
    into ``(max L, B, *)`` (``batch_first``: ``(B, max L, *)``), padding with
    ``padding_value`` on the ``padding_side`` ("right" or "left")."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if sequences[0].dim() == 0:
        raise RuntimeError("ArrayRef: invalid slice, N = 1; size = 0")
    for seq in sequences:
        if seq.dim() == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    trailing = tuple(sequences[0].shape[1:])
    dtype = sequences[0].dtype
    # torch copies each sequence into its slot: the first sequence's dtype and trailing
    # shape rule, the others are cast and broadcast to them as copy_ does (with its errors)
    sequences = tuple(
        seq if seq.dtype == dtype and tuple(seq.shape[1:]) == trailing
        else ember.empty((seq.shape[0],) + trailing, dtype=dtype).copy_(seq)
        for seq in sequences)
    lengths = np.array([seq.shape[0] for seq in sequences], dtype=np.int64)
    longest = int(lengths.max())
    batch = len(sequences)
    steps = np.arange(longest)
    if padding_side == "right":
        filled = steps[None, :] < lengths[:, None]  # (sequence, step)
    else:
        filled = steps[None, :] >= longest - lengths[:, None]
    b, t = np.nonzero(filled)
    values = ember.cat(sequences, 0) if batch > 1 else sequences[0]
    if batch_first:
        padded = ember.full((batch, longest) + trailing, padding_value, dtype=dtype)
        index = (ember.tensor(b), ember.tensor(t))
    else:
        padded = ember.full((longest, batch) + trailing, padding_value, dtype=dtype)
        index = (ember.tensor(t), ember.tensor(b))
    padded[:].index_put_(index, values)  # through a view: CopySlices, as above
    return padded


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """Mirrors ``torch.nn.utils.rnn.unpad_sequence``: the list of sequences, each cut to
    its length. As torch, a time-major ``padded_sequences`` is transposed in place."""
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    steps = ember.arange(padded_sequences.shape[1])
    return [seq[steps < length] for seq, length in zip(padded_sequences, lengths)]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Mirrors ``torch.nn.utils.rnn.pack_sequence``: ``pad_sequence`` then
    ``pack_padded_sequence`` of the sequences' lengths."""
    lengths = ember.as_tensor([seq.size(0) for seq in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Mirrors ``torch.nn.utils.rnn.unpack_sequence``: the list of sequences a
    ``PackedSequence`` holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
