"""torch's runtime settings and small namespace helpers: thread counts, deterministic
algorithms, the default device, ``typename`` and ``torch.detach``.

ember runs its kernels through NumPy on the CPU, so the settings are recorded and reported
back as torch reports them; they change nothing in how ember computes (its ops are already
deterministic).
"""
from __future__ import annotations

import functools
import os
import types
import warnings

from ember import _device
from ember._device import device
from ember._tensor import Tensor

# torch starts with one thread per core this process may run on
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_settings = {"threads": _CORES or 1, "interop": _CORES or 1,
             "deterministic": False, "warn_only": False, "matmul_precision": "highest"}


def get_num_threads() -> int:
    """Mirrors ``torch.get_num_threads``: the number set by ``set_num_threads`` (the CPU
    count until then). ember's NumPy kernels do not read it."""
    return _settings["threads"]


def set_num_threads(int: int) -> None:  # noqa: A002 - torch's argument name
    """Mirrors ``torch.set_num_threads``; refuses a count below 1, as torch does."""
    if int <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _settings["threads"] = int


def get_num_interop_threads() -> int:
    """Mirrors ``torch.get_num_interop_threads``."""
    return _settings["interop"]


def set_num_interop_threads(int: int) -> None:  # noqa: A002 - torch's argument name
    """Mirrors ``torch.set_num_interop_threads``."""
    if int <= 0:
        raise RuntimeError("Expected positive number of threads")
    _settings["interop"] = int


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Mirrors ``torch.use_deterministic_algorithms``. ember's ops are deterministic
    already; the flags are kept for ``are_deterministic_algorithms_enabled``."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must "
                        f"be bool, not {type(mode).__name__}")
    _settings["deterministic"] = mode
    _settings["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Mirrors ``torch.are_deterministic_algorithms_enabled``."""
    return _settings["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Mirrors ``torch.is_deterministic_algorithms_warn_only_enabled``."""
    return _settings["warn_only"]


def get_default_device() -> device:
    """Mirrors ``torch.get_default_device``: the CPU unless ``set_default_device`` chose
    another device (an unindexed accelerator raises torch's error: this build has none)."""
    return _device.default_device()


def set_default_device(device) -> None:  # noqa: F811 - torch's argument name
    """Mirrors ``torch.set_default_device``: factories given no ``device=`` put their
    tensors there (None resets to the CPU). Any device torch can name is accepted, as in
    torch; factories then raise torch's error for one this build lacks."""
    _device.set_default(device)


def typename(obj) -> str:
    """Mirrors ``torch.typename``: a tensor's legacy type name (``torch.FloatTensor``),
    else the object's class as ``module.QualName`` (builtins without the module)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return qualname if module in ("builtins", None) else f"{module}.{qualname}"


def detach(input: Tensor) -> Tensor:
    """Mirrors ``torch.detach``: ``input.detach()``."""
    return input.detach()


_PRECISIONS = ("highest", "high", "medium")


def get_float32_matmul_precision() -> str:
    """Mirrors ``torch.get_float32_matmul_precision``: ``"highest"`` until set."""
    return _settings["matmul_precision"]


def set_float32_matmul_precision(precision: str) -> None:
    """Mirrors ``torch.set_float32_matmul_precision``: ``"highest"``, ``"high"`` or
    ``"medium"`` (anything else warns and changes nothing, as in torch). The setting is
    recorded and read back (``backends.cuda.matmul.allow_tf32`` follows it); ember's
    float32 matmuls are computed in float32 whatever it says, which is what "highest"
    asks for and what the others allow."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _settings["matmul_precision"] = precision


def is_nonzero(input: Tensor) -> bool:
    """Mirrors ``torch.is_nonzero``: the truth of a one-element tensor (torch's
    RuntimeError for none or several elements)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_nonzero(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.__bool__()


def is_storage(obj) -> bool:
    """Mirrors ``torch.is_storage``: ember has no storage objects, so always False."""
    return False


def swap_tensors(t1: Tensor, t2: Tensor) -> None:
    """Mirrors ``torch.utils.swap_tensors``: ``t1`` and ``t2`` exchange everything they are
    (data, dtype, shape, autograd history, ``.grad``, version counter and Python attributes)
    while each keeps its identity. Unlike torch, ember does not refuse a tensor that other
    views still look into; those views keep seeing the old memory."""
    for t in (t1, t2):
        if not isinstance(t, Tensor):
            raise AttributeError(f"'{type(t).__name__}' object has no attribute '_use_count'")
    for slot in ("_data", "_requires_grad", "_grad_fn", "_vc"):
        a, b = getattr(t1, slot), getattr(t2, slot)
        setattr(t1, slot, b)
        setattr(t2, slot, a)
    d1, d2 = dict(t1.__dict__), dict(t2.__dict__)
    t1.__dict__.clear()
    t1.__dict__.update(d2)
    t2.__dict__.clear()
    t2.__dict__.update(d1)


class InvalidBackend(RuntimeError):
    """Mirrors ``torch._dynamo.exc.InvalidBackend``: ``compile`` got an unknown backend."""


_COMPILE_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs",
                  "max-autotune")
_COMPILE_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs", "onnxrt", "openxla",
                     "tvm")


def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None,  # noqa: A001
            backend="inductor", mode: str | None = None, options: dict | None = None,
            name: str | None = None, disable: bool = False, recompile_limit: int | None = None,
            isolate_recompiles: bool = False, shapes_spec=None):
    """Mirrors ``torch.compile``: checks torch's arguments (mode, backend, mode with options)
    and returns a callable that behaves exactly as ``model``; ember runs it eagerly, op by
    op, as torch does with ``disable=True``. A function comes back wrapped
    (``__wrapped__`` is the original), a module unchanged (torch wraps it in an
    ``OptimizedModule``). Without ``model`` it returns a decorator."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(_COMPILE_MODES)}")
    if isinstance(backend, str) and backend not in _COMPILE_BACKENDS:
        raise InvalidBackend(f"Invalid backend: '{backend}', see "
                             "`torch._dynamo.list_backends()` for available backends.")
    if model is None:
        def decorate(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable)
        return decorate
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable or not isinstance(model, types.FunctionType):
        return model

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)
    return compiled


