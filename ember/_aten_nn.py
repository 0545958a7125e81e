"""torch's top-level names for neural-network ops (``torch.dropout``, ``torch.layer_norm``,
``torch.max_pool2d``, ``torch.lstm``, ...): the ATen signatures that ``torch.<name>`` takes,
which differ from ``torch.nn.functional``'s (no defaults for ``dropout``'s ``p`` and
``train``, reductions as the integers 0 none / 1 mean / 2 sum, ``embedding``'s weight
first, ``grid_sampler``'s modes as integers, ...). Each function hands the call to
``ember.nn.functional`` in its argument order.

The names of ``torch.nn.functional`` that torch re-exports as the same object (``conv2d``,
``prelu``, ``pdist``, ...) are ``ember.nn.functional``'s own functions; ember/__init__.py
resolves both kinds on first access, so ``import ember`` does not load ember.nn.
"""
from __future__ import annotations

import inspect
import math
import warnings

from ember import _dtype
from ember._backend import np
from ember._ops import nn_norm
from ember._ops.registry import KEEP, defop, run
from ember._tensor import Tensor, make
from ember.nn import functional as F
from ember.nn._functional import rnn as _rnn

# ``torch.nn.functional`` functions that are also ``torch.<name>`` (the same object in torch).
SAME_AS_FUNCTIONAL = (
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_tbc", "prelu", "selu_", "celu_", "threshold_", "hardshrink", "bilinear",
    "cosine_similarity", "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "adaptive_avg_pool1d", "avg_pool1d",
)

_REDUCTIONS = ("none", "mean", "sum")
_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")

__all__ = [
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "embedding",
    "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_dropout",
    "feature_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "selu", "celu",
    "rrelu", "rrelu_", "threshold", "adaptive_max_pool1d", "max_pool1d", "max_pool2d",
    "max_pool3d", "max_pool1d_with_indices", "kl_div", "binary_cross_entropy_with_logits",
    "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "poisson_nll_loss",
    "triplet_margin_loss", "ctc_loss", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator", "constant_pad_nd", "lstm", "gru", "rnn_tanh", "rnn_relu",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "native_batch_norm",
    "native_layer_norm", "native_group_norm", "native_dropout", "convolution",
    "embedding_renorm_", "embedding_bag", "batch_norm_stats",
    "batch_norm_elemt", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
    "batch_norm_backward_reduce", "batch_norm_backward_elemt", "batch_norm_update_stats",
    "segment_reduce", "binomial", "cond", "while_loop",
]


# torch's Python binding of these losses defaults ``reduction`` to 0 (no reduction), not to
# the schema's mean: checked against torch 2.13.
def _reduction(reduction: int) -> str:
    return _REDUCTIONS[reduction]


# ---- normalisation ----------------------------------------------------------------------


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
               running_mean: Tensor | None, running_var: Tensor | None, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """Mirrors ``torch.batch_norm`` (ATen order: weight and bias before the running
    statistics, every argument required); ``cudnn_enabled`` selects a GPU library in torch and
    has no effect on the CPU result, as in torch."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                        eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                  running_mean: Tensor | None, running_var: Tensor | None,
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """Mirrors ``torch.instance_norm`` (ATen order, every argument required;
    ``cudnn_enabled`` as in ``batch_norm``)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5,
               cudnn_enable: bool = True) -> Tensor:
    """Mirrors ``torch.layer_norm``; ``cudnn_enable`` as in ``batch_norm``."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5,
               cudnn_enabled: bool = True) -> Tensor:
    """Mirrors ``torch.group_norm``; ``cudnn_enabled`` as in ``batch_norm``."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Mirrors ``torch.rms_norm``."""
    return F.rms_norm(input, normalized_shape, weight, eps)


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Mirrors ``torch.embedding`` (weight first; a negative ``padding_idx`` means none)."""
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       None, 2.0, scale_grad_by_freq, sparse)


# ---- dropout: ``p`` and ``train`` are required at the top level --------------------------


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.dropout``: ``nn.functional.dropout`` with required ``p`` and
    ``train``."""
    return F.dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.dropout_``: ``dropout`` in place."""
    return F.dropout(input, p, train, True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.alpha_dropout``."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.alpha_dropout_``."""
    return F.alpha_dropout(input, p, train, True)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.feature_dropout``: drops whole channels (dimension 1) of an input of
    two or more dimensions, as ``nn.functional.dropout2d`` does for a batched image."""
    from ember.nn._functional.dropout import _check_p, _dropout_impl

    _check_p(p)
    return _dropout_impl(input, p, train, False, feature=True, alpha=False)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.feature_dropout_``."""
    from ember.nn._functional.dropout import _check_p, _dropout_impl

    _check_p(p)
    return _dropout_impl(input, p, train, True, feature=True, alpha=False)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.feature_alpha_dropout``."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.feature_alpha_dropout_``."""
    return F.feature_alpha_dropout(input, p, train, True)


# ---- activations --------------------------------------------------------------------------


