"""Reductions, scans and sorting: sum, mean, prod, max/min (and amax, argmax, ...), var/std,
norm, logsumexp, cumsum/cumprod/cummax/cummin, all/any, median, sort/topk/kthvalue, unique,
bincount, histc.

Ops that return values with their indices (``max(dim)``, ``sort``, ``topk``, ...) compute the
indices first, on the raw array, and pass them to the op as a parameter: the forward gathers
the values with them and returns both, and the backward scatters the gradient back with the
same indices, so the node keeps only the indices alive (as torch's does), not the input.
"""
from __future__ import annotations

import builtins
import math
import operator
import types
import warnings

from ember import _dtype
from ember._backend import np
from ember._ops import _promote, batching
from ember._ops.registry import (
    KEEP,
    attach,
    audit,
    defop,
    first_order,
    float32_of,
    not_implemented,
    ones_vector,
    reduced_float,
    run,
    saved_as,
    saved_names,
)
from ember._tensor import (
    Tensor,
    bool_argument,
    int_argument,
    int_arguments,
    ints_method,
    make,
    method_taking_tensor,
    tensor_argument,
    wrap_dim,
    wrap_dims,
)
from ember.autograd import grad_mode
from ember.autograd.forward_ad import not_supported

__all__ = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
    "var_mean", "std_mean", "norm", "logsumexp", "cumsum", "cumprod", "cummax", "cummin",
    "all", "any", "count_nonzero", "median", "nanmean", "nansum", "sort", "argsort", "topk",
    "kthvalue", "unique", "bincount", "histc", "return_types",
]


# ---- torch.return_types ---------------------------------------------------------------


# Mirrors ``torch.return_types``.
return_types = types.ModuleType("ember.return_types", "Mirrors ``torch.return_types``.")


def _return_type(name: str, fields: tuple = ("values", "indices")) -> type:
    """A tuple type with named fields that prints as torch's ``torch.return_types.NAME``
    and, like torch's, is built from one sequence; it is also ``return_types.NAME``."""
    n = len(fields)

    def __new__(cls, sequence):
        sequence = tuple(sequence)
        if len(sequence) != n:
            raise TypeError(f"torch.return_types.{name}() takes a {n}-sequence "
                            f"({len(sequence)}-sequence given)")
        return tuple.__new__(cls, sequence)

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"

    def __reduce__(self):
        return (type(self), (tuple(self),))

    namespace = {
        "__slots__": (), "__new__": __new__, "__repr__": __repr__, "__reduce__": __reduce__,
        "__module__": "ember.return_types", "n_fields": n, "n_sequence_fields": n,
    }
    for i, field in enumerate(fields):
        namespace[field] = property(operator.itemgetter(i))
    cls = type(name, (tuple,), namespace)
    setattr(return_types, name, cls)
    return cls


for _name in ("max", "min", "median", "kthvalue", "sort", "topk", "cummax", "cummin"):
    _return_type(_name)


# ---- shared helpers -------------------------------------------------------------------


def reduce_dims(dim, ndim: int) -> tuple | None:
    """``dim`` (None, an int, or a sequence) as a sorted tuple of non-negative dims, with
    torch's errors; None and ``()`` mean every dim."""
    if dim is None:
        return None
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1 (once), and there is nothing to reduce
        if isinstance(dim, int):
            wrap_dim(dim, 0)
        else:
            wrap_dims(dim, 0)
        return None
    if isinstance(dim, int):
        return (wrap_dim(dim, ndim),)
    dims = wrap_dims(dim, ndim)
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


