"""``Optimizer``: the base class of ember's optimizers (mirrors ``torch.optim.Optimizer``).

Parameter groups, per-parameter ``state``, ``state_dict``/``load_state_dict`` in torch's
layout (integer parameter ids, ``params`` as ids, ``step`` kept as a 0-d tensor), step and
state-dict hooks, and torch's errors.

NOTE [Optimizer updates]: an algorithm's ``step`` works on the parameters' arrays
(``p._data``) with whole-array NumPy calls written in place (``out=``), then bumps the
version counter of each tensor it wrote (NOTE [Version counters]), so a step records no
graph and allocates nothing once its state exists. With ``differentiable=True`` the same
update is built from ember ops instead (the ``_TensorKernels`` below), so it stays in the
autograd graph, as torch's does. Both follow the arithmetic order of torch's single-tensor
(CPU default) implementation, except where a note at an algorithm says which scalars it
folds together to save a pass. ``foreach`` and ``fused`` are checked as torch checks them
and recorded in the groups; on NumPy every path is already a whole-array one, so they
select the same arithmetic and give the same bits.

NOTE [Optimizer threads]: the fast algorithms (Adam, AdamW, SGD, RMSprop, Adagrad, NAdam,
RAdam) describe each parameter's update as a job (its arrays and scalars) for one kernel
function of elementwise NumPy calls, and ``Optimizer._run_jobs`` runs a group's jobs. When
the step is long enough (``_WORK_PER_THREAD`` per thread) and ``ember.get_num_threads()``
allows more than one thread, the jobs' arrays are cut into flat ranges of about equal size,
a few per thread, and the threads take ranges until none is left (NumPy releases the GIL
inside its loops), as torch's CPU kernels split their elements over its intra-op threads.
Every element sees the same operations in the same order whatever the cut, so the results
do not depend on the thread count. The kernels' temporaries live in scratch arrays kept per
thread and dtype on the optimizer (``_scratch``: not part of ``state_dict``, not pickled),
reused from step to step.
"""
from __future__ import annotations

import functools
import itertools
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

import ember
from ember import _blas, _threads
from ember._ops import registry as _registry
from ember._ops._promote import broadcast_error
from ember._ops.pointwise import _lerp_dtype
from ember._tensor import Tensor, make

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "required"]


class _RequiredParameter:
    """Singleton marking an option a parameter group must give (torch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_optimizer_pre_hooks: OrderedDict = OrderedDict()
_global_optimizer_post_hooks: OrderedDict = OrderedDict()


def _add_hook(hooks: OrderedDict, hook: Callable, prepend: bool = False):
    from ember.utils.hooks import add_hook

    return add_hook(hooks, hook, prepend)


def register_optimizer_step_pre_hook(hook: Callable):
    """Mirrors ``torch.optim.optimizer.register_optimizer_step_pre_hook``: ``hook(optimizer,
    args, kwargs)`` runs before every optimizer's ``step``; it may return new
    ``(args, kwargs)``."""
    return _add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable):
    """Mirrors ``torch.optim.optimizer.register_optimizer_step_post_hook``."""
    return _add_hook(_global_optimizer_post_hooks, hook)


def _use_grad_for_differentiable(step):
    """Mark an algorithm's ``step`` to run with grad enabled only for ``differentiable``
    (torch's decorator of that name); ``_hooked_step`` sets the mode for a marked step."""
    step.use_grad_for_differentiable = True
    return step


def _hooked_step(step):
    """Wrap a ``step``: pre hooks, then the step, then post hooks. A step marked by
    ``_use_grad_for_differentiable`` (ember's algorithms) runs with grad enabled only for
    ``differentiable``; any other (a user's subclass) in the caller's grad mode, as in
    torch."""
    sets_grad_mode = getattr(step, "use_grad_for_differentiable", False)

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        if _registry._modes:  # torch's profile shows the step as a range
            from ember.autograd.profiler import record_function

            with record_function(f"Optimizer.step#{type(args[0]).__name__}.step"):
                return hooked(*args, **kwargs)
        return hooked(*args, **kwargs)

    def hooked(*args, **kwargs):
        self = args[0]
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}.")
        self._opt_called = True  # read by the lr schedulers' call-order warning
        if sets_grad_mode:
            with ember.set_grad_enabled(bool(self.defaults.get("differentiable", False))):
                out = step(*args, **kwargs)
        else:
            out = step(*args, **kwargs)
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out

    wrapper.hooked = True
    return wrapper


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return ember.typename(obj)
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


