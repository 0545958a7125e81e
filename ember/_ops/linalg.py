"""Matrix products: ``dot``, ``mv``, ``mm``, ``bmm`` and ``matmul``, which is composed of them
the way torch composes it, so its ``grad_fn`` is the node torch shows (``MmBackward0``,
``MvBackward0``, ``DotBackward0``, ``UnsafeViewBackward0`` for batched products)."""
from __future__ import annotations

from ember._dtype import scalar_type_name
from ember._ops.registry import KEEP, attach, defop, run
from ember._ops.shape import SQUEEZE_INPLACE_DIM, _unsafe_view
from ember._tensor import Tensor
from ember.autograd import grad_mode

DOT = defop("dot", node="DotBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
            forward=lambda xp, self, other: xp.dot(self, other),
            backward=(lambda grad, self, other: grad * other,
                      lambda grad, self, other: grad * self))
MV = defop("mv", node="MvBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
           forward=lambda xp, self, vec: xp.matmul(self, vec),
           backward=(lambda grad, self, vec: grad.unsqueeze(1) * vec,
                     lambda grad, self, vec: self.t().mv(grad)))
MM = defop("mm", node="MmBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
           forward=lambda xp, self, mat2: xp.matmul(self, mat2),
           backward=(lambda grad, self, mat2: grad.mm(mat2.t()),
                     lambda grad, self, mat2: self.t().mm(grad)))
BMM = defop("bmm", node="BmmBackward0", nin=2, kind=KEEP, save={0: (1,), 1: (0,)},
            forward=lambda xp, self, mat2: xp.matmul(self, mat2),
            backward=(lambda grad, self, mat2: grad.bmm(mat2.transpose(1, 2)),
                      lambda grad, self, mat2: self.transpose(1, 2).bmm(grad)))


def _same_dtype(a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_c_type(a)} != {_c_type(b)}")


def _c_type(t: Tensor) -> str:
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "float16": "c10::Half", "bfloat16": "c10::BFloat16"}.get(t.dtype.name, t.dtype.name)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Mirrors ``torch.dot``: the inner product of two 1-d tensors of one dtype."""
    a, b = input._data, tensor._data
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(
            "dot : expected both vectors to have same dtype, but found "
            f"{scalar_type_name(input.dtype)} and {scalar_type_name(tensor.dtype)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to "
            f"have the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements "
            "respectively")
    return run(DOT, input, tensor)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Mirrors ``torch.mv``: matrix times vector."""
    a, v = input._data, vec._data
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({a.shape[0] if a.ndim else 0}), mat "
            f"({'x'.join(str(s) for s in a.shape)}), vec ({v.shape[0] if v.ndim else 0})")
    _same_dtype(input, vec)
    return run(MV, input, vec)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Mirrors ``torch.mm``: the product of two matrices."""
    a, b = input._data, mat2._data
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})")
    _same_dtype(input, mat2)
    return run(MM, input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Mirrors ``torch.bmm``: batches of matrix products, (b, n, m) @ (b, m, p)."""
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _same_dtype(input, mat2)
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
        folded = input.reshape(-1, input._data.shape[-1])
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
    a3 = a.expand(batch + (n, k)).reshape(-1, n, k)
    b3 = b.expand(batch + (k2, m)).reshape(-1, k2, m)
    out_shape = batch + ((n,) if da > 1 else ()) + ((m,) if db > 1 else ())
    return _unsafe_view(bmm(a3, b3), out_shape)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _rmatmul(self: Tensor, other: Tensor) -> Tensor:
    return matmul(other, self)


attach({"dot": dot, "mv": mv, "mm": mm, "bmm": bmm, "matmul": matmul,
        "__matmul__": matmul, "__rmatmul__": _rmatmul})
