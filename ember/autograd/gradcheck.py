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


def _outputs(func, inputs, every: bool = False) -> tuple:
    """The function's differentiable outputs: those that require grad (torch's gradcheck
    skips the others, such as the indices of ``max(dim)`` or a detached result); with
    ``every``, each floating-point or complex one."""
    from ember._tensor import Tensor

    out = func(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))
    return tuple(o for o in outs if o.dtype.category >= 2 and (every or o._requires_grad))


def _needs_grad(x) -> bool:
    """Whether the input ``x`` is differentiated (a number or an index tensor is not)."""
    from ember._tensor import Tensor

    return isinstance(x, Tensor) and x._requires_grad


def _size(x) -> int:
    return x._data.size if _needs_grad(x) else 0


def _numerical(func, inputs: tuple, eps: float, every: bool = False) -> list:
    """J[o][i]: (numel of input i, numel of output o), by central differences in float64."""
    # Not under no_grad: the function may itself differentiate (gradgradcheck).
    base = _outputs(func, inputs, every)
    jac = [[np.zeros((_size(x), o._data.size)) for x in inputs] for o in base]
    for i, x in enumerate(inputs):
        if not _needs_grad(x):
            continue
        flat = x._data.reshape(-1) if x._data.flags.c_contiguous else None
        if flat is None:
            raise GradcheckError("gradcheck expects contiguous inputs")
        for k in range(flat.size):
            orig = flat[k].item()
            flat[k] = orig + eps
            plus = [o._data.astype(np.float64).reshape(-1)
                    for o in _outputs(func, inputs, every)]
            flat[k] = orig - eps
            minus = [o._data.astype(np.float64).reshape(-1)
                     for o in _outputs(func, inputs, every)]
            flat[k] = orig
            for o in range(len(base)):
                jac[o][i][k] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def _analytical(func, inputs: tuple) -> list:
    from ember._memory_format import contiguous_format
    from ember._ops.creation import zeros_like
    from ember.autograd import grad

    outs = _outputs(func, inputs)
    diff = [x for x in inputs if _needs_grad(x)]
    jac = [[np.zeros((_size(x), o._data.size)) for x in inputs] for o in outs]
    for o, out in enumerate(outs):
        for j in range(out._data.size):
            # C-ordered, so that element j of the flat view is output element j
            seed = zeros_like(out, memory_format=contiguous_format)
            seed._data.reshape(-1)[j] = 1
            grads = grad(out, diff, seed, retain_graph=True, allow_unused=True)
            k = 0
            for i, x in enumerate(inputs):
                if not _needs_grad(x):
                    continue
                g = grads[k]
                k += 1
                if g is not None:
                    jac[o][i][:, j] = g._data.astype(np.float64).reshape(-1)
    return jac


_NONDET = (
    "Backward is not reentrant, i.e., running backward with same input and grad_output "
    "multiple times gives different values, although analytical gradient matches numerical "
    "gradient.The tolerance for nondeterminism was {}.\n\nNOTE: If your op relies on "
    "non-deterministic operations i.e., it is listed here:\n"
    "https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html\n"
    "this failure might be expected.\n\nIf you are adding a new operator, please file an "
    "issue and then use one of the\nworkarounds. The workaround depends on how your test "
    "invokes gradcheck/gradgradcheck.\nIf the test\n- manually invokes gradcheck/"
    "gradgradcheck, then call gradcheck/gradgradcheck\n  with `nondet_tol=<tol>` as a "
    "keyword argument.\n- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the "
    "OpInfo for the test\n  to have `gradcheck_nondet_tol=<tol>`.\n- is a Module test "
    "(e.g., in common_nn.py), then modify the corresponding\n  module_test entry to have "
    "`gradcheck_nondet_tol=<tol>`\n")
_UNDEFINED = ("Expected backward function to handle undefined output grads. Please look at "
              "\"Notes about undefined output gradients\" in "
              "\"tools/autograd/derivatives.yaml\"")


def _mismatch(kind: str, o: int, i: int, num, ana, dtype) -> GradcheckError:
    from ember._tensor import make

    # shown in the input's dtype, as torch keeps its Jacobians
    num, ana = make(num.astype(dtype)), make(ana.astype(dtype))
    return GradcheckError(f"{kind} for output {o} with respect to input {i},\n"
                          f"numerical:{num!r}\nanalytical:{ana!r}\n")


