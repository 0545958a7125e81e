"""Every public torch name ember provides is compared against torch by some test.

The names come from torch itself (the namespaces in ``helpers.COVERED_NAMESPACES`` and
``torch.Tensor``); what was compared comes from the registry that each passing
``check_op`` fills (NOTE [Compared names] in tests/helpers.py), not from reading the test
files. This test runs last (tests/conftest.py) and needs the whole suite before it.
"""
from __future__ import annotations

import inspect
import types

import pytest

import ember
from tests import conftest
from tests.helpers import (
    ALL_ROWS,
    COMPARED,
    COVERED_NAMESPACES,
    REQUIRED_SHAPE_KINDS,
    SHAPE_CASES,
    SHAPE_CASES_SEEN,
    TENSOR_NAMESPACE,
    torch_namespace,
)

# Public names that are not tensor operations, so no value comparison applies: each is
# tested by the file named (state, modes, printing, types, the autograd machinery).
NOT_OPS = {
    "torch": {
        "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",  # test_random
        "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",  # test_autograd
        "is_grad_enabled", "is_inference_mode_enabled",
        "set_printoptions",  # test_printing
        "get_default_dtype", "set_default_dtype", "set_default_device",  # test_tensor
        "get_default_device", "promote_types", "can_cast", "is_tensor", "is_storage",
        "is_floating_point", "is_complex", "is_nonzero", "numel",
        "compile", "vmap", "typename",
    },
    TENSOR_NAMESPACE: {
        "backward", "register_hook", "register_post_accumulate_grad_hook",  # test_hooks
        "retain_grad", "retains_grad", "requires_grad_", "requires_grad", "grad", "grad_fn",
        "is_leaf", "detach_", "output_nr", "data", "tolist", "item", "numpy",
        "dim", "ndim", "ndimension", "size", "shape", "dtype", "device", "layout",
        "is_cuda", "is_cpu", "is_meta", "is_sparse", "is_quantized", "is_mkldnn",
        "is_floating_point", "is_complex", "is_signed", "is_contiguous", "is_shared",
        "stride", "storage_offset", "element_size", "data_ptr", "untyped_storage",
        "type", "cpu", "cuda", "to", "share_memory_", "is_set_to", "is_inference",
        "is_nonzero", "is_conj", "is_neg", "names", "nbytes", "itemsize", "_version",
    },
}


