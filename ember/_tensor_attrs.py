"""Tensor attributes and storage classes of torch's CPU build that the op tables do not
define: layouts, the ``is_*`` flags, storages, legacy constructors.

ember's tensors are all dense (``torch.strided``) CPU tensors, so the flags of other layouts,
devices and tensor kinds are False, and the methods that only sparse or quantized tensors
have raise the errors torch raises for a dense CPU tensor. The storage classes live in
``ember.storage`` (NOTE [Storages over arrays]).
"""
from __future__ import annotations

import functools
import operator
import warnings

from ember import _dtype
from ember._backend import np
from ember._ops.registry import attach, check_inplace
from ember._runtime import strided
from ember._tensor import Size, Tensor, accelerator_argument, make, tensor_argument
from ember.storage import LEGACY_STORAGES, StorageBase, TypedStorage, UntypedStorage, keep_alive

__all__ = ["UntypedStorage", "TypedStorage", "StorageBase", "Storage", "is_storage",
           "resize_as_", "resize_as_sparse_"]
__all__ += [cls.__name__ for cls in LEGACY_STORAGES.values()]
globals().update({cls.__name__: cls for cls in LEGACY_STORAGES.values()})
Storage = LEGACY_STORAGES[_dtype.float32]  # torch's ``torch.Storage`` is FloatStorage


def is_storage(obj, /) -> bool:
    """Mirrors ``torch.is_storage``: True for an ``UntypedStorage`` or ``TypedStorage``."""
    return isinstance(obj, (StorageBase, TypedStorage))


def _dispatch_error(op: str) -> NotImplementedError:
    # the first sentences of torch's dispatcher message (torch goes on to list its backends)
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the 'CPU' backend. This could be "
        "because the operator doesn't exist for this backend, or was omitted during the "
        "selective/custom build process (if using custom build).")


# ---- layout and kind flags --------------------------------------------------------------
def _layout(self: Tensor):
    """Mirrors ``Tensor.layout``: ``torch.strided`` (ember's tensors are dense)."""
    return strided


def _false_flag(name: str) -> property:
    def get(self: Tensor) -> bool:
        return False
    get.__name__ = name
    return property(get, doc=f"Mirrors ``Tensor.{name}``: False for ember's dense CPU tensors.")


_FLAGS = ("is_sparse", "is_sparse_csr", "is_meta", "is_quantized", "is_mkldnn", "is_nested",
          "is_vulkan", "is_xla", "is_xpu", "is_mps", "is_ipu", "is_maia", "is_mtia")


def is_distributed(self: Tensor) -> bool:
    """Mirrors ``Tensor.is_distributed``: False."""
    return False


# ---- sparse tensors' methods on a dense tensor -----------------------------------------
def _layout_error(name: str, expected: str):
    def method(self: Tensor):
        raise RuntimeError(f"{name} expected {expected} tensor layout but got Strided")
    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"Mirrors ``Tensor.{name}``, which needs a {expected} tensor: ember has "
                      "none, so it raises torch's error for a strided tensor.")
    return method


_SPARSE_ONLY = {
    "indices": "sparse coordinate", "values": "sparse", "crow_indices": "sparse row compressed",
    "col_indices": "sparse row compressed", "ccol_indices": "sparse column compressed",
    "row_indices": "sparse column compressed", "coalesce": "sparse coordinate",
    "is_coalesced": "sparse coordinate",
}


def sparse_dim(self: Tensor) -> int:
    """Mirrors ``Tensor.sparse_dim``: 0 for a strided tensor."""
    return 0


def dense_dim(self: Tensor) -> int:
    """Mirrors ``Tensor.dense_dim``: every dim of a strided tensor is dense."""
    return self._data.ndim


def to_dense(self: Tensor, dtype=None, *, masked_grad=None) -> Tensor:
    """Mirrors ``Tensor.to_dense`` on a strided tensor: ``self`` itself, or a copy in
    ``dtype`` when another is given (``masked_grad`` matters for sparse inputs only)."""
    if dtype is None or dtype is self.dtype:
        return self
    return self.to(dtype)


