"""``ember.autograd``: mirrors ``torch.autograd`` — ``backward``, ``grad``, grad modes and
``gradcheck``."""
from __future__ import annotations

import warnings

from ember.autograd import engine, graph
from ember.autograd.anomaly_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from ember.autograd.function import Function, FunctionCtx, once_differentiable
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    is_multithreading_enabled,
    no_grad,
    set_grad_enabled,
    set_multithreading_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "gradcheck", "gradgradcheck",
           "graph", "Variable", "is_multithreading_enabled", "set_multithreading_enabled"]


class _ExecutionEngine:
    """Mirrors the object at ``torch.autograd.Variable._execution_engine``; ember exposes its
    ``queue_callback`` only."""

    __slots__ = ()

    @staticmethod
    def queue_callback(callback) -> None:
        """Mirrors ``Variable._execution_engine.queue_callback``: run ``callback()`` when the
        backward pass in progress has finished (callbacks may queue more); raises torch's
        RuntimeError outside a backward pass."""
        engine.queue_callback(callback)


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        from ember._tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Mirrors ``torch.autograd.Variable``, the deprecated wrapper: ``Variable(t)`` is a new
    tensor sharing ``t``'s data and version counter with no history (like ``t.detach()``),
    with ``requires_grad`` as given; ``Variable()`` is an empty tensor of the default dtype.
    Every tensor is an instance of it. ``volatile`` only warns, as in torch."""

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False,
                **unknown):
        from ember._ops.creation import empty
        from ember._tensor import Tensor, c_type_name

        for name in unknown:  # torch's argument parser's wording, not Python's
            raise TypeError(f"'{name}' is an invalid keyword argument for this function")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "torch.no_grad():` instead.", UserWarning, stacklevel=2)
        if data is None:
            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {c_type_name(data)}")
        out = data.detach()
        if requires_grad:
            if out.dtype.category < 2:
                raise RuntimeError("Only Tensors of floating point and complex dtype can "
                                   "require gradients")
            out._requires_grad = True
        return out


def _as_tuple(x) -> tuple:
    from ember._tensor import Tensor

    if x is None:
        return ()
    if isinstance(x, (Tensor, graph.GradientEdge)):
        return (x,)
    return tuple(x)


def _seed_grads(outputs: tuple, grad_outputs: tuple | None, create_graph: bool) -> list:
    """Each output's starting gradient, checked as torch checks them, pair by pair: given
    (extra ones are ignored, as torch's zip drops them; too few raise once the pairs passed),
    or ones for a one-element output that requires grad (None for one that does not: the
    caller's requires-grad check refuses it next)."""
    from ember._ops.creation import ones_like
    from ember._tensor import Tensor

    pairs = zip(outputs, grad_outputs if grad_outputs is not None else (None,) * len(outputs))
    seeds = []
    for i, (out, g) in enumerate(pairs):
        if isinstance(out, graph.GradientEdge):  # torch's engine takes its gradient as given
            if g is None:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seeds.append(g)
            continue
        if g is None:
            if out._requires_grad:
                if out._data.size != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if out.dtype.category < 2:
                    raise RuntimeError(
                        "grad can be implicitly created only for real scalar outputs but got "
                        f"{out.dtype!r}")
                g = ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        elif g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {out.shape}.")
        elif g.is_complex() != out.is_complex():
            raise RuntimeError(
                "For complex Tensors, both grad_output and output are required to have the "
                f"same dtype. Mismatch in dtype: grad_output[{i}] has a dtype of {g.dtype} and "
                f"output[{i}] has a dtype of {out.dtype}.")
        seeds.append(g)
    if len(seeds) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(seeds)} gradients")
    return seeds


def _check_requires_grad(outputs: tuple) -> None:
    for i, out in enumerate(outputs):
        if isinstance(out, graph.GradientEdge):
            continue
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")


def _edge(t) -> tuple:
    """The (node, input number) of a tensor or a ``GradientEdge``."""
    if isinstance(t, graph.GradientEdge):
        return (t.node, t.output_nr)
    return graph.grad_edge(t)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables=None, inputs=None) -> None:
    """Mirrors ``torch.autograd.backward``: accumulate the gradients of ``tensors`` into the
    ``.grad`` of the leaves (or only of ``inputs``)."""
    if inputs is not None and len(_as_tuple(inputs)) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    outputs = _as_tuple(tensors)
    grads = None if grad_tensors is None else _as_tuple(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        _warn_create_graph()
    inputs = _as_tuple(inputs)
    seeds = _seed_grads(outputs, grads, create_graph)
    _check_requires_grad(outputs)
    for t in inputs:
        if not isinstance(t, graph.GradientEdge) and not t._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    roots = [_edge(t) for t in outputs]
    if not inputs:
        engine.execute(roots, seeds, retain_graph, create_graph)
        return
    targets = [_edge(t) for t in inputs]
    captured = engine.execute(roots, seeds, retain_graph, create_graph, targets, accumulate=True)
    for t, g in zip(inputs, captured):
        if isinstance(t, graph.GradientEdge):
            continue
        if t._grad_fn is not None and g is not None:  # a non-leaf input keeps its grad
            t._grad = g if t._grad is None else t._grad + g


_warned_create_graph = [False]


def _warn_create_graph() -> None:
    # torch warns once a process: backward (not grad) with create_graph accumulates into
    # leaves gradients that point back at them
    if not _warned_create_graph[0]:
        _warned_create_graph[0] = True
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the "
            "parameter and its gradient which can cause a memory leak. We recommend using "
            "autograd.grad when creating the graph to avoid this. If you have to use this "
            "function, make sure to reset the .grad fields of your parameters to None after "
            "use to break the cycle and avoid the leak.", UserWarning, stacklevel=3)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """Mirrors ``torch.autograd.grad``: the gradients of ``outputs`` with respect to
    ``inputs`` (tensors or ``GradientEdge``s), returned rather than accumulated. With
    ``is_grads_batched`` the first dim of each of ``grad_outputs`` is a batch of seeds, run
    as one backward under vmap."""
    from ember._ops.creation import zeros_like

    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to "
                      "True). To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=2)
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grads = None if grad_outputs is None else _as_tuple(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False.")
    for t in inputs:
        if not isinstance(t, graph.GradientEdge) and not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if is_grads_batched:
        _check_requires_grad(outputs)
        captured = _batched_grads(outputs, inputs, grads, retain_graph, create_graph)
    else:
        seeds = _seed_grads(outputs, grads, create_graph)
        _check_requires_grad(outputs)
        captured = engine.execute([_edge(t) for t in outputs], seeds, retain_graph,
                                  create_graph, [_edge(t) for t in inputs], accumulate=False)
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            if materialize_grads and not isinstance(t, graph.GradientEdge):
                g = zeros_like(t)
        result.append(g)
    return tuple(result)


def _batched_grads(outputs: tuple, inputs: tuple, grads: tuple, retain_graph: bool,
                   create_graph: bool) -> list:
    """``grad`` for a batch of seeds: one backward under ``vmap`` over the seeds' first dim
    (as torch runs it), None where an input's gradient was not computed."""
    from ember._ops.creation import zeros_like
    from ember.func import vmap

    grads = grads or (None,) * len(outputs)
    for i, (g, out) in enumerate(zip(grads, outputs)):
        if g is None:
            _seed_grads((out,), None, create_graph)  # torch's errors for an implicit seed
        elif not isinstance(out, graph.GradientEdge) and g.shape[1:] != out.shape:
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions "
                "are expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of {g.shape[1:]} and output[{i}] has "
                f"a shape of {out.shape}. If you only want some tensors in `grad_output` to "
                "be considered batched, consider using vmap.")
    unused: list = []

    def one(*seeds):
        it = iter(seeds)
        given = [next(it) if g is not None else None for g in grads]
        seeded = _seed_grads(outputs, given, create_graph)
        captured = engine.execute([_edge(t) for t in outputs], seeded, retain_graph,
                                  create_graph, [_edge(t) for t in inputs], accumulate=False)
        unused[:] = [g is None for g in captured]
        # vmap returns tensors: a placeholder where nothing came, dropped below
        return tuple(zeros_like(t) if g is None and not isinstance(t, graph.GradientEdge)
                     else g for g, t in zip(captured, inputs))

    batched = vmap(one)(*[g for g in grads if g is not None])
    return [None if skip else g for g, skip in zip(batched, unused)]


from ember.autograd import forward_ad, functional  # noqa: E402, F401 - built on grad above


def __getattr__(name: str):
    # ``ember.autograd.profiler`` (torch.autograd.profiler) loads on first access: a plain
    # training program never pays for it.
    if name == "profiler":
        import importlib

        return importlib.import_module("ember.autograd.profiler")
    raise AttributeError(f"module 'ember.autograd' has no attribute '{name}'")
