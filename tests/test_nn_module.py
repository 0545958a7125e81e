"""ember.nn's Module system, parameters, containers and linear layers against torch."""
from __future__ import annotations

import copy
import inspect
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_gradcheck, check_op, check_raises_like, torch

# ---- helpers ---------------------------------------------------------------------------


def lib_nn(lib):
    return lib.nn


def to_ember(t) -> ember.Tensor:
    return ember.tensor(t.detach().numpy())


def copy_weights(t_module, e_module) -> None:
    """Load a torch module's state into the ember module through NumPy."""
    state = OrderedDict((k, to_ember(v)) for k, v in t_module.state_dict().items())
    e_module.load_state_dict(state)


def same_params(e_module, t_module) -> None:
    e_named = list(e_module.named_parameters())
    t_named = list(t_module.named_parameters())
    assert [n for n, _ in e_named] == [n for n, _ in t_named]
    for (name, e), (_, t) in zip(e_named, t_named):
        assert_same(e, t, what=name)


def seeded_pair(build, seed: int = 0):
    torch.manual_seed(seed)
    t_module = build(torch)
    ember.manual_seed(seed)
    e_module = build(ember)
    return t_module, e_module


# ---- seeded construction: torch's exact weights ------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("build", [
    lambda lib, dt: lib.nn.Linear(3, 2, dtype=dt),
    lambda lib, dt: lib.nn.Linear(17, 5, bias=False, dtype=dt),
    lambda lib, dt: lib.nn.Linear(1, 1, dtype=dt),
    lambda lib, dt: lib.nn.Linear(64, 33, dtype=dt),
    lambda lib, dt: lib.nn.Bilinear(3, 4, 5, dtype=dt),
    lambda lib, dt: lib.nn.Bilinear(7, 2, 3, bias=False, dtype=dt),
    lambda lib, dt: lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Linear(8, 2)).to(dt),
])
def test_seeded_weights_bit_identical(build, dtype):
    t_module, e_module = seeded_pair(lambda lib: build(lib, getattr(lib, dtype)))
    for (name, e), (_, t) in zip(e_module.named_parameters(), t_module.named_parameters()):
        assert e.dtype is getattr(ember, dtype)
        np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy(), err_msg=name)


def test_seeded_stream_continues_like_torch():
    # Constructing layers consumes the generator exactly as torch does.
    torch.manual_seed(3)
    torch.nn.Linear(5, 3)
    t_next = torch.rand(4)
    ember.manual_seed(3)
    ember.nn.Linear(5, 3)
    np.testing.assert_array_equal(ember.rand(4).numpy(), t_next.numpy())


# ---- F.linear / F.bilinear --------------------------------------------------------------

LINEAR_SHAPES = [
    [(4, 3), (2, 3), (2,)],
    [(3,), (2, 3), (2,)],
    [(5, 4, 3), (2, 3), (2,)],
    [(2, 5, 4, 3), (2, 3), (2,)],
    [(0, 3), (2, 3), (2,)],
    [(4, 0, 3), (2, 3), (2,)],
    [(4, 3), (2, 3), (4, 2)],
    [(3,), (2, 3), ()],
    [(5, 4, 3), (2, 3), ()],
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", LINEAR_SHAPES, ids=str)
def test_f_linear(shapes, dtype):
    check_op(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), shapes, dtype=dtype)


@pytest.mark.parametrize("shapes", [s[:2] for s in LINEAR_SHAPES[:6]], ids=str)
def test_f_linear_no_bias(shapes):
    check_op(lambda lib, x, w: lib.nn.functional.linear(x, w), shapes)


def test_f_linear_noncontiguous_input():
    check_op(lambda lib, x, w, b: lib.nn.functional.linear(x.transpose(0, 1), w, b),
             [(4, 5, 3), (2, 3), (2,)])


def test_f_linear_gradcheck():
    check_gradcheck(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
                    [(2, 4, 3), (2, 3), (2,)])


def test_f_linear_errors():
    check_raises_like(lambda lib: lib.nn.functional.linear(lib.ones(4, 5), lib.ones(2, 3)))
    check_raises_like(lambda lib: lib.nn.functional.linear(lib.ones(4, 3), lib.ones(2, 3),
                                                           lib.ones(3)))


@pytest.mark.parametrize("shapes", [
    [(2, 3), (2, 5), (4, 3, 5), (4,)],
    [(3,), (5,), (4, 3, 5), (4,)],
    [(6, 2, 3), (6, 2, 5), (4, 3, 5), (4,)],
    [(0, 3), (0, 5), (4, 3, 5), (4,)],
], ids=str)
def test_f_bilinear(shapes):
    check_op(lambda lib, x1, x2, w, b: lib.nn.functional.bilinear(x1, x2, w, b), shapes)
    check_op(lambda lib, x1, x2, w: lib.nn.functional.bilinear(x1, x2, w), shapes[:3])


def test_f_bilinear_gradcheck():
    check_gradcheck(lambda lib, x1, x2, w, b: lib.nn.functional.bilinear(x1, x2, w, b),
                    [(2, 3), (2, 4), (2, 3, 4), (2,)])


@pytest.mark.parametrize("shapes", [
    [(2, 3), (3, 5), (4, 3, 5)], [(2, 3), (2, 6), (4, 3, 5)], [(2, 4), (2, 5), (4, 3, 5)],
    [(2, 3), (5,), (4, 3, 5)],
], ids=str)
def test_f_bilinear_errors(shapes):
    check_raises_like(lambda lib: lib.nn.functional.bilinear(
        *(lib.ones(*s) for s in shapes)))
    check_raises_like(lambda lib: lib.nn.functional.bilinear(
        lib.ones(2, 3), lib.ones(2, 5), lib.ones(4, 3, 5), lib.ones(3)))


