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
from ember.autograd.graph import _FREED, _watched
from ember.autograd.graph import AccumulateGrad as _AccumulateGrad

_programs: dict = {}   # signature -> replay function, _SEEN or _EAGER
_LIMIT = 4096          # signatures kept; past it new ones stay eager
_SEEN = object()       # met once: traced when met again
_direct: set = set()   # formulas that run no op: called as they are
_EAGER = object()
_tracing = threading.Lock()
enabled = True         # tests compare against eager formulas by switching this off
graphs = True          # and graph programs (NOTE [Graph programs]) with this


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
    """The formula with what decides its ops: dtypes and shapes of the arrays, the rest as
    ``_key_value`` keys it; None when an argument cannot be keyed."""
    data = grad._data
    # the default dtype decides what an integer input computes in
    key = [fn, _dtype._default[0], data.dtype, data.shape]
    for a in args:
        kind = type(a)
        if kind is Tensor:
            a = a._data
            key.append(a.dtype)
            key.append(a.shape)
        elif kind is ndarray:
            key.append(kind)
            key.append(a.dtype)
            key.append(a.shape)
        elif not _key_value(key, kind, a):
            return None
    return tuple(key)


def _trace(op, fn, grad, args: tuple, key):
    # One trace at a time: the recorder is an op mode of the whole process and wraps op
    # forwards in place. A formula that meets another thread's trace runs eagerly.
    if not _tracing.acquire(blocking=False):
        return fn(grad, *args)
    try:
        recorder = _Recorder()
        recorder._load(grad._data, "s0")  # the program's first parameter
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                recorder.inputs.append((a, a._vc[0]))
                recorder._load(a._data, f"args[{i}]._data")
            elif isinstance(a, ndarray):
                recorder._load(a, f"args[{i}]")
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

    follows_arrays = True

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.failed = False
        self.slots: dict = {}    # id(array) -> slot
        self.arrays: list = []   # slot -> array, alive until the trace ends (ids stay unique)
        self.views: set = set()  # slots made by view ops
        self.steps: list = []
        self.made: list = []     # the tensors the ops returned
        self.inputs = []         # (tensor, its version) of the tensor arguments
        self.loads = []          # (slot, the program's expression for it) of the arguments

    def _slot(self, array) -> int:
        slot = len(self.arrays)
        self.arrays.append(array)
        self.slots[id(array)] = slot
        return slot

    def _load(self, array, expression: str) -> None:
        if id(array) in self.slots:  # one array twice: the replay could not tell which
            self.failed = True
            return
        self.loads.append((self._slot(array), expression))

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
        if out is None or out < len(self.loads) or out in self.views:
            return _EAGER  # an input, a view or an array made elsewhere: eager's own tensor
        if not self.unchanged():
            return _EAGER  # an in-place write the steps do not show
        return _generate(self, "s0, args", [out], True)

    def unchanged(self) -> bool:
        """Whether no tensor argument was written in place, nor any op's result (a write the
        steps do not show)."""
        return not (any(t._vc[0] != version for t, version in self.inputs)
                    or any(t._vc[0] for t in self.made))


# statements per generated function: compiling one takes memory in proportion to its
# length, and the process keeps what the compiler took (a 10,000-node graph's program in one
# function took 46 MB at its peak)
_CHUNK = 1000


def _generate(recorder: _Recorder, parameters: str, outs: list, single: bool):
    """The replay function of ``recorder``'s steps, taking ``parameters`` and returning the
    array of slot ``outs[0]`` (``single``) or the list of those of ``outs``. A long one is
    a chain of functions of ``_CHUNK`` statements each, their arrays kept in one list."""
    names: dict = {"np": np, "asarray": np.asarray}
    bound: dict = {}  # id(value) -> its name: one name per object (the values stay alive)

    def bind(value) -> str:
        if type(value) in (int, bool, type(None)):
            return repr(value)
        name = bound.get(id(value))
        if name is None:
            name = bound[id(value)] = f"k{len(names)}"
            names[name] = value
        return name

    chunked = len(recorder.steps) > _CHUNK

    def ref(slot: int) -> str:
        return f"S[{slot}]" if chunked else f"s{slot}"

    body = [f"{ref(slot)} = {expression}" for slot, expression in recorder.loads]
    for fn, base, feeds, slot, cast, scalar in recorder.steps:
        parts = [bind(v) for v in base]
        for i, src, to in feeds:
            parts[i] = ref(src) if to is None else f"{ref(src)}.astype({bind(to)})"
        body.append(f"{ref(slot)} = {bind(fn)}(np, {', '.join(parts)})")
        if scalar:
            body.append(f"{ref(slot)} = asarray({ref(slot)})")
        if cast is not None:
            body.append(f"{ref(slot)} = {ref(slot)}.astype({bind(cast)})")
    returned = ref(outs[0]) if single else "[" + ", ".join(ref(s) for s in outs) + "]"
    if chunked:
        calls = [f"S = [None] * {len(recorder.arrays)}"]
        for start in range(0, len(body), _CHUNK):
            name = f"c{start // _CHUNK}"
            _define(names, f"{name}(S, {parameters})", body[start:start + _CHUNK])
            calls.append(f"{name}(S, {parameters})")
        body = calls
    _define(names, f"program({parameters})", body + [f"return {returned}"])
    return names["program"]


