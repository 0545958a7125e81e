"""Shape and view ops: view, reshape, transpose, permute, squeeze, unsqueeze, expand, and
basic indexing. Views share their base's memory and version counter (NOTE [Version
counters], in autograd/graph.py)."""
from __future__ import annotations

import warnings

from ember._backend import ndarray, np
from ember._dtype import legacy_type_name
from ember._ops.registry import KEEP, SAME, attach, defop, run
from ember._tensor import Tensor, wrap_dim


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one -1 in ``shape`` with torch's errors."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    known = 1
    infer = None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _viewable(data: ndarray, shape: tuple):
    """``data`` reshaped without a copy, or None when its strides do not allow it."""
    r = data.reshape(shape)
    if data.size == 0 or np.may_share_memory(r, data):
        return r
    return None


def _view(xp, self, shape, self_shape):
    r = _viewable(self, shape)
    if r is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return r


def _reshape_back(grad, self, shape, self_shape):
    return grad.reshape(self_shape)


VIEW = defop("view", node="ViewBackward0", kind=KEEP, view=True,
             forward=_view, backward=_reshape_back)
UNSAFE_VIEW = defop("_unsafe_view", node="UnsafeViewBackward0", kind=KEEP,
                    forward=lambda xp, self, shape, self_shape: self.reshape(shape),
                    backward=_reshape_back)


def view(self: Tensor, *shape) -> Tensor:
    """Mirrors ``Tensor.view``: a view with a new shape, never a copy."""
    data = self._data
    return run(VIEW, self, infer_shape(shape, data.size), data.shape)


