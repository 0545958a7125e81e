"""What a recorded graph keeps alive, compared with torch on the same code: a node keeps the
inputs its formulas read for the inputs that need a gradient, and nothing else (``x * 2.0``
does not keep ``x``), so intermediate tensors of a long chain die as torch's do; the
gradients and ``grad_fn._saved_*`` values of the ops whose saving depends on which inputs
need a gradient match torch's."""
from __future__ import annotations

import functools
import gc
import weakref

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_op, to_numpy, torch

# (input ``a`` requires grad, ``y`` does not): whether the op's node keeps ``a``.
KEEPS = {
    "a * 2.0": lambda L, a, y: a * 2.0,
    "2.0 * a": lambda L, a, y: 2.0 * a,
    "a * y": lambda L, a, y: a * y,
    "y * a": lambda L, a, y: y * a,
    "a * a": lambda L, a, y: a * a,
    "a / 2.0": lambda L, a, y: a / 2.0,
    "a / y": lambda L, a, y: a / y,
    "y / a": lambda L, a, y: y / a,
    "remainder(a, y)": lambda L, a, y: L.remainder(a, y),
    "remainder(y, a)": lambda L, a, y: L.remainder(y, a),
    "fmod(a, y)": lambda L, a, y: L.fmod(a, y),
    "fmod(y, a)": lambda L, a, y: L.fmod(y, a),
    "lerp(a, y, y)": lambda L, a, y: L.lerp(a, y, y),
    "lerp(y, a, y)": lambda L, a, y: L.lerp(y, a, y),
    "lerp(y, y, a)": lambda L, a, y: L.lerp(y, y, a),
    "hypot(a, y)": lambda L, a, y: L.hypot(a, y),
    "hypot(y, a)": lambda L, a, y: L.hypot(y, a),
    "copysign(a, y)": lambda L, a, y: L.copysign(a, y),
    "copysign(y, a)": lambda L, a, y: L.copysign(y, a),
    "addcmul(y, a, y)": lambda L, a, y: L.addcmul(y, a, y),
}


def _input_kept(L, fn) -> bool:
    x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x.exp()  # a non-leaf that only this scope holds (exp saves its result, not ``a``)
    y = L.tensor([0.5, -1.5, 2.5])
    out = fn(L, a, y)
    ref = weakref.ref(a)
    del a
    kept = ref() is not None
    assert out.grad_fn is not None
    return kept


@pytest.mark.parametrize("case", list(KEEPS))
def test_a_node_keeps_an_input_only_when_torch_does(case: str) -> None:
    # Without a garbage collection: ember's graph has no cycles, so what dies dies at once.
    assert _input_kept(ember, KEEPS[case]) == _input_kept(torch, KEEPS[case])


def _live_tensors(L) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), L.Tensor))


@pytest.mark.parametrize("step", [lambda y: y * 1.0001 + 1e-4, lambda y: (y / 3.0).sin() * 2.0])
def test_a_long_chain_keeps_no_intermediate_tensors(step) -> None:
    counts = []
    for L in (torch, ember):
        x = L.tensor(1.0, requires_grad=True)
        before = _live_tensors(L)
        y = x
        for _ in range(200):
            y = step(y)
        counts.append(_live_tensors(L) - before)
        y.backward()
        counts.append(x.grad.item())
    assert counts[0] == counts[2]  # only ``y`` (torch keeps no Python tensors in its graph)
    assert counts[3] == pytest.approx(counts[1])


SAVED = {name: KEEPS[name] for name in (
    "a * y", "y * a", "a * a", "a / y", "y / a", "remainder(a, y)", "remainder(y, a)",
    "fmod(a, y)", "fmod(y, a)", "lerp(a, y, y)", "lerp(y, a, y)", "lerp(y, y, a)",
    "hypot(a, y)", "hypot(y, a)", "copysign(y, a)")}
_SAVED_NAMES = ("self", "other", "end", "weight", "result")


def _saved(L, fn) -> dict:
    a = L.tensor([1.5, -2.0, 3.0], requires_grad=True)
    y = L.tensor([0.5, -1.5, 2.5])
    node = fn(L, a, y).grad_fn
    out = {}
    for name in _SAVED_NAMES:
        try:
            out[name] = getattr(node, "_saved_" + name)
        except AttributeError:
            pass
    return out


