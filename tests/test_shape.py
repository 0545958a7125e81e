"""Shape and view ops against torch: values, node names, gradients (random cotangents and
float64 gradcheck/gradgradcheck), views that share memory with their base (writes either
way, ``_base``, strides, storage offsets), copies that do not, and torch's errors.

One row per op (see tests/helpers.py); each row lists input shapes that include 0-d and
empty tensors where torch accepts them, and runs on contiguous and non-contiguous inputs.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember._ops import shape as S
from tests.helpers import (
    check_gradcheck,
    check_op,
    check_raises_like,
    examples,
    to_numpy,
    torch,
)


def lib(L):
    """The namespace of the functions under test: torch, or ember's shape module (the lead
    wires them into ``ember`` later)."""
    return torch if L is torch else S


class Row:
    """One op: ``fn(L, *inputs)``, the input shape sets it runs on, and what to check."""

    def __init__(self, name, fn, shapes, gradgrad=True, dtypes=("float32", "float64")):
        self.name, self.fn, self.shapes = name, fn, shapes
        self.gradgrad, self.dtypes = gradgrad, dtypes

    def __repr__(self) -> str:
        return self.name


M = [[(3, 4)], [(0, 4)], [(2, 3, 4)]]       # matrices and batches
ANY = [[()], [(5,)], [(3, 4)], [(0, 3)], [(2, 3, 4)]]

ROWS = [
    # joining
    Row("cat0", lambda L, a, b: lib(L).cat([a, b]), [[(2, 3), (4, 3)], [(0, 3), (2, 3)]]),
    Row("cat1", lambda L, a, b, c: lib(L).cat((a, b, c), 1),
        [[(2, 3), (2, 1), (2, 0)], [(3, 2, 2), (3, 1, 2), (3, 4, 2)]]),
    Row("cat_neg", lambda L, a, b: lib(L).cat([a, b], -1), [[(2, 3), (2, 5)]]),
    Row("cat_one", lambda L, a: lib(L).cat([a], 0), [[(3, 2)], [(4,)]]),
    Row("cat_legacy_empty", lambda L, a, b: lib(L).cat([a, b], 1), [[(2, 3), (0,)]]),
    Row("concat", lambda L, a, b: lib(L).concat([a, b], 1), [[(2, 3), (2, 2)]]),
    Row("concatenate", lambda L, a, b: lib(L).concatenate([a, b], axis=0), [[(1, 3), (2, 3)]]),
    Row("hstack", lambda L, a, b: lib(L).hstack([a, b]),
        [[(3,), (2,)], [(2, 3), (2, 1)], [(), ()]]),
    Row("vstack", lambda L, a, b: lib(L).vstack([a, b]), [[(3,), (3,)], [(2, 3), (1, 3)]]),
    Row("row_stack", lambda L, a, b: lib(L).row_stack([a, b]), [[(3,), (2, 3)]]),
    Row("dstack", lambda L, a, b: lib(L).dstack([a, b]),
        [[(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 1), (2, 3, 2)]]),
    Row("column_stack", lambda L, a, b, c: lib(L).column_stack([a, b, c]),
        [[(3,), (3, 2), (3,)], [(), (1, 2), ()]]),
    Row("stack", lambda L, a, b: lib(L).stack([a, b], 1), [[(2, 3), (2, 3)], [(), ()]]),
    # splitting (views)
    Row("split", lambda L, a: a.split(2, 1), [[(3, 5)], [(3, 4)], [(2, 0)]]),
    Row("split_first", lambda L, a: a.split(2)[0], [[(5, 3)]]),
    Row("split_sizes", lambda L, a: lib(L).split(a, [1, 0, 3], -1), [[(2, 4)], [(4,)]]),
    Row("split_with_sizes", lambda L, a: a.split_with_sizes([2, 1]), [[(3, 2)]]),
    Row("chunk", lambda L, a: lib(L).chunk(a, 3, 1), [[(2, 7)], [(2, 6)], [(2, 2)], [(2, 0)]]),
    Row("chunk_last", lambda L, a: a.chunk(2)[-1], [[(5,)]]),
    Row("tensor_split_n", lambda L, a: lib(L).tensor_split(a, 3, 1),
        [[(2, 7)], [(2, 2)], [(2, 0)]]),
    Row("tensor_split_idx", lambda L, a: a.tensor_split([1, 4, 2, 9], 0), [[(6, 2)]]),
    Row("tensor_split_neg", lambda L, a: a.tensor_split((-2,), -1), [[(3, 5)]]),
    Row("unbind", lambda L, a: a.unbind(1), [[(2, 3)]]),
    Row("narrow", lambda L, a: lib(L).narrow(a, 1, 1, 2), [[(3, 4)], [(2, 3, 4)]]),
    Row("narrow_neg_start", lambda L, a: a.narrow(-1, -3, 3), [[(2, 5)]]),
    Row("narrow_empty", lambda L, a: a.narrow(0, 2, 0), [[(4,)]]),
    # reshaping views
    Row("flatten", lambda L, a: lib(L).flatten(a), ANY),
    Row("flatten_range", lambda L, a: a.flatten(1, -1), [[(2, 3, 4)], [(2, 0, 3)]]),
    Row("flatten_same", lambda L, a: a.flatten(1, 1) * 1, [[(2, 3, 4)]]),
    Row("unflatten", lambda L, a: lib(L).unflatten(a, 1, (2, -1)), [[(3, 6)], [(2, 4, 1)]]),
    Row("unflatten_neg_dim", lambda L, a: a.unflatten(-1, (1, 2, 2)), [[(4,)], [(0, 4)]]),
    Row("movedim", lambda L, a: lib(L).movedim(a, 0, -1), [[(2, 3, 4)], [(3,)], [(0, 2)]]),
    Row("movedim_tuple", lambda L, a: lib(L).moveaxis(a, (0, 2), (2, 0)),
        [[(2, 3, 4)], [(2, 1, 4, 3)]]),
    Row("mT", lambda L, a: a.mT, M),
    Row("mH", lambda L, a: a.mH, M),
    Row("adjoint", lambda L, a: lib(L).adjoint(a), M),
    Row("squeeze_tuple", lambda L, a: lib(L).squeeze(a, (0, 2)),
        [[(1, 3, 1)], [(2, 3, 1)], [(1, 0, 1)]]),
    Row("squeeze_list_neg", lambda L, a: a.squeeze([-1, 0]), [[(1, 3, 1)]]),
    Row("unsqueeze", lambda L, a: a.unsqueeze(-1), ANY),
    Row("atleast_1d", lambda L, a: lib(L).atleast_1d(a) * 1, ANY),
    Row("atleast_2d", lambda L, a: lib(L).atleast_2d(a) * 1, ANY),
    Row("atleast_3d", lambda L, a: lib(L).atleast_3d(a) * 1, ANY),
    Row("atleast_many", lambda L, a, b: lib(L).atleast_3d(a, b), [[(), (2, 3)]]),
    Row("atleast_list", lambda L, a, b: lib(L).atleast_2d([a, b]), [[(3,), (2, 3)]]),
    # broadcasting views
    Row("broadcast_to", lambda L, a: lib(L).broadcast_to(a, (2, 3, 4)),
        [[(3, 1)], [(4,)], [()], [(1, 1, 4)]]),
    Row("broadcast_to_empty", lambda L, a: a.broadcast_to((0, 3)), [[(3,)]]),
    Row("broadcast_tensors", lambda L, a, b: lib(L).broadcast_tensors(a, b),
        [[(3, 1), (4,)], [(2, 3), (2, 3)], [(), (0, 2)]]),
    Row("broadcast_tensors_three", lambda L, a, b, c: lib(L).broadcast_tensors(a, b, c),
        [[(2, 1, 1), (3, 1), (4,)]]),
    Row("meshgrid_ij", lambda L, a, b, c: lib(L).meshgrid(a, b, c, indexing="ij"),
        [[(2,), (3,), (4,)], [(), (3,), (0,)]]),
    Row("meshgrid_xy", lambda L, a, b, c: lib(L).meshgrid([a, b, c], indexing="xy"),
        [[(2,), (3,), (4,)]]),
    Row("meshgrid_one", lambda L, a: lib(L).meshgrid(a, indexing="xy"), [[(3,)]]),
    # reordering copies
    Row("flip", lambda L, a: lib(L).flip(a, (0, -1)), [[(3, 4)], [(2, 3, 4)], [(0, 3)]]),
    Row("flip_method", lambda L, a: a.flip(1), [[(3, 4)]]),
    Row("flip_none", lambda L, a: a.flip(()), [[()], [(3,)]]),
    Row("fliplr", lambda L, a: lib(L).fliplr(a), [[(3, 4)], [(2, 3, 4)]]),
    Row("flipud", lambda L, a: lib(L).flipud(a), [[(3,)], [(3, 4)]]),
    Row("roll", lambda L, a: lib(L).roll(a, 2, 1), [[(3, 4)], [(2, 0)]]),
    Row("roll_flat", lambda L, a: a.roll(-3), [[(3, 4)], [()], [(0,)]]),
    Row("roll_dims", lambda L, a: a.roll((1, -5), (0, 2)), [[(2, 3, 4)]]),
    Row("rot90", lambda L, a: lib(L).rot90(a), [[(3, 4)], [(2, 3, 4)], [(0, 3)]]),
    Row("rot90_k2", lambda L, a: a.rot90(2, (1, 2)), [[(2, 3, 4)]]),
    Row("rot90_k3", lambda L, a: a.rot90(-1, [-1, 0]), [[(3, 4)]]),
    Row("rot90_k0", lambda L, a: a.rot90(4), [[(3, 4)]]),
    Row("repeat", lambda L, a: a.repeat(2, 1, 3), [[(3, 4)], [(2, 1, 2)], [()], [(0, 2)]]),
    Row("repeat_zero", lambda L, a: a.repeat(0, 2), [[(3, 4)]]),
    Row("tile", lambda L, a: lib(L).tile(a, (2,)), [[(3, 4)], [(3,)], [()]]),
    Row("tile_more", lambda L, a: a.tile((2, 1, 3)), [[(3, 4)]]),
    Row("repeat_interleave", lambda L, a: lib(L).repeat_interleave(a, 2, 1),
        [[(3, 4)], [(2, 0)]]),
    Row("repeat_interleave_flat", lambda L, a: a.repeat_interleave(3), [[(2, 3)], [()]]),
    # triangles and diagonals
    Row("tril", lambda L, a: lib(L).tril(a), M + [[(4, 3)]]),
    Row("tril_k", lambda L, a: a.tril(-1), [[(3, 4)], [(2, 4, 3)]]),
    Row("triu", lambda L, a: lib(L).triu(a, 1), M + [[(4, 3)]]),
    Row("triu_neg", lambda L, a: a.triu(-2), [[(3, 4)]]),
    Row("diag_vector", lambda L, a: lib(L).diag(a), [[(3,)], [(0,)]]),
    Row("diag_vector_k", lambda L, a: a.diag(-2), [[(3,)]]),
    Row("diag_matrix", lambda L, a: lib(L).diag(a), [[(3, 4)], [(4, 3)], [(0, 3)]]),
    Row("diag_matrix_k", lambda L, a: a.diag(2), [[(3, 4)], [(2, 5)]]),
    Row("diagonal", lambda L, a: lib(L).diagonal(a), M),
    Row("diagonal_offset", lambda L, a: a.diagonal(1, -1, 0), [[(3, 4)], [(4, 2, 3)]]),
    Row("diagonal_far", lambda L, a: a.diagonal(-5), [[(3, 4)]]),
    Row("diag_embed", lambda L, a: lib(L).diag_embed(a), [[(3,)], [(2, 3)], [(0,)]]),
    Row("diag_embed_dims", lambda L, a: a.diag_embed(1, 0, 2), [[(2, 3)]]),
    Row("diag_embed_neg", lambda L, a: a.diag_embed(-1, -1, 1), [[(2, 3)]]),
    Row("trace", lambda L, a: lib(L).trace(a), [[(3, 4)], [(4, 3)], [(0, 3)]]),
]

SHAPE_CASES = [(row, shapes) for row in ROWS for shapes in row.shapes]


@pytest.mark.parametrize("noncontiguous", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("row,shapes", SHAPE_CASES, ids=lambda x: repr(x))
def test_row(row, shapes, dtype, noncontiguous):
    check_op(row.fn, shapes, dtype=dtype, noncontiguous=noncontiguous)


# the first shape set of each row with no empty input (an empty one has nothing to perturb,
# except where the row exists to show an empty input taking part)
GRADCHECK_CASES = [(row, next((s for s in row.shapes if all(0 not in sh for sh in s)),
                              row.shapes[0])) for row in ROWS]


@pytest.mark.parametrize("row,shapes", GRADCHECK_CASES, ids=lambda x: repr(x))
def test_gradcheck(row, shapes):
    check_gradcheck(row.fn, shapes, gradgrad=row.gradgrad)


@pytest.mark.parametrize("fn", [
    lambda L: lib(L).cat([L.ones(2, 2), L.zeros(1, 2)]),
    lambda L: lib(L).cat([L.ones(2, dtype=L.int32), L.ones(1, dtype=L.float64)]),
    lambda L: lib(L).flip(L.ones(2, 3), [0]),
    lambda L: L.ones(2, 3).roll(1),
    lambda L: L.ones(2, 3).split(1),
])
def test_fixed_dtypes(fn):
    check_op(lambda L: fn(L), [], grad=False)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_trace_integer_promotes_to_int64(dtype):
    check_op(lambda L, a: lib(L).trace(a), [(3, 3)], dtype=dtype, grad=False)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("fn", [
    lambda L, a: lib(L).tril(a), lambda L, a: a.diag(), lambda L, a: a.repeat(2, 1),
    lambda L, a: a.rot90(), lambda L, a: a.diag_embed(), lambda L, a: a.diagonal(),
])
def test_other_dtypes(fn, dtype):
    check_op(fn, [(3, 4)], dtype=dtype, grad=False)


# ---- hypothesis: random shapes and dims --------------------------------------------------

shapes_st = st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple)


@settings(max_examples=examples(25), deadline=None)
@given(shape=shapes_st, data=st.data())
def test_hypothesis_dim_ops(shape, data):
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1))
    other = data.draw(st.integers(-n, n - 1))
    size = shape[dim]
    split_size = data.draw(st.integers(1 if size else 0, max(size, 1)))
    chunks = data.draw(st.integers(1, 5))
    shift = data.draw(st.integers(-6, 6))
    start = data.draw(st.integers(0, size))
    length = data.draw(st.integers(0, size - start))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n + 1)))
    noncontiguous = data.draw(st.booleans())
    for fn in [
        lambda L, a: a.split(split_size, dim),
        lambda L, a: a.chunk(chunks, dim),
        lambda L, a: a.tensor_split(chunks, dim),
        lambda L, a: a.narrow(dim, start, length),
        lambda L, a: a.flip(dim),
        lambda L, a: a.roll(shift, dim),
        lambda L, a: a.roll(shift),
        lambda L, a: a.movedim(dim, other),
        lambda L, a: a.flatten(min(dim % n, other % n), max(dim % n, other % n)),
        lambda L, a: a.repeat(reps),
        lambda L, a: lib(L).cat([a, a.narrow(dim, 0, start)], dim),
        lambda L, a: a.unsqueeze(0).expand((2,) + shape).diagonal(0, 0, dim % n + 1),
    ]:
        check_op(fn, [shape], dtype="float64", noncontiguous=noncontiguous)


@settings(max_examples=examples(20), deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=4).map(tuple),
       k=st.integers(-5, 5), data=st.data())
def test_hypothesis_matrix_ops(shape, k, data):
    n = len(shape)
    d1 = data.draw(st.integers(0, n - 1))
    d2 = data.draw(st.integers(0, n - 1).filter(lambda d: d != d1))
    noncontiguous = data.draw(st.booleans())
    for fn in [
        lambda L, a: a.tril(k), lambda L, a: a.triu(k), lambda L, a: a.diagonal(k, d1, d2),
        lambda L, a: a.diag_embed(k, d1, d2), lambda L, a: a.rot90(k, (d1, d2)),
        lambda L, a: a.mT,
    ]:
        check_op(fn, [shape], dtype="float64", noncontiguous=noncontiguous)


@settings(max_examples=examples(20), deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 3), max_size=3).map(tuple), min_size=1,
                       max_size=3))
def test_hypothesis_broadcast(shapes):
    check_op(lambda L, *xs: lib(L).broadcast_tensors(*xs), shapes, dtype="float64")
    try:
        expected = torch.broadcast_shapes(*shapes)
    except RuntimeError:
        check_raises_like(lambda L: lib(L).broadcast_shapes(*shapes))
    else:
        assert tuple(S.broadcast_shapes(*shapes)) == tuple(expected)
        assert isinstance(S.broadcast_shapes(*shapes), ember.Size)


# ---- views share memory; copies do not ---------------------------------------------------

VIEWS = {
    "narrow": lambda L, x: x.narrow(1, 1, 2),
    "split": lambda L, x: x.split(2, 1)[1],
    "split_sizes": lambda L, x: x.split([1, 3], 1)[1],
    "chunk": lambda L, x: x.chunk(2, 0)[1],
    "tensor_split": lambda L, x: x.tensor_split(3, 1)[2],
    "unbind": lambda L, x: x.unbind(0)[1],
    "diagonal": lambda L, x: x.diagonal(1),
    "diagonal_batch": lambda L, x: x.view(2, 3, 2).diagonal(0, 0, 2),
    "movedim": lambda L, x: x.movedim(0, 1),
    "unflatten": lambda L, x: x.unflatten(1, (2, 2)),
    "flatten": lambda L, x: x.flatten(),
    "flatten_of_view": lambda L, x: x[1:].flatten(),
    "mT": lambda L, x: x.mT,
    "mH": lambda L, x: x.mH,
    "adjoint": lambda L, x: x.adjoint(),
    "squeeze_tuple": lambda L, x: x.unsqueeze(0).squeeze((0,)),
    "atleast_3d": lambda L, x: lib(L).atleast_3d(x),
    "transpose_narrow": lambda L, x: x.t().narrow(0, 1, 2),
}
EXPANDED = {
    "broadcast_to": lambda L, x: x.broadcast_to(2, 3, 4),
    "expand": lambda L, x: x[:1].expand(3, 4),
    # the other layouts of a source: a strided column, a transposed (Fortran-ordered) block,
    # an element inside the storage
    "expand_column": lambda L, x: x[:, 1:2].expand(2, 3, 4),
    "expand_transposed": lambda L, x: x.t().expand(2, 4, 3),
    "expand_element": lambda L, x: x[1, 2].expand(2, 3),
    "broadcast_tensors": lambda L, x: lib(L).broadcast_tensors(x, L.zeros(2, 1, 1))[0],
    "meshgrid": lambda L, x: lib(L).meshgrid(x[0], x[1], indexing="xy")[1],
}
COPIES = {
    "cat": lambda L, x: lib(L).cat([x, x]),
    "cat_one": lambda L, x: lib(L).cat([x]),
    "stack": lambda L, x: lib(L).stack([x]),
    "hstack": lambda L, x: lib(L).hstack([x]),
    "repeat": lambda L, x: x.repeat(1, 1),
    "tile": lambda L, x: x.tile((1,)),
    "repeat_interleave": lambda L, x: x.repeat_interleave(1, 0),
    "flip": lambda L, x: x.flip(0),
    "fliplr": lambda L, x: x.fliplr(),
    "roll": lambda L, x: x.roll(0),
    "rot90": lambda L, x: x.rot90(4),
    "tril": lambda L, x: x.tril(5),
    "triu": lambda L, x: x.triu(-5),
    "diag": lambda L, x: x.diag(),
    "flatten_noncontiguous": lambda L, x: x.t().flatten(),
}


def _base_tensors(L):
    return L.arange(12.0).reshape(3, 4).clone()


def _layout(L, fn):
    base = _base_tensors(L)
    out = fn(L, base)
    return base, out, (out._base is not None, tuple(out.shape), out.stride(),
                       out.storage_offset(), out.data_ptr() == base.data_ptr(),
                       out.is_contiguous())


@pytest.mark.parametrize("name", list(VIEWS) + list(EXPANDED) + list(COPIES))
def test_layout_like_torch(name):
    fn = {**VIEWS, **EXPANDED, **COPIES}[name]
    _, _, t_layout = _layout(torch, fn)
    _, _, e_layout = _layout(ember, fn)
    assert e_layout == t_layout


@pytest.mark.parametrize("name", list(VIEWS))
def test_write_through_view(name):
    """A write through the view reaches its base, and one to the base reaches the view."""
    results = []
    for L in (torch, ember):
        base, out, _ = _layout(L, VIEWS[name])
        out.mul_(-1)
        seen_by_base = base.clone()
        base.add_(100)
        results.append((seen_by_base, out.clone()))
    (tb, tv), (eb, ev) = results
    assert eb.tolist() == tb.tolist()
    assert ev.tolist() == tv.tolist()


@pytest.mark.parametrize("name", list(EXPANDED))
def test_expanded_view_sees_base_writes(name):
    results = []
    for L in (torch, ember):
        base, out, _ = _layout(L, EXPANDED[name])
        base.add_(100)
        results.append(out.clone().tolist())
    assert results[0] == results[1]
    check_raises_like(lambda L: EXPANDED[name](L, _base_tensors(L)).add_(1))


def _expand_source(L, shape: tuple, how: str):
    """A tensor of ``shape`` laid out ``how``: inside a larger storage, Fortran-ordered, or
    strided (every other element)."""
    n = int(np.prod(shape, dtype=int))
    if how == "offset":
        return L.arange(float(2 * n)).reshape(2, *shape)[1]
    if how == "transposed":
        return L.arange(float(n)).reshape(shape[::-1]).permute(tuple(range(len(shape)))[::-1])
    return L.arange(float(2 * n)).reshape(*shape, 2)[..., 1]


def _check_expand(shape: tuple, how: str, target: tuple) -> None:
    """``expand`` of a source of ``shape`` laid out ``how`` to ``target``, against torch:
    shape, strides, offset, and whether a write through it lands (and where) or raises
    torch's error (torch refuses one where elements overlap)."""
    results = []
    for L in (torch, ember):
        x = _expand_source(L, shape, how)
        out = x.expand(target)
        try:
            out.add_(1)
            written = x.tolist()
        except RuntimeError as exc:
            written = str(exc)
        results.append((tuple(out.shape), out.stride(), out.storage_offset(), written))
    assert results[1] == results[0]


