"""torch's newer tensor-API functions against torch: inverse hyperbolics, addcmul/addcdiv,
fmax/fmin, gcd/lcm, signbit, positive, ldexp, nextafter, frexp, deg2rad/rad2deg,
softmax/log_softmax, logcumsumexp, aminmax, msort, nanmedian, mode and dist. One row per
op (see tests/helpers.py), then dtypes, edge values, in-place forms and torch's errors.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import (
    Row,
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    check_row,
    check_row_case,
    examples,
    shape_cases_for,
    torch,
)

POS = (0.2, 3.0)
UNIT = (-0.9, 0.9)
ABOVE_ONE = (1.1, 3.0)

ROWS = [
    Row("asinh", lambda L, a: L.asinh(a)),
    Row("arcsinh_method", lambda L, a: a.arcsinh()),
    Row("acosh", lambda L, a: L.acosh(a), domain=ABOVE_ONE),
    Row("arccosh", lambda L, a: L.arccosh(a), domain=ABOVE_ONE),
    Row("atanh", lambda L, a: L.atanh(a), domain=UNIT),
    Row("arctanh_method", lambda L, a: a.arctanh(), domain=UNIT),
    Row("deg2rad", lambda L, a: L.deg2rad(a * 90)),
    Row("rad2deg", lambda L, a: a.rad2deg()),
    Row("addcmul", lambda L, a, b, c: L.addcmul(a, b, c), 3),
    Row("addcmul_value", lambda L, a, b, c: a.addcmul(b, c, value=-0.5), 3),
    Row("addcdiv", lambda L, a, b, c: L.addcdiv(a, b, c, value=2), 3, domain=POS),
    Row("addcdiv_method", lambda L, a, b, c: a.addcdiv(b, c), 3, domain=POS),
    Row("fmax", lambda L, a, b: L.fmax(a, b), 2, gradgrad=False),
    Row("fmin", lambda L, a, b: a.fmin(b), 2, gradgrad=False),
    Row("ldexp", lambda L, a, b: L.ldexp(a, b), 2),
    Row("nextafter", lambda L, a, b: L.nextafter(a, b), 2, gradgrad=False),
    Row("frexp", lambda L, a: L.frexp(a * 5).mantissa, gradgrad=False),
    Row("frexp_both", lambda L, a: tuple(a.frexp()), gradgrad=False),
]
ROW_IDS = [r.name for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
@settings(max_examples=examples(6), deadline=None)
@given(data=st.data())
def test_op_matches_torch(row: Row, data) -> None:
    check_row(row, data)


@pytest.mark.parametrize("row,kind", shape_cases_for(ROWS))
def test_op_shape_cases(row: Row, kind: str) -> None:
    check_row_case(row, kind)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_op_gradcheck(row: Row) -> None:
    check_gradcheck(row.fn, [(2, 3)] * row.nargs, low=row.domain[0], high=row.domain[1],
                    gradgrad=row.gradgrad)


# ---- ops along a dim: hypothesis shapes with a drawn dim -------------------------------

DIM_ROWS = [
    Row("softmax", lambda L, a, d: L.softmax(a, d)),
    Row("softmax_method", lambda L, a, d: a.softmax(d)),
    Row("softmax_dtype", lambda L, a, d: L.softmax(a, d, dtype=L.float64)),
    Row("log_softmax", lambda L, a, d: L.log_softmax(a * 3, d)),
    Row("log_softmax_method", lambda L, a, d: a.log_softmax(d, dtype=L.float64)),
    Row("logcumsumexp", lambda L, a, d: L.logcumsumexp(a * 4, d)),
    Row("logcumsumexp_method", lambda L, a, d: a.logcumsumexp(d)),
    Row("aminmax_dim", lambda L, a, d: tuple(L.aminmax(a, dim=d)), gradgrad=False),
    Row("aminmax_keepdim", lambda L, a, d: tuple(a.aminmax(dim=d, keepdim=True)),
        gradgrad=False),
    Row("nanmedian_dim", lambda L, a, d: tuple(L.nanmedian(a, d)), gradgrad=False),
    Row("mode", lambda L, a, d: tuple(L.mode((a * 2).round(), d)), gradgrad=False),
    Row("mode_keepdim", lambda L, a, d: tuple(a.round().mode(d, True)), gradgrad=False),
]
DIM_IDS = [r.name for r in DIM_ROWS]


@st.composite
def _shape_and_dim(draw):
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    return tuple(shape), dim


@pytest.mark.parametrize("row", DIM_ROWS, ids=DIM_IDS)
@settings(max_examples=examples(8), deadline=None)
@given(data=st.data())
def test_dim_op_matches_torch(row: Row, data) -> None:
    shape, dim = data.draw(_shape_and_dim(), label="shape, dim")
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    check_op(lambda L, a: row.fn(L, a, dim), [shape], dtype=dtype, grad=row.grad, seed=seed)


@pytest.mark.parametrize("row", DIM_ROWS, ids=DIM_IDS)
def test_dim_op_noncontiguous(row: Row) -> None:
    check_op(lambda L, a: row.fn(L, a, 1), [(3, 4)], noncontiguous=True)


@pytest.mark.parametrize("row", DIM_ROWS, ids=DIM_IDS)
def test_dim_op_gradcheck(row: Row) -> None:
    check_gradcheck(lambda L, a: row.fn(L, a, -1), [(2, 3)], gradgrad=row.gradgrad)


WHOLE_ROWS = {
    "aminmax": lambda L, a: tuple(L.aminmax(a)),
    "msort": lambda L, a: L.msort(a),
    "msort_method": lambda L, a: a.msort(),
    "nanmedian": lambda L, a: L.nanmedian(a),
    "dist": lambda L, a: L.dist(a, a.detach() * 0.3 + 1),
    "dist_p3": lambda L, a: a.dist(a.detach() * -0.7 + 0.5, 3),
    "dist_p1": lambda L, a: L.dist(a, a.detach() * -2, p=1),
    "dist_inf": lambda L, a: L.dist(a, a.detach() * 2, float("inf")),
    # the operands' promoted dtype: an integer or wider other takes part
    "dist_int_other": lambda L, a: L.dist(a, L.tensor([1, -2, 0]).expand(*a.shape[:-1], 3)
                                          if a.shape and a.shape[-1] == 3 else L.tensor(3)),
    "dist_float64_other": lambda L, a: a.dist(a.detach().double() * 0.5 + 0.25),
}


@pytest.mark.parametrize("name", sorted(WHOLE_ROWS))
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (0, 3)])
def test_whole_tensor_op_matches_torch(name: str, shape: tuple) -> None:
    check_op(WHOLE_ROWS[name], [shape])
    if shape and 0 not in shape:
        check_op(WHOLE_ROWS[name], [shape], dtype="float64")


def test_whole_tensor_op_gradcheck() -> None:
    check_gradcheck(WHOLE_ROWS["nanmedian"], [(2, 3)], gradgrad=False)
    for p in (2, 3, 1.5):
        check_gradcheck(lambda L, a, b, p=p: L.dist(a, b, p), [(2, 3), (2, 3)])


@pytest.mark.parametrize("fn", [
    lambda L: L.dist(L.ones(3, dtype=L.int32), L.zeros(3, dtype=L.int64)),
    lambda L: L.dist(L.ones(3, dtype=L.bool), L.zeros(3)),
    lambda L: L.dist(L.ones(3, dtype=L.bool), L.zeros(3, dtype=L.bool)),
])
def test_dist_refuses_as_torch(fn) -> None:
    check_raises_like(fn)


def test_dist_broadcasts() -> None:
    check_op(lambda L, a, b: L.dist(a, b), [(3, 1), (4,)])
    check_gradcheck(lambda L, a, b: L.dist(a, b, 1.5), [(3, 1), (4,)])


# ---- dtypes, edge values, half precision -------------------------------------------------

DTYPE_CASES = {
    "asinh": lambda L, a: L.asinh(a), "acosh": lambda L, a: L.acosh(a.abs() + 1),
    "atanh": lambda L, a: L.atanh(a / 5), "deg2rad": lambda L, a: L.deg2rad(a),
    "rad2deg": lambda L, a: L.rad2deg(a), "signbit": lambda L, a: L.signbit(a),
    "ldexp": lambda L, a: L.ldexp(a, a), "addcmul": lambda L, a: L.addcmul(a, a, a),
    "addcmul_value": lambda L, a: L.addcmul(a, a, a, value=2.7),
    "fmax": lambda L, a: L.fmax(a, a.flip(0)), "fmin": lambda L, a: L.fmin(a, a.flip(0)),
    "positive": lambda L, a: L.positive(a),
}


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "bool", "float16",
                                   "bfloat16", "float64"])
@pytest.mark.parametrize("case", sorted(DTYPE_CASES))
def test_dtypes_like_torch(case: str, dtype: str) -> None:
    values = [0.0, 1.0, 3.0, -2.0, 5.0, -7.0, 2.5, 0.5]
    t = torch.tensor(values).to(getattr(torch, dtype))
    e = ember.tensor(values).to(getattr(ember, dtype))
    try:
        expected = DTYPE_CASES[case](torch, t)
    except Exception as exc:
        with pytest.raises(type(exc)) as info:
            DTYPE_CASES[case](ember, e)
        assert str(info.value) == str(exc)
        return
    assert_same(DTYPE_CASES[case](ember, e), expected)


# torch computes these in float32 and rounds once: the bits must agree. log_softmax and
# addcmul differ from that in the last bit for a few elements (torch's vectorised kernels
# round intermediate steps differently), so they are held to torch.testing's tolerances.
HALF_BITS = ["asinh", "acosh", "atanh", "deg2rad", "rad2deg", "softmax", "logcumsumexp",
             "addcdiv", "ldexp"]


@pytest.mark.bitexact
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", HALF_BITS + ["log_softmax", "addcmul"])
def test_half_precision_rounds_like_torch(name: str, dtype: str) -> None:
    values = np.random.default_rng(0).uniform(1.05, 3.0, size=(40, 25))
    if name == "atanh":
        values = values / 3.1

    def run(L):
        x = L.tensor(values).to(getattr(L, dtype))
        if name in ("softmax", "log_softmax", "logcumsumexp"):
            return getattr(L, name)(x, 1)
        if name in ("addcmul", "addcdiv"):
            return getattr(L, name)(x, x.flip(0), x.flip(1), value=0.3)
        if name == "ldexp":
            return L.ldexp(x, L.tensor(values * 3).round().to(getattr(L, dtype)))
        return getattr(L, name)(x)
    if name not in HALF_BITS:
        assert_same(run(ember), run(torch))
        return
    t = run(torch).float().numpy()
    e = run(ember).float().numpy()
    differ = (t != e) & ~(np.isnan(t) & np.isnan(e))
    assert not differ.any(), f"{int(differ.sum())} of {t.size} differ"


NAN, INF = float("nan"), float("inf")

EDGES = {
    "softmax_inf": lambda L: L.softmax(L.tensor([[INF, 1.0], [-INF, -INF], [-INF, 2.0]]), 1),
    "log_softmax_inf": lambda L: L.log_softmax(L.tensor([[INF, 1.0], [-INF, 2.0]]), 1),
    "log_softmax_large": lambda L: L.log_softmax(L.tensor([1000.0, 0.0, -1000.0]), 0),
    "softmax_0d": lambda L: L.softmax(L.tensor(3.0), 0),
    "logcumsumexp_inf": lambda L: L.logcumsumexp(L.tensor([-INF, 1.0, INF, 2.0]), 0),
    "logcumsumexp_large": lambda L: L.logcumsumexp(L.tensor([1000.0, 1000.0, -5.0]), 0),
    "fmax_nan": lambda L: L.fmax(L.tensor([NAN, 1.0, NAN]), L.tensor([2.0, NAN, NAN])),
    "fmin_nan": lambda L: L.fmin(L.tensor([NAN, 1.0, NAN]), L.tensor([2.0, NAN, NAN])),
    "signbit_zero_nan": lambda L: L.signbit(L.tensor([-0.0, 0.0, NAN, -NAN, -INF])),
    "frexp_special": lambda L: tuple(L.frexp(L.tensor([0.0, -0.0, INF, -INF, NAN, 1e-40]))),
    "frexp_half": lambda L: tuple(L.frexp(L.tensor([3.5, -1e-6, 65504.0]).half())),
    "nextafter_bfloat16": lambda L: L.nextafter(L.tensor([0.5, 1.0, -2.0, 0.0]).bfloat16(),
                                                L.tensor([1.0, 0.0, 0.0, -1.0]).bfloat16()),
    "nextafter_zero": lambda L: L.nextafter(L.tensor([0.0, 0.0]), L.tensor([1.0, -1.0])),
    "gcd": lambda L: L.gcd(L.tensor([-6, 0, 0, 12, 7]), L.tensor([4, 0, -5, 18, 13])),
    "lcm": lambda L: L.lcm(L.tensor([-4, 0, 6, 7]), L.tensor([6, 3, -4, 13])),
    "lcm_uint8": lambda L: L.tensor([2, 4], dtype=L.uint8).lcm(L.tensor([3, 6],
                                                                        dtype=L.uint8)),
    "gcd_broadcast": lambda L: L.gcd(L.tensor([[12], [9]]), L.tensor([8, 6, 3])),
    "ldexp_int_exponent": lambda L: L.ldexp(L.tensor([1.0, -3.0]), L.tensor([3, -2])),
    "ldexp_ints": lambda L: L.ldexp(L.tensor([1, 3]), L.tensor([3, 2])),
    "addcmul_int": lambda L: L.addcmul(L.tensor([1, 2]), L.tensor([2, 3]), L.tensor([3, 4]),
                                       value=2),
    "addcmul_int_float_value": lambda L: L.addcmul(L.tensor([1]), L.tensor([2]),
                                                   L.tensor([3]), value=1.5),
    "addcdiv_int_input": lambda L: L.addcdiv(L.tensor([1, 2]), L.tensor([1.0, 3.0]),
                                             L.tensor([4.0, 2.0])),
    "nanmedian_nan": lambda L: L.nanmedian(L.tensor([NAN, 3.0, 1.0, NAN, 2.0, 5.0])),
    "nanmedian_all_nan": lambda L: L.nanmedian(L.tensor([NAN, NAN])),
    "nanmedian_empty": lambda L: L.nanmedian(L.tensor([])),
    "nanmedian_dim_nan": lambda L: tuple(L.nanmedian(
        L.tensor([[NAN, NAN, 1.0], [1.0, NAN, 4.0], [1.0, 2.0, 3.0], [NAN, NAN, NAN]]), 1)),
    # (torch's mode of slices with nan depends on its sort's handling of nan: not compared)
    "mode_ties": lambda L: tuple(L.mode(
        L.tensor([[1.0, 3.0, 3.0, 1.0, 2.0], [5.0, 4.0, 4.0, 5.0, 5.0],
                  [-1.0, 2.0, 7.0, 0.5, 9.0]]), 1)),
    "mode_ints": lambda L: tuple(L.mode(L.tensor([2, 1, 2, 1, 7]))),
    "mode_bool": lambda L: tuple(L.mode(L.tensor([True, False, True]))),
    "mode_dim0": lambda L: tuple(L.mode(L.tensor([[1.0, 3.0], [5.0, 3.0], [1.0, 2.0]]), 0)),
    "mode_empty_rows": lambda L: tuple(L.mode(L.ones(0, 2), 1)),
    "aminmax_ints": lambda L: tuple(L.aminmax(L.tensor([[3, -1], [7, 2]]), dim=0)),
    "aminmax_nan": lambda L: tuple(L.aminmax(L.tensor([1.0, NAN, 3.0]))),
    "aminmax_empty_other_dim": lambda L: tuple(L.aminmax(L.ones(2, 0), dim=0)),
    "msort_ints": lambda L: L.msort(L.tensor([[3, 1], [1, 2], [2, 0]])),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_edge_values_like_torch(case: str) -> None:
    expected = EDGES[case](torch)
    got = EDGES[case](ember)
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for e, t in zip(got, expected):
            assert_same(e, t)
    else:
        assert_same(got, expected)


GRAD_EDGES = {
    # ties: amin/amax share the gradient; fmax gives a tie to ``self``
    "aminmax_ties": (lambda L, x: sum(L.aminmax(x)), [1.0, 3.0, 3.0, 1.0, 2.0]),
    "fmax_ties_nan": (lambda L, x: L.fmax(x, x.detach().flip(0) * 0 + 2.0),
                      [2.0, NAN, 1.0, 3.0]),
    "fmin_nan_self": (lambda L, x: L.fmin(x.detach().flip(0), x), [NAN, 2.0, 1.0, 0.0]),
    "logcumsumexp_large": (lambda L, x: L.logcumsumexp(x, 0), [1000.0, -1000.0, 3.0, 999.0]),
    "log_softmax_large": (lambda L, x: L.log_softmax(x, 0), [1000.0, -1000.0, 3.0]),
    "nanmedian_with_nan": (lambda L, x: L.nanmedian(x), [NAN, 3.0, 1.0, 2.0]),
    "mode_ties": (lambda L, x: L.mode(x, 0).values, [2.0, 1.0, 2.0, 1.0]),
    "frexp_zero": (lambda L, x: L.frexp(x).mantissa, [0.0, 1.0, -3.0, 1e-30]),
}


@pytest.mark.parametrize("case", sorted(GRAD_EDGES))
def test_gradient_edges_like_torch(case: str) -> None:
    fn, values = GRAD_EDGES[case]
    grads = []
    for L in (torch, ember):
        x = L.tensor(values, dtype=L.float64, requires_grad=True)
        out = fn(L, x)
        out.backward(L.ones_like(out) * L.arange(1, out.numel() + 1, dtype=L.float64
                                                 ).reshape(out.shape))
        grads.append(x.grad)
    assert_same(grads[1], grads[0])


def test_softmax_double_backward_like_torch() -> None:
    for fn in (lambda L, x: L.softmax(x, 1), lambda L, x: L.log_softmax(x, 0),
               lambda L, x: L.logcumsumexp(x, 1)):
        out = []
        for L in (torch, ember):
            x = L.tensor(np.linspace(-2, 2, 6).reshape(2, 3), requires_grad=True)
            w = L.tensor(np.linspace(1, 3, 6).reshape(2, 3))
            (g,) = L.autograd.grad((fn(L, x) * w).sum(), x, create_graph=True)
            (gg,) = L.autograd.grad((g * g).sum(), x)
            out.append((g, gg))
        assert_same(out[1][0], out[0][0])
        assert_same(out[1][1], out[0][1])


def test_positive_is_input() -> None:
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    assert ember.positive(x) is x and x.positive() is x
    assert torch.positive(torch.tensor([1.0])) is not None


def test_return_types_print_like_torch() -> None:
    for fn in (lambda L: L.frexp(L.tensor([3.0, -0.25])),
               lambda L: L.aminmax(L.tensor([[3.0, -0.25]]), dim=1),
               lambda L: L.nanmedian(L.tensor([[3.0, -0.25]]), 1),
               lambda L: L.mode(L.tensor([[3.0, -0.25]]), 1)):
        t, e = fn(torch), fn(ember)
        assert repr(e) == repr(t)
        assert type(e).__name__ == type(t).__name__
    e = ember.frexp(ember.tensor([3.0]))
    assert e.mantissa is e[0] and e.exponent is e[1]
    a = ember.aminmax(ember.tensor([3.0, 1.0]))
    assert a.min is a[0] and a.max is a[1]


# ---- in-place forms ------------------------------------------------------------------------

INPLACE = {
    "addcmul_": lambda L, x, y: x.addcmul_(y, y, value=0.1),
    "addcdiv_": lambda L, x, y: x.addcdiv_(y, y.abs() + 1, value=-0.3),
    "deg2rad_": lambda L, x, y: x.deg2rad_(), "rad2deg_": lambda L, x, y: x.rad2deg_(),
    "ldexp_": lambda L, x, y: x.ldexp_(y.round()),
    "nextafter_": lambda L, x, y: x.nextafter_(y),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_forms_like_torch(name: str) -> None:
    results = []
    for L in (torch, ember):
        leaf = L.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
        y = L.tensor(np.linspace(3, -1, 12).reshape(3, 4))
        x = leaf * 1
        out = INPLACE[name](L, x, y)
        results.append((out, x._version if L is torch else x._version, out.grad_fn))
        out.sum().backward()
        results[-1] += (leaf.grad,)
    (t, t_version, t_fn, t_grad), (e, e_version, e_fn, e_grad) = results
    assert_same(e, t)
    assert e_version == t_version
    assert (e_fn is None) == (t_fn is None)
    if t_fn is not None:
        assert e_fn.name() == t_fn.name()
    assert_same(e_grad, t_grad)


@pytest.mark.parametrize("name", ["asinh_", "arcsinh_", "acosh_", "arccosh_", "atanh_",
                                  "arctanh_"])
def test_inverse_hyperbolic_inplace_values_like_torch(name: str) -> None:
    results = []
    for L in (torch, ember):
        with L.no_grad():  # the values of the forms torch cannot differentiate in place
            x = L.tensor(np.linspace(-0.9, 0.9, 4))
            getattr(x, name)()
            results.append(x)
    assert_same(results[1], results[0])


@pytest.mark.parametrize("name", ["greater_", "less_", "greater_equal_", "less_equal_",
                                  "not_equal_"])
def test_comparison_inplace_aliases_like_torch(name: str) -> None:
    results = []
    for L in (torch, ember):
        x = L.tensor([1.0, 2.0, 3.0, -1.0])
        out = getattr(x, name)(L.tensor([2.0, 2.0, 0.0, 5.0]))
        assert out is x and x._version == 1
        results.append(x)
    assert_same(results[1], results[0])


def test_inverse_hyperbolic_inplace_backward_raises_like_torch() -> None:
    for name in ("asinh_", "arcsinh_", "acosh_", "arccosh_", "atanh_", "arctanh_"):
        def fn(L, name=name):
            x = L.tensor([1.5, 2.0], requires_grad=True) * 0.5
            out = getattr(x + 1, name)()
            assert out.grad_fn.name() in ("AsinhBackward1", "AcoshBackward1",
                                          "AtanhBackward1")
            out.sum().backward()
        check_raises_like(fn)


def test_gcd_lcm_inplace_like_torch() -> None:
    for L in (torch, ember):
        x = L.tensor([12, 9, -4])
        x.gcd_(L.tensor([8, 6, 6]))
        y = L.tensor([4, 3, 5])
        y.lcm_(L.tensor([6, 4, 10]))
        if L is torch:
            expected = (x, y)
        else:
            assert_same(x, expected[0])
            assert_same(y, expected[1])


# ---- torch's errors --------------------------------------------------------------------------

ERRORS = {
    "gcd_float": lambda L: L.gcd(L.tensor([1.0]), L.tensor([2.0])),
    "gcd_bool": lambda L: L.gcd(L.tensor([True]), L.tensor([True])),
    "lcm_float_int": lambda L: L.lcm(L.tensor([2]), L.tensor([2.0])),
    "gcd_number": lambda L: L.gcd(L.tensor([1]), 2),
    "nextafter_int": lambda L: L.nextafter(L.tensor([1]), L.tensor([2])),
    "frexp_int": lambda L: L.frexp(L.tensor([1])),
    "frexp_complex": lambda L: L.frexp(L.tensor([1j])),
    "signbit_complex": lambda L: L.signbit(L.tensor([1j])),
    "fmax_complex": lambda L: L.fmax(L.tensor([1j]), L.tensor([1j])),
    "fmin_complex": lambda L: L.fmin(L.tensor([1j]), L.tensor([1j])),
    "deg2rad_complex": lambda L: L.deg2rad(L.tensor([1j])),
    "rad2deg_complex": lambda L: L.rad2deg(L.tensor([1j])),
    "positive_bool": lambda L: L.positive(L.tensor([True])),
    "addcdiv_ints": lambda L: L.addcdiv(L.tensor([1]), L.tensor([2]), L.tensor([3])),
    "addcmul_bool": lambda L: L.addcmul(L.tensor([True]), L.tensor([True]),
                                        L.tensor([True])),
    "addcmul_shapes": lambda L: L.addcmul(L.ones(2), L.ones(3), L.ones(2)),
    "softmax_int": lambda L: L.softmax(L.tensor([1, 2]), 0),
    "log_softmax_int": lambda L: L.log_softmax(L.tensor([1, 2]), 0),
    "softmax_complex": lambda L: L.softmax(L.tensor([1j]), 0),
    "softmax_dim": lambda L: L.softmax(L.ones(2), 2),
    "logcumsumexp_int": lambda L: L.logcumsumexp(L.tensor([1, 2]), 0),
    "logcumsumexp_dim": lambda L: L.logcumsumexp(L.ones(2), 1),
    "aminmax_empty": lambda L: L.aminmax(L.ones(0)),
    "aminmax_empty_dim": lambda L: L.aminmax(L.ones(2, 0), dim=1),
    "nanmedian_bool": lambda L: L.nanmedian(L.tensor([True])),
    "mode_empty_dim": lambda L: L.mode(L.ones(2, 0), 1),
    "dist_int": lambda L: L.dist(L.tensor([1]), L.tensor([2])),
    "dist_empty_inf": lambda L: L.dist(L.ones(0), L.ones(0), float("inf")),
    "dist_empty_negative": lambda L: L.dist(L.ones(2, 0), L.ones(0), -1),
    "dist_shapes": lambda L: L.dist(L.ones(2), L.ones(3)),
    "leaf_addcmul_": lambda L: L.ones(2, requires_grad=True).addcmul_(L.ones(2), L.ones(2)),
    "inplace_cast_asinh_": lambda L: L.tensor([1, 2]).asinh_(),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_like_torch(case: str) -> None:
    check_raises_like(ERRORS[case])


def test_error_leaves_input_untouched() -> None:
    x = ember.tensor([1, 2])
    with pytest.raises(RuntimeError):
        x.asinh_()
    assert x._version == 0 and x.tolist() == [1, 2]


MATRIX_INPLACE = {
    "tril_": lambda L, x, m: x.tril_(-1), "triu_": lambda L, x, m: x.triu_(1),
    "addmm_": lambda L, x, m: x.addmm_(m, m.t(), beta=0.5, alpha=2),
    "baddbmm_": lambda L, x, m: (x.unsqueeze(0) * 1).baddbmm_(m.unsqueeze(0),
                                                               m.t().unsqueeze(0)),
    "addbmm_": lambda L, x, m: x.addbmm_(m.unsqueeze(0), m.t().unsqueeze(0)),
    "addmv_": lambda L, x, m: (x[0] * 1).addmv_(m, m[0], alpha=-1),
}


@pytest.mark.parametrize("name", sorted(MATRIX_INPLACE))
def test_matrix_inplace_forms_like_torch(name: str) -> None:
    results = []
    for L in (torch, ember):
        leaf = L.tensor(np.linspace(-2, 2, 9).reshape(3, 3), requires_grad=True)
        m = L.tensor(np.linspace(1, -3, 9).reshape(3, 3), requires_grad=True)
        x = leaf * 1
        out = MATRIX_INPLACE[name](L, x, m)
        out.backward(L.tensor(np.linspace(0.5, 2, out.numel()).reshape(out.shape)))
        results.append((out, out.grad_fn.name(), leaf.grad, m.grad))
    (t, t_fn, t_leaf, t_m), (e, e_fn, e_leaf, e_m) = results
    assert_same(e, t)
    assert e_fn == t_fn
    assert_same(e_leaf, t_leaf)
    if t_m is None:  # tril_/triu_ do not read ``m``
        assert e_m is None
    else:
        assert_same(e_m, t_m)


# ---- in-place view ops: the tensor becomes the view, of the same memory ------------------

VIEW_INPLACE = {
    "t_": lambda x: x.t_(),
    "transpose_": lambda x: x.transpose_(0, -1),
    "swapaxes_": lambda x: x.swapaxes_(1, 0),
    "swapdims_": lambda x: x.swapdims_(0, 1),
    "squeeze_": lambda x: x.unsqueeze(1).squeeze_(),
    "squeeze_dim": lambda x: x.unsqueeze(0).squeeze_(0),
    "squeeze_dims": lambda x: x.unsqueeze(1).unsqueeze(0).squeeze_((0, 2)),
    "unsqueeze_": lambda x: x.unsqueeze_(1),
    "unsqueeze_last": lambda x: x.unsqueeze_(-1),
    "chain": lambda x: x.t_().unsqueeze_(0).transpose_(0, 2),
}


@pytest.mark.parametrize("name", sorted(VIEW_INPLACE))
def test_view_inplace_like_torch(name: str) -> None:
    results = []
    for L in (torch, ember):
        leaf = L.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
        x = leaf * 1
        out = VIEW_INPLACE[name](x)
        cot = L.tensor(np.linspace(0.5, 2, out.numel()).reshape(tuple(out.shape)))
        results.append((out, out is x, out.stride(), x._version, out.grad_fn.name()))
        out.backward(cot)
        results[-1] += (leaf.grad,)
        with L.no_grad():  # no graph: the values and layout only
            plain = L.tensor(np.linspace(-2, 2, 12).reshape(3, 4))
            results[-1] += (VIEW_INPLACE[name](plain).stride(), plain._version)
    (t, *t_rest, t_grad, t_stride, t_version), (e, *e_rest, e_grad, e_stride, e_version) = \
        results
    assert_same(e, t)
    assert e_rest == t_rest
    assert_same(e_grad, t_grad)
    assert (e_stride, e_version) == (t_stride, t_version)


def test_view_inplace_through_a_view_like_torch() -> None:
    results = []
    for L in (torch, ember):
        leaf = L.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        b = leaf * 1
        v = b[:, :2]
        v.t_()
        names = [v.grad_fn.name(), b.grad_fn.name()]
        v.mul_(L.tensor([[2.0, 3.0], [4.0, 5.0]]))  # writes through the transposed view
        names.append(b.grad_fn.name())
        b.backward(L.tensor(np.linspace(1, 2, 6).reshape(2, 3)))
        with L.no_grad():
            base = L.arange(6.0).reshape(2, 3)
            w = base[:, 1:]
            w.t_()
            w.mul_(10)
        results.append((b, names, v.stride(), v.storage_offset(), leaf.grad, base, w.stride()))
    (t_b, t_names, *t_meta, t_grad, t_base, t_w), (e_b, e_names, *e_meta, e_grad, e_base, e_w) \
        = results
    assert_same(e_b, t_b)
    assert (e_names, e_meta, e_w) == (t_names, t_meta, t_w)
    assert_same(e_grad, t_grad)
    assert_same(e_base, t_base)


def test_view_inplace_no_grad_keeps_leaf_like_torch() -> None:
    for L in (torch, ember):
        with L.no_grad():
            leaf = L.ones(2, 3, requires_grad=True)
            leaf.t_()
        assert tuple(leaf.shape) == (3, 2) and leaf.requires_grad and leaf.grad_fn is None


def test_view_inplace_invalidates_saved_tensors_like_torch() -> None:
    def fn(L):
        x = L.arange(3.0, requires_grad=True) * 1
        y = x * x
        x.unsqueeze_(0)
        y.sum().backward()
    check_raises_like(fn)


def test_view_inplace_double_backward_like_torch() -> None:
    out = []
    for L in (torch, ember):
        a = L.tensor(np.linspace(-1, 2, 6).reshape(2, 3), requires_grad=True)
        b = a.sin()
        b.t_()
        (g,) = L.autograd.grad((b * b * L.arange(6.0).reshape(3, 2)).sum(), a,
                               create_graph=True)
        (gg,) = L.autograd.grad(g.sum(), a)
        out.append((g, gg))
    assert_same(out[1][0], out[0][0])
    assert_same(out[1][1], out[0][1])


VIEW_INPLACE_ERRORS = {
    "leaf_t_": lambda L: L.ones(2, 3, requires_grad=True).t_(),
    "leaf_view_t_": lambda L: L.ones(2, 3, requires_grad=True)[0:1].t_(),
    "leaf_unsqueeze_": lambda L: L.ones(2, requires_grad=True).unsqueeze_(0),
    "t_3d": lambda L: L.zeros(2, 2, 2).t_(),
    "squeeze_dim": lambda L: L.zeros(2).squeeze_(3),
    "unsqueeze_dim": lambda L: L.zeros(2).unsqueeze_(3),
    "transpose_dim": lambda L: L.zeros(2, 3).transpose_(0, 2),
}


@pytest.mark.parametrize("case", sorted(VIEW_INPLACE_ERRORS))
def test_view_inplace_errors_like_torch(case: str) -> None:
    check_raises_like(VIEW_INPLACE_ERRORS[case])


def test_view_inplace_error_leaves_tensor_untouched() -> None:
    x = ember.zeros(2, 3)
    with pytest.raises(IndexError):
        x.transpose_(0, 2)
    assert tuple(x.shape) == (2, 3) and x._version == 0


# ---- in-place comparisons keep the graph, with zero gradients ----------------------------

COMPARE_INPLACE = ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "less_",
                   "greater_equal_", "less_equal_", "not_equal_"]


@pytest.mark.parametrize("other", ["tensor", "number", "0d"])
@pytest.mark.parametrize("name", COMPARE_INPLACE)
def test_comparison_inplace_graph_like_torch(name: str, other: str) -> None:
    results = []
    for L in (torch, ember):
        leaf = L.tensor([1.0, 2.0, 3.0, -1.0], requires_grad=True)
        y = L.tensor([2.0, 2.0, 0.0, 5.0], requires_grad=True)
        x = leaf.sin() * 3
        arg = {"tensor": y, "number": 2.0, "0d": L.tensor(0.5)}[other]
        out = getattr(x, name)(arg)
        results.append((out, out is x, x._version, out.grad_fn.name(),
                        len(out.grad_fn.next_functions)))
        (out * L.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        results[-1] += (leaf.grad, y.grad)
    (t, *t_meta, t_leaf, t_y), (e, *e_meta, e_leaf, e_y) = results
    assert_same(e, t)
    assert e_meta == t_meta
    assert_same(e_leaf, t_leaf)
    if t_y is None:
        assert e_y is None
    else:
        assert_same(e_y, t_y)


def test_comparison_inplace_other_requires_grad_like_torch() -> None:
    for L in (torch, ember):
        x = L.tensor([1.0, 2.0, 3.0])
        y = L.tensor([2.0, 2.0, 2.0], requires_grad=True)
        x.gt_(y)
        assert x.requires_grad and x.grad_fn.name() == "GtBackward1"
        x.sum().backward()
        assert y.grad.tolist() == [0.0, 0.0, 0.0]


def test_comparison_inplace_double_backward_like_torch() -> None:
    for L in (torch, ember):
        a = L.tensor([1.0, 2.0], requires_grad=True)
        b = a * 1
        b.le_(1.5)
        (g,) = L.autograd.grad(b.sum(), a, create_graph=True)
        assert g.tolist() == [0.0, 0.0] and g.grad_fn is None


def test_comparison_inplace_leaf_refused_like_torch() -> None:
    check_raises_like(lambda L: L.tensor([1.0, 2.0], requires_grad=True).gt_(1.0))


# ---- 0-d tensors in flip, roll, select, movedim -------------------------------------------

ZERO_D = {
    "flip0": lambda L, x: x.flip(0), "flip_neg": lambda L, x: L.flip(x, (-1,)),
    "flip_none": lambda L, x: x.flip(()), "roll": lambda L, x: L.roll(x, 1),
    "movedim": lambda L, x: L.movedim(x, 0, -1),
}


@pytest.mark.parametrize("case", sorted(ZERO_D))
def test_zero_dim_reorderings_like_torch(case: str) -> None:
    check_op(lambda L, x: ZERO_D[case](L, x), [()])
    check_op(lambda L, x: ZERO_D[case](L, x), [()], dtype="int64")


ZERO_D_ERRORS = {
    "flip1": lambda L: L.tensor(1.0).flip(1), "flip_twice": lambda L: L.tensor(1.0).flip(0, -1),
    "roll0": lambda L: L.roll(L.tensor(1.0), 1, 0), "roll1": lambda L: L.roll(L.tensor(1.0), 1, 1),
    "roll_neg": lambda L: L.roll(L.tensor(1.0), 2, -1), "rot90": lambda L: L.tensor(1.0).rot90(),
    "fliplr": lambda L: L.tensor(1.0).fliplr(), "flipud": lambda L: L.tensor(1.0).flipud(),
    "select": lambda L: L.tensor(1.0).select(0, 0),
    "movedim": lambda L: L.movedim(L.tensor(1.0), 1, 0),
}


@pytest.mark.parametrize("case", sorted(ZERO_D_ERRORS))
def test_zero_dim_errors_like_torch(case: str) -> None:
    check_raises_like(ZERO_D_ERRORS[case])


def test_zero_dim_flip_is_a_copy() -> None:
    x = ember.tensor(2.0)
    y = x.flip(0)
    y.add_(1)
    assert x.item() == 2.0 and y.item() == 3.0


# ---- more of torch's API: shape ops, scatters, factories, metadata ----------------------

SHAPE_ROWS = {
    "ravel": lambda L, x: x.ravel(),
    "ravel_noncontiguous": lambda L, x: L.ravel(x.t()),
    "unfold": lambda L, x: x.unfold(1, 2, 1),
    "unfold_step": lambda L, x: x.unfold(0, 2, 2),
    "unfold_transposed": lambda L, x: x.t().unfold(1, 2, 1),
    "unfold_empty_window": lambda L, x: x.unfold(0, 0, 1),
    "sum_to_size": lambda L, x: x.sum_to_size(1, 4),
    "sum_to_size_lead": lambda L, x: x.sum_to_size(4),
    "sum_to_size_tuple": lambda L, x: x.sum_to_size((3, 1)),
    "hsplit": lambda L, x: L.hsplit(x, 2),
    "hsplit_indices": lambda L, x: x.hsplit([1, 3]),
    "vsplit": lambda L, x: L.vsplit(x, 3),
    "dsplit": lambda L, x: L.dsplit(x.reshape(1, 3, 4), [2]),
    "diagflat": lambda L, x: L.diagflat(x[:2, :2], -1),
    "diagflat_method": lambda L, x: x[0].diagflat(1),
    "cartesian_prod": lambda L, x: L.cartesian_prod(x[0], x[1, :2]),
    "cartesian_prod_three": lambda L, x: L.cartesian_prod(x[0, :2], x[1, :1], x[2, :3]),
    "combinations": lambda L, x: L.combinations(x[0]),
    "combinations_3": lambda L, x: L.combinations(x[0], 3),
    "combinations_replacement": lambda L, x: L.combinations(x[1], with_replacement=True),
    "combinations_1": lambda L, x: L.combinations(x[1], 1),
    "combinations_too_many": lambda L, x: L.combinations(x[0, :2], 3),
    "block_diag": lambda L, x: L.block_diag(x[:2], x[2], x[0, 0]),
    "select_scatter": lambda L, x: L.select_scatter(x, x[2] * 2, 0, 1),
    "select_scatter_neg": lambda L, x: x.select_scatter(x[:, 0] * 3, 1, -1),
    "slice_scatter": lambda L, x: L.slice_scatter(x, x[:, :2] ** 2, 1, 0, 4, 2),
    "slice_scatter_default": lambda L, x: L.slice_scatter(x, x.flip(0)),
    "diagonal_scatter": lambda L, x: L.diagonal_scatter(x, x[0, :3] * 3, 1),
    "diagonal_scatter_neg": lambda L, x: x.diagonal_scatter(x[1, :2].exp(), -1),
}


@pytest.mark.parametrize("name", sorted(SHAPE_ROWS))
def test_more_shape_ops_like_torch(name: str) -> None:
    check_op(SHAPE_ROWS[name], [(3, 4)], dtype="float64")
    check_op(SHAPE_ROWS[name], [(3, 4)], dtype="int64")


@pytest.mark.parametrize("name", ["unfold", "unfold_step", "block_diag", "select_scatter",
                                  "slice_scatter", "diagonal_scatter", "combinations",
                                  "sum_to_size", "cartesian_prod"])
def test_more_shape_ops_gradcheck(name: str) -> None:
    check_gradcheck(SHAPE_ROWS[name], [(3, 4)])


def test_unfold_is_a_view_like_torch() -> None:
    for L in (torch, ember):
        x = L.arange(6.0)
        w = x.unfold(0, 3, 1)
        w[1, 0] = 10.0
        assert x.tolist()[1] == 10.0 and w.stride() == (1, 1) and x._version == 1


def test_block_diag_dtypes_like_torch() -> None:
    for fn in (lambda L: L.block_diag(L.tensor([[1, 2]]), L.tensor([3.0])),
               lambda L: L.block_diag(L.tensor(True), L.tensor([2], dtype=L.int8)),
               lambda L: L.block_diag()):
        assert_same(fn(ember), fn(torch))


MORE_ERRORS = {
    "unfold_too_big": lambda L: L.ones(3, 4).unfold(0, 4, 1),
    "unfold_step": lambda L: L.ones(3, 4).unfold(0, 2, 0),
    "unfold_negative_size": lambda L: L.ones(3, 4).unfold(1, -1, 1),
    "unfold_negative_size_and_step": lambda L: L.ones(3, 4).unfold(1, -2, -1),
    "unfold_dim": lambda L: L.ones(3, 4).unfold(2, 1, 1),
    "sum_to_size": lambda L: L.ones(3, 4).sum_to_size(2, 4),
    "sum_to_size_more_dims": lambda L: L.ones(3, 4).sum_to_size(1, 3, 4),
    "hsplit_indivisible": lambda L: L.hsplit(L.ones(3, 4), 3),
    "hsplit_0d": lambda L: L.hsplit(L.tensor(1.0), 1),
    "vsplit_1d": lambda L: L.vsplit(L.ones(3), 3),
    "dsplit_2d": lambda L: L.dsplit(L.ones(3, 4), 1),
    "combinations_2d": lambda L: L.combinations(L.ones(2, 2)),
    "combinations_negative": lambda L: L.combinations(L.ones(2), -1),
    "block_diag_3d": lambda L: L.block_diag(L.ones(1, 1, 1)),
    "select_scatter_shape": lambda L: L.select_scatter(L.ones(3, 4), L.zeros(3), 0, 1),
    "select_scatter_index": lambda L: L.select_scatter(L.ones(3, 4), L.zeros(4), 0, 5),
    "slice_scatter_shape": lambda L: L.slice_scatter(L.ones(3, 4), L.zeros(3, 2), 1, 1),
    "diagonal_scatter_shape": lambda L: L.diagonal_scatter(L.ones(3, 4), L.ones(3), 2),
    "is_nonzero_many": lambda L: L.tensor([1, 2]).is_nonzero(),
    "is_nonzero_empty": lambda L: L.tensor([]).is_nonzero(),
    "logspace_steps": lambda L: L.logspace(0, 1, -1),
    "set_num_threads": lambda L: L.set_num_threads(0),
    "deterministic_mode_type": lambda L: L.use_deterministic_algorithms(1),
}


@pytest.mark.parametrize("case", sorted(MORE_ERRORS))
def test_more_errors_like_torch(case: str) -> None:
    check_raises_like(MORE_ERRORS[case])


FACTORIES = {
    "logspace": lambda L: L.logspace(0, 1, 5, base=2),
    "logspace_int": lambda L: L.logspace(0, 3, 4, dtype=L.int64),
    "logspace_double": lambda L: L.logspace(-2, 2, 7, dtype=L.float64),
    "logspace_one": lambda L: L.logspace(2, 3, 1),
    "logspace_grad": lambda L: L.logspace(-1, 1, 3, requires_grad=True),
    "scalar_tensor": lambda L: L.scalar_tensor(3),
    "scalar_tensor_int": lambda L: L.scalar_tensor(3, dtype=L.int64),
    "scalar_tensor_bool": lambda L: L.scalar_tensor(True),
    "tril_indices": lambda L: L.tril_indices(4, 3, -1),
    "triu_indices": lambda L: L.triu_indices(2, 5, -1),
    "tril_indices_empty": lambda L: L.tril_indices(0, 3),
    "tril_indices_int32": lambda L: L.tril_indices(3, 3, dtype=L.int32),
    "triu_indices_past_end": lambda L: L.triu_indices(3, 3, 5),
    "type_as": lambda L: L.ones(2, 3).type_as(L.tensor([1])),
    "type_as_grad": lambda L: L.ones(2, requires_grad=True).type_as(L.ones(1).double()),
    "detach": lambda L: L.detach(L.ones(2, requires_grad=True) * 2),
}


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_factories_like_torch(case: str) -> None:
    e, t = FACTORIES[case](ember), FACTORIES[case](torch)
    assert_same(e, t)
    assert e.requires_grad == t.requires_grad
    assert (e.grad_fn is None) == (t.grad_fn is None)
    if t.grad_fn is not None:
        assert e.grad_fn.name() == t.grad_fn.name()


def test_metadata_like_torch() -> None:
    def facts(L):
        x = L.ones(3, 4)
        dtypes = (L.bool, L.uint8, L.int8, L.int64, L.float16, L.float32, L.complex64)
        return (x.is_cpu, x.itemsize, x.double().itemsize, x.bool().itemsize, x.nbytes,
                x[:, ::2].nbytes, L.tensor(1.0).nbytes,
                [L.tensor([1], dtype=d).is_signed() for d in dtypes],
                L.tensor([1]).is_nonzero(), L.tensor([0.0]).is_nonzero(),
                L.tensor([[3.0]]).is_nonzero(), x.is_same_size(L.zeros(3, 4)),
                x.is_same_size(L.zeros(4, 3)), L.typename(x), L.typename(x.double()),
                L.typename(3), L.typename(int), str(L.get_default_device()),
                L.ones(2, dtype=L.float64).new_empty_strided((2, 3), (1, 2)).stride(),
                str(L.ones(2).new_empty_strided((2, 3), (1, 2), dtype=L.int32).dtype))
    assert facts(ember) == facts(torch)


def test_runtime_settings_round_trip_like_torch() -> None:
    for L in (torch, ember):
        threads = L.get_num_threads()
        assert threads == torch.get_num_threads()
        try:
            L.set_num_threads(1)
            assert L.get_num_threads() == 1
        finally:
            L.set_num_threads(threads)
        assert not L.are_deterministic_algorithms_enabled()
        try:
            L.use_deterministic_algorithms(True, warn_only=True)
            assert L.are_deterministic_algorithms_enabled()
            assert L.is_deterministic_algorithms_warn_only_enabled()
        finally:
            L.use_deterministic_algorithms(False)
        L.set_default_device("cpu")
        assert str(L.get_default_device()) == "cpu"
        L.set_default_device(None)


# ---- logdet, diff, quantile, searchsorted, isin, complex views, cov, trapezoid, renorm, i0 --

def _spd_like(L, a):
    # a well-conditioned square matrix (batch) whose determinant may be negative
    return a + 3 * L.eye(a.shape[-1], dtype=a.dtype) * (a.detach().sum() > 0).to(a.dtype) - (
        3 * L.eye(a.shape[-1], dtype=a.dtype) * (a.detach().sum() <= 0).to(a.dtype))


LAST_ROWS = [
    Row("logdet", lambda L, a: L.logdet(a @ a.mT + L.eye(a.shape[-1], dtype=a.dtype))),
    Row("logdet_sign", lambda L, a: L.logdet(_spd_like(L, a))),
    Row("diff", lambda L, a: L.diff(a)),
    Row("diff_n2_dim0", lambda L, a: a.diff(2, 0) if a.dim() else a.diff(0, 0)),
    Row("diff_pre_app", lambda L, a: L.diff(a, dim=-1, prepend=a[..., :1] * 2,
                                            append=a[..., :2] * -1)),
    Row("quantile", lambda L, a: L.quantile(a, 0.3)),
    Row("quantile_dim", lambda L, a: L.quantile(a, 0.7, dim=-1, keepdim=True)),
    Row("quantile_q", lambda L, a: a.quantile(L.tensor([0.0, 0.25, 1.0], dtype=a.dtype), 0)),
    Row("quantile_lower", lambda L, a: L.quantile(a, 0.4, -1, interpolation="lower")),
    Row("quantile_higher", lambda L, a: L.quantile(a, 0.4, 0, interpolation="higher")),
    Row("quantile_midpoint", lambda L, a: L.quantile(a, 0.45, -1, interpolation="midpoint")),
    Row("quantile_nearest", lambda L, a: L.quantile(
        a, L.tensor([0.1, 0.5, 0.9], dtype=a.dtype), -1, True, interpolation="nearest")),
    Row("nanquantile", lambda L, a: L.nanquantile(
        L.where(a > 1.5, float("nan"), a), 0.6, dim=-1)),
    Row("nanquantile_all", lambda L, a: a.nanquantile(L.tensor(0.5, dtype=a.dtype))),
    Row("quantile_nan", lambda L, a: L.quantile(L.where(a > 1.5, float("nan"), a), 0.6, -1)),
    Row("cov", lambda L, a: L.cov(a)),
    Row("cov_correction", lambda L, a: L.cov(a, correction=0)),
    Row("corrcoef", lambda L, a: L.corrcoef(a)),
    Row("trapezoid", lambda L, a: L.trapezoid(a)),
    Row("trapezoid_dx", lambda L, a: L.trapezoid(a, dx=0.3, dim=0)),
    Row("trapz", lambda L, a: L.trapz(a, dx=2)),
    Row("cumulative_trapezoid", lambda L, a: L.cumulative_trapezoid(a)),
    Row("cumulative_trapezoid_dx", lambda L, a: L.cumulative_trapezoid(a, dx=0.5, dim=0)),
    Row("renorm", lambda L, a: L.renorm(a, 2, 0, 1.0) if a.dim() > 1 else a * 1),
    Row("renorm_p3", lambda L, a: a.renorm(3, -1, 0.8) if a.dim() > 1 else a * 1),
    Row("renorm_p1", lambda L, a: a.renorm(1.5, 0, 1.2) if a.dim() > 1 else a * 1),
    Row("i0", lambda L, a: L.i0(a * 3)),
    Row("i0_method", lambda L, a: a.i0()),
    Row("special_i0", lambda L, a: L.special.i0(a)),
    Row("special_i1", lambda L, a: L.special.i1(a * 4)),
    # torch's vander composes an in-place cumprod that its own backward then refuses
    # ("modified by an inplace operation", whatever the input): a torch defect, so ember's
    # gradient is checked by gradcheck only.
    Row("vander", lambda L, a: L.vander(a.reshape(-1)[:4]),
        torch_backward_bug="modified by an inplace operation"),
    Row("vander_increasing", lambda L, a: L.vander(a.reshape(-1)[:3], N=4, increasing=True),
        torch_backward_bug="modified by an inplace operation"),
    # On empty input torch's backward of view_as_real trips over the stride of an empty
    # complex gradient: a kernel limit, not a rule.
    Row("complex", lambda L, a: L.view_as_real(L.complex(a, a * a)),
        torch_backward_bug="Tensor must have a last dimension with stride 1"),
    Row("polar", lambda L, a: L.view_as_real(L.polar(a.abs(), a * 2)),
        torch_backward_bug="Tensor must have a last dimension with stride 1"),
    Row("view_as_complex", lambda L, a: L.view_as_complex(L.stack([a, a.exp()], -1)).abs()),
]
LAST_IDS = [r.name for r in LAST_ROWS]


def _matrix_shapes():
    return st.tuples(st.lists(st.integers(0, 2), max_size=1), st.integers(0, 3)).map(
        lambda t: tuple(t[0]) + (t[1], t[1]))


@pytest.mark.parametrize("row", LAST_ROWS, ids=LAST_IDS)
@settings(max_examples=examples(5), deadline=None)
@given(data=st.data())
def test_more_op_matches_torch(row: Row, data) -> None:
    if row.name.startswith("logdet"):
        shape = data.draw(_matrix_shapes(), label="shape")
    else:
        shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=2), label="shape"))
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    check_op(row.fn, [shape], dtype=dtype, seed=seed, grad_rtol=1e-4 if dtype == "float32"
             else None, grad_atol=1e-4 if dtype == "float32" else None,
             torch_backward_bug=row.torch_backward_bug)


@pytest.mark.parametrize("row", LAST_ROWS, ids=LAST_IDS)
def test_more_op_noncontiguous_and_gradcheck(row: Row) -> None:
    check_op(row.fn, [(3, 3)], dtype="float64", noncontiguous=True,
             torch_backward_bug=row.torch_backward_bug)
    if "nan" not in row.name:  # finite differences cannot see through nan
        check_gradcheck(row.fn, [(3, 3)],
                        gradgrad=not row.name.startswith(("quantile", "nanq")))


def test_complex_gradients_like_torch() -> None:
    rng = np.random.default_rng(3)
    values = rng.standard_normal((3, 2))
    cot = rng.standard_normal((3, 2))

    def grads(L):
        z = L.tensor(values[:, 0] + 1j * values[:, 1]).requires_grad_()
        r = L.view_as_real(z * (1 + 2j))
        (r * L.tensor(cot)).sum().backward()
        x = L.tensor(values).requires_grad_()
        c = L.view_as_complex(x)
        (c * (2 - 1j)).abs().sum().backward()
        a = L.tensor(values[:, 0]).requires_grad_()
        b = L.tensor(values[:, 1]).requires_grad_()
        (L.polar(a, b) * (1 - 1j) + L.complex(b, a) ** 2).angle().sum().backward()
        m = L.tensor(values[:, :1] * values[:, 1] + 1j * values[:, 0]).requires_grad_()
        L.view_as_real(L.logdet(m + 2 * L.eye(3))).sum().backward()
        return [z.grad, x.grad, a.grad, b.grad, m.grad, r.grad_fn.name(), c.grad_fn.name()]

    for e, t in zip(grads(ember), grads(torch)):
        if isinstance(t, str):
            assert e == t
        else:
            assert_same(e, t)


def test_complex_views_share_memory() -> None:
    for L in (torch, ember):
        z = L.tensor([1 + 2j, 3 - 1j])
        r = L.view_as_real(z)
        r[0, 1] = 7.0
        assert z[0].imag.item() == 7.0
        x = L.zeros(2, 4, dtype=L.float64)
        c = L.view_as_complex(x[:, 2:])
        c[1] = 5j
        assert x[1, 3].item() == 5.0 and x._version == 1


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_values_like_torch(interpolation: str) -> None:
    data = np.random.default_rng(1).standard_normal((4, 7))
    data[1, 2] = np.nan
    data[2] = np.nan
    q = np.linspace(0, 1, 11)
    for fn in ("quantile", "nanquantile"):
        for dim in (None, 0, 1):
            def run(L, fn=fn, dim=dim):
                return getattr(L, fn)(L.tensor(data), L.tensor(q), dim, True,
                                      interpolation=interpolation)
            assert_same(run(ember), run(torch))
    check_op(lambda L, a: L.quantile(a.round(), 0.5, interpolation=interpolation), [(2, 4)])


SEARCH_CASES = {
    "searchsorted": lambda L: L.searchsorted(L.tensor([1.0, 2, 2, 3]), L.tensor([[2.0, 0],
                                                                                [9, 2.5]])),
    "right": lambda L: L.searchsorted(L.tensor([1.0, 2, 2, 3]), L.tensor([2.0, 3]), right=True),
    "side": lambda L: L.searchsorted(L.tensor([1, 2, 2, 3]), L.tensor([2, 3]), side="right"),
    "scalar": lambda L: L.searchsorted(L.tensor([1.0, 2, 3]), 2.5),
    "int32": lambda L: L.searchsorted(L.tensor([1.0, 2, 3]), L.tensor([2.0]), out_int32=True),
    "rows": lambda L: L.searchsorted(L.tensor([[1.0, 2, 3], [0, 5, 9]]),
                                     L.tensor([[2.0, 4], [6, 1]])),
    "sorter": lambda L: L.searchsorted(L.tensor([3.0, 1, 2]), L.tensor([2.0, 0.5]),
                                       sorter=L.tensor([1, 2, 0])),
    "bucketize": lambda L: L.bucketize(L.tensor([[2.0, 5], [0, 1]]), L.tensor([1.0, 2, 3])),
    "bucketize_right": lambda L: L.bucketize(L.tensor([2.0, 3]), L.tensor([1.0, 2, 3]),
                                             right=True, out_int32=True),
    "bucketize_scalar": lambda L: L.bucketize(2, L.tensor([1.0, 2, 3])),
    "isin": lambda L: L.isin(L.tensor([[1.0, 2], [3, 4]]), L.tensor([2, 3])),
    "isin_invert": lambda L: L.isin(L.tensor([1, 2, 3]), L.tensor([2]), invert=True,
                                    assume_unique=True),
    "isin_scalar": lambda L: L.isin(2, L.tensor([2, 3])),
    "isin_scalar_test": lambda L: L.isin(L.tensor([2, 3]), 3),
    "unravel_index": lambda L: L.unravel_index(L.tensor([[4, 1], [-1, 6]]), (2, 3)),
    "unravel_0d": lambda L: L.unravel_index(L.tensor(5), L.Size([3, 2])),
    "diff_bool": lambda L: L.diff(L.tensor([True, False, False])),
    "diff_uint8": lambda L: L.diff(L.tensor([3, 1], dtype=L.uint8)),
    "diff_promote": lambda L: L.diff(L.ones(3, dtype=L.int64), prepend=L.ones(1)),
    "diff_n0": lambda L: L.diff(L.tensor([1.0, 2]).requires_grad_(), n=0),
    "diff_long": lambda L: L.diff(L.arange(4.0).requires_grad_(), n=6),
    "vander_int": lambda L: L.vander(L.tensor([1, 2, 3], dtype=L.int32)),
    "vander_bool": lambda L: L.vander(L.tensor([True, False]), N=3),
    "vander_N0": lambda L: L.vander(L.tensor([1.0, 2]).requires_grad_(), N=0),
    "trapezoid_x": lambda L: L.trapezoid(L.tensor([[1.0, 2, 4], [0, 1, 5]]),
                                         L.tensor([0.0, 0.5, 2])),
    "trapezoid_x_rows": lambda L: L.trapezoid(L.tensor([[1.0, 2, 4], [0, 1, 5]]),
                                              L.tensor([[0.0, 0.5, 1], [1, 2, 2.5]]), dim=0),
    "trapezoid_int": lambda L: L.trapezoid(L.tensor([1, 2, 4])),
    "trapezoid_empty": lambda L: L.trapezoid(L.ones(3, 0)),
    "cumulative_trapezoid_x": lambda L: L.cumulative_trapezoid(
        L.tensor([[1.0, 2, 4], [0, 1, 5]]), x=L.tensor([0.0, 0.5, 2])),
    "cumulative_trapezoid_int": lambda L: L.cumulative_trapezoid(L.tensor([1, 2, 4]), dx=2),
    "cov_weights": lambda L: L.cov(L.tensor([[1.0, 2, 4, 0], [3, 3, 1, 2]]),
                                   fweights=L.tensor([1, 2, 1, 3]),
                                   aweights=L.tensor([0.5, 1, 2, 0.1])),
    "cov_fweights": lambda L: L.cov(L.tensor([[1.0, 2, 4, 0]]), fweights=L.tensor([1, 2, 1, 3]),
                                    correction=2),
    "cov_int": lambda L: L.cov(L.tensor([[1, 2, 4], [3, 3, 1]])),
    "cov_complex": lambda L: L.cov(L.tensor([[1 + 1j, 2, 4j], [3, 3 - 1j, 1]])),
    "corrcoef_1d": lambda L: L.corrcoef(L.tensor([1.0, 2, 4])),
    "corrcoef_complex": lambda L: L.corrcoef(L.tensor([[1 + 1j, 2, 4j], [3, 3 - 1j, 1]])),
    "complex_broadcast": lambda L: L.complex(L.ones(2, 1), L.arange(3.0)),
    "complex_inf": lambda L: L.view_as_real(L.complex(L.tensor([0.0, 1]),
                                                      L.tensor([float("inf"), -0.0]))),
    "polar_f32": lambda L: L.polar(L.tensor([1.0, 2]), L.tensor([0.5, -3])),
    "view_as_real_f32": lambda L: L.view_as_real(L.tensor([1 + 2j, 3j], dtype=L.complex64)),
    "view_as_complex_cols": lambda L: L.view_as_complex(L.arange(12.0).reshape(3, 4)[:, :2]),
    "i0_int": lambda L: L.i0(L.tensor([1, 2, 30])),
    "i0_special_values": lambda L: L.i0(L.tensor([0.0, 1e-3, 7.5, 50, 700, 800, -800])),
    "i1_special_values": lambda L: L.special.i1(L.tensor([0.0, -1e-3, 7.5, 24.9, 25.1, 700,
                                                          -800], dtype=L.float64)),
    "i0_half": lambda L: L.i0(L.tensor([1.5, -3], dtype=L.float16)),
    "fill_diagonal": lambda L: L.zeros(3, 4).fill_diagonal_(2.0),
    "fill_diagonal_tall": lambda L: L.zeros(7, 3).fill_diagonal_(5, wrap=True),
    "fill_diagonal_tall_nowrap": lambda L: L.zeros(7, 3).fill_diagonal_(5),
    "fill_diagonal_cube": lambda L: L.zeros(3, 3, 3, dtype=L.int64).fill_diagonal_(4),
    "renorm_f32": lambda L: L.renorm(L.tensor([[3.0, 4], [0.1, 0.2]]), 2, 0, 1),
}


@pytest.mark.parametrize("case", sorted(SEARCH_CASES))
def test_more_values_like_torch(case: str) -> None:
    out_t = SEARCH_CASES[case](torch)
    out_e = SEARCH_CASES[case](ember)
    out_t, out_e = (out_t, out_e) if isinstance(out_t, tuple) else ((out_t,), (out_e,))
    assert len(out_e) == len(out_t)
    for e, t in zip(out_e, out_t):
        assert_same(e, t)
        assert (e.grad_fn is None) == (t.grad_fn is None)
        if t.grad_fn is not None:
            assert e.grad_fn.name() == t.grad_fn.name()


def test_i1_matches_torch_to_float64_precision() -> None:
    x = np.concatenate([np.linspace(-720, 720, 4001), np.geomspace(1e-8, 30, 500)])
    for L in (torch, ember):
        L.v = L.special.i1(L.tensor(x))
    np.testing.assert_allclose(ember.v._data, torch.v.numpy(), rtol=5e-15, atol=0)
    np.testing.assert_allclose(ember.i0(ember.tensor(x))._data, torch.i0(torch.tensor(x)),
                               rtol=2e-15, atol=0)


def test_fill_diagonal_grad_like_torch() -> None:
    check_op(lambda L, a: (a * 1).fill_diagonal_(-1.5), [(3, 4)])
    check_op(lambda L, a: (a * 1).fill_diagonal_(2, wrap=True), [(7, 2)])
    check_gradcheck(lambda L, a: (a * 1).fill_diagonal_(0.5), [(3, 3)])


LAST_ERRORS = {
    "logdet_int": lambda L: L.logdet(L.ones(2, 2, dtype=L.int64)),
    "logdet_half": lambda L: L.logdet(L.ones(2, 2, dtype=L.float16)),
    "logdet_1d": lambda L: L.logdet(L.ones(3)),
    "logdet_rect": lambda L: L.logdet(L.ones(2, 3)),
    "diff_0d": lambda L: L.diff(L.tensor(1.0)),
    "diff_order": lambda L: L.diff(L.ones(3), n=-1),
    "diff_dim": lambda L: L.diff(L.ones(3, 2), dim=2),
    "diff_prepend": lambda L: L.diff(L.ones(3, 2), prepend=L.ones(2)),
    "quantile_int": lambda L: L.quantile(L.tensor([1, 2]), 0.3),
    "quantile_half": lambda L: L.quantile(L.ones(2, dtype=L.float16), 0.3),
    "quantile_q_range": lambda L: L.quantile(L.ones(2), 1.3),
    "quantile_q_values": lambda L: L.quantile(L.ones(2), L.tensor([-0.1, 0.5])),
    "quantile_q_dtype": lambda L: L.nanquantile(L.ones(2), L.tensor([0.1], dtype=L.float64)),
    "quantile_q_dims": lambda L: L.quantile(L.ones(2), L.tensor([[0.1]])),
    "quantile_empty": lambda L: L.quantile(L.ones(3, 0), 0.3, dim=0),
    "quantile_interpolation": lambda L: L.quantile(L.ones(2), 0.3, interpolation="cubic"),
    "quantile_dim": lambda L: L.quantile(L.ones(2), 0.3, dim=1),
    "searchsorted_side": lambda L: L.searchsorted(L.ones(3), L.ones(1), side="up"),
    "searchsorted_opposite": lambda L: L.searchsorted(L.ones(3), L.ones(1), right=True,
                                                      side="left"),
    "searchsorted_rows": lambda L: L.searchsorted(L.ones(2, 3), L.ones(2)),
    "searchsorted_0d": lambda L: L.searchsorted(L.tensor(1.0), L.ones(2)),
    "bucketize_2d": lambda L: L.bucketize(L.ones(2), L.ones(1, 3)),
    "isin_complex": lambda L: L.isin(L.tensor([1j]), L.tensor([1j])),
    "unravel_float": lambda L: L.unravel_index(L.tensor(1.0), (2, 3)),
    "unravel_shape": lambda L: L.unravel_index(L.tensor(1), (-2, 3)),
    "view_as_real": lambda L: L.view_as_real(L.ones(2)),
    "view_as_complex_int": lambda L: L.view_as_complex(L.ones(2, 2, dtype=L.int64)),
    "view_as_complex_0d": lambda L: L.view_as_complex(L.tensor(1.0)),
    "view_as_complex_size": lambda L: L.view_as_complex(L.ones(2, 3)),
    "view_as_complex_stride": lambda L: L.view_as_complex(L.ones(2, 2).t()),
    "view_as_complex_even": lambda L: L.view_as_complex(L.ones(3, 3)[:, :2]),
    "view_as_complex_offset": lambda L: L.view_as_complex(L.ones(5)[1:3]),
    "complex_int": lambda L: L.complex(L.ones(2, dtype=L.int64), L.ones(2, dtype=L.int64)),
    "complex_mixed": lambda L: L.complex(L.ones(2, dtype=L.float64), L.ones(2)),
    "polar_mixed": lambda L: L.polar(L.ones(2), L.ones(2, dtype=L.float64)),
    "cov_3d": lambda L: L.cov(L.ones(2, 2, 2)),
    "cov_fweights_float": lambda L: L.cov(L.ones(2, 3), fweights=L.ones(3)),
    "cov_fweights_negative": lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([1, -1, 1])),
    "cov_aweights_negative": lambda L: L.cov(L.ones(2, 3), aweights=L.tensor([1, -1, 1.0])),
    "cov_fweights_size": lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([1, 1])),
    "trapezoid_x": lambda L: L.trapezoid(L.ones(3, 3), L.ones(2)),
    "trapezoid_0d": lambda L: L.trapezoid(L.tensor(1.0)),
    "cumulative_trapezoid_0d": lambda L: L.cumulative_trapezoid(L.tensor(1.0)),
    "renorm_p": lambda L: L.renorm(L.ones(2, 2), 0, 0, 1.0),
    "renorm_maxnorm": lambda L: L.renorm(L.ones(2, 2), 2, 0, -1.0),
    "renorm_int": lambda L: L.renorm(L.ones(2, 2, dtype=L.int64), 2, 0, 1.0),
    "renorm_1d": lambda L: L.renorm(L.ones(3), 2, 0, 1.0),
    "i0_complex": lambda L: L.i0(L.tensor([1j])),
    "i1_complex": lambda L: L.special.i1(L.tensor([1j], dtype=L.complex128)),
    "vander_2d": lambda L: L.vander(L.ones(2, 2)),
    "vander_N": lambda L: L.vander(L.ones(2), N=-1),
    "fill_diagonal_1d": lambda L: L.zeros(3).fill_diagonal_(1.0),
    "fill_diagonal_cube": lambda L: L.zeros(2, 3, 2).fill_diagonal_(1.0),
    "fill_diagonal_leaf": lambda L: L.zeros(2, 2, requires_grad=True).fill_diagonal_(1.0),
}


@pytest.mark.parametrize("case", sorted(LAST_ERRORS))
def test_last_errors_like_torch(case: str) -> None:
    check_raises_like(LAST_ERRORS[case])


# ---- as_strided: views with any sizes and strides over the tensor's memory -------------------

AS_STRIDED_CASES = [
    # (input shape, size, stride, storage_offset)
    ((6,), (2, 2), (1, 2), 1),
    ((6,), (3, 2), (1, 1), None),      # overlapping sliding windows
    ((3, 4), (2, 3), (4, 1), 1),
    ((3, 4), (4, 3), (1, 4), 0),       # a transpose through memory
    ((3, 4), (5, 4), (2, 1), 0),       # windows overlapping by half
    ((3, 4), (3, 2), (0, 3), 2),       # zero stride: one row read three times
    ((2, 3, 4), (6, 4), (4, 1), None),
    ((2, 3, 4), (2, 2, 2), (12, 5, 1), 3),
    ((5,), (), (), 4),                 # a 0-d view
    ((5,), (0, 3), (1, 1), 2),         # empty
]


@pytest.mark.parametrize("noncontiguous", [False, True])
@pytest.mark.parametrize("case", AS_STRIDED_CASES, ids=str)
def test_as_strided_like_torch(case, noncontiguous: bool) -> None:
    shape, size, stride, offset = case
    check_op(lambda L, x: L.as_strided(x, size, stride, offset), [shape],
             noncontiguous=noncontiguous)
    check_op(lambda L, x: (x * 1).as_strided(size, stride, offset).sum() if offset is None
             else x.as_strided(size, stride, offset) * 2, [shape], noncontiguous=noncontiguous,
             dtype="float64")


@pytest.mark.parametrize("case", AS_STRIDED_CASES[:8], ids=str)
def test_as_strided_gradcheck(case) -> None:
    shape, size, stride, offset = case
    check_gradcheck(lambda L, x: x.as_strided(size, stride, offset), [shape])
    # through a non-leaf view: the gradient lands in the view's own geometry
    check_gradcheck(lambda L, x: (x * 1).flatten()[1:].as_strided((2, 2), (1, 1)), [shape])


@pytest.mark.parametrize("make", [
    lambda L: L.arange(12.).reshape(3, 4),
    lambda L: L.arange(12.).reshape(3, 4).t(),
    lambda L: L.arange(12.).reshape(3, 4)[1:, 1:],
    lambda L: L.arange(12.).reshape(3, 4).expand(2, 3, 4),
])
def test_as_strided_geometry_like_torch(make) -> None:
    for L in (torch, ember):
        x = make(L)
        views = [x.as_strided((2, 2), (1, 2)), x.as_strided((3,), (2,), 1),
                 L.as_strided(x, (2, 3), (0, 1), 5)]
        if L is torch:
            expected = [(v.tolist(), v.stride(), v.storage_offset()) for v in views]
        else:
            got = [(v.tolist(), v.stride(), v.storage_offset()) for v in views]
    assert got == expected


def test_as_strided_shares_memory_like_torch() -> None:
    results = []
    for L in (torch, ember):
        base = L.arange(12.).reshape(3, 4)
        view = base[1:].as_strided((2, 3), (1, 2), 2)
        view[0, 1] = -1.0          # into the base
        base.add_(10)              # and back into the view
        view.mul_(2)
        results.append((base.tolist(), view.tolist(), view._version))
    assert results[1] == results[0]


def test_as_strided_with_overlap_backward_like_torch() -> None:
    # a non-leaf input read through overlapping windows: torch sums the overlaps in memory
    grads = []
    for L in (torch, ember):
        a = L.arange(1.0, 13.0, dtype=L.float64).reshape(3, 4).requires_grad_()
        windows = (a * a).t().as_strided((5, 3), (2, 1), 1)
        weight = L.arange(15.0, dtype=L.float64).reshape(5, 3)
        (windows * weight).sum().backward()
        grads.append(a.grad.tolist())
    assert grads[1] == grads[0]


def test_as_strided_inplace_like_torch() -> None:
    results = []
    for L in (torch, ember):
        a = L.arange(8.0, dtype=L.float64).requires_grad_()
        x = a * 1
        out = x.as_strided_((3, 2), (2, 1), 1)
        assert out is x
        y = x * L.arange(6.0, dtype=L.float64).reshape(3, 2)
        y.sum().backward()
        results.append((x.tolist(), x.stride(), x.storage_offset(), x.grad_fn.name(),
                        a.grad.tolist(), x.as_strided((2,), (1,)).tolist()))
    assert results[1] == results[0]


@given(st.data())
@settings(max_examples=examples(25), deadline=None)
def test_as_strided_hypothesis(data) -> None:
    n = data.draw(st.integers(1, 12))
    ndim = data.draw(st.integers(0, 3))
    size = tuple(data.draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    stride = tuple(data.draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    reach = sum((k - 1) * s for k, s in zip(size, stride))
    offset = data.draw(st.integers(0, 13))
    # in bounds or not: out of bounds must raise torch's error
    check_op(lambda L, x: x.as_strided(size, stride, offset), [(n,)], dtype="float64")
    if offset + reach < n:
        check_gradcheck(lambda L, x: x.as_strided(size, stride, offset), [(n,)],
                        gradgrad=False)


AS_STRIDED_ERRORS = {
    "out_of_bounds": lambda L: L.arange(4.0).as_strided((3,), (2,)),
    "out_of_bounds_offset": lambda L: L.arange(4).as_strided((2,), (1,), 3),
    "out_of_bounds_view": lambda L: L.arange(6.0)[2:].as_strided((5,), (1,)),
    "negative_stride": lambda L: L.arange(4.0).as_strided((3,), (-1,)),
    "negative_size": lambda L: L.arange(4.0).as_strided((-3,), (1,)),
    "negative_offset": lambda L: L.arange(4.0).as_strided((3,), (1,), -1),
    "length_mismatch": lambda L: L.arange(4.0).as_strided((3, 2), (1,)),
    "write_zero_stride": lambda L: L.arange(4.0).as_strided((3, 1), (0, 1)).mul_(2),
    "inplace_out_of_bounds": lambda L: L.arange(4.0).as_strided_((5,), (1,)),
    "inplace_leaf": lambda L: L.ones(4, requires_grad=True).as_strided_((2,), (1,)),
}


@pytest.mark.parametrize("case", sorted(AS_STRIDED_ERRORS))
def test_as_strided_errors_like_torch(case: str) -> None:
    check_raises_like(AS_STRIDED_ERRORS[case])


def test_as_strided_error_leaves_input_untouched() -> None:
    a = ember.arange(6.0).requires_grad_()
    x = a * 1
    with pytest.raises(RuntimeError):
        x.as_strided_((7,), (1,))
    assert x.shape == (6,) and x.stride() == (1,) and x._version == 0
    assert x.grad_fn.name() == "MulBackward0"


# ---- a write through a view after the base was restrided in place ----------------------------

RESTRIDED_WRITES = {
    "t_": lambda L, x: (x.reshape(4, 3), lambda b: b.t_(), lambda b: b[0]),
    "transpose_then_row": lambda L, x: (x.reshape(3, 4), lambda b: b.transpose_(0, 1),
                                        lambda b: b[1]),
    "unsqueeze_": lambda L, x: (x.reshape(2, 6), lambda b: b.unsqueeze_(0), lambda b: b[:, 1]),
    "as_strided_": lambda L, x: (x.reshape(12), lambda b: b.as_strided_((3, 3), (3, 1), 2),
                                 lambda b: b[2:8:2]),
    "transposed_base": lambda L, x: (x.reshape(4, 3).t(), lambda b: b.t_(), lambda b: b[1]),
}


@pytest.mark.parametrize("case", sorted(RESTRIDED_WRITES))
def test_write_through_view_after_restride_like_torch(case: str) -> None:
    results = []
    for L in (torch, ember):
        a = L.arange(12.0, dtype=L.float64).requires_grad_()
        shaped, restride, take = RESTRIDED_WRITES[case](L, a * 1)
        base = shaped * 1  # keeps ``shaped``'s layout (transposed for "transposed_base")
        view = take(base)
        restride(base)
        view.mul_(L.arange(2.0, 2.0 + view.numel(), dtype=L.float64).reshape(view.shape))
        weight = L.arange(base.numel(), dtype=L.float64).reshape(base.shape)
        (base * weight).sum().backward()
        results.append((base.tolist(), view.tolist(), view.grad_fn.name(),
                        base.grad_fn.name(), a.grad.tolist()))
    assert results[1] == results[0]


def test_write_through_view_example_like_torch() -> None:
    results = []
    for L in (torch, ember):
        a = L.arange(6.).reshape(2, 3).requires_grad_()
        x = a * 1
        w = x[0]
        x.t_()
        w.mul_(2)
        w.add_(1)  # a second write goes through the regenerated (as_strided) view
        (x * L.arange(6.).reshape(3, 2)).sum().backward()
        results.append((a.grad.tolist(), w.grad_fn.name(), x.tolist()))
    assert results[1] == results[0]


# torch's binary search: its comparisons are false for nan, so a nan in the sequence sends
# the search right (NumPy's searchsorted orders nan last); unsorted sequences follow its
# halving too
SEARCH_SEQUENCES = {
    "nan_last": ([1.0, 2, math.nan], [2.0, 0, math.nan, 5]),
    "nan_middle": ([1.0, math.nan, 3, 4], [0.5, 2, 3.5, math.nan]),
    "nan_alone": ([math.nan], [-1.0, 0.5, math.nan]),
    "unsorted": ([3.0, 1, 2, 0.5, 7, 6], [2.0, 6.5, 0, 8]),
    "ties": ([1.0, 1, 1, 2, 2], [1.0, 2, 1.5]),
    "empty_sequence": ([], [1.0, 2]),
    "negative_zero": ([-1.0, -0.0, 0.0, 1], [0.0, -0.0]),
}


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("case", sorted(SEARCH_SEQUENCES))
def test_searchsorted_follows_torchs_search(case: str, right: bool) -> None:
    seq, values = SEARCH_SEQUENCES[case]
    # one sequence for all values, then one per row of values
    for s, v in ((seq, values), ([seq, seq[::-1]], [values, values[::-1]])):
        assert_same(ember.searchsorted(ember.tensor(s), ember.tensor(v), right=right),
                    torch.searchsorted(torch.tensor(s), torch.tensor(v), right=right))


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(0, 3), st.integers(0, 7), st.integers(0, 4), st.booleans(),
       st.integers(0, 2 ** 32 - 1))
def test_searchsorted_hypothesis(rows: int, n: int, m: int, right: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lead = (rows,) if rows else ()
    seq = np.sort(np.round(rng.standard_normal(lead + (n,)) * 2, 1), -1)
    if seq.size and rng.random() < 0.5:
        seq.flat[rng.integers(0, seq.size)] = math.nan
    values = np.round(rng.standard_normal(lead + (m,)) * 2, 1)
    assert_same(ember.searchsorted(ember.tensor(seq), ember.tensor(values), right=right),
                torch.searchsorted(torch.tensor(seq), torch.tensor(values), right=right))


@pytest.mark.parametrize("call", [
    lambda L: L.searchsorted(L.tensor([False, True]), L.tensor([True])),
    lambda L: L.searchsorted(L.tensor([False, True]), True, right=True),
    lambda L: L.searchsorted(L.tensor([True])[:0], L.tensor([True])),
    lambda L: L.bucketize(True, L.tensor([False, True])),
    lambda L: L.searchsorted(L.tensor([1.0, 2]), 1.5 + 1j),
    lambda L: L.searchsorted(L.tensor([1.0, 2], dtype=L.float64),
                             L.tensor([1j], dtype=L.complex64)),
])
def test_searchsorted_bool_and_complex_refused(call) -> None:
    # the sequence and values are compared in their promoted dtype: torch's kernel has no
    # bool or complex loop
    check_raises_like(call)


@pytest.mark.parametrize("call", [
    lambda L: L.searchsorted(L.tensor([False, True]), L.tensor([True])[:0]),
    lambda L: L.searchsorted(L.tensor([False, True]), 1),
    lambda L: L.searchsorted(L.tensor([0, 1]), L.tensor([False, True])),
])
def test_searchsorted_bool_accepted_as_torch(call) -> None:
    assert_same(call(ember), call(torch))
