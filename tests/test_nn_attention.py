"""ember's scaled_dot_product_attention, multi_head_attention_forward and
MultiheadAttention against torch: values, node names, gradients of every input and
parameter, seeded weights and dropout, masks of each kind, float64 gradcheck."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_gradcheck, check_op, check_raises_like, torch

RNG = np.random.default_rng(1234)
BOOL_MASK = RNG.uniform(size=(4, 5)) > 0.3
BOOL_MASK[:, 0] = True
FLOAT_MASK = RNG.standard_normal((4, 5))
ROW_MASKED = BOOL_MASK.copy()
ROW_MASKED[2] = False  # a fully masked row: zeros, as torch's safe softmax gives


def _t(lib, array, dtype=None):
    t = lib.tensor(array)
    return t if dtype is None else t.to(dtype)


def _sdpa(**kw):
    def fn(L, q, k, v):
        kwargs = dict(kw)
        mask = kwargs.pop("mask", None)
        if mask is not None:
            kwargs["attn_mask"] = _t(L, mask, None if mask.dtype == bool else q.dtype)
        return L.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs)
    return fn


QKV = [(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)]
SDPA_CASES = {
    "plain": (_sdpa(), QKV),
    "causal": (_sdpa(is_causal=True), QKV),
    "bool-mask": (_sdpa(mask=BOOL_MASK), QKV),
    "float-mask": (_sdpa(mask=FLOAT_MASK), QKV),
    "mask-4d": (_sdpa(mask=np.broadcast_to(BOOL_MASK, (2, 1, 4, 5))), QKV),
    "mask-and-causal": (_sdpa(mask=FLOAT_MASK, is_causal=True), QKV),
    "masked-row": (_sdpa(mask=ROW_MASKED), QKV),
    "scale": (_sdpa(scale=0.3), QKV),
    "negative-scale": (_sdpa(scale=-0.7), [(3, 4, 8), (3, 5, 8), (3, 5, 8)]),
    "gqa": (_sdpa(enable_gqa=True), [(2, 4, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8)]),
    "3d": (_sdpa(), [(3, 4, 8), (3, 5, 8), (3, 5, 8)]),
    "3d-causal": (_sdpa(is_causal=True), [(3, 4, 8), (3, 5, 8), (3, 5, 8)]),
    "3d-masked-row": (_sdpa(mask=ROW_MASKED), [(3, 4, 8), (3, 5, 8), (3, 5, 8)]),
    "2d": (_sdpa(mask=FLOAT_MASK), [(4, 8), (5, 8), (5, 8)]),
    "broadcast-heads": (_sdpa(), [(2, 3, 4, 8), (2, 1, 5, 8), (2, 1, 5, 8)]),
    "value-width": (_sdpa(), [(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)]),
    "5d": (_sdpa(is_causal=True), [(2, 2, 3, 4, 8), (2, 2, 3, 5, 8), (2, 2, 3, 5, 8)]),
}


@pytest.mark.parametrize("case", list(SDPA_CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sdpa_matches_torch(case, dtype):
    fn, shapes = SDPA_CASES[case]
    check_op(fn, shapes, dtype=dtype)


def test_sdpa_noncontiguous():
    # transposed leaves: the last dim is strided, so torch (and ember) take the math path
    check_op(_sdpa(mask=BOOL_MASK), [(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)],
             noncontiguous=True)


def test_sdpa_mask_needing_grad():
    # a float mask that needs a gradient: torch composes (its gradient is the scores')
    def fn(L, q, k, v, mask):
        return L.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    check_op(fn, QKV + [(4, 5)])
    check_op(fn, QKV + [(2, 1, 4, 5)])


@pytest.mark.parametrize("shapes", [QKV, [(3, 4, 8), (3, 5, 8), (3, 5, 8)]])
def test_sdpa_dropout_same_seed(shapes):
    """dropout_p draws torch's mask of the attention weights for the same seed."""
    def fn(L, q, k, v):
        L.manual_seed(7)
        return L.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    check_op(fn, shapes)


def test_sdpa_fused_output_layout():
    """The fused kernel writes its output in the query's layout (what makes MHA's
    ``permute(...).contiguous()`` free)."""
    def fn(L, x):
        q = x.view(4, 6, 8).transpose(0, 1).view(2, 3, 4, 8)
        out = L.nn.functional.scaled_dot_product_attention(q, q, q)
        assert out.permute(2, 0, 1, 3).is_contiguous()
        return out.permute(2, 0, 1, 3).contiguous()
    check_op(fn, [(4, 2, 24)])


@pytest.mark.parametrize("case", ["plain", "causal", "bool-mask", "float-mask", "gqa", "3d",
                                  "masked-row"])
