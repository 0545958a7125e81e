"""torch's remaining factories: ``asarray``, ``frombuffer``, ``empty_strided``,
``empty_permuted``, ``from_file``, and the DLPack exchange (``from_dlpack``, ``to_dlpack``,
``Tensor.__dlpack__``)."""
from __future__ import annotations

import ctypes
import os

from ember import _dtype
from ember import _memory_format as _mf
from ember._backend import ndarray, np
from ember._device import place as _place
from ember._ops.creation import _finish, check_tensor_options, from_numpy, parse_size, tensor
from ember._tensor import Tensor, tensor_argument

__all__ = ["asarray", "frombuffer", "empty_strided", "empty_permuted", "from_file",
           "from_dlpack", "to_dlpack"]

_UNSPECIFIED_REQUIRES_GRAD = (
    "torch.asarray: unspecified requires_grad now defaults to obj.requires_grad instead of "
    "False. Pass requires_grad=False explicitly to get the old behavior and silence this "
    "warning.")
_NOT_WRITABLE = (
    "The given buffer is not writable, and PyTorch does not support non-writable tensors. "
    "This means you can write to the underlying (supposedly non-writable) buffer using the "
    "tensor. You may want to copy the buffer to protect its data or make it writable before "
    "converting it to a tensor. This type of warning will be suppressed for the rest of this "
    "program.")


def _alias_error(have: _dtype.dtype, want: _dtype.dtype) -> ValueError:
    return ValueError(f"can't alias tensor with dtype '{_dtype.scalar_type_name(have)}' into "
                      f"dtype '{_dtype.scalar_type_name(want)}'.")


def _convert(t: Tensor, dtype, copy) -> Tensor:
    """``t`` as asarray returns a tensor: itself, or a copy when the dtype differs or
    ``copy`` is True (an error when the dtype differs and ``copy`` is False)."""
    if dtype is not None and dtype is not t.dtype:
        if copy is False:
            raise _alias_error(t.dtype, dtype)
        return t.to(dtype)
    return t.clone() if copy else t


def _has_buffer(obj) -> bool:
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def asarray(obj, *, dtype: _dtype.dtype | None = None, device=None, copy: bool | None = None,
            requires_grad: bool | None = None) -> Tensor:
    """Mirrors ``torch.asarray``: shares memory with a tensor, a NumPy array (or anything
    with ``__array_interface__``) or a buffer-protocol object (read as raw bytes of the
    default dtype, or ``dtype``) unless ``copy=True`` or a dtype conversion asks for a copy;
    builds Python data and NumPy scalars (0-d arrays too) as ``torch.tensor`` does
    (``copy=False`` on Python data raises). ``requires_grad`` unspecified keeps a tensor's
    graph (with torch's warning, once, when it requires grad); given, a leaf result takes
    the flag in place and a non-leaf is detached for False. DLPack capsules are not
    accepted."""
    _place(device)
    if isinstance(obj, Tensor):
        if requires_grad is None and obj._requires_grad:
            from ember._runtime import _warn_once  # loads after the op tables

            _warn_once("asarray_requires_grad", _UNSPECIFIED_REQUIRES_GRAD)
        result = _convert(obj, dtype, copy)
    elif isinstance(obj, np.generic) or (isinstance(obj, ndarray) and obj.ndim == 0):
        result = tensor(obj, dtype=dtype)  # torch reads 0-d arrays as scalars: a copy
    elif isinstance(obj, ndarray) or hasattr(obj, "__array_interface__"):
        result = _convert(from_numpy(np.asarray(obj)), dtype, copy)
    elif _has_buffer(obj) and not isinstance(obj, (list, tuple)):
        result = _convert(frombuffer(obj, dtype=dtype or _dtype.get_default_dtype()), None,
                          copy)
    else:
        if copy is False:
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        result = tensor(obj, dtype=dtype)
    if requires_grad is None:
        return result
    if result._grad_fn is None:  # a leaf takes the flag, in place as torch sets it
        if requires_grad and result.dtype.category < _dtype.FLOAT:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        result.requires_grad_(requires_grad)
        return result
    return result if requires_grad else result.detach()


