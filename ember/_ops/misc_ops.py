"""torch's remaining top-level and Tensor operations: outer-product and index updates, the
*_copy view variants, consecutive uniques, histograms, gradients and more."""
from __future__ import annotations

import builtins
import copy
import functools
import threading
import warnings

from ember import _dtype
from ember._backend import np
from ember._ops import _promote, batching
from ember._ops import creation as _creation
from ember._ops import indexing as _indexing
from ember._ops import linalg as _linalg
from ember._ops import reduction as _reduction
from ember._ops import shape as _shape
from ember._ops.registry import (
    KEEP,
    SAME,
    Op,
    OpMode,
    attach,
    check_no_overlap,
    defop,
    inplace,
    not_implemented,
    pop_mode,
    push_mode,
    run,
)
from ember._tensor import (
    Tensor,
    bool_argument,
    make,
    method_taking_tensor,
    refuse_non_tensor,
    tensor_argument,
    wrap_dim,
)
from ember.autograd import grad_mode
from ember.autograd.forward_ad import not_supported
from ember.autograd.graph import MultiOutputNode, node_class

__all__: list[str] = [
    "addr", "put", "index_reduce", "fill", "narrow_copy", "unsafe_chunk", "unsafe_split",
    "unsafe_split_with_sizes", "alias_copy", "as_strided_copy", "detach_copy",
    "diagonal_copy", "expand_copy", "permute_copy", "select_copy", "slice_copy",
    "split_copy", "split_with_sizes_copy", "squeeze_copy", "t_copy", "transpose_copy",
    "unbind_copy", "unfold_copy", "unsqueeze_copy", "view_copy", "view_as_real_copy",
    "view_as_complex_copy", "unique_consecutive", "gradient", "nonzero_static", "histogram",
    "histogramdd", "as_strided_scatter",
]


# ---- twins: an existing op record under another node name ------------------------------
# NOTE [Op twins]
# Several torch ops compute what an existing ember op computes and differ only in the node
# they record and in returning fresh memory instead of a view: ``transpose_copy`` is
# ``transpose`` copied (node TransposeBackward0_copy), ``unsafe_split`` is ``split`` with
# UnsafeSplitBackward0 nodes, ``narrow_copy`` is ``narrow``'s slice with NarrowCopyBackward0,
# ``index_reduce`` is ``scatter_reduce`` over an index spread along ``dim``. A twin is a
# shallow copy of the op's record (same checks, same backward formulas, so higher
# derivatives work the same) with its own node class and, for the copies, a forward that
# copies the view's array. The public functions of the view ops pick the op record after
# checking and normalising their arguments; ``_twinning`` runs such a function with an op
# mode that hands the view op it runs over to the twin, so the argument handling and
# torch's error messages are the view function's own.
_twins: dict = {}


def _copied(forward, multi, xp, *args):
    result = forward(xp, *args)
    if multi:
        return tuple(xp.array(r, order="C") for r in result)
    return xp.array(result, order="C")


def _twin(op: Op, node: str, copies: bool = True) -> Op:
    """``op``'s record recording ``node``; with ``copies`` its results are fresh arrays,
    not views (NOTE [Op twins])."""
    key = (op, node, copies)
    twin = _twins.get(key)
    if twin is None:
        twin = copy.copy(op)
        twin.node = node
        twin.node_cls = node_class(node, MultiOutputNode) if op.multi else node_class(node)
        if copies:
            twin.view = False
            twin.forward = functools.partial(_copied, op.forward, op.multi)
        _twins[key] = twin
    return twin


class _TwinMode(OpMode):
    """Hands the view ops run by this thread to their twins (NOTE [Op twins])."""

    def __init__(self, rename) -> None:
        self.rename = rename
        self.thread = threading.get_ident()

    def run_op(self, op: Op, args: tuple):
        if op.view and op.node is not None and threading.get_ident() == self.thread:
            op = _twin(op, self.rename(op.node))
        return self.proceed(op, args)


def _twinning(rename, fn, *args):
    """``fn(*args)`` with its view ops recording ``rename(node)`` and copying."""
    mode = _TwinMode(rename)
    push_mode(mode)
    try:
        return fn(*args)
    except TypeError as error:
        if rename is _copy_name:  # torch.t_copy(2) names t_copy
            refuse_non_tensor(fn.__name__.lstrip("_") + "_copy", error, args[0], "input")
        raise
    finally:
        pop_mode(mode)