# Names not yet compared when the registry was introduced: the backlog of rows to add.
# The list may only shrink: a name outside it that no test compares fails the suite.
BACKLOG = frozenset("""
torch.abs_ torch.absolute torch.acos_ torch.acosh_ torch.addmv_ torch.allclose
torch.alpha_dropout_ torch.angle torch.arange torch.arccos_ torch.arccosh_ torch.arcsin
torch.arcsin_ torch.arcsinh torch.arcsinh_ torch.arctan torch.arctan2 torch.arctan_
torch.arctanh torch.arctanh_ torch.are_deterministic_algorithms_enabled torch.as_strided_
torch.as_tensor torch.asin_ torch.asinh_ torch.atan_ torch.atanh_ torch.bernoulli
torch.bincount torch.bitwise_and torch.bitwise_left_shift torch.bitwise_or
torch.broadcast_shapes torch.bucketize torch.ceil torch.ceil_ torch.celu_ torch.clamp_
torch.clamp_max torch.clamp_max_ torch.clamp_min_ torch.clip_ torch.clone torch.conj
torch.conj_physical torch.conj_physical_ torch.cos_ torch.cosh_ torch.cummax torch.deg2rad_
torch.det torch.detach torch.detach_ torch.div torch.divide torch.dropout_ torch.empty
torch.empty_like torch.eq torch.equal torch.erf_ torch.erfc torch.erfc_ torch.exp2_
torch.exp_ torch.expm1_ torch.feature_alpha_dropout_ torch.fill_ torch.fix torch.fix_
torch.floor_ torch.fmin torch.frac_ torch.from_numpy torch.full torch.full_like torch.gcd
torch.gcd_ torch.ge torch.ger torch.get_float32_matmul_precision
torch.get_num_interop_threads torch.get_num_threads torch.greater_equal torch.gt torch.histc
torch.i0_ torch.imag torch.index_put_ torch.inverse torch.is_anomaly_check_nan_enabled
torch.is_anomaly_enabled torch.is_conj torch.is_deterministic_algorithms_warn_only_enabled
torch.is_neg torch.isin torch.isinf torch.isposinf torch.lcm torch.lcm_ torch.ldexp_
torch.le torch.less torch.less_equal torch.linspace torch.log10_ torch.log1p_ torch.log2_
torch.log_ torch.logical_not torch.logical_or torch.logical_xor torch.logit_ torch.logspace
torch.lt torch.matrix_exp torch.matrix_power torch.mul torch.multinomial torch.multiply
torch.nan_to_num_ torch.ne torch.neg torch.neg_ torch.negative torch.negative_ torch.normal
torch.not_equal torch.ones_like torch.permute torch.pinverse torch.poisson torch.positive
torch.rad2deg torch.rad2deg_ torch.rand torch.rand_like torch.randint torch.randint_like
torch.randn torch.randn_like torch.randperm torch.real torch.reciprocal torch.reciprocal_
torch.relu_ torch.reshape torch.resolve_conj torch.resolve_neg torch.round_ torch.rrelu_
torch.rsqrt_ torch.rsub torch.scalar_tensor torch.searchsorted torch.select torch.selu_
torch.set_float32_matmul_precision torch.set_num_interop_threads torch.set_num_threads
torch.sigmoid_ torch.signbit torch.sin_ torch.sinc_ torch.sinh_ torch.slogdet
torch.split_with_sizes torch.sqrt_ torch.square_ torch.sub torch.svd torch.swapaxes torch.t
torch.tan_ torch.tanh_ torch.threshold_ torch.transpose torch.tril_indices
torch.triu_indices torch.trunc_ torch.unique torch.unravel_index
torch.use_deterministic_algorithms torch.xlogy_ torch.zero_ torch.zeros_like
torch.Tensor.abs_ torch.Tensor.absolute torch.Tensor.absolute_ torch.Tensor.acos
torch.Tensor.acos_ torch.Tensor.acosh torch.Tensor.acosh_ torch.Tensor.add
torch.Tensor.addbmm torch.Tensor.addbmm_ torch.Tensor.addcdiv_ torch.Tensor.addcmul_
torch.Tensor.addmm_ torch.Tensor.addmv torch.Tensor.addmv_ torch.Tensor.adjoint
torch.Tensor.allclose torch.Tensor.amin torch.Tensor.angle torch.Tensor.arccos_
torch.Tensor.arccosh torch.Tensor.arccosh_ torch.Tensor.arcsin torch.Tensor.arcsin_
torch.Tensor.arcsinh_ torch.Tensor.arctan torch.Tensor.arctan2_ torch.Tensor.arctan_
torch.Tensor.arctanh_ torch.Tensor.argwhere torch.Tensor.as_strided_ torch.Tensor.asin
torch.Tensor.asin_ torch.Tensor.asinh torch.Tensor.asinh_ torch.Tensor.atan
torch.Tensor.atan2 torch.Tensor.atan2_ torch.Tensor.atan_ torch.Tensor.atanh
torch.Tensor.atanh_ torch.Tensor.baddbmm torch.Tensor.baddbmm_ torch.Tensor.bernoulli
torch.Tensor.bernoulli_ torch.Tensor.bfloat16 torch.Tensor.bincount torch.Tensor.bitwise_and
torch.Tensor.bitwise_and_ torch.Tensor.bitwise_left_shift torch.Tensor.bitwise_left_shift_
torch.Tensor.bitwise_not torch.Tensor.bitwise_not_ torch.Tensor.bitwise_or
torch.Tensor.bitwise_or_ torch.Tensor.bitwise_right_shift torch.Tensor.bitwise_right_shift_
torch.Tensor.bitwise_xor torch.Tensor.bitwise_xor_ torch.Tensor.bmm torch.Tensor.bool
torch.Tensor.byte torch.Tensor.cauchy_ torch.Tensor.cdouble torch.Tensor.ceil_
torch.Tensor.cfloat torch.Tensor.char torch.Tensor.clamp_ torch.Tensor.clamp_max_
torch.Tensor.clamp_min_ torch.Tensor.clip torch.Tensor.clip_ torch.Tensor.conj
torch.Tensor.conj_physical torch.Tensor.conj_physical_ torch.Tensor.copy_
torch.Tensor.copysign_ torch.Tensor.corrcoef torch.Tensor.cos torch.Tensor.cosh
torch.Tensor.cosh_ torch.Tensor.cov torch.Tensor.cross torch.Tensor.cummin
torch.Tensor.cumprod_ torch.Tensor.deg2rad torch.Tensor.deg2rad_ torch.Tensor.digamma_
torch.Tensor.div torch.Tensor.div_ torch.Tensor.divide torch.Tensor.divide_ torch.Tensor.dot
torch.Tensor.dsplit torch.Tensor.eq torch.Tensor.eq_ torch.Tensor.equal torch.Tensor.erf_
torch.Tensor.erfc_ torch.Tensor.erfinv torch.Tensor.erfinv_ torch.Tensor.exp2_
torch.Tensor.expm1 torch.Tensor.expm1_ torch.Tensor.exponential_ torch.Tensor.fill_
torch.Tensor.fix_ torch.Tensor.fliplr torch.Tensor.flipud torch.Tensor.float
torch.Tensor.float_power_ torch.Tensor.floor torch.Tensor.floor_ torch.Tensor.floor_divide_
torch.Tensor.fmax torch.Tensor.fmod_ torch.Tensor.frac torch.Tensor.frac_ torch.Tensor.gcd
torch.Tensor.gcd_ torch.Tensor.ge torch.Tensor.ge_ torch.Tensor.geometric_
torch.Tensor.get_device torch.Tensor.greater torch.Tensor.greater_
torch.Tensor.greater_equal torch.Tensor.greater_equal_ torch.Tensor.gt torch.Tensor.gt_
torch.Tensor.half torch.Tensor.heaviside torch.Tensor.heaviside_ torch.Tensor.histc
torch.Tensor.hypot_ torch.Tensor.i0_ torch.Tensor.imag torch.Tensor.index_copy
torch.Tensor.inner torch.Tensor.int torch.Tensor.is_pinned torch.Tensor.is_same_size
torch.Tensor.isclose torch.Tensor.isfinite torch.Tensor.isnan torch.Tensor.isneginf
torch.Tensor.kron torch.Tensor.lcm torch.Tensor.lcm_ torch.Tensor.ldexp torch.Tensor.ldexp_
torch.Tensor.le torch.Tensor.le_ torch.Tensor.less torch.Tensor.less_
torch.Tensor.less_equal torch.Tensor.less_equal_ torch.Tensor.lgamma_ torch.Tensor.log10
torch.Tensor.log10_ torch.Tensor.log1p torch.Tensor.log1p_ torch.Tensor.log2
torch.Tensor.log2_ torch.Tensor.log_normal_ torch.Tensor.logdet torch.Tensor.logical_and
torch.Tensor.logical_and_ torch.Tensor.logical_not_ torch.Tensor.logical_or_
torch.Tensor.logical_xor_ torch.Tensor.logit_ torch.Tensor.lt torch.Tensor.lt_
torch.Tensor.matmul torch.Tensor.matrix_power torch.Tensor.maximum torch.Tensor.minimum
torch.Tensor.moveaxis torch.Tensor.multinomial torch.Tensor.multiply torch.Tensor.multiply_
torch.Tensor.mv torch.Tensor.nan_to_num_ torch.Tensor.nanmedian torch.Tensor.ne
torch.Tensor.ne_ torch.Tensor.neg torch.Tensor.neg_ torch.Tensor.negative
torch.Tensor.negative_ torch.Tensor.new_empty torch.Tensor.new_empty_strided
torch.Tensor.new_full torch.Tensor.new_tensor torch.Tensor.new_zeros torch.Tensor.nextafter
torch.Tensor.nextafter_ torch.Tensor.normal_ torch.Tensor.not_equal torch.Tensor.not_equal_
torch.Tensor.outer torch.Tensor.permute torch.Tensor.pin_memory torch.Tensor.pinverse
torch.Tensor.positive torch.Tensor.pow torch.Tensor.pow_ torch.Tensor.rad2deg_
torch.Tensor.random_ torch.Tensor.real torch.Tensor.reciprocal_ torch.Tensor.relu_
torch.Tensor.remainder_ torch.Tensor.resolve_conj torch.Tensor.resolve_neg
torch.Tensor.round_ torch.Tensor.rsqrt torch.Tensor.rsqrt_ torch.Tensor.select
torch.Tensor.sgn_ torch.Tensor.short torch.Tensor.sigmoid_ torch.Tensor.sign
torch.Tensor.sign_ torch.Tensor.signbit torch.Tensor.sin torch.Tensor.sinc_
torch.Tensor.sinh torch.Tensor.sinh_ torch.Tensor.slice_scatter torch.Tensor.slogdet
torch.Tensor.sqrt_ torch.Tensor.square_ torch.Tensor.squeeze_ torch.Tensor.sub
torch.Tensor.sub_ torch.Tensor.subtract_ torch.Tensor.swapaxes torch.Tensor.swapaxes_
torch.Tensor.swapdims_ torch.Tensor.t_ torch.Tensor.tan torch.Tensor.tan_ torch.Tensor.tanh
torch.Tensor.tanh_ torch.Tensor.trace torch.Tensor.transpose_ torch.Tensor.tril_
torch.Tensor.triu_ torch.Tensor.true_divide torch.Tensor.true_divide_ torch.Tensor.trunc
torch.Tensor.trunc_ torch.Tensor.type_as torch.Tensor.uniform_ torch.Tensor.unsqueeze_
torch.Tensor.vdot torch.Tensor.vsplit torch.Tensor.where torch.Tensor.xlogy_
torch.Tensor.xpu torch.Tensor.zero_ torch.linalg.matmul torch.special.digamma
torch.special.erfc torch.special.erfinv torch.special.exp2 torch.special.expm1
torch.special.log1p torch.special.polygamma torch.special.psi torch.special.round
torch.special.sinc torch.special.xlogy
""".split())


