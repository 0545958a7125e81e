"""torch's top-level names beyond the op tables: the ATen forms of the neural-network ops
(``torch.dropout(x, p, train)``, ``torch.layer_norm``, ``torch.lstm``, ...), each compared
with torch on the same inputs and seeds."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_op, torch

NN_ROWS = [
    ("conv1d", lambda lib, x, w: lib.conv1d(x, w, None, 1, 1), [(2, 3, 7), (4, 3, 3)]),
    ("conv2d", lambda lib, x, w, b: lib.conv2d(x, w, b, 2, 1),
     [(1, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    ("conv3d", lambda lib, x, w: lib.conv3d(x, w), [(1, 2, 4, 4, 4), (2, 2, 2, 2, 2)]),
    ("conv_transpose1d", lambda lib, x, w: lib.conv_transpose1d(x, w, None, 2),
     [(1, 2, 5), (2, 3, 3)]),
    ("conv_transpose2d", lambda lib, x, w: lib.conv_transpose2d(x, w), [(1, 2, 3, 3),
                                                                        (2, 3, 2, 2)]),
    ("conv_transpose3d", lambda lib, x, w: lib.conv_transpose3d(x, w),
     [(1, 2, 2, 2, 2), (2, 1, 2, 2, 2)]),
    ("conv_tbc", lambda lib, x, w, b: lib.conv_tbc(x, w, b, 1), [(5, 2, 3), (3, 3, 4), (4,)]),
    ("prelu", lambda lib, x, w: lib.prelu(x, w), [(2, 3, 4), (3,)]),
    ("selu_", lambda lib, x: lib.selu_(x * 1), [(3, 4)]),
    ("celu_", lambda lib, x: lib.celu_(x * 1, 0.5), [(3, 4)]),
    ("rrelu_", lambda lib, x: lib.rrelu_(x * 1), [(3, 4)]),
    ("threshold_", lambda lib, x: lib.threshold_(x * 1, 0.1, -3.0), [(3, 4)]),
    ("hardshrink", lambda lib, x: lib.hardshrink(x, 0.7), [(3, 4)]),
    ("bilinear", lambda lib, a, b, w, c: lib.bilinear(a, b, w, c),
     [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    ("cosine_similarity", lambda lib, a, b: lib.cosine_similarity(a, b, 0), [(3, 4), (3, 4)]),
    ("pairwise_distance", lambda lib, a, b: lib.pairwise_distance(a, b, 1.5, 1e-6, True),
     [(3, 4), (3, 4)]),
    ("pdist", lambda lib, x: lib.pdist(x, 3.0), [(4, 3)]),
    ("pixel_shuffle", lambda lib, x: lib.pixel_shuffle(x, 2), [(1, 8, 2, 3)]),
    ("pixel_unshuffle", lambda lib, x: lib.pixel_unshuffle(x, 2), [(1, 2, 4, 2)]),
    ("channel_shuffle", lambda lib, x: lib.channel_shuffle(x, 2), [(1, 4, 2, 2)]),
    ("native_channel_shuffle", lambda lib, x: lib.native_channel_shuffle(x, 2),
     [(1, 4, 2, 2)]),
    ("adaptive_avg_pool1d", lambda lib, x: lib.adaptive_avg_pool1d(x, 3), [(2, 3, 7)]),
    ("avg_pool1d", lambda lib, x: lib.avg_pool1d(x, 3, 2, 1, True, False), [(2, 3, 8)]),
    ("batch_norm", lambda lib, x, w, b: lib.batch_norm(
        x, w, b, lib.zeros(3, dtype=x.dtype), lib.ones(3, dtype=x.dtype), True, 0.1, 1e-5,
        False), [(4, 3, 2), (3,), (3,)]),
    ("batch_norm eval", lambda lib, x: lib.batch_norm(
        x, None, None, lib.arange(3.0, dtype=x.dtype), lib.ones(3, dtype=x.dtype) * 2, False,
        0.1, 1e-3, True), [(4, 3)]),
    ("instance_norm", lambda lib, x, w, b: lib.instance_norm(
        x, w, b, None, None, True, 0.1, 1e-5, False), [(2, 3, 5), (3,), (3,)]),
    ("layer_norm", lambda lib, x, w, b: lib.layer_norm(x, [4], w, b, 1e-3), [(2, 3, 4), (4,),
                                                                            (4,)]),
    ("layer_norm default", lambda lib, x: lib.layer_norm(x, (3, 4)), [(2, 3, 4)]),
    ("group_norm", lambda lib, x, w, b: lib.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    ("rms_norm", lambda lib, x, w: lib.rms_norm(x, [4], w), [(2, 3, 4), (4,)]),
    ("embedding", lambda lib, w: lib.embedding(w, lib.tensor([[0, 2], [4, 2]])), [(5, 3)]),
    ("embedding padding_idx", lambda lib, w: lib.embedding(
        w, lib.tensor([0, 2, 1, 2]), 2, True), [(5, 3)]),
    ("selu", lambda lib, x: lib.selu(x), [(3, 4)]),
    ("celu", lambda lib, x: lib.celu(x, 2.0), [(3, 4)]),
    ("rrelu eval", lambda lib, x: lib.rrelu(x, 0.1, 0.3), [(3, 4)]),
    ("threshold", lambda lib, x: lib.threshold(x, 0.5, 2.0), [(3, 4)]),
    ("adaptive_max_pool1d", lambda lib, x: lib.adaptive_max_pool1d(x, [3]), [(2, 3, 7)]),
    ("max_pool1d", lambda lib, x: lib.max_pool1d(x, 3), [(2, 3, 8)]),
    ("max_pool1d_with_indices", lambda lib, x: lib.max_pool1d_with_indices(x, [2], [1], [1]),
     [(2, 3, 8)]),
    ("max_pool2d", lambda lib, x: lib.max_pool2d(x, [2, 2], [], 0, 1, True), [(1, 2, 5, 5)]),
    ("max_pool3d", lambda lib, x: lib.max_pool3d(x, 2, 1), [(1, 1, 3, 3, 3)]),
    ("kl_div", lambda lib, x, y: lib.kl_div(x, y.abs()), [(3, 4), (3, 4)]),
    ("kl_div sum log_target", lambda lib, x, y: lib.kl_div(x, y, 2, log_target=True),
     [(3, 4), (3, 4)]),
    ("binary_cross_entropy_with_logits", lambda lib, x, y, w: lib.binary_cross_entropy_with_logits(
        x, y.sigmoid(), None, w.detach().abs(), 0), [(3, 4), (3, 4), (4,)]),
    ("cosine_embedding_loss", lambda lib, a, b: lib.cosine_embedding_loss(
        a, b, lib.tensor([1.0, -1.0, 1.0], dtype=a.dtype), 0.2, 2), [(3, 4), (3, 4)]),
    ("hinge_embedding_loss", lambda lib, x: lib.hinge_embedding_loss(
        x, lib.tensor([1.0, -1.0, -1.0], dtype=x.dtype), 0.5), [(3,)]),
    ("margin_ranking_loss", lambda lib, a, b: lib.margin_ranking_loss(
        a, b, lib.tensor([1.0, -1.0, 1.0], dtype=a.dtype), 0.1, 0), [(3,), (3,)]),
    ("poisson_nll_loss", lambda lib, x, y: lib.poisson_nll_loss(x, y.abs(), True, True, 1e-8,
                                                                1), [(3, 4), (3, 4)]),
    ("triplet_margin_loss", lambda lib, a, p, n: lib.triplet_margin_loss(a, p, n, 0.5, 2.0,
                                                                         1e-6, True, 2),
     [(3, 4), (3, 4), (3, 4)]),
    ("ctc_loss", lambda lib, x: lib.ctc_loss(
        x.log_softmax(2), lib.tensor([[1, 2], [2, 2]]), [5, 4], [2, 1], 0, 1, False),
     [(5, 2, 3)]),
    ("ctc_loss tensors", lambda lib, x: lib.ctc_loss(
        x.log_softmax(2), lib.tensor([1, 2, 2]), lib.tensor([5, 4]), lib.tensor([2, 1]), 0, 2),
     [(5, 2, 3)]),
    ("grid_sampler", lambda lib, x, g: lib.grid_sampler(x, g.tanh(), 0, 1, False),
     [(1, 2, 4, 4), (1, 3, 3, 2)]),
    ("grid_sampler_2d", lambda lib, x, g: lib.grid_sampler_2d(x, g.tanh(), 1, 0, True),
     [(1, 2, 4, 4), (1, 3, 3, 2)]),
    ("grid_sampler_3d", lambda lib, x, g: lib.grid_sampler_3d(x, g.tanh(), 0, 2, False),
     [(1, 1, 3, 3, 3), (1, 2, 2, 2, 3)]),
    ("affine_grid_generator", lambda lib, t: lib.affine_grid_generator(t, [2, 1, 3, 4], False),
     [(2, 2, 3)]),
    ("constant_pad_nd", lambda lib, x: lib.constant_pad_nd(x, [1, 2, 0, 1], 1.5), [(2, 3)]),
    ("rnn_tanh_cell", lambda lib, x, h, wi, wh, bi, bh: lib.rnn_tanh_cell(x, h, wi, wh, bi, bh),
     [(2, 3), (2, 4), (4, 3), (4, 4), (4,), (4,)]),
    ("rnn_relu_cell", lambda lib, x, h, wi, wh: lib.rnn_relu_cell(x, h, wi, wh),
     [(2, 3), (2, 4), (4, 3), (4, 4)]),
    ("gru_cell", lambda lib, x, h, wi, wh, bi, bh: lib.gru_cell(x, h, wi, wh, bi, bh),
     [(2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)]),
    ("lstm_cell", lambda lib, x, h, c, wi, wh, bi, bh: lib.lstm_cell(x, [h, c], wi, wh, bi, bh),
     [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (16,), (16,)]),
    ("rnn_tanh", lambda lib, x, h, wi, wh, bi, bh: lib.rnn_tanh(
        x, h, [wi, wh, bi, bh], True, 1, 0.0, False, False, True),
     [(2, 5, 3), (1, 2, 4), (4, 3), (4, 4), (4,), (4,)]),
    ("rnn_relu", lambda lib, x, h, wi, wh: lib.rnn_relu(
        x, h, [wi, wh], False, 1, 0.0, True, False, False),
     [(5, 2, 3), (1, 2, 4), (4, 3), (4, 4)]),
    ("gru bidirectional", lambda lib, x, h, wi, wh, wi2, wh2: lib.gru(
        x, h, [wi, wh, wi2, wh2], False, 1, 0.0, True, True, False),
     [(4, 2, 3), (2, 2, 4), (12, 3), (12, 4), (12, 3), (12, 4)]),
    ("lstm", lambda lib, x, h, c, wi, wh, bi, bh: lib.lstm(
        x, [h, c], [wi, wh, bi, bh], True, 1, 0.0, True, False, False),
     [(4, 2, 3), (1, 2, 4), (1, 2, 4), (16, 3), (16, 4), (16,), (16,)]),
    ("lstm packed", lambda lib, x, h, c, wi, wh: lib.lstm(
        x, lib.tensor([3, 2, 1]), [h, c], [wi, wh], False, 1, 0.0, True, False),
     [(6, 3), (1, 3, 4), (1, 3, 4), (16, 3), (16, 4)]),
    ("gru packed", lambda lib, x, h, wi, wh: lib.gru(
        x, lib.tensor([2, 2, 1]), h, [wi, wh], False, 1, 0.0, True, False),
     [(5, 3), (1, 2, 4), (12, 3), (12, 4)]),
]


# ember.nn.functional.pairwise_distance records LinalgVectorNormBackward0 where torch's
# records NormBackward1 (a defect of ember/nn/_functional/distance.py, reported).
_KNOWN_NODE_BUG = {"pairwise_distance"}


@pytest.mark.parametrize("fn,shapes", [
    pytest.param(fn, shapes, id=name, marks=[pytest.mark.xfail(
        strict=True, reason="node name differs")] if name in _KNOWN_NODE_BUG else [])
    for name, fn, shapes in NN_ROWS])
def test_nn_names(fn, shapes) -> None:
    check_op(fn, shapes, dtype="float64")


SEEDED_ROWS = [
    ("dropout", lambda lib, x: lib.dropout(x, 0.4, True)),
    ("dropout eval", lambda lib, x: lib.dropout(x, 0.4, False)),
    ("dropout_", lambda lib, x: lib.dropout_(x * 1, 0.3, True)),
    ("alpha_dropout", lambda lib, x: lib.alpha_dropout(x, 0.4, True)),
    ("alpha_dropout_", lambda lib, x: lib.alpha_dropout_(x * 1, 0.4, True)),
    ("feature_dropout", lambda lib, x: lib.feature_dropout(x, 0.5, True)),
    ("feature_dropout_", lambda lib, x: lib.feature_dropout_(x * 1, 0.5, True)),
    ("feature_alpha_dropout", lambda lib, x: lib.feature_alpha_dropout(x, 0.5, True)),
    ("feature_alpha_dropout_", lambda lib, x: lib.feature_alpha_dropout_(x * 1, 0.5, True)),
    ("rrelu training", lambda lib, x: lib.rrelu(x, 0.1, 0.4, True)),
    ("rrelu generator", lambda lib, x: lib.rrelu(
        x, 0.1, 0.4, True, lib.Generator().manual_seed(3))),
    ("rrelu_ generator", lambda lib, x: lib.rrelu_(
        x * 1, 0.1, 0.4, True, lib.Generator().manual_seed(3))),
    ("lstm dropout", lambda lib, x, h, c, wi, wh, wi2, wh2: lib.lstm(
        x, [h, c], [wi, wh, wi2, wh2], False, 2, 0.5, True, False, False)),
]


@pytest.mark.parametrize("fn", [fn for _, fn in SEEDED_ROWS],
                         ids=[name for name, _ in SEEDED_ROWS])
def test_seeded_nn_names(fn) -> None:
    """The random forms draw torch's numbers from the same seed."""
    nargs = fn.__code__.co_argcount - 1
    shapes = [(3, 4, 5)] if nargs == 1 else [
        (4, 2, 3), (2, 2, 4), (2, 2, 4), (16, 3), (16, 4), (16, 4), (16, 4)]

    def seeded(lib, *args):
        lib.manual_seed(7)
        return fn(lib, *args)

    check_op(seeded, shapes, dtype="float64")


