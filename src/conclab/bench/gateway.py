"""Benchmark ``gateway.*``: a ``conclab.pubsub`` fan-out against the same fan-out by hand.

- ``gateway.publish10_vs_raw_fanout``: ``gateway.publish(topic, i)`` to 10 thread actors
  subscribed to the topic, against putting ``i`` on 10 ``queue.Queue`` by hand, each drained
  by a thread of its own (goal >= 0.7: the gateway's routing, counting and actor mailboxes may
  cost up to about half as much again as the bare puts). Messages per second, from the first
  publish of a chunk until every subscriber has taken all of it.

Both sides are set up once (10 actors, 10 threads). A repeat runs each side's publishes in 4
chunks, interleaved (AB BA AB BA), so that a burst of load from other programs hits both
alike; a chunk ends when every subscriber has set a marker event sent after it (told to each
actor directly, put on each queue), so both sides wait for their subscribers the same way.
The result is the median of 5 per-repeat ratios (ours over theirs).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from conclab.actors import Actor, ActorRef, spawn
from conclab.bench import Result, median_ratio
from conclab.pubsub import Gateway

__all__ = ["run", "Sink", "SUBSCRIBERS"]

REPEATS = 5
CHUNKS = 4
SUBSCRIBERS = 10
TIMEOUT = 30.0  # every wait has one: a broken contender fails instead of hanging
Chunk = Callable[[int], float]  # k -> seconds to publish k messages and see them all taken


class Sink(Actor):
    """Takes messages and does nothing with them; sets any ``threading.Event`` it is told."""

    def on_receive(self, message: Any) -> None:
        if isinstance(message, threading.Event):
            message.set()


def _drain(inbox: queue.Queue[Any]) -> None:
    """A hand-made subscriber: take items until None; set any Event taken."""
    while (item := inbox.get(timeout=TIMEOUT)) is not None:
        if isinstance(item, threading.Event):
            item.set()


def _settle(send: list[Callable[[Any], None]]) -> None:
    """Send each subscriber a marker and wait until all have taken everything before it."""
    markers = [threading.Event() for _ in send]
    for put, marker in zip(send, markers):
        put(marker)
    for marker in markers:
        if not marker.wait(TIMEOUT):
            raise TimeoutError(f"a subscriber took nothing for {TIMEOUT} s")


def _through_gateway(gateway: Gateway, refs: list[ActorRef]) -> Chunk:
    """Publish k messages through the gateway (ours)."""
    def chunk(k: int) -> float:
        publish, start = gateway.publish, time.perf_counter()
        for i in range(k):
            publish("bench.fanout", i)
        _settle([ref.tell for ref in refs])
        return time.perf_counter() - start
    return chunk


def _by_hand(queues: list[queue.Queue[Any]]) -> Chunk:
    """Put k messages on every queue by hand (theirs)."""
    def chunk(k: int) -> float:
        puts, start = [q.put for q in queues], time.perf_counter()
        for i in range(k):
            for put in puts:
                put(i)
        _settle(puts)
        return time.perf_counter() - start
    return chunk


def _interleaved(a: Chunk, b: Chunk, n: int) -> tuple[list[float], list[float]]:
    """Per repeat, each side's messages per second over ``CHUNKS`` interleaved chunks."""
    k = max(1, n // CHUNKS)
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        seconds = [0.0, 0.0]
        for c in range(CHUNKS):
            for side in ((0, 1) if c % 2 == 0 else (1, 0)):
                seconds[side] += (a, b)[side](k)
        for side in (0, 1):
            rates[side].append(k * CHUNKS / seconds[side])
    return rates


def _publish10_vs_raw(n: int) -> Result:
    queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(SUBSCRIBERS)]
    drains = [threading.Thread(target=_drain, args=(q,), name=f"bench-drain-{i}")
              for i, q in enumerate(queues)]
    refs: list[ActorRef] = []
    for t in drains:
        t.start()
    try:
        with Gateway(name="bench-gateway") as gateway:
            for i in range(SUBSCRIBERS):
                refs.append(spawn(Sink, name=f"bench-sink-{i}"))
                gateway.subscribe("bench.fanout", refs[-1])
            rates = _interleaved(_through_gateway(gateway, refs), _by_hand(queues), n)
    finally:
        for ref in refs:
            ref.stop()
        for ref in refs:
            ref.join(TIMEOUT)
        for q in queues:
            q.put(None)
        for t in drains:
            t.join(TIMEOUT)
    ours = sorted(rates[0])[REPEATS // 2]
    return Result("gateway.publish10_vs_raw_fanout", ours, "1/s",
                  f"puts on {SUBSCRIBERS} queue.Queue by hand, each drained by a thread "
                  f"(messages/s)", median_ratio(*rates), ">= 0.7")


def run(quick: bool, *, scale: float = 1.0) -> list[Result]:
    """Measure the ratio (``scale`` shrinks the size, e.g. for a test of the suite)."""
    n = max(CHUNKS, int((2_000 if quick else 10_000) * scale))
    return [_publish10_vs_raw(n)]
