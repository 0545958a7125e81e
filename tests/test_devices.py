"""Devices and the device namespaces of a CPU-only torch: ember.device, ember.cuda,
ember.backends, ember.accelerator, ember.mps, ember.xpu, ember.cpu, and tensors refused
on devices no backend serves. torch (a CPU build) is the oracle."""
from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import ember
from tests.helpers import check_raises_like, torch

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the oracle is a CPU build")


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("mps",),
                                  ("meta",), ("xpu", 3), ("cpu", 0), ("cpu:2",)])
def test_device_objects_match_torch(args) -> None:
    t, e = torch.device(*args), ember.device(*args)
    assert (repr(e), str(e), e.type, e.index) == (repr(t), str(t), t.type, t.index)
    assert pickle.loads(pickle.dumps(e)) == e
    assert hash(e) == hash(ember.device(*args))


def test_device_comparisons_match_torch() -> None:
    for L in (torch, ember):
        assert L.device("cuda") != L.device("cuda:0")
        assert L.device("cuda", 0) == L.device("cuda:0")
        assert L.device(type="cuda", index=2) == L.device("cuda:2")
        assert (L.device("cpu") == "cpu") is False
        assert L.zeros(1).device == L.device("cpu")
        assert L.device(L.device("cuda:1")) == L.device("cuda:1")


@pytest.mark.parametrize("args", [("foo",), ("CUDA",), ("cuda:-1",), ("cpu:x",), ("cuda ",),
                                  ("cuda:01",), ("",), ("cuda:",), (0,), (1.0,), (None,),
                                  ("cuda", "cpu"), ("cuda:0", 1), ("cuda", -1), ("cpu", True)])
def test_device_refusals_match_torch(args) -> None:
    check_raises_like(lambda L: L.device(*args))


@pytest.mark.parametrize("call", [
    lambda L: L.zeros(2).to("cuda"), lambda L: L.zeros(2).cuda(),
    lambda L: L.zeros(2).to(L.device("cuda")), lambda L: L.zeros(2).to("cuda:0", L.float64),
    lambda L: L.zeros(2).to(device="cuda"), lambda L: L.zeros(2).cuda(0),
    lambda L: L.zeros(2).xpu(), lambda L: L.zeros(2).to("mps"),
    lambda L: L.zeros(2).pin_memory(),
    lambda L: L.zeros(2, device="cuda"), lambda L: L.ones(2, device="cuda"),
    lambda L: L.empty(2, device="cuda"), lambda L: L.full((2,), 1.0, device="cuda"),
    lambda L: L.tensor([1], device="cuda"), lambda L: L.as_tensor([1], device="cuda"),
    lambda L: L.arange(3, device="cuda"), lambda L: L.linspace(0, 1, 3, device="cuda"),
    lambda L: L.eye(2, device="cuda"), lambda L: L.logspace(0, 1, 3, device="cuda"),
    lambda L: L.scalar_tensor(1, device="cuda"),
    lambda L: L.tril_indices(2, 2, device="cuda"),
    lambda L: L.zeros_like(L.ones(2), device="cuda"),
    lambda L: L.ones_like(L.ones(2), device="cuda"),
    lambda L: L.full_like(L.ones(2), 3, device="cuda"),
    lambda L: L.ones(2).new_zeros(3, device="cuda"),
    lambda L: L.ones(2).new_tensor([1.0], device="cuda"),
    lambda L: L.rand(2, device="cuda"), lambda L: L.randn(2, device="cuda"),
    lambda L: L.randint(3, (2,), device="cuda"), lambda L: L.randperm(3, device="cuda"),
    lambda L: L.rand_like(L.ones(2), device="cuda"),
    lambda L: L.zeros(2, device=0),
    lambda L: L.FloatTensor([1.0], device="cuda"),
])
def test_tensors_on_missing_devices_raise_like_torch(call) -> None:
    check_raises_like(call)


