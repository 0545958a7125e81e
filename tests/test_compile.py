"""ember.compile: compiled calls give eager ember's results bit for bit (values, gradients,
optimizer states, random draws) across guard hits and misses; fallbacks and torch's
arguments."""
from __future__ import annotations

import re

import numpy as np
import pytest

import ember
from ember._compile import Unsupported


def _snapshot(tensors) -> list:
    out = []
    for t in tensors:
        grad = t._grad
        out.append((t._data.tobytes(), t._data.shape, t._data.dtype, t._vc[0],
                    None if grad is None else (grad._data.tobytes(), grad._vc[0])))
    return out


def _sharing(tensors) -> set:
    """Which of the tensors' and their gradients' arrays share memory: a replayed first
    gradient that keeps its array (NOTE [Stolen gradients at replay]) shares it with
    nothing eager's would not."""
    arrays = []
    for t in tensors:
        arrays.append(t._data)
        if t._grad is not None:
            arrays.append(t._grad._data)
    return {(i, j) for i in range(len(arrays)) for j in range(i)
            if np.shares_memory(arrays[i], arrays[j])}


def _tensors(r) -> list:
    if isinstance(r, ember.Tensor):
        return [r]
    if isinstance(r, (tuple, list)):
        return [t for v in r for t in _tensors(v)]
    return []


def _result_bytes(r):
    if isinstance(r, ember.Tensor):
        return (r._data.tobytes(), r._data.shape, r._data.dtype, r.requires_grad, r._version,
                r._base is not None, r.is_contiguous())
    if isinstance(r, (tuple, list)):
        return tuple(_result_bytes(v) for v in r)
    return r


def _twins(build, calls, n: int = 6):
    """Run ``build()``'s step eagerly and compiled side by side with the same seed; every
    call's results, the reached tensors, their grads and the RNG state must agree."""
    ember.manual_seed(1)
    eager_step, eager_state = build()
    ember.manual_seed(1)
    step, state = build()
    compiled = ember.compile(step)
    for i in range(n):
        args = calls(i)
        ember.manual_seed(100 + i)
        a_out = eager_step(*args[0])
        a = _result_bytes(a_out)
        rng_a = ember.get_rng_state()._data.tobytes()
        ember.manual_seed(100 + i)
        b_out = compiled(*args[1])
        b = _result_bytes(b_out)
        rng_b = ember.get_rng_state()._data.tobytes()
        assert a == b, f"call {i}"
        assert rng_a == rng_b, f"call {i}: RNG state"
        assert _snapshot(eager_state()) == _snapshot(state()), f"call {i}: state"
        assert _sharing(eager_state() + _tensors(a_out)) == \
            _sharing(state() + _tensors(b_out)), f"call {i}: shared memory"
    return compiled._compiled


def _no_args(i):
    return ((), ())


def _states(compiled) -> list:
    return [entry[0] for entry in compiled.cache.values()]


def test_pointwise_backward_replays():
    def build():
        x = ember.tensor([0.5, -1.5, 2.0], requires_grad=True)

        def step():
            y = (x ** 3).sin() * 2 + x.exp()
            y.sum().backward()
            return y.detach()
        return step, lambda: [x]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_arguments_broadcast_reduction_matmul_and_new_shapes():
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((4, 3)).astype(np.float32)

    def build():
        w = ember.tensor(w_np, requires_grad=True)

        def step(a, b):
            h = (a @ w + b).relu()
            loss = h.mean(0).pow(2).sum() + h.amax()
            loss.backward()
            return loss.detach(), h.detach()
        return step, lambda: [w]

    inputs = {}

    def calls(i):
        n = 5 if i < 3 else 2  # a shape change: a guard miss, then a new program
        if n not in inputs:
            inputs[n] = (rng.standard_normal((n, 4)).astype(np.float32),
                         rng.standard_normal(3).astype(np.float32))
        a, b = inputs[n]
        return ((ember.tensor(a), ember.tensor(b)), (ember.tensor(a), ember.tensor(b)))

    c = _twins(build, calls, n=7)
    assert _states(c).count("ready") == 2