# expanded views whose elements do not overlap, which torch writes through: empty ones, and
# ones that stretch no dim
@pytest.mark.parametrize("shape,how,target", [
    ((0, 1), "offset", (2, 0, 5)), ((1, 4), "offset", (0, 4)), ((1, 4), "offset", (1, 1, 4)),
    ((3, 4), "transposed", (3, 4)), ((3, 1), "strided", (1, 3, 1)), ((), "offset", (1, 1))])
def test_expanded_view_without_overlap_is_written_through(shape, how, target):
    _check_expand(shape, how, target)


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_expand_layout_and_writes_like_torch(data):
    shape = tuple(data.draw(st.lists(st.integers(0, 3), max_size=3), label="shape"))
    how = data.draw(st.sampled_from(["offset", "transposed", "strided"]), label="how")
    sizes = [data.draw(st.sampled_from([n, -1] if n != 1 else [1, 0, 2, 3, -1]))
             for n in shape]
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2), label="lead")
    _check_expand(shape, how, (*lead, *sizes))


@pytest.mark.parametrize("name", list(COPIES))
def test_copy_is_independent(name):
    for L in (torch, ember):
        base = _base_tensors(L)
        out = COPIES[name](L, base)
        out.zero_()
        assert base.tolist() == _base_tensors(L).tolist()


