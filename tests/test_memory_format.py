"""Memory formats (``torch.channels_last``, ...) compared with torch: the objects, the
strides of every op that takes ``memory_format=``, and the layouts common ops keep."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch

FORMATS = ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d")


# ---- the objects ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_format_objects_print_and_compare_as_torch(name):
    with recording_compared(f"torch.{name}", "torch.memory_format"):
        e, t = getattr(ember, name), getattr(torch, name)
        assert repr(e) == repr(t) and str(e) == str(t)
        assert type(e) is ember.memory_format
        assert type(e).__name__ == type(t).__name__ == "memory_format"
        assert repr(type(e)) == repr(type(t)).replace("torch", "ember")
        assert (e == e) == (t == t) and hash(e) == hash(e)
        others = [getattr(ember, n) for n in FORMATS if n != name]
        assert all(e != o for o in others)
        # identity survives pickling and copying, as torch's objects do
        assert (pickle.loads(pickle.dumps(t)) is t) == (pickle.loads(pickle.dumps(e)) is e)
        assert (copy.deepcopy(t) is t) == (copy.deepcopy(e) is e) is True
        assert (copy.copy(e) is e) is (copy.copy(t) is t)


def test_memory_format_cannot_be_made():
    with recording_compared("torch.memory_format"):
        check_raises_like(lambda lib: lib.memory_format())


@pytest.mark.parametrize("fn", [lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b,
                                lambda a, b: a >= b])
def test_formats_do_not_order(fn):
    check_raises_like(lambda lib: fn(lib.channels_last, lib.contiguous_format))


# ---- strided inputs: is_contiguous and the strides of copies ---------------------------


@st.composite
def strided_views(draw):
    """(physical shape, permutation, slicing steps): an arange laid out in the physical
    shape, permuted, then sliced with a step per dim."""
    ndim = draw(st.integers(1, 5))
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    perm = tuple(draw(st.permutations(range(ndim))))
    steps = tuple(draw(st.lists(st.sampled_from([1, 1, 2]), min_size=ndim, max_size=ndim)))
    return shape, perm, steps


def _view(lib, shape, perm, steps, dtype="float32"):
    n = int(np.prod(shape))
    base = lib.arange(n, dtype=getattr(lib, dtype)).reshape(shape).permute(*perm)
    return base[tuple(slice(None, None, s) for s in steps)]


def _comparable(t) -> bool:
    # ember reports an empty tensor's strides as contiguous whatever view made it (see
    # Tensor.stride in ember/_ops/shape.py); torch keeps the view's strides
    return t.numel() > 0


def _same_layout(e, t, what: str) -> None:
    assert e.stride() == t.stride(), f"{what}: strides {e.stride()} != torch's {t.stride()}"
    assert_same(e, t, what=what)


@settings(max_examples=300, deadline=None)
@given(strided_views())
def test_is_contiguous_in_each_format(view):
    t = _view(torch, *view)
    if not _comparable(t):
        return
    e = _view(ember, *view)
    assert e.stride() == t.stride()
    with recording_compared() as run:
        for name in FORMATS:
            def ask(lib, x, name=name):
                return x.is_contiguous(memory_format=getattr(lib, name))

            assert run(ember, ask, e) == run(torch, ask, t), (name, t.shape, t.stride())


@settings(max_examples=200, deadline=None)
@given(strided_views())
def test_preserve_format_copies_keep_torchs_strides(view):
    t = _view(torch, *view)
    if not _comparable(t):
        return
    e = _view(ember, *view)
    with recording_compared() as run:
        for what, fn in [
            ("clone", lambda lib, x: x.clone()),
            ("clone preserve", lambda lib, x: lib.clone(x, memory_format=lib.preserve_format)),
            ("to", lambda lib, x: x.to(lib.float64)),
            ("to copy", lambda lib, x: x.to(copy=True)),
            ("zeros_like", lambda lib, x: lib.zeros_like(x)),
            ("ones_like", lambda lib, x: lib.ones_like(x, dtype=lib.float64)),
            ("full_like", lambda lib, x: lib.full_like(x, 7)),
            ("empty_like", lambda lib, x: lib.empty_like(x).zero_()),
        ]:
            _same_layout(run(ember, fn, e), run(torch, fn, t), what)


@pytest.mark.parametrize("name", ["contiguous_format", "channels_last", "channels_last_3d"])
@settings(max_examples=60, deadline=None)
@given(view=strided_views())
def test_copies_in_a_format(name, view):
    t = _view(torch, *view)
    if not _comparable(t):
        return
    e = _view(ember, *view)
    with recording_compared() as run:
        for what, fn in [
            ("contiguous", lambda lib, x: x.contiguous(memory_format=getattr(lib, name))),
            ("clone", lambda lib, x: x.clone(memory_format=getattr(lib, name))),
            ("to", lambda lib, x: x.to(memory_format=getattr(lib, name))),
            ("to dtype", lambda lib, x: x.to(lib.float16, memory_format=getattr(lib, name))),
            ("zeros_like", lambda lib, x: lib.zeros_like(x, memory_format=getattr(lib, name))),
            ("full_like", lambda lib, x: lib.full_like(x, 2.5,
                                                       memory_format=getattr(lib, name))),
        ]:
            try:
                want = run(torch, fn, t)
            except RuntimeError:
                check_raises_like(lambda lib, fn=fn: fn(lib, e if lib is ember else t))
                continue
            _same_layout(run(ember, fn, e), want, f"{what} {name}")


def test_to_and_contiguous_return_self_when_already_laid_out():
    with recording_compared() as run:
        for lib in (torch, ember):
            x = lib.ones(2, 3, 4, 5).contiguous(memory_format=lib.channels_last)
            assert run(lib, lambda lib, x: x.contiguous(memory_format=lib.channels_last),
                       x) is x
            assert run(lib, lambda lib, x: x.to(memory_format=lib.channels_last), x) is x
            assert run(lib, lambda lib, x: x.to(memory_format=lib.preserve_format), x) is x
            assert run(lib, lambda lib, x: x.to(memory_format=lib.contiguous_format),
                       x) is not x


def test_empty_in_a_format():
    with recording_compared() as run:
        for name in ("channels_last", "contiguous_format"):
            fn = lambda lib: lib.empty((2, 3, 4, 5), memory_format=getattr(lib, name))  # noqa
            assert run(ember, fn).stride() == run(torch, fn).stride()
    check_raises_like(lambda lib: lib.empty(2, 3, memory_format=lib.channels_last))
    check_raises_like(lambda lib: lib.empty(2, 3, memory_format=lib.preserve_format))
    check_raises_like(lambda lib: lib.empty(2, 3, memory_format=1))


@pytest.mark.parametrize("fn", [
    lambda lib, x: x.contiguous(memory_format=lib.channels_last),
    lambda lib, x: x.contiguous(memory_format=lib.channels_last_3d),
    lambda lib, x: x.transpose(0, 1).contiguous(memory_format=lib.preserve_format),
    lambda lib, x: x.contiguous(memory_format=1),
    lambda lib, x: x.clone(memory_format=lib.channels_last),
    lambda lib, x: lib.clone(x, memory_format="channels_last"),
    lambda lib, x: x.to(memory_format=lib.channels_last_3d),
    lambda lib, x: x.to(lib.float64, memory_format=lib.channels_last),
    lambda lib, x: lib.empty_like(x, memory_format=lib.channels_last),
    lambda lib, x: lib.zeros_like(x, memory_format=2),
    lambda lib, x: lib.ones_like(x, memory_format=lib.channels_last_3d),
    lambda lib, x: lib.rand_like(x, memory_format=lib.channels_last),
    lambda lib, x: lib.randn_like(x, memory_format=lib.channels_last),
    lambda lib, x: lib.randint_like(x, 5, memory_format=lib.channels_last),
])
def test_format_errors(fn):
    check_raises_like(lambda lib: fn(lib, lib.ones(2, 3, 4)))


def test_is_contiguous_of_another_rank_is_false():
    with recording_compared() as run:
        for lib in (torch, ember):
            x = lib.ones(2, 3, 4)
            assert run(lib, lambda lib, x: x.is_contiguous(memory_format=lib.channels_last),
                       x) is False
            assert run(lib, lambda lib, x: x.is_contiguous(memory_format=lib.preserve_format),
                       x) is True


def test_gradients_through_format_copies():
    shape = (2, 3, 4, 5)
    rng = np.random.default_rng(0)
    x_np, cot_np = rng.standard_normal(shape), rng.standard_normal(shape)
    with recording_compared() as run:
        for fn in [lambda lib, x: x.contiguous(memory_format=lib.channels_last),
                   lambda lib, x: x.clone(memory_format=lib.channels_last),
                   lambda lib, x: x.to(memory_format=lib.channels_last),
                   lambda lib, x: x.to(lib.float32, memory_format=lib.channels_last)]:
            results = {}
            for lib in (torch, ember):
                x = lib.tensor(x_np, requires_grad=True)
                y = run(lib, fn, x)
                y.backward(lib.tensor(cot_np, dtype=y.dtype))
                results[lib] = (y, x.grad)
            (ey, eg), (ty, tg) = results[ember], results[torch]
            assert type(ey.grad_fn).__name__ == type(ty.grad_fn).__name__
            _same_layout(ey, ty, "result")
            _same_layout(eg, tg, "grad")


# ---- random *_like: the same numbers, drawn in memory order -----------------------------


@pytest.mark.parametrize("draw", [
    lambda lib, x, **kw: lib.rand_like(x, **kw),
    lambda lib, x, **kw: lib.randn_like(x, **kw),
    lambda lib, x, **kw: lib.randint_like(x, 3, 17, **kw),
    lambda lib, x, **kw: lib.randn_like(x, dtype=lib.float64, **kw),
])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 3, 1, 2), (2, 1, 3, 3)])
def test_random_like_in_a_layout(draw, shape):
    with recording_compared() as run:
        for layout, fmt in [("plain", None), ("channels_last", None),
                            ("channels_last", "contiguous_format"), ("plain", "channels_last"),
                            ("permuted", None), ("permuted", "preserve_format")]:
            results = []
            for lib in (torch, ember):
                x = lib.zeros(shape)
                if layout == "permuted":
                    x = x.permute(3, 1, 0, 2)
                elif layout == "channels_last":
                    x = x.contiguous(memory_format=lib.channels_last)
                kw = {} if fmt is None else {"memory_format": getattr(lib, fmt)}
                lib.manual_seed(7)
                results.append(run(lib, lambda lib, x, kw=kw: draw(lib, x, **kw), x))
            t, e = results
            assert e.stride() == t.stride(), (layout, fmt)
            assert_same(e, t, what=f"{layout} {fmt}")


# ---- Module.to(memory_format=) ---------------------------------------------------------


def _conv_net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 2), lib.nn.BatchNorm2d(4), lib.nn.Linear(3, 2))


def test_module_to_channels_last():
    with recording_compared("torch.nn.Module.to") as run:
        nets = [run(lib, lambda lib: _conv_net(lib).to(memory_format=lib.channels_last))
                for lib in (torch, ember)]
        t_params = dict(nets[0].named_parameters())
        for name, p in nets[1].named_parameters():
            _same_layout(p, t_params[name], name)
            assert type(p).__name__ == type(t_params[name]).__name__
        nets = [run(lib, lambda lib: _conv_net(lib).to(lib.float64,
                                                       memory_format=lib.channels_last))
                for lib in (torch, ember)]
        t_params = dict(nets[0].named_parameters())
        for name, p in nets[1].named_parameters():
            _same_layout(p, t_params[name], name)


def test_module_to_format_errors():
    check_raises_like(lambda lib: lib.nn.Conv3d(2, 2, 1).to(memory_format=lib.channels_last))
    with pytest.raises(TypeError) as t_info:
        torch.nn.Conv2d(2, 2, 1).to(memory_format=1)
    with pytest.raises(TypeError) as e_info:
        ember.nn.Conv2d(2, 2, 1).to(memory_format=1)
    # torch's message goes on to list its overloads; ember gives the first line
    assert str(e_info.value) in str(t_info.value)


# ---- which ops keep channels_last -------------------------------------------------------

KEEPING_OPS = {
    "add": lambda lib, x: x + 1,
    "mul": lambda lib, x: x * x,
    "relu": lambda lib, x: lib.relu(x),
    "neg": lambda lib, x: -x,
    "exp": lambda lib, x: x.exp(),
}


@pytest.mark.parametrize("name", sorted(KEEPING_OPS))
def test_elementwise_ops_keep_channels_last(name):
    with recording_compared() as run:
        results = []
        for lib in (torch, ember):
            lib.manual_seed(0)
            x = lib.randn(2, 3, 4, 5).contiguous(memory_format=lib.channels_last)
            results.append(run(lib, KEEPING_OPS[name], x))
        _same_layout(results[1], results[0], name)
