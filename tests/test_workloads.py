"""Tests of conclab.workloads: sized work, measured spans, and run() for every model."""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import sys
import threading

import pytest

from conclab import workloads
from conclab.trace import Trace
from conclab.hooks import clock
from conclab.workloads import run


class Recorder:
    """An observer that also notes when each span arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[tuple] = []
        self.events: list[tuple] = []
        self.arrived: list[float] = []

    def span(self, worker, state, start, end, label=""):
        with self.lock:
            self.spans.append((worker, state, start, end, label))
            self.arrived.append(clock())

    def event(self, kind, time, sender, receiver, label=""):
        with self.lock:
            self.events.append((kind, time, sender, receiver, label))


def assert_tiles(spans: list[tuple]) -> None:
    """One worker's spans follow each other, never two waits in a row, runs at most ~50 ms.

    The hole between a wait and the next run (the time the second report took) is timing,
    not structure: it is not checked.
    """
    for prev, cur in zip(spans, spans[1:]):
        assert cur[2] >= prev[3], "spans of one worker overlap"
        assert not (cur[1] == prev[1] == "wait"), "two wait spans in a row"
    assert all(s[3] - s[2] < 0.06 for s in spans if s[1] == "run")


def test_calibrate_is_cached_and_positive():
    rate = workloads.calibrate()
    assert rate > 10_000
    assert workloads.calibrate() == rate


def test_spin_does_the_sized_amount_of_work():
    rate = workloads.calibrate()
    assert workloads.spin(0.01) == round(0.01 * rate)
    assert workloads.spin(0) == 0


def test_spin_reports_measured_run_and_wait_spans():
    rec = Recorder()
    t0 = clock()
    workloads.spin(0.15, worker="w", observer=rec, label="cpu")
    t1 = clock()
    assert rec.spans, "spin reported nothing"
    assert {s[0] for s in rec.spans} == {"w"} and {s[4] for s in rec.spans} == {"cpu"}
    assert rec.spans[0][1] == "run" and rec.spans[-1][1] == "run"
    assert t0 <= rec.spans[0][2] and rec.spans[-1][3] <= t1
    assert_tiles(rec.spans)


def test_spin_shows_the_gap_while_another_thread_holds_the_gil():
    # While spin runs, another thread sleeps then holds the GIL in pure Python for ~30 ms:
    # spin must report a wait span covering most of that. The turns must be long enough for
    # the detector to see (it counts a gap as a wait above a slice plus 100 us): under a
    # switch interval of a few microseconds (`make stress` sets one) the hog's hold is cut
    # into gaps too short to be waits, so this test fixes the default interval for its run.
    rec = Recorder()
    started = threading.Event()

    def hog():
        started.wait(5)
        workloads.spin(0.03)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    other = threading.Thread(target=hog)
    other.start()
    try:
        started.set()
        workloads.spin(0.1, worker="w", observer=rec)
    finally:
        other.join(10)
        sys.setswitchinterval(interval)
    waits = [s for s in rec.spans if s[1] == "wait"]
    assert sum(s[3] - s[2] for s in waits) > 0.01
    assert_tiles(rec.spans)


def test_pause_reports_one_wait_span():
    rec = Recorder()
    workloads.pause(0.02, worker="io-0", observer=rec, label="read")
    ((worker, state, start, end, label),) = rec.spans
    assert (worker, state, label) == ("io-0", "wait", "read") and end - start >= 0.02


def test_deadline_stops_spin_and_pause():
    with pytest.raises(TimeoutError):
        workloads.spin(10, deadline=clock() + 0.05)
    t0 = clock()
    with pytest.raises(TimeoutError):
        workloads.pause(10, deadline=clock() + 0.05)
    assert clock() - t0 < 1


def test_coroutine_versions():
    rec = Recorder()

    async def main():
        await workloads.aspin(0.01, worker="c", observer=rec)
        await workloads.apause(0.01, worker="c", observer=rec, label="await")

    asyncio.run(main())
    assert rec.spans[-1][1] == "wait" and rec.spans[-1][4] == "await"
    assert any(s[1] == "run" for s in rec.spans)


def test_work_functions_pickle_by_reference():
    for fn in (workloads.spin, workloads.pause, workloads.aspin, workloads.apause):
        assert pickle.loads(pickle.dumps(fn)) is fn


@pytest.mark.parametrize("model", ["thread", "coroutine"])
@pytest.mark.parametrize("workload", ["cpu", "io", "mixed"])
def test_run_in_this_process(model, workload):
    trace = Trace()
    result = run(model, workload, 3, seconds=0.05, observer=trace, timeout=30)
    assert (result.model, result.workload, result.workers) == (model, workload, 3)
    assert result.start_method is None and result.elapsed >= 0.05
    assert sorted(trace.workers) == [f"{model}-{i}" for i in range(3)]
    for name in trace.workers:
        spans = [(s.worker, s.state, s.start, s.end, s.label) for s in trace.spans
                 if s.worker == name]
        if workload == "io":
            assert [s[1] for s in spans] == ["wait"]
        else:
            assert [s[4] for s in spans].count("io") == (5 if workload == "mixed" else 0)


def test_run_processes_stream_spans_live(start_method):
    rec = Recorder()
    result = run("process", "mixed", 2, seconds=0.2, observer=rec,
                 start_method=start_method, timeout=60)
    assert result.start_method == start_method
    assert {s[0] for s in rec.spans} == {"process-0", "process-1"}
    for name in ("process-0", "process-1"):
        assert [s[4] for s in rec.spans if s[0] == name and s[1] == "wait"].count("io") == 5
    # Live: the first span reached the parent long before the last one ended.
    assert rec.arrived[0] < max(s[3] for s in rec.spans) - 0.05


def test_run_processes_fill_a_trace(start_method):
    # A Trace has a length, so an empty one is falsy: it must still receive the spans.
    tr = Trace()
    run("process", "cpu", 2, seconds=0.02, observer=tr, start_method=start_method, timeout=60)
    assert sorted(tr.workers) == ["process-0", "process-1"]


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError):
        run("fiber", "cpu", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run("thread", "disk", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run("thread", "cpu", 0)
    with pytest.raises(ValueError):
        run("thread", "cpu", 1, seconds=float("nan"))


@pytest.mark.parametrize("model", ["thread", "coroutine"])
def test_run_timeout_stops_in_process_workers(model):
    t0 = clock()
    with pytest.raises(TimeoutError):
        run(model, "cpu", 2, seconds=30, timeout=0.3)
    assert clock() - t0 < 5


def test_run_timeout_stops_processes(start_method):
    t0 = clock()
    with pytest.raises(TimeoutError):
        run("process", "cpu", 2, seconds=30, start_method=start_method, timeout=1.0)
    assert clock() - t0 < 15


def test_relay_forwards_spans_and_events_from_a_child(start_method):
    ctx = multiprocessing.get_context(start_method)
    rec = Recorder()
    with workloads.Relay(rec, ctx) as relay:
        relay.observer.event("send", clock(), "main", "child", "go")
        child = ctx.Process(target=workloads.pause, args=(0.01,),
                            kwargs={"worker": "child", "observer": relay.observer})
        child.start()
        child.join(30)
        assert child.exitcode == 0
    assert [s[:2] for s in rec.spans] == [("child", "wait")]
    assert [e[0] for e in rec.events] == ["send"]
    assert "stopped" in repr(relay)


def test_burn_is_deterministic_and_depends_on_units() -> None:
    assert workloads.burn(0) == 1
    assert workloads.burn(2) == ((1 * 1103515245 + 12345) & 0x7FFFFFFF) * 1103515245 + 12345 \
        & 0x7FFFFFFF
    assert workloads.burn(5000) == workloads.burn(5000) != workloads.burn(5001)


def test_units_for_scales_with_the_wanted_duration() -> None:
    assert workloads.units_for(0) == 0
    assert workloads.units_for(1.0) == round(workloads.calibrate())
    assert workloads.units_for(0.5) == round(0.5 * workloads.calibrate())
    with pytest.raises(ValueError, match="seconds must be"):
        workloads.units_for(-1)


def test_spin_does_exactly_the_units_asked_for() -> None:
    assert workloads.spin(units=12_345) == 12_345
    with pytest.raises(ValueError, match="not both"):
        workloads.spin(0.1, units=10)
    with pytest.raises(ValueError, match="seconds=... or units=..."):
        workloads.spin()


def _dies_at_once(*args) -> None:
    import os

    os._exit(3)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the patched target reaches the child only by fork")
def test_a_worker_process_that_dies_before_it_works_fails_the_run_at_once(monkeypatch):
    # Not at the run's deadline (60 s): a kernel interrupt that reaches the children, or a
    # child that cannot import its target, must not hold the notebook for a minute.
    monkeypatch.setattr(workloads, "_process_main", _dies_at_once)
    started = clock()
    with pytest.raises(RuntimeError, match=r"ended before it started working: process-\d "
                                           r"\(exit code 3\)"):
        run("process", "cpu", 2, seconds=0.01, start_method="fork", timeout=60)
    assert clock() - started < 20