@pytest.mark.parametrize("write", [
    lambda L, y: y.narrow(1, 1, 2).mul_(3),
    lambda L, y: y.diagonal().mul_(2.5),
    lambda L, y: y.movedim(0, 1)[1].exp_(),
    lambda L, y: y.unflatten(1, (2, 2))[:, 0].sin_(),
    lambda L, y: y.flatten().narrow(0, 2, 5).mul_(2),
    lambda L, y: y.mT.diagonal(-1).add_(y[2, 1]),
])
def test_inplace_through_view_gradient(write):
    """An in-place write through a view rewrites the base's history (CopySlices), as in
    torch; the gradients of the leaf agree."""
    def fn(L, x):
        y = x * 1
        write(L, y)
        return y
    check_op(fn, [(3, 4)], dtype="float64")
    check_gradcheck(fn, [(3, 4)])


def test_multi_output_view_inplace_error():
    def fn(L):
        x = L.ones(2, 4, requires_grad=True)
        return (x * 1).split(2, 1)[0].mul_(2)
    check_raises_like(fn)


def test_split_unused_outputs_get_zero_gradient():
    check_op(lambda L, a: a.chunk(3, 1)[1] * 2, [(2, 6)], dtype="float64")
    check_op(lambda L, a: sum(p.sum() for p in a.split([2, 1, 3], 1)[::2]), [(2, 6)],
             dtype="float64")


