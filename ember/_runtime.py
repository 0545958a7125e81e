"""torch's runtime settings and small namespace helpers: thread counts, deterministic
algorithms (and their debug mode), warn-always, flushing denormals, the default device and
tensor type, layouts and the factories' tensor options, build facts (``has_lapack``, ...),
device helpers, inference tensors (NOTE [Inference tensors]), ``typename`` and
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
from ember._ops import registry as _registry
from ember._tensor import Tensor, refuse_non_tensor, tensor_argument
from ember.autograd.grad_mode import state as _grad_state

_settings = {"threads": None, "interop": None, "deterministic": False, "warn_only": False,
             "matmul_precision": "highest", "warn_always": False}


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
        # by name, as torch pickles its layouts (copies are the one object)
        return _get_layout, (repr(self),)


layout.__module__ = "ember"  # as ember.dtype: printed <class 'ember.layout'>
strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")
_LAYOUTS = {repr(value): value for value in (strided, sparse_coo, sparse_csr, sparse_csc,
                                              sparse_bsr, sparse_bsc, jagged)}


def _get_layout(name: str) -> layout:
    """The layout ``name`` (``"torch.strided"``) stands for: what a pickled layout is
    rebuilt by (torch's ``torch.serialization._get_layout``)."""
    return _LAYOUTS[name]


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


def get_deterministic_debug_mode() -> int:
    """Mirrors ``torch.get_deterministic_debug_mode``: 0 (deterministic algorithms off), 1
    (on, warn only) or 2 (on), as ``use_deterministic_algorithms`` last set them."""
    if not _settings["deterministic"]:
        return 0
    return 1 if _settings["warn_only"] else 2


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """Mirrors ``torch.set_deterministic_debug_mode``: "default"/0, "warn"/1 or "error"/2
    is ``use_deterministic_algorithms(False)``, ``(True, warn_only=True)`` or ``(True)``;
    torch's errors for another value or type."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    elif debug_mode not in (0, 1, 2):
        raise RuntimeError("invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def _bool_argument(value, message: str) -> None:
    if not isinstance(value, bool):
        raise RuntimeError(f"{message}, but got {type(value).__name__}")


def set_warn_always(b: bool, /) -> None:
    """Mirrors ``torch.set_warn_always``: when True, the warnings torch gives once per
    process (ember's: ``set_default_tensor_type``'s deprecation) are given on every call."""
    _bool_argument(b, "setWarnOnlyOnce expects a bool")
    _settings["warn_always"] = b


def is_warn_always_enabled() -> bool:
    """Mirrors ``torch.is_warn_always_enabled``."""
    return _settings["warn_always"]


def _warn_once(key: str, message: str, stacklevel: int = 3) -> None:
    # torch's once-per-process warnings (TORCH_WARN_ONCE): under ``set_warn_always(True)``
    # every call warns, and those warnings do not use up the once. ``stacklevel`` as
    # ``warnings.warn``'s, counted from the caller of this function.
    if _settings["warn_always"]:
        warnings.warn(message, UserWarning, stacklevel=stacklevel)
    elif key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=stacklevel)


_warned: set = set()


# NOTE [Flushing denormals]
# torch sets the calling thread's SSE control register (MXCSR) to flush denormal results to
# zero (FTZ) and read denormal inputs as zero (DAZ). NumPy's kernels and Python's float
# arithmetic run on that register too, so ember does the same through C's <fenv.h>: on
# x86-64 glibc the MXCSR word is the last 32-bit field of ``fenv_t`` (8 words). Elsewhere
# (another libc or CPU) ember cannot set the mode and returns False, as torch does on a CPU
# without support.
_FENV_WORDS = 8
_MXCSR_WORD = 7
_FTZ_DAZ = 0x8040


def _libm():
    import ctypes
    import ctypes.util
    import platform

    if platform.machine() not in ("x86_64", "AMD64") or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("m")), ctypes


def set_flush_denormal(mode: bool, /) -> bool:
    """Mirrors ``torch.set_flush_denormal``: with True, float32 and float64 denormal numbers
    become zero in arithmetic on the calling thread (NOTE [Flushing denormals]); False
    restores IEEE behaviour. Returns whether the mode could be set (False on a platform
    where ember cannot, where nothing changes)."""
    _bool_argument(mode, "flush_denormal expects a bool")
    found = _libm()
    if found is None:
        return False
    libm, ctypes = found
    env = (ctypes.c_uint32 * _FENV_WORDS)()
    if libm.fegetenv(env) != 0:
        return False
    env[_MXCSR_WORD] = (env[_MXCSR_WORD] | _FTZ_DAZ) if mode else (env[_MXCSR_WORD] & ~_FTZ_DAZ)
    return libm.fesetenv(env) == 0


def set_default_tensor_type(t, /) -> None:
    """Mirrors the deprecated ``torch.set_default_tensor_type``: a floating-point legacy
    tensor type (``torch.DoubleTensor``, or its name as a string) sets the default dtype to
    its dtype. Warns once per process (every call under ``set_warn_always(True)``) and gives
    torch's errors for an integral, CUDA or unknown type. Names starting ``torch.`` are
    looked up in ember, others imported as torch does."""
    from ember._legacy import tensortype

    if isinstance(t, str):
        t = _dotted_name(t)
    _warn_once("set_default_tensor_type",
               "torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
               "torch.set_default_dtype() and torch.set_default_device() as alternatives.")
    message = "only floating-point types are supported as the default type"
    if not isinstance(t, tensortype):
        raise TypeError(f"invalid type object: {message}")
    if t.is_cuda:
        raise TypeError(f"type torch.cuda.{t.__name__} not available. Torch not compiled with "
                        "CUDA enabled.")
    if not t.dtype.is_floating_point:
        raise TypeError(message)
    set_default_dtype(t.dtype)


def _dotted_name(name: str):
    import importlib

    import ember

    parts = name.split(".")
    if parts[0] in ("torch", "ember"):
        obj = ember
    else:
        obj = importlib.import_module(parts[0])
    shown = parts[0]
    for part in parts[1:]:
        if not hasattr(obj, part):
            raise AttributeError(f"module '{shown}' has no attribute '{part}'")
        obj = getattr(obj, part)
        shown = f"{shown}.{part}"
    return obj


def compiled_with_cxx11_abi() -> bool:
    """Mirrors ``torch.compiled_with_cxx11_abi``: whether the library was built with the C++11
    ABI, which matters for linking C++ extensions against it. ember is pure Python with no
    C++ library to link against, so False (torch's own builds answer True)."""
    return False


# What torch reports of its build, answered for ember's NumPy backend: LAPACK (NumPy's
# linalg, on which ember's decompositions run) and spectral ops (ember.fft) are there; ember
# uses neither OpenMP nor links MKL itself (NumPy's BLAS is whatever NumPy was built with).
has_lapack = True
has_spectral = True
has_openmp = False
has_mkl = False


def get_device(input: Tensor) -> int:
    """Mirrors ``torch.get_device``: ``input.get_device()``, -1 for a CPU tensor."""
    tensor_argument("get_device", "input", input, 1)
    return input.get_device()


def get_device_module(device=None):
    """Mirrors ``torch.get_device_module``: the ``ember.<type>`` module of a device (a
    ``device``, or its string): ``ember.cuda`` for "cuda:0"; with None the current
    accelerator's, which this build lacks, so ``ember.cpu``. torch's RuntimeError for a type
    with no such module or for another kind of argument."""
    import ember

    if device is None:
        return ember.cpu
    if not isinstance(device, (str, _device.device)):
        hash(device)  # torch looks the value up in a dict first: a list is a TypeError
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or "
                           "None")
    name = _device.device(device).type
    module = getattr(ember, name, None) if name in ember._LAZY_SUBMODULES else None
    if module is None:
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered "
                           f"as 'torch.{name}'.")
    return module


