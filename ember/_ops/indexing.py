"""Indexing ops: ``__setitem__``, index_select, gather, scatter (and scatter_add,
scatter_reduce), index_add/index_copy/index_fill/index_put, masked_fill/masked_select/
masked_scatter, take, take_along_dim, nonzero/argwhere, and their in-place ``_`` forms.

Index tensors are checked here, in the public functions, with torch's messages, and reach
the op records as raw ``intp`` arrays (parameters, not inputs: they have no gradient). An
out-of-range index always raises; nothing wraps silently.

In-place forms go through ``registry.inplace``, so version counters, the refusal to
overwrite a leaf that requires grad and the rewriting of a base's history when a view is
written (torch's CopySlices) are the registry's. ``__setitem__`` follows torch's
``applySlicing``: ints, slices and None make a view of ``self`` (ints select, as torch
does, which is where torch and NumPy place dims differently for ``x[0, :, [1, 2]]``), then
the view is filled (``fill_``), copied into (``copy_``), or, with tensor indices left,
written by ``index_put_``.
"""
from __future__ import annotations

import warnings

from ember._backend import ndarray, np
from ember._dtype import cpp_type_name, legacy_type_name, scalar_type_name
from ember._ops import _promote, batching
from ember._ops.creation import zero_gradient
from ember._ops.registry import (
    KEEP,
    attach,
    check_no_overlap,
    defop,
    inplace,
    not_implemented,
    run,
    saved_as,
    saved_names,
)
from ember._ops.shape import (
    check_slice,
    dims_named,
    getitem,
    index_array,
    index_parts,
    is_mask,
    raise_if_index_shapes_clash,
    select_index,
    spread_ellipses,
)
from ember._tensor import Tensor, int_index, make, method_taking_tensor, tensor_argument, wrap_dim

__all__ = [
    "index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add",
    "index_copy", "index_fill", "index_put", "masked_fill", "masked_select", "masked_scatter",
    "take", "take_along_dim", "nonzero", "argwhere",
]


# ---- shared helpers -------------------------------------------------------------------


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return make(np.zeros(shape, like._data.dtype))


def _zeros_like(grad: Tensor) -> Tensor:
    return make(np.zeros(grad._data.shape, grad._data.dtype))


def _type_name(t: Tensor) -> str:
    return scalar_type_name(t.dtype)


