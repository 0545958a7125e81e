"""The op-definition record and the one function that runs an op.

An op is one ``Op`` record in the table of its family (pointwise, reduction, shape, ...):
a ``forward`` on raw arrays, ``forward(xp, *arrays, *params)``, and for each input a
backward formula written in ember ops, ``formula(grad, *inputs, *params[, result])``,
named with torch's derivative vocabulary. ``run`` is the only place that promotes dtypes,
calls a forward and records a graph node.
"""
from __future__ import annotations

import sys
import threading

from ember import _dtype
from ember._backend import ndarray, np
from ember._ops import _promote, batching
from ember._tensor import Tensor, make
from ember.autograd import anomaly_mode, forward_ad, grad_mode
from ember.autograd.graph import (
    _FREED,
    MultiOutputNode,
    Packed,
    _counter,
    accumulator,
    node_class,
    pack_saved,
    saved_hooks,
)

# How an op's result dtype follows from its inputs' (torch's promotion, see _promote):
SAME = 0      # the promoted dtype (add, mul, maximum, ...)
FLOAT = 1     # promoted, then integers and bool become the default float (sin, true div)
COMPARE = 2   # computed in the promoted dtype, result bool (eq, lt, ...)
KEEP = 3      # no promotion: the forward decides (shape ops, casts, reductions)

_state = grad_mode.state
_anomaly = anomaly_mode.state
_dual_levels = forward_ad.levels
_batch_levels = batching.levels


def first_order() -> bool:
    """Whether a backward formula may compute on arrays instead of ops: nothing records a
    graph of it (no ``create_graph``) and no vmap or forward-mode level sees its ops."""
    return not _state.enabled and not _batch_levels and not _dual_levels


def arrays_unwatched() -> bool:
    """Whether a formula whose ops a profile would list may compute on arrays instead: as
    ``first_order``, and no mode watches its ops (the profiler, autocast) other than one that
    takes whole formulas (``OpMode.whole_formulas``)."""
    if not first_order():
        return False
    for mode in _modes:
        if not mode.whole_formulas:
            return False
    return True


def arrays_followed() -> bool:
    """Whether a mode that records programs over arrays is active (``OpMode``)."""
    for mode in _modes:
        if mode.follows_arrays:
            return True
    return False


# NOTE [Scalar operands as arrays]
# NumPy takes a Python number beside an array as a weak scalar: it converts the number to
# the array's dtype, then runs the same loop as for two arrays, but finding that out costs
# it about half a microsecond per call. For the ops below, whose forward is one ufunc call
# on its two operands, ``_forward`` hands NumPy the number already converted to the compute
# dtype, as a cached 0-d array: the same loop on the same values, so the same bits. Zeros
# (-0.0 == 0.0) and nans (nan != nan) are not cached, nor numbers NumPy refuses to convert.
_SCALAR_ARRAY_OPS = frozenset([
    ("add", "AddBackward0"), ("sub", "SubBackward0"), ("rsub", "RsubBackward1"),
    ("rsub", "RsubBackward0"), ("mul", "MulBackward0"), ("div", "DivBackward0"),
    ("maximum", "MaximumBackward0"), ("minimum", "MinimumBackward0"),
    ("eq", None), ("ne", None), ("lt", None), ("le", None), ("gt", None), ("ge", None)])
_scalar_arrays: dict = {}

# NOTE [Half-precision arithmetic in float32]
# torch's CPU kernels multiply and divide float16/bfloat16 in float32 ("opmath") and round
# the result once, and a number, or a 0-d tensor that did not decide the result's dtype,
# enters at float32 precision (torch reads a CPU scalar straight into opmath), where NumPy
# rounds it to the half type first: ``x * 3.3`` rounds 3.3 to float16's 3.30078 and gives
# another result for a third of the values (learnt by experiment against torch 2.13; its
# add and sub round the number to the half type, as NumPy does). ``_opmath`` computes mul
# and div as torch does; two half tensors of one dtype need nothing, NumPy's float16 loops
# already compute in float32 and round once.
_OPMATH = frozenset(("mul", "div"))


def reduced_float(dtype) -> bool:
    """Whether a NumPy dtype is float16 or bfloat16 (by name: looking bfloat16's dtype up
    would load its extension module, which ``import ember`` does not)."""
    return dtype.itemsize == 2 and (dtype.kind == "f" or dtype.name == "bfloat16")


def float32_of(ufunc, x):
    """``ufunc`` (exp, log, log1p, tanh, ...) of a float32 array, correctly rounded (through
    float64, so the same on every CPU): the float32 functions torch's half-precision kernels
    call are within an ulp of it and nearly always equal (NOTE [Backward kernels])."""
    return ufunc(x, dtype=np.float64).astype(np.float32)


_ONES: dict = {}
_ONES_KEPT_MAX = 1 << 16  # elements: at most 64 vectors of 512 KB are kept


def ones_vector(n: int, dtype):
    """A read-only vector of ``n`` ones of the NumPy ``dtype``, kept per (n, dtype): the
    kernels take row and column sums as products with it (BLAS's matrix-vector product is
    NumPy's fastest sum along an axis), and making it anew cost as much as a small sum."""
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = np.ones(n, dtype)
        ones.flags.writeable = False
        if n <= _ONES_KEPT_MAX:  # a longer one costs little beside the sum it serves
            if len(_ONES) >= 64:  # a program's few sizes, not every size ever seen
                _ONES.clear()
            _ONES[key] = ones
    return ones


def round_through(values, dtype):
    """float32 ``values`` rounded to the half ``dtype`` and held in float32 again: one
    operation of a torch kernel that rounds to the half type between steps."""
    return values.astype(dtype).astype(np.float32)


def _scalar_operand(x, out_np) -> bool:
    """Whether ``x`` enters a half-precision op as a CPU scalar: a number, or a 0-d tensor of
    another dtype."""
    return not isinstance(x, Tensor) or (x._data.ndim == 0 and x._data.dtype != out_np)


def _opmath(op, a, b, extra: tuple, out_np):
    """``op`` of a and b (one a scalar operand, the other a tensor of the half type
    ``out_np``) computed in float32 and rounded once, as NOTE [Half-precision arithmetic in
    float32]; a number passes as a 0-d float32 array (what compile's tracer takes as a
    number's array)."""
    def opmath_value(x):
        if isinstance(x, Tensor):
            return x._data.astype(np.float32)
        return np.asarray(x, np.float32)
    r = op.forward(np, opmath_value(a), opmath_value(b), *extra).astype(out_np)
    return r if type(r) is ndarray else np.asarray(r)  # 0-d operands: NumPy gives a scalar


def _scalar_array(value, kind: type, dtype, beside=None):
    """``value`` as a read-only 0-d array of ``dtype`` (NOTE [Scalar operands as arrays]),
    or ``value`` itself where that could change the result. ``beside``: the NumPy dtype of
    the tensor the number meets, for torch's reading of an int beyond int64's range."""
    if value == 0 or value != value:
        return value
    if kind is int and not -2 ** 63 <= value < 2 ** 63:
        return _wide_int(value, dtype, beside)
    try:
        array = np.asarray(value, dtype)
    except OverflowError:
        if dtype.kind not in "iu" or not -2 ** 63 <= value < 2 ** 64:
            return value
        # an int outside an integer dtype wraps into it, as torch casts it: NumPy's
        # comparisons would compare the exact values (uint8 == 256 is True where 0)
        array = np.array(value).astype(dtype)
    array.flags.writeable = False
    if len(_scalar_arrays) >= 1024:  # a loop over many distinct numbers must not grow it
        _scalar_arrays.clear()
    _scalar_arrays[value, kind, dtype] = array
    return array


