"""Activation checkpointing: mirrors ``torch.utils.checkpoint``.

NOTE [Checkpoint variants]: as in torch, ``checkpoint`` has two variants. The reentrant one
(``use_reentrant=True``, torch's default when the argument is left out, with its warning)
is a custom autograd function, ``CheckpointFunction``: its forward runs the function without
recording a graph, its backward runs it again with one and backpropagates through that
inside the outer backward (so ``autograd.grad`` and ``backward(inputs=...)`` are refused, as
torch refuses them). The non-reentrant one records the graph as usual but keeps none of the
tensors its nodes save: a ``saved_tensors_hooks`` pair stores their positions (and, for the
determinism check, their shapes and dtypes), and the first time backward needs one the
function runs again and the tensors it saves, in the same order, stand in for the dropped
ones; with early stop (the default) the recomputation stops once it has saved as many as the
forward did. Both restore the default generator's state of the forward for the
recomputation (``preserve_rng_state``), so dropout draws the same mask twice, and leave the
caller's generator as it was.
"""
from __future__ import annotations

import contextlib
import traceback
import warnings

import ember
from ember._ops import registry
from ember._tensor import Tensor
from ember.autograd import engine
from ember.autograd.function import Function
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "get_device_states",
           "set_device_states", "noop_context_fn", "set_checkpoint_debug_enabled",
           "set_checkpoint_early_stop", "DefaultDeviceType"]

_TIP = (
    "\n\nTip: To see a more detailed error message, either pass `debug=True` to\n"
    "`torch.utils.checkpoint.checkpoint(...)` or wrap the code block\n"
    "with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to\n"
    "enable checkpoint\u2011debug mode globally.\n\n"
    "If this error occurs under torch.compile with automatic_dynamic_shapes enabled,\n"
    "it may be because the recomputation selected a different compiled graph than the\n"
    "forward pass (e.g., a dynamic graph instead of the original static graph).\n"
    "To fix this, either:\n"
    "  - Use torch._dynamo.mark_dynamic() to explicitly mark varying dimensions as\n"
    "    dynamic upfront, avoiding the static-to-dynamic transition.\n"
    "  - Call torch._C._dynamo.eval_frame._set_lru_cache(False) to disable LRU cache\n"
    "    reordering, which can change which graph is checked first between forward\n"
    "    and recompute.\n"
    "See https://github.com/pytorch/pytorch/issues/166926 for more details and\n"
    "workaround examples.\n")

_REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
    "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
    "exception. use_reentrant=False is recommended, but if you need to preserve the current "
    "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
    "the differences between the two variants.")
_SEQUENTIAL_WARNING = (
    "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
    "passed explicitly. In version 2.9 we will raise an exception if use_reentrant is not "
    "passed. use_reentrant=False is recommended, but if you need to preserve the current "
    "default behavior, you can pass use_reentrant=True. Refer to docs for more details on "
    "the differences between the two variants.")


class CheckpointError(RuntimeError):
    """Mirrors ``torch.utils.checkpoint.CheckpointError``: the recomputation did not save
    what the forward saved."""


class DefaultDeviceType:
    """Mirrors ``torch.utils.checkpoint.DefaultDeviceType``: the device type whose generator
    state checkpointing preserves besides the CPU's; ember's tensors live on the CPU."""

    _default_device_type = "cpu"

    @staticmethod
    def set_device_type(device: str = "cuda") -> None:
        DefaultDeviceType._default_device_type = device

    @staticmethod
    def get_device_type() -> str:
        return DefaultDeviceType._default_device_type


def noop_context_fn():
    """Mirrors ``torch.utils.checkpoint.noop_context_fn``: two null contexts, for the
    forward and the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs: tuple) -> tuple:
    """Mirrors ``torch.utils.checkpoint.detach_variable``: each tensor detached, keeping
    whether it requires grad; other values as they are."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x
                 for x in inputs)


def check_backward_validity(inputs) -> None:
    """Mirrors ``torch.utils.checkpoint.check_backward_validity``: warns when no tensor
    among ``inputs`` requires grad."""
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)


def get_device_states(*args) -> tuple:
    """Mirrors ``torch.utils.checkpoint.get_device_states``: the generator states of the
    accelerators ``args`` live on; ember's tensors are on the CPU, so none."""
    return [], []


def set_device_states(devices, states, *, device_type=None) -> None:
    """Mirrors ``torch.utils.checkpoint.set_device_states``: restores accelerator generator
    states; with no accelerator there are none to restore."""
    if len(devices) or len(states):
        raise RuntimeError("Torch not compiled with CUDA enabled")


