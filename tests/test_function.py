"""Custom autograd Functions (``ember.autograd.Function``) against torch: the same script
runs on both libraries and must print the same text (values, node names, errors)."""
from __future__ import annotations

import contextlib
import gc
import io
import weakref

import pytest

import ember
from tests.helpers import check_raises_like, torch


def _attempt(fn) -> None:
    try:
        fn()
    except RuntimeError as exc:
        print(exc)


def scenario(L) -> None:
    class MyFn(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.save_for_backward(x, y)
            ctx.k = k
            print("needs", ctx.needs_input_grad, L.is_grad_enabled())
            return x * k * y, x.detach() + 1

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            print("g2", g2)
            return g1 * ctx.k * y, None, g1 * ctx.k * x

    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = L.tensor([3.0, 4.0], requires_grad=True)
    a, b = MyFn.apply(x, 2.0, y)
    print(a, b, type(a.grad_fn).__name__, a.grad_fn.name(), len(a.grad_fn.next_functions))
    print(b.requires_grad, b.grad_fn is a.grad_fn)
    a.sum().backward()
    print(x.grad, y.grad)
    _attempt(lambda: a.sum().backward())

    class TooMany(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    _attempt(lambda: TooMany.apply(x).sum().backward())

    class WrongShape(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return L.ones(3)

    _attempt(lambda: WrongShape.apply(x).sum().backward())

    class Identity(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    z = Identity.apply(x)
    print(z is x, z.grad_fn.name(), z._base is x)

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    w = L.tensor([1.5, -2.0], requires_grad=True)
    (g,) = L.autograd.grad(Cube.apply(w).sum(), w, create_graph=True)
    (g2,) = L.autograd.grad(g.sum(), w)
    print(g, g2)

    class WithIndices(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = L.tensor([1, 0])
            ctx.mark_non_differentiable(idx)
            ctx.set_materialize_grads(False)
            return x * 1, idx

        @staticmethod
        def backward(ctx, g, gi):
            print("gi", gi)
            return g

    v, i = WithIndices.apply(w)
    print(v.requires_grad, i.requires_grad)
    v.sum().backward()
    print(w.grad)

    class Dirty(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    h = w * 1
    r = Dirty.apply(h)
    print(r is h, h.grad_fn.name(), h)

    class Once(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @L.autograd.function.once_differentiable
        def backward(ctx, g):
            return g * 2

    (q,) = L.autograd.grad(Once.apply(w).sum(), w, create_graph=True)
    print(q.requires_grad)


def test_custom_functions_behave_like_torch() -> None:
    outputs = []
    for lib in (torch, ember):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            scenario(lib)
        outputs.append(buffer.getvalue())
    assert outputs[1] == outputs[0]
    assert "MyFnBackward" in outputs[0] and "incorrect number of gradients" in outputs[0]


def test_function_node_repr_and_graph_freeing() -> None:
    class Double(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = ember.tensor([1.0], requires_grad=True)
    y = Double.apply(x)
    assert repr(y) == "tensor([2.], grad_fn=<DoubleBackward>)"
    assert repr(y.grad_fn).startswith("<torch.autograd.function.DoubleBackward object at 0x")
    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


# ---- forward mode (NOTE [Custom functions in forward mode]) ------------------------------


def _custom_with_jvp(lib, seen):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_forward(x)
            fw = lib.autograd.forward_ad
            seen.append(("forward sees a dual", fw.unpack_dual(x).tangent is not None))
            return x * y * k, x + 1

        @staticmethod
        def jvp(ctx, tx, ty, tk):
            seen.append(("jvp", tx.tolist(), ty.tolist(), tk,
                         [t.tolist() for t in ctx.saved_tensors]))
            return tx * 3, tx

        @staticmethod
        def backward(ctx, g1, g2):
            return g1, g1, None

    return Scale


def test_custom_function_forward_mode_uses_jvp_as_torch():
    # forward on the primals; jvp with the inputs' tangents (zeros for a tensor without
    # one, None for a number) and what forward saved for it; the outputs take its result
    results = {}
    for lib in (torch, ember):
        seen = []
        fw = lib.autograd.forward_ad
        with fw.dual_level():
            x = fw.make_dual(lib.ones(2, dtype=lib.float64), lib.full((2,), 0.5,
                                                                      dtype=lib.float64))
            a, b = _custom_with_jvp(lib, seen).apply(x, lib.ones(2, dtype=lib.float64), 2.0)
            results[lib] = (seen, fw.unpack_dual(a).tangent.tolist(),
                            fw.unpack_dual(b).tangent.tolist())
    assert results[ember] == results[torch]


def test_custom_function_without_jvp_refuses_forward_mode_as_torch():
    def run(lib):
        with lib.autograd.forward_ad.dual_level():
            x = lib.autograd.forward_ad.make_dual(lib.ones(2), lib.ones(2))
            _gradcheck_functions(lib)["without jvp"](x)

    check_raises_like(run)


# ---- gradcheck's checks, as torch's -------------------------------------------------------


def _gradcheck_functions(lib):
    import itertools

    counter = itertools.count()

    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Nondeterministic(Double):
        @staticmethod
        def backward(ctx, g):
            return g * 2 + next(counter) * 1e-9  # another value each run

    class WrongForward(Double):
        @staticmethod
        def jvp(ctx, t):
            return t * 3

    class NotScaled(Double):
        @staticmethod
        def backward(ctx, g):
            return g * 2 + (0 if g.abs().sum() > 0 else 1)

    return {"nondeterministic": Nondeterministic.apply, "wrong forward": WrongForward.apply,
            "without jvp": Double.apply, "not scaled": NotScaled.apply,
            "sin": lambda x: x.sin()}


_GRADCHECKS = [
    ("nondeterministic", {}), ("nondeterministic", {"nondet_tol": 1e-6}),
    ("wrong forward", {"check_forward_ad": True}),
    ("wrong forward", {"check_forward_ad": True, "check_backward_ad": False}),
    ("wrong forward", {}), ("not scaled", {}), ("not scaled", {"raise_exception": False}),
    ("sin", {"check_backward_ad": False}),
    ("sin", {"check_forward_ad": True, "check_batched_grad": True,
             "check_batched_forward_grad": True, "fast_mode": True, "masked": True,
             "nondet_tol": 1e-12, "check_grad_dtypes": True, "check_undefined_grad": False}),
]


@pytest.mark.parametrize("name, kwargs", _GRADCHECKS,
                         ids=[f"{n} {sorted(k)}" for n, k in _GRADCHECKS])
def test_gradcheck_checks_as_torch(name, kwargs):
    # what torch's gradcheck checks besides the backward Jacobian: reentrancy within
    # nondet_tol, backward scaled by the output gradient, forward mode, batched gradients;
    # torch's outcome, exception type and text
    def run(lib):
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        return lib.autograd.gradcheck(_gradcheck_functions(lib)[name], (x,), **kwargs)

    try:
        expected = run(torch)
    except Exception as exc:  # noqa: BLE001 - compared with ember's below
        from tests.helpers import assert_raises_like

        assert_raises_like(exc, lambda: run(ember))
        return
    assert run(ember) is expected


def test_gradgradcheck_keywords_as_torch():
    for lib in (torch, ember):
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        assert lib.autograd.gradgradcheck(lambda v: (v.sin() * v).sum(), (x,),
                                          check_fwd_over_rev=True, check_rev_over_rev=True,
                                          gen_non_contig_grad_outputs=True,
                                          check_batched_grad=True, nondet_tol=0.0)


def _returning(backward, n_numbers: int = 0):
    """A script whose Function's backward returns ``backward(L, g)``; its forward takes one
    tensor and ``n_numbers`` numbers."""
    def fn(L):
        class Fn(L.autograd.Function):
            @staticmethod
            def forward(ctx, a, *numbers):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return backward(L, g)
        Fn.apply(L.ones(3, requires_grad=True), *(2,) * n_numbers).sum().backward()
    return fn


def _dirty(forward, make_input, outputs: int = 1, grad_mode: bool = True):
    """A script whose Function marks dirty what ``forward(ctx, a)`` says."""
    def fn(L):
        class Fn(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                result = forward(ctx, a)
                return result if outputs == 1 else (result,) + (a * 2,) * (outputs - 1)

            @staticmethod
            def backward(ctx, *grads):
                return grads[0]
        with L.set_grad_enabled(grad_mode):
            Fn.apply(make_input(L))
    return fn


def _mark_and_write(ctx, a):
    ctx.mark_dirty(a)
    return a.mul_(3)


def _mark_only(ctx, a):
    ctx.mark_dirty(a)
    return a * 2


FUNCTION_ERRORS = {
    # what backward returned
    "a number": _returning(lambda L, g: 5),
    "a list": _returning(lambda L, g: [g]),
    "an array": _returning(lambda L, g: g.numpy()),
    "a number for the tensor": _returning(lambda L, g: (5, g), 1),
    "a gradient for a number": _returning(lambda L, g: (g, g), 1),
    "a number for a number": _returning(lambda L, g: (g, 5, None), 2),
    "one too many": _returning(lambda L, g: (g, None, g), 1),
    # what forward marked dirty
    "a leaf": _dirty(_mark_and_write, lambda L: L.ones(3, requires_grad=True)),
    "a view of a leaf": _dirty(_mark_and_write, lambda L: L.ones(3, requires_grad=True)[:2]),
    "an unbind output": _dirty(
        _mark_and_write, lambda L: (L.ones(3, 2, requires_grad=True) * 1).unbind(0)[1]),
    "a view, two outputs": _dirty(
        _mark_and_write, lambda L: (L.ones(3, requires_grad=True) * 1)[1:], outputs=2),
    "not returned": _dirty(_mark_only, lambda L: L.ones(3, requires_grad=True) * 1),
    "not returned, no grad": _dirty(_mark_only, lambda L: L.ones(3), grad_mode=False),
}


@pytest.mark.parametrize("name", sorted(FUNCTION_ERRORS))
def test_function_results_are_checked_as_torch_checks_them(name: str) -> None:
    check_raises_like(FUNCTION_ERRORS[name])


def test_dirty_view_rewrites_the_base_history_as_torch() -> None:
    # forward scales a slice of a non-leaf in place: the base's history becomes CopySlices
    # over the Function's node, and the gradient outside the slice passes unscaled
    def fn(L):
        class Scale(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.mark_dirty(a)
                return a.mul_(3)

            @staticmethod
            def backward(ctx, g):
                return g * 3
        x = L.arange(5.0, requires_grad=True)
        base = x * 1
        view = base[1:3]
        out = Scale.apply(view)
        (base * L.arange(5.0)).sum().backward()
        return x.grad.tolist(), base.grad_fn.name(), out is view, out.requires_grad
    assert fn(ember) == fn(torch)


def test_dirty_input_that_is_not_an_input_warns_as_torch() -> None:
    def fn(L):
        class Fn(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                out = a * 2
                ctx.mark_dirty(out)
                return out

            @staticmethod
            def backward(ctx, g):
                return g
        with pytest.warns(UserWarning) as caught:
            out = Fn.apply(L.ones(2, requires_grad=True))
        return str(caught[0].message).split(" (Triggered")[0], out.tolist()
    assert fn(ember) == fn(torch)


def test_instantiating_a_function_warns_and_calling_it_raises_as_torch() -> None:
    def fn(L):
        class Fn(L.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2
        with pytest.warns(DeprecationWarning) as caught:
            instance = Fn()
        message = str(caught[0].message)
        with pytest.raises(RuntimeError) as info:
            instance(L.ones(2))
        return message, str(info.value)
    assert fn(ember) == fn(torch)


def _transform_functions(L):
    class NoSetup(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class NoVmap(L.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Rule(L.autograd.Function):
        seen = []

        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

        @staticmethod
        def vmap(info, in_dims, x, k):
            Rule.seen.append((info.batch_size, info.randomness, in_dims, tuple(x.shape)))
            return x * k + 100, in_dims[0]  # + 100 shows the rule ran, not forward

    class Generated(NoVmap):
        generate_vmap_rule = True

    class Both(Rule):
        generate_vmap_rule = True

    class Reduced(Rule):
        @staticmethod
        def vmap(info, in_dims, x, k):
            return x.sum(0), None

    class BadReturn(Rule):
        @staticmethod
        def vmap(info, in_dims, x, k):
            return x

    return {"NoSetup": NoSetup, "NoVmap": NoVmap, "Rule": Rule, "Generated": Generated,
            "Both": Both, "Reduced": Reduced, "BadReturn": BadReturn}


_UNDER_TRANSFORMS = {
    "vmap without setup_context": lambda L, F: L.func.vmap(F["NoSetup"].apply)(L.ones(3, 2)),
    "grad without setup_context": lambda L, F: L.func.grad(
        lambda x: F["NoSetup"].apply(x).sum())(L.ones(2)),
    "jvp without setup_context": lambda L, F: L.func.jvp(
        F["NoSetup"].apply, (L.ones(2),), (L.ones(2),)),
    "jacrev without setup_context": lambda L, F: L.func.jacrev(F["NoSetup"].apply)(L.ones(2)),
    "functionalize without setup_context": lambda L, F: L.func.functionalize(
        F["NoSetup"].apply)(L.ones(2)),
    "vmap without a rule": lambda L, F: L.func.vmap(F["NoVmap"].apply)(L.ones(3, 2)),
    "vmap without a rule, unbatched": lambda L, F: L.func.vmap(
        lambda x: F["NoVmap"].apply(L.ones(2)) + x)(L.ones(3, 2)),
    "vmap with a rule and a generated one": lambda L, F: L.func.vmap(
        F["Both"].apply, in_dims=(0, None))(L.ones(3, 2), 3.0),
    "vmap rule returning one value": lambda L, F: L.func.vmap(
        F["BadReturn"].apply, in_dims=(0, None))(L.ones(3, 2), 3.0),
}


@pytest.mark.parametrize("name", list(_UNDER_TRANSFORMS))
def test_functions_under_func_transforms_refused_as_torch(name) -> None:
    # NOTE [Functions under torch.func]
    def fn(L):
        return _UNDER_TRANSFORMS[name](L, _transform_functions(L))
    try:
        check_raises_like(fn)
    except AssertionError:  # the message names the class's module: ember for torch
        with pytest.raises(RuntimeError) as e:
            fn(ember)
        with pytest.raises(RuntimeError) as t:
            fn(torch)
        assert str(e.value).replace("ember", "torch") == str(t.value)


@pytest.mark.parametrize("name,call", [
    ("plain call", lambda L, F: F["NoSetup"].apply(L.ones(2))),
    ("generated rule", lambda L, F: L.func.vmap(F["Generated"].apply)(L.arange(6.0).reshape(3, 2))),
    ("vmap rule", lambda L, F: (L.func.vmap(F["Rule"].apply, in_dims=(0, None))(
        L.arange(6.0).reshape(3, 2), 3.0), F["Rule"].seen)),
    ("nested vmap rule", lambda L, F: (L.func.vmap(L.func.vmap(
        F["Rule"].apply, in_dims=(0, None)), in_dims=(0, None))(
        L.arange(12.0).reshape(2, 3, 2), 2.0), F["Rule"].seen)),
    ("vmap rule, randomness", lambda L, F: (L.func.vmap(
        F["Rule"].apply, in_dims=(0, None), randomness="same")(L.ones(2, 2), 3.0),
        F["Rule"].seen)),
    ("vmap rule, unbatched output", lambda L, F: L.func.vmap(
        F["Reduced"].apply, in_dims=(0, None))(L.ones(3, 2), 3.0)),
    ("grad through a rule's function", lambda L, F: L.func.grad(
        lambda x: F["Rule"].apply(x, 2.0).sum())(L.ones(2))),
])
def test_functions_under_func_transforms_as_torch(name, call) -> None:
    def fn(L):
        out = call(L, _transform_functions(L))
        return repr(out).replace("ember", "torch")
    assert fn(ember) == fn(torch)