def sparse_mask(self: Tensor, mask: Tensor) -> Tensor:
    """Mirrors ``Tensor.sparse_mask``, which needs a sparse ``mask``: torch's CPU error for a
    strided one."""
    tensor_argument("sparse_mask", "mask", mask, 1)
    raise _dispatch_error("sparse_mask")


def to_padded_tensor(self: Tensor, padding: float, output_size=None) -> Tensor:
    """Mirrors ``Tensor.to_padded_tensor``, a nested tensor's method: torch's CPU error for
    a strided tensor."""
    if isinstance(padding, bool) or not isinstance(padding, (int, float)):
        raise TypeError("to_padded_tensor(): argument 'padding' (position 1) must be float, "
                        f"not {type(padding).__name__}")
    raise _dispatch_error("to_padded_tensor")


def resize_as_sparse_(input: Tensor, the_template: Tensor) -> Tensor:
    """Mirrors ``torch.resize_as_sparse_``: sparse tensors only (torch's CPU error)."""
    raise _dispatch_error("resize_as_sparse_")


# ---- quantized tensors' methods on a float tensor --------------------------------------
def _dequantize(self: Tensor) -> Tensor:
    """Mirrors ``Tensor.dequantize`` on a tensor that is not quantized: float32 values
    (``self`` when already float32). ember differs: a result that requires grad records
    ``ToCopyBackward0`` where torch records a node that cannot differentiate."""
    return self.to(_dtype.float32)


def _quantized_only(name: str):
    def method(self: Tensor):
        raise _dispatch_error(name)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"Mirrors ``Tensor.{name}``, a quantized tensor's method: ember has no "
                      "quantized tensors, so it raises torch's error for a CPU tensor.")
    return method


_QUANTIZED_ONLY = ("int_repr", "q_scale", "q_zero_point", "q_per_channel_scales",
                   "q_per_channel_zero_points", "q_per_channel_axis", "qscheme")


def _quantized_function(name: str):
    def function(input: Tensor):
        tensor_argument(name, "input", input, 1)
        raise _dispatch_error(name)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"Mirrors ``torch.{name}``, for quantized tensors: ember has none, so "
                        "it raises torch's error for a CPU tensor.")
    return function


_QUANTIZED_FUNCTIONS = {name: _quantized_function(name) for name in _QUANTIZED_ONLY
                        if name != "qscheme"}  # torch.qscheme is the type of the schemes
globals().update(_QUANTIZED_FUNCTIONS)
__all__ += [*_QUANTIZED_FUNCTIONS, "dequantize"]


def dequantize(input=None, tensors=None):
    """Mirrors ``torch.dequantize(input)`` on a tensor that is not quantized:
    ``Tensor.dequantize``. Its overload for a sequence of ``tensors`` (given by keyword or in
    ``input``'s place) has no CPU kernel in torch (torch's error)."""
    tensor = tensors if tensors is not None else input
    if isinstance(tensor, (list, tuple)):
        from ember._ops.shape import tensor_list

        tensor_list(tensor, "dequantize")
        raise _dispatch_error("dequantize.tensors")
    if not isinstance(tensor, Tensor):
        bad = f"      didn't match because some of the arguments have invalid types: " \
              f"(!{type(tensor).__name__}!)\n"
        raise TypeError(
            f"dequantize() received an invalid combination of arguments - got "
            f"({type(tensor).__name__}), but expected one of:\n * (Tensor input)\n{bad} * "
            f"(tuple of Tensors tensors)\n{bad}")
    return _dequantize(tensor)


