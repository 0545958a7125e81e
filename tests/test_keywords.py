"""The keyword audit: each public function of ``torch``, ``torch.linalg``, ``torch.special``
and ``torch.fft`` that ember provides takes the keyword names torch's takes, and no others.

torch's names come from torch itself. For its Python functions, ``inspect.signature``. For
its builtins (bound by its argument parser), the names it declares (its generated stubs
``torch/_C/_VariableFunctions.pyi`` for the ``torch`` namespace, the registered aten schemas
for the submodules) are only candidates: the stubs keep named-tensor overloads the parser no
longer binds (``full(names=)``), the schemas list ``out`` overloads that have no Python
binding (``linalg.matrix_exp``) and lack the ``requires_grad`` the parser adds to factories
(``fft.fftfreq``). So each candidate is put to the parser itself (NOTE [Asking torch's
parser]). ember's names come from ``inspect.signature``. Functions ember lacks are left to
the coverage registry.
"""
from __future__ import annotations

import ast
import inspect
import os
import re
import types

import numpy as np
import pytest

import ember
from tests.helpers import assert_raises_like, assert_same, check_raises_like, torch

NAMESPACES = ("", "linalg.", "special.", "fft.")
_P = inspect.Parameter


def _stub_names() -> dict:
    path = os.path.join(os.path.dirname(torch._C.__file__), "_C", "_VariableFunctions.pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    names: dict = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            # the argument parser binds a Tensor ``self`` of the aten schema as ``input``
            names.setdefault(node.name, set()).update(
                "input" if x.arg == "self" else x.arg for x in a.args + a.kwonlyargs)
    return names


_STUBS = _stub_names()


def _schema_names(name: str) -> set | None:
    schemas = torch._C._jit_get_schemas_for_operator("aten::" + name)
    if not schemas:
        return None
    names = set()
    for s in schemas:
        for a in s.arguments:
            # an out overload's outputs are bound together as ``out``
            written = a.kwarg_only and a.alias_info is not None and a.alias_info.is_write
            names.add("out" if written else "input" if a.name == "self" else a.name)
    return names


# NOTE [Asking torch's parser]
# Whether torch's parser binds keyword ``k`` is read from the error it raises for a call
# that passes ``k`` an object no parameter accepts, after positional arguments that satisfy
# the required parameters (found the same way, from its "missing ... arguments" and
# "argument 'x' (position i) must be T" errors). The call never runs the function. It
# names ``k`` ("argument 'k' must be ...") when ``k`` is bound, says "unexpected keyword
# argument 'k'" when it is not, lists the overloads' signatures when several could match,
# and "takes no keyword arguments" for a function that binds none.
class _Probe:
    pass


_VALUES = {"Tensor": lambda: torch.ones(2, 2), "int": lambda: 1, "float": lambda: 1.0,
           "tuple of ints": lambda: (2,), "Number": lambda: 1.0, "bool": lambda: False,
           "str": lambda: "x", "tuple of Tensors": lambda: (torch.ones(2),),
           "torch.dtype": lambda: torch.float32}


def _parser_error(fn, args: list, keyword: str) -> str:
    try:
        fn(*args, **{keyword: _Probe()})
    except TypeError as e:
        return str(e)
    except Exception:  # noqa: BLE001 - the parser bound the call; the kernel refused it
        return ""
    return ""


def _required_positionals(fn) -> list:
    args: list = []
    for _ in range(8):
        error = _parser_error(fn, args, "_no_such_keyword")
        position = re.search(r"argument '\w+' \(position (\d+)\) must be (.+?), not", error)
        if re.search(r"missing \d+ required positional argument", error) or (
                "unrecognized keyword arguments" in error and len(args) < 3):
            args.append(torch.ones(2, 2))
        elif position and int(position[1]) <= len(args) and position[2] in _VALUES:
            args[int(position[1]) - 1] = _VALUES[position[2]]()
        else:
            break
    return args


def _binds(fn, args: list, keyword: str) -> bool | None:
    """Whether torch's parser binds ``keyword`` for ``fn`` (None: its error does not say)."""
    error = _parser_error(fn, args, keyword)
    if "takes no keyword arguments" in error or f"unexpected keyword argument '{keyword}'" in \
            error or re.search(rf"unrecognized keyword arguments: .*\b{keyword}\b", error):
        return False
    if not error or f"'{keyword}'" in error:
        return True
    if "invalid combination of arguments" in error:
        signatures = re.findall(r"^ \* \((.*)\)$", error, re.M)
        return keyword in {name for s in signatures
                           for name in re.findall(r"(\w+)(?: = [^,]*)?(?:,|$)", s)}
    return None


def _builtin_keywords(fn, declared: set, ember_names: set) -> set:
    args = _required_positionals(fn)
    names = set()
    for keyword in declared | ember_names | {"requires_grad"}:
        binds = _binds(fn, args, keyword)
        # a declared name stays unless the parser refuses it; any other must be shown bound
        if binds or (binds is None and keyword in declared):
            names.add(keyword)
    return names


def torch_keywords(fn, module, ember_names: set) -> set | None:
    """The names torch's Python binding of ``fn`` accepts as keywords (None: unknown)."""
    if isinstance(fn, types.BuiltinFunctionType):
        declared = _STUBS.get(fn.__name__) if module is torch else _schema_names(fn.__name__)
        return None if declared is None else _builtin_keywords(fn, declared, ember_names)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is _P.VAR_KEYWORD for p in params):
        return None  # torch's function passes its keywords on: no names of its own to compare
    return {p.name for p in params if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}


