"""A teaching scheduler: generators as tasks, taking turns in a loop that fits on one screen.

This is the reference version of the scheduler that chapter 08 builds step by step, and what
its stepper widget drives. A task is a generator; it runs until it yields, and what it yields
says what it wants next. The design, in a few sentences:

1. A bare ``yield`` hands control back: the task goes to the back of the ready queue, so tasks
   take turns round-robin, and the same program always interleaves the same way.
2. Anything else a task wants is a **trap**: a tuple such as ``("sleep", 0.1)`` that it yields
   and that the scheduler answers by sending back a value (or throwing in an exception). Tasks
   do not write traps by hand; they ``yield from`` this module's trap functions:
   ``yield from sleep(0.1)``, ``item = yield from q.get()``, ``value = yield from join(tid)``.
3. A trap either answers at once (the task runs on, in the same step) or blocks the task: the
   scheduler files it where it waits (the sleepers' heap, a queue, the selector, another
   task's joiners) together with a way to take it out again, and when the wait is over it
   puts the task at the back of the ready queue.
4. ``step()`` first wakes the tasks whose wait is over, then resumes the next ready task until
   it yields or blocks. When no task is ready it waits for the next wake-up (a sleeper's time,
   a socket) in ``selectors``, never longer than a timeout; a ``ManualClock`` is moved on to
   that time instead, so tests and the stepper never really sleep.
5. ``cancel()`` throws ``Cancelled`` into a task at a trap: at once if it is blocked, at its
   next yield if it is ready (so an item it was just handed is not lost). It may clean up.
6. Everything is reported to the package's one ``Observer`` (``conclab.hooks``): "run" and
   "wait" spans, "spawn" and "exit" events, and a "send"/"receive" pair for each item a queue
   hands over. With no observer nothing is timed or reported.

What asyncio adds on top: **futures** (a result that anyone may set and any number of tasks
await; every wait in asyncio is built on one), **callbacks** (the loop really runs callbacks;
a task is a chain of them, and I/O, timers and threads all end by scheduling one), and
**cancellation scopes** (``asyncio.timeout`` and ``TaskGroup`` cancel a group of tasks as a
unit and tell their own cancellations from others'). Its ``async``/``await`` is this
module's ``yield from``, under names that keep coroutines and generators apart.

This module is about twice the ~300 lines the package aims at: some 390 lines of code, the
rest docstrings. The traps, the queue and the stepper's snapshot sit beside the loop that
answers them so that they are read together; the loop itself (``step``, ``_run`` and
``_poll``) is about 70 lines, one screen. It imports only ``conclab.hooks`` and the stdlib.
"""

from __future__ import annotations

__all__ = ["TaskId", "Trap", "TaskGen", "Cancelled", "ManualClock", "sleep", "spawn", "join",
           "cancel", "wait_readable", "wait_writable", "Queue", "State", "Scheduler", "MAX_WAIT"]

import heapq
import inspect
import itertools
import reprlib
import selectors
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

from conclab.hooks import Observer, clock as real_clock, observing

TaskId = int
"""What ``spawn`` returns and ``join`` and ``cancel`` take."""
Trap = tuple[Any, ...]
"""A request a task yields to the scheduler: ``("sleep", 0.1)``, ``("get", queue)``..."""
TaskGen = Generator[Trap | None, Any, Any]
"""A task: a generator that yields nothing (to take turns) or traps."""

MAX_WAIT = 1.0
"""The longest a single wait in ``step()`` blocks, in seconds, whatever its timeout."""


class Cancelled(BaseException):
    """Thrown into a cancelled task at a trap. Like ``asyncio.CancelledError`` it is not an
    ``Exception``, so that ``except Exception`` in a task's clean-up does not swallow it."""


class ManualClock:
    """A clock that moves only when told to: with it, sleeps take no real time.

    Give it to ``Scheduler(clock=...)``: when no task is ready the scheduler moves it on to
    the earliest sleeper's wake time instead of waiting, so a program that sleeps for minutes
    runs in microseconds, with the same times on every run. Waits for sockets stay real.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (>= 0)."""
        if not seconds >= 0:
            raise ValueError(f"a clock only moves forward: seconds must be >= 0, not {seconds!r}")
        self.now += seconds

    def advance_to(self, when: float) -> None:
        """Move the clock on to ``when``, if that is later than now."""
        self.now = max(self.now, when)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now!r})"


