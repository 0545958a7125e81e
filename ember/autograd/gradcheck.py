"""``gradcheck`` and ``gradgradcheck``: compare the analytical Jacobian that backward
computes with a central-difference numerical one (mirrors ``torch.autograd.gradcheck``)."""
from __future__ import annotations

from ember._backend import np


class GradcheckError(RuntimeError):
    """Mirrors ``torch.autograd.gradcheck.GradcheckError``."""


def _tensors(x) -> tuple:
    from ember._tensor import Tensor

    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _outputs(func, inputs) -> tuple:
    """The function's differentiable outputs (torch's gradcheck skips the others, such as
    the indices of ``max(dim)``)."""
    from ember._tensor import Tensor

    out = func(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))
    return tuple(o for o in outs if o.dtype.category >= 2)


def _numerical(func, inputs: tuple, eps: float) -> list:
    """J[o][i]: (numel of input i, numel of output o), by central differences in float64."""
    # Not under no_grad: the function may itself differentiate (gradgradcheck).
    base = _outputs(func, inputs)
    jac = [[np.zeros((x._data.size, o._data.size)) for x in inputs] for o in base]
    for i, x in enumerate(inputs):
        if not x._requires_grad:
            continue
        flat = x._data.reshape(-1) if x._data.flags.c_contiguous else None
        if flat is None:
            raise GradcheckError("gradcheck expects contiguous inputs")
        for k in range(flat.size):
            orig = flat[k].item()
            flat[k] = orig + eps
            plus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
            flat[k] = orig - eps
            minus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
            flat[k] = orig
            for o in range(len(base)):
                jac[o][i][k] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def _analytical(func, inputs: tuple) -> list:
    from ember._memory_format import contiguous_format
    from ember._ops.creation import zeros_like
    from ember.autograd import grad

    outs = _outputs(func, inputs)
    diff = [x for x in inputs if x._requires_grad]
    jac = [[np.zeros((x._data.size, o._data.size)) for x in inputs] for o in outs]
    for o, out in enumerate(outs):
        if not out._requires_grad:
            continue
        for j in range(out._data.size):
            # C-ordered, so that element j of the flat view is output element j
            seed = zeros_like(out, memory_format=contiguous_format)
            seed._data.reshape(-1)[j] = 1
            grads = grad(out, diff, seed, retain_graph=True, allow_unused=True)
            k = 0
            for i, x in enumerate(inputs):
                if not x._requires_grad:
                    continue
                g = grads[k]
                k += 1
                if g is not None:
                    jac[o][i][:, j] = g._data.astype(np.float64).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **kwargs) -> bool:
    """Mirrors ``torch.autograd.gradcheck``: True when backward's Jacobian matches central
    differences for every differentiable input (use float64 inputs); otherwise raises
    ``GradcheckError`` (a RuntimeError) naming the output and input, or returns False."""
    inputs = _tensors(inputs)
    for x in inputs:
        if x._requires_grad and x._data.dtype != np.float64:
            import warnings

            warnings.warn(
                "Input #0 requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision "
                "floating point. ", UserWarning, stacklevel=2)
    numerical = _numerical(func, inputs, eps)
    analytical = _analytical(func, inputs)
    for o, (num_row, ana_row) in enumerate(zip(numerical, analytical)):
        for i, (num, ana) in enumerate(zip(num_row, ana_row)):
            if not np.allclose(ana, num, rtol=rtol, atol=atol, equal_nan=True):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {o} with respect to input {i},\n"
                        f"numerical:{num}\nanalytical:{ana}\n")
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **kwargs) -> bool:
    """Mirrors ``torch.autograd.gradgradcheck``: gradcheck of the function that maps inputs to
    their gradients (with ``create_graph=True``) for fixed random output gradients."""
    from ember._ops.creation import tensor
    from ember.autograd import grad

    inputs = _tensors(inputs)
    outs = _outputs(func, inputs)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = tuple(tensor(rng.standard_normal(o._data.shape)).to(o.dtype)
                             for o in outs)
    diff = tuple(x for x in inputs if x._requires_grad)

    def first_grads(*xs):
        return grad(_outputs(func, xs), [x for x in xs if x._requires_grad], grad_outputs,
                    create_graph=True, allow_unused=True)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception) and bool(diff)
