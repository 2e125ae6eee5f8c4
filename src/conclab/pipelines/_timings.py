"""Hand-over timings of four queues, each between the two kinds of worker it is made for.

``round_trips`` (latency: ping-pong over two queues) and ``stream`` (throughput: one way
through a bounded queue) time one kind; ``compare`` times every kind in turns and keeps each
one's best time. Each timing starts what it needs, warms up with one exchange, times only the
exchanges, and stops everything before it returns.

At ~350 lines it is over the package's ~300: four queues times two measures, each written out
in full so that what is timed is plain to read, and they compare best side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from conclab import lifecycle
from conclab.hooks import clock
from conclab.pipelines._children import TIMEOUT, answer
from conclab.queues import BridgeQueue

__all__ = ["KINDS", "BOUND", "round_trips", "stream", "Timing", "compare"]

BOUND = 64
"""The ``maxsize`` of every queue a one-way ``stream`` goes through."""

KINDS: dict[str, str] = {
    "queue.Queue": "thread to thread",
    "asyncio.Queue": "coroutine to coroutine",
    "BridgeQueue": "thread to coroutine",
    "multiprocessing.Queue": "process to process",
}
"""Each queue the chapter times, and between which two kinds of worker it hands items over."""


def _thread_round_trips(n: int) -> float:
    """Seconds for n round trips between two threads over two ``queue.Queue``s."""
    ping: queue.Queue[int] = queue.Queue()
    pong: queue.Queue[int] = queue.Queue()

    def echo() -> None:
        for _ in range(n + 1):
            pong.put(ping.get(timeout=TIMEOUT))

    other = threading.Thread(target=echo, name="echo")
    other.start()
    try:
        ping.put(-1)
        pong.get(timeout=TIMEOUT)  # warm-up: the thread is running
        start = clock()
        for i in range(n):
            ping.put(i)
            pong.get(timeout=TIMEOUT)
        return clock() - start
    finally:
        other.join(TIMEOUT)


def _thread_stream(n: int) -> float:
    """Seconds for n items from one thread to another through a bounded ``queue.Queue``."""
    q: queue.Queue[int] = queue.Queue(BOUND)
    ready = threading.Event()

    def consume() -> None:
        q.get(timeout=TIMEOUT)
        ready.set()
        for _ in range(n):
            q.get(timeout=TIMEOUT)

    other = threading.Thread(target=consume, name="consumer")
    other.start()
    try:
        q.put(-1)
        ready.wait(TIMEOUT)
        start = clock()
        for i in range(n):
            q.put(i, timeout=TIMEOUT)
        other.join(TIMEOUT)
        return clock() - start
    finally:
        other.join(TIMEOUT)


async def _asyncio_round_trips(n: int) -> float:
    """Seconds for n round trips between two tasks of one loop over two ``asyncio.Queue``s."""
    ping: asyncio.Queue[int] = asyncio.Queue()
    pong: asyncio.Queue[int] = asyncio.Queue()

    async def echo() -> None:
        for _ in range(n + 1):
            await pong.put(await ping.get())

    async with asyncio.timeout(TIMEOUT), asyncio.TaskGroup() as group:
        group.create_task(echo())
        await ping.put(-1)
        await pong.get()
        start = clock()
        for i in range(n):
            await ping.put(i)
            await pong.get()
        return clock() - start


async def _asyncio_stream(n: int) -> float:
    """Seconds for n items from one task to another through a bounded ``asyncio.Queue``."""
    q: asyncio.Queue[int] = asyncio.Queue(BOUND)

    async def consume() -> None:
        for _ in range(n):
            await q.get()

    async with asyncio.timeout(TIMEOUT):
        start = clock()
        async with asyncio.TaskGroup() as group:
            group.create_task(consume())
            for i in range(n):
                await q.put(i)
        return clock() - start


async def _bridge_round_trips(n: int) -> float:
    """Seconds for n round trips between a thread and a task over two ``BridgeQueue``s."""
    ping: BridgeQueue[int] = BridgeQueue()
    pong: BridgeQueue[int] = BridgeQueue()
    timing: list[float] = []

    def pinger() -> None:
        ping.sync_q.put(-1)
        pong.sync_q.get(timeout=TIMEOUT)
        start = clock()
        for i in range(n):
            ping.sync_q.put(i)
            pong.sync_q.get(timeout=TIMEOUT)
        timing.append(clock() - start)

    other = threading.Thread(target=pinger, name="pinger")
    other.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            for _ in range(n + 1):
                await pong.async_q.put(await ping.async_q.get())
    finally:
        other.join(TIMEOUT)
    return timing[0]


async def _bridge_stream(n: int) -> float:
    """Seconds for n items from a thread to a task through a bounded ``BridgeQueue``."""
    q: BridgeQueue[int] = BridgeQueue(BOUND)
    go = threading.Event()

    def produce() -> None:
        go.wait(TIMEOUT)
        for i in range(n):
            q.sync_q.put(i, timeout=TIMEOUT)

    other = threading.Thread(target=produce, name="producer")
    other.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            start = clock()
            go.set()
            for _ in range(n):
                await q.async_q.get()
            return clock() - start
    finally:
        go.set()
        other.join(TIMEOUT)


class _Child:
    """A child process running ``answer`` with a reply mode, and the two queues to talk to it."""

    def __init__(self, reply: str, method: str | None) -> None:
        ctx = lifecycle.get_context(method)
        self.inbox, self.outbox = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(target=answer, args=(self.inbox, self.outbox, reply),
                                   name=f"answer-{reply}", daemon=True)

    def __enter__(self) -> _Child:
        try:
            self.process.start()
        except BaseException:  # interrupted while starting: no __exit__ will close the queues
            lifecycle.stop_processes([self.process])  # (skips a process that never started)
            self._close_queues()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.inbox.put(None)
            self.process.join(TIMEOUT)
        finally:
            lifecycle.stop_processes([self.process])
            self._close_queues()

    def _close_queues(self) -> None:
        for q in (self.inbox, self.outbox):
            q.close()
            q.join_thread()
            # close() closes the pipe only where a put started the feeder thread; the ends of
            # a queue this process never put into would wait for the garbage collector, and
            # an interrupted cell's traceback keeps them alive.
            q._reader.close()
            q._writer.close()


def _process_round_trips(child: _Child, n: int) -> float:
    """Seconds for n round trips with an ``echo`` child over two ``multiprocessing.Queue``s."""
    put, get = child.inbox.put, child.outbox.get
    put(-1)
    get(timeout=TIMEOUT)  # warm-up: the child has started and answers
    start = clock()
    for i in range(n):
        put(i)
        get(timeout=TIMEOUT)
    return clock() - start


def _process_stream(child: _Child, n: int) -> float:
    """Seconds for n items to a ``count`` child, until it says it got them all."""
    child.inbox.put(...)
    child.outbox.get(timeout=TIMEOUT)  # warm-up: the child has started and answers
    put = child.inbox.put
    start = clock()
    for i in range(n):
        put(i)
    put(...)
    got = child.outbox.get(timeout=TIMEOUT)
    elapsed = clock() - start
    if got != n:
        raise RuntimeError(f"the child counted {got} items, not {n}")
    return elapsed


def _check(kind: str, n: int) -> None:
    """Raise ``ValueError`` unless ``kind`` is a queue of ``KINDS`` and ``n`` a count > 0."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, not {kind!r}")
    if not (isinstance(n, int) and n > 0):
        raise ValueError(f"n must be an int > 0, not {n!r}")