# -- the traps: what a task may ask for, written ``result = yield from trap(...)`` -----------

def sleep(seconds: float) -> Generator[Trap, Any, None]:
    """Suspend the calling task for ``seconds``; ``sleep(0)`` lets every ready task go first.

    Raises:
        ValueError: if ``seconds`` is negative (or NaN).
    """
    if not seconds >= 0:
        raise ValueError(f"sleep() needs seconds >= 0, not {seconds!r}: "
                         "a task cannot wake up before it fell asleep")
    yield ("sleep", seconds)


def spawn(gen: TaskGen, *, name: str | None = None) -> Generator[Trap, Any, TaskId]:
    """Start ``gen`` as a new task (a child of the caller) and return its id; never blocks."""
    _check_generator(gen)
    return (yield ("spawn", gen, name))


def join(tid: TaskId) -> Generator[Trap, Any, Any]:
    """Wait for task ``tid`` to finish; return its result, or raise the exception it died of
    (``Cancelled`` if it was cancelled)."""
    return (yield ("join", tid))


def cancel(tid: TaskId) -> Generator[Trap, Any, bool]:
    """Cancel task ``tid`` (see ``Scheduler.cancel``) without waiting for it; ``join`` waits."""
    return (yield ("cancel", tid))


def wait_readable(sock: Any) -> Generator[Trap, Any, None]:
    """Wait until ``sock`` (anything with ``fileno()``) can be read without blocking."""
    yield ("read", sock)


def wait_writable(sock: Any) -> Generator[Trap, Any, None]:
    """Wait until ``sock`` (anything with ``fileno()``) can be written without blocking."""
    yield ("write", sock)


class Queue:
    """A FIFO queue for handing items between the tasks of one ``Scheduler``.

    ``item = yield from q.get()`` waits while the queue is empty; ``yield from q.put(item)``
    waits while it holds ``maxsize`` items (never, if ``maxsize`` is 0). A put to a waiting
    getter hands the item straight over. Unlike ``asyncio.Queue`` it holds no reference to a
    loop or futures: the scheduler keeps its waiters here and does the rest.
    """

    def __init__(self, maxsize: int = 0) -> None:
        if not (isinstance(maxsize, int) and maxsize >= 0):
            raise ValueError(f"maxsize must be >= 0 (0 for no limit) and an int, "
                             f"not {maxsize!r}")
        self.maxsize = maxsize
        self._items: deque[tuple[Any, str, float]] = deque()  # (item, sender, time sent)
        self._getters: deque[_Task] = deque()
        self._putters: deque[tuple[_Task, Any, float]] = deque()  # (task, item, time sent)

    def get(self) -> Generator[Trap, Any, Any]:
        """Remove and return the first item, waiting while there is none."""
        return (yield ("get", self))

    def put(self, item: Any) -> Generator[Trap, Any, None]:
        """Append ``item``, waiting while the queue is full."""
        yield ("put", self, item)

    def qsize(self) -> int:
        """Number of items in the queue (not counting those that blocked putters hold)."""
        return len(self._items)

    def full(self) -> bool:
        """True if a put would wait."""
        return 0 < self.maxsize <= len(self._items)

    def __repr__(self) -> str:
        return (f"<Queue maxsize={self.maxsize} items={[i for i, _, _ in self._items]!r} "
                f"getters={[t.name for t in self._getters]} "
                f"putters={[t.name for t, _, _ in self._putters]}>")