def selu(input: Tensor) -> Tensor:
    """Mirrors ``torch.selu``."""
    return F.selu(input)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Mirrors ``torch.celu``."""
    return F.celu(input, alpha)


def _with_generator(generator, fn, *args) -> Tensor:
    """``fn(*args)`` drawing from ``generator``: ember.nn's random functions draw from the
    default generator, so it lends them ``generator``'s state for the call, and each
    generator gets its own state back (``generator`` advanced as torch's would be)."""
    from ember._ops.random import default_generator

    saved = default_generator.get_state()
    default_generator.set_state(generator.get_state())
    try:
        result = fn(*args)
        generator.set_state(default_generator.get_state())
    finally:
        default_generator.set_state(saved)
    return result


def rrelu(input: Tensor, lower: float = 0.125, upper: float = 1.0 / 3,
          training: bool = False, generator=None) -> Tensor:
    """Mirrors ``torch.rrelu``; a ``generator`` draws the training slopes in place of the
    default generator."""
    if generator is None:
        return F.rrelu(input, lower, upper, training)
    return _with_generator(generator, F.rrelu, input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 0.125, upper: float = 1.0 / 3,
           training: bool = False, generator=None) -> Tensor:
    """Mirrors ``torch.rrelu_`` (which, unlike ``nn.functional.rrelu_`` in ember, takes a
    ``generator``)."""
    if generator is None:
        return F.rrelu_(input, lower, upper, training)
    return _with_generator(generator, F.rrelu_, input, lower, upper, training)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """Mirrors ``torch.threshold``."""
    return F.threshold(input, threshold, value)


# ---- pooling: ``stride=[]`` (torch's default) means the kernel size ----------------------


def _stride(stride):
    return None if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else stride


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple:
    """Mirrors ``torch.adaptive_max_pool1d``: returns ``(output, indices)``."""
    return F.adaptive_max_pool1d(input, output_size, True)


def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.max_pool1d``."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False) -> tuple:
    """Mirrors ``torch.max_pool1d_with_indices``: returns ``(output, indices)``."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                        True)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.max_pool2d``."""
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """Mirrors ``torch.max_pool3d``."""
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


# ---- losses: ``reduction`` is 0 (none), 1 (mean) or 2 (sum) ------------------------------


def kl_div(input: Tensor, target: Tensor, reduction: int = 0, *,
           log_target: bool = False) -> Tensor:
    """Mirrors ``torch.kl_div``: unlike ``nn.functional.kl_div`` it does not warn about the
    mean reduction."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(input, target, None, None, _reduction(reduction), log_target)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None,
                                     reduction: int = 0) -> Tensor:
    """Mirrors ``torch.binary_cross_entropy_with_logits``."""
    return F.binary_cross_entropy_with_logits(input, target, weight, None, None,
                                              _reduction(reduction), pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor,
                          margin: float = 0.0, reduction: int = 0) -> Tensor:
    """Mirrors ``torch.cosine_embedding_loss``."""
    return F.cosine_embedding_loss(input1, input2, target, margin, None, None,
                                   _reduction(reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: int = 0) -> Tensor:
    """Mirrors ``torch.hinge_embedding_loss``."""
    return F.hinge_embedding_loss(input, target, margin, None, None, _reduction(reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    """Mirrors ``torch.margin_ranking_loss``."""
    return F.margin_ranking_loss(input1, input2, target, margin, None, None,
                                 _reduction(reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    """Mirrors ``torch.poisson_nll_loss`` (every argument required)."""
    return F.poisson_nll_loss(input, target, log_input, full, None, eps, None,
                              _reduction(reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                        swap: bool = False, reduction: int = 0) -> Tensor:
    """Mirrors ``torch.triplet_margin_loss``."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, None, None,
                                 _reduction(reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: int = 0, zero_infinity: bool = False) -> Tensor:
    """Mirrors ``torch.ctc_loss`` (lengths as tensors or integer lists)."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction(reduction), zero_infinity)


# ---- sampling and padding -----------------------------------------------------------------


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """Mirrors ``torch.grid_sampler``: ``nn.functional.grid_sample`` with the modes as
    integers (interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros, 1 border,
    2 reflection)."""
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode],
                         _PADDING[padding_mode], align_corners)


def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """Mirrors ``torch.grid_sampler_2d``: ``grid_sampler`` of a 4-d input."""
    if input.dim() != 4:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same number of "
                           f"dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """Mirrors ``torch.grid_sampler_3d``: ``grid_sampler`` of a 5-d input."""
    if input.dim() != 5:
        raise RuntimeError(f"grid_sampler(): expected 5D input and grid with same number of "
                           f"dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def affine_grid_generator(theta: Tensor, size, align_corners: bool) -> Tensor:
    """Mirrors ``torch.affine_grid_generator``."""
    return F.affine_grid(theta, list(size), align_corners)


def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    """Mirrors ``torch.constant_pad_nd``: ``nn.functional.pad`` in constant mode."""
    return F.pad(input, list(pad), "constant", value)


# ---- recurrent layers and cells -----------------------------------------------------------


_PADDED = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train",
           "bidirectional", "batch_first")
_PACKED = ("data", "batch_sizes", "hx", "params", "has_biases", "num_layers", "dropout",
           "train", "bidirectional")


def _sequence_arguments(name: str, args: tuple, kwargs: dict) -> tuple:
    """The nine arguments of one of torch's two overloads, given by position or keyword:
    ``(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)`` and, for a packed sequence, ``(data, batch_sizes, hx, params, has_biases,
    num_layers, dropout, train, bidirectional)``; True with the second."""
    packed = "data" in kwargs or "batch_sizes" in kwargs or (
        len(args) > 3 and isinstance(args[3], (list, tuple)))
    names = _PACKED if packed else _PADDED
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise TypeError(f"{name}() received an invalid combination of arguments")
        bound[key] = value
    if len(args) > len(names) or len(bound) != len(names):
        raise TypeError(f"{name}() received an invalid combination of arguments")
    return tuple(bound[n] for n in names), packed


def _sequence(mode: str, name: str, args: tuple, kwargs: dict) -> tuple:
    values, packed = _sequence_arguments(name, args, kwargs)
    if not packed:
        input, hx, params, has_biases, layers, p, train, bidirectional, batch_first = values
        batch_sizes = None
    else:
        input, batch_sizes, hx, params, has_biases, layers, p, train, bidirectional = values
        batch_first = False
        batch_sizes = batch_sizes.tolist()
    hx = tuple(hx) if isinstance(hx, (list, tuple)) else (hx,)
    output, finals = _rnn.rnn(mode, input, hx, list(params), has_biases, layers, p, train,
                              bidirectional, batch_first, batch_sizes)
    return (output,) + finals


def _sequence_function(mode: str, name: str, doc: str):
    def function(*args, **kwargs) -> tuple:
        return _sequence(mode, name, args, kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    # the keywords torch's two overloads accept, for inspect and the keyword audit
    parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for n in _PADDED]
    parameters += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY)
                   for n in ("data", "batch_sizes")]
    function.__signature__ = inspect.Signature(parameters)
    return function


lstm = _sequence_function("LSTM", "lstm", """Mirrors ``torch.lstm``: returns ``(output, h_n,
    c_n)``; ``hx`` is ``[h_0, c_0]`` and ``params`` the flat weight list (``w_ih, w_hh[, b_ih,
    b_hh][, w_hr]`` per layer and direction); the packed overload takes ``data,
    batch_sizes`` in place of ``input``.""")
gru = _sequence_function("GRU", "gru", "Mirrors ``torch.gru``: returns ``(output, h_n)``.")
rnn_tanh = _sequence_function("RNN_TANH", "rnn_tanh",
                              "Mirrors ``torch.rnn_tanh``: returns ``(output, h_n)``.")
rnn_relu = _sequence_function("RNN_RELU", "rnn_relu",
                              "Mirrors ``torch.rnn_relu``: returns ``(output, h_n)``.")


lstm_cell = _rnn.lstm_cell
gru_cell = _rnn.gru_cell
rnn_tanh_cell = _rnn.rnn_tanh_cell
rnn_relu_cell = _rnn.rnn_relu_cell


# ---- ATen forms of normalisation, dropout and convolution --------------------------------


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool,
                      momentum: float, eps: float) -> tuple:
    """Mirrors ``torch.native_batch_norm``: returns ``(output, save_mean, save_invstd)``,
    the batch statistics of each channel in training (the running ones move by
    ``momentum``) and two empty tensors in evaluation. Unlike ``batch_norm`` it accepts a
    single value per channel in training. ember differs where torch 2.13 does not check:
    it refuses a weight, bias or running statistic of the wrong size (torch reads past
    it) and evaluation without running statistics (torch crashes), with ``batch_norm``'s
    errors."""
    from ember.nn._functional.normalization import _check_channels, _update_running

    if input.ndim < 2:
        raise RuntimeError(
            f"Expected 2D or higher input to batch_norm (got {input.ndim}D input)")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_channels(name, t, channels)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither "
                         "be None")
    if not training and running_mean is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    out, mean, invstd, var = run(
        nn_norm.BATCH_NORM, input, weight, bias,
        None if running_mean is None else running_mean._data,
        None if running_var is None else running_var._data, bool(training), float(eps))
    if not training:
        return out, input.new_empty((0,)), input.new_empty((0,))
    if running_mean is not None or running_var is not None:
        count = input.numel() // channels if channels else 0
        _update_running(running_mean, running_var, mean._data, var._data, momentum, count)
    return out, make(mean._data.reshape(-1)), make(invstd._data.reshape(-1))


def native_layer_norm(input: Tensor, normalized_shape, weight: Tensor | None,
                      bias: Tensor | None, eps: float) -> tuple:
    """Mirrors ``torch.native_layer_norm``: returns ``(output, mean, rstd)``, the statistics
    shaped like the input with the normalised dimensions kept as size 1."""
    from ember.nn._functional.normalization import _check_normalized, _normalized_shape

    shape = _normalized_shape("native_layer_norm", normalized_shape)
    _check_normalized(input, shape, weight, bias)
    return run(nn_norm.LAYER_NORM, input, weight, bias, len(shape), float(eps))


def _unless_no_output_grad(formula):
    def guarded(grads, *args):
        return None if grads[0] is None else formula(grads, *args)
    return guarded


def _group_norm_input_grad(grads, input, weight, bias, groups, eps, result):
    """The input gradient of ``native_group_norm``: the output's, plus, as torch's, what
    the gradients of the mean and rstd outputs contribute (d mean / dx = 1 / M, d rstd / dx
    = -rstd**3 (x - mean) / M over a group of M elements). Without a gradient for the
    output torch gives none unless both statistics have one (checked against torch 2.13)."""
    if grads[0] is None and (grads[1] is None or grads[2] is None):
        return None
    shape = tuple(input.shape)
    grouped = input.reshape(shape[0], groups, -1)
    size = grouped.shape[2]
    grad = 0
    if grads[0] is not None:
        grad = nn_norm.GROUP_NORM.backward[0](grads, input, weight, bias, groups, eps, result)
    if grads[1] is None and grads[2] is None:
        return grad
    extra = 0
    if grads[1] is not None:
        extra = extra + grads[1].unsqueeze(-1) / size
    if grads[2] is not None:
        mean = make(result[1]._data)[..., None]
        rstd = make(result[2]._data)[..., None]
        extra = extra - grads[2].unsqueeze(-1) * rstd.pow(3) * (grouped - mean) / size
    return grad + extra.expand(tuple(grouped.shape)).reshape(shape)


# torch's native_group_norm makes its mean and rstd outputs of the node as well
_NATIVE_GROUP_NORM = defop(
    "native_group_norm", node="NativeGroupNormBackward0", nin=3, kind=KEEP, promote=(0,),
    multi=True, save=(0, 1, "result"), forward=nn_norm.GROUP_NORM.forward,
    backward=(_group_norm_input_grad,) + tuple(
        _unless_no_output_grad(f) for f in nn_norm.GROUP_NORM.backward[1:]))


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int,
                      C: int, HxW: int, group: int, eps: float) -> tuple:
    """Mirrors ``torch.native_group_norm``: returns ``(output, mean, rstd)``, the statistics
    of shape ``(N, group)``; the sizes ``N``, ``C``, ``HxW`` must describe the input."""
    if input.numel() != N * C * HxW:
        raise RuntimeError("Expected X.numel() == N * C * HxW to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    if C % group:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={group}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number "
                               f"of channels in input, but got {name} of shape "
                               f"{list(t.shape)} and input of shape {list(input.shape)}")
    return run(_NATIVE_GROUP_NORM, input, weight, bias, int(group), float(eps))


_NATIVE_DROPOUT = defop(
    "native_dropout", node="NativeDropoutBackward0", kind=KEEP, multi=1,
    forward=lambda xp, x, scaled_mask, grad_mask, mask: (x * scaled_mask, mask),
    backward=lambda grads, input, scaled_mask, grad_mask, mask: grads[0] * make(grad_mask))


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple:
    """Mirrors ``torch.native_dropout``: returns ``(output, mask)``, the boolean mask of the
    kept elements; in training (``train`` True or None) the mask is drawn as
    ``nn.functional.dropout`` draws it (NOTE [Dropout masks]) for every ``p``, 0 and 1
    included, and the output is ``input * (mask / (1 - p))``; otherwise the output is a copy
    of the input and the mask all True. The node is ``NativeDropoutBackward0``; as torch's,
    its gradient with ``train=None`` is ``grad * mask``, unscaled."""
    from ember.nn._functional.dropout import _bernoulli_like

    if train is None or train:
        if not input.is_floating_point():
            raise RuntimeError(f"result type Float can't be cast to the desired output type "
                               f"{_dtype.scalar_type_name(input.dtype)}")
        drawn = _bernoulli_like(input, p)._data
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0
        scaled = drawn * np.asarray(scale, drawn.dtype)
        mask = drawn.astype(bool)
        grad_mask = drawn if train is None else scaled
    else:
        scaled = grad_mask = np.ones((), input._data.dtype)
        mask = np.ones(input.shape, bool)
    return run(_NATIVE_DROPOUT, input, scaled, grad_mask, mask)


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride, padding,
                dilation, transposed: bool, output_padding, groups: int) -> Tensor:
    """Mirrors ``torch.convolution``, the kernel under every ``conv*`` function: a batched
    input of 3 to 5 dimensions, the parameters as lists of one value or one per spatial
    dimension; the node is ``ConvolutionBackward0``."""
    from ember._ops.nn_conv import convolution as _convolution
    from ember.nn._functional.conv import _check_common, expand_param

    for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation),
                        ("output_padding", output_padding)):
        if isinstance(value, (int, float, Tensor)):
            position = {"stride": 4, "padding": 5, "dilation": 6, "output_padding": 8}[name]
            raise TypeError(f"convolution(): argument '{name}' (position {position}) must be "
                            f"tuple of ints, not {type(value).__name__}")
    nd = max(input.ndim - 2, 1)
    params = [expand_param(v, nd, n) for n, v in (
        ("stride", stride), ("padding", padding), ("dilation", dilation),
        ("output_padding", output_padding))]
    _check_common(input, weight, bias, params[0], params[1], params[2], int(groups),
                  bool(transposed), params[3])
    return _convolution(input, weight, bias, params[0], params[1], params[2],
                        bool(transposed), params[3], int(groups))


# ---- embeddings ---------------------------------------------------------------------------


def embedding_renorm_(input: Tensor, indices: Tensor, max_norm: float,
                      norm_type: float) -> Tensor:
    """Mirrors ``torch.embedding_renorm_``: the rows of the 2-d ``input`` looked up by
    ``indices`` whose ``norm_type``-norm exceeds ``max_norm`` are scaled in place to
    ``max_norm``; returns ``input``."""
    from ember._ops import nn_sparse

    if input.ndim != 2:
        raise RuntimeError(f"Expected 2-dimensional tensor, but got {input.ndim}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for "
                           f"embedding_renorm_)")
    if indices._data.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"Expected tensor for argument #2 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{indices.type()} instead (while checking arguments for "
                           f"embedding_renorm_)")
    if input.requires_grad and input.is_leaf and _grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    nn_sparse.embedding_renorm_(input, indices._data.reshape(-1), max_norm, norm_type)
    return input


def _grad_enabled() -> bool:
    from ember.autograd import grad_mode

    return grad_mode.state.enabled


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> tuple:
    """Mirrors ``torch.embedding_bag`` (weight first, ``mode`` 0 sum, 1 mean, 2 max):
    returns ``(output, offset2bag, bag_size, max_indices)`` as torch's CPU kernel gives them:
    ``offset2bag`` the bag of each position (empty in sum mode without a ``padding_idx``
    unless the weight is float64),
    ``bag_size`` the kept positions of each bag (zeros in sum mode), ``max_indices`` the row
    that gave each maximum in max mode, else ``bag_size`` (zeros in sum mode)."""
    output = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq,
                             _BAG_MODES[mode], sparse, per_sample_weights,
                             include_last_offset, padding_idx)
    numpy_dtype = np.result_type(indices._data.dtype, offsets._data.dtype)
    positions = indices._data.reshape(-1)
    offset_array = offsets._data.astype(np.int64)
    num_bags = output.shape[0]
    bag = np.minimum(np.searchsorted(offset_array, np.arange(positions.size), side="right") - 1,
                     max(num_bags - 1, 0))
    pad = -1 if padding_idx is None else padding_idx % weight.shape[0]
    kept = positions != pad
    if mode == 0:
        fast = padding_idx is None and weight.dtype is not _dtype.float64
        offset2bag = np.zeros(0, np.int64) if fast else bag
        sizes = np.zeros(num_bags, np.int64)
        return (output, make(offset2bag.astype(numpy_dtype)), make(sizes.astype(numpy_dtype)),
                make(sizes.astype(numpy_dtype)))
    sizes = np.bincount(bag[kept], minlength=num_bags)[:num_bags]
    if mode == 1:
        maxima = sizes
    else:
        maxima = np.zeros((num_bags, weight.shape[1]), np.int64)
        rows = weight._data[positions[kept]]
        bags = bag[kept]
        if rows.shape[0]:
            starts = np.flatnonzero(np.r_[True, bags[1:] != bags[:-1]])
            best = np.maximum.reduceat(rows, starts, axis=0)
            order = np.arange(rows.shape[0])[:, None]
            first = np.where(rows == np.repeat(best, np.diff(np.r_[starts, rows.shape[0]]),
                                               axis=0), order, rows.shape[0])
            maxima[bags[starts]] = positions[kept][np.minimum.reduceat(first, starts, axis=0)]
    return (output, make(bag.astype(numpy_dtype)), make(sizes.astype(numpy_dtype)),
            make(maxima.astype(numpy_dtype)))


# ---- segment_reduce -----------------------------------------------------------------------

_SEGMENT_REDUCTIONS = {"sum": "sum", "prod": "prod", "mean": "mean", "max": "amax",
                       "amax": "amax", "min": "amin", "amin": "amin"}
_SEGMENT_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                   "amin": np.minimum}
_SEGMENT_EMPTY = {"sum": 0.0, "mean": np.nan, "prod": 1.0, "amax": -np.inf, "amin": np.inf}


class _Segments:
    """Where the segments of a ``segment_reduce`` lie in its data seen as ``(rows, rest)``
    rows (the dimensions up to the axis flattened): each segment's first row and row count,
    each row's segment (-1 for a row in none), the size of a row, and the output's shape."""

    __slots__ = ("starts", "counts", "of_row", "rest", "shape")

    def __init__(self, offsets, data_shape: tuple, axis: int):
        rows = data_shape[axis]
        flat = offsets.reshape(-1, offsets.shape[-1]).astype(np.int64)
        shift = (np.arange(flat.shape[0]) * rows)[:, None]
        self.starts = (flat[:, :-1] + shift).reshape(-1)
        self.counts = np.maximum(flat[:, 1:] - flat[:, :-1], 0).reshape(-1)
        total = int(np.prod(data_shape[:axis + 1], dtype=np.int64))
        # +k where segment k starts, -k where it ends, summed along the rows
        marks = np.zeros(total + 1, np.int64)
        ids = np.arange(1, self.starts.size + 1)
        np.add.at(marks, self.starts, ids)
        np.add.at(marks, self.starts + self.counts, -ids)
        self.of_row = np.cumsum(marks[:-1]) - 1
        self.rest = int(np.prod(data_shape[axis + 1:], dtype=np.int64))
        self.shape = tuple(offsets.shape[:-1]) + (flat.shape[1] - 1,) + tuple(
            data_shape[axis + 1:])


def _segment_reduce_forward(xp, x, reduce, segments, initial):
    n = segments.starts.size
    flat = x.reshape(segments.of_row.size, segments.rest)
    # one spare row, so that a segment ending at the last row has a valid end index
    padded = np.concatenate([flat, np.zeros((1, flat.shape[1]), x.dtype)])
    out = np.full((n, flat.shape[1]), _SEGMENT_EMPTY[reduce], x.dtype)
    filled = segments.counts > 0
    if filled.any():
        starts = segments.starts[filled]
        bounds = np.stack([starts, starts + segments.counts[filled]], 1).reshape(-1)
        out[filled] = _SEGMENT_UFUNCS[reduce].reduceat(padded, bounds, axis=0)[::2]
    if reduce == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            if initial is not None:
                out = np.where(filled[:, None], out + np.asarray(initial, x.dtype), initial)
            out[filled] /= segments.counts[filled, None].astype(x.dtype)
    elif initial is not None:
        value = np.asarray(initial, x.dtype)
        out = {"sum": np.add, "prod": np.multiply, "amax": np.maximum,
               "amin": np.minimum}[reduce](out, value)
    return out.astype(x.dtype, copy=False).reshape(segments.shape)


def _segment_reduce_grad(grad, data, reduce, segments, initial, result):
    from ember._ops.creation import zeros

    rows = segments.of_row
    inside = rows >= 0
    index = make(np.where(inside, rows, 0))
    n = segments.starts.size
    spread = grad.reshape(n, segments.rest)
    dtype = data._data.dtype
    if reduce == "mean":
        spread = spread / make(np.maximum(segments.counts, 1).astype(dtype)[:, None])
    per_row = spread.index_select(0, index) * make(inside.astype(dtype)[:, None])
    x = data._data.reshape(rows.size, segments.rest)
    if reduce in ("amax", "amin"):
        chosen = (x == result._data.reshape(n, segments.rest)[np.where(inside, rows, 0)]) \
            & inside[:, None]
        ties = zeros((n, x.shape[1]), dtype=grad.dtype).index_add(
            0, make(np.where(inside, rows, 0)), make(chosen.astype(dtype)))._data
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(chosen, 1.0 / ties[np.where(inside, rows, 0)], 0.0)
        per_row = per_row * make(share.astype(dtype))
    elif reduce == "prod":
        per_row = per_row * make(_others_product(x, rows, inside, segments, initial))
    return per_row.reshape(data.shape)


def _others_product(x, rows, inside, segments, initial):
    """For each element of a segment, the product of the segment's other elements (and
    ``initial``): 0 where two or more of them are 0."""
    n = segments.starts.size
    safe = np.where(inside, rows, 0)
    zero = (x == 0) & inside[:, None]
    zeros = np.zeros((n, x.shape[1]), np.int64)
    np.add.at(zeros, safe[inside], zero[inside].astype(np.int64))
    nonzero = np.ones((n, x.shape[1]), x.dtype)
    np.multiply.at(nonzero, safe[inside], np.where(zero, 1, x)[inside])
    if initial is not None:
        nonzero = nonzero * np.asarray(initial, x.dtype)
    count = zeros[safe]
    product = nonzero[safe]
    with np.errstate(divide="ignore", invalid="ignore"):
        others = np.where(zero, np.where(count == 1, product, 0),
                          np.where(count == 0, product / np.where(zero, 1, x), 0))
    return others.astype(x.dtype, copy=False)


_SEGMENT_REDUCE = defop(
    "segment_reduce", node="SegmentReduceBackward0", kind=KEEP, save=(0, "result"),
    forward=_segment_reduce_forward, backward=_segment_reduce_grad)


def segment_reduce(data: Tensor, reduce: str, *, lengths: Tensor | None = None,
                   indices: Tensor | None = None, offsets: Tensor | None = None,
                   axis: int = 0, unsafe: bool = False, initial=None) -> Tensor:
    """Mirrors ``torch.segment_reduce``: reduces the segments of ``data`` along ``axis``
    that ``lengths`` (or ``offsets``, the start of each segment and the end of the last)
    cut, with ``reduce`` one of "sum", "prod", "mean", "max"/"amax", "min"/"amin";
    ``lengths`` has the data's dimensions before ``axis`` and the segments last. An empty
    segment gives ``initial`` or the reduction's identity (nan for "mean"); ``initial``
    also joins every other segment. ``unsafe`` skips the check that the lengths cover the
    axis. ``indices`` is refused, as in torch."""
    if reduce not in _SEGMENT_REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce}")
    reduce = _SEGMENT_REDUCTIONS[reduce]
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    axis = _normalise_dim(axis, data.ndim)
    given = lengths if lengths is not None else offsets
    if given.ndim - 1 != axis:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of "
                           f"lengths but got {axis}.")
    if not data.is_floating_point():
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(data.dtype)}'")
    if given._data.dtype not in (np.int64, np.int32):
        kernel = "lengths" if lengths is not None else "offsets"
        raise NotImplementedError(f'"_segment_reduce_{kernel}_cpu_kernel1" not implemented '
                                  f"for '{_dtype.scalar_type_name(given.dtype)}'")
    if lengths is not None:
        counts = lengths._data.astype(np.int64)
        if (counts < 0).any():
            raise RuntimeError("lengths contains negative value!")
        if not unsafe and (counts.sum(-1) != data.shape[axis]).any():
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to "
                               "sum to data.size(lengths.dim()-1) when !unsafe.")
        ends = np.cumsum(counts, -1)
        bounds = np.concatenate([np.zeros(ends.shape[:-1] + (1,), np.int64), ends], -1)
    else:
        bounds = offsets._data.astype(np.int64)
    return run(_SEGMENT_REDUCE, data, reduce, _Segments(bounds, tuple(data.shape), axis),
               None if initial is None else float(initial))


def _normalise_dim(dim: int, ndim: int) -> int:
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-size}, "
                         f"{size - 1}], but got {dim})")
    return dim % size


# ---- SyncBatchNorm's kernels ----------------------------------------------------------
# NOTE [Batch norm statistics kernels]: torch has these only for its GPU (its CPU build
# raises NotImplementedError); ember computes what they compute, in the input's dtype, on
# arrays: per-channel statistics over every dimension but 1, no graph recorded.


def _channel_axes(x) -> tuple:
    return (0,) + tuple(range(2, x.ndim))


def _channel_shape(x) -> tuple:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm_stats(input: Tensor, eps: float) -> tuple:
    """Mirrors ``torch.batch_norm_stats``: ``(mean, invstd)`` of each channel, invstd
    ``1 / sqrt(biased variance + eps)`` (see NOTE [Batch norm statistics kernels])."""
    x = input._data
    mean, invstd, _, _ = nn_norm._moments(np, x, _channel_axes(x), eps)
    return make(mean.reshape(-1).astype(x.dtype)), make(invstd.reshape(-1).astype(x.dtype))


def batch_norm_elemt(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                     mean: Tensor, invstd: Tensor, eps: float) -> Tensor:
    """Mirrors ``torch.batch_norm_elemt``: ``(input - mean) * invstd * weight + bias`` per
    channel; ``eps`` is unused, as in torch (see NOTE [Batch norm statistics kernels])."""
    x = input._data
    shape = _channel_shape(x)
    centred = x - mean._data.reshape(shape).astype(x.dtype)
    out = nn_norm._affine(np, centred, invstd._data.reshape(shape).astype(x.dtype),
                          None if weight is None else weight._data,
                          None if bias is None else bias._data, shape)
    return make(out.astype(x.dtype, copy=False))


def batch_norm_gather_stats_with_counts(input: Tensor, mean: Tensor, invstd: Tensor,
                                        running_mean: Tensor | None,
                                        running_var: Tensor | None, momentum: float,
                                        eps: float, counts: Tensor) -> tuple:
    """Mirrors ``torch.batch_norm_gather_stats_with_counts``: combines the per-process
    ``mean`` and ``invstd`` (one row per process) of ``counts`` elements each into the
    global ``(mean, invstd)``, and moves the running statistics (the variance unbiased) by
    ``momentum`` (see NOTE [Batch norm statistics kernels])."""
    from ember.nn._functional.normalization import _write

    dtype = input._data.dtype
    n = counts._data.astype(np.float64).reshape(-1, 1)
    means = mean._data.astype(np.float64)
    variances = 1.0 / np.square(invstd._data.astype(np.float64)) - eps
    total = n.sum()
    global_mean = (n * means).sum(0) / total
    global_var = (n * (variances + np.square(means - global_mean))).sum(0) / total
    if running_mean is not None:
        _write(running_mean, (1 - momentum) * running_mean._data + momentum * global_mean)
    if running_var is not None:
        unbiased = global_var * total / (total - 1)
        _write(running_var, (1 - momentum) * running_var._data + momentum * unbiased)
    return (make(global_mean.astype(dtype)),
            make((1.0 / np.sqrt(global_var + eps)).astype(dtype)))


def batch_norm_gather_stats(input: Tensor, mean: Tensor, invstd: Tensor,
                            running_mean: Tensor | None, running_var: Tensor | None,
                            momentum: float, eps: float, count: int) -> tuple:
    """Mirrors ``torch.batch_norm_gather_stats``: ``batch_norm_gather_stats_with_counts``
    with ``count`` elements behind every row."""
    counts = make(np.full(mean.shape[0], float(count)))
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var,
                                               momentum, eps, counts)


def batch_norm_backward_reduce(grad_out: Tensor, input: Tensor, mean: Tensor, invstd: Tensor,
                               weight: Tensor | None, input_g: bool, weight_g: bool,
                               bias_g: bool) -> tuple:
    """Mirrors ``torch.batch_norm_backward_reduce``: ``(sum_dy, sum_dy_xmu, grad_weight,
    grad_bias)`` per channel, the sums of ``grad_out`` and of ``grad_out * (input - mean)``,
    ``grad_weight = sum_dy_xmu * invstd`` and ``grad_bias = sum_dy``; each is None where its
    flag is False (the sums go with ``input_g``; see NOTE [Batch norm statistics
    kernels])."""
    x = input._data
    g = grad_out._data
    axes = _channel_axes(x)
    shape = _channel_shape(x)
    sum_dy = g.sum(axes)
    sum_dy_xmu = (g * (x - mean._data.reshape(shape).astype(x.dtype))).sum(axes)
    grad_weight = sum_dy_xmu * invstd._data.astype(x.dtype)
    return (make(sum_dy) if input_g else None, make(sum_dy_xmu) if input_g else None,
            make(grad_weight) if weight_g and weight is not None else None,
            make(sum_dy.copy()) if bias_g else None)


def batch_norm_backward_elemt(grad_out: Tensor, input: Tensor, mean: Tensor, invstd: Tensor,
                              weight: Tensor | None, sum_dy: Tensor, sum_dy_xmu: Tensor,
                              count: Tensor) -> Tensor:
    """Mirrors ``torch.batch_norm_backward_elemt``: the input gradient ``(grad_out - sum_dy /
    N - (input - mean) * invstd**2 * sum_dy_xmu / N) * invstd * weight``, ``N`` the sum of
    ``count`` (see NOTE [Batch norm statistics kernels])."""
    x = input._data
    shape = _channel_shape(x)
    total = count._data.astype(np.float64).sum()
    istd = invstd._data.reshape(shape).astype(x.dtype)
    mean_dy = (sum_dy._data / total).reshape(shape).astype(x.dtype)
    mean_dy_xmu = (sum_dy_xmu._data / total).reshape(shape).astype(x.dtype)
    out = grad_out._data - mean_dy
    out -= (x - mean._data.reshape(shape).astype(x.dtype)) * (istd * istd * mean_dy_xmu)
    scale = istd if weight is None else istd * weight._data.reshape(shape).astype(x.dtype)
    out *= scale
    return make(out.astype(x.dtype, copy=False))


def batch_norm_update_stats(input: Tensor, running_mean: Tensor | None,
                            running_var: Tensor | None, momentum: float) -> tuple:
    """Mirrors ``torch.batch_norm_update_stats``: ``(mean, var)`` of each channel, the
    biased variance, and the running statistics moved by ``momentum`` (the variance
    unbiased). ember records no graph: torch's node only raises that its derivative is not
    implemented."""
    from ember.nn._functional.normalization import _update_running

    x = input._data
    mean, _, var, _ = nn_norm._moments(np, x, _channel_axes(x), 0.0)
    mean = mean.reshape(-1).astype(x.dtype)
    var = var.reshape(-1).astype(x.dtype)
    if running_mean is not None or running_var is not None:
        count = x.size // x.shape[1] if x.shape[1] else 0
        _update_running(running_mean, running_var, mean, var, momentum, count)
    return make(mean), make(var)


# ---- binomial -----------------------------------------------------------------------------

# NOTE [Binomial sampling]: torch's CPU sampler, learnt from its draws (torch 2.13): element
# after element in memory order, each from float64 uniforms of the generator; a count or
# probability of 0 gives 0 and a probability of 1 the count, without drawing. With ``q`` the
# smaller of ``p`` and ``1 - p`` (the sample counts failures when ``p > 1/2``), ``n q < 10``
# sums geometric waiting times ``ceil(log(u) / log(1 - q))`` until they pass ``n`` (the number
# of whole ones is the sample); from 10 on it is Hormann's transformed rejection (BTRS,
# "The generation of binomial random variates", 1993), one pair of uniforms a try.
_LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


def _stirling_tail(k: float) -> float:
    """``log(k!) - (k + 1/2) log(k + 1) + (k + 1) - log(2 pi) / 2``: from its series from
    10 on, exactly below (BTRS's table)."""
    if k <= 9:
        return math.lgamma(k + 1) - ((k + 0.5) * math.log(k + 1) - (k + 1) + _LOG_2PI_HALF)
    square = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / square) / square) / (k + 1)


