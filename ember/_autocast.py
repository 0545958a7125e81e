"""Autocast: the state behind ``ember.autocast`` / ``ember.amp.autocast`` and the mode that
casts op inputs (NOTE [Op modes] in ``_ops/registry.py``).

Inside an enabled CPU autocast region an op on torch's CPU lists runs as torch runs it:
the lower-precision ops (matrix products, convolutions, ...) cast their floating inputs to
the autocast dtype, the float32 ops (losses, linear algebra, ...) cast lower-precision
inputs up to float32, and the promote ops (cat, stack, index_copy) cast to the widest
input type. Every other op runs on its inputs' dtypes. float64 inputs are never cast. A
cast is a recorded ``to`` op, so gradients flow back through ``ToCopyBackward0`` nodes;
casts of leaf tensors that require grad (weights) are cached for the region, as torch
caches them, so one weight gets one cast node however often it is used.

The state is thread-local, as torch's. ember runs on the CPU, so CUDA autocast is always
disabled (with torch's warning on a machine without CUDA).
"""
from __future__ import annotations

import functools
import inspect
import threading
import warnings

from ember import _dtype
from ember._ops import registry
from ember._tensor import Tensor, c_type_name

# torch's CPU autocast lists (the ops its AutocastCPU dispatch key registers), by the name
# of the op record ember runs. Records that implement a listed op under another name are
# listed under theirs: ``convolution`` (conv1d/2d/3d, conv_transpose*), ``_prelu_kernel``
# (prelu), the CPU attention kernel (scaled_dot_product_attention), the pooling and
# padding records named after their nodes.
LOWER = frozenset((
    "_addmm_activation", "_convolution", "conv1d", "conv2d", "conv3d", "conv_tbc",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "convolution", "addbmm",
    "addmm", "baddbmm", "bmm", "linalg_vecdot", "linear", "matmul", "mm", "mkldnn_rnn_layer",
    "prelu", "_prelu_kernel", "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention_for_cpu", "_native_multi_head_attention"))
FLOAT32 = frozenset((
    "_grid_sampler_2d_cpu_fallback", "_lu_with_info", "adaptive_avg_pool3d",
    "AdaptiveAvgPool3DBackward0", "adaptive_max_pool3d", "AdaptiveMaxPool3DBackward0",
    "avg_pool3d", "AvgPool3DBackward0", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cdist", "_cdist_forward", "_euclidean_dist",
    "cholesky", "cholesky_inverse", "cholesky_solve", "cosine_embedding_loss",
    "cross_entropy_loss", "ctc_loss", "fake_quantize_per_tensor_affine", "fft_fft",
    "fft_fft2", "fft_fftn", "fft_hfft", "fft_ifft", "fft_ifft2", "fft_ifftn", "fft_ihfft",
    "fft_irfft", "fft_irfft2", "fft_irfftn", "fft_rfft", "fft_rfft2", "fft_rfftn",
    "fractional_max_pool2d", "fractional_max_pool3d", "geqrf", "grid_sampler",
    "grid_sampler_2d", "grid_sampler_3d", "hinge_embedding_loss", "huber_loss", "inverse",
    "kl_div", "l1_loss", "linalg_cholesky", "linalg_cholesky_ex", "linalg_cond", "linalg_eig",
    "linalg_eigh", "linalg_eigvals", "linalg_eigvalsh", "linalg_householder_product",
    "linalg_inv", "linalg_inv_ex", "linalg_lstsq", "linalg_matrix_rank", "linalg_qr",
    "linalg_solve", "linalg_solve_ex", "linalg_svd", "linalg_svdvals", "linalg_tensorinv",
    "linalg_tensorsolve", "linalg_pinv", "lu_solve", "margin_ranking_loss", "max_pool3d",
    "MaxPool3DWithIndicesBackward0", "max_unpool2d", "max_unpool3d", "mse_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_margin_loss_forward",
    "nanquantile", "nll_loss", "nll_loss2d", "orgqr", "ormqr", "pinverse",
    "poisson_nll_loss", "polar", "prod", "qr", "quantile", "reflection_pad1d",
    "ReflectionPad1DBackward0", "reflection_pad2d", "ReflectionPad2DBackward0",
    "replication_pad1d", "ReplicationPad1DBackward0", "replication_pad2d",
    "ReplicationPad2DBackward0", "replication_pad3d", "ReplicationPad3DBackward0",
    "smooth_l1_loss", "soft_margin_loss", "stft", "svd", "trace", "triangular_solve",
    "triplet_margin_loss", "view_as_complex"))
