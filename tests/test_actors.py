"""conclab.actors: every semantic once per backend (the process one under every start method).

The ``kit`` fixture runs a test on each backend: ``thread``, ``asyncio`` and ``process-<start
method>``. Tests synchronise on futures, events and the actor's journal of hooks, never on
time; every wait has a bound. Non-destructive tests share one actor per backend (``shared``),
so that the process backends start few children.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import signal
import threading
from typing import Any

import pytest

from actor_classes import AsyncProbe, Probe, Silent
from conclab import actors, lifecycle
from conclab.actors import (Actor, ActorDeadError, ActorDeadlockError, ActorStartError,
                            spawn)
from conclab.queues import as_worker

T = 20.0  # seconds: the bound on every wait (a spawned child takes ~0.3 s on a busy machine)
BACKENDS = ["thread", "asyncio"] + [f"process-{m}" for m in lifecycle.start_methods()]


class Kit:
    """One backend's way to spawn actors and make the events and journals they use."""

    def __init__(self, backend: str) -> None:
        self.backend, _, self.method = backend.partition("-")
        self.ctx = lifecycle.get_context(self.method) if self.method else None
        self.refs: list[actors.ActorRef] = []
        self.queues: list[Any] = []

    def spawn(self, cls: type[Actor], **kw: Any) -> actors.ActorRef:
        if self.method:
            kw["method"] = self.method
        ref = spawn(cls, backend=self.backend, timeout=T, **kw)
        self.refs.append(ref)
        return ref

    def event(self) -> Any:
        return self.ctx.Event() if self.ctx else threading.Event()

    def journal(self) -> Any:
        q = self.ctx.Queue() if self.ctx else queue.Queue()
        self.queues.append(q)
        return q

    def close(self) -> None:
        for ref in self.refs:
            ref.stop(immediate=True)
        for ref in self.refs:
            ref.join(T)
        for q in self.queues:
            if self.ctx:
                q.close()
                q.join_thread()
        # A queue this process only read from never started its feeder, so close() left its
        # pipe open: dropping the last reference closes it.
        self.queues.clear()


@pytest.fixture(params=BACKENDS)
def kit(request: pytest.FixtureRequest) -> Any:
    k = Kit(request.param)
    yield k
    k.close()


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request: pytest.FixtureRequest) -> Any:
    """A Probe and an AsyncProbe per backend, shared by the tests that leave them as they were."""
    k = Kit(request.param)
    k.probe, k.aprobe = k.spawn(Probe), k.spawn(AsyncProbe)
    # An async hook opens its loop (a selector, a self-pipe) on first use: do it now, so the
    # shared actors' descriptors belong to the baseline of every test that uses them.
    k.aprobe.ask(("echo", 0)).result(T)
    k.aprobe.ask(("trail",)).result(T)
    yield k
    k.close()


def read(journal: Any, n: int) -> list[tuple[Any, ...]]:
    """The next ``n`` records of an actor's journal, then check that nothing else is there."""
    records = [journal.get(timeout=T) for _ in range(n)]
    with pytest.raises(queue.Empty):
        journal.get_nowait()
    return records


def wait_for_record(journal: Any, record: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Read the journal up to and including ``record``: the actor has reached that point."""
    records = []
    while not records or records[-1] != record:
        records.append(journal.get(timeout=T))
    return records


class Recorder:
    """An observer that keeps every report, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[Any, ...]] = []
        self.spans: list[tuple[Any, ...]] = []

    def event(self, kind: str, at: float, sender: str, receiver: str, label: str = "") -> None:
        with self.lock:
            self.events.append((kind, sender, receiver, label))

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        with self.lock:
            self.spans.append((worker, state, label, end >= start))


# --- messages: order, answers, failures ------------------------------------------------------