@dataclass(frozen=True)
class State:
    """What the scheduler holds at one moment: what a stepper widget draws.

    Attributes:
        time: the scheduler's clock.
        steps: how many steps have run.
        ready: names of the ready tasks, the next to run first.
        sleeping: ``(name, wake time)`` of each sleeping task, the earliest first.
        waiting: ``(name, what it waits on)`` of each task blocked on a queue, a socket or a
            join ("queue get", "read fd 7", "join task-3"), in spawn order.
        last: the name of the task that ran the last step, or None before the first.
        finished: names of the tasks that have finished, in the order they did.
    """

    time: float
    steps: int
    ready: tuple[str, ...]
    sleeping: tuple[tuple[str, float], ...]
    waiting: tuple[tuple[str, str], ...]
    last: str | None
    finished: tuple[str, ...]


class _Task:
    """One task: its generator, what it is sent next, what it waits on, how it ended."""

    __slots__ = ("id", "name", "gen", "value", "error", "cancel_pending", "waiting", "since",
                 "unwait", "joiners", "done", "result", "exception")

    def __init__(self, tid: TaskId, name: str, gen: TaskGen) -> None:
        self.id, self.name, self.gen = tid, name, gen
        self.value: Any = None                      # sent in at the next resume...
        self.error: BaseException | None = None     # ...or thrown in instead
        self.cancel_pending = False                 # cancelled while ready: throw at next yield
        self.waiting = ""                           # what it is blocked on, for labels
        self.since = 0.0                            # when it blocked (only when observed)
        self.unwait: Callable[[], None] | None = None  # takes it out of what it waits on
        self.joiners: list[_Task] = []
        self.done = False
        self.result: Any = None
        self.exception: BaseException | None = None