def _along(xp, index: ndarray, dim: int) -> tuple:
    """The NumPy key that picks ``index[i][j]...`` along ``dim`` at every other position
    (torch's gather/scatter addressing; index may be smaller than self in every dim)."""
    grid = list(xp.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _dim_key(index: ndarray, dim: int) -> tuple:
    return (slice(None),) * dim + (index,)


def _head(src: ndarray, shape: tuple) -> ndarray:
    """The leading ``shape`` block of ``src`` (scatter reads only that much of its src)."""
    return src[tuple(slice(0, s) for s in shape)]


def _at_least_1d(a: ndarray) -> ndarray:
    return a.reshape(1) if a.ndim == 0 else a


def _check_bounds(index: ndarray, size: int, dim: int, exc=RuntimeError, prefix: str = "",
                  negative: bool = False) -> None:
    low = -size if negative else 0
    bad = (index < low) | (index >= size)
    if bad.any():
        raise exc(f"{prefix}index {int(index[bad].flat[0])} is out of bounds for dimension "
                  f"{dim} with size {size}")


def _value_tensor(value, like: Tensor) -> Tensor:
    """A Python number as a 0-d tensor of ``like``'s dtype (torch casts the scalar, without
    a range check into the 16-bit floats: NOTE [Half fill values])."""
    dtype = like._data.dtype
    return make(np.asarray(np.asarray(_promote.fill_value(value, dtype, check_half=False))
                           .astype(dtype)))


# ---- gather, scatter, scatter_add, scatter_reduce ------------------------------------


def _gather(xp, self, index, dim):
    if self.ndim == 0:
        return self.reshape(1)[_at_least_1d(index)].reshape(index.shape)
    return self[_along(xp, index, dim)]


def _scatter_src(xp, self, src, index, dim, src_shape):
    out = self.copy()
    if out.ndim == 0:
        out.reshape(1)[_at_least_1d(index)] = _at_least_1d(src)[:1]
        return out
    out[_along(xp, index, dim)] = _head(src, index.shape)
    return out


def _scatter_value(xp, self, index, dim, value):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    view[_along(xp, _at_least_1d(index), dim)] = value
    return out


def _scatter_add(xp, self, src, index, dim, src_shape):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    index = _at_least_1d(index)
    xp.add.at(view, _along(xp, index, dim), _head(_at_least_1d(src), index.shape))
    return out


GATHER = defop("gather", node="GatherBackward0", kind=KEEP, forward=_gather,
               backward=lambda grad, self, index, dim: run(
                   SCATTER_ADD, make(np.zeros(self.shape, grad._data.dtype)), grad, index,
                   dim, grad._data.shape),
               save=(0,))
SCATTER = defop("scatter", node="ScatterBackward0", nin=2, kind=KEEP, promote=(0,),
                forward=_scatter_src,
                backward=(lambda grad, self, src, index, dim, src_shape: run(
                              SCATTER_VALUE, grad, index, dim, 0),
                          lambda grad, self, src, index, dim, src_shape: _src_grad(
                              grad, index, dim, src_shape)))
SCATTER_VALUE = defop("scatter", node="ScatterBackward1", kind=KEEP, forward=_scatter_value,
                      backward=lambda grad, self, index, dim, value: run(
                          SCATTER_VALUE, grad, index, dim, 0))
SCATTER_ADD = defop("scatter_add", node="ScatterAddBackward0", nin=2, kind=KEEP, promote=(0,),
                    forward=_scatter_add,
                    backward=(lambda grad, self, src, index, dim, src_shape: grad,
                              lambda grad, self, src, index, dim, src_shape: _src_grad(
                                  grad, index, dim, src_shape, "ScatterAddBackward0")))


def _src_grad(grad: Tensor, index: ndarray, dim: int, src_shape: tuple,
              node: str = "ScatterBackward0") -> Tensor:
    """The gradient of a scatter's src: gathered at the index."""
    _check_src_grad_shape(index.shape, src_shape, node)
    return run(GATHER, grad, index, dim)


def _check_src_grad_shape(index_shape: tuple, src_shape: tuple, node: str) -> None:
    # Where src is larger than the index, torch's engine refuses the index-shaped gradient
    # of src (its formula gathers at the index); ember refuses the same way.
    if tuple(index_shape) != tuple(src_shape):
        raise RuntimeError(
            f"Function {node} returned an invalid gradient at index 1 - got "
            f"{list(index_shape)} but expected shape compatible with {list(src_shape)}")


def _scatter_reduce_legacy(xp, self, src, index, dim, reduce):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    index = _at_least_1d(index)
    ufunc = xp.add if reduce == "add" else xp.multiply
    if src.ndim:
        src = _head(src, index.shape)
    ufunc.at(view, _along(xp, index, dim), src)
    return out


# scatter(..., reduce=) has no derivative in torch: its node is NotImplemented.
SCATTER_REDUCE_LEGACY = defop("scatter", node="NotImplemented", nin=2, kind=KEEP, promote=(0,),
                              forward=_scatter_reduce_legacy,
                              backward=(not_implemented("scatter"),
                                        not_implemented("scatter")))
SCATTER_REDUCE_LEGACY.node_cls.name = lambda self: "torch::autograd::NotImplemented"


def _check_along(name: str, self: Tensor, dim: int, index, src: Tensor | None = None
                 ) -> ndarray:
    """torch's checks of a gather/scatter index; returns it as an ``intp`` array."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not "
                        f"{type(index).__name__}")
    idx = index._data
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError(
            f"{'gather' if name == 'gather' else 'scatter'}(): Expected dtype int32/int64 for "
            "index")
    shape = self._data.shape
    ndim = max(len(shape), 1)
    if max(idx.ndim, 1) != ndim:
        raise RuntimeError(
            "Index tensor must have the same number of dimensions as "
            + ("input tensor" if name == "gather" else "self tensor"))
    if src is not None and max(src._data.ndim, 1) != ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    full = shape or (1,)
    ishape = idx.shape or (1,)
    if idx.size:
        small = all(ishape[d] <= full[d] for d in range(ndim) if d != dim)
        if src is None and not small:
            bad = next(d for d in range(ndim) if d != dim and ishape[d] > full[d])
            raise RuntimeError(
                f"Size does not match at dimension {bad} "
                f"expected index {list(idx.shape)} to be no larger than self {list(shape)} "
                f"apart from dimension {dim}")
        if src is not None:
            sshape = src._data.shape or (1,)
            if not small or any(ishape[d] > sshape[d] for d in range(ndim)):
                raise RuntimeError(
                    f"Expected index {list(idx.shape)} to be no larger than self "
                    f"{list(shape)} apart from dimension {dim} and to be no larger size than "
                    f"src {list(src._data.shape)}")
        _check_bounds(batching.values(index), full[dim], dim)
    return batching.param(index, lambda a, k: a.astype(np.intp, copy=False))


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Mirrors ``torch.gather``: ``out[i][j] = input[i][index[i][j]]`` (for dim 1)."""
    _promote.refuse_wide_input(input, "scatter_gather_tensor_cpu")
    dim = wrap_dim(dim, input._data.ndim)
    idx = _check_along("gather", input, dim, index)
    return run(GATHER, input, idx, dim)


def _check_same_dtype(name: str, self: Tensor, src: Tensor) -> None:
    if self._data.dtype != src._data.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")


_SCATTER_REDUCE_DEPRECATED = (
    "The reduce argument of torch.scatter with Tensor src is deprecated and will be removed in "
    "a future PyTorch release. Use torch.scatter_reduce instead for more reduction options.")


def scatter(input: Tensor, dim: int, index: Tensor, src=None, value=None, *,
            reduce: str | None = None) -> Tensor:
    """Mirrors ``torch.scatter``: ``src`` (a tensor) or ``value`` (a number) written at
    ``index`` along ``dim``; ``reduce='add'|'multiply'`` combines instead of overwriting
    (not differentiable, as in torch)."""
    _promote.refuse_wide_input(input, "scatter_gather_tensor_cpu" if isinstance(
        value if src is None else src, Tensor) else "scatter_gather_scalar_cpu")
    if src is None:
        src = value
    dim = wrap_dim(dim, input._data.ndim)
    is_tensor = isinstance(src, Tensor)
    idx = _check_along("scatter", input, dim, index, src if is_tensor else None)
    if is_tensor:
        _check_same_dtype("scatter", input, src)
    if reduce is not None:
        if is_tensor:
            from ember._runtime import _warn_once

            _warn_once("scatter_reduce_src", _SCATTER_REDUCE_DEPRECATED)
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        if not is_tensor:
            src = _value_tensor(src, input)
        return run(SCATTER_REDUCE_LEGACY, input, src, idx, dim, reduce)
    if is_tensor:
        return run(SCATTER, input, src, idx, dim, src._data.shape)
    # an empty index converts no value: no half range check (NOTE [Half fill values])
    return run(SCATTER_VALUE, input, idx, dim, _promote.fill_value(
        src, input._data.dtype, check_half=index._data.size != 0))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Mirrors ``torch.scatter_add``: ``src`` added at ``index`` along ``dim``."""
    dim = wrap_dim(dim, input._data.ndim)
    idx = _check_along("scatter_add", input, dim, index, src)
    _check_same_dtype("scatter_add", input, src)
    return run(SCATTER_ADD, input, src, idx, dim, src._data.shape)


_REDUCE_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
                 "amin": "minimum"}


def _identity(reduce: str, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f" or dtype.kind == "c":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _counts(xp, shape, index, dim, include_self):
    """How many values meet at each position (the divisor of 'mean')."""
    counts = xp.full(shape, 1 if include_self else 0, np.int64)
    view = counts.reshape(1) if counts.ndim == 0 else counts
    xp.add.at(view, _along(xp, _at_least_1d(index), dim), 1)
    return counts


def _scatter_reduce(xp, self, src, index, dim, reduce, include_self):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    index = _at_least_1d(index)
    key = _along(xp, index, dim)
    src = _head(_at_least_1d(src), index.shape)
    if not include_self:
        view[key] = _identity(reduce, out.dtype)
    getattr(xp, _REDUCE_UFUNC[reduce]).at(view, key, src)
    if reduce == "mean":
        counts = _counts(xp, out.shape, index, dim, include_self)
        counts = xp.maximum(counts, 1)  # untouched positions (count 0) keep self
        if out.dtype.kind in "iu":
            out = out // counts.astype(out.dtype)
        else:
            out = (out / counts).astype(out.dtype)
    return out


def _scattered(index, dim, shape) -> Tensor:
    """A bool tensor of ``shape``: True where the scatter wrote."""
    mask = np.zeros(shape, bool)
    view = mask.reshape(1) if mask.ndim == 0 else mask
    view[_along(np, _at_least_1d(index), dim)] = True
    return make(mask)


def _scatter_reduce_self(grad, self, src, index, dim, reduce, include_self, result):
    # torch's scatter_reduce_backward, written with ember ops so it differentiates again.
    if reduce == "sum":
        return grad if include_self else grad.masked_fill(
            _scattered(index, dim, self.shape), 0)
    if reduce == "mean":
        counts = make(_counts(np, self.shape, index, dim, include_self).astype(
            grad._data.dtype))
        out = grad / counts.clamp_min(1)
        return out if include_self else out.masked_fill(_scattered(index, dim, self.shape), 0)
    if reduce == "prod":
        # d result / d self is the product of the other values in the slot; a zero self is
        # left out of the product (set to 1) instead of divided by, as torch does
        nonzero_self = self.masked_fill(self == 0, 1)
        others = run(SCATTER_REDUCE, nonzero_self, src, index, dim, reduce,
                     include_self) / nonzero_self
        out = grad * others
        return out if include_self else out.masked_fill(_scattered(index, dim, self.shape), 0)
    hit = (self == result)
    if not include_self:
        hit = hit & ~_scattered(index, dim, self.shape)
    ties = _ties(self, src, index, dim, include_self, result)
    return grad * hit / ties


def _ties(self, src, index, dim, include_self, result) -> Tensor:
    """How many of the values meeting at each position equal the result (amax/amin split
    the gradient evenly among them, as torch does)."""
    with_self = (self == result).to(self.dtype) if include_self else _zeros_like(self)
    src_hits = (_head_t(src, index.shape) == run(GATHER, result, index, dim)).to(self.dtype)
    # clamp: a position no value reached (include_self=False) passes its gradient whole
    return run(SCATTER_ADD, with_self, src_hits, index, dim, index.shape).detach().clamp_min(1)


def _head_t(src: Tensor, shape: tuple) -> Tensor:
    if src._data.shape == shape:
        return src
    return src[tuple(slice(0, s) for s in shape)]


def _scatter_reduce_src(grad, self, src, index, dim, reduce, include_self, result):
    _check_src_grad_shape(index.shape, src.shape, "ScatterReduceBackward0")
    if reduce == "sum":
        return _src_grad(grad, index, dim, src.shape)
    if reduce == "mean":
        counts = make(_counts(np, self.shape, index, dim, include_self).astype(
            grad._data.dtype))
        return _src_grad(grad / counts.clamp_min(1), index, dim, src.shape)
    if reduce == "prod":
        return _scatter_prod_src(grad, self, src, index, dim, include_self, result)
    ties = _ties(self, src, index, dim, include_self, result)
    hit = (src == run(GATHER, result, index, dim))
    return _src_grad(grad / ties, index, dim, src.shape) * hit


def _scatter_prod_src(grad, self, src, index, dim, include_self, result):
    """The 'prod' gradient of src: the product of the other values in its slot. That is
    result / src, except for a zero src that is the only zero src in its slot, whose
    product of the others is computed again with it set to 1 (torch's way: other zeros,
    in self or in src, make the gradient 0 either way)."""
    zero = src._data == 0
    zero_head = _head(_at_least_1d(zero), index.shape)
    per_slot = np.zeros(self._data.shape, np.int64)
    view = per_slot.reshape(1) if per_slot.ndim == 0 else per_slot
    key = _along(np, _at_least_1d(index), dim)
    np.add.at(view, key, zero_head)
    single = np.zeros(zero.shape, bool)
    single_view = single.reshape(1) if single.ndim == 0 else single
    head = tuple(slice(0, s) for s in index.shape)
    single_view[head] = zero_head & (view[key] == 1)
    by_division = _src_grad(grad * result, index, dim, src.shape) / src.masked_fill(
        make(zero), 1)
    if not single.any():
        return by_division
    single = make(single)
    without = run(SCATTER_REDUCE, self, src.masked_fill(single, 1), index, dim, "prod",
                  include_self)
    by_product = _src_grad(grad * without, index, dim, src.shape)
    return by_product.where(single, by_division)


SCATTER_REDUCE = defop("scatter_reduce", node="ScatterReduceBackward0", nin=2, kind=KEEP,
                       promote=(0,), forward=_scatter_reduce, save=(0, 1, "result"),
                       backward=(_scatter_reduce_self, _scatter_reduce_src))


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Mirrors ``torch.scatter_reduce``: ``src`` combined into ``input`` at ``index`` with
    ``reduce`` in sum, prod, mean, amax, amin; the 'prod' gradient of each value is the
    product of the others in its slot, zeros included, as torch's."""
    dim = wrap_dim(dim, input._data.ndim)
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError(
            "reduce argument must be either sum, prod, mean, amax or amin, got " + reduce)
    idx = _check_along("scatter_reduce", input, dim, index, src)
    _check_same_dtype("scatter_reduce", input, src)
    if reduce == "mean" and input._data.dtype == bool:  # torch's mean kernels have no bool loop
        kernel = "scatter_gather_tensor_cpu_reduce_mean" if index._data.size else "div_floor_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    return run(SCATTER_REDUCE, input, src, idx, dim, reduce, include_self)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Mirrors ``torch.take_along_dim``: gather with ``indices`` broadcast against
    ``input`` in every dim but ``dim``; with no dim, on the flattened input."""
    tensor_argument("take_along_dim", "indices", indices, 2)
    idx = indices._data
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if idx.dtype != np.int64:
        raise RuntimeError(
            "torch.take_along_dim(): dtype of indices should be Long but got "
            + _type_name(indices))
    n = input._data.ndim
    if idx.ndim != n:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {n} dimensions for input, and {idx.ndim} dimensions for "
            "indices")
    dim = wrap_dim(dim, n)
    ishape = list(idx.shape)
    sshape = list(input._data.shape)
    ishape[dim] = sshape[dim] = 1
    try:
        common = list(np.broadcast_shapes(tuple(ishape), tuple(sshape)))
    except ValueError:
        raise _promote.broadcast_error([tuple(sshape), tuple(ishape)]) from None
    self_shape = common[:dim] + [input._data.shape[dim]] + common[dim + 1:]
    index_shape = common[:dim] + [idx.shape[dim]] + common[dim + 1:]
    return gather(input.expand(self_shape), dim, indices.expand(index_shape))


# ---- index_select, index_add, index_copy, index_fill --------------------------------


def _index_select(xp, self, index, dim):
    return xp.take(_at_least_1d(self), index, axis=dim).reshape(
        () if self.ndim == 0 else self.shape[:dim] + index.shape + self.shape[dim + 1:])


def _index_add(xp, self, source, index, dim, alpha):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    src = _at_least_1d(source)
    if alpha != 1:
        src = src * alpha
    xp.add.at(view, _dim_key(index, dim), src.astype(out.dtype, copy=False))
    return out


def _index_copy(xp, self, source, index, dim):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    view[_dim_key(index, dim)] = _at_least_1d(source)
    return out


def _index_fill(xp, self, index, dim, value):
    out = self.copy()
    view = out.reshape(1) if out.ndim == 0 else out
    view[_dim_key(index, dim)] = value
    return out


INDEX_SELECT = defop("index_select", node="IndexSelectBackward0", kind=KEEP,
                     forward=_index_select, save=(0,),
                     backward=lambda grad, self, index, dim: run(
                         INDEX_ADD, make(np.zeros(self.shape, grad._data.dtype)),
                         grad.reshape(self.shape[:dim] + index.shape + self.shape[dim + 1:]),
                         index, dim, 1))
INDEX_ADD = defop("index_add", node="IndexAddBackward0", nin=2, kind=KEEP, promote=(0,),
                  forward=_index_add,
                  backward=(lambda grad, self, source, index, dim, alpha: grad,
                            lambda grad, self, source, index, dim, alpha: _select_back(
                                grad, index, dim, alpha)))
INDEX_COPY = defop("index_copy", node="IndexCopyBackward0", nin=2, kind=KEEP, promote=(0,),
                   forward=_index_copy,
                   backward=(lambda grad, self, source, index, dim: run(
                                 INDEX_FILL, grad, index, dim, 0),
                             lambda grad, self, source, index, dim: _select_back(
                                 grad, index, dim, 1)))
INDEX_FILL = defop("index_fill", node="IndexFillBackward0", kind=KEEP, forward=_index_fill,
                   backward=lambda grad, self, index, dim, value: run(
                       INDEX_FILL, grad, index, dim, 0))
INDEX_FILL_TENSOR = defop(
    "index_fill", node="IndexFillBackward1", nin=2, kind=KEEP, promote=(0,),
    forward=lambda xp, self, value, index, dim: _index_fill(xp, self, index, dim, value),
    backward=(lambda grad, self, value, index, dim: run(INDEX_FILL, grad, index, dim, 0),
              lambda grad, self, value, index, dim: run(
                  INDEX_SELECT, grad, np.unique(index), dim).sum()))


def _select_back(grad: Tensor, index: ndarray, dim: int, alpha) -> Tensor:
    out = run(INDEX_SELECT, grad, index, dim)
    return out if alpha == 1 else out * alpha


def _check_index_vector(name: str, index, long_only: bool = False) -> ndarray:
    idx = index._data
    if long_only:
        if idx.dtype != np.int64:
            raise RuntimeError(f"{name}(): Expected a long tensor for index, but got "
                               + _type_name(index))
    elif idx.dtype not in (np.int64, np.int32):
        if name == "index_select":
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index but got: "
                           + _type_name(index))
    if idx.ndim > 1:
        if name == "index_select":
            raise IndexError("index_select(): Index is supposed to be a vector")
        raise IndexError(
            f"{name}(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
            f"{_type_name(index)} and size: {list(idx.shape)}")
    return batching.param(
        index, lambda a, k: a.reshape(a.shape[:k] + (-1,)).astype(np.intp, copy=False))


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Mirrors ``torch.index_select``: the entries of ``input`` at ``index`` along ``dim``
    (a copy)."""
    _promote.refuse_wide_input(input, "index_select", empty_too=True)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    idx = _check_index_vector("index_select", index)
    size = shape[dim] if shape else 1
    if not shape and idx.size != 1:
        raise RuntimeError(
            f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
    every = batching.values(index)
    if every.size and ((every < 0) | (every >= size)).any():
        raise IndexError("index out of range in self")
    return run(INDEX_SELECT, input, idx, dim)


def _check_source(name: str, input: Tensor, dim: int, idx: ndarray, source: Tensor,
                  prefix: str = "") -> None:
    src_shape = source._data.shape
    n = src_shape[dim] if src_shape else 1
    if n != idx.size:
        sep = ", for dim: " if name == "index_add_" else ""
        raise (IndexError if name == "index_copy_" else RuntimeError)(
            f"{name}(): Number of indices ({idx.size}) should be equal to source.size(dim)"
            + (f": ({n}){sep}{dim}" if sep else f" ({n})"))


def _beside(shape: tuple, dim: int) -> tuple:
    """``shape`` without ``dim``: the slice shape index_add and index_copy compare."""
    return shape[:dim] + shape[dim + 1:]


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """Mirrors ``torch.index_add``: ``alpha * source`` added into ``input`` at ``index``
    along ``dim`` (repeated indices accumulate)."""
    _promote.refuse_wide_input(input, "index_add_", empty_too=True)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    idx = _check_index_vector("index_add_", index)
    if input._data.dtype != source._data.dtype:
        raise RuntimeError(f"index_add_(): self ({_type_name(input)}) and source "
                           f"({_type_name(source)}) must have the same scalar type")
    _check_source("index_add_", input, dim, idx, source)
    src_shape = source._data.shape
    if len(src_shape) != len(shape) or _beside(src_shape, dim) != _beside(shape, dim):
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(shape)} source.shape = {list(src_shape)}")
    _check_bounds(batching.values(index), shape[dim] if shape else 1, dim)
    return run(INDEX_ADD, input, source, idx, dim, alpha)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Mirrors ``torch.index_copy``: slices of ``source`` written at ``index`` along
    ``dim``."""
    _promote.refuse_wide_input(input, "index_copy_cpu", empty_too=True)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    idx = _check_index_vector("index_copy_", index, long_only=True)
    if input._data.dtype != source._data.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{_type_name(input)} and (source) {_type_name(source)}")
    src_shape = source._data.shape
    if shape and src_shape and len(shape) != len(src_shape):
        raise IndexError(
            "index_copy_(): When source and destination are not scalars, their "
            f"dimensionality must match. Source dimensionality ({len(src_shape)}), "
            f"destination dimensionality ({len(shape)})")
    dest_slice, src_slice = _beside(shape, dim), _beside(src_shape, dim)
    if dest_slice != src_slice:
        raise RuntimeError(  # torch names dimension 0 for the source whatever ``dim`` is
            "index_copy_(): Source/destination tensor must have same slice shapes. "
            f"Destination slice shape: {' '.join(map(str, dest_slice))} at dimension {dim} "
            f"and source slice shape: {' '.join(map(str, src_slice))} at dimension 0.")
    _check_source("index_copy_", input, dim, idx, source)
    _check_bounds(batching.values(index), shape[dim] if shape else 1, dim, IndexError,
                  "index_copy_(): ")
    return run(INDEX_COPY, input, source, idx, dim)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """Mirrors ``torch.index_fill``: the slices at ``index`` along ``dim`` set to ``value``
    (a number or a 0-d tensor)."""
    _promote.refuse_wide_input(input, "index_fill_cpu", empty_too=True)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    if index._data.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    size = shape[dim] if shape else 1
    _check_bounds(batching.values(index).reshape(-1).astype(np.intp, copy=False), size, dim,
                  IndexError, negative=True)

    def flat(a, k):  # each sample's index, flat, negative entries wrapped
        a = a.reshape(a.shape[:k] + (-1,)).astype(np.intp, copy=False)
        return np.where(a < 0, a + size, a)
    idx = batching.param(index, flat)  # batched when the index is (NOTE in batching.py)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s).")
        return run(INDEX_FILL_TENSOR, input, value, idx, dim)
    if type(value) is complex and input._data.dtype.kind != "c":
        raise RuntimeError(
            "index_fill_(): Converting complex Scalar to non-complex type is not supported")
    return run(INDEX_FILL, input, idx, dim, _promote.fill_value(value, input._data.dtype))


# ---- index, index_put and __setitem__ ------------------------------------------------


def _index_put(xp, self, values, key, accumulate):
    out = self.copy()
    if accumulate:
        xp.add.at(out, key, values)
    else:
        out[key] = values
    return out


INDEX = defop("index", node="IndexBackward0", kind=KEEP, save=(0,),
              forward=lambda xp, self, key: self[key],
              backward=lambda grad, self, key: run(
                  INDEX_PUT, make(np.zeros(self.shape, grad._data.dtype)), grad, key, True))
INDEX_PUT = defop(
    "index_put", node="IndexPutBackward0", nin=2, kind=KEEP, promote=(0,), forward=_index_put,
    backward=(lambda grad, self, values, key, accumulate: grad if accumulate else run(
                  INDEX_PUT, grad, _zeros((), grad), key, False),
              lambda grad, self, values, key, accumulate: run(INDEX, grad, key)))


def _index_array(k, shape: tuple, dim: int) -> tuple:
    """A tensor (or list) index as NumPy arrays, with torch's checks: a bool mask becomes
    its nonzero positions (one array per dim it covers)."""
    batched = isinstance(k, Tensor) and batching.is_batched(k)
    arr = batching.values(k) if batched else k._data if isinstance(k, Tensor) else index_array(k)
    if is_mask(arr):
        if batched:
            raise RuntimeError(
                "vmap: We do not support batching operators that can support dynamic shape. "
                "Attempting to batch over indexing with a boolean mask.")
        arr = arr.astype(bool, copy=False)
        for j in range(arr.ndim):
            if dim + j >= len(shape) or arr.shape[j] != shape[dim + j]:
                raise IndexError(
                    f"The shape of the mask {list(arr.shape)} at index {j} does not match the "
                    f"shape of the indexed tensor {list(shape)} at index {dim + j}")
        return np.nonzero(arr) if arr.ndim else (arr,)
    size = shape[dim]
    _check_bounds(arr, size, dim, IndexError, negative=True)
    arr = batching.own_values(arr.astype(np.intp, copy=False), arr)
    if batched:  # every sample's index (a parameter carrying them all)
        return (batching.Batched(arr, k._phys.levels),)
    return (arr,)


def _put_key(parts, shape: tuple) -> tuple:
    """The NumPy key of an ``index_put``: None or a full slice keeps a dim, ``...`` keeps
    the dims no part names, and tensors index."""
    ndim = len(shape)
    used = sum(dims_named(k) for k in parts
               if k is not None and k is not Ellipsis and not isinstance(k, slice)) + sum(
        1 for k in parts if k is None or isinstance(k, slice))
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim} (got {used})")
    key = []
    dim = 0
    for k in parts:
        if k is Ellipsis:
            key.append(Ellipsis)
            dim += ndim - used
        elif k is None or isinstance(k, slice):
            key.append(slice(None))
            dim += 1
        else:
            arrays = _index_array(k, shape, dim)
            key.extend(arrays)
            dim += len(arrays) if arrays[0].dtype != bool else 0
    return tuple(key)


def _indexed_shape(shape: tuple, key: tuple) -> tuple:
    # A zero-strided stand-in: indexing it costs only the result's bools. A batched index
    # (inside vmap) answers for its first sample: every sample's has its shape.
    key = tuple(e.array[(0,) * len(e.levels)] if type(e) is batching.Batched else e
                for e in key)
    try:
        return np.broadcast_to(np.zeros((), bool), shape)[key].shape
    except IndexError:
        raise_if_index_shapes_clash(key)
        raise


def _strip_leading_ones(value: Tensor) -> Tensor:
    # torch drops a value's leading size-1 dims before broadcasting it into the target.
    shape = value._data.shape
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    return value.reshape(shape[lead:]) if lead else value


def _put(input: Tensor, key: tuple, values: Tensor, accumulate: bool) -> Tensor:
    # unlike ``__setitem__``, torch's index_put keeps a value's leading size-1 dims
    target = _indexed_shape(input._data.shape, key)
    try:  # the values broadcast into the indexed shape, not it into theirs
        ok = np.broadcast_shapes(values._data.shape, target) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(values._data.shape)} cannot be "
            f"broadcast to indexing result of shape {list(target)}")
    return run(INDEX_PUT, input, values, key, accumulate)


def _check_put_dtypes(input: Tensor, values: Tensor) -> None:
    if input._data.dtype != values._data.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_type_name(input)} for the destination and {_type_name(values)} for the "
            "source.")


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """Mirrors ``torch.index_put``: ``values`` written (or, with ``accumulate``, added) at
    ``input[indices]``; ``indices`` is a tuple (or list) of index tensors."""
    _check_put_indices(indices, 1)
    return _index_put_values(input, indices, values, accumulate)


def _index_put_method(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """Mirrors ``Tensor.index_put`` (see ``index_put``)."""
    _check_put_indices(indices, 0)
    return _index_put_values(self, indices, values, accumulate)


def _index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """Mirrors ``Tensor.index_put_``: ``index_put`` written into ``self``."""
    _check_put_indices(indices, 0, "index_put_")
    check_no_overlap(self, values, *_index_tensors(indices))
    return inplace(_index_put_values, self, indices, values, accumulate)


_index_put_method.__name__ = _index_put_method.__qualname__ = "index_put"
_index_put_.__name__ = _index_put_.__qualname__ = "index_put_"


def _index_tensors(parts) -> list:
    # a boolean mask becomes positions before torch writes: it may share self's memory
    return [k for k in parts if isinstance(k, Tensor) and k._data.dtype != np.bool_]


def _check_put_indices(indices, argument: int, name: str = "index_put") -> None:
    # torch's argument parser: a tuple of tensors, ``argument`` its place (the method's 0)
    if isinstance(indices, Tensor):
        raise TypeError(f"{name}(): argument 'indices' (position {argument + 1}) must be "
                        "tuple of Tensors, not Tensor")
    for i, k in enumerate(indices):
        if not isinstance(k, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {argument}, but got "
                            f"{type(k).__name__}")


def _index_put_values(input: Tensor, indices, values, accumulate: bool) -> Tensor:
    if not isinstance(values, Tensor):
        values = _value_tensor(values, input)
    values = _put_values(input, tuple(indices), values, accumulate)
    key = _put_key(tuple(indices), input._data.shape)
    return _put(input, key, values, accumulate)


def _put_values(input: Tensor, parts: tuple, values: Tensor, accumulate: bool) -> Tensor:
    """``values`` as an index_put_ of ``parts`` writes them. torch hands a one-element
    value written (not accumulated) through a lone mask to masked_fill_, whose rules then
    apply: a uint8 mask is refused, and the value is cast to the written tensor's dtype
    rather than required to have it."""
    if not accumulate and values._data.size == 1:
        indices = [k for k in parts if k is not None and k is not Ellipsis]
        if len(indices) == 1:
            arr = indices[0]._data if isinstance(indices[0], Tensor) else np.asarray(indices[0])
            if arr.dtype == np.uint8:
                raise RuntimeError("masked_fill_ only supports boolean masks, but got mask "
                                   "with dtype unsigned char")
            if arr.dtype == np.bool_:
                return values if values._data.dtype == input._data.dtype else \
                    values.to(input.dtype)
    _check_put_dtypes(input, values)
    return values


def _fill(xp, self, value):
    shape = self.shape
    if value.shape != shape:
        # both ways, as other ops broadcast: ``inplace`` refuses a result larger than
        # ``self`` in torch's words, ``run`` sizes that do not broadcast
        shape = xp.broadcast_shapes(shape, value.shape)
    return xp.broadcast_to(value.astype(self.dtype), shape).copy()


# The self formulas of fill_ and copy_ give zeros, as torch's do: the old values of the
# overwritten tensor are gone from the result.
FILL = defop("fill", node="FillBackward3", nin=2, kind=KEEP, promote=(0,), forward=_fill,
             backward=(zero_gradient,
                       lambda grad, self, value: grad.sum()))
COPY = defop("copy", node="CopyBackwards", nin=2, kind=KEEP, promote=(0,), forward=_fill,
             backward=(zero_gradient,
                       lambda grad, self, src: grad))
COPY.node_cls.name = lambda self: "torch::autograd::CopyBackwards"  # torch's spelling


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Mirrors ``Tensor.copy_``: ``src`` broadcast to ``self``'s shape and converted to its
    dtype, written into ``self``; a Python number is taken as torch's argument parser wraps
    it (a 0-d int64, float64 or complex128 tensor, a bool as bool)."""
    if not isinstance(src, Tensor):
        wrapped = _WRAPPED_NUMBERS.get(type(src))
        if wrapped is None:
            raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(src).__name__}")
        if type(src) is int:
            _promote.check_scalar_int(src)
        src = make(np.asarray(src, wrapped))
    check_no_overlap(self, src, partial_only=True)
    if src._data.dtype.kind == "c" and self._data.dtype.kind != "c":
        # torch's own warning (once per process), not NumPy's ComplexWarning at each cast
        from ember._runtime import _warn_once

        _warn_once("copy_complex_to_real",
                   "Casting complex values to real discards the imaginary part")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            return inplace(_copy_of, self, src)
    return inplace(_copy_of, self, src)


