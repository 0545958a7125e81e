"""``ember.profiler``: mirrors ``torch.profiler`` on the CPU — ``profile`` (with
``schedule``, ``step`` and ``on_trace_ready``), ``record_function``, ``ProfilerActivity``
and ``ProfilerAction``.

The recording itself is ``ember.autograd.profiler``'s (one event per op, per backward
node, per ``record_function`` range). ember differs from torch in timing the CPU only:
``ProfilerActivity.CPU`` is the one activity; there are no memory, FLOP or stack
records, and no TensorBoard trace handler (``export_chrome_trace`` writes the trace).
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from ember.autograd.profiler import EventList, _Recorder, record_function

__all__ = ["profile", "record_function", "schedule", "ProfilerAction", "ProfilerActivity",
           "supported_activities"]


class ProfilerActivity(enum.Enum):
    """Mirrors ``torch.profiler.ProfilerActivity``; ember records ``CPU`` only."""

    CPU = 0

    def __repr__(self) -> str:
        return f"<ProfilerActivity.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"ProfilerActivity.{self.name}"


class ProfilerAction(enum.Enum):
    """Mirrors ``torch.profiler.ProfilerAction``: what the profiler does during a step."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set:
    """Mirrors ``torch.profiler.supported_activities``: ``{ProfilerActivity.CPU}``."""
    return {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable:
    """Mirrors ``torch.profiler.schedule``: the action for each step number. After
    ``skip_first`` steps, cycles of ``wait`` idle, ``warmup`` and ``active`` recording
    steps (the last saves), ``repeat`` times (0: forever); ``skip_first_wait`` skips the
    first cycle's wait."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")
    if warmup == 0:
        import warnings

        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


class profile:
    """Mirrors ``torch.profiler.profile`` on the CPU: records every op and backward node run
    inside it (see ``ember.autograd.profiler``).

    Arguments: ``activities`` (``ProfilerActivity.CPU`` only), ``schedule`` (a function of
    the step number, e.g. ``schedule(...)``; by default every step records),
    ``on_trace_ready`` (called with the profiler when a recording cycle ends),
    ``record_shapes``, ``acc_events`` (keep the events of every cycle, not only the last).
    Call ``step()`` at the end of each step when using a schedule; a scheduled profiler
    adds one ``ProfilerStep*`` range per recorded step, as torch does.
    """

    def __init__(self, *, activities: Iterable | None = None, schedule: Callable | None = None,
                 on_trace_ready: Callable | None = None, record_shapes: bool = False,
                 acc_events: bool = False) -> None:
        activities = set(activities) if activities is not None else supported_activities()
        unsupported = activities - supported_activities()
        if unsupported:
            raise ValueError(f"ember's profiler records CPU activity only, not {unsupported}")
        self.activities = activities
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else _always_record
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._recorder = None
        self._step_event = None
        self._events = EventList()

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """Begin profiling (the step-0 action of the schedule)."""
        self._enter_action(self.current_action)

    def stop(self) -> None:
        """End profiling; a recording cycle still open is handed to ``on_trace_ready``."""
        self._leave_action(self.current_action, None)

    def step(self) -> None:
        """Mark the end of a step: move on to the schedule's next action."""
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._leave_action(previous, self.current_action)
        self._enter_action(self.current_action)

    def _enter_action(self, action: ProfilerAction) -> None:
        if action is ProfilerAction.NONE:
            return
        if self._recorder is None:
            self._recorder = _Recorder(self.record_shapes)
            self._recorder.start()
        if action in _RECORDING and self.record_steps:
            self._step_event = self._recorder.open("ProfilerStep*", (), user=True)

    def _leave_action(self, action: ProfilerAction, following) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        if self._step_event is not None:
            recorder.close(self._step_event)
            self._step_event = None
        if action is ProfilerAction.WARMUP:
            if following not in _RECORDING:
                self._drop()
            else:  # warm-up steps are not reported
                recorder.clear()
            return
        if action is ProfilerAction.RECORD and following in _RECORDING:
            return
        self._drop()
        if self.acc_events:
            self._events.extend(recorder.events)
        else:
            self._events = recorder.events
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _drop(self) -> None:
        self._recorder.stop()
        self._recorder = None

    def events(self) -> EventList:
        """The events of the last finished recording cycle (all cycles with
        ``acc_events``)."""
        return self._events

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """The events averaged per name (and per input shapes when
        ``group_by_input_shape``), for ``.table(...)``."""
        return self._events.key_averages(group_by_input_shape)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (chrome://tracing, Perfetto)."""
        self._events.export_chrome_trace(path)
