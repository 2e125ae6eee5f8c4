"""Thread and asyncio actors: a cell in this process, behind a ref that puts into its mailbox.

A thread actor's cell lives in a thread of its own (not a daemon: a forgotten actor shows up
in ``testing.assert_clean``; at interpreter exit the live ones are stopped first). An asyncio
actor's cell is a task on the package's ``BackgroundLoop`` (one per process, running while any
asyncio actor lives), or on a running loop given to ``spawn``. Their refs cannot be pickled:
they point into this process's memory.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
import weakref
from typing import Any

from conclab.hooks import Observer
from conclab.lifecycle import BackgroundLoop
from conclab.queues import BridgeQueue, QueueShutDown, ShutDown
from conclab.actors._base import (Actor, ActorRef, ActorStartError, Envelope,
                                  _get_running_loop)
from conclab.actors._cell import Cell

__all__ = ["LocalRef", "spawn_thread", "spawn_asyncio", "SHARED_LOOP"]

SHARED_LOOP = BackgroundLoop("conclab-actors")
"""The loop asyncio actors live on unless ``spawn`` is given one: one per process."""

_LIVE: weakref.WeakSet[Cell] = weakref.WeakSet()  # cells of this process not yet stopped


class LocalRef(ActorRef):
    """The ref of a thread or asyncio actor of this process (see ``ActorRef``)."""

    def __init__(self, cell: Cell, backend: str) -> None:
        self._cell = cell
        self.name, self.backend = cell.name, backend
        self._key, self._loop, self._observer = cell, cell.loop, cell.observer
        # A bounded asyncio actor cannot make room while its own loop blocks in tell().
        self._blocking_loop = cell.loop if cell.mailbox.maxsize > 0 else None

    def _post(self, envelope: Envelope, block: bool, timeout: float | None) -> None:
        cell = self._cell
        if (self._blocking_loop is not None and block and cell.mailbox.full()
                and self._blocking_loop is _get_running_loop()):
            raise RuntimeError(f"the mailbox of actor {self.name!r} is full, and waiting for "
                               f"room here would block the loop the actor needs to make "
                               f"room; use block=False, or `await ref.ask_async(...)`")
        try:
            cell.put(envelope, block, timeout)
        except ShutDown:
            raise cell.dead() from None

    def _try_post(self, envelope: Envelope) -> bool:
        cell = self._cell
        try:
            cell.put(envelope, False)
        except queue.Full:
            return False
        except ShutDown:
            raise cell.dead() from None
        return True

    async def _post_async(self, envelope: Envelope) -> None:
        cell = self._cell
        try:
            await cell.mailbox.async_q.put(envelope)
        except QueueShutDown:
            raise cell.dead() from None

    def _stop(self, immediate: bool) -> None:
        self._cell.stop(immediate)

    def _join(self, timeout: float | None) -> bool:
        return self._cell.stopped.wait(timeout)

    async def _join_async(self) -> None:
        cell = self._cell
        fut = asyncio.get_running_loop().create_future()
        cell.joiners.append(fut)
        if cell.stopped.is_set():  # it ended before the future was in the list
            return
        await fut

    def _is_alive(self) -> bool:
        return not self._cell.stopped.is_set()

    def __reduce__(self) -> Any:
        raise TypeError(f"the ref of {self.backend} actor {self.name!r} cannot be pickled: it "
                        f"points into this process's memory, so it cannot reach another "
                        f"process; spawn the actor with backend='process' to share its ref")

    def __repr__(self) -> str:
        return f"<ActorRef {self.name!r} {self.backend} {self._cell!r}>"


def _await_start(ref: LocalRef, cls: type[Actor], started: concurrent.futures.Future[None],
                 timeout: float) -> None:
    """Wait for the actor's ``__init__`` and ``on_start``; raise what went wrong, clearly."""
    try:
        started.result(timeout)
    except concurrent.futures.TimeoutError:
        ref._cell.stop(immediate=True, reason="it did not start in time")
        raise TimeoutError(f"actor {ref.name!r} ({cls.__qualname__}) did not finish __init__ "
                           f"and on_start within {timeout} s; it stops once they return; "
                           f"pass a longer timeout= to spawn, or move slow work out of "
                           f"on_start") from None
    except BaseException as exc:
        raise ActorStartError(f"actor {ref.name!r} ({cls.__qualname__}) failed to start: "
                              f"{exc!r} in __init__ or on_start") from exc