_WRAPPED_NUMBERS = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}


def _copy_of(self: Tensor, src: Tensor) -> Tensor:
    return run(COPY, self, src)


def _setitem_part(k):
    # torch writes through a view for a 0-d tensor part: an integer one selects, a bool or
    # uint8 one stands for the Python bool (reading, torch indexes with the latter instead)
    k = select_index(k)
    if (isinstance(k, Tensor) and k._data.ndim == 0 and k._data.dtype in (bool, np.uint8)
            and not batching.is_batched(k)):
        return bool(k._data)
    return k


def _setitem_parts(self: Tensor, key) -> tuple:
    """Split a ``__setitem__`` key as torch's applySlicing does: (the basic key that views
    ``self``, or None when it names all of it; the tensor indices left for that view, or
    None; whether a Python ``False`` makes the write empty)."""
    shape = self._data.shape
    ndim = len(shape)
    parts = index_parts(key)
    if sum(k is Ellipsis for k in parts) > 1:
        parts = spread_ellipses(parts, ndim)
    converted = [_setitem_part(k) for k in parts]
    advanced = [isinstance(k, (Tensor, list, tuple, range, ndarray)) for k in converted]
    # torch writes through a bool in a key (a 0-d boolean tensor, or a Python bool unless it
    # is the whole key) as a new dim of size 1 indexed by one position (True) or none
    # (False): an index_put_ into the view, with its checks
    for i, (k, part) in enumerate(zip(converted, parts)):
        if isinstance(k, bool) and (isinstance(part, Tensor) or type(key) is not bool):
            converted[i] = (k, make(np.arange(int(k), dtype=np.int64)))
    used = 0
    for k, adv in zip(converted, advanced):
        if adv:
            used += dims_named(k)
        elif k is not None and k is not Ellipsis and not isinstance(k, (bool, tuple)):
            used += 1
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    view_key = []
    put_parts = []
    trivial = True
    empty = False
    tensor_bool = False
    dim = 0
    # torch's errors name a part by its place in the key
    for pos, (k, adv) in enumerate(zip(converted, advanced)):
        if adv:
            n = dims_named(k)
            view_key.extend([slice(None)] * n)
            put_parts.append(k)
            dim += n
        elif type(k) is tuple:  # a 0-d boolean tensor, see above
            view_key.append(None)
            put_parts.append(k[1])
            trivial = False
            tensor_bool = True
        elif k is None or isinstance(k, bool):
            view_key.append(None)
            put_parts.append(None)
            trivial = False
            empty = empty or k is False
        elif k is Ellipsis:
            view_key.append(Ellipsis)
            put_parts.append(Ellipsis)
            dim += ndim - used
        elif isinstance(k, slice):
            check_slice(k)
            if k.start not in (None, 0) or k.indices(shape[dim]) != (0, shape[dim], 1):
                trivial = False
            view_key.append(k)
            put_parts.append(None)
            dim += 1
        else:
            k = int_index(k)
            if not -shape[dim] <= k < shape[dim]:
                raise IndexError(
                    f"index {k} is out of bounds for dimension {pos} with size {shape[dim]}")
            view_key.append(k)
            trivial = False
            dim += 1
    if Ellipsis not in view_key:
        view_key.append(Ellipsis)  # NumPy gives a 0-d view, not a scalar, for x[0] of 1-d
    return (None if trivial else tuple(view_key),
            tuple(put_parts) if tensor_bool or any(advanced) else None, empty)