# torch's argument parser also binds NumPy's names for these (``torch.sum(x, axis=0)``), so
# ember may accept them beside torch's own (test_numpy_aliases_match_torch checks them).
ALIASES = {"input": {"x", "a", "x1"}, "other": {"x2"}, "dim": {"axis"}, "keepdim": {"keepdims"}}


def ember_keywords(fn) -> tuple:
    """(the names ember's ``fn`` accepts as keywords, whether it passes any others on)."""
    params = inspect.signature(fn).parameters.values()
    return ({p.name for p in params if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)},
            any(p.kind is _P.VAR_KEYWORD for p in params))


def _module(name: str):
    module = torch
    for part in name.split(".")[:-1]:
        module = getattr(module, part)
    return module


def _public(names: set) -> set:
    # a leading underscore marks a parameter private to the library (``save``'s
    # ``_use_new_zipfile_serialization``): not part of the API either side mirrors
    return {n for n in names if not n.startswith("_")}


def _functions() -> dict:
    found = {}
    for prefix in NAMESPACES:
        module = _module(prefix + "x")
        for name in dir(module):
            fn = getattr(module, name)
            if name.startswith("_") or not isinstance(
                    fn, (types.BuiltinFunctionType, types.FunctionType)):
                continue
            obj = ember
            for part in (prefix + name).split("."):
                obj = getattr(obj, part, None) if obj is not None else None
            if obj is None or isinstance(obj, type) or not callable(obj):
                continue
            names = torch_keywords(fn, module, ember_keywords(obj)[0])
            if names is not None:
                found[prefix + name] = (_public(names), obj)
    return found


FUNCTIONS = _functions()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_keyword_names_match_torch(name):
    torch_names, fn = FUNCTIONS[name]
    ember_names, passes_on = ember_keywords(fn)
    ember_names = _public(ember_names)
    # ember's in-place functions pass their keywords on to the Tensor method of that name
    missing = [] if passes_on else sorted(torch_names - ember_names)
    allowed = set(torch_names)
    if isinstance(getattr(_module(name), name.rsplit(".", 1)[-1]), types.BuiltinFunctionType):
        allowed.update(*(ALIASES.get(n, ()) for n in torch_names))
    extra = sorted(ember_names - allowed)
    assert not missing and not extra, f"{name}: ember lacks {missing}, has extra {extra}"


# ---- the keywords added for the audit, honoured as torch honours them ---------------------
def _options_calls(lib):
    x = lib.ones(2, 3)
    return {
        "zeros": lambda **kw: lib.zeros(2, 3, **kw), "ones": lambda **kw: lib.ones(2, **kw),
        "empty": lambda **kw: lib.empty(2, **kw).zero_(),
        "full": lambda **kw: lib.full((2,), 1.5, **kw), "eye": lambda **kw: lib.eye(2, **kw),
        "arange": lambda **kw: lib.arange(3, **kw),
        "linspace": lambda **kw: lib.linspace(0, 1, 3, **kw),
        "logspace": lambda **kw: lib.logspace(0, 1, 3, **kw),
        "fft.fftfreq": lambda **kw: lib.fft.fftfreq(4, **kw),
        "fft.rfftfreq": lambda **kw: lib.fft.rfftfreq(4, **kw),
        "zeros_like": lambda **kw: lib.zeros_like(x, **kw),
        "ones_like": lambda **kw: lib.ones_like(x, **kw),
        "empty_like": lambda **kw: lib.empty_like(x, **kw).zero_(),
        "full_like": lambda **kw: lib.full_like(x, 2, **kw),
        "scalar_tensor": lambda **kw: lib.scalar_tensor(3, **kw),
        "tril_indices": lambda **kw: lib.tril_indices(3, 3, **kw),
        "triu_indices": lambda **kw: lib.triu_indices(3, 3, **kw),
        "rand": lambda **kw: (lib.manual_seed(0), lib.rand(3, **kw))[1],
        "randn": lambda **kw: (lib.manual_seed(0), lib.randn(3, **kw))[1],
        "randperm": lambda **kw: (lib.manual_seed(0), lib.randperm(5, **kw))[1],
        "normal": lambda **kw: (lib.manual_seed(0), lib.normal(0.0, 1.0, (3,), **kw))[1],
        "rand_like": lambda **kw: (lib.manual_seed(0), lib.rand_like(x, **kw))[1],
        "randn_like": lambda **kw: (lib.manual_seed(0), lib.randn_like(x, **kw))[1],
        "randint_like": lambda **kw: (lib.manual_seed(0), lib.randint_like(x, 5, **kw))[1],
        "tensor": lambda **kw: lib.tensor([1.0, 2.0], **kw),
    }