def _copy_name(node: str) -> str:
    return node + "_copy"


def _unsafe_name(node: str) -> str:
    return "Unsafe" + node


def _narrow_copy_name(node: str) -> str:
    return "NarrowCopyBackward0"


# ---- the *_copy variants of the view ops -----------------------------------------------

ALIAS_COPY = defop("alias_copy", node="AliasBackward0_copy", kind=KEEP,
                   forward=lambda xp, self: self.copy(),
                   backward=lambda grad, self: grad)
# torch records detach_copy with a node that refuses to differentiate
DETACH_COPY = defop("detach_copy", node="NotImplemented", kind=KEEP,
                    forward=lambda xp, self: self.copy(),
                    backward=not_implemented("detach_copy"))


def alias_copy(input: Tensor) -> Tensor:
    """Mirrors ``torch.alias_copy``: a copy of ``input`` (AliasBackward0_copy)."""
    return run(ALIAS_COPY, input)


def detach_copy(input: Tensor) -> Tensor:
    """Mirrors ``torch.detach_copy``: a copy of ``input``. As in torch the result still
    requires grad when ``input`` does, and backpropagating through it raises."""
    return run(DETACH_COPY, input)


def as_strided_copy(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """Mirrors ``torch.as_strided_copy``: ``as_strided`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.as_strided, input, size, stride, storage_offset)


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """Mirrors ``torch.diagonal_copy``: ``diagonal`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.diagonal, input, offset, dim1, dim2)


def expand_copy(input: Tensor, size, *, implicit: bool = False) -> Tensor:
    """Mirrors ``torch.expand_copy``: ``expand`` as a fresh tensor. ``implicit`` marks an
    expansion made by broadcasting for torch's tracers; the values do not depend on it."""
    return _twinning(_copy_name, _shape.expand, input, size)


def permute_copy(input: Tensor, dims) -> Tensor:
    """Mirrors ``torch.permute_copy``: ``permute`` as a fresh tensor."""
    return _twinning(_copy_name, _shape._permute, input, dims)


def select_copy(input: Tensor, dim: int, index: int) -> Tensor:
    """Mirrors ``torch.select_copy``: ``select`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.select, input, dim, index)


def _slice_key(input: Tensor, dim: int, start, end, step: int) -> tuple:
    ndim = input._data.ndim
    if ndim == 0:
        raise RuntimeError("slice() cannot be applied to a 0-dim tensor.")
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return (slice(None),) * wrap_dim(dim, ndim) + (slice(start, end, step),)


