"""Forward-mode AD: mirrors ``torch.autograd.forward_ad`` (``dual_level``, ``make_dual``,
``unpack_dual``, ``enter_dual_level``, ``exit_dual_level``).

A dual tensor carries a tangent. Every op that runs on dual inputs gives its output the
tangent ``J t``, computed from the op's own backward formulas, which are linear in the
incoming gradient: ``J t`` is the gradient of ``<formula(w), t>`` with respect to ``w``
(the vjp of the vjp). So each op's tangent rule is the same record as its backward rule,
and every op with a backward formula has one. An op may also give a direct rule in its
record's ``jvp`` slot, used when present.
"""
from __future__ import annotations

from collections import namedtuple

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "Mirrors ``torch.autograd.forward_ad.UnpackedDualTensor``."

# The active dual levels, innermost last; the op runner reads this list's truth on every op.
levels: list = []
_next_level = [0]


def enter_dual_level() -> int:
    """Mirrors ``forward_ad.enter_dual_level``."""
    level = _next_level[0]
    _next_level[0] += 1
    levels.append(level)
    return level


def exit_dual_level(*, level: int | None = None) -> None:
    """Mirrors ``forward_ad.exit_dual_level``: tangents of that level are gone after it."""
    if not levels or (level is not None and level != levels[-1]):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                           "that was created. This is not supported.")
    levels.pop()


class dual_level:
    """Mirrors ``forward_ad.dual_level``: a context manager for one forward-AD level."""

    def __enter__(self) -> int:
        self.level = enter_dual_level()
        return self.level

    def __exit__(self, *exc) -> None:
        exit_dual_level(level=self.level)


def make_dual(tensor, tangent, *, level: int | None = None):
    """Mirrors ``forward_ad.make_dual``: a view of ``tensor`` carrying ``tangent``."""
    if not levels:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}.")
    dual = tensor.view_as(tensor)
    dual._fw = (levels[-1] if level is None else level, tangent.detach())
    return dual


def tangent_of(t):
    """The tangent ``t`` carries at the innermost active level, or None."""
    fw = t.__dict__.get("_fw") if hasattr(t, "__dict__") else None
    if fw is None or not levels or fw[0] != levels[-1]:
        return None
    return fw[1]


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """Mirrors ``forward_ad.unpack_dual``: (primal, tangent or None)."""
    tangent = tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = tensor.view_as(tensor)
    del primal._fw  # the view op passed the tangent on; the primal carries none
    return UnpackedDualTensor(primal, tangent)


def detach_dual(t):
    """``t.detach()`` that keeps ``t``'s tangent (for transforms that detach results at the
    end, so a forward-mode transform around them still sees the tangent)."""
    out = t.detach()
    if "_fw" in t.__dict__:
        out._fw = t._fw
    return out


def propagate(op, args: tuple, out) -> None:
    """Give ``out`` (the result of ``op`` on ``args``) its tangent, if any input has one."""
    from ember._tensor import Tensor

    tangents = [tangent_of(a) if isinstance(a, Tensor) else None for a in args[:op.nin]]
    if all(t is None for t in tangents) or op.backward is None:
        return
    if op.multi:
        raise RuntimeError(
            f"ember: forward-mode AD through {op.name} (an op with several outputs) is not "
            "supported yet")
    active = levels[:]
    levels.clear()  # the tangent computation itself is plain (no tangents of tangents)
    try:
        tangent = op.jvp(args, tangents) if op.jvp is not None else \
            _tangent_by_double_vjp(op, args, tangents, out)
    finally:
        levels[:] = active
    if tangent is not None:
        out._fw = (levels[-1], tangent)


def _tangent_by_double_vjp(op, args: tuple, tangents: list, out):
    from ember._ops.creation import zeros
    from ember._tensor import Tensor
    from ember.autograd import grad
    from ember.autograd.grad_mode import enable_grad
    from ember.autograd.graph import fit_gradient

    plain = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
    extra = (out.detach(),) if op.save_result else ()
    total = None
    with enable_grad():
        w = zeros(tuple(out.shape), dtype=out.dtype, requires_grad=True)
        for i, t in enumerate(tangents):
            formula = op.backward[i]
            if t is None or formula is None:
                continue
            g = formula(w, *plain, *extra)
            if g is None or not g.requires_grad:  # a constant gradient: zero tangent
                total = total if total is not None else zeros(tuple(out.shape), dtype=out.dtype)
                continue
            g = fit_gradient(g, (args[i]._data.shape, args[i]._data.dtype))
            (jt,) = grad(g, w, t.to(g.dtype), allow_unused=True)
            if jt is not None:
                total = jt if total is None else total + jt
    return None if total is None else total.detach()