FACTORIES = sorted(_options_calls(torch))


def _type_error_alike(call, phrase: str) -> None:
    """Both refuse with a TypeError about ``phrase`` (torch words a refusal by a function of
    several overloads as the list of its signatures; ember names the argument)."""
    with pytest.raises(TypeError) as t_info:
        call(torch)
    assert_raises_like(t_info.value, lambda: call(ember), error_match=phrase)


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_layout_and_pin_memory(name):
    made = {lib: _options_calls(lib)[name] for lib in (torch, ember)}
    if name != "tensor":  # torch.tensor takes pin_memory but no layout
        assert_same(made[ember](layout=ember.strided), made[torch](layout=torch.strided))
        _type_error_alike(lambda lib: made[lib](layout="strided"), "layout")
        with pytest.raises(RuntimeError, match="strided"):  # ember has no sparse tensors
            made[ember](layout=ember.sparse_coo)
    assert_same(made[ember](pin_memory=False), made[torch](pin_memory=False))
    check_raises_like(lambda lib: made[lib](pin_memory=True))


def test_layout_objects_print_as_torchs():
    for name in ("strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
                 "sparse_bsc", "jagged"):
        assert repr(getattr(ember, name)) == repr(getattr(torch, name))
        assert isinstance(getattr(ember, name), ember.layout)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_keyword(name):
    def make(lib, **kw):
        lib.manual_seed(0)
        out = getattr(lib, name)(**kw)
        return out.zero_() if name == "empty" else out
    assert_same(make(ember, size=(2, 3)), make(torch, size=(2, 3)))
    _type_error_alike(lambda lib: getattr(lib, name)(2, size=(2,)), "size")


def _spd(lib):
    a = lib.tensor(np.random.default_rng(0).standard_normal((3, 3)))
    return a @ a.T + lib.eye(3, dtype=lib.float64)


def _nearly_singular(lib):
    u = lib.tensor(np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))[0])
    return u @ lib.diag(lib.tensor([1.0, 0.5, 1e-4], dtype=lib.float64)) @ u.T


LINALG_KEYWORDS = {
    "linalg.det(A=)": lambda lib, a: lib.linalg.det(A=a),
    "linalg.inv(A=)": lambda lib, a: lib.linalg.inv(A=a),
    "linalg.slogdet(A=)": lambda lib, a: lib.linalg.slogdet(A=a),
    "linalg.svdvals(A=, driver=None)": lambda lib, a: lib.linalg.svdvals(A=a, driver=None),
    "linalg.svd(driver=None)": lambda lib, a: lib.linalg.svd(a, driver=None).S,
    "linalg.cholesky(input=)": lambda lib, a: lib.linalg.cholesky(input=a),
    "linalg.eigvalsh(input=)": lambda lib, a: lib.linalg.eigvalsh(input=a),
    "linalg.eigh(input=)": lambda lib, a: lib.linalg.eigh(input=a).eigenvalues,
    "linalg.matrix_exp(input=)": lambda lib, a: lib.linalg.matrix_exp(input=a / 10),
    "linalg.matrix_power(input=)": lambda lib, a: lib.linalg.matrix_power(input=a, n=2),
    "linalg.matrix_norm(input=)": lambda lib, a: lib.linalg.matrix_norm(input=a),
    "linalg.norm(input=)": lambda lib, a: lib.linalg.norm(input=a, ord=1),
    "linalg.vector_norm(input=)": lambda lib, a: lib.linalg.vector_norm(input=a, ord=3),
    "linalg.pinv(input=)": lambda lib, a: lib.linalg.pinv(input=a),
    "linalg.pinv(rcond=)": lambda lib, a: lib.linalg.pinv(_nearly_singular(lib), rcond=1e-3),
    "linalg.pinv(rcond, hermitian)": lambda lib, a: lib.linalg.pinv(
        _nearly_singular(lib), 1e-3, True),
    "linalg.lstsq(input=, b=)": lambda lib, a: lib.linalg.lstsq(
        input=a, b=a[:, :2], driver="gelsd").solution,
    "det(input=)": lambda lib, a: lib.det(input=a),
    "inverse(input=)": lambda lib, a: lib.inverse(input=a),
    "slogdet(input=)": lambda lib, a: lib.slogdet(input=a),
    "matrix_exp(input=)": lambda lib, a: lib.matrix_exp(input=a / 10),
    "matrix_power(input=)": lambda lib, a: lib.matrix_power(input=a, n=3),
    "pinverse(input=, rcond=)": lambda lib, a: lib.pinverse(input=_nearly_singular(lib),
                                                             rcond=1e-3),
    "Tensor.pinverse()": lambda lib, a: _nearly_singular(lib).pinverse(),
}