# ---- devices this build lacks -----------------------------------------------------------
def ipu(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``Tensor.ipu``: torch's CPU build is not linked with IPU support."""
    accelerator_argument(device, "ipu", "ipu")
    raise RuntimeError("PyTorch is not linked with support for ipu devices")


def mtia(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``Tensor.mtia``: torch's AssertionError without MTIA support."""
    accelerator_argument(device, "mtia", "MTIA")
    raise AssertionError(
        "Torch not compiled with MTIA enabled. Ensure you have `import "
        "mtia.host_runtime.torch_mtia.dynamic_library` in your python src file and include "
        "`//mtia/host_runtime/torch_mtia:torch_mtia` as your target dependency!")


def record_stream(self: Tensor, s) -> None:
    """Mirrors ``Tensor.record_stream``: CPU tensors have no streams (torch's errors: a
    RuntimeError for an argument that is not a stream, no CPU kernel for a stream)."""
    from ember import cuda

    if not isinstance(s, getattr(cuda, "Stream", ())):
        raise RuntimeError("unknown parameter type")
    raise _dispatch_error("record_stream")


# ---- storages ---------------------------------------------------------------------------
def untyped_storage(self: Tensor) -> UntypedStorage:
    """Mirrors ``Tensor.untyped_storage``: the bytes the tensor (and every view of its base)
    lives in, shared both ways; one object per block (NOTE [Storages over arrays])."""
    from ember._ops.shape import _memory, _storage_size
    from ember.storage import storage_for

    if "_phys" in self.__dict__:
        raise NotImplementedError("Cannot access storage of BatchedTensorImpl")
    memory = _memory(self)
    found = storage_for(memory, _storage_size(self) * memory.itemsize)
    keep_alive(self if self._base is None else self._base, found)
    return found


def _typed_storage(self: Tensor) -> TypedStorage:
    return TypedStorage._wrap(untyped_storage(self), self.dtype)


def storage(self: Tensor) -> TypedStorage:
    """Mirrors ``Tensor.storage``: a ``TypedStorage`` of the tensor's dtype over its
    ``untyped_storage()``, with torch's one-time deprecation warning."""
    from ember.storage import _warn_typed_storage_removal

    _warn_typed_storage_removal(stacklevel=2)
    return _typed_storage(self)


def storage_type(self: Tensor):
    """Mirrors ``Tensor.storage_type``: the legacy storage class of the tensor's dtype
    (``ember.FloatStorage``), None for the float8 dtypes, which have none."""
    from ember.storage import _warn_typed_storage_removal

    _warn_typed_storage_removal(stacklevel=2)
    return LEGACY_STORAGES.get(self.dtype)


def const_data_ptr(self: Tensor) -> int:
    """Mirrors ``Tensor.const_data_ptr``: ``data_ptr()`` (ember does not track constness)."""
    return self.data_ptr()


def _contiguous_strides(sizes: tuple) -> tuple:
    strides = []
    step = 1
    for n in reversed(sizes):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _sizes(name: str, args: tuple) -> tuple:
    sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, Size)) else args
    out = []
    for n in sizes:
        if isinstance(n, Tensor) and n._data.ndim == 0:
            n = n.item()
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, but "
                            f"found element of type {type(n).__name__} at pos {len(out)}")
        out.append(n)
    return tuple(out)


