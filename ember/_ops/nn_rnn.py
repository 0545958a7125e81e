"""Recurrent kernels of ``ember.nn``: one fused record per time step of RNN, LSTM and GRU,
and the gather that packs a padded batch.

NOTE [Fused recurrent steps]: ``nn.RNN``/``LSTM``/``GRU`` project the whole input sequence
with one matmul (an ordinary ember op), then run one record per time step: its inputs are
that step's input projection ``x`` (batch, gates), the previous hidden state ``h`` (and cell
state ``c``), ``w_hh``, ``b_hh`` (and the projection ``w_hr``); its forward is one matmul for
the hidden projection plus a handful of vectorised array calls for every gate at once. The
first outputs are the new states (differentiable); the last ones are the gate activations
the backward reads (returned as plain tensors and ignored by the caller), so the backward
never recomputes them.

The backward of a step is written once (``_lstm_gate_grads`` and friends), over operands
that support ``+ - * @``, ``.T`` and ``.sum(0)``: NumPy arrays or ember tensors. It yields
the gradient of the gates' pre-activations, from which the input, hidden, weight and bias
gradients are one matmul or sum each. The engine calls an input's formula one after the
other for the same node call; the first computes the gate gradient and keeps it on the
``result`` tuple's first tensor (made afresh for every call of the node), the others reuse
it. A first-order backward (no graph recorded, no vmap or forward-mode levels) runs it on
the arrays and the saved activations; a backward that records a graph (``create_graph``)
recomputes the activations from the saved inputs in ember ops and runs the same formulas
in ember ops, so second derivatives see the activations' dependence on the inputs, as
torch's CPU RNN (composed of differentiable ops) gives them.

The node names are torch's fused-cell names (``ThnnFusedLstmCellBackward0``,
``ThnnFusedGruCellBackward0``); torch's CPU kernels record a chain of small ops there, which
users only meet through ``next_functions`` (the outputs users see are ``StackBackward0``,
``CatBackward0``, ... as in torch).
"""
from __future__ import annotations

from ember._backend import np
from ember._ops import batching
from ember._ops.registry import KEEP, defop
from ember._tensor import Tensor, make
from ember.autograd import forward_ad, grad_mode

_grad_state = grad_mode.state
_batch_levels = batching.levels
_dual_levels = forward_ad.levels


def _fast() -> bool:
    return not _grad_state.enabled and not _batch_levels and not _dual_levels


def _sigmoid(xp, x):
    # 1 / (1 + e^-x) as tanh: no overflow for large |x|
    out = xp.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


def _mm(a, b):
    """``a @ b`` on arrays in their own dtype: NumPy multiplies bfloat16 into float32, where
    torch rounds the product back to bfloat16."""
    out = a @ b
    return out if out.dtype == a.dtype else out.astype(a.dtype)


def _hidden_projection(xp, h, w_hh, b_hh):
    if 4 * h.shape[0] <= w_hh.shape[0] and h.shape[0] <= 32:
        # a small batch against many gate rows: OpenBLAS multiplies (gates, hidden) by
        # (hidden, batch) about twice as fast as (batch, hidden) by the transposed weight
        # (16 x 128 by 128 x 512: 17 against 39 us), and the C-ordered copy of the result is
        # small
        hh = xp.ascontiguousarray(_mm(w_hh, h.T).T)
    else:
        hh = _mm(h, w_hh.T)
    if b_hh is not None:
        hh += b_hh
    return hh


def _array_grads(grads, result, count: int) -> list:
    """The incoming gradients of the first ``count`` outputs as arrays, zeros where none
    arrived."""
    return [np.zeros_like(result[i]._data) if grads[i] is None else grads[i]._data
            for i in range(count)]


def _tensor_grads(grads, result, count: int) -> list:
    from ember._ops.creation import zeros_like

    return [zeros_like(result[i]) if grads[i] is None else grads[i] for i in range(count)]


def _np_cat(parts):
    return np.concatenate(parts, 1)


def _ember_cat(parts):
    from ember._ops.shape import cat

    return cat(parts, 1)


def _cached(result, compute, *args) -> dict:
    """The step's gate gradients for this call of the node (NOTE [Fused recurrent steps])."""
    holder = result[0].__dict__
    parts = holder.get("_step_grads")
    if parts is None:
        parts = holder["_step_grads"] = compute(*args)
    return parts


def _wrap(x):
    return make(x) if type(x) is not Tensor else x


def _hidden_input_grad(parts, w_hh):
    d_hh = parts["d_hh"]
    if type(d_hh) is Tensor:
        return parts["dh"] + d_hh @ w_hh
    return make(parts["dh"] + _mm(d_hh, w_hh._data))


def _weight_grad(parts, h):
    d_hh = parts["d_hh"]
    if type(d_hh) is Tensor:
        return d_hh.T @ h
    return make(_mm(d_hh.T, h._data))


def _bias_grad(parts):
    return _wrap(parts["d_hh"].sum(0))