def test_node_edges():
    """CatBackward0 has one edge per input; split's pieces share one SplitBackward0."""
    for L in (torch, ember):
        a = L.ones(2, 2, requires_grad=True)
        b = L.ones(1, 2, requires_grad=True)
        out = lib(L).cat([a, b * 2, L.zeros(1, 2)])
        assert len(out.grad_fn.next_functions) == 3
        assert out.grad_fn.next_functions[2][0] is None
        pieces = (a * 1).split(1)
        assert pieces[0].grad_fn is pieces[1].grad_fn
        assert [p._base is not None for p in pieces] == [True, True]


def test_stride_of_views():
    for fn in [lambda L, x: x, lambda L, x: x.t(), lambda L, x: x.unsqueeze(1),
               lambda L, x: x.expand(2, 3, 4), lambda L, x: x[::2],
               lambda L, x: x.narrow(1, 1, 2).t(), lambda L, x: x.diagonal(), L0,
               lambda L, x: L.zeros(3, 0, 2), lambda L, x: L.ones(2, 1, 3)]:
        t, e = fn(torch, _base_tensors(torch)), fn(ember, _base_tensors(ember))
        assert e.stride() == t.stride()
        assert e.stride(-1) == t.stride(-1)
        assert e.storage_offset() == t.storage_offset()
    check_raises_like(lambda L: _base_tensors(L).stride(2))


