"""Random draws in the autograd graph (NOTE [Draws in the graph]): a draw written into a
tensor that requires grad becomes its history with torch's node and a zero gradient, and a
draw from parameters that require grad requires grad and sends them zeros, as torch's."""
import warnings

import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

INF = float("inf")

IN_PLACE = [
    ("uniform_", ()), ("uniform_", (-2.0, 3.0)), ("normal_", ()), ("normal_", (1.0, 2.0)),
    ("random_", ()), ("random_", (7,)), ("random_", (2, 9)), ("exponential_", ()),
    ("bernoulli_", ()), ("bernoulli_", (0.3,)), ("geometric_", (0.4,)), ("cauchy_", ()),
    ("log_normal_", ()),
]


def _in_place(L, method: str, args: tuple, dtype: str, through_view: bool):
    L.manual_seed(7)
    a = L.tensor([[0.2, 0.7, 0.1], [0.4, 0.9, 0.3]], dtype=getattr(L, dtype),
                 requires_grad=True)
    x = a * 2
    target = x[:, 1:] if through_view else x
    out = getattr(target, method)(*args)
    assert out is target
    # an infinite gradient arriving at the draw must still give exact zeros
    weights = L.tensor([1.0, -2.0, INF], dtype=a.dtype)
    (x * weights).sum().backward()
    return x.detach(), x.grad_fn.name(), a.grad, x._version


@pytest.mark.parametrize("method,args", IN_PLACE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("through_view", [False, True])
def test_in_place_draws_give_zero_gradients_as_torch(method, args, dtype, through_view):
    e = _in_place(ember, method, args, dtype, through_view)
    t = _in_place(torch, method, args, dtype, through_view)
    assert_same(e[0], t[0])  # the same draws, in the same places
    assert e[1:2] == t[1:2]
    assert_same(e[2], t[2])
    assert e[3] == t[3]


def _bernoulli_tensor_p(L):
    L.manual_seed(3)
    a = L.tensor([0.2, 0.7, 0.5], requires_grad=True)
    p = L.tensor([0.1, 0.9, 0.5], requires_grad=True)
    x = a * 1
    x.bernoulli_(p * 1)
    (x * L.tensor([INF, 1.0, 2.0])).sum().backward()
    return x.detach(), x.grad_fn.name(), len(x.grad_fn.next_functions), a.grad, p.grad


def test_bernoulli_with_tensor_probabilities_as_torch():
    e, t = _bernoulli_tensor_p(ember), _bernoulli_tensor_p(torch)
    assert_same(e[0], t[0])
    assert e[1:3] == t[1:3]
    assert_same(e[3], t[3])
    assert_same(e[4], t[4])


OUT_OF_PLACE = {
    "bernoulli": lambda L, p, q: L.bernoulli(p),
    "bernoulli method": lambda L, p, q: p.bernoulli(),
    "normal(mean, std)": lambda L, p, q: L.normal(p, q),
    "normal(mean, float)": lambda L, p, q: L.normal(p, 2.0),
    "normal(float, std)": lambda L, p, q: L.normal(1.0, q),
    "normal broadcast": lambda L, p, q: L.normal(p[0], q),
    "normal 0-d std": lambda L, p, q: L.normal(p, q[0, 0]),
    "poisson": lambda L, p, q: L.poisson(q * 3),
}


def _out_of_place(L, name: str, dtype: str):
    L.manual_seed(11)
    p = L.tensor([[0.2, 0.7], [0.4, 0.9]], dtype=getattr(L, dtype), requires_grad=True)
    q = L.tensor([[0.5, 1.0], [1.5, 2.0]], dtype=getattr(L, dtype), requires_grad=True)
    y = OUT_OF_PLACE[name](L, p, q)
    seen = (y.requires_grad, y.grad_fn.name())
    (y * INF).sum().backward()
    return y.detach(), seen, p.grad, q.grad


@pytest.mark.parametrize("name", list(OUT_OF_PLACE))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_draws_from_parameters_that_require_grad_as_torch(name, dtype):
    e, t = _out_of_place(ember, name, dtype), _out_of_place(torch, name, dtype)
    assert_same(e[0], t[0])
    assert e[1] == t[1]
    for got, want in zip(e[2:], t[2:]):
        assert (got is None) == (want is None)
        if want is not None:
            assert_same(got, want)


def test_draws_print_their_node_as_torch():
    def printed(L):
        L.manual_seed(0)
        p = L.tensor([0.2, 0.7], requires_grad=True)
        x = p * 1
        return [repr(L.bernoulli(p)), repr(L.poisson(p * 4)), repr(L.normal(p, 1.0)),
                repr(x.uniform_())]
    assert [s.replace("ember", "torch") for s in printed(ember)] == printed(torch)


@pytest.mark.parametrize("call", [
    lambda L, p: L.bernoulli(p, 0.5),
    lambda L, p: p.bernoulli(0.5),
    lambda L, p: L.binomial(p * 10, p / 2),
])
def test_draws_torch_cannot_differentiate(call):
    # torch records its NotImplemented node, and refuses at backward
    def fn(L):
        L.manual_seed(0)
        p = L.tensor([0.2, 0.7], requires_grad=True)
        y = call(L, p)
        assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
        y.sum().backward()
    check_raises_like(fn)


def test_draws_into_leaves_and_without_grad_as_torch():
    check_raises_like(lambda L: L.ones(3, requires_grad=True).uniform_())

    def fn(L):
        a = L.ones(3, requires_grad=True)
        with L.no_grad():
            a.normal_()
        b = a * 1
        with L.no_grad():
            b.exponential_()
        return a.is_leaf, a.grad_fn, b.grad_fn.name()
    assert fn(ember) == fn(torch)


def test_normal_promotes_a_0d_std_as_torch():
    # a 0-d std takes part in promotion as a 0-d tensor: float32 means stay float32
    def fn(L):
        L.manual_seed(2)
        return L.normal(L.zeros(3), L.tensor(1.0, dtype=L.float64))
    assert_same(fn(ember), fn(torch))


@pytest.mark.parametrize("fill", [lambda x: x.zero_(), lambda x: x.fill_(3.0)])
def test_fills_send_exact_zeros_as_torch(fill):
    def fn(L):
        a = L.tensor([1.0, 2.0], requires_grad=True)
        (fill(a * 1) * INF).sum().backward()
        return a.grad
    assert_same(fn(ember), fn(torch))


def test_compiled_draw_into_a_tensor_that_requires_grad_matches_eager():
    def step(a):
        x = a * 2
        x.uniform_()
        y = (x * a).sum()
        y.backward()
        return y

    a = ember.ones(3, requires_grad=True)
    compiled = ember.compile(step)
    seen = []
    for fn in (step, compiled, compiled, compiled):
        ember.manual_seed(0)
        a.grad = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen.append((fn(a).item(), a.grad.tolist()))
    assert seen[1:] == seen[:1] * 3
