"""Forward-mode AD: mirrors ``torch.autograd.forward_ad`` (``dual_level``, ``make_dual``,
``unpack_dual``, ``enter_dual_level``, ``exit_dual_level``).

A dual tensor carries a tangent. Every op that runs on dual inputs gives its outputs the
tangents ``J t``, computed from the op's own backward formulas, which are linear in the
incoming gradient: ``J t`` is the gradient of ``<formula(w), t>`` with respect to ``w``
(the vjp of the vjp). So each op's tangent rule is the same record as its backward rule,
and every op with a backward formula has one, several-output ops included. An op may also
give a direct rule in its record's ``jvp`` slot, ``jvp(args, tangents)``, used when
present (it returns the tangent, or a list with one per output of a several-output op).

NOTE [Tangents are ember tensors]: a tangent is computed with ember ops, so it is
differentiable like any other tensor: when the primals or the tangents require grad (and
grad mode is on) the tangent records a graph, and reverse mode runs over forward mode
(``tangent.sum().backward()``, ``jacrev(jacfwd(f))``), as in torch.

NOTE [Levels]: several levels may be active at once (``func.jvp`` nests; torch's public
``dual_level`` refuses to, and so does ember's). A tensor keeps one tangent per level in
``_fw``, a dict never changed in place (tensors may share it). The tangent of level ``k``
is computed with the levels outside it still active, so it gets tangents of its own at
those levels (forward over forward); levels are handled outermost first, so an op's result
already carries its outer tangents when an inner rule reads it.
"""
from __future__ import annotations

from collections import namedtuple

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "Mirrors ``torch.autograd.forward_ad.UnpackedDualTensor``."

# The active levels' ids, outermost first; the op runner reads this list's truth on every op.
# Ids are never reused, so a tangent left on a tensor from a finished level is never seen
# again (torch clears them when the level exits). The public API numbers the levels by
# their depth (the first is 0, as torch's).
levels: list = []
_next_id = [0]
_public: list = []  # the ids entered through enter_dual_level (one at a time, as in torch)


def _push() -> int:
    level = _next_id[0]
    _next_id[0] += 1
    levels.append(level)
    return level


def _pop(level: int) -> None:
    if not levels or levels[-1] != level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                           "that was created. This is not supported.")
    levels.pop()
    if _public and _public[-1] == level:
        _public.pop()


def enter_dual_level() -> int:
    """Mirrors ``forward_ad.enter_dual_level``: a new level, whose number is returned."""
    if _public:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _public.append(_push())
    return len(levels) - 1


def exit_dual_level(*, level: int | None = None) -> None:
    """Mirrors ``forward_ad.exit_dual_level``: tangents of that level are gone after it."""
    if not levels:
        raise RuntimeError("Dual level must be a positive number.")
    if level is not None and level != len(levels) - 1:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                           "that was created. This is not supported.")
    _pop(levels[-1])


class dual_level:
    """Mirrors ``forward_ad.dual_level``: a context manager for one forward-AD level."""

    def __enter__(self) -> int:
        self.level = enter_dual_level()
        return self.level

    def __exit__(self, *exc) -> None:
        exit_dual_level(level=self.level)


class _nested_level:
    """A level that may sit inside others (``func.jvp``): ``with`` gives its id."""

    def __enter__(self) -> int:
        self.level = _push()
        return self.level

    def __exit__(self, *exc) -> None:
        _pop(self.level)


def _level_id(level: int | None, where: str) -> int:
    if level is None:
        return levels[-1]
    if not 0 <= level < len(levels):
        raise RuntimeError(f"Invalid level given to {where}")
    return levels[level]


def make_dual(tensor, tangent, *, level: int | None = None):
    """Mirrors ``forward_ad.make_dual``: a view of ``tensor`` carrying ``tangent`` (kept as
    given, with its graph: see NOTE [Tangents are ember tensors])."""
    if not levels:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    return _make_dual(tensor, tangent, _level_id(level, "_make_dual"))


def _make_dual(tensor, tangent, level: int):
    for kind, t in (("primal", tensor), ("tangent", tangent)):
        if not (t.is_floating_point() or t.is_complex()):
            raise ValueError(f"Expected {kind} to be floating point or complex, but got: "
                             f"{t.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}.")
    if tangent_at(tensor, level) is not None:
        raise RuntimeError(
            "Making a dual Tensor based on a Tensor that already has a forward gradient at the "
            f"same level {levels.index(level)} is not supported.")
    dual = tensor.view_as(tensor)  # carries the tensor's tangents of the other levels
    dual._fw = {**dual.__dict__.get("_fw", {}), level: tangent}
    return dual


