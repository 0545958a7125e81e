"""Formula programs: a backward formula traced once per signature into a straight line of
forward calls on arrays, and replayed in later backward passes.

NOTE [Formula programs]
A backward formula is ember ops on tensors (``grad * (exponent * self.pow(exponent - 1))``),
so that ``create_graph`` records it and vmap and forward mode see through it. Without them,
each of those ops still pays the op runner (promotion, dispatch, a Tensor per result: about
1.2 us on top of NumPy's 0.4 us), three times for pow's gradient. When nothing watches the
ops (no ``create_graph``, no op mode such as the profiler, autocast or compile's tracer, no
vmap or forward-mode level), a formula of an op whose family is audited for it (below) runs
as a program instead: the second call with a given signature (the formula, the dtypes and
shapes of the gradient and the saved tensors, the saved numbers; a signature met once may
never come back, and a trace costs more than the formula) runs the formula eagerly under a
recorder, an op mode that writes down each op's forward with the arrays ``run``
handed it (its casts) and its constant parameters; later calls with that signature run the
generated straight line of those forward calls on the arrays. The forwards are the same
functions as eager's, so the values, dtypes and layouts are the same bit for bit, and the
errors a forward raises on values are raised by the replay too; the checks ``run`` makes
before a forward depend on dtypes and shapes, which the signature fixes.

A signature stays eager (the recorder says so, once) when its formula does anything the
replay would not repeat: an array made outside the op runner (a factory, raw NumPy), an
in-place write (a version counter moved), a result that is one of its inputs or a view (eager
gives a view its base), an op with several outputs, inputs that are one array twice (the
replay could not tell which is which). A formula whose Python code branched on tensor values
would replay the branch it took: the families listed in registry's ``_REPLAYED_FAMILIES``
are those whose formulas branch only on dtypes, shapes and saved numbers.
"""
from __future__ import annotations

import math
import threading

from ember import _dtype
from ember._backend import ndarray, np
from ember._ops import registry
from ember._tensor import Tensor, make

_programs: dict = {}   # signature -> replay function, _SEEN or _EAGER
_LIMIT = 4096          # signatures kept; past it new ones stay eager
_SEEN = object()       # met once: traced when met again
_direct: set = set()   # formulas that run no op: called as they are
_EAGER = object()
_tracing = threading.Lock()
enabled = True         # tests compare against eager formulas by switching this off


def call(op, fn, grad, args: tuple):
    """``fn(grad, *args)``, one of ``op``'s formulas, through its program when the signature
    has one (the caller has checked that nothing watches the ops)."""
    key = _signature(fn, grad, args) if enabled and fn not in _direct else None
    if key is None:
        return fn(grad, *args)
    program = _programs.get(key)
    if program is None:  # a first sighting: a signature seen once may never come back
        if len(_programs) < _LIMIT:
            _programs[key] = _SEEN
        return fn(grad, *args)
    if program is _SEEN:
        return _trace(op, fn, grad, args, key)
    if program is _EAGER:
        return fn(grad, *args)
    return make(program(grad._data, args), False, None, [0])  # as ``run`` makes it


def _signature(fn, grad, args: tuple):
    """The formula with what decides its ops: dtypes and shapes of the arrays, types and
    values of the rest (a float zero with its sign, which equality ignores); None for an
    argument that cannot be keyed (nan, which equals nothing; an unhashable value)."""
    data = grad._data
    # the default dtype decides what an integer input computes in
    key = [fn, _dtype._default[0], data.dtype, data.shape]
    for a in args:
        kind = type(a)
        if kind is Tensor:
            a = a._data
            key.append(a.dtype)
            key.append(a.shape)
        elif a is None:
            key.append(None)
        elif kind is int or kind is bool or kind is str:
            key.append(kind)
            key.append(a)
        elif kind is float:
            if a != a:
                return None
            key.append(kind)
            key.append(a if a else math.copysign(1.0, a))
        elif kind is tuple and all(type(v) is int for v in a):
            key.append(kind)
            key.append(a)
        elif kind is ndarray:
            key.append(kind)
            key.append(a.dtype)
            key.append(a.shape)
        else:
            return None
    return tuple(key)


def _trace(op, fn, grad, args: tuple, key):
    # One trace at a time: the recorder is an op mode of the whole process and wraps op
    # forwards in place. A formula that meets another thread's trace runs eagerly.
    if not _tracing.acquire(blocking=False):
        return fn(grad, *args)
    try:
        recorder = _Recorder(grad, args)
        registry.push_mode(recorder)
        try:
            result = fn(grad, *args)
        finally:
            registry.pop_mode(recorder)
        _programs[key] = recorder.finish(result)
        if not recorder.failed and not recorder.steps:
            # a formula that runs no op (it hands on the gradient) has nothing to replay: it
            # is called directly from now on, and an op whose formulas are all such no
            # longer asks
            _direct.add(fn)
            if all(f is None or f in _direct for f in op.backward):
                op.replayed = False
    finally:
        _tracing.release()
    return result


