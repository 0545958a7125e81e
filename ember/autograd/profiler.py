"""``ember.autograd.profiler``: mirrors ``torch.autograd.profiler`` (the ``profile`` context
manager, ``record_function``) and the event classes of ``torch.autograd.profiler_util``
(``FunctionEvent``, ``FunctionEventAvg``, ``EventList`` with its ``table``).

Recording is a mode on the op path (NOTE [Op modes] in ``_ops/registry.py``): while a
profiler records, every op ``registry.run`` runs becomes one event named as torch names it
(``aten::addmm``), timed on the CPU, with its inputs' shapes; the backward engine adds one
``autograd::engine::evaluate_function: <Node>`` event and one ``<Node>`` event per node
it runs. With no profiler the op path pays nothing beyond its empty-modes test.

ember differs from torch in what it can time: only the CPU (no device, memory or FLOP
counts, no Python stacks), and the events are the ops ember really runs. Where torch
composes an op from internal ones (``aten::t`` from ``aten::transpose`` and
``aten::as_strided``), ember shows the one op it runs.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import threading
import time
from array import array

from ember._ops import registry
from ember._tensor import Tensor
from ember.autograd import engine

__all__ = ["profile", "record_function", "FunctionEvent", "FunctionEventAvg", "EventList"]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z][a-z])")
_ATEN_NAMES: dict = {}


def aten_name(name: str) -> str:
    """torch's profiler name of the op record called ``name``: ``aten::<name>``. A few
    records (pooling, padding, upsampling) carry their node's name, ``MaxPool2DWith
    IndicesBackward0``; their op is the node's name in snake case, ``max_pool2d_with_indices``."""
    full = _ATEN_NAMES.get(name)
    if full is None:
        op = name
        if op.endswith("Backward0"):
            op = _CAMEL.sub("_", op[:-len("Backward0")]).lower()
        full = _ATEN_NAMES[name] = "aten::" + op
    return full


def _shapes(args) -> tuple:
    # torch lists one entry per argument: a tensor's sizes, [] for anything else (tuples
    # while recording: NOTE [Profiler records]; made from a list, as a tuple of a generator
    # is resized, which counts as an allocation the collector never sees freed)
    return tuple([a._data.shape if isinstance(a, Tensor) else () for a in args])


class FunctionEvent:
    """Mirrors ``torch.autograd.profiler_util.FunctionEvent``: one timed op, node or
    ``record_function`` range. Times are microseconds; ``cpu_children`` are the events
    that ran inside it. ember keeps the CPU fields only."""

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float,
                 input_shapes: list | None = None, is_user_annotation: bool = False) -> None:
        self.id = id
        self.name = name
        self.thread = thread
        self.start_us = start_us
        self.end_us = end_us
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.is_user_annotation = is_user_annotation
        self.cpu_children: list = []
        self.cpu_parent = None
        self.count = 1

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} "
                f"cpu_time={_format_time(self.cpu_time)} start_us={self.start_us} "
                f"end_us={self.end_us} cpu_children={[c.id for c in self.cpu_children]} "
                f"thread={self.thread} input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """Mirrors ``torch.autograd.profiler_util.FunctionEventAvg``: the events of one key
    (name, and input shapes when grouped by them) added up."""

    def __init__(self) -> None:
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = None
        self.cpu_parent = None

    def add(self, other) -> FunctionEventAvg:
        """Add an event (or another average) into this one."""
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.cpu_parent = other.cpu_parent
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    def __iadd__(self, other) -> FunctionEventAvg:
        return self.add(other)

    @property
    def cpu_time(self) -> float:
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} "
                f"self_cpu_time={_format_time(self.self_cpu_time_total)} "
                f"cpu_time={_format_time(self.cpu_time)} "
                f"input_shapes={self.input_shapes if self.input_shapes is not None else ''}>")


class EventList(list):
    """Mirrors ``torch.autograd.profiler_util.EventList``: a list of events with
    ``table``, ``key_averages``, ``total_average`` and ``export_chrome_trace``."""

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes: bool = False) -> EventList:
        """One ``FunctionEventAvg`` per name (and per input shapes when
        ``group_by_input_shapes``), in order of first appearance."""
        averages: dict = {}
        for e in self:
            key = (e.key, str(e.input_shapes)) if group_by_input_shapes else e.key
            avg = averages.get(key)
            if avg is None:
                avg = averages[key] = FunctionEventAvg()
            avg.add(e)
            if not group_by_input_shapes:
                avg.input_shapes = None
        return EventList(averages.values())

    def total_average(self) -> FunctionEventAvg:
        """All events added into one average keyed ``Total``."""
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        total.input_shapes = []
        total.cpu_parent = None
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80,
              header: str | None = None, top_level_events_only: bool = False,
              time_unit: str | None = None) -> str:
        """torch's table of the events, string for string: rows sorted by the attribute
        ``sort_by`` (largest first), at most ``row_limit`` of them (all when negative),
        times in ``time_unit`` ("s", "ms", "us") or each in its own."""
        return _build_table(self, sort_by, row_limit, max_name_column_width,
                            max_shapes_column_width, header, top_level_events_only, time_unit)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (the JSON trace-event format that
        chrome://tracing and Perfetto read): one complete ("X") event per event."""
        _write_trace(self, path)

    def __str__(self) -> str:
        return self.table()


