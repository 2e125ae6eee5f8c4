"""What crosses a process boundary, and what does not: probes for the chapter on processes.

Everything a child process runs has to be importable by that child: under ``spawn`` and
``forkserver`` the child is a fresh interpreter that imports the function by name, so a
function defined in a notebook cell (in ``__main__``) is out of its reach. This module holds
the functions chapter 01 sends to children, and a few probes that show, safely and with
timeouts, what crosses a process boundary and what does not:

1. ``call_in_child`` runs one call in a fresh child and reports what happened there as an
   ``Outcome``, including errors that would otherwise only reach the child's stderr (such as
   a cell-defined function the child cannot find). It never hangs: it has a timeout and it
   kills and joins the child before returning.
2. ``bump``/``counter`` show that a child gets a copy of memory (``fork``) or a fresh import
   (``spawn``, ``forkserver``), never a shared one.
3. ``child_sees_lock_free`` shows why forking a process that has threads is unsafe: a lock
   another thread holds at the moment of the fork stays held in the child for ever.
4. ``timed_busy`` runs ``workloads.burn`` (the package's one CPU burner) and says when it ran
   and in which process, for pools and speed-up measurements.
5. ``ready_pool`` hands out a ``ProcessPoolExecutor`` whose workers have all started, so a
   measurement sees tasks, not start-up; ``round_trips`` and ``granularity`` measure what each
   task costs on top of its work, and from what size on a pool pays off (``crossover``).

Only the standard library and the package's lower floors are used, so that any child can
import this module cheaply. It runs past 300 lines because each probe is short but must stop
every child it starts on every path; splitting them would only scatter the chapter's story. Children are started through ``lifecycle.get_context`` and always
stopped with ``lifecycle.stop_processes``.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from conclab import lifecycle
from conclab.hooks import Span, clock
from conclab.workloads import burn

__all__ = [
    "Outcome", "StartMethod", "Grain",
    "square", "send_pid", "timed_busy", "bump", "counter", "returns_lock",
    "count_and_silence", "pickle_report", "call_in_child", "start_times", "thread_start_times",
    "child_sees_lock_free", "ready_pool", "round_trips", "granularity", "crossover",
]

StartMethod = str  # "fork", "spawn" or "forkserver": whatever get_context() accepts


@dataclass(frozen=True)
class Outcome:
    """What happened to one call sent to a child process: a value, or the error it raised.

    ``error`` reads ``"TypeName: message"``; ``where`` says which side failed: ``"parent"``
    (the call could not be pickled, so no child was started), ``"child"`` (unpickling or
    running the call, or pickling its result, failed in the child) or ``"timeout"``.
    """

    method: StartMethod
    value: Any = None
    error: str | None = None
    where: str | None = None

    @property
    def ok(self) -> bool:
        """True when the call returned a value."""
        return self.error is None

    def __str__(self) -> str:
        if self.ok:
            return repr(self.value)
        return self.error if self.where == "timeout" else f"{self.error} (in the {self.where})"


# --- work to send to children --------------------------------------------------------------

def square(x: float) -> float:
    """Return ``x * x``: the importable twin of the worker a notebook cell defines."""
    return x * x


def send_pid(queue: Any) -> None:
    """Put this process's ID on ``queue``: the smallest child that sends something back."""
    queue.put(os.getpid())


def timed_busy(units: int) -> Span:
    """Run ``workloads.burn(units)`` and report when it ran and in which process.

    The span's worker is ``"pid <n>"`` and its label the checksum ``burn`` returned, so a
    parallel run can be checked against a serial one. Times are on ``hooks.clock``
    (``time.perf_counter``), system-wide on Linux, macOS and Windows: spans from different
    processes line up on one axis.
    """
    start = clock()
    checksum = burn(units)
    return Span(f"pid {os.getpid()}", "run", start, clock(), str(checksum))


_counter = 0


def bump() -> int:
    """Add one to this process's module-level counter and return the new value."""
    global _counter
    _counter += 1
    return _counter


def counter() -> int:
    """The module-level counter as this process sees it."""
    return _counter


def returns_lock() -> threading.Lock:
    """Return a lock: a result that cannot be pickled, so it cannot leave a child process."""
    return threading.Lock()