def _place(self: Tensor, untyped: UntypedStorage, offset: int, sizes: tuple,
           strides: tuple, keep_view: bool = False) -> None:
    """Make ``self`` the tensor of ``sizes`` and ``strides`` from element ``offset`` of
    ``untyped``, growing the storage when it ends too early (as torch does). A view stays a
    view of its base with ``keep_view`` (``resize_``); ``set_`` makes it a tensor of its
    own."""
    from ember.storage import grow, register

    item = self._data.itemsize
    need = 0 if 0 in sizes else offset + 1 + sum((n - 1) * s for n, s in zip(sizes, strides))
    if need * item > untyped.nbytes():
        grow(untyped, need * item)
    raw = untyped._bytes
    whole = raw[:raw.shape[0] // item * item].view(self._data.dtype)
    if need:
        data = np.ndarray(sizes, self._data.dtype, buffer=raw, offset=offset * item,
                          strides=tuple(s * item for s in strides))
        data.flags.writeable = raw.flags.writeable
    else:
        data = np.empty(sizes, self._data.dtype)
    register(whole, untyped)
    self._data = data
    keep_alive(self, untyped)
    if keep_view and self._base is not None:
        return
    self._storage = whole
    self._base = None
    self.__dict__.pop("_view_src", None)


def set_(self: Tensor, source=None, storage_offset: int = 0, size=None, stride=None
         ) -> Tensor:
    """Mirrors ``Tensor.set_``: ``set_()`` (an empty storage), ``set_(tensor)`` (share its
    storage, offset, sizes and strides), ``set_(storage)`` (the whole storage as 1-d) or
    ``set_(storage, storage_offset, size, stride=None)``. A storage too short for the sizes
    grows (NOTE [Storages over arrays])."""
    check_inplace(self)
    if source is None:
        self._data = np.empty(0, self._data.dtype)
        self.__dict__.pop("_storage", None)
        keep_alive(self, None)
        self._base = None
        self.__dict__.pop("_view_src", None)
    elif isinstance(source, Tensor):
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(
                f"Could not set tensor of type {_dtype.cpp_type_name(source.dtype)} to a tensor "
                f"of type {_dtype.cpp_type_name(self.dtype)}")
        if size is None:
            from ember._ops.shape import _memory

            memory = _memory(source)
            self._data = source._data
            self._storage = memory
            self._base = None
            self.__dict__.pop("_view_src", None)
            keep_alive(self, None)
        else:
            _place(self, untyped_storage(source), storage_offset, _sizes("set_", (size,)),
                   _stride_of(size, stride))
    else:
        untyped = _untyped_of(source, self)
        if size is None:
            if storage_offset:
                raise TypeError("set_() received an invalid combination of arguments - got "
                                f"({type(source).__name__}, int)")
            n = untyped.nbytes() // self._data.itemsize
            _place(self, untyped, 0, (n,), (1,))
        else:
            _place(self, untyped, storage_offset, _sizes("set_", (size,)),
                   _stride_of(size, stride))
    self._vc[0] += 1
    return self


def _stride_of(size, stride) -> tuple:
    sizes = _sizes("set_", (size,))
    return _contiguous_strides(sizes) if stride is None else _sizes("set_", (stride,))


def _untyped_of(source, self: Tensor) -> UntypedStorage:
    if isinstance(source, TypedStorage):
        if source.dtype is not self.dtype:
            raise RuntimeError(
                f"Expected a Storage of type {_dtype.cpp_type_name(self.dtype)} or an "
                f"UntypedStorage, but got type {_dtype.scalar_type_name(source.dtype)} for "
                "argument 1 'storage'")
        return source._untyped_storage
    if isinstance(source, UntypedStorage):
        return source
    raise TypeError(f"set_() received an invalid combination of arguments - got "
                    f"({type(source).__name__})")


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """Mirrors ``Tensor.is_set_to``: both tensors use the same storage from the same offset
    with the same sizes and strides (two empty tensors never do)."""
    tensor_argument("is_set_to", "tensor", tensor, 1)
    from ember._ops.shape import _memory

    a, b = self._data, tensor._data
    if a.size == 0 and b.size == 0:
        return False
    # one storage: their storage arrays start at the same byte
    same_start = (_memory(self).__array_interface__["data"][0]
                  == _memory(tensor).__array_interface__["data"][0])
    return (same_start and a.shape == b.shape and self.stride() == tensor.stride()
            and self.storage_offset() == tensor.storage_offset())


def resize_(self: Tensor, *sizes, size=None, memory_format=None) -> Tensor:
    """Mirrors ``Tensor.resize_``: ``self`` takes the sizes with contiguous strides (or those
    of ``memory_format``) over its storage from its storage offset; elements beyond the old
    ones are uninitialised. A storage too short grows, and every tensor on it follows
    (NOTE [Storages over arrays])."""
    from ember._memory_format import check_format, check_rank, contiguous_format
    from ember._ops.shape import keyword_sizes  # the op tables load after this module

    sizes = _sizes("resize_", keyword_sizes("resize_", sizes, "size", size))
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: "
                           f"{list(sizes)}")
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    fmt = contiguous_format if memory_format is None else memory_format
    check_format(fmt, "resize_")
    check_rank(fmt, len(sizes))
    strides = _format_strides(sizes, fmt)
    if self._data.shape == sizes and (memory_format is None or self.stride() == strides):
        return self  # the same sizes keep their strides
    if _resize_alone(self, sizes, strides):
        return self
    _place(self, untyped_storage(self), self.storage_offset(), sizes, strides, keep_view=True)
    self._vc[0] += 1
    return self


