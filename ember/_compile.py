"""``ember.compile``: trace one call of a function into a straight-line program of array calls.

NOTE [Compiled programs]
A compiled function runs its first calls eagerly under a tracer, an op mode (NOTE [Op modes]
in ``_ops/registry.py``) that writes down every op the call runs: the op's forward, which
earlier arrays feed it (with the casts ``run`` applied) and its constant parameters. Effects
that happen outside ``run`` are written down where they enter: the writes of in-place ops
(``registry.inplace`` announces its target through ``check_inplace``), ``.grad``
accumulation (``AccumulateGrad``) and assignment, and "opaque" calls that are recorded and
replayed by calling them again: optimizer steps and ``zero_grad``, learning-rate scheduler
steps, random draws and reseeding (so a replay draws from the generator exactly as the eager
call did). A replay then runs the forwards on NumPy arrays in order: no Tensor objects for
intermediates, no graph recording, no dispatch, no promotion logic.

Every array is a slot: the arrays of the tensors the function can reach before it runs
(arguments, tensors in its closure and globals, parameters, buffers and plain tensor
attributes of modules, the parameters of optimizers, tensors held by the user's objects
found there, and their ``.grad``), the outputs of ops, and constants (NOTE [Constants]).
Slots are arrays, not values: an in-place write is replayed into the same array at the same
point, so views and later readers see what they saw eagerly.

A program is used for a call only when the guard key matches: grad mode, default dtype, the
arguments' shapes, dtypes and ``requires_grad`` (other arguments by value), the identity,
shape, dtype, ``requires_grad``, ``.grad`` presence and hooks of every tensor reached,
every module's training flag, and the numbers, strings and object identities in the
closure, the globals the code loads and the containers walked (a changed learning rate in
a global traces anew, as torch's guards do). A key is traced twice before it is replayed:
the second trace must equal the first (same ops, same constants bit for bit), so a function
whose Python control flow or constants change from call to call stays eager. A call whose
Python code reads a traced value (``.item()``, ``bool()``, ``tolist()``, ``numpy()``, ...)
runs eagerly (with ``fullgraph=True`` it raises ``Unsupported``), as does anything the
tracer cannot replay: hooks, a graph kept past the call (an output that requires grad),
``create_graph``, other op modes (autocast, the profiler, vmap, forward AD), an array made
outside the op runner from values it cannot follow, a write it cannot explain (NOTE
[Unexplained writes]).

Returned tensors are rebuilt as eager made them: the same objects where they live on (an
argument, a parameter), else new tensors with the view links (``_base``) and version
counters eager gave them. Where ember differs from torch: Python side effects other than
the recorded ones (appending to a list, printing) happen on the tracing calls only, as with
``jax.jit``; checks that ember's ops make on tensor values with raw NumPy (e.g. class
indices in range) run on tracing calls only.
"""
from __future__ import annotations

import builtins
import dis
import functools
import itertools
import operator
import sys
import threading
import types

from ember import _dtype
from ember._backend import ndarray, np
from ember._ops import batching, pointwise, registry
from ember._tensor import Tensor, make
from ember.autograd import anomaly_mode, engine, forward_ad, grad_mode
from ember.autograd.graph import (
    AccumulateGrad,
    OpNode,
    Packed,
    _first_grad,
    fit_gradient,
    saved_hooks,
)

__all__ = ["compile", "Unsupported"]

# torch._dynamo.config.recompile_limit: traced guard sets kept per compiled function
RECOMPILE_LIMIT = 8


class Unsupported(RuntimeError):
    """Mirrors ``torch._dynamo.exc.Unsupported``: ``fullgraph=True`` met Python code that
    depends on a traced tensor's values."""


class _Abort(Exception):
    """The tracer met something it cannot replay: the call goes on eagerly."""


# ---- the program's steps ---------------------------------------------------------------
# Each step is a tuple whose first item says what it is; replay dispatches on it.
_OP, _MULTI, _WRITE, _ACC_NEW, _ACC_ADD, _SETGRAD, _OPAQUE, _FORMULA, _FILL = range(9)

_tls = threading.local()
_MUL_FORWARD = pointwise.MUL.forward


def _tracer():
    return getattr(_tls, "tracer", None)


