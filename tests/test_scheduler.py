"""Tests of conclab.scheduler: exact interleavings for every trap, cancellation at every trap,
sockets (an exact-order socketpair and a real echo server on 127.0.0.1), observer output,
the stepper's snapshot, and the errors for misuse.

Each test records ``(label, item)`` pairs and compares them with the exact expected list. A
``ManualClock`` makes sleeps instant and their times exact; nothing here sleeps to synchronise.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from conclab.hooks import NULL_OBSERVER
from conclab.scheduler import (Cancelled, ManualClock, Queue, Scheduler, State, cancel, join,
                               sleep, spawn, wait_readable, wait_writable)

Log = list[tuple[str, Any]]


def counter(name: str, n: int, log: Log):
    """Append (name, i) for i in range(n), handing control back after each."""
    for i in range(n):
        log.append((name, i))
        yield


def run(*gens: Any, clock: ManualClock | None = None, **kw: Any) -> Scheduler:
    """Spawn ``gens`` on a new scheduler (a fresh ManualClock by default), run it, close it."""
    with Scheduler(ManualClock() if clock is None else clock, **kw) as s:
        for gen in gens:
            s.spawn(gen)
        s.run(timeout=5)
    return s


class Recorder:
    """An observer that keeps every call, in call order (Trace would sort them by time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        self.calls.append(("span", worker, state, start, end, label))

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        self.calls.append(("event", kind, time, sender, receiver, label))


# -- taking turns ---------------------------------------------------------------------------

def test_bare_yields_take_turns_round_robin() -> None:
    log: Log = []
    run(counter("a", 3, log), counter("b", 2, log), counter("c", 1, log))
    assert log == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("a", 2)]


def test_a_spawned_child_joins_the_back_of_the_queue_and_is_joined() -> None:
    log: Log = []

    def child():
        log.append(("child", "runs"))
        yield
        return "done"

    def parent():
        tid = yield from spawn(child(), name="kid")
        log.append(("parent", tid))  # spawn never blocks: the parent runs on
        yield
        log.append(("parent", "after yield"))
        log.append(("parent", (yield from join(tid))))

    run(parent(), counter("other", 2, log))
    assert log == [("parent", 3), ("other", 0), ("child", "runs"), ("parent", "after yield"),
                   ("other", 1), ("parent", "done")]


def test_step_runs_one_task_step_and_reports_state() -> None:
    log: Log = []
    with Scheduler(ManualClock()) as s:
        s.spawn(counter("a", 2, log))
        s.spawn(counter("b", 1, log))
        assert s.state() == State(0.0, 0, ("task-1", "task-2"), (), (), None, ())
        assert s.step() is True and log == [("a", 0)]
        assert s.state().ready == ("task-2", "task-1") and s.state().last == "task-1"
        assert s.step() and s.step() and log == [("a", 0), ("b", 0), ("a", 1)]
        assert s.state().ready == ("task-2", "task-1") and s.state().finished == ()
        assert s.step() is True and s.state().finished == ("task-2",)
        assert s.step() is False and s.state() == State(0.0, 5, (), (), (), "task-1",
                                                        ("task-2", "task-1"))
        assert s.step() is False  # nothing left: still no error


# -- sleeping -------------------------------------------------------------------------------

def test_sleepers_wake_in_time_order_at_their_exact_times_without_waiting() -> None:
    clock, log = ManualClock(), []

    def sleeper(name: str, seconds: float):
        yield from sleep(seconds)
        log.append((name, clock()))

    started = time.perf_counter()
    run(sleeper("long", 60.0), sleeper("short", 0.25), sleeper("tie", 0.25),
        counter("busy", 2, log), clock=clock)
    assert log == [("busy", 0), ("busy", 1), ("short", 0.25), ("tie", 0.25), ("long", 60.0)]
    assert time.perf_counter() - started < 1.0  # a minute of sleep took no real time