def count_and_silence(started: Any, arrived: Any = None) -> None:
    """Pool initializer: count this worker's start in ``started`` and silence its stderr.

    For the chapter's demonstration of a pool whose children die on arrival: the count shows
    how many the pool started in their place, and the silence keeps the same traceback from
    being printed once per child (``call_in_child`` shows it once, as text).

    Args:
        started: a ``multiprocessing`` ``Value("i")`` shared with the parent.
        arrived: a semaphore from the same context, released once per start, so the parent
            can wait for the n-th start with ``acquire(timeout=...)`` instead of polling.
    """
    with started.get_lock():
        started.value += 1
    if arrived is not None:
        arrived.release()
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as this child


def pickle_report(obj: object) -> str:
    """Say whether ``obj`` pickles: ``"ok, N bytes"`` or the error ``pickle.dumps`` raises."""
    try:
        return f"ok, {len(pickle.dumps(obj))} bytes"
    except Exception as exc:  # noqa: BLE001 - reporting the error is the point
        return f"{type(exc).__name__}: {exc}"


# --- one call in one child -----------------------------------------------------------------

def _describe(exc: BaseException) -> str:
    """An exception as ``"TypeName: message"``."""
    return f"{type(exc).__name__}: {exc}"


# What to do, appended to the two errors a reader meets first: something that does not pickle,
# and a function the child cannot import because it lives in the parent's __main__.
_PICKLE_HINT = ("; only what pickles crosses a process boundary: send plain data and functions "
                "defined with def at module level, and make locks, files and sockets in the child")
_MAIN_HINT = ("; a function defined in __main__ (a notebook cell, a script) cannot be imported "
              "by a spawn or forkserver child: move it into a module and import it from there")


def _child_main(payload: bytes, conn: Connection) -> None:
    """Child side of ``call_in_child``: unpickle the call, run it, send back the outcome."""
    with conn:
        try:
            fn, args = pickle.loads(payload)  # a cell-defined fn fails here under spawn
            value = fn(*args)
        except Exception as exc:  # noqa: BLE001 - the parent reports it
            conn.send(("error", _describe(exc)))
            return
        try:
            conn.send(("ok", value))  # pickles first, so a failure writes nothing
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{_describe(exc)} (pickling the result)"))


def call_in_child(fn: Callable[..., Any], *args: Any, method: StartMethod,
                  timeout: float = 30.0) -> Outcome:
    """Run ``fn(*args)`` in one new child process and report what happened there.

    Unlike a pool, this never retries and never hangs: an error in the child comes back as
    text instead of dying on the child's stderr, and after ``timeout`` seconds the child is
    killed. The child is always joined before this returns.

    Args:
        fn: the function to call; it is pickled by reference, as a pool would pickle it.
        *args: its arguments, pickled by value.
        method: the start method, used through ``multiprocessing.get_context(method)``.
        timeout: seconds to wait for the outcome.

    Returns:
        An ``Outcome`` with the value, or the error and the side it happened on; the two
        errors a reader meets first (something that does not pickle, a function defined in
        ``__main__``) say what to do about them.

    Raises:
        ValueError: for a start method this platform does not offer, or a negative or NaN
            ``timeout``.
    """
    lifecycle.check_seconds(timeout)
    ctx = lifecycle.get_context(method)  # an unknown method fails here, before any pickling
    try:
        payload = pickle.dumps((fn, args))
    except Exception as exc:  # noqa: BLE001 - e.g. a lambda: no child is started at all
        return Outcome(method, error=f"{_describe(exc)}{_PICKLE_HINT}", where="parent")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(payload, writer), daemon=True)
    grace = timeout  # how long the child may take to exit once its outcome is in
    try:
        child.start()
        writer.close()  # so that the child's exit shows up as EOF on the reader
        if not reader.poll(timeout):
            grace = 0.0  # it is stuck or slow: no point waiting any longer
            return Outcome(method, error=f"TimeoutError: no outcome within {timeout:g} s",
                           where="timeout")
        try:
            status, value = reader.recv()
        except EOFError:
            child.join(timeout)
            return Outcome(method, error=f"child exited with code {child.exitcode}",
                           where="child")
        if status == "ok":
            return Outcome(method, value=value)
        if value.startswith("AttributeError: ") and "__main__" in value:
            value += _MAIN_HINT
        return Outcome(method, error=value, where="child")
    finally:
        lifecycle.stop_processes([child], grace=grace)
        reader.close()