def is_distributed(input: Tensor) -> bool:
    """Mirrors ``torch.is_distributed``: whether ``input`` is a distributed tensor; ember's
    tensors never are (nor are torch's dense CPU ones)."""
    tensor_argument("is_distributed", "input", input, 1)
    return False


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Mirrors ``torch.set_anomaly_enabled``: turns anomaly detection on or off for good
    (``autograd.set_detect_anomaly`` without the context)."""
    from ember.autograd import anomaly_mode

    for arg, value, position in (("enabled", enabled, 1), ("check_nan", check_nan, 2)):
        if not isinstance(value, bool):
            raise TypeError(f"set_anomaly_enabled(): argument '{arg}' (position {position}) "
                            f"must be bool, not {type(value).__name__}")
    anomaly_mode.state[:] = [enabled, check_nan]


def is_vulkan_available(*, requires_grad: bool = False) -> bool:
    """Mirrors ``torch.is_vulkan_available``: ember has no Vulkan backend. torch's argument
    parser gives this function, which takes no tensor, the factories' ``requires_grad``
    keyword; it is accepted here as there, and a bool answer has no gradient to track."""
    return False


def init_num_threads() -> None:
    """Mirrors ``torch.init_num_threads``: torch gives a new thread the count of
    ``set_num_threads``. ember's one thread pool (NumPy's BLAS) is process-wide and already
    sized, so there is nothing to do for the calling thread."""


def thread_safe_generator():
    """Mirrors ``torch.thread_safe_generator``; see ``ember.random.thread_safe_generator``."""
    from ember.random import thread_safe_generator as _thread_safe_generator

    return _thread_safe_generator()


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
    try:
        return input.detach()
    except AttributeError as error:
        refuse_non_tensor("detach", error, input, "input")
        raise


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
        try:
            return method(input, *args, **kwargs)
        except AttributeError as error:
            refuse_non_tensor(name, error, input, "input")
            raise
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Mirrors ``torch.{name}``: ``input.{name}(...)``."
    return fn


globals().update({name: _inplace_function(name) for name in _INPLACE_METHODS})


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
    tensor_argument("is_signed", "input", input, 1)
    return input.is_signed()


# NOTE [Inference tensors]
# A tensor made inside ``inference_mode`` is an inference tensor, as in torch: it has no
# version counter, must not be saved for backward, written in place or made to require grad
# outside the mode. ember marks one by its version counter's type: ``_InferenceVersion``
# instead of a plain list (``Tensor.is_inference`` tests it). Views and ``detach`` share
# their base's counter, so they are inference tensors exactly when their base is, and an
# in-place op returns its target with its own counter, as in torch. Fresh tensors get the
# marked counter from ``new_version`` (factories) and from ``_INFERENCE_OUTPUTS``, the op
# mode (NOTE [Op modes]) that ``inference_mode`` pushes while a region is open: outside
# inference mode no op pays anything. Reading the counter outside the mode means an op is
# saving the tensor for backward (the in-place and ``requires_grad`` paths refuse earlier),
# which torch refuses.
_SAVED_FOR_BACKWARD = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")
INPLACE_OUTSIDE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details.")
REQUIRES_GRAD_OUTSIDE = ("Setting requires_grad=True on inference tensor outside "
                         "InferenceMode is not allowed.")
NO_VERSION = "Inference tensors do not track version counter."


class _InferenceVersion(list):
    """An inference tensor's version counter (NOTE [Inference tensors])."""

    __slots__ = ()

    def __getitem__(self, index):
        if not _grad_state.inference:
            raise RuntimeError(_SAVED_FOR_BACKWARD)
        return list.__getitem__(self, index)