def _copy_into(target: Tensor, value: Tensor, fill: bool) -> Tensor:
    return run(FILL if fill else COPY, target, value)


def setitem(self: Tensor, key, value) -> None:
    """Mirrors ``Tensor.__setitem__``: ints, slices (step > 0), None, ``...``, integer and
    boolean tensors or lists, and mixes of them; ``value`` (a number or a tensor) is
    broadcast and cast to ``self``'s dtype. Recorded as torch records it: basic indices
    write through a view (CopySlices), tensor indices by ``index_put_``
    (IndexPutBackward0)."""
    if isinstance(value, (list, tuple)):
        raise TypeError(
            f"can't assign a {type(value).__name__} to a {legacy_type_name(self._data.dtype)}")
    if type(value) is int and not -2 ** 63 <= value < 2 ** 63:
        raise ValueError("Overflow when unpacking long long")  # torch makes it an int64
    view_key, put_parts, empty = _setitem_parts(self, key)
    if empty:
        return
    target = self if view_key is None else getitem(self, view_key)
    if put_parts is not None:
        if isinstance(value, Tensor):
            value = _put_values(target, put_parts, value, False)
        else:
            value = _put_values(target, put_parts, _value_tensor(value, target), False)
        value = _strip_leading_ones(value)
        check_no_overlap(target, value, *_index_tensors(put_parts))
        put_key = _put_key(put_parts, target._data.shape)
        inplace(_put, target, put_key, value, False)
        return
    if not isinstance(value, Tensor):
        value = _value_tensor(value, target)
    fill = value._data.ndim == 0  # torch fills from a 0-d value, copies from any other
    value = _strip_leading_ones(value)
    value.detach().expand(target._data.shape)  # torch's expand errors for a bad shape
    if not fill and value._vc is target._vc:  # torch compares the value expanded to the
        # target's shape, when it is a view of the same memory (NOTE [Memory overlap])
        check_no_overlap(target, np.broadcast_to(value._data, target._data.shape),
                         partial_only=True)
    inplace(_copy_into, target, value, fill)