def test_a_sleeper_does_not_wake_before_its_time() -> None:
    clock, log = ManualClock(), []

    def sleeper():
        yield from sleep(1.0)
        log.append(("sleeper", clock()))

    with Scheduler(clock) as s:
        s.spawn(sleeper())
        s.step()
        assert s.state().sleeping == (("task-1", 1.0),)
        clock.advance(0.9)  # just before its time: a step must not wake it
        s.spawn(counter("other", 1, log))
        assert s.step() and log == [("other", 0)]
        assert s.step() and log == [("other", 0)] and s.state().sleeping == (("task-1", 1.0),)
        s.run(timeout=5)
    assert log == [("other", 0), ("sleeper", 1.0)]


def test_sleep_zero_lets_every_ready_task_go_first() -> None:
    log: Log = []

    def polite():
        log.append(("polite", "before"))
        yield from sleep(0)
        log.append(("polite", "after"))

    run(polite(), counter("a", 2, log), counter("b", 2, log))
    assert log == [("polite", "before"), ("a", 0), ("b", 0), ("polite", "after"),
                   ("a", 1), ("b", 1)]


def test_real_clock_sleep_waits_in_the_selector_bounded_by_the_step_timeout() -> None:
    with Scheduler() as s:
        s.spawn(sleep(30))
        s.step()
        started = time.perf_counter()
        assert s.step(timeout=0.02) is True  # nothing woke: no task ran, the wait was bounded
        assert 0.015 < time.perf_counter() - started < 1.0
        assert s.state().sleeping[0][1] == pytest.approx(started + 30, abs=1.0)


# -- queues ---------------------------------------------------------------------------------

def producer(q: Queue, items: list[Any], log: Log):
    for item in items:
        yield from q.put(item)
        log.append(("put", item))


def consumer(q: Queue, n: int, log: Log, name: str = "got"):
    for _ in range(n):
        log.append((name, (yield from q.get())))


def test_bounded_queue_alternates_producer_and_consumer_exactly() -> None:
    log: Log = []
    q = Queue(maxsize=1)
    run(producer(q, [1, 2, 3, 4], log), consumer(q, 4, log))
    # put 1 fills the queue; put 2 blocks. The consumer's get frees a slot, so 2 moves in and
    # the producer wakes; the consumer takes 2 at once, then blocks on the empty queue; the
    # producer's put 3 then goes straight to the waiting consumer, and put 4 fills the queue.
    assert log == [("put", 1), ("got", 1), ("got", 2), ("put", 2), ("put", 3), ("put", 4),
                   ("got", 3), ("got", 4)]
    assert q.qsize() == 0 and not q.full()


def test_unbounded_queue_never_blocks_the_producer_and_getters_are_served_in_order() -> None:
    log: Log = []
    q = Queue()
    run(consumer(q, 2, log, "first"), consumer(q, 1, log, "second"), producer(q, "xyz", log))
    # x and y go straight to the getters waiting, in the order they came; z is queued, and
    # the first getter, which runs first, takes it at once.
    assert log == [("put", "x"), ("put", "y"), ("put", "z"), ("first", "x"), ("first", "z"),
                   ("second", "y")]


def test_queue_repr_shows_items_and_waiters() -> None:
    q = Queue(maxsize=1)
    with Scheduler(ManualClock()) as s:
        s.spawn(producer(q, [7, 8], []))
        s.step()
        assert repr(q) == "<Queue maxsize=1 items=[7] getters=[] putters=['task-1']>"
        assert s.state().waiting == (("task-1", "queue put"),)
        assert repr(s) == ("<Scheduler t=0 ready=[] sleeping=[] waiting=['task-1'] "
                           "last='task-1' finished=0>")


# -- joining --------------------------------------------------------------------------------

def test_join_returns_the_result_or_raises_the_error_even_after_the_end() -> None:
    log: Log = []

    def worker(value: Any):
        yield
        if isinstance(value, Exception):
            raise value
        return value

    def boss():
        ok = yield from spawn(worker(42))
        bad = yield from spawn(worker(ValueError("boom")))
        log.append(("ok", (yield from join(ok))))
        try:
            yield from join(bad)
        except ValueError as exc:
            log.append(("bad", str(exc)))
        log.append(("again", (yield from join(ok))))  # already finished: answered at once

    s = run(boss())
    assert log == [("ok", 42), ("bad", "boom"), ("again", 42)]
    assert s.result(2) == 42
    with pytest.raises(ValueError, match="boom"):
        s.result(3)


