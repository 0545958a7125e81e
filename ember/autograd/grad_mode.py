"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each mirrors its torch namesake: a context manager that also works as a decorator. The
state is thread-local, as in torch: a ``no_grad`` block in one thread does not change
recording in another.
"""
from __future__ import annotations

import functools
import inspect
import threading


class _State(threading.local):
    # Class attributes are the per-thread defaults; the op runner reads ``enabled`` on every op.
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    """Mirrors ``torch.is_grad_enabled``."""
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """Mirrors ``torch.is_inference_mode_enabled``."""
    return state.inference


class _Mode:
    """A context manager that is also a decorator, like torch's ``_DecoratorContextManager``."""

    def __call__(self, func):
        if inspect.isclass(func):
            raise RuntimeError(f"{type(self).__name__} cannot decorate a class")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                try:  # the generator's end (its StopIteration) is the wrapper's return
                    with self.clone():
                        response = gen.send(None)
                    while True:
                        try:
                            request = yield response
                        except GeneratorExit:
                            with self.clone():
                                gen.close()
                            raise
                        except BaseException as exc:
                            with self.clone():
                                response = gen.throw(exc)
                        else:
                            with self.clone():
                                response = gen.send(request)
                except StopIteration as stop:
                    return stop.value
            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_Mode):
    """Mirrors ``torch.no_grad``: ops inside record no graph."""

    def __init__(self) -> None:
        self.prev = False

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, *exc) -> None:
        state.enabled = self.prev


class enable_grad(_Mode):
    """Mirrors ``torch.enable_grad``: turns recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        self.prev = False

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, *exc) -> None:
        state.enabled = self.prev


class set_grad_enabled(_Mode):
    """Mirrors ``torch.set_grad_enabled``: sets the mode at once; as a context manager or
    decorator it restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        state.enabled = self.prev

    def __call__(self, func):
        state.enabled = self.prev  # decorating must not leave the mode changed
        return super().__call__(func)

    def clone(self):
        return type(self)(self.mode)


_multithreading = [True]


def is_multithreading_enabled() -> bool:
    """Mirrors ``torch.autograd.is_multithreading_enabled``: whether backward may use a
    thread per device (torch's engine on several devices). A CPU's backward runs on the
    calling thread either way, in torch's CPU build as in ember."""
    return _multithreading[0]


class set_multithreading_enabled(_Mode):
    """Mirrors ``torch.autograd.set_multithreading_enabled``: sets the flag at once; as a
    context manager it restores the previous flag on exit (as a decorator, as torch's, it
    leaves the flag set)."""

    def __init__(self, mode: bool) -> None:
        self.prev = _multithreading[0]
        self.mode = bool(mode)
        _multithreading[0] = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _multithreading[0] = self.prev

    def clone(self):
        return type(self)(self.mode)


class inference_mode(_Mode):
    """Mirrors ``torch.inference_mode``. ember has no separate inference tensors, so inside
    it behaves like ``no_grad`` and ``is_inference_mode_enabled()`` reports True."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self.prev = (True, False)

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        # Used bare as a decorator: @inference_mode
        return cls()(mode)

    def __enter__(self) -> None:
        self.prev = (state.enabled, state.inference)
        if self.mode:
            from ember._runtime import inference_region_entered

            inference_region_entered()
        state.enabled, state.inference = (False, True) if self.mode else (True, False)

    def __exit__(self, *exc) -> None:
        state.enabled, state.inference = self.prev
        if self.mode:
            from ember._runtime import inference_region_exited

            inference_region_exited()

    def clone(self):
        return type(self)(self.mode)
