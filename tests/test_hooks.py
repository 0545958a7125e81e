"""Hooks on tensors and nodes, saved-tensor hooks and checkpointing, against torch."""
from __future__ import annotations

import contextlib
import functools
import io

import pytest

import ember
from ember.utils.checkpoint import checkpoint as ember_checkpoint
from tests.helpers import assert_same, check_raises_like, torch


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


def _grads(gs) -> list:
    return [None if g is None else g.tolist() for g in gs]


def test_multi_grad_hook_all_and_any() -> None:
    # "all" waits for every gradient the pass computes (None for tensors it does not
    # reach or need), once per pass; "any" takes the first one; remove() takes both out
    def fn(L):
        G = L.autograd.graph
        a = L.tensor([1.0, 2.0], requires_grad=True)
        b = L.tensor([3.0, 4.0], requires_grad=True)
        h = G.register_multi_grad_hook((a, b), lambda gs: print("all", _grads(gs)))
        print(type(h).__name__)
        (a * 2).sum().backward()
        (a * b).sum().backward()
        c, d = a * 3, b * 4
        h2 = G.register_multi_grad_hook((c, d), lambda gs: print("non-leaf", _grads(gs)))
        (c + d).sum().backward(retain_graph=True)
        c.sum().backward(retain_graph=True)
        print(L.autograd.grad((c * d).sum(), [c], retain_graph=True))
        (c * d).sum().backward(inputs=[a], retain_graph=True)
        h.remove()
        h2.remove()
        (a * b).sum().backward()
        h3 = G.register_multi_grad_hook((b,), lambda g: print("any", g.tolist()), mode="any")
        (a * b).sum().backward()
        (b * 2).sum().backward()
        h3.remove()
        e = a * 1
        e.register_hook(lambda g: print("tensor hook first"))
        G.register_multi_grad_hook((e,), lambda gs: print("single", _grads(gs)))
        (e * 5).sum().backward()

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs


def test_multi_grad_hook_errors() -> None:
    for make in (lambda L: L.autograd.graph.register_multi_grad_hook(
                     (L.ones(2, requires_grad=True),), print, mode="some"),
                 lambda L: L.autograd.graph.register_multi_grad_hook(
                     (L.ones(2, requires_grad=True), L.ones(2)), print)):
        check_raises_like(make)


def test_hooks_of_nodes_no_wanted_gradient_needs_do_not_run() -> None:
    # autograd.grad and backward(inputs=) run only the nodes on the way to the inputs; the
    # others' tensor hooks are not called
    def fn(L):
        a = L.tensor([1.0, 2.0], requires_grad=True)
        b = L.tensor([3.0, 4.0], requires_grad=True)
        c, d = a * 3, b * 4
        d.register_hook(lambda g: print("d", g.tolist()))
        c.register_hook(lambda g: print("c", g.tolist()))
        b.register_hook(lambda g: print("b", g.tolist()))
        print(L.autograd.grad((c * d).sum(), [a], retain_graph=True))
        print(L.autograd.grad((c * d).sum(), [c], retain_graph=True))
        (c * d).sum().backward(inputs=[a])
        print(a.grad, b.grad)

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs


def test_gradient_edges_stand_for_tensors() -> None:
    def fn(L):
        G = L.autograd.graph
        a = L.ones(2, requires_grad=True)
        b = a * 2
        e = G.get_gradient_edge(b)
        print(type(e).__name__, e._fields, type(e.node).__name__, e.output_nr)
        print(type(G.get_gradient_edge(a).node).__name__)
        print(G.get_gradient_edge(L.ones(3, requires_grad=True).split(1)[2]).output_nr)
        c = b.sum()
        print(L.autograd.grad(c, e, retain_graph=True))
        print(L.autograd.grad(c, [e, a], retain_graph=True))
        print(L.autograd.grad(G.GradientEdge(c.grad_fn, 0), [a],
                               grad_outputs=[L.tensor(2.0)], retain_graph=True))
        (b * 3).sum().backward(inputs=[e])
        print(a.grad)

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs
    check_raises_like(lambda L: L.autograd.graph.get_gradient_edge(L.ones(2)))


def test_increment_version() -> None:
    def fn(L):
        t = L.ones(2)
        L.autograd.graph.increment_version(t)
        L.autograd.graph.increment_version((t, t))
        print(t._version)

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs
    check_raises_like(lambda L: L.autograd.graph.increment_version(3))
    check_raises_like(lambda L: L.autograd.graph.increment_version([3]))


