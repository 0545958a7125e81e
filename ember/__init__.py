"""ember: a PyTorch-compatible tensor library with automatic differentiation, on NumPy.

``import ember as torch``: tensors, autograd and printing behave as torch's do.
"""
from ember import _allocator

_allocator.set_thresholds()  # before ember allocates: NOTE [Allocator thresholds]

from ember import _dtype  # noqa: E402
from ember._device import device
from ember._dtype import (bfloat16, complex64, complex128, dtype, finfo, float8_e4m3fn,
                          float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu,
                          float16, float32, float64, iinfo,
                          get_default_dtype, int8, int16, int32, int64, promote_types,
                          uint8, uint16, uint32, uint64)
from ember._tensor import Size, Tensor
from ember._ops import creation, pointwise, reduction, shape  # noqa: F401 - attach methods
from ember._ops import indexing  # noqa: F401 - after shape: its __setitem__
from ember._ops import inplace  # noqa: F401 - after the tables: their in-place forms
from ember._ops.indexing import *  # noqa: F403 - gather, scatter, masked_fill, ...
from ember._ops._promote import result_type
from ember._ops.creation import (arange, as_tensor, clone, empty, empty_like, eye, from_numpy,
                                 full, full_like, linspace, ones, ones_like, tensor, zeros,
                                 zeros_like)
from ember._ops.linalg import *  # noqa: F403 - matmul, einsum, addmm, ... (see __all__)
inplace.attach_inplace()  # again: the in-place forms of linalg's ops (addmm_, ...)
from ember._ops.pointwise import *  # noqa: F403 - torch.abs, torch.add, ... (see __all__)
from ember._ops.random import (Generator, bernoulli, default_generator, get_rng_state,
                               initial_seed, manual_seed, multinomial, normal, poisson, rand,
                               rand_like, randint, randint_like, randn, randn_like, randperm, seed,
                               set_rng_state)
from ember._ops.gamma_sampling import (_dirichlet_grad, _sample_dirichlet, _standard_gamma,
                                       _standard_gamma_grad)
from ember._ops.reduction import (all, amax, amin, any, argmax, argmin, argsort, bincount,
                                  count_nonzero, cummax, cummin, cumprod, cumsum, histc,
                                  kthvalue, logsumexp, max, mean, median, min, nanmean, nansum,
                                  norm, prod, return_types, sort, std, std_mean, sum, topk,
                                  unique, var, var_mean)
from ember._ops.reduction import (aminmax, dist, log_softmax, logcumsumexp, mode, msort,
                                  nanmedian, softmax)
from ember._ops.shape import *  # noqa: F403 - reshape, cat, split, flip, ...
from ember._tensor_str import set_printoptions
from ember import autograd, func, linalg, special
from ember._ops.linalg import _matrix_power_top as matrix_power
from ember._ops.linalg import _det_top as det
from ember._ops.linalg import _slogdet_top as slogdet
from ember.autograd import (enable_grad, inference_mode, is_anomaly_check_nan_enabled,
                            is_anomaly_enabled, is_grad_enabled, is_inference_mode_enabled,
                            no_grad, set_grad_enabled)

bool = _dtype.bool_  # noqa: A001 - torch's name
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128

__version__ = "0.1.0"  # made a TorchVersion below, as torch.__version__ is

# torch's constants: Python floats (math's), and None for indexing
from math import e, inf, nan, pi  # noqa: E402

newaxis = None


def is_floating_point(input: Tensor) -> bool:
    """Mirrors ``torch.is_floating_point``."""
    try:
        return input.is_floating_point()
    except AttributeError as error:
        _refuse_non_tensor("is_floating_point", error, input, "input")
        raise


def numel(input: Tensor) -> int:
    """Mirrors ``torch.numel``."""
    try:
        return input.numel()
    except AttributeError as error:
        _refuse_non_tensor("numel", error, input, "input")
        raise

