"""asarray, frombuffer, empty_strided, empty_permuted and from_file compared with torch:
values, dtype, strides, memory sharing, errors and warnings."""
from __future__ import annotations

import array
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import (
    assert_same,
    check_raises_like,
    recording_compared,
    torch,
    torch_or_refused,
)


@pytest.fixture
def warn_always():
    """Both libraries' once-per-process warnings raised on every call, so each test sees
    them whatever ran before."""
    torch.set_warn_always(True)
    ember.set_warn_always(True)
    yield
    torch.set_warn_always(False)
    ember.set_warn_always(False)


def _messages(call) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    # torch appends where in its C++ sources it warned
    return [str(w.message).split(" (Triggered internally")[0] for w in caught]


def _shares(lib, make_source, convert, write) -> tuple:
    """(result, whether a write through the result reaches the source)."""
    source = make_source()
    result = convert(lib, source)
    before = bytes(memoryview(source).cast("B")) if not isinstance(source, np.ndarray) \
        else source.tobytes()
    write(result)
    after = bytes(memoryview(source).cast("B")) if not isinstance(source, np.ndarray) \
        else source.tobytes()
    return result, before != after


def _same_result(e, t, what: str = "") -> None:
    assert_same(e, t, what=what)
    assert e.stride() == t.stride(), f"{what}: {e.stride()} != {t.stride()}"
    assert e.requires_grad == t.requires_grad, what


# ---- asarray ----------------------------------------------------------------------------


def _fill_first(t) -> None:
    lib = torch if isinstance(t, torch.Tensor) else ember
    with lib.no_grad():
        t[(0,) * t.dim()] = 42


NUMPY_CASES = {
    "float64": (lambda: np.arange(6.0).reshape(2, 3), {}),
    "float32 as float64": (lambda: np.arange(6, dtype=np.float32), {"dtype": "float64"}),
    "same dtype": (lambda: np.arange(6, dtype=np.int32), {"dtype": "int32"}),
    "copy": (lambda: np.arange(6.0), {"copy": True}),
    "copy False": (lambda: np.arange(6.0), {"copy": False}),
    "transposed": (lambda: np.arange(6.0).reshape(2, 3).T, {}),
    "transposed copy": (lambda: np.arange(6.0).reshape(2, 3).T, {"copy": True}),
    "sliced": (lambda: np.arange(12.0)[::3], {}),
    "int8": (lambda: np.arange(4, dtype=np.int8), {}),
    "bool": (lambda: np.array([True, False]), {}),
    "0-d": (lambda: np.array(3.5), {}),
}


def _kwargs(lib, kwargs: dict) -> dict:
    return {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}


@pytest.mark.parametrize("case", sorted(NUMPY_CASES))
def test_asarray_numpy_shares_when_torch_does(case):
    make, kwargs = NUMPY_CASES[case]
    with recording_compared() as run:
        results = [_shares(lib, make, lambda lib, a: run(lib, lambda lib, a: lib.asarray(
            a, **_kwargs(lib, kwargs)), a), _fill_first) for lib in (torch, ember)]
    (t, t_shared), (e, e_shared) = results
    _same_result(e, t, case)
    assert e_shared == t_shared, case


@pytest.mark.parametrize("value", [np.float32(2.5), np.float64(2.5), np.int16(3), np.bool_(1)])
def test_asarray_numpy_scalars(value):
    with recording_compared() as run:
        _same_result(run(ember, lambda lib: lib.asarray(value)),
                     run(torch, lambda lib: lib.asarray(value)))


@pytest.mark.parametrize("data", [
    [1, 2], [1.0, 2], [[1, 2], [3, 4]], 3, 3.5, True, (1.5, 2.5), [True, False], [], [[]],
    [np.float64(1.0)],
])
@pytest.mark.parametrize("dtype", [None, "float64", "int32"])
def test_asarray_python_data(data, dtype):
    kwargs = {} if dtype is None else {"dtype": dtype}
    with recording_compared() as run:
        try:
            t = run(torch, lambda lib: lib.asarray(data, **_kwargs(lib, kwargs)))
        except (RuntimeError, TypeError, ValueError):
            check_raises_like(lambda lib: lib.asarray(data, **_kwargs(lib, kwargs)))
            return
        _same_result(run(ember, lambda lib: lib.asarray(data, **_kwargs(lib, kwargs))), t)