def test_disable_saved_tensors_hooks() -> None:
    def hooks(L):
        return L.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: x)

    def inside(L):
        with L.autograd.graph.disable_saved_tensors_hooks("outer"):
            with L.autograd.graph.disable_saved_tensors_hooks("inner"):
                pass
            with hooks(L):
                pass

    def nested(L):
        with hooks(L), L.autograd.graph.disable_saved_tensors_hooks("while active"):
            pass

    def decorated(L):
        @L.autograd.graph.disable_saved_tensors_hooks("decorated")
        def f():
            with hooks(L):
                pass
        f()

    for fn in (inside, nested, decorated):
        check_raises_like(fn)
    for lib in (torch, ember):  # usable again afterwards
        with hooks(lib):
            pass


def _dropped(L, t):
    return L.nn.functional.dropout(t * 2)


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("preserve", [True, False])
def test_checkpoint_recomputes_with_the_forwards_random_draws(use_reentrant, preserve) -> None:
    # the recomputation draws dropout's mask again from the forward's generator state, so the
    # gradient is the forward's mask (times 2 / keep); the caller's generator is left as the
    # forward left it. Without preserve_rng_state the recomputation draws on.
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        x = lib.randn(40, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(lambda t, L=lib: _dropped(L, t), x,
                                            use_reentrant=use_reentrant,
                                            preserve_rng_state=preserve)
        y.sum().backward()
        results.append((y.detach(), x.grad, y.grad_fn.name(), lib.rand(3)))
    (ty, tg, tn, tr), (ey, eg, en, er) = results
    assert_same(ey, ty)
    assert_same(eg, tg)
    assert_same(er, tr)
    assert en == tn
    if preserve:
        assert ((eg != 0) == (ey != 0)).all()


def test_checkpoint_without_use_reentrant_warns_and_is_reentrant() -> None:
    names, messages = [], []
    for lib in (torch, ember):
        x = lib.ones(2, requires_grad=True)
        with pytest.warns(UserWarning) as record:
            y = lib.utils.checkpoint.checkpoint(lambda t: t * 2, x)
        names.append(y.grad_fn.name())
        messages.append([str(w.message) for w in record])
    assert names[0] == names[1] == "CheckpointFunctionBackward"
    assert messages[0] == messages[1]


def _varying(first, second):
    calls = []

    def f(t):
        calls.append(1)
        return first(t) if len(calls) == 1 else second(t)
    return f


CHECKPOINT_ERRORS = {
    "reentrant-keywords": lambda L, C, x: C.checkpoint(lambda t: t * 2, x, use_reentrant=True,
                                                       foo=1),
    "reentrant-debug": lambda L, C, x: C.checkpoint(lambda t: t * 2, x, use_reentrant=True,
                                                    debug=True),
    "reentrant-grad": lambda L, C, x: L.autograd.grad(
        C.checkpoint(lambda t: t * 2, x, use_reentrant=True).sum(), x),
    "determinism-check-value": lambda L, C, x: C.checkpoint(
        lambda t: t, x, use_reentrant=False, determinism_check="sometimes"),
    "fewer-saved": lambda L, C, x: C.checkpoint(
        _varying(lambda t: t.exp().exp(), lambda t: t.exp() * 1), x,
        use_reentrant=False).sum().backward(),
    "other-shape": lambda L, C, x: C.checkpoint(
        _varying(lambda t: t.exp(), lambda t: t[:2].exp()), x,
        use_reentrant=False).sum().backward(),
    "more-saved-without-early-stop": lambda L, C, x: _no_early_stop(C, lambda: C.checkpoint(
        _varying(lambda t: t.exp(), lambda t: t.exp().exp()), x,
        use_reentrant=False).sum().backward()),
    "sequential-keywords": lambda L, C, x: C.checkpoint_sequential(
        L.nn.Sequential(L.nn.Tanh()), 1, x, use_reentrant=False, foo=3),
    "detach-list": lambda L, C, x: C.detach_variable([x]),
}


def _no_early_stop(C, fn):
    with C.set_checkpoint_early_stop(False):
        fn()


@pytest.mark.parametrize("name", sorted(CHECKPOINT_ERRORS))
def test_checkpoint_errors_match_torch(name: str) -> None:
    check_raises_like(lambda L: CHECKPOINT_ERRORS[name](
        L, L.utils.checkpoint, L.tensor([0.5, -1.0, 2.0], requires_grad=True)))


def test_checkpoint_early_stop_and_unchecked_metadata() -> None:
    # with early stop a recomputation that would save more stops in time; with
    # determinism_check="none" a different dtype is not checked
    def fn(L):
        C = L.utils.checkpoint
        x = L.tensor([0.5, -1.0, 2.0], requires_grad=True)
        C.checkpoint(_varying(lambda t: t.exp(), lambda t: t.exp().exp()), x,
                     use_reentrant=False).sum().backward()
        print(x.grad)
        x.grad = None
        C.checkpoint(_varying(lambda t: t.exp(), lambda t: t.double().exp()), x,
                     use_reentrant=False, determinism_check="none").sum().backward()
        print(x.grad)

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs


def test_checkpoint_context_fn_and_keywords() -> None:
    def fn(L):
        C = L.utils.checkpoint
        x = L.tensor([0.5, -1.0, 2.0], requires_grad=True)

        def contexts():
            @contextlib.contextmanager
            def say(name):
                print(name, "in")
                yield
                print(name, "out")
            return say("forward"), say("recompute")

        y = C.checkpoint(lambda t, s: t.sin() * s, x, use_reentrant=False,
                         context_fn=contexts, s=3.0)
        y.sum().backward()
        print(x.grad)

    ours, theirs = printed(fn)[::-1]
    assert ours == theirs


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_sequential_matches_torch(use_reentrant) -> None:
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        nn = lib.nn
        model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3), nn.Dropout(),
                              nn.Linear(3, 1))
        x = lib.randn(4, 3, requires_grad=True)
        out = lib.utils.checkpoint.checkpoint_sequential(model, 2, x,
                                                         use_reentrant=use_reentrant)
        out.sum().backward()
        five = lib.utils.checkpoint.checkpoint_sequential(list(model.children()), 5, x,
                                                          use_reentrant=use_reentrant)
        results.append((out.detach(), x.grad, model[0].weight.grad, five.detach()))
    for t, e in zip(*results):
        assert_same(e, t)


