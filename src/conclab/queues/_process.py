"""ProcessQueue: a multiprocessing queue with shutdown that coroutines await without a thread.

How it works, in a few sentences:

1. Items travel through one ``multiprocessing.Queue`` (its pipe, its feeder thread), pickled
   by ``put`` itself, so an unpicklable item fails in the caller, not later in the feeder
   thread where ``multiprocessing`` only prints it and drops the item.
2. Shutdown is shared state, not a sentinel per consumer: a small shared array holds the state
   (open, shut down, shut down immediately), how many puts were *reserved* and how many items
   were *got*, all under one ``multiprocessing.Lock``. A put reserves before it sends, so
   after ``shutdown()`` the count is final and "drained" means ``got == reserved``: an item
   still in some producer's feeder thread is waited for, never lost behind a sentinel. The
   same counts keep ``maxsize``: a put waits on a process-shared ``Condition`` while
   ``reserved - got`` is at the bound (the ``multiprocessing.Queue`` underneath is unbounded,
   so the token below never waits for a slot).
3. Whoever makes the queue both shut down and drained (the shutdown itself, the last get, or
   a put that gave up) sends one wake-up token (``None``) through the pipe; a consumer that
   reads it puts it back and raises, so every consumer in every process wakes, however many.
4. A coroutine waits with no thread at all: its loop watches the pipe's read end
   (``loop.add_reader``, see ``_readable``) and wakes the first waiting task, which takes an
   item itself in that same step, so a task cancelled at that moment takes none.

5. The shared lock is held only for a few counter updates, so nobody waits for it long; but a
   process killed while holding it (an interrupt that lands just as a put takes it, or
   ``terminate()``) never gives it back. Every acquisition is therefore bounded: past
   ``_LOCK_PATIENCE`` seconds the call raises ``RuntimeError`` that says so, and ``close()``
   shuts the queue down without the lock, so that a ``with`` block still ends.

It needs a selector event loop (the default on Linux and macOS, not Windows' proactor). A
message larger than the pipe's buffer (64 KiB on Linux) can hold a loop while its writer
finishes writing it; share big data through shared memory or files instead.

At ~360 lines it is over the package's ~300: put, get, shutdown and close are the parties of
one protocol on the same shared counts, and read best side by side in one class.
"""

from __future__ import annotations

import multiprocessing.util
import queue
import reprlib
import time
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, TypeVar

from conclab import lifecycle
from conclab.hooks import Observer, clock, observing
from conclab.queues._common import (QueueShutDown, ShutDown, check_maxsize, deadline_after,
                                    running_loop, worker_name)
from conclab.queues._readable import ReadableWaiters

__all__ = ["ProcessQueue"]

T = TypeVar("T")
_STATE, _RESERVED, _GOT, _OBSERVED = range(4)  # slots of the shared array
_OPEN, _SHUT, _IMMEDIATE = 0, 1, 2
_WAKE = None  # the token that wakes consumers after shutdown (items are always bytes or tuples)
_QUIET = 0.05  # close() stops discarding once the pipe stayed empty this long (seconds)
_LOCK_PATIENCE = 5.0  # seconds: the shared lock is held for microseconds unless its holder died


