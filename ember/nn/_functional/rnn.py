"""The recurrent computations behind ``ember.nn``'s RNN modules (torch's ``_VF.rnn_tanh``,
``_VF.lstm``, ``_VF.gru`` and the ``_VF.*_cell`` functions). torch's ``nn.functional`` has
no recurrent functions, so nothing here is exported there.

The cell functions (one step, used by ``RNNCell``/``LSTMCell``/``GRUCell``) are composed of
ember ops as torch's CPU cells are, so their outputs carry torch's nodes (``TanhBackward0``,
``MulBackward0``/``AddBackward0``, ``AddBackward0``). Where torch's CPU build takes its
oneDNN path (a float32 LSTM without projections on a padded batch, while
``backends.mkldnn.enabled``), a layer is one record (NOTE [Fused LSTM layers] in
ember/_ops/nn_rnn.py). Otherwise the sequence functions project the whole input of a layer
with one matmul and run one fused record per step (NOTE [Fused recurrent steps]). The
outputs are stacked (``StackBackward0``), joined (``CatBackward0``) and dropped out between
layers as torch's CPU RNN does: NOTE [RNN dropout masks].

NOTE [RNN dropout masks]: torch's CPU RNN (learnt by experiment against torch 2.13) applies
``dropout`` to each layer's whole output but the last's, after both directions are joined:
the ``(seq, batch, directions * hidden)`` tensor, or a packed sequence's ``(sum of batch
sizes, directions * hidden)`` data, drawing from the default generator in layer order, as
``nn.functional.dropout`` draws. ember calls that same dropout, so a seeded run drops
torch's units bit for bit.
"""
from __future__ import annotations

from ember._dtype import bfloat16, float16, float32, int8, scalar_type_name, uint8
from ember._ops import nn_rnn
from ember._ops.registry import run
from ember._ops.shape import cat, stack
from ember._tensor import Tensor
from ember.backends import mkldnn as _mkldnn
from ember.nn._functional.dropout import dropout as _dropout
from ember.nn._functional.linear import linear

__all__: list = []

_STEPS = {"RNN_TANH": nn_rnn.RNN_TANH_STEP, "RNN_RELU": nn_rnn.RNN_RELU_STEP,
          "GRU": nn_rnn.GRU_STEP}


# ---- cells ------------------------------------------------------------------------------


