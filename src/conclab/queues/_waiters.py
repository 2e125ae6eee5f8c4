"""Waiters: how a blocked thread or task is parked, and woken from any thread.

A waiter is what a caller leaves in a queue's FIFO deque before it lets go of the queue's
lock: a thread leaves a fresh ``threading.Lock`` that it has acquired, and blocks acquiring it
again; a task leaves a future of its own loop, and awaits it. Whoever pops a waiter (under
the queue's lock) wakes it with ``wake()``, from whatever thread it runs in: popping is what
counts as the wake-up, so a waiter is woken at most once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Union

__all__ = ["Waiter", "LockType", "wake", "wake_one", "wake_all"]

LockType = type(threading.Lock())
Waiter = Union["LockType", "asyncio.Future[None]"]  # a parked thread's lock, or a task's future
_get_running_loop = asyncio._get_running_loop  # C function: None outside a loop, no exception


def _resolve(fut: asyncio.Future[None]) -> None:
    """Wake a task awaiting ``fut`` (runs on ``fut``'s loop), unless it was cancelled meanwhile."""
    if not fut.done():
        fut.set_result(None)


def wake(waiter: Waiter) -> bool:
    """Wake one popped waiter; False if it can never run again (its loop is closed)."""
    if type(waiter) is LockType:
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


def wake_one(waiters: deque[Waiter]) -> None:
    """Pop and wake the first waiter that can still run."""
    while waiters:
        if wake(waiters.popleft()):
            return


def wake_all(waiters: deque[Waiter]) -> None:
    """Pop and wake every waiter."""
    while waiters:
        wake(waiters.popleft())
