"""``Tensor``: an n-d array (``_data``, a NumPy array) with autograd state.

Attributes and dunders live here; the ops are attached as methods from the op tables in
``ember/_ops`` (each op is one record; see ``registry``). Internally tensors are made with
``make``, which skips argument parsing (the per-op path is hot).
"""
from __future__ import annotations

import functools
import warnings
import weakref
from collections import OrderedDict
from numbers import Number

from ember import _device, _dtype
from ember._backend import ndarray, np
from ember._device import CPU

_FLOAT_OR_COMPLEX = (_dtype.FLOAT, _dtype.COMPLEX)


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def c_type_name(obj) -> str:
    """The type name torch's C++ errors give a Python object (CPython's ``tp_name``): a
    class defined in Python by its name alone, an extension type with its module
    (``numpy.ndarray``), a built-in without one."""
    kind = type(obj)
    if kind.__flags__ & _HEAP_TYPE or kind.__module__ == "builtins":
        return kind.__name__
    return f"{kind.__module__}.{kind.__qualname__}"


class Size(tuple):
    """Mirrors ``torch.Size``: a tuple of ints that prints as ``torch.Size([2, 3])``. Its
    items are ints (a NumPy integer or a one-element integer tensor becomes one); anything
    else raises torch's TypeError."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        for i, s in enumerate(items):
            if type(s) is not int:
                return tuple.__new__(cls, _int_items(items, i))
        return tuple.__new__(cls, items)

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return tuple.__new__(Size, r) if isinstance(key, slice) else r

    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            "torch.Size")
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            kind = type(other).__name__
            raise TypeError(f'can only concatenate {kind} (not "torch.Size") to {kind}')
        return Size(other + tuple(self))

    def __mul__(self, times):
        if not hasattr(type(times), "__index__"):
            raise TypeError(f"can't multiply sequence by non-int of type "
                            f"'{type(times).__name__}'")
        return Size(tuple.__mul__(self, times))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__


Size.__module__ = "ember"  # the public name: ``<class 'ember.Size'>``


def _int_items(items: tuple, start: int) -> list:
    """``items`` as Python ints from ``start`` on, or torch's TypeError for one that is not
    an integer."""
    out = list(items)
    for i in range(start, len(out)):
        s = out[i]
        if type(s) is int:
            continue
        if isinstance(s, Tensor) and s._data.size == 1 and s._data.dtype.kind in "iub":
            out[i] = int(s._data.reshape(()))
        elif hasattr(s, "__index__") and not isinstance(s, Tensor):
            out[i] = s.__index__()
        else:
            raise TypeError(f"torch.Size() takes an iterable of 'int' (item {i} is "
                            f"'{type(s).__name__}')")
    return out


def accelerator_argument(device, kind: str, shown: str):
    """The device that ``Tensor.cuda``-style methods (``kind``: their device type, named
    ``shown`` in errors) move to, with torch's checks of the argument: an index asks an
    accelerator for its device (none serves one here), and a device of another type is
    refused."""
    if device is None:
        return _device.device(kind)
    if isinstance(device, int) and not isinstance(device, bool):
        if device < 0:
            raise RuntimeError("Device index must not be negative")
        raise RuntimeError("Cannot access accelerator device when none is available.")
    device = _device.device(device)
    if device.type != kind:
        raise RuntimeError(f"Invalid device, must be {shown} device")
    return device


class Tensor:
    """Mirrors ``torch.Tensor``.

    ``ember.Tensor(data)`` and ``ember.Tensor(*sizes)`` behave like torch's legacy
    constructor (default float dtype); prefer ``ember.tensor``.
    """

    # Hot attributes are slots; rarely set ones are class-level defaults shadowed through
    # ``__dict__`` when set, so making a tensor writes only four slots.
    __slots__ = ("_data", "_requires_grad", "_grad_fn", "_vc", "__dict__", "__weakref__")
    __array_priority__ = 1000  # NumPy defers ``ndarray op Tensor`` to the Tensor's dunder
    _grad = None
    _base = None
    _output_nr = 0
    _hooks = None
    _post_hooks = None
    _grad_acc = None

    def __new__(cls, *args, **kwargs):
        from ember._ops.creation import legacy_new

        return legacy_new(cls, *args, **kwargs)

    # ---- autograd state -------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        if self._base is not None and not self._requires_grad:
            try:
                _refresh_view(self)  # NOTE [Stale views]: its base may have been given a history
            except RuntimeError:
                return True  # as torch's: it requires grad as its base does, its history is refused
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self._grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want "
                    "to use a computed variable in a subgraph that doesn't require "
                    "differentiation use var_no_grad = var.detach().")
            return
        if value and self.dtype.category not in _FLOAT_OR_COMPLEX:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if value and type(self._vc) is not list and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mirrors ``Tensor.requires_grad_``."""
        self.requires_grad = requires_grad
        return self

    def _is_view(self) -> bool:
        """Mirrors ``Tensor._is_view``: whether the tensor is a view of another (``_base``)."""
        return self._base is not None

    @property
    def _version(self) -> int:
        """Mirrors torch's ``Tensor._version``: how many in-place writes the tensor (and every
        view sharing its memory) has had. The counter itself is ``_vc`` (NOTE [Version
        counters])."""
        if type(self._vc) is not list:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vc[0]

    @property
    def grad_fn(self):
        if self._base is not None:
            _refresh_view(self)  # NOTE [Stale views]
        return self._grad_fn

    @property
    def output_nr(self) -> int:
        """Mirrors ``Tensor.output_nr``: which output of its ``grad_fn`` this tensor is."""
        return self._output_nr

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        if self._grad_fn is not None and not self.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
                "mistake, make sure you access the leaf Tensor instead. See "
                "github.com/pytorch/pytorch/pull/30531 for more information.",
                UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the "
                    "tensor are the same size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    "attempting to assign a gradient with dtype "
                    f"'{_dtype.cpp_type_name(value.dtype)}' to a "
                    f"tensor with grad_dtype '{_dtype.scalar_type_name(self.dtype)}'. The gradient "
                    "must match the tensor's grad_dtype (defaults to the tensor's dtype). You "
                    "can set the tensor's grad_dtype attribute with a specific dtype, or None to "
                    "allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a "
                    "tensor and its gradient may break downstream systems that assume they "
                    "match.")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        fn = self._grad_fn
        if fn is None or fn._extra is None:
            return False
        ref = fn._extra.get("retain", {}).get(self._output_nr)
        return ref is not None and ref() is self

    def retain_grad(self) -> None:
        """Mirrors ``Tensor.retain_grad``: a non-leaf keeps its ``.grad`` after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None:
            return
        self._grad_fn._extras().setdefault("retain", {})[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """Mirrors ``Tensor.register_hook``: ``hook(grad)`` runs when this tensor's gradient
        is computed and may return a replacement. Returns a handle with ``remove()``."""
        from ember.utils.hooks import add_hook

        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = OrderedDict()
            return add_hook(self._hooks, hook)
        table = self._grad_fn._extras().setdefault("tensor", {})
        return add_hook(table.setdefault(self._output_nr, OrderedDict()), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Mirrors ``Tensor.register_post_accumulate_grad_hook``: ``hook(tensor)`` runs on a
        leaf after its ``.grad`` was accumulated."""
        from ember.utils.hooks import add_hook

        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_hooks is None:
            self._post_hooks = OrderedDict()
        return add_hook(self._post_hooks, hook)

    def detach(self) -> Tensor:
        """Mirrors ``Tensor.detach``: same data, storage and version counter, no graph. The
        result is no view (``_base`` is None) but measures ``storage_offset`` from the same
        memory as ``self`` (see ember._ops.shape._memory)."""
        out = make(self._data, False, None, self._vc)
        base = self._base
        if base is not None:
            out._storage = base.__dict__.get("_storage", base._data)
        state = self.__dict__
        if state:
            if "_storage" in state:
                out._storage = state["_storage"]
            if "_phys" in state:  # a batched tensor (vmap) stays batched
                out._phys = state["_phys"]
        return out

    def detach_(self) -> Tensor:
        """Mirrors ``Tensor.detach_``."""
        if self._base is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Mirrors ``Tensor.backward``; see ``ember.autograd.backward``."""
        autograd = _autograd
        fn = self._grad_fn
        data = self._data
        if (gradient is None and inputs is None and not create_graph and fn is not None
                and data.size == 1 and data.dtype.kind == "f" and self._base is None
                and "_phys" not in self.__dict__):
            # The common ``loss.backward()``, without the general path's argument handling:
            # a one-element real output seeded with one (a copy of a kept array of ones: an
            # eighth of ``np.ones_like``'s time; few are kept, one per dtype and shape of
            # one element).
            key = (data.dtype, data.shape)
            one = _ONES.get(key)
            if one is None:
                one = _ONES[key] = np.ones(data.shape, data.dtype)
            autograd.engine.execute([(fn, self._output_nr)], [make(one.copy())],
                                    bool(retain_graph), False)
            return
        autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    @property
    def data(self) -> Tensor:
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {c_type_name(value)}")
        self._data = value._data

    # ---- metadata -------------------------------------------------------------------
    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_np(self._data.dtype)

    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self._data.shape)  # NumPy's shape holds ints already

    def size(self, dim: int | None = None):
        """Mirrors ``Tensor.size``."""
        if dim is None:
            return tuple.__new__(Size, self._data.shape)
        return self._data.shape[dim_of_size("size", dim, self._data.ndim)]

    @property
    def device(self):
        return CPU

    is_cuda = False

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self.dtype.category == _dtype.FLOAT

    def is_complex(self) -> bool:
        return self.dtype.category == _dtype.COMPLEX

    # ---- conversion to Python and NumPy ---------------------------------------------
    def item(self):
        """Mirrors ``Tensor.item``: the one element as a Python number."""
        data = self._data
        if "_phys" in self.__dict__:
            raise RuntimeError(
                "vmap: It looks like you're calling .item() on a Tensor. We don't support vmap "
                "over calling .item() on a Tensor, please try to rewrite what you're doing with "
                "other operations.")
        if data.size != 1:
            raise RuntimeError(
                f"a Tensor with {data.size} elements cannot be converted to Scalar")
        return _python_scalar(data, self.dtype)

    def tolist(self):
        """Mirrors ``Tensor.tolist``."""
        _no_storage_in_vmap(self)
        data = self._data
        if self.dtype is _dtype.bfloat16:
            data = data.astype(np.float32)
        return data.tolist()

    def numpy(self, *, force: bool = False):
        """Mirrors ``Tensor.numpy``: the array itself, sharing memory with the tensor."""
        _no_storage_in_vmap(self)
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        if self.dtype is _dtype.bfloat16:
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._data

    def __array__(self, dtype=None, copy=None):
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    def __float__(self) -> float:
        _warn_scalar_of_grad(self)
        return float(_real_value(self._one_element(), "double"))

    def __int__(self) -> int:
        return int(_real_value(self._one_element(), "int64_t"))

    __long__ = __int__  # torch keeps Python 2's names

    def __complex__(self) -> complex:
        _warn_scalar_of_grad(self)
        return complex(self._one_element())

    def __index__(self) -> int:
        if self.dtype.category > _dtype.INT or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()))

    def _one_element(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return _python_scalar(self._data, self.dtype)

    def __bool__(self) -> bool:
        if "_phys" in self.__dict__:
            raise RuntimeError(
                "vmap: It looks like you're attempting to use a Tensor in some data-dependent "
                "control flow. We don't support that yet.")
        size = self._data.size
        if size != 1:
            kind = "no values" if size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {kind} is ambiguous")
        return bool(self._data.reshape(()))

    __nonzero__ = __bool__

    def __contains__(self, element) -> bool:
        """Mirrors ``Tensor.__contains__``: whether any element equals ``element`` (a number,
        or a tensor compared with broadcasting)."""
        if not isinstance(element, (Tensor, Number)):
            raise RuntimeError("Tensor.__contains__ only supports Tensor or scalar, but you "
                               f"passed in a {type(element)}.")
        return bool((element == self).any())

    def __reversed__(self) -> Tensor:
        """Mirrors ``Tensor.__reversed__``: flipped along dim 0 (a 0-d tensor is itself)."""
        return self if self._data.ndim == 0 else self.flip(0)

    def __delitem__(self, key) -> None:
        raise TypeError("Tensor does not support deleting items")

    def __array_wrap__(self, array, context=None, return_scalar: bool = False) -> Tensor:
        """Mirrors ``Tensor.__array_wrap__``: a NumPy ufunc of a tensor gives a tensor of
        its result's memory (a bool result as uint8, as torch's)."""
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        return make(np.asarray(array))

    @staticmethod
    def _make_subclass(cls, data: Tensor, require_grad: bool = False) -> Tensor:
        """Mirrors ``Tensor._make_subclass``: an instance of ``cls`` (a Tensor subclass)
        sharing ``data``'s memory and version counter, detached, with ``require_grad``.
        ember has no C++ dispatch, so torch's dispatch options are not taken."""
        if require_grad and data.dtype.category not in _FLOAT_OR_COMPLEX:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        obj = object.__new__(cls)
        Tensor._data.__set__(obj, data._data)
        obj._requires_grad = bool(require_grad)
        obj._grad_fn = None
        obj._vc = data._vc
        return obj

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    __hash__ = object.__hash__

    # ---- copying and pickling (NOTE [Tensor copies]) ---------------------------------
    def __deepcopy__(self, memo: dict) -> Tensor:
        """Mirrors ``Tensor.__deepcopy__``: a leaf with a copy of the storage (one copy per
        storage within one ``memo``, so views of one base stay views of one new storage),
        the same storage offset, sizes and strides, ``requires_grad``, a deep copy of
        ``.grad`` and of the Python attributes."""
        if self._grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment.  If you were attempting to deepcopy a module, "
                "this may be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        memory, offset, stride = _storage_layout(self)
        key = ("ember.Tensor storage", id(memory))
        copied = memo.get(key)
        if copied is None:
            copied = memo[key] = _storage_elements(memory, _span(memory)).copy()
            memo.setdefault(id(memo), []).append(memory)  # keeps the id unique meanwhile
        import copy

        state = {k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()
                 if k not in _INTERNAL_ATTRS}
        out = _rebuild_tensor(type(self), copied, offset, self._data.shape, stride,
                              self._requires_grad, state)
        memo[id(self)] = out
        if self._grad is not None:
            out._grad = copy.deepcopy(self._grad, memo)
        return out

    def __reduce_ex__(self, protocol: int):
        """Mirrors ``Tensor.__reduce_ex__``: the tensor's whole storage (each tensor its own,
        as torch pickles them), storage offset, sizes, strides, ``requires_grad`` and the
        Python attributes; not ``.grad`` nor the graph. ``copy.copy`` thus shares the
        storage, as torch's does."""
        memory, offset, stride = _storage_layout(self)
        state = {k: v for k, v in self.__dict__.items() if k not in _INTERNAL_ATTRS}
        return (_rebuild_tensor,
                (type(self), _storage_elements(memory, _span(memory)), offset,
                 self._data.shape, stride, self._requires_grad, state))

    def __repr__(self) -> str:
        from ember._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, format_spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    # ---- dtype and device conversion -------------------------------------------------
    def type(self, dtype=None, non_blocking: bool = False):
        """Mirrors ``Tensor.type``: with no argument the legacy type name
        (``'torch.FloatTensor'``); else a copy converted to a dtype, a legacy type
        (``ember.LongTensor``) or a legacy type's name (``'torch.DoubleTensor'``)."""
        if dtype is None:
            return _dtype.legacy_type_name(self._data.dtype)
        from ember._legacy import convert

        return convert(self, dtype)

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        """Mirrors ``Tensor.cuda``: a copy on a CUDA device; raises torch's error when no
        backend serves CUDA (NOTE [Device backends])."""
        return self.to(accelerator_argument(device, "cuda", "cuda"))

    def xpu(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        """Mirrors ``Tensor.xpu``, as ``cuda`` for Intel GPUs."""
        return self.to(accelerator_argument(device, "xpu", "xpu"))

    def get_device(self) -> int:
        """Mirrors ``Tensor.get_device``: -1 for a CPU tensor, else the device index."""
        return -1

    def is_pinned(self, device=None) -> bool:
        """Mirrors ``Tensor.is_pinned``: ember has no pinned (page-locked) memory; a
        ``device`` (deprecated, as torch warns) must name one."""
        if device is not None:
            _device.device_argument(device, "is_pinned(): argument 'device' (position 1)")
            _deprecated_device("is_pinned")
        return False

    def pin_memory(self, device=None) -> Tensor:
        """Mirrors ``Tensor.pin_memory``: pinning is for copies to an accelerator, which a
        CPU-only build lacks (torch's RuntimeError, worded per device)."""
        if device is not None:
            device = _device.device_argument(device, "pin_memory(): argument 'device' "
                                             "(position 1)")
            _deprecated_device("pin_memory")
        raise _device.pinning_error(device)

    def is_inference(self) -> bool:
        """Mirrors ``Tensor.is_inference``: whether the tensor was made inside
        ``inference_mode``, or views or detaches one. Its version counter says so: a plain
        list for every other tensor (NOTE [Inference tensors] in ember/_runtime.py)."""
        return type(self._vc) is not list

    def cpu(self) -> Tensor:
        return self

    def float(self) -> Tensor:
        return self.to(_dtype.float32)

    def double(self) -> Tensor:
        return self.to(_dtype.float64)

    def half(self) -> Tensor:
        return self.to(_dtype.float16)

    def bfloat16(self) -> Tensor:
        return self.to(_dtype.bfloat16)

    def long(self) -> Tensor:
        return self.to(_dtype.int64)

    def int(self) -> Tensor:
        return self.to(_dtype.int32)

    def short(self) -> Tensor:
        return self.to(_dtype.int16)

    def char(self) -> Tensor:
        return self.to(_dtype.int8)

    def byte(self) -> Tensor:
        return self.to(_dtype.uint8)

    def bool(self) -> Tensor:
        return self.to(_dtype.bool_)

    def cfloat(self) -> Tensor:
        return self.to(_dtype.complex64)

    def cdouble(self) -> Tensor:
        return self.to(_dtype.complex128)


Tensor.__module__ = "ember"  # the public name: ``<class 'ember.Tensor'>``


def _deprecated_device(method: str) -> None:
    warnings.warn(f"The argument 'device' of Tensor.{method}() is deprecated. Please do not "
                  "pass this argument.", DeprecationWarning, stacklevel=3)


def _no_storage_in_vmap(t: Tensor) -> None:
    if "_phys" in t.__dict__:  # a batched tensor inside vmap has no single array to give
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")


# NOTE [Tensor copies]
# ``copy.deepcopy`` and ``pickle`` copy a tensor's storage, the memory ``storage_offset``
# counts in (ember._ops.shape._memory), not only its elements, and rebuild the tensor over
# the copy with the same offset and strides, as torch does. The attributes that hold
# autograd state or memory bookkeeping are rebuilt, never copied.
_INTERNAL_ATTRS = frozenset((
    "_grad", "_base", "_output_nr", "_hooks", "_post_hooks", "_grad_acc", "_storage",
    "_view_src", "_phys", "_fw"))


def _storage_layout(t: Tensor) -> tuple:
    """``t``'s storage array, storage offset and element strides."""
    from ember._ops.shape import _memory, storage_offset, stride

    if "_phys" in t.__dict__:
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")
    return _memory(t), storage_offset(t), stride(t)


def _span(memory: ndarray) -> int:
    """Elements from ``memory``'s first element to its last (its storage's length)."""
    if memory.size == 0:
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(memory.shape, memory.strides) if s > 0) // (
        memory.itemsize)


