"""Recurrent kernels of ``ember.nn``: one fused record per time step of RNN, LSTM and GRU,
one per layer of the LSTM torch runs through oneDNN (NOTE [Fused LSTM layers]), and the
gather that packs a padded batch.

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

import functools

from ember._backend import np
from ember._ops.pointwise import _sigmoid
from ember._ops.registry import KEEP, defop, first_order
from ember._tensor import Tensor, make
from ember.autograd import forward_ad


def _mm(a, b):
    """``a @ b`` on arrays in their own dtype: NumPy multiplies bfloat16 into float32, where
    torch rounds the product back to bfloat16."""
    out = a @ b
    return out if out.dtype == a.dtype else out.astype(a.dtype)


def _small_batch(batch: int, gate_rows: int) -> bool:
    # a small batch against many gate rows: OpenBLAS multiplies (gates, hidden) by (hidden,
    # batch) about twice as fast as (batch, hidden) by the transposed weight (16 x 128 by
    # 128 x 512: 17 against 39 us), and the result's transpose is small to read
    return 4 * batch <= gate_rows and batch <= 32


def _hidden_projection(xp, h, w_hh, b_hh):
    if _small_batch(h.shape[0], w_hh.shape[0]):
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
    """The gate gradients for this call of the node (NOTE [Fused recurrent steps], NOTE
    [Fused LSTM layers])."""
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
    if first_order():
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
    if first_order():
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


# ---- LSTM layer (torch's oneDNN path) ---------------------------------------------------
#
# NOTE [Fused LSTM layers]: torch's CPU build runs a float32 LSTM without projections over a
# padded sequence as one oneDNN primitive per layer and direction (``aten::mkldnn_rnn_layer``,
# node ``MkldnnRnnLayerBackward0`` with edges input, w_ih, w_hh, b_ih, b_hh, hx, cx); users
# meet that node as ``output.grad_fn``. ember records the same node, so the graph users see
# is torch's, and its one record lets the whole layer's gradient come out of a few large
# products instead of one record per step:
# - the steps run transposed, on (features, batch) arrays: each gate is then a contiguous
#   block of rows, and the hidden product is (gates, hidden) x (hidden, batch), which
#   OpenBLAS runs faster at small batches than the other way round;
# - the forward projects the whole input once, then runs the steps, writing each step's
#   gate activations, cell state and tanh(cell) into (seq, ..., batch) buffers (the
#   workspace outputs, torch's ``result3``). The gates are kept in the order (i, f, o, g)
#   with i, f and o negated (in the weights and the projection: exact), so the sigmoid
#   gates are one contiguous block whose sigmoid 1 / (1 + e^-x) is ``exp``, an addition
#   and a division of 1 in place, as the ``sigmoid`` op computes it (its ``reciprocal``
#   gives the same bits, a third slower; NumPy's float32 ``exp`` costs about 60% of its
#   ``tanh``; e^-x overflowing to inf gives 0); g is a ``tanh``;
# - the backward takes every factor that does not depend on the incoming gradients over the
#   whole sequence at once, then walks the steps backward with a few passes and one
#   (hidden, 4 hidden) x (4 hidden, batch) product each; the input, weight and bias
#   gradients are one product (or sum) each over all steps.
# A backward that records a graph (or runs under vmap or forward-mode levels) recomputes the
# layer from its inputs in ember ops and runs the same step formulas
# (``_lstm_gate_grads``) in ember ops, so second derivatives see every dependence, as
# torch's differentiable oneDNN backward gives them.


def _gate_rows(w, hidden: int):
    """``w``'s gate rows (or a bias's entries) in the order (i, f, o, g), i f o negated
    (NOTE [Fused LSTM layers]): three slice copies, where indexing by the row order and
    scaling by a column of signs made two passes of a gather and a broadcast product."""
    rows = np.empty_like(w)
    np.multiply(w[:2 * hidden], -1, out=rows[:2 * hidden])
    np.multiply(w[3 * hidden:], -1, out=rows[2 * hidden:3 * hidden])
    rows[3 * hidden:] = w[2 * hidden:3 * hidden]
    return rows


def _lstm_layer(xp, input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse):
    steps, batch = input.shape[:2]
    hidden = w_hh.shape[1]
    dt = input.dtype
    w_rec = _gate_rows(w_hh, hidden)
    gates = _mm(_gate_rows(w_ih, hidden), input.transpose(0, 2, 1))  # (steps, 4 hidden, batch)
    if b_ih is not None:
        # the bias tiled to one (4 hidden, batch) step: broadcast over the steps, the addition
        # runs over contiguous steps, where a (4 hidden, 1) column made an inner loop per row
        gates += np.repeat(_gate_rows(b_ih + b_hh, hidden), batch).reshape(4 * hidden, batch)
    out = np.empty((steps, hidden, batch), dt)
    cells = np.empty((steps + 1, hidden, batch), dt)  # the first state at 0, then each step's
    tanh_c = np.empty((steps, hidden, batch), dt)
    cells[0] = cx.T
    h, c = hx.T, cells[0]
    one = dt.type(1)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        act = gates[t]
        act += _mm(w_rec, h)
        sig = act[:3 * hidden]
        np.exp(sig, out=sig)
        np.add(sig, one, out=sig)
        np.divide(one, sig, out=sig)
        np.tanh(act[3 * hidden:], out=act[3 * hidden:])
        c_new = cells[k + 1]
        np.multiply(act[hidden:2 * hidden], c, out=c_new)
        c_new += act[:hidden] * act[3 * hidden:]
        np.tanh(c_new, out=tanh_c[t])
        h = np.multiply(act[2 * hidden:3 * hidden], tanh_c[t], out=out[t])
        c = c_new
    out = np.ascontiguousarray(out.transpose(0, 2, 1))
    # the workspace, transposed as the steps ran: (activations, cells, tanh of cells)
    return out, out[0 if reverse else -1].copy(), c.T.copy(), gates, cells, tanh_c


def _lstm_layer_arrays(grads, input, w_ih, w_hh, hx, cx, reverse, result) -> dict:
    """The layer's gradients on arrays (the first-order path, NOTE [Fused LSTM layers])."""
    out, act, cells, tanh_c = (result[0]._data, result[3]._data, result[4]._data,
                               result[5]._data)
    steps, batch, hidden = out.shape
    g_out, g_h, g_c = _array_grads(grads, result, 3)
    g_out = np.ascontiguousarray(g_out.transpose(0, 2, 1))  # the steps run transposed
    i = act[:, :hidden]
    f = act[:, hidden:2 * hidden]
    o = act[:, 2 * hidden:3 * hidden]
    g = act[:, 3 * hidden:]
    # cells[k] is the state step k starts from, in processing order: c_prev in time order
    prev_c = cells[-2::-1] if reverse else cells[:-1]
    # the factors of d_c (o (1 - tanh^2 c)) and of each gate's pre-activation gradient,
    # (i, f, g) times d_c and o times the hidden gradient, in torch's gate order; each made
    # in one reused buffer and written to its slot by its last product (the operands of a
    # product commute bit for bit): fresh temporaries took 5-10% longer, passes in place on
    # the strided slots 40% longer
    through = np.multiply(tanh_c, tanh_c)
    np.subtract(1, through, out=through)
    through *= o
    factor = np.empty((steps, 4, hidden, batch), out.dtype)
    part = np.empty_like(tanh_c)
    for slot, gate, other in ((0, i, g), (1, f, prev_c), (3, o, tanh_c)):
        # other * (gate * (1 - gate)), the sigmoid's derivative
        np.subtract(1, gate, out=part)
        part *= gate
        np.multiply(part, other, out=factor[:, slot])
    np.multiply(g, g, out=part)  # i * (1 - g * g), the tanh's
    np.subtract(1, part, out=part)
    np.multiply(part, i, out=factor[:, 2])
    d_gates = np.empty_like(factor)
    carry = g_c.T
    d_h = g_h.T
    w_back = w_hh.T
    for k in range(steps):
        t = k if reverse else steps - 1 - k
        grad_h = g_out[t] + d_h
        d_c = grad_h * through[t]
        d_c += carry
        np.multiply(factor[t, :3], d_c, out=d_gates[t, :3])
        np.multiply(factor[t, 3], grad_h, out=d_gates[t, 3])
        carry = d_c * f[t]
        d_h = _mm(w_back, d_gates[t].reshape(4 * hidden, batch))
    flat = np.ascontiguousarray(d_gates.reshape(steps, 4 * hidden, batch).transpose(0, 2, 1))
    flat = flat.reshape(steps * batch, 4 * hidden)

    def w_hh_grad():
        pairs = (out[1:], hx[None]) if reverse else (hx[None], out[:-1])
        return _mm(flat.T, np.concatenate(pairs).reshape(steps * batch, hidden))

    # the two biases' gradients are one sum over the steps: taken once, the second a copy
    # (each leaf's gradient its own array)
    bias_grad = functools.cache(lambda: flat.sum(0))

    # each made only if its input needs a gradient (the engine asks for those alone)
    return {"input": lambda: _mm(flat, w_ih).reshape(input.shape),
            "w_ih": lambda: _mm(flat.T, input.reshape(steps * batch, -1)),
            "w_hh": w_hh_grad, "b_ih": bias_grad, "b_hh": lambda: bias_grad().copy(),
            "hx": lambda: np.ascontiguousarray(d_h.T),
            "cx": lambda: np.ascontiguousarray(carry.T)}


