"""torch's runtime switches and small namespaces, compared with torch: the top-level settings
(``set_flush_denormal``, ``set_warn_always``, the deterministic debug mode,
``set_default_tensor_type``, ...), ``torch.random``, ``torch.version``,
``torch.torch_version``, ``torch.cuda``'s memory family and ``torch.cuda.amp.autocast`` as a
CPU build has them, and inference tensors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch


def _outcome(lib, fn):
    """What ``fn(lib)`` gives: its value (modules by name) or its exception, and its
    warnings, as comparable plain data."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(lib)
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
            value = (type(exc).__name__, str(exc))
    if type(value).__name__ == "module":
        value = value.__name__.replace("ember", "torch", 1)
    # torch's C++ warnings name their source line; the message is what precedes it
    return value, [(w.category.__name__, str(w.message).split(" (Triggered internally")[0])
                   for w in caught]


def same(fn) -> None:
    """``fn`` gives the same value (or exception) and the same warnings on both."""
    assert _outcome(ember, fn) == _outcome(torch, fn)


@pytest.fixture
def restore_settings():
    """Puts back the global settings a test changes, on both libraries."""
    yield
    for lib in (ember, torch):
        lib.set_default_dtype(lib.float32)
        lib.use_deterministic_algorithms(False)
        lib.set_warn_always(False)
        lib.set_flush_denormal(False)
        lib.set_anomaly_enabled(False)


# ---- deterministic debug mode, warn-always, anomaly ------------------------------------

@pytest.mark.parametrize("mode", ["default", "warn", "error", 0, 1, 2, True, 3, "x", 1.0,
                                  None])
def test_deterministic_debug_mode(mode, restore_settings):
    def fn(lib):
        lib.set_deterministic_debug_mode(mode)
        return (lib.get_deterministic_debug_mode(), lib.are_deterministic_algorithms_enabled(),
                lib.is_deterministic_algorithms_warn_only_enabled())
    with recording_compared("torch.set_deterministic_debug_mode",
                            "torch.get_deterministic_debug_mode"):
        same(fn)


@pytest.mark.parametrize("args", [(True,), (True, True), (False,)])
def test_deterministic_debug_mode_follows_use_deterministic(args, restore_settings):
    def fn(lib):
        lib.use_deterministic_algorithms(args[0], warn_only=args[-1] if len(args) > 1 else False)
        return lib.get_deterministic_debug_mode()
    same(fn)


@pytest.mark.parametrize("value", [True, False, 1, "x", None])
def test_warn_always(value, restore_settings):
    def fn(lib):
        lib.set_warn_always(value)
        return lib.is_warn_always_enabled()
    with recording_compared("torch.set_warn_always", "torch.is_warn_always_enabled"):
        same(fn)
        same(lambda lib: lib.is_warn_always_enabled())


@pytest.mark.parametrize("args", [(True,), (True, False), (False, False), (1,), (True, 1),
                                  ()])
def test_set_anomaly_enabled(args, restore_settings):
    def fn(lib):
        lib.set_anomaly_enabled(*args)
        return lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()
    with recording_compared("torch.set_anomaly_enabled"):
        outcome = _outcome(ember, fn)
        expected = _outcome(torch, fn)
        if not args:  # pybind's and Python's wording of a missing argument differ
            assert outcome[0][0] == expected[0][0] == "TypeError"
        else:
            assert outcome == expected


# ---- flush denormal ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_set_flush_denormal_flushes(dtype, restore_settings):
    tiny = np.finfo(dtype).smallest_subnormal * 4
    with recording_compared("torch.set_flush_denormal"):
        for mode in (True, False):
            # Both libraries set the same thread's floating-point mode: each is set, then
            # its own arithmetic observed, in turn.
            results = []
            for lib in (torch, ember):
                returned = lib.set_flush_denormal(mode)
                x = lib.tensor([tiny, 1.0], dtype=getattr(lib, dtype))
                results.append((returned, x * 1.0, x + 0.0))
                lib.set_flush_denormal(False)
            (t_ret, *t_vals), (e_ret, *e_vals) = results
            assert e_ret == t_ret
            for e, t in zip(e_vals, t_vals):
                assert_same(e, t, rtol=0, atol=0)


@pytest.mark.parametrize("value", [1, "x", None])
def test_set_flush_denormal_refuses_non_bool(value):
    check_raises_like(lambda lib: lib.set_flush_denormal(value))


# ---- set_default_tensor_type -----------------------------------------------------------

_TENSOR_TYPES = ["DoubleTensor", "FloatTensor", "HalfTensor", "BFloat16Tensor", "IntTensor",
                 "torch.DoubleTensor", "torch.HalfTensor", "torch.cuda.FloatTensor",
                 "torch.Foo", "torch", "math.pi", "no_such_module_x.y", 3, "Tensor", "float64"]


