"""A gateway that routes messages by topic and broadcasts them: publish/subscribe.

Publishers and subscribers never know each other: a publisher hands the gateway a topic and a
payload, the gateway hands a ``Message`` to every subscriber whose pattern matches. The design,
in a few sentences:

1. **Topics** are dotted names (``"sensor.kitchen.temp"``). A pattern matches level by level:
   ``*`` is exactly one level, ``#`` (as the last level) zero or more: ``"sensor.*"`` matches
   ``"sensor.kitchen"``, ``"sensor.#"`` matches ``"sensor"`` and ``"sensor.kitchen.temp"``.
   The subscriptions a topic reaches are worked out once and remembered until the
   subscriptions change, so a publish costs about the puts it makes.
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
   never blocks the event loop. A process cannot reach the gateway's memory: it tells a
   ``GatewayActor`` that holds the gateway, through an ``Inlet`` (a ``ProcessQueue`` that a
   thread of the gateway's process empties into the actor's mailbox).
6. Everything goes to the package's one ``Observer``: a "publish" event from the publisher to
   the gateway, and a "send"/"receive" pair from the gateway to each subscriber it reached
   (sent when the publish began, received when the subscriber's queue took the message), so
   the fan-out draws as arrows on the timeline.

Delivery semantics, which the tests check one by one: a message reaches the subscriptions that
matched when its publish began, once per matching subscription (a subscriber under two
matching patterns gets two copies); messages from one publisher reach each subscriber in the
order published, less the ones dropped; two publishers' messages may reach two subscribers in
different orders, unless both publish through one ``GatewayActor``, which publishes one message
at a time. Nothing is redelivered: a subscriber that was full, dead or unsubscribed when a
message passed has missed it for good.

The module is over 300 lines: a subscription's three kinds of delivery, its counts, the
gateway that fans out to them, and the actor and inlet that let other processes publish are
one mechanism, read together.

Roads not taken: weak references (blinker, PyDispatcher) let a subscriber silently vanish when
its last other reference goes; a fan-out in the publisher's thread (the dozen-line gateway of
chapter 07) lets one slow subscriber stall every publish and one raising subscriber stop it.
"""

from __future__ import annotations

import asyncio
import multiprocessing.util
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from conclab.actors import Actor, ActorDeadError, ActorRef
from conclab.hooks import Observer, as_worker, clock, observing, worker_name
from conclab.queues import AsyncFace, ProcessQueue, ShutDown

__all__ = ["Topic", "Message", "Publish", "SubscriberStatistics", "GatewayStatistics",
           "Gateway", "GatewayActor", "Inlet", "matches"]

Topic = str
"""A dotted topic name, ``"sensor.kitchen.temp"``, or a pattern with ``*`` and ``#``."""
Policy = Literal["block", "drop"]
_LEVEL = re.compile(r"[^.*#\s]+")
_ROUTES_MAX = 4096  # remembered topics; past this the memory is cleared (topics may be endless)


@dataclass(frozen=True, slots=True)
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


def _check_topic(topic: Topic) -> tuple[str, ...]:
    """The levels of a topic one can publish to (a pattern without wildcards)."""
    levels = _check_pattern(topic)
    if "*" in levels or "#" in levels:
        raise ValueError(f"publish to a topic, not a pattern: {topic!r} has a wildcard")
    return levels


def _match(want: tuple[str, ...], have: tuple[str, ...]) -> bool:
    """Whether topic levels ``have`` match pattern levels ``want``."""
    if want[-1] == "#":  # the levels before it must match; any number may follow
        head = want[:-1]
        return len(have) >= len(head) and all(w in ("*", h) for w, h in zip(head, have))
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have))


def matches(pattern: Topic, topic: Topic) -> bool:
    """Whether ``topic`` (no wildcards) matches ``pattern`` (``*``: one level, ``#``: any)."""
    return _match(_check_pattern(pattern), tuple(topic.split(".")))


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
        self.target = self.worker.inbox if self.worker is not None else self.subscriber

    def deliver(self, message: Message, deadline: float) -> str:
        """Hand over one message: "delivered", "dropped", "dead" or "failed".

        The first try never waits; only a full "block" subscriber waits, and then no later
        than ``deadline`` nor longer than its own timeout.
        """
        target, actor = self.target, self.kind == "actor"
        try:
            try:
                if actor:
                    target.tell(message, block=False)
                else:
                    target.put(message, False)
            except queue.Full:
                wait = min(self.timeout, deadline - clock()) if self.policy == "block" else 0
                if wait <= 0:
                    return "dropped"
                if actor:
                    target.tell(message, timeout=wait)
                else:
                    target.put(message, timeout=wait)
        except queue.Full:
            return "dropped"
        except (ShutDown, ActorDeadError):
            return "dead"
        except Exception:  # noqa: BLE001 - one subscriber's failure is counted, not raised
            return "failed" if _alive(self.subscriber) else "dead"
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