def test_cpu_device_arguments_are_accepted() -> None:
    for L in (torch, ember):
        assert L.zeros(2, device="cpu:1").device == L.device("cpu")
        assert L.zeros(2).to("cpu:0").device == L.device("cpu")
        assert L.rand(2, device=L.device("cpu")).shape == (2,)
        x = L.ones(2)
        assert x.cpu() is x and x.to("cpu") is x
        assert (x.is_cuda, x.get_device(), x.is_pinned()) == (False, -1, False)


def test_default_device_matches_torch() -> None:
    try:
        for L in (torch, ember):
            L.set_default_device("cuda")
            with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
                L.get_default_device()
            with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
                L.zeros(2)
            # a tensor's own device decides for the *_like factories and Tensor methods
            L.set_default_device(None)
            x = L.ones(2)
            L.set_default_device("cuda")
            assert L.zeros_like(x).device == L.device("cpu")
            L.set_default_device("cpu:1")
            assert L.get_default_device() == L.device("cpu", 1)
            L.set_default_device(None)
            assert L.get_default_device() == L.device("cpu")
            with L.device("cuda"):
                with pytest.raises(AssertionError):
                    L.ones(1)
            assert L.ones(1).device == L.device("cpu")
    finally:
        torch.set_default_device(None)
        ember.set_default_device(None)


_CUDA_QUERIES = ["is_available", "device_count", "is_initialized", "get_rng_state_all",
                 "is_bf16_supported", "get_arch_list", "memory_allocated",
                 "max_memory_allocated", "memory_reserved", "max_memory_reserved",
                 "get_gencode_flags", "is_tf32_supported", "empty_cache", "seed", "seed_all"]


@pytest.mark.parametrize("name", _CUDA_QUERIES)
def test_cuda_queries_match_torch(name: str) -> None:
    assert getattr(ember.cuda, name)() == getattr(torch.cuda, name)()


@pytest.mark.parametrize("call", [
    lambda L: L.cuda.manual_seed(1), lambda L: L.cuda.manual_seed_all(2 ** 70),
    lambda L: L.cuda.set_rng_state_all([]), lambda L: L.cuda.memory_stats(),
    lambda L: L.cuda.default_generators, lambda L: L.cuda.stream(None).__enter__(),
    lambda L: L.cuda.device_of(L.zeros(1)).__enter__(),
    lambda L: L.cuda.set_rng_state(L.ByteTensor(8)),
])
def test_cuda_calls_that_succeed_match_torch(call) -> None:
    assert call(ember) == call(torch)


@pytest.mark.parametrize("call", [
    lambda L: L.cuda.synchronize(), lambda L: L.cuda.current_device(),
    lambda L: L.cuda.get_device_name(), lambda L: L.cuda.get_device_name(0),
    lambda L: L.cuda.get_device_properties(0), lambda L: L.cuda.get_device_capability(),
    lambda L: L.cuda.init(), lambda L: L.cuda.initial_seed(), lambda L: L.cuda.get_rng_state(),
    lambda L: L.cuda.mem_get_info(), lambda L: L.cuda.ipc_collect(),
    lambda L: L.cuda.current_stream(), lambda L: L.cuda.can_device_access_peer(0, 1),
    lambda L: L.cuda.set_per_process_memory_fraction(0.5),
    lambda L: L.cuda.manual_seed("a"), lambda L: L.cuda.Stream(), lambda L: L.cuda.Event(),
    lambda L: L.cuda.device(0).__enter__(), lambda L: L.cuda.FloatTensor([1.0]),
    lambda L: L.xpu.synchronize(), lambda L: L.xpu.current_device(), lambda L: L.xpu.init(),
    lambda L: L.mps.synchronize(), lambda L: L.mps.empty_cache(), lambda L: L.mps.seed(),
    lambda L: L.mps.current_allocated_memory(),
    lambda L: L.accelerator.current_device_index(), lambda L: L.accelerator.synchronize(),
    lambda L: L.accelerator.set_device_index(0), lambda L: L.accelerator.current_stream(),
])
def test_device_namespace_refusals_match_torch(call) -> None:
    check_raises_like(call)


