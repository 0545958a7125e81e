"""torch's ``out=`` rule, in one place: every public function that takes ``out`` in torch is
given the keyword here (``install``), and ``write`` puts a result into ``out`` as torch does.

A function is called without ``out`` as before (one extra frame); with ``out`` it runs out of
place under ``no_grad`` and the result is written into ``out``'s memory (a view writes
through to its base), ``out``'s version counter is bumped as an in-place op bumps it, and
``out`` (or the tuple of outs) is returned. torch's checks come first: arguments that
require grad under grad mode, then the dtype ``out`` may hold, then memory overlap; a
wrong-shaped ``out`` is resized (with torch's deprecation warning when it had elements).

How an op treats ``out``'s dtype depends on its torch kernel; the tables below say which
family each function belongs to (learned from torch's behaviour):

- cast (the default): the result must cast to ``out``'s dtype within its kind
  ("result type Float can't be cast to the desired output type Long");
- found / exact: ``out`` must have the result's dtype exactly (two wordings of the error);
- dtype: the op computes in ``out``'s dtype (``sum(x, out=long)`` casts ``x`` first);
- factory: ``out``'s dtype is the result dtype unless ``dtype=`` says otherwise;
- any: a sampler that draws into whatever dtype ``out`` has (``bernoulli``);
- copy into: the result is copied as ``out.copy_(result)`` copies (``split_copy``).

A function of several outputs checks each out by the exact rule unless torch's kernel casts
(``_CAST_EACH``); those whose out is a list (``split_copy``) return None, as torch's do.

ember differs from torch in the wording of the dtype error of the ops whose torch kernel
words it in a way of its own (``mv``, ``histc``, ...): those raise the "exact" wording.
"""
from __future__ import annotations

import inspect
import warnings

from ember import _dtype
from ember._backend import np
from ember._ops import _promote
from ember._ops.registry import check_no_overlap
from ember._tensor import Tensor, refuse_non_tensors
from ember.autograd import grad_mode

_FOUND = frozenset((
    "abs", "absolute", "bitwise_not", "ceil", "conj_physical", "fix", "floor", "frac", "lerp",
    "neg", "negative", "round", "sgn", "sign", "special.round", "trunc",
    "nn.functional.gelu", "nn.functional.hardshrink", "nn.functional.softplus",
    "nn.functional.softshrink"))
_EXACT = frozenset((
    "addbmm", "addmm", "addmv", "all", "amax", "amin", "any", "argmax", "argmin", "argsort",
    "baddbmm", "bmm", "bucketize", "complex", "cross", "diag", "dot", "float_power",
    "gather", "heaviside", "histc", "index_add", "index_copy", "index_select", "inner",
    "inverse", "isin", "isneginf", "isposinf", "linalg.cholesky", "linalg.cross",
    "linalg.det", "linalg.eigvalsh", "linalg.inv", "linalg.matmul", "linalg.matrix_norm",
    "linalg.matrix_power", "linalg.norm", "linalg.solve", "linalg.svdvals",
    "linalg.vector_norm", "log_softmax", "logcumsumexp", "masked_select", "matmul",
    "matrix_power", "mm", "msort", "multinomial", "mv", "nan_to_num", "nanquantile",
    "nonzero", "norm", "polar", "quantile", "renorm", "scatter", "scatter_add",
    "scatter_reduce", "searchsorted", "signbit", "slice_scatter", "softmax", "take",
    "take_along_dim", "chain_matmul", "nn.functional.avg_pool2d", "nn.functional.avg_pool3d",
    "nn.functional.linear", "nn.functional.logsigmoid",
    "tensordot", "tril", "triu", "vdot", "where",
    "frobenius_norm", "histogram", "index_reduce", "linalg.ldl_solve", "linalg.lu_solve",
    "linalg.multi_dot", "linalg.solve_triangular", "linalg.vecdot", "lu_solve", "lu_unpack",
    "narrow_copy", "native_batch_norm", "nonzero_static", "nuclear_norm", "ormqr",
    # torch's functional twins of the view ops (``split_copy`` is a copy: ``_COPY_INTO``)
    "alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy",
    "permute_copy", "select_copy", "slice_copy", "split_with_sizes_copy", "squeeze_copy",
    "t_copy", "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy",
    "view_as_complex_copy", "view_as_real_copy", "view_copy"))
_DTYPE = frozenset(("cumprod", "cumsum", "prod", "sum"))
# Samplers that draw into any dtype ``out`` has.
_ANY = frozenset(("bernoulli",))
_FACTORY = frozenset((
    "arange", "empty", "eye", "fft.fftfreq", "fft.rfftfreq", "full", "linspace", "logspace",
    "ones", "rand", "randint", "randn", "randperm", "range", "zeros"))
# torch.special's orthogonal polynomials P_n(x)
_POLYNOMIALS = tuple(f"special.{kind}_polynomial_{letter}" for kind, letters in (
    ("chebyshev", "tuvw"), ("shifted_chebyshev", "tuvw"), ("hermite", ("h", "he")),
    ("laguerre", "l"), ("legendre", "p")) for letter in letters)
