"""Mirrors ``torch.nn.parameter``: ``Parameter``, ``Buffer`` and the lazy modules'
uninitialized placeholders.

A ``Parameter`` is a ``Tensor`` subclass sharing its data's array and version counter (as
torch's ``_make_subclass`` shares storage). Ops on a parameter return plain tensors, as in
torch.
"""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._device import place
from ember._tensor import _INTERNAL_ATTRS, Tensor, make

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]

_slot_data = Tensor._data  # the slot descriptor: UninitializedTensorMixin shadows ``_data``


def _wrap(cls, data: Tensor | None, requires_grad: bool) -> Tensor:
    if data is None:
        data = make(np.empty((0,), _dtype.get_default_dtype().np))
    return Tensor._make_subclass(cls, data, requires_grad)


def _rebuild_parameter(cls, data: Tensor, requires_grad: bool, state: dict) -> Parameter:
    param = cls(data, requires_grad)
    param.__dict__.update(state)
    return param


class Parameter(Tensor):
    """Mirrors ``torch.nn.Parameter``: a tensor that a ``Module`` registers as a parameter
    when assigned as an attribute.

    Args:
        data: the tensor to wrap (its array is shared, not copied); ``None`` gives an empty
            tensor of the default dtype.
        requires_grad: whether the parameter requires gradient (default ``True``).
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        return _wrap(cls, data, requires_grad)

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        from ember._tensor_str import tensor_repr

        return "Parameter containing:\n" + tensor_repr(self, "tensor(")

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor.clone(self.detach()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        # the Python attributes go with it; autograd state (.grad, hooks, the node that
        # accumulates into it) does not (NOTE [Tensor copies])
        state = {k: v for k, v in self.__dict__.items() if k not in _INTERNAL_ATTRS}
        return (_rebuild_parameter,
                (type(self), Tensor.detach(self), self._requires_grad, state))


class _BufferMeta(type):
    # ``Buffer(t)`` returns a plain tensor marked ``_is_buffer``, so isinstance asks the mark.
    def __instancecheck__(cls, instance) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Mirrors ``torch.nn.Buffer``: marks a tensor to be registered as a buffer when assigned
    as a ``Module`` attribute.

    Returns a plain ``Tensor`` (``data`` detached, keeping its ``requires_grad``) carrying
    ``persistent`` and ``_is_buffer``; ``isinstance(t, Buffer)`` reads that mark, as in torch.

    Args:
        data: the buffer's tensor; ``None`` gives an empty tensor.
        persistent: whether the buffer is part of the module's ``state_dict``.
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from ember._ops.creation import empty

            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


_UNINIT_USE = (
    "Attempted to use an uninitialized parameter. This error happens when you are using a "
    "`LazyModule` or explicitly manipulating `torch.nn.parameter.UninitializedParameter` "
    "objects. When using LazyModules Call `forward` with a dummy batch to initialize the "
    "parameters before calling torch functions")
_UNINIT_ATTR = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes.")


class UninitializedTensorMixin:
    """Mirrors torch's ``UninitializedTensorMixin``: a tensor without data until
    ``materialize``. Every op on it raises ``ValueError`` (ember's message does not name
    the op, torch's does)."""

    cls_to_become: type = Parameter

    @property
    def _data(self):
        raise ValueError(_UNINIT_USE)

    @_data.setter
    def _data(self, value) -> None:
        _slot_data.__set__(self, value)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Mirrors ``UninitializedParameter.materialize``: allocate an (uninitialised) tensor
        of ``shape`` and become ``cls_to_become``."""
        place(device)
        if isinstance(shape, int):
            shape = (shape,)
        np_dtype = (self.__dict__.get("_uninit_dtype") if dtype is None else dtype).np
        _slot_data.__set__(self, np.empty(tuple(shape), np_dtype))
        self.__dict__.pop("_uninit_dtype", None)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_ATTR)

    @property
    def dtype(self) -> _dtype.dtype:
        return self.__dict__["_uninit_dtype"]

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_ATTR)

    def numel(self) -> int:
        raise RuntimeError(_UNINIT_ATTR)

    def dim(self) -> int:
        raise RuntimeError(_UNINIT_ATTR)

    @property
    def ndim(self) -> int:
        raise RuntimeError(_UNINIT_ATTR)

    def has_uninitialized_params(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    def __reduce_ex__(self, protocol):
        raise RuntimeError(
            f"'{self.__class__.__name__}' instances cannot be serialized before being "
            "materialized")

    def __deepcopy__(self, memo: dict):
        result = type(self)(self._requires_grad, dtype=self.dtype)
        memo[id(self)] = result
        return result


def _uninit(cls, requires_grad: bool, device, dtype) -> Tensor:
    place(device)  # torch's error for a device this build lacks
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    obj = object.__new__(cls)
    _slot_data.__set__(obj, np.empty((0,), dtype.np))
    obj._requires_grad = bool(requires_grad)
    obj._grad_fn = None
    obj._vc = [0]
    obj.__dict__["_uninit_dtype"] = dtype
    return obj


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """Mirrors ``torch.nn.UninitializedParameter``: a parameter whose shape a lazy module
    decides at its first call (``materialize`` turns it into a ``Parameter``)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        return _uninit(cls, requires_grad, device, dtype)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """Mirrors ``torch.nn.UninitializedBuffer``: a buffer whose shape a lazy module decides
    at its first call (``materialize`` turns it into a ``Tensor``)."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None,
                persistent: bool = True):
        obj = _uninit(cls, requires_grad, device, dtype)
        obj.persistent = persistent
        return obj

    def __init__(self, requires_grad: bool = False, device=None, dtype=None,
                 persistent: bool = True) -> None:
        pass


def is_lazy(param) -> bool:
    """Mirrors ``torch.nn.parameter.is_lazy``."""
    return isinstance(param, UninitializedTensorMixin)
