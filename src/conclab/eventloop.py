"""The event loop under load: many cheap tasks, a loop that wakes late, generator actors.

The coroutines chapter shows inline the code that *is* the lesson (a generator actor, a
coroutine driven by ``send``, a ``TaskGroup``); this module holds the instruments it reads:

1. ``task_storm`` creates, starts and finishes ``n`` parked tasks on the running loop and
   reports what each phase cost per task, and (with ``tracemalloc``) how much memory a live
   task holds.
2. ``LagProbe`` is a periodic task that measures how late the loop wakes it. A loop that a
   blocking call has stalled wakes everyone late: the probe turns "the loop was blocked" into
   a number, and, given an observer, into "wait" spans on a timeline.
3. ``handover`` times one hand-over between two tasks on the running loop, by the course's
   one definition of a switch: half of a ping-pong round trip. The two tasks take turns with
   ``await asyncio.sleep(0)``, the least a task can do to let another run, so what is timed
   is the loop's own machinery and no channel's.
4. ``primed`` starts a generator actor, so that it is ready for its first ``send``.

To show what ``asyncio.run`` does from a notebook, whose kernel loop runs forever, use
``conclab.lifecycle.run_in_fresh_loop``. Times come from ``conclab.hooks.clock``, so the
probe's spans line up with every other worker's on one timeline. Nothing here prints; every
measurement is a frozen dataclass with its per-task figures computed.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from conclab.hooks import clock as shared_clock

if TYPE_CHECKING:
    from conclab.hooks import Observer

__all__ = ["primed", "Storm", "task_storm", "Handover", "handover", "LagStats", "LagProbe"]

P = ParamSpec("P")
Y = TypeVar("Y")
S = TypeVar("S")
R = TypeVar("R")


def primed(genfunc: Callable[P, Generator[Y, S, R]]) -> Callable[P, Generator[Y, S, R]]:
    """Decorate a generator actor so that calling it returns it already waiting for a message.

    A fresh generator has not reached its first ``yield``, so ``send(message)`` would raise
    ``TypeError: can't send non-None value to a just-started generator``. The decorator makes
    the priming ``next()`` that every generator actor needs, once, in one place.

    Raises:
        TypeError: at decoration, if ``genfunc`` is not a generator function.
        RuntimeError: at a call, if the generator ends before its first ``yield``.
    """
    if not inspect.isgeneratorfunction(genfunc):
        raise TypeError(f"primed() decorates a generator function (a def with a yield in it), "
                        f"not {genfunc!r}: an actor waits for each message at a yield")
    name = genfunc.__qualname__

    @functools.wraps(genfunc)
    def start(*args: P.args, **kwargs: P.kwargs) -> Generator[Y, S, R]:
        gen = genfunc(*args, **kwargs)
        try:
            next(gen)
        except StopIteration:
            raise RuntimeError(f"{name}() ended before its first yield, so it can never take "
                               "a message: put the yield that receives (msg = yield) inside "
                               "its loop") from None
        return gen
    return start


# --- many tasks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Storm:
    """What ``n`` parked tasks cost on this machine: seconds per phase, and memory if measured.

    Attributes:
        n: how many tasks.
        create_seconds: calling ``create_task`` ``n`` times (nothing runs yet).
        start_seconds: one pass of the loop in which every task runs to its first ``await``.
        finish_seconds: waking them all and waiting until every one has finished.
        bytes_per_task: memory traced by ``tracemalloc`` per live, parked task (measured in a
            separate run, because tracing slows every allocation), or None if not asked for.
        cpu_seconds: CPU time the loop's thread spent over all three phases, or None if not
            measured. Wall-clock time also counts moments when other programs had the core;
            CPU time does not, so on a busy machine it is the steadier figure to compare
            between storms (``time.thread_time``: fine-grained on Linux and macOS, coarse on
            Windows).
    """

    n: int
    create_seconds: float
    start_seconds: float
    finish_seconds: float
    bytes_per_task: float | None = None
    cpu_seconds: float | None = None

    @property
    def total_seconds(self) -> float:
        """Wall time from the first ``create_task`` until the last task finished."""
        return self.create_seconds + self.start_seconds + self.finish_seconds

    @property
    def create_us(self) -> float:
        """Microseconds to create one task."""
        return self.create_seconds / self.n * 1e6

    @property
    def run_us(self) -> float:
        """Microseconds per task to start it, wake it and see it finish (two switches each)."""
        return (self.start_seconds + self.finish_seconds) / self.n * 1e6

    @property
    def cpu_us(self) -> float | None:
        """Microseconds of the loop thread's CPU time per task, all phases; None if unmeasured."""
        return None if self.cpu_seconds is None else self.cpu_seconds / self.n * 1e6


