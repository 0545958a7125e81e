"""Python protocols of Tensor that torch defines: ``in``, ``reversed``, unary ``+``, ``del``,
Python 2's operator names, NumPy ufuncs on tensors, and ``Tensor._make_subclass``. torch
is the oracle."""
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch


@pytest.mark.parametrize("expr", [
    "2 in L.tensor([1, 2, 3])", "5 in L.tensor([1, 2, 3])", "2.0 in L.tensor([[1., 2.], [3., 4.]])",
    "L.tensor([1, 2]) in L.tensor([[1, 2], [3, 4]])", "L.tensor([2, 1]) in L.tensor([[1, 2]])",
    "True in L.tensor([0., 1.])", "np.float64(1.0) in L.tensor([0., 1.])",
    "1 in L.tensor([])", "L.tensor(3) in L.tensor([[3]])",
])
def test_contains_as_torch(expr: str) -> None:
    assert eval(expr, {"L": ember, "np": np}) == eval(expr, {"L": torch, "np": np})


@pytest.mark.parametrize("element", ["'a'", "None", "[1]"])
def test_contains_refuses_what_torch_refuses(element: str) -> None:
    check_raises_like(lambda L: eval(f"{element} in L.tensor([1, 2])", {"L": L}))


@pytest.mark.parametrize("data", [[1, 2, 3], [[1, 2], [3, 4]], 5, []])
def test_reversed_as_torch(data) -> None:
    e, t = reversed(ember.tensor(data)), reversed(torch.tensor(data))
    assert_same(e, t)


def test_unary_plus_and_del_as_torch() -> None:
    def fn(L):
        x = L.tensor([1.0, -2.0], requires_grad=True)
        y = +x
        return y is x, y.tolist()
    assert fn(ember) == fn(torch)
    check_raises_like(lambda L: +L.tensor([True]))

    def delete(L):
        t = L.tensor([1, 2])
        del t[0]
    check_raises_like(delete)


def test_python2_operator_names_as_torch() -> None:
    def fn(L):
        t = L.tensor([4.0, 6.0])
        same = t.__idiv__(2) is t
        return [t.__div__(4).tolist(), t.__rdiv__(2).tolist(), t.tolist(), same,
                L.tensor([2.7]).__long__(), L.tensor([0.0]).__nonzero__()]
    assert fn(ember) == fn(torch)
    check_raises_like(lambda L: L.tensor([4]).__idiv__(3))


@pytest.mark.parametrize("call", [
    lambda L, t: np.sin(t), lambda L, t: np.greater(t, 0.5), lambda L, t: np.add(t, 1),
    lambda L, t: np.add(np.ones(3), t), lambda L, t: np.exp(L.tensor([1, 2])),
    lambda L, t: np.sin(t[0]), lambda L, t: np.maximum(t, t), lambda L, t: np.float32(2) * t,
    lambda L, t: np.divmod(t, 2)[1],
])
def test_numpy_ufuncs_on_tensors_give_tensors_as_torch(call) -> None:
    # torch's __array_wrap__: the result comes back a tensor (a bool one as uint8)
    def fn(L):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # NumPy's, on torch's signature
            return call(L, L.tensor([0.0, 1.0, 2.0]))
    e, t = fn(ember), fn(torch)
    assert type(e) is ember.Tensor and type(t) is torch.Tensor
    assert_same(e, t)


def test_numpy_ufunc_refusals_as_torch() -> None:
    check_raises_like(lambda L: np.ones(2) * L.tensor([1.0, 2.0]))
    check_raises_like(lambda L: np.sin(L.tensor([1.0], requires_grad=True)))


@pytest.mark.parametrize("require_grad", [False, True])
def test_make_subclass_as_torch(require_grad: bool) -> None:
    def fn(L):
        class Mine(L.Tensor):
            pass
        data = L.tensor([1.0, 2.0], requires_grad=True) * 2
        p = L.Tensor._make_subclass(Mine, data, require_grad)
        q = L.Tensor._make_subclass(L.nn.Parameter, data.detach(), require_grad)
        with L.no_grad():
            data.add_(1)  # the memory and its version counter are shared
        return [type(p).__name__, p.requires_grad, p.grad_fn, p.is_leaf, p.tolist(),
                p._version, type(q).__name__, q.requires_grad, p._base is None]
    assert fn(ember) == fn(torch)
    check_raises_like(
        lambda L: L.Tensor._make_subclass(L.nn.Parameter, L.ones(2, dtype=L.long), True))


_GRAD_MODES = {
    "enable_grad": lambda L: L.enable_grad(), "no_grad": lambda L: L.no_grad(),
    "inference_mode": lambda L: L.inference_mode(),
    "set_grad_enabled(False)": lambda L: L.set_grad_enabled(False),
}


@pytest.mark.parametrize("convert", [float, complex, int, bool, lambda t: t.item()],
                         ids=["float", "complex", "int", "bool", "item"])
@pytest.mark.parametrize("mode", list(_GRAD_MODES))
def test_scalar_of_a_tensor_requiring_grad_warns_as_torch(mode, convert) -> None:
    # torch warns (once a process) from float() and complex() of a tensor that requires grad,
    # leaf or not, in grad mode only: ember warned under no_grad and inference_mode too
    import ember._tensor

    always = torch._C._get_warnAlways()
    torch._C._set_warnAlways(True)  # each case warns, not only the process's first
    try:
        results = []
        for lib in (torch, ember):
            leaf = lib.tensor([2.0], requires_grad=True)
            seen = []
            for t in (leaf, leaf * 3, leaf[0], lib.tensor(2.0)):
                ember._tensor._warned_scalar[0] = False
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    with _GRAD_MODES[mode](lib):
                        value = convert(t)
                # torch's text ends with where in its C++ sources the warning was raised
                seen.append((value, [(w.category, str(w.message).split(" (Triggered")[0])
                                     for w in caught]))
            results.append(seen)
        assert results[1] == results[0]
    finally:
        torch._C._set_warnAlways(always)