class _Held:
    """``with _Held(lock):`` acquires ``lock`` within ``_LOCK_PATIENCE`` seconds, or raises."""

    __slots__ = ("_lock",)

    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(True, _LOCK_PATIENCE):
            raise RuntimeError(
                f"the queue's lock was not free for {_LOCK_PATIENCE:g} s: a process was "
                "probably killed while it held it (interrupted or terminated mid-put or "
                "mid-get), and nobody can use this queue any more; close it and make another")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class ProcessQueue(Generic[T]):
    """A queue between processes, with Python 3.13's shutdown, that coroutines can await.

    Pass it to child processes as an argument (under every start method); ``put``, ``get``
    and ``shutdown`` work in any process, ``await q.aget()`` or ``async for item in q`` in any
    loop of any process. Unlike ``multiprocessing.Queue`` it has ``shutdown(immediate=False)``
    (puts fail with ``ShutDown``, gets drain what was put and then raise, in every process,
    with no sentinel per consumer), ``qsize()`` works on every platform, and a cancelled
    ``aget()`` leaves no thread and no item behind. Use it as a context manager in the
    process that created it: ``close()`` ends it within a bounded time.

    Args:
        maxsize: the most items in flight; ``put`` waits while there are as many. 0: no bound.
        method: the start method of the processes that will share it (as
            ``lifecycle.get_context``; default: the course's default).
        observer: a ``conclab.hooks.Observer`` that gets a "send" and a "receive" event for
            every item got in this process, whichever process put it.
        name: shown by ``repr``.
        label: turns an item into the events' label.

    Raises:
        TypeError: if ``maxsize`` is not an int.
        ValueError: if ``method`` is not a start method of this platform.
    """

    def __init__(self, maxsize: int = 0, *, method: str | None = None,
                 observer: Observer | None = None, name: str = "process-queue",
                 label: Callable[[Any], str] = reprlib.repr) -> None:
        ctx = lifecycle.get_context(method)
        self._maxsize = check_maxsize(maxsize)
        # Unbounded underneath: the bound is kept with the shared counts instead, because a
        # bounded multiprocessing.Queue would make the wake-up token wait for a free slot,
        # and a shutdown of a full queue would then block.
        self._queue = ctx.Queue()
        self._lock = ctx.Lock()
        self._room = ctx.Condition(self._lock)  # putters of a full bounded queue wait on it
        self._counts = ctx.Array("q", 4, lock=False)
        self._counts[_OBSERVED] = observing(observer)
        self.name = name
        self._setup(observer if observing(observer) else None, label)

    def _setup(self, observer: Observer | None, label: Callable[[Any], str]) -> None:
        """The state that is this process's own and never crosses to another one."""
        self._observer, self._label = observer, label
        # multiprocessing offers no public way to the pipe's read end.
        self._readers = ReadableWaiters(self._queue._reader.fileno())
        self._closed = False
        # A forked child inherits this object without pickling: it must not inherit the
        # parent's loops, observer or closed flag either.
        multiprocessing.util.register_after_fork(self, ProcessQueue._after_fork)

    def _after_fork(self) -> None:
        """Reset the per-process state in a child started by fork."""
        self._setup(None, reprlib.repr)

    def __getstate__(self) -> dict[str, Any]:
        return {"queue": self._queue, "lock": self._lock, "room": self._room,
                "counts": self._counts, "maxsize": self._maxsize, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._queue, self._lock, self._room = state["queue"], state["lock"], state["room"]
        self._counts = state["counts"]
        self._maxsize, self.name = state["maxsize"], state["name"]
        self._setup(None, reprlib.repr)

    # -- any process ----------------------------------------------------------------------------

    @property
    def maxsize(self) -> int:
        """The bound given at creation (0 or less: none)."""
        return self._maxsize

    def qsize(self) -> int:
        """Items put (or being put) and not yet got, in all processes; 0 after an immediate
        shutdown."""
        with _Held(self._lock):
            if self._counts[_STATE] == _IMMEDIATE:
                return 0
            return self._counts[_RESERVED] - self._counts[_GOT]

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Send ``item`` to whichever process gets next; as ``multiprocessing.Queue.put``.

        Raises:
            ShutDown: if the queue is shut down, or is shut down while this waits for room.
            queue.Full: if a bounded queue had no room in time (at once when not ``block``).
            ValueError: for a negative ``timeout``.
            TypeError, pickle.PicklingError...: if ``item`` cannot be pickled.
        """
        payload: Any = bytes(ForkingPickler.dumps(item))
        if self._counts[_OBSERVED]:
            payload = (payload, worker_name(), clock())
        deadline = None if not block or timeout is None else deadline_after(timeout)
        with _Held(self._lock):
            while True:
                if self._counts[_STATE] != _OPEN:
                    raise ShutDown("the queue was shut down, so it takes no more items; "
                                   "stop producing (catch this exception)")
                if not 0 < self._maxsize <= self._counts[_RESERVED] - self._counts[_GOT]:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if not block or (left is not None and left <= 0):
                    raise queue.Full
                self._room.wait(left)
            self._counts[_RESERVED] += 1
        try:
            self._queue.put(payload)  # never blocks: it hands the bytes to the feeder thread
        except BaseException:  # the queue was closed in this process: give the slot back
            self._count(_RESERVED, -1)
            raise

    def put_nowait(self, item: T) -> None:
        """Send ``item`` if there is room now, else raise ``queue.Full``."""
        self.put(item, False)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Remove and return the oldest item that reached the pipe, waiting up to ``timeout``.

        Blocks only the calling thread: from a coroutine, ``await aget()`` instead.

        Raises:
            queue.Empty: if nothing came in time (at once when not ``block``).
            ShutDown: if the queue is shut down and every item put was got (after
                ``shutdown(immediate=True)``: at once).
        """
        deadline = None if not block or timeout is None else deadline_after(timeout)
        while True:
            if self._finished():
                raise ShutDown("the queue was shut down and every item was got; "
                               "stop consuming")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                payload = self._queue.get(block, left)
            except queue.Empty:
                if self._finished():
                    continue  # the shutdown came while this waited: raise ShutDown above
                raise
            if payload is _WAKE:
                self._queue.put(_WAKE)  # pass it on to the next consumer, in any process
                continue
            immediate = self._counts[_STATE] == _IMMEDIATE
            self._count(_GOT, +1)
            if immediate:
                continue  # discarded: immediate shutdown drops what is left
            return self._unpack(payload)

    def get_nowait(self) -> T:
        """Return an item if one is in the pipe now, else raise ``queue.Empty``."""
        return self.get(False)

    def empty(self) -> bool:
        """True if no item is in flight now (put and not yet got)."""
        return self.qsize() <= 0

    def full(self) -> bool:
        """True if a bounded queue has ``maxsize`` items in flight."""
        return 0 < self._maxsize <= self.qsize()

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down for every process; Python 3.13's semantics.

        Puts fail at once with ``ShutDown``; gets return what was put before, then raise it
        (with ``immediate=True`` they raise at once and what is left is discarded). Waiting
        consumers in every process wake: nobody needs to know how many there are.
        """
        with _Held(self._lock):
            state = self._counts[_STATE]
            self._counts[_STATE] = max(state, _IMMEDIATE if immediate else _SHUT)
            wake = self._finished_locked()
            self._room.notify_all()  # blocked putters, in any process, raise ShutDown now
        if wake and not self._closed:  # after close() this process's end of the pipe is gone
            self._queue.put(_WAKE)

    def __iter__(self) -> ProcessQueue[T]:
        return self

    def __next__(self) -> T:
        """The next item; the iteration ends when the queue is shut down and drained."""
        try:
            return self.get()
        except ShutDown:
            raise StopIteration from None

    # -- coroutines -----------------------------------------------------------------------------

    async def aget(self) -> T:
        """Await the oldest item without blocking the loop and without a helper thread.

        Tasks of one loop are served in the order they began to wait. If the task is
        cancelled, no item is taken and nothing is left running.

        Raises:
            QueueShutDown: if the queue is shut down and drained (or shut down immediately).
            RuntimeError: outside a running event loop.
        """
        loop = running_loop("ProcessQueue.aget()", "ProcessQueue.get(timeout=...)")
        woken = False
        while True:
            if woken or not self._readers.waiting(loop):  # nobody of this loop is ahead
                try:  # taken in the same step as the wake-up: a cancel cannot come between
                    return self.get(False)
                except queue.Empty:
                    pass
                except ShutDown as exc:
                    raise QueueShutDown(*exc.args) from None
            # Woken but another consumer was quicker: wait again, first in line.
            await self._readers.wait(loop, front=woken)
            woken = True

    async def __anext__(self) -> T:
        """The next item; the iteration ends when the queue is shut down and drained."""
        try:
            return await self.aget()
        except QueueShutDown:
            raise StopAsyncIteration from None

    def __aiter__(self) -> ProcessQueue[T]:
        return self

    # -- the creating process -------------------------------------------------------------------

    def close(self, timeout: float = 1.0) -> None:
        """Shut the queue down at once, discard what is left and stop this process's feeder.

        Draining matters: a producer whose items nobody reads cannot exit (its feeder thread
        waits to flush them). This reads and drops items until the pipe stays empty for 50 ms
        or ``timeout`` seconds passed, then closes the pipe and joins the feeder thread of
        this process (or, if the pipe was still being filled, leaves that daemon thread).

        Raises:
            RuntimeError: if tasks of this process still await ``aget()`` (cancel them or let
                them see the shutdown first).
        """
        if self._closed:
            return
        try:
            self.shutdown(immediate=True)
        except RuntimeError:  # a dead process holds the lock: nobody can use the queue now
            self._counts[_STATE] = _IMMEDIATE
        waiting = self._readers.waiting()
        if waiting:
            raise RuntimeError(f"{waiting} task(s) still await aget() on {self!r}; the queue "
                               f"is shut down now: let them end (or cancel them), then close")
        # Producers' feeder threads may still be flushing items nobody will read, and cannot
        # end (nor their processes exit) while the pipe is full: read and drop until it stays
        # empty for a moment, or until ``timeout``.
        deadline = time.monotonic() + timeout
        quiet = False
        while not quiet and time.monotonic() < deadline:
            try:
                self._queue.get(True, min(_QUIET, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                quiet = True
            except Exception:  # noqa: BLE001 - a get interrupted mid-message (KeyboardInterrupt
                break  # between a message's length and its bytes) left the pipe unreadable
        self._closed = True
        self._queue.put(_WAKE)  # the shutdown's own token may have been dropped above
        if not quiet:  # still being filled: do not wait for our feeder to get its turn
            self._queue.cancel_join_thread()
        self._queue.close()
        self._queue.join_thread()

    def __enter__(self) -> ProcessQueue[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with _Held(self._lock):
            state, reserved, got = (self._counts[i] for i in (_STATE, _RESERVED, _GOT))
        waiting = self._readers.waiting()
        status = ("", " shut down", " shut down immediately")[state]
        return (f"<ProcessQueue {self.name!r} maxsize={self._maxsize} in_flight={reserved - got}"
                f" got={got} tasks_waiting={waiting}{status}>")

    # -- helpers --------------------------------------------------------------------------------

    def _finished_locked(self) -> bool:
        """Shut down and nothing more to get (the lock is held)."""
        state = self._counts[_STATE]
        return state == _IMMEDIATE or (
            state == _SHUT and self._counts[_GOT] == self._counts[_RESERVED])

    def _finished(self) -> bool:
        """Shut down and nothing more to get."""
        with _Held(self._lock):
            return self._finished_locked()

    def _count(self, slot: int, step: int) -> None:
        """Add ``step`` to a counter, free a slot, send the token if that finished the queue."""
        with _Held(self._lock):
            was = self._finished_locked()
            self._counts[slot] += step
            wake = not was and self._finished_locked()
            if self._maxsize > 0:
                self._room.notify()
        if wake:
            self._queue.put(_WAKE)

    def _unpack(self, payload: Any) -> T:
        """The item in ``payload``, reporting its send and receive if this process observes."""
        if type(payload) is not tuple:
            return ForkingPickler.loads(payload)
        data, putter, put_at = payload
        item = ForkingPickler.loads(data)
        if self._observer is not None:
            getter, label = worker_name(), self._label(item)
            self._observer.event("send", put_at, putter, getter, label)
            self._observer.event("receive", clock(), putter, getter, label)
        return item
