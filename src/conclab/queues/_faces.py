"""The two faces of a ``BridgeQueue``: ``sync_q`` for threads, ``async_q`` for coroutines.

Each face offers its stdlib neighbour's whole API (``queue.Queue``, ``asyncio.Queue``, both as
in Python 3.13) on the state of one ``BridgeQueue``; ``_bridge`` says how that state is kept.
Put and get are written out in full on each face rather than shared through a helper: they
run once per item, and one more Python call per item shows against ``asyncio.Queue``.

They take the queue's lock with ``acquire()`` and release it in ``finally`` rather than with
``with``: on CPython 3.11 ``with lock`` looks up two special methods, binds both and calls
``__exit__`` with three arguments, which measured 2-3x the cost of the two plain calls on the
course's 2-core VM (and ``asyncio.Queue`` takes no lock at all, so that cost shows).
"""

from __future__ import annotations

import asyncio
import queue
from typing import TYPE_CHECKING, Generic, TypeVar

from conclab.queues._common import QueueShutDown, ShutDown, deadline_after
from conclab.queues._waiters import wake_one

if TYPE_CHECKING:
    from conclab.queues._bridge import BridgeQueue

__all__ = ["SyncFace", "AsyncFace"]

T = TypeVar("T")
_PUT_AFTER_SHUTDOWN = ("the queue was shut down, so it takes no more items; stop producing "
                       "(catch this exception: the consumers are finishing)")
_GET_AFTER_SHUTDOWN = "the queue was shut down and nothing is left in it; stop consuming"


class _Face(Generic[T]):
    """What both faces share: the queue they show, and the calls that never wait."""

    _name = "face"

    def __init__(self, parent: BridgeQueue[T]) -> None:
        self._q = parent

    @property
    def bridge(self) -> BridgeQueue[T]:
        """The ``BridgeQueue`` this face shows (its other face is ``bridge.sync_q``/``async_q``)."""
        return self._q

    @property
    def maxsize(self) -> int:
        """The bound given at creation (0 or less: none)."""
        return self._q._maxsize

    def qsize(self) -> int:
        """Number of items in the queue now (stale as soon as another worker runs)."""
        return len(self._q._items)

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return not self._q._items

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, for an unbounded queue)."""
        return self._q.full()

    def task_done(self) -> None:
        """Mark one item got earlier as handled; ``join()`` waits until every item is.

        Raises:
            ValueError: if called more times than items were put.
        """
        self._q._task_done()

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down, for both faces; see ``BridgeQueue.shutdown``."""
        self._q.shutdown(immediate)

    def __repr__(self) -> str:
        return f"<{self._name} of {self._q!r}>"


class SyncFace(_Face[T]):
    """The face of a ``BridgeQueue`` for threads: a drop-in for ``queue.Queue``.

    Same methods, arguments, exceptions and FIFO order as ``queue.Queue`` on Python 3.13
    (``shutdown`` included, raising ``conclab.queues.ShutDown``), with two additions:
    ``join(timeout=None)`` can give up, and ``for item in q.sync_q`` gets items until the
    queue is shut down and empty. Calls that block, block only the calling thread: do not
    make them from a coroutine (use ``async_q`` there).
    """

    _name = "sync_q"

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` at the end, waiting up to ``timeout`` s (None: forever) for a free slot.

        Raises:
            queue.Full: if no slot freed in time (at once when ``block`` is false).
            ShutDown: if the queue is shut down, or is shut down while this waits.
            ValueError: for a negative ``timeout`` on a bounded queue (as ``queue.Queue``).
        """
        q = self._q
        q._mutex.acquire()  # not `with`: see the module's docstring
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
                wake_one(q._getters)
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
                wake_one(q._putters)
            return item
        finally:
            q._mutex.release()

    def put_nowait(self, item: T) -> None:
        """Put ``item`` if a slot is free now, else raise ``queue.Full``."""
        self.put(item, False)

    def get_nowait(self) -> T:
        """Return an item if one is there now, else raise ``queue.Empty``."""
        return self.get(False)

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

    def __iter__(self) -> SyncFace[T]:
        return self

    def __next__(self) -> T:
        """The next item (waiting as long as it takes); the iteration ends at shutdown."""
        try:
            return self.get()
        except ShutDown:
            raise StopIteration from None


class AsyncFace(_Face[T]):
    """The face of a ``BridgeQueue`` for coroutines: a drop-in for ``asyncio.Queue``.

    Same methods, exceptions and FIFO order as ``asyncio.Queue`` on Python 3.13 (``shutdown``
    included, raising ``conclab.queues.QueueShutDown``), but bound to no loop: coroutines on
    different loops in different threads may await it at once, and threads on the other face
    wake them. ``async for item in q.async_q`` gets items until the queue is shut down and
    empty. The ``_nowait`` methods need no running loop.
    """

    _name = "async_q"

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
                        wake_one(q._getters)
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
                        wake_one(q._putters)
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

    def __aiter__(self) -> AsyncFace[T]:
        return self

    async def __anext__(self) -> T:
        """The next item; the iteration ends when the queue is shut down and empty."""
        try:
            return await self.get()
        except QueueShutDown:
            raise StopAsyncIteration from None