def failing():
    yield
    raise ZeroDivisionError("oops")


def test_an_error_nobody_joins_is_raised_by_run_once_the_others_are_done() -> None:
    log: Log = []
    with Scheduler(ManualClock()) as s:
        s.spawn(failing())
        s.spawn(counter("c", 3, log))
        with pytest.raises(ZeroDivisionError, match="oops"):
            s.run(timeout=5)
        assert log == [("c", 0), ("c", 1), ("c", 2)]
        s.run(timeout=5)  # raised once only
        tid = s.spawn(failing())
        while s.step():
            pass  # step() never raises a task's error
        with pytest.raises(ZeroDivisionError):
            s.result(tid)
        s.run(timeout=5)  # result() heard of it: run() does not raise it again


def test_a_timeout_or_deadlock_is_caused_by_an_error_nobody_joined() -> None:
    with Scheduler() as s:  # the real clock: it waits 20 ms for the sleeper, then gives up
        s.spawn(failing())
        s.spawn(Queue().get())
        s.spawn(sleep(1e9))
        with pytest.raises(TimeoutError, match=r"task-2 \(queue get\), task-3 \(sleep 1e\+09\)"
                           ) as info:
            s.run(timeout=0.02)
        assert isinstance(info.value.__cause__, ZeroDivisionError)
    with Scheduler(ManualClock()) as s:
        s.spawn(failing())
        s.spawn(Queue().get())
        with pytest.raises(RuntimeError, match="deadlock") as info:
            s.run(timeout=5)
        assert isinstance(info.value.__cause__, ZeroDivisionError)


# -- cancellation at each trap --------------------------------------------------------------

def cancel_after(tid: int, log: Log, yields: int = 1):
    """Yield ``yields`` times, cancel ``tid``, then join it and log how it ended."""
    for _ in range(yields):
        yield
    log.append(("cancel", (yield from cancel(tid))))
    try:
        log.append(("joined", (yield from join(tid))))
    except Cancelled:
        log.append(("joined", "Cancelled"))


def victim(log: Log, wait: Any):
    """Log, then wait in ``wait``; log the Cancelled it sees there, clean up and return."""
    log.append(("victim", "waits"))
    try:
        yield from wait
        log.append(("victim", "not cancelled"))
    except Cancelled:
        log.append(("victim", "Cancelled"))
        yield from sleep(0.5)  # a clean-up may wait too
        log.append(("victim", "cleaned up"))
        return "stopped"


CANCELLED = [("victim", "waits"), ("cancel", True), ("victim", "Cancelled"),
             ("victim", "cleaned up"), ("joined", "stopped")]


def test_cancel_a_sleeping_task() -> None:
    clock, log = ManualClock(), []
    with Scheduler(clock) as s:
        s.spawn(victim(log, sleep(10)))
        s.spawn(cancel_after(1, log))
        s.run(timeout=5)
        assert log == CANCELLED and clock() == 0.5  # woken at 0, not at 10


def test_cancel_a_task_waiting_to_get_leaves_the_queue_usable() -> None:
    log: Log = []
    q = Queue()
    with Scheduler(ManualClock()) as s:
        s.spawn(victim(log, q.get()))
        s.spawn(cancel_after(1, log))
        s.run(timeout=5)
        s.spawn(producer(q, ["kept"], log))
        s.run(timeout=5)
    assert log == CANCELLED + [("put", "kept")]
    assert q.qsize() == 1  # not handed to the cancelled getter


def test_cancel_a_task_waiting_to_put_on_a_full_queue_drops_its_item() -> None:
    log: Log = []
    q = Queue(maxsize=1)

    def fill_then_victim():
        yield from q.put("first")
        yield from victim(log, q.put("second"))
        return "stopped"

    with Scheduler(ManualClock()) as s:
        s.spawn(fill_then_victim())
        s.spawn(cancel_after(1, log))
        s.run(timeout=5)
        s.spawn(consumer(q, 1, log))
        s.run(timeout=5)
        assert log == CANCELLED + [("got", "first")] and q.qsize() == 0