# ---- the table ---------------------------------------------------------------------------

_SCALES = {"s": 1e6, "ms": 1e3, "us": 1.0}


def _format_time(us: float, unit: str | None = None) -> str:
    if unit is None:
        unit = "s" if us >= 1e6 else "ms" if us >= 1e3 else "us"
    return f"{us / _SCALES[unit]:.3f}{unit}"


def _percent(part: float, total: float) -> str:
    return "NaN" if total == 0 else f"{part * 100.0 / total:.2f}%"


def _fit(text: str, width: int) -> str:
    return text[:width - 3] + "..." if len(text) >= width - 3 else text


def _build_table(events, sort_by, row_limit, max_name_width, max_shapes_width, header,
                 top_level_only, time_unit) -> str:
    if not events:
        return ""
    name_width = min(max(len(e.key) for e in events) + 4, max_name_width)
    with_shapes = any(e.input_shapes for e in events)
    columns = [("Name", name_width), ("Self CPU %", 12), ("Self CPU", 12),
               ("CPU total %", 12), ("CPU total", 12), ("CPU time avg", 12),
               ("# of Calls", 12)]
    if with_shapes:
        shapes_width = min(max(len(str(e.input_shapes)) for e in events) + 4,
                           max_shapes_width)
        columns.append(("Input Shapes", shapes_width))
    total = sum(e.self_cpu_time_total for e in events)

    rows = list(events)
    if sort_by is not None:
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    if top_level_only:
        rows = [e for e in rows if e.cpu_parent is None]
    if row_limit >= 0:
        rows = rows[:row_limit]

    def line(cells) -> str:
        return "".join(f"{cell:>{width}}  " for cell, (_, width) in zip(cells, columns))

    separator = "".join("-" * width + "  " for _, width in columns)
    out = []
    if header is not None:
        rule = "=" * (len(separator) - 2)
        out += [rule, header, rule]
    if top_level_only:
        out.append("This report only display top-level ops statistics")
    out += [separator, line([name for name, _ in columns]), separator]
    for e in rows:
        cells = [_fit(e.key, name_width),
                 _percent(e.self_cpu_time_total, total),
                 _format_time(e.self_cpu_time_total, time_unit),
                 _percent(e.cpu_time_total, total),
                 _format_time(e.cpu_time_total, time_unit),
                 _format_time(e.cpu_time, time_unit),
                 str(e.count)]
        if with_shapes:
            cells.append(str(e.input_shapes)[:columns[-1][1]])  # torch cuts shapes short
        out.append(line(cells))
    out.append(separator)
    out.append(f"Self CPU time total: {_format_time(total, time_unit)}")
    return "\n".join(out) + "\n"


# ---- the Chrome trace --------------------------------------------------------------------


def _write_trace(events, path: str) -> None:
    pid = os.getpid()
    origin = getattr(events, "_origin_us", 0.0)
    trace = []
    for tid in sorted({e.thread for e in events}):
        trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                      "args": {"name": f"thread {tid} (python)"}})
    trace.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                  "args": {"name": "python"}})
    for e in events:
        args = {"External id": e.id}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op",
                      "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": round(origin + e.start_us, 3),
                      "dur": round(e.cpu_time_total, 3), "args": args})
    with open(path, "w") as f:
        json.dump({"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": trace}, f)


# ---- recording ---------------------------------------------------------------------------

