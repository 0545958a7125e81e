"""Part of ``ember.nn.modules``: the recurrent layers ``RNN``, ``LSTM``, ``GRU`` and the
one-step cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

The layers run ``ember.nn._functional.rnn.rnn`` (one matmul per layer for the input
projection, one fused record per step: NOTE [Fused recurrent steps] in ember/_ops/nn_rnn.py)
and accept ``PackedSequence`` inputs. Parameters, their names, order and initial values
(``U(-1/sqrt(hidden), 1/sqrt(hidden))`` drawn in parameter order) are torch's.
"""
from __future__ import annotations

import math
import numbers
import warnings
import weakref
from typing import Any

from ember._ops.creation import empty, zeros
from ember._tensor import Tensor
from ember.nn import init
from ember.nn._functional import rnn as _rnn
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _permute(hx: Tensor, permutation: Tensor | None) -> Tensor:
    return hx if permutation is None else hx.index_select(1, permutation)


class RNNBase(Module):
    """Mirrors ``torch.nn.RNNBase``: the parameters and checks shared by ``RNN``, ``LSTM``
    and ``GRU`` (``mode``: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU").

    Args:
        input_size, hidden_size: features of the input and of the hidden state.
        num_layers: stacked recurrent layers (default 1).
        bias: whether the layers have ``b_ih`` and ``b_hh`` (default ``True``).
        batch_first: inputs and outputs are ``(batch, seq, feature)`` (default ``False``).
        dropout: dropout on each layer's output but the last (default 0).
        bidirectional: run a second, reversed layer and join the outputs (default ``False``).
        proj_size: LSTM only: project the hidden state to this size (default 0: none).
        device, dtype: of the parameters.

    ``flatten_parameters()`` is accepted and does nothing, as torch's on the CPU.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._flat_weight_refs: list = []
        directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(
                dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for prefix, shape in shapes:
                    name = f"{prefix}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self._init_flat_weights()
        self.reset_parameters()

    def _init_flat_weights(self) -> None:
        self._flat_weights = [getattr(self, name) if hasattr(self, name) else None
                              for name in self._flat_weights_names]
        self._flat_weight_refs = [None if w is None else weakref.ref(w)
                                  for w in self._flat_weights]
        self.flatten_parameters()

    def __setattr__(self, attr: str, value: Any) -> None:
        names = self.__dict__.get("_flat_weights_names")
        if names is not None and attr in names:
            self._flat_weights[names.index(attr)] = value
        super().__setattr__(attr, value)

    def flatten_parameters(self) -> None:
        """Mirrors ``RNNBase.flatten_parameters``: lays the weights out for cuDNN, which
        ember does not use; does nothing (as torch's on the CPU)."""

    def _apply(self, fn, recurse: bool = True) -> Module:
        self._flat_weight_refs = []
        out = super()._apply(fn, recurse)
        self._init_flat_weights()
        return out

    def reset_parameters(self) -> None:
        """Redraw every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))`` in
        parameter order."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _weights_have_changed(self) -> bool:
        for ref, name in zip(self._flat_weight_refs, self._flat_weights_names):
            weight = getattr(self, name) if hasattr(self, name) else None
            if weight is not None and ref is not None and ref() is not weight:
                return True
        return False

    def _update_flat_weights(self) -> None:
        if self._weights_have_changed():
            self._init_flat_weights()

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """torch's checks of the input's dtype, rank and feature size."""
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype "
                f"({weight_dtype}). Convert input: input.to({weight_dtype}), or convert "
                f"model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def _mini_batch(self, input: Tensor, batch_sizes: Tensor | None) -> int:
        if batch_sizes is not None:
            return int(batch_sizes[0])
        return input.size(0) if self.batch_first else input.size(1)

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple:
        """``(layers * directions, batch, proj_size or hidden_size)``."""
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * (2 if self.bidirectional else 1),
                self._mini_batch(input, batch_sizes), size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple,
                          msg: str = "Expected hidden size {}, got {}") -> None:
        """torch's check of an initial state's shape."""
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input: Tensor, hidden: Tensor,
                           batch_sizes: Tensor | None) -> None:
        """The input's and the initial state's checks."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Tensor | None) -> Tensor:
        """``hx`` with its batch dim reordered by ``permutation`` (None: unchanged)."""
        return _permute(hx, permutation)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __getstate__(self) -> dict:
        self._update_flat_weights()
        state = super().__getstate__()
        state.pop("_flat_weight_refs", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("proj_size", 0)
        self._flat_weights = [getattr(self, name) if hasattr(self, name) else None
                              for name in self._flat_weights_names]
        self._flat_weight_refs = [None if w is None else weakref.ref(w)
                                  for w in self._flat_weights]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction, as lists in torch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _zeros(self, batch: int, size: int, like: Tensor) -> Tensor:
        return zeros((self.num_layers * (2 if self.bidirectional else 1), batch, size),
                     dtype=like.dtype)

    def _prepare(self, input, hx, state_count: int) -> tuple:
        """(input tensor, batch_sizes, sorted/unsorted indices, batched, batch dim, hx as a
        tuple of 3-d tensors or None) for the shared part of ``forward``."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            return data, batch_sizes, sorted_indices, unsorted_indices, True, None, hx
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(self.mode, self.mode)
        if input.dim() not in (2, 3):
            tail = " tensor instead" if name == "RNN" else " instead"
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{tail}")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        if hx is not None:
            if state_count == 2:
                want = 3 if batched else 2
                if hx[0].dim() != want or hx[1].dim() != want:
                    shape = "batched 3-D" if batched else "unbatched 2-D"
                    raise RuntimeError(
                        f"For {shape} input, hx and cx should also be {want}-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                if not batched:
                    hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
            elif batched and hx.dim() != 3:
                raise RuntimeError(
                    f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
            elif not batched:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but "
                                       f"got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        return input, None, None, None, batched, batch_dim, hx

    def _run(self, input: Tensor, states: tuple, batch_sizes: Tensor | None) -> tuple:
        sizes = None if batch_sizes is None else [int(s) for s in batch_sizes._data]
        return _rnn.rnn(self.mode, input, states, self._flat_weights, self.bias,
                        self.num_layers, self.dropout, self.training, self.bidirectional,
                        self.batch_first, sizes)


class RNN(RNNBase):
    """Mirrors ``torch.nn.RNN``: a multi-layer Elman RNN,
    ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (``nonlinearity="relu"``:
    ReLU).

    Args: ``input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None`` (see
    ``RNNBase``). ``forward(input, hx=None)`` returns ``(output, h_n)``; ``input`` may be
    a ``PackedSequence`` (then ``output`` is one) or unbatched ``(seq, feature)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None) -> tuple:
        self._update_flat_weights()
        orig = input
        input, batch_sizes, sorted_indices, unsorted_indices, batched, batch_dim, hx = \
            self._prepare(input, hx, 1)
        if hx is None:
            hx = self._zeros(self._mini_batch(input, batch_sizes), self.hidden_size, input)
        else:
            hx = self.permute_hidden(hx, sorted_indices)
        self.check_forward_args(input, hx, batch_sizes)
        output, (hidden,) = self._run(input, (hx,), batch_sizes)
        if isinstance(orig, PackedSequence):
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden(hidden, unsorted_indices))
        if not batched:
            output = output.squeeze(batch_dim)
            hidden = hidden.squeeze(1)
        return output, self.permute_hidden(hidden, unsorted_indices)


