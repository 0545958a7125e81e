"""torch's runtime settings and small namespace helpers: thread counts, deterministic
algorithms, the default device, layouts and the factories' tensor options, ``typename`` and
``torch.detach``.

ember runs its kernels through NumPy on the CPU: the thread count sizes NumPy's BLAS pool
(NOTE [Thread counts]); the other settings are recorded and reported back as torch reports
them and change nothing in how ember computes (its ops are already deterministic).
"""
from __future__ import annotations

import builtins
import os
import warnings

from ember import _device, _dtype, _threads
from ember._device import device
from ember._tensor import Tensor

_settings = {"threads": None, "interop": None, "deterministic": False, "warn_only": False,
             "matmul_precision": "highest"}


# NOTE [Thread counts]
# torch starts with one intra-op thread per physical core this process may run on, or the
# number that OMP_NUM_THREADS (overridden by MKL_NUM_THREADS) asks for, at most that many
# cores; an invalid or non-positive value is ignored. ember's parallel work is NumPy's BLAS
# (ember._threads), which reads OMP_NUM_THREADS itself when it loads, so ember leaves the
# BLAS pool alone until ``set_num_threads`` is called: nothing is looked up at import, and
# the default count is computed on first request.
def _physical_cores() -> int:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else builtins.range(
        os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
                cores.add(f.read().strip())
        except OSError:  # no topology to read: count each CPU as a core
            return len(cpus) or 1
    return len(cores) or 1


def _env_threads(name: str) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 0


def _default_threads() -> int:
    cores = _physical_cores()
    asked = _env_threads("MKL_NUM_THREADS") or _env_threads("OMP_NUM_THREADS")
    return min(asked, cores) if asked else cores


def _check_count(count, name: str) -> None:
    if type(count) is not int:  # noqa: E721 - torch refuses bool and other int-likes too
        raise RuntimeError(f"{name} expects an int, but got {type(count).__name__}")
    if count <= 0:
        raise RuntimeError(f"{name} expects a positive integer")


def get_num_threads() -> int:
    """Mirrors ``torch.get_num_threads``: the number last given to ``set_num_threads``, else
    torch's default (NOTE [Thread counts])."""
    if _settings["threads"] is None:
        _settings["threads"] = _default_threads()
    return _settings["threads"]


def set_num_threads(count: int, /) -> None:
    """Mirrors ``torch.set_num_threads``: sizes the thread pool of NumPy's BLAS (ember's
    parallel kernels: matmul and the linear algebra built on it) to ``count`` and records
    it for ``get_num_threads``. Refuses a non-int or a count below 1 with torch's errors.
    Where NumPy's BLAS has no thread pool to size, the count is only recorded."""
    _check_count(count, "set_num_threads")
    _threads.set_blas_threads(count)
    _settings["threads"] = count


def get_num_interop_threads() -> int:
    """Mirrors ``torch.get_num_interop_threads``: torch's default is one per physical core.
    ember runs no inter-op pool, so the number is only recorded."""
    if _settings["interop"] is None:
        _settings["interop"] = _physical_cores()
    return _settings["interop"]


def set_num_interop_threads(count: int, /) -> None:
    """Mirrors ``torch.set_num_interop_threads`` (torch's errors for a non-int or a count
    below 1). ember differs: torch allows one call before any parallel work, ember records
    every call."""
    _check_count(count, "set_num_interop_threads")
    _settings["interop"] = count


class layout:
    """Mirrors ``torch.layout``: how a tensor's elements are stored. ember's tensors are all
    ``strided`` (dense); the sparse layouts exist to be named, and a factory asked for one
    refuses (ember has no sparse tensors)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        raise TypeError("cannot pickle 'layout' object")


layout.__module__ = "ember"  # as ember.dtype: printed <class 'ember.layout'>
strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")


def check_tensor_options(name: str, layout_, pin_memory) -> None:
    """torch's checks of a factory's ``layout`` and ``pin_memory`` (``name`` is the
    factory's, for the errors); callers skip it when ``layout is None and not pin_memory``.
    A strided layout is ember's; pinned memory needs an accelerator, which this build lacks
    (torch's CPU error)."""
    if layout_ is not None and not isinstance(layout_, layout):
        raise TypeError(f"{name}(): argument 'layout' must be torch.layout, not "
                        f"{type(layout_).__name__}")
    if pin_memory is not None and not isinstance(pin_memory, bool):
        raise TypeError(f"{name}(): argument 'pin_memory' must be bool, not "
                        f"{type(pin_memory).__name__}")
    if layout_ is not None and layout_ is not strided:
        raise RuntimeError(f"{name}(): ember tensors are strided; it cannot make a tensor of "
                           f"layout {layout_!r}")
    if pin_memory:
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system.")


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


def typename(obj, /) -> str:
    """Mirrors ``torch.typename``: a tensor's legacy type name (``torch.FloatTensor``),
    else the object's class as ``module.QualName`` (builtins without the module)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return qualname if module in ("builtins", None) else f"{module}.{qualname}"


def is_tensor(obj, /) -> bool:
    """Mirrors ``torch.is_tensor``: whether ``obj`` is a tensor (a Tensor subclass too)."""
    return isinstance(obj, Tensor)


def set_default_dtype(d, /) -> None:
    """Mirrors ``torch.set_default_dtype``: the dtype of floating-point tensors made from
    Python floats and of factories given no ``dtype`` (floating-point dtypes only)."""
    _dtype.set_default_dtype(d)


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


def is_storage(obj, /) -> bool:
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
    and returns ``model`` compiled into programs of array calls (ember/_compile.py, NOTE
    [Compiled programs]): a function comes back wrapped (``__wrapped__`` is the original), a
    module as an ``OptimizedModule`` (``_orig_mod``). Without ``model`` it returns a
    decorator; ``disable=True`` returns ``model`` itself.

    ember differs: every ``backend`` and ``mode`` gives the same program (eager's results
    exactly), and shapes are always specialised, one program per guard set, whatever
    ``dynamic`` and ``shapes_spec`` say (torch's ``dynamic=False``); ``recompile_limit``
    bounds the guard sets kept (default 8, torch's ``config.recompile_limit``)."""
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
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorate
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    from ember._compile import compile_callable  # the tracer loads on first use

    return compile_callable(model, fullgraph, recompile_limit)


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


def _tensor_argument(name: str, arg: str, position: int, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


def can_cast(from_: _dtype.dtype, to: _dtype.dtype) -> bool:
    """Mirrors ``torch.can_cast``: whether torch's type promotion allows casting ``from_`` to
    ``to`` (not from floating to integral, from complex to non-complex, or to bool)."""
    for arg, value, position in (("from_", from_, 1), ("to", to, 2)):
        if not isinstance(value, _dtype.dtype):
            raise TypeError(f"can_cast(): argument '{arg}' (position {position}) must be "
                            f"torch.dtype, not {type(value).__name__}")
    if from_.is_floating_point and not (to.is_floating_point or to.is_complex):
        return False
    if from_.is_complex and not to.is_complex:
        return False
    return not (from_ is not _dtype.bool_ and to is _dtype.bool_)


def is_signed(input: Tensor) -> bool:
    """Mirrors ``torch.is_signed``: ``input.is_signed()``."""
    _tensor_argument("is_signed", "input", 1, input)
    return input.is_signed()


def is_inference(input: Tensor) -> bool:
    """Mirrors ``torch.is_inference``: ``input.is_inference()``."""
    _tensor_argument("is_inference", "input", 1, input)
    return input.is_inference()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Mirrors ``torch.is_same_size``: whether the two shapes are equal."""
    _tensor_argument("is_same_size", "input", 1, input)
    _tensor_argument("is_same_size", "other", 2, other)
    return input.is_same_size(other)


def isreal(input: Tensor) -> Tensor:
    """Mirrors ``torch.isreal``: True where the imaginary part is zero (everywhere for a
    real tensor)."""
    _tensor_argument("isreal", "input", 1, input)
    if input.is_complex():
        return input.imag == 0
    from ember._ops.creation import ones_like

    return ones_like(input, dtype=_dtype.bool_)


def range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None,  # noqa: A001
          requires_grad: bool = False) -> Tensor:
    """Mirrors the deprecated ``torch.range``: ``start, start + step, ...`` up to and
    including ``end``, in the default dtype unless ``dtype`` is given; warns as torch does."""
    import math

    from ember._backend import np
    from ember._ops.creation import _finish, check_tensor_options

    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    _device.place(device)
    if layout is not None:
        check_tensor_options("range", layout, None)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = math.floor((end - start) / step) + 1
    # torch accumulates each value as ``start + i * step`` in double, then casts
    values = start + np.arange(count, dtype=np.float64) * step
    out = (dtype or _dtype.get_default_dtype()).np
    return _finish(values.astype(out), requires_grad)


__all__ = [
    "can_cast", "is_inference", "is_same_size", "is_signed", "isreal", "range",
    "are_deterministic_algorithms_enabled", "compile", "detach", "get_default_device",
    "get_float32_matmul_precision",
    "get_num_interop_threads", "get_num_threads", "is_deterministic_algorithms_warn_only_enabled",
    "is_nonzero", "is_storage", "is_tensor", "jagged", "layout",
    "set_default_device", "set_default_dtype", "set_float32_matmul_precision",
    "set_num_interop_threads", "set_num_threads", "sparse_bsc", "sparse_bsr", "sparse_coo",
    "sparse_csc", "sparse_csr", "strided", "typename",
    "use_deterministic_algorithms", *_INPLACE_METHODS,
]
