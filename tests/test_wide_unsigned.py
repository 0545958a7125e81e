"""torch's uint16, uint32 and uint64 against ember (NOTE [Wide unsigned dtypes] in
ember/_dtype.py): dtype facts, promotion, creation from Python data, conversions,
printing, saving, and the ops torch computes on them."""
from __future__ import annotations

import io

import numpy as np
import pytest

import ember
from tests.helpers import assert_raises_like, check_raises_like, recording_compared, torch

WIDE = ["uint16", "uint32", "uint64"]
ALL_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
             "float32", "float64", "complex64", "complex128", "float8_e5m2"] + WIDE


def _same_outcome(fn) -> None:
    """``fn(lib)`` gives the same repr on both libraries, or the same exception."""
    try:
        expected = fn(torch)
    except Exception as exc:  # torch refuses: ember must refuse the same way
        assert_raises_like(exc, lambda: fn(ember))
        return
    got = fn(ember)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("name", WIDE)
def test_dtype_facts_and_iinfo(name: str) -> None:
    t, e = getattr(torch, name), getattr(ember, name)
    assert repr(e) == repr(t)
    assert (e.itemsize, e.is_floating_point, e.is_complex, e.is_signed) == (
        t.itemsize, t.is_floating_point, t.is_complex, t.is_signed)
    assert repr(ember.iinfo(e)) == repr(torch.iinfo(t))
    for field in ("bits", "min", "max", "dtype"):
        assert getattr(ember.iinfo(e), field) == getattr(torch.iinfo(t), field)
    assert repr(e.to_real()) == repr(t.to_real())
    check_raises_like(lambda lib: getattr(lib, name).to_complex())


@pytest.mark.parametrize("name", WIDE)
@pytest.mark.parametrize("other", ALL_NAMES)
def test_promote_types_matches_torch(name: str, other: str) -> None:
    _same_outcome(lambda lib: lib.promote_types(getattr(lib, name), getattr(lib, other)))
    _same_outcome(lambda lib: lib.promote_types(getattr(lib, other), getattr(lib, name)))


@pytest.mark.parametrize("expr", [
    "lib.ones(2, dtype=U) * lib.tensor([1, 2], dtype=lib.int8)",
    "lib.tensor([True, False]) * lib.tensor(3, dtype=U)",
    "lib.tensor(3, dtype=U) * lib.tensor([1, 2], dtype=lib.int8)",
    "lib.ones(2, dtype=U) * lib.tensor(2, dtype=lib.int8)",
    "lib.ones(2, dtype=U) * True",
    "lib.ones(2, dtype=U) * lib.tensor([2.0], dtype=lib.float16)",
    "lib.ones(2, dtype=U) * 1j",
    "lib.ones(2, dtype=U) * -1",
    "lib.ones(2, dtype=U) * 70000",
    "lib.ones(2, dtype=U) == -1",
    "lib.result_type(lib.ones(2, dtype=U), 1)",
    "lib.result_type(lib.ones(2, dtype=U), 1.5)",
    "lib.where(lib.tensor([True, False]), lib.ones(2, dtype=U), 5)",
    "lib.where(lib.tensor([True, False]), lib.ones(2, dtype=U), 5.0)",
    "lib.where(lib.tensor([True, False]), lib.ones(2, dtype=U), lib.tensor([1, 2]))",
    "lib.cat([lib.ones(2, dtype=U), lib.ones(2)])",
])
@pytest.mark.parametrize("name", WIDE)
def test_promotion_through_ops(expr: str, name: str) -> None:
    with recording_compared() as run:
        _same_outcome(lambda lib: run(lib, lambda lib: eval(expr, {"lib": lib,
                                                                    "U": getattr(lib, name)})))


_DATA = ["[-1]", "[2**32]", "[-2**32]", "[-2**31-1]", "[-(2**32-1)]", "[1.5]", "[True]",
         "[2**63, 1]", "[2**63, -1]", "[1.5, 2**63]", "[-0.5]", "[float('nan')]", "[1e30]",
         "[1+0j]", "2**64-1", "[[2**63], [1]]", "[2**63, 1.5]", "[lib.tensor(3)]",
         "[np.uint64(2**64-1)]", "np.array([2**64-1], dtype=np.uint64)", "[-2**70]", "[2**70]",
         "[]", "[[]]", "[2**64-1, 0]", "5", "True"]