def test_sdpa_gradcheck(case):
    fn, shapes = SDPA_CASES[case]
    fused = len(shapes[0]) == 4  # torch cannot differentiate its fused backward again
    check_gradcheck(fn, [(1,) + s[1:] if len(s) == 4 else s for s in shapes],
                    gradgrad=not fused)


def test_sdpa_fused_double_backward_refused():
    def fn(L):
        q, k, v = (L.tensor(RNG_FIXED[i], dtype=L.float64, requires_grad=True)
                   for i in range(3))
        out = L.nn.functional.scaled_dot_product_attention(q, k, v)
        (g,) = L.autograd.grad(out.sum(), q, create_graph=True)
        assert g.grad_fn.name() == "torch::autograd::NotImplemented"
        g.sum().backward()
    check_raises_like(fn)


RNG_FIXED = np.random.default_rng(5).standard_normal((3, 1, 2, 4, 8))


@pytest.mark.parametrize("bad", [
    lambda L: L.nn.functional.scaled_dot_product_attention(
        L.zeros(2, 4, 8), L.zeros(2, 5, 8, dtype=L.float64), L.zeros(2, 5, 8)),
    lambda L: L.nn.functional.scaled_dot_product_attention(L.zeros(8), L.zeros(8),
                                                           L.zeros(8)),
    lambda L: L.nn.functional.scaled_dot_product_attention(
        L.zeros(2, 4, 8), L.zeros(2, 5, 8), L.zeros(2, 5, 8),
        attn_mask=L.zeros(4, 5, dtype=L.int64)),
    lambda L: L.nn.functional.scaled_dot_product_attention(
        L.zeros(2, 4, 8), L.zeros(2, 5, 8), L.zeros(2, 5, 8),
        attn_mask=L.zeros(4, 5, dtype=L.float64)),
    lambda L: L.nn.functional.scaled_dot_product_attention(
        L.zeros(2, 4, 8), L.zeros(2, 5, 8), L.zeros(2, 5, 8), attn_mask=L.zeros(4, 5),
        is_causal=True),
    lambda L: L.nn.functional.scaled_dot_product_attention(
        L.zeros(1, 3, 4, 8), L.zeros(1, 2, 5, 8), L.zeros(1, 2, 5, 8), enable_gqa=True),
])
def test_sdpa_errors(bad):
    check_raises_like(bad)


# ---- MultiheadAttention ------------------------------------------------------------------


def _pair(seed=0, **kw):
    torch.manual_seed(seed)
    tm = torch.nn.MultiheadAttention(**kw)
    ember.manual_seed(seed)
    em = ember.nn.MultiheadAttention(**kw)
    return tm, em


MHA_CONFIGS = {
    "default": dict(embed_dim=8, num_heads=2),
    "kdim-vdim": dict(embed_dim=8, num_heads=2, kdim=5, vdim=6),
    "bias-kv-zero-attn": dict(embed_dim=8, num_heads=4, add_bias_kv=True, add_zero_attn=True),
    "no-bias": dict(embed_dim=8, num_heads=2, bias=False),
    "batch-first": dict(embed_dim=8, num_heads=2, batch_first=True),
    "dropout": dict(embed_dim=8, num_heads=2, dropout=0.3),
}


@pytest.mark.parametrize("config", list(MHA_CONFIGS))
def test_mha_same_weights_and_repr(config):
    tm, em = _pair(**MHA_CONFIGS[config])
    assert repr(em) == repr(tm)
    t_params, e_params = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(e_params) == list(t_params)
    for name, tp in t_params.items():
        np.testing.assert_array_equal(e_params[name].detach()._data, tp.detach().numpy(),
                                      err_msg=name)
    assert list(em.state_dict()) == list(tm.state_dict())