def _tensor_type(lib, name):
    if not isinstance(name, str) or name.startswith(("torch", "math", "no_such")):
        return name
    return getattr(lib, name)


@pytest.mark.parametrize("name", _TENSOR_TYPES)
def test_set_default_tensor_type(name, restore_settings):
    def fn(lib):
        lib.set_warn_always(True)  # torch warns once per process; compare every call's
        lib.set_default_tensor_type(_tensor_type(lib, name))
        return repr(lib.get_default_dtype()), repr(lib.tensor([1.0]).dtype)
    with recording_compared("torch.set_default_tensor_type"):
        same(fn)


def test_set_default_tensor_type_cuda_class(restore_settings):
    same(lambda lib: lib.set_default_tensor_type(lib.cuda.FloatTensor))


def test_set_default_tensor_type_warns_once(restore_settings):
    from ember import _runtime

    # ember's record of warnings given: a fresh process's, and torch's first call warns
    _runtime._warned.discard("set_default_tensor_type")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ember.set_default_tensor_type(ember.DoubleTensor)
        ember.set_default_tensor_type(ember.FloatTensor)
    assert len(caught) == 1 and "deprecated as of PyTorch 2.1" in str(caught[0].message)


# ---- build facts and device helpers ------------------------------------------------------

def test_build_flags():
    with recording_compared("torch.compiled_with_cxx11_abi", "torch.is_vulkan_available",
                            "torch.init_num_threads"):
        for name in ("compiled_with_cxx11_abi", "is_vulkan_available", "init_num_threads"):
            assert type(getattr(ember, name)()) is type(getattr(torch, name)())
        same(lambda lib: lib.is_vulkan_available())
        same(lambda lib: lib.init_num_threads())
    # NumPy backend's truth (ember/_runtime.py): LAPACK and spectral ops are there
    assert ember.has_lapack is True and ember.has_spectral is True
    for name in ("has_lapack", "has_mkl", "has_openmp", "has_spectral"):
        assert type(getattr(ember, name)) is type(getattr(torch, name)) is bool


@pytest.mark.parametrize("arg", ["tensor", "int", "missing"])
def test_get_device_and_is_distributed(arg):
    def call(name):
        def fn(lib):
            args = {"tensor": (lib.ones(2),), "int": (3,), "missing": ()}[arg]
            return getattr(lib, name)(*args)
        return fn
    with recording_compared("torch.get_device", "torch.is_distributed"):
        for name in ("get_device", "is_distributed"):
            if arg == "missing":
                with pytest.raises(TypeError):
                    call(name)(ember)
            else:
                same(call(name))


@pytest.mark.parametrize("device", [None, "cpu", "cuda", "cuda:0", "mps", "xpu", "meta", "foo",
                                    3, "device_cuda"])
def test_get_device_module(device):
    def fn(lib):
        arg = lib.device("cuda") if device == "device_cuda" else device
        return lib.get_device_module(arg)
    with recording_compared("torch.get_device_module"):
        same(fn)


def test_thread_safe_generator():
    with recording_compared("torch.thread_safe_generator"):
        same(lambda lib: lib.thread_safe_generator())
        same(lambda lib: lib.random.thread_safe_generator())


# ---- torch.random -------------------------------------------------------------------------

def test_random_module_names():
    assert sorted(ember.random.__all__) == sorted(torch.random.__all__)
    for name in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"):
        assert getattr(ember.random, name) is getattr(ember, name)
    assert ember.random.default_generator is ember.default_generator
    assert ember.random.Generator is ember.Generator


def test_random_seed_state_round_trip():
    def fn(lib):
        lib.random.manual_seed(123)
        state = lib.random.get_rng_state()
        first = lib.rand(3)
        lib.random.set_rng_state(state)
        return lib.random.initial_seed(), first, lib.rand(3)
    e_seed, *e_vals = fn(ember)
    t_seed, *t_vals = fn(torch)
    assert e_seed == t_seed
    for e, t in zip(e_vals, t_vals):
        assert_same(e, t)


@pytest.mark.parametrize("kwargs", [{}, {"devices": []}, {"enabled": False},
                                    {"device_type": "cuda"}, {"device_type": "meta"},
                                    {"device_type": "mps"}, {"device_type": "xpu"}])
def test_fork_rng_restores(kwargs):
    def fn(lib):
        lib.manual_seed(7)
        with lib.random.fork_rng(**kwargs):
            inside = lib.rand(2)
        return inside, lib.rand(2)
    (e_in, e_after), (t_in, t_after) = fn(ember), fn(torch)
    assert_same(e_in, t_in)
    assert_same(e_after, t_after)


