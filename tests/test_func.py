"""``ember.func`` against ``torch.func``: one script on both libraries, identical output."""
from __future__ import annotations

import contextlib
import importlib
import io

import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch


def scenario(L, F) -> None:
    def f(x, y):
        return (x.sin() * y).sum()

    x = L.tensor([1.0, 2.0])
    y = L.tensor([3.0, 4.0])
    print(F.grad(f)(x, y), F.grad(f, argnums=(0, 1))(x, y), F.grad_and_value(f)(x, y))
    print(F.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(x))
    out, fn = F.vjp(lambda x: x.exp(), x)
    print(out, fn(L.ones(2)))
    print(F.jvp(lambda x: x.exp(), (x,), (L.ones(2),)))
    print(F.jacrev(lambda x: x.exp())(x), F.jacfwd(lambda x: x.exp())(x))
    print(F.hessian(lambda x: (x ** 3).sum())(x))
    print(F.grad(F.grad(lambda t: t.sin().sum().sin()))(L.tensor(0.5)))
    print(F.jacrev(lambda a, b: a @ b, argnums=(0, 1))(L.ones(2, 3), L.ones(3)))
    w = L.tensor([0.5, -1.0], requires_grad=True)
    g = F.grad(lambda v: (v * w).sum() ** 2)(x)
    print(g)
    g.sum().backward()
    print(w.grad)
    try:
        F.grad(lambda t: t)(x)
    except RuntimeError as exc:
        print(exc)


def test_func_transforms_like_torch() -> None:
    outputs = []
    for lib in (torch, ember):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            scenario(lib, importlib.import_module(lib.__name__ + ".func"))
        outputs.append(buffer.getvalue())
    assert outputs[1] == outputs[0]


def _functional_call_case(lib, x0, w0):
    F = importlib.import_module(lib.__name__ + ".func")
    module = lib.nn.Linear(3, 2)
    with lib.no_grad():
        module.weight.copy_(lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]))
        module.bias.copy_(lib.tensor([0.1, -0.2]))
    x = lib.tensor(x0, dtype=lib.float32)
    params = {"weight": lib.tensor(w0, dtype=lib.float32)}
    out = F.functional_call(module, params, (x,))
    grads = F.grad(lambda p: F.functional_call(module, p, x).pow(2).sum())(params)
    per_sample = F.vmap(F.grad(lambda p, xi: F.functional_call(module, p, (xi,)).sum()),
                        in_dims=(None, 0))(params, x)
    return out, grads["weight"], per_sample["weight"], module(x).detach()


def test_functional_call_like_torch() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x0, w0 = rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    # the last item is the module's own output afterwards: its weight is back
    results = [_functional_call_case(lib, x0, w0) for lib in (torch, ember)]
    for t, e in zip(*results):
        assert_same(e, t)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        ember.func.functional_call(ember.nn.Linear(3, 2), ({"bias": ember.ones(2)},
                                                           {"bias": ember.ones(2)}),
                                   ember.ones(1, 3))


def test_stack_module_state_ensembles_as_torch():
    # torch's model-ensembling recipe: stack the models' state, then vmap functional_call
    # over it with one base model
    import copy

    def run(lib):
        class Scale(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("scale", lib.rand(4) + 0.5)

            def forward(self, x):
                return x * self.scale

        lib.manual_seed(0)
        models = [lib.nn.Sequential(lib.nn.Linear(3, 4), Scale(), lib.nn.Tanh(),
                                    lib.nn.Linear(4, 2)) for _ in range(3)]
        params, buffers = lib.func.stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta" if lib is torch else "cpu")

        def one(p, b, x):
            return lib.func.functional_call(base, (p, b), (x,))

        x = lib.randn(5, 3)
        out = lib.func.vmap(one, in_dims=(0, 0, None))(params, buffers, x)
        out.sum().backward()
        return (out, {k: (tuple(v.shape), v.requires_grad, v.is_leaf, v.grad is not None)
                      for k, v in params.items()},
                {k: tuple(v.shape) for k, v in buffers.items()})

    t_out, t_params, t_buffers = run(torch)
    e_out, e_params, e_buffers = run(ember)
    assert_same(e_out, t_out)
    assert e_params == t_params and e_buffers == t_buffers


@pytest.mark.parametrize("case", ["none", "modes", "classes", "requires_grad"])
def test_stack_module_state_refusals_as_torch(case):
    def models(lib):
        a, b = lib.nn.Linear(2, 2), lib.nn.Linear(2, 2)
        if case == "none":
            return []
        if case == "modes":
            return [a, b.eval()]
        if case == "classes":
            return [a, lib.nn.ReLU()]
        b.weight.requires_grad_(False)
        return [a, b]

    check_raises_like(lambda lib: lib.func.stack_module_state(models(lib)))


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 0, -1])
def test_jacrev_chunk_size_as_torch(chunk_size):
    # any chunk size gives the same Jacobian; one below 1 raises torch's error
    def run(lib):
        f = lib.func.jacrev(lambda x: x.sin() * x.sum(), chunk_size=chunk_size)
        return f(lib.arange(3.0))

    if chunk_size is not None and chunk_size <= 0:
        check_raises_like(run)
    else:
        assert_same(run(ember), run(torch))


def test_jvp_strict_as_torch():
    primal, tangent = (0.5, 1.5), (1.0, -1.0)

    def run(lib, fn):
        return lib.func.jvp(fn(lib), (lib.tensor(primal),), (lib.tensor(tangent),),
                            strict=True)

    for lib_fn in (lambda lib: lambda x: lib.ones(2), lambda lib: lambda x: (x * 2, lib.ones(2))):
        check_raises_like(lambda lib, f=lib_fn: run(lib, f))
    exp = lambda lib: lambda x: x.exp()  # noqa: E731
    for e, t in zip(run(ember, exp), run(torch, exp)):
        assert_same(e, t)
