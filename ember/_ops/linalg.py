"""Matrix products: ``dot``, ``mv``, ``mm``, ``bmm`` and ``matmul``, which is composed of them
the way torch composes it, so its ``grad_fn`` is the node torch shows (``MmBackward0``,
``MvBackward0``, ``DotBackward0``, ``UnsafeViewBackward0`` for batched products)."""
from __future__ import annotations

import math
import warnings

from ember._backend import ndarray, np
from ember._dtype import FLOAT, INT, cpp_type_name, dtype, scalar_type_mismatch, scalar_type_name
from ember._ops.pointwise import _tensors_only, where
from ember._ops.reduction import _return_type
from ember._ops.registry import KEEP, attach, defop, run, saved_as, saved_output
from ember._ops.shape import SQUEEZE_INPLACE_DIM, _unsafe_view, expanded_shape
from ember._tensor import (
    Tensor,
    bool_argument,
    c_type_name,
    make,
    method_taking_tensor,
    tensor_argument,
    wrap_dim,
)
from ember.autograd import grad_mode
from ember.autograd.graph import _watched

_BOOL = np.dtype(bool)


# NOTE [Product dtype checks]
# The products' dtype checks are their records' ``check=``, which ``registry.run`` calls
# after the op modes: autocast casts a bfloat16 activation and a float32 weight to one dtype
# before they are compared, as torch's autocast does. Shape checks stay before ``run``.
def _refuse_bool(kernel: str, first: Tensor, second: Tensor) -> None:
    # torch's CPU product kernels have no bool loop; they are not reached (no error) when
    # the product has no element to compute or sums over an empty inner dimension
    a, b = first._data, second._data
    if a.dtype is _BOOL and a.size and b.size:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _check_pair(self, other, *params) -> None:
    _same_dtype(self, other)
    _refuse_bool("addmm_impl_cpu_", self, other)


def _check_mv(self, vec) -> None:
    if self._data.dtype != vec._data.dtype:  # torch's mv runs addmv into a result like vec
        raise _addmv_dtypes(vec, self, vec)
    _refuse_bool("addmv_impl_cpu", self, vec)


def _check_bmm(self, mat2) -> None:
    _refuse_bool("bmm", self, mat2)
    if self._data.dtype != mat2._data.dtype:
        raise scalar_type_mismatch(self.dtype, mat2.dtype)


def _fused_check(kernel: str):
    """The dtype checks of addmm, addbmm, addmv and baddbmm (``self + first @ second``), in
    each kernel's words and order, then its refusal of bool."""
    def check(self, first, second, beta, alpha, *params) -> None:
        s, a, b = self._data.dtype, first._data.dtype, second._data.dtype
        if s is b and a is b:  # one dtype (NumPy shares the dtype object): nothing to refuse
            if b.kind == "b":
                _refuse_bool(kernel, first, second)
            return
        if kernel == "addmv_impl_cpu":
            if not s == a == b:
                raise _addmv_dtypes(self, first, second)
        elif kernel == "baddbmm":
            if s != a:
                raise RuntimeError(
                    f"Input dtypes must be the same, got: input {cpp_type_name(self.dtype)}, "
                    f"batch1: {cpp_type_name(first.dtype)}, batch2: "
                    f"{cpp_type_name(second.dtype)}")
            if a != b:
                raise scalar_type_mismatch(first.dtype, second.dtype)
        else:  # addmm, addbmm: self against mat2 first, then mat1 against mat2
            for name, t in (("self", self), ("mat1", first)):
                if t._data.dtype != b:
                    raise RuntimeError(
                        f"{name} and mat2 must have the same dtype, but got "
                        f"{scalar_type_name(t.dtype)} and {scalar_type_name(second.dtype)}")
        _refuse_bool(kernel, first, second)
    return check


def _addmv_dtypes(self: Tensor, mat: Tensor, vec: Tensor) -> RuntimeError:
    return RuntimeError(
        f"addmv input tensors must have the same dtype, but got {scalar_type_name(self.dtype)}"
        f", {scalar_type_name(mat.dtype)}, and {scalar_type_name(vec.dtype)}")


DOT = defop("dot", node="DotBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
            forward=lambda xp, self, tensor: xp.dot(self, tensor),  # torch's argument names
            backward=(lambda grad, self, tensor: grad * tensor,
                      lambda grad, self, tensor: grad * self))
MV = defop("mv", node="MvBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
           check=_check_mv,
           forward=lambda xp, self, vec: xp.matmul(self, vec),
           backward=(lambda grad, self, vec: grad.unsqueeze(1) * vec,
                     lambda grad, self, vec: self.t().mv(grad)))


def _on_arrays(a: Tensor, b: Tensor) -> bool:
    """Whether a product's gradient formula may make its NumPy calls on the arrays (the
    same calls its ``t`` and ``mm`` ops make, so the same bits) without the op runner around
    each: float32 or float64 factors of one dtype, and nothing watching the formula's ops
    (``graph._watched``: a profile lists these ``mm`` and ``t`` under the node, as torch's
    does; compile's tracer records them as steps)."""
    dt = a._data.dtype
    return dt == b._data.dtype and dt in (np.float32, np.float64) and not _watched()


def _mat1_grad(grad, mat2):
    """The gradient of a product's left factor, ``grad @ mat2^T``."""
    if _on_arrays(grad, mat2):
        return make(np.matmul(grad._data, mat2._data.T))
    return grad.mm(mat2.t())


def _mat2_grad(grad, mat1, mat2_sym_strides):
    """The gradient of a product's right factor, laid out as that factor: one stored
    column-major (a linear layer's transposed weight) gets (grad^T mat1)^T, so its leaf's
    gradient arrives in the weight's own layout (as torch's mm_mat2_backward; NOTE [Stealing
    a gradient] in autograd/graph.py)."""
    column_major = mat2_sym_strides[0] == 1 and mat2_sym_strides[1] == mat1.shape[1]
    if _on_arrays(grad, mat1):
        g, m = grad._data, mat1._data
        return make(np.matmul(g.T, m).T if column_major else np.matmul(m.T, g))
    if column_major:
        return grad.t().mm(mat1).t()
    return mat1.t().mm(grad)


def _strides_2d(t: Tensor) -> tuple:
    """A matrix's strides in elements, torch's ``t.stride()``."""
    d = t._data
    size = d.itemsize
    return (d.strides[0] // size, d.strides[1] // size)


MM = defop("mm", node="MmBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
           check=_check_pair, layout_params=1,
           forward=lambda xp, self, mat2, mat2_sym_strides: xp.matmul(self, mat2),
           backward=(lambda grad, self, mat2, mat2_sym_strides: _mat1_grad(grad, mat2),
                     lambda grad, self, mat2, mat2_sym_strides: _mat2_grad(
                         grad, self, mat2_sym_strides)))
BMM = defop("bmm", node="BmmBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
            check=_check_bmm,
            forward=lambda xp, self, mat2: xp.matmul(self, mat2),
            backward=(lambda grad, self, mat2: grad.bmm(mat2.transpose(1, 2)),
                      lambda grad, self, mat2: self.transpose(1, 2).bmm(grad)))


def _same_dtype(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{cpp_type_name(a.dtype)} != {cpp_type_name(b.dtype)}")


def _check_vectors(name: str, input: Tensor, other: Tensor) -> None:
    """torch's errors for dot and vdot: two 1-d tensors of one dtype and length."""
    a, b = input._data, other._data
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"{name} : expected both vectors to have same dtype, but found "
            f"{scalar_type_name(input.dtype)} and {scalar_type_name(other.dtype)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to "
            f"have the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements "
            "respectively")
    if a.dtype is _BOOL:  # even for empty vectors, unlike the matrix products
        raise NotImplementedError("\"dot\" not implemented for 'Bool'")


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Mirrors ``torch.dot``: the inner product of two 1-d tensors of one dtype."""
    _tensors_only("dot", input=input, tensor=tensor)
    _check_vectors("dot", input, tensor)
    return run(DOT, input, tensor)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Mirrors ``torch.mv``: matrix times vector."""
    _tensors_only("mv", input=input, vec=vec)
    a, v = input._data, vec._data
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({a.shape[0] if a.ndim else 0}), mat "
            f"({'x'.join(str(s) for s in a.shape)}), vec ({v.shape[0] if v.ndim else 0})")
    return run(MV, input, vec)


def _refuse_out_dtype(name: str, out_dtype) -> None:
    """torch's CPU build has no kernel for the ``out_dtype`` overloads of the products."""
    if not isinstance(out_dtype, dtype):
        raise TypeError(f"{name}(): argument 'out_dtype' must be torch.dtype, not "
                        f"{type(out_dtype).__name__}")
    raise NotImplementedError(
        f"Could not run 'aten::{name}.dtype' with arguments from the 'CPU' backend. This "
        "could be because the operator doesn't exist for this backend, or was omitted during "
        "the selective/custom build process (if using custom build).")


def mm(input: Tensor, mat2: Tensor, out_dtype=None) -> Tensor:
    """Mirrors ``torch.mm``: the product of two matrices. ``out_dtype`` raises torch's CPU
    error (its kernels are CUDA's); ember differs in taking an explicit None as not given
    (torch refuses it)."""
    if out_dtype is not None:
        _refuse_out_dtype("mm", out_dtype)
    if type(input) is not Tensor or type(mat2) is not Tensor:
        _tensors_only("mm", input=input, mat2=mat2)
    mm_shape_check(input, mat2)
    return run(MM, input, mat2, _strides_2d(mat2))


def bmm(input: Tensor, mat2: Tensor, out_dtype=None) -> Tensor:
    """Mirrors ``torch.bmm``: batches of matrix products, (b, n, m) @ (b, m, p).
    ``out_dtype`` as in ``mm``."""
    if out_dtype is not None:
        _refuse_out_dtype("bmm", out_dtype)
    if type(input) is not Tensor or type(mat2) is not Tensor:
        _tensors_only("bmm", input=input, mat2=mat2)
    _check_batches(input, mat2)
    return run(BMM, input, mat2)


