"""F.scaled_mm / F.scaled_grouped_mm (float8 products) and the chunked path of
F.linear_cross_entropy (``options=``) against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from tests.helpers import TOLERANCES, assert_raises_like, assert_same, recording_compared, torch


def _mats(lib, seed: int = 0, m: int = 24, k: int = 40, n: int = 16, b_dtype="float8_e4m3fn"):
    rng = np.random.default_rng(seed)
    a = lib.tensor(rng.standard_normal((m, k)).astype(np.float32) * 3).to(lib.float8_e4m3fn)
    # mat_b column-major, as torch's GPU kernels want it (the CPU takes either)
    b = lib.tensor(rng.standard_normal((n, k)).astype(np.float32) * 3).to(
        getattr(lib, b_dtype)).t()
    rows = lib.tensor(rng.random((m, 1)).astype(np.float32))
    cols = lib.tensor(rng.random((1, n)).astype(np.float32))
    bias = lib.tensor(rng.standard_normal(n).astype(np.float32))
    return a, b, rows, cols, bias


def _tw(F):
    return F.ScalingType.TensorWise


def _rw(F):
    return F.ScalingType.RowWise


SCALED_MM = {
    "tensorwise": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, a.new_tensor(0.37).float(), _tw(F), a.new_tensor(1.9).float(), _tw(F)),
    "tensorwise_float32": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r[0, 0], _tw(F), c[0, 0], _tw(F), output_dtype=r.dtype),
    "tensorwise_float16_bias": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r[:1], _tw(F), c[:, :1], _tw(F), bias=bias.half(), output_dtype=bias.half().dtype),
    "tensorwise_own_dtype": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r[0, 0], _tw(F), c[0, 0], _tw(F), output_dtype=None),
    "rowwise": lambda F, a, b, r, c, bias: F.scaled_mm(a, b, r, _rw(F), c, _rw(F)),
    "rowwise_bias_float32": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c, _rw(F), bias=bias, output_dtype=bias.dtype),
    "rowwise_lists": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, [r], [_rw(F)], [c], [_rw(F)], swizzle_a=F.SwizzleType.NO_SWIZZLE,
        use_fast_accum=True, contraction_dim=(1, 0)),
    # torch's refusals
    "mixed_recipes": lambda F, a, b, r, c, bias: F.scaled_mm(a, b, r[0, 0], _tw(F), c, _rw(F)),
    "float32_matrix": lambda F, a, b, r, c, bias: F.scaled_mm(
        a.float(), b, r[0, 0], _tw(F), c[0, 0], _tw(F)),
    "float64_scale": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r[0, 0].double(), _tw(F), c[0, 0], _tw(F)),
    "blockwise": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, F.ScalingType.BlockWise1x128, c, F.ScalingType.BlockWise1x128),
    "two_scales": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, [r[0, 0], r[1, 0]], [_tw(F), _tw(F)], c[0, 0], _tw(F)),
    "rowwise_1d_scale": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r.flatten(), _rw(F), c, _rw(F)),
    "rowwise_0d_scale": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r[0, 0], _rw(F), c, _rw(F)),
    "rowwise_transposed_scale": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c.t(), _rw(F)),
    "bad_bias": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c, _rw(F), bias=r),
    "not_a_matrix": lambda F, a, b, r, c, bias: F.scaled_mm(
        a[None], b, r, _rw(F), c, _rw(F)),
    "shapes": lambda F, a, b, r, c, bias: F.scaled_mm(a, a, r, _rw(F), c, _rw(F)),
    "contraction_dims": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c, _rw(F), contraction_dim=(0, 1)),
    "contraction_dims_count": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c, _rw(F), contraction_dim=(1,)),
    "contraction_dim_range": lambda F, a, b, r, c, bias: F.scaled_mm(
        a, b, r, _rw(F), c, _rw(F), contraction_dim=(1, 5)),
    "grouped": lambda F, a, b, r, c, bias: F.scaled_grouped_mm(
        a, b, r, _rw(F), c, _rw(F)),
}


@pytest.mark.parametrize("case", sorted(SCALED_MM))
@pytest.mark.parametrize("b_dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_scaled_mm_matches_torch(case: str, b_dtype: str) -> None:
    fn = SCALED_MM[case]
    with recording_compared("torch.nn.functional.scaled_mm",
                            "torch.nn.functional.scaled_grouped_mm") as run:
        try:
            t = run(torch, lambda lib: fn(lib.nn.functional, *_mats(lib, b_dtype=b_dtype)))
        except Exception as exc:
            # torch's dispatcher goes on to list its backends and build paths: ember gives
            # the first sentences
            match = "Could not run 'aten::_scaled_grouped_mm_v2' with arguments from the " \
                "'CPU' backend." if case == "grouped" else None
            assert_raises_like(exc, lambda: fn(ember.nn.functional,
                                               *_mats(ember, b_dtype=b_dtype)),
                               error_match=match, what=case)
            return
        e = run(ember, lambda lib: fn(lib.nn.functional, *_mats(lib, b_dtype=b_dtype)))
        assert repr(e.dtype) == repr(t.dtype)
        assert tuple(e.shape) == tuple(t.shape)
        # The float32 products may sum in another order (NumPy's BLAS vs torch's), so a
        # rounded output may land one step of its format away: the tolerance is the output
        # dtype's (torch.testing's, or one float8 step, eps, for a float8 output).
        name = repr(t.dtype).removeprefix("torch.")
        rtol, atol = TOLERANCES.get(name, (torch.finfo(t.dtype).eps, 0.0))
        assert_same(e.float(), t.float(), rtol=rtol, atol=atol)


def test_scaled_mm_records_no_derivative() -> None:
    def product(lib):
        a, b, rows, cols, _ = _mats(lib)
        a = a.detach().requires_grad_()
        F = lib.nn.functional
        return F.scaled_mm(a, b, rows, F.ScalingType.RowWise, cols, F.ScalingType.RowWise)
    t, e = product(torch), product(ember)
    assert e.requires_grad and t.requires_grad
    assert e.grad_fn.name() == t.grad_fn.name()
    with pytest.raises(RuntimeError) as info:
        t.float().sum().backward()
    assert_raises_like(info.value, lambda: e.float().sum().backward())


def test_scaling_and_swizzle_enums() -> None:
    for t_enum, e_enum in ((torch.nn.functional.ScalingType, ember.nn.functional.ScalingType),
                           (torch.nn.functional.SwizzleType, ember.nn.functional.SwizzleType)):
        assert e_enum.__name__ == t_enum.__name__
        assert list(e_enum.__members__) == list(t_enum.__members__)
        for name, member in t_enum.__members__.items():
            mine = e_enum.__members__[name]
            assert (repr(mine), str(mine), mine.name, mine.value, int(mine)) == (
                repr(member), str(member), member.name, member.value, int(member))


# ---- linear_cross_entropy(options=...) --------------------------------------------------

def _lce_inputs(lib, dtype: str, n: int = 37, d: int = 8, c: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal((n, d)).astype(dtype), requires_grad=True)
    w = lib.tensor(rng.standard_normal((c, d)).astype(dtype), requires_grad=True)
    b = lib.tensor(rng.standard_normal(c).astype(dtype), requires_grad=True)
    target = rng.integers(0, c, n)
    target[3] = -100
    target[5] = 7
    class_weight = lib.tensor(rng.random(c).astype(dtype))
    cotangent = lib.tensor(rng.standard_normal(n).astype(dtype))
    return x, w, b, lib.tensor(target), class_weight, cotangent


OPTIONS = {
    "default": {},
    "chunks_of_5": {"batch_chunk_size": 5, "chunking_method": None},
    "size_with_auto": {"batch_chunk_size": 4},
    "aspect_ratio": {"chunking_method": "aspect_ratio"},
    "aspect_ratio_4": {"chunking_method": "aspect_ratio:4", "allow_retain_graph": True},
    "policy": {"acc_policy": "accurate"},
}


@pytest.mark.parametrize(("reduction", "extras"), [
    (reduction, extras) for reduction in ("mean", "sum", "none")
    for extras in ("bias_weight", "plain", "unbatched")
    # an unbatched per-sample loss is 0-d, and the cotangent below is per row
    if (reduction, extras) != ("none", "unbatched")])
@pytest.mark.parametrize("options", sorted(OPTIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_cross_entropy_options_match_torch(reduction: str, options: str, extras: str,
                                                  dtype: str) -> None:

    def loss(lib):
        x, w, b, target, class_weight, cotangent = _lce_inputs(lib, dtype)
        kwargs = {"reduction": reduction,
                  "options": lib.nn.LinearCrossEntropyOptions(**OPTIONS[options])}
        if extras == "bias_weight":
            kwargs.update(linear_bias=b, weight=class_weight)
        inp, tgt = (x[2], target[2]) if extras == "unbatched" else (x, target)
        out = lib.nn.functional.linear_cross_entropy(inp, w, tgt, **kwargs)
        out.backward(cotangent if out.dim() else cotangent[0])
        return out, x.grad, w.grad, b.grad
    with recording_compared("torch.nn.LinearCrossEntropyOptions") as run:
        t_out, *t_grads = run(torch, loss)
        e_out, *e_grads = run(ember, loss)
        assert_same(e_out, t_out)
        assert e_out.grad_fn.name() == t_out.grad_fn.name()
        for e, t in zip(e_grads, t_grads):
            assert (e is None) == (t is None)
            if t is not None:
                assert_same(e, t, what="gradient")


def _chunked_mean(lib, **options):
    x, w, b, target, class_weight, _ = _lce_inputs(lib, "float32")
    out = lib.nn.functional.linear_cross_entropy(
        x, w, target, options=lib.nn.LinearCrossEntropyOptions(**options))
    return out, x


def test_second_backward_refused_unless_allowed() -> None:
    t, _ = _chunked_mean(torch)
    e, _ = _chunked_mean(ember)
    t.backward(retain_graph=True)
    e.backward(retain_graph=True)
    with pytest.raises(RuntimeError) as info:
        t.backward()
    assert_raises_like(info.value, lambda: e.backward())
    t, tx = _chunked_mean(torch, allow_retain_graph=True)
    e, ex = _chunked_mean(ember, allow_retain_graph=True)
    for out in (t, e):
        out.backward(retain_graph=True)
        out.backward()
    assert_same(ex.grad, tx.grad)


@pytest.mark.parametrize("options", [{"acc_policy": "fast"}, {"chunking_method": "rows"},
                                     {"chunking_method": "aspect_ratio:0"},
                                     {"batch_chunk_size": 0}, {"batch_chunk_size": 2.0},
                                     {"acc_dtype": "int32"}])
def test_options_validation(options: dict) -> None:
    def build(lib):
        given = dict(options)
        if given.get("acc_dtype") == "int32":
            given["acc_dtype"] = lib.int32
        return lib.nn.LinearCrossEntropyOptions(**given)
    with pytest.raises(Exception) as info:
        build(torch)
    assert_raises_like(info.value, lambda: build(ember))


def test_options_repr_and_call_time_errors() -> None:
    assert repr(ember.nn.LinearCrossEntropyOptions(batch_chunk_size=3)) == repr(
        torch.nn.LinearCrossEntropyOptions(batch_chunk_size=3))
    for options in ({"batch_chunk_size": 3, "chunking_method": "aspect_ratio"},
                    {"acc_dtype": "float64"}):
        def call(lib, options=options):
            given = dict(options)
            if "acc_dtype" in given:
                given["acc_dtype"] = lib.float64
            return _chunked_mean(lib, **given)
        with pytest.raises(Exception) as info:
            call(torch)
        assert_raises_like(info.value, lambda call=call: call(ember))


def test_unsupported_options_warn_and_take_the_reference_path() -> None:
    def loss(lib):
        x, w, b, target, _, _ = _lce_inputs(lib, "float32")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lib.nn.functional.linear_cross_entropy(
                x, w, target, label_smoothing=0.1, linear_bias=b,
                options=lib.nn.LinearCrossEntropyOptions())
        return out, [str(w.message) for w in caught]
    (t, t_messages), (e, e_messages) = loss(torch), loss(ember)
    assert e_messages == t_messages
    assert_same(e, t)
    assert e.grad_fn.name() == t.grad_fn.name()


def test_linear_cross_entropy_loss_module_with_options() -> None:
    def loss(lib):
        lib.manual_seed(0)
        module = lib.nn.LinearCrossEntropyLoss(
            8, 50, bias=True, options=lib.nn.LinearCrossEntropyOptions(batch_chunk_size=4))
        rng = np.random.default_rng(3)
        x = lib.tensor(rng.standard_normal((9, 8)).astype(np.float32))
        target = lib.tensor(rng.integers(0, 50, 9))
        with lib.no_grad():
            module.linear.weight.copy_(lib.tensor(rng.standard_normal((50, 8))
                                                  .astype(np.float32)))
        out = module(x, target)
        out.backward()
        return repr(module), out, module.linear.weight.grad
    t_repr, t_out, t_grad = loss(torch)
    e_repr, e_out, e_grad = loss(ember)
    assert e_repr == t_repr
    assert_same(e_out, t_out)
    assert_same(e_grad, t_grad)


def test_chunks_hold_one_chunk_of_logits() -> None:
    # the memory benefit: with 4-row chunks no (N, C) array is ever made
    from ember.nn._functional import loss as functional_loss

    seen = []
    original = functional_loss._chunk_pass

    def spy(x, w, b, target, class_weight, ignore_index, rows, acc, scale=None):
        seen.append(rows)
        return original(x, w, b, target, class_weight, ignore_index, rows, acc, scale)
    functional_loss._chunk_pass = spy
    try:
        out, _ = _chunked_mean(ember, batch_chunk_size=4)
    finally:
        functional_loss._chunk_pass = original
    assert seen == [4]
    assert out.dim() == 0