class _Tracer(registry.OpMode):
    """Records one call (NOTE [Compiled programs])."""

    whole_formulas = True  # a formula on arrays is one step of the program
    follows_arrays = True

    def __init__(self, roots: list, fullgraph: bool, watched: list = ()) -> None:
        self.fullgraph = fullgraph
        self.watched = list(watched)  # tensors outside the roots whose writes are checked
        self.snap: list = []       # the watched tensors' state where the segment began
        self.seg_mark = 0          # the first step of the segment
        self.steps: list = []
        self.slots: dict = {}      # id(array) -> slot
        self.arrays: list = []     # slot -> array, alive until the trace ends (ids stay unique)
        self.consts: dict = {}     # slot -> the constant's value as first seen
        self.made: dict = {}       # id(array) -> (array, its values) of factory results
        self.sums: dict = {}       # op output slot -> hash of its bytes when made
        self.scratch: set = set()  # constants overwritten whole before any read
        self.nslots = 0
        self.passive = 0           # inside an opaque call: nothing is recorded
        self.backward = False
        self.formula = 0           # inside a node's backward formulas
        self.foreign = False       # a formula read an array made outside the op runner
        self.failed = None
        self.pending = None        # (target tensor, its version) of a running in-place op
        self.last_out = None       # (slot, array) of the last op's first output
        self.objs: dict = {}       # id(tensor) -> object index, for persistent tensors
        self.tensors: list = []    # object index -> tensor
        self.obj_vcs: dict = {}    # id(_vc list) -> object index
        self.nobjs = 0
        self.root_slots = []       # per root: (slot, object, grad slot, grad object)
        self.thread = threading.get_ident()
        for t in roots:
            slot = self._new_slot(t._data)
            obj = self._persist(t)
            grad = t._grad
            gslot = gobj = None
            if grad is not None:
                gslot = self._new_slot(grad._data)
                gobj = self._persist(grad)
            self.root_slots.append((slot, obj, gslot, gobj))
        self.root_ids = {id(t) for t in roots}
        self.snapshot()

    # ---- bookkeeping --------------------------------------------------------------------
    def _new_slot(self, array) -> int:
        slot = self.nslots
        self.nslots += 1
        self.slots[id(array)] = slot
        self.arrays.append(array)
        return slot

    def _persist(self, t: Tensor) -> int:
        index = self.objs.get(id(t))
        if index is None:
            index = self.objs[id(t)] = self.nobjs
            self.nobjs += 1
            self.obj_vcs.setdefault(id(t._vc), index)
            self.tensors.append(t)
        return index

    def fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason

    def active(self) -> bool:
        return self.failed is None and not self.passive

    def known(self, t: Tensor) -> bool:
        return id(t._data) in self.slots

    def ref(self, value, seed: bool = False):
        """The slot of an array (or a tensor's array); a new constant for an unknown one
        (NOTE [Constants])."""
        array = value._data if isinstance(value, Tensor) else value
        slot = self.slots.get(id(array))
        if slot is not None:
            return slot
        base = array.base
        while base is not None:
            if id(base) in self.slots:  # a view made outside the op runner
                raise _Abort("a view of a traced array made outside the op runner")
            base = getattr(base, "base", None)
        if self.formula:  # a formula computing with raw arrays: it is replayed whole
            self.foreign = True
        elif self.backward:  # e.g. a copy kept by an in-place op: its values are not constant
            raise _Abort("an array made outside the op runner feeds the backward pass")
        elif not (seed and array.dtype.kind != "b" and bool((array == 1).all())):
            made = self.made.get(id(array))
            if made is None or made[0] is not array or not _same_bits(array, made[1]):
                raise _Abort("an array made outside the op runner from values the tracer "
                             "cannot follow")
        slot = self._new_slot(array)
        self.consts[slot] = array.copy()
        return slot

    # NOTE [Constants]
    # An array that no op made and no root holds is a constant of the program, baked in at
    # its first value. That is right only for values that follow from the guarded
    # arguments: those of the factories (``zeros``, ``arange``, ``tensor`` of Python data,
    # ...), which the tracer watches (``made``), and the ones that seed a backward pass. Any
    # other array (computed with raw NumPy from a traced value, a NumPy array shared with
    # the user, a factory result written since) makes the call eager: its values could
    # differ at the next call while the guards still match.
    def factory_made(self, t) -> None:
        if isinstance(t, Tensor):
            data = t._data
            self.made[id(data)] = (data, data.copy())

    # ---- writes made outside the recorded steps ------------------------------------------
    # NOTE [Unexplained writes]
    # Code that is not an op can write a tensor's array directly (running statistics,
    # embedding renorm, an optimizer's raw update, user code through ``_data``). The tracer
    # cannot replay what it did not see, so it checks instead: the call is cut into segments
    # at each opaque call (which replays by calling again, so its writes need no
    # explanation); at each cut every tensor the call can reach (the roots, their gradients,
    # optimizer state) is compared with its copy from the segment's start. A tensor whose
    # bytes, version counter, array or ``.grad`` moved must be accounted for by the
    # segment's recorded steps, or the guard set stays eager.
    def snapshot(self) -> None:
        self.seg_mark = len(self.steps)
        seen = set()
        snap = []
        for t in self.tensors + self.watched:
            if id(t) in seen:
                continue
            seen.add(id(t))
            data = t._data
            snap.append((t, data, data.copy(), t._vc[0], t._grad))
        self.snap = snap

    def verify_results(self) -> None:
        """At the end of the call: the arrays ops made hold what they made, or what the
        recorded writes put there (NOTE [Unexplained writes]; those sharing memory with
        the roots were checked segment by segment)."""
        roots = {id(t._data) for t in self.tensors}
        written = []
        for step in self.steps:
            kind = step[0]
            if kind == _WRITE or kind == _FILL:
                written.append(self.arrays[step[2]])
            elif kind == _OPAQUE:
                written.extend(self.arrays[v] for how, v in step[2]
                               if how in (_ARG_TENSOR, _ARG_ARRAY))
        for slot, digest in self.sums.items():
            array = self.arrays[slot]
            base = array
            while base is not None and id(base) not in roots:
                base = getattr(base, "base", None)
            if base is not None or hash(array.tobytes()) == digest:
                continue
            if not any(w is array or np.shares_memory(w, array) for w in written):
                raise _Abort("an op's result was written outside the op runner")

    def verify(self) -> None:
        """Check the segment that ends here (NOTE [Unexplained writes])."""
        written = []
        bumps: dict = {}
        regrad = set()
        for step in self.steps[self.seg_mark:]:
            kind = step[0]
            if kind == _WRITE or kind == _FILL:
                written.append(self.arrays[step[2]])
                bumps[step[3]] = bumps.get(step[3], 0) + 1
            elif kind == _ACC_ADD:
                written.append(self.tensors[step[3]]._data)
                bumps[step[3]] = bumps.get(step[3], 0) + 1
            elif kind in (_ACC_NEW, _SETGRAD):
                regrad.add(step[1])
        for t, data, copy, version, grad in self.snap:
            if t._data is not data:
                raise _Abort("a tensor's array was replaced outside the op runner")
            index = self.obj_vcs.get(id(t._vc))
            if t._vc[0] - version != (0 if index is None else bumps.get(index, 0)):
                raise _Abort("a version counter moved outside the op runner")
            if t._grad is not grad and self.objs.get(id(t)) not in regrad:
                raise _Abort("a .grad was replaced outside the recorded steps")
            if not _same_bits(data, copy) and not any(
                    w is data or np.shares_memory(w, data) for w in written):
                raise _Abort("a tensor was written outside the op runner")

    # ---- ops ------------------------------------------------------------------------------
    def run_op(self, op, args):
        if not self.active() or threading.get_ident() != self.thread:
            return self.proceed(op, args)
        try:
            self.settle()
            dyn = self._inputs(op, args)
        except _Abort as e:
            self.fail(str(e))
            return self.proceed(op, args)
        out, calls = self.proceed_watched(op, args, self.thread)
        try:
            self._record(op, args, dyn, calls, out)
        except _Abort as e:
            self.fail(str(e))
        return out

    def _inputs(self, op, args) -> list:
        if op.forward is None:
            raise _Abort(f"{op.name} has no forward")
        dyn = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if i >= op.nin:
                    raise _Abort(f"{op.name} takes a tensor parameter")
                dyn.append((i, self.ref(a)))
            elif isinstance(a, ndarray):
                dyn.append((i, self.ref(a)))
            elif isinstance(a, (tuple, list)) and any(
                    isinstance(b, (Tensor, ndarray)) for b in a):
                raise _Abort(f"{op.name} takes tensors in a sequence")
        return dyn

    def _record(self, op, args, dyn, calls, out) -> None:
        try:
            fn, base, inputs, raw = registry.forward_record(op, args, dyn, calls)
        except registry.Unrecordable as e:
            raise _Abort(str(e)) from None
        if op.multi:
            outs = tuple(self._new_slot(t._data) for t in out)
            self.steps.append((_MULTI, fn, base, inputs, outs))
            self.last_out = (outs[0], out[0]._data) if outs else None
            for slot, t in zip(outs, out):
                self.sums[slot] = hash(t._data.tobytes())
        else:
            data = out._data
            slot = self._new_slot(data)
            # whether ``run`` cast the forward's result (the same at replay: dtypes are guarded)
            # and whether it made an array of the result (a ufunc on 0-d arrays gives a
            # NumPy scalar): both follow from the guarded shapes and dtypes
            cast = np.asarray(raw).dtype != data.dtype
            self.steps.append((_OP, fn, base, inputs, slot, data.dtype if cast else None,
                               type(raw) is not ndarray))
            self.sums[slot] = hash(data.tobytes())
            self.last_out = (slot, data)

    def settle(self) -> None:
        """Record the write of the in-place op announced last (``inplace`` wrote the last
        op's output into its target), after checking that is what happened."""
        if self.pending is None:
            return
        target, version = self.pending
        if target._vc[0] == version:
            return  # not written yet (its op is running), or the op raised
        self.pending = None
        if target._vc[0] != version + 1 or self.last_out is None:
            raise _Abort("an in-place write the tracer cannot follow")
        src, value = self.last_out
        data = target._data
        if value.shape != data.shape or not _same_bits(data, value.astype(data.dtype)):
            raise _Abort("an in-place write the tracer cannot follow")
        dst = self.slots.get(id(data))
        if dst is None:
            dst = self._scratch(data)
        self.steps.append((_WRITE, src, dst, self.obj_vcs.get(id(target._vc))))

    def _scratch(self, array) -> int:
        # an array made outside the op runner and overwritten whole before any read: a
        # fresh empty array of its layout for each replay
        if not array.flags.c_contiguous:
            raise _Abort("a non-contiguous array made outside the op runner is written")
        slot = self._new_slot(array)
        self.consts[slot] = np.empty_like(array)
        self.scratch.add(slot)
        return slot

    # ---- effects outside the op runner -------------------------------------------------
    def accumulate(self, node, grads):
        var = node._variable()
        if var is None or grads[0] is None:
            return None
        if id(var) not in self.root_ids:
            raise _Abort("a gradient for a leaf made inside the call")
        if var._hooks is not None or var._post_hooks is not None:
            raise _Abort("a leaf with gradient hooks")
        if grad_mode.state.enabled:
            raise _Abort("backward with create_graph=True")
        src = self.ref(grads[0])
        leaf = self.objs[id(var)]
        if var._grad is None:
            self.steps.append((_ACC_NEW, leaf, src, None))
            return "new"
        grad = self.objs.get(id(var._grad))
        if grad is None:
            raise _Abort("a .grad the tracer did not see made")
        if self.obj_vcs.get(id(var._grad._vc)) != grad:
            raise _Abort("a .grad that shares its version counter")
        self.steps.append((_ACC_ADD, leaf, src, grad))
        return "add"

    def formula_replaced(self, node, grad, mark: int, slot_mark: int, out: list) -> None:
        """A node whose formulas built arrays outside the op runner: its recorded steps
        give way to one step that runs the formulas again at replay."""
        del self.steps[mark:]
        for key in [k for k, v in self.slots.items() if v >= slot_mark]:
            del self.slots[key]
        for slot in [s for s in self.consts if s >= slot_mark]:
            del self.consts[slot]
        self.scratch = {s for s in self.scratch if s < slot_mark}
        args = node._args
        if node._extra is not None or not isinstance(args, tuple) \
                or any(type(a) is Packed for a in args):
            raise _Abort(f"{node.name()}'s formulas build arrays outside the op runner")
        spec = tuple((_ARG_TENSOR, self.ref(a)) if isinstance(a, Tensor) else
                     (_ARG_ARRAY, self.ref(a)) if isinstance(a, ndarray) else (_ARG_CONST, a)
                     for a in args)
        saved = node._result
        if saved is None:
            result = None
        elif type(saved) is tuple:
            result = self.ref(saved[0])
        elif type(saved) is list and all(e is None or type(e) is tuple for e in saved):
            # None: an output the node does not keep (registry's saved_outputs)
            result = [None if e is None else self.ref(e[0]) for e in saved]
        else:
            raise _Abort(f"{node.name()}'s formulas build arrays outside the op runner")
        if isinstance(grad, list):
            grads = [None if g is None else self.ref(g) for g in grad]
        else:
            grads = self.ref(grad)
        edges = tuple(nxt is not None for nxt, _ in node.next_functions)
        outs = tuple(None if g is None else self._new_slot(g._data) for g in out)
        self.steps.append((_FORMULA, node._op, grads, spec, result, edges, node._meta, outs))

    def accumulated_new(self, var) -> None:
        grad = var._grad
        slot = self._new_slot(grad._data)
        index = self._persist(grad)
        kind, leaf, src, _ = self.steps[-1]
        self.steps[-1] = (kind, leaf, src, (slot, index))

    def set_grad(self, t: Tensor, value) -> None:
        if id(t) not in self.root_ids:
            raise _Abort(".grad set on a tensor made inside the call")
        if value is None:
            self.steps.append((_SETGRAD, self.objs[id(t)], None, None))
            return
        if not isinstance(value, Tensor) or not self.known(value):
            raise _Abort(".grad set to an array made outside the op runner")
        if id(value) in self.objs:
            raise _Abort(".grad set to a tensor that lives on")
        self.steps.append((_SETGRAD, self.objs[id(t)], self.ref(value), self._persist(value)))

    def opaque(self, fn, args: tuple, kwargs: dict, short: str):
        """Record ``fn(*args, **kwargs)`` (reached as the attribute ``short``) to be called
        again at replay, tensors passed as the same objects when they live on, else by slot,
        and run it now without recording what it does inside. The writes it makes need no
        explanation (NOTE [Unexplained writes]): the segment before it is checked, and a new
        one starts after it. Raises ``_Abort`` only before ``fn`` runs."""
        name = getattr(fn, "__qualname__", short)
        self.settle()
        self.verify()
        if short in _FILLS and not self.known(args[0]):
            self._scratch(args[0]._data)
        if short in ("zero_", "fill_") and self._fill(args, kwargs, short):
            self.passive += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.passive -= 1
        spec = []
        for a in args:
            if isinstance(a, Tensor):
                obj = self.objs.get(id(a))
                spec.append((_ARG_OBJ, obj) if obj is not None else (_ARG_TENSOR, self.ref(a)))
            elif isinstance(a, ndarray):
                if id(a) not in self.slots:
                    raise _Abort(f"{name} called with an array made outside the op runner")
                spec.append((_ARG_ARRAY, self.slots[id(a)]))
            elif _holds_code_or_tensors(a):
                raise _Abort(f"{name} called with {type(a).__name__}")
            else:
                spec.append((_ARG_CONST, a))
        if any(_holds_code_or_tensors(v) for v in kwargs.values()):
            raise _Abort(f"{name} called with a tensor or a function")
        before = [(t, t._data) for t in self.tensors]
        self.passive += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.passive -= 1
        for t, data in before:
            if t._data is not data:
                self.fail(f"{name} replaced a tensor's array")
        out = None
        if isinstance(result, Tensor):
            slot = self.slots.get(id(result._data))
            if slot is None:
                slot = self._new_slot(result._data)
            out = (slot, self.objs.get(id(result)))
        elif result is not None and not isinstance(result, (int, float, bool)):
            self.fail(f"{name} returned {type(result).__name__}")
        self.steps.append((_OPAQUE, fn, tuple(spec), kwargs, out))
        self.snapshot()
        return result

    def _fill(self, args: tuple, kwargs: dict, name: str) -> bool:
        """Record ``t.zero_()``/``t.fill_(number)`` that records no graph as an array fill
        (with the version bump the eager call makes); False when it is not one."""
        target = args[0]
        if name == "zero_":
            if len(args) != 1 or kwargs:
                return False
            value = 0
        elif len(args) == 2 and not kwargs:
            value = args[1]
        else:
            return False
        if type(value) not in (bool, int, float) or type(target) is not Tensor or (
                target._requires_grad and grad_mode.state.enabled) or "_fw" in target.__dict__:
            return False
        # the eager call is ``array.fill(value)`` and one version bump
        self.steps.append((_FILL, None, self.ref(target), self.obj_vcs.get(id(target._vc)),
                           value))
        return True