class Optimizer:
    """Mirrors ``torch.optim.Optimizer``.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
            groups, each with ``params`` and its own options).
        defaults: the options a group takes when it does not give them.

    Subclasses write ``step``; it is wrapped (once, when the class is made) to run the step
    hooks; ember's algorithms mark theirs to run under torch's grad mode for the step.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._scratch: dict = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + ember.typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self.__dict__.setdefault("_scratch", {})

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ---- hooks -------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable):
        """Mirrors ``Optimizer.register_step_pre_hook``: ``hook(optimizer, args, kwargs)``
        runs before ``step`` and may return new ``(args, kwargs)``."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable):
        """Mirrors ``Optimizer.register_step_post_hook``: ``hook(optimizer, args, kwargs)``."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def _register(self, hooks: OrderedDict, hook: Callable, prepend: bool):
        return _add_hook(hooks, hook, prepend)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False):
        """Mirrors ``Optimizer.register_state_dict_pre_hook``: ``hook(optimizer)``."""
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False):
        """Mirrors ``Optimizer.register_state_dict_post_hook``: ``hook(optimizer,
        state_dict)`` may return a replacement state dict."""
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False):
        """Mirrors ``Optimizer.register_load_state_dict_pre_hook``: ``hook(optimizer,
        state_dict)`` may return the state dict to load."""
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False):
        """Mirrors ``Optimizer.register_load_state_dict_post_hook``: ``hook(optimizer)``."""
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- state dict --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Mirrors ``Optimizer.state_dict``: ``{"state": {id: {...}}, "param_groups": [...]}``
        with parameters replaced by their position (ids count on across groups). The state
        tensors are the optimizer's own (not copies), as in torch."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            # as in torch's state dict: a parameter given twice in a group (torch warns)
            # takes its last position there, one in two groups its first group's
            positions = {id(p): i for i, p in enumerate(group["params"], start)}
            for key, i in positions.items():
                mapping.setdefault(key, i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _cast_state(param: Tensor, value, group: dict | None, key=None):
        """A loaded state value for ``param``: tensors take the parameter's floating dtype,
        except ``step``, which stays as saved unless the group is fused or capturable (then
        float32), as torch's ``_process_value_according_to_param_policy``."""
        if isinstance(value, Tensor):
            if key == "step":
                if group is not None and (group.get("capturable") or group.get("fused")):
                    return value.to(dtype=ember.float32)
                return value
            if param.is_floating_point():
                return value.to(dtype=param.dtype)
            return value
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, group, k) for k, v in value.items()}
        if isinstance(value, Iterable) and not isinstance(value, str):
            return type(value)(Optimizer._cast_state(param, v, group) for v in value)
        return value

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Mirrors ``Optimizer.load_state_dict``: state matched to this optimizer's parameters
        by position; group options replaced by the saved ones."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        group_of = {i: g for g in state_dict["param_groups"] for i in g["params"]}
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = self._cast_state(id_map[k], v, group_of.get(k))
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ---- gradients and groups ----------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Mirrors ``Optimizer.zero_grad``: gradients set to ``None`` (default) or zeroed in
        place (detached from any graph first)."""
        if _registry._modes:  # torch's profile shows it as a range
            from ember.autograd.profiler import record_function

            with record_function(f"Optimizer.zero_grad#{type(self).__name__}.zero_grad"):
                return self._zero_grad(set_to_none)
        return self._zero_grad(set_to_none)

    def _zero_grad(self, set_to_none: bool) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if grad._grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    grad._data[...] = 0
                    grad._vc[0] += 1

    def step(self, closure: Callable[[], Any] | None = None):
        """Mirrors ``Optimizer.step``: one update; each algorithm defines it."""
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Mirrors ``Optimizer.add_param_group``: a new group, its missing options taken
        from the defaults, with torch's checks (leaf tensors, no parameter in two groups,
        required options given, names on all or none)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list "
                "instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(tensors) != len({id(p) for p in tensors}):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information", stacklevel=3)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(id(p) for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- the array fast path (NOTE [Optimizer threads]) ---------------------------------
    def _run_jobs(self, kernel: Callable, jobs: list, passes: int) -> None:
        """Run ``kernel(*arrays, scratch, *scalars)`` for each job ``(param, arrays,
        n_scratch, scalars)``: ``arrays`` of one shape (``None`` for an absent state),
        ``scratch`` a list of ``n_scratch`` temporaries of that shape; over as many threads as
        pay for a kernel of about ``passes`` NumPy calls over its arrays."""
        if not jobs:
            return
        threads, chunks = _chunk_jobs(jobs, passes)
        needs: dict = {}
        for chunk in chunks:
            for _, arrays, n_scratch, _ in chunk:
                a = arrays[0]
                need = n_scratch * _padded(a.size)
                if need > needs.get(a.dtype, -1):
                    needs[a.dtype] = need
        scratch = self.__dict__.setdefault("_scratch", {})
        buffers = []
        for runner in range(threads):
            mine = {}
            for dtype, need in needs.items():
                buf = scratch.get((runner, dtype))
                if buf is None or buf.size < need:
                    buf = scratch[(runner, dtype)] = np.empty(need, dtype)
                mine[dtype] = buf
            buffers.append(mine)
        if threads == 1:
            _run_chunk(kernel, jobs, buffers[0])
            return
        shared = _Chunks(chunks)
        pool = _threads.executor(threads - 1)
        for runner in range(1, threads):
            pool.submit(shared.drain, kernel, buffers[runner])
        shared.drain(kernel, buffers[0])
        shared.finished.wait()
        if shared.error is not None:
            raise shared.error


# ---- shared pieces of the algorithms ------------------------------------------------------

_CAPTURABLE_DEVICES = "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla']"
# the devices torch's foreach kernels list (Adadelta's lists them for every kernel)
_FOREACH_CAPTURABLE_DEVICES = "['cuda', 'xpu', 'hpu', 'privateuseone']"


def _check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _check_adam_ranges(lr, eps: float, betas, weight_decay: float) -> None:
    """The range checks of torch's Adam-family constructors, in their order and words."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _check_fused(fused, foreach, differentiable) -> None:
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _check_fused_params(group: dict) -> None:
    """torch checks the parameters a fused step updates: those with a gradient."""
    for p in group["params"]:
        if p._grad is not None and not p.is_floating_point():
            raise RuntimeError(
                "`fused=True` requires all the params to be floating point Tensors of "
                "supported devices: ['mps', 'cuda', 'xpu', 'hpu', 'cpu', 'mtia', "
                f"'privateuseone'] but {p.dtype} and {p.device.type}")


