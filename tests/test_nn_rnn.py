"""nn.RNN / LSTM / GRU and their cells against torch: seeded weights, outputs, final
states, gradients of inputs, initial states and every parameter, dropout masks, reprs,
errors, float64 gradcheck (and gradgradcheck: torch's CPU RNN has second derivatives) and
two short trainings."""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import ember
import ember.nn
from tests.helpers import assert_same, check_gradcheck, check_raises_like, torch

MODES = ("RNN", "LSTM", "GRU")
CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False, "batch_first": True},
    {"nonlinearity": "relu", "num_layers": 2},
    {"proj_size": 3, "num_layers": 2, "bidirectional": True},
    {"proj_size": 2, "batch_first": True, "bias": False},
]


def _cases() -> list:
    return [pytest.param(mode, config, id=f"{mode}-{config}")
            for mode in MODES for config in CONFIGS
            if ("proj_size" not in config or mode == "LSTM")
            and ("nonlinearity" not in config or mode == "RNN")]


@contextlib.contextmanager
def _mkldnn(enabled: bool):
    """Both libraries on torch's oneDNN path (a float32 LSTM without projections on a padded
    batch records one ``MkldnnRnnLayerBackward0`` per layer) or on its composed CPU path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=enabled), \
                ember.backends.mkldnn.flags(enabled=enabled):
            yield


def _no_mkldnn():
    return _mkldnn(False)


def _pair(mode: str, *args, seed: int = 0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        t_model = getattr(torch.nn, mode)(*args, **kwargs)
        ember.manual_seed(seed)
        e_model = getattr(ember.nn, mode)(*args, **kwargs)
    return t_model, e_model


def _leaf(array, requires_grad: bool = True):
    return (torch.tensor(array).requires_grad_(requires_grad),
            ember.tensor(array).requires_grad_(requires_grad))


def _states(out):
    return out if isinstance(out, tuple) else (out,)


def _backward_both(t_outs, e_outs, seed: int = 1) -> None:
    """Backpropagate the same random cotangent through both libraries' outputs."""
    rng = np.random.default_rng(seed)
    t_sum = e_sum = 0
    for t, e in zip(t_outs, e_outs):
        cot = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        t_sum = t_sum + (t * torch.tensor(cot)).sum()
        e_sum = e_sum + (e * ember.tensor(cot)).sum()
    t_sum.backward()
    e_sum.backward()


def _assert_params_same(t_model, e_model, grads: bool = False) -> None:
    t_named = list(t_model.named_parameters())
    e_named = list(e_model.named_parameters())
    assert [n for n, _ in e_named] == [n for n, _ in t_named]
    for (name, t), (_, e) in zip(t_named, e_named):
        if grads:
            assert_same(e.grad, t.grad, what=f"{name}.grad")
        else:
            assert_same(e, t, rtol=0, atol=0, what=name)


# ---- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "config"), _cases())
def test_seeded_weights_names_and_repr(mode, config):
    t_model, e_model = _pair(mode, 4, 5, **config)
    _assert_params_same(t_model, e_model)
    assert repr(e_model) == repr(t_model)
    assert e_model._flat_weights_names == t_model._flat_weights_names
    assert [[tuple(p.shape) for p in ws] for ws in e_model.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in t_model.all_weights]
    assert list(e_model.state_dict()) == list(t_model.state_dict())
    assert all(a is b for a, b in zip(e_model._flat_weights, e_model.parameters()))
    e_model.flatten_parameters()


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"nonlinearity": "relu"}])
def test_cell_seeded_weights_and_repr(cls, kwargs):
    if "nonlinearity" in kwargs and cls != "RNNCell":
        return
    t_model, e_model = _pair(cls, 3, 4, **kwargs)
    _assert_params_same(t_model, e_model)
    assert repr(e_model) == repr(t_model)


def test_reset_parameters_and_reassignment_follow_torch():
    t_model, e_model = _pair("LSTM", 3, 4, num_layers=2)
    torch.manual_seed(3)
    ember.manual_seed(3)
    t_model.reset_parameters()
    e_model.reset_parameters()
    _assert_params_same(t_model, e_model)
    new = ember.nn.Parameter(ember.zeros(16, 3))
    e_model.weight_ih_l0 = new
    assert e_model._flat_weights[0] is new


