"""A leaf's first gradient stored without a copy only when nothing else holds it (NOTE
[Stealing a gradient] in ember/autograd/graph.py): in every case below a gradient some other
tensor, hook, graph or second leaf can see is copied, so later accumulation and the
optimizer's in-place updates never reach it; values and layouts are torch's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch


def _shares(a, b) -> bool:
    return np.shares_memory(a.detach().numpy(), b.detach().numpy())


def test_two_leaves_given_one_gradient_do_not_share_it():
    a = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    ((a + b) * 2).sum().backward()  # add's backward hands mul's fresh gradient to both
    assert not _shares(a.grad, b.grad)
    a.grad.add_(1)
    assert b.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("keep", ["incoming", "returned"])
def test_a_gradient_a_hook_keeps_is_copied(keep):
    kept = []
    x = ember.ones(3, requires_grad=True)

    def hook(g):
        if keep == "incoming":
            kept.append(g)
            return None
        new = g * 2
        kept.append(new)
        return new

    x.register_hook(hook)
    (x * 3).sum().backward()
    assert not _shares(x.grad, kept[0])


def test_a_gradient_the_caller_passed_is_copied():
    x = ember.ones(2, 3, requires_grad=True)
    g = ember.full((2, 3), 2.0)
    x.backward(g)
    assert not _shares(x.grad, g)
    y = ember.ones(2, 3, requires_grad=True)
    g6 = ember.full((6,), 2.0)
    y.view(6).backward(g6)  # the leaf's gradient is a view of the caller's tensor
    assert not _shares(y.grad, g6)


def test_a_retained_gradient_is_not_shared_with_the_leaf():
    x = ember.ones(2, 3, requires_grad=True)
    h = x.view(6)
    h.retain_grad()
    h.backward(ember.full((6,), 2.0))
    assert not _shares(x.grad, h.grad)


def test_pieces_of_one_gradient_are_copied():
    a = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    ember.cat([a, b]).mul(2).sum().backward()
    assert not _shares(a.grad, b.grad)


def test_repeated_backward_accumulates_as_torch():
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(5, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
        x = lib.ones(3, 5)
        loss = model(x).pow(2).sum()
        loss.backward(retain_graph=True)
        first = [p.grad.clone() for p in model.parameters()]
        loss.backward()
        results[lib] = (first, [p.grad for p in model.parameters()])
    for (t_first, t_acc), (e_first, e_acc) in [(results[torch], results[ember])]:
        for t, e in zip(t_first + t_acc, e_first + e_acc):
            assert_same(e, t)
            assert e.stride() == t.stride()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)])
def test_linear_gradients_have_torchs_layout_and_saved_strides(bias, batch_shape):
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        layer = lib.nn.Linear(5, 3, bias=bias)
        x = lib.ones(*batch_shape, 5, requires_grad=True)
        out = layer(x)
        saved = out.grad_fn._saved_mat2_sym_strides if len(batch_shape) == 1 and bias \
            else None
        out.pow(2).sum().backward()
        found[lib] = [(tuple(p.grad.shape), p.grad.stride(), p.grad.detach().numpy().copy())
                      for p in layer.parameters()]
        if saved is not None:
            found[lib].append(saved)
    assert len(found[ember]) == len(found[torch])
    for e, t in zip(found[ember], found[torch]):
        if isinstance(t, tuple) and len(t) == 3:
            assert e[:2] == t[:2]
            np.testing.assert_allclose(e[2], t[2], rtol=1.3e-6, atol=1e-5)
        else:
            assert tuple(e) == tuple(t)


def test_mm_of_a_transposed_leaf_gives_torchs_gradient_layout():
    found = {}
    for lib in (torch, ember):
        w = lib.ones(4, 3, requires_grad=True)
        v = lib.ones(3, 4, requires_grad=True)
        x = lib.ones(2, 4)
        product = lib.mm(x, v.t())
        saved = product.grad_fn._saved_mat2_sym_strides
        (lib.mm(x, w).sum() + product.sum()).backward()
        found[lib] = (w.grad.stride(), v.grad.stride(), w.grad.tolist(), v.grad.tolist(),
                      saved)
    assert found[ember] == found[torch]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "complex64"])
@pytest.mark.parametrize("shape", [(), (1,), (3,)])
def test_later_gradients_add_in_place_as_torch(dtype, shape):
    # NOTE [0-d accumulation]: a 0-d leaf's gradient is summed through a scalar, others in
    # place; both keep the gradient object, bump its version and round as torch does (each
    # backward's gradient is a factor exactly, so only the sums round)
    rng = np.random.default_rng(7)
    factors = [rng.standard_normal(shape) * 10 ** k for k in (0, -3, 2, -1)]
    if dtype == "complex64":
        factors = [f + 1j * rng.standard_normal(shape) for f in factors]
    found = {}
    for lib in (torch, ember):
        x = lib.zeros(shape, dtype=getattr(lib, dtype), requires_grad=True)
        seen = []
        for f in factors:
            y = x * lib.tensor(f, dtype=x.dtype)
            (y.real if dtype == "complex64" else y).sum().backward()
            if not seen:
                first, version = x.grad, x.grad._version
            seen.append(x.grad.detach().clone())
        assert x.grad is first
        found[lib] = (x.grad._version - version, seen)
    assert found[ember][0] == found[torch][0] == 3
    for e, t in zip(found[ember][1], found[torch][1]):
        assert_same(e, t, rtol=0, atol=0)


CREATE_GRAPH_CASES = {
    "cube": (lambda lib, x: (x ** 3).sum(), (2,)),
    "constant": (lambda lib, x: (x * 2).sum(), (3,)),
    "column-major-product": (lambda lib, x: lib.ones(6, 4).mm(x.t().contiguous()).sum(),
                             (5, 4)),
    "transposed-leaf": (lambda lib, x: (x.t() * x.t()).sum(), (3, 2)),
}


@pytest.mark.parametrize("case", list(CREATE_GRAPH_CASES))
def test_create_graph_first_gradient_is_a_recorded_copy_as_torch(case):
    # torch copies a leaf's first gradient into the layout contract's strides with a
    # recorded copy_ (CopyBackwards, version 1); a second backward adds out of place
    fn, shape = CREATE_GRAPH_CASES[case]
    seen = {}
    for lib in (torch, ember):
        x = lib.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape),
                       dtype=lib.float32, requires_grad=True)
        if case == "transposed-leaf":
            x = x.detach().t().requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's reference-cycle warning
            fn(lib, x).backward(create_graph=True)
            first = x.grad
            state = [repr(first), first.stride(), first._version, first.is_leaf]
            fn(lib, x).backward(create_graph=True)
        state += [repr(x.grad), x.grad.stride(), x.grad._version, first._version]
        if first.requires_grad:  # differentiate the first gradient again, through the copy
            x.grad = None
            first.sum().backward()
            state.append(repr(x.grad))
        seen[lib] = state
    assert seen[ember] == [s.replace("torch", "ember") if isinstance(s, str) else s
                           for s in seen[torch]]


@pytest.mark.parametrize("case", ["conv_weight", "column_through_t", "row_sum", "single"])
def test_leaves_with_size_one_dims_get_torchs_gradient_layout(case):
    # a size-1 dim's stride is free in C order: the first gradient is kept when its strides
    # are the ones torch's gradient gets, copied into them otherwise
    found = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        x = lib.randn(2, 1, 5, 5)
        if case == "conv_weight":
            w = lib.randn(4, 1, 3, 3, requires_grad=True)
            loss = lib.nn.functional.conv2d(x, w).square().sum()
        elif case == "column_through_t":
            w = lib.randn(3, 1, requires_grad=True)
            loss = (lib.randn(2, 1) @ w.t()).square().sum()
        elif case == "row_sum":
            w = lib.randn(1, 5, requires_grad=True)
            loss = (x.reshape(10, 5) * w).sum()
        else:
            w = lib.randn(1, requires_grad=True)
            loss = (x * w).sum()
        loss.backward()
        grad = w.grad
        found[lib] = (grad.stride(), grad.is_contiguous())
        with lib.no_grad():
            w.add_(1.0)  # an optimizer's write reaches the leaf only, not its gradient
        found[lib] += (grad.detach().numpy().copy(),)
    assert found[ember][:2] == found[torch][:2]
    np.testing.assert_allclose(found[ember][2], found[torch][2], rtol=1e-5, atol=1e-5)
