"""conclab.cast: chapter 06's actors behave alike on every backend (processes: every start method).

Each test that spawns runs once per backend through ``home``: ``thread``, ``asyncio`` and
``process-<start method>``. Every wait is bounded; tests synchronise on answers, never on time.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from conclab import actors, cast, lifecycle, workloads
from conclab.actors import ActorDeadError, ActorDeadlockError, SHARED_LOOP, spawn

T = 30.0  # seconds: the bound on every wait (a spawned child takes ~0.3 s on a busy machine)
HOMES = ["thread", "asyncio"] + [f"process-{m}" for m in lifecycle.start_methods()]


class Home:
    """One backend: spawns actors there and stops every one of them at the end."""

    def __init__(self, home: str) -> None:
        self.backend, _, self.method = home.partition("-")
        self.refs: list[Any] = []

    def spawn(self, cls: type, **kw: Any) -> Any:
        if self.method:
            kw["method"] = self.method
        ref = spawn(cls, backend=self.backend, timeout=T, **kw)
        self.refs.append(ref)
        return ref

    def close(self) -> None:
        for ref in self.refs:
            ref.stop(immediate=True)
        for ref in self.refs:
            ref.join(T)


@pytest.fixture(params=HOMES)
def home(request: pytest.FixtureRequest) -> Any:
    h = Home(request.param)
    yield h
    h.close()


def test_an_account_answers_alike_everywhere_and_a_refusal_changes_nothing(home: Home) -> None:
    account = home.spawn(cast.Account, args=(10,))
    account.tell(("deposit", 100))
    assert account.ask(("withdraw", 30)).result(T) == 80
    with pytest.raises(ValueError, match="cannot withdraw 500: the balance is 80"):
        account.ask(("withdraw", 500)).result(T)
    assert account.ask(("balance",)).result(T) == 80
    assert account.is_alive()
    with pytest.raises(ValueError, match="does not understand"):
        account.ask(("steal", 1)).result(T)
    for bad in (-5, float("nan"), "ten", True, None):  # a refused amount changes nothing
        with pytest.raises(ValueError, match="an amount must be one number >= 0"):
            account.ask(("deposit", bad)).result(T)
    with pytest.raises(ValueError, match="takes a tuple naming its request"):
        account.ask("balance").result(T)
    assert account.ask(("balance",)).result(T) == 80


def test_an_account_says_where_it_runs(home: Home) -> None:
    account = home.spawn(cast.Account, name="acct")
    pid, thread = account.ask(("where",)).result(T)
    if home.backend == "process":
        assert pid != os.getpid() and thread == "MainThread"
    else:
        assert pid == os.getpid()
        assert thread == ("acct" if home.backend == "thread" else SHARED_LOOP.name)


def test_an_account_journals_its_stop_and_its_failure_on_a_tell() -> None:
    for backend in ("thread", "asyncio"):
        stopped: list[str] = []
        with spawn(cast.Account, backend=backend, args=(5,), kwargs={"journal": stopped}):
            pass
        assert stopped == ["on_stop: balance 5"]
        failed: list[str] = []
        ref = spawn(cast.Account, backend=backend, kwargs={"journal": failed})
        ref.tell(("withdraw", 1))
        ref.join(T)
        assert failed == ["on_failure: ValueError('cannot withdraw 1: the balance is 0')"]
        with pytest.raises(ActorDeadError, match="failed on a told message"):
            ref.tell(("deposit", 1))


def test_a_counter_loses_no_increment_told_from_many_threads(home: Home) -> None:
    counter = home.spawn(cast.Counter)
    go = threading.Barrier(3)

    def tell_increments() -> None:
        go.wait(T)
        for _ in range(500):
            counter.tell("increment")

    threads = [threading.Thread(target=tell_increments) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert counter.ask("value").result(T) == 1_500
    with pytest.raises(ValueError, match="takes 'increment' and 'value'"):
        counter.ask("reset").result(T)


def test_a_cruncher_burns_what_it_is_told_and_keeps_the_checksums(home: Home) -> None:
    cruncher = home.spawn(cast.Cruncher, args=(1_000,))
    cruncher.tell(("crunch", "b"))
    assert cruncher.ask(("crunch", "a")).result(T) == workloads.burn(1_000)
    assert cruncher.ask(("results",)).result(T) == {"a": workloads.burn(1_000),
                                                    "b": workloads.burn(1_000)}
    assert list(cruncher.ask(("results",)).result(T)) == ["a", "b"]
    with pytest.raises(ValueError, match="does not understand"):
        cruncher.ask(("grind", "c")).result(T)
    with pytest.raises(ValueError, match=r"send \("):
        cruncher.ask(("crunch",)).result(T)


def test_a_cruncher_refuses_a_size_that_is_not_a_count_of_units() -> None:
    for bad in (-1, 2.5, "many"):
        with pytest.raises(actors.ActorStartError, match="units must be an int >= 0"):
            spawn(cast.Cruncher, args=(bad,))


def test_two_askers_asking_each_other_deadlock_and_the_error_names_the_cycle(
        home: Home) -> None:
    a, b = home.spawn(cast.Asker, name="a"), home.spawn(cast.Asker, name="b")
    if home.backend == "asyncio":  # result() on the loop that must answer: refused at once
        with pytest.raises(RuntimeError, match="would block the event loop"):
            a.ask(("ask", b, "hello", T)).result(T)
        return
    assert a.ask(("ask", b, "hello", T)).result(T) == "b is here"
    with pytest.raises(ValueError, match=r"is \(\"ask\", ref, question, timeout\)"):
        a.ask(("ask", b)).result(T)
    answer = a.ask(("ask", b, ("ask", a, "hello", 0.5), T))
    if home.backend == "process":  # no shared record of waits across processes: a timeout
        with pytest.raises(TimeoutError, match="'b' -> 'a' -> 'b'"):
            answer.result(T)
    else:  # within one process the second wait is refused at once
        with pytest.raises(ActorDeadlockError, match="'b' -> 'a' -> 'b'"):
            answer.result(T)
    assert a.ask("hello").result(T) == "a is here"  # both are free again


def test_fragile_doubles_refuses_and_dies_only_in_a_process(home: Home) -> None:
    fragile = home.spawn(cast.Fragile)
    assert fragile.ask(21).result(T) == 42
    for bad in ("x", True):
        with pytest.raises(ValueError, match="cannot double"):
            fragile.ask(bad).result(T)
    poisoned = fragile.ask("poison")
    if home.backend == "process":
        with pytest.raises(ActorDeadError, match=f"exited with code {cast.POISON_EXIT}"):
            poisoned.result(T)
        fragile.join(T)
        assert not fragile.is_alive()
    else:
        with pytest.raises(RuntimeError, match="will not end"):
            poisoned.result(T)
        assert fragile.ask(1).result(T) == 2
