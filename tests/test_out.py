"""``out=`` everywhere torch has it.

The list of functions comes from torch itself: its generated stubs for the ``torch``
namespace (``torch/_C/_VariableFunctions.pyi``), the registered aten schemas of the builtins
of ``torch.linalg``/``torch.special``/``torch.fft``, and ``inspect.signature`` of torch's
Python functions. Each one ember provides is run on both libraries with sample arguments
found by trying a fixed set of argument patterns on torch (a few functions need their own),
so a function added to ember later is checked without editing this file; a function whose
torch signature lists ``out`` but whose Python binding refuses it must be refused by ember
too.
"""
from __future__ import annotations

import ast
import inspect
import os
import types
import warnings

import numpy as np
import pytest

import ember
from ember._ops import out as out_rules
from tests.helpers import assert_raises_like, assert_same, torch

NAMESPACES = ("", "linalg.", "special.", "fft.", "nn.functional.")


def _stub_signatures() -> dict:
    path = os.path.join(os.path.dirname(torch._C.__file__), "_C", "_VariableFunctions.pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    sigs: dict = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            sigs.setdefault(node.name, []).append(
                [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs])
    return sigs


def torch_overloads(fn, module, stubs: dict):
    """The parameter names of each overload of a torch function, from torch's own records."""
    if isinstance(fn, types.BuiltinFunctionType):
        if module is torch and fn.__name__ in stubs:
            return stubs[fn.__name__]
        return [[a.name for a in s.arguments]
                for s in torch._C._jit_get_schemas_for_operator("aten::" + fn.__name__)]
    try:
        return [list(inspect.signature(fn).parameters)]
    except (TypeError, ValueError):
        return []


def _torch_module(prefix: str):
    module = torch
    for part in prefix.strip(".").split(".") if prefix else ():
        module = getattr(module, part)
    return module


def ember_function(name: str):
    obj = ember
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def torch_out_functions() -> dict:
    stubs = _stub_signatures()
    found = {}
    for prefix in NAMESPACES:
        module = _torch_module(prefix)
        for name in dir(module):
            fn = getattr(module, name)
            if name.startswith("_") or not isinstance(
                    fn, (types.BuiltinFunctionType, types.FunctionType)):
                continue
            if any("out" in names for names in torch_overloads(fn, module, stubs)):
                found[prefix + name] = fn
    return found


_rng = np.random.default_rng(0)
_A = _rng.uniform(0.1, 0.9, (3, 3))
ARRAYS = {
    "x": _rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32),
    "y": _rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32),
    "z": _rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32),
    "sq": (_A @ _A.T + 3 * np.eye(3)).astype(np.float32),
    "v": _rng.uniform(0.1, 0.9, 3).astype(np.float32),
    "b3": _rng.uniform(0.1, 0.9, (2, 3, 3)).astype(np.float32),
    "i": _rng.integers(1, 6, (3, 4)), "j": _rng.integers(1, 6, (3, 4)),
    "bo": _rng.uniform(size=(3, 4)) > 0.5, "bo2": _rng.uniform(size=(3, 4)) > 0.5,
    "idx": np.array([0, 2]), "gi": _rng.integers(0, 3, (3, 4)),
}
# Argument patterns tried in order on torch; the first one torch accepts is the sample.
PATTERNS = (
    "x", "x,y", "x,y,z", "x,1", "sq", "sq,sq", "sq,sq,sq", "v,v", "v", "[x,y]", "x,2", "2,x",
    "i", "i,j", "bo", "bo,bo2", "(2,3)", "5", "x,1,gi", "x,1,idx", "sq,v", "v,sq,v",
    "b3,b3", "sq,b3,b3", "b3,b3,b3", "x,1,gi,y", "sq,2", "(3,4),0.5", "5,(2,3)")
