"""ember.nn.utils.prune against torch: masks (bit for bit after the same seed for the random
methods), the weight_orig / weight_mask layout and state-dict order, the forward pre-hook,
gradients through the mask, containers, global pruning, remove, and errors."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_raises_like, torch

# torch.nn.utils.prune is a submodule torch does not import by itself
importlib.import_module("torch.nn.utils.prune")


def both(build, seed: int = 0):
    """``build(lib)`` run for torch and for ember after the same ``manual_seed``."""
    torch.manual_seed(seed)
    t = build(torch)
    ember.manual_seed(seed)
    e = build(ember)
    return t, e


def assert_same_module(t, e) -> None:
    assert repr(e) == repr(t)
    t_sd, e_sd = t.state_dict(), e.state_dict()
    assert list(e_sd) == list(t_sd)
    for key in t_sd:
        assert_same(e_sd[key], t_sd[key], what=key)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [type(h).__name__ for h in e._forward_pre_hooks.values()] == \
        [type(h).__name__ for h in t._forward_pre_hooks.values()]


def assert_same_step(t, e, shape, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    t_out, e_out = t(torch.tensor(x)), e(ember.tensor(x))
    assert_same(e_out, t_out, what="output")
    cotangent = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    t_out.backward(torch.tensor(cotangent))
    e_out.backward(ember.tensor(cotangent))
    e_params = dict(e.named_parameters())
    for name, tp in t.named_parameters():
        assert_same(e_params[name].grad, tp.grad, what=name + ".grad")


def _prune(name, *args, **kwargs):
    def build(lib):
        m = lib.nn.Conv2d(3, 4, 3)
        getattr(lib.nn.utils.prune, name)(m, "weight", *args, **kwargs)
        return m
    return build


CASES = [
    ("identity", (), {}),
    ("random_unstructured", (), {"amount": 0.3}),
    ("random_unstructured", (), {"amount": 17}),
    ("l1_unstructured", (), {"amount": 0.5}),
    ("l1_unstructured", (), {"amount": 0}),
    ("random_structured", (), {"amount": 0.5, "dim": 0}),
    ("random_structured", (), {"amount": 2, "dim": 1}),
    ("random_structured", (), {"amount": 0.0, "dim": -1}),
    ("ln_structured", (), {"amount": 0.5, "n": 2, "dim": 0}),
    ("ln_structured", (), {"amount": 1, "n": 1, "dim": -1}),
    ("ln_structured", (), {"amount": 0.25, "n": float("inf"), "dim": 1}),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_pruning_function(case):
    name, args, kwargs = case
    t, e = both(_prune(name, *args, **kwargs))
    assert_same_module(t, e)
    np.testing.assert_array_equal(e.weight_mask.numpy(), t.weight_mask.numpy())
    assert_same(e.weight, t.weight)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    assert ember.nn.utils.prune.is_pruned(e) and torch.nn.utils.prune.is_pruned(t)
    assert_same_step(t, e, (2, 3, 5, 5))


def test_iterative_pruning_builds_a_container():
    def build(lib):
        m = lib.nn.Linear(6, 5)
        P = lib.nn.utils.prune
        P.random_unstructured(m, "weight", amount=0.3)
        P.l1_unstructured(m, "weight", amount=4)
        P.ln_structured(m, "weight", amount=1, n=2, dim=0)
        P.random_structured(m, "weight", amount=1, dim=1)
        P.l1_unstructured(m, "bias", amount=2)
        return m

    t, e = both(build)
    hook = [h for h in e._forward_pre_hooks.values()
            if getattr(h, "_tensor_name", None) == "weight"][0]
    assert type(hook).__name__ == "PruningContainer" and len(hook) == 4
    assert [type(m).__name__ for m in hook] == ["RandomUnstructured", "L1Unstructured",
                                                "LnStructured", "RandomStructured"]
    assert_same_module(t, e)
    assert_same_step(t, e, (3, 6))


def test_importance_scores_and_custom_mask():
    scores = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)

    def build(lib):
        m = lib.nn.Linear(3, 4)
        P = lib.nn.utils.prune
        P.l1_unstructured(m, "weight", amount=5, importance_scores=lib.tensor(scores))
        P.ln_structured(m, "weight", amount=1, n=1, dim=0,
                        importance_scores=lib.tensor(scores))
        P.custom_from_mask(m, "bias", mask=lib.tensor([1.0, 0.0, 1.0, 0.0]))
        return m

    t, e = both(build)
    assert_same_module(t, e)
    assert_same_step(t, e, (2, 3))


def test_global_unstructured():
    def build(lib):
        model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.ReLU(), lib.nn.Linear(5, 3))
        P = lib.nn.utils.prune
        P.l1_unstructured(model[2], "weight", amount=3)
        params = [(model[0], "weight"), (model[0], "bias"), (model[2], "weight")]
        P.global_unstructured(params, pruning_method=P.L1Unstructured, amount=0.4)
        P.global_unstructured(params, pruning_method=P.RandomUnstructured, amount=5,
                              importance_scores={(model[0], "bias"): lib.ones(5)})
        return model

    t, e = both(build)
    assert_same_module(t, e)
    assert_same_step(t, e, (2, 4))


def test_remove_makes_pruning_permanent():
    def build(lib):
        m = lib.nn.Linear(4, 3)
        orig = m.weight
        P = lib.nn.utils.prune
        P.random_unstructured(m, "weight", amount=0.5)
        P.l1_unstructured(m, "weight", amount=2)
        P.remove(m, "weight")
        return m, orig

    (t, t_orig), (e, e_orig) = both(build)
    assert e.weight is e_orig and t.weight is t_orig
    assert type(e.weight) is ember.nn.Parameter
    assert_same_module(t, e)
    assert not ember.nn.utils.prune.is_pruned(e)
    assert_same_step(t, e, (2, 4))


def test_method_classes_directly():
    def build(lib):
        P = lib.nn.utils.prune
        x = lib.randn(4, 5)
        outs = [P.L1Unstructured(0.4).prune(x),
                P.RandomUnstructured(amount=3).prune(x),
                P.RandomStructured(amount=2, dim=0).prune(x),
                P.LnStructured(amount=0.5, n=2, dim=1).prune(x, importance_scores=x.abs()),
                P.Identity().prune(x, default_mask=(x > 0).float()),
                P.CustomFromMask(mask=(x > 0).float()).compute_mask(x, lib.ones(4, 5))]
        m = lib.nn.Linear(2, 2)
        method = P.L1Unstructured.apply(m, "weight", amount=1)
        return outs, type(method).__name__, method._tensor_name

    (t_outs, t_cls, t_name), (e_outs, e_cls, e_name) = both(build)
    for t_out, e_out in zip(t_outs, e_outs):
        assert_same(e_out, t_out)
    assert (e_cls, e_name) == (t_cls, t_name)
    assert issubclass(ember.nn.utils.prune.PruningContainer,
                      ember.nn.utils.prune.BasePruningMethod)
    with pytest.raises(TypeError):
        ember.nn.utils.prune.BasePruningMethod()


def test_prune_errors():
    def linear(lib):
        return lib.nn.Linear(3, 2)

    calls = [
        lambda lib: lib.nn.utils.prune.l1_unstructured(linear(lib), "weight", amount=1.5),
        lambda lib: lib.nn.utils.prune.l1_unstructured(linear(lib), "weight", amount=-1),
        lambda lib: lib.nn.utils.prune.l1_unstructured(linear(lib), "weight", amount="a"),
        lambda lib: lib.nn.utils.prune.l1_unstructured(linear(lib), "weight", amount=7),
        lambda lib: lib.nn.utils.prune.random_structured(linear(lib), "bias", amount=1,
                                                         dim=0),
        lambda lib: lib.nn.utils.prune.ln_structured(linear(lib), "weight", amount=1, n=2,
                                                     dim=2),
        lambda lib: lib.nn.utils.prune.remove(linear(lib), "weight"),
        lambda lib: lib.nn.utils.prune.global_unstructured(3, lib.nn.utils.prune.Identity),
        lambda lib: lib.nn.utils.prune.global_unstructured(
            [(linear(lib), "weight")], lib.nn.utils.prune.L1Unstructured, importance_scores=[],
            amount=1),
        lambda lib: lib.nn.utils.prune.PruningContainer(3),
    ]
    for call in calls:
        check_raises_like(call)

    # the message names the method's class, whose module path is ember's own
    messages = []
    for lib in (torch, ember):
        with pytest.raises(TypeError) as info:
            lib.nn.utils.prune.global_unstructured(
                [(linear(lib), "weight")], pruning_method=lib.nn.utils.prune.RandomStructured,
                amount=1)
        messages.append(str(info.value))
    assert messages[1] == messages[0].replace("torch.nn.utils", "ember.nn.utils")

    # a failed prune puts the parameter back (last, as torch re-registers it)
    keys = []
    for lib in (torch, ember):
        m = linear(lib)
        with pytest.raises(ValueError):
            lib.nn.utils.prune.l1_unstructured(m, "weight", amount=7)
        keys.append(list(m.state_dict()))
        assert not m._forward_pre_hooks
    assert keys[1] == keys[0]


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=3),
       amount=st.one_of(st.floats(0.0, 1.0), st.integers(0, 3)),
       method=st.sampled_from(["random_unstructured", "l1_unstructured",
                               "random_structured", "ln_structured"]),
       seed=st.integers(0, 1000))
def test_masks_hypothesis(shape, amount, method, seed):
    def build(lib):
        m = lib.nn.Module()
        m.register_parameter("w", lib.nn.Parameter(lib.randn(*shape)))
        P = lib.nn.utils.prune
        if method in ("random_unstructured", "l1_unstructured"):
            getattr(P, method)(m, "w", amount=amount)
        elif method == "random_structured":
            P.random_structured(m, "w", amount=amount, dim=0)
        else:
            P.ln_structured(m, "w", amount=amount, n=2, dim=-1)
        return m

    try:
        torch.manual_seed(seed)
        build(torch)
    except Exception:
        check_raises_like(build)
        return
    t, e = both(build, seed)
    assert_same_module(t, e)