def test_cancel_a_task_waiting_to_join() -> None:
    log: Log = []
    with Scheduler(ManualClock()) as s:
        slow = s.spawn(sleep(5))
        s.spawn(victim(log, join(slow)))
        s.spawn(cancel_after(2, log))
        s.run(timeout=5)
        assert log == CANCELLED and s.state().finished == ("task-2", "task-3", "task-1")


def test_cancel_a_task_waiting_on_a_socket_unregisters_it() -> None:
    log: Log = []
    a, b = socket.socketpair()
    with a, b, Scheduler(ManualClock()) as s:
        s.spawn(victim(log, wait_readable(b)))
        s.spawn(cancel_after(1, log))
        s.run(timeout=5)
        assert log == CANCELLED
        a.send(b"x")  # another task may now wait on the same socket
        s.spawn(wait_readable(b))
        s.run(timeout=5)


def test_cancel_a_ready_task_delivers_at_its_next_yield_and_loses_no_item() -> None:
    log: Log = []
    q = Queue()

    def getter():
        try:
            log.append(("got", (yield from q.get())))
            yield
            log.append(("getter", "not cancelled"))
        except Cancelled:
            log.append(("getter", "Cancelled"))

    def putter():
        yield from q.put("item")  # wakes the getter, handing it the item...
        log.append(("cancel", (yield from cancel(1))))  # ...then cancels it while it is ready

    run(getter(), putter())
    assert log == [("cancel", True), ("got", "item"), ("getter", "Cancelled")]


def test_cancel_from_outside_and_a_finished_task() -> None:
    log: Log = []
    with Scheduler(ManualClock()) as s:
        tid = s.spawn(victim(log, sleep(10)))
        done = s.spawn(counter("c", 1, log))
        s.step()
        s.step()
        s.step()
        assert s.cancel(tid) is True and s.cancel(done) is False
        s.run(timeout=5)
        assert s.result(tid) == "stopped"
    assert log == [("victim", "waits"), ("c", 0), ("victim", "Cancelled"),
                   ("victim", "cleaned up")]


# -- sockets --------------------------------------------------------------------------------

def test_socketpair_readiness_in_exact_order() -> None:
    log: Log = []
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    def reader():
        log.append(("reader", "waits"))
        yield from wait_readable(b)
        log.append(("reader", b.recv(16)))

    def writer():
        log.append(("writer", 1))
        yield
        a.send(b"hi")
        log.append(("writer", "sent"))
        yield
        log.append(("writer", 3))

    with a, b:
        run(reader(), writer())
    # The writer's yield put it back on the ready queue before the reader's socket was seen
    # ready, at the start of the next step: so the writer runs once more first.
    assert log == [("reader", "waits"), ("writer", 1), ("writer", "sent"), ("writer", 3),
                   ("reader", b"hi")]


def test_wait_writable_wakes_when_the_reader_drains_the_buffer() -> None:
    log: Log = []
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    def flood():
        sent = 0
        while True:
            try:
                sent += a.send(b"x" * 65536)
            except BlockingIOError:
                break
        log.append(("flood", "full"))
        yield from wait_writable(a)
        log.append(("flood", "writable"))
        return sent

    def drain(tid: int):
        yield  # let the flood fill the buffer first
        log.append(("drain", "starts"))
        got = 0
        while True:
            try:
                got += len(b.recv(1 << 20))
            except BlockingIOError:
                break
        log.append(("drain", got == (yield from join(tid))))

    with a, b:
        run(flood(), drain(1))
    assert log == [("flood", "full"), ("drain", "starts"), ("flood", "writable"),
                   ("drain", True)]


def echo_server(listener: socket.socket):
    """Accept connections for ever, each served by a task of its own; cancel to stop."""
    handlers = []
    try:
        while True:
            yield from wait_readable(listener)
            conn, _ = listener.accept()
            conn.setblocking(False)
            handlers.append((yield from spawn(echo_handler(conn))))
    finally:
        for tid in handlers:
            yield from join(tid)


def echo_handler(conn: socket.socket):
    """Send back whatever arrives until the client closes."""
    with conn:
        while True:
            yield from wait_readable(conn)
            data = conn.recv(4096)
            if not data:
                return
            while data:
                yield from wait_writable(conn)
                data = data[conn.send(data):]