_settings = {"debug": None, "early_stop": True}


class set_checkpoint_debug_enabled(contextlib.ContextDecorator):
    """Mirrors ``torch.utils.checkpoint.set_checkpoint_debug_enabled``: inside it, every
    non-reentrant checkpoint runs with ``debug`` set to ``enabled`` (None: each call's own
    ``debug``)."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = enabled

    def __enter__(self):
        self.saved = _settings["debug"]
        _settings["debug"] = self.enabled
        return self

    def __exit__(self, *exc) -> None:
        _settings["debug"] = self.saved


class set_checkpoint_early_stop(contextlib.ContextDecorator):
    """Mirrors ``torch.utils.checkpoint.set_checkpoint_early_stop``: whether a
    non-reentrant recomputation stops once it has saved every tensor backward needs."""

    def __init__(self, enable: bool) -> None:
        self.enable = enable

    def __enter__(self):
        self.saved = _settings["early_stop"]
        _settings["early_stop"] = self.enable
        return self

    def __exit__(self, *exc) -> None:
        _settings["early_stop"] = self.saved


@contextlib.contextmanager
def _generator_at(state):
    """The default generator set to ``state`` (None: left alone) inside, and put back to
    where it was after."""
    if state is None:
        yield
        return
    outer = ember.get_rng_state()
    ember.set_rng_state(state)
    try:
        yield
    finally:
        ember.set_rng_state(outer)


class CheckpointFunction(Function):
    """Mirrors ``torch.utils.checkpoint.CheckpointFunction``: the reentrant variant (NOTE
    [Checkpoint variants])."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.rng_state = ember.get_rng_state() if preserve_rng_state else None
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        task = engine.current_task()
        if task is not None and task[3] is not None:  # autograd.grad or backward(inputs=)
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() "
                "or passing an `inputs` parameter to .backward(). To resolve this error, you "
                "can either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        detached = detach_variable(tuple(inputs))
        with _generator_at(ctx.rng_state), enable_grad():
            outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary")
        ember.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None
                                    for x in detached)


class _StopRecomputation(Exception):
    pass


class _OpLog(registry.OpMode):
    """The ops a checkpointed function runs, with where they were called from (``debug``)."""

    def __init__(self) -> None:
        self.entries = []

    def run_op(self, op, args):
        out = self.proceed(op, args)
        first = out[0] if isinstance(out, tuple) else out
        shape = getattr(first, "shape", None)
        described = "?" if shape is None else \
            f"{str(first.dtype).rsplit('.', 1)[-1]}{list(shape)}"
        self.entries.append((f"${len(self.entries) + 1}: {described} = aten::{op.name}",
                             "".join(traceback.format_stack()[:-2])))
        return out

    def __enter__(self):
        registry.push_mode(self)
        return self

    def __exit__(self, *exc) -> None:
        registry.pop_mode(self)


def _debug_report(forward: list, recompute: list, error: str) -> str:
    """The ``debug=True`` error text, laid out as torch's (ember lists its own op names and
    the Python frames only)."""
    def stacks(entries, where):
        return "".join(f"{line}   ({i} of {len(entries)} in {where})\n\n{stack}\n\n"
                       for i, (line, stack) in enumerate(entries, 1))

    def banner(title):
        return ("+" + "~" * 78 + "+\n|" + title.center(78) + "|\n+" + "-" * 78 + "+\n\n")

    return (
        " An error happened while unpacking tensors; dumping logs of latest computation\n"
        "because you passed `debug=True` to `torch.utils.checkpoint.checkpoint()`.\n"
        "Scroll all the way down for guidance on how to navigate these logs.\n\n"
        + banner("1. Stack traces of the operators that ran in the original forward")
        + stacks(forward, "original")
        + banner("2. Stack traces of the operators that ran during recomputation")
        + stacks(recompute, "recompute")
        + banner("3. Log of operators in the original forward and recomputation")
        + "Operations executed during the original forward:\n\n"
        + "".join(line + "\n" for line, _ in forward)
        + "\nOperations executed during recomputation:\n\n"
        + "".join(line + "\n" for line, _ in recompute)
        + "\n" + "+" + "-" * 78 + "+\n ERROR: " + error + "\n")


