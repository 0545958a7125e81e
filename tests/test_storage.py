"""Storages (``torch.UntypedStorage``, ``TypedStorage``, the legacy ``FloatStorage``...) and
``Tensor.untyped_storage``/``storage``/``set_``, each compared with torch on the same
inputs: values, sizes, sharing of memory, reprs, warnings and errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.storage
from tests.helpers import (
    assert_raises_like,
    assert_same,
    check_raises_like,
    recording_compared,
    torch,
)

# TypedStorage's deprecation warning is compared in its own test
pytestmark = pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")

LEGACY = ("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
          "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
          "ComplexFloatStorage", "ComplexDoubleStorage")


def both(fn):
    """``fn(torch)`` and ``fn(ember)`` with TypedStorage's deprecation warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with recording_compared() as run:
            return run(torch, fn), run(ember, fn)


def values(lib):
    return lib.arange(6.0).reshape(2, 3)


@pytest.fixture(autouse=True)
def _warn_again():
    torch.storage._reset_warn_typed_storage_removal()
    ember.storage._reset_warn_typed_storage_removal()


def test_untyped_storage_sizes_pointers_and_identity():
    def probe(lib):
        x = values(lib)
        s = x.untyped_storage()
        v = x[1, 1:]
        return (s.nbytes(), s.size(), len(s), s.element_size(), str(s.device),
                s.data_ptr() == x.data_ptr(), v.data_ptr() - s.data_ptr(),
                v.untyped_storage() is s, x._base.detach().untyped_storage() is s,
                x.t().untyped_storage().nbytes(), s.type(), s.resizable(), s.is_pinned(),
                s.is_cuda, s.is_sparse, s.get_device(), s.cpu() is s, s.untyped() is s)
    t, e = both(probe)
    assert e == t


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor(3.0), lambda lib: lib.empty(0),
    lambda lib: lib.ones(3).expand(4, 3), lambda lib: lib.arange(10, dtype=lib.int16)[2:7:2],
    lambda lib: lib.zeros(2, 3, 4).permute(2, 0, 1),
])
def test_untyped_storage_of_shapes(make):
    def probe(lib):
        x = make(lib)
        s = x.untyped_storage()
        return s.nbytes(), x.storage_offset(), (x.data_ptr() - s.data_ptr()) if x.numel() else 0
    t, e = both(probe)
    assert e == t


def test_untyped_storage_writes_through_both_ways():
    def probe(lib):
        x = lib.zeros(2)
        s = x.untyped_storage()
        s[3] = 63
        s[0:2] = 7
        s[7] = 300  # stored modulo 256
        before = s.tolist()
        x.fill_(1.5)
        return x, before, s.tolist(), list(s), s[4], s[-4]
    (tx, *trest), (ex, *erest) = both(probe)
    assert_same(ex, tx)
    assert erest == trest


def test_untyped_storage_slices_share_memory():
    def probe(lib):
        x = lib.arange(4, dtype=lib.uint8)
        s = x.untyped_storage()
        part = s[1:3]
        part[0] = 9
        return x, part.nbytes(), part.data_ptr() - s.data_ptr(), type(part).__name__, s[2:].tolist()
    (tx, *trest), (ex, *erest) = both(probe)
    assert_same(ex, tx)
    assert erest == trest


@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(2).untyped_storage()[100],
    lambda lib: lib.zeros(2).untyped_storage()[-9],
    lambda lib: lib.zeros(2).untyped_storage()[1.0],
    lambda lib: lib.zeros(2).untyped_storage()[0:4:2],
    lambda lib: lib.zeros(2).untyped_storage().copy_(lib.ones(3).untyped_storage()),
    lambda lib: lib.UntypedStorage(-1),
    lambda lib: lib.zeros(2).untyped_storage()[0:2].resize_(10),
    lambda lib: lib.zeros(2).untyped_storage()[True],
    lambda lib: lib.zeros(2).untyped_storage().__setitem__(-1, 3),
    lambda lib: lib.zeros(2).untyped_storage().__setitem__(8, 3),
    lambda lib: lib.zeros(2).storage().__setitem__(-3, 3),
], ids=["index", "negative-index", "float-index", "step", "copy-size", "negative-size",
        "resize-slice", "bool-index", "set-negative", "set-past-end", "typed-set-past-end"])
def test_untyped_storage_errors(fn):
    with recording_compared("torch.UntypedStorage"):
        check_raises_like(fn)


def test_untyped_storage_fill_copy_clone():
    def probe(lib):
        x = lib.zeros(2)
        x.untyped_storage().fill_(1)
        y = lib.zeros(2)
        y.untyped_storage().copy_(lib.tensor([1.0, -2.0]).untyped_storage())
        z = lib.ones(2)
        c = z.untyped_storage().clone()
        c.fill_(0)
        return x, y, z, c.nbytes(), c.data_ptr() != z.data_ptr()
    (*t_tensors, tn, tp), (*e_tensors, en, ep) = both(probe)
    for e, t in zip(e_tensors, t_tensors):
        assert_same(e, t)
    assert (en, ep) == (tn, tp)