# ---- layers: outputs and gradients of inputs and parameters -----------------------------


def check_module(build, input_shapes, dtype: str = "float32", seed: int = 0) -> None:
    t_module, e_module = seeded_pair(lambda lib: build(lib).to(getattr(lib, dtype)), seed)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in input_shapes]
    t_in = [torch.tensor(a).to(getattr(torch, dtype)).requires_grad_() for a in arrays]
    e_in = [ember.tensor(a).to(getattr(ember, dtype)).requires_grad_() for a in arrays]
    t_out, e_out = t_module(*t_in), e_module(*e_in)
    assert_same(e_out, t_out)
    assert e_out.grad_fn.name() == t_out.grad_fn.name()
    cot = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(cot).to(t_out.dtype))
    e_out.backward(ember.tensor(cot).to(e_out.dtype))
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        assert_same(e.grad, t.grad, what=f"grad of input {i}")
    for (name, e), (_, t) in zip(e_module.named_parameters(), t_module.named_parameters()):
        assert_same(e.grad, t.grad, what=f"grad of {name}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("build,shapes", [
    (lambda lib: lib.nn.Linear(3, 2), [(4, 3)]),
    (lambda lib: lib.nn.Linear(3, 2), [(5, 4, 3)]),
    (lambda lib: lib.nn.Linear(3, 2, bias=False), [(3,)]),
    (lambda lib: lib.nn.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    (lambda lib: lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(6, 4), lib.nn.Identity(),
                                   lib.nn.Unflatten(1, (2, 2))), [(3, 2, 3)]),
    (lambda lib: lib.nn.Flatten(0, 1), [(3, 2, 3)]),
], ids=["linear", "linear3d", "linear1d", "bilinear", "sequential", "flatten"])
def test_layer_outputs_and_grads(build, shapes, dtype):
    check_module(build, shapes, dtype)


def test_lazy_linear():
    t_module, e_module = seeded_pair(lambda lib: lib.nn.LazyLinear(4))
    assert repr(e_module) == repr(t_module)
    assert repr(e_module.weight) == repr(t_module.weight) == "<UninitializedParameter>"
    assert list(e_module.state_dict()) == list(t_module.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5))
    assert_same(e_module(ember.tensor(x).float()), t_module(torch.tensor(x).float()))
    assert type(e_module) is ember.nn.Linear
    assert repr(e_module) == repr(t_module)
    assert not e_module._forward_pre_hooks and not e_module._load_state_dict_pre_hooks
    same_params(e_module, t_module)


def test_lazy_linear_load_state_dict():
    t_src = torch.nn.Linear(5, 3)
    e_module = ember.nn.LazyLinear(3)
    e_module.load_state_dict(OrderedDict((k, to_ember(v))
                                         for k, v in t_src.state_dict().items()))
    e_module(ember.ones(2, 5))
    same_params(e_module, t_src)


def test_uninitialized_parameter():
    u = ember.nn.UninitializedParameter()
    assert isinstance(u, ember.nn.Parameter) and isinstance(u, ember.Tensor)
    with pytest.raises(ValueError, match="uninitialized parameter"):
        u + 1
    t_u = torch.nn.UninitializedParameter()
    check_raises_like(lambda lib: lib.nn.UninitializedParameter().shape)
    u.materialize((2, 3))
    t_u.materialize((2, 3))
    assert type(u) is ember.nn.Parameter
    assert u.shape == t_u.shape and u.dtype is ember.float32
    b = ember.nn.UninitializedBuffer()
    b.materialize(4, dtype=ember.float64)
    assert type(b) is ember.Tensor and b.shape == (4,) and b.dtype is ember.float64


def test_unflatten_errors():
    check_raises_like(lambda lib: lib.nn.Unflatten(1, 5))
    check_raises_like(lambda lib: lib.nn.Unflatten(1, (2, "a")))
    assert repr(ember.nn.Unflatten(1, [2, 3])) == repr(torch.nn.Unflatten(1, [2, 3]))


# ---- Parameter, Buffer ------------------------------------------------------------------


