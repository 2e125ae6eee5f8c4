"""Starting and stopping what the course runs: start methods, child processes, fresh loops.

Every module that starts a process or an event loop does it through the few helpers here, so
that each rule of the course is kept in one place:

1. A start method is always named, through ``multiprocessing.get_context(method)``; the global
   ``set_start_method`` is never called (it is one-shot per process and would fix the choice
   for everyone). ``default_start_method()`` reads the platform's choice without fixing it, and
   honours ``CONCLAB_START_METHOD``, so a reader (or ``make stress``) can run the whole course
   under spawn or forkserver on a machine whose default is fork.
2. Whatever is started is stopped: ``stop_processes`` asks nicely, then terminates, then kills,
   and always reaps.
3. A notebook's thread already runs the kernel's event loop, where ``asyncio.run`` refuses to
   start; ``run_in_fresh_loop`` runs a coroutine on a brand-new loop in a helper thread, with
   a timeout, and closes that loop (async generators, then the default executor) as
   ``asyncio.run`` would.
4. Something that must outlive a call (the asyncio actors of ``conclab.actors``) lives on a
   ``BackgroundLoop``: a loop in a daemon thread of its own, started by its first holder and
   stopped, as ``asyncio.run`` would stop it, when its last holder lets go, so that nothing
   is left running once nobody needs it.

It imports only the standard library and knows nothing above it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["START_METHOD_ENV", "default_start_method", "start_methods", "get_context",
           "check_seconds", "stop_processes", "close_queue", "FreshRun", "run_in_fresh_loop", "BackgroundLoop"]

START_METHOD_ENV = "CONCLAB_START_METHOD"
"""Environment variable that overrides the platform's default start method for the course."""


def start_methods() -> list[str]:
    """Every multiprocessing start method this platform offers, the default first."""
    return multiprocessing.get_all_start_methods()


def default_start_method() -> str:
    """The start method the course uses when none is named, read without fixing the choice.

    ``CONCLAB_START_METHOD`` wins when it is set; otherwise whatever the program chose with
    ``set_start_method``, otherwise the platform's default (``get_all_start_methods()`` lists it
    first). Asking ``get_start_method()`` without ``allow_none=True`` would freeze the choice.

    Raises:
        ValueError: if ``CONCLAB_START_METHOD`` names a method this platform does not offer.
    """
    wanted = os.environ.get(START_METHOD_ENV, "").strip()
    if wanted:
        if wanted not in start_methods():
            raise ValueError(f"{START_METHOD_ENV}={wanted!r} is not a start method of this "
                             f"platform; use one of {start_methods()} or unset it")
        return wanted
    return multiprocessing.get_start_method(allow_none=True) or start_methods()[0]


def get_context(method: str | None = None) -> Any:
    """The multiprocessing context for ``method`` (default: ``default_start_method()``).

    Raises:
        ValueError: for a method this platform does not offer, naming the ones it does.
    """
    method = method or default_start_method()
    if method not in start_methods():
        raise ValueError(f"start method {method!r} is not available here; "
                         f"use one of {start_methods()}")
    return multiprocessing.get_context(method)


def check_seconds(value: float, name: str = "timeout") -> float:
    """Return ``value`` if it is a number of seconds >= 0; else raise a ValueError naming it.

    Every timeout in the package passes through here. NaN is the case that matters: it
    compares false with everything, so ``wait(nan)`` returns at once in some places and
    waits forever in others (``Condition.wait_for`` spins, ``Barrier.wait`` hangs).

    Raises:
        ValueError: for a negative number, NaN, or something that is not a number.
    """
    if not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def stop_processes(processes: Iterable[Any], *, grace: float = 2.0) -> None:
    """Stop child processes and reap them: join for ``grace`` s, then terminate, then kill.

    A process that was never started is skipped; one that already ended is only joined. Call
    it in a ``finally`` around the children's lives: it never raises for a child already gone.

    Args:
        processes: ``multiprocessing`` processes (any start method).
        grace: seconds each step may take before the next, harder one.

    Raises:
        TypeError: for one process instead of a list of them, or for anything that is not a
            ``multiprocessing`` process (a thread, say).
        ValueError: for a negative or NaN ``grace``.
    """
    check_seconds(grace, "grace")
    if isinstance(processes, BaseProcess):
        raise TypeError(f"stop_processes() takes a list of processes, not one {processes!r}: "
                        "write stop_processes([p])")
    processes = list(processes)
    for p in processes:
        if not isinstance(p, BaseProcess):
            raise TypeError(f"stop_processes() stops multiprocessing processes, not {p!r}: "
                            "a thread cannot be stopped from outside, so join() it instead")
    started = [p for p in processes if p.pid is not None]
    for p in started:
        p.join(grace if p.is_alive() else 0)
    for p in started:
        if p.is_alive():
            p.terminate()
    for p in started:
        p.join(max(grace, 0.5))
        if p.is_alive():  # SIGTERM can be ignored or arrive while the child is stuck
            p.kill()
            p.join(5.0)  # SIGKILL cannot be ignored: this only waits for the OS to reap it


