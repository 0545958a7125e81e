"""ember.nn.utils.parametrize, .parametrizations, the hook-based weight_norm/spectral_norm and
.fusion against torch: values, gradients, state-dict keys and order, reprs, errors, and the
random u/v draws of spectral norm after the same seed."""
import copy
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, torch


def both(build, seed: int = 0):
    """``build(lib)`` run for torch and for ember after the same ``manual_seed``."""
    torch.manual_seed(seed)
    t = build(torch)
    ember.manual_seed(seed)
    e = build(ember)
    return t, e


def assert_same_module(t, e) -> None:
    """Same repr, same state-dict keys in the same order with the same values, same
    parameter names in the same order."""
    assert repr(e) == repr(t)
    t_sd, e_sd = t.state_dict(), e.state_dict()
    assert list(e_sd) == list(t_sd)
    for key in t_sd:
        assert_same(e_sd[key], t_sd[key], what=key)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]


def assert_same_step(t, e, shape, *, seed: int = 1, rtol=None, atol=None) -> None:
    """Forward on the same input, backward of a random cotangent: output, node name, and
    the gradient of every parameter agree."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    t_out, e_out = t(torch.tensor(x)), e(ember.tensor(x))
    assert_same(e_out, t_out, rtol=rtol, atol=atol, what="output")
    cotangent = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    t_out.backward(torch.tensor(cotangent))
    e_out.backward(ember.tensor(cotangent))
    t_params, e_params = dict(t.named_parameters()), dict(e.named_parameters())
    for name, tp in t_params.items():
        if tp.grad is None:
            assert e_params[name].grad is None, name
        else:
            assert_same(e_params[name].grad, tp.grad, rtol=rtol, atol=atol, what=name + ".grad")


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def _skew(lib):
    class Skew(lib.nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.mT

    return Skew()


def _matrix_exp(lib):
    class MatrixExp(lib.nn.Module):
        def forward(self, X):
            return lib.matrix_exp(X)

    return MatrixExp()


def _split(lib):
    class Split(lib.nn.Module):
        def forward(self, a, b):
            return a + b

        def right_inverse(self, X):
            return X * 0.25, X * 0.75

    return Split()


def _scale(lib):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * 2.0

    return Scale()


# ---- parametrize -------------------------------------------------------------------------


def test_register_parametrization_layout_and_values():
    def build(lib):
        m = lib.nn.Linear(4, 4)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return m

    t, e = both(build)
    assert type(e).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert type(e).__bases__ == (ember.nn.Linear,)
    assert isinstance(e.parametrizations, ember.nn.ModuleDict)
    assert type(e.parametrizations.weight).__name__ == "ParametrizationList"
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    assert_same_step(t, e, (3, 4))


def test_original_keeps_identity_and_right_inverse_on_register():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        w = m.weight
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return m, w

    (t, tw), (e, ew) = both(build)
    assert e.parametrizations.weight.original is ew
    assert t.parametrizations.weight.original is tw
    # right_inverse (triu) ran on the original at registration
    assert_same(e.parametrizations.weight.original, t.parametrizations.weight.original)


def test_chained_parametrizations_and_assignment():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _skew(lib))
        P.register_parametrization(m, "weight", _matrix_exp(lib))
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)
    assert_same_step(t, e, (2, 3))

    # assigning needs every right_inverse: Skew has none
    def assign(lib):
        m = build(lib)
        m.weight = lib.eye(3)

    check_raises_like(assign)


def test_assignment_runs_right_inverse():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        m.weight = lib.arange(9.0).reshape(3, 3)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)


def test_tuple_right_inverse_gives_original0_original1():
    def build(lib):
        m = lib.nn.Linear(3, 2)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _split(lib))
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert isinstance(e.parametrizations.weight.original0, ember.nn.Parameter)
    assert_same_step(t, e, (4, 3))

    def build_assign(lib):
        m = build(lib)
        m.weight = lib.ones(2, 3)
        return m

    t, e = both(build_assign)
    assert_same_module(t, e)


def test_buffer_parametrization():
    def build(lib):
        m = lib.nn.BatchNorm1d(3)
        lib.nn.utils.parametrize.register_parametrization(m, "running_var", _scale(lib),
                                                          unsafe=True)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.running_var, t.running_var)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave):
    def build(lib):
        m = lib.nn.Linear(3, 3)
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _symmetric(lib))
        P.register_parametrization(m, "bias", _scale(lib))
        P.remove_parametrizations(m, "weight", leave_parametrized=leave)
        return m

    t, e = both(build)
    assert type(e).__name__ == "ParametrizedLinear"
    assert_same_module(t, e)

    def remove_all(lib):
        m = build(lib)
        lib.nn.utils.parametrize.remove_parametrizations(m, "bias", leave_parametrized=leave)
        return m

    t, e = both(remove_all)
    assert type(e) is ember.nn.Linear
    assert not hasattr(e, "parametrizations")
    assert isinstance(e.weight, ember.nn.Parameter)
    assert_same_module(t, e)
    assert_same_step(t, e, (2, 3))


def test_remove_sequence_parametrization():
    def build(lib):
        m = lib.nn.Linear(3, 2)
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _split(lib))
        P.remove_parametrizations(m, "weight")
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert type(e.weight) is type(e.bias)

    def keep_original(lib):
        m = lib.nn.Linear(3, 2)
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _split(lib))
        P.remove_parametrizations(m, "weight", leave_parametrized=False)

    check_raises_like(keep_original)


def test_cached():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return m

    for lib in (torch, ember):
        m = build(lib)
        with lib.nn.utils.parametrize.cached():
            first = m.weight
            assert m.weight is first
            with lib.nn.utils.parametrize.cached():
                assert m.weight is first
            assert m.weight is first
        assert m.weight is not first


def test_is_parametrized_type_before_and_transfer():
    P = ember.nn.utils.parametrize
    m = ember.nn.Linear(3, 3)
    assert not P.is_parametrized(m)
    assert P.type_before_parametrizations(m) is ember.nn.Linear
    P.register_parametrization(m, "weight", _symmetric(ember))
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert P.type_before_parametrizations(m) is ember.nn.Linear

    def build(lib):
        src = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(src, "weight", _symmetric(lib))
        dst = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.transfer_parametrizations_and_params(src, dst)
        return src, dst

    (ts, td), (es, ed) = both(build)
    assert_same_module(td, ed)
    assert ed.parametrizations.weight.original is es.parametrizations.weight.original


def test_deepcopy_and_pickle():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return m

    t, e = both(build)
    e2 = copy.deepcopy(e)
    assert type(e2).__name__ == "ParametrizedLinear"
    assert_same_module(t, e2)
    with pytest.raises(RuntimeError) as t_info:
        pickle.dumps(t)
    with pytest.raises(RuntimeError) as e_info:
        pickle.dumps(e)
    assert str(e_info.value) == str(t_info.value)


def test_load_state_dict_round_trip():
    def build(lib):
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return m

    t, e = both(build)
    sd = {k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()}
    ember.manual_seed(5)
    e2 = build(ember)
    e2.load_state_dict(sd)
    assert_same_module(t, e2)


def test_parametrize_errors():
    class Bad(torch.nn.Module):
        pass

    def no_such_tensor(lib):
        lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "foo",
                                                          _scale(lib))

    def changes_shape(lib):
        class Flat(lib.nn.Module):
            def forward(self, X):
                return X.flatten()

        lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "weight",
                                                          Flat())

    def changes_dtype(lib):
        class Double(lib.nn.Module):
            def forward(self, X):
                return X.double()

        lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "weight",
                                                          Double())

    def chained_changes_shape(lib):
        class Flat(lib.nn.Module):
            def forward(self, X):
                return X.flatten()

        m = lib.nn.Linear(2, 2)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _scale(lib))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Flat())

    def not_a_tensor(lib):
        class Number(lib.nn.Module):
            def forward(self, X):
                return 3

        lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(2, 2), "weight",
                                                          Number())

    def remove_missing(lib):
        lib.nn.utils.parametrize.remove_parametrizations(lib.nn.Linear(2, 2), "weight")

    def empty_list(lib):
        lib.nn.utils.parametrize.ParametrizationList([], lib.zeros(2))

    for fn in (no_such_tensor, changes_shape, changes_dtype, chained_changes_shape,
               not_a_tensor, remove_missing, empty_list):
        check_raises_like(fn)


# ---- parametrizations --------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, None, -1, -2])
def test_weight_norm_parametrization(dim):
    def build(lib):
        m = lib.nn.Linear(4, 3)
        lib.nn.utils.parametrizations.weight_norm(m, dim=dim)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    assert_same_step(t, e, (2, 4))


def test_weight_norm_conv_dim_and_old_state_dict():
    def build(lib):
        m = lib.nn.Conv2d(2, 3, 3)
        lib.nn.utils.parametrizations.weight_norm(m, dim=2)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same_step(t, e, (1, 2, 5, 5))

    # a checkpoint of the older hook-based weight_norm (weight_g/weight_v) loads
    def build_old(lib):
        m = lib.nn.Linear(4, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lib.nn.utils.weight_norm(m)
        return m

    t_old, _ = both(build_old)
    sd = {k: ember.tensor(v.numpy()) for k, v in t_old.state_dict().items()}
    e_new = ember.nn.Linear(4, 3)
    ember.nn.utils.parametrizations.weight_norm(e_new)
    e_new.load_state_dict(sd)
    t_new = torch.nn.Linear(4, 3)
    torch.nn.utils.parametrizations.weight_norm(t_new)
    t_new.load_state_dict(t_old.state_dict())
    assert_same_module(t_new, e_new)


@pytest.mark.parametrize("dim", [2, -3])
@pytest.mark.parametrize("hooked", [False, True])
def test_weight_norm_dim_out_of_range(dim, hooked):
    def build(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if hooked:
                lib.nn.utils.weight_norm(lib.nn.Linear(4, 3), dim=dim)
            else:
                lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(4, 3), dim=dim)

    check_raises_like(build)


def test_weight_norm_gradcheck():
    from ember._ops.nn_parametrize import weight_norm as op
    rng = np.random.default_rng(0)
    for dim, g_shape in ((0, (4, 1, 1)), (2, (1, 1, 2)), (1, (1, 3, 1))):
        v = ember.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
        g = ember.tensor(rng.standard_normal(g_shape), requires_grad=True)
        assert ember.autograd.gradcheck(lambda v, g, d=dim: op(v, g, d), (v, g))
        # torch's own WeightNormInterfaceBackward0 fails its gradgradcheck (a torch bug),
        # so ember's second derivatives are checked against finite differences only
        assert ember.autograd.gradgradcheck(lambda v, g, d=dim: op(v, g, d), (v, g))


@pytest.mark.parametrize("case", [
    ("Linear", (4, 3), (2, 4), {}),
    ("Conv2d", (2, 3, 3), (1, 2, 5, 5), {}),
    ("ConvTranspose2d", (2, 3, 3), (1, 2, 4, 4), {}),
    ("Linear", (5, 4), (2, 5), {"n_power_iterations": 3, "eps": 1e-6}),
    ("Conv1d", (3, 4, 2), (2, 3, 6), {"dim": 1}),
])
def test_spectral_norm_parametrization(case):
    cls, args, x_shape, kwargs = case

    def build(lib):
        m = getattr(lib.nn, cls)(*args)
        lib.nn.utils.parametrizations.spectral_norm(m, **kwargs)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    # training: each forward runs the power iteration and moves u and v
    for step in range(2):
        assert_same_step(t, e, x_shape, seed=step)
        assert_same_module(t, e)
    t.eval()
    e.eval()
    assert_same_step(t, e, x_shape, seed=3)
    assert_same_module(t, e)


def test_spectral_norm_1d_and_errors():
    def build(lib):
        m = lib.nn.BatchNorm1d(4)
        m.weight.data.uniform_()
        lib.nn.utils.parametrizations.spectral_norm(m)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)

    check_raises_like(lambda lib: lib.nn.utils.parametrizations.spectral_norm(
        lib.nn.Linear(2, 2), dim=2))
    check_raises_like(lambda lib: lib.nn.utils.parametrizations.spectral_norm(
        lib.nn.Linear(2, 2), n_power_iterations=0))
    check_raises_like(lambda lib: lib.nn.utils.parametrizations.spectral_norm(
        lib.nn.Linear(2, 2), name="foo"))


@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_orthogonal(orthogonal_map, shape):
    def build(lib):
        m = lib.nn.Linear(shape[1], shape[0])
        lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    q = e.weight.detach()
    gram = q @ q.mT if shape[0] <= shape[1] else q.mT @ q
    np.testing.assert_allclose(gram.numpy(), np.eye(min(shape)), atol=1e-5)
    assert_same_step(t, e, (2, shape[1]))

    def assign(lib):
        m = build(lib)
        tall = lib.tensor(np.random.default_rng(0).standard_normal(
            (max(shape), min(shape))).astype(np.float32))
        q = lib.linalg.qr(tall).Q
        m.weight = q if shape[0] >= shape[1] else q.mT
        return m

    def assign_not_orthogonal(lib):
        m = build(lib)
        m.weight = lib.tensor(np.random.default_rng(1).standard_normal(shape).astype(
            np.float32))
        return m

    for fn in (assign, assign_not_orthogonal):
        t, e = both(fn)
        assert_same_module(t, e)
        assert_same(e.weight, t.weight)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_without_trivialization(orthogonal_map):
    def build(lib):
        m = lib.nn.Linear(3, 4)
        lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map,
                                                 use_trivialization=False)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.weight, t.weight)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    assert_same_step(t, e, (2, 3))


def test_orthogonal_batched_and_errors():
    def build(lib):
        m = lib.nn.Module()
        m.register_parameter("w", lib.nn.Parameter(lib.randn(2, 3, 3)))
        lib.nn.utils.parametrizations.orthogonal(m, "w")
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.w, t.w)

    check_raises_like(lambda lib: lib.nn.utils.parametrizations.orthogonal(
        lib.nn.Linear(3, 3), orthogonal_map="qr"))
    check_raises_like(lambda lib: lib.nn.utils.parametrizations.orthogonal(
        lib.nn.BatchNorm1d(3)))

    def assign_wrong_shape(lib):
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrizations.orthogonal(m)
        m.weight = lib.eye(2)

    check_raises_like(assign_wrong_shape)


# ---- hook-based weight_norm / spectral_norm ----------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_old_weight_norm(dim):
    def build(lib):
        m = lib.nn.Linear(4, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.utils.weight_norm(m, dim=dim)
        return m, [(w.category, str(w.message)) for w in caught]

    (t, t_warn), (e, e_warn) = both(build)
    assert e_warn == t_warn
    assert_same_module(t, e)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    assert_same_step(t, e, (2, 4))

    def removed(lib):
        m, _ = build(lib)
        lib.nn.utils.remove_weight_norm(m)
        return m

    t, e = both(removed)
    assert_same_module(t, e)
    assert not e._forward_pre_hooks
    check_raises_like(lambda lib: lib.nn.utils.remove_weight_norm(lib.nn.Linear(2, 2)))

    def twice(lib):
        m, _ = build(lib)
        lib.nn.utils.weight_norm(m, dim=dim)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        check_raises_like(twice)


@pytest.mark.parametrize("case", [
    ("Linear", (4, 3), (2, 4), {}),
    ("Conv2d", (2, 3, 3), (1, 2, 5, 5), {"n_power_iterations": 2}),
    ("ConvTranspose1d", (2, 3, 3), (1, 2, 4), {}),
])
def test_old_spectral_norm(case):
    cls, args, x_shape, kwargs = case

    def build(lib):
        m = getattr(lib.nn, cls)(*args)
        lib.nn.utils.spectral_norm(m, **kwargs)
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert t.state_dict()._metadata[""] == e.state_dict()._metadata[""]
    for step in range(2):
        assert_same_step(t, e, x_shape, seed=step)
        assert_same_module(t, e)
    t.eval()
    e.eval()
    assert_same_step(t, e, x_shape, seed=4)

    def removed(lib):
        m = build(lib)
        lib.nn.utils.remove_spectral_norm(m)
        return m

    t, e = both(removed)
    assert_same_module(t, e)
    check_raises_like(lambda lib: lib.nn.utils.remove_spectral_norm(lib.nn.Linear(2, 2)))
    check_raises_like(lambda lib: lib.nn.utils.spectral_norm(build(lib)))


def test_old_spectral_norm_upgrades_version_0_checkpoint():
    # a checkpoint from before version 1 (the normalized weight saved, no weight_v) gets the
    # weight_v that reproduces its sigma; solving for it needs W of full column rank
    def build(lib):
        m = lib.nn.Linear(3, 5)
        lib.nn.utils.spectral_norm(m)
        return m

    t, e = both(build)
    t(torch.ones(2, 3))
    sd = t.state_dict()
    sd._metadata[""].pop("spectral_norm")
    sd["weight"] = t.weight.detach()
    del sd["weight_v"]
    t2, e2 = both(build, seed=9)
    t2.load_state_dict(sd)
    e_sd = type(sd)({k: ember.tensor(v.numpy()) for k, v in sd.items()})
    e_sd._metadata = copy.deepcopy(sd._metadata)
    e2.load_state_dict(e_sd)
    assert_same_module(t2, e2)


# ---- fusion ------------------------------------------------------------------------------


def _trained_bn(lib, cls, n):
    bn = getattr(lib.nn, cls)(n)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    return bn.eval()


@pytest.mark.parametrize("case", [
    ("Conv2d", (2, 3, 3), "BatchNorm2d", False, (1, 2, 5, 5)),
    ("Conv1d", (2, 4, 2), "BatchNorm1d", False, (2, 2, 6)),
    ("ConvTranspose2d", (2, 3, 3), "BatchNorm2d", True, (1, 2, 4, 4)),
])
def test_fuse_conv_bn(case):
    conv_cls, args, bn_cls, transpose, x_shape = case

    def build(lib):
        conv = getattr(lib.nn, conv_cls)(*args).eval()
        bn = _trained_bn(lib, bn_cls, args[1])
        fused = lib.nn.utils.fusion.fuse_conv_bn_eval(conv, bn, transpose=transpose)
        return fused, lib.nn.Sequential(conv, bn)

    (t, t_ref), (e, e_ref) = both(build)
    assert_same_module(t, e)
    assert isinstance(e.weight, ember.nn.Parameter)
    assert_same_step(t, e, x_shape)
    x = ember.randn(*x_shape)
    assert_same(e(x), torch.tensor(e_ref(x).detach().numpy()), atol=1e-5, rtol=1e-4)


def test_fuse_linear_bn_and_weights_functions():
    def build(lib):
        linear = lib.nn.Linear(3, 4).eval()
        bn = _trained_bn(lib, "BatchNorm1d", 4)
        return lib.nn.utils.fusion.fuse_linear_bn_eval(linear, bn)

    t, e = both(build)
    assert_same_module(t, e)
    assert_same_step(t, e, (2, 3))

    def weights_without_bias(lib):
        conv = lib.nn.Conv2d(2, 3, 1, bias=False)
        bn = _trained_bn(lib, "BatchNorm2d", 3)
        w, b = lib.nn.utils.fuse_conv_bn_weights(conv.weight, None, bn.running_mean,
                                                 bn.running_var, bn.eps, None, None)
        lw, lb = lib.nn.utils.fuse_linear_bn_weights(lib.ones(3, 2), None, bn.running_mean,
                                                     bn.running_var, bn.eps, bn.weight,
                                                     bn.bias)
        return w, b, lw, lb

    t_out, e_out = both(weights_without_bias)
    for tv, ev in zip(t_out, e_out):
        assert type(ev) is ember.nn.Parameter
        assert ev.requires_grad == tv.requires_grad
        assert_same(ev, tv)

    def training_mode(lib):
        lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))

    def mismatch(lib):
        lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(3, 4).eval(),
                                         lib.nn.BatchNorm1d(3).eval())

    check_raises_like(training_mode)
    check_raises_like(mismatch)


@settings(max_examples=10, deadline=None)
@given(out_features=st.integers(1, 5), in_features=st.integers(1, 5),
       dim=st.sampled_from([0, 1, None]), seed=st.integers(0, 100))
def test_weight_norm_hypothesis(out_features, in_features, dim, seed):
    def build(lib):
        m = lib.nn.Linear(in_features, out_features)
        lib.nn.utils.parametrizations.weight_norm(m, dim=dim)
        return m

    t, e = both(build, seed)
    assert_same_module(t, e)
    assert_same_step(t, e, (2, in_features), seed=seed)


def test_orthogonal_complex():
    def build(lib):
        m = lib.nn.Module()
        m.register_parameter("w", lib.nn.Parameter(lib.randn(3, 3, dtype=lib.complex64)))
        lib.nn.utils.parametrizations.orthogonal(m, "w")
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same(e.w, t.w)
    check_raises_like(lambda lib: lib.nn.utils.parametrizations.orthogonal(
        build(lib), "w", orthogonal_map="householder"))


def test_unsafe_chain_changes_shape_and_remove_keeps_it():
    def build(lib):
        class Flat(lib.nn.Module):
            def forward(self, X):
                return X.flatten()

        m = lib.nn.Linear(3, 2).eval()
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _scale(lib), unsafe=True)
        P.register_parametrization(m, "weight", Flat(), unsafe=True)
        shape = tuple(m.weight.shape)
        training = m.parametrizations.weight[1].training
        P.remove_parametrizations(m, "weight")
        return m, shape, training

    (t, t_shape, t_training), (e, e_shape, e_training) = both(build)
    assert (e_shape, e_training) == (t_shape, t_training)
    assert_same_module(t, e)