# ---- masked_fill, masked_select, masked_scatter --------------------------------------


def _masked_fill(xp, self, mask, value):
    if isinstance(value, ndarray):
        value = value.astype(self.dtype)
    else:
        value = np.asarray(value).astype(self.dtype)
    return xp.where(mask, value, self)


MASKED_FILL = defop("masked_fill", node="MaskedFillBackward0", nin=2, kind=KEEP, promote=(0,),
                    forward=_masked_fill, save=(1,),
                    backward=(lambda grad, self, mask, value: grad.masked_fill(mask, 0), None))
MASKED_FILL_TENSOR = defop(
    "masked_fill", node="MaskedFillBackward1", nin=3, kind=KEEP, promote=(0,),
    forward=_masked_fill, save=(1,),
    backward=(lambda grad, self, mask, value: grad.masked_fill(mask, 0), None,
              lambda grad, self, mask, value: grad.masked_select(mask).sum()))
saved_names(MASKED_FILL, "mask")  # torch's node keeps the mask, not the value filled
# torch's node keeps the input's sizes (ember's the input, which its formula reads)
saved_as(INDEX_SELECT, self_sym_sizes=lambda node: node._meta[0][0])
saved_names(INDEX_SELECT, "dim", "index", "self_sym_sizes")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """Mirrors ``torch.masked_fill``: ``value`` (a number or 0-d tensor) where ``mask``
    (bool, broadcast with ``input``) is True."""
    _promote.refuse_wide_input(input, "masked_fill", empty_too=True)
    if mask._data.dtype != bool:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           + cpp_type_name(mask._data.dtype))
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s).")
        return run(MASKED_FILL_TENSOR, input, mask, value)
    return run(MASKED_FILL, input, mask, _promote.fill_value(value, input._data.dtype))


