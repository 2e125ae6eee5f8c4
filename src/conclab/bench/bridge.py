"""Benchmark ``bridge.*``: ``conclab.queues.BridgeQueue`` against janus, culsans and the stdlib.

Each result is the median of 5 per-repeat ratios (ours over theirs). A repeat runs every
contender in 4 chunks, interleaved (ABC ABC..., the order rotating from chunk to chunk), and
sums each side's chunks: a burst of load from other programs then hits every side alike.

- ``roundtrip_vs_*``: a thread and a coroutine play ping-pong over two queues (the thread puts
  on ``sync_q`` and waits on the other queue's ``sync_q``, the coroutine answers through
  ``async_q``); round trips per second. Two OS wake-ups per round trip dominate it.
- ``throughput_vs_*``: a thread puts n items, a coroutine gets them; items per second.
- ``sync_vs_queue``: one thread to another through ``sync_q``, against ``queue.Queue``.
- ``async_vs_asyncio``: coroutine to coroutine in one loop through ``async_q``, against
  ``asyncio.Queue``. The one-way runs use a bound of 64, so that waits and wake-ups count too.

A peer library that is not installed gives a skipped result with the reason.
"""

from __future__ import annotations

import asyncio
import importlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from conclab.bench import Result, median_ratio, skipped
from conclab.queues import BridgeQueue

__all__ = ["run", "roundtrips", "thread_to_coroutine", "thread_to_thread",
           "coroutine_to_coroutine"]

REPEATS = 5
CHUNKS = 4  # per repeat and contender, interleaved with the others' chunks
BOUND = 64
TIMEOUT = 30.0  # every blocking call has one: a broken contender fails instead of hanging
Maker = Callable[[int], Any]  # builds a bridge queue (with .sync_q and .async_q) of a maxsize


def _peer(module: str) -> Maker | str:
    """A maker of the peer library's queue, or why it cannot be used."""
    try:
        lib = importlib.import_module(module)
    except ImportError as exc:
        return f"{module} is not installed ({exc}); pip install -e '.[bench]'"
    return lambda maxsize: lib.Queue(maxsize)


async def _close(q: Any) -> None:
    """Close a peer's queue if it has to be (janus keeps a task for its notifications)."""
    if hasattr(q, "aclose"):
        await q.aclose()


def roundtrips(make: Maker, n: int) -> float:
    """Seconds for n thread <-> coroutine ping-pong round trips over two queues from ``make``."""

    async def main() -> float:
        ping, pong = make(0), make(0)  # made in the loop: janus binds the running loop

        def thread() -> None:
            put, get = ping.sync_q.put, pong.sync_q.get
            for i in range(n):
                put(i)
                get(timeout=TIMEOUT)

        worker = threading.Thread(target=thread, name="bench-pinger")
        get, put = ping.async_q.get, pong.async_q.put
        start = time.perf_counter()
        worker.start()
        async with asyncio.timeout(TIMEOUT):
            for _ in range(n):
                await put(await get())
        worker.join(TIMEOUT)
        elapsed = time.perf_counter() - start
        await _close(ping)
        await _close(pong)
        return elapsed

    return asyncio.run(main())


def thread_to_coroutine(make: Maker, n: int) -> float:
    """Seconds for n items from a thread's ``sync_q.put`` to a coroutine's ``async_q.get``."""

    async def main() -> float:
        q = make(BOUND)

        def thread() -> None:
            put = q.sync_q.put
            for i in range(n):
                put(i, timeout=TIMEOUT)

        worker = threading.Thread(target=thread, name="bench-producer")
        get = q.async_q.get
        start = time.perf_counter()
        worker.start()
        async with asyncio.timeout(TIMEOUT):
            for _ in range(n):
                await get()
        worker.join(TIMEOUT)
        elapsed = time.perf_counter() - start
        await _close(q)
        return elapsed

    return asyncio.run(main())