def _is_op(obj) -> bool:
    return callable(obj) and not isinstance(obj, (type, types.ModuleType))


def _ember_namespace(path: str):
    obj = ember
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def provided_names() -> set[tuple[str, str]]:
    """(namespace, name) for each public torch op name that ember also provides."""
    names = set()
    for path in (*COVERED_NAMESPACES, TENSOR_NAMESPACE):
        t_ns, e_ns = torch_namespace(path), _ember_namespace(path)
        for name in dir(t_ns):
            if name.startswith("_") or name in NOT_OPS.get(path, ()):
                continue
            if path == TENSOR_NAMESPACE:
                t_obj = inspect.getattr_static(t_ns, name, None)
                op = _is_op(t_obj) or hasattr(t_obj, "__get__") and not isinstance(t_obj, type)
            else:
                op = _is_op(getattr(t_ns, name, None))
            if op and hasattr(e_ns, name):
                names.add((path, name))
    return names


@pytest.fixture
def full_suite(request) -> None:
    config = request.config
    if not config.stash.get(conftest.FULL_SUITE, False) or config.stash.get(
            conftest.PARTIAL_RUN, False):
        if conftest.in_ci():
            pytest.fail("CI runs the whole suite: the coverage test needs every test file")
        pytest.skip("the coverage test reads what the whole suite compared: run all tests")