def _compare_modules(tm, em, make_inputs, call, *, seed=3, check_grads=True):
    """Run ``call(module, *inputs)`` on both, compare every output, then backpropagate a
    random cotangent and compare the gradients of inputs and of every parameter."""
    t_in, e_in = make_inputs(torch), make_inputs(ember)
    torch.manual_seed(seed)
    t_out = call(tm, *t_in)
    ember.manual_seed(seed)
    e_out = call(em, *e_in)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    e_out = e_out if isinstance(e_out, tuple) else (e_out,)
    rng = np.random.default_rng(seed)
    t_loss, e_loss = 0, 0
    for k, (t, e) in enumerate(zip(t_out, e_out)):
        if t is None:
            assert e is None, f"output {k}: torch gives None"
            continue
        assert_same(e, t, what=f"output {k}")
        if t.grad_fn is not None:
            assert e.grad_fn is not None and e.grad_fn.name() == t.grad_fn.name()
            cot = rng.standard_normal(tuple(t.shape))
            t_loss = t_loss + (t * torch.tensor(cot, dtype=t.dtype)).sum()
            e_loss = e_loss + (e * ember.tensor(cot, dtype=e.dtype)).sum()
    if not check_grads or not torch.is_grad_enabled():
        return
    t_loss.backward()
    e_loss.backward()
    for i, (t, e) in enumerate(zip(t_in, e_in)):
        if isinstance(t, torch.Tensor) and t.grad is not None:
            assert_same(e.grad, t.grad, what=f"grad of input {i}")
    e_params = dict(em.named_parameters())
    for name, tp in tm.named_parameters():
        if tp.grad is None:
            assert e_params[name].grad is None, name
        else:
            assert_same(e_params[name].grad, tp.grad, what=f"grad of {name}")


def _inputs(shapes, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]

    def make(L):
        return [L.tensor(a, dtype=getattr(L, dtype), requires_grad=True) for a in arrays]
    return make


@pytest.mark.parametrize("config", list(MHA_CONFIGS))
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_mha_cross_attention(config, need_weights, training):
    kw = MHA_CONFIGS[config]
    tm, em = _pair(**kw)
    tm.train(training)
    em.train(training)
    e, kd, vd = kw["embed_dim"], kw.get("kdim", kw["embed_dim"]), kw.get("vdim",
                                                                       kw["embed_dim"])
    if kw.get("batch_first"):
        shapes = [(3, 4, e), (3, 5, kd), (3, 5, vd)]
    else:
        shapes = [(4, 3, e), (5, 3, kd), (5, 3, vd)]
    _compare_modules(tm, em, _inputs(shapes),
                     lambda m, q, k, v: m(q, k, v, need_weights=need_weights))


def _masks(kind):
    rng = np.random.default_rng(11)
    padding = np.zeros((3, 5), bool)
    padding[0, 3:] = True
    padding[2, 4:] = True
    attn_bool = rng.uniform(size=(4, 5)) > 0.7
    attn_bool[:, 0] = False

    def make(L):
        if kind == "padding-bool":
            return dict(key_padding_mask=L.tensor(padding))
        if kind == "padding-float":
            return dict(key_padding_mask=L.tensor(np.where(padding, -1e4, 0.0),
                                                  dtype=L.float32))
        if kind == "attn-bool":
            return dict(attn_mask=L.tensor(attn_bool))
        if kind == "attn-float-3d":
            return dict(attn_mask=L.tensor(rng_3d, dtype=L.float32))
        if kind == "both":
            return dict(attn_mask=L.tensor(attn_bool), key_padding_mask=L.tensor(padding))
        if kind == "causal":
            mask = L.nn.Transformer.generate_square_subsequent_mask(4)
            return dict(attn_mask=mask, is_causal=True)
        raise AssertionError(kind)
    return make


rng_3d = np.random.default_rng(12).standard_normal((6, 4, 5))


