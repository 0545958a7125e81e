"""``ember.multiprocessing.spawn``: mirrors ``torch.multiprocessing.spawn``: start ``nprocs``
processes running ``fn(i, *args)`` and join them with torch's semantics: the first process
to fail takes the others down and its error is raised in the parent.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "SpawnContext", "spawn", "start_processes"]


class ProcessException(Exception):
    """Mirrors ``torch.multiprocessing.ProcessException``: a spawned process failed;
    ``error_index`` is its index, ``error_pid`` its process id."""

    __slots__ = ("error_index", "error_pid")

    def __init__(self, msg: str, error_index: int, pid: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """Mirrors ``torch.multiprocessing.ProcessRaisedException``: a spawned process raised;
    the message carries its traceback."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg, error_index, error_pid)


class ProcessExitedException(ProcessException):
    """Mirrors ``torch.multiprocessing.ProcessExitedException``: a spawned process exited
    with a non-zero code (``exit_code``) or was killed by a signal (``signal_name``)."""

    __slots__ = ("exit_code",)

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i: int, args: tuple, error_file: str) -> None:
    # runs in the child: an exception's traceback goes to the parent through the file
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # the parent is taking the processes down
    except Exception:
        with open(error_file, "w") as f:
            f.write(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """Mirrors ``torch.multiprocessing.ProcessContext``: the processes ``start_processes``
    started (``processes``, ``error_files``, ``sentinels``, ``pids()``); ``join`` waits for
    them."""

    def __init__(self, processes: list, error_files: list) -> None:
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list:
        """The process ids, in index order."""
        return [int(process.pid) for process in self.processes]

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Mirrors ``ProcessContext.join``: waits up to ``timeout`` seconds (None: until
        one finishes) and returns True once every process has exited successfully, False
        while some still run. When one fails, the others are sent SIGTERM (then SIGKILL
        after ``grace_period`` seconds, at once without one) and the failure is raised:
        ``ProcessRaisedException`` with the child's traceback for an exception,
        ``ProcessExitedException`` for a non-zero exit code or a signal."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(self.sentinels.keys(), timeout=timeout)
        error_index = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                error_index = index
                break
        if error_index is None:
            return not self.sentinels
        self._stop_others(grace_period)
        failed = self.processes[error_index]
        self._remove_error_files(keep=error_index)
        path = self.error_files[error_index]
        trace = ""
        if os.path.exists(path):
            with open(path) as f:
                trace = f.read()
            os.unlink(path)
        if not trace:
            code = failed.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(
                    f"process {error_index} terminated with signal {name}", error_index,
                    failed.pid, code, name)
            raise ProcessExitedException(
                f"process {error_index} terminated with exit code {code}", error_index,
                failed.pid, code)
        raise ProcessRaisedException(
            f"\n\n-- Process {error_index} terminated with the following error:\n{trace}",
            error_index, failed.pid)

    def _stop_others(self, grace_period: float | None) -> None:
        alive = [process for process in self.processes if process.is_alive()]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + (grace_period or 0)
        for process in alive:
            process.join(max(deadline - time.monotonic(), 0))
        for process in alive:
            if process.is_alive():
                process.kill()
            process.join()
        self.sentinels.clear()

    def _remove_error_files(self, keep: int) -> None:
        for index, path in enumerate(self.error_files):
            if index != keep and os.path.exists(path):
                os.unlink(path)


class SpawnContext(ProcessContext):
    """Mirrors the deprecated ``torch.multiprocessing.SpawnContext`` (``ProcessContext``)."""

    def __init__(self, processes: list, error_files: list) -> None:
        warnings.warn("SpawnContext is renamed to ProcessContext since 1.4 release.",
                      stacklevel=2)
        super().__init__(processes, error_files)


def start_processes(fn, args: tuple = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn"):
    """Mirrors ``torch.multiprocessing.start_processes``: starts ``nprocs`` processes with
    ``start_method`` ("spawn", "fork" or "forkserver"), process ``i`` calling
    ``fn(i, *args)``. With ``join`` it waits for all (raising the first failure, see
    ``ProcessContext.join``) and returns None, else it returns the ``ProcessContext``.
    ``daemon`` makes the processes daemonic."""
    context = multiprocessing.get_context(start_method)
    error_files, processes = [], []
    for i in range(nprocs):
        handle, path = tempfile.mkstemp(prefix="ember-spawn-")
        os.close(handle)
        os.unlink(path)  # the child creates it only when it fails
        process = context.Process(target=_wrap, args=(fn, i, args, path), daemon=daemon)
        process.start()
        error_files.append(path)
        processes.append(process)
    process_context = ProcessContext(processes, error_files)
    if not join:
        return process_context
    while not process_context.join():
        pass
    return None


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Mirrors ``torch.multiprocessing.spawn``: ``start_processes`` with the "spawn" start
    method (another one is used anyway, with torch's FutureWarning)."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t "
                      "torch.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
