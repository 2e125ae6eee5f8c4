"""Tests for conclab.eventloop: the generator-actor decorator, task storms, the hand-over and
the lag probe.

Nothing here asserts that something was fast: only what is guaranteed whatever the load (a
loop blocked for d seconds wakes a sleeper at least d minus its interval late; a live task
holds more memory than nothing).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import tracemalloc

import pytest

from conclab import eventloop
from conclab.trace import Trace


# --- primed ------------------------------------------------------------------------------------

def test_primed_actor_takes_messages_at_once_and_sees_close() -> None:
    log: list[str] = []

    @eventloop.primed
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
    async def main() -> tuple[eventloop.Storm, int]:
        storm = await eventloop.task_storm(2_000)
        return storm, len(asyncio.all_tasks())

    storm, alive = asyncio.run(main())
    assert alive == 1  # only main() itself
    assert storm.n == 2_000
    assert storm.bytes_per_task is None
    assert min(storm.create_seconds, storm.start_seconds, storm.finish_seconds) > 0
    # One thread's CPU time cannot outrun the wall clock over the same stretch.
    assert storm.cpu_seconds is not None
    assert 0 < storm.cpu_seconds <= storm.total_seconds + 1e-3


def test_storm_figures_per_task() -> None:
    storm = eventloop.Storm(4, create_seconds=0.1, start_seconds=0.2, finish_seconds=0.3)
    assert storm.total_seconds == pytest.approx(0.6)
    assert storm.create_us == pytest.approx(25_000)  # 0.1 s over 4 tasks
    assert storm.run_us == pytest.approx(125_000)  # (0.2 + 0.3) s over 4 tasks
    assert storm.cpu_us is None
    busy = eventloop.Storm(4, 0.1, 0.2, 0.3, cpu_seconds=0.4)
    assert busy.cpu_us == pytest.approx(100_000)  # 0.4 s of CPU over 4 tasks


def test_task_storm_memory_is_measured_and_tracing_restored() -> None:
    assert not tracemalloc.is_tracing()
    storm = asyncio.run(eventloop.task_storm(1_000, memory=True))
    assert not tracemalloc.is_tracing()
    # A parked task holds at least its Task object, its coroutine and frame, and a waiter
    # future: far more than 200 bytes, far less than a thread's stack.
    assert storm.bytes_per_task is not None
    assert 200 < storm.bytes_per_task < 100_000


def test_task_storm_leaves_tracing_on_if_it_was_on() -> None:
    tracemalloc.start()
    try:
        storm = asyncio.run(eventloop.task_storm(500, memory=True))
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert storm.bytes_per_task is not None and storm.bytes_per_task > 200


def test_task_storm_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    asyncio.run(eventloop.task_storm(100))
    assert gc.isenabled()
    gc.disable()
    try:
        asyncio.run(eventloop.task_storm(100))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_task_storm_refuses_zero() -> None:
    with pytest.raises(ValueError):
        asyncio.run(eventloop.task_storm(0))


# --- handover ----------------------------------------------------------------------------------

def test_handover_counts_every_turn_and_divides_by_it() -> None:
    # A clock that ticks once per read: each repeat reads it twice (a's first step, b's last
    # step), so each figure is exactly one tick over the hand-overs counted.
    ticks = itertools.count()
    result = asyncio.run(eventloop.handover(50, repeats=3, clock=lambda: float(next(ticks))))
    assert result.rounds == 50
    assert result.handovers == 2 * 50 + 1  # a, b, a, b ... 51 steps each
    assert result.samples == (1 / 101,) * 3
    assert result.seconds == pytest.approx(1 / 101)
    assert result.ns == pytest.approx(1e9 / 101)


def test_handover_alternates_even_beside_a_busy_neighbour_and_leaves_no_task() -> None:
    async def neighbour(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(0)  # a third task in the ready queue between every turn

    async def main() -> tuple[eventloop.Handover, int]:
        stop = asyncio.Event()
        other = asyncio.create_task(neighbour(stop))
        result = await eventloop.handover(20, repeats=2)
        stop.set()
        await asyncio.wait_for(other, 5)
        return result, len(asyncio.all_tasks())

    result, alive = asyncio.run(main())
    assert result.handovers == 41  # the neighbour's steps fall between, never among, the turns
    assert len(result.samples) == 2 and all(s > 0 for s in result.samples)
    assert alive == 1


def test_handover_refuses_nothing_to_measure() -> None:
    with pytest.raises(ValueError):
        asyncio.run(eventloop.handover(0))
    with pytest.raises(ValueError):
        asyncio.run(eventloop.handover(10, repeats=0))


# --- LagProbe ----------------------------------------------------------------------------------

def test_probe_sees_a_blocking_call_and_reports_it() -> None:
    trace = Trace()

    async def main() -> eventloop.LagProbe:
        async with eventloop.LagProbe(0.005, worker="probe", observer=trace) as probe:
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
    async def main() -> eventloop.LagProbe:
        async with eventloop.LagProbe(0.005) as probe:
            while len(probe.lags) < 3:
                await asyncio.sleep(0.001)
        return probe

    probe = asyncio.run(main())
    assert probe.statistics().samples == len(probe.lags) >= 3
    assert all(lag >= 0 for lag in probe.lags)


def test_probe_stops_when_the_body_raises() -> None:
    async def main() -> int:
        with pytest.raises(KeyError):
            async with eventloop.LagProbe(0.005):
                raise KeyError("boom")
        return len(asyncio.all_tasks())

    assert asyncio.run(main()) == 1


def test_probe_passes_on_its_callers_cancellation() -> None:
    async def body(ready: asyncio.Event) -> None:
        async with eventloop.LagProbe(0.005):
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
        probe = eventloop.LagProbe()
        async with probe:
            pass
        with pytest.raises(RuntimeError):
            async with probe:
                pass

    asyncio.run(main())


def test_probe_rejects_a_bad_interval() -> None:
    with pytest.raises(ValueError):
        eventloop.LagProbe(0)
