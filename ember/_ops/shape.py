"""Shape and view ops: view, reshape, transpose, permute, squeeze, unsqueeze, expand, and
basic indexing. Views share their base's memory and version counter (NOTE [Version
counters], in autograd/graph.py)."""
from __future__ import annotations

import os
import sys
import warnings

from ember import _dtype
from ember._backend import ndarray, np
from ember._dtype import deprecated_type_name, int64, scalar_type_name
from ember._memory_format import contiguous_format
from ember._ops import _promote, batching
from ember._ops._promote import broadcast_error
from ember._ops.creation import int_list
from ember._ops.reduction import FLIP
from ember._ops.registry import (
    KEEP,
    Op,
    attach,
    check_inplace,
    defop,
    run,
    saved_as,
    saved_names,
    variadic,
)
from ember._tensor import (
    Size,
    Tensor,
    c_type_name,
    dim_of_size,
    int_argument,
    int_arguments,
    int_index,
    ints_method,
    make,
    method_taking_tensor,
    refuse_non_tensor,
    tensor_argument,
    wrap_dim,
    wrap_dims,
)


def _as_strided(xp, array, shape, strides):
    """NumPy's ``as_strided``, which rebuilds the dtype from its type string: float8_e5m2's,
    ``'<f1'``, is one NumPy cannot parse, so that dtype goes through a uint8 view."""
    if array.dtype.char == "5":
        return xp.lib.stride_tricks.as_strided(
            array.view(xp.uint8), shape, strides).view(array.dtype)
    return xp.lib.stride_tricks.as_strided(array, shape, strides)


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one -1 in ``shape`` with torch's errors."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if type(s) is not int:  # NumPy integers, 0-d tensors, bools: as int() reads them
            shape = tuple(int(s) for s in shape)
            break
    known = 1
    infer = None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
        else:
            known *= s
    if infer is not None:
        if known == 0 and numel == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                "unspecified dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# NumPy 2.1's ``reshape(copy=False)`` refuses where a view cannot be made, instead of
# copying (a reshape that must copy then made a whole copy only to throw it away).
_RESHAPE_REFUSES_COPY = np.lib.NumpyVersion(np.__version__) >= "2.1.0"


def _viewable(data: ndarray, shape: tuple):
    """``data`` reshaped without a copy, or None when its strides do not allow it."""
    if data.flags.c_contiguous:
        return data.reshape(shape)
    if _RESHAPE_REFUSES_COPY and data.size:
        try:
            return data.reshape(shape, copy=False)
        except ValueError:
            return None
    r = data.reshape(shape)
    base = r.base
    # a view's base is data or data's own base (NumPy collapses chains); anything else is a
    # copy's, but for unusual buffers, which the memory test settles
    if base is data or (base is not None and base is data.base) or data.size == 0 \
            or np.may_share_memory(r, data):
        return r
    return None


def _view(xp, self, shape, self_sym_sizes):
    r = _viewable(self, shape)
    if r is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return r


def _reshape_back(grad, self, shape, self_sym_sizes):
    return grad.reshape(self_sym_sizes)


VIEW = defop("view", node="ViewBackward0", kind=KEEP, view=True,
             forward=_view, backward=_reshape_back)
# torch's reshape of a non-contiguous tensor that strides allow to view: ``_reshape_alias``
RESHAPE_ALIAS = defop("_reshape_alias", node="ReshapeAliasBackward0", kind=KEEP, view=True,
                      forward=_view, backward=_reshape_back)
UNSAFE_VIEW = defop("_unsafe_view", node="UnsafeViewBackward0", kind=KEEP,
                    forward=lambda xp, self, shape, self_sym_sizes: self.reshape(shape),
                    backward=_reshape_back)
saved_names(VIEW, "self_sym_sizes")


def keyword_sizes(name: str, given: tuple, keyword: str, value) -> tuple:
    """A Tensor method's sizes or dims: separate ints or one sequence, or the sequence under
    torch's keyword (``x.view(size=(2, 3))``, ``x.permute(dims=(1, 0))``)."""
    if value is None:
        return given
    if given:
        raise TypeError(f"{name}() got multiple values for argument '{keyword}'")
    return (value,)


def method_ints(name: str, arg: str, given: tuple, value, refuse=None) -> tuple:
    """A Tensor method's ``int[]`` argument: separate ints or one sequence, or the sequence
    under torch's keyword, read with torch's errors (see ``creation.int_list``)."""
    if value is None:
        if not given:
            raise TypeError(f'{name}() missing 1 required positional arguments: "{arg}"')
        return int_list(given, name, arg, refuse=refuse)
    if given:
        raise TypeError(f"{name}() got multiple values for argument '{arg}'")
    return int_list((value,), name, arg, keyword=True)


def _view_refusal(given: tuple) -> None:
    # view is overloaded (dtype or sizes): torch lists both forms
    got = ", ".join(c_type_name(a) for a in given)
    lines = ["", " * (torch.dtype dtype)", " * (tuple of ints size)"]
    if len(given) == 1:
        value = given[0]
        if isinstance(value, tuple):
            what = f"tuple of ({', '.join(c_type_name(v) for v in value)})"
        elif isinstance(value, list):
            what = f"list of [{', '.join(c_type_name(v) for v in value)}]"
        else:
            what = c_type_name(value)
        why = f"      didn't match because some of the arguments have invalid types: (!{what}!)"
        lines = ["", lines[1], why, lines[2], why]
    raise TypeError(f"view() received an invalid combination of arguments - got ({got}), but "
                    "expected one of:" + "\n".join(lines) + "\n")


def view(self: Tensor, *shape, size=None, dtype=None) -> Tensor:
    """Mirrors ``Tensor.view``: a view with a new shape, never a copy; ``view(dtype)``
    reinterprets the memory as another dtype."""
    shape = keyword_sizes("view", shape, "dtype" if dtype is not None else "size",
                          dtype if dtype is not None else size)
    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        return _view_as_dtype(self, shape[0])
    if not shape:
        _view_refusal(shape)
    shape = int_list(shape, "view", "size", refuse=lambda: _view_refusal(shape))
    data = self._data
    return run(VIEW, self, infer_shape(shape, data.size), data.shape)


def _view_as_dtype(self: Tensor, dtype) -> Tensor:
    """``Tensor.view(dtype)``: the same memory read as ``dtype``; with another element size
    the last dim shrinks or grows by the ratio. As in torch it records no gradient, and it
    shares the tensor's version counter."""
    data = self._data
    new = dtype.np
    old_size, new_size = data.dtype.itemsize, new.itemsize
    if old_size != new_size:
        what = (f"to view {scalar_type_name(_dtype.from_np(data.dtype))} as "
                f"{scalar_type_name(dtype)} (different element sizes)")
        if data.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = tuple(st // old_size for st in data.strides)
        if data.shape[-1] != 1 and strides[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        if new_size > old_size:
            ratio = new_size // old_size
            if data.shape[-1] % ratio:
                raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but "
                                   f"got {data.shape[-1]}")
            for d, st in enumerate(strides[:-1]):
                if st % ratio:
                    raise RuntimeError(f"self.stride({d}) must be divisible by {ratio} {what}, "
                                       f"but got {st}")
            offset = self.storage_offset()
            if offset % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, "
                                   f"but got {offset}")
    out = make(data.view(new))
    out._vc = self._vc
    return out


def view_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.view_as``."""
    tensor_argument("view_as", "other", other, 1)
    return view(self, other._data.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.reshape_as``."""
    tensor_argument("reshape_as", "other", other, 1)
    return _reshape(self, other._data.shape)


def _reshape(input: Tensor, *sizes, shape=None) -> Tensor:
    """Mirrors ``Tensor.reshape`` (the shape as one sequence or as separate sizes): a view
    when the strides allow (recorded as torch records
    it: ``view`` of a contiguous tensor, else ``_reshape_alias``), else a copy (clone, then
    ``_unsafe_view``)."""
    data = input._data
    shape = infer_shape(method_ints("reshape", "shape", sizes, shape), data.size)
    if _viewable(data, shape) is not None:
        return run(VIEW if data.flags.c_contiguous else RESHAPE_ALIAS, input, shape, data.shape)
    return run(UNSAFE_VIEW, input.clone(memory_format=contiguous_format), shape, data.shape)


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
    if type(dim0) is not int or type(dim1) is not int:
        dim0, dim1 = int_arguments("transpose", 2, dim0=dim0, dim1=dim1)
    n = input._data.ndim
    return run(TRANSPOSE, input, wrap_dim(dim0, n), wrap_dim(dim1, n))