def test_asarray_python_data_under_another_default_dtype():
    with recording_compared() as run:
        for lib in (torch, ember):
            lib.set_default_dtype(lib.float64)
        try:
            results = [run(lib, lambda lib: lib.asarray([1.5, 2])) for lib in (torch, ember)]
        finally:
            for lib in (torch, ember):
                lib.set_default_dtype(lib.float32)
        _same_result(results[1], results[0])


@pytest.mark.parametrize("fn", [
    lambda lib: lib.asarray([1, 2], copy=False),
    lambda lib: lib.asarray(3.0, copy=False),
    lambda lib: lib.asarray(np.arange(3.0), dtype=lib.float32, copy=False),
    lambda lib: lib.asarray(lib.ones(2), dtype=lib.float64, copy=False),
    lambda lib: lib.asarray(np.arange(3)[::-1]),
    lambda lib: lib.asarray("ab"),
    lambda lib: lib.asarray([[1], [2, 3]]),
    lambda lib: lib.asarray([1, 2], requires_grad=True),
    lambda lib: lib.asarray(lib.ones(2, dtype=lib.int64), requires_grad=True),
    lambda lib: lib.asarray(bytearray(b"abc")),
])
def test_asarray_errors(fn):
    check_raises_like(fn)


TENSOR_CASES = {
    "plain": ("plain", {}),
    "plain copy": ("plain", {"copy": True}),
    "plain float64": ("plain", {"dtype": "float64"}),
    "plain requires_grad": ("plain", {"requires_grad": True}),
    "plain no grad": ("plain", {"requires_grad": False}),
    "leaf": ("leaf", {}),
    "leaf no grad": ("leaf", {"requires_grad": False}),
    "leaf copy": ("leaf", {"copy": True}),
    "nonleaf": ("nonleaf", {}),
    "nonleaf requires_grad": ("nonleaf", {"requires_grad": True}),
    "nonleaf no grad": ("nonleaf", {"requires_grad": False}),
    "nonleaf copy": ("nonleaf", {"copy": True}),
    "nonleaf copy no grad": ("nonleaf", {"copy": True, "requires_grad": False}),
    "nonleaf float64": ("nonleaf", {"dtype": "float64"}),
    "plain copy requires_grad": ("plain", {"copy": True, "requires_grad": True}),
}


def _source(lib, kind: str):
    x = lib.arange(4.0).reshape(2, 2)
    if kind == "plain":
        return x
    x.requires_grad_(True)
    return x if kind == "leaf" else x * 2


@pytest.mark.parametrize("case", sorted(TENSOR_CASES))
def test_asarray_tensor(case, warn_always):
    kind, kwargs = TENSOR_CASES[case]
    outcome = {}
    with recording_compared() as run:
        for lib in (torch, ember):
            source = _source(lib, kind)
            got = []
            warned = _messages(lambda lib=lib, source=source, got=got: got.append(run(
                lib, lambda lib, s: lib.asarray(s, **_kwargs(lib, kwargs)), source)))
            result = got[0]
            same_memory = result.data_ptr() == source.data_ptr()
            node = type(result.grad_fn).__name__ if result.grad_fn is not None else None
            outcome[lib] = (result, result is source, same_memory, node, result.is_leaf,
                            source.requires_grad, warned)
    t, e = outcome[torch], outcome[ember]
    _same_result(e[0], t[0], case)
    assert e[1:] == t[1:], case


@pytest.mark.parametrize("make", [
    lambda: bytearray(range(16)),
    lambda: array.array("d", [1.0, 2.0]),
    lambda: array.array("i", [1, 2, 3, 4]),
    lambda: memoryview(bytearray(range(8))).cast("h"),
])
@pytest.mark.parametrize("kwargs", [{}, {"dtype": "int16"}, {"dtype": "uint8", "copy": True}])
def test_asarray_buffers_are_raw_bytes(make, kwargs):
    with recording_compared() as run:
        results = [_shares(lib, make, lambda lib, b: run(lib, lambda lib, b: lib.asarray(
            b, **_kwargs(lib, kwargs)), b), _fill_first) for lib in (torch, ember)]
    (t, t_shared), (e, e_shared) = results
    _same_result(e, t)
    assert e_shared == t_shared


