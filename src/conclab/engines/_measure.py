"""Round trips, timed: through any engine, and through the course's own ProcessQueue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conclab.actors import Actor
from conclab.hooks import clock

__all__ = ["round_trips", "queue_echo", "EchoActor"]


def round_trips(ask: Callable[[], object], n: int = 100, *, warmup: int = 3) -> list[float]:
    """Seconds each of ``n`` calls of ``ask`` took (after ``warmup`` untimed ones), in order.

    ``ask`` makes one round trip (send, then wait for the answer); it must bound its own wait.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n!r}")
    for _ in range(warmup):
        ask()
    times = []
    for _ in range(n):
        start = clock()
        ask()
        times.append(clock() - start)
    return times


def queue_echo(inbox: Any, outbox: Any) -> None:
    """Put every item got from ``inbox`` on ``outbox`` until ``inbox`` is shut down.

    The course's own round trip between processes: two ``conclab.queues.ProcessQueue``s.
    """
    for item in inbox:
        outbox.put(item)




class EchoActor(Actor):
    """An actor that answers each message with the message itself: the course's own ask, timed.

    Spawned on the process backend (``conclab.actors.spawn(EchoActor, backend="process")``),
    one ``ask`` is a round trip between two processes through the course's actor machinery.
    """

    def on_receive(self, message: Any) -> Any:
        """Return ``message`` unchanged (in the actor's own thread or process)."""
        return message
