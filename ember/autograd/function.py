"""Custom autograd functions: mirrors ``torch.autograd.Function``.

A subclass defines static ``forward`` and ``backward`` (and optionally ``setup_context``);
``apply`` runs the forward without recording, then records one node whose ``backward`` is
the user's. As in torch, the node *is* the ``ctx`` object: ``y.grad_fn`` is the ctx that
``forward`` filled in, and it prints as ``<MyFunctionBackward>``.
"""
from __future__ import annotations

import functools
import warnings

from ember._ops import batching, registry
from ember._tensor import c_type_name
from ember.autograd import grad_mode
from ember.autograd.graph import (
    _FREED,
    SECOND_BACKWARD,
    Node,
    check_versions,
    fit_gradient,
    grad_edge,
    new_key,
)


class FunctionCtx:
    """What ``forward`` sees as ``ctx`` (mirrors ``torch.autograd.function.FunctionCtx``)."""

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for ``backward``; read them back with ``saved_tensors``.
        Modifying one in place before backward raises torch's version-counter error."""
        self._to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place (they take this node as their
        history)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that carry no gradient (e.g. indices)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None (not zeros) for outputs without a
        gradient."""
        self.materialize_grads = value


class BackwardCFunction(FunctionCtx, Node):
    """The node of one ``Function.apply`` call; also its ``ctx``."""

    _forward_cls: type = None
    materialize_grads = True
    _to_save = ()
    _dirty = ()
    _non_differentiable = ()

    @property
    def saved_tensors(self) -> tuple:
        if self.__dict__.get("_in_jvp"):  # inside jvp: what forward saved for it
            return tuple(self.__dict__.get("saved_for_forward", ()))
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(SECOND_BACKWARD)
        if self._versions:
            check_versions(self, saved, self._versions)
        return saved

    def apply(self, grads: list) -> list:
        if self.materialize_grads:
            from ember._ops.creation import zeros

            grads = [zeros(meta[0], dtype=meta[1]) if g is None and meta is not None else g
                     for g, meta in zip(grads, self._output_meta)]
        backward = self._forward_cls.backward
        result = backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n_inputs = len(self._input_positions)
        if len(result) != n_inputs:
            if len(result) > n_inputs and all(r is None for r in result[n_inputs:]):
                result = result[:n_inputs]
            else:
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n_inputs}, got {len(result)})")
        from ember._tensor import Tensor

        tensors = self._tensor_positions
        for pos, g in enumerate(result):
            if g is not None:
                if pos not in tensors:
                    raise RuntimeError(
                        f"function {self.name()} returned a gradient different than None at "
                        f"position {pos + 1}, but the corresponding forward input was not a "
                        "Variable")
                if not isinstance(g, Tensor):
                    raise RuntimeError(f"expected Variable or None (got {c_type_name(g)})")
        out = []
        for i, pos in enumerate(tensors):
            g = result[pos]
            meta = self._meta[i]
            if g is None or meta is None:
                out.append(None)
                continue
            shape = meta[0]
            if g.shape != shape and not _expandable(shape, g.shape):
                raise RuntimeError(
                    f"Function {self.name()} returned an invalid gradient at index {pos} - "
                    f"got {list(g.shape)} but expected shape compatible with {list(shape)}")
            out.append(fit_gradient(g, meta))
        return out

    def release(self) -> None:
        if self._saved:
            self._saved = _FREED

    def __repr__(self) -> str:
        return f"<torch.autograd.function.{type(self).__name__} object at {hex(id(self))}>"


def _expandable(shape: tuple, grad_shape: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``grad_shape`` (so the gradient can be summed back)."""
    if len(shape) > len(grad_shape):
        return False
    for a, b in zip(reversed(shape), reversed(grad_shape)):
        if a != b and a != 1:
            return False
    return True


class _FunctionMeta(type):
    """Gives every Function subclass its own node class, ``<Name>Backward``."""

    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": __name__})