# ---- frombuffer -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32", "float64", "bool",
                                   "complex64", "bfloat16"])
@pytest.mark.parametrize("count, offset", [(-1, 0), (2, 0), (1, 8), (-1, 8)])
def test_frombuffer_shares_the_buffer(dtype, count, offset):
    def convert(lib, b):
        return lib.frombuffer(b, dtype=getattr(lib, dtype), count=count, offset=offset)

    # frombuffer takes no tensor: torch's function mode cannot see it, the block names it
    with recording_compared("torch.frombuffer") as run:
        results = [_shares(lib, lambda: bytearray(range(32)),
                           lambda lib, b: run(lib, convert, b), _fill_first)
                   for lib in (torch, ember)]
    (t, t_shared), (e, e_shared) = results
    _same_result(e, t)
    assert e_shared is t_shared is True


def test_frombuffer_sees_writes_to_the_buffer():
    with recording_compared() as run:
        values = []
        for lib in (torch, ember):
            b = bytearray(8)
            t = run(lib, lambda lib, b: lib.frombuffer(b, dtype=lib.int16), b)
            b[2] = 7
            values.append(t)
        _same_result(values[1], values[0])


def test_frombuffer_requires_grad():
    with recording_compared() as run:
        fn = lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32,  # noqa: E731
                                        requires_grad=True)
        _same_result(run(ember, fn), run(torch, fn))


def test_frombuffer_read_only_buffer_warns_and_writes(warn_always):
    outcome = []
    with recording_compared() as run:
        for lib in (torch, ember):
            source = bytes(8)
            got = []
            warned = _messages(lambda lib=lib, source=source, got=got: got.append(
                run(lib, lambda lib, s: lib.frombuffer(s, dtype=lib.int32), source)))
            got[0][1] = 5
            outcome.append((got[0], warned, source))
    (t, t_warned, t_source), (e, e_warned, e_source) = outcome
    _same_result(e, t)
    assert e_warned == t_warned and len(e_warned) == 1
    assert e_source == t_source


@pytest.mark.parametrize("fn", [
    lambda lib: lib.frombuffer(bytearray(16), dtype=lib.int32, offset=3),
    lambda lib: lib.frombuffer(bytearray(16), dtype=lib.int32, count=5),
    lambda lib: lib.frombuffer(bytearray(16), dtype=lib.int32, offset=16),
    lambda lib: lib.frombuffer(bytearray(16), dtype=lib.int32, offset=-1),
    lambda lib: lib.frombuffer(bytearray(16), dtype=lib.int32, count=0),
    lambda lib: lib.frombuffer(bytearray(), dtype=lib.int32),
    lambda lib: lib.frombuffer([1, 2], dtype=lib.int32),
    lambda lib: lib.frombuffer(memoryview(bytearray(8))[::2], dtype=lib.uint8),
    lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, requires_grad=True),
])
def test_frombuffer_errors(fn):
    check_raises_like(fn)


# ---- empty_strided and empty_permuted ------------------------------------------------------


@pytest.mark.parametrize("size, stride", [
    ((2, 3), (3, 1)), ((2, 3), (1, 2)), ((2, 3, 4), (1, 8, 2)), ((2, 3), (0, 0)),
    ((2, 3), (5, 1)), ((), ()), ((4,), (3,)), ((3, 1, 2), (2, 7, 1)),
])
def test_empty_strided(size, stride):
    def fn(lib):
        return lib.empty_strided(size, stride, dtype=lib.float64).zero_()

    with recording_compared() as run:
        _same_result(run(ember, fn), run(torch, fn))
        grad = lambda lib: lib.empty_strided(size, stride, requires_grad=True)  # noqa: E731
        e, t = run(ember, grad), run(torch, grad)
        assert (e.stride(), e.requires_grad, e.dtype.is_floating_point) == \
            (t.stride(), t.requires_grad, t.dtype.is_floating_point)