def number_operands(op: Op, x: ndarray, number) -> tuple:
    """``x`` and ``number`` as ``run`` hands them to the forward of ``op``, an op of two
    inputs, when ``number`` is its second: promoted to the compute dtype, an int wrapped into
    an integer one (NOTE [Scalar operands as arrays]), with torch's refusals of the
    promotion. For the ops of one input that take the number as a parameter and must compute
    as ``op`` does (the in-place comparisons); not on the hot path."""
    kind = type(number)
    key = (op.promo, x.dtype, x.ndim == 0, kind, None)
    hit = _promote.cache.get(key)
    if hit is None:
        hit = _promote.cache[key] = _promote.compute(key)
    compute_np = hit[0]
    beside = x.dtype
    if beside != compute_np:
        x = x.astype(compute_np)
    cached = _scalar_arrays.get((number, kind, compute_np))
    return x, cached if cached is not None else _scalar_array(number, kind, compute_np, beside)


def _wide_int(value: int, dtype, beside):
    """An int beyond int64's range as torch reads it beside a tensor: up to 2**64 a uint64
    number (wrapped into an integer compute dtype, refused beside a bool tensor, whose
    promotion to uint64 torch does not support), beyond that its OverflowError. Never kept
    in the cache: its key does not hold the tensor's dtype."""
    if value >= 2 ** 64:
        raise OverflowError("int too big to convert")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if beside == np.bool_:
        raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, "
                           "attempted to promote Bool and UInt64")
    if dtype.kind in "iu":
        array = np.array(value, np.uint64).astype(dtype)
    else:
        array = np.asarray(value, dtype)
    array.flags.writeable = False
    return array


# the op families (defining modules) whose formulas may run as programs: their Python code
# branches on dtypes, shapes and saved numbers only (NOTE [Formula programs] in
# ember/autograd/programs.py)
_REPLAYED_FAMILIES = frozenset(("ember._ops.pointwise", "ember._ops.nn_activation"))


class Op:
    """One op: its torch name, its node's name, forward, per-input backward formulas."""

    __slots__ = ("name", "node", "node_cls", "forward", "backward", "nin", "kind", "promote",
                 "save_idx", "saves_all", "no_inputs", "save_result", "saved_outputs",
                 "binary", "view", "jvp", "check", "multi", "needs", "kept", "arg_names",
                 "family", "real_formulas", "scalar_array", "layout_params", "replayed",
                 "audited", "opmath", "promo", "saved_names")

    def __init__(self, name, node, forward, backward, nin, kind, promote, save, view, jvp,
                 check, multi, real_formulas=True):
        self.name = name
        # False when the formulas already give torch's complex gradients; True makes the
        # node conjugate around them for complex gradients (NOTE [Complex gradients]).
        self.real_formulas = real_formulas
        # trailing parameters torch's op does not take: layout facts a formula reads, as
        # torch's nodes save them (``mat2_sym_strides``); the profiler leaves them out
        self.layout_params = 0
        self.replayed = False  # see defop
        self.audited = False
        self.node = node
        self.forward = forward
        # None means not differentiable (no graph is recorded); a tuple has one formula per
        # input, None where the input has no gradient (a condition, an index).
        if backward is not None and not isinstance(backward, tuple):
            backward = (backward,)
        self.backward = backward
        self.nin = nin
        self.kind = kind
        # what the promotion cache keys on: the kind, or the op's own ``WideRefusal`` for an
        # op torch refuses on uint16/32/64 (``refuse_wide``)
        self.promo = kind
        # Positions of the arguments that take part in type promotion; None for the unary
        # fast path (one input, its dtype decides).
        if promote is None and nin > 1:
            promote = tuple(range(nin))
        self.promote = promote
        # save: what the formulas read. A tuple names inputs (and "result") kept whenever a
        # node is recorded; a dict maps an input to the inputs its own formula reads, so an
        # input is kept only when an input whose formula reads it needs a gradient (x * y
        # keeps y for x's gradient, and x only when y needs one, as torch does).
        self.needs = None
        # kept: for a dict ``save``, (inputs kept, inputs dropped) indexed by the mask of the
        # inputs that need a gradient (bit i: input i), so recording looks it up (``_kept``).
        self.kept = None
        if isinstance(save, dict):
            self.needs = tuple(tuple(save.get(i, ())) for i in range(nin))
            self.kept = tuple(_kept(self.needs, mask) for mask in range(1 << nin))
            reads = {j for js in self.needs for j in js}
            save = tuple(sorted(j for j in reads if j != "result")) + (
                ("result",) if "result" in reads else ())
        params = tuple(save)
        # "result" keeps every output; "result<i>" only output i of a several-output op (a
        # workspace its formulas read, not the outputs users may write to in place); the
        # others are None in the node's result (a formula that reads them on raw arrays
        # makes compile's tracer run that call eagerly)
        results = [p for p in params if isinstance(p, str)]
        self.save_result = bool(results)
        self.saved_outputs = None if "result" in results or not results else \
            frozenset(int(p[len("result"):]) for p in results)
        self.save_idx = tuple(i for i in params if not isinstance(i, str))
        self.saves_all = len(self.save_idx) == nin and self.needs is None
        self.no_inputs = (None,) * nin
        # binary: two operands that promote together, the second a tensor or a number;
        # an op of one input and a number that promotes with it (x ** 2.5, x * 2 as
        # MulBackward1) takes the same path
        self.binary = nin <= 2 and promote == (0, 1)
        self.scalar_array = (name, node) in _SCALAR_ARRAY_OPS
        self.opmath = name in _OPMATH  # NOTE [Half-precision arithmetic in float32]
        # The formulas' argument names (torch's: self, other, exponent, ...), for the
        # ``grad_fn._saved_<name>`` attributes.
        self.arg_names = ()
        for fn in backward or ():
            if fn is not None and not fn.__code__.co_flags & 0x04:  # no *args
                code = fn.__code__
                names = code.co_varnames[1:code.co_argcount]
                self.arg_names = names[:-1] if self.save_result and names[-1:] == (
                    "result",) else names
                break
        self.saved_names = None  # see ``saved_names``
        self.view = view
        self.jvp = jvp  # reserved for forward-mode AD: the tangent rule lives on the record
        self.check = check  # check(*args) raises torch's error for inputs torch refuses
        # multi: the forward returns a tuple of arrays; the first ``multi`` outputs (all when
        # True) are differentiable, and the formulas receive ``grads``, a list.
        self.multi = multi
        if node:
            self.node_cls = node_class(node, MultiOutputNode) if multi else node_class(node)
        else:
            self.node_cls = None

    def unsaved(self, args: tuple, keep: tuple) -> tuple:
        """``args`` with the input tensors not in ``keep`` replaced by None."""
        nin = self.nin
        return tuple([None if i < nin and i not in keep and isinstance(a, Tensor) else a
                      for i, a in enumerate(args)])