def _transpose_method(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """Mirrors ``Tensor.transpose`` (NOTE [Method argument positions]); transpose's body
    again, not a call of it: a model's attention transposes every step."""
    if type(dim0) is not int or type(dim1) is not int:
        dim0, dim1 = int_arguments("transpose", 1, dim0=dim0, dim1=dim1)
    n = self._data.ndim
    return run(TRANSPOSE, self, wrap_dim(dim0, n), wrap_dim(dim1, n))


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Mirrors ``torch.swapdims``: ``transpose``."""
    if type(dim0) is not int or type(dim1) is not int:
        dim0, dim1 = int_arguments("swapdims", 2, dim0=dim0, dim1=dim1)
    return transpose(input, dim0, dim1)


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Mirrors ``torch.swapaxes``: ``transpose`` under NumPy's argument names."""
    if type(axis0) is not int or type(axis1) is not int:
        axis0, axis1 = int_arguments("swapaxes", 2, axis0=axis0, axis1=axis1)
    return transpose(input, axis0, axis1)


def t(input: Tensor) -> Tensor:
    """Mirrors ``torch.t``: transposes a tensor of at most 2 dims."""
    try:
        n = input._data.ndim
    except AttributeError as error:
        refuse_non_tensor("t", error, input, "input")
        raise
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return run(T, input)


def _permute(input: Tensor, *order, dims=None) -> Tensor:
    """Mirrors ``Tensor.permute`` (the dims as one sequence or as separate ints)."""
    dims = method_ints("permute", "dims", order, dims)
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


def _squeeze_back(grad, self, dims, self_sym_sizes):
    return grad.reshape(self_sym_sizes)


def _squeeze(xp, self, dims, self_sym_sizes):
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
saved_as(SQUEEZE_DIM, dim=lambda node: node._saved_dims[0])
saved_as(SQUEEZE_DIMS, dim=lambda node: node._saved_dims)
saved_names(SQUEEZE, "self_sym_sizes")
saved_names(SQUEEZE_DIM, "dim", "self_sym_sizes")
saved_names(SQUEEZE_DIMS, "dim", "self_sym_sizes")


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.squeeze``: drops size-1 dims (all, one, or a tuple of them)."""
    try:
        data = input._data
    except AttributeError as error:
        refuse_non_tensor("squeeze", error, input, "input")
        raise
    n = data.ndim
    if dim is None:
        return run(SQUEEZE, input, None, data.shape)
    if isinstance(dim, int):
        return run(SQUEEZE_DIM, input, (wrap_dim(dim, n),), data.shape)
    return run(SQUEEZE_DIMS, input, wrap_dims(dim, n), data.shape)


def _new_dim_stride(data: ndarray, dim: int) -> int:
    """The stride, in bytes, torch gives a dim inserted before ``dim`` of ``data``: one step
    over the whole of dim ``dim`` (1 element past the last dim). NumPy's choice differs
    (0, or whatever its reshape picks), and ``Tensor.stride`` reports the array's own."""
    if dim >= data.ndim:
        return data.itemsize
    return data.shape[dim] * data.strides[dim]


def _unsqueeze_forward(xp, self, dim):
    # expand_dims may restride the other size-1 dims too; torch keeps theirs
    shape = self.shape[:dim] + (1,) + self.shape[dim:]
    strides = self.strides[:dim] + (_new_dim_stride(self, dim),) + self.strides[dim:]
    return _as_strided(xp, self, shape, strides)


UNSQUEEZE = defop("unsqueeze", node="UnsqueezeBackward0", kind=KEEP, view=True,
                  forward=_unsqueeze_forward,
                  backward=lambda grad, self, dim: grad.squeeze(dim))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Mirrors ``torch.unsqueeze``."""
    if type(dim) is not int:
        dim = int_argument(dim, "unsqueeze", "dim", 2)
    return run(UNSQUEEZE, input, wrap_dim(dim, input._data.ndim + 1))


# NOTE [Method argument positions]: torch's argument parser counts a method's arguments
# after ``self`` and a function's from ``input``, so its TypeError for a bad argument names
# another position in each; the ``_*_method`` twins check their arguments with the method's
# positions, then call the function.


def _unsqueeze_method(self: Tensor, dim: int) -> Tensor:
    """Mirrors ``Tensor.unsqueeze`` (NOTE [Method argument positions])."""
    if type(dim) is not int:
        dim = int_argument(dim, "unsqueeze", "dim", 1)
    return unsqueeze(self, dim)


def _expand_steps(old_shape: tuple, old_steps: tuple, shape: tuple) -> tuple:
    """The strides torch gives ``old.expand(shape)`` (its inferExpandGeometry), in the units
    of ``old_steps``: 0 where a dim is stretched or added above 1; a new leading dim of size
    1 steps over the dims after it (0 over a 0-d source)."""
    lead = len(shape) - len(old_shape)
    steps = [s if n == m else 0 for n, m, s in zip(old_shape, shape[lead:], old_steps)]
    step = shape[lead] * steps[0] if old_shape else 0
    for size in shape[lead - 1::-1] if lead else ():
        step = step if size == 1 else 0
        steps.insert(0, step)
        step *= size
    return tuple(steps)


def _expanded(xp, self, shape):
    # The stride-0 view, made from strides (np.broadcast_to checks the shapes with an
    # iterator, 2.5 us; ``expanded_shape`` has checked them): an array whose memory is one
    # block gives its buffer directly (0.5 us). Writes are refused, as torch refuses them,
    # where elements overlap: a stride-0 dim of more than one element (an empty view, or
    # one that only re-strides size-1 dims, stays writable).
    strides = _expand_steps(self.shape, self.strides, shape)
    if self.flags.c_contiguous or self.flags.f_contiguous:
        view = xp.ndarray(shape, self.dtype, self, 0, strides)
    else:
        view = xp.lib.stride_tricks.as_strided(self, shape, strides)
    if 0 not in shape and any(n > 1 and s == 0 for n, s in zip(shape, strides)):
        view.flags.writeable = False
    return view


EXPAND = defop("expand", node="ExpandBackward0", kind=KEEP, view=True, forward=_expanded,
               # the engine sums the gradient back to the input's shape (fit_gradient)
               backward=lambda grad, self, shape: grad)
# torch's node saves the input's sizes; ember's keeps them among the gradient's fitting facts
saved_as(EXPAND, self_sym_sizes=lambda node: node._meta[0][0])
saved_names(EXPAND, "self_sym_sizes")


def expand(self: Tensor, *sizes, size=None) -> Tensor:
    """Mirrors ``Tensor.expand``: a broadcast view; -1 keeps a size."""
    sizes = method_ints("expand", "size", sizes, size)
    return run(EXPAND, self, expanded_shape(self, sizes))


def expanded_shape(self: Tensor, sizes: tuple) -> tuple:
    """The shape ``self.expand(sizes)`` has, or torch's error for it (also the rule a fused
    product's bias follows: addmm, baddbmm, addbmm)."""
    old = self._data.shape
    lead = len(sizes) - len(old)
    if lead < 0:
        raise RuntimeError(
            f"expand({deprecated_type_name(self._data.dtype)}{{{list(old)}}}, "
            f"size={list(sizes)}): "
            f"the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(old)})")
    shape = [*sizes]  # read from the list: a Size's own __getitem__ is Python code
    for i in range(len(shape) - 1, -1, -1):  # from the last dim, as torch checks them
        s = shape[i]
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    "non-existing dimension 0")
            continue
        cur = old[i - lead]
        if s == -1:
            shape[i] = cur
        elif cur != 1 and s != cur:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) "
                f"at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(old)}")
    return tuple(shape)


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.expand_as``."""
    tensor_argument("expand_as", "other", other, 1)
    return expand(self, other._data.shape)


# ---- indexing -------------------------------------------------------------------------


def _index_key(key, shape: tuple):
    """Check a basic index (ints, slices, None, ...) as torch does; return it in NumPy form
    and the name of the node torch would record (the last view op it applies)."""
    if not isinstance(key, tuple):
        if isinstance(key, slice):
            check_slice(key)
            return key, "SliceBackward0"
        key = (key,)
    name = "AliasBackward0"
    dim = 0
    ndim = len(shape)
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    out = []
    for pos, k in enumerate(key):  # torch's errors name a part by its place in the key
        if k is None:
            name = "UnsqueezeBackward0"
        elif k is Ellipsis:
            if Ellipsis in out:
                return _index_key(spread_ellipses(key, ndim), shape)
            dim += ndim - used
        elif isinstance(k, slice):
            check_slice(k)
            size = shape[dim]
            if k.indices(size) != (0, size, 1):  # torch skips slices that keep everything
                name = "SliceBackward0"
            dim += 1
        else:
            k = int_index(k)
            size = shape[dim]
            if not -size <= k < size:
                raise IndexError(
                    f"index {k} is out of bounds for dimension {pos} with size {size}")
            name = "SelectBackward0"
            dim += 1
        out.append(k)
    if Ellipsis not in out:
        # With every dim indexed by an int NumPy would return a scalar copy; a trailing
        # ``...`` keeps the result a 0-d view, so writes through it reach the base.
        out.append(Ellipsis)
    return tuple(out), name


def spread_ellipses(parts: tuple, ndim: int) -> tuple:
    """A key with several ``...`` as torch reads it, without them: each one moves past all
    the dims the other parts leave, as a lone ``...`` would, so the parts after the first
    can fall past the last dim (torch's dim error then, counted as it walks the key)."""
    named = sum(dims_named(k) for k in parts if k is not None and k is not Ellipsis)
    skip = max(ndim - named, 0)
    out = []
    dim = 0
    result_ndim = ndim
    for k in parts:
        if k is Ellipsis:  # past the last dim it moves on without indexing
            out.extend([slice(None)] * max(0, min(skip, result_ndim - dim)))
            dim += skip
            continue
        out.append(k)
        if _is_advanced(k):
            dim += dims_named(k)
        else:
            unsqueeze = k is None or isinstance(k, bool)
            top = result_ndim + unsqueeze  # an unsqueeze may add a dim past the last
            if dim >= top:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-top}, {top - 1}], but got {dim})")
            if unsqueeze:
                result_ndim += 1
                dim += 1
            elif isinstance(k, slice):
                dim += 1
            else:  # an int selects: the dim goes away
                result_ndim -= 1
    return tuple(out)


def check_slice(k: slice) -> None:
    """torch's refusal of a slice step that is not positive: zero is Python's own error."""
    if k.step is not None and k.step <= 0:
        raise ValueError("step must be greater than zero" if k.step else
                         "slice step cannot be zero")


def _scatter_back(xp, grad, key, self_sym_sizes):
    out = xp.zeros(self_sym_sizes, grad.dtype)
    out[key] = grad
    return out


def _scatter_add_back(xp, grad, key, self_sym_sizes):
    out = xp.zeros(self_sym_sizes, grad.dtype)
    xp.add.at(out, key, grad)
    return out


# The backward of indexing puts the gradient into zeros of the input's shape; as an op of
# its own it is differentiable too (its gradient is indexing again).
INDEX_BACKWARD = defop("index_backward", node="IndexBackwardBackward0", kind=KEEP,
                       forward=_scatter_back,
                       backward=lambda grad, g, key, self_sym_sizes: grad[key])
INDEX_PUT_ACCUMULATE = defop("index_put", node="IndexPutBackward0", kind=KEEP,
                             forward=_scatter_add_back,
                             backward=lambda grad, g, key, self_sym_sizes: _advanced(grad, key))

def _basic_index(xp, self, key, self_sym_sizes):
    out = self[key]
    if type(key) is not tuple or None not in key:
        return out
    # torch applies the key left to right, and each None is an unsqueeze of the result so
    # far: its stride spans the next dim of ``self`` not yet indexed (see _new_dim_stride).
    strides = list(out.strides)
    pos = dim = 0
    for k in key:
        if k is None:
            strides[pos] = _new_dim_stride(self, dim)
            pos += 1
        elif k is Ellipsis:
            skip = self.ndim - sum(1 for j in key if j is not None and j is not Ellipsis)
            pos += skip
            dim += skip
        else:
            pos += isinstance(k, slice)
            dim += 1
    return _as_strided(xp, out, out.shape, strides)


_BASIC_OPS = {name: defop("getitem", node=name, kind=KEEP, view=True,
                          forward=_basic_index,
                          backward=lambda grad, self, key, self_sym_sizes: run(
                              INDEX_BACKWARD, grad, key, self_sym_sizes))
              for name in ("AliasBackward0", "SliceBackward0", "SelectBackward0",
                           "UnsqueezeBackward0")}

_SELECT = _BASIC_OPS["SelectBackward0"]


def alias(input: Tensor) -> Tensor:
    """torch's ``aten::alias``: a view of the whole of ``input`` (``AliasBackward0``)."""
    return run(_BASIC_OPS["AliasBackward0"], input, (Ellipsis,), input._data.shape)

INDEX = defop("index", node="IndexBackward0", kind=KEEP,
              forward=lambda xp, self, key, self_sym_sizes: self[key],
              backward=lambda grad, self, key, self_sym_sizes: run(
                  INDEX_PUT_ACCUMULATE, grad, key, self_sym_sizes))


# NOTE [Sequence keys]
# torch reads a list (or range) key of fewer than 32 entries as a tuple of indices when an
# entry is a tensor, a sequence, a slice, ``...`` or None (a reading it deprecates with a
# warning): ``x[[[0, 1], [2, 3]]]`` is ``x[[0, 1], [2, 3]]``. Any other list, and a list,
# tuple or range inside a key, is one index tensor, made as torch makes it: bool and uint8
# (a mask) entries keep their dtype, any other becomes int64 (a float is truncated).
_SEQUENCE_KEY_DEPRECATED = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
    "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error "
    "or a different result")
_SEQUENCE_TYPES = (list, tuple, range, ndarray)
_UINT8_INDEX_DEPRECATED = (
    "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead.")


_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _warn_at_user(message: str) -> None:
    # at the user's line: keys reach their checks at depths that vary (getitem recurses)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_EMBER_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def index_parts(key) -> tuple:
    """The parts of an index key as torch reads them (NOTE [Sequence keys])."""
    if isinstance(key, tuple):
        return key
    if type(key) in (list, range) and len(key) < 32 and any(
            k is None or k is Ellipsis or isinstance(k, (Tensor, slice, *_SEQUENCE_TYPES))
            for k in key):
        _warn_at_user(_SEQUENCE_KEY_DEPRECATED)
        return tuple(key)
    return (key,)


def index_array(k) -> ndarray:
    """The array of an advanced index that is not a tensor (NOTE [Sequence keys])."""
    arr = np.asarray(k)
    if arr.dtype == bool or arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind not in "biuf":
        name = "str" if arr.dtype.kind == "U" else type(arr.flat[0]).__name__
        raise TypeError(f"new(): invalid data type '{name}'")
    return arr.astype(np.int64)


def is_mask(arr: ndarray) -> bool:
    """Whether an index array is a mask: bool, or uint8 (deprecated, with torch's warning);
    any other dtype than int64 or int32 is torch's error."""
    dt = arr.dtype  # kind and size: comparing dtypes with types costs more than indexing
    kind = dt.kind
    if kind == "b":
        return True
    if kind == "u" and dt.itemsize == 1:
        _warn_at_user(_UINT8_INDEX_DEPRECATED)
        return True
    if kind != "i" or dt.itemsize < 4:
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return False


def raise_if_index_shapes_clash(key) -> None:
    """torch's error for index arrays whose shapes do not broadcast together (a mask counts
    as one index of its number of True entries per dim it covers); NumPy's own would name
    them otherwise. Called once NumPy has refused a key, so that good keys pay nothing."""
    shapes = []
    for k in key:
        if isinstance(k, ndarray):
            shapes.extend([[int(k.sum())]] * k.ndim if k.dtype == bool else [list(k.shape)])
    try:
        np.broadcast_shapes(*map(tuple, shapes))
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         f"with shapes {', '.join(map(str, shapes))}") from None


def select_index(k):
    """A key's part, with a 0-d tensor of a signed integer dtype as the int it holds: torch
    selects with it (a view) as with an int; a 0-d uint8 or bool tensor is a mask."""
    if (isinstance(k, Tensor) and k._data.ndim == 0 and k._data.dtype.kind == "i"
            and not batching.is_batched(k)):
        return int(k._data)
    return k