def test_empty_strided_writes_land_in_shared_memory():
    with recording_compared() as run:
        results = []
        for lib in (torch, ember):
            x = run(lib, lambda lib: lib.empty_strided((2, 3), (1, 1)).zero_())
            x[0, 1] = 5.0  # the same element as x[1, 0] with these strides
            results.append(x)
        _same_result(results[1], results[0])


@pytest.mark.parametrize("fn", [
    lambda lib: lib.empty_strided((2, 3), (1,)),
    lambda lib: lib.empty_strided((2, 3), (1, -2)),
    lambda lib: lib.empty_strided((2, -3), (1, 2)),
    lambda lib: lib.empty_strided(2, 1),
])
def test_empty_strided_errors(fn):
    check_raises_like(fn)


@pytest.mark.parametrize("size, order", [
    ((2, 3, 4), (2, 0, 1)), ((2, 3, 4, 5), (0, 2, 3, 1)), ((3,), (0,)), ((1, 4, 1), (1, 2, 0)),
    ((2, 3), (1, 0)),
])
def test_empty_permuted(size, order):
    def fn(lib):
        return lib.empty_permuted(size, order, dtype=lib.int32).zero_()

    with recording_compared() as run:
        _same_result(run(ember, fn), run(torch, fn))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.empty_permuted((2, 3, 4), (2, 0, 0)),
    lambda lib: lib.empty_permuted((2, 3, 4), (1, 0)),
    lambda lib: lib.empty_permuted((2, 3, 4), (-1, 0, 1)),
    lambda lib: lib.empty_permuted((2, 3, 4), (3, 0, 1)),
])
def test_empty_permuted_errors(fn):
    check_raises_like(fn)


# ---- from_file ----------------------------------------------------------------------------


def _file(tmp_path, name: str, count: int = 10):
    path = tmp_path / name
    np.arange(count, dtype=np.float32).tofile(path)
    return str(path)


@pytest.mark.parametrize("kwargs", [
    {"size": 4}, {"size": 10}, {}, {"size": 2, "dtype": "float64"},
    {"size": 3, "dtype": "int16"}, {"shared": False, "size": 5},
])
def test_from_file_reads(tmp_path, kwargs):
    path = _file(tmp_path, "data.bin")
    with recording_compared("torch.from_file"):
        _same_result(ember.from_file(path, **_kwargs(ember, kwargs)),
                     torch.from_file(path, **_kwargs(torch, kwargs)))


@pytest.mark.parametrize("shared", [False, True])
def test_from_file_writes_reach_the_file_only_when_shared(tmp_path, shared):
    with recording_compared("torch.from_file"):
        outcome = []
        for lib in (torch, ember):
            path = _file(tmp_path, f"{lib.__name__}.bin")
            t = lib.from_file(path, shared, 4)
            t[0] = 100.0
            outcome.append((t, np.fromfile(path, np.float32)))
        (t, t_file), (e, e_file) = outcome
        _same_result(e, t)
        np.testing.assert_array_equal(e_file, t_file)


def test_from_file_shared_makes_and_grows_the_file(tmp_path):
    with recording_compared("torch.from_file"):
        outcome = []
        for lib in (torch, ember):
            grown = _file(tmp_path, f"{lib.__name__}-grown.bin", 3)
            made = str(tmp_path / f"{lib.__name__}-made.bin")
            outcome.append((lib.from_file(grown, True, 6), np.fromfile(grown, np.float32),
                            lib.from_file(made, True, 2), np.fromfile(made, np.float32)))
        for e_item, t_item in zip(outcome[1], outcome[0]):
            if isinstance(t_item, np.ndarray):
                np.testing.assert_array_equal(e_item, t_item)
            else:
                _same_result(e_item, t_item)


def test_from_file_errors(tmp_path):
    path = _file(tmp_path, "short.bin")
    missing = str(tmp_path / "missing.bin")
    with recording_compared("torch.from_file"):
        for fn in [lambda lib: lib.from_file(path, size=11),
                   lambda lib: lib.from_file(missing, size=2),
                   lambda lib: lib.from_file(path, size=-1),
                   lambda lib: lib.from_file(tmp_path / "short.bin", size=2)]:
            check_raises_like(fn)