def test_rrelu_generator_advances() -> None:
    """A generator given to ``rrelu`` advances as torch's does; the default one stays."""
    states = []
    for lib in (torch, ember):
        lib.manual_seed(1)
        gen = lib.Generator().manual_seed(5)
        lib.rrelu(-lib.ones(4, dtype=lib.float64), 0.1, 0.4, True, gen)
        states.append((gen.get_state().numpy().tobytes(), lib.rand(2).tolist()))
    assert states[0] == states[1]


def test_nn_name_signatures_refuse_like_torch() -> None:
    """The ATen forms' required arguments: ``torch.dropout`` has no defaults."""
    for fn in (lambda lib: lib.dropout(lib.ones(2)), lambda lib: lib.dropout(lib.ones(2), 0.5)):
        with pytest.raises(TypeError):
            fn(torch)
        with pytest.raises(TypeError):
            fn(ember)


def test_nn_names_are_lazy() -> None:
    """The nn-op names resolve on first access: ``import ember`` loads no ember.nn, and the
    names torch shares with ``torch.nn.functional`` are the same objects in ember."""
    code = ("import sys, ember; assert 'ember.nn' not in sys.modules; ember.conv2d; "
            "import ember.nn.functional as F; assert ember.conv2d is F.conv2d; "
            "assert ember.dropout is not F.dropout")
    subprocess.run([sys.executable, "-c", code], check=True)
    from ember import _aten_nn

    assert set(_aten_nn.SAME_AS_FUNCTIONAL) | set(_aten_nn.__all__) == \
        ember._LAZY_NN_FUNCTIONS
    for name in _aten_nn.SAME_AS_FUNCTIONAL:
        assert getattr(torch, name) is getattr(torch.nn.functional, name)


def test_functional_stft_istft() -> None:
    """``torch.functional.stft``/``istft`` are the top-level functions."""
    import ember.functional

    assert torch.functional.stft is torch.stft and ember.functional.stft is ember.stft
    assert torch.functional.istft is torch.istft and ember.functional.istft is ember.istft
    values = np.sin(np.arange(64.0) / 3)
    window = np.hanning(16)
    results = []
    for lib, functional in ((torch, torch.functional), (ember, ember.functional)):
        spec = functional.stft(lib.tensor(values), 16, 4, window=lib.tensor(window),
                               return_complex=True)
        back = functional.istft(spec, 16, 4, window=lib.tensor(window), length=64)
        results.append((spec, back))
    for e, t in zip(results[1], results[0]):
        assert_same(e, t)