# The cast family: torch's structured pointwise and reduction kernels.
_CAST = frozenset((
    "acos", "acosh", "add", "addcdiv", "addcmul", "angle", "arccos", "arccosh", "arcsin",
    "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh",
    "bitwise_and", "bitwise_left_shift", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "cat", "cholesky", "clamp", "clamp_max", "clamp_min", "clip", "column_stack", "concat",
    "concatenate", "copysign", "cos", "cosh", "deg2rad", "diff", "digamma", "div", "divide",
    "dstack", "eq", "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "floor_divide", "fmax",
    "fmin", "fmod", "gcd", "ge", "ger", "greater", "greater_equal", "gt", "hstack", "hypot",
    "i0", "kron", "lcm", "ldexp", "le", "less", "less_equal", "lgamma", "linalg.pinv", "log",
    "log10", "log1p", "log2", "logaddexp", "logaddexp2", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logit", "logsumexp", "lt", "max", "maximum", "mean", "min",
    "minimum", "mul", "multiply", "nanmean", "nansum", "ne", "nextafter", "normal",
    "not_equal", "outer", "polygamma", "pow", "rad2deg", "reciprocal", "remainder",
    "row_stack", "rsqrt", "sigmoid", "sin", "sinc", "sinh", "special.digamma", "special.erf",
    "special.erfc", "special.erfinv", "special.exp2", "special.expit", "special.expm1",
    "special.gammaln", "special.i0", "special.i1", "special.log1p", "special.logit",
    "special.polygamma", "special.psi", "special.sinc", "special.xlogy", "sqrt", "square",
    "stack", "std", "sub", "subtract", "tan", "tanh", "threshold", "true_divide", "var",
    "vstack", "xlogy",
    # torch functions with out= whose dtype rule is the cast one; kept with the family
    "aminmax", "cummax", "cummin", "frexp", "kthvalue", "median", "mode", "nanmedian",
    "qr", "slogdet", "sort", "svd", "topk", "linalg.eigh", "linalg.qr", "linalg.slogdet",
    "linalg.svd", "linalg.lstsq", "linalg.cond", "linalg.matrix_rank", "linalg.cholesky_ex",
    "linalg.inv_ex", "linalg.solve_ex", "linalg.lu_factor", "linalg.lu", "linalg.eig",
    "linalg.eigvals", "linalg.tensorinv", "linalg.tensorsolve", "linalg.householder_product",
    "linalg.lu_factor_ex", "linalg.ldl_factor", "linalg.ldl_factor_ex", "addr",
    "batch_norm_elemt", "cholesky_inverse", "cholesky_solve", "geqrf", "igamma", "igammac",
    "mvlgamma", "orgqr", "special.airy_ai", "special.bessel_j0", "special.bessel_j1",
    "special.bessel_y0", "special.bessel_y1", "special.entr", "special.erfcx",
    "special.gammainc", "special.gammaincc", "special.i0e", "nn.functional.normalize",
    "special.i1e", "special.log_ndtr", "special.logsumexp", "special.multigammaln",
    "special.ndtr", "special.ndtri", "special.spherical_bessel_j0",
    "special.modified_bessel_i0", "special.modified_bessel_i1", "special.modified_bessel_k0",
    "special.modified_bessel_k1", "special.scaled_modified_bessel_k0",
    "special.scaled_modified_bessel_k1", *_POLYNOMIALS,
    "special.xlog1py", "special.zeta", "triangular_solve",
    # torch.fft: the kind of ``out`` is checked first (``_FFT``), then the cast rule
    "fft.fft", "fft.fft2", "fft.fftn", "fft.hfft", "fft.hfft2", "fft.hfftn", "fft.ifft",
    "fft.ifft2", "fft.ifftn", "fft.ihfft", "fft.ihfft2", "fft.ihfftn", "fft.irfft",
    "fft.irfft2", "fft.irfftn", "fft.rfft", "fft.rfft2", "fft.rfftn"))
# Names whose aten op (the name in torch's "...(): functions with out=..." error) is not
# the public one.
_ATEN = {
    "absolute": "abs", "arccos": "acos", "arccosh": "acosh", "arcsin": "asin",
    "arcsinh": "asinh", "arctan": "atan", "arctan2": "atan2", "arctanh": "atanh",
    "argsort": "sort", "clip": "clamp", "column_stack": "cat", "concat": "cat",
    "concatenate": "cat", "cross": "linalg_cross", "diff": "sub", "divide": "div",
    "dstack": "cat", "fix": "trunc", "float_power": "pow", "ger": "mul", "hstack": "cat",
    "inverse": "linalg_inv_ex", "kron": "mul", "linalg.cholesky": "linalg_cholesky_ex",
    "linalg.det": "_linalg_det", "linalg.eigvalsh": "_linalg_eigh", "linalg.eigh":
    "_linalg_eigh", "linalg.inv": "linalg_inv_ex", "linalg.matmul": "matmul",
    "linalg.matrix_power": "matmul", "linalg.solve": "_linalg_solve_ex",
    "linalg.svdvals": "_linalg_svd", "linalg.svd": "_linalg_svd", "linalg.slogdet":
    "_linalg_slogdet", "matrix_power": "matmul", "msort": "sort", "multiply": "mul",
    "nanmean": "nansum", "negative": "neg", "norm": "linalg_vector_norm", "outer": "mul",
    "qr": "linalg_qr", "row_stack": "cat", "slogdet": "_linalg_slogdet",
    "special.digamma": "digamma", "special.erf": "erf", "special.erfc": "erfc",
    "special.erfinv": "erfinv", "special.exp2": "exp2", "special.expit": "sigmoid",
    "special.expm1": "expm1", "special.gammaln": "lgamma", "special.i0": "i0",
    "special.log1p": "log1p", "special.logit": "logit", "special.polygamma": "polygamma",
    "special.psi": "digamma", "special.round": "round", "special.sinc": "sinc",
    "special.xlogy": "xlogy", "square": "pow", "subtract": "sub", "svd": "_linalg_svd",
    "true_divide": "div", "vstack": "cat", "chain_matmul": "mm",
    "nn.functional.logsigmoid": "log_sigmoid_forward", "nn.functional.normalize": "div",
    "frobenius_norm": "norm", "linalg.multi_dot": "mm", "linalg.vecdot": "sum",
    "lu_solve": "linalg_lu_solve", "orgqr": "linalg_householder_product",
    "special.gammainc": "igamma", "special.gammaincc": "igammac",
    "special.logsumexp": "logsumexp", "special.multigammaln": "mvlgamma"}