def tangent_at(t, level: int):
    """The tangent ``t`` carries at level id ``level``, or None."""
    fw = t.__dict__.get("_fw") if hasattr(t, "__dict__") else None
    return None if fw is None else fw.get(level)


def tangent_of(t):
    """The tangent ``t`` carries at the innermost active level, or None."""
    return tangent_at(t, levels[-1]) if levels else None


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """Mirrors ``forward_ad.unpack_dual``: (primal, tangent or None). The primal is a view
    without the tangent of that level (it keeps those of other levels)."""
    from ember._tensor import Tensor, c_type_name

    if not levels:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError("_unpack_dual(): argument 'dual' (position 1) must be Tensor, not "
                        f"{c_type_name(tensor)}")
    if "_fw" not in tensor.__dict__:
        return UnpackedDualTensor(tensor, None)
    return _unpack_dual(tensor, _level_id(level, "_fw_primal"))


def _unpack_dual(tensor, level: int) -> UnpackedDualTensor:
    tangent = tangent_at(tensor, level)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = tensor.view_as(tensor)
    fw = {k: v for k, v in primal.__dict__.get("_fw", {}).items() if k != level}
    if fw:
        primal._fw = fw
    else:
        del primal._fw
    return UnpackedDualTensor(primal, tangent)


def detach_dual(t):
    """``t.detach()`` that keeps ``t``'s tangents (for transforms that detach results at the
    end, so a forward-mode transform around them still sees the tangent)."""
    out = t.detach()
    if "_fw" in t.__dict__:
        out._fw = t._fw
    return out


def propagate(op, args: tuple, out) -> None:
    """Give ``out`` (the result of ``op`` on ``args``; a tuple for a several-output op) its
    tangents at every active level where an input has one (NOTE [Levels])."""
    from ember._tensor import Tensor

    if op.backward is None and op.jvp is None:
        return
    fws = [a.__dict__.get("_fw") if isinstance(a, Tensor) else None for a in args[:op.nin]]
    if not any(fws):
        return
    active = levels[:]
    for k, level in enumerate(active):
        tangents = [None if fw is None else fw.get(level) for fw in fws]
        if all(t is None for t in tangents):
            continue
        levels[:] = active[:k]  # the rule's own ops carry the outer levels' tangents only
        try:
            if op.jvp is not None:
                found = op.jvp(args, tangents)
            elif op.view and not op.multi:
                # NOTE [Tangents of views]: the same view of the tangent, sharing its
                # memory, so an in-place op through the view reaches the base's tangent.
                from ember._ops.registry import run

                found = run(op, tangents[0], *args[1:])
            else:
                found = _tangent_by_double_vjp(op, args, tangents, out)
                found = [_own(f, tangents) for f in found] if op.multi else \
                    _own(found, tangents)
        finally:
            levels[:] = active
        if op.multi:
            for o, tangent in zip(out, found):
                if tangent is not None:
                    o._fw = {**o.__dict__.get("_fw", {}), level: tangent}
        elif found is not None:
            out._fw = {**out.__dict__.get("_fw", {}), level: found}
    _save_result_tangents(op, out)


def _own(tangent, inputs: list):
    """``tangent``, copied if it is (a view of) an input's tangent: only a view's tangent
    may share memory with its input's, since in-place ops write tangents in place."""
    if tangent is None:
        return None
    import numpy as np

    data = tangent._data
    if any(t is not None and np.may_share_memory(data, t._data) for t in inputs):
        return tangent.clone()
    return tangent


def write_inplace(target, out) -> None:
    """An in-place op made ``out`` to be written into ``target``: as torch does, each
    tangent ``target`` has is overwritten in place by ``out``'s (zeros where ``out`` has
    none at that level), so views of ``target`` see it (NOTE [Tangents of views]).
    A tangent that records a graph, is batched (vmap: ``_data`` holds one sample), or whose
    memory cannot be written, is replaced."""
    old = target.__dict__.get("_fw") or {}
    new = out.__dict__.get("_fw") or {}
    merged = dict(new)
    for level, t_old in old.items():
        t_new = new.get(level)
        data = t_old._data
        if (t_new is not None and (t_new._requires_grad or "_phys" in t_new.__dict__)) \
                or t_old._requires_grad or "_phys" in t_old.__dict__ \
                or not data.flags.writeable:
            if t_new is None:
                from ember._ops.creation import zeros_like

                t_new = zeros_like(t_old)
            merged[level] = t_new
        else:
            data[...] = 0 if t_new is None else t_new._data
            merged[level] = t_old
    target._fw = merged