# ---- forward and backward ---------------------------------------------------------------


@pytest.mark.parametrize("mkldnn", [False, True], ids=["composed", "mkldnn"])
@pytest.mark.parametrize(("mode", "config"), _cases())
def test_forward_backward_match_torch(mode, config, mkldnn):
    t_model, e_model = _pair(mode, 3, 5, **config)
    rng = np.random.default_rng(0)
    batch_first = config.get("batch_first", False)
    x = rng.standard_normal((2, 4, 3) if batch_first else (4, 2, 3)).astype(np.float32)
    directions = 2 if config.get("bidirectional") else 1
    layers = config.get("num_layers", 1) * directions
    h_size = config.get("proj_size") or 5
    tx, ex = _leaf(x)
    t_h0, e_h0 = _leaf(rng.standard_normal((layers, 2, h_size)).astype(np.float32))
    t_c0, e_c0 = _leaf(rng.standard_normal((layers, 2, 5)).astype(np.float32))
    t_hx = (t_h0, t_c0) if mode == "LSTM" else t_h0
    e_hx = (e_h0, e_c0) if mode == "LSTM" else e_h0
    with _mkldnn(mkldnn):
        t_out, t_hn = t_model(tx, t_hx)
        e_out, e_hn = e_model(ex, e_hx)
    assert_same(e_out, t_out, what="output")
    assert e_out.grad_fn.name() == t_out.grad_fn.name()
    for e, t in zip(_states(e_hn), _states(t_hn)):
        assert_same(e, t, what="final state")
        assert e.grad_fn.name() == t.grad_fn.name()
    _backward_both((t_out,) + _states(t_hn), (e_out,) + _states(e_hn))
    assert_same(ex.grad, tx.grad, what="input grad")
    assert_same(e_h0.grad, t_h0.grad, what="h0 grad")
    if mode == "LSTM":
        assert_same(e_c0.grad, t_c0.grad, what="c0 grad")
    _assert_params_same(t_model, e_model, grads=True)


@pytest.mark.parametrize("mode", MODES)
def test_default_state_unbatched_and_output_only(mode):
    t_model, e_model = _pair(mode, 3, 4, num_layers=2, bidirectional=True)
    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    tx, ex = _leaf(x)
    t_out, t_hn = t_model(tx)
    e_out, e_hn = e_model(ex)
    assert_same(e_out, t_out, what="output")
    for e, t in zip(_states(e_hn), _states(t_hn)):
        assert_same(e, t, what="final state")
    _backward_both((t_out,), (e_out,))  # no gradient reaches the final cell state
    assert_same(ex.grad, tx.grad, what="input grad")
    _assert_params_same(t_model, e_model, grads=True)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_with_initial_state(mode):
    t_model, e_model = _pair(mode, 3, 4)
    rng = np.random.default_rng(4)
    tx, ex = _leaf(rng.standard_normal((5, 3)).astype(np.float32))
    th, eh = _leaf(rng.standard_normal((1, 4)).astype(np.float32))
    t_hx, e_hx = ((th, th * 2), (eh, eh * 2)) if mode == "LSTM" else (th, eh)
    t_out, t_hn = t_model(tx, t_hx)
    e_out, e_hn = e_model(ex, e_hx)
    assert_same(e_out, t_out, what="output")
    for e, t in zip(_states(e_hn), _states(t_hn)):
        assert_same(e, t, what="final state")
        assert e.grad_fn.name() == t.grad_fn.name()
    _backward_both((t_out,) + _states(t_hn), (e_out,) + _states(e_hn))
    assert_same(eh.grad, th.grad, what="h0 grad")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_between_layers_draws_torch_masks(mode, bidirectional):
    t_model, e_model = _pair(mode, 3, 6, num_layers=3, dropout=0.4,
                             bidirectional=bidirectional)
    x = np.random.default_rng(5).standard_normal((4, 3, 3)).astype(np.float32)
    tx, ex = _leaf(x)
    torch.manual_seed(11)
    ember.manual_seed(11)
    t_out, _ = t_model(tx)
    e_out, _ = e_model(ex)
    assert_same(e_out, t_out, what="training output")
    _backward_both((t_out,), (e_out,))
    _assert_params_same(t_model, e_model, grads=True)
    # the generators moved alike, and evaluation mode draws nothing
    assert_same(ember.rand(3), torch.rand(3), rtol=0, atol=0)
    t_model.eval()
    e_model.eval()
    assert_same(e_model(ex)[0], t_model(tx)[0], what="eval output")
    assert_same(ember.rand(3), torch.rand(3), rtol=0, atol=0)