# torch composes these of other ops (or they have no derivative), so it writes their
# result into ``out`` even when an argument requires grad: no autograd error.
_NO_GRAD_CHECK = frozenset((
    "all", "any", "argmax", "argmin", "bucketize", "conj_physical", "diag", "floor_divide",
    "heaviside", "histc", "inner", "isin", "isneginf", "isposinf", "linalg.matrix_norm",
    "linalg.norm", "log_softmax", "masked_select", "multinomial", "nanquantile", "nonzero",
    "quantile", "searchsorted", "signbit", "slice_scatter", "softmax", "take", "tensordot",
    "eq", "ge", "greater", "greater_equal", "gt", "le", "less", "less_equal", "logical_and",
    "logical_not", "logical_or", "logical_xor", "lt", "ne", "not_equal", *_FACTORY,
    "histogram", "linalg.cond", "linalg.eigvals", "linalg.ldl_solve", "linalg.matrix_rank",
    "linalg.tensorinv", "linalg.tensorsolve", "nonzero_static", "nuclear_norm",
    "special.airy_ai", "special.bessel_j0", "special.bessel_j1", "special.bessel_y0",
    "special.bessel_y1", "special.modified_bessel_i0", "special.modified_bessel_i1",
    "special.modified_bessel_k0", "special.modified_bessel_k1", "special.ndtr",
    "special.scaled_modified_bessel_k0", "special.scaled_modified_bessel_k1",
    "special.spherical_bessel_j0", *_POLYNOMIALS,
    # the view ops' functional twins (``narrow_copy`` has an out= kernel of its own)
    "alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy",
    "permute_copy", "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy",
    "squeeze_copy", "t_copy", "transpose_copy", "unbind_copy", "unfold_copy",
    "unsqueeze_copy", "view_as_complex_copy", "view_as_real_copy", "view_copy"))

# torch.fft's functions check the kind of ``out`` first, in the words of the kernel they call
# (the n-d ones share one): (kernel, whether ``out`` must be complex rather than real).
_FFT = {
    "fft.fft": ("fft", True), "fft.ifft": ("ifft", True), "fft.rfft": ("rfft", True),
    "fft.ihfft": ("ihfft", True), "fft.irfft": ("irfft", False), "fft.hfft": ("hfft", False),
    "fft.fft2": ("fftn", True), "fft.fftn": ("fftn", True), "fft.ifft2": ("fftn", True),
    "fft.ifftn": ("fftn", True), "fft.rfft2": ("rfftn", True), "fft.rfftn": ("rfftn", True),
    "fft.ihfft2": ("ihfftn", True), "fft.ihfftn": ("ihfftn", True),
    "fft.irfft2": ("irfftn", False), "fft.irfftn": ("irfftn", False),
    "fft.hfft2": ("hfftn", False), "fft.hfftn": ("hfftn", False)}
# torch computes these 1-d inverse transforms of a real input out of place and copies the
# result into ``out``: no autograd error, and ``out`` must have the result's dtype exactly.
_FFT_COPIED = frozenset(("fft.ifft", "fft.ihfft"))

_FLOATING = frozenset(("float16", "bfloat16", "float32", "float64"))
_COMPLEX = frozenset(("complex64", "complex128"))
# Kernels that have no loop for some dtypes of ``out``: torch raises NotImplementedError
# naming the kernel. (kernel, test of the out dtype's name and the input's dtype name)
_KERNELS = {
    "cumsum": ("cumsum_out_cpu", lambda o, i: o != "bool"),
    "cumprod": ("cumprod_out_cpu", lambda o, i: o != "bool"),
    "nansum": ("nansum_cpu", lambda o, i: i not in _FLOATING or o in _FLOATING),
    "nanmean": ("nansum_cpu", lambda o, i: i not in _FLOATING or o in _FLOATING),
    "normal": ("normal_kernel_cpu", lambda o, i: o in _FLOATING or o in _COMPLEX),
    "arange": ("arange_cpu", lambda o, i: o != "bool" and o not in _COMPLEX),
    "range": ("range_cpu", lambda o, i: o != "bool" and o not in _COMPLEX),
    "linspace": ("linspace_cpu", lambda o, i: o != "bool"),
    "logspace": ("logspace_cpu", lambda o, i: o != "bool"),
    "fft.fftfreq": ("arange_cpu", lambda o, i: o not in _COMPLEX),
    "fft.rfftfreq": ("arange_cpu", lambda o, i: o not in _COMPLEX),
}
_SAFELY = ("{fn}: Expected {out} to be safely castable from {{have}} dtype, but got {out} with "
           "dtype {{want}}")
