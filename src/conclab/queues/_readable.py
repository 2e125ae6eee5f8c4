"""Tasks on any loops that wait, with no thread, for one file descriptor to become readable.

``ProcessQueue.aget`` waits on its pipe this way. Each loop gets one *watch*: a FIFO of the
futures of its waiting tasks and, while any task waits, one ``loop.add_reader`` registration.
When the descriptor turns readable the watch stops (``remove_reader``) and wakes only the first
task, which reads for itself and re-arms the watch for the others as it leaves. Stopping first
matters: the selector is level-triggered, so a watch left armed would wake every task on every
pass of the loop until the first one got round to reading. A task cancelled after its wake-up
re-arms too, so the data it was woken for goes to the next task.

Each watch is touched only by its own loop's thread; the dict of watches is shared, but each
thread only adds and removes its own loop's key (single dict operations, atomic in CPython).
It needs a selector event loop: the default on Linux and macOS, not Windows' proactor.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["ReadableWaiters"]


class _Watch:
    """One loop's watch: its waiting tasks' futures, and whether ``add_reader`` is in place."""

    def __init__(self) -> None:
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.armed = False


class ReadableWaiters:
    """The tasks, on any number of loops, waiting for ``fd`` to become readable.

    Args:
        fd: the file descriptor to watch (it must stay open while tasks wait).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._watches: dict[asyncio.AbstractEventLoop, _Watch] = {}

    def waiting(self, loop: asyncio.AbstractEventLoop | None = None) -> int:
        """How many tasks wait, on ``loop`` or (by default) on every loop."""
        if loop is not None:
            watch = self._watches.get(loop)
            return 0 if watch is None else len(watch.waiters)
        return sum(len(w.waiters) for w in list(self._watches.values()))

    async def wait(self, loop: asyncio.AbstractEventLoop, *, front: bool = False) -> None:
        """Wait until ``fd`` is readable and the tasks ahead on ``loop`` have had their turn.

        Args:
            loop: the running loop of the calling task.
            front: go first in line (for a task that was woken, found nothing, waits again).
        """
        watch = self._watches.setdefault(loop, _Watch())
        fut = loop.create_future()
        (watch.waiters.appendleft if front else watch.waiters.append)(fut)
        self._arm(loop, watch)
        try:
            await fut
        finally:
            self._leave(loop, watch, fut)

    def _arm(self, loop: asyncio.AbstractEventLoop, watch: _Watch) -> None:
        """Have ``loop`` watch ``fd`` while its tasks wait."""
        if not watch.armed and watch.waiters:
            loop.add_reader(self.fd, self._readable, loop, watch)
            watch.armed = True

    def _readable(self, loop: asyncio.AbstractEventLoop, watch: _Watch) -> None:
        """``fd`` is readable: stop watching and wake the first task still waiting."""
        loop.remove_reader(self.fd)
        watch.armed = False
        while watch.waiters:
            fut = watch.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _leave(self, loop: asyncio.AbstractEventLoop, watch: _Watch,
               fut: asyncio.Future[None]) -> None:
        """A task stops waiting (woken or cancelled): re-arm for the rest, or drop the watch."""
        try:
            watch.waiters.remove(fut)
        except ValueError:
            pass  # popped by _readable: what it was woken for is still there for the next
        if watch.waiters:
            self._arm(loop, watch)
            return
        if watch.armed:
            loop.remove_reader(self.fd)
            watch.armed = False
        if self._watches.get(loop) is watch:
            del self._watches[loop]