class _Callable:
    def __call__(self, grad):
        return grad[:1]


class _NotATensor:
    pass


def _tensor_hook_case(returned, leaf: bool = False):
    def fn(L):
        x = L.ones(3, requires_grad=True)
        y = x * 2
        (x if leaf else y).register_hook(lambda g: returned(L, g))
        y.sum().backward()
    return fn


# What a hook returned in place of a gradient: torch accepts only None or a tensor of the
# gradient's dtype and size (a node hook: a tuple of as many), and says which hook broke it.
HOOK_RESULT_ERRORS = {
    "size": _tensor_hook_case(lambda L, g: g[:2]),
    "size of a leaf's": _tensor_hook_case(lambda L, g: g[:2], leaf=True),
    "dtype": _tensor_hook_case(lambda L, g: g.double()),
    "dtype of a leaf's": _tensor_hook_case(lambda L, g: g.double(), leaf=True),
    "dtype and size": _tensor_hook_case(lambda L, g: g[:2].long()),
    "bfloat16": _tensor_hook_case(lambda L, g: g.bfloat16()),
    "complex": _tensor_hook_case(lambda L, g: g.to(L.complex64)),
    "bool": _tensor_hook_case(lambda L, g: g.bool()),
    "uint8": _tensor_hook_case(lambda L, g: g.to(L.uint8)),
    "an int": _tensor_hook_case(lambda L, g: 5),
    "an array": _tensor_hook_case(lambda L, g: g.detach().numpy()),
    "a NumPy scalar": _tensor_hook_case(lambda L, g: g.detach().numpy()[0]),
    "an object": _tensor_hook_case(lambda L, g: _NotATensor()),
}


def _node_hook_case(kind: str, returned):
    def fn(L):
        x = L.ones(3, requires_grad=True)
        y = x * 2
        if kind == "pre":
            y.grad_fn.register_prehook(lambda go: returned(L, go))
        elif kind == "post":
            y.grad_fn.register_hook(lambda gi, go: returned(L, gi))
        else:  # the leaf's AccumulateGrad node
            y.grad_fn.next_functions[0][0].register_prehook(lambda go: returned(L, go))
        y.sum().backward()
    return fn