_Route = tuple[tuple[_Subscription, ...], float]  # the subscriptions a topic reaches, longest wait


class Gateway:
    """Routes each published message to every subscriber whose pattern matches its topic.

    Use it from any thread (``publish``), from coroutines (``await apublish``), and from
    processes through a ``GatewayActor`` and its ``Inlet``. ``close()`` (or leaving a
    ``with`` block) stops the callable subscribers' workers and the thread ``apublish`` uses.

    Args:
        observer: a ``conclab.hooks.Observer`` for the fan-out (see the module docstring).
        name: the gateway's lane on a timeline.
    """

    def __init__(self, *, observer: Observer | None = None, name: str = "gateway") -> None:
        self.name = name
        self._observer = observer if observing(observer) else None
        self._lock = threading.Lock()
        self._subs: list[_Subscription] = []
        self._routes: dict[Topic | None, _Route] = {}  # None: a broadcast reaches everyone
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
        if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        self._check_open()
        label = name or getattr(subscriber, "name", None) or getattr(
            subscriber, "__name__", None) or f"subscriber-{len(self._subs) + len(self._gone)}"
        sub = _Subscription(pattern, subscriber, policy, float(timeout), str(label), maxsize)
        with self._lock:
            self._subs.append(sub)
            self._routes.clear()

    def unsubscribe(self, pattern: Topic, subscriber: Any) -> bool:
        """Stop delivering ``pattern`` to ``subscriber``; False if it was not subscribed.

        A publish already under way when this returns may still deliver it one message.
        """
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
        self._routes.clear()

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, topic: Topic, payload: Any) -> int:
        """Deliver ``payload`` on ``topic`` to each matching subscriber; return how many got it.

        Waits at most the longest ``timeout`` among the matching "block" subscriptions.
        """
        return self._fan_out(topic, Message(topic, payload))

    def broadcast(self, payload: Any) -> int:
        """Deliver ``payload`` to every subscriber, whatever its pattern (topic ``"*"``)."""
        return self._fan_out(None, Message("*", payload))

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
        with as_worker(publisher):
            return self.publish(topic, payload)

    def _route(self, key: Topic | None) -> _Route:
        """The subscriptions ``key`` reaches and their longest "block" wait (caller holds the
        lock); worked out on the first publish to the topic after any change."""
        route = self._routes.get(key)
        if route is None:
            if key is None:
                targets = tuple(self._subs)
            else:
                have = _check_topic(key)
                targets = tuple(s for s in self._subs if _match(s.levels, have))
            longest = max((s.timeout for s in targets if s.policy == "block"), default=0.0)
            if len(self._routes) >= _ROUTES_MAX:
                self._routes.clear()
            route = self._routes[key] = (targets, longest)
        return route

    def _fan_out(self, key: Topic | None, message: Message) -> int:
        """Deliver ``message`` to the subscriptions ``key`` reaches, under one shared deadline."""
        if self._closed:
            self._check_open()
        start = clock()
        with self._lock:
            targets, longest = self._route(key)
            self._published += 1
        observer = self._observer
        if observer is not None:
            observer.event("publish", start, worker_name(), self.name, message.topic)
        deadline = start + longest
        outcomes = [sub.deliver(message, deadline) for sub in targets] if observer is None \
            else [self._observed(sub, message, deadline, start) for sub in targets]
        return self._count(targets, outcomes)

    def _observed(self, sub: _Subscription, message: Message, deadline: float,
                  sent: float) -> str:
        """Deliver to one subscription, and report the arrow of a delivered message."""
        outcome = sub.deliver(message, deadline)
        if outcome == "delivered":
            assert self._observer is not None
            self._observer.event("send", sent, self.name, sub.name, message.topic)
            self._observer.event("receive", clock(), self.name, sub.name, message.topic)
        return outcome

    def _count(self, targets: tuple[_Subscription, ...], outcomes: list[str]) -> int:
        """Record a publish's outcomes under one lock; return how many subscribers it reached."""
        reached = 0
        with self._lock:
            for sub, outcome in zip(targets, outcomes):
                if outcome == "delivered":
                    sub.delivered += 1
                    reached += 1
                elif outcome == "dropped":
                    sub.dropped += 1
                elif outcome == "failed":
                    sub.failed += 1
                elif sub.subscribed:  # dead: unsubscribe it, once
                    self._remove(sub)
                    self._dead_removed += 1
        return reached

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


