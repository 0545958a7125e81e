"""Custom autograd Functions (``ember.autograd.Function``) against torch: the same script
runs on both libraries and must print the same text (values, node names, errors)."""
from __future__ import annotations

import contextlib
import gc
import io
import weakref

import ember
from tests.helpers import torch


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
