"""Threads share memory: a race that loses updates, its fix, a hand-off, and a stuck thread.

Chapter 02 builds on these; each is small enough to read in one screen:

1. A **lost update** needs three steps by one thread (read, something else, write) and a
   second thread that writes in between. ``RacyCounter`` has exactly that shape, with the
   "something else" injectable so a test can force the bad interleaving; ``LockedCounter`` is
   the same code under a lock. ``hammer`` runs any counter from several threads and reports
   how many increments vanished.
2. The interpreter decides *when* threads change hands; ``switch_interval`` changes how often
   (``sys.setswitchinterval``) for one block and always puts the old value back.
3. ``Slot`` hands one value at a time from one thread to another with a ``Condition``: the
   shape of every producer/consumer hand-off, before ``queue.Queue`` hides it.
4. ``dump_traceback`` and ``thread_traceback`` show where a thread is stuck, through
   ``faulthandler``, which works even where ``sys.stderr`` is not a real file (Jupyter).
5. ``deadlock`` is a real deadlock, two locks taken in opposite order, for a **child
   process**: ``faulthandler.dump_traceback_later`` writes its stuck threads' stacks to a file
   that ``read_stacks`` reads in the parent, which then kills the child.
6. For checks that must neither hope for bad luck nor hang: ``come_between`` puts a second
   thread between a first thread's read and write on purpose, ``PatientLock`` gives up (and
   says so) instead of waiting forever and records who took it, and ``run_together`` runs a
   few callables on threads released at once and hands back their errors.

Everything here starts threads only inside a call and joins them before it returns, except
``deadlock``, whose threads never end: it belongs in a child process that the caller kills.
This module is longer than 300 lines because each of these small pieces is taught on its own
in chapter 02, and they share the dump parsing and the thread plumbing.
"""

from __future__ import annotations

__all__ = ["Counter", "RacyCounter", "LockedCounter", "AugmentedCounter", "RaceResult",
           "hammer", "switch_interval", "Slot", "dump_traceback", "thread_traceback",
           "deadlock", "read_stacks", "Interleaving", "come_between", "PatientLock",
           "run_together"]

import faulthandler
import linecache
import math
import queue
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from conclab.lifecycle import check_seconds

T = TypeVar("T")


class Counter(Protocol):
    """Anything ``hammer`` can hammer: a ``value`` and an ``increment()`` that adds one to it."""

    value: int

    def increment(self) -> None: ...


def _nothing() -> None:
    """Stand in for any ordinary Python call (logging, a lookup) between a read and a write."""


class RacyCounter:
    """A counter whose increment reads, calls something, then writes: it can lose updates.

    The call between the read and the write is where the interpreter may hand the CPU to
    another thread (CPython checks for a pending switch when a function starts). If that thread
    increments meanwhile, this thread then writes back its stale value plus one, and the other
    thread's work is lost. On a free-threaded build no switch is even needed: two threads read
    the same value at the same moment on two cores.

    Args:
        between: called between the read and the write; the default does nothing. Tests pass
            a barrier here to force the bad interleaving every time.
    """

    def __init__(self, between: Callable[[], object] = _nothing) -> None:
        self.value = 0
        self._between = between

    def increment(self) -> None:
        """Add one, in three steps another thread can come between."""
        seen = self.value
        self._between()
        self.value = seen + 1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} value={self.value}>"


class LockedCounter(RacyCounter):
    """The same counter with the read, the call and the write under one lock: no lost updates.

    Another thread may still be scheduled in the middle of ``increment``, but it then blocks on
    the lock until this thread has written, so it always reads the latest value.
    """

    def __init__(self, between: Callable[[], object] = _nothing) -> None:
        super().__init__(between)
        self._lock = threading.Lock()

    def increment(self) -> None:
        """Add one; the lock makes the three steps one step as far as other threads can tell."""
        with self._lock:
            super().increment()


class AugmentedCounter:
    """A counter that adds one with ``self.value += 1``: one line, still not guaranteed atomic.

    On CPython 3.10 and later with the GIL the line almost never loses an update, because the
    interpreter only switches threads at calls and loop jumps, not inside ``+=`` on an int.
    That is an accident of the implementation, not a promise: a free-threaded build, another
    Python, or a ``value`` whose ``__add__`` is Python code can all lose updates.
    """

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        """Add one with an augmented assignment."""
        self.value += 1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} value={self.value}>"