def test_every_provided_name_is_compared_with_torch(full_suite) -> None:
    missing = sorted(f"{ns}.{name}" for ns, name in provided_names() - COMPARED
                     if f"{ns}.{name}" not in BACKLOG)
    assert not missing, f"{len(missing)} names ember provides that no test compares with " \
        f"torch:\n" + "\n".join(missing)


def test_every_op_row_saw_every_shape_kind(full_suite) -> None:
    assert set(SHAPE_CASES) >= set(REQUIRED_SHAPE_KINDS)
    assert ALL_ROWS, "no op table registered its rows"
    missing = [f"{row.name}: {kind}" for row in ALL_ROWS for kind in REQUIRED_SHAPE_KINDS
               if (id(row), kind) not in SHAPE_CASES_SEEN]
    assert not missing, "op-table rows that did not run on every input kind:\n" + \
        "\n".join(missing)


def test_shape_cases_hold_each_kind() -> None:
    # The kinds are what their names say: 0-d, an empty dim, a size-1 dim, 3-d, strided.
    shapes = {kind: SHAPE_CASES[kind][0](2) for kind in REQUIRED_SHAPE_KINDS}
    assert all(s == () for s in shapes["0-d"])
    assert 0 in shapes["empty"][0]
    assert 1 in shapes["size-1"][0] and 1 in shapes["size-1"][1]
    assert len(shapes["3-d"][0]) == 3
    assert SHAPE_CASES["noncontiguous"][1] and len(shapes["noncontiguous"][0]) > 1
