"""The recorded graph: ``Node`` (what ``tensor.grad_fn`` is), one node class per op named as
torch names it (``MulBackward0``), and ``AccumulateGrad`` for leaves.

There are no reference cycles: tensors point at their ``grad_fn``, nodes point at the nodes
of their inputs (``next_functions``) and at the tensors they saved; a leaf owns its
``AccumulateGrad``, which points back at the leaf only weakly. A graph is freed as soon as
its last output tensor goes. (torch's AccumulateGrad holds its leaf strongly; ember's weak
reference means a leaf nobody else holds is not kept alive just to receive a gradient no
one can read.)
"""
from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from sys import getrefcount
from typing import NamedTuple

from ember import _memory_format as _mf
from ember._backend import np
from ember._tensor import Tensor, c_type_name
from ember._tensor import make as make_tensor
from ember.autograd import grad_mode

# Ready nodes run newest first (as in torch); ``_key`` is the negated creation order, and
# AccumulateGrad nodes sort before every op node so a leaf's gradient lands as soon as it is
# complete.
_counter = itertools.count()
_ACC_KEY_BASE = -(1 << 62)

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")

_FREED = ("freed",)  # stands in for a node's saved arguments once backward released them


class Node:
    """Mirrors ``torch.autograd.graph.Node``: ``name()``, ``next_functions``, hooks, metadata."""

    # NOTE [Edges as two tuples]: a node's edges are kept as ``_next`` (the next nodes, None
    # where an input needs no gradient) and ``_nrs`` (which output of each, a tuple of ints
    # that the garbage collector stops tracking, often a shared constant) rather than as
    # torch's tuple of (node, index) pairs: one tracked container per node instead of one
    # per edge plus one, and every tracked object a graph keeps alive brings the next full
    # collection nearer. ``next_functions`` builds torch's pairs when asked.
    __slots__ = ("_next", "_nrs", "_key", "_extra", "__weakref__")
    num_outputs = 1
    _op = None  # the op record of an OpNode (its slot); graph programs ask any node

    @property
    def next_functions(self) -> tuple:
        """Mirrors ``Node.next_functions``: one (node, output index) pair per input, (None,
        0) for an input that needs no gradient."""
        return tuple(zip(self._next, self._nrs))

    @next_functions.setter
    def next_functions(self, edges) -> None:
        # ember's own nodes made outside ``registry`` (custom Function, vmap) set their edges
        # as torch's pairs
        self._next = tuple([fn for fn, _ in edges])
        self._nrs = tuple([nr for _, nr in edges])

    def name(self) -> str:
        return type(self).__name__

    @property
    def metadata(self) -> dict:
        return self._extras().setdefault("metadata", {})

    def _extras(self) -> dict:
        if self._extra is None:
            self._extra = {}
        return self._extra

    def register_hook(self, fn):
        """Mirrors ``Node.register_hook``: ``fn(grad_inputs, grad_outputs)`` runs after the
        node; it may return replacement gradients for the node's inputs."""
        from ember.utils.hooks import add_hook

        return add_hook(self._extras().setdefault("post", OrderedDict()), fn)

    def register_prehook(self, fn):
        """Mirrors ``Node.register_prehook``: ``fn(grad_outputs)`` runs before the node; it may
        return replacement gradients for the node's outputs."""
        from ember.utils.hooks import add_hook

        return add_hook(self._extras().setdefault("pre", OrderedDict()), fn)

    def apply(self, grads: list) -> tuple:
        raise NotImplementedError  # every concrete node class defines it

    def release(self) -> None:
        """Drop saved tensors after a backward that does not retain the graph."""

    def __call__(self, *grads, **kwargs):
        """Mirrors calling a node: its formulas on the gradients of its outputs, one per
        output; the gradient of its one input as it is, else a tuple of them."""
        if kwargs:
            raise TypeError("keyword arguments are not supported")
        if len(grads) != self.num_outputs:
            raise TypeError(f"expected {self.num_outputs} arguments, got {len(grads)} instead")
        result = self.apply(list(grads))
        return result[0] if len(result) == 1 else tuple(result)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"


# The active (pack, unpack) pairs of ``saved_tensors_hooks``, innermost last.
saved_hooks: list = []


class Packed:
    """A saved tensor as a pack hook returned it; ``unpack()`` gives the tensor back."""

    __slots__ = ("_unpack", "_value")

    def __init__(self, hooks: tuple, tensor) -> None:
        pack, self._unpack = hooks
        self._value = _without_hooks(pack, tensor)

    def unpack(self):
        tensor = _without_hooks(self._unpack, self._value)
        if not isinstance(tensor, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(tensor).__name__}")
        return tensor


class _PackedNumber(Packed):
    """A number an op saved (``x * 2``'s 2), routed through hooks as torch routes it: as a
    0-d tensor (its wrapped number), given back to the formula as a number again."""

    __slots__ = ()

    def unpack(self):
        return Packed.unpack(self).item()