@pytest.mark.parametrize("data", _DATA)
@pytest.mark.parametrize("name", WIDE + ["int64", "uint8"])
def test_tensor_from_python_data(data: str, name: str) -> None:
    def make(lib):
        t = lib.tensor(eval(data, {"lib": lib, "np": np}), dtype=getattr(lib, name))
        return repr(t), t.tolist()
    _same_outcome(make)


_VALUES = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -3.7, 127.9, 128.0, 255.5, 256.0, -129.0,
           300.0, 65535.0, 65536.0, 70000.5, -70000.0, 2.0 ** 31, 2.0 ** 32, 5e9, -5e9,
           2.0 ** 53 + 1]


@pytest.mark.parametrize("source", ["float16", "bfloat16", "float32", "float64", "int64",
                                    "int32", "bool"] + WIDE)
@pytest.mark.parametrize("target", WIDE + ["uint8", "int8", "int16", "int32", "int64",
                                           "float32", "float64", "bfloat16"])
def test_conversions_match_torch(source: str, target: str) -> None:
    # values each source holds, out to where torch's conversions stop being defined
    # behaviour of its C++ (NaN, infinities, beyond 64 bits differ between its kernels)
    if source in WIDE:
        top = {"uint16": 16, "uint32": 32, "uint64": 64}[source]
        raw = np.array([0, 1, 255, 2 ** 15, 2 ** (top - 1), 2 ** top - 1], dtype=source)
    elif source == "bool":
        raw = np.array([True, False])
    elif source.startswith("int"):
        raw = np.array([0, 1, -1, 127, 128, -129, 65535, 70000, -70000, 2 ** 31 - 1])
        raw = raw.astype(source)
    else:
        raw = np.array(_VALUES)
        if source == "float16":
            raw = raw[np.abs(raw) < 65504]

    def convert(lib):
        src = lib.tensor(raw)
        if source in ("float16", "bfloat16", "float32", "int32"):
            src = src.to(getattr(lib, source))
        out = src.to(getattr(lib, target))
        return out.tolist(), repr(out)
    _same_outcome(convert)