@pytest.mark.parametrize("case", list(SAVED))
def test_saved_values_match_torch(case: str) -> None:
    t_saved = _saved(torch, SAVED[case])
    e_saved = _saved(ember, SAVED[case])
    for name, t in t_saved.items():
        assert name in e_saved, f"_saved_{name} missing"
        if t is None:
            assert e_saved[name] is None, f"_saved_{name}: torch keeps nothing"
        else:
            assert e_saved[name] is not None, f"_saved_{name}: torch keeps it"
            assert_same(e_saved[name], t, what=f"_saved_{name}")


@pytest.mark.parametrize("case", ["a * y", "y / a", "remainder(a, y)", "lerp(a, y, y)"])
def test_saved_values_after_backward_match_torch(case: str) -> None:
    # An input that was never saved reads None after backward; a saved one raises.
    outcomes = []
    for L in (torch, ember):
        a = L.tensor([1.5, -2.0, 3.0], requires_grad=True)
        y = L.tensor([0.5, -1.5, 2.5])
        out = SAVED[case](L, a, y)
        out.sum().backward()
        for name in ("self", "other", "end", "weight"):
            try:
                value = getattr(out.grad_fn, "_saved_" + name)
                outcomes.append((name, "None" if value is None else "value"))
            except AttributeError:
                outcomes.append((name, "absent"))
            except RuntimeError as exc:
                outcomes.append((name, str(exc)))
    half = len(outcomes) // 2
    for (name, e), (_, t) in zip(outcomes[half:], outcomes[:half]):
        if t != "absent":
            assert e == t, f"_saved_{name}"


@pytest.mark.parametrize("fn", [
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2.0,
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) / 2.0,
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * L.tensor([3.0, 4.0]),
    lambda L: L.remainder(L.tensor([1.0, 2.0], requires_grad=True), L.tensor([3.0, 4.0])),
    lambda L: L.fmod(L.tensor([1.0, 2.0], requires_grad=True), L.tensor([3.0, 4.0])),
    lambda L: L.remainder(L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0], requires_grad=True)),
], ids=["mul-number", "div-number", "mul-tensor", "remainder-self", "fmod-self",
        "remainder-other"])
def test_second_backward_raises_where_torch_does(fn) -> None:
    # A node that saved something (a number included: torch saves it as a tensor) refuses a
    # second backward without retain_graph; one that saved nothing runs it again.
    outcomes = []
    for L in (torch, ember):
        loss = fn(L).sum()
        loss.backward()
        try:
            loss.backward()
            outcomes.append(None)
        except RuntimeError as exc:
            outcomes.append(str(exc))
    assert outcomes[1] == outcomes[0]


# Gradients through the ops whose saving depends on which inputs need a gradient, with
# every subset of the inputs detached.
GRAD_ROWS = {
    "mul": lambda L, a, b: a * b,
    "mul-a": lambda L, a, b: a * b.detach(),
    "mul-b": lambda L, a, b: a.detach() * b,
    "mul-number": lambda L, a, b: a * 2.5 + 1.5 * b,
    "mul-same": lambda L, a, b: a * a,
    "div": lambda L, a, b: a / b,
    "div-a": lambda L, a, b: a / b.detach(),
    "div-b": lambda L, a, b: a.detach() / b,
    "remainder": lambda L, a, b: L.remainder(a, b),
    "remainder-b": lambda L, a, b: L.remainder(a.detach(), b),
    "fmod-a": lambda L, a, b: L.fmod(a, b.detach()),
    "fmod-b": lambda L, a, b: L.fmod(a.detach(), b),
    "hypot-a": lambda L, a, b: L.hypot(a, b.detach()),
    "hypot-b": lambda L, a, b: L.hypot(a.detach(), b),
    "copysign-b": lambda L, a, b: L.copysign(a.detach(), b),
    "copysign": lambda L, a, b: L.copysign(a, b),
}


@pytest.mark.parametrize("name", list(GRAD_ROWS))
def test_gradients_match_torch(name: str) -> None:
    check_op(GRAD_ROWS[name], [(3, 4), (4,)], low=0.5, high=2.0)


LERP_ROWS = {
    "self": lambda L, a, b, w: L.lerp(a, b.detach(), w.detach()),
    "end": lambda L, a, b, w: L.lerp(a.detach(), b, w.detach()),
    "weight": lambda L, a, b, w: L.lerp(a.detach(), b.detach(), w),
    "all": lambda L, a, b, w: L.lerp(a, b, w),
}


@pytest.mark.parametrize("name", list(LERP_ROWS))
def test_lerp_gradients_match_torch(name: str) -> None:
    check_op(LERP_ROWS[name], [(3, 4), (4,), (3, 1)])


SECOND = {
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "hypot": lambda a, b: ember.hypot(a, b),
    "lerp": lambda a, b: ember.lerp(a, b, b * 0.25),
}