class _Recomputation:
    """The non-reentrant variant's saved-tensor hooks (NOTE [Checkpoint variants])."""

    def __init__(self, function, args: tuple, kwargs: dict, recompute_context,
                 check: bool, debug: bool, rng_state) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs
        self.recompute_context = recompute_context
        self.check, self.debug, self.rng_state = check, debug, rng_state
        self.metas: list = []
        self.tensors = None
        self.forward_log = None

    def pack(self, tensor) -> int:
        self.metas.append((tensor.shape, tensor.dtype, tensor.device))
        return len(self.metas) - 1

    def unpack(self, index: int):
        if self.tensors is None:
            self._recompute()
        return self.tensors[index]

    def _recompute(self) -> None:
        tensors: list = []
        needed = len(self.metas)
        early = _settings["early_stop"]

        def keep(t):
            if len(tensors) == needed:
                raise CheckpointError(
                    "torch.utils.checkpoint: trying to save more tensors during recomputation "
                    "than during the original forward pass." + _TIP)
            tensors.append(t)
            if early and len(tensors) == needed:
                raise _StopRecomputation
            return len(tensors)

        log = _OpLog() if self.debug else contextlib.nullcontext()
        try:
            with _generator_at(self.rng_state), enable_grad(), self.recompute_context, log, \
                    saved_tensors_hooks(keep, lambda i: tensors[i - 1]):
                self.function(*self._detached_args(), **self.kwargs)
        except _StopRecomputation:
            pass
        except CheckpointError as e:
            self._fail(str(e), log)
        if len(tensors) != needed:
            self._fail(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\nNumber of tensors saved during "
                f"forward: {needed}\nNumber of tensors saved during recomputation: "
                f"{len(tensors)}." + _TIP, log)
        if self.check:
            differ = [(i, meta, (t.shape, t.dtype, t.device))
                      for i, (meta, t) in enumerate(zip(self.metas, tensors))
                      if meta != (t.shape, t.dtype, t.device)]
            if differ:
                self._fail(
                    "torch.utils.checkpoint: Recomputed values for the following tensors have "
                    "different metadata than during the forward pass.\n" + "".join(
                        f"tensor at position {i}:\nsaved metadata: {_meta(saved)}\n"
                        f"recomputed metadata: {_meta(now)}\n" for i, saved, now in differ)
                    + "." + _TIP, log)
        self.tensors = tensors

    def _fail(self, message: str, log) -> None:
        if self.debug:
            message = _debug_report(
                self.forward_log.entries, log.entries,
                "Detected non-determinism while running activation checkpointing")
        raise CheckpointError(message)

    def _detached_args(self) -> tuple:
        return tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                     for a in self.args)


def _meta(meta: tuple) -> str:
    shape, dtype, device = meta
    return f"{{'shape': {shape!r}, 'dtype': {dtype!r}, 'device': {device!r}}}"


def checkpoint(function, *args, use_reentrant: bool | None = None,
               context_fn=noop_context_fn, determinism_check: str = "default",
               debug: bool = False, preserve_rng_state: bool = True, **kwargs):
    """Mirrors ``torch.utils.checkpoint.checkpoint``: ``function(*args, **kwargs)`` with its
    saved activations recomputed during backward instead of kept (NOTE [Checkpoint
    variants]). ``context_fn`` gives the contexts of the forward and the recomputation
    (non-reentrant only, as ``debug``, ``kwargs`` and ``determinism_check``, whose "default"
    compares the recomputed tensors' shapes, dtypes and devices with the forward's). ember
    differs: a ``debug=True`` report lists ember's op names and the Python frames."""
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    debug = debug if _settings["debug"] is None else _settings["debug"]
    forward_context, recompute_context = context_fn()
    rng_state = ember.get_rng_state() if preserve_rng_state else None
    recomputation = _Recomputation(function, args, kwargs, recompute_context,
                                   determinism_check == "default", debug, rng_state)
    log = _OpLog() if debug else contextlib.nullcontext()
    with forward_context, log, saved_tensors_hooks(recomputation.pack, recomputation.unpack):
        out = function(*args, **kwargs)
    recomputation.forward_log = log
    return out


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Mirrors ``torch.utils.checkpoint.checkpoint_sequential``: ``functions`` (a
    ``Sequential`` or a list of modules/functions) run in ``segments`` consecutive runs of
    ``len // segments`` functions, each but the last checkpointed; ``preserve_rng_state``
    is the one keyword taken."""
    if use_reentrant is None:
        warnings.warn(_SEQUENTIAL_WARNING, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, ember.nn.Sequential):
        functions = list(functions.children())

    def run(start: int, stop: int):
        def forward(x):
            for fn in functions[start:stop]:
                x = fn(x)
            return x
        return forward

    size = len(functions) // segments
    start = 0
    for start in range(0, size * (segments - 1), size):
        input = checkpoint(run(start, start + size), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
        start += size
    return run(start, len(functions))(input)