# Functions whose first matching pattern misses the overload that takes out.
SAMPLES = {
    "sum": "x,1", "prod": "x,1", "argsort": "x,stable=True", "where": "bo,x,y",
    "median": "x,1", "nanmedian": "x,1", "index_add": "x,1,idx,x[:,:2]",
    "index_copy": "x,1,idx,x[:,:2]", "renorm": "x,2,0,1.0", "scatter_reduce": "x,1,gi,y,'sum'",
    "linspace": "0,1,5", "logspace": "0,1,5", "range": "0,4", "max": "x,1", "min": "x,1",
    "nn.functional.avg_pool2d": "b3,2", "nn.functional.avg_pool3d": "b3[None],2",
    "nn.functional.channel_shuffle": "b3[None],2", "nn.functional.conv_tbc": "b3,b3,v",
    "nn.functional.pixel_shuffle": "x.reshape(1,4,3,1),2",
    "nn.functional.pixel_unshuffle": "x.reshape(1,1,2,6),2", "threshold": "x,0.5,2.0",
    "addr": "x,v,x[0]", "index_reduce": "x,1,idx,x[:,:2],'prod'", "narrow_copy": "x,1,0,2",
    "nonzero_static": "x,size=2", "as_strided_copy": "x,(2,2),(1,2)",
    "expand_copy": "v,(2,3)", "permute_copy": "x,(1,0)", "select_copy": "x,0,1",
    "split_with_sizes_copy": "x,[1,2]", "transpose_copy": "x,0,1", "unfold_copy": "x,1,2,1",
    "unsqueeze_copy": "x,1", "view_as_complex_copy": "x.reshape(3,2,2)",
    "view_as_real_copy": "x+0j", "view_copy": "x,(4,3)", "linalg.multi_dot": "[sq,x,x.T]",
    "linalg.solve_triangular": "sq,x,upper=True", "linalg.tensorinv": "sq,1",
    "lu_solve": "sq,*sq.lu()", "linalg.lu_solve": "*sq.lu(),sq", "lu_unpack": "*sq.lu()",
    "ormqr": "*sq.geqrf(),sq", "linalg.ldl_solve": "*lib.linalg.ldl_factor(sq),x",
    "native_batch_norm": "b3,v,v,None,None,True,0.1,1e-5",
}
# Functions whose torch signature lists out= but that no sample can run on torch's CPU build:
# each is checked against torch by a test of its own below.
UNSAMPLED = {
    # removed from torch: it always raises, out= or not
    "lstsq", "matrix_rank", "solve", "symeig",
    # torch has only a CUDA kernel for it
    "batch_norm_elemt",
}

TORCH_OUT = torch_out_functions()
CHECKED = sorted(n for n in TORCH_OUT if ember_function(n) is not None and n not in UNSAMPLED)


def _env(lib) -> dict:
    return {"lib": lib, **{k: lib.tensor(v) for k, v in ARRAYS.items()}}


def call(lib, fn, spec: str, **kwargs):
    return eval(f"fn({spec}, **kwargs)", {"fn": fn, "kwargs": kwargs}, _env(lib))  # noqa: S307


def _is_result(r) -> bool:
    return isinstance(r, torch.Tensor) or (isinstance(r, tuple) and bool(r) and all(
        isinstance(t, torch.Tensor) for t in r))


def sample(name: str):
    """(pattern, torch's result without out) for the function ``name``."""
    fn = TORCH_OUT[name]
    for spec in ([SAMPLES[name]] if name in SAMPLES else PATTERNS):
        try:
            torch.manual_seed(0)
            r = call(torch, fn, spec)
        except Exception:  # noqa: S112 - a pattern torch refuses: try the next one
            continue
        if _is_result(r):
            return spec, r
    raise AssertionError(f"no sample arguments for {name}: add one to SAMPLES")


def _empty(lib, like, shape=None, dtype=None):
    dtype = dtype if dtype is not None else getattr(lib, repr(like.dtype).split(".")[1])
    return lib.zeros(like.shape if shape is None else shape, dtype=dtype)


def _outs(lib, result, shape=None, dtype=None):
    if isinstance(result, tuple):
        return tuple(_empty(lib, r, shape, dtype if i == 0 else None)
                     for i, r in enumerate(result))
    return _empty(lib, result, shape, dtype)


def _pairs(e, t):
    return zip(e, t) if isinstance(t, tuple) else [(e, t)]


def _torch_takes_out(name, spec, result) -> bool:
    try:
        call(torch, TORCH_OUT[name], spec, out=_outs(torch, result))
    except TypeError as exc:
        if "out" in str(exc):
            return False
        raise
    return True


@pytest.mark.parametrize("name", CHECKED)
def test_out_writes_and_returns_out(name):
    spec, t_result = sample(name)
    fn = ember_function(name)
    if not _torch_takes_out(name, spec, t_result):
        # torch's schema lists out= but its Python binding refuses it: so does ember
        with pytest.raises(TypeError):
            call(ember, fn, spec, out=_outs(ember, t_result))
        return
    e_out = _outs(ember, t_result)
    versions = [o._version for o in (e_out if isinstance(e_out, tuple) else (e_out,))]
    ember.manual_seed(0)
    got = call(ember, fn, spec, out=e_out)
    torch.manual_seed(0)
    if call(torch, TORCH_OUT[name], spec, out=_outs(torch, t_result)) is None:
        assert got is None  # torch's functions with a list out= (split_copy) return nothing
    elif isinstance(e_out, tuple):
        assert tuple(got) == e_out and all(a is b for a, b in zip(got, e_out))
    else:
        assert got is e_out
    for (e, t), v in zip(_pairs(e_out, t_result), versions):
        if name != "empty":  # torch's empty memory is uninitialised: nothing to compare
            assert_same(e, t, what=name)
        assert e._version > v
    assert "out" in inspect.signature(fn).parameters