@dataclass(frozen=True)
class RaceResult:
    """What ``hammer`` saw: how many increments were made and how many the counter kept."""

    expected: int
    value: int
    tries: int
    threads: int
    increments: int
    switch_interval: float

    @property
    def lost(self) -> int:
        """Increments that vanished in the last try (0 when the counter kept them all)."""
        return self.expected - self.value


@contextmanager
def switch_interval(seconds: float | None) -> Iterator[float]:
    """Use another thread switch interval for one block, then put the old one back.

    The interval is global to the interpreter (every thread, the Jupyter kernel's too), so the
    old value is restored in ``finally`` even when the block raises.

    Args:
        seconds: how long a thread may keep the GIL while another waits; None changes nothing.

    Yields:
        The interval in force inside the block.

    Raises:
        ValueError: if ``seconds`` is not a positive, finite number.
    """
    # sys.setswitchinterval accepts NaN and then never switches threads on time at all.
    if seconds is not None and not 0 < seconds < math.inf:
        raise ValueError(f"the switch interval must be a positive number of seconds, not "
                         f"{seconds!r}: try 1e-6 (switch often) to 0.1 (rarely); the default "
                         "is 0.005")
    old = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield sys.getswitchinterval()
    finally:
        _restore_interval(old)


def _restore_interval(seconds: float) -> None:
    """Set the switch interval back to a value read from ``sys.getswitchinterval()``, exactly."""
    # CPython keeps the interval in whole microseconds: it stores int(1e6 * seconds) and reads
    # it back as 1e-6 * microseconds. So 1e-4 reads back as 9.999999999999999e-05, and setting
    # that again would truncate to 99 us: a plain save-and-restore drifts. Aiming half a
    # microsecond above the count lands on it whichever way the float rounds.
    micro = round(seconds * 1e6)
    sys.setswitchinterval((micro + 0.5) * 1e-6 if micro >= 1 else seconds)


def hammer(make_counter: Callable[[], Counter], *, threads: int = 2, increments: int = 5_000,
           interval: float | None = None, tries: int = 1, timeout: float = 10.0) -> RaceResult:
    """Increment a fresh counter from several threads at once and count what was lost.

    Each try makes a new counter and starts ``threads`` threads that each call ``increment()``
    ``increments`` times, released together by a barrier so that they really compete. Tries
    stop at the first one that loses an update, so ``tries=10`` asks "can this counter lose
    updates?" ten times over, and a correct counter is hammered all ``tries`` times.

    Args:
        make_counter: makes the counter for one try (a class will do).
        threads: how many threads increment at once.
        increments: how many times each thread increments.
        interval: the thread switch interval during the tries (None: leave it as it is).
        tries: the most tries to make while no update is lost.
        timeout: seconds each try may take before ``TimeoutError``.

    Returns:
        The ``RaceResult`` of the last try.

    Raises:
        TypeError: if ``make_counter`` is a counter rather than something that makes one.
        ValueError: for a count below its minimum, or a negative or NaN ``timeout`` or
            ``interval``.
    """
    if not callable(make_counter):
        name = type(make_counter).__name__
        raise TypeError(f"make_counter must make a fresh counter for each try, not be one: "
                        f"pass the class ({name}), not an instance ({name}())")
    for name, value, least in (("threads", threads, 1), ("increments", increments, 0),
                               ("tries", tries, 1)):
        if not (isinstance(value, int) and value >= least):
            raise ValueError(f"{name} must be an int >= {least}, not {value!r}")
    check_seconds(timeout)
    with switch_interval(interval) as in_force:
        for attempt in range(1, tries + 1):
            counter = make_counter()
            _increment_together(counter, threads, increments, timeout)
            result = RaceResult(threads * increments, counter.value, attempt, threads,
                                increments, in_force)
            if result.lost:
                break
    return result


