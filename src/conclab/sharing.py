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

Everything here starts threads only inside a call and joins them before it returns.
"""

from __future__ import annotations

__all__ = ["Counter", "RacyCounter", "LockedCounter", "AugmentedCounter", "RaceResult",
           "hammer", "switch_interval", "Slot", "dump_traceback", "thread_traceback"]

import faulthandler
import queue
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

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
    """
    old = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield sys.getswitchinterval()
    finally:
        sys.setswitchinterval(old)


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
    """
    if threads < 1 or increments < 0 or tries < 1:
        raise ValueError("need threads >= 1, increments >= 0 and tries >= 1")
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
        with self._changed:
            if not self._changed.wait_for(lambda: not self._full, timeout):
                raise TimeoutError(f"the slot stayed full for {timeout} s")
            self._item, self._full = item, True
            self._changed.notify_all()

    def get(self, timeout: float = 10.0) -> T:
        """Wait until the slot is full, then empty it and wake whoever waits to put."""
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
        raise ValueError("the thread has not been started")
    text = dump_traceback() if dump is None else dump
    section: list[str] = []
    inside = False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            inside = int(header.group(1), 16) == thread.ident
        if inside and line.strip():
            section.append(line)
    return "\n".join(section)
