"""torch's top-level namespace beyond nn: the in-place functions, torch.functional,
compile, swap_tensors, the runtime settings, and torch.testing. torch is the oracle."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch


def _torch_inplace_names() -> list:
    return sorted(n for n in dir(torch) if n.endswith("_") and not n.startswith("_")
                  and callable(getattr(torch, n)))


def test_every_top_level_inplace_function_exists() -> None:
    missing = [n for n in _torch_inplace_names() if not hasattr(ember, n)]
    assert missing == []


_UNARY_SKIP = {"as_strided_", "detach_", "fill_", "index_put_", "clamp_", "clamp_max_",
               "clamp_min_", "clip_", "addmv_", "gcd_", "lcm_", "ldexp_", "xlogy_",
               "dropout_", "alpha_dropout_", "feature_alpha_dropout_", "threshold_",
               "rrelu_", "celu_", "feature_dropout_", "embedding_renorm_", "resize_as_",
               "resize_as_sparse_"}


@pytest.mark.parametrize("name", [n for n in _torch_inplace_names()
                                  if n not in _UNARY_SKIP])
def test_unary_inplace_function_matches_torch(name: str) -> None:
    values = np.linspace(0.1, 0.9, 6).reshape(2, 3)
    t, e = torch.tensor(values), ember.tensor(values)
    t_out, e_out = getattr(torch, name)(t), getattr(ember, name)(e)
    assert e_out is e
    assert_same(e, t)
    assert t_out is t


@pytest.mark.parametrize("call", [
    lambda L, x: L.clamp_(x, 0.2, 0.5), lambda L, x: L.clamp_min_(x, 0.3),
    lambda L, x: L.clamp_max_(x, 0.3), lambda L, x: L.clip_(x, min=0.4),
    lambda L, x: L.xlogy_(x, x), lambda L, x: L.fill_(x, 2.5),
    lambda L, x: L.celu_(x - 0.5, 2.0), lambda L, x: L.threshold_(x, 0.5, -1.0),
    lambda L, x: L.rrelu_(x - 0.5), lambda L, x: L.dropout_(x, 0.0, True),
    lambda L, x: L.alpha_dropout_(x, 0.5, False),
    lambda L, x: L.feature_alpha_dropout_(x, 0.5, False),
    lambda L, x: L.feature_dropout_(x.unsqueeze(0), 0.5, False),
    lambda L, x: L.embedding_renorm_(x, L.tensor([1, 0]), 0.5, 2.0),
    lambda L, x: L.resize_as_(x, x[:1]),
])
def test_inplace_function_with_arguments_matches_torch(call) -> None:
    values = np.linspace(0.1, 0.9, 6).reshape(2, 3)
    t, e = torch.tensor(values), ember.tensor(values)
    assert_same(call(ember, e), call(torch, t))


def test_inplace_function_records_torch_history() -> None:
    t = torch.tensor([0.5, 1.5], requires_grad=True) * 1
    e = ember.tensor([0.5, 1.5], requires_grad=True) * 1
    assert type(ember.sin_(e).grad_fn).__name__ == type(torch.sin_(t).grad_fn).__name__


def test_functional_module_matches_torch() -> None:
    assert set(ember.functional.__all__) == set(torch.functional.__all__)
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    assert_same(ember.functional.einsum("ij,jk->ik", ember.tensor(a), ember.tensor(b)),
                torch.functional.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b)))
    for e, t in zip(ember.functional.split(ember.tensor(b), 2),
                    torch.functional.split(torch.tensor(b), 2)):
        assert_same(e, t)
    assert_same(ember.functional.norm(ember.tensor(a)), torch.functional.norm(torch.tensor(a)))


def _first_torch_warning(expression: str) -> str:
    """The text of the first warning ``expression`` raises in a fresh interpreter (torch's
    warn-once warnings are spent in this one once any test has triggered them)."""
    code = ("import warnings, torch\nwith warnings.catch_warnings(record=True) as w:\n"
            f"    warnings.simplefilter('always')\n    {expression}\nprint(str(w[0].message))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    # torch appends where in its C++ sources it warned
    return done.stdout.strip().split(" (Triggered internally at")[0]


def test_chain_matmul_matches_torch() -> None:
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 2)]]
    t_in = [torch.tensor(m, requires_grad=True) for m in mats]
    e_in = [ember.tensor(m, requires_grad=True) for m in mats]
    with warnings.catch_warnings():
        # torch warns once per process (an earlier test may have had its warning): its text
        # is compared in a fresh interpreter below
        warnings.simplefilter("ignore")
        t = torch.chain_matmul(*t_in)
    with pytest.warns(UserWarning, match="chain_matmul is deprecated") as record:
        e = ember.functional.chain_matmul(*e_in)
    assert str(record[0].message) == _first_torch_warning(
        "torch.chain_matmul(torch.ones(2, 2), torch.ones(2, 2))")
    assert_same(e, t)
    assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__
    cot = rng.standard_normal((2, 2))
    t.backward(torch.tensor(cot))
    e.backward(ember.tensor(cot))
    for ei, ti in zip(e_in, t_in):
        assert_same(ei.grad, ti.grad)
    with pytest.warns(UserWarning):
        check_raises_like(lambda L: (L.chain_matmul if L is torch else L.functional.chain_matmul)(
            L.ones(2)))


def test_compile_returns_same_behaviour() -> None:
    def f(x):
        return x * 2 + 1

    g = ember.compile(f)
    assert g.__wrapped__ is f and g.__name__ == "f"
    x = ember.tensor([1.0, 2.0])
    assert ember.equal(g(x), f(x))
    assert ember.compile(f, disable=True) is f

    @ember.compile
    def h(x):
        return x - 1

    @ember.compile(mode="max-autotune", fullgraph=True, dynamic=False)
    def k(x):
        return x + 3

    assert ember.equal(h(x), x - 1) and ember.equal(k(x), x + 3)
    module = ember.nn.Linear(2, 2)
    compiled = ember.compile(module)
    assert type(compiled).__name__ == type(torch.compile(torch.nn.Linear(2, 2))).__name__
    assert compiled._orig_mod is module


@pytest.mark.parametrize("kwargs", [{"mode": "foo"}, {"mode": "default", "options": {}}])
def test_compile_refuses_like_torch(kwargs) -> None:
    check_raises_like(lambda L: L.compile(lambda x: x, **kwargs))


def test_compile_refuses_unknown_backend_and_non_callables() -> None:
    with pytest.raises(RuntimeError, match="Invalid backend: 'foo'"):
        ember.compile(lambda x: x, backend="foo")
    check_raises_like(lambda L: L.compile(1))


def test_swap_tensors_matches_torch() -> None:
    results = []
    for L in (torch, ember):
        a = L.tensor([1.0, 2.0])
        b = L.tensor([3.0], dtype=L.float64, requires_grad=True)
        a.tag = "a"
        ida, idb = id(a), id(b)
        L.utils.swap_tensors(a, b)
        assert (id(a), id(b)) == (ida, idb)
        results.append((a.tolist(), b.tolist(), str(a.dtype), a.requires_grad, b.tag))
    assert results[0] == results[1]
    check_raises_like(lambda L: L.utils.swap_tensors(L.ones(1), 1))


def test_matmul_precision_matches_torch() -> None:
    try:
        for L in (torch, ember):
            assert L.get_float32_matmul_precision() == "highest"
            L.set_float32_matmul_precision("high")
            assert L.get_float32_matmul_precision() == "high"
            with pytest.warns(UserWarning, match="foo is not one of"):
                L.set_float32_matmul_precision("foo")
            assert L.get_float32_matmul_precision() == "high"
            assert L.backends.cuda.matmul.allow_tf32 is True
    finally:
        torch.set_float32_matmul_precision("highest")
        ember.set_float32_matmul_precision("highest")
    assert ember.backends.cuda.matmul.allow_tf32 is False


def test_deterministic_algorithms_match_torch() -> None:
    try:
        for L in (torch, ember):
            L.use_deterministic_algorithms(True, warn_only=True)
            assert L.are_deterministic_algorithms_enabled()
            assert L.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
        ember.use_deterministic_algorithms(False)
    assert not ember.are_deterministic_algorithms_enabled()
    check_raises_like(lambda L: L.use_deterministic_algorithms(1))


def test_is_nonzero_is_storage_is_inference_match_torch() -> None:
    for L in (torch, ember):
        assert L.is_nonzero(L.tensor([1])) is True
        assert L.is_nonzero(L.tensor([0.0])) is False
        assert L.is_storage(L.ones(2)) is False
        assert L.ones(2).is_inference() is False
    for data in ([], [1, 2]):
        check_raises_like(lambda L, data=data: L.is_nonzero(L.tensor(data)))
    check_raises_like(lambda L: L.is_nonzero(1))


# ---- torch.testing ---------------------------------------------------------------------

_CLOSE_CASES = [
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0, 3.0]), L.tensor([1.0, 2.5, 3.0])),
    lambda L: L.testing.assert_close(L.tensor([[1.0, 2.0], [3.0, 4.0]]),
                                     L.tensor([[1.0, 2.5], [3.0, 5.0]])),
    lambda L: L.testing.assert_close(L.tensor([1, 2]), L.tensor([1, 3])),
    lambda L: L.testing.assert_close(L.tensor(1.0), L.tensor(2.0)),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.0], dtype=L.float64)),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.0, 2.0])),
    lambda L: L.testing.assert_close(1.0, 1.1),
    lambda L: L.testing.assert_close([1.0, 2.0], [1.0, 2.1]),
    lambda L: L.testing.assert_close({"a": L.tensor(1.0)}, {"a": L.tensor(1.5)}),
    lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")])),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.0]), rtol=1e-3),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.1]), msg="custom"),
    lambda L: L.testing.assert_close(L.tensor([True]), L.tensor([False])),
    lambda L: L.testing.assert_close(L.tensor([1 + 1j]), L.tensor([1 + 2j])),
    lambda L: L.testing.assert_close(L.zeros(2, 3).t(), L.zeros(3, 2), check_stride=True),
    lambda L: L.testing.assert_close(L.tensor([1.0, float("inf")]), L.tensor([1.0, 2.0])),
    lambda L: L.testing.assert_close(1, 1.0),
    lambda L: L.testing.assert_close(L.tensor([1], dtype=L.int32), L.tensor([1])),
    lambda L: L.testing.assert_close((1, 2), (1, 2, 3)),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5]),
                                     rtol=0, atol=0),
    lambda L: L.testing.assert_close(L.tensor([1.0], dtype=L.float16),
                                     L.tensor([1.01], dtype=L.float16)),
    lambda L: L.testing.assert_close(L.arange(6.0).view(2, 3), L.arange(6.0).view(2, 3) * 1.5),
    # NumPy scalars compare as the Python numbers they hold
    lambda L: L.testing.assert_close(np.float32(1.0), np.float32(1.1)),
    lambda L: L.testing.assert_close(np.int64(1), 1.0),
    lambda L: L.testing.assert_close(np.ones(2), np.zeros(2)),
]


@pytest.mark.parametrize("case", range(len(_CLOSE_CASES)))
def test_assert_close_fails_like_torch(case: int) -> None:
    check_raises_like(_CLOSE_CASES[case])


@pytest.mark.parametrize("call", [
    lambda L: L.testing.assert_close(L.tensor([float("nan")]), L.tensor([float("nan")]),
                                     equal_nan=True),
    lambda L: L.testing.assert_close(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0]).double(),
                                     check_dtype=False),
    lambda L: L.testing.assert_close(L.tensor([1.0]), L.tensor([1.0 + 1e-6])),
    lambda L: L.testing.assert_close(L.tensor([0.0]), L.tensor([1e-6])),
    lambda L: L.testing.assert_close([L.ones(2), 1], [L.ones(2), 1]),
    lambda L: L.testing.assert_close(L.tensor([float("inf")]), L.tensor([float("inf")])),
    lambda L: L.testing.assert_close(np.float64(1.0), 1.0),
    lambda L: L.testing.assert_close(np.float32(1.0), 1.0),
    lambda L: L.testing.assert_close(np.float32(1.0), np.float64(1.0)),
    lambda L: L.testing.assert_close([np.bool_(True), np.int64(2)], [True, 2]),
    lambda L: L.testing.assert_close(np.ones(2), np.ones(2)),
])
def test_assert_close_passes_like_torch(call) -> None:
    assert call(torch) is None
    assert call(ember) is None


@pytest.mark.parametrize("order", ["tensor first", "array first"])
def test_assert_close_refuses_a_tensor_and_an_array_as_torch(order: str) -> None:
    messages = []
    for lib in (torch, ember):
        pair = (lib.ones(2), np.ones(2))
        with pytest.raises(TypeError) as info:
            lib.testing.assert_close(*(pair if order == "tensor first" else pair[::-1]))
        messages.append(str(info.value).replace("ember.Tensor", "torch.Tensor"))
    assert messages[0] == messages[1]


def test_assert_close_callable_msg() -> None:
    with pytest.raises(AssertionError, match="^wrapped: Scalars are not close!"):
        ember.testing.assert_close(1.0, 2.0, msg=lambda m: "wrapped: " + m)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=6), st.floats(-1e-4, 1e-4),
       st.sampled_from(["float32", "float64"]))
def test_assert_close_agrees_with_torch(values, shift, dtype) -> None:
    a = np.array(values)
    b = a + shift
    outcomes = []
    for L in (torch, ember):
        try:
            L.testing.assert_close(L.tensor(a, dtype=getattr(L, dtype)),
                                   L.tensor(b, dtype=getattr(L, dtype)))
            outcomes.append(None)
        except AssertionError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "complex64",
                                   "int64", "int32", "uint8", "int8", "bool"])
@pytest.mark.parametrize("kwargs", [{}, {"low": -2, "high": 3}, {"noncontiguous": True},
                                    {"exclude_zero": True, "low": 0, "high": 2}])
def test_make_tensor_same_values_as_torch(dtype: str, kwargs: dict) -> None:
    if dtype == "bool" and "low" in kwargs and kwargs["high"] > 2:
        kwargs = {}
    torch.manual_seed(3)
    ember.manual_seed(3)
    t = torch.testing.make_tensor(2, 5, dtype=getattr(torch, dtype), device="cpu", **kwargs)
    e = ember.testing.make_tensor(2, 5, dtype=getattr(ember, dtype), device="cpu", **kwargs)
    assert_same(e, t, rtol=0, atol=0)
    assert e.is_contiguous() == t.is_contiguous()


def test_make_tensor_requires_grad_and_errors_match_torch() -> None:
    e = ember.testing.make_tensor((3,), dtype=ember.float32, device="cpu", requires_grad=True)
    assert e.requires_grad and e.is_leaf
    check_raises_like(lambda L: L.testing.make_tensor(2, dtype=L.int64, device="cpu",
                                                      requires_grad=True))
    check_raises_like(lambda L: L.testing.make_tensor(2, dtype=L.float32, device="cpu",
                                                      low=3, high=1))
    check_raises_like(lambda L: L.testing.make_tensor(2, dtype=L.uint8, device="cpu",
                                                      low=-5, high=-1))
    check_raises_like(lambda L: L.testing.make_tensor(2, dtype=L.float32, device="cuda"))


# ---- integer division by zero and boolean masks of the wrong shape ----------------------

@pytest.mark.parametrize("call", [
    lambda L: L.tensor([1, 2]) // L.tensor([0, 1]), lambda L: L.floor_divide(L.tensor([3]), 0),
    lambda L: L.div(L.tensor([3]), 0, rounding_mode="floor"),
    lambda L: L.div(L.tensor([3]), 0, rounding_mode="trunc"),
    lambda L: L.tensor([3], dtype=L.uint8) // 0, lambda L: 7 // L.tensor([0]),
    lambda L: L.tensor([1, 2]) % 0, lambda L: L.remainder(L.tensor([3]), L.tensor([0])),
    lambda L: L.fmod(L.tensor([3]), 0),
    lambda L: L.tensor([True]) // L.tensor([False]),
    lambda L: L.div(L.tensor([True]), L.tensor([True]), rounding_mode="trunc"),
])
def test_integer_division_by_zero_raises_like_torch(call) -> None:
    check_raises_like(call)


def test_float_and_nonzero_integer_division_unchanged() -> None:
    for call in (lambda L: L.tensor([1.0, -1.0]) // 0, lambda L: L.tensor([7, -3]) // 2,
                 lambda L: L.div(L.tensor([7, -3]), L.tensor([2, 2]), rounding_mode="trunc")):
        assert_same(call(ember), call(torch))


@pytest.mark.parametrize("call", [
    lambda L: L.arange(3)[L.tensor([True, False])],
    lambda L: L.zeros(3, 2)[L.tensor([[True, False]])],
    lambda L: L.zeros(3, 2)[:, L.tensor([True, False, True])],
    lambda L: L.zeros(3).__setitem__(L.tensor([True, False]), 1),
])
def test_boolean_mask_of_wrong_shape_raises_like_torch(call) -> None:
    check_raises_like(call)


def test_boolean_masks_of_the_right_shape_still_index() -> None:
    for call in (lambda L: L.arange(6).view(3, 2)[L.tensor([True, False, True])],
                 lambda L: L.arange(6).view(3, 2)[..., L.tensor([True, False])],
                 lambda L: L.arange(6).view(3, 2)[:, L.tensor([False, True]), None]):
        assert_same(call(ember), call(torch))


def test_constants_and_aliases_match_torch() -> None:
    for name in ("e", "inf", "nan", "pi"):
        t_value, e_value = getattr(torch, name), getattr(ember, name)
        assert type(e_value) is type(t_value)
        assert repr(e_value) == repr(t_value)
    assert ember.newaxis is torch.newaxis is None
    x = np.arange(6.0).reshape(2, 3)
    assert_same(ember.tensor(x)[:, ember.newaxis], torch.tensor(x)[:, torch.newaxis])
    assert ember.GradScaler is ember.amp.GradScaler
    assert torch.GradScaler is torch.amp.GradScaler
    assert ember.legacy_contiguous_format is ember.contiguous_format
    assert repr(ember.legacy_contiguous_format) == repr(torch.legacy_contiguous_format)


def test_version_compares_as_torch_version() -> None:
    assert type(ember.__version__).__name__ == type(torch.__version__).__name__
    assert isinstance(ember.__version__, str)
    assert ember.__version__ == ember.version.__version__
    for other in ("0.0.9", "0.1.0", "0.1.0rc1", "0.2", (0, 1), (0, 1, 1)):
        assert (ember.__version__ >= other) == (torch.torch_version.TorchVersion("0.1.0")
                                               >= other)
        assert (ember.__version__ < other) == (torch.torch_version.TorchVersion("0.1.0")
                                              < other)


def test_removed_matrix_rank_raises_like_torch() -> None:
    # torch raises before its function mode sees the call: the block names it
    with recording_compared("torch.matrix_rank"):
        check_raises_like(lambda L: L.matrix_rank(L.eye(3)))


_ALLCLOSE_CASES = [
    ("float64 off", lambda lib: (lib.ones(1, dtype=lib.float64),
                                 lib.ones(1, dtype=lib.float64) * (1 + 2e-5)), {}),
    ("float16 off", lambda lib: (lib.ones(1, dtype=lib.float16),
                                 lib.ones(1, dtype=lib.float16) * 1.01), {}),
    ("float32 against float64", lambda lib: (lib.ones(1),
                                             lib.ones(1, dtype=lib.float64) * 1.001), {}),
    ("integers", lambda lib: (lib.ones(1, dtype=lib.int64), lib.ones(1, dtype=lib.int64) * 2),
     {}),
    ("bfloat16 exact", lambda lib: (lib.ones(1, dtype=lib.bfloat16),
                                    lib.ones(1, dtype=lib.bfloat16) * 1.1), {}),
    ("float32 off", lambda lib: (lib.ones(2), lib.ones(2) * 1.001), {}),
    ("custom message", lambda lib: (lib.ones(2), lib.ones(2) * 1.1), {"msg": "custom"}),
    ("rtol alone", lambda lib: (lib.ones(2), lib.ones(2) * 1.1), {"rtol": 0.2}),
]


@pytest.mark.parametrize("name", [c[0] for c in _ALLCLOSE_CASES])
def test_deprecated_assert_allclose_as_torch(name):
    # the older default tolerances, torch's messages, and the deprecation warning
    make, kwargs = next((c[1], c[2]) for c in _ALLCLOSE_CASES if c[0] == name)

    def call(lib):
        with pytest.warns(FutureWarning, match=r"`torch.testing.assert_allclose\(\)` is "
                          "deprecated since 1.12"):
            lib.testing.assert_allclose(*make(lib), **kwargs)

    check_raises_like(call)


def test_deprecated_assert_allclose_passes_as_torch():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for lib in (torch, ember):
            lib.testing.assert_allclose([1.0, 2.0], (1.0, 2.0))
            lib.testing.assert_allclose(lib.tensor([float("nan")]), lib.tensor([float("nan")]))
            lib.testing.assert_allclose(lib.ones(2), lib.ones(2) * (1 + 5e-5))
            lib.testing.assert_allclose(lib.ones(2, dtype=lib.float64), lib.ones(2))
