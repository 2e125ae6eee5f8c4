"""A recorder of who ran when, and of messages between workers, for timelines and checks.

A ``Trace`` is an observer (``conclab.hooks.Observer``): work reports measured spans to it
("run" while a worker was really executing Python code, "wait" while it was descheduled,
sleeping or blocked) and point events ("send", "receive") between a sender and a receiver.
All times are on one clock, ``conclab.hooks.clock()`` (``time.perf_counter``), which every
thread and every child process on the machine share; spans from children arrive through
``workloads.Relay``. The trace only records: it never starts, stops or slows anything.

How "run" is observed (in ``conclab.workloads``): CPU work runs in slices of ~25 us and reads
the clock after each slice; a gap much longer than a slice means the worker was not running,
and becomes a "wait" span between two "run" spans. The run spans are therefore always inside
the time the worker really ran (to within one slice), which is what lets a test check that
two threads under the GIL never run at once. ``watch_tasks()`` observes any coroutine, not
only the package's own work, through the interpreter's profiling hook: a "run" span for each
step of each task of one event loop, from resume to suspend.

Recording is cheap: one lock and one append per span. ``spans`` returns a sorted copy, so a
trace can be read (and drawn) while the run that fills it is still going.
"""

from __future__ import annotations

import dis
import json
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from conclab.hooks import Event, Observer, Span, clock as shared_clock

__all__ = ["Span", "Event", "Trace", "watch_tasks", "merge_intervals"]

_FORMAT = "conclab.trace/1"
_YIELD_VALUE = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap.get("RESUME")  # 3.11+


class Trace:
    """Collects spans and events from any number of threads; read it while it fills.

    Pass it as the ``observer`` of ``conclab.workloads`` functions or of ``run()``; both hooks
    are thread-safe. Readers (``spans``, ``busy_time``...) take a snapshot under the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []
        self._events: list[Event] = []
        self._workers: dict[str, None] = {}  # insertion-ordered set: order of first appearance

    # -- the Observer hooks ----------------------------------------------------------------

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        """Record that ``worker`` was in ``state`` from ``start`` to ``end``."""
        record = Span(worker, state, start, end, label)
        with self._lock:
            self._spans.append(record)
            self._workers.setdefault(worker)

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        """Record a message event ("send" or "receive") at ``time``."""
        record = Event(kind, time, sender, receiver, label)
        with self._lock:
            self._events.append(record)
            self._workers.setdefault(sender)
            self._workers.setdefault(receiver)

    # -- reading ---------------------------------------------------------------------------

    @property
    def spans(self) -> list[Span]:
        """A copy of every span, sorted by start time."""
        with self._lock:
            spans = list(self._spans)
        return sorted(spans, key=lambda s: (s.start, s.end))

    @property
    def events(self) -> list[Event]:
        """A copy of every event, sorted by time."""
        with self._lock:
            events = list(self._events)
        return sorted(events, key=lambda e: e.time)

    @property
    def workers(self) -> list[str]:
        """Worker names in the order they first appeared."""
        with self._lock:
            return list(self._workers)

    @property
    def start(self) -> float | None:
        """The earliest time recorded, or None for an empty trace."""
        with self._lock:
            return min([s.start for s in self._spans] + [e.time for e in self._events],
                       default=None)

    @property
    def end(self) -> float | None:
        """The latest time recorded, or None for an empty trace."""
        with self._lock:
            return max([s.end for s in self._spans] + [e.time for e in self._events],
                       default=None)

    def runs(self, worker: str | None = None) -> list[Span]:
        """The "run" spans (of one worker, or of all), sorted by start."""
        return [s for s in self.spans if s.state == "run" and worker in (None, s.worker)]

    def busy_time(self, worker: str) -> float:
        """Seconds ``worker`` spent in "run" spans."""
        return _length(merge_intervals([(s.start, s.end) for s in self.runs(worker)]))

    def overlap(self, a: str, b: str) -> float:
        """Seconds during which workers ``a`` and ``b`` were both in "run" spans."""
        first = merge_intervals([(s.start, s.end) for s in self.runs(a)])
        second = merge_intervals([(s.start, s.end) for s in self.runs(b)])
        total, i, j = 0.0, 0, 0
        while i < len(first) and j < len(second):
            lo = max(first[i][0], second[j][0])
            hi = min(first[i][1], second[j][1])
            total += max(0.0, hi - lo)
            if first[i][1] < second[j][1]:
                i += 1
            else:
                j += 1
        return total

    def turns(self) -> list[Span]:
        """The "run" spans with each worker's consecutive runs merged: one span per turn.

        A turn ends when another worker's run starts; gaps inside a turn are the OS (not the
        GIL or the loop) taking the worker off its core. Under the GIL a turn lasts about
        ``sys.getswitchinterval()``; in one event loop, from one ``await`` to the next.
        """
        merged: list[Span] = []
        for s in self.runs():
            if merged and merged[-1].worker == s.worker:
                merged[-1] = Span(s.worker, "run", merged[-1].start, max(merged[-1].end, s.end),
                                  merged[-1].label)
            else:
                merged.append(s)
        return merged

    def handovers(self, worker: str | None = None) -> int:
        """How often the running worker changed: consecutive "run" spans of different workers.

        With ``worker``, count only the hand-overs *to* that worker (it got the CPU, the GIL
        or the loop back from someone else). Meaningful when runs do not overlap (threads
        under the GIL, coroutines in one loop).
        """
        runs = self.runs()
        return sum(1 for prev, cur in zip(runs, runs[1:])
                   if cur.worker != prev.worker and worker in (None, cur.worker))

    def __len__(self) -> int:
        with self._lock:
            return len(self._spans) + len(self._events)

    def __repr__(self) -> str:
        with self._lock:
            n_spans, n_events, n_workers = len(self._spans), len(self._events), len(self._workers)
        start, end = self.start, self.end
        width = "" if start is None or end is None else f", {(end - start) * 1e3:.1f} ms"
        return f"<Trace {n_workers} workers, {n_spans} spans, {n_events} events{width}>"

    # -- saving ----------------------------------------------------------------------------

    def to_json(self) -> str:
        """The trace as JSON text (compact rows), to save or to send elsewhere."""
        return json.dumps({
            "format": _FORMAT,
            "workers": self.workers,
            "spans": [[s.worker, s.state, s.start, s.end, s.label] for s in self.spans],
            "events": [[e.kind, e.time, e.sender, e.receiver, e.label] for e in self.events],
        })

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Rebuild a trace from ``to_json()`` output."""
        todo = "pass text that Trace.to_json() wrote"
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not JSON ({exc}): {todo}") from None
        if not isinstance(data, dict):
            raise ValueError(f"a conclab trace is a JSON object, not {text[:40]!r} "
                             f"(a {type(data).__name__}): {todo}")
        if data.get("format") != _FORMAT:
            raise ValueError(f"not a conclab trace (format {data.get('format')!r}): {todo}")
        if not isinstance(data.get("spans"), list) or not isinstance(data.get("events"), list):
            raise ValueError(f"a conclab trace has lists of 'spans' and 'events'; this one "
                             f"has {sorted(data)}: {todo}")
        trace = cls()
        for worker in data.get("workers", []):
            trace._workers.setdefault(worker)
        for row in data["spans"]:
            trace.span(*row)
        for row in data["events"]:
            trace.event(*row)
        return trace