_ARG_CONST, _ARG_TENSOR, _ARG_OBJ, _ARG_ARRAY = range(4)


# the random in-place methods: each overwrites its whole tensor
_FILLS = frozenset(("uniform_", "normal_", "random_", "exponential_", "bernoulli_",
                    "geometric_", "cauchy_", "log_normal_", "zero_", "fill_"))


def _holds_code_or_tensors(value) -> bool:
    if isinstance(value, (Tensor, ndarray, types.FunctionType, types.MethodType,
                          functools.partial, types.LambdaType)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_code_or_tensors(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_code_or_tensors(v) for v in value.values())
    return False


def _same_bits(a, b) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(np.ascontiguousarray(a).view(np.uint8),
                                   np.ascontiguousarray(b).view(np.uint8)))
    return bool(np.array_equal(a, b))


# ---- patches active while some thread traces --------------------------------------------
_patch_lock = threading.Lock()
_patch_count = 0
_originals: list = []


def _data_read(name: str):
    def patched(self, *args, **kwargs):
        tracer = _tracer()
        if tracer is not None and tracer.active() and tracer.known(self):
            if tracer.fullgraph:
                raise Unsupported(
                    f"Data-dependent branching: Tensor.{name}() reads a traced tensor's "
                    "values; the compiled function's control flow depends on them")
            tracer.fail(f"Tensor.{name}() on a traced value")
        return original(self, *args, **kwargs)

    original = getattr(Tensor, name)
    patched.__name__ = name
    return patched


def _refused(name: str):
    def patched(self, *args, **kwargs):
        tracer = _tracer()
        if tracer is not None and tracer.active():
            tracer.fail(f"Tensor.{name} inside a compiled call")
        return original(self, *args, **kwargs)

    original = getattr(Tensor, name)
    return patched


def _opaque_patch(original, attribute: str):
    def patched(*args, **kwargs):
        tracer = _tracer()
        if tracer is None or not tracer.active():
            return original(*args, **kwargs)
        try:
            return tracer.opaque(original, args, kwargs, attribute)
        except _Abort as e:
            tracer.fail(str(e))
            if tracer.passive:
                raise
            return original(*args, **kwargs)

    functools.update_wrapper(patched, original)
    return patched


def _property_patch(prop, record):
    def setter(self, value):
        tracer = _tracer()
        if tracer is not None and tracer.active():
            try:
                tracer.settle()
                record(tracer, self, value)
            except _Abort as e:
                tracer.fail(str(e))
        prop.fset(self, value)

    return property(prop.fget, setter, prop.fdel, prop.__doc__)


def _record_grad(tracer, t, value):
    tracer.set_grad(t, value)


def _refuse_setter(name):
    def record(tracer, t, value):
        if tracer.known(t):
            tracer.fail(f"Tensor.{name} set inside a compiled call")
    return record


def _accumulate_patch(original):
    def apply(self, grads):
        tracer = _tracer()
        if tracer is None or not tracer.active():
            return original(self, grads)
        try:
            tracer.settle()
            kind = tracer.accumulate(self, grads)
        except _Abort as e:
            tracer.fail(str(e))
            return original(self, grads)
        out = original(self, grads)
        if kind == "new":
            tracer.accumulated_new(self._variable())
        return out

    return apply


def _formula_patch(original):
    def _apply(self, grad):
        tracer = _tracer()
        if tracer is None or not tracer.active():
            return original(self, grad)
        try:
            tracer.settle()
        except _Abort as e:
            tracer.fail(str(e))
            return original(self, grad)
        mark, slot_mark = len(tracer.steps), tracer.nslots
        tracer.formula += 1
        try:
            out = original(self, grad)
        finally:
            tracer.formula -= 1
        if not tracer.formula and any(g is not None and not tracer.known(g) for g in out):
            tracer.foreign = True  # a gradient made outside the op runner
        if tracer.foreign and not tracer.formula:
            tracer.foreign = False
            try:
                tracer.formula_replaced(self, grad, mark, slot_mark, out)
            except _Abort as e:
                tracer.fail(str(e))
        return out

    return _apply


def _execute_patch(original):
    def execute(roots, grads, retain_graph, create_graph, targets=None, accumulate=True):
        tracer = _tracer()
        if tracer is None or not tracer.active():
            return original(roots, grads, retain_graph, create_graph, targets, accumulate)
        try:
            tracer.settle()
            if create_graph:
                raise _Abort("backward with create_graph=True")
            if targets is not None:
                raise _Abort("autograd.grad or backward(inputs=...)")
            for g in grads:
                tracer.ref(g, seed=True)  # an implicit seed (ones) is a constant
        except _Abort as e:
            tracer.fail(str(e))
            return original(roots, grads, retain_graph, create_graph, targets, accumulate)
        tracer.backward = True
        try:
            return original(roots, grads, retain_graph, create_graph, targets, accumulate)
        finally:
            tracer.backward = False

    return execute