def _storage_elements(memory: ndarray, n: int) -> ndarray:
    """A one-dim array over the ``n`` elements of storage that start at ``memory``'s first
    element."""
    return np.lib.stride_tricks.as_strided(memory, (n,), (memory.itemsize,))


def _rebuild_tensor(cls: type, memory: ndarray, offset: int, size: tuple, stride: tuple,
                    requires_grad: bool, state: dict) -> Tensor:
    """The tensor of ``cls`` with ``size`` and ``stride`` from element ``offset`` of the
    one-dim ``memory``, which it shares (NOTE [Tensor copies]); as in torch its version
    is 1."""
    item = memory.itemsize
    byte_strides = tuple(s * item for s in stride)
    start = memory[offset:] if 0 not in size else memory[:0]
    data = np.lib.stride_tricks.as_strided(start, size, byte_strides)
    t = _new(cls)
    t._data = data
    t._requires_grad = False
    t._grad_fn = None
    t._vc = [1] if not _grad_state.inference else _inference_version()
    if offset or data.size != memory.size or not data.flags.c_contiguous:
        t._storage = memory
    t.__dict__.update(state)
    if requires_grad:
        t.requires_grad = True
    return t


def _python_scalar(data, dt: _dtype.dtype):
    value = data.reshape(()).item() if dt is not _dtype.bfloat16 else float(data.reshape(()))
    return value