def merge_intervals(intervals: list[tuple[float, float]], *,
                    gap: float = 0.0) -> list[tuple[float, float]]:
    """Sorted, non-overlapping union of intervals; those less than ``gap`` apart are joined."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _length(intervals: list[tuple[float, float]]) -> float:
    """Total length of non-overlapping intervals."""
    return sum(hi - lo for lo, hi in intervals)


@contextmanager
def watch_tasks(observer: Observer, *, only: Collection[str] | Callable[[Any], bool] | None = None,
                clock: Callable[[], float] = shared_clock) -> Iterator[None]:
    """Record a "run" span for every step of the asyncio tasks run by this thread's loop.

    It uses the interpreter's profiling hook (``sys.setprofile``), so it sees any coroutine,
    not only the package's work: when a task's outermost coroutine frame is entered (the
    task is resumed) and when it is left (the task suspends at an ``await`` or finishes).
    Each span is labelled with the line of the ``await`` where the task suspended, or
    ``"return"``. Use it inside a coroutine, around the code whose tasks you want to watch;
    it slows every Python call in this thread while it is on.

    The loop runs whatever tasks are ready, not only yours: in a notebook that JupyterLab
    drives, the kernel's own tasks (named ``Task-118``...) handle messages from the front end
    between your tasks' steps. ``only`` records just the tasks you ask about; without it you
    see everything that shared the loop, which is a lesson in itself.

    Args:
        observer: receives ``span(task_name, "run", resumed, suspended, label)``.
        only: record only these tasks: a collection of task names, or a predicate that
            takes the ``asyncio.Task``; None records every task.
        clock: the clock to read (the shared one by default).
    """
    import asyncio

    resumed: dict[int, float] = {}
    if only is None or callable(only):
        wanted: Callable[[Any], bool] = only or (lambda task: True)
    else:
        names = frozenset(only)
        if isinstance(only, str):
            raise TypeError(f"only must be a collection of task names, not the string {only!r}; "
                            f"write only={{{only!r}}}")

        def wanted(task: Any) -> bool:
            return task.get_name() in names

    previous = sys.getprofile()

    def hook(frame: FrameType, what: str, arg: object) -> None:
        if previous is not None:  # an outer watch_tasks (or profiler) keeps seeing calls
            previous(frame, what, arg)
        if what not in ("call", "return"):
            return
        task = asyncio.current_task()
        if task is None or getattr(task.get_coro(), "cr_frame", None) is not frame:
            return
        if not wanted(task):
            return
        if what == "call":
            resumed[id(task)] = clock()
        elif id(task) in resumed:
            label = f"await line {frame.f_lineno}" if _at_await(frame) else "return"
            observer.span(task.get_name(), "run", resumed.pop(id(task)), clock(), label)

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def _at_await(frame: FrameType) -> bool:
    """True if a frame that is being left is suspending at an ``await`` (not finishing)."""
    # A suspension leaves the frame on its YIELD_VALUE up to 3.12; from 3.13 ``f_lasti``
    # already points at the RESUME that follows it (2 bytes on). A finish is on a RETURN.
    code, i = frame.f_code.co_code, frame.f_lasti
    if not 0 <= i < len(code):
        return False
    return code[i] == _YIELD_VALUE or (code[i] == _RESUME and i >= 2
                                       and code[i - 2] == _YIELD_VALUE)