def _compare(numerical, analytical, rtol, atol, kind: str, inputs: tuple) -> None:
    for o, (num_row, ana_row) in enumerate(zip(numerical, analytical)):
        for i, (num, ana) in enumerate(zip(num_row, ana_row)):
            if not np.allclose(ana, num, rtol=rtol, atol=atol, equal_nan=True):
                raise _mismatch(kind, o, i, num, ana, inputs[i]._data.dtype)


def _forward_jacobian(func, inputs: tuple) -> list:
    """J[o][i] by forward mode: one dual input per element of each differentiable input."""
    from ember._ops.creation import zeros_like
    from ember.autograd import forward_ad as fw

    outs = _outputs(func, inputs)
    jac = [[np.zeros((_size(x), o._data.size)) for x in inputs] for o in outs]
    for i, x in enumerate(inputs):
        if not _needs_grad(x):
            continue
        for k in range(x._data.size):
            tangent = zeros_like(x)
            tangent._data.reshape(-1)[k] = 1
            with fw.dual_level():
                duals = tuple(fw.make_dual(y, tangent) if j == i else y
                              for j, y in enumerate(inputs))
                for o, out in enumerate(_outputs(func, duals)):
                    t = fw.unpack_dual(out).tangent
                    if t is not None:
                        jac[o][i][k] = t._data.astype(np.float64).reshape(-1)
    return jac