def L0(L, x):
    return L.zeros(0, 3)


@st.composite
def _view_keys(draw):
    """A non-empty tensor shape, whether to transpose it, and a basic index key mixing
    None, ints, slices with steps and ``...``."""
    shape = draw(st.lists(st.integers(1, 4), max_size=4).map(tuple))
    key, dim = [], 0
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["none", "int", "slice"]))
        if kind == "none" or dim == len(shape):
            key.append(None)
            continue
        size = shape[dim]
        if kind == "int":
            key.append(draw(st.integers(-size, size - 1)))
        else:
            start = draw(st.integers(0, size - 1))
            key.append(slice(start, draw(st.sampled_from([None, size])),
                             draw(st.sampled_from([None, 1, 2, 3]))))
        dim += 1
    if draw(st.booleans()):
        # ``...`` stands for the dims the key leaves out, so only where it keeps each
        # entry on the dim it was drawn for: anywhere once every dim is indexed, else last
        key.insert(draw(st.integers(0, len(key))) if dim == len(shape) else len(key),
                   Ellipsis)
    return shape, draw(st.booleans()) and len(shape) > 1, tuple(key)


@settings(max_examples=examples(60), deadline=None)
@given(_view_keys(), st.data())
def test_stride_of_index_views(case, data):
    # each None is an unsqueeze of what the key has made so far: torch strides it over the
    # next dim still to be indexed (NumPy would give it stride 0)
    shape, transposed, key = case
    if transposed:  # the same shape, laid out the other way round
        stored = (shape[1], shape[0]) + shape[2:]
        t, e = torch.zeros(stored).transpose(0, 1), ember.zeros(stored).transpose(0, 1)
    else:
        t, e = torch.zeros(shape), ember.zeros(shape)
    t, e = t[key], e[key]
    assert (tuple(e.shape), e.stride(), e.storage_offset()) == (
        tuple(t.shape), t.stride(), t.storage_offset())
    dim = data.draw(st.integers(0, t.dim()))
    assert e.unsqueeze(dim).stride() == t.unsqueeze(dim).stride()