def _masked_select(xp, self, mask):
    self, mask = xp.broadcast_arrays(self, mask)
    return self[mask]


def _masked_scatter(xp, self, mask, source):
    shape = xp.broadcast_shapes(self.shape, mask.shape)
    out = xp.broadcast_to(self, shape).copy()
    mask = xp.broadcast_to(mask, shape)
    n = int(xp.count_nonzero(mask))
    if n > source.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    out[mask] = source.reshape(-1)[:n]
    return out


def _masked_scatter_back(xp, grad, mask, source_shape):
    """The gradient of masked_scatter's source: the masked entries of ``grad`` in order,
    then zeros, in the source's shape."""
    out = xp.zeros(int(np.prod(source_shape)), grad.dtype)
    picked = grad[xp.broadcast_to(mask, grad.shape)]
    out[:picked.size] = picked
    return out.reshape(source_shape)


MASKED_SELECT = defop(
    "masked_select", node="MaskedSelectBackward0", nin=2, kind=KEEP, promote=(0,),
    forward=_masked_select, save=(0, 1),
    backward=(lambda grad, self, mask: run(
                  MASKED_SCATTER, _zeros(np.broadcast_shapes(self.shape, mask.shape), grad),
                  mask, grad),
              None))
MASKED_SCATTER = defop(
    "masked_scatter", node="MaskedScatterBackward0", nin=3, kind=KEEP, promote=(0,),
    forward=_masked_scatter, save=(1, 2),
    backward=(lambda grad, self, mask, source: grad.masked_fill(mask, 0), None,
              lambda grad, self, mask, source: run(
                  MASKED_SCATTER_BACKWARD, grad, mask, source.shape)))
