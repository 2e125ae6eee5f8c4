"""conclab.sharing: forced interleavings, the hammer's bookkeeping, the slot and the dumps.

The race tests never hope for an unlucky schedule: they force the interleaving with events and
barriers, so a racy counter loses an update every time and a locked one never can.
"""

from __future__ import annotations

import queue
import sys
import threading

import pytest

from conclab import sharing, testing
from conclab.sharing import (AugmentedCounter, LockedCounter, RacyCounter, Slot, hammer,
                             switch_interval)

WAIT = 5.0  # generous bound on waits that should end at once; only a broken build reaches it


def interleave(counter_class: type[RacyCounter], patience: float) -> tuple[int, bool, list[str]]:
    """Let thread a read, then start thread b while a is between its read and its write.

    Thread a waits up to ``patience`` seconds for b to get between too. Returns the final
    value, whether a saw b come between, and the order in which they got between.
    """
    a_inside, b_inside = threading.Event(), threading.Event()
    order: list[str] = []
    a_saw_b: list[bool] = []

    def between() -> None:
        order.append(threading.current_thread().name)
        if threading.current_thread().name == "a":
            a_inside.set()
            # Without a lock b arrives at once; a lock keeps b out, so the wait runs out.
            a_saw_b.append(b_inside.wait(patience))
        else:
            b_inside.set()

    counter = counter_class(between)
    a = threading.Thread(target=counter.increment, name="a")
    b = threading.Thread(target=counter.increment, name="b")
    a.start()
    assert a_inside.wait(WAIT)
    b.start()
    a.join(WAIT)
    b.join(WAIT)
    assert not a.is_alive() and not b.is_alive()
    return counter.value, a_saw_b[0], order


def test_racy_counter_loses_the_update_written_in_between() -> None:
    assert interleave(RacyCounter, patience=WAIT) == (1, True, ["a", "b"])


class WatchedLock:
    """A lock that says when a thread reaches it: a locked counter's lock, made visible."""

    def __init__(self) -> None:
        self.lock, self.reached = threading.Lock(), threading.Event()

    def __enter__(self) -> None:
        if threading.current_thread().name == "b":
            self.reached.set()  # b is at the lock; it can only go on once a releases it
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_locked_counter_keeps_the_other_thread_out_until_it_has_written() -> None:
    watched = WatchedLock()
    order: list[str] = []
    a_inside, b_at_lock = threading.Event(), []

    def between() -> None:
        order.append(threading.current_thread().name)
        if threading.current_thread().name == "a":
            a_inside.set()
            b_at_lock.append(watched.reached.wait(WAIT))  # b reached the lock, and stopped

    counter = LockedCounter(between)
    counter._lock = watched  # type: ignore[assignment]
    a = threading.Thread(target=counter.increment, name="a")
    b = threading.Thread(target=counter.increment, name="b")
    a.start()
    assert a_inside.wait(WAIT)
    b.start()
    a.join(WAIT)
    b.join(WAIT)
    assert (counter.value, b_at_lock, order) == (2, [True], ["a", "b"])


def test_counters_count_in_one_thread() -> None:
    for counter in (RacyCounter(), LockedCounter(), AugmentedCounter()):
        for _ in range(3):
            counter.increment()
        assert counter.value == 3
        assert repr(counter).endswith("value=3>")


class Forgetful:
    """A counter that keeps no increments at all once it is the ``lose_from``-th one made."""

    made = 0

    def __init__(self, lose_from: int) -> None:
        Forgetful.made += 1
        self.loses = Forgetful.made >= lose_from
        self.value = 0
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            if not self.loses:
                self.value += 1


@pytest.mark.parametrize(("lose_from", "tries", "expected_tries", "expected_lost"),
                         [(1, 5, 1, 60), (3, 5, 3, 60), (99, 4, 4, 0)])
def test_hammer_stops_at_the_first_try_that_loses(lose_from: int, tries: int,
                                                  expected_tries: int, expected_lost: int) -> None:
    Forgetful.made = 0
    result = hammer(lambda: Forgetful(lose_from), threads=3, increments=20, tries=tries)
    assert (result.tries, result.lost, result.expected, result.threads) == (
        expected_tries, expected_lost, 60, 3)
    assert Forgetful.made == expected_tries


def test_hammer_finds_no_loss_in_a_locked_counter_even_with_a_tiny_interval() -> None:
    result = hammer(LockedCounter, increments=2_000, interval=1e-6, tries=3)
    assert (result.value, result.lost, result.tries, result.switch_interval) == (4_000, 0, 3, 1e-6)


def test_hammer_reraises_a_worker_error_and_restores_the_interval() -> None:
    before = sys.getswitchinterval()

    class Broken:
        value = 0

        def increment(self) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hammer(Broken, interval=1e-5)
    assert sys.getswitchinterval() == before


def test_hammer_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        hammer(LockedCounter, threads=0)