def test_fork_rng_restores_on_error_and_decorates():
    for lib in (ember, torch):
        lib.manual_seed(3)
        state = lib.get_rng_state()
        with pytest.raises(ValueError), lib.random.fork_rng():
            lib.rand(5)
            raise ValueError

        @lib.random.fork_rng()
        def draw(lib=lib):
            return lib.rand(1)
        first, second = draw(), draw()
        assert first.tolist() == second.tolist()
        assert lib.equal(state, lib.get_rng_state())


@pytest.mark.parametrize("kwargs", [{"device_type": "cpu"}, {"device_type": "cuda",
                                                             "devices": [0]},
                                    {"device_type": "foo"}, {"device_type": 3}])
def test_fork_rng_errors(kwargs):
    def fn(lib):
        with lib.random.fork_rng(**kwargs):
            pass
    t_exc, e_exc = (_outcome(lib, fn)[0] for lib in (torch, ember))
    assert e_exc[0] == t_exc[0]
    assert e_exc[1] == t_exc[1].replace("module 'torch.", "module 'ember.")


# ---- torch.version, torch.torch_version ---------------------------------------------------

def test_version_module():
    assert ember.version.__all__ == torch.version.__all__
    for name in ("cuda", "hip", "rocm", "xpu"):
        assert getattr(ember.version, name) is None is getattr(torch.version, name)
    assert ember.version.debug is False
    assert isinstance(ember.version.git_version, str)
    assert ember.version.__version__ == ember.__version__


_VERSIONS = ["2.13", "2.13.0", "2.13.0+cpu", "2.13.0+cpv", "2.13.0+CPU", "2.13.0+cpu.1",
             "2.13.1", "2.13.0rc1", "2.13.0.post1", "2.13.0.dev1", "2.13.0a1", "2.13.0b2",
             "2.13.0-1", "2.13.0.rc1.dev2", "1!0.1", "v2.13", " 2.13 ", "abc", (2, 13),
             (2, 13, 0), [2, 14], (2,), 2, 2.13, None]


@pytest.mark.parametrize("base", ["2.13.0+cpu", "2.13.0", "0.1.0", "2.13.0rc1", "parrot"])
@pytest.mark.parametrize("other", _VERSIONS)
def test_torch_version_comparisons(base, other):
    from torch.torch_version import TorchVersion as TorchTV

    from ember.torch_version import TorchVersion

    def compare(cls):
        v = cls(base)
        out = []
        for op in ("__lt__", "__le__", "__eq__", "__ne__", "__ge__", "__gt__"):
            try:
                out.append(getattr(v, op)(other))
            except TypeError as exc:
                out.append(type(exc).__name__)
        for op in (lambda a, b: a < b, lambda a, b: a == b, lambda a, b: a >= b):
            try:
                out.append(op(v, other))
            except TypeError as exc:
                out.append(type(exc).__name__)
        return out
    assert compare(TorchVersion) == compare(TorchTV)


def test_torch_version_is_a_string():
    from torch.torch_version import TorchVersion as TorchTV

    from ember.torch_version import TorchVersion

    e, t = TorchVersion("2.13.0+cpu"), TorchTV("2.13.0+cpu")
    assert isinstance(e, str) and hash(e) == hash(t) == hash("2.13.0+cpu")
    assert repr(e) == repr(t) and str(e) == str(t) and e + "x" == t + "x"
    assert ember.torch_version.__all__ == torch.torch_version.__all__
    assert ember.torch_version.__version__ == ember.version.__version__
    assert isinstance(ember.torch_version.__version__, TorchVersion)


def test_torch_version_against_packaging_version():
    from torch._vendor.packaging.version import Version
    from torch.torch_version import TorchVersion as TorchTV

    from ember.torch_version import TorchVersion

    for other in ("2.1", "2.13.0", "3.0.0rc1"):
        for op in ("__lt__", "__eq__", "__gt__"):
            assert getattr(TorchVersion("2.13.0"), op)(Version(other)) == \
                getattr(TorchTV("2.13.0"), op)(Version(other))


# ---- torch.cuda's memory family and amp.autocast (CPU build) ------------------------------

_CUDA_CALLS = [
    ("reset_peak_memory_stats", ()), ("reset_peak_memory_stats", (0,)),
    ("reset_max_memory_allocated", ()), ("reset_max_memory_cached", ()),
    ("reset_accumulated_memory_stats", ()), ("memory_stats_as_nested_dict", ()),
    ("memory_stats_as_nested_dict", ("cuda",)), ("memory_stats", ()), ("memory_snapshot", ()),
    ("memory_summary", ()), ("memory_summary", (None, True)), ("host_memory_stats", ()),
    ("host_memory_stats_as_nested_dict", ()), ("reset_accumulated_host_memory_stats", ()),
    ("reset_peak_host_memory_stats", ()), ("caching_allocator_alloc", (10,)),
    ("caching_allocator_delete", (0,)), ("caching_allocator_enable", (False,)),
    ("get_per_process_memory_fraction", ()), ("list_gpu_processes", ()),
    ("memory_allocated", ()), ("max_memory_allocated", ()), ("memory_reserved", ()),
    ("max_memory_reserved", ()),
]