def refuse_wide(kernel: str, *ops: Op, bool_too: bool = False) -> None:
    """Make ``ops`` refuse operands that promote to uint16, uint32 or uint64 (and, with
    ``bool_too``, to bool) with torch's error naming ``kernel`` (NOTE [Wide unsigned
    dtypes]). The refusal lives in the promotion cache's key, so the ops pay nothing for
    it: it covers every call that promotes (a number or a 0-d tensor beside a tensor, mixed
    dtypes, comparisons, ops of three operands); the op's own check or forward refuses the
    rest."""
    for op in ops:
        op.promo = _promote.WideRefusal(op.kind, kernel, bool_too)


def saved_as(op: Op, **fetch) -> None:
    """torch's ``grad_fn._saved_<name>`` attributes of ``op``'s node that its formulas'
    parameter names do not give, each read from what ember's node keeps by ``fetch[name]``
    (a function of the node)."""
    for name, get in fetch.items():
        setattr(op.node_cls, f"_saved_{name}", property(get))


def saved_names(op: Op, *names: str) -> None:
    """torch's list of ``op``'s node's ``grad_fn._saved_<name>`` attributes (what ``dir``
    shows, and torchviz reads), for an op whose formulas take parameters under other names
    or parameters torch's node does not keep. Each name must be readable: a formula's
    parameter, ``result``, or one ``saved_as`` adds. Without it, ``dir`` lists the formulas'
    parameters, the inputs the node saved and ``result`` when it keeps its output."""
    op.saved_names = names


def defop(name: str, *, forward, backward=None, node: str | None = None, nin: int = 1,
          kind: int = SAME, promote: tuple | None = None, save=(), view: bool = False,
          jvp=None, check=None, multi: bool | int = False, real_formulas: bool = True,
          layout_params: int = 0) -> Op:
    """Define an op. ``nin`` inputs (tensors or numbers, one graph edge each) come first in
    the arguments, parameters after. ``promote`` names the argument positions whose types
    decide the result dtype (default: the inputs). ``save`` lists what the backward formulas
    read: input positions (ints) and/or "result"; inputs not listed reach the formulas as
    None, so the graph keeps alive only what torch's would. ``check(*args)``, when given,
    runs first and raises torch's error for arguments torch refuses. ``real_formulas=False``
    says the formulas already give torch's gradients for complex inputs (see NOTE [Complex
    gradients] in autograd/graph.py)."""
    op = Op(name, node, forward, backward, nin, kind, promote, save, view, jvp, check, multi,
            real_formulas)
    op.layout_params = layout_params
    # The module that defines the op: vmap batches the pointwise table's ops elementwise.
    op.family = sys._getframe(1).f_globals.get("__name__")
    # whether its formulas may run as programs (NOTE [Formula programs]); ``audited`` stays
    # when ``replayed`` turns off, and admits the op's nodes to graph programs (NOTE [Graph
    # programs]), as ``audit`` does for single ops of other families
    op.replayed = op.family in _REPLAYED_FAMILIES
    op.audited = op.replayed and not multi
    return op


def audit(*ops: Op) -> None:
    """Admit ops of a family not audited as a whole to graph programs (NOTE [Graph
    programs]): their formulas' Python code branches on dtypes, shapes and saved numbers
    only (never on values or strides)."""
    for op in ops:
        op.audited = not op.multi  # a node of several outputs is the engine's


_VARIADIC: dict = {}


def variadic(name: str, node: str, n: int, forward, piece_backward) -> Op:
    """The record of an op over ``n`` tensors (cat, stack): one per arity, since an op's
    inputs are its graph edges; ``piece_backward(i)`` is input i's formula. Inputs are
    promoted together, as torch does."""
    op = _VARIADIC.get((name, n))
    if op is None:
        op = _VARIADIC[name, n] = defop(
            name, node=node, nin=n, kind=KEEP if n == 1 else SAME, forward=forward,
            backward=tuple(piece_backward(i) for i in range(n)))
        saved_as(op, dim=_first_parameter)
        saved_names(op, "dim")
    return op


def _first_parameter(node):
    # the dim of cat and stack (their formulas take it among *args), kept after backward
    args = node._args
    return node._params[0] if args is _FREED else args[node._op.nin]


def attach(methods: dict) -> None:
    """Make functions Tensor methods (one function serves ``torch.f(t)`` and ``t.f()``)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


def not_implemented(name: str):
    """The backward formula of an op torch records but cannot differentiate (its node is
    named ``NotImplemented``): running it raises torch's error."""
    def formula(grad, *args):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    formula.not_implemented = name  # forward mode raises torch's own text for it
    return formula


# NOTE [Op modes]
# Features that intercept every op (autocast, the profiler) are modes: objects on one tuple,
# ``_modes``, that ``run`` tests once per op. With modes active, ``run`` hands the op to the
# last-pushed mode's ``run_op(op, args)``; each mode does its work and calls ``proceed(op,
# args)``, which is the mode pushed before it, and after the first-pushed mode the op's
# own run (``run`` entered with ``_bare=True``). An empty tuple costs one truthiness test.
_modes: tuple = ()


class OpMode:
    """A mode on the op path (NOTE [Op modes]): ``run_op`` sees each op and its arguments
    and calls ``self.proceed(op, args)`` to run it. ``whole_formulas``: the mode takes a
    backward formula that computes on arrays as one step, so a formula need not run ops for
    it (compile's tracer; ``arrays_unwatched``). ``follows_arrays``: the mode records a
    program over the arrays it has seen, by identity (compile's tracer, formula programs),
    so an op's parameter taken from a tensor stays that tensor's array (``batching.param``
    copies it otherwise)."""

    proceed = None
    whole_formulas = False
    follows_arrays = False

    def run_op(self, op: Op, args: tuple):
        return self.proceed(op, args)

    def proceed_watched(self, op: Op, args: tuple, thread: int) -> tuple:
        """``self.proceed(op, args)`` while the op's forward is watched: (its output, the
        (arguments, raw result) of each forward call made in ``thread``). The arrays ``run``
        hands the forward carry its casts, which a mode that records programs replays (the
        compile tracer, formula programs)."""
        calls = []
        original = op.forward

        def spy(xp, *a):
            r = original(xp, *a)
            if threading.get_ident() == thread:
                calls.append((a, r))
            return r

        op.forward = spy
        try:
            out = self.proceed(op, args)
        finally:
            op.forward = original
        return out, calls


class Unrecordable(Exception):
    """A forward call that a replay could not repeat from what was seen of it."""


