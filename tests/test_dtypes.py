"""dtype conversions and type promotion against torch: values and dtypes of casts between
every pair of dtypes, and what torch.tensor makes of Python data at the edges of a dtype."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import (
    assert_raises_like,
    assert_same,
    recording_compared,
    torch,
    torch_or_refused,
)

INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]


def same_outcome(fn) -> None:
    """``fn(lib)`` gives the same repr on both libraries, or raises the same exception."""
    try:
        expected = fn(torch)
    except Exception as exc:  # torch refuses: ember must refuse the same way
        assert_raises_like(exc, lambda: fn(ember))
        return
    assert repr(fn(ember)) == repr(expected)


# float values whose conversion to each integer dtype torch defines on every kernel (in
# range of int64; NaN, infinities and beyond differ between torch's own vector and scalar
# paths)
_FLOAT_VALUES = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -3.7, 127.9, 128.0, 255.5, 256.0,
                 -129.0, 300.0, 65535.0, 65536.0, 70000.5, -70000.0, 2.0 ** 31, 2.0 ** 32,
                 5e9, -5e9, 2.0 ** 53 + 1]


@pytest.mark.parametrize("source", FLOATS)
@pytest.mark.parametrize("target", INTS + ["bool"])
def test_float_to_integer_conversions(source: str, target: str) -> None:
    values = np.array(_FLOAT_VALUES)
    if source == "float16":
        values = values[np.abs(values) < 65504]

    def convert(lib):
        out = lib.tensor(values).to(getattr(lib, source)).to(getattr(lib, target))
        return out.tolist(), repr(out)
    same_outcome(convert)


@pytest.mark.parametrize("data", ["[2**63, 1.5]", "[1.5, 2**63]", "[2**70, 1.5]",
                                  "[-2**63-1, 1.5]", "[-2**63, 1.5]", "[2.0**63, 1]",
                                  "[[2**63], [1.5]]", "[1e30, 1]"])
@pytest.mark.parametrize("dtype", [None, "float32", "complex64", "bool"] + INTS)
def test_ints_beyond_int64_beside_floats(data: str, dtype) -> None:
    def make(lib):
        return lib.tensor(eval(data), dtype=dtype and getattr(lib, dtype))
    same_outcome(make)


# ---- type promotion: every pair of dtypes, 0-d and not, and Python numbers ------------

PROMOTED = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
            "float32", "float64", "complex64", "complex128", "uint16", "uint32", "uint64"]
WIDE = ("uint16", "uint32", "uint64")
_NUMBERS = [True, 2, -1, 2.5, 1j, 300]
_BINARY = {
    "result_type": lambda L, a, b: L.result_type(a, b),
    "add": lambda L, a, b: L.add(a, b), "sub": lambda L, a, b: L.sub(a, b),
    "mul": lambda L, a, b: L.mul(a, b), "div": lambda L, a, b: L.div(a, b),
    "true_divide": lambda L, a, b: L.true_divide(a, b),
    "div_floor": lambda L, a, b: L.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda L, a, b: L.div(a, b, rounding_mode="trunc"),
    "floor_divide": lambda L, a, b: L.floor_divide(a, b),
    "remainder": lambda L, a, b: L.remainder(a, b), "fmod": lambda L, a, b: L.fmod(a, b),
    "pow": lambda L, a, b: L.pow(a, b), "atan2": lambda L, a, b: L.atan2(a, b),
    "bitwise_and": lambda L, a, b: L.bitwise_and(a, b),
    "bitwise_or": lambda L, a, b: L.bitwise_or(a, b),
    "bitwise_xor": lambda L, a, b: L.bitwise_xor(a, b),
    "eq": lambda L, a, b: L.eq(a, b), "lt": lambda L, a, b: L.lt(a, b),
    "where": lambda L, a, b: L.where(L.tensor([True, False, True, False]), a, b),
    "radd": lambda L, a, b: b + a, "rsub": lambda L, a, b: b - a,
    "rtruediv": lambda L, a, b: b / a, "rpow": lambda L, a, b: b ** a,
    "rfloordiv": lambda L, a, b: b // a, "rmod": lambda L, a, b: b % a,
}


def _operand(L, name: str, zero_dim: bool, second: bool):
    if name == "bool":
        values = [True, False, True, True] if second else [True, True, False, True]
    else:
        values = [2, 1, 3, 1] if second else [3, 1, 0, 2]
    t = L.tensor(np.array(values, dtype=np.float64 if name != "bool" else bool))
    t = t.to(getattr(L, name))
    return t[0] if zero_dim else t


def _known_gap(op: str, a: str, b) -> bool:
    """The differences ember keeps (see NOTE [Wide unsigned dtypes]): ``add``/``sub`` of
    two tensors of one wide unsigned dtype compute (torch's kernel refuses them, and a
    check would cost every add), and torch's maximum names a complex operand before it
    refuses to promote it with a wide unsigned one."""
    return (op in ("add", "sub", "radd", "rsub") and a == b and a in WIDE) or \
        (op == "maximum" and {a, b} & set(WIDE) and {a, b} & {"complex64", "complex128"})


def _compare(fn, what: str) -> None:
    try:
        expected = fn(torch)
    except Exception as exc:  # torch refuses: ember must refuse the same way
        if "ComplexHalf" in str(exc):
            return  # ember has no complex32 (torch's float16 with a complex number)
        assert_raises_like(exc, lambda: fn(ember), what=what)
        return
    if isinstance(expected, torch.dtype):
        if expected != torch.complex32:
            assert repr(fn(ember)) == repr(expected), what
        return
    if expected.dtype == torch.complex32:
        return
    assert_same(fn(ember), expected, what=what)


def _cases(op: str):
    """(first operand, second operand, label) of every case of ``op``: two tensors of
    every pair of dtypes, each 0-d or not, and a tensor with each Python number."""
    for a in PROMOTED:
        for a0 in (False, True):
            for b in PROMOTED:
                if not _known_gap(op, a, b):
                    for b0 in (False, True):
                        yield ((a, a0), (b, b0),
                               f"{op}({a}{' 0-d' * a0}, {b}{' 0-d' * b0})")
            if op != "where":
                for number in _NUMBERS:
                    yield (a, a0), number, f"{op}({a}{' 0-d' * a0}, {number!r})"


def _make(L, operand, second: bool):
    return operand if not isinstance(operand, tuple) else _operand(L, *operand, second)


@pytest.mark.parametrize("op", sorted(_BINARY))
def test_binary_promotion_matches_torch(op: str) -> None:
    fn = _BINARY[op]
    with recording_compared() as run:
        for first, second, what in _cases(op):
            def call(L, first=first, second=second):
                return run(L, lambda L: fn(L, _make(L, first, False), _make(L, second, True)))
            _compare(call, what)


_ALPHAS = [2, 0, -1, True, False, 300, 128, -128, 255, 1.5, 1.0, -0.5, 1j, 2 + 0j, 1 + 0j]


@pytest.mark.parametrize("op", ["add", "sub", "add_", "add_number"])
@pytest.mark.parametrize("name", [n for n in PROMOTED if n not in WIDE])
def test_alpha_converts_as_torch(op: str, name: str) -> None:
    # alpha takes the result's dtype: True for any nonzero alpha of bools, wrapped into
    # uint8, refused when beyond an integer dtype, when a float meets integers or a complex
    # number meets non-complex tensors
    for alpha in _ALPHAS:
        def call(L, alpha=alpha):
            a, b = _operand(L, name, False, False), _operand(L, name, False, True)
            if op == "add_":
                return a.clone().add_(b, alpha=alpha)
            if op == "add_number":
                return a.add(3, alpha=alpha)
            return getattr(L, op)(a, b, alpha=alpha)
        _compare(call, f"{op}({name}, alpha={alpha!r})")


@pytest.mark.parametrize("call", [
    lambda L, b: b.clamp(min=True), lambda L, b: b.clamp(True, True),
    lambda L, b: b.clamp(max=False), lambda L, b: b.clamp(b, b), lambda L, b: b.clamp(min=b),
    lambda L, b: b.clamp_min(True), lambda L, b: b.clamp_max(False),
    lambda L, b: b.clone().clamp_(min=True), lambda L, b: b.clamp_min(b),
    lambda L, b: b.clamp(min=0), lambda L, b: b.clamp_min(2), lambda L, b: b.clamp(max=0.5),
], ids=["min", "both", "max", "tensors", "min-tensor", "clamp_min", "clamp_max", "clamp_",
        "clamp_min-tensor", "int-bound", "clamp_min-int", "float-bound"])
def test_bool_clamp_matches_torch(call) -> None:
    # torch's clamp kernels refuse a bool result (bool bounds); maximum and minimum (one
    # tensor bound) and number bounds of other types compute
    _compare(lambda L: call(L, L.tensor([True, False, True])), "bool clamp")


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int64", "float16", "bfloat16",
                                   "float32", "float64", "complex64"])
@pytest.mark.parametrize("number", [2.5, 2.7, -1, 300, True, 0.1, 1 + 2j, 2 ** 70, "a", None])
def test_copy_from_a_number_matches_torch(dtype: str, number) -> None:
    # torch's argument parser wraps a number given to copy_ as a 0-d tensor (int64,
    # float64, complex128 or bool), which then converts as a tensor would
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's complex-to-real warning: its own test
        _compare(lambda L: L.zeros(2, dtype=getattr(L, dtype)).copy_(number),
                 f"copy_({number!r}) into {dtype}")


def test_copy_of_complex_into_real_warns_as_torch() -> None:
    import warnings

    def messages(L, dst, src) -> list:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L.zeros(1, dtype=getattr(L, dst)).copy_(src(L))
        return [(w.category.__name__, str(w.message).split(" (Triggered")[0]) for w in caught]

    previous = torch.is_warn_always_enabled(), ember.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch warns once per process otherwise
    ember.set_warn_always(True)
    try:
        for dst, src in [("float32", lambda L: L.tensor([1 + 2j])), ("int64", lambda L: 1j),
                         ("complex64", lambda L: L.tensor([1j])),
                         ("float32", lambda L: L.tensor([1.0]))]:
            assert messages(ember, dst, src) == messages(torch, dst, src)
    finally:
        torch.set_warn_always(previous[0])
        ember.set_warn_always(previous[1])


@pytest.mark.parametrize("call", [
    "L.tensor([True]) + 2**63", "L.tensor(True) * 2**63", "L.tensor([True]) == 2**63",
    "L.tensor([True]) + (2**64 - 1)", "L.tensor([True]).add_(2**63)", "L.tensor([True]).eq_(2**63)",
    "L.tensor([1]) + 2**64", "L.tensor([1.]) + 2**64", "L.tensor([1.5]) > 2**64",
    "L.tensor([1.]) + (-2**63 - 1)", "L.tensor([1]) - (-2**63 - 1)", "L.tensor([1.]).add_(2**64)",
    "L.tensor([1]) + 2**63", "L.tensor([1], dtype=L.int8) + 2**63", "L.tensor([1.]) / 2**63",
    "L.tensor([1.5], dtype=L.float16) * (2**63 + 2**62)",
    "L.tensor([3, 4], dtype=L.uint8).lt_(2**63 + 1)",
])
def test_ints_beyond_int64_beside_tensors(call: str) -> None:
    # torch reads an int in [2**63, 2**64) as a uint64 number (refused beside a bool tensor,
    # wrapped into integer ones) and refuses ints beyond that range with OverflowError; ember
    # wrapped bool + 2**63 into int64 and computed float + 2**64
    def fn(L):
        return eval(call, {"L": L})
    t = torch_or_refused(fn, RuntimeError, OverflowError)
    if t is not None:
        assert_same(fn(ember), t)