async def _parked(go: asyncio.Event) -> None:
    """One idle task: it waits for the starting gun, like a connection waiting for data."""
    await go.wait()


async def _one_storm(n: int) -> tuple[float, float, float, int, float]:
    """Create, start and finish n parked tasks: the three phases, traced bytes, CPU seconds."""
    go = asyncio.Event()
    # The cyclic garbage collector is paused while the tasks live: every few hundred new
    # objects it would otherwise walk the young ones, and now and then all 100,000 tasks,
    # which is a cost of the collector's settings (a server would raise its thresholds or
    # gc.freeze()), not of tasks. It resumes, as it was, when the storm is over.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _timed_storm(n, go)
    finally:
        if collecting:
            gc.enable()


async def _timed_storm(n: int, go: asyncio.Event) -> tuple[float, float, float, int, float]:
    """The body of _one_storm, with the collector paused."""
    traced = 0
    async with asyncio.TaskGroup() as tg:
        cpu0 = time.thread_time()
        t0 = time.perf_counter()
        for _ in range(n):
            tg.create_task(_parked(go))
        t1 = time.perf_counter()
        # Every task's first step was queued before ours, so one trip round the loop runs them
        # all up to go.wait(): afterwards all n are alive and parked.
        await asyncio.sleep(0)
        t2 = time.perf_counter()
        if tracemalloc.is_tracing():
            traced = tracemalloc.get_traced_memory()[0]
        go.set()
    t3 = time.perf_counter()  # leaving the TaskGroup waited for every task to finish
    cpu = time.thread_time() - cpu0  # every task ran in this thread: its CPU time is theirs
    return t1 - t0, t2 - t1, t3 - t2, traced, cpu


async def task_storm(n: int, *, memory: bool = False) -> Storm:
    """Measure what creating, running and finishing ``n`` tasks costs on the running loop.

    Each task parks on one shared ``asyncio.Event`` (as thousands of idle connections would),
    so all ``n`` are alive at once; then the event is set and each wakes once and finishes.
    The tasks live in a ``TaskGroup``, so an error or a cancellation stops them all. The cyclic
    garbage collector is paused during each run (and restored after), so that its passes over
    the growing heap do not count as the tasks' cost.

    Args:
        n: how many tasks (1 or more).
        memory: also measure memory per live task with ``tracemalloc``, in a second run of the
            same size; it slows every allocation several-fold, so it would spoil the timings.

    Returns:
        A ``Storm`` with the timings of the untraced run, wall-clock and CPU.
    """
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an int >= 1 (how many tasks), not {n!r}")
    gc.collect()  # so that a collection of earlier garbage does not land inside the timing
    create, start, finish, _, cpu = await _one_storm(n)
    per_task = None
    if memory:
        started_here = not tracemalloc.is_tracing()
        gc.collect()
        if started_here:
            tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            _, _, _, traced, _ = await _one_storm(n)
        finally:
            if started_here:
                tracemalloc.stop()
        per_task = (traced - base) / n
    return Storm(n, create, start, finish, per_task, cpu)


# --- one hand-over -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Handover:
    """One hand-over between two asyncio tasks, timed: half of a ping-pong round trip.

    Attributes:
        rounds: how many times each task handed the loop to the other, per repeat.
        handovers: how many times the turn passed from one task to the other in each repeat,
            counted from the order the tasks really ran in (``2 * rounds + 1`` when they
            strictly alternated, which the loop's ready queue guarantees).
        samples: seconds per hand-over, one per repeat.
    """

    rounds: int
    handovers: int
    samples: tuple[float, ...]

    @property
    def seconds(self) -> float:
        """Seconds per hand-over: the median of the repeats."""
        return statistics.median(self.samples)

    @property
    def ns(self) -> float:
        """Nanoseconds per hand-over (median)."""
        return self.seconds * 1e9


async def _take_turns(rounds: int, clock: Callable[[], float]) -> tuple[float, list[str]]:
    """Two tasks alternate by ``sleep(0)``; return the time from a's first step to b's last."""
    turns: list[str] = []
    marks: dict[str, float] = {}

    async def player(name: str) -> None:
        if name == "a":
            marks["start"] = clock()  # a's first step: the first hand-over starts here
        for _ in range(rounds):
            turns.append(name)
            await asyncio.sleep(0)  # yields to the loop, which runs the other task's step
        turns.append(name)
        if name == "b":
            marks["end"] = clock()  # b's last step: the last hand-over has arrived

    async with asyncio.TaskGroup() as group:
        group.create_task(player("a"), name="handover-a")
        group.create_task(player("b"), name="handover-b")
    return marks["end"] - marks["start"], turns