def _check_inplace_patch(original):
    def check_inplace(target):
        original(target)
        tracer = _tracer()
        if tracer is not None and tracer.active():
            try:
                tracer.settle()
            except _Abort as e:
                tracer.fail(str(e))
            tracer.pending = (target, target._vc[0])
            tracer.last_out = None

    return check_inplace


_DATA_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__",
               "__complex__", "__array__")
_REFUSED = ("register_hook", "retain_grad", "register_post_accumulate_grad_hook", "detach_")
# random draws, and the fills that write without an op when nothing is recorded
_RANDOM_METHODS = ("uniform_", "normal_", "random_", "exponential_", "bernoulli_",
                   "geometric_", "cauchy_", "log_normal_", "bernoulli", "multinomial",
                   "zero_", "fill_")
_RANDOM_FUNCTIONS = ("rand", "randn", "randint", "randperm", "rand_like", "randn_like",
                     "randint_like", "bernoulli", "multinomial", "normal", "poisson",
                     "manual_seed", "seed", "set_rng_state")


def _factory_patch(original, like: bool):
    """A factory whose result counts as a constant (NOTE [Constants]) when its arguments
    hold no tensor or array (but for the one a ``*_like``/``new_*`` factory takes its
    shape and dtype from)."""
    def patched(*args, **kwargs):
        result = original(*args, **kwargs)
        tracer = _tracer()
        if tracer is not None and tracer.active() and not _holds_code_or_tensors(
                (args[1:] if like else args, kwargs)):
            tracer.factory_made(result)
        return result

    functools.update_wrapper(patched, original)
    return patched


_FACTORIES = ("zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye",
              "scalar_tensor", "tril_indices", "triu_indices", "tensor")
_LIKE_FACTORIES = ("zeros_like", "ones_like", "empty_like", "full_like")
_NEW_FACTORIES = ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor")


def _patches() -> list:
    """(owner, attribute, replacement) for every entry point the tracer watches."""

    import ember
    from ember._ops import random as random_ops

    out = [(registry, "check_inplace", _check_inplace_patch(registry.check_inplace)),
           (engine, "execute", _execute_patch(engine.execute)),
           (AccumulateGrad, "apply", _accumulate_patch(AccumulateGrad.apply)),
           (OpNode, "_apply", _formula_patch(OpNode._apply)),
           (Tensor, "grad", _property_patch(Tensor.grad, _record_grad)),
           (Tensor, "requires_grad",
            _property_patch(Tensor.requires_grad, _refuse_setter("requires_grad"))),
           (Tensor, "data", _property_patch(Tensor.data, _refuse_setter("data")))]
    from ember._ops import creation

    # the public functions may be wrappers (``out=``) of the module's: both are watched,
    # and the helper that zeros/ones/full/empty and their ``_like`` forms share, which code
    # that imported those functions by name reaches too
    out.append((creation, "_factory", _factory_patch(creation._factory, False)))
    for name, like in [(n, False) for n in _FACTORIES] + [(n, True) for n in _LIKE_FACTORIES]:
        out.append((creation, name, _factory_patch(getattr(creation, name), like)))
        if name in ember.__dict__:
            out.append((ember, name, _factory_patch(ember.__dict__[name], like)))
    out += [(Tensor, name, _factory_patch(getattr(Tensor, name), True))
            for name in _NEW_FACTORIES]
    out += [(Tensor, name, _data_read(name)) for name in _DATA_READS]
    out += [(Tensor, name, _refused(name)) for name in _REFUSED]
    out += [(Tensor, name, _opaque_patch(getattr(Tensor, name), name))
            for name in _RANDOM_METHODS]
    for name in _RANDOM_FUNCTIONS:
        out.append((random_ops, name, _opaque_patch(getattr(random_ops, name), name)))
        if name in ember.__dict__:
            out.append((ember, name, _opaque_patch(ember.__dict__[name], name)))
    optim = sys.modules.get("ember.optim.optimizer")
    if optim is not None:
        stack = [optim.Optimizer]
        while stack:
            cls = stack.pop()
            stack.extend(cls.__subclasses__())
            for name in ("step", "zero_grad"):
                if name in cls.__dict__:
                    out.append((cls, name, _opaque_patch(cls.__dict__[name], name)))
    sched = sys.modules.get("ember.optim.lr_scheduler")
    if sched is not None:
        stack = [sched.LRScheduler, getattr(sched, "ReduceLROnPlateau", object)]
        while stack:
            cls = stack.pop()
            if cls is object:
                continue
            stack.extend(cls.__subclasses__())
            if "step" in cls.__dict__:
                out.append((cls, "step", _opaque_patch(cls.__dict__["step"], "step")))
    norm = sys.modules.get("ember.nn._functional.normalization")
    if norm is not None:  # running statistics are written with raw arrays
        out.append((norm, "_update_running",
                    _opaque_patch(norm._update_running, "_update_running")))
    module = sys.modules.get("ember.nn.modules.module")
    if module is not None:
        out.append((module.Module, "zero_grad", _opaque_patch(module.Module.zero_grad,
                                                                  "zero_grad")))
    return out


def _install() -> None:
    global _patch_count
    with _patch_lock:
        if _patch_count == 0:
            for owner, name, replacement in _patches():
                _originals.append((owner, name, owner.__dict__[name]))
                setattr(owner, name, replacement)
        _patch_count += 1


def _uninstall() -> None:
    global _patch_count
    with _patch_lock:
        _patch_count -= 1
        if _patch_count == 0:
            for owner, name, original in reversed(_originals):
                setattr(owner, name, original)
            _originals.clear()


# ---- roots and guards -------------------------------------------------------------------


# NOTE [Guard snapshots]
# Every call checks that the containers a reach was walked from still hold what they held
# (its stamp). Computing the stamp token by token costs a Python call per value: 80 us of
# W4's compiled step, 120 us of W8's. So a reach also keeps a snapshot, the very objects its
# sources held (which keeps them alive, so an identity cannot be a dead object's reused
# one), and each call first compares those identities: the live dict views' and lists'
# contents in C loops (``map``/``all``), the closure cells and globals in one written-out
# expression (``_identity_check``: 0.1 us for the seed cell's two cells, where the loops'
# set-up alone took 0.7 us); a few microseconds for a model. Only when some
# object differs is the stamp computed; if it is still equal (a value replaced by an equal
# number, say) the snapshot is retaken and the reach kept, else the function is walked
# again. The stamp enters the guard key wrapped with its hash computed once (``_StampKey``):
# hashing the tuple on every lookup would cost another pass over it.


class _StampKey:
    """A stamp in a guard key: its hash computed once; equal stamps are equal keys."""

    __slots__ = ("tokens", "hash")

    def __init__(self, tokens: tuple) -> None:
        self.tokens = tokens
        self.hash = hash(tokens)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other) -> bool:
        return type(other) is _StampKey and (self.tokens is other.tokens
                                             or self.tokens == other.tokens)


class _Reach:
    """What a function reaches before a call: its tensors (in a fixed order), modules and
    optimizers, and the containers they were found in (``sources``), whose contents' ids
    make a stamp that tells cheaply whether a new walk would find the same (checked first
    by identity against a snapshot: NOTE [Guard snapshots])."""

    def __init__(self) -> None:
        self.tensors: dict = {}
        self.modules: dict = {}
        self.optimizers: dict = {}
        self.sources: list = []
        self.held: list = []  # the values a stamp has the id of
        self.stamp_key = None  # the stamp (``tokens``) with its hash
        self.same = None  # the snapshot's identity check (None: an empty closure cell)

    def add(self, t: Tensor) -> None:
        self.tensors.setdefault(id(t), t)

    def compute_stamp(self) -> tuple:
        return tuple([_stamp(kind, obj) for kind, obj in self.sources])

    def set_stamp(self, stamp: tuple) -> None:
        self.stamp_key = _StampKey(stamp)
        self.take_snapshot()

    def take_snapshot(self) -> None:
        """The objects the sources hold now (NOTE [Guard snapshots])."""
        views: list = []
        cells: list = []
        spaces: list = []
        names: list = []
        for kind, obj in self.sources:
            if kind == "dict":
                views.append(obj.values())  # a live view: it shows later changes
            elif kind == "list":
                views.append(obj)
            else:
                fn, fn_names = obj
                cells.extend(fn.__closure__ or ())
                spaces.extend([fn.__globals__] * len(fn_names))
                names.extend(fn_names)
        # the same global of one namespace read by several functions is compared once
        pairs = dict(zip(zip(map(id, spaces), names), spaces))
        spaces, names = list(pairs.values()), [name for _, name in pairs]
        self.views = views
        self.lengths = list(map(len, views))
        # a container empty now has nothing to compare while its length stays 0
        self.held_views = [view for view in views if len(view)]
        self.view_values = list(itertools.chain.from_iterable(self.held_views))
        try:
            values = [cell.cell_contents for cell in cells]
        except ValueError:  # an empty cell: the stamp alone decides
            self.same = None
            return
        values += map(dict.get, spaces, names)
        self.same = _identity_check(len(cells), len(spaces))(*cells, *spaces, *names, *values)

    def unchanged(self) -> bool:
        """Whether the sources still hold the stamp's values: the very objects of the
        snapshot, or (the stamp computed) values equal to the stamp's, the snapshot then
        retaken."""
        same = self.same
        if same is not None:
            views = self.views
            try:
                if same() and (not views or list(map(len, views)) == self.lengths and all(
                        map(operator.is_, itertools.chain.from_iterable(self.held_views),
                            self.view_values))):
                    return True
            except ValueError:  # a cell emptied since
                pass
        if self.compute_stamp() != self.stamp_key.tokens:
            return False
        self.take_snapshot()
        return True