def test_float64_model():
    t_model, e_model = _pair("GRU", 2, 3, dtype=None)
    t_model.double()
    e_model.double()
    x = np.random.default_rng(6).standard_normal((3, 2, 2))
    tx, ex = _leaf(x)
    assert_same(e_model(ex)[0], t_model(tx)[0])


# ---- cells ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"nonlinearity": "relu"}])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(cls, kwargs, batched):
    if "nonlinearity" in kwargs and cls != "RNNCell":
        return
    t_model, e_model = _pair(cls, 3, 4, **kwargs)
    rng = np.random.default_rng(7)
    shape = (2,) if batched else ()
    tx, ex = _leaf(rng.standard_normal(shape + (3,)).astype(np.float32))
    th, eh = _leaf(rng.standard_normal(shape + (4,)).astype(np.float32))
    tc, ec = _leaf(rng.standard_normal(shape + (4,)).astype(np.float32))
    t_out = _states(t_model(tx, (th, tc) if cls == "LSTMCell" else th))
    e_out = _states(e_model(ex, (eh, ec) if cls == "LSTMCell" else eh))
    for e, t in zip(e_out, t_out):
        assert_same(e, t)
        assert e.grad_fn.name() == t.grad_fn.name()
    _backward_both(t_out, e_out)
    assert_same(ex.grad, tx.grad, what="input grad")
    assert_same(eh.grad, th.grad, what="hidden grad")
    _assert_params_same(t_model, e_model, grads=True)
    default = _states(e_model(ex))
    for e, t in zip(default, _states(t_model(tx))):
        assert_same(e, t, what="default state")


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_gradcheck_float64(cls):
    e_model = getattr(ember.nn, cls)(3, 2).double()
    weights = [p.detach() for p in e_model.parameters()]

    def cell(lib, x, h, c, w_ih, w_hh, b_ih, b_hh):
        from ember.nn._functional import rnn as F

        if cls == "LSTMCell":
            return F.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
        fn = F.rnn_tanh_cell if cls == "RNNCell" else F.gru_cell
        return fn(x, h, w_ih, w_hh, b_ih, b_hh)

    shapes = [(2, 3), (2, 2), (2, 2)] + [tuple(w.shape) for w in weights]
    check_gradcheck(cell, shapes, low=-1.0, high=1.0)


