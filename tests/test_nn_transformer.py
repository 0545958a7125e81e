"""ember's Transformer family against torch: seeded weights, reprs, outputs and gradients of
inputs and every parameter in training (same dropout draws) and evaluation (torch's fast
paths included), masks of each kind; and a GPT-style character model trained and sampled
in both libraries from the same seed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch, torch_or_refused
from tests.test_nn_attention import _compare_modules, _inputs


def _build(lib, seed, factory):
    lib.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory(lib)


def _pair(factory, seed=0):
    return _build(torch, seed, factory), _build(ember, seed, factory)


def _same_params(tm, em):
    assert repr(em) == repr(tm)
    t_params, e_params = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(e_params) == list(t_params)
    for name, tp in t_params.items():
        np.testing.assert_array_equal(e_params[name].detach()._data, tp.detach().numpy(),
                                      err_msg=name)


LAYER_KW = {
    "default": dict(),
    "norm-first-gelu": dict(norm_first=True, activation="gelu"),
    "batch-first-no-bias": dict(batch_first=True, bias=False, layer_norm_eps=1e-3),
    "callable-activation": dict(activation=lambda x: x.tanh()),
}


def _encoder_layer(kw):
    return lambda L: L.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **kw)


def _decoder_layer(kw):
    return lambda L: L.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, **kw)


def _shape(kw, n, s):
    return (n, s, 8) if kw.get("batch_first") else (s, n, 8)


@pytest.mark.parametrize("config", list(LAYER_KW))
@pytest.mark.parametrize("training", [True, False])
def test_encoder_layer(config, training):
    kw = LAYER_KW[config]
    tm, em = _pair(_encoder_layer(kw))
    _same_params(tm, em)
    tm.train(training)
    em.train(training)
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True

    def call(m, x):
        lib = torch if isinstance(x, torch.Tensor) else ember
        return m(x, src_key_padding_mask=lib.tensor(padding))
    _compare_modules(tm, em, _inputs([_shape(kw, 3, 5)]), call)


def test_encoder_layer_activation_module_repr():
    tm, em = _pair(lambda L: L.nn.TransformerEncoderLayer(8, 2, 16, activation=L.nn.GELU()))
    _same_params(tm, em)
    assert em.activation_relu_or_gelu == tm.activation_relu_or_gelu == 2


@pytest.mark.parametrize("config", list(LAYER_KW))
@pytest.mark.parametrize("training", [True, False])
def test_decoder_layer(config, training):
    kw = LAYER_KW[config]
    tm, em = _pair(_decoder_layer(kw))
    _same_params(tm, em)
    tm.train(training)
    em.train(training)
    padding = np.zeros((3, 6), bool)
    padding[0, 4:] = True

    def call(m, tgt, mem):
        lib = torch if isinstance(tgt, torch.Tensor) else ember
        causal = lib.nn.Transformer.generate_square_subsequent_mask(5)
        return m(tgt, mem, tgt_mask=causal, memory_key_padding_mask=lib.tensor(padding))
    _compare_modules(tm, em, _inputs([_shape(kw, 3, 5), _shape(kw, 3, 6)]), call)


def _encoder(batch_first, **kw):
    def make(L):
        layer = L.nn.TransformerEncoderLayer(8, 2, 16, batch_first=batch_first)
        return L.nn.TransformerEncoder(layer, 2, norm=L.nn.LayerNorm(8), **kw)
    return make


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool-causal", "padding"])
def test_encoder_train(batch_first, mask_kind):
    tm, em = _pair(_encoder(batch_first))
    _same_params(tm, em)
    padding = np.zeros((3, 5), bool)
    padding[2, 2:] = True

    def call(m, x):
        lib = torch if isinstance(x, torch.Tensor) else ember
        if mask_kind == "causal":
            return m(x, mask=lib.nn.Transformer.generate_square_subsequent_mask(5))
        if mask_kind == "bool-causal":
            return m(x, mask=lib.ones(5, 5, dtype=lib.bool).triu(1), is_causal=True)
        if mask_kind == "padding":
            return m(x, src_key_padding_mask=lib.tensor(padding))
        return m(x)
    _compare_modules(tm, em, _inputs([(3, 5, 8) if batch_first else (5, 3, 8)]), call)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("left_aligned", [True, False])
def test_encoder_eval_padding(batch_first, grad, left_aligned):
    """Evaluation with a padding mask: under no_grad torch runs nested tensors (zeros at
    the padded positions, then the norm); ember gives the same values."""
    tm, em = _pair(_encoder(batch_first))
    tm.eval()
    em.eval()
    padding = np.zeros((3, 5), bool)
    padding[0, 3:] = True
    padding[2, 1:] = True
    if not left_aligned:
        padding[1, 0] = True

    def call(m, x):
        lib = torch if isinstance(x, torch.Tensor) else ember
        with lib.set_grad_enabled(grad):
            return m(x, src_key_padding_mask=lib.tensor(padding))
    _compare_modules(tm, em, _inputs([(3, 5, 8) if batch_first else (5, 3, 8)]), call,
                     check_grads=grad)


def test_encoder_nested_warning_and_flags():
    def make(L):
        layer = L.nn.TransformerEncoderLayer(8, 2, 16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            enc = L.nn.TransformerEncoder(layer, 1)
        return enc, [str(w.message) for w in caught]
    (te, t_warn), (ee, e_warn) = make(torch), make(ember)
    assert e_warn == t_warn and len(t_warn) == 1
    assert (ee.use_nested_tensor, ee.enable_nested_tensor) == (te.use_nested_tensor,
                                                                te.enable_nested_tensor)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True, norm_first=True)])
def test_transformer(training, kw):
    def make(L):
        return L.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2,
                                num_decoder_layers=2, dim_feedforward=16, **kw)
    tm, em = _pair(make)
    _same_params(tm, em)
    tm.train(training)
    em.train(training)
    padding = np.zeros((2, 6), bool)
    padding[1, 4:] = True

    def call(m, src, tgt):
        lib = torch if isinstance(src, torch.Tensor) else ember
        return m(src, tgt, tgt_mask=m.generate_square_subsequent_mask(4),
                 src_key_padding_mask=lib.tensor(padding),
                 memory_key_padding_mask=lib.tensor(padding))
    shapes = [(2, 6, 8), (2, 4, 8)] if kw.get("batch_first") else [(6, 2, 8), (4, 2, 8)]
    _compare_modules(tm, em, _inputs(shapes), call)


def test_generate_square_subsequent_mask():
    for dtype in ("float32", "float64"):
        assert_same(ember.nn.Transformer.generate_square_subsequent_mask(
            4, dtype=getattr(ember, dtype)),
            torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=getattr(torch,
                                                                                  dtype)))


@pytest.mark.parametrize("bad", [
    lambda L: L.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
    lambda L: L.nn.Transformer(8, 2, 1, 1, 16)(L.zeros(5, 2, 8), L.zeros(4, 3, 8)),
    lambda L: L.nn.Transformer(8, 2, 1, 1, 16)(L.zeros(5, 2, 8), L.zeros(4, 2, 6)),
])
def test_transformer_errors(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_raises_like(bad)


# ---- a GPT-style character model, written once, run in both libraries --------------------

TEXT = ("the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor "
        "jugs! how vexingly quick daft zebras jump; sphinx of black quartz, judge my vow. ")
VOCAB = sorted(set(TEXT))
DATA = np.array([VOCAB.index(c) for c in TEXT])


def gpt(lib, use_sdpa: bool):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self, d, heads, p):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, heads, dropout=p, batch_first=True)
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d),
                                     nn.Dropout(p))
            self.heads, self.p = heads, p

        def forward(self, x, causal):
            h = self.ln1(x)
            if use_sdpa:
                n, t, d = h.shape
                w, b = self.attn.in_proj_weight, self.attn.in_proj_bias
                q, k, v = F.linear(h, w, b).split(d, dim=-1)
                q, k, v = (z.view(n, t, self.heads, d // self.heads).transpose(1, 2)
                           for z in (q, k, v))
                y = F.scaled_dot_product_attention(
                    q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=True)
                y = self.attn.out_proj(y.transpose(1, 2).reshape(n, t, d))
            else:
                y = self.attn(h, h, h, attn_mask=causal, need_weights=False,
                              is_causal=True)[0]
            x = x + y
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self, vocab, d=32, heads=4, layers=2, ctx=16, p=0.1):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(ctx, d)
            self.drop = nn.Dropout(p)
            self.blocks = nn.ModuleList([Block(d, heads, p) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.tok.weight  # tied

        def forward(self, idx):
            t = idx.shape[1]
            causal = lib.nn.Transformer.generate_square_subsequent_mask(t)
            x = self.drop(self.tok(idx) + self.pos(lib.arange(t)))
            for block in self.blocks:
                x = block(x, causal)
            return self.head(self.ln(x))

    return GPT(len(VOCAB))


def _batches(steps, n=4, t=16):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        starts = rng.integers(0, len(DATA) - t - 1, n)
        x = np.stack([DATA[s:s + t] for s in starts])
        y = np.stack([DATA[s + 1:s + t + 1] for s in starts])
        yield x, y


def _train(lib, use_sdpa, steps=30, lr=0.3):
    lib.manual_seed(0)
    model = gpt(lib, use_sdpa)
    opt = lib.optim.SGD(model.parameters(), lr=lr)
    losses, first_grads = [], None
    for x, y in _batches(steps):
        logits = model(lib.tensor(x))
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, len(VOCAB)),
                                               lib.tensor(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        if first_grads is None:
            first_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        opt.step()
        losses.append(loss.item())
    model.eval()
    lib.manual_seed(1)
    idx = lib.tensor([[VOCAB.index("t")]])
    with lib.no_grad():
        for _ in range(100):
            logits = model(idx[:, -16:])[:, -1]
            nxt = lib.multinomial(lib.softmax(logits, -1), 1)
            idx = lib.cat([idx, nxt], dim=1)
    return losses, first_grads, idx.tolist()


@pytest.mark.parametrize("use_sdpa", [False, True])
def test_gpt_character_model(use_sdpa):
    t_losses, t_grads, t_tokens = _train(torch, use_sdpa)
    e_losses, e_grads, e_tokens = _train(ember, use_sdpa)
    assert_same(ember.tensor(e_losses[0]), torch.tensor(t_losses[0]), what="loss at step 0")
    assert list(e_grads) == list(t_grads)
    for name, tg in t_grads.items():
        assert_same(e_grads[name], tg, what=f"step-0 grad of {name}")
    np.testing.assert_allclose(e_losses, t_losses, rtol=1e-3)
    assert e_tokens == t_tokens


# ---- the fused evaluation paths: fully masked rows and is_causal --------------------------

FULLY_MASKED_ROW = np.array([[True, True, True, True], [False, False, True, True],
                             [False, False, False, False], [True, True, False, False]])
FULLY_PADDED = np.array([[True] * 4, [False, False, True, False]])


@pytest.mark.parametrize("module", ["mha", "encoder_layer"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("call", ["attn_mask", "padding", "float_mask", "causal_no_mask"])
def test_fused_evaluation_paths(module, batch_first, grad, call):
    """torch's fast paths (evaluation, no gradient, batch_first, ...) attend with a plain
    softmax: a query with every key masked gives nan (scaled_dot_product_attention gives 0),
    and is_causal without a mask is ignored."""
    if module == "mha":
        factory = lambda L: L.nn.MultiheadAttention(8, 2, batch_first=batch_first)  # noqa: E731
    else:
        factory = _encoder_layer(dict(batch_first=batch_first))
    tm, em = _pair(factory)
    tm.eval()
    em.eval()

    def run(m, lib):
        x = lib.tensor(np.random.default_rng(5).standard_normal((2, 4, 8)), dtype=lib.float32)
        x = x if batch_first else x.transpose(0, 1)
        mask = lib.tensor(FULLY_MASKED_ROW)
        kw = {"attn_mask": dict(mask=mask),
              "padding": dict(padding=lib.tensor(FULLY_PADDED)),
              "float_mask": dict(mask=lib.zeros(4, 4).masked_fill(mask, float("-inf"))),
              "causal_no_mask": dict(is_causal=True)}[call]
        with lib.set_grad_enabled(grad):
            if module == "mha":
                return m(x, x, x, attn_mask=kw.get("mask"), key_padding_mask=kw.get("padding"),
                         need_weights=False, is_causal=kw.get("is_causal", False))[0]
            return m(x, src_mask=kw.get("mask"), src_key_padding_mask=kw.get("padding"),
                     is_causal=kw.get("is_causal", False))

    t_out = torch_or_refused(lambda lib: run(tm if lib is torch else em, lib), RuntimeError)
    if t_out is not None:
        assert_same(run(em, ember), t_out, atol=1e-5)