_IDENTITY_CHECKS: dict = {}


def _identity_check(ncells: int, nglobals: int):
    """A maker of the function that tells whether ``ncells`` closure cells and ``nglobals``
    (namespace, name) pairs still hold the objects given: its comparisons written out, as
    one expression (a Python loop over a few values costs more than the values' checks)."""
    maker = _IDENTITY_CHECKS.get((ncells, nglobals))
    if maker is None:
        cells = [f"c{i}" for i in range(ncells)]
        spaces = [f"g{i}" for i in range(nglobals)]
        names = [f"n{i}" for i in range(nglobals)]
        values = [f"v{i}" for i in range(ncells + nglobals)]
        tests = [f"c{i}.cell_contents is v{i}" for i in range(ncells)] + [
            f"g{i}.get(n{i}) is v{ncells + i}" for i in range(nglobals)]
        source = (f"def make({', '.join(cells + spaces + names + values)}):\n"
                  f"    def same():\n        return {' and '.join(tests) or 'True'}\n"
                  "    return same\n")
        namespace: dict = {}
        exec(builtins.compile(source, "<ember.compile guard>", "exec"), namespace)  # noqa: S102
        maker = _IDENTITY_CHECKS[(ncells, nglobals)] = namespace["make"]
    return maker


def _stamp(kind: str, obj) -> tuple:
    if kind == "dict":
        return tuple(map(_token, obj.values()))
    if kind == "list":
        return tuple(map(_token, obj))
    fn, names = obj
    cells = ()
    closure = fn.__closure__
    if closure:
        try:
            cells = tuple([_token(cell.cell_contents) for cell in closure])
        except ValueError:  # an empty cell
            cells = tuple([_token(_cell_value(cell)) for cell in closure])
    if not names:
        return cells
    return cells, tuple(map(_token, map(fn.__globals__.get, names)))


def _token(value):
    """What a stamp keeps of a value: a number or string itself (a program may have baked
    it in, and a new one may reuse a dead one's id), any other object's id (the reach keeps
    the containers, modules and tensors it found alive)."""
    kind = type(value)
    if kind is float:
        return value.hex()  # tells -0.0 from 0.0, and nan equals itself
    if kind in _PLAIN:
        return value
    return id(value)


_PLAIN = frozenset((int, bool, str, bytes, complex, type(None)))


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _walk(obj, reach: _Reach, depth: int = 0) -> None:
    """Collect the tensors (and modules, optimizers) reachable from ``obj`` before a call."""
    if isinstance(obj, Tensor):
        reach.add(obj)
        return
    if depth > 4 or isinstance(obj, (str, bytes, int, float, complex, bool, type,
                                      types.ModuleType)) or obj is None:
        return
    params = getattr(obj, "_parameters", None)
    if isinstance(params, dict) and hasattr(obj, "_modules"):
        if id(obj) in reach.modules:
            return
        reach.modules[id(obj)] = obj
        attributes = obj.__dict__
        reach.held.extend(attributes.values())
        for d in (params, obj._buffers, attributes):
            reach.sources.append(("dict", d))
            for t in d.values():
                if isinstance(t, Tensor):
                    reach.add(t)
        # the hook tables (a hook added later traces anew), this module's and the global ones
        hooks = [v for k, v in attributes.items() if "hooks" in k and isinstance(v, dict)]
        if len(reach.modules) == 1:
            table = sys.modules["ember.nn.modules.module"].__dict__
            hooks += [v for k, v in table.items() if k.startswith("_global_")
                      and isinstance(v, dict)]
        reach.sources.extend(("dict", d) for d in hooks)
        reach.sources.append(("dict", obj._modules))
        for m in obj._modules.values():
            if m is not None:
                _walk(m, reach, depth)
        return
    groups = getattr(obj, "param_groups", None)
    if isinstance(groups, list) and hasattr(obj, "state"):
        reach.optimizers[id(obj)] = obj
        reach.sources.append(("list", groups))
        reach.held.extend(groups)
        for group in groups:
            reach.sources.append(("list", group["params"]))
            for t in group["params"]:
                reach.add(t)
        return
    if isinstance(obj, (list, tuple)):
        if type(obj) is list:
            reach.sources.append(("list", obj))
            reach.held.extend(obj)
        for v in obj:
            _walk(v, reach, depth + 1)
    elif isinstance(obj, dict):
        reach.sources.append(("dict", obj))
        reach.held.extend(obj.values())
        for v in obj.values():
            _walk(v, reach, depth + 1)
    elif isinstance(obj, (types.FunctionType, types.MethodType, functools.partial)):
        _walk_function(obj, reach, depth + 1)
    elif hasattr(obj, "optimizer") and hasattr(obj, "last_epoch"):  # an lr scheduler
        _walk(obj.optimizer, reach, depth + 1)
    elif isinstance(getattr(obj, "__dict__", None), dict) and not callable(obj):
        # an object of the user's (a trainer holding a model and an optimizer, a config)
        attributes = obj.__dict__
        reach.sources.append(("dict", attributes))
        reach.held.extend(attributes.values())
        for v in attributes.values():
            _walk(v, reach, depth + 1)


_NAMES: dict = {}  # code object -> the global names it and its nested code may read


