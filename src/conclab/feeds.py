"""The publishers and subscribers of chapter 07, where child processes can import them.

A process actor's class, and a function a child process runs, must be importable by the child
(under spawn and forkserver it imports them by name; a notebook cell cannot be imported), so
they live here:

- ``Recorder``: an actor that keeps the topic and payload of each ``Message`` it receives and
  answers ``ask("seen")`` with them; it can be made slow (``delay``) or fragile (``fail_on``: a
  payload that makes it raise, which stops an actor that was told it).
- ``sensor``: a child process's whole program: it publishes readings through a
  ``pubsub.Inlet``, as its process's name.
- ``Stalling``: a ``queue.Queue`` whose put of one chosen payload waits until released: a
  subscriber that hangs on one message, to show what two publishers' messages do meanwhile.
- ``NewsFeed``: numbered items kept in a history and published on a gateway, whose ``read()``
  lets the feed go on publishing while the history is read: the race a reconnecting subscriber
  must survive, made to happen every time.

Nothing here imports anything heavier than the package's communication floor.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from conclab.actors import Actor
from conclab.pubsub import Gateway, Inlet, Message

__all__ = ["Recorder", "sensor", "Stalling", "NewsFeed", "SEEN"]

SEEN = "seen"
"""The question a ``Recorder`` answers with what it has received."""
_NOTHING = object()


class Recorder(Actor):
    """Keeps ``(topic, payload)`` of each ``Message`` it receives; ``ask("seen")`` answers them.

    Args:
        delay: seconds it sleeps before keeping each message (a slow subscriber).
        fail_on: a payload that makes it raise ``RuntimeError`` instead (a fragile one).
    """

    def __init__(self, delay: float = 0.0, fail_on: Any = _NOTHING) -> None:
        self.delay, self.fail_on = delay, fail_on
        self.seen: list[tuple[str, Any]] = []

    def on_receive(self, message: Any) -> Any:
        """Keep a ``Message`` (after ``delay``), or answer ``"seen"`` with what was kept."""
        if isinstance(message, str) and message == SEEN:
            return list(self.seen)
        if not isinstance(message, Message):
            raise TypeError(f"a Recorder takes gateway Messages and 'seen', not {message!r}")
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on is not _NOTHING and message.payload == self.fail_on:
            raise RuntimeError(f"cannot handle {message.payload!r}")
        self.seen.append((message.topic, message.payload))
        return None


def sensor(inlet: Inlet, topic: str, count: int, timeout: float = 10.0) -> None:
    """A child process's program: publish readings ``0 .. count-1`` on ``topic`` via ``inlet``.

    Each ``Publish`` is named after this process (its ``name``), so a timeline shows the
    process as the publisher.
    """
    for reading in range(count):
        inlet.publish(topic, reading, timeout=timeout)


class Stalling(queue.Queue):  # type: ignore[type-arg]
    """A queue whose ``put`` of a ``Message`` carrying ``payload`` waits until ``release()``.

    ``stalled`` is set when that put has begun waiting, so a test or a cell can act while the
    publisher that made it is held there, between two of its deliveries.

    Args:
        payload: the payload whose put stalls (once).
        timeout: the most seconds a put stalls before it gives up the wait and goes in.
    """

    def __init__(self, payload: Any, timeout: float = 10.0) -> None:
        super().__init__()
        self.payload, self.timeout = payload, timeout
        self.stalled, self._released = threading.Event(), threading.Event()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item``; a message carrying the chosen payload first waits for ``release``."""
        if isinstance(item, Message) and item.payload == self.payload \
                and not self.stalled.is_set():
            self.stalled.set()
            self._released.wait(self.timeout)
        super().put(item, block, timeout)

    def release(self) -> None:
        """Let the stalled put go in."""
        self._released.set()

    def items(self) -> list[Any]:
        """The payloads of the messages in the queue, oldest first, taken out."""
        taken = []
        while True:
            try:
                taken.append(self.get_nowait().payload)
            except queue.Empty:
                return taken


class NewsFeed:
    """A news feed: numbered ``(seq, text)`` items, each added to a history, then published.

    ``read()`` returns a copy of the history as a reader of a live feed meets it: while the copy
    is taken, the feed goes on. Any item added with ``hold=True`` (in the history, not yet
    published) is published, then ``during_read`` new items are added and published. So a
    subscriber that reads the history before it subscribes misses items, every time, and one
    that subscribes first gets the held items twice, once from each side.

    Args:
        gateway: where the items are published.
        topic: the topic they are published on.
        during_read: how many new items each ``read()`` lets through.
    """

    def __init__(self, gateway: Gateway, topic: str = "news", during_read: int = 6) -> None:
        self.gateway, self.topic, self.during_read = gateway, topic, during_read
        self.items: list[tuple[int, str]] = []
        self._held: list[tuple[int, str]] = []

    def publish_next(self, *, hold: bool = False) -> tuple[int, str]:
        """Add the next item to the history, then publish it (unless ``hold``); return it."""
        item = (len(self.items), f"news {len(self.items)}")
        self.items.append(item)
        if hold:
            self._held.append(item)
        else:
            self.gateway.publish(self.topic, item)
        return item

    def read(self) -> list[tuple[int, str]]:
        """A copy of the history; meanwhile the held items and ``during_read`` new ones go out."""
        snapshot = list(self.items)
        held, self._held = self._held, []
        for item in held:
            self.gateway.publish(self.topic, item)
        for _ in range(self.during_read):
            self.publish_next()
        return snapshot
