"""The engine and the autograd surface of the core, compared with torch."""
from __future__ import annotations

import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch


def both(fn):
    """fn(lib) for torch and ember."""
    return fn(torch), fn(ember)


# ---- gradients through small graphs ----------------------------------------------------


def test_diamond_graph_gradients() -> None:
    def fn(L):
        x = L.tensor([0.5, -1.5, 2.0], requires_grad=True)
        a = x.sin()
        b = x * x
        c = (a * b + a / (b + 1)).sum()
        c.backward()
        return x.grad
    t, e = both(fn)
    assert_same(e, t)


def test_accumulation_and_zeroing() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        out = []
        for _ in range(3):
            (x ** 2).sum().backward()
            out.append(x.grad.clone())
        x.grad.zero_()
        (x * 3).sum().backward()
        out.append(x.grad)
        x.grad = None
        (x * 4).sum().backward()
        out.append(x.grad)
        return out
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_grads_are_independent_tensors() -> None:
    # The same gradient flows to two leaves; zeroing one must not zero the other.
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0]


def test_broadcast_gradients_reduce_to_input_shapes() -> None:
    def fn(L):
        a = L.tensor([[1.0], [2.0]], requires_grad=True)
        b = L.tensor([3.0, 4.0, 5.0], requires_grad=True)
        c = L.tensor(2.0, dtype=L.float64, requires_grad=True)
        (a * b * c).backward(L.tensor([[1.0, -1.0, 2.0], [0.5, 0.0, 1.0]]))
        return a.grad, b.grad, c.grad
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_next_functions_and_names_match_torch() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 3).sin().sum()
        names = []
        node = y.grad_fn
        while node is not None:
            names.append(node.name())
            nxt = [f for f, _ in node.next_functions if f is not None]
            names.append(len(node.next_functions))
            node = nxt[0] if nxt else None
        return names
    t, e = both(fn)
    assert e == t
    x = ember.tensor(1.0, requires_grad=True)
    y = x * 2
    assert y.grad_fn.next_functions[0][0].variable is x
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    assert type(y.grad_fn).__name__ == "MulBackward0"


def test_saved_output_node_name_and_value() -> None:
    def fn(L):
        x = L.tensor([0.3, -0.2], requires_grad=True)
        y = x.exp().sigmoid().tanh().sqrt()
        y.sum().backward()
        return y, x.grad
    for t, e in zip(*both(fn)):
        assert_same(e, t)


# ---- errors, compared with torch's own messages ----------------------------------------