def test_parameter_basics():
    data = np.arange(6.0).reshape(2, 3)
    e = ember.nn.Parameter(ember.tensor(data))
    t = torch.nn.Parameter(torch.tensor(data))
    assert repr(e) == repr(t) and str(e) == str(t)
    assert isinstance(e, ember.Tensor) and e.requires_grad and e.is_leaf
    assert repr(ember.nn.Parameter()) == repr(torch.nn.Parameter())
    assert repr(ember.nn.Parameter(ember.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    y = e * 2 + 1
    assert type(y) is ember.Tensor and y.grad_fn.name() == "AddBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), np.full((2, 3), 2.0))
    check_raises_like(lambda lib: lib.nn.Parameter(lib.tensor([1, 2])))


def test_parameter_shares_data():
    base = ember.zeros(3)
    p = ember.nn.Parameter(base)
    with ember.no_grad():
        p.add_(1)
    np.testing.assert_array_equal(base.numpy(), np.ones(3))


def test_parameter_deepcopy_and_pickle():
    p = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    p.grad = ember.ones(2)
    p.tag = "w"
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is ember.nn.Parameter and q.requires_grad
        assert q.grad is None
        np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())
        assert not np.shares_memory(q.detach().numpy(), p.detach().numpy())
    assert pickle.loads(pickle.dumps(p)).tag == "w"
    frozen = pickle.loads(pickle.dumps(ember.nn.Parameter(ember.ones(1), requires_grad=False)))
    assert not frozen.requires_grad


def test_buffer():
    b = ember.nn.Buffer(ember.ones(2), persistent=False)
    tb = torch.nn.Buffer(torch.ones(2), persistent=False)
    assert type(b) is ember.Tensor and isinstance(b, ember.nn.Buffer)
    assert b.persistent is tb.persistent is False
    assert not isinstance(ember.ones(2), ember.nn.Buffer)

    def build(lib):
        m = lib.nn.Module()
        m.a = lib.nn.Buffer(lib.ones(2))
        m.b = lib.nn.Buffer(lib.zeros(1), persistent=False)
        m.a = lib.full((2,), 3.0)  # assigning a tensor to a buffer's name keeps it a buffer
        return m

    t_m, e_m = build(torch), build(ember)
    assert list(e_m.state_dict()) == list(t_m.state_dict()) == ["a"]
    assert [n for n, _ in e_m.named_buffers()] == [n for n, _ in t_m.named_buffers()]


# ---- repr -------------------------------------------------------------------------------


def nested_model(lib):
    nn = lib.nn
    return nn.Sequential(OrderedDict(
        feat=nn.Sequential(nn.Linear(3, 4), nn.Linear(3, 4)),
        blocks=nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]
                             + [nn.Flatten(), nn.Linear(2, 2), nn.Linear(2, 2)]),
        d=nn.ModuleDict({"b": nn.Bilinear(2, 3, 4), "a": nn.Identity()}),
        pl=nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(3, dtype=lib.float64),
                             "text"]),
        pd=nn.ParameterDict({"x": nn.Parameter(lib.ones(2)), "a": lib.ones(1, 2)}),
        u=nn.Unflatten(1, (2, 3)),
        e=nn.ModuleList(),
        nested=nn.ModuleList([nn.Sequential(nn.Linear(1, 1), nn.Identity())] * 2),
        lazy=nn.LazyLinear(3),
        seq_empty=nn.Sequential(),
    ))


def test_repr_nested():
    assert repr(nested_model(ember)) == repr(nested_model(torch))


def test_repr_custom_module_extra_repr():
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(2, 3)
                self.none = None

            def extra_repr(self):
                return "first line\nsecond line"

        class Leaf(lib.nn.Module):
            def extra_repr(self):
                return "k=1"

        outer = lib.nn.Module()
        outer.net = Net()
        outer.leaf = Leaf()
        outer.add_module("missing", None)
        return outer

    assert repr(build(ember)) == repr(build(torch))


# ---- registration and attribute semantics -----------------------------------------------


def test_named_members():
    def build(lib):
        nn = lib.nn
        shared = nn.Linear(2, 2)
        m = nn.Sequential(shared, nn.ReLU() if hasattr(nn, "ReLU") else nn.Identity(), shared,
                          nn.Sequential(nn.Linear(2, 3, bias=False), nn.Linear(3, 1)))
        m.register_buffer("running", lib.zeros(2))
        m[3].register_buffer("tmp", lib.ones(1), persistent=False)
        m[3][0].extra = nn.Parameter(m[0].weight.detach())
        m.alias = m[0].weight if False else nn.Parameter(lib.ones(1))
        return m

    t_m, e_m = build(torch), build(ember)
    for kwargs in ({}, {"prefix": "model"}, {"recurse": False}, {"remove_duplicate": False}):
        assert [n for n, _ in e_m.named_parameters(**kwargs)] == \
            [n for n, _ in t_m.named_parameters(**kwargs)]
        assert [n for n, _ in e_m.named_buffers(**kwargs)] == \
            [n for n, _ in t_m.named_buffers(**kwargs)]
    assert [n for n, _ in e_m.named_modules()] == [n for n, _ in t_m.named_modules()]
    assert [n for n, _ in e_m.named_modules(prefix="p", remove_duplicate=False)] == \
        [n for n, _ in t_m.named_modules(prefix="p", remove_duplicate=False)]
    assert [n for n, _ in e_m.named_children()] == [n for n, _ in t_m.named_children()]
    assert len(list(e_m.children())) == len(list(t_m.children()))
    assert len(list(e_m.modules())) == len(list(t_m.modules()))
    assert len(list(e_m.parameters())) == len(list(t_m.parameters()))
    assert len(list(e_m.buffers())) == len(list(t_m.buffers()))
    assert e_m.get_submodule("3.1") is e_m[3][1]
    assert e_m.get_parameter("3.1.bias") is e_m[3][1].bias
    assert e_m.get_buffer("3.tmp") is e_m[3].tmp