def new_version() -> list:
    """A fresh tensor's version counter: marked inside ``inference_mode`` (NOTE [Inference
    tensors])."""
    return _InferenceVersion((0,)) if _grad_state.inference else [0]


def is_inference_version(version: list) -> bool:
    """Whether a tensor with this version counter is an inference tensor."""
    return type(version) is _InferenceVersion


class _InferenceOutputs(_registry.OpMode):
    """Marks the fresh outputs of ops run in inference mode (NOTE [Inference tensors])."""

    def run_op(self, op, args: tuple):
        out = self.proceed(op, args)
        if _grad_state.inference and not op.view:
            for t in out if type(out) is tuple else (out,):
                if isinstance(t, Tensor) and type(t._vc) is list and not any(
                        t is a for a in args):
                    t._vc = _InferenceVersion(t._vc)
        return out


_INFERENCE_OUTPUTS = _InferenceOutputs()
_inference_regions = [0]  # open inference_mode regions, all threads


def inference_region_entered() -> None:
    """Called by ``inference_mode`` on entering an enabled region."""
    _inference_regions[0] += 1
    if _inference_regions[0] == 1:
        _registry.push_mode(_INFERENCE_OUTPUTS)


def inference_region_exited() -> None:
    """Called by ``inference_mode`` on leaving an enabled region."""
    _inference_regions[0] -= 1
    if _inference_regions[0] == 0:
        _registry.pop_mode(_INFERENCE_OUTPUTS)


def is_inference(input: Tensor) -> bool:
    """Mirrors ``torch.is_inference``: ``input.is_inference()``."""
    tensor_argument("is_inference", "input", input, 1)
    return input.is_inference()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Mirrors ``torch.is_same_size``: whether the two shapes are equal."""
    tensor_argument("is_same_size", "input", input, 1)
    tensor_argument("is_same_size", "other", other, 2)
    return input.is_same_size(other)


def isreal(input: Tensor) -> Tensor:
    """Mirrors ``torch.isreal``: True where the imaginary part is zero (everywhere for a
    real tensor)."""
    tensor_argument("isreal", "input", input, 1)
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
    "is_nonzero", "is_tensor", "jagged", "layout",
    "set_default_device", "set_default_dtype", "set_float32_matmul_precision",
    "set_num_interop_threads", "set_num_threads", "sparse_bsc", "sparse_bsr", "sparse_coo",
    "sparse_csc", "sparse_csr", "strided", "typename",
    "use_deterministic_algorithms", *_INPLACE_METHODS,
    "compiled_with_cxx11_abi", "get_deterministic_debug_mode", "get_device", "get_device_module",
    "has_lapack", "has_mkl", "has_openmp", "has_spectral", "init_num_threads", "is_distributed",
    "is_vulkan_available", "is_warn_always_enabled", "set_anomaly_enabled",
    "set_default_tensor_type", "set_deterministic_debug_mode", "set_flush_denormal",
    "set_warn_always", "thread_safe_generator",
]
