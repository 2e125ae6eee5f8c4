"""Tests for conclab.coro: the generator-actor decorator, task storms, the lag probe and
running a coroutine on a fresh loop in a worker thread.

Nothing here asserts that something was fast: only what is guaranteed whatever the load (a
loop blocked for d seconds wakes a sleeper at least d minus its interval late; a live task
holds more memory than nothing).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import tracemalloc

import pytest

from conclab import coro
from conclab.trace import Trace


# --- primed ------------------------------------------------------------------------------------

def test_primed_actor_takes_messages_at_once_and_sees_close() -> None:
    log: list[str] = []

    @coro.primed
    def recorder(name: str):
        try:
            while True:
                message = yield
                log.append(f"{name} got {message}")
        except GeneratorExit:
            log.append(f"{name} closed")

    actor = recorder("r")
    assert log == []  # primed: at its first yield, nothing received yet
    actor.send(1)
    actor.send(2)
    actor.close()
    assert log == ["r got 1", "r got 2", "r closed"]
    assert recorder.__name__ == "recorder"
    with pytest.raises(StopIteration):
        actor.send(3)


def test_unprimed_generator_refuses_a_message() -> None:
    def plain():
        yield

    with pytest.raises(TypeError, match="just-started"):
        plain().send("too early")


# --- task_storm --------------------------------------------------------------------------------

def test_task_storm_runs_every_task_and_leaves_none() -> None:
    async def main() -> tuple[coro.Storm, int]:
        storm = await coro.task_storm(2_000)
        return storm, len(asyncio.all_tasks())

    storm, alive = asyncio.run(main())
    assert alive == 1  # only main() itself
    assert storm.n == 2_000
    assert storm.bytes_per_task is None
    assert min(storm.create_seconds, storm.start_seconds, storm.finish_seconds) > 0
    assert storm.total_seconds == pytest.approx(
        storm.create_seconds + storm.start_seconds + storm.finish_seconds)
    assert storm.create_us == pytest.approx(storm.create_seconds / 2_000 * 1e6)


def test_task_storm_memory_is_measured_and_tracing_restored() -> None:
    assert not tracemalloc.is_tracing()
    storm = asyncio.run(coro.task_storm(1_000, memory=True))
    assert not tracemalloc.is_tracing()
    # A parked task holds at least its Task object, its coroutine and frame, and a waiter
    # future: far more than 200 bytes, far less than a thread's stack.
    assert storm.bytes_per_task is not None
    assert 200 < storm.bytes_per_task < 100_000


def test_task_storm_leaves_tracing_on_if_it_was_on() -> None:
    tracemalloc.start()
    try:
        storm = asyncio.run(coro.task_storm(500, memory=True))
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert storm.bytes_per_task is not None and storm.bytes_per_task > 200


def test_task_storm_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    asyncio.run(coro.task_storm(100))
    assert gc.isenabled()
    gc.disable()
    try:
        asyncio.run(coro.task_storm(100))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_task_storm_refuses_zero() -> None:
    with pytest.raises(ValueError):
        asyncio.run(coro.task_storm(0))


# --- LagProbe ----------------------------------------------------------------------------------

def test_probe_sees_a_blocking_call_and_reports_it() -> None:
    trace = Trace()

    async def main() -> coro.LagProbe:
        async with coro.LagProbe(0.005, worker="probe", observer=trace) as probe:
            time.sleep(0.1)  # blocks the loop: the probe cannot wake until this returns
        return probe

    probe = asyncio.run(main())
    stats = probe.statistics()
    assert stats.samples == len(probe.lags) >= 1
    assert stats.max_lag >= 0.1 - 0.005
    spans = [(s.worker, s.state, s.label) for s in trace.spans]
    assert spans == [("probe", "wait", "late")] * stats.samples
    assert "stopped" in repr(probe)


def test_probe_counts_one_sample_per_wakeup_while_awaiting() -> None:
    async def main() -> coro.LagProbe:
        async with coro.LagProbe(0.005) as probe:
            while len(probe.lags) < 3:
                await asyncio.sleep(0.001)
        return probe

    probe = asyncio.run(main())
    assert probe.statistics().samples == len(probe.lags) >= 3
    assert all(lag >= 0 for lag in probe.lags)


def test_probe_stops_when_the_body_raises() -> None:
    async def main() -> int:
        with pytest.raises(KeyError):
            async with coro.LagProbe(0.005):
                raise KeyError("boom")
        return len(asyncio.all_tasks())

    assert asyncio.run(main()) == 1


def test_probe_passes_on_its_callers_cancellation() -> None:
    async def body(ready: asyncio.Event) -> None:
        async with coro.LagProbe(0.005):
            ready.set()
            await asyncio.sleep(10)

    async def main() -> tuple[bool, int]:
        ready = asyncio.Event()
        task = asyncio.create_task(body(ready))
        await asyncio.wait_for(ready.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled(), len(asyncio.all_tasks())

    assert asyncio.run(main()) == (True, 1)


def test_probe_cannot_be_entered_twice() -> None:
    async def main() -> None:
        probe = coro.LagProbe()
        async with probe:
            pass
        with pytest.raises(RuntimeError):
            async with probe:
                pass

    asyncio.run(main())


def test_probe_rejects_a_bad_interval() -> None:
    with pytest.raises(ValueError):
        coro.LagProbe(0)


# --- run_in_fresh_loop -------------------------------------------------------------------------

async def _blocks_then_answers(seconds: float) -> int:
    time.sleep(seconds)
    await asyncio.sleep(0)
    return 42


def test_fresh_loop_returns_the_result_and_runs_in_another_thread() -> None:
    async def where() -> tuple[str, bool]:
        return threading.current_thread().name, asyncio.get_running_loop().get_debug()

    assert coro.run_in_fresh_loop(where).result == ("fresh-loop", False)
    assert coro.run_in_fresh_loop(where, debug=True).result == ("fresh-loop", True)


def test_fresh_loop_works_from_inside_a_running_loop() -> None:
    async def main() -> int:
        return coro.run_in_fresh_loop(_blocks_then_answers, 0.0).result

    assert asyncio.run(main()) == 42


def test_debug_mode_reports_the_slow_step() -> None:
    logger = logging.getLogger("asyncio")
    before = (logger.propagate, list(logger.handlers))
    run = coro.run_in_fresh_loop(_blocks_then_answers, 0.05, debug=True,
                                 slow_callback_duration=0.01)
    assert run.result == 42
    assert len(run.warnings) == 1 and run.warnings[0].startswith("Executing <Task")
    assert "_blocks_then_answers" in run.warnings[0]
    assert len(run.slow_steps) == 1 and run.slow_steps[0] >= 0.05
    assert (logger.propagate, list(logger.handlers)) == before


def test_without_debug_mode_nothing_is_reported() -> None:
    run = coro.run_in_fresh_loop(_blocks_then_answers, 0.05, slow_callback_duration=0.01)
    assert run.result == 42 and run.warnings == [] and run.slow_steps == []


def test_fresh_loop_reraises_and_shuts_down_to_thread_workers() -> None:
    async def uses_to_thread() -> None:
        await asyncio.to_thread(time.sleep, 0)
        raise LookupError("after to_thread")

    with pytest.raises(LookupError, match="after to_thread"):
        coro.run_in_fresh_loop(uses_to_thread)
    # the autouse fixture then checks that the default executor's thread is gone


def test_fresh_loop_times_out() -> None:
    async def sleepy(stop: threading.Event) -> None:
        stop.wait(5)

    stop = threading.Event()
    try:
        with pytest.raises(TimeoutError):
            coro.run_in_fresh_loop(sleepy, stop, timeout=0.05)
    finally:
        stop.set()
        for t in threading.enumerate():
            if t.name == "fresh-loop":
                t.join(5)


def test_fresh_loop_keeps_only_its_own_threads_warnings() -> None:
    def other() -> None:
        logging.getLogger("asyncio").warning("from another thread")

    async def main() -> str:
        elsewhere = threading.Thread(target=other)
        elsewhere.start()
        elsewhere.join(5)
        logging.getLogger("asyncio").warning("from the fresh loop's thread")
        return "ok"

    run = coro.run_in_fresh_loop(main)
    assert run.result == "ok"
    assert run.warnings == ["from the fresh loop's thread"]