def _check_state_shape(state: Tensor, grad: Tensor) -> None:
    """A parameter resized after its state was made (``p.data = ...``): torch's in-place
    update of the state by the gradient, or then of the parameter by the state, refuses
    the shapes; this raises that error before the step writes anything."""
    if state._data.shape == grad._data.shape:  # the arrays': cheaper than Size objects
        return
    state_shape, grad_shape = tuple(state.shape), tuple(grad.shape)
    error = broadcast_error([state_shape, grad_shape])
    if error is None:
        shape = np.broadcast_shapes(state_shape, grad_shape)
        error = RuntimeError(
            f"output with shape {list(state_shape if shape != state_shape else grad_shape)} "
            f"doesn't match the broadcast shape {list(shape)}")
    raise error


def _check_moment_dtype(moment: Tensor, grad: Tensor) -> None:
    """torch lerps a running average toward the gradient, and lerp wants both of one dtype:
    a parameter whose dtype changed after its state was made (``p.data = p.data.double()``)
    raises lerp's RuntimeError, before this step changes anything."""
    if moment._data.dtype != grad._data.dtype:
        _lerp_dtype(moment, "end", grad)


def _refuse_grad_number(value, argument: str) -> None:
    """torch's ops take a 0-d tensor for an argument typed Number only when it does not
    require grad: an lr that does raises TypeError where a step passes it to one
    (``argument``, e.g. "addcdiv_(): argument 'value'")."""
    if isinstance(value, Tensor) and value.requires_grad:
        raise TypeError(f"{argument} must be Number, not Tensor")