_ADVANCED_TYPES = (Tensor, bool, *_SEQUENCE_TYPES)


def _is_advanced(k) -> bool:
    return isinstance(k, _ADVANCED_TYPES)


def _advanced(input: Tensor, key) -> Tensor:
    return run(INDEX, input, key, input._data.shape)


def _array_key(k, shape: tuple, dim: int, ordinal: int = 0):
    """An advanced index of dim ``dim`` as an array (a ``Batched`` one inside vmap), with
    torch's checks; an out-of-range error names the dim as torch's kernel does, by its
    place (``ordinal``) among the advanced-indexed dims."""
    batched = isinstance(k, Tensor) and batching.is_batched(k)
    if batched:  # every sample's index is checked; the key carries them all (a parameter)
        levels = k._phys.levels
        k = batching.values(k)
    elif isinstance(k, Tensor):
        k = k._data
    else:
        k = index_array(k)
    if is_mask(k):
        k = k.astype(bool, copy=False)
        if batched:
            raise RuntimeError(
                "vmap: We do not support batching operators that can support dynamic shape. "
                "Attempting to batch over indexing with a boolean mask.")
        for j in range(k.ndim):
            if dim + j < len(shape) and k.shape[j] != shape[dim + j]:
                raise IndexError(
                    f"The shape of the mask {list(k.shape)} at index {j} does not match the "
                    f"shape of the indexed tensor {list(shape)} at index {dim + j}")
        return k
    size = shape[dim] if dim < len(shape) else 0
    bad = (k >= size) | (k < -size)
    if bad.any():
        raise IndexError(f"index {int(k[bad].flat[0])} is out of bounds for dimension "
                         f"{ordinal} with size {size}")
    return batching.Batched(k.astype(np.intp), levels) if batched else k.astype(np.intp)


def dims_named(k) -> int:
    """How many of the indexed tensor's dims one part of a key names: a bool mask its own
    dims, anything else one."""
    if isinstance(k, bool):
        return 0
    arr = k._data if isinstance(k, Tensor) else index_array(k) if isinstance(
        k, _SEQUENCE_TYPES) else None
    if arr is None:
        return 1
    dt = arr.dtype
    return arr.ndim if dt.kind == "b" or dt.kind == "u" and dt.itemsize == 1 else 1


def getitem(self: Tensor, key) -> Tensor:
    """Mirrors ``Tensor.__getitem__``: ints, slices, None and ``...`` give views (as torch's
    select/slice/unsqueeze do); integer and boolean tensors or lists gather a copy."""
    shape = self._data.shape
    if type(key) is int and shape:
        # t[i], the most common index (a dataset's samples): _index_key's result, spelled out
        if not -shape[0] <= key < shape[0]:
            raise IndexError(f"index {key} is out of bounds for dimension 0 with size {shape[0]}")
        return run(_SELECT, self, (key, Ellipsis), shape)
    parts = key if type(key) is tuple else index_parts(key)
    if any(_is_advanced(k) for k in parts):
        if sum(k is Ellipsis for k in parts) > 1:
            parts = spread_ellipses(parts, len(shape))
        if any(type(k) is Tensor and not k._data.ndim for k in parts):
            parts = tuple(map(select_index, parts))
            if not any(_is_advanced(k) for k in parts):
                return getitem(self, parts)
        if any(type(k) is bool or type(k) is Tensor and not k._data.ndim
               and k._data.dtype == np.bool_ for k in parts):
            return _getitem_bools(self, parts)
        if any(type(k) is int for k in parts):
            # torch selects with the integers first (a view), then indexes the view with the
            # tensors: NumPy would take the integers as advanced indices too and move the
            # indexed dims elsewhere
            view = getitem(self, tuple(slice(None) if _is_advanced(k) else k for k in parts))
            return getitem(view, tuple(k if _is_advanced(k) or k is Ellipsis else slice(None)
                                       for k in parts if type(k) is not int))
        dim = ordinal = 0
        out = []
        # the dims the parts other than ``...`` and None name: ``...`` covers the rest
        named = sum(dims_named(k) for k in parts if k is not None and k is not Ellipsis)
        if named > len(shape):
            raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
        for k in parts:
            if _is_advanced(k):
                k = _array_key(k, shape, dim, ordinal)
                step = k.ndim if k.dtype == bool else 1
                dim += step
                ordinal += step
            elif k is Ellipsis:
                dim += max(len(shape) - named, 0)
            elif k is not None:
                dim += 1
            out.append(k)
        try:
            return _advanced(self, tuple(out))
        except IndexError:
            raise_if_index_shapes_clash(out)
            raise
    key, name = _index_key(parts if type(key) is list else key, shape)
    return run(_BASIC_OPS[name], self, key, shape)


def _getitem_bools(self: Tensor, parts: tuple) -> Tensor:
    """A read whose key holds a bool (Python's or a 0-d boolean tensor), as torch reads it:
    a new dim indexed by one position (True) or none (False). The view comes first (ints
    select in it, None and the bools add dims), then the tensor indices index the view."""
    ndim = self._data.ndim
    named = sum(dims_named(k) for k in parts
                if k is not None and k is not Ellipsis and not _is_bool_part(k))
    view_key = []
    rest = []
    dim = 0
    for k in parts:
        if _is_bool_part(k):
            view_key.append(None)
            rest.append(make(np.arange(int(bool(k if type(k) is bool else k._data)),
                                       dtype=np.int64)))
            dim += 1
        elif k is None:
            view_key.append(None)
            rest.append(slice(None))
            dim += 1
        elif k is Ellipsis:
            view_key.append(Ellipsis)
            rest.append(Ellipsis)
            dim += max(ndim - named, 0)
        elif _is_advanced(k):
            n = dims_named(k)
            view_key.extend([slice(None)] * n)
            rest.append(k)
            dim += n
        elif isinstance(k, slice):
            view_key.append(k)
            rest.append(slice(None))
            dim += 1
        else:  # an int selects in the view: its dim goes away
            view_key.append(k)
    return getitem(getitem(self, tuple(view_key)), tuple(rest))


def _is_bool_part(k) -> bool:
    return type(k) is bool or (type(k) is Tensor and not k._data.ndim
                               and k._data.dtype == np.bool_)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """Mirrors ``torch.select``."""
    if type(dim) is not int or type(index) is not int:
        dim, index = int_arguments("select", 2, dim=dim, index=index)
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, len(shape))
    if isinstance(index, int) and not -shape[dim] <= index < shape[dim]:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(shape)} at dimension {dim}")
    return getitem(input, (slice(None),) * dim + (index,))


def _unbind_backward(grads, self, dim, self_sym_sizes):
    from ember._ops.creation import zeros

    like = next(g for g in grads if g is not None)
    parts = [g if g is not None else zeros(like.shape, dtype=like.dtype) for g in grads]
    return stack(parts, dim)


UNBIND = defop("unbind", node="UnbindBackward0", kind=KEEP, view=True, multi=True,
               forward=lambda xp, self, dim, self_sym_sizes: tuple(
                   xp.moveaxis(self, dim, 0)[i] for i in range(self.shape[dim])),
               backward=_unbind_backward)
saved_names(UNBIND, "dim")


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Mirrors ``torch.unbind``: the slices along ``dim``, as views."""
    try:
        data = input._data
    except AttributeError as error:
        refuse_non_tensor("unbind", error, input, "input")
        raise
    if data.ndim == 0:
        wrap_dim(dim, 0)  # torch's range error for a dim other than 0 and -1
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return run(UNBIND, input, wrap_dim(dim, data.ndim), data.shape)


def _stack_forward(xp, *arrays_and_dim):
    *arrays, dim = arrays_and_dim
    if dim == 0 and xp is np:
        # one C loop over the same-shaped arrays (np.stack expands and joins them in
        # Python): a DataLoader's batch of 64 samples collates 2.4x faster
        return np.array(arrays, dtype=arrays[0].dtype)
    return xp.stack(arrays, dim)


def tensor_list(tensors, name: str) -> tuple:
    """``tensors`` read as torch's argument parser reads a TensorList argument: a list or
    tuple (not a generator, a tensor or a string) of tensors, else its TypeError."""
    if type(tensors) is not list and type(tensors) is not tuple:
        if not isinstance(tensors, (list, tuple)) or isinstance(tensors, Tensor):
            raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of "
                            f"Tensors, not {c_type_name(tensors)}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{c_type_name(t)}")
    return tuple(tensors)


def stack(tensors, dim: int = 0) -> Tensor:
    """Mirrors ``torch.stack``: joins same-shaped tensors along a new dim."""
    tensors = tensor_list(tensors, "stack")
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


def _stack_op(n: int):
    return variadic("stack", "StackBackward0", n, _stack_forward, _select_backward)


def _select_backward(i: int):
    def formula(grad, *args):
        return select(grad, args[-1], i)
    return formula


def _iter(self: Tensor):
    if self._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(unbind(self, 0))


# ---- joining and splitting -------------------------------------------------------------


def _cat_forward(xp, *arrays_and_params):
    *arrays, dim, sizes = arrays_and_params
    kept = [a for a, size in zip(arrays, sizes) if size is not None]
    return xp.concatenate(kept or arrays, dim)


def _cat_op(n: int):
    return variadic("cat", "CatBackward0", n, _cat_forward, _cat_piece_backward)


def _cat_piece_backward(i: int):
    def formula(grad, *args):
        dim, sizes = args[-2:]
        if sizes[i] is None:  # a skipped legacy empty input: its gradient is empty too
            return grad.reshape(-1).narrow(0, 0, 0)
        start = sum(s for s in sizes[:i] if s is not None)
        return narrow(grad, dim, start, sizes[i])
    return formula


def cat(tensors, dim: int = 0) -> Tensor:
    """Mirrors ``torch.cat``: joins tensors along an existing dim (a copy). As in torch,
    1-D empty tensors are skipped whatever the other inputs' shapes, and dtypes promote."""
    tensors = tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if x._data.ndim == 0:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # torch's legacy rule: a 1-D empty tensor takes no part in the shape checks
    kept = [i for i, x in enumerate(tensors) if x._data.shape != (0,)]
    ref = tensors[kept[0]]._data.shape if kept else (0,)
    dim = wrap_dim(dim, len(ref))
    sizes = []
    for i, x in enumerate(tensors):
        shape = x._data.shape
        if i not in kept:
            sizes.append(None if kept else 0)
            continue
        if len(shape) != len(ref):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(ref)} and {len(shape)}")
        for d, (a, b) in enumerate(zip(ref, shape)):
            if d != dim and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {dim}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list.")
        sizes.append(shape[dim])
    return run(_cat_op(len(tensors)), *tensors, dim, tuple(sizes))


concat = cat