# --- publishing from other processes ---------------------------------------------------------

@dataclass(frozen=True)
class Publish:
    """A message for a ``GatewayActor``: publish ``payload`` on ``topic``.

    ``publisher`` names the lane the publish comes from on a timeline (default: whoever built
    the message). A wildcard or malformed topic fails here, in the sender, with ``ValueError``.
    """

    topic: Topic
    payload: Any
    publisher: str = ""

    def __post_init__(self) -> None:
        _check_topic(self.topic)
        if not self.publisher:
            object.__setattr__(self, "publisher", worker_name())


class GatewayActor(Actor):
    """An actor that holds a gateway and publishes each ``Publish`` it is told, in turn.

    Anything that can reach the actor publishes through it: threads and coroutines by its
    ref, other processes through an ``Inlet``. Because it publishes one message at a time,
    every subscriber sees the messages that went through it in the same order. Its answer to
    an ``ask`` is the number of subscribers reached; any other message raises ``TypeError``.
    Spawn it on the thread backend, in the gateway's process: ``spawn(GatewayActor,
    args=(gateway,))``.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def on_receive(self, message: Any) -> int:
        """Publish ``message`` (a ``Publish``) in the actor's thread, as its publisher."""
        if not isinstance(message, Publish):
            raise TypeError(f"a GatewayActor takes Publish(topic, payload) messages, not "
                            f"{type(message).__name__} {message!r}")
        with as_worker(message.publisher):
            return self.gateway.publish(message.topic, message.payload)


class Inlet:
    """A door to a ``GatewayActor`` for other processes: pass it to them, and they ``publish``.

    An actor ref of the thread backend cannot cross a process boundary (it points into this
    process's memory), so the inlet is a ``conclab.queues.ProcessQueue``: any process of the
    family puts ``Publish`` messages into it, and a thread of this process tells each one to
    the actor, in the order they arrived. Pass it to a child as an argument (every start
    method); ``close()`` it in the process that made it, after the children are done.

    Args:
        ref: the ``GatewayActor``'s ref.
        maxsize: the most messages in flight; ``publish`` waits while there are as many.
        method: the start method of the children that will use it (default: the course's).
        name: the pump thread's name.
    """

    def __init__(self, ref: ActorRef, *, maxsize: int = 0, method: str | None = None,
                 name: str = "inlet") -> None:
        self._queue: ProcessQueue[Publish] = ProcessQueue(maxsize, method=method, name=name)
        self._ref, self.name, self.told, self.lost = ref, name, 0, 0
        self._pump: threading.Thread | None = threading.Thread(target=self._run,
                                                               name=f"{name}-pump")
        self._pump.start()
        # A child made by fork inherits this object without pickling: it gets the door only.
        multiprocessing.util.register_after_fork(self, Inlet._forget_pump)

    def _forget_pump(self) -> None:
        """In a forked child: the pump and the ref stayed in the parent."""
        self._ref, self._pump, self.told, self.lost = None, None, 0, 0  # type: ignore[assignment]

    def publish(self, topic: Topic, payload: Any, *, timeout: float | None = None) -> None:
        """Publish through the actor, from any process (returns once the inlet has it).

        Raises:
            ValueError: for a wildcard or malformed topic.
            ShutDown: if the inlet was closed.
            queue.Full: if a bounded inlet stayed full for ``timeout`` seconds.
        """
        self.tell(Publish(topic, payload), timeout=timeout)

    def tell(self, message: Publish, *, timeout: float | None = None) -> None:
        """Send one ``Publish`` to the actor, from any process."""
        if not isinstance(message, Publish):
            raise TypeError(f"an Inlet carries Publish(topic, payload) messages, not "
                            f"{type(message).__name__} {message!r}")
        self._queue.put(message, timeout=timeout)

    def _run(self) -> None:
        """The pump: tell the actor each message, in arrival order, until the inlet is closed."""
        for message in self._queue:
            try:
                self._ref.tell(message)
                self.told += 1
            except ActorDeadError:  # the actor stopped: count what can no longer be told
                self.lost += 1

    def close(self, timeout: float = 5.0) -> None:
        """Tell the actor what is still in the inlet, then stop the pump (the making process)."""
        pump, self._pump = self._pump, None
        if pump is None:
            return
        self._queue.shutdown()
        pump.join(timeout)
        self._queue.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"queue": self._queue, "name": self.name}  # a child gets the door, not the pump

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._queue, self.name = state["queue"], state["name"]
        self._forget_pump()

    def __enter__(self) -> Inlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "pumping" if self._pump is not None else "a door only"
        return f"<Inlet {self.name!r} {where}, {self.told} told, {self.lost} lost>"