@pytest.mark.parametrize("fn", [
    lambda m, lib: m.get_submodule("fc.nope"),
    lambda m, lib: m.get_submodule("fc.weight"),
    lambda m, lib: m.get_parameter("fc.nope"),
    lambda m, lib: m.get_parameter("buf"),
    lambda m, lib: m.get_buffer("fc.weight"),
    lambda m, lib: m.nope,
    lambda m, lib: m.register_buffer("a.b", lib.ones(1)),
    lambda m, lib: m.register_buffer("", lib.ones(1)),
    lambda m, lib: m.register_buffer(1, lib.ones(1)),
    lambda m, lib: m.register_buffer("fc", lib.ones(1)),
    lambda m, lib: m.register_buffer("x", 3),
    lambda m, lib: m.register_parameter("x", lib.ones(1)),
    lambda m, lib: m.register_parameter("a.b", None),
    lambda m, lib: m.register_parameter("fc", None),
    lambda m, lib: m.register_parameter("p", lib.nn.Parameter(lib.ones(1)) * 2),
    lambda m, lib: m.register_parameter("", None),
    lambda m, lib: m.add_module("x", 3),
    lambda m, lib: m.add_module("a.b", lib.nn.Identity()),
    lambda m, lib: m.add_module("", lib.nn.Identity()),
    lambda m, lib: m.add_module("buf", lib.nn.Identity()),
    lambda m, lib: setattr(m.fc, "weight", lib.ones(2)),
    lambda m, lib: setattr(m, "fc", lib.ones(2)),
    lambda m, lib: setattr(m, "buf", 3),
    lambda m, lib: m.train("yes"),
    lambda m, lib: m.to(lib.int64),
    lambda m, lib: m(lib.ones(1)),
    lambda m, lib: lib.nn.Module(3),
    lambda m, lib: lib.nn.Module(foo=3),
    lambda m, lib: m.load_state_dict([1]),
    lambda m, lib: m.fc.weight.new_ones(1) if False else lib.nn.ParameterList()(1),
    lambda m, lib: lib.nn.ModuleList([lib.nn.Identity()])[3],
    lambda m, lib: lib.nn.Sequential(lib.nn.Identity())[-2],
    lambda m, lib: lib.nn.Sequential().insert(3, lib.nn.Identity()),
    lambda m, lib: lib.nn.ModuleList().extend(3),
    lambda m, lib: lib.nn.ModuleDict([("a", lib.nn.Identity(), 1)]),
    lambda m, lib: lib.nn.ParameterDict()[3],
    lambda m, lib: lib.nn.ParameterList().extend(lib.ones(2)),
])
def test_module_errors(fn):
    def build(lib):
        m = lib.nn.Module()
        m.fc = lib.nn.Linear(2, 2)
        m.register_buffer("buf", lib.ones(1))
        return m

    check_raises_like(lambda lib: fn(build(lib), lib))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.Sequential() + lib.nn.ModuleList(),
    lambda lib: lib.nn.Sequential(lib.nn.Identity()) * 0,
    lambda lib: lib.nn.Sequential(lib.nn.Identity()) * 1.5,
])
def test_container_errors_naming_classes(fn):
    # torch's message names the class by its module path: compare with ember's path renamed.
    with pytest.raises(Exception) as t_info:  # noqa: B017 - whatever torch raises
        fn(torch)
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember)
    assert str(e_info.value).replace("ember.", "torch.") == str(t_info.value)


def test_setattr_before_init():
    def attempt(lib):
        class Early(lib.nn.Module):
            def __init__(self):
                self.w = lib.nn.Parameter(lib.ones(1))

        return Early()

    check_raises_like(attempt)


def test_attribute_reassignment_and_delete():
    def build(lib):
        m = lib.nn.Module()
        m.x = lib.nn.Linear(1, 1)
        m.x = lib.nn.Parameter(lib.ones(1))     # module -> parameter
        m.y = lib.nn.Parameter(lib.ones(1))
        m.y = None                               # stays a parameter slot
        m.register_buffer("z", lib.ones(1))
        m.z = None
        m.w = lib.nn.Identity()
        del m.w
        m.plain = 3
        del m.plain
        return m

    t_m, e_m = build(torch), build(ember)
    assert list(e_m._parameters) == list(t_m._parameters)
    assert list(e_m._buffers) == list(t_m._buffers)
    assert list(e_m._modules) == list(t_m._modules)
    assert e_m.y is None and e_m.z is None
    assert not hasattr(e_m, "plain")
    assert repr(e_m) == repr(t_m)


def test_dir():
    def build(lib):
        m = lib.nn.Sequential(lib.nn.Linear(1, 1))
        m.register_buffer("b", lib.ones(1))
        m.q = lib.nn.Parameter(lib.ones(1))
        return m

    e_dir = set(dir(build(ember)))
    t_dir = set(dir(build(torch)))
    assert {"b", "q", "forward", "training", "state_dict"} <= e_dir
    assert "0" not in e_dir and "0" not in t_dir


def test_train_eval_requires_grad_zero_grad():
    m = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.Sequential(ember.nn.Linear(2, 1)))
    assert m.eval() is m and not any(x.training for x in m.modules())
    assert m.train() is m and all(x.training for x in m.modules())
    m(ember.ones(3, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_order():
    def build_and_log(lib):
        m = nested_model(lib)
        names = []
        m.apply(lambda mod: names.append(type(mod).__name__))
        return names

    assert build_and_log(ember) == build_and_log(torch)


@pytest.mark.parametrize("convert", [
    lambda m, lib: m.double(), lambda m, lib: m.float(), lambda m, lib: m.half(),
    lambda m, lib: m.bfloat16(), lambda m, lib: m.to(lib.float64),
    lambda m, lib: m.to("cpu"), lambda m, lib: m.to("cpu", lib.float64),
    lambda m, lib: m.to(dtype=lib.float16), lambda m, lib: m.to(lib.ones(1, dtype=lib.float64)),
    lambda m, lib: m.type(lib.float64), lambda m, lib: m.cpu(),
    lambda m, lib: m.share_memory(),
])
def test_dtype_conversion(convert):
    def build(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 3))
        m.register_buffer("count", lib.tensor([3]))
        m.register_buffer("scale", lib.ones(2))
        return m

    t_m, e_m = build(torch), build(ember)
    copy_weights(t_m, e_m)
    e_weight = e_m[0].weight
    e_m[0].weight.grad = ember.ones(3, 2)
    t_m[0].weight.grad = torch.ones(3, 2)
    assert convert(e_m, ember) is e_m
    convert(t_m, torch)
    assert e_m[0].weight is e_weight  # the Parameter object survives the conversion
    for (name, e), (_, t) in zip(e_m.state_dict().items(), t_m.state_dict().items()):
        assert_same(e, t, what=name)
    assert_same(e_m[0].weight.grad, t_m[0].weight.grad)


# ---- state_dict / load_state_dict ---------------------------------------------------------


def stateful_model(lib):
    nn = lib.nn
    m = nn.Sequential(OrderedDict(
        fc1=nn.Linear(3, 4),
        blocks=nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4, bias=False)]),
        bil=nn.Bilinear(4, 4, 2),
        params=nn.ParameterDict({"scale": nn.Parameter(lib.ones(2))}),
    ))
    m.register_buffer("steps", lib.tensor(7))
    m.register_buffer("cache", lib.zeros(2), persistent=False)
    m.blocks[0].register_buffer("mask", lib.ones(4))
    return m