def concatenate(tensors, dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Mirrors ``torch.concatenate``: ``cat``, the dim also under NumPy's name ``axis``."""
    if axis is not None:
        if dim:
            raise TypeError("concatenate() got an unexpected keyword argument 'axis'")
        dim = axis
    return cat(tensors, dim)


def _split_forward(xp, self, sizes, dim, self_sym_sizes):
    lead = (slice(None),) * dim
    out = []
    start = 0
    for size in sizes:
        out.append(self[lead + (slice(start, start + size),)])
        start += size
    return tuple(out)


def _split_backward(grads, self, sizes, dim, self_sym_sizes):
    from ember._ops.creation import zeros

    like = next(g for g in grads if g is not None)
    parts = []
    for g, size in zip(grads, sizes):
        if g is None:  # an output that was not used: torch fills its part with zeros
            shape = list(self_sym_sizes)
            shape[dim] = size
            g = zeros(tuple(shape), dtype=like.dtype)
        parts.append(g)
    return cat(parts, dim)


SPLIT = defop("split", node="SplitBackward0", kind=KEEP, view=True, multi=True,
              forward=_split_forward, backward=_split_backward)
SPLIT_WITH_SIZES = defop("split_with_sizes", node="SplitWithSizesBackward0", kind=KEEP,
                         view=True, multi=True, forward=_split_forward,
                         backward=_split_backward)


def _split_method(self: Tensor, split_size, dim: int = 0) -> tuple:
    """Mirrors ``Tensor.split``: ``torch.split`` under the method's argument name."""
    return split(self, split_size, dim)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Mirrors ``torch.split``: views of ``split_size`` along ``dim`` (the last may be
    shorter), or of the given sizes."""
    data = tensor._data
    split_size = split_size_or_sections
    if type(split_size) is not int:
        if isinstance(split_size, Tensor) and not split_size._data.ndim and \
                split_size._data.dtype.kind in "iu":
            split_size = int(split_size._data)
        else:  # torch's Tensor.split hands anything but an int to split_with_sizes
            return _split_with_sizes(tensor, split_size, dim, 2)
    if data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = wrap_dim(dim, data.ndim)
    if split_size < 0:
        raise RuntimeError(
            f"split expects split_size be non-negative, but got split_size={split_size}")
    size = data.shape[dim]
    if split_size == 0 and size != 0:
        raise RuntimeError(
            "split_size can only be 0 if dimension size is 0, but got dimension size of "
            f"{size}")
    count = max(-(-size // split_size), 1) if split_size else 1
    sizes = tuple(min(split_size, size - i * split_size) for i in range(count))
    return run(SPLIT, tensor, sizes, dim, data.shape)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Mirrors ``torch.split_with_sizes``."""
    return _split_with_sizes(input, split_sizes, dim, 2)


def _split_with_sizes_method(self: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Mirrors ``Tensor.split_with_sizes`` (NOTE [Method argument positions])."""
    return _split_with_sizes(self, split_sizes, dim, 1)


def _split_with_sizes(self: Tensor, split_sizes, dim: int, position: int) -> tuple:
    sizes = int_list((split_sizes,), "split_with_sizes", "split_sizes", one_int=False,
                     position=position)
    if type(dim) is not int:
        dim = int_argument(dim, "split_with_sizes", "dim", position + 1)
    data = self._data
    if data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = wrap_dim(dim, data.ndim)
    if any(s < 0 for s in sizes):
        raise RuntimeError(
            "split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={list(sizes)}")
    if sum(sizes) != data.shape[dim]:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {data.shape[dim]} (input "
            f"tensor's size at dimension {dim}), but got split_sizes={list(sizes)}")
    return run(SPLIT_WITH_SIZES, self, sizes, dim, data.shape)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Mirrors ``torch.chunk``: ``split`` into pieces of ``ceil(size / chunks)``, so there
    may be fewer than ``chunks`` pieces (as in torch)."""
    if type(chunks) is not int or type(dim) is not int:
        chunks, dim = int_arguments("chunk", 2, chunks=chunks, dim=dim)
    data = input._data
    if data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    dim = wrap_dim(dim, data.ndim)
    size = data.shape[dim]
    split_size = -(-size // chunks)
    if split_size == 0 and size == 0:
        return run(SPLIT_WITH_SIZES, input, (0,) * chunks, dim, data.shape)
    return split(input, split_size, dim)


def _chunk_method(self: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Mirrors ``Tensor.chunk`` (NOTE [Method argument positions])."""
    if type(chunks) is not int or type(dim) is not int:
        chunks, dim = int_arguments("chunk", 1, chunks=chunks, dim=dim)
    return chunk(self, chunks, dim)


_SLICE = _BASIC_OPS["SliceBackward0"]


def _slice(input: Tensor, dim: int, start: int, end: int) -> Tensor:
    """torch's ``slice`` op: a SliceBackward0 view whatever range it keeps."""
    shape = input._data.shape
    return run(_SLICE, input, (slice(None),) * dim + (slice(start, end),), shape)


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """Mirrors ``torch.narrow``: the view ``input[..., start:start + length, ...]``."""
    if type(dim) is not int or type(start) is not int or type(length) is not int:
        dim, start, length = _narrow_arguments((input, dim, start, length), ("Tensor input, ",
                                                                            "Tensor, "))
    data = input._data
    if data.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    dim = wrap_dim(dim, data.ndim)
    size = data.shape[dim]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got "
            f"{start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return _slice(input, dim, start, start + length)


def _narrow_method(self: Tensor, dim: int, start, length: int) -> Tensor:
    """Mirrors ``Tensor.narrow`` (NOTE [Method argument positions])."""
    if type(dim) is not int or type(start) is not int or type(length) is not int:
        dim, start, length = _narrow_arguments((dim, start, length), ("", ""))
    return narrow(self, dim, start, length)


def _narrow_arguments(args: tuple, lead: tuple) -> tuple:
    """``narrow``'s (dim, start, length) as torch's parser reads them (``start`` an int or a
    0-d integer tensor), or its TypeError naming both overloads; ``args`` as the caller gave
    them (with the input for the function), ``lead``: what its overloads and the type list
    start with."""
    dim, start, length = args[-3:]

    def is_int(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    tensor_start = isinstance(start, Tensor)
    if is_int(dim) and is_int(length) and (is_int(start) or tensor_start):
        if tensor_start:
            if start._data.ndim or start._data.dtype.kind not in "iu":
                raise RuntimeError("start must be an 0-dim integral Tensor.")
            start = start._data
        return int(dim), int(start), int(length)
    names = [c_type_name(a) for a in args]
    offset = len(args) - 3

    def marked(start_ok: bool) -> str:
        ok = [True] * offset + [is_int(dim), start_ok, is_int(length)]
        return ", ".join(n if good else f"!{n}!" for n, good in zip(names, ok))
    raise TypeError(
        f"narrow() received an invalid combination of arguments - got ({', '.join(names)}), "
        f"but expected one of:\n * ({lead[0]}int dim, Tensor start, int length)\n"
        f"      didn't match because some of the arguments have invalid types: "
        f"({marked(tensor_start)})\n * ({lead[0]}int dim, int start, int length)\n"
        f"      didn't match because some of the arguments have invalid types: "
        f"({marked(is_int(start))})\n")


def _split_spec(name: str, sections, indices, tensor_indices_or_sections=None):
    """The one of torch's split arguments given: ``sections`` (an int, or positionally a
    list of indices or a tensor: torch's parser picks the overload by its type),
    ``indices=`` (a sequence) or ``tensor_indices_or_sections=`` (a tensor)."""
    given = [v for v in (sections, indices, tensor_indices_or_sections) if v is not None]
    if len(given) != 1 or (indices is not None and not isinstance(indices, (tuple, list))) or (
            tensor_indices_or_sections is not None and not isinstance(
                tensor_indices_or_sections, Tensor)):
        raise TypeError(f"{name}() received an invalid combination of arguments")
    return given[0]


def tensor_split(input: Tensor, sections=None, dim: int = 0, *, indices=None,
                 tensor_indices_or_sections=None) -> tuple:
    """Mirrors ``torch.tensor_split``: ``n`` nearly equal views (the first ``size % n`` one
    longer), or views between the given indices; each is a SliceBackward0 view. The split
    is ``sections``, ``indices`` or ``tensor_indices_or_sections``, as in torch (``sections``
    also takes the indices or the tensor positionally). ember differs: it takes them under
    ``sections=`` by keyword too (torch wants their own names)."""
    return _tensor_split(input, _split_spec("tensor_split", sections, indices,
                                            tensor_indices_or_sections), dim)


def _tensor_split(input: Tensor, indices_or_sections, dim: int) -> tuple:
    data = input._data
    if data.ndim == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 "
            "dims")
    dim = wrap_dim(dim, data.ndim)
    size = data.shape[dim]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec._data.dtype != np.int64:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but "
                f"got {scalar_type_name(spec.dtype)}")
        if spec._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                f"one-dimensional tensor, but got a tensor with {spec._data.ndim} dims")
        spec = spec.item() if spec._data.ndim == 0 else spec.tolist()
    if isinstance(spec, (list, tuple)):
        bounds = [0] + [int(i) for i in spec] + [size]
    else:
        sections = int(spec)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(size, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + small + (i < extra))
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        a = min(max(a + size if a < 0 else a, 0), size)
        b = min(max(b + size if b < 0 else b, a), size)
        pieces.append(_slice(input, dim, a, b))
    return tuple(pieces)


def _as_1d(t: Tensor) -> Tensor:
    return _reshape(t, (1,)) if t._data.ndim == 0 else t


def _unpack_tensors(tensors: tuple) -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0]), True
    return tensors, len(tensors) > 1


def atleast_1d(*tensors):
    """Mirrors ``torch.atleast_1d``: a 0-d tensor becomes a 1-element view; others are
    returned as they are. Several tensors (or a list) give a tuple."""
    tensors, many = _unpack_tensors(tensors)
    tensor_list(tensors, "atleast_1d")
    out = tuple(_as_1d(t) for t in tensors)
    return out if many else out[0]


def atleast_2d(*tensors):
    """Mirrors ``torch.atleast_2d``."""
    tensors, many = _unpack_tensors(tensors)
    tensor_list(tensors, "atleast_2d")
    out = []
    for t in tensors:
        n = t._data.ndim
        out.append(_reshape(t, (1, 1)) if n == 0 else unsqueeze(t, 0) if n == 1 else t)
    return tuple(out) if many else out[0]


def atleast_3d(*tensors):
    """Mirrors ``torch.atleast_3d``: a vector of n becomes (1, n, 1), a matrix (m, n) becomes
    (m, n, 1)."""
    tensors, many = _unpack_tensors(tensors)
    tensor_list(tensors, "atleast_3d")
    out = []
    for t in tensors:
        n = t._data.ndim
        if n == 0:
            t = _reshape(t, (1, 1, 1))
        elif n == 1:
            t = unsqueeze(unsqueeze(t, 0), -1)
        elif n == 2:
            t = unsqueeze(t, -1)
        out.append(t)
    return tuple(out) if many else out[0]


def _nonempty(tensors, name: str) -> tuple:
    tensors = tensor_list(tensors, name)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors) -> Tensor:
    """Mirrors ``torch.hstack``: ``cat`` along dim 1, or dim 0 for vectors."""
    tensors = atleast_1d(_nonempty(tensors, "hstack"))
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Mirrors ``torch.vstack`` (and ``row_stack``): ``cat`` of ``atleast_2d`` along dim 0."""
    return cat(atleast_2d(_nonempty(tensors, "vstack")), 0)


def row_stack(tensors) -> Tensor:
    """Mirrors ``torch.row_stack``: ``vstack``, under its own name in torch's errors."""
    return cat(atleast_2d(_nonempty(tensors, "row_stack")), 0)


def dstack(tensors) -> Tensor:
    """Mirrors ``torch.dstack``: ``cat`` of ``atleast_3d`` along dim 2."""
    return cat(atleast_3d(_nonempty(tensors, "dstack")), 2)


def column_stack(tensors) -> Tensor:
    """Mirrors ``torch.column_stack``: vectors and scalars become columns, then ``hstack``."""
    tensors = _nonempty(tensors, "column_stack")
    return hstack([_reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t
                   for t in tensors])