def test_second_backward_raises_and_retain_graph_allows() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        y.backward()
    check_raises_like(fn)

    def retained(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad
    t, e = both(retained)
    assert_same(e, t)


def test_second_backward_through_graph_without_saved_tensors() -> None:
    # torch allows it when no node saved anything (add, sum): so must ember.
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = (x + 1).sum()
        y.backward()
        y.backward()
        return x.grad
    t, e = both(fn)
    assert_same(e, t)


@pytest.mark.parametrize("fn", [
    lambda L: L.tensor([1.0, 2.0], requires_grad=True).mul(2).backward(),
    lambda L: L.tensor([1.0, 2.0]).sum().backward(),
    lambda L: L.tensor([1, 2], requires_grad=True),
    lambda L: L.tensor([1, 2]).requires_grad_(),
    lambda L: L.tensor([1.0], requires_grad=True).mul(2).requires_grad_(False),
    lambda L: L.tensor([1.0], requires_grad=True).mul(2).backward(L.tensor([1.0, 2.0])),
    lambda L: L.tensor([1.0]).retain_grad(),
    lambda L: L.tensor([1.0]).register_hook(print),
    lambda L: setattr(L.tensor([1.0, 2.0], requires_grad=True), "grad", L.tensor([1.0])),
    lambda L: L.tensor([1.0], requires_grad=True).numpy(),
    lambda L: L.tensor([1.0], requires_grad=True).zero_(),
    lambda L: L.autograd.grad(L.tensor([1.0], requires_grad=True).sum(),
                              L.tensor([1.0], requires_grad=True)),
    lambda L: L.autograd.grad(L.tensor([1.0], requires_grad=True).sum(), L.tensor([1.0])),
], ids=["implicit-nonscalar", "no-grad-root", "int-requires-grad", "int-requires-grad_",
        "nonleaf-requires-grad-false", "gradient-shape", "retain-grad-no-grad", "hook-no-grad",
        "grad-size", "numpy-requires-grad", "inplace-leaf", "unused-input",
        "input-without-grad"])
def test_errors_match_torch(fn) -> None:
    check_raises_like(fn)


def test_inplace_modified_saved_tensor() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        a = x * 2
        b = (a * a).sum()
        a.zero_()
        b.backward()
    check_raises_like(fn)

    def output_modified(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        a = x.exp()  # ExpBackward0 saves its output, which zero_ then overwrites
        a.zero_()
        a.sum().backward()
    check_raises_like(output_modified)


def test_nonleaf_grad_warning() -> None:
    x = torch.tensor([1.0], requires_grad=True) * 2
    with warnings.catch_warnings(record=True) as t_w:
        warnings.simplefilter("always")
        assert x.grad is None
    y = ember.tensor([1.0], requires_grad=True) * 2
    with warnings.catch_warnings(record=True) as e_w:
        warnings.simplefilter("always")
        assert y.grad is None
    assert e_w[0].category is t_w[0].category is UserWarning
    torch_text = str(t_w[0].message).split(" (Triggered internally")[0]
    assert str(e_w[0].message) == torch_text


# ---- retain_grad, hooks, detach --------------------------------------------------------


def test_retain_grad_and_hooks() -> None:
    def fn(L):
        seen = []
        x = L.tensor([1.0, -2.0], requires_grad=True)
        a = x * 3
        a.retain_grad()
        a.register_hook(lambda g: seen.append(g.clone()))
        b = a.tanh()
        b.register_hook(lambda g: g * 2)
        x.register_hook(lambda g: seen.append(g.clone()))
        b.sum().backward()
        return [a.grad, x.grad, *seen, L.tensor(float(a.retains_grad))]
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_hook_handle_remove() -> None:
    def fn(L):
        x = L.tensor([1.0], requires_grad=True)
        h = x.register_hook(lambda g: g * 10)
        (x * 2).sum().backward()
        h.remove()
        (x * 2).sum().backward()
        return x.grad
    t, e = both(fn)
    assert_same(e, t)


def test_detach_shares_data_and_version() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    d.zero_()
    assert x.tolist() == [0.0, 0.0]
    assert x._vc is d._vc and x._version == d._version == 1
    y = x * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad


def test_views_share_version_counter() -> None:
    x = ember.zeros(2, 3)
    v = x.view(6)
    t = x.t()
    assert v._vc is x._vc is t._vc
    v.fill_(1.0)
    assert x._version == 1 and x.sum().item() == 6.0
    assert v._base is x and t._base is x


# ---- create_graph, autograd.grad, backward(inputs=...) ---------------------------------


def test_higher_order_derivatives() -> None:
    def fn(L):
        x = L.tensor([0.7, -1.3], dtype=L.float64, requires_grad=True)
        y = (x.sin() * x ** 3).sum()
        (g1,) = L.autograd.grad(y, x, create_graph=True)
        (g2,) = L.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = L.autograd.grad(g2.sum(), x)
        return g1, g2, g3
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_create_graph_backward_keeps_graph_in_grad() -> None:
    def fn(L):
        x = L.tensor([1.5], requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        (g2,) = L.autograd.grad(g.sum(), x)
        return g, g2
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_grad_allow_unused_and_nonleaf_inputs() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        z = L.tensor([3.0], requires_grad=True)
        a = x * 2
        y = (a * a).sum()
        ga, gx, gz = L.autograd.grad(y, [a, x, z], allow_unused=True)
        assert gz is None
        (m,) = L.autograd.grad((x * 0).sum() + z.sum(), [x], materialize_grads=True)
        return ga, gx, m
    for t, e in zip(*both(fn)):
        assert_same(e, t)


def test_backward_inputs_only_accumulates_there() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        w = L.tensor([3.0, 4.0], requires_grad=True)
        (x * w).sum().backward(inputs=[w])
        return x.grad, w.grad
    (tx, tw), (ex, ew) = both(fn)
    assert tx is None and ex is None
    assert_same(ew, tw)


def test_several_roots() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        a = x.exp()
        b = x * 5
        L.autograd.backward([a, b], [L.tensor([1.0, 0.5]), L.tensor([2.0, -1.0])])
        return x.grad
    t, e = both(fn)
    assert_same(e, t)


# ---- scale and memory -------------------------------------------------------------------


def test_million_op_chain_backpropagates() -> None:
    x = ember.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a million-node chain must not overflow the stack either


def test_graph_is_freed_without_gc() -> None:
    gc.collect()
    gc.disable()
    try:
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        a = x * 2
        y = (a.sin() * a).sum()
        nodes = [weakref.ref(y.grad_fn), weakref.ref(a.grad_fn)]
        saved = weakref.ref(a)
        y.backward()
        del a
        assert saved() is None, "backward must release the saved intermediate"
        del y
        # no reference cycles: plain reference counting frees the whole graph
        assert all(n() is None for n in nodes)
    finally:
        gc.enable()


def test_graph_is_freed_after_del_without_backward() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sigmoid().sum()
    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


# ---- grad modes -------------------------------------------------------------------------


def test_grad_modes() -> None:
    x = ember.tensor([1.0], requires_grad=True)
    with ember.no_grad():
        assert not (x * 2).requires_grad
        with ember.enable_grad():
            assert (x * 2).requires_grad
    with ember.set_grad_enabled(False):
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    assert not ember.is_grad_enabled()
    ember.set_grad_enabled(True)
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not ember.is_inference_mode_enabled()

    @ember.no_grad()
    def f(t):
        return t * 2

    @ember.inference_mode
    def g(t):
        return t * 2

    @ember.enable_grad()
    def h(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    with ember.no_grad():
        assert h(x).requires_grad
    assert ember.is_grad_enabled()


def test_grad_mode_is_thread_local() -> None:
    seen = []
    started = threading.Event()
    release = threading.Event()

    def worker():
        started.set()
        release.wait(5)
        seen.append(ember.is_grad_enabled())

    with ember.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        started.wait(5)
        release.set()
        th.join(5)
        assert not ember.is_grad_enabled()
    assert seen == [True]


def test_gradcheck_detects_a_wrong_gradient() -> None:
    x = ember.tensor(np.linspace(0.1, 0.9, 4), requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: (t * t).exp(), (x,))

    def wrong(t):
        return ember.where(t > 2.0, t, t.detach() * t.detach()) + t * 0
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        ember.autograd.gradcheck(wrong, (x,))


def test_anomaly_detection_names_the_node_and_its_forward_call() -> None:
    def fn(L):
        x = L.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            with L.autograd.detect_anomaly():
                y = (x.log() * 0).sum()  # the forward call the warning must point at
                with pytest.raises(RuntimeError) as info:
                    y.backward()
        texts = [str(w.message).split(" (Triggered internally")[0] for w in caught
                 if w.category is UserWarning]
        return str(info.value), texts, L.is_anomaly_enabled()
    t, e = both(fn)
    assert e == t
    assert "LogBackward0" in t[0] and "x.log()" in t[1][-1]


def test_set_detect_anomaly() -> None:
    for lib in (torch, ember):
        lib.autograd.set_detect_anomaly(True)
        assert lib.is_anomaly_enabled()
        with lib.autograd.set_detect_anomaly(False):
            assert not lib.is_anomaly_enabled()
        assert lib.is_anomaly_enabled()
        lib.autograd.set_detect_anomaly(False)
        assert not lib.is_anomaly_enabled()


def test_saved_attributes_like_torch() -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        w = L.tensor([[1.0], [3.0]])
        y = x ** 3
        z = x.exp()
        p = L.mm(x.reshape(1, 2), w)
        out = [y.grad_fn._saved_self is x, y.grad_fn._saved_exponent, z.grad_fn._saved_result,
               p.grad_fn._saved_self, p.grad_fn._saved_mat2 is not None]
        z.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            _ = z.grad_fn._saved_result
        with pytest.raises(AttributeError):
            _ = z.grad_fn._saved_nothing
        return out
    t, e = both(fn)
    assert e[:2] == t[:2] and e[3] is None and t[3] is None and e[4] == t[4]
    assert_same(e[2], t[2])


def _gradient_penalty_step(L, w, x):
    out = (x @ w).tanh().sum()
    (g,) = L.autograd.grad(out, x, create_graph=True)
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    return penalty


def test_gradient_penalty_matches_torch() -> None:
    rng = np.random.default_rng(0)
    w0, x0 = rng.normal(size=(4, 3)), rng.normal(size=(8, 4))
    results = []
    for L in (torch, ember):
        w = L.tensor(w0, requires_grad=True)
        x = L.tensor(x0, requires_grad=True)
        results.append((_gradient_penalty_step(L, w, x), w.grad, x.grad))
    for t, e in zip(*results):
        assert_same(e, t)


def test_create_graph_loop_keeps_memory_flat() -> None:
    import tracemalloc

    rng = np.random.default_rng(0)
    w = ember.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    x = ember.tensor(rng.normal(size=(8, 4)), requires_grad=True)

    def step():
        _gradient_penalty_step(ember, w, x)
        w.grad = None
        x.grad = None

    gc.collect()
    gc.disable()  # reference counting alone must free every iteration's graphs
    tracemalloc.start()
    try:
        for _ in range(1200):  # let allocator and promotion caches reach their plateau
            step()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            step()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert after - before < 50_000, f"memory grew by {after - before} bytes over 1000 steps"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "complex64"])
def test_broadcast_gradient_sums_match_torch_and_the_recorded_sums(dtype) -> None:
    # NOTE [Direct gradient sums]: outside create_graph the engine sums a broadcast gradient
    # with the sum's own forward; under a profiler the sum and view ops run and are listed.
    # Both give torch's values and the same bits as each other.
    rng = np.random.default_rng(5)
    shapes = [(), (1, 4), (3, 1), (4,), (2, 3, 4)]
    values = [rng.standard_normal(s) * 3 for s in shapes]
    cot = rng.standard_normal((2, 3, 4))
    if dtype == "complex64":
        values = [v + 1j * rng.standard_normal(v.shape) for v in values]
        cot = cot + 1j * rng.standard_normal(cot.shape)

    def grads(L):
        leaves = [L.tensor(v, dtype=getattr(L, dtype), requires_grad=True) for v in values]
        out = leaves[0]
        for leaf in leaves[1:]:
            out = out * leaf
        out.backward(L.tensor(cot, dtype=getattr(L, dtype)))
        return [leaf.grad for leaf in leaves]

    direct = grads(ember)
    with ember.profiler.profile() as prof:
        recorded = grads(ember)
    assert "aten::sum" in {e.name for e in prof.events()}
    for d, r, t in zip(direct, recorded, grads(torch)):
        assert_same(d, t)
        assert d._data.tobytes() == r._data.tobytes()
        assert d.dtype == r.dtype and tuple(d.shape) == tuple(r.shape)


IS_GRADS_BATCHED_CASES = {
    "eye": lambda L, x: L.autograd.grad(x ** 2, x, L.eye(3), is_grads_batched=True),
    "scalar-output": lambda L, x: L.autograd.grad((x * x).sum(), x, L.tensor([1.0, 2.0]),
                                                  is_grads_batched=True),
    "two-outputs": lambda L, x: L.autograd.grad(
        [x * 2, x.sum()], x, [L.ones(2, 3), L.tensor([1.0, 5.0])], is_grads_batched=True),
    "create-graph": lambda L, x: L.autograd.grad(x.exp(), x, L.eye(3), is_grads_batched=True,
                                                 create_graph=True),
    "unused": lambda L, x: L.autograd.grad(
        x * 2, [x, L.ones(1, requires_grad=True)], L.eye(3), is_grads_batched=True,
        allow_unused=True),
    "materialized": lambda L, x: L.autograd.grad(
        x * 2, [x, L.ones(1, requires_grad=True)], L.eye(3), is_grads_batched=True,
        materialize_grads=True),
}


@pytest.mark.parametrize("name", sorted(IS_GRADS_BATCHED_CASES))
def test_is_grads_batched_matches_torch(name: str) -> None:
    # each row of grad_outputs seeds its own backward, in one vmapped pass
    fn = IS_GRADS_BATCHED_CASES[name]
    results = [fn(lib, lib.tensor([1.0, 2.0, 3.0], requires_grad=True)) for lib in (torch, ember)]
    assert len(results[0]) == len(results[1])
    for t, e in zip(*results):
        if t is None:
            assert e is None
        else:
            assert_same(e.detach(), t.detach())
            assert e.requires_grad == t.requires_grad


@pytest.mark.parametrize("seed", ["unbatched", "none", "unused"])
def test_is_grads_batched_errors_match_torch(seed: str) -> None:
    def fn(L):
        x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        if seed == "unused":
            return L.autograd.grad(x * 2, [x, L.ones(1, requires_grad=True)], L.eye(3),
                                   is_grads_batched=True)
        return L.autograd.grad(x ** 2, x, L.ones(3) if seed == "unbatched" else None,
                               is_grads_batched=True)
    check_raises_like(fn)


def test_only_inputs_false_warns_as_torch() -> None:
    messages = []
    for lib in (torch, ember):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.warns(FutureWarning) as record:
            g = lib.autograd.grad(x ** 2, x, lib.ones(2), only_inputs=False)
        assert g[0].tolist() == [2.0, 4.0]
        messages.append([str(w.message) for w in record])
    assert messages[0] == messages[1]


def _leaf3(L):
    return L.ones(3, requires_grad=True)


# torch checks backward's and grad's arguments pair by pair (a given gradient's shape and
# whether it is complex as the output is, an implicit one only for an output that requires
# grad), then their count (extra gradients are dropped), then that the outputs require grad
ENTRY_ERRORS = {
    "grad without inputs": lambda L: L.autograd.grad(_leaf3(L).sum(), []),
    "grad without inputs, outputs without grad": lambda L: L.autograd.grad(L.ones(2).sum(), []),
    "grad, too few gradients": lambda L: L.autograd.grad(
        [_leaf3(L).sum(), _leaf3(L).sum()], _leaf3(L), grad_outputs=[L.tensor(1.0)]),
    "grad, an empty list of gradients": lambda L: L.autograd.grad(
        _leaf3(L).sum(), _leaf3(L), grad_outputs=[]),
    "grad, a complex gradient of a real output": lambda L: L.autograd.grad(
        (_leaf3(L) * 2).sum(), _leaf3(L), grad_outputs=L.tensor(2j)),
    "grad, a real gradient of a complex output": lambda L: (lambda x: L.autograd.grad(
        (x * (2 + 1j)).sum(), x, grad_outputs=L.tensor(2.0, dtype=L.float64)))(_leaf3(L)),
    "backward, too few gradients": lambda L: L.autograd.backward(
        [_leaf3(L).sum(), _leaf3(L).sum()], [L.tensor(1.0)]),
    "backward, too few, the first without grad": lambda L: L.autograd.backward(
        [L.ones(3), _leaf3(L).sum()], [L.ones(3)]),
    "backward, too few, the first of a wrong shape": lambda L: L.autograd.backward(
        [_leaf3(L).sum(), _leaf3(L).sum()], [L.ones(2)]),
    "backward, a complex gradient, output without grad": lambda L: L.autograd.backward(
        [L.ones(3)], [L.ones(3, dtype=L.complex64)]),
    "backward, a gradient of a wrong shape, output without grad": lambda L: L.ones(3).backward(
        L.ones(2)),
    "backward, empty inputs": lambda L: (_leaf3(L) * 2).sum().backward(inputs=[]),
    "backward, an input without grad": lambda L: (lambda x: (x * 2).sum().backward(
        inputs=[x, L.ones(3)]))(_leaf3(L)),
    "backward, a detached input": lambda L: (lambda x: (x * 2).sum().backward(
        inputs=[x.detach()]))(_leaf3(L)),
}


@pytest.mark.parametrize("name", sorted(ENTRY_ERRORS))
def test_backward_and_grad_arguments_are_checked_as_torch(name: str) -> None:
    check_raises_like(ENTRY_ERRORS[name])


def test_extra_gradients_are_dropped_as_torch() -> None:
    def fn(L):
        x = _leaf3(L)
        (g,) = L.autograd.grad((x * 2).sum(), x, grad_outputs=[L.tensor(3.0), L.tensor(5.0)])
        L.autograd.backward([(x * 4).sum()], [L.tensor(2.0), L.tensor(7.0)])
        return g.tolist(), x.grad.tolist()
    assert fn(ember) == fn(torch)


@pytest.mark.parametrize("mode", ["no_grad", "enable_grad", "inference_mode",
                                  "set_grad_enabled"])
def test_grad_modes_decorate_generators_to_their_end(mode: str) -> None:
    def fn(L):
        decorator = getattr(L, mode)(False) if mode == "set_grad_enabled" else \
            getattr(L, mode)()

        def steps():
            sent = yield L.is_grad_enabled()
            yield sent, L.is_grad_enabled()
            return "done"

        wrapped = decorator(steps)
        it = wrapped()
        seen = [next(it), it.send("x")]
        with pytest.raises(StopIteration) as end:
            next(it)
        return seen, end.value.value, list(wrapped())
    assert fn(ember) == fn(torch)


def test_calling_a_node_as_torch() -> None:
    def fn(L):
        x = _leaf3(L)
        one = (-x).grad_fn(L.ones(3))  # one input: the tensor itself
        pair = (x * x).grad_fn(L.ones(3))
        parts = x.unbind(0)[0].grad_fn(L.tensor(1.0), L.tensor(2.0), None)
        return one.tolist(), [p.tolist() for p in pair], parts.tolist()
    assert fn(ember) == fn(torch)
    for call in (lambda L: _leaf3(L).exp().grad_fn(),
                 lambda L: _leaf3(L).exp().grad_fn(L.ones(3), L.ones(3)),
                 lambda L: _leaf3(L).exp().grad_fn(L.ones(3), key=1)):
        check_raises_like(call)


@pytest.mark.parametrize("unpacked", ["int", "str"])
def test_unpack_hook_must_give_a_tensor(unpacked: str) -> None:
    def fn(L):
        x = _leaf3(L)
        value = {"int": 5, "str": "s"}[unpacked]
        with L.autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: value):
            y = x.exp()
        y.sum().backward()
    check_raises_like(fn)


def _f64(L, n: int = 2):
    return L.ones(n, dtype=L.float64, requires_grad=True)


@pytest.mark.parametrize("case", ["detached output", "mixed outputs", "detached first",
                                  "a number input", "float32 second input", "all zero",
                                  "no input requires grad"])
def test_gradcheck_reads_outputs_and_inputs_as_torch(case: str) -> None:
    def fn(L):
        x = _f64(L)
        func, inputs = {
            "detached output": (lambda a: (a * 2).detach(), (x,)),
            "mixed outputs": (lambda a: (a * 2, (a * 3).detach()), (x,)),
            "detached first": (lambda a: ((a * 3).detach(), a * 2), (x,)),
            "a number input": (lambda a, n: a * n, (x, 2)),
            "float32 second input": (lambda a, b: a * b, (x, L.ones(2, requires_grad=True))),
            "all zero": (lambda a: (a * 0).detach(), (x,)),
            "no input requires grad": (lambda a: a * 2, (x.detach(),)),
        }[case]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = L.autograd.gradcheck(func, inputs, raise_exception=False)
            except ValueError as e:
                result = str(e)
        return result, [str(w.message) for w in caught if "precision" in str(w.message)]
    assert fn(ember) == fn(torch)


def test_gradcheck_mismatch_shows_the_inputs_dtype_as_torch() -> None:
    def fn(L):
        x = L.ones(2, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as info:  # GradcheckError
                L.autograd.gradcheck(lambda a: a * 2, (x,), eps=1e-3, atol=1e-7, rtol=1e-7)
        # float32 Jacobians print without a dtype suffix
        return type(info.value).__name__, "dtype" in str(info.value)
    assert fn(ember) == fn(torch) == ("GradcheckError", False)
    for lib in (ember, torch):
        with pytest.raises(RuntimeError) as info:
            lib.autograd.gradcheck(lambda a: a.detach() * 2, (_f64(lib),))
        assert str(info.value) == "Numerical gradient for function expected to be zero"


def test_multithreading_flag_as_torch() -> None:
    def fn(L):
        A = L.autograd
        seen = [A.is_multithreading_enabled()]
        with A.set_multithreading_enabled(False):
            seen.append(A.is_multithreading_enabled())
        seen.append(A.is_multithreading_enabled())
        setter = A.set_multithreading_enabled(False)
        seen.append(A.is_multithreading_enabled())
        setter.__exit__(None, None, None)
        seen.append(A.is_multithreading_enabled())
        return seen
    assert fn(ember) == fn(torch)


def test_allow_mutation_on_saved_tensors_as_torch() -> None:
    def fn(L):
        G = L.autograd.graph
        x = L.tensor([0.5, 1.5], requires_grad=True)
        with G.allow_mutation_on_saved_tensors() as ctx:
            y = x.clone()
            z = y.sin()          # saves y
            y.mul_(2)            # would raise in backward outside the context
            w = x.exp()          # saves its result
            w.mul_(3)
            (z.sum() + w.sum()).backward()
        grads = x.grad.tolist()
        with G.allow_mutation_on_saved_tensors():
            late = (x * 1).sin()
        with pytest.raises(AssertionError) as outside:
            late.sum().backward()
        with pytest.raises(RuntimeError) as nested:
            with G.allow_mutation_on_saved_tensors():
                with G.allow_mutation_on_saved_tensors():
                    pass
        return grads, type(ctx).__name__, str(outside.value), str(nested.value)
    e, t = fn(ember), fn(torch)
    np.testing.assert_allclose(e[0], t[0], rtol=1e-6)
    assert e[1:] == t[1:]


@pytest.mark.parametrize("data", ["array", "list", "number"])
def test_variable_refuses_what_is_not_a_tensor_as_torch(data: str) -> None:
    check_raises_like(lambda L: L.autograd.Variable(
        {"array": np.ones(2), "list": [1.0], "number": 5}[data]))