class Scheduler:
    """Runs generator tasks round-robin in this thread, with sleeps, queues, joins and sockets.

    Args:
        clock: None for the real clock (``conclab.hooks.clock``), or a ``ManualClock`` that
            the scheduler moves on instead of sleeping.
        observer: receives the spans and events of the run (see the module docstring).

    Use it as a context manager, or call ``close()``: either cancels the tasks still alive.

    Example:
        >>> def ticker(name, n):
        ...     for i in range(n):
        ...         print(name, i)
        ...         yield from sleep(0.5)
        >>> with Scheduler(ManualClock()) as s:
        ...     _ = s.spawn(ticker("a", 2)), s.spawn(ticker("b", 1))
        ...     s.run(timeout=5)
        ...     s.state().time
        a 0
        b 0
        a 1
        1.0
    """

    def __init__(self, clock: ManualClock | None = None, *,
                 observer: Observer | None = None) -> None:
        if clock is not None and not isinstance(clock, ManualClock):
            raise TypeError(f"clock must be a ManualClock or None (the real clock), not {clock!r}")
        self.clock: Callable[[], float] = real_clock if clock is None else clock
        self._manual = clock
        self._observer = observer if observing(observer) else None
        self._tasks: dict[TaskId, _Task] = {}       # alive, in spawn order
        self._done: dict[TaskId, _Task] = {}        # finished, in the order they did
        self._unheard: dict[TaskId, _Task] = {}     # died of an error no task has joined yet
        self._ready: deque[_Task] = deque()
        self._sleeping: list[tuple[float, int, _Task]] = []  # heap of (wake time, seq, task)
        self._selector = selectors.DefaultSelector()
        self._polling = 0                           # tasks waiting in the selector
        self._ids, self._seq = itertools.count(1), itertools.count()
        self._last: _Task | None = None
        self._steps = 0
        self._closed = False

    # -- the public API ------------------------------------------------------------------

    def spawn(self, gen: TaskGen, *, name: str | None = None) -> TaskId:
        """Add generator ``gen`` as a new task at the back of the ready queue; return its id.

        Args:
            gen: a generator object (call the generator function first: ``worker(3)``).
            name: the task's name in traces and state; ``task-<id>`` by default.
        """
        return self._spawn(gen, name, "scheduler")

    def cancel(self, tid: TaskId) -> bool:
        """Ask task ``tid`` to stop: ``Cancelled`` is thrown into it at a trap.

        A blocked task sees it at once, in the trap it waits in (it leaves the sleepers, the
        queue, the selector or the joiners); a ready task sees it at its next yield, so what
        it was just handed is not lost. It may catch it to clean up (even wait) before it
        ends. Returns False if the task had already finished.
        """
        task = self._find(tid)
        if task.done:
            return False
        if task.unwait is not None:
            task.unwait()
            self._wake(task, error=Cancelled(f"{task.name} was cancelled"))
        else:
            task.cancel_pending = True
        return True

    def result(self, tid: TaskId) -> Any:
        """The value task ``tid`` returned; raises the exception it died of.

        Raises:
            RuntimeError: if the task has not finished yet.
        """
        task = self._find(tid)
        if not task.done:
            raise RuntimeError(f"{task.name} has not finished: run() first, or join it")
        self._unheard.pop(tid, None)
        if task.exception is not None:
            raise task.exception
        return task.result

    def step(self, timeout: float | None = None) -> bool:
        """Run one step: wake the tasks whose wait is over, then resume the next ready task
        until it yields or blocks.

        If no task is ready, first wait for the next wake-up, at most ``timeout`` seconds (and
        never more than ``MAX_WAIT``); if none comes, no task runs. A ``ManualClock`` is moved
        on to the next sleeper's wake time instead. A task that raises ends there: the error
        is kept for ``join`` and ``result()`` (``run()`` raises it if nobody joins it).

        Returns:
            Whether any task remains.

        Raises:
            RuntimeError: deadlock: tasks remain, but all wait on queues or joins.
            ValueError: for a negative or NaN ``timeout``.
        """
        _check_timeout(timeout)
        if not self._ready or self._sleeping or self._polling:
            self._poll(timeout)
        if self._ready:
            self._run(self._ready.popleft())
        return bool(self._tasks)

    def run(self, timeout: float | None = None) -> None:
        """Run steps until every task has finished.

        Then, so that no error passes silently, raise the first exception that a task died of
        and no task joined (joined in any order: a join after the task's end hears of it too).

        Args:
            timeout: real seconds to allow (a ``ManualClock``'s sleeps take none); None: no limit.

        Raises:
            TimeoutError: when ``timeout`` passes first, naming the tasks still alive (caused
                by the first unjoined error, if there is one).
            ValueError: for a negative or NaN ``timeout`` (NaN would never time out).
        """
        _check_timeout(timeout)
        deadline = None if timeout is None else real_clock() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - real_clock()
            if left is not None and left <= 0:
                raise TimeoutError(f"run() timed out after {timeout} s with tasks still alive: "
                                   f"{self._describe(self._tasks.values())}") from self._heard()
            self.step(left)
        error = self._heard()
        if error is not None:
            raise error

    def state(self) -> State:
        """A snapshot of the ready queue, the sleepers, the waiters and the last task."""
        asleep = {task for _, _, task in self._sleeping}
        return State(self.clock(), self._steps, tuple(t.name for t in self._ready),
                     tuple((t.name, when) for when, _, t in sorted(self._sleeping)),
                     tuple((t.name, t.waiting) for t in self._tasks.values()
                           if t.unwait is not None and t not in asleep),
                     None if self._last is None else self._last.name,
                     tuple(t.name for t in self._done.values()))

    def close(self, timeout: float = 1.0) -> None:
        """Cancel the tasks still alive, let them clean up for ``timeout`` real seconds, and
        close the selector. A task still alive then is closed like an abandoned generator
        (``GeneratorExit`` at its yield, so its ``finally`` runs but cannot wait)."""
        if self._closed:
            return
        for tid in list(self._tasks):
            self.cancel(tid)
        deadline = real_clock() + timeout
        try:
            while (self._tasks and (self._ready or self._sleeping or self._polling)
                   and real_clock() < deadline):
                self.step(deadline - real_clock())
        finally:
            for task in list(self._tasks.values()):
                self._abandon(task)
            self._ready.clear()
            self._selector.close()
            self._closed = True

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.state()
        return (f"<Scheduler t={s.time:.6g} ready={list(s.ready)} "
                f"sleeping={[n for n, _ in s.sleeping]} waiting={[n for n, _ in s.waiting]} "
                f"last={s.last!r} finished={len(s.finished)}{' closed' if self._closed else ''}>")

    # -- the loop ---------------------------------------------------------------------------

    def _run(self, task: _Task) -> None:
        """Resume ``task`` until it yields or blocks (one step), and file it where it belongs."""
        self._last, self._steps = task, self._steps + 1
        start = self.clock() if self._observer is not None else 0.0
        how = "yield"
        try:
            while True:
                value, error, task.value, task.error = task.value, task.error, None, None
                trap = task.gen.send(value) if error is None else task.gen.throw(error)
                if task.cancel_pending:  # cancelled while it was ready: it sees it here
                    task.cancel_pending, task.error = False, Cancelled(f"{task.name} was cancelled")
                elif trap is None:       # a bare yield: to the back of the queue
                    self._ready.append(task)
                    break
                elif not self._trap(task, trap):  # blocked; else answered: run on
                    how = task.waiting
                    break
        except StopIteration as stop:
            how = self._finish(task, stop.value, None)
        except (Cancelled, Exception) as exc:
            how = self._finish(task, None, exc)
        if self._observer is not None:
            self._observer.span(task.name, "run", start, self.clock(), how)

    def _poll(self, timeout: float | None) -> None:
        """Wake the tasks whose wait is over; if none is ready, first wait for a wake-up."""
        if not (self._ready or self._sleeping or self._polling):
            if self._tasks:
                raise RuntimeError("deadlock: no task is ready, asleep or waiting on a socket, "
                                   f"so nothing can wake {self._describe(self._tasks.values())}; "
                                   "cancel() one of them, or close() the scheduler"
                                   ) from self._heard()
            return
        # Wait not at all if a task is ready; else until the first sleeper's time, at most
        # `timeout` and MAX_WAIT. A manual clock is moved on to that time instead (below).
        wait = 0.0
        if not self._ready:
            wait = MAX_WAIT if timeout is None else max(0.0, min(timeout, MAX_WAIT))
            if self._sleeping:
                until = self._sleeping[0][0] - self.clock()
                wait = 0.0 if self._manual else max(0.0, min(wait, until))
        if self._polling:
            for key, _ in self._selector.select(wait):
                self._unpoll(key.fileobj)
                self._wake(key.data)
        elif wait > 0:
            time.sleep(wait)  # nothing to select on (and Windows' select() refuses no sockets)
        if self._manual and self._sleeping and not self._ready:
            self._manual.advance_to(self._sleeping[0][0])
        now = self.clock()
        while self._sleeping and self._sleeping[0][0] <= now:
            self._wake(heapq.heappop(self._sleeping)[2])

    # -- blocking and waking ------------------------------------------------------------------

    def _block(self, task: _Task, what: str, unwait: Callable[[], None]) -> bool:
        """File ``task`` as waiting on ``what``; ``unwait`` takes it out again. Returns False."""
        task.waiting, task.unwait = what, unwait
        if self._observer is not None:
            task.since = self.clock()
        return False

    def _wake(self, task: _Task, value: Any = None, error: BaseException | None = None) -> None:
        """Put a blocked task at the back of the ready queue, to be sent ``value`` or ``error``."""
        if self._observer is not None:
            self._observer.span(task.name, "wait", task.since, self.clock(), task.waiting)
        task.value, task.error, task.waiting, task.unwait = value, error, "", None
        self._ready.append(task)

    def _finish(self, task: _Task, result: Any, error: BaseException | None) -> str:
        """Record how ``task`` ended and wake its joiners; return how, as a label."""
        task.done, task.result, task.exception = True, result, error
        self._done[task.id] = self._tasks.pop(task.id)
        how = ("return" if error is None else "cancelled" if isinstance(error, Cancelled)
               else f"raise {type(error).__name__}")
        if self._observer is not None:
            self._observer.event("exit", self.clock(), task.name, task.name, how)
        if error is not None and not isinstance(error, Cancelled) and not task.joiners:
            self._unheard[task.id] = task  # until a join or result() hears of it
        for joiner in task.joiners:
            self._wake(joiner, result, error)
        return how

    # -- the traps: each answers (task.value or task.error) and returns True, or blocks ------

    def _trap(self, task: _Task, trap: Any) -> bool:
        """Carry out ``trap`` for ``task``: True if it runs on, False if it blocked."""
        known = type(trap) is tuple and trap and type(trap[0]) is str
        handler = self._TRAPS.get(trap[0]) if known else None
        if handler is None:
            task.error = TypeError(_not_a_trap(task.name, trap))
            return True
        try:
            return handler(self, task, *trap[1:])
        except Exception as exc:  # a trap that cannot be done fails in the task, at the trap
            task.error = exc
            return True

    def _trap_sleep(self, task: _Task, seconds: float) -> bool:
        """Block ``task`` in the sleepers' heap until ``seconds`` from now."""
        entry = (self.clock() + seconds, next(self._seq), task)
        heapq.heappush(self._sleeping, entry)

        def unwait() -> None:
            self._sleeping.remove(entry)
            heapq.heapify(self._sleeping)
        return self._block(task, f"sleep {seconds:g}", unwait)

    def _trap_spawn(self, task: _Task, gen: TaskGen, name: str | None) -> bool:
        """Start a child task; answer its id."""
        task.value = self._spawn(gen, name, task.name)
        return True

    def _trap_join(self, task: _Task, tid: TaskId) -> bool:
        """Answer how task ``tid`` ended, or block among its joiners until it does."""
        target = self._find(tid)
        if target is task:
            raise RuntimeError(f"{task.name} tried to join itself, and would wait forever")
        if target.done:
            self._unheard.pop(tid, None)
            task.value, task.error = target.result, target.exception
            return True
        target.joiners.append(task)
        return self._block(task, f"join {target.name}", lambda: target.joiners.remove(task))

    def _trap_cancel(self, task: _Task, tid: TaskId) -> bool:
        """Cancel task ``tid``; answer whether it was still alive."""
        task.value = self.cancel(tid)
        return True

    def _trap_get(self, task: _Task, q: Queue) -> bool:
        """Answer the first item of ``q``, or block among its getters while it is empty."""
        if not q._items:
            q._getters.append(task)
            return self._block(task, "queue get", lambda: q._getters.remove(task))
        item, sender, sent = q._items.popleft()
        self._handed_over(sender, sent, task, item)
        if q._putters:  # a slot is free: the first blocked putter's item goes in
            putter, waiting_item, put_at = q._putters.popleft()
            q._items.append((waiting_item, putter.name, put_at))
            self._wake(putter)
        task.value = item
        return True

    def _trap_put(self, task: _Task, q: Queue, item: Any) -> bool:
        """Hand ``item`` to a waiting getter, or queue it, or block while ``q`` is full."""
        now = self.clock() if self._observer is not None else 0.0  # only for the report
        if q._getters:  # someone is waiting: hand it over directly
            getter = q._getters.popleft()
            self._handed_over(task.name, now, getter, item)
            self._wake(getter, item)
            return True
        if not q.full():
            q._items.append((item, task.name, now))
            return True
        entry = (task, item, now)
        q._putters.append(entry)
        return self._block(task, "queue put", lambda: q._putters.remove(entry))

    def _trap_read(self, task: _Task, sock: Any) -> bool:
        """Block ``task`` in the selector until ``sock`` is readable."""
        return self._poll_for(task, sock, selectors.EVENT_READ, "read")

    def _trap_write(self, task: _Task, sock: Any) -> bool:
        """Block ``task`` in the selector until ``sock`` is writable."""
        return self._poll_for(task, sock, selectors.EVENT_WRITE, "write")

    _TRAPS: ClassVar[dict[str, Callable[..., bool]]] = {
        "sleep": _trap_sleep, "spawn": _trap_spawn, "join": _trap_join, "cancel": _trap_cancel,
        "get": _trap_get, "put": _trap_put, "read": _trap_read, "write": _trap_write,
    }

    # -- helpers ----------------------------------------------------------------------------

    def _spawn(self, gen: TaskGen, name: str | None, parent: str) -> TaskId:
        """Create a task for ``gen`` at the back of the ready queue; report who spawned it."""
        _check_generator(gen)
        if self._closed:
            raise RuntimeError("this scheduler is closed: make a new Scheduler()")
        tid = next(self._ids)
        task = _Task(tid, name or f"task-{tid}", gen)
        self._tasks[tid] = task
        self._ready.append(task)
        if self._observer is not None:
            self._observer.event("spawn", self.clock(), parent, task.name)
        return tid

    def _abandon(self, task: _Task) -> None:
        """End a task that outlived ``close()``'s grace period, as Python ends an abandoned
        generator: ``GeneratorExit`` at its yield, so its ``finally`` blocks run."""
        if task.unwait is not None:
            task.unwait()
        error: BaseException = Cancelled(f"{task.name} was closed")
        try:
            task.gen.close()
        except Exception as exc:  # it yielded or failed in its clean-up: keep that instead
            error = exc
        self._finish(task, None, error)

    def _heard(self) -> BaseException | None:
        """Take the first error that no task has joined, if any (so it is raised only once)."""
        if not self._unheard:
            return None
        return self._unheard.pop(next(iter(self._unheard))).exception

    def _find(self, tid: TaskId) -> _Task:
        """The task with id ``tid``, alive or finished."""
        task = self._tasks.get(tid) or self._done.get(tid)
        if task is None:
            raise KeyError(f"no task has id {tid!r}: use the id that spawn() returned")
        return task

    def _poll_for(self, task: _Task, sock: Any, event: int, verb: str) -> bool:
        """Block ``task`` until ``sock`` is ready for ``event``."""
        try:
            key = self._selector.register(sock, event, task)
        except (ValueError, TypeError):  # selectors: "Invalid file object: ..."
            raise TypeError(f"wait_{verb}able() needs a socket (anything with a fileno()), "
                            f"not {reprlib.repr(sock)}: pass the socket itself") from None
        except KeyError:
            other = self._selector.get_key(sock).data
            raise RuntimeError(f"{other.name} already waits on this socket; "
                               "let one task at a time wait on a socket") from None
        self._polling += 1
        return self._block(task, f"{verb} fd {key.fd}", lambda: self._unpoll(sock))

    def _unpoll(self, sock: Any) -> None:
        """Stop watching ``sock``."""
        self._selector.unregister(sock)
        self._polling -= 1

    def _handed_over(self, sender: str, sent: float, receiver: _Task, item: Any) -> None:
        """Report a queue hand-over as a "send" and a "receive" event with the same label."""
        if self._observer is not None:
            label = reprlib.repr(item)
            self._observer.event("send", sent, sender, receiver.name, label)
            self._observer.event("receive", self.clock(), sender, receiver.name, label)

    @staticmethod
    def _describe(tasks: Iterable[_Task]) -> str:
        """``task-1 (queue get), task-2 (ready)``: names and what each waits on."""
        return ", ".join(f"{t.name} ({t.waiting or 'ready'})" for t in tasks)


