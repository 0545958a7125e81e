"""How ``ember.multiprocessing`` sends tensors between processes: through shared memory,
as torch's ``torch.multiprocessing.reductions`` does.

NOTE [Tensors across processes]
Pickled by ``multiprocessing`` (its queues, pipes, pools and process arguments), a tensor is
not copied: its memory moves into a shared mapping backed by a file descriptor (a memfd),
every tensor reading that memory is re-pointed at it (as ``share_memory_`` does, NOTE
[Shared tensor memory]), and the receiver maps the same file, so writes on either side are
seen by the other. The descriptor travels as torch's sharing strategies say: passed over a
Unix socket (``"file_descriptor"``, ``multiprocessing.reduction.DupFd``) or opened by the
receiver through the sender's ``/proc/<pid>/fd`` entry (``"file_system"``: the sender must
still be running when the receiver unpickles, as torch's shared-memory manager must).
A mapping made here or received keeps its descriptor, so sending a tensor again reuses it.
memfd and /proc make this Linux's, as torch's two strategies are. ember differs: a tensor
that ``share_memory_`` shared earlier (an anonymous mapping, which has no descriptor to pass)
moves once more, into a memfd mapping; a process forked between the two no longer sees its
writes.
"""
from __future__ import annotations

import mmap
import os
import weakref

from ember._backend import np
from ember._shared_memory import _address, _owner, move_memory
from ember._tensor import Tensor, make

__all__ = ["init_reductions", "rebuild_tensor", "reduce_tensor"]

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = ["file_descriptor"]

# id(mapping) -> (mapping, descriptor) for every descriptor-backed mapping of this process
_mappings: dict = {}


def _forget(key: int, fd: int) -> None:
    _mappings.pop(key, None)
    os.close(fd)


def _keep(mapping: mmap.mmap, fd: int) -> None:
    _mappings[id(mapping)] = (mapping, fd)
    weakref.finalize(mapping, _forget, id(mapping), fd)


def _map(fd: int, size: int):
    """A shared mapping of ``fd``'s first ``size`` bytes and the uint8 array over it."""
    mapping = mmap.mmap(fd, size)
    _keep(mapping, fd)
    return mapping, np.frombuffer(mapping, np.uint8)


def _shared_flat(tensor: Tensor):
    """The uint8 array over the descriptor-backed mapping holding ``tensor``'s memory, and
    that mapping's descriptor; moves the memory there first if needed."""
    owner = _owner(tensor._data)
    base = owner.base
    if isinstance(base, memoryview) and id(base.obj) in _mappings:
        mapping, fd = _mappings[id(base.obj)]
        if mapping is base.obj:
            return owner, fd
    low, high = np.lib.array_utils.byte_bounds(owner)
    size = max(high - low, 1)
    fd = os.memfd_create("ember-tensor", os.MFD_CLOEXEC)
    os.ftruncate(fd, size)
    _, flat = _map(fd, size)
    move_memory(owner, flat)
    return flat, fd


def rebuild_tensor(handle, size: int, dtype, shape: tuple, strides: tuple, offset: int,
                   requires_grad: bool) -> Tensor:
    """The receiving side of ``reduce_tensor``: a tensor over the sender's shared memory."""
    if isinstance(handle, str):
        fd = os.open(handle, os.O_RDWR | os.O_CLOEXEC)
    else:
        fd = handle.detach()
    _, flat = _map(fd, size)
    return make(np.ndarray(shape, dtype, buffer=flat, offset=offset, strides=strides),
                requires_grad)


def _rebuild_empty(dtype, shape: tuple, requires_grad: bool) -> Tensor:
    return make(np.empty(shape, dtype), requires_grad)


def reduce_tensor(tensor: Tensor):
    """Pickles ``tensor`` for another process through shared memory (NOTE [Tensors across
    processes]); torch's error for a non-leaf tensor that requires grad."""
    from multiprocessing.reduction import DupFd

    if tensor._requires_grad and tensor._grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since "
            "autograd does not support crossing process boundaries.  If you just want to "
            "transfer the data, call detach() on the tensor before serializing (e.g., "
            "putting it on the queue).")
    if tensor._data.size == 0:  # no memory to share: torch sends empty tensors as they are
        return _rebuild_empty, (tensor._data.dtype, tensor._data.shape, tensor._requires_grad)
    flat, fd = _shared_flat(tensor)
    data = tensor._data  # now in the shared mapping
    handle = DupFd(fd) if _strategy[0] == "file_descriptor" else f"/proc/{os.getpid()}/fd/{fd}"
    return rebuild_tensor, (handle, flat.nbytes, data.dtype, data.shape, data.strides,
                            _address(data) - _address(flat), tensor._requires_grad)


def init_reductions() -> None:
    """Mirrors ``torch.multiprocessing.reductions.init_reductions``: ``multiprocessing``'s
    pickler sends ember tensors through shared memory from now on."""
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(Tensor, reduce_tensor)