def test_state_dict_keys_values_and_metadata():
    t_m, e_m = seeded_pair(stateful_model)
    t_sd, e_sd = t_m.state_dict(), e_m.state_dict()
    assert isinstance(e_sd, OrderedDict)
    assert list(e_sd) == list(t_sd)
    for k in t_sd:
        assert_same(e_sd[k], t_sd[k], what=k)
        assert not e_sd[k].requires_grad and type(e_sd[k]) is ember.Tensor
    assert dict(e_sd._metadata) == dict(t_sd._metadata)
    assert list(e_sd._metadata) == list(t_sd._metadata)
    kept = e_m.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is e_m.fc1.weight
    assert list(e_m.state_dict(prefix="model.")) == list(t_m.state_dict(prefix="model."))


def test_load_torch_state_dict_gives_torch_outputs():
    t_m = stateful_model(torch)
    e_m = stateful_model(ember)
    result = e_m.load_state_dict(OrderedDict(
        (k, ember.tensor(v.numpy())) for k, v in t_m.state_dict().items()))
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(1).standard_normal((5, 3))

    def run(m, lib):
        h = m.fc1(lib.tensor(x).float())
        for block in m.blocks:
            h = block(h) * m.blocks[0].mask
        return m.bil(h, h) * m.params["scale"]

    # Same weights; the bilinear contraction's summation order differs from torch's kernel.
    assert_same(run(e_m, ember), run(t_m, torch))


def test_load_state_dict_assign():
    src = stateful_model(ember)
    dst = stateful_model(ember)
    sd = src.state_dict()
    dst.load_state_dict(sd, assign=True)
    assert isinstance(dst.fc1.weight, ember.nn.Parameter)
    assert np.shares_memory(dst.fc1.weight.detach().numpy(), sd["fc1.weight"].numpy())
    assert dst.fc1.weight.requires_grad


@pytest.mark.parametrize("edit", [
    lambda sd, lib: sd.pop("fc1.weight"),
    lambda sd, lib: sd.update({"extra.weight": lib.ones(1), "fc1.nope": lib.ones(1)}),
    lambda sd, lib: sd.update({"fc1.bias": lib.ones(5)}),
    lambda sd, lib: sd.update({"bil.weight": lib.ones(1, 2, 3), "steps": lib.ones(2)}),
    lambda sd, lib: (sd.pop("steps"), sd.update({"junk": lib.ones(1)})),
    lambda sd, lib: sd.update({"fc1.bias": 3}),
])
def test_load_state_dict_errors(edit):
    def attempt(lib, strict):
        m = stateful_model(lib)
        sd = m.state_dict()
        edit(sd, lib)
        return m.load_state_dict(sd, strict=strict)

    check_raises_like(lambda lib: attempt(lib, True))
    try:
        t_result = attempt(torch, False)
    except RuntimeError:
        check_raises_like(lambda lib: attempt(lib, False))
        return
    e_result = attempt(ember, False)
    assert e_result == t_result and repr(e_result) == repr(t_result)


def test_state_dict_hooks():
    def build_and_log(lib):
        log = []
        m = lib.nn.Sequential(lib.nn.Linear(1, 1))
        m.register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix,
                                                                             keep)))
        m[0].register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre0", prefix)))
        m.register_state_dict_post_hook(
            lambda mod, sd, prefix, meta: log.append(("post", prefix, list(sd), dict(meta))))
        m.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, missing, unexpected, errors:
            log.append(("load_pre", type(mod).__name__, prefix, sorted(sd), strict)))
        m[0].register_load_state_dict_post_hook(
            lambda mod, keys: log.append(("load_post0", list(keys.missing_keys))))

        def drop_missing(mod, keys):
            log.append(("load_post", list(keys.missing_keys)))
            keys.missing_keys.clear()

        m.register_load_state_dict_post_hook(drop_missing)
        sd = m.state_dict()
        sd.pop("0.bias")
        result = m.load_state_dict(sd)
        log.append(("result", list(result.missing_keys)))
        return log

    assert build_and_log(ember) == build_and_log(torch)


