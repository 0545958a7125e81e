"""The array kernels of ``torch.nn.functional``'s lookup and distance layers: embedding (and
its dense backward), embedding_bag, and pdist.

The index bookkeeping (padding, bags, frequencies) is done once, in NumPy, by the functional
wrappers in ``ember.nn._functional``, and reaches these records as parameters; the kernels
and their gradients are vectorised (one gather, one segmented reduction, one scatter).
Backward formulas are ember ops (or records with backward formulas of their own), so they
are differentiable again.
"""
from __future__ import annotations

from ember._backend import np
from ember._ops.registry import KEEP, defop, run
from ember._tensor import Tensor, make

# ---- embedding ---------------------------------------------------------------------------


def position_weights(indices, num_weights: int, padding_idx: int, scale_grad_by_freq: bool):
    """The factor each looked-up position's gradient is multiplied by: 0 for the padding
    index, ``1 / count`` of the index with ``scale_grad_by_freq``, else 1 (float64, flat)."""
    flat = indices.reshape(-1)
    weights = np.ones(flat.size)
    if scale_grad_by_freq and flat.size:
        weights /= np.bincount(flat, minlength=num_weights)[flat]
    if padding_idx >= 0:
        weights[flat == padding_idx] = 0.0
    return weights


# NOTE [Row sums by a one-hot product]: ``_sum_rows`` into few rows is one matrix product of
# a 0/1 matrix (one 1 per column) with the rows: BLAS runs it faster than any NumPy scatter
# (``add.at``, ``reduceat`` along the first axis), and BLAS kernels that accumulate along
# the inner dimension add each row's terms in position order, as torch's scatter does (the
# sums were torch's bit for bit where measured; the tests allow rounding). It serves float32
# and float64 when the 0/1 matrix stays small (``_ONE_HOT_ROWS`` rows, ``_ONE_HOT_SIZE``
# entries) and the rows are finite (0 * inf would put nan in every row); otherwise rows are
# sorted and summed by segment.
_ONE_HOT_ROWS = 128
_ONE_HOT_SIZE = 1 << 20


