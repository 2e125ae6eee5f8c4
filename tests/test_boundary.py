"""conclab.boundary: what crosses a process boundary, under every start method."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from conclab import boundary, workloads

CELL_NAME = "conclab_test_cell_worker"
ANONYMOUS = lambda x: x  # noqa: E731 - module level, as in a cell: pickle looks it up by name


def _cell_worker(x: int) -> int:
    """Stands in for a function defined in a notebook cell (see the fixture below)."""
    return x + 1


@pytest.fixture
def cell_worker(monkeypatch: pytest.MonkeyPatch):
    """A function that lives only in this process's ``__main__``, as a notebook cell's does.

    The parent can pickle it (by reference to ``__main__``); a spawned child has a different
    ``__main__`` and cannot find it; a forked child has a copy of the parent's memory and can.
    """
    monkeypatch.setattr(_cell_worker, "__module__", "__main__")
    monkeypatch.setattr(_cell_worker, "__qualname__", CELL_NAME)
    monkeypatch.setattr(sys.modules["__main__"], CELL_NAME, _cell_worker, raising=False)
    return _cell_worker


def test_call_in_child_runs_a_package_function(start_method: str) -> None:
    outcome = boundary.call_in_child(boundary.square, 7, method=start_method)
    assert (outcome.ok, outcome.value, outcome.method) == (True, 49, start_method)
    assert str(outcome) == "49"


def test_a_cell_defined_worker_reaches_only_a_forked_child(start_method: str, cell_worker) -> None:
    outcome = boundary.call_in_child(cell_worker, 1, method=start_method)
    if start_method == "fork":
        assert outcome.value == 2
    else:
        # The wording varies between Python versions; the type and the name do not.
        assert outcome.where == "child"
        assert outcome.error.startswith("AttributeError: ") and CELL_NAME in outcome.error


def test_a_lambda_fails_in_the_parent_before_any_child_starts(start_method: str) -> None:
    before = multiprocessing.active_children()
    outcome = boundary.call_in_child(ANONYMOUS, 1, method=start_method)
    assert outcome.where == "parent"
    assert outcome.error.startswith("PicklingError: ") and "<lambda>" in outcome.error
    assert multiprocessing.active_children() == before


def test_an_unpicklable_result_fails_in_the_child(start_method: str) -> None:
    outcome = boundary.call_in_child(boundary.returns_lock, method=start_method)
    assert outcome.where == "child"
    assert outcome.error == ("TypeError: cannot pickle '_thread.lock' object "
                             "(pickling the result)")


def test_an_exception_in_the_child_comes_back_as_text(start_method: str) -> None:
    outcome = boundary.call_in_child(boundary.square, "x", method=start_method)
    assert not outcome.ok
    assert outcome.error == "TypeError: can't multiply sequence by non-int of type 'str'"
    assert str(outcome) == outcome.error + " (in the child)"


def test_a_stuck_child_is_killed_after_the_timeout(start_method: str) -> None:
    outcome = boundary.call_in_child(time.sleep, 600, method=start_method, timeout=0.2)
    assert outcome.where == "timeout"
    assert outcome.error == "TimeoutError: no outcome within 0.2 s"
    # The autouse fixture in conftest.py fails the test if the child is still alive.


def test_a_child_copies_or_reimports_memory_but_never_shares_it(start_method: str) -> None:
    before = boundary.counter()
    assert boundary.bump() == before + 1
    outcome = boundary.call_in_child(boundary.bump, method=start_method)
    # fork copies the parent's counter; spawn and forkserver import the module afresh.
    assert outcome.value == (before + 2 if start_method == "fork" else 1)
    assert boundary.counter() == before + 1


# Python 3.12+ warns when a multi-threaded process forks: that is the point of this test.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_held_lock_stays_held_only_in_a_forked_child(start_method: str) -> None:
    assert boundary.child_sees_lock_free(start_method, timeout=0.2) is (start_method != "fork")
    assert boundary._LOCK.acquire(timeout=5)  # and the parent's holder let go
    boundary._LOCK.release()


def test_start_times_are_one_positive_duration_per_start(start_method: str) -> None:
    times = boundary.start_times(start_method, 2)
    assert len(times) == 2 and all(t > 0 for t in times)


def test_thread_start_times() -> None:
    times = boundary.thread_start_times(3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_timed_busy_in_a_pool_reports_the_child_and_the_same_checksum(start_method: str) -> None:
    ctx = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        spans = list(pool.map(boundary.timed_busy, [1000, 2000], timeout=60))
    assert [s.label for s in spans] == [str(workloads.burn(1000)), str(workloads.burn(2000))]
    assert all(s.worker != f"pid {os.getpid()}" and s.worker.startswith("pid ") for s in spans)
    assert all(0 <= s.duration == s.end - s.start and s.state == "run" for s in spans)


def test_pickle_report() -> None:
    import threading

    assert boundary.pickle_report([1, 2, 3]).startswith("ok, ")
    assert boundary.pickle_report(boundary.square).startswith("ok, ")
    assert boundary.pickle_report(threading.Lock()) == ("TypeError: cannot pickle "
                                                     "'_thread.lock' object")
    assert boundary.pickle_report(x for x in "ab") == "TypeError: cannot pickle 'generator' object"


def test_a_pool_replaces_children_that_die_on_arrival(start_method: str, cell_worker) -> None:
    ctx = multiprocessing.get_context(start_method)
    started, arrived = ctx.Value("i", 0), ctx.Semaphore(0)
    # Under spawn/forkserver each child dies unpickling the task and the pool replaces it, so
    # the result never comes: map() would wait for ever, get(timeout) raises.
    with ctx.Pool(1, initializer=boundary.count_and_silence,
                  initargs=(started, arrived)) as pool:
        result = pool.map_async(cell_worker, [1])
        if start_method == "fork":
            assert result.get(timeout=60) == [2]
        else:
            with pytest.raises(multiprocessing.TimeoutError):
                result.get(timeout=1.5)
            # The first child died unpickling the task; the pool starts another in its place.
            assert arrived.acquire(timeout=60) and arrived.acquire(timeout=60)
    assert started.value == 1 if start_method == "fork" else started.value >= 2


def test_send_pid_reports_the_child_through_a_queue(start_method: str) -> None:
    ctx = multiprocessing.get_context(start_method)
    queue = ctx.Queue()
    child = ctx.Process(target=boundary.send_pid, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=30) == child.pid != os.getpid()
    finally:
        child.join(30)
        queue.close()
        queue.join_thread()
    assert child.exitcode == 0


def test_start_times_take_a_standard_library_target(start_method: str) -> None:
    times = boundary.start_times(start_method, 1, target=os.getpid)
    assert len(times) == 1 and times[0] > 0


def test_ready_pool_has_every_worker_started_before_it_is_handed_out(start_method: str) -> None:
    with boundary.ready_pool(2, start_method) as pool:
        # A lazily started executor would hold one process after its first tasks at most.
        processes = list(pool._processes.values())
        assert len(processes) == 2 and all(p.is_alive() for p in processes)
        trips = boundary.round_trips(pool, 3)
    assert len(trips) == 3 and all(t > 0 for t in trips)


class _FakePool:
    """Stands in for an executor: map() runs in this process, optionally getting it wrong."""

    def __init__(self, wrong: bool = False) -> None:
        self.wrong, self.calls = wrong, []

    def map(self, fn, items, timeout=None):
        items = list(items)
        self.calls.append(len(items))
        return [fn(x) + self.wrong for x in items]


def test_granularity_times_each_size_in_rounds_alone_and_pooled() -> None:
    pool = _FakePool()
    grains = boundary.granularity(pool, [10, 20], tasks=10, rounds=4)
    assert [(g.units, g.tasks) for g in grains] == [(10, 10), (20, 10)]
    assert pool.calls == [3, 3, 2, 2] * 2  # ten tasks in four rounds, per size
    assert all(g.serial > 0 and g.pooled > 0 for g in grains)
    assert grains[0].task_seconds == grains[0].serial / 10
    assert grains[0].speedup == grains[0].serial / grains[0].pooled


def test_granularity_stops_before_a_size_that_would_overrun_its_budget() -> None:
    grains = boundary.granularity(_FakePool(), [10, 10**7], tasks=2, budget=0.5)
    assert [g.units for g in grains] == [10]  # 10**7 units, scaled from 10, would take far longer


def test_granularity_refuses_a_pool_that_computes_something_else() -> None:
    with pytest.raises(AssertionError, match="something else"):
        boundary.granularity(_FakePool(wrong=True), [10], tasks=2)


def test_granularity_through_a_real_pool() -> None:
    with boundary.ready_pool(1, "spawn") as pool:
        grains = boundary.granularity(pool, [100, 200], tasks=4, rounds=2)
    assert [g.units for g in grains] == [100, 200] and all(g.pooled > 0 for g in grains)


def _grain(seconds: float, speedup: float) -> boundary.Grain:
    return boundary.Grain(1, 1, seconds, seconds / speedup)


def test_crossover_interpolates_on_a_log_scale_of_task_duration() -> None:
    grains = [_grain(1e-5, 0.2), _grain(1e-4, 0.5), _grain(1e-3, 1.5), _grain(1e-2, 1.9)]
    # halfway from 0.5 to 1.5 is 1.0: halfway between 1e-4 and 1e-3 on a log scale
    assert boundary.crossover(grains) == pytest.approx(10 ** -3.5)
    assert boundary.crossover(grains[2:]) == 1e-3  # already paying off at the smallest size
    assert boundary.crossover(grains[:2]) is None  # never paid off
    assert boundary.crossover([]) is None