class GRU(RNNBase):
    """Mirrors ``torch.nn.GRU``: a multi-layer gated recurrent unit, gates (r, z, n):
    ``n_t = tanh(W_in x_t + b_in + r_t (W_hn h_{t-1} + b_hn))``,
    ``h_t = (1 - z_t) n_t + z_t h_{t-1}``.

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, device=None, dtype=None`` (see ``RNNBase``).
    ``forward(input, hx=None)`` returns ``(output, h_n)``, as ``RNN``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    forward = RNN.forward


class LSTM(RNNBase):
    """Mirrors ``torch.nn.LSTM``: a multi-layer long short-term memory, gates (i, f, g, o):
    ``c_t = f_t c_{t-1} + i_t g_t``, ``h_t = o_t tanh(c_t)`` (times ``W_hr`` with
    ``proj_size > 0``).

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None`` (see
    ``RNNBase``). ``forward(input, hx=None)`` with ``hx = (h_0, c_0)`` returns
    ``(output, (h_n, c_n))``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple:
        """``(layers * directions, batch, hidden_size)``."""
        return (self.num_layers * (2 if self.bidirectional else 1),
                self._mini_batch(input, batch_sizes), self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: tuple,
                           batch_sizes: Tensor | None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: tuple, permutation: Tensor | None) -> tuple:
        if permutation is None:
            return hx
        return _permute(hx[0], permutation), _permute(hx[1], permutation)

    def forward(self, input, hx: tuple | None = None) -> tuple:
        self._update_flat_weights()
        orig = input
        input, batch_sizes, sorted_indices, unsorted_indices, batched, batch_dim, hx = \
            self._prepare(input, hx, 2)
        if hx is None:
            batch = self._mini_batch(input, batch_sizes)
            real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(batch, real_hidden, input),
                  self._zeros(batch, self.hidden_size, input))
            if batch_sizes is None:
                self.check_forward_args(input, hx, batch_sizes)
        elif batch_sizes is None:
            self.check_forward_args(input, hx, batch_sizes)
        else:
            hx = self.permute_hidden(hx, sorted_indices)
        if batch_sizes is not None:
            self.check_forward_args(input, hx, batch_sizes)
        output, hidden = self._run(input, tuple(hx), batch_sizes)
        if isinstance(orig, PackedSequence):
            return (PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices),
                    self.permute_hidden(hidden, unsorted_indices))
        if not batched:
            output = output.squeeze(batch_dim)
            hidden = (hidden[0].squeeze(1), hidden[1].squeeze(1))
        return output, self.permute_hidden(hidden, unsorted_indices)