def test_extra_state():
    def build(lib):
        class WithState(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(1, 1)
                self.value = {"n": 1}

            def get_extra_state(self):
                return self.value

            def set_extra_state(self, state):
                self.value = state

        return lib.nn.Sequential(WithState())

    t_m, e_m = build(torch), build(ember)
    assert list(e_m.state_dict()) == list(t_m.state_dict())
    sd = e_m.state_dict()
    sd["0._extra_state"] = {"n": 5}
    e_m.load_state_dict(sd)
    assert e_m[0].value == {"n": 5}
    check_raises_like(lambda lib: build(lib).load_state_dict(
        {k: v for k, v in build(lib).state_dict().items() if "extra" not in k}))


# ---- hooks ------------------------------------------------------------------------------


def hooked_run(lib, with_backward: bool = True):
    """Run a small model with every kind of hook and return a log of what each saw."""
    nn = lib.nn
    log = []

    def shape(x):
        if isinstance(x, tuple):
            return tuple(shape(v) for v in x)
        if x is None:
            return None
        if isinstance(x, dict):
            return {k: shape(v) for k, v in x.items()}
        return tuple(x.shape) if hasattr(x, "shape") else x

    def vals(x):
        return None if x is None else np.round(x.detach().numpy().astype(np.float64), 5).tolist()

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    torch.manual_seed(0)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), Scale(), nn.Linear(4, 2))
    name = {id(m): n or "root" for n, m in model.named_modules()}
    handles = []
    for mod in model.modules():
        n = name[id(mod)]
        handles.append(mod.register_forward_pre_hook(
            lambda m, args, n=n: log.append(("pre", n, shape(args)))))
        handles.append(mod.register_forward_hook(
            lambda m, args, out, n=n: log.append(("fwd", n, shape(args), shape(out)))))
        if with_backward:
            handles.append(mod.register_full_backward_pre_hook(
                lambda m, gout, n=n: log.append(("bpre", n, [vals(g) for g in gout]))))
            handles.append(mod.register_full_backward_hook(
                lambda m, gin, gout, n=n: log.append(
                    ("bwd", n, [vals(g) for g in gin], [vals(g) for g in gout]))))
    scale = model[1]
    scale.register_forward_pre_hook(
        lambda m, args, kwargs: (args, {**kwargs, "factor": 3.0}), with_kwargs=True)
    scale.register_forward_hook(
        lambda m, args, kwargs, out: log.append(("kw", shape(kwargs))), with_kwargs=True,
        prepend=True)
    scale.register_forward_hook(lambda m, args, out: out + 1)
    scale.register_forward_pre_hook(lambda m, args: log.append(("first",)), prepend=True)
    if with_backward:
        model[2].register_full_backward_pre_hook(lambda m, gout: (gout[0] * 2,))
        model[0].register_full_backward_hook(lambda m, gin, gout: (gin[0] * 0.5,))
    x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3)).float().requires_grad_()
    out = model(x)
    log.append(("out", vals(out)))
    if with_backward:
        out.backward(lib.tensor([[1.0, -2.0], [0.5, 3.0]]))
        log.append(("x.grad", vals(x.grad)))
        log.append(("w.grad", vals(model[0].weight.grad)))
    for h in handles:
        h.remove()
    log.append(("after remove", vals(model(x))))
    return log


def test_hooks_log_matches_torch():
    e_log, t_log = hooked_run(ember), hooked_run(torch)
    assert len(e_log) == len(t_log)
    for e, t in zip(e_log, t_log):
        assert e[:2] == t[:2]
        for ev, tv in zip(e[2:], t[2:]):
            np.testing.assert_allclose(np.array(ev, dtype=float), np.array(tv, dtype=float),
                                       rtol=1e-5, atol=1e-5, err_msg=str(t))


def test_backward_hooks_no_input_grad_and_tuple_outputs():
    def run(lib):
        log = []

        class Split(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = lib.nn.Parameter(lib.ones(3))

            def forward(self, x, k):
                return x * self.w, (x * self.w * k).sum()

        m = Split()
        m.register_full_backward_pre_hook(
            lambda mod, gout: log.append(("pre", [None if g is None else g.tolist()
                                                  for g in gout])))
        m.register_full_backward_hook(
            lambda mod, gin, gout: log.append(("bwd", [None if g is None else g.tolist()
                                                       for g in gin],
                                               [None if g is None else g.tolist()
                                                for g in gout])))
        a, s = m(lib.tensor([1.0, 2.0, 3.0]), 2)
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients"):
            (a.sum() + s).backward()
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        a, s = m(x, 2)
        s.backward()
        log.append(x.grad.tolist())
        return log

    assert run(ember) == run(torch)


def test_forward_hook_always_call_and_errors():
    def run(lib):
        log = []

        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m = Boom()
        m.register_forward_hook(lambda mod, args, out: log.append(("always", out)),
                                always_call=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("never", out)))
        with pytest.raises(ValueError, match="boom"):
            m(lib.ones(1))
        return log

    assert run(ember) == run(torch)
    check_raises_like(lambda lib: _bad_pre_hook(lib))


def _bad_pre_hook(lib):
    m = lib.nn.Identity()
    m.register_forward_pre_hook(lambda mod, args, kwargs: 3, with_kwargs=True)
    return m(lib.ones(1))


def test_global_hooks():
    def run(lib):
        log = []
        mm = lib.nn.modules.module
        handles = [
            mm.register_module_forward_pre_hook(
                lambda m, a: log.append(("gpre", type(m).__name__))),
            mm.register_module_forward_hook(
                lambda m, a, o: log.append(("gfwd", type(m).__name__))),
            mm.register_module_forward_hook(
                lambda m, a, kw, o: log.append(("gfwd_kw", type(m).__name__, kw)),
                with_kwargs=True),
            mm.register_module_full_backward_pre_hook(
                lambda m, g: log.append(("gbpre", type(m).__name__))),
            mm.register_module_full_backward_hook(
                lambda m, gi, go: log.append(("gbwd", type(m).__name__))),
        ]
        try:
            model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Identity())
            model[0].register_forward_pre_hook(lambda m, a: log.append(("local pre",)))
            model(lib.ones(1, 2, requires_grad=True)).sum().backward()
        finally:
            for h in handles:
                h.remove()
        model(lib.ones(1, 2))
        log.append("removed")
        return log

    assert run(ember) == run(torch)


