"""In-place ops (``op_`` and augmented operators) against torch: values, gradients,
version counters, and torch's refusals."""
from __future__ import annotations

import pytest

import ember
from tests.helpers import assert_same, check_op, check_raises_like, torch, torch_or_refused


def both(fn):
    return fn(torch), fn(ember)


@pytest.mark.parametrize("name,args", [
    ("add_", (1.5,)), ("sub_", (0.5,)), ("mul_", (3.0,)), ("div_", (2.0,)), ("pow_", (2,)),
    ("neg_", ()), ("abs_", ()), ("exp_", ()), ("sin_", ()), ("tanh_", ()), ("sigmoid_", ()),
    ("relu_", ()), ("clamp_", (-0.5, 0.5)), ("sqrt_", ()), ("reciprocal_", ()),
])
def test_inplace_values_and_gradients(name: str, args: tuple) -> None:
    def fn(L):
        w = L.tensor([0.3, 1.7, 2.2], requires_grad=True)
        h = w * 1.5
        out = getattr(h, name)(*args)
        assert out is h
        (h * L.tensor([1.0, -2.0, 0.5])).sum().backward()
        return h, w.grad
    for t, e in zip(*both(fn)):
        assert_same(e, t)
    t_node = torch.tensor([1.0], requires_grad=True).mul(2)
    e_node = ember.tensor([1.0], requires_grad=True).mul(2)
    getattr(t_node, name)(*args)
    getattr(e_node, name)(*args)
    assert e_node.grad_fn.name() == t_node.grad_fn.name()


def test_inplace_with_tensor_operand_keeps_original_self() -> None:
    def fn(L):
        w = L.tensor([1.0, 2.0], requires_grad=True)
        y = L.tensor([3.0, 4.0], requires_grad=True)
        h = w * 2
        h.mul_(y)
        h.div_(y + 1)
        h.sum().backward()
        return h, w.grad, y.grad
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_augmented_operators_are_in_place() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0])
        alias = x
        x += 1
        x *= L.tensor([2.0, 3.0])
        x -= 0.5
        x /= 2
        x **= 2
        assert alias is x
        n = L.tensor([5, 7])
        n //= 2
        n %= 2
        return x, n
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_version_counter_and_views() -> None:
    for lib in (torch, ember):
        x = lib.zeros(2, 3)
        v = x[0]
        v.add_(1)
        assert x.sum().item() == 3.0
        x.mul_(2)
        assert v.tolist() == [2.0, 2.0, 2.0]
        y = lib.ones(3)
        y.add_(1)
        y.add_(1)
        assert y._version == 2


@pytest.mark.parametrize("fn", [
    lambda L: L.ones(2, requires_grad=True).add_(1),
    lambda L: L.ones(2, requires_grad=True).view(2).mul_(2),
    lambda L: L.ones(2).add_(L.ones(2, 2)),
    lambda L: L.ones(2, dtype=L.long).add_(1.5),
    lambda L: L.ones(2, dtype=L.long).div_(2),
    # clamp's forms with number bounds name the C++ type, with tensor bounds torch's name
    lambda L: L.ones(2, dtype=L.long).clamp_(min=0.5),
    lambda L: L.ones(2, dtype=L.uint8).clip_(max=0.5),
    lambda L: L.ones(2, dtype=L.int32).clamp_min_(0.5),
    lambda L: L.ones(2, dtype=L.bool).clamp_max_(2),
    lambda L: L.ones(2, dtype=L.long).clamp_(L.tensor(0.5)),
], ids=["leaf", "view-of-leaf", "broadcast", "cast-float-to-long", "true-div-long",
        "clamp-number-bound", "clip-number-bound", "clamp_min-number", "clamp_max-bool",
        "clamp-tensor-bound"])
def test_inplace_errors_match_torch(fn) -> None:
    check_raises_like(fn)