def _check_timeout(timeout: float | None) -> None:
    """Refuse a timeout that is negative or NaN (None means no limit)."""
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None (no limit), "
                         f"not {timeout!r}")


def _check_generator(gen: object) -> None:
    """Raise a TypeError saying what to do if ``gen`` is not a generator object."""
    if inspect.isgenerator(gen):
        return
    if inspect.iscoroutine(gen):
        gen.close()  # no "never awaited" warning on top of this error
        hint = "an `async def` coroutine needs asyncio; write the task as a def with `yield`"
    elif inspect.isgeneratorfunction(gen):
        hint = f"call the generator function first: spawn({gen.__name__}(...))"
    else:
        hint = "write the task as a generator function (a def with `yield`) and spawn its call"
    raise TypeError(f"spawn() needs a generator object, not {reprlib.repr(gen)}: {hint}")


def _not_a_trap(name: str, thing: object) -> str:
    """The message for a task that yielded something the scheduler does not understand."""
    if inspect.isgenerator(thing):
        hint = (f"write `yield from {thing.__name__}(...)`, not `yield {thing.__name__}(...)`")
    else:
        hint = ("yield nothing (a bare `yield`) to let the others run, or `yield from` a trap "
                "function such as `sleep(0.1)` or `q.get()`")
    return f"{name} yielded {reprlib.repr(thing)}, which is not a trap: {hint}"