def _define(names: dict, head: str, body: list) -> None:
    source = f"def {head}:\n" + "".join(f"    {line}\n" for line in body)
    exec(source, names)  # noqa: S102 - the source is generated by _generate


# ---- graph programs ----------------------------------------------------------------------
#
# NOTE [Graph programs]
# A training loop runs the same small graph every step: the same ops on arrays of the same
# dtypes and shapes, only the values new. Formula programs take the op runner out of each
# formula; what is left per node is the engine's share (the ready heap, the gradient
# buffers, fitting broadcast gradients) and the formula's call, about as much again as the
# NumPy work on small arrays. A plain ``backward()`` (one root, no ``inputs``, no
# ``create_graph``; no profiler, anomaly mode, op mode, vmap or forward-mode level) of a
# graph whose every node is an audited op's (``Op.audited``) without hooks, saved-tensor
# hooks or metadata, ending in leaves without hooks, runs as one program instead:
#
# - The key is the whole graph as the engine would run it: per node (in breadth-first order
#   from the root) its op, the shapes and dtypes its inputs had, its edges (as positions in
#   that order), and its saved values as a formula program's signature keys them; the
#   order of the nodes' creation, which decides the engine's order (so the order in which
#   gradients are summed); the seed's dtype and shape, the default dtype; and which saved
#   arrays are one array (the program reads each once).
# - The second backward with a key runs the engine as usual under a recorder (formula
#   programs' own, so formulas and the engine's sums and fits run as their ops) that also
#   notes the gradient each leaf's AccumulateGrad received; later ones run the generated
#   straight line of forward calls, then release the nodes, then hand each leaf its
#   gradient through AccumulateGrad itself, in the order the engine did. The arrays are
#   the ones eager computes, bit for bit, and whether a leaf takes its gradient's memory
#   or copies it is decided by the same reference counts.
# - A key stays eager when its trace cannot stand for it, as a formula program's signature
#   does (an array made outside the op runner, an in-place write, an op with several
#   outputs). A leaf may take a gradient's memory only when nothing else holds that
#   memory (NOTE [Stealing a gradient]): the replay holds each array once, in the list of
#   gradients it hands on, so a gradient that is (a view of) the seed, a saved array or
#   another leaf's gradient is copied, as on the engine.
# Layouts are not in the key: the audited formulas and the engine's sums and fits choose
# their ops by dtypes, shapes and numbers only, and strides are read inside the forwards,
# which the replay calls on the arrays at hand (ops whose Python code chooses by strides,
# as reshape's view-or-copy does, are not audited). Errors on values (an integer division
# by zero) are raised by the replay too, before any leaf received anything.

_graphs: dict = {}   # key -> (program, sink positions), _SEEN or _EAGER
_GRAPH_NODES = 16384  # larger graphs stay eager
# what the kept keys may hold in all (their lengths summed, about 8 per node); past it new
# keys stay eager: a loop over ever new graphs must not fill the memory with them
_GRAPH_BUDGET = 1 << 20
_graph_held = [0]
_SINK = object()     # an AccumulateGrad in a key