# torch's top-level in-place functions that are Tensor methods too: ``torch.sin_(x)`` is
# ``x.sin_()``.
_INPLACE_METHODS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
    "arctan_", "arctanh_", "as_strided_", "asin_", "asinh_", "atan_", "atanh_", "ceil_",
    "clamp_", "clamp_max_", "clamp_min_", "clip_", "conj_physical_", "cos_", "cosh_",
    "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_",
    "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_",
    "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_",
    "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")


def _inplace_function(name: str):
    method = getattr(Tensor, name)

    def fn(input: Tensor, *args, **kwargs) -> Tensor:
        return method(input, *args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Mirrors ``torch.{name}``: ``input.{name}(...)``."
    return fn


globals().update({name: _inplace_function(name) for name in _INPLACE_METHODS})


def _functional():
    from ember.nn import functional

    return functional


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Mirrors ``torch.celu_``: ``nn.functional.celu_``."""
    return _functional().celu_(input, alpha)


def selu_(input: Tensor) -> Tensor:
    """Mirrors ``torch.selu_``: ``nn.functional.selu_``."""
    return _functional().selu_(input)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """Mirrors ``torch.threshold_``: ``nn.functional.threshold_``."""
    return _functional().threshold_(input, threshold, value)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False, generator=None) -> Tensor:
    """Mirrors ``torch.rrelu_``: ``nn.functional.rrelu_``."""
    if generator is not None:
        raise TypeError("rrelu_(): ember's nn.functional.rrelu_ takes no generator")
    return _functional().rrelu_(input, lower, upper, training)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.dropout_``: ``nn.functional.dropout(..., inplace=True)``."""
    return _functional().dropout(input, p, train, inplace=True)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.alpha_dropout_``: ``nn.functional.alpha_dropout(..., inplace=True)``."""
    return _functional().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """Mirrors ``torch.feature_alpha_dropout_``: ``nn.functional.feature_alpha_dropout``
    in place."""
    return _functional().feature_alpha_dropout(input, p, train, inplace=True)


__all__ = [
    "alpha_dropout_", "are_deterministic_algorithms_enabled", "celu_", "compile", "detach",
    "dropout_", "feature_alpha_dropout_", "get_default_device", "get_float32_matmul_precision",
    "get_num_interop_threads", "get_num_threads", "is_deterministic_algorithms_warn_only_enabled",
    "is_nonzero", "is_storage", "rrelu_", "selu_", "set_default_device",
    "set_float32_matmul_precision", "set_num_interop_threads", "set_num_threads", "threshold_",
    "typename", "use_deterministic_algorithms", *_INPLACE_METHODS,
]
