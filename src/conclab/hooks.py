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

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Worker", "clock", "Span", "Event", "Observer", "NULL_OBSERVER", "Tee", "observing"]

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
    """

    def __init__(self, *observers: Observer | None) -> None:
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