# Ops torch computes on uint16/32/64 CPU tensors.
_SUPPORTED = {
    "zeros": lambda lib, D, a, b: lib.zeros(2, 3, dtype=D),
    "ones": lambda lib, D, a, b: lib.ones(3, dtype=D),
    "full": lambda lib, D, a, b: lib.full((2,), 7, dtype=D),
    "full_negative": lambda lib, D, a, b: lib.full((2,), -1, dtype=D),
    "empty_shape": lambda lib, D, a, b: lib.empty(0, 2, dtype=D),
    "zeros_like": lambda lib, D, a, b: lib.zeros_like(a),
    "full_like": lambda lib, D, a, b: lib.full_like(a, 3),
    "new_ones": lambda lib, D, a, b: a.new_ones(2),
    "fill_": lambda lib, D, a, b: a.clone().fill_(5),
    "zero_": lambda lib, D, a, b: a.clone().zero_(),
    "copy_": lambda lib, D, a, b: a.clone().copy_(b),
    "setitem": lambda lib, D, a, b: a.clone().__setitem__(0, 7),
    "tolist": lambda lib, D, a, b: a.tolist(),
    "item": lambda lib, D, a, b: (a[-1].item(), type(a[-1].item())),
    "to_float32": lambda lib, D, a, b: a.float(),
    "to_float64": lambda lib, D, a, b: a.double(),
    "to_half": lambda lib, D, a, b: a.half(),
    "to_bfloat16": lambda lib, D, a, b: a.to(lib.bfloat16),
    "to_complex64": lambda lib, D, a, b: a.to(lib.complex64),
    "to_int64": lambda lib, D, a, b: a.long(),
    "to_bool": lambda lib, D, a, b: a.bool(),
    "eq": lambda lib, D, a, b: a == b,
    "ne": lambda lib, D, a, b: a != b,
    "eq_negative": lambda lib, D, a, b: a == -1,
    "equal": lambda lib, D, a, b: lib.equal(a, b),
    "mul": lambda lib, D, a, b: a * b,
    "mul_scalar": lambda lib, D, a, b: a * 3,
    "mul_float": lambda lib, D, a, b: a * 2.5,
    "div": lambda lib, D, a, b: a / b,
    "true_divide": lambda lib, D, a, b: a.true_divide(2),
    "and": lambda lib, D, a, b: a & b,
    "or": lambda lib, D, a, b: a | b,
    "xor": lambda lib, D, a, b: a ^ b,
    "sqrt": lambda lib, D, a, b: a.sqrt(),
    "pow_0": lambda lib, D, a, b: a ** 0,
    "pow_1": lambda lib, D, a, b: a ** 1,
    "pow_true": lambda lib, D, a, b: a.pow(True),
    "pow_float": lambda lib, D, a, b: a ** 2.5,
    "sum": lambda lib, D, a, b: a.sum(),
    "sum_dim": lambda lib, D, a, b: a.view(2, 3).sum(0),
    "prod": lambda lib, D, a, b: a.prod(),
    "cumsum": lambda lib, D, a, b: a.cumsum(0),
    "nansum": lambda lib, D, a, b: a.nansum(),
    "sort": lambda lib, D, a, b: a.sort(),
    "argsort": lambda lib, D, a, b: a.argsort(),
    "msort": lambda lib, D, a, b: a.msort(),
    "unique": lambda lib, D, a, b: a.unique(return_counts=True),
    "any": lambda lib, D, a, b: a.any(),
    "all": lambda lib, D, a, b: a.all(),
    "isnan": lambda lib, D, a, b: a.isnan(),
    "index": lambda lib, D, a, b: a[1:3],
    "index_tensor": lambda lib, D, a, b: a[lib.tensor([0, 2])],
    "view": lambda lib, D, a, b: a.view(2, 3),
    "view_dtype": lambda lib, D, a, b: a.view(lib.uint8),
    "t": lambda lib, D, a, b: a.view(2, 3).t(),
    "expand": lambda lib, D, a, b: a[:2].expand(2, 2),
    "cat": lambda lib, D, a, b: lib.cat([a, b]),
    "stack": lambda lib, D, a, b: lib.stack([a, b]),
    "repeat": lambda lib, D, a, b: a.repeat(2),
    "roll": lambda lib, D, a, b: a.roll(1),
    "where": lambda lib, D, a, b: lib.where(a == b, a, b),
    "numpy": lambda lib, D, a, b: a.numpy(),
    "type": lambda lib, D, a, b: (a.type(), a.element_size(), a.is_signed()),
    "repr_long": lambda lib, D, a, b: lib.zeros(2000, dtype=D),
}