def _refuse_foreach_differentiable(group: dict, always: bool = False) -> None:
    """torch's foreach kernels record no graph, so a differentiable step of a foreach group
    raises; some kernels check before anything else (``always``), the others once a
    parameter of the group has a gradient."""
    if group["foreach"] and group["differentiable"] and (
            always or any(p._grad is not None for p in group["params"])):
        raise AssertionError("_foreach ops don't support autograd")


def _check_capturable(what: str = "params and state_steps",
                      devices: str = _CAPTURABLE_DEVICES, foreach: bool = False) -> None:
    """torch's refusal of a capturable step (ember's tensors live on the CPU, where torch
    refuses them); ``foreach``: in the words of torch's foreach kernel, whose list of
    devices has no 'xla'."""
    if foreach:
        devices = _FOREACH_CAPTURABLE_DEVICES
    raise AssertionError(
        f"If capturable=True, {what} must be on supported devices: {devices}.")


def _scalar_dtype(fused: bool = False):
    """torch's ``_get_scalar_dtype``: the dtype of ``state["step"]``."""
    if fused:
        return ember.float32
    return ember.float64 if ember.get_default_dtype() is ember.float64 else ember.float32


def _step_tensor(value: float = 0.0, fused: bool = False) -> Tensor:
    return ember.tensor(value, dtype=_scalar_dtype(fused))


def _upgrade_loaded_state(optimizer: Optimizer, group_defaults: dict,
                          scalar_keys: tuple = ("step",)) -> None:
    """What torch's algorithms' ``__setstate__`` do (``load_state_dict`` and unpickling run
    it) to a state saved by an older torch: options a group lacks take ``group_defaults``
    (torch's constants, in its order), and the state scalars ``scalar_keys`` kept as Python
    numbers become 0-d tensors of the scalar dtype (float32 in a fused group)."""
    for group in optimizer.param_groups:
        for key, value in group_defaults.items():
            group.setdefault(key, value)
        fused = bool(group.get("fused"))
        for p in group["params"]:
            state = optimizer.state.get(p)
            if state:
                for key in scalar_keys:
                    if not isinstance(state[key], Tensor):
                        state[key] = _step_tensor(float(state[key]), fused)


def _value(x) -> float:
    """A hyperparameter or 0-d state tensor as a Python number (torch's ``_get_value``)."""
    return x.item() if isinstance(x, Tensor) else x


def _lr_scalar(lr):
    """The lr that torch's single-tensor steps compute with: a tensor lr stays a NumPy
    scalar of its dtype, so what a step derives from it (step sizes, decay factors) rounds
    in that dtype, as torch's 0-d tensor arithmetic does (a float32 lr with float64
    parameters); a number stays a number."""
    return lr._data[()] if isinstance(lr, Tensor) else lr


def _real(a: np.ndarray) -> np.ndarray:
    """A complex array's view as interleaved reals (torch's ``view_as_real``); elementwise
    updates are the same on that view."""
    if a.dtype.kind == "c":
        return a[..., None].view(a.real.dtype)
    return a


