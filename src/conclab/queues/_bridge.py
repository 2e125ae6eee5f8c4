"""BridgeQueue: one FIFO queue that threads and coroutines on any number of loops share.

How the bridge works, in a few sentences:

1. One ``threading.Lock`` (the *mutex*) guards everything: the deque of items, the counters,
   and three FIFO deques of *waiters* (getters, putters, joiners). It is held only for a few
   deque operations and never across a wait, so a coroutine that takes it can be held up for
   at most another caller's few deque operations: nothing blocks a loop.
2. A caller that must wait leaves a waiter in a deque before it lets go of the mutex: a thread
   leaves a fresh, already-acquired ``threading.Lock`` and blocks acquiring it again; a
   coroutine leaves a future of its own loop and awaits it. Threads and coroutines share one
   deque, so they are served in the order in which they began to wait.
3. Whoever changes the state (put, get, task_done, shutdown) pops the waiters it satisfies,
   still under the mutex: the pop *is* the wake-up. A thread's lock is released; a future is
   resolved directly when the waker runs on the future's loop, else through
   ``loop.call_soon_threadsafe``, which also wakes the loop's selector (a bare ``asyncio.Queue``
   called from another thread does not, and its getter sleeps until something else happens).
4. A woken caller re-checks under the mutex and waits again if another caller got there
   first; an item leaves the deque only inside a call that then returns it.
5. Cancellation: a cancelled ``await get()`` or ``await put()`` removes its future from the
   deque under the mutex; if the future is no longer there, it had been woken, and it passes
   the wake-up on to the next waiter. So it neither takes an item nor withholds one from the
   others, and it adds none. A thread whose wait times out (or is interrupted) does the same.

Observing (``observer=``) swaps the two deque operations for versions that keep
``(item, putter, put_time)`` and report a "send" and a "receive" event when the item is got;
without an observer the bare ``deque.append``/``popleft`` run, so hooks cost nothing.

The faces (``_faces``) hold the stdlib APIs; how a waiter is parked and woken is ``_waiters``.
"""

from __future__ import annotations

import asyncio
import reprlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from conclab.hooks import Observer, clock, observing
from conclab.queues._common import check_maxsize, running_loop, worker_name
from conclab.queues._faces import AsyncFace, SyncFace
from conclab.queues._waiters import LockType, Waiter, wake_all, wake_one

__all__ = ["BridgeQueue", "BridgeStatistics"]

T = TypeVar("T")


@dataclass(frozen=True)
class BridgeStatistics:
    """A snapshot of a ``BridgeQueue`` (see ``BridgeQueue.statistics``).

    Attributes:
        qsize: items in the queue.
        maxsize: the bound (0 or less: none).
        unfinished_tasks: items put and not yet marked done with ``task_done()``.
        getters_waiting, putters_waiting, joiners_waiting: threads and tasks parked in each.
        loops_waiting: distinct event loops that have a task parked.
        is_shutdown: whether ``shutdown()`` was called.
    """

    qsize: int
    maxsize: int
    unfinished_tasks: int
    getters_waiting: int
    putters_waiting: int
    joiners_waiting: int
    loops_waiting: int
    is_shutdown: bool