@pytest.mark.parametrize("name", CHECKED)
def test_out_resized_with_torch_warning(name):
    spec, t_result = sample(name)
    if not _torch_takes_out(name, spec, t_result):
        return
    fn = ember_function(name)
    for shape in ((0,), (7,)):
        with warnings.catch_warnings(record=True) as t_w:
            warnings.simplefilter("always")
            torch.manual_seed(0)
            try:
                call(torch, TORCH_OUT[name], spec, out=_outs(torch, t_result, shape))
            except RuntimeError as exc:  # normal(mean, out=) broadcasts out with mean
                assert_raises_like(exc, lambda shape=shape: call(ember, fn, spec, out=_outs(
                    ember, t_result, shape)), what=name)
                continue
        with warnings.catch_warnings(record=True) as e_w:
            warnings.simplefilter("always")
            e_out = _outs(ember, t_result, shape)
            ember.manual_seed(0)
            call(ember, fn, spec, out=e_out)
        t_msgs = [str(w.message).split(" (Triggered")[0] for w in t_w
                  if "resized" in str(w.message)]
        e_msgs = [str(w.message) for w in e_w if "resized" in str(w.message)]
        assert e_msgs == t_msgs
        for e, t in _pairs(e_out, t_result):
            assert tuple(e.shape) == tuple(t.shape)
            if name != "empty":
                assert_same(e, t, what=name)


def _pairs_list(result):
    return list(result) if isinstance(result, tuple) else [result]


# The dtype errors ember words as torch does; other torch kernels have texts of their own
# (ember/_ops/out.py says so), for which the exception type is compared.
_GENERIC = ("can't be cast to the desired output type", "Expected out tensor to have dtype",
            "Found dtype", "does not match dtype of out parameter",
            "functions with out=... arguments don't support automatic differentiation")


def _compare(name, torch_call, ember_call, worded=False):
    """Compare the errors of the two calls: the whole message where ember words it as torch
    does (the generic texts, and ``worded``: one of out.py's ``_WORDING``), else the type."""
    try:
        torch_call()
    except Exception as t_exc:  # noqa: BLE001 - any error torch raises is compared
        match = None if worded or any(g in str(t_exc) for g in _GENERIC) else ""
        if type(t_exc) is not RuntimeError or match is None:
            assert_raises_like(t_exc, ember_call, error_match=match, what=name)
        else:
            with pytest.raises(RuntimeError):
                ember_call()
        return
    ember_call()


@pytest.mark.parametrize("name", CHECKED)
def test_out_dtype_rules(name):
    spec, t_result = sample(name)
    if not _torch_takes_out(name, spec, t_result):
        return
    fn = ember_function(name)
    first = _pairs_list(t_result)[0]
    for dtype in ("int64", "float64", "bool"):
        if repr(first.dtype) == f"torch.{dtype}":
            continue

        def run_torch(dtype=dtype):
            torch.manual_seed(0)
            return call(torch, TORCH_OUT[name], spec,
                        out=_outs(torch, t_result, dtype=getattr(torch, dtype)))

        def run_ember(dtype=dtype):
            ember.manual_seed(0)
            return call(ember, fn, spec, out=_outs(ember, t_result, dtype=getattr(ember, dtype)))
        if "int" in dtype and first.is_floating_point() and name in ("rand", "randn"):
            continue  # torch: NotImplementedError from its kernel; ember draws in ints too
        _compare(f"{name} out={dtype}", run_torch, run_ember, worded=name in out_rules._WORDING)


@pytest.mark.parametrize("name", CHECKED)
def test_out_refuses_grad(name):
    spec, t_result = sample(name)
    if not _torch_takes_out(name, spec, t_result):
        return
    fn = ember_function(name)

    def with_grad(lib, f):
        env = _env(lib)
        for k in ("x", "sq", "v", "b3"):
            env[k].requires_grad_()
        out = _outs(lib, t_result)
        eval(f"f({spec}, out=out)", {"f": f, "out": out}, env)  # noqa: S307
        return out
    _compare(name, lambda: with_grad(torch, TORCH_OUT[name]), lambda: with_grad(ember, fn))
    with ember.no_grad():  # under no_grad the values are written, no history recorded
        out = with_grad(ember, fn)
    for e in _pairs_list(out):
        assert e.grad_fn is None