def test_inplace_modification_of_saved_values_is_caught() -> None:
    def exp_then_add(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        h = x * 1
        h.exp_()
        h.add_(1)
        h.sum().backward()
    check_raises_like(exp_then_add)

    def sigmoid_then_mul(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        h = x * 1
        h.sigmoid_()
        h.mul_(3)
        h.sum().backward()
    check_raises_like(sigmoid_then_mul)


def test_inplace_under_no_grad_on_leaf() -> None:
    def fn(L):
        w = L.tensor([1.0, 2.0], requires_grad=True)
        with L.no_grad():
            w.sub_(0.5)
            w.mul_(2)
        assert w.is_leaf and w.requires_grad
        (w * w).sum().backward()
        return w, w.grad
    for t, e in zip(*both(fn)):
        assert_same(e, t)


@pytest.mark.parametrize("case", ["slice", "select-of-transpose", "two-views", "into-constant",
                                  "view-then-read", "nested"])
def test_inplace_through_views_of_intermediates(case: str) -> None:
    def fn(L):
        w = L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        v = L.tensor([0.5, -1.5], requires_grad=True)
        h = w * 2
        if case == "slice":
            h[:, 1:].mul_(L.tensor([3.0, 4.0]))
        elif case == "select-of-transpose":
            h.t()[0].mul_(v)
        elif case == "two-views":
            h[0].add_(1)
            h[:, 2].mul_(v)
        elif case == "into-constant":
            h = L.zeros(2, 3)
            h[1, :2].add_(v * 3)
        elif case == "view-then-read":
            row = h[1]
            row.mul_(v.sum())
            h = row * h
        elif case == "nested":
            h.view(6)[1:5].view(2, 2)[1].sub_(v)
        cot = L.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
        (h * cot).sum().backward()
        return h, w.grad if w.grad is not None else L.zeros(1), v.grad
    t_res, e_res = both(fn)
    for t, e in zip(t_res, e_res):
        if t is None:
            assert e is None
        else:
            assert_same(e, t)
    assert e_res[0].grad_fn.name() == t_res[0].grad_fn.name()


@pytest.mark.parametrize("fn", [
    lambda L: L.ones(3).expand(2, 3).add_(1),
    lambda L: [r.mul_(2) for r in L.ones(2, 2, requires_grad=True) * 1],
], ids=["expanded", "unbind-output"])
def test_view_inplace_errors_match_torch(fn) -> None:
    check_raises_like(fn)


def test_copy_broadcasts_casts_and_differentiates() -> None:
    def fn(L):
        w = L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        src = L.tensor([0.5, -1.5, 2.5], dtype=L.float64, requires_grad=True)
        h = w * 2
        h[1].copy_(src)
        n = L.zeros(2, 3, dtype=L.int64)
        n.copy_(L.tensor([1.7, -2.2, 3.9]))
        (h * L.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])).sum().backward()
        return h, w.grad, src.grad, n
    for t, e in zip(*both(fn)):
        assert_same(e, t)
    check_raises_like(lambda L: L.ones(2, 3).copy_(L.ones(3, 2)))


@pytest.mark.parametrize("index", [False, True])
def test_write_through_a_flattening_view_then_a_transposed_use(index) -> None:
    # the base's CopySlices receives a non-contiguous gradient (from the transpose) and
    # replays the flattening view on it: it must lay the gradient out as the base first
    def fn(lib, x):
        out = lib.zeros(4, 3, 2, dtype=x.dtype)
        flat = out.view(12, 2)
        if index:
            flat.index_put_((lib.tensor([0, 4, 8]),), x)
        else:
            flat[2:5] = x
        return out.transpose(0, 1) * 2
    check_op(fn, [(3, 2)])


@pytest.mark.parametrize("fn", [
    lambda L: L.ones(3).copy_(L.ones(2, 3)),
    lambda L: L.ones(3).copy_(L.ones(1, 3)),
    lambda L: L.ones(1, 3).copy_(L.ones(2, 3)),
    lambda L: L.ones(3).copy_(L.ones(4)),
    lambda L: L.ones(2, 3).copy_(L.ones(3, 2)),
], ids=["more-dims", "leading-one", "size-one-self", "mismatch", "mismatch-2d"])
def test_copy_from_a_larger_broadcast_raises_as_torch(fn) -> None:
    # the source broadcasts, but to more than the target holds: torch's in-place error, not
    # NumPy's
    check_raises_like(fn)


