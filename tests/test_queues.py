"""conclab.queues.BridgeQueue: one queue for threads and coroutines on any number of loops.

Tests wait for a state of the queue (a waiter parked, a task done), never for time to pass;
``parked()`` polls the queue's own statistics until the expected callers are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conclab import plots, queues
from conclab.hooks import NULL_OBSERVER
from conclab.queues import BridgeQueue, QueueShutDown, ShutDown
from conclab.trace import Trace

T = 5.0  # seconds: the bound on every wait in these tests


# -- helpers ---------------------------------------------------------------------------------

@contextmanager
def loop_thread(name: str = "loop") -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread; stopped, joined and closed afterwards."""
    loop = asyncio.new_event_loop()
    worker = threading.Thread(target=loop.run_forever, name=name)
    worker.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        worker.join(T)
        loop.close()


def on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """Start ``coro`` on ``loop`` (another thread's); a concurrent future of its result."""
    return asyncio.run_coroutine_threadsafe(coro, loop)


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (from a thread) until ``condition()`` holds; fail after ``T`` seconds."""
    deadline = time.monotonic() + T
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


def parked(q: BridgeQueue[Any], *, getters: int = 0, putters: int = 0, joiners: int = 0) -> None:
    """Wait (from a thread) until exactly these callers wait on ``q``."""
    def waiting() -> tuple[int, int, int]:
        s = q.statistics()
        return s.getters_waiting, s.putters_waiting, s.joiners_waiting

    until(lambda: waiting() == (getters, putters, joiners), f"parked as expected: {q!r}")


async def aparked(q: BridgeQueue[Any], *, getters: int = 0, putters: int = 0) -> None:
    """Wait (from a coroutine, letting others run) until these callers wait on ``q``."""
    deadline = time.monotonic() + T
    while (q.statistics().getters_waiting, q.statistics().putters_waiting) != (getters, putters):
        assert time.monotonic() < deadline, f"never parked as expected: {q!r}"
        await asyncio.sleep(0)


def started(target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
    """A started thread running ``target(*args)``.

    A daemon, so that a broken queue cannot keep the test run from exiting; ``joined()``
    checks that it really ended.
    """
    worker = threading.Thread(target=target, args=args, name=name, daemon=True)
    worker.start()
    return worker


def joined(*threads: threading.Thread) -> None:
    """Join each thread (within ``T``) and fail if one is still running."""
    for t in threads:
        t.join(T)
    assert not [t.name for t in threads if t.is_alive()], "threads still blocked"


# -- drop-in semantics -----------------------------------------------------------------------

def test_fifo_and_counters_are_shared_by_both_faces() -> None:
    q: BridgeQueue[int] = BridgeQueue(3)
    q.sync_q.put(1)
    q.async_q.put_nowait(2)
    q.sync_q.put_nowait(3)
    assert (q.sync_q.qsize(), q.async_q.qsize(), q.sync_q.full(), q.async_q.full()) == (3, 3,
                                                                                       True, True)
    assert (q.sync_q.maxsize, q.async_q.maxsize, q.maxsize) == (3, 3, 3)
    with pytest.raises(queue.Full):
        q.sync_q.put_nowait(4)
    with pytest.raises(asyncio.QueueFull):
        q.async_q.put_nowait(4)
    assert [q.async_q.get_nowait(), q.sync_q.get(timeout=T), q.sync_q.get_nowait()] == [1, 2, 3]
    assert q.sync_q.empty() and q.async_q.empty()
    with pytest.raises(queue.Empty):
        q.sync_q.get_nowait()
    with pytest.raises(asyncio.QueueEmpty):
        q.async_q.get_nowait()


def test_timeouts_raise_empty_and_full_and_leave_no_waiter() -> None:
    q: BridgeQueue[int] = BridgeQueue(1)
    start = time.monotonic()
    with pytest.raises(queue.Empty):
        q.sync_q.get(timeout=0.05)
    q.sync_q.put(1)
    with pytest.raises(queue.Full):
        q.sync_q.put(2, timeout=0.05)
    assert time.monotonic() - start >= 0.1
    with pytest.raises(queue.Full):
        q.sync_q.put(2, block=False, timeout=-1)  # as queue.Queue: no wait, no check
    assert q.statistics().getters_waiting == q.statistics().putters_waiting == 0
    assert q.sync_q.get(block=False) == 1


def test_task_done_and_join_on_both_faces() -> None:
    q: BridgeQueue[str] = BridgeQueue()
    for item in "ab":
        q.sync_q.put(item)
    with pytest.raises(TimeoutError, match="2 unfinished tasks"):
        q.sync_q.join(timeout=0.01)
    with loop_thread() as loop:
        # A thread and a task both wait in join() before any item is handled.
        waiter = started(q.sync_q.join, 10 * T, name="joiner")
        task = on(loop, q.async_q.join())
        parked(q, joiners=2)
        assert q.sync_q.get_nowait() == "a"
        q.sync_q.task_done()
        assert q.async_q.get_nowait() == "b"
        assert (waiter.is_alive(), task.done(), q.statistics().joiners_waiting) == (True, False,
                                                                                     2)
        q.async_q.task_done()  # the last one: both joins return
        joined(waiter)
        assert task.result(T) is None
    assert q.statistics().unfinished_tasks == 0


def test_task_done_called_too_often_raises_on_both_faces() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    q.async_q.put_nowait(1)
    q.sync_q.get()
    q.async_q.task_done()
    for face in (q.sync_q, q.async_q):
        with pytest.raises(ValueError, match="called too many times.*once per item"):
            face.task_done()


# -- threads ---------------------------------------------------------------------------------

def test_many_threads_each_item_once_in_fifo_order() -> None:
    q: BridgeQueue[tuple[int, int]] = BridgeQueue(3)
    got: dict[int, list[tuple[int, int]]] = {c: [] for c in range(4)}

    def producer(p: int) -> None:
        for i in range(200):
            q.sync_q.put((p, i), timeout=T)

    def consumer(c: int) -> None:
        with contextlib.suppress(ShutDown):
            while True:
                got[c].append(q.sync_q.get(timeout=T))

    consumers = [started(consumer, c, name=f"consumer-{c}") for c in range(4)]
    producers = [started(producer, p, name=f"producer-{p}") for p in range(4)]
    joined(*producers)
    q.shutdown()
    joined(*consumers)
    assert sorted(x for items in got.values() for x in items) == [(p, i) for p in range(4)
                                                                    for i in range(200)]
    for items in got.values():  # a FIFO queue hands each producer's items out in order
        for p in range(4):
            mine = [i for (pp, i) in items if pp == p]
            assert mine == sorted(mine)


def test_waiting_threads_and_coroutines_are_served_in_arrival_order() -> None:
    q: BridgeQueue[str] = BridgeQueue()
    with loop_thread() as loop:
        got: dict[str, str] = {}
        thread = started(lambda: got.setdefault("thread", q.sync_q.get(timeout=10 * T)),
                         name="thread-getter")
        parked(q, getters=1)
        task = on(loop, q.async_q.get())
        parked(q, getters=2)
        q.sync_q.put("first")  # wakes exactly one waiter: the first to have parked...
        until(q.empty, "the woken waiter took the item")  # ...which takes it alone
        q.sync_q.put("second")
        joined(thread)
        assert (got["thread"], task.result(T)) == ("first", "second")


# -- coroutines on several loops -------------------------------------------------------------

def test_a_thread_wakes_a_coroutine_on_an_idle_loop() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    with loop_thread() as loop:
        # Nothing else runs on that loop (no timer, no other task): only a thread-safe
        # wake-up can get the task going; a plain call_soon would leave it asleep.
        got = on(loop, q.async_q.get())
        parked(q, getters=1)
        q.sync_q.put(7)
        assert got.result(T) == 7


def test_several_loops_in_several_threads_at_once() -> None:
    q: BridgeQueue[tuple[str, int]] = BridgeQueue(5)

    async def consume() -> list[tuple[str, int]]:
        return [item async for item in q.async_q]

    async def produce(name: str) -> None:
        for i in range(100):
            await q.async_q.put((name, i))

    def produce_sync(name: str) -> None:
        for i in range(100):
            q.sync_q.put((name, i), timeout=T)

    with loop_thread("loop-0") as l0, loop_thread("loop-1") as l1, loop_thread("loop-2") as l2:
        consumers = [on(loop, consume()) for loop in (l0, l0, l1, l1, l2, l2)]
        threads = [started(produce_sync, f"thread-{k}", name=f"thread-{k}") for k in range(2)]
        coroutine = on(l1, produce("coroutine"))
        joined(*threads)
        coroutine.result(T)
        q.sync_q.shutdown()
        results = [c.result(T) for c in consumers]
    everything = sorted(x for r in results for x in r)
    assert everything == sorted((p, i) for p in ("thread-0", "thread-1", "coroutine")
                                for i in range(100))
    for r in results:
        for p in ("thread-0", "thread-1", "coroutine"):
            mine = [i for (pp, i) in r if pp == p]
            assert mine == sorted(mine)


# -- cancellation ------------------------------------------------------------------------------

def test_cancelled_get_takes_no_item() -> None:
    async def main() -> tuple[list[int], int]:
        q: BridgeQueue[int] = BridgeQueue()
        waiting = asyncio.create_task(q.async_q.get())
        await aparked(q, getters=1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        q.sync_q.put(1)
        return [await asyncio.wait_for(q.async_q.get(), T)], q.statistics().getters_waiting

    assert asyncio.run(main()) == ([1], 0)


def test_getter_cancelled_after_its_wake_up_passes_the_item_on() -> None:
    async def main() -> list[Any]:
        q: BridgeQueue[str] = BridgeQueue()
        first = asyncio.create_task(q.async_q.get(), name="first")
        second = asyncio.create_task(q.async_q.get(), name="second")
        await aparked(q, getters=2)
        q.async_q.put_nowait("item")  # wakes `first`: its future is resolved right now...
        first.cancel()  # ...and it is cancelled before it could run and take the item
        got = await asyncio.wait_for(second, T)
        return [first.cancelled(), got, q.qsize()]

    assert asyncio.run(main()) == [True, "item", 0]


def test_getter_cancelled_while_a_thread_wakes_it_passes_the_item_on() -> None:
    async def main() -> list[Any]:
        q: BridgeQueue[str] = BridgeQueue()
        first = asyncio.create_task(q.async_q.get(), name="first")
        second = asyncio.create_task(q.async_q.get(), name="second")
        await aparked(q, getters=2)
        # The thread pops `first` and posts its wake-up with call_soon_threadsafe; this loop
        # is held (joining) meanwhile, so the cancel below comes before the wake-up runs.
        joined(started(q.sync_q.put, "item", name="putter"))
        first.cancel()
        got = await asyncio.wait_for(second, T)
        return [first.cancelled(), got, q.qsize()]

    assert asyncio.run(main()) == [True, "item", 0]


def test_cancelled_put_adds_no_item_and_a_woken_one_passes_the_slot_on() -> None:
    async def main() -> list[Any]:
        q: BridgeQueue[str] = BridgeQueue(1)
        q.async_q.put_nowait("kept")
        first = asyncio.create_task(q.async_q.put("cancelled"))
        second = asyncio.create_task(q.async_q.put("second"))
        await aparked(q, putters=2)
        assert q.async_q.get_nowait() == "kept"  # frees the slot and wakes `first`...
        first.cancel()  # ...which is cancelled before it can use it
        await asyncio.wait_for(second, T)
        return [first.cancelled(), q.async_q.get_nowait(), q.qsize(),
                q.statistics().unfinished_tasks]

    assert asyncio.run(main()) == [True, "second", 0, 2]


def test_a_waiter_whose_loop_was_closed_is_skipped() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    with loop_thread() as loop:
        orphan = on(loop, q.async_q.get())
        parked(q, getters=1)
    # The loop is closed with its task still waiting; a thread queues behind it. The thread
    # waits far longer than the join below: only a wake-up, not its timeout, lets it go.
    got: list[int] = []
    thread = started(lambda: got.append(q.sync_q.get(timeout=10 * T)), name="getter")
    parked(q, getters=2)
    q.sync_q.put(1)
    thread.join(T)
    woken = not thread.is_alive()
    q.shutdown()  # releases the thread if the wake-up was lost, so nothing is left behind
    thread.join(T)
    assert woken and got == [1] and not orphan.done()


# -- shutdown --------------------------------------------------------------------------------

def test_shutdown_fails_puts_drains_gets_then_raises_on_both_faces() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    for i in range(3):
        q.sync_q.put(i)
    q.sync_q.shutdown()
    with pytest.raises(ShutDown):
        q.sync_q.put(9)
    with pytest.raises(QueueShutDown):
        q.async_q.put_nowait(9)
    with pytest.raises(QueueShutDown):
        asyncio.run(q.async_q.put(9))
    assert [q.sync_q.get(timeout=T), q.async_q.get_nowait(), asyncio.run(q.async_q.get())] == [
        0, 1, 2]
    with pytest.raises(ShutDown):
        q.sync_q.get(timeout=T)
    with pytest.raises(QueueShutDown):
        q.async_q.get_nowait()
    with pytest.raises(QueueShutDown):
        asyncio.run(q.async_q.get())
    assert q.is_shutdown and "shut down" in repr(q)


def test_shutdown_wakes_every_blocked_caller() -> None:
    full: BridgeQueue[int] = BridgeQueue(1)
    full.sync_q.put(0)
    empty: BridgeQueue[int] = BridgeQueue()
    outcome: list[str] = []

    def blocked(call: Callable[[], Any], name: str) -> None:
        try:
            call()
        except ShutDown:
            outcome.append(name)

    with loop_thread() as loop:
        tasks = [on(loop, empty.async_q.get()), on(loop, full.async_q.put(1))]
        # Far longer timeouts than the joins below: only the shutdown's wake-up lets them go.
        threads = [started(blocked, lambda: empty.sync_q.get(timeout=10 * T), "get", name="g"),
                   started(blocked, lambda: full.sync_q.put(1, timeout=10 * T), "put", name="p")]
        parked(empty, getters=2)
        parked(full, putters=2)
        empty.async_q.shutdown()
        full.shutdown()
        joined(*threads)
        for task in tasks:
            with pytest.raises(QueueShutDown):
                task.result(T)
    assert sorted(outcome) == ["get", "put"]
    assert full.sync_q.get_nowait() == 0  # gets still drain what was put before


def test_immediate_shutdown_discards_the_rest_and_releases_join() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    for i in range(4):
        q.sync_q.put(i)
    assert q.sync_q.get_nowait() == 0  # got, and not yet marked done
    with loop_thread() as loop:
        joined = on(loop, q.async_q.join())
        parked(q, joiners=1)
        q.async_q.shutdown(immediate=True)
        assert (q.qsize(), q.statistics().unfinished_tasks, joined.done()) == (0, 1, False)
        with pytest.raises(ShutDown):
            q.sync_q.get_nowait()
        q.sync_q.task_done()  # the one item got is done: join is released
        joined.result(T)
    q.sync_q.join(timeout=T)


def test_iteration_on_both_faces_ends_at_shutdown() -> None:
    q: BridgeQueue[int] = BridgeQueue(2)

    def produce() -> None:
        for i in range(10):
            q.sync_q.put(i, timeout=T)
        q.shutdown()

    async def consume() -> list[int]:
        producer = started(produce, name="producer")
        got = [item async for item in q.async_q]
        joined(producer)
        return got

    assert asyncio.run(consume()) == list(range(10))
    q2: BridgeQueue[str] = BridgeQueue()
    for item in "abc":
        q2.async_q.put_nowait(item)
    q2.async_q.shutdown()
    assert list(q2.sync_q) == ["a", "b", "c"]


def test_shutdown_exceptions_are_the_stdlib_ones_on_313() -> None:
    if sys.version_info >= (3, 13):
        assert (ShutDown, QueueShutDown) == (queue.ShutDown, asyncio.QueueShutDown)
    else:
        assert (ShutDown.__name__, QueueShutDown.__name__) == ("ShutDown", "QueueShutDown")
    assert not issubclass(ShutDown, QueueShutDown) and not issubclass(QueueShutDown, ShutDown)


# -- observation -----------------------------------------------------------------------------

class Recorder:
    """An observer that keeps every event, in the order it was reported."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float, str, str, str]] = []

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        raise AssertionError("queues report events only")

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        self.events.append((kind, time, sender, receiver, label))


