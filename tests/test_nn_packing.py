"""nn.utils.rnn (packed sequences) against torch: packing, padding, their gradients and
nodes, errors, and RNN/LSTM/GRU on packed batches (sorted and unsorted, with initial
states and dropout)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn
import ember.nn.utils.rnn as E
from tests.helpers import assert_same, check_raises_like, examples, torch

T = torch.nn.utils.rnn if torch is not None else None


def _lib_rnn(lib):
    return T if lib is torch else E


def _leaf(array):
    return torch.tensor(array).requires_grad_(True), ember.tensor(array).requires_grad_(True)


def _backward_both(t_out, e_out, seed: int = 1) -> None:
    cot = np.random.default_rng(seed).standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(cot)).sum().backward()
    (e_out * ember.tensor(cot)).sum().backward()


def _assert_packed_same(e, t) -> None:
    assert type(e).__name__ == "PackedSequence"
    assert_same(e.data, t.data, what="data")
    assert_same(e.batch_sizes, t.batch_sizes, what="batch_sizes")
    for name in ("sorted_indices", "unsorted_indices"):
        te, ee = getattr(t, name), getattr(e, name)
        assert (ee is None) == (te is None), name
        if te is not None:
            assert_same(ee, te, what=name)


# ---- pack / pad -------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [2, 5, 1, 3], [4, 4, 4, 4]])
def test_pack_and_pad_round_trip(batch_first, lengths):
    enforce_sorted = lengths == sorted(lengths, reverse=True)
    shape = (4, 5, 2) if batch_first else (5, 4, 2)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tx, ex = _leaf(x)
    tp = T.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    ep = E.pack_padded_sequence(ex, lengths, batch_first, enforce_sorted)
    _assert_packed_same(ep, tp)
    assert ep.data.grad_fn.name() == tp.data.grad_fn.name()
    assert repr(ep) == repr(tp)
    t_pad, t_len = T.pad_packed_sequence(tp, batch_first, padding_value=-1.5, total_length=6)
    e_pad, e_len = E.pad_packed_sequence(ep, batch_first, padding_value=-1.5, total_length=6)
    assert_same(e_pad, t_pad, what="padded")
    assert_same(e_len, t_len, what="lengths")
    assert e_pad.grad_fn.name() == t_pad.grad_fn.name()
    _backward_both(t_pad, e_pad)
    assert_same(ex.grad, tx.grad, what="input grad")


def test_pack_gradient_and_tensor_lengths():
    x = np.random.default_rng(1).standard_normal((3, 2, 2)).astype(np.float32)
    tx, ex = _leaf(x)
    tp = T.pack_padded_sequence(tx, torch.tensor([3, 1]))
    ep = E.pack_padded_sequence(ex, ember.tensor([3, 1]))
    _assert_packed_same(ep, tp)
    _backward_both(tp.data, ep.data)
    assert_same(ex.grad, tx.grad)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_side):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 4, 1)]
    pairs = [_leaf(a) for a in arrays]
    t_out = T.pad_sequence([t for t, _ in pairs], batch_first, 0.5, padding_side)
    e_out = E.pad_sequence([e for _, e in pairs], batch_first, 0.5, padding_side)
    assert_same(e_out, t_out)
    assert e_out.grad_fn.name() == t_out.grad_fn.name()
    _backward_both(t_out, e_out)
    for (t, e) in pairs:
        assert_same(e.grad, t.grad)


def test_pad_sequence_integer_and_single():
    t_out = T.pad_sequence([torch.tensor([1, 2]), torch.tensor([3])], padding_value=7)
    e_out = E.pad_sequence([ember.tensor([1, 2]), ember.tensor([3])], padding_value=7)
    assert_same(e_out, t_out)
    t_one = T.pad_sequence([torch.ones(2, 2)], batch_first=True)
    assert_same(E.pad_sequence([ember.ones(2, 2)], batch_first=True), t_one)


@pytest.mark.parametrize("shapes", [
    [((3, 2), "float32"), ((1, 2), "float64")],  # cast to the first sequence's dtype
    [((3, 2), "int64"), ((2, 2), "float32")],  # floats truncated into an int64 result
    [((2, 2), "bool"), ((3, 2), "float32")],
    [((3, 2), "float32"), ((2, 1), "float32")],  # broadcast to the first trailing shape
    [((3, 2, 2), "float32"), ((2, 2), "float32")],
])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_casts_and_broadcasts_as_copy(shapes, batch_first):
    rng = np.random.default_rng(4)
    t_seqs, e_seqs = [], []
    for shape, dtype in shapes:
        array = rng.standard_normal(shape) * 3
        grad = dtype.startswith("float")
        t_seqs.append(torch.tensor(array).to(getattr(torch, dtype)).requires_grad_(grad))
        e_seqs.append(ember.tensor(array).to(getattr(ember, dtype)).requires_grad_(grad))
    t_out = T.pad_sequence(t_seqs, batch_first, 2.5, "left")
    e_out = E.pad_sequence(e_seqs, batch_first, 2.5, "left")
    assert_same(e_out, t_out)
    if t_out.requires_grad:
        assert e_out.grad_fn.name() == t_out.grad_fn.name()
        _backward_both(t_out.float(), e_out.float())
        for t, e in zip(t_seqs, e_seqs):
            if t.requires_grad:
                assert_same(e.grad, t.grad)


@settings(max_examples=examples(15), deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       batch_first=st.booleans(), features=st.integers(1, 3))
def test_pack_sequence_and_unpack_sequence(lengths, batch_first, features):
    rng = np.random.default_rng(len(lengths))
    arrays = [rng.standard_normal((n, features)).astype(np.float32) for n in lengths]
    t_seqs = [torch.tensor(a) for a in arrays]
    e_seqs = [ember.tensor(a) for a in arrays]
    tp = T.pack_sequence(t_seqs, enforce_sorted=False)
    ep = E.pack_sequence(e_seqs, enforce_sorted=False)
    _assert_packed_same(ep, tp)
    for e, t in zip(E.unpack_sequence(ep), T.unpack_sequence(tp)):
        assert_same(e, t)
    t_pad = T.pad_sequence(t_seqs, batch_first=batch_first)
    e_pad = E.pad_sequence(e_seqs, batch_first=batch_first)
    assert_same(e_pad, t_pad)
    lengths_t = torch.tensor(lengths)
    t_parts = T.unpad_sequence(t_pad, lengths_t, batch_first)
    e_parts = E.unpad_sequence(e_pad, ember.tensor(lengths), batch_first)
    for e, t in zip(e_parts, t_parts):
        assert_same(e, t)
    assert_same(e_pad, t_pad, what="transposed in place as torch")


def test_packed_sequence_object():
    data = ember.ones(3, 2)
    sizes = ember.tensor([2, 1])
    packed = E.PackedSequence(data, sizes, ember.tensor([1, 0]))
    assert_same(packed.unsorted_indices, torch.tensor([1, 0]))
    from_tuple = E.PackedSequence((data, sizes))
    assert from_tuple.data is data and from_tuple.sorted_indices is None
    assert packed.to(ember.float32) is packed
    as_double = packed.double()
    assert as_double.data.dtype is ember.float64 and as_double.batch_sizes is sizes
    assert packed.cpu() is packed and not packed.is_cuda
    data_t, sizes_t, sorted_t, unsorted_t = packed
    assert data_t is data
    assert_same(E.invert_permutation(ember.tensor([2, 0, 1])),
                T.invert_permutation(torch.tensor([2, 0, 1])))
    assert E.invert_permutation(None) is None
    check_raises_like(lambda L: _lib_rnn(L).PackedSequence(L.ones(3, 2)))


@pytest.mark.parametrize("call", [
    lambda L, R: R.pack_padded_sequence(L.ones(4, 3, 2), [4, 2, 0]),
    lambda L, R: R.pack_padded_sequence(L.ones(4, 3, 2), [2, 4, 1]),
    lambda L, R: R.pack_padded_sequence(L.ones(4, 3, 2), [4, 2]),
    lambda L, R: R.pack_padded_sequence(L.ones(4, 3, 2), L.tensor([[4, 2, 1]])),
    lambda L, R: R.pad_packed_sequence(R.pack_padded_sequence(L.ones(4, 3, 2), [4, 2, 1]),
                                       total_length=2),
    lambda L, R: R.pad_sequence([]),
    lambda L, R: R.pad_sequence([L.ones(2, 3), L.ones(2, 4)]),
    lambda L, R: R.pad_sequence([L.ones(2, 3)], padding_side="middle"),
    lambda L, R: R.pad_sequence(5),
    lambda L, R: R.pack_sequence([L.ones(2, 3), L.ones(3, 3)]),
    lambda L, R: R.pad_sequence([L.ones(2, 1), L.ones(2, 2)]),  # copy_'s broadcast error
    lambda L, R: R.pad_sequence([L.ones(2, 2), L.ones(2, 1, 2)]),
    lambda L, R: R.pad_sequence([L.ones(()), L.ones(2)]),
    lambda L, R: R.pad_sequence([L.ones(2), L.ones(())]),
    lambda L, R: R.pack_padded_sequence(L.ones(4, 0, 2), []),
    lambda L, R: R.pack_padded_sequence(L.ones(0, 2, 2), [1]),
    lambda L, R: R.pack_padded_sequence(L.ones(3, 2, 0), [3, 1], enforce_sorted=False),
    lambda L, R: R.pack_padded_sequence(L.ones(4), [4]),
    lambda L, R: R.pack_padded_sequence(L.ones(4), [4], batch_first=True, enforce_sorted=False),
    lambda L, R: R.pack_padded_sequence(L.ones(()), [4]),
    lambda L, R: R.pack_padded_sequence(L.ones(()), [4], batch_first=True),
])
def test_errors(call):
    check_raises_like(lambda L: call(L, _lib_rnn(L)))


# ---- RNNs on packed batches -------------------------------------------------------------


def _pair(mode: str, *args, seed: int = 0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        t_model = getattr(torch.nn, mode)(*args, **kwargs)
        ember.manual_seed(seed)
        e_model = getattr(ember.nn, mode)(*args, **kwargs)
    return t_model, e_model


def _states(out):
    return out if isinstance(out, tuple) else (out,)


CONFIGS = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "bidirectional": True, "num_layers": 2}),
    ("LSTM", {}), ("LSTM", {"bidirectional": True, "num_layers": 2}),
    ("LSTM", {"proj_size": 2, "bidirectional": True}), ("GRU", {"num_layers": 2}),
    ("GRU", {"bidirectional": True}),
]


@pytest.mark.parametrize(("mode", "config"), CONFIGS)
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [3, 5, 1, 3]])
@pytest.mark.parametrize("with_state", [False, True])
def test_rnns_on_packed_sequences(mode, config, lengths, with_state):
    t_model, e_model = _pair(mode, 3, 4, **config)
    rng = np.random.default_rng(3)
    tx, ex = _leaf(rng.standard_normal((4, 5, 3)).astype(np.float32))
    enforce_sorted = lengths == sorted(lengths, reverse=True)
    tp = T.pack_padded_sequence(tx, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    ep = E.pack_padded_sequence(ex, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    directions = 2 if config.get("bidirectional") else 1
    layers = config.get("num_layers", 1) * directions
    t_hx = e_hx = None
    leaves = []
    if with_state:
        th, eh = _leaf(rng.standard_normal((layers, 4, config.get("proj_size") or 4))
                       .astype(np.float32))
        tc, ec = _leaf(rng.standard_normal((layers, 4, 4)).astype(np.float32))
        t_hx, e_hx = ((th, tc), (eh, ec)) if mode == "LSTM" else (th, eh)
        leaves = [(th, eh), (tc, ec)] if mode == "LSTM" else [(th, eh)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False):
            t_out, t_hn = t_model(tp, t_hx)
    e_out, e_hn = e_model(ep, e_hx)
    _assert_packed_same(e_out, t_out)
    assert e_out.data.grad_fn.name() == t_out.data.grad_fn.name()
    for e, t in zip(_states(e_hn), _states(t_hn)):
        assert_same(e, t, what="final state")
        assert e.grad_fn.name() == t.grad_fn.name()
    t_pad, _ = T.pad_packed_sequence(t_out, batch_first=True)
    e_pad, _ = E.pad_packed_sequence(e_out, batch_first=True)
    rng = np.random.default_rng(4)
    t_sum = e_sum = 0
    for t, e in [(t_pad, e_pad)] + list(zip(_states(t_hn), _states(e_hn))):
        cot = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        t_sum = t_sum + (t * torch.tensor(cot)).sum()
        e_sum = e_sum + (e * ember.tensor(cot)).sum()
    t_sum.backward()
    e_sum.backward()
    assert_same(ex.grad, tx.grad, what="input grad")
    for t, e in leaves:
        assert_same(e.grad, t.grad, what="initial state grad")
    for (name, t), (_, e) in zip(t_model.named_parameters(), e_model.named_parameters()):
        assert_same(e.grad, t.grad, what=f"{name}.grad")


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_packed_dropout_draws_torch_masks(mode):
    t_model, e_model = _pair(mode, 3, 5, num_layers=3, dropout=0.5, bidirectional=True)
    x = np.random.default_rng(5).standard_normal((6, 3, 3)).astype(np.float32)
    tx, ex = _leaf(x)
    tp = T.pack_padded_sequence(tx, [6, 4, 2])
    ep = E.pack_padded_sequence(ex, [6, 4, 2])
    torch.manual_seed(7)
    ember.manual_seed(7)
    t_out, _ = t_model(tp)
    e_out, _ = e_model(ep)
    assert_same(e_out.data, t_out.data)
    _backward_both(t_out.data, e_out.data)
    assert_same(ex.grad, tx.grad)
