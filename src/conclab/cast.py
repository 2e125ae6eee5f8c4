"""The actors chapter 06 runs, in a module a child process can import.

A process actor's class must be importable by its child: under spawn and forkserver the child
imports it by module and name, and a class defined in a notebook cell lives in ``__main__``,
which the child cannot import (chapter 01). So every class here can run on every backend of
``conclab.actors``; the chapter defines in its cells only actors that stay in the kernel.

1. ``Account`` owns a balance: the same class on a thread, in a process and on an event loop
   gives the same answers, and shows each failure rule once (a refused withdrawal).
2. ``Counter`` is chapter 02's racy counter (read, call, write) as an actor: no lock, no
   lost update, because only the actor touches its value.
3. ``Cruncher`` is CPU-bound work (``workloads.burn``), which belongs in a process.
4. ``Asker`` asks another actor and waits for the answer: two of them asking each other are
   the deadlock that actors still have.
5. ``Fragile`` doubles numbers, refuses anything else, and ends its process on ``"poison"``:
   the worker a supervisor restarts (the chapter's second exercise).

A request is a tuple whose first item names it (the counter's and ``Fragile``'s are single
values), made of plain data, so that it pickles for any backend. A request that does not fit
is refused with a ``ValueError`` that says what to send instead: an asker gets it and the
actor lives on; on a tell it stops the actor, as every failure on a tell does.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, NamedTuple

from conclab import workloads
from conclab.actors import Actor

__all__ = ["Where", "where", "Account", "Counter", "Cruncher", "Asker", "Fragile",
           "POISON_EXIT"]

POISON_EXIT = 70
"""The exit code of a ``Fragile`` actor's process after ``"poison"``."""


class Where(NamedTuple):
    """Where a hook ran: the process and the thread."""

    pid: int
    thread: str


def where() -> Where:
    """The caller's process id and thread name."""
    return Where(os.getpid(), threading.current_thread().name)


class Account(Actor):
    """A bank account that owns its balance; nobody else can read or change it.

    Messages: ``("deposit", amount)`` and ``("withdraw", amount)`` answer the new balance (a
    withdrawal beyond the balance raises ``ValueError`` and changes nothing),
    ``("balance",)`` answers the balance, ``("where",)`` a ``Where``.

    Args:
        balance: the opening balance.
        journal: a list that ``on_stop`` and ``on_failure`` append to, to show that they ran
            (thread and asyncio actors only: a process actor would append to its own copy).
    """

    def __init__(self, balance: int = 0, journal: list[str] | None = None) -> None:
        self.balance = balance
        self.journal = journal

    def on_receive(self, message: Any) -> Any:
        kind, *rest = _request(message, "an Account", _ACCOUNT)
        if kind == "deposit":
            self.balance += _amount(rest)
            return self.balance
        if kind == "withdraw":
            amount = _amount(rest)
            if amount > self.balance:
                raise ValueError(f"cannot withdraw {amount}: the balance is {self.balance}")
            self.balance -= amount
            return self.balance
        if kind == "balance":
            return self.balance
        if kind == "where":
            return where()
        raise ValueError(f"an Account does not understand {message!r}; send {_ACCOUNT}")

    def on_stop(self) -> None:
        if self.journal is not None:
            self.journal.append(f"on_stop: balance {self.balance}")

    def on_failure(self, exc: BaseException) -> None:
        if self.journal is not None:
            self.journal.append(f"on_failure: {exc!r}")


_ACCOUNT = '("deposit", amount), ("withdraw", amount), ("balance",) or ("where",)'
_CRUNCHER = '("crunch", key), ("results",) or ("where",)'


def _request(message: Any, who: str, requests: str) -> tuple[Any, ...]:
    """``message`` as a non-empty tuple, or a ``ValueError`` that lists what ``who`` takes."""
    if not (isinstance(message, tuple) and message):
        raise ValueError(f"{who} takes a tuple naming its request, not {message!r}; send "
                         f"{requests}")
    return message


