"""Higher-level differentiation: mirrors ``torch.autograd.functional`` (``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``hvp``, ``vhp``), built on ``autograd.grad``.

As in torch, ``inputs`` is a tensor or a tuple of tensors, results come back in the same
structure, gradients of inputs the function does not use are zeros (unless ``strict``, which
raises torch's errors instead), and results are detached unless ``create_graph=True``.
``jvp`` and ``hvp`` use the double-backward trick, as torch's do. ``jacobian`` computes one
backward per output element, or with ``vectorize=True`` one batched backward over the
standard basis (``autograd.grad(is_grads_batched=True)``); ``strategy="forward-mode"``
(vectorized only, as in torch) pushes the basis through as tangents instead, one forward-mode
pass per input element. ``hessian`` is the Jacobian of the Jacobian, its outer one by
``outer_jacobian_strategy``. Where torch returns lists (the forward-mode Jacobians) ember
does too.
"""
from __future__ import annotations

from ember.autograd import forward_ad
from ember.autograd import grad as _grad
from ember.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(value, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, it as a tuple of tensors), with torch's TypeError for
    anything else (a list is not a tuple here, as in torch)."""
    from ember._tensor import Tensor

    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(item)}.")
    return is_tuple, items


def _unpack(result, was_tuple):
    """Results in the caller's structure: ``was_tuple`` one flag, or (outputs, inputs)."""
    if isinstance(was_tuple, tuple):
        if not was_tuple[1]:
            result = tuple(r[0] for r in result)
        if not was_tuple[0]:
            result = result[0]
        return result
    return result if was_tuple else result[0]


def _prepare(tensors: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Leaves to differentiate with respect to: with ``create_graph`` a tensor that requires
    grad stays connected to its graph (a view of it), otherwise a detached copy of the
    reference that requires grad when ``need_graph``."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
            continue
        leaf = t.detach().requires_grad_(need_graph)
        if "_fw" in t.__dict__:  # forward over reverse: the leaf keeps its tangent
            leaf._fw = t._fw
        out.append(leaf)
    return tuple(out)


def _finish(value, create_graph: bool):
    """Detached results unless ``create_graph`` (nested tuples and lists kept)."""
    from ember._tensor import Tensor

    if isinstance(value, Tensor):
        return value if create_graph else forward_ad.detach_dual(value)
    if value is None:
        return None
    return type(value)(_finish(v, create_graph) for v in value)


def _check_v(v: tuple, other: tuple, other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (vi, oi) in enumerate(zip(v, other)):
        if vi.shape != oi.shape:
            where = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {oi.shape} but got "
                               f"{vi.shape}.")


def _check_requires_grad(tensors: tuple, kind: str, strict: bool) -> None:
    """In strict mode, torch's errors for a result that is None or does not depend on the
    inputs: ``kind`` says which result (the function's outputs, the gradients of the
    double-backward trick, a Jacobian or a Hessian)."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is "
                "independent of the input. This is not allowed in strict mode. You should "
                "ensure that your function is thrice differentiable and that the hessian "
                "depends on the inputs.")
        if kind == "jacobian":
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).")
        if kind == "grad_inputs":
            raise RuntimeError(
                f"The gradient with respect to input {i} is independent of the inputs of the "
                "user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(
            f"Output {i} of the user-provided function does not require gradients. The "
            "outputs must be computed in a differentiable manner from the input when running "
            "in strict mode.")


def _grads_of(outputs: tuple, inputs: tuple, grad_outputs=None, create_graph: bool = False,
              is_grads_batched: bool = False) -> tuple:
    """``autograd.grad`` of the outputs that require grad (None for inputs not reached)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                 create_graph=create_graph, retain_graph=True,
                 is_grads_batched=is_grads_batched)


_ZERO_FILL_ERRORS = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _zero_filled(grads: tuple, refs: tuple, strict: bool, stage: str) -> tuple:
    """Zeros like ``refs[i]`` where a gradient is None (torch's error for it when strict)."""
    from ember._ops.creation import zeros_like

    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_FILL_ERRORS[stage].format(i=i))
            g = zeros_like(ref)
        out.append(g)
    return tuple(out)