# NOTE [Functions under torch.func]
# As torch's, a Function called while a torch.func transform runs (``transforms``: how many
# are active; func's transforms count themselves) must define ``setup_context``, and under
# vmap, with an argument batched at the innermost level, either ``generate_vmap_rule =
# True`` (ember then runs ``forward`` on the batched tensors, as any function) or a ``vmap``
# staticmethod, which ``_vmap_rule`` calls with that level's batch dims made plain (ember
# keeps batch dims in front, so a batched argument's in_dim is 0 where torch may pass the
# dim the user mapped). When an
# argument requires grad ember runs ``forward`` on the batched tensors instead, which gives
# the rule's values (a vmap rule computes what ``forward`` does for each sample) and keeps
# the Function's backward in the graph.
transforms = [0]
_FUNC_NOTES = "https://pytorch.org/docs/main/notes/extending.func.html"
_NEEDS_SETUP_CONTEXT = (
    "In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, "
    "...), it must override the setup_context staticmethod. For more details, please see "
    + _FUNC_NOTES)


class VmapInfo:
    """Mirrors torch's ``VmapInfo``, the first argument of a Function's vmap rule."""

    def __init__(self, batch_size: int, randomness: str) -> None:
        self.batch_size = batch_size
        self.randomness = randomness

    def __repr__(self) -> str:
        return f"VmapInfo(batch_size={self.batch_size}, randomness='{self.randomness}')"


def _vmap_rule(cls, args: tuple, kwargs: dict):
    """NOTE [Functions under torch.func]: ``cls.vmap`` at the innermost vmap level."""
    from ember.func import _into_level, _unbatch

    level = len(batching.levels) - 1
    size = batching.levels[-1]
    in_dims, plain = [], []
    for a in args:
        if batching.is_batched(a) and level in a._phys.levels:
            in_dims.append(0)
            plain.append(_unbatch(a, 0, level, size))
        else:
            in_dims.append(None)
            plain.append(a)
    info = VmapInfo(size, batching.randomness[-1])
    saved = batching.levels.pop(), batching.randomness.pop()
    try:
        result = cls.vmap(info, tuple(in_dims), *plain, **kwargs)
    finally:
        batching.levels.append(saved[0])
        batching.randomness.append(saved[1])
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"Expected the vmap staticmethod to have two returns, an output and "
                           f"out_dims with pytree structure compatible with the output. Got a "
                           f"{type(result)} instead")
    out, out_dims = result
    many = isinstance(out, tuple)
    outs = out if many else (out,)
    dims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(outs)
    wrapped = tuple(o if d is None else _into_level(o, d, level) for o, d in zip(outs, dims))
    return wrapped if many else wrapped[0]