def forward_record(op: Op, args: tuple, inputs: list, calls: list) -> tuple:
    """What a replay of ``op``'s forward needs, from the ``calls`` ``proceed_watched`` saw:
    (the function to call, NOTE [Specialised forwards] in ember/_compile.py; the arguments
    it got, None at the inputs; per input (position, slot, the dtype ``run`` cast it to or
    None); the raw result). ``inputs`` pairs each input position with the recorder's slot.
    Raises Unrecordable where the forward ran other than once, or got other arguments than
    these inputs (cast at most) and these parameters (a number at most made a 0-d array of
    the computing dtype, which depends only on the number and the dtypes)."""
    if len(calls) != 1:
        raise Unrecordable(f"{op.name} ran its forward {len(calls)} times")
    passed, raw = calls[0]
    if len(passed) != len(args):
        raise Unrecordable(f"{op.name}'s forward took other arguments")
    base = list(passed)
    feeds = []
    for i, slot in inputs:
        given = args[i]._data if isinstance(args[i], Tensor) else args[i]
        array = passed[i]
        if array is given:
            feeds.append((i, slot, None))
        elif isinstance(array, ndarray) and array.shape == given.shape:
            feeds.append((i, slot, array.dtype))
        else:
            raise Unrecordable(f"{op.name}'s input was changed on the way to its forward")
        base[i] = None
    for i, a in enumerate(args):
        if not isinstance(a, (Tensor, ndarray)) and passed[i] is not a and not (
                type(a) in (int, float, bool, complex) and type(passed[i]) is ndarray
                and passed[i].ndim == 0):
            raise Unrecordable(f"{op.name}'s parameter was changed on the way to its forward")
    fn = op.forward
    special = getattr(fn, "specialize", None)
    if special is not None:
        fn = special(np, *passed)
    return fn, tuple(base), tuple(feeds), raw


def saved_output(i: int):
    """For ``saved_as``: output ``i`` of a several-output op's saved results."""
    return lambda node: node._saved_result[i]


def push_mode(mode: OpMode) -> None:
    """Make ``mode`` the outermost active mode."""
    _set_modes(_modes + (mode,))


def pop_mode(mode: OpMode) -> None:
    """Take ``mode`` off the active modes (wherever it stands among them)."""
    _set_modes(tuple(m for m in _modes if m is not mode))


def _set_modes(modes: tuple) -> None:
    global _modes
    below = _run_bare
    for mode in modes:
        mode.proceed = below
        below = mode.run_op
    _modes = modes


def _run_bare(op: Op, args: tuple):
    return run(op, *args, _bare=True)


def run(op: Op, *args, _bare: bool = False):
    """Run ``op`` on ``args`` (its ``nin`` inputs, tensors or Python scalars, then its
    parameters) and return the result tensor, recording a node when a gradient is needed.
    Nothing is recorded or changed when it raises. Active modes see the op first (NOTE [Op
    modes])."""
    if _modes and not _bare:
        return _modes[-1].run_op(op, args)
    if op.check is not None:
        try:
            op.check(*args)
        except AttributeError:
            _refuse_non_tensor(op, args)
            raise
    phys = None
    try:
        if _batch_levels and batching.involved(op, args):
            r, phys = batching.forward(op, args, _forward_array)
            needs_grad = any(isinstance(a, Tensor) and a._requires_grad for a in args[:op.nin])
        else:
            r, needs_grad = _forward(op, args)
    except ValueError:
        error = _promote.broadcast_error(
            [a._data.shape for a in args[:op.nin] if isinstance(a, Tensor)])
        if error is None:
            raise
        raise error from None
    except AttributeError:
        _refuse_non_tensor(op, args)
        raise
    if views_stale and not needs_grad and _state.enabled:
        needs_grad = _refresh_inputs(args[:op.nin])  # NOTE [Stale views]
    if op.multi:
        return _outputs(op, args, r, needs_grad, phys)
    # ``make``, inlined: this is the hottest line of the library.
    out = _new(Tensor)
    out._data = r
    out._vc = [0]
    if needs_grad and op.backward is not None and _state.enabled:
        node = _record(op, args)
        out._requires_grad = True
        out._grad_fn = node
        if phys is not None:
            out._phys = phys
        if op.save_result:
            # The result's data and counter, not the tensor: the tensor points at this
            # node, and the node must not point back (no cycles; see graph.py).
            node._result = (r, out._vc, 0)
            if saved_hooks:
                node._result = Packed(saved_hooks[-1], out)
            elif phys is not None:  # a batched output must come back batched (vmap)
                node._result = Packed(_KEEP, out)
    else:
        out._requires_grad = False
        out._grad_fn = None
        if phys is not None:
            out._phys = phys
    if op.view:
        _link_view(out, op, args, None)
    if _dual_levels:
        forward_ad.propagate(op, args, out)
    return out


def _refuse_non_tensor(op: Op, args: tuple) -> None:
    """torch's argument-parser error for a number or NumPy scalar given to an op of one
    input (``exp(3.0)``), which ember's code met as an AttributeError: raised in its place
    (and nothing when the input is a tensor, whose AttributeError is ember's own)."""
    if op.promote is None and args and not isinstance(args[0], Tensor):
        from ember._tensor import c_type_name

        error = TypeError(f"{op.name}(): argument 'input' (position 1) must be Tensor, not "
                          f"{c_type_name(args[0])}")
        error.obj = args[0]  # as an AttributeError's: a public alias names itself (out.py)
        raise error from None


def _link_view(out: Tensor, op: Op, args: tuple, index) -> None:
    # A view shares its base's memory and version counter (NOTE [Version counters]) and
    # remembers how it was made, so an in-place write through it can rewrite the base's
    # history (see ``_copy_slices``), and at which version its history was made (NOTE
    # [Stale views]; None for a view made without grad mode, which has none).
    parent = args[0]
    vc = parent._vc
    out._vc = vc
    out._base = parent if parent._base is None else parent._base
    if _state.enabled:
        # an inference tensor's counter is no list and has no version to read
        out._view_src = (op, parent, args[1:], index, vc[0] if type(vc) is list else None)
        return
    out._view_src = (op, parent, args[1:], index, None)
    if parent._requires_grad and type(vc) is list:  # NOTE [Views made without grad mode]
        out._requires_grad = True
        out._no_grad_version = vc[0]


# NOTE [Views made without grad mode]
# As torch's, a view made under no_grad (or inference mode) of a tensor that requires grad
# (not an inference tensor) requires grad too, without a history: ops on it in grad mode
# record a graph, and its edge leads nowhere, so backward runs and no gradient reaches the
# base (``_leaf_edge``). Writing it in place in grad mode, or using it after its base (or
# another view of it) was written in place, is refused with torch's errors: which history it
# should have is ambiguous.
_NO_GRAD_VIEW = (" Given that this use case is ambiguous and error-prone, it is forbidden. You "
                 "can clarify your code by moving both the view and the inplace either both "
                 "inside the no_grad block (if you don't want the inplace to be tracked) or "
                 "both outside (if you want the inplace to be tracked).")


def _leaf_edge(t: Tensor):
    """A tensor without history's edge: its AccumulateGrad, or none for a view made without
    grad mode (NOTE [Views made without grad mode])."""
    if "_no_grad_version" in t.__dict__:
        return None
    return accumulator(t)


