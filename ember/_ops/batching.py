"""Batching rules for ``ember.func.vmap``.

Inside ``vmap`` a batched tensor is an ordinary ember Tensor whose ``_data`` is its first
sample (so every public function sees the *logical* shape: dims, checks and dispatch work
unchanged) and whose ``_phys`` holds the whole batch: the array with one leading dim per
vmap level the tensor varies over (``Batched.levels``, outermost first). When
``registry.run`` meets a batched input it calls ``forward`` here, which lines the inputs'
batch dims up and computes the physical result with the op's batching rule — elementwise
ops broadcast, reductions and view ops shift their dims past the batch dims, matrix products
broadcast over them — and the graph is recorded on the logical tensors as usual, so ``grad``
inside ``vmap`` gives per-sample gradients. An op without a rule runs once per sample (the
documented fallback).

An array an op takes as a parameter (an index) and that differs per sample — computed from
a batched tensor's values (sort's order) or taken from a batched index tensor — is passed
as a ``Batched`` too: the public function makes it with ``from_values`` or ``param``, the
rules read its whole array, and the per-sample fallback hands each sample its own slice.
"""
from __future__ import annotations

import functools

from ember._backend import np
from ember._tensor import Tensor, make

# The batch size of each active vmap level, outermost first, and its ``randomness`` (NOTE
# [Random ops inside vmap] in _ops/random.py).
levels: list = []
randomness: list = []