# Ops whose dtype error torch words in a way of its own: {have}/{want} are the result's and
# out's scalar-type names, {have_cpp}/{want_cpp} their C++ names; a tuple words it for each
# output.
_WORDING = {
    "mean": "mean.dtype_out(): input types can't be cast to the desired output type {want}",
    "ldexp": "ldexp can't be cast to the desired output type {want}",
    "chain_matmul": "multi_dot(): expected out tensor to have dtype {have_cpp} but got "
                    "{want_cpp}",
    "nn.functional.logsigmoid": "expected scalar type {have} but found {want}",
    "linalg.solve_triangular": "expected scalar type {have} but found {want}",
    "native_batch_norm": "expected scalar type {have} but found {want}",
    "linalg.multi_dot": "multi_dot(): expected out tensor to have dtype {have_cpp} but got "
                        "{want_cpp}",
    "linalg.vecdot": "linalg.vecdot: Expected out of dtype{have} but found {want}",
    "logsumexp": "logsumexp(): Expected floating point type for result tensor, but got: {want}",
    "special.logsumexp": "logsumexp(): Expected floating point type for result tensor, but "
                         "got: {want}",
    "mvlgamma": "mvlgamma: result type {have} can't be cast to the desired output type {have}",
    "special.multigammaln": "mvlgamma: result type {have} can't be cast to the desired output "
                            "type {have}",
    "narrow_copy": "Expected self.dtype() == output.dtype() to be true, but got false.  "
                   "(Could this error message be improved?  If so, please report an "
                   "enhancement request to PyTorch.)",
    "nonzero_static": "nonzero_static: Expected out tensor to have scalar type {have} but got "
                      "scalar type{want}",
    "nuclear_norm": "linalg.matrix_norm expected out tensor dtype {have} but got: {want}",
    "ormqr": "torch.ormqr: Expected input and result to have the same dtype, but input has "
             "dtype{have} and result has dtype {want}",
    # torch's linalg kernels check that the result casts safely to ``out``'s dtype
    "geqrf": tuple(_SAFELY.format(fn="torch.geqrf", out=out) for out in ("a", "tau")),
    "linalg.cond": _SAFELY.format(fn="linalg.cond", out="result"),
    "linalg.eigvals": _SAFELY.format(fn="torch.linalg.eigvals", out="eigenvalues"),
    "linalg.householder_product": _SAFELY.format(fn="torch.linalg.householder_product",
                                                 out="result"),
    "linalg.matrix_rank": _SAFELY.format(fn="torch.linalg.matrix_rank", out="result"),
    "linalg.tensorinv": _SAFELY.format(fn="tensorinv", out="result"),
    "linalg.tensorsolve": _SAFELY.format(fn="tensorsolve", out="result"),
    "orgqr": _SAFELY.format(fn="torch.linalg.householder_product", out="result"),
    "histogram": (
        "torch.histogram: input tensor and hist tensor should have the same dtype, but got "
        "input {have_cpp} and hist {want_cpp}",
        "torch.histogram: input tensor and bin_edges tensor should have the same dtype, but got "
        "input {have_cpp} and bin_edges {want_cpp} for dimension 0"),
}
# torch resizes the ``out`` of these without the deprecation warning.
_SILENT_RESIZE = frozenset(("addbmm", "bernoulli", "multinomial", "narrow_copy",
                            "nn.functional.logsigmoid", *_FACTORY))
# Functions of several outputs whose outs torch checks by the cast rule (the others' outs must
# have their results' dtypes exactly).
_CAST_EACH = frozenset(("geqrf",))
# Functions whose out is a list of any length: torch returns None, and names its kernel when
# the list has the wrong length.
_LIST_OUT = {"split_copy": "split_copy_Tensor_out()",
             "split_with_sizes_copy": "split_with_sizes_copy_out",
             "unbind_copy": "unbind_copy_int_out"}
# torch copies these results into ``out`` as ``out.copy_(result)`` does: any dtype, the
# result broadcast to ``out``'s shape, never resized.
_COPY_INTO = frozenset(("split_copy",))

OUT_NAMES = _FOUND | _EXACT | _DTYPE | _FACTORY | _ANY | _CAST | _COPY_INTO
# torch's range factories keep an ``out`` that has the right number of elements in its shape;
# those made by ``arange`` warn in words of their own when it has a different non-zero number.
_RANGES = frozenset(("arange", "linspace", "logspace", "fft.fftfreq", "fft.rfftfreq"))
_ARANGES = frozenset(("arange", "fft.fftfreq", "fft.rfftfreq"))
_RANGE_WARNING = (
    "The number of elements in the out tensor of shape {} is {} which does not match the "
    "computed number of elements {}. Note that this may occur as a result of rounding error. "
    "The out tensor will be resized to a tensor of shape ({},).")