def test_registration_hooks():
    def run(lib):
        log = []
        mm = lib.nn.modules.module
        handles = [
            mm.register_module_parameter_registration_hook(
                lambda m, n, p: log.append(("param", n))),
            mm.register_module_buffer_registration_hook(
                lambda m, n, b: log.append(("buffer", n))),
            mm.register_module_module_registration_hook(
                lambda m, n, s: log.append(("module", n))),
        ]
        try:
            m = lib.nn.Linear(2, 2)
            m.register_buffer("b", lib.ones(1))
            m.sub = lib.nn.Identity()
        finally:
            for h in handles:
                h.remove()
        return log

    assert run(ember) == run(torch)


def test_hook_handle_context_manager():
    m = ember.nn.Identity()
    log = []
    with m.register_forward_hook(lambda mod, a, o: log.append(1)):
        m(ember.ones(1))
    m(ember.ones(1))
    assert log == [1]


# ---- containers ---------------------------------------------------------------------------


@pytest.mark.parametrize("ops", [
    lambda s, nn: s.append(nn.Linear(1, 2)),
    lambda s, nn: s.insert(1, nn.Linear(5, 5)),
    lambda s, nn: s.insert(-1, nn.Linear(5, 5)),
    lambda s, nn: s.extend([nn.Linear(7, 7), nn.Identity()]),
    lambda s, nn: s.pop(1),
    lambda s, nn: s.__delitem__(slice(0, 2)),
    lambda s, nn: s.__delitem__(-1),
    lambda s, nn: s.__setitem__(0, nn.Linear(9, 9)),
    lambda s, nn: s.__iadd__(nn.Sequential(nn.Identity())),
    lambda s, nn: s.__imul__(2),
])
def test_sequential_mutations(ops):
    def run(lib):
        nn = lib.nn
        s = nn.Sequential(nn.Linear(1, 1), nn.Linear(2, 2), nn.Linear(3, 3))
        ops(s, nn)
        return repr(s), len(s)

    assert run(ember) == run(torch)


def test_sequential_indexing_and_arith():
    def run(lib):
        nn = lib.nn
        s = nn.Sequential(OrderedDict(a=nn.Linear(1, 1), b=nn.Identity(), c=nn.Linear(3, 3)))
        out = [repr(s[1:]), repr(s[::-1]), repr(s[-1]), repr(s + s), repr(s * 2),
               repr(2 * s), type(s[0:1]).__name__, [type(m).__name__ for m in s]]
        return out

    assert run(ember) == run(torch)


def test_modulelist_and_moduledict():
    def run(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.Linear(1, 1), nn.Identity()])
        ml.append(nn.Linear(1, 1))
        ml.insert(0, nn.Identity())
        ml += [nn.Linear(2, 2)]
        ml.extend([nn.Linear(2, 2)])
        popped = ml.pop(1)
        del ml[-1]
        combined = ml + nn.ModuleList([nn.Identity()])
        md = nn.ModuleDict({"b": nn.Identity(), "a": nn.Linear(1, 1)})
        md.update([("c", nn.Identity())])
        md["d"] = nn.Linear(2, 1)
        md_pop = md.pop("b")
        return [repr(ml), repr(popped), repr(combined), repr(ml[1:3]), len(ml), repr(md),
                list(md.keys()), "a" in md, repr(md_pop), len(md)]

    assert run(ember) == run(torch)


def test_parameterlist_and_parameterdict():
    def run(lib):
        nn = lib.nn
        pl = nn.ParameterList([lib.ones(2)])
        pl.append(nn.Parameter(lib.zeros(1, 3)))
        pl.extend([lib.ones(1, dtype=lib.float64)])
        pl[0] = lib.full((4,), 2.0)
        pd = nn.ParameterDict({"b": lib.ones(1), "a": nn.Parameter(lib.zeros(2))})
        pd["c"] = lib.ones(3)
        pd.update(OrderedDict(z=lib.ones(1), y=lib.ones(1)))
        popped = pd.pop("a")
        return [repr(pl), len(pl), repr(pl[1:]), [type(p).__name__ for p in pl],
                repr(pd), list(pd.keys()), len(pd), "b" in pd, repr(popped),
                [n for n, _ in pd.named_parameters()], [n for n, _ in pl.named_parameters()],
                repr(pd | nn.ParameterDict({"q": lib.ones(1)})), pd.get("nope", 3)]

    assert run(ember) == run(torch)


# ---- pickling and copies ------------------------------------------------------------------