class SavedTensor:
    """Mirrors ``torch._C._autograd.SavedTensor`` (``grad_fn._raw_saved_self``): one tensor
    a node saved, whose ``register_hooks(pack_hook, unpack_hook)`` routes it through a pair
    of hooks from now on (``pack_hook`` runs at once, ``unpack_hook`` when backward reads
    it; the hooks then own the value, so in-place writes to the tensor are not checked)."""

    __slots__ = ("_node", "_index")

    def __init__(self, node, index) -> None:
        self._node = node
        self._index = index  # an input's position, or None: the node's result

    def register_hooks(self, pack_hook, unpack_hook) -> None:
        if not (callable(pack_hook) and callable(unpack_hook)):
            raise TypeError(
                "register_hooks(): incompatible function arguments. The following argument "
                "types are supported:\n    1. (self: torch._C._autograd.SavedTensor, arg0: "
                "collections.abc.Callable, arg1: collections.abc.Callable) -> None\n\nInvoked "
                f"with: {self!r}, {pack_hook!r}, {unpack_hook!r}")
        node, index = self._node, self._index
        if node._args is _FREED:
            raise RuntimeError(
                "Calling register_hooks on a saved tensor after it has been freed. Saved "
                "intermediate values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through "
                "the graph a second time or if you need to access saved variables after "
                "calling backward.")
        value = node._result if index is None else node._args[index]
        if value is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is "
                               "forbidden")
        if isinstance(value, Packed):
            raise RuntimeError(
                "Calling register_hooks on a saved tensor whose hooks have already been set. "
                "Hint: only one pair of hooks is allowed at a time.")
        hooks = (pack_hook, unpack_hook)
        if index is None:
            node._result = Packed(hooks, node._unpack_result())
        else:
            packed = Packed(hooks, value) if isinstance(value, Tensor) else \
                _PackedNumber(hooks, _wrapped(value))
            node._args = node._args[:index] + (packed,) + node._args[index + 1:]
        node._versions = None  # the hooks own the saved value now
        node._extras()["packed"] = True

    def __repr__(self) -> str:
        return f"<torch._C._autograd.SavedTensor object at {hex(id(self))}>"


def _without_hooks(hook, value):
    # A hook's own ops save tensors too; as in torch, those are not routed through hooks.
    active = saved_hooks[:]
    saved_hooks.clear()
    try:
        return hook(value)
    finally:
        saved_hooks[:] = active


class saved_tensors_hooks:
    """Mirrors ``torch.autograd.graph.saved_tensors_hooks``: inside it, every tensor a node
    saves for backward goes through ``pack_hook(tensor)`` and comes back through
    ``unpack_hook(packed)`` when backward needs it."""

    def __init__(self, pack_hook, unpack_hook) -> None:
        self.hooks = (pack_hook, unpack_hook)

    def __enter__(self):
        if _hooks_disabled:
            raise RuntimeError(_hooks_disabled[-1])
        saved_hooks.append(self.hooks)
        return self

    def __exit__(self, *exc) -> None:
        saved_hooks.remove(self.hooks)


class _AllowMutationOnSavedContext:
    """What ``allow_mutation_on_saved_tensors`` returns: the graph recorded inside it
    belongs to it, and its backward must run inside it too."""

    def __init__(self) -> None:
        self.active = True


_mutation_context: list = []


class allow_mutation_on_saved_tensors:
    """Mirrors ``torch.autograd.graph.allow_mutation_on_saved_tensors``: inside it, a tensor
    saved for backward may be written in place afterwards, and backward (run inside it too)
    still reads the values the forward saw. torch clones a saved tensor when it is first
    written; ember keeps a copy of each saved tensor from the start (the same values, more
    memory inside the context)."""

    def __enter__(self) -> _AllowMutationOnSavedContext:
        if _mutation_context:
            raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
        context = _AllowMutationOnSavedContext()

        def pack(t):
            return context, t.detach().clone()

        def unpack(packed):
            owner, t = packed
            if not owner.active:
                raise AssertionError(
                    "Trying to backward outside of the 'allow_mutation_on_saved_tensors' "
                    "contextin which the graph was originally recorded.")
            return t

        self.hooks = saved_tensors_hooks(pack, unpack)
        self.hooks.__enter__()
        _mutation_context.append(context)
        return context

    def __exit__(self, *exc) -> None:
        self.hooks.__exit__(*exc)
        _mutation_context.pop().active = False


_hooks_disabled: list = []  # the messages of the disable_saved_tensors_hooks in force


class disable_saved_tensors_hooks:
    """Mirrors ``torch.autograd.graph.disable_saved_tensors_hooks``: inside it, entering
    ``saved_tensors_hooks`` raises ``RuntimeError(error_message)`` (the innermost's), as does
    entering it while saved-tensor hooks are active."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message

    def __enter__(self):
        if saved_hooks:
            raise RuntimeError(self.error_message)
        _hooks_disabled.append(self.error_message)
        return self

    def __exit__(self, *exc) -> None:
        _hooks_disabled.pop()

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with disable_saved_tensors_hooks(self.error_message):
                return fn(*args, **kwargs)
        return wrapped


class save_on_cpu(saved_tensors_hooks):
    """Mirrors ``torch.autograd.graph.save_on_cpu``; ember's tensors already live on the
    CPU, so saved tensors are kept as they are."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        super().__init__(lambda t: t, lambda t: t)


