"""The test method: run one lambda on ember and on torch from the same inputs and compare.

``check_op(fn, shapes)`` builds identical inputs for both libraries from a NumPy seed, runs
``fn(lib, *inputs)`` with ``lib`` = torch and ``lib`` = ember, and compares shape, dtype,
values and node name, then backpropagates a *random* cotangent (an all-ones cotangent hides
transposition bugs) and compares the gradient of every input. torch is the oracle: no
expected value here comes from ember.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import ember

torch = pytest.importorskip("torch")

# Tolerances by dtype, torch.testing's defaults.
TOLERANCES = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}


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


class Row:
    """One row of an op table: ``fn(lib, *inputs)``, its input count, the value domain its
    inputs are drawn from, and what to check."""

    def __init__(self, name, fn, nargs=1, domain=(-2.0, 2.0), grad=True, gradgrad=True,
                 dtypes=("float32", "float64")):
        self.name, self.fn, self.nargs, self.domain = name, fn, nargs, domain
        self.grad, self.gradgrad, self.dtypes = grad, gradgrad, dtypes

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
             rtol=None, atol=None, grad_rtol=None, grad_atol=None) -> None:
    """Run ``fn(lib, *inputs)`` on torch and ember and compare results and gradients."""
    t_leaves, e_leaves, t_args, e_args = make_inputs(
        shapes, dtype, low=low, high=high, seed=seed, requires_grad=grad,
        noncontiguous=noncontiguous)
    try:
        t_out = _outputs(fn(torch, *t_args))
    except Exception as exc:  # torch refuses: ember must refuse the same way
        with pytest.raises(type(exc)):
            fn(ember, *e_args)
        return
    e_out = _outputs(fn(ember, *e_args))
    assert len(e_out) == len(t_out)
    for k, (e, t) in enumerate(zip(e_out, t_out)):
        assert_same(e, t, rtol=rtol, atol=atol, what=f"output {k}")
        assert e.requires_grad == t.requires_grad, f"output {k}: requires_grad differs"
        if t.grad_fn is not None:
            assert e.grad_fn is not None and e.grad_fn.name() == t.grad_fn.name(), \
                f"output {k}: node {e.grad_fn} != {t.grad_fn.name()}"
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
    except RuntimeError:
        # torch's own backward rejects a few degenerate broadcasts (e.g. clamp of a 0-d
        # tensor by empty bounds): there is no reference gradient to compare with.
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
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember)
    assert str(e_info.value) == str(t_info.value)


def broadcastable_shapes(nargs: int):
    """A hypothesis strategy: ``nargs`` mutually broadcastable shapes, 0-d to 3-d, with
    sides from 0 (empty) to 4."""
    return mutually_broadcastable_shapes(num_shapes=nargs, min_dims=0, max_dims=3, min_side=0,
                                         max_side=4).map(lambda s: s.input_shapes)


def check_row(row, data) -> None:
    """One hypothesis example of an op table's row: shapes, dtype and input seed drawn,
    then ``check_op``."""
    shapes = data.draw(broadcastable_shapes(row.nargs), label="shapes")
    dtype = data.draw(st.sampled_from(row.dtypes), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    check_op(row.fn, shapes, dtype=dtype, low=row.domain[0], high=row.domain[1],
             grad=row.grad, seed=seed)


def check_row_noncontiguous(row) -> None:
    """An op table's row on non-contiguous (3, 4) inputs."""
    check_op(row.fn, [(3, 4)] * row.nargs, low=row.domain[0], high=row.domain[1],
             grad=row.grad, noncontiguous=True)