def close_queue(q: Any, *, timeout: float = 5.0) -> None:
    """Close a ``multiprocessing`` queue in this process: its feeder thread and both pipe ends.

    ``Queue.close()`` alone closes the pipe only through the feeder thread, which starts on
    the first ``put``: in a process that only got from the queue, both ends stay open until
    the queue object is garbage collected. This closes them now. A feeder that cannot flush
    within ``timeout`` (nobody reads the pipe) is abandoned with ``cancel_join_thread``, and
    what it still held is lost, as that method documents.
    """
    check_seconds(timeout)
    q.close()
    feeder = getattr(q, "_thread", None)
    if feeder is not None:
        feeder.join(timeout)
        if feeder.is_alive():
            q.cancel_join_thread()
    q.join_thread()
    for end in (getattr(q, "_reader", None), getattr(q, "_writer", None)):
        if end is not None and not end.closed:
            end.close()


# --- a fresh event loop in a helper thread -----------------------------------------------------

@dataclass(frozen=True)
class FreshRun:
    """What ``run_in_fresh_loop`` brought back: the result and the warnings asyncio logged."""

    result: Any
    warnings: list[str] = field(default_factory=list)

    @property
    def slow_steps(self) -> list[float]:
        """The durations, in seconds, of the steps debug mode reported as slow."""
        return [float(m.group(1)) for w in self.warnings
                if (m := re.search(r" took (\d+(?:\.\d+)?) seconds$", w))]