def _save_result_tangents(op, out) -> None:
    """NOTE [Saved outputs keep their tangents]: a node that saved its output rebuilds it
    from the raw data when backward runs (graph.OpNode._unpack_result); the node keeps the
    output's tangents too, so a backward formula run under a dual level (forward over
    reverse: ``jacfwd(jacrev(f))``, ``hessian``) reads the tangent of ``result``. When that
    tangent records a graph through this very node, node and tangent form a reference
    cycle, freed by Python's collector rather than at once."""
    first = out[0] if op.multi else out
    node = first._grad_fn
    if node is None or getattr(node, "_result", None) is None:
        return
    if op.multi:
        node._extras()["fw"] = [o.__dict__.get("_fw") for o in out]
    else:
        node._extras()["fw"] = out.__dict__.get("_fw")


def _tangent_by_double_vjp(op, args: tuple, tangents: list, out):
    """``J t`` as the vjp of the backward formulas' vjp; for a several-output op, one
    tangent per output (zeros for a differentiable output no input reaches, None for the
    others: indices, counts)."""
    from ember._ops.creation import zeros, zeros_like
    from ember._tensor import Tensor
    from ember.autograd import grad
    from ember.autograd.grad_mode import enable_grad, state
    from ember.autograd.graph import fit_gradient

    outs = out if op.multi else (out,)
    n_diff = 1 if not op.multi else len(outs) if op.multi is True else op.multi
    if not outs[0].dtype.is_floating_point and not outs[0].dtype.is_complex:
        return [None] * len(outs) if op.multi else None  # no tangent for integer results
    # NOTE [Tangents are ember tensors]: record the tangent's graph when someone may
    # differentiate it; otherwise work on detached stand-ins (they keep outer tangents).
    keep_graph = state.enabled and (
        any(isinstance(a, Tensor) and a._requires_grad for a in args[:op.nin])
        or any(t is not None and t._requires_grad for t in tangents))
    if keep_graph:
        # Copies, as the formulas save what they read, and an in-place op (``sin_``) is
        # about to overwrite its input: the tangent's graph must keep the values it saw.
        inputs = tuple(a.clone() if isinstance(a, Tensor) else a for a in args)
        results = outs
    else:
        inputs = tuple(detach_dual(a) if isinstance(a, Tensor) else a for a in args)
        results = tuple(detach_dual(o) for o in outs)
    extra = () if not op.save_result else (results,) if op.multi else results
    totals = [None] * n_diff
    with enable_grad():
        ws = [zeros(tuple(o.shape), dtype=o.dtype, requires_grad=True) for o in outs[:n_diff]]
        # Formulas written as for real numbers are conjugated around for complex values,
        # as the node does (NOTE [Complex gradients] in graph.py).
        conjugate = op.real_formulas and any(w._data.dtype.kind == "c" for w in ws)
        if conjugate:
            seed = [w.conj() for w in ws] if op.multi else ws[0].conj()
        else:
            seed = ws if op.multi else ws[0]
        for i, t in enumerate(tangents):
            formula = op.backward[i]
            if t is None or formula is None:
                continue
            if hasattr(formula, "not_implemented"):
                raise NotImplementedError(f"Trying to use forward AD with "
                                          f"aten::{formula.not_implemented} that does not "
                                          "support it.")
            g = formula(seed, *inputs, *extra)
            if conjugate and g is not None:
                g = g.conj()
            if g is None or not g._requires_grad:  # a constant gradient: zero tangent
                continue
            a = args[i]
            g = fit_gradient(g, (a._data.shape, a._data.dtype))
            found = grad(g, ws, t.to(g.dtype), create_graph=keep_graph, allow_unused=True)
            for j, jt in enumerate(found):
                if jt is not None:
                    totals[j] = jt if totals[j] is None else totals[j] + jt
    # torch gives every differentiable output a tangent, zeros where no input reaches it
    totals = [zeros_like(o) if jt is None else jt for o, jt in zip(outs, totals)]
    return totals + [None] * (len(outs) - n_diff) if op.multi else totals[0]


def not_supported(name: str):
    """The ``jvp`` rule of an op torch has no forward derivative for (``unique``): running
    it raises torch's error."""
    def rule(args: tuple, tangents: list):
        raise NotImplementedError(
            f"Trying to use forward AD with {name} that does not support it because it has not "
            "been implemented yet.\nPlease file an issue to PyTorch at "
            "https://github.com/pytorch/pytorch/issues/new?template=feature-request.yml so "
            "that we can prioritize its implementation or submit a PR adding the "
            "implementation to derivatives.yaml")
    return rule