PROMOTE = frozenset(("cat", "stack", "index_copy"))

_LOWER, _FLOAT32, _PROMOTE = 1, 2, 3
_POLICY = {**{n: _LOWER for n in LOWER}, **{n: _FLOAT32 for n in FLOAT32},
           **{n: _PROMOTE for n in PROMOTE}}

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                 "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


class _State(threading.local):
    # the per-thread defaults (torch's): off, bfloat16 on the CPU, float16 elsewhere
    def __init__(self) -> None:
        self.enabled: dict = {}
        self.dtype: dict = {}
        self.cache_enabled = True
        self.nesting = 0
        self.cache: dict = {}


state = _State()
_enabled_threads: set = set()
_lock = threading.Lock()


def check_device_type(device_type) -> str:
    """``device_type`` as torch accepts it ("cpu", "cuda", ...), else torch's error."""
    if not isinstance(device_type, str):
        raise ValueError(
            f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(
            "Expected one of " + ", ".join(_DEVICE_TYPES) + " device type at start of device "
            f"string: {device_type}")
    return device_type


def is_enabled(device_type: str) -> bool:
    return state.enabled.get(check_device_type(device_type), False)


def set_enabled(device_type: str, enabled: bool) -> None:
    state.enabled[check_device_type(device_type)] = bool(enabled)
    if device_type == "cpu":
        ident = threading.get_ident()
        with _lock:
            if enabled:
                _enabled_threads.add(ident)
            else:
                _enabled_threads.discard(ident)
            active = _MODE in registry._modes
            if _enabled_threads and not active:
                registry.push_mode(_MODE)
            elif not _enabled_threads and active:
                registry.pop_mode(_MODE)


def get_dtype(device_type: str) -> _dtype.dtype:
    device_type = check_device_type(device_type)
    if device_type == "meta":
        raise RuntimeError("unsupported scalarType")
    default = _dtype.bfloat16 if device_type in ("cpu", "hpu", "xla") else _dtype.float16
    return state.dtype.get(device_type, default)


def set_dtype(device_type: str, dtype: _dtype.dtype) -> None:
    state.dtype[check_device_type(device_type)] = dtype


def clear_cache() -> None:
    state.cache.clear()


def _eligible(t) -> bool:
    return type(t) is Tensor or isinstance(t, Tensor)


class _AutocastMode(registry.OpMode):
    """Casts the inputs of the listed ops while this thread's CPU autocast is on."""

    def run_op(self, op, args):
        st = state
        policy = _POLICY.get(op.name)
        if policy is None or not st.enabled.get("cpu", False):
            return self.proceed(op, args)
        nin = op.nin
        if policy == _LOWER:
            target = get_dtype("cpu")
            casts = (_dtype.float32, _dtype.float16, _dtype.bfloat16)
        elif policy == _FLOAT32:
            target = _dtype.float32
            casts = (_dtype.float16, _dtype.bfloat16)
        else:
            floats = [a.dtype for a in args[:nin]
                      if _eligible(a) and a.dtype.is_floating_point]
            if not floats:
                return self.proceed(op, args)
            target = floats[0]
            for d in floats[1:]:
                target = _dtype.promote_types(target, d)
            casts = (_dtype.float16, _dtype.bfloat16, _dtype.float32)
        args = tuple(self._cast(a, target) if i < nin and _eligible(a) and a.dtype in casts
                     and a.dtype is not target else a for i, a in enumerate(args))
        return self.proceed(op, args)

    def _cast(self, t: Tensor, target: _dtype.dtype) -> Tensor:
        from ember._ops.creation import TO

        st = state
        cacheable = st.cache_enabled and t._requires_grad and t._grad_fn is None
        if cacheable:
            hit = st.cache.get((id(t), target))
            if hit is not None and hit[0] is t:
                return hit[1]
        out = self.proceed(TO, (t, target.np))
        if cacheable:
            st.cache[id(t), target] = (t, out)
        return out


_MODE = _AutocastMode()


# ---- the public API (torch.autocast, torch.is_autocast_enabled, ...) -----------------------


class autocast:
    """Mirrors ``torch.autocast`` (= ``torch.amp.autocast``): a context manager and
    decorator in which ops on torch's autocast lists run in mixed precision.

    Arguments: ``device_type`` ("cpu"; "cuda" is disabled with torch's warning, ember having
    no CUDA device), ``dtype`` (the lower-precision dtype: ``torch.bfloat16``, the CPU
    default, or ``torch.float16``; another dtype disables autocast with torch's warning),
    ``enabled`` (False turns autocast off inside the region, e.g. nested in an enabled one),
    ``cache_enabled`` (cache the casts of weights inside the region; default
    ``is_autocast_cache_enabled()``). Regions nest; leaving one restores the state found on
    entering it.

    Example: ``with ember.autocast("cpu", dtype=ember.bfloat16): y = model(x)``.
    """

    def __init__(self, device_type: str, dtype: _dtype.dtype | None = None,
                 enabled: bool = True, cache_enabled: bool | None = None) -> None:
        check_device_type(device_type)
        self.device = device_type
        self.fast_dtype = get_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = state.cache_enabled if cache_enabled is None else cache_enabled
        if device_type == "cpu" and enabled and self.fast_dtype not in (
                _dtype.bfloat16, _dtype.float16):
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 "
                "currently.", stacklevel=2)
            enabled = False
        elif device_type == "cuda" and enabled:
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                          stacklevel=2)
            enabled = False
        self._enabled = enabled

    def __enter__(self) -> None:
        self.prev = is_enabled(self.device)
        self.prev_dtype = get_dtype(self.device)
        self.prev_cache_enabled = state.cache_enabled
        set_dtype(self.device, self.fast_dtype)
        set_enabled(self.device, self._enabled)
        state.nesting += 1
        state.cache_enabled = self._cache_enabled

    def __exit__(self, *exc) -> bool:
        state.nesting -= 1
        if state.nesting == 0:
            clear_cache()
        set_enabled(self.device, self.prev)
        set_dtype(self.device, self.prev_dtype)
        state.cache_enabled = self.prev_cache_enabled
        return False

    def __call__(self, func):
        if inspect.isclass(func):
            raise RuntimeError("autocast cannot decorate a class")

        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)
        return decorated