class _Abandon(Exception):
    pass


class _Recorder(registry.OpMode):
    """Writes down the ops of one formula call (NOTE [Formula programs])."""

    def __init__(self, grad, args: tuple) -> None:
        self.thread = threading.get_ident()
        self.failed = False
        self.slots: dict = {}    # id(array) -> slot
        self.arrays: list = []   # slot -> array, alive until the trace ends (ids stay unique)
        self.views: set = set()  # slots made by view ops
        self.steps: list = []
        self.made: list = []     # the tensors the ops returned
        self.inputs = []         # (tensor, its version) of the tensor arguments
        self.loads = []          # (slot, argument index, whether a tensor) of the arguments
        self._slot(grad._data)
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                self.inputs.append((a, a._vc[0]))
                self._argument(a._data, i, True)
            elif isinstance(a, ndarray):
                self._argument(a, i, False)

    def _slot(self, array) -> int:
        slot = len(self.arrays)
        self.arrays.append(array)
        self.slots[id(array)] = slot
        return slot

    def _argument(self, array, index: int, tensor: bool) -> None:
        if id(array) in self.slots:  # one array twice: the replay could not tell which
            self.failed = True
            return
        self.loads.append((self._slot(array), index, tensor))

    def run_op(self, op, args):
        if self.failed or threading.get_ident() != self.thread:
            return self.proceed(op, args)
        try:
            inputs = self._inputs(op, args)
        except _Abandon:
            self.failed = True
            return self.proceed(op, args)
        out, calls = self.proceed_watched(op, args, self.thread)
        try:
            fn, base, feeds, raw = registry.forward_record(op, args, inputs, calls)
        except registry.Unrecordable:
            self.failed = True
            return out
        self.made.append(out)
        data = out._data
        slot = self._slot(data)
        if op.view:
            self.views.add(slot)
        cast = np.asarray(raw).dtype != data.dtype
        self.steps.append((fn, base, feeds, slot, data.dtype if cast else None,
                           type(raw) is not ndarray))
        return out

    def _inputs(self, op, args) -> list:
        if op.multi or op.forward is None:
            raise _Abandon
        inputs = []
        for i, a in enumerate(args):
            if isinstance(a, (Tensor, ndarray)):
                array = a._data if isinstance(a, Tensor) else a
                slot = self.slots.get(id(array))
                if slot is None or i >= op.nin:  # made outside the op runner, or a parameter
                    raise _Abandon
                inputs.append((i, slot))
            elif isinstance(a, (tuple, list)) and any(
                    isinstance(b, (Tensor, ndarray)) for b in a):
                raise _Abandon
        return inputs

    def finish(self, result):
        """The replay function of the trace, or _EAGER."""
        if self.failed or not self.steps or not isinstance(result, Tensor):
            return _EAGER
        out = self.slots.get(id(result._data))
        if out is None or out <= len(self.loads) or out in self.views:
            return _EAGER  # an input, a view or an array made elsewhere: eager's own tensor
        if any(t._vc[0] != version for t, version in self.inputs) or any(
                t._vc[0] for t in self.made):
            return _EAGER  # an in-place write the steps do not show
        return _generate(self, out)


def _generate(recorder: _Recorder, out: int):
    names: dict = {"np": np, "asarray": np.asarray}

    def bind(value) -> str:
        if type(value) in (int, bool, type(None)):
            return repr(value)
        name = f"k{len(names)}"
        names[name] = value
        return name

    lines = ["def program(s0, args):"]
    for slot, index, tensor in recorder.loads:
        lines.append(f"    s{slot} = args[{index}]{'._data' if tensor else ''}")
    for fn, base, feeds, slot, cast, scalar in recorder.steps:
        parts = [bind(v) for v in base]
        for i, src, to in feeds:
            parts[i] = f"s{src}" if to is None else f"s{src}.astype({bind(to)})"
        lines.append(f"    s{slot} = {bind(fn)}(np, {', '.join(parts)})")
        if scalar:
            lines.append(f"    s{slot} = asarray(s{slot})")
        if cast is not None:
            lines.append(f"    s{slot} = s{slot}.astype({bind(cast)})")
    lines.append(f"    return s{out}")
    exec("\n".join(lines) + "\n", names)  # noqa: S102 - the source is generated above
    return names["program"]