# ---- more of torch's namespace: factories, shape helpers, runtime settings ---------------
from ember._ops.creation import logspace, scalar_tensor, tril_indices, triu_indices  # noqa: E402
from ember._tensor import refuse_non_tensor as _refuse_non_tensor  # noqa: E402
from ember._runtime import *  # noqa: E402, F403 - typename, set_num_threads, detach, ...
from ember._ops.windows import *  # noqa: E402, F403 - hann_window, kaiser_window, ...
from ember.func import vmap  # noqa: E402 - torch.vmap is torch.func.vmap
from ember._ops.shape import block_diag, cartesian_prod, combinations  # noqa: E402
from ember._ops.reduction import (bucketize, corrcoef, cov, cumulative_trapezoid,  # noqa: E402
                                  diff, isin, logdet, nanquantile, quantile, renorm,
                                  searchsorted, trapezoid, trapz, unravel_index)
from ember._ops.creation_more import *  # noqa: E402, F403 - asarray, frombuffer, ...
from ember._ops.linalg_decomp import *  # noqa: E402, F403 - lu, lu_solve, geqrf, ...
from ember._ops.linalg_more import *  # noqa: E402, F403 - cholesky_solve, triangular_solve, ...
# torch.matrix_rank is the removed function (it raises), torch.linalg.matrix_rank the real one
from ember._ops.linalg_more import _removed_matrix_rank as matrix_rank  # noqa: E402
from ember._ops.special_more import *  # noqa: E402, F403 - igamma, mvlgamma, ...
from ember._ops.misc_ops import *  # noqa: E402, F403 - addr, put, index_reduce, ...
from ember._memory_format import *  # noqa: E402, F403 - channels_last, contiguous_format, ...
legacy_contiguous_format = contiguous_format  # noqa: F405 - torch's alias, the same object
from ember._tensor_attrs import *  # noqa: E402, F403 - layouts, storages, Tensor attributes
from ember._ops.out import install as _install_out  # noqa: E402

# torch's ``out=`` keyword for every function that takes it in torch (see ember/_ops/out.py)
_install_out(globals())
del _install_out

# Imported above for what they attach to Tensor; torch's namespace has no such names.
del creation, indexing, inplace, pointwise, reduction, shape

# ---- torch's legacy tensor types and public class names --------------------------------
from ember._legacy import CPU_TYPES as _CPU_TYPES  # noqa: E402

BFloat16Tensor = _CPU_TYPES["BFloat16Tensor"]
BoolTensor = _CPU_TYPES["BoolTensor"]
ByteTensor = _CPU_TYPES["ByteTensor"]
CharTensor = _CPU_TYPES["CharTensor"]
DoubleTensor = _CPU_TYPES["DoubleTensor"]
FloatTensor = _CPU_TYPES["FloatTensor"]
HalfTensor = _CPU_TYPES["HalfTensor"]
IntTensor = _CPU_TYPES["IntTensor"]
LongTensor = _CPU_TYPES["LongTensor"]
ShortTensor = _CPU_TYPES["ShortTensor"]
del _CPU_TYPES
Generator.__module__ = "ember"  # printed as ``<class 'ember.Generator'>``

# Subpackages a plain tensor program does not use load on first access, so that they cost
# ``import ember`` nothing.
_LAZY_SUBMODULES = ("nn", "optim", "cuda", "backends", "accelerator", "mps", "xpu", "cpu",
                    "testing", "amp", "profiler", "distributed",
                    "functional", "utils", "fft", "distributions", "random", "multiprocessing",
                    "version", "torch_version", "storage", "_dynamo")