def test_untyped_storage_constructors_and_repr():
    with recording_compared("torch.UntypedStorage"):
        for make in (lambda lib: lib.UntypedStorage(), lambda lib: lib.UntypedStorage([1, 2, 300]),
                     lambda lib: lib.tensor([1, -2], dtype=lib.int8).untyped_storage()):
            assert repr(make(ember)) == repr(make(torch))
            assert str(make(ember)) == str(make(torch))
        assert ember.UntypedStorage(5).nbytes() == torch.UntypedStorage(5).nbytes()
        assert ember.UntypedStorage(device="cpu").nbytes() == 0
    assert type(ember.UntypedStorage()).__module__ == torch.UntypedStorage.__module__.replace(
        "torch", "ember")


def test_untyped_storage_resize_standalone():
    def probe(lib):
        u = lib.UntypedStorage([1, 2, 3])
        u.resize_(5)
        grown = u.tolist()[:3], u.nbytes()
        u.resize_(2)
        return grown, u.tolist()
    t, e = both(probe)
    assert e == t


def test_tensor_storage_grows_and_tensors_follow():
    # torch reallocates the storage; every tensor and view on it reads the new memory
    def probe(lib):
        x = lib.arange(4.0)
        v = x[1:3]
        s = x.untyped_storage()
        s.resize_(32)
        x[1] = 10.0
        return v, x, s.nbytes(), x.untyped_storage().nbytes(), v.storage_offset(), \
            v.data_ptr() - s.data_ptr(), x.untyped_storage() is s
    (tv, tx, *trest), (ev, ex, *erest) = both(probe)
    assert_same(ev, tv)
    assert_same(ex, tx)
    assert erest == trest


def test_tensor_storage_conversions():
    def probe(lib):
        s = lib.UntypedStorage([0, 0, 128, 63])
        return s.float().tolist(), s.bool().tolist(), s.long().dtype, s.double().size()
    t, e = both(probe)
    assert e[:2] == t[:2] and repr(e[2]) == repr(t[2]) and e[3] == t[3]


def test_typed_storage_of_tensor():
    def probe(lib):
        x = values(lib)
        s = x.storage()
        return (s.size(), len(s), s.nbytes(), s.element_size(), repr(s.dtype), str(s.device),
                s.data_ptr() == x.data_ptr(), s.type(), s.is_cuda, s[1], s[-1], s.tolist(),
                s.untyped() is x.untyped_storage(), s._untyped_storage is x.untyped_storage(),
                x.storage() is s, s.pickle_storage_type(), s.get_device(), s.resizable(),
                repr(s), list(s), s.cpu() is s)
    t, e = both(probe)
    assert e == t


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64",
                                   "int32", "int16", "int8", "uint8", "bool", "complex64",
                                   "complex128"])
def test_typed_storage_reprs_and_types(dtype):
    def probe(lib):
        x = lib.tensor([1, 0, 2], dtype=getattr(lib, dtype))
        s = x.storage()
        return repr(s), s.type(), x.storage_type().__name__, s.tolist(), repr(s.float())
    t, e = both(probe)
    assert e == t


def test_typed_storage_writes_and_copies():
    def probe(lib):
        x = lib.zeros(3)
        s = x.storage()
        s[1] = 5
        s[0:1] = 2
        y = lib.zeros(3)
        y.storage().fill_(4)
        z = lib.zeros(3)
        z.storage().copy_(lib.ones(3).storage())
        c = x.storage().clone()
        c[2] = 9
        return x, y, z, c.tolist(), x.storage().double().tolist(), x.storage().long().type()
    (*tt, tc, td, tl), (*et, ec, ed, el) = both(probe)
    for e, t in zip(et, tt):
        assert_same(e, t)
    assert (ec, ed, el) == (tc, td, tl)


def test_typed_storage_errors():
    with recording_compared("torch.TypedStorage"):
        check_raises_like(lambda lib: lib.zeros(3).storage()[1:2])
        check_raises_like(lambda lib: lib.zeros(3).storage()[3])
        check_raises_like(lambda lib: lib.FloatStorage(2, dtype=lib.float64))


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_storage_classes(name):
    def probe(lib):
        cls = getattr(lib, name)
        a = cls([1, 0, 2])
        return (repr(a), type(a).__name__, cls(3).size(), repr(cls()), cls.__name__,
                repr(cls.dtype), isinstance(a, cls), isinstance(a, lib.TypedStorage),
                lib.is_storage(a), isinstance(lib.zeros(1, dtype=cls.dtype).storage(), cls),
                isinstance(lib.FloatStorage(1), cls))
    t, e = both(probe)
    assert e == t


