"""Every torch.nn module class and torch.nn.functional function, compared with torch.

One row per module class: the same seed builds both libraries' module (torch's parameter
initialisation), one forward on the same inputs and a backward of a random cotangent; the
outputs, the gradients of every input and parameter, the state and the repr must agree.
The functions rows are ``check_op`` calls. Each row runs under the recorder (NOTE [Compared
names] in tests/helpers.py), so tests/test_coverage.py knows these names were compared;
``names`` lists the ones torch's function mode cannot see (a function that calls a Tensor
method, or one that hands its call to another), and each such row calls them on both
libraries.
"""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_op, recording_compared, torch

_RNG = np.random.default_rng(0)


def _x(*shape):
    return _RNG.standard_normal(shape).astype(np.float32)


class _Const:
    """An input that does not require grad (a target, indices)."""

    def __init__(self, array) -> None:
        self.array = np.asarray(array)


def _ints(high, *shape):
    return _Const(np.random.default_rng(1).integers(0, high, shape))


def _signs(*shape):
    return _Const(np.where(np.random.default_rng(2).uniform(size=shape) > 0.5, 1.0,
                           -1.0).astype(np.float32))


def _probs(*shape):
    p = np.random.default_rng(3).uniform(0.1, 1.0, shape).astype(np.float32)
    return _Const(p / p.sum(-1, keepdims=True))


def _flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _to_lib(lib, spec):
    if isinstance(spec, _Const):
        return lib.tensor(spec.array)
    return lib.tensor(spec, requires_grad=True)


def _call(lib, module, *args):
    return module(*args)


def check_module(build, *specs, call=_call, train: bool = True, seed: int = 0,
                 atol=None) -> None:
    """``call(lib, build(lib), *inputs)`` on torch and ember from one seed: outputs, input
    and parameter gradients of a random cotangent, state dict and repr agree."""
    results = []
    with recording_compared() as run:
        for lib in (torch, ember):
            lib.manual_seed(seed)
            module = build(lib)
            module.train(train)
            args = [_to_lib(lib, s) for s in specs]
            outs = [o for o in _flat(run(lib, call, module, *args)) if o is not None]
            diff = [o for o in outs if o.requires_grad]
            if diff:
                rng = np.random.default_rng(seed + 1)
                cots = [lib.tensor(rng.standard_normal(tuple(o.shape))).to(o.dtype)
                        for o in diff]
                lib.autograd.backward(diff, cots)
            grads = [a.grad for a in args if a.requires_grad]
            params = {n: p.grad for n, p in module.named_parameters()}
            results.append((repr(module), outs, grads, params, module.state_dict()))
        (t_repr, t_outs, t_grads, t_params, t_state), (e_repr, e_outs, e_grads, e_params,
                                                       e_state) = results
        assert e_repr == t_repr
        assert len(e_outs) == len(t_outs)
        for e, t in zip(e_outs, t_outs):
            assert_same(e.detach(), t.detach(), atol=atol, what="output")
            assert (e.grad_fn is None) == (t.grad_fn is None)
        for e, t in zip(e_grads, t_grads):
            assert_same(e, t, atol=atol, what="input grad")
        assert list(e_params) == list(t_params)
        for name, t in t_params.items():
            assert (e_params[name] is None) == (t is None), name
            if t is not None:
                assert_same(e_params[name], t, atol=atol, what=f"grad of {name}")
        assert list(e_state) == list(t_state)
        for name, t in t_state.items():
            assert_same(e_state[name], t, atol=atol, what=name)


def _unpool(nd):
    def call(lib, module, x):
        pool = getattr(lib.nn.functional, f"max_pool{nd}d")
        return module(*pool(x, 2, return_indices=True))
    return call


def _log_softmax_first(lib, module, x, *rest):
    return module(x.log_softmax(1), *rest)


def _sigmoid_first(lib, module, x, *rest):
    return module(x.sigmoid(), *rest)


def _decoder_layer(lib):
    return lib.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)