def view_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.view_as``."""
    return view(self, other._data.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.reshape_as``."""
    return reshape(self, other._data.shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """Mirrors ``torch.reshape``: a view when the strides allow, else a copy (recorded as
    torch records it: clone, then ``_unsafe_view``)."""
    data = input._data
    shape = infer_shape(shape, data.size)
    if _viewable(data, shape) is not None:
        return run(VIEW, input, shape, data.shape)
    return run(UNSAFE_VIEW, input.clone(), shape, data.shape)


def _unsafe_view(input: Tensor, shape: tuple) -> Tensor:
    return run(UNSAFE_VIEW, input, shape, input._data.shape)


TRANSPOSE = defop("transpose", node="TransposeBackward0", kind=KEEP, view=True,
                  forward=lambda xp, self, dim0, dim1: (
                      xp.swapaxes(self, dim0, dim1) if self.ndim else self.view()),
                  backward=lambda grad, self, dim0, dim1: grad.transpose(dim0, dim1))
T = defop("t", node="TBackward0", kind=KEEP, view=True,
          forward=lambda xp, self: self.T,
          backward=lambda grad, self: grad.t())
PERMUTE = defop("permute", node="PermuteBackward0", kind=KEEP, view=True,
                forward=lambda xp, self, dims: xp.transpose(self, dims),
                backward=lambda grad, self, dims: grad.permute(
                    tuple(sorted(range(len(dims)), key=dims.__getitem__))))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Mirrors ``torch.transpose``."""
    n = input._data.ndim
    return run(TRANSPOSE, input, wrap_dim(dim0, n), wrap_dim(dim1, n))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Mirrors ``torch.t``: transposes a tensor of at most 2 dims."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return run(T, input)


def permute(input: Tensor, *dims) -> Tensor:
    """Mirrors ``torch.permute``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return run(PERMUTE, input, dims)


def _T(self: Tensor) -> Tensor:
    n = self._data.ndim
    if n != 2:
        warnings.warn(
            "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
            "deprecated and it will throw an error in a future release. Consider `x.mT` to "
            "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` "
            "to reverse the dimensions of a tensor.", UserWarning, stacklevel=2)
    return run(PERMUTE, self, tuple(range(n - 1, -1, -1)))


def _squeeze_back(grad, self, dims, self_shape):
    return grad.reshape(self_shape)


def _squeeze(xp, self, dims, self_shape):
    axes = tuple(d for d in range(self.ndim) if self.shape[d] == 1 and (dims is None or d in dims))
    return xp.squeeze(self, axes)


SQUEEZE = defop("squeeze", node="SqueezeBackward0", kind=KEEP, view=True,
                forward=_squeeze, backward=_squeeze_back)
SQUEEZE_DIM = defop("squeeze", node="SqueezeBackward1", kind=KEEP, view=True,
                    forward=_squeeze, backward=_squeeze_back)
SQUEEZE_DIMS = defop("squeeze", node="SqueezeBackward2", kind=KEEP, view=True,
                     forward=_squeeze, backward=_squeeze_back)
# torch's matmul of a vector by a matrix ends in an in-place squeeze_; its node is this.
SQUEEZE_INPLACE_DIM = defop("squeeze_", node="SqueezeBackward4", kind=KEEP, view=True,
                            forward=_squeeze, backward=_squeeze_back)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.squeeze``: drops size-1 dims (all, one, or a tuple of them)."""
    data = input._data
    n = data.ndim
    if dim is None:
        return run(SQUEEZE, input, None, data.shape)
    if isinstance(dim, int):
        return run(SQUEEZE_DIM, input, (wrap_dim(dim, n),), data.shape)
    return run(SQUEEZE_DIMS, input, tuple(wrap_dim(d, n) for d in dim), data.shape)


UNSQUEEZE = defop("unsqueeze", node="UnsqueezeBackward0", kind=KEEP, view=True,
                  forward=lambda xp, self, dim: xp.expand_dims(self, dim),
                  backward=lambda grad, self, dim: grad.squeeze(dim))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Mirrors ``torch.unsqueeze``."""
    return run(UNSQUEEZE, input, wrap_dim(dim, input._data.ndim + 1))


EXPAND = defop("expand", node="ExpandBackward0", kind=KEEP, view=True,
               forward=lambda xp, self, shape: xp.broadcast_to(self, shape),
               # the engine sums the gradient back to the input's shape (fit_gradient)
               backward=lambda grad, self, shape: grad)


def expand(self: Tensor, *sizes) -> Tensor:
    """Mirrors ``Tensor.expand``: a broadcast view; -1 keeps a size."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    old = self._data.shape
    lead = len(sizes) - len(old)
    if lead < 0:
        raise RuntimeError(
            f"expand({legacy_type_name(self._data.dtype)}{{{list(old)}}}, size={list(sizes)}): "
            f"the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(old)})")
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    "non-existing dimension 0")
            shape.append(s)
            continue
        cur = old[i - lead]
        if s == -1:
            s = cur
        elif cur != 1 and s != cur:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) "
                f"at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(old)}")
        shape.append(s)
    return run(EXPAND, self, tuple(shape))


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.expand_as``."""
    return expand(self, other._data.shape)


# ---- indexing -------------------------------------------------------------------------


def _index_key(key, shape: tuple):
    """Check a basic index (ints, slices, None, ...) as torch does; return it in NumPy form
    and the name of the node torch would record (the last view op it applies)."""
    if not isinstance(key, tuple):
        if isinstance(key, slice):
            _check_slice(key)
            return key, "SliceBackward0"
        key = (key,)
    name = "AliasBackward0"
    dim = 0
    ndim = len(shape)
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    out = []
    for k in key:
        if k is None:
            name = "UnsqueezeBackward0"
        elif k is Ellipsis:
            dim += ndim - used
        elif isinstance(k, slice):
            _check_slice(k)
            size = shape[dim]
            if k.indices(size) != (0, size, 1):  # torch skips slices that keep everything
                name = "SliceBackward0"
            dim += 1
        else:
            k = int(k.__index__())
            size = shape[dim]
            if not -size <= k < size:
                raise IndexError(
                    f"index {k} is out of bounds for dimension {dim} with size {size}")
            name = "SelectBackward0"
            dim += 1
        out.append(k)
    return tuple(out), name


def _check_slice(k: slice) -> None:
    if k.step is not None and k.step <= 0:
        raise ValueError("step must be greater than zero")


def _scatter_back(xp, grad, key, self_shape):
    out = xp.zeros(self_shape, grad.dtype)
    out[key] = grad
    return out


def _scatter_add_back(xp, grad, key, self_shape):
    out = xp.zeros(self_shape, grad.dtype)
    xp.add.at(out, key, grad)
    return out


# The backward of indexing puts the gradient into zeros of the input's shape; as an op of
# its own it is differentiable too (its gradient is indexing again).
INDEX_BACKWARD = defop("index_backward", node="IndexBackwardBackward0", kind=KEEP,
                       forward=_scatter_back,
                       backward=lambda grad, g, key, self_shape: grad[key])
INDEX_PUT_ACCUMULATE = defop("index_put", node="IndexPutBackward0", kind=KEEP,
                             forward=_scatter_add_back,
                             backward=lambda grad, g, key, self_shape: _advanced(grad, key))

_BASIC_OPS = {name: defop("getitem", node=name, kind=KEEP, view=True,
                          forward=lambda xp, self, key, self_shape: self[key],
                          backward=lambda grad, self, key, self_shape: run(
                              INDEX_BACKWARD, grad, key, self_shape))
              for name in ("AliasBackward0", "SliceBackward0", "SelectBackward0",
                           "UnsqueezeBackward0")}

INDEX = defop("index", node="IndexBackward0", kind=KEEP,
              forward=lambda xp, self, key, self_shape: self[key],
              backward=lambda grad, self, key, self_shape: run(
                  INDEX_PUT_ACCUMULATE, grad, key, self_shape))


def _is_advanced(k) -> bool:
    return isinstance(k, (Tensor, list, ndarray)) or (
        isinstance(k, bool))


def _advanced(input: Tensor, key) -> Tensor:
    return run(INDEX, input, key, input._data.shape)


def _array_key(k, shape: tuple, dim: int):
    if isinstance(k, Tensor):
        k = k._data
    k = np.asarray(k)
    if k.dtype == bool:
        return k
    if k.dtype.kind not in "iu":
        raise IndexError(
            "tensors used as indices must be long, int, byte or bool tensors")
    size = shape[dim] if dim < len(shape) else 0
    bad = (k >= size) | (k < -size)
    if bad.any():
        raise IndexError(
            f"index {int(k[bad].flat[0])} is out of bounds for dimension {dim} with size {size}")
    return k.astype(np.intp)


def getitem(self: Tensor, key) -> Tensor:
    """Mirrors ``Tensor.__getitem__``: ints, slices, None and ``...`` give views (as torch's
    select/slice/unsqueeze do); integer and boolean tensors or lists gather a copy."""
    shape = self._data.shape
    parts = key if isinstance(key, tuple) else (key,)
    if any(_is_advanced(k) for k in parts):
        dim = 0
        out = []
        for k in parts:
            if _is_advanced(k):
                k = _array_key(k, shape, dim)
                dim += k.ndim if k.dtype == bool else 1
            elif k is not None and k is not Ellipsis:
                dim += 1
            out.append(k)
        return _advanced(self, tuple(out))
    key, name = _index_key(key, shape)
    return run(_BASIC_OPS[name], self, key, shape)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """Mirrors ``torch.select``."""
    dim = wrap_dim(dim, input._data.ndim)
    return getitem(input, (slice(None),) * dim + (index,))


def _unbind_backward(grads, self, dim, self_shape):
    from ember._ops.creation import zeros

    like = next(g for g in grads if g is not None)
    parts = [g if g is not None else zeros(like.shape, dtype=like.dtype) for g in grads]
    return stack(parts, dim)


UNBIND = defop("unbind", node="UnbindBackward0", kind=KEEP, view=True, multi=True,
               forward=lambda xp, self, dim, self_shape: tuple(
                   xp.moveaxis(self, dim, 0)[i] for i in range(self.shape[dim])),
               backward=_unbind_backward)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Mirrors ``torch.unbind``: the slices along ``dim``, as views."""
    data = input._data
    if data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return run(UNBIND, input, wrap_dim(dim, data.ndim), data.shape)


def _stack_forward(xp, *arrays_and_dim):
    *arrays, dim = arrays_and_dim
    return xp.stack(arrays, dim)


def stack(tensors, dim: int = 0) -> Tensor:
    """Mirrors ``torch.stack``: joins same-shaped tensors along a new dim."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(t._data.shape)} at entry {i}")
    dim = wrap_dim(dim, len(shape) + 1)
    op = _stack_op(len(tensors))
    return run(op, *tensors, dim)


_STACK_OPS: dict = {}


def _stack_op(n: int):
    """stack of n inputs: one record per arity, since an op's inputs are its graph edges."""
    op = _STACK_OPS.get(n)
    if op is None:
        op = _STACK_OPS[n] = defop(
            "stack", node="StackBackward0", nin=n, kind=KEEP if n == 1 else SAME,
            forward=_stack_forward,
            backward=tuple(_select_backward(i) for i in range(n)))
    return op


def _select_backward(i: int):
    def formula(grad, *args):
        return select(grad, args[-1], i)
    return formula


def _iter(self: Tensor):
    if self._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(unbind(self, 0))


attach({
    "view": view, "view_as": view_as, "reshape": reshape, "reshape_as": reshape_as,
    "transpose": transpose, "swapaxes": transpose, "swapdims": transpose, "t": t,
    "permute": permute, "T": property(_T),
    "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand, "expand_as": expand_as,
    "__getitem__": getitem, "select": select, "__iter__": _iter, "unbind": unbind,
})