@pytest.mark.parametrize(("mode", "kwargs"), [
    ("RNN", {"num_layers": 2}), ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {"bidirectional": True}), ("LSTM", {"proj_size": 1}), ("GRU", {"num_layers": 2}),
])
def test_fused_steps_gradcheck_and_gradgradcheck_float64(mode, kwargs):
    """The fused step records' first and second derivatives (NOTE [Fused recurrent steps]),
    through the module, with respect to the input, the initial state and every weight."""
    e_model = getattr(ember.nn, mode)(2, 2, **kwargs).double()
    names = [n for n, _ in e_model.named_parameters()]
    rng = np.random.default_rng(8)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    x = ember.tensor(rng.uniform(-1, 1, (3, 2, 2)), requires_grad=True)
    h0 = ember.tensor(rng.uniform(-1, 1, (layers, 2, kwargs.get("proj_size") or 2)),
                      requires_grad=True)
    c0 = ember.tensor(rng.uniform(-1, 1, (layers, 2, 2)), requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in e_model.parameters()]

    def run(x, h0, c0, *weights):
        state = (h0, c0) if mode == "LSTM" else h0
        from ember.func import functional_call

        out, hn = functional_call(e_model, dict(zip(names, weights)), (x, state))
        return (out,) + _states(hn)

    inputs = (x, h0, c0, *params)
    assert ember.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
    assert ember.autograd.gradgradcheck(run, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_lstm_layer_gradcheck_and_gradgradcheck_float64(reverse, bias):
    """The fused LSTM layer record (NOTE [Fused LSTM layers]) in float64, called directly (the
    module takes it for float32 only, as torch's oneDNN path): its first derivatives on
    arrays and its recomputed second derivatives against finite differences."""
    from ember._ops import nn_rnn
    from ember._ops.registry import run

    rng = np.random.default_rng(12)
    shapes = [(3, 2, 2), (8, 2), (8, 2)] + ([(8,), (8,)] if bias else []) + [(2, 2), (2, 2)]
    inputs = tuple(ember.tensor(rng.uniform(-1, 1, shape), requires_grad=True)
                   for shape in shapes)

    def layer(x, w_ih, w_hh, *rest):
        b_ih, b_hh = rest[:2] if bias else (None, None)
        return run(nn_rnn.LSTM_LAYER, x, w_ih, w_hh, b_ih, b_hh, *rest[-2:], reverse)[:3]

    assert ember.autograd.gradcheck(layer, inputs)
    assert ember.autograd.gradgradcheck(layer, inputs)


@pytest.mark.parametrize("bias", [True, False])
def test_fused_lstm_layer_graph_is_torchs(bias):
    """Edges of the layer nodes and of the final states' stacks, as torch's oneDNN LSTM
    records them (initial states taken by select)."""
    t_model, e_model = _pair("LSTM", 3, 4, num_layers=2, bias=bias)
    rng = np.random.default_rng(13)
    tx, ex = _leaf(rng.standard_normal((5, 2, 3)).astype(np.float32))
    t_h0, e_h0 = _leaf(rng.standard_normal((2, 2, 4)).astype(np.float32))
    t_c0, e_c0 = _leaf(rng.standard_normal((2, 2, 4)).astype(np.float32))

    def edges(node, depth=2):
        if node is None:
            return None
        found = [(n.name() if n is not None else None, nr) for n, nr in node.next_functions]
        if depth:
            found.append([edges(n, depth - 1) for n, _ in node.next_functions
                          if n is not None and n.name() != "torch::autograd::AccumulateGrad"])
        return node.name(), found

    with _mkldnn(True):
        t_out, (t_h, t_c) = t_model(tx, (t_h0, t_c0))
        e_out, (e_h, e_c) = e_model(ex, (e_h0, e_c0))
    for t, e in ((t_out, e_out), (t_h, e_h), (t_c, e_c)):
        assert edges(e.grad_fn) == edges(t.grad_fn)
        assert_same(e, t)


def test_fused_lstm_layer_output_modified_in_place_as_torch():
    models = dict(zip((torch, ember), _pair("LSTM", 2, 3)))
    x = np.ones((4, 2, 2), np.float32)

    def call(lib):
        out = models[lib](lib.tensor(x, requires_grad=True))[0]
        out.mul_(2)
        out.sum().backward()

    with _mkldnn(True):
        check_raises_like(call)


@pytest.mark.parametrize("mkldnn", [False, True], ids=["composed", "mkldnn"])
def test_double_backward_matches_torch(mkldnn):
    t_model, e_model = _pair("LSTM", 2, 3, num_layers=2)
    x = np.random.default_rng(9).standard_normal((4, 2, 2)).astype(np.float32)
    tx, ex = _leaf(x)
    with _mkldnn(mkldnn):
        (t_g,) = torch.autograd.grad(t_model(tx)[0].pow(2).sum(), tx, create_graph=True)
        (e_g,) = ember.autograd.grad(e_model(ex)[0].pow(2).sum(), ex, create_graph=True)
    assert_same(e_g, t_g, what="first derivative")
    if mkldnn:  # torch's differentiable oneDNN backward joins the steps' input gradients
        assert e_g.grad_fn.name() == t_g.grad_fn.name() == "CatBackward0"
    t_g.pow(2).sum().backward()
    e_g.pow(2).sum().backward()
    assert_same(ex.grad, tx.grad, what="second derivative")
    _assert_params_same(t_model, e_model, grads=True)


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda L: L.nn.RNN(3, 4, nonlinearity="x"),
    lambda L: L.nn.GRU(3, 4, proj_size=2),
    lambda L: L.nn.LSTM(3, 4, proj_size=4),
    lambda L: L.nn.LSTM(3, 4, proj_size=-1),
    lambda L: L.nn.LSTM(3, 4, dropout=2),
    lambda L: L.nn.LSTM(3, 4, dropout=True),
    lambda L: L.nn.LSTM(3, 4, num_layers=0),
    lambda L: L.nn.LSTM(3, 0),
    lambda L: L.nn.LSTM(3.0, 4),
    lambda L: L.nn.LSTM(3, 4, bias=1),
    lambda L: L.nn.LSTM(3, 4, batch_first=None),
])
def test_constructor_errors(make):
    check_raises_like(make)