class Function(metaclass=_FunctionMeta):
    """Mirrors ``torch.autograd.Function``: subclass it with static ``forward(ctx, *args)``
    (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and
    ``backward(ctx, *grad_outputs)``, and call ``MyFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD.")

    setup_context = None
    generate_vmap_rule = False
    # ember's own Functions whose forward composes ops that work under every transform
    # (the higher-order ops' recorded graphs) skip NOTE [Functions under torch.func]
    _composite = False

    @staticmethod
    def vmap(info, in_dims, *args):
        """Mirrors ``Function.vmap``: override it (or set ``generate_vmap_rule = True``) to
        use the Function inside ``ember.func.vmap``. It receives ``info`` (``batch_size``,
        ``randomness``), each argument's batch dim (None: not batched) and the arguments
        with their batch dims, and returns ``(output, out_dims)``."""
        raise NotImplementedError(
            "To use autograd.Function with vmap, you must either override the vmap "
            "staticmethod or set generate_vmap_rule=True.")

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            "static, so you should invoke them on the class itself. Instantiating an autograd "
            "function will raise an error in a future version of PyTorch.", DeprecationWarning,
            stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from ember._tensor import Tensor
        from ember.autograd import forward_ad

        if transforms[0] and not cls._composite:  # NOTE [Functions under torch.func]
            if cls.setup_context is None or cls.setup_context is Function.setup_context:
                raise RuntimeError(_NEEDS_SETUP_CONTEXT)
            if batching.levels:
                custom = cls.vmap is not Function.vmap
                if cls.generate_vmap_rule and custom:
                    raise RuntimeError(
                        f"You tried to vmap over {cls.__name__}, but it has both "
                        "generate_vmap_rule=True and an overridden vmap staticmethod. Please set "
                        "generate_vmap_rule=False or delete the overridden vmap staticmethod to "
                        "avoid ambiguity. For more details, please see " + _FUNC_NOTES)
                if not cls.generate_vmap_rule and not custom:
                    raise RuntimeError(
                        f"You tried to vmap over {cls.__name__}, but it does not have vmap "
                        "support. Please override and implement the vmap staticmethod or set "
                        "generate_vmap_rule=True. For more details, please see " + _FUNC_NOTES)
                if custom and not any(isinstance(a, Tensor) and a._requires_grad for a in args):
                    return _vmap_rule(cls, args, kwargs)

        levels = [level for level in forward_ad.levels if any(
            isinstance(a, Tensor) and a.__dict__.get("_fw", {}).get(level) is not None
            for a in args)] if forward_ad.levels else ()
        if levels:
            # NOTE [Custom functions in forward mode]: as torch's, forward runs on the
            # primals (its own ops propagate no tangent) and the outputs' tangents are what
            # ``jvp`` returns from the inputs' (zeros for a tensor without one, None for
            # other arguments), one level at a time
            duals = args
            args = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
        if registry.views_stale:
            registry._refresh_inputs(args)  # NOTE [Stale views]
        ctx = cls._backward_cls.__new__(cls._backward_cls)
        ctx._extra = None
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx._input_positions = tuple(range(len(args)))
        ctx._tensor_positions = tuple(positions)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        custom_setup = cls.setup_context is not None and \
            cls.setup_context is not Function.setup_context
        with grad_mode.no_grad():
            if custom_setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if levels:
            args = duals  # the graph links to the tensors the caller passed
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad
                                         for a in args)
        record = grad_mode.state.enabled and any(ctx.needs_input_grad[i] for i in positions)
        result = _wrap_outputs(ctx, args, positions, output, record)
        if levels:
            _forward_tangents(cls, ctx, args, result, levels)
        return result


def _forward_tangents(cls, ctx, args: tuple, result, levels: list) -> None:
    """NOTE [Custom functions in forward mode]: ``cls.jvp`` gives the outputs' tangents."""
    from ember._ops.creation import zeros_like
    from ember._tensor import Tensor
    from ember.autograd import forward_ad

    outputs = result if isinstance(result, tuple) else (result,)
    active = forward_ad.levels[:]
    for level in levels:
        tangents = []
        for a in args:
            tangent = a.__dict__.get("_fw", {}).get(level) if isinstance(a, Tensor) else None
            if isinstance(a, Tensor) and tangent is None:
                tangent = zeros_like(a)
            tangents.append(tangent)
        forward_ad.levels[:] = [lv for lv in active if lv < level]  # jvp's ops: outer only
        ctx._in_jvp = True
        try:
            found = cls.jvp(ctx, *tangents)
        finally:
            ctx._in_jvp = False
            forward_ad.levels[:] = active
        found = found if isinstance(found, tuple) else (found,)
        for out, tangent in zip(outputs, found):
            if isinstance(out, Tensor) and isinstance(tangent, Tensor):
                out._fw = {**out.__dict__.get("_fw", {}), level: tangent}


