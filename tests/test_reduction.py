"""Reductions, scans and sorting against torch (ember/_ops/reduction.py).

One row per op (see tests/helpers.py and tests/test_ops.py): each row runs over
hypothesis-generated shapes (0-d, empty and size-1 dims included), on non-contiguous inputs,
and through float64 gradcheck/gradgradcheck. Then the cases rows cannot reach: ties and nan
(torch's rules for which element gets the gradient), other dtypes, errors, printing.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import ember
from ember._ops import reduction as R
from tests.helpers import (
    Row,
    assert_raises_like,
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    check_reduction,
    check_row_case,
    examples,
    shape_cases_for,
    torch,
    torch_or_refused,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")

INF = math.inf
NAN = math.nan


def F(L, name: str):
    """``torch.NAME`` or ember's (until the lead wires the names into ``ember``)."""
    return getattr(torch, name) if L is torch else getattr(R, name)


POS = (0.5, 1.5)

ROWS = [
    Row("prod", lambda L, a: a.prod(), domain=POS),
    Row("prod_fn_dim", lambda L, a: F(L, "prod")(a, -1), domain=POS),
    Row("prod_dim_keepdim", lambda L, a: a.prod(0, keepdim=True), domain=POS),
    Row("prod_dtype", lambda L, a: a.prod(dtype=L.float64), domain=POS),
    Row("max", lambda L, a: a.max()),
    Row("max_fn", lambda L, a: F(L, "max")(a)),
    Row("max_dim", lambda L, a: a.max(-1)),
    Row("max_dim_keepdim", lambda L, a: F(L, "max")(a, 0, keepdim=True)),
    Row("max_binary", lambda L, a: F(L, "max")(a, a * 0.5)),
    Row("min", lambda L, a: a.min()),
    Row("min_dim", lambda L, a: F(L, "min")(a, dim=-1)),
    Row("min_binary", lambda L, a: a.min(a * -0.5)),
    Row("amax", lambda L, a: a.amax()),
    Row("amax_dim", lambda L, a: F(L, "amax")(a, -1)),
    Row("amax_dims_keepdim", lambda L, a: a.amax(tuple(range(a.dim())), keepdim=True)),
    Row("amin", lambda L, a: F(L, "amin")(a, 0)),
    Row("argmax", lambda L, a: a.argmax(), grad=False),
    Row("argmax_dim", lambda L, a: F(L, "argmax")(a, -1), grad=False),
    Row("argmax_keepdim", lambda L, a: a.argmax(keepdim=True), grad=False),
    Row("argmin_dim_keepdim", lambda L, a: a.argmin(0, keepdim=True), grad=False),
    Row("var", lambda L, a: a.var()),
    Row("var_dim", lambda L, a: F(L, "var")(a, -1)),
    Row("var_unbiased_false", lambda L, a: a.var(0, False, True)),
    Row("var_correction", lambda L, a: a.var(-1, correction=0, keepdim=True)),
    Row("var_bool_arg", lambda L, a: F(L, "var")(a, False)),
    Row("std", lambda L, a: a.std()),
    Row("std_dim", lambda L, a: a.std(-1, keepdim=True)),
    # over the last dim: the gradcheck's (2, 3) input then keeps a degree of freedom (over
    # dim 0, correction 2 leaves none: nan gradients, which torch's gradcheck refuses too)
    Row("std_correction", lambda L, a: F(L, "std")(a, -1, correction=2)),
    Row("var_mean", lambda L, a: F(L, "var_mean")(a, -1)),
    Row("var_mean_all", lambda L, a: F(L, "var_mean")(a)),
    Row("std_mean", lambda L, a: F(L, "std_mean")(a, 0, keepdim=True)),
    Row("std_mean_mean_only", lambda L, a: F(L, "std_mean")(a)[1]),
    Row("norm", lambda L, a: a.norm()),
    Row("norm_fn_dim", lambda L, a: F(L, "norm")(a, dim=-1)),
    Row("norm_1", lambda L, a: a.norm(1)),
    Row("norm_inf_dim", lambda L, a: a.norm(INF, -1)),
    Row("norm_neg_inf", lambda L, a: a.norm(-INF, 0, keepdim=True)),
    Row("norm_fro", lambda L, a: a.norm("fro")),
    Row("norm_3", lambda L, a: a.norm(3, -1)),
    Row("norm_1_5", lambda L, a: a.norm(1.5), domain=POS),
    Row("norm_half", lambda L, a: a.norm(0.5), domain=POS),
    Row("logsumexp", lambda L, a: a.logsumexp(-1)),
    Row("logsumexp_fn_dims", lambda L, a: F(L, "logsumexp")(a, tuple(range(a.dim())), True)),
    Row("cumsum", lambda L, a: a.cumsum(-1)),
    Row("cumsum_fn", lambda L, a: F(L, "cumsum")(a, 0)),
    Row("cumprod", lambda L, a: a.cumprod(-1), domain=POS),
    Row("cumprod_fn", lambda L, a: F(L, "cumprod")(a, 0), domain=POS),
    Row("cummax", lambda L, a: a.cummax(-1)),
    Row("cummin", lambda L, a: F(L, "cummin")(a, 0)),
    Row("all", lambda L, a: (a > -1).all(), grad=False),
    Row("all_dim", lambda L, a: F(L, "all")(a > 0, -1), grad=False),
    Row("any", lambda L, a: a.any(), grad=False),
    Row("any_dim_keepdim", lambda L, a: (a > 1).any(0, keepdim=True), grad=False),
    # an empty dim: each element's truth (sum and the others reduce every dim instead)
    Row("all_no_dims", lambda L, a: a.all(()), grad=False),
    Row("any_no_dims_keepdim", lambda L, a: L.any(a, [], keepdim=True), grad=False),
    Row("count_nonzero", lambda L, a: F(L, "count_nonzero")(a > 0), grad=False),
    Row("count_nonzero_dim", lambda L, a: (a > 0).count_nonzero(-1), grad=False),
    Row("median", lambda L, a: a.median()),
    Row("median_dim", lambda L, a: a.median(-1)),
    Row("median_fn_keepdim", lambda L, a: F(L, "median")(a, 0, keepdim=True)),
    Row("nansum", lambda L, a: a.nansum()),
    Row("nansum_dim", lambda L, a: F(L, "nansum")(a, -1)),
    Row("nanmean", lambda L, a: a.nanmean()),
    Row("nanmean_dim", lambda L, a: F(L, "nanmean")(a, -1, keepdim=True)),
    Row("sort", lambda L, a: a.sort()),
    Row("sort_descending", lambda L, a: F(L, "sort")(a, 0, descending=True)),
    Row("sort_stable", lambda L, a: F(L, "sort")(a, dim=-1, stable=True)),
    Row("argsort", lambda L, a: a.argsort(), grad=False),
    Row("argsort_descending", lambda L, a: F(L, "argsort")(a, 0, descending=True), grad=False),
    Row("topk", lambda L, a: a.topk(min(2, a.shape[-1]) if a.dim() else 1)),
    Row("topk_smallest", lambda L, a: F(L, "topk")(a, 1, 0, largest=False)),
    Row("kthvalue", lambda L, a: a.kthvalue(1)),
    Row("kthvalue_keepdim", lambda L, a: F(L, "kthvalue")(a, 1, 0, keepdim=True)),
]