# ---- reshaping views -------------------------------------------------------------------


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Mirrors ``torch.flatten``: a view when the strides allow (``reshape``), else a copy;
    ``input`` itself when there is nothing to merge."""
    if type(start_dim) is not int or type(end_dim) is not int:
        start_dim, end_dim = int_arguments("flatten", 2, start_dim=start_dim, end_dim=end_dim)
    try:
        data = input._data
    except AttributeError as error:
        refuse_non_tensor("flatten", error, input, "input")
        raise
    if data.ndim == 0:
        return _reshape(input, (1,))
    start = wrap_dim(start_dim, data.ndim)
    end = wrap_dim(end_dim, data.ndim)
    if start > end:
        raise RuntimeError(
            "flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    shape = data.shape
    merged = 1
    for s in shape[start:end + 1]:
        merged *= s
    return _reshape(input, shape[:start] + (merged,) + shape[end + 1:])


def _flatten_method(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Mirrors ``Tensor.flatten`` (NOTE [Method argument positions])."""
    if type(start_dim) is not int or type(end_dim) is not int:
        start_dim, end_dim = int_arguments("flatten", 1, start_dim=start_dim, end_dim=end_dim)
    return flatten(self, start_dim, end_dim)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Mirrors ``torch.unflatten``: ``dim`` split into ``sizes`` (one may be -1), a view."""
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    size = shape[dim]
    if sizes.count(-1) == 1 and known and size % known == 0:
        sizes = tuple(size // known if s == -1 else s for s in sizes)
        known = size
    elif sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if sizes.count(-1) or known != size:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{dim} ({size}) in the input tensor")
    return view(input, shape[:dim] + sizes + shape[dim + 1:])


def movedim(input: Tensor, source, destination) -> Tensor:
    """Mirrors ``torch.movedim``: a permuted view with ``source`` dims moved to
    ``destination``."""
    n = input._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)")
    src_w = tuple(wrap_dim(d, n) for d in src)
    dst_w = tuple(wrap_dim(d, n) for d in dst)
    if len(set(src_w)) != len(src_w):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(dst_w)) != len(dst_w):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    if n == 0:  # torch's alias of a 0-d tensor
        return alias(input)
    order = [None] * n
    for s, d in zip(src_w, dst_w):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src_w)
    dims = tuple(next(rest) if d is None else d for d in order)
    return run(PERMUTE, input, dims)


moveaxis = movedim


# torch's warnings for a 0-d tensor, which each of these returns as it is (mH and adjoint
# conjugated)
_ZERO_D_TRANSPOSE = {
    "mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these "
          "cases.",
    "mH": "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
    "adjoint()": "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."}
_WARNED_ZERO_D: set = set()


def _matrix_transpose(self: Tensor, what: str) -> Tensor:
    n = self._data.ndim
    if n == 0 and what in _ZERO_D_TRANSPOSE:
        if what not in _WARNED_ZERO_D:  # torch warns once a process
            _WARNED_ZERO_D.add(what)
            warnings.warn(_ZERO_D_TRANSPOSE[what], UserWarning, stacklevel=3)
        return self
    if n < 2:
        raise RuntimeError(
            f"tensor.{what} is only supported on matrices or batches of matrices. Got {n}-D "
            "tensor.")
    return run(TRANSPOSE, self, n - 2, n - 1)


def _mT(self: Tensor) -> Tensor:
    return _matrix_transpose(self, "mT")


def _mH(self: Tensor) -> Tensor:
    out = _matrix_transpose(self, "mH")
    return out.conj() if self._data.dtype.kind == "c" else out


def adjoint(input: Tensor) -> Tensor:
    """Mirrors ``torch.adjoint``: the conjugate transpose of the last two dims, a view for
    real tensors. ember has no lazy conjugation, so for complex tensors it is a copy."""
    try:
        out = _matrix_transpose(input, "adjoint()")
    except AttributeError as error:
        refuse_non_tensor("adjoint", error, input, "input")
        raise
    return out.conj() if input._data.dtype.kind == "c" else out


# ---- broadcasting ----------------------------------------------------------------------


def _broadcast_to(input: Tensor, *size) -> Tensor:
    """Mirrors ``Tensor.broadcast_to``: ``input.expand(size)``, a view."""
    return expand(input, *size)


def broadcast_shapes(*shapes) -> Size:
    """Mirrors ``torch.broadcast_shapes``: the shape the given shapes broadcast to."""
    given = [(s,) if isinstance(s, int) else s for s in shapes]  # as torch's error shows them
    shapes = [tuple(s) for s in given]
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for k, s in enumerate(shapes):
        for i in range(-1, -len(s) - 1, -1):
            size = s[i]
            if size < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if out[i] == 1:
                out[i] = size
            elif size != 1 and size != out[i]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {size} at {i}! Mismatching "
                    f"argument at index {k} had {given[k]!r}; but expected shape should be "
                    f"broadcastable to {out}")
    return Size(out)


def broadcast_tensors(*tensors) -> tuple:
    """Mirrors ``torch.broadcast_tensors``: each tensor expanded (a view) to the common
    shape; a tensor that already has it is returned as it is, as torch does. A list of
    tensors is refused, as torch refuses it."""
    tensor_list(tensors, "broadcast_tensors")
    shapes = [t._data.shape for t in tensors]
    error = broadcast_error(shapes)
    if error is not None:
        raise error
    shape = tuple(broadcast_shapes(*shapes))
    return tuple(t if t._data.shape == shape else run(EXPAND, t, shape) for t in tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Mirrors ``torch.meshgrid``: expanded views of the inputs over the grid of their
    sizes; ``indexing='xy'`` swaps the first two grid dims."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensor_list(tensors, "meshgrid")
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    if any(t._data.dtype != tensors[0]._data.dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    positions = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * len(tensors)
    for t, p in zip(tensors, positions):
        shape[p] = t._data.size
    out = []
    for t, p in zip(tensors, positions):
        column = [1] * len(tensors)
        column[p] = -1
        out.append(run(EXPAND, view(t, tuple(column)), tuple(shape)))
    return tuple(out)


# ---- reordering copies ------------------------------------------------------------------



def _flip(input: Tensor, *order, dims=None) -> Tensor:
    """Mirrors ``Tensor.flip``: reverses the order along ``dims`` (a copy, as in torch)."""
    dims = method_ints("flip", "dims", order, dims)
    _promote.refuse_wide_input(input, "flip_cpu")
    return run(FLIP, input, wrap_dims(dims, input._data.ndim))


def fliplr(input: Tensor) -> Tensor:
    """Mirrors ``torch.fliplr``: ``flip`` of dim 1."""
    try:
        if input._data.ndim < 2:
            raise RuntimeError("Input must be >= 2-d.")
    except AttributeError as error:
        refuse_non_tensor("fliplr", error, input, "input")
        raise
    return run(FLIP, input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Mirrors ``torch.flipud``: ``flip`` of dim 0."""
    try:
        if input._data.ndim < 1:
            raise RuntimeError("Input must be >= 1-d.")
    except AttributeError as error:
        refuse_non_tensor("flipud", error, input, "input")
        raise
    return run(FLIP, input, (0,))


ROLL = defop("roll", node="RollBackward0", kind=KEEP,
             forward=lambda xp, self, shifts, dims: xp.roll(self, shifts, dims),
             backward=lambda grad, self, shifts, dims: run(
                 ROLL, grad, tuple(-s for s in shifts), dims))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Mirrors ``torch.roll``: elements shifted circularly along ``dims`` (over the flattened
    tensor when ``dims`` is None), a copy."""
    return _roll(input, shifts, dims, 2)


def _roll_method(self: Tensor, shifts, dims=None) -> Tensor:
    """Mirrors ``Tensor.roll`` (NOTE [Method argument positions])."""
    return _roll(self, shifts, dims, 1)


def _roll(input: Tensor, shifts, dims, position: int) -> Tensor:
    shifts = int_list((shifts,), "roll", "shifts", position=position)
    dims = () if dims is None else int_list((dims,), "roll", "dims", position=position + 1)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if dims or len(shifts) != 1:
        if len(shifts) != len(dims):
            raise RuntimeError(
                f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
        n = input._data.ndim
        if n == 0:
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
        return run(ROLL, input, shifts, tuple(wrap_dim(d, n) for d in dims))
    return run(ROLL, input, shifts, None)


ROT90 = defop("rot90", node="Rot90Backward0", kind=KEEP,
              forward=lambda xp, self, k, dims: xp.rot90(self, k, dims).copy(),
              backward=lambda grad, self, k, dims: run(ROT90, grad, -k, dims))


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Mirrors ``torch.rot90``: rotates by 90 degrees ``k`` times from the first of ``dims``
    towards the second (a copy)."""
    tensor_argument("rot90", "input", input, 1)
    dims = tuple(dims)
    n = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    wrapped = (wrap_dim(dims[0], n), wrap_dim(dims[1], n))
    if wrapped[0] == wrapped[1]:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = "
            f"{dims[1]}")
    return run(ROT90, input, k % 4, wrapped)


def _repeat_forward(xp, self, repeats, self_sym_sizes):
    padded = (1,) * (len(repeats) - self.ndim) + self.shape
    return xp.tile(self.reshape(padded), repeats)


def _repeat_backward(grad, self, repeats, self_sym_sizes):
    padded = (1,) * (len(repeats) - len(self_sym_sizes)) + tuple(self_sym_sizes)
    interleaved = []
    for r, s in zip(repeats, padded):
        interleaved += [r, s]
    summed = _reshape(grad, tuple(interleaved)).sum(tuple(range(0, 2 * len(padded), 2)))
    return _reshape(summed, self_sym_sizes)


REPEAT = defop("repeat", node="RepeatBackward0", kind=KEEP,
               forward=_repeat_forward, backward=_repeat_backward)


def repeat(self: Tensor, *counts, repeats=None) -> Tensor:
    """Mirrors ``Tensor.repeat``: the tensor tiled ``repeats`` times along each dim (a
    copy); leading repeats add dims."""
    repeats = method_ints("repeat", "repeats", counts, repeats)
    shape = self._data.shape
    if len(repeats) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(repeats) - len(shape)) + shape
    target = [r * s for r, s in zip(repeats, padded)]
    for size in target:
        if size < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {size}: {target}")
    return run(REPEAT, self, repeats, shape)


def tile(input: Tensor, dims) -> Tensor:
    """Mirrors ``torch.tile``: ``repeat`` with ``dims`` padded by leading ones to the
    tensor's rank."""
    return _tile(input, _sequence("tile", "dims", dims))


def _tile(input: Tensor, *given, dims=None) -> Tensor:
    """Mirrors ``Tensor.tile`` (the dims as one sequence or as separate ints)."""
    dims = method_ints("tile", "dims", given, dims)
    lead = input._data.ndim - len(dims)
    return repeat(input, (1,) * lead + dims)