def _broadcast_batch(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}")
        out.append(max(x, y) if x and y else 0)
    return tuple(out)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.matmul`` for every rank combination torch accepts."""
    if type(input) is not Tensor or type(other) is not Tensor:
        _tensors_only("matmul", input=input, other=other)
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return run(SQUEEZE_INPLACE_DIM, mm(input.unsqueeze(0), other), (0,),
                   (1, other._data.shape[1]))
    if da == 2 and db == 2:
        return mm(input, other)
    if da >= 3 and db <= 2:
        # Fold the batch into the rows: one mm (or mv), then view the batch back out.
        lead = input._data.shape[:-1]
        folded = input.reshape(_numel(lead), input._data.shape[-1])
        if db == 2:
            return _unsafe_view(mm(folded, other), lead + (other._data.shape[1],))
        return _unsafe_view(mv(folded, other), lead)
    if input._requires_grad and grad_mode.state.enabled and (
            (da <= 2 and db >= 3) or (da == db and _numel(input._data.shape[:-2]) == 1)):
        # torch folds the other way round so that the input needing a gradient is not
        # expanded over the batch: (other^T @ input^T)^T.
        if da == 1:
            return matmul(other.transpose(-1, -2), input)
        if da > 2:
            input = input.reshape(input._data.shape[-2:])
        return matmul(other.transpose(-1, -2), input.t()).transpose(-1, -2).contiguous()
    a = input.unsqueeze(0) if da == 1 else input
    b = other.unsqueeze(-1) if db == 1 else other
    n, k = a._data.shape[-2:]
    k2, m = b._data.shape[-2:]
    batch = _broadcast_batch(a._data.shape[:-2], b._data.shape[:-2])
    # the batch size spelled out: -1 cannot be inferred when a matrix is empty
    a3 = a.expand(batch + (n, k)).reshape(_numel(batch), n, k)
    b3 = b.expand(batch + (k2, m)).reshape(_numel(batch), k2, m)
    out_shape = batch + ((n,) if da > 1 else ()) + ((m,) if db > 1 else ())
    return _unsafe_view(bmm(a3, b3), out_shape)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _rmatmul(self: Tensor, other: Tensor) -> Tensor:
    return matmul(other, self)


# the methods refuse a non-tensor at torch's method position (NOTE [Method argument
# positions]); ``@`` keeps the function
attach({"dot": method_taking_tensor(dot, "tensor"), "mv": method_taking_tensor(mv, "vec"),
        "mm": method_taking_tensor(mm, "mat2"), "bmm": method_taking_tensor(bmm, "mat2"),
        "matmul": method_taking_tensor(matmul, "other"), "__matmul__": matmul,
        "__rmatmul__": _rmatmul})


# ---- fused products: addmm, addmv, baddbmm, addbmm -------------------------------------
# ``beta * self + alpha * (product)``. With beta == 0 torch ignores ``self`` entirely (nan
# and inf in it do not propagate), and so does the forward here.


def _fused(xp, bias, product, beta, alpha):
    if bias.dtype.itemsize == 2 and bias.dtype.kind in "fV":
        # torch adds a half-precision bias to the float32 product in float32 and rounds the
        # sum once (the op's result dtype rounds it)
        bias = bias.astype(np.float32)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return xp.broadcast_to(product, xp.broadcast_shapes(bias.shape, product.shape)).copy()
    return product + (bias if beta == 1 else bias * beta)


# NOTE [Wide products of few rows]
# OpenBLAS takes a linear layer's product x @ w.T (w C-ordered, read transposed) with a few
# rows and many more columns several times more slowly than the same product the other way
# round, w @ x.T, which is its transpose: 8 x 512 by 512 in 168 against 94 us, 32 x 784 by
# 512 in 438 against 305 us, 64 x 784 by 256 (W4's first layer) in 341 against 297 us, the
# times including the bias addition, which here also writes the transpose back in C order.
# With 1-4 rows, or fewer than four times as many columns as rows, the usual way round was
# as fast or faster. Each element is the same dot product, summed by the same kernel in the
# same order: the results were the same bits on every shape measured.
_FEW_ROWS_MIN = 8
_WIDE_FACTOR = 4


def _addmm_forward(xp, bias, mat1, mat2, beta, alpha):
    rows, cols = mat1.shape[0], mat2.shape[1]
    if beta == 1 and alpha == 1 and _FEW_ROWS_MIN <= rows and _WIDE_FACTOR * rows <= cols \
            and mat2.T.flags.c_contiguous and mat1.flags.c_contiguous \
            and mat1.dtype == mat2.dtype == bias.dtype and mat1.dtype.kind == "f" \
            and mat1.dtype.itemsize >= 4:
        from ember import _blas  # here, not at import: ``import ember`` stays without it

        if _blas.kernels_for(mat1.dtype):  # NOTE [Wide products of few rows]
            out = xp.empty((rows, cols), mat1.dtype)
            return xp.add(xp.matmul(mat2.T, mat1.T).T, bias, out=out)
    return _fused(xp, bias, _wide_product(xp, mat1, mat2), beta, alpha)


def _wide_product(xp, a, b):
    """``a @ b`` for the fused products: a float16 product kept in float32 for the bias to
    be added to before the one rounding (bfloat16 products come in float32 already)."""
    if a.dtype.itemsize == 2 and a.dtype.kind == "f":  # float16 (cheap to ask first)
        return xp.matmul(a.astype(np.float32), b.astype(np.float32))
    return xp.matmul(a, b)


def _scale(grad, factor):
    return grad if factor == 1 else grad * factor


def _bias_grad(grad, self, mat1, mat2, beta, alpha, mat2_sym_strides=None):
    return _scale(grad, beta)


ADDMM = defop("addmm", node="AddmmBackward0", nin=3, kind=KEEP,
              save={1: (2,), 2: (1,)}, check=_fused_check("addmm_impl_cpu_"), layout_params=1,
              forward=lambda xp, self, mat1, mat2, beta, alpha, mat2_sym_strides: (
                  _addmm_forward(xp, self, mat1, mat2, beta, alpha)),
              backward=(_bias_grad,
                        lambda grad, self, mat1, mat2, beta, alpha, mat2_sym_strides: _scale(
                            _mat1_grad(grad, mat2), alpha),
                        lambda grad, self, mat1, mat2, beta, alpha, mat2_sym_strides: _scale(
                            _mat2_grad(grad, mat1, mat2_sym_strides), alpha)))
ADDMV = defop("addmv", node="AddmvBackward0", nin=3, kind=KEEP,
              save={1: (2,), 2: (1,)}, check=_fused_check("addmv_impl_cpu"),
              forward=lambda xp, self, mat, vec, beta, alpha: _fused(
                  xp, self, _wide_product(xp, mat, vec), beta, alpha),
              backward=(_bias_grad,
                        lambda grad, self, mat, vec, beta, alpha: _scale(
                            grad.unsqueeze(1) * vec, alpha),
                        lambda grad, self, mat, vec, beta, alpha: _scale(
                            mat.t().mv(grad), alpha)))
BADDBMM = defop("baddbmm", node="BaddbmmBackward0", nin=3, kind=KEEP,
                save={1: (2,), 2: (1,)}, check=_fused_check("baddbmm"),
                forward=lambda xp, self, batch1, batch2, beta, alpha: _fused(
                    xp, self, _wide_product(xp, batch1, batch2), beta, alpha),
                backward=(_bias_grad,
                          lambda grad, self, batch1, batch2, beta, alpha: _scale(
                              grad.bmm(batch2.transpose(1, 2)), alpha),
                          lambda grad, self, batch1, batch2, beta, alpha: _scale(
                              batch1.transpose(1, 2).bmm(grad), alpha)))


def _batched_grad(grad, batch):
    return grad.unsqueeze(0).expand((batch,) + tuple(grad.shape))


ADDBMM = defop("addbmm", node="AddbmmBackward0", nin=3, kind=KEEP,
               save={1: (2,), 2: (1,)}, check=_fused_check("addmm_impl_cpu_"),
               forward=lambda xp, self, batch1, batch2, beta, alpha: _fused(
                   xp, self, _wide_product(xp, batch1, batch2).sum(0), beta, alpha),
               backward=(_bias_grad,
                         lambda grad, self, batch1, batch2, beta, alpha: _scale(
                             _batched_grad(grad, batch1.shape[0]).bmm(
                                 batch2.transpose(1, 2)), alpha),
                         lambda grad, self, batch1, batch2, beta, alpha: _scale(
                             batch1.transpose(1, 2).bmm(
                                 _batched_grad(grad, batch1.shape[0])), alpha)))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, out_dtype=None, *, beta=1,
          alpha=1) -> Tensor:
    """Mirrors ``torch.addmm``: ``beta * input + alpha * (mat1 @ mat2)``, ``input``
    broadcast to the product's shape (ignored when ``beta`` is 0). ``out_dtype`` as in
    ``mm``."""
    if out_dtype is not None:
        _refuse_out_dtype("addmm", out_dtype)
    mm_shape_check(mat1, mat2)
    shape = (mat1._data.shape[0], mat2._data.shape[1])
    have = input._data.shape
    # The common biases, (p,) and (n, p), broadcast without asking NumPy (which costs
    # microseconds per call); anything else takes the full check and its error.
    if not (have == shape or have == shape[1:]):
        expanded_shape(input, shape)
    return run(ADDMM, input, mat1, mat2, beta, alpha, _strides_2d(mat2))


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """Mirrors ``torch.addmv``: ``beta * input + alpha * (mat @ vec)``."""
    a, v, bias = mat._data, vec._data, input._data
    if a.ndim != 2 or v.ndim != 1 or bias.ndim > 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got {bias.ndim}, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0] or (bias.ndim and bias.shape[0] not in (1, a.shape[0])):
        raise RuntimeError(
            f"size mismatch, got input ({bias.shape[0] if bias.ndim else 1}), "
            f"mat ({'x'.join(str(s) for s in a.shape)}), vec ({v.shape[0]})")
    return run(ADDMV, input, mat, vec, beta, alpha)


def _check_batches(batch1: Tensor, batch2: Tensor) -> None:
    a, b = batch1._data, batch2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, out_dtype=None, *, beta=1,
            alpha=1) -> Tensor:
    """Mirrors ``torch.baddbmm``: ``beta * input + alpha * bmm(batch1, batch2)``.
    ``out_dtype`` as in ``mm``."""
    if out_dtype is not None:
        _refuse_out_dtype("baddbmm", out_dtype)
    _check_batches(batch1, batch2)
    a, b = batch1._data, batch2._data
    expanded_shape(input, (a.shape[0], a.shape[1], b.shape[2]))
    return run(BADDBMM, input, batch1, batch2, beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """Mirrors ``torch.addbmm``: ``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    _check_batches(batch1, batch2)
    a, b = batch1._data, batch2._data
    expanded_shape(input, (a.shape[1], b.shape[2]))
    return run(ADDBMM, input, batch1, batch2, beta, alpha)


def mm_shape_check(a: Tensor, b: Tensor) -> None:
    """torch.mm's shape errors (shared with addmm); the dtypes are the record's check (NOTE
    [Product dtype checks])."""
    x, y = a._data, b._data
    if x.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if y.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({x.shape[0]}x{x.shape[1]} and "
            f"{y.shape[0]}x{y.shape[1]})")


