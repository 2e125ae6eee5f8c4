"""conclab.queues.ProcessQueue: processes to coroutines, shutdown across processes.

The children's targets live at module level so that spawn and forkserver children can import
them. Tests synchronise on the queue's own state and on multiprocessing events, never on time.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

import pytest

from conclab import lifecycle
from conclab.queues import ProcessQueue, QueueShutDown, ShutDown

T = 10.0  # seconds: the bound on every wait (spawned children take ~0.1 s to start)


def produce_then_shut_down(pq: ProcessQueue[int], n: int) -> None:
    """Child: put 0..n-1, then shut the queue down for everyone."""
    for i in range(n):
        pq.put(i)
    pq.shutdown()


def shut_down(pq: ProcessQueue[Any], immediate: bool) -> None:
    """Child: shut the queue down."""
    pq.shutdown(immediate)


def produce_after(pq: ProcessQueue[Any], go: Any, item: Any) -> None:
    """Child: wait for ``go``, then put ``item``."""
    if go.wait(T):
        pq.put(item)


def fill(pq: ProcessQueue[bytes], n: int, size: int, filled: Any) -> None:
    """Child: put n items of ``size`` bytes (more than a pipe holds), say so, then exit."""
    for _ in range(n):
        pq.put(b"x" * size)
    filled.set()  # most of it still sits in this process's feeder thread, waiting for room


def put_after_shutdown(pq: ProcessQueue[int], answers: Any) -> None:
    """Child: try to put into a shut-down queue, and report what happened."""
    try:
        pq.put(1)
        answers.put("put worked")
    except ShutDown as exc:
        answers.put(f"ShutDown: {exc}")


def _run(children: list[Any]) -> None:
    for child in children:
        child.start()


def _watching(pq: ProcessQueue[Any], loop: asyncio.AbstractEventLoop) -> int:
    """How many tasks of ``loop`` wait on ``pq``."""
    return pq._readers.waiting(loop)


async def _until_waiting(pq: ProcessQueue[Any], n: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + T
    while _watching(pq, loop) != n:
        assert time.monotonic() < deadline, f"tasks never parked: {pq!r}"
        await asyncio.sleep(0)


def test_a_coroutine_awaits_a_child_and_the_child_s_shutdown_ends_it(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    with ProcessQueue[int](method=start_method) as pq:
        child = ctx.Process(target=produce_then_shut_down, args=(pq, 50))

        async def consume() -> list[int]:
            child.start()  # the task below waits for the child's first item
            return [item async for item in pq]

        try:
            assert asyncio.run(asyncio.wait_for(consume(), T)) == list(range(50))
            with pytest.raises(ShutDown):
                pq.get(timeout=T)
        finally:
            lifecycle.stop_processes([child])
    assert child.exitcode == 0


def test_cancelled_wait_leaves_no_thread_and_loses_no_item(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    go = ctx.Event()
    threads_before = set(threading.enumerate())
    with ProcessQueue[str](method=start_method) as pq:
        child = ctx.Process(target=produce_after, args=(pq, go, "late"))
        child.start()
        try:
            async def main() -> str:
                loop = asyncio.get_running_loop()
                waiting = asyncio.create_task(pq.aget())
                await _until_waiting(pq, 1)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                # Nothing is left of the wait: no task, no watch on the pipe, no thread.
                watched = pq._readers.fd in loop._selector.get_map()
                assert (_watching(pq, loop), watched) == (0, False)
                assert set(threading.enumerate()) == threads_before
                go.set()
                return await asyncio.wait_for(pq.aget(), T)

            assert asyncio.run(main()) == "late"
        finally:
            go.set()
            lifecycle.stop_processes([child])


def test_task_cancelled_just_after_its_wake_up_leaves_the_item_to_the_next() -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        with ProcessQueue[str]() as pq:
            first = asyncio.create_task(pq.aget(), name="first")
            second = asyncio.create_task(pq.aget(), name="second")
            await _until_waiting(pq, 2)
            pq.put("item")
            assert pq._queue._reader.poll(T)  # readable now: the next loop pass wakes `first`
            # Runs first in that pass and queues the cancel behind the wake-up of `first`:
            loop.call_soon(lambda: loop.call_soon(first.cancel))
            got = await asyncio.wait_for(second, T)
            result = [first.cancelled(), got, pq.qsize()]
            pq.shutdown()
            return result

    assert asyncio.run(main()) == [True, "item", 0]


def test_shutdown_in_a_child_wakes_every_consumer_without_counting_them() -> None:
    ctx = lifecycle.get_context()
    with ProcessQueue[int]() as pq:
        outcome: list[str] = []

        def thread_consumer() -> None:
            try:
                while True:  # waits far longer than the join below: shutdown must wake it
                    outcome.append(f"thread got {pq.get(timeout=3 * T)}")
            except ShutDown:
                outcome.append("thread: ShutDown")

        async def task_consumer(name: str) -> str:
            try:
                return f"{name} got {await pq.aget()}"
            except QueueShutDown:
                return f"{name}: QueueShutDown"

        async def main() -> list[str]:
            tasks = [asyncio.create_task(task_consumer(f"task-{i}")) for i in range(2)]
            await _until_waiting(pq, 2)
            thread = threading.Thread(target=thread_consumer, name="consumer")
            thread.start()
            child = ctx.Process(target=shut_down, args=(pq, False))
            child.start()
            try:
                results = await asyncio.wait_for(asyncio.gather(*tasks), T)
            finally:
                lifecycle.stop_processes([child])
            thread.join(T)
            assert not thread.is_alive()
            return sorted(results)

        results = asyncio.run(main())
    assert results + outcome == ["task-0: QueueShutDown", "task-1: QueueShutDown",
                                 "thread: ShutDown"]


def test_put_after_shutdown_fails_in_a_child_too() -> None:
    ctx = lifecycle.get_context()
    answers = ctx.SimpleQueue()
    with ProcessQueue[int]() as pq:
        pq.shutdown()
        with pytest.raises(ShutDown, match="stop producing"):
            pq.put(1)
        child = ctx.Process(target=put_after_shutdown, args=(pq, answers))
        child.start()
        try:
            child.join(T)
        finally:
            lifecycle.stop_processes([child])
        assert answers.get().startswith("ShutDown: the queue was shut down")
    answers.close()


def test_immediate_shutdown_discards_what_is_left() -> None:
    with ProcessQueue[int]() as pq:
        for i in range(3):
            pq.put(i)
        assert pq.get(timeout=T) == 0
        pq.shutdown(immediate=True)
        assert pq.qsize() == 0
        with pytest.raises(ShutDown):
            pq.get(timeout=T)
        with pytest.raises(QueueShutDown):
            asyncio.run(pq.aget())
        assert "shut down immediately" in repr(pq)


def test_a_reader_already_in_the_pipe_drops_what_an_immediate_shutdown_left() -> None:
    with ProcessQueue[str]() as pq:
        pq.put("left over")
        pq.shutdown(immediate=True)
        # As for a get that passed its shutdown check just before the shutdown came and
        # then found the item in the pipe: it must drop the item, not return it.
        checks = iter([False])
        pq._finished = lambda: next(checks, True)  # type: ignore[method-assign]
        with pytest.raises(ShutDown):
            pq.get(timeout=T)
        del pq._finished


def test_gets_drain_after_a_plain_shutdown_then_iteration_ends() -> None:
    with ProcessQueue[int]() as pq:
        for i in range(3):
            pq.put(i)
        pq.shutdown()
        assert list(pq) == [0, 1, 2]
        assert pq.empty()


def test_bounded_put_times_out_and_wakes_on_shutdown() -> None:
    with ProcessQueue[int](1) as pq:
        pq.put(1)
        with pytest.raises(queue.Full):
            pq.put(2, timeout=0.05)
        with pytest.raises(queue.Full):
            pq.put_nowait(2)
        assert pq.full() and pq.qsize() == 1
        outcome: list[str] = []

        def blocked() -> None:
            try:
                pq.put(3, timeout=3 * T)  # far longer than the join below: shutdown must wake it
            except ShutDown:
                outcome.append("ShutDown")

        thread = threading.Thread(target=blocked, name="putter")
        thread.start()
        pq.shutdown()
        thread.join(T)
        assert outcome == ["ShutDown"] and not thread.is_alive()
        assert list(pq) == [1]


def test_close_is_bounded_and_lets_a_child_with_unread_items_exit() -> None:
    ctx = lifecycle.get_context()
    pq = ProcessQueue[bytes]()
    filled = ctx.Event()
    child = ctx.Process(target=fill, args=(pq, 100, 4096, filled))  # 400 KiB: > the pipe
    child.start()
    try:
        assert filled.wait(T)
        assert len(pq.get(timeout=T)) == 4096
        start = time.monotonic()
        pq.close(timeout=2.0)
        assert time.monotonic() - start < 2.5
        child.join(T)
        assert child.exitcode == 0
    finally:
        lifecycle.stop_processes([child])


def die_holding_the_lock(pq: ProcessQueue[Any]) -> None:
    """Child: take the queue's shared lock and die without giving it back (as a kill mid-put)."""
    import os
    pq._lock.acquire()
    os._exit(3)