def _wrap_outputs(ctx, args: tuple, positions: list, output, record: bool):
    from ember._tensor import Tensor, make

    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    dirty = {id(t) for t in ctx._dirty}
    if dirty and dirty - {id(out) for out in outputs}:
        raise RuntimeError(
            "Some elements marked as dirty during the forward method were not returned as "
            "output. The inputs that are modified inplace must all be outputs of the Function.")
    non_diff = {id(t) for t in ctx._non_differentiable}
    inputs_by_id = {id(args[i]): args[i] for i in positions}
    # NOTE [Views that refuse writes]: a view among the outputs refuses in-place writes, in
    # the words for several views when other outputs could take a gradient
    differentiable = sum(1 for out in outputs if isinstance(out, Tensor)
                         and id(out) not in non_diff and out.dtype.category >= 2)
    made_in = "custom" if differentiable <= 1 else "multi"
    wrapped = []
    for out in outputs:
        if isinstance(out, Tensor) and id(out) not in dirty:
            if id(out) in inputs_by_id:
                # An input returned as it is: the output is a new tensor viewing it (as torch).
                alias = make(out._data, False, None, out._vc)
                alias._base = out if out._base is None else out._base
                out = alias
            if out._base is not None:
                out._made_in = made_in
        wrapped.append(out)
    if record and dirty:
        _check_dirty(ctx, outputs, inputs_by_id)
    if record:
        ctx.next_functions = tuple(
            grad_edge(args[i]) if args[i]._requires_grad else (None, 0) for i in positions)
        ctx._meta = tuple((args[i]._data.shape, args[i]._data.dtype)
                          if args[i]._requires_grad else None for i in positions)
        ctx._key = new_key()
        ctx.num_outputs = len(wrapped)
        ctx._output_meta = tuple((o._data.shape, o.dtype) if isinstance(o, Tensor) else None
                                 for o in wrapped)
        saved = tuple(ctx._to_save)
        ctx._saved = saved
        ctx._versions = tuple((i, t._vc[0]) for i, t in enumerate(saved)
                              if isinstance(t, Tensor)) or None
        for nr, out in enumerate(wrapped):
            if not isinstance(out, Tensor):
                continue
            if id(out) in non_diff:
                out._requires_grad = False
                continue
            if id(out) in dirty and out._base is not None:
                # written in place through a view: the base's history is rewritten as any
                # in-place write through a view rewrites it (CopySlices over this node)
                from ember._ops.registry import _copy_slices

                value = make(out._data, True, ctx, out._vc)
                value._output_nr = nr
                _copy_slices(out, value)
                continue
            if id(out) in dirty and not out._requires_grad:
                registry.history_given(out._vc, 1)  # NOTE [Stale views]
            out._grad_fn = ctx
            out._requires_grad = out.dtype.category >= 2
            out._output_nr = nr
            made = out.__dict__.get("_view_src")
            if made is not None:  # its history is this node's as of now (NOTE [Stale views])
                out._view_src = made[:4] + (out._vc[0],)
    else:
        ctx._saved = tuple(ctx._to_save)
        ctx._versions = None
    return wrapped[0] if single else tuple(wrapped)


def _check_dirty(ctx, outputs: tuple, inputs_by_id: dict) -> None:
    """torch's checks of the tensors ``forward`` marked dirty, before any history changes:
    a leaf that requires grad cannot have been written, a view only by a Function with one
    output (and only as an in-place op may write it: ``check_inplace``)."""
    from ember._ops.registry import check_inplace

    for t in ctx._dirty:
        if t._base is None and t._requires_grad and t._grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad has been used in an "
                               "in-place operation.")
        if id(t) not in inputs_by_id:
            warnings.warn("ctx.mark_dirty() received a tensor that was not an input. Only "
                          "input Tensors that have been mutated should be passed to "
                          "ctx.mark_dirty().", UserWarning, stacklevel=4)
        if t._base is not None:
            if len(outputs) > 1:
                raise RuntimeError(
                    "If your Function modifies inplace an input that is a view of another "
                    "Tensor, your Function cannot return more than one Tensor. This is not "
                    "supported by the current autograd engine. You should either make sure "
                    "the input is not a view (using .clone() for example) or make your "
                    "Function only return one Tensor (potentially splitting it into two "
                    "Functions: one doing the inplace that returns a single Tensor and a "
                    "second one that does the other operations). You can ask on the forum "
                    "https://discuss.pytorch.org/ if you need help to do this change.")
            check_inplace(t)


def once_differentiable(fn):
    """Mirrors ``torch.autograd.function.once_differentiable``: the decorated ``backward``
    runs without recording, so differentiating its result again raises."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)
    return wrapper