@pytest.mark.parametrize(("mode", "call"), [
    ("LSTM", lambda L, m: m(L.ones(5, 2, 3, 1))),
    ("GRU", lambda L, m: m(L.ones(5, 2, 3, 1))),
    ("RNN", lambda L, m: m(L.ones(5, 2, 3, 1))),
    ("LSTM", lambda L, m: m(L.ones(5, 2, 4))),
    ("LSTM", lambda L, m: m(L.ones(5, 2, 3, dtype=L.float64))),
    ("LSTM", lambda L, m: m(L.ones(5, 2, 3), (L.ones(1, 3, 4), L.ones(1, 2, 4)))),
    ("LSTM", lambda L, m: m(L.ones(5, 2, 3), (L.ones(1, 2, 4), L.ones(1, 2, 5)))),
    ("LSTM", lambda L, m: m(L.ones(5, 3), (L.ones(1, 2, 4), L.ones(1, 2, 4)))),
    ("LSTM", lambda L, m: m(L.ones(5, 2, 3), (L.ones(2, 4), L.ones(2, 4)))),
    ("GRU", lambda L, m: m(L.ones(5, 2, 3), L.ones(2, 4))),
    ("GRU", lambda L, m: m(L.ones(5, 3), L.ones(1, 2, 4))),
    ("GRU", lambda L, m: m(L.ones(5, 2, 3), L.ones(1, 3, 4))),
    ("RNN", lambda L, m: m(L.ones(0, 2, 3))),
])
def test_forward_errors(mode, call):
    t_model, e_model = _pair(mode, 3, 4)
    check_raises_like(lambda L: call(L, t_model if L is torch else e_model))


@pytest.mark.parametrize(("cls", "call"), [
    ("LSTMCell", lambda L, m: m(L.ones(2, 5))),
    ("LSTMCell", lambda L, m: m(L.ones(2, 3), (L.ones(3, 4), L.ones(2, 4)))),
    ("LSTMCell", lambda L, m: m(L.ones(2, 3), (L.ones(2, 5), L.ones(2, 4)))),
    ("LSTMCell", lambda L, m: m(L.ones(2, 3), (L.ones(2, 4), L.ones(2, 5)))),
    ("LSTMCell", lambda L, m: m(L.ones(2, 3, 3))),
    ("LSTMCell", lambda L, m: m(L.ones(2, 3), (L.ones(2, 4, 1), L.ones(2, 4)))),
    ("GRUCell", lambda L, m: m(L.ones(2, 3), L.ones(3, 4))),
    ("GRUCell", lambda L, m: m(L.ones(2, 3), L.ones(2, 4, 1))),
    ("RNNCell", lambda L, m: m(L.ones(2, 3, 1))),
])
def test_cell_errors(cls, call):
    t_model, e_model = _pair(cls, 3, 4)
    check_raises_like(lambda L: call(L, t_model if L is torch else e_model))


def test_cell_unknown_nonlinearity():
    t_model, e_model = _pair("RNNCell", 3, 4, nonlinearity="x")
    check_raises_like(lambda L: (t_model if L is torch else e_model)(L.ones(2, 3)))


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ember.nn.GRU(3, 4, dropout=0.5)