def _writable_view(view: memoryview, np_dtype, count: int, offset: int) -> ndarray:
    """An array over a read-only buffer's memory that can be written, as torch's tensor
    can (it warns instead of refusing); the array keeps the buffer alive."""
    readonly = np.frombuffer(view, np_dtype, count, offset)
    if readonly.size == 0:
        return readonly.copy()
    address = readonly.__array_interface__["data"][0]
    raw = (ctypes.c_char * readonly.nbytes).from_address(address)
    raw.owner = view  # the memory is the buffer's: keep it alive as long as the array
    return np.frombuffer(raw, np_dtype)


def frombuffer(buffer, *, dtype: _dtype.dtype, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.frombuffer``: a 1-d tensor over ``count`` elements of ``buffer``'s
    memory from byte ``offset`` (all that fit when ``count`` is -1), sharing it. A read-only
    buffer can be written through the tensor, as in torch, which warns once."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    if not view.contiguous:
        raise RuntimeError("could not retrieve buffer from object")
    length = view.nbytes
    item = dtype.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % item:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({item})")
        count = (length - offset) // item
    elif offset + count * item > length:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    flat = view.cast("B")
    if view.readonly:
        from ember._runtime import _warn_once  # loads after the op tables

        _warn_once("frombuffer_not_writable", _NOT_WRITABLE)
        data = _writable_view(flat, dtype.np, count, offset)
    else:
        data = np.frombuffer(flat, dtype.np, count, offset)
    return _finish(data, requires_grad)


def _int_tuple(name: str, arg: str, position: int, value) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be tuple of "
                        f"ints, not {type(value).__name__}")
    return tuple(int(v) for v in value)


def empty_strided(size, stride, *, dtype: _dtype.dtype | None = None, layout=None,
                  device=None, requires_grad: bool = False,
                  pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.empty_strided``: a tensor of ``size`` laid out with ``stride`` (in
    elements, overlapping strides too) over fresh memory; ember fills it with zeros."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("empty_strided", layout, pin_memory)
    size = _int_tuple("empty_strided", "size", 1, size)
    stride = _int_tuple("empty_strided", "stride", 2, stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality "
                           f"of strides ({len(stride)})")
    parse_size((size,))
    if any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and "
                           f"strides={list(stride)}")
    np_dtype = (dtype or _dtype.get_default_dtype()).np
    return _finish(_mf.empty_strided_array(size, stride, np_dtype), requires_grad)


