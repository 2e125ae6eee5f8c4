"""What both queues share: the shutdown exceptions, worker names and argument checks."""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from typing import Any

from conclab.hooks import as_worker, worker_name

__all__ = ["ShutDown", "QueueShutDown", "as_worker", "worker_name", "check_maxsize",
           "deadline_after", "running_loop"]

if sys.version_info >= (3, 13):
    ShutDown = queue.ShutDown
    QueueShutDown = asyncio.QueueShutDown
else:
    # Two unrelated classes, as in 3.13, so that code written against these stand-ins keeps
    # working unchanged when it moves to 3.13 and they become the stdlib's own.
    class ShutDown(Exception):  # type: ignore[no-redef]
        """Raised by a blocking call of a queue's sync face once the queue is shut down.

        A stand-in for Python 3.13's ``queue.ShutDown``, which it is on 3.13 and newer.
        """

    class QueueShutDown(Exception):  # type: ignore[no-redef]
        """Raised by a call of a queue's async face once the queue is shut down.

        A stand-in for Python 3.13's ``asyncio.QueueShutDown``, which it is on 3.13 and newer.
        """

    ShutDown.__module__ = QueueShutDown.__module__ = "conclab.queues"

def check_maxsize(maxsize: Any) -> int:
    """``maxsize`` as an int, or ``TypeError`` saying what to pass instead."""
    if isinstance(maxsize, bool) or not isinstance(maxsize, int):
        raise TypeError(f"maxsize must be an int (0 or less for no bound), not "
                        f"{type(maxsize).__name__} {maxsize!r}; for example maxsize=10")
    return maxsize


def deadline_after(timeout: Any) -> float:
    """The ``time.monotonic()`` moment ``timeout`` seconds from now, after checking ``timeout``.

    Raises:
        TypeError: if ``timeout`` is not a number.
        ValueError: if it is negative (or NaN), as ``queue.Queue`` does, with what to pass.
    """
    try:
        ok = timeout >= 0
    except TypeError:
        raise TypeError(f"timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__} {timeout!r}") from None
    if not ok:
        raise ValueError(f"'timeout' must be a non-negative number of seconds, not {timeout!r}; "
                         f"pass timeout=None to wait as long as it takes, or block=False "
                         f"not to wait at all")
    return time.monotonic() + min(timeout, threading.TIMEOUT_MAX)


def running_loop(call: str, instead: str) -> asyncio.AbstractEventLoop:
    """The caller's running loop, or ``RuntimeError`` naming ``call`` and what to use instead."""
    loop = asyncio._get_running_loop()
    if loop is None:
        raise RuntimeError(f"{call} must be awaited by a coroutine running in an event loop, "
                           f"and there is none in thread {threading.current_thread().name!r}; "
                           f"from plain threaded code use {instead}")
    return loop