def _global_names(fn) -> tuple:
    """The names ``fn``'s code (and the code nested in it) loads as globals."""
    names = _NAMES.get(fn.__code__)
    if names is None:
        found = set()
        stack = [fn.__code__]
        while stack:
            code = stack.pop()
            found.update(i.argval for i in dis.get_instructions(code)
                         if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        names = _NAMES[fn.__code__] = tuple(sorted(found))
    return names


def _walk_function(fn, reach: _Reach, depth: int) -> None:
    if isinstance(fn, types.MethodType):
        _walk(fn.__self__, reach, depth)
        fn = fn.__func__
    if isinstance(fn, functools.partial):
        _walk(fn.args, reach, depth)
        _walk(fn.keywords, reach, depth)
        fn = fn.func
    if not isinstance(fn, types.FunctionType):
        return
    names = _global_names(fn)
    reach.sources.append(("fn", (fn, names)))
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        reach.held.append(value)
        _walk(value, reach, depth)
    namespace = fn.__globals__
    for name in names:
        value = namespace.get(name)
        reach.held.append(value)
        if value is not None and not isinstance(value, (types.ModuleType, type)):
            _walk(value, reach, depth)


def _state_tensors(optimizers) -> list:
    """The tensors of the optimizers' per-parameter state."""
    out = []
    for opt in optimizers:
        for state in opt.state.values():
            if isinstance(state, dict):
                out.extend(v for v in state.values() if isinstance(v, Tensor))
    return out


def _flatten_args(args, out: list, objects: list) -> tuple:
    """Tensors of ``args`` appended to ``out`` (other objects to ``objects``); the rest as a
    hashable guard value."""
    if isinstance(args, Tensor):
        out.append(args)
        return (Tensor,)
    if type(args) in (list, tuple):
        return (type(args), tuple(_flatten_args(a, out, objects) for a in args))
    if type(args) is dict:
        return (dict, tuple((k, _flatten_args(v, out, objects)) for k, v in args.items()))
    if args is None or isinstance(args, (bool, int, float, complex, str, bytes)):
        return (type(args), args)
    objects.append(args)
    return ("id", id(args))


# ---- replay ----------------------------------------------------------------------------
# NOTE [Specialised forwards]
# Some forwards choose a kernel by the dtype or the parameters they get (``_half_via``'s
# float32 detour for half types, pow's multiplied-out powers). Such a forward carries a
# ``specialize(xp, *args)`` that returns the function it would call for those arguments
# (with the same signature), and the tracer records that one: the guards fix the dtypes and
# the parameters are the program's constants, so the choice cannot change between replays.
# A replay saves the forward's own checks (0.3 us of the seed cell's cos, 0.4 us per power).

# NOTE [Generated replay]
# A program is replayed by one generated Python function: a straight line of forward calls
# on local variables (one per slot), with the constants, forwards and parameters bound as
# its globals, so a replay pays neither a dispatch loop nor tuple unpacking per step. The
# function takes the roots (the guard set fixes their order) and returns the call's result.


class _Program:
    """A finished trace: the generated replay function and its signature."""

    __slots__ = ("run", "signature", "source")


class _Namer:
    """The globals of a replay function: each value bound once, under a fresh name."""

    def __init__(self) -> None:
        self.names: dict = {"np": np, "ndarray": ndarray, "asarray": np.asarray, "make": make,
                            "_formulas": _formulas, "first_grad": _first_grad}
        self.ids: dict = {}
        self.keep: list = []  # what was bound, so the ids stay unique

    def __call__(self, value, prefix: str = "k") -> str:
        if type(value) in (int, bool, type(None)) and prefix == "k":
            return repr(value)
        key = (prefix, id(value))
        name = self.ids.get(key)
        if name is None:
            name = self.ids[key] = f"{prefix}{len(self.ids)}"
            self.names[name] = value
            self.keep.append(value)
        return name


def _generate(tracer: _Tracer, output, tables: list, fresh: set, template: dict,
              bind: _Namer) -> str:
    """The source of the replay function (NOTE [Generated replay])."""
    lines = ["def replay(roots):"]
    emit = lines.append
    nroots = len(tracer.root_slots)
    if nroots:
        emit(f"    {', '.join(f'o{obj}' for _, obj, _, _ in tracer.root_slots)},"
             " = roots")
    for slot, obj, gslot, gobj in tracer.root_slots:
        emit(f"    s{slot} = o{obj}._data")
        if gslot is not None:
            emit(f"    o{gobj} = o{obj}._grad")
            emit(f"    s{gslot} = o{gobj}._data")
    for slot, value in sorted(template.items()):
        const = bind(value, "c")
        emit(f"    s{slot} = {const}.copy()" if slot in fresh else f"    s{slot} = {const}")

    def arguments(base, inputs) -> str:
        parts = [bind(v) for v in base]
        for i, slot, cast in inputs:
            parts[i] = f"s{slot}" if cast is None else f"s{slot}.astype({bind(cast)})"
        return ", ".join(["np"] + parts)

    steps = _live(tracer.steps, [slot for slot, *_ in tables])
    units = _unit_products(tracer, steps, template, tables)
    stolen = _stolen_gradients(tracer, steps, units, tables)
    for index, step in enumerate(steps):
        kind = step[0]
        if kind == _OP:
            _, fn, base, inputs, out, cast, scalar = step
            if out in units:
                emit(f"    s{out} = s{units[out]}")
                continue
            emit(f"    s{out} = {bind(fn, 'f')}({arguments(base, inputs)})")
            if scalar:
                emit(f"    s{out} = asarray(s{out})")
            if cast is not None:
                emit(f"    s{out} = s{out}.astype({bind(cast)})")
        elif kind == _MULTI:
            _, fn, base, inputs, outs = step
            emit(f"    _r = {bind(fn, 'f')}({arguments(base, inputs)})")
            for i, slot in enumerate(outs):
                emit(f"    s{slot} = _r[{i}]")
                emit(f"    if type(s{slot}) is not ndarray: s{slot} = asarray(s{slot})")
        elif kind == _WRITE:
            _, src, dst, obj = step
            emit(f"    s{dst}[...] = s{src}")
            if obj is not None:
                emit(f"    o{obj}._vc[0] += 1")
        elif kind == _FILL:
            _, _, slot, obj, value = step
            emit(f"    s{slot}.fill({bind(value)})")
            if obj is not None:
                emit(f"    o{obj}._vc[0] += 1")
        elif kind == _ACC_NEW:
            _, leaf, src, (slot, obj) = step
            if index in stolen:  # NOTE [Stolen gradients at replay]
                emit(f"    o{obj} = o{leaf}._grad = make(s{src}, False, None, [0])")
                emit(f"    s{slot} = s{src}")
                continue
            # as AccumulateGrad lays a first gradient out (NOTE [Leaf gradient layout])
            emit(f"    o{obj} = o{leaf}._grad = make(first_grad(o{leaf}._data, s{src}), False, "
                 "None, [0])")
            emit(f"    s{slot} = o{obj}._data")
        elif kind == _ACC_ADD:  # AccumulateGrad's ``+=`` (NOTE [0-d accumulation])
            emit(f"    _g = o{step[1]}._grad")
            emit("    _d = _g._data")
            if tracer.arrays[step[2]].ndim:
                emit(f"    _d += s{step[2]}")
            else:
                emit(f"    _d[()] = _d + s{step[2]}")
            emit("    _g._vc[0] += 1")
        elif kind == _SETGRAD:
            _, obj, slot, value_obj = step
            if slot is None:
                emit(f"    o{obj}._grad = None")
            else:
                emit(f"    o{value_obj} = o{obj}._grad = make(s{slot})")
        elif kind == _FORMULA:
            _, op, grads, spec, result, edges, metas, outs = step
            args = [f"make(s{v})" if how == _ARG_TENSOR else f"s{v}" if how == _ARG_ARRAY
                    else bind(v) for how, v in spec]
            if type(result) is list:
                args.append("(" + "".join("None, " if v is None else f"make(s{v}), "
                                          for v in result) + ")")
            elif result is not None:
                args.append(f"make(s{result})")
            grad = "[" + ", ".join("None" if g is None else f"make(s{g})" for g in grads) + \
                "]" if type(grads) is list else f"make(s{grads})"
            emit(f"    _r = _formulas({bind(op)}, {grad}, ({''.join(a + ', ' for a in args)}), "
                 f"{bind(edges)}, {bind(metas)}, {bind(outs)})")
            for i, slot in enumerate(outs):
                if slot is not None:
                    emit(f"    s{slot} = _r[{i}]")
        else:
            _, fn, spec, kwargs, out = step
            args = []
            for how, v in spec:
                args.append(f"o{v}" if how == _ARG_OBJ else f"make(s{v})" if how == _ARG_TENSOR
                            else f"s{v}" if how == _ARG_ARRAY else bind(v))
            if kwargs:
                args.append(f"**{bind(kwargs)}")
            call = f"{bind(fn, 'f')}({', '.join(args)})"
            if out is None:
                emit(f"    {call}")
            else:
                slot, obj = out
                emit(f"    _r = {call}")
                emit(f"    s{slot} = _r._data")
                if obj is not None:
                    emit(f"    o{obj} = _r")
    for k, (slot, base, vc, version, extra) in enumerate(tables):
        counter = f"[{version}]" if vc is None else vc
        emit(f"    t{k} = make(s{slot}, False, None, {counter})")
        if base is not None:
            emit(f"    t{k}._base = {base}")
        for attr, value in extra:
            emit(f"    t{k}.{attr} = {value if isinstance(value, str) else bind(value)}")
    emit(f"    return {_output_expr(output, bind)}")
    return "\n".join(lines) + "\n"


# NOTE [Stolen gradients at replay]
# Eager AccumulateGrad stores a leaf's first gradient without a copy when nothing else can
# reach its memory (NOTE [Stealing a gradient]); the tracer's own references to every array
# keep that from happening while it traces, so a replay would copy each first gradient: 0.9
# MB a step for W4's MLP, a tenth of its time. The generator decides it from the program
# instead: a first gradient made by a step of this call (an op, a node's formulas) takes
# the array itself when the array already has the layout AccumulateGrad would give it, and
# no step after the accumulation reads or writes it or any array sharing its memory, and
# none of those arrays outlives the call (a root's, a constant, a returned tensor's, one
# handed to an opaque call, one replayed as another's array). The gradient then holds the
# only reference, as in eager.


def _stolen_gradients(tracer: _Tracer, steps: list, units: dict, tables: list) -> set:
    """The indices in ``steps`` of the first-gradient accumulations that can keep their
    incoming array (NOTE [Stolen gradients at replay])."""
    made = set()
    for step in steps:
        kind = step[0]
        if kind == _OP:
            made.add(step[4])
        elif kind == _MULTI:
            made.update(step[4])
        elif kind == _FORMULA:
            made.update(slot for slot in step[7] if slot is not None)
    last = {}  # slot -> the last step that names it
    kept = set(units) | set(units.values()) | {slot for slot, *_ in tables}
    for index, step in enumerate(steps):
        for slot in _step_slots(step):
            last[slot] = index
        if step[0] == _OPAQUE or step[0] == _SETGRAD:
            kept.update(_step_slots(step))
    stolen = set()
    for index, step in enumerate(steps):
        if step[0] != _ACC_NEW:
            continue
        _, leaf, src, (slot, _) = step
        array = tracer.arrays[src]
        if src not in made or src in kept or last.get(src, index) > index or \
                not array.flags.writeable:
            continue
        leaf_array = tracer.tensors[leaf]._data
        if _first_grad(leaf_array, array).strides != array.strides:
            continue
        if all(other == src or other == slot or not np.may_share_memory(other_array, array)
               or (other in made and other not in kept and last.get(other, -1) < index)
               for other, other_array in enumerate(tracer.arrays)):
            stolen.add(index)
    return stolen


def _step_slots(step) -> list:
    """The slots a step reads or writes."""
    kind = step[0]
    if kind == _OP:
        return [slot for _, slot, _ in step[3]] + [step[4]]
    if kind == _MULTI:
        return [slot for _, slot, _ in step[3]] + list(step[4])
    if kind == _WRITE:
        return [step[1], step[2]]
    if kind == _FILL:
        return [step[2]]
    if kind == _ACC_NEW:
        return [step[2], step[3][0]]
    if kind == _ACC_ADD:
        return [step[2]]
    if kind == _SETGRAD:
        return [] if step[2] is None else [step[2]]
    if kind == _FORMULA:
        grads, spec, result = step[2], step[3], step[4]
        out = [v for how, v in spec if how in (_ARG_TENSOR, _ARG_ARRAY)]
        out += grads if type(grads) is list else [grads]
        out += result if type(result) is list else [result]
        return [v for v in out + list(step[7]) if v is not None]
    out = [v for how, v in step[2] if how in (_ARG_TENSOR, _ARG_ARRAY)]
    return out + ([] if step[4] is None else [step[4][0]])


def _unit_products(tracer: _Tracer, steps: list, template: dict, tables: list) -> dict:
    """{slot: slot it equals}: the products by a constant of ones (a backward's seed times
    the first formula's factor) whose result is the other factor bit for bit (a real dtype,
    the other factor's shape and dtype), replayed as that array. Only between op results no
    step writes and no returned tensor holds, so sharing the array changes nothing a
    replay or its caller can see."""
    written = {step[2] for step in steps if step[0] == _WRITE or step[0] == _FILL}
    made = set()
    returned = {slot for slot, *_ in tables}
    units = {}
    for step in steps:
        if step[0] == _MULTI:
            made.update(step[4])
        if step[0] != _OP:
            continue
        _, fn, _, inputs, out, cast, _ = step
        made.add(out)
        if fn is not _MUL_FORWARD or cast is not None or len(inputs) != 2 \
                or out in written or out in returned:
            continue
        (_, first, first_cast), (_, second, second_cast) = inputs
        if first_cast is not None or second_cast is not None:
            continue
        result = tracer.arrays[out]
        for ones, other in ((first, second), (second, first)):
            value = template.get(ones)
            factor = tracer.arrays[other]
            if value is not None and other in made and other not in written \
                    and result.dtype.kind in "iuf" and value.dtype == result.dtype \
                    and factor.dtype == result.dtype and factor.shape == result.shape \
                    and bool(np.all(value == 1)):
                units[out] = units.get(other, other)
                break
    return units


def _live(steps: list, needed: list) -> list:
    """The steps without the ops whose results nothing reads (a forward is a function of
    its arguments: dropping an unread one changes nothing the call leaves behind)."""
    live = set(needed)
    kept = []
    for step in reversed(steps):
        kind = step[0]
        if kind == _OP or kind == _MULTI or kind == _FORMULA:
            outs = (step[4],) if kind == _OP else step[4] if kind == _MULTI else step[7]
            if not any(slot in live for slot in outs):
                continue
            if kind == _FORMULA:
                live.update(step[2] if type(step[2]) is list else (step[2],))
                live.update(v for how, v in step[3] if how != _ARG_CONST)
                live.update(step[4] if type(step[4]) is list else (step[4],))
            else:
                live.update(slot for _, slot, _ in step[3])
        elif kind == _WRITE:
            live.update(step[1:3])
        elif kind == _FILL:
            live.add(step[2])
        elif kind == _ACC_NEW or kind == _ACC_ADD or kind == _SETGRAD:
            if step[2] is not None:
                live.add(step[2])
        else:
            live.update(v for how, v in step[2] if how in (_ARG_TENSOR, _ARG_ARRAY))
        kept.append(step)
    kept.reverse()
    return kept


def _output_expr(spec, bind) -> str:
    kind = spec[0]
    if kind == "tensor":
        return spec[1]
    if kind == "const":
        return bind(spec[1])
    items = [_output_expr(s, bind) for s in spec[2]]
    if kind == "dict":
        return "{" + ", ".join(f"{bind(k)}: {v}" for k, v in zip(spec[1], items)) + "}"
    if spec[1] is tuple:
        return "(" + "".join(f"{v}, " for v in items) + ")"
    return "[" + ", ".join(items) + "]"


def _formulas(op, grad, args: tuple, edges: tuple, metas: tuple, outs: tuple) -> list:
    """A node's backward formulas run again at replay, as the engine runs them (no grad)."""
    state = grad_mode.state
    enabled = state.enabled
    state.enabled = False
    out = [None] * len(outs)
    try:
        for i, (fn, edge, meta, slot) in enumerate(zip(op.backward, edges, metas, outs)):
            if edge and fn is not None and slot is not None:
                out[i] = fit_gradient(fn(grad, *args), meta)._data
    finally:
        state.enabled = enabled
    return out


class _Unreplayable(Exception):
    pass


class _Outputs:
    """The tensors a call returns, as the replay rebuilds them: persistent objects by
    reference, others anew with the view links (``_base``, ``_view_src``) and version
    counters eager gave them."""

    def __init__(self, tracer: _Tracer, bind: _Namer) -> None:
        self.tracer = tracer
        self.bind = bind
        self.table: list = []   # (slot, base expr, counter expr, version, extra attributes)
        self.names: dict = {}   # id(tensor) -> its expression in the replay
        self.keep: list = []    # the traced tensors, so their ids stay unique
        self.counters: dict = {}

    def tensor(self, t: Tensor) -> str:
        name = self.names.get(id(t))
        if name is not None:
            return name
        tracer = self.tracer
        obj = tracer.objs.get(id(t))
        if obj is not None:
            return f"o{obj}"
        if t._requires_grad:
            raise _Unreplayable("an output keeps a graph for a later backward")
        slot = tracer.slots.get(id(t._data))
        if slot is None:
            if t._base is not None:
                raise _Unreplayable("an output view made outside the op runner")
            try:  # made by code that is not an op (``zeros``): a constant, as any other
                slot = tracer.ref(t)
            except _Abort as e:
                raise _Unreplayable(str(e)) from None
        if set(t.__dict__) - {"_base", "_view_src", "_output_nr"}:
            raise _Unreplayable("an output with attributes the replay does not rebuild")
        base = None if t._base is None else self.tensor(t._base)
        extra = []
        if "_view_src" in t.__dict__:
            op, parent, params, index, version = t._view_src
            if _holds_code_or_tensors(params):
                raise _Unreplayable("an output view made with tensor parameters")
            extra.append(("_view_src", f"({self.bind(op)}, {self.tensor(parent)}, "
                                       f"{self.bind(params)}, {index!r}, {version!r})"))
        if "_output_nr" in t.__dict__:
            extra.append(("_output_nr", repr(t._output_nr)))
        vc_obj = tracer.obj_vcs.get(id(t._vc))
        if vc_obj is not None:
            counter = f"o{vc_obj}._vc"
        else:
            counter = self.counters.get(id(t._vc))
        k = len(self.table)
        self.table.append((slot, base, counter, t._vc[0], extra))
        self.counters.setdefault(id(t._vc), f"t{k}._vc")
        self.keep.append(t)
        name = self.names[id(t)] = f"t{k}"
        return name

    def spec(self, value):
        if isinstance(value, Tensor):
            return ("tensor", self.tensor(value))
        if type(value) in (list, tuple):
            return ("seq", type(value), [self.spec(v) for v in value])
        if type(value) is dict:
            return ("dict", list(value), [self.spec(v) for v in value.values()])
        if value is None or isinstance(value, (bool, int, float, str)):
            return ("const", value)
        raise _Unreplayable(f"an output of type {type(value).__name__}")


def _escaping(tracer: _Tracer, outputs: _Outputs) -> list:
    """Arrays that outlive a step's use or are written: a constant sharing memory with one
    is copied for each replay."""
    arrays = [tracer.arrays[s] for s, *_ in outputs.table]
    for step in tracer.steps:
        kind = step[0]
        if kind == _WRITE or kind == _FILL:
            arrays.append(tracer.arrays[step[2]])
        elif kind == _SETGRAD and step[2] is not None:
            arrays.append(tracer.arrays[step[2]])
        elif kind == _OPAQUE:
            arrays.extend(tracer.arrays[v] for how, v in step[2]
                          if how in (_ARG_TENSOR, _ARG_ARRAY))
    return arrays


def _finish(tracer: _Tracer, roots: list, result) -> _Program:
    if tracer.failed:
        raise _Unreplayable(tracer.failed)
    bind = _Namer()
    outputs = _Outputs(tracer, bind)
    output = outputs.spec(result)
    escaping = _escaping(tracer, outputs)
    template = {}
    fresh = set()
    for slot, value in tracer.consts.items():
        template[slot] = value
        traced = tracer.arrays[slot]
        if slot in tracer.scratch or any(np.may_share_memory(traced, w) for w in escaping):
            fresh.add(slot)
    source = _generate(tracer, output, outputs.table, fresh, template, bind)
    namespace = dict(bind.names)
    exec(builtins.compile(source, "<ember.compile replay>", "exec"), namespace)  # noqa: S102
    program = _Program()
    program.run = namespace["replay"]
    program.source = source
    program.signature = _signature(tracer) + [_comparable(output), outputs.table]
    return program


def _signature(tracer: _Tracer) -> list:
    """What two traces of one key must share to be the same program: the steps with their
    constants' bits."""
    sig = []
    for step in tracer.steps:
        sig.append(step[:1] + tuple(_comparable(v) for v in step[1:]))
    consts = sorted((slot, value) for slot, value in tracer.consts.items()
                    if slot not in tracer.scratch)
    return [sig, [(s, v.dtype, v.shape, v.tobytes()) for s, v in consts]]


def _comparable(value):
    if isinstance(value, ndarray):
        return ("array", value.dtype, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _comparable(v)) for k, v in value.items())
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return ("fn", getattr(value, "__func__", value), id(getattr(value, "__self__", None)))
    return value


