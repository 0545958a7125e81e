"""Tensor attributes of torch's CPU build: layouts and ``is_*`` flags, the sparse and
quantized methods on a dense tensor (torch's errors), the legacy constructor ``new``,
``resize_`` and friends, ``dim_order``, ``apply_``/``map_``/``map2_``, ``as_subclass`` and the
small properties, each compared with torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import (
    assert_raises_like,
    assert_same,
    check_raises_like,
    recording_compared,
    torch,
)

FLAGS = ("is_sparse", "is_sparse_csr", "is_meta", "is_quantized", "is_mkldnn", "is_nested",
         "is_vulkan", "is_xla", "is_xpu", "is_mps", "is_ipu", "is_maia", "is_mtia")


def both(fn):
    with recording_compared() as run:
        return run(torch, fn), run(ember, fn)


def values(lib):
    return lib.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("shape", [(), (0,), (2, 3)])
def test_layout_flags_and_dims(shape):
    def probe(lib):
        x = lib.zeros(shape)
        return ([getattr(x, f) for f in FLAGS], repr(x.layout), x.is_distributed(),
                lib.is_distributed(x),
                x.sparse_dim(), x.dense_dim(), x.layout is lib.strided)
    t, e = both(probe)
    assert e == t


def test_flags_are_read_only():
    with recording_compared("torch.Tensor.is_sparse"):
        with pytest.raises(AttributeError):
            torch.zeros(1).is_sparse = True
        with pytest.raises(AttributeError):
            ember.zeros(1).is_sparse = True


@pytest.mark.parametrize("name", ["indices", "values", "crow_indices", "col_indices",
                                  "ccol_indices", "row_indices", "coalesce", "is_coalesced"])
def test_sparse_only_methods_raise_as_torch(name):
    with recording_compared(f"torch.Tensor.{name}"):
        check_raises_like(lambda lib: getattr(values(lib), name)())


DISPATCH = "with arguments from the 'CPU' backend. This could be because the operator"


@pytest.mark.parametrize("fn", [
    lambda lib: values(lib).int_repr(), lambda lib: values(lib).q_scale(),
    lambda lib: values(lib).q_zero_point(), lambda lib: values(lib).q_per_channel_scales(),
    lambda lib: values(lib).q_per_channel_zero_points(),
    lambda lib: values(lib).q_per_channel_axis(), lambda lib: values(lib).qscheme(),
    lambda lib: values(lib).sparse_mask(values(lib)),
    lambda lib: values(lib).to_padded_tensor(0.0),
    lambda lib: lib.resize_as_sparse_(values(lib), values(lib)),
    lambda lib: lib.int_repr(values(lib)), lambda lib: lib.q_scale(values(lib)),
    lambda lib: lib.q_zero_point(values(lib)), lambda lib: lib.q_per_channel_scales(values(lib)),
    lambda lib: lib.q_per_channel_zero_points(values(lib)),
    lambda lib: lib.q_per_channel_axis(values(lib)),
    lambda lib: lib.dequantize([values(lib), values(lib)]),
], ids=["int_repr", "q_scale", "q_zero_point", "q_per_channel_scales",
        "q_per_channel_zero_points", "q_per_channel_axis", "qscheme", "sparse_mask",
        "to_padded_tensor", "resize_as_sparse_", "torch.int_repr", "torch.q_scale",
        "torch.q_zero_point", "torch.q_per_channel_scales", "torch.q_per_channel_zero_points",
        "torch.q_per_channel_axis", "torch.dequantize-tensors"])
def test_kernels_torch_lacks_on_cpu(fn):
    # torch's message goes on to list its backends; the first sentences are compared
    with recording_compared() as run:
        with pytest.raises(NotImplementedError) as t_info:
            run(torch, fn)
        assert_raises_like(t_info.value, lambda: run(ember, fn), error_match=DISPATCH)


@pytest.mark.parametrize("fn", [
    lambda lib: values(lib).sparse_mask(3), lambda lib: values(lib).to_padded_tensor("a"),
    lambda lib: values(lib).record_stream("a"), lambda lib: values(lib).record_stream(None),
    lambda lib: values(lib).ipu(), lambda lib: values(lib).mtia(),
    lambda lib: values(lib).is_set_to(3), lambda lib: lib.int_repr(3),
    lambda lib: lib.q_per_channel_axis("a"), lambda lib: lib.dequantize(3),
], ids=["sparse_mask-type", "to_padded_tensor-type", "record_stream-str", "record_stream-none",
        "ipu", "mtia", "is_set_to-type", "torch.int_repr-type", "torch.q_per_channel_axis-type",
        "torch.dequantize-type"])
def test_errors_as_torch(fn):
    with recording_compared("torch.Tensor.ipu", "torch.Tensor.mtia",
                            "torch.Tensor.record_stream", "torch.int_repr",
                            "torch.q_per_channel_axis", "torch.dequantize"):
        check_raises_like(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_to_dense_and_dequantize(dtype):
    def probe(lib):
        x = lib.tensor([1, 0, 2], dtype=getattr(lib, dtype))
        return (x.to_dense(), x.to_dense(lib.float64), x.to_dense(masked_grad=True),
                x.dequantize(), lib.dequantize(x), x.to_dense() is x, x.dequantize() is x)
    (*tt, t_same, t_deq_same), (*et, e_same, e_deq_same) = both(probe)
    for e, t in zip(et, tt):
        assert_same(e, t)
    assert (e_same, e_deq_same) == (t_same, t_deq_same)


def test_to_dense_grad():
    def probe(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.to_dense(lib.float64)
        y.backward(lib.tensor([3.0, -1.0], dtype=lib.float64))
        return y, x.grad, y.grad_fn.name()
    (ty, tg, tn), (ey, eg, en) = both(probe)
    assert_same(ey, ty)
    assert_same(eg, tg)
    assert en == tn


def test_small_properties():
    def probe(lib):
        x = values(lib)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            volatile = x.volatile
            x.volatile = True
        return (volatile, [str(w.message) for w in caught], x.name, repr(x.grad_dtype),
                repr(lib.zeros(2, dtype=lib.int64).grad_dtype),
                x.const_data_ptr() == x.data_ptr(), lib.empty(0).const_data_ptr())
    t, e = both(probe)
    assert e == t


def test_name_is_read_only():
    with recording_compared("torch.Tensor.name"):
        with pytest.raises(AttributeError):
            torch.zeros(1).name = "a"
        with pytest.raises(AttributeError):
            ember.zeros(1).name = "a"


def test_as_subclass():
    def probe(lib):
        class Sub(lib.Tensor):
            pass
        x = values(lib)
        s = x.as_subclass(Sub)
        s[0, 0] = 7.0
        w = lib.ones(2, requires_grad=True) * 2
        ws = w.as_subclass(Sub)
        ws.sum().backward()
        p = x.as_subclass(lib.nn.Parameter)
        return (type(s).__name__, s.data_ptr() == x.data_ptr(), x, s.requires_grad,
                ws.requires_grad, type(p).__name__, p.requires_grad)
    t, e = both(probe)
    assert_same(e[2], t[2])
    assert e[:2] + e[3:] == t[:2] + t[3:]
    with recording_compared("torch.Tensor.as_subclass"):
        check_raises_like(lambda lib: values(lib).as_subclass(int))


def test_module_load():
    def probe(lib):
        x = lib.zeros(2, 3)
        other = lib.ones(2, 3)
        r = x.module_load(other)
        a = x.module_load(other, assign=True)
        return x, r, r is x, r.data_ptr() == x.data_ptr(), a is other, \
            a.data_ptr() == other.data_ptr()
    (tx, tr, *trest), (ex, er, *erest) = both(probe)
    assert_same(ex, tx)
    assert_same(er, tr)
    assert erest == trest
    with recording_compared("torch.Tensor.module_load"):
        check_raises_like(lambda lib: lib.nn.Parameter(lib.zeros(2)).module_load(lib.ones(2)))


# ---- new ---------------------------------------------------------------------------------
# (make, whether the values are defined: sizes give uninitialised memory)
NEW_CASES = {
    "empty": (lambda lib, x: x.new(), True), "sizes": (lambda lib, x: x.new(2, 3), False),
    "tuple-data": (lambda lib, x: x.new((2, 3)), True),
    "list": (lambda lib, x: x.new([1, 2]), True),
    "Size": (lambda lib, x: x.new(lib.Size([2])), False),
    "ndarray": (lambda lib, x: x.new(np.array([1, 2])), True),
    "device": (lambda lib, x: x.new(2, device="cpu"), False),
    "empty-list": (lambda lib, x: x.new([]), True),
    "storage": (lambda lib, x: x.new(x.untyped_storage()), True),
}


@pytest.mark.parametrize("case", list(NEW_CASES))
@pytest.mark.parametrize("dtype", ["float32", "int32", "float64"])
def test_new(case, dtype):
    make, defined = NEW_CASES[case]
    t, e = both(lambda lib: make(lib, lib.arange(6, dtype=getattr(lib, dtype))))
    if defined:
        assert_same(e, t)
    else:
        assert tuple(e.shape) == tuple(t.shape) and repr(e.dtype) == repr(t.dtype)


def test_new_shares_a_tensor_of_its_dtype():
    def probe(lib):
        x = lib.zeros(2)
        other = lib.tensor([1.0, 2.0])
        y = x.new(other)
        y[0] = 5.0
        return other, y is other, y.data_ptr() == other.data_ptr()
    (tt, *trest), (et, *erest) = both(probe)
    assert_same(et, tt)
    assert erest == trest


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2).new(2.5), lambda lib: lib.zeros(2).new(lib.tensor([1, 2])),
], ids=["float", "other-dtype"])
def test_new_errors(fn):
    with recording_compared("torch.Tensor.new"):
        check_raises_like(fn)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2).new(2, dtype=lib.int64),
    lambda lib: lib.zeros(2).new(2, requires_grad=True),
], ids=["dtype", "requires_grad"])
def test_new_refuses_keywords(fn):
    with recording_compared("torch.Tensor.new") as run:
        with pytest.raises(TypeError) as t_info:
            run(torch, fn)
        assert_raises_like(t_info.value, lambda: run(ember, fn),
                           error_match="didn't match because some of the keywords were "
                                       "incorrect")


# ---- apply_, map_, map2_ -------------------------------------------------------------------
@pytest.mark.parametrize("dtype,fn", [
    ("float32", lambda v: v * 2 - 1), ("int64", lambda v: v * 2.7), ("bool", lambda v: not v),
    ("complex64", lambda v: v * 2j), ("float16", lambda v: v * 3.3), ("float64", abs),
])
def test_apply_(dtype, fn):
    def probe(lib):
        x = lib.tensor([[1, 0, 3], [-2, 5, 1]], dtype=getattr(lib, dtype))
        t = x.t()  # non-contiguous: written in place through the view
        r = t.apply_(fn)
        return x, r is t, x._version
    (tx, *trest), (ex, *erest) = both(probe)
    assert_same(ex, tx)
    assert erest == trest


def test_map_and_map2_():
    def probe(lib):
        x = values(lib)
        x.map_(lib.ones(3), lambda a, b: a + b)
        y = values(lib)
        y.map2_(lib.ones(3), lib.tensor([[2.0], [3.0]]), lambda a, b, c: a * b - c)
        return x, y
    (tx, ty), (ex, ey) = both(probe)
    assert_same(ex, tx)
    assert_same(ey, ty)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2, requires_grad=True).apply_(lambda v: v),
    lambda lib: (lib.zeros(2, requires_grad=True) * 1).apply_(lambda v: v),
    lambda lib: lib.zeros(2).apply_(lambda v: None),
    lambda lib: lib.arange(3).apply_(lambda v: "a"),
    lambda lib: lib.arange(3).apply_(lambda v: None),
    lambda lib: lib.zeros(2).apply_(3),
    lambda lib: lib.zeros(2, 3).map_(lib.ones(4), lambda a, b: a),
    lambda lib: lib.zeros(2).map_(lib.ones(2, dtype=lib.int64), lambda a, b: a),
    lambda lib: lib.zeros(2).map_(3, lambda a, b: a),
    lambda lib: lib.zeros(2, requires_grad=True).map_(lib.ones(2), lambda a, b: a),
    lambda lib: lib.zeros(2).map_(lib.ones(2, requires_grad=True), lambda a, b: a),
    lambda lib: lib.zeros(2).map2_(lib.zeros(2, dtype=lib.int64), lib.zeros(2), lambda *a: 0),
    lambda lib: lib.zeros(2).map2_(lib.zeros(2), lib.zeros(2, dtype=lib.int64), lambda *a: 0),
    lambda lib: lib.zeros(2).map2_(lib.zeros(2), lib.zeros(2, requires_grad=True),
                                   lambda *a: 0),
])
def test_apply_map_errors(fn):
    with recording_compared("torch.Tensor.apply_", "torch.Tensor.map_", "torch.Tensor.map2_"):
        check_raises_like(fn)


# ---- dim_order -----------------------------------------------------------------------------
# plain_calls: torch's ``dim_order`` drops ``ambiguity_check`` when a torch function mode is
# active (it hands the mode only ``self``), so torch runs outside the recording mode here.
@st.composite
def strided_layouts(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    strides = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    return shape, strides


@settings(max_examples=80, deadline=None)
@given(strided_layouts(), st.sampled_from(["off", "on", "formats"]))
def test_dim_order_matches_torch(layout, check):
    shape, strides = layout

    def probe(lib):
        ambiguity = {"off": False, "on": True,
                     "formats": [lib.contiguous_format, lib.channels_last]}[check]
        x = lib.as_strided(lib.zeros(200), shape, strides)
        try:
            return x.dim_order(ambiguity_check=ambiguity)
        except RuntimeError as exc:
            return str(exc)
    with recording_compared("torch.Tensor.dim_order"):
        assert probe(ember) == probe(torch)  # see plain_calls


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2, 3).dim_order(ambiguity_check=True),
    lambda lib: lib.zeros(2, 3, 4, 5).to(memory_format=lib.channels_last).dim_order(
        ambiguity_check=True),
    lambda lib: lib.zeros(2, 3, 4, 5, 6).to(memory_format=lib.channels_last_3d).dim_order(
        ambiguity_check=True),
    lambda lib: lib.zeros(2, 3).t().dim_order(ambiguity_check=[lib.contiguous_format]),
    lambda lib: lib.zeros(2, 3, 4, 5).dim_order(ambiguity_check=[]),
    lambda lib: lib.zeros(2, 3, 4, 5).dim_order(ambiguity_check=[lib.preserve_format]),
    lambda lib: lib.tensor(1.0).dim_order(),
])
def test_dim_order_ambiguity_check(fn):
    with recording_compared("torch.Tensor.dim_order"):
        assert fn(ember) == fn(torch)  # see plain_calls


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(1, 3, 1, 1).dim_order(ambiguity_check=True),
    lambda lib: lib.zeros(1, 3, 1, 1).dim_order(
        ambiguity_check=[lib.contiguous_format, lib.channels_last]),
    lambda lib: lib.zeros(2, 3).dim_order(ambiguity_check=3),
    lambda lib: lib.zeros(2, 3).dim_order(ambiguity_check=(lib.contiguous_format,)),
    lambda lib: lib.zeros(2, 3).dim_order(ambiguity_check=[3]),
])
def test_dim_order_errors(fn):
    with recording_compared("torch.Tensor.dim_order"):
        check_raises_like(fn)


# ---- resize_ and friends ---------------------------------------------------------------
@pytest.mark.parametrize("sizes", [(4,), ((3, 2),), (4, 3), (2, 3), (0,), (2, 0, 5)])
def test_resize_(sizes):
    def probe(lib):
        x = values(lib).clone()
        r = x.resize_(*sizes)
        kept = min(x.numel(), 6)
        return (r is x, tuple(x.shape), x.stride(), x.untyped_storage().nbytes(), x._version,
                x.reshape(-1)[:kept])
    (*tt, t_kept), (*et, e_kept) = both(probe)
    assert et == tt
    assert_same(e_kept, t_kept)  # grown elements are uninitialised in both


def test_resize_grows_storage_under_views():
    def probe(lib):
        y = values(lib).clone()
        v = y[1]
        v.resize_(5)
        v[4] = 99.0
        v[0] = -1.0
        return y, v[:3], v.storage_offset(), v.untyped_storage().nbytes(), v._base is y, \
            y.untyped_storage() is v.untyped_storage()
    (ty, tv, *trest), (ey, ev, *erest) = both(probe)
    assert_same(ey, ty)
    assert_same(ev, tv)
    assert erest == trest


def test_resize_of_a_lone_tensor():
    def probe(lib):
        x = lib.empty(0)
        x.resize_(3, 2)
        x.fill_(1.5)
        x.resize_(8)
        return x[:6], x.untyped_storage().nbytes(), x.stride(), x._version
    (tx, *trest), (ex, *erest) = both(probe)
    assert_same(ex, tx)
    assert erest == trest


def test_resize_memory_format_and_noncontiguous():
    def probe(lib):
        x = lib.zeros(16).resize_(1, 2, 2, 2, memory_format=lib.channels_last)
        y = values(lib).clone().t()
        same = y.resize_(3, 2).stride()
        return x.stride(), same, y
    (ts, tsame, ty), (es, esame, ey) = both(probe)
    assert (es, esame) == (ts, tsame)
    assert_same(ey, ty)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2, requires_grad=True).resize_(3),
    lambda lib: (lib.zeros(2, requires_grad=True) * 2).resize_(3),
    lambda lib: lib.zeros(2).resize_(2, memory_format=lib.channels_last),
])
def test_resize_errors(fn):
    with recording_compared("torch.Tensor.resize_"):
        check_raises_like(fn)


def test_resize_and_resize_as():
    def probe(lib):
        x = values(lib)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a = x.resize(3, 2)
            b = x.resize_as(lib.zeros(3, 2))
        c = x.clone().resize_as_(lib.zeros(6))
        d = lib.resize_as_(x.clone(), lib.zeros(1))
        return a, b, c, d, [str(w.message) for w in caught], a is x
    (*tt, t_msgs, t_is), (*et, e_msgs, e_is) = both(probe)
    for e, t in zip(et, tt):
        assert_same(e, t)
    assert (e_msgs, e_is) == (t_msgs, t_is)


def test_is_set_to():
    def probe(lib):
        x = values(lib)
        return (x.is_set_to(x), x.is_set_to(x.view(6)), x.is_set_to(x[0]),
                x[0].is_set_to(x[0]), lib.empty(0).is_set_to(lib.empty(0)),
                x.is_set_to(x.clone()), x.is_set_to(lib.empty(0).set_(x)),
                lib.empty(0).set_(x.untyped_storage(), 0, (2, 3), (3, 1)).is_set_to(x),
                lib.empty(0).set_(x.untyped_storage(), 1, (2, 3), (3, 1)).is_set_to(x[:, 1:]))
    t, e = both(probe)
    assert e == t


@pytest.mark.parametrize("steps", [
    [((3, 2), None), ((10,), None), ((2, 3, 4, 5), "channels_last"),
     ((2, 3, 4, 6), "channels_last"), ((4,), None), ((300,), None)],
    [((2, 3), None), ((2, 3, 2, 2), "channels_last"), ((50,), None)],
], ids=["lone", "lone-channels-last"])
@pytest.mark.parametrize("with_view", [False, True], ids=["alone", "with-view"])
def test_resize_sequences_keep_the_storage_bytes(steps, with_view):
    # each growth keeps the old storage's bytes at the start of the new one (the first 16
    # bytes are the only ones ever defined: grown bytes are uninitialised)
    def probe(lib):
        x = lib.arange(4.0)
        view = x[1:] if with_view else None
        seen = []
        kept = 16
        for sizes, fmt in steps:
            x.resize_(*sizes, memory_format=getattr(lib, fmt) if fmt else None)
            x.view(-1)[:1].fill_(float(len(seen))) if x.is_contiguous() else None
            seen.append((x.stride(), x.untyped_storage().nbytes(),
                         x.untyped_storage()[:kept].tolist()))
        return seen, None if view is None else (view.data_ptr() - x.data_ptr(), view)
    (t_seen, t_view), (e_seen, e_view) = both(probe)
    assert e_seen == t_seen
    if t_view is not None:
        assert e_view[0] == t_view[0]
        assert_same(e_view[1], t_view[1])


def test_storage_refuses_to_shrink_under_a_tensor():
    # ember differs: torch shrinks and leaves the tensor reading past its storage's end;
    # ember refuses, and the tensor keeps its values
    x = ember.arange(4.0)
    with pytest.raises(RuntimeError, match="cannot shrink a storage"):
        x.untyped_storage().resize_(8)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert x.untyped_storage().nbytes() == 16


@pytest.mark.parametrize("call", [
    lambda L, x: x.resize_as_sparse_(x), lambda L, x: x.sparse_resize_((3,), 1, 0),
    lambda L, x: x.sparse_resize_and_clear_((3,), 1, 0), lambda L, x: x.reinforce(1.0),
])
def test_removed_and_sparse_only_methods_raise_like_torch(call):
    # torch's dispatcher error goes on to list its backends: ember's is its first sentences
    with recording_compared("torch.Tensor.resize_as_sparse_", "torch.Tensor.sparse_resize_",
                            "torch.Tensor.sparse_resize_and_clear_",
                            "torch.Tensor.reinforce"):
        errors = []
        for lib in (torch, ember):
            with pytest.raises(Exception) as info:
                call(lib, lib.ones(3))
            errors.append(info.value)
        assert type(errors[1]) is type(errors[0])
        assert str(errors[0]).startswith(str(errors[1]))


@pytest.mark.parametrize("value", ["list", "array", "none"])
def test_data_setter_refuses_what_is_not_a_tensor(value: str) -> None:
    def fn(L):
        t = L.ones(3)
        t.data = {"list": [1.0], "array": np.ones(3, np.float32), "none": None}[value]
    check_raises_like(fn)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_grad_of_another_dtype_is_refused_in_torchs_words(dtype: str) -> None:
    def fn(L):
        x = L.ones(3, requires_grad=True)
        x.grad = L.ones(3, dtype=getattr(L, dtype))
    check_raises_like(fn)


_ONCE_WARNINGS = """
import warnings
import {lib} as torch
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    x = torch.ones(1, requires_grad=True)
    values = [float(x), float(x * 2), complex(x), int(x), x.item()]
    (x * 2).sum().backward(create_graph=True)
    (x * 3).sum().backward(create_graph=True)
    torch.autograd.grad((x * 4).sum(), x, create_graph=True)
print(values)
for w in caught:
    print(w.category.__name__, str(w.message).split(" (Triggered")[0])
"""


def test_scalar_and_create_graph_warnings_once_a_process_as_torch() -> None:
    import subprocess
    import sys

    printed = [subprocess.run([sys.executable, "-c", _ONCE_WARNINGS.format(lib=lib)],
                              capture_output=True, text=True, timeout=120, check=True).stdout
               for lib in ("torch", "ember")]
    assert printed[0] == printed[1]
    assert printed[0].count("Warning") == 2


@pytest.mark.parametrize("expr", ["float(L.tensor(1 + 0j))", "int(L.tensor(2 + 0j))",
                                  "complex(L.tensor(2))"])
def test_complex_without_imaginary_part_converts_as_torch(expr: str) -> None:
    assert eval(expr, {"L": ember}) == eval(expr, {"L": torch})


@pytest.mark.parametrize("expr", ["float(L.tensor(1 + 2j))", "int(L.tensor(1 + 2j))",
                                  "float(L.tensor(1 - 1j, dtype=L.complex64))"])
def test_complex_with_imaginary_part_refused_as_torch(expr: str) -> None:
    check_raises_like(lambda L: eval(expr, {"L": L}))