def _count(shape: tuple, dims: tuple | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


def _int64_if_integral(data) -> object:
    return np.dtype(np.int64) if data.dtype.kind in "biu" else data.dtype


def _cast_input(input: Tensor, dtype) -> Tensor:
    return input if dtype is None or dtype.np == input._data.dtype else input.to(dtype)


def _require_float(input: Tensor, message: str) -> None:
    if input.dtype.category < _dtype.FLOAT:
        raise RuntimeError(message)


def _empty_dim_as_given(shape: tuple, dim):
    """The first empty dim of ``dim`` (an int or a sequence) in the caller's order and
    spelling (torch's messages for amax/amin and vector norms show it so), or None."""
    for d in (dim,) if isinstance(dim, int) else dim:
        if shape[wrap_dim(d, len(shape))] == 0:
            return d
    return None


def _check_nonempty(name: str, data, dims: tuple | None, error: type = RuntimeError,
                    given=None) -> None:
    """torch's refusal to reduce an empty tensor (or an empty dim) where there is no
    identity value (max, min, argmax, median, ...). ``given``: the dims as the caller spelled
    them, where torch's message shows that spelling."""
    if data.size:
        return
    if dims is not None and given is not None:
        empty = _empty_dim_as_given(data.shape, given)
        if empty is not None:
            raise IndexError(f"{name}(): Expected reduction dim {empty} to have non-zero size.")
        return
    if dims is None:
        if error is IndexError:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if data.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _isnan(x):
    return x != x


def _no_bool_kernel(name: str, input: Tensor) -> None:
    if input._data.dtype.kind == "b":
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')


# ---- the backward of value-selecting ops -------------------------------------------------


def _scatter_back(grad: Tensor, index, dim: int, keepdim: bool, shape: tuple,
                  accumulate: bool = False) -> Tensor:
    # torch's backward of max(dim)/sort/topk puts the gradient into zeros at the indices
    # (a scatter; cummax's indices repeat, so it accumulates); its gradient is a gather.
    from ember._ops import indexing

    if not shape:  # a 0-d input: the gradient is the gradient
        return grad.reshape(())
    if not keepdim:
        grad = grad.unsqueeze(dim)
    zeros = make(np.zeros(shape, grad._data.dtype))
    op = indexing.SCATTER_ADD if accumulate else indexing.SCATTER
    return run(op, zeros, grad, index, dim, grad._data.shape)


FLIP = defop("flip", node="FlipBackward0", kind=KEEP,
             # a 0-d tensor's only dim (0 or -1) reverses nothing: a copy, as in torch
             forward=lambda xp, self, dims: xp.flip(self, dims).copy() if self.ndim else
             self.copy(),
             backward=lambda grad, self, dims: run(FLIP, grad, dims))


# ---- sum and mean ---------------------------------------------------------------------


def _c_ordered(xp, r):
    """``r`` with the strides torch gives a reduction's result whatever the input's layout:
    C order, a size-1 dim's stride included (NumPy's reductions keep the input's order)."""
    if not r.flags.c_contiguous:
        return xp.ascontiguousarray(r)
    if 1 in r.shape:
        return r.reshape(-1).reshape(r.shape)  # C-ordered already: only the strides change
    return r


def _sum(xp, x, dims, keepdim, shape, out_np):
    # positional arguments (axis, dtype, out, keepdims): NumPy parses keywords more slowly
    r = xp.add.reduce(x, dims, _accumulator(x), None, keepdim)
    if type(r) is not xp.ndarray:  # a whole reduction's scalar: one cast to a 0-d array
        return xp.asarray(r, out_np)
    r = r.astype(out_np, copy=False)
    return _c_ordered(xp, r) if r.ndim > 1 else r


def _mean(xp, x, dims, keepdim, shape, out_np):
    # The sum divided by the count, as torch computes it (an empty mean is nan).
    r = xp.add.reduce(x, axis=dims, keepdims=keepdim, dtype=_accumulator(x))
    r = xp.true_divide(r, _count(shape, dims)).astype(out_np, copy=False)
    return _c_ordered(xp, r) if r.ndim > 1 else r


# The input's shape is named as torch's nodes save it (``_saved_self_sym_sizes``).
def _sum_backward(grad, self, dims, keepdim, self_sym_sizes, out_np):
    return expand_back(grad, self_sym_sizes, dims, keepdim)


def _mean_backward(grad, self, dims, keepdim, self_sym_sizes, out_np):
    return expand_back(grad, self_sym_sizes, dims, keepdim) / _count(self_sym_sizes, dims)


SUM = defop("sum", node="SumBackward0", kind=KEEP, forward=_sum, backward=_sum_backward)
SUM_DIM = defop("sum", node="SumBackward1", kind=KEEP, forward=_sum, backward=_sum_backward)
MEAN = defop("mean", node="MeanBackward0", kind=KEEP, forward=_mean, backward=_mean_backward)
MEAN_DIM = defop("mean", node="MeanBackward1", kind=KEEP, forward=_mean,
                 backward=_mean_backward)
for _op in (MEAN, MEAN_DIM):  # torch's mean nodes also save the input's element count
    saved_as(_op, self_sym_numel=lambda node: math.prod(node._saved_self_sym_sizes))
del _op
saved_as(SUM_DIM, dim=lambda node: node._saved_dims)
saved_as(MEAN_DIM, dim=lambda node: node._saved_dims)
saved_names(SUM, "self_sym_sizes")
saved_names(SUM_DIM, "dim", "keepdim", "self_sym_sizes")
saved_names(MEAN, "self_sym_numel", "self_sym_sizes")
saved_names(MEAN_DIM, "dim", "keepdim", "self_sym_numel", "self_sym_sizes")
# their formulas branch on the saved dims only
audit(SUM, SUM_DIM, MEAN, MEAN_DIM)


# ``dim``'s default for sum and mean: torch records SumBackward0 / MeanBackward0 for a call
# without ``dim``, and SumBackward1 / MeanBackward1 for ``dim=None`` (its dim overload).
_NO_DIM = object()


def sum(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *,  # noqa: A001
        dtype=None) -> Tensor:
    """Mirrors ``torch.sum``: integers and bools sum to int64 unless ``dtype`` is given."""
    data = input._data
    if dtype is None:
        out_np = _int64_if_integral(data)
    else:
        out_np = dtype.np
        if data.dtype != out_np:
            input = input.to(dtype)
    if dim is _NO_DIM:
        if not keepdim:
            return run(SUM, input, None, False, data.shape, out_np)
        dim = None  # keepdim=True keeps every dim, as size 1 (SUM_DIM)
    return run(SUM_DIM, input, reduce_dims(dim, data.ndim), keepdim, data.shape, out_np)


def mean(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mirrors ``torch.mean``: floating-point and complex inputs only (or give ``dtype``)."""
    if dtype is not None:
        input = input.to(dtype)
    dt = input.dtype
    if dt.category < _dtype.FLOAT:
        raise RuntimeError(
            f"mean(): could not infer output dtype. {'Input' if dtype is None else 'Optional'}"
            f" dtype must be either a floating point or complex dtype. Got: "
            f"{_dtype.scalar_type_name(dt)}")
    data = input._data
    if dim is _NO_DIM:
        if not keepdim:
            return run(MEAN, input, None, False, data.shape, data.dtype)
        dim = None  # keepdim=True keeps every dim, as size 1 (MEAN_DIM)
    return run(MEAN_DIM, input, reduce_dims(dim, data.ndim), keepdim, data.shape, data.dtype)


# ---- prod -----------------------------------------------------------------------------


# NOTE [prod of float16/bfloat16]
# torch's prod of a half type multiplies in that type, one element after another along the
# reduced dim, each product rounded to it: always along an outer dim (its kernel vectorises
# across the others), and along the last dim (or over all elements) when fewer than 64 are
# multiplied; longer inner products take a vectorised order that ember does not follow (it
# then multiplies in float32 and rounds once). The gradient without zeros is ``grad *
# (result / self)`` in the half type. Learnt by experiment against torch 2.13, bit for bit.
_HALF_PROD_SEQUENTIAL = 64


def _prod_half(x, dims, keepdim):
    """x's product along ``dims`` (None or one dim) as NOTE [prod of float16/bfloat16], or
    None where ember does not follow torch's order."""
    if dims is None:
        moved, dim = x.reshape(-1), 0
    else:
        moved, dim = x, dims[0]
    n = moved.shape[dim] if moved.ndim else 1
    if moved.ndim == 0 or x.size == 0 or (
            n >= _HALF_PROD_SEQUENTIAL and dim == moved.ndim - 1):
        return None
    r = np.take(moved, 0, axis=dim)
    for i in range(1, n):
        r = r * np.take(moved, i, axis=dim)  # NumPy's half product rounds as torch's
    if keepdim:
        r = np.expand_dims(r, tuple(range(x.ndim)) if dims is None else dims[0])
    return np.ascontiguousarray(r) if np.ndim(r) else np.asarray(r, x.dtype)


def _prod(xp, x, dims, keepdim, out_np):
    # ``out_np`` is None unless ``dtype=`` chose it: the result dtype is then derived here,
    # from the input the op modes passed on (autocast's float32 cast stays float32)
    if reduced_float(x.dtype) and (out_np is None or out_np == x.dtype):
        r = _prod_half(x, dims, keepdim)
        if r is not None:
            return r
    r = xp.multiply.reduce(x, axis=dims, keepdims=keepdim, dtype=_accumulator(x))
    return xp.asarray(r).astype(_int64_if_integral(x) if out_np is None else out_np,
                                copy=False)


def _exclusive_products(xp, x, dim):
    """For each element, the product of the others along ``dim`` (exact with zeros)."""
    if x.ndim == 0:
        return xp.ones_like(x)
    n = x.shape[dim]
    moved = xp.moveaxis(x, dim, 0)
    left = xp.ones_like(moved)
    right = xp.ones_like(moved)
    if n > 1:
        left[1:] = xp.multiply.accumulate(moved[:-1], axis=0)
        right[:-1] = xp.multiply.accumulate(moved[:0:-1], axis=0)[::-1]
    return xp.moveaxis(left * right, 0, dim)


def _copies_with_one(self, dim: int):
    """n copies of ``self`` (n its size along ``dim``) along a new leading dim, copy i with
    element i along ``dim`` set to 1, and the mask of those elements; for gradients of
    products over zeros that must be differentiable again (n times the memory)."""
    from ember._ops.creation import eye
    from ember._ops.pointwise import where

    n = self._data.shape[dim]
    shape = [1] * (self._data.ndim + 1)
    shape[0] = shape[dim + 1] = n
    own = eye(n, dtype=self.dtype).bool().reshape(shape)
    return where(own, 1.0, self.unsqueeze(0)), own


def _prod_others_backward(grad, self, dim):
    # d others_i / d x_j is the product over k not in {i, j} (0 for i == j): the others of
    # x with x_j set to 1.
    from ember._ops.pointwise import where

    if self._data.ndim == 0:
        return grad * 0
    copies, own = _copies_with_one(self, dim)
    pairs = run(PROD_OTHERS, copies, dim + 1)
    return (where(own, 0.0, pairs) * grad.unsqueeze(0)).sum(dim + 1).movedim(0, dim)


# The product of the other elements, for prod's gradient when the input holds zeros (then
# result / self is 0/0). torch composes it of cumprods, so its last node is a product.
PROD_OTHERS = defop("prod_backward", node="MulBackward0", kind=KEEP,
                    forward=lambda xp, self, dim: _exclusive_products(xp, self, dim),
                    backward=_prod_others_backward, save=(0,))


def _prod_backward(grad, self, dims, keepdim, out_np, result):
    shape = self._data.shape
    grad = expand_back(grad, shape, dims, keepdim)
    if not (self._data == 0).any():
        if reduced_float(self._data.dtype):  # NOTE [prod of float16/bfloat16]
            return grad * (expand_back(result, shape, dims, keepdim) / self)
        return grad * expand_back(result, shape, dims, keepdim) / self
    if dims is None:
        others = run(PROD_OTHERS, self.reshape(-1), 0).reshape(shape)
    else:
        others = run(PROD_OTHERS, self, dims[0])
    return grad * others


PROD = defop("prod", node="ProdBackward0", kind=KEEP, save=(0, "result"), forward=_prod,
             backward=_prod_backward)
PROD_DIM = defop("prod", node="ProdBackward1", kind=KEEP, save=(0, "result"), forward=_prod,
                 backward=_prod_backward)
saved_as(PROD_DIM, dim=lambda node: node._saved_dims[0])
saved_names(PROD, "result", "self")
saved_names(PROD_DIM, "dim", "keepdim", "result", "self")


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype=None) -> Tensor:
    """Mirrors ``torch.prod``: the product of all elements, or along one dim. Integers and
    bools multiply to int64 unless ``dtype`` is given."""
    input = _cast_input(input, dtype)
    data = input._data
    out_np = None if dtype is None else data.dtype
    if dim is None:
        return run(PROD, input, None, False, out_np)
    if not isinstance(dim, int):  # torch's prod takes one dim, never a list of them
        raise TypeError(
            f"prod() received an invalid combination of arguments - got (Tensor, "
            f"{type(dim).__name__}), but expected one of:\n"
            " * (Tensor input, *, torch.dtype dtype = None)\n"
            " * (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
            "Tensor out = None)\n")
    return run(PROD_DIM, input, reduce_dims(dim, data.ndim), keepdim, out_np)


# ---- max, min, amax, amin, argmax, argmin ---------------------------------------------


def _evenly_distribute(grad, self, result):
    # torch's full max/min/median split the gradient evenly among the elements equal to the
    # result (among the nans when the result is nan).
    from ember._ops.pointwise import where

    # in ember ops, not from result.item(): under vmap each sample has its own result
    mask = (self == result) | (_isnan(self) & _isnan(result))
    return where(mask, grad / mask.sum(), 0.0)


MAX_ALL = defop("max", node="MaxBackward1", kind=KEEP, save=(0, "result"),
                forward=lambda xp, self: xp.max(self),
                backward=lambda grad, self, result: _evenly_distribute(grad, self, result))
MIN_ALL = defop("min", node="MinBackward1", kind=KEEP, save=(0, "result"),
                forward=lambda xp, self: xp.min(self),
                backward=lambda grad, self, result: _evenly_distribute(grad, self, result))


def _select_forward(xp, self, index, dim, keepdim, shape):
    # ``index`` has the reduced dim kept (size 1): gather, then drop it unless keepdim.
    if self.ndim == 0:
        return self.copy(), index.reshape(())
    values = xp.take_along_axis(self, index, dim)
    if not keepdim:
        return values.squeeze(dim), index.squeeze(dim)
    return values, index


def _select_backward(grads, self, index, dim, keepdim, shape):
    return _scatter_back(grads[0], index, dim, keepdim, shape)


def _selecting_op(name: str, node: str):
    return defop(name, node=node, kind=KEEP, multi=1, forward=_select_forward,
                 backward=_select_backward)


MAX_DIM = _selecting_op("max", "MaxBackward0")
MIN_DIM = _selecting_op("min", "MinBackward0")
MEDIAN_DIM = _selecting_op("median", "MedianBackward1")
KTHVALUE = _selecting_op("kthvalue", "KthvalueBackward0")


def _saved_indices(node) -> Tensor:
    """torch's ``_saved_indices`` of a node whose formulas take the indices as an array
    (along the reduced dim kept as size 1 by the selecting ops)."""
    index = node._saved_index
    if "keepdim" in node._op.arg_names and not node._saved_keepdim and index.ndim:
        index = index.squeeze(node._saved_dim)
    return make(index)


for _op in (MAX_DIM, MIN_DIM, MEDIAN_DIM, KTHVALUE):
    saved_as(_op, indices=_saved_indices, self_sym_sizes=lambda node: node._saved_shape)
    saved_names(_op, "dim", "indices", "keepdim", "self_sym_sizes")
del _op


def _arg_extreme(data, dim: int, largest: bool):
    """The index of the first largest (smallest) element along ``dim``, kept as a size-1
    dim; nan counts as the largest and the smallest, as in torch."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    fn = np.argmax if largest else np.argmin
    return np.expand_dims(fn(data, axis=dim), dim).astype(np.int64, copy=False)


def _no_complex_order(input: Tensor, kernel: str | None, message: str | None = None,
                      empty_too: bool = False) -> None:
    """torch's refusal to order complex numbers: ``message`` (a RuntimeError its op raises
    first), or the NotImplementedError of ``kernel``, which an empty input runs only where
    ``empty_too`` says so. The same kernel refuses uint16/32/64 (NOTE [Wide unsigned
    dtypes])."""
    dt = input._data.dtype
    if dt.kind != "c":
        if kernel is not None and dt.kind == "u" and dt.itemsize > 1:
            _promote.refuse_wide_input(input, kernel, empty_too)
        return
    if message is not None:
        raise RuntimeError(message)
    if input._data.size or empty_too:
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{_dtype.scalar_type_name(input.dtype)}\'')


def _reduced_dim_nonempty(input: Tensor, dim: int) -> bool:
    # an empty tensor whose reduced dim is not empty reaches the kernel (a dtype error); an
    # empty reduced dim is refused before
    shape = input._data.shape
    return not shape or shape[wrap_dim(dim, len(shape))] != 0


_SORT_COMPLEX = " Sort does not support complex dtypes on CPU"  # torch's text, space first


def _with_indices(op, name: str, input: Tensor, dim, keepdim: bool, index_fn):
    data = input._data
    d = wrap_dim(dim, data.ndim)
    _check_nonempty(name, data, (d,) if data.ndim else None, IndexError)
    index = batching.from_values(input, index_fn, d)
    return getattr(return_types, name)(run(op, input, index, d, keepdim, data.shape))


def _max_or_min(name: str, input: Tensor, dim, keepdim: bool, other):
    from ember._ops import pointwise

    if other is None and isinstance(dim, Tensor):
        other = dim
    if other is not None:
        return (pointwise.maximum if name == "max" else pointwise.minimum)(input, other)
    if dim is None:
        _check_nonempty(name, input._data, None)
        _no_complex_order(input, name + "_all")
        return run(MAX_ALL if name == "max" else MIN_ALL, input)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"(Tensor, {type(dim).__name__})")
    data = input._data
    if data.dtype.kind == "c":  # after the check of an empty reduced dim, as torch orders them
        _check_nonempty(name, data, (wrap_dim(dim, data.ndim),) if data.ndim else None,
                        IndexError)
        raise RuntimeError(f"{name}(): does not support complex input")
    _promote.refuse_wide_input(input, name + "_cpu")
    largest = name == "max"
    return _with_indices(MAX_DIM if largest else MIN_DIM, name, input, dim, keepdim,
                         lambda data, d: _arg_extreme(data, d, largest))


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """Mirrors ``torch.max``: ``max(input)`` (the largest element), ``max(input, dim,
    keepdim)`` (a ``return_types.max`` of values and int64 indices) and ``max(input,
    other)`` (= ``maximum``). nan propagates."""
    return _max_or_min("max", input, dim, keepdim, other)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """Mirrors ``torch.min`` (see ``max``)."""
    return _max_or_min("min", input, dim, keepdim, other)


def _scale_grad_by_count(grad, self, dims, keepdim, result):
    # amax/amin split the gradient evenly among the ties of each reduced slice; a nan
    # result has no equal element, and torch's 0/0 makes that slice's gradient nan.
    shape = self._data.shape
    mask = self == expand_back(result, shape, dims, keepdim)
    count = mask.sum(dims, keepdim=True) if dims is not None else mask.sum()
    return (expand_back(grad, shape, dims, keepdim) / count) * mask


AMAX = defop("amax", node="AmaxBackward0", kind=KEEP, save=(0, "result"),
             forward=lambda xp, self, dims, keepdim: xp.amax(self, axis=dims, keepdims=keepdim),
             backward=_scale_grad_by_count)
AMIN = defop("amin", node="AminBackward0", kind=KEEP, save=(0, "result"),
             forward=lambda xp, self, dims, keepdim: xp.amin(self, axis=dims, keepdims=keepdim),
             backward=_scale_grad_by_count)
for _op in (AMAX, AMIN):
    saved_as(_op, dim=lambda node: node._saved_dims)
    saved_names(_op, "dim", "keepdim", "result", "self")
del _op


def _amax_or_amin(op, name: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    data = input._data
    dims = reduce_dims(dim, data.ndim)
    _check_nonempty(name, data, dims, given=dim)
    _no_complex_order(input, name[1:] + "_values_cpu")
    return run(op, input, dims, keepdim)


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.amax``: the largest values over ``dim`` (all dims when empty); ties
    share the gradient evenly."""
    return _amax_or_amin(AMAX, "amax", input, dim, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.amin``."""
    return _amax_or_amin(AMIN, "amin", input, dim, keepdim)


def _argmax_forward(xp, self, dim, keepdim, largest):
    fn = xp.argmax if largest else xp.argmin
    if dim is None:
        r = xp.asarray(fn(self), np.int64)
        return r.reshape((1,) * self.ndim) if keepdim else r
    if self.ndim == 0:
        return xp.zeros((), np.int64)
    return xp.asarray(fn(self, axis=dim, keepdims=keepdim), np.int64)


ARGMAX = defop("argmax", kind=KEEP, forward=_argmax_forward)


def _arg(name: str, input: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    data = input._data
    if data.dtype.kind in "bc":
        kind = "bool" if data.dtype.kind == "b" else "complex"
        raise RuntimeError(f"{name}(): does not support {kind} input")
    if dim is not None:
        dim = wrap_dim(dim, data.ndim)
    _check_nonempty(name, data, None if dim is None or data.ndim == 0 else (dim,), IndexError)
    _promote.refuse_wide_input(input, name + "_cpu")
    return run(ARGMAX, input, dim, keepdim, largest)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.argmax``: the (first) index of the largest value, int64."""
    return _arg("argmax", input, dim, keepdim, True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.argmin``."""
    return _arg("argmin", input, dim, keepdim, False)


# ---- var, std, var_mean, std_mean -----------------------------------------------------


def _variance(xp, x, dims, correction, keepdim, shape):
    # the two-pass variance of a real x in its own precision (half types in float32)
    n = _count(shape, dims)
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = x - xp.add.reduce(x, axis=dims, keepdims=True, dtype=_accumulator(x)) / n
        r = xp.add.reduce(centred * centred, axis=dims, keepdims=keepdim,
                          dtype=_accumulator(x))
        return xp.asarray(xp.true_divide(r, builtins.max(n - correction, 0)))


# torch's CPU var, std and var_mean accumulate float32 in double and round each result once
# (std's root too): computed in float32, a third to all of the elements were an ulp off
# torch's. The variance of a complex tensor is those of its real and imaginary parts, each
# rounded, added.
_WIDE = {np.dtype(np.float32): np.float64, np.dtype(np.complex64): np.complex128}


def _var(xp, x, dims, correction, keepdim, shape):
    if x.dtype.kind == "c":
        return (_var(xp, x.real, dims, correction, keepdim, shape)
                + _var(xp, x.imag, dims, correction, keepdim, shape))
    wide = _WIDE.get(x.dtype)
    if wide is None:
        return _variance(xp, x, dims, correction, keepdim, shape).astype(x.dtype, copy=False)
    return _variance(xp, x.astype(wide), dims, correction, keepdim, shape).astype(x.dtype)


def _std(xp, x, dims, correction, keepdim, shape):
    if reduced_float(x.dtype):
        # torch takes the root of the float32 variance and rounds once; its gradient (the
        # formula below, in the half type) then matches torch's bit for bit (learnt by
        # experiment against torch 2.13)
        return xp.sqrt(_var(xp, x.astype(np.float32), dims, correction, keepdim,
                            shape)).astype(x.dtype)
    wide = _WIDE.get(x.dtype)
    if wide is None or x.dtype.kind == "c":
        return xp.sqrt(_var(xp, x, dims, correction, keepdim, shape))
    return xp.sqrt(_variance(xp, x.astype(wide), dims, correction, keepdim, shape)).astype(
        x.dtype)


def _moment_mean(xp, x, dims, keepdim, shape):
    wide = _WIDE.get(x.dtype)  # var_mean's mean is accumulated as its variance is
    return _mean(xp, x if wide is None else x.astype(wide), dims, keepdim, shape, x.dtype)


def _var_mean_forward(xp, x, dims, correction, keepdim, shape):
    return (_var(xp, x, dims, correction, keepdim, shape),
            _moment_mean(xp, x, dims, keepdim, shape))


def _std_mean_forward(xp, x, dims, correction, keepdim, shape):
    return (_std(xp, x, dims, correction, keepdim, shape),
            _moment_mean(xp, x, dims, keepdim, shape))


def _ratio(numerator: float, denominator: float) -> float:
    # C++ double division, as torch's formulas compute it: x/0 is +-inf (0/0 is nan).
    if denominator:
        return numerator / denominator
    return math.nan if numerator == 0 else math.copysign(math.inf, numerator)


def _var_backward(grad, self, dims, correction, keepdim, shape):
    dof = builtins.max(_count(shape, dims) - correction, 0)
    centred = self - (self.mean(dims, keepdim=True) if dims is not None else self.mean())
    return _ratio(2.0, dof) * expand_back(grad, shape, dims, keepdim) * centred


def _std_backward(grad, self, dims, correction, keepdim, shape, result):
    from ember._ops.pointwise import where

    return _var_backward(where(result == 0, 0.0, grad / (result * 2)), self, dims,
                         correction, keepdim, shape)


def _moments_backward(grads, self, dims, correction, keepdim, shape, with_std):
    out = None
    if grads[0] is not None:
        if with_std:
            result = run(STD, self, dims, correction, keepdim, shape)
            out = _std_backward(grads[0], self, dims, correction, keepdim, shape, result)
        else:
            out = _var_backward(grads[0], self, dims, correction, keepdim, shape)
    if grads[1] is not None:
        from_mean = expand_back(grads[1], shape, dims, keepdim) / _count(shape, dims)
        out = from_mean if out is None else out + from_mean
    return out


VAR = defop("var", node="VarBackward0", kind=KEEP, save=(0,), forward=_var,
            backward=_var_backward)
STD = defop("std", node="StdBackward0", kind=KEEP, save=(0, "result"), forward=_std,
            backward=_std_backward)
saved_as(VAR, dim=lambda node: node._saved_dims)
saved_as(STD, dim=lambda node: node._saved_dims)
saved_names(VAR, "correction", "dim", "keepdim", "self")
saved_names(STD, "correction", "dim", "keepdim", "result", "self")
VAR_MEAN = defop("var_mean", node="VarMeanBackward0", kind=KEEP, save=(0,), multi=True,
                 forward=_var_mean_forward,
                 backward=lambda grads, self, dims, correction, keepdim, shape:
                 _moments_backward(grads, self, dims, correction, keepdim, shape, False))
STD_MEAN = defop("std_mean", node="StdMeanBackward0", kind=KEEP, save=(0,), multi=True,
                 forward=_std_mean_forward,
                 backward=lambda grads, self, dims, correction, keepdim, shape:
                 _moments_backward(grads, self, dims, correction, keepdim, shape, True))


def _moments(op, name: str, input: Tensor, dim, unbiased, keepdim: bool, correction):
    if isinstance(dim, bool):  # var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both "
                        "unbiased and correction")
    if correction is None:
        correction = 0 if unbiased is False else 1
    _require_float(input, f"{name if name.endswith('_mean') else 'std and var'} only support "
                          "floating point and complex dtypes")
    data = input._data
    dims = reduce_dims(dim, data.ndim)
    if _count(data.shape, dims) - correction <= 0:
        warnings.warn(
            f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than "
            "the reduction factor (input numel divided by output numel).", UserWarning,
            stacklevel=3)
    return run(op, input, dims, correction, keepdim, data.shape)


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Mirrors ``torch.var``: the variance over ``dim`` (all dims when None), dividing by
    ``N - correction`` (``unbiased=False`` is ``correction=0``)."""
    return _moments(VAR, "var", input, dim, unbiased, keepdim, correction)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Mirrors ``torch.std`` (see ``var``)."""
    return _moments(STD, "std", input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """Mirrors ``torch.var_mean``: the tuple (var, mean), one node for both."""
    tensor_argument("var_mean", "input", input, 1)
    return _moments(VAR_MEAN, "var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """Mirrors ``torch.std_mean``: the tuple (std, mean)."""
    tensor_argument("std_mean", "input", input, 1)
    return _moments(STD_MEAN, "std_mean", input, dim, unbiased, keepdim, correction)


# ---- norm -----------------------------------------------------------------------------


# NOTE [vector_norm of float16/bfloat16]
# torch's vector norm of a half type is computed in float32 from the half values and rounded
# once (the powers, the sum and the root); its gradient is composed of ops in the half type,
# each rounded to it, which ember's ops of half types do too. For p = 2 that is ``grad *
# (self / norm)`` (0 where the norm is 0), where the float formula multiplies ``self`` last;
# for the other p the float formulas are already torch's order. Learnt by experiment against
# torch 2.13, bit for bit on random inputs. Left over: the float32 sum's order is NumPy's.
def _vector_norm(xp, x, p, dims, keepdim):
    if reduced_float(x.dtype):
        return _vector_norm(xp, x.astype(np.float32), p, dims, keepdim).astype(x.dtype)
    a = xp.abs(x)
    acc = _accumulator(a)
    if p == 2:
        r = xp.sqrt(xp.add.reduce(a * a, axis=dims, keepdims=keepdim, dtype=acc))
    elif p == 1:
        r = xp.add.reduce(a, axis=dims, keepdims=keepdim, dtype=acc)
    elif p == math.inf:
        r = xp.amax(a, axis=dims, keepdims=keepdim)
    elif p == -math.inf:
        r = xp.amin(a, axis=dims, keepdims=keepdim)
    elif p == 0:
        r = xp.add.reduce(a != 0, axis=dims, keepdims=keepdim)
    else:
        with np.errstate(divide="ignore"):
            r = xp.add.reduce(a ** p, axis=dims, keepdims=keepdim, dtype=acc) ** (1.0 / p)
    return xp.asarray(r).astype(a.dtype, copy=False)


def _norm_backward(grad, self, p, dims, keepdim, result):
    from ember._ops.pointwise import where

    shape = self._data.shape
    grad = expand_back(grad, shape, dims, keepdim)
    if p == 0:
        return grad * 0
    if p == 1:
        return grad * self.sign()
    result = expand_back(result, shape, dims, keepdim)
    if p == 2:
        if reduced_float(self._data.dtype):  # NOTE [vector_norm of float16/bfloat16]
            return grad * where(result == 0, 0.0, self / result)
        return self * where(result == 0, 0.0, grad / result)
    if math.isinf(p):
        # ties share the gradient; a nan result has no equal element and gets none
        mask = self.abs() == result
        count = mask.sum(dims, keepdim=True) if dims is not None else mask.sum()
        return self.sign() * where(mask, grad / count, 0.0)
    if p < 2:
        scale = self.sign() * self.abs().pow(p - 1)
        if p < 1:  # |x|^(p-1) is infinite at 0, where torch's gradient is 0
            scale = where(self == 0, 0.0, scale)
    else:
        scale = self * self.abs().pow(p - 2)
    return scale * where(result == 0, 0.0, grad / result.pow(p - 1))


NORM = defop("linalg_vector_norm", node="LinalgVectorNormBackward0", kind=KEEP,
             save=(0, "result"), forward=_vector_norm, backward=_norm_backward)
saved_as(NORM, dim=lambda node: node._saved_dims, ord=lambda node: node._saved_p)
saved_names(NORM, "dim", "keepdim", "ord", "result", "self")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Mirrors ``torch.norm`` for vector norms (``p`` a number, ``inf``, ``-inf`` or
    ``"fro"``), computed as ``torch.linalg.vector_norm`` over ``dim`` (all dims when None),
    and the nuclear norm ``p="nuc"`` of the matrices in the last two dims (or ``dim``)."""
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):  # "nuc", and torch's error for any other name
        from ember.linalg import matrix_norm

        return matrix_norm(_cast_input(input, dtype), p, (-2, -1) if dim is None else dim,
                           keepdim)
    input = _cast_input(input, dtype)
    if input.dtype.category < _dtype.FLOAT:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {_dtype.scalar_type_name(input.dtype)}")
    data = input._data
    dims = reduce_dims(dim, data.ndim)
    if p < 0 and _count(data.shape, dims) == 0 or (
            math.isinf(p) and data.size == 0 and (dims is None or builtins.any(
                data.shape[d] == 0 for d in dims))):
        shown = int(p) if math.isfinite(p) and p == int(p) else p
        where = "an empty tensor because" if dims is None else (
            f"the dimension {_empty_dim_as_given(data.shape, dim)}because this dimension is "
            "empty and")  # sic: torch's message has no space before "because"
        raise RuntimeError(f"linalg.vector_norm cannot compute the {shown} norm on {where} "
                           "the operation does not have an identity")
    return run(NORM, input, float(p), dims, keepdim)


# ---- logsumexp ------------------------------------------------------------------------


# NOTE [logsumexp of float16/bfloat16]
# torch's logsumexp of a half type is composed of ops in that type: with ``m`` the largest
# element (0 where it is infinite), ``exp(x - m)`` rounded to the half type (after the
# difference, rounded too), their sum accumulated in float32 and rounded, its log rounded,
# and ``m`` added (learnt by experiment against torch 2.13, bit for bit on random inputs).
# Its gradient ``grad * (self - result).exp()`` then matches torch's as ember's ops of half
# types round as torch's do. Left over: the float32 sum's order is NumPy's, and the exp and
# log are rounded from float64 where torch rounds its float32 values.
def _logsumexp_half(x, dims, keepdim):
    dtype = x.dtype
    shift = np.amax(x, axis=dims, keepdims=True)
    shift = np.where(np.isinf(shift), 0, shift).astype(dtype)
    exps = np.exp((x - shift).astype(np.float64)).astype(dtype)
    total = np.add.reduce(exps, axis=dims, keepdims=True, dtype=np.float32).astype(dtype)
    with np.errstate(divide="ignore"):
        r = np.log(total.astype(np.float64)).astype(dtype) + shift
    return r if keepdim else r.reshape(np.add.reduce(x, axis=dims).shape)


def _logsumexp(xp, x, dims, keepdim):
    if reduced_float(x.dtype) and x.size:
        return _logsumexp_half(x, dims, keepdim)
    if x.size == 0:
        with np.errstate(divide="ignore"):
            return xp.log(xp.add.reduce(xp.exp(x), axis=dims, keepdims=keepdim))
    # Shift by the largest element (not when it is infinite, which would give inf - inf).
    shift = xp.amax(x, axis=dims, keepdims=True)
    shift = xp.where(xp.isinf(shift), 0, shift)
    with np.errstate(divide="ignore"):
        r = xp.log(xp.add.reduce(xp.exp(x - shift), axis=dims, keepdims=True)) + shift
    if not keepdim:
        r = r.reshape(xp.add.reduce(x, axis=dims).shape)
    return r.astype(x.dtype, copy=False)


LOGSUMEXP = defop(
    "logsumexp", node="LogsumexpBackward0", kind=KEEP, save=(0, "result"),
    forward=_logsumexp,
    backward=lambda grad, self, dims, keepdim, result: expand_back(
        grad, self._data.shape, dims, keepdim) * (
            self - expand_back(result, self._data.shape, dims, keepdim)).exp())


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """Mirrors ``torch.logsumexp``: ``log(sum(exp(input)))`` over ``dim``, computed
    stably; integer inputs give the default float dtype."""
    if dim is None:  # torch requires the dims (an empty tuple reduces them all)
        raise TypeError("logsumexp(): argument 'dim' must be tuple of ints, not NoneType")
    if input.dtype.category < _dtype.FLOAT:
        input = input.to(_dtype.get_default_dtype())
    return run(LOGSUMEXP, input, reduce_dims(dim, input._data.ndim), keepdim)


# ---- cumsum, cumprod, cummax, cummin --------------------------------------------------


# torch's CPU scans (cumsum, cumprod, logcumsumexp) carry their running value in its
# accumulation type: double for float32 (complex double for complex float), float for the
# half types, int64 for integers, each result rounded from it once; a float32 cumsum of 10^5
# values drifts 1e-3 from torch's when it adds in float32. Learnt against torch 2.13: the
# wider scans match its bits.
_SCAN_WIDER = {np.dtype(np.float32): np.float64, np.dtype(np.complex64): np.complex128}


def _scan_accumulator(x):
    """The dtype torch's scans carry ``x``'s running value in (None: its own)."""
    wider = _SCAN_WIDER.get(x.dtype)
    return wider if wider is not None else _accumulator(x)


def _cumsum(xp, x, dim):
    if x.ndim == 0:
        return x.astype(_int64_if_integral(x))
    return xp.add.accumulate(x, axis=dim, dtype=_scan_accumulator(x)).astype(
        _int64_if_integral(x), copy=False)


def _reverse_cumsum(grad: Tensor, dim: int) -> Tensor:
    if grad.dim() == 0:
        return grad
    return run(FLIP, run(CUMSUM, run(FLIP, grad, (dim,)), dim), (dim,))


CUMSUM = defop("cumsum", node="CumsumBackward0", kind=KEEP, forward=_cumsum,
               backward=lambda grad, self, dim: _reverse_cumsum(grad, dim))


def _cumprod(xp, x, dim):
    if x.ndim == 0:
        return x.astype(_int64_if_integral(x))
    return xp.multiply.accumulate(x, axis=dim, dtype=_scan_accumulator(x)).astype(
        _int64_if_integral(x), copy=False)


def _cumprod_grad_with_zeros(xp, grad, self, dim):
    # d result_j / d self_i is the product of self_k for k <= j, k != i (for j >= i): one
    # cumprod per position, with that position set to 1.
    g = xp.moveaxis(grad, dim, 0)
    x = xp.moveaxis(self, dim, 0)
    out = xp.empty_like(x)
    for i in range(x.shape[0]):
        others = x[i:].copy()
        others[0] = 1
        partial = xp.multiply.accumulate(others, axis=0) * (
            xp.multiply.reduce(x[:i], axis=0) if i else 1)
        out[i] = xp.add.reduce(g[i:] * partial, axis=0)
    return xp.moveaxis(out, 0, dim)


# cumprod's gradient where the input holds zeros (result / self is 0/0 there), computed
# in one pass per position; recorded only when no graph is wanted (see below).
CUMPROD_ZEROS = defop("cumprod_backward", node="NotImplemented", nin=2, kind=KEEP,
                      forward=_cumprod_grad_with_zeros,
                      backward=(not_implemented("cumprod_backward"),
                                not_implemented("cumprod_backward")))


def _cumprod_grad_with_zeros_composed(grad, self, dim):
    # The same gradient in ember ops, so it can be differentiated again (create_graph):
    # copy i of the input has x_i = 1; its cumprod at j >= i is d result_j / d x_i.
    from ember._ops.creation import arange
    from ember._ops.pointwise import where

    copies, own = _copies_with_one(self, dim)
    n = self._data.shape[dim]
    later = (arange(n).unsqueeze(1) <= arange(n)).reshape(own.shape)
    partial = run(CUMPROD, copies, dim + 1)
    return (where(later, partial, 0.0) * grad.unsqueeze(0)).sum(dim + 1).movedim(0, dim)


def _cumprod_backward(grad, self, dim, result):
    if self.dim() == 0:
        return grad
    if not (self._data == 0).any():
        return _reverse_cumsum(grad * result, dim) / self
    if grad_mode.state.enabled:  # the gradient records a graph: n times the memory
        return _cumprod_grad_with_zeros_composed(grad, self, dim)
    return run(CUMPROD_ZEROS, grad, self, dim)


CUMPROD = defop("cumprod", node="CumprodBackward0", kind=KEEP, save=(0, "result"),
                forward=_cumprod, backward=_cumprod_backward)


def _cumulative(op, input: Tensor, dim: int, dtype) -> Tensor:
    if type(dim) is not int:
        dim = int_argument(dim, op.name, "dim", 2)
    input = _cast_input(input, dtype)
    result = run(op, input, wrap_dim(dim, input._data.ndim))
    if dtype is not None and result._data.dtype != dtype.np:
        # a narrower integer dtype given: torch accumulates in it, and int64's running
        # sums and products wrap to the same values modulo its width
        if dtype.np.kind == "b" and result._data.size:  # the kernel's refusal; empty runs none
            raise NotImplementedError(f'"{op.name}_out_cpu" not implemented for \'Bool\'')
        result = result.to(dtype)
    return result


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Mirrors ``torch.cumsum``: integers and bools accumulate in int64 unless ``dtype``
    is given."""
    return _cumulative(CUMSUM, input, dim, dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Mirrors ``torch.cumprod`` (see ``cumsum``). ember differs: where the input holds
    zeros, the gradient cannot be differentiated again."""
    return _cumulative(CUMPROD, input, dim, dtype)


def _cum_extreme_index(data, dim: int, largest: bool):
    """The index of the running max (min) along ``dim``: a later equal element takes over,
    and so does any nan (which then stays)."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    x = np.moveaxis(data, dim, 0)
    index = np.zeros(x.shape, np.int64)
    if x.shape[0]:
        best = x[0]
        current = np.zeros(x.shape[1:], np.int64)
        for j in range(1, x.shape[0]):
            item = x[j]
            take = (item >= best if largest else item <= best) | _isnan(item)
            best = np.where(take, item, best)
            current = np.where(take, j, current)
            index[j] = current
    return np.moveaxis(index, 0, dim)


def _cum_forward(xp, self, index, dim, shape):
    if self.ndim == 0:
        return self.copy(), index
    return xp.take_along_axis(self, index, dim), index


def _cum_backward(grads, self, index, dim, shape):
    return _scatter_back(grads[0], index, dim, True, shape, accumulate=True)


CUMMAX = defop("cummax", node="CummaxBackward0", kind=KEEP, multi=1, forward=_cum_forward,
               backward=_cum_backward)
CUMMIN = defop("cummin", node="CumminBackward0", kind=KEEP, multi=1, forward=_cum_forward,
               backward=_cum_backward)


def _cum_extreme(name: str, input: Tensor, dim: int):
    if type(dim) is not int:
        dim = int_argument(dim, name, "dim", 2)
    _no_complex_order(input, name + "_cpu")
    data = input._data
    if data.ndim == 0 and dim not in (-1, 0):
        raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
    d = wrap_dim(dim, data.ndim)
    index = batching.from_values(input, _cum_extreme_index, d, name == "cummax")
    return getattr(return_types, name)(
        run(CUMMAX if name == "cummax" else CUMMIN, input, index, d, data.shape))


def cummax(input: Tensor, dim: int):
    """Mirrors ``torch.cummax``: the running maximum along ``dim`` and its indices."""
    return _cum_extreme("cummax", input, dim)


def cummin(input: Tensor, dim: int):
    """Mirrors ``torch.cummin``."""
    return _cum_extreme("cummin", input, dim)


# ---- all, any, count_nonzero ----------------------------------------------------------


def _logical_reduction(fn):
    def forward(xp, self, dims, keepdim):
        r = xp.asarray(fn(self, axis=dims, keepdims=keepdim))
        # torch keeps uint8 for uint8 inputs (a legacy of byte masks)
        return r.astype(np.uint8) if self.dtype == np.uint8 else r
    return forward


ALL = defop("all", kind=KEEP, forward=_logical_reduction(np.all))
ANY = defop("any", kind=KEEP, forward=_logical_reduction(np.any))
COUNT_NONZERO = defop(
    "count_nonzero", kind=KEEP,
    forward=lambda xp, self, dims: xp.asarray(xp.count_nonzero(self, axis=dims), np.int64))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Mirrors ``torch.all``: whether every element is nonzero (over ``dim``); bool, or
    uint8 for uint8 inputs. An empty ``dim`` reduces no dim (each element's truth), where
    sum and the others reduce all of them."""
    return run(ALL, input, _logical_dims(dim, input._data.ndim), keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Mirrors ``torch.any`` (see ``all``)."""
    return run(ANY, input, _logical_dims(dim, input._data.ndim), keepdim)


def _logical_dims(dim, ndim: int):
    if type(dim) in (tuple, list) and not dim:
        return ()
    return reduce_dims(dim, ndim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.count_nonzero``: int64."""
    tensor_argument("count_nonzero", "input", input, 1)
    if dim is None:
        _promote.refuse_wide_input(input, "nonzero_count_cpu", empty_too=True)
    return run(COUNT_NONZERO, input, reduce_dims(dim, input._data.ndim))


# ---- median, nanmean, nansum ----------------------------------------------------------


def _median_all(xp, self):
    flat = xp.sort(self.reshape(-1))  # nan sorts last
    if flat.size == 0 or _isnan(flat[-1]):
        return xp.asarray(xp.nan, self.dtype)
    return flat[(flat.size - 1) // 2].copy()


MEDIAN_ALL = defop("median", node="MedianBackward0", kind=KEEP, save=(0, "result"),
                   forward=_median_all,
                   backward=lambda grad, self, result: _evenly_distribute(grad, self, result))


def _median_index(data, dim: int):
    """The index of the lower median along ``dim`` (of the first nan where there is one)."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    order = np.argsort(data, axis=dim, kind="stable")
    index = np.take(order, [(data.shape[dim] - 1) // 2], axis=dim)
    if data.dtype.kind in "fc":
        nans = _isnan(data)
        has_nan = nans.any(axis=dim, keepdims=True)
        index = np.where(has_nan, np.argmax(nans, axis=dim, keepdims=True), index)
    return index.astype(np.int64, copy=False)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """Mirrors ``torch.median``: the lower of the two middle values (not their mean); nan
    when there is a nan. With ``dim``, a ``return_types.median`` with indices."""
    if input._data.dtype.kind == "b":  # torch's kernel over all elements, or along a dim
        raise NotImplementedError(f'"median_{"cpu" if dim is None else "out"}" not '
                                  "implemented for 'Bool'")
    _no_complex_order(input, "median_cpu" if dim is None else "median_out",
                      empty_too=dim is not None and _reduced_dim_nonempty(input, dim))
    if dim is None:
        if input._data.dtype.kind not in "fc":
            # ints have no nan: the empty median has no value
            _check_nonempty("median", input._data, None)
        return run(MEDIAN_ALL, input)
    return _with_indices(MEDIAN_DIM, "median", input, dim, keepdim, _median_index)


def _nansum(xp, self, dims, keepdim, out_np):
    # nan counts as 0; the ufunc is called from here so NumPy's warnings stay ember's
    kept = xp.where(xp.isnan(self), 0, self) if self.dtype.kind in "fc" else self
    return xp.asarray(xp.add.reduce(kept, axis=dims, keepdims=keepdim, dtype=_accumulator(self))
                      ).astype(out_np, copy=False)


def _nansum_backward(grad, self, dims, keepdim, out_np):
    from ember._ops.pointwise import where

    return where(_isnan(self), 0.0, expand_back(grad, self._data.shape, dims, keepdim))


NANSUM = defop("nansum", node="NansumBackward0", kind=KEEP, save=(0,), forward=_nansum,
               backward=_nansum_backward)


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mirrors ``torch.nansum``: ``sum`` with nan counted as zero; integers and bools sum to
    int64 unless ``dtype`` is given; complex numbers are refused, as torch's CPU kernel does."""
    if input.dtype.category == _dtype.COMPLEX:
        raise RuntimeError("nansum on CPU does not support complex inputs")
    if dtype is not None and dtype.category == _dtype.COMPLEX and input._data.size:
        raise NotImplementedError(  # the kernel's refusal: an empty input runs none
            f'"nansum_cpu" not implemented for \'{_dtype.scalar_type_name(dtype)}\'')
    input = _cast_input(input, dtype)
    data = input._data
    out_np = _int64_if_integral(data) if dtype is None else dtype.np
    return run(NANSUM, input, reduce_dims(dim, data.ndim), keepdim, out_np)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mirrors ``torch.nanmean``: the mean of the non-nan elements (recorded, as in torch,
    as ``nansum / count``)."""
    if input.dtype.category < _dtype.FLOAT:
        raise RuntimeError("nanmean(): expected input to have floating point or complex "
                           f"dtype but got {_dtype.scalar_type_name(input.dtype)}")
    if dtype is not None and dtype.category < _dtype.FLOAT:
        raise RuntimeError("nanmean(): could not infer output dtype. Optional dtype must be "
                           "either a floating point or complex dtype. Got: "
                           + _dtype.scalar_type_name(dtype))
    counted = (input == input).sum(dim, keepdim=keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / counted


# ---- sort, argsort, topk, kthvalue ----------------------------------------------------


def _argsort_array(data, dim: int, descending: bool):
    """Stable sort order along ``dim``: nan counts as the largest (last ascending, first
    descending) and equal elements keep their order either way."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(data, axis=dim, kind="stable").astype(np.int64, copy=False)
    # Sort the reversed array and reverse the order: ties come out in ascending index.
    reversed_order = np.argsort(np.flip(data, dim), axis=dim, kind="stable")
    return np.flip(data.shape[dim] - 1 - reversed_order, dim).astype(np.int64, copy=False)


def _sorted_forward(xp, self, index, dim, shape):
    if self.ndim == 0:
        return self.copy(), index
    return xp.take_along_axis(self, index, dim), index


def _sorted_backward(grads, self, index, dim, shape):
    return _scatter_back(grads[0], index, dim, True, shape)


SORT = defop("sort", node="SortBackward0", kind=KEEP, multi=1, forward=_sorted_forward,
             backward=_sorted_backward)
# torch records its ``sort.stable`` overload (any call that names ``stable``) as this node
SORT_STABLE = defop("sort", node="SortBackward1", kind=KEEP, multi=1,
                    forward=_sorted_forward, backward=_sorted_backward)
TOPK = defop("topk", node="TopkBackward0", kind=KEEP, multi=1, forward=_sorted_forward,
             backward=_sorted_backward)
for _op in (SORT, SORT_STABLE, TOPK):
    saved_as(_op, indices=_saved_indices, self_sym_sizes=lambda node: node._saved_shape)
    saved_names(_op, "dim", "indices", "self_sym_sizes")
del _op


# torch's two overloads of sort and argsort: ``stable`` given makes dim and descending
# keyword-only. A function form with ``out=`` counts twice in torch's matching (so it never
# names one overload as the near miss); the others can.
_SORT_OVERLOADS = {
    "sort": ("(Tensor input, *, bool stable, int dim = -1, bool descending = False, tuple of "
             "Tensors out = None)", "(Tensor input, int dim = -1, bool descending = False, *, "
             "tuple of Tensors out = None)"),
    "argsort": ("(Tensor input, *, bool stable, int dim = -1, bool descending = False, Tensor "
                "out = None)", "(Tensor input, int dim = -1, bool descending = False)"),
    "method": ("(*, bool stable, int dim = -1, bool descending = False)",
               "(int dim = -1, bool descending = False)"),
}


def _sort_args(name: str, method: bool, input: Tensor, args: tuple, kwargs: dict) -> tuple:
    """(dim, descending, stable: None when not given) of a sort/argsort call as torch's
    argument parser reads ``args`` (after ``input``) and ``kwargs``, or its TypeError."""
    if not args and not kwargs:
        return -1, False, None
    names = ("dim", "descending")
    given = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in ("dim", "descending", "stable") or key in given:
            raise TypeError(f"{name}() got an unexpected keyword argument '{key}'"
                            if key not in ("dim", "descending", "stable") else
                            f"{name}() got multiple values for argument '{key}'")
        given[key] = value
    dim = given.get("dim", -1)
    descending = given.get("descending", False)
    stable = given.get("stable")
    takes = 0 if method else 1  # positionals the ``stable`` overload takes
    count = len(args) + takes
    near_miss = method or name == "argsort"
    if near_miss and (count > takes + 2 or "stable" in kwargs and count > takes + 1):
        raise TypeError(f"{name}() takes from {takes + 1} to {takes} positional arguments but "
                        f"{count} were given")
    ok = (len(args) <= 2 and not ("stable" in kwargs and args)
          and (type(dim) is int or isinstance(dim, np.integer) and not isinstance(dim, bool))
          and isinstance(descending, bool) and (stable is None or isinstance(stable, bool)))
    if not ok:
        overloads = _SORT_OVERLOADS["method" if method else name]
        from ember._tensor import c_type_name

        got = [c_type_name(a) for a in ((() if method else (input,)) + args)]
        got += [f"{key}={c_type_name(value)}" for key, value in kwargs.items()]
        text = ", ".join(got) + (", " if method and not args else "")
        lines = [f" * {overloads[0]}", f" * {overloads[1]}"]
        if near_miss and "stable" in kwargs and args and len(args) <= 2:
            lines.append("      didn't match because some of the keywords were incorrect: "
                         "stable")
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({text}"
                        "), but expected one of:\n" + "\n".join(lines) + "\n")
    # an explicit stable=None still picks the stable overload (SortBackward1)
    return int(dim), descending, bool(stable) if "stable" in kwargs else None


def sort(input: Tensor, *args, **kwargs):
    """Mirrors ``torch.sort(input, dim=-1, descending=False, *, stable)``: a
    ``return_types.sort`` of the sorted values and their indices; nan sorts as the largest
    value. ember's sort is always stable."""
    return _sort(input, *_sort_args("sort", False, input, args, kwargs))


def _sort_method(self: Tensor, *args, **kwargs):
    """Mirrors ``Tensor.sort`` (see ``sort``)."""
    return _sort(self, *_sort_args("sort", True, self, args, kwargs))


def _sort(input: Tensor, dim: int, descending: bool, stable):
    _no_complex_order(input, None, _SORT_COMPLEX)
    data = input._data
    d = wrap_dim(dim, data.ndim)
    op = SORT if stable is None else SORT_STABLE
    return return_types.sort(
        run(op, input, batching.from_values(input, _argsort_array, d, descending), d,
            data.shape))


def argsort(input: Tensor, *args, **kwargs) -> Tensor:
    """Mirrors ``torch.argsort(input, dim=-1, descending=False, *, stable=False)`` (always
    stable in ember)."""
    return _argsort(input, *_sort_args("argsort", False, input, args, kwargs))


def _argsort_method(self: Tensor, *args, **kwargs) -> Tensor:
    """Mirrors ``Tensor.argsort`` (see ``argsort``)."""
    return _argsort(self, *_sort_args("argsort", True, self, args, kwargs))


def _argsort(input: Tensor, dim: int, descending: bool, stable) -> Tensor:
    _no_complex_order(input, None, _SORT_COMPLEX)
    return batching.tensor(batching.from_values(
        input, _argsort_array, wrap_dim(dim, input._data.ndim), descending))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """Mirrors ``torch.topk``: the ``k`` largest (smallest) values along ``dim`` and their
    indices. ember always returns them sorted."""
    if type(k) is not int or type(dim) is not int:
        k, dim = int_arguments("topk", 2, k=k, dim=dim)
    data = input._data
    if data.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    d = wrap_dim(dim, data.ndim)
    size = data.shape[d] if data.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    _no_complex_order(input, None, " topk does not support complex dtypes on CPU")
    _promote.refuse_wide_input(input, "topk_cpu", empty_too=True)

    def index_fn(data, d):
        order = _argsort_array(data, d, largest)
        return order if data.ndim == 0 else np.take(order, range(k), axis=d)
    index = batching.from_values(input, index_fn, d)
    return return_types.topk(run(TOPK, input, index, d, data.shape))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """Mirrors ``torch.kthvalue``: the ``k``-th smallest value along ``dim`` (1-based) and
    its index; nan counts as the largest."""
    if type(k) is not int or type(dim) is not int:
        k, dim = int_arguments("kthvalue", 2, k=k, dim=dim)
    _no_bool_kernel("kthvalue", input)
    _no_complex_order(input, "kthvalue_cpu", empty_too=_reduced_dim_nonempty(input, dim))
    data = input._data
    d = wrap_dim(dim, data.ndim)
    size = data.shape[d] if data.ndim else 1
    if size and not 1 <= k <= size:  # an empty dim is refused with its own error, later
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")

    def index_fn(data, d):
        if data.ndim == 0:
            return np.zeros((), np.int64)
        return np.take(_argsort_array(data, d, False), [k - 1], axis=d)
    return _with_indices(KTHVALUE, "kthvalue", input, d, keepdim, index_fn)


# NOTE [Method argument positions] (ember/_ops/shape.py)
def _topk_method(self: Tensor, k: int, dim: int = -1, largest: bool = True,
                 sorted: bool = True):
    """Mirrors ``Tensor.topk``."""
    if type(k) is not int or type(dim) is not int:
        k, dim = int_arguments("topk", 1, k=k, dim=dim)
    return topk(self, k, dim, largest, sorted)


def _kthvalue_method(self: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """Mirrors ``Tensor.kthvalue``."""
    if type(k) is not int or type(dim) is not int:
        k, dim = int_arguments("kthvalue", 1, k=k, dim=dim)
    return kthvalue(self, k, dim, keepdim)


# ---- unique, bincount, histc ----------------------------------------------------------


def _unique_formula(name: str):
    def formula(grads, *args):
        raise NotImplementedError(f"the derivative for '{name}' is not implemented.")
    return formula


def _unique_forward(xp, self, dim):
    if dim is None:
        values, inverse, counts = xp.unique(self.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(self.shape)
    else:
        values, inverse, counts = xp.unique(self, return_inverse=True, return_counts=True,
                                            axis=dim)
        inverse = inverse.reshape(-1)
    return values, inverse.astype(np.int64), counts.astype(np.int64)


UNIQUE = defop("_unique2", node="Unique2Backward0", kind=KEEP, multi=1,
               forward=_unique_forward, backward=_unique_formula("_unique2"),
               jvp=not_supported("_unique2"))
UNIQUE_DIM = defop("unique_dim", node="UniqueDimBackward0", kind=KEEP, multi=1,
                   forward=_unique_forward, backward=_unique_formula("unique_dim"),
                   jvp=not_supported("unique_dim"))


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """Mirrors ``torch.unique``: the distinct values (or slices along ``dim``), with the
    inverse indices and counts when asked; every nan is distinct. ember always sorts."""
    tensor_argument("_unique2", "input", input, 1)
    if type(sorted) is not bool or type(return_inverse) is not bool or \
            type(return_counts) is not bool:
        for arg, value in (("sorted", sorted), ("return_inverse", return_inverse),
                           ("return_counts", return_counts)):
            bool_argument(value, "_unique2" if dim is None else "unique_dim", arg, None)
    data = input._data
    batching.refuse_dynamic("_unique2" if dim is None else "unique_dim", input)
    if data.dtype.kind == "c":  # even an empty one: torch's unique refuses complex first
        raise NotImplementedError(f'"{"unique" if dim is None else "unique_dim"}" not '
                                  f"implemented for '{_dtype.scalar_type_name(input.dtype)}'")
    if dim is None:
        values, inverse, counts = run(UNIQUE, input, None)
    else:
        values, inverse, counts = run(UNIQUE_DIM, input, unique_dim(data, dim))
    return unique_outputs(values, inverse, counts, return_inverse, return_counts)


def unique_dim(data, dim: int) -> int:
    """The dim of a unique over slices, with torch's refusals: a 0-d tensor has no dim, and
    an empty tensor can only be split along its one zero-sized dim."""
    if data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = wrap_dim(dim, data.ndim)
    if data.size == 0:
        if data.shape.count(0) > 1:
            raise RuntimeError("Number of zero sized dimensions is more than one, so unique "
                               "cannot be applied ")
        if data.shape[dim]:
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so "
                               "unique cannot be applied")
    return dim


def unique_outputs(values: Tensor, inverse: Tensor, counts: Tensor, return_inverse: bool,
                   return_counts: bool):
    """What torch's ``unique`` functions return: the values alone, or a tuple with the
    inverse indices and/or counts asked for."""
    if not return_inverse and not return_counts:
        return values
    out = (values,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (counts,)
    return out


@batching.samplewise
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Mirrors ``torch.bincount``: counts of each value of a 1-d non-negative integer
    tensor (int64), or sums of ``weights`` (their dtype when floating, else float64)."""
    tensor_argument("bincount", "input", input, 1)
    if weights is not None:
        tensor_argument("bincount", "weights", weights, 2)
    data = input._data
    if data.dtype.kind not in "iu" or data.dtype.itemsize > 1 and data.dtype.kind == "u":
        raise NotImplementedError(
            f'"bincount_cpu" not implemented for \'{_dtype.scalar_type_name(input.dtype)}\'')
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if data.ndim != 1 or (data.size and data.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return make(np.bincount(data, minlength=minlength).astype(np.int64))
    w = weights._data
    if w.ndim != 1 or w.shape[0] != data.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if w.dtype.kind != "f":  # integer or bool weights sum in float64
        weights = weights.to(_dtype.float64)
    return run(BINCOUNT_WEIGHTED, input, weights, minlength)


# torch records a node for weights that require grad, but cannot differentiate it.
BINCOUNT_WEIGHTED = defop(
    "bincount", node="NotImplemented", nin=2, kind=KEEP, promote=(1,),
    forward=lambda xp, self, weights, minlength: xp.bincount(
        self, weights.astype(xp.float64), minlength).astype(weights.dtype),
    backward=(None, not_implemented("bincount")))


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002
    """Mirrors ``torch.histc``: a histogram of ``bins`` equal bins over [min, max] (the
    data's range when both are 0); values outside are ignored, max falls in the last bin."""
    data = input._data
    if data.dtype.kind != "f" and input.dtype is not _dtype.bfloat16:
        # torch's first kernel to meet the dtype: the range's aminmax for complex, the
        # bins' linspace for bool, the histogram for the integers
        kernel = {"c": "aminmax_cpu", "b": "linspace_cpu"}.get(data.dtype.kind,
                                                              "histogram_cpu")
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{_dtype.scalar_type_name(input.dtype)}\'')
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           "dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    flat = data.reshape(-1).astype(np.float64)
    flat = flat[(flat >= lo) & (flat <= hi)]
    index = np.floor((flat - lo) * bins / (hi - lo)).astype(np.int64)
    index[index == bins] = bins - 1
    return make(np.bincount(index, minlength=bins).astype(data.dtype))


# ---- softmax, log_softmax, logcumsumexp, aminmax, msort, nanmedian, mode, dist ----------


_return_type("frexp", ("mantissa", "exponent"))
_return_type("aminmax", ("min", "max"))
_return_type("nanmedian")
_return_type("mode")


def _in_float32_if_half(fn):
    """``fn`` computed in float32 for float16/bfloat16 input and rounded once, as torch's
    CPU kernels accumulate half precision in float."""
    def forward(xp, x, *params):
        if x.dtype.itemsize == 2 and x.dtype.kind not in "iu":
            return fn(xp, x.astype(np.float32), *params).astype(x.dtype)
        return fn(xp, x, *params)
    return forward


def _softmax(xp, x, dim):
    if x.size == 0:
        return x.copy()
    if reduced_float(x.dtype):
        return _softmax_half(x, dim)
    # Shifting by the largest element keeps exp finite; an infinite largest element gives
    # torch's nan.
    shifted = xp.exp(x - xp.amax(x, axis=dim, keepdims=True))
    # torch's result is C-ordered whatever the input's layout
    return _c_ordered(xp, shifted / xp.add.reduce(shifted, axis=dim, keepdims=True))


def _log_softmax(xp, x, dim):
    if x.size == 0:
        return x.copy()
    if dim == x.ndim - 1 and x.ndim == 2 and x.dtype in (np.float32, np.float64) \
            and x.flags.c_contiguous:
        # rows (the classifier's case): the row maximum by the ufunc's own reduce, the row
        # sums by one product with ones, the rest in place on the one fresh array
        shifted = x - np.maximum.reduce(x, axis=1)[:, None]
        # each row's total is at least 1 (its maximum's term) or nan: no log of 0
        total = np.exp(shifted) @ ones_vector(x.shape[1], x.dtype)
        np.log(total, out=total)
        shifted -= total[:, None]
        return shifted
    if reduced_float(x.dtype):
        return _log_softmax_half(x, dim)
    shifted = x - xp.amax(x, axis=dim, keepdims=True)
    with np.errstate(divide="ignore"):
        return _c_ordered(xp, shifted - xp.log(xp.add.reduce(xp.exp(shifted), axis=dim,
                                                             keepdims=True)))


# NOTE [Softmax of float16/bfloat16]
# torch's CPU kernels compute softmax and log_softmax of float16/bfloat16 (and their
# backwards) in float32 from the half inputs, but each kernel rounds some intermediates to
# the half type and sums in its own order; all was learnt by experiment against torch 2.13
# (AVX2 kernels), comparing candidate formulas with its results bit for bit on random
# inputs. With ``d = x - max`` and ``s`` the sum along ``dim``, all in float32:
# - log_softmax: the last dim's kernel rounds ``s`` to the half type and then ``log(s)``
#   too, and gives ``d - log(s)``; along another dim nothing is rounded before the result.
# - softmax: the last dim's kernel gives ``exp(d) * (1 / s)``; along another dim
#   ``exp(d) / s``, except where its scalar loop runs (_softmax_scalar_positions), which
#   divides ``exp(d)`` rounded to the half type.
# - backwards: softmax's ``result * (grad - s)`` with ``s = sum(grad * result)``;
#   log_softmax's ``grad - exp(result) * s`` with ``s = sum(grad)``, as one fused
#   multiply-add. The half inputs' products are exact in float32.
# - The sums: along the last dim, in the lanes of torch's vectors (_row_sum,
#   _softmax_row_sum); along another dim, element after element (those kernels vectorise
#   across the other dims).
# Left over: torch's own exp and log are within 1 ulp of the correctly rounded float32
# values ember computes (through float64), and its softmax kernels use a faster exp, so
# about 1e-5 of the results (softmax's and the backwards' most) differ from torch's by 1 ulp
# of the half type. torch dispatching to its AVX-512 kernels (16 lanes) sums along the last
# dim in another order, which can change a last bit at a similar rate.
_LANES = 8  # float32 lanes in a vector of torch's AVX2 kernels


def _tree_lanes(acc):
    """The sum of a vector's lanes (the last axis) as torch's horizontal add takes it: the
    upper half onto the lower, until one lane is left (keeping the axis)."""
    width = acc.shape[-1]
    while width > 1:
        width //= 2
        acc = acc[..., :width] + acc[..., width:2 * width]
    return acc


def _sum_in_order(v, axis: int):
    """The sum along ``axis``, element after element (keeping the axis): NumPy's reductions
    may add in pairs, and its accumulate along an outer axis is slow."""
    rows = np.moveaxis(v, axis, 0)
    total = rows[0].copy()
    for row in rows[1:]:
        total += row
    return np.expand_dims(total, axis)


def _sum_vectors(v, width: int):
    """Lane-wise sum of the whole ``width``-lane vectors of the last axis, one after the
    other: (..., width)."""
    whole = v.shape[-1] // width * width
    chunks = v[..., :whole].reshape(v.shape[:-1] + (whole // width, width))
    return _sum_in_order(chunks, -2)[..., 0, :]


def _row_sum(v):
    """Sums of the last axis of float32 ``v`` (keeping it) as torch's last-dim kernels of a
    half type take them: vectors of 2 * _LANES half values read into two float32 vectors and
    added lane-wise (a partial last one into its first lanes), the two vectors added, then
    their lanes; a row shorter than one such vector has its two vectors added lane by lane,
    then the lanes in order."""
    n = v.shape[-1]
    width = 2 * _LANES
    if n < width:
        lanes = v[..., :_LANES].copy()
        if n > _LANES:
            lanes[..., :n - _LANES] += v[..., _LANES:]
        return _sum_in_order(lanes, -1)
    acc = _sum_vectors(v, width)
    rest = n % width
    if rest:
        acc[..., :rest] += v[..., n - rest:]
    return _tree_lanes(acc[..., :_LANES] + acc[..., _LANES:])


def _softmax_row_sum(v):
    """Sums of the last axis of float32 ``v`` (keeping it) as torch's last-dim softmax of a
    half type takes them, in float32 vectors: the whole vectors added lane-wise, their
    lanes, then the remaining elements in order."""
    rest = v.shape[-1] % _LANES
    if rest == v.shape[-1]:
        return _sum_in_order(v, -1)
    total = _tree_lanes(_sum_vectors(v, _LANES))
    for i in builtins.range(v.shape[-1] - rest, v.shape[-1]):
        total = total + v[..., i:i + 1]
    return total


def _along(v, dim: int, last: bool):
    """The sum along ``dim`` in the order of torch's half-type kernels, keeping the dim."""
    return _row_sum(v) if last else _sum_in_order(v, dim)


def _kernel_layout(x, dim):
    """``(x, dim, last)`` as torch's kernels take them: C-ordered, a 0-d ``x`` a row of one
    element; ``last``: whether torch runs its last dim's kernel."""
    if x.ndim == 0:
        return x.reshape(1), 0, True
    return np.ascontiguousarray(x), dim, dim == x.ndim - 1


def _softmax_scalar_positions(outer: int, inner: int):
    """Where torch's softmax of a half type along a dim other than the last computes in its
    scalar loop, as an (outer, 1, inner) mask. The kernel splits the outer * inner positions
    into one equal run per thread (torch's thread count, ember.get_num_threads), each run
    into its parts in one outer row, and takes each part in vectors of 2 * _LANES from its
    start: the remainder runs the scalar loop."""
    from ember._runtime import get_num_threads  # loads after the op tables

    width = 2 * _LANES
    if inner < width:  # no part holds a whole vector
        return np.ones((outer, 1, inner), bool)
    total = outer * inner
    run = -(-total // builtins.min(get_num_threads(), total))
    starts = np.union1d(np.arange(0, total, run), np.arange(0, total, inner))
    lengths = np.diff(np.append(starts, total))
    vector_ends = starts + lengths // width * width
    return (np.arange(total) >= np.repeat(vector_ends, lengths)).reshape(outer, 1, inner)


def _softmax_half(x, dim):
    """softmax of a float16/bfloat16 array as torch's kernels compute it (NOTE [Softmax of
    float16/bfloat16])."""
    shape = x.shape
    x, dim, last = _kernel_layout(x, dim)
    x32 = x.astype(np.float32)
    e = float32_of(np.exp, x32 - x32.max(axis=dim, keepdims=True))
    if last:
        return (e * (np.float32(1) / _softmax_row_sum(e))).astype(x.dtype).reshape(shape)
    scalar = _softmax_scalar_positions(math.prod(shape[:dim]), math.prod(shape[dim + 1:]))
    scalar = scalar.reshape(shape[:dim] + (1,) + shape[dim + 1:])
    rounded = np.where(scalar, e.astype(x.dtype).astype(np.float32), e)
    return (rounded / _sum_in_order(e, dim)).astype(x.dtype)


def _log_softmax_half(x, dim):
    """log_softmax of a float16/bfloat16 array as torch's kernels compute it (NOTE [Softmax
    of float16/bfloat16])."""
    shape = x.shape
    x, dim, last = _kernel_layout(x, dim)
    x32 = x.astype(np.float32)
    shifted = x32 - x32.max(axis=dim, keepdims=True)
    total = _along(float32_of(np.exp, shifted), dim, last)
    if last:
        log_total = float32_of(np.log, total.astype(x.dtype)).astype(x.dtype).astype(np.float32)
    else:
        log_total = float32_of(np.log, total)
    return (shifted - log_total).astype(x.dtype).reshape(shape)


def _half_backward(kernel, grad, result, dim):
    """The gradient of a half type's softmax or log_softmax: ``kernel(grad, result, dim,
    last)`` on float32 arrays rounded once (NOTE [Softmax of float16/bfloat16])."""
    g, _, _ = _kernel_layout(grad.astype(np.float32), dim)
    r, dim, last = _kernel_layout(result.astype(np.float32), dim)
    return kernel(g, r, dim, last).astype(result.dtype).reshape(result.shape)


def _softmax_grad_kernel(grad, result, dim, last):
    return result * (grad - _along(grad * result, dim, last))


def _log_softmax_grad_kernel(grad, result, dim, last):
    # one rounding, as a fused multiply-add: the float64 product of float32 values is exact
    return (grad - float32_of(np.exp, result) * _along(grad, dim, last).astype(np.float64)).astype(
        np.float32)


# NOTE [Softmax backward data]: the gradients of softmax and log_softmax are ops of their own
# (torch's ``_softmax_backward_data`` and ``_log_softmax_backward_data``) on the incoming
# gradient and the result, so that a graph of them (``create_graph``) has torch's nodes
# (``SoftmaxBackwardDataBackward0``...) and is differentiable again through their formulas.
# The forwards compute on arrays in the result's dtype, the half types by torch's kernels.
def _softmax_backward_data(xp, grad_output, output, dim):
    grad_output = grad_output.astype(output.dtype, copy=False)
    if reduced_float(output.dtype):
        return _half_backward(_softmax_grad_kernel, grad_output, output, dim)
    product = grad_output * output
    return output * (grad_output - np.add.reduce(product, dim, None, None, True))


def _softmax_backward_data_grads(grad, grad_output, output, dim):
    # symmetric in grad and grad_output: d<c, y (g - sum(g y))>/dg = y (c - sum(c y))
    grad = grad.to(output.dtype)
    return (run(SOFTMAX_BACKWARD_DATA, grad, output, dim),
            grad * grad_output - grad * (grad_output * output).sum(dim, keepdim=True)
            - grad_output * (grad * output).sum(dim, keepdim=True))


SOFTMAX_BACKWARD_DATA = defop(
    "_softmax_backward_data", node="SoftmaxBackwardDataBackward0", nin=2, kind=KEEP,
    promote=(1,), save=(0, 1), forward=_softmax_backward_data,
    backward=(lambda grad, grad_output, output, dim: _softmax_backward_data_grads(
                  grad, grad_output, output, dim)[0],
              lambda grad, grad_output, output, dim: _softmax_backward_data_grads(
                  grad, grad_output, output, dim)[1]))


def _softmax_grad(grad, self, dim, result):
    if first_order():
        return make(_softmax_backward_data(np, grad._data, result._data, dim))
    return run(SOFTMAX_BACKWARD_DATA, grad, result, dim)


SOFTMAX = defop(
    "softmax", node="SoftmaxBackward0", kind=KEEP, save=("result",),
    forward=_softmax, backward=_softmax_grad)


def _log_softmax_backward_data(xp, grad_output, output, dim):
    grad_output = grad_output.astype(output.dtype, copy=False)
    if reduced_float(output.dtype):
        return _half_backward(_log_softmax_grad_kernel, grad_output, output, dim)
    total = np.add.reduce(grad_output, dim, None, None, True)
    e = np.exp(output)
    e *= total
    return np.subtract(grad_output, e)


LOG_SOFTMAX_BACKWARD_DATA = defop(
    "_log_softmax_backward_data", node="LogSoftmaxBackwardDataBackward0", nin=2, kind=KEEP,
    promote=(1,), save=(0, 1), forward=_log_softmax_backward_data,
    backward=(lambda grad, grad_output, output, dim: grad.to(output.dtype) - (
                  grad.to(output.dtype) * output.exp()).sum(dim, keepdim=True),
              lambda grad, grad_output, output, dim: -grad_output.sum(
                  dim, keepdim=True) * output.exp() * grad.to(output.dtype)))


def _log_softmax_grad(grad, self, dim, result):
    if first_order():
        # the op's forward without the op runner around it (most of the cost on a
        # classifier's rows)
        return make(_log_softmax_backward_data(np, grad._data, result._data, dim))
    return run(LOG_SOFTMAX_BACKWARD_DATA, grad, result, dim)


LOG_SOFTMAX = defop(
    "log_softmax", node="LogSoftmaxBackward0", kind=KEEP, save=("result",),
    forward=_log_softmax, backward=_log_softmax_grad)


def softmax_dtype(name: str, dtype) -> None:
    """torch's parser refusal of a ``dtype`` that is none (as its keyword form words it)."""
    if dtype is not None and not isinstance(dtype, _dtype.dtype):
        raise TypeError(f"{name}(): argument 'dtype' must be torch.dtype, not "
                        f"{type(dtype).__name__}")


def _softmax_input(kernel: str, input: Tensor, dim: int, dtype) -> tuple:
    softmax_dtype(kernel, dtype)
    input = _cast_input(input, dtype)
    d = wrap_dim(dim, input._data.ndim)
    if input.dtype.category != _dtype.FLOAT:
        # torch's kernel over the last dim (or a 0-d input), or its general one
        last = "_lastdim" if d == builtins.max(input._data.ndim - 1, 0) else ""
        raise NotImplementedError(f'"{kernel}{last}_kernel_impl" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    return input, (d if input._data.ndim else None)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """Mirrors ``torch.softmax`` / ``Tensor.softmax``: ``exp(x) / sum(exp(x))`` along
    ``dim``, computed stably; ``dtype`` casts the input first."""
    input, d = _softmax_input("softmax", input, dim, dtype)
    return run(SOFTMAX, input, d)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """Mirrors ``torch.log_softmax`` / ``Tensor.log_softmax``: ``x - logsumexp(x)`` along
    ``dim``, computed stably; ``dtype`` casts the input first."""
    input, d = _softmax_input("log_softmax", input, dim, dtype)
    return run(LOG_SOFTMAX, input, d)


def _logcumsumexp(xp, x, dim):
    if x.ndim == 0:
        return x.copy()
    wide = _scan_accumulator(x)
    if wide is not None:  # in torch's accumulation type, rounded once
        return _logcumsumexp(xp, x.astype(wide), dim).astype(x.dtype)
    if x.dtype.kind == "c":
        return _complex_logcumsumexp(xp, x, dim)
    with np.errstate(invalid="ignore"):
        return xp.logaddexp.accumulate(x, axis=dim)


def _complex_logcumsumexp(xp, x, dim):
    # NumPy's logaddexp has no complex loop to accumulate with; logaddexp is associative,
    # so a prefix scan of doubling strides takes log2(n) vectorised steps.
    from ember._ops.pointwise import logaddexp_complex

    out = xp.moveaxis(x, dim, -1).copy()
    n = out.shape[-1]
    stride = 1
    while stride < n:
        out[..., stride:] = logaddexp_complex(xp, out[..., :-stride], out[..., stride:])
        stride *= 2
    return xp.moveaxis(out, -1, dim)


def _logcumsumexp_backward(grad, self, dim, result):
    # d result_j / d self_i = exp(self_i - result_j) for j >= i. The sum over j is taken in
    # log space, the positive and negative parts of ``grad`` apart, so nothing overflows.
    from ember._ops.pointwise import where

    if self._data.ndim == 0:
        return grad

    def reverse_cumulative(t):
        return logcumsumexp(t.flip(dim), dim).flip(dim)

    if self.is_complex():
        # the complex log carries the gradient's sign in its phase: no split is needed
        return (reverse_cumulative(grad.log() - result) + self).exp()

    def log_part(mask, magnitude):
        # -inf where masked out, whatever ``result`` is (-inf - -inf would be nan)
        return where(mask, where(mask, magnitude, 1.0).log() - result, -math.inf)

    positive = log_part(grad > 0, grad)
    negative = log_part(grad < 0, -grad)
    return (reverse_cumulative(positive) + self).exp() - (
        reverse_cumulative(negative) + self).exp()


LOGCUMSUMEXP = defop("logcumsumexp", node="LogcumsumexpBackward0", kind=KEEP,
                     save=(0, "result"), forward=_in_float32_if_half(_logcumsumexp),
                     backward=_logcumsumexp_backward)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """Mirrors ``torch.logcumsumexp``: ``log(cumsum(exp(input)))`` along ``dim``, stably."""
    if type(dim) is not int:
        dim = int_argument(dim, "logcumsumexp", "dim", 2)
    d = wrap_dim(dim, input._data.ndim)
    if input.dtype.category < _dtype.FLOAT:
        raise NotImplementedError('"logcumsumexp_out_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(input.dtype)}'")
    return run(LOGCUMSUMEXP, input, d)


def _aminmax_backward(grads, self, dims, keepdim, result):
    total = None
    for grad, extreme in zip(grads, result):
        if grad is not None:
            part = _scale_grad_by_count(grad, self, dims, keepdim, extreme)
            total = part if total is None else total + part
    return total


AMINMAX = defop(
    "aminmax", node="AminmaxBackward0", kind=KEEP, multi=True, save=(0, "result"),
    forward=lambda xp, self, dims, keepdim: (xp.amin(self, axis=dims, keepdims=keepdim),
                                             xp.amax(self, axis=dims, keepdims=keepdim)),
    backward=_aminmax_backward)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """Mirrors ``torch.aminmax``: ``torch.return_types.aminmax(min, max)`` over ``dim`` (or
    all elements)."""
    data = input._data
    if dim is None:
        if not data.size:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        dims = None
    else:
        d = wrap_dim(dim, data.ndim)
        if data.ndim and data.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        dims = (d,) if data.ndim else None
    _no_complex_order(input, "aminmax_cpu", empty_too=True)  # its empty dims refused above
    return return_types.aminmax(run(AMINMAX, input, dims, keepdim))


def msort(input: Tensor) -> Tensor:
    """Mirrors ``torch.msort``: ``sort(input, dim=0).values``."""
    return sort(input, 0).values


def _nanmedian_all(xp, self):
    flat = xp.sort(self.reshape(-1))  # nan sorts last
    count = flat.size - int(_isnan(flat).sum())
    if count == 0:
        return xp.asarray(xp.nan, self.dtype)
    return flat[(count - 1) // 2].copy()


NANMEDIAN_ALL = defop("nanmedian", node="NanmedianBackward0", kind=KEEP, save=(0, "result"),
                      forward=_nanmedian_all,
                      backward=lambda grad, self, result: _evenly_distribute(grad, self, result))
NANMEDIAN_DIM = _selecting_op("nanmedian", "NanmedianBackward1")


def _nanmedian_index(data, dim: int):
    """The index of the lower median of the non-nan values along ``dim`` (0 where a slice
    is all nan, as torch)."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    order = np.argsort(data, axis=dim, kind="stable")  # nan sorts last
    count = data.shape[dim] - _isnan(data).sum(axis=dim, keepdims=True)
    position = np.maximum(count - 1, 0) // 2
    index = np.take_along_axis(order, position, dim)
    return np.where(count == 0, 0, index).astype(np.int64, copy=False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """Mirrors ``torch.nanmedian``: ``median`` of the non-nan values (nan only when all are
    nan). With ``dim``, a ``return_types.nanmedian`` with indices."""
    if input._data.dtype.kind == "b":  # torch's message names median's kernels
        raise NotImplementedError(
            f'"{"median_cpu" if dim is None else "median_out"}" not implemented for \'Bool\'')
    _no_complex_order(input, "median_cpu" if dim is None else "median_out",
                      empty_too=dim is not None and _reduced_dim_nonempty(input, dim))
    if dim is None:
        if input._data.dtype.kind not in "fc":
            _check_nonempty("nanmedian", input._data, None)
        return run(NANMEDIAN_ALL, input)
    # torch's empty-dim message names median's kernel
    _check_nonempty("median", input._data, (wrap_dim(dim, input._data.ndim),)
                    if input._data.ndim else None, IndexError)
    return _with_indices(NANMEDIAN_DIM, "nanmedian", input, dim, keepdim, _nanmedian_index)


MODE = _selecting_op("mode", "ModeBackward0")


def _mode_index(data, dim: int):
    """The index of the most frequent value along ``dim`` (the smallest such value, at its
    last position, as torch; each nan counts once)."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    rows = np.moveaxis(data, dim, -1)
    n = rows.shape[-1]  # not 0: the caller refuses an empty dim
    ordered = np.sort(rows, axis=-1)
    starts = np.ones(ordered.shape, bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]  # nan != nan: runs of one
    position = np.arange(n)
    run_start = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    length = position - run_start + 1
    # argmax picks the first run to reach the longest length: the smallest such value.
    value = np.take_along_axis(ordered, np.argmax(length, axis=-1)[..., None], -1)
    same = (rows == value) | (_isnan(rows) & _isnan(value))
    last = n - 1 - np.argmax(same[..., ::-1], axis=-1)
    return np.moveaxis(last[..., None], -1, dim).astype(np.int64, copy=False)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """Mirrors ``torch.mode``: the most frequent value along ``dim`` (the smallest on a tie)
    and the index of its last occurrence, as a ``return_types.mode``."""
    _no_complex_order(input, "mode_cpu")
    return _with_indices(MODE, "mode", input, dim, keepdim, _mode_index)


def _dist_backward(grad, self, other, p, result):
    return _norm_backward(grad, self - other, p, None, False, result)


DIST = defop("dist", node="DistBackward0", nin=2, save=(0, 1, "result"),
             forward=lambda xp, self, other, p: _vector_norm(xp, self - other, p, None, False),
             backward=(_dist_backward,
                       lambda grad, self, other, p, result: -_dist_backward(
                           grad, self, other, p, result)))


def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """Mirrors ``torch.dist``: the ``p``-norm of ``input - other`` (broadcast, in their
    promoted dtype)."""
    from ember._ops._promote import result_type
    from ember._ops.pointwise import _tensors_only

    _tensors_only("dist", input=input, other=other)
    if input.dtype is _dtype.bool_ or other.dtype is _dtype.bool_:
        input - other  # noqa: B018 - torch's error for subtracting bools
    promoted = result_type(input, other)
    if promoted.category < _dtype.FLOAT:
        raise RuntimeError("norm(): input dtype should be either floating point or complex. "
                           f"Got {_dtype.scalar_type_name(promoted)} instead.")
    p = float(p)
    try:
        shape = np.broadcast_shapes(input._data.shape, other._data.shape)
    except ValueError:  # ``run`` raises torch's broadcast error
        shape = ()
    if (p < 0 or math.isinf(p)) and 0 in shape:
        shown = int(p) if math.isfinite(p) and p == int(p) else p
        raise RuntimeError(f"linalg.vector_norm cannot compute the {shown} norm on an empty "
                           "tensor because the operation does not have an identity")
    return run(DIST, input, other, p)


attach({
    "softmax": softmax, "log_softmax": log_softmax,
    "logcumsumexp": ints_method(logcumsumexp, "dim"),
    "aminmax": aminmax, "msort": msort, "nanmedian": nanmedian, "mode": mode, "dist": dist,
})

attach({
    "sum": sum, "mean": mean, "prod": prod, "max": max, "min": min, "amax": amax,
    "amin": amin, "argmax": argmax, "argmin": argmin, "var": var, "std": std, "norm": norm,
    "logsumexp": logsumexp, "cumsum": ints_method(cumsum, "dim"),
    "cumprod": ints_method(cumprod, "dim"), "cummax": ints_method(cummax, "dim"),
    "cummin": ints_method(cummin, "dim"), "all": all, "any": any, "count_nonzero": count_nonzero,
    "median": median, "nanmean": nanmean, "nansum": nansum, "sort": _sort_method,
    "argsort": _argsort_method, "topk": _topk_method, "kthvalue": _kthvalue_method,
    "unique": unique,
    "bincount": method_taking_tensor(bincount, "weights"), "histc": histc,
})

__all__ += ["softmax", "log_softmax", "logcumsumexp", "aminmax", "msort", "nanmedian", "mode",
            "dist"]


# ---- logdet, diff, quantile/nanquantile, cov/corrcoef, trapezoid, renorm, searchsorted,
# ---- bucketize, isin, unravel_index ------------------------------------------------------


def logdet(input: Tensor) -> Tensor:
    """Mirrors ``torch.logdet``: ``log(det(input))`` of (batches of) square matrices, from
    ``linalg.slogdet``; a real matrix with a negative determinant gives nan (torch's
    WhereBackward0 node), a complex one ``log(sign) + logabsdet``."""
    tensor_argument("logdet", "input", input, 1)
    from ember import linalg
    from ember._ops.pointwise import where

    shape = input._data.shape  # torch checks the shape, then the dtype
    if len(shape) < 2:
        raise RuntimeError("logdet: The input tensor A must have at least 2 dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(f"logdet: A must be batches of square matrices, but they are "
                           f"{shape[-2]} by {shape[-1]} matrices")
    if input.dtype.category < _dtype.FLOAT:
        raise RuntimeError("logdet: Expected a floating point or complex tensor as input. "
                           f"Got {_dtype.scalar_type_name(input.dtype)}")
    if input._data.dtype.itemsize == 2:
        raise RuntimeError("logdet: Low precision dtypes not supported. "
                           f"Got {_dtype.scalar_type_name(input.dtype)}")
    sign, logabsdet = linalg.slogdet(input)
    if input.is_complex():
        # ember's slogdet gives its sign no gradient and its logabsdet the complex dtype
        # (torch: real), so the phase comes from det and the real part is taken.
        return linalg.det(input).angle() * 1j + logabsdet.real
    return where(sign < 0, math.nan, logabsdet)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.diff``: the ``n``-th forward difference along ``dim``, after joining
    ``prepend`` and ``append`` on that dim (bool tensors use ``!=``, as torch)."""
    from ember._ops.creation import empty_like
    from ember._ops.indexing import COPY
    from ember._ops.shape import cat, narrow

    if type(n) is not int or type(dim) is not int:
        n, dim = int_arguments("diff", 2, n=n, dim=dim)
    ndim = input._data.ndim
    if ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, ndim)
    for extra in (prepend, append):
        if extra is not None and extra._data.ndim != ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
    if prepend is not None or append is not None:
        input = cat([t for t in (prepend, input, append) if t is not None], d)
        if input._data.shape[d] == 0:
            return input  # nothing to difference: torch returns the joined tensor
    if n == 0:
        return run(COPY, empty_like(input), input)  # torch's copy: CopyBackwards
    for _ in range(n):
        size = input._data.shape[d]
        after = narrow(input, d, builtins.min(size, 1), builtins.max(size - 1, 0))
        before = narrow(input, d, 0, builtins.max(size - 1, 0))
        input = after != before if input._data.dtype == bool else after - before
    return input


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_ranks(sorted_data, q, interpolation: str, ignore_nan: bool):
    """Fractional positions of the quantiles in each sorted row (q last), in the input's
    dtype as torch computes them; a row with nan (or all nan, for nanquantile) points at
    its last element, which is nan."""
    n = sorted_data.shape[-1]
    nan = _isnan(sorted_data)
    if ignore_nan:
        count = (n - nan.sum(-1, keepdims=True)).astype(sorted_data.dtype)
        ranks = q * (count - 1)
        ranks = np.where(count == 0, n - 1, ranks)
    else:
        ranks = q * np.asarray(n - 1, sorted_data.dtype)
        ranks = np.where(nan.any(-1, keepdims=True), n - 1, ranks)
    ranks = ranks.astype(sorted_data.dtype, copy=False)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)  # half to even, as torch's round
    return ranks


def _quantile(name: str, input: Tensor, q, dim, keepdim: bool, interpolation: str,
              ignore_nan: bool) -> Tensor:
    from ember._ops.indexing import take_along_dim
    from ember._ops.pointwise import lerp
    from ember._ops.shape import SQUEEZE_INPLACE_DIM

    data = input._data
    if data.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q._data.dtype != data.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        q_shape, q_values = q._data.shape, q._data.reshape(-1)
    else:
        q_shape, q_values = (), np.asarray([q], data.dtype)
    if data.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if isinstance(q, Tensor):
        if not ((q_values >= 0) & (q_values <= 1)).all():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    elif not 0 <= q <= 1:
        raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
    if dim is None:
        rows = input.reshape(-1)
        rest = (1,) * data.ndim if keepdim else ()
    else:
        d = wrap_dim(dim, data.ndim)
        rows = input.movedim(d, -1) if data.ndim else input.reshape(1)
        rest = data.shape[:d] + ((1,) if keepdim else ()) + data.shape[d + 1:] if data.ndim \
            else ()
    ordered = rows.sort(-1).values
    ranks = _quantile_ranks(ordered._data, q_values.astype(data.dtype), interpolation,
                            ignore_nan)
    below = ranks.astype(np.int64)
    out = take_along_dim(ordered, make(below), -1)
    if interpolation in ("linear", "midpoint"):
        above = take_along_dim(ordered, make(np.ceil(ranks).astype(np.int64)), -1)
        weights = np.full_like(ranks, 0.5) if interpolation == "midpoint" else (
            ranks - below).astype(ranks.dtype)
        out = lerp(out, above, make(weights))
    # q's dim goes first, as torch; its last step is an in-place squeeze (SqueezeBackward4)
    out = out.movedim(-1, 0).reshape(q_shape + rest + (1,))
    return run(SQUEEZE_INPLACE_DIM, out, (out._data.ndim - 1,), out._data.shape)


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """Mirrors ``torch.quantile``: the ``q``-quantiles (a number or a 0-/1-D tensor of
    ``input``'s dtype) along ``dim`` (all elements when None); q's dim comes first. Any nan
    in a row gives nan."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """Mirrors ``torch.nanquantile``: ``quantile`` of the non-nan values of each row (nan
    only where a row is all nan)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, True)


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.cov``: the covariance matrix of the variables in ``input``'s rows
    (observations in columns), with integer frequency weights ``fweights`` and
    observation weights ``aweights``; a 0-d result for one variable."""
    tensor_argument("cov", "input", input, 1)
    data = input._data
    if data.ndim > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {data.ndim} dimensions")
    if data.dtype.kind == "b":
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.reshape(1, -1) if data.ndim < 2 else input
    observations = x._data.shape[1]
    weights = None
    for label, w in (("fweights", fweights), ("aweights", aweights)):
        if w is None:
            continue
        wd = w._data
        if wd.ndim > 1:
            raise RuntimeError(f"cov(): expected {label} to have one or fewer dimensions but "
                               f"got {label} with {wd.ndim} dimensions")
        if wd.size != observations:
            raise RuntimeError(f"cov(): expected {label} to have the same numel as there are "
                               f"observations in the input but got {wd.size} != "
                               f"{observations}")
        if label == "fweights" and wd.dtype.kind not in "biu":
            raise RuntimeError("cov(): expected fweights to have integral dtype but got "
                               f"fweights with {_dtype.scalar_type_name(w.dtype)} dtype")
        if label == "aweights" and wd.dtype.kind not in "fc":
            raise RuntimeError("cov(): expected aweights to have floating point dtype but got "
                               f"aweights with {_dtype.scalar_type_name(w.dtype)} dtype")
        if (wd < 0).any():
            raise RuntimeError(f"cov(): {label} cannot be negative")
        weights = w if weights is None else weights * w
    if x.dtype.category < _dtype.FLOAT:
        x = x.to(_dtype.get_default_dtype())
    if weights is None:
        average = x.mean(1)
        total = observations
        norm_factor = total - correction
    else:
        total = weights.sum()
        average = (x * weights).sum(1) / total
        if aweights is None or correction == 0:
            norm_factor = total - correction
        else:
            norm_factor = total - correction * (weights * aweights).sum() / total
    if (norm_factor <= 0) if not isinstance(norm_factor, Tensor) else bool(
            (norm_factor <= 0)._data):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm_factor = 0 if not isinstance(norm_factor, Tensor) else norm_factor * 0
    centred = x - average.unsqueeze(1)
    scaled = centred if weights is None else centred * weights
    product = scaled @ centred.t().conj()
    with np.errstate(divide="ignore", invalid="ignore"):
        return (product / norm_factor).squeeze()


def corrcoef(input: Tensor) -> Tensor:
    """Mirrors ``torch.corrcoef``: Pearson's correlation coefficients of the variables in
    ``input``'s rows, clipped to [-1, 1] (real and imaginary parts apart for complex)."""
    tensor_argument("corrcoef", "input", input, 1)
    from ember._ops.pointwise import complex as make_complex

    if input._data.ndim > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got "
                           f"an input with {input._data.ndim} dimensions")
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    d = c.diagonal()
    if d.is_complex():
        d = d.real
    stddev = d.sqrt()
    c = c / stddev.unsqueeze(1)
    c = c / stddev.unsqueeze(0)
    if c.is_complex():
        return make_complex(c.real.clip(-1, 1), c.imag.clip(-1, 1))
    return c.clip(-1, 1)


# mul/div's Scalar overloads, whose nodes are MulBackward1 / DivBackward1 (``*`` between
# tensors records MulBackward0): torch's trapezoid rules, losses and attention scale by a
# number through them.
MUL_SCALAR = defop("mul", node="MulBackward1", promote=(0, 1),
                    forward=lambda xp, self, other: xp.multiply(self, other),
                    backward=lambda grad, self, other: grad * other)
DIV_SCALAR = defop("div", node="DivBackward1", promote=(0, 1),
                    forward=lambda xp, self, other: xp.true_divide(self, other),
                    backward=lambda grad, self, other: grad / other)


def _trapezoid_spacing(y: Tensor, x: Tensor, d: int) -> Tensor:
    xd = x._data
    if xd.ndim == 1:
        if xd.shape[0] != y._data.shape[d]:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y._data.ndim
        shape[d] = -1
        return diff(x).reshape(shape)
    return diff(x, dim=d)


def _pairs_of(y: Tensor, d: int) -> Tensor:
    from ember._ops.shape import narrow

    length = builtins.max(y._data.shape[d] - 1, 0)
    return narrow(y, d, builtins.min(y._data.shape[d], 1), length) + narrow(y, d, 0, length)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Mirrors ``torch.trapezoid``: the trapezoidal rule along ``dim``, at sample points
    ``x`` (a tensor) or spaced ``dx`` apart (default 1)."""
    tensor_argument("trapezoid", "y", y, 1)
    from ember._ops.creation import zeros

    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments")
    if y._data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if y._data.dtype.kind == "b":
        raise RuntimeError("trapezoid: received a bool input for `y`, but bool is not "
                           "supported")
    d = wrap_dim(dim, y._data.ndim)
    if isinstance(x, Tensor):
        spacing = _trapezoid_spacing(y, x, d)
        if y._data.shape[d] == 0:
            return zeros(y.sum(d).shape, dtype=(y.sum(d) * spacing.sum()).dtype)
        return run(DIV_SCALAR, (spacing * _pairs_of(y, d)).sum(d), 2.0)
    dx = 1 if dx is None and x is None else (x if dx is None else dx)
    if y._data.shape[d] == 0:
        return zeros(y.sum(d).shape, dtype=(y.sum(d) * 0.5).dtype)
    ends = y.select(d, 0) + y.select(d, -1)
    return run(MUL_SCALAR, y.sum(d) - ends * 0.5, dx)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Mirrors ``torch.trapz``, an alias of ``trapezoid``."""
    tensor_argument("trapz", "y", y, 1)
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Mirrors ``torch.cumulative_trapezoid``: the running trapezoidal integral along
    ``dim`` (one element fewer than ``y``), at sample points ``x`` or ``dx`` apart."""
    tensor_argument("cumulative_trapezoid", "y", y, 1)
    if y._data.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, y._data.ndim)
    if isinstance(x, Tensor):
        spacing = _trapezoid_spacing(y, x, d)
        return run(DIV_SCALAR, (spacing * _pairs_of(y, d)).cumsum(d), 2.0)
    dx = 1 if dx is None and x is None else (x if dx is None else dx)
    return (_pairs_of(y, d) * (dx / 2.0)).cumsum(d)


# renorm's scale: sub-tensors whose norm exceeds maxnorm are scaled by maxnorm / (norm + eps)
_RENORM_EPS = 1e-7


def _renorm_forward(xp, self, p, dim, maxnorm):
    dims = tuple(i for i in range(self.ndim) if i != dim)
    with np.errstate(over="ignore"):
        norm = _vector_norm(xp, self, p, dims, True)
    factor = xp.where(norm > maxnorm, maxnorm / (norm + _RENORM_EPS), 1.0)
    return (self * factor.astype(self.dtype, copy=False)).astype(self.dtype, copy=False)


def _renorm_backward(grad, self, p, dim, maxnorm):
    from ember._ops.pointwise import where

    dims = tuple(i for i in range(self._data.ndim) if i != dim)
    norm = self.norm(p, dims, keepdim=True)
    over = norm > maxnorm
    factor = where(over, maxnorm / (norm + _RENORM_EPS), 1.0)
    # the factor also depends on self through the norm, where it is below 1
    slope = where(over, -maxnorm / (norm + _RENORM_EPS) ** 2, 0.0)
    through_norm = (grad * self).sum(dims, keepdim=True) * slope
    return grad * factor + _norm_backward(through_norm, self, p, dims, True, norm)


RENORM = defop("renorm", node="RenormBackward0", kind=KEEP, save=(0,),
               forward=_renorm_forward, backward=_renorm_backward)


def renorm(input: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Mirrors ``torch.renorm``: each slice ``input.select(dim, i)`` whose ``p``-norm
    exceeds ``maxnorm`` is scaled to norm ``maxnorm`` (by ``maxnorm / (norm + 1e-7)``)."""
    ndim = input._data.ndim
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        shown = int(maxnorm) if maxnorm == int(maxnorm) else maxnorm
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {shown}")
    if ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {ndim} dimensions")
    _require_float(input, "linalg.vector_norm: Expected a floating point or complex tensor as "
                          f"input. Got {_dtype.scalar_type_name(input.dtype)}")
    return run(RENORM, input, float(p), wrap_dim(dim, ndim), float(maxnorm))


def _as_array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


@batching.samplewise
def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None,
                 sorter: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.searchsorted``: for each value, the index at which it would be
    inserted into the innermost dim of ``sorted_sequence`` keeping it sorted (after the
    first equal element when ``right`` / ``side='right'``). A 1-D sequence serves every
    value; otherwise the leading dims of sequence and values must agree."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError("torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to "
                               "opposites, got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    values = _as_array(input)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if seq.ndim > 1 and seq.shape[:-1] != values.shape[:-1]:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor "
            f"{list(values.shape)}")
    common = _promote.result_type(sorted_sequence, input)
    if common.category in (_dtype.BOOL, _dtype.COMPLEX) and values.size:
        raise NotImplementedError('"searchsorted_out_cpu" not implemented for '
                                  f"'{_dtype.scalar_type_name(common)}'")
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, -1)
    index = _binary_search(seq, values, right)
    return make(index.astype(np.int32 if out_int32 else np.int64, copy=False))


def _binary_search(seq, values, right: bool):
    """torch's binary search, all values at once: the first position whose element is >=
    (``right``: >) the value, halving [lo, hi) as torch does. NumPy's searchsorted orders nan
    last; torch's comparisons are false for nan, so a nan in the sequence sends the search
    right (searchsorted([1, nan], 2) is 2, not 1), and an unsorted sequence gives torch's
    answer too."""
    n = seq.shape[-1]
    if seq.ndim == 1:
        with np.errstate(invalid="ignore"):
            # false for a nan too (the first element is compared with itself for n == 1)
            ordered = bool((seq[1:] >= seq[:-1]).all() and (seq[:1] == seq[:1]).all())
        if ordered:  # every binary search agrees here; NumPy's runs in C
            return np.asarray(np.searchsorted(seq, values, side="right" if right else "left"))
    lo = np.zeros(values.shape, np.int64)
    hi = np.full(values.shape, n, np.int64)
    for _ in range(n.bit_length()):  # each step halves every value's range
        mid = (lo + hi) >> 1
        at = np.minimum(mid, n - 1)
        probe = seq[at] if seq.ndim == 1 else np.take_along_axis(seq, at, -1)
        with np.errstate(invalid="ignore"):
            stop = (probe > values) if right else (probe >= values)
        searching = lo < hi
        lo = np.where(searching & ~stop, mid + 1, lo)
        hi = np.where(searching & stop, mid, hi)
    return lo


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """Mirrors ``torch.bucketize``: ``searchsorted(boundaries, input)`` for 1-D
    ``boundaries``, the bucket of each element of ``input``."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@batching.samplewise
def isin(elements=None, test_elements=None, *, assume_unique: bool = False,
         invert: bool = False, element=None, test_element=None) -> Tensor:
    """Mirrors ``torch.isin``: whether each of ``elements`` occurs in ``test_elements``
    (either may be a number, by keyword named ``element`` or ``test_element`` as in torch);
    ``invert`` gives the opposite."""
    if element is not None or test_element is not None:
        if (element is not None and (elements is not None or isinstance(element, Tensor))) or (
                test_element is not None and (test_elements is not None
                                              or isinstance(test_element, Tensor))):
            raise TypeError("isin() received an invalid combination of arguments")
        elements = element if element is not None else elements
        test_elements = test_element if test_element is not None else test_elements
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            f"isin() received an invalid combination of arguments - got "
            f"({type(elements).__name__}, {type(test_elements).__name__}), but expected one "
            "of:\n * (Tensor elements, Tensor test_elements, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n * (Number element, Tensor "
            "test_elements, *, bool assume_unique = False, bool invert = False, Tensor out = "
            "None)\n * (Tensor elements, Number test_element, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n")
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and t._data.dtype.kind == "c":
            raise RuntimeError("Unsupported input type encountered for isin(): "
                               f"{_dtype.scalar_type_name(t.dtype)}")
    found = np.isin(_as_array(elements), _as_array(test_elements), invert=invert)
    return make(np.asarray(found))


@batching.samplewise
def unravel_index(indices, shape) -> tuple:
    """Mirrors ``torch.unravel_index``: the coordinates in a tensor of ``shape`` of each
    flat index, one int64 tensor per dim (negative indices count from the end)."""
    if not isinstance(indices, Tensor):
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute "
                             "'is_complex'")
    if indices._data.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype!r}".replace("ember.", "torch."))
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if builtins.any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    total = 1
    for s in shape:
        total *= s
    flat = indices._data.astype(np.int64)
    if total:
        flat = np.mod(flat, total)  # torch wraps (a negative index counts from the end)
    coords = []
    for s in reversed(shape):
        coords.append(np.mod(flat, s) if s else flat * 0)
        flat = flat // s if s else flat
    return tuple(make(c) for c in reversed(coords))


attach({
    "logdet": logdet, "diff": ints_method(diff, "n", "dim"), "quantile": quantile,
    "nanquantile": nanquantile,
    "cov": cov, "corrcoef": corrcoef, "renorm": renorm,
})
__all__ += ["logdet", "diff", "quantile", "nanquantile", "cov", "corrcoef", "trapezoid",
            "trapz", "cumulative_trapezoid", "renorm", "searchsorted", "bucketize", "isin",
            "unravel_index"]
