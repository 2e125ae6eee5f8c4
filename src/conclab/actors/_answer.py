"""``Answer``, the future ``ask`` returns, and the record of which actor waits for which.

``Answer`` is a real ``concurrent.futures.Future`` (``wait``, ``as_completed``,
``asyncio.wrap_future`` and done-callbacks all work), made lean: the stdlib future builds a
``Condition`` over an ``RLock`` for every instance and takes it three times per answer, which
measured more than a whole ``queue.Queue`` ping-pong (the benchmark ``actor.thread.*``). This
one guards its state with one plain lock, parks a waiting thread on a fresh lock of its own
(as ``Condition.wait`` does inside), and builds the ``Condition`` (over that same plain lock)
only when stdlib code asks for ``_condition``. It relies on ``Future``'s private fields
(``_state``, ``_result``, ``_exception``, ``_waiters``, ``_done_callbacks``), the same from
Python 3.8 to 3.13.

Its ``result()`` also knows who waits for whom: an actor that would wait for an actor that
waits for it gets ``ActorDeadlockError`` at once, and a wait that times out says why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from concurrent.futures._base import (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED, PENDING,
                                      RUNNING)
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from conclab.actors._base import ActorRef

__all__ = ["Answer", "ActorDeadlockError", "Mailbox", "current", "waiting_for", "no_answer"]

_get_running_loop = asyncio._get_running_loop  # C function: None outside a loop, no exception
_allocate_lock = threading.Lock
_LAZY = threading.Lock()  # makes each Answer's Condition at most once


class ActorDeadlockError(RuntimeError):
    """Actors wait for each other's answers in a cycle, so none of them can ever go on."""


class Mailbox(Protocol):
    """What the waits-for record needs to know of an actor (a backend's cell)."""

    name: str
    key: object

    def asked_by(self, name: str) -> bool:
        """Whether actor ``name`` waits for an answer from this one."""


_CURRENT: contextvars.ContextVar[Mailbox | None] = contextvars.ContextVar(
    "conclab_actor", default=None)
current = _CURRENT.get
"""The actor whose hook is running in this thread or task (its cell), or None."""

# Who waits for whose answer, within this process: waiter's key -> (target's key, name).
# Only actors are recorded (a plain thread or task waiting is never part of a cycle).
_WAITING: dict[object, tuple[object, str]] = {}
# Held while a wait is checked and recorded: two actors that start waiting for each other at
# the same moment would otherwise both check before either records, and both wait.
_WAITING_LOCK = threading.Lock()


def _cycle(me: Mailbox, key: object, name: str) -> list[str]:
    """The names along the wait from ``me`` through ``key`` back to ``me``, or [] if none."""
    names, seen = [me.name, name], {id(key)}
    while key is not me.key and key != me.key:
        nxt = _WAITING.get(key)
        if nxt is None or id(nxt[0]) in seen:
            return []
        key, name = nxt
        seen.add(id(key))
        names.append(name)
    return names


class waiting_for:
    """``with waiting_for(me, target, call):`` records that actor ``me`` waits for ``target``'s
    answer, and refuses a wait that closes a cycle (a class, not a generator: it runs once
    per wait of an actor)."""

    __slots__ = ("me",)

    def __init__(self, me: Mailbox, target: ActorRef, call: str) -> None:
        self.me = me
        with _WAITING_LOCK:
            cycle = _cycle(me, target._key, target.name)
            if not cycle:
                _WAITING[me.key] = (target._key, target.name)
        if cycle:
            raise ActorDeadlockError(
                f"{' -> '.join(map(repr, cycle))}: actor {me.name!r} would wait in {call} for "
                f"{target.name!r}, which waits (maybe through others) for {me.name!r}: actors "
                f"asking each other synchronously deadlock; let one of them answer by tell "
                f"(pass self.ref in the message) instead of asking")

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _WAITING.pop(self.me.key, None)


def no_answer(target: ActorRef, timeout: float | None) -> str:
    """Why an answer did not come in time, naming the cycle if one is in sight."""
    text = f"no answer from actor {target.name!r} within {timeout} s"
    me = _CURRENT.get()
    if me is not None:
        cycle = _cycle(me, target._key, target.name)
        if cycle:
            return f"{text}: {' -> '.join(map(repr, cycle))} wait for each other (a deadlock)"
        if me.asked_by(target.name):
            return (f"{text}: {me.name!r} -> {target.name!r} -> {me.name!r}: {target.name!r} "
                    f"waits for an answer from {me.name!r}, which cannot answer while it "
                    f"waits (a deadlock); let one of them answer by tell instead")
    return (f"{text}; it may be busy, or stopped, or waiting for an answer from an actor that "
            f"waits for this one; wait longer, or check it with repr(ref)")