def empty_permuted(size, physical_layout, *, dtype: _dtype.dtype | None = None, layout=None,
                   device=None, requires_grad: bool = False,
                   pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.empty_permuted``: a tensor of ``size`` whose dims lie in memory in
    the order ``physical_layout`` gives (slowest first), densely; ember fills it with
    zeros."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("empty_permuted", layout, pin_memory)
    size = _int_tuple("empty_permuted", "size", 1, size)
    order = _int_tuple("empty_permuted", "physical_layout", 2, physical_layout)
    ndim = len(size)
    if len(order) != ndim:
        raise RuntimeError("Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {ndim} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    for i, d in enumerate(order):
        if not 0 <= d < ndim:
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and "
                               f"{ndim - 1}, but got {d} at index {i}).  NB: negative dims "
                               "not currently supported; file an issue if you want it.")
    if len(set(order)) != ndim:
        raise RuntimeError("Duplicate dim not allowed")
    parse_size((size,))
    np_dtype = (dtype or _dtype.get_default_dtype()).np
    data = np.zeros([size[d] for d in order], np_dtype).transpose(np.argsort(order))
    return _finish(data, requires_grad)


def from_file(filename: str, shared: bool | None = None, size: int = 0, *,
              dtype: _dtype.dtype | None = None, layout=None, device=None,
              pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.from_file``: a 1-d tensor of ``size`` elements mapped from the start of
    ``filename``. With ``shared=True`` the mapping is shared (writes reach the file, which is
    made, or grown with zeros, to hold ``size`` elements); otherwise it is private
    (copy-on-write) and the file must already hold them."""
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("from_file", layout, pin_memory)
    if not isinstance(filename, str):
        raise TypeError("from_file(): argument 'filename' (position 1) must be str, not "
                        f"{type(filename).__name__}")
    np_dtype = (dtype or _dtype.get_default_dtype()).np
    nbytes = size * np_dtype.itemsize
    if size < 0:
        raise RuntimeError(f"unable to mmap {nbytes} bytes from file <{filename}>: Cannot "
                           "allocate memory (12)")
    if size == 0:
        return _finish(np.zeros(0, np_dtype), requires_grad)
    import mmap  # only when a file is mapped

    flags = os.O_RDWR | os.O_CREAT if shared else os.O_RDONLY
    try:
        fd = os.open(filename, flags, 0o666)
    except OSError as e:
        mode = "read-write" if shared else "read-only"
        raise RuntimeError(f"unable to open file <{filename}> in {mode} mode: {e.strerror} "
                           f"({e.errno})") from None
    try:
        have = os.fstat(fd).st_size
        if have < nbytes:
            if not shared:
                raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the "
                                   f"required mapping size <{nbytes}>")
            os.ftruncate(fd, nbytes)
        if shared:
            mapped = mmap.mmap(fd, nbytes, flags=mmap.MAP_SHARED,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
        else:
            mapped = mmap.mmap(fd, nbytes, flags=mmap.MAP_PRIVATE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    return _finish(np.frombuffer(mapped, np_dtype, size), requires_grad)


# ---- DLPack ---------------------------------------------------------------------------------
# ember's arrays are NumPy's, so the exchange is NumPy's DLPack support: dtypes NumPy lacks
# (bfloat16, the float8 types) cannot cross it, where torch's can.

_INVALID_CAPSULE = (
    "from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only "
    "once, so you might have already constructed a tensor from it once.")


class _Capsule:
    """A DLPack capsule dressed as an exporter, which is what ``np.from_dlpack`` takes."""

    def __init__(self, capsule) -> None:
        self.capsule = capsule

    def __dlpack__(self, **_):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU: ember's memory is the host's


def _fresh_capsule(obj) -> bool:
    is_valid = ctypes.pythonapi.PyCapsule_IsValid
    is_valid.argtypes, is_valid.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_int
    return type(obj).__name__ == "PyCapsule" and (
        is_valid(obj, b"dltensor") or is_valid(obj, b"dltensor_versioned"))


def from_dlpack(ext_tensor, *, device=None, copy: bool | None = None) -> Tensor:
    """Mirrors ``torch.from_dlpack``: a tensor sharing the memory of ``ext_tensor``, an object
    with ``__dlpack__`` (a NumPy array, a torch tensor, ...) or a DLPack capsule (usable
    once); ``copy=True`` copies it instead, ``device`` must be the CPU. ember differs in the
    dtypes it can take: those NumPy has."""
    _place(device)
    if not hasattr(ext_tensor, "__dlpack__"):
        if not _fresh_capsule(ext_tensor):
            raise RuntimeError(_INVALID_CAPSULE)
        ext_tensor = _Capsule(ext_tensor)
    result = from_numpy(np.from_dlpack(ext_tensor))
    return result.clone() if copy else result


def _dlpack(self: Tensor, *, stream=-1, max_version=None, dl_device=None, copy=None):
    """Mirrors ``Tensor.__dlpack__``: the tensor's memory as a DLPack capsule (torch refuses
    a tensor that requires grad)."""
    if self._requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    return self._data.__dlpack__(max_version=max_version, dl_device=dl_device, copy=copy)


def _dlpack_device(self: Tensor) -> tuple:
    """Mirrors ``Tensor.__dlpack_device__``: (kDLCPU, 0)."""
    return self._data.__dlpack_device__()


def to_dlpack(tensor: Tensor):
    """Mirrors ``torch.to_dlpack``: ``tensor``'s memory as a DLPack capsule."""
    tensor_argument("_to_dlpack", "data", tensor, 1)
    return _dlpack(tensor)


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = _dlpack_device

