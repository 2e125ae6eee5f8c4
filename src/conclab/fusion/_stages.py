"""Where a step runs off the loop: a thread pool fed by a BridgeQueue, or process actors.

Both stages are awaited from the server's event loop and never block it:

1. ``ThreadStage``: the loop puts ``(step, arg, future, loop)`` into a ``BridgeQueue`` through
   its ``async_q`` face; the stage's own threads take from its ``sync_q`` face, run the step,
   and hand the outcome back with ``loop.call_soon_threadsafe`` (a future of the loop may only
   be settled on the loop's thread, and the call also wakes the loop's selector). The stage
   owns its threads: ``close()`` shuts the queue down, which ends every thread's ``for`` loop.
2. ``ProcessStage``: a few ``StepActor`` process actors and a queue of the idle ones; a job
   takes an idle actor, ``await ask_async`` it, and gives it back. If the actor's process dies
   during the job, the ask fails with ``ActorDeadError``, the job fails with it (it is not
   retried: a job that killed its worker may kill the next one too, and only the client knows
   whether running it twice is safe), and a fresh actor takes the dead one's place.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from conclab.actors import ActorDeadError, ActorRef, spawn
from conclab.hooks import Observer, as_worker, clock, observing
from conclab.queues import BridgeQueue
from conclab.fusion._steps import StepActor

__all__ = ["ThreadStage", "ProcessStage"]


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Settle ``fut`` on its loop, unless the job gave up waiting (a timeout cancelled it)."""
    if not fut.done():
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class ThreadStage:
    """Threads this server owns, fed from the loop through a ``BridgeQueue``.

    Args:
        size: how many threads (how many steps may run at once).
        name: the threads' names are ``name-0``, ``name-1``...; the queue is ``name-queue``.
        observer: gets the queue's send/receive events and a span per step ("wait" for a
            blocking step, "run" for the others).
    """

    def __init__(self, size: int, name: str, observer: Observer | None = None) -> None:
        self.name = name
        self._observer = observer if observing(observer) else None
        self.work: BridgeQueue[tuple[Callable[[Any], Any], Any, asyncio.Future[Any],
                                     asyncio.AbstractEventLoop]] = BridgeQueue(
            observer=self._observer, name=f"{name}-queue",
            label=lambda item: getattr(item[0], "__name__", "step"))
        self.threads = [threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
                        for i in range(size)]
        for t in self.threads:
            t.start()

    def _serve(self) -> None:
        """One thread: run steps until the queue is shut down and drained."""
        me = threading.current_thread().name
        for step, arg, fut, loop in self.work.sync_q:
            start = clock()
            try:
                ok, value = True, step(arg)
            except Exception as exc:  # noqa: BLE001 - it goes to the job that asked
                ok, value = False, exc
            if self._observer is not None:
                state = "wait" if step.__name__ == "blocking" else "run"
                self._observer.span(me, state, start, clock(), step.__name__)
            try:
                loop.call_soon_threadsafe(_settle, fut, ok, value)
            except RuntimeError:  # the loop has closed: nobody waits for this outcome
                pass

    async def run(self, step: Callable[[Any], Any], arg: Any) -> Any:
        """Run ``step(arg)`` in one of the threads and await its outcome."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        await self.work.async_q.put((step, arg, fut, loop))
        return await fut

    def queued(self) -> int:
        """Steps waiting for a free thread."""
        return self.work.qsize()

    def close(self, timeout: float = 5.0) -> None:
        """Let the threads finish what is queued, then end them (each waits ``timeout`` s)."""
        self.work.shutdown()
        for t in self.threads:
            t.join(timeout)


class ProcessStage:
    """A few process actors, each running one step at a time, and a queue of the idle ones.

    Args:
        size: how many actors (processes).
        name: the actors are ``name-0``, ``name-1``...
        observer: passed to each actor (send/receive events, a "run" span per step).
        method: the start method (default: ``lifecycle.default_start_method()``).
    """

    def __init__(self, size: int, name: str, observer: Observer | None = None,
                 method: str | None = None) -> None:
        self.name, self._observer, self._method = name, observer, method
        self.refs: dict[str, ActorRef] = {}
        self.pids: dict[str, int] = {}
        self.busy: dict[str, int] = {}   # actor name -> pid, while it runs a job
        self.replaced = 0
        self._waiting = 0                # jobs waiting for an idle actor
        self._idle: asyncio.Queue[str] | None = None
        self._lock = threading.Lock()
        try:
            for i in range(size):
                self._spawn(f"{name}-{i}")
        except BaseException:
            self.close()
            raise

    def _spawn(self, name: str) -> None:
        """Start one actor under ``name`` and learn its process id (blocking: seconds at most)."""
        ref = spawn(StepActor, backend="process", name=name, observer=self._observer,
                    method=self._method)
        with self._lock:  # kept before anything can fail, so that close() stops it
            self.refs[name] = ref
        with as_worker("front"):  # on a timeline, the question comes from the server's lane
            pid = ref.ask(("pid", None)).result(30)
        with self._lock:
            self.pids[name] = pid

    def start(self) -> None:
        """Make the idle queue; call on the server's loop before the first ``run``."""
        self._idle = asyncio.Queue()
        for name in self.refs:
            self._idle.put_nowait(name)

    async def run(self, kind: str, arg: Any) -> Any:
        """Run a step of ``kind`` on an idle actor; replace the actor if its process died."""
        assert self._idle is not None, "start() the stage on its loop first"
        self._waiting += 1
        try:
            name = await self._idle.get()
        finally:
            self._waiting -= 1
        ref = self.refs[name]
        self.busy[name] = self.pids[name]
        try:
            return await ref.ask_async((kind, arg))
        except ActorDeadError as dead:
            # Spawning blocks for a process start: do it off the loop, then go back to idle.
            # The job's error stays its actor's death; a replacement that fails to start (a
            # rare fork from this busy, threaded process) is tried once more now, and else
            # again by the next job, which finds the same dead actor.
            for _ in range(2):
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self._replace, name)
                    break
                except Exception as exc:  # noqa: BLE001 - reported with the job's error
                    dead.add_note(f"starting its replacement failed: {exc!r}")
            raise
        finally:
            self.busy.pop(name, None)
            self._idle.put_nowait(name)

    def _replace(self, name: str) -> None:
        """Stop what is left of a dead actor and start a fresh one under its name."""
        old = self.refs[name]
        old.stop()
        try:
            old.join(5.0)
        except TimeoutError:
            pass  # its spawner's watcher reaps the process once it is gone
        self._spawn(name)
        self.replaced += 1

    def waiting(self) -> int:
        """Jobs waiting for an idle actor."""
        return self._waiting

    def close(self, timeout: float = 10.0) -> None:
        """Stop every actor (each finishes the step it runs) and reap its process."""
        with self._lock:
            refs = list(self.refs.values())
        for ref in refs:
            ref.stop(immediate=True)
        for ref in refs:
            try:
                ref.join(timeout)
            except TimeoutError:
                pass  # its spawner's watcher still reaps it when the process ends