# ---- outer, inner, vdot, tensordot, kron, cross ----------------------------------------


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Mirrors ``torch.outer``: composed as torch composes it, a broadcast product
    (``MulBackward0``)."""
    _tensors_only("outer", input=input, vec2=vec2)
    return _outer(input, vec2)


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """Mirrors ``torch.ger``, ``outer`` under its old name (which torch's argument errors
    give)."""
    _tensors_only("ger", input=input, vec2=vec2)
    return _outer(input, vec2)


def _outer(input: Tensor, vec2: Tensor) -> Tensor:
    for t in (input, vec2):
        if t._data.ndim != 1:
            raise RuntimeError(
                f"outer: Expected 1-D argument self, but got {input._data.ndim}-D"
                if t is input else
                f"outer: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return input.reshape(-1, 1) * vec2


VDOT = defop("vdot", node="VdotBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
             forward=lambda xp, self, other: xp.vdot(self, other),
             backward=(lambda grad, self, other: other * grad.conj(),
                       lambda grad, self, other: grad * self),
             real_formulas=False)  # conj(self) makes it no complex-analytic product


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.vdot``: the dot product with ``input`` conjugated."""
    _tensors_only("vdot", input=input, other=other)
    _check_vectors("vdot", input, other)
    return run(VDOT, input, other)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Mirrors ``torch.tensordot``: contracts ``dims`` (an int: the last dims of ``a`` with
    the first of ``b``; or two lists of dims), composed as torch composes it: permute,
    reshape, one ``mm``, and a final view (``ViewBackward0``)."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > na or dims > nb:
            raise RuntimeError(
                f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(na - dims, na)), list(range(dims))
    else:
        dims_a, dims_b = dims
        if isinstance(dims_a, int):
            dims_a, dims_b = [dims_a], [dims_b]
        dims_a = [wrap_dim(int(d), na) for d in dims_a]
        dims_b = [wrap_dim(int(d), nb) for d in dims_b]
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    sa, sb = a._data.shape, b._data.shape
    for da, db in zip(dims_a, dims_b):
        if sa[da] != sb[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {sa[da]} in dim "
                f"{da} and second has size {sb[db]} in dim {db}")
    free_a = [d for d in range(na) if d not in dims_a]
    free_b = [d for d in range(nb) if d not in dims_b]
    k = _numel(tuple(sa[d] for d in dims_a))
    left = a.permute(free_a + dims_a).reshape(_numel(tuple(sa[d] for d in free_a)), k)
    right = b.permute(dims_b + free_b).reshape(k, _numel(tuple(sb[d] for d in free_b)))
    return mm(left, right).view(tuple(sa[d] for d in free_a) + tuple(sb[d] for d in free_b))


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.inner``: contracts the last dims (a product when either is 0-d)."""
    _tensors_only("inner", input=input, other=other)
    na, nb = input._data.ndim, other._data.ndim
    if na == 0 or nb == 0:
        return input * other
    sa, sb = input._data.shape[-1], other._data.shape[-1]
    if sa != sb:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input._data.shape)} and {list(other._data.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``torch.kron``: the Kronecker product, composed as torch composes it (an
    interleaving broadcast product, then ``_unsafe_view``: ``UnsafeViewBackward0``)."""
    _tensors_only("kron", input=input, other=other)
    n = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (n - input._data.ndim) + input._data.shape
    sb = (1,) * (n - other._data.ndim) + other._data.shape
    a = input.reshape(tuple(s for d in sa for s in (d, 1)))
    b = other.reshape(tuple(s for d in sb for s in (1, d)))
    return _unsafe_view(a * b, tuple(x * y for x, y in zip(sa, sb)))


def _cross(xp, self, other, dim):
    a = xp.moveaxis(self, dim, -1)
    b = xp.moveaxis(other, dim, -1)
    r = xp.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                  a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                  a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], -1)
    return xp.moveaxis(r, -1, dim)


CROSS = defop("linalg_cross", node="LinalgCrossBackward0", nin=2, kind=KEEP,
              save={0: (1,), 1: (0,)}, forward=_cross,
              backward=(lambda grad, self, other, dim: run(CROSS, other, grad, dim),
                        lambda grad, self, other, dim: run(CROSS, grad, self, dim)))


def _linalg_cross(input: Tensor, other: Tensor, dim: int) -> Tensor:
    a, b = input._data, other._data
    if a.ndim != b.ndim:
        raise RuntimeError(
            "linalg.cross: inputs must have the same number of dimensions.")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"linalg.cross: expected input and other to have the same dtype, but got "
            f"{scalar_type_name(input.dtype)} and {scalar_type_name(other.dtype)}")
    shape = _broadcast_batch(a.shape, b.shape)
    d = wrap_dim(dim, len(shape))
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
            f"{b.shape[d]}")
    return run(CROSS, input, other, d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """Mirrors ``torch.cross``: with ``dim`` None, the first dim of size 3 (torch's
    deprecated default, with its warning)."""
    _tensors_only("cross", input=input, other=other)
    if dim is None:
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated.\nPlease either "
            "pass the dim explicitly or simply use torch.linalg.cross.\nThe default value of "
            "dim will change to agree with that of linalg.cross in a future release.",
            UserWarning, stacklevel=2)
        shape = _broadcast_batch(input._data.shape, other._data.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return _linalg_cross(input, other, dim)


# ---- einsum -----------------------------------------------------------------------------
# NOTE [einsum gradients]: the gradient of operand k is one einsum of ``grad`` with the other
# operands, producing k's labels. Two cases need constant helper operands so that this stays
# a single einsum (and so is differentiable again): a label repeated within operand k (a
# diagonal) gets fresh labels tied to it by identity matrices, and a label found only in
# operand k (summed there) gets a ones vector, which broadcasts the gradient along it.

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, shapes: list) -> tuple:
    """(input subscripts, output subscripts), ``...`` replaced by letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(terms) < len(shapes) else
            "einsum(): fewer operands were provided than specified in the equation")
    used = set(c for c in equation if c.isalpha())
    spare = [c for c in _LETTERS if c not in used]
    n_ell = max((len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t),
                default=0)
    ell = "".join(spare[:n_ell])
    subs = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:] if k else "")
        if not all(c.isalpha() for c in t):
            raise RuntimeError(
                "einsum(): invalid subscript given at index "
                f"{next(i for i, c in enumerate(lhs) if not (c.isalpha() or c in ',.'))} in "
                f"the equation string, subscripts must be in [a-zA-Z]")
        if len(t) != len(s):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(t)}) does not match "
                f"the number of dimensions ({len(s)}) for operand {len(subs)} and no ellipsis "
                "was given")
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict = {}
        for t in subs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c in counts if counts[c] == 1 and c not in ell),
                                   key=lambda c: (c.islower(), c)))
    return subs, out


def _einsum_forward(xp, *arrays_and_spec):
    *arrays, spec = arrays_and_spec
    subs, out = spec
    return xp.einsum(",".join(subs) + "->" + out, *arrays, optimize=len(arrays) > 2)


def _einsum_grad(k: int):
    def formula(grad, *operands_and_spec):
        *operands, spec = operands_and_spec
        subs, out = spec
        target = subs[k]
        sizes = {c: operands[k].shape[i] for i, c in enumerate(target)}
        for o, t in zip(operands, subs):
            for i, c in enumerate(t):
                sizes.setdefault(c, o.shape[i])
        spare = iter(c for c in _LETTERS if c not in "".join(subs) + out)
        terms = [out]
        args = [grad]
        for j, (o, t) in enumerate(zip(operands, subs)):
            if j != k:
                terms.append(t)
                args.append(o)
        present = set("".join(terms))
        result = []
        seen = set()
        for c in target:
            if c in seen:  # a diagonal: a fresh label, tied to c by the identity
                fresh = next(spare)
                terms.append(c + fresh)
                args.append(_constant(np.eye(sizes[c], dtype=grad._data.dtype)))
                result.append(fresh)
                continue
            seen.add(c)
            if c not in present:
                terms.append(c)
                args.append(_constant(np.ones(sizes[c], dtype=grad._data.dtype)))
                present.add(c)
            result.append(c)
        return _einsum_run(terms, "".join(result), args)
    return formula


_EINSUM_OPS: dict = {}


def _einsum_run(subs: list, out: str, operands: list) -> Tensor:
    n = len(operands)
    in_labels = set("".join(subs))
    if n == 1:
        node = "SumBackward1" if in_labels - set(out) else "PermuteBackward0"
    else:
        node = "ViewBackward0" if in_labels - set(out) else "MulBackward0"
    op = _EINSUM_OPS.get((n, node))
    if op is None:
        op = _EINSUM_OPS[(n, node)] = defop(
            "einsum", node=node, nin=n, kind=KEEP, save=tuple(range(n)),
            forward=_einsum_forward, backward=tuple(_einsum_grad(k) for k in range(n)))
    return run(op, *operands, (tuple(subs), out))


def _constant(array) -> Tensor:
    return make(array)


def einsum(equation, /, *operands) -> Tensor:
    """Mirrors ``torch.einsum`` (equation form, also with the operands as one list, and the
    sublist form). Computed by one NumPy einsum (``optimize=True`` for three or more
    operands); the gradient is an einsum too (NOTE [einsum gradients]). ember differs: torch
    contracts pairwise and its ``grad_fn`` is the last op it ran; ember records one node,
    named as torch's usually is (``SumBackward1`` or ``PermuteBackward0`` for one operand,
    ``ViewBackward0`` when labels are contracted, else ``MulBackward0``)."""
    if not isinstance(equation, str):  # sublist form: op, [dims], op, [dims], ..., [out]
        parts = (equation,) + operands
        ops = parts[0::2]
        lists = parts[1::2]
        out = None
        if len(parts) % 2:
            out = ops[-1]
            ops = ops[:-1]
        letter = {}

        def term(lst):
            return "".join("..." if d is Ellipsis else letter.setdefault(d, _LETTERS[len(letter)])
                           for d in lst)
        equation = ",".join(term(lst) for lst in lists)
        if out is not None:
            equation += "->" + term(out)
        operands = ops
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subs, out = _parse_einsum(equation, [o._data.shape for o in operands])
    dtypes = {o._data.dtype for o in operands}
    if len(dtypes) > 1:
        raise scalar_type_mismatch(
            operands[0].dtype, next(o.dtype for o in operands if o.dtype != operands[0].dtype))
    seen: dict = {}
    for k, (t, o) in enumerate(zip(subs, operands)):
        for c, size in zip(t, o._data.shape):
            prev = seen.setdefault(c, size)
            if prev == 1:
                seen[c] = size
            elif size not in (1, prev):
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {size} for operand {k} which does not "
                    f"broadcast with previously seen size {seen[c]}")
    for c in set(out):
        if out.count(c) > 1:
            raise RuntimeError(
                f"einsum(): output subscript {c} appears more than once in the output")
    for c in out:
        if not any(c in t for t in subs):
            raise RuntimeError(
                f"einsum(): output subscript {c} does not appear in the equation for any "
                "input operand")
    if operands and operands[0]._data.dtype == np.bool_:
        # torch sums a label found in one operand only with sum (bool counts as int64), and
        # contracts a label two operands share with bmm, which has no bool kernel
        summed = set("".join(subs)) - set(out)
        shared = [c for c in summed if sum(c in t for t in subs) > 1]
        if shared and all(seen[c] for c in shared):
            raise NotImplementedError('"bmm" not implemented for \'Bool\'')
        if summed and not shared:
            operands = [make(o._data.astype(np.int64)) for o in operands]
    return _einsum_run(subs, out, list(operands))


# ---- ember.linalg: shared helpers -------------------------------------------------------


class LinAlgError(RuntimeError):
    """Mirrors ``torch.linalg.LinAlgError``: a numerical failure (singular input, not
    positive-definite, no convergence)."""


# torch's class is ``torch._C._LinAlgError`` (public as ``torch.linalg.LinAlgError``): a
# traceback and ``repr`` name it so, with ``ember`` in place of ``torch``
LinAlgError.__module__ = "ember._C"
LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def _mH(x: Tensor) -> Tensor:
    return x.transpose(-2, -1).conj() if x.is_complex() else x.transpose(-2, -1)


def _eye(n: int, like: Tensor) -> Tensor:
    return make(np.eye(n, dtype=like._data.dtype))


def _diag_embed(v: Tensor) -> Tensor:
    return v.unsqueeze(-1) * _eye(v.shape[-1], v)


def _tril_mask(n: int, like: Tensor, k: int = 0) -> Tensor:
    return make(np.tril(np.ones((n, n), dtype=like._data.dtype), k))


def _check_square(A: Tensor, name: str, arg: str = "A") -> None:
    _check_dims(A, name, arg)  # torch's shape check comes before its dtype check
    _check_float(A, name)


def _check_dims(A: Tensor, name: str, arg: str = "A") -> None:
    """torch's errors for an input that is not a batch of square matrices."""
    s = A._data.shape
    if len(s) < 2:
        raise RuntimeError(
            f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if s[-1] != s[-2]:
        raise RuntimeError(
            f"{name}: {arg} must be batches of square matrices, but they are {s[-2]} by "
            f"{s[-1]} matrices")


def _check_matrix(A: Tensor, name: str) -> None:
    _check_float(A, name)
    if A._data.ndim < 2:
        raise RuntimeError(
            f"{name}: The input tensor A must have at least 2 dimensions.")


def _check_float(A: Tensor, name: str) -> None:
    if A.dtype.category < FLOAT:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got "
            f"{scalar_type_name(A.dtype)}")