ROW_IDS = [r.name for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
@settings(max_examples=examples(8), deadline=None)
@given(data=st.data())
def test_op_matches_torch(row: Row, data) -> None:
    shape = data.draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                      label="shape")
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 1000), label="seed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(row.fn, [shape], dtype=dtype, low=row.domain[0], high=row.domain[1],
                 grad=row.grad, seed=seed)


@pytest.mark.parametrize("row,kind", shape_cases_for(ROWS))
def test_op_shape_cases(row: Row, kind: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_row_case(row, kind)


# ---- every reduction over each dim, keepdim both ways ----------------------------------
# fn(L, a, dim, keepdim); scans and ops without keepdim ignore it.

DIM_REDUCTIONS = [
    Row("sum", lambda L, a, d, k: a.sum(d, keepdim=k)),
    Row("mean", lambda L, a, d, k: L.mean(a, d, keepdim=k)),
    Row("prod", lambda L, a, d, k: a.prod(d, keepdim=k), domain=POS),
    Row("max", lambda L, a, d, k: tuple(a.max(d, keepdim=k))),
    Row("min", lambda L, a, d, k: tuple(L.min(a, d, k))),
    Row("amax", lambda L, a, d, k: a.amax(d, keepdim=k)),
    Row("amin", lambda L, a, d, k: L.amin(a, (d,), k)),
    Row("argmax", lambda L, a, d, k: a.argmax(d, keepdim=k), grad=False),
    Row("argmin", lambda L, a, d, k: L.argmin(a, d, k), grad=False),
    Row("var", lambda L, a, d, k: a.var(d, keepdim=k)),
    Row("std", lambda L, a, d, k: L.std(a, d, correction=0, keepdim=k)),
    Row("var_mean", lambda L, a, d, k: L.var_mean(a, d, keepdim=k)),
    Row("std_mean", lambda L, a, d, k: L.std_mean(a, d, keepdim=k)),
    Row("norm", lambda L, a, d, k: a.norm(2, d, keepdim=k)),
    Row("norm_inf", lambda L, a, d, k: a.norm(INF, d, keepdim=k)),
    Row("logsumexp", lambda L, a, d, k: a.logsumexp(d, keepdim=k)),
    Row("all", lambda L, a, d, k: (a > -1).all(d, keepdim=k), grad=False),
    Row("any", lambda L, a, d, k: L.any(a > 1, d, keepdim=k), grad=False),
    Row("median", lambda L, a, d, k: tuple(a.median(d, keepdim=k))),
    Row("nanmedian", lambda L, a, d, k: tuple(L.nanmedian(a, d, keepdim=k))),
    Row("nansum", lambda L, a, d, k: a.nansum(d, keepdim=k)),
    Row("nanmean", lambda L, a, d, k: L.nanmean(a, d, keepdim=k)),
    Row("kthvalue", lambda L, a, d, k: tuple(a.kthvalue(1, d, keepdim=k))),
    Row("mode", lambda L, a, d, k: tuple(L.mode(a.round(), d, keepdim=k))),
    Row("aminmax", lambda L, a, d, k: tuple(L.aminmax(a, dim=d, keepdim=k))),
    Row("count_nonzero", lambda L, a, d, k: (a > 0).count_nonzero(d), grad=False),
    Row("cumsum", lambda L, a, d, k: a.cumsum(d)),
    Row("cumprod", lambda L, a, d, k: L.cumprod(a, d), domain=POS),
    Row("cummax", lambda L, a, d, k: tuple(a.cummax(d))),
    Row("cummin", lambda L, a, d, k: tuple(L.cummin(a, d))),
    Row("logcumsumexp", lambda L, a, d, k: a.logcumsumexp(d)),
]


@pytest.mark.parametrize("shape,noncontiguous", [((2, 3, 4), False), ((2, 3, 4), True),
                                                 ((2, 0, 3), False)], ids=str)
@pytest.mark.parametrize("row", DIM_REDUCTIONS, ids=[r.name for r in DIM_REDUCTIONS])
def test_reduction_over_each_dim(row: Row, shape, noncontiguous) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_reduction(row.fn, shape, dtype=row.dtypes[int(noncontiguous)], low=row.domain[0],
                        high=row.domain[1], grad=row.grad, noncontiguous=noncontiguous)


GRAD_ROWS = [r for r in ROWS if r.grad]


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r.name for r in GRAD_ROWS])
def test_op_gradcheck(row: Row) -> None:
    def differentiable(L, a):
        # ember's gradcheck, unlike torch's, does not skip outputs that need no gradient
        out = row.fn(L, a)
        return tuple(o for o in out if o.requires_grad) if isinstance(out, tuple) else out
    check_gradcheck(differentiable, [(2, 3)], low=row.domain[0], high=row.domain[1],
                    gradgrad=row.gradgrad)


