"""Part of ``ember.nn.functional``: dropout and its channel-wise and alpha forms.

NOTE [Dropout masks]: torch's CPU dropout (learnt by experiment against torch 2.13) draws a
mask tensor like the input with ``bernoulli_(1 - p)`` from the default generator, divides it
by ``1 - p`` in place and multiplies the input by it, so the node is ``MulBackward0`` (torch
uses the fused ``native_dropout`` only on accelerators). The mask is laid out like the input
(``empty_like``) and filled in memory order, so a transposed input gets the transposed
draws. The channel-wise forms draw one value per (sample, channel) in a contiguous
``(N, C, 1, ...)`` mask. The alpha forms turn the 0/1 mask ``m`` into ``a * m`` and ``b =
(m - 1) * alpha' a + alpha' a p`` and return ``input * (a m) + b``. ``p = 0``, evaluation mode
and empty inputs return the input itself; ``p = 1`` multiplies by a 0-d zero without drawing.
ember follows all of this, so a seeded run draws torch's masks bit for bit. Inside vmap the
mask is batched like the input, so vmap's ``randomness`` decides whether the samples share
one mask (NOTE [Random ops inside vmap] in ember/_ops/random.py).
"""
from __future__ import annotations

import math
import warnings

import ember
from ember._backend import np
from ember._ops import batching
from ember._tensor import Tensor, tensor_argument

__all__ = ["dropout", "alpha_dropout", "dropout1d", "dropout2d", "dropout3d",
           "feature_alpha_dropout"]

# SELU's negative saturation value, -scale * alpha: dropped units are set to it.
_ALPHA = 1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _memory_order(data) -> tuple:
    """The dimensions of ``data`` from outermost to innermost in memory (``empty_like``'s
    layout); a broadcast (stride 0) or contiguous array keeps the logical order."""
    strides = data.strides
    if data.flags.c_contiguous or 0 in strides:
        return tuple(range(data.ndim))
    return tuple(sorted(range(data.ndim), key=lambda d: -abs(strides[d])))


def _empty_mask(input: Tensor, shape: tuple) -> Tensor:
    """An uninitialised C-ordered mask of the logical ``shape`` in ``input``'s dtype, batched
    over the vmap levels ``input`` is batched over."""
    phys = input.__dict__.get("_phys")
    if phys is None:
        return ember.empty(shape, dtype=input.dtype)
    lead = phys.array.shape[:len(phys.levels)]
    return batching.wrap(np.empty(lead + tuple(shape), input._data.dtype), phys.levels)


def _bernoulli_like(input: Tensor, p: float) -> Tensor:
    """A ``bernoulli_(1 - p)`` mask of ``input``'s shape and dtype, drawn in ``input``'s
    memory order (NOTE [Dropout masks]); inside vmap in C order, as torch's batched masks
    are drawn whatever the input's layout."""
    if "_phys" in input.__dict__:
        return _empty_mask(input, tuple(input._data.shape)).bernoulli_(1 - p)
    data = input._data
    order = _memory_order(data)
    shape = tuple(data.shape[d] for d in order)
    mask = _empty_mask(input, shape).bernoulli_(1 - p)
    if order != tuple(range(data.ndim)):
        inverse = [0] * len(order)
        for i, d in enumerate(order):
            inverse[d] = i
        mask = mask.permute(inverse)
    return mask


def _feature_mask(input: Tensor, p: float) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input._data.shape[:2]) + (1,) * (input._data.ndim - 2)
    return _empty_mask(input, shape).bernoulli_(1 - p)


def _in_place(t: Tensor, method: str, number: float) -> Tensor:
    """``t.<method>_(number)``, with torch's rounding for half precision: torch computes a
    half tensor's arithmetic with a number in float32 and rounds once to the half type."""
    if t._data.dtype.itemsize == 2 and t.is_floating_point():
        return getattr(t.float(), method)(number).to(t.dtype)
    # in place, as torch: an integer mask refuses a float factor with torch's error
    return getattr(t, method + "_")(number)


def _dropout_impl(input: Tensor, p: float, train: bool, inplace: bool, feature: bool,
                  alpha: bool) -> Tensor:
    if p == 0 or not train or input._data.size == 0:
        return input
    if p == 1:
        zero = ember.zeros((), dtype=input.dtype)
        return input.mul_(zero) if inplace else input * zero
    with ember.no_grad():
        noise = _feature_mask(input, p) if feature else _bernoulli_like(input, p)
        if alpha:
            a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
            shift = _in_place(noise.add(-1), "mul", _ALPHA * a)
            shift = _in_place(shift, "add", _ALPHA * a * p)
            noise = _in_place(noise, "mul", a)
        else:
            noise = _in_place(noise, "div", 1 - p)
    out = input.mul_(noise) if inplace else input * noise
    return out.add_(shift) if alpha else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.dropout``: zeroes each element with probability ``p``
    and scales the rest by ``1 / (1 - p)``; the mask is torch's for the same seed (NOTE
    [Dropout masks])."""
    tensor_argument("dropout", "input", input, 1)
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.alpha_dropout``: dropout for SELU networks, keeping zero
    mean and unit variance (dropped units take SELU's negative saturation value)."""
    tensor_argument("alpha_dropout", "input", input, 1)
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.feature_alpha_dropout``: alpha dropout of whole channels
    (dimension 1)."""
    tensor_argument("feature_alpha_dropout", "input", input, 1)
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    if not batched:
        input = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    result = _dropout_impl(input, p, training, inplace, feature=True, alpha=False)
    if not batched:
        result = result.squeeze_(0) if inplace else result.squeeze(0)
    return result


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.dropout1d``: zeroes whole channels of an ``(N, C, L)``
    or ``(C, L)`` input."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    return _channel_dropout(input, p, training, inplace, ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.dropout2d``: zeroes whole channels of an ``(N, C, H,
    W)`` input; a 3-D input is taken as ``(N, C, L)`` with torch's warning, as torch does."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.dropout3d``: zeroes whole channels of an ``(N, C, D, H,
    W)`` or ``(C, D, H, W)`` input."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    return _channel_dropout(input, p, training, inplace, ndim == 5)