def _bump(t: Tensor) -> None:
    t._vc[0] += 1  # NOTE [Version counters]: an in-place write


def _zeros_like(p: Tensor) -> Tensor:
    return make(np.zeros_like(p._data))


def _full_like(p: Tensor, value: float) -> Tensor:
    return make(np.full_like(p._data, value))


def _arr(r):
    # NumPy gives a scalar for a 0-d result; the in-place steps that follow need an array.
    return r if type(r) is np.ndarray else np.asarray(r)


class _ArrayKernels:
    """The update primitives on NumPy arrays, written in place (NOTE [Optimizer updates]).
    The order of each expression is torch's CPU kernel's (``addcdiv``: ``a + (v*b)/c``).
    Out-of-place ones return new arrays (never NumPy scalars, even 0-d)."""

    @staticmethod
    def unwrap(t):
        return None if t is None else _real(t._data)

    @staticmethod
    def neg(a):
        return _arr(np.negative(a))

    @staticmethod
    def add(a, b, alpha=1.0):
        return _arr(a + b if alpha == 1 else a + alpha * b)

    @staticmethod
    def add_(a, b, alpha=1.0):
        if alpha == 1:
            a += b
        else:
            a += alpha * b
        return a

    @staticmethod
    def mul_(a, s):
        a *= s
        return a

    @staticmethod
    def addcmul_(a, b, c, value=1.0):
        a += (value * b) * c if value != 1 else b * c
        return a

    @staticmethod
    def addcdiv_(a, b, c, value=1.0):
        a += (value * b) / c if value != 1 else b / c
        return a

    @staticmethod
    def lerp_(a, b, w):
        if abs(w) < 0.5:
            a += w * (b - a)
        else:
            a[...] = b - (b - a) * (1 - w)
        return a

    @staticmethod
    def sqrt(a):
        return _arr(np.sqrt(a))

    @staticmethod
    def sqrt_(a):
        return np.sqrt(a, out=a)

    @staticmethod
    def adds(a, s):
        return _arr(a + s)

    @staticmethod
    def adds_(a, s):
        a += s
        return a

    @staticmethod
    def div(a, s):
        return _arr(a / s)

    @staticmethod
    def div_(a, b):
        a /= b
        return a

    @staticmethod
    def mul(a, b):
        return _arr(a * b)

    @staticmethod
    def maximum_(a, b):
        return np.maximum(a, b, out=a)

    @staticmethod
    def copy_(a, b):
        a[...] = b
        return a

    @staticmethod
    def clone(a):
        return np.array(a)

    @staticmethod
    def abs(a):
        return _arr(np.abs(a))


class _TensorKernels:
    """The same primitives as ember ops, so a ``differentiable=True`` step stays in the
    autograd graph (NOTE [Optimizer updates])."""

    @staticmethod
    def unwrap(t):
        return t

    @staticmethod
    def neg(a):
        return -a

    @staticmethod
    def add(a, b, alpha=1.0):
        return a.add(b, alpha=alpha)

    @staticmethod
    def add_(a, b, alpha=1.0):
        return a.add_(b, alpha=alpha)

    @staticmethod
    def mul_(a, s):
        return a.mul_(s)

    @staticmethod
    def addcmul_(a, b, c, value=1.0):
        return a.addcmul_(b, c, value=value)

    @staticmethod
    def addcdiv_(a, b, c, value=1.0):
        return a.addcdiv_(b, c, value=value)

    @staticmethod
    def lerp_(a, b, w):
        return a.lerp_(b, w)

    @staticmethod
    def sqrt(a):
        return a.sqrt()

    @staticmethod
    def sqrt_(a):
        return a.sqrt_()

    @staticmethod
    def adds(a, s):
        return a.add(s)

    @staticmethod
    def adds_(a, s):
        return a.add_(s)

    @staticmethod
    def div(a, s):
        return a / s

    @staticmethod
    def div_(a, b):
        return a.div_(b)

    @staticmethod
    def mul(a, b):
        return a * b

    @staticmethod
    def maximum_(a, b):
        return a.copy_(ember.maximum(a.clone(), b))

    @staticmethod
    def copy_(a, b):
        return a.copy_(b)

    @staticmethod
    def clone(a):
        return a.clone()

    @staticmethod
    def abs(a):
        return a.abs()