# torch resizes these reductions' outs with ``dim`` kept, unsqueezing an ``out`` that has the
# reduced rank first (its warning shows both shapes with the kept dimension).
_KEEPDIM_RESIZE = frozenset(("kthvalue", "mode"))

# torch's C++ type names, as its "Expected out tensor to have dtype ..." error spells them
_CPP_NAMES = {
    "float32": "float", "float64": "double", "float16": "c10::Half",
    "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int", "int16": "short int",
    "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
    "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}

_RESIZE_WARNING = (
    "An output with one or more elements was resized since it had shape {}, which does not "
    "match the required output shape {}. This behavior is deprecated, and in a future PyTorch "
    "release outputs will not be resized unless they have zero elements. You can explicitly "
    "reuse an out tensor t by resizing it, inplace, to zero elements with t.resize_(0).")


def _mean_keywords(name: str, input: Tensor, out: Tensor, kwargs: dict) -> dict:
    """torch's mean and nanmean over dims with ``out`` compute in ``out``'s floating or
    complex dtype (a float16 input's mean into a float32 ``out`` is not rounded to float16
    first); the keywords that make ember do so, after torch's refusals. (mean without dims
    has rules of its own: the cast family, with its wording.)"""
    wanted = kwargs.get("dtype")
    if name == "nanmean":
        if input.dtype.category < _dtype.FLOAT:
            raise RuntimeError("nanmean(): integral types and 'Bool' are not supported for "
                               "nanmean, even for empty tensors.")
        return kwargs if wanted is not None else {**kwargs, "dtype": out.dtype}
    if wanted is not None:
        if wanted is not out.dtype:
            raise RuntimeError(f"Expected out tensor to have dtype {_CPP_NAMES[wanted.name]}, "
                               f"but got {_CPP_NAMES[out.dtype.name]} instead")
        return kwargs  # mean checks the dtype given, in its own words
    if input.dtype.category < _dtype.FLOAT:
        return kwargs  # mean refuses to infer a dtype, in its own words
    if out.dtype.category < _dtype.FLOAT:
        raise RuntimeError("result type Float can't be cast to the desired output type "
                           f"{_dtype.scalar_type_name(out.dtype)}")
    return {**kwargs, "dtype": out.dtype}


_MEANS = frozenset(("mean", "nanmean"))


def _given_dim(args: tuple, kwargs: dict) -> bool:
    # a mean over dims: neither None nor mean's own default when none is given (the exact
    # code passes the default on)
    from ember._ops.reduction import _NO_DIM

    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    return dim is not None and dim is not _NO_DIM


def _rule(name: str) -> str:
    for rule, names in (("found", _FOUND), ("exact", _EXACT), ("dtype", _DTYPE),
                        ("factory", _FACTORY), ("any", _ANY)):
        if name in names:
            return rule
    return "cast"


def _tensors(values):
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (t for t in v if isinstance(t, Tensor))


_CAT = frozenset(("cat", "concat", "concatenate", "column_stack", "dstack", "hstack",
                  "row_stack", "stack", "vstack"))


def _aten(name: str, inputs: list) -> str | None:
    """The aten op torch names in its autograd error for ``name`` (None: torch writes into
    ``out`` without that check)."""
    if name in _NO_GRAD_CHECK or (name == "chain_matmul" and len(inputs) == 1):
        return None
    if name in _FFT:
        real = bool(inputs) and not inputs[0].is_complex()
        if name in _FFT_COPIED and real:
            return None
        if _FFT[name][0] in ("irfft", "hfft", "irfftn", "hfftn"):
            return "_fft_c2r"
        if name in ("fft.fft", "fft.rfft", "fft.rfft2", "fft.rfftn") and real:
            return "_fft_r2c"
        return "_fft_c2c"
    return _ATEN.get(name, name.removeprefix("nn.functional.").replace(".", "_"))


def _check_kernel(name: str, out: Tensor, inputs: list) -> None:
    kernel, supported = _KERNELS[name]
    got = out.dtype
    if not supported(got.name, inputs[0].dtype.name if inputs else ""):
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{_dtype.scalar_type_name(got)}\'')


def _check_fft_kind(name: str, out: Tensor) -> None:
    kernel, complex_out = _FFT[name]
    got = out.dtype.name
    if complex_out and got not in _COMPLEX:
        raise RuntimeError(f"{kernel} expects a complex output tensor, but got "
                           f"{_dtype.scalar_type_name(out.dtype)}")
    if not complex_out and got not in _FLOATING:
        raise RuntimeError(f"{kernel} expects a floating point output tensor, but got "
                           f"{_dtype.scalar_type_name(out.dtype)}")