def pack_saved(node, hooks: tuple) -> None:
    """Route the tensors ``node`` saved through the innermost pack hook."""
    node._args = tuple(Packed(hooks, a) if isinstance(a, Tensor) else a for a in node._args)
    node._versions = None  # the hooks own the saved values now
    node._extras()["packed"] = True


class OpNode(Node):
    """The node of one op call. ``_args`` are the op's arguments, with the tensors the op's
    backward does not need replaced by None; ``_meta`` holds (shape, numpy dtype) of each
    input that needs a gradient, so the engine can reduce broadcast gradients and cast them
    back (see ``fit_gradient``)."""

    __slots__ = ("_op", "_args", "_versions", "_result", "_meta", "_params")

    def apply(self, grads: list) -> list:
        grad = grads[0]
        if grad is not None and grad._data.dtype.kind == "c" and self._op.real_formulas:
            return self._apply_conjugated(grad)
        return self._apply(grad)

    def _apply_conjugated(self, grad) -> list:
        # NOTE [Complex gradients]: torch's gradient of a real loss L with respect to a
        # complex z is dL/d(re z) + i dL/d(im z), so an op whose derivative is f'(z) passes
        # back grad * conj(f'(z)). Formulas are written as for real numbers (grad * f'(z));
        # conjugating the incoming gradient and every result turns the one into the other
        # for every such formula (products, quotients, matmul, views, sums, ...). An op whose
        # formulas already handle complex numbers says so with ``real_formulas=False``.
        if type(grad) is list:
            grad = [None if g is None else g.conj() for g in grad]
        else:
            grad = grad.conj()
        return [None if g is None else g.conj() for g in self._apply(grad)]

    def _apply(self, grad) -> list:
        op = self._op
        args = self._args
        if args is _FREED:
            raise RuntimeError(SECOND_BACKWARD)
        if self._versions:
            check_versions(self, args, self._versions)
        if self._extra is not None and "packed" in self._extra:
            args = tuple(a.unpack() if isinstance(a, Packed) else a for a in args)
        if self._result is not None:
            args = (*args, self._unpack_result())
        programs = None
        if op.replayed and not op.multi and not _watched():
            programs = _late[4]  # NOTE [Formula programs]
        out = []
        for fn, node, meta in zip(op.backward, self._next, self._meta):
            if node is None or fn is None or grad is None:
                out.append(None)
            else:
                # None: no gradient (torch's undefined gradient)
                g = fn(grad, *args) if programs is None else programs(op, fn, grad, args)
                if g is None:
                    out.append(None)
                else:
                    # fit_gradient, when there is something to fit
                    data = g._data
                    out.append(g if data.shape == meta[0] and (
                        data.dtype is meta[1] or data.dtype == meta[1])
                        else fit_gradient(g, meta))
        return out

    def __getattr__(self, name: str):
        # grad_fn._saved_self, ._saved_other, ._saved_result, ._saved_exponent, ...
        # (only reached when normal lookup fails, so the engine never pays for it)
        if name.startswith("_raw_saved_"):
            key = name[11:]
            op = self._op
            if key == "result" and op.save_result and not op.multi:
                return SavedTensor(self, None)
            if key in op.arg_names[:op.nin]:
                return SavedTensor(self, op.arg_names.index(key))
        elif name.startswith("_saved_"):
            key = name[7:]
            op = self._op
            if key == "result" and op.save_result:
                if self._args is _FREED:
                    raise RuntimeError(SECOND_BACKWARD)
                return self._unpack_result()
            if key in op.arg_names:
                index = op.arg_names.index(key)
                if self._args is _FREED:
                    if index < op.nin and index not in self._kept_inputs():
                        return None  # never saved: torch answers None after backward too
                    if index >= op.nin:  # a parameter: torch keeps its numbers
                        value = self._params[index - op.nin]
                        if not isinstance(value, (Packed, Tensor)):
                            return value
                    raise RuntimeError(SECOND_BACKWARD)
                value = self._args[index]
                if isinstance(value, Packed):
                    return value.unpack()
                if index < op.nin and op.scalar_array and type(value) in _WRAPPED:
                    return _wrapped(value)
                return value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __dir__(self) -> list:
        # torchviz finds a node's saved values by dir(). As torch's, the list is the node
        # type's: an input this node did not keep is listed, and reads None.
        op = self._op
        names = op.saved_names
        if names is None:
            names = [name for i, name in enumerate(op.arg_names)
                     if i >= op.nin or i in op.save_idx]
            if op.save_result:
                names.append("result")
        return sorted(set(super().__dir__()).union(f"_saved_{name}" for name in names))

    def _kept_inputs(self) -> tuple:
        # the inputs this node saved (registry's Op.kept, by which inputs need a gradient)
        op = self._op
        if op.kept is None:
            return op.save_idx
        mask = 0
        for i, nxt in enumerate(self._next):
            if nxt is not None:
                mask |= 1 << i
        return op.kept[mask][0]

    def _unpack_result(self):
        if type(self._result) is list:
            return self._unpack_results()
        if type(self._result) is Packed:
            saved = self._result.unpack()
            out = make_tensor(saved._data, True, self, saved._vc)
            if "_phys" in saved.__dict__:  # a batched output (vmap) stays batched
                out._phys = saved._phys
        else:
            data, version, saved_version = self._result
            if version[0] != saved_version:
                raise RuntimeError(version_error(data, self.name(), version[0], saved_version))
            out = make_tensor(data, True, self, version)
        if self._extra is not None and self._extra.get("fw"):
            out._fw = self._extra["fw"]  # NOTE [Saved outputs keep their tangents]
        return out

    def _unpack_results(self) -> tuple:
        # A several-output op's saved outputs (see registry._outputs), one tensor each,
        # output i of this node; outputs past the differentiable ones have no grad_fn.
        multi = self._op.multi
        n_diff = len(self._result) if multi is True else multi
        tangents = self._extra.get("fw") if self._extra is not None else None
        outs = []
        for i, entry in enumerate(self._result):
            if entry is None:  # an output the op does not keep (registry's saved_outputs)
                outs.append(None)
                continue
            phys = None
            if type(entry) is Packed:
                saved = entry.unpack()
                data, version = saved._data, saved._vc
                phys = saved.__dict__.get("_phys")  # a batched output (vmap) stays batched
            else:
                data, version, saved_version = entry
                if version[0] != saved_version:
                    where = f", which is output {i} of {_short_name(self.name())},"
                    raise RuntimeError(
                        version_error(data, None, version[0], saved_version, where))
            if i < n_diff:
                t = make_tensor(data, True, self, version)
                t._output_nr = i
            else:
                t = make_tensor(data, False, None, version)
            if phys is not None:
                t._phys = phys
            if tangents is not None and tangents[i]:
                t._fw = tangents[i]  # NOTE [Saved outputs keep their tangents]
            outs.append(t)
        return tuple(outs)

    def release(self) -> None:
        if self._versions is not None or self._result is not None or (
                self._extra is not None and "packed" in self._extra):
            # the parameters (numbers, dims) stay readable, as torch's ``_saved_exponent``
            self._params = self._args[self._op.nin:]
            self._args = _FREED
            self._result = None