def _repeat_interleave_method(self: Tensor, repeats=None, dim: int | None = None, *,
                              output_size: int | None = None) -> Tensor:
    # the method has no counts-only overload: torch's parser refuses a call without repeats
    if repeats is None:
        raise TypeError(
            "repeat_interleave() received an invalid combination of arguments - got (), but "
            "expected one of:\n * (Tensor repeats, int dim = None, *, int output_size = None)"
            "\n * (int repeats, int dim = None, *, int output_size = None)\n")
    return repeat_interleave(self, repeats, dim, output_size=output_size)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Mirrors ``torch.repeat_interleave``: each element repeated along ``dim`` (the
    flattened tensor when None). A number of repeats is composed as torch composes it
    (unsqueeze, expand, clone, flatten); a tensor of per-element counts selects with
    ``index_select``; ``repeat_interleave(counts)`` alone gives the repeated indices."""
    tensor_argument("repeat_interleave", "input" if repeats is not None else "repeats", input, 1)
    if repeats is None:  # repeat_interleave(counts): 0 counts[0] times, 1 counts[1] times...
        return _repeated_indices(input)
    if isinstance(repeats, Tensor) and repeats._data.ndim == 1 and repeats._data.size != 1:
        if batching.is_batched(repeats):  # each sample's counts: their repeated indices
            return _repeat_by_batched_counts(input, repeats, dim)
        return _repeat_by_counts(input, repeats._data, dim)
    if isinstance(repeats, Tensor):
        repeats = repeats.item()
    repeats = int(repeats)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if dim is None:
        input = flatten(input)
        dim = 0
    n = input._data.ndim
    dim = wrap_dim(dim, n)
    if n == 0:
        input = _reshape(input, (1,))
    shape = input._data.shape
    grown = unsqueeze(input, dim + 1)
    grown = expand(grown, shape[:dim + 1] + (repeats,) + shape[dim + 1:])
    grown = grown.clone(memory_format=contiguous_format)  # C order: the flatten is a view
    return flatten(grown, dim, dim + 1)


@batching.samplewise
def _repeated_indices(counts: Tensor) -> Tensor:
    data = counts._data
    return make(np.repeat(np.arange(data.shape[0] if data.ndim else 1), data))


def _repeat_by_batched_counts(input: Tensor, counts: Tensor, dim: int | None) -> Tensor:
    """``repeat_interleave`` with counts that differ by sample (vmap): each sample selects
    its own repeated indices (samples whose totals differ are refused, as torch refuses a
    dynamic shape)."""
    from ember._ops.indexing import index_select

    if dim is None:
        input = flatten(input)
        dim = 0
    dim = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    if counts._data.shape[0] != size:
        raise RuntimeError(
            "repeats must have the same size as input along dim, but got repeats.size(0) = "
            f"{counts._data.shape[0]} and input.size(0) = {size}")
    if (batching.values(counts) < 0).any():
        raise RuntimeError("repeats can not be negative")
    return index_select(input, dim, _repeated_indices(counts))


def _repeat_by_counts(input: Tensor, counts, dim: int | None) -> Tensor:
    from ember._ops.indexing import index_select

    if dim is None:
        input = flatten(input)
        dim = 0
    dim = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    if counts.shape[0] != size:
        raise RuntimeError(
            "repeats must have the same size as input along dim, but got repeats.size(0) = "
            f"{counts.shape[0]} and input.size(0) = {size}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return index_select(input, dim, make(np.repeat(np.arange(size), counts)))


# ---- triangles and diagonals ------------------------------------------------------------


TRIL = defop("tril", node="TrilBackward0", kind=KEEP,
             forward=lambda xp, self, diagonal: xp.tril(self, diagonal),
             backward=lambda grad, self, diagonal: run(TRIL, grad, diagonal))
TRIU = defop("triu", node="TriuBackward0", kind=KEEP,
             forward=lambda xp, self, diagonal: xp.triu(self, diagonal),
             backward=lambda grad, self, diagonal: run(TRIU, grad, diagonal))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Mirrors ``torch.tril``: the lower triangle of the last two dims (a copy)."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return run(TRIL, input, int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Mirrors ``torch.triu``: the upper triangle of the last two dims (a copy)."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return run(TRIU, input, int(diagonal))


def _diagonal_view(xp, a, offset, dim1, dim2):
    """A writable strided view of a diagonal (NumPy's ``diagonal`` is read-only, and a
    write through an ember view must reach its base)."""
    a = xp.moveaxis(a, (dim1, dim2), (-2, -1))
    rows, cols = a.shape[-2:]
    if offset >= 0:
        a = a[..., :, offset:]
        length = max(0, min(rows, cols - offset))
    else:
        a = a[..., -offset:, :]
        length = max(0, min(rows + offset, cols))
    step = a.strides[-2] + a.strides[-1]
    return _as_strided(xp, a, a.shape[:-2] + (length,), a.strides[:-2] + (step,))


def _diagonal_scatter(xp, grad, self_sym_sizes, offset, dim1, dim2):
    out = xp.zeros(self_sym_sizes, grad.dtype)
    _diagonal_view(xp, out, offset, dim1, dim2)[...] = grad
    return out


DIAGONAL_BACKWARD = defop(
    "diagonal_backward", node="DiagonalBackwardBackward0", kind=KEEP,
    forward=_diagonal_scatter,
    backward=lambda grad, g, self_sym_sizes, offset, dim1, dim2: run(
        DIAGONAL, grad, offset, dim1, dim2, self_sym_sizes))
DIAGONAL = defop(
    "diagonal", node="DiagonalBackward0", kind=KEEP, view=True,
    forward=lambda xp, self, offset, dim1, dim2, self_sym_sizes: _diagonal_view(
        xp, self, offset, dim1, dim2),
    backward=lambda grad, self, offset, dim1, dim2, self_sym_sizes: run(
        DIAGONAL_BACKWARD, grad, self_sym_sizes, offset, dim1, dim2))
# torch.diag of a matrix is diagonal_copy, whose node torch names so.
DIAG_COPY = defop(
    "diag", node="DiagonalBackward0_copy", kind=KEEP,
    forward=lambda xp, self, offset, dim1, dim2, self_sym_sizes: _diagonal_view(
        xp, self, offset, dim1, dim2).copy(),
    backward=lambda grad, self, offset, dim1, dim2, self_sym_sizes: run(
        DIAGONAL_BACKWARD, grad, self_sym_sizes, offset, dim1, dim2))


def _distinct_dims(dim1: int, dim2: int, n: int) -> tuple:
    d1 = wrap_dim(dim1, n)
    d2 = wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """Mirrors ``torch.diagonal``: a view of the diagonal of dims ``dim1`` and ``dim2``,
    appended as the last dim."""
    try:
        shape = input._data.shape
    except AttributeError as error:
        refuse_non_tensor("diagonal", error, input, "input")
        raise
    if type(offset) is not int or type(dim1) is not int or type(dim2) is not int:
        offset, dim1, dim2 = int_arguments("diagonal", 2, offset=offset, dim1=dim1, dim2=dim2)
    d1, d2 = _distinct_dims(dim1, dim2, len(shape))
    return run(DIAGONAL, input, int(offset), d1, d2, shape)


def _diag_embed_forward(xp, self, offset, dim1, dim2):
    size = self.shape[-1] + abs(offset) if self.ndim else 1
    batch = iter(self.shape[:-1])
    shape = tuple(size if d in (dim1, dim2) else next(batch) for d in range(self.ndim + 1))
    out = xp.zeros(shape, self.dtype)
    _diagonal_view(xp, out, offset, dim1, dim2)[...] = self
    return out


DIAG_EMBED = defop(
    "diag_embed", node="DiagEmbedBackward0", kind=KEEP, forward=_diag_embed_forward,
    backward=lambda grad, self, offset, dim1, dim2: diagonal(grad, offset, dim1, dim2))


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Mirrors ``torch.diag_embed``: the last dim of ``input`` placed on the diagonal of
    new dims ``dim1`` and ``dim2`` (zeros elsewhere)."""
    if type(offset) is not int or type(dim1) is not int or type(dim2) is not int:
        offset, dim1, dim2 = int_arguments("diag_embed", 2, offset=offset, dim1=dim1,
                                           dim2=dim2)
    try:
        d1, d2 = _distinct_dims(dim1, dim2, input._data.ndim + 1)
    except AttributeError as error:
        refuse_non_tensor("diag_embed", error, input, "input")
        raise
    return run(DIAG_EMBED, input, int(offset), d1, d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """Mirrors ``torch.diag``: a vector's square diagonal matrix, or a copy of a matrix's
    diagonal."""
    shape = input._data.shape
    if len(shape) == 1:
        return run(DIAG_EMBED, input, int(diagonal), 0, 1)
    if len(shape) == 2:
        return run(DIAG_COPY, input, int(diagonal), 0, 1, shape)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {len(shape)}D")


def _trace_forward(xp, self):
    dtype = xp.int64 if self.dtype.kind in "iub" else self.dtype
    return xp.asarray(xp.trace(self, dtype=dtype))


def _trace_backward(grad, self, self_sym_sizes):
    length = min(self_sym_sizes)
    return run(DIAGONAL_BACKWARD, expand(grad, (length,)), self_sym_sizes, 0, 0, 1)


TRACE = defop("trace", node="TraceBackward0", kind=KEEP,
              forward=lambda xp, self, self_sym_sizes: _trace_forward(xp, self),
              backward=_trace_backward)


def trace(input: Tensor) -> Tensor:
    """Mirrors ``torch.trace``: the sum of a matrix's diagonal (integers sum to int64)."""
    try:
        shape = input._data.shape
    except AttributeError as error:
        refuse_non_tensor("trace", error, input, "input")
        raise
    if len(shape) != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {len(shape)}")
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return run(TRACE, input, shape)


# ---- memory layout ---------------------------------------------------------------------


def stride(self: Tensor, dim: int | None = None):
    """Mirrors ``Tensor.stride``: steps in elements (not bytes) between neighbours along
    each dim. An empty tensor keeps the strides it was made or viewed with (NumPy keeps
    them through slicing, transposing and ``as_strided``); NumPy makes a fresh empty array
    with all strides zero, where torch lays it out contiguously, counting a size-0 dim as
    1."""
    data = self._data
    byte_steps = data.strides
    if data.size == 0 and not any(byte_steps):
        made = self.__dict__.get("_view_src")
        if made is not None and made[0] is EXPAND:  # zero strides that torch gives too
            parent = made[1]
            steps = _expand_steps(parent._data.shape, stride(parent), data.shape)
            return steps if dim is None else steps[dim_of_size("stride", dim, data.ndim)]
        steps = []
        step = 1
        for size in reversed(data.shape):
            steps.append(step)
            step *= max(size, 1)
        steps = tuple(reversed(steps))
    else:
        item = data.itemsize
        steps = tuple(s // item for s in byte_steps)
    return steps if dim is None else steps[dim_of_size("stride", dim, data.ndim)]


def _address(data: ndarray) -> int:
    return data.__array_interface__["data"][0]


def storage_offset(self: Tensor) -> int:
    """Mirrors ``Tensor.storage_offset``: where the first element sits in the base's memory,
    in elements (a tensor that is not a view owns its memory from its first element)."""
    memory = _memory(self)
    if memory is self._data:
        return 0
    data = self._data
    return (_address(data) - _address(memory)) // data.itemsize


def _memory(t: Tensor) -> ndarray:
    """The array that stands for ``t``'s storage: its base's data, or what that data was
    before an ``as_strided_`` moved the base's start."""
    base = t if t._base is None else t._base
    return base.__dict__.get("_storage", base._data)


def data_ptr(self: Tensor) -> int:
    """Mirrors ``Tensor.data_ptr``: the address of the first element (0 when empty, as torch
    allocates nothing), equal for views that start at the same element."""
    data = self._data
    return 0 if data.size == 0 else _address(data)


def _sequence(name: str, arg: str, value) -> tuple:
    return int_list((value,), name, arg, one_int=False, position=2)


# torch's functions take the sizes or dims as one sequence (its Tensor methods also take them
# as separate arguments: the ``_``-prefixed forms above)
def reshape(input: Tensor, shape) -> Tensor:
    """Mirrors ``torch.reshape``: see ``Tensor.reshape``."""
    return _reshape(input, _sequence("reshape", "shape", shape))


def permute(input: Tensor, dims) -> Tensor:
    """Mirrors ``torch.permute``: see ``Tensor.permute``."""
    return _permute(input, _sequence("permute", "dims", dims))


def flip(input: Tensor, dims) -> Tensor:
    """Mirrors ``torch.flip``: reverses the order along ``dims`` (a copy, as in torch)."""
    return _flip(input, _sequence("flip", "dims", dims))


def broadcast_to(input: Tensor, size) -> Tensor:
    """Mirrors ``torch.broadcast_to``: ``input.expand(size)``, a view."""
    return _broadcast_to(input, _sequence("broadcast_to", "size", size))


attach({
    "view": view, "view_as": view_as, "reshape": _reshape, "reshape_as": reshape_as,
    "transpose": _transpose_method, "swapaxes": ints_method(swapaxes, "axis0", "axis1"),
    "swapdims": ints_method(swapdims, "dim0", "dim1"), "t": t,
    "permute": _permute, "T": property(_T), "mT": property(_mT), "mH": property(_mH),
    "H": property(_mH), "adjoint": adjoint,
    "squeeze": squeeze, "unsqueeze": _unsqueeze_method, "expand": expand, "expand_as": expand_as,
    "__getitem__": getitem, "select": ints_method(select, "dim", "index"), "__iter__": _iter,
    "unbind": unbind,
    "split": _split_method, "split_with_sizes": _split_with_sizes_method, "chunk": _chunk_method,
    "narrow": _narrow_method, "tensor_split": tensor_split, "flatten": _flatten_method,
    "unflatten": unflatten,
    "movedim": movedim, "moveaxis": movedim, "broadcast_to": _broadcast_to,
    "flip": _flip, "fliplr": fliplr, "flipud": flipud, "roll": _roll_method, "rot90": rot90,
    "repeat": repeat, "tile": _tile, "repeat_interleave": _repeat_interleave_method,
    "tril": tril, "triu": triu, "diagonal": ints_method(diagonal, "offset", "dim1", "dim2"),
    "diag_embed": ints_method(diag_embed, "offset", "dim1", "dim2"), "diag": diag,
    "trace": trace, "stride": stride, "storage_offset": storage_offset, "data_ptr": data_ptr,
})

__all__ = [
    "adjoint", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes",
    "broadcast_tensors", "broadcast_to", "cat", "chunk", "column_stack", "concat",
    "concatenate", "diag", "diag_embed", "diagonal", "dstack", "flatten", "flip", "fliplr",
    "flipud", "hstack", "meshgrid", "moveaxis", "movedim", "narrow", "permute",
    "repeat_interleave", "reshape", "roll", "rot90", "row_stack", "select", "split",
    "split_with_sizes", "squeeze", "stack",
    "swapaxes", "swapdims", "t", "tensor_split", "tile", "trace", "transpose", "tril", "triu",
    "unbind", "unflatten", "unsqueeze", "vstack",
]


# ---- in-place view ops: t_, transpose_, swapaxes_, swapdims_, squeeze_, unsqueeze_ --------
# torch's in-place forms change the tensor's sizes and strides, not its memory: the tensor
# becomes the view the out-of-place op would return, of the same memory; its version counter
# moves, and its history goes on through a node of its own (TransposeBackward1, ...).

def _view_op_(op: Op, node: str) -> Op:
    return defop(op.name + "_", node=node, kind=KEEP, view=True, forward=op.forward,
                 backward=op.backward)


TRANSPOSE_ = _view_op_(TRANSPOSE, "TransposeBackward1")
T_ = _view_op_(T, "TBackward1")
SQUEEZE_ = _view_op_(SQUEEZE, "SqueezeBackward3")
SQUEEZE_DIMS_ = _view_op_(SQUEEZE_DIMS, "SqueezeBackward5")
UNSQUEEZE_ = _view_op_(UNSQUEEZE, "UnsqueezeBackward1")


def _restride(self: Tensor, op: Op, *params) -> Tensor:
    """Make ``self`` the view ``op`` gives of it, in place (see above). Nothing changes when
    a check raises."""
    check_inplace(self)
    if "_phys" in self.__dict__:
        raise RuntimeError("ember: in-place ops on batched tensors inside vmap are not "
                           "supported yet; use the out-of-place op")
    out = run(op, self, *params)
    if self._base is not None:
        # Still a view of the same base: its recipe gains this step, from what ``self`` was
        # (an in-place write through it later replays the whole recipe on the base).
        before = make(self._data, self._requires_grad, self._grad_fn, self._vc)
        before._output_nr = self._output_nr
        before._base = self._base
        made = self._view_src
        before._view_src = made
        # its history is ``out``'s, made at the version this write leaves (NOTE [Stale views])
        self._view_src = (op, before, params, None, None if made[4] is None else
                          self._vc[0] + 1)
    self._data = out._data
    self._vc[0] += 1
    # Recipes of views made before may no longer fit their base: registry._copy_slices then
    # checks each replay.
    (self if self._base is None else self._base)._restrided = True
    if out._grad_fn is not None:
        self._grad_fn = out._grad_fn
        self._requires_grad = True
        self._output_nr = 0
    fw = out.__dict__.get("_fw")
    if fw is not None:
        self._fw = fw
    return self


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """Mirrors ``Tensor.transpose_`` (and ``swapaxes_``/``swapdims_``): ``self`` becomes its
    transpose, in place."""
    n = self._data.ndim
    return _restride(self, TRANSPOSE_, wrap_dim(dim0, n), wrap_dim(dim1, n))


def t_(self: Tensor) -> Tensor:
    """Mirrors ``Tensor.t_``: ``self`` (at most 2 dims) becomes its transpose, in place."""
    n = self._data.ndim
    if n > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _restride(self, T_)


def squeeze_(self: Tensor, dim=None) -> Tensor:
    """Mirrors ``Tensor.squeeze_``: ``self`` loses its size-1 dims (all, one, or a tuple
    of them), in place."""
    data = self._data
    n = data.ndim
    if dim is None:
        return _restride(self, SQUEEZE_, None, data.shape)
    if isinstance(dim, int):
        return _restride(self, SQUEEZE_INPLACE_DIM, (wrap_dim(dim, n),), data.shape)
    return _restride(self, SQUEEZE_DIMS_, wrap_dims(dim, n), data.shape)


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """Mirrors ``Tensor.unsqueeze_``: ``self`` gains a size-1 dim at ``dim``, in place."""
    return _restride(self, UNSQUEEZE_, wrap_dim(dim, self._data.ndim + 1))


attach({"transpose_": ints_method(transpose_, "dim0", "dim1"),
        "swapaxes_": ints_method(transpose_, "axis0", "axis1", name="swapaxes_"),
        "swapdims_": ints_method(transpose_, "dim0", "dim1", name="swapdims_"), "t_": t_,
        "squeeze_": squeeze_, "unsqueeze_": unsqueeze_})


# ---- more shape ops: ravel, unfold, sum_to_size, hsplit/vsplit/dsplit, diagflat,
# ---- cartesian_prod, combinations, block_diag, the *_scatter ops -------------------------


def ravel(input: Tensor) -> Tensor:
    """Mirrors ``torch.ravel``: a 1-D view when the memory allows, else a copy (torch's
    ``contiguous().view(-1)``)."""
    try:
        return view(input.contiguous(), (-1,))
    except AttributeError as error:
        refuse_non_tensor("ravel", error, input, "input")
        raise


def _unfold_forward(xp, self, dim, size, step):
    if self.ndim == 0:
        return self.reshape((1,))
    count = (self.shape[dim] - size) // step + 1
    stride = self.strides[dim]
    shape = self.shape[:dim] + (count,) + self.shape[dim + 1:] + (size,)
    strides = self.strides[:dim] + (stride * step,) + self.strides[dim + 1:] + (stride,)
    return _as_strided(xp, self, shape, strides)


def _unfold_backward_forward(xp, grad, self_sym_sizes, dim, size, step):
    if not self_sym_sizes:
        return grad.reshape(())
    out = xp.zeros(self_sym_sizes, grad.dtype)
    count = grad.shape[dim]
    target = xp.moveaxis(out, dim, 0)
    windows = xp.moveaxis(grad, (dim, grad.ndim - 1), (0, 1))
    for k in range(size):  # element k of every window lands at k, k + step, ...
        target[k:k + step * (count - 1) + 1:step] += windows[:, k]
    return out


UNFOLD_BACKWARD = defop(
    "unfold_backward", node="UnfoldBackwardBackward0", kind=KEEP,
    forward=_unfold_backward_forward,
    backward=lambda grad, g, self_sym_sizes, dim, size, step: run(
        UNFOLD, grad, dim, size, step, self_sym_sizes))
def _unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Mirrors ``Tensor.unfold``: a view of the windows of ``size`` elements, ``step``
    apart, along ``dimension`` (a new last dim holds each window)."""
    shape = self._data.shape
    dim = wrap_dim(dimension, len(shape))
    length = shape[dim] if shape else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {dim} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return run(UNFOLD, self, dim, size, step, shape)


UNFOLD = defop(
    "unfold", node="UnfoldBackward0", kind=KEEP, view=True,
    forward=lambda xp, self, dim, size, step, self_sym_sizes: _unfold_forward(
        xp, self, dim, size, step),
    backward=lambda grad, self, dim, size, step, self_sym_sizes: run(
        UNFOLD_BACKWARD, grad, self_sym_sizes, dim, size, step))


def _sum_to_size(self: Tensor, *size, **keyword) -> Tensor:
    """Mirrors ``Tensor.sum_to_size``: sums ``self`` down to ``size``, which must expand to
    ``self``'s shape; ``self`` itself when the sizes already agree."""
    from ember.autograd.graph import sum_to

    if "size" in keyword:  # sum_to_size(size=(1, 3))
        if size:
            raise TypeError("sum_to_size() got multiple values for argument 'size'")
        size = (keyword.pop("size"),)
    if keyword and size:
        raise TypeError(f"sum_to_size() got an unexpected keyword argument '{next(iter(keyword))}'")
    if not size:
        raise TypeError('sum_to_size() missing 1 required positional arguments: "size"')
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = self._data.shape
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if tuple(size) == shape:
        return self
    return sum_to(self, tuple(size))


def _split_by(input: Tensor, spec, dim: int, name: str, min_dims: int) -> tuple:
    n = input._data.ndim
    if n < min_dims:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a "
            f"tensor with {n} dimensions!")
    if isinstance(spec, int):
        size = input._data.shape[dim]
        if spec == 0 or size % spec:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                f"dimension {size} is not divisible by the split_size {spec}!")
    return _tensor_split(input, spec, dim)