def _check_backward(func, inputs, numerical, rtol, atol, nondet_tol, check_grad_dtypes,
                    check_undefined_grad, check_batched_grad) -> None:
    from ember._ops.creation import zeros_like
    from ember.autograd import grad

    analytical = _analytical(func, inputs)
    _compare(numerical, analytical, rtol, atol, "Jacobian mismatch", inputs)
    again = _analytical(func, inputs)  # reentrancy: the same gradients a second time
    for row, row_again in zip(analytical, again):
        for a, b in zip(row, row_again):
            if a.size and np.max(np.abs(a - b)) > nondet_tol:
                raise GradcheckError(_NONDET.format(nondet_tol))
    live = list(_outputs(func, inputs))
    diff = [x for x in inputs if _needs_grad(x)]
    if not live or not diff:
        return
    grads = grad(live, diff, [zeros_like(o) for o in live], retain_graph=True,
                 allow_unused=True)
    for x, g in zip(diff, grads):
        if g is None:
            continue
        if g._data.size and np.any(g._data != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if check_grad_dtypes and g.dtype != x.dtype:
            raise GradcheckError("Gradient has dtype mismatch")
    if check_undefined_grad and len(live) > 1:
        # each output alone, the others' gradients undefined: they must count as zeros
        for o in live:
            try:
                grad(o, diff, zeros_like(o), retain_graph=True, allow_unused=True)
            except RuntimeError:
                raise GradcheckError(_UNDEFINED) from None
    if check_batched_grad:
        _check_batched(func, inputs, live, diff)


def _check_batched(func, inputs, live, diff) -> None:
    """vmap over backward with two random output gradients at once against each alone."""
    from ember._ops.random import randn_like
    from ember._ops.shape import stack
    from ember.autograd import grad
    from ember.func import vmap

    seeds = [stack([randn_like(o), randn_like(o)]) for o in live]

    def vjp(*gs):
        return grad(live, diff, list(gs), retain_graph=True, allow_unused=True)

    batched = vmap(vjp)(*seeds)
    for b in range(2):
        alone = vjp(*(s[b] for s in seeds))
        for i, (got, want) in enumerate(zip(batched, alone)):
            if want is None:
                continue
            if got is None or not np.allclose(got[b]._data, want._data, rtol=1e-3,
                                               atol=1e-5, equal_nan=True):
                raise GradcheckError(
                    f"For input {i}:\n\nbackward computed with vmap over several output "
                    f"gradients does not match backward on gradient {b} alone")


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Mirrors ``torch.autograd.gradcheck``: True when backward's Jacobian (and, with
    ``check_forward_ad``, forward mode's) matches central differences for every
    differentiable input (use float64 inputs); otherwise raises ``GradcheckError`` (a
    RuntimeError) naming the output and input, or returns False with ``raise_exception=
    False``. As torch's, it also checks that backward is reentrant (within ``nondet_tol``),
    that a zero output gradient gives zero gradients, that each output's gradient alone
    works when a function has several (``check_undefined_grad``), the gradients' dtypes
    (``check_grad_dtypes``) and vmap over backward or forward mode (``check_batched_grad``,
    ``check_batched_forward_grad``). Where ember differs: ``fast_mode`` runs the full check
    (torch's fast mode compares random projections of the same Jacobians: both pass for
    right gradients); ``masked`` concerns sparse inputs, which ember has none of; the batched
    checks' failure messages are ember's own."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True")
    import warnings

    inputs = _tensors(inputs)
    for i, x in enumerate(inputs):
        if _needs_grad(x) and x._data.dtype not in (np.float64, np.complex128):
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point "
                "or complex. This check will likely fail if all the inputs are not of double "
                "precision floating point or complex. ", UserWarning, stacklevel=2)
    if not any(_needs_grad(x) for x in inputs):
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    try:
        if not _outputs(func, inputs):
            # nothing that requires grad comes out: the function must not depend on the
            # inputs at all (torch's check of a function without differentiable outputs)
            for row in _numerical(func, inputs, eps, every=True):
                if any(np.any(j != 0) for j in row):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
            return True
        numerical = _numerical(func, inputs, eps)
        if check_backward_ad:
            _check_backward(func, inputs, numerical, rtol, atol, nondet_tol,
                            check_grad_dtypes, check_undefined_grad, check_batched_grad)
        if check_forward_ad:
            _compare(numerical, _forward_jacobian(func, inputs), rtol, atol,
                     "Jacobian computed with forward mode mismatch", inputs)
            if check_batched_forward_grad:
                _check_batched_forward(func, inputs)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check_batched_forward(func, inputs) -> None:
    """vmap over forward mode with two random tangents at once against each alone."""
    from ember._ops.random import randn_like
    from ember._ops.shape import stack
    from ember.func import jvp, vmap

    diff = [i for i, x in enumerate(inputs) if _needs_grad(x)]
    tangents = [stack([randn_like(inputs[i]), randn_like(inputs[i])]) for i in diff]

    def forward(*ts):
        full = list(inputs)
        primals = tuple(inputs[i].detach() for i in diff)

        def f(*xs):
            args = list(full)
            for i, v in zip(diff, xs):
                args[i] = v
            return _outputs(func, tuple(args))

        return jvp(f, primals, tuple(ts))[1]

    batched = vmap(forward)(*tangents)
    for b in range(2):
        alone = forward(*(t[b] for t in tangents))
        for o, (got, want) in enumerate(zip(batched, alone)):
            if not np.allclose(got[b]._data, want._data, rtol=1e-3, atol=1e-5,
                               equal_nan=True):
                raise GradcheckError(
                    f"For output {o}:\n\nforward mode computed with vmap over several "
                    f"tangents does not match forward mode on tangent {b} alone")


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False,
                  masked: bool = False) -> bool:
    """Mirrors ``torch.autograd.gradgradcheck``: gradcheck of the function that maps inputs to
    their gradients (with ``create_graph=True``) for fixed random output gradients
    (non-contiguous ones with ``gen_non_contig_grad_outputs``): reverse over reverse
    (``check_rev_over_rev``) and forward over reverse (``check_fwd_over_rev``); the other
    keywords are ``gradcheck``'s."""
    from ember._ops.creation import tensor
    from ember.autograd import grad

    inputs = _tensors(inputs)
    outs = _outputs(func, inputs)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = tuple(tensor(rng.standard_normal(o._data.shape)).to(o.dtype)
                             for o in outs)
        if gen_non_contig_grad_outputs:  # the same values, every other element of a buffer
            grad_outputs = tuple(
                tensor(np.repeat(g._data.reshape(-1), 2)).to(g.dtype)[::2].view(g.shape)
                if g._data.size > 1 else g for g in grad_outputs)
    diff = tuple(x for x in inputs if _needs_grad(x))

    def first_grads(*xs):
        return grad(_outputs(func, xs), [x for x in xs if _needs_grad(x)], grad_outputs,
                    create_graph=True, allow_unused=True)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes,
                     check_batched_grad=check_batched_grad,
                     check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev, fast_mode=fast_mode,
                     masked=masked) and bool(diff)
