"""torch's legacy tensor types (FloatTensor, LongTensor, ...), Tensor.type, typename, and
the public names ember's classes print with. torch is the oracle."""
from __future__ import annotations

import subprocess
import sys

import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

_TYPES = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
          "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", _TYPES)
@pytest.mark.parametrize("args", [([1, 2],), ([[1.5, 2.0]],), ((1, 0),), ([True, False],),
                                  (2, 3), (ember.Size([2]),), (), ([],)])
def test_legacy_constructor_matches_torch(name: str, args) -> None:
    t_args = tuple(torch.Size(a) if isinstance(a, ember.Size) else a for a in args)
    t = getattr(torch, name)(*t_args)
    e = getattr(ember, name)(*args)
    assert type(e) is ember.Tensor
    if not args or type(args[0]) in (list, tuple):
        assert_same(e, t)
    else:  # from sizes: torch leaves the memory uninitialised, so only shape and dtype
        assert tuple(e.shape) == tuple(t.shape) and repr(e.dtype) == repr(t.dtype)
    assert e.type() == t.type() == f"torch.{name}"
    assert not e.requires_grad


@pytest.mark.parametrize("call", [
    lambda L: L.FloatTensor("a"), lambda L: L.FloatTensor(2, "a"), lambda L: L.FloatTensor(-1),
    lambda L: L.FloatTensor(2, 3.0), lambda L: L.FloatTensor(L.tensor([1, 2])),
    lambda L: L.LongTensor([1], device="cuda"),
])
def test_legacy_constructor_refusals_match_torch(call) -> None:
    check_raises_like(call)


def test_legacy_constructor_from_tensor_shares_memory() -> None:
    for L in (torch, ember):
        a = L.tensor([1.0, 2.0])
        b = L.FloatTensor(a)
        b[0] = 5.0
        assert a[0].item() == 5.0


@pytest.mark.parametrize("name", _TYPES)
def test_isinstance_against_legacy_types_matches_torch(name: str) -> None:
    for dtype in ("float32", "float64", "int64", "bool", "uint8", "bfloat16"):
        t = torch.zeros(2, dtype=getattr(torch, dtype))
        e = ember.zeros(2, dtype=getattr(ember, dtype))
        assert isinstance(e, getattr(ember, name)) == isinstance(t, getattr(torch, name))
    assert not isinstance(1.0, getattr(ember, name))
    assert issubclass(getattr(ember, name), ember.Tensor) == issubclass(
        getattr(torch, name), torch.Tensor)
    assert getattr(ember, name).dtype is getattr(ember, repr(getattr(torch, name).dtype)[6:])
    assert getattr(ember, name).is_cuda is False


@pytest.mark.parametrize("target", ["LongTensor", "DoubleTensor", "BoolTensor", "FloatTensor",
                                    "torch.DoubleTensor", "torch.IntTensor",
                                    "torch.ComplexFloatTensor", "int32", "Tensor"])
def test_tensor_type_conversion_matches_torch(target: str) -> None:
    def convert(L, x):
        if target.startswith("torch."):
            return x.type(target)
        return x.type(getattr(L, target))

    x_t = torch.tensor([0.5, 1.5, -2.0], requires_grad=True)
    x_e = ember.tensor([0.5, 1.5, -2.0], requires_grad=True)
    t, e = convert(torch, x_t.double()), convert(ember, x_e.double())
    assert_same(e, t)
    assert e.type() == t.type()
    assert (e.grad_fn is None) == (t.grad_fn is None)
    if t.grad_fn is not None:
        assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__


def test_tensor_type_keeps_the_tensor_when_nothing_changes() -> None:
    for L in (torch, ember):
        x = L.ones(2)
        assert x.type(L.FloatTensor) is x and x.type("torch.FloatTensor") is x
        assert x.type(L.float32) is x


@pytest.mark.parametrize("target", ["torch.float64", "torch.Foo", 3])
def test_tensor_type_refusals_match_torch(target) -> None:
    check_raises_like(lambda L: L.ones(2).type(target))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "int32",
                                   "int16", "int8", "uint8", "bool", "complex64", "complex128"])