class Answer(concurrent.futures.Future):  # type: ignore[type-arg]
    """The ``concurrent.futures.Future`` that ``ask`` returns, resolved with the answer.

    ``result(timeout)`` waits as ``Future.result`` does, but an actor that would wait for an
    actor that waits for it gets ``ActorDeadlockError`` at once; a wait that times out raises
    ``TimeoutError`` naming the actor (and the cycle, if one is in sight); waiting on the
    very loop the answering actor needs raises ``RuntimeError``.
    """

    def __init__(self, target: ActorRef) -> None:  # no super().__init__(): see the module
        self._lock = _allocate_lock()
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._waiters: list[Any] = []  # concurrent.futures.wait()'s
        self._done_callbacks: list[Any] = []
        self._sleepers: list[Any] = []  # locks of threads parked in result()
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name != "_condition":
            raise AttributeError(name)
        with _LAZY:  # stdlib code (wait, add_done_callback...) takes it: our lock, shared
            if "_condition" not in self.__dict__:
                self.__dict__["_condition"] = threading.Condition(self._lock)
        return self.__dict__["_condition"]

    def _wake(self) -> None:
        """Wake every waiter (the lock is held): parked threads, ``wait()``, the Condition."""
        for sleeper in self._sleepers:
            sleeper.release()
        self._sleepers.clear()
        condition = self.__dict__.get("_condition")
        if condition is not None:
            condition.notify_all()

    def set_running_or_notify_cancel(self) -> bool:
        """Mark the ask as being handled; False if its asker cancelled it first."""
        with self._lock:
            if self._state == PENDING:
                self._state = RUNNING
                return True
            if self._state == CANCELLED:
                self._state = CANCELLED_AND_NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
                return False
            raise RuntimeError(f"answer in unexpected state {self._state}")

    def _settle(self, ok: bool, value: Any) -> None:
        """Set the outcome (``set_result``/``set_exception``) and wake whoever waits."""
        with self._lock:
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED):
                raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")
            if ok:
                self._result = value
            else:
                self._exception = value
            self._state = FINISHED
            for waiter in self._waiters:
                (waiter.add_result if ok else waiter.add_exception)(self)
            self._wake()
        self._invoke_callbacks()

    def set_result(self, result: Any) -> None:
        self._settle(True, result)

    def set_exception(self, exception: BaseException | None) -> None:
        self._settle(False, exception)

    def cancel(self) -> bool:
        with self._lock:
            if self._state in (RUNNING, FINISHED):
                return False
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
                return True
            self._state = CANCELLED
            self._wake()
        self._invoke_callbacks()
        return True

    def done(self) -> bool:
        return self._state in (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)

    def _outcome(self) -> Any:
        """The answer, or raise what the actor raised (the state is final)."""
        if self._state != FINISHED:
            raise concurrent.futures.CancelledError()
        if self._exception is not None:
            raise self._exception
        return self._result

    def _wait(self, timeout: float | None) -> bool:
        """Park this thread until the answer comes or ``timeout`` passes; whether it came."""
        lock = self._lock
        lock.acquire()
        try:
            if self.done():
                return True
            sleeper = _allocate_lock()
            sleeper.acquire()
            self._sleepers.append(sleeper)
        finally:
            lock.release()
        if sleeper.acquire(True, -1 if timeout is None else timeout):
            return True
        with lock:  # timed out, unless woken between the timeout and now
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)
            return self.done()

    def result(self, timeout: float | None = None) -> Any:
        """The answer, waiting up to ``timeout`` seconds (None: as long as it takes).

        Raises:
            TimeoutError: if no answer came in time (the message says from whom, and why).
            ActorDeadlockError: if the waiting actor is part of a cycle of waits.
            ActorDeadError: if the actor stopped or died before answering.
            RuntimeError: if called on the event loop the asyncio actor runs on.
            Exception: whatever ``on_receive`` raised, re-raised here.
        """
        if self._state == FINISHED or self._state == CANCELLED_AND_NOTIFIED:
            return self._outcome()
        target = self._target
        if target._loop is not None and target._loop is _get_running_loop():
            raise RuntimeError(f"ask(...).result() would block the event loop that actor "
                               f"{target.name!r} runs on, so it could never answer; use "
                               f"`await ref.ask_async(message)` on this loop")
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"result(): timeout must be >= 0 seconds, not {timeout!r}")
        me = _CURRENT.get()
        if me is None:
            came = self._wait(timeout)
        else:
            with waiting_for(me, target, "ask(...).result()"):
                came = self._wait(timeout)
        if not came:
            raise TimeoutError(no_answer(target, timeout))
        return self._outcome()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self._wait(timeout):
            raise TimeoutError(no_answer(self._target, timeout))
        if self._state != FINISHED:
            raise concurrent.futures.CancelledError()
        return self._exception

    def __repr__(self) -> str:
        return f"<Answer from {self._target.name!r} state={self._state}>"