# --- what a process costs ------------------------------------------------------------------

def _nothing() -> None:
    """A child that does nothing: starting it measures the start-up cost alone."""


def _check_count(n: int) -> None:
    """Refuse a number of starts that would measure nothing (the caller takes min() of it)."""
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an int >= 1 (how many starts to time), not {n!r}")


def start_times(method: StartMethod, n: int = 3, *, target: Callable[[], object] | None = None,
                timeout: float = 30.0) -> list[float]:
    """Seconds to start and join a child that does nothing, ``n`` times in a row.

    With ``forkserver`` the first time in an interpreter also starts the server process,
    so it is usually the slowest; later ones fork from the already-running server.

    Args:
        method: the start method.
        n: how many children, one after another.
        target: what the child calls (no arguments). The default lives in this package, so a
            ``spawn`` or ``forkserver`` child must import ``conclab.boundary`` (and what it
            imports) before it can call it; a standard-library target such as ``os.getpid``
            needs no import a fresh interpreter has not already done. The difference between
            the two is what importing the package costs each child.
        timeout: seconds each child may take.
    """
    _check_count(n)
    ctx = lifecycle.get_context(method)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        child = ctx.Process(target=_nothing if target is None else target)
        child.start()
        lifecycle.stop_processes([child], grace=timeout)
        times.append(time.perf_counter() - start)
    return times


def thread_start_times(n: int = 3) -> list[float]:
    """Seconds to start and join a thread that does nothing, ``n`` times (for comparison)."""
    _check_count(n)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        thread = threading.Thread(target=_nothing)
        thread.start()
        thread.join(30.0)
        times.append(time.perf_counter() - start)
    return times


# --- why fork and threads do not mix -------------------------------------------------------

# Held by a parent thread in child_sees_lock_free. A fork copies it in the held state, but
# not the thread that would release it: in the child nobody ever will.
_LOCK = threading.Lock()


def _hold(held: threading.Event, release: threading.Event) -> None:
    """Parent-side thread: hold ``_LOCK`` until told to let go."""
    with _LOCK:
        held.set()
        release.wait(60.0)


def _try_lock(timeout: float) -> None:
    """Child side: exit 0 if ``_LOCK`` can be taken within ``timeout``, 1 if not."""
    got = _LOCK.acquire(timeout=timeout)
    sys.exit(0 if got else 1)


def child_sees_lock_free(method: StartMethod, *, timeout: float = 0.5) -> bool:
    """Start a child while another thread holds a module-level lock; can the child take it?

    Under ``fork`` the child inherits the lock *held*, without the thread that would release
    it, so it waits ``timeout`` seconds and gives up: with a plain ``acquire()`` it would hang
    for ever. (This is why Python 3.12+ warns when a multi-threaded process forks.) Under
    ``spawn`` and ``forkserver`` the child imports this module afresh and finds the lock free.
    """
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(held, release), name="lock-holder")
    holder.start()
    try:
        if not held.wait(30.0):
            raise RuntimeError("the lock-holding thread did not start")
        child = lifecycle.get_context(method).Process(target=_try_lock, args=(timeout,))
        child.start()
        child.join(timeout + 30.0)
        lifecycle.stop_processes([child], grace=1.0)
        return child.exitcode == 0
    finally:
        release.set()
        holder.join(30.0)


# --- how small a task may be -------------------------------------------------------------------

def _line_up(barrier: Any, timeout: float) -> None:
    """Pool initializer: wait until every worker of the pool has started."""
    barrier.wait(timeout)