def test_messages_in_order_one_at_a_time_and_an_ask_s_exception_goes_to_the_asker(
        shared: Kit) -> None:
    probe, aprobe = shared.probe, shared.aprobe
    for i in range(20):
        probe.tell(("echo", i))
    answer = probe.ask(("echo", 20))
    assert isinstance(answer, concurrent.futures.Future)
    assert answer.result(T) == 20
    assert probe.ask(("seen",)).result(T) == list(range(21))
    # an async on_receive, on every backend: it finishes one message before the next
    answers = [aprobe.ask(("echo", i)) for i in range(4)]
    assert [a.result(T) for a in answers] == [0, 2, 4, 6]
    trail = aprobe.ask(("trail",)).result(T)
    assert trail == [(step, i) for i in range(4) for step in ("enter", "leave")]
    # an exception while answering an ask goes to the asker; the actor lives on
    for actor in (probe, aprobe):
        with pytest.raises(ValueError, match="^not this one$"):
            actor.ask(("raise", "not this one")).result(T)
        assert actor.ask(("echo", 7)).result(T) in (7, 14)
        assert actor.is_alive()
    assert probe.ask(("seen",)).result(T) == [7]


def test_refs_work_from_many_threads_and_loops_at_once(shared: Kit) -> None:
    probe = shared.probe
    results: dict[str, list[Any]] = {}

    def thread(tag: str) -> None:
        results[tag] = [probe.ask(("echo", (tag, i))).result(T) for i in range(10)]

    def loop(tag: str) -> None:
        async def main() -> list[Any]:
            return [await probe.ask_async(("echo", (tag, i))) for i in range(10)]
        results[tag] = lifecycle.run_in_fresh_loop(main, timeout=T).result

    workers = [threading.Thread(target=thread, args=(f"t{n}",)) for n in range(3)]
    workers += [threading.Thread(target=loop, args=(f"l{n}",)) for n in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(T)
    tags = ["t0", "t1", "t2", "l0", "l1"]
    assert {tag: results[tag] for tag in tags} == {tag: [(tag, i) for i in range(10)]
                                                   for tag in tags}
    seen = probe.ask(("seen",)).result(T)
    for tag in tags:  # each sender's messages arrived in the order it sent them
        assert [m for m in seen if isinstance(m, tuple) and m[0] == tag] == [
            (tag, i) for i in range(10)]


def test_a_failure_on_a_tell_calls_on_failure_stops_the_actor_and_fails_its_asks(
        kit: Kit) -> None:
    journal, gate = kit.journal(), kit.event()
    probe = kit.spawn(Probe, kwargs={"journal": journal, "gate": gate})
    probe.tell(("wait",))
    probe.tell(("raise", "broken"))
    pending = probe.ask(("echo", 1))
    gate.set()
    with pytest.raises(ActorDeadError, match="failed on a told message.*broken"):
        pending.result(T)
    probe.join(T)
    assert not probe.is_alive()
    with pytest.raises(ActorDeadError, match=f"actor '{probe.name}' takes no more messages"):
        probe.tell(("echo", 2))
    assert read(journal, 4) == [("start",), ("receive", "wait"), ("receive", "raise"),
                                ("failure", "ValueError('broken')")]


def test_stop_lets_the_mailbox_drain_then_refuses_messages(kit: Kit) -> None:
    journal, gate = kit.journal(), kit.event()
    probe = kit.spawn(Probe, kwargs={"journal": journal, "gate": gate})
    probe.tell(("wait",))
    probe.tell(("echo", 1))
    last = probe.ask(("echo", 2))
    probe.stop()
    with pytest.raises(ActorDeadError, match="it was stopped; spawn a new one"):
        probe.tell(("echo", 3))
    with pytest.raises(ActorDeadError):
        probe.ask(("echo", 4))
    with pytest.raises(TimeoutError, match="still running after 0.01 s"):
        probe.join(0.01)  # it cannot have stopped: it is waiting for the gate
    gate.set()
    assert last.result(T) == 2
    probe.join(T)
    assert read(journal, 5) == [("start",), ("receive", "wait"), ("receive", "echo"),
                                ("receive", "echo"), ("stop",)]


def test_stop_immediate_fails_what_is_left_at_once(kit: Kit) -> None:
    journal, gate = kit.journal(), kit.event()
    probe = kit.spawn(Probe, kwargs={"journal": journal, "gate": gate})
    probe.tell(("wait",))
    probe.tell(("echo", 1))
    dropped = probe.ask(("echo", 2))
    wait_for_record(journal, ("receive", "wait"))
    probe.stop(immediate=True)
    with pytest.raises(ActorDeadError, match="stopped before handling this message"):
        dropped.result(T)  # while the actor is still busy with the first message
    assert probe.is_alive()
    gate.set()
    probe.join(T)
    assert not probe.is_alive()
    assert read(journal, 1) == [("stop",)]


def test_a_full_mailbox_refuses_or_waits_for_room(kit: Kit) -> None:
    journal, gate = kit.journal(), kit.event()
    probe = kit.spawn(Probe, maxsize=1, kwargs={"journal": journal, "gate": gate})
    probe.tell(("wait",))
    wait_for_record(journal, ("receive", "wait"))  # taken: its slot is free again
    probe.tell(("echo", 1))  # fills the one slot
    with pytest.raises(queue.Full):
        probe.tell(("echo", 2), block=False)
    with pytest.raises(queue.Full):
        probe.tell(("echo", 2), timeout=0.05)
    with pytest.raises(queue.Full):
        probe.ask(("echo", 2), timeout=0)
    room = threading.Event()

    async def ask_when_there_is_room() -> Any:
        task = asyncio.ensure_future(probe.ask_async(("echo", 3)))
        await asyncio.sleep(0)
        room.set()
        return await task

    asker = threading.Thread(target=lambda: box.append(
        lifecycle.run_in_fresh_loop(ask_when_there_is_room, timeout=T).result))
    box: list[Any] = []
    asker.start()
    assert room.wait(T)
    gate.set()
    asker.join(T)
    assert box == [3]
    assert probe.ask(("seen",)).result(T) == [1, 3]


def test_spawn_raises_when_on_start_raises(kit: Kit) -> None:
    with pytest.raises(ActorStartError, match="failed to start.*refused in on_start") as caught:
        kit.spawn(Probe, kwargs={"fail": "start"})
    assert isinstance(caught.value.__cause__, ValueError)


# --- observation -----------------------------------------------------------------------------

def test_a_with_block_stops_the_actor_and_the_observer_sees_each_message(kit: Kit) -> None:
    seen, journal = Recorder(), kit.journal()
    with kit.spawn(Probe, name="probe", observer=seen, kwargs={"journal": journal}) as probe:
        with as_worker("main"):
            probe.tell(("echo", 1))
            assert probe.ask(("echo", 2)).result(T) == 2
    assert not probe.is_alive()
    assert read(journal, 4) == [("start",), ("receive", "echo"), ("receive", "echo"),
                                ("stop",)]
    one, two = "('echo', 1)", "('echo', 2)"
    for kind in ("send", "receive"):  # the same sender, receiver and label, in order
        assert [e for e in seen.events if e[0] == kind] == [(kind, "main", "probe", one),
                                                            (kind, "main", "probe", two)]
    for label in (one, two):  # each message's arrow points forwards
        assert [e[0] for e in seen.events if e[3] == label] == ["send", "receive"]
    assert seen.spans == [("probe", "run", one, True), ("probe", "run", two, True)]


def test_an_async_on_receive_is_reported_step_by_step_its_awaits_as_waits(kit: Kit) -> None:
    # One "run" span from receive to answer would call every await "run": an actor that only
    # waited for I/O would look busy on a timeline. AsyncProbe's echo awaits three times.
    seen = Recorder()
    with kit.spawn(AsyncProbe, name="aprobe", observer=seen) as probe:
        assert probe.ask(("echo", 1)).result(T) == 2
        with pytest.raises(ValueError, match="no"):
            probe.ask(("raise", "no")).result(T)
    steps = [("aprobe", state, "('echo', 1)", True) for state in ["run", "wait"] * 3 + ["run"]]
    assert seen.spans == steps + [("aprobe", "run", "('raise', 'no')", True)]


# --- deadlocks ---------------------------------------------------------------------------------

def test_two_actors_asking_each_other_get_an_error_naming_the_cycle(kit: Kit) -> None:
    cls = AsyncProbe if kit.backend == "asyncio" else Probe
    a, b = kit.spawn(cls, name="a"), kit.spawn(cls, name="b")
    answer = a.ask(("relay", b, ("relay", a, ("echo", 1), 0.3), T))
    if kit.backend == "process":  # no shared view across processes: b's wait times out
        with pytest.raises(TimeoutError, match="'b' -> 'a' -> 'b'"):
            answer.result(T)
    else:  # one process: the second wait sees the first, and refuses at once
        with pytest.raises(ActorDeadlockError, match="'(a|b)' -> '(a|b)' -> '(a|b)'"):
            answer.result(T)
    assert a.ask(("echo", 2)).result(T) in (2, 4)  # both live on


def test_two_waits_recorded_at_the_same_moment_still_see_their_cycle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each wait is checked and recorded as one step. Here the check of each of two actors that
    start waiting for each other pauses until the other has checked too (or 0.3 s have
    passed): were check and record separate steps, both checks would find no cycle and both
    actors would wait (a switch interval of 1 us made that happen once in make stress)."""
    from conclab.actors import _answer

    both_checked, check = threading.Barrier(2, timeout=0.3), _answer._cycle

    def slow_check(*args: Any) -> list[str]:
        found = check(*args)
        try:
            both_checked.wait()
        except threading.BrokenBarrierError:
            pass  # the other check waits for this one to be recorded: as it should
        return found

    monkeypatch.setattr(_answer, "_cycle", slow_check)

    class Cell:  # what waiting_for reads of an actor, and of a ref to it
        def __init__(self, name: str) -> None:
            self.name = self.key = self._key = name

    a, b = Cell("a"), Cell("b")
    outcomes: dict[str, str] = {}

    def wait(me: Cell, target: Cell) -> None:
        try:
            with _answer.waiting_for(me, target, "ask(...).result()"):  # type: ignore[arg-type]
                outcomes[me.name] = "waits"
                done.wait(T)
        except ActorDeadlockError:
            outcomes[me.name] = "refused"
            done.set()

    done = threading.Event()
    threads = [threading.Thread(target=wait, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    assert done.wait(T), f"neither wait was refused: {outcomes}"
    for thread in threads:
        thread.join(T)
    assert sorted(outcomes.values()) == ["refused", "waits"] and not _answer._WAITING


# --- process actors: refs across processes, pickling, death ------------------------------------

def test_process_refs_cross_processes_and_what_cannot_be_pickled_fails_clearly(
        start_method: str) -> None:
    with spawn(Probe, backend="process", method=start_method, name="b") as b, \
            spawn(Probe, backend="process", method=start_method, kwargs={"peer": b},
                  name="a") as a:
        assert a.ask(("peer", ("echo", 5))).result(T) == 5  # a ref given at spawn
        b.tell(("set-peer", a))  # a ref inside a message, child to child
        assert b.ask(("peer", ("echo", 6))).result(T) == 6
        assert a.ask(("self",)).result(T) is a  # a ref coming back is the spawner's own
        assert a.ask(("peer-ref",)).result(T) is b
        assert a.ask(("relay", b, ("seen",), T)).result(T) == [5]
        # what cannot be pickled fails in the sender, saying what to send; the actor lives on
        with pytest.raises(TypeError, match="pickling it failed.*must be picklable"):
            a.tell(lambda: None)
        with pytest.raises(TypeError, match="pickling it failed"):
            a.ask(("echo", threading.Lock()))
        with pytest.raises(TypeError, match="cannot be pickled to go back.*plain data"):
            a.ask(("lambda",)).result(T)
        assert a.ask(("echo", 1)).result(T) == 1


def test_a_process_actor_listens_only_on_a_unix_socket_and_refuses_a_caller_without_the_key(
) -> None:
    from multiprocessing import AuthenticationError
    from multiprocessing.connection import Client

    with spawn(Probe, backend="process") as probe:
        address = probe.address
        assert isinstance(address, str) and os.path.exists(address)  # a path: no TCP port
        assert oct(os.stat(os.path.dirname(address)).st_mode & 0o777) == "0o700"
        with pytest.raises(AuthenticationError):
            Client(address, family="AF_UNIX", authkey=b"not the family's key")
        assert probe.ask(("echo", 1)).result(T) == 1  # and it still serves the family


def test_a_killed_process_actor_fails_its_pending_and_later_asks(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    journal, gate = ctx.Queue(), ctx.Event()
    probe = spawn(Probe, backend="process", method=start_method,
                  kwargs={"journal": journal, "gate": gate})
    try:
        probe.tell(("wait",))
        pending = probe.ask(("echo", 1))
        wait_for_record(journal, ("receive", "wait"))
        os.kill(probe._home.process.pid, signal.SIGKILL)
        with pytest.raises(ActorDeadError, match="ended before answering.*killed by SIGKILL"):
            pending.result(T)
        with pytest.raises(ActorDeadError, match="killed by SIGKILL"):
            probe.ask(("echo", 2))
        probe.join(T)
        assert not probe.is_alive()
    finally:
        probe.stop(immediate=True)
        probe.join(T)
        journal.close()
        journal.join_thread()


def test_a_crashed_process_actor_says_how_it_ended() -> None:
    probe = spawn(Probe, backend="process")
    try:
        pending = probe.ask(("exit", 3))
        with pytest.raises(ActorDeadError, match="exited with code 3"):
            pending.result(T)
    finally:
        probe.join(T)


# --- asyncio actors: the shared loop, a loop of your own ---------------------------------------

def test_asyncio_actors_share_one_background_loop_that_stops_with_the_last() -> None:
    assert actors.SHARED_LOOP.loop is None
    first = spawn(Probe, backend="asyncio")
    second = spawn(Probe, backend="asyncio")
    loop = actors.SHARED_LOOP.loop
    assert loop is not None and first._loop is loop and second._loop is loop
    first.stop()
    first.join(T)
    assert actors.SHARED_LOOP.loop is loop  # the second actor still lives there
    second.stop()
    second.join(T)
    assert actors.SHARED_LOOP.loop is None


def test_an_asyncio_actor_can_live_on_the_callers_loop() -> None:
    async def main() -> list[Any]:
        journal: queue.Queue[Any] = queue.Queue()
        async with spawn(Probe, backend="asyncio", loop=asyncio.get_running_loop(),
                         kwargs={"journal": journal}) as probe:
            assert journal.get_nowait() == ("start",)  # on_start ran inside spawn
            answers = [await probe.ask_async(("echo", i)) for i in range(3)]
            with pytest.raises(RuntimeError, match="would block the event loop.*ask_async"):
                probe.ask(("echo", 3)).result(T)
            with pytest.raises(RuntimeError, match="would block the event loop.*join_async"):
                probe.join(T)
        assert not probe.is_alive()
        return answers

    assert lifecycle.run_in_fresh_loop(main, timeout=T).result == [0, 1, 2]


def test_a_thread_running_its_own_loop_can_wait_for_an_asyncio_actor() -> None:
    async def cell() -> Any:  # as a notebook cell: blocking, in the thread of a running loop
        with spawn(Probe, backend="asyncio") as probe:
            return probe.ask(("echo", "no deadlock")).result(T)

    assert lifecycle.run_in_fresh_loop(cell, timeout=T).result == "no deadlock"


# --- bad input: each mistake gets an error that says what was wrong and what to do -------------

def test_spawn_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown backend 'fibre'; use one of thread, process"):
        spawn(Probe, backend="fibre")
    with pytest.raises(TypeError, match="subclass of conclab.actors.Actor, not an instance"):
        spawn(Probe())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="subclass of conclab.actors.Actor.*class MyActor"):
        spawn(dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"args must be a tuple.*args=\(x,\)"):
        spawn(Probe, args=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="maxsize must be an int"):
        spawn(Probe, maxsize="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="loop= is for backend='asyncio' only"):
        spawn(Probe, loop=asyncio.new_event_loop())
    with pytest.raises(ValueError, match="loop= must be a running event loop"):
        spawn(Probe, backend="asyncio", loop=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method=.*backend='process' only"):
        spawn(Probe, method="spawn")
    with pytest.raises(ValueError, match="spawn\\(\\): timeout must be >= 0"):
        spawn(Probe, timeout=-1)


def test_calls_refuse_negative_timeouts_and_misuse() -> None:
    with spawn(Probe) as probe:
        for call in (lambda: probe.tell(1, timeout=-1), lambda: probe.ask(1, timeout=-0.5),
                     lambda: probe.join(-1)):
            with pytest.raises(ValueError, match="timeout must be >= 0 seconds.*timeout=None"):
                call()
        with pytest.raises(TypeError, match="timeout must be a number of seconds or None"):
            probe.tell(1, timeout="soon")  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="must be awaited in an event loop.*ask\\("):
            probe.ask_async(1).send(None)
        with pytest.raises(TypeError, match="cannot be pickled.*backend='process'"):
            __import__("pickle").dumps(probe)


def test_an_actor_without_on_receive_or_whose_init_raises_says_so() -> None:
    with spawn(Silent) as silent:
        with pytest.raises(NotImplementedError, match="Silent got 1 but has no on_receive"):
            silent.ask(1).result(T)
    for backend in ("thread", "asyncio", "process"):
        with pytest.raises(ActorStartError, match="failed to start.*refused in __init__"):
            spawn(Probe, backend=backend, kwargs={"fail": "init"}, timeout=T)


def test_a_process_actor_class_the_child_cannot_import_is_refused_clearly() -> None:
    class Local(Actor):  # defined in a function: a spawn child cannot import it
        pass

    with pytest.raises(TypeError, match="cannot be pickled for a spawn child.*module level"):
        spawn(Local, backend="process", method="spawn")


def test_an_answer_works_wherever_a_concurrent_future_does() -> None:
    gate = threading.Event()
    with spawn(Probe, kwargs={"gate": gate}) as probe:
        answers = [probe.ask(("echo", i)) for i in range(3)]
        done, not_done = concurrent.futures.wait(answers, timeout=T)
        assert (len(done), not_done) == (3, set())
        called: list[Any] = []
        answers[0].add_done_callback(lambda f: called.append(f.result()))
        assert called == [0]  # already done: called at once
        later = [probe.ask(("echo", i)) for i in (3, 4)]
        assert sorted(f.result() for f in concurrent.futures.as_completed(later, T)) == [3, 4]

        async def wrapped() -> Any:
            return await asyncio.wrap_future(probe.ask(("echo", 5)))

        assert lifecycle.run_in_fresh_loop(wrapped, timeout=T).result == 5
        probe.tell(("wait",))  # hold the actor, so the next ask is still pending
        pending, skipped = probe.ask(("echo", 6)), probe.ask(("echo", 7))
        assert skipped.cancel() and skipped.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            skipped.result(T)
        with pytest.raises(TimeoutError, match="no answer from actor .* within 0.01 s"):
            pending.result(0.01)
        gate.set()
        assert pending.result(T) == 6 and pending.exception(T) is None
        assert probe.ask(("seen",)).result(T) == [0, 1, 2, 3, 4, 5, 6]  # 7 was skipped