class _ViewOf:
    """Custom Functions returning a view of their input (or the input itself)."""

    @staticmethod
    def make(L, kind: str, outputs: int = 1):
        class Fn(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                out = a.view(-1) if kind == "view" else a
                if outputs == 1:
                    return out
                # a number, an integer tensor and a non-differentiable output do not count
                indices = L.zeros(2, dtype=L.int64)
                marked = a * 3
                ctx.mark_non_differentiable(marked)
                return (out, 5, indices, marked) + (a * 2,) * (outputs - 2)

            @staticmethod
            def backward(ctx, *grads):
                return grads[0].view(3, 2) if kind == "view" else grads[0]
        return Fn


def _leaf(L):
    return L.ones(3, 2, requires_grad=True)


def _nonleaf(L):
    return L.ones(3, 2, requires_grad=True) * 1


# NOTE [Views that refuse writes]: writes torch refuses through views of multi-output ops and
# through views a custom Function returned, also a view of such a view, whatever the write
VIEW_WRITES = {
    "unbind of a leaf": lambda L: _leaf(L).unbind(0)[1].mul_(2),
    "unbind of a non-leaf": lambda L: _nonleaf(L).unbind(0)[2].mul_(2),
    "split of a leaf": lambda L: _leaf(L).split(1)[0].add_(1),
    "chunk of a leaf": lambda L: _leaf(L).chunk(3)[0].zero_(),
    "unbind of a leaf, copy_": lambda L: _leaf(L).unbind(0)[0].copy_(L.ones(2)),
    "unbind of a leaf, uniform_": lambda L: _leaf(L).unbind(0)[0].uniform_(),
    "unbind of a leaf, unsqueeze_": lambda L: _leaf(L).unbind(0)[0].unsqueeze_(0),
    "unbind of a leaf, t_": lambda L: _leaf(L).unbind(0)[0].t_(),
    "slice of an unbind output": lambda L: _nonleaf(L).unbind(0)[0][:1].mul_(2),
    "unbind of no grad, a value with grad":
        lambda L: L.ones(3, 2).unbind(0)[1].mul_(L.ones(2, requires_grad=True)),
    "custom view": lambda L: _ViewOf.make(L, "view").apply(_nonleaf(L)).mul_(2),
    "custom view of a leaf": lambda L: _ViewOf.make(L, "view").apply(_leaf(L)).mul_(2),
    "custom identity": lambda L: _ViewOf.make(L, "same").apply(_nonleaf(L)).mul_(2),
    "custom identity of a leaf": lambda L: _ViewOf.make(L, "same").apply(_leaf(L)).mul_(2),
    "custom view, unsqueeze_": lambda L: _ViewOf.make(L, "view").apply(_nonleaf(L)).unsqueeze_(0),
    "slice of a custom view": lambda L: _ViewOf.make(L, "view").apply(_nonleaf(L))[:2].mul_(2),
    "custom view, one differentiable output": lambda L: _ViewOf.make(L, "view", 2).apply(
        _nonleaf(L))[0].mul_(2),
    "custom view, two differentiable outputs": lambda L: _ViewOf.make(L, "view", 3).apply(
        _nonleaf(L))[0].mul_(2),
    "custom view of no grad, a value with grad": lambda L: _ViewOf.make(L, "view").apply(
        L.ones(3, 2)).mul_(L.ones(6, requires_grad=True)),
    "detach_ of a view": lambda L: _leaf(L)[:1].detach_(),
}


@pytest.mark.parametrize("name", sorted(VIEW_WRITES))
def test_view_writes_torch_refuses(name: str) -> None:
    check_raises_like(VIEW_WRITES[name])


def test_view_writes_torch_allows() -> None:
    # the same views written without anything that needs a gradient
    def fn(L):
        a = L.ones(3, 2).unbind(0)[1].mul_(2)
        b = _ViewOf.make(L, "view").apply(L.ones(3, 2)).mul_(3)
        with L.no_grad():
            c = _nonleaf(L).unbind(0)[0].mul_(4)
        return a.tolist(), b.tolist(), c.tolist()
    assert fn(ember) == fn(torch)


def _stale(kind: str):
    """A script that takes a view, then gives its base a new history by an in-place write,
    then differentiates through the view (NOTE [Stale views])."""
    def fn(L):
        a = L.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        s = L.tensor(5.0, requires_grad=True)
        x = a * 1
        if kind == "base written":
            v = x[0]
            x.mul_(s)
        elif kind == "sibling written":
            v = x[:, 1]
            x[0].mul_(s)
        elif kind == "view of a view":
            v = x[1][1:]
            x.add_(s)
        elif kind == "reshaped":
            v = x.view(4)
            x.sub_(s)
        elif kind == "written without grad":
            v = x.t()
            with L.no_grad():
                x.mul_(2)
        elif kind == "written through detach":
            v = x[1]
            x.detach().mul_(3)
        elif kind == "unbind output":
            v = x.unbind(0)[1]
            x.mul_(s)
        elif kind == "restrided base":
            v = x[0]
            x.t_()
            x.mul_(s)
        elif kind == "written twice":
            v = x[0]
            x.mul_(s)
            x.add_(s)
        elif kind == "constant base given a history":
            x = L.ones(2, 2)
            v = x[0]
            x.mul_(s)
        weights = L.arange(1.0, v.numel() + 1).reshape(v.shape)
        out = (v * weights * s).sum()
        out.backward()
        return (v.detach(), out.detach(), a.grad, s.grad, v.requires_grad, v.is_leaf)
    return fn


@pytest.mark.parametrize("kind", ["base written", "sibling written", "view of a view",
                                  "reshaped", "written without grad", "written through detach",
                                  "restrided base", "written twice",
                                  "constant base given a history"])
def test_views_follow_their_base_history_as_torch(kind: str) -> None:
    e, t = _stale(kind)(ember), _stale(kind)(torch)
    for got, want in zip(e, t):
        if isinstance(want, torch.Tensor) or want is None and got is not None:
            assert_same(got, want)
        else:
            assert got == want


def _constant_base(kind: str):
    """A view of a tensor that needs no gradient, whose base (or a sibling view) a write then
    gives a history; the view alone goes into the next op (NOTE [Stale views])."""
    def fn(L):
        x = L.zeros(2, 3)
        s = L.tensor(2.0, requires_grad=True)
        if kind == "no_grad view":
            with L.no_grad():
                v = x[0]
        elif kind == "unbind output":
            v = x.unbind(0)[0]
        else:
            v = x[0] if kind != "view of a view" else x[:, 1:][0]
        if kind == "sibling written":
            x[:, 1].add_(s)
        elif kind == "setitem":
            x[1] = s
        elif kind == "written by a custom function":
            _Scale.make(L).apply(x, s)
        else:
            x.add_(s)
        # no property of ``v`` is read before the op: reading one refreshes the view
        if kind == "custom function":
            r = _Double.make(L).apply(v)
        elif kind == "cat":
            r = L.cat([v, v])
        else:
            r = v.exp()
        seen = [r.requires_grad, r.grad_fn is not None and r.grad_fn.name(), v.requires_grad]
        (r.sum() + s).backward()
        return seen + [s.grad]
    return fn


class _Scale:
    @staticmethod
    def make(L):
        class Scale(L.autograd.Function):
            @staticmethod
            def forward(ctx, x, s):
                ctx.mark_dirty(x)
                return x.add_(s)

            @staticmethod
            def backward(ctx, g):
                return g, g.sum()
        return Scale


class _Double:
    @staticmethod
    def make(L):
        class Double(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2
        return Double


@pytest.mark.parametrize("kind", ["base written", "sibling written", "setitem",
                                  "written by a custom function", "view of a view", "cat",
                                  "custom function", "no_grad view", "unbind output"])
def test_views_of_a_constant_given_a_history_as_torch(kind: str) -> None:
    # ``v * 1`` with nothing else needing a gradient must see that ``v``'s base now has one
    if kind in ("no_grad view", "unbind output"):  # torch refuses to give these a history
        check_raises_like(_constant_base(kind))
        # ... but says they require grad, as their base does
        for L in (torch, ember):
            x = L.zeros(3)
            with L.no_grad():
                v = x[:2]
            u = x.unbind()[1]
            x.add_(L.tensor(2.0, requires_grad=True))
            assert v.requires_grad and u.requires_grad
        return
    want = _constant_base(kind)(torch)
    got = _constant_base(kind)(ember)
    assert got[:-1] == want[:-1]
    assert_same(got[-1], want[-1], atol=1e-6, rtol=1e-6)


def _stale_refused(kind: str, write_without_grad: bool = False):
    def fn(L):
        x = L.ones(2, 2, requires_grad=True) * 1
        if kind == "unbind":
            v = x.unbind(0)[1]
        else:
            v = _ViewOf.make(L, "view").apply(L.ones(3, 2, requires_grad=True) * 1)
            x = v._base
        if write_without_grad:
            with L.no_grad():
                x.mul_(2)
        else:
            x.mul_(2)
        return v * 2
    return fn


@pytest.mark.parametrize("kind", ["unbind", "custom"])
@pytest.mark.parametrize("without_grad", [False, True])
def test_stale_views_torch_refuses(kind: str, without_grad: bool) -> None:
    check_raises_like(_stale_refused(kind, without_grad))


def _no_grad_view(L):
    x = L.ones(3, requires_grad=True)
    with L.no_grad():
        v = x[:2]
    return x, v


def test_views_made_without_grad_mode_as_torch() -> None:
    # NOTE [Views made without grad mode]: they require grad, record graphs in grad mode,
    # and no gradient flows through them to the base
    def fn(L):
        x, v = _no_grad_view(L)
        seen = [v.requires_grad, v.is_leaf, v.grad_fn is None, repr(v)]
        y = v * 2
        seen += [y.requires_grad, y.grad_fn.name()]
        y.sum().backward()
        seen += [x.grad, v.grad]
        v2 = v[:1]
        seen += [v2.requires_grad, v2.grad_fn.name(), v2.is_leaf]
        with L.no_grad():
            u = x.unbind(0)
        seen += [u[0].requires_grad, u[0].grad_fn]
        with L.inference_mode():
            seen.append(x[:2].requires_grad)
            seen.append(L.ones(3, requires_grad=True)[:2].requires_grad)
        with L.no_grad():
            seen.append(x.detach()[:2].requires_grad)
        y = L.ones(3, requires_grad=True).clone()
        with L.no_grad():
            w = y[:2]
        y.mul_(2)
        seen.append(repr(w))
        return seen
    assert fn(ember) == fn(torch)


def _unbind_written(L):
    x = L.ones(3, requires_grad=True)
    with L.no_grad():
        u = x.unbind(0)
    u[0].mul_(2)


def _written_then_used(L, write_with_grad: bool):
    y = L.ones(3, requires_grad=True).clone()
    with L.no_grad():
        w = y[:2]
    if write_with_grad:
        y.mul_(2)
    else:
        with L.no_grad():
            y.mul_(2)
    return w * 2


@pytest.mark.parametrize("case", ["written in grad mode", "unbind output written",
                                  "base written, then used", "base written without grad, then used",
                                  "base written, then grad_fn"])
def test_views_made_without_grad_mode_refusals_as_torch(case: str) -> None:
    check_raises_like({
        "written in grad mode": lambda L: _no_grad_view(L)[1].mul_(2),
        "unbind output written": _unbind_written,
        "base written, then used": lambda L: _written_then_used(L, True),
        "base written without grad, then used": lambda L: _written_then_used(L, False),
        "base written, then grad_fn": lambda L: _written_then_used(L, True).grad_fn,
    }[case])


_KINDS = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64"]


@pytest.mark.parametrize("target", _KINDS)
@pytest.mark.parametrize("source", _KINDS)
def test_inplace_casts_follow_torchs_can_cast(target, source) -> None:
    # any cast within a category is allowed, a signed int into uint8 too (NumPy's same_kind
    # refuses that one); nothing from a higher category, and into bool only bool
    def fn(L):
        x = L.tensor([1, 2, 3]).to(getattr(L, target))
        return x.mul_(L.tensor([3, 1, 2]).to(getattr(L, source)))
    try:
        expected = fn(torch)
    except RuntimeError:
        check_raises_like(fn)
    else:
        assert_same(fn(ember), expected)


@pytest.mark.parametrize("dtype", ["float32", "float16", "complex64"])
def test_written_positions_get_zero_gradient_even_where_nan_arrives(dtype: str) -> None:
    # CopySlices gives the overwritten elements a zero gradient: exactly zero, even where
    # the gradient arriving there is nan (a product with a 0/1 mask would keep the nan)
    def fn(L):
        a = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = a.to(getattr(L, dtype)) * 1
        x[1:] = float("nan")
        x[L.tensor(True)] = x * 1  # a 0-d mask writes through a view
        out = x.exp().sum()
        (out.real if out.is_complex() else out).backward()
        return a.grad
    assert_same(fn(ember), fn(torch))


# torch's memory-overlap rule for a write that reads its own memory: refused when the
# written and read tensors share memory without being the same elements in the same layout,
# judged by memory range when both are non-overlapping and dense (else torch lets it run)
_OVERLAPS = {
    "shifted copy_": lambda L, a: a[1:].copy_(a[:-1]),
    "shifted copy_ back": lambda L, a: a[:-1].copy_(a[1:]),
    "shifted setitem": lambda L, a: a.__setitem__(slice(1, None), a[:-1]),
    "shifted add_": lambda L, a: a[1:].add_(a[:-1]),
    "shifted mul_": lambda L, a: a[2:].mul_(a[:-2]),
    "transposed add_": lambda L, a: a.view(4, 4).t().add_(a.view(4, 4)),
    "add_ of transposed": lambda L, a: a.view(4, 4).add_(a.view(4, 4).t()),
    "copy_ into transposed": lambda L, a: a.view(4, 4).t().copy_(a.view(4, 4)),
    "same tensor": lambda L, a: a.add_(a),
    "same layout, other view": lambda L, a: a.view(4, 4).add_(a.view(4, 4)),
    "disjoint halves": lambda L, a: a[:8].add_(a[8:]),
    "strided, sharing elements": lambda L, a: a[:8:2].add_(a[2:10:2]),
    "strided columns": lambda L, a: a.view(4, 4)[:, :2].add_(a.view(4, 4)[:, 2:]),
    "rows overlapping": lambda L, a: a.view(4, 4)[:2].add_(a.view(4, 4)[1:3]),
    "0-d inside": lambda L, a: a[:3].mul_(a[2]),
    "0-d outside": lambda L, a: a[1:].add_(a[0]),
    "broadcast part": lambda L, a: a.add_(a[:1]),
    "expand of itself": lambda L, a: a[:4].add_(a[:4].expand(4)),
    "index_copy_": lambda L, a: a.index_copy_(0, L.tensor([1, 2]), a[:2]),
    "out= shifted": lambda L, a: L.exp(a[:-1], out=a[1:]),
    "out= transposed": lambda L, a: L.add(a.view(4, 4), 1, out=a.view(4, 4).t()),
    "setitem from a broadcast part": lambda L, a: a.__setitem__(slice(0, 3), a[:1]),
    "setitem from an element": lambda L, a: a.__setitem__(slice(0, 3), a[0]),
    "copy_ from a broadcast part": lambda L, a: a[:3].copy_(a[:1]),
    "fill_ from an element": lambda L, a: a[:3].fill_(a[0]),
    "mul_ by an element": lambda L, a: a[:3].mul_(a[0]),
    "clamp_ by a shifted bound": lambda L, a: a[:3].clamp_(min=a[1:4]),
    "addcmul_ of shifted parts": lambda L, a: a[:3].addcmul_(a[1:4], a[:3]),
}
# (where torch does not tell and the write runs, torch's values then depend on its loop's
# order when a later element reads one written before it, ``neg(a[:8:2], out=a[2:10:2])``;
# ember's are the values of the op on the input as it was)


@pytest.mark.parametrize("name", list(_OVERLAPS))
def test_writes_overlapping_their_input_as_torch(name: str) -> None:
    def fn(L):
        a = L.arange(16.0)
        _OVERLAPS[name](L, a)
        return a.tolist()
    want = torch_or_refused(fn, RuntimeError)
    if want is None:
        return
    assert fn(ember) == want


@pytest.mark.parametrize("name", ["eq_", "ne_", "lt_", "le_", "gt_", "ge_"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64", "bool", "uint16",
                                   "uint32", "uint64", "float32"])
@pytest.mark.parametrize("other", [-1, 2, 257, -129, 200, 2 ** 40, -255, 1.5, True])
def test_inplace_comparison_with_number(name: str, dtype: str, other) -> None:
    # torch compares an integer tensor with an int in the tensor's dtype, the int wrapped
    # into it (uint8.lt_(-1) compares with 255), and refuses uint16-64 in its order kernels
    def fn(L):
        return getattr(L.tensor([0, 1, 2], dtype=getattr(L, dtype)), name)(other)
    t = torch_or_refused(fn, RuntimeError, NotImplementedError, OverflowError)
    if t is not None:
        assert_same(fn(ember), t)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
def test_inplace_comparison_with_int_beyond_int64(dtype: str) -> None:
    for name in ("eq_", "ne_", "lt_", "ge_"):
        def fn(L, name=name):
            return getattr(L.tensor([0, 1, -2], dtype=getattr(L, dtype)), name)(2 ** 63 + 1)
        assert_same(fn(ember), fn(torch))