def _sum_rows(rows, row_index, num_rows: int):
    """``out[row_index[k]] += rows[k]`` (NOTE [Row sums by a one-hot product])."""
    n = row_index.size
    if (num_rows <= _ONE_HOT_ROWS and num_rows * n <= _ONE_HOT_SIZE
            and rows.dtype in (np.float32, np.float64) and rows.ndim == 2
            and np.isfinite(np.add.reduce(rows, axis=None))):
        one_hot = np.zeros((num_rows, n), rows.dtype)
        one_hot[row_index, np.arange(n)] = 1
        return one_hot @ rows
    out = np.zeros((num_rows,) + rows.shape[1:], rows.dtype)
    if n:
        order = np.argsort(row_index, kind="stable")
        targets = row_index[order]
        starts = np.flatnonzero(np.concatenate(([True], targets[1:] != targets[:-1])))
        out[targets[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def _embedding_dense_backward(xp, grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    flat = indices.reshape(-1)
    rows = grad.reshape(flat.size, grad.shape[-1])
    if padding_idx >= 0 or scale_grad_by_freq:
        weights = position_weights(indices, num_weights, padding_idx, scale_grad_by_freq)
        rows = rows * weights.astype(rows.dtype)[:, None]
    return _sum_rows(rows, flat, num_weights)


def _embedding_dense_double_backward(grad, grad_output, indices, num_weights, padding_idx,
                                     scale_grad_by_freq):
    # torch's double backward (embedding_dense_double_backward) zeroes the padding
    # positions but leaves out the frequency scaling; ember gives torch's numbers.
    looked_up = run(EMBEDDING, grad, indices, num_weights, padding_idx, scale_grad_by_freq)
    if padding_idx < 0:
        return looked_up
    weights = position_weights(indices, num_weights, padding_idx, False)
    return looked_up * make(weights.reshape(indices.shape + (1,)).astype(looked_up._data.dtype))


EMBEDDING_DENSE_BACKWARD = defop(
    "embedding_dense_backward", node="EmbeddingDenseBackward0", kind=KEEP,
    forward=_embedding_dense_backward, backward=_embedding_dense_double_backward)

EMBEDDING = defop(
    "embedding", node="EmbeddingBackward0", kind=KEEP,
    forward=lambda xp, weight, indices, num_weights, padding_idx, scale_grad_by_freq: (
        weight[indices]),
    backward=lambda grad, weight, indices, num_weights, padding_idx, scale_grad_by_freq: run(
        EMBEDDING_DENSE_BACKWARD, grad, indices, num_weights, padding_idx, scale_grad_by_freq))


def embedding_renorm_(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    """Mirrors ``torch.embedding_renorm_``: each row of ``weight`` looked up by ``indices``
    whose ``norm_type``-norm exceeds ``max_norm`` is scaled in place by ``max_norm / (norm +
    1e-7)``; the version counter moves (NOTE [Version counters])."""
    rows = np.unique(indices)
    data = weight._data
    norms = np.linalg.norm(data[rows].astype(np.float64), ord=norm_type, axis=-1)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over] + 1e-7)
        data[rows[over]] = data[rows[over]] * scale.astype(data.dtype)[:, None]
    weight._vc[0] += 1


# ---- embedding_bag ---------------------------------------------------------------------

MODE_SUM, MODE_MEAN, MODE_MAX = 0, 1, 2


class Bags:
    """An embedding_bag's bookkeeping: for each looked-up position its row (``indices``) and
    bag, whether it counts in its bag (``keep``: not padding, inside a bag) and whether it is
    summed (``summed``, see NOTE [embedding_bag's last offset]); per bag its count; and the
    per-position gradient factor ``scale`` (mean's 1 / count, scale_grad_by_freq's 1 /
    frequency, 0 for positions not summed)."""

    def __init__(self, indices, bag, keep, summed, num_bags: int, num_weights: int, mode: int,
                 scale_grad_by_freq: bool):
        self.indices = indices
        self.bag = bag
        self.keep = keep
        self.summed = summed
        self.num_bags = num_bags
        self.num_weights = num_weights
        self.mode = mode
        self.kept_indices = indices[keep]
        self.kept_bags = bag[keep]
        self.counts = np.bincount(self.kept_bags, minlength=num_bags)
        self.bags, self.starts = np.unique(self.kept_bags, return_index=True)
        if mode == MODE_MEAN:
            # torch's mean backward spreads the last bag's gradient over the positions past
            # the last offset too, as its count does (NOTE [embedding_bag's last offset])
            scale = keep.astype(np.float64)
            scale[keep] /= self.counts[bag[keep]]
        else:
            scale = summed.astype(np.float64)
        if scale_grad_by_freq and indices.size:
            scale /= _freq_divisors(indices, num_weights)
        self.scale = scale


def _freq_divisors(indices, num_weights: int):
    """NOTE [embedding_bag's frequencies]: torch's CPU embedding_bag backward (2.13) divides
    the gradient of the r-th smallest distinct index by the frequency of the r-th element of
    the *sorted indices* (not of that index itself; embedding's own backward is right). ember
    does the same, so gradients are torch's."""
    counts = np.bincount(indices, minlength=num_weights)
    distinct = np.unique(indices)
    rank = np.searchsorted(distinct, indices)
    return counts[np.sort(indices)[rank]]


def _embedding_bag(xp, weight, per_sample_weights, bags):
    out = np.zeros((bags.num_bags, weight.shape[1]), weight.dtype)
    if bags.mode == MODE_MAX:
        if bags.starts.size:
            out[bags.bags] = np.maximum.reduceat(weight[bags.kept_indices], bags.starts, axis=0)
        return out
    rows = weight[bags.indices[bags.summed]]
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[bags.summed][:, None]
    out = _sum_rows(rows, bags.bag[bags.summed], bags.num_bags)
    if bags.mode == MODE_MEAN:
        nonempty = bags.counts > 0
        out[nonempty] /= bags.counts[nonempty, None].astype(out.dtype)
    return out


def _max_rows(weight_data, bags):
    """For each non-empty bag and column, the weight row holding the maximum (the first one
    on a tie)."""
    rows = weight_data[bags.kept_indices]
    best = np.maximum.reduceat(rows, bags.starts, axis=0)
    position = np.arange(rows.shape[0])[:, None]
    first = np.where(rows == best[np.searchsorted(bags.bags, bags.kept_bags)], position,
                     rows.shape[0])
    return bags.kept_indices[np.minimum.reduceat(first, bags.starts, axis=0)]


def _embedding_bag_weight_grad(grad, weight, per_sample_weights, bags):
    from ember._ops.creation import zeros

    shape = (bags.num_weights, grad.shape[1])
    if bags.mode == MODE_MAX:
        if not bags.bags.size:
            return zeros(shape, dtype=grad.dtype)
        winners = make(_max_rows(weight._data, bags))
        return zeros(shape, dtype=grad.dtype).scatter_add(
            0, winners, grad.index_select(0, make(bags.bags)))
    bag = np.minimum(bags.bag, bags.num_bags - 1)  # a position past the last bag: scale 0
    spread = grad.index_select(0, make(bag)) if bags.num_bags else grad.new_zeros(
        (bags.indices.size, grad.shape[1]))
    factor = make(bags.scale.astype(grad._data.dtype)[:, None])
    if per_sample_weights is not None:
        factor = factor * per_sample_weights[:, None]
    return zeros(shape, dtype=grad.dtype).index_add(0, make(bags.indices), spread * factor)


def _embedding_bag_psw_grad(grad, weight, per_sample_weights, bags):
    bag = np.minimum(bags.bag, max(bags.num_bags - 1, 0))
    looked_up = weight.index_select(0, make(bags.indices))
    per_position = (grad.index_select(0, make(bag)) * looked_up).sum(1)
    return per_position * make(bags.summed.astype(grad._data.dtype))


EMBEDDING_BAG = defop(
    "_embedding_bag", node="EmbeddingBagBackward0", nin=2, kind=KEEP, promote=(0,),
    save=(0, 1), forward=_embedding_bag,
    backward=(_embedding_bag_weight_grad, _embedding_bag_psw_grad))

# ---- pdist -------------------------------------------------------------------------------


def pair_indices(n: int):
    """The row pairs (i < j) of pdist, in torch's order."""
    return np.triu_indices(n, 1)


def _pdist(xp, x, p):
    i, j = pair_indices(x.shape[0])
    diff = np.abs(x[i] - x[j])
    if p == 0:
        return np.count_nonzero(diff, axis=1).astype(x.dtype)
    if p == np.inf:
        return diff.max(axis=1, initial=0).astype(x.dtype)
    if p == 1:
        return diff.sum(axis=1)
    if p == 2:
        return np.sqrt((diff * diff).sum(axis=1))
    return (diff ** p).sum(axis=1) ** (1.0 / p)


def _pdist_grad(grad, self, p, result):
    from ember._ops.creation import zeros_like
    from ember._ops.pointwise import where

    n = self.shape[0]
    if p == 0 or n < 2:
        return zeros_like(self)
    i, j = (make(k) for k in pair_indices(n))
    diff = self.index_select(0, i) - self.index_select(0, j)
    dist = result[:, None]
    if p == 1:
        pair_grad = diff.sign()
    elif p == np.inf:
        pair_grad = diff.sign() * (diff.abs() == dist)
    else:
        # |d|^(p-1) sign(d) / dist^(p-1), 0 where the distance is 0 (torch's convention)
        safe = where(dist == 0, 1.0, dist)
        pair_grad = where((dist == 0) | (diff == 0), 0.0,
                          diff.sign() * (diff.abs() / safe).pow(p - 1))
    pair_grad = pair_grad * grad[:, None]
    return zeros_like(self).index_add(0, i, pair_grad).index_add(0, j, -pair_grad)


PDIST = defop("_pdist_forward", node="PdistBackward0", kind=KEEP, save=(0, "result"),
              forward=_pdist, backward=_pdist_grad)