def _lstm_layer_ops(grads, input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, result) -> dict:
    """The layer's gradients in ember ops, recomputed from the inputs (NOTE [Fused LSTM
    layers])."""
    from ember._ops.shape import cat, stack
    from ember.nn._functional.linear import linear

    steps, batch = input.shape[:2]
    hidden = w_hh.shape[1]
    projected = linear(input, w_ih, b_ih)
    h, c = hx, cx
    saved = [None] * steps
    prev_h = [None] * steps
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        i, f, g, o = (projected[t] + linear(h, w_hh, b_hh)).split(hidden, 1)
        act = _ember_cat([i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()])
        c_new = act[:, hidden:2 * hidden] * c + act[:, :hidden] * act[:, 2 * hidden:3 * hidden]
        tanh_c = c_new.tanh()
        saved[t] = (act, tanh_c, c)
        prev_h[t] = h
        h = act[:, 3 * hidden:] * tanh_c
        c = c_new
    g_out, d_h, carry = _tensor_grads(grads, result, 3)
    d_gates = [None] * steps
    for k in range(steps):
        t = k if reverse else steps - 1 - k
        act, tanh_c, c = saved[t]
        parts = _lstm_gate_grads(_ember_cat, g_out[t] + d_h, carry, act, tanh_c, c, None,
                                 None)
        d_gates[t] = parts["d_x"]
        carry = parts["dc"]
        d_h = d_gates[t] @ w_hh
    flat = stack(d_gates, 0).reshape(steps * batch, 4 * hidden)
    bias = flat.sum(0)
    # the input's gradient step by step, joined as torch's differentiable backward joins it
    return {"input": cat([(d @ w_ih).unsqueeze(0) for d in d_gates], 0),
            "w_ih": flat.T @ input.reshape(steps * batch, -1),
            "w_hh": flat.T @ stack(prev_h, 0).reshape(steps * batch, hidden),
            "b_ih": bias, "b_hh": bias, "hx": d_h, "cx": carry}


def _lstm_layer_grad(name, grads, input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, result):
    """Input ``name``'s gradient: on arrays from the gate gradients the node's first formula
    call computed, or recomputed in ember ops (NOTE [Fused LSTM layers])."""
    if first_order():
        return make(_cached(result, _lstm_layer_arrays, grads, input._data, w_ih._data,
                            w_hh._data, hx._data, cx._data, reverse, result)[name]())
    return _cached(result, _lstm_layer_ops, grads, input, w_ih, w_hh, b_ih, b_hh, hx, cx,
                   reverse, result)[name]


def _layer_formula(name: str):
    return lambda grads, *args: _lstm_layer_grad(name, grads, *args)


LSTM_LAYER = defop(
    "mkldnn_rnn_layer", node="MkldnnRnnLayerBackward0", nin=7, kind=KEEP, promote=(0,),
    multi=3, save=(0, 1, 2, 3, 4, 5, 6, "result"), forward=_lstm_layer,
    jvp=forward_ad.not_supported("mkldnn_rnn_layer"),
    backward=tuple(_layer_formula(name) for name in
                   ("input", "w_ih", "w_hh", "b_ih", "b_hh", "hx", "cx")))


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
    if first_order():
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