def _check_cell(input: Tensor, hiddens: tuple, input_size: int, hidden_size: int) -> None:
    """torch's checks of a cell's input and hidden states (after the 1-d ones were given a
    batch dim)."""
    if input.shape[1] != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                           f"expected {input_size}")
    for k, hx in enumerate(hiddens):
        if input.shape[0] != hx.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} "
                               f"batch size {hx.shape[0]}")
        if hx.shape[1] != hidden_size:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {hx.shape[1]}, "
                               f"expected {hidden_size}")


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.rnn_tanh_cell``: ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""
    _check_cell(input, (hx,), w_ih.shape[1], w_hh.shape[1])
    return (linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.rnn_relu_cell``: ``relu(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""
    _check_cell(input, (hx,), w_ih.shape[1], w_hh.shape[1])
    return (linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)).relu()


def lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple:
    """Mirrors ``torch.lstm_cell``: one LSTM step, ``(h', c')`` from ``hx = (h, c)``, gates
    (i, f, g, o) in that order along the weights' first dim."""
    if isinstance(hx, Tensor):
        raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                        "not Tensor")
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    h, c = hx
    _check_cell(input, (h, c), w_ih.shape[1], w_hh.shape[1])
    gates = linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, 1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """Mirrors ``torch.gru_cell``: one GRU step, gates (r, z, n) in that order;
    ``h' = (h - n) * z + n`` with ``n = tanh(x_n + r * (h W_hn^T + b_hn))``."""
    _check_cell(input, (hx,), w_ih.shape[1], w_hh.shape[1])
    x_r, x_z, x_n = linear(input, w_ih, b_ih).chunk(3, 1)
    h_r, h_z, h_n = linear(hx, w_hh, b_hh).chunk(3, 1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (hx - n) * z + n


# ---- sequences --------------------------------------------------------------------------


def _layer_weights(weights: list, has_biases: bool, proj: bool, index: int) -> tuple:
    """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction from the flat list."""
    per = 2 + 2 * has_biases + proj
    chunk = weights[index * per:(index + 1) * per]
    w_ih, w_hh = chunk[0], chunk[1]
    b_ih = chunk[2] if has_biases else None
    b_hh = chunk[3] if has_biases else None
    w_hr = chunk[-1] if proj else None
    return w_ih, w_hh, b_ih, b_hh, w_hr


def _step(mode: str, x: Tensor, state: tuple, w_hh, b_hh, w_hr) -> tuple:
    """One fused step: the new state tuple ((h,) or (h, c))."""
    if mode == "LSTM":
        h, c = run(nn_rnn.LSTM_STEP, x, state[0], state[1], w_hh, b_hh, w_hr)[:2]
        return h, c
    return run(_STEPS[mode], x, state[0], w_hh, b_hh)[:1]


def _run_padded(mode: str, steps: tuple, state: tuple, w_hh, b_hh, w_hr,
                reverse: bool) -> tuple:
    """(the per-step hidden outputs in time order, the final state) of one direction."""
    outs = []
    for x in (reversed(steps) if reverse else steps):
        state = _step(mode, x, state, w_hh, b_hh, w_hr)
        outs.append(state[0])
    if reverse:
        outs.reverse()
    return outs, state


def _run_packed(mode: str, steps: tuple, batch_sizes: list, state: tuple, w_hh, b_hh,
                w_hr, reverse: bool) -> tuple:
    """As ``_run_padded`` over a packed sequence: the batch shrinks with time (sorted by
    decreasing length), so going forward the finished rows' states are set aside, and going
    backward the rows joining are taken from the initial state."""
    outs = [None] * len(steps)
    if not reverse:
        finished = []
        for t, x in enumerate(steps):
            size = batch_sizes[t]
            if size < state[0].shape[0]:
                finished.append(tuple(s[size:] for s in state))
                state = tuple(s[:size] for s in state)
            state = _step(mode, x, state, w_hh, b_hh, w_hr)
            outs[t] = state[0]
        finished.append(state)
        finished.reverse()
        if len(finished) > 1:
            state = tuple(cat(parts, 0) for parts in zip(*finished))
        return outs, state
    initial = state
    state = tuple(s[:batch_sizes[-1]] for s in initial)
    for t in range(len(steps) - 1, -1, -1):
        size = batch_sizes[t]
        have = state[0].shape[0]
        if size > have:
            state = tuple(cat((s, s0[have:size]), 0) for s, s0 in zip(state, initial))
        state = _step(mode, steps[t], state, w_hh, b_hh, w_hr)
        outs[t] = state[0]
    return outs, state


# What torch's oneDNN LSTM says of an initial state of another dtype than float32
_ONEDNN_REFUSALS = {
    float16: "could not create a primitive descriptor for the LSTM forward propagation "
             "primitive. Run workload with environment variable ONEDNN_VERBOSE=all to get "
             "additional diagnostic information.",
    uint8: "itensor_view_from_dense expects float, bfloat16 or half tensor input",
}
_ONEDNN_REFUSALS[bfloat16] = _ONEDNN_REFUSALS[float16]
_ONEDNN_REFUSALS[int8] = _ONEDNN_REFUSALS[uint8]


def _check_state_dtypes(hx: tuple, weight_dtype, fused: bool) -> None:
    """torch's refusal of initial states whose dtype is not the weights': its oneDNN LSTM
    rejects the state; elsewhere the first step's ``h @ W_hh`` rejects ``h`` (a cell state
    of another dtype is promoted there, as in torch's step)."""
    if fused:
        for state in hx:
            if state.dtype is not float32:
                raise RuntimeError(_ONEDNN_REFUSALS.get(
                    state.dtype, "get_mkldnn_dtype: unsupported data type"))
    elif hx[0].dtype is not weight_dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(hx[0].dtype)} and "
                           f"{scalar_type_name(weight_dtype)}")