class _Track:
    """One thread's events while recording (NOTE [Profiler records]): the i-th event's id,
    name, start and end times, parent id, whether it is a user's range and its argument
    shapes; ``opened`` holds (id, index) of the events not yet closed, innermost last."""

    __slots__ = ("thread", "ids", "names", "starts", "ends", "parents", "users", "shapes",
                 "opened")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.opened: list = []
        self.clear()

    def clear(self) -> None:
        self.ids = array("q")
        self.names: list = []
        self.starts = array("d")
        self.ends = array("d")
        self.parents = array("q")
        self.users = array("b")
        self.shapes: list = []
        self.opened.clear()


class _Recorder(registry.OpMode):
    """The profiler's mode: one event per op, per backward node, per ``record_function``.

    NOTE [Profiler records]: while recording, the events go into typed arrays and lists of
    names and shape tuples, one set per thread (``_Track``), and equal shape tuples are kept
    once: recording adds no object that outlives the op, so it does not bring on garbage
    collections the program would not have had. The ``FunctionEvent`` objects, with their
    lists of children and of shapes, are made when the events are asked for. Made per event
    while recording, they brought 20 steps of a GPT block (which collect nothing unprofiled)
    to a full collection, 11-16 ms timed as part of whichever op it fell in.
    """

    def __init__(self, record_shapes: bool) -> None:
        self.record_shapes = record_shapes
        self.local = threading.local()
        self._ids = itertools.count(1)
        self._tracks: list = []
        self._shapes: dict = {}
        self.t0 = time.perf_counter_ns()
        # the wall clock at t0, so a trace's timestamps are absolute as torch's are
        self.origin_us = time.time_ns() / 1e3

    def _track(self) -> _Track:
        track = self.local.__dict__.get("track")
        if track is None:
            track = self.local.track = _Track()
            self._tracks.append(track)
        return track

    def open(self, name: str, shapes: tuple | None, user: bool = False) -> int:
        """Start an event of argument ``shapes`` (a tuple of tuples, or None); returns its
        id, for ``close``."""
        # equal shapes kept once: the new tuple is freed at once where one is kept
        shapes = self._shapes.setdefault(shapes, shapes) if self.record_shapes else None
        event = next(self._ids)
        track = self._track()
        opened = track.opened
        now = (time.perf_counter_ns() - self.t0) / 1e3
        track.parents.append(opened[-1][0] if opened else 0)
        opened.append((event, len(track.ids)))
        track.ids.append(event)
        track.names.append(name)
        track.starts.append(now)
        track.ends.append(now)
        track.users.append(user)
        track.shapes.append(shapes)
        return event

    def close(self, event: int) -> None:
        now = (time.perf_counter_ns() - self.t0) / 1e3
        track = self._track()
        opened = track.opened
        if opened and opened[-1][0] == event:
            track.ends[opened.pop()[1]] = now
            return
        for track in self._tracks:  # closed out of order, or on another thread
            for i, (open_event, index) in enumerate(track.opened):
                if open_event == event:
                    track.ends[index] = now
                    del track.opened[i]
                    return

    @property
    def events(self) -> EventList:
        """The events recorded so far, as ``FunctionEvent`` objects in the order they
        started, linked to their parents (an event still open ends where it started)."""
        rows = sorted((event, track, i) for track in self._tracks
                      for i, event in enumerate(track.ids))
        made = EventList()
        made._origin_us = self.origin_us
        by_id: dict = {}
        for event, track, i in rows:
            shapes = track.shapes[i]
            made_event = FunctionEvent(
                event, track.names[i], track.thread, track.starts[i], track.ends[i],
                None if shapes is None else [list(s) for s in shapes], bool(track.users[i]))
            above = by_id.get(track.parents[i])
            if above is not None:
                made_event.cpu_parent = above
                above.cpu_children.append(made_event)
            by_id[event] = made_event
            made.append(made_event)
        return made

    def clear(self) -> None:
        """Forget the events recorded so far, closed or not (a schedule's warm-up steps)."""
        for track in self._tracks:
            track.clear()

    def run_op(self, op, args):
        shapes = None
        if self.record_shapes:
            shapes = _shapes(args[:len(args) - op.layout_params] if op.layout_params else args)
        event = self.open(aten_name(op.name), shapes)
        try:
            return self.proceed(op, args)
        finally:
            self.close(event)

    def node_events(self, node, inputs) -> tuple:
        """The engine's two events around running ``node``: evaluate_function, then the
        node itself (closed by the engine in reverse order)."""
        name = node.name()
        outer = self.open("autograd::engine::evaluate_function: " + name, ())
        inner = self.open(name, tuple([g._data.shape if g is not None else () for g in inputs])
                          if self.record_shapes else None)
        return outer, inner

    def start(self) -> None:
        global _active
        if _active is not None:
            raise RuntimeError("Profiler is already enabled on this thread")
        _active = self
        registry.push_mode(self)
        engine.profiler = self

    def stop(self) -> None:
        global _active
        registry.pop_mode(self)
        engine.profiler = None
        _active = None
        now = (time.perf_counter_ns() - self.t0) / 1e3
        for track in self._tracks:  # left open by an exception
            for _, index in track.opened:
                track.ends[index] = now
            track.opened.clear()


