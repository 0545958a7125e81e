"""Loss kernels of ``ember.nn``: the losses torch computes as one native op (its node name
says so: ``MseLossBackward0``, ``NllLossBackward0``, ``CtcLossBackward0``, ...). Losses torch
composes from other ops are composed in ``ember/nn/_functional/loss.py``.

Each record takes the reduction (``"none"``, ``"mean"`` or ``"sum"``) as a parameter and
returns the reduced loss; ``_spread`` undoes the reduction in the backward. Formulas are
ember ops, so they are differentiable again where torch's are. The index-driven losses (nll,
multilabel margin, ctc) build their derivative as a constant array from the targets, which
is linear in ``grad`` (so a second backward through ``grad`` works, as torch's does).
"""
from __future__ import annotations

from ember._backend import np
from ember._ops import registry
from ember._ops.creation import zero_gradient
from ember._ops.registry import (
    KEEP,
    defop,
    first_order,
    reduced_float,
    round_through,
    run,
    saved_as,
    saved_names,
)
from ember._tensor import Tensor, make


def _reduce(xp, loss, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return xp.asarray(loss.sum(), loss.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return xp.asarray(loss.mean() if loss.size else np.nan, loss.dtype)


def _spread(grad: Tensor, shape: tuple, reduction: str) -> Tensor:
    """The loss's gradient with respect to each element before reduction."""
    if reduction == "none":
        return grad
    grad = grad.expand(shape)
    if reduction == "mean":
        n = 1
        for s in shape:
            n *= s
        return grad / n if n else grad
    return grad


def _shape(t: Tensor) -> tuple:
    return tuple(t._data.shape)


# ---- elementwise losses -----------------------------------------------------------------


def _mse_norm(numel: int, reduction: str) -> float:
    # the derivative of the squared difference, divided by the count under "mean"
    return 2.0 / numel if reduction == "mean" and numel else 2.0


def _mse_backward(xp, grad_output, input, target, reduction):
    # torch's kernel order: norm * (input - target) * grad_output
    return _mse_norm(input.size, reduction) * (input - target) * grad_output


def _mse_backward_grad(grad, grad_output, self, target, reduction):
    # ``grad`` has the shape of self (the elementwise gradient), so its size is self's
    return grad * (self - target) * _mse_norm(grad._data.size, reduction)


# torch's MseLossBackward0 runs one kernel, ``mse_loss_backward(grad, self, target)``, and
# for the target ``mse_loss_backward(grad, target, self)``; that kernel's own node
# (MseLossBackwardBackward0) carries the second derivatives.
MSE_LOSS_BACKWARD = defop(
    "mse_loss_backward", node="MseLossBackwardBackward0", nin=3,
    save={0: (1, 2), 1: (0,), 2: (0,)},
    forward=_mse_backward,
    backward=(
        _mse_backward_grad,
        lambda grad, grad_output, self, target, reduction: (
            grad * grad_output * _mse_norm(grad._data.size, reduction)),
        lambda grad, grad_output, self, target, reduction: (
            grad * grad_output * -_mse_norm(grad._data.size, reduction))))


def _mse_loss(xp, input, target, reduction):
    loss = (input - target) * (input - target)
    if reduction == "mean" and registry._modes:
        from ember.autograd.profiler import op_range

        # torch's profile shows the reduction as aten::mean inside aten::mse_loss
        with op_range("aten::mean", (loss.shape, (), (), (), ())):
            return _reduce(xp, loss, reduction)
    return _reduce(xp, loss, reduction)


MSE_LOSS = defop(
    "mse_loss", node="MseLossBackward0", nin=2, kind=KEEP, save=(0, 1),
    forward=_mse_loss,
    backward=(lambda grad, input, target, reduction: run(
                  MSE_LOSS_BACKWARD, grad, input, target, reduction),
              lambda grad, input, target, reduction: run(
                  MSE_LOSS_BACKWARD, grad, target, input, reduction)))
saved_as(MSE_LOSS, self=lambda node: node._saved_input)  # torch's name for the input
saved_names(MSE_LOSS, "reduction", "self", "target")


def _smooth_l1(xp, input, target, reduction, beta):
    diff = xp.abs(input - target)
    loss = xp.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    return _reduce(xp, loss.astype(input.dtype, copy=False), reduction)


def _smooth_l1_grad_half(grad, input, target, reduction, beta):
    """smooth_l1_loss's input gradient for a half type: torch's kernel computes ``norm * (input
    - target) / beta * grad`` in float32 (``norm`` 1, or one over the count under "mean"),
    and ``norm * grad`` with its sign at ``|input - target| >= beta``, rounding once; learnt
    by experiment against torch 2.13 (about 1 in 10**4 results differ from torch's in the last
    bit, in both directions, ember's order not found)."""
    from ember._ops.pointwise import where

    numel = input._data.size
    norm = 1.0 / numel if reduction == "mean" and numel else 1.0
    diff = input.float() - target.float()
    local = where(diff >= beta, norm, where(diff <= -beta, -norm, diff * norm / beta))
    return (local * _expanded(grad, _shape(input), reduction).float()).to(input.dtype)


def _smooth_l1_grad(grad, input, target, reduction, beta):
    if reduced_float(input._data.dtype):
        return _smooth_l1_grad_half(grad, input, target, reduction, beta)
    return _spread(grad, _shape(input), reduction) * ((input - target) / beta).clamp(-1, 1)


SMOOTH_L1_LOSS = defop(
    "smooth_l1_loss", node="SmoothL1LossBackward0", nin=2, kind=KEEP, save=(0, 1),
    forward=_smooth_l1,
    backward=(_smooth_l1_grad, lambda grad, input, target, reduction, beta: -_smooth_l1_grad(
        grad, input, target, reduction, beta)))


def _huber(xp, input, target, reduction, delta):
    diff = xp.abs(input - target)
    loss = xp.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
    return _reduce(xp, loss.astype(input.dtype, copy=False), reduction)


def _huber_grad(grad, input, target, reduction, delta):
    return _spread(grad, _shape(input), reduction) * (input - target).clamp(-delta, delta)


# huber_loss and soft_margin_loss write into a buffer of the input's dtype (torch's
# kernels): computed in the pair's promoted dtype, stored in the input's (promote=(0,))
HUBER_LOSS = defop(
    "huber_loss", node="HuberLossBackward0", nin=2, kind=KEEP, promote=(0,), save=(0, 1),
    forward=_huber,
    backward=(_huber_grad, lambda grad, input, target, reduction, delta: -_huber_grad(
        grad, input, target, reduction, delta)))


def _softplus(xp, x):
    # log(1 + exp(x)) without overflow for large |x|
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


SOFT_MARGIN_LOSS = defop(
    "soft_margin_loss", node="SoftMarginLossBackward0", nin=2, kind=KEEP, promote=(0,),
    save=(0, 1),
    forward=lambda xp, input, target, reduction: _reduce(
        xp, _softplus(xp, -target * input).astype(input.dtype, copy=False), reduction),
    backward=(lambda grad, input, target, reduction: _spread(grad, _shape(input), reduction)
              * -target * _sigmoid(-target * input), None))


# ---- binary cross entropy ---------------------------------------------------------------


def _bce(xp, input, target, weight, reduction):
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch clamps each log at -100, so a probability of exactly 0 or 1 stays finite
        log_p = xp.maximum(xp.log(input), -100)
        log_q = xp.maximum(xp.log1p(-input), -100)
    loss = -(target * log_p + (1 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(xp, loss.astype(input.dtype, copy=False), reduction)


# NOTE [Loss gradients of float16/bfloat16]
# For a half type, torch's loss gradients are compositions of ops in that type, each rounded
# to it, and the reduction comes last: the incoming gradient (broadcast, not divided) times
# the elementwise derivative, that times the weight, that divided by the element count under
# "mean" (each product and the division computed in float32 and rounded once, as NOTE
# [Half-precision arithmetic in float32]). The elementwise derivatives, all in the half type:
# - binary_cross_entropy: ``grad * (input - target) / max((1 - input) * input, 1e-12)`` for
#   the input; ``-logit(input) * grad`` for the target;
# - binary_cross_entropy_with_logits: ``(sigmoid(input) - target) * grad`` for the input, or
#   with ``t = pos_weight * target``, ``((t + 1 - target) * sigmoid(input) - t) * grad``;
#   ``-input * grad`` for the target, or ``(logsigmoid(-input) - logsigmoid(input) *
#   pos_weight) * grad``.
# Learnt by experiment against torch 2.13, bit for bit on random inputs; ember's ops of a
# half type round as torch's do, so these are ember ops (differentiable again). The float32
# and float64 formulas, which reduce first, are unchanged.


def _half_reduced(grad: Tensor, weight, reduction: str) -> Tensor:
    """The elementwise gradient ``grad`` of a half type's loss times the weight, then divided
    by the count under "mean" (NOTE [Loss gradients of float16/bfloat16])."""
    if weight is not None:
        grad = grad * weight
    if reduction == "mean" and grad._data.size:
        from ember._ops.reduction import DIV_SCALAR

        grad = run(DIV_SCALAR, grad, grad._data.size)  # torch's div by a number: DivBackward1
    return grad


def _expanded(grad: Tensor, shape: tuple, reduction: str) -> Tensor:
    return grad if reduction == "none" else grad.expand(shape)


def _bce_input_grad(grad, input, target, weight, reduction):
    if reduced_float(input._data.dtype):  # NOTE [Loss gradients of float16/bfloat16]
        grad = _expanded(grad, _shape(input), reduction) * (input - target) / (
            (1 - input) * input).clamp_min(1e-12)
        return _half_reduced(grad, weight, reduction)
    grad = _spread(grad, _shape(input), reduction) * (input - target) / (
        (1 - input) * input).clamp_min(1e-12)
    return grad if weight is None else grad * weight


def _bce_target_grad(grad, input, target, weight, reduction):
    if reduced_float(input._data.dtype):  # NOTE [Loss gradients of float16/bfloat16]
        grad = -input.logit() * _expanded(grad, _shape(input), reduction)
        return _half_reduced(grad, weight, reduction)
    grad = _spread(grad, _shape(input), reduction) * (
        (-input).log1p().clamp_min(-100) - input.log().clamp_min(-100))
    return grad if weight is None else grad * weight


BINARY_CROSS_ENTROPY = defop(
    "binary_cross_entropy", node="BinaryCrossEntropyBackward0", nin=3, kind=KEEP,
    promote=(0,), save=(0, 1, 2), forward=_bce,
    backward=(_bce_input_grad, _bce_target_grad, None))


def _bce_logits(xp, input, target, weight, pos_weight, reduction):
    softplus_neg = _softplus(xp, -input)  # -log(sigmoid(input)), finite for any logit
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(xp, loss.astype(target.dtype, copy=False), reduction)


def _sigmoid(x: Tensor) -> Tensor:
    # exp of -|x| only: finite and warning-free for any logit
    from ember._ops.pointwise import where

    small = (-x.abs()).exp()
    return where(x >= 0, 1 / (1 + small), small / (1 + small))


def _bce_logits_input_grad_half(grad, input, target, weight, pos_weight, reduction):
    # NOTE [Loss gradients of float16/bfloat16]
    if pos_weight is None:
        local = input.sigmoid() - target
    else:
        scaled = pos_weight * target
        local = (scaled + 1 - target) * input.sigmoid() - scaled
    return _half_reduced(local * _expanded(grad, _shape(input), reduction), weight, reduction)


def _bce_logits_target_grad_half(grad, input, target, weight, pos_weight, reduction):
    # NOTE [Loss gradients of float16/bfloat16]
    from ember.nn._functional.activation import logsigmoid

    if pos_weight is None:
        local = -input
    else:
        local = logsigmoid(-input) - logsigmoid(input) * pos_weight
    return _half_reduced(local * _expanded(grad, _shape(input), reduction), weight, reduction)


def _bce_logits_input_grad(grad, input, target, weight, pos_weight, reduction):
    if reduced_float(target._data.dtype):
        return _bce_logits_input_grad_half(grad, input, target, weight, pos_weight, reduction)
    if pos_weight is None:
        local = _sigmoid(input) - target
    else:
        scale = 1 + (pos_weight - 1) * target
        local = scale * _sigmoid(input) - pos_weight * target
    grad = _spread(grad, _shape(input), reduction) * local
    return grad if weight is None else grad * weight


def _softplus_t(x: Tensor) -> Tensor:
    return x.clamp_min(0) + (-x.abs()).exp().log1p()


def _bce_logits_target_grad(grad, input, target, weight, pos_weight, reduction):
    if reduced_float(target._data.dtype):
        return _bce_logits_target_grad_half(grad, input, target, weight, pos_weight, reduction)
    if pos_weight is None:
        local = -input
    else:
        local = (pos_weight - 1) * _softplus_t(-input) - input
    grad = _spread(grad, _shape(input), reduction) * local
    return grad if weight is None else grad * weight


BCE_WITH_LOGITS = defop(
    "binary_cross_entropy_with_logits", node="BinaryCrossEntropyWithLogitsBackward0", nin=4,
    # torch's result has the target's dtype (float64 logits, float32 targets: float32)
    kind=KEEP, promote=(1,), save=(0, 1, 2, 3), forward=_bce_logits,
    backward=(_bce_logits_input_grad, _bce_logits_target_grad, None, None))


# ---- negative log likelihood ------------------------------------------------------------


def _nll_parts(xp, input, weight, target, ignore_index):
    """(per-element weight of each target, its index made safe for gathering), both
    shaped like the target with the batch dim present."""
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    if weight is None:
        w = valid.astype(input.dtype)
    else:
        w = weight.astype(input.dtype)[safe] * valid
    return w, safe


def _picked(xp, input, index):
    """input[n, index[n], ...]: each row's entry at its class (a fancy index on a 2-d input,
    NumPy's slower take_along_axis on more dims)."""
    if input.ndim == 2:
        return input[xp.arange(len(index)), index]
    return xp.take_along_axis(input, index[:, None], 1)[:, 0]


def _nll(xp, input, weight, target, reduction, ignore_index):
    batched = input.ndim > 1
    if not batched:
        input, target = input[None], target[None]
    if reduced_float(input.dtype):
        return _nll_half(xp, input, weight, target, reduction, ignore_index, batched)
    if weight is None and target.size and (target != ignore_index).all():
        # every target counts with weight 1 (the common case): the same sums as below,
        # without the weights
        losses = -_picked(xp, input, target)
        if reduction == "none":
            return (losses if batched else losses[0]).astype(input.dtype, copy=False)
        total = losses.sum()
        return xp.asarray(total if reduction == "sum" else total / target.size, input.dtype)
    w, safe = _nll_parts(xp, input, weight, target, ignore_index)
    losses = -_picked(xp, input, safe) * w
    losses[target == ignore_index] = 0  # torch skips an ignored target: 0, never -0
    if reduction == "none":
        return (losses if batched else losses[0]).astype(input.dtype, copy=False)
    total = losses.sum()
    if reduction == "sum":
        return xp.asarray(total, input.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return xp.asarray(total / w.sum(), input.dtype)


# NOTE [nll_loss of float16/bfloat16]
# torch's CPU nll_loss (and nll_loss2d) of a half type works in that type: each loss is
# ``-(input * weight)`` rounded to it, and the sums over the batch (the losses' and the
# weights') run a cascade of partial sums held in the half type (_cascade_sum); a target equal
# to ignore_index is skipped, its turn to carry included. Without weights the total weight is
# the count of kept targets, rounded to the half type. The gradient of "mean" divides the
# incoming gradient by the total weight first and rounds it, then multiplies by -weight.
# Learnt by experiment against torch 2.13, bit for bit; the order of the sums is fixed (no
# SIMD), so nothing is left over.
_CASCADE_LEVELS = 8


def _running_sums(values, lengths, dtype):
    """The sum of each run of ``lengths`` consecutive ``values`` (float32), added one after
    another in the half ``dtype`` from 0."""
    order = np.argsort(-lengths, kind="stable")  # the longest first: the runs still going
    starts = (np.cumsum(lengths) - lengths)[order]
    ordered = lengths[order]
    sums = np.zeros(len(lengths), np.float32)
    for step in range(int(ordered[0]) if len(ordered) else 0):
        going = int(np.searchsorted(-ordered, -step, side="left"))
        sums[:going] = round_through(sums[:going] + values[starts[:going] + step], dtype)
    out = np.empty_like(sums)
    out[order] = sums
    return out


def _cascade_sum(values, kept, dtype) -> float:
    """torch's sum over a batch in the half ``dtype`` (NOTE [nll_loss of float16/bfloat16]):
    element b is added to the first of ``_CASCADE_LEVELS`` partial sums, then, where b is a
    multiple of step**(j + 1), partial sum j is added to the next and restarts from 0 (for
    j = 0, 1, ... while that holds); at the end the partial sums are added from the first.
    The step is 16 below 2**40 elements. Every addition rounds to the half type. ``kept``:
    which elements take part (None: all)."""
    n = values.size
    power = max(4, (n - 1).bit_length() // _CASCADE_LEVELS)
    index = np.arange(n) if kept is None else np.flatnonzero(kept.reshape(-1))
    events = values.reshape(-1).astype(np.float32)[index]
    partials = []
    for level in range(_CASCADE_LEVELS - 1):
        carries = index % (1 << (power * (level + 1))) == 0
        run_of = np.cumsum(carries) - carries  # the runs end at each carry
        lengths = np.bincount(run_of, minlength=int(carries.sum()) + 1)
        sums = _running_sums(events, lengths, dtype)
        partials.append(sums[-1] if lengths[-1] else np.float32(0))
        events, index = sums[:-1], index[carries]
    partials.append(_running_sums(events, np.array([events.size]), dtype)[0])
    total = np.float32(0)
    for partial in partials:
        total = round_through(np.float32(total + partial), dtype)
    return float(total)


def _nll_half_total_weight(w, valid, weighted: bool, dtype) -> float:
    if weighted:
        return _cascade_sum(w, valid, dtype)
    return float(np.asarray(valid.sum()).astype(dtype))


def _nll_half(xp, input, weight, target, reduction, ignore_index, batched):
    w, safe = _nll_parts(xp, input, weight, target, ignore_index)
    losses = -(_picked(xp, input, safe) * w)  # the product rounds to the half type
    valid = target != ignore_index
    losses[~valid] = 0  # torch skips an ignored target: 0, never -0
    if reduction == "none":
        return losses if batched else losses[0]
    total = _cascade_sum(losses, valid, input.dtype)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.float32(total) / np.float32(
                _nll_half_total_weight(w, valid, weight is not None, input.dtype))
    return xp.asarray(total, input.dtype)


def _nll_backward(xp, grad_output, self, weight, target, reduction, ignore_index):
    """torch's ``nll_loss_backward`` on arrays: the gradient by ``self`` (of the loss's
    dtype), ``-weight[target] * grad_output`` at each kept target's class (over the total
    weight for "mean"), zeros elsewhere."""
    batched = self.ndim > 1
    shape = self.shape if batched else (1,) + self.shape
    tgt = target if batched else target[None]
    w, safe = _nll_parts(np, np.empty(shape, self.dtype), weight, tgt, ignore_index)
    grad_output = grad_output.astype(self.dtype, copy=False)
    if reduction == "mean":
        if reduced_float(self.dtype):
            # NOTE [nll_loss of float16/bfloat16]: the gradient divided by the total, rounded
            total = _nll_half_total_weight(w, tgt != ignore_index, weight is not None,
                                           self.dtype)
            if total:
                grad_output = (grad_output.astype(np.float32) / np.float32(total)).astype(
                    self.dtype)
        else:
            total = w.sum()
            # all targets ignored: torch's loss is nan, its gradient 0
            w = w / total if total else w
    # torch writes each target's gradient into zeros and skips ignored targets: the other
    # entries stay 0, never the -0 of a zero coefficient times a negative gradient
    values = -w * (grad_output if batched or reduction != "none" else grad_output[None])
    values[tgt == ignore_index] = 0
    coef = _placed(shape, safe, values)
    return coef if batched else coef[0]


def _nll_loss_op(name: str, node: str):
    """The record of nll_loss (or nll_loss2d), whose backward is an op of its own (torch's
    ``nll_loss_backward``): being linear in the incoming gradient, that op's derivatives are
    the loss of the cotangent (by the gradient) and zeros (by the input), under torch's node
    (``NllLossBackwardBackward0``)."""
    op = defop(
        f"{name}_backward", node=node.replace("Backward0", "BackwardBackward0"), nin=2,
        kind=KEEP, promote=(1,), save=(), forward=_nll_backward,
        backward=(lambda grad, grad_output, self, weight, target, reduction, ignore_index:
                  run(loss_op, grad, None if weight is None else make(weight), target,
                      reduction, ignore_index), zero_gradient))
    def input_grad(grad, input, weight, target, reduction, ignore_index):
        weight = None if weight is None else weight._data
        if first_order():  # the op's forward without the op runner around it
            return make(_nll_backward(np, grad._data, input._data, weight, target, reduction,
                                      ignore_index))
        return run(op, grad, input, weight, target, reduction, ignore_index)

    loss_op = defop(name, node=node, nin=2, kind=KEEP, promote=(0,), save=(0, 1), forward=_nll,
                    backward=(input_grad, None))
    return loss_op


def _placed(shape, safe, values):
    """Zeros of ``shape`` (N, C, ...) holding ``values[n, ...]`` at class ``safe[n, ...]``."""
    out = np.zeros(shape, values.dtype)
    if len(shape) == 2:
        out[np.arange(len(safe)), safe] = values
    else:
        np.put_along_axis(out, safe[:, None], values[:, None], 1)
    return out


NLL_LOSS = _nll_loss_op("nll_loss", "NllLossBackward0")
NLL_LOSS2D = _nll_loss_op("nll_loss2d", "NllLoss2DBackward0")


# ---- margin losses ----------------------------------------------------------------------


def _multi_margin_terms(x, target, p, margin):
    # x: (N, C) ember or NumPy; the hinge term of every class against the target's score
    return margin - x.gather(1, target[:, None]) + x if isinstance(x, Tensor) else \
        margin - np.take_along_axis(x, target[:, None], 1) + x


def _multi_margin(xp, input, weight, target, p, margin, reduction):
    # input (N, C), (C) or a 0-d single class; target N class indices, its shape the loss's
    x = input.reshape(-1, input.shape[-1] if input.ndim else 1)
    tgt = target.reshape(-1)
    h = xp.maximum(_multi_margin_terms(x, tgt, p, margin), 0)
    h[np.arange(x.shape[0]), tgt] = 0
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight.astype(x.dtype)[tgt][:, None]
    losses = (h.sum(1) / x.shape[1]).reshape(target.shape)
    return _reduce(xp, losses.astype(input.dtype, copy=False), reduction)


def _multi_margin_grad(grad, input, weight, target, p, margin, reduction):
    shape = input._data.shape
    x = input.reshape(-1, shape[-1] if shape else 1)
    tgt = target.reshape(-1)
    n, c = x._data.shape
    h = _multi_margin_terms(x, make(tgt), p, margin)
    others = np.ones((n, c), bool)
    others[np.arange(n), tgt] = False
    active = make(((h._data > 0) & others).astype(x._data.dtype))
    coef = active if p == 1 else 2 * h * active
    if weight is not None:
        coef = coef * weight[make(tgt)].unsqueeze(1)
    coef = coef / c
    onehot = make((~others).astype(x._data.dtype))
    local = coef - onehot * coef.sum(1, keepdim=True)
    spread = _spread(grad, target.shape, reduction)
    return (local * spread.reshape(-1, 1)).reshape(shape)


MULTI_MARGIN_LOSS = defop(
    "multi_margin_loss", node="MultiMarginLossBackward0", nin=2, kind=KEEP, promote=(0,),
    save=(0, 1), forward=_multi_margin, backward=(_multi_margin_grad, None))


def _multilabel_terms(x, target):
    """The hinge of every (target class j, non-target class i) pair, (N, S, C), zero where
    j is past the target list's end or i is a target class."""
    n, c = x.shape
    listed = np.cumprod(target >= 0, axis=1).astype(bool)  # targets before the first -1
    safe = np.where(listed, target, 0)
    is_target = np.zeros((n, c), bool)
    rows = np.broadcast_to(np.arange(n)[:, None], safe.shape)
    is_target[rows[listed], safe[listed]] = True
    scores = np.take_along_axis(x, safe, 1)
    hinge = np.maximum(1 - scores[:, :, None] + x[:, None, :], 0)
    keep = listed[:, :, None] & ~is_target[:, None, :]
    return hinge * keep, keep, safe


def _multilabel_margin(xp, input, target, reduction):
    batched = input.ndim > 1
    x = input if batched else input[None]
    hinge, _, _ = _multilabel_terms(x, target if batched else target[None])
    losses = hinge.sum((1, 2)) / x.shape[1]
    if not batched:
        losses = losses[0]
    return _reduce(xp, losses.astype(input.dtype, copy=False), reduction)


def _multilabel_margin_grad(grad, input, target, reduction):
    data = input._data
    batched = data.ndim > 1
    x = data if batched else data[None]
    hinge, keep, safe = _multilabel_terms(x, target if batched else target[None])
    active = ((hinge > 0) & keep).astype(x.dtype) / x.shape[1]
    coef = active.sum(1)
    rows = np.broadcast_to(np.arange(x.shape[0])[:, None], safe.shape)
    np.add.at(coef, (rows, safe), -active.sum(2))
    spread = _spread(grad, (x.shape[0],) if batched else (), reduction)
    out = make(coef) * spread.reshape(-1, 1)
    return out if batched else out[0]


MULTILABEL_MARGIN_LOSS = defop(
    "multilabel_margin_loss", node="MultilabelMarginLossBackward0", kind=KEEP, save=(0,),
    forward=_multilabel_margin, backward=_multilabel_margin_grad)


# ---- connectionist temporal classification ----------------------------------------------


def _logsumexp3(a, b, c):
    top = np.maximum(np.maximum(a, b), c)
    finite = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - finite) + np.exp(b - finite) + np.exp(c - finite)) + finite


def _ctc_setup(log_probs, targets, target_lengths, blank):
    n = log_probs.shape[1]
    longest = targets.shape[1] if targets.size else 0
    s = 2 * longest + 1
    labels = np.full((n, s), blank, np.int64)
    labels[:, 1::2] = targets[:, :longest]
    pos = np.arange(s)
    valid = pos[None, :] < (2 * target_lengths[:, None] + 1)
    # a label may be reached by skipping the blank before it unless it repeats the previous
    # one; as torch, a target equal to the blank is compared like any other label (and a
    # blank position never skips, as the one two before it is a blank too)
    skip = np.zeros((n, s), bool)
    skip[:, 2:] = labels[:, 2:] != labels[:, :-2]
    return labels, valid, skip


def _ctc_forward(xp, log_probs, targets, input_lengths, target_lengths, blank,
                 zero_infinity):
    t_max, n, _ = log_probs.shape
    labels, valid, skip = _ctc_setup(log_probs, targets, target_lengths, blank)
    s = labels.shape[1]
    emit = np.take_along_axis(log_probs, np.broadcast_to(labels[None], (t_max, n, s)), 2)
    alpha = np.full((t_max, n, s), -np.inf, log_probs.dtype)
    if t_max:
        alpha[0, :, :2] = emit[0, :, :2]
        alpha[0] = np.where(valid, alpha[0], -np.inf)
    none = np.full((n, 1), -np.inf, log_probs.dtype)
    for t in range(1, t_max):
        prev = alpha[t - 1]
        one = np.concatenate([none, prev[:, :-1]], 1)
        two = np.where(skip, np.concatenate([none, none, prev[:, :-2]], 1), -np.inf)
        alpha[t] = np.where(valid, _logsumexp3(prev, one, two) + emit[t], -np.inf)
    last = np.clip(input_lengths - 1, 0, None)
    final = alpha[last, np.arange(n)]
    end = 2 * target_lengths
    rows = np.arange(n)
    with np.errstate(divide="ignore"):
        end_blank = final[rows, end]
        end_label = np.where(target_lengths > 0, final[rows, np.maximum(end - 1, 0)], -np.inf)
        nll = -np.logaddexp(end_blank, end_label)
    nll = np.where(input_lengths > 0, nll, np.where(target_lengths > 0, np.inf, 0))
    return nll.astype(log_probs.dtype), alpha


def _ctc_grad(grads, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity,
              result):
    lp = log_probs._data
    t_max, n, c = lp.shape
    nll = result[0]._data
    alpha = result[1]._data
    labels, valid, skip = _ctc_setup(lp, targets, target_lengths, blank)
    s = labels.shape[1]
    emit = np.take_along_axis(lp, np.broadcast_to(labels[None], (t_max, n, s)), 2)
    beta = np.full((t_max, n, s), -np.inf, lp.dtype)
    rows = np.arange(n)
    end = 2 * target_lengths
    start = np.full((n, s), -np.inf, lp.dtype)
    start[rows, end] = 0
    start[rows, np.maximum(end - 1, 0)] = np.where(target_lengths > 0, 0, start[
        rows, np.maximum(end - 1, 0)])
    none = np.full((n, 1), -np.inf, lp.dtype)
    # skipping back from label s to s + 2 is allowed where s + 2 could skip forward to s
    skip_back = np.concatenate([skip[:, 2:], np.zeros((n, 2), bool)], 1)
    for t in range(t_max - 1, -1, -1):
        is_last = (input_lengths - 1 == t)[:, None]
        if t + 1 < t_max:
            nxt = beta[t + 1]
            one = np.concatenate([nxt[:, 1:], none], 1)
            two = np.where(skip_back, np.concatenate([nxt[:, 2:], none, none], 1), -np.inf)
            carried = _logsumexp3(nxt, one, two)
        else:
            carried = np.full((n, s), -np.inf, lp.dtype)
        step = np.where(is_last, start, carried) + emit[t]
        beta[t] = np.where(valid & (t < input_lengths)[:, None], step, -np.inf)
    both = alpha + beta
    top = np.max(both, axis=2, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    onehot = (labels[:, :, None] == np.arange(c)).astype(lp.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        summed = np.einsum("tns,nsc->tnc", np.exp(both - top), onehot)
        log_ab = np.log(summed) + top
        coef = np.exp(lp) - np.exp(log_ab + nll[None, :, None] - lp)
    alive = (np.arange(t_max)[:, None] < input_lengths[None, :])[:, :, None]
    coef = np.where(alive, coef, 0)
    if zero_infinity:
        coef = np.where(np.isinf(nll)[None, :, None], 0, coef)
    return make(coef.astype(lp.dtype)) * grads[0].reshape(1, n, 1)


CTC_LOSS = defop("ctc_loss", node="CtcLossBackward0", kind=KEEP, multi=1, save=(0, "result"),
                 forward=_ctc_forward, backward=_ctc_grad)
