"""Batching rules for ``ember.func.vmap``.

Inside ``vmap`` a batched tensor is an ordinary ember Tensor whose ``_data`` is its first
sample (so every public function sees the *logical* shape: dims, checks and dispatch work
unchanged) and whose ``_phys`` holds the whole batch, batch first. When ``registry.run``
meets a batched input it calls ``forward`` here, which computes the physical result with
the op's batching rule — elementwise ops broadcast, reductions and view ops shift their
dims by one, matrix products broadcast over the batch — and the graph is recorded on the
logical tensors as usual, so ``grad`` inside ``vmap`` works (per-sample gradients). An op
without a rule runs once per sample (the documented fallback).
"""
from __future__ import annotations

from ember._backend import np
from ember._tensor import Tensor, make

# The batch size of each active vmap level (one level: nesting is refused in func.vmap).
levels: list = []


def is_batched(t) -> bool:
    return isinstance(t, Tensor) and "_phys" in t.__dict__


def wrap(phys) -> Tensor:
    """A batched tensor over the physical array ``phys`` (batch first)."""
    t = make(phys[0])
    t._phys = phys
    return t


def _plain(a):
    return make(a._data) if isinstance(a, Tensor) else a


def _physical(a, rank: int, batch: int):
    """``a``'s data ready to broadcast against batched data of logical rank ``rank``."""
    if is_batched(a):
        logical = a._data.shape
        return make(a._phys.reshape((batch,) + (1,) * (rank - len(logical)) + logical))
    return _plain(a)


def _elementwise(op, args, batch, run_forward):
    tensors = [a for a in args[:op.nin] if isinstance(a, Tensor)]
    rank = max(t._data.ndim for t in tensors)
    new = tuple(_physical(a, rank, batch) if i < op.nin else a for i, a in enumerate(args))
    return run_forward(op, new)


def _shift(dims):
    return None if dims is None else tuple(d + 1 for d in dims)


def _reduce(op, args, batch, run_forward):
    x, dims, keepdim, shape, out_np = args
    if dims is None:
        dims = tuple(range(len(shape)))
    return run_forward(op, (make(x._phys), _shift(dims), keepdim, (batch,) + tuple(shape),
                            out_np))


def _reshape(op, args, batch, run_forward):
    x, shape, self_shape = args
    return x._phys.reshape((batch,) + tuple(shape))


def _transpose(op, args, batch, run_forward):
    x, dim0, dim1 = args
    return np.swapaxes(x._phys, dim0 + 1, dim1 + 1)


def _t(op, args, batch, run_forward):
    x = args[0]
    return np.swapaxes(x._phys, 1, 2) if x._data.ndim == 2 else x._phys


def _permute(op, args, batch, run_forward):
    x, dims = args
    return np.transpose(x._phys, (0,) + tuple(d + 1 for d in dims))


def _squeeze(op, args, batch, run_forward):
    x, dims, self_shape = args
    shape = x._data.shape
    if dims is None:
        dims = tuple(range(len(shape)))
    axes = tuple(d + 1 for d in dims if shape[d] == 1)
    return np.squeeze(x._phys, axes)


def _unsqueeze(op, args, batch, run_forward):
    x, dim = args
    return np.expand_dims(x._phys, dim + 1)


def _expand(op, args, batch, run_forward):
    x, shape = args
    phys = _physical(x, len(shape), batch)._data
    return np.broadcast_to(phys, (batch,) + tuple(shape))


def _getitem(op, args, batch, run_forward):
    x, key, self_shape = args
    key = key if isinstance(key, tuple) else (key,)
    return x._phys[(slice(None),) + key]


def _matmul_like(kind):
    def rule(op, args, batch, run_forward):
        a, b = (t._phys if is_batched(t) else t._data for t in args[:2])
        if kind == "mv":
            return np.matmul(a, b[..., None])[..., 0]
        if kind == "dot":
            return np.sum(a * b, -1)
        return np.matmul(a, b)
    return rule


def _per_sample(op, args, batch, run_forward):
    """The fallback for ops without a rule: one call per sample, stacked. An op whose
    public function computed arrays from its input's values (sort's indices, an advanced
    index) got them from the first sample only, so it is refused rather than answered
    wrongly."""
    params = args[op.nin:]
    if any(_holds_array(p) for p in params):
        raise RuntimeError(
            f"ember: vmap over {op.name} is not supported yet (its arguments are computed "
            "from the values of a batched tensor)")
    results = []
    for i in range(batch):
        sample = tuple(make(a._phys[i]) if is_batched(a) else _plain(a) for a in args)
        results.append(run_forward(op, sample))
    if op.multi:
        return tuple(np.stack([r[k] for r in results]) for k in range(len(results[0])))
    return np.stack(results)


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
    """(logical result, physical result) of ``op`` on ``args``, some of them batched."""
    if not RULES:
        _register()
    batch = levels[-1]
    rule = RULES.get(op)
    if rule is None:
        rule = _elementwise if op.family == "ember._ops.pointwise" else _per_sample
    phys = rule(op, args, batch, run_forward)
    if isinstance(phys, Tensor):
        phys = phys._data
    if op.multi:
        phys = tuple(p._data if isinstance(p, Tensor) else np.asarray(p) for p in phys)
        return tuple(p[0] for p in phys), phys
    phys = np.asarray(phys)
    return phys[0], phys