def test_cuda_amp_grad_scaler_disables_itself_like_torch() -> None:
    scalers = []
    for L in (torch, ember):
        with pytest.warns(UserWarning, match="CUDA is not available.  Disabling."):
            with pytest.warns(FutureWarning, match="GradScaler"):
                scalers.append(L.cuda.amp.GradScaler(init_scale=8.0))
    assert ember.cuda.amp.amp_definitely_not_available()

    class Opt:
        def step(self, *args, **kwargs):
            return args, kwargs

    for s, L in zip(scalers, (torch, ember)):
        x = L.tensor(2.0)
        assert s.scale(x) is x
        assert (s.is_enabled(), s.get_scale(), s.state_dict()) == (False, 1.0, {})
        assert s.step(Opt(), 1, k=2) == ((1,), {"k": 2})
        assert s.unscale_(Opt()) is None and s.update() is None


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor",
                                  "HalfTensor", "BFloat16Tensor"])
def test_cuda_legacy_types_match_torch(name: str) -> None:
    t, e = getattr(torch.cuda, name), getattr(ember.cuda, name)
    assert (e.is_cuda, repr(e.dtype)) == (t.is_cuda, repr(t.dtype))
    assert repr(e) == repr(t).replace("torch", "ember")
    assert not isinstance(ember.ones(1).to(e.dtype), e)
    check_raises_like(lambda L: getattr(L.cuda, name)(2))
    check_raises_like(lambda L: L.ones(1).type(getattr(L.cuda, name)))
    check_raises_like(lambda L: L.ones(1).type(f"torch.cuda.{name}"))


def test_backends_match_torch() -> None:
    b, tb = ember.backends, torch.backends
    assert (b.cudnn.is_available(), b.cudnn.version(), b.mps.is_available(), b.mps.is_built(),
            b.cuda.is_built()) == (tb.cudnn.is_available(), tb.cudnn.version(),
                                   tb.mps.is_available(), tb.mps.is_built(), tb.cuda.is_built())
    assert b.cudnn.is_acceptable(ember.zeros(1)) == tb.cudnn.is_acceptable(torch.zeros(1))
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(b.cudnn, flag) == getattr(tb.cudnn, flag)
    for flag in ("allow_tf32", "allow_fp16_reduced_precision_reduction",
                 "allow_bf16_reduced_precision_reduction"):
        assert getattr(b.cuda.matmul, flag) == getattr(tb.cuda.matmul, flag)
    assert b.mkldnn.enabled == tb.mkldnn.enabled
    # ember does not run on oneDNN, OpenMP or MKL (torch's CPU build does)
    assert not (b.mkldnn.is_available() or b.openmp.is_available() or b.mkl.is_available())


def test_backend_flags_are_settable_and_checked_like_torch() -> None:
    for L in (torch, ember):
        cudnn = L.backends.cudnn
        saved = (cudnn.deterministic, cudnn.benchmark, cudnn.enabled, cudnn.allow_tf32)
        try:
            cudnn.deterministic = True
            cudnn.benchmark = True
            assert cudnn.deterministic is True and cudnn.benchmark is True
            with cudnn.flags(enabled=False, benchmark=False, deterministic=False,
                             allow_tf32=False):
                assert (cudnn.enabled, cudnn.deterministic, cudnn.allow_tf32) == (
                    False, False, False)
            assert (cudnn.deterministic, cudnn.benchmark, cudnn.enabled) == (True, True, True)
        finally:
            (cudnn.deterministic, cudnn.benchmark, cudnn.enabled, cudnn.allow_tf32) = saved
    for flag in ("deterministic", "benchmark", "enabled", "allow_tf32"):
        check_raises_like(lambda L, flag=flag: setattr(L.backends.cudnn, flag, 1))
    check_raises_like(lambda L: setattr(L.backends.cuda.matmul, "foo", 1))
    check_raises_like(lambda L: L.backends.cuda.matmul.foo)