# ---- DLPack ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64",
                                   "float16"])
def test_dlpack_shares_memory_both_ways(dtype):
    values = np.arange(6).reshape(2, 3).astype(dtype)
    with recording_compared("torch.from_dlpack", "torch.to_dlpack") as run:
        t_src = torch.tensor(values)
        e_from_torch = run(ember, lambda L, x: L.from_dlpack(x), t_src)
        assert_same(e_from_torch, t_src)
        e_src = ember.tensor(values)
        t_from_ember = torch.from_dlpack(e_src)
        assert_same(e_src, t_from_ember)
        capsule = ember.to_dlpack(e_src)
        assert type(capsule).__name__ == type(torch.to_dlpack(t_src)).__name__
        assert_same(ember.from_dlpack(capsule), torch.from_dlpack(torch.to_dlpack(t_src)))
    # the same memory: writes show through
    t_src.view(-1)[0] = 1
    e_src.view(-1)[1] = 1
    assert bool(e_from_torch.view(-1)[0] == 1) and bool(t_from_ember.view(-1)[1] == 1)
    assert e_src.__dlpack_device__() == t_src.__dlpack_device__()
    assert ember.utils.dlpack.from_dlpack is ember.from_dlpack
    assert ember.utils.dlpack.to_dlpack is ember.to_dlpack


def test_dlpack_of_views_and_errors_match_torch():
    base = np.arange(12.0).reshape(3, 4)
    view = ember.tensor(base)[:, 1::2]
    assert_same(view, torch.from_dlpack(view))
    assert torch.from_dlpack(view).stride() == view.stride()
    assert_same(ember.from_dlpack(torch.tensor(base).t()), torch.tensor(base).t())
    check_raises_like(lambda L: L.ones(2, requires_grad=True).__dlpack__())
    check_raises_like(lambda L: L.from_dlpack(5))
    for lib in (torch, ember):
        capsule = lib.to_dlpack(lib.ones(2))
        lib.from_dlpack(capsule)
        with pytest.raises(RuntimeError, match="invalid capsule"):
            lib.from_dlpack(capsule)


def test_from_dlpack_copy_and_device_keywords_match_torch():
    for lib in (torch, ember):
        source = np.arange(3.0)
        copied = lib.from_dlpack(source, copy=True)
        copied[0] = 5
        assert source[0] == 0
        shared = lib.from_dlpack(source, device="cpu")
        shared[0] = 7
        assert source[0] == 7
    check_raises_like(lambda L: L.from_dlpack(np.arange(3.0), device="cuda"))


# ---- tensor, as_tensor and from_numpy of NumPy arrays torch refuses or warns about ---------


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_ARRAYS = {
    "reversed": lambda: np.arange(4.)[::-1],
    "reversed_rows": lambda: np.arange(6.).reshape(2, 3)[::-1],
    "reversed_columns": lambda: np.arange(6.).reshape(2, 3)[:, ::-1],
    "big_endian": lambda: np.arange(4, dtype=">f8"),
    "big_endian_int": lambda: np.arange(4, dtype=">i4"),
    "read_only": lambda: _read_only(np.arange(4.)),
    "read_only_strided": lambda: _read_only(np.arange(8.).reshape(2, 4)[:, ::2]),
    "read_only_empty": lambda: _read_only(np.zeros((0, 3))),
}
_CONVERSIONS = {
    "tensor": lambda lib, a: lib.tensor(a),
    "tensor_float32": lambda lib, a: lib.tensor(a, dtype=lib.float32),
    "as_tensor": lambda lib, a: lib.as_tensor(a),
    "as_tensor_float32": lambda lib, a: lib.as_tensor(a, dtype=lib.float32),
    "from_numpy": lambda lib, a: lib.from_numpy(a),
    "asarray": lambda lib, a: lib.asarray(a),
}