def test_out_writes_through_views_and_refuses_partial_overlap():
    for lib in (torch, ember):
        base = lib.zeros(4, 3)
        view = base.t()
        lib.add(lib.ones(3, 4), 1, out=view)
        assert base.sum().item() == 24 and view._version == 1
    x = np.arange(4.0)
    t, e = torch.tensor(x), ember.tensor(x)
    assert_raises_like(_raised(lambda: torch.sin(t[:3], out=t[1:])),
                       lambda: ember.sin(e[:3], out=e[1:]))
    assert ember.sin(e, out=e) is e
    assert_same(e, torch.sin(t))
    m = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert_same(ember.mm(m, m, out=m), torch.tensor([[7.0, 10.0], [15.0, 22.0]]))
    assert_raises_like(_raised(lambda: torch.add(t, t, out=torch.zeros(1).expand(4))),
                       lambda: ember.add(e, e, out=ember.zeros(1).expand(4)))


def _raised(fn) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: B017 - the oracle's error, compared after
        fn()
    return info.value


def test_tuple_outs():
    x = np.random.default_rng(1).normal(size=(3, 4))
    t, e = torch.tensor(x), ember.tensor(x)
    for fn in ("max", "min", "sort", "topk", "kthvalue", "mode", "median", "cummax"):
        args = (2,) if fn in ("topk", "kthvalue") else (1,)
        t_out = (torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.long))
        # a list, as torch allows
        e_out = [ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.long)]
        t_r = getattr(torch, fn)(t, *args, out=t_out)
        e_r = getattr(ember, fn)(e, *args, out=e_out)
        assert e_r[0] is e_out[0] and e_r[1] is e_out[1]
        for a, b in zip(e_r, t_r):
            assert_same(a, b, what=fn)
    assert_raises_like(_raised(lambda: torch.max(t, 1, out=(torch.empty(0),))),
                       lambda: ember.max(e, 1, out=(ember.empty(0),)))
    assert_raises_like(_raised(lambda: torch.max(t, 1, out=(torch.empty(0), torch.empty(0)))),
                       lambda: ember.max(e, 1, out=(ember.empty(0), ember.empty(0))))


def test_factories_take_out_dtype():
    for lib in (torch, ember):
        out = lib.empty(2, dtype=lib.int64)
        assert lib.zeros(3, out=out) is out and out.dtype == lib.int64 and out.shape == (3,)
    assert_raises_like(
        _raised(lambda: torch.zeros(3, dtype=torch.float64, out=torch.empty(3, dtype=torch.long))),
        lambda: ember.zeros(3, dtype=ember.float64, out=ember.empty(3, dtype=ember.long)))


def test_unsampled_functions():
    x = np.random.default_rng(2).uniform(0.1, 0.9, (3, 3)).astype(np.float32)
    t, e = torch.tensor(x), ember.tensor(x)
    # torch's removed functions raise their removal notice, out= or not
    for name, nargs in (("lstsq", 2), ("matrix_rank", 1), ("solve", 2), ("symeig", 1)):
        one = name == "matrix_rank"
        t_out = torch.empty(0) if one else (torch.empty(0), torch.empty(0))
        e_out = ember.empty(0) if one else (ember.empty(0), ember.empty(0))
        assert_raises_like(_raised(lambda n=name, a=nargs, o=t_out: getattr(torch, n)(
            *[t] * a, out=o)), lambda n=name, a=nargs, o=e_out: getattr(ember, n)(
            *[e] * a, out=o), what=name)
    # batch_norm_elemt has only a CUDA kernel in torch: its formula, in torch ops, is the oracle
    b = np.random.default_rng(3).normal(size=(2, 3, 4)).astype(np.float32)
    w, bias, mean, invstd = (np.random.default_rng(s).uniform(0.5, 1.5, 3).astype(np.float32)
                             for s in range(4, 8))
    args = (b, w, bias, mean, invstd)
    with pytest.raises(NotImplementedError):
        torch.batch_norm_elemt(*map(torch.tensor, args), 1e-5)
    tb, tw, tbias, tmean, tinvstd = (torch.tensor(a)[:, None] if a.ndim == 1 else torch.tensor(a)
                                     for a in args)
    expected = (tb - tmean) * tinvstd * tw + tbias
    out = ember.empty(0)
    assert ember.batch_norm_elemt(*map(ember.tensor, args), 1e-5, out=out) is out
    assert_same(out, expected, what="batch_norm_elemt")
    assert out._version == 1