def _increment_together(counter: Counter, threads: int, increments: int, timeout: float) -> None:
    """Run the threads of one ``hammer`` try, join them, and re-raise the first error."""
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout)
            step = counter.increment  # looked up once, so the loop is nothing but increments
            for _ in range(increments):
                step()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors.append(exc)
            start.abort()

    workers = [threading.Thread(target=work, name=f"hammer-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    if any(worker.is_alive() for worker in workers):
        raise TimeoutError(f"the increments did not finish within {timeout} s")
    if errors:
        raise errors[0]


class Slot(Generic[T]):
    """A one-item box for handing values from one thread to another, built on a Condition.

    ``put`` waits while the slot is full and ``get`` waits while it is empty, so a producer
    and a consumer go in lock-step: each value is taken before the next goes in. It is
    ``queue.Queue(maxsize=1)`` with the machinery showing: one lock, and ``wait_for`` on a
    predicate, which also copes with a notify that came before the wait and with spurious
    wake-ups. Every wait has a timeout and raises ``TimeoutError`` when it runs out.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._item: T | None = None
        self._full = False

    def put(self, item: T, timeout: float = 10.0) -> None:
        """Wait until the slot is empty, then fill it and wake whoever waits to get."""
        check_seconds(timeout)
        with self._changed:
            if not self._changed.wait_for(lambda: not self._full, timeout):
                raise TimeoutError(f"the slot stayed full for {timeout} s")
            self._item, self._full = item, True
            self._changed.notify_all()

    def get(self, timeout: float = 10.0) -> T:
        """Wait until the slot is full, then empty it and wake whoever waits to put."""
        check_seconds(timeout)
        with self._changed:
            if not self._changed.wait_for(lambda: self._full, timeout):
                raise TimeoutError(f"the slot stayed empty for {timeout} s")
            return self._take()

    def put_nowait(self, item: T) -> None:
        """Fill the slot now, or raise ``queue.Full``."""
        with self._changed:
            if self._full:
                raise queue.Full
            self._item, self._full = item, True
            self._changed.notify_all()

    def get_nowait(self) -> T:
        """Empty the slot now, or raise ``queue.Empty``."""
        with self._changed:
            if not self._full:
                raise queue.Empty
            return self._take()

    def _take(self) -> T:
        """Empty the slot and wake the putters; the caller holds the condition."""
        item = self._item
        self._item, self._full = None, False
        self._changed.notify_all()
        return item  # type: ignore[return-value]  # it was full, so this is a T

    def __repr__(self) -> str:
        inside = f"full: {self._item!r}" if self._full else "empty"
        return f"<{type(self).__name__} {inside}>"


def dump_traceback() -> str:
    """Where every thread is right now, as ``faulthandler`` prints it, returned as a string.

    ``faulthandler`` writes straight to a file descriptor without taking locks or calling back
    into Python objects, which is why it still works when the program is deadlocked. In
    Jupyter ``sys.stderr`` has no file descriptor, so this hands it a temporary file and
    reads it back.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as file:
        faulthandler.dump_traceback(file, all_threads=True)
        file.seek(0)
        return file.read()


# A section starts "Thread 0x00007f...", or "Current thread 0x..." for the thread that dumped;
# newer versions may add the thread's name after the number, so only the number is matched.
_HEADER = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-fA-F]+)")


def thread_traceback(thread: threading.Thread, dump: str | None = None) -> str:
    """The part of a ``dump_traceback`` text that belongs to one thread.

    Args:
        thread: a started thread.
        dump: a text from ``dump_traceback``; a fresh one when None.

    Returns:
        The thread's header line and its frames, most recent call first; "" when the dump does
        not hold the thread (it had ended, or the dump was cut off at 100 threads).
    """
    if thread.ident is None:
        raise ValueError(f"{thread.name} has not been started, so it has no stack: start() it "
                         "first")
    text = dump_traceback() if dump is None else dump
    return "\n".join(_sections(text).get(thread.ident, []))


def _sections(dump: str) -> dict[int, list[str]]:
    """Split a faulthandler dump into each thread's lines (header first), by thread ident."""
    found: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in dump.splitlines():
        header = _HEADER.match(line)
        if header:
            current = found.setdefault(int(header.group(1), 16), [])
            current.append(line)
        elif current is not None and line.startswith("  "):  # frames are indented
            current.append(line)
        else:  # the blank line after a section, or text that is not part of one
            current = None
    return found


# --- a real deadlock, for a child process -----------------------------------------------------