def test_pickle_and_deepcopy_module():
    torch.manual_seed(0)
    ember.manual_seed(0)
    m = stateful_model(ember)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert repr(clone) == repr(m)
        assert list(clone.state_dict()) == list(m.state_dict())
        for (name, a), b in zip(m.state_dict().items(), clone.state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        assert isinstance(clone.fc1.weight, ember.nn.Parameter)
        assert clone.fc1.weight is not m.fc1.weight
        x = ember.ones(2, 3)
        np.testing.assert_array_equal(clone.fc1(x).detach().numpy(), m.fc1(x).detach().numpy())
        assert "cache" in dict(clone.named_buffers())
        assert "cache" not in clone.state_dict()


def test_pickle_module_after_a_training_step_as_torch():
    # a parameter that has been through forward and backward carries the node that
    # accumulates its gradient; a pickle leaves it out, as .grad and hooks (torch's too)
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 2)
        m.weight.note = "kept"
        m(lib.ones(4, 3)).pow(2).sum().backward()
        m.weight.register_hook(lambda g: g)
        clone = pickle.loads(pickle.dumps(m))
        results[lib] = (type(clone.weight).__name__, clone.weight.grad, clone.weight.note,
                        clone.weight.requires_grad, m.weight.detach().numpy().tolist(),
                        clone.weight.detach().numpy().tolist())
        clone(lib.ones(1, 3)).sum().backward()  # trains on
        assert clone.weight.grad is not None
    assert results[ember] == results[torch]
    assert results[ember][4] == results[ember][5]


# ---- end to end ---------------------------------------------------------------------------


def test_mlp_sgd_training_matches_torch():
    def train(lib):
        nn = lib.nn
        lib.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 1))
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((32, 4))).float()
        y = lib.tensor(rng.standard_normal((32, 1))).float()
        losses = []
        for _ in range(20):
            h = model[0](x)
            h = h * (h > 0)  # ReLU written with basic ops: activations are another file
            loss = ((model[1](h) - y) ** 2).mean()
            model.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            losses.append(loss.item())
        return np.array(losses)

    e_losses, t_losses = train(ember), train(torch)
    np.testing.assert_allclose(e_losses, t_losses, rtol=1e-5)
    assert e_losses[-1] < e_losses[0]


# ---- the deprecated non-full backward hook -----------------------------------------------


def _non_full_hook_run(lib):
    """Hooks on modules of one node, several nodes, tuple and two-input outputs; a hook that
    replaces its grad_input. Returns what the hooks saw, the input's gradients and the
    warnings."""
    seen = []

    class Square(lib.nn.Module):
        def forward(self, a):
            return a * a

    class Pair(lib.nn.Module):
        def forward(self, a, b):
            return a * b + 1, a - b

    class Nested(lib.nn.Module):
        def forward(self, a):
            return {"aux": [a], "out": a.exp()}

    lib.manual_seed(0)
    modules = [lib.nn.Linear(3, 2), lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.ReLU()),
               Square(), Pair(), Nested()]

    def hook(module, grad_input, grad_output):
        seen.append((type(module).__name__, grad_input, grad_output))

    for m in modules:
        m.register_backward_hook(hook)
    doubling = Square()
    doubling.register_backward_hook(lambda m, gi, go: tuple(g * 2 for g in gi))
    x = lib.tensor(np.arange(12.0).reshape(4, 3) / 7, dtype=lib.float32, requires_grad=True)
    grads = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m in modules[:3]:
            m(x).sum().backward()
        modules[2](x * 2).sum().backward()
        p, q = modules[3](x, x[:, :1])
        (p.sum() + q.sum()).backward()
        modules[4](x)["out"][0].sum().backward()
        grads.append(x.grad.clone())
        x.grad = None
        doubling(x * 1).sum().backward()
        grads.append(x.grad)
    messages = [(w.category.__name__, str(w.message)) for w in caught]
    return seen, grads, messages


def test_register_backward_hook_sees_the_last_node():
    t_seen, t_grads, t_messages = _non_full_hook_run(torch)
    e_seen, e_grads, e_messages = _non_full_hook_run(ember)
    assert e_messages == t_messages
    assert [s[0] for s in e_seen] == [s[0] for s in t_seen]
    for (_, e_in, e_out), (_, t_in, t_out) in zip(e_seen, t_seen):
        assert len(e_in) == len(t_in) and len(e_out) == len(t_out)
        for e, t in zip(e_in + e_out, t_in + t_out):
            assert (e is None) == (t is None)
            if t is not None:
                assert_same(e, t)
    for e, t in zip(e_grads, t_grads):
        assert_same(e, t)


def test_register_backward_hook_mixing_errors():
    check_raises_like(lambda lib: _mixed(lib, full_first=True))
    check_raises_like(lambda lib: _mixed(lib, full_first=False))


def _mixed(lib, full_first: bool):
    m = lib.nn.ReLU()
    if full_first:
        m.register_full_backward_hook(lambda *a: None)
        m.register_backward_hook(lambda *a: None)
    else:
        m.register_backward_hook(lambda *a: None)
        m.register_full_backward_hook(lambda *a: None)


def test_module_compile_as_torch() -> None:
    # Module.compile did not exist (AttributeError); torch's compiles the module's calls in
    # place: the same class, state dict and repr, None returned, and its eager results (torch's
    # own compile is not run here: importing its compiler takes seconds)
    x_np = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    results = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        if lib is ember:
            assert m.compile() is None
        steps = []
        for _ in range(3):
            out = m(lib.tensor(x_np))
            out.sum().backward()
            steps.append((out.detach(), m[0].weight.grad.clone()))
            m.zero_grad()
        results[lib] = (type(m).__name__, list(m.state_dict()), repr(m), steps)
    t, e = results[torch], results[ember]
    assert e[:3] == t[:3]
    for (e_out, e_grad), (t_out, t_grad) in zip(e[3], t[3]):
        assert_same(e_out, t_out)
        assert_same(e_grad, t_grad)
    assert ember.nn.Module.T_destination.__name__ == torch.nn.Module.T_destination.__name__
    assert str(inspect.signature(ember.nn.Module.compile, eval_str=True)) == str(
        inspect.signature(torch.nn.Module.compile))