def test_switch_interval_is_restored_after_the_block_even_on_error() -> None:
    before = sys.getswitchinterval()
    with switch_interval(1e-4) as inside:
        assert inside == sys.getswitchinterval() == pytest.approx(1e-4)
    assert sys.getswitchinterval() == before
    with pytest.raises(KeyError), switch_interval(1e-4):
        raise KeyError
    assert sys.getswitchinterval() == before
    with switch_interval(None) as inside:
        assert inside == before


def test_switch_interval_restores_the_very_same_interval() -> None:
    # 1e-4 reads back as 9.999999999999999e-05; setting that again would give 99 us.
    before = sys.getswitchinterval()
    try:
        for micro in (100, 3, 5000, 12_345):
            sys.setswitchinterval(micro / 1e6)
            start = sys.getswitchinterval()
            with switch_interval(start / 5):
                pass
            hammer(LockedCounter, threads=1, increments=1, interval=1e-6)
            assert sys.getswitchinterval() == start, micro
    finally:
        sys.setswitchinterval(before)


def test_slot_hands_values_over_in_order() -> None:
    slot: Slot[int] = Slot()
    producer = threading.Thread(target=lambda: [slot.put(i, WAIT) for i in range(5)])
    producer.start()
    received = [slot.get(WAIT) for _ in range(5)]
    producer.join(WAIT)
    assert received == [0, 1, 2, 3, 4]
    assert repr(slot) == "<Slot empty>"


def test_slot_put_waits_until_the_slot_is_emptied() -> None:
    slot: Slot[str] = Slot()
    slot.put_nowait("first")
    assert repr(slot) == "<Slot full: 'first'>"
    second_in = threading.Event()

    def put_second() -> None:
        slot.put("second", WAIT)
        second_in.set()

    putter = threading.Thread(target=put_second)
    putter.start()
    stack = testing.wait_blocked(putter, "Condition.wait")  # still full: the put must wait
    assert any(entry.startswith("Slot.put:") for entry in stack) and not second_in.is_set()
    assert slot.get_nowait() == "first"
    assert second_in.wait(WAIT)
    putter.join(WAIT)
    assert slot.get_nowait() == "second"


def test_slot_times_out_and_has_nowait_twins() -> None:
    slot: Slot[int] = Slot()
    with pytest.raises(TimeoutError):
        slot.get(timeout=0.01)
    with pytest.raises(queue.Empty):
        slot.get_nowait()
    slot.put(1, timeout=0.01)
    with pytest.raises(TimeoutError):
        slot.put(2, timeout=0.01)
    with pytest.raises(queue.Full):
        slot.put_nowait(2)
    assert slot.get(timeout=0.01) == 1


def wait_here_for(go: threading.Event, ready: threading.Event) -> None:
    """Block on ``go``: the frame the dump must show."""
    ready.set()
    go.wait(WAIT)


def test_thread_traceback_shows_where_a_waiting_thread_is() -> None:
    go, ready = threading.Event(), threading.Event()
    waiter = threading.Thread(target=wait_here_for, args=(go, ready), name="waiter")
    waiter.start()
    try:
        assert ready.wait(WAIT)
        dump = sharing.dump_traceback()
        mine = sharing.thread_traceback(waiter, dump)
    finally:
        go.set()
        waiter.join(WAIT)
    assert "in wait_here_for" in mine and "in wait_here_for" in dump
    assert mine.startswith("Thread 0x") and "in wait" in mine.splitlines()[1]
    assert "dump_traceback" not in mine  # that frame is in the current thread's section
    assert "Current thread" in dump and "test_thread_traceback" in dump
    assert sharing.thread_traceback(waiter) == ""  # it has ended, so a new dump lacks it


def test_thread_traceback_needs_a_started_thread() -> None:
    with pytest.raises(ValueError):
        sharing.thread_traceback(threading.Thread(target=print))


# --- a real deadlock in a child, read back from faulthandler's report --------------------------

def test_deadlock_child_reports_both_threads_stuck_on_their_second_lock(start_method, tmp_path):
    from conclab import lifecycle

    report = str(tmp_path / "stacks.txt")
    child = lifecycle.get_context(start_method).Process(
        target=sharing.deadlock, args=(report,), kwargs={"after": 0.1})
    child.start()
    try:
        stacks = sharing.read_stacks(report, timeout=30)
        assert child.is_alive(), "a deadlocked child never ends by itself"
    finally:
        child.kill()
        child.join(WAIT)
    assert list(stacks) == ["main", "a-then-b", "b-then-a"]
    for name in ("a-then-b", "b-then-a"):
        lines = stacks[name].splitlines()
        assert lines[0].startswith("Thread 0x")
        # The innermost frame is the inner `with`, and its source line is shown under it.
        assert lines[1].endswith("in take_both") and lines[2].strip().startswith("with second:")
    assert " in join" in stacks["main"] or " in _wait_for_tstate_lock" in stacks["main"]


