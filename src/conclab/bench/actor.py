"""Benchmark ``actor.*``: ``conclab.actors`` asks against the primitives and library they replace.

Each result is the median of 5 per-repeat ratios (ours over theirs, round trips per second).
Every contender is set up once (threads, actors, child processes); a repeat then runs each
one's round trips in 4 chunks, interleaved (AB AB..., the order alternating), so that a burst
of load from other programs hits both sides alike.

- ``thread.ask_vs_queue_pingpong``: ``ref.ask(i).result()`` to a thread actor, against a
  thread echoing over two ``queue.Queue`` (goal >= 0.8: an ask is a ping-pong plus a future).
- ``thread.ask_vs_pykka``: the same ask against Pykka's ``ThreadingActor`` ask (goal >= 1.3).
- ``asyncio.ask_vs_asyncio_queue_pingpong``: ``await ref.ask_async(i)`` to an asyncio actor
  on the caller's own loop, against a task echoing over two ``asyncio.Queue`` (goal >= 1.0).
- ``process.ask_vs_mp_queue_pingpong``: ``ref.ask(i).result()`` to a process actor, against
  a child echoing over two ``multiprocessing.Queue`` (goal >= 0.8).

A missing peer library (pykka) gives a skipped result with the reason.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from conclab import lifecycle
from conclab.actors import Actor, spawn
from conclab.bench import Result, median_ratio, skipped

__all__ = ["run", "Echo"]

REPEATS = 5
CHUNKS = 4
TIMEOUT = 30.0  # every blocking call has one: a broken contender fails instead of hanging
Roundtrips = Callable[[int], float]  # n -> seconds for n round trips


class Echo(Actor):
    """Answers every message with itself."""

    def on_receive(self, message: Any) -> Any:
        return message


def _mp_echo(inbox: Any, outbox: Any) -> None:
    """Child: put back every item got, until None."""
    for item in iter(inbox.get, None):
        outbox.put(item)


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ask(ref: Any) -> Roundtrips:
    """Round trips by ``ref.ask(i).result()`` (ours)."""
    def trips(n: int) -> float:
        ask = ref.ask
        return _timed(lambda: [ask(i).result(TIMEOUT) for i in range(n)] and None)
    return trips


def _pingpong(put: Callable[[Any], None], get: Callable[..., Any]) -> Roundtrips:
    """Round trips by ``put(i)`` then ``get(timeout)``."""
    def trips(n: int) -> float:
        def run() -> None:
            for i in range(n):
                put(i)
                get(timeout=TIMEOUT)
        return _timed(run)
    return trips


def _interleaved(a: Roundtrips, b: Roundtrips, n: int) -> tuple[list[float], list[float]]:
    """Per repeat, each side's round trips per second over ``CHUNKS`` interleaved chunks."""
    chunk = max(1, n // CHUNKS)
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        seconds = [0.0, 0.0]
        for c in range(CHUNKS):
            for side in ((0, 1) if c % 2 == 0 else (1, 0)):
                seconds[side] += (a, b)[side](chunk)
        for side in (0, 1):
            rates[side].append(chunk * CHUNKS / seconds[side])
    return rates


def _result(name: str, rates: tuple[list[float], list[float]], reference: str,
            goal: str) -> Result:
    ours = sorted(rates[0])[REPEATS // 2]
    return Result(name, ours, "1/s", reference, median_ratio(*rates), goal)


def _thread_vs_queue(n: int) -> Result:
    inbox: queue.Queue[Any] = queue.Queue()
    outbox: queue.Queue[Any] = queue.Queue()

    def echo() -> None:
        for item in iter(lambda: inbox.get(timeout=TIMEOUT), None):
            outbox.put(item)

    worker = threading.Thread(target=echo, name="bench-echo")
    worker.start()
    try:
        with spawn(Echo, name="bench-echo-actor") as ref:
            rates = _interleaved(_ask(ref), _pingpong(inbox.put, outbox.get), n)
    finally:
        inbox.put(None)
        worker.join(TIMEOUT)
    return _result("actor.thread.ask_vs_queue_pingpong", rates,
                   "two queue.Queue and an echo thread (round trips/s)", ">= 0.8")


def _thread_vs_pykka(n: int) -> Result:
    name = "actor.thread.ask_vs_pykka"
    try:
        pykka = importlib.import_module("pykka")
    except ImportError as exc:
        return skipped(name, f"pykka is not installed ({exc}); pip install -e '.[bench]'")

    class PykkaEcho(pykka.ThreadingActor):  # type: ignore[misc,name-defined]
        def on_receive(self, message: Any) -> Any:
            return message

    theirs = PykkaEcho.start()
    try:
        def pykka_trips(k: int) -> float:
            ask = theirs.ask
            return _timed(lambda: [ask(i, timeout=TIMEOUT) for i in range(k)] and None)

        with spawn(Echo, name="bench-echo-actor") as ref:
            rates = _interleaved(_ask(ref), pykka_trips, n)
    finally:
        theirs.stop(timeout=TIMEOUT)
    version = importlib.metadata.version("pykka")
    return _result(name, rates, f"pykka {version} ThreadingActor ask (round trips/s)",
                   ">= 1.3")


async def _interleaved_async(ours: Any, theirs: Any, n: int) -> tuple[list[float], list[float]]:
    """``_interleaved`` for two coroutine functions ``k -> seconds`` on the running loop."""
    chunk = max(1, n // CHUNKS)
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        seconds = [0.0, 0.0]
        for c in range(CHUNKS):
            for side in ((0, 1) if c % 2 == 0 else (1, 0)):
                seconds[side] += await (ours, theirs)[side](chunk)
        for side in (0, 1):
            rates[side].append(chunk * CHUNKS / seconds[side])
    return rates


async def _asyncio_pair(n: int) -> tuple[list[float], list[float]]:
    """On the running loop: an asyncio actor's asks against an asyncio.Queue ping-pong."""
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()

    async def echo() -> None:
        while (item := await inbox.get()) is not None:
            outbox.put_nowait(item)

    async def ours(k: int) -> float:
        ask, start = ref.ask_async, time.perf_counter()
        for i in range(k):
            await ask(i)
        return time.perf_counter() - start

    async def theirs(k: int) -> float:
        put, get, start = inbox.put_nowait, outbox.get, time.perf_counter()
        for i in range(k):
            put(i)
            await get()
        return time.perf_counter() - start

    task = asyncio.create_task(echo())
    async with spawn(Echo, backend="asyncio", loop=asyncio.get_running_loop()) as ref:
        async with asyncio.timeout(TIMEOUT * REPEATS):
            rates = await _interleaved_async(ours, theirs, n)
    inbox.put_nowait(None)
    await task
    return rates


def _asyncio_vs_queue(n: int) -> Result:
    rates = lifecycle.run_in_fresh_loop(_asyncio_pair, n, timeout=TIMEOUT * REPEATS).result
    return _result("actor.asyncio.ask_vs_asyncio_queue_pingpong", rates,
                   "two asyncio.Queue and an echo task, one loop (round trips/s)", ">= 1.0")


def _process_vs_mp_queue(n: int) -> Result:
    ctx = lifecycle.get_context()
    inbox, outbox = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=_mp_echo, args=(inbox, outbox), name="bench-mp-echo")
    child.start()
    try:
        with spawn(Echo, backend="process", name="bench-echo-process") as ref:
            rates = _interleaved(_ask(ref), _pingpong(inbox.put, outbox.get), n)
    finally:
        inbox.put(None)
        lifecycle.stop_processes([child])
        for q in (inbox, outbox):
            q.close()
            q.join_thread()
    return _result("actor.process.ask_vs_mp_queue_pingpong", rates,
                   f"two multiprocessing.Queue and an echo child, "
                   f"{ctx.get_start_method()} (round trips/s)", ">= 0.8")


def run(quick: bool, *, scale: float = 1.0) -> list[Result]:
    """Measure the four ratios (``scale`` shrinks the sizes, e.g. for a test of the suite)."""
    n = max(CHUNKS, int((2_000 if quick else 10_000) * scale))
    return [_thread_vs_queue(n), _thread_vs_pykka(n), _asyncio_vs_queue(4 * n),
            _process_vs_mp_queue(n // 2)]