def test_typed_storage_constructors():
    def probe(lib):
        return (repr(lib.TypedStorage()), repr(lib.TypedStorage([1, 2], dtype=lib.int32)),
                lib.TypedStorage(3, dtype=lib.int32).size(), repr(lib.TypedStorage([1.5])),
                lib.TypedStorage(wrap_storage=lib.UntypedStorage([0, 0, 128, 63]),
                                 dtype=lib.float32).tolist(),
                lib.FloatStorage(wrap_storage=lib.UntypedStorage(8)).size(),
                lib.Storage.__name__)
    t, e = both(probe)
    assert e == t


def test_typed_storage_warns_once_as_torch():
    def probe(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = lib.zeros(2)
            x.storage()
            x.storage().size()
            lib.FloatStorage(2)
        return [(w.category.__name__, str(w.message)) for w in caught]
    with recording_compared("torch.Tensor.storage") as run:
        t = run(torch, probe)
        e = run(ember, probe)
    assert e == t and len(t) == 1


def test_is_storage():
    def probe(lib):
        x = lib.zeros(2)
        return (lib.is_storage(x.untyped_storage()), lib.is_storage(x.storage()),
                lib.is_storage(x), lib.is_storage(3), isinstance(x.untyped_storage(),
                                                                 lib.StorageBase))
    with recording_compared("torch.is_storage", "torch.StorageBase"):
        t, e = both(probe)
    assert e == t


# ---- Tensor.set_ -----------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.empty(0).set_(x.untyped_storage(), 1, (2,), (2,)),
    lambda lib, x: lib.empty(0).set_(x.storage(), 1, (2,), (2,)),
    lambda lib, x: lib.empty(0).set_(x.untyped_storage()),
    lambda lib, x: lib.empty(0).set_(x.storage()),
    lambda lib, x: lib.empty(0).set_(x),
    lambda lib, x: lib.empty(0).set_(x[1]),
    lambda lib, x: lib.empty(0).set_(x, 2, (2, 2)),
    lambda lib, x: lib.ones(3).set_(),
    lambda lib, x: lib.empty(0).set_(x.untyped_storage(), 0, (3, 2), (1, 3)),
], ids=["untyped", "typed", "untyped-whole", "typed-whole", "tensor", "view", "tensor-sizes",
        "empty", "strides"])
def test_set_(fn):
    def probe(lib):
        x = values(lib)
        y = fn(lib, x)
        shares = y.numel() and y.untyped_storage() is x.untyped_storage()
        if y.numel():
            y[(0,) * y.dim()] = 100.0
        return y, x, y.storage_offset(), y.stride(), bool(shares), y.is_set_to(x), y._version
    (ty, tx, *trest), (ey, ex, *erest) = both(probe)
    assert_same(ey, ty)
    assert_same(ex, tx)
    assert erest == trest


def test_set_grows_a_short_storage():
    def probe(lib):
        s = lib.UntypedStorage(8)
        y = lib.empty(0).set_(s, 1, (3,), (1,))
        y.fill_(2.0)
        return y, s.nbytes(), y.data_ptr() - s.data_ptr()
    (ty, *trest), (ey, *erest) = both(probe)
    assert_same(ey, ty)
    assert erest == trest


@pytest.mark.parametrize("fn", [
    lambda lib: lib.empty(0, dtype=lib.int32).set_(lib.zeros(2).storage()),
    lambda lib: lib.empty(0, dtype=lib.int32).set_(lib.zeros(2)),
    lambda lib: lib.zeros(2, requires_grad=True).set_(lib.zeros(2)),
], ids=["storage-dtype", "tensor-dtype", "requires-grad"])
def test_set_errors(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with recording_compared("torch.Tensor.set_"):
            check_raises_like(fn)


def test_storage_of_batched_tensor_inside_vmap():
    with recording_compared() as run:
        with pytest.raises(RuntimeError) as t_info:
            torch.func.vmap(lambda t: run(torch, lambda lib: t.untyped_storage()))(
                torch.zeros(2, 3))
        assert_raises_like(t_info.value, lambda: ember.func.vmap(
            lambda t: run(ember, lambda lib: t.untyped_storage()))(ember.zeros(2, 3)))


def test_storage_over_numpy_memory():
    a = np.arange(4, dtype=np.float32)
    with recording_compared("torch.from_numpy") as run:
        t = run(torch, lambda lib: lib.from_numpy(a.copy()).untyped_storage().tolist())
        e = run(ember, lambda lib: lib.from_numpy(a.copy()).untyped_storage().tolist())
    assert e == t