def _low_precision(A: Tensor) -> bool:
    """half and bfloat16: they pass the floating-point checks, but LAPACK has no kernels
    for them, and torch refuses them."""
    return A.dtype.category == FLOAT and A._data.dtype.itemsize < 4


def _check_lapack_dtype(A: Tensor, kernel: str, any_dtype: bool = False) -> None:
    """torch's NotImplementedError from a CPU kernel with no version for A's dtype (half and
    bfloat16; with ``any_dtype``, anything that is not float or complex)."""
    if _low_precision(A) or (any_dtype and A.dtype.category < FLOAT):
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{scalar_type_name(A.dtype)}\'')


def _check_precision(A: Tensor, name: str) -> None:
    if _low_precision(A):
        raise RuntimeError(
            f"{name}: Low precision dtypes not supported. Got {scalar_type_name(A.dtype)}")


def _lu_singular_index(a) -> int | None:
    """The 1-based index of the first zero pivot of partial-pivoting LU (LAPACK getrf's
    ``info``), or None when every pivot is nonzero; what torch reports for singular inputs."""
    a = np.array(a, dtype=np.float64 if a.dtype != np.float32 else np.float32)
    n = a.shape[0]
    first = None
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            if first is None:
                first = j + 1
            continue
        if p != j:
            a[[j, p]] = a[[p, j]]
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return first


def _singular_indices(flat) -> ndarray:
    """For a stack of square matrices, the 1-based index of each one's first zero pivot of
    partial-pivoting LU (LAPACK getrf's ``info``; 0 when every pivot is nonzero), all
    matrices eliminated together, one column at a time. A column whose candidates are all
    zero has a zero pivot and eliminates nothing, as getrf goes on past it."""
    kind = flat.dtype
    if kind.kind == "c":
        work = flat.astype(np.complex64 if kind == np.complex64 else np.complex128)
    else:
        work = flat.astype(np.float32 if kind == np.float32 else np.float64)
    batch, n = work.shape[0], work.shape[-1]
    info = np.zeros(batch, np.int64)
    rows = np.arange(batch)
    for j in range(n):
        column = work[:, j:, j]
        # getrf picks the largest |re| + |im| (i?amax), the modulus for real matrices
        size = np.abs(column.real) + np.abs(column.imag) if kind.kind == "c" else np.abs(column)
        p = j + np.argmax(size, axis=1)
        pivot = work[rows, p, j]
        zero = pivot == 0
        info[(info == 0) & zero] = j + 1
        top = work[:, j].copy()
        work[:, j] = work[rows, p]
        work[rows, p] = top
        factors = work[:, j + 1:, j] / np.where(zero, 1, pivot)[:, None]
        work[:, j + 1:, j] = factors
        work[:, j + 1:, j + 1:] -= factors[:, :, None] * work[:, j, None, j + 1:]
    return info


def _lu_singular_index(a) -> int | None:
    """The 1-based index of the first zero pivot of partial-pivoting LU (LAPACK getrf's
    ``info``), or None when every pivot is nonzero; what torch reports for singular inputs."""
    info = int(_singular_indices(np.asarray(a)[None])[0])
    return info or None


def _raise_if_singular(data, message) -> None:
    """torch's LinAlgError, ``message(where, info)``, for the first singular matrix of the
    stack ``data`` (in one pass over the whole batch)."""
    if data.size == 0:
        return
    flat = data.reshape((-1,) + data.shape[-2:])
    info = _singular_indices(flat)
    singular = np.flatnonzero(info)
    if singular.size:
        b = int(singular[0])
        where = f"(Batch element {b}): " if data.ndim > 2 else ""
        raise LinAlgError(message(where, int(info[b])))


# ---- inv, det, slogdet, solve -----------------------------------------------------------

# NOTE [NaN matrices]
# OpenBLAS's LU reads a matrix holding a nan as singular or as anything at all (det of
# [[nan, 1], [1, 1]] came out 0.0); torch's gives nan wherever a nan takes part. The matrices
# of a batch that hold a nan go to LAPACK as identities, and their results are set to nan
# after (inv: all nan, no error; det: nan; slogdet: sign 0 (nan for complex), logabsdet nan).


def _nan_matrices(A):
    """(A with every matrix that holds a nan replaced by the identity, a mask of those
    matrices over the batch), or (A, None) when none does (NOTE [NaN matrices])."""
    if A.dtype.kind not in "fc":
        return A, None
    bad = np.isnan(A).any(axis=(-2, -1))
    if not bad.any():
        return A, None
    return np.where(bad[..., None, None], np.eye(A.shape[-1], dtype=A.dtype), A), bad


def _nan_of(dtype):
    return np.array(complex(np.nan, np.nan) if np.dtype(dtype).kind == "c" else np.nan, dtype)



def _inv_message(where: str, info: int) -> str:
    return (f"linalg.inv: {where}The diagonal element {info} is zero, the inversion could not "
            "be completed because the input matrix is singular.")


def _inv(xp, A):
    if A.shape[-1] == 0:
        return A.copy()
    A, nans = _nan_matrices(A)
    if nans is not None:  # NOTE [NaN matrices]
        out = _inv(xp, A)
        out[nans] = _nan_of(out.dtype)
        return out
    # as in ``_solve_forward``: the batch is searched for torch's singular matrix only when
    # LAPACK's factorisation failed
    try:
        return xp.linalg.inv(A)
    except np.linalg.LinAlgError:
        _raise_if_singular(A, _inv_message)
        singular = np.flatnonzero(np.linalg.det(A.reshape((-1,) + A.shape[-2:])) == 0)
        first = int(singular[0]) if singular.size else 0
        raise LinAlgError(_inv_message(f"(Batch element {first}): " if A.ndim > 2 else "",
                                       0)) from None


INV = defop("linalg_inv_ex", node="LinalgInvExBackward0", kind=KEEP, save=("result",),
            forward=_inv,
            backward=lambda grad, A, result: -(_mT(result) @ grad @ _mT(result)))