def _vector(v, like: tuple, like_is_tuple: bool, create_graph: bool, fn_name: str,
            none_message: str) -> tuple | None:
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(none_message)
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _prepare(v, create_graph, need_graph=False)
    _check_v(v, like, like_is_tuple)
    return v


_V_OF_INPUT = ("The vector v can only be None if the input to the user-provided function is a "
               "single Tensor with a single element.")


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.vjp``: (outputs, v^T J)."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _vector(v, outputs, out_tuple, create_graph, "vjp",
                    "The vector v can only be None if the user-provided function returns a "
                    "single Tensor with a single element.")
        with set_grad_enabled(create_graph or is_grad_enabled()):
            grads = _zero_filled(_grads_of(outputs, inputs, v, create_graph), inputs, strict,
                                 "back")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(grads, create_graph), in_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.jvp``: (outputs, J v), by the double-backward
    trick (the vjp of the vjp), as torch."""
    from ember._ops.creation import zeros_like

    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _vector(v, inputs, in_tuple, create_graph, "jvp", _V_OF_INPUT)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # u(w) = J^T w is linear in w; its vjp with v is J v
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grads_of(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zero_filled(_grads_of(grad_inputs, dummies, v, create_graph), outputs,
                                  strict, "back_trick")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(result, create_graph), out_tuple))


def _standard_basis(numels: tuple, like: tuple) -> tuple:
    """Rows of the identity over all elements of ``like``, cut by tensor: the i-th is
    (total, numel_i) with ones on its block's diagonal."""
    from ember._ops.creation import zeros

    total = sum(numels)
    chunks, start = [], 0
    for n, t in zip(numels, like):
        chunk = zeros(total, n, dtype=t.dtype)
        chunk._data[start + _arange(n), _arange(n)] = 1
        chunks.append(chunk)
        start += n
    return tuple(chunks)


def _arange(n: int):
    from ember._backend import np

    return np.arange(n)


