"""The room in a process actor's bounded mailbox, shared by every process that sends to it.

A named pipe (a FIFO, mode 0600, in the spawner's private temporary folder) holds one byte per
free slot: the trick of ``make``'s jobserver. A sender takes a byte before it sends and the
actor gives one back for each message it takes, so every process sees the same bound, and
``tell(block=False)`` knows at once, without asking the actor. A thread waits for a byte with
``select``; a coroutine with ``loop.add_reader``, on a descriptor of its own, so that any
number of tasks on any loops can wait at once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import select
import time
from multiprocessing import util
from typing import Any

__all__ = ["Gate"]

_GATES = itertools.count(1)


class Gate:
    """The free slots of one bounded mailbox, as bytes in a named pipe; it pickles as its path.

    Args:
        path: the pipe's path (``Gate.create`` makes one).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def create(cls, maxsize: int) -> Gate:
        """A new gate with ``maxsize`` free slots."""
        path = os.path.join(util.get_temp_dir(), f"actor-gate-{os.getpid()}-{next(_GATES)}")
        os.mkfifo(path, 0o600)
        gate = cls(path)
        os.write(gate.fd, b"x" * maxsize)
        return gate

    @property
    def fd(self) -> int:
        """This process's descriptor of the pipe (read and write, non-blocking)."""
        if self._fd is None:
            # O_RDWR: opening a FIFO for reading alone would wait for a writer (Linux, macOS).
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        return self._fd

    def acquire(self, block: bool, timeout: float | None, dead: Any = None) -> bool:
        """Take a free slot, waiting up to ``timeout`` s if ``block``; whether one was taken.

        ``dead()`` is checked every half second while waiting: if it raises, so does this.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                os.read(self.fd, 1)
                return True
            except BlockingIOError:
                pass
            if not block:
                return False
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                return False
            select.select([self.fd], [], [], left)
            if dead is not None:
                dead()

    async def acquire_async(self) -> None:
        """Take a free slot, awaiting one without blocking the loop."""
        loop = asyncio.get_running_loop()
        fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)  # its own: add_reader is per fd
        try:
            while True:
                try:
                    os.read(fd, 1)
                    return
                except BlockingIOError:
                    pass
                readable = loop.create_future()
                loop.add_reader(fd, _wake, readable)
                try:
                    await readable
                finally:
                    loop.remove_reader(fd)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Give one slot back."""
        os.write(self.fd, b"x")

    def open_wide(self) -> None:
        """Let every waiting sender through (the actor is gone: they will learn it next)."""
        try:
            os.write(self.fd, b"x" * 4096)
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        """Close this process's descriptor of the pipe (a later use opens it again)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass

    def __reduce__(self) -> Any:
        return Gate, (self.path,)


def _wake(readable: asyncio.Future[None]) -> None:
    """The pipe has a byte: wake the task waiting for one (once)."""
    if not readable.done():
        readable.set_result(None)