autocast.__module__ = "ember.amp.autocast_mode"


def _argument(fname: str, arg: str, value, position: int, kind: type) -> None:
    # torch's parser: a bool must be a bool (not 1), a device type a str
    if type(value) is not kind and not (kind is not bool and isinstance(value, kind)):
        name = {bool: "bool", str: "str", _dtype.dtype: "torch.dtype"}[kind]
        raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be {name}, "
                        f"not {c_type_name(value)}")


def _flag(arg: str, value, kind: type) -> None:
    # the deprecated per-device setters' own check
    if type(value) is not kind and not (kind is not bool and isinstance(value, kind)):
        name = "a bool" if kind is bool else "a torch.dtype"
        raise TypeError(f"{arg} must be {name} (got {c_type_name(value)})")


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Mirrors ``torch.is_autocast_enabled``: this thread's autocast state for
    ``device_type`` (CUDA's when omitted, as in torch)."""
    _argument("is_autocast_enabled", "device_type", device_type, 1, str)
    return is_enabled(device_type)


def set_autocast_enabled(device_type, enabled: bool | None = None) -> None:
    """Mirrors ``torch.set_autocast_enabled(device_type, enabled)`` (and the older
    ``set_autocast_enabled(enabled)``, for CUDA)."""
    if enabled is None and not isinstance(device_type, str):
        _argument("set_autocast_enabled", "enabled", device_type, 1, bool)
        device_type, enabled = "cuda", device_type
    _argument("set_autocast_enabled", "device_type", device_type, 1, str)
    _argument("set_autocast_enabled", "enabled", enabled, 2, bool)
    set_enabled(device_type, enabled)


def get_autocast_dtype(device_type: str) -> _dtype.dtype:
    """Mirrors ``torch.get_autocast_dtype``: the lower-precision dtype of ``device_type``'s
    autocast (``torch.bfloat16`` for the CPU by default)."""
    _argument("get_autocast_dtype", "device_type", device_type, 1, str)
    return get_dtype(device_type)


def set_autocast_dtype(device_type: str, dtype: _dtype.dtype) -> None:
    """Mirrors ``torch.set_autocast_dtype``."""
    _argument("set_autocast_dtype", "device_type", device_type, 1, str)
    _argument("set_autocast_dtype", "dtype", dtype, 2, _dtype.dtype)
    set_dtype(device_type, dtype)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"torch.{old} is deprecated. Please use torch.{new} instead.",
                  DeprecationWarning, stacklevel=3)