def hsplit(input: Tensor, sections=None, *, indices=None) -> tuple:
    """Mirrors ``torch.hsplit``: ``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); a
    number of sections must divide the size. The split is ``sections`` or ``indices`` (see
    ``tensor_split``)."""
    tensor_argument("hsplit", "input", input, 1)
    dim = 1 if input._data.ndim > 1 else 0
    return _split_by(input, _split_spec("hsplit", sections, indices), dim, "hsplit", 1)


def vsplit(input: Tensor, sections=None, *, indices=None) -> tuple:
    """Mirrors ``torch.vsplit``: ``tensor_split`` along dim 0 of a tensor of 2+ dims (see
    ``hsplit``)."""
    return _split_by(input, _split_spec("vsplit", sections, indices), 0, "vsplit", 2)


def dsplit(input: Tensor, sections=None, *, indices=None) -> tuple:
    """Mirrors ``torch.dsplit``: ``tensor_split`` along dim 2 of a tensor of 3+ dims (see
    ``hsplit``)."""
    return _split_by(input, _split_spec("dsplit", sections, indices), 2, "dsplit", 3)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """Mirrors ``torch.diagflat``: the flattened ``input`` on the ``offset`` diagonal of a
    square matrix."""
    try:
        return run(DIAG_EMBED, _reshape(input, (-1,)), int(offset), 0, 1)
    except AttributeError as error:
        refuse_non_tensor("diagflat", error, input, "input")
        raise


def cartesian_prod(*tensors) -> Tensor:
    """Mirrors ``torch.cartesian_prod``: every combination of one element from each 1-D
    tensor, one per row (a single tensor comes back as it is)."""
    tensor_list(tensors, "cartesian_prod")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([_reshape(g, (-1,)) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Mirrors ``torch.combinations``: the length-``r`` combinations of a 1-D tensor's
    elements, one per row, in itertools' order."""
    tensor_argument("combinations", "input", input, 1)
    import itertools

    if input._data.ndim != 1:
        raise RuntimeError(
            f"Expect a 1D vector, but got shape {list(input._data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return make(np.empty(0, input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = np.array(list(pick(range(input._data.shape[0]), r)), np.int64).reshape(-1, r)
    from ember._ops.indexing import index_select

    return stack([index_select(input, 0, make(rows[:, k].copy())) for k in range(r)], 1)


def _block_diag_forward(xp, *arrays_and_spans):
    *arrays, spans, shape, shapes = arrays_and_spans
    dtype = xp.result_type(*arrays) if arrays else xp.float32
    out = xp.zeros(shape, dtype)
    for a, (r, c, rows, cols) in zip(arrays, spans):
        out[r:r + rows, c:c + cols] = a.reshape(rows, cols)
    return out


def _block_diag_piece(i: int):
    def formula(grad, *args):
        spans, _, shapes = args[-3:]
        r, c, rows, cols = spans[i]
        return _reshape(grad[r:r + rows, c:c + cols], shapes[i])
    return formula


def block_diag(*tensors) -> Tensor:
    """Mirrors ``torch.block_diag``: the tensors (0-, 1- or 2-D; a 1-D one is a row) as the
    blocks of a block-diagonal matrix, dtypes promoted."""
    tensor_list(tensors, "block_diag")
    spans = []
    r = c = 0
    for i, t in enumerate(tensors):
        shape = t._data.shape
        if len(shape) > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} "
                f"has {len(shape)} dimensions")
        rows, cols = (1, 1) if not shape else (1, shape[0]) if len(shape) == 1 else shape
        spans.append((r, c, rows, cols))
        r, c = r + rows, c + cols
    if not tensors:
        return make(np.zeros((1, 0), np.float32))  # torch's shape for no blocks
    op = variadic("block_diag", "BlockDiagBackward0", len(tensors), _block_diag_forward,
                  _block_diag_piece)
    return run(op, *tensors, tuple(spans), (r, c), tuple(t._data.shape for t in tensors))


# The *_scatter ops: ``input`` with a selection (a select, a slice or a diagonal) replaced by
# ``src``, out of place. ``kind`` names the selection, ``params`` its arguments.

_WHERE = {
    "select": lambda xp, a, dim, index: a[(slice(None),) * dim + (index, Ellipsis)],
    "slice": lambda xp, a, dim, start, end, step: a[
        (slice(None),) * dim + (slice(start, end, step),)],
    "diagonal": _diagonal_view,
}


def _selection(t: Tensor, kind: str, params: tuple) -> Tensor:
    """The selection of ``t`` in ember ops (differentiable): src's gradient."""
    if kind == "select":
        return select(t, *params)
    if kind == "slice":
        dim, start, end, step = params
        return getitem(t, (slice(None),) * dim + (slice(start, end, step),))
    return diagonal(t, *params)


def _scatter_forward(xp, self, src, kind, params, src_shape):
    out = self.copy()
    _WHERE[kind](xp, out, *params)[...] = src
    return out


def _scatter_input_grad(grad, self, src, kind, params, src_shape):
    from ember._ops.creation import zeros

    return run(_SCATTERS[kind], grad, zeros(src_shape, dtype=grad.dtype), kind, params,
               src_shape)


_SCATTERS = {
    kind: defop(f"{kind}_scatter", node=node, nin=2, kind=KEEP, promote=(0,),
                forward=_scatter_forward,
                backward=(_scatter_input_grad,
                          lambda grad, self, src, kind, params, src_shape: _selection(
                              grad, kind, params)))
    for kind, node in (("select", "SelectScatterBackward0"),
                       ("slice", "SliceScatterBackward0"),
                       ("diagonal", "DiagonalScatterBackward0"))}


def _scatter(input: Tensor, src: Tensor, kind: str, params: tuple) -> Tensor:
    expected = _WHERE[kind](np, input._data, *params).shape
    if src._data.shape != expected:
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src._data.shape)}, slice size = {list(expected)}")
    return run(_SCATTERS[kind], input, src, kind, params, src._data.shape)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """Mirrors ``torch.select_scatter``: ``input`` with ``input.select(dim, index)``
    replaced by ``src`` (a copy)."""
    n = input._data.ndim
    if n == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = wrap_dim(dim, n)
    size = input._data.shape[dim]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size "
            f"{list(input._data.shape)} at dimension {dim}")
    return _scatter(input, src, "select", (dim, index % size))


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None,
                  step: int = 1) -> Tensor:
    """Mirrors ``torch.slice_scatter``: ``input`` with the slice ``start:end:step`` of
    ``dim`` replaced by ``src`` (a copy)."""
    tensor_argument("slice_scatter", "src", src, 2)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    dim = wrap_dim(dim, input._data.ndim)
    return _scatter(input, src, "slice", (dim, start, end, step))


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """Mirrors ``torch.diagonal_scatter``: ``input`` with ``input.diagonal(offset, dim1,
    dim2)`` replaced by ``src`` (a copy)."""
    tensor_argument("diagonal_scatter", "src", src, 2)
    d1, d2 = _distinct_dims(dim1, dim2, input._data.ndim)
    return _scatter(input, src, "diagonal", (int(offset), d1, d2))