def _jacobian_forward(func, inputs, strict: bool, vectorize: bool):
    """The forward-mode Jacobian (torch's ``_jacfwd``): the standard basis of the inputs
    pushed through as tangents, one pass per input element; lists, as torch returns."""
    from ember._ops.creation import zeros_like
    from ember._ops.shape import stack

    if strict:
        raise RuntimeError(
            "torch.autograd.functional.jacobian: `strict=True` and `strategy=\"forward-mode\"` "
            "are not supported together (yet). Please either set `strict=False` or "
            "`strategy=\"reverse-mode\"`.")
    in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian isonly implemented for `vectorize=True`.")
    numels = tuple(t.numel() for t in inputs)
    basis = _standard_basis(numels, inputs)
    columns: list = []  # per basis row, the tangent of each output
    out_tuple, primals = False, ()
    for row in range(sum(numels)):
        with forward_ad.dual_level():
            duals = tuple(forward_ad.make_dual(t, b[row].view_as(t))
                          for t, b in zip(inputs, basis))
            out_tuple, outs = _as_tuple(func(*duals), "outputs", "jacobian")
            unpacked = [forward_ad.unpack_dual(o) for o in outs]
            primals = tuple(u.primal for u in unpacked)
            columns.append([zeros_like(u.primal) if u.tangent is None else u.tangent
                            for u in unpacked])
    result = []
    for k, primal in enumerate(primals):
        if columns:
            per_output = stack([c[k] for c in columns], -1)
        else:
            per_output = zeros_like(primal).reshape(tuple(primal.shape) + (0,))
        blocks, start = [], 0
        for t, n in zip(inputs, numels):
            blocks.append(per_output[..., start:start + n].reshape(
                tuple(primal.shape) + tuple(t.shape)))
            start += n
        result.append(blocks)
    return _unpack(result, (out_tuple, in_tuple))


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """Mirrors ``torch.autograd.functional.jacobian``: for each output and input, a tensor
    of shape ``output.shape + input.shape``; ``vectorize`` and ``strategy`` as torch's (see
    the module's docstring)."""
    from ember._ops.creation import zeros, zeros_like
    from ember._ops.shape import stack

    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more '
            'performant. Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                "`strategy=\"forward-mode\"` are not supported together (yet). Please either "
                "set `create_graph=False` or `strategy=\"reverse-mode\"`.")
        return _jacobian_forward(func, inputs, strict, vectorize)
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize:
            if strict:
                raise RuntimeError(
                    "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` "
                    "are not supported together. Please either set `strict=False` or "
                    "`vectorize=False`.")
            numels = tuple(o.numel() for o in outputs)
            flat = tuple(o.reshape(-1) for o in outputs)
            grads = _grads_of(flat, inputs, _standard_basis(numels, outputs), create_graph,
                              is_grads_batched=True)
            total = sum(numels)
            blocks = []
            for out_index, out in enumerate(outputs):
                start = sum(numels[:out_index])
                row = []
                for g, x in zip(grads, inputs):
                    if g is None:
                        g = zeros((total,) + tuple(x.shape), dtype=x.dtype)
                    row.append(g[start:start + numels[out_index]].reshape(
                        tuple(out.shape) + tuple(x.shape)))
                blocks.append(tuple(row))
        else:
            blocks = []
            for k, out in enumerate(outputs):
                flat = out.reshape(-1)
                rows = [[] for _ in inputs]
                for j in range(flat.numel()):
                    grads = _grads_of((flat[j],), inputs, create_graph=create_graph)
                    for i, (g, x) in enumerate(zip(grads, inputs)):
                        if g is None:
                            if strict:
                                raise RuntimeError(
                                    f"Output {k} of the user-provided function is independent "
                                    f"of input {i}. This is not allowed in strict mode.")
                            g = zeros_like(x)
                        rows[i].append(g)
                blocks.append(tuple(
                    stack(rows[i], 0).reshape(tuple(out.shape) + tuple(x.shape)) if rows[i]
                    else zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype)
                    for i, x in enumerate(inputs)))
    return _unpack(_finish(tuple(blocks), create_graph), (out_tuple, in_tuple))


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """Mirrors ``torch.autograd.functional.hessian`` for a function with one scalar output:
    the Jacobian (by ``outer_jacobian_strategy``) of its reverse-mode Jacobian."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_output(*xs):
        out = func(*xs)
        out_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(outs, "outputs", strict)
        if out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def gradient(*xs):
        if outer_jacobian_strategy == "forward-mode":
            xs = tuple(x.requires_grad_(True) for x in xs)
        jac = jacobian(scalar_output, xs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(result, (in_tuple, in_tuple))


def _scalar_function(outputs: tuple, out_tuple: bool, fn_name: str) -> None:
    if out_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")


def _scalar_jacobian(func, inputs, v, create_graph: bool, strict: bool, fn_name: str):
    """What vhp and hvp share: the prepared inputs and ``v``, the function's one scalar
    output and its Jacobian (with a graph), with torch's checks. Runs under grad mode."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _vector(v, inputs, in_tuple, create_graph, fn_name, _V_OF_INPUT)
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                   fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    _scalar_function(outputs, out_tuple, fn_name)
    jac = _grads_of(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return in_tuple, inputs, v, out_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.vhp``: (output, v^T H)."""
    with enable_grad():
        in_tuple, inputs, v, out_tuple, outputs, jac = _scalar_jacobian(
            func, inputs, v, create_graph, strict, "vhp")
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zero_filled(_grads_of(jac, inputs, v, create_graph), inputs, strict,
                                  "double_back")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(result, create_graph), in_tuple))


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Mirrors ``torch.autograd.functional.hvp``: (output, H v), by the double-backward
    trick on the Jacobian, as torch."""
    from ember._ops.creation import zeros_like

    with enable_grad():
        in_tuple, inputs, v, out_tuple, outputs, jac = _scalar_jacobian(
            func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(zeros_like(x).requires_grad_(True) for x in inputs)
        double_back = _grads_of(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zero_filled(_grads_of(double_back, grad_jac, v, create_graph), inputs,
                                  strict, "double_back_trick")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(result, create_graph), in_tuple))