@pytest.mark.parametrize("wanted", [(True, False), (False, True)], ids=["first", "second"])
@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives(name: str, wanted: tuple) -> None:
    # Only one input requires grad, so the node keeps only what that input's formula reads.
    rng = np.random.default_rng(0)
    inputs = [ember.tensor(rng.uniform(0.5, 2.0, shape), dtype=ember.float64,
                           requires_grad=flag) for shape, flag in zip([(2, 3), (3,)], wanted)]
    assert ember.autograd.gradcheck(SECOND[name], inputs)
    assert ember.autograd.gradgradcheck(SECOND[name], inputs)


def test_double_backward_through_mul_by_a_number_matches_torch() -> None:
    grads = []
    for L in (torch, ember):
        x = L.tensor([0.5, 1.5, -2.0], requires_grad=True)
        y = (x * 3.0) * x.exp()
        (g,) = L.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = L.autograd.grad((g * 2.0).sum(), x)
        grads.append((g.detach(), gg))
    assert_same(grads[1][0], grads[0][0])
    assert_same(grads[1][1], grads[0][1])


@pytest.mark.parametrize("case", ["a * 2.0", "a * y", "y / a", "remainder(a, y)",
                                  "lerp(a, y, y)", "hypot(y, a)"])
def test_pack_hooks_see_what_torch_saves(case: str) -> None:
    def pack(shapes: list, t):
        shapes.append(tuple(t.shape))
        return t

    packed = []
    for L in (torch, ember):
        shapes: list = []
        a = L.tensor([1.5, -2.0, 3.0], requires_grad=True)
        y = L.tensor([0.5, -1.5, 2.5])
        with L.autograd.graph.saved_tensors_hooks(functools.partial(pack, shapes),
                                                  lambda t: t):
            out = KEEPS[case](L, a, y)
        out.sum().backward()
        packed.append((shapes, a.grad))
    assert packed[1][0] == packed[0][0]
    assert_same(packed[1][1], packed[0][1], what="grad")


# ops whose nodes save numbers (parameters) beside tensors: after a backward that frees the
# graph torch still answers the numbers and refuses the tensors
AFTER_BACKWARD = {
    "pow": lambda L, x: x.pow(3), "pow-root": lambda L, x: x.pow(-0.5),
    "clamp": lambda L, x: L.clamp(x, 0.5, 1.8), "clamp-min": lambda L, x: L.clamp(x, min=0.5),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.3),
    "elu": lambda L, x: L.nn.functional.elu(x, 0.7), "selu": lambda L, x: L.selu(x),
    "elu-int": lambda L, x: L.nn.functional.elu(x, 2),
    "softplus": lambda L, x: L.nn.functional.softplus(x, 2.0, 10.0),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x, -0.5, 1.7),
    "threshold": lambda L, x: L.nn.functional.threshold(x, 1.6, 0.5),
    "hardshrink": lambda L, x: L.nn.functional.hardshrink(x, 0.6),
    "gelu": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
    "log_softmax": lambda L, x: L.log_softmax(x, 0), "cumsum": lambda L, x: L.cumsum(x, 0),
    "logit": lambda L, x: L.logit(x, 0.1), "polygamma": lambda L, x: L.polygamma(2, x),
    "lerp": lambda L, x: L.lerp(x, x * 2, 0.3),
    "addcmul": lambda L, x: L.addcmul(x, x, x, value=0.5),
    "sub": lambda L, x: L.sub(x, x * 2, alpha=3),
}


def _saved_outcomes(L, make) -> dict:
    x = L.tensor([0.3, 0.6], dtype=L.float64, requires_grad=True)
    y = make(L, x)
    y.sum().backward()
    node = y.grad_fn
    names = [a for a in dir(node) if a.startswith("_saved_")] if L is torch else None
    return node, names


@pytest.mark.parametrize("case", list(AFTER_BACKWARD))
def test_saved_parameters_after_backward_match_torch(case: str) -> None:
    t_node, names = _saved_outcomes(torch, AFTER_BACKWARD[case])
    e_node, _ = _saved_outcomes(ember, AFTER_BACKWARD[case])
    assert names
    for name in names:
        found = []
        for node in (t_node, e_node):
            try:
                value = getattr(node, name)
                found.append("tensor" if isinstance(value, (torch.Tensor, ember.Tensor))
                             else repr(value))
            except RuntimeError as exc:
                found.append(str(exc))
        assert found[1] == found[0], name


