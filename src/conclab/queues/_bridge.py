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

The module is ~390 lines because the two faces must repeat the stdlib's whole API (two dozen
short methods, each documented); the shared logic lives once, in ``BridgeQueue``.
"""

from __future__ import annotations

import asyncio
import queue
import reprlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

from conclab.hooks import Observer, clock, observing
from conclab.queues._common import (QueueShutDown, ShutDown, check_maxsize, deadline_after,
                                    running_loop, worker_name)

__all__ = ["BridgeQueue", "SyncFace", "AsyncFace", "BridgeStatistics"]

T = TypeVar("T")
_LockType = type(threading.Lock())
Waiter = Union["_LockType", "asyncio.Future[None]"]  # a parked thread's lock, or a task's future
_get_running_loop = asyncio._get_running_loop  # C function: None outside a loop, no exception
_PUT_AFTER_SHUTDOWN = ("the queue was shut down, so it takes no more items; stop producing "
                       "(catch this exception: the consumers are finishing)")
_GET_AFTER_SHUTDOWN = "the queue was shut down and nothing is left in it; stop consuming"


def _resolve(fut: asyncio.Future[None]) -> None:
    """Wake a task awaiting ``fut`` (runs on ``fut``'s loop), unless it was cancelled meanwhile."""
    if not fut.done():
        fut.set_result(None)


def _wake(waiter: Waiter) -> bool:
    """Wake one popped waiter; False if it can never run again (its loop is closed)."""
    if type(waiter) is _LockType:
        waiter.release()
        return True
    loop = waiter.get_loop()
    if loop is _get_running_loop():
        _resolve(waiter)  # same loop: no need to write to its self-pipe
        return True
    try:
        loop.call_soon_threadsafe(_resolve, waiter)
    except RuntimeError:  # the loop was closed with the task still waiting
        return False
    return True


def _wake_one(waiters: deque[Waiter]) -> None:
    """Pop and wake the first waiter that can still run."""
    while waiters:
        if _wake(waiters.popleft()):
            return


def _wake_all(waiters: deque[Waiter]) -> None:
    """Pop and wake every waiter."""
    while waiters:
        _wake(waiters.popleft())


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
                    _wake_all(self._joiners)
            _wake_all(self._getters)
            _wake_all(self._putters)

    def statistics(self) -> BridgeStatistics:
        """A consistent snapshot of the queue's counters and of who waits."""
        with self._mutex:
            parked = (*self._getters, *self._putters, *self._joiners)
            loops = {id(w.get_loop()) for w in parked if type(w) is not _LockType}
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
                _wake_all(self._joiners)

    # The hot paths (put and get on both faces) take the mutex with acquire() and release it in
    # ``finally`` rather than with ``with``: on CPython 3.11 ``with lock`` looks up two special
    # methods, binds both and calls ``__exit__`` with three arguments, which measured 2-3x the
    # cost of the explicit calls here; asyncio.Queue takes no lock at all, so it shows.

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
                _wake_one(waiters)

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


class SyncFace(Generic[T]):
    """The face of a ``BridgeQueue`` for threads: a drop-in for ``queue.Queue``.

    Same methods, arguments, exceptions and FIFO order as ``queue.Queue`` on Python 3.13
    (``shutdown`` included, raising ``conclab.queues.ShutDown``), with two additions:
    ``join(timeout=None)`` can give up, and ``for item in q.sync_q`` gets items until the
    queue is shut down and empty. Calls that block, block only the calling thread: do not
    make them from a coroutine (use ``async_q`` there).
    """

    def __init__(self, parent: BridgeQueue[T]) -> None:
        self._q = parent

    @property
    def maxsize(self) -> int:
        """The bound given at creation (0 or less: none)."""
        return self._q._maxsize

    def qsize(self) -> int:
        """Number of items in the queue now."""
        return len(self._q._items)

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return not self._q._items

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items."""
        return self._q.full()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` at the end, waiting up to ``timeout`` s (None: forever) for a free slot.

        Raises:
            queue.Full: if no slot freed in time (at once when ``block`` is false).
            ShutDown: if the queue is shut down, or is shut down while this waits.
            ValueError: for a negative ``timeout`` on a bounded queue (as ``queue.Queue``).
        """
        q = self._q
        q._mutex.acquire()  # not `with`: see the note above BridgeQueue._wait_thread
        try:
            if q._shutdown:
                raise ShutDown(_PUT_AFTER_SHUTDOWN)
            if 0 < q._maxsize <= len(q._items):
                if not block:
                    raise queue.Full
                deadline = None if timeout is None else deadline_after(timeout)
                expired = False
                while 0 < q._maxsize <= len(q._items):
                    if expired:
                        raise queue.Full
                    expired = not q._wait_thread(q._putters, deadline)
                    if q._shutdown:
                        raise ShutDown(_PUT_AFTER_SHUTDOWN)
            q._push(item)
            q._unfinished += 1
            if q._getters:
                _wake_one(q._getters)
        finally:
            q._mutex.release()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Remove and return the oldest item, waiting up to ``timeout`` s (None: forever).

        Raises:
            queue.Empty: if no item came in time (at once when ``block`` is false).
            ShutDown: if the queue is shut down and empty (after ``shutdown(immediate=True)``,
                at once), or becomes so while this waits.
            ValueError: for a negative ``timeout``.
        """
        q = self._q
        deadline = None if not block or timeout is None else deadline_after(timeout)
        q._mutex.acquire()
        try:
            expired = False
            while not q._items:
                if q._shutdown:
                    raise ShutDown(_GET_AFTER_SHUTDOWN)
                if not block or expired:
                    raise queue.Empty
                expired = not q._wait_thread(q._getters, deadline)
            item = q._pop()
            if q._putters:
                _wake_one(q._putters)
            return item
        finally:
            q._mutex.release()

    def put_nowait(self, item: T) -> None:
        """Put ``item`` if a slot is free now, else raise ``queue.Full``."""
        self.put(item, False)

    def get_nowait(self) -> T:
        """Return an item if one is there now, else raise ``queue.Empty``."""
        return self.get(False)

    def task_done(self) -> None:
        """Mark one item got earlier as handled (``join()`` waits for every item to be).

        Raises:
            ValueError: if called more times than items were put.
        """
        self._q._task_done()

    def join(self, timeout: float | None = None) -> None:
        """Wait until every item put has been got and marked done with ``task_done()``.

        Unlike ``queue.Queue.join`` it takes a ``timeout`` (seconds, None: forever).

        Raises:
            TimeoutError: if tasks are still unfinished after ``timeout`` seconds.
        """
        q = self._q
        deadline = None if timeout is None else deadline_after(timeout)
        with q._mutex:
            while q._unfinished:
                if not q._wait_thread(q._joiners, deadline) and q._unfinished:
                    raise TimeoutError(f"join() gave up after {timeout} s with "
                                       f"{q._unfinished} unfinished tasks; each item got "
                                       f"needs one task_done() call")

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down (both faces); see ``BridgeQueue.shutdown``."""
        self._q.shutdown(immediate)

    def __iter__(self) -> SyncFace[T]:
        return self

    def __next__(self) -> T:
        """The next item (waiting as long as it takes); the iteration ends at shutdown."""
        try:
            return self.get()
        except ShutDown:
            raise StopIteration from None

    def __repr__(self) -> str:
        return f"<sync_q of {self._q!r}>"


class AsyncFace(Generic[T]):
    """The face of a ``BridgeQueue`` for coroutines: a drop-in for ``asyncio.Queue``.

    Same methods, exceptions and FIFO order as ``asyncio.Queue`` on Python 3.13 (``shutdown``
    included, raising ``conclab.queues.QueueShutDown``), but bound to no loop: coroutines on
    different loops in different threads may await it at once, and threads on the other face
    wake them. ``async for item in q.async_q`` gets items until the queue is shut down and
    empty. The ``_nowait`` methods need no running loop.
    """

    def __init__(self, parent: BridgeQueue[T]) -> None:
        self._q = parent

    @property
    def maxsize(self) -> int:
        """The bound given at creation (0 or less: none)."""
        return self._q._maxsize

    def qsize(self) -> int:
        """Number of items in the queue now."""
        return len(self._q._items)

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return not self._q._items

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items."""
        return self._q.full()

    async def put(self, item: T) -> None:
        """Put ``item`` at the end, waiting (without blocking the loop) for a free slot.

        If cancelled while waiting, the item is not added.

        Raises:
            QueueShutDown: if the queue is shut down, or is shut down while this waits.
        """
        q = self._q
        while True:
            q._mutex.acquire()
            try:
                if q._shutdown:
                    raise QueueShutDown(_PUT_AFTER_SHUTDOWN)
                if not 0 < q._maxsize <= len(q._items):
                    q._push(item)
                    q._unfinished += 1
                    if q._getters:
                        _wake_one(q._getters)
                    return
                fut = q._park(q._putters, "async_q.put()", "q.sync_q.put()")
            finally:
                q._mutex.release()
            try:
                await fut
            except BaseException:
                with q._mutex:
                    q._abandon(q._putters, fut)
                raise

    async def get(self) -> T:
        """Remove and return the oldest item, waiting (without blocking the loop) for one.

        If cancelled while waiting, no item is taken: it stays for the next getter.

        Raises:
            QueueShutDown: if the queue is shut down and empty, or becomes so while this waits.
        """
        q = self._q
        while True:
            q._mutex.acquire()
            try:
                if q._items:
                    item = q._pop()
                    if q._putters:
                        _wake_one(q._putters)
                    return item
                if q._shutdown:
                    raise QueueShutDown(_GET_AFTER_SHUTDOWN)
                fut = q._park(q._getters, "async_q.get()", "q.sync_q.get()")
            finally:
                q._mutex.release()
            try:
                await fut
            except BaseException:
                with q._mutex:
                    q._abandon(q._getters, fut)
                raise

    def put_nowait(self, item: T) -> None:
        """Put ``item`` if a slot is free now, else raise ``asyncio.QueueFull``.

        Raises:
            QueueShutDown: if the queue is shut down.
        """
        try:
            self._q.sync_q.put(item, False)
        except queue.Full:
            raise asyncio.QueueFull from None
        except ShutDown:
            raise QueueShutDown(_PUT_AFTER_SHUTDOWN) from None

    def get_nowait(self) -> T:
        """Return an item if one is there now, else raise ``asyncio.QueueEmpty``.

        Raises:
            QueueShutDown: if the queue is shut down and empty.
        """
        try:
            return self._q.sync_q.get(False)
        except queue.Empty:
            raise asyncio.QueueEmpty from None
        except ShutDown:
            raise QueueShutDown(_GET_AFTER_SHUTDOWN) from None

    def task_done(self) -> None:
        """Mark one item got earlier as handled.

        Raises:
            ValueError: if called more times than items were put.
        """
        self._q._task_done()

    async def join(self) -> None:
        """Wait until every item put has been got and marked done (bound it with a timeout)."""
        q = self._q
        with q._mutex:
            if not q._unfinished:
                return
            fut = q._park(q._joiners, "async_q.join()", "q.sync_q.join(timeout)")
        try:
            await fut
        except BaseException:
            with q._mutex:
                q._abandon(q._joiners, fut)
            raise

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down (both faces); see ``BridgeQueue.shutdown``."""
        self._q.shutdown(immediate)

    def __aiter__(self) -> AsyncFace[T]:
        return self

    async def __anext__(self) -> T:
        """The next item; the iteration ends when the queue is shut down and empty."""
        try:
            return await self.get()
        except QueueShutDown:
            raise StopAsyncIteration from None

    def __repr__(self) -> str:
        return f"<async_q of {self._q!r}>"