def inv(A: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.inv`` (and ``torch.inverse``): batched, with torch's error
    naming the first zero pivot of a singular matrix."""
    _check_square(A, "linalg.inv")
    _check_precision(A, "linalg.inv")
    return run(INV, A)


def _det_backward(grad, A, result):
    return (grad * result).unsqueeze(-1).unsqueeze(-1) * _mT(inv(A))


def _det_forward(xp, A):
    A, nans = _nan_matrices(A)
    out = xp.asarray(xp.linalg.det(A)).astype(A.dtype)
    if nans is not None:  # NOTE [NaN matrices]
        out[nans] = _nan_of(out.dtype)
    return out


DET = defop("linalg_det", node="LinalgDetBackward0", kind=KEEP, save=(0, "result"),
            forward=_det_forward, backward=_det_backward)


def det(A: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.det`` (and ``torch.det``). ember differs: the gradient goes
    through the inverse, so it is not defined at singular matrices (torch's is)."""
    _check_square(A, "linalg.det")
    _check_lapack_dtype(A, "lu_cpu")
    return run(DET, A)


def _slogdet_forward(xp, A):
    A, nans = _nan_matrices(A)
    sign, logabsdet = xp.linalg.slogdet(A)
    sign = xp.asarray(sign).astype(A.dtype)
    logabsdet = xp.asarray(logabsdet).astype(A.real.dtype)
    if nans is not None:  # NOTE [NaN matrices]: a real sign is 0, a complex one nan
        sign[nans] = _nan_of(sign.dtype) if sign.dtype.kind == "c" else 0
        logabsdet[nans] = np.nan
    return sign, logabsdet


def _slogdet_backward(grads, A, result):
    # d log det = tr(A^-1 dA) = T: logabsdet moves by Re T, sign by sign * i Im T; so the
    # gradient is c * A^-H with c = g_logabsdet - i Im(conj(g_sign) sign) (c = g_logabsdet
    # for real A, whose sign is constant).
    g_sign, g_log = grads
    if A._data.dtype.kind == "c" and g_sign is not None:
        turn = (g_sign.conj() * result[0]).imag
        c = (turn * 0 if g_log is None else g_log) - 1j * turn
    elif g_log is None:
        return None
    else:
        c = g_log
    return c.unsqueeze(-1).unsqueeze(-1) * inv(A).mH


SLOGDET = defop("linalg_slogdet", node="LinalgSlogdetBackward0", kind=KEEP,
                save=(0, "result"), multi=True, forward=_slogdet_forward,
                backward=_slogdet_backward, real_formulas=False)


slogdet_result = _return_type("linalg_slogdet", ("sign", "logabsdet"))
qr_result = _return_type("linalg_qr", ("Q", "R"))
svd_result = _return_type("linalg_svd", ("U", "S", "Vh"))
eigh_result = _return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
lstsq_result = _return_type("linalg_lstsq",
                            ("solution", "residuals", "rank", "singular_values"))


def slogdet(A: Tensor):
    """Mirrors ``torch.linalg.slogdet``: a named tuple (sign, logabsdet); only
    ``logabsdet`` carries a gradient."""
    _check_square(A, "linalg.slogdet")
    _check_precision(A, "linalg.slogdet")
    return slogdet_result(run(SLOGDET, A))


def _solve_message(where: str, info: int) -> str:
    return f"torch.linalg.solve: {where}The solver failed because the input matrix is singular."


def _solve_forward(xp, A, B, vector, left):
    # LAPACK's gesv fails exactly where getrf finds a zero pivot, as torch's solve does: only
    # then is the batch searched for the singular matrix that torch's error names.
    try:
        if vector:
            return xp.linalg.solve(A, B[..., None])[..., 0]
        if left:
            return xp.linalg.solve(A, B)
        return xp.swapaxes(xp.linalg.solve(xp.swapaxes(A, -1, -2), xp.swapaxes(B, -1, -2)),
                           -1, -2)
    except np.linalg.LinAlgError:
        _raise_if_singular(A, _solve_message)
        # LAPACK's blocked LU met a zero pivot that the unblocked elimination rounds past
        singular = np.flatnonzero(np.linalg.det(A.reshape((-1,) + A.shape[-2:])) == 0)
        first = int(singular[0]) if singular.size else 0
        raise LinAlgError(_solve_message(
            f"(Batch element {first}): " if A.ndim > 2 else "", 0)) from None


def _solve_grad_B(grad, A, B, vector, left, result):
    # X = A^-1 B gives A^-T G; X = B A^-1 gives G A^-T
    return solve(_mT(A), grad, left=left)


def _solve_grad_A(grad, A, B, vector, left, result):
    gB = _solve_grad_B(grad, A, B, vector, left, result)
    if vector:
        return -(gB.unsqueeze(-1) * result.unsqueeze(-2))
    return -(gB @ _mT(result)) if left else -(_mT(result) @ gB)


SOLVE = defop("linalg_solve_ex", node="LinalgSolveExBackward0", nin=2, kind=KEEP,
              save=(0, "result"), forward=_solve_forward,
              backward=(_solve_grad_A, _solve_grad_B))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """Mirrors ``torch.linalg.solve``: X with ``A @ X = B`` (``X @ A = B`` when ``left`` is
    False). ``B`` is a batch of vectors when it is 1-d or has A's batch shape plus one dim
    (refused with ``left=False``, as in torch)."""
    _check_float(A, "linalg.solve")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{scalar_type_name(A.dtype)} and B of type {scalar_type_name(B.dtype)} instead")
    _check_dims(A, "linalg.solve")
    a, b = A._data.shape, B._data.shape
    vector = len(b) == 1 or (len(b) == len(a) - 1 and b == a[:-1])
    n = a[-1]
    rows, cols = (b[-1], 1) if vector else b[-2:]  # a vector is a column
    if (rows if left else cols) != n:
        raise RuntimeError(
            "linalg.solve: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({a[-2]}x{a[-1]} and {rows}x{cols})")
    if not left and vector:
        raise RuntimeError(
            "linalg.solve: Vector broadcasting of the left hand side is not supported for "
            "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
    _broadcast_batch(b[:-1] if vector else b[:-2], a[:-2])  # torch's error: batch dims
    _check_lapack_dtype(A, "lu_cpu")
    return run(SOLVE, A, B, vector, bool(left))


# ---- cholesky, matrix_exp, matrix_power -------------------------------------------------


def _factor_fails(m) -> bool:
    """Whether LAPACK's potrf fails on the lower triangle of ``m``, as torch's does: a pivot
    that is not positive, or a nan (OpenBLAS's potrf lets a nan through)."""
    try:
        L = np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return True
    return bool(np.isnan(np.diagonal(L, axis1=-2, axis2=-1)).any())


def _first_failed_pivot(m) -> int:
    """The order of the first pivot of ``m`` (its lower triangle) that is not positive, in
    LAPACK's unblocked order, 0 when there is none. Where an infinity enters, this order
    decides the result: inf / inf and inf - inf leave nans that fail a later pivot, which
    NumPy's factorisation does not report."""
    n = m.shape[-1]
    L = np.zeros_like(m)
    with np.errstate(all="ignore"):
        for j in range(n):
            row = L[j, :j]
            pivot = m[j, j].real - np.vdot(row, row).real  # LAPACK reads the real part
            if not pivot > 0:  # a nan fails too
                return j + 1
            L[j, j] = np.sqrt(pivot)
            L[j + 1:, j] = (m[j + 1:, j] - L[j + 1:, :j] @ row.conj()) / L[j, j]
    return 0


def failed_minor(m) -> int:
    """The order of the first leading minor of ``m`` (its lower triangle) that is not
    positive-definite, 0 when there is none. Failing is inherited by every larger minor,
    so for a finite ``m`` the order is found by bisection."""
    n = m.shape[-1]
    if not n:
        return 0
    if not np.isfinite(m[np.tril_indices(n)]).all():
        return _first_failed_pivot(m)
    if not _factor_fails(m):
        return 0
    low, high = 1, n  # the answer lies in [low, high]
    while low < high:
        mid = (low + high) // 2
        if _factor_fails(m[:mid, :mid]):
            high = mid
        else:
            low = mid + 1
    return low


def cholesky_read(xp, A, upper: bool):
    """The matrix whose lower triangle LAPACK factors: ``A``, or for ``upper`` its conjugate
    transpose (torch reads the upper triangle then, and returns U = L^H)."""
    return xp.conj(xp.swapaxes(A, -1, -2)) if upper else A


def _cholesky_forward(xp, A, upper, name="linalg.cholesky"):
    if A.size == 0:
        return A.copy()
    A = cholesky_read(xp, A, upper)
    # numpy's cholesky reads the lower triangle only, as LAPACK's does
    try:
        L = xp.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        L = None
    if L is None or np.isnan(np.diagonal(L, axis1=-2, axis2=-1)).any() \
            or not np.isfinite(A).all():
        for b, m in enumerate(A.reshape((-1,) + A.shape[-2:])):
            k = failed_minor(m)
            if k:
                where = f"(Batch element {b}): " if A.ndim > 2 else ""
                raise LinAlgError(
                    f"{name}: {where}The factorization could not be completed because "
                    f"the input is not positive-definite (the leading minor of order {k} is "
                    "not positive-definite).")
    # U = L^H: the conjugate transpose, for a complex input
    return xp.conj(xp.swapaxes(L, -1, -2)) if upper else L


def _cholesky_backward(grad, A, upper, result):
    # A = L L^H, L lower triangular with a real diagonal. With P = L^H gL, the gradient is
    # L^{-H} X L^{-1}, X the Hermitian matrix of P's strict lower triangle, halved, and P's
    # diagonal, halved (its imaginary part included, as torch's formula keeps it).
    L = _mH(result) if upper else result
    gL = _mH(grad) if upper else grad
    n = L.shape[-1]
    P = _mH(L) @ gL
    low = P * _tril_mask(n, P, -1)
    X = (low + _mH(low) + P * _eye(n, P)) * 0.5
    Linv = inv(L)
    return _mH(Linv) @ X @ Linv


CHOLESKY = defop("linalg_cholesky_ex", node="LinalgCholeskyExBackward0", kind=KEEP,
                 save=("result",), forward=_cholesky_forward, backward=_cholesky_backward,
                 real_formulas=False)
# torch.cholesky, the deprecated form: its own node, and its own name in the errors.
CHOLESKY_LEGACY = defop("cholesky", node="CholeskyBackward0", kind=KEEP, save=("result",),
                        forward=lambda xp, A, upper: _cholesky_forward(xp, A, upper, "cholesky"),
                        backward=_cholesky_backward, real_formulas=False)


def linalg_cholesky(input: Tensor, *, upper: bool = False) -> Tensor:
    """Mirrors ``torch.linalg.cholesky``: reads the lower triangle of ``input``; the gradient
    is the symmetric one torch returns."""
    _check_square(input, "linalg.cholesky")
    _check_lapack_dtype(input, "cholesky_cpu")
    return run(CHOLESKY, input, bool(upper))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """Mirrors ``torch.cholesky``, the deprecated form of ``torch.linalg.cholesky``: the
    same factor, with torch's deprecation warning, its ``CholeskyBackward0`` node and
    ``cholesky:`` errors (integer inputs are refused as torch's kernel refuses them)."""
    if type(upper) is not bool:
        upper = bool_argument(upper, "cholesky", "upper", 2)
    _check_dims(input, "cholesky")
    if input.dtype.category < FLOAT or input._data.dtype.itemsize < 4:
        raise NotImplementedError(
            f'"cholesky_cpu" not implemented for \'{scalar_type_name(input.dtype)}\'')
    warnings.warn(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed "
        "in a future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
        "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be "
        "replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce "
        "equivalent results for all valid (symmetric positive definite) inputs.",
        UserWarning, stacklevel=2)
    return run(CHOLESKY_LEGACY, input, bool(upper))


def _expm(xp, A):
    """exp(A) by scaling and squaring with a Taylor series: scale A by 2^-s until its
    1-norm is below 1/2, sum the series to machine precision, then square s times."""
    if A.size == 0:
        return A.copy()
    norm = float(xp.max(xp.abs(A).sum(-2))) if A.size else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    X = A / (2.0 ** s)
    n = A.shape[-1]
    eye = np.broadcast_to(np.eye(n, dtype=A.dtype), A.shape)
    result = eye.copy()
    term = eye.copy()
    for k in range(1, 30):
        term = xp.matmul(term, X) / k
        result = result + term
        if float(xp.max(xp.abs(term))) <= np.finfo(A.dtype).eps * 1e-3:
            break
    for _ in range(s):
        result = xp.matmul(result, result)
    return result


def _matrix_exp_backward(grad, A):
    # d/dA <G, exp(A)> is the upper-right block of exp([[A^T, G], [0, A^T]]).
    n = A.shape[-1]
    top = make(np.eye(2 * n, n, dtype=A._data.dtype))       # [I; 0]
    bottom = make(np.eye(2 * n, n, -n, dtype=A._data.dtype))  # [0; I]
    At = _mT(A)
    block = top @ At @ _mT(top) + top @ grad @ _mT(bottom) + bottom @ At @ _mT(bottom)
    return _mT(top) @ matrix_exp(block) @ bottom


MATRIX_EXP = defop("linalg_matrix_exp", node="LinalgMatrixExpBackward0", kind=KEEP,
                   save=(0,), forward=_expm, backward=_matrix_exp_backward)


def _matrix_exp(input: Tensor, name: str) -> Tensor:
    tensor_argument(name, "input", input, 1)
    _check_square(input, "linalg.matrix_exp")
    return run(MATRIX_EXP, input)


def matrix_exp(input: Tensor) -> Tensor:
    """Mirrors ``torch.matrix_exp``; differentiable to any order."""
    return _matrix_exp(input, "matrix_exp")


def linalg_matrix_exp(input: Tensor) -> Tensor:
    """Mirrors ``torch.linalg.matrix_exp``: ``torch.matrix_exp``, refusing a non-tensor in
    its own name as torch's parser does."""
    return _matrix_exp(input, "linalg_matrix_exp")


def _power_of(n, name: str, position: int) -> int:
    """``n`` as torch's argument parser reads an int: an integer number or a one-element
    integer tensor (not a bool)."""
    if isinstance(n, Tensor) and n.dtype.category == INT and n._data.size == 1:
        return int(n)
    if isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)):
        return int(n)
    raise TypeError(f"{name}(): argument 'n' (position {position}) must be int, not "
                    f"{c_type_name(n)}")


def matrix_power(input: Tensor, n: int) -> Tensor:
    """Mirrors ``torch.linalg.matrix_power``: repeated squaring with ``matmul`` (its nodes
    are torch's, ``MmBackward0`` for a single matrix); negative ``n`` inverts first. ``n``
    of 0 writes the identity into a clone (``CopyBackwards``: a zero gradient), 1 is a clone
    and -1 the inverse itself, as in torch."""
    return _matrix_power(input, _power_of(n, "linalg_matrix_power", 2))


