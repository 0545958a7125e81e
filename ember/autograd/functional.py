"""Higher-level differentiation: mirrors ``torch.autograd.functional`` (``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``hvp``, ``vhp``), built on ``autograd.grad``.

As in torch, ``inputs`` is a tensor or a tuple of tensors, results come back in the same
structure, gradients of inputs the function does not use are zeros (unless ``strict``), and
results are detached unless ``create_graph=True``. ``jvp`` uses the double-backward trick
(the vjp of the vjp), so it needs no forward-mode rules. ``vectorize`` is accepted and
ignored: ember always computes row by row.
"""
from __future__ import annotations

from ember.autograd import grad as _grad
from ember.autograd.forward_ad import detach_dual
from ember.autograd.grad_mode import enable_grad


def _as_tuple(x, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    from ember._tensor import Tensor

    if isinstance(x, Tensor):
        return False, (x,)
    if not isinstance(x, tuple):
        x = tuple(x)
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of "
                f"Tensors but the value at index {i} has type {type(t)}.")
    return True, x


def _prepare_inputs(inputs: tuple, create_graph: bool) -> tuple:
    """Fresh leaves that require grad (views of the caller's tensors when create_graph, so
    the result stays connected to them)."""
    out = []
    for t in inputs:
        if create_graph and t._requires_grad:
            out.append(t.view_as(t))
            continue
        leaf = t.detach().requires_grad_(True)
        if "_fw" in t.__dict__:  # forward over reverse: the leaf keeps its tangent
            leaf._fw = t._fw
        out.append(leaf)
    return tuple(out)


def _grads(outputs: tuple, inputs: tuple, grad_outputs, create_graph: bool, strict: bool,
           fn_name: str) -> tuple:
    from ember._ops.creation import zeros_like

    diff_outputs = tuple(o for o in outputs if o._requires_grad)
    if not diff_outputs:
        grads = (None,) * len(inputs)
    else:
        seeds = None
        if grad_outputs is not None:
            seeds = tuple(g for o, g in zip(outputs, grad_outputs) if o._requires_grad)
        grads = _grad(diff_outputs, inputs, seeds, retain_graph=True,
                      create_graph=create_graph, allow_unused=True)
    result = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"The output of the user-provided function is independent of input {i}. "
                    "This is not allowed in strict mode.")
            g = zeros_like(x)
        result.append(g)
    return tuple(result)


def _finish(x, create_graph: bool):
    from ember._tensor import Tensor

    if isinstance(x, Tensor):
        return x if create_graph else detach_dual(x)
    return tuple(_finish(t, create_graph) for t in x)


def _unpack(is_tuple: bool, values: tuple):
    return values if is_tuple else values[0]


def _check_v(v: tuple, like: tuple, fn_name: str, what: str) -> None:
    if len(v) != len(like):
        raise RuntimeError(
            "The given v should contain a single Tensor." if len(like) == 1 else
            f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
    for vi, li in zip(v, like):
        if vi.shape != li.shape:
            raise RuntimeError(
                f"Mismatch in size for v: Expected {li.shape} but got {vi.shape}.")


def _call(func, inputs: tuple, fn_name: str) -> tuple:
    out = func(*inputs)
    is_tuple, outputs = _as_tuple(out, "outputs of the user-provided function", fn_name)
    return is_tuple, outputs


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.vjp``: (outputs, v^T J)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    with enable_grad():
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "vjp")
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError(
                    "The vector v can only be None if the user-provided function returns a "
                    "single Tensor with a single element.")
        else:
            _, v = _as_tuple(v, "v", "vjp")
            _check_v(v, outputs, "vjp", "outputs")
        grads = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return (_finish(_unpack(out_tuple, outputs), create_graph),
            _finish(_unpack(in_tuple, grads), create_graph))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.jvp``: (outputs, J v), by double backward."""
    from ember._ops.creation import zeros_like

    in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the input to the user-provided function is "
                "a single Tensor with a single element.")
        from ember._ops.creation import ones_like

        v = (ones_like(inputs[0]),)
    else:
        _, v = _as_tuple(v, "v", "jvp")
        _check_v(v, inputs, "jvp", "inputs")
    with enable_grad():
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "jvp")
        # u(w) = J^T w is linear in w; its vjp with v is J v.
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grads = _grads(outputs, inputs, dummies, True, strict, "jvp")
        result = _grads(grads, dummies, v, create_graph, strict, "jvp")
    return (_finish(_unpack(out_tuple, outputs), create_graph),
            _finish(_unpack(out_tuple, result), create_graph))


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """Mirrors ``torch.autograd.functional.jacobian``: for each output and input, a tensor
    of shape ``output.shape + input.shape``."""
    from ember._ops.creation import zeros, zeros_like
    from ember._ops.shape import stack

    in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "jacobian")
        blocks = []
        for out in outputs:
            flat = out.reshape(-1)
            rows = [[] for _ in inputs]
            for j in range(flat.numel()):
                if out._requires_grad:
                    grads = _grad(flat[j], inputs, retain_graph=True,
                                  create_graph=create_graph, allow_unused=True)
                else:
                    grads = (None,) * len(inputs)
                for i, (g, x) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {len(blocks)} of the user-provided function is "
                                f"independent of input {i}. This is not allowed in strict "
                                "mode.")
                        g = zeros_like(x)
                    rows[i].append(g)
            row_blocks = []
            for i, x in enumerate(inputs):
                shape = tuple(out.shape) + tuple(x.shape)
                row_blocks.append(stack(rows[i], 0).reshape(shape) if rows[i] else
                                  zeros(shape, dtype=x.dtype))
            blocks.append(tuple(row_blocks))
    result = _finish(tuple(blocks), create_graph)
    if out_tuple:
        return result if in_tuple else tuple(r[0] for r in result)
    return result[0] if in_tuple else result[0][0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """Mirrors ``torch.autograd.functional.hessian`` for a function with one scalar output."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = func(*xs)
        _, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError(
                "The function given to hessian should return a single Tensor containing a "
                "single element")
        return _grads(outs, xs, None, True, strict, "hessian")

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return result if in_tuple else result[0][0]


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.vhp``: (output, v^T H)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
    _, v = _as_tuple(v, "v", "vhp")
    _check_v(v, inputs, "vhp", "inputs")
    with enable_grad():
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "vhp")
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The function given to vhp should return a single Tensor containing a single "
                "element")
        grads = _grads(outputs, inputs, None, True, strict, "vhp")
        result = _grads(grads, inputs, v, create_graph, strict, "vhp")
    return (_finish(outputs[0], create_graph), _finish(_unpack(in_tuple, result), create_graph))


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.hvp``: (output, H v); for the symmetric Hessians
    of twice-differentiable functions this equals ``vhp``."""
    return vhp(func, inputs, v, create_graph, strict)