def _detached_copy(K, like: Tensor, value) -> Tensor:
    """A new state tensor shaped like ``like`` holding ``value`` (an array, or a tensor
    when differentiable), detached from any graph (torch's ``grad.detach().clone()``)."""
    if K is _TensorKernels:
        return value.detach().clone()
    out = make(np.empty_like(like._data))
    _real(out._data)[...] = value
    return out


def _kernels(group: dict):
    return _TensorKernels if group.get("differentiable") else _ArrayKernels


# A thread takes at least this much work, in elements times passes (~0.1 ms): below it,
# handing work to another thread costs about what the thread saves.
_WORK_PER_THREAD = 1 << 20
# Chunks per thread. More would let a thread that starts late (a busy machine) find the
# others have taken its share, but each chunk repeats every job's calls on shorter ranges:
# measured on Adam and SGD over 1M parameters with two threads, four chunks a thread took
# 1.7-2x the time of one.
_CHUNKS_PER_THREAD = 1
def _padded(n: int) -> int:
    # Each scratch temporary starts on a 64-byte boundary of its buffer (SIMD loads).
    return (n + 15) & ~15


def _chunk_jobs(jobs: list, passes: int) -> tuple[int, list]:
    """The thread count and the jobs as chunks of about equal numbers of elements (cut in
    flat ranges of the jobs' arrays): one chunk of all the jobs, whole, when the thread
    count, the size, a non-contiguous array or a parameter given twice (its updates must
    run in order) rules the cut out."""
    total = 0
    for _, arrays, _, _ in jobs:
        total += arrays[0].size
    threads = min(ember.get_num_threads(), total * passes // _WORK_PER_THREAD)
    if threads < 2 or len({id(job[0]) for job in jobs}) != len(jobs) or not all(
            a is None or a.flags.c_contiguous for _, arrays, _, _ in jobs for a in arrays):
        return 1, [jobs]
    count = threads * _CHUNKS_PER_THREAD
    per = -(-total // count)
    chunks: list = [[] for _ in range(count)]
    pos = 0
    for param, arrays, n_scratch, scalars in jobs:
        flats = [None if a is None else a.reshape(-1) for a in arrays]
        n = len(flats[0])
        start = 0
        while start < n:
            c = pos // per
            stop = min(n, start + (c + 1) * per - pos)
            chunks[c].append((param, tuple(None if f is None else f[start:stop] for f in flats),
                              n_scratch, scalars))
            pos += stop - start
            start = stop
    return threads, chunks


def _run_chunk(kernel: Callable, chunk: list, buffers: dict) -> None:
    for _, arrays, n_scratch, scalars in chunk:
        a = arrays[0]
        n, shape = a.size, a.shape
        buf = buffers[a.dtype]
        if n_scratch == 1:
            scratch = [buf[:n].reshape(shape)]
        else:
            stride = _padded(n)
            scratch = [buf[i * stride:i * stride + n].reshape(shape) for i in range(n_scratch)]
        kernel(*arrays, scratch, *scalars)


class _Chunks:
    """One step's chunks, each handed to whichever thread asks next."""

    __slots__ = ("chunks", "take", "left", "lock", "finished", "error")

    def __init__(self, chunks: list) -> None:
        self.chunks = chunks
        self.take = itertools.count().__next__  # one C call: atomic under the GIL
        self.left = len(chunks)
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def drain(self, kernel: Callable, buffers: dict) -> None:
        """Run chunks until none is left; the last one to finish sets ``finished``."""
        while True:
            i = self.take()
            if i >= len(self.chunks):
                return
            try:
                _run_chunk(kernel, self.chunks[i], buffers)
            except BaseException as exc:  # raised again by the thread that waits
                self.error = exc
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.finished.set()


def _lerp_(a: np.ndarray, b: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """``a.lerp_(b, weight)`` in place through ``tmp``, in the order of each of torch's two
    branches."""
    np.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        np.subtract(b, tmp, out=a)


def _negated_decayed(grad: np.ndarray, param: np.ndarray, maximize: bool, weight_decay: float,
                     out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """torch's ``grad = -grad if maximize`` then ``grad = grad.add(param, alpha=weight_decay)``
    written into ``out`` (``tmp`` a second temporary); ``grad`` itself when neither
    applies."""
    if maximize:
        grad = np.negative(grad, out=out)
        if weight_decay != 0:
            np.multiply(param, weight_decay, out=tmp)
            out += tmp
    elif weight_decay != 0:
        np.multiply(param, weight_decay, out=out)
        out += grad
        grad = out
    return grad


def _adam_moments_differentiable(group: dict, p: Tensor, state: dict) -> Tensor:
    """``_adam_moments_`` in ember ops, for ``differentiable=True`` (the update is recorded):
    negation, L2 or decoupled decay, ``exp_avg.lerp_`` and ``exp_avg_sq``'s update; returns
    the gradient the rest of the step reads."""
    K = _TensorKernels
    beta1, beta2 = group["betas"]
    lr, wd = group["lr"], group["weight_decay"]  # a tensor lr: torch's decay factor records it
    grad, exp_avg, exp_avg_sq = p._grad, state["exp_avg"], state["exp_avg_sq"]
    if group["maximize"]:
        grad = K.neg(grad)
    if wd != 0:
        if group["decoupled_weight_decay"]:
            K.mul_(p, 1 - lr * wd)
        else:
            grad = K.add(grad, p, wd)
    K.lerp_(exp_avg, grad, 1 - beta1)
    K.mul_(exp_avg_sq, beta2)
    _refuse_grad_number(beta2, "addcmul_(): argument 'value'")
    K.addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
    return grad


def _adam_moments_(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray,
                   exp_avg_sq: np.ndarray, maximize: bool, l2: float, decay, weight: float,
                   beta2: float, one_minus_beta2: float, spare: np.ndarray | None,
                   tmp: np.ndarray, blas: bool = True) -> np.ndarray:
    """The first half of torch's Adam-family step (Adam, AdamW, NAdam, RAdam) on arrays, in
    place: the gradient negated and L2-decayed (into ``spare``, needed only with
    ``maximize`` or ``l2``), the decoupled decay of
    ``param`` (``decay``: its factor, or None), ``exp_avg.lerp_(grad, weight)`` and
    ``exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)``; returns the gradient
    the rest of the step reads; ``blas=False`` keeps to NumPy's calls (NOTE [BLAS passes on
    large arrays] in ember/_blas.py)."""
    if maximize or l2:
        grad = _negated_decayed(grad, param, maximize, l2, spare, tmp)
    if decay is not None:
        param *= decay
    if blas and _blas.usable(grad, exp_avg) and _blas.usable(grad, exp_avg_sq):
        _blas.axpby(weight, grad, 1 - weight, exp_avg)
        np.multiply(grad, grad, out=tmp)
        _blas.axpby(one_minus_beta2, tmp, beta2, exp_avg_sq)
        return grad
    _lerp_(exp_avg, grad, weight, tmp)
    exp_avg_sq *= beta2
    np.multiply(grad, one_minus_beta2, out=tmp)
    tmp *= grad
    exp_avg_sq += tmp
    return grad


def _closure_loss(closure):
    if closure is None:
        return None
    with ember.enable_grad():
        return closure()
