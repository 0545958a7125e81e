"""Mirrors ``safetensors.torch``: ember tensors in the safetensors format, over the
``safetensors`` package's NumPy interface (the optional extra ``ember[safetensors]``).

A file holds a JSON header (name -> dtype, shape, byte range; optional ``__metadata__`` of
strings) and the tensors' raw little-endian bytes, each tensor contiguous and none sharing
memory with another. ``save_file``/``save`` write through ``safetensors.numpy`` (which
takes ml_dtypes' bfloat16 arrays), ``safe_open``/``load_file`` open files with the
package's ``safe_open(..., framework="numpy")`` (tensors then map the file: NOTE [Mapped
tensors]) and ``load`` reads through its ``deserialize``, so the package parses and checks
every header. Files are interchangeable with
``safetensors.torch``'s in both directions; float8 tensors cannot be loaded, and the format
has no complex128.

Example::

    from ember.utils.safetensors import load_file, save_file
    save_file(model.state_dict(), "model.safetensors")
    model.load_state_dict(load_file("model.safetensors"))
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import sys
from collections import defaultdict
from typing import Any

try:
    import safetensors.numpy as _st_numpy
    from safetensors import SafetensorError, deserialize
    from safetensors import safe_open as _package_safe_open
except ImportError as exc:
    raise ImportError(
        "ember.utils.safetensors needs the safetensors package, an optional dependency: "
        "pip install 'ember[safetensors]' (or pip install safetensors)") from exc

from ember import _dtype
from ember._backend import bfloat16_dtype, np
from ember._device import device as _device
from ember._tensor import Tensor, make
from ember.serialization import _byte_bounds, _root

__all__ = ["save_file", "load_file", "save", "load", "safe_open", "save_model", "load_model",
           "SafetensorError"]

# the package's NumPy reader makes bfloat16 arrays by the dtype's name, which only
# ml_dtypes registers with NumPy
bfloat16_dtype()

# safetensors' dtype codes that ember has a dtype for
_DTYPES = {"F64": _dtype.float64, "F32": _dtype.float32, "F16": _dtype.float16,
           "BF16": _dtype.bfloat16, "I64": _dtype.int64, "I32": _dtype.int32,
           "I16": _dtype.int16, "I8": _dtype.int8, "U8": _dtype.uint8, "BOOL": _dtype.bool_,
           "C64": _dtype.complex64, "U16": _dtype.uint16, "U32": _dtype.uint32,
           "U64": _dtype.uint64}
_TENSOR_FRAMEWORKS = frozenset({"pt", "torch", "pytorch", "ember"})
_NUMPY_FRAMEWORKS = frozenset({"np", "numpy"})
_SHARED_DOCS = "https://huggingface.co/docs/safetensors/torch_shared_tensors"


def _ember_dtype(code: str, name: str) -> _dtype.dtype:
    found = _DTYPES.get(code)
    if found is None:
        raise TypeError(f"tensor {name!r} has the safetensors dtype {code}, which ember has "
                        f"no dtype for (ember has {', '.join(_DTYPES)})")
    return found


def _backend_kwargs(backend: str) -> dict:
    # only safetensors releases with a choice of backend accept the argument
    return {} if backend == "mmap" else {"backend": backend}


# ---- saving -----------------------------------------------------------------------------
def _storage(t: Tensor) -> tuple:
    """``(pointer, nbytes)`` of the memory block a tensor's array views, as
    ``untyped_storage()`` gives in torch."""
    lo, hi = _byte_bounds(_root(t._data))
    return lo, hi - lo


def _end_ptr(t: Tensor) -> int:
    if t.numel():
        # a view, as torch's check does: a tensor no flat view reaches raises torch's error
        return t.detach().view(-1)[-1].data_ptr() + t.element_size()
    return t.data_ptr()


def _find_shared_tensors(tensors: dict) -> list:
    """Sets of names whose tensors overlap in memory (singletons for the others)."""
    by_storage: dict = defaultdict(set)
    for name, t in tensors.items():
        ptr, nbytes = _storage(t)
        if ptr and nbytes:
            by_storage[ptr, nbytes].add(name)
    groups = []
    for names in by_storage.values():
        if len(names) < 2:
            groups.append(names)
            continue
        areas = sorted((tensors[n].data_ptr(), _end_ptr(tensors[n]), n) for n in names)
        _, last_stop, first = areas[0]
        groups.append({first})
        for start, stop, name in areas[1:]:
            if start >= last_stop:
                groups.append({name})
            else:
                groups[-1].add(name)
            last_stop = stop
    return groups


def _arrays_for_save(tensors: dict) -> dict:
    """The contiguous arrays to write, after ``safetensors.torch``'s checks (with its
    exception types and messages)."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise ValueError(f"Key `{name}` is invalid, expected torch.Tensor but received "
                             f"{type(t)}")
    failing = [names for names in _find_shared_tensors(tensors) if len(names) > 1]
    if failing:
        raise RuntimeError(f"""
            Some tensors share memory, this will lead to duplicate memory on disk and potential differences when loading them again: {failing}.
            A potential way to correctly save your model is to use `save_model`.
            More information at {_SHARED_DOCS}
            """)  # noqa: E501 - the message is safetensors.torch's, line breaks included
    arrays = {}
    for name, t in tensors.items():
        if not t.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{name}` which is not "
                "allowed. It either means you are trying to save tensors which are reference "
                "of each other in which case it's recommended to save only the full tensors, "
                "and reslice at load time, or simply call `.contiguous()` on your tensor to "
                "pack it before saving.")
        if t.dtype is _dtype.complex128:
            raise KeyError(t.dtype)  # safetensors.torch's error: the format has no complex128
        arrays[name] = t._data
    return arrays


def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """Mirrors ``safetensors.torch.save``: the safetensors file of ``tensors`` as bytes.

    Args:
        tensors: ``{name: tensor}``; every tensor contiguous, none sharing memory with
            another (``save_model`` drops tied duplicates).
        metadata: optional ``{str: str}`` stored in the header.
    """
    return _st_numpy.save(_arrays_for_save(tensors), metadata=metadata)


def save_file(tensors: dict, filename: str | os.PathLike, metadata: dict | None = None
              ) -> None:
    """Mirrors ``safetensors.torch.save_file``: writes ``tensors`` to ``filename`` in the
    safetensors format; arguments as ``save``."""
    _st_numpy.save_file(_arrays_for_save(tensors), filename, metadata=metadata)


# ---- loading ----------------------------------------------------------------------------
class _Slice:
    """Mirrors the slice object of ``safe_open(...).get_slice``: indexing it reads only the
    bytes the index selects (for ints, slices and an ellipsis) and gives a tensor, with
    torch's indexing rules."""

    __slots__ = ("_slice", "_open", "_name")

    def __init__(self, package_slice, opened: safe_open, name: str) -> None:
        self._slice, self._open, self._name = package_slice, opened, name

    def get_shape(self) -> list:
        """The tensor's shape, as a list."""
        return self._slice.get_shape()

    def get_dtype(self) -> str:
        """The tensor's safetensors dtype code (``"F32"``, ``"BF16"``...)."""
        return self._slice.get_dtype()

    def __getitem__(self, index) -> Tensor:
        shape = self._slice.get_shape()
        dt = _ember_dtype(self._slice.get_dtype(), self._name)
        basic = _basic_index(index, shape)
        if basic is None:
            # a form the package cannot read piecewise, or an index torch refuses: index the
            # whole tensor, whose errors are torch's
            return self._open.get_tensor(self._name)[index]
        if not basic:
            return self._open.get_tensor(self._name)
        kept = [_span(i, n) for i, n in zip(basic, shape) if type(i) is slice]
        kept += shape[len(basic):]
        if 0 in kept:  # the package refuses some empty ranges; there is nothing to read
            return self._open._tensor(np.empty(kept, dt.np))
        return self._open._tensor(self._slice[tuple(basic)])


def _span(s: slice, n: int) -> int:
    return len(range(*s.indices(n)))


def _basic_index(index, shape: list) -> list | None:
    """``index`` as non-negative ints and forward slices within ``shape`` (an ellipsis
    expanded), or None where it is anything else or out of bounds."""
    items = list(index) if type(index) is tuple else [index]
    if sum(i is Ellipsis for i in items) > 1:
        return None
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - len(items) + 1)
    if len(items) > len(shape):
        return None
    out = []
    for item, n in zip(items, shape):
        if type(item) is int:
            if not -n <= item < n:
                return None
            out.append(item % n)
        elif type(item) is slice:
            if item.step is not None and (type(item.step) is not int or item.step <= 0):
                return None
            if not all(v is None or type(v) is int for v in (item.start, item.stop)):
                return None
            start, stop, step = item.indices(n)
            out.append(slice(start, max(start, stop), step))
        else:
            return None
    return out


class safe_open:
    """Mirrors ``safetensors.safe_open`` for ember: a context manager over one file that
    reads tensors lazily.

    Args:
        filename: the file's path.
        framework: ``"pt"``, ``"torch"``, ``"pytorch"`` or ``"ember"`` give ember tensors;
            ``"np"``/``"numpy"`` give NumPy arrays (the package's own reader). Other
            frameworks raise the package's ``SafetensorError``.
        device: where tensors go (``"cpu"``; ember's other devices as ``Tensor.to``).
        backend: ``"mmap"`` (tensors map the file, NOTE [Mapped tensors]) or ``"pread"``
            (tensors are copies read by the package).

    Methods: ``keys()``, ``offset_keys()``, ``metadata()``, ``get_tensor(name)``,
    ``get_tensors()``, ``get_slice(name)`` (index it: ``f.get_slice("w")[:, :8]``).
    """

    def __init__(self, filename: str | os.PathLike, framework: str, device: Any = "cpu", *,
                 backend: str = "mmap") -> None:
        self.framework = framework
        self.tensors = framework in _TENSOR_FRAMEWORKS
        if not self.tensors and framework not in _NUMPY_FRAMEWORKS:
            raise SafetensorError(f"framework {framework} is invalid")
        if self.tensors:
            try:
                self.device = _device(device)
            except RuntimeError as exc:
                if isinstance(device, int):
                    raise  # torch's "Cannot access accelerator device", as safetensors'
                raise SafetensorError(f"device {device} is invalid") from exc
        self._handle = _package_safe_open(
            filename, framework="numpy", device="cpu" if self.tensors else device,
            **_backend_kwargs(backend))
        # NOTE [Mapped tensors]: with the mmap backend, tensors are copy-on-write views of a
        # map of the file, as safetensors.torch's are: loading costs no copy and reads only
        # the pages used, writes to a tensor stay in memory. The package has parsed and
        # checked the header above (offsets within the file, sizes matching shapes); the
        # byte offsets it does not expose are read from the same header here.
        self._mapped = None
        if self.tensors and backend == "mmap" and sys.byteorder == "little":
            self._mapped = _Mapped(filename)

    def __enter__(self) -> safe_open:
        self._handle.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._handle.__exit__(*exc)

    def keys(self) -> list:
        """The tensors' names, sorted."""
        return self._handle.keys()

    def offset_keys(self) -> list:
        """The tensors' names in the order of their bytes in the file."""
        return self._handle.offset_keys()

    def metadata(self) -> dict | None:
        """The header's ``__metadata__`` (or None)."""
        return self._handle.metadata()

    def _tensor(self, array) -> Tensor:
        t = make(array)
        return t if self.device.type == "cpu" else t.to(self.device)

    def get_tensor(self, name: str):
        """The tensor ``name``: writable, and never writing to the file (NOTE [Mapped
        tensors])."""
        if not self.tensors:
            return self._handle.get_tensor(name)
        package_slice = self._handle.get_slice(name)  # the package's errors for bad names
        dt = _ember_dtype(package_slice.get_dtype(), name)
        if self._mapped is None:
            return self._tensor(self._handle.get_tensor(name))
        return self._tensor(self._mapped.array(name, dt.np, package_slice.get_shape()))

    def get_tensors(self) -> dict:
        """Every tensor, by name, in the order of the file."""
        return {name: self.get_tensor(name) for name in self._handle.offset_keys()}

    def get_slice(self, name: str):
        """A lazy handle on tensor ``name``: indexing it reads just the selected part."""
        package_slice = self._handle.get_slice(name)
        return _Slice(package_slice, self, name) if self.tensors else package_slice


class _Mapped:
    """Copy-on-write arrays over a safetensors file whose header the package has checked."""

    def __init__(self, filename) -> None:
        with open(filename, "rb") as fp:
            (length,) = struct.unpack("<Q", fp.read(8))
            header = json.loads(fp.read(length))
            self.map = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_COPY)
        self.start = 8 + length
        self.offsets = {name: info["data_offsets"][0] for name, info in header.items()
                        if name != "__metadata__"}

    def array(self, name: str, np_dtype, shape: list):
        if 0 in shape:
            return np.empty(shape, np_dtype)
        return np.ndarray(shape, np_dtype, buffer=self.map,
                          offset=self.start + self.offsets[name])


def load_file(filename: str | os.PathLike, device: Any = "cpu", *, backend: str = "mmap"
              ) -> dict:
    """Mirrors ``safetensors.torch.load_file``: ``{name: tensor}`` of the file, in the order
    of its bytes, on ``device``. ``model.load_state_dict(load_file(path))`` loads a model."""
    with safe_open(filename, framework="pt", device=device, backend=backend) as f:
        return f.get_tensors()


def load(data: bytes) -> dict:
    """Mirrors ``safetensors.torch.load``: ``{name: tensor}`` of a safetensors file's
    bytes (each tensor a writable copy), in the names' order (torch's varies)."""
    out = {}
    for name, info in sorted(deserialize(data), key=lambda item: item[0]):
        dt = _ember_dtype(info["dtype"], name)
        out[name] = make(np.frombuffer(info["data"], dt.np).reshape(info["shape"]).copy())
    return out


# ---- models with tied weights -----------------------------------------------------------
def _is_complete(t: Tensor) -> bool:
    ptr, nbytes = _storage(t)
    return t.data_ptr() == ptr and t.numel() * t.element_size() == nbytes


def _remove_duplicate_names(state_dict: dict, *, preferred_names=None) -> dict:
    """For each group of tensors sharing memory, the name kept -> the names dropped."""
    preferred_names = set(preferred_names or ())
    to_remove: dict = defaultdict(list)
    for shared in _find_shared_tensors(state_dict):
        complete = {name for name in shared if _is_complete(state_dict[name])}
        if not complete:
            raise RuntimeError(
                "Error while trying to find names to remove to save state dict, but found no "
                f"suitable name to keep for saving amongst: {shared}. None is covering the "
                "entire storage.Refusing to save/load the model since you could be storing "
                f"much more memory than needed. Please refer to {_SHARED_DOCS} for more "
                "information. Or open an issue.")
        keep = sorted(preferred_names & complete or complete)[0]
        for name in sorted(shared):
            if name != keep:
                to_remove[keep].append(name)
    return to_remove


def save_model(model, filename: str | os.PathLike, metadata: dict | None = None,
               force_contiguous: bool = True) -> None:
    """Mirrors ``safetensors.torch.save_model``: saves ``model.state_dict()``, keeping one
    name of each group of tensors that share memory (tied weights; the dropped names are
    recorded in the metadata as ``{dropped: kept}``) and, with ``force_contiguous``,
    packing non-contiguous tensors."""
    state_dict = model.state_dict()
    for kept, dropped in _remove_duplicate_names(state_dict).items():
        for name in dropped:
            metadata = {} if metadata is None else metadata
            metadata.setdefault(name, kept)
            del state_dict[name]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata)
    except ValueError as exc:
        raise ValueError(f"{exc} Or use save_model(..., force_contiguous=True), read the docs "
                         "for potential caveats.") from None


def load_model(model, filename: str | os.PathLike, strict: bool = True, device: Any = "cpu",
               *, backend: str = "mmap") -> tuple:
    """Mirrors ``safetensors.torch.load_model``: loads a file written by ``save_model`` into
    ``model``, tied weights included. Returns ``(missing, unexpected)`` names; with
    ``strict`` either being non-empty raises torch's ``load_state_dict`` error."""
    state_dict = load_file(filename, device=device, backend=backend)
    to_remove = _remove_duplicate_names(model.state_dict(), preferred_names=state_dict.keys())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = set(missing)
    for dropped in to_remove.values():
        for name in dropped:
            if name in missing:
                missing.remove(name)
            else:
                unexpected.append(name)
    if strict and (missing or unexpected):
        error = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            error += "\n    Missing key(s) in state_dict: " + ", ".join(
                f'"{k}"' for k in sorted(missing))
        if unexpected:
            error += "\n    Unexpected key(s) in state_dict: " + ", ".join(
                f'"{k}"' for k in sorted(unexpected))
        raise RuntimeError(error)
    return missing, unexpected