def _same_signature(a, b) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


# ---- the compiled callable ---------------------------------------------------------------


class _Compiled:
    """The per-function state: the guard cache and the tracing/replay driver."""

    def __init__(self, fn, fullgraph: bool, recompile_limit: int | None) -> None:
        self.fn = fn
        self.fullgraph = fullgraph
        self.limit = RECOMPILE_LIMIT if recompile_limit is None else recompile_limit
        self.cache: dict = {}
        self.warned = False
        self.last_reach: _Reach | None = None
        self.reason = None  # why the last guard set stays eager

    def reach(self, objects: list) -> _Reach:
        """What the function reaches through its closure, globals, module and the modules
        or optimizers among its arguments; walked again only when its stamp moved."""
        reach = self.last_reach
        ids = list(map(id, objects)) if objects else []
        if reach is not None and reach.ids == ids and reach.unchanged():
            return reach
        reach = _Reach()
        if _is_module(self.fn):
            _walk(self.fn, reach)
        else:
            _walk_function(self.fn, reach, 0)
        for obj in objects:
            _walk(obj, reach)
        reach.objects = objects  # alive, so the ids stay theirs
        reach.ids = ids
        reach.roots = list(reach.tensors.values())
        reach.module_list = list(reach.modules.values())
        reach.set_stamp(reach.compute_stamp())
        self.last_reach = reach
        return reach

    def key(self, args, kwargs) -> tuple:
        """The guard key of a call (NOTE [Compiled programs]), the tensors the program
        takes (its roots) and what the function reaches."""
        arg_tensors: list = []
        objects: list = []
        if args or kwargs:
            shape = _flatten_args((args, kwargs), arg_tensors, objects)
            metas = tuple([(t._data.shape, t._data.dtype, t._data.strides, t._requires_grad,
                            t._grad is None, t._grad_fn is None) for t in arg_tensors])
        else:
            shape = metas = ()
        reach = self.reach(objects)
        roots = reach.roots
        key = (grad_mode.state.enabled, _dtype._default[0], shape, metas,
               tuple([(id(t), (d := t._data).shape, d.dtype, d.strides,
                       t._requires_grad, t._grad is None,
                       t._hooks is None and t._post_hooks is None, t._grad_fn is None)
                      for t in roots]),
               tuple([m.training for m in reach.module_list]), reach.stamp_key)
        if arg_tensors:
            roots = _unique(arg_tensors + roots)
        return key, roots, reach

    def __call__(self, *args, **kwargs):
        if registry._modes or batching.levels or forward_ad.levels or saved_hooks or \
                anomaly_mode.state[0] or getattr(_tls, "tracer", None) is not None:
            return self.fn(*args, **kwargs)
        key, roots, reach = self.key(args, kwargs)
        entry = self.cache.get(key)
        if entry is None:
            if len(self.cache) >= self.limit:
                if not self.warned:
                    self.warned = True
                    import logging  # only here: importing it costs ``import ember`` time

                    logging.getLogger("ember._dynamo").warning(
                        "ember._dynamo hit config.recompile_limit (%d): the function runs "
                        "eagerly for guard sets not yet compiled", self.limit)
                return self.fn(*args, **kwargs)
            result, program = self.trace(roots, reach, args, kwargs)
            # the entry keeps the reach, so no id in the key can be a dead object's reused
            self.cache[key] = ("pending", program, reach)
            return result
        state, program, _ = entry
        if state == "ready":
            return program.run(roots)
        if state == "eager":
            return self.fn(*args, **kwargs)
        result, second = self.trace(roots, reach, args, kwargs)
        if program is not None and second is not None and _same_signature(
                program.signature, second.signature):
            self.cache[key] = ("ready", second, reach)
        else:
            if program is not None and second is not None:
                self.reason = "the second trace differs from the first"
            self.cache[key] = ("eager", self.reason, reach)
        return result

    def trace(self, roots: list, reach: _Reach, args, kwargs):
        tracer = _Tracer(roots, self.fullgraph, _state_tensors(reach.optimizers.values()))
        _install()
        registry.push_mode(tracer)
        _tls.tracer = tracer
        try:
            result = self.fn(*args, **kwargs)
            try:
                tracer.settle()
                tracer.verify()
                tracer.verify_results()
            except _Abort as e:
                tracer.fail(str(e))
        finally:
            _tls.tracer = None
            registry.pop_mode(tracer)
            _uninstall()
        try:
            program = _finish(tracer, roots, result)
        except _Unreplayable as e:
            self.reason = str(e)
            program = None
        return result, program


