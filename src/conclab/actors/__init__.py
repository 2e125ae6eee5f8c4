"""Actors: objects that own their state and only receive messages, on a thread, process or loop.

Subclass ``Actor``, override ``on_receive``, and ``spawn`` it on the backend that suits its
work: ``"thread"`` (blocking I/O), ``"process"`` (CPU-bound work, true parallelism) or
``"asyncio"`` (many I/O-bound actors, one loop). The ``ActorRef`` you get back is the same on
every backend: ``tell`` sends, ``ask`` returns a ``concurrent.futures.Future``, ``await
ask_async`` answers on any event loop. The design, in a few sentences:

1. An actor is a *cell*: its instance, a mailbox and a loop that takes one message at a time
   and runs the hooks. One cell class serves every backend (a thread, a task, the main thread
   of a child process), so the rules below cannot differ between them.
2. The mailbox is a ``conclab.queues.BridgeQueue``: any thread puts into it, and the actor
   takes from it in its thread or awaits it as a task; its 3.13-style shutdown is how an actor
   stops (puts fail at once, gets drain what is left).
3. An answer goes to whatever waits for it: a ``concurrent.futures.Future`` for ``ask``, a
   future of the caller's own loop for ``ask_async`` (set directly on that loop, or through
   ``call_soon_threadsafe``), or a connection back to the asker's process.
4. A process actor's child listens on a Unix socket that checks multiprocessing's ``authkey``;
   its ref is just that address, so it pickles into any process of the family, at spawn and
   inside messages. A named pipe of tokens bounds its mailbox for every sender at once.
5. The asyncio backend runs on ``SHARED_LOOP``, a ``lifecycle.BackgroundLoop`` (one per
   process, running while any asyncio actor lives), unless ``spawn`` is given a running loop:
   so ``ask(...).result()`` from a notebook cell never blocks the loop its actor needs.

Semantics, the same on every backend (the tests check each once per backend):

- FIFO: messages from one sender are handled in the order sent, one at a time (an ``async
  def on_receive`` finishes before the next message starts).
- ``__init__`` and ``on_start`` run where the actor lives, before any message; ``spawn``
  waits for them and raises ``ActorStartError`` if they raise.
- An exception raised while answering an ``ask`` goes to the asker's future; the actor lives on.
- An exception raised while handling a ``tell`` calls ``on_failure(exc)`` (instead of
  ``on_stop``) and stops the actor; the asks waiting in its mailbox fail with ``ActorDeadError``.
- After ``stop()``, ``tell`` and ``ask`` raise ``ActorDeadError``; ``stop()`` lets the actor
  handle what is already in its mailbox, ``stop(immediate=True)`` fails the asks left instead:
  nothing is dropped silently. (A tell from *another* process that crosses the stop on its way
  is the one exception: its sender learns of the stop only from its next send.)
- ``tell(block=False)`` on a full mailbox raises ``queue.Full`` at once; ``timeout`` bounds the
  wait for room (``tell`` and ``ask``); the answer is waited for with ``result(timeout)``.
- A message that cannot be pickled for a process actor raises ``TypeError`` in the sender,
  saying so and what to send instead; the actor never sees it. So does an answer that cannot
  be pickled, at the asker's future; the actor lives on.
- If a process actor's process dies (killed, crashed), its pending and later asks fail with
  ``ActorDeadError`` saying how it ended, as soon as the spawner sees the process go.
- Two actors asking each other synchronously would wait for ever: within one process the
  second wait raises ``ActorDeadlockError`` at once, naming the cycle; across processes the
  wait ends at its timeout with a ``TimeoutError`` that names the cycle when the other actor's
  ask is in sight.
- With an ``observer``, every message gives a "send" event (when told or asked) and a
  "receive" event (when the actor takes it) with the same sender, receiver and label, and a
  "run" span while ``on_receive`` runs; an ``async def on_receive`` gives a "run" span per
  step and a "wait" span for each ``await`` between them, so an actor that waits for I/O does
  not look busy. Without an observer, nothing is reported and nothing is paid.

Roads not taken: Pykka's proxies (attribute access as messages hides where the waiting is);
one thread per actor for asyncio actors too (it would cost a thread each, which is what the
asyncio backend is for); a broker process routing all messages (a hop more, and one more
process to stop); TCP sockets (they would listen beyond this user).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

from conclab.hooks import Observer, observing
from conclab.queues._common import check_maxsize
from conclab.actors._answer import ActorDeadlockError, Answer
from conclab.actors._base import Actor, ActorDeadError, ActorRef, ActorStartError, check_timeout
from conclab.actors._local import SHARED_LOOP, spawn_asyncio, spawn_thread
from conclab.actors._process import spawn_process

__all__ = ["Actor", "ActorRef", "Answer", "spawn", "BACKENDS", "ActorDeadError",
           "ActorDeadlockError", "ActorStartError", "SHARED_LOOP"]

BACKENDS = ("thread", "process", "asyncio")
_numbers = itertools.count(1)


def spawn(cls: type[Actor], *, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None,
          backend: str = "thread", maxsize: int = 0, name: str | None = None,
          observer: Observer | None = None, loop: asyncio.AbstractEventLoop | None = None,
          method: str | None = None, timeout: float = 30.0) -> ActorRef:
    """Start an actor of class ``cls`` on ``backend``; return its ref once ``on_start`` returned.

    The constructor's arguments go in ``args`` and ``kwargs`` (as ``threading.Thread`` takes
    them), so they never collide with ``spawn``'s own options: an actor whose ``__init__``
    takes ``name`` gets ``kwargs={"name": ...}``.

    Args:
        cls: a subclass of ``Actor`` (for ``"process"``: defined at module level of a module
            the child can import, not in a notebook cell or ``__main__``).
        args: positional arguments for ``cls(...)`` (picklable, for ``"process"``).
        kwargs: keyword arguments for ``cls(...)``.
        backend: ``"thread"``, ``"process"`` or ``"asyncio"``.
        maxsize: the mailbox's bound (0 or less: none); a send waits while it is full.
        name: the actor's name on timelines and in errors (default: class name and a number).
        observer: a ``conclab.hooks.Observer`` for send and receive events and run spans.
        loop: asyncio only: a running loop to live on (default: ``SHARED_LOOP``).
        method: process only: the start method (default: ``lifecycle.default_start_method()``).
        timeout: seconds to wait for ``__init__`` and ``on_start`` (and a child process).

    Raises:
        ActorStartError: if ``__init__`` or ``on_start`` raised (the cause is attached), or a
            process actor's child died before it started.
        TimeoutError: if the actor did not start within ``timeout`` seconds.
        TypeError, ValueError: for bad arguments, saying which and what to pass.
    """
    _check(cls, args, kwargs, backend, name, loop, method, timeout)
    maxsize = check_maxsize(maxsize)
    name = name if name is not None else f"{cls.__name__}-{next(_numbers)}"
    kw = dict(kwargs or {})
    watcher = observer if observing(observer) else None
    if backend == "thread":
        return spawn_thread(cls, tuple(args), kw, name, maxsize, watcher, timeout)
    if backend == "asyncio":
        return spawn_asyncio(cls, tuple(args), kw, name, maxsize, watcher, loop, timeout)
    return spawn_process(cls, tuple(args), kw, name, maxsize, watcher, method, timeout)


def _check(cls: Any, args: Any, kwargs: Any, backend: Any, name: Any, loop: Any, method: Any,
           timeout: Any) -> None:
    """Refuse bad arguments to ``spawn``, saying what was wrong and what to pass."""
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        what = (f"an instance of {type(cls).__name__}" if not isinstance(cls, type)
                else f"class {cls.__qualname__}")
        raise TypeError(f"spawn() needs a subclass of conclab.actors.Actor, not {what}; "
                        f"define `class MyActor(Actor)` with on_receive, and pass the class "
                        f"itself (its arguments go in args= and kwargs=)")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args must be a tuple of constructor arguments, not "
                        f"{type(args).__name__} {args!r}; for one argument write args=(x,)")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a dict of keyword arguments, not "
                        f"{type(kwargs).__name__}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__} {name!r}")
    if loop is not None and backend != "asyncio":
        raise TypeError(f"loop= is for backend='asyncio' only, not {backend!r}")
    if loop is not None and (not isinstance(loop, asyncio.AbstractEventLoop)
                             or not loop.is_running()):
        raise ValueError(f"loop= must be a running event loop (for example "
                         f"asyncio.get_running_loop() inside a coroutine), not {loop!r}")
    if method is not None and backend != "process":
        raise TypeError(f"method= (a start method) is for backend='process' only, not "
                        f"{backend!r}")
    check_timeout(timeout, "spawn()")