def round_trips(kind: str, n: int, *, method: str | None = None) -> float:
    """Seconds for ``n`` ping-pong round trips through ``kind`` (one of ``KINDS``).

    One worker puts a number on one queue and waits for it to come back on another; the
    other worker sends back what it gets. A round trip is two hand-overs. The time starts
    after one warm-up round trip, so starting a thread, a loop or a process is not in it.

    Args:
        kind: which queue, and so which two workers (``KINDS`` says).
        n: how many round trips to time.
        method: the start method of the child, for ``"multiprocessing.Queue"``.

    Raises:
        ValueError: for an unknown ``kind`` or a bad ``n``.
        TimeoutError, queue.Empty: if a worker stopped answering for ``TIMEOUT`` seconds.
    """
    _check(kind, n)
    if kind == "queue.Queue":
        return _thread_round_trips(n)
    if kind == "asyncio.Queue":
        return float(lifecycle.run_in_fresh_loop(_asyncio_round_trips, n,
                                                 timeout=2 * TIMEOUT).result)
    if kind == "BridgeQueue":
        return float(lifecycle.run_in_fresh_loop(_bridge_round_trips, n,
                                                 timeout=2 * TIMEOUT).result)
    with _Child("echo", method) as child:
        return _process_round_trips(child, n)


