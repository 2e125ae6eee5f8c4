"""Actor classes for tests/test_actors.py, in a module of their own.

Process actors are imported by their child: under spawn and forkserver it imports this module
(pytest puts tests/ on sys.path, and multiprocessing hands sys.path to the child), so it
imports nothing but the package and the standard library, and stays quick to import.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from conclab.actors import Actor, ActorRef

T = 20.0  # seconds: the bound on every wait inside an actor


class Probe(Actor):
    """Does what each message says, and writes each hook it runs in ``journal``.

    Messages are tuples: ``("echo", x)`` answers x (and remembers it), ``("seen",)`` answers
    what was remembered and forgets it, ``("raise", text)`` raises ``ValueError(text)``,
    ``("wait",)`` waits for ``gate``, ``("relay", ref, msg, timeout)`` asks ``ref`` and answers
    its answer, ``("peer", msg)`` asks the peer given at spawn or by ``("set-peer", ref)``,
    ``("self",)`` and ``("peer-ref",)`` answer refs, ``("lambda",)`` answers something that
    cannot be pickled, ``("exit", code)`` ends the process at once.
    """

    def __init__(self, journal: Any = None, gate: Any = None, peer: ActorRef | None = None,
                 fail: str = "") -> None:
        self.journal, self.gate, self.peer, self.fail = journal, gate, peer, fail
        self.seen: list[Any] = []
        if fail == "init":
            raise ValueError("refused in __init__")

    def _write(self, *record: Any) -> None:
        if self.journal is not None:
            self.journal.put(record)

    def on_start(self) -> None:
        if self.fail == "start":
            raise ValueError("refused in on_start")
        self._write("start")

    def on_receive(self, message: Any) -> Any:
        kind, *rest = message
        self._write("receive", kind)
        if kind == "echo":
            self.seen.append(rest[0])
            return rest[0]
        if kind == "seen":
            seen, self.seen = self.seen, []
            return seen
        if kind == "raise":
            raise ValueError(rest[0])
        if kind == "wait":
            return self.gate.wait(T)
        if kind == "relay":
            ref, inner, timeout = rest
            return ref.ask(inner).result(timeout)
        if kind == "peer":
            return self.peer.ask(rest[0]).result(T)
        if kind == "set-peer":
            self.peer = rest[0]
            return None
        if kind == "self":
            return self.ref
        if kind == "peer-ref":
            return self.peer
        if kind == "lambda":
            return lambda: None
        if kind == "exit":
            os._exit(rest[0])
        raise ValueError(f"Probe does not know {message!r}")

    def on_stop(self) -> None:
        self._write("stop")

    def on_failure(self, exc: BaseException) -> None:
        self._write("failure", repr(exc))


class AsyncProbe(Probe):
    """A Probe whose ``on_receive`` is a coroutine that yields to its loop while it works.

    It keeps a trail of ("enter", x) and ("leave", x) around each ``("echo", x)``, with
    awaits in between, so that two messages handled at once would interleave in it.
    ``("relay", ref, msg, timeout)`` awaits ``ref.ask_async(msg)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trail: list[tuple[str, Any]] = []

    async def on_receive(self, message: Any) -> Any:
        kind, *rest = message
        if kind == "echo":
            self.trail.append(("enter", rest[0]))
            for _ in range(3):
                await asyncio.sleep(0)
            self.trail.append(("leave", rest[0]))
            return rest[0] * 2
        if kind == "trail":
            trail, self.trail = self.trail, []
            return trail
        if kind == "relay":
            ref, inner, _ = rest
            self._write("receive", kind)
            return await ref.ask_async(inner)
        return super().on_receive(message)


class Silent(Actor):
    """An actor that forgot to define on_receive."""