def _thread_main(cell: Cell, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any],
                 ref: ActorRef, started: concurrent.futures.Future[None]) -> None:
    """A thread actor's whole life, in its own thread."""
    try:
        cell.start_sync(cls, args, kwargs, ref)
    except BaseException as exc:
        started.set_exception(exc)
        return
    started.set_result(None)
    cell.serve_sync()


def spawn_thread(cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any], name: str,
                 maxsize: int, observer: Observer | None, timeout: float) -> LocalRef:
    """Start a thread actor; return once its ``on_start`` has returned."""
    cell = Cell(name, maxsize, observer)
    ref = LocalRef(cell, "thread")
    started: concurrent.futures.Future[None] = concurrent.futures.Future()
    thread = threading.Thread(target=_thread_main, name=name,
                              args=(cell, cls, args, kwargs, ref, started))
    _LIVE.add(cell)
    thread.start()
    _await_start(ref, cls, started, timeout)
    return ref


async def _task_main(cell: Cell, cls: type[Actor], args: tuple[Any, ...],
                     kwargs: dict[str, Any], ref: ActorRef,
                     started: concurrent.futures.Future[None] | None, owned: bool) -> None:
    """An asyncio actor's whole life, as a task on its loop."""
    try:
        try:
            await cell.start_async(cls, args, kwargs, ref)
        except BaseException as exc:
            if started is not None:
                started.set_exception(exc)
            return
        if started is not None:
            started.set_result(None)
        await cell.serve_async()
    finally:
        if owned:
            SHARED_LOOP.release()


def spawn_asyncio(cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any], name: str,
                  maxsize: int, observer: Observer | None,
                  loop: asyncio.AbstractEventLoop | None, timeout: float) -> LocalRef:
    """Start an asyncio actor on ``loop`` (None: the shared background loop).

    From a thread other than the loop's it returns once ``on_start`` has returned. From the
    loop itself (where nobody can wait) ``__init__`` and a plain ``on_start`` run at once; an
    ``async def on_start`` runs first thing in the actor's task, and if it raises, the actor
    is dead: its asks fail with ``ActorDeadError`` caused by that exception.
    """
    owned = loop is None
    if loop is None:
        loop = SHARED_LOOP.acquire()
    cell = Cell(name, maxsize, observer, loop)
    ref = LocalRef(cell, "asyncio")
    _LIVE.add(cell)
    if _get_running_loop() is loop:
        try:
            cell.start_inline(cls, args, kwargs, ref)
        except BaseException as exc:
            if owned:
                SHARED_LOOP.release()
            raise ActorStartError(f"actor {name!r} ({cls.__qualname__}) failed to start: "
                                  f"{exc!r} in __init__ or on_start") from exc
        cell.task = loop.create_task(_task_main(cell, cls, args, kwargs, ref, None, owned),
                                     name=name)
        return ref
    started: concurrent.futures.Future[None] = concurrent.futures.Future()

    def create() -> None:
        cell.task = loop.create_task(_task_main(cell, cls, args, kwargs, ref, started, owned),
                                     name=name)

    loop.call_soon_threadsafe(create)
    _await_start(ref, cls, started, timeout)
    return ref


def _forked() -> None:
    """In a child started by fork: the actors' threads and loops did not come along."""
    pid = os.getppid()
    for cell in list(_LIVE):
        dead: BridgeQueue[Envelope] = BridgeQueue()
        dead.shutdown()
        cell.mailbox, cell.put = dead, dead.sync_q.put
        cell.stopped = threading.Event()  # the parent's may be mid-use: a fresh one, set
        cell.stopped.set()
        cell.reason = (f"it lives in process {pid}, and this is a copy made by fork; pass "
                       f"refs of process actors to children instead")


def _stop_all_at_exit() -> None:
    """At interpreter exit, before non-daemon threads are joined: stop the live actors."""
    cells = list(_LIVE)
    for cell in cells:
        cell.stop(immediate=True, reason="the interpreter is exiting")
    for cell in cells:
        cell.stopped.wait(5.0)


os.register_at_fork(after_in_child=_forked)
# threading joins non-daemon threads before atexit handlers run; this private hook runs first
# (it exists from Python 3.9 on; without it, a live thread actor would hold the exit up).
getattr(threading, "_register_atexit", lambda fn: None)(_stop_all_at_exit)