@pytest.mark.parametrize("name,args", _CUDA_CALLS)
def test_cuda_memory_family(name, args):
    same(lambda lib: getattr(lib.cuda, name)(*args))
    same(lambda lib: getattr(lib.cuda.memory, name)(*args))


def test_cuda_memory_module_names():
    assert set(ember.cuda.memory.__all__) <= set(torch.cuda.memory.__all__)


def test_cuda_caching_allocator_disabled():
    def fn(lib):
        with lib.cuda.caching_allocator_disabled():
            pass
    same(fn)


@pytest.mark.parametrize("kwargs", [{}, {"enabled": False}, {"dtype": "bfloat16"},
                                    {"cache_enabled": False}])
def test_cuda_amp_autocast(kwargs):
    def fn(lib):
        args = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
        region = lib.cuda.amp.autocast(**args)
        with region:
            inside = (lib.is_autocast_enabled("cuda"), lib.is_autocast_enabled("cpu"),
                      repr((lib.ones(2, 2) @ lib.ones(2, 2)).dtype))
        return (region.device, repr(region.fast_dtype), region._enabled, inside,
                isinstance(region, lib.amp.autocast))
    same(fn)


def test_cuda_amp_autocast_decorates():
    def fn(lib):
        @lib.cuda.amp.autocast()
        def f():
            return lib.is_autocast_enabled("cuda")
        return f()
    same(fn)


# ---- inference tensors -------------------------------------------------------------------

def _inference_cases(lib):
    a = lib.ones(2, requires_grad=True)
    n = lib.ones(3)
    with lib.inference_mode():
        made = {"factory": lib.ones(2), "op": n * 2, "view_of_normal": n[1:],
                "inplace_on_normal": n.add_(0), "from_grad_input": a * 2,
                "randn": lib.randn(2), "arange": lib.arange(3), "tensor": lib.tensor([1.0]),
                "max_indices": n.max(0)[1], "to_double": n.double(),
                "linear": lib.nn.functional.linear(lib.ones(1, 2), lib.ones(3, 2))}
        with lib.no_grad():
            made["no_grad_inside"] = lib.ones(1)
        with lib.inference_mode(False):
            made["mode_false_inside"] = lib.ones(1)
    x = made["factory"]
    made.update({"normal": n, "detach": x.detach(), "view": x.view(2), "clone": x.clone(),
                 "out_of_mode_op": x + 1})
    return made


def test_tensors_made_in_inference_mode_are_inference_tensors():
    with recording_compared("torch.Tensor.is_inference", "torch.is_inference"):
        e_cases, t_cases = _inference_cases(ember), _inference_cases(torch)
        for key, t in t_cases.items():
            e = e_cases[key]
            assert (e.is_inference(), e.requires_grad) == (t.is_inference(), t.requires_grad), key
            assert ember.is_inference(e) == torch.is_inference(t), key


_INFERENCE_MISUSES = {
    "version": lambda lib, x, a: x._version,
    "inplace": lambda lib, x, a: x.add_(1),
    "inplace_no_grad": lambda lib, x, a: _under(lib.no_grad(), lambda: x.mul_(2)),
    "setitem": lambda lib, x, a: x.__setitem__(0, 1.0),
    "saved_for_backward": lambda lib, x, a: a * x,
    "matmul_saved": lambda lib, x, a: a @ x,
    "requires_grad_": lambda lib, x, a: x.requires_grad_(),
    "version_in_mode": lambda lib, x, a: _under(lib.inference_mode(), lambda: x._version),
}


def _under(context, fn):
    with context:
        return fn()


@pytest.mark.parametrize("name", sorted(_INFERENCE_MISUSES))
def test_inference_tensor_misuse_errors(name):
    def fn(lib):
        a = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            x = lib.ones(2)
        return _INFERENCE_MISUSES[name](lib, x, a)
    check_raises_like(fn)


def test_inference_tensor_allowed_uses():
    def fn(lib):
        a = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            x = lib.ones(2)
            x.add_(1)  # in place inside the mode
            y = lib.ones(2).requires_grad_()
        plain = x + a  # add saves neither input
        return x, plain, y.requires_grad, y.is_inference(), plain.requires_grad
    (e_x, e_plain, *e_flags), (t_x, t_plain, *t_flags) = fn(ember), fn(torch)
    assert_same(e_x, t_x)
    assert_same(e_plain, t_plain)
    assert e_flags == t_flags
