"""A gateway that routes messages by topic and broadcasts them: publish/subscribe.

Publishers and subscribers never know each other: a publisher hands the gateway a topic and a
payload, the gateway hands a ``Message`` to every subscriber whose pattern matches. The design,
in a few sentences:

1. **Topics** are dotted names (``"sensor.kitchen.temp"``). A pattern matches level by level:
   ``*`` is exactly one level, ``#`` (as the last level) zero or more: ``"sensor.*"`` matches
   ``"sensor.kitchen"``, ``"sensor.#"`` matches ``"sensor"`` and ``"sensor.kitchen.temp"``.
2. A **subscriber** is an actor ref (anything with ``tell``), a queue face (anything with
   ``put``; a ``BridgeQueue``'s ``async_q`` is fed through its ``sync_q``, which a coroutine
   then awaits), or a callable. Actors and queues are enqueued into; a callable never runs in
   the publisher's thread: it gets a bounded inbox and a worker thread the gateway owns, so a
   slow or raising callable hurts only itself.
3. The **full-subscriber policy** is per subscription: ``"block"`` waits at most ``timeout``
   seconds for room, ``"drop"`` gives up at once; both count what they drop. A publish never
   waits longer than the longest timeout among the subscriptions it reaches: its deliveries
   share one deadline.
4. A subscriber that **raises** is counted and the publish goes on to the others; a **dead**
   actor or a shut-down queue is unsubscribed and counted. Subscribers are held by strong
   references: none vanishes unless it is unsubscribed, dies, or the gateway closes.
5. ``apublish`` is the same publish for coroutines: it runs on a thread the gateway owns, so it
   never blocks the event loop. Processes publish through an actor that holds the gateway.
6. Everything goes to the package's one ``Observer``: a "publish" event from the publisher to
   the gateway, and a "send"/"receive" pair from the gateway to each subscriber it reached,
   so the fan-out draws as arrows on the timeline.

The module is a little over 300 lines: a subscription's three kinds of delivery, its counts
and the gateway that fans out to them are one mechanism, read together.

Roads not taken: weak references (blinker, PyDispatcher) let a subscriber silently vanish when
its last other reference goes; a fan-out in the publisher's thread (the dozen-line gateway of
chapter 07) lets one slow subscriber stall every publish.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from conclab.hooks import Observer, clock, observing, worker_name
from conclab.queues import AsyncFace, ShutDown

__all__ = ["Topic", "Message", "SubscriberStatistics", "GatewayStatistics", "Gateway",
           "matches"]

Topic = str
"""A dotted topic name, ``"sensor.kitchen.temp"``, or a pattern with ``*`` and ``#``."""
Policy = Literal["block", "drop"]
_LEVEL = re.compile(r"[^.*#\s]+")


@dataclass(frozen=True)
class Message:
    """What a subscriber receives: the topic it was published on, and the payload."""

    topic: Topic
    payload: Any


def _check_pattern(pattern: Topic) -> tuple[str, ...]:
    """The levels of a valid pattern, or ``ValueError`` saying what a pattern may hold."""
    levels = tuple(pattern.split(".")) if isinstance(pattern, str) else ()
    ok = bool(levels) and all(lv in ("*", "#") or _LEVEL.fullmatch(lv) for lv in levels)
    if not ok or "#" in levels[:-1]:
        raise ValueError(f"bad topic pattern {pattern!r}: use dotted names such as "
                         f"'sensor.kitchen', '*' for one level, '#' as the last level for any")
    return levels


def matches(pattern: Topic, topic: Topic) -> bool:
    """Whether ``topic`` (no wildcards) matches ``pattern`` (``*``: one level, ``#``: any)."""
    want, have = _check_pattern(pattern), topic.split(".")
    if want[-1] == "#":  # the levels before it must match; any number may follow
        head = want[:-1]
        return len(have) >= len(head) and all(w in ("*", h) for w, h in zip(head, have))
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have))


@dataclass(frozen=True)
class SubscriberStatistics:
    """One subscription's counts: what reached it, what it dropped, how often it failed."""

    name: str
    pattern: Topic
    kind: str
    policy: Policy
    timeout: float
    delivered: int
    dropped: int
    failed: int
    subscribed: bool


@dataclass(frozen=True)
class GatewayStatistics:
    """The gateway's counts since it was made (``Gateway.statistics()``)."""

    published: int
    delivered: int
    dropped: int
    failed: int
    dead_removed: int
    subscribers: tuple[SubscriberStatistics, ...]


