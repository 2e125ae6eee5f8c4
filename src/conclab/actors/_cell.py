"""The cell: one actor's life (start, messages one at a time, stop or failure), on any backend.

A cell holds the ``Actor`` instance, its mailbox (a ``BridgeQueue``: threads put into it, and
the actor takes from it in a thread or, on the asyncio backend, as a task) and its state. The
thread backend and a process actor's child run ``start_sync`` then ``serve_sync`` in a
thread; the asyncio backend runs ``start_async`` then ``serve_async`` as a task. Both take one envelope at a time and share every rule through
``_take`` (before a message) and ``_done`` (after it), so the semantics cannot drift apart.

At ~360 lines it is over the package's ~300: the life in a thread and the life as a task are
two spellings of one loop, and belong beside the rules they share rather than in two files.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import types
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

from conclab.hooks import Observer, clock
from conclab.queues import BridgeQueue, ShutDown, QueueShutDown, as_worker
from conclab.actors._answer import _CURRENT
from conclab.actors._base import (Actor, ActorDeadError, ActorRef, Envelope, _LoopFuture, begin,
                                  settle)

__all__ = ["Cell"]

log = logging.getLogger("conclab.actors")


class Cell:
    """One actor's instance, mailbox and state; see the module docstring.

    Args:
        name: the actor's name.
        maxsize: the mailbox's bound (0: none).
        observer: where "receive" events and "run" spans go (None: nowhere).
        loop: the loop an asyncio actor lives on (None for the other backends).
    """

    def __init__(self, name: str, maxsize: int, observer: Observer | None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.name = name
        self.key: object = self
        self.loop = loop
        self.observer = observer
        self.mailbox: BridgeQueue[Envelope] = BridgeQueue(maxsize, name=f"{name} mailbox")
        self.put = self.mailbox.sync_q.put
        self.actor: Actor | None = None
        self.state = "starting"  # -> running -> stopping -> stopped | failed
        self.reason = ""  # why it takes no more messages, once it does not
        self.cause: BaseException | None = None
        self.discard = False  # stop(immediate=True): fail what is left instead of handling it
        self.handled = 0
        self.busy_with: Any = None  # the message in hand (for repr)
        self.busy_asker: str | None = None  # the actor that asked it, if one did
        self.busy_label = ""  # its label on a timeline (observed actors only)
        self._started_at: float | None = None  # when its first step began (observed actors)
        self.stopped = threading.Event()
        self.decode: Callable[[Any], Any] | None = None  # a process actor's: bytes -> message
        self.taken: Callable[[], None] | None = None  # a process actor's: free a mailbox slot
        self._runner: asyncio.Runner | None = None  # async hooks outside the asyncio backend
        self.on_start_done = False
        self.task: asyncio.Task[None] | None = None  # an asyncio actor's task (kept alive here)
        self.joiners: list[asyncio.Future[None]] = []  # join_async() callers, woken at the end

    # -- what refs call, from any thread ---------------------------------------------------

    def dead(self, what: str = "takes no more messages") -> ActorDeadError:
        """The error for a message this actor will never handle."""
        error = ActorDeadError(f"actor {self.name!r} {what}: {self.reason}; spawn a new one "
                               f"to go on")
        error.__cause__ = self.cause
        return error

    def stop(self, immediate: bool, reason: str = "it was stopped") -> None:
        """Take no more messages; handle those left (or, if ``immediate``, fail their asks)."""
        self.reason = self.reason or reason
        if self.state in ("starting", "running"):
            self.state = "stopping"
        if immediate:
            self.discard = True
        self.mailbox.shutdown()  # idempotent: a second stop may still make it immediate
        if immediate:
            self._drain()

    def asked_by(self, name: str) -> bool:
        """Whether actor ``name`` waits for an answer from this one: it asked the message in
        hand, or one still in the mailbox (a deadlock's sign, if this one now waits for it)."""
        if self.busy_asker == name:
            return True
        # BridgeQueue has no peek; this runs only when an answer did not come in time.
        return any(env[1] is not None and env[2] == name for env in list(self.mailbox._items))

    def __repr__(self) -> str:
        busy = "" if self.busy_with is None else f" busy_with={self.busy_with!r:.40}"
        return (f"{self.state} queued={self.mailbox.qsize()} handled={self.handled}{busy}")

    # -- the life, in a thread ---------------------------------------------------------------

    @contextmanager
    def _as_actor(self) -> Iterator[None]:
        """Run the block as this actor: sends name it, and waits are checked for cycles."""
        token = _CURRENT.set(self)
        try:
            with as_worker(self.name):
                yield
        finally:
            _CURRENT.reset(token)

    def _call(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Call a hook in this thread; an ``async def`` one runs on this cell's own loop."""
        result = hook(*args)
        if inspect.isawaitable(result):
            if self._runner is None:
                self._runner = asyncio.Runner()
            result = self._runner.run(_awaited(result))
        return result

    def construct(self, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any],
                  ref: ActorRef) -> None:
        """Make the actor instance, as this actor (raises what ``__init__`` raises)."""
        with self._as_actor():
            try:
                self.actor = cls(*args, **kwargs)
                self.actor.ref = ref
            except BaseException as exc:
                self._never_started(exc)
                raise

    def start_sync(self, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any],
                   ref: ActorRef) -> None:
        """Construct the actor and run ``on_start`` in this thread (raises what they raise)."""
        self.construct(cls, args, kwargs, ref)
        assert self.actor is not None
        with self._as_actor():
            try:
                self._call(self.actor.on_start)
            except BaseException as exc:
                self._never_started(exc)
                raise
        self._started()

    def _started(self) -> None:
        """``on_start`` returned: messages may be handled now."""
        self.on_start_done = True
        if self.state == "starting":
            self.state = "running"

    def serve_sync(self) -> None:
        """Handle messages one at a time until stopped or failed, then end; in this thread."""
        assert self.actor is not None
        get, receive, decode = self.mailbox.sync_q.get, self.actor.on_receive, self.decode
        if inspect.iscoroutinefunction(receive):
            receive = self._on_own_loop(receive)
        with self._as_actor():
            try:
                while True:
                    try:
                        env = get()
                    except ShutDown:
                        break
                    if not self._take(env):
                        continue
                    try:
                        value = receive(env[0] if decode is None else decode(env[0]))
                    except Exception as exc:
                        if not self._done(env, False, exc):
                            self._call_hook("on_failure", exc)
                            break
                    else:
                        self._done(env, True, value)
                if self.state != "failed":
                    self._call_hook("on_stop")
            finally:
                self._end()

    def _on_own_loop(self, hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``hook`` (an ``async def``) as a plain call that runs it on this cell's own loop."""
        def run(message: Any) -> Any:
            result = hook(message)
            if self.observer is not None:
                result = self._steps(result)
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(_awaited(result))
        return run

    # -- the life, as a task (asyncio backend) -----------------------------------------------

    async def start_async(self, cls: type[Actor], args: tuple[Any, ...],
                          kwargs: dict[str, Any], ref: ActorRef) -> None:
        """Construct the actor (unless done) and run ``on_start`` (unless done) on this loop."""
        if self.actor is None:
            self.construct(cls, args, kwargs, ref)
        assert self.actor is not None
        if self.on_start_done:
            return
        token = _CURRENT.set(self)
        try:
            with as_worker(self.name):
                result = self.actor.on_start()
                if inspect.isawaitable(result):
                    await result
        except BaseException as exc:
            self._never_started(exc)
            raise
        finally:
            _CURRENT.reset(token)
        self._started()

    def start_inline(self, cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any],
                     ref: ActorRef) -> None:
        """On the actor's own loop, where nobody can wait: construct now, and run a plain
        ``on_start`` now too (an ``async def`` one is left to ``start_async``)."""
        self.construct(cls, args, kwargs, ref)
        assert self.actor is not None
        if not inspect.iscoroutinefunction(self.actor.on_start):
            with self._as_actor():
                try:
                    self.actor.on_start()
                except BaseException as exc:
                    self._never_started(exc)
                    raise
            self._started()

    async def serve_async(self) -> None:
        """Handle messages one at a time until stopped or failed, then end; as a task."""
        assert self.actor is not None
        get, receive = self.mailbox.async_q.get, self.actor.on_receive
        asynchronous = inspect.iscoroutinefunction(receive)
        _CURRENT.set(self)  # the task runs in a context of its own
        with as_worker(self.name):
            try:
                while True:
                    try:
                        env = await get()
                    except QueueShutDown:
                        break
                    if not self._take(env):
                        continue
                    try:
                        value = receive(env[0])
                        if asynchronous:
                            value = await (value if self.observer is None
                                           else self._steps(value))
                    except Exception as exc:
                        if not self._done(env, False, exc):
                            await self._acall_hook("on_failure", exc)
                            break
                    else:
                        self._done(env, True, value)
                if self.state != "failed":
                    await self._acall_hook("on_stop")
            finally:
                self._end()

    # -- one message: the rules every backend shares ------------------------------------------

    def _take(self, env: Envelope) -> bool:
        """Before handling ``env``: False if it must be skipped (dropped by stop, cancelled)."""
        if self.taken is not None:
            self.taken()
        reply = env[1]
        if self.discard:
            if reply is not None:
                settle(reply, False, self.dead("stopped before handling this message"))
            return False
        if reply is None:
            self.busy_asker = None
        else:
            if not (not reply.done() if type(reply) is _LoopFuture else begin(reply)):
                return False  # its asker cancelled it before we got to it
            self.busy_asker = env[2]
        if self.observer is not None:
            self._started_at = self._report_receive(env)
            self.busy_label = env[3][1] if env[3] else ""
        self.busy_with = env[0]
        return True

    def _done(self, env: Envelope, ok: bool, value: Any) -> bool:
        """After handling ``env``: answer it; False if a told message failed (stop now)."""
        self.busy_with = None
        self.handled += 1
        if self.observer is not None and self._started_at is not None:
            label = env[3][1] if env[3] else ""
            self.observer.span(self.name, "run", self._started_at, clock(), label)
        reply = env[1]
        if reply is not None:
            if (type(reply) is _LoopFuture and reply.get_loop() is self.loop
                    and self.loop is not None and not reply.done()):
                # an asker on the actor's own loop: resolve directly, as settle() would
                (reply.set_result if ok else reply.set_exception)(value)
            else:
                settle(reply, ok, value)
            return True
        if ok:
            return True
        self._fail(value)
        return False

    @types.coroutine
    def _steps(self, awaitable: Any) -> Generator[Any, Any, Any]:
        """Await an ``async def on_receive`` one step at a time, reporting each step as a
        "run" span and each suspension between two steps as a "wait" span.

        A single span from receive to answer would call the whole ``await asyncio.sleep(1)``
        "run": a timeline would show an I/O-bound actor busy while it only waited, and any
        overlap read from it would be wrong. Every value the coroutine yields (a future for
        the loop) passes through unchanged, and whatever the loop sends or throws in goes back
        to it, cancellation included; only observed actors pay for it.
        """
        assert self.observer is not None
        report, name = self.observer.span, self.name
        label = self.busy_label
        start, self._started_at = self._started_at, None  # reported here, not by _done
        steps = awaitable.__await__()
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                yielded = steps.send(sent) if thrown is None else steps.throw(thrown)
            except StopIteration as done:  # the answer (PEP 479: return it, never re-raise)
                report(name, "run", start, clock(), label)
                return done.value
            except BaseException:  # what the hook raised
                report(name, "run", start, clock(), label)
                raise
            paused = clock()
            report(name, "run", start, paused, label)
            try:
                sent, thrown = (yield yielded), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # cancellation, or the loop's error for a future
                sent, thrown = None, exc
            start = clock()
            report(name, "wait", paused, start, label)

    def _report_receive(self, env: Envelope) -> float:
        """Report the receive of ``env`` (matching its send); return the time it starts."""
        assert self.observer is not None
        sender, label = env[3] if env[3] else ("?", "")
        now = clock()
        self.observer.event("receive", now, sender, self.name, label)
        return now

    # -- endings -------------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """A told message raised: take no more, fail the asks waiting, report it."""
        self.state = "failed"
        self.cause = exc
        self.reason = f"it failed on a told message with {exc!r}"
        log.warning("actor %r failed on a told message and stops", self.name, exc_info=exc)
        self.stop(immediate=True)

    def _never_started(self, exc: BaseException) -> None:
        """``__init__`` or ``on_start`` raised: the actor is dead before its first message."""
        self.state = "failed"
        self.cause = exc
        self.reason = f"it failed to start with {exc!r}"
        self.stop(immediate=True)
        self._end()

    def _drain(self) -> None:
        """Fail every ask still in the mailbox (after a stop that drops them)."""
        while True:
            try:
                env = self.mailbox.sync_q.get_nowait()
            except (queue.Empty, ShutDown):
                return
            if self.taken is not None:
                self.taken()
            if env[1] is not None:
                settle(env[1], False, self.dead("stopped before handling this message"))

    def _call_hook(self, name: str, *args: Any) -> None:
        """Run ``on_stop`` or ``on_failure`` in this thread; log what it raises."""
        try:
            self._call(getattr(self.actor, name), *args)
        except Exception:
            log.exception("%s of actor %r raised", name, self.name)

    async def _acall_hook(self, name: str, *args: Any) -> None:
        """Run ``on_stop`` or ``on_failure`` on this loop; log what it raises."""
        try:
            result = getattr(self.actor, name)(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s of actor %r raised", name, self.name)

    def _end(self) -> None:
        """The actor is over: close its own loop, if it had one, and say so."""
        self.stop(immediate=True, reason="it has stopped")
        if self.state != "failed":
            self.state = "stopped"
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        self.busy_with = None
        self.stopped.set()
        joiners, self.joiners = self.joiners, []
        for fut in joiners:
            settle(fut, True, None)


async def _awaited(awaitable: Any) -> Any:
    """A coroutine that awaits ``awaitable`` (``Runner.run`` takes coroutines only)."""
    return await awaitable