def echo_client(port: int, messages: list[bytes]):
    """Connect, send each message and read its echo back; return the echoes."""
    echoes = []
    with socket.socket() as sock:
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        yield from wait_writable(sock)  # connected
        for message in messages:
            sock.sendall(message)  # small: fits in the socket buffer
            echo = b""
            while len(echo) < len(message):
                yield from wait_readable(sock)
                echo += sock.recv(4096)
            echoes.append(echo)
    return echoes


def test_echo_server_serves_several_clients_over_tcp(loopback_only) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))  # the OS picks a free port
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        assert ("TCP", "127.0.0.1", port) in {(s.protocol, s.address, s.port)
                                              for s in loopback_only()}
        wanted = {f"client-{i}": [f"{i}-{j}".encode() * (j + 1) for j in range(3)]
                  for i in range(5)}

        def main():
            server = yield from spawn(echo_server(listener), name="server")
            clients, got = {}, {}
            for name, msgs in wanted.items():
                clients[name] = yield from spawn(echo_client(port, msgs), name=name)
            for name, tid in clients.items():
                got[name] = yield from join(tid)
            yield from cancel(server)
            return got

        with Scheduler() as s:
            tid = s.spawn(main())
            s.run(timeout=10)
            assert s.result(tid) == wanted
            assert s.state().finished[0] == "client-0" and s.state().finished[-1] == "server"
            assert len(s.state().finished) == 12  # main, server, 5 clients, 5 handlers


# -- observation ----------------------------------------------------------------------------

def test_observer_sees_spawns_steps_waits_hand_overs_and_exits_exactly() -> None:
    rec = Recorder()
    q = Queue()

    def child():
        yield from sleep(0.5)
        yield from q.put("hi")

    def parent():
        tid = yield from spawn(child(), name="child")
        item = yield from q.get()
        yield from join(tid)
        return item

    run(parent(), observer=rec)
    assert rec.calls == [
        ("event", "spawn", 0.0, "scheduler", "task-1", ""),
        ("event", "spawn", 0.0, "task-1", "child", ""),
        ("span", "task-1", "run", 0.0, 0.0, "queue get"),
        ("span", "child", "run", 0.0, 0.0, "sleep 0.5"),
        ("span", "child", "wait", 0.0, 0.5, "sleep 0.5"),
        ("event", "send", 0.5, "child", "task-1", "'hi'"),
        ("event", "receive", 0.5, "child", "task-1", "'hi'"),
        ("span", "task-1", "wait", 0.0, 0.5, "queue get"),
        ("event", "exit", 0.5, "child", "child", "return"),
        ("span", "child", "run", 0.5, 0.5, "return"),
        ("event", "exit", 0.5, "task-1", "task-1", "return"),
        ("span", "task-1", "run", 0.5, 0.5, "return"),
    ]


def test_a_buffered_item_is_reported_sent_at_put_and_received_at_get() -> None:
    rec, clock, q = Recorder(), ManualClock(), Queue()

    def late_getter():
        yield from sleep(2)
        yield from q.get()

    run(producer(q, ["x"], []), late_getter(), clock=clock, observer=rec)
    assert [c for c in rec.calls if c[1] in ("send", "receive")] == [
        ("event", "send", 0.0, "task-1", "task-2", "'x'"),
        ("event", "receive", 2.0, "task-1", "task-2", "'x'")]


class CountingClock(ManualClock):
    """A manual clock that counts how often it is read."""

    reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return super().__call__()


@pytest.mark.parametrize("observer", [None, NULL_OBSERVER])
def test_no_observer_means_no_reporting_and_no_clock_reads(observer: Any) -> None:
    clock, log, q = CountingClock(), [], Queue(maxsize=2)
    run(counter("a", 50, log), producer(q, range(50), log), consumer(q, 50, log), clock=clock,
        observer=observer)
    assert len(log) == 150 and clock.reads == 0


# -- errors and clean-up --------------------------------------------------------------------

def worker():
    yield