def _check_dtype(rule: str, result_dtype, out: Tensor, name: str, index: int = 0) -> None:
    got = out._data.dtype
    if result_dtype == got or rule == "any":
        return
    have = _dtype.from_np(result_dtype)
    want = _dtype.from_np(got)
    names = {"have": _dtype.scalar_type_name(have), "want": _dtype.scalar_type_name(want),
             "have_cpp": _CPP_NAMES[have.name], "want_cpp": _CPP_NAMES[want.name]}
    if rule == "cast" and _dtype.can_cast_np(result_dtype, got):
        return
    if name in _WORDING:
        wording = _WORDING[name]
        raise RuntimeError((wording if isinstance(wording, str) else wording[index]).format(
            **names))
    if rule == "cast":
        if name in _CAT:  # torch's cat checks the inputs in its argument parsing layer
            raise TypeError("torch.cat(): input types can't be cast to the desired output "
                            f"type {names['want']}")
        raise RuntimeError(f"result type {names['have']} can't be cast to the desired output "
                           f"type {names['want']}")
    if rule == "found":
        raise RuntimeError(f"Found dtype {names['want']} but expected {names['have']}")
    raise RuntimeError(f"Expected out tensor to have dtype {names['have_cpp']}, but got "
                       f"{names['want_cpp']} instead")


def _check_overlap(out: Tensor, inputs: list) -> None:
    data = out._data
    if not data.flags.writeable:  # an expanded view: one element stands for several
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation.")
    check_no_overlap(out, *inputs, partial_only=True)