def _format_strides(sizes: tuple, fmt) -> tuple:
    from ember._memory_format import _ORDERS

    order = _ORDERS.get(len(sizes)) if fmt._name.startswith("channels_last") else None
    if order is None:
        return _contiguous_strides(sizes)
    strides = [0] * len(sizes)
    step = 1
    for d in reversed(order):
        strides[d] = step
        step *= max(sizes[d], 1)
    return tuple(strides)


def _resize_alone(self: Tensor, sizes: tuple, strides: tuple) -> bool:
    """The common ``empty(0).resize_(n)``: a tensor that alone holds its own allocation grows
    into a new one without looking for other tensors on it."""
    from ember.storage import sole_holder

    if self._base is not None or "_storage" in self.__dict__ or not sole_holder(self, "_data"):
        return False
    from ember._ops.shape import _storage_size

    data = self._data
    owner = data if data.base is None else data.base
    if (owner.dtype != data.dtype or not (owner.flags.c_contiguous or owner.flags.f_contiguous)
            or owner.__array_interface__["data"][0] != data.__array_interface__["data"][0]):
        return False
    need = 0 if 0 in sizes else 1 + sum((n - 1) * s for n, s in zip(sizes, strides))
    have = _storage_size(self)
    if need <= have:
        return False
    flat = np.empty(need, data.dtype)
    flat[:have] = owner.reshape(-1, order="A")[:have]  # the storage's elements, in memory
    # a view of ``flat`` from its first element: storage offsets still count from there
    self._data = np.ndarray(sizes, data.dtype, buffer=flat,
                            strides=tuple(s * data.itemsize for s in strides))
    self._vc[0] += 1
    return True


def resize(self: Tensor, *sizes) -> Tensor:
    """Mirrors the deprecated ``Tensor.resize`` (torch's warning): unlike ``resize_``, only a
    new shape of as many elements, a view of ``self`` when it is contiguous, differentiable.
    ``sizes`` are read as torch reads them: a tuple given whole is refused, in its words."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, sizes)


def _autograd_resize(self: Tensor, sizes) -> Tensor:
    numel = functools.reduce(operator.mul, sizes, 1)
    if self.numel() != numel:
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, sizes))} ({numel} elements in total), but "
            f"the given tensor has a size of {'x'.join(map(str, self.size()))} "
            f"({self.numel()} elements). autograd's resize can only change the shape of a "
            "given tensor, while preserving the number of elements. ")
    return self.contiguous().view(*sizes)


def resize_as_(input: Tensor, the_template: Tensor, *, memory_format=None) -> Tensor:
    """Mirrors ``torch.resize_as_`` / ``Tensor.resize_as_``: ``input.resize_`` to the
    template's sizes."""
    tensor_argument("resize_as_", "the_template", the_template, 2)
    return resize_(input, the_template._data.shape, memory_format=memory_format)


def resize_as(self: Tensor, tensor: Tensor) -> Tensor:
    """Mirrors the deprecated ``Tensor.resize_as`` (torch's warning): ``resize`` to
    ``tensor``'s shape, as many elements."""
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    tensor_argument("resize_as", "tensor", tensor, 1)
    return _autograd_resize(self, tensor.shape)