class RNNCellBase(Module):
    """Mirrors ``torch.nn.RNNCellBase``: the parameters of a one-step cell,
    ``weight_ih (chunks * hidden, input)``, ``weight_hh (chunks * hidden, hidden)`` and,
    with ``bias``, ``bias_ih``/``bias_hh``, drawn from ``U(-1/sqrt(hidden), 1/sqrt(hidden))``
    in that order."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size),
                                         device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size),
                                         device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += f", bias={self.bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        """Redraw the parameters as at construction."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batched(self, kind: str, input: Tensor, states: tuple) -> bool:
        if input.dim() not in (1, 2):
            raise ValueError(f"{kind}: Expected input to be 1D or 2D, got {input.dim()}D "
                             "instead")
        for k, state in enumerate(states):
            if state is not None and state.dim() not in (1, 2):
                what = "hidden" if len(states) == 1 else f"hx[{k}]"
                raise ValueError(f"{kind}: Expected {what} to be 1D or 2D, got "
                                 f"{state.dim()}D instead")
        return input.dim() == 2

    def _zeros(self, input: Tensor) -> Tensor:
        return zeros((input.size(0), self.hidden_size), dtype=input.dtype)


class RNNCell(RNNCellBase):
    """Mirrors ``torch.nn.RNNCell``: one Elman step, ``h' = tanh(x W_ih^T + b_ih + h W_hh^T
    + b_hh)`` (``nonlinearity="relu"``: ReLU).

    Args: ``input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
    dtype=None``. ``forward(input, hx=None)``: ``input`` ``(batch, input_size)`` or
    ``(input_size,)``; ``hx`` defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._batched("RNNCell", input, (hx,))
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = self._zeros(input)
        elif not batched:
            hx = hx.unsqueeze(0)
        if self.nonlinearity == "tanh":
            out = _rnn.rnn_tanh_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh)
        elif self.nonlinearity == "relu":
            out = _rnn.rnn_relu_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """Mirrors ``torch.nn.LSTMCell``: one LSTM step, gates (i, f, g, o);
    ``forward(input, hx=None)`` with ``hx = (h, c)`` (zeros by default) returns
    ``(h', c')``.

    Args: ``input_size, hidden_size, bias=True, device=None, dtype=None``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        batched = self._batched("LSTMCell", input, tuple(hx) if hx is not None else ())
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            state = self._zeros(input)
            hx = (state, state)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = _rnn.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                              self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """Mirrors ``torch.nn.GRUCell``: one GRU step, gates (r, z, n);
    ``forward(input, hx=None)`` returns ``h'``.

    Args: ``input_size, hidden_size, bias=True, device=None, dtype=None``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched = self._batched("GRUCell", input, (hx,))
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = self._zeros(input)
        elif not batched:
            hx = hx.unsqueeze(0)
        out = _rnn.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                            self.bias_hh)
        return out if batched else out.squeeze(0)