MASKED_SCATTER_BACKWARD = defop(
    "masked_scatter_backward", node="MaskedScatterBackwardBackward0", nin=2, kind=KEEP,
    promote=(0,), forward=_masked_scatter_back, save=(1,),
    backward=(lambda grad, g, mask, source_shape: run(
                  MASKED_SCATTER, _zeros(mask.shape, grad), mask, grad), None))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """Mirrors ``torch.masked_select``: the entries where ``mask`` (broadcast) is True, as
    a 1-D tensor."""
    tensor_argument("masked_select", "mask", mask, 2)
    _promote.refuse_wide_input(input, "masked_select")
    if mask._data.dtype != bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    if batching.is_batched(mask):
        raise RuntimeError(
            "vmap: Attempted to vmap over `mask` in torch.masked_select(self, mask) We cannot "
            "support this because for each batch this would return a differently shaped "
            "Tensor. Please file an issue at https://github.com/pytorch/pytorch/issues if you "
            "need this feature.")
    return run(MASKED_SELECT, input, mask)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """Mirrors ``torch.masked_scatter``: ``source``'s entries, in order, written where
    ``mask`` is True."""
    if mask._data.dtype != bool:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with "
                           "dtype " + _type_name(mask))
    if input._data.dtype != source._data.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but "
                           f"got{_type_name(input)} and {_type_name(source)}")
    return run(MASKED_SCATTER, input, mask, source)