# NOTE [Stale views]
# An in-place write to a base, or through another of its views, gives the base a new history
# (a new node, or CopySlices over it), and every view made before it still points into the
# old one: its values changed but its gradient would not flow through the write (torch:
# ``x = a * 1; v = x[1:3]; x.mul_(s)``, then ``v.sum()`` must reach ``s``). As torch, a view
# remembers the version of the shared counter at which its history was made, and where its
# history is read while recording (an op's inputs in ``_record``, a backward root, the
# ``grad_fn``/``requires_grad``/``is_leaf`` properties) a moved counter makes it replay its
# recipe on the base's present history first (``refresh_view``). torch regenerates such a
# view with ``as_strided`` (``AsStridedBackward0``); ember replays the recipe, so its node is
# the view op's (torch's with view replay enabled). A view of a base that needs no gradient
# keeps none. A view of a tensor that needed no gradient until a write gave it one
# (``v = x[:2]; x.mul_(s)``) does not require grad itself, so no input of ``v * 1`` would
# send the op to ``_record``: once a write has given a tensor that had views and needed no
# gradient a history (``views_stale``, set for the rest of the process), ops whose inputs
# need none refresh their views' histories first (``_refresh_inputs``, about 0.5 us an op).
# Every view holds its base's counter, so a counter held by no tensor but the ones the
# writer knows of has no view (``history_given``): filling a buffer from other tensors
# (``h[t] = cell(x[t])``) sets nothing (a buffer whose earlier rows a graph saved, as in
# ``h[t] = cell(h[t - 1])``, does), and until something sets it the question costs an op one
# global's test.
views_stale = False


def history_given(vc: list, holders: int) -> None:
    """NOTE [Stale views]: a write gave a tensor that needed no gradient a history; when its
    counter ``vc`` is held by more than the ``holders`` tensors the writer knows of, views of
    it may be stale from now on (anything else holding a counter, a saved value's record,
    only costs the check)."""
    global views_stale
    if sys.getrefcount(vc) > holders + 2:  # getrefcount's argument and this frame's own
        views_stale = True


def _refresh_inputs(inputs) -> bool:
    """NOTE [Stale views]: refresh the views among ``inputs``; whether any now needs a
    gradient."""
    needs = False
    for a in inputs:
        if isinstance(a, Tensor):
            if a._base is not None:
                refresh_view(a)
            needs = needs or a._requires_grad
    return needs


def refresh_view(view: Tensor) -> None:
    """NOTE [Stale views]: ``view``'s history made again from its base's, when a write since
    it was made may have given the base another."""
    state = view.__dict__
    source = state.get("_view_src")
    if source is None or source[4] is None or source[4] == view._vc[0]:
        made = state.get("_no_grad_version")
        if made is not None and made != view._vc[0] or (
                source is not None and source[4] is None and not view._requires_grad
                and view._base._grad_fn is not None and type(view._vc) is list):
            # the second: made without grad mode of a base that needed no gradient then
            # and was given a history by a write since
            raise RuntimeError("A view was created in no_grad mode and its base or another view "
                               "of its base has been modified inplace with grad mode enabled."
                               + _NO_GRAD_VIEW)
        return
    base = view._base
    if not base._requires_grad:
        view._view_src = source[:4] + (view._vc[0],)
        return
    kind = _view_kind(view)
    if kind is not None:  # NOTE [Views that refuse writes]
        if view._grad_fn is None:  # made from a tensor that needed no gradient then
            raise RuntimeError("A view was created in no_grad mode and its base or another "
                               "view of its base has been modified inplace with grad mode "
                               f"enabled. {_VIEW_WRITE[kind]}")
        raise _view_refusal(view, kind, "its base or another view of its base has been "
                                        "modified inplace")
    _regenerate(view, base, _view_chain(view))


_KEEP = (lambda t: t, lambda t: t)


def _forward_array(op: Op, args: tuple):
    return _forward(op, args)[0]


def _outputs(op: Op, args: tuple, arrays, needs_grad: bool, phys=None) -> tuple:
    """The tensors of a several-output op; the differentiable ones share one node."""
    node = None
    if needs_grad and op.backward is not None and _state.enabled:
        node = _record(op, args)
        node.num_outputs = len(arrays)
    n_diff = len(arrays) if op.multi is True else op.multi
    # save=(..., "result"): a list with one entry per output, as ``run`` saves one output
    # (data and counter, or what the pack hook made of it); OpNode._unpack_result reads it.
    saved = [] if node is not None and op.save_result else None
    outs = []
    for i, r in enumerate(arrays):
        if type(r) is not ndarray:
            r = np.asarray(r)
        if node is not None and i < n_diff:
            out = make(r, True, node)
            out._output_nr = i
        else:
            out = make(r)
        if phys is not None:
            out._phys = phys[i]
        if op.view:
            _link_view(out, op, args, i)
        if saved is not None:
            if op.saved_outputs is not None and i not in op.saved_outputs:
                saved.append(None)  # not kept: in-place writes to it stay allowed
            else:
                hooks = saved_hooks[-1] if saved_hooks else (
                    _KEEP if phys is not None else None)
                saved.append(Packed(hooks, out) if hooks else (r, out._vc, 0))
        outs.append(out)
    if saved is not None:
        node._result = saved
    outs = tuple(outs)
    if _dual_levels:
        forward_ad.propagate(op, args, outs)
    return outs


def _forward(op: Op, args: tuple) -> tuple:
    """(result array, whether a gradient is needed): promotes, casts and calls the op's
    forward. The unary and binary cases are spelled out (the hot path)."""
    promote = op.promote
    out_np = None
    if promote is None:  # one input, its dtype decides
        x = args[0]
        data = x._data
        if op.kind == FLOAT and data.dtype.kind in "biu":
            data = data.astype(_dtype.get_default_dtype().np)
        r = op.forward(np, data, *args[1:]) if len(args) > 1 else op.forward(np, data)
        needs_grad = x._requires_grad
    elif op.binary:
        a = args[0]
        b = args[1]
        a_is_t = isinstance(a, Tensor)
        b_is_t = isinstance(b, Tensor)
        ad = a._data if a_is_t else a
        bd = b._data if b_is_t else b
        if not (a_is_t and b_is_t and ad.dtype is bd.dtype and op.kind == SAME):
            # Promotion (two tensors of one dtype have nothing to promote): a number's
            # Python type takes part, a tensor's dtype and whether it is 0-d.
            if a_is_t:
                ka, za = ad.dtype, ad.ndim == 0
            else:
                ka, za = type(a), None
            if b_is_t:
                kb, zb = bd.dtype, bd.ndim == 0
            else:
                kb, zb = type(b), None
            key = (op.promo, ka, za, kb, zb)
            hit = _promote.cache.get(key)
            if hit is None:
                hit = _promote.cache[key] = _promote.compute(key)
            compute_np, out_np = hit
            if a_is_t and ka is not compute_np and ka != compute_np:
                ad = ad.astype(compute_np)
            if b_is_t:
                if kb is not compute_np and kb != compute_np:
                    bd = bd.astype(compute_np)
            elif op.scalar_array and a_is_t and (len(args) == 2 or args[2] == 1):
                # ``args[2]`` is add/sub's alpha (NOTE [Scalar operands as arrays])
                cached = _scalar_arrays.get((bd, kb, compute_np))
                bd = cached if cached is not None else _scalar_array(bd, kb, compute_np, ka)
            if op.opmath and compute_np.itemsize == 2 and reduced_float(compute_np) and (
                    _scalar_operand(a, compute_np) or _scalar_operand(b, compute_np)):
                r = _opmath(op, a, b, args[2:], compute_np)
                return (r if out_np is None or r.dtype == out_np else r.astype(out_np),
                        (a_is_t and a._requires_grad) or (b_is_t and b._requires_grad))
        try:
            n_args = len(args)
            if n_args == 2:
                r = op.forward(np, ad, bd)
            elif n_args == 3:  # add/sub's alpha, most often: no slice to unpack
                r = op.forward(np, ad, bd, args[2])
            else:
                r = op.forward(np, ad, bd, *args[2:])
        except OverflowError:  # a Python int outside a small int dtype: torch wraps it
            ad, bd = _promote.wrap_ints([ad, bd], compute_np)
            r = op.forward(np, ad, bd, *args[2:])
        needs_grad = (a_is_t and a._requires_grad) or (b_is_t and b._requires_grad)
    else:
        nin = op.nin
        compute_np, out_np = _promote.result_types(args, promote, op.promo)
        arrays = []
        needs_grad = False
        for i in range(nin):
            a = args[i]
            if isinstance(a, Tensor):
                needs_grad = needs_grad or a._requires_grad
                a = a._data
                if a.dtype != compute_np and i in promote:
                    a = a.astype(compute_np)
            arrays.append(a)
        try:
            r = op.forward(np, *arrays, *args[nin:])
        except OverflowError:
            r = op.forward(np, *_promote.wrap_ints(arrays, compute_np), *args[nin:])
    if op.multi:
        return r, needs_grad
    if type(r) is not ndarray:
        r = np.asarray(r)
    if out_np is not None and r.dtype is not out_np and r.dtype != out_np:
        r = r.astype(out_np)
    return r, needs_grad