def test_inplace_views_and_grad_zeroing():
    def build():
        x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        buf = ember.zeros(2, 2)

        def step():
            with ember.no_grad():
                buf.add_(1.5)
                buf[0].mul_(2)
            y = (x * buf).tanh()
            y.t().sum().backward()
            out = x.grad.clone()
            x.grad.zero_()
            return out
        return step, lambda: [x, buf]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_dropout_draws_like_eager():
    def build():
        x = ember.ones(4, 8, requires_grad=True)

        def step():
            y = ember.nn.functional.dropout(x * 2, p=0.3, training=True)
            y.sum().backward()
            return y.detach()
        return step, lambda: [x]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_module_train_step(opt):
    nn = ember.nn

    def build():
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 3))
        kwargs = {"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.01}
        optimizer = getattr(ember.optim, opt)(model.parameters(), **kwargs)
        x = ember.randn(7, 6)
        y = ember.randint(0, 3, (7,))

        def step():
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()

        def state():
            states = [t for s in optimizer.state.values() for t in s.values()
                      if isinstance(t, ember.Tensor)]
            return list(model.parameters()) + states
        return step, state

    c = _twins(build, _no_args, n=7)
    assert "ready" in _states(c)


def test_train_eval_switch_is_a_guard():
    nn = ember.nn

    def build():
        model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
        x = ember.randn(4, 3)
        calls = [0]

        def step():
            calls[0] += 1
            model.train(calls[0] % 4 < 2)
            with ember.no_grad():
                return model(x)
        return step, lambda: list(model.parameters())

    _twins(build, _no_args, n=8)


def test_grad_mode_and_requires_grad_are_guards():
    def build():
        def step(a):
            return (a * 3).sum()
        return step, lambda: []

    values = np.arange(4, dtype=np.float32)

    def calls(i):
        grad = i % 3 != 0
        return ((ember.tensor(values, requires_grad=grad),),
                (ember.tensor(values, requires_grad=grad),))

    c = _twins(build, calls, n=6)
    assert any(state == "eager" for state in _states(c))  # outputs with a graph stay eager
    f = ember.compile(lambda a: a * 2)
    for enabled in (True, False, True, False, False):
        with ember.set_grad_enabled(enabled):
            out = f(ember.tensor(values, requires_grad=True))
        assert out.requires_grad is enabled


def test_data_dependent_branch_falls_back():
    def f(x):
        if x.sum() > 0:
            return x * 2
        return x - 1

    g = ember.compile(f)
    for data in ([1.0, 2.0], [-3.0, 1.0], [1.0, 2.0], [-3.0, 1.0], [-5.0, 1.0]):
        t = ember.tensor(data)
        assert g(t).tolist() == f(t).tolist()
    assert "ready" not in _states(g._compiled)


def test_fullgraph_raises_unsupported():
    def f(x):
        return x * x.item()

    with pytest.raises(Unsupported, match="Data-dependent"):
        ember.compile(f, fullgraph=True)(ember.tensor(2.0))


def test_recompile_limit():
    f = ember.compile(lambda x: x + 1, recompile_limit=2)
    for n in (1, 2, 3, 4, 3):
        assert f(ember.ones(n)).tolist() == [2.0] * n
    assert len(f._compiled.cache) == 2


def test_arguments_checked_as_torch():
    with pytest.raises(RuntimeError, match="Either mode or options"):
        ember.compile(lambda x: x, mode="default", options={})
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        ember.compile(lambda x: x, mode="fast")
    with pytest.raises(ember._runtime.InvalidBackend):
        ember.compile(lambda x: x, backend="nope")
    f = lambda x: x  # noqa: E731
    assert ember.compile(f, disable=True) is f

    @ember.compile(mode="reduce-overhead")
    def g(x):
        return x * 2
    assert g.__wrapped__(ember.ones(1)).tolist() == [2.0]


def test_compiled_module_wraps_original():
    lin = ember.nn.Linear(2, 2)
    opt = ember.compile(lin)
    assert opt._orig_mod is lin and isinstance(opt, ember.nn.Module)
    x = ember.ones(3, 2)
    with ember.no_grad():
        for _ in range(4):
            assert opt(x)._data.tobytes() == lin(x)._data.tobytes()
    assert opt.weight is lin.weight


def test_compiled_module_pickles_and_is_found_as_torch_finds_it():
    # torch's OptimizedModule pickles (torch.save of a compiled model) as the module and its
    # options, compiled anew on load; scripts test isinstance against its class's path
    import io
    import pickle

    lin = ember.nn.Linear(2, 2)
    opt = ember.compile(lin, fullgraph=True)
    x = ember.ones(3, 2)
    for _ in range(3):
        y = opt(x)  # traced twice, then replayed
    lin(x).sum().backward()  # the parameters now carry their gradient nodes
    cls = ember._dynamo.eval_frame.OptimizedModule
    assert isinstance(opt, cls) and str(cls) == "<class 'ember._dynamo.eval_frame.OptimizedModule'>"
    buffer = io.BytesIO()
    ember.save(opt, buffer)
    buffer.seek(0)
    for clone in (pickle.loads(pickle.dumps(opt)), ember.load(buffer, weights_only=False)):
        assert type(clone) is cls and isinstance(clone._orig_mod, ember.nn.Linear)
        assert clone._orig_mod is not lin
        assert clone._compiled_call.fullgraph is True
        for _ in range(3):
            assert clone(x)._data.tobytes() == y._data.tobytes()


def test_batchnorm_train_step_running_stats():
    nn = ember.nn

    def build():
        model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
        optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        x = ember.randn(8, 4)

        def step():
            loss = model(x).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.detach()

        def state():
            momenta = [s["momentum_buffer"] for s in optimizer.state.values()]
            return list(model.parameters()) + list(model.buffers()) + momenta
        return step, state

    c = _twins(build, _no_args, n=7)
    assert "ready" in _states(c)


def test_raw_array_writes_fall_back():
    def build():
        x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        buf = ember.zeros(3)

        def step():
            buf._data[...] += 1.5  # not an op: the tracer cannot replay it
            y = (x * buf).sum()
            y.backward()
            return y.detach()
        return step, lambda: [x, buf]

    c = _twins(build, _no_args)
    assert "ready" not in _states(c)


def test_raw_write_to_optimizer_state_falls_back():
    nn = ember.nn

    def build():
        model = nn.Linear(3, 2)
        optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = ember.randn(5, 3)

        def step():
            loss = model(x).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for s in optimizer.state.values():
                s["momentum_buffer"]._data *= 0.5
            return loss.detach()

        def state():
            momenta = [s["momentum_buffer"] for s in optimizer.state.values()]
            return list(model.parameters()) + momenta
        return step, state

    c = _twins(build, _no_args)
    assert "ready" not in _states(c)


def test_grad_fills_bump_the_grads_own_version():
    def build():
        x = ember.tensor([0.5, 1.5], requires_grad=True)
        w = ember.tensor([2.0, -1.0], requires_grad=True)

        def step():
            (x * w).sum().backward()
            out = x.grad * 1
            x.grad.zero_()
            w.grad.fill_(0.25)
            return out
        return step, lambda: [x, w]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_returned_views_keep_their_links():
    x = ember.arange(6.0).reshape(2, 3).clone()

    def f(a):
        y = a * 2
        return x.t(), y.view(-1), y, x.detach()

    g = ember.compile(f)
    for i in range(4):
        a = ember.full((2, 3), float(i))
        xt, flat, y, d = g(a)
        eager = f(a)
        for got, want in zip((xt, flat, y, d), eager):
            assert got.tolist() == want.tolist()
            assert got._version == want._version
        assert xt._base is x and np.shares_memory(xt._data, x._data)
        assert flat._base is y and np.shares_memory(flat._data, y._data)
        assert d._base is None and d._vc is x._vc
        y.add_(1)
        assert flat._version == y._version == 1 and flat.tolist() == [2 * i + 1.0] * 6
    assert "ready" in _states(g._compiled)
    with ember.no_grad():
        x.mul_(3)
    assert g(ember.ones(2, 3))[0].tolist() == (x.t()).tolist()


def test_returned_constants_are_fresh_each_call():
    g = ember.compile(lambda: (ember.zeros(3), ember.ones(2) * 2))
    for _ in range(5):
        z, two = g()
        assert z.tolist() == [0.0] * 3 and two.tolist() == [2.0, 2.0]
        z.add_(7)
        two.add_(7)
    assert "ready" in _states(g._compiled)


SCALE = 2.0


def test_python_numbers_in_globals_and_closures_are_guards():
    global SCALE
    offset = 1

    def step(x):
        return x * SCALE + offset

    g = ember.compile(step)
    x = ember.tensor([1.0, -2.0])
    for scale, shift in ((2.0, 1), (0.5, 1), (0.5, 3), (-0.0, 3)):
        SCALE, offset = scale, shift
        for _ in range(3):
            assert g(x)._data.tobytes() == (x * scale + shift)._data.tobytes()
    assert _states(g._compiled).count("ready") == 4
    SCALE = 2.0


def test_arrays_from_outside_the_tracer_are_not_baked_in():
    source = np.array([1.0, 2.0], dtype=np.float32)

    def f(x):
        return x * ember.from_numpy(source) + ember.tensor(source) + ember.arange(2.0)

    g = ember.compile(f)
    x = ember.ones(2)
    for i in (0, 0, 0, 1, 2, 3):
        source[:] = [i, -i]  # the user's array changes between calls, the guards do not
        assert g(x)._data.tobytes() == f(x)._data.tobytes()
    assert "ready" not in _states(g._compiled)


def test_random_factories_draw_at_replay():
    def build():
        x = ember.ones(3, requires_grad=True)

        def step():
            y = x * ember.randn(3) + ember.rand(3)
            y.sum().backward()
            return y.detach()
        return step, lambda: [x]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_method_of_an_object_holding_model_and_optimizer():
    nn = ember.nn

    class Trainer:
        def __init__(self):
            self.model = nn.Linear(4, 3)
            self.optimizer = ember.optim.Adam(self.model.parameters(), lr=0.01)
            self.x = ember.randn(6, 4)

        def step(self):
            loss = self.model(self.x).square().mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return loss.detach()

    def build():
        trainer = Trainer()

        def state():
            states = [t for s in trainer.optimizer.state.values() for t in s.values()]
            return list(trainer.model.parameters()) + states
        return trainer.step, state

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_raw_write_into_an_intermediate_falls_back():
    def f(x):
        y = x * 2
        y._data[0] = x._data.sum()  # not an op
        return y + 1

    g = ember.compile(f)
    for i in range(5):
        x = ember.full((3,), float(i))
        assert g(x)._data.tobytes() == f(x)._data.tobytes()
    assert "ready" not in _states(g._compiled)


def test_hooks_added_later_are_guards():
    lin = ember.nn.Linear(3, 2)
    opt = ember.compile(lin)
    x = ember.randn(4, 3)
    with ember.no_grad():
        for _ in range(3):
            assert opt(x)._data.tobytes() == lin(x)._data.tobytes()
        handle = lin.register_forward_hook(lambda module, args, out: out * 2)
        for _ in range(3):
            assert opt(x)._data.tobytes() == lin(x)._data.tobytes()
        handle.remove()
        glob = ember.nn.modules.module.register_module_forward_hook(
            lambda module, args, out: out + 1)
        for _ in range(3):
            assert opt(x)._data.tobytes() == lin(x)._data.tobytes()
        glob.remove()


def test_replayed_first_gradient_keeps_the_leaf_layout():
    # AccumulateGrad lays a channels_last parameter's first gradient out channels_last (NOTE
    # [Leaf gradient layout]); the replay must store the same strides and values
    ember.manual_seed(0)
    model = ember.nn.Conv2d(3, 4, 3).to(memory_format=ember.channels_last)
    x = ember.randn(2, 3, 8, 8)

    def step(x):
        model.zero_grad()
        model(x).sum().backward()
        return model.weight.grad.clone(memory_format=ember.preserve_format)

    eager = step(x)
    torch = pytest.importorskip("torch")  # the oracle for the layout (this file needs none)
    t_model = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    t_model(torch.randn(2, 3, 8, 8)).sum().backward()
    assert eager.stride() == t_model.weight.grad.stride()
    compiled = ember.compile(step)
    for _ in range(3):  # trace, then replays
        replayed = compiled(x)
        assert replayed.stride() == eager.stride()
        assert np.array_equal(replayed.numpy(), eager.numpy())


def test_products_by_ones_share_an_array_only_where_nothing_tells():
    # A backward's seed times its first factor replays as that factor's own array; a product
    # by ones that is written afterwards, returned, or whose factor is written stays a copy.
    def build():
        x = ember.tensor(0.75, requires_grad=True)
        v = ember.tensor([0.5, -1.5, 2.0], requires_grad=True)

        def step():
            x.sin().backward()  # the seed: a 0-d constant of ones
            ones = ember.ones(3)  # made in the call: a constant of the program
            y = v.detach().exp()
            kept = y * ones  # returned
            written = y * ones
            written.add_(1)  # must not reach y
            factor = v.detach().cos()
            shared = factor * ones
            factor.mul_(3)  # must not reach shared
            (v * ones).sum().backward()
            return kept, written * 2, shared + 0, factor, y
        return step, lambda: [x, v]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)
    program = next(entry[1] for entry in c.cache.values() if entry[0] == "ready")
    # the seed's product and the backward of the sum's product are assignments, the three
    # products in the step are not
    assert sum(1 for line in program.source.splitlines()
               if re.fullmatch(r"\s*s\d+ = s\d+", line)) == 2


