"""Reductions: ``sum`` and ``mean`` (over everything or over dims, with ``keepdim``)."""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._ops.registry import KEEP, attach, defop, run
from ember._tensor import Tensor, wrap_dim


def reduce_dims(dim, ndim: int) -> tuple | None:
    """``dim`` (None, an int, or a sequence) as a sorted tuple of non-negative dims, with
    torch's errors; None and ``()`` mean every dim."""
    if dim is None:
        return None
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1, and there is nothing to reduce
        for d in (dim,) if isinstance(dim, int) else dim:
            wrap_dim(d, 0)
        return None
    if isinstance(dim, int):
        return (wrap_dim(dim, ndim),)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return tuple(sorted(dims)) if dims else None


def expand_back(grad: Tensor, shape: tuple, dims: tuple | None, keepdim: bool) -> Tensor:
    """A reduction's gradient broadcast back over the reduced dims."""
    if dims is not None and not keepdim and shape:
        for d in dims:
            grad = grad.unsqueeze(d)
    return grad.expand(shape)


def _accumulator(x):
    # torch sums integers and bools in int64, and half precision in float32.
    kind = x.dtype.kind
    if kind in "biu":
        return np.int64
    if x.dtype.itemsize == 2 and kind != "i":
        return np.float32
    return None


def _sum(xp, x, dims, keepdim, shape, out_np):
    r = xp.sum(x, axis=dims, keepdims=keepdim, dtype=_accumulator(x))
    return r.astype(out_np, copy=False) if hasattr(r, "astype") else xp.asarray(r, out_np)


def _mean(xp, x, dims, keepdim, shape, out_np):
    # The sum divided by the count, as torch computes it (an empty mean is nan).
    r = xp.sum(x, axis=dims, keepdims=keepdim, dtype=_accumulator(x))
    return xp.true_divide(r, _count(shape, dims)).astype(out_np, copy=False)


def _count(shape: tuple, dims: tuple | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


def _sum_backward(grad, self, dims, keepdim, shape, out_np):
    return expand_back(grad, shape, dims, keepdim)


def _mean_backward(grad, self, dims, keepdim, shape, out_np):
    return expand_back(grad, shape, dims, keepdim) / _count(shape, dims)


SUM = defop("sum", node="SumBackward0", kind=KEEP, forward=_sum, backward=_sum_backward)
SUM_DIM = defop("sum", node="SumBackward1", kind=KEEP, forward=_sum, backward=_sum_backward)
MEAN = defop("mean", node="MeanBackward0", kind=KEEP, forward=_mean, backward=_mean_backward)
MEAN_DIM = defop("mean", node="MeanBackward1", kind=KEEP, forward=_mean,
                 backward=_mean_backward)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Mirrors ``torch.sum``: integers and bools sum to int64 unless ``dtype`` is given."""
    data = input._data
    if dtype is None:
        out_np = _dtype.int64.np if data.dtype.kind in "biu" else data.dtype
    else:
        out_np = dtype.np
        data_dtype = dtype
        if data.dtype != out_np:
            input = input.to(data_dtype)
    if dim is None:
        return run(SUM, input, None, False, data.shape, out_np)
    return run(SUM_DIM, input, reduce_dims(dim, data.ndim), keepdim, data.shape, out_np)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mirrors ``torch.mean``: floating-point and complex inputs only (or give ``dtype``)."""
    if dtype is not None:
        input = input.to(dtype)
    dt = input.dtype
    if dt.category < _dtype.FLOAT:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {_dtype.scalar_type_name(dt)}")
    data = input._data
    if dim is None:
        return run(MEAN, input, None, False, data.shape, data.dtype)
    return run(MEAN_DIM, input, reduce_dims(dim, data.ndim), keepdim, data.shape, data.dtype)


attach({"sum": sum, "mean": mean})