# ---- training ---------------------------------------------------------------------------


def _train_both(build, batches, steps: int = 30, lr: float = 0.5) -> None:
    """Train the same model in both libraries with plain SGD; losses agree to 1e-4."""
    losses = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: torch's thread pool only adds wake-up waits
    try:
        with _no_mkldnn():  # oneDNN builds a kernel per packed batch shape: slow to start
            _train_each(build, batches, steps, lr, losses)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(losses["ember"], losses["torch"], rtol=1e-4)
    assert losses["torch"][-1] < losses["torch"][0]


def _train_each(build, batches, steps: int, lr: float, losses: dict) -> None:
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = build(lib)
        optimizer = lib.optim.SGD(model.parameters(), lr=lr)
        history = []
        for step in range(steps):
            inputs, targets, lengths = batches(lib, step)
            optimizer.zero_grad()
            loss = model(inputs, lengths, targets)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        losses[lib.__name__] = history


def _batches(vocab: int, classes: int, per_token: bool):
    rng = np.random.default_rng(0)
    data = []
    for _ in range(30):
        lengths = rng.integers(1, 7, size=5)
        tokens = rng.integers(1, vocab, size=(5, 6))
        # learnable labels: a token's class, or the class of a sequence's first token
        labels = tokens % classes if per_token else tokens[:, 0] % classes
        data.append((tokens, labels, lengths))

    def batches(lib, step):
        tokens, labels, lengths = data[step]
        return (lib.tensor(tokens), lib.tensor(labels), lib.tensor(lengths))
    return batches


def test_lstm_tagger_training_matches_torch():
    def build(lib):
        nn = lib.nn
        pack = lib.nn.utils.rnn if lib is torch else __import__(
            "ember.nn.utils.rnn", fromlist=["x"])

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(20, 8)
                self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, dropout=0.2)
                self.out = nn.Linear(12, 4)

            def forward(self, tokens, lengths, labels):
                packed = pack.pack_padded_sequence(self.embed(tokens), lengths,
                                                   batch_first=True, enforce_sorted=False)
                out, _ = self.lstm(packed)
                padded, _ = pack.pad_packed_sequence(out, batch_first=True,
                                                     total_length=tokens.shape[1])
                steps = lib.arange(tokens.shape[1])
                mask = steps[None, :] < lengths[:, None]
                logits = self.out(padded)[mask]
                return nn.functional.cross_entropy(logits, labels[mask])
        return Tagger()

    _train_both(build, _batches(20, 4, per_token=True))


def test_bidirectional_gru_classifier_training_matches_torch():
    def build(lib):
        nn = lib.nn
        pack = lib.nn.utils.rnn if lib is torch else __import__(
            "ember.nn.utils.rnn", fromlist=["x"])

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(20, 8)
                self.gru = nn.GRU(8, 10, bidirectional=True)
                self.out = nn.Linear(20, 3)

            def forward(self, tokens, lengths, labels):
                packed = pack.pack_padded_sequence(self.embed(tokens).transpose(0, 1),
                                                   lengths, enforce_sorted=False)
                _, hidden = self.gru(packed)
                features = lib.cat([hidden[0], hidden[1]], 1)
                return nn.functional.cross_entropy(self.out(features), labels)
        return Classifier()

    _train_both(build, _batches(20, 3, per_token=False))


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch(mode):
    t_model, e_model = _pair(mode, 3, 4, bidirectional=True)
    tx, ex = _leaf(np.zeros((5, 0, 3), dtype=np.float32))
    t_out, t_hn = t_model(tx)
    e_out, e_hn = e_model(ex)
    assert_same(e_out, t_out)
    for e, t in zip(_states(e_hn), _states(t_hn)):
        assert_same(e, t)
    _backward_both((t_out,), (e_out,))
    assert_same(ex.grad, tx.grad)


