"""channels_last through the nn ops, compared with torch: the strides of every result and of
every input gradient (for an incoming gradient laid out like the result and for a C-ordered
one), the values, the layout AccumulateGrad gives a leaf's gradient, and a small CNN trained
one step in channels_last."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_same, check_gradcheck, recording_compared, torch

CL, CL3 = "channels_last", "channels_last_3d"


def _tensor(lib, array: np.ndarray, fmt: str | None, grad: bool = True):
    t = lib.tensor(array)
    if fmt is not None:
        t = t.contiguous(memory_format=getattr(lib, fmt))
    return t.requires_grad_(grad) if grad else t


def _cotangent(lib, out, rng_seed: int, like_result: bool):
    """A random cotangent for ``out``: laid out with ``out``'s strides, or C-ordered."""
    values = np.random.default_rng(rng_seed).standard_normal(tuple(out.shape))
    values = values.astype(np.float64 if out.dtype == lib.float64 else np.float32)
    cot = lib.tensor(values)
    if like_result:
        cot = lib.empty_strided(tuple(out.shape), out.stride(), dtype=out.dtype).copy_(cot)
    return cot


def compare_layouts(fn, inputs: list, *, dtype: str = "float32", seed: int = 0) -> None:
    """``fn(lib, *tensors)`` on ember and torch: the inputs (shape, format or None, and
    whether differentiable) made from one seed; compares the result's values and strides
    (each output of a tuple), then each differentiable input's gradient for a random
    cotangent laid out like the result and for a C-ordered one: values and strides."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape, _, _ in inputs]
    with recording_compared() as run:
        for like_result in (True, False):
            results = {}
            for lib in (ember, torch):
                xs = [_tensor(lib, a, fmt, grad) for a, (_, fmt, grad) in zip(arrays, inputs)]
                out = run(lib, fn, *xs)
                outs = out if isinstance(out, tuple) else (out,)
                wanted = [x for x, (_, _, grad) in zip(xs, inputs) if grad]
                cot = _cotangent(lib, outs[0], seed + 1, like_result)
                grads = lib.autograd.grad(outs[0], wanted, cot, allow_unused=True)
                results[lib.__name__] = outs, grads
            (e_outs, e_grads), (t_outs, t_grads) = results["ember"], results["torch"]
            for i, (e, t) in enumerate(zip(e_outs, t_outs)):
                assert_same(e, t, what=f"output {i}")
                assert e.stride() == t.stride(), f"output {i} strides"
            for i, (e, t) in enumerate(zip(e_grads, t_grads)):
                assert (e is None) == (t is None)
                if t is None:
                    continue
                what = f"gradient {i} (cotangent {'like the result' if like_result else 'C'})"
                assert_same(e, t, what=what)
                assert e.stride() == t.stride(), f"{what} strides: {e.stride()} {t.stride()}"


def F(lib):
    return lib.nn.functional


X4 = (2, 4, 7, 6)
X5 = (2, 3, 4, 6, 5)

# (name, fn, inputs): the inputs are (shape, format, differentiable)
CASES = [
    ("conv2d x", lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
     [(X4, CL, True), ((6, 4, 3, 3), None, True), ((6,), None, True)]),
    ("conv2d w", lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
     [(X4, None, True), ((6, 4, 3, 3), CL, True), ((6,), None, True)]),
    ("conv2d both", lambda lib, x, w: F(lib).conv2d(x, w, stride=2, dilation=(1, 2)),
     [(X4, CL, True), ((6, 4, 3, 2), CL, True)]),
    ("conv2d groups", lambda lib, x, w: F(lib).conv2d(x, w, groups=2, padding=(0, 1)),
     [(X4, CL, True), ((6, 2, 3, 3), None, True)]),
    ("conv2d depthwise", lambda lib, x, w: F(lib).conv2d(x, w, groups=4, padding=2),
     [(X4, CL, True), ((4, 1, 3, 3), None, True)]),
    ("conv2d 1x1", lambda lib, x, w: F(lib).conv2d(x, w),
     [(X4, CL, True), ((6, 4, 1, 1), None, True)]),
    ("conv2d C", lambda lib, x, w: F(lib).conv2d(x, w, padding=1),
     [(X4, None, True), ((6, 4, 3, 3), None, True)]),
    ("conv3d", lambda lib, x, w: F(lib).conv3d(x, w, padding=1),
     [(X5, CL3, True), ((4, 3, 2, 3, 2), None, True)]),
    ("conv_transpose2d", lambda lib, x, w, b: F(lib).conv_transpose2d(x, w, b, stride=2,
                                                                      padding=1),
     [(X4, CL, True), ((4, 3, 3, 3), None, True), ((3,), None, True)]),
    ("conv_transpose2d w", lambda lib, x, w: F(lib).conv_transpose2d(x, w, groups=2),
     [(X4, None, True), ((4, 2, 3, 3), CL, True)]),
    ("max_pool2d", lambda lib, x: F(lib).max_pool2d(x, 3, 2, 1, return_indices=True),
     [(X4, CL, True)]),
    ("max_pool2d dilated", lambda lib, x: F(lib).max_pool2d(x, 2, 1, 0, 2), [(X4, CL, True)]),
    ("max_pool3d", lambda lib, x: F(lib).max_pool3d(x, 2, return_indices=True),
     [(X5, CL3, True)]),
    ("avg_pool2d", lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1), [(X4, CL, True)]),
    ("avg_pool2d divisor", lambda lib, x: F(lib).avg_pool2d(x, 2, divisor_override=3),
     [(X4, CL, True)]),
    ("avg_pool3d", lambda lib, x: F(lib).avg_pool3d(x, 2), [(X5, CL3, True)]),
    ("lp_pool2d", lambda lib, x: F(lib).lp_pool2d(x.abs() + 0.5, 2, 2), [(X4, CL, True)]),
    ("adaptive_avg_pool2d", lambda lib, x: F(lib).adaptive_avg_pool2d(x, (3, 4)),
     [(X4, CL, True)]),
    ("adaptive_avg_pool3d", lambda lib, x: F(lib).adaptive_avg_pool3d(x, 2), [(X5, CL3, True)]),
    ("adaptive_max_pool2d", lambda lib, x: F(lib).adaptive_max_pool2d(x, (3, 4), True),
     [(X4, CL, True)]),
    ("adaptive_max_pool3d", lambda lib, x: F(lib).adaptive_max_pool3d(x, 2, True),
     [(X5, CL3, True)]),
    ("nearest", lambda lib, x: F(lib).interpolate(x, scale_factor=2), [(X4, CL, True)]),
    ("nearest-exact", lambda lib, x: F(lib).interpolate(x, size=(9, 5), mode="nearest-exact"),
     [(X4, CL, True)]),
    ("nearest3d", lambda lib, x: F(lib).interpolate(x, scale_factor=2), [(X5, CL3, True)]),
    ("bilinear", lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="bilinear"),
     [(X4, CL, True)]),
    ("bilinear corners", lambda lib, x: F(lib).interpolate(x, size=(9, 9), mode="bilinear",
                                                           align_corners=True),
     [(X4, CL, True)]),
    ("bilinear antialias", lambda lib, x: F(lib).interpolate(x, scale_factor=0.5,
                                                             mode="bilinear", antialias=True),
     [(X4, CL, True)]),
    ("bicubic", lambda lib, x: F(lib).interpolate(x, size=(9, 9), mode="bicubic"),
     [(X4, CL, True)]),
    ("bicubic antialias", lambda lib, x: F(lib).interpolate(x, scale_factor=0.5,
                                                            mode="bicubic", antialias=True),
     [(X4, CL, True)]),
    ("trilinear", lambda lib, x: F(lib).interpolate(x, scale_factor=2, mode="trilinear"),
     [(X5, CL3, True)]),
    ("area", lambda lib, x: F(lib).interpolate(x, size=(3, 3), mode="area"), [(X4, CL, True)]),
    ("pad constant", lambda lib, x: F(lib).pad(x, (1, 2, 0, 1)), [(X4, CL, True)]),
    ("pad reflect", lambda lib, x: F(lib).pad(x, (1, 1, 2, 1), mode="reflect"),
     [(X4, CL, True)]),
    ("pad replicate", lambda lib, x: F(lib).pad(x, (1, 1, 2, 1), mode="replicate"),
     [(X4, CL, True)]),
    ("gelu", lambda lib, x: F(lib).gelu(x), [(X4, CL, True)]),
    ("gelu tanh", lambda lib, x: F(lib).gelu(x, approximate="tanh"), [(X4, CL, True)]),
    ("relu", lambda lib, x: F(lib).relu(x), [(X4, CL, True)]),
    ("batch_norm", lambda lib, x, w, b: F(lib).batch_norm(x, None, None, w, b, training=True),
     [(X4, CL, True), ((4,), None, True), ((4,), None, True)]),
    ("batch_norm 3d", lambda lib, x: F(lib).batch_norm(x, None, None, training=True),
     [(X5, CL3, True)]),
    ("batch_norm eval", lambda lib, x, m: F(lib).batch_norm(x, m, m.abs() + 1),
     [(X4, CL, True), ((4,), None, False)]),
    ("group_norm", lambda lib, x: F(lib).group_norm(x, 2), [(X4, CL, True)]),
    ("instance_norm", lambda lib, x: F(lib).instance_norm(x), [(X4, CL, True)]),
    ("layer_norm", lambda lib, x: F(lib).layer_norm(x, (7, 6)), [(X4, CL, True)]),
    ("softmax", lambda lib, x: F(lib).softmax(x, 1), [(X4, CL, True)]),
    ("softmax dim0", lambda lib, x: x.softmax(0), [(X4, CL, True)]),
    ("log_softmax", lambda lib, x: F(lib).log_softmax(x, 1), [(X4, CL, True)]),
    ("sum keepdim", lambda lib, x: x.sum(1, keepdim=True), [(X4, CL, True)]),
    ("sum", lambda lib, x: x.sum(2), [(X4, CL, True)]),
    ("sum spatial", lambda lib, x: x.sum((2, 3), keepdim=True), [(X4, CL, True)]),
    ("mean keepdim", lambda lib, x: x.mean(1, keepdim=True), [(X4, CL, True)]),
    ("mean", lambda lib, x: x.mean(2), [(X4, CL, True)]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES,
                         ids=[c.values[0] if hasattr(c, "values") else c[0] for c in CASES])
def test_channels_last_layouts_match_torch(name, fn, inputs):
    compare_layouts(fn, inputs)


CASES_FLOAT64 = [
    # torch's float64 convolutions honour channels_last but not channels_last_3d, and give
    # the weight gradient the weight's own strides where those are in the format
    ("conv2d depthwise", CASES[4][1], CASES[4][2]),
    ("conv2d 1x1", CASES[5][1], CASES[5][2]),
    ("conv2d 1x1 w", lambda lib, x, w: F(lib).conv2d(x, w),
     [(X4, CL, True), ((6, 4, 1, 1), CL, True)]),
    ("conv2d x", CASES[0][1], CASES[0][2]),
    ("conv3d", CASES[7][1], CASES[7][2]),
    ("conv_transpose2d", CASES[8][1], CASES[8][2]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES_FLOAT64, ids=[c[0] for c in CASES_FLOAT64])
def test_channels_last_layouts_match_torch_float64(name, fn, inputs):
    compare_layouts(fn, inputs, dtype="float64")


@settings(max_examples=25, deadline=None)
@given(kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.integers(0, 2), groups=st.sampled_from([1, 2, 4]),
       formats=st.sampled_from([(CL, None), (None, CL), (CL, CL)]),
       transposed=st.booleans())
def test_channels_last_convolutions_hypothesis(kernel, stride, dilation, padding, groups,
                                               formats, transposed):
    if transposed:
        weight = (4, 8 // groups) + kernel

        def fn(lib, x, w):
            return F(lib).conv_transpose2d(x, w, None, stride, padding, 0, groups, dilation)
    else:
        weight = (8, 4 // groups) + kernel

        def fn(lib, x, w):
            return F(lib).conv2d(x, w, None, stride, padding, dilation, groups)
    compare_layouts(fn, [((2, 4, 8, 7), formats[0], True), (weight, formats[1], True)])


@pytest.mark.parametrize("transposed", [False, True])
def test_channels_last_convolution_gradcheck(transposed):
    # float64 first and second derivatives through the channels-last kernels
    def f(lib, x, w):
        x = x.contiguous(memory_format=lib.channels_last)
        conv = F(lib).conv_transpose2d if transposed else F(lib).conv2d
        return conv(x, w, padding=1)
    check_gradcheck(f, [(1, 2, 4, 3), (2, 3, 2, 2) if transposed else (3, 2, 2, 2)])


# ---- AccumulateGrad ------------------------------------------------------------------------


def _leaf(lib, shape, make):
    return make(lib, lib.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape)))


LEAVES = [
    ("channels_last", (2, 3, 4, 5), lambda lib, t: t.contiguous(memory_format=lib.channels_last)),
    ("channels_last N=1", (1, 3, 4, 5),
     lambda lib, t: t.contiguous(memory_format=lib.channels_last)),
    ("channels_last C=1", (2, 1, 4, 5),
     lambda lib, t: t.contiguous(memory_format=lib.channels_last)),
    ("channels_last HW=1", (2, 3, 1, 1),
     lambda lib, t: t.contiguous(memory_format=lib.channels_last)),
    ("channels_last_3d", (2, 3, 2, 4, 5),
     lambda lib, t: t.contiguous(memory_format=lib.channels_last_3d)),
    ("transposed", (3, 4), lambda lib, t: t.t()),
    ("permuted", (2, 3, 4, 5), lambda lib, t: t.permute(0, 2, 1, 3)),
    ("sliced", (4, 6), lambda lib, t: t[:, ::2]),
    ("sliced transposed", (4, 6), lambda lib, t: t.t()[::2]),
    ("expanded", (3, 1), lambda lib, t: t.expand(3, 4)),
    ("contiguous", (2, 3, 4, 5), lambda lib, t: t),
]
UPSTREAMS = [
    ("mul", lambda lib, x: (x * 2).sum()),
    ("sum", lambda lib, x: x.sum()),
    ("to channels_last", lambda lib, x: (x.contiguous(memory_format=lib.channels_last) * 2)
     .sum() if x.dim() == 4 else (x * 2).sum()),
    ("twice", lambda lib, x: (x * x).sum() + (x * 3).sum()),
]


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=[u[0] for u in UPSTREAMS])
@pytest.mark.parametrize("leaf", LEAVES, ids=[leaf[0] for leaf in LEAVES])
def test_leaf_gradient_layout_matches_torch(leaf, upstream):
    _, shape, make = leaf
    with recording_compared("torch.Tensor.grad", "torch.Tensor.backward") as run:
        grads = []
        for lib in (ember, torch):
            x = _leaf(lib, shape, make).detach().requires_grad_()

            def backward(lib, x):
                upstream[1](lib, x).backward(retain_graph=True)
                return x.grad
            grads.append(run(lib, backward, x))
            # a second backward adds into the gradient in place: the layout stays
            upstream[1](lib, x).backward()
            grads.append(x.grad)
        assert_same(grads[0], grads[2])
        assert_same(grads[1], grads[3])
        assert grads[0].stride() == grads[2].stride()
        assert grads[1].stride() == grads[3].stride()


# ---- a small CNN in channels_last ------------------------------------------------------------


def _cnn(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, stride=2, groups=2)
            self.fc = nn.Linear(8 * 4, 5)

        def forward(self, x):
            steps = []
            x = self.conv1(x)
            steps.append(x)
            x = nn.functional.relu(self.bn(x))
            steps.append(x)
            x = nn.functional.max_pool2d(x, 2)
            steps.append(x)
            x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear")
            steps.append(x)
            x = nn.functional.gelu(self.conv2(x))
            steps.append(x)
            x = nn.functional.adaptive_avg_pool2d(x, (2, 2))
            steps.append(x)
            return self.fc(x.flatten(1)), steps
    return Net()


def test_small_cnn_in_channels_last_matches_torch():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    target = rng.integers(0, 5, 4)
    t_model = _cnn(torch)
    e_model = _cnn(ember)
    e_model.load_state_dict({k: ember.tensor(v.detach().numpy())
                             for k, v in t_model.state_dict().items()})
    with recording_compared() as run:
        results = {}
        for lib, model in ((ember, e_model), (torch, t_model)):
            model = model.to(memory_format=lib.channels_last)
            x = lib.tensor(data).contiguous(memory_format=lib.channels_last)

            def step(lib, x, model):
                out, steps = model(x)
                loss = lib.nn.functional.cross_entropy(out, lib.tensor(target))
                loss.backward()
                return out, steps
            out, steps = run(lib, step, x, model)
            params = dict(model.named_parameters())
            results[lib.__name__] = out, steps, params
        (e_out, e_steps, e_params), (t_out, t_steps, t_params) = (results["ember"],
                                                                 results["torch"])
        assert_same(e_out, t_out)
        for i, (e, t) in enumerate(zip(e_steps, t_steps)):
            assert_same(e, t, what=f"step {i}")
            assert e.stride() == t.stride(), f"step {i} strides"
        for name, t in t_params.items():
            e = e_params[name]
            assert e.stride() == t.stride(), f"{name} strides"
            assert_same(e.grad, t.grad, what=f"{name}.grad")
            assert e.grad.stride() == t.grad.stride(), f"{name}.grad strides"