def test_stride_of_new_dims():
    for fn in [lambda x: x[:, None], lambda x: x[None], lambda x: x[..., None],
               lambda x: x[::2, None, 1:], lambda x: x[0, None], lambda x: x[:, None, None, 0],
               lambda x: x[:, :, :1].unsqueeze(3), lambda x: x[1:, None][:, :, None],
               lambda x: x[None, 0:1].unsqueeze(0)]:
        t = fn(torch.arange(24.0).reshape(2, 3, 4))
        e = fn(ember.arange(24.0).reshape(2, 3, 4))
        assert e.stride() == t.stride()


def test_data_ptr_views():
    for L in (torch, ember):
        x = _base_tensors(L)
        assert x.data_ptr() == x.view(12).data_ptr() == x.narrow(0, 0, 1).data_ptr()
        assert x.data_ptr() != x.narrow(1, 1, 1).data_ptr()
        assert x.data_ptr() != x.clone().data_ptr()
        assert L.zeros(0).data_ptr() == 0


def test_returns_the_input_itself():
    for L in (torch, ember):
        x = L.ones(2, 3)
        v = L.ones(3)
        assert x.flatten(1, 1) is x
        assert v.flatten() is v
        assert lib(L).atleast_1d(v) is v
        assert lib(L).atleast_2d(x) is x
        assert lib(L).broadcast_tensors(x, v)[0] is x
        assert isinstance(lib(L).atleast_1d([v]), tuple)
        assert isinstance(lib(L).atleast_2d(v, x), tuple)


def test_meshgrid_warns_without_indexing():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing"):
        torch.meshgrid(torch.ones(2), torch.ones(3))
    with pytest.warns(UserWarning, match="it will be required to pass the indexing"):
        out = S.meshgrid(ember.ones(2), ember.ones(3))
    assert [tuple(o.shape) for o in out] == [(2, 3), (2, 3)]


