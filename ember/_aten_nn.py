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
import warnings

from ember._tensor import Tensor
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
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
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
