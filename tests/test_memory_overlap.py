"""Writes whose source or index shares memory with the tensor written to, compared with
torch: which it refuses (index writes: any overlap; copies: a partial one; nothing when a
tensor has gaps) and what the accepted ones compute, with gradients."""
from __future__ import annotations

import pytest

import ember
from tests.helpers import (
    assert_same,
    check_raises_like,
    recording_compared,
    torch,
    torch_or_refused,
)

_WRITES = {
    "copy_": lambda lib, x, s, i: x[:3].copy_(s),
    "copy_unsqueezed": lambda lib, x, s, i: x[:3].copy_(x[:3].unsqueeze(0)),
    "setitem_slice": lambda lib, x, s, i: x[:3].__setitem__(slice(None), s),
    "setitem_unsqueezed": lambda lib, x, s, i: x[:3].__setitem__(slice(None),
                                                                  x[:3].unsqueeze(0)),
    "setitem_none": lambda lib, x, s, i: x.__setitem__(None, x),
    "setitem_int_tensor": lambda lib, x, s, i: x.__setitem__(i, s),
    "setitem_0d_value": lambda lib, x, s, i: x.__setitem__(i, x[5]),
    "setitem_mask": lambda lib, x, s, i: x.__setitem__(
        lib.tensor([True, False, True, False, True, False]), s),
    "setitem_true_tensor": lambda lib, x, s, i: x.__setitem__(lib.tensor(True), x),
    "setitem_false_tensor": lambda lib, x, s, i: x.__setitem__(lib.tensor(False), x),
    "setitem_true_tensor_0d": lambda lib, x, s, i: x.__setitem__(lib.tensor(True), x[0]),
    "index_put_": lambda lib, x, s, i: x.index_put_((i,), s),
    "index_put_accumulate": lambda lib, x, s, i: x.index_put_((i,), s, accumulate=True),
    "scatter_": lambda lib, x, s, i: x.scatter_(0, i, s),
    "scatter_value": lambda lib, x, s, i: x.scatter_(0, i, 1.0),
    "scatter_add_": lambda lib, x, s, i: x.scatter_add_(0, i, s),
    "scatter_reduce_": lambda lib, x, s, i: x.scatter_reduce_(0, i, s, "sum"),
    "index_copy_": lambda lib, x, s, i: x.index_copy_(0, i, s),
    "index_add_": lambda lib, x, s, i: x.index_add_(0, i, s),
    "index_fill_": lambda lib, x, s, i: x.index_fill_(0, i, s[0]),
    "put_": lambda lib, x, s, i: x.put_(i, s),
    "masked_fill_": lambda lib, x, s, i: x.masked_fill_(
        lib.tensor([True, False, True, False, True, False]), s[0]),
    "mul_out": lambda lib, x, s, i: lib.mul(s, 2, out=x[:3]),
}
_SOURCES = {
    "same": lambda x: x[:3], "partial": lambda x: x[1:4], "rest": lambda x: x[3:6],
    "gaps": lambda x: x[::2], "gaps_overlapping": lambda x: x[1::2],
    "elsewhere": lambda x: x.clone()[:3],
}


def _outcome(lib, write, source):
    x = lib.arange(6.)
    try:
        write(lib, x, source(x), lib.tensor([1, 0, 2]))
    except RuntimeError as e:
        return ("refused", str(e))
    return ("written", x)


@pytest.mark.parametrize("source", list(_SOURCES))
@pytest.mark.parametrize("write", list(_WRITES))
def test_overlapping_sources(write, source):
    with recording_compared() as run:
        fn = lambda lib: _outcome(lib, _WRITES[write], _SOURCES[source])  # noqa: E731
        (e_kind, e), (t_kind, t) = run(ember, fn), run(torch, fn)
    assert e_kind == t_kind, (e, t)
    if t_kind == "refused":
        assert e == t
    else:
        assert_same(e, t)


@pytest.mark.parametrize("write", [
    lambda lib, x: x.index_put_((x[:3],), lib.tensor([7, 8, 9])),
    lambda lib, x: x.__setitem__(x[:3], 1),
    lambda lib, x: x.scatter_(0, x[:3], 1),
    lambda lib, x: x.index_fill_(0, x[:3], 1),
    lambda lib, x: x.index_copy_(0, x[:3], lib.tensor([7, 8, 9])),
    lambda lib, x: x.put_(x[:3], lib.tensor([7, 8, 9])),
])
def test_index_sharing_self_refused(write):
    check_raises_like(lambda lib: write(lib, lib.arange(6)))


def test_bool_mask_sharing_self_accepted():
    with recording_compared() as run:
        for fn in (lambda lib: _masked(lib, lambda x: x.__setitem__(x, False)),
                   lambda lib: _masked(lib, lambda x: x.index_put_((x,), lib.tensor(False)))):
            assert_same(run(ember, fn), run(torch, fn))


def _masked(lib, write):
    x = lib.tensor([True, False, True])
    write(x)
    return x


@pytest.mark.parametrize("key", ["True", "False", "(True, 0)", "(0, True)"])
@pytest.mark.parametrize("value", ["L.ones(5)", "L.ones(2, 3)", "L.ones(1, 1, 3)",
                                   "L.ones(3, dtype=L.float64)", "L.ones(3)", "7.0"])
def test_setitem_through_0d_bool_tensor(key, value):
    """torch writes through a 0-d boolean tensor as index_put_ into a new dim: its shape
    and dtype checks apply even when nothing is written."""
    def fn(lib):
        base = lib.arange(6., requires_grad=True)
        x = base.view(2, 3) * 1 if "," in key else base[:3] * 1
        k = eval(key.replace("True", "L.tensor(True)").replace("False", "L.tensor(False)"),
                 {"L": lib})
        x[k] = eval(value, {"L": lib})
        x.backward(lib.arange(float(x.numel())).reshape(x.shape))
        return x, base.grad, x.grad_fn.name()

    t = torch_or_refused(fn, RuntimeError)
    if t is None:
        return
    with recording_compared() as run:
        e = run(ember, fn)
        run(torch, fn)
    assert_same(e[0], t[0])
    assert_same(e[1], t[1])
    assert e[2] == t[2]