@pytest.mark.parametrize("kind", ["padding-bool", "padding-float", "attn-bool",
                                  "attn-float-3d", "both", "causal"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_mha_masks(kind, need_weights, average):
    tm, em = _pair(embed_dim=8, num_heads=2, dropout=0.2)
    shapes = [(4, 3, 8)] + ([(4, 3, 8)] * 2 if kind == "causal" else [(5, 3, 8)] * 2)
    masks = _masks(kind)
    _compare_modules(tm, em, _inputs(shapes), lambda m, q, k, v: m(
        q, k, v, need_weights=need_weights, average_attn_weights=average,
        **masks(torch if isinstance(q, torch.Tensor) else ember)))


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_self_attention(need_weights, batch_first):
    tm, em = _pair(embed_dim=12, num_heads=3, batch_first=batch_first, dropout=0.1)
    _compare_modules(tm, em, _inputs([(4, 3, 12)]),
                     lambda m, x: m(x, x, x, need_weights=need_weights))
    # key is value (encoder-decoder attention): the packed projection is split in two
    shapes = [(3, 4, 12), (3, 6, 12)] if batch_first else [(4, 3, 12), (6, 3, 12)]
    _compare_modules(tm, em, _inputs(shapes),
                     lambda m, x, mem: m(x, mem, mem, need_weights=need_weights))


def test_mha_unbatched():
    tm, em = _pair(embed_dim=8, num_heads=2)
    padding = np.array([False, False, True, False, True])

    def call(m, q, k, v):
        lib = torch if isinstance(q, torch.Tensor) else ember
        return m(q, k, v, key_padding_mask=lib.tensor(padding))
    _compare_modules(tm, em, _inputs([(4, 8), (5, 8), (5, 8)]), call)


def test_mha_eval_no_grad_fast_path():
    """torch's eval fast path (native MHA) gives the general path's values."""
    tm, em = _pair(embed_dim=8, num_heads=2, batch_first=True)
    tm.eval()
    em.eval()
    padding = np.zeros((3, 4), bool)
    padding[1, 2:] = True

    def call(m, x):
        lib = torch if isinstance(x, torch.Tensor) else ember
        with lib.no_grad():
            return m(x, x, x, key_padding_mask=lib.tensor(padding), need_weights=False)
    _compare_modules(tm, em, _inputs([(3, 4, 8)]), call, check_grads=False)


def test_mha_fully_masked_row_gives_nan_with_weights():
    tm, em = _pair(embed_dim=4, num_heads=2)
    mask = np.zeros((2, 3), bool)
    mask[1] = True

    def call(m, q):
        lib = torch if isinstance(q, torch.Tensor) else ember
        return m(q, q, q, key_padding_mask=lib.tensor(mask))
    _compare_modules(tm, em, _inputs([(3, 2, 4)]), call, check_grads=False)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_gradcheck(need_weights):
    ember.manual_seed(0)
    m = ember.nn.MultiheadAttention(4, 2, kdim=3, add_bias_kv=True, dtype=ember.float64)
    mask = ember.tensor([[False, False, True, False]])

    def fn(L, q, k, v):
        return m(q, k, v, key_padding_mask=mask, need_weights=need_weights)[0]
    check_gradcheck(fn, [(3, 1, 4), (4, 1, 3), (4, 1, 4)], gradgrad=need_weights)


def test_functional_mha_static_kv():
    rng = np.random.default_rng(3)
    arrays = dict(q=rng.standard_normal((4, 2, 8)), w=rng.standard_normal((24, 8)),
                  b=rng.standard_normal(24), ow=rng.standard_normal((8, 8)),
                  ob=rng.standard_normal(8), sk=rng.standard_normal((4, 5, 4)),
                  sv=rng.standard_normal((4, 5, 4)))

    def fn(L, q, w, b, ow, ob, sk, sv):
        return L.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 2, w, b, None, None, False, 0.0, ow, ob, training=False,
            static_k=sk, static_v=sv)
    shapes = [a.shape for a in arrays.values()]
    check_op(fn, shapes)


@pytest.mark.parametrize("bad", [
    lambda L: L.nn.MultiheadAttention(0, 2),
    lambda L: L.nn.MultiheadAttention(7, 2),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3), L.zeros(5, 3)),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8), attn_mask=L.zeros(3, 5)),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8), key_padding_mask=L.zeros(3)),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8), is_causal=True),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8),
                                            attn_mask=L.zeros(4, 5, dtype=L.int64)),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 8, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8)),
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 6), L.zeros(5, 3, 6),
                                            L.zeros(5, 3, 6)),
    # a key padding mask of the wrong batch size, then of the wrong length
    lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(4, 3, 8), L.zeros(5, 3, 8),
                                            L.zeros(5, 3, 8),
                                            key_padding_mask=L.zeros(2, 6, dtype=L.bool)),
    lambda L: L.nn.MultiheadAttention(8, 2, add_zero_attn=True)(
        L.zeros(4, 3, 8), L.zeros(5, 3, 8), L.zeros(5, 3, 8),
        key_padding_mask=L.zeros(3, 4, dtype=L.bool), need_weights=False),
])
def test_mha_errors(bad):
    check_raises_like(bad)


# ---- the fused kernel's softmax with and without the row maximum -------------------------


@pytest.mark.parametrize("scale, dtype", [(1.0, "float32"), (1.0, "float64"),
                                          (40.0, "float64")])
@pytest.mark.parametrize("mask", [None, "causal", "bool", "float"])
def test_fused_attention_scores_of_any_size(scale, dtype, mask):
    # scores within +-64 skip the row maximum, larger ones (scale 40) subtract it; float64
    # there, as a softmax that saturated amplifies float32 roundings beyond rtol (in torch's
    # own float32 kernel against its float64 one too)
    def fn(L, q, k, v):
        kwargs = {"is_causal": mask == "causal"}
        if mask == "bool":
            kwargs["attn_mask"] = _t(L, BOOL_MASK)
        elif mask == "float":
            kwargs["attn_mask"] = _t(L, FLOAT_MASK, q.dtype)
        return L.nn.functional.scaled_dot_product_attention(q * scale, k, v, **kwargs)
    check_op(fn, QKV, dtype=dtype)