@pytest.mark.parametrize("case", ["sum", "sum-dim", "mean", "mean-dim-keepdim"])
def test_reductions_save_the_input_sizes_as_torch(case: str) -> None:
    make = {"sum": lambda x: x.sum(), "sum-dim": lambda x: x.sum(0),
            "mean": lambda x: x.mean(), "mean-dim-keepdim": lambda x: x.mean(1, keepdim=True)}
    found = {}
    for L in (torch, ember):
        x = L.ones(2, 3, dtype=L.float64, requires_grad=True)
        y = make[case](x)
        node = y.grad_fn
        before = node._saved_self_sym_sizes
        y.sum().backward()
        numel = node._saved_self_sym_numel if case.startswith("mean") else None
        found[L] = (node.name(), before, node._saved_self_sym_sizes, numel)
    assert found[ember] == found[torch]


SIZES_SAVED = {
    "view": lambda x: x.view(6, 4), "reshape": lambda x: x.reshape(4, 6),
    "slice": lambda x: x[1:], "select": lambda x: x[:, 1], "narrow": lambda x: x.narrow(1, 1, 2),
    "repeat": lambda x: x.repeat(2, 1, 1), "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "index": lambda x: x[[0, 1]], "expand": lambda x: x[:, :1].expand(2, 5, 4),
    "select-dim": lambda x: x.select(2, 1),
}


@pytest.mark.parametrize("case", list(SIZES_SAVED))
def test_shape_nodes_save_the_input_sizes_as_torch(case: str) -> None:
    found = {}
    for L in (torch, ember):
        x = L.ones(2, 3, 4, dtype=L.float64, requires_grad=True)
        y = SIZES_SAVED[case](x)
        node = y.grad_fn
        before = node._saved_self_sym_sizes
        y.sum().backward()
        found[L] = (node.name(), before, node._saved_self_sym_sizes)
    assert found[ember] == found[torch]


def test_rounded_division_saves_its_mode_as_torch() -> None:
    found = {}
    for L in (torch, ember):
        x = L.ones(3, requires_grad=True)
        found[L] = [L.div(x, 2.0, rounding_mode=m).grad_fn._saved_rounding_mode
                    for m in ("floor", "trunc")]
    assert found[ember] == found[torch] == ["floor", "trunc"]


# nodes whose saved names or values once differed from torch's: the tensor bounds of clamp
# (``_saved_min``/``_saved_max``), dot's ``_saved_tensor``, the number ``number ** x`` raises
# (``_saved_self``), erfinv's and nextafter's inputs, and the numbers torch wraps into 0-d
# tensors where its op takes a tensor (``x * 2``, ``2 / x``: ``_saved_other`` is
# ``tensor(2)``, of the number's default dtype)
SAVED_NAMES = {
    "clamp-tensors": lambda L, x: L.clamp(x, x.detach() - 0.2, x.detach() + 0.1),
    "dot": lambda L, x: L.dot(x, x.detach() * 2),
    "rpow": lambda L, x: 2.5 ** x,
    "mul-int": lambda L, x: x * 2, "rmul-float": lambda L, x: 2.5 * x,
    "mul-bool": lambda L, x: x * True, "mul-complex": lambda L, x: x * 1j,
    "div-float": lambda L, x: x / 2.5, "rdiv-int": lambda L, x: 3 / x,
    # erfinv keeps its input, not its result; nextafter keeps both inputs
    "erfinv": lambda L, x: L.erfinv(x), "nextafter": lambda L, x: L.nextafter(x, x * 2),
    # frexp keeps its exponent, not its input
    "frexp": lambda L, x: L.frexp(x)[0],
}


@pytest.mark.bitexact
def test_frexp_gradient_is_torchs_beyond_float32s_range():
    # torch divides by 2^exponent computed in the default dtype: past 2^128 a float64
    # input's gradient is 0 (and inf below 2^-128), where the exact value would be finite
    grads = []
    for L in (torch, ember):
        x = L.tensor([2.0 ** 200, 2.0 ** -200, 3.0, -0.75, 0.0], dtype=L.float64,
                     requires_grad=True)
        L.frexp(x)[0].sum().backward()
        grads.append(to_numpy(x.grad).tobytes())
    assert grads[1] == grads[0]


def _saved_view(node, names) -> list:
    found = []
    for name in names:
        try:
            value = getattr(node, name)
        except RuntimeError as exc:
            found.append((name, "raises", str(exc)))
            continue
        if isinstance(value, (torch.Tensor, ember.Tensor)):
            found.append((name, "tensor", repr(value.dtype).split(".")[-1],
                          tuple(value.shape), to_numpy(value).tolist()))
        else:
            found.append((name, repr(value)))
    return found