def ready_pool(workers: int, method: StartMethod, *, timeout: float = 60.0) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` processes that have all started and are idle.

    A fresh executor starts its workers lazily (one per submit while none is idle, under
    ``spawn`` and ``forkserver``), so the first tasks of a measurement would also time the
    start-ups. Here every worker waits in its initializer until all have started, and one
    round of empty tasks goes through, before the pool is handed out. Use it in a ``with``.

    Raises:
        concurrent.futures.process.BrokenProcessPool: a worker failed to start in time.
    """
    ctx = lifecycle.get_context(method)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_line_up,
                               initargs=(ctx.Barrier(workers), timeout))
    try:
        futures = [pool.submit(os.getpid) for _ in range(workers)]
        for f in futures:
            f.result(timeout=timeout)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return pool


def round_trips(pool: ProcessPoolExecutor, n: int = 50, *, timeout: float = 30.0) -> list[float]:
    """Seconds for each of ``n`` empty tasks sent to ``pool`` one at a time, each awaited.

    Each round trip pickles a call, sends it to an idle worker, wakes it, and brings the
    (pickled) result back: the cost a pool adds to every task, with no work in it.
    """
    times = []
    for _ in range(n):
        start = time.perf_counter()
        pool.submit(square, 0).result(timeout=timeout)
        times.append(time.perf_counter() - start)
    return times


@dataclass(frozen=True)
class Grain:
    """One size of task in a granularity sweep: the same tasks, alone and through a pool.

    Attributes:
        units: ``burn`` units per task.
        tasks: how many tasks were timed.
        serial: seconds this process took to do them all, one after another.
        pooled: seconds the pool took for the same tasks (``map``, one task per message).
    """

    units: int
    tasks: int
    serial: float
    pooled: float

    @property
    def task_seconds(self) -> float:
        """Measured seconds of one task done alone (not the calibration's guess)."""
        return self.serial / self.tasks

    @property
    def speedup(self) -> float:
        """Serial time over pooled time: above 1, the pool paid off."""
        return self.serial / self.pooled if self.pooled > 0 else 0.0


def granularity(pool: ProcessPoolExecutor, sizes: Sequence[int], tasks: int = 32, *,
                rounds: int = 4, budget: float = 5.0, timeout: float = 60.0) -> list[Grain]:
    """Time ``tasks`` tasks of each size, alone in this process and through ``pool``.

    Sizes are tried from the smallest up. Each size is measured in ``rounds`` rounds, each a
    few tasks alone and then as many pooled, back to back, so that a burst of load from other
    programs hits both sides alike. The pool should be ready (``ready_pool``), or the first
    size pays for starting it.

    Args:
        pool: a pool whose workers are started.
        sizes: ``burn`` units per task, smallest first.
        tasks: tasks per size.
        rounds: how many alternations of alone and pooled the tasks are split into.
        budget: seconds; a size is not started if, scaled from the one before, it would
            end past the budget (the result then has fewer grains than ``sizes``).
        timeout: seconds the pool may take for one size.

    Raises:
        AssertionError: if the pool computed different checksums than this process.
    """
    grains: list[Grain] = []
    began = time.perf_counter()
    for units in sizes:
        if grains:  # would this size, scaled from the last one, overrun the budget?
            last = grains[-1]
            guess = (last.serial + last.pooled) * units / max(last.units, 1)
            if time.perf_counter() - began + guess > budget:
                break
        serial = pooled = 0.0
        for chunk in _chunks(tasks, rounds):
            start = time.perf_counter()
            alone = [burn(units) for _ in range(chunk)]
            middle = time.perf_counter()
            answers = list(pool.map(burn, [units] * chunk, timeout=timeout))
            serial, pooled = serial + middle - start, pooled + time.perf_counter() - middle
            assert answers == alone, "the pool computed something else"
        grains.append(Grain(units, tasks, serial, pooled))
    return grains


def _chunks(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` nearly equal, non-empty sizes (fewer if total is small)."""
    parts = max(1, min(parts, total))
    return [total // parts + (i < total % parts) for i in range(parts)]


def crossover(grains: Sequence[Grain]) -> float | None:
    """The task duration (seconds) at which the pool's speed-up first reaches 1, or None.

    Between the last size below 1 and the first at or above it, the crossing is interpolated
    on a log scale of task duration (the sweep's sizes grow geometrically). None when no size
    reached 1; the smallest size's duration when even that one did.
    """
    for i, g in enumerate(grains):
        if g.speedup >= 1:
            if i == 0:
                return g.task_seconds
            lo = grains[i - 1]
            x0, x1 = math.log(lo.task_seconds), math.log(g.task_seconds)
            y0, y1 = lo.speedup, g.speedup
            return math.exp(x0 + (1 - y0) * (x1 - x0) / (y1 - y0))
    return None