class _Subscription:
    """One subscriber under one pattern: how to hand it a message, and its counts."""

    def __init__(self, pattern: Topic, subscriber: Any, policy: Policy, timeout: float,
                 name: str, maxsize: int) -> None:
        self.pattern, self.subscriber = pattern, subscriber
        self.policy, self.timeout = policy, timeout
        self.name, self.levels = name, _check_pattern(pattern)
        self.delivered = self.dropped = self.failed = 0
        self.subscribed, self.worker = True, None
        if hasattr(subscriber, "tell"):
            self.kind = "actor"
        elif isinstance(subscriber, AsyncFace):  # fed through its thread-side twin
            self.kind, self.subscriber = "queue", subscriber.bridge.sync_q
        elif hasattr(subscriber, "put") and hasattr(subscriber, "put_nowait"):
            if asyncio.iscoroutinefunction(subscriber.put):
                raise TypeError(f"{subscriber!r} is a coroutine-only queue: a gateway may be "
                                "called from any thread; subscribe a BridgeQueue's sync_q "
                                "and await its async_q")
            self.kind = "queue"
        elif callable(subscriber):
            self.kind, self.worker = "callable", _Worker(subscriber, name, maxsize)
        else:
            raise TypeError(f"cannot subscribe {subscriber!r}: give an actor ref (with tell), "
                            "a queue (with put and put_nowait) or a callable")

    def deliver(self, message: Message, deadline: float) -> str:
        """Hand over one message: "delivered", "dropped", "dead" or "failed"."""
        wait = max(0.0, min(self.timeout, deadline - clock())) if self.policy == "block" else 0
        target = self.worker.inbox if self.worker is not None else self.subscriber
        try:
            if self.kind == "actor":
                target.tell(message, block=wait > 0, timeout=wait or None)
            elif wait > 0:
                target.put(message, timeout=wait)
            else:
                target.put_nowait(message)
        except queue.Full:
            return "dropped"
        except ShutDown:
            return "dead"
        except Exception as exc:  # noqa: BLE001 - one subscriber's failure is counted, not raised
            dead = type(exc).__name__ == "ActorDeadError" or not _alive(self.subscriber)
            return "dead" if dead else "failed"
        return "delivered"

    def statistics(self) -> SubscriberStatistics:
        """This subscription's counts (a callable's failures are its worker's)."""
        failed = self.failed + (self.worker.failed if self.worker is not None else 0)
        return SubscriberStatistics(self.name, self.pattern, self.kind, self.policy,
                                    self.timeout, self.delivered, self.dropped, failed,
                                    self.subscribed)


def _alive(subscriber: Any) -> bool:
    """An actor ref's ``is_alive()``; anything else counts as alive."""
    check = getattr(subscriber, "is_alive", None)
    return bool(check()) if callable(check) else True