@pytest.mark.parametrize("convert", list(_CONVERSIONS))
@pytest.mark.parametrize("array", list(_ARRAYS))
def test_numpy_sources(warn_always, array, convert):
    """Negative strides and another byte order refused, a read-only array shared with
    torch's warning (writes through the tensor reach it, as in torch), copies left apart."""
    def fn(lib):
        source = _ARRAYS[array]()
        out = {}
        out["warnings"] = _messages(lambda: out.setdefault(
            "tensor", _CONVERSIONS[convert](lib, source)))
        t = out["tensor"]
        if t.numel():
            t[(0,) * t.dim()] = 7
        return t, out["warnings"], source.copy()

    t = torch_or_refused(fn, TypeError, ValueError)
    if t is None:
        return
    with recording_compared() as run:
        e = run(ember, fn)
        run(torch, fn)
    assert_same(e[0], t[0])
    assert e[1] == t[1]
    np.testing.assert_array_equal(e[2], t[2])


@pytest.mark.parametrize("fn", [
    lambda lib: lib.tensor([np.arange(4.), np.arange(4.)]),
    lambda lib: lib.as_tensor([[np.arange(2.)]]),
    lambda lib: lib.tensor([np.float64(1.), np.float64(2.)]),
])
def test_list_of_arrays_warns(warn_always, fn):
    assert _messages(lambda: fn(ember)) == _messages(lambda: fn(torch))


@pytest.mark.parametrize("value", ["np.float64(3.0)", "[1, 2]", "None"])
def test_from_numpy_refuses_what_is_not_an_array(value):
    check_raises_like(lambda lib: lib.from_numpy(eval(value)))


_HALF_NUMBER_CALLS = [
    "L.full((k,), v, dtype=D)", "L.full_like(L.zeros(k, dtype=D), v)",
    "L.zeros(k, dtype=D).new_full((k,), v)", "L.zeros(k, dtype=D).fill_(v)",
    "L.fill(L.zeros(k, dtype=D), v)", "L.zeros(k, dtype=D).clamp(max=v)",
    "L.zeros(k, dtype=D).clamp_min(v)", "L.zeros(k, dtype=D).clamp_max(-v)",
    "L.zeros(k, dtype=D) ** v", "L.zeros(k, dtype=D).add(1, alpha=v)",
    "L.zeros(k, dtype=D).masked_fill(L.ones(k, dtype=L.bool), v)",
    "L.zeros(k, dtype=D).index_fill(0, L.tensor([0] * min(k, 1), dtype=L.int64), v)",
    "L.zeros(k, dtype=D).scatter(0, L.tensor([0] * min(k, 1), dtype=L.int64), v)",
    "x[...] = v", "x[L.ones(k, dtype=L.bool)] = v", "L.zeros(k, dtype=D) + v",
    "L.where(L.ones(k, dtype=L.bool), L.zeros(k, dtype=D), v)",
]


@pytest.mark.parametrize("call", _HALF_NUMBER_CALLS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("value", [1e5, 65504, 65520, 1e39, float("inf")])
@pytest.mark.parametrize("numel", [0, 1, 2])
def test_numbers_beyond_half_range(call: str, dtype: str, value, numel: int) -> None:
    # NOTE [Half fill values]: clamp's bounds, pow's exponent, add's alpha, masked_fill,
    # index_fill and scatter refuse a number beyond float16/bfloat16's range, as do fill_
    # (full, full_like, new_full, fill) of more or fewer than one element; ember filled inf
    def fn(L):
        g = {"L": L, "D": getattr(L, dtype), "v": value, "k": numel,
             "x": L.zeros(numel, dtype=getattr(L, dtype))}
        if call.startswith("x["):
            exec(call, g)
            return g["x"]
        return eval(call, g)
    t = torch_or_refused(fn, RuntimeError)
    if t is not None:
        assert_same(fn(ember), t)


@pytest.mark.parametrize("args", [
    (float("inf"),), (0, float("inf")), (0, float("nan")), (float("-inf"), 0),
    (0, 5, float("nan")), (float("nan"), 5), (1.5, float("inf")), (1e20, float("inf")),
    (float("inf"), 0, -1), (0, 5, float("-inf")), (0, 5, float("inf")),
])
def test_arange_of_infinite_or_nan_bounds(args) -> None:
    # torch's "unsupported range: 0 -> inf"; ember leaked Python's OverflowError/ValueError
    def fn(L):
        return L.arange(*args)
    t = torch_or_refused(fn, RuntimeError)
    if t is not None:
        assert_same(fn(ember), t)