_NRS_0 = (0,)
_NRS_00 = (0, 0)
_new = object.__new__

# NOTE [Shared metas]: a node's ``_meta`` ((shape, dtype) of each input that needs a
# gradient) is one of a few tuples a program's nodes repeat: nodes of one input, or of two
# with one that needs no gradient (a number), share one kept tuple per value instead of
# three new ones each (shape, pair, tuple), every one of which the garbage collector tracks
# until its next pass; each net allocation brings that pass nearer (a 10,000-op chain:
# 60 young collections -> 34).
# One dict serves both kinds: a one-input key is (shape, dtype), a two-input one a pair with
# a None.
_METAS: dict = {}


def _meta_of(key: tuple, meta: tuple) -> tuple:
    if len(_METAS) >= 4096:  # a program's few shapes, not every shape ever seen
        _METAS.clear()
    _METAS[key] = meta
    return meta


def _record(op: Op, args: tuple):
    node = _new(op.node_cls)
    nin = op.nin
    # The edges as two tuples (NOTE [Edges as two tuples] in autograd/graph.py); a leaf's
    # edge leads to its AccumulateGrad, output 0.
    if nin == 1:
        x = args[0]
        if x._base is not None:
            refresh_view(x)  # NOTE [Stale views]
        fn = x._grad_fn
        mask = 1
        if fn is None:
            node._next = (x._grad_acc or _leaf_edge(x),)
            node._nrs = _NRS_0
        else:
            node._next = (fn,)
            nr = x._output_nr
            node._nrs = (nr,) if nr else _NRS_0
        d = x._data
        meta = (d.shape, d.dtype)
        node._meta = _METAS.get(meta) or _meta_of(meta, (meta,))
    elif nin == 2:  # the edges and metas spelled out
        a = args[0]
        b = args[1]
        nr_a = nr_b = mask = 0
        a_is_t = isinstance(a, Tensor)
        b_is_t = isinstance(b, Tensor)
        if a_is_t and a._base is not None:
            refresh_view(a)  # NOTE [Stale views]
        if b_is_t and b._base is not None:
            refresh_view(b)
        if a_is_t and a._requires_grad:
            mask = 1
            fn_a = a._grad_fn
            if fn_a is None:
                fn_a = a._grad_acc or _leaf_edge(a)
            else:
                nr_a = a._output_nr
            d = a._data
            meta_a = (d.shape, d.dtype)
        else:
            fn_a = meta_a = None
        if b_is_t and b._requires_grad:
            mask |= 2
            fn_b = b._grad_fn
            if fn_b is None:
                fn_b = b._grad_acc or _leaf_edge(b)
            else:
                nr_b = b._output_nr
            d = b._data
            meta_b = (d.shape, d.dtype)
        else:
            fn_b = meta_b = None
        node._next = (fn_a, fn_b)
        node._nrs = (nr_a, nr_b) if nr_a or nr_b else _NRS_00
        meta = (meta_a, meta_b)
        if meta_a is None or meta_b is None:  # a tensor and a number, or one without grad
            meta = _METAS.get(meta) or _meta_of(meta, meta)
        node._meta = meta  # two inputs with gradients: hashing both costs more than it saves
    else:  # one loop, no generators (addmm, addcmul, where, ...)
        nexts = []
        nrs = []
        metas = []
        mask = 0
        for i in range(nin):
            a = args[i]
            is_t = isinstance(a, Tensor)
            if is_t and a._base is not None:
                refresh_view(a)  # NOTE [Stale views]
            if is_t and a._requires_grad:
                mask |= 1 << i
                fn = a._grad_fn
                if fn is None:
                    nexts.append(a._grad_acc or _leaf_edge(a))
                    nrs.append(0)
                else:
                    nexts.append(fn)
                    nrs.append(a._output_nr)
                d = a._data
                metas.append((d.shape, d.dtype))
            else:
                nexts.append(None)
                nrs.append(0)
                metas.append(None)
        node._next = tuple(nexts)
        node._nrs = tuple(nrs)
        node._meta = tuple(metas)
    node._key = -next(_counter)
    node._extra = {"trace": anomaly_mode.forward_trace()} if _anomaly[0] else None
    node._op = op
    node._result = None
    if op.saves_all:
        node._args = args
        save_idx = op.save_idx
    elif not op.save_idx:
        node._args = op.no_inputs + args[nin:] if len(args) > nin else op.no_inputs
        node._versions = None
        return node
    elif op.kept is None:
        save_idx = op.save_idx
        node._args = op.unsaved(args, save_idx)
    else:
        save_idx, dropped = op.kept[mask]
        if not dropped:
            node._args = args
        elif len(args) == 2 and len(dropped) == 1:  # the common case spelled out
            if dropped[0]:
                node._args = (args[0], None) if isinstance(args[1], Tensor) else args
            else:
                node._args = (None, args[1]) if isinstance(args[0], Tensor) else args
        else:
            node._args = op.unsaved(args, save_idx)
        if not save_idx:
            node._versions = None
            return node
    # NOTE [Versions as tuples]: a tuple of (position, version) pairs of ints, which the
    # garbage collector stops tracking at its first pass (a list would stay tracked for the
    # node's whole life, and every tracked survivor brings the next full collection nearer).
    versions = None
    for i in save_idx:
        a = args[i]
        if isinstance(a, Tensor):
            entry = ((i, a._vc[0]),)
            versions = entry if versions is None else versions + entry
    # () when only numbers were kept: the node still counts as holding saved values, so a
    # second backward through it raises as torch's does (torch saves numbers as tensors).
    node._versions = () if versions is None else versions
    if saved_hooks:
        pack_saved(node, saved_hooks[-1])
    return node