def dim_order(self: Tensor, *, ambiguity_check=False) -> tuple:
    """Mirrors ``Tensor.dim_order``: the dims from outermost to innermost in memory.

    A contiguous tensor gives ``(0, 1, ...)``, a channels-last one ``(0, 2, 3, 1)``; otherwise
    a larger stride is outer, equal strides put the larger size outer, and a zero stride
    leaves a dim where it is. ``ambiguity_check`` (True, or a list of memory formats) raises
    torch's RuntimeError when the order is not unique (a size-1 dim, equal neighbouring
    strides, an undecided pair) unless exactly one of the listed formats describes the
    tensor."""
    from ember._memory_format import memory_format as memory_format_type

    if not (isinstance(ambiguity_check, bool) or (
            isinstance(ambiguity_check, list)
            and all(type(f) is memory_format_type for f in ambiguity_check))):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                        "formats.")
    shape = self._data.shape
    strides = self.stride()
    if ambiguity_check is not False:
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        several = 1 in shape or any(a == b for a, b in zip(strides, strides[1:]))
        if several and sum(1 for f in formats if _in_format(self, f)) != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to "
                               "exact one of the given memory formats.")
    order, decided = _physical_order(self, shape, strides)
    if ambiguity_check and not decided:
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(order)


def _in_format(self: Tensor, fmt) -> bool:
    from ember._memory_format import _RANKS

    rank = _RANKS.get(fmt._name)
    if fmt._name == "preserve_format" or (rank is not None and rank != self._data.ndim):
        return False
    return self.is_contiguous(memory_format=fmt)


def _physical_order(self: Tensor, shape: tuple, strides: tuple) -> tuple[list, bool]:
    """Dims outermost first, and whether each neighbouring pair's order is decided by their
    strides and sizes."""
    from ember._memory_format import (
        channels_last,
        contiguous_format,
        dim_comparison,
        sort_inner_first,
    )

    ndim = len(shape)
    if ndim <= 1:
        return list(range(ndim)), True
    outer = dim_comparison(shape, strides)
    plain = self.is_contiguous(memory_format=contiguous_format)
    last = ndim == 4 and self.is_contiguous(memory_format=channels_last)
    if plain != last:
        order = list(range(ndim)) if plain else [0, 2, 3, 1]
    else:
        order = list(range(ndim))[::-1]
        sort_inner_first(order, outer)
        order.reverse()
    decided = all(outer(a, b) == 1 for a, b in zip(order, order[1:]))
    return order, decided


# ---- the legacy constructor -------------------------------------------------------------
def _new_signature_error(args: tuple, kwargs: dict) -> TypeError:
    def name(value) -> str:
        if isinstance(value, Tensor):
            return "Tensor"
        if isinstance(value, _dtype.dtype):
            return "torch.dtype"
        return type(value).__name__

    got = ", ".join([name(a) for a in args] + [f"{k}={name(v)}" for k, v in kwargs.items()])
    bad = ", ".join(k for k in kwargs if k != "device")
    return TypeError(
        f"new() received an invalid combination of arguments - got ({got}), but expected one "
        "of:\n * (*, torch.device device = None)\n      didn't match because some of the "
        f"keywords were incorrect: {bad}\n * (torch.Storage storage)\n * (Tensor other)\n"
        " * (tuple of ints size, *, torch.device device = None)\n * (object data, *, "
        "torch.device device = None)\n")


def new(self: Tensor, *args, **kwargs) -> Tensor:
    """Mirrors the legacy ``Tensor.new``: a tensor of ``self``'s dtype made from nothing
    (empty), sizes (``new(2, 3)``, ``new(torch.Size([2, 3]))``; uninitialised, zeros in
    ember), data (``new([1, 2])``; a tuple is data too), a storage (its whole memory, shared)
    or a tensor of the same dtype (sharing its memory). Only ``device=`` is accepted as a
    keyword, as in torch."""
    from ember._device import serve
    from ember._ops.creation import tensor, zeros

    if any(k != "device" for k in kwargs):
        raise _new_signature_error(args, kwargs)
    serve(kwargs.get("device"))
    dt = self.dtype
    if not args:
        return zeros(0, dtype=dt)
    if len(args) == 1:
        (arg,) = args
        if isinstance(arg, Tensor):
            if arg._data.dtype != self._data.dtype:
                raise TypeError(
                    f"expected {_tensor_options(dt)} (got {_tensor_options(arg.dtype)})")
            return make(arg._data)
        if isinstance(arg, (UntypedStorage, TypedStorage)):
            out = zeros(0, dtype=dt)
            return set_(out, arg)
        if isinstance(arg, Size):
            return zeros(*arg, dtype=dt)
        if isinstance(arg, (int, float, complex, bool)) and not isinstance(arg, int):
            raise TypeError(f"new(): data must be a sequence (got {type(arg).__name__})")
        if not isinstance(arg, int):
            return tensor(arg, dtype=dt)
    return zeros(*_sizes("new", args), dtype=dt)