def _amount(rest: list[Any]) -> int | float:
    """The one amount of a deposit or withdrawal: a number >= 0 (a negative one would turn
    a deposit into a withdrawal that nobody checked)."""
    amount = rest[0] if len(rest) == 1 else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount >= 0:
        raise ValueError(f"an amount must be one number >= 0, not {rest!r}; send, for "
                         f"example, (\"deposit\", 100)")
    return amount


def _note(value: int) -> None:
    """Stand in for any call between a read and a write (chapter 02's ``note``)."""


class Counter(Actor):
    """Chapter 02's racy counter as an actor: ``"increment"`` (tell it), ``"value"`` (ask it).

    The increment has the very shape that loses updates when threads share a counter: read,
    call something, write back. Here it cannot: only the actor's own thread runs it, one
    message at a time, so no other increment can come between the read and the write.
    """

    def __init__(self) -> None:
        self.value = 0

    def on_receive(self, message: Any) -> Any:
        if message == "increment":
            seen = self.value
            _note(seen)
            self.value = seen + 1
            return None
        if message == "value":
            return self.value
        raise ValueError(f"a Counter takes 'increment' and 'value', not {message!r}")


class Cruncher(Actor):
    """CPU-bound work, for a process actor: each ``("crunch", key)`` burns ``units``.

    It answers (and keeps) the checksum of each crunch; ``("results",)`` answers every kept
    checksum by key, in key order, and ``("where",)`` a ``Where``. The size is fixed at spawn,
    so that a message, and its label on a timeline, says only which piece of work it is.

    Args:
        units: the ``workloads.burn`` units of one crunch.
    """

    def __init__(self, units: int) -> None:
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise ValueError(f"units must be an int >= 0, not {units!r}; size a crunch with "
                             f"workloads.units_for(seconds)")
        self.units = units
        self.results: dict[Any, int] = {}

    def on_receive(self, message: Any) -> Any:
        kind, *rest = _request(message, "a Cruncher", _CRUNCHER)
        if kind == "crunch" and len(rest) == 1:
            self.results[rest[0]] = workloads.burn(self.units)
            return self.results[rest[0]]
        if kind == "results":
            return dict(sorted(self.results.items()))
        if kind == "where":
            return where()
        raise ValueError(f"a Cruncher does not understand {message!r}; send {_CRUNCHER}")


class Asker(Actor):
    """Asks another actor on request, and waits for its answer.

    ``("ask", other, question, timeout)`` asks ``other`` (a ref) ``question`` and answers with
    its answer, waiting at most ``timeout`` seconds; any other message is answered with
    ``"<name> is here"``. Two Askers asking each other, each waiting for the other, deadlock.
    It waits with ``result()``, so it belongs on a thread or in a process: on an event loop
    that wait is refused (``RuntimeError``), since the loop is what must answer; an asyncio
    actor awaits ``ask_async`` instead.
    """

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message and message[0] == "ask":
            if len(message) != 4:
                raise ValueError(f"an Asker's request is (\"ask\", ref, question, timeout), "
                                 f"not {message!r}")
            _, other, question, timeout = message
            return other.ask(question).result(timeout)
        return f"{self.ref.name} is here"


class Fragile(Actor):
    """Doubles numbers, raises ``ValueError`` for anything else, and dies on ``"poison"``.

    ``"poison"`` ends the actor's *process* at once (exit code ``POISON_EXIT``), as a crash
    would: only in a child process; on a thread or an event loop it raises ``RuntimeError``
    rather than end the program that runs it.
    """

    def on_receive(self, message: Any) -> Any:
        if message == "poison":
            if multiprocessing.parent_process() is None:
                raise RuntimeError("poison ends a process actor's process; this actor runs in "
                                   "the main process, which it will not end: spawn it with "
                                   "backend='process'")
            os._exit(POISON_EXIT)
        if isinstance(message, bool) or not isinstance(message, (int, float)):
            raise ValueError(f"cannot double {message!r}; send a number (or \"poison\" to "
                             f"end a process actor's process)")
        return 2 * message