ERRORS = {
    "cat_empty": lambda L: lib(L).cat([]),
    "cat_ndim": lambda L: lib(L).cat([L.ones(2, 3), L.ones(3)]),
    "cat_sizes": lambda L: lib(L).cat([L.ones(2, 3), L.ones(3, 3)], 1),
    "cat_sizes_third": lambda L: lib(L).cat([L.ones(2, 3), L.ones(1, 3), L.ones(1, 2)]),
    "cat_0d": lambda L: lib(L).cat([L.ones(1), L.tensor(1.0)]),
    "cat_dim": lambda L: lib(L).cat([L.ones(2, 3)], 2),
    "narrow_start": lambda L: L.ones(2, 3).narrow(1, 4, 1),
    "narrow_neg_start": lambda L: L.ones(2, 3).narrow(1, -4, 1),
    "narrow_length": lambda L: L.ones(2, 3).narrow(1, 1, 3),
    "narrow_neg_length": lambda L: L.ones(2, 3).narrow(1, 1, -1),
    "narrow_0d": lambda L: L.tensor(1.0).narrow(0, 0, 1),
    "split_0d": lambda L: L.tensor(1.0).split(1),
    "split_sum": lambda L: L.ones(2, 3).split([1, 1], 1),
    "split_negative_size": lambda L: L.ones(2, 3).split([-1, 4], 1),
    "split_negative": lambda L: L.ones(2, 3).split(-1, 1),
    "split_zero": lambda L: L.ones(2, 3).split(0, 1),
    "split_dim": lambda L: L.ones(2, 3).split(1, 2),
    "chunk_zero": lambda L: L.ones(2, 3).chunk(0),
    "chunk_0d": lambda L: L.tensor(1.0).chunk(1),
    "tensor_split_zero": lambda L: L.ones(2, 3).tensor_split(0, 1),
    "tensor_split_0d": lambda L: L.tensor(1.0).tensor_split(1),
    "flip_repeated": lambda L: L.ones(2, 3).flip(0, 0),
    "flip_repeated_neg": lambda L: L.ones(2, 3).flip(-1, 1),
    "flip_dim": lambda L: L.ones(2, 3).flip(2),
    "fliplr_1d": lambda L: L.ones(3).fliplr(),
    "flipud_0d": lambda L: L.tensor(1.0).flipud(),
    "roll_align": lambda L: L.ones(2, 3).roll((1, 2), 0),
    "roll_align_flat": lambda L: L.ones(2, 3).roll((1, 2)),
    "roll_empty": lambda L: L.ones(2, 3).roll((), ()),
    "rot90_dims": lambda L: L.ones(2, 3).rot90(1, (0,)),
    "rot90_1d": lambda L: L.ones(3).rot90(),
    "rot90_same": lambda L: L.ones(2, 3).rot90(1, (0, 0)),
    "rot90_same_neg": lambda L: L.ones(2, 3).rot90(1, (0, -2)),
    "rot90_range": lambda L: L.ones(2, 3).rot90(1, (0, 2)),
    "movedim_len": lambda L: L.ones(2, 3).movedim((0, 1), (0,)),
    "movedim_src": lambda L: L.ones(2, 3).movedim((0, 0), (0, 1)),
    "movedim_dst": lambda L: L.ones(2, 3).movedim((0, 1), (1, -1)),
    "movedim_range": lambda L: L.ones(2, 3).movedim(2, 0),
    "repeat_few": lambda L: L.ones(2, 3).repeat(2),
    "repeat_negative": lambda L: L.ones(2, 3).repeat(2, -1),
    "tile_negative": lambda L: L.ones(3).tile((-1,)),
    "repeat_interleave_negative": lambda L: L.ones(3).repeat_interleave(-1),
    "broadcast_to": lambda L: L.ones(2, 3).broadcast_to((2, 2)),
    "broadcast_to_fewer": lambda L: L.ones(2, 3).broadcast_to((3,)),
    "broadcast_tensors": lambda L: lib(L).broadcast_tensors(L.ones(2, 3), L.ones(2)),
    "broadcast_shapes": lambda L: lib(L).broadcast_shapes((2, 3), (2,)),
    "broadcast_shapes_lead": lambda L: lib(L).broadcast_shapes((4, 1, 3), (5, 2, 3)),
    "broadcast_shapes_negative": lambda L: lib(L).broadcast_shapes((2, -1)),
    "meshgrid_indexing": lambda L: lib(L).meshgrid(L.ones(2), indexing="foo"),
    "meshgrid_dtype": lambda L: lib(L).meshgrid(L.ones(2), L.ones(2, dtype=L.float64),
                                                indexing="ij"),
    "meshgrid_empty": lambda L: lib(L).meshgrid([], indexing="ij"),
    "tril_1d": lambda L: L.ones(3).tril(),
    "triu_1d": lambda L: L.ones(3).triu(),
    "diag_3d": lambda L: L.ones(2, 2, 2).diag(),
    "diag_0d": lambda L: L.tensor(1.0).diag(),
    "diagonal_same": lambda L: L.ones(2, 3).diagonal(0, 1, 1),
    "diagonal_same_neg": lambda L: L.ones(2, 3).diagonal(0, 1, -1),
    "diagonal_1d": lambda L: L.ones(3).diagonal(),
    "diag_embed_same": lambda L: L.ones(3).diag_embed(0, 0, 0),
    "diag_embed_0d": lambda L: L.tensor(1.0).diag_embed(),
    "trace_1d": lambda L: L.ones(3).trace(),
    "trace_bool": lambda L: L.ones(2, 2, dtype=L.bool).trace(),
    "mT": lambda L: L.ones(3).mT,
    "mH": lambda L: L.ones(3).mH,
    "adjoint": lambda L: L.ones(3).adjoint(),
    "unflatten_product": lambda L: L.ones(2, 3).unflatten(1, (2, 2)),
    "unflatten_empty": lambda L: L.ones(2, 3).unflatten(1, ()),
    "flatten_order": lambda L: L.ones(2, 3).flatten(1, 0),
    "squeeze_repeated": lambda L: L.ones(1, 3).squeeze((0, 0)),
    "squeeze_range": lambda L: L.ones(1, 3).squeeze((0, 5)),
    "hstack_empty": lambda L: lib(L).hstack([]),
    "vstack_empty": lambda L: lib(L).vstack([]),
    "dstack_empty": lambda L: lib(L).dstack([]),
    "column_stack_empty": lambda L: lib(L).column_stack([]),
    "column_stack_sizes": lambda L: lib(L).column_stack([L.ones(3), L.ones(2)]),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_like_torch(name):
    check_raises_like(ERRORS[name])


def test_meshgrid_matrix_refused():
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list"):
        S.meshgrid(ember.ones(2, 3), indexing="ij")
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list"):
        torch.meshgrid(torch.ones(2, 3), indexing="ij")


@pytest.mark.parametrize("fn", [
    lambda L: L.meshgrid(L.ones(2), L.ones(3), indexing="zz"), lambda L: L.meshgrid(),
    lambda L: L.meshgrid(L.ones(2), L.ones(3, dtype=L.float64), indexing="ij"),
    lambda L: L.ones(2, 6).unflatten(1, (4, 2)), lambda L: L.ones(2, 6).unflatten(1, ()),
    lambda L: L.ones(2, 6).unflatten(3, (2, 3)),
    lambda L: L.ones(2, 6).view(5, 2), lambda L: L.ones(2, 6).view(-1, -1),
    lambda L: L.ones(2, 6).view(-2, 6), lambda L: L.ones(2, 6).reshape(3, -3),
    lambda L: L.ones(2, 6).t().view(12), lambda L: L.ones(2, 6).reshape(5, -1),
    lambda L: L.ones(0, 6).reshape(0, -1), lambda L: L.ones(0, 6).view(0, -1, 2),
    lambda L: L.ones(6).view(0, -1),
    lambda L: L.ones(2, 3).permute(0, 2), lambda L: L.ones(2, 3).permute(0, 0),
    lambda L: L.ones(2, 3).permute(0), lambda L: L.ones(2, 3).transpose(0, 2),
    lambda L: L.ones(2, 3).movedim((0, 0), (0, 1)), lambda L: L.ones(2, 3).movedim((0, 1), (0,)),
    lambda L: L.ones(2, 3).movedim(0, 5),
    lambda L: L.ones(4).split(0), lambda L: L.ones(4).split(-1), lambda L: L.ones(4).split([1, 2]),
    lambda L: L.ones(4).split(2, 3), lambda L: L.ones(4).chunk(0), lambda L: L.ones(4).chunk(-2),
    lambda L: L.ones(()).chunk(2), lambda L: L.ones(4).tensor_split(0),
    lambda L: L.ones(()).tensor_split(2), lambda L: L.ones(4).tensor_split(L.tensor([1.0])),
    lambda L: L.ones(4).tensor_split(L.tensor([1], dtype=L.int32)),
    lambda L: L.ones(4).tensor_split(L.tensor([[1]])),
    lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]), lambda L: L.cat([L.ones(2, 3), L.ones(3)]),
    lambda L: L.cat([]), lambda L: L.cat([L.ones(()), L.ones(())]),
    lambda L: L.cat([L.ones(2, 3), L.ones(2, 3)], 2),
    lambda L: L.stack([L.ones(2, 3), L.ones(2, 4)]), lambda L: L.stack([]),
    lambda L: L.stack([L.ones(2), L.ones(2)], 3),
    lambda L: L.ones(2, 3).expand(2, 4), lambda L: L.ones(2, 3).expand(3),
    lambda L: L.ones(2, 3).expand(-1, 2, 3), lambda L: L.ones(2, 3).repeat(2),
    lambda L: L.ones(2, 1, 4).expand(2, 3, 4, 1), lambda L: L.ones(4).expand(-2, 3),
    lambda L: L.ones(2, 3).repeat(2, -1), lambda L: L.ones(4).narrow(0, 3, 2),
    lambda L: L.ones(4).narrow(0, 1, -1), lambda L: L.ones(4).narrow(0, 5, 0),
    lambda L: L.ones(()).narrow(0, 0, 1), lambda L: L.ones(2, 3).diagonal(0, 0, 0),
    lambda L: L.ones(2, 3).diagonal(0, 0, 2), lambda L: L.ones(3).diagonal(),
    lambda L: L.ones(3).tril(), lambda L: L.ones(3).triu(), lambda L: L.ones(()).tril(),
    lambda L: L.ones(2, 3).select(1, 5), lambda L: L.ones(2, 3).select(1, -4),
    lambda L: L.ones(()).select(0, 0), lambda L: L.ones(2, 3).select(3, 0),
])
def test_error_messages_match_torch(fn) -> None:
    check_raises_like(fn)


