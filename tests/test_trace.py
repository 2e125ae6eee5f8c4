"""Tests of conclab.trace: the recorder, and that "run" spans show what really ran.

The structure the course relies on: threads under the GIL never run at once and take turns,
and coroutines in one loop never overlap and switch only at an ``await``. How long a turn
lasts and whether two processes overlap are timing, which the benchmarks measure.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from conclab import machine, workloads
from conclab.trace import Event, Span, Trace, watch_tasks


# -- the recorder ---------------------------------------------------------------------------

def sample() -> Trace:
    trace = Trace()
    trace.span("b", "run", 2.0, 4.0, "cpu")
    trace.span("a", "run", 0.0, 3.0, "cpu")
    trace.span("a", "wait", 3.0, 5.0, "io")
    trace.span("a", "run", 5.0, 6.0)
    trace.span("b", "run", 5.5, 7.0)
    trace.event("send", 1.0, "a", "b", "msg")
    trace.event("receive", 2.5, "a", "b", "msg")
    return trace


def test_spans_sorted_and_workers_in_order_of_appearance():
    trace = sample()
    assert [(s.worker, s.start) for s in trace.spans] == [
        ("a", 0.0), ("b", 2.0), ("a", 3.0), ("a", 5.0), ("b", 5.5)]
    assert trace.workers == ["b", "a"]
    assert trace.spans[0] == Span("a", "run", 0.0, 3.0, "cpu") and trace.spans[0].duration == 3.0
    assert trace.events == [Event("send", 1.0, "a", "b", "msg"),
                            Event("receive", 2.5, "a", "b", "msg")]
    assert (trace.start, trace.end, len(trace)) == (0.0, 7.0, 7)
    assert Trace().start is None and Trace().end is None and len(Trace()) == 0


def test_busy_time_overlap_and_handovers():
    trace = sample()
    assert trace.busy_time("a") == pytest.approx(4.0)
    assert trace.busy_time("b") == pytest.approx(3.5)
    assert trace.overlap("a", "b") == pytest.approx(1.0 + 0.5)
    assert trace.overlap("a", "nobody") == 0.0
    assert trace.handovers() == 3  # a, b, a, b
    assert trace.turns() == [Span("a", "run", 0.0, 3.0, "cpu"), Span("b", "run", 2.0, 4.0, "cpu"),
                             Span("a", "run", 5.0, 6.0), Span("b", "run", 5.5, 7.0)]
    again = Trace()
    for start in (0.0, 1.0, 2.0):
        again.span("a", "run", start, start + 0.5)
    again.span("b", "run", 3.0, 4.0)
    assert again.turns() == [Span("a", "run", 0.0, 2.5), Span("b", "run", 3.0, 4.0)]
    assert (trace.handovers("a"), trace.handovers("b")) == (1, 2)


def test_json_round_trip():
    trace = sample()
    again = Trace.from_json(trace.to_json())
    assert (again.spans, again.events, again.workers) == (trace.spans, trace.events, trace.workers)
    with pytest.raises(ValueError):
        Trace.from_json('{"format": "something else"}')


def test_repr_shows_live_state():
    assert repr(sample()) == "<Trace 2 workers, 5 spans, 2 events, 7000.0 ms>"
    assert repr(Trace()) == "<Trace 0 workers, 0 spans, 0 events>"


def test_recording_from_many_threads_loses_nothing():
    trace = Trace()
    go = threading.Event()

    def writer(name: str) -> None:
        go.wait(5)
        for i in range(2000):
            trace.span(name, "run", i, i + 1)

    # A switch every microsecond: a recorder that updated its list without the lock (read,
    # add, write back) would lose spans here; one that appends under the lock never does.
    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(10)
    finally:
        sys.setswitchinterval(old)
    assert len(trace) == 8000 and sorted(trace.workers) == ["w0", "w1", "w2", "w3"]


# -- threads under the GIL take turns -------------------------------------------------------
# How long a turn lasts is timing, measured by the benchmarks (``python -m conclab.bench``);
# these tests check the structure that holds under any load.

@pytest.mark.skipif(not machine.gil_enabled(),
                    reason="the GIL is off (free-threaded build): threads really run at once")
@pytest.mark.parametrize("interval", [0.001, 0.005])
def test_threads_under_the_gil_never_run_at_once_and_take_turns(interval):
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        trace = Trace()
        workloads.run("thread", "cpu", 2, seconds=0.1 + 15 * interval, observer=trace,
                      timeout=60)
    finally:
        sys.setswitchinterval(old)
    # Measured runs lie inside the real ones, so they cannot overlap (allow a rounding hair).
    assert trace.overlap("thread-0", "thread-1") < 1e-4
    turns = trace.turns()
    assert trace.handovers() == len(turns) - 1 >= 10
    assert {t.worker for t in turns} == {"thread-0", "thread-1"}


# -- coroutines in one loop never overlap and switch only at await --------------------------

def test_coroutines_switch_only_at_await():
    trace = Trace()
    steps = Trace()  # what the interpreter's profiling hook saw, independently of spin()

    async def worker(name: str, work: float) -> None:
        for _ in range(3):
            await workloads.aspin(work, worker=name, observer=trace, label="cpu")
            await workloads.apause(0, worker=name, observer=trace, label="await")

    async def main() -> None:
        with watch_tasks(steps):
            async with asyncio.TaskGroup() as group:
                for i, work in enumerate([0.004, 0.012, 0.008]):  # mixed amounts of work
                    group.create_task(worker(f"c{i}", work), name=f"c{i}")

    asyncio.run(main())
    names = ["c0", "c1", "c2"]
    # Never two at once, and the loop's FIFO order: each runs until its await, then the next.
    for a in names:
        for b in names:
            if a < b:
                assert trace.overlap(a, b) == 0.0
    taken = [(t.worker, t.start, t.end) for t in trace.turns()]
    assert [w for w, _, _ in taken] == names * 3
    # Each turn ends at that coroutine's await: its next span is the await's wait span.
    spans = trace.spans
    for who, _, end in taken:
        after = [s for s in spans if s.worker == who and s.start >= end]
        assert after[0].state == "wait" and after[0].label == "await"
    # The profiling hook agrees: every step of every task ended at an await or at its return,
    # and each step contains exactly one turn of measured running.
    task_steps = [s for s in steps.spans]
    assert [s.worker for s in task_steps] == names * 4
    assert [s.label.startswith("await line") for s in task_steps] == [True] * 9 + [False] * 3
    for (who, start, end), step in zip(taken, task_steps):
        assert step.worker == who and step.start <= start and end <= step.end


def test_watch_tasks_restores_the_previous_profiler_and_ignores_other_threads():
    seen = Trace()

    async def main() -> None:
        with watch_tasks(seen):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        assert sys.getprofile() is None

    def elsewhere() -> None:
        workloads.spin(0.01)

    other = threading.Thread(target=elsewhere)
    other.start()
    asyncio.run(main())
    other.join(10)
    # One whole step of main lies inside the block: resumed after the first sleep, suspended
    # at the second. The other thread's spin is not a task step of this loop.
    (step,) = seen.spans
    assert step.worker.startswith("Task-") and step.label.startswith("await line")
    assert sys.getprofile() is None


def test_run_coroutines_mixed_never_overlap():
    trace = Trace()
    workloads.run("coroutine", "mixed", 3, seconds=0.1, observer=trace, timeout=30)
    names = trace.workers
    assert len(names) == 3
    assert all(trace.overlap(a, b) == 0.0 for a in names for b in names if a != b)


def test_watch_tasks_records_only_the_tasks_asked_about():
    # A stand-in for the kernel's own tasks: a neighbour that shares the loop and takes
    # turns between ours, as JupyterLab's message handlers do.
    async def main() -> tuple[list[str], list[str]]:
        stop = asyncio.Event()

        async def neighbour() -> None:
            while not stop.is_set():
                await asyncio.sleep(0)

        async def polite() -> None:
            for _ in range(2):
                await asyncio.sleep(0)

        other = asyncio.create_task(neighbour(), name="Task-118")
        ours, everything = Trace(), Trace()
        with watch_tasks(ours, only={"t0", "t1", "t2"}), watch_tasks(everything):
            async with asyncio.TaskGroup() as group:
                for i in range(3):
                    group.create_task(polite(), name=f"t{i}")
        stop.set()
        await other
        return [s.worker for s in ours.runs()], everything.workers

    ours, everything = asyncio.run(main())
    assert ours == ["t0", "t1", "t2"] * 3
    assert "Task-118" in everything and {"t0", "t1", "t2"} <= set(everything)
    with pytest.raises(TypeError, match="only=\\{'t0'\\}"):
        with watch_tasks(Trace(), only="t0"):
            pass