def _encoder_layer(lib):
    return lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)


# (class name, build, input specs, keyword arguments of check_module)
MODULE_ROWS = [
    ("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(3), [_x(2, 3, 7)], {}),
    ("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d((2, 1, 2)), [_x(2, 2, 4, 3, 5)],
     {}),
    ("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(3), [_x(2, 3, 7)], {}),
    ("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d(2), [_x(1, 2, 4, 4, 4)], {}),
    ("AlphaDropout", lambda nn: nn.AlphaDropout(0.2), [_x(3, 5)], {}),
    ("AvgPool1d", lambda nn: nn.AvgPool1d(3, 2), [_x(2, 3, 8)], {}),
    ("AvgPool3d", lambda nn: nn.AvgPool3d(2), [_x(1, 2, 4, 4, 4)], {}),
    ("BCELoss", lambda nn: nn.BCELoss(),
     [_x(3, 4), _Const(_RNG.uniform(size=(3, 4)).astype(np.float32))],
     {"call": _sigmoid_first}),
    ("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), [_x(4, 3)], {}),
    ("BatchNorm3d", lambda nn: nn.BatchNorm3d(2), [_x(2, 2, 3, 3, 3)], {}),
    ("Bilinear", lambda nn: nn.Bilinear(3, 4, 2), [_x(5, 3), _x(5, 4)], {}),
    ("CELU", lambda nn: nn.CELU(0.7), [_x(3, 4)], {}),
    ("Conv1d", lambda nn: nn.Conv1d(2, 3, 3, padding=1), [_x(2, 2, 6)], {}),
    ("Conv2d", lambda nn: nn.Conv2d(2, 3, 3, stride=2), [_x(2, 2, 7, 7)], {}),
    ("Conv3d", lambda nn: nn.Conv3d(2, 2, 2), [_x(1, 2, 4, 4, 4)], {}),
    ("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=2), [_x(2, 2, 5)], {}),
    ("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1),
     [_x(1, 2, 4, 4)], {}),
    ("ConvTranspose3d", lambda nn: nn.ConvTranspose3d(2, 2, 2), [_x(1, 2, 3, 3, 3)], {}),
    ("CosineEmbeddingLoss", lambda nn: nn.CosineEmbeddingLoss(margin=0.1),
     [_x(4, 5), _x(4, 5), _signs(4)], {}),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=1), [_x(4, 5), _x(4, 5)], {}),
    ("CrossMapLRN2d", lambda nn: nn.CrossMapLRN2d(3), [_x(2, 4, 5, 5)], {}),
    ("DataParallel", lambda nn: nn.DataParallel(nn.Linear(2, 3)), [_x(4, 2)], {}),
    ("Dropout", lambda nn: nn.Dropout(0.3), [_x(4, 5)], {}),
    ("Dropout1d", lambda nn: nn.Dropout1d(0.3), [_x(2, 3, 5)], {}),
    ("Dropout2d", lambda nn: nn.Dropout2d(0.3), [_x(2, 3, 4, 4)], {}),
    ("Dropout3d", lambda nn: nn.Dropout3d(0.3), [_x(2, 3, 2, 2, 2)], {}),
    ("ELU", lambda nn: nn.ELU(alpha=0.5), [_x(3, 4)], {}),
    ("Embedding", lambda nn: nn.Embedding(10, 3, padding_idx=0), [_ints(10, 2, 4)], {}),
    ("EmbeddingBag", lambda nn: nn.EmbeddingBag(10, 3, mode="mean"), [_ints(10, 2, 4)], {}),
    ("FeatureAlphaDropout", lambda nn: nn.FeatureAlphaDropout(0.2), [_x(2, 3, 4, 4)], {}),
    ("Flatten", lambda nn: nn.Flatten(), [_x(2, 3, 4)], {}),
    ("FractionalMaxPool2d", lambda nn: nn.FractionalMaxPool2d(2, output_size=3),
     [_x(1, 2, 7, 7)], {}),
    ("FractionalMaxPool3d", lambda nn: nn.FractionalMaxPool3d(2, output_size=2),
     [_x(1, 2, 5, 5, 5)], {}),
    ("GELU", lambda nn: nn.GELU(), [_x(3, 4)], {}),
    ("GLU", lambda nn: nn.GLU(), [_x(3, 4)], {}),
    ("GRU", lambda nn: nn.GRU(3, 4, num_layers=2, batch_first=True), [_x(2, 5, 3)], {}),
    ("GRUCell", lambda nn: nn.GRUCell(3, 4), [_x(2, 3)], {}),
    ("Hardshrink", lambda nn: nn.Hardshrink(0.3), [_x(3, 4)], {}),
    ("Hardsigmoid", lambda nn: nn.Hardsigmoid(), [_x(3, 4)], {}),
    ("Hardswish", lambda nn: nn.Hardswish(), [_x(3, 4)], {}),
    ("Hardtanh", lambda nn: nn.Hardtanh(-1.0, 1.0), [_x(3, 4)], {}),
    ("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(margin=0.5),
     [_x(4, 5), _signs(4, 5)], {}),
    ("Identity", lambda nn: nn.Identity(), [_x(3, 4)], {}),
    ("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3, affine=True), [_x(2, 3, 6)], {}),
    ("InstanceNorm2d", lambda nn: nn.InstanceNorm2d(3), [_x(2, 3, 4, 4)], {}),
    ("KLDivLoss", lambda nn: nn.KLDivLoss(reduction="batchmean"), [_x(4, 5), _probs(4, 5)],
     {"call": _log_softmax_first}),
    ("L1Loss", lambda nn: nn.L1Loss(), [_x(3, 4), _x(3, 4)], {}),
    ("LPPool1d", lambda nn: nn.LPPool1d(2, 3), [_x(2, 3, 7)], {}),
    ("LSTM", lambda nn: nn.LSTM(3, 4, batch_first=True, bidirectional=True), [_x(2, 5, 3)],
     {}),
    ("LSTMCell", lambda nn: nn.LSTMCell(3, 4), [_x(2, 3)], {}),
    ("LazyBatchNorm1d", lambda nn: nn.LazyBatchNorm1d(), [_x(4, 3)], {}),
    ("LazyBatchNorm2d", lambda nn: nn.LazyBatchNorm2d(), [_x(2, 3, 4, 4)], {}),
    ("LazyBatchNorm3d", lambda nn: nn.LazyBatchNorm3d(), [_x(2, 2, 3, 3, 3)], {}),
    ("LazyConv1d", lambda nn: nn.LazyConv1d(3, 3), [_x(2, 2, 6)], {}),
    ("LazyConv2d", lambda nn: nn.LazyConv2d(3, 3), [_x(2, 2, 5, 5)], {}),
    ("LazyConv3d", lambda nn: nn.LazyConv3d(2, 2), [_x(1, 2, 3, 3, 3)], {}),
    ("LazyConvTranspose1d", lambda nn: nn.LazyConvTranspose1d(3, 3), [_x(2, 2, 4)], {}),
    ("LazyConvTranspose2d", lambda nn: nn.LazyConvTranspose2d(3, 3), [_x(1, 2, 3, 3)], {}),
    ("LazyConvTranspose3d", lambda nn: nn.LazyConvTranspose3d(2, 2), [_x(1, 2, 2, 2, 2)],
     {}),
    ("LazyInstanceNorm1d", lambda nn: nn.LazyInstanceNorm1d(affine=True), [_x(2, 3, 6)], {}),
    ("LazyInstanceNorm2d", lambda nn: nn.LazyInstanceNorm2d(), [_x(2, 3, 4, 4)], {}),
    ("LazyInstanceNorm3d", lambda nn: nn.LazyInstanceNorm3d(affine=True),
     [_x(1, 2, 3, 3, 3)], {}),
    ("LazyLinear", lambda nn: nn.LazyLinear(4), [_x(3, 5)], {}),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.1), [_x(3, 4)], {}),
    ("LogSigmoid", lambda nn: nn.LogSigmoid(), [_x(3, 4)], {}),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=1), [_x(3, 4)], {}),
    ("MarginRankingLoss", lambda nn: nn.MarginRankingLoss(margin=0.2),
     [_x(5), _x(5), _signs(5)], {}),
    ("MaxPool1d", lambda nn: nn.MaxPool1d(3, 2), [_x(2, 3, 8)], {}),
    ("MaxUnpool1d", lambda nn: nn.MaxUnpool1d(2), [_x(2, 3, 8)], {"call": _unpool(1)}),
    ("MaxUnpool2d", lambda nn: nn.MaxUnpool2d(2), [_x(1, 2, 4, 4)], {"call": _unpool(2)}),
    ("MaxUnpool3d", lambda nn: nn.MaxUnpool3d(2), [_x(1, 2, 4, 4, 4)], {"call": _unpool(3)}),
    ("Mish", lambda nn: nn.Mish(), [_x(3, 4)], {}),
    ("MultiLabelMarginLoss", lambda nn: nn.MultiLabelMarginLoss(),
     [_x(3, 4), _Const([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 0, 0]])], {}),
    ("MultiLabelSoftMarginLoss", lambda nn: nn.MultiLabelSoftMarginLoss(),
     [_x(3, 4), _Const((_RNG.uniform(size=(3, 4)) > 0.5).astype(np.float32))], {}),
    ("MultiheadAttention", lambda nn: nn.MultiheadAttention(6, 2, batch_first=True),
     [_x(2, 3, 6), _x(2, 4, 6), _x(2, 4, 6)], {}),
    ("NLLLoss", lambda nn: nn.NLLLoss(), [_x(4, 5), _ints(5, 4)],
     {"call": _log_softmax_first}),
    ("NLLLoss2d", lambda nn: nn.NLLLoss2d(), [_x(2, 3, 4, 4), _ints(3, 2, 4, 4)],
     {"call": _log_softmax_first}),
    ("PReLU", lambda nn: nn.PReLU(3), [_x(2, 3, 4)], {}),
    ("PairwiseDistance", lambda nn: nn.PairwiseDistance(), [_x(4, 5), _x(4, 5)], {}),
    ("PoissonNLLLoss", lambda nn: nn.PoissonNLLLoss(),
     [_x(3, 4), _Const(_RNG.uniform(0, 3, (3, 4)).astype(np.float32))], {}),
    ("RNN", lambda nn: nn.RNN(3, 4, nonlinearity="relu"), [_x(5, 2, 3)], {}),
    ("RNNCell", lambda nn: nn.RNNCell(3, 4), [_x(2, 3)], {}),
    ("RReLU", lambda nn: nn.RReLU(0.1, 0.3), [_x(3, 4)], {}),
    ("ReLU", lambda nn: nn.ReLU(), [_x(3, 4)], {}),
    ("ReLU6", lambda nn: nn.ReLU6(), [_x(3, 4) * 4], {}),
    ("SELU", lambda nn: nn.SELU(), [_x(3, 4)], {}),
    ("SiLU", lambda nn: nn.SiLU(), [_x(3, 4)], {}),
    ("Sigmoid", lambda nn: nn.Sigmoid(), [_x(3, 4)], {}),
    ("SmoothL1Loss", lambda nn: nn.SmoothL1Loss(beta=0.5), [_x(3, 4), _x(3, 4)], {}),
    ("SoftMarginLoss", lambda nn: nn.SoftMarginLoss(), [_x(3, 4), _signs(3, 4)], {}),
    ("Softmax", lambda nn: nn.Softmax(dim=1), [_x(3, 4)], {}),
    ("Softmax2d", lambda nn: nn.Softmax2d(), [_x(2, 3, 4, 4)], {}),
    ("Softmin", lambda nn: nn.Softmin(dim=0), [_x(3, 4)], {}),
    ("Softplus", lambda nn: nn.Softplus(beta=2, threshold=5), [_x(3, 4)], {}),
    ("Softshrink", lambda nn: nn.Softshrink(0.4), [_x(3, 4)], {}),
    ("Softsign", lambda nn: nn.Softsign(), [_x(3, 4)], {}),
    ("SyncBatchNorm", lambda nn: nn.SyncBatchNorm(3), [_x(4, 3, 2)], {"train": False}),
    ("Tanh", lambda nn: nn.Tanh(), [_x(3, 4)], {}),
    ("Tanhshrink", lambda nn: nn.Tanhshrink(), [_x(3, 4)], {}),
    ("Threshold", lambda nn: nn.Threshold(0.1, 20.0), [_x(3, 4)], {}),
    ("Transformer", lambda nn: nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True),
     [_x(2, 5, 8), _x(2, 4, 8)], {"atol": 1e-4}),
    ("TransformerDecoder", lambda nn: nn.TransformerDecoder(_decoder_layer(nn._lib), 2),
     [_x(2, 4, 8), _x(2, 5, 8)], {"atol": 1e-4}),
    ("TransformerDecoderLayer", lambda nn: _decoder_layer(nn._lib),
     [_x(2, 4, 8), _x(2, 5, 8)], {"atol": 1e-4}),
    ("TransformerEncoder", lambda nn: nn.TransformerEncoder(_encoder_layer(nn._lib), 2,
                                                            enable_nested_tensor=False),
     [_x(2, 5, 8)], {"atol": 1e-4}),
    ("TransformerEncoderLayer", lambda nn: _encoder_layer(nn._lib), [_x(2, 5, 8)],
     {"atol": 1e-4}),
    ("TripletMarginWithDistanceLoss",
     lambda nn: nn.TripletMarginWithDistanceLoss(margin=0.5),
     [_x(4, 5), _x(4, 5), _x(4, 5)], {}),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [_x(4, 6)], {}),
]


