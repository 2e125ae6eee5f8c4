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

Only the standard library and the package's lower floors are used, so that any child can
import this module cheaply. Children are started through ``lifecycle.get_context`` and always
stopped with ``lifecycle.stop_processes``.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from conclab import lifecycle
from conclab.hooks import Span, clock
from conclab.workloads import burn

__all__ = [
    "Outcome", "StartMethod",
    "square", "timed_busy", "bump", "counter", "returns_lock",
    "count_and_silence", "pickle_report", "call_in_child", "start_times", "thread_start_times",
    "child_sees_lock_free",
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
        An ``Outcome`` with the value, or the error and the side it happened on.
    """
    try:
        payload = pickle.dumps((fn, args))
    except Exception as exc:  # noqa: BLE001 - e.g. a lambda: no child is started at all
        return Outcome(method, error=_describe(exc), where="parent")
    ctx = lifecycle.get_context(method)
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
        return Outcome(method, error=value, where="child")
    finally:
        lifecycle.stop_processes([child], grace=grace)
        reader.close()


# --- what a process costs ------------------------------------------------------------------

def _nothing() -> None:
    """A child that does nothing: starting it measures the start-up cost alone."""


def start_times(method: StartMethod, n: int = 3, *, timeout: float = 30.0) -> list[float]:
    """Seconds to start and join a child that does nothing, ``n`` times in a row.

    With ``forkserver`` the first time in an interpreter also starts the server process,
    so it is usually the slowest; later ones fork from the already-running server.
    """
    ctx = lifecycle.get_context(method)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        child = ctx.Process(target=_nothing)
        child.start()
        lifecycle.stop_processes([child], grace=timeout)
        times.append(time.perf_counter() - start)
    return times


def thread_start_times(n: int = 3) -> list[float]:
    """Seconds to start and join a thread that does nothing, ``n`` times (for comparison)."""
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