attach({
    "ravel": ravel, "unfold": _unfold, "sum_to_size": _sum_to_size, "hsplit": hsplit,
    "vsplit": vsplit, "dsplit": dsplit, "diagflat": diagflat, "select_scatter": select_scatter,
    "slice_scatter": method_taking_tensor(slice_scatter, "src"),
    "diagonal_scatter": method_taking_tensor(diagonal_scatter, "src"),
})
__all__ += [
    "ravel", "hsplit", "vsplit", "dsplit", "diagflat", "cartesian_prod", "combinations",
    "block_diag", "select_scatter", "slice_scatter", "diagonal_scatter",
]


# ---- view_as_real, view_as_complex, vander, fill_diagonal_ -------------------------------

_REAL_OF = {np.dtype(np.complex64): np.float32, np.dtype(np.complex128): np.float64}


def _view_as_real_forward(xp, self):
    # A trailing axis of length 1 is contiguous whatever the other strides, so NumPy can
    # reinterpret each complex element as its two floats in place.
    return self[..., None].view(_REAL_OF[self.dtype])


def _view_as_complex_forward(xp, self):
    return self.view(np.complex64 if self.dtype == np.float32 else np.complex128)[..., 0]


VIEW_AS_REAL = defop("view_as_real", node="ViewAsRealBackward0", kind=KEEP, view=True,
                     forward=_view_as_real_forward,
                     backward=lambda grad, self: run(VIEW_AS_COMPLEX, grad.contiguous()))
# the incoming gradient's real and imaginary parts are the pairs' gradients, as they are
VIEW_AS_COMPLEX = defop("view_as_complex", node="ViewAsComplexBackward0", kind=KEEP,
                        view=True, forward=_view_as_complex_forward, real_formulas=False,
                        backward=lambda grad, self: run(VIEW_AS_REAL, grad))


def view_as_real(input: Tensor) -> Tensor:
    """Mirrors ``torch.view_as_real``: a float view of a complex tensor's memory with a new
    last dim of size 2 (real, imaginary)."""
    try:
        if input._data.dtype.kind != "c":
            raise RuntimeError("view_as_real is only supported for complex tensors")
    except AttributeError as error:
        refuse_non_tensor("view_as_real", error, input, "input")
        raise
    return run(VIEW_AS_REAL, input)


def view_as_complex(input: Tensor) -> Tensor:
    """Mirrors ``torch.view_as_complex``: a complex view of a float tensor whose last dim
    holds (real, imaginary) pairs. ember has no complex32, so float16 pairs are refused."""
    try:
        data = input._data
    except AttributeError as error:
        refuse_non_tensor("view_as_complex", error, input, "input")
        raise
    if data.dtype not in (np.float16, np.float32, np.float64):
        raise RuntimeError("view_as_complex is only supported for half, float and double "
                           "tensors, but got a tensor of scalar type: "
                           f"{scalar_type_name(input.dtype)}")
    if data.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last "
                           "dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    if data.dtype == np.float16:
        raise TypeError("ember has no complex32 (torch's ComplexHalf); use float32 pairs")
    return run(VIEW_AS_COMPLEX, input)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """Mirrors ``torch.vander``: the Vandermonde matrix of the 1-D ``x`` with ``N`` columns
    (``len(x)`` by default): powers ``x**(N-1) ... x**0``, or ascending with
    ``increasing``; integers and bool give int64."""
    tensor_argument("vander", "x", x, 1)
    from ember._ops.creation import empty, ones

    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0]
    if N is None:
        N = n
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = x.dtype if x._data.dtype.kind in "fc" else int64
    if N == 0:
        return empty((n, 0), dtype=dtype)
    result = ones((n, N), dtype=dtype)
    if N > 1:
        # as torch: powers written into columns 1.. of a ones matrix (CopySlices), reversed
        result[:, 1:] = x.to(dtype).unsqueeze(1).expand(n, N - 1).cumprod(1)
    return result if increasing else result.flip(1)


def _fill_diagonal_forward(xp, self, fill_value, wrap):
    out = self.copy()
    xp.fill_diagonal(out, fill_value, wrap=wrap)
    return out


FILL_DIAGONAL = defop("fill_diagonal_", node="CopySlices", kind=KEEP,
                      forward=_fill_diagonal_forward,
                      backward=lambda grad, self, fill_value, wrap: run(
                          FILL_DIAGONAL, grad, 0, wrap))
# torch fills the diagonal through a view of the tensor, so its node is CopySlices
FILL_DIAGONAL.node_cls.name = lambda self: "torch::autograd::CopySlices"


def _fill_diagonal(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    from ember._ops.registry import inplace
    from ember.autograd import grad_mode

    shape = self._data.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if self._requires_grad and self._grad_fn is None and grad_mode.is_grad_enabled():
        # torch writes through a diagonal view, so its refusal names a view of the leaf
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    return inplace(lambda t: run(FILL_DIAGONAL, t, fill_value, bool(wrap)), self)


_fill_diagonal.__doc__ = """Mirrors ``Tensor.fill_diagonal_``: writes ``fill_value`` on the
main diagonal (of a matrix, or of a tensor whose dims are all equal), in place; with
``wrap`` a tall matrix's diagonal starts again every ``columns + 1`` rows."""

attach({"fill_diagonal_": _fill_diagonal})
__all__ += ["view_as_real", "view_as_complex", "vander"]


# ---- as_strided: any sizes and strides over the tensor's memory ---------------------------
# torch's storage is, in ember, the memory of the tensor's base (the tensor itself when it is
# not a view), from the base's first element on; positions are counted in elements from
# there, as ``storage_offset`` counts them. The op's parameters hold the view's start
# relative to the input's first element (``shift``), so a recipe replayed on another tensor
# of the input's layout (an in-place write through the view, see registry._copy_slices)
# picks the same elements of it.


def _storage_size(t: Tensor) -> int:
    """Elements of ``t``'s storage: its base's memory from the first element to the last."""
    data = _memory(t)
    if data.size == 0:
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(data.shape, data.strides) if s > 0) // (
        data.itemsize)


def _element_strides(data: ndarray) -> tuple:
    return tuple(s // data.itemsize for s in data.strides)


def lay_out(xp, array: ndarray, strides: tuple) -> ndarray:
    """``array``'s values in fresh memory with the given element ``strides`` (those of a
    dense, non-overlapping layout, such as a base's), or ``array`` itself when it already
    has them."""
    item = array.itemsize
    if array.strides == tuple(s * item for s in strides) or array.size == 0:
        return array
    flat = xp.empty(max(1 + sum((n - 1) * s for n, s in zip(array.shape, strides)), 0),
                    array.dtype)
    out = _as_strided(xp, flat, array.shape, tuple(s * item for s in strides))
    out[...] = array
    return out


def _as_strided_forward(xp, self, size, stride, shift, self_sym_sizes, self_strides):
    # A replay on a tensor laid out otherwise (a gradient) first takes the input's layout.
    self = lay_out(xp, self, self_strides)
    item = self.itemsize
    # The start may lie before the input's first element (a view of a later part of its
    # base): walk there through a one-dim view in the right direction.
    n = abs(shift)
    start = _as_strided(xp, self, (n + 1,), (item if shift >= 0 else -item,))
    out = _as_strided(xp, start[n:], size, tuple(s * item for s in stride))
    if any(s == 0 and k > 1 for k, s in zip(size, stride)):
        # one memory location behind several elements: torch refuses to write through it
        out.flags.writeable = False
    return out


def _positions(shape: tuple, strides: tuple, start: int) -> ndarray:
    """Each element's memory position (elements from ``start``), in row-major order."""
    pos = np.full(shape, start, np.int64)
    for k, (n, s) in enumerate(zip(shape, strides)):
        pos += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - k - 1))
    return pos.reshape(-1)


def _as_strided_backward(grad, self, size, stride, shift, self_sym_sizes, self_strides):
    # The gradient lands in memory first: each output element adds its gradient at its
    # position (summing where windows overlap); each input element then reads its own
    # position, shared equally among the input elements that share one location.
    out_pos = _positions(size, stride, shift)
    in_pos = _positions(self_sym_sizes, self_strides, 0)
    low = min(int(out_pos.min(initial=0)), int(in_pos.min(initial=0)))
    high = max(int(out_pos.max(initial=0)), int(in_pos.max(initial=0)))
    memory = grad.new_zeros(high - low + 1).index_add(0, make(out_pos - low),
                                                     grad.reshape(-1))
    result = memory[make(in_pos - low)].reshape(self_sym_sizes)
    counts = np.bincount(in_pos - low, minlength=high - low + 1)[in_pos - low]
    if counts.size and counts.max() > 1:
        result = result / make(counts.reshape(self_sym_sizes).astype(grad._data.dtype))
    return result


AS_STRIDED = defop("as_strided", node="AsStridedBackward0", kind=KEEP, view=True,
                   forward=_as_strided_forward, backward=_as_strided_backward)
AS_STRIDED_ = _view_op_(AS_STRIDED, "AsStridedBackward1")


def _as_strided_args(input: Tensor, size, stride, offset) -> tuple:
    """The op's parameters for ``as_strided(input, size, stride, offset)``, after torch's
    checks."""
    size = tuple(int(n) for n in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    own = storage_offset(input)
    offset = own if offset is None else int(offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    data = input._data
    check_storage_bounds(size, stride, offset, _storage_size(input), data.itemsize)
    return size, stride, offset - own, data.shape, _element_strides(data)


def check_storage_bounds(size: tuple, stride: tuple, offset: int, have: int,
                         itemsize: int) -> None:
    """torch's refusal of a view (size, stride, offset) that reaches past the ``have``
    elements of its memory."""
    need = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if need > have:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {itemsize} requiring a storage size of {need * itemsize} are out "
            f"of bounds for storage of size {have * itemsize}")


def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """Mirrors ``torch.as_strided``: a view of ``input``'s memory (its base's, for a view)
    with the given sizes and strides (in elements) from ``storage_offset`` (default: where
    ``input`` starts). Writes go both ways; elements may overlap. Its gradient adds up in
    memory where elements overlap, as torch's does."""
    return run(AS_STRIDED, input, *_as_strided_args(input, size, stride, storage_offset))


def as_strided_(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """Mirrors ``Tensor.as_strided_``: ``input`` becomes ``as_strided(input, size, stride,
    storage_offset)``, in place."""
    memory = input._data
    _restride(input, AS_STRIDED_, *_as_strided_args(input, size, stride, storage_offset))
    if input._base is None and "_storage" not in input.__dict__:
        input._storage = memory  # its storage stays where it was
    return input


def as_strided_recipe(view: Tensor, base: Tensor) -> list:
    """A view chain (see registry._view_chain) that makes ``view`` from ``base`` by its
    memory position alone: one as_strided step."""
    data = view._data
    shift = (_address(data) - _address(base._data)) // data.itemsize if data.size else 0
    base_data = base._data
    params = (data.shape, _element_strides(data), shift, base_data.shape,
              _element_strides(base_data))
    return [(AS_STRIDED, params, None)]


attach({"as_strided": as_strided, "as_strided_": as_strided_})
__all__ += ["as_strided", "as_strided_"]