def thread_to_thread(make: Callable[[int], Any], n: int) -> float:
    """Seconds for n items from one thread's ``put`` to another's ``get`` (``queue.Queue`` API)."""
    q = make(BOUND)
    put, get = q.put, q.get

    def thread() -> None:
        for i in range(n):
            put(i, timeout=TIMEOUT)

    worker = threading.Thread(target=thread, name="bench-producer")
    start = time.perf_counter()
    worker.start()
    for _ in range(n):
        get(timeout=TIMEOUT)
    worker.join(TIMEOUT)
    return time.perf_counter() - start


def coroutine_to_coroutine(make: Callable[[int], Any], n: int) -> float:
    """Seconds for n items from one task's ``await put`` to another's ``await get``, one loop."""

    async def main() -> float:
        q = make(BOUND)

        async def producer() -> None:
            for i in range(n):
                await q.put(i)

        start = time.perf_counter()
        task = asyncio.create_task(producer())
        get = q.get
        async with asyncio.timeout(TIMEOUT):
            for _ in range(n):
                await get()
            await task
        return time.perf_counter() - start

    return asyncio.run(main())


def _interleaved(measure: Callable[[Maker, int], float], makers: dict[str, Maker],
                 n: int) -> dict[str, list[float]]:
    """Per repeat, each maker's rate (n per second) over ``CHUNKS`` interleaved chunks."""
    names = list(makers)
    rates: dict[str, list[float]] = {name: [] for name in names}
    chunk = max(1, n // CHUNKS)
    for _ in range(REPEATS):
        seconds = dict.fromkeys(names, 0.0)
        for c in range(CHUNKS):
            for name in names[c % len(names):] + names[:c % len(names)]:
                seconds[name] += measure(makers[name], chunk)
        for name in names:
            rates[name].append(chunk * CHUNKS / seconds[name])
    return rates


def _versus(area: str, measure: Callable[[Maker, int], float], n: int, goal: str,
            what: str) -> list[Result]:
    """Ours against janus and culsans on one measure, peers that are missing skipped."""
    peers = {name: _peer(name) for name in ("janus", "culsans")}
    makers: dict[str, Maker] = {"ours": BridgeQueue}
    makers.update({k: v for k, v in peers.items() if not isinstance(v, str)})
    rates = _interleaved(measure, makers, n)
    ours = sorted(rates["ours"])[REPEATS // 2]
    results = []
    for name, peer in peers.items():
        if isinstance(peer, str):
            results.append(skipped(f"bridge.{area}_vs_{name}", peer))
            continue
        version = getattr(importlib.import_module(name), "__version__", "?")
        results.append(Result(f"bridge.{area}_vs_{name}", ours, "1/s",
                              f"{name} {version} ({what})",
                              median_ratio(rates["ours"], rates[name]), goal))
    return results


def _stdlib(name: str, measure: Callable[[Any, int], float], ours: Maker, theirs: Maker,
            n: int, what: str) -> Result:
    """Ours against the stdlib queue it stands in for."""
    rates = _interleaved(measure, {"ours": ours, "theirs": theirs}, n)
    return Result(name, sorted(rates["ours"])[REPEATS // 2], "1/s", what,
                  median_ratio(rates["ours"], rates["theirs"]), ">= 0.8")


def run(quick: bool, *, scale: float = 1.0) -> list[Result]:
    """Measure the six ratios (``scale`` shrinks the sizes, e.g. for a test of the suite)."""
    n = max(10, int((2_000 if quick else 10_000) * scale))
    results = _versus("roundtrip", roundtrips, n, ">= 1.2", "thread<->coroutine round trips/s")
    results += _versus("throughput", thread_to_coroutine, 10 * n, ">= 1.5",
                       "thread->coroutine items/s")
    results.append(_stdlib("bridge.sync_vs_queue", thread_to_thread,
                           lambda m: BridgeQueue(m).sync_q, queue.Queue, 10 * n,
                           "queue.Queue (thread->thread items/s)"))
    results.append(_stdlib("bridge.async_vs_asyncio", coroutine_to_coroutine,
                           lambda m: BridgeQueue(m).async_q, asyncio.Queue, 10 * n,
                           "asyncio.Queue (coroutine->coroutine items/s, one loop)"))
    return results
