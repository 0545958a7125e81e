"""LazyBatchNorm1d/2d/3d, LazyInstanceNorm1d/2d/3d and CrossMapLRN2d against torch: reprs
before and after the first call, the class they become, state-dict keys, values, running
statistics, gradients, loading into an uninitialized module, and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, torch

LAZY = [
    ("LazyBatchNorm1d", (4, 3)),
    ("LazyBatchNorm1d", (4, 3, 5)),
    ("LazyBatchNorm2d", (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (2, 3, 2, 3, 3)),
    ("LazyInstanceNorm1d", (2, 3, 5)),
    ("LazyInstanceNorm2d", (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (2, 3, 2, 3, 3)),
]
OPTIONS = [{}, {"affine": False}, {"track_running_stats": False}, {"bias": False},
           {"affine": False, "track_running_stats": False}, {"momentum": None, "eps": 1e-3}]


def assert_same_state(t, e) -> None:
    assert repr(e) == repr(t)
    assert type(e).__name__ == type(t).__name__
    t_sd, e_sd = t.state_dict(), e.state_dict()
    assert list(e_sd) == list(t_sd)
    for key, tv in t_sd.items():
        if isinstance(tv, torch.nn.parameter.UninitializedTensorMixin):
            assert isinstance(e_sd[key], ember.nn.parameter.UninitializedTensorMixin), key
        else:
            assert_same(e_sd[key], tv, what=key)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]


def run_step(t, e, shape, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    t_out, e_out = t(tx), e(ex)
    assert_same(e_out, t_out, what="output")
    assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    cotangent = torch.tensor(rng.standard_normal(shape).astype(np.float32))
    t_out.backward(cotangent)
    e_out.backward(ember.tensor(cotangent.numpy()))
    assert_same(ex.grad, tx.grad, what="input grad")
    e_params = dict(e.named_parameters())
    for name, tp in t.named_parameters():
        assert_same(e_params[name].grad, tp.grad, what=name + ".grad")


# torch warns that an instance norm without affine ignores num_features (0 here, as the
# lazy module never materialises anything in that case); ember warns the same
@pytest.mark.filterwarnings("ignore:input's size at dim")
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("case", LAZY, ids=lambda c: f"{c[0]}-{len(c[1])}d")
def test_lazy_norm_initializes_like_torch(case, options):
    name, shape = case
    t, e = getattr(torch.nn, name)(**options), getattr(ember.nn, name)(**options)
    assert_same_state(t, e)
    assert e.has_uninitialized_params() == t.has_uninitialized_params()
    run_step(t, e, shape, seed=0)
    assert_same_state(t, e)
    run_step(t, e, shape, seed=1)
    assert_same_state(t, e)
    t.eval()
    e.eval()
    run_step(t, e, shape, seed=2)
    assert_same_state(t, e)


@pytest.mark.parametrize("name", ["LazyBatchNorm2d", "LazyInstanceNorm2d"])
def test_lazy_norm_load_state_dict_materializes(name):
    source = getattr(torch.nn, name.replace("Lazy", ""))(5, affine=True,
                                                         track_running_stats=True)
    with torch.no_grad():
        source.weight.uniform_()
        source.running_mean.uniform_()
    t, e = getattr(torch.nn, name)(), getattr(ember.nn, name)()
    t.load_state_dict(source.state_dict())
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in source.state_dict().items()})
    # loading fixes the shapes but keeps the lazy class (and num_features 0), as torch
    assert_same_state(t, e)
    if "Instance" in name:
        # torch's instance norm then compares the input with num_features, still 0
        check_raises_like(lambda lib: (t if lib is torch else e)(lib.zeros(2, 5, 3, 3)))
        return
    run_step(t, e, (2, 5, 3, 3), seed=3)
    assert_same_state(t, e)


def test_lazy_norm_errors_and_quirks():
    check_raises_like(lambda lib: lib.nn.LazyBatchNorm1d()(lib.zeros(2, 3, 4, 5)))
    check_raises_like(lambda lib: lib.nn.LazyBatchNorm2d()(lib.zeros(2, 3, 4)))
    check_raises_like(lambda lib: lib.nn.LazyInstanceNorm3d()(lib.zeros(2, 3)))
    # like torch, num_features comes from dim 1 even for an input without a batch dim
    check_raises_like(lambda lib: lib.nn.LazyInstanceNorm1d()(lib.zeros(3, 4)))
    assert isinstance(ember.nn.LazyBatchNorm1d().weight, ember.nn.UninitializedParameter)
    assert isinstance(ember.nn.LazyBatchNorm1d().running_mean, ember.nn.UninitializedBuffer)


def test_lazy_norm_dtype():
    t = torch.nn.LazyBatchNorm1d(dtype=torch.float64)
    e = ember.nn.LazyBatchNorm1d(dtype=ember.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert_same(e(ember.tensor(x)), t(torch.tensor(x)))
    assert_same_state(t, e)


# ---- CrossMapLRN2d -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("channels", [1, 3, 7])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_map_lrn2d(size, channels, dtype):
    rng = np.random.default_rng(size * 10 + channels)
    x = rng.standard_normal((2, channels, 3, 4)).astype(dtype)
    args = (size, 0.4, 0.65, 1.5)
    t, e = torch.nn.CrossMapLRN2d(*args), ember.nn.CrossMapLRN2d(*args)
    assert repr(e) == repr(t)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    t_out, e_out = t(tx), e(ex)
    assert_same(e_out, t_out)
    assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__ == \
        "CrossMapLRN2dBackward"
    cotangent = rng.standard_normal(x.shape).astype(dtype)
    t_out.backward(torch.tensor(cotangent))
    e_out.backward(ember.tensor(cotangent))
    # torch's backward is its legacy hand-written formula, not the exact derivative of its
    # forward; ember reproduces it, so the comparison is with torch, not finite differences
    assert_same(ex.grad, tx.grad)


def test_cross_map_lrn2d_defaults_and_errors():
    assert repr(ember.nn.CrossMapLRN2d(3)) == repr(torch.nn.CrossMapLRN2d(3))
    check_raises_like(lambda lib: lib.nn.CrossMapLRN2d(3)(lib.zeros(2, 3, 4)))
    x = np.random.default_rng(0).standard_normal((1, 4, 2, 2))
    # neither library differentiates it twice (torch's and ember's messages differ)
    for lib in (torch, ember):
        xt = lib.tensor(x, requires_grad=True)
        out = lib.nn.CrossMapLRN2d(3)(xt).sum()
        with pytest.raises(RuntimeError):
            (grad,) = lib.autograd.grad(out, xt, create_graph=True)
            lib.autograd.grad(grad.sum(), xt)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(2, 6), channels=st.integers(1, 6), beta=st.floats(0.1, 1.0),
       seed=st.integers(0, 1000))
def test_cross_map_lrn2d_hypothesis(size, channels, beta, seed):
    x = np.random.default_rng(seed).standard_normal((1, channels, 2, 3)).astype(np.float32)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    t_out = torch.nn.CrossMapLRN2d(size, beta=beta)(tx)
    e_out = ember.nn.CrossMapLRN2d(size, beta=beta)(ex)
    assert_same(e_out, t_out)
    t_out.sum().backward()
    e_out.sum().backward()
    assert_same(ex.grad, tx.grad)