def _matrix_power_top(input: Tensor, n: int) -> Tensor:
    """Mirrors ``torch.matrix_power``: ``torch.linalg.matrix_power``."""
    return _matrix_power(input, _power_of(n, "matrix_power", 2))


def _matrix_power_method(self: Tensor, n: int) -> Tensor:
    """Mirrors ``Tensor.matrix_power``: ``torch.linalg.matrix_power`` of ``self``."""
    return _matrix_power(self, _power_of(n, "matrix_power", 1))


_matrix_power_top.__name__ = _matrix_power_top.__qualname__ = "matrix_power"
_matrix_power_method.__name__ = _matrix_power_method.__qualname__ = "matrix_power"


def _matrix_power(input: Tensor, n: int) -> Tensor:
    A = input
    s = A._data.shape
    if len(s) < 2 or s[-1] != s[-2]:
        if len(s) < 2:
            raise RuntimeError(
                "linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
        raise RuntimeError(
            f"linalg.matrix_power: A must be batches of square matrices, but they are {s[-2]} "
            f"by {s[-1]} matrices")
    if n == 0:
        from ember._ops.indexing import COPY

        return run(COPY, A.clone(), _eye(s[-1], A))
    if n == -1:
        return inv(A)
    if n < 0:
        A = inv(A)
        n = -n
    if n == 1:
        return A.clone()
    if n == 3:  # torch's order for a cube: (A @ A) @ A
        return matmul(matmul(A, A), A)
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# ---- qr, svd, eigh (several outputs) ----------------------------------------------------
# The ops save their outputs (save=("result",), as torch saves Q, R / U, S, Vh / L, Q) and
# the formulas build every quantity that depends on A from those tensors with ember ops, so
# a formula's own graph reaches back to this node and second derivatives come out exact.


def _copyltu(M: Tensor) -> Tensor:
    # the Hermitian matrix of M's strict lower triangle and the real part of its diagonal
    n = M.shape[-1]
    low = M * _tril_mask(n, M, -1)
    diagonal = M * _eye(n, M)
    return low + _mH(low) + (diagonal + _mH(diagonal)) * 0.5


def _inv_gaps(d: Tensor) -> Tensor:
    # 1 / d off the diagonal, 0 on it. Only the diagonal is masked, by position: a zero gap
    # off it (a repeated singular value or eigenvalue) gives inf, and the gradient nan or
    # inf, as torch's does. The inner where keeps 1/0 of the diagonal out of the graph, so
    # the second derivative has no inf * 0 there.
    diagonal = make(np.eye(d.shape[-1], dtype=bool))
    return where(diagonal, 0.0, 1 / where(diagonal, 1.0, d))


def _qr_square_backward(gQ, gR, Q, R):
    # m >= n: A = QR, M = R gR^H - gQ^H Q; gA = (gQ + Q copyltu(M)) R^{-H}
    M = R @ _mH(gR) - _mH(gQ) @ Q
    b = gQ + Q @ _copyltu(M)
    return b @ _mH(inv(R))


def _qr_backward(grads, A, mode, result):
    # A is not saved (None): everything comes from the saved factors, as in torch.
    if mode == "r":
        raise RuntimeError(
            "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
            "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
            "through linalg.qr.")
    Q, R = result
    m, n = Q.shape[-2], R.shape[-1]
    if mode == "complete" and m > n:
        raise RuntimeError(
            "The QR decomposition is not differentiable when mode='complete' and nrows > "
            "ncols.")
    gQ = grads[0] if grads[0] is not None else Q * 0
    gR = grads[1] if grads[1] is not None else R * 0
    if m >= n:
        return _qr_square_backward(gQ, gR, Q, R)
    # m < n: A = [X | Y] = Q [U | V]; X = QU is square, Y = QV adds gQ += Y gV^T.
    U, V = R[..., :, :m], R[..., :, m:]
    gU, gV = gR[..., :, :m], gR[..., :, m:]
    gX = _qr_square_backward(gQ + (Q @ V) @ _mH(gV), gU, Q, U)
    gY = Q @ gV
    dtype = Q._data.dtype
    left = make(np.eye(m, n, dtype=dtype))            # X -> A: X @ [I 0]
    right = make(np.eye(n - m, n, m, dtype=dtype))    # Y -> A: Y @ [0 I]
    return gX @ left + gY @ right


def _qr_forward(xp, A, mode):
    Q, R = xp.linalg.qr(A, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        Q = xp.zeros((0,), dtype=A.dtype)
    return Q, R


QR = defop("linalg_qr", node="LinalgQrBackward0", kind=KEEP, save=("result",), multi=True,
           forward=_qr_forward, backward=_qr_backward, real_formulas=False)


def linalg_qr(A: Tensor, mode: str = "reduced"):
    """Mirrors ``torch.linalg.qr`` (modes reduced, complete, r), batched. The factors are
    LAPACK's (NumPy's), the same Householder convention as torch's, so they match torch's
    values, signs included."""
    _check_matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'")
    _check_lapack_dtype(A, "geqrf_cpu")
    return qr_result(run(QR, A, mode))


qr_legacy_result = _return_type("qr", ("Q", "R"))


def qr(input: Tensor, some: bool = True):
    """Mirrors ``torch.qr``, the older form of ``torch.linalg.qr``: ``some`` picks the
    reduced factors, else the complete ones; a ``torch.return_types.qr`` (Q, R)."""
    if type(some) is not bool:
        some = bool_argument(some, "qr", "some", 2)
    return qr_legacy_result(linalg_qr(input, "reduced" if some else "complete"))


def _svd_backward(grads, A, full_matrices, result):
    # A = U S V^H. Conjugate transposes throughout (the SVD is not complex-analytic), and for
    # a complex input the term of the phase each pair of singular vectors may take.
    gU, gS, gVh = grads
    U, S, Vh = result
    k = S.shape[-1]
    m, n = U.shape[-2], Vh.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    dtype = U.dtype
    if gU is None and gVh is None:
        return U @ _diag_embed(gS.to(dtype)) @ Vh if gS is not None else None
    if gU is not None:
        gU = gU[..., :, :k]
    if gVh is not None:
        gVh = gVh[..., :k, :]
    V = _mH(Vh)
    S2 = S * S
    F = _inv_gaps(S2.unsqueeze(-2) - S2.unsqueeze(-1)).to(dtype)   # 1 / (s_j^2 - s_i^2)
    Sm = _diag_embed(S).to(dtype)
    inner = _diag_embed(gS.to(dtype)) if gS is not None else Sm * 0
    Sinv = _diag_embed(1 / S).to(dtype)
    extra = 0
    if gU is not None:
        UhgU = _mH(U) @ gU
        inner = inner + (F * (UhgU - _mH(UhgU))) @ Sm
        if U.is_complex():
            phase = UhgU.diagonal(dim1=-2, dim2=-1).imag / S
            inner = inner + _diag_embed(phase.to(dtype) * 1j)
        if m > k:
            extra = extra + (gU - U @ UhgU) @ Sinv @ Vh
    if gVh is not None:
        gV = _mH(gVh)
        VhgV = _mH(V) @ gV
        inner = inner + Sm @ (F * (VhgV - _mH(VhgV)))
        if n > k:
            extra = extra + U @ Sinv @ _mH(gV - V @ VhgV)
    return U @ inner @ Vh + extra


def svd_arrays(A, **options):
    """NumPy's ``svd`` of the batch ``A``, with torch's error where LAPACK's iteration fails
    (NumPy's own text never reaches the user)."""
    try:
        return np.linalg.svd(A, **options)
    except np.linalg.LinAlgError:
        flat = A.reshape((-1,) + A.shape[-2:])
        finite = np.isfinite(flat).all(axis=(-2, -1))
        b = int(np.argmin(finite)) if not finite.all() else 0
        where = f"(Batch element {b}): " if A.ndim > 2 else ""
        if not finite.all():
            raise LinAlgError(f"linalg.svd: {where}The algorithm failed to converge because "
                              "the input matrix contained non-finite values.") from None
        raise LinAlgError(f"linalg.svd: {where}The algorithm failed to converge because the "
                          "input matrix is ill-conditioned or has too many repeated singular "
                          "values.") from None


SVD = defop("linalg_svd", node="LinalgSvdBackward0", kind=KEEP, save=("result",), multi=True,
            forward=lambda xp, A, full_matrices: tuple(
                svd_arrays(A, full_matrices=full_matrices)),
            backward=_svd_backward, real_formulas=False)


def _refuse_driver(name: str, driver) -> None:
    if not isinstance(driver, str):
        raise TypeError(f"{name}(): argument 'driver' must be str, not {type(driver).__name__}")
    raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                       "CUDA inputs with cuSOLVER backend.")


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None):
    """Mirrors ``torch.linalg.svd``: (U, S, Vh), batched. Singular vectors are unique only
    up to sign; NumPy and torch both call LAPACK's gesdd, so they agree in practice, but
    tests compare reconstructions and gauge-invariant quantities. The gradient is unbounded
    at repeated singular values, as torch's. ``driver`` must be None (on the CPU torch
    refuses any other)."""
    if driver is not None:
        _refuse_driver("linalg_svd", driver)
    _check_matrix(A, "linalg.svd")
    _check_lapack_dtype(A, "linalg_svd_cpu")
    return svd_result(run(SVD, A, full_matrices))


svd_legacy_result = _return_type("svd", ("U", "S", "V"))


def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """Mirrors ``torch.svd`` (torch's older form of ``linalg.svd``): (U, S, V) with V, not
    its transpose; ``some`` keeps the reduced factors. With ``compute_uv=False`` only S is
    computed and U, V are zeros of shapes (m, m) and (n, n), as in torch."""
    if type(some) is not bool or type(compute_uv) is not bool:
        some = bool_argument(some, "svd", "some", 2)
        compute_uv = bool_argument(compute_uv, "svd", "compute_uv", 3)
    _check_matrix(input, "linalg.svd")
    _check_lapack_dtype(input, "linalg_svd_cpu")
    if not compute_uv:
        from ember._ops.creation import zeros

        shape = input._data.shape
        dtype = input.dtype
        return svd_legacy_result((zeros(shape[:-2] + (shape[-2],) * 2, dtype=dtype),
                                  svdvals(input),
                                  zeros(shape[:-2] + (shape[-1],) * 2, dtype=dtype)))
    U, S, Vh = run(SVD, input, not some)
    return svd_legacy_result((U, S, _mT(Vh)))


def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """Mirrors ``torch.linalg.svdvals``: output 1 of the reduced SVD, so its node is
    ``LinalgSvdBackward0`` as torch's (ember computes the singular vectors too). ``driver``
    as in ``linalg.svd``."""
    if driver is not None:
        _refuse_driver("linalg_svdvals", driver)
    _check_matrix(A, "linalg.svd")
    _check_lapack_dtype(A, "linalg_svd_cpu")
    return run(SVD, A, False)[1]


def _eigh_backward(grads, A, UPLO, result):
    # A = Q L Q^H with real eigenvalues: conjugate transposes, the real parts cast to Q's
    # dtype for a complex input
    gL, gQ = grads
    L, Q = result
    dtype = Q.dtype
    inner = _diag_embed(gL.to(dtype)) if gL is not None else 0
    if gQ is not None:
        F = _inv_gaps(L.unsqueeze(-2) - L.unsqueeze(-1)).to(dtype)   # 1 / (l_j - l_i)
        inner = inner + F * (_mH(Q) @ gQ)
    return Q @ inner @ _mH(Q)