def test_deadlock_child_ends_by_itself_after_its_limit(tmp_path):
    from conclab import lifecycle

    report = str(tmp_path / "stacks.txt")
    child = lifecycle.get_context().Process(target=sharing.deadlock, args=(report,),
                                            kwargs={"after": 0.05, "limit": 0.3})
    child.start()
    child.join(30)
    try:
        assert child.exitcode == 0, "the safety net: daemon threads are abandoned at the limit"
    finally:
        lifecycle.stop_processes([child])
    assert set(sharing.read_stacks(report, timeout=WAIT)) == {"main", "a-then-b", "b-then-a"}


def test_read_stacks_waits_for_every_named_thread_and_times_out_without_them(tmp_path):
    report = tmp_path / "stacks.txt"
    report.write_text("# main 0x10\n# other 0x20\nThread 0x0000000000000010 (most recent "
                      "call first):\n  File \"x.py\", line 1 in f\n")
    with pytest.raises(TimeoutError, match="no complete stack report"):
        sharing.read_stacks(str(report), timeout=0.2)
    with report.open("a") as more:
        more.write("\nThread 0x0000000000000020 (most recent call first):\n"
                   "  File \"y.py\", line 2 in g\n")
    stacks = sharing.read_stacks(str(report), timeout=WAIT)
    assert stacks == {"main": 'Thread 0x0000000000000010 (most recent call first):\n'
                              '  File "x.py", line 1 in f',
                      "other": 'Thread 0x0000000000000020 (most recent call first):\n'
                               '  File "y.py", line 2 in g'}


# --- the helpers behind the exercises' checks ------------------------------------------------

class TwoStep:
    """A balance updated in two steps, with ``between()`` in the middle; optionally locked."""

    def __init__(self, between, locked: bool) -> None:
        self.balance, self.between = 0, between
        self.lock = threading.Lock() if locked else None

    def add(self, amount: int) -> None:
        if self.lock is None:
            self._add(amount)
        else:
            with self.lock:
                self._add(amount)

    def _add(self, amount: int) -> None:
        seen = self.balance
        self.between()
        self.balance = seen + amount


def test_come_between_forces_the_lost_update_and_a_lock_prevents_it() -> None:
    racy, seen = sharing.come_between(lambda b: TwoStep(b, False), lambda a: a.add(1),
                                      lambda a: a.add(-1), patience=WAIT)
    assert (racy.balance, seen) == (1, sharing.Interleaving(True, True, True))
    safe, seen = sharing.come_between(lambda b: TwoStep(b, True), lambda a: a.add(1),
                                      lambda a: a.add(-1), patience=0.1)
    assert (safe.balance, seen) == (0, sharing.Interleaving(True, False, True))


def test_come_between_says_when_between_is_never_called_and_reraises() -> None:
    class NoHook:
        def __init__(self, between) -> None:
            self.value = 0

    obj, seen = sharing.come_between(NoHook, lambda o: None, lambda o: None)
    assert seen == sharing.Interleaving(False, False, True)

    def boom(obj: object) -> None:
        raise KeyError("second")

    with pytest.raises(KeyError, match="second"):
        sharing.come_between(lambda b: TwoStep(b, False), lambda a: a.add(1), boom)


def test_patient_lock_logs_who_took_it_and_gives_up_instead_of_hanging() -> None:
    log: list[tuple[str, str]] = []
    lock = sharing.PatientLock("lock 1", log, patience=0.05)
    with lock:
        assert repr(lock) == "<PatientLock lock 1 locked>"
        errors = sharing.run_together(lambda: lock.acquire())
        assert [type(e) for e in errors] == [TimeoutError]
        assert "together-0 waited 0.05 s for lock 1" in str(errors[0])
        assert lock.acquire(timeout=0.01) is False and lock.acquire(False) is False
    assert log == [(threading.current_thread().name, "lock 1")]
    assert not lock.locked()


def test_run_together_starts_all_at_once_and_returns_the_errors() -> None:
    both_in = threading.Barrier(2)  # passes only if both calls run at the same time

    def meet() -> None:
        both_in.wait(WAIT)

    assert sharing.run_together(meet, meet) == []
    # No call starts before every thread is alive: the first call sees the second thread.
    seen, looked = [], threading.Event()

    def look() -> None:
        seen.extend(t.name for t in threading.enumerate() if t.name.startswith("together-"))
        looked.set()

    assert sharing.run_together(look, lambda: looked.wait(WAIT)) == []
    assert sorted(seen) == ["together-0", "together-1"]
    assert [type(e) for e in sharing.run_together(lambda: None, lambda: 1 / 0)] == [
        ZeroDivisionError]
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match="still running"):
            sharing.run_together(lambda: release.wait(WAIT), timeout=0.05)
    finally:
        release.set()
        for t in threading.enumerate():
            if t.name.startswith("together-"):
                t.join(WAIT)