def test_list_outs_and_copies():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    t, e = torch.tensor(x), ember.tensor(x)

    def both(fn):
        t_result = fn(torch, t)
        e_result = fn(ember, e)
        assert e_result is None and t_result is None
    # split_copy copies each piece as out.copy_(piece) does: any dtype, broadcast into out
    for shape, dtype in (((1, 4), "float32"), ((2, 1, 4), "int32"), ((1, 4), "bool")):
        outs = {lib: tuple(lib.zeros(shape, dtype=getattr(lib, dtype)) for _ in range(3))
                for lib in (torch, ember)}
        both(lambda lib, a, o=outs: lib.split_copy(a, 1, out=o[lib]))
        for a, b in zip(outs[ember], outs[torch]):
            assert_same(a, b, what=f"split_copy into {shape} {dtype}")
    for shape in ((1,), (7,), (0,)):
        assert_raises_like(
            _raised(lambda s=shape: torch.split_copy(t, 1, out=[torch.empty(s)] * 3)),
            lambda s=shape: ember.split_copy(e, 1, out=[ember.empty(s)] * 3), what=str(shape))
    # a list of the wrong length: torch names its out= kernel
    for name, args in (("split_copy", (1,)), ("split_with_sizes_copy", ([1, 2],)),
                       ("unbind_copy", ())):
        assert_raises_like(
            _raised(lambda n=name, a=args: getattr(torch, n)(t, *a, out=[torch.empty(0)])),
            lambda n=name, a=args: getattr(ember, n)(e, *a, out=[ember.empty(0)]), what=name)


def test_worded_errors_of_later_outputs():
    x = np.random.default_rng(4).uniform(0.1, 0.9, (3, 4)).astype(np.float32)
    t, e = torch.tensor(x), ember.tensor(x)
    for name, dtypes in (("geqrf", ("float64", "int64")), ("geqrf", ("float32", "bool")),
                         ("histogram", ("float32", "float64")), ("histogram", ("float32",
                                                                              "int64"))):
        def run(lib, a, name=name, dtypes=dtypes):
            out = tuple(lib.empty(0, dtype=getattr(lib, d)) for d in dtypes)
            return getattr(lib, name)(a, out=out)
        assert_raises_like(_raised(lambda run=run: run(torch, t)), lambda run=run: run(ember, e),
                           what=f"{name} {dtypes}")
    # geqrf's outs take the cast rule each: a float64 ``a`` holds float32 results
    t_r = torch.geqrf(t, out=(torch.empty(0, dtype=torch.float64), torch.empty(0)))
    e_r = ember.geqrf(e, out=(ember.empty(0, dtype=ember.float64), ember.empty(0)))
    for a, b in zip(e_r, t_r):
        assert_same(a, b, what="geqrf")


@pytest.mark.parametrize("out_dtype", ["uint8", "int8", "bool", "float16"])
@pytest.mark.parametrize("dtype", ["int64", "int16", "uint8", "float32"])
def test_out_casts_follow_torchs_can_cast(dtype, out_dtype):
    # an int64 result written into a uint8 out: allowed, as any cast within a category
    def run(lib):
        a = lib.tensor([1, 2, 3], dtype=getattr(lib, dtype))
        return lib.add(a, a, out=lib.empty(3, dtype=getattr(lib, out_dtype)))
    try:
        expected = run(torch)
    except RuntimeError as exc:
        assert_raises_like(exc, lambda: run(ember))
    else:
        assert_same(run(ember), expected)


@pytest.mark.parametrize("call", [
    "L.add(x, x)", "L.sum(x)", "L.exp(x)", "L.mm(m, m)", "L.linalg.det(m)", "L.fft.fft(x)",
    "L.cumsum(x, 0)", "L.addmm(m, m, m)",
])
def test_out_wrappers_run_their_exact_code(call: str) -> None:
    # NOTE [Generated out= wrappers]: the first call puts code with the function's own
    # parameters in the wrapper. A free variable added to the *args wrapper once kept every
    # function on it (torch.add took 0.3 us more a call): the swap needs both to close over
    # the same names
    env = {"L": ember, "x": ember.ones(3), "m": ember.eye(3)}
    fn = eval(call.split("(")[0], env)
    for _ in range(2):
        eval(call, env)
    assert fn.__code__.co_filename == "<ember out= wrapper>"