# A Python number where torch's op takes a tensor (``x * 2``, ``x / 2.5``) is, in torch, a
# "wrapped number": a 0-d tensor of the number's default type, and its node saves that tensor.
_WRAPPED = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}


def _wrapped(value):
    return make_tensor(np.asarray(value, _WRAPPED[type(value)]))


class MultiOutputNode(OpNode):
    """The node of an op with several outputs (unbind, split, ...): its backward formulas
    get ``grads``, one per output, None where no gradient arrived."""

    __slots__ = ("num_outputs",)

    def apply(self, grads: list) -> list:
        if self._op.real_formulas and any(
                g is not None and g._data.dtype.kind == "c" for g in grads):
            return self._apply_conjugated(grads)
        return self._apply(grads)


def check_versions(node: Node, args: tuple, versions: tuple) -> None:
    # NOTE [Version counters]: every tensor holds a one-element list ``_vc``; a view
    # shares its base's list, and every in-place op bumps it. A node records the counter
    # value of each tensor it saves; if the value moved before backward, the saved data is
    # no longer what the forward saw, and torch's "modified by an inplace operation" error
    # is raised instead of a wrong gradient.
    for index, saved_version in versions:
        t = args[index]
        if t._vc[0] != saved_version:
            fn = t._grad_fn
            where = (f", which is output {t._output_nr} of {_short_name(fn.name())},"
                     if fn is not None else "")
            raise RuntimeError(version_error(t._data, None, t._vc[0], saved_version, where))


def version_error(data, node_name, version: int, expected: int, where: str = "") -> str:
    from ember._dtype import legacy_type_name

    if node_name is not None:
        where = f", which is output 0 of {_short_name(node_name)},"
    shape = ", ".join(str(s) for s in data.shape)
    return (
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{legacy_type_name(data.dtype)} [{shape}]]{where} is at version "
        f"{version}; expected version {expected} instead. Hint: enable anomaly detection to "
        "find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def _short_name(node_name: str) -> str:
    # torch names the op, not the node, here: MulBackward0 -> Mul, FillBackward2 -> Fill2.
    return node_name.replace("Backward0", "").replace("Backward", "")


def fit_gradient(grad, meta):
    """Reduce a broadcast gradient to its input's shape and cast it to the input's dtype:
    the one place where broadcasting is undone (torch does this when it validates a node's
    outputs)."""
    shape, np_dtype = meta
    data = grad._data
    if data.shape != shape:
        if _watched():
            grad = sum_to(grad, shape)
        else:  # NOTE [Direct gradient sums]
            lead, dims = _summed_dims(data.shape, shape)
            summed = _late[3](np, data, dims, True, data.shape, data.dtype)
            grad = make_tensor(summed.reshape(shape) if lead else summed)
    if data.dtype != np_dtype:
        from ember._dtype import from_np

        if data.dtype.kind == "c" and np_dtype.kind != "c":  # a real input's gradient
            grad = grad.real
        grad = grad.to(from_np(np_dtype))
    return grad