_new = object.__new__


_ONES: dict = {}  # Tensor.backward's seeds, by (dtype, shape)


def make(data: ndarray, requires_grad: bool = False, grad_fn=None, version: list | None = None
         ) -> Tensor:
    """Wrap an array as a Tensor without argument parsing (the internal constructor)."""
    t = _new(Tensor)
    t._data = data
    t._requires_grad = requires_grad
    t._grad_fn = grad_fn
    if version is None:
        version = [0] if not _grad_state.inference else _inference_version()
    t._vc = version
    return t


def _inference_version() -> list:
    from ember._runtime import new_version

    return new_version()


def int_index(k) -> int:
    """An index that is neither a slice, None, ``...``, a tensor nor a sequence, as an int
    (``operator.index``), or torch's error for an object that is no index: a string is
    refused as the tensor torch tries to make of it, anything else (a float, a complex
    number) as an invalid index."""
    index = getattr(type(k), "__index__", None)
    if index is None:
        if isinstance(k, str):
            raise TypeError("new(): invalid data type 'str'")
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                         f"byte Variables are valid indices (got {type(k).__name__})")
    return int(index(k))


def int_argument(value, fname: str, arg: str, position: int | None) -> int:
    """``value`` as torch's argument parser reads an ``int`` argument: an int or a NumPy
    integer (never a bool), or a 0-d integer tensor; anything else raises its TypeError.
    ``position`` counts the arguments as torch's parser does (a method's from 1 after
    ``self``, a function's from 1 at ``input``). Callers test ``type(value) is int`` first:
    this is the slow path."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, Tensor) and value._data.ndim == 0 and value._data.dtype.kind in "iu":
        return int(value._data)
    at = f" (position {position})" if position else ""  # none for a keyword
    raise TypeError(f"{fname}(): argument '{arg}'{at} must be int, not {c_type_name(value)}")


def int_arguments(fname: str, position: int, **named) -> list:
    """Each of ``named`` (in the order of ``fname``'s arguments, the first at ``position``)
    read by ``int_argument``."""
    return [int_argument(value, fname, arg, position + i)
            for i, (arg, value) in enumerate(named.items())]


def bool_argument(value, fname: str, arg: str, position: int | None) -> bool:
    """``value`` as torch's argument parser reads a ``bool`` argument: a bool (not 0 or 1);
    anything else raises its TypeError (``position`` as for ``int_argument``)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    at = f" (position {position})" if position else ""  # none for a keyword
    raise TypeError(f"{fname}(): argument '{arg}'{at} must be bool, not {c_type_name(value)}")


def ints_method(fn, *ints: str | None, name: str | None = None):
    """``fn`` as a Tensor method whose arguments after ``self`` named in ``ints`` (None for
    one that is not an int) are read as torch's parser reads ints, refused at the method's
    positions (NOTE [Method argument positions]); ``name``: the method's, where it is not
    ``fn``'s."""
    return _read_method(fn, ints, int, int_argument, name)


def bools_method(fn, *bools: str | None, name: str | None = None):
    """``ints_method`` for bool arguments."""
    return _read_method(fn, bools, bool, bool_argument, name)


def _read_method(fn, names: tuple, kind: type, read, name: str | None):
    name = name or fn.__name__
    checked = tuple((i, arg) for i, arg in enumerate(names) if arg is not None)

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        for i, arg in checked:
            value = args[i] if i < len(args) else kwargs.get(arg, kind())
            if type(value) is not kind:
                read(value, name, arg, i + 1 if i < len(args) else None)
        return fn(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    return method


def dim_of_size(fname: str, dim, ndim: int) -> int:
    """``dim`` of ``size(dim)`` or ``stride(dim)`` wrapped as torch wraps it there: an int
    (``int_argument``), and no dim at all of a 0-d tensor (where other ops take 0 and -1)."""
    if type(dim) is not int:
        dim = int_argument(dim, fname, "dim", 1)
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, ndim)


def tensor_argument(fname: str, arg: str, value, position: int) -> None:
    """torch's argument-parser error for a non-tensor given where ``fname`` takes the tensor
    ``arg`` (``position`` as its parser counts: NOTE [Method argument positions])."""
    if not isinstance(value, Tensor):
        error = TypeError(f"{fname}(): argument '{arg}' (position {position}) must be Tensor, "
                          f"not {c_type_name(value)}")
        error.obj = value  # a public alias calling this function names itself (out.py)
        raise error


def refuse_non_tensor(fname: str, error: Exception, value, arg: str | None,
                      position: int = 1) -> None:
    """torch's argument-parser TypeError in place of the AttributeError that ``fname``'s code
    met reading a number, list or None given as its first argument ``arg``
    (``torch.sum(3.0)``), or of the op runner's TypeError naming the op (``acos`` where the
    call was ``torch.arccos``); nothing when the error is about another object. Called from
    an ``except`` around the function's call, which costs a call without error nothing."""
    if (arg is not None and getattr(error, "obj", refuse_non_tensor) is value
            and not isinstance(value, Tensor)):
        # torch's parser names nn.functional's kernels bare, linalg's as linalg_det
        binding = _F_BINDINGS.get(fname) or fname.replace("nn.functional.", "").replace(".", "_")
        refusal = TypeError(f"{binding}(): argument '{arg}' (position {position}) must be "
                            f"Tensor, not {c_type_name(value)}")
        refusal.obj = value  # a public function calling this one names itself in its place
        raise refusal from None


_F_BINDINGS = {"nn.functional.logsigmoid": "log_sigmoid"}


def refuse_non_tensors(fname: str, error: Exception, named: tuple) -> None:
    """``refuse_non_tensor`` for the argument, of the (name, value) pairs ``named`` in their
    order, that ``error`` is about (``torch.addmm(x, 0, m)``: 'mat1', position 2)."""
    for position, (arg, value) in enumerate(named, 1):
        refuse_non_tensor(fname, error, value, arg, position)


def method_taking_tensor(fn, *tensors: str | None, overloads: tuple = ()):
    """``fn`` as a Tensor method refusing a non-tensor where its arguments after ``self``
    named in ``tensors`` are tensors (None for one that is not), at the method's positions
    (NOTE [Method argument positions]). An argument not given is left to ``fn``'s own
    error. A method with several ``overloads`` (their signatures) is refused as torch's
    parser refuses a call matching none, without its lines on why each did not match."""
    name = fn.__name__
    checked = tuple((i, arg) for i, arg in enumerate(tensors) if arg is not None)

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        for i, arg in checked:
            value = args[i] if i < len(args) else kwargs.get(arg, method_taking_tensor)
            if value is method_taking_tensor or isinstance(value, Tensor):
                continue
            if overloads:
                got = ", ".join([c_type_name(a) for a in args]
                                + [f"{k}={c_type_name(v)}" for k, v in kwargs.items()])
                raise TypeError(f"{name}() received an invalid combination of arguments - got "
                                f"({got}), but expected one of:\n"
                                + "".join(f" * {o}\n" for o in overloads))
            tensor_argument(name, arg, value, i + 1)
        return fn(self, *args, **kwargs)
    method.tensor_arguments = tensors  # for its in-place form (ember/_ops/inplace.py)
    return method


def wrap_dim(dim: int, ndim: int) -> int:
    """A possibly negative dim as a non-negative index, with torch's IndexError."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def wrap_dims(dims, ndim: int) -> tuple:
    """Several dims wrapped by ``wrap_dim``, with torch's error for a repeated one."""
    out = tuple(wrap_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        seen = set()
        for d in out:
            if d in seen:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
            seen.add(d)
    return out


def is_tensor(obj) -> bool:
    """Mirrors ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


# ---- more of torch's Tensor metadata and predicates ------------------------------------


def _itemsize(self: Tensor) -> int:
    return self._data.itemsize


def _nbytes(self: Tensor) -> int:
    return self._data.size * self._data.itemsize


def _is_signed(self: Tensor) -> bool:
    """Mirrors ``Tensor.is_signed``: False for bool and uint8 only."""
    return self._data.dtype.kind not in "bu"


def _is_nonzero(self: Tensor) -> bool:
    """Mirrors ``Tensor.is_nonzero``: the truth of a one-element tensor."""
    return self.__bool__()


def _is_same_size(self: Tensor, other: Tensor) -> bool:
    """Mirrors ``Tensor.is_same_size``."""
    tensor_argument("is_same_size", "other", other, 1)
    return self._data.shape == other._data.shape


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    """Mirrors ``Tensor.type_as``: ``self`` in ``other``'s dtype."""
    if not isinstance(other, Tensor):
        raise TypeError("type_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{c_type_name(other)}")
    return self.to(other.dtype)


Tensor.itemsize = property(_itemsize, doc="Mirrors ``Tensor.itemsize``: bytes per element.")
Tensor.nbytes = property(_nbytes, doc="Mirrors ``Tensor.nbytes``: bytes of the elements.")
Tensor.is_cpu = True
Tensor.is_signed = _is_signed
Tensor.is_nonzero = _is_nonzero
Tensor.is_same_size = _is_same_size
Tensor.type_as = _type_as


def _real_value(value, c_type: str):
    """A complex element as the real number torch converts it to: its real part, when it has
    no imaginary part; else torch's overflow error."""
    if isinstance(value, (complex, np.complexfloating)):
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {c_type} without overflow")
        return value.real
    return value


_warned_scalar = [False]


def _warn_scalar_of_grad(t: Tensor) -> None:
    # torch warns once a process, from float() and complex() of a tensor that requires grad,
    # in grad mode only (no_grad and inference_mode neither warn nor spend the once)
    if t._requires_grad and _grad_state.enabled and not _warned_scalar[0]:
        _warned_scalar[0] = True
        warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to "
                      "unexpected behavior.\nConsider using tensor.detach() first.",
                      UserWarning, stacklevel=3)


# last: the autograd package imports this module's names
from ember import autograd as _autograd  # noqa: E402
from ember._ops.registry import refresh_view as _refresh_view  # noqa: E402
from ember.autograd.grad_mode import state as _grad_state  # noqa: E402