def _kept(needs: tuple, mask: int) -> tuple:
    """(the inputs kept, the inputs dropped) when the inputs in ``mask`` (bit i: input i)
    need a gradient; ``needs[i]`` lists what input i's formula reads."""
    keep = set()
    for i, reads in enumerate(needs):
        if mask >> i & 1:
            keep.update(reads)
    keep.discard("result")
    return tuple(sorted(keep)), tuple(i for i in range(len(needs)) if i not in keep)


def check_inplace(target: Tensor) -> None:
    """torch's refusal to overwrite a leaf that requires grad (or a view of one) while
    recording, and torch's refusal to write an inference tensor outside inference mode."""
    if type(target._vc) is not list and not _state.inference:
        from ember._runtime import INPLACE_OUTSIDE

        raise RuntimeError(INPLACE_OUTSIDE)
    if _state.enabled:
        base = target._base
        if base is not None:
            if target._grad_fn is not None:
                _check_view_writable(target)
            elif "_no_grad_version" in target.__dict__:
                raise RuntimeError("A view was created in no_grad mode and is being modified "
                                   "inplace with grad mode enabled." + _NO_GRAD_VIEW)
            if base._requires_grad and base._grad_fn is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
        if target._requires_grad and target._grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")


# NOTE [Views that refuse writes]
# An in-place write through a view rewrites its base's history (``_copy_slices``), which
# torch refuses for two kinds of view, and for any view of one (the refusal is inherited):
# an output of an op that returns several views (``unbind``, ``split``: the others would
# keep stale histories), and a view a custom Function returned (made inside its forward, or
# an input returned as it is: the rewrite would bypass the Function's own backward; with
# several outputs torch gives the first kind's message). Such a custom output carries
# ``_made_in`` ("custom" or "multi"); the walk up the view links happens only for a write.
_VIEW_WRITE = {
    "multi": "This view is the output of a function that returns multiple views. Such "
             "functions do not allow the output views to be modified inplace. You should "
             "replace the inplace operation by an out-of-place one.",
    "custom": "This view was created inside a custom Function (or because an input was "
              "returned as-is) and the autograd logic to handle view+inplace would override "
              "the custom backward associated with the custom Function, leading to incorrect "
              "gradients. This behavior is forbidden. You can fix this by cloning the output "
              "of the custom Function.",
}


def _view_kind(view: Tensor) -> str | None:
    """"multi" or "custom" when ``view`` (or a view it was made from) is a view NOTE [Views
    that refuse writes] names, else None."""
    t = view
    while True:
        state = t.__dict__
        kind = state.get("_made_in")
        source = state.get("_view_src")
        if kind is None and source is not None and source[3] is not None:
            kind = "multi"
        if kind is not None:
            return kind
        if source is None:
            return None
        t = source[1]
        if t._base is None:
            return None


def _view_refusal(view: Tensor, kind: str, what: str) -> RuntimeError:
    name = view._grad_fn.name()
    cut = name.rfind("Backward")
    return RuntimeError(f"Output {view._output_nr} of {name[:cut] if cut > 0 else name} is a "
                        f"view and {what}. {_VIEW_WRITE[kind]}")


def _check_view_writable(view: Tensor) -> None:
    kind = _view_kind(view)
    if kind is None:
        return
    if view._grad_fn is None:  # made from a tensor that needed no gradient: torch's view of no_grad
        raise RuntimeError("A view was created in no_grad mode and is being modified inplace "
                           f"with grad mode enabled. {_VIEW_WRITE[kind]}")
    raise _view_refusal(view, kind, "is being modified inplace")


# NOTE [Memory overlap]
# torch refuses some writes whose input shares memory with the tensor written to, judged as
# its memory-overlap test judges: only when both tensors cover their memory densely, each
# element once (any order of dims), is the overlap decided, from their byte ranges: the
# same range with the same strides is a full overlap, any other intersection a partial
# one; for a tensor with gaps (``x[::2]``) or repeats it is too hard to tell, and nothing
# is refused. copy_-like writes refuse a partial overlap, index writes (index_put_,
# scatter_, index_copy_, put_, ...) any overlap with their source or index.
_OVERLAP_MESSAGE = ("unsupported operation: some elements of the input tensor and the "
                    "written-to tensor refer to a single memory location. Please clone() the "
                    "tensor before performing the operation.")


def _dense_range(data: ndarray) -> tuple | None:
    """The byte range ``[begin, end)`` that ``data`` covers exactly once, or None when it
    leaves gaps or repeats elements."""
    begin = data.__array_interface__["data"][0]
    end = begin + data.size * data.itemsize
    if data.flags.c_contiguous or data.flags.f_contiguous:
        return begin, end
    step = data.itemsize
    for stride, size in sorted((st, n) for st, n in zip(data.strides, data.shape) if n != 1):
        if stride != step:
            return None
        step *= size
    return begin, end


def memory_overlap(a: ndarray, b: ndarray) -> str | None:
    """``"full"``, ``"partial"`` or None (no overlap, or too hard to tell): how the memory
    of ``a`` and ``b`` overlaps as torch judges it (NOTE [Memory overlap])."""
    if a is b:
        return "full"
    if a.size == 0 or b.size == 0 or not np.may_share_memory(a, b):
        return None
    range_a = _dense_range(a)
    range_b = _dense_range(b)
    if range_a is None or range_b is None:
        return None
    if range_a == range_b:
        # a size-1 dim's stride is arbitrary in NumPy: only the others tell the layouts apart
        same = a.ndim == b.ndim and all(
            sa == sb for sa, sb, n in zip(a.strides, b.strides, a.shape) if n != 1)
        return "full" if same else "partial"
    return "partial" if range_a[0] < range_b[1] and range_b[0] < range_a[1] else None


def check_no_overlap(target: Tensor, *others, partial_only: bool = False) -> None:
    """torch's refusal of a write into ``target`` from tensors (or arrays) among ``others``
    that share its memory (NOTE [Memory overlap]); with ``partial_only`` a full overlap is
    allowed."""
    data = target._data
    vc = target._vc
    for other in others:
        if isinstance(other, Tensor):
            # another tensor's memory is its own unless it is a view of the same base, which
            # shares the counter (NOTE [Version counters]): torch compares storages too
            if other._vc is not vc:
                continue
            other = other._data
        if isinstance(other, ndarray):
            found = memory_overlap(data, other)
            if found == "partial" or found == "full" and not partial_only:
                raise RuntimeError(_OVERLAP_MESSAGE)