def test_observer_sees_a_send_and_a_receive_per_item_got() -> None:
    recorder, trace = Recorder(), Trace()
    q: BridgeQueue[str] = BridgeQueue(observer=recorder)
    traced: BridgeQueue[str] = BridgeQueue(observer=trace, label=str.upper)

    def producer() -> None:
        q.sync_q.put("a")
        q.sync_q.put("b")
        traced.sync_q.put("x")

    async def consumer() -> str:
        return await q.async_q.get()

    joined(started(producer, name="producer"))

    async def main() -> str:
        return await asyncio.create_task(consumer(), name="consumer")

    assert asyncio.run(main()) == "a"
    with queues.as_worker("main"):
        assert q.sync_q.get_nowait() == "b"
        assert traced.sync_q.get_nowait() == "x"
    assert [e[:1] + e[2:] for e in recorder.events] == [
        ("send", "producer", "consumer", "'a'"), ("receive", "producer", "consumer", "'a'"),
        ("send", "producer", "main", "'b'"), ("receive", "producer", "main", "'b'")]
    sent_a, got_a, sent_b, got_b = (e[1] for e in recorder.events)
    assert sent_a <= sent_b <= got_a <= got_b  # sends at put time, receives at get time
    arrows = plots.messages(trace.events)
    assert [(m.sender, m.receiver, m.label) for m in arrows] == [("producer", "main", "X")]