def deadlock(report: str, *, after: float = 0.3, limit: float = 60.0) -> None:
    """Deadlock on purpose, and have faulthandler write down where: run it in a child process.

    Two threads each take one of two locks, wait until both hold theirs, then ask for the
    other's: ``a-then-b`` holds lock a and waits for b, ``b-then-a`` holds b and waits for a,
    and neither can ever go on. ``after`` seconds later faulthandler's watchdog (a C thread
    that needs no lock and no Python code) appends every thread's stack to ``report``, whose
    first lines name the threads (``# name 0xIDENT``) so that ``read_stacks`` can label them.

    The caller kills the child once it has read the report: a deadlocked program never ends by
    itself. As a safety net the main thread gives up joining after ``limit`` seconds, and
    because the two threads are daemons the process then exits.

    Args:
        report: path of the file to write (created or truncated).
        after: seconds from the deadlock to the dump.
        limit: seconds after which the child ends by itself, in case nobody kills it.
    """
    lock_a, lock_b = threading.Lock(), threading.Lock()
    both_hold = threading.Barrier(3)

    def take_both(first: threading.Lock, second: threading.Lock) -> None:
        with first:
            both_hold.wait(limit)  # each holds its first lock before either asks for its second
            with second:  # a-then-b waits here for lock b, b-then-a for lock a: for ever
                pass

    pair = [threading.Thread(target=take_both, args=(lock_a, lock_b), name="a-then-b",
                             daemon=True),
            threading.Thread(target=take_both, args=(lock_b, lock_a), name="b-then-a",
                             daemon=True)]
    with open(report, "w", encoding="utf-8") as out:
        for t in pair:
            t.start()
        for t in [threading.current_thread(), *pair]:
            out.write(f"# {'main' if t is threading.current_thread() else t.name} "
                      f"{t.ident:#x}\n")
        out.flush()
        both_hold.wait(limit)
        faulthandler.dump_traceback_later(after, exit=False, file=out)
        try:
            for t in pair:
                t.join(limit)
        finally:
            faulthandler.cancel_dump_traceback_later()


def read_stacks(report: str, *, timeout: float = 10.0, settle: float = 0.05) -> dict[str, str]:
    """Wait for the stacks a ``deadlock`` child writes, then return them by thread name.

    The report is complete when every named thread has a section and the file has stopped
    growing for ``settle`` seconds. Each frame line is followed by its source line, as in a
    traceback, so the stack reads without opening the file.

    Args:
        report: the path given to ``deadlock``.
        timeout: seconds to wait for a complete report.
        settle: how long the file must stay the same size to count as written.

    Returns:
        ``{thread name: its stack, most recent call first}``, in the order the child named them.

    Raises:
        TimeoutError: if the report was not complete in time (with what there was).
    """
    deadline = time.monotonic() + timeout
    text, size, since = "", -1, time.monotonic()
    while True:
        try:
            with open(report, encoding="utf-8", errors="replace") as file:
                text = file.read()
        except FileNotFoundError:
            text = ""
        names = {int(m.group(2), 16): m.group(1)
                 for m in re.finditer(r"^# (\S+) (0x[0-9a-fA-F]+)$", text, re.MULTILINE)}
        sections = _sections(text)
        now = time.monotonic()
        if len(text) != size:
            size, since = len(text), now
        elif names and all(sections.get(i) for i in names) and now - since >= settle:
            return {name: _with_source(sections[ident]) for ident, name in names.items()}
        if now >= deadline:
            raise TimeoutError(f"no complete stack report in {report} after {timeout} s; "
                               f"it holds: {text[-500:]!r}")
        time.sleep(0.01)  # polling a file another process writes: there is nothing to wait on


_FRAME = re.compile(r'^\s+File "(.+)", line (\d+) in ')


def _with_source(section: list[str]) -> str:
    """A thread's dump lines with each frame's source line added below it."""
    out: list[str] = []
    for line in section:
        out.append(line)
        frame = _FRAME.match(line)
        source = linecache.getline(frame.group(1), int(frame.group(2))).strip() if frame else ""
        if source:
            out.append(f"    {source}")
    return "\n".join(out)


# --- for checks that neither hope for bad luck nor hang ---------------------------------------

@dataclass(frozen=True)
class Interleaving:
    """What ``come_between`` saw.

    Attributes:
        reached: the first thread called ``between()`` (so the second could be put there).
        came_between: the second thread reached ``between()`` while the first was inside it:
            nothing kept it out of the stretch between the first one's read and write.
        finished: both threads finished within the timeout.
    """

    reached: bool
    came_between: bool
    finished: bool


