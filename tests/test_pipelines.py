"""conclab.pipelines: the children of chapter 05 and the hand-over timings of four queues.

The children's protocols are tested in-process first (they take any object with the queue
API), exactly, then once in a real child under every start method. Timings are checked for
what they promise (a positive time for the work asked, everything stopped afterwards), never
for speed: that is for benchmarks.
"""

from __future__ import annotations

import pickle
import queue
import threading
from typing import Any

import pytest

from conclab import lifecycle, pipelines
from conclab.pipelines import _timings
from conclab.queues import ProcessQueue, ShutDown

T = 10.0  # seconds: the bound on every wait in these tests


def _fed(*items: Any) -> queue.Queue[Any]:
    """A queue.Queue holding ``items``, in order."""
    q: queue.Queue[Any] = queue.Queue()
    for item in items:
        q.put(item)
    return q


def _drain(q: Any) -> list[Any]:
    """Everything in a queue.Queue now, in order."""
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_answer_echoes_unpickles_and_counts_exactly() -> None:
    echo = queue.Queue()
    pipelines.answer(_fed(1, "two", [3], None), echo, "echo")
    assert _drain(echo) == [1, "two", [3]]
    sizes = queue.Queue()
    pipelines.answer(_fed(pickle.dumps(b"abc"), pickle.dumps([0] * 5), None), sizes, "unpickle")
    answers = _drain(sizes)
    assert [n for n, _ in answers] == [3, 5]
    assert all(0 < seconds < T for _, seconds in answers)
    counts = queue.Queue()
    pipelines.answer(_fed(..., 1, 2, 3, ..., ..., 7, None), counts, "count")
    assert _drain(counts) == [0, 3, 0]  # the 7 after the last Ellipsis is never reported


def test_answer_refuses_an_unknown_reply() -> None:
    with pytest.raises(ValueError, match="'echo', 'unpickle' or 'count'"):
        pipelines.answer(_fed(None), queue.Queue(), "shout")


def test_square_jobs_marks_every_item_done_the_sentinel_included() -> None:
    tasks, results = _fed(2, 3, None), queue.Queue()
    pipelines.square_jobs(tasks, results)
    assert _drain(results) == [(2, 4), (3, 9)]
    assert tasks.unfinished_tasks == 0  # so a join() returns


def test_square_jobs_in_a_child_lets_join_return(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    tasks, results = ctx.JoinableQueue(), ctx.Queue()
    child = ctx.Process(target=pipelines.square_jobs, args=(tasks, results))
    child.start()
    try:
        for n in (1, 2, 3, None):
            tasks.put(n)
        joiner = threading.Thread(target=tasks.join, daemon=True)
        joiner.start()
        joiner.join(T)
        assert not joiner.is_alive(), "join() did not return: an item was not marked done"
        assert sorted(results.get(timeout=T) for _ in range(3)) == [(1, 1), (2, 4), (3, 9)]
        child.join(T)
        assert child.exitcode == 0
    finally:
        lifecycle.stop_processes([child])


@pytest.mark.parametrize("cancel_join", [False, True])
def test_put_and_return_keeps_the_child_alive_until_read_unless_cancelled(
        start_method: str, cancel_join: bool) -> None:
    ctx = lifecycle.get_context(start_method)
    q, returned = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=pipelines.put_and_return, args=(q, 1_000_000, returned),
                        kwargs={"cancel_join": cancel_join})
    child.start()
    try:
        assert returned.wait(T), "the child never returned from its function"
        if cancel_join:
            child.join(T)  # nothing reads: it exits all the same, losing the item
            assert child.exitcode == 0
        else:
            # Its function returned; the process waits on its feeder thread for ever.
            child.join(0.3)
            assert child.is_alive() and child.exitcode is None
            assert len(q.get(timeout=T)) == 1_000_000  # read it: now it can finish
            child.join(T)
            assert child.exitcode == 0
    finally:
        lifecycle.stop_processes([child])
        q.close()
        q.join_thread()


def test_put_items_exits_once_everything_is_read() -> None:
    ctx = lifecycle.get_context()
    q = ctx.Queue()
    child = ctx.Process(target=pipelines.put_items, args=(q, 3, 200_000))
    child.start()
    try:
        items = [q.get(timeout=T) for _ in range(3)]
        child.join(T)
        assert [len(i) for i in items] == [200_000] * 3 and child.exitcode == 0
    finally:
        lifecycle.stop_processes([child])