def test_no_observer_means_the_bare_deque_operations() -> None:
    for observer in (None, NULL_OBSERVER):
        q: BridgeQueue[int] = BridgeQueue(observer=observer)
        assert (q._push, q._pop) == (q._items.append, q._items.popleft)
        q.sync_q.put(1)
        assert list(q._items) == [1]


# -- bad input: each error says what was wrong and what to do ----------------------------------

@pytest.mark.parametrize("maxsize", ["3", 2.5, None, True])
def test_maxsize_must_be_an_int(maxsize: Any) -> None:
    with pytest.raises(TypeError, match=r"maxsize must be an int \(0 or less for no bound\)"):
        BridgeQueue(maxsize)


def test_negative_or_non_numeric_timeouts_are_refused() -> None:
    q: BridgeQueue[int] = BridgeQueue(1)
    q.sync_q.put(1)
    for call in (lambda: q.sync_q.get(timeout=-1), lambda: q.sync_q.put(2, timeout=-0.5),
                 lambda: q.sync_q.join(timeout=-1)):
        with pytest.raises(ValueError, match="non-negative.*timeout=None to wait"):
            call()
    with pytest.raises(TypeError, match="timeout must be a number of seconds or None"):
        q.sync_q.get(timeout="1")  # type: ignore[arg-type]


