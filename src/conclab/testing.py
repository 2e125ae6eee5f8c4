"""Checks that a notebook or a test stopped everything it started.

The course promises that every thread, process, pool and event loop it starts is also stopped.
``assert_clean()`` holds it to that: it compares what is alive now with a ``Snapshot`` taken
earlier (by default, when this module was first imported, which in a chapter is the imports
cell) and raises ``AssertionError`` naming whatever is left over:

1. live child processes, except ``multiprocessing``'s own forkserver and resource tracker,
   which the standard library keeps for the life of the interpreter on purpose;
2. extra non-daemon threads, and any live worker thread of a ``concurrent.futures`` thread
   pool (daemon or not: an idle pool is still a pool left running);
3. running event loops other than the one running the caller (the Jupyter kernel's own) and
   those on the kernel's helper threads.

Things that are already on their way out get a short grace period (``timeout``): a pool that
was just shut down may take a few milliseconds to reap its workers. Dead children that nobody
waited for (zombies) are reaped here rather than reported: they hold no resources but a PID.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import sys
import threading
import time

from dataclasses import dataclass, field

import psutil

__all__ = ["Snapshot", "snapshot", "leftovers", "assert_clean", "clean", "wait_blocked"]

# Command-line fragments of the helper processes multiprocessing starts once and keeps.
_MP_INFRASTRUCTURE = ("multiprocessing.forkserver", "multiprocessing.resource_tracker",
                      "multiprocessing.semaphore_tracker")


@dataclass(frozen=True)
class Snapshot:
    """What was alive at one moment: the baseline that ``assert_clean`` compares with."""

    pids: frozenset[int] = field(default_factory=frozenset)
    thread_idents: frozenset[int] = field(default_factory=frozenset)
    loop_ids: frozenset[int] = field(default_factory=frozenset)


def _children() -> list[psutil.Process]:
    """Live (non-zombie) descendants of this process, minus multiprocessing's own helpers."""
    multiprocessing.active_children()  # joins finished multiprocessing children as a side effect
    me = os.getpid()
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(child.cmdline())
            parent = child.ppid()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        # A forkserver's workers are forked from it and share its command line: only the
        # server itself (our direct child) is infrastructure.
        if parent == me and any(part in cmdline for part in _MP_INFRASTRUCTURE):
            continue
        alive.append(child)
    return alive


def _pool_threads() -> set[threading.Thread]:
    """Worker threads of every live concurrent.futures thread pool."""
    from concurrent.futures import thread as cf_thread

    return {t for t in getattr(cf_thread, "_threads_queues", {}) if t.is_alive()}


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    """Every event loop object that is running now (found through the garbage collector)."""
    return [o for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]


def _own_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in the calling thread, if any (in Jupyter: the kernel's)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def snapshot() -> Snapshot:
    """Record what is alive now, to compare with later."""
    return Snapshot(
        pids=frozenset(p.pid for p in _children()),
        thread_idents=frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
        loop_ids=frozenset(id(loop) for loop in _running_loops()),
    )


def leftovers(baseline: Snapshot | None = None) -> list[str]:
    """Describe, one line each, what is alive now that was not alive at ``baseline``."""
    base = _BASELINE if baseline is None else baseline
    found: list[str] = []
    for child in _children():
        if child.pid in base.pids:
            continue
        try:
            what = " ".join(child.cmdline())[:100] or child.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.append(f"child process {child.pid}: {what}")
    pool = _pool_threads()
    for t in threading.enumerate():
        if (t is threading.main_thread() or t.ident in base.thread_idents or not t.is_alive()
                or type(t).__module__.startswith("ipykernel")):
            continue
        if t in pool:
            found.append(f"thread-pool worker {t.name!r} (shut the executor down)")
        elif not t.daemon:
            found.append(f"non-daemon thread {t.name!r}")
    kernel = {t.ident for t in threading.enumerate() if type(t).__module__.startswith("ipykernel")}
    own = _own_loop()
    for loop in _running_loops():
        # A kernel (ipykernel 7) runs loops on its own helper threads, some started lazily
        # after the baseline (JupyterLab opens a "subshell" thread for widgets): a loop on a
        # thread that was already alive, or on one of the kernel's threads, is not ours.
        thread_id = getattr(loop, "_thread_id", None)
        if (loop is own or id(loop) in base.loop_ids or thread_id in base.thread_idents
                or thread_id in kernel):
            continue
        found.append(f"running event loop {loop!r}")
    return found


def assert_clean(baseline: Snapshot | None = None, *, timeout: float = 5.0) -> None:
    """Raise ``AssertionError`` naming everything started since ``baseline`` and still alive.

    Args:
        baseline: what was alive before; by default, what was alive when this module was
            first imported.
        timeout: how long, in seconds, things that are shutting down may take to go.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = leftovers(baseline)
        if not found or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if found:
        raise AssertionError("left running:\n  " + "\n  ".join(found))


def wait_blocked(thread: threading.Thread, function: str, *, timeout: float = 5.0) -> list[str]:
    """Wait until ``thread``'s stack shows it inside ``function``; return that stack.

    The positive way to check that a thread is blocked where it should be (a producer in
    ``Condition.wait`` under ``put``, a getter in ``get``): asserting that an event was *not*
    set within some time also passes when the other thread was merely not scheduled yet. The
    stack is read from ``sys._current_frames()`` until a frame of ``function`` (a code name,
    or ``"Class.method"`` for a qualified name) is on it.

    Args:
        thread: a started thread.
        function: the function the thread must be in, e.g. ``"wait"`` or ``"Slot.put"``.
        timeout: how long to wait, in seconds.

    Returns:
        The thread's stack, innermost frame last, as ``"qualname:line"`` strings.

    Raises:
        TimeoutError: if the thread was not seen inside ``function`` in time, with its stack.
    """
    deadline = time.monotonic() + timeout
    stack: list[str] = []
    while True:
        frame = sys._current_frames().get(thread.ident or -1)
        stack = []
        while frame is not None:
            stack.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
            frame = frame.f_back
        stack.reverse()
        names = {entry.rsplit(":", 1)[0] for entry in stack}
        if function in names or any(n.rsplit(".", 1)[-1] == function for n in names):
            return stack
        if time.monotonic() >= deadline or not thread.is_alive():
            raise TimeoutError(f"{thread.name} was not seen in {function} within {timeout} s; "
                               f"its stack: {stack or 'none (it has ended)'}")
        time.sleep(0.001)  # a poll of the stack, not a guess at how long anything takes


class clean:
    """Context manager: ``with clean(): ...`` asserts the block left nothing running."""

    def __enter__(self) -> Snapshot:
        self.baseline = snapshot()
        return self.baseline

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert_clean(self.baseline)




_BASELINE = snapshot()