def test_accelerator_mps_xpu_cpu_queries_match_torch() -> None:
    for name in ("is_available", "current_accelerator", "device_count"):
        assert getattr(ember.accelerator, name)() == getattr(torch.accelerator, name)()
    for mod in ("mps", "xpu"):
        for name in ("is_available", "device_count", "manual_seed"):
            args = (1,) if name == "manual_seed" else ()
            assert getattr(getattr(ember, mod), name)(*args) == getattr(
                getattr(torch, mod), name)(*args)
    assert (ember.xpu.is_initialized(), ember.xpu.seed_all(), ember.xpu.empty_cache()) == (
        torch.xpu.is_initialized(), torch.xpu.seed_all(), torch.xpu.empty_cache())
    for name in ("is_available", "device_count", "current_device", "synchronize",
                 "is_initialized"):
        assert getattr(ember.cpu, name)() == getattr(torch.cpu, name)()


def test_device_namespaces_do_not_slow_import() -> None:
    # nor do the half-precision extension (bfloat16's dtype, ~0.7 s) or numpy.polynomial
    code = ("import sys, ember; print(sorted(m for m in ('ember.cuda', 'ember.backends', "
            "'ember.testing', 'ember.accelerator', 'ml_dtypes', 'numpy.polynomial') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    code = "import ember.cuda, ember.backends.cudnn; print(ember.cuda.is_available())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


# Every layer that takes ``device=`` creates its parameters and buffers there, so a device
# this build lacks (or a name no build knows) raises torch's error instead of being ignored;
# so do moving a module and making uninitialised parameters.
_MODULES_ON = {
    "Linear": lambda nn, d: nn.Linear(2, 3, device=d),
    "Bilinear": lambda nn, d: nn.Bilinear(2, 2, 3, device=d),
    "LazyLinear": lambda nn, d: nn.LazyLinear(3, device=d),
    "Conv1d": lambda nn, d: nn.Conv1d(2, 3, 2, device=d),
    "Conv2d": lambda nn, d: nn.Conv2d(2, 3, 2, device=d),
    "ConvTranspose3d": lambda nn, d: nn.ConvTranspose3d(2, 3, 2, device=d),
    "LazyConv2d": lambda nn, d: nn.LazyConv2d(3, 2, device=d),
    "BatchNorm1d": lambda nn, d: nn.BatchNorm1d(3, device=d),
    "LazyBatchNorm2d": lambda nn, d: nn.LazyBatchNorm2d(device=d),
    "InstanceNorm2d": lambda nn, d: nn.InstanceNorm2d(3, affine=True, device=d),
    "LayerNorm": lambda nn, d: nn.LayerNorm(3, device=d),
    "GroupNorm": lambda nn, d: nn.GroupNorm(1, 3, device=d),
    "RMSNorm": lambda nn, d: nn.RMSNorm(3, device=d),
    "Embedding": lambda nn, d: nn.Embedding(4, 3, device=d),
    "EmbeddingBag": lambda nn, d: nn.EmbeddingBag(4, 3, device=d),
    "LSTM": lambda nn, d: nn.LSTM(2, 3, device=d),
    "GRUCell": lambda nn, d: nn.GRUCell(2, 3, device=d),
    "PReLU": lambda nn, d: nn.PReLU(device=d),
    "MultiheadAttention": lambda nn, d: nn.MultiheadAttention(4, 2, kdim=3, vdim=3, device=d),
    "TransformerEncoderLayer": lambda nn, d: nn.TransformerEncoderLayer(4, 2, 8, device=d),
    "Transformer": lambda nn, d: nn.Transformer(4, 2, 1, 1, 8, device=d),
    "AdaptiveLogSoftmaxWithLoss": lambda nn, d: nn.AdaptiveLogSoftmaxWithLoss(
        4, 10, [5], device=d),
    "UninitializedParameter": lambda nn, d: nn.UninitializedParameter(device=d),
    "square mask": lambda nn, d: nn.Transformer.generate_square_subsequent_mask(3, device=d),
    "to": lambda nn, d: nn.Linear(2, 2).to(d),
    "to_empty": lambda nn, d: nn.Linear(2, 2).to_empty(device=d),
}


@pytest.mark.parametrize("where", ["cuda", "xpu", "cuda:1", "nowhere"])
@pytest.mark.parametrize("name", list(_MODULES_ON))
def test_modules_refuse_devices_this_build_lacks(name, where):
    check_raises_like(lambda lib: _MODULES_ON[name](lib.nn, where))


@pytest.mark.parametrize("name", list(_MODULES_ON))
def test_modules_on_the_cpu_as_torch(name):
    # device="cpu" (and a torch.device) builds what no device builds: the same tensors
    results = {}
    for lib in (torch, ember):
        for where in ("cpu", lib.device("cpu"), None):
            lib.manual_seed(0)
            made = _MODULES_ON[name](lib.nn, where)
            if name == "UninitializedParameter":
                results.setdefault(lib, []).append(type(made).__name__)
                continue
            tensors = [made] if isinstance(made, lib.Tensor) else \
                list(made.parameters()) + list(made.buffers())
            results.setdefault(lib, []).append(
                [type(t).__name__ if lib.nn.parameter.is_lazy(t)
                 else (str(t.device), tuple(t.shape)) for t in tensors])
    assert results[ember] == results[torch]


def test_module_moves_as_torch():
    # cuda()/xpu() move every tensor (torch's error on this build); a module without tensors
    # comes back as it is
    check_raises_like(lambda lib: lib.nn.Linear(2, 2).cuda())
    check_raises_like(lambda lib: lib.nn.Linear(2, 2).xpu())
    relu = ember.nn.ReLU()
    assert relu.cuda() is relu and relu.xpu() is relu and relu.cpu() is relu


_DEVICE_NAMES = ["cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                 "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone", "cuda:1", 1, None, True, 1.5, "nowhere"]


@pytest.mark.parametrize("where", _DEVICE_NAMES)
def test_generators_and_pinning_on_devices_as_torch(where):
    # a generator or pinned memory for a device this build lacks: torch's error, worded per
    # device type (never a CPU generator for a device=cuda request)
    import warnings

    for call in (lambda lib: lib.Generator(device=where).device,
                 lambda lib: lib.ones(1).pin_memory(where),
                 lambda lib: lib.ones(1).is_pinned(where)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                expected = str(call(torch))
            except Exception as exc:  # noqa: BLE001 - compared with ember's below
                from tests.helpers import assert_raises_like

                assert_raises_like(exc, lambda call=call: call(ember))
                continue
            assert str(call(ember)) == expected


def test_pinning_device_argument_is_deprecated_as_torch():
    for lib in (torch, ember):
        with pytest.warns(DeprecationWarning, match="The argument 'device' of "
                          r"Tensor.is_pinned\(\) is deprecated. Please do not pass this "
                          "argument."):
            assert lib.ones(1).is_pinned("cuda") is False


# ("ipu", "index") left out: torch's dispatcher has no IPU kernel to report its error with
@pytest.mark.parametrize("method,kind,device", [
    (method, method, device)
    for method in ("cuda", "xpu", "ipu", "mtia")
    for device in (0, -1, "cpu", "meta", "foo", "accelerator", "index", "cpu-object")
    if (method, device) != ("ipu", "index")])
def test_accelerator_methods_check_their_device_like_torch(method, kind, device):
    """Tensor.cuda/xpu/ipu/mtia and the Module methods read their device argument as torch
    does: an index asks for an accelerator, a device of another type is refused."""
    def call(lib, on_module):
        arg = {"accelerator": kind, "index": f"{kind}:1",
               "cpu-object": lib.device("cpu")}.get(device, device)
        if on_module:
            return getattr(lib.nn.Linear(1, 1), method)(arg)
        return getattr(lib.ones(1), method)(arg)

    for on_module in (False, True):
        check_raises_like(lambda lib, on_module=on_module: call(lib, on_module))