VIEW_DTYPE_CASES = [
    ("float32", "int32", (2, 3), False), ("float32", "float16", (2, 3), False),
    ("float32", "uint8", (2, 3), False), ("float16", "float32", (2, 4), False),
    ("float16", "bfloat16", (3,), False), ("int8", "int64", (2, 8), False),
    ("float64", "complex128", (2, 4), False), ("float32", "int32", (4, 2), True),
    ("float32", "int64", (2, 3), False), ("float32", "float16", (4, 2), True),
    ("float32", "float16", (), False), ("int16", "float32", (3, 3), False),
]


@pytest.mark.parametrize("src,dst,shape,transposed", VIEW_DTYPE_CASES)
def test_view_as_another_dtype(src, dst, shape, transposed) -> None:
    # the same memory read as another dtype: values as bits, shapes, torch's errors, no
    # gradient, and writes through the view reach the tensor
    data = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 0.75 + 1

    def fn(lib):
        x = lib.tensor(data).to(getattr(lib, src))
        x = x.t() if transposed else x
        if x.is_floating_point():
            x.requires_grad_()
        y = x.view(getattr(lib, dst))
        return x, y

    try:
        t_x, t_y = fn(torch)
    except RuntimeError as exc:
        with pytest.raises(RuntimeError) as info:
            fn(ember)
        assert str(info.value) == str(exc)
        return
    e_x, e_y = fn(ember)
    assert tuple(e_y.shape) == tuple(t_y.shape) and repr(e_y.dtype) == repr(t_y.dtype)
    assert (e_y.requires_grad, e_y.grad_fn) == (t_y.requires_grad, t_y.grad_fn)
    # bits compared as bytes (both sides read through the same reinterpretation)
    np.testing.assert_array_equal(e_y.detach().contiguous().view(ember.uint8)._data,
                                  t_y.detach().contiguous().view(torch.uint8).numpy())
    with torch.no_grad(), ember.no_grad():
        t_y.zero_()
        e_y.zero_()
    np.testing.assert_array_equal(to_numpy(e_x), to_numpy(t_x))


@pytest.mark.parametrize("make", [
    lambda L: L.arange(4096.0).reshape(16, 16, 16).transpose(0, 1),    # must copy
    lambda L: L.arange(4096.0).reshape(64, 64).t(),                    # must copy
    lambda L: L.arange(8192.0).reshape(16, 16, 32)[:, :, ::2],         # must copy
    lambda L: L.arange(4096.0).reshape(16, 16, 16).transpose(1, 2),    # must copy
    lambda L: L.arange(8192.0).reshape(16, 2, 16, 16)[:, 0],           # a view will do
])
def test_reshape_copies_once_and_as_torch(make) -> None:
    # a reshape the strides do not allow is one copy (clone, then _unsafe_view), as torch's:
    # deciding whether a view will do makes no copy of its own
    import tracemalloc

    results = {}
    for lib in (torch, ember):
        x = make(lib).requires_grad_()
        y = x.reshape(16, -1)
        results[lib] = (y.grad_fn.name(), y.stride(), y._base is x or y._base is x._base)
        np.testing.assert_array_equal(to_numpy(y), to_numpy(x).reshape(16, -1))
    assert results[ember] == results[torch]
    data = make(ember)._data
    tracemalloc.start()
    try:
        viewed = S._viewable(data, (16, data.size // 16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (viewed is None) == (results[ember][0] == "UnsafeViewBackward0")
    assert peak < data.nbytes / 2, peak


@pytest.mark.parametrize("name", ["stack", "cat", "hstack", "vstack", "dstack", "column_stack",
                                  "row_stack"])
@pytest.mark.parametrize("given", ["a generator", "a tensor", "a string", "a range",
                                   "an array among them", "None among them", "a number"])
def test_tensor_lists_read_as_torchs_parser_reads_them(name: str, given: str) -> None:
    def fn(L):
        t = L.ones(2)
        tensors = {"a generator": (x for x in [t, t]), "a tensor": t, "a string": "ab",
                   "a range": range(2), "an array among them": [t, np.ones(2)],
                   "None among them": [t, None], "a number": 5}[given]
        getattr(L, name)(tensors)
    with pytest.raises(TypeError) as t_info:
        fn(torch)
    with pytest.raises(TypeError) as e_info:
        fn(ember)
    assert str(e_info.value) == str(t_info.value)
