"""The test method: run one lambda on ember and on torch from the same inputs and compare.

``check_op(fn, shapes)`` builds identical inputs for both libraries from a NumPy seed, runs
``fn(lib, *inputs)`` with ``lib`` = torch and ``lib`` = ember, and compares shape, dtype,
values and node name, then backpropagates a *random* cotangent (an all-ones cotangent hides
transposition bugs) and compares the gradient of every input. torch is the oracle: no
expected value here comes from ember. Where torch refuses (forward or backward), ember must
refuse with the same exception type and message.

Every successful ``check_op`` records the public names it compared (NOTE [Compared names]);
tests/test_coverage.py fails for a name ember provides that no test compares.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import ember

if os.environ.get("CI", "").lower() in ("true", "1"):
    import torch  # CI: without the oracle the suite must fail, never skip
else:
    torch = pytest.importorskip("torch")

from torch.overrides import TorchFunctionMode  # noqa: E402 - after the oracle check

# Tolerances by dtype, torch.testing's defaults.
TOLERANCES = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}

# NOTE [Compared names]
# The coverage registry: ``("torch.linalg", "norm")``-style keys of the public names some
# differential test compared against torch. Names of namespaces are recorded on the torch
# side (a TorchFunctionMode sees the function object called, which tells ``arccos`` from
# ``acos``); Tensor methods and properties on the ember side (the names test code looks up
# on an ember tensor: torch hands a mode ``numel`` for ``nelement``). ``torch.nn`` classes
# are recorded on the ember side too: the module classes whose ``__call__`` ran (a test's own
# subclass counts as its nearest ember.nn base). So are the classes of ``OPTIM_NAMESPACES``:
# the optimizers and lr schedulers whose ``step`` was called inside a ``recording_compared``
# block (a step that raises counts: torch's error is then what the block compares); the
# block's explicit names record the rest (``swa_utils``'s functions and ``AveragedModel``).
# A check records only after its comparison passed. Extend COVERED_NAMESPACES to cover a new
# torch namespace of functions.
COVERED_NAMESPACES = ("torch", "torch.linalg", "torch.special", "torch.fft",
                      "torch.nn.functional")
TENSOR_NAMESPACE = "torch.Tensor"
MODULE_NAMESPACE = "torch.nn"
OPTIM_NAMESPACES = ("torch.optim", "torch.optim.lr_scheduler", "torch.optim.swa_utils")
COMPARED: set[tuple[str, str]] = set()
_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
_torch_names_by_id: dict[int, list[tuple[str, str]]] = {}


@contextlib.contextmanager
def distribution_validation():
    """Both libraries validate distributions' arguments, torch's default, inside; the
    settings are restored after. torch's compiler turns its validation off for the whole
    process once it loads, so another test file may have left it off."""
    saved = [lib.distributions.Distribution._validate_args for lib in (torch, ember)]
    for lib in (torch, ember):
        lib.distributions.Distribution.set_default_validate_args(True)
    try:
        yield
    finally:
        for lib, value in zip((torch, ember), saved):
            lib.distributions.Distribution.set_default_validate_args(value)


def torch_namespace(path: str):
    """The torch module or class named by a dotted path such as ``"torch.linalg"``."""
    obj = torch
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _torch_names(func) -> list[tuple[str, str]]:
    if not _torch_names_by_id:
        for path in COVERED_NAMESPACES:
            ns = torch_namespace(path)
            for name in dir(ns):
                if not name.startswith("_"):
                    obj = getattr(ns, name, None)
                    if callable(obj):
                        _torch_names_by_id.setdefault(id(obj), []).append((path, name))
                        for inner in _dispatched_without_indices(obj):
                            _torch_names_by_id.setdefault(id(inner), []).append((path, name))
    return _torch_names_by_id.get(id(func), [])


def _dispatched_without_indices(func) -> tuple:
    """The private function that a ``torch.nn.functional`` pooling name such as
    ``max_pool2d`` hands its call to when ``return_indices`` is False: the function mode
    sees that one, never the public dispatcher (a closure over both branches)."""
    cells = getattr(func, "__closure__", None) or ()
    inner = tuple(c.cell_contents for c in cells if callable(c.cell_contents)
                  and getattr(c.cell_contents, "__name__", "").startswith("_"))
    return inner if len(cells) > 1 else ()


class _TorchRecorder(TorchFunctionMode):
    def __init__(self, seen: set) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.seen.update(_torch_names(func))
        return func(*args, **(kwargs or {}))


def _recording_getattribute(self, name, _get=object.__getattribute__):
    # Only lookups made by test code count: ember's own internals use many methods.
    if name[0] != "_" and sys._getframe(1).f_code.co_filename.startswith(_TESTS_DIR):
        _ember_seen.add((TENSOR_NAMESPACE, name))
    return _get(self, name)


_ember_seen: set[tuple[str, str]] = set()


def _recording_module_call(self, *args, **kwargs):
    for cls in type(self).__mro__:
        if cls.__module__.startswith("ember.nn") and isinstance(
                getattr(torch.nn, cls.__name__, None), type):
            _ember_seen.add((MODULE_NAMESPACE, cls.__name__))
            break
    return _module_call(self, *args, **kwargs)


_module_call = None


def run_recorded(lib, fn, *args, seen: set | None = None):
    """``fn(lib, *args)``, noting in ``seen`` the public names it uses (NOTE [Compared
    names]); add ``seen`` to ``COMPARED`` once the results compared equal."""
    global _module_call
    if seen is None:
        return fn(lib, *args)
    if lib is torch:
        with _TorchRecorder(seen):
            return fn(lib, *args)
    _ember_seen.clear()
    ember.Tensor.__getattribute__ = _recording_getattribute
    module = sys.modules.get("ember.nn.modules.module")  # only once ember.nn is in use
    if module is not None and module.Module.__dict__["__call__"] is _recording_module_call:
        module = None  # a recorded call inside another: the outer one restores it
    if module is not None:
        _module_call = module.Module.__dict__["__call__"]
        module.Module.__call__ = _recording_module_call
    try:
        return fn(lib, *args)
    finally:
        del ember.Tensor.__getattribute__
        if module is not None:
            module.Module.__call__ = _module_call
        seen.update(_ember_seen)


def _optim_name(cls: type) -> tuple[str, str] | None:
    """``(namespace, name)`` of the nearest class in ``cls``'s MRO that ember.optim defines
    and one of ``OPTIM_NAMESPACES`` exports (``ember.optim.adam.Adam``: torch.optim's)."""
    for base in cls.__mro__:
        module = base.__module__
        if module != "ember.optim" and not module.startswith("ember.optim."):
            continue
        path = "torch" + module[len("ember"):]
        while path not in OPTIM_NAMESPACES:
            path = path.rpartition(".")[0]
        if base.__name__ in torch_namespace(path).__all__:
            return path, base.__name__
    return None


_step_seen: list[set] = []  # the sets of the open recording blocks, innermost last
_steps_hooked = False


def _record_step(obj) -> None:
    name = _optim_name(type(obj))
    if name is not None:
        for seen in _step_seen:
            seen.add(name)


def _recording_scheduler_step(step):
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        _record_step(self)
        return step(self, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _recording_steps(seen: set):
    """Inside the block, the ember optimizers and lr schedulers whose ``step`` is called
    join ``seen`` (once ember.optim is in use): a global step pre-hook for the optimizers,
    each scheduler class's own ``step`` wrapped for the schedulers. An inner block records
    through the hooks of the block that installed them."""
    global _steps_hooked
    schedulers = sys.modules.get("ember.optim.lr_scheduler")
    install = schedulers is not None and not _steps_hooked
    if install:
        _steps_hooked = True
        handle = sys.modules["ember.optim.optimizer"].register_optimizer_step_pre_hook(
            lambda opt, args, kwargs: _record_step(opt))
        classes, todo = [], [schedulers.LRScheduler]
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            if "step" in cls.__dict__:
                classes.append((cls, cls.__dict__["step"]))
        for cls, step in classes:
            cls.step = _recording_scheduler_step(step)
    _step_seen.append(seen)
    try:
        yield
    finally:
        _step_seen.pop()
        if install:
            _steps_hooked = False
            handle.remove()
            for cls, step in classes:
                cls.step = step


@contextlib.contextmanager
def recording_compared(*names: str):
    """Record, for a test that compares with ``assert_same`` or bits of its own rather than
    ``check_op``, the public names its lambdas use (NOTE [Compared names]).

    ``with recording_compared() as run:`` gives ``run(lib, fn, *args)`` = ``fn(lib, *args)``
    with the recorder on; the names join ``COMPARED`` only when the block exits without an
    exception, so put the comparison inside the block. ``names`` (dotted, such as
    ``"torch.from_numpy"``) adds names that torch's function mode cannot see (functions that
    take no tensor and do not dispatch): the block must call them on both libraries. The
    ember optimizers and lr schedulers stepped anywhere in the block are recorded too."""
    seen: set[tuple[str, str]] = set()
    for dotted in names:
        path, _, name = dotted.rpartition(".")
        seen.add((path, name))
    with _recording_steps(seen):
        yield lambda lib, fn, *args: run_recorded(lib, fn, *args, seen=seen)
    COMPARED.update(seen)


def records_compared(*names: str) -> Callable[[Callable], Callable]:
    """A decorator for a test that compares with torch by its own means: the whole test runs
    as a ``recording_compared(*names)`` block, so what it compared (the optimizers and lr
    schedulers it steps, the names given) joins ``COMPARED`` when it passes."""
    def decorate(test):
        @functools.wraps(test)
        def recorded(*args, **kwargs):
            with recording_compared(*names):
                return test(*args, **kwargs)

        return recorded

    return decorate


def dtype_name(dt) -> str:
    return str(dt).replace("torch.", "")


def to_numpy(t) -> np.ndarray:
    """Values of a torch or ember tensor as a float64 (or bool/int) NumPy array."""
    if isinstance(t, ember.Tensor):
        data = t.detach()._data
        return data.astype(np.float64) if t.dtype is ember.bfloat16 else np.array(data)
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy(force=True).copy()  # force: torch's ZeroTensor gradients too


def assert_same(e, t, *, rtol=None, atol=None, what="value") -> None:
    """An ember tensor equals a torch tensor: shape, dtype, and values within tolerance."""
    assert isinstance(e, ember.Tensor), f"{what}: ember gave {type(e).__name__}"
    assert tuple(e.shape) == tuple(t.shape), f"{what}: shape {tuple(e.shape)} != {tuple(t.shape)}"
    assert repr(e.dtype) == repr(t.dtype), f"{what}: dtype {e.dtype!r} != {t.dtype!r}"
    default_rtol, default_atol = TOLERANCES.get(dtype_name(t.dtype), (0, 0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    ev, tv = to_numpy(e), to_numpy(t)
    if ev.dtype.kind in "biu":
        np.testing.assert_array_equal(ev, tv, err_msg=what)
    else:
        np.testing.assert_allclose(ev, tv, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_raises_like(t_exc: BaseException, call, *, error_match: str | None = None,
                       what: str = "") -> None:
    """``call()`` raises what torch raised (``t_exc``): the same exception type and the same
    message, or, where a row states ``error_match`` because the texts legitimately differ,
    a message that holds that key phrase as torch's does."""
    with pytest.raises(Exception) as info:  # noqa: B017 - the type is compared below
        call()
    e_exc = info.value
    assert type(e_exc).__name__ == type(t_exc).__name__, \
        f"{what}: ember raised {type(e_exc).__name__}({e_exc}), torch " \
        f"{type(t_exc).__name__}({t_exc})"
    if error_match is None:
        assert str(e_exc) == str(t_exc), f"{what}: message {str(e_exc)!r} != {str(t_exc)!r}"
    else:
        assert error_match in str(t_exc), f"{what}: {error_match!r} not in torch's {t_exc}"
        assert error_match in str(e_exc), f"{what}: {error_match!r} not in ember's {e_exc}"


class Row:
    """One row of an op table: ``fn(lib, *inputs)``, its input count, the value domain its
    inputs are drawn from, and what to check. ``error_match``: a key phrase of torch's
    error message, for a row whose errors ember words differently; ``torch_backward_bug``:
    see ``check_op`` (say why beside either)."""

    def __init__(self, name, fn, nargs=1, domain=(-2.0, 2.0), grad=True, gradgrad=True,
                 dtypes=("float32", "float64"), error_match=None, rtol=None, atol=None,
                 torch_backward_bug=None):
        self.name, self.fn, self.nargs, self.domain = name, fn, nargs, domain
        self.grad, self.gradgrad, self.dtypes = grad, gradgrad, dtypes
        self.error_match, self.rtol, self.atol = error_match, rtol, atol
        self.torch_backward_bug = torch_backward_bug

    def __repr__(self) -> str:
        return self.name


def make_inputs(shapes, dtype: str = "float32", *, low: float = -2.0, high: float = 2.0,
                seed: int = 0, requires_grad: bool = True, noncontiguous: bool = False):
    """The same inputs for both libraries: (torch leaves, ember leaves, torch args, ember
    args). With ``noncontiguous`` the args are transposed views of leaves stored the other
    way round, so ops see non-contiguous memory; gradients are compared on the leaves."""
    rng = np.random.default_rng(seed)
    t_leaves, e_leaves, t_args, e_args = [], [], [], []
    for shape in shapes:
        shape = tuple(shape)
        stored = shape[::-1] if noncontiguous else shape
        arr = rng.uniform(low, high, size=stored)
        if dtype in ("int64", "int32", "int16", "int8", "uint8"):
            arr = np.round(arr)
        elif dtype == "bool":
            arr = arr > 0
        grad = requires_grad and dtype not in ("int64", "int32", "int16", "int8", "uint8", "bool")
        tt = torch.tensor(arr).to(getattr(torch, dtype)).requires_grad_(grad)
        et = ember.tensor(arr).to(getattr(ember, dtype)).requires_grad_(grad)
        t_leaves.append(tt)
        e_leaves.append(et)
        if noncontiguous and len(shape) > 1:
            perm = tuple(range(len(shape)))[::-1]
            t_args.append(tt.permute(perm))
            e_args.append(et.permute(perm))
        else:
            t_args.append(tt)
            e_args.append(et)
    return t_leaves, e_leaves, t_args, e_args


def _outputs(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_op(fn, shapes, *, dtype: str = "float32", low: float = -2.0, high: float = 2.0,
             grad: bool = True, seed: int = 0, noncontiguous: bool = False,
             rtol=None, atol=None, grad_rtol=None, grad_atol=None,
             error_match: str | None = None, torch_backward_bug: str | None = None) -> None:
    """Run ``fn(lib, *inputs)`` on torch and ember and compare results and gradients.

    Where torch raises, in the forward or in the backward, ember must raise the same way
    (see ``assert_raises_like``; ``error_match`` is the key phrase for a row whose messages
    legitimately differ). ``torch_backward_bug``: a key phrase of a backward error that is a
    defect of torch's kernel rather than a rule (the row says which): with that error there
    is no reference gradient, and ember's backward must simply run."""
    t_leaves, e_leaves, t_args, e_args = make_inputs(
        shapes, dtype, low=low, high=high, seed=seed, requires_grad=grad,
        noncontiguous=noncontiguous)
    seen: set[tuple[str, str]] = set()
    try:
        t_out = _outputs(run_recorded(torch, fn, *t_args, seen=seen))
    except Exception as exc:  # torch refuses: ember must refuse the same way
        assert_raises_like(exc, lambda: fn(ember, *e_args), error_match=error_match,
                           what=f"forward on {shapes}")
        return
    e_out = _outputs(run_recorded(ember, fn, *e_args, seen=seen))
    assert len(e_out) == len(t_out)
    for k, (e, t) in enumerate(zip(e_out, t_out)):
        assert_same(e, t, rtol=rtol, atol=atol, what=f"output {k}")
        assert e.requires_grad == t.requires_grad, f"output {k}: requires_grad differs"
        if t.grad_fn is not None:
            assert e.grad_fn is not None and e.grad_fn.name() == t.grad_fn.name(), \
                f"output {k}: node {e.grad_fn} != {t.grad_fn.name()}"
    COMPARED.update(seen)
    if not grad:
        return
    rng = np.random.default_rng(seed + 1)
    t_pairs = [(t, e) for t, e in zip(t_out, e_out) if t.requires_grad]
    if not t_pairs:
        return
    t_sum, e_sum = [], []
    for t, e in t_pairs:
        cot = rng.standard_normal(tuple(t.shape))
        t_sum.append((t, torch.tensor(cot).to(t.dtype)))
        e_sum.append((e, ember.tensor(cot).to(e.dtype)))
    try:
        torch.autograd.backward([t for t, _ in t_sum], [c for _, c in t_sum])
    except Exception as exc:  # torch's backward refuses: ember's must refuse too
        if torch_backward_bug is not None and torch_backward_bug in str(exc):
            ember.autograd.backward([e for e, _ in e_sum], [c for _, c in e_sum])
            return
        assert_raises_like(
            exc, lambda: ember.autograd.backward([e for e, _ in e_sum], [c for _, c in e_sum]),
            error_match=error_match, what=f"backward on {shapes}")
        return
    ember.autograd.backward([e for e, _ in e_sum], [c for _, c in e_sum])
    for i, (tl, el) in enumerate(zip(t_leaves, e_leaves)):
        if tl.grad is None:
            assert el.grad is None, f"grad of input {i}: torch has none"
        else:
            assert el.grad is not None, f"grad of input {i}: ember has none"
            assert_same(el.grad, tl.grad, rtol=grad_rtol, atol=grad_atol,
                        what=f"grad of input {i}")


def check_gradcheck(fn, shapes, *, low: float = -2.0, high: float = 2.0, seed: int = 0,
                    gradgrad: bool = True) -> None:
    """float64 finite-difference check of ember's gradients (and second derivatives)."""
    _, leaves, _, _ = make_inputs(shapes, "float64", low=low, high=high, seed=seed)

    def f(*xs):
        return fn(ember, *xs)

    assert ember.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-5, rtol=1e-3)
    if gradgrad:
        assert ember.autograd.gradgradcheck(f, leaves, eps=1e-6, atol=1e-5, rtol=1e-3)


def check_raises_like(fn) -> None:
    """ember raises what torch raises, with torch's exception type and message."""
    with pytest.raises(Exception) as t_info:  # noqa: B017 - any exception torch raises
        fn(torch)
    assert_raises_like(t_info.value, lambda: fn(ember))


def torch_or_refused(fn, *errors):
    """``fn(torch)``; or, when torch raises one of ``errors``, None once ember has raised
    what torch raises (``check_raises_like``). ``fn`` must not return None."""
    try:
        return fn(torch)
    except errors:
        check_raises_like(fn)
        return None


def broadcastable_shapes(nargs: int):
    """A hypothesis strategy: ``nargs`` mutually broadcastable shapes, 0-d to 3-d, with
    sides from 0 (empty) to 4."""
    return mutually_broadcastable_shapes(num_shapes=nargs, min_dims=0, max_dims=3, min_side=0,
                                         max_side=4).map(lambda s: s.input_shapes)


def _check_row_op(row, shapes, *, dtype: str, seed: int = 0,
                  noncontiguous: bool = False) -> None:
    check_op(row.fn, shapes, dtype=dtype, low=row.domain[0], high=row.domain[1],
             grad=row.grad, seed=seed, noncontiguous=noncontiguous,
             rtol=getattr(row, "rtol", None), atol=getattr(row, "atol", None),
             error_match=getattr(row, "error_match", None),
             torch_backward_bug=getattr(row, "torch_backward_bug", None))


def check_row(row, data) -> None:
    """One hypothesis example of an op table's row: shapes, dtype and input seed drawn,
    then ``check_op``."""
    shapes = data.draw(broadcastable_shapes(row.nargs), label="shapes")
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    _check_row_op(row, shapes, dtype=dtype, seed=seed)


# The input kinds every op-table row sees on every run, not left to hypothesis' draws:
# kind -> (shapes for ``nargs`` inputs, non-contiguous). Binary rows broadcast size-1 and
# empty dims against the first input.
SHAPE_CASES = {
    "0-d": (lambda n: [()] * n, False),
    "empty": (lambda n: [(0, 3)] + [(1, 3)] * (n - 1), False),
    "size-1": (lambda n: [(1, 3)] + [(2, 1)] * (n - 1), False),
    "3-d": (lambda n: [(2, 3, 4)] * n, False),
    "noncontiguous": (lambda n: [(2, 3, 4)] * n, True),
}
REQUIRED_SHAPE_KINDS = ("0-d", "empty", "size-1", "3-d", "noncontiguous")
SHAPE_CASES_SEEN: set[tuple[int, str]] = set()  # (id(row), kind): see tests/test_coverage.py
ALL_ROWS: list = []  # every row of every op table, registered by ``shape_cases_for``


def shape_cases_for(rows) -> list:
    """``pytest.param``s of (row, kind) for every row and every kind of SHAPE_CASES; the
    table's rows join the registry that tests/test_coverage.py checks."""
    ALL_ROWS.extend(rows)
    return [pytest.param(row, kind, id=f"{row.name}-{kind}")
            for row in rows for kind in SHAPE_CASES]


def check_row_case(row, kind: str) -> None:
    """An op table's row on one explicit input kind of SHAPE_CASES (each dtype of the row
    in turn across kinds, so both are seen on every run)."""
    shapes_for, noncontiguous = SHAPE_CASES[kind]
    dtype = row.dtypes[list(SHAPE_CASES).index(kind) % len(row.dtypes)]
    _check_row_op(row, shapes_for(row.nargs), dtype=dtype, noncontiguous=noncontiguous)
    SHAPE_CASES_SEEN.add((id(row), kind))


def check_row_noncontiguous(row) -> None:
    """An op table's row on non-contiguous (3, 4) inputs."""
    _check_row_op(row, [(3, 4)] * row.nargs, dtype=row.dtypes[0], noncontiguous=True)


def check_reduction(fn, shape=(2, 3, 4), *, dtype: str = "float32", low: float = -2.0,
                    high: float = 2.0, grad: bool = True, noncontiguous: bool = False,
                    error_match: str | None = None) -> None:
    """``fn(lib, a, dim, keepdim)`` against torch for every dim of ``shape`` (negative and
    positive spellings) with keepdim both ways."""
    for dim in range(-len(shape), len(shape)):
        for keepdim in (False, True):
            check_op(lambda L, a, d=dim, k=keepdim: fn(L, a, d, k), [shape], dtype=dtype,
                     low=low, high=high, grad=grad, seed=dim + 7, noncontiguous=noncontiguous,
                     error_match=error_match)


def examples(n: int) -> int:
    """A test's hypothesis example count: ``n`` under the default "ci" profile (25
    examples), proportionally more under ``--hypothesis-profile=thorough``."""
    from hypothesis import settings

    return max(n, settings.default.max_examples * n // 25)