# ---- take, nonzero, argwhere ---------------------------------------------------------


TAKE = defop("take", node="TakeBackward0", kind=KEEP, save=(0,),
             forward=lambda xp, self, index: xp.take(self.reshape(-1), index),
             backward=lambda grad, self, index: run(
                 INDEX_PUT, make(np.zeros(self.numel(), grad._data.dtype)), grad.reshape(-1),
                 (index.reshape(-1),), True).reshape(self.shape))


def take(input: Tensor, index: Tensor) -> Tensor:
    """Mirrors ``torch.take``: ``input`` read as 1-D at ``index`` (negative counts from the
    end); the result has ``index``'s shape."""
    tensor_argument("take", "index", index, 2)
    _promote.refuse_wide_input(input, "take_cpu")
    if index._data.dtype != np.int64:
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           + _type_name(index))
    n = input._data.size
    every = batching.values(index)  # every sample's index inside vmap
    bad = (every < -n) | (every >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(every[bad].flat[0])} on "
                         f"a tensor of {n} elements.")
    return run(TAKE, input, batching.param(
        index, lambda a, k: np.where(a < 0, a + n, a).astype(np.intp)))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Mirrors ``torch.nonzero``: the indices of the nonzero entries, one row each (int64),
    or with ``as_tuple`` one 1-D tensor per dim (a 0-d input counts as 1-D)."""
    _promote.refuse_wide_input(input, "nonzero_count_cpu", empty_too=True)
    if as_tuple and batching.is_batched(input):
        raise RuntimeError("Batching rule not implemented for aten::nonzero_numpy. We could "
                           "not generate a fallback.")
    batching.refuse_dynamic("nonzero", input)
    data = input._data
    if as_tuple:
        return tuple(make(a.astype(np.int64)) for a in np.nonzero(_at_least_1d(data)))
    found = np.argwhere(data).astype(np.int64)
    return make(found.reshape(found.shape[0], data.ndim))


def argwhere(input: Tensor) -> Tensor:
    """Mirrors ``torch.argwhere``: ``nonzero(input)``."""
    tensor_argument("argwhere", "input", input, 1)
    return nonzero(input)


# ---- in-place forms ------------------------------------------------------------------

# the tensor arguments of the methods below after self (None: one that need not be), which
# their method forms refuse at the method's positions
_TENSORS = {"index_add": (None, "index", "source"), "index_copy": (None, "index", "source"),
            "index_fill": (None, "index"), "masked_fill": ("mask",),
            "masked_scatter": ("mask", "source")}
# the methods whose value may be a tensor or a number (torch's parser lists both forms)
_OVERLOADS = {"index_fill": ("(int dim, Tensor index, Tensor value)",
                             "(int dim, Tensor index, Number value)"),
              "masked_fill": ("(Tensor mask, Tensor value)", "(Tensor mask, Number value)")}


def _inplace(fn, overlap_checked: str | None = "all"):
    # torch's index writes refuse an index or source that overlaps self (NOTE [Memory
    # overlap]), index_fill_ only an index (its value is read first); masked writes do not
    # check
    def method(self, *args, **kwargs):
        if overlap_checked == "all":
            check_no_overlap(self, *args, *kwargs.values())
        elif overlap_checked == "index":
            check_no_overlap(self, args[1] if len(args) > 1 else kwargs.get("index"))
        return inplace(fn, self, *args, **kwargs)
    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    method.__doc__ = f"Mirrors ``Tensor.{fn.__name__}_``: ``{fn.__name__}`` written into self."
    return method


attach({
    "__setitem__": setitem, "index_select": method_taking_tensor(index_select, None, "index"),
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce,
    "index_add": method_taking_tensor(index_add, *_TENSORS["index_add"]),
    "index_copy": method_taking_tensor(index_copy, *_TENSORS["index_copy"]),
    "index_fill": method_taking_tensor(index_fill, *_TENSORS["index_fill"],
                                       overloads=_OVERLOADS["index_fill"]),
    "index_put": _index_put_method,
    "masked_fill": method_taking_tensor(masked_fill, *_TENSORS["masked_fill"],
                                        overloads=_OVERLOADS["masked_fill"]),
    "masked_select": method_taking_tensor(masked_select, "mask"),
    "masked_scatter": method_taking_tensor(masked_scatter, *_TENSORS["masked_scatter"]),
    "take": method_taking_tensor(take, "index"),
    "take_along_dim": method_taking_tensor(take_along_dim, "indices"),
    "nonzero": nonzero, "argwhere": argwhere, "copy_": copy_,
})
attach({fn.__name__ + "_": _inplace(fn) for fn in (scatter, scatter_add, scatter_reduce)}
    | {fn.__name__ + "_": method_taking_tensor(_inplace(fn), *_TENSORS[fn.__name__])
       for fn in (index_add, index_copy)}
    | {"index_fill_": method_taking_tensor(_inplace(index_fill, "index"),
                                          *_TENSORS["index_fill"],
                                          overloads=_OVERLOADS["index_fill"])}
    | {fn.__name__ + "_": method_taking_tensor(_inplace(fn, None), *_TENSORS[fn.__name__],
                                               overloads=_OVERLOADS.get(fn.__name__, ()))
       for fn in (masked_fill, masked_scatter)}
    | {"index_put_": _index_put_})