class _Collect(logging.Handler):
    """Keep the messages of records logged by one thread."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.WARNING)
        self.thread_id = thread_id
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.messages.append(record.getMessage())


def run_in_fresh_loop(fn: Callable[..., Awaitable[Any]], *args: Any, debug: bool = False,
                      slow_callback_duration: float | None = None,
                      timeout: float = 30.0) -> FreshRun:
    """Run ``fn(*args)`` on a new event loop in a new thread, wait, and return its result.

    In a notebook the kernel's loop is already running in the main thread, so ``asyncio.run``
    refuses to start there. In a helper thread it may: this runs it there and hands back the
    result (or re-raises the exception) together with every WARNING or worse that the
    ``asyncio`` logger emitted from that thread, such as debug mode's "Executing <Task ...>
    took 0.2 seconds". The loop is closed as ``asyncio.run`` closes it, so ``to_thread`` used
    inside leaves no thread behind.

    Args:
        fn: a coroutine function; it is called in the helper thread.
        *args: its arguments.
        debug: run the loop in asyncio debug mode.
        slow_callback_duration: in debug mode, the step duration (seconds) above which asyncio
            logs a slow callback (asyncio's default is 0.1).
        timeout: seconds to wait for the thread; on expiry ``TimeoutError`` is raised (a thread
            cannot be killed, so ``fn`` must bound itself too, for example with a deadline).

    Raises:
        TimeoutError: if ``fn`` is still running after ``timeout`` seconds.
        TypeError: if ``fn`` is a coroutine object (``main()``) rather than the function
            (``main``), or does not return a coroutine.
        ValueError: for a negative ``timeout``.
    """
    check_seconds(timeout)
    if inspect.iscoroutine(fn):
        name = fn.__qualname__
        fn.close()  # no "never awaited" warning on top of this error
        raise TypeError(f"run_in_fresh_loop() takes the coroutine function, not a coroutine "
                        f"object: pass {name}, not {name}(...), and its arguments after it")
    if not callable(fn):
        raise TypeError(f"run_in_fresh_loop() takes an async def function, not {fn!r}")
    box: dict[str, Any] = {}
    # The log handler filters by thread id, known only once the thread has started, and must
    # be in place before the loop starts: so the thread starts, then waits for the go-ahead.
    go = threading.Event()

    def target() -> None:
        if not go.wait(timeout):
            return
        try:
            # asyncio.Runner is asyncio.run taken apart: it lets us set the threshold on the
            # loop before the first step, and closes the same way.
            with asyncio.Runner(debug=debug) as runner:
                if slow_callback_duration is not None:
                    runner.get_loop().slow_callback_duration = slow_callback_duration
                coro = fn(*args)
                if not inspect.iscoroutine(coro):  # asyncio would say "a coroutine was expected"
                    raise TypeError(f"{getattr(fn, '__qualname__', fn)}() returned {coro!r}, "
                                    "not a coroutine: run_in_fresh_loop() runs an async def "
                                    "function; call a plain function directly instead")
                box["result"] = runner.run(coro)
        except BaseException as exc:  # carried back to the caller's thread and re-raised there
            box["error"] = exc

    worker = threading.Thread(target=target, name="conclab-fresh-loop", daemon=True)
    logger = logging.getLogger("asyncio")
    worker.start()
    assert worker.ident is not None
    collect = _Collect(worker.ident)
    # Otherwise the records would also reach the root logger: in a notebook, red text on stderr.
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(collect)
    try:
        go.set()
        worker.join(timeout)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    if worker.is_alive():
        raise TimeoutError(f"{getattr(fn, '__name__', fn)!r} still running after {timeout} s")
    if "error" in box:
        raise box["error"]
    return FreshRun(box.get("result"), collect.messages)


# --- a shared event loop in a background thread ------------------------------------------------

def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on a stopped loop, then close it as ``asyncio.run`` would."""
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class BackgroundLoop:
    """An event loop in a daemon thread of its own, running while anybody holds it.

    For work that must outlive a call and must not run on the caller's loop: in a notebook the
    kernel's loop runs the cell, so a cell that waits (``future.result()``) for a coroutine on
    that same loop would wait forever; on a background loop it cannot. ``acquire()`` starts
    the loop on first use and returns it; ``release()`` stops it once the last holder lets go
    (remaining tasks cancelled, async generators and the default executor shut down, loop
    closed), so a program that stopped everything leaves no loop running. A later
    ``acquire()`` starts a fresh one. A child started by fork begins with no loop and no
    holders (the parent's thread does not exist there).

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str = "conclab-loop") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._holders = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (lambda b: b and b._forget())(me()))

    @property
    def holders(self) -> int:
        """How many ``acquire()`` calls have not been released yet."""
        return self._holders

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, or None while nobody holds one."""
        return self._loop

    def acquire(self) -> asyncio.AbstractEventLoop:
        """Hold the loop (starting it if nobody did) and return it; pair with ``release()``."""
        with self._lock:
            if self._loop is None:
                self._loop, self._thread = self._start()
            self._holders += 1
            return self._loop

    def release(self, timeout: float = 5.0) -> None:
        """Let go of the loop; the last holder stops it and waits up to ``timeout`` s for it.

        From a task on the loop itself the stop is only scheduled (the loop cannot wait for
        its own end); it ends when the running step returns.

        Raises:
            RuntimeError: if nobody holds the loop.
        """
        with self._lock:
            if self._holders <= 0:
                raise RuntimeError(f"release() without acquire() on {self!r}: each holder "
                                   f"releases once")
            self._holders -= 1
            if self._holders:
                return
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        assert loop is not None and thread is not None
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(timeout)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
        """Start a new loop in a new daemon thread; return once it runs."""
        loop = asyncio.new_event_loop()
        running = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(running.set)
            try:
                loop.run_forever()
            finally:
                _close_loop(loop)

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        thread.start()
        if not running.wait(30.0):  # a thread start takes ~0.3 ms; only a frozen machine fails
            raise RuntimeError(f"{self.name}: the loop thread did not start within 30 s")
        return loop, thread

    def _forget(self) -> None:
        """In a forked child: the parent's loop thread is not here; start from nothing."""
        self._lock = threading.Lock()
        self._holders, self._loop, self._thread = 0, None, None

    def __repr__(self) -> str:
        state = "running" if self._loop is not None else "stopped"
        return f"<BackgroundLoop {self.name!r} {state} holders={self._holders}>"