def _binomial_inversion(draw, count: float, prob: float) -> float:
    log_q = math.log1p(-prob)
    total = 0.0
    successes = 0.0
    while True:
        total += math.ceil(math.log(draw()) / log_q)
        if total > count:
            return successes
        successes += 1


def _binomial_btrs(draw, count: float, prob: float) -> float:
    spread = math.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * spread
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * spread
    m = math.floor((count + 1) * prob)
    while True:
        u = draw() - 0.5
        v = draw()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + c)
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
                 + (count + 1) * math.log((count - m + 1) / (count - k + 1))
                 + (k + 0.5) * math.log(r * (count - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(count - m)
                 - _stirling_tail(k) - _stirling_tail(count - k))
        if v <= bound:
            return k


def _binomial_sample(draw, count: float, prob: float) -> float:
    if count <= 0 or prob <= 0:
        return 0.0
    if prob >= 1:
        return count
    if prob <= 0.5:
        sampler = _binomial_btrs if count * prob >= 10 else _binomial_inversion
        return sampler(draw, count, prob)
    if prob > 0.5:
        q = 1 - prob
        sampler = _binomial_btrs if count * q >= 10 else _binomial_inversion
        return count - sampler(draw, count, q)
    return math.nan


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Mirrors ``torch.binomial``: one draw of Binomial(``count``, ``prob``) per element,
    with torch's sampler and generator stream (NOTE [Binomial sampling]); the result has
    ``count``'s dtype. Not differentiable: as torch's, a result from inputs that require grad
    carries the NotImplemented node, whose backward raises."""
    from ember._ops.random import BINOMIAL, _gen, drawn

    if not count.is_floating_point():
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{_dtype.scalar_type_name(count.dtype)}")
    if count.dtype is not prob.dtype:
        raise RuntimeError(f"Found dtype {_dtype.scalar_type_name(prob.dtype)} but expected "
                           f"{_dtype.scalar_type_name(count.dtype)}")
    if count.dtype.itemsize == 2:  # torch's kernel has no half loops
        raise NotImplementedError(f'"binomial_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(count.dtype)}'")
    shape = np.broadcast_shapes(count.shape, prob.shape)
    counts = np.broadcast_to(count._data, shape).astype(np.float64).reshape(-1).tolist()
    probs = np.broadcast_to(prob._data, shape).astype(np.float64).reshape(-1).tolist()
    g = _gen(generator)
    pending: list = []

    def draw() -> float:
        if not pending:
            pending.extend(reversed(g._uniform64(1).tolist()))
        return pending.pop()

    samples = [_binomial_sample(draw, n, p) for n, p in zip(counts, probs)]
    return drawn(np.array(samples, np.float64).astype(count._data.dtype).reshape(shape),
                 BINOMIAL, count, prob)


# ---- control flow -------------------------------------------------------------------------


def _higher_order_op(name: str):
    """An autograd Function (node ``<name>Backward``, torch's) that runs ``fn`` on the
    operands and differentiates through the graph it recorded: the result of torch's
    higher-order ops called with tensors that require gradients."""
    from ember.autograd import grad as _grad
    from ember.autograd import grad_mode
    from ember.autograd.function import Function, once_differentiable

    def forward(ctx, fn, *operands):
        with grad_mode.enable_grad():
            inputs = tuple(o.detach().requires_grad_(o.requires_grad)
                           if isinstance(o, Tensor) else o for o in operands)
            outputs = fn(*inputs)
        single = not isinstance(outputs, (tuple, list))
        outputs = (outputs,) if single else tuple(outputs)
        ctx.graph = (inputs, outputs)
        detached = tuple(o.detach() if isinstance(o, Tensor) else o for o in outputs)
        ctx.mark_non_differentiable(*(o for o in detached if isinstance(o, Tensor) and not (
            o.is_floating_point() or o.is_complex())))
        return detached[0] if single else detached

    @once_differentiable
    def backward(ctx, *grads):
        inputs, outputs = ctx.graph
        wanted = [i for i, o in enumerate(inputs) if isinstance(o, Tensor) and o.requires_grad]
        given = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        found = [None] * len(inputs)
        if wanted and given:
            results = _grad([o for o, _ in given], [inputs[i] for i in wanted],
                            [g for _, g in given], allow_unused=True)
            for i, r in zip(wanted, results):
                found[i] = r
        return (None, *found)

    return type(name, (Function,), {"forward": staticmethod(forward),
                                    "backward": staticmethod(backward), "_composite": True})


_higher_order_ops: dict = {}


def _run_recorded(name: str, fn, operands: tuple):
    """``fn(*operands)`` as torch runs a higher-order op: behind one node of its own when
    gradients are recorded for some operand, else plainly."""
    from ember.autograd import grad_mode

    if not grad_mode.state.enabled or not any(
            isinstance(o, Tensor) and o.requires_grad for o in operands):
        return fn(*operands)
    op = _higher_order_ops.get(name)
    if op is None:
        op = _higher_order_ops[name] = _higher_order_op(name)
    return op.apply(fn, *operands)


def cond(pred, true_fn, false_fn, operands=()):
    """Mirrors ``torch.cond`` run eagerly: ``true_fn(*operands)`` when ``pred`` (a bool or a
    one-element tensor) holds, else ``false_fn(*operands)``. With a Python ``pred`` the
    branch runs plainly; with a tensor one, as in torch, the results come from one
    ``CondAutogradOpBackward`` node when an operand requires a gradient. ember does not
    trace the branches, so it does not raise the errors torch's tracer raises for branches
    it cannot capture."""
    if not isinstance(pred, Tensor):
        return true_fn(*operands) if pred else false_fn(*operands)
    if pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                           f"{pred!r}.")
    branch = true_fn if pred.item() else false_fn
    return _run_recorded("CondAutogradOp", branch, tuple(operands))


def while_loop(cond_fn, body_fn, carried_inputs):
    """Mirrors ``torch.while_loop`` run eagerly: while ``cond_fn(*carried)`` holds,
    ``carried = body_fn(*carried)``; returns the final ``carried`` as a tuple, from one
    ``WhileLoopAutogradOpBackward`` node when a carried tensor requires a gradient. ember
    does not trace the functions, so it does not raise the errors torch's tracer raises
    (such as for Python numbers carried beside tensors that require gradients)."""
    def loop(*carried):
        while bool(cond_fn(*carried)):
            carried = tuple(body_fn(*carried))
        return tuple(carried)

    return _run_recorded("WhileLoopAutogradOp", loop, tuple(carried_inputs))

def resolve(name: str):
    """The function ``ember.<name>`` stands for, or None when this module has none."""
    if name in SAME_AS_FUNCTIONAL:
        return getattr(F, name)
    if name in __all__:
        return globals()[name]
    return None


from ember._ops.out import install as _install_out  # noqa: E402 - torch's out= keyword

_install_out(globals())
del _install_out