def _count_traces(compiled) -> list:
    traces: list = []
    trace = compiled._compiled.trace

    def counted(*args):
        traces.append(1)
        return trace(*args)

    compiled._compiled.trace = counted
    return traces


def test_an_equal_number_put_back_keeps_the_program():
    # NOTE [Guard snapshots]: a module's number set again between calls to an equal float
    # (a new object) fails the identity check but not the stamp: the program stays; a new
    # value traces anew; the results are eager's throughout
    def build():
        lin = ember.nn.Linear(3, 2)
        lin.scale = 0.5
        opt = ember.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
        x = ember.randn(4, 3)

        def step():
            loss = (lin(x) * lin.scale).square().sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.detach()
        return step, lin, lambda: list(lin.parameters())

    ember.manual_seed(0)
    eager, eager_lin, eager_state = build()
    ember.manual_seed(0)
    step, lin, state = build()
    compiled = ember.compile(step)
    traces = _count_traces(compiled)

    def calls(n: int, scale: float) -> None:
        for i in range(n):
            eager_lin.scale = lin.scale = float(str(scale))
            assert _result_bytes(eager()) == _result_bytes(compiled()), f"call {i}"
            assert _snapshot(eager_state()) == _snapshot(state()), f"call {i}"

    calls(4, 0.5)  # the momentum buffers made: the guard sets are settled
    assert _states(compiled._compiled)[-1] == "ready"
    settled = len(traces)
    calls(6, 0.5)
    assert len(traces) == settled
    calls(3, 0.25)
    assert len(traces) == settled + 2