def test_put_after_shutdown_says_to_stop_producing() -> None:
    q: BridgeQueue[int] = BridgeQueue()
    q.shutdown()
    with pytest.raises(ShutDown, match="shut down.*stop producing"):
        q.sync_q.put(1)
    with pytest.raises(QueueShutDown, match="shut down.*stop producing"):
        q.async_q.put_nowait(1)


def test_awaiting_async_q_outside_a_loop_points_to_sync_q() -> None:
    empty: BridgeQueue[int] = BridgeQueue()
    full: BridgeQueue[int] = BridgeQueue(1)
    full.sync_q.put(1)
    # A coroutine driven by hand (no loop running in this thread) that has to wait:
    for coro, instead in ((empty.async_q.get(), r"q\.sync_q\.get\(\)"),
                          (full.async_q.put(2), r"q\.sync_q\.put\(\)"),
                          (full.async_q.join(), r"q\.sync_q\.join\(timeout\)")):
        with pytest.raises(RuntimeError, match=f"running in an event loop.*use {instead}"):
            coro.send(None)
        coro.close()
    assert (empty.qsize(), full.qsize(), full.statistics().putters_waiting) == (0, 1, 0)


def test_as_worker_wants_a_name() -> None:
    with pytest.raises(TypeError, match="worker name must be a str"):
        queues.as_worker(3).__enter__()  # type: ignore[arg-type]


def test_repr_and_statistics_show_live_state() -> None:
    q: BridgeQueue[int] = BridgeQueue(2, name="jobs")
    q.sync_q.put(1)
    with loop_thread() as loop:
        q.sync_q.put(2)
        blocked = on(loop, q.async_q.put(3))
        parked(q, putters=1)
        s = q.statistics()
        assert (s.qsize, s.maxsize, s.unfinished_tasks, s.putters_waiting, s.loops_waiting,
                s.is_shutdown) == (2, 2, 2, 1, 1, False)
        assert repr(q) == ("<BridgeQueue 'jobs' maxsize=2 qsize=2 unfinished=2 getters=0 "
                           "putters=1 loops=1>")
        assert repr(q.sync_q).startswith("<sync_q of <BridgeQueue 'jobs'")
        q.sync_q.get_nowait()
        blocked.result(T)