def test_spawning_something_that_is_not_a_generator_says_what_to_do() -> None:
    async def coro() -> None:
        pass

    with Scheduler(ManualClock()) as s:
        with pytest.raises(TypeError, match=r"call the generator function first: spawn\(worker"):
            s.spawn(worker)
        with pytest.raises(TypeError, match="`async def` coroutine needs asyncio"):
            s.spawn(coro())
        with pytest.raises(TypeError, match="spawn\\(\\) needs a generator object, not 42"):
            s.spawn(42)


def test_yielding_something_that_is_not_a_trap_fails_in_the_task_with_a_hint() -> None:
    def bad(thing: Any):
        yield thing

    for thing, hint in [(42, "yielded 42, which is not a trap: yield nothing"),
                        (sleep(1), r"write `yield from sleep\(...\)`, not `yield sleep"),
                        (("nap", 1), r"yielded \('nap', 1\), which is not a trap")]:
        with Scheduler(ManualClock()) as s:
            s.spawn(bad(thing))
            with pytest.raises(TypeError, match=hint):
                s.run(timeout=5)


def test_a_negative_sleep_and_other_bad_arguments_are_refused() -> None:
    def nap(seconds: float):
        yield from sleep(seconds)

    with Scheduler(ManualClock()) as s:
        s.spawn(nap(-1))
        with pytest.raises(ValueError, match="sleep\\(\\) needs seconds >= 0, not -1"):
            s.run(timeout=5)
        s.spawn(join(99))
        with pytest.raises(KeyError, match="no task has id 99"):
            s.run(timeout=5)
        s.spawn(join(3))  # its own id
        with pytest.raises(RuntimeError, match="task-3 tried to join itself"):
            s.run(timeout=5)
    with pytest.raises(ValueError, match="maxsize must be >= 0"):
        Queue(-1)
    with pytest.raises(TypeError, match="clock must be a ManualClock"):
        Scheduler(time.monotonic)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="closed: make a new Scheduler"):
        s.spawn(worker())


def test_deadlock_and_timeout_name_the_tasks_still_alive() -> None:
    def spin():
        while True:
            yield

    with Scheduler(ManualClock()) as s:
        s.spawn(Queue().get())
        s.spawn(join(1))
        with pytest.raises(RuntimeError, match=r"deadlock: .* task-1 \(queue get\), "
                                               r"task-2 \(join task-1\)"):
            s.run(timeout=5)
    with Scheduler(ManualClock()) as s:
        s.spawn(spin(), name="spinner")
        with pytest.raises(TimeoutError, match=r"still alive: spinner \(ready\)"):
            s.run(timeout=0.02)  # a manual clock fast-forwards sleeps, not a busy loop


def test_close_cancels_what_is_left_lets_it_clean_up_and_closes_stubborn_tasks() -> None:
    log: Log = []
    a, b = socket.socketpair()

    def stubborn():
        try:
            while True:
                try:
                    yield from sleep(1)
                except Cancelled:
                    log.append(("stubborn", "ignores Cancelled"))
        finally:
            log.append(("stubborn", "closed"))

    with a, b:
        with Scheduler(ManualClock()) as s:
            s.spawn(victim(log, wait_readable(b)))
            s.spawn(stubborn())
            s.step()
            s.step()
            s.close(timeout=0.05)  # the stubborn task's clean-up never ends: 50 ms, then closed
        assert log[:3] == [("victim", "waits"), ("victim", "Cancelled"),
                           ("stubborn", "ignores Cancelled")]
        assert log[-1] == ("stubborn", "closed") and ("victim", "cleaned up") in log
        assert s.state().finished == ("task-1", "task-2") and "closed" in repr(s)


def test_the_docstring_example_runs() -> None:
    import doctest

    from conclab import scheduler

    assert doctest.testmod(scheduler).failed == 0


# -- the benchmark --------------------------------------------------------------------------

def test_benchmark_quick_run_reports_the_switch_against_asyncio_with_its_goal() -> None:
    from conclab.bench import scheduler as suite

    results = suite.run(quick=True)
    assert [(r.name, r.goal) for r in results] == [("scheduler.switch_vs_asyncio", "<= 0.5"),
                                                   ("scheduler.send_switch", "")]
    assert all(r.value is not None and r.value > 0 and r.ratio is not None and r.ratio > 0
               for r in results)
    assert results[0].met is not None and results[1].met is None
