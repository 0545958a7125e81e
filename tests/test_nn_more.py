"""The last torch.nn names against torch: conv_tbc, grouped_mm, linear_cross_entropy and
LinearCrossEntropyLoss, AdaptiveLogSoftmaxWithLoss, the deprecated Container (values,
gradients, gradcheck, reprs, warnings and errors)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import (
    assert_same,
    check_gradcheck,
    check_op,
    check_raises_like,
    recording_compared,
    torch,
    torch_or_refused,
)

# ---- conv_tbc ---------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(t=st.integers(1, 7), b=st.integers(0, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       k=st.integers(1, 4), pad=st.integers(-1, 4), dtype=st.sampled_from(["float32", "float64"]))
def test_conv_tbc(t, b, c_in, c_out, k, pad, dtype):
    check_op(lambda lib, x, w, bias: lib.nn.functional.conv_tbc(x, w, bias, pad),
             [(t, b, c_in), (k, c_in, c_out), (c_out,)], dtype=dtype)


def test_conv_tbc_gradcheck_and_noncontiguous():
    check_gradcheck(lambda lib, x, w, b: lib.nn.functional.conv_tbc(x, w, b, 1),
                    [(5, 2, 3), (3, 3, 2), (2,)])
    check_gradcheck(lambda lib, x, w, b: lib.nn.functional.conv_tbc(x, w, b, pad=4),
                    [(3, 1, 2), (2, 2, 2), (2,)], gradgrad=False)
    check_op(lambda lib, x, w, b: lib.nn.functional.conv_tbc(x, w, b, 2),
             [(4, 2, 3), (2, 3, 5), (5,)], noncontiguous=True)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 3), lib.ones(2, 3, 4), lib.ones(4)),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 2, 3), lib.ones(3, 4), lib.ones(4)),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 2, 3), lib.ones(2, 3, 4),
                                           lib.ones(1, 4)),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 2, 3), lib.ones(2, 2, 4), lib.ones(4)),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 2, 3), lib.ones(2, 3, 4), lib.ones(3)),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(1, 2, 3), lib.ones(2, 3, 4), lib.ones(4),
                                           -1),
    lambda lib: lib.nn.functional.conv_tbc(lib.ones(5, 2, 3, dtype=lib.float64),
                                           lib.ones(2, 3, 4), lib.ones(4)),
])
def test_conv_tbc_errors(fn):
    check_raises_like(fn)


# ---- grouped_mm -------------------------------------------------------------------------

_OFFS = np.array([0, 3, 7, 12], np.int32)


@pytest.mark.parametrize("shapes,offs", [
    (((2, 4, 8), (2, 8, 4)), None),                     # both 3-d: a batched product
    (((12, 8), (4, 8, 4)), _OFFS),                      # groups of a's rows
    (((3, 4, 8), (8, 12)), _OFFS[1:]),                  # groups of b's columns
    (((4, 12), (12, 8)), _OFFS),                        # groups of the contraction dim
    (((14, 8), (4, 8, 4)), _OFFS),                      # rows after the last offset: unset
])
def test_grouped_mm(shapes, offs):
    def fn(lib, a, b):
        o = None if offs is None else lib.tensor(offs)
        out = lib.nn.functional.grouped_mm(a, b, offs=o)
        # torch leaves rows past the last offset unwritten: compare the grouped ones
        return out[:12] if shapes[0] == (14, 8) else out
    # ... and fills their gradient with garbage too: no gradient comparison there
    check_op(fn, list(shapes), grad=shapes[0] != (14, 8))


def test_grouped_mm_layouts_dtypes_and_gradcheck():
    # a transposed b (column-major, the 16-byte rule on its other stride)
    check_op(lambda lib, a, b: lib.nn.functional.grouped_mm(a, b.transpose(1, 2)),
             [(2, 4, 8), (2, 6, 8)])
    check_op(lambda lib, a, b: lib.nn.functional.grouped_mm(a.half(), b.half()),
             [(2, 4, 8), (2, 8, 8)], grad=False, rtol=1e-3, atol=1e-3)
    # bfloat16 products round differently inside torch's kernel: a bfloat16 ulp of slack
    check_op(lambda lib, a, b: lib.nn.functional.grouped_mm(a.bfloat16(), b.bfloat16(),
                                                            out_dtype=lib.bfloat16),
             [(2, 4, 8), (2, 8, 8)], grad=False, rtol=1.6e-2, atol=2e-2)
    offs = ember.tensor(_OFFS[1:])

    def grouped(a, b):
        out = ember.nn.functional.grouped_mm(a.float(), b.float(), offs=offs)
        return out.double()
    a, b = (ember.randn(*s, dtype=ember.float64, requires_grad=True)
            for s in ((12, 4), (3, 4, 4)))
    assert ember.autograd.gradcheck(grouped, (a, b), eps=1e-3, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(8), lib.ones(2, 8, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8).double(), lib.ones(2, 8, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 8).int()),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 8).bfloat16()),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8).half(), lib.ones(2, 8, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 8),
                                             out_dtype=lib.float64),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 8),
                                             bias=lib.ones(2, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(6, 8), lib.ones(2, 8, 8),
                                             offs=lib.tensor([2, 6])),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(6, 8), lib.ones(2, 8, 8),
                                             offs=lib.tensor([[2, 6]], dtype=lib.int32)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(6, 8), lib.ones(2, 8, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 8),
                                             offs=lib.tensor([2, 6], dtype=lib.int32)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(6, 8), lib.ones(2, 8, 8),
                                             offs=lib.tensor([2, 4, 6], dtype=lib.int32)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 4, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(3, 8, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 8), lib.ones(2, 8, 6)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 6), lib.ones(2, 6, 8)),
    lambda lib: lib.nn.functional.grouped_mm(lib.ones(2, 4, 16)[:, :, ::2], lib.ones(2, 8, 8)),
])
def test_grouped_mm_errors(fn):
    check_raises_like(fn)


# ---- linear_cross_entropy -----------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"label_smoothing": 0.2},
    {"ignore_index": 2}, {"weight": [1.0, 2.0, 0.5, 1.5, 3.0]},
])
@pytest.mark.parametrize("bias", [False, True])
def test_linear_cross_entropy(kwargs, bias):
    target = np.array([0, 4, 2, -100, 1, 3])

    def fn(lib, x, w, b):
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = lib.tensor(kw["weight"], dtype=x.dtype)
        return lib.nn.functional.linear_cross_entropy(
            x, w, lib.tensor(target), linear_bias=b if bias else None, **kw)
    check_op(fn, [(6, 3), (5, 3), (5,)])
    check_op(lambda lib, x, w: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor(2), reduction=kwargs.get("reduction", "mean")), [(3,), (5, 3)])


def test_linear_cross_entropy_k_dim_probabilities_and_gradcheck():
    target = np.array([[0, 4, 2], [1, 1, 3]])
    check_op(lambda lib, x, w, b: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor(target), linear_bias=b, reduction="none"), [(2, 4), (5, 3, 4), (5, 3)])
    check_op(lambda lib, x, w, p: lib.nn.functional.linear_cross_entropy(
        x, w, p.softmax(1), label_smoothing=0.1), [(2, 4), (5, 4), (2, 5)])
    check_gradcheck(lambda lib, x, w: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor([1, 0, 2])), [(3, 4), (3, 4)])


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3, 4), lib.ones(5, 4),
                                                       lib.zeros(2, 3, dtype=lib.long)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5, 3),
                                                       lib.zeros(6, dtype=lib.long)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5),
                                                       lib.zeros(6, dtype=lib.long)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5, 4),
                                                       lib.zeros(6, dtype=lib.long),
                                                       linear_bias=lib.ones(4)),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5, 4),
                                                       lib.zeros(6, dtype=lib.long),
                                                       reduction="bad"),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5, 4),
                                                       lib.ones(6, 5) / 5, ignore_index=3),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(6, 4), lib.ones(5, 3, 4),
                                                       lib.zeros(6, dtype=lib.long)),
])
def test_linear_cross_entropy_errors(fn):
    check_raises_like(fn)


@pytest.mark.parametrize("kwargs", [
    {}, {"out_features": (3,), "bias": True}, {"out_features": (2, 2), "reduction": "none"},
    {"ignore_index": 1, "label_smoothing": 0.1},
])
def test_linear_cross_entropy_loss_module(kwargs):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    target = rng.integers(0, 5, (6,) + kwargs.get("out_features", ()))
    with recording_compared() as run:
        results = []
        for lib in (torch, ember):
            lib.manual_seed(0)
            module = lib.nn.LinearCrossEntropyLoss(4, 5, weight=lib.arange(1.0, 6.0), **kwargs)
            xin = lib.tensor(x, requires_grad=True)
            loss = run(lib, lambda L, m, a, t: m(a, t), module, xin, lib.tensor(target))
            loss.sum().backward()
            results.append((repr(module), loss, xin.grad, module.linear.weight.grad,
                            sorted(dict(module.named_buffers()))))
        (e_repr, e_loss, e_gx, e_gw, e_buf), (t_repr, t_loss, t_gx, t_gw, t_buf) = results[::-1]
        assert e_repr == t_repr and e_buf == t_buf
        assert_same(e_loss, t_loss)
        assert_same(e_gx, t_gx)
        assert_same(e_gw, t_gw)
    check_raises_like(lambda lib: lib.nn.LinearCrossEntropyLoss(4, 5, out_features=3))


# ---- AdaptiveLogSoftmaxWithLoss -----------------------------------------------------------


def _asm_pair(*args, **kwargs):
    modules = []
    for lib in (torch, ember):
        lib.manual_seed(3)
        modules.append(lib.nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs))
    return modules


@pytest.mark.parametrize("args,kwargs", [
    ((8, 10, [3, 6]), {"div_value": 2.0, "head_bias": True}),
    ((16, 20, [2, 5, 11]), {}),
    ((6, 4, (1,)), {"dtype": "float64"}),
])
def test_adaptive_log_softmax(args, kwargs):
    dtype = kwargs.pop("dtype", "float32")
    tm, em = _asm_pair(*args, **kwargs)
    tm.to(getattr(torch, dtype))
    em.to(getattr(ember, dtype))
    assert repr(em) == repr(tm)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for (_, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert_same(ep.detach(), tp.detach())
    assert (em.cutoffs, em.shortlist_size, em.n_clusters, em.head_size) == (
        tm.cutoffs, tm.shortlist_size, tm.n_clusters, tm.head_size)
    rng = np.random.default_rng(0)
    n_in, n_classes = args[0], args[1]
    x = rng.standard_normal((7, n_in))
    target = rng.integers(0, n_classes, 7)
    target[:n_classes] = np.arange(min(7, n_classes))
    with recording_compared() as run:
        outs = []
        for lib, m in ((torch, tm), (ember, em)):
            xin = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
            out = run(lib, lambda L, mod, a, t: mod(a, t), m, xin, lib.tensor(target))
            assert type(out).__name__ == "_ASMoutput" and out._fields == ("output", "loss")
            (out.output.sum() * 0.5 + out.loss).backward()
            single = m(xin[2], lib.tensor(target[2]))
            outs.append((out.output, out.loss, xin.grad, m.head.weight.grad,
                         m.tail[0][0].weight.grad, m.log_prob(xin), m.predict(xin),
                         single.output, single.loss))
        for e, t in zip(outs[1], outs[0]):
            assert_same(e, t)
            assert (e.grad_fn is None) == (t.grad_fn is None)
            if t.grad_fn is not None:
                assert e.grad_fn.name() == t.grad_fn.name()


def test_adaptive_log_softmax_reset_and_gradcheck():
    tm, em = _asm_pair(5, 9, [2, 4])
    for lib, m in ((torch, tm), (ember, em)):
        lib.manual_seed(8)
        m.reset_parameters()
    for (_, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert_same(ep.detach(), tp.detach())
    em.double()
    target = ember.tensor([0, 3, 8, 1])
    assert ember.autograd.gradcheck(lambda x: em(x, target).loss,
                                    (ember.randn(4, 5, dtype=ember.float64,
                                                 requires_grad=True),))
    assert ember.autograd.gradcheck(lambda x: em.log_prob(x),
                                    (ember.randn(2, 5, dtype=ember.float64,
                                                 requires_grad=True),))


def _asm(lib):
    lib.manual_seed(0)
    return lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])


@pytest.mark.parametrize("fn", [
    lambda lib: _asm(lib)(lib.ones(5, 8), lib.zeros(3, dtype=lib.long)),
    lambda lib: _asm(lib)(lib.ones(8), lib.zeros(5, dtype=lib.long)),
    lambda lib: _asm(lib)(lib.ones(5, 8), lib.tensor(1)),
    lambda lib: _asm(lib)(lib.ones(5, 8), lib.zeros(1, 5, dtype=lib.long)),
    lambda lib: _asm(lib)(lib.ones(3, 8), lib.tensor([0, 10, 2])),
    lambda lib: _asm(lib)(lib.ones(3, 8), lib.tensor([0, -1, 2])),
    lambda lib: _asm(lib).log_prob(lib.ones(8)),
    lambda lib: _asm(lib).predict(lib.ones(8)),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 3]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [0, 3]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3.5]),
])
def test_adaptive_log_softmax_errors(fn):
    check_raises_like(fn)


# ---- Container ------------------------------------------------------------------------------


def test_container_is_deprecated_module():
    with recording_compared("torch.nn.Container"):
        _compare_containers()


def _compare_containers():
    reprs, names, messages = [], [], []
    for lib in (torch, ember):
        lib.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = lib.nn.Container(lin=lib.nn.Linear(2, 3), act=lib.nn.ReLU())
        messages.append([(w.category, str(w.message), w.filename) for w in caught])
        reprs.append(repr(c))
        names.append([n for n, _ in c.named_parameters()])
        assert isinstance(c, lib.nn.Module)
    assert reprs[0] == reprs[1] and names[0] == names[1] and messages[0] == messages[1]
    check_raises_like(lambda lib: lib.nn.Container(a=lib.nn.ReLU())(lib.ones(2)))


@pytest.mark.parametrize("dtype", ["int64", "bool", "uint8", "int32", "float64"])
@pytest.mark.parametrize("call", [
    "F.layer_norm(x, (4,))", "F.group_norm(x, 1)", "F.instance_norm(x)", "F.rms_norm(x, (4,))",
    "F.hardtanh(x)", "F.hardtanh(x, 0., 2.)", "F.relu6(x)", "F.softmax(x, 0)", "F.softmax(x, 2)",
    "F.log_softmax(x, 1)", "F.log_softmax(x, -1)", "F.conv1d(x, w)", "F.conv_transpose1d(x, w)",
    "F.conv2d(x[None], w[None])", "F.conv_transpose2d(x[None], w[None])",
    "F.conv3d(x[None, None], w[None, None])", "F.conv_transpose3d(x[None, None], w[None, None])",
])
def test_integer_and_bool_inputs_as_torch(dtype: str, call: str) -> None:
    # layer/group/instance norm of integers stored normalised integers ([-1, 0, 0, 1], 255
    # in uint8), hardtanh of uint8 clamped to negative limits, bool convolutions ran: torch
    # refuses them all; softmax named its general kernel as the last-dim one
    def fn(L):
        x = L.tensor([[[0, 1, 2, 3]]]).to(getattr(L, dtype))
        w = L.ones(1, 1, 2).to(getattr(L, dtype))
        return eval(call, {"F": L.nn.functional, "x": x, "w": w})
    t = torch_or_refused(fn, RuntimeError, NotImplementedError)
    if t is not None:
        assert_same(fn(ember), t)


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64", "bool", "uint8", "float16",
                                   "bfloat16", "float64"])
@pytest.mark.parametrize("call", [
    "F.local_response_norm(x3, 2)", "F.local_response_norm(x4, 2)",
    "F.local_response_norm(x4[:0], 2)", "F.local_response_norm(x5, 3)",
    "F.batch_norm(x4, None, None, training=True)", "F.grid_sample(x4, g4, align_corners=False)",
    "F.grid_sample(x5, g5, align_corners=False)",
])
def test_normalisation_and_sampling_dtypes_as_torch(dtype: str, call: str) -> None:
    # batch_norm and grid_sample of integers computed where torch refuses; local_response_norm
    # averaged int64 squares in float (torch's avg_pool in integers) and took the dtypes its
    # pooling kernels refuse
    def fn(L):
        dt = getattr(L, dtype)
        x4 = (L.arange(48.).reshape(1, 3, 4, 4) % 5).to(dt)
        return eval(call, {"F": L.nn.functional, "x3": x4[0], "x4": x4, "x5": x4[None],
                           "g4": L.zeros(1, 2, 2, 2).to(dt), "g5": L.zeros(1, 1, 2, 2, 3).to(dt)})
    t = torch_or_refused(fn, RuntimeError, NotImplementedError)
    if t is not None:
        assert_same(fn(ember), t)


_WRONG_DTYPE_MODULES = {
    "nn.Linear(4, 3)": (2, 4), "nn.Conv1d(2, 3, 2)": (1, 2, 4), "nn.Conv2d(2, 3, 2)": (1, 2, 4, 4),
    "nn.Conv2d(2, 3, 2, bias=False)": (1, 2, 4, 4), "nn.ConvTranspose2d(2, 3, 2)": (1, 2, 4, 4),
    "nn.BatchNorm1d(2)": (3, 2), "nn.BatchNorm2d(2)": (3, 2, 4, 4), "nn.LayerNorm(4)": (2, 4),
    "nn.GroupNorm(1, 2)": (1, 2, 4), "nn.InstanceNorm2d(2, affine=True)": (1, 2, 4, 4),
    "nn.Bilinear(4, 4, 3)": (2, 4), "nn.PReLU()": (2, 4), "nn.RMSNorm(4)": (2, 4),
}


@pytest.mark.parametrize("module", sorted(_WRONG_DTYPE_MODULES))
@pytest.mark.parametrize("dtype", ["float64", "int64", "float16", "bfloat16"])
def test_modules_given_another_dtype_as_torch(module: str, dtype: str) -> None:
    # a float64 batch into a float32 model: layer/group/instance norm and prelu computed in
    # float64 (torch: its "mixed dtype" and "Type promoting" errors), batch norm, bilinear and
    # biased convolutions raised other messages than torch's
    def fn(L):
        L.manual_seed(0)
        mod = eval(module, {"nn": L.nn})
        x = L.ones(_WRONG_DTYPE_MODULES[module]).to(getattr(L, dtype))
        return mod(x, x) if module.startswith("nn.Bilinear") else mod(x)
    t = torch_or_refused(fn, RuntimeError, NotImplementedError)
    if t is not None:
        assert_same(fn(ember), t)