def _tensor_options(dt: _dtype.dtype) -> str:
    return (f"TensorOptions(dtype={_dtype.cpp_type_name(dt)}, device=cpu, layout=Strided, "
            "requires_grad=false (default), pinned_memory=false (default), "
            "memory_format=(nullopt))")


# ---- element-wise Python callables ------------------------------------------------------
def _no_grad_target(name: str, *tensors: Tensor) -> None:
    if any(t._requires_grad for t in tensors):
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                           f"var.detach().{name}() instead.")


def _python_number(value, dt: _dtype.dtype):
    """``value`` as the Python number torch converts a callable's result to for ``dt``,
    with its TypeError for anything else."""
    cat = dt.category
    if cat == _dtype.BOOL:
        return bool(value)
    if cat == _dtype.INT:
        return int(value) if isinstance(value, float) else operator.index(value)
    if cat == _dtype.COMPLEX:
        return complex(value)
    if isinstance(value, (int, float)) or hasattr(value, "__float__"):
        return float(value)
    raise TypeError(f"must be real number, not {type(value).__name__}")


def _write_back(self: Tensor, results: list) -> Tensor:
    # torch writes element by element without counting it as an in-place op: no version bump
    if results:
        values = make(np.array(results).reshape(self._data.shape))
        self._data[...] = values.to(self.dtype)._data
    return self


def _elements(t: Tensor) -> list:
    return t.reshape(-1).tolist()


def apply_(self: Tensor, callable) -> Tensor:
    """Mirrors ``Tensor.apply_``: each element replaced by ``callable(element)`` (a Python
    call per element, as in torch); refuses a tensor that requires grad."""
    _no_grad_target("apply_", self)
    dt = self.dtype
    return _write_back(self, [_python_number(callable(v), dt) for v in _elements(self)])


def _mapped(name: str, self: Tensor, others: tuple) -> list:
    for arg, other in others:
        tensor_argument(name, arg, other, 1 + [a for a, _ in others].index(arg))
    _no_grad_target(name, self, *(o for _, o in others))
    for arg, other in others:
        if other._data.dtype != self._data.dtype:
            quote = f"argument '{arg}'" if name == "map2_" else f"'{arg}'"
            raise TypeError(
                f"{name}: expected {_dtype.legacy_type_name(self._data.dtype)} for {quote} (got "
                f"{_dtype.legacy_type_name(other._data.dtype)})")
    return [_elements(other.expand(self._data.shape)) for _, other in others]


def map_(self: Tensor, tensor: Tensor, callable) -> Tensor:
    """Mirrors ``Tensor.map_``: ``self[i] = callable(self[i], tensor[i])`` with ``tensor``
    broadcast to ``self``'s shape."""
    (other,) = _mapped("map_", self, (("other", tensor),))
    dt = self.dtype
    return _write_back(self, [_python_number(callable(a, b), dt)
                              for a, b in zip(_elements(self), other)])


def map2_(self: Tensor, x: Tensor, y: Tensor, callable) -> Tensor:
    """Mirrors ``Tensor.map2_``: ``self[i] = callable(self[i], x[i], y[i])`` with ``x`` and
    ``y`` broadcast to ``self``'s shape."""
    xs, ys = _mapped("map2_", self, (("x", x), ("y", y)))
    dt = self.dtype
    return _write_back(self, [_python_number(callable(a, b, c), dt)
                              for a, b, c in zip(_elements(self), xs, ys)])