EIGH = defop("linalg_eigh", node="LinalgEighBackward0", kind=KEEP, save=("result",),
             multi=True, forward=lambda xp, A, UPLO: tuple(xp.linalg.eigh(A, UPLO=UPLO)),
             backward=_eigh_backward, real_formulas=False)


saved_as(SVD, U=saved_output(0), S=saved_output(1), Vh=saved_output(2),
          S_sym_argsize_minus_1=lambda node: node._saved_result[1].shape[-1])
saved_as(QR, Q=saved_output(0), R=saved_output(1))
saved_as(EIGH, eigenvalues=saved_output(0), eigenvectors=saved_output(1))
saved_as(INV, inverse=lambda node: node._saved_result)
saved_as(CHOLESKY, L=lambda node: node._saved_result)
saved_as(MATRIX_EXP, self=lambda node: node._saved_A)


def _check_uplo(UPLO: str) -> None:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(input: Tensor, UPLO: str = "L"):
    """Mirrors ``torch.linalg.eigh``: ascending eigenvalues and orthonormal eigenvectors of
    a symmetric matrix (one triangle read). Eigenvectors are unique only up to sign: tests
    compare reconstructions and invariant quantities."""
    _check_dims(input, "linalg.eigh")
    _check_lapack_dtype(input, "linalg_eigh_cpu", any_dtype=True)
    _check_uplo(UPLO)
    return eigh_result(run(EIGH, input, UPLO))


def eigvalsh(input: Tensor, UPLO: str = "L") -> Tensor:
    """Mirrors ``torch.linalg.eigvalsh``: output 0 of eigh, so its node is
    ``LinalgEighBackward0`` as torch's (ember computes the eigenvectors too)."""
    _check_dims(input, "linalg.eigh")
    _check_lapack_dtype(input, "linalg_eigh_cpu", any_dtype=True)
    _check_uplo(UPLO)
    return run(EIGH, input, UPLO)[0]


# ---- pinv, lstsq ------------------------------------------------------------------------


def _pinv_forward(xp, A, atol, rtol, hermitian=False):
    if hermitian:
        # torch reads a Hermitian input's lower triangle only (its eigh does), its diagonal
        # as real: the matrix that stands for, whose singular values are its eigenvalues'
        # magnitudes
        lower = xp.tril(A, -1)
        diagonal = xp.diagonal(A, axis1=-2, axis2=-1).real.astype(A.dtype)
        A = lower + xp.conj(xp.swapaxes(lower, -1, -2)) + diagonal[..., None] * xp.eye(
            A.shape[-1], dtype=A.dtype)
    U, S, Vh = svd_arrays(A, full_matrices=False)
    if S.shape[-1] == 0:
        return xp.conj(xp.swapaxes(A, -1, -2))
    smax = S[..., :1]
    cutoff = xp.maximum(atol, rtol * smax)
    Sinv = xp.where(S > cutoff, 1 / xp.where(S > cutoff, S, 1), 0)
    # V S^-1 U^H: conjugate transposes, for complex inputs
    return xp.matmul(xp.conj(xp.swapaxes(Vh, -1, -2)) * Sinv[..., None, :],
                     xp.conj(xp.swapaxes(U, -1, -2)))


def _pinv_backward(grad, A, atol, rtol, hermitian, result):
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, whose adjoint under
    # Re tr(G^H dA) is below (conjugate transposes: pinv is not complex-analytic)
    P = result
    m, n = A.shape[-2:]
    Ph = _mH(P)
    gh = _mH(grad)
    gA = -(Ph @ grad @ Ph)
    gA = gA + (_eye(m, A) - A @ P) @ gh @ P @ Ph
    gA = gA + Ph @ P @ gh @ (_eye(n, A) - P @ A)
    return gA


PINV = defop("linalg_pinv", node="LinalgPinvBackward0", kind=KEEP, save=(0, "result"),
             forward=_pinv_forward, backward=_pinv_backward, real_formulas=False)


def pinv(input: Tensor, rcond=None, hermitian: bool = False, *, atol=None,
         rtol=None) -> Tensor:
    """Mirrors ``torch.linalg.pinv`` (float ``atol``/``rtol``; singular values at most
    ``max(atol, rtol * largest)`` are dropped; ``rtol`` defaults to ``eps * max(m, n)`` when
    both are None). ``rcond`` is torch's older name for ``rtol`` (not to be given with
    ``atol``/``rtol``). With ``hermitian`` only the lower triangle is read, as torch's
    eigendecomposition reads it; the gradient is torch's pinv formula on the input either
    way, and assumes the rank is locally constant (full-rank inputs), as torch's does."""
    if rcond is not None:
        if atol is not None or rtol is not None:
            raise TypeError("linalg_pinv() received an invalid combination of arguments - "
                            "rcond cannot be given with atol or rtol")
        rtol = rcond
    A = input
    if A._data.ndim < 2 or A.dtype.category < FLOAT or _low_precision(A):
        raise RuntimeError(
            f"linalg.pinv({scalar_type_name(A.dtype)}{{{list(A._data.shape)}}}): expected a "
            "tensor with 2 or "
            "more dimensions of float, double, cfloat or cdouble types")
    m, n = A._data.shape[-2:]
    if rtol is None:
        rtol = np.finfo(A._data.dtype).eps * max(m, n) if atol is None or atol <= 0 else 0.0
    return run(PINV, A, float(atol or 0.0), float(rtol), bool(hermitian))


def _lstsq_backward(grads, A, B, vector):
    gX = grads[0]
    if gX is None:
        return None, None
    P = pinv(A)
    if vector:
        gX = gX.unsqueeze(-1)
        B = B.unsqueeze(-1)
    gB = _mT(P) @ gX
    gP = gX @ _mT(B)
    gA = _pinv_backward(gP, A, 0.0, 0.0, False, P)
    return gA, gB.squeeze(-1) if vector else gB


def _lstsq_forward(xp, A, B, vector, driver, rcond):
    b = B[..., None] if vector else B
    P = _pinv_forward(xp, A, 0.0, rcond)
    X = xp.matmul(P, b)
    m, n = A.shape[-2:]
    S = svd_arrays(A, compute_uv=False) if A.size else xp.zeros(A.shape[:-2] + (0,))
    tol = rcond * (S[..., :1] if S.shape[-1] else 0)
    rank = (S > tol).sum(-1).astype(np.int64)
    if m > n and driver != "gelsy" and bool((rank == n).all()):
        residuals = ((xp.matmul(A, X) - b) ** 2).sum(-2)
        if n == 0 and driver == "gels":  # torch's gels reports zeros for empty columns
            residuals = residuals * 0
    else:
        residuals = xp.zeros((0,), A.dtype)
    if vector:  # the residuals keep their column dim, (..., 1), as torch's do
        X = X[..., 0]
    sv = S.astype(A.dtype) if driver in ("gelsd", "gelss") else xp.zeros((0,), A.dtype)
    if driver == "gels":
        rank = xp.zeros((0,), np.int64)
    return X, residuals, rank, sv


def _lstsq_grads(grads, A, B, vector, driver, rcond):
    # torch differentiates through the full pseudo-inverse, whatever rcond dropped
    return _lstsq_backward(grads, A, B, vector)


LSTSQ = defop("linalg_lstsq", node="LinalgLstsqBackward0", nin=2, kind=KEEP,
              save=(0, 1), multi=2, forward=_lstsq_forward,
              backward=(lambda grads, A, B, vector, driver, rcond: _lstsq_grads(
                  grads, A, B, vector, driver, rcond)[0],
                        lambda grads, A, B, vector, driver, rcond: _lstsq_grads(
                  grads, A, B, vector, driver, rcond)[1]))
saved_as(PINV, self=lambda node: node._saved_A)
saved_as(LSTSQ, self=lambda node: node._saved_A, b=lambda node: node._saved_B)


def lstsq(input: Tensor, b: Tensor, rcond=None, *, driver: str | None = None):
    """Mirrors ``torch.linalg.lstsq`` on the CPU: a named tuple (solution, residuals, rank,
    singular_values), computed through the pseudo-inverse (for full-rank ``A`` this is the
    least-squares solution every driver returns). ``residuals`` are filled when m > n, ``A``
    has full rank and the driver is not gelsy (torch's default); ``singular_values`` only
    for gelsd and gelss; for a vector ``B`` they keep its column dim, (..., 1), as torch's.
    Only ``solution`` carries a gradient. ``rcond`` drops singular values below
    ``rcond * largest`` (gelsd, gelss); for gelsy, whose rank decision torch makes on a
    pivoted QR, ember truncates the SVD alike, so a gelsy solution that drops values can
    differ from torch's. ember also differs when ``B`` has one dim fewer than
    ``A`` without being a batch of vectors: torch then broadcasts B's leading dims against
    A's batch as if it were one, ember treats B as a single matrix."""
    A, B = input, b
    a, b = A._data, B._data
    if a.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if b.ndim < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if a.dtype != b.dtype:
        raise RuntimeError(
            "torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {scalar_type_name(A.dtype)} and other's dtype "
            f"{scalar_type_name(B.dtype)}")
    if not 0 <= a.ndim - b.ndim <= 1:
        raise RuntimeError(
            "torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
            "(input.dim() - other.dim()) <= 1")
    # torch's test for a (batch of) vector B: one dim, or exactly A's shape less its last
    vector = b.ndim == 1 or b.shape == a.shape[:-1]
    if a.shape[-2] != b.shape[-1 if vector else -2]:
        raise RuntimeError(
            "torch.linalg.lstsq: input.size(-2) should match "
            f"other.size({-1 if vector else -2})")
    if not vector and b.ndim == a.ndim - 1:  # torch broadcasts B's leading dims: its error
        _broadcast_batch(a.shape[:-2], b.shape[:-1])
    _broadcast_batch(a.shape[:-2], b.shape[:-1] if vector else b.shape[:-2])
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, "
            "gelss)")
    if A.dtype.category < FLOAT or a.dtype.itemsize < 4:
        if rcond is None:  # torch fails first on the default rcond's epsilon
            raise RuntimeError("This function doesn't handle types other than float and double")
        raise NotImplementedError(
            f'"linalg_lstsq_cpu" not implemented for \'{scalar_type_name(A.dtype)}\'')
    if rcond is None:  # torch's default: the dtype's epsilon times the larger matrix dim
        rcond = float(np.finfo(a.dtype).eps) * max(a.shape[-2:])
    return lstsq_result(run(LSTSQ, A, B, vector, driver, float(rcond)))


# ---- norms ------------------------------------------------------------------------------