# NOTE [Direct gradient sums]
# A gradient that broadcasting widened is summed back to its input's shape in every backward
# of a broadcasting op (a bias, a 0-d weight). Outside create_graph, with no mode watching
# the ops (profiler, autocast, compile's tracer) and no vmap or forward-mode level, nothing
# records that sum, so the engine calls the sum's forward (the same function, so the same
# accumulator and bits) and wraps the array, instead of running two ops (sum, view): 2-3 us
# less per broadcast gradient. Where something watches, the ops run as torch's do.

# What the backward's shortcuts need, bound at first use (these modules import this one):
# registry, batching and forward_ad (whether anything watches the ops), the sum's forward
# (NOTE [Direct gradient sums]) and ``programs.call`` (NOTE [Formula programs]).
_late = None


def _watched() -> bool:
    """Whether the ops a formula runs are watched: recorded (grad mode, ``create_graph``),
    seen by an op mode (profiler, autocast, compile's tracer) or batched (vmap, forward
    mode)."""
    global _late
    if _late is None:
        from ember._ops import batching, registry
        from ember._ops.reduction import SUM_DIM
        from ember.autograd import forward_ad, programs

        _late = (registry, batching, forward_ad, SUM_DIM.forward, programs.call)
    return bool(grad_mode.state.enabled or _late[0]._modes or _late[1].levels
                or _late[2].levels)


def _summed_dims(wide: tuple, shape: tuple) -> tuple:
    """(how many leading dims, the dims to sum with keepdim) that take a gradient of shape
    ``wide`` back to ``shape``, from which broadcasting widened it."""
    key = (wide, shape)
    found = _SUMMED.get(key)
    if found is None:
        if len(_SUMMED) >= 1024:  # a model's few pairs of shapes, not every shape ever seen
            _SUMMED.clear()
        lead = len(wide) - len(shape)
        found = _SUMMED[key] = lead, tuple(range(lead)) + tuple(
            lead + i for i, size in enumerate(shape) if size == 1 and wide[lead + i] != 1)
    return found


_SUMMED: dict = {}  # _summed_dims's answers: a bias's gradient asks the same every step