# ---- the rest ---------------------------------------------------------------------------
def as_subclass(self: Tensor, cls: type) -> Tensor:
    """Mirrors ``Tensor.as_subclass``: the same data (and autograd history) as an instance
    of ``cls``, a Tensor subclass; its ``__init__`` is not called."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    out = object.__new__(cls)
    out._data = self._data
    out._requires_grad = self._requires_grad
    out._grad_fn = self._grad_fn
    out._vc = self._vc
    if self._grad_fn is not None:
        out._output_nr = self._output_nr
    return out


def _volatile(self: Tensor) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                  stacklevel=2)
    return False


def _set_volatile(self: Tensor, value) -> None:
    warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                  "instead.", UserWarning, stacklevel=2)


def _name(self: Tensor) -> None:
    return None


def _grad_dtype(self: Tensor):
    return self.dtype


def module_load(self: Tensor, other, assign: bool = False) -> Tensor:
    """Mirrors ``Tensor.module_load``: how ``load_state_dict`` turns a state-dict value
    into this parameter's replacement: ``self.copy_(other).detach()``, or with ``assign``
    ``other.detach()``."""
    if assign:
        return other.detach()
    return self.copy_(other).detach()


def _sparse_kernel(op: str):
    """A Tensor method whose torch kernel exists for sparse tensors only: torch's dispatcher
    error for a strided one."""
    def method(self: Tensor, *args, **kwargs):
        raise _dispatch_error(op)
    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"Mirrors ``Tensor.{op}``: sparse tensors only (torch's CPU error)."
    return method


_REINFORCE_REMOVED = (
    "reinforce() was removed.\nUse torch.distributions instead.\nSee "
    "https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\n"
    "probs = policy_network(state)\naction = probs.multinomial()\n"
    "next_state, reward = env.step(action)\naction.reinforce(reward)\naction.backward()\n\n"
    "Use:\n\nprobs = policy_network(state)\n"
    "# NOTE: categorical is equivalent to what used to be called multinomial\n"
    "m = torch.distributions.Categorical(probs)\naction = m.sample()\n"
    "next_state, reward = env.step(action)\nloss = -m.log_prob(action) * reward\n"
    "loss.backward()\n")


def reinforce(self: Tensor, reward) -> None:
    """Mirrors ``Tensor.reinforce``: removed from torch, which raises this error."""
    raise RuntimeError(_REINFORCE_REMOVED)


for _flag in _FLAGS:
    setattr(Tensor, _flag, _false_flag(_flag))

attach({
    "layout": property(_layout, doc=_layout.__doc__), "is_distributed": is_distributed,
    "sparse_dim": sparse_dim, "dense_dim": dense_dim, "to_dense": to_dense,
    "sparse_mask": sparse_mask, "to_padded_tensor": to_padded_tensor,
    "dequantize": _dequantize, "ipu": ipu, "mtia": mtia, "record_stream": record_stream,
    "untyped_storage": untyped_storage, "storage": storage, "_typed_storage": _typed_storage,
    "storage_type": storage_type, "const_data_ptr": const_data_ptr, "set_": set_,
    "is_set_to": is_set_to, "resize_": resize_, "resize": resize, "resize_as_": resize_as_,
    "resize_as": resize_as, "dim_order": dim_order, "new": new, "apply_": apply_,
    "map_": map_, "map2_": map2_, "as_subclass": as_subclass, "module_load": module_load,
    "volatile": property(_volatile, _set_volatile,
                         doc="Mirrors ``Tensor.volatile``: removed in torch; always False, "
                             "with torch's warnings on reading and setting."),
    "name": property(_name, doc="Mirrors ``Tensor.name``: None (ember has no named "
                                "tensors)."),
    "grad_dtype": property(_grad_dtype, doc="Mirrors ``Tensor.grad_dtype``: the dtype a "
                                            "gradient must have, the tensor's own (ember "
                                            "cannot set another)."),
})
attach({name: _layout_error(name, kind) for name, kind in _SPARSE_ONLY.items()})
attach({name: _quantized_only(name) for name in _QUANTIZED_ONLY})
attach({name: _sparse_kernel(name) for name in ("resize_as_sparse_", "sparse_resize_",
                                                 "sparse_resize_and_clear_")})
attach({"reinforce": reinforce})