async def handover(rounds: int = 2_000, *, repeats: int = 3,
                   clock: Callable[[], float] = shared_clock) -> Handover:
    """Time one hand-over between two tasks on the running loop (median of ``repeats``).

    Two tasks, ``a`` and ``b``, each ``await asyncio.sleep(0)`` ``rounds`` times. ``sleep(0)``
    puts the task back at the end of the loop's ready queue, so the loop runs the other one
    next: a, b, a, b... (other tasks the loop runs meanwhile, such as a Jupyter kernel's, may
    slip in between, and then count as part of a hand-over, as they would for any task.) From
    a's first step to b's last, the turn passes ``2 * rounds + 1`` times; each repeat's
    figure is that time over the hand-overs counted. A ping-pong round trip is two of them:
    the same definition chapter 04 uses for every model.

    Args:
        rounds: hand-overs each task makes per repeat (1 or more).
        repeats: how many times to measure (1 or more); the median is reported.
        clock: the clock to read (the shared one by default).

    Returns:
        A ``Handover`` with one figure per repeat.
    """
    if rounds < 1 or repeats < 1:
        raise ValueError(f"rounds and repeats must be at least 1, not {rounds} and {repeats}")
    samples, counted = [], 0
    for _ in range(repeats):
        elapsed, turns = await _take_turns(rounds, clock)
        counted = sum(1 for x, y in zip(turns, turns[1:]) if x != y)
        samples.append(elapsed / counted)
    return Handover(rounds, counted, tuple(samples))


# --- how late the loop wakes us ----------------------------------------------------------------

@dataclass(frozen=True)
class LagStats:
    """How late a ``LagProbe`` woke up: its samples summarised, in seconds."""

    samples: int
    max_lag: float
    mean_lag: float
    total_lag: float


class LagProbe:
    """A periodic task that measures how late the event loop wakes it: the loop's health.

    Use it as an async context manager around the code under test. Every ``interval`` seconds
    it asks to be woken; the lag is how much later than asked it actually ran. A loop that
    only awaits keeps lags near zero; one blocking call of ``d`` seconds makes the probe (and
    every other task) wake roughly ``d`` late. ``__aenter__`` returns once the probe is asleep,
    so a block that starts right after it is seen; a normal exit waits for the probe's current
    sleep to end (at most one interval, plus any block) so that the last lag counts too.

    Given an ``observer`` (such as a ``conclab.trace.Trace``), each wake-up is reported as a
    "wait" span labelled "late", from when the probe should have run to when it did.
    """

    def __init__(self, interval: float = 0.005, *, worker: str = "probe",
                 observer: Observer | None = None) -> None:
        if not 0 < interval < math.inf:  # NaN too: asyncio.sleep(nan) would never wake
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}"
                             ": try 0.005")
        self.interval = interval
        self.worker = worker
        self.observer = observer
        self.lags: list[float] = []
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        """Sleep, wake, record the lateness; until asked to stop."""
        while not self._stopping:
            due = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            woke = time.perf_counter()
            self.lags.append(max(0.0, woke - due))
            if self.observer is not None:
                self.observer.span(self.worker, "wait", due, max(due, woke), label="late")

    async def __aenter__(self) -> LagProbe:
        if self._task is not None:
            raise RuntimeError("a LagProbe can be entered only once: make a new LagProbe for "
                               "each block you measure")
        self._task = asyncio.create_task(self._run(), name=f"LagProbe-{self.worker}")
        await asyncio.sleep(0)  # let the probe take its first timestamp and go to sleep
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._task is not None
        self._stopping = True
        if exc_type is not None:
            self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            # Our own cancel() above: swallow it. If *we* are being cancelled, re-raise.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def statistics(self) -> LagStats:
        """The lags so far, summarised."""
        lags = self.lags
        if not lags:
            return LagStats(0, 0.0, 0.0, 0.0)
        return LagStats(len(lags), max(lags), sum(lags) / len(lags), sum(lags))

    def __repr__(self) -> str:
        state = ("new" if self._task is None else "running" if not self._task.done()
                 else "stopped")
        worst = max(self.lags, default=0.0)
        return (f"<LagProbe {self.worker!r} every {self.interval * 1e3:g} ms, {state}, "
                f"{len(self.lags)} samples, max lag {worst * 1e3:.1f} ms>")
