"""Every public torch name ember provides is compared against torch by some test.

The names come from torch itself (the namespaces in ``helpers.COVERED_NAMESPACES``,
``torch.Tensor``, the classes of ``torch.nn`` and the exports of
``helpers.OPTIM_NAMESPACES``); what was compared comes from the registry that each passing
``check_op`` or ``recording_compared`` block fills (NOTE [Compared names] in
tests/helpers.py), not from reading the test files. This test runs last (tests/conftest.py)
and needs the whole suite before it.
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
    MODULE_NAMESPACE,
    OPTIM_NAMESPACES,
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
    MODULE_NAMESPACE: {
        # the machinery every module row exercises, tested by test_nn_module.py and
        # test_nn_lazy_norm.py (hooks, state dicts, lazy materialisation)
        "Module", "Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer",
        # abstract bases without a forward: their subclasses' rows compare them
        "RNNBase", "RNNCellBase",
    },
    # abstract bases without an algorithm: their machinery (parameter groups, state dicts,
    # hooks) is tested by test_optim.py and test_lr_scheduler.py, and every subclass that a
    # test steps against torch runs it
    "torch.optim": {"Optimizer"},
    "torch.optim.lr_scheduler": {"LRScheduler"},
}

# Names of PROVIDED_NAMESPACES that ember does not provide, each with its reason; any other
# public class or function of those namespaces missing from ember fails.
# What each layout, dtype or backend of torch's CPU build that ember does not have brings to
# torch's namespace: ember's tensors are strided NumPy arrays of NumPy's dtypes, computed by
# ember's own kernels, without TorchScript or symbolic shapes.
_SPARSE = {"ccol_indices_copy", "col_indices_copy", "crow_indices_copy", "row_indices_copy",
           "indices_copy", "values_copy", "dsmm", "hsmm", "hspmm", "smm", "spmm", "saddmm",
           "sspaddmm", "native_norm", "sparse_bsc_tensor", "sparse_bsr_tensor",
           "sparse_compressed_tensor", "sparse_coo_tensor", "sparse_csc_tensor",
           "sparse_csr_tensor"}
_QUANTIZED = {"choose_qparams_optimized", "empty_quantized", "fake_quantize_per_channel_affine",
              "fake_quantize_per_tensor_affine", "fbgemm_linear_fp16_weight",
              "fbgemm_linear_fp16_weight_fp32_activation", "fbgemm_linear_int8_weight",
              "fbgemm_linear_int8_weight_fp32_activation", "fbgemm_linear_quantize_weight",
              "fbgemm_pack_gemm_matrix_fp16", "fbgemm_pack_quantized_matrix",
              "fused_moving_avg_obs_fake_quant", "quantize_per_channel", "quantize_per_tensor",
              "quantize_per_tensor_dynamic", "quantized_batch_norm", "quantized_gru",
              "quantized_gru_cell", "quantized_lstm", "quantized_lstm_cell",
              "quantized_max_pool1d", "quantized_max_pool2d", "quantized_max_pool3d",
              "quantized_rnn_relu_cell", "quantized_rnn_tanh_cell"}
# the entry points of other libraries' kernels (cuDNN, MIOpen, oneDNN)
_BACKEND_KERNELS = {"cudnn_affine_grid_generator", "cudnn_batch_norm", "cudnn_convolution",
                    "cudnn_convolution_add_relu", "cudnn_convolution_relu",
                    "cudnn_convolution_transpose", "cudnn_grid_sampler", "cudnn_is_acceptable",
                    "miopen_batch_norm", "miopen_convolution", "miopen_convolution_add_relu",
                    "miopen_convolution_relu", "miopen_convolution_transpose",
                    "miopen_ctc_loss", "miopen_depthwise_convolution", "miopen_rnn",
                    "mkldnn_adaptive_avg_pool2d", "mkldnn_convolution",
                    "mkldnn_linear_backward_weights", "mkldnn_max_pool2d", "mkldnn_max_pool3d",
                    "mkldnn_rnn_layer"}
# TorchScript's runtime and IR, and symbolic shapes (torch.compile's tracing)
_SCRIPT_AND_SYMBOLIC = {"fork", "wait", "import_ir_module", "import_ir_module_from_buffer",
                        "parse_ir", "parse_schema", "parse_type_comment",
                        "merge_type_from_type_comment", "unify_type_list", "sym_constrain_range",
                        "sym_constrain_range_for_size", "sym_float", "sym_fresh_size", "sym_int",
                        "sym_ite", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_sum"}

NOT_PROVIDED = {
    "torch": _SPARSE | _QUANTIZED | _BACKEND_KERNELS | _SCRIPT_AND_SYMBOLIC | {
        # torch's own build and packaging helpers, not tensor API
        "classproperty", "get_file_path", "prepare_multiprocessing_environment",
        "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12",
        # a uint64 result (ember has no uint64 dtype yet)
        "hash_tensor",
        # functionalization's inverse of a slice view: a view of its first argument's
        # memory, for graph rewriting; no eager use
        "slice_inverse",
        # not implemented yet: its method, tracker and ortho options and its own backward
        "lobpcg",
    },
    "torch.linalg": set(),
    "torch.special": set(),
    TENSOR_NAMESPACE: {
        "chalf",  # complex32: no NumPy dtype
        "hash_tensor", "slice_inverse",  # as for torch's
        "index",  # a named-tensor helper torch defines in Python (dims, indices)
        "smm", "sspaddmm", "to_sparse", "to_sparse_bsc", "to_sparse_bsr", "to_sparse_coo",
        "to_sparse_csc", "to_sparse_csr",  # sparse layouts
        "to_mkldnn",  # oneDNN's layout
    },
    "torch.nn.functional": {
        # torch's dispatch and typing helpers, not functions of the API
        "Optional", "assert_int_or_pair", "boolean_dispatch", "handle_torch_function",
        "has_torch_function", "has_torch_function_unary", "has_torch_function_variadic",
    },
    MODULE_NAMESPACE: set(),
    "torch.fft": set(),
    "torch.optim": set(),
    "torch.optim.lr_scheduler": set(),
    "torch.optim.swa_utils": set(),
}
# The namespaces whose every public name ember must provide (or list in NOT_PROVIDED).
PROVIDED_NAMESPACES = tuple(NOT_PROVIDED)


# Names not yet compared with torch: the backlog of rows to add. It is empty and may only
# shrink: a name outside it that no test compares fails the suite, and so does a name in it
# that a test does compare or that ember no longer provides.
BACKLOG: frozenset[str] = frozenset()


def _is_op(obj) -> bool:
    return callable(obj) and not isinstance(obj, (type, types.ModuleType))


def _ember_namespace(path: str):
    obj = ember
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _torch_nn_classes() -> list[str]:
    return [name for name in dir(torch_namespace(MODULE_NAMESPACE))
            if not name.startswith("_")
            and isinstance(getattr(torch_namespace(MODULE_NAMESPACE), name), type)]


def _torch_public(path: str) -> list[str]:
    """The public classes or functions of a torch namespace of PROVIDED_NAMESPACES: the
    classes of torch.nn, the exports (``__all__``, less submodules) of the optim
    namespaces, the functions of the others."""
    if path == MODULE_NAMESPACE:
        return _torch_nn_classes()
    t_ns = torch_namespace(path)
    if path in OPTIM_NAMESPACES:
        return [name for name in t_ns.__all__
                if not isinstance(getattr(t_ns, name), types.ModuleType)]
    return [name for name in dir(t_ns) if not name.startswith("_") and _is_op(getattr(t_ns, name))]


def provided_names() -> set[tuple[str, str]]:
    """(namespace, name) for each public torch op name (and torch.nn / torch.optim class,
    swa_utils function) that ember also provides."""
    names = set()
    for path in (MODULE_NAMESPACE, *OPTIM_NAMESPACES):
        e_ns = _ember_namespace(path)
        names |= {(path, name) for name in _torch_public(path)
                  if name not in NOT_OPS.get(path, ()) and hasattr(e_ns, name)}
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


def test_every_torch_name_is_provided() -> None:
    missing = [f"{path}.{name}" for path in PROVIDED_NAMESPACES for name in _torch_public(path)
               if name not in NOT_PROVIDED[path] and not hasattr(_ember_namespace(path), name)]
    assert not missing, "torch names ember lacks:\n" + "\n".join(missing)
    stale = [f"{ns}.{name}" for ns, names in NOT_PROVIDED.items() for name in names
             if hasattr(_ember_namespace(ns), name)]
    assert not stale, "NOT_PROVIDED names ember now provides: remove them:\n" + "\n".join(stale)


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


def test_backlog_holds_only_uncompared_names(full_suite) -> None:
    provided = {f"{ns}.{name}" for ns, name in provided_names()}
    compared = {f"{ns}.{name}" for ns, name in COMPARED}
    stale = sorted(name for name in BACKLOG if name in compared or name not in provided)
    assert not stale, "BACKLOG names that tests now compare (or ember lacks): remove them:\n" \
        + "\n".join(stale)


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
