"""Mirrors ``torch.nn.Module``: the base class of every layer.

A module keeps its parameters, buffers and submodules in three ordered dicts that
``__setattr__`` fills and ``__getattr__`` reads, so ``self.weight = Parameter(...)``
registers and ``self.weight`` finds it. Calling a module runs the forward pre-hooks,
``forward``, the forward hooks, and wraps inputs and outputs for the full backward hooks
(NOTE [Module backward hooks]).
"""
from __future__ import annotations

import functools
import itertools
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ember import _dtype
from ember._memory_format import memory_format as _memory_format_cls
from ember._tensor import Tensor
from ember.autograd.function import Function
from ember.autograd.grad_mode import no_grad
from ember.autograd.grad_mode import state as _grad_state
from ember.nn.parameter import Buffer, Parameter, is_lazy
from ember.utils.hooks import RemovableHandle, add_hook

__all__ = [
    "Module", "register_module_forward_pre_hook", "register_module_forward_hook",
    "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
    "register_module_buffer_registration_hook", "register_module_module_registration_hook",
    "register_module_parameter_registration_hook",
]


def _typename(obj) -> str:
    from ember._runtime import typename

    return typename(obj)


_global_buffer_registration_hooks: OrderedDict = OrderedDict()
_global_module_registration_hooks: OrderedDict = OrderedDict()
_global_parameter_registration_hooks: OrderedDict = OrderedDict()
_global_backward_pre_hooks: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()
_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_always_called: OrderedDict = OrderedDict()
_global_forward_hooks_with_kwargs: OrderedDict = OrderedDict()


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Mirrors ``torch.nn.modules.module.register_module_forward_pre_hook``: ``hook(module,
    args)`` before every module's forward (before the module's own pre-hooks)."""
    return add_hook(_global_forward_pre_hooks, hook, False)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Mirrors ``torch.nn.modules.module.register_module_forward_hook``: ``hook(module,
    args, output)`` (or ``(module, args, kwargs, output)``) after every module's forward."""
    handle = add_hook(_global_forward_hooks, hook, False,
                       [_global_forward_hooks_always_called, _global_forward_hooks_with_kwargs])
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Mirrors ``torch.nn.modules.module.register_module_full_backward_pre_hook``."""
    return add_hook(_global_backward_pre_hooks, hook, False)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Mirrors ``torch.nn.modules.module.register_module_full_backward_hook``."""
    return add_hook(_global_backward_hooks, hook, False)


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """Mirrors torch's global ``hook(module, name, buffer)`` run at each buffer
    registration; it may return a replacement buffer."""
    return add_hook(_global_buffer_registration_hooks, hook, False)


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """Mirrors torch's global ``hook(module, name, submodule)`` run at each submodule
    registration; it may return a replacement."""
    return add_hook(_global_module_registration_hooks, hook, False)


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """Mirrors torch's global ``hook(module, name, param)`` run at each parameter
    registration; it may return a replacement."""
    return add_hook(_global_parameter_registration_hooks, hook, False)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns (torch's named tuple, with its repr)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    pad = " " * num_spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


# NOTE [Module backward hooks]
# Full backward hooks need the gradients of a call's inputs and outputs together. As torch
# does, the tensors going into forward pass through one identity Function and the tensors
# coming out through another. In backward, the output identity runs first: it runs the
# backward pre-hooks (which may replace grad_output) and keeps grad_output; then the input
# identity runs the backward hooks with (grad_input, grad_output), which may replace
# grad_input. When no input needs a gradient the output identity runs the hooks itself, with
# grad_input all None. Positions that hold no tensor carry None.


class _BackwardHookFunction(Function):
    @staticmethod
    def forward(ctx, state, side, *tensors):
        ctx.set_materialize_grads(False)
        ctx.state, ctx.side = state, side
        ctx.mark_non_differentiable(*[t for t in tensors if not t._requires_grad])
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        if ctx.side == "output":
            grads = ctx.state.on_output_grads(grads)
        else:
            grads = ctx.state.on_input_grads(grads)
        return (None, None) + tuple(grads)


class _BackwardHook:
    """One module call's view of its input and output gradients (NOTE [Module backward
    hooks])."""

    def __init__(self, module: Module, user_hooks: list, user_pre_hooks: list) -> None:
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_positions = None
        self.n_outputs = 0
        self.output_positions = None

    @staticmethod
    def _pack(positions, values, size: int) -> tuple:
        out = [None] * size
        for pos, v in zip(positions, values):
            out[pos] = v
        return tuple(out)

    def _wrap(self, values: tuple, side: str):
        positions = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        tensors = [values[i] for i in positions]
        if not (_grad_state.enabled and any(t._requires_grad for t in tensors)):
            return values, None
        wrapped = _BackwardHookFunction.apply(self, side, *tensors)
        out = list(values)
        for pos, t in zip(positions, wrapped):
            out[pos] = t
        return tuple(out), positions

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.input_positions = self._wrap(args, "input")
        return args

    def setup_output_hook(self, result):
        single = not isinstance(result, tuple)
        values = (result,) if single else result
        self.n_outputs = len(values)
        values, self.output_positions = self._wrap(values, "output")
        return values[0] if single else values

    def on_output_grads(self, grads: tuple) -> tuple:
        packed = self._pack(self.output_positions, grads, self.n_outputs)
        for hook in self.user_pre_hooks:
            result = hook(self.module, packed)
            if result is None:
                continue
            if len(result) != len(packed):
                raise RuntimeError(
                    f"Backward pre hook returned an invalid number of grad_output, got "
                    f"{len(result)}, but expected {len(packed)}")
            packed = tuple(result)
        self.grad_outputs = packed
        if self.input_positions is None:
            if self.user_hooks:
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to "
                    "module outputs since no inputs require gradients. See https://docs."
                    "pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module."
                    "register_full_backward_hook for more details.", stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                result = hook(self.module, grad_inputs, self.grad_outputs)
                if result is not None and not (
                        isinstance(result, tuple) and all(r is None for r in result)):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients.")
            self.grad_outputs = None
        return tuple(packed[i] for i in self.output_positions)

    def on_input_grads(self, grads: tuple) -> tuple:
        packed = self._pack(self.input_positions, grads, self.n_inputs)
        for hook in self.user_hooks:
            result = hook(self.module, packed, self.grad_outputs)
            if result is None:
                continue
            if not isinstance(result, tuple) or len(result) != len(packed):
                raise RuntimeError(
                    f"Backward hook returned an invalid number of grad_input, got "
                    f"{len(result)}, but expected {len(packed)}")
            packed = result
        self.grad_outputs = None
        return tuple(packed[i] for i in self.input_positions)


_HOOK_DICTS = (
    "_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


class _WrappedHook:
    """A load-state-dict pre-hook that also receives the module (held weakly)."""

    def __init__(self, hook: Callable, module: Module | None = None) -> None:
        self.hook = hook
        functools.update_wrapper(self, hook)
        self.with_module = module is not None
        self.module = weakref.ref(module) if module is not None else None

    def __call__(self, *args, **kwargs):
        if self.with_module:
            module = self.module()
            if module is None:
                raise RuntimeError("You are trying to call the hook of a dead Module!")
            return self.hook(module, *args, **kwargs)
        return self.hook(*args, **kwargs)

    def __getstate__(self) -> dict:
        state = {"hook": self.hook, "with_module": self.with_module}
        if self.with_module:
            state["module"] = self.module()
        return state

    def __setstate__(self, state: dict) -> None:
        self.hook = state["hook"]
        self.with_module = state["with_module"]
        self.module = weakref.ref(state["module"]) if self.with_module else None


_MIXED_BACKWARD_HOOKS = ("Cannot use both regular backward hooks and full backward hooks on a "
                         "single Module. Please use only one of them.")
_NON_FULL = "Using {} is deprecated and will be removed in future versions. This hook will be " \
    "missing some {}. Please use register_full_backward_hook to get the documented behavior."


def _call_module_hook(hook: Callable, module, grad_inputs, grad_outputs):
    return hook(module, grad_inputs, grad_outputs)


def _non_full_hook_warning(args: tuple, result, node) -> str | None:
    """torch's warning for a non-full backward hook whose node does not see the module's
    whole computation, or None when it does (NOTE [Non-full backward hooks])."""
    def tensors(value) -> tuple | None:
        if isinstance(value, Tensor):
            return (value,)
        if isinstance(value, tuple) and all(isinstance(v, Tensor) for v in value):
            return value
        return None

    outputs = tensors(result)
    if outputs is None:
        return _NON_FULL.format("non-full backward hooks on a Module that does not return a "
                                "single Tensor or a tuple of Tensors", "of the grad_output")
    inputs = tensors(args)
    if inputs is None:
        return _NON_FULL.format("non-full backward hooks on a Module that does not take as "
                                "input a single Tensor or a tuple of Tensors",
                                "of the grad_input")
    output_nodes = {t.grad_fn for t in outputs if t.grad_fn is not None}
    if not output_nodes or (len(output_nodes) == 1 and node not in output_nodes):
        return _NON_FULL.format("a non-full backward hook when outputs are nested in python "
                                "data structure", "grad_output")
    if len(output_nodes) > 1:
        return _NON_FULL.format("a non-full backward hook when outputs are generated by "
                                "different autograd Nodes", "grad_output")
    input_nodes = {t.grad_fn for t in inputs if t.grad_fn is not None}
    if input_nodes != {fn for fn, _ in node.next_functions}:
        return _NON_FULL.format("a non-full backward hook when the forward contains multiple "
                                "autograd Nodes", "grad_input")
    return None


def _forward_unimplemented(self, *input: Any) -> None:
    """What ``forward`` is until a subclass defines it."""
    raise NotImplementedError(
        f'Module [{type(self).__name__}] is missing the required "forward" function')


class Module:
    """Mirrors ``torch.nn.Module``: subclass it, create parameters and submodules in
    ``__init__`` (after ``super().__init__()``) and compute in ``forward``.

    ``share_memory`` moves every parameter and buffer into shared memory
    (``Tensor.share_memory_``), so forked processes write where the parent reads.
    """

    dump_patches: bool = False
    T_destination = TypeVar("T_destination", bound=dict)  # torch's type of state_dict's
    _version: int = 1
    training: bool
    call_super_init: bool = False
    _compiled_call_impl = None

    def __init__(self, *args, **kwargs) -> None:
        if self.call_super_init is False and bool(kwargs):
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            f"argument '{next(iter(kwargs))}'")
        if self.call_super_init is False and bool(args):
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument "
                            f"but {len(args) + 1} were given")
        setattr_ = super().__setattr__
        setattr_("training", True)
        setattr_("_parameters", {})
        setattr_("_buffers", {})
        setattr_("_non_persistent_buffers_set", set())
        for name in _HOOK_DICTS:
            setattr_(name, OrderedDict())
        setattr_("_is_full_backward_hook", None)
        setattr_("_modules", {})
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    forward: Callable[..., Any] = _forward_unimplemented

    # ---- registration --------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None,
                        persistent: bool = True) -> None:
        """Mirrors ``Module.register_buffer``: a tensor saved in ``state_dict`` (unless
        ``persistent=False``) and moved by ``to``, but not a parameter."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError("buffer name can't contain \".\"")
        if name == "":
            raise KeyError("buffer name can't be empty string \"\"")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(torch Tensor or None required)")
        for hook in _global_buffer_registration_hooks.values():
            output = hook(self, name, tensor)
            if output is not None:
                tensor = output
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Mirrors ``Module.register_parameter``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError("parameter name can't contain \".\"")
        if name == "":
            raise KeyError("parameter name can't be empty string \"\"")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        if param._grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must "
                f"be created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method.")
        for hook in _global_parameter_registration_hooks.values():
            output = hook(self, name, param)
            if output is not None:
                param = output
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Mirrors ``Module.add_module``: register ``module`` as the child ``name``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f"module name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError("module name can't be empty string \"\"")
        for hook in _global_module_registration_hooks.values():
            output = hook(self, name, module)
            if output is not None:
                module = output
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Mirrors ``Module.register_module`` (an alias of ``add_module``)."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """Mirrors ``Module.get_submodule``: the submodule at a dotted path."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Mirrors ``Module.set_submodule``: replace (or, unless ``strict``, add) the
        submodule at a dotted path."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError("`module` is not an nn.Module, found " + str(type(module)))
        mod = self.get_submodule(".".join(atoms[:-1])) if len(atoms) > 1 else self
        if strict and not hasattr(mod, atoms[-1]):
            raise AttributeError(mod._get_name() + " has no attribute `" + atoms[-1] + "`")
        if hasattr(mod, atoms[-1]) and not isinstance(getattr(mod, atoms[-1]), Module):
            raise AttributeError("`" + atoms[-1] + "` is not an nn.Module")
        setattr(mod, atoms[-1], module)

    def get_parameter(self, target: str) -> Parameter:
        """Mirrors ``Module.get_parameter``: the parameter at a dotted path."""
        module_path, _, param_name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, param_name):
            raise AttributeError(mod._get_name() + " has no attribute `" + param_name + "`")
        param = getattr(mod, param_name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + param_name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """Mirrors ``Module.get_buffer``: the buffer at a dotted path."""
        module_path, _, buffer_name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, buffer_name):
            raise AttributeError(mod._get_name() + " has no attribute `" + buffer_name + "`")
        buffer = getattr(mod, buffer_name)
        if buffer_name not in mod._buffers:
            raise AttributeError("`" + buffer_name + "` is not a buffer")
        return buffer

    def get_extra_state(self) -> Any:
        """Mirrors ``Module.get_extra_state``: override it (with ``set_extra_state``) to save
        extra state in ``state_dict`` under ``_extra_state``."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug.")

    def set_extra_state(self, state: Any) -> None:
        """Mirrors ``Module.set_extra_state``."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug.")

    # ---- conversion ------------------------------------------------------------------
    def _apply(self, fn: Callable, recurse: bool = True) -> Module:
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                param_applied = fn(param)
            # The Parameter object stays (optimizers hold it); its data changes, as torch's
            # default (non-swapping) conversion does.
            Tensor.data.fset(param, param_applied)
            grad = param._grad
            if grad is not None:
                with no_grad():
                    grad_applied = fn(grad)
                grad._data = grad_applied._data
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Mirrors ``Module.apply``: ``fn`` on every submodule (children first), then self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def cpu(self) -> Module:
        """Mirrors ``Module.cpu`` (ember's tensors are on the CPU)."""
        return self

    def cuda(self, device=None) -> Module:
        """Mirrors ``Module.cuda``: every parameter and buffer moved by ``Tensor.cuda``, which
        raises torch's error where this build has no CUDA (a module without tensors comes
        back as it is, as torch's does)."""
        return self._apply(lambda t: t.cuda(device))

    def xpu(self, device=None) -> Module:
        """Mirrors ``Module.xpu`` (as ``cuda``, for XPU devices)."""
        return self._apply(lambda t: t.xpu(device))

    def ipu(self, device=None) -> Module:
        """Mirrors ``Module.ipu`` (as ``cuda``, for IPU devices)."""
        return self._apply(lambda t: t.ipu(device))

    def mtia(self, device=None) -> Module:
        """Mirrors ``Module.mtia`` (as ``cuda``, for MTIA devices)."""
        return self._apply(lambda t: t.mtia(device))

    def type(self, dst_type) -> Module:
        """Mirrors ``Module.type``: cast every parameter and buffer to ``dst_type``."""
        return self._apply(lambda t: t.type(dst_type))

    def float(self) -> Module:
        """Mirrors ``Module.float``: floating-point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> Module:
        """Mirrors ``Module.double``."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> Module:
        """Mirrors ``Module.half``."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self) -> Module:
        """Mirrors ``Module.bfloat16``."""
        return self._apply(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def to_empty(self, *, device=None, recurse: bool = True) -> Module:
        """Mirrors ``Module.to_empty``: parameters and buffers replaced by uninitialised
        tensors of the same shape and dtype."""
        from ember._ops.creation import empty_like

        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def to(self, *args, **kwargs) -> Module:
        """Mirrors ``Module.to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(tensor)``: floating-point and complex parameters and buffers take the dtype;
        ``memory_format=`` lays out the 4-d and 5-d ones as it says (a channels-last format
        of the other rank raises, as torch's)."""
        from ember._device import device as _device_cls
        from ember._device import serve

        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        memory_format = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if memory_format is not None and type(memory_format) is not _memory_format_cls:
            raise TypeError("to() received an invalid combination of arguments - got "
                            f"(memory_format={type(memory_format).__name__}, )")
        for a in args:
            if a is None:  # torch's to(None) / to(None, dtype): nothing to move
                continue
            if isinstance(a, _dtype.dtype):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, _device_cls, int)) and not isinstance(a, bool):
                device = a
            elif not isinstance(a, bool):
                raise TypeError(f"to() received an invalid combination of arguments - got "
                                f"({type(a).__name__})")
        if device is not None:
            serve(device)  # torch's error for a device this build lacks
        if dtype is not None and dtype.category not in (_dtype.FLOAT, _dtype.COMPLEX):
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            floating = t.is_floating_point() or t.is_complex()
            if memory_format is not None and t.dim() in (4, 5):
                # as torch: only 4-d and 5-d tensors take the memory format
                return t.to(dtype if floating else None, memory_format=memory_format)
            if dtype is not None and floating:
                return t.to(dtype)
            return t

        return self._apply(convert)

    def share_memory(self) -> Module:
        """Mirrors ``Module.share_memory``: every parameter, gradient and buffer moves into
        shared memory (see ember/_shared_memory.py), so processes forked afterwards (e.g.
        Hogwild training) update the parent's tensors."""
        from ember._shared_memory import share_memory_

        return self._apply(share_memory_)

    # ---- hooks -----------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Mirrors ``Module.register_forward_pre_hook``: ``hook(module, args)`` (or
        ``hook(module, args, kwargs)`` with ``with_kwargs``) before ``forward``; it may
        return new args (or ``(args, kwargs)``)."""
        handle = add_hook(self._forward_pre_hooks, hook, prepend,
                           self._forward_pre_hooks_with_kwargs)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Mirrors ``Module.register_forward_hook``: ``hook(module, args, output)`` (or
        ``hook(module, args, kwargs, output)``) after ``forward``; it may return a new
        output. ``always_call`` runs it even when ``forward`` raises."""
        handle = add_hook(self._forward_hooks, hook, prepend,
                           [self._forward_hooks_with_kwargs, self._forward_hooks_always_called])
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """Mirrors ``Module.register_full_backward_pre_hook``: ``hook(module, grad_output)``
        when the gradients of the outputs are computed; it may return a new grad_output."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable,
                                    prepend: bool = False) -> RemovableHandle:
        """Mirrors ``Module.register_full_backward_hook``: ``hook(module, grad_input,
        grad_output)`` when the gradients of the inputs are computed; it may return a new
        grad_input."""
        if self._is_full_backward_hook is False:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        self._is_full_backward_hook = True
        return add_hook(self._backward_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Mirrors the deprecated ``Module.register_backward_hook``: ``hook(module,
        grad_input, grad_output)`` on the autograd node of the module's (first) output, so
        it sees the gradients of that last op's inputs, not the module's; torch's
        FutureWarnings say when they differ (NOTE [Non-full backward hooks])."""
        if self._is_full_backward_hook is True:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        self._is_full_backward_hook = False
        return add_hook(self._backward_hooks, hook, False)

    def _hook_last_node(self, hooks: list, args: tuple, result) -> None:
        # NOTE [Non-full backward hooks]: the hooks go on the node of the first tensor found
        # in the output (first element of sequences, first tensor value of dicts); torch
        # warns where that node is not the module's whole computation.
        first = result
        while not isinstance(first, Tensor):
            if isinstance(first, dict):
                first = next(v for v in first.values() if isinstance(v, Tensor))
            else:
                first = first[0]
        node = first.grad_fn
        if node is None:
            return
        for hook in hooks:
            node.register_hook(functools.partial(_call_module_hook, hook, self))
        message = _non_full_hook_warning(args, result, node)
        if message is not None:
            warnings.warn(message, FutureWarning, stacklevel=3)

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Mirrors ``Module.register_state_dict_pre_hook``: ``hook(module, prefix,
        keep_vars)`` before ``state_dict`` saves this module."""
        return add_hook(self._state_dict_pre_hooks, hook, False)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Mirrors ``Module.register_state_dict_post_hook``: ``hook(module, state_dict,
        prefix, local_metadata)`` after this module was saved; it edits in place."""
        def checked(module, state_dict, prefix, local_metadata):
            if hook(module, state_dict, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return add_hook(self._state_dict_hooks, checked, False)

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        return add_hook(self._state_dict_hooks, hook, False)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Mirrors ``Module.register_load_state_dict_pre_hook``: ``hook(module, state_dict,
        prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)``."""
        return add_hook(self._load_state_dict_pre_hooks, _WrappedHook(hook, self), False)

    def _register_load_state_dict_pre_hook(self, hook: Callable,
                                           with_module: bool = False) -> RemovableHandle:
        wrapped = _WrappedHook(hook, self if with_module else None)
        return add_hook(self._load_state_dict_pre_hooks, wrapped, False)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Mirrors ``Module.register_load_state_dict_post_hook``: ``hook(module,
        incompatible_keys)`` after this module was loaded; it may edit the key lists."""
        return add_hook(self._load_state_dict_post_hooks, hook, False)

    # ---- calling ---------------------------------------------------------------------
    def _call_impl(self, *args, **kwargs):
        forward_call = self.forward
        if not (self._backward_hooks or self._backward_pre_hooks or self._forward_hooks
                or self._forward_pre_hooks or _global_backward_pre_hooks
                or _global_backward_hooks or _global_forward_hooks
                or _global_forward_pre_hooks):
            return forward_call(*args, **kwargs)

        if self._is_full_backward_hook is False:
            backward_hooks = [*_global_backward_hooks.values()]
            non_full_hooks = [*self._backward_hooks.values()]
        else:
            backward_hooks = [*_global_backward_hooks.values(), *self._backward_hooks.values()]
            non_full_hooks = None
        backward_pre_hooks = [*_global_backward_pre_hooks.values(),
                              *self._backward_pre_hooks.values()]
        called_always = set()
        result = None
        try:
            for hook_id, hook in (*_global_forward_pre_hooks.items(),
                                  *self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError(
                                "forward pre-hook must return None or a tuple of (new_args, "
                                f"new_kwargs), but got {result}.")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)

            bw_hook = None
            if backward_hooks or backward_pre_hooks:
                bw_hook = _BackwardHook(self, backward_hooks, backward_pre_hooks)
                args = bw_hook.setup_input_hook(args)

            result = forward_call(*args, **kwargs)
            for hook_id, hook in (*_global_forward_hooks.items(),
                                  *self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called or \
                        hook_id in _global_forward_hooks_always_called:
                    called_always.add(hook_id)
                if hook_id in self._forward_hooks_with_kwargs or \
                        hook_id in _global_forward_hooks_with_kwargs:
                    hook_result = hook(self, args, kwargs, result)
                else:
                    hook_result = hook(self, args, result)
                if hook_result is not None:
                    result = hook_result

            if bw_hook is not None:
                result = bw_hook.setup_output_hook(result)
            if non_full_hooks:
                self._hook_last_node(non_full_hooks, args, result)
            return result
        except Exception:
            for hooks, always in ((_global_forward_hooks, _global_forward_hooks_always_called),
                                  (self._forward_hooks, self._forward_hooks_always_called)):
                for hook_id, hook in hooks.items():
                    if hook_id in always and hook_id not in called_always:
                        try:
                            if hook_id in self._forward_hooks_with_kwargs or \
                                    hook_id in _global_forward_hooks_with_kwargs:
                                hook_result = hook(self, args, kwargs, result)
                            else:
                                hook_result = hook(self, args, result)
                            if hook_result is not None:
                                result = hook_result
                        except Exception as e:
                            warnings.warn(
                                "forward hook with ``always_call=True`` raised an exception "
                                "that was silenced as another error was raised in forward: "
                                f"{str(e)}", stacklevel=2)
            raise

    def _wrapped_call_impl(self, *args, **kwargs):
        if self._compiled_call_impl is not None:  # set by ``compile``
            return self._compiled_call_impl(*args, **kwargs)
        return self._call_impl(*args, **kwargs)

    __call__: Callable[..., Any] = _wrapped_call_impl

    def compile(self, *args, **kwargs) -> None:
        """Mirrors ``Module.compile``: calls of this module run ``ember.compile`` of its
        ``__call__`` (hooks included), with ``args`` and ``kwargs`` passed to it as given;
        the module itself stays as it is (its class, state dict and repr)."""
        from ember._runtime import compile as compile_fn

        self._compiled_call_impl = compile_fn(self._call_impl, *args, **kwargs)

    # ---- attributes --------------------------------------------------------------------
    def __getstate__(self) -> dict:
        return self.__dict__.copy()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                super().__setattr__(name, OrderedDict())
        if "_non_persistent_buffers_set" not in self.__dict__:
            self._non_persistent_buffers_set = set()
        if "_is_full_backward_hook" not in self.__dict__:
            self._is_full_backward_hook = None

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            members = d.get(table)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*tables) -> None:
            for table in tables:
                if name in table:
                    if isinstance(table, dict):
                        del table[name]
                    else:
                        table.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(torch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
            for hook in _global_module_registration_hooks.values():
                output = hook(self, name, value)
                if output is not None:
                    value = output
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            for hook in _global_module_registration_hooks.values():
                output = hook(self, name, value)
                if output is not None:
                    value = output
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(torch.nn.Buffer, torch.Tensor or None expected)")
            if isinstance(value, Buffer):
                persistent = value.persistent
            else:
                persistent = name not in self._non_persistent_buffers_set
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            remove_from(d)
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = [*dir(self.__class__), *self.__dict__, *self._parameters, *self._modules,
                *self._buffers]
        return sorted({k for k in keys if not k[0].isdigit()})

    # ---- state dict ------------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        extra = getattr(type(self), "get_extra_state", Module.get_extra_state)
        if extra is not Module.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "",
                   keep_vars: bool = False) -> dict:
        """Mirrors ``Module.state_dict``: an ``OrderedDict`` of parameters and persistent
        buffers under dotted names (detached unless ``keep_vars``), with ``_metadata``."""
        if args:
            warnings.warn(
                "Positional args are being deprecated, use kwargs instead. Refer to "
                "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
                "#torch.nn.Module.state_dict for details.", FutureWarning, stacklevel=2)
            if destination is None and len(args) > 0:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, local_metadata)
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(),
                                                        persistent.items()) if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            input_param = state_dict[key]
            if not isinstance(input_param, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected torch.Tensor or '
                    f"Tensor-like object from checkpoint but received {type(input_param)}")
                continue
            lazy = is_lazy(param)
            if not lazy and param.dim() == 0 and input_param.shape == (1,):
                input_param = input_param[0]
            if not lazy and input_param.shape != param.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {input_param.shape} "
                    f"from checkpoint, the shape in current model is {param.shape}.")
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            if not isinstance(input_param, Parameter):
                                input_param = Parameter(input_param,
                                                        requires_grad=param.requires_grad)
                            else:
                                input_param.requires_grad_(param.requires_grad)
                        setattr(self, name, input_param)
                    else:
                        param.copy_(input_param)
            except Exception as ex:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the '
                    f"model are {param.size()} and whose dimensions in the checkpoint are "
                    f"{input_param.size()}, an exception occurred : {ex.args}.")
        extra_key = prefix + "_extra_state"
        if getattr(type(self), "set_extra_state", Module.set_extra_state) \
                is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in self._modules and head not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Mirrors ``Module.load_state_dict``: copy (or with ``assign``, adopt) the tensors
        of ``state_dict`` into this module's parameters and buffers. Returns
        ``_IncompatibleKeys(missing_keys, unexpected_keys)``; with ``strict`` any of them,
        like a size mismatch, raises torch's ``RuntimeError``."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module: Module, local_state_dict: dict, prefix: str = "") -> None:
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    child_state = {k: v for k, v in local_state_dict.items()
                                   if k.startswith(child_prefix)}
                    load(child, child_state, child_prefix)
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace.")

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ---- traversal ---------------------------------------------------------------------
    def _named_members(self, get_members: Callable, prefix: str = "", recurse: bool = True,
                       remove_duplicate: bool = True) -> Iterator:
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or v in memo:
                    continue
                if remove_duplicate:
                    memo.add(v)
                yield module_prefix + ("." if module_prefix else "") + k, v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Mirrors ``Module.parameters``."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Mirrors ``Module.named_parameters``: ``(dotted name, parameter)`` pairs, each
        parameter once unless ``remove_duplicate=False``."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Mirrors ``Module.buffers``."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Mirrors ``Module.named_buffers`` (persistent and non-persistent buffers)."""
        yield from self._named_members(lambda m: m._buffers.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def children(self) -> Iterator[Module]:
        """Mirrors ``Module.children``: the direct submodules."""
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Mirrors ``Module.named_children``."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self) -> Iterator[Module]:
        """Mirrors ``Module.modules``: self, then every submodule depth-first."""
        for _, module in self.named_modules():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Mirrors ``Module.named_modules``."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    # ---- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Mirrors ``Module.train``: set ``training`` on this module and every child."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Mirrors ``Module.eval``: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Mirrors ``Module.requires_grad_``: on every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Mirrors ``Module.zero_grad``: drop (or with ``set_to_none=False``, zero) every
        parameter's ``.grad``."""
        for p in self.parameters():
            grad = p._grad
            if grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if grad._grad_fn is not None:
                    grad.detach_()
                else:
                    grad.requires_grad_(False)
                grad.zero_()

    # ---- printing ----------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Mirrors ``Module.extra_repr``: the text inside this module's parentheses in its
        repr; override it in a subclass."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class LazyModuleMixin:
    """Mirrors ``torch.nn.modules.lazy.LazyModuleMixin``: a module whose parameters are
    ``UninitializedParameter`` until its first call (or a ``load_state_dict``) fixes their
    shapes through ``initialize_parameters``; then it becomes ``cls_to_become``.

    Put it first among the bases, e.g. ``class LazyLinear(LazyModuleMixin, Linear)``.
    """

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._load_hook = self._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars or is_lazy(param) \
                    else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars or is_lazy(buf) else buf.detach()

    def _lazy_load_hook(self, state_dict: dict, prefix: str, local_metadata: dict,
                        strict: bool, missing_keys: list, unexpected_keys: list,
                        error_msgs: list) -> None:
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None:
                input_param = state_dict[key]
                if is_lazy(param) and not is_lazy(input_param):
                    with no_grad():
                        param.materialize(input_param.shape)

    def initialize_parameters(self, *args, **kwargs) -> None:
        """Materialise the parameters from the first input (each lazy module defines it)."""
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether some parameter or buffer is still uninitialised."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(),
                                                        self._buffers.values()))

    def _infer_parameters(self, module, args: tuple, kwargs: dict | None = None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become