def rnn(mode: str, input: Tensor, hx: tuple, weights: list, has_biases: bool,
        num_layers: int, dropout: float, train: bool, bidirectional: bool,
        batch_first: bool = False, batch_sizes: list | None = None) -> tuple:
    """Mirrors ``torch._VF.rnn_tanh``/``rnn_relu``/``lstm``/``gru`` (``mode``: "RNN_TANH",
    "RNN_RELU", "LSTM", "GRU"): a stack of ``num_layers`` recurrent layers over ``input``
    (``(seq, batch, features)``, ``batch_first``: ``(batch, seq, features)``, or with
    ``batch_sizes`` a packed sequence's data), from the initial states ``hx`` (a tuple of
    ``(layers * directions, batch, size)`` tensors: ``(h0,)`` or ``(h0, c0)``).

    Returns ``(output, final states)``, the final states a tuple like ``hx``.
    """
    if batch_sizes is None and input.shape[0 if not batch_first else 1] == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    directions = 2 if bidirectional else 1
    proj = mode == "LSTM" and len(weights) == num_layers * directions * (
        3 + 2 * has_biases)
    # torch's CPU build runs a float32 LSTM without projections on a padded batch through
    # oneDNN, one record per layer and direction, taking each initial state by select
    fused = (mode == "LSTM" and not proj and batch_sizes is None and _mkldnn.enabled
             and input.dtype is float32 and input.shape[1 if not batch_first else 0] > 0
             and all(w.dtype is float32 for w in weights))
    if mode == "LSTM" and len(hx) != 2:
        raise RuntimeError("lstm expects two hidden states")
    _check_state_dtypes(hx, weights[0].dtype, fused)
    initial = [] if fused else [s.unbind(0) for s in hx]
    if batch_sizes is None and batch_first:
        input = input.transpose(0, 1)
    layer_input = input
    finals = [[] for _ in hx]
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            w_ih, w_hh, b_ih, b_hh, w_hr = _layer_weights(weights, has_biases, proj, index)
            reverse = direction == 1
            if fused:  # NOTE [Fused LSTM layers] in ember/_ops/nn_rnn.py
                out, h, c = run(nn_rnn.LSTM_LAYER, layer_input, w_ih, w_hh, b_ih, b_hh,
                                hx[0][index], hx[1][index], reverse)[:3]
                outputs.append(out)
                finals[0].append(h)
                finals[1].append(c)
                continue
            projected = linear(layer_input, w_ih, b_ih)
            state = tuple(s[index] for s in initial)
            if batch_sizes is None:
                outs, state = _run_padded(mode, projected.unbind(0), state, w_hh, b_hh, w_hr,
                                          reverse)
                outputs.append(stack(outs, 0))
            else:
                steps = projected.split_with_sizes(batch_sizes, 0)
                outs, state = _run_packed(mode, steps, batch_sizes, state, w_hh, b_hh,
                                          w_hr, reverse)
                outputs.append(cat(outs, 0))
            for final, s in zip(finals, state):
                final.append(s)
        layer_input = outputs[0] if directions == 1 else cat(outputs, -1)
        if dropout and train and layer < num_layers - 1:
            layer_input = _dropout(layer_input, dropout, True)  # NOTE [RNN dropout masks]
    output = layer_input
    if batch_sizes is None and batch_first:
        # torch's LSTM transposes out of place (TransposeBackward0), RNN and GRU in place
        # (TransposeBackward1)
        output = output.transpose(0, 1) if mode == "LSTM" else output.transpose_(0, 1)
    return output, tuple(stack(final, 0) for final in finals)
