"""Sequence models beyond their layers: gradient clipping over recurrent parameters, weight
normalisation of recurrent weights, half-precision recurrent layers, and a transformer
language model pretrained by torch whose checkpoint runs on ember with torch's numbers."""
from __future__ import annotations

import gzip
import io
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn
from tests.helpers import assert_same, torch

SHAKESPEARE = Path(__file__).resolve().parents[1] / "examples" / "data" / "tinyshakespeare.txt.gz"


def _pair(lib_name: str, *args, seed: int = 0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        t_model = getattr(torch.nn, lib_name)(*args, **kwargs)
        ember.manual_seed(seed)
        e_model = getattr(ember.nn, lib_name)(*args, **kwargs)
    return t_model, e_model


def _run_both(t_model, e_model, x: np.ndarray, seed: int = 1) -> None:
    """Forward the same input through both models and backpropagate the same random
    cotangent from the output sequence and every final state."""
    t_out = t_model(torch.tensor(x))
    e_out = e_model(ember.tensor(x))
    rng = np.random.default_rng(seed)
    t_flat = [t_out[0], *(t_out[1] if isinstance(t_out[1], tuple) else (t_out[1],))]
    e_flat = [e_out[0], *(e_out[1] if isinstance(e_out[1], tuple) else (e_out[1],))]
    t_loss = e_loss = 0
    for t, e in zip(t_flat, e_flat):
        assert_same(e, t, what="output")
        cot = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        t_loss = t_loss + (t * torch.tensor(cot)).sum()
        e_loss = e_loss + (e * ember.tensor(cot)).sum()
    t_loss.backward()
    e_loss.backward()


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_over_recurrent_parameters(mode, norm_type):
    t_model, e_model = _pair(mode, 5, 7, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((6, 3, 5)).astype(np.float32)
    _run_both(t_model, e_model, x)
    t_norm = torch.nn.utils.clip_grad_norm_(t_model.parameters(), 0.5, norm_type)
    e_norm = ember.nn.utils.clip_grad_norm_(e_model.parameters(), 0.5, norm_type)
    assert_same(e_norm, t_norm, what="total norm")
    assert float(e_norm) > 0.5  # the clip really scaled the gradients
    for (name, t), (_, e) in zip(t_model.named_parameters(), e_model.named_parameters()):
        assert_same(e.grad, t.grad, what=f"clipped gradient of {name}")
    # The clipped gradients drive the same update.
    for lib, model in ((torch, t_model), (ember, e_model)):
        with lib.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    for (name, t), (_, e) in zip(t_model.named_parameters(), e_model.named_parameters()):
        assert_same(e, t, what=f"{name} after the step")


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_weight_norm_parametrization_on_recurrent_weights(mode):
    t_model, e_model = _pair(mode, 4, 6, num_layers=2, batch_first=True)
    for lib, model in ((torch, t_model), (ember, e_model)):
        for name in ("weight_hh_l0", "weight_ih_l1"):
            lib.nn.utils.parametrizations.weight_norm(model, name=name)
    t_names = [n for n, _ in t_model.named_parameters()]
    assert [n for n, _ in e_model.named_parameters()] == t_names
    x = np.random.default_rng(2).standard_normal((3, 5, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: weights not in one contiguous chunk
        _run_both(t_model, e_model, x)
    for (name, t), (_, e) in zip(t_model.named_parameters(), e_model.named_parameters()):
        assert_same(e.grad, t.grad, what=f"gradient of {name}")


def test_old_weight_norm_hook_on_recurrent_weight():
    t_model, e_model = _pair("LSTM", 4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the hook form
        torch.nn.utils.weight_norm(t_model, name="weight_hh_l0", dim=0)
        ember.nn.utils.weight_norm(e_model, name="weight_hh_l0", dim=0)
        x = np.random.default_rng(3).standard_normal((5, 2, 4)).astype(np.float32)
        _run_both(t_model, e_model, x)
    for name in ("weight_hh_l0_g", "weight_hh_l0_v", "weight_ih_l0"):
        assert_same(getattr(e_model, name).grad, getattr(t_model, name).grad,
                    what=f"gradient of {name}")


# torch's CPU bfloat16/float16 recurrent layers round every gate product to the half type;
# ember rounds at the same places, but the two libraries' float32 accumulations inside each
# matmul, and the engines' half-precision sums of the weights' per-step gradients, run in
# different orders, so a rounding can land one half-ulp apart and carry through the steps.
# The bound is four units of each type's epsilon (bfloat16 2^-8, float16 2^-11) relative to
# the largest magnitude in the tensor: a sum's rounding error scales with its terms, and a
# weight gradient sums terms far larger than the result where they cancel.
HALF_TOLERANCE = {"bfloat16": 4 * 2.0 ** -8, "float16": 4 * 2.0 ** -11}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_half_precision_recurrent_layers(mode, dtype):
    t_model, e_model = _pair(mode, 4, 5)
    t_model.to(getattr(torch, dtype))
    e_model.to(getattr(ember, dtype))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 2, 4)).astype(np.float32)
    cot = rng.standard_normal((4, 2, 5)).astype(np.float32)
    t_x = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
    e_x = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice about oneDNN on Intel GPUs
        no_onednn = torch.backends.mkldnn.flags(enabled=False)  # the composed CPU path
    with no_onednn:
        t_out, t_h = t_model(t_x)
        (t_out * torch.tensor(cot).to(t_out.dtype)).sum().backward()
    e_out, e_h = e_model(e_x)
    (e_out * ember.tensor(cot).to(e_out.dtype)).sum().backward()
    tol = HALF_TOLERANCE[dtype]
    t_states = t_h if isinstance(t_h, tuple) else (t_h,)
    e_states = e_h if isinstance(e_h, tuple) else (e_h,)
    pairs = [("output", e_out, t_out), ("input gradient", e_x.grad, t_x.grad)]
    pairs += [("final state", e, t) for e, t in zip(e_states, t_states)]
    pairs += [(f"gradient of {n}", e.grad, t.grad) for (n, t), (_, e)
              in zip(t_model.named_parameters(), e_model.named_parameters())]
    for what, e, t in pairs:
        assert str(e.dtype) == str(t.dtype), what
        expected = t.float().detach().numpy()
        np.testing.assert_allclose(e.float().detach().numpy(), expected, rtol=tol,
                                   atol=tol * max(1.0, np.abs(expected).max()), err_msg=what)


# ---- a character-level transformer pretrained by torch, run on ember -----------------------

CONTEXT = 32


def _char_model(lib):
    nn = lib.nn

    class CharTransformer(nn.Module):
        """An encoder-only language model with a causal mask, as torch users write it."""

        def __init__(self, vocab: int, d: int = 48, heads: int = 4, layers: int = 2) -> None:
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(lib.zeros(CONTEXT, d))
            layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.1, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d),
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(d, vocab)

        def forward(self, idx):
            t = idx.shape[1]
            mask = nn.Transformer.generate_square_subsequent_mask(t)
            x = self.tok(idx) + self.pos[:t]
            return self.head(self.encoder(x, mask=mask, is_causal=True))

    return CharTransformer


def _shakespeare():
    text = gzip.decompress(SHAKESPEARE.read_bytes()).decode("utf-8")[:60_000]
    vocab = sorted(set(text))
    data = np.array([vocab.index(c) for c in text], dtype=np.int64)
    return vocab, data


@pytest.fixture(scope="module")
def pretrained():
    """A checkpoint torch trained (AdamW, 150 steps on tiny Shakespeare), as a file."""
    vocab, data = _shakespeare()
    torch.manual_seed(0)
    model = _char_model(torch)(len(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    train = data[:50_000]
    for _ in range(150):
        starts = rng.integers(0, len(train) - CONTEXT - 1, 16)
        x = torch.tensor(np.stack([train[s:s + CONTEXT] for s in starts]))
        y = torch.tensor(np.stack([train[s + 1:s + CONTEXT + 1] for s in starts]))
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, len(vocab)),
                                                 y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return vocab, data, model.eval(), buffer.getvalue()


def test_torch_pretrained_transformer_runs_on_ember(pretrained):
    vocab, data, t_model, checkpoint = pretrained
    e_model = _char_model(ember)(len(vocab))
    e_model.load_state_dict(ember.load(io.BytesIO(checkpoint)))
    e_model.eval()
    held_out = data[50_000:]
    x = np.stack([held_out[s:s + CONTEXT] for s in range(0, 8 * CONTEXT, CONTEXT)])
    y = np.stack([held_out[s + 1:s + CONTEXT + 1] for s in range(0, 8 * CONTEXT, CONTEXT)])
    with torch.no_grad():
        t_logits = t_model(torch.tensor(x))
        t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, len(vocab)),
                                                   torch.tensor(y).reshape(-1))
    with ember.no_grad():
        e_logits = e_model(ember.tensor(x))
        e_loss = ember.nn.functional.cross_entropy(e_logits.reshape(-1, len(vocab)),
                                                   ember.tensor(y).reshape(-1))
    assert t_loss.item() < 3.0  # it learned something: uniform guessing scores ln(65) = 4.2
    assert_same(e_logits, t_logits, what="held-out logits")
    assert_same(e_loss, t_loss, what="held-out loss")

    def greedy(lib, model):
        idx = lib.tensor([[vocab.index(c) for c in "ROMEO:"]])
        with lib.no_grad():
            for _ in range(120):
                nxt = model(idx[:, -CONTEXT:])[:, -1].argmax(-1, keepdim=True)
                idx = lib.cat([idx, nxt], dim=1)
        return "".join(vocab[i] for i in idx[0].tolist())

    assert greedy(ember, e_model) == greedy(torch, t_model)


def test_fine_tuning_the_pretrained_transformer_matches_torch(pretrained):
    """Training mode continues from the checkpoint: dropout masks from the same seed, the
    same loss, and the same gradients of every parameter."""
    vocab, data, t_model, checkpoint = pretrained
    t_model = _char_model(torch)(len(vocab))
    t_model.load_state_dict(torch.load(io.BytesIO(checkpoint)))
    e_model = _char_model(ember)(len(vocab))
    e_model.load_state_dict(ember.load(io.BytesIO(checkpoint)))
    x = np.stack([data[s:s + CONTEXT] for s in (100, 900, 4000)])
    y = np.stack([data[s + 1:s + CONTEXT + 1] for s in (100, 900, 4000)])
    losses = {}
    for lib, model in ((torch, t_model), (ember, e_model)):
        lib.manual_seed(7)
        losses[lib] = lib.nn.functional.cross_entropy(
            model(lib.tensor(x)).reshape(-1, len(vocab)), lib.tensor(y).reshape(-1))
        losses[lib].backward()
    assert_same(losses[ember], losses[torch], what="training loss")
    for (name, t), (_, e) in zip(t_model.named_parameters(), e_model.named_parameters()):
        assert_same(e.grad, t.grad, what=f"gradient of {name}")