# ---- ties and nan: who gets the gradient ----------------------------------------------

TIES = [[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]
NANS = [[1.0, NAN, 3.0], [NAN, 0.0, NAN]]
SIGNED_TIES = [[1.0, -3.0, 3.0], [2.0, 0.0, 2.0]]
MEDIAN_TIES = [[1.0, 2.0, 2.0, 3.0, 2.0]]


def _compare_on(values, fn) -> None:
    """``fn`` on the same fixed values in both libraries: outputs and the gradient for a
    non-uniform cotangent."""
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    e = ember.tensor(values, dtype=ember.float64, requires_grad=True)
    t_out, e_out = fn(torch, t), fn(ember, e)
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    e_outs = e_out if isinstance(e_out, tuple) else (e_out,)
    assert len(t_outs) == len(e_outs)
    for te, ee in zip(t_outs, e_outs):
        assert_same(ee, te)
    cot = np.arange(1.0, t_outs[0].numel() + 1).reshape(tuple(t_outs[0].shape))
    t_outs[0].backward(torch.tensor(cot))
    e_outs[0].backward(ember.tensor(cot))
    assert_same(e.grad, t.grad, what="grad")


SPECIAL = {
    "max": lambda L, a: a.max(),
    "max_dim": lambda L, a: a.max(1),
    "min": lambda L, a: a.min(),
    "min_dim": lambda L, a: a.min(1),
    "amax": lambda L, a: a.amax(1),
    "amax_all": lambda L, a: a.amax(),
    "amin": lambda L, a: a.amin(0),
    "median": lambda L, a: a.median(),
    "median_dim": lambda L, a: a.median(1),
    "norm_inf": lambda L, a: a.norm(INF),
    "norm_inf_dim": lambda L, a: a.norm(INF, 1),
    "norm_2": lambda L, a: a.norm(dim=1),
    "cummax": lambda L, a: a.cummax(1),
    "cummin": lambda L, a: a.cummin(1),
    "sort": lambda L, a: a.sort(1),
    "sort_descending": lambda L, a: a.sort(1, descending=True),
    "argsort": lambda L, a: (a.sort(0)[0], a.argsort(1, descending=True)),
    "topk": lambda L, a: a.topk(2, 1),
    "topk_smallest": lambda L, a: a.topk(2, 1, largest=False),
    "kthvalue": lambda L, a: a.kthvalue(3, 1),
    "logsumexp": lambda L, a: a.logsumexp(1),
    "nansum": lambda L, a: a.nansum(1),
    "nanmean": lambda L, a: a.nanmean(1),
    "var": lambda L, a: a.var(1),
    "std": lambda L, a: a.std(0),
    "prod": lambda L, a: a.prod(),
    "prod_dim": lambda L, a: a.prod(1),
    "cumprod": lambda L, a: a.cumprod(1),
    "cumsum": lambda L, a: a.cumsum(1),
    "argmax": lambda L, a: (a.sum(), a.argmax(), a.argmax(1), a.argmin(1)),
}

VALUES = {"ties": TIES, "nans": NANS, "signed_ties": SIGNED_TIES, "median_ties": MEDIAN_TIES,
          "zeros": [[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]],
          "infs": [[-INF, -INF, 1.0], [INF, 2.0, INF]]}

# Where torch's result depends on its selection algorithm (the index among equal values it
# happens to return) or on its kernel's order of operations with nan and zero together.
UNSPECIFIED = {("kthvalue", "zeros"), ("cumprod", "nans"), ("topk", "median_ties"),
               ("topk_smallest", "median_ties"), ("kthvalue", "median_ties")}


@pytest.mark.parametrize("name,values", [(n, v) for n in SPECIAL for v in VALUES
                                         if (n, v) not in UNSPECIFIED], ids=str)
def test_ties_nan_inf(name: str, values: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare_on(VALUES[values], SPECIAL[name])


@pytest.mark.parametrize("fn", [lambda a: a.prod(), lambda a: a.prod(1),
                                lambda a: a.cumprod(1)], ids=["prod", "prod_dim", "cumprod"])
def test_prod_and_cumprod_with_zeros(fn) -> None:
    values = [[1.5, 0.0, 2.0, 0.5], [0.0, 0.0, 3.0, 1.0], [1.0, 2.0, 0.7, 0.0]]
    _compare_on(values, lambda L, a: fn(a))
    x = ember.tensor(values, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(fn, [x], eps=1e-6, atol=1e-5)


# ---- other dtypes ---------------------------------------------------------------------

DTYPE_OPS = {
    "prod": lambda L, a: a.prod(), "prod_dim": lambda L, a: a.prod(0),
    "max": lambda L, a: a.max(), "max_dim": lambda L, a: a.max(1),
    "min_dim": lambda L, a: a.min(0, keepdim=True), "amax": lambda L, a: a.amax(1),
    "argmax": lambda L, a: a.argmax(), "argmin_dim": lambda L, a: a.argmin(1),
    "cumsum": lambda L, a: a.cumsum(1), "cumprod": lambda L, a: a.cumprod(0),
    "cummax": lambda L, a: a.cummax(1), "all": lambda L, a: a.all(),
    "any_dim": lambda L, a: a.any(1), "count_nonzero": lambda L, a: a.count_nonzero(0),
    "sort": lambda L, a: a.sort(dim=1, stable=True),
    "sort_descending": lambda L, a: a.sort(dim=0, descending=True, stable=True),
    "median": lambda L, a: a.median(), "nansum": lambda L, a: a.nansum(),
    "cumsum_dtype": lambda L, a: a.cumsum(0, dtype=L.float64),
    # a narrower integer dtype is the accumulator and the result's dtype (wrapping)
    "cumsum_int8": lambda L, a: (a * 50).cumsum(1, dtype=L.int8),
    "cumsum_uint8_fn": lambda L, a: L.cumsum(a * 70, 0, dtype=L.uint8),
    "cumprod_int16": lambda L, a: (a * 40).cumprod(1, dtype=L.int16),
    "cumprod_int32_fn": lambda L, a: L.cumprod(a * 300, 1, dtype=L.int32),
    "cumsum_bool_of_empty": lambda L, a: a[:0].cumsum(1, dtype=L.bool),
    # nansum's dtype is its result's (integers sum to int64 only without one)
    "nansum_int32": lambda L, a: (a * 40).nansum(dtype=L.int32),
    "nansum_int8_dim": lambda L, a: L.nansum(a * 40, 1, dtype=L.int8),
    "nansum_bool": lambda L, a: a.nansum(0, keepdim=True, dtype=L.bool),
    "nanmean_float64": lambda L, a: a.float().nanmean(1, dtype=L.float64),
    "nansum_complex_of_empty": lambda L, a: a[:0].float().nansum(dtype=L.complex64),
    "sum_of_maxes": lambda L, a: a.max(1).values.sum(),
}


# median and sort of bools are left out: torch's order among equal bools is its kernel's.
@pytest.mark.parametrize("op,dtype", [
    (op, dt) for op in DTYPE_OPS for dt in ("float16", "int64", "int32", "uint8", "bool")
    if not (op in ("median", "sort", "sort_descending") and dt == "bool")], ids=str)
def test_other_dtypes(op: str, dtype: str) -> None:
    check_op(DTYPE_OPS[op], [(3, 4)], dtype=dtype, low=-3, high=3, grad=False)


@pytest.mark.parametrize("call", [
    "x.sum()", "x.sum(dim=None)", "x.sum(None)", "L.sum(x, None)", "x.sum(dim=())",
    "x.sum(None, True)", "x.sum(dtype=L.float64)", "x.sum(None, dtype=L.float64)",
    "L.sum(input=x)", "L.sum(input=x, dim=None)", "x.mean()", "x.mean(dim=None)",
    "L.mean(x, None)", "x.mean(dim=())", "x.mean(None, keepdim=True)",
    "x.mean(None, dtype=L.float64)", "x.nansum()", "x.nansum(dim=None)", "x.prod()",
    "x.amax()", "x.amax(dim=None)", "x.amax(())", "x.amin(dim=())", "x.logsumexp(0)",
    "x.norm()", "x.norm(dim=None)", "x.var()", "x.var(None)", "x.std(dim=None)",
])
def test_reductions_over_every_dim_record_torch_nodes(call: str) -> None:
    # torch's sum and mean record SumBackward0 / MeanBackward0 without dim and their dim
    # overload's SumBackward1 / MeanBackward1 for dim=None (ember recorded the first)
    check_op(lambda L, x: eval(call, {"L": L, "x": x}), [(2, 3)])


def test_median_of_ints_with_ties_is_lower() -> None:
    for values in ([1, 2, 3, 4], [4, 1, 3, 2, 5], [7]):
        assert_same(ember.tensor(values).median(), torch.tensor(values).median())
        assert_same(ember.tensor(values, dtype=ember.float64).median(),
                    torch.tensor(values, dtype=torch.float64).median())


# ---- named tuples ---------------------------------------------------------------------


def test_return_types_behave_like_torch() -> None:
    t = torch.tensor(TIES, requires_grad=True)
    e = ember.tensor(TIES, requires_grad=True)
    for fn in (lambda a: a.max(1), lambda a: a.min(0, keepdim=True), lambda a: a.sort(1),
               lambda a: a.topk(1), lambda a: a.median(1), lambda a: a.kthvalue(1),
               lambda a: a.cummax(1), lambda a: a.cummin(0)):
        tr, er = fn(t), fn(e)
        assert repr(er) == repr(tr)
        assert isinstance(er, tuple) and len(er) == 2
        assert type(er).__name__ == type(tr).__name__
        values, indices = er
        assert values is er.values is er[0] and indices is er.indices is er[1]
        assert er.indices.dtype is ember.int64 and not er.indices.requires_grad
        assert er[-1] is er.indices and er[:1] == (er.values,)


def test_max_keeps_grad_fn_and_output_numbers() -> None:
    e = ember.tensor(TIES, requires_grad=True)
    t = torch.tensor(TIES, requires_grad=True)
    er, tr = e.max(1), t.max(1)
    assert er.values.grad_fn.name() == tr.values.grad_fn.name()
    assert er.indices.grad_fn is None and tr.indices.grad_fn is None


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("pick", [0, 1])
def test_moments_grad_through_one_output(name: str, pick: int) -> None:
    check_op(lambda L, a: F(L, name)(a, 1)[pick] * 3, [(3, 4)], dtype="float64")


# ---- unique, bincount, histc ----------------------------------------------------------

UNIQUE_CASES = [
    lambda L, a: F(L, "unique")(a),
    lambda L, a: a.unique(return_inverse=True),
    lambda L, a: a.unique(return_counts=True),
    lambda L, a: F(L, "unique")(a, sorted=True, return_inverse=True, return_counts=True),
    lambda L, a: a.unique(dim=0, return_inverse=True, return_counts=True),
    lambda L, a: a.unique(dim=1),
]


UNIQUE_VALUES = [[[3, 1, 3], [2, 1, 3], [3, 1, 3]], [[0, 0], [0, 0]], [[5]],
                 [[1.5, NAN, 1.5], [NAN, -2.0, 1.5]]]


# unique over a dim of slices holding nan is left out: torch's order of such slices is an
# accident of its comparisons.
@pytest.mark.parametrize("case,values", [
    (case, values) for case in range(len(UNIQUE_CASES)) for values in UNIQUE_VALUES
    if not (case >= 4 and any(v != v for row in values for v in row))], ids=str)
def test_unique(case: int, values) -> None:
    fn = UNIQUE_CASES[case]
    t_out, e_out = fn(torch, torch.tensor(values)), fn(ember, ember.tensor(values))
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    e_out = e_out if isinstance(e_out, tuple) else (e_out,)
    assert len(e_out) == len(t_out)
    for e, t in zip(e_out, t_out):
        assert_same(e, t)


def test_unique_is_not_differentiable() -> None:
    check_raises_like(lambda L: L.tensor([1.0, 2.0], requires_grad=True).unique().sum()
                      .backward())
    check_raises_like(lambda L: L.tensor([[1.0, 2.0]], requires_grad=True).unique(dim=1)
                      .sum().backward())
    t = torch.tensor([1.0, 1.0], requires_grad=True).unique(return_counts=True)
    e = ember.tensor([1.0, 1.0], requires_grad=True).unique(return_counts=True)
    assert [x.requires_grad for x in e] == [x.requires_grad for x in t]
    assert e[0].grad_fn.name() == t[0].grad_fn.name()


@pytest.mark.parametrize("fn", [
    lambda L: L.tensor([0, 3, 3, 1]).bincount(),
    lambda L: L.tensor([0, 3, 3]).bincount(minlength=7),
    lambda L: F(L, "bincount")(L.tensor([0, 3, 3]), L.tensor([0.5, 1.0, 2.0])),
    lambda L: L.tensor([0, 3, 3]).bincount(L.tensor([0.5, 1.0, 2.0], dtype=L.float64)),
    lambda L: L.tensor([0, 3, 3]).bincount(L.tensor([1, 1, 2])),
    lambda L: L.tensor([], dtype=L.int64).bincount(),
    lambda L: L.tensor([1.0, 2.0, 1.0, 4.0, -1.0]).histc(4),
    lambda L: F(L, "histc")(L.tensor([1.0, 2.0, 5.0, -1.0, 2.0]), 4, min=0, max=2),
    lambda L: L.tensor([2.0, 2.0], dtype=L.float64).histc(5),
    lambda L: L.tensor([0.1, 0.2, 0.3, 0.7, 0.9, 1.0]).histc(3, 0, 1),
], ids=str)
def test_bincount_histc(fn) -> None:
    assert_same(fn(ember), fn(torch))


# ---- errors ---------------------------------------------------------------------------

ERRORS = [
    lambda L: L.zeros(0, 3).max(),
    lambda L: L.zeros(0, 3).min(),
    lambda L: L.zeros(0, 3).amax(),
    lambda L: L.zeros(0, 3).amin(0),
    lambda L: L.zeros(0, 3).argmax(),
    lambda L: L.zeros(0, 3).argmin(0),
    lambda L: L.zeros(0, 3).max(0),
    lambda L: L.zeros(0, 3).median(0),
    lambda L: L.zeros(0, 3).kthvalue(1, 0),
    lambda L: L.zeros(2, 3).max(2),
    lambda L: L.zeros(2, 3).min(-3),
    lambda L: L.zeros(2, 3).sum((0, 0)),
    lambda L: L.zeros(2, 3).prod(5),
    lambda L: L.zeros(2, 3).var(4),
    lambda L: L.zeros(2, 3).cumsum(2),
    lambda L: L.zeros(2, 3).cumsum(1, dtype=L.bool),
    # nanmean checks the input's dtype before the one asked for; nansum refuses complex
    lambda L: L.tensor([1, 2]).nanmean(dtype=L.float32),
    lambda L: L.tensor([1.0, 2.0]).nanmean(dtype=L.int32),
    lambda L: L.tensor([1.0, 2.0]).mean(dtype=L.int32),
    lambda L: L.tensor([1.0, 2.0]).mean(0, dtype=L.bool),
    lambda L: L.tensor([1.0, 2.0], dtype=L.complex64).nansum(),
    lambda L: L.tensor([1.0, 2.0], dtype=L.complex64).nanmean(),
    lambda L: L.tensor([1.0, 2.0]).nansum(dtype=L.complex64),
    lambda L: L.tensor([1.0, 2.0]).nanmean(0, dtype=L.complex64),
    lambda L: L.ones(2, 3, dtype=L.bool).cumprod(0, dtype=L.bool),
    lambda L: L.tensor(2.0).cummax(1),
    lambda L: L.zeros(2, 3).sort(3),
    lambda L: L.zeros(2, 3).topk(4),
    lambda L: L.zeros(2, 3).topk(-1),
    lambda L: L.zeros(2, 3).kthvalue(4),
    lambda L: L.zeros(2, 3).kthvalue(0),
    # an empty tensor's k is checked against its non-empty dim too
    lambda L: L.zeros(0, 3).kthvalue(4, 1),
    lambda L: L.zeros(3, 0).kthvalue(4, 0),
    lambda L: L.zeros(2, 0, 3).kthvalue(0, 2),
    lambda L: L.zeros(2, 0, 3).kthvalue(1, 1),
    lambda L: L.zeros(2, 3).logsumexp(2),
    lambda L: L.tensor([1, 2]).var(),
    lambda L: L.tensor([1, 2]).std(0),
    lambda L: L.tensor([1, 2]).norm(),
    lambda L: L.tensor([1, 2]).nanmean(),
    lambda L: L.tensor([0, -3, 3]).bincount(),
    lambda L: L.tensor([[0, 3]]).bincount(),
    lambda L: L.tensor([0.0, 3.0]).bincount(),
    lambda L: L.tensor([0, 3]).bincount(minlength=-1),
    lambda L: L.tensor([0, 3]).bincount(L.tensor([1.0])),
    lambda L: L.tensor([1, 2]).histc(4),
    lambda L: L.tensor([1.0, 2.0]).histc(4, min=3, max=2),
    lambda L: L.tensor([1.0, 2.0]).histc(-1),
    lambda L: L.zeros(0).norm(INF),
]


@pytest.mark.parametrize("fn", ERRORS, ids=range(len(ERRORS)))
def test_errors_like_torch(fn) -> None:
    check_raises_like(fn)


def test_empty_reductions_with_identity() -> None:
    for fn in (lambda L, a: a.prod(), lambda L, a: a.prod(0), lambda L, a: a.max(1),
               lambda L, a: a.amax(1), lambda L, a: a.argmax(1), lambda L, a: a.logsumexp(0),
               lambda L, a: a.norm(), lambda L, a: a.all(), lambda L, a: a.any(0),
               lambda L, a: a.nansum(), lambda L, a: a.nanmean(), lambda L, a: a.median(),
               lambda L, a: a.cumsum(0), lambda L, a: a.sort(0), lambda L, a: a.unique(),
               lambda L, a: a.var(0), lambda L, a: a.topk(0, 0), lambda L, a: a.cummax(1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_op(fn, [(0, 3)])


def test_var_warns_like_torch() -> None:
    for name in ("var", "std", "var_mean", "std_mean"):
        with pytest.warns(UserWarning, match=rf"^{name}\(\): degrees of freedom is <= 0"):
            F(ember, name)(ember.ones(1))


@pytest.mark.parametrize("fn", [
    lambda L, x: x.sum(), lambda L, x: x.mean(0), lambda L, x: x.prod(), lambda L, x: x.var(),
    lambda L, x: x.cumsum(0), lambda L, x: x.cumprod(0), lambda L, x: x.nansum(),
    lambda L, x: x.nanmean(), lambda L, x: x.logsumexp(0), lambda L, x: x.norm(),
    lambda L, x: x.softmax(0), lambda L, x: x.logcumsumexp(0),
])
def test_reductions_of_infinities_are_silent(fn) -> None:
    """torch prints no warning for inf - inf inside a reduction; NumPy's ufuncs would, from
    NumPy's own modules, where ember's filter of its floating-point warnings cannot reach."""
    values = [float("inf"), -float("inf"), float("nan"), 1.0]
    with warnings.catch_warnings(record=True) as caught:  # the filters in force, re-armed
        e = fn(ember, ember.tensor(values))
    assert [str(w.message) for w in caught] == []
    assert_same(e, fn(torch, torch.tensor(values)))


@pytest.mark.parametrize("name, fields", [
    ("max", ("values", "indices")), ("aminmax", ("min", "max")),
    ("frexp", ("mantissa", "exponent")), ("linalg_svd", ("U", "S", "Vh")),
    ("linalg_lstsq", ("solution", "residuals", "rank", "singular_values")),
])
def test_return_types_are_built_from_one_sequence(name: str, fields: tuple) -> None:
    values = [1.5 * i for i in range(len(fields))]
    for L in (torch, ember):
        r = getattr(L.return_types, name)(values)
        assert isinstance(r, tuple) and list(r) == values
        assert [getattr(r, f) for f in fields] == values
        assert (r.n_fields, r.n_sequence_fields) == (len(fields), len(fields))
    check_raises_like(lambda L: getattr(L.return_types, name)(values + [0.0]))


# ---- complex numbers have no order: torch's ordering ops refuse them --------------------
_COMPLEX_ORDER_CALLS = {
    "sort": lambda L, t: t.sort(0), "argsort": lambda L, t: t.argsort(stable=True),
    "msort": lambda L, t: L.msort(t), "topk": lambda L, t: t.topk(1),
    "kthvalue": lambda L, t: t.kthvalue(1), "median": lambda L, t: t.median(),
    "median_dim": lambda L, t: t.median(0), "nanmedian": lambda L, t: t.nanmedian(),
    "nanmedian_dim": lambda L, t: L.nanmedian(t, 1), "mode": lambda L, t: t.mode(0),
    "cummax": lambda L, t: t.cummax(0), "cummin": lambda L, t: L.cummin(t, 1),
    "unique": lambda L, t: t.unique(), "unique_dim": lambda L, t: L.unique(t, dim=0),
    "unique_consecutive": lambda L, t: t.unique_consecutive(),
    "unique_consecutive_dim": lambda L, t: L.unique_consecutive(t, dim=1),
    "max": lambda L, t: t.max(), "min_dim": lambda L, t: t.min(1),
    "max_dim_keepdim": lambda L, t: L.max(t, 0, keepdim=True), "amax": lambda L, t: t.amax(),
    "amin_dim": lambda L, t: L.amin(t, 0), "amax_dim": lambda L, t: t.amax(1),
    "argmax": lambda L, t: t.argmax(), "argmin_dim": lambda L, t: t.argmin(0),
    "aminmax": lambda L, t: t.aminmax(), "aminmax_dim": lambda L, t: L.aminmax(t, dim=1),
    "maximum": lambda L, t: L.maximum(t, t.real), "minimum": lambda L, t: t.real.minimum(t),
    "max_other": lambda L, t: L.max(t, t),
}


@pytest.mark.parametrize("shape", [(2, 3), (0, 3), (2, 0)])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", sorted(_COMPLEX_ORDER_CALLS))
def test_ordering_ops_refuse_complex_as_torch(name, dtype, shape) -> None:
    # an empty tensor passes where torch's kernel, which refuses, never runs
    def fn(L):
        return _COMPLEX_ORDER_CALLS[name](L, L.ones(shape, dtype=getattr(L, dtype)))
    try:
        expected = fn(torch)
    except (RuntimeError, NotImplementedError, IndexError):
        check_raises_like(fn)
    else:
        got = fn(ember)
        for e, t in zip(got if isinstance(got, tuple) else (got,),
                        expected if isinstance(expected, tuple) else (expected,)):
            assert_same(e, t)


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 9), 1), ((5, 4), -2), ((0, 3), 0),
                                       ((), 0), ((1,), 0)])
def test_logcumsumexp_complex_matches_torch(shape, dim) -> None:
    # values and gradients; ember's kernel accumulated NumPy's logaddexp, which has no
    # complex loop, and its backward compared the gradient with 0
    def fn(L, a):
        z = a * (3 + 2j)
        if z.dim():
            z = L.where(a.real > 1.5, L.tensor(-math.inf, dtype=L.complex128), z)
        return L.logcumsumexp(z, dim)
    check_op(fn, [shape], dtype="complex128")


def test_logcumsumexp_complex64_and_infinities() -> None:
    def fn(L):
        inf = math.inf
        z = L.tensor([[complex(-inf, 0), 1 + 1j, complex(inf, 0), 2j],
                      [1 + 1j, 1 + 1j, complex(-inf, 1), complex(math.nan, 0)]],
                     dtype=L.complex64)
        return L.logcumsumexp(z, 1)
    assert_same(fn(ember), fn(torch))


_SCAN_DTYPES = ["bool", "uint8", "int8", "int64", "float16", "float32", "float64", "complex64"]


@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
@pytest.mark.parametrize("dtype", [None, *_SCAN_DTYPES])
@pytest.mark.parametrize("self_dtype", _SCAN_DTYPES)
def test_inplace_scans_keep_self_dtype(name: str, dtype, self_dtype: str) -> None:
    # torch scans in self's dtype (an int8 cumsum_ wraps in int8, a bool one has no kernel)
    # and refuses any other dtype= ("Bad in-place call"); ember computed in the dtype given
    # and cast it back, or named the cast in its error
    def call(L):
        x = L.tensor([100, 100, -3, 2]).to(getattr(L, self_dtype))
        return getattr(x, name)(0, dtype=None if dtype is None else getattr(L, dtype))
    try:
        expected = call(torch)
    except Exception as exc:  # noqa: BLE001 - the refusal is what is compared
        assert_raises_like(exc, lambda: call(ember))
        return
    assert_same(call(ember), expected)


@pytest.mark.parametrize("name", ["sum", "mean", "nansum", "amax", "std", "var", "logsumexp"])
@pytest.mark.parametrize("shape", [(2, 3), (0, 3), ()])
def test_dim_none_keepdim_keeps_every_dim(name: str, shape) -> None:
    # torch.sum(x, dim=None, keepdim=True) is [[15.]] for a 2x3 x (ember gave 15.), with
    # SumBackward1; values, node and gradient against torch. logsumexp refuses dim=None.
    if name == "amax" and 0 in shape:
        return  # refused by both for an empty reduced dim, checked elsewhere
    check_op(lambda L, a: getattr(L, name)(a, dim=None, keepdim=True), [shape],
             dtype="float64")


@pytest.mark.parametrize("name", ["sum", "mean", "nansum", "amax", "std"])
def test_zero_dim_repeated_dims_refused(name: str) -> None:
    # dims -1 and 0 are the same dim of a 0-d tensor: torch's "appears multiple times"
    check_raises_like(lambda L: getattr(L, name)(L.tensor(2.0), (-1, 0)))


@pytest.mark.parametrize("call", [
    lambda L: L.prod(L.ones(2, 3), (0, 1)),
    lambda L: L.prod(L.ones(2, 3), dim=[0]),
    lambda L: L.ones(2, 3).prod((0,)),
])
def test_prod_takes_one_dim(call) -> None:
    with pytest.raises(TypeError) as t_info:
        call(torch)
    assert_raises_like(t_info.value, lambda: call(ember),
                       error_match="received an invalid combination of arguments")


@pytest.mark.parametrize("name", ["std", "var", "std_mean", "var_mean"])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("dims", [(), (0,)])
def test_moments_refuse_integers_in_torchs_words(name: str, dtype: str, dims) -> None:
    # std_mean and var_mean name themselves (ember said "std and var only support ...")
    check_raises_like(lambda L: getattr(L, name)(L.ones(2, 3, dtype=getattr(L, dtype)), *dims))


_MEAN_DTYPES = ["bool", "int64", "float16", "float32", "float64", "complex64"]


@pytest.mark.parametrize("name", ["mean", "nanmean"])
@pytest.mark.parametrize("out_dtype", _MEAN_DTYPES)
@pytest.mark.parametrize("dtype", _MEAN_DTYPES)
@pytest.mark.parametrize("given", [None, "same", "float64"])
@pytest.mark.parametrize("dims", [(0,), ((0, 1),)])
def test_mean_out_computes_in_outs_dtype(name: str, out_dtype: str, dtype: str, given,
                                         dims) -> None:
    # torch.mean(x_half, 0, out=float32) means in float32 (ember rounded to float16 first);
    # an integral out, a dtype= other than out's and an integral nanmean input are refused
    # in torch's words
    if name == "nanmean" and (given is not None or (
            dtype == "complex64" and out_dtype in ("bool", "int64"))):
        return  # nanmean's own dtype= checks with out, and its complex refusal: not matched

    def call(L):
        x = L.tensor([[60000.0, 60000.0, 1.5], [1.0, -2.0, 3.0]]).to(getattr(L, dtype))
        out = L.empty(3 if dims == (0,) else (), dtype=getattr(L, out_dtype))
        kw = {} if given is None else {"dtype": getattr(L, out_dtype if given == "same"
                                                        else given)}
        return getattr(L, name)(x, *dims, out=out, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex to real: torch's and ember's warning
        try:
            expected = call(torch)
        except Exception as exc:  # noqa: BLE001 - the refusal is what is compared
            assert_raises_like(exc, lambda: call(ember))
            return
        assert_same(call(ember), expected)


@pytest.mark.parametrize("dtype", ["bool", "bfloat16", "complex64", "int64"])
@pytest.mark.parametrize("call", [
    "x.median(1)", "x.median()", "x.histc(4)", "L.trapezoid(x)", "L.cov(x)", "L.corrcoef(x)",
    "x.frac()",
])
def test_dtype_refusals_of_reductions_as_torch(dtype: str, call: str) -> None:
    # trapezoid and cov of bool computed where torch refuses; bfloat16 histc was refused where
    # torch computes; frac of complex leaked NumPy's TypeError; median along a dim and histc
    # named other kernels than torch's
    def fn(L):
        x = L.tensor([[0, 1, 2, 3], [3, 2, 2, 0]]).to(getattr(L, dtype))
        result = eval(call, {"L": L, "x": x})
        return result[0] if isinstance(result, tuple) else result
    t = torch_or_refused(fn, RuntimeError, NotImplementedError)
    if t is not None:
        assert_same(fn(ember), t)
