"""Part of ``ember.nn.functional``: the loss functions (mirror ``torch.nn.functional``'s).

Losses torch computes as one native op run the records of ``ember/_ops/nn_loss.py``; the
others are composed of ember ops the way torch composes them, so their nodes carry torch's
names (``MeanBackward0``, ``ClampMinBackward0``, ...).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from ember import _dtype
from ember._backend import np
from ember._ops import batching, nn_loss
from ember._ops.reduction import DIV_SCALAR
from ember._ops.registry import run
from ember._tensor import Tensor, make
from ember.autograd.function import Function

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
    "gaussian_nll_loss", "cosine_embedding_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
    "multilabel_margin_loss", "multi_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "ctc_loss", "linear_cross_entropy",
]


# ---- reductions (torch's _Reduction) ----------------------------------------------------


def legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` to ``reduction``."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    return reduction


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use "
                      "reduction='mean' instead.", stacklevel=3)
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _apply_reduction(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _not_differentiable(name: str, argument: str, tensor) -> None:
    if tensor is None:  # the common case, before the import
        return
    from ember.autograd import grad_mode

    if tensor.requires_grad and grad_mode.state.enabled:
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to "
                           f"argument '{argument}'. This input cannot have requires_grad True.")


def _broadcast_pair(input: Tensor, target: Tensor) -> tuple:
    # torch warns, then broadcasts, when the target's shape is not the input's
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", stacklevel=3)
    from ember._ops.shape import broadcast_tensors

    return broadcast_tensors(input, target)


# ---- regression losses ------------------------------------------------------------------


def _check_floating(input: Tensor, target: Tensor, frame: str) -> None:
    """torch's pointwise loss kernels run on the pair's promoted type: floating ones only."""
    if input.dtype.category < _dtype.FLOAT and target.dtype.category < _dtype.FLOAT:
        name = _dtype.scalar_type_name(_dtype.promote_types(input.dtype, target.dtype))
        raise NotImplementedError(f'"{frame}" not implemented for \'{name}\'')


def _into_input(input: Tensor, result) -> None:
    """torch's error where a loss kernel writes its result into a buffer of the input's
    dtype, an integral one the (floating) result cannot be cast to."""
    if input.dtype.category < _dtype.FLOAT and result is not input.dtype:
        raise RuntimeError(f"result type {_dtype.scalar_type_name(result)} can't be cast to "
                           f"the desired output type {_dtype.scalar_type_name(input.dtype)}")


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.mse_loss``: the squared differences (node
    ``MseLossBackward0``); ``weight`` scales each element, as torch 2.6+ allows."""
    reduction = _reduction(size_average, reduce, reduction)
    shape = input.shape
    input, target = _broadcast_pair(input, target)
    if weight is None:
        _check_floating(input, target, "mse_cpu")
        return run(nn_loss.MSE_LOSS, input, target, reduction)
    return _weighted((input - target) ** 2, weight, shape, reduction)