# ---- Elman RNN (tanh / relu) ------------------------------------------------------------


def _rnn_step(nonlinearity: str):
    def forward(xp, x, h, w_hh, b_hh):
        pre = _hidden_projection(xp, h, w_hh, b_hh)
        pre += x
        if nonlinearity == "tanh":
            return (xp.tanh(pre, out=pre),)
        return (xp.maximum(pre, 0, out=pre),)
    return forward


def _rnn_gate_grads(nonlinearity: str, grad, result):
    if nonlinearity == "tanh":
        d_pre = grad * (1 - result * result)
    else:
        d_pre = grad * (result > 0)
    return {"d_x": d_pre, "d_hh": d_pre, "dh": 0}


def _rnn_parts(nonlinearity: str, grads, x, h, w_hh, b_hh, result):
    if _fast():
        (grad,) = _array_grads(grads, result, 1)
        return _rnn_gate_grads(nonlinearity, grad, result[0]._data)
    from ember.nn._functional.linear import linear

    pre = x + linear(h, w_hh, b_hh)
    out = pre.tanh() if nonlinearity == "tanh" else pre.relu()
    (grad,) = _tensor_grads(grads, result, 1)
    return _rnn_gate_grads(nonlinearity, grad, out)


def _rnn_step_record(nonlinearity: str, node: str):
    def parts(grads, x, h, w_hh, b_hh, result):
        return _cached(result, _rnn_parts, nonlinearity, grads, x, h, w_hh, b_hh, result)

    return defop(
        f"rnn_{nonlinearity}_step", node=node, nin=4, kind=KEEP, promote=(0,), multi=1,
        save=(0, 1, 2, 3, "result"), forward=_rnn_step(nonlinearity),
        backward=(
            lambda grads, x, h, w_hh, b_hh, result: _wrap(
                parts(grads, x, h, w_hh, b_hh, result)["d_x"]),
            lambda grads, x, h, w_hh, b_hh, result: _hidden_input_grad(
                parts(grads, x, h, w_hh, b_hh, result), w_hh),
            lambda grads, x, h, w_hh, b_hh, result: _weight_grad(
                parts(grads, x, h, w_hh, b_hh, result), h),
            lambda grads, x, h, w_hh, b_hh, result: _bias_grad(
                parts(grads, x, h, w_hh, b_hh, result))))


RNN_TANH_STEP = _rnn_step_record("tanh", "RnnTanhCellBackward0")
RNN_RELU_STEP = _rnn_step_record("relu", "RnnReluCellBackward0")


# ---- LSTM -------------------------------------------------------------------------------


def _lstm_step(xp, x, h, c, w_hh, b_hh, w_hr):
    gates = _hidden_projection(xp, h, w_hh, b_hh)
    gates += x
    hidden = c.shape[1]
    # i, f, o are sigmoids and g a tanh: take the sigmoid of all, then overwrite g
    act = _sigmoid(xp, gates)
    g = slice(2 * hidden, 3 * hidden)
    act[:, g] = xp.tanh(gates[:, g])
    c_new = act[:, hidden:2 * hidden] * c
    c_new += act[:, :hidden] * act[:, g]
    tanh_c = xp.tanh(c_new)
    h_full = act[:, 3 * hidden:] * tanh_c
    h_new = h_full if w_hr is None else _mm(h_full, w_hr.T)
    return h_new, c_new, act, tanh_c, h_full


def _lstm_gate_grads(cat, grad_h, grad_c, act, tanh_c, c, w_hr, h_full):
    """The gradient of the gates' pre-activations ``d_x`` (= ``d_hh``), the one of ``c``
    and, with a projection, of ``w_hr``; ``act`` holds (i, f, g, o) side by side."""
    hidden = c.shape[1]
    parts = {}
    if w_hr is not None:
        parts["d_w_hr"] = _mm(grad_h.T, h_full)
        grad_h = _mm(grad_h, w_hr)
    i = act[:, :hidden]
    f = act[:, hidden:2 * hidden]
    g = act[:, 2 * hidden:3 * hidden]
    o = act[:, 3 * hidden:]
    d_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
    d_i = d_c * g * (i * (1 - i))
    d_f = d_c * c * (f * (1 - f))
    d_g = d_c * i * (1 - g * g)
    d_o = grad_h * tanh_c * (o * (1 - o))
    d_pre = cat([d_i, d_f, d_g, d_o])
    parts.update(d_x=d_pre, d_hh=d_pre, dh=0, dc=d_c * f)
    return parts