class BridgeQueue(Generic[T]):
    """A FIFO queue shared by threads (``sync_q``) and coroutines on any loops (``async_q``).

    Unlike ``janus.Queue`` it binds no event loop and needs none to be created: any number of
    threads and of loops in any threads may use it at once. ``sync_q`` behaves as a
    ``queue.Queue`` and ``async_q`` as an ``asyncio.Queue`` (with 3.13's ``shutdown``), on the
    same items, counters and shutdown state.

    Args:
        maxsize: the most items it holds; a put waits while it is full. 0 or less: no bound.
        observer: a ``conclab.hooks.Observer`` to receive a "send" (at put time) and a
            "receive" (at get time) event from putter to getter for every item got.
        name: the queue's name, shown by ``repr``.
        label: turns an item into the events' label (default: a short ``repr``).

    Raises:
        TypeError: if ``maxsize`` is not an int.
    """

    def __init__(self, maxsize: int = 0, *, observer: Observer | None = None,
                 name: str = "queue", label: Callable[[Any], str] = reprlib.repr) -> None:
        self._maxsize = check_maxsize(maxsize)
        self.name = name
        self._mutex = threading.Lock()
        self._items: deque[Any] = deque()
        self._getters: deque[Waiter] = deque()
        self._putters: deque[Waiter] = deque()
        self._joiners: deque[Waiter] = deque()
        self._unfinished = 0
        self._shutdown = False
        self._observer = observer if observing(observer) else None
        self._label = label
        if self._observer is None:
            self._push: Callable[[Any], None] = self._items.append
            self._pop: Callable[[], Any] = self._items.popleft
        else:
            self._push, self._pop = self._push_observed, self._pop_observed
        self.sync_q: SyncFace[T] = SyncFace(self)
        self.async_q: AsyncFace[T] = AsyncFace(self)

    # -- state, read by both faces ------------------------------------------------------------

    @property
    def maxsize(self) -> int:
        """The bound given at creation (0 or less: none)."""
        return self._maxsize

    @property
    def is_shutdown(self) -> bool:
        """Whether ``shutdown()`` was called."""
        return self._shutdown

    def qsize(self) -> int:
        """Number of items in the queue now (already stale when another worker runs)."""
        return len(self._items)

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return not self._items

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, for an unbounded queue)."""
        return 0 < self._maxsize <= len(self._items)

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down for both faces, with Python 3.13's semantics.

        Puts fail at once (``ShutDown`` on ``sync_q``, ``QueueShutDown`` on ``async_q``) and
        every blocked caller wakes. Gets go on returning what is left, then raise. With
        ``immediate=True`` what is left is discarded and counted as done, which releases
        ``join()`` unless items already got still await their ``task_done()``.
        """
        with self._mutex:
            self._shutdown = True
            if immediate:
                self._unfinished = max(0, self._unfinished - len(self._items))
                self._items.clear()
                if not self._unfinished:
                    wake_all(self._joiners)
            wake_all(self._getters)
            wake_all(self._putters)

    def statistics(self) -> BridgeStatistics:
        """A consistent snapshot of the queue's counters and of who waits."""
        with self._mutex:
            parked = (*self._getters, *self._putters, *self._joiners)
            loops = {id(w.get_loop()) for w in parked if type(w) is not LockType}
            return BridgeStatistics(len(self._items), self._maxsize, self._unfinished,
                                    len(self._getters), len(self._putters), len(self._joiners),
                                    len(loops), self._shutdown)

    def __repr__(self) -> str:
        s = self.statistics()
        return (f"<BridgeQueue {self.name!r} maxsize={s.maxsize} qsize={s.qsize} "
                f"unfinished={s.unfinished_tasks} getters={s.getters_waiting} "
                f"putters={s.putters_waiting} loops={s.loops_waiting}"
                f"{' shut down' if s.is_shutdown else ''}>")

    # -- shared steps; each is called with the mutex held ----------------------------------

    def _task_done(self) -> None:
        """Count one task done; wake every joiner when none is left."""
        with self._mutex:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times: more often than items "
                                 "were put; call it once per item you got, after handling it")
            self._unfinished -= 1
            if not self._unfinished:
                wake_all(self._joiners)

    def _wait_thread(self, waiters: deque[Waiter], deadline: float | None) -> bool:
        """Park the calling thread in ``waiters`` until woken (True) or ``deadline`` (False)."""
        waiter = threading.Lock()
        waiter.acquire()
        waiters.append(waiter)
        self._mutex.release()
        try:
            if deadline is None:
                woken = waiter.acquire()
            else:
                woken = waiter.acquire(True, max(0.0, deadline - time.monotonic()))
        except BaseException:  # KeyboardInterrupt: leave no dead waiter to swallow a wake-up
            with self._mutex:
                self._abandon(waiters, waiter)
            raise
        finally:
            self._mutex.acquire()
        if not woken:
            try:
                waiters.remove(waiter)
            except ValueError:  # popped between the timeout and the mutex: it was woken
                woken = True
        return woken

    def _park(self, waiters: deque[Waiter], call: str, instead: str) -> asyncio.Future[None]:
        """Leave a future of the running loop in ``waiters``, for the caller to await."""
        fut: asyncio.Future[None] = running_loop(call, instead).create_future()
        waiters.append(fut)
        return fut

    def _abandon(self, waiters: deque[Waiter], waiter: Waiter) -> None:
        """Take back a waiter that stops waiting; pass its wake-up on if it had one."""
        try:
            waiters.remove(waiter)
        except ValueError:
            # It was popped (woken) before its task or thread saw it: the item or the free
            # slot meant for it is still there, so the next waiter must get the chance.
            if ((waiters is self._getters and self._items)
                    or (waiters is self._putters and not self.full())):
                wake_one(waiters)

    def _push_observed(self, item: Any) -> None:
        """Keep who put ``item`` and when, for the events reported when it is got."""
        self._items.append((item, worker_name(), clock()))

    def _pop_observed(self) -> Any:
        """Take the oldest item and report its send and its receive."""
        item, putter, put_at = self._items.popleft()
        getter, label, observer = worker_name(), self._label(item), self._observer
        assert observer is not None
        observer.event("send", put_at, putter, getter, label)
        observer.event("receive", clock(), putter, getter, label)
        return item