def sum_to(grad, shape: tuple):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched to reach its
    shape from ``shape`` (HIPS autograd's ``unbroadcast``)."""
    lead, dims = _summed_dims(grad._data.shape, shape)
    if dims:
        grad = grad.sum(dims, keepdim=True)
    if lead:
        grad = grad.view(shape)
    return grad


def call_tensor_hook(hook, grad):
    """A tensor hook's view of a gradient, ``None`` included (torch calls tensor hooks for a
    gradient that never arrived too): the replacement it returns, or ``grad``."""
    new = hook(grad)
    if new is not None:
        check_hook_result(hook, grad, new)
        return new
    return grad


def check_hook_result(hook, original, new) -> None:
    """torch's checks of a gradient ``new`` (not None) that ``hook`` returned in place of
    ``original``: a tensor, where a gradient arrived, of its dtype and size (a hook cannot
    cast or reshape a gradient behind the engine's back)."""
    if original is None:
        raise RuntimeError("can't replace a None gradient with a non-None value")
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{c_type_name(new)}'")
    if new._data.dtype != original._data.dtype:
        raise RuntimeError(
            f"hook '{hook_name(hook)}' has changed the type of value (was "
            f"{_type_string(original)} got {_type_string(new)})")
    if new._data.shape != original._data.shape:
        raise RuntimeError(f"hook '{hook_name(hook)}' has changed the size of value")


def hook_name(hook) -> str:
    """How torch's hook errors name a hook: its ``__name__``, else ``<unknown>`` (a
    callable object, a ``functools.partial``)."""
    name = getattr(hook, "__name__", None)
    return name if isinstance(name, str) else "<unknown>"


# the scalar types whose CPU tensors had a class of their own in torch's first type system:
# torch's ``Tensor::toString()`` names them so, any other as ``CPU<ScalarType>Type``
_CLASSIC_TYPES = frozenset(("uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                            "float64"))


def _type_string(t: Tensor) -> str:
    from ember import _dtype

    if t._data.dtype.name in _CLASSIC_TYPES:
        return t.type()
    return f"CPU{_dtype.scalar_type_name(t.dtype)}Type"



# NOTE [Leaf gradient layout]
# torch's AccumulateGrad gives a leaf's first gradient a layout by a contract: when the leaf
# is non-overlapping and dense, the gradient takes the leaf's strides (channels_last
# parameters after ``model.to(memory_format=...)``, a transposed leaf), unless the incoming
# gradient already has them on every dim of size other than 1 (and no zero stride on a
# size-1 dim), when it keeps its own; any other leaf's gradient is C-ordered. Later
# gradients are added in place and keep the layout. Under ``create_graph`` the first
# gradient is copied into that layout by a recorded ``copy_`` (its node ``CopyBackwards``,
# its version 1, as torch's), later ones are added out of place, both keeping the graph.


def _first_grad_strides(variable, incoming) -> tuple | None:
    """The element strides NOTE [Leaf gradient layout] gives the first gradient
    ``incoming`` of the leaf array ``variable``; None: C order."""
    if (variable.flags.c_contiguous and 1 not in variable.shape) or variable.size == 0:
        return None  # the common case, C order, decided without strides
    return _leaf_grad_strides(variable, incoming)


def _first_grad(variable, incoming):
    """The array stored as a leaf's first gradient: a copy of ``incoming`` laid out as NOTE
    [Leaf gradient layout] says for the leaf array ``variable``."""
    strides = _first_grad_strides(variable, incoming)
    if strides is None:
        return _c_copy(incoming)
    return _mf.copy_with_strides(incoming, strides)


# NOTE [0-d accumulation]
# A later gradient is added into the leaf's own array. On a 0-d array NumPy's in-place add
# (``+=``, ``add(..., out=)``) takes twice as long as adding into a scalar and storing it
# (``a[()] = a + g``: 0.3 against 0.7 us), and a scalar's add is the same float operation in
# the same dtype, stored with the same cast, so the bits are the same.


# NOTE [Stealing a gradient]
# As torch's AccumulateGrad does, a leaf's first gradient is stored without a copy when
# nothing else can reach it and it already has the layout NOTE [Leaf gradient layout]
# gives. CPython's reference counts tell: the engine holds the tensor only in the list it
# hands over (``_GRAD_REFS``: that list, ``apply``'s local and getrefcount's argument; the
# engine drops its other names for it), its array only the tensor, and the array's memory,
# when it is a view (a transposed product transposed back, a sum viewed to shape), belongs
# to arrays and ember tensors held by that chain alone. Any other holder (a hook or a user
# keeping the tensor, a graph saving it, a second edge given the same gradient: add's
# backward hands one tensor to both inputs, and the second may take it once the first
# copied it) adds a reference, and the gradient is copied.
_GRAD_REFS = 3


def _stealable(grad, variable) -> bool:
    data = grad._data
    # data's references: grad._data, the local, the argument
    if not (data.flags.c_contiguous and data.flags.writeable and variable.flags.c_contiguous
            and data.shape == variable.shape and data.dtype == variable.dtype
            and getrefcount(data) <= 3):
        return False
    if 1 in variable.shape:  # a size-1 dim's stride is free in C order: the contract's?
        wanted = _leaf_grad_strides(variable, data)
        if _mf.element_strides(data) != (
                wanted or _mf.format_strides(data.shape, _mf.contiguous_format)):
            return False
    base = data.base
    if base is not None and (type(base) is not np.ndarray or base.base is not None
                             or base.nbytes != data.nbytes):
        return False
    owner = grad._base
    if owner is None:
        # base's references: data.base, the local, the argument
        return base is None or getrefcount(base) <= 3
    if base is None or owner._base is not None:
        return False
    links = _view_links(grad, owner)
    if links is None:
        return False
    held = owner._data
    if held is not base and (held.base is not base or getrefcount(held) > 3):
        return False
    # base's references: owner._data or held.base, data.base and each link's array's base,
    # the locals ``base`` and ``held`` (one more when held is base), the argument
    return getrefcount(base) <= len(links) + (5 if held is base else 4)


def _view_links(grad, owner) -> list | None:
    """The ember views between ``grad`` and its base ``owner`` (child first) when nothing
    but that chain holds them, nor ``owner``; None otherwise."""
    links = []
    t = grad
    for _ in range(8):
        source = t._view_src
        if source is None or t._base is not owner:
            return None
        t = source[1]
        if t is owner:
            break
        links.append(t)
    else:
        return None
    t = source = None
    for i in range(len(links)):
        # a link's references: its child's view source, the list, the argument; its array's:
        # the link's and the argument
        if getrefcount(links[i]) > 3 or getrefcount(links[i]._data) > 2:
            return None
    # owner's: every view's ``_base``, the last view's source, the caller's local, this
    # parameter, the argument
    if getrefcount(owner) > len(links) + 5:
        return None
    return links


def _c_copy(incoming):
    # a linear layer's weight gradient arrives as a transposed product: OpenBLAS copies
    # that layout several times faster than NumPy does (ember/_blas.py, imported here so
    # that ``import ember`` does not load it)
    from ember import _blas

    out = _blas.transposed_copy(incoming)
    return incoming.copy() if out is None else out


def _leaf_grad_strides(variable, incoming) -> tuple | None:
    """The strides of a leaf's first gradient (NOTE [Leaf gradient layout]) for the leaf
    array ``variable`` and the ``incoming`` gradient array; None: C order."""
    shape = variable.shape
    strides = _mf.element_strides(variable)
    if not _mf.is_dense(shape, strides):
        return None
    given = _mf.element_strides(incoming)
    if incoming.shape == shape and all(
            (g != 0) if n == 1 else (g == s) for n, g, s in zip(shape, given, strides)):
        return given
    return strides


class AccumulateGrad(Node):
    """The sink of a leaf tensor's gradient (torch's AccumulateGrad): the first gradient is
    stored as a fresh tensor, later ones are added in place, or out of place when the
    backward records a graph (``create_graph=True``)."""

    __slots__ = ("_variable",)

    def __init__(self, variable) -> None:
        self._variable = weakref.ref(variable)
        self._next = self._nrs = ()
        self._key = _ACC_KEY_BASE - next(_counter)
        self._extra = None

    @property
    def variable(self):
        return self._variable()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def apply(self, grads: list) -> tuple:
        grad = grads[0]
        var = self._variable()
        if var is None:
            return ()
        if var._hooks is not None:
            for hook in tuple(var._hooks.values()):
                grad = call_tensor_hook(hook, grad)
        if grad is not None:
            old = var._grad
            if grad_mode.state.enabled:  # create_graph: keep the gradient's own graph
                if old is None:
                    # copied, as torch does, into the contract's layout by a recorded copy_
                    # (CopyBackwards): NOTE [Leaf gradient layout]
                    data = grad._data
                    strides = _first_grad_strides(var._data, data)
                    target = np.empty(data.shape, data.dtype) if strides is None else \
                        _mf.empty_strided_array(data.shape, strides, data.dtype)
                    var._grad = make_tensor(target, False, None, [0]).copy_(grad)
                else:
                    var._grad = old + grad
            elif old is None:
                # a hook's new tensor is not in the engine's list: one reference fewer
                refs = _GRAD_REFS if grad is grads[0] else _GRAD_REFS - 1
                if getrefcount(grad) <= refs and _stealable(grad, var._data):
                    var._grad = make_tensor(grad._data, False, None, [0])
                else:
                    var._grad = make_tensor(_first_grad(var._data, grad._data), False, None,
                                            [0])
            else:
                data = old._data
                if data.ndim:
                    data += grad._data
                else:  # NOTE [0-d accumulation]
                    data[()] = data + grad._data
                old._vc[0] += 1
        # Post-accumulate hooks run even when no gradient arrived (torch's too).
        post = var._post_hooks
        if post is not None:
            for hook in tuple(post.values()):
                result = hook(var)
                if result is not None:  # torch's: such a hook only observes
                    if not isinstance(result, Tensor):
                        raise TypeError(
                            f"expected Variable, but hook returned '{c_type_name(result)}'")
                    raise RuntimeError("Tensor post accumulate grad hooks should return None.")
        return ()


class GraphRoot(Node):
    """A stand-in first node for ``grad(outputs=[leaf, ...])``: it hands each output's
    gradient to that output's own node."""

    __slots__ = ()

    def __init__(self, edges: tuple) -> None:
        self.next_functions = edges
        self._key = 1
        self._extra = None

    def apply(self, grads: list) -> list:
        return grads


def grad_edge(t) -> tuple:
    """The (node, output number) a tensor's gradient flows into."""
    fn = t.grad_fn if t._base is not None else t._grad_fn  # NOTE [Stale views]
    if fn is not None:
        return (fn, t._output_nr)
    return (accumulator(t), 0)


class GradientEdge(NamedTuple):
    """Mirrors ``torch.autograd.graph.GradientEdge``: where a gradient enters the graph, a
    node and which of its inputs; ``autograd.grad`` and ``backward`` take one in place of a
    tensor."""

    node: Node
    output_nr: int
    ownership_token: object = None


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """Mirrors ``torch.autograd.graph.get_gradient_edge``: the edge ``tensor``'s gradient
    flows into (its ``grad_fn``, or a leaf's ``AccumulateGrad``)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    node, nr = grad_edge(tensor)
    return GradientEdge(node, nr)


def increment_version(tensor) -> None:
    """Mirrors ``torch.autograd.graph.increment_version``: bump the version counter of a
    tensor (or of each tensor of an iterable), as an in-place write would."""
    tensors = (tensor,) if isinstance(tensor, Tensor) else tensor
    try:
        tensors = list(tensors)
    except TypeError:
        raise RuntimeError("increment_version expect a Iterable[Tensor] as input") from None
    if not all(isinstance(t, Tensor) for t in tensors):
        raise RuntimeError("increment_version expects each element of the iterable to be a "
                           "tensor")
    for t in tensors:
        t._vc[0] += 1


class _MultiHandle:
    """The handle ``register_multi_grad_hook`` returns: ``remove()`` removes every tensor
    hook it registered."""

    def __init__(self, handles: tuple) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode: str = "all") -> _MultiHandle:
    """Mirrors ``torch.autograd.graph.register_multi_grad_hook``. ``mode="all"``: ``fn`` gets
    the gradients of all of ``tensors`` once the backward pass has computed every one it
    computes (``None`` for a tensor the pass does not reach or does not need); ``"any"``:
    ``fn`` gets the first gradient computed, once per pass. A tensor hook on each tensor
    does it, so it runs after the hooks registered before it. ember differs where torch
    refuses: ``autograd.grad`` with leaves among ``tensors`` works."""
    from ember.autograd import engine

    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    for t in tensors:
        if not t.requires_grad:
            raise AssertionError("Expected gradient function to be set")
    passes: dict = {}  # id of the pass in progress -> its state (the pass keeps it alive)

    def hook_for(i: int):
        def hook(grad):
            task = engine.current_task()
            state = passes.get(id(task))
            if state is None or state[0] is not task:
                passes.clear()  # earlier passes are over
                needed = sum(engine.will_execute(grad_edge(t)[0]) for t in tensors)
                state = passes[id(task)] = [task, needed, [None] * len(tensors), False]
            if mode == "any":
                if not state[3]:
                    state[3] = True
                    fn(grad)
                return None
            state[2][i] = grad
            state[1] -= 1
            if state[1] == 0:
                grads, state[2] = state[2], None
                fn(grads)
            return None
        return hook

    return _MultiHandle(tuple(t.register_hook(hook_for(i)) for i, t in enumerate(tensors)))


def accumulator(t) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, made on first use and kept by the leaf."""
    acc = t._grad_acc
    if acc is None:
        acc = t._grad_acc = AccumulateGrad(t)
    return acc


def node_class(name: str, base: type = OpNode) -> type:
    """A node class named as torch names the op's node, so ``type(t.grad_fn).__name__``,
    ``repr`` and ``name()`` all read ``MulBackward0``."""
    namespace = {"__slots__": (), "__module__": __name__}
    if name == "NotImplemented":  # torch's C++ node for ops it cannot differentiate
        namespace["name"] = lambda self: "torch::autograd::NotImplemented"
    return type(name, (base,), namespace)


def new_key() -> int:
    return -next(_counter)


# ---- pictures of the graph -------------------------------------------------------------


class Digraph:
    """Graphviz DOT text of a backward graph (``str()`` or ``.source``), with ``render``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Digraph with {self.source.count(' -> ')} edges>"

    def render(self, path: str, format: str = "svg") -> str:  # noqa: A002 - graphviz's name
        """Write ``path`` (DOT text) and ``path.<format>`` drawn by Graphviz's ``dot``
        program; returns the drawing's path."""
        import shutil
        import subprocess

        if format not in ("svg", "png", "pdf"):
            raise ValueError(f"format must be 'svg', 'png' or 'pdf', not {format!r}")
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(
                "rendering needs Graphviz's 'dot' program, which is not on PATH: install "
                "Graphviz (e.g. 'apt-get install graphviz'), or use the DOT text in .source")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        out = f"{path}.{format}"
        subprocess.run([dot, f"-T{format}", path, "-o", out], check=True)
        return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(t) -> str:
    return "(" + ", ".join(str(s) for s in t._data.shape) + ")"


def _saved_result_shapes(saved) -> list:
    """(label, shape) of a node's saved outputs, read without unpacking them (an unpack
    hook must not run just to draw a picture); outputs held by pack hooks are left out."""
    if saved is None or type(saved) is Packed:
        return []
    if isinstance(saved, list):  # several outputs
        return [(f"result{i}", entry[0].shape) for i, entry in enumerate(saved)
                if entry is not None and type(entry) is not Packed]
    return [("result", saved[0].shape)]


def to_dot(tensor, params: dict | None = None, show_saved: bool = False) -> Digraph:
    """The backward graph that ends in ``tensor`` (or a sequence of tensors) as Graphviz
    DOT: one box per node, named as torch names it; leaves show their name in ``params``
    (name -> tensor, e.g. ``dict(model.named_parameters())``) and shape; with
    ``show_saved`` the tensors each node saved for backward hang off it. ember's own
    feature (torch has none built in)."""
    tensors = tensor if isinstance(tensor, (list, tuple)) else [tensor]
    names = {id(t): name for name, t in (params or {}).items()}
    lines = ["digraph {",
             '    graph [rankdir=BT fontname=monospace]',
             '    node [shape=box style="rounded,filled" fontname=monospace fontsize=10 '
             'fillcolor=white]']
    seen = set()
    stack = []
    for i, t in enumerate(tensors):
        out_id = f"out{i}"
        lines.append(f"    {out_id} [label={_quote('output ' + _shape(t))} "
                     "fillcolor=darkolivegreen1]")
        root = t._grad_fn if t._grad_fn is not None else (
            accumulator(t) if t._requires_grad else None)
        if root is not None:
            lines.append(f"    n{id(root)} -> {out_id}")
            stack.append(root)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            var = node.variable
            label = (names.get(id(var), "") + "\n" if var is not None else "") + (
                _shape(var) if var is not None else "")
            lines.append(f"    n{id(node)} [label={_quote(label.strip() or 'leaf')} "
                         "fillcolor=lightblue]")
        else:
            lines.append(f"    n{id(node)} [label={_quote(node.name())}]")
            if show_saved and isinstance(node, OpNode) and node._args is not _FREED:
                saved = [(name, value._data.shape) for name, value in
                         zip(node._op.arg_names, node._args) if hasattr(value, "_data")]
                saved += _saved_result_shapes(node._result)
                for name, shape in saved:
                    sid = f"s{id(node)}_{name}"
                    text = name + " (" + ", ".join(str(s) for s in shape) + ")"
                    lines.append(f"    {sid} [label={_quote(text)} fillcolor=orange]")
                    lines.append(f"    {sid} -> n{id(node)} [style=dashed arrowhead=none]")
        for child in node._next:
            if child is not None:
                lines.append(f"    n{id(child)} -> n{id(node)}")
                stack.append(child)
    lines.append("}")
    return Digraph("\n".join(lines) + "\n")