def test_a_child_that_died_holding_the_lock_makes_calls_fail_not_hang(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from conclab.queues import _process
    monkeypatch.setattr(_process, "_LOCK_PATIENCE", 0.2)
    ctx = lifecycle.get_context()
    pq = ProcessQueue[int]()
    child = ctx.Process(target=die_holding_the_lock, args=(pq,))
    child.start()
    try:
        child.join(T)
        assert child.exitcode == 3
        for call in (lambda: pq.put(1), lambda: pq.get(timeout=T), pq.shutdown):
            start = time.monotonic()
            with pytest.raises(RuntimeError, match="killed while it held it"):
                call()
            assert time.monotonic() - start < T / 2
        start = time.monotonic()
        pq.close()  # a with block around the queue still ends
        assert time.monotonic() - start < T / 2
    finally:
        lifecycle.stop_processes([child])


def test_close_ends_even_when_an_interrupted_get_left_the_pipe_unreadable() -> None:
    pq = ProcessQueue[int]()
    pq._queue._writer.send_bytes(b"")  # what a get interrupted mid-message leaves: not a pickle
    pq.close()  # discards without raising: a with block interrupted in a get still ends cleanly
    with pytest.raises(ShutDown):
        pq.get_nowait()


class Recorder:
    """An observer that keeps (kind, time, sender, receiver, label) in the order reported."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float, str, str, str]] = []

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        raise AssertionError("queues report events only")

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        self.events.append((kind, time, sender, receiver, label))


def test_observer_names_the_child_that_put_and_the_task_that_got() -> None:
    ctx = lifecycle.get_context()
    recorder = Recorder()
    with ProcessQueue[int](observer=recorder) as pq:
        child = ctx.Process(target=produce_then_shut_down, args=(pq, 2), name="producer")
        child.start()
        try:
            async def main() -> list[int]:
                return [item async for item in pq]

            async def named() -> list[int]:
                return await asyncio.create_task(main(), name="consumer")

            assert asyncio.run(asyncio.wait_for(named(), T)) == [0, 1]
        finally:
            lifecycle.stop_processes([child])
    assert [e[:1] + e[2:] for e in recorder.events] == [
        ("send", "producer", "consumer", "0"), ("receive", "producer", "consumer", "0"),
        ("send", "producer", "consumer", "1"), ("receive", "producer", "consumer", "1")]
    sent_0, got_0, sent_1, got_1 = (e[1] for e in recorder.events)
    assert sent_0 <= sent_1 and sent_0 <= got_0 <= got_1  # one clock across processes


def test_bad_input_says_what_to_do() -> None:
    with pytest.raises(TypeError, match="maxsize must be an int"):
        ProcessQueue("2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not available here; use one of"):
        ProcessQueue(method="nonsense")
    with ProcessQueue[Any]() as pq:
        with pytest.raises(ValueError, match="non-negative.*timeout=None"):
            pq.get(timeout=-1)
        with pytest.raises((TypeError, AttributeError), match="pickle"):
            pq.put(threading.Lock())  # fails here, not silently in the feeder thread
        assert pq.qsize() == 0
        coro = pq.aget()
        with pytest.raises(RuntimeError, match=r"use ProcessQueue\.get\(timeout=\.\.\.\)"):
            coro.send(None)
        coro.close()


def test_close_refuses_while_tasks_still_wait() -> None:
    async def main() -> str:
        pq = ProcessQueue[int]()
        task = asyncio.create_task(pq.aget())
        await _until_waiting(pq, 1)
        with pytest.raises(RuntimeError, match="still await aget"):
            pq.close()
        with pytest.raises(QueueShutDown):
            await asyncio.wait_for(task, T)
        pq.close()
        return repr(pq)

    assert "shut down immediately" in asyncio.run(main())
