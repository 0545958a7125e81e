"""ember.nn's dropout family against torch: after the same seed the masks (and so values and
gradients) are torch's bit for bit, for every dtype, layout, p, mode and in-place form;
warnings, errors and module reprs are torch's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, torch


def _f(lib):
    return lib.nn.functional


CASES = [
    ("dropout", lambda F, x, p: F.dropout(x, p)),
    ("dropout_transposed", lambda F, x, p: F.dropout(x.transpose(0, 2), p)),
    ("dropout_strided", lambda F, x, p: F.dropout(x[:, ::2].transpose(1, 2), p)),
    ("dropout_expanded", lambda F, x, p: F.dropout(x[:1].expand(3, 5, 6), p)),
    ("alpha_dropout", lambda F, x, p: F.alpha_dropout(x, p, True)),
    ("alpha_dropout_transposed", lambda F, x, p: F.alpha_dropout(x.transpose(0, 1), p, True)),
    ("feature_alpha_dropout", lambda F, x, p: F.feature_alpha_dropout(x, p, True)),
    ("dropout1d", lambda F, x, p: F.dropout1d(x, p)),
    ("dropout1d_unbatched", lambda F, x, p: F.dropout1d(x[0], p)),
    ("dropout2d", lambda F, x, p: F.dropout2d(x.unsqueeze(0), p)),
    ("dropout2d_3d", lambda F, x, p: F.dropout2d(x, p)),
    ("dropout3d", lambda F, x, p: F.dropout3d(x.unsqueeze(0), p)),
    ("dropout3d_batched", lambda F, x, p: F.dropout3d(x[None, None], p)),
    ("eval", lambda F, x, p: F.dropout(x, p, False)),
    ("alpha_eval", lambda F, x, p: F.alpha_dropout(x, p)),
    ("inplace", lambda F, x, p: F.dropout(x * 1, p, inplace=True)),
    ("alpha_inplace", lambda F, x, p: F.alpha_dropout(x * 1, p, True, inplace=True)),
    ("feature_alpha_inplace", lambda F, x, p: F.feature_alpha_dropout(x * 1, p, True, True)),
    ("dropout2d_inplace", lambda F, x, p: F.dropout2d(x * 1, p, inplace=True)),
    ("dropout1d_inplace", lambda F, x, p: F.dropout1d(x[0] * 1, p, inplace=True)),
    ("dropout3d_inplace", lambda F, x, p: F.dropout3d(x * 1, p, inplace=True)),
    ("empty", lambda F, x, p: F.dropout(x[:0], p)),
    ("zero_dim", lambda F, x, p: F.dropout(x[0, 0, 0], p)),
]


def _compare(fn, dtype: str, p: float, seed: int, shape=(4, 5, 6)) -> None:
    arr = np.random.default_rng(seed).standard_normal(shape)
    t_x = torch.tensor(arr).to(getattr(torch, dtype)).requires_grad_()
    e_x = ember.tensor(arr).to(getattr(ember, dtype)).requires_grad_()
    torch.manual_seed(seed)
    ember.manual_seed(seed)
    with warnings.catch_warnings(record=True) as t_warn:
        warnings.simplefilter("always")
        t_y = fn(_f(torch), t_x, p)
    with warnings.catch_warnings(record=True) as e_warn:
        warnings.simplefilter("always")
        e_y = fn(_f(ember), e_x, p)
    assert [str(w.message) for w in e_warn] == [str(w.message) for w in t_warn]
    assert_same(e_y, t_y, rtol=0, atol=0)  # bit for bit: the same mask
    assert (t_y is t_x) == (e_y is e_x)
    assert e_y.requires_grad == t_y.requires_grad
    if t_y.grad_fn is not None:
        assert e_y.grad_fn.name() == t_y.grad_fn.name()
    assert torch.rand(4).tolist() == ember.rand(4).tolist()  # the generators moved alike
    if t_y.requires_grad and t_y.numel():
        cot = np.random.default_rng(seed + 1).standard_normal(tuple(t_y.shape))
        t_y.backward(torch.tensor(cot).to(t_y.dtype))
        e_y.backward(ember.tensor(cot).to(e_y.dtype))
        assert_same(e_x.grad, t_x.grad, rtol=0, atol=0)


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_same_masks_as_torch(name, fn, dtype):
    _compare(fn, dtype, 0.3, seed=7)


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_p_zero_and_one(name, fn, p):
    _compare(fn, "float32", p, seed=3)


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(CASES[:13]), p=st.floats(0.0, 1.0), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from(["float32", "float64"]))
def test_hypothesis_masks(case, p, seed, dtype):
    _compare(case[1], dtype, p, seed)


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4), seed=st.integers(0, 999))
def test_hypothesis_shapes(shape, seed):
    _compare(lambda F, x, p: F.dropout(x, p), "float32", 0.4, seed, tuple(shape))


@pytest.mark.parametrize("fn", [
    lambda lib: _f(lib).dropout(lib.ones(3), 1.5),
    lambda lib: _f(lib).dropout(lib.ones(3), -0.1),
    lambda lib: _f(lib).alpha_dropout(lib.ones(3), 2.0),
    lambda lib: _f(lib).dropout2d(lib.ones(3, 3, 3), -1.0),
    lambda lib: _f(lib).dropout1d(lib.ones(3), 0.5),
    lambda lib: _f(lib).dropout1d(lib.ones(2, 3, 4, 5), 0.5),
    lambda lib: _f(lib).feature_alpha_dropout(lib.ones(4), 0.5, True),
    lambda lib: _f(lib).dropout(lib.ones(3, dtype=lib.long), 0.5),
    lambda lib: _f(lib).dropout(lib.ones(3, dtype=lib.bool), 0.5),
    lambda lib: _f(lib).alpha_dropout(lib.ones(3, dtype=lib.int32), 0.5, True),
    lambda lib: _f(lib).dropout(lib.ones(3, requires_grad=True), 0.5, inplace=True),
    lambda lib: lib.nn.Dropout(1.2),
    lambda lib: lib.nn.AlphaDropout(-0.2),
])
def test_errors(fn):
    check_raises_like(fn)


def test_integer_inputs_torch_accepts():
    for p in (0.0, 1.0):
        t_y = _f(torch).dropout(torch.ones(3, dtype=torch.long), p)
        e_y = _f(ember).dropout(ember.ones(3, dtype=ember.long), p)
        assert_same(e_y, t_y)


MODULES = [
    ("Dropout", (), {}), ("Dropout", (0.2, True), {}), ("Dropout1d", (0.3,), {}),
    ("Dropout2d", (), {"inplace": True}), ("Dropout3d", (0.1,), {}), ("AlphaDropout", (0.2,), {}),
    ("FeatureAlphaDropout", (0.4,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_modules(name, args, kwargs):
    t_m = getattr(torch.nn, name)(*args, **kwargs)
    e_m = getattr(ember.nn, name)(*args, **kwargs)
    assert repr(e_m) == repr(t_m)
    shape = (2, 3, 4) if name == "Dropout1d" else (2, 3, 4, 5)
    arr = np.random.default_rng(0).standard_normal(shape)
    for train in (True, False):
        t_m.train(train)
        e_m.train(train)
        torch.manual_seed(1)
        ember.manual_seed(1)
        t_y = t_m(torch.tensor(arr, dtype=torch.float32))
        e_y = e_m(ember.tensor(arr, dtype=ember.float32))
        assert_same(e_y, t_y, rtol=0, atol=0)