@pytest.mark.parametrize("name", sorted(LINALG_KEYWORDS))
def test_linalg_keywords_honoured(name):
    fn = LINALG_KEYWORDS[name]
    e, t = fn(ember, _spd(ember)), fn(torch, _spd(torch))
    assert type(e).__name__ == type(t).__name__  # the named tuples too (slogdet's)
    for ei, ti in zip(e if isinstance(e, tuple) else (e,), t if isinstance(t, tuple) else (t,)):
        assert_same(ei, ti)


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.linalg.svd(a, driver="gesvd"),
    lambda lib, a: lib.linalg.svdvals(a, driver="gesvdj"),
    lambda lib, a: lib.linalg.svdvals(a, driver=3),
    lambda lib, a: lib.pinverse(a, atol=0.1),
    lambda lib, a: lib.det(a, out=a),
])
def test_linalg_keywords_refused_as_torch(call):
    check_raises_like(lambda lib: call(lib, _spd(lib)))


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.linalg.det(input=a), lambda lib, a: lib.det(A=a),
    lambda lib, a: lib.linalg.lstsq(a, B=a),
])
def test_other_libraries_names_refused(call):
    # Python words a wrong keyword its own way; torch's parser reports the missing argument
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            call(lib, _spd(lib))


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.linalg.pinv(a, rcond=1e-3, atol=0.1),
    lambda lib, a: lib.mm(a, a, out_dtype=3),
])
def test_invalid_combinations_refused_as_torch(call):
    with pytest.raises(TypeError) as t_info:
        call(torch, _spd(torch))
    assert_raises_like(t_info.value, lambda: call(ember, _spd(ember)),
                       error_match="argument" if "out_dtype" in str(t_info.value) else
                       "received an invalid combination of arguments")


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.mm(a, a, out_dtype=lib.float32),
    lambda lib, a: lib.mm(a, a, lib.float64),
    lambda lib, a: lib.bmm(a[None], a[None], out_dtype=lib.float32),
    lambda lib, a: lib.addmm(a, a, a, out_dtype=lib.float32, beta=2),
    lambda lib, a: lib.baddbmm(a[None], a[None], a[None], out_dtype=lib.float32),
])
def test_out_dtype_raises_torchs_cpu_error(call):
    with pytest.raises(NotImplementedError) as t_info:
        call(torch, _spd(torch))
    first = str(t_info.value).split(". ")[0]  # "Could not run 'aten::mm.dtype' with ..."
    assert_raises_like(t_info.value, lambda: call(ember, _spd(ember)), error_match=first)