@pytest.mark.parametrize("mode", MODES)
def test_forward_mode_tangents_match_torch(mode):
    t_model, e_model = _pair(mode, 2, 3, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 2, 2)).astype(np.float32)
    v = rng.standard_normal((4, 2, 2)).astype(np.float32)
    e_fw = ember.autograd.forward_ad
    t_fw = torch.autograd.forward_ad
    with _no_mkldnn():  # torch's oneDNN LSTM has no forward mode (below)
        with e_fw.dual_level():
            e_tangent = e_fw.unpack_dual(e_model(e_fw.make_dual(ember.tensor(x),
                                                                ember.tensor(v)))[0]).tangent
        with t_fw.dual_level():
            t_tangent = t_fw.unpack_dual(t_model(t_fw.make_dual(torch.tensor(x),
                                                                torch.tensor(v)))[0]).tangent
    assert_same(e_tangent, t_tangent)


def test_fused_lstm_layer_refuses_forward_mode_as_torch():
    models = dict(zip((torch, ember), _pair("LSTM", 2, 3)))
    x = np.ones((4, 2, 2), np.float32)

    def call(lib):
        with lib.autograd.forward_ad.dual_level():
            models[lib](lib.autograd.forward_ad.make_dual(lib.tensor(x), lib.tensor(x)))

    check_raises_like(call)


def _packed(lib, x):
    return lib.nn.utils.rnn.pack_padded_sequence(x, [5, 3])


@pytest.mark.parametrize("call", [
    # the first step's h @ W_hh refuses an initial state of another dtype
    lambda L: L.nn.GRU(3, 4)(L.randn(5, 2, 3), L.randn(1, 2, 4).double()),
    lambda L: L.nn.RNN(3, 4, 2)(L.randn(5, 2, 3), L.ones(2, 2, 4, dtype=L.int64)),
    lambda L: L.nn.GRU(3, 4).double()(L.randn(5, 3).double(), L.randn(1, 4)),
    lambda L: L.nn.RNN(3, 4)(_packed(L, L.randn(5, 2, 3)), L.randn(1, 2, 4).half()),
    lambda L: L.nn.LSTM(3, 4, proj_size=2)(L.randn(5, 2, 3),
                                           (L.randn(1, 2, 2).double(), L.randn(1, 2, 4))),
    lambda L: L.nn.LSTM(3, 4)(_packed(L, L.randn(5, 2, 3)),
                              (L.randn(1, 2, 4).double(), L.randn(1, 2, 4))),
    # the oneDNN LSTM (float32, no projections, padded) refuses either state
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 2, 3), (L.randn(1, 2, 4), L.randn(1, 2, 4).double())),
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 3), (L.randn(1, 4).bfloat16(), L.randn(1, 4))),
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 2, 3), (L.randn(1, 2, 4),
                                                 L.ones(1, 2, 4, dtype=L.uint8))),
])
def test_initial_state_of_another_dtype_refused_as_torch(call):
    check_raises_like(call)


def test_cell_state_of_a_wider_dtype_promotes_as_torch():
    # torch's step promotes a float32 cell state of a float64 LSTM, as ember's does
    def run_lstm(lib):
        lib.manual_seed(0)
        model = lib.nn.LSTM(3, 4).double()
        return model(lib.randn(5, 2, 3).double(), (lib.randn(1, 2, 4).double(),
                                                   lib.randn(1, 2, 4)))

    (t_out, (t_h, t_c)), (e_out, (e_h, e_c)) = run_lstm(torch), run_lstm(ember)
    for e, t in ((e_out, t_out), (e_h, t_h), (e_c, t_c)):
        assert_same(e, t)


@pytest.mark.parametrize("call", [
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 2, 3), (L.randn(1, 2, 4),) * 3),
    lambda L: L.nn.LSTM(3, 4)(_packed(L, L.randn(5, 2, 3)), (L.randn(1, 2, 4),) * 3),
    lambda L: L.nn.LSTMCell(3, 4)(L.randn(2, 3), (L.randn(2, 4),) * 3),
    lambda L: L.nn.LSTMCell(3, 4)(L.randn(2, 3), L.randn(2, 4)),
    lambda L: L.lstm_cell(L.randn(2, 3), (L.randn(2, 4),), L.randn(16, 3), L.randn(16, 4)),
])
def test_lstm_hidden_states_not_a_pair_refused_as_torch(call):
    check_raises_like(call)