def _unique(tensors: list) -> list:
    seen = set()
    out = []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _is_module(obj) -> bool:
    return hasattr(obj, "_parameters") and hasattr(obj, "_modules") and callable(obj)


_OptimizedModule = None


def _optimized_module_class():
    global _OptimizedModule
    if _OptimizedModule is None:
        from ember.nn import Module

        class OptimizedModule(Module):
            """Mirrors ``torch._dynamo.eval_frame.OptimizedModule``: wraps a module
            (``_orig_mod``) whose calls run compiled; attributes are the module's."""

            def __init__(self, mod, compiled) -> None:
                super().__init__()
                self._orig_mod = mod
                object.__setattr__(self, "_compiled_call", compiled)

            def __call__(self, *args, **kwargs):
                return self._compiled_call(*args, **kwargs)

            forward = __call__

            def __getattr__(self, name: str):
                if name == "_orig_mod":
                    return self._modules["_orig_mod"]
                return getattr(self._modules["_orig_mod"], name)

            def __reduce__(self):
                # as torch's: a pickle holds the module and the options, and loading it
                # compiles the module anew (traced programs are not kept)
                compiled = self._compiled_call
                return (compile_callable, (self._orig_mod, compiled.fullgraph, compiled.limit))

        OptimizedModule.__module__ = "ember._dynamo.eval_frame"
        OptimizedModule.__qualname__ = "OptimizedModule"
        _OptimizedModule = OptimizedModule
    return _OptimizedModule


def __getattr__(name: str):
    if name == "OptimizedModule":
        return _optimized_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile_callable(model, fullgraph: bool, recompile_limit: int | None):
    """``model`` (a function or a module) compiled: what ``ember.compile`` returns once it
    has checked torch's arguments (ember/_runtime.py; NOTE [Compiled programs]).

    A function comes back wrapped (``__wrapped__`` is the original); a module comes back as
    an ``OptimizedModule`` (``_orig_mod`` is the original) whose calls are compiled. Each new
    guard set is traced on two eager calls, then replayed as a program of array calls with
    results, gradients, optimizer states and random draws identical to eager ember's.
    ``fullgraph=True`` raises ``Unsupported`` when the function's Python code reads a traced
    tensor's values; otherwise such a call runs eagerly. ``recompile_limit`` (default 8,
    torch's ``config.recompile_limit``) bounds the guard sets kept; past it new guard sets
    run eagerly.
    """
    compiled = _Compiled(model, fullgraph, recompile_limit)
    if _is_module(model):
        return _optimized_module_class()(model, compiled)

    @functools.wraps(model)
    def run_compiled(*args, **kwargs):
        return compiled(*args, **kwargs)

    run_compiled._compiled = compiled
    return run_compiled