def stream(kind: str, n: int, *, method: str | None = None) -> float:
    """Seconds for ``n`` items to go one way through ``kind`` (bounded by ``BOUND`` items).

    The producer puts as fast as the queue takes items, the consumer gets as fast as they
    come: the time is the throughput of the hand-over, with the two sides overlapping.
    Arguments and errors are those of ``round_trips``.
    """
    _check(kind, n)
    if kind == "queue.Queue":
        return _thread_stream(n)
    if kind == "asyncio.Queue":
        return float(lifecycle.run_in_fresh_loop(_asyncio_stream, n, timeout=2 * TIMEOUT).result)
    if kind == "BridgeQueue":
        return float(lifecycle.run_in_fresh_loop(_bridge_stream, n, timeout=2 * TIMEOUT).result)
    with _Child("count", method) as child:
        return _process_stream(child, n)


@dataclass(frozen=True)
class Timing:
    """The best of a few measured runs of one queue: round-trip latency and one-way throughput.

    Attributes:
        kind: the queue (a key of ``KINDS``); ``between`` says which workers it joined.
        round_trips, round_trip_seconds: how many round trips were timed, and their best time.
        items, stream_seconds: how many items streamed one way, and their best time.
    """

    kind: str
    round_trips: int
    round_trip_seconds: float
    items: int
    stream_seconds: float

    @property
    def between(self) -> str:
        """Which two kinds of worker the queue joined."""
        return KINDS[self.kind]

    @property
    def round_trip_us(self) -> float:
        """Microseconds per round trip (two hand-overs and the two wake-ups they need)."""
        return self.round_trip_seconds / self.round_trips * 1e6

    @property
    def items_per_second(self) -> float:
        """Items per second through the queue, one way."""
        return self.items / self.stream_seconds


def compare(round_trip_counts: dict[str, int], item_counts: dict[str, int], *,
            rounds: int = 3, method: str | None = None,
            progress: Callable[[str], None] | None = None) -> list[Timing]:
    """Time every queue in ``round_trip_counts``, in turns, and keep each one's best time.

    Each of ``rounds`` rounds times every kind once, in order, so that load from other
    programs falls on all of them alike; the best (shortest) time of each is kept, the one
    least disturbed. The two children the process queue needs are started once, before the
    first round, and their start is not timed.

    Args:
        round_trip_counts: kind -> how many round trips to time per round.
        item_counts: kind -> how many items to stream per round (same kinds).
        rounds: how many rounds (at least 1).
        method: the start method of the children.
        progress: called with the kind about to be timed, if given.

    Returns:
        One ``Timing`` per kind, in the order of ``round_trip_counts``.
    """
    if set(round_trip_counts) != set(item_counts):
        raise ValueError("give round-trip and item counts for the same kinds")
    for kind in round_trip_counts:
        _check(kind, round_trip_counts[kind])
        _check(kind, item_counts[kind])
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be an int >= 1, not {rounds!r}")
    best: dict[str, list[float]] = {k: [float("inf"), float("inf")] for k in round_trip_counts}
    with contextlib.ExitStack() as stack:
        if "multiprocessing.Queue" in round_trip_counts:
            echo = stack.enter_context(_Child("echo", method))
            count = stack.enter_context(_Child("count", method))
        for _ in range(rounds):
            for kind, n in round_trip_counts.items():
                if progress is not None:
                    progress(kind)
                if kind == "multiprocessing.Queue":
                    trip = _process_round_trips(echo, n)
                    flow = _process_stream(count, item_counts[kind])
                else:
                    trip = round_trips(kind, n)
                    flow = stream(kind, item_counts[kind])
                best[kind] = [min(best[kind][0], trip), min(best[kind][1], flow)]
    return [Timing(k, round_trip_counts[k], best[k][0], item_counts[k], best[k][1])
            for k in round_trip_counts]