# torch's top-level names of neural-network ops (``torch.conv2d``, ``torch.dropout``, ...):
# they need ember.nn, so they resolve on first access too (see ember/_aten_nn.py).
_LAZY_NN_FUNCTIONS = frozenset((
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_tbc", "prelu", "selu_", "celu_", "rrelu_", "threshold_", "hardshrink", "bilinear",
    "cosine_similarity", "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "adaptive_avg_pool1d", "avg_pool1d",
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "embedding",
    "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_dropout",
    "feature_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "selu", "celu",
    "rrelu", "threshold", "adaptive_max_pool1d", "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "kl_div", "binary_cross_entropy_with_logits",
    "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "poisson_nll_loss",
    "triplet_margin_loss", "ctc_loss", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator", "constant_pad_nd", "lstm", "gru", "rnn_tanh", "rnn_relu",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "native_batch_norm",
    "native_layer_norm", "native_group_norm", "native_dropout", "convolution",
    "embedding_renorm_", "embedding_bag", "batch_norm_stats",
    "batch_norm_elemt", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
    "batch_norm_backward_reduce", "batch_norm_backward_elemt", "batch_norm_update_stats",
    "segment_reduce", "binomial", "cond", "while_loop",
))


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f"ember.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_NN_FUNCTIONS:
        from ember._aten_nn import resolve

        function = globals()[name] = resolve(name)
        return function
    if name == "GradScaler":  # torch.GradScaler is torch.amp.GradScaler
        from ember.amp import GradScaler

        globals()[name] = GradScaler
        return GradScaler
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


# Autocast's state and context manager (ember.amp and ember.cpu.amp hold the same objects).
from ember._autocast import (autocast, autocast_decrement_nesting,  # noqa: E402
                             autocast_increment_nesting, clear_autocast_cache, get_autocast_dtype,
                             is_autocast_cache_enabled, is_autocast_enabled,
                             set_autocast_cache_enabled, set_autocast_dtype, set_autocast_enabled)
from ember._autocast import DEPRECATED as _DEPRECATED_AUTOCAST  # noqa: E402

globals().update(_DEPRECATED_AUTOCAST)  # is_autocast_cpu_enabled, get_autocast_gpu_dtype, ...
del _DEPRECATED_AUTOCAST


def _shared_memory_method(name: str):
    # Shared memory needs mmap and a scan of live objects (ember/_shared_memory.py): loaded
    # on the first call, not at import.
    def method(self):
        from ember import _shared_memory

        return getattr(_shared_memory, name)(self)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Mirrors ``Tensor.{name}``; see ``ember._shared_memory.{name}``."
    return method


Tensor.share_memory_ = _shared_memory_method("share_memory_")
Tensor.is_shared = _shared_memory_method("is_shared")


# ``stft``/``istft`` live with the transforms in ember._ops.fft, which loads on first use;
# importing it attaches the Tensor methods in place of these.
def stft(input: Tensor, n_fft: int, hop_length=None, win_length=None, window=None,
         center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
         onesided=None, return_complex=None, align_to_window=None) -> Tensor:
    """Mirrors ``torch.stft``; see ``ember._ops.fft.stft``."""
    from ember._ops.fft import stft as _stft

    return _stft(input, n_fft, hop_length, win_length, window, center, pad_mode, normalized,
                 onesided, return_complex, align_to_window)


def istft(input: Tensor, n_fft: int, hop_length=None, win_length=None, window=None,
          center: bool = True, normalized: bool = False, onesided=None, length=None,
          return_complex: bool = False) -> Tensor:
    """Mirrors ``torch.istft``; see ``ember._ops.fft.istft``."""
    from ember._ops.fft import istft as _istft

    return _istft(input, n_fft, hop_length, win_length, window, center, normalized, onesided,
                  length, return_complex)


Tensor.stft = stft
Tensor.istft = istft

# ---- checkpoints: ``ember.save`` / ``ember.load`` (torch's file format) ------------------
# ember.serialization pulls in zipfile and pickle machinery; it loads on first use.
_LAZY_SUBMODULES += ("serialization",)


def save(obj, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Mirrors ``torch.save``; see ``ember.serialization.save``."""
    from ember.serialization import save as _save

    _save(obj, f, pickle_protocol, pickle_module=pickle_module,
          _use_new_zipfile_serialization=_use_new_zipfile_serialization)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Mirrors ``torch.load`` (``weights_only=True`` by default); see
    ``ember.serialization.load``."""
    from ember.serialization import load as _load

    return _load(f, map_location, pickle_module, weights_only=weights_only, mmap=mmap,
                 **pickle_load_args)


# ``torch.__version__`` is a string that also compares as a version (ember.torch_version)
from ember.torch_version import TorchVersion as _TorchVersion  # noqa: E402

__version__ = _TorchVersion(__version__)
del _TorchVersion