def test_type_names_and_typename_match_torch(dtype: str) -> None:
    t = torch.zeros(1, dtype=getattr(torch, dtype))
    e = ember.zeros(1, dtype=getattr(ember, dtype))
    assert e.type() == t.type()
    assert ember.typename(e) == torch.typename(t)


def test_typename_of_classes_and_objects() -> None:
    for obj in (1, 2.5, "s", int, [1]):
        assert ember.typename(obj) == torch.typename(obj)
    # ember's classes are ember's: torch's spelling with ember in place of torch
    for name in ("Tensor", "FloatTensor", "LongTensor"):
        assert ember.typename(getattr(ember, name)) == torch.typename(
            getattr(torch, name)).replace("torch", "ember")


@pytest.mark.parametrize("expr", [
    "type(L.rand(2))", "L.Tensor", "L.Size", "L.dtype", "L.device", "type(L.float32)",
    "type(L.Size([1]))", "type(L.device('cpu'))", "L.FloatTensor", "type(L.FloatTensor)",
    "L.finfo", "L.iinfo",
])
def test_public_classes_print_as_torchs_with_ember_in_place(expr: str) -> None:
    t = eval(expr, {"L": torch})  # noqa: S307 - fixed test expressions
    e = eval(expr, {"L": ember})  # noqa: S307
    assert repr(e) == repr(t).replace("torch", "ember")
    assert "._" not in repr(e)


def test_generator_prints_with_a_public_name() -> None:
    assert repr(ember.Generator) == "<class 'ember.Generator'>"
    assert type(ember.Generator()) is ember.Generator


def test_the_issue_one_liner_prints_what_torch_prints() -> None:
    code = ("import {} as torch; x = torch.rand(2, 2); "
            "print(type(x), torch.cuda.is_available(), torch.FloatTensor([1]).type())")
    outs = [subprocess.run([sys.executable, "-c", code.format(lib)], capture_output=True,
                           text=True, check=True).stdout for lib in ("torch", "ember")]
    assert outs[1] == outs[0].replace("torch.Tensor", "ember.Tensor")
    assert outs[1] == "<class 'ember.Tensor'> False torch.FloatTensor\n"


@pytest.mark.parametrize("make", [
    lambda L, x: L.Tensor(x), lambda L, x: L.FloatTensor(x),
    lambda L, x: type("Sub", (L.Tensor,), {})(x)])
@pytest.mark.parametrize("grad_mode", [True, False])
def test_legacy_constructor_of_a_tensor_is_an_alias_as_torch(make, grad_mode: bool) -> None:
    # torch's alias: a view of the same memory that keeps the history (AliasBackward0)
    def fn(L):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        with L.set_grad_enabled(grad_mode):
            y = make(L, x)
        seen = [y._is_view(), y._base is x, y.requires_grad, y.is_leaf,
                y.grad_fn.name() if y.grad_fn is not None else None,
                repr(y).replace("ember", "torch")]
        with L.no_grad():
            x[0] = 5.0
        seen.append(y.tolist())
        if grad_mode:
            (y * L.tensor([2.0, 3.0])).sum().backward()
            seen.append(x.grad.tolist())
        return seen
    assert fn(ember) == fn(torch)


def test_legacy_constructor_of_an_int_tensor_as_torch() -> None:
    def fn(L):
        i = L.tensor([1, 2])
        return [L.Tensor(i).dtype == L.int64, L.Tensor(i)._base is i, L.LongTensor(i)._is_view()]
    assert fn(ember) == fn(torch)
    check_raises_like(lambda L: L.DoubleTensor(L.ones(2)))


@pytest.mark.parametrize("data", [[1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], [], [0.5] * 30])
def test_subclass_prints_its_name_as_torch(data) -> None:
    def fn(L):
        sub = type("MyTensor", (L.Tensor,), {})
        plain = sub(data)
        return [repr(plain), str(plain), repr(sub(L.tensor(data, dtype=L.float64))),
                repr(L.nn.Parameter(L.ones(2)))]
    assert [s.replace("ember", "torch") for s in fn(ember)] == fn(torch)
