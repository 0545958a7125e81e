"""torch's argument parsing at the tensor core compared with torch: sizes given to factories
(ints only, with torch's wording for each way of getting them wrong), and what the same calls
accept."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import (
    assert_same,
    check_raises_like,
    recording_compared,
    torch,
    torch_or_refused,
)

_BAD_SIZES = [
    "zeros(2.0, 3)", "zeros(2, 3.0)", "zeros((2, 3.0))", "zeros([2.0])", "zeros(size=2.0)",
    "zeros(size=(2.0,))", "zeros(size=(2, 3.0))", "zeros(size=2)", "zeros(size=(True, 2))",
    "zeros(np.float64(2))", "zeros(L.tensor(2.))", "zeros((L.tensor(2.),))",
    "zeros(L.tensor([2, 3]))", "zeros(None)", "zeros((2, None))", "zeros('ab')",
    "zeros((True,))", "zeros(np.array([2, 3]))", "zeros(2, np.float32(3))",
    "zeros(2, L.tensor(3.))", "zeros(2, np.bool_(True))", "zeros(L.Size([2]), 3)",
    "zeros([2], [3])", "zeros(2, -1)", "ones(-1)",
    "ones(2.0, 3.0)", "empty(2.0, memory_format=L.contiguous_format)", "full(2.0, 1.)",
    "full((2, 3.0), 1.)", "full(2, 1.)", "randn(2, 3.0)",
    "rand(size=(2.0,))", "randn(L.tensor(2.))", "tensor(1.).new_zeros(2, 3.0)",
    "tensor(1.).new_ones((2.0,))", "tensor(1.).new_full((2.0,), 1)",
    "tensor(1.).new_full(2, 1)", "tensor(1.).new_empty(2.0)",
    "tensor(1.).new_zeros(size=(2, 3.))", "tensor(1.).new_zeros(size=2)",
]


@pytest.mark.parametrize("call", _BAD_SIZES)
def test_factory_sizes_refused(call):
    check_raises_like(lambda lib: eval(f"L.{call}", {"L": lib, "np": np}))


@pytest.mark.parametrize("call", [
    "zeros()", "ones(dtype=L.float64)", "empty()", "full()", "full(3)", "full((2,))",
    "full(fill_value=2)", "full((2,), dtype=L.float64)", "arange()", "arange(dtype=L.int32)",
    "arange(requires_grad=True)", "eye()", "eye(dtype=L.float64)", "eye(m=3)", "linspace()",
    "linspace(0)", "linspace(0, 1)", "linspace(0, 1, dtype=L.float64)", "logspace(0, 1)",
    "logspace(dtype=L.float64)",
])
def test_factory_arguments_missing(call):
    # torch names what is missing ("arguments" after one, "argument" after several, every one
    # from the first missing), or lists its overloads; ember's arange() gave an empty tensor
    check_raises_like(lambda lib: eval(f"L.{call}", {"L": lib}))


def test_arange_of_end_by_keyword():
    with recording_compared() as run:
        fn = lambda lib: lib.arange(end=3)  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))


@pytest.mark.parametrize("call", ["zeros(2 ** 70)", "zeros(2, 2 ** 63)", "full((2 ** 70,), 1.)"])
def test_factory_sizes_overflow(call):
    # torch's message goes on with its C++ stack after the first line
    with pytest.raises(TypeError) as t_info:
        eval(f"L.{call}", {"L": torch})
    with pytest.raises(TypeError) as e_info:
        eval(f"L.{call}", {"L": ember})
    assert str(e_info.value) == str(t_info.value).split("\n")[0]


@pytest.mark.parametrize("call", [
    "zeros(np.int64(2))", "zeros(L.tensor(2))", "zeros(2, True)", "zeros((2, True))",
    "zeros(2, L.tensor(3))", "zeros(size=L.Size([2]))", "zeros(L.tensor([2]))",
    "zeros((L.tensor(2),))", "zeros(2, L.tensor([3]))", "zeros(np.int32(2), 3)",
    "zeros(())", "full([2, 3], 1.)", "tensor(1.).new_zeros(size=(2, 3))", "empty(2, 3)",
])
def test_factory_sizes_accepted(call):
    with recording_compared() as run:
        fn = lambda lib: eval(f"L.{call}", {"L": lib, "np": np}).zero_()  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))


_BAD_SHAPE_ARGS = [
    "x.view(2.0, 12)", "x.view((2.0, 12))", "x.view(2, 12.0)", "x.view((2, 12.0))",
    "x.view([2.0])", "x.view(None)", "x.view(24.0)", "x.view(np.float64(2), 12)",
    "x.view(True, 24)", "x.view()", "x.reshape(2.0)", "x.reshape(2.0, 12)",
    "x.reshape((2.0, 12))", "x.reshape(2, 12.0)", "x.reshape(shape=(2, 12.0))", "x.reshape()",
    "x.expand(2.0)", "x.expand(2.0, 24)", "x.expand((2.0, 24))", "x.expand(2, 24.0)",
    "x.expand(size=(24.0,))", "x.expand()", "x.repeat(2.0)", "x.repeat(2, 1.0)",
    "x.repeat(repeats=2.0)", "x.repeat()", "x.permute(0.0)", "x.permute((0.0,))",
    "x.permute(dims=(0.0,))", "x.permute()", "x.tile(2.0)", "x.tile((2.0,))", "x.tile(2, 1.0)",
    "x.tile(2.0, 1)", "x.tile(dims=2.0)", "x.tile()", "x.flip(0.0)", "x.flip((0.0,))",
    "x.flip()", "L.reshape(x, (2.0, 12))", "L.reshape(x, 2)", "L.tile(x, 2.0)", "L.tile(x, 2)",
    "L.tile(x, (2.0,))", "L.permute(x, 0.0)", "L.permute(x, (0.0,))", "L.permute(x, 0)",
    "L.flip(x, 0.0)", "x.flip(dims=0)", "x.permute(dims=0)", "x.expand(size=24)",
    "x.reshape(shape=24)",
]


@pytest.mark.parametrize("call", _BAD_SHAPE_ARGS)
def test_shape_method_ints_refused(call):
    check_raises_like(lambda lib: eval(call, {"L": lib, "np": np, "x": lib.arange(24.)}))


@pytest.mark.parametrize("call", [
    "x.view(L.tensor(2), 12)", "x.reshape(L.tensor(2), 12)", "x.view(2, L.tensor(12))",
    "x.reshape(24, True)", "x.reshape(np.int64(2), 12)", "x.tile(2, 1)", "x.tile(2)",
    "x.tile((2,))", "x.tile(dims=(2,))", "x.flip(0)", "x.flip([0])",
    "x.view(size=(2, 12))", "x.view(L.Size([2, 12]))", "x.expand(2, -1)", "x.repeat((2, 1))",
    "x.permute([0])", "x.view(dtype=L.int32)", "L.tensor(1.).flip(())",
    "L.tensor(1.).permute(())", "L.tensor(1.).reshape(())",
])
def test_shape_method_ints_accepted(call):
    with recording_compared() as run:
        fn = lambda lib: eval(call, {"L": lib, "np": np, "x": lib.arange(24.)})  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))


_NUMBER_FIRST = ["eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less", "less_equal",
                 "greater", "greater_equal", "fmod", "copysign", "rsub", "atan2", "arctan2",
                 "dot", "vdot", "mm", "bmm", "matmul", "outer", "inner", "kron", "cross",
                 "dist", "complex", "polar"]


@pytest.mark.parametrize("args", ["2, x", "2.5, x", "2, 3", "True, x"])
@pytest.mark.parametrize("name", _NUMBER_FIRST)
def test_number_where_torch_takes_a_tensor(name, args):
    """torch.eq(2, x) and the like: torch's parser error, its overloads listed where the
    function has several."""
    check_raises_like(lambda lib: eval(f"L.{name}({args})",
                                       {"L": lib, "x": lib.arange(1., 4.)}))


@pytest.mark.parametrize("call", ["L.lerp(2, x, 0.5)", "L.lerp(x, 2, 0.5)"] + [
    f"L.{name}(x, 2)" for name in _NUMBER_FIRST[14:]])
def test_number_second_refused(call):
    check_raises_like(lambda lib: eval(call, {"L": lib, "x": lib.arange(1., 4.)}))


@pytest.mark.parametrize("call", ["L.add(2, x)", "L.mul(2.5, x)", "L.sub(2, x)",
                                  "L.div(2, x)", "L.eq(x, 2)", "L.greater(x, 2.5)",
                                  "L.fmod(x, 2)", "L.rsub(x, 2)"])
def test_number_where_torch_takes_one(call):
    with recording_compared() as run:
        fn = lambda lib: eval(call, {"L": lib, "x": lib.arange(1., 4.)})  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))


_SORT_CALLS = [
    "L.sort(t, 1, stable=True)", "L.sort(t, stable=True)", "L.sort(t, 1, True)",
    "L.sort(t, 1, True, stable=True)", "L.sort(t, dim=1, descending=True, stable=False)",
    "L.sort(t, True)", "L.sort(t, stable=None)", "L.sort(t, 1, stable=None)",
    "L.sort(t, True, 1)", "L.sort(t, dim=1.0)", "L.sort(t, 1.0)", "L.sort(t, stable=1)",
    "L.sort(t, descending=1)", "L.sort(t, 0, False, True)", "L.sort(t, dim=None)",
    "L.sort(t, descending=None)", "L.sort(t, np.int64(0))", "t.sort(1, stable=True)",
    "t.sort(stable=True)", "t.sort(1, True)", "t.sort(True)", "t.sort(1, True, stable=True)",
    "t.sort(0, False, True)", "t.sort(dim=1.0)", "t.sort(stable=None)",
    "L.argsort(t, 1, True)", "L.argsort(t, 1, stable=True)", "L.argsort(t, stable=True)",
    "L.argsort(t, 1, True, stable=True)", "L.argsort(t, 1, True, True)",
    "L.argsort(t, True)", "L.argsort(t, dim=1.0)", "t.argsort(1, True)",
    "t.argsort(stable=True)", "t.argsort(1, True, True)", "t.argsort(True)",
    "t.argsort(dim=0, descending=True)",
]


@pytest.mark.parametrize("call", _SORT_CALLS)
def test_sort_signatures(call):
    """sort and argsort take ``stable`` only with dim and descending as keywords."""
    def fn(lib):
        t = lib.tensor([[3., 1., 2.], [0., 5., 4.]], requires_grad=True)
        out = eval(call, {"L": lib, "t": t, "np": np})
        return (out.values, out.indices, out.values.grad_fn.name()) if isinstance(
            out, tuple) else (out,)

    t_out = torch_or_refused(fn, TypeError)
    if t_out is None:
        return
    with recording_compared() as run:
        e_out = run(ember, fn)
        run(torch, fn)
    for e, t in zip(e_out, t_out):
        if isinstance(t, str):
            assert e == t
        else:
            assert_same(e, t)


_WRONG_GENERATORS = [
    "L.randperm(5, generator=5)", "L.randperm(5, generator='a')",
    "L.randperm(5, generator=5, dtype=L.int32)", "L.rand(2, generator=5)",
    "L.rand(2, 3, generator=5)", "L.rand((2, 3), generator=5)",
    "L.rand(size=(2, 3), generator=5)", "L.randn(2, generator=5)",
    "L.randint(5, (2,), generator=5)", "L.randint(0, 5, (2,), generator=1.0)",
    "L.normal(0., 1., (2,), generator=5)", "L.normal(x, 1., generator=5)",
    "L.normal(x, x, generator=5)", "L.multinomial(x, 2, True, generator=5)",
    "L.bernoulli(x * .5, generator=5)", "L.bernoulli(x, 0.5, generator=5)",
    "x.bernoulli_(0.5, generator=5)", "x.bernoulli_(x, generator=5)",
    "x.uniform_(generator=5)", "x.normal_(generator=5)", "L.poisson(x, generator=5)",
    "x.random_(generator=5)", "x.random_(5, generator=5)", "x.random_(1, 5, generator=5)",
    "x.exponential_(generator=5)", "x.cauchy_(generator=5)", "x.log_normal_(generator=5)",
    "x.geometric_(0.5, generator=5)", "L.rand_like(x, generator=5)",
    "L.randn_like(x, generator=5)", "L.randperm(5.0)", "L.randperm(True)",
    "L.randperm(None)",
]


@pytest.mark.parametrize("call", _WRONG_GENERATORS)
def test_generator_must_be_a_generator(call):
    """torch.randperm(5, generator=5) and the like: torch's TypeError, not an error from
    inside the draw."""
    check_raises_like(lambda lib: eval(call, {"L": lib, "x": lib.ones(3)}))


@pytest.mark.parametrize("call", ["L.randperm(L.tensor(3))", "L.randperm(np.int64(3))",
                                  "L.randperm(3, generator=None)"])
def test_randperm_n_accepted(call):
    with recording_compared() as run:
        fn = lambda lib: eval(call, {"L": lib, "np": np}).sort().values  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))


# ints, int lists and narrow's start as torch's parser reads them, as a method (positions
# after self) and as a function (positions from input); NOTE [Method argument positions]
_INT_ARGUMENT_CALLS = {
    "topk": ["'a'", "1.5", "True", "1, 0.0", "L.tensor(1)", "np.int64(1)", "L.tensor(1.)", "2"],
    "kthvalue": ["1.5", "True", "1, 0.5", "L.tensor(1)", "1"],
    "flatten": ["'a'", "0.0", "0, 'a'", "0, 1"],
    "unsqueeze": ["1.0", "True", "L.tensor(0)", "L.tensor(0.)", "np.int32(0)", "np.float64(0)",
                  "None", "[0]"],
    "narrow": ["0, 0.5, 1", "0, 0, 1.0", "0.0, 0, 1", "0, L.tensor(0), 1",
               "0, L.tensor(0.), 1", "1, 0, 2"],
    "split": ["1.5", "None", "'a'", "np.int64(2)", "L.tensor(2)", "[1.5, 2.5]", "[1, 2], 0.5",
              "[1, 2]", "1"],
    "split_with_sizes": ["2", "np.int64(2)", "1.5", "[1.5, 1.5]", "[1, 2]", "[1, 2], 0.5"],
    "chunk": ["2.0", "None", "L.tensor(2)", "2, 0.5", "2"],
    "roll": ["1.5", "(1, 1.5), (0, 1)", "1, (0.5,)", "True", "L.tensor(2)", "np.int64(2)",
             "None", "1, True", "[1, True], [0, 0]", "1, None", "1, 0.5", "1, 1"],
}


@pytest.mark.parametrize("method", [True, False])
@pytest.mark.parametrize("call", [f"{name}({args})" for name, calls in
                                  _INT_ARGUMENT_CALLS.items() for args in calls])
def test_int_arguments_as_torch_reads_them(call: str, method: bool) -> None:
    # kthvalue(1.5), chunk(2.0), narrow(0, 0.5, 1) and split(1.5) ran with the float where
    # torch refuses it; the others raised Python's own errors
    name, args = call.split("(", 1)
    source = f"x.{call}" if method else f"L.{name}(x, {args}"

    def fn(L):
        result = eval(source, {"L": L, "np": np, "x": L.tensor([[3., 1., 2.], [0., 5., 4.]])})
        return tuple(result) if isinstance(result, (tuple, list)) else (result,)
    t = torch_or_refused(fn, TypeError, RuntimeError, IndexError)
    if t is not None:
        for e_part, t_part in zip(fn(ember), t, strict=True):
            assert_same(e_part, t_part)


@pytest.mark.parametrize("call", [
    "L.zeros(()).size(0)", "L.zeros(()).size(-1)", "L.zeros(()).stride(0)",
    "L.zeros(()).size('a')", "L.zeros(2).size(1.0)", "L.zeros(2, 3).stride('a')",
    "L.zeros(2, 3).size(-1)", "L.zeros(2, 3).size(dim=1)", "L.zeros(2).size(L.tensor(0))",
    "L.tensor([I(1), I(2)])", "L.tensor(I(3))", "L.tensor([F(1.5)])", "L.tensor([E.A, E.B])",
    "L.tensor(E.B)", "L.as_tensor([E.A])", "L.tensor([[I(1)], [2]])", "L.tensor([True, I(2)])",
    "L.tensor(F(2.5), dtype=L.int64)", "L.tensor([I(3), 1.5])",
])
def test_sizes_of_0d_tensors_and_number_subclasses(call: str) -> None:
    # size(0)/stride(0) of a 0-d tensor leaked "tuple index out of range", size(1.0) ran; a
    # subclass of int or float (an IntEnum member) could not make a tensor
    import enum

    class Int(int):
        pass

    class F(float):
        pass

    class E(enum.IntEnum):
        A = 1
        B = 2

    def fn(L):
        result = eval(call, {"L": L, "I": Int, "F": F, "E": E})
        return result if isinstance(result, L.Tensor) else L.tensor(result)
    t = torch_or_refused(fn, TypeError, IndexError)
    if t is not None:
        assert_same(fn(ember), t)


@pytest.mark.parametrize("name", [
    "abs", "acos", "asinh", "atan", "bitwise_not", "ceil", "celu", "clone", "cos", "digamma",
    "erf", "erfinv", "exp", "exp2", "expm1", "floor", "frac", "i0", "isfinite", "isnan",
    "lgamma", "log", "log1p", "logical_not", "logit", "nan_to_num", "neg", "reciprocal", "relu",
    "round", "rsqrt", "sgn", "sigmoid", "sign", "sin", "sinc", "sqrt", "tanh", "trunc",
])
@pytest.mark.parametrize("value", [3.0, 2, np.float32(2), None])
def test_one_input_ops_refuse_numbers(name: str, value) -> None:
    # torch.exp(3.0) leaked "AttributeError: 'float' object has no attribute '_data'"; torch's
    # parser says "exp(): argument 'input' (position 1) must be Tensor, not float"
    check_raises_like(lambda L: getattr(L, name)(value))


@pytest.mark.parametrize("name", [
    "cholesky_solve", "diagonal_scatter", "expand_as", "is_same_size", "masked_select", "orgqr",
    "prelu", "reshape_as", "slice_scatter", "take", "take_along_dim", "triangular_solve",
    "type_as", "view_as",
])
@pytest.mark.parametrize("method", [True, False])
@pytest.mark.parametrize("value", [None, 2.5, np.float32(1), [1]])
def test_tensor_arguments_refuse_non_tensors(name: str, method: bool, value) -> None:
    # x.view_as(None), x.take([1]), torch.masked_select(x, None) and the others leaked
    # AttributeError ('NoneType' object has no attribute '_data'); torch's parser names the
    # argument, at the method's position or the function's (NOTE [Method argument positions])
    if not method and not hasattr(torch, name):
        return  # a method only, in torch as in ember

    def fn(L):
        x = L.ones(2, 2)
        return getattr(x, name)(value) if method else getattr(L, name)(x, value)
    check_raises_like(fn)


@pytest.mark.parametrize("call", [
    "L.broadcast_shapes((2,), L.Size([3]))", "L.broadcast_shapes((2,), [3])",
    "L.broadcast_shapes(2, 3)", "L.broadcast_shapes((2, 3), (4, 3))",
])
def test_broadcast_shapes_names_the_argument_as_given(call: str) -> None:
    # torch's message shows the argument as given (torch.Size([3]), [3]); ember a tuple
    check_raises_like(lambda L: eval(call, {"L": L}))


_NAMESPACES = ["", "nn.functional", "linalg", "fft", "special"]
_PARSER_TEXT = re.compile(r"\w+\(\): argument '\w+' \(position 1\) must be Tensor, not \w+"
                          r"|expected Tensor as element \d+ in argument 0, but got \w+")
# not called: given a number or None they change the process's state in torch (print
# precision, seeds, threads, default dtype/device, grad mode...) rather than refuse it
_SETS_STATE = re.compile(r"set_|use_|manual_seed|seed$|load$|save$|compile$")
_MISSING_TEXT = re.compile(r"missing \d+ required (keyword-only|positional) argument")


def _namespace(L, path: str):
    for part in filter(None, path.split(".")):
        L = getattr(L, part)
    return L


@pytest.mark.parametrize("path", _NAMESPACES)
def test_public_functions_refuse_non_tensors(path: str) -> None:
    # torch.sum(3.0), torch.sin_(None), torch.linalg.det([1.]) and ~230 more leaked
    # AttributeError ('float' object has no attribute '_data'): every function torch refuses
    # a number, None or list as its first argument with a TypeError refuses it with one too,
    # in torch's words where its parser names the argument (derived from torch's namespaces,
    # so a function added later is checked as well)
    if torch is None:
        pytest.skip("needs torch")
    T, E = _namespace(torch, path), _namespace(ember, path)
    wrong = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(dir(T)):
            e = getattr(E, name, None)
            if name.startswith("_") or not callable(e) or isinstance(e, type) or \
                    _SETS_STATE.match(name):
                continue
            for value in (3.0, None, [1.0]):
                try:
                    getattr(T, name)(value)
                    continue
                except TypeError as error:
                    expected = str(error)
                except Exception:
                    continue
                try:
                    e(value)
                    got = "no error"
                except TypeError as error:
                    # torch's parser names the wrong type before it counts the arguments;
                    # Python counts first: either is a TypeError, the texts differ
                    got = (str(error) if _PARSER_TEXT.fullmatch(expected)
                           and not _MISSING_TEXT.search(str(error)) else expected)
                except Exception as error:
                    got = f"{type(error).__name__}: {error}"
                if got != expected:
                    wrong.append(f"{path}.{name}({value!r}): {got!r}, torch {expected!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("call", [
    "x.addmm(0, m)", "x.addmm(m, None)", "x.addmm_(0, m)", "L.addmm(x, 0, m)",
    "L.addmm(x, m, None)", "x.addbmm(b, 0)", "x.addbmm_(None, b)", "x.baddbmm(0, b)",
    "x.baddbmm_(b, [1])", "L.baddbmm(x, b, 2)", "x.addmv(0, v)", "x.addmv_(m, None)",
    "L.addmv(x, m, 2.5)", "x.addr(0, v)", "x.addr_(v, None)", "L.addr(x, v, 0)",
    "x.index_add(0, None, x)", "x.index_add_(0, i, 2)", "x.index_copy(0, 1, x)",
    "x.index_copy_(0, i, None)", "x.index_fill(0, None, 1.)", "x.index_fill_(0, 1, 1.)",
    "x.index_select(0, None)", "L.index_select(x, 0, [0])", "x.masked_fill(0, 1.)",
    "x.masked_fill_(None, 1.)", "x.masked_scatter(0, x)", "x.masked_scatter_(x > 0, None)",
    "x.put(0, x)", "x.put_(i, None)", "x.lu_solve(0, i)", "x.ormqr(0, x)", "x.where(0, x)",
    "x.where(x > 0, None)", "L.where(x > 0, x, None)", "L.where(x > 0, None, x)",
    "x.softmax(0, dtype=2.5)", "L.log_softmax(x, 0, dtype='a')",
    "L.nn.functional.softmax(x, 0, dtype=2.5)", "L.special.softmax(x, 0, dtype=2.5)",
])
def test_tensor_arguments_after_the_first_refused(call: str) -> None:
    # each leaked AttributeError ('int' object has no attribute '_data') or, for where's
    # None, computed; torch's parser names the argument at the method's or the function's
    # position (where: its overloads, whose lines on why each did not match ember leaves out)
    def fn(L):
        x, m, b, v = L.ones(2, 2), L.eye(2), L.ones(1, 2, 2), L.ones(2)
        i = L.tensor([0, 1])
        return eval(call, {"L": L, "x": x, "m": m, "b": b, "v": v, "i": i})
    with pytest.raises(Exception) as t_info:  # noqa: B017 - any exception torch raises
        fn(torch)
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember)
    if "received an invalid combination" not in str(t_info.value):
        assert str(e_info.value) == str(t_info.value)
    else:
        assert str(e_info.value).split(", but expected one of:")[0] == \
            str(t_info.value).split(", but expected one of:")[0]


@pytest.mark.parametrize("call", [
    "L.set_autocast_enabled('cpu', 3.0)", "L.set_autocast_enabled('cpu', 1)",
    "L.set_autocast_enabled('cpu', None)", "L.set_autocast_enabled(3.0)",
    "L.set_autocast_dtype('cpu', 3.0)", "L.set_autocast_dtype(3.0, L.float16)",
    "L.set_autocast_cpu_enabled(1)", "L.set_autocast_cpu_dtype(3.0)",
    "L.set_autocast_cache_enabled(1)", "L.set_rng_state(3.0)", "L.set_rng_state([1.0])",
])
def test_state_setters_refuse_other_types(call: str) -> None:
    # the autocast setters took any value (set_autocast_enabled('cpu', 1) enabled it);
    # set_rng_state(3.0) raised RuntimeError where torch's is a TypeError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_raises_like(lambda L: eval(call, {"L": L}))


@pytest.mark.parametrize("call", [
    "x.select(True, 0)", "L.select(x, 0, True)", "x.select(0, 1.0)", "x.transpose(True, 0)",
    "L.transpose(x, 0, True)", "x.transpose(0, 1.0)", "L.swapdims(x, 0, True)",
    "x.swapdims(0, True)", "x.swapaxes(True, 0)", "L.swapaxes(x, 0, 1.5)",
    "x.clone().transpose_(0, True)", "x.clone().swapaxes_(0, True)",
    "x.clone().swapdims_(True, 0)", "L.diagonal(x, 0, 0, True)", "x.diagonal(0, 0, True)",
    "x.diagonal(True)", "x.diag_embed(0, 0, True)", "L.diag_embed(x, 0.5)",
    "x.diff(1, True)", "L.diff(x, 1, True)", "x.diff(True)", "x.diff(n=1.5)",
])
def test_bools_and_floats_refused_where_torch_reads_ints(call: str) -> None:
    # each took True as 1 (x.transpose(0, True) transposed dims 0 and 1, L.select(x, 0,
    # True) indexed with a new axis) or leaked Python's own error for a float; torch's parser
    # refuses both at the method's or the function's position
    check_raises_like(lambda L: eval(call, {"L": L, "x": L.ones(2, 3, 4)}))


@pytest.mark.parametrize("call", [
    "L.tensor([1 + 1j]).polygamma(0)", "L.polygamma(1, L.tensor([1 + 1j]))",
    "L.polygamma(2, L.tensor([1j], dtype=L.complex128))", "L.tensor([1.]).igamma_(0)",
    "L.tensor([1.]).igammac_(2.0)", "L.ones(2).register_post_accumulate_grad_hook(print)",
    "L.tensor([True, False]).nanmedian(0)", "L.ones(2, 3, dtype=L.bool).expand(0)",
    "L.ones(2, 3, dtype=L.complex64).broadcast_to((0,))",
    "L.ones(2, 3, dtype=L.bfloat16).expand(0)", "L.ones(2, 3, dtype=L.uint16).expand(0)",
    "L.ones(2, 3, dtype=L.float16).expand(0)", "L.tensor(1.).unbind(1)",
    "L.tensor(1.).unbind(0)", "L.tensor([1]).bincount(0)", "L.bincount(L.tensor([1]), 0)",
    "L.ones(2).to(0)", "L.ones(2).to(-1)", "L.ones(2).to(1, L.float64)",
])
def test_refused_as_torch_where_the_method_sweep_differed(call: str) -> None:
    # polygamma of complex and the in-place igammas of a number computed; a post-accumulate
    # hook was registered on a tensor that needs no gradient; the rest raised other errors
    # or texts (expand names bool, complex, bfloat16 and the wide unsigned types as torch's
    # C++ does: CPUBoolType, not torch.BoolTensor)
    check_raises_like(lambda L: eval(call, {"L": L}))


@pytest.mark.parametrize("call", [
    "L.qr(x, 0)", "x.qr(0)", "x.qr(some=0)", "L.svd(x, 0)", "x.svd(1)", "L.svd(x, True, 0)",
    "x.svd(True, 1)", "x.svd(some=1)", "L.cholesky(x, 0)", "x.cholesky(1)",
    "x.cholesky(upper=1)", "L.cholesky_inverse(x, 0)", "x.cholesky_inverse(0)", "L.lu(x, 0)",
    "x.lu(0)", "L.unique(x, 0)", "x.unique(sorted=0)", "x.unique(True, 0)",
    "x.unique(True, False, 1)", "x.unique(0, dim=0)", "L.unique_consecutive(x, 0)",
    "x.unique_consecutive(False, 1)", "L.copysign(L.tensor([1j]), 1.)",
    "L.tensor([1.]).copysign(L.tensor([1j]))",
])
def test_ints_refused_where_torch_reads_bools(call: str) -> None:
    # each took 0 or 1 as a bool (x.qr(0) gave the complete factors); copysign of complex
    # leaked NumPy's TypeError where torch's kernel refuses it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.qr/svd/lu/cholesky are deprecated
        check_raises_like(lambda L: eval(call, {"L": L, "x": L.eye(2)}))


@pytest.mark.parametrize("call", [
    "x.cumsum(None)", "L.cumsum(x, None)", "x.cumprod(1.5)", "x.cummax(None)",
    "L.cummin(x, True)", "x.logcumsumexp(None)", "x.cumsum(dim=None)",
])
def test_scans_read_their_dim_as_torch(call: str) -> None:
    # None leaked Python's "'<=' not supported between 'int' and 'NoneType'", a bool was 1
    check_raises_like(lambda L: eval(call, {"L": L, "x": L.ones(2, 3)}))