@pytest.mark.parametrize("case", list(SAVED_NAMES))
def test_saved_names_and_values_match_torch(case: str) -> None:
    seen = {}
    for L in (torch, ember):
        x = L.tensor([0.3, 0.6], dtype=L.float64, requires_grad=True)
        y = SAVED_NAMES[case](L, x)
        if L is torch:
            names = sorted(a for a in dir(y.grad_fn) if a.startswith("_saved_"))
        before = _saved_view(y.grad_fn, names)
        (y.abs() if y.is_complex() else y).sum().backward()
        seen[L] = (y.grad_fn.name(), before, _saved_view(y.grad_fn, names))
    assert names
    assert seen[ember] == seen[torch]


# ops whose nodes torchviz draws with their saved values (it finds them by ``dir``)
LISTED = {
    "mul": "a * b", "mul_number": "a * 2", "div": "a / b", "div_number": "a / 2",
    "pow": "a.pow(2)", "pow_tensor": "a.abs().pow(b)", "rpow": "2 ** a", "exp": "a.exp()",
    "log": "a.abs().log()", "sum": "a.sum()", "sum_dim": "a.sum(0)", "sum_none": "a.sum(None)",
    "mean": "a.mean()", "mean_dim": "a.mean(1, keepdim=True)", "bmm": "L.bmm(a[None], b.mT[None])",
    "relu": "a.relu()", "sigmoid": "a.sigmoid()", "tanh": "a.tanh()", "softmax": "a.softmax(1)",
    "log_softmax": "a.log_softmax(1)", "view": "a.view(6)", "reshape": "a.reshape(3, 2)",
    "flatten": "a.flatten()", "expand": "a[:1].expand(4, 3)", "cat": "L.cat([a, b], 1)",
    "stack": "L.stack([a, b])", "clamp": "a.clamp(-0.5, 0.5)", "clamp_min": "a.clamp(min=0)",
    "add": "a + b", "sub": "a - b", "neg": "-a", "sqrt": "a.abs().sqrt()", "abs": "a.abs()",
    "t": "a.t()", "transpose": "a.transpose(0, 1)", "permute": "a.permute(1, 0)",
    "unsqueeze": "a.unsqueeze(0)", "squeeze": "a[None].squeeze()",
    "squeeze_dim": "a[None].squeeze(0)",
    "max_dim": "a.max(1)[0]", "min_dim": "a.min(1)[0]", "median_dim": "a.median(1)[0]",
    "max": "a.max()", "amax": "a.amax(1)", "amin": "a.amin(())", "prod": "a.prod()",
    "prod_dim": "a.prod(0)", "gelu": "L.nn.functional.gelu(a)", "silu": "L.nn.functional.silu(a)",
    "leaky_relu": "L.nn.functional.leaky_relu(a)", "mse_loss": "L.nn.functional.mse_loss(a, b)",
    "where": "L.where(a > 0, a, b)", "index_select": "a.index_select(1, L.tensor([0, 2]))",
    "sin": "a.sin()", "cos": "a.cos()", "rsqrt": "a.abs().rsqrt()", "var": "a.var()",
    "std": "a.std(1)", "norm": "a.norm()", "norm_dim": "a.norm(dim=1)", "unbind": "a.unbind()[0]",
    "repeat": "a.repeat(2, 1)", "masked_fill": "a.masked_fill(a > 0, 0.0)", "double": "a.double()",
    "clone": "a.clone()", "contiguous": "a.t().contiguous()", "cumsum": "a.cumsum(1)",
    "sort": "a.sort(1)[0]", "topk": "a.topk(2)[0]",
}


@pytest.mark.parametrize("case", list(LISTED))
def test_saved_attributes_listed_as_torch(case: str) -> None:
    # dir(grad_fn) lists torch's _saved_* names (ember listed none), before and after
    # backward, and each one listed reads (before backward) as torch's does
    listed = []
    for L in (torch, ember):
        a = L.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
        b = L.tensor([[1.0, 2.0, 0.5], [-0.5, 1.5, 2.5]], requires_grad=True)
        node = eval(LISTED[case], {"L": L, "a": a, "b": b}).grad_fn
        names = [name for name in dir(node) if name.startswith("_saved_")]
        for name in names:
            getattr(node, name)
        out = eval(LISTED[case], {"L": L, "a": a, "b": b})
        out.sum().backward()
        after = [name for name in dir(out.grad_fn) if name.startswith("_saved_")]
        listed.append((names, after))
    assert listed[1] == listed[0]