def slice_copy(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """Mirrors ``torch.slice_copy``: ``input[..., start:end:step]`` along ``dim`` as a
    fresh tensor (SliceBackward0_copy even where the slice keeps everything)."""
    key = _slice_key(input, dim, start, end, step)
    return run(_twin(_shape._SLICE, "SliceBackward0_copy"), input, key, input._data.shape)


def split_copy(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    """Mirrors ``torch.split_copy``: ``split`` into fresh tensors."""
    return _twinning(_copy_name, _shape.split, input, split_size, dim)


def split_with_sizes_copy(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Mirrors ``torch.split_with_sizes_copy``: ``split_with_sizes`` into fresh tensors."""
    return _twinning(_copy_name, _shape.split_with_sizes, input, split_sizes, dim)


def squeeze_copy(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.squeeze_copy``: ``squeeze`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.squeeze, input, dim)


def t_copy(input: Tensor) -> Tensor:
    """Mirrors ``torch.t_copy``: ``t`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.t, input)


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Mirrors ``torch.transpose_copy``: ``transpose`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.transpose, input, dim0, dim1)


def unbind_copy(input: Tensor, dim: int = 0) -> tuple:
    """Mirrors ``torch.unbind_copy``: ``unbind`` into fresh tensors."""
    return _twinning(_copy_name, _shape.unbind, input, dim)


def unfold_copy(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Mirrors ``torch.unfold_copy``: ``Tensor.unfold`` as a fresh tensor."""
    return _twinning(_copy_name, _shape._unfold, input, dimension, size, step)


def unsqueeze_copy(input: Tensor, dim: int) -> Tensor:
    """Mirrors ``torch.unsqueeze_copy``: ``unsqueeze`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.unsqueeze, input, dim)


def view_copy(input: Tensor, size=None, *, dtype=None) -> Tensor:
    """Mirrors ``torch.view_copy``: ``Tensor.view`` (a shape, or a dtype given in place of
    the shape or as ``dtype=``) as a fresh tensor; as in torch, any strides will do, the
    values are copied anyway."""
    if isinstance(size, _dtype.dtype) and dtype is None:
        size, dtype = None, size
    if (size is None) == (dtype is None):
        given = ", ".join(["Tensor"] + ([type(size).__name__] if size is not None else [])
                          + (["dtype=torch.dtype"] if dtype is not None else []))
        raise TypeError(
            f"view_copy() received an invalid combination of arguments - got ({given}), but "
            "expected one of:\n * (Tensor input, torch.dtype dtype, *, Tensor out = None)\n"
            " * (Tensor input, tuple of ints size, *, Tensor out = None)\n")
    if dtype is not None:
        return _fresh(_shape.view, input, dtype)
    data = input._data
    shape = _shape.infer_shape(tuple(size), data.size)
    return run(_twin(_shape.UNSAFE_VIEW, "ViewBackward0_copy"), input, shape, data.shape)


def view_as_real_copy(input: Tensor) -> Tensor:
    """Mirrors ``torch.view_as_real_copy``: ``view_as_real`` as a fresh tensor."""
    return _twinning(_copy_name, _shape.view_as_real, input)


def view_as_complex_copy(input: Tensor) -> Tensor:
    """Mirrors ``torch.view_as_complex_copy``: ``view_as_complex`` as a fresh tensor. As in
    torch, an input that requires grad is refused while grad mode is on."""
    if input._requires_grad and grad_mode.state.enabled:
        raise RuntimeError("view_as_complex_copy does not support automatic differentiation "
                           "for outputs with complex dtype.")
    return _fresh(_shape.view_as_complex, input)


def _fresh(fn, *args) -> Tensor:
    """``fn(*args)`` as a tensor that owns its memory: ``fn`` makes its view without an op
    record (``view(dtype)``, ``view_as_complex``)."""
    out = fn(*args)
    if out._base is not None:
        out = make(out._data.copy(), out._requires_grad, out._grad_fn)
    return out


# ---- narrow_copy and the unsafe splits -------------------------------------------------


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """Mirrors ``torch.narrow_copy``: ``narrow`` as a fresh tensor (NarrowCopyBackward0)."""
    return _twinning(_narrow_copy_name, _shape.narrow, input, dim, start, length)


def unsafe_split(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    """Mirrors ``torch.unsafe_split``: ``split`` into fresh tensors."""
    return _twinning(_unsafe_name, _shape.split, input, split_size, dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Mirrors ``torch.unsafe_split_with_sizes``: ``split_with_sizes`` into fresh
    tensors."""
    return _twinning(_unsafe_name, _shape.split_with_sizes, input, split_sizes, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Mirrors ``torch.unsafe_chunk``: ``chunk`` into fresh tensors."""
    return _twinning(_unsafe_name, _shape.chunk, input, chunks, dim)


# ---- addr --------------------------------------------------------------------------------


def _check_addr(self, vec1, vec2, beta, alpha) -> None:
    for name, vec in (("vec1", vec1), ("vec2", vec2)):
        if vec._data.ndim != 1:
            raise RuntimeError(
                f"addr: Expected 1-D argument {name}, but got {vec._data.ndim}-D")
    if {t._data.dtype.kind for t in (self, vec1, vec2)} <= set("biu"):
        for name, value in (("beta", beta), ("alpha", alpha)):
            if isinstance(value, float):
                raise RuntimeError(f"For integral input tensors, argument {name} must not be "
                                   "a floating point number.")


ADDR = defop("addr", node="AddrBackward0", nin=3, kind=SAME,
             save={1: (2,), 2: (1,)}, check=_check_addr,
             forward=lambda xp, self, vec1, vec2, beta, alpha: _linalg._fused(
                 xp, self, xp.multiply.outer(vec1, vec2), beta, alpha),
             backward=(lambda grad, self, vec1, vec2, beta, alpha: _linalg._scale(grad, beta),
                       lambda grad, self, vec1, vec2, beta, alpha: _linalg._scale(
                           grad.mv(vec2), alpha),
                       lambda grad, self, vec1, vec2, beta, alpha: _linalg._scale(
                           grad.t().mv(vec1), alpha)))


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """Mirrors ``torch.addr``: ``beta * input + alpha * outer(vec1, vec2)``, ``input``
    broadcast to the outer product's shape and ignored when ``beta`` is 0; the three are
    promoted together as in torch."""
    shape = (vec1._data.shape[0] if vec1._data.ndim else 1,
             vec2._data.shape[0] if vec2._data.ndim else 1)
    have = input._data.shape
    if not (have == shape or have == shape[1:]):
        _shape.expanded_shape(input, shape)
    return run(ADDR, input, vec1, vec2, beta, alpha)


def addr_(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """Mirrors ``Tensor.addr_``: ``addr`` written into ``self``."""
    return inplace(addr, self, vec1, vec2, beta=beta, alpha=alpha)


# ---- put ---------------------------------------------------------------------------------


def _put(xp, self, source, index, accumulate, source_shape):
    out = self.copy()
    flat = out.reshape(-1)
    if accumulate:
        xp.add.at(flat, index.reshape(-1), source.reshape(-1))
    else:
        flat[index.reshape(-1)] = source.reshape(-1)
    return out


def _put_self_grad(grad, self, source, index, accumulate, source_shape):
    if accumulate:
        return grad
    return run(PUT, grad, _indexing._zeros(index.shape, grad), index, False, index.shape)


PUT = defop("put", node="PutBackward0", nin=2, kind=KEEP, promote=(0,), forward=_put,
            backward=(_put_self_grad,
                      lambda grad, self, source, index, accumulate, source_shape: run(
                          _indexing.TAKE, grad, index).reshape(source_shape)))


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Mirrors ``torch.put``: ``source`` written into ``input`` read as 1-D at ``index``
    (negative counts from the end); with ``accumulate`` repeated indices add up."""
    if index._data.dtype != np.int64:
        raise RuntimeError("put_(): Expected a long tensor for index, but got "
                           + _indexing._type_name(index))
    if input._data.dtype != source._data.dtype:
        raise RuntimeError(
            "put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{_indexing._type_name(input)} and source.dtype = "
            f"{_indexing._type_name(source)}")
    if index._data.size != source._data.size:
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source._data.size}, index.numel() = {index._data.size}")
    n = input._data.size
    idx = batching.values(index)  # every sample's index inside vmap
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(idx[bad].flat[0])} on a "
                         f"tensor of {n} elements.")
    return run(PUT, input, source,
               batching.param(index, lambda a, k: a.astype(np.intp, copy=False)),
               bool(accumulate), source._data.shape)


def put_(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Mirrors ``Tensor.put_``: ``put`` written into ``self``."""
    check_no_overlap(self, index, source)
    return inplace(put, self, index, source, accumulate)


# ---- index_reduce --------------------------------------------------------------------------


_index_reduce_warned = False  # torch warns once per process


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """Mirrors ``torch.index_reduce``: the slices of ``source`` combined into ``input`` at
    ``index`` along ``dim`` with ``reduce`` (prod, mean, amax, amin); with ``include_self``
    False the old values at the indexed positions take no part. It is ``scatter_reduce``
    with the index spread over ``source``'s other dims (NOTE [Op twins])."""
    global _index_reduce_warned
    if not _index_reduce_warned:
        _index_reduce_warned = True
        warnings.warn("index_reduce() is in beta and the API may change at any time.",
                      UserWarning, stacklevel=2)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError("index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    idx = _indexing._check_index_vector("index_reduce_", index)
    if input._data.dtype != source._data.dtype:
        raise RuntimeError(
            f"index_reduce_(): self ({_indexing._type_name(input)}) and source "
            f"({_indexing._type_name(source)}) must have the same scalar type")
    src_shape = source._data.shape
    n = src_shape[dim] if src_shape else 1
    if n != idx.size:
        raise RuntimeError(f"index_reduce_(): Number of indices ({idx.size}) should be equal "
                           f"to source.size(dim): ({n}), for dim: {dim}")
    size = shape[dim] if shape else 1
    every = batching.values(index)  # every sample's index inside vmap
    if every.size and ((every < 0) | (every >= size)).any():
        raise IndexError("index out of range in self")
    along = [1] * len(src_shape)
    if src_shape:
        along[dim] = idx.size

    def spread_over_source(a, k):  # each sample's index along ``dim`` of ``source``
        return np.broadcast_to(a.reshape(a.shape[:k] + tuple(along)), a.shape[:k] + src_shape)
    spread = batching.param(index, spread_over_source)
    if input._data.dtype == bool and (not include_self or reduce == "mean" and idx.size):
        # torch's kernels for these have no bool loop (its mean divides only when indexed)
        kernel = "index_reduce_func_exclude_input_init" if not include_self else "div_floor_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    op = _twin(_indexing.SCATTER_REDUCE, "IndexReduceBackward0", copies=False)
    return run(op, input, source, spread, dim, reduce, bool(include_self))


def index_reduce_(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                  include_self: bool = True) -> Tensor:
    """Mirrors ``Tensor.index_reduce_``: ``index_reduce`` written into ``self``."""
    check_no_overlap(self, index, source)
    return inplace(index_reduce, self, dim, index, source, reduce, include_self=include_self)


# ---- fill ----------------------------------------------------------------------------------

FILL_SCALAR = defop("fill", node="FillBackward0", kind=KEEP,
                    forward=lambda xp, self, value: xp.full(self.shape, value, self.dtype),
                    backward=_creation.zero_gradient)


def fill(input: Tensor, value) -> Tensor:
    """Mirrors ``torch.fill``: a tensor like ``input`` filled with ``value`` (a number or a
    0-d tensor, whose gradient is the sum of the result's)."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value._data.ndim} dimensions.")
        return run(_twin(_indexing.FILL, "FillBackward1", copies=False), input, value)
    return run(FILL_SCALAR, input, _promote.fill_value(value, input._data.dtype,
                                                        check_half=input._data.size != 1))


# ---- unique_consecutive -----------------------------------------------------------------


def _unique_consecutive(xp, self, dim):
    if dim is None:
        rows = self.reshape(-1, 1)
    else:
        moved = xp.moveaxis(self, dim, 0)
        rows = moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:])))
    n = rows.shape[0]
    # nan != nan: every nan starts a run of its own, as in torch
    starts = xp.ones(n, bool)
    starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    first = xp.flatnonzero(starts)
    counts = xp.diff(xp.append(first, n)).astype(np.int64)
    inverse = (xp.cumsum(starts) - 1).astype(np.int64)
    if dim is None:
        return self.reshape(-1)[first], inverse.reshape(self.shape), counts
    return xp.take(self, first, axis=dim), inverse, counts


UNIQUE_CONSECUTIVE = defop(
    "unique_consecutive", node="UniqueConsecutiveBackward0", kind=KEEP, multi=1,
    forward=_unique_consecutive, backward=_reduction._unique_formula("unique_consecutive"),
    jvp=not_supported("unique_consecutive"))


def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None):
    """Mirrors ``torch.unique_consecutive``: the first value (or slice along ``dim``) of
    each run of equal ones, with the run index of every element and the run lengths when
    asked; every nan starts a run."""
    tensor_argument("unique_consecutive", "input", input, 1)
    if type(return_inverse) is not bool or type(return_counts) is not bool:
        for arg, value in (("return_inverse", return_inverse), ("return_counts", return_counts)):
            bool_argument(value, "unique_consecutive", arg, None)
    data = input._data
    if data.dtype.kind == "c":
        raise NotImplementedError(f'"{"unique" if dim is None else "unique_dim"}" not '
                                  f"implemented for '{_dtype.scalar_type_name(input.dtype)}'")
    if dim is not None:
        dim = _reduction.unique_dim(data, dim)
    values, inverse, counts = run(UNIQUE_CONSECUTIVE, input, dim)
    return _reduction.unique_outputs(values, inverse, counts, return_inverse, return_counts)


# ---- gradient ------------------------------------------------------------------------------


def _along(coefficients: Tensor, dim: int, ndim: int) -> Tensor:
    """A 1-D tensor of coefficients shaped to broadcast along ``dim``."""
    shape = [1] * ndim
    shape[dim] = coefficients.shape[0]
    return coefficients.reshape(shape)


def _gradient_dim(f: Tensor, dim: int, step, edge_order: int) -> Tensor:
    """The derivative of ``f`` along ``dim``: second-order central differences inside,
    one-sided differences of ``edge_order`` at the two ends; ``step`` is a number (even
    spacing) or a 1-D tensor of coordinates."""
    n = f.shape[dim]
    ndim = f.ndim
    lo = f.narrow(dim, 0, n - 2)
    mid = f.narrow(dim, 1, n - 2)
    hi = f.narrow(dim, 2, n - 2)
    if not isinstance(step, Tensor):
        inner = (hi - lo) / (2 * step)
        dx0 = dx1 = dxl0 = dxl1 = step
    else:
        dx = step[1:] - step[:-1]
        d1 = dx[:-1]
        d2 = dx[1:]
        inner = (_along(-d2 / (d1 * (d1 + d2)), dim, ndim) * lo
                 + _along((d2 - d1) / (d1 * d2), dim, ndim) * mid
                 + _along(d1 / (d2 * (d1 + d2)), dim, ndim) * hi)
        dx0, dx1, dxl0, dxl1 = dx[0], dx[1] if n > 2 else None, dx[-2] if n > 2 else None, dx[-1]
    f0, f1 = f.narrow(dim, 0, 1), f.narrow(dim, 1, 1)
    fl, fl1 = f.narrow(dim, n - 1, 1), f.narrow(dim, n - 2, 1)
    if edge_order == 1:
        first = (f1 - f0) / dx0
        last = (fl - fl1) / dxl1
    else:
        f2, fl2 = f.narrow(dim, 2, 1), f.narrow(dim, n - 3, 1)
        first = (-(2 * dx0 + dx1) / (dx0 * (dx0 + dx1)) * f0
                 + (dx0 + dx1) / (dx0 * dx1) * f1
                 - dx0 / (dx1 * (dx0 + dx1)) * f2)
        last = (dxl1 / (dxl0 * (dxl0 + dxl1)) * fl2
                - (dxl1 + dxl0) / (dxl0 * dxl1) * fl1
                + (2 * dxl1 + dxl0) / (dxl1 * (dxl0 + dxl1)) * fl)
    return _shape.cat([first, inner, last], dim)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Mirrors ``torch.gradient``: the derivative of ``input`` estimated along each of
    ``dim`` (all dims when None) by central differences, with one-sided differences of
    ``edge_order`` (1 or 2) at the ends. ``spacing`` is one number for every dim, one per
    dim, or one 1-D tensor of coordinates per dim."""
    tensor_argument("gradient", "input", input, 1)
    ndim = input._data.ndim
    given_dim = dim is not None
    if dim is None:
        dims = list(range(ndim))
    elif isinstance(dim, int):
        dims = [wrap_dim(dim, ndim)]
    else:
        dims = [wrap_dim(d, ndim) for d in dim]
        for i, d in enumerate(dims):
            if d in dims[:i]:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if isinstance(spacing, (list, tuple)):
        steps = list(spacing)
        if len(steps) != len(dims):
            if given_dim:
                raise RuntimeError(
                    "torch.gradient expected spacing to be unspecified, a scalar or it's "
                    "spacing and dim arguments to have the same length, but got a spacing "
                    f"argument of length {len(steps)} and a dim argument of length "
                    f"{len(dims)}.")
            raise RuntimeError(
                "torch.gradient expected spacing to be unspecified, a scalar, or a list of "
                f"length equal to 'self.dim() = {ndim}', since dim argument was not given, "
                f"but got a list of length {len(steps)}")
    else:
        steps = [spacing] * len(dims)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for d in dims:
        if input._data.shape[d] < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1")
    steps = [s.item() if isinstance(s, Tensor) and s._data.ndim == 0 else s for s in steps]
    return tuple(_gradient_dim(input, d, s, edge_order) for d, s in zip(dims, steps))


# ---- nonzero_static ------------------------------------------------------------------------


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """Mirrors ``torch.nonzero_static``: ``nonzero``'s (n, ndim) int64 indices cut or
    padded with ``fill_value`` to exactly ``size`` rows."""
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    data = input._data
    found = np.argwhere(data)[:size]
    out = np.full((size, data.ndim), fill_value, np.int64)
    out[:found.shape[0]] = found
    return make(out)


# ---- histogram, histogramdd -------------------------------------------------------------

histogram_result = _reduction._return_type("histogram", ("hist", "bin_edges"))
histogramdd_result = _reduction._return_type("histogramdd", ("hist", "bin_edges"))


def _bin_edges(column, bins, bounds, dim: int, dtype):
    """The edges of dimension ``dim``: ``bins`` (a tensor) as given, or ``bins + 1`` evenly
    spaced over ``bounds`` or the data's range (widened by 0.5 each way when it is one
    point, [0, 1] when empty)."""
    if isinstance(bins, Tensor):
        return bins._data.astype(dtype, copy=False)
    if bins <= 0:
        raise RuntimeError(
            f"torch.histogram(): bins must be > 0, but got {bins} for dimension {dim}")
    if bounds is not None:
        lo, hi = float(bounds[0]), float(bounds[1])
    elif column.size:
        lo, hi = float(column.min()), float(column.max())
    else:
        lo, hi = 0.0, 1.0
    if lo > hi:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                           f"{lo:g} max {hi:g} for dimension {dim}")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histogramdd: dimension {dim}'s range [{lo:g}, {hi:g}] is "
                           "not finite")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return _creation.linspace(lo, hi, bins + 1, dtype=_dtype.from_np(dtype))._data


def _histogramdd(points, weight, edges: list, density: bool):
    """Counts (or weight sums) of the (N, D) ``points`` over the bins between ``edges``:
    a value falls in the bin whose left edge it reaches, the last bin also holds its
    right edge, values outside the edges are left out."""
    dtype = points.dtype
    shape = tuple(max(e.size - 1, 0) for e in edges)
    keep = np.ones(points.shape[0], bool)
    index = []
    for d, e in enumerate(edges):
        x = points[:, d]
        if e.size == 0:
            keep[:] = False
            index.append(np.zeros(points.shape[0], np.intp))
            continue
        pos = np.searchsorted(e, x, side="right") - 1
        pos[x == e[-1]] = e.size - 2
        keep &= (x >= e[0]) & (x <= e[-1]) & (pos < e.size - 1)
        index.append(pos)
    flat = np.ravel_multi_index([p[keep] for p in index], shape) if all(shape) else None
    size = int(np.prod(shape))
    w = None if weight is None else weight[keep]
    hist = (np.bincount(flat, w, minlength=size) if flat is not None
            else np.zeros(size)).astype(dtype).reshape(shape)
    if density:
        total = hist.sum()
        for d, e in enumerate(edges):
            widths = np.diff(e).reshape([-1 if k == d else 1 for k in range(len(edges))])
            hist = hist / widths
        hist = (hist / total).astype(dtype)
    return hist


def _check_float_input(input: Tensor) -> None:
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"histogramdd\" not implemented for '{_dtype.scalar_type_name(input.dtype)}'")


def _check_weight(input: Tensor, weight) -> None:
    want = input._data.shape[:-1]
    if weight is not None and weight._data.shape != want:
        raise RuntimeError(
            "torch.histogramdd: if weight tensor is provided it should have the same shape as "
            "the input tensor excluding its innermost dimension, but got input with shape "
            f"{list(input._data.shape)} and weight with shape {list(weight._data.shape)}")


def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None,  # noqa: A002
              density: bool = False):
    """Mirrors ``torch.histogram``: (hist, bin_edges) of the flattened ``input`` over
    ``bins`` equal bins (between ``range`` or the data's extremes) or between the edges of
    a 1-D tensor ``bins``; ``weight`` sums weights instead of counting, ``density``
    normalises to a density. Not differentiable, as in torch."""
    _check_float_input(input)
    if input._data.dtype.itemsize == 2 and not isinstance(bins, Tensor):
        # torch's kernel for a count of bins has no half version (edges given do)
        raise NotImplementedError(
            f'"histogramdd" not implemented for \'{_dtype.scalar_type_name(input.dtype)}\'')
    points = input._data.reshape(-1, 1)
    _check_weight(make(points), None if weight is None else weight.reshape(-1))
    edges = _bin_edges(points[:, 0], bins, range, 0, points.dtype)
    w = None if weight is None else weight._data.reshape(-1)
    hist = _histogramdd(points, w, [edges], density)
    return histogram_result((make(hist), make(edges.copy())))


def histogramdd(input: Tensor, bins=10, range=None, weight: Tensor | None = None,  # noqa: A002
                density: bool = False):
    """Mirrors ``torch.histogramdd``: the D-dimensional histogram of the points in the
    rows of ``input`` (its last dim is D): ``bins`` is one count for every dimension, one
    count per dimension or one tensor of edges per dimension; ``range`` holds a (min, max)
    pair per dimension, flattened."""
    tensor_argument("histogramdd", "input", input, 1)
    _check_float_input(input)
    data = input._data
    points = data.reshape(-1, data.shape[-1])
    _check_weight(input, weight)
    ndims = points.shape[1]
    per_dim = list(bins) if isinstance(bins, (list, tuple)) else [bins] * ndims
    edges = [_bin_edges(points[:, d], per_dim[d],
                        None if range is None else range[2 * d:2 * d + 2], d, points.dtype)
             for d in builtins.range(ndims)]
    w = None if weight is None else weight._data.reshape(-1)
    hist = _histogramdd(points, w, edges, density)
    return histogramdd_result((make(hist), tuple(make(e.copy()) for e in edges)))



# ---- as_strided_scatter ------------------------------------------------------------------


def _as_strided_scatter(xp, self, src, positions, self_positions, storage_size):
    # ``self`` copied into a memory of its own strides, then written at ``positions``
    memory = xp.zeros(storage_size, self.dtype)
    memory[self_positions] = self.reshape(-1)
    memory[positions.reshape(-1)] = src.reshape(-1)
    return memory[self_positions].reshape(self.shape)


def _as_strided_scatter_src(grad, self, src, positions, self_positions, storage_size):
    memory = grad.new_zeros(storage_size).index_add(0, make(self_positions), grad.reshape(-1))
    return run(_indexing.TAKE, memory, positions)


AS_STRIDED_SCATTER = defop(
    "as_strided_scatter", node="AsStridedScatterBackward0", nin=2, kind=KEEP, promote=(0,),
    forward=_as_strided_scatter,
    backward=(lambda grad, self, src, positions, self_positions, storage_size: run(
        AS_STRIDED_SCATTER, grad, _indexing._zeros(positions.shape, grad), positions,
        self_positions, storage_size), _as_strided_scatter_src))


def as_strided_scatter(input: Tensor, src: Tensor, size, stride,
                       storage_offset: int | None = None) -> Tensor:
    """Mirrors ``torch.as_strided_scatter``: a copy of ``input`` with ``src`` written into
    the elements that ``as_strided(size, stride, storage_offset)`` would view of a memory
    holding ``input`` at its own strides (from position 0), as torch's. As in torch, an
    input that requires grad must be contiguous. The result is contiguous."""
    size = tuple(int(n) for n in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    offset = 0 if storage_offset is None else int(storage_offset)
    data = input._data
    if input._requires_grad and not input.is_contiguous():
        raise RuntimeError(
            "as_strided_scatter is currently only supported for contiguous inputs")
    own_strides = _shape._element_strides(data)
    have = 0 if 0 in data.shape else 1 + sum(
        (n - 1) * s for n, s in zip(data.shape, own_strides))
    _shape.check_storage_bounds(size, stride, offset, have, data.itemsize)
    if src._data.shape != size:
        raise RuntimeError("expected src to have a size equal to the slice of self. src size "
                           f"= {list(src._data.shape)}, slice size = {list(size)}")
    positions = _shape._positions(size, stride, offset).reshape(size)
    self_positions = _shape._positions(data.shape, own_strides, 0)
    return run(AS_STRIDED_SCATTER, input, src, positions, self_positions, have)


# ---- Tensor methods of top-level functions ---------------------------------------------


def _hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    from ember.nn._functional.activation import hardshrink

    return hardshrink(self, lambd)


def _prelu(self: Tensor, weight: Tensor) -> Tensor:
    from ember.nn._functional.activation import prelu

    tensor_argument("prelu", "weight", weight, 1)

    return prelu(self, weight)


def _isreal(self: Tensor) -> Tensor:
    from ember._runtime import isreal

    return isreal(self)


def renorm_(self: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Mirrors ``Tensor.renorm_``: ``renorm`` written into ``self``."""
    return inplace(_reduction.renorm, self, p, dim, maxnorm)


attach({
    "addr": method_taking_tensor(addr, "vec1", "vec2"),
    "addr_": method_taking_tensor(addr_, "vec1", "vec2"),
    "put": method_taking_tensor(put, "index", "source"),
    "put_": method_taking_tensor(put_, "index", "source"), "index_reduce": index_reduce,
    "index_reduce_": index_reduce_, "narrow_copy": narrow_copy, "unsafe_chunk": unsafe_chunk,
    "unsafe_split": unsafe_split, "unsafe_split_with_sizes": unsafe_split_with_sizes,
    "unique_consecutive": unique_consecutive, "histogram": histogram,
    "nonzero_static": nonzero_static, "as_strided_scatter": as_strided_scatter, "isreal": _isreal,
    "hardshrink": _hardshrink, "prelu": _prelu, "renorm_": renorm_,
})
