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
"""
from __future__ import annotations

from ember._backend import np
from ember._tensor import Tensor, make

# The batch size of each active vmap level, outermost first.
levels: list = []


class Batched:
    """A batched tensor's whole data: ``array`` has one leading dim per level in
    ``levels`` (level numbers, increasing), then the logical shape."""

    __slots__ = ("array", "levels")

    def __init__(self, array, levels: tuple) -> None:
        self.array = array
        self.levels = levels


def is_batched(t) -> bool:
    return isinstance(t, Tensor) and "_phys" in t.__dict__


def wrap(array, batch_levels: tuple) -> Tensor:
    """A batched tensor over ``array`` (its leading dims are ``batch_levels``)."""
    t = make(array[(0,) * len(batch_levels)])
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
    """The fallback for ops without a rule: one call per sample, stacked. An op whose
    public function computed arrays from its input's values (sort's indices, an advanced
    index) got them from the first sample only, so it is refused rather than answered
    wrongly."""
    params = args[op.nin:]
    if any(_holds_array(p) for p in params):
        raise RuntimeError(
            f"ember: vmap over {op.name} is not supported yet (its arguments are computed "
            "from the values of a batched tensor)")
    k = len(bshape)
    flat = tuple(a._phys.array.reshape((-1,) + a._phys.array.shape[k:]) if is_batched(a)
                 else a for a in args)
    results = []
    for i in range(int(np.prod(bshape))):
        sample = tuple(make(f[i]) if is_batched(a) else _plain(a) for a, f in zip(args, flat))
        results.append(run_forward(op, sample))

    def stacked(rs):
        array = np.stack(rs)
        return array.reshape(bshape + array.shape[1:])
    if op.multi:
        return tuple(stacked([r[j] for r in results]) for j in range(len(results[0])))
    return stacked(results)


def _holds_array(p) -> bool:
    if isinstance(p, np.ndarray):
        return True
    return isinstance(p, (tuple, list)) and any(isinstance(q, np.ndarray) for q in p)


RULES: dict = {}


def _register() -> None:
    from ember._ops import creation, linalg, reduction, shape

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


def forward(op, args, run_forward):
    """(logical result, ``Batched`` physical result) of ``op`` on ``args``, some batched."""
    if not RULES:
        _register()
    union = tuple(sorted({lv for a in args[:op.nin] if is_batched(a)
                          for lv in a._phys.levels}))
    bshape = tuple(levels[lv] for lv in union)
    args = tuple(_aligned(a, union, bshape) if i < op.nin and is_batched(a) else a
                 for i, a in enumerate(args))
    rule = RULES.get(op)
    if rule is None:
        rule = _elementwise if op.family == "ember._ops.pointwise" else _per_sample
    phys = rule(op, args, bshape, run_forward)
    first = (0,) * len(union)
    if op.multi:
        arrays = tuple(np.asarray(p._data if isinstance(p, Tensor) else p) for p in phys)
        return (tuple(a[first] for a in arrays),
                tuple(Batched(a, union) for a in arrays))
    array = np.asarray(phys._data if isinstance(phys, Tensor) else phys)
    return array[first], Batched(array, union)