class _NN:
    """``lib.nn`` with ``_lib``, for rows that build a layer through a helper."""

    def __init__(self, lib) -> None:
        self._lib = lib
        self._nn = lib.nn

    def __getattr__(self, name: str):
        return getattr(self._nn, name)


@pytest.mark.parametrize("name,build,specs,kwargs", MODULE_ROWS,
                         ids=[row[0] for row in MODULE_ROWS])
def test_module_class(name, build, specs, kwargs):
    check_module(lambda lib: build(_NN(lib)), *specs, **kwargs)


def test_containers_and_parameter_containers():
    """ModuleList, ModuleDict, ParameterList and ParameterDict inside a forward."""
    def build(lib):
        nn = lib.nn

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Tanh()])
                self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 2)})
                self.scales = nn.ParameterList([nn.Parameter(lib.ones(3)),
                                                nn.Parameter(lib.full((3,), 0.5))])
                self.shift = nn.ParameterDict({"x": nn.Parameter(lib.zeros(2))})

            def forward(self, x):
                for layer, scale in zip(self.layers, self.scales):
                    x = layer(x) * scale
                return self.heads["a"](x) + self.heads["b"](x) + self.shift["x"]
        return Net()

    with recording_compared("torch.nn.ModuleList", "torch.nn.ModuleDict",
                            "torch.nn.ParameterList", "torch.nn.ParameterDict"):
        check_module(build, _x(4, 3))