def vector_norm(input: Tensor, ord=2, dim=None, keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """Mirrors ``torch.linalg.vector_norm`` (``LinalgVectorNormBackward0``)."""
    from ember._ops.reduction import norm as _norm

    if not isinstance(ord, (int, float, np.number, Tensor)):
        raise TypeError("linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{c_type_name(ord)}")
    return _norm(input, float(ord), dim, keepdim, dtype)


def matrix_norm(input: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """Mirrors ``torch.linalg.matrix_norm``: fro and nuc, and 1, -1, inf, -inf (largest or
    smallest absolute column or row sum), 2, -2 (largest or smallest singular value),
    composed as torch composes them (so the nodes are torch's)."""
    from ember._ops.reduction import amin

    A = input
    _check_matrix(A, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    nd = A._data.ndim
    d0, d1 = (wrap_dim(d, nd) for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        _check_precision(A, "linalg.matrix_norm")
        order = [d for d in range(nd) if d not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(order))
        r = s.sum(-1, keepdim=keepdim) if ord == "nuc" else (
            _largest(s, -1, keepdim) if ord == 2 else amin(s, -1, keepdim=keepdim))
        if keepdim:  # as torch: back through the permutation, the two dims kept as 1s
            back = [0] * nd
            for i, d in enumerate(order):
                back[d] = i
            r = r.unsqueeze(-1).permute(back)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        # 1 sums over rows (column sums), inf over columns (row sums)
        sum_dim, red_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = vector_norm(A, 1, sum_dim, keepdim)
        if not keepdim and sum_dim < red_dim:
            red_dim -= 1
        return (_largest if ord > 0 else amin)(sums, red_dim, keepdim=keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _largest(t: Tensor, dim: int, keepdim: bool) -> Tensor:
    """``amax`` for matrix_norm's positive orders, where torch gives an empty reduction 0 (a
    tensor without history) instead of amax's error; the negative orders' ``amin`` keeps
    it."""
    from ember._ops.creation import zeros
    from ember._ops.reduction import amax

    shape = t._data.shape
    if shape[dim] == 0:
        dim = wrap_dim(dim, len(shape))
        kept = shape[:dim] + ((1,) if keepdim else ()) + shape[dim + 1:]
        return zeros(kept, dtype=t.dtype)
    return amax(t, dim, keepdim=keepdim)


def norm(input: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mirrors ``torch.linalg.norm``: a vector norm, or a matrix norm when ``dim`` is a
    pair (or ``input`` is 2-d with ``ord`` given and ``dim`` None)."""
    A = input
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) not in (1, 2):
        raise RuntimeError("linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dim)}")
    if isinstance(ord, str) and dim is not None and len(dim) == 1:  # a matrix norm's name
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim[0]}")
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A._data.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        if A._data.ndim != 1:
            raise RuntimeError(
                "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                f"Got {A._data.ndim}D.")
        if isinstance(ord, str):  # a matrix norm's name, of a vector
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


# ---- cdist ------------------------------------------------------------------------------


def _cdist_forward(xp, x1, x2, p):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    if p == 2:
        return xp.sqrt((diff * diff).sum(-1))
    if p == 1:
        return xp.abs(diff).sum(-1)
    if p == math.inf:
        return xp.abs(diff).max(-1, initial=0)
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    return (xp.abs(diff) ** p).sum(-1) ** (1 / p)


def _cdist_grad(grad, x1, x2, p, result):
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 1:
        return (grad.unsqueeze(-1) * diff.sign())
    if p == 2:
        scale = where(result == 0, 0.0, grad / result)
        return scale.unsqueeze(-1) * diff
    if p == 0:  # a count of nonzero differences: piecewise constant
        return grad.unsqueeze(-1) * diff * 0
    r = result.unsqueeze(-1)
    if p == math.inf:  # the largest |difference| takes the gradient
        return grad.unsqueeze(-1) * diff.sign() * (diff.abs() == r)
    # d||d||_p / dd = sign(d) |d|^(p-1) / ||d||_p^(p-1), zero where d or the norm is 0
    magnitude = diff.abs()
    safe = where(magnitude == 0, 1.0, magnitude)
    ratio = where((magnitude == 0) | (r == 0), 0.0,
                  (safe / where(r == 0, 1.0, r)) ** (p - 1))
    return grad.unsqueeze(-1) * diff.sign() * ratio


CDIST = defop("_cdist_forward", node="CdistBackward0", nin=2, kind=KEEP,
              save=(0, 1, "result"), forward=_cdist_forward,
              backward=(lambda grad, x1, x2, p, result: _cdist_grad(grad, x1, x2, p, result)
                        .sum(-2),
                        lambda grad, x1, x2, p, result: -_cdist_grad(grad, x1, x2, p, result)
                        .sum(-3)))


def _euclidean_forward(xp, x1, x2):
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b as one product of augmented rows
    # [-2a, |a|^2, 1] . [b, 1, |b|^2]; rounding can leave it slightly negative, hence the
    # clamp at 0 before the root.
    sq1 = (x1 * x1).sum(-1, keepdims=True)
    sq2 = (x2 * x2).sum(-1, keepdims=True)
    left = xp.concatenate([x1 * -2, sq1, xp.ones_like(sq1)], -1)
    right = xp.concatenate([x2, xp.ones_like(sq2), sq2], -1)
    return xp.sqrt(xp.maximum(xp.matmul(left, xp.swapaxes(right, -1, -2)), 0))


def _euclidean_ratio(grad, result):
    return where(result == 0, 0.0, grad / result)


EUCLIDEAN_DIST = defop(
    "_euclidean_dist", node="EuclideanDistBackward0", nin=2, kind=KEEP, save=(0, 1, "result"),
    forward=_euclidean_forward,
    # d|x1_i - x2_j| / dx1_i = (x1_i - x2_j) / |x1_i - x2_j|, summed over j with the
    # weights grad / result (0 where the distance is 0); likewise for x2 over i.
    backward=(lambda grad, x1, x2, result: x1 * _euclidean_ratio(grad, result).sum(
                  -1, keepdim=True) - _euclidean_ratio(grad, result) @ x2,
              lambda grad, x1, x2, result: x2 * _euclidean_ratio(grad, result).sum(
                  -2).unsqueeze(-1) - _mT(_euclidean_ratio(grad, result)) @ x1))

_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def _euclidean_cdist(x1: Tensor, x2: Tensor) -> Tensor:
    """cdist for p=2 through a matrix product, composed as torch composes it: batched
    inputs are expanded to the common batch and made contiguous (a clone where expanding
    repeats them), then one ``_euclidean_dist`` and a view of the result."""
    a, b = x1._data.shape, x2._data.shape
    r1, r2, c = a[-2], b[-2], a[-1]
    if len(a) == 2 and len(b) == 2:
        return run(EUCLIDEAN_DIST, x1, x2).view(r1, r2)
    batch = _broadcast_batch(a[:-2], b[:-2])
    n = _numel(batch)
    x1 = x1.expand(batch + (r1, c)).contiguous().view(n, r1, c)
    x2 = x2.expand(batch + (r2, c)).contiguous().view(n, r2, c)
    return run(EUCLIDEAN_DIST, x1, x2).view(batch + (r1, r2))


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Mirrors ``torch.cdist``: pairwise p-norm distances between the rows of batches
    (B x P x M and B x R x M give B x P x R). For p=2 it takes torch's matrix-product path
    (``|a|^2 + |b|^2 - 2 a.b``, node ``EuclideanDistBackward0`` under a view) when
    ``compute_mode`` is "use_mm_for_euclid_dist", or by default when either input has more
    than 25 rows; else the differences are computed directly (``CdistBackward0``)."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    a, b = x1._data, x2._data
    if a.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D")
    if b.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {b.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: "
            f"{b.shape[-1]}")
    for t, arg in ((x1, "X1"), (x2, "X2")):
        if t.dtype.category != FLOAT:
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {arg} got: "
                f"{scalar_type_name(t.dtype)}")
    if a.dtype != b.dtype:
        raise scalar_type_mismatch(x1.dtype, x2.dtype)
    _check_lapack_dtype(x1, "cdist")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    r1, r2, c = a.shape[-2], b.shape[-2], a.shape[-1]
    if p == 2 and r1 and r2 and c and (compute_mode == "use_mm_for_euclid_dist" or (
            compute_mode != "donot_use_mm_for_euclid_dist" and (r1 > 25 or r2 > 25))):
        return _euclidean_cdist(x1, x2)
    return run(CDIST, x1, x2, float(p))


def chain_matmul(*matrices: Tensor) -> Tensor:
    """Mirrors the deprecated ``torch.chain_matmul``: the product of 2-D matrices, left to
    right (torch picks the cheapest bracketing; the values agree up to rounding). Warns as
    torch does. ``out=`` is added where the namespace is built (ember/_ops/out.py)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two "
                  "or more tensors rather than multiple parameters.", UserWarning, stacklevel=3)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    from ember._ops.shape import tensor_list
    tensor_list(matrices, "chain_matmul")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = result.mm(m)
    return result.view(result.shape)  # torch's result is a view of multi_dot's (ViewBackward0)


slogdet_legacy_result = _return_type("slogdet", ("sign", "logabsdet"))


# torch.det and torch.slogdet bind their argument as ``input`` where torch.linalg's bind
# ``A`` (and torch.det takes no ``out``): functions of their own, named as torch's.
def _det_top(input: Tensor) -> Tensor:
    """Mirrors ``torch.det`` and ``Tensor.det``: ``torch.linalg.det`` of ``input``."""
    tensor_argument("det", "input", input, 1)
    return det(input)


def _slogdet_top(input: Tensor):
    """Mirrors ``torch.slogdet`` and ``Tensor.slogdet``: ``torch.linalg.slogdet`` of
    ``input``, as a ``torch.return_types.slogdet``."""
    return slogdet_legacy_result(slogdet(input))


_det_top.__name__ = _det_top.__qualname__ = "det"
_slogdet_top.__name__ = _slogdet_top.__qualname__ = "slogdet"


def inverse(input: Tensor) -> Tensor:
    """Mirrors ``torch.inverse``: ``torch.linalg.inv`` under torch's top-level argument
    name."""
    return inv(input)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Mirrors ``torch.pinverse``: ``torch.linalg.pinv(input, rcond)`` (singular values
    below ``rcond`` times the largest are dropped)."""
    tensor_argument("pinverse", "input", input, 1)
    return pinv(input, rcond)


__all__ = [
    "chain_matmul", "dot", "mv", "mm", "bmm", "matmul", "addmm", "addmv", "baddbmm", "addbmm",
    "outer", "ger", "inner", "vdot", "einsum", "tensordot", "kron", "cross", "cdist",
    "cholesky", "qr", "svd", "matrix_power", "matrix_exp", "inverse", "pinverse",
]


attach({"addmm": method_taking_tensor(addmm, "mat1", "mat2"),
        "addmv": method_taking_tensor(addmv, "mat", "vec"),
        "baddbmm": method_taking_tensor(baddbmm, "batch1", "batch2"),
        "addbmm": method_taking_tensor(addbmm, "batch1", "batch2"),
        "outer": method_taking_tensor(outer, "vec2"), "ger": method_taking_tensor(ger, "vec2"),
        "inner": method_taking_tensor(inner, "other"),
        "vdot": method_taking_tensor(vdot, "other"), "kron": method_taking_tensor(kron, "other"),
        "cross": method_taking_tensor(cross, "other"), "det": _det_top, "inverse": inverse,
        "slogdet": _slogdet_top,
        "matrix_power": _matrix_power_method, "matrix_exp": matrix_exp,
        "pinverse": pinverse})
