"""Hooks on tensors and nodes, saved-tensor hooks and checkpointing, against torch."""
from __future__ import annotations

import contextlib
import io

import ember
from ember.utils.checkpoint import checkpoint as ember_checkpoint
from tests.helpers import assert_same, torch


def printed(fn) -> list:
    out = []
    for lib in (torch, ember):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            fn(lib)
        out.append(buffer.getvalue())
    return out


def test_node_hooks_and_prehooks() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        z = y.exp().sum()
        y.grad_fn.register_prehook(lambda grad_outputs: print("pre", grad_outputs))
        handle = y.grad_fn.register_hook(
            lambda grad_inputs, grad_outputs: print("post", grad_inputs, grad_outputs))
        y.grad_fn.register_hook(lambda gi, go: tuple(g * 2 if g is not None else None
                                                     for g in gi))
        z.backward(retain_graph=True)
        print(x.grad)
        handle.remove()
        x.grad = None
        z.backward()
        print(x.grad)
    t, e = printed(fn)
    assert e == t and "pre" in t and "post" in t


def test_hook_returning_wrong_count() -> None:
    from tests.helpers import check_raises_like

    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y.grad_fn.register_hook(lambda gi, go: (gi[0],) * 3)
        y.sum().backward()
    check_raises_like(fn)


def test_post_accumulate_grad_hook() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda t: print("accumulated", t.grad))
        (x * x).sum().backward()
        (x * 3).sum().backward()
    t, e = printed(fn)
    assert e == t and t.count("accumulated") == 2


def test_saved_tensors_hooks_see_every_saved_tensor() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        with L.autograd.graph.saved_tensors_hooks(
                lambda t: print("pack", tuple(t.shape)) or t * 1,
                lambda t: print("unpack") or t):
            y = (x.exp() * x).sum()
        y.backward()
        print(x.grad)
        with L.autograd.graph.save_on_cpu():
            w = (x.sin() * x).sum()
        w.backward()
        print(x.grad)
    t, e = printed(fn)
    assert e == t and t.count("pack (") == 3


def test_checkpoint_gives_the_same_gradients_and_recomputes() -> None:
    calls = []

    def block(lib):
        def f(a, b):
            calls.append(1)
            return ((a @ b).tanh() * a.sum()).sigmoid()
        return f

    results = []
    for lib, cp in ((torch, torch.utils.checkpoint.checkpoint), (ember, ember_checkpoint)):
        a = lib.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
        b = lib.tensor([[1.5], [-0.7]], requires_grad=True)
        calls.clear()
        out = cp(block(lib), a, b, use_reentrant=False)
        assert len(calls) == 1
        out.sum().backward()
        assert len(calls) == 2  # the forward ran again during backward
        results.append((out, a.grad, b.grad))
    for t, e in zip(*results):
        assert_same(e, t)


def test_every_hook_handle_is_torchs_removable_handle():
    # tensors, autograd nodes, modules and optimizers return one handle class, found where
    # torch's is (ember.utils.hooks, reachable after a plain import, as ember.utils.checkpoint)
    names, runs = {}, {}
    for lib in (torch, ember):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        lin = lib.nn.Linear(2, 2)
        opt = lib.optim.SGD(lin.parameters(), lr=0.1)
        calls = []

        def hook(g, calls=calls):
            calls.append(1)

        handles = [x.register_hook(hook), x.register_hook(hook), y.register_hook(hook),
                   y.grad_fn.register_hook(lambda gi, go: None),
                   y.grad_fn.register_prehook(lambda go: None),
                   x.register_post_accumulate_grad_hook(lambda t: None),
                   lin.register_forward_hook(lambda *a: None),
                   opt.register_step_pre_hook(lambda *a: None)]
        names[lib] = {f"{type(h).__module__}.{type(h).__qualname__}".split(".", 1)[1]
                      for h in handles}
        assert all(isinstance(h, lib.utils.hooks.RemovableHandle) for h in handles)
        assert callable(lib.utils.checkpoint.checkpoint)
        handles[0].remove()  # one of the two registrations of one function
        handles[0].remove()  # twice: nothing more
        with handles[2]:
            pass  # a context manager removes on exit
        y.sum().backward()
        runs[lib] = (len(calls), x.grad.tolist())
    assert names[ember] == names[torch] == {"utils.hooks.RemovableHandle"}
    assert runs[ember] == runs[torch] == (1, [2.0, 2.0])


def test_utils_submodules_resolve_after_a_plain_import():
    # torch.utils.checkpoint.checkpoint(...) works after `import torch` alone
    import subprocess
    import sys

    code = ("import ember; print(ember.utils.checkpoint.checkpoint.__name__, "
            "ember.utils.hooks.RemovableHandle.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["checkpoint", "RemovableHandle"]