HOOK_RESULT_ERRORS.update({
    "prehook list": _node_hook_case("pre", lambda L, go: list(go)),
    "prehook size": _node_hook_case("pre", lambda L, go: (go[0][:2],)),
    "prehook count": _node_hook_case("pre", lambda L, go: go * 2),
    "prehook int": _node_hook_case("pre", lambda L, go: (5,)),
    "accumulator prehook size": _node_hook_case("acc", lambda L, go: (go[0][:2],)),
    "posthook list": _node_hook_case("post", lambda L, gi: [gi[0] * 2, None]),
    "posthook dtype": _node_hook_case("post", lambda L, gi: (gi[0].double(), None)),
    # the number 2 of ``x * 2`` has no gradient to replace
    "posthook replaces None": _node_hook_case("post", lambda L, gi: (gi[0], gi[0])),
    "posthook int": _node_hook_case("post", lambda L, gi: 5),
})


def _size_change_hook(g):
    return g[:1]


def _hook_named(hook):
    def fn(L):
        x = L.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(hook)
        y.sum().backward()
    return fn


HOOK_RESULT_ERRORS.update({
    "a function's name": _hook_named(_size_change_hook),
    "a partial": _hook_named(functools.partial(_size_change_hook)),
    "a callable object": _hook_named(_Callable()),
})


def _post_accumulate_returning(returned):
    def fn(L):
        x = L.ones(3, requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda p: returned(L, p))
        (x * 2).sum().backward()
    return fn


HOOK_RESULT_ERRORS.update({
    "post-accumulate tensor": _post_accumulate_returning(lambda L, p: p.grad.mul_(3)),
    "post-accumulate int": _post_accumulate_returning(lambda L, p: 5),
})


@pytest.mark.parametrize("name", sorted(HOOK_RESULT_ERRORS))
def test_hook_results_are_checked_as_torch_checks_them(name: str) -> None:
    check_raises_like(HOOK_RESULT_ERRORS[name])


def test_hook_results_torch_accepts() -> None:
    # a replacement of the same dtype and size in another layout, a node hook's None, a
    # tensor that requires grad: the gradients are torch's
    def fn(L):
        x = L.ones(2, 3, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: L.arange(6.0).reshape(3, 2).t())
        w = L.ones(3, requires_grad=True)
        z = w * 3
        z.register_hook(lambda g: L.full((3,), 4.0, requires_grad=True))
        v = L.ones(3, requires_grad=True)
        u = v * 5
        u.grad_fn.register_hook(lambda gi, go: (None, None))
        (y.sum() + z.sum() + u.sum()).backward()
        return x.grad, x.grad.stride(), w.grad, v.grad
    t, e = fn(torch), fn(ember)
    assert_same(e[0], t[0])
    assert e[1] == t[1]
    assert_same(e[2], t[2])
    assert e[3] is None and t[3] is None


def test_raw_saved_tensors_take_hooks_as_torch() -> None:
    # torch's saved-tensor hooks tutorial: pack runs at once, unpack when backward reads
    def fn(L):
        calls = []

        def pack(t):
            calls.append(("pack", t.tolist()))
            return t.tolist()

        def unpack(p):
            calls.append(("unpack", p))
            return L.tensor(p) * 2

        x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x.pow(2)
        y.grad_fn._raw_saved_self.register_hooks(pack, unpack)
        calls.append("registered")
        y.sum().backward()
        e = x.exp()
        e.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t * 0 + 1)
        e.sum().backward()
        m = x * 2  # a saved number goes through the hooks as a 0-d tensor
        m.grad_fn._raw_saved_other.register_hooks(lambda t: calls.append(t.tolist()) or t,
                                                  lambda t: t * 10)
        m.sum().backward()
        c = x.clone()
        p = c.pow(2)
        p.grad_fn._raw_saved_self.register_hooks(lambda t: t, lambda t: t)
        c.mul_(2)  # the hooks own the saved value: no version error
        p.sum().backward()
        return calls, x.grad.tolist(), type(y.grad_fn._raw_saved_self).__name__
    assert fn(ember) == fn(torch)


def _raw(L, after_backward: bool = False, twice: bool = False, unused: bool = False,
         under_hooks: bool = False):
    x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
    if under_hooks:
        with L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            y = x.pow(2)
    else:
        y = x * 2 if unused else x.pow(2)
    raw = y.grad_fn._raw_saved_self
    if after_backward:
        y.sum().backward()
    raw.register_hooks(lambda t: t, lambda t: t)
    if twice:
        raw.register_hooks(lambda t: t, lambda t: t)


@pytest.mark.parametrize("case", ["after_backward", "twice", "unused", "under_hooks"])
def test_raw_saved_tensor_refusals_as_torch(case: str) -> None:
    check_raises_like(lambda L: _raw(L, **{case: True}))