def _graph_key(root, seed):
    """(key, the arrays the program reads, the nodes in key order) of a plain backward from
    ``root`` seeded with ``seed`` (NOTE [Graph programs]); None when it must run eagerly."""
    data = seed._data
    loads = [data]
    seen = {id(data): 0}
    key = [_dtype._default[0], data.dtype, data.shape]
    append = key.append
    nodes = [root]
    where = {root: 0}
    ranks = [root._key]
    for node in nodes:  # the list grows as nodes are found
        if node._extra is not None:
            return None
        if type(node) is _AccumulateGrad:
            var = node._variable()
            if var is not None and (var._hooks is not None or var._post_hooks is not None):
                return None
            append(_SINK)
            continue
        op = node._op
        if op is None or not op.audited:
            return None
        args = node._args
        if args is _FREED:
            return None
        versions = node._versions
        if versions:
            for index, version in versions:
                if args[index]._vc[0] != version:
                    return None
        key += (op, len(args), node._meta, node._nrs)
        for nxt in node._next:
            if nxt is None:
                append(None)
                continue
            j = where.get(nxt)
            if j is None:
                if len(nodes) == _GRAPH_NODES:
                    return None
                j = where[nxt] = len(nodes)
                nodes.append(nxt)
                ranks.append(nxt._key)
            append(j)
        result = node._result
        if result is not None:
            if type(result) is not tuple or result[1][0] != result[2]:
                return None
            args = (*args, result[0])
        for a in args:
            kind = type(a)
            if kind is Tensor or kind is ndarray:
                array = a._data if kind is Tensor else a
                j = seen.get(id(array))
                if j is None:
                    j = seen[id(array)] = len(loads)
                    loads.append(array)
                key += (j, array.dtype, array.shape)
            elif a is None:
                append(None)
            elif kind is float and a == a and a:  # a zero's sign and nan: _key_value
                key += (float, a)
            elif not _key_value(key, kind, a):
                return None
    append(tuple(sorted(range(len(ranks)), key=ranks.__getitem__)))
    return tuple(key), loads, nodes


def _key_value(key: list, kind, a) -> bool:
    """Append what decides a formula's ops of the argument ``a`` (not an array) of type
    ``kind`` to ``key``: its type and value, a float zero with its sign (which equality
    ignores); False when it cannot be keyed (nan, which equals nothing; an unhashable
    value)."""
    if a is None:
        key.append(None)
    elif kind is int or kind is bool or kind is str:
        key.append(kind)
        key.append(a)
    elif kind is float:
        if a != a:
            return False
        key.append(kind)
        key.append(a if a else math.copysign(1.0, a))
    elif kind is tuple and all(type(v) is int for v in a):
        key.append(kind)
        key.append(a)
    elif isinstance(a, np.dtype):
        key.append(a)
    else:
        return False
    return True


def graph_backward(root, seed, retain_graph: bool):
    """Run a plain backward from ``root`` as its graph program (NOTE [Graph programs]):
    True when it ran; a recorder when the engine should run it under that recorder (then
    ``finish`` or ``abandon`` it); None when the engine runs it as usual."""
    if not (enabled and graphs) or _watched():  # the engine has switched grad mode off
        return None
    found = _graph_key(root, seed)
    if found is None:
        return None
    key, loads, nodes = found
    entry = _graphs.get(key)
    if entry is None:  # a first sighting: a graph seen once may never come back
        if _graph_held[0] + len(key) <= _GRAPH_BUDGET:
            _graph_held[0] += len(key)
            _graphs[key] = _SEEN
        return None
    if entry is _SEEN:
        if not _tracing.acquire(blocking=False):
            return None
        return _GraphRecorder(key, loads, nodes)
    if entry is _EAGER:
        return None
    program, sinks = entry
    arrays = program(loads)
    del loads
    if not retain_graph:
        for node in nodes:
            node.release()
    for i, position in enumerate(sinks):
        # the gradient held by this list alone, as the engine holds it: AccumulateGrad
        # takes its memory or copies it by the same reference counts
        inputs = [make(arrays[i], False, None, [0])]
        arrays[i] = None
        nodes[position].apply(inputs)
    return True


class _GraphRecorder(_Recorder):
    """Writes down the ops of one whole backward (NOTE [Graph programs])."""

    def __init__(self, key: tuple, loads: list, nodes: list) -> None:
        super().__init__()
        self.key = key
        for i, array in enumerate(loads):
            self._load(array, f"L[{i}]")
        self.position = {node: i for i, node in enumerate(nodes)}
        for node in nodes:
            if type(node) is not _AccumulateGrad:
                for a in node._args:
                    if type(a) is Tensor:
                        self.inputs.append((a, a._vc[0]))
        self.sinks: list = []  # (position of the AccumulateGrad, slot of its gradient)
        registry.push_mode(self)

    def sink(self, node, grads: list) -> None:
        """The engine hands ``node``, an AccumulateGrad, ``grads``."""
        grad = grads[0]
        if grad is None or self.failed:
            return
        slot = self.slots.get(id(grad._data))
        if slot is None:
            self.failed = True  # made outside the op runner: the steps cannot give it
            return
        self.sinks.append((self.position[node], slot))

    def finish(self) -> None:
        """The engine ran the backward: keep its program (or that it stays eager)."""
        self.abandon()
        if self.failed or not self.unchanged():
            _graphs[self.key] = _EAGER
            return
        _graphs[self.key] = (_generate(self, "L", [slot for _, slot in self.sinks], False),
                             tuple(position for position, _ in self.sinks))

    def abandon(self) -> None:
        """Stop recording (the engine raised: the key is traced again next time)."""
        if self in registry._modes:
            registry.pop_mode(self)
            _tracing.release()