class _Worker:
    """A callable subscriber's own thread and bounded inbox: it runs the callable per message."""

    def __init__(self, fn: Callable[[Message], object], name: str, maxsize: int) -> None:
        self.fn, self.failed = fn, 0
        self.inbox: queue.Queue[Message | None] = queue.Queue(maxsize)
        self.thread = threading.Thread(target=self._serve, name=f"gateway-{name}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        """Run the callable on each message until the sentinel; count what it raises."""
        while (message := self.inbox.get()) is not None:
            try:
                self.fn(message)
            except Exception:  # noqa: BLE001 - isolated: counted, and the worker goes on
                self.failed += 1

    def stop(self, timeout: float) -> None:
        """Let the worker finish what is queued, then end it (the sentinel waits for room)."""
        try:
            self.inbox.put(None, timeout=timeout)
        except queue.Full:
            pass  # its callable is stuck: the daemon thread is left to the interpreter
        self.thread.join(timeout)


class Gateway:
    """Routes each published message to every subscriber whose pattern matches its topic.

    Use it from any thread (``publish``), from coroutines (``await apublish``), and from
    processes through an actor that holds it. ``close()`` (or leaving a ``with`` block) stops
    the callable subscribers' workers and the thread ``apublish`` uses.

    Args:
        observer: a ``conclab.hooks.Observer`` for the fan-out (see the module docstring).
        name: the gateway's lane on a timeline.
    """

    def __init__(self, *, observer: Observer | None = None, name: str = "gateway") -> None:
        self.name = name
        self._observer = observer if observing(observer) else None
        self._lock = threading.Lock()
        self._subs: list[_Subscription] = []
        self._published = self._dead_removed = 0
        self._gone: list[_Subscription] = []  # unsubscribed or dead: kept for statistics
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    # -- subscribing ---------------------------------------------------------------------------

    def subscribe(self, pattern: Topic, subscriber: Any, *, policy: Policy = "block",
                  timeout: float = 0.1, name: str | None = None, maxsize: int = 100) -> None:
        """Deliver every message whose topic matches ``pattern`` to ``subscriber``.

        Args:
            pattern: a topic, or a pattern with ``*`` (one level) and a final ``#`` (any).
            subscriber: an actor ref, a queue face, or a callable taking a ``Message``.
            policy: when the subscriber is full: ``"block"`` waits at most ``timeout``,
                ``"drop"`` drops at once; either way the drop is counted.
            timeout: seconds a ``"block"`` delivery may wait for room.
            name: the subscriber's name in statistics and on the timeline.
            maxsize: a callable's inbox bound (actors and queues have their own).
        """
        if policy not in ("block", "drop"):
            raise ValueError(f"policy must be 'block' (wait up to timeout) or 'drop', "
                             f"not {policy!r}")
        if not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        self._check_open()
        label = name or getattr(subscriber, "name", None) or getattr(
            subscriber, "__name__", None) or f"subscriber-{len(self._subs) + len(self._gone)}"
        sub = _Subscription(pattern, subscriber, policy, float(timeout), str(label), maxsize)
        with self._lock:
            self._subs.append(sub)

    def unsubscribe(self, pattern: Topic, subscriber: Any) -> bool:
        """Stop delivering ``pattern`` to ``subscriber``; False if it was not subscribed."""
        with self._lock:
            found = [s for s in self._subs if s.pattern == pattern and (
                s.subscriber is subscriber or (s.worker is not None
                                               and s.worker.fn is subscriber)
                or (isinstance(subscriber, AsyncFace)
                    and s.subscriber is subscriber.bridge.sync_q))]
            for sub in found:
                self._remove(sub)
        for sub in found:
            if sub.worker is not None:
                sub.worker.stop(1.0)
        return bool(found)

    def _remove(self, sub: _Subscription) -> None:
        """Take a subscription out (the caller holds the lock)."""
        sub.subscribed = False
        self._subs.remove(sub)
        self._gone.append(sub)

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, topic: Topic, payload: Any) -> int:
        """Deliver ``payload`` on ``topic`` to each matching subscriber; return how many got it.

        Waits at most the longest ``timeout`` among the matching "block" subscriptions.
        """
        _check_pattern(topic)
        if any(level in ("*", "#") for level in topic.split(".")):
            raise ValueError(f"publish to a topic, not a pattern: {topic!r} has a wildcard")
        return self._fan_out(Message(topic, payload), lambda s: matches(s.pattern, topic))

    def broadcast(self, payload: Any) -> int:
        """Deliver ``payload`` to every subscriber, whatever its pattern (topic ``"*"``)."""
        return self._fan_out(Message("*", payload), lambda s: True)

    async def apublish(self, topic: Topic, payload: Any) -> int:
        """``publish`` for coroutines: it runs on the gateway's own thread, never on the loop."""
        self._check_open()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-publish")
        publisher = worker_name()
        return await asyncio.wrap_future(
            self._executor.submit(self._publish_as, publisher, topic, payload))

    def _publish_as(self, publisher: str, topic: Topic, payload: Any) -> int:
        """Publish in the gateway's thread on behalf of ``publisher`` (for the timeline)."""
        from conclab.hooks import as_worker

        with as_worker(publisher):
            return self.publish(topic, payload)

    def _fan_out(self, message: Message, wanted: Callable[[_Subscription], bool]) -> int:
        """Deliver ``message`` to the wanted subscriptions under one shared deadline."""
        self._check_open()
        start = clock()
        with self._lock:
            self._published += 1
            targets = [s for s in self._subs if wanted(s)]
        if self._observer is not None:
            self._observer.event("publish", start, worker_name(), self.name, message.topic)
        deadline = start + max((s.timeout for s in targets if s.policy == "block"), default=0)
        reached = 0
        for sub in targets:
            outcome = sub.deliver(message, deadline)
            reached += self._count(sub, outcome, message, start)
        return reached

    def _count(self, sub: _Subscription, outcome: str, message: Message, sent: float) -> int:
        """Record one delivery's outcome; 1 if it reached the subscriber."""
        with self._lock:
            if outcome == "delivered":
                sub.delivered += 1
            elif outcome == "dropped":
                sub.dropped += 1
            elif outcome == "failed":
                sub.failed += 1
            elif sub.subscribed:  # dead: unsubscribe it, once
                self._remove(sub)
                self._dead_removed += 1
        if outcome == "delivered" and self._observer is not None:
            self._observer.event("send", sent, self.name, sub.name, message.topic)
            self._observer.event("receive", clock(), self.name, sub.name, message.topic)
        return outcome == "delivered"

    # -- reading and closing ---------------------------------------------------------------------

    def statistics(self) -> GatewayStatistics:
        """Counts since the gateway was made, in total and per subscription (old ones too)."""
        with self._lock:
            subs = tuple(s.statistics() for s in self._subs + self._gone)
            published, dead = self._published, self._dead_removed
        return GatewayStatistics(published, sum(s.delivered for s in subs),
                                 sum(s.dropped for s in subs), sum(s.failed for s in subs),
                                 dead, subs)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the callable subscribers' workers (after their queued messages) and apublish's
        thread; further publishes raise ``RuntimeError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = [s.worker for s in self._subs if s.worker is not None]
            executor, self._executor = self._executor, None
        for worker in workers:
            worker.stop(timeout)
        if executor is not None:
            executor.shutdown(wait=True)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the gateway {self.name!r} is closed: make a new one")

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            n, published = len(self._subs), self._published
        state = "closed" if self._closed else "open"
        return f"<Gateway {self.name!r} {state}, {n} subscriptions, {published} published>"