SHAPE_KEYWORDS = {
    "reshape(shape=)": lambda lib, x: lib.reshape(x, shape=(4, 6)),
    "permute(dims=)": lambda lib, x: lib.permute(x, dims=(2, 0, 1)),
    "flip(dims=)": lambda lib, x: lib.flip(x, dims=[0, 2]),
    "broadcast_to(size=)": lambda lib, x: lib.broadcast_to(x[:1], size=(3, 2, 4)),
    "tensor_split(sections=)": lambda lib, x: lib.tensor_split(x, sections=3, dim=2),
    "tensor_split(indices=)": lambda lib, x: lib.tensor_split(x, indices=[1, 3], dim=2),
    "tensor_split(tensor_indices_or_sections=)": lambda lib, x: lib.tensor_split(
        x, tensor_indices_or_sections=lib.tensor([1, 2])),
    "tensor_split(positional list)": lambda lib, x: x.tensor_split([1], 1),
    "hsplit(sections=)": lambda lib, x: lib.hsplit(x, sections=2),
    "hsplit(indices=)": lambda lib, x: lib.hsplit(x, indices=[1]),
    "vsplit(indices=)": lambda lib, x: lib.vsplit(x, indices=[1]),
    "dsplit(sections=)": lambda lib, x: lib.dsplit(x, sections=2),
    "split_with_sizes(input=)": lambda lib, x: lib.split_with_sizes(input=x, split_sizes=[1, 2]),
    "concatenate(dim=)": lambda lib, x: lib.concatenate([x, x], dim=1),
    "concatenate(axis=)": lambda lib, x: lib.concatenate([x, x], axis=2),
    "Tensor.reshape(sizes)": lambda lib, x: x.reshape(4, 6),
    "Tensor.flip(sizes)": lambda lib, x: x.flip(0, 1),
    # the Tensor methods' own keyword names for their sizes and dims
    "Tensor.view(size=)": lambda lib, x: x.view(size=(4, 6)),
    "Tensor.view(dtype=)": lambda lib, x: x.view(dtype=lib.int32),
    "Tensor.reshape(shape=)": lambda lib, x: x.reshape(shape=[6, -1]),
    "Tensor.permute(dims=)": lambda lib, x: x.permute(dims=(2, 0, 1)),
    "Tensor.expand(size=)": lambda lib, x: x[:, :1].expand(size=(2, 3, 2, 4)),
    "Tensor.repeat(repeats=)": lambda lib, x: x.repeat(repeats=[1, 2, 1]),
    "Tensor.flip(dims=)": lambda lib, x: x.flip(dims=[0, 2]),
    "Tensor.new_zeros(size=)": lambda lib, x: x.new_zeros(size=(2,)),
    "Tensor.new_ones(size=)": lambda lib, x: x.new_ones(size=[2, 1], dtype=lib.int64),
    "Tensor.resize_(size=)": lambda lib, x: x.resize_(size=(4, 6)),
    "Tensor.swapaxes(axis0=)": lambda lib, x: x.swapaxes(axis0=0, axis1=2),
    "Tensor.split(split_size=)": lambda lib, x: x.split(split_size=2, dim=2),
}


@pytest.mark.parametrize("name", sorted(SHAPE_KEYWORDS))
def test_shape_keywords_honoured(name):
    def run(lib):
        out = SHAPE_KEYWORDS[name](lib, lib.arange(24.0).reshape(3, 2, 4))
        return out if isinstance(out, tuple) else (out,)
    e, t = run(ember), run(torch)
    assert len(e) == len(t)
    for ei, ti in zip(e, t):
        assert_same(ei, ti)


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.reshape(x, 24), lambda lib, x: lib.permute(x, 1),
    lambda lib, x: lib.flip(x, 0), lambda lib, x: lib.broadcast_to(x, 3),
])
def test_namespace_shape_functions_take_one_sequence(call):
    check_raises_like(lambda lib: call(lib, lib.ones(3, 2, 4)))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.isin(element=2.0, test_elements=x),
    lambda lib, x: lib.isin(x, test_element=1.0),
    lambda lib, x: lib.isin(elements=x, test_element=1.0, invert=True),
    lambda lib, x: lib.result_type(scalar1=1, scalar2=2.0),
    lambda lib, x: lib.result_type(tensor=x, other=2),
    lambda lib, x: lib.result_type(scalar=2.0, tensor=x.long()),
    lambda lib, x: lib.result_type(x.double(), x),
])
def test_scalar_overload_keywords_honoured(call):
    e, t = call(ember, ember.arange(4.0)), call(torch, torch.arange(4.0))
    if isinstance(t, torch.Tensor):
        assert_same(e, t)
    else:
        assert repr(e) == repr(t)


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.isin(element=x, test_elements=x),
    lambda lib, x: lib.result_type(scalar=x, tensor=x),
    lambda lib, x: lib.tensor_split(x, indices=2),
])
def test_scalar_overload_keywords_refused(call):
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            call(lib, lib.arange(4.0))


@pytest.mark.parametrize("call", [
    lambda lib: lib.is_tensor(obj=lib.ones(1)), lambda lib: lib.typename(obj=lib.ones(1)),
    lambda lib: lib.is_storage(obj=1), lambda lib: lib.set_default_dtype(d=lib.float32),
    lambda lib: lib.from_numpy(ndarray=np.ones(2)),
    lambda lib: lib.einsum(equation="i->", operands=[lib.ones(2)]),
    lambda lib: lib.set_num_threads(num=1),
])
def test_positional_only_as_torch(call):
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            call(lib)