def _deprecated_functions(label: str, device: str) -> dict:
    """torch's deprecated per-device forms of the state functions:
    ``is_autocast_<label>_enabled()`` for ``is_autocast_enabled('<device>')`` and so on."""
    def is_enabled_() -> bool:
        _deprecated(f"is_autocast_{label}_enabled()", f"is_autocast_enabled('{device}')")
        return is_enabled(device)

    def set_enabled_(enabled: bool) -> None:
        _deprecated(f"set_autocast_{label}_enabled(enabled)",
                    f"set_autocast_enabled('{device}', enabled)")
        _flag("enabled", enabled, bool)
        set_enabled(device, enabled)

    def get_dtype_() -> _dtype.dtype:
        _deprecated(f"get_autocast_{label}_dtype()", f"get_autocast_dtype('{device}')")
        return get_dtype(device)

    def set_dtype_(dtype: _dtype.dtype) -> None:
        _deprecated(f"set_autocast_{label}_dtype(dtype)",
                    f"set_autocast_dtype('{device}', dtype)")
        _flag("dtype", dtype, _dtype.dtype)
        set_dtype(device, dtype)

    functions = {f"is_autocast_{label}_enabled": is_enabled_,
                 f"set_autocast_{label}_enabled": set_enabled_,
                 f"get_autocast_{label}_dtype": get_dtype_,
                 f"set_autocast_{label}_dtype": set_dtype_}
    for name, function in functions.items():
        function.__name__ = function.__qualname__ = name
        function.__doc__ = f"Mirrors the deprecated ``torch.{name}``."
    return functions


# torch has no is/set_autocast_gpu_enabled: its CUDA forms are the device-less defaults
DEPRECATED = {name: function
              for label, device in (("cpu", "cpu"), ("gpu", "cuda"), ("ipu", "ipu"),
                                    ("xla", "xla"))
              for name, function in _deprecated_functions(label, device).items()
              if name not in ("is_autocast_gpu_enabled", "set_autocast_gpu_enabled")}
globals().update(DEPRECATED)


def is_autocast_cache_enabled() -> bool:
    """Mirrors ``torch.is_autocast_cache_enabled``."""
    return state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Mirrors ``torch.set_autocast_cache_enabled``."""
    _flag("enabled", enabled, bool)
    state.cache_enabled = enabled


def clear_autocast_cache() -> None:
    """Mirrors ``torch.clear_autocast_cache``: forget the cached casts of weights."""
    clear_cache()


def autocast_increment_nesting() -> int:
    """Mirrors ``torch.autocast_increment_nesting``: the new nesting depth."""
    state.nesting += 1
    return state.nesting


def autocast_decrement_nesting() -> int:
    """Mirrors ``torch.autocast_decrement_nesting``: the new nesting depth."""
    state.nesting -= 1
    return state.nesting


def is_autocast_available(device_type: str) -> bool:
    """Mirrors ``torch.amp.is_autocast_available``."""
    try:
        check_device_type(device_type)
    except RuntimeError:
        return False
    return True