_active: _Recorder | None = None


class record_function:
    """Mirrors ``torch.autograd.profiler.record_function`` (also ``torch.profiler.
    record_function``): a named range in the profile, as a context manager or a decorator;
    ``args`` is a string kept with the event. Does nothing while no profiler records."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._event = None
        self._recorder = None

    def __enter__(self) -> record_function:
        recorder = _active
        if recorder is not None:
            self._recorder = recorder
            self._event = recorder.open(self.name, (), user=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._event is not None:
            self._recorder.close(self._event)
            self._event = self._recorder = None

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return func(*args, **kwargs)
        return wrapper


class _Range:
    """An op's range opened by ember code rather than by ``run`` (``op_range``)."""

    __slots__ = ("recorder", "name", "shapes", "event")

    def __init__(self, recorder: _Recorder, name: str, shapes: tuple) -> None:
        self.recorder = recorder
        self.name = name
        self.shapes = shapes

    def __enter__(self) -> _Range:
        self.event = self.recorder.open(self.name, self.shapes)
        return self

    def __exit__(self, *exc) -> None:
        self.recorder.close(self.event)


_IDLE = contextlib.nullcontext()


def op_range(name: str, shapes: tuple):
    """A context manager timing ``name`` (torch's op name, ``aten::linear``) as an op of the
    profile, with argument ``shapes`` (one tuple per argument, as torch records them: a
    tensor's sizes, () for anything else; NOTE [Profiler records]), for
    work torch reports as one op and ember runs otherwise: a composition of op records
    (``F.linear``) or one step of an op's forward (the mean inside ``mse_loss``). Does
    nothing while no profiler records. Callers test ``registry._modes`` first, so the path
    without a profiler costs one truthiness test."""
    recorder = _active
    if recorder is None:
        return _IDLE
    return _Range(recorder, name, shapes)


class profile:
    """Mirrors ``torch.autograd.profiler.profile``, the CPU profiler: a context manager
    that records every op, backward node and ``record_function`` range run inside it.

    Arguments: ``enabled`` (False records nothing), ``record_shapes`` (keep each op's input
    shapes, for ``key_averages(group_by_input_shape=True)``), ``use_cpu`` (must be True:
    ember times the CPU only). Results: ``function_events``, ``key_averages()``,
    ``table()``, ``total_average()``, ``self_cpu_time_total``, ``export_chrome_trace``.
    """

    def __init__(self, enabled: bool = True, *, record_shapes: bool = False,
                 use_cpu: bool = True) -> None:
        if not use_cpu:
            raise AssertionError("Legacy CPU-only profiling is not supported; "
                                 "use_cpu must be True")
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.function_events = None
        self._recorder = None

    def __enter__(self) -> profile:
        if self.enabled:
            self._recorder = _Recorder(self.record_shapes)
            self._recorder.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._recorder is not None:
            self._recorder.stop()
            self.function_events = self._recorder.events
            self._recorder = None

    def _events(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """The events averaged per name (and input shapes); see ``EventList.key_averages``."""
        return self._events().key_averages(group_by_input_shape)

    def table(self, sort_by: str | None = None, row_limit: int = 100, **kwargs) -> str:
        """``function_events.table(...)``."""
        return self._events().table(sort_by, row_limit, **kwargs)

    def total_average(self) -> FunctionEventAvg:
        return self._events().total_average()

    @property
    def self_cpu_time_total(self) -> float:
        return self._events().self_cpu_time_total

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (chrome://tracing, Perfetto)."""
        self._events().export_chrome_trace(path)

    def __str__(self) -> str:
        return str(self._events())