def _weighted(loss: Tensor, weight: Tensor, shape, reduction: str,
              by_weight: bool = True) -> Tensor:
    """torch's weighted regression losses: ``weight`` of the (unbroadcast) input's shape
    scales each element; ``mean`` divides by the weights' sum (``by_weight``, mse and l1)
    or by the element count (huber)."""
    if weight.shape != shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and by_weight:
        return loss.sum() / weight.sum()
    return _apply_reduction(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.l1_loss``: the absolute differences, composed as torch
    composes it (``AbsBackward0`` then the reduction)."""
    reduction = _reduction(size_average, reduce, reduction)
    shape = input.shape
    input, target = _broadcast_pair(input, target)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, shape, reduction)
    return _apply_reduction(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Mirrors ``torch.nn.functional.smooth_l1_loss``: quadratic below ``beta``, linear
    above (``beta == 0`` is the L1 loss, as in torch)."""
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return _apply_reduction((input - target).abs(), reduction)
    _check_floating(input, target, "smooth_l1_cpu")
    return run(nn_loss.SMOOTH_L1_LOSS, input, target, reduction, float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.huber_loss``: quadratic below ``delta``, then linear
    with slope ``delta``."""
    reduction = _reduction(None, None, reduction)
    shape = input.shape
    input, target = _broadcast_pair(input, target)
    if weight is not None and weight.shape != shape:
        raise ValueError("Weights and input must have the same size.")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _into_input(input, _dtype.promote_types(input.dtype, target.dtype))
    _check_floating(input, target, "huber_cpu")
    if weight is None:
        return run(nn_loss.HUBER_LOSS, input, target, reduction, float(delta))
    loss = run(nn_loss.HUBER_LOSS, input, target, "none", float(delta))
    return _weighted(loss, weight, shape, reduction, by_weight=False)


# ---- classification losses --------------------------------------------------------------


# NOTE [nll_loss's checks]
# torch checks nll_loss's arguments in layers, and the first failing check names the error:
# nll_loss_nd (input rank, batch sizes; for inputs of 3 or 5+ dims the target's size), then
# the kernel's shape checks (for (C) and (N, C): target rank, target dtype, a (1,) target,
# the weight's shape; for (N, C, H, W): target rank, target dtype, weight size, sizes), then
# the dispatch on the input's dtype, then the weight's dtype (the input's), then (spatial
# kernel) a Byte target, then the targets' range.


def _check_nll(input: Tensor, target: Tensor) -> None:
    shape = input._data.shape  # the arrays' shapes: no Size objects on the hot path
    if len(shape) < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {len(shape)})")
    # a 0-d target counts as a batch of 0 in torch's message
    batch = target._data.shape[0] if target._data.ndim else 0
    if len(shape) != 1 and shape[0] != batch:
        raise ValueError(f"Expected input batch_size ({shape[0]}) to match target "
                         f"batch_size ({batch}).")


def _check_nll_target_dtype(target: Tensor) -> None:
    if target.dtype is not _dtype.int64 and target.dtype is not _dtype.uint8:
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{_dtype.scalar_type_name(target.dtype)}")


def _check_nll_dtypes(input: Tensor, weight, frame: str) -> None:
    dtype = input.dtype
    if dtype.category != _dtype.FLOAT:
        raise NotImplementedError(
            f'"{frame}" not implemented for \'{_dtype.scalar_type_name(dtype)}\'')
    if weight is not None and weight.dtype is not dtype:
        raise _dtype.scalar_type_mismatch(dtype, weight.dtype)


def _check_targets(target, classes: int, ignore_index: int) -> None:
    if target.size and np.maximum.reduce(target.view(np.uint64), None) < classes:
        return  # the common case, every target in [0, classes), in one reduction (a
        # negative target is above every class read as unsigned)
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        raise IndexError(f"Target {int(target[bad].flat[0])} is out of bounds.")


def _nll_nd(input: Tensor, target: Tensor, weight, reduction: str, ignore_index: int) -> Tensor:
    _check_nll(input, target)  # NOTE [nll_loss's checks]
    ndim = input.ndim
    _not_differentiable("nll_loss_forward" if ndim <= 2 else "nll_loss2d_forward", "weight",
                        weight)
    if ndim <= 2:
        if ndim == 2 and target.ndim != 1 or ndim == 1 and target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_nll_target_dtype(target)
        data = target._data.astype(np.int64, copy=False)
        if ndim == 1 and target.ndim == 1:  # one sample whose target is a 1-element vector
            if target.shape[0] != 1:
                raise ValueError(f"For 1D input, 1D target must have size 1, but got target "
                                 f"size: {target.shape[0]}")
            target, data = target.reshape(()), data.reshape(())
        classes = input.shape[-1]
        if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        _check_nll_dtypes(input, weight, "nll_loss_out_frame")
        _check_targets(data, classes, ignore_index)
        if batching.levels:
            return _nll_by_gather(input, target, weight, reduction, ignore_index)
        return run(nn_loss.NLL_LOSS, input, weight, data, reduction, ignore_index)
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if ndim != 4 and tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    if ndim == 4 and target.ndim != 3:
        raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                           f"targets of dimension: {target.ndim}")
    _check_nll_target_dtype(target)
    if weight is not None and weight.numel() != input.shape[1]:
        raise RuntimeError("weight tensor should be defined either for all or no classes")
    if ndim == 4 and tuple(target.shape) != expected:
        raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                           f"{list(target.shape)}")
    _check_nll_dtypes(input, weight, "nll_loss2d_forward_out_frame")
    if target.dtype is not _dtype.int64:
        raise _dtype.scalar_type_mismatch(_dtype.int64, target.dtype)
    if weight is not None and weight.ndim != 1:
        weight = weight.reshape(-1)  # the spatial kernel reads any weight of C elements
    data = target._data
    _check_targets(data, input.shape[1], ignore_index)
    if ndim == 4:
        return run(nn_loss.NLL_LOSS2D, input, weight, data, reduction, ignore_index)
    n, c = input.shape[0], input.shape[1]
    out = run(nn_loss.NLL_LOSS2D, input.reshape(n, c, 1, -1), weight,
              data.reshape(n, 1, -1), reduction, ignore_index)
    return out.view(expected) if reduction == "none" else out


def _nll_by_gather(input: Tensor, target: Tensor, weight, reduction: str,
                   ignore_index: int) -> Tensor:
    """nll_loss of a (C) or (N, C) input composed of ``gather`` and sums, for ``vmap``: the
    NllLoss records take the target as one plain array, while vmap's rules for ``gather``
    and indexing carry a target that differs per sample."""
    class_dim = 0 if input.ndim == 1 else 1
    valid = target != ignore_index
    safe = target.masked_fill(~valid, 0)
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    w = valid.to(input.dtype)
    if weight is not None:
        w = weight[safe] * w
    losses = -picked * w
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / w.sum()


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.nll_loss``: ``-input[n, target[n]] * weight[target[n]]``
    for inputs (C), (N, C) or (N, C, d1, ...); ``mean`` divides by the summed weights of
    the targets not equal to ``ignore_index``. Nodes ``NllLossBackward0`` and, for
    spatial inputs, ``NllLoss2DBackward0`` (as torch)."""
    reduction = _reduction(size_average, reduce, reduction)
    return _nll_nd(input, target, weight, reduction, ignore_index)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Mirrors ``torch.nn.functional.cross_entropy``: ``log_softmax`` over the class dim
    (dim 1, or 0 for an unbatched input) then the negative log likelihood; ``target`` holds
    class indices (integers) or class probabilities (floats, the input's shape).
    ``label_smoothing`` mixes the target with the uniform distribution."""
    reduction = _reduction(size_average, reduce, reduction)
    class_dim = 0 if input.ndim == 1 else 1
    if target._data.shape == input._data.shape:  # as torch: same shapes, probabilities
        return _cross_entropy_probs(input, target, weight, reduction, ignore_index,
                                    label_smoothing, class_dim)
    if label_smoothing > 1.0:  # torch ignores a negative one
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")
    logp = input.log_softmax(class_dim)
    nll = _nll_nd(logp, target, weight, reduction, ignore_index)
    if label_smoothing <= 0.0:
        return nll
    classes = input.shape[class_dim]
    ignored = make(target._data == ignore_index)
    if weight is not None:
        view = [1] * input.ndim
        view[class_dim] = classes
        smooth = -(logp * weight.reshape(view)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth.masked_fill_(ignored, 0.0)  # in place, as torch: a 0-d loss refuses a (1,) mask
    if reduction == "mean":
        if weight is not None:
            kept = target._data[target._data != ignore_index]
            smooth = smooth.sum() / weight[make(kept.astype(np.int64))].sum()
        else:
            smooth = smooth.sum() / (~ignored).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / classes)


def _cross_entropy_probs(input, target, weight, reduction, ignore_index, label_smoothing,
                         class_dim) -> Tensor:
    if target.dtype.category != _dtype.FLOAT:
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {_dtype.scalar_type_name(target.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {class_dim} but tensor has no dimensions")
    classes = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{classes} classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    product = logp * target
    if weight is not None:
        view = [1] * logp.ndim
        view[class_dim] = classes
        product = product * weight.reshape(view)
    if reduction == "none":
        return -product.sum(class_dim)
    if reduction == "sum":
        return -product.sum()
    batch = logp.numel() // classes if classes else 0
    return run(DIV_SCALAR, -product.sum(), batch)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.binary_cross_entropy``: ``-(t log p + (1-t) log(1-p))``
    with each log clamped at -100 (as torch), times ``weight``."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if target.dtype is not input.dtype:  # torch's kernel reads both in one dtype
        raise RuntimeError(f"Found dtype {_dtype.scalar_type_name(target.dtype)} but expected "
                           f"{_dtype.scalar_type_name(input.dtype)}")
    if input.dtype.category != _dtype.FLOAT:
        raise NotImplementedError(f'"binary_cross_entropy" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    data = input._data
    if data.size and ((data < 0) | (data > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    _not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None:
        from ember._ops.shape import broadcast_to

        weight = broadcast_to(weight, input.shape)
    return run(nn_loss.BINARY_CROSS_ENTROPY, input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.nn.functional.binary_cross_entropy_with_logits``: the binary cross
    entropy of ``sigmoid(input)``, computed from the logits stably (finite for any logit);
    ``pos_weight`` weighs the positive term."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    _not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    _not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    # torch's composition: log_sigmoid of the input, then terms written into a buffer of
    # the target's dtype, whose (1 - target) refuses bool
    if input.dtype.category != _dtype.FLOAT:
        raise NotImplementedError(f'"log_sigmoid_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    if target.dtype is _dtype.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if target.dtype.category != _dtype.FLOAT:
        result = _dtype.promote_types(input.dtype, target.dtype)
        raise RuntimeError(f"result type {_dtype.scalar_type_name(result)} can't be cast to "
                           f"the desired output type {_dtype.scalar_type_name(target.dtype)}")
    return run(nn_loss.BCE_WITH_LOGITS, input, target, weight, pos_weight, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.kl_div``: ``target * (log target - input)`` with
    ``input`` a log-probability (``log_target``: the target is one too); ``batchmean``
    divides the sum by the batch size, ``mean`` warns as torch does."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", stacklevel=2)
    if reduction == "batchmean":
        enum = "sum"
    else:
        enum = _reduction(None, None, reduction)
    if input.dtype.category < _dtype.FLOAT or target.dtype.category < _dtype.FLOAT:
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        from ember._ops.pointwise import xlogy

        # torch multiplies first, so its engine runs xlogy's node before the product's and
        # the target's gradient sums as (xlogy's two terms) + the product's: that order
        # shows in the last bit (float64 gradients: 16% of elements differed otherwise)
        product = target * input
        loss = xlogy(target, target) - product
    loss = _apply_reduction(loss, enum)
    if reduction == "batchmean" and input.ndim != 0:
        loss = loss / input.shape[0]
    return loss


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True,
                     full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.poisson_nll_loss``: ``exp(input) - target * input``
    (``log_input``) or ``input - target * log(input + eps)``, plus Stirling's term for
    targets above 1 when ``full``."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _apply_reduction(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.gaussian_nll_loss``: ``0.5 * (log var + (input -
    target)**2 / var)`` (+ ``0.5 log 2 pi`` when ``full``); ``var`` is clamped at ``eps``
    without blocking its gradient, as torch does."""
    from ember._ops.creation import full_like

    if not isinstance(var, Tensor):
        var = full_like(input, var)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    from ember.autograd import grad_mode

    var = var.clone()
    with grad_mode.no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply_reduction(loss, reduction)


# ---- embedding and margin losses --------------------------------------------------------


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.cosine_embedding_loss``: ``1 - cos(x1, x2)`` where the
    target is 1, ``max(0, cos(x1, x2) - margin)`` where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    target_dim = target.ndim
    if input1.shape != input2.shape:
        raise RuntimeError(f"the size of tensor a ({input1.shape[-1]}) must match the size of "
                           f"tensor b ({input2.shape[-1]}) at non-singleton dimension "
                           f"{input1.ndim - 1}")
    if target_dim == 1 and input1.ndim != 2:
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if target_dim == 0 and input1.ndim != 1:
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if target_dim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    from ember._ops.pointwise import where

    dim = target_dim
    prod_sum = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + 1e-12
    mag2 = (input2 * input2).sum(dim) + 1e-12
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = cos.new_zeros(cos.shape)
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    loss = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _apply_reduction(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.margin_ranking_loss``: ``max(0, -target * (input1 -
    input2) + margin)``."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got "
            f"sizes: input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    # torch's margin is a double: it promotes integer inputs to the default dtype; the
    # difference comes first, as torch's (its error for two bool inputs first)
    difference = input1 - input2
    loss = (-target * difference + float(margin)).clamp_min(0)
    return _apply_reduction(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.hinge_embedding_loss``: ``input`` where the target is
    1, ``max(0, margin - input)`` where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    from ember._ops.pointwise import where

    zeros = input.new_zeros(input.shape)
    if input.dtype.category < _dtype.FLOAT:  # torch converts the margin to the input's dtype
        margin = input.new_tensor(margin)
    margin_part = where(target != 1, (margin - input).clamp_min(0), zeros)
    self_part = where(target != -1, input, zeros)
    return _apply_reduction(margin_part + self_part, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.soft_margin_loss``: ``log(1 + exp(-target * input))``
    (node ``SoftMarginLossBackward0``)."""
    reduction = _reduction(size_average, reduce, reduction)
    # torch writes the loss into a buffer of the input's shape, without the size warning of
    # the other pointwise losses: a target that would grow it is refused
    shape = tuple(input.shape)
    if tuple(target.shape) != shape:
        from ember._ops._promote import broadcast_error

        error = broadcast_error([shape, tuple(target.shape)])
        if error is not None:
            raise error
        grown = tuple(np.broadcast_shapes(shape, tuple(target.shape)))
        if grown != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast "
                               f"shape {list(grown)}")
        target = target.expand(shape)
    _not_differentiable("soft_margin_loss", "target", target)
    if input.dtype is _dtype.bool_:  # torch's first step negates the input
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    result = _dtype.promote_types(input.dtype, target.dtype)
    _into_input(input, result if result.category >= _dtype.FLOAT
                else _dtype.get_default_dtype())
    if target.dtype is _dtype.bool_:  # read as the input's numbers, as torch's kernel does
        target = target.to(input.dtype)
    return run(nn_loss.SOFT_MARGIN_LOSS, input, target, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.multilabel_soft_margin_loss``: the binary logistic
    loss of every class, averaged over the classes (the last dim)."""
    reduction = _reduction(size_average, reduce, reduction)
    if input.dtype.category < _dtype.FLOAT:  # torch's log_sigmoid has no integer loop
        raise NotImplementedError(f'"log_sigmoid_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    from ember.nn._functional.activation import logsigmoid

    # torch's composition, log_sigmoid's node (LogSigmoidBackward0) and half rounding
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _apply_reduction(loss, reduction)


def _check_margin_input(input: Tensor) -> None:
    shape = input._data.shape
    if not (len(shape) == 2 and shape[1] or len(shape) == 1 and shape[0] or not shape):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(shape)}")


def _check_margin_dtype(input: Tensor, frame: str) -> None:
    if input.dtype is not _dtype.float32 and input.dtype is not _dtype.float64:
        raise NotImplementedError(
            f'"{frame}" not implemented for \'{_dtype.scalar_type_name(input.dtype)}\'')


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.multilabel_margin_loss``: for each target class j
    (the target's leading entries up to the first -1) and each other class i,
    ``max(0, 1 - (x[j] - x[i]))``, summed and divided by the class count. Inputs (N, C),
    (C) or 0-d (one class); the target holds as many entries."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_margin_input(input)
    classes = input.shape[-1] if input.ndim else 1
    if not (tuple(target.shape) == tuple(input.shape) if input.ndim == 2 else
            target.ndim <= 1 and target.numel() == classes):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    data = target._data
    if ((data < -1) | (data >= classes)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    _check_margin_dtype(input, "multilabel_margin_loss_forward_out_frame")
    if target.dtype is not _dtype.int64:
        raise _dtype.scalar_type_mismatch(_dtype.int64, target.dtype)
    x = input.reshape(1) if input.ndim == 0 else input
    return run(nn_loss.MULTILABEL_MARGIN_LOSS, x, data.reshape(x.shape), reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.multi_margin_loss``: the multi-class hinge loss
    ``sum_i max(0, margin - x[y] + x[i])**p / C`` (``p`` 1 or 2), weighted by
    ``weight[y]``. Inputs (N, C), (C) or 0-d (one class); the target holds the N class
    indices (0-d or 1-D), its shape the unreduced loss's."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _not_differentiable("multi_margin_loss", "weight", weight)
    _check_margin_input(input)
    frames = input.shape[0] if input.ndim == 2 else 1
    classes = input.shape[-1] if input.ndim else 1
    if target.ndim > 1 or target.numel() != frames:
        raise RuntimeError(
            f"multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{frames}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}.")
    if weight is not None and weight.shape[0] != classes:
        raise RuntimeError(f"inconsistent weight size, expected {classes} but got "
                           f"{list(weight.shape)}")
    _check_margin_dtype(input, "multi_margin_loss_cpu_kernel")
    if target.dtype is not _dtype.int64:
        raise _dtype.scalar_type_mismatch(_dtype.int64, target.dtype)
    if weight is not None and weight.dtype is not input.dtype:
        raise _dtype.scalar_type_mismatch(input.dtype, weight.dtype)
    data = target._data
    if ((data < 0) | (data >= classes)).any():
        raise RuntimeError("target out of range")
    return run(nn_loss.MULTI_MARGIN_LOSS, input, weight, data, int(p), float(margin),
               reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    return (x1 - x2 + eps).norm(p, -1)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.triplet_margin_loss``: ``max(0, d(a, p) - d(a, n) +
    margin)`` with ``d`` the p-norm distance (``swap``: the smaller of d(a, n) and
    d(p, n))."""
    reduction = _reduction(size_average, reduce, reduction)
    a, pos, neg = anchor.ndim, positive.ndim, negative.ndim
    if not a == pos == neg:
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {pos}D, and negative {neg}D inputs")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        from ember._ops.pointwise import minimum

        d_neg = minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _apply_reduction((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """Mirrors ``torch.nn.functional.triplet_margin_with_distance_loss``: the triplet loss
    under any ``distance_function`` (default: the Euclidean pairwise distance)."""
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = anchor.ndim, positive.ndim, negative.ndim
    if not a == pos == neg:
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {pos}D, and negative {neg}D inputs")
    if distance_function is None:
        def distance_function(x1, x2):
            return _pairwise_distance(x1, x2, 2.0, 1e-6)
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        from ember._ops.pointwise import minimum

        d_neg = minimum(d_neg, distance_function(positive, negative))
    loss = (margin + d_pos - d_neg).clamp_min(0)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


_CTC_OVERLOADS = ("(Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of "
                  "ints target_lengths, int blank = 0, int reduction = at::Reduction::Mean, "
                  "bool zero_infinity = False)",
                  "(Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor "
                  "target_lengths, int blank = 0, int reduction = at::Reduction::Mean, bool "
                  "zero_infinity = False)")


def _is_int_item(item) -> bool:
    if isinstance(item, Tensor):
        return item.dtype.category == _dtype.INT and item.numel() == 1
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _described(value) -> str:
    """How torch's argument parser names a value it refused: a list or tuple with the types
    of its items."""
    from ember._tensor import c_type_name

    if type(value) is list:
        return f"list of [{', '.join(c_type_name(v) for v in value)}]"
    if type(value) is tuple:
        return f"tuple of ({', '.join(c_type_name(v) for v in value)})"
    return c_type_name(value)


def _ctc_lengths(log_probs, targets, input_lengths, target_lengths, blank,
                 zero_infinity) -> tuple:
    """The lengths as int64 arrays, refused as torch's ``ctc_loss`` refuses them: two
    integer tensors, or two lists or tuples of ints (TypeError listing both overloads for
    anything else), and no floating point tensors."""
    from ember._tensor import c_type_name

    both = (input_lengths, target_lengths)
    if all(isinstance(v, Tensor) for v in both):
        for name, value in zip(("input_lengths", "target_lengths"), both):
            if value.dtype.category != _dtype.INT:
                raise RuntimeError(f"{name} must be integral")
        return tuple(v._data.astype(np.int64).reshape(-1) for v in both)
    if all(type(v) in (list, tuple) and all(_is_int_item(i) for i in v) for v in both):
        return tuple(np.array([int(i) for i in v], np.int64) for v in both)
    # torch's Python function hands the reduction on as an int (its enum)
    args = (log_probs, targets, input_lengths, target_lengths, blank, 0, zero_infinity)
    got = ", ".join(c_type_name(a) for a in args)
    tail = f"!{c_type_name(blank)}!, !int!, !{c_type_name(zero_infinity)}!"
    as_ints = ", ".join(f"!{_described(v)}!" for v in both)
    as_tensors = ", ".join("Tensor" if isinstance(v, Tensor) else f"!{_described(v)}!"
                           for v in both)
    why = "      didn't match because some of the arguments have invalid types: "
    raise TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but "
        f"expected one of:\n * {_CTC_OVERLOADS[0]}\n{why}(Tensor, Tensor, {as_ints}, {tail})\n"
        f" * {_CTC_OVERLOADS[1]}\n{why}(Tensor, Tensor, {as_tensors}, {tail})\n")


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Mirrors ``torch.nn.functional.ctc_loss``: the negative log likelihood of the target
    label sequences under ``log_probs`` (T, N, C) (or (T, C) unbatched), summed over all
    alignments; ``targets`` padded (N, S) or concatenated (sum of target_lengths). ``mean``
    divides each loss by its target length, then averages. As in torch, the gradient
    assumes ``log_probs`` come from ``log_softmax``; ember differs in that a second
    derivative is not refused (it is the derivative of that linear rule)."""
    reduction = _reduction(None, None, reduction)
    in_lengths, tgt_lengths = _ctc_lengths(log_probs, targets, input_lengths, target_lengths,
                                           blank, zero_infinity)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    t_max, n, classes = log_probs.shape
    tgt = targets._data.astype(np.int64)  # unbatched too, as torch: 1-D is concatenated
    checking = "(while checking arguments for ctc_loss_allocate_outputs)"
    if tgt.ndim not in (1, 2):
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {tgt.ndim}-dimensional tensor "
                           f"for argument #2 'targets' {checking}")
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if in_lengths.shape[0] != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tgt_lengths.shape[0] != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    if (tgt_lengths < 0).any():
        raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                           f"{int(tgt_lengths[tgt_lengths < 0][0])} {checking}")
    # torch's size checks of the targets, concatenated (1-D) or padded (N, S)
    expected = (int(tgt_lengths.sum()) if tgt.ndim == 1 else n, tgt.shape[0])
    if expected[0] != expected[1]:
        raise RuntimeError(f"Expected tensor to have size {expected[0]} at dimension 0, but "
                           f"got size {expected[1]} for argument #2 'targets' {checking}")
    longest = int(tgt_lengths.max()) if n else 0
    if tgt.ndim == 2 and tgt.shape[1] < longest:
        raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension 1, "
                           f"but got size {tgt.shape[1]} for argument #2 'targets' {checking}")
    bad = (in_lengths < 0) | (in_lengths > t_max)
    if bad.any():
        value = int(in_lengths[bad][0])
        bound = "at least 0" if value < 0 else f"at most {t_max}"
        raise RuntimeError(f"Expected input_lengths to have value {bound}, but got value "
                           f"{value} {checking}")
    if tgt.ndim == 1:
        # concatenated targets: lay them out padded
        starts = np.concatenate([[0], np.cumsum(tgt_lengths)[:-1]])
        width = int(tgt_lengths.max()) if n else 0
        offsets = starts[:, None] + np.arange(width)
        padded = np.where(np.arange(width) < tgt_lengths[:, None],
                          tgt.reshape(-1)[np.minimum(offsets, max(tgt.size - 1, 0))]
                          if tgt.size else 0, blank)
        tgt = padded.reshape(n, width)
    nll = run(nn_loss.CTC_LOSS, log_probs, tgt, in_lengths, tgt_lengths, int(blank),
              bool(zero_infinity))[0]
    if zero_infinity:  # torch's composition: the op's gradient is already 0 there
        from ember._ops.pointwise import where

        nll = where(nll == math.inf, nll.new_zeros(()), nll)
    if unbatched:
        nll = nll.squeeze(0)
    if reduction == "mean":
        lengths = make(np.maximum(tgt_lengths, 1).astype(log_probs._data.dtype))
        if unbatched:
            lengths = lengths.squeeze(0)
        return (nll / lengths).mean()
    if reduction == "sum":
        return nll.sum()
    return nll


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                         linear_bias: Tensor | None = None, weight: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options=None) -> Tensor:
    """Mirrors ``torch.nn.functional.linear_cross_entropy``: ``cross_entropy(linear(input,
    linear_weight, linear_bias), target)``. ``input`` is (in_features,) or (N,
    in_features); ``linear_weight`` is (C, *out_features, in_features) and ``linear_bias``
    (C, *out_features), giving logits (N, C, *out_features). ``ignore_index=None`` means
    -100 for class-index targets.

    ``options`` (``nn.LinearCrossEntropyOptions``) takes torch's chunked path (NOTE
    [Chunked linear cross entropy]) for int64 class targets, 2-d ``linear_weight``, no label
    smoothing and reduction mean, sum or none; other calls warn as torch does and take the
    reference path (``options=None``)."""
    from ember.nn._functional.linear import linear

    if input.dim() not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    in_features = input.shape[-1]
    if linear_weight.shape[-1] != in_features:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {linear_weight.shape[-1]}, "
                           f"respectively")
    classes = tuple(linear_weight.shape[:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != classes:
        raise RuntimeError(f"expected linear_bias shape {classes}, got "
                           f"{tuple(linear_bias.shape)}")
    if ignore_index is None:
        ignore_index = -100
    elif target.is_floating_point():
        raise RuntimeError("ignore_index cannot be specified when target contains "
                           "probabilities")
    if options is not None:
        chunked = (len(classes) == 1 and reduction in ("mean", "sum", "none")
                   and label_smoothing == 0.0 and target.dtype is _dtype.int64)
        if chunked:
            return _chunked_linear_cross_entropy(input, linear_weight, target, linear_bias,
                                                 weight, reduction, ignore_index, options)
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
            "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, out_features "
            f"== (). Got reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype={target.dtype}, out_features={classes[1:]}, tracing=False, "
            "linear_bias.shape="
            f"{None if linear_bias is None else tuple(linear_bias.shape)}.", stacklevel=2)
    flat_bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, linear_weight.reshape(-1, in_features), flat_bias)
    if len(classes) > 1:
        logits = logits.reshape(tuple(input.shape[:-1]) + classes)
    return cross_entropy(logits, target, weight, ignore_index=ignore_index,
                         reduction=reduction, label_smoothing=label_smoothing)


# NOTE [Chunked linear cross entropy]
# With ``options``, torch's linear_cross_entropy never holds the (N, C) logits: it goes over
# the batch ``rows`` rows at a time, each chunk's logits (rows, C) computed, turned into its
# loss and, for the scalar reductions, at once into its share of the gradients (the softmax
# minus the one-hot target, times the class weights and the 1/total of "mean"), which are
# accumulated into buffers of the inputs' shapes; the backward only scales them by the
# incoming gradient (once, unless ``allow_retain_graph``). Per-sample losses
# (reduction "none") need the incoming gradient per row, so their backward recomputes the
# chunks. Peak memory is one chunk's logits, as torch's.


def _chunk_pass(x, w, b, target, class_weight, ignore_index: int, rows: int, acc, scale=None):
    """The chunks' losses (per row, weighted; 0 where ignored) and, when ``scale`` (per
    row) is given, the gradients of ``sum(loss * scale)`` for x, w and b."""
    n = x.shape[0]
    losses = np.empty(n, acc)
    grads = None
    if scale is not None:
        grads = (np.empty(x.shape, acc), np.zeros(w.shape, acc), np.zeros(w.shape[0], acc))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        xc = x[start:stop]
        logits = xc @ w.T
        if b is not None:
            logits += b
        kept = target[start:stop] != ignore_index
        picked = np.where(kept, target[start:stop], 0)
        top = logits.max(axis=1, keepdims=True)
        shifted = logits - top
        sums = np.exp(shifted).sum(axis=1, keepdims=True)
        row_weight = kept.astype(acc)
        if class_weight is not None:
            row_weight *= class_weight[picked]
        index = np.arange(stop - start)
        losses[start:stop] = (np.log(sums[:, 0]) - shifted[index, picked]) * row_weight
        if scale is not None:
            probs = np.exp(shifted, out=shifted)
            probs /= sums
            probs[index, picked] -= 1
            probs *= (row_weight * scale[start:stop])[:, None]
            grad_x, grad_w, grad_b = grads
            grad_x[start:stop] = probs @ w
            grad_w += probs.T @ xc
            grad_b += probs.sum(axis=0)
    return losses, grads


def _chunk_arrays(input: Tensor, linear_weight: Tensor, linear_bias, weight, acc) -> tuple:
    def cast(t):
        return None if t is None else t._data.astype(acc.np, copy=False)
    return cast(input), cast(linear_weight), cast(linear_bias), cast(weight)


def _chunk_denominator(target, class_weight, ignore_index: int, acc):
    kept = target != ignore_index
    if class_weight is None:
        return acc.np.type(kept.sum())
    return class_weight[np.where(kept, target, 0)][kept].sum(dtype=acc.np)


def _chunked_linear_cross_entropy(input, linear_weight, target, linear_bias, weight,
                                  reduction: str, ignore_index: int, options) -> Tensor:
    from ember.autograd import grad_mode

    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    rows = options._chunk_rows(input.shape[0], input.shape[1], linear_weight.shape[0],
                               input.dtype)
    acc = options._acc_dtype(input.dtype)
    enabled = grad_mode.is_grad_enabled()
    if reduction == "none":
        out = _ChunkedPerSample.apply(input, linear_weight, target, linear_bias, weight,
                                      ignore_index, rows, acc)
    else:
        wants = tuple(t is not None and t.requires_grad and enabled
                      for t in (input, linear_weight, linear_bias))
        out = _ChunkedReduced.apply(input, linear_weight, target, linear_bias, weight,
                                    reduction, ignore_index, rows, acc,
                                    options.allow_retain_graph, wants)
    return out.squeeze(0) if unbatched else out


def _loss_dtype(dtype, acc):
    # torch returns a float16 input's loss in the accumulation dtype, the others' in theirs
    return acc if dtype is _dtype.float16 else dtype


class GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_default(  # noqa: N801
        Function):
    """The chunked op of the scalar reductions (NOTE [Chunked linear cross entropy]); its
    node has torch's name. Gradients are computed in the forward for the inputs in
    ``wants`` and consumed by the first backward unless ``allow_retain_graph``."""

    @staticmethod
    def forward(ctx, input, linear_weight, target, linear_bias, weight, reduction,
                ignore_index, rows, acc, allow_retain_graph, wants):
        x, w, b, class_weight = _chunk_arrays(input, linear_weight, linear_bias, weight, acc)
        tgt = target._data
        total = _chunk_denominator(tgt, class_weight, ignore_index, acc)
        scale = None
        if any(wants):
            per_row = 1 / total if reduction == "mean" else acc.np.type(1)
            scale = np.full(x.shape[0], per_row, acc.np)
        losses, grads = _chunk_pass(x, w, b, tgt, class_weight, ignore_index, rows, acc.np,
                                    scale)
        loss = losses.sum(dtype=acc.np)
        if reduction == "mean":
            loss = loss / total
        ctx.grads = None if grads is None else [
            make(g.astype(t.dtype.np, copy=False)) if want else None
            for g, t, want in zip(grads, (input, linear_weight, linear_bias), wants)]
        ctx.allow_retain_graph = allow_retain_graph
        return make(np.asarray(loss).astype(_loss_dtype(input.dtype, acc).np))

    @staticmethod
    def backward(ctx, grad_output):
        grads = ctx.grads
        if grads is None:
            raise RuntimeError("linear_cross_entropy chunked backward called twice; "
                               "retain_graph=True / double backward are not supported.")
        if not ctx.allow_retain_graph:
            ctx.grads = None
        gi, gw, gb = (None if g is None else g * grad_output for g in grads)
        return gi, gw, None, gb, None, None, None, None, None, None, None


_ChunkedReduced = GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_default


class GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_no_reduction_default(  # noqa: N801, E501
        Function):
    """The chunked op of reduction "none" (NOTE [Chunked linear cross entropy]): the
    backward recomputes the chunks with the incoming per-row gradient."""

    @staticmethod
    def forward(ctx, input, linear_weight, target, linear_bias, weight, ignore_index, rows,
                acc):
        ctx.save_for_backward(input, linear_weight, target, linear_bias, weight)
        ctx.config = (ignore_index, rows, acc)
        x, w, b, class_weight = _chunk_arrays(input, linear_weight, linear_bias, weight, acc)
        losses, _ = _chunk_pass(x, w, b, target._data, class_weight, ignore_index, rows,
                                acc.np)
        return make(losses.astype(_loss_dtype(input.dtype, acc).np, copy=False))

    @staticmethod
    def backward(ctx, grad_output):
        input, linear_weight, target, linear_bias, weight = ctx.saved_tensors
        ignore_index, rows, acc = ctx.config
        x, w, b, class_weight = _chunk_arrays(input, linear_weight, linear_bias, weight, acc)
        scale = grad_output._data.astype(acc.np, copy=False)
        _, grads = _chunk_pass(x, w, b, target._data, class_weight, ignore_index, rows,
                               acc.np, scale)
        gi, gw, gb = (make(g.astype(t.dtype.np, copy=False)) if t is not None else None
                      for g, t in zip(grads, (input, linear_weight, linear_bias)))
        return gi, gw, None, gb, None, None, None, None


_ChunkedPerSample = (
    GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_no_reduction_default)