def _pair(lib, name):
    top = {"uint16": 2 ** 16 - 1, "uint32": 2 ** 32 - 1, "uint64": 2 ** 64 - 1}[name]
    a = lib.tensor(np.array([0, 1, 255, 12345, top, top // 2 + 1], dtype=name))
    b = lib.tensor(np.array([3, 1, 255, 2, top, 7], dtype=name))
    return a, b


@pytest.mark.parametrize("name", WIDE)
@pytest.mark.parametrize("op", sorted(_SUPPORTED))
def test_supported_ops_match_torch(name: str, op: str) -> None:
    fn = _SUPPORTED[op]
    with recording_compared() as run:
        t = run(torch, lambda lib: fn(lib, getattr(lib, name), *_pair(lib, name)))
        e = run(ember, lambda lib: fn(lib, getattr(lib, name), *_pair(lib, name)))
        assert repr(e) == repr(t)


@pytest.mark.parametrize("name", WIDE)
def test_save_load_round_trip(name: str) -> None:
    buffer = io.BytesIO()
    ember.save({"t": _pair(ember, name)[0]}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)["t"]
    assert loaded.tolist() == _pair(torch, name)[0].tolist()
    assert loaded.dtype == getattr(torch, name)
    buffer = io.BytesIO()
    torch.save({"t": _pair(torch, name)[0]}, buffer)
    buffer.seek(0)
    assert repr(ember.load(buffer)["t"]) == repr(_pair(torch, name)[0])


@pytest.mark.parametrize("name", WIDE)
def test_from_numpy_and_numpy_scalars(name: str) -> None:
    raw = np.array([1, 2, 3], dtype=name)
    assert repr(ember.from_numpy(raw)) == repr(torch.from_numpy(raw))
    _same_outcome(lambda lib: lib.tensor(raw[1]))
    _same_outcome(lambda lib: lib.tensor([raw[1]]))
    _same_outcome(lambda lib: lib.tensor(raw[1], dtype=getattr(lib, name)))
    for other in (np.longdouble, np.clongdouble, np.object_, np.str_):
        check_raises_like(lambda lib, other=other: lib.from_numpy(np.array([1], other)))


# Ops torch's CPU kernels refuse on uint16/32/64 ("not implemented for 'UInt16'"), on two
# tensors of one dtype, beside a number, a 0-d tensor or a float, and on empty tensors.
_REFUSED = {
    "add_scalar": lambda lib, a, b, e: a + 1,
    "add_0d": lambda lib, a, b, e: a + lib.tensor(1),
    "radd": lambda lib, a, b, e: 1 + a,
    "sub_scalar": lambda lib, a, b, e: a - 1,
    "rsub": lambda lib, a, b, e: 2 - a,
    "add_float": lambda lib, a, b, e: a + 1.5,
    "lt": lambda lib, a, b, e: a < b,
    "le_scalar": lambda lib, a, b, e: a <= 1,
    "gt_empty": lambda lib, a, b, e: e > e,
    "ge_float": lambda lib, a, b, e: a >= 1.5,
    "floor_divide": lambda lib, a, b, e: a // b,
    "floor_divide_scalar": lambda lib, a, b, e: a // 2,
    "div_trunc": lambda lib, a, b, e: a.div(b, rounding_mode="trunc"),
    "remainder": lambda lib, a, b, e: a % b,
    "remainder_scalar": lambda lib, a, b, e: a % 2,
    "remainder_float": lambda lib, a, b, e: a % 1.5,
    "fmod": lambda lib, a, b, e: a.fmod(b),
    "fmod_scalar": lambda lib, a, b, e: a.fmod(2),
    "pow": lambda lib, a, b, e: a ** b,
    "pow_scalar": lambda lib, a, b, e: a ** 2,
    "rpow": lambda lib, a, b, e: 2 ** a,
    "square": lambda lib, a, b, e: a.square(),
    "neg": lambda lib, a, b, e: -a,
    "neg_empty": lambda lib, a, b, e: -e,
    "abs": lambda lib, a, b, e: a.abs(),
    "sign": lambda lib, a, b, e: a.sign(),
    "sgn": lambda lib, a, b, e: a.sgn(),
    "bitwise_not": lambda lib, a, b, e: ~a,
    "logical_not": lambda lib, a, b, e: a.logical_not(),
    "logical_and": lambda lib, a, b, e: a.logical_and(b),
    "logical_xor": lambda lib, a, b, e: a.logical_xor(b),
    "lshift": lambda lib, a, b, e: a << b,
    "rshift_scalar": lambda lib, a, b, e: a >> 1,
    "gcd": lambda lib, a, b, e: a.gcd(b),
    "maximum": lambda lib, a, b, e: lib.maximum(a, b),
    "minimum": lambda lib, a, b, e: lib.minimum(a, b),
    "maximum_float": lambda lib, a, b, e: lib.maximum(a, lib.tensor(1.0)),
    "clamp": lambda lib, a, b, e: a.clamp(0, 2),
    "clamp_min": lambda lib, a, b, e: a.clamp(min=2),
    "clamp_max": lambda lib, a, b, e: a.clamp(max=2),
    "clamp_tensors": lambda lib, a, b, e: a.clamp(b, b),
    "clamp_min_tensor": lambda lib, a, b, e: a.clamp(min=b),
    "clamp_min_method": lambda lib, a, b, e: a.clamp_min(1),
    "relu": lambda lib, a, b, e: lib.relu(a),
    "lerp": lambda lib, a, b, e: a.lerp(b, 0.5),
    "frac": lambda lib, a, b, e: a.frac(),
    "arange": lambda lib, a, b, e: lib.arange(3, dtype=a.dtype),
    "arange_empty": lambda lib, a, b, e: lib.arange(0, dtype=a.dtype),
    "linspace": lambda lib, a, b, e: lib.linspace(0, 1, 3, dtype=a.dtype),
    "linspace_one": lambda lib, a, b, e: lib.linspace(0, 1, 1, dtype=a.dtype),
    "logspace": lambda lib, a, b, e: lib.logspace(0, 1, 3, dtype=a.dtype),
    "max": lambda lib, a, b, e: a.max(),
    "max_dim": lambda lib, a, b, e: a.view(2, 3).max(1),
    "max_dim_empty": lambda lib, a, b, e: e.view(0, 3).max(1),
    "min": lambda lib, a, b, e: a.min(),
    "amax": lambda lib, a, b, e: a.amax(),
    "amin_dim": lambda lib, a, b, e: a.view(2, 3).amin(1),
    "argmax": lambda lib, a, b, e: a.argmax(),
    "argmin_dim": lambda lib, a, b, e: a.view(2, 3).argmin(1),
    "aminmax": lambda lib, a, b, e: a.aminmax(),
    "cummax": lambda lib, a, b, e: a.cummax(0),
    "cummin_empty": lambda lib, a, b, e: e.cummin(0),
    "median": lambda lib, a, b, e: a.median(),
    "median_dim": lambda lib, a, b, e: a.view(2, 3).median(1),
    "nanmedian_dim": lambda lib, a, b, e: a.view(2, 3).nanmedian(0),
    "mode": lambda lib, a, b, e: a.mode(),
    "kthvalue": lambda lib, a, b, e: a.kthvalue(1),
    "topk": lambda lib, a, b, e: a.topk(2),
    "topk_empty": lambda lib, a, b, e: e.view(0, 3).topk(1),
    "count_nonzero": lambda lib, a, b, e: a.count_nonzero(),
    "count_nonzero_dim": lambda lib, a, b, e: a.view(2, 3).count_nonzero(0),
    "nonzero": lambda lib, a, b, e: a.nonzero(),
    "nonzero_empty": lambda lib, a, b, e: e.nonzero(),
    "bincount": lambda lib, a, b, e: e.bincount(),
    "var": lambda lib, a, b, e: a.var(),
    "mean": lambda lib, a, b, e: a.mean(),
    "flip": lambda lib, a, b, e: a.flip(0),
    "flip_function": lambda lib, a, b, e: lib.flip(a, [0]),
    "flip_empty": lambda lib, a, b, e: e.flip(0),
    "index_select": lambda lib, a, b, e: a.index_select(0, lib.tensor([0])),
    "index_select_empty": lambda lib, a, b, e: e.index_select(0, lib.tensor([], dtype=lib.long)),
    "gather": lambda lib, a, b, e: a.gather(0, lib.tensor([0])),
    "scatter": lambda lib, a, b, e: a.scatter(0, lib.tensor([0]), b),
    "scatter_value": lambda lib, a, b, e: a.scatter(0, lib.tensor([0]), 5),
    "index_add": lambda lib, a, b, e: a.index_add(0, lib.tensor([0]), b[:1]),
    "index_copy": lambda lib, a, b, e: a.index_copy(0, lib.tensor([0]), b[:1]),
    "index_fill": lambda lib, a, b, e: a.index_fill(0, lib.tensor([0]), 1),
    "masked_fill": lambda lib, a, b, e: a.masked_fill(a == b, 0),
    "masked_select": lambda lib, a, b, e: a.masked_select(a == b),
    "take": lambda lib, a, b, e: a.take(lib.tensor([0])),
}


@pytest.mark.parametrize("name", WIDE)
@pytest.mark.parametrize("op", sorted(_REFUSED))
def test_refused_ops_match_torch(name: str, op: str) -> None:
    fn = _REFUSED[op]

    def call(lib):
        a, b = _pair(lib, name)
        return fn(lib, a, b, lib.empty(0, dtype=getattr(lib, name)))
    _same_outcome(call)