def test_an_object_moved_between_containers_is_a_new_guard_set():
    # the same objects in the same order across two lists, cut elsewhere: the identities
    # alone would match; the lengths tell
    class Holder:
        def __init__(self, first, second):
            self.first, self.second = first, second

    tensors = [ember.tensor([float(i + 1)]) for i in range(3)]
    holder = Holder(tensors[:1], tensors[1:])

    def f():
        return ember.cat(holder.first).sum() * 10 + ember.cat(holder.second).sum()

    compiled = ember.compile(f)
    for _ in range(3):
        assert compiled()._data.tobytes() == f()._data.tobytes()
    holder.first.append(holder.second.pop(0))
    for _ in range(3):
        assert compiled()._data.tobytes() == f()._data.tobytes()
    assert _states(compiled._compiled).count("ready") == 2


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_zero_dim_leaf_accumulates_as_eager(dtype):
    # the seed cell's step: the replay adds into the 0-d gradient through a scalar (NOTE
    # [0-d accumulation]), and the leaf of shape (1,) in place
    def build():
        x = ember.tensor(0.7, dtype=getattr(ember, dtype), requires_grad=True)
        w = ember.tensor([1.3], dtype=getattr(ember, dtype), requires_grad=True)

        def step():
            y = ember.sin(x ** 3) * w
            y.sum().backward()
            return y.detach()
        return step, lambda: [x, w]

    c = _twins(build, _no_args, n=8)
    assert "ready" in _states(c)