class Batched:
    """A batched tensor's whole data: ``array`` has one leading dim per level in
    ``levels`` (level numbers, increasing), then the logical shape."""

    __slots__ = ("array", "levels")

    def __init__(self, array, levels: tuple) -> None:
        self.array = array
        self.levels = levels

    # A batched parameter answers for its first sample, as a batched tensor's ``_data`` does
    # (backward formulas read an index's shape).
    @property
    def shape(self) -> tuple:
        return self.array.shape[len(self.levels):]

    @property
    def ndim(self) -> int:
        return self.array.ndim - len(self.levels)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


    def reshape(self, *shape) -> Batched:
        """Every sample reshaped to ``shape`` (a formula flattening an index)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        lead = self.array.shape[:len(self.levels)]
        return Batched(self.array.reshape(lead + tuple(shape)), self.levels)


class Shared(np.ndarray):
    """A parameter array that is the same for every sample: made by ``shared`` from an
    unbatched tensor (an index tensor vmap does not map), so the per-sample fallback may
    hand it to every sample, unlike a plain array, which might have been computed from a
    batched tensor's first sample only. It is an ndarray in every other respect; views,
    copies and casts of it stay ``Shared``, but what a ufunc computes from it does not (it
    may have mixed in other values)."""

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return array[()] if return_scalar else array.view(np.ndarray)


def shared(array):
    """``array`` marked as the same for every sample when a vmap is active (as is)."""
    return array.view(Shared) if levels else array


def is_batched(t) -> bool:
    return isinstance(t, Tensor) and "_phys" in t.__dict__


def involved(op, args: tuple) -> bool:
    """Whether ``op``'s arguments hold a batched tensor (an input) or a batched array (a
    parameter, possibly inside a tuple such as an index key)."""
    for i, a in enumerate(args):
        if i < op.nin:
            if isinstance(a, Tensor) and "_phys" in a.__dict__:
                return True
        elif type(a) is Batched or (type(a) is tuple and any(type(p) is Batched for p in a)):
            return True
    return False


def values(t: Tensor):
    """Every sample's values of ``t`` (its ``_data`` when it is not batched), for checks
    that read values (an index's bounds)."""
    phys = t.__dict__.get("_phys")
    return t._data if phys is None else phys.array


def own_values(array, source):
    """``array`` (made from the tensor array ``source``), or a copy where it shares
    ``source``'s memory: an op parameter holds the values the op saw (see ``param``)."""
    from ember._ops import registry  # registry imports this module

    if np.may_share_memory(array, source) and not registry.arrays_followed():
        return array.copy()
    return array


def param(t: Tensor, convert):
    """``convert(array, k)`` of ``t``'s data as an op parameter (``k`` leading dims are batch
    dims): a plain array for a plain tensor, a ``Batched`` for a batched one. The array is
    the values as the op saw them: a copy where ``convert`` kept the tensor's memory, so an
    in-place write to an index tensor after the op cannot change what its backward reads
    (torch raises its version error there; ember's backward uses the forward's values), but
    not while a mode records a program over the arrays it follows (``OpMode.follows_arrays``:
    compile's tracer must see the tensor's own array)."""
    phys = t.__dict__.get("_phys")
    source = t._data if phys is None else phys.array
    array = own_values(convert(source, 0 if phys is None else len(phys.levels)), source)
    if phys is None:
        return shared(array)
    return Batched(array, phys.levels)


def from_values(t: Tensor, fn, dim: int, *extra):
    """``fn(data, dim, *extra)``: an array a public function computes from ``t``'s values
    along ``dim`` (sort's order, max's indices). For a batched ``t`` it is computed on every
    sample at once (the dim shifted past the batch dims) and returned as a ``Batched``."""
    phys = t.__dict__.get("_phys")
    if phys is None:
        return fn(t._data, dim, *extra)
    k = len(phys.levels)
    array = phys.array
    if t._data.ndim:
        return Batched(fn(array, dim + k, *extra), phys.levels)
    samples = [fn(np.asarray(v), dim, *extra) for v in array.reshape(-1)]
    stacked = np.stack(samples)
    return Batched(stacked.reshape(array.shape + stacked.shape[1:]), phys.levels)


def tensor(p) -> Tensor:
    """A parameter array (plain or ``Batched``) as a tensor, batched when it is."""
    return wrap(p.array, p.levels) if type(p) is Batched else make(p)


def samplewise(fn):
    """Wrap a public function that computes new tensors from its tensor arguments' values
    with NumPy and records no graph (``one_hot``, ``bincount``, ``searchsorted``...): inside
    vmap, with a batched argument, it runs once per sample on the sample's values and the
    results are stacked, batched, as torch's fallback for ops without a batching rule does
    (with its error for samples whose results differ in shape)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not levels:
            return fn(*args, **kwargs)
        values = list(args) + list(kwargs.values())
        batched = [a for a in values if is_batched(a)]
        if not batched:
            return fn(*args, **kwargs)
        union = tuple(sorted({lv for a in batched for lv in a._phys.levels}))
        bshape = tuple(levels[lv] for lv in union)
        n = int(np.prod(bshape))

        def flat(a):
            if not is_batched(a):
                return None
            return _aligned(a, union, bshape)._phys.array.reshape((n,) + a._data.shape)
        flats = [flat(a) for a in values]

        def sample(j):
            picked = [a if f is None else make(f[j, ...]) for a, f in zip(values, flats)]
            return fn(*picked[:len(args)], **dict(zip(kwargs, picked[len(args):])))
        results = [sample(j) for j in range(n)]
        several = isinstance(results[0], tuple)
        parts = list(zip(*results)) if several else [results]
        out = []
        for part in parts:
            arrays = [t._data for t in part]
            for j, a in enumerate(arrays):
                if a.shape != arrays[0].shape:
                    raise RuntimeError(
                        "stack expects each tensor to be equal size, but got "
                        f"{list(arrays[0].shape)} at entry 0 and {list(a.shape)} at entry "
                        f"{j}")
            stacked = np.stack(arrays)
            out.append(wrap(stacked.reshape(bshape + stacked.shape[1:]), union))
        return tuple(out) if several else out[0]
    return wrapper


def refuse_dynamic(name: str, *tensors) -> None:
    """torch's refusal to batch an op whose result's shape depends on the values."""
    if any(is_batched(t) for t in tensors):
        raise RuntimeError(
            "vmap: We do not support batching operators that can output dynamic shape. "
            f"Attempted to vmap over aten::{name}. Please file an issue at "
            "https://github.com/pytorch/pytorch/issues if you need this feature.")


def check_inplace(target: Tensor, result: Batched) -> None:
    """torch's refusal to write a result that varies over more vmap levels than the tensor
    written to (an unbatched tensor updated from a batched one)."""
    phys = target.__dict__.get("_phys")
    if phys is None or phys.levels != result.levels:
        raise RuntimeError(
            "vmap: inplace arithmetic(self, *extra_args) is not possible because there exists "
            "a Tensor `other` in extra_args that has more elements than `self`. This happened "
            "due to `other` being vmapped over but `self` not being vmapped over in a vmap. "
            "Please try to use out-of-place operators instead of inplace arithmetic. If said "
            "operator is being called inside the PyTorch framework, please file a bug report "
            "instead.")
    if not phys.array.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation.")


def first_sample(array, lead: int):
    """The first sample of ``array`` (its ``lead`` leading dims batch dims): a view, 0-d
    included (written in place), or for a batch of no samples zeros standing in for one."""
    if 0 in array.shape[:lead]:
        return np.zeros(array.shape[lead:], array.dtype)
    return array[(0,) * lead + (Ellipsis,)]


def wrap(array, batch_levels: tuple) -> Tensor:
    """A batched tensor over ``array`` (its leading dims are ``batch_levels``)."""
    t = make(first_sample(array, len(batch_levels)))
    t._phys = Batched(array, batch_levels)
    return t


def _plain(a):
    return make(a._data) if isinstance(a, Tensor) else a


def _aligned(t, union: tuple, bshape: tuple) -> Tensor:
    """``t`` with its batch dims spread over all of ``union`` (a stand-in whose ``_phys``
    array has exactly ``len(union)`` leading dims, broadcast to ``bshape``)."""
    phys = t._phys
    array = phys.array
    if phys.levels != union:
        for pos, level in enumerate(union):
            if level not in phys.levels:
                array = np.expand_dims(array, pos)
        array = np.broadcast_to(array, bshape + array.shape[len(union):])
    out = make(t._data)
    out._phys = Batched(array, union)
    return out


def _aligned_param(p, union: tuple, bshape: tuple):
    """A ``Batched`` parameter (or a tuple holding some) spread over all of ``union``."""
    if type(p) is tuple:
        return tuple(_aligned_param(q, union, bshape) for q in p)
    if type(p) is not Batched or p.levels == union:
        return p
    array = p.array
    for pos, level in enumerate(union):
        if level not in p.levels:
            array = np.expand_dims(array, pos)
    return Batched(np.broadcast_to(array, bshape + array.shape[len(union):]), union)


def _full(t, bshape: tuple):
    """The whole batch of a tensor argument, broadcast when it is not batched."""
    if is_batched(t):
        return t._phys.array
    return np.broadcast_to(t._data, bshape + t._data.shape)


def _full_param(p, bshape: tuple):
    if type(p) is Batched:
        return p.array
    return np.broadcast_to(p, bshape + p.shape)


def _physical(a, rank: int, bshape: tuple):
    """``a``'s data ready to broadcast against batched data of logical rank ``rank``."""
    if is_batched(a):
        logical = a._data.shape
        return make(a._phys.array.reshape(bshape + (1,) * (rank - len(logical)) + logical))
    return _plain(a)


def _elementwise(op, args, bshape, run_forward):
    tensors = [a for a in args[:op.nin] if isinstance(a, Tensor)]
    rank = max(t._data.ndim for t in tensors)
    new = tuple(_physical(a, rank, bshape) if i < op.nin else a for i, a in enumerate(args))
    return run_forward(op, new)


def _reduce(op, args, bshape, run_forward):
    x, dims, keepdim, shape, out_np = args
    k = len(bshape)
    if dims is None:
        dims = tuple(range(len(shape)))
    return run_forward(op, (make(x._phys.array), tuple(d + k for d in dims), keepdim,
                            bshape + tuple(shape), out_np))


def _reshape(op, args, bshape, run_forward):
    x, shape, self_shape = args
    return x._phys.array.reshape(bshape + tuple(shape))


def _transpose(op, args, bshape, run_forward):
    x, dim0, dim1 = args
    k = len(bshape)
    return np.swapaxes(x._phys.array, dim0 + k, dim1 + k)


def _t(op, args, bshape, run_forward):
    x = args[0]
    return np.swapaxes(x._phys.array, -1, -2) if x._data.ndim == 2 else x._phys.array


def _permute(op, args, bshape, run_forward):
    x, dims = args
    k = len(bshape)
    return np.transpose(x._phys.array, tuple(range(k)) + tuple(d + k for d in dims))


def _squeeze(op, args, bshape, run_forward):
    x, dims, self_shape = args
    shape = x._data.shape
    if dims is None:
        dims = tuple(range(len(shape)))
    return np.squeeze(x._phys.array, tuple(d + len(bshape) for d in dims if shape[d] == 1))


def _unsqueeze(op, args, bshape, run_forward):
    x, dim = args
    return np.expand_dims(x._phys.array, dim + len(bshape))


def _expand(op, args, bshape, run_forward):
    x, shape = args
    return np.broadcast_to(_physical(x, len(shape), bshape)._data, bshape + tuple(shape))


def _getitem(op, args, bshape, run_forward):
    x, key, self_shape = args
    key = key if isinstance(key, tuple) else (key,)
    return x._phys.array[(slice(None),) * len(bshape) + key]


def _matmul_like(kind):
    def rule(op, args, bshape, run_forward):
        a, b = (t._phys.array if is_batched(t) else t._data for t in args[:2])
        if kind == "mv":
            return np.matmul(a, b[..., None])[..., 0]
        if kind == "dot":
            return np.sum(a * b, -1)
        return np.matmul(a, b)
    return rule


def _per_sample(op, args, bshape, run_forward):
    """The fallback for ops without a rule: one call per sample, stacked, each sample with
    its own slice of the batched inputs and parameters. A plain array among the parameters
    may have been computed by a public function from a batched tensor's first sample only
    (one this module was not told about), so it is refused rather than answered wrongly;
    a ``Shared`` one (from an unbatched tensor) is the same for every sample."""
    params = args[op.nin:]
    if any(_holds_array(p) for p in params):
        raise RuntimeError(
            f"ember: vmap over {op.name} is not supported yet (its arguments are computed "
            "from the values of a batched tensor)")
    n = int(np.prod(bshape))

    def flat(a, i):
        if i < op.nin:
            return a._phys.array.reshape((n,) + a._data.shape) if is_batched(a) else a
        if type(a) is tuple:
            return tuple(flat(p, op.nin) for p in a)
        return a.array.reshape((n,) + a.shape) if type(a) is Batched else a

    def pick(a, f, i, j):
        # ``f[j, ...]``: a 0-d sample stays an array (``f[j]`` would give a NumPy scalar,
        # which an op's forward cannot write into)
        if i < op.nin:
            return make(f[j, ...]) if is_batched(a) else _plain(a)
        if type(a) is tuple:
            return tuple(pick(p, q, op.nin, j) for p, q in zip(a, f))
        return f[j, ...] if type(a) is Batched else a

    flats = [flat(a, i) for i, a in enumerate(args)]
    if n == 0:  # no samples: one run on the stand-ins gives the sample's shape and dtype
        sample = run_forward(op, tuple(_plain(a) if i < op.nin else a
                                       for i, a in enumerate(args)))
        if op.multi:
            return tuple(np.empty(bshape + np.shape(r), np.asarray(r).dtype) for r in sample)
        return np.empty(bshape + np.shape(sample), np.asarray(sample).dtype)
    results = [run_forward(op, tuple(pick(a, f, i, j)
                                     for i, (a, f) in enumerate(zip(args, flats))))
               for j in range(n)]

    def stacked(rs):
        array = np.stack(rs)
        return array.reshape(bshape + array.shape[1:])
    if op.multi:
        return tuple(stacked([r[j] for r in results]) for j in range(len(results[0])))
    return stacked(results)


def _holds_array(p) -> bool:
    """Whether ``p`` is (or holds) an array not known to be the same for every sample."""
    if isinstance(p, np.ndarray):
        return type(p) is not Shared
    return isinstance(p, (tuple, list)) and any(_holds_array(q) for q in p)


def _select_along(op, args, bshape, run_forward):
    """sort, topk, max/min/median/kthvalue with dim, cummax/cummin: ``(self, index, dim,
    ...)`` with the index computed from every sample (``from_values``): the forward gathers
    along the shifted dim."""
    x, index, dim = args[:3]
    if x._data.ndim == 0:
        return _per_sample(op, args, bshape, run_forward)
    return run_forward(op, (make(_full(x, bshape)), _full_param(index, bshape),
                            dim + len(bshape)) + args[3:])


def _argmax(op, args, bshape, run_forward):
    x, dim, keepdim, largest = args
    k = len(bshape)
    array = x._phys.array
    fn = np.argmax if largest else np.argmin
    ndim = x._data.ndim
    if dim is None:
        r = fn(array.reshape(bshape + (x._data.size,)), axis=k)
        return r.reshape(bshape + (1,) * ndim) if keepdim else r
    if ndim == 0:
        return np.zeros(bshape, np.int64)
    return fn(array, axis=dim + k, keepdims=keepdim)


def _gather(op, args, bshape, run_forward):
    x, index, dim = args
    if x._data.ndim == 0:
        return _per_sample(op, args, bshape, run_forward)
    return run_forward(op, (make(_full(x, bshape)), _full_param(index, bshape),
                            dim + len(bshape)))


def _scatter(op, args, bshape, run_forward):
    """scatter and scatter_add ``(self, src, index, dim, src_shape)``; scatter with a value
    ``(self, index, dim, value)``."""
    if args[0]._data.ndim == 0:
        return _per_sample(op, args, bshape, run_forward)
    k = len(bshape)
    if op.nin == 1:
        x, index, dim, value = args
        return run_forward(op, (make(_full(x, bshape)), _full_param(index, bshape), dim + k,
                                value))
    x, src, index, dim, src_shape = args
    return run_forward(op, (make(_full(x, bshape)), make(_full(src, bshape)),
                            _full_param(index, bshape), dim + k, bshape + tuple(src_shape)))


def _embedding(op, args, bshape, run_forward):
    """embedding ``(weight, indices, ...)``: a plain weight looked up at every sample's
    indices at once."""
    weight, indices = args[:2]
    if is_batched(weight) or type(indices) is not Batched:
        return _per_sample(op, args, bshape, run_forward)
    return run_forward(op, (weight, indices.array) + tuple(args[2:]))


def _index_select(op, args, bshape, run_forward):
    x, index, dim = args
    if x._data.ndim == 0:
        return _per_sample(op, args, bshape, run_forward)
    k = len(bshape)
    if type(index) is not Batched:
        return np.take(x._phys.array, index, axis=dim + k)
    # every sample its own index vector: a gather along the dim, broadcast over the others
    rest = x._data.ndim - dim - 1
    index = index.array.reshape(bshape + (1,) * dim + index.shape + (1,) * rest)
    return np.take_along_axis(_full(x, bshape), index, dim + k)


def _index_add(op, args, bshape, run_forward):
    x, source, index, dim, alpha = args
    if x._data.ndim == 0 or type(index) is Batched:
        return _per_sample(op, args, bshape, run_forward)
    return run_forward(op, (make(_full(x, bshape)), make(_full(source, bshape)), index,
                            dim + len(bshape), alpha))


def _index_copy(op, args, bshape, run_forward):
    """index_copy ``(self, source, index, dim)``: the slices written along the shifted dim."""
    x, source, index, dim = args
    if x._data.ndim == 0 or type(index) is Batched:
        return _per_sample(op, args, bshape, run_forward)
    return run_forward(op, (make(_full(x, bshape)), make(_full(source, bshape)), index,
                            dim + len(bshape)))


def _index_fill(op, args, bshape, run_forward):
    """index_fill with a number ``(self, index, dim, value)`` or a 0-d tensor ``(self,
    value, index, dim)``; a batched value fills each sample's slices with its own."""
    if op.nin == 1:
        x, index, dim, value = args
    else:
        x, value, index, dim = args
    if x._data.ndim == 0 or type(index) is Batched:
        return _per_sample(op, args, bshape, run_forward)
    out = _full(x, bshape).copy()
    if isinstance(value, Tensor):
        value = _full(value, bshape).reshape(bshape + (1,) * x._data.ndim)
    out[(slice(None),) * (dim + len(bshape)) + (index,)] = value
    return out


def _index_put(op, args, bshape, run_forward):
    """index_put ``(self, values, key, accumulate)``: the key applied to every sample (as
    ``_index`` does), the values broadcast to each sample's indexed shape."""
    x, values, key, accumulate = args
    shape = x._data.shape
    physical, dims = _batched_key(key, bshape, len(shape))
    target = np.broadcast_to(np.zeros((), bool), shape)[
        tuple(e.array[(0,) * len(e.levels)] if type(e) is Batched else e
              for e in (key if type(key) is tuple else (key,)))].shape
    v = _full(values, bshape)
    vshape = v.shape[len(bshape):]
    v = np.broadcast_to(v.reshape(bshape + (1,) * (len(target) - len(vshape)) + vshape),
                        bshape + target)
    if dims is not None:
        v = np.moveaxis(v, dims[1], dims[0])
    out = _full(x, bshape).copy()
    if accumulate:
        np.add.at(out, physical, v.astype(out.dtype, copy=False))
    else:
        out[physical] = v
    return out


def _batched_key(key, bshape: tuple, ndim: int):
    """(key, dims) to apply a logical advanced index ``key`` (of an ``ndim``-dim tensor) to
    every sample of an array with ``bshape`` leading dims: the batch dims are indexed by
    broadcast grids, which join the key's own indices (ints count as indices, as in NumPy).
    ``dims`` says where the indexed dims must move when the key's indices sit together
    after a slice (NumPy keeps them in place for one sample but puts them first once the
    grids are in front), else None."""
    entries = []
    for entry in (key if type(key) is tuple else (key,)):
        if isinstance(entry, np.ndarray) and entry.dtype == bool:
            entries.extend(np.nonzero(entry) if entry.ndim else (entry,))
        else:
            entries.append(entry)
    advanced = [type(e) is Batched or isinstance(e, (np.ndarray, int)) for e in entries]
    first = advanced.index(True)
    last = len(advanced) - advanced[::-1].index(True)
    ishape = np.broadcast_shapes(*(np.shape(e) if type(e) is not Batched else e.shape
                                   for e, adv in zip(entries, advanced) if adv))
    k = len(bshape)
    m = len(ishape)
    grids = tuple(np.arange(size).reshape((1,) * i + (size,) + (1,) * (k - i - 1 + m))
                  for i, size in enumerate(bshape))
    physical = grids + tuple(
        e.array.reshape(bshape + (1,) * (m - e.ndim) + e.shape) if type(e) is Batched else e
        for e in entries)
    dims = None
    if first and all(advanced[first:last]):
        used = sum(1 for e in entries if e is not None and e is not Ellipsis)
        before = sum(ndim - used if e is Ellipsis else 1 for e in entries[:first])
        dims = (list(range(k, k + m)), list(range(k + before, k + before + m)))
    return physical, dims


def _index(op, args, bshape, run_forward):
    x, key, self_shape = args
    physical, dims = _batched_key(key, bshape, len(self_shape))
    out = _full(x, bshape)[physical]
    return out if dims is None else np.moveaxis(out, *dims)


def _index_put_accumulate(op, args, bshape, run_forward):
    grad, key, self_shape = args
    physical, dims = _batched_key(key, bshape, len(self_shape))
    out = np.zeros(bshape + tuple(self_shape), grad._data.dtype)
    values = _full(grad, bshape)
    np.add.at(out, physical, values if dims is None else np.moveaxis(values, dims[1], dims[0]))
    return out


RULES: dict = {}


def _register() -> None:
    from ember._ops import creation, indexing, linalg, nn_sparse, reduction, shape

    for op in (reduction.SUM, reduction.SUM_DIM, reduction.MEAN, reduction.MEAN_DIM):
        RULES[op] = _reduce
    for op in (shape.VIEW, shape.RESHAPE_ALIAS, shape.UNSAFE_VIEW):
        RULES[op] = _reshape
    RULES[shape.TRANSPOSE] = _transpose
    RULES[shape.T] = _t
    RULES[shape.PERMUTE] = _permute
    for op in (shape.SQUEEZE, shape.SQUEEZE_DIM, shape.SQUEEZE_DIMS, shape.SQUEEZE_INPLACE_DIM):
        RULES[op] = _squeeze
    RULES[shape.UNSQUEEZE] = _unsqueeze
    RULES[shape.EXPAND] = _expand
    for op in shape._BASIC_OPS.values():
        RULES[op] = _getitem
    RULES[linalg.MM] = RULES[linalg.BMM] = _matmul_like("mm")
    RULES[linalg.MV] = _matmul_like("mv")
    RULES[linalg.DOT] = _matmul_like("dot")
    RULES[creation.TO] = RULES[creation.CLONE] = _elementwise
    for op in (reduction.SORT, reduction.SORT_STABLE, reduction.TOPK, reduction.MAX_DIM,
               reduction.MIN_DIM, reduction.MEDIAN_DIM, reduction.KTHVALUE, reduction.CUMMAX,
               reduction.CUMMIN):
        RULES[op] = _select_along
    RULES[reduction.ARGMAX] = _argmax
    RULES[indexing.GATHER] = _gather
    for op in (indexing.SCATTER, indexing.SCATTER_ADD, indexing.SCATTER_VALUE):
        RULES[op] = _scatter
    RULES[indexing.INDEX_SELECT] = _index_select
    RULES[nn_sparse.EMBEDDING] = _embedding
    RULES[indexing.INDEX_ADD] = _index_add
    RULES[indexing.INDEX_COPY] = _index_copy
    RULES[indexing.INDEX_FILL] = RULES[indexing.INDEX_FILL_TENSOR] = _index_fill
    RULES[indexing.INDEX_PUT] = _index_put
    RULES[shape.INDEX] = _index
    RULES[shape.INDEX_PUT_ACCUMULATE] = _index_put_accumulate


def forward(op, args, run_forward):
    """(logical result, ``Batched`` physical result) of ``op`` on ``args``, some batched."""
    if not RULES:
        _register()
    found = set()
    nin = op.nin
    for a in args[:nin]:
        if is_batched(a):
            found.update(a._phys.levels)
    params = False  # batched parameters (rare: indices from values)
    for a in args[nin:]:
        if type(a) is Batched:
            found.update(a.levels)
            params = True
        elif type(a) is tuple and any(type(p) is Batched for p in a):
            found.update(lv for p in a if type(p) is Batched for lv in p.levels)
            params = True
    union = tuple(sorted(found))
    bshape = tuple(levels[lv] for lv in union)
    args = tuple(_aligned(a, union, bshape) if is_batched(a) else a for a in args[:nin]) + (
        tuple(_aligned_param(a, union, bshape) for a in args[nin:]) if params else args[nin:])
    rule = RULES.get(op)
    if rule is None:
        rule = _elementwise if op.family == "ember._ops.pointwise" else _per_sample
    phys = rule(op, args, bshape, run_forward)
    lead = len(union)
    if op.multi:
        arrays = tuple(np.asarray(p._data if isinstance(p, Tensor) else p) for p in phys)
        return (tuple(first_sample(a, lead) for a in arrays),
                tuple(Batched(a, union) for a in arrays))
    array = np.asarray(phys._data if isinstance(phys, Tensor) else phys)
    return first_sample(array, lead), Batched(array, union)