def come_between(make: Callable[[Callable[[], None]], T], first: Callable[[T], object],
                 second: Callable[[T], object], *, patience: float = 0.2,
                 timeout: float = 5.0) -> tuple[T, Interleaving]:
    """Run ``second`` while ``first`` is between its read and its write, on purpose.

    ``make(between)`` builds the shared object; its code must call ``between()`` between
    reading shared data and writing it back (as ``RacyCounter`` does). A thread runs
    ``first(obj)``; when it calls ``between()`` it stays there up to ``patience`` seconds while
    a second thread runs ``second(obj)``. Without a lock the second thread gets through (and
    the first then overwrites its update); with the right lock it blocks until the first has
    written, so the first's wait runs out. The bad interleaving is forced, not hoped for.

    Args:
        make: builds the object from the ``between`` callable.
        first: what the first thread does to the object.
        second: what the second thread does, while the first is inside ``between()``.
        patience: how long the first thread waits inside ``between()`` for the second.
        timeout: seconds for everything; a thread still running then is reported unfinished.

    Returns:
        The object, and an ``Interleaving`` saying what happened.

    Raises:
        Whatever ``first`` or ``second`` raised (the first error).
    """
    reached, go_on, second_inside = threading.Event(), threading.Event(), threading.Event()
    first_left = threading.Event()
    first_name = f"come-between-first-{id(reached)}"

    def between() -> None:
        if threading.current_thread().name == first_name:
            if not reached.is_set():  # the first call only: later ones run straight through
                reached.set()
                go_on.set()
                second_inside.wait(patience)  # a lock keeps the second thread out: this runs out
                first_left.set()
        elif go_on.is_set() and not first_left.is_set():
            second_inside.set()

    obj = make(between)
    errors: list[BaseException] = []

    def guarded(step: Callable[[T], object], *, first_thread: bool) -> Callable[[], None]:
        def body() -> None:
            try:
                step(obj)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
                errors.append(exc)
            finally:
                if first_thread:
                    go_on.set()  # if it never called between(), the second still runs
        return body

    one = threading.Thread(target=guarded(first, first_thread=True), name=first_name)
    two = threading.Thread(target=guarded(second, first_thread=False),
                           name="come-between-second")
    end = time.monotonic() + timeout
    one.start()
    go_on.wait(timeout)
    two.start()
    for t in (one, two):
        t.join(max(0.0, end - time.monotonic()))
    if errors:
        raise errors[0]
    return obj, Interleaving(reached.is_set(), second_inside.is_set(),
                             not (one.is_alive() or two.is_alive()))


class PatientLock:
    """A lock that gives up (and says so) instead of waiting for ever, and logs who took it.

    For checking code that might deadlock: a plain ``with lock:`` on it waits at most
    ``patience`` seconds, then raises ``TimeoutError`` naming the lock and the thread, so a
    deadlock becomes an error instead of a hang. Every acquisition appends ``(thread name,
    lock name)`` to ``log``, so a check can see the order in which locks were taken.

    Args:
        name: how messages and the log name this lock.
        log: where acquisitions are recorded (a new list if None).
        patience: the longest a blocking acquire without a timeout waits.
    """

    def __init__(self, name: str, log: list[tuple[str, str]] | None = None, *,
                 patience: float = 2.0) -> None:
        self.name, self.patience = name, patience
        self.log: list[tuple[str, str]] = [] if log is None else log
        self._lock = threading.Lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock like ``Lock.acquire``; a wait without a timeout raises after patience."""
        wait = self.patience if timeout < 0 else min(timeout, self.patience)
        got = self._lock.acquire(blocking, wait) if blocking else self._lock.acquire(False)
        if got:
            self.log.append((threading.current_thread().name, self.name))
        elif blocking and timeout < 0:
            raise TimeoutError(f"{threading.current_thread().name} waited {self.patience} s for "
                               f"{self.name}: a deadlock?")
        return got

    def release(self) -> None:
        """Release the lock."""
        self._lock.release()

    def locked(self) -> bool:
        """True while some thread holds the lock."""
        return self._lock.locked()

    def __enter__(self) -> PatientLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<PatientLock {self.name} {'locked' if self.locked() else 'unlocked'}>"


def run_together(*calls: Callable[[], object], timeout: float = 10.0) -> list[BaseException]:
    """Run each callable in its own thread, released at the same moment; return their errors.

    Threads are named ``together-0``, ``together-1``... in the order of ``calls``.

    Raises:
        TimeoutError: if a thread is still running after ``timeout`` seconds (it cannot be
            killed: give the calls their own timeouts, or ``PatientLock``s).
    """
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def body(call: Callable[[], object]) -> None:
        try:
            start.wait(timeout)
            call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(c,), name=f"together-{i}")
               for i, c in enumerate(calls)]
    end = time.monotonic() + timeout
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise TimeoutError(f"a thread was still running after {timeout} s")
    return errors