WEIGHT = None


def test_replaced_globals_and_cells_are_read_anew():
    # the guard compares the objects a function's globals and closure cells hold: a new
    # tensor there (same shape) is a new reach, and an emptied cell raises as in eager
    global WEIGHT

    def make():
        bias = ember.tensor([0.5, -0.5])

        def step(x):
            return x * WEIGHT + bias

        def set_bias(value):
            nonlocal bias
            bias = value

        def clear():
            nonlocal bias
            del bias
        return step, set_bias, clear

    step, set_bias, clear = make()
    g = ember.compile(step)
    x = ember.tensor([1.0, 2.0])
    for i in range(4):
        WEIGHT = ember.tensor([float(i), 3.0])
        for _ in range(3):
            assert g(x).tolist() == step(x).tolist()
        set_bias(ember.tensor([float(-i), 1.0]))
        assert g(x).tolist() == step(x).tolist()
    assert "ready" in _states(g._compiled)
    clear()
    with pytest.raises(NameError) as eager:
        step(x)
    with pytest.raises(NameError) as compiled:
        g(x)
    assert str(compiled.value) == str(eager.value)
    WEIGHT = None


def test_first_gradients_share_memory_as_eager():
    # add's backward hands one gradient to two leaves, which view it back to their shapes
    # (the first copies it), a product's gradient is a view of its transpose, a bias's a
    # view of a sum; the results are views of the forward's arrays: none may share a
    # replayed gradient's memory
    def build():
        a = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = ember.tensor([0.5, -0.5, 0.25], requires_grad=True)
        w = ember.randn(3, 4, requires_grad=True)
        c = ember.randn(4, requires_grad=True)

        def step():
            for p in (a, b, w, c):
                p.grad = None
            y = (a.view(1, 3) + b.unsqueeze(0)).expand(2, 3) @ w + c
            h = y.relu()
            h.sum().backward()
            return h.detach(), y.detach()[0], a.grad
        return step, lambda: [a, b, w, c]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)
    program = next(p for state, p, _ in c.cache.values() if state == "ready")
    assert program.source.count("first_grad(") == 1  # a's: the gradient b takes after it


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_specialised_forwards_replay_as_eager(dtype):
    # NOTE [Specialised forwards]: the replay calls the kernel the forward chose for the
    # traced dtype and exponent (the half types' float32 detour, the multiplied-out powers,
    # the roots, pow itself)
    def build():
        x = ember.linspace(0.05, 9.0, 2000, dtype=getattr(ember, dtype)).requires_grad_()

        def step():
            y = (x.cos() + x.exp().log() + x.sigmoid() + x ** 2 + x ** 3 + x ** -2
                 + x ** 0.5 + x ** -0.5 + x ** 2.5)
            y.sum().backward()
            return y.detach()
        return step, lambda: [x]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)


def test_index_taking_ops_replay():
    # embedding and gather take their index as an op parameter: the program must follow
    # the index tensor's own array (and replay, not fall back to eager)
    nn = ember.nn

    def build():
        emb = nn.Embedding(7, 3)
        w = ember.randn(7, 3, requires_grad=True)
        idx = ember.tensor([[1, 4], [6, 0]])

        def step():
            y = emb(idx).sum(1) + w.gather(0, idx[:, :1].expand(2, 3))
            loss = y.sum()
            loss.backward()
            return loss.detach()
        return step, lambda: [emb.weight, w]

    c = _twins(build, _no_args)
    assert "ready" in _states(c)
