"""What every backend shares: the ``Actor`` to subclass, the errors, the ref's public face.

``ActorRef`` holds the public calls (``tell``, ``ask``, ``ask_async``, ``stop``, ``join``...)
and checks their arguments once; a backend implements the few hooks fenced off at the end of
the class. ``settle`` and ``begin`` deliver an outcome to whatever waits for it, from any
thread: an ``Answer`` (``_answer``), a future of some event loop, or an asker in another
process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import reprlib
from typing import Any

from conclab.hooks import Observer, clock
from conclab.queues._common import worker_name  # the one helper that names the caller
from conclab.actors._answer import _CURRENT, Answer, waiting_for

__all__ = ["Actor", "ActorRef", "ActorDeadError", "ActorStartError", "Envelope",
           "check_timeout", "settle", "begin"]

Envelope = tuple  # (message, reply or None, asking actor's name or None, (sender, label) or None)
"""A message in a mailbox: what was sent, where its answer goes, who asked, what to report."""

_get_running_loop = asyncio._get_running_loop  # C function: None outside a loop, no exception
_LoopFuture = asyncio.futures._CFuture  # what loop.create_future() makes (the C future)


class ActorDeadError(RuntimeError):
    """The actor has stopped (or died): it takes no more messages and answers none."""


class ActorStartError(RuntimeError):
    """The actor could not start: its ``__init__`` or ``on_start`` raised, or its process died."""


class Actor:
    """Subclass this and override ``on_receive``; ``spawn`` runs it on a backend of your choice.

    An actor owns its state and changes it only in its hooks, which run one at a time, in its
    own thread (thread backend), its own process (process backend: the class and its
    constructor arguments must be importable and picklable there) or as a task on an event
    loop (asyncio backend). Any hook may be ``async def``: the thread and process backends run
    it on a loop of their own, so a class never depends on its backend. ``self.ref`` is the
    actor's own ``ActorRef`` from ``on_start`` on (pass it in messages for answers by tell).
    """

    ref: ActorRef

    # -- hooks: override these -----------------------------------------------------------------

    def on_start(self) -> Any:
        """Set up before the first message; runs in the actor's thread, process or task.

        If it raises, the actor never runs: ``spawn`` raises ``ActorStartError``.
        """

    def on_receive(self, message: Any) -> Any:
        """Handle one message (in the actor's thread, process or task); return the answer.

        What it returns answers an ``ask`` (a told message's answer is dropped). If it raises
        while answering an ``ask``, the exception goes to the asker and the actor lives on;
        while handling a ``tell``, ``on_failure`` runs and the actor stops.
        """
        raise NotImplementedError(f"{type(self).__name__} got {reprlib.repr(message)} but has "
                                  f"no on_receive: define on_receive(self, message) in it")

    def on_stop(self) -> Any:
        """Clean up after the last message, when the actor was stopped; runs where it lived.

        Not called when the actor stops because of a failure: ``on_failure`` is, instead.
        """

    def on_failure(self, exc: BaseException) -> Any:
        """Clean up after ``on_receive`` raised ``exc`` on a told message; the actor then stops.

        Runs in the actor's thread, process or task, instead of ``on_stop``.
        """


def check_timeout(timeout: Any, call: str) -> None:
    """Raise if ``timeout`` is neither None nor a number of seconds >= 0."""
    try:
        ok = timeout >= 0
    except TypeError:
        raise TypeError(f"{call}: timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__} {timeout!r}") from None
    if not ok:
        raise ValueError(f"{call}: timeout must be >= 0 seconds, not {timeout!r}; pass "
                         f"timeout=None to wait as long as it takes")


def begin(reply: Any) -> bool:
    """Mark an ask as under way; False if its asker cancelled it first (skip the message)."""
    kind = type(reply)
    if kind is _LoopFuture or kind is asyncio.Future:
        return not reply.done()
    if kind is Answer:
        return reply.set_running_or_notify_cancel()
    return True


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Settle an asyncio future on its own loop, unless its task gave up meanwhile."""
    if not fut.done():
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


def settle(reply: Any, ok: bool, value: Any) -> None:
    """Deliver an outcome from any thread: to an ``Answer``, an asyncio future, a remote asker."""
    kind = type(reply)
    if (kind is _LoopFuture or kind is asyncio.Future) and reply.get_loop() is _get_running_loop():
        if not reply.done():  # its awaiting task may have been cancelled meanwhile
            if ok:
                reply.set_result(value)
            else:
                reply.set_exception(value)
    elif kind is Answer:
        try:
            reply._settle(ok, value)
        except concurrent.futures.InvalidStateError:
            pass  # failed by stop(immediate=True) while the actor had it, or cancelled
    elif isinstance(reply, asyncio.Future):
        loop = reply.get_loop()
        if loop is _get_running_loop():
            _resolve(reply, ok, value)
        else:
            try:
                loop.call_soon_threadsafe(_resolve, reply, ok, value)
            except RuntimeError:  # its loop is closed: nobody is left to hear the answer
                pass
    else:
        reply.settle(ok, value)


class ActorRef:
    """The handle to an actor: send it messages, from any thread and any event loop.

    ``spawn`` returns one; it is also the actor's ``self.ref``. Refs of process actors can be
    passed to other processes (as constructor arguments or inside messages, under every start
    method); refs of thread and asyncio actors stay in their process. Use it as a context
    manager (``with spawn(...) as ref:``, or ``async with``) to stop and join the actor at
    the end.

    Attributes:
        name: the actor's name (the lane it appears in on a timeline).
        backend: ``"thread"``, ``"asyncio"`` or ``"process"``.
    """

    name: str
    backend: str
    _key: object  # identity in the waits-for records
    _loop: asyncio.AbstractEventLoop | None = None  # the loop an asyncio actor runs on
    _observer: Observer | None = None

    def tell(self, message: Any, *, block: bool = True, timeout: float | None = None) -> None:
        # tell, ask and ask_async are written out rather than sharing a helper: they run once
        # per message, and the benchmarks hold them against bare queue ping-pongs.
        """Send ``message`` and return at once; no answer comes back.

        Args:
            message: anything (picklable, for a process actor).
            block: wait for room when a bounded mailbox is full; if false, raise at once.
            timeout: the most seconds to wait for room (None: as long as it takes).

        Raises:
            queue.Full: if the mailbox stayed full (at once when ``block`` is false).
            ActorDeadError: if the actor has stopped.
            TypeError: if a process actor's message cannot be pickled.
        """
        if timeout is not None:
            check_timeout(timeout, "tell()")
        me = _CURRENT.get()
        self._post((message, None, None if me is None else me.name,
                    None if self._observer is None else self._note(message)), block, timeout)

    def ask(self, message: Any, *, timeout: float | None = None) -> Answer:
        """Send ``message``; return a future that the actor resolves with its answer.

        Args:
            message: anything (picklable, for a process actor).
            timeout: the most seconds to wait for room in a full mailbox (None: as long as it
                takes); wait for the answer itself with ``.result(timeout)``.

        Raises:
            queue.Full: if the mailbox stayed full for ``timeout`` seconds.
            ActorDeadError: if the actor has stopped.
            TypeError: if a process actor's message cannot be pickled.
        """
        if timeout is not None:
            check_timeout(timeout, "ask()")
        answer = Answer(self)
        me = _CURRENT.get()
        self._post((message, answer, None if me is None else me.name,
                    None if self._observer is None else self._note(message)), True, timeout)
        return answer

    async def ask_async(self, message: Any) -> Any:
        """Send ``message`` and await the answer, from any event loop, without blocking it.

        A full mailbox is waited on without blocking the loop too. Bound the whole wait with
        ``asyncio.timeout``; if this task is cancelled before the actor takes the message,
        the actor skips it.

        Raises:
            ActorDeadlockError: if the awaiting actor is part of a cycle of waits.
            ActorDeadError: if the actor stopped or died before answering.
            Exception: whatever ``on_receive`` raised.
        """
        loop = _get_running_loop()
        if loop is None:
            raise RuntimeError("ask_async() must be awaited in an event loop; from plain "
                               "threaded code use ref.ask(message).result(timeout)")
        fut = loop.create_future()
        me = _CURRENT.get()
        envelope = (message, fut, None if me is None else me.name,
                    None if self._observer is None else self._note(message))
        if not self._try_post(envelope):
            await self._post_async(envelope)
        if me is None:
            return await fut
        with waiting_for(me, self, "await ask_async()"):
            return await fut

    def stop(self, immediate: bool = False) -> None:
        """Stop the actor: it handles what is already in its mailbox, then ``on_stop`` runs.

        Returns at once (``join`` waits). From now on ``tell`` and ``ask`` raise
        ``ActorDeadError``. With ``immediate=True`` the messages still waiting are dropped
        and their asks fail with ``ActorDeadError``; the message being handled finishes.
        Stopping a stopped actor does nothing.
        """
        self._stop(immediate)

    def join(self, timeout: float | None = None) -> None:
        """Wait until the actor has stopped (``on_stop`` or ``on_failure`` done).

        Raises:
            TimeoutError: if it is still running after ``timeout`` seconds.
            RuntimeError: if called on the loop an asyncio actor runs on (await
                ``join_async()`` there).
        """
        if timeout is not None:
            check_timeout(timeout, "join()")
        if self._loop is not None and self._loop is _get_running_loop():
            raise RuntimeError(f"join() would block the event loop that actor {self.name!r} "
                               f"runs on; use `await ref.join_async()` there")
        if not self._join(timeout):
            raise TimeoutError(f"actor {self.name!r} still running after {timeout} s: "
                               f"{self!r}; call stop() first, or stop(immediate=True) to drop "
                               f"its mailbox")

    async def join_async(self) -> None:
        """Await the actor's stop from any event loop (bound it with ``asyncio.timeout``)."""
        await self._join_async()

    def is_alive(self) -> bool:
        """True until the actor has stopped (or died)."""
        return self._is_alive()

    def __enter__(self) -> ActorRef:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join(_EXIT_TIMEOUT)

    async def __aenter__(self) -> ActorRef:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        await asyncio.wait_for(self.join_async(), _EXIT_TIMEOUT)

    def _note(self, message: Any) -> tuple[str, str] | None:
        """Report a send to the observer; the (sender, label) the receive will repeat."""
        sender, label = worker_name(), reprlib.repr(message)
        assert self._observer is not None
        self._observer.event("send", clock(), sender, self.name, label)
        return sender, label

    # -- what a backend implements ---------------------------------------------------------

    def _post(self, envelope: Envelope, block: bool, timeout: float | None) -> None:
        """Put ``envelope`` in the mailbox (raise ``queue.Full`` or ``ActorDeadError``)."""
        raise NotImplementedError

    def _try_post(self, envelope: Envelope) -> bool:
        """Put ``envelope`` in the mailbox if that needs no wait; whether it did."""
        raise NotImplementedError

    async def _post_async(self, envelope: Envelope) -> None:
        """Put ``envelope`` in the mailbox, awaiting room without blocking the loop."""
        raise NotImplementedError

    def _stop(self, immediate: bool) -> None:
        """Ask the actor to stop (see ``stop``)."""
        raise NotImplementedError

    def _join(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` s for the actor to stop; whether it has."""
        raise NotImplementedError

    async def _join_async(self) -> None:
        """Await the actor's stop."""
        raise NotImplementedError

    def _is_alive(self) -> bool:
        """Whether the actor still runs."""
        raise NotImplementedError


_EXIT_TIMEOUT = 30.0  # seconds a `with` block waits for its actor to finish its mailbox