def inplace(fn, target: Tensor, *args, **kwargs) -> Tensor:
    """torch's ``op_``: compute ``fn(target, *args, **kwargs)`` out of place, then write the
    result into ``target``'s memory (views of it see the change), bump its version counter
    (NOTE [Version counters]) and move its history onto the new node. Nothing is written
    when ``fn`` or a check raises."""
    check_inplace(target)
    out = fn(target, *args, **kwargs)
    phys = out.__dict__.get("_phys")
    if phys is not None:
        batching.check_inplace(target, phys)
    data = target._data
    result = out._data
    if result.shape != data.shape:
        raise RuntimeError(
            f"output with shape {list(data.shape)} doesn't match the broadcast shape "
            f"{list(result.shape)}")
    if result.dtype != data.dtype and not _dtype.can_cast_np(result.dtype, data.dtype):
        raise RuntimeError(
            f"result type {_dtype.scalar_type_name(_dtype.from_np(result.dtype))} can't be "
            f"cast to the desired output type "
            f"{_dtype.scalar_type_name(_dtype.from_np(data.dtype))}")
    if not data.flags.writeable:  # an expanded view: one element stands for several
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation.")
    if "_fw" in out.__dict__ or "_fw" in target.__dict__:
        forward_ad.write_inplace(target, out)
    node = out._grad_fn
    if node is not None and isinstance(node._args, tuple) and any(
            a is target for a in node._args):
        _keep_original(node, target)
    data[...] = result
    if phys is not None:  # every sample (vmap); ``data`` is the first one's view
        target._phys.array[...] = phys.array
    target._vc[0] += 1
    if node is None:
        return target
    if phys is not None and node._result is not None:
        node._result = Packed(_KEEP, target)  # a batched output must come back batched
    elif node._result is not None:
        # The saved output is now ``target`` itself: later writes to it must be caught.
        node._result = (data, target._vc, target._vc[0])
    if target._base is not None:
        _copy_slices(target, out)
    else:
        if not target._requires_grad:
            history_given(target._vc, 1 if node._result is None else 2)
        target._grad_fn = node
        target._requires_grad = True
        target._output_nr = 0
    return target


def _view_chain(view: Tensor) -> list:
    """The view ops that make ``view`` from its base, base first."""
    chain = []
    while view._base is not None:
        op, parent, params, index, _ = view._view_src
        chain.append((op, params, index))
        view = parent
    chain.reverse()
    return chain


def replay_view(t: Tensor, chain: list) -> Tensor:
    """Apply a view chain (from ``_view_chain``) to another tensor of the base's shape."""
    for op, params, index in chain:
        t = run(op, t, *params)
        if index is not None:
            t = t[index]
    return t


def _copy_slices_base(grad, base, value, chain):
    from ember._ops.creation import full_like
    from ember._ops.pointwise import where

    grad = grad.contiguous()  # laid out as the base the chain was recorded on
    is_complex = grad._data.dtype.kind == "c"
    with grad_mode.no_grad():
        # The mask has the gradient's dtype, not bool: a chain may reinterpret the dtype
        # (``view_as_real``, ``view_as_complex``), which a bool mask cannot replay.
        keep = full_like(grad, 1 + 1j if is_complex else 1)
        op, params, _ = chain[0]
        if op.name == "as_strided":  # the mask must be laid out like the base to be written
            from ember._ops.shape import lay_out

            keep = make(lay_out(np, keep._data, params[4]))
        replay_view(keep, chain).zero_()
    # zeros where the write landed, whatever arrived there (a nan times 0 would stay nan)
    if is_complex:
        # A write through ``view_as_real`` may land on one part of a complex element only:
        # the mask is applied to the real and imaginary parts one by one.
        from ember._ops.shape import view_as_complex, view_as_real

        parts = where(view_as_real(keep) != 0, view_as_real(grad), 0)
        return view_as_complex(parts)
    return where(keep != 0, grad, 0)


COPY_SLICES = defop(
    "copy_slices", node="CopySlices", nin=2, kind=KEEP, promote=(),
    forward=None,  # never run: the write itself happens in place (see ``inplace``)
    backward=(_copy_slices_base,
              # the chain was recorded on the (contiguous) base, and a view step such as
              # ``view(12, 2)`` cannot be replayed on a gradient laid out otherwise
              lambda grad, base, value, chain: replay_view(grad.contiguous(), chain)),
    # The formulas only route the gradient: conjugating it around them (NOTE [Complex
    # gradients]) would flip the imaginary parts that a ``view_as_real`` step reads as reals.
    real_formulas=False)
COPY_SLICES.node_cls.name = lambda self: "torch::autograd::CopySlices"  # torch's spelling


def _copy_slices(view: Tensor, value: Tensor) -> None:
    """An in-place op wrote ``value`` through ``view``: the base's new history is torch's
    CopySlices (its old history outside the view, ``value``'s inside), and the view's is
    the same view of the new base."""
    base = view._base
    chain = _view_chain(view)
    if view._grad_fn is None:  # check_inplace saw no history: a write that records one
        _check_view_writable(view)
    node = _record(COPY_SLICES, (base, value, chain))  # base's edge is still its old history
    if not base._requires_grad:
        history_given(base._vc, 2)  # the base and the view written
    base._grad_fn = node
    base._requires_grad = True
    base._output_nr = 0
    made = _regenerate(view, base, chain)
    if made is not chain:  # the view had to be made by its memory position
        node._args = node._args[:2] + (made,)


def _regenerate(view: Tensor, base: Tensor, chain: list) -> list:
    """Give ``view`` the history of its recipe ``chain`` replayed on ``base``'s (recorded,
    whatever the grad mode); returns the chain that made it."""
    prev = _state.enabled
    _state.enabled = True
    try:
        if "_restrided" in base.__dict__:  # set by the in-place view ops (shape._restride)
            regenerated = _replay_if_fits(base, chain, view._data)
        else:  # the common path: nothing restrided in place, the recipe still makes the view
            regenerated = replay_view(base, chain)
        if regenerated is None:
            # The base (or a view between it and this one) was restrided in place since the
            # view was made (``t_``, ``as_strided_``): the recipe may no longer make the view,
            # its memory position still does (torch regenerates such a view with as_strided).
            from ember._ops.shape import as_strided_recipe

            chain = as_strided_recipe(view, base)
            regenerated = replay_view(base, chain)
            view._view_src = regenerated._view_src
    finally:
        _state.enabled = prev
    view._grad_fn = regenerated._grad_fn
    view._requires_grad = True
    view._output_nr = regenerated._output_nr
    view._view_src = view._view_src[:4] + (view._vc[0],)
    return chain


def _replay_if_fits(base: Tensor, chain: list, data: ndarray):
    """``replay_view(base, chain)`` when it gives the view of ``data``'s shape and memory
    position, else None."""
    try:
        regenerated = replay_view(base, chain)
    except (IndexError, ValueError, RuntimeError):
        return None
    made = regenerated._data
    if made.shape != data.shape or made.strides != data.strides or (
            data.size and made.__array_interface__["data"][0]
            != data.__array_interface__["data"][0]):
        return None
    return regenerated


def _keep_original(node, target: Tensor) -> None:
    """The node saved ``target``, which is about to be overwritten: give it a copy of the
    values it saw, with the same history (torch saves the original self likewise)."""
    original = make(target._data.copy(), target._requires_grad, target._grad_fn,
                    [target._vc[0]])
    original._output_nr = target._output_nr
    phys = target.__dict__.get("_phys")
    if phys is not None:  # a batched tensor (vmap): keep every sample's values
        array = phys.array.copy()
        original._data = array[(0,) * len(phys.levels)]
        original._phys = batching.Batched(array, phys.levels)
    node._args = tuple(original if a is target else a for a in node._args)


def run_inplace(op: Op, target: Tensor, *args) -> Tensor:
    """``inplace`` for one op record: ``op_(target, *args)``."""
    return inplace(_run_on, target, op, *args)


def _run_on(target: Tensor, op: Op, *args) -> Tensor:
    return run(op, target, *args)
