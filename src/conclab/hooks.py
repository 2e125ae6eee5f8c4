"""The bottom floor of the package: one clock, and the hooks through which everything reports.

Every layer above reports what happened through the same narrow interface, in the style of
trio's instruments: work reports when it ran and when it waited, queues, actors, the gateway
and the teaching scheduler report each message they carry, and a recorder (``conclab.trace``,
one floor up) or a live picture (``conclab.plots``) fills the hooks in. Design, in a few
sentences:

1. One clock for everyone. ``time.perf_counter`` is system-wide on Linux, macOS and Windows,
   so times taken in child processes line up with the parent's without any translation.
2. Two hooks, no more. ``span(worker, state, start, end, label)`` says that a worker was in a
   state ("run", "wait") for a stretch of time; ``event(kind, time, sender, receiver, label)``
   marks a moment: a message sent ("send") or received ("receive"), a task spawned
   ("spawn") or ended ("exit"), an item published ("publish"). New kinds of report are new
   ``kind`` or ``state`` strings, never a second protocol.
3. Reporting costs nothing when nobody observes: code holds ``None`` or ``NULL_OBSERVER`` and
   tests ``observing(observer)`` once, not on every call.
4. Observers may be called from any thread (and, through ``workloads.Relay``, from the thread
   that drains child processes), so an implementation must be thread-safe and quick.

This module imports only the standard library and knows nothing above it.
"""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Worker", "clock", "Span", "Event", "Observer", "NULL_OBSERVER", "Tee", "observing",
           "as_worker", "worker_name"]

Worker = str
"""The name a worker reports under: ``"thread-0"``, ``"process-1"``, a task's or actor's name."""

clock = time.perf_counter
"""Seconds on the one clock all workers share, child processes included."""


@dataclass(frozen=True, slots=True)
class Span:
    """One stretch of time in which ``worker`` was in ``state`` ("run" or "wait").

    ``start`` and ``end`` are seconds on ``clock()``; ``label`` says what the worker was doing
    (``"cpu"``, ``"io"``, ``"await line 12"``...). It is what ``Observer.span`` reports, as a
    record.
    """

    worker: Worker
    state: str
    start: float
    end: float
    label: str = ""

    @property
    def duration(self) -> float:
        """Length of the span in seconds."""
        return self.end - self.start

    def overlap(self, other: Span) -> float:
        """Seconds during which both spans were under way (0.0 if one ended first)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))


@dataclass(frozen=True, slots=True)
class Event:
    """One moment: a message that left (``"send"``) or arrived (``"receive"``), or a life event.

    It is what ``Observer.event`` reports, as a record. A message is drawn as the arrow from a
    send to the receive with the same sender, receiver and label.
    """

    kind: str
    time: float
    sender: Worker
    receiver: Worker
    label: str = ""


class Observer(Protocol):
    """The hooks that work, queues, actors and schedulers report to.

    ``conclab.trace.Trace`` records them; ``conclab.plots.SvgTimeline`` draws them live; ``Tee``
    hands them to several observers at once.
    """

    def span(self, worker: Worker, state: str, start: float, end: float,
             label: str = "") -> None:
        """``worker`` was in ``state`` ("run", "wait") from ``start`` to ``end`` (``clock()``)."""

    def event(self, kind: str, time: float, sender: Worker, receiver: Worker,
              label: str = "") -> None:
        """A moment at ``time``: a message ("send", "receive") or a life event ("spawn", "exit")."""


class _NullObserver:
    """An observer that ignores everything."""

    def span(self, worker: Worker, state: str, start: float, end: float,
             label: str = "") -> None:
        """Ignore a span."""

    def event(self, kind: str, time: float, sender: Worker, receiver: Worker,
              label: str = "") -> None:
        """Ignore an event."""

    def __repr__(self) -> str:
        return "NULL_OBSERVER"


NULL_OBSERVER: Observer = _NullObserver()


def observing(observer: Observer | None) -> bool:
    """True when ``observer`` is a real observer (not None, not ``NULL_OBSERVER``)."""
    return observer is not None and observer is not NULL_OBSERVER


class Tee:
    """An observer that hands every span and event to several others, in order.

    Args:
        observers: the observers to feed; ``None`` and ``NULL_OBSERVER`` are dropped.

    Raises:
        TypeError: for anything without ``span`` and ``event`` methods, or for an observer
            class where an instance belongs (``Tee(Trace)``).
    """

    def __init__(self, *observers: Observer | None) -> None:
        for o in observers:
            if isinstance(o, type):  # its methods exist, but unbound: they fail at the first span
                raise TypeError(f"Tee() takes observer objects, not the class {o.__name__}: "
                                f"write Tee({o.__name__}()), or pass one you already made")
            if o is not None and not (callable(getattr(o, "span", None))
                                      and callable(getattr(o, "event", None))):
                raise TypeError(f"Tee() takes observers, objects with span() and event() "
                                f"methods (a Trace, an SvgTimeline), not {o!r}")
        self.observers: tuple[Observer, ...] = tuple(o for o in observers if observing(o))

    def span(self, worker: Worker, state: str, start: float, end: float,
             label: str = "") -> None:
        """Forward a span to each observer."""
        for o in self.observers:
            o.span(worker, state, start, end, label)

    def event(self, kind: str, time: float, sender: Worker, receiver: Worker,
              label: str = "") -> None:
        """Forward an event to each observer."""
        for o in self.observers:
            o.event(kind, time, sender, receiver, label)

    def __iter__(self) -> Iterator[Observer]:
        return iter(self.observers)

    def __repr__(self) -> str:
        return f"Tee({', '.join(map(repr, self.observers))})"


# --- who is reporting ------------------------------------------------------------------

_WORKER: contextvars.ContextVar[Worker | None] = contextvars.ContextVar("conclab_worker",
                                                                       default=None)


@contextmanager
def as_worker(name: Worker) -> Iterator[Worker]:
    """Report what the current thread or task does under ``name`` (queues, actors, gateways).

    Observed queues name who put and who got each item, gateways who published. By default that is the running asyncio
    task's name, else the thread's name (in a child process's main thread, the process's
    name). Inside ``with as_worker("producer"):`` it is ``"producer"``: the name lives in a
    context variable, so it covers the current thread, or only the current task.

    Args:
        name: the lane name to report, as the ``worker`` of spans elsewhere in the course.
    """
    if not isinstance(name, str):
        raise TypeError(f"a worker name must be a str, not {type(name).__name__}; "
                        f"pass the lane name the timeline should show")
    token = _WORKER.set(name)
    try:
        yield name
    finally:
        _WORKER.reset(token)


def worker_name() -> Worker:
    """The caller's name: ``as_worker``'s, else its task's, thread's or child process's."""
    name = _WORKER.get()
    if name is not None:
        return name
    loop = asyncio._get_running_loop()  # None outside a loop, unlike get_running_loop()
    if loop is not None:
        task = asyncio.current_task(loop)
        if task is not None:
            return task.get_name()
    thread = threading.current_thread()
    if thread is threading.main_thread() and multiprocessing.parent_process() is not None:
        return multiprocessing.current_process().name
    return thread.name