def _lstm_parts(grads, x, h, c, w_hh, b_hh, w_hr, result):
    if _fast():
        grad_h, grad_c = _array_grads(grads, result, 2)
        return _lstm_gate_grads(_np_cat, grad_h, grad_c, result[2]._data, result[3]._data,
                                c._data, None if w_hr is None else w_hr._data,
                                result[4]._data)
    from ember.nn._functional.linear import linear

    gates = x + linear(h, w_hh, b_hh)
    hidden = c.shape[1]
    i, f, g, o = gates.split(hidden, 1)
    act = _ember_cat([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()])
    tanh_c = (act[:, hidden:2 * hidden] * c + act[:, :hidden] * act[:, 2 * hidden:3 * hidden]
              ).tanh()
    h_full = act[:, 3 * hidden:] * tanh_c
    grad_h, grad_c = _tensor_grads(grads, result, 2)
    return _lstm_gate_grads(_ember_cat, grad_h, grad_c, act, tanh_c, c, w_hr, h_full)


def _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result):
    return _cached(result, _lstm_parts, grads, x, h, c, w_hh, b_hh, w_hr, result)


LSTM_STEP = defop(
    "lstm_step", node="ThnnFusedLstmCellBackward0", nin=6, kind=KEEP, promote=(0,), multi=2,
    save=(0, 1, 2, 3, 4, 5, "result"), forward=_lstm_step,
    backward=(
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _wrap(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result)["d_x"]),
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _hidden_input_grad(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result), w_hh),
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _wrap(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result)["dc"]),
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _weight_grad(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result), h),
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _bias_grad(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result)),
        lambda grads, x, h, c, w_hh, b_hh, w_hr, result: _wrap(
            _lstm(grads, x, h, c, w_hh, b_hh, w_hr, result)["d_w_hr"])))


# ---- GRU --------------------------------------------------------------------------------


def _gru_step(xp, x, h, w_hh, b_hh):
    hh = _hidden_projection(xp, h, w_hh, b_hh)
    hidden = h.shape[1]
    rz = x[:, :2 * hidden] + hh[:, :2 * hidden]
    rz = _sigmoid(xp, rz)
    hn = hh[:, 2 * hidden:]
    n = rz[:, :hidden] * hn
    n += x[:, 2 * hidden:]
    xp.tanh(n, out=n)
    h_new = h - n
    h_new *= rz[:, hidden:]
    h_new += n
    return h_new, rz, n, hn


def _gru_gate_grads(cat, grad, h, rz, n, hn):
    """The gradients of the input projection ``d_x``, of the hidden projection ``d_hh``
    (they differ in the n part, where r scales the hidden one) and of ``h`` directly."""
    hidden = h.shape[1]
    r = rz[:, :hidden]
    z = rz[:, hidden:]
    d_n = grad * (1 - z) * (1 - n * n)
    d_rz = cat([d_n * hn, grad * (h - n)]) * (rz * (1 - rz))
    return {"d_x": cat([d_rz, d_n]), "d_hh": cat([d_rz, d_n * r]), "dh": grad * z}


def _gru_parts(grads, x, h, w_hh, b_hh, result):
    if _fast():
        (grad,) = _array_grads(grads, result, 1)
        return _gru_gate_grads(_np_cat, grad, h._data, result[1]._data, result[2]._data,
                               result[3]._data)
    from ember.nn._functional.linear import linear

    hh = linear(h, w_hh, b_hh)
    hidden = h.shape[1]
    rz = (x[:, :2 * hidden] + hh[:, :2 * hidden]).sigmoid()
    hn = hh[:, 2 * hidden:]
    n = (x[:, 2 * hidden:] + rz[:, :hidden] * hn).tanh()
    (grad,) = _tensor_grads(grads, result, 1)
    return _gru_gate_grads(_ember_cat, grad, h, rz, n, hn)


def _gru(grads, x, h, w_hh, b_hh, result):
    return _cached(result, _gru_parts, grads, x, h, w_hh, b_hh, result)


GRU_STEP = defop(
    "gru_step", node="ThnnFusedGruCellBackward0", nin=4, kind=KEEP, promote=(0,), multi=1,
    save=(0, 1, 2, 3, "result"), forward=_gru_step,
    backward=(
        lambda grads, x, h, w_hh, b_hh, result: _wrap(_gru(grads, x, h, w_hh, b_hh, result)["d_x"]),
        lambda grads, x, h, w_hh, b_hh, result: _hidden_input_grad(
            _gru(grads, x, h, w_hh, b_hh, result), w_hh),
        lambda grads, x, h, w_hh, b_hh, result: _weight_grad(
            _gru(grads, x, h, w_hh, b_hh, result), h),
        lambda grads, x, h, w_hh, b_hh, result: _bias_grad(
            _gru(grads, x, h, w_hh, b_hh, result))))


# ---- packing ----------------------------------------------------------------------------


def _pack_backward(grad, input, index, padded_shape):
    from ember._ops.creation import zeros

    flat = zeros((padded_shape[0] * padded_shape[1],) + tuple(padded_shape[2:]),
                 dtype=grad.dtype)
    return flat.index_put((make(index),), grad).view(padded_shape)


PACK_PADDED = defop(
    "_pack_padded_sequence", node="PackPaddedSequenceBackward0", kind=KEEP,
    forward=lambda xp, input, index, padded_shape: input.reshape(
        (-1,) + input.shape[2:])[index],
    backward=_pack_backward)