def test_produce_then_shut_down_ends_every_consumer_after_the_last_item(
        start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    with ProcessQueue[int](method=start_method) as pq:
        child = ctx.Process(target=pipelines.produce_then_shut_down, args=(pq, 4, 0.0))
        child.start()
        try:
            got = [pq.get(timeout=T) for _ in range(4)]
            with pytest.raises(ShutDown):
                pq.get(timeout=T)
            child.join(T)
            assert got == [0, 1, 2, 3] and child.exitcode == 0
        finally:
            lifecycle.stop_processes([child])


@pytest.mark.parametrize("kind", list(pipelines.KINDS))
def test_each_kind_times_round_trips_and_streams_and_stops_what_it_started(kind: str) -> None:
    threads = set(threading.enumerate())
    trip = pipelines.round_trips(kind, 20)
    flow = pipelines.stream(kind, 200)
    assert 0 < trip < T and 0 < flow < T
    assert set(threading.enumerate()) <= threads  # the autouse fixture checks children too


def test_process_timings_use_the_start_method_asked_for(start_method: str) -> None:
    assert pipelines.round_trips("multiprocessing.Queue", 5, method=start_method) > 0


def test_process_stream_checks_the_count_it_gets_back() -> None:
    class Liar:
        """A child that answers, and miscounts by one."""

        def __init__(self) -> None:
            self.inbox, self.outbox = queue.Queue(), queue.Queue()
            self.items = 0

        def feed(self) -> None:
            self.outbox.put(0)  # the warm-up's answer
            self.inbox.get()
            while self.inbox.get() is not ...:
                self.items += 1
            self.outbox.put(self.items - 1)

    liar = Liar()
    helper = threading.Thread(target=liar.feed)
    helper.start()
    try:
        with pytest.raises(RuntimeError, match="counted 4 items, not 5"):
            _timings._process_stream(liar, 5)  # type: ignore[arg-type]
    finally:
        helper.join(T)


def test_compare_keeps_each_kind_s_best_time_in_the_order_given() -> None:
    calls: list[str] = []
    rows = pipelines.compare({"asyncio.Queue": 10, "multiprocessing.Queue": 5},
                             {"asyncio.Queue": 50, "multiprocessing.Queue": 20},
                             rounds=2, progress=calls.append)
    assert calls == ["asyncio.Queue", "multiprocessing.Queue"] * 2
    assert [r.kind for r in rows] == ["asyncio.Queue", "multiprocessing.Queue"]
    assert [(r.round_trips, r.items) for r in rows] == [(10, 50), (5, 20)]
    assert all(r.round_trip_seconds > 0 and r.stream_seconds > 0 for r in rows)


def test_compare_keeps_the_shortest_of_the_rounds(monkeypatch) -> None:
    trips, flows = iter([0.3, 0.1, 0.2]), iter([0.5, 0.6, 0.4])
    monkeypatch.setattr(_timings, "round_trips", lambda kind, n: next(trips))
    monkeypatch.setattr(_timings, "stream", lambda kind, n: next(flows))
    (row,) = pipelines.compare({"queue.Queue": 10}, {"queue.Queue": 20}, rounds=3)
    assert (row.round_trip_seconds, row.stream_seconds) == (0.1, 0.4)


def test_timing_derives_its_figures_from_its_own_measurements() -> None:
    row = pipelines.Timing("queue.Queue", 100, 0.002, 1000, 0.004)
    assert row.between == "thread to thread"
    assert row.round_trip_us == pytest.approx(20.0)
    assert row.items_per_second == pytest.approx(250_000)


def test_bad_input_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        pipelines.round_trips("Queue", 10)
    with pytest.raises(ValueError, match="n must be an int > 0"):
        pipelines.stream("queue.Queue", 0)
    with pytest.raises(ValueError, match="same kinds"):
        pipelines.compare({"queue.Queue": 1}, {"asyncio.Queue": 1})
    with pytest.raises(ValueError, match="rounds must be"):
        pipelines.compare({"queue.Queue": 1}, {"queue.Queue": 1}, rounds=0)


def test_a_child_interrupted_while_starting_closes_its_queues(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from conclab.pipelines import _timings

    child = _timings._Child("echo", None)

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(child.process, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with child:
            raise AssertionError("the with block must not be entered")
    assert child.inbox._reader.closed and child.outbox._reader.closed