# ---- torch.nn.functional rows the function mode sees only with help ------------------

F_ROWS = [
    # (name, fn, input shapes, names the mode cannot see)
    ("adaptive_max_pool1d", lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 3),
     [(2, 3, 7)], ()),
    ("adaptive_max_pool3d", lambda L, x: L.nn.functional.adaptive_max_pool3d(x, 2),
     [(1, 2, 4, 4, 4)], ()),
    ("alpha_dropout", lambda L, x: (L.manual_seed(1), L.nn.functional.alpha_dropout(
        x, 0.3, True))[1], [(3, 5)], ()),
    ("feature_alpha_dropout", lambda L, x: (L.manual_seed(1),
                                            L.nn.functional.feature_alpha_dropout(
                                                x, 0.3, True))[1], [(2, 3, 4, 4)], ()),
    ("dropout", lambda L, x: (L.manual_seed(1), L.nn.functional.dropout(x, 0.3))[1],
     [(4, 5)], ()),
    ("dropout1d", lambda L, x: (L.manual_seed(1), L.nn.functional.dropout1d(x, 0.3))[1],
     [(2, 3, 5)], ()),
    ("dropout2d", lambda L, x: (L.manual_seed(1), L.nn.functional.dropout2d(x, 0.3))[1],
     [(2, 3, 4, 4)], ()),
    ("dropout3d", lambda L, x: (L.manual_seed(1), L.nn.functional.dropout3d(x, 0.3))[1],
     [(2, 3, 2, 2, 2)], ()),
    ("celu_", lambda L, x: L.nn.functional.celu_(x * 1, 0.5), [(3, 4)], ()),
    ("elu_", lambda L, x: L.nn.functional.elu_(x * 1, 0.5), [(3, 4)], ()),
    ("hardtanh_", lambda L, x: L.nn.functional.hardtanh_(x * 1, -1.0, 1.0), [(3, 4)], ()),
    ("leaky_relu_", lambda L, x: L.nn.functional.leaky_relu_(x * 1, 0.1), [(3, 4)], ()),
    ("relu_", lambda L, x: L.nn.functional.relu_(x * 1), [(3, 4)], ()),
    ("rrelu_", lambda L, x: (L.manual_seed(1), L.nn.functional.rrelu_(
        x * 1, 0.1, 0.3, training=True))[1], [(3, 4)], ()),
    ("selu_", lambda L, x: L.nn.functional.selu_(x * 1), [(3, 4)], ()),
    ("threshold_", lambda L, x: L.nn.functional.threshold_(x * 1, 0.1, 20.0), [(3, 4)], ()),
    ("fractional_max_pool2d", lambda L, x: (L.manual_seed(1),
                                            L.nn.functional.fractional_max_pool2d(
                                                x, 2, output_size=3))[1], [(1, 2, 7, 7)], ()),
    ("native_channel_shuffle", lambda L, x: L.nn.functional.native_channel_shuffle(x, 2),
     [(1, 4, 3)], ()),
    ("one_hot", lambda L: L.nn.functional.one_hot(L.tensor([0, 2, 1, 3]), 5), [], ()),
    ("sigmoid", lambda L, x: L.nn.functional.sigmoid(x), [(3, 4)],
     ("torch.nn.functional.sigmoid",)),
    ("tanh", lambda L, x: L.nn.functional.tanh(x), [(3, 4)], ("torch.nn.functional.tanh",)),
    ("grouped_mm", lambda L, a, b: L.nn.functional.grouped_mm(a, b), [(2, 4, 8), (2, 8, 4)],
     ("torch.nn.functional.grouped_mm",)),
    ("upsample", lambda L, x: L.nn.functional.upsample(x, scale_factor=2, mode="bilinear"),
     [(1, 2, 3, 3)], ("torch.nn.functional.upsample",)),
    ("upsample_bilinear", lambda L, x: L.nn.functional.upsample_bilinear(x, size=(5, 4)),
     [(1, 2, 3, 3)], ("torch.nn.functional.upsample_bilinear",)),
    ("upsample_nearest", lambda L, x: L.nn.functional.upsample_nearest(x, scale_factor=2),
     [(1, 2, 3, 3)], ("torch.nn.functional.upsample_nearest",)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name,fn,shapes,names", F_ROWS, ids=[row[0] for row in F_ROWS])
def test_functional(name, fn, shapes, names):
    with recording_compared(*names):
        check_op(fn, shapes)