def _bound(fn, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def _normal_args(fn, args: tuple, kwargs: dict, out: Tensor) -> tuple:
    """torch's ``normal(mean: Tensor, std: float, out=)`` draws ``out``'s broadcast with
    ``mean`` (``out`` may be larger than ``mean``); the arguments that make ember do so."""
    bound = _bound(fn, args, kwargs)
    mean = bound.arguments["mean"]
    if not isinstance(mean, Tensor) or isinstance(bound.arguments["std"], Tensor):
        return args, kwargs
    error = _promote.broadcast_error([mean.shape, out.shape])
    if error is not None:
        raise error
    shape = tuple(np.broadcast_shapes(tuple(mean.shape), tuple(out.shape)))
    if shape != tuple(mean.shape):
        bound.arguments["mean"] = mean.expand(shape)
    return bound.args, bound.kwargs


def _seen_shapes(name: str, fn, args: tuple, kwargs: dict, out: Tensor, result: Tensor,
                 index: int) -> tuple:
    """(the shape torch reports ``out`` had, the shape it requires) for its resize warning."""
    had, needed = tuple(out.shape), tuple(result.shape)
    if name in _KEEPDIM_RESIZE:
        bound = _bound(fn, args, kwargs)
        ndim = bound.arguments["input"].dim()
        if ndim and not bound.arguments["keepdim"]:
            dim = bound.arguments["dim"] % ndim
            needed = needed[:dim] + (1,) + needed[dim:]
            if 0 < len(had) == ndim - 1:
                had = had[:dim] + (1,) + had[dim:]
    elif name == "svd" and index == 2:  # torch resizes V's transpose, as linalg.svd's Vh
        had = had[:-2] + had[-2:][::-1]
        needed = needed[:-2] + needed[-2:][::-1]
    return had, needed


# torch resizes the outs of these in an order of its own (linalg.svd: U, Vh, then S;
# histogram: the bin edges first).
_RESIZE_ORDER = {"svd": (0, 2, 1), "linalg.svd": (0, 2, 1), "histogram": (1, 0)}


def _warn_resizes(name: str, fn, args: tuple, kwargs: dict, results: tuple,
                  outs: tuple) -> None:
    if name in _ARANGES:
        have, need = outs[0]._data.size, results[0]._data.size
        if have and have != need:
            warnings.warn(_RANGE_WARNING.format(list(outs[0].shape), have, need, need),
                          UserWarning, stacklevel=4)
        return
    if name in _SILENT_RESIZE or (name == "normal" and not any(
            isinstance(a, Tensor) for a in args[:2])):
        return
    for i in _RESIZE_ORDER.get(name, range(len(outs))):
        had, needed = _seen_shapes(name, fn, args, kwargs, outs[i], results[i], i)
        if had != needed and outs[i]._data.size:
            warnings.warn(_RESIZE_WARNING.format(list(had), list(needed)), UserWarning,
                          stacklevel=4)


def _store(name: str, result: Tensor, out: Tensor) -> None:
    data = out._data
    r = result._data
    if data.shape != r.shape:
        if name in _RANGES and data.size == r.size:
            r = r.reshape(data.shape)
        # torch keeps the storage when it is big enough: a contiguous out of the right size
        # is reshaped in place (its base sees the values), anything else gets new memory
        elif data.size == r.size and data.flags.c_contiguous:
            data = out._data = data.reshape(r.shape)
        else:
            data = out._data = np.empty(r.shape, data.dtype)
    data[...] = r
    out._vc[0] += 1


def _copy_into(results: tuple, outs: tuple) -> None:
    """Write each result into its out as ``out.copy_(result)`` does (``_COPY_INTO``)."""
    for r, o in zip(results, outs):
        data = o._data
        error = _promote.broadcast_error([data.shape, r._data.shape])
        if error is not None:
            raise error
        shape = tuple(np.broadcast_shapes(data.shape, r._data.shape))
        if shape != data.shape:
            raise RuntimeError(f"output with shape {list(data.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")
        _check_overlap(o, [])
    for r, o in zip(results, outs):
        o._data[...] = r._data
        o._vc[0] += 1


def write(name: str, fn, args: tuple, kwargs: dict, out):
    """Run ``fn(*args, **kwargs)`` and write its result into ``out`` (a tensor, or a tuple
    or list of tensors for the functions that return several) with torch's checks; returns
    ``out`` (a tuple of the same named type as the result for several outputs; None for the
    functions whose out is a list, as torch)."""
    short = name.rsplit(".", 1)[-1]
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{short}(): argument 'out' must be Tensor, not {type(o).__name__}")
    inputs = list(_tensors(args)) + list(_tensors(kwargs.values()))
    if grad_mode.state.enabled and any(t._requires_grad for t in inputs + list(outs)):
        aten = _aten(name, inputs)
        if aten is not None:
            raise RuntimeError(f"{aten}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
    if name in _KERNELS:
        _check_kernel(name, outs[0], inputs)
    rule = _rule(name)
    if name == "chain_matmul" and len(inputs) == 1:  # torch copies the one matrix into out
        rule = "any"
    if name in _FFT:
        _check_fft_kind(name, outs[0])
        if name in _FFT_COPIED and inputs and not inputs[0].is_complex():
            rule = "found"
    if rule == "factory":
        wanted = kwargs.get("dtype")
        have = outs[0].dtype
        if wanted is not None and wanted is not have:
            raise RuntimeError(f"dtype {_dtype.scalar_type_name(wanted)} does not match dtype "
                               f"of out parameter ({_dtype.scalar_type_name(have)})")
        kwargs = {**kwargs, "dtype": have}
    elif rule == "dtype" and kwargs.get("dtype") is None:
        kwargs = {**kwargs, "dtype": outs[0].dtype}
    elif name in _MEANS and inputs and _given_dim(args, kwargs):
        kwargs = _mean_keywords(name, inputs[0], outs[0], kwargs)
    if name == "normal":
        args, kwargs = _normal_args(fn, args, kwargs, outs[0])
    with grad_mode.no_grad():
        result = fn(*args, **kwargs)
    results = tuple(result) if isinstance(result, tuple) else (result,)
    if isinstance(result, tuple) != isinstance(out, (tuple, list)):
        kind = "tuple of Tensors" if isinstance(result, tuple) else "Tensor"
        raise TypeError(f"{short}(): argument 'out' must be {kind}, not {type(out).__name__}")
    if len(outs) != len(results):
        if name in _LIST_OUT:
            raise RuntimeError(f"{_LIST_OUT[name]} expected an out= argument of size "
                               f"{len(results)}, got size {len(outs)}")
        raise TypeError(f"expected tuple of {len(results)} elements but got {len(outs)}")
    if name in _COPY_INTO:
        _copy_into(results, outs)
        return None
    if len(results) > 1 and name not in _CAST_EACH:
        rule = "exact"  # each out must have its result's dtype (values and int64 indices)
    for i, (r, o) in enumerate(zip(results, outs)):
        _check_dtype(rule, r._data.dtype, o, name, i)
    for o in outs:
        _check_overlap(o, inputs)
    _warn_resizes(name, fn, args, kwargs, results, outs)
    for r, o in zip(results, outs):
        _store(name, r, o)
    if name in _LIST_OUT:
        return None
    if isinstance(result, tuple):
        return type(result)(outs) if hasattr(type(result), "n_fields") else outs
    return out


# NOTE [Generated out= wrappers]
# A call without ``out`` should cost no more than one short frame. A wrapper with the wrapped
# function's own parameters passes its arguments straight on (no ``*args``/``**kwargs``
# packing), but compiling one for each of ~250 functions would add tens of milliseconds to
# ``import ember``. So each function is installed as a ``*args`` wrapper whose first call
# compiles the exact code (once per distinct parameter list, shared) and puts it in the
# wrapper's own ``__code__``: every reference to the function, however it was imported, gets
# it. ``__signature__`` shows the exact parameters from the start.
_CODES: dict = {}
_PENDING: dict = {}
_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)


def _exact_code(params: tuple):
    key = tuple((p.name, p.kind) for p in params)
    code = _CODES.get(key)
    if code is not None:
        return code
    sig, call, arg_list, kw_items, starstar = [], [], [], [], ""
    for p in params:
        if p.kind in _POSITIONAL:
            sig.append(p.name)
            call.append(p.name)
            arg_list.append(p.name + ", ")
        elif p.kind is _P.VAR_POSITIONAL:
            sig.append("*" + p.name)
            call.append("*" + p.name)
            arg_list.append(f"*{p.name}, ")
        elif p.kind is _P.KEYWORD_ONLY:
            if not any(a.startswith("*") for a in sig):
                sig.append("*")
            sig.append(p.name)
            call.append(f"{p.name}={p.name}")
            kw_items.append(f"{p.name!r}: {p.name}")
        else:
            starstar = p.name
    if any(p.kind is _P.POSITIONAL_ONLY for p in params):
        sig.insert(1 + max(i for i, p in enumerate(params) if p.kind is _P.POSITIONAL_ONLY), "/")
    if not any(a.startswith("*") for a in sig):
        sig.append("*")
    sig.append("out")
    if starstar:
        sig.append("**" + starstar)
        call.append("**" + starstar)
        kw_items.append("**" + starstar)
    named = "".join(f"({p.name!r}, {p.name}), " for p in params if p.kind in _POSITIONAL)
    source = (
        "def _make(_out_fn, _out_name, _out_write):\n"
        f"    def wrapper({', '.join(sig)}):\n"
        "        if out is None:\n"
        "            try:\n"
        f"                return _out_fn({', '.join(call)})\n"
        "            except (AttributeError, TypeError) as _out_error:\n"
        f"                refuse_non_tensors(_out_name, _out_error, ({named}))\n"
        "                raise\n"
        f"        return _out_write(_out_name, _out_fn, ({''.join(arg_list)}), "
        f"{{{', '.join(kw_items)}}}, out)\n"
        "    return wrapper\n")
    make = compile(source, "<ember out= wrapper>", "exec").co_consts[0]
    code = _CODES[key] = next(c for c in make.co_consts if hasattr(c, "co_freevars"))
    return code


def _specialise(name: str, fn) -> None:
    entry = _PENDING.pop(name, None)
    if entry is None or entry[0]._out_wrapped is not fn:
        return
    wrapper, params = entry
    code = _exact_code(params)
    if code.co_freevars != wrapper.__code__.co_freevars:
        return
    wrapper.__code__ = code
    wrapper.__defaults__ = tuple(p.default for p in params if p.kind in _POSITIONAL
                                 and p.default is not _P.empty) or None
    wrapper.__kwdefaults__ = {**{p.name: p.default for p in params if p.kind is _P.KEYWORD_ONLY
                                 and p.default is not _P.empty}, "out": None}


def _pending_wrapper(fn, name: str):
    _out_fn, _out_name, _out_write = fn, name, write

    def wrapper(*args, out=None, **kwargs):
        _specialise(_out_name, _out_fn)  # the next call runs the exact code (see NOTE)
        if out is None:
            try:
                return _out_fn(*args, **kwargs)
            except (AttributeError, TypeError) as error:
                # (the names are looked up here, not held: the wrapper's free variables must
                # be the exact code's for _specialise to swap it in)
                names = [p.name for p in inspect.signature(_out_fn).parameters.values()
                         if p.kind in _POSITIONAL]
                given = dict(zip(names, args), **kwargs)
                refuse_non_tensors(_out_name, error, tuple(
                    (n, given[n]) for n in names if n in given))
                raise
        return _out_write(_out_name, _out_fn, args, kwargs, out)
    return wrapper


def _generic_wrapper(fn, name: str):
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return write(name, fn, args, kwargs, out)
    return wrapper


def _with_tensor_options(fn, name: str, sig: inspect.Signature):
    """``fn``, a factory defined without them, with torch's ``layout`` and ``pin_memory``
    keywords (checked as every factory checks them, then left out of the call)."""
    from ember._runtime import check_tensor_options

    binding = name.replace(".", "_")  # the name torch's parser gives in its errors

    def factory(*args, layout=None, pin_memory=False, **kwargs):
        if layout is not None or pin_memory:
            check_tensor_options(binding, layout, pin_memory)
        return fn(*args, **kwargs)
    params = list(sig.parameters.values())
    at = len(params) - (bool(params) and params[-1].kind is _P.VAR_KEYWORD)
    params[at:at] = [_P("layout", _P.KEYWORD_ONLY, default=None),
                     _P("pin_memory", _P.KEYWORD_ONLY, default=False)]
    factory.__signature__ = sig.replace(parameters=params)
    factory.__name__, factory.__doc__ = fn.__name__, fn.__doc__
    return factory


def with_out(fn, name: str):
    """``fn`` with torch's ``out=None`` keyword; ``name`` is its public name (``"add"``,
    ``"linalg.svd"``), which selects its dtype rule and torch's error texts. A factory
    defined without torch's ``layout``/``pin_memory`` keywords is given them here too."""
    fn = getattr(fn, "_out_wrapped", fn)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    if sig is not None and name in _FACTORY and "layout" not in sig.parameters:
        fn = _with_tensor_options(fn, name, sig)
        sig = inspect.signature(fn)
    if sig is None:
        call = _generic_wrapper(fn, name)
    else:
        params = tuple(p for p in sig.parameters.values() if p.name != "out")
        out = _P("out", _P.KEYWORD_ONLY, default=None)
        shown = list(params)
        shown.insert(len(shown) - (bool(shown) and shown[-1].kind is _P.VAR_KEYWORD), out)
        if any(p.name.startswith("_out_") or p.name == "wrapper" for p in params):
            call = _generic_wrapper(fn, name)
        else:
            call = _pending_wrapper(fn, name)
            _PENDING[name] = (call, params)
        call.__signature__ = sig.replace(parameters=shown)
    call.__name__ = fn.__name__
    call.__qualname__ = getattr(fn, "__qualname__", fn.__name__)
    call.__module__ = fn.__module__
    call.__doc__ = fn.__doc__
    call._out_wrapped = fn
    return call


def install(namespace: dict, prefix: str = "") -> None:
    """Give each function of ``namespace`` (a module's globals) that takes ``out`` in torch
    the keyword; ``prefix`` is the torch submodule (``"linalg."``)."""
    for name in OUT_NAMES:
        if not name.startswith(prefix) or "." in name[len(prefix):]:
            continue
        attr = name[len(prefix):]
        fn = namespace.get(attr)
        if callable(fn) and not isinstance(fn, type):
            namespace[attr] = with_out(fn, name)
