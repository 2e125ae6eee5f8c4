"""Process actors: a cell in a child process of its own, reached through ``_wire``.

The spawner starts a child (through ``lifecycle.get_context``: every start method), which
opens its ``Exchange``, constructs the actor, runs ``on_start`` and says "ready" on a control
pipe; then its main thread serves the mailbox. The control pipe stays open for the actor's
life: the child forwards its observer reports on it, the spawner's watcher thread learns from
its end (and the exit code) that the process ended, however it ended, and the child learns
from the other end that its spawner died, and stops. A ``ProcessRef`` is only an address, a
name and the gate's path: it pickles anywhere in the family of processes, and the ref that
``spawn`` returned also holds the child process and its watcher.

At ~350 lines it is over the package's ~300: the spawner's side and the child's side are
the two halves of one start-up and shut-down handshake, and read best side by side.
"""

from __future__ import annotations

import atexit
import os
import queue
import reprlib
import signal
import sys
import threading
import traceback
import weakref
from multiprocessing.connection import Connection, arbitrary_address
from typing import Any

from conclab import lifecycle
from conclab.hooks import Observer, clock
from conclab.queues._common import worker_name
from conclab.actors._answer import current
from conclab.actors._base import Actor, ActorDeadError, ActorRef, ActorStartError, Envelope
from conclab.actors._cell import Cell
from conclab.actors._gate import Gate
from conclab.actors._wire import Exchange, dumps, existing_link, link_to, loads

__all__ = ["ProcessRef", "spawn_process"]

_HOMES: weakref.WeakValueDictionary[str, ProcessRef] = weakref.WeakValueDictionary()
_LIVE: set[_Home] = set()  # the children this process spawned that have not ended yet


def _pickled(message: Any, name: str) -> bytes:
    """``message`` pickled, or a ``TypeError`` that says why and what to send instead."""
    try:
        return dumps(message)
    except Exception as exc:
        raise TypeError(f"cannot send {reprlib.repr(message)} to process actor {name!r}: "
                        f"pickling it failed ({exc}); a message to another process must be "
                        f"picklable: send plain data (numbers, strings, tuples, lists, dicts) "
                        f"or instances of classes defined at module level, not lambdas, "
                        f"locks, open files or refs of thread and asyncio actors") from exc


class _Home:
    """What only the spawner has: the child process, its control pipe, and how it ended."""

    def __init__(self, process: Any, ctrl: Connection, observer: Observer | None,
                 gate: Gate | None, address: str) -> None:
        self.process, self.ctrl, self.observer, self.gate = process, ctrl, observer, gate
        self.address = address
        self.gates: list[Gate | None] = []  # the home ref's own: closed at the end too
        self.ended = threading.Event()
        self.how = ""

    def watch(self) -> None:
        """The watcher thread: forward the child's reports; at its end, say how it ended."""
        try:
            while True:
                kind, args = self.ctrl.recv()
                if self.observer is not None:
                    getattr(self.observer, kind)(*args)
        except (EOFError, OSError):
            pass
        self.process.join(5.0)  # the pipe closes as the process exits: reap it
        code = self.process.exitcode
        if code is None:
            self.how = "its process stopped talking to us"
        elif code < 0:
            self.how = (f"its process {self.process.pid} was killed by "
                        f"{signal.Signals(-code).name}")
        elif code:
            self.how = f"its process {self.process.pid} exited with code {code}"
        else:
            self.how = "it has stopped"
        link = existing_link(self.address)
        if link is not None:
            link.die(self.how)
        if self.gate is not None:
            self.gate.open_wide()
        for gate in (self.gate, *self.gates):
            if gate is not None:  # the actor is gone: this process's descriptors go with it
                gate.close()
        self.ctrl.close()
        _LIVE.discard(self)
        self.ended.set()

    def reason(self) -> str:
        """For the link's reader at the end of its connection: how the process ended."""
        self.ended.wait(5.0)
        return self.how or "its process ended"


class ProcessRef(ActorRef):
    """The ref of a process actor; it pickles, so it can be passed to any process of the family.

    The ref ``spawn`` returned (its *home*) also owns the child process: it alone can tell
    how the process ended. A ref unpickled in the spawner is that same object.
    """

    backend = "process"

    def __init__(self, name: str, address: str, gate_path: str | None, observed: bool) -> None:
        self.name, self.address, self._observed = name, address, observed
        self._gate = Gate(gate_path) if gate_path else None
        self._key = address
        self._home: _Home | None = None

    def _note(self, message: Any) -> tuple[str, str] | None:
        observer = self._observer
        if observer is None:  # a ref in another process: report through the sending actor
            me = current()
            observer = getattr(me, "observer", None)
        if observer is None and not self._observed:
            return None
        sender, label = worker_name(), reprlib.repr(message)
        if observer is not None:
            observer.event("send", clock(), sender, self.name, label)
        return sender, label

    def _link(self) -> Any:
        return link_to(self.address, self.name)

    def _post(self, envelope: Envelope, block: bool, timeout: float | None) -> None:
        message, reply, asker, note = envelope
        payload = _pickled(message, self.name)
        link = self._link()
        if self._gate is not None:
            def dead() -> None:
                if link.refusing:
                    raise link.dead()
            if not self._gate.acquire(block, timeout, dead):
                raise queue.Full
        link.post(payload, asker, note, reply)

    def _try_post(self, envelope: Envelope) -> bool:
        message, reply, asker, note = envelope
        payload = _pickled(message, self.name)
        link = self._link()
        if self._gate is not None and not self._gate.acquire(False, None):
            return False
        link.post(payload, asker, note, reply)
        return True

    async def _post_async(self, envelope: Envelope) -> None:
        message, reply, asker, note = envelope
        payload = _pickled(message, self.name)
        link = self._link()
        if self._gate is not None:
            await self._gate.acquire_async()
        link.post(payload, asker, note, reply)

    def _stop(self, immediate: bool) -> None:
        try:
            self._link().stop(immediate)
        except ActorDeadError:
            pass  # already gone

    def _join(self, timeout: float | None) -> bool:
        if self._home is not None:
            return self._home.ended.wait(timeout)
        try:
            link = self._link()
        except ActorDeadError:
            return True
        return link.closed.wait(timeout)

    async def _join_async(self) -> None:
        import asyncio

        while not self._join(0):  # no loop-friendly event to await: poll, gently
            await asyncio.sleep(0.01)

    def _is_alive(self) -> bool:
        if self._home is not None:
            return not self._home.ended.is_set()
        try:
            return not self._link().refusing
        except ActorDeadError:
            return False

    def __reduce__(self) -> Any:
        return _rebuild, (self.name, self.address, self._gate and self._gate.path,
                          self._observed)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProcessRef) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        if self._home is not None:
            state = "stopped" if self._home.ended.is_set() else "running"
            return (f"<ActorRef {self.name!r} process pid={self._home.process.pid} {state}"
                    f"{': ' + self._home.how if self._home.how else ''}>")
        link = existing_link(self.address)
        state = "not connected" if link is None else (link.refusing or "connected")
        return f"<ActorRef {self.name!r} process (a copy in pid {os.getpid()}) {state}>"


def _rebuild(name: str, address: str, gate_path: str | None, observed: bool) -> ProcessRef:
    """Unpickle a ref: the spawner gets its own home ref back, others a new one."""
    home = _HOMES.get(address)
    return home if home is not None else ProcessRef(name, address, gate_path, observed)


class _Forward:
    """The child's observer: reports go to the spawner, over the control pipe."""

    def __init__(self, ctrl: Connection) -> None:
        self.ctrl, self.lock = ctrl, threading.Lock()

    def span(self, *args: Any) -> None:
        self._send("span", args)

    def event(self, *args: Any) -> None:
        self._send("event", args)

    def _send(self, kind: str, args: tuple[Any, ...]) -> None:
        try:
            with self.lock:
                self.ctrl.send((kind, args))
        except (OSError, ValueError):
            pass


def _watch_spawner(ctrl: Connection, cell: Cell) -> None:
    """In the child: when the spawner's end of the pipe closes (it died), stop the actor."""
    try:
        while True:
            ctrl.recv()
    except (EOFError, OSError):
        cell.stop(True, reason="the process that spawned it ended")


def _child_main(cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any], name: str,
                address: str, gate_path: str | None, ctrl: Connection, observed: bool) -> None:
    """A process actor's whole life, in the main thread of its child process.

    Everything up to ``on_start`` is inside the ``try``: whatever fails there reaches the
    spawner as "failed" with its traceback, not as a bare exit code.
    """
    exchange = None
    try:
        cell = Cell(name, 0, _Forward(ctrl) if observed else None)  # unbounded: the gate bounds
        cell.key, cell.decode = address, loads
        if gate_path:
            cell.taken = Gate(gate_path).release
        exchange = Exchange(address, cell)
        cell.start_sync(cls, args, kwargs, ProcessRef(name, address, gate_path, observed))
    except BaseException as exc:
        text = "".join(traceback.format_exception(exc))
        try:
            ctrl.send(("failed", dumps(exc), text))
        except Exception:
            ctrl.send(("failed", dumps(RuntimeError(repr(exc))), text))
        if exchange is not None:
            exchange.close(cell.reason)
        sys.exit(1)
    ctrl.send(("ready", None, ""))
    threading.Thread(target=_watch_spawner, args=(ctrl, cell), daemon=True,
                     name="conclab spawner watch").start()
    cell.serve_sync()
    exchange.close(cell.reason or "it has stopped")


def _await_ready(process: Any, ctrl: Connection, name: str, cls: type[Actor],
                 timeout: float) -> None:
    """Wait for the child's "ready"; raise what went wrong, clearly."""
    if not ctrl.poll(timeout):
        lifecycle.stop_processes([process], grace=0.5)
        raise TimeoutError(f"process actor {name!r} ({cls.__qualname__}) did not start within "
                           f"{timeout} s (its process was stopped); pass a longer timeout= "
                           f"to spawn, or move slow work out of __init__ and on_start")
    try:
        kind, error, text = ctrl.recv()
    except (EOFError, OSError):
        process.join(5.0)
        raise ActorStartError(
            f"the process of actor {name!r} ended (exit code {process.exitcode}) before the "
            f"actor started; under spawn and forkserver the child imports "
            f"{cls.__module__}.{cls.__qualname__}: define the class at module level in an "
            f"importable module (not in __main__ or a notebook cell)") from None
    if kind == "failed":
        process.join(5.0)
        exc = loads(error)
        raise ActorStartError(f"actor {name!r} ({cls.__qualname__}) failed to start in its "
                              f"process: {exc!r} in __init__ or on_start\n{text}") from exc


def spawn_process(cls: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any], name: str,
                  maxsize: int, observer: Observer | None, method: str | None,
                  timeout: float) -> ProcessRef:
    """Start a process actor; return once its ``on_start`` has returned in the child."""
    ctx = lifecycle.get_context(method)
    address = arbitrary_address("AF_UNIX")  # a fresh path in this process's private temp dir
    gate = Gate.create(maxsize) if maxsize > 0 else None
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=_child_main, name=f"actor {name}",
                          args=(cls, args, kwargs, name, address, gate and gate.path, theirs,
                                observer is not None))
    try:
        process.start()
    except Exception as exc:
        ours.close()
        raise TypeError(f"cannot start process actor {name!r}: {cls.__qualname__} or its "
                        f"constructor arguments cannot be pickled for a {ctx.get_start_method()}"
                        f" child ({exc}); define the class at module level of an importable "
                        f"module and pass plain data as args") from exc
    finally:
        theirs.close()
    try:
        _await_ready(process, ours, name, cls, timeout)
    except BaseException:
        ours.close()
        raise
    ref = ProcessRef(name, address, gate and gate.path, observer is not None)
    ref._observer = observer
    home = ref._home = _Home(process, ours, observer, gate, address)
    home.gates.append(ref._gate)
    _HOMES[address] = ref
    _LIVE.add(home)
    threading.Thread(target=home.watch, daemon=True,
                     name=f"conclab watch {name}").start()
    try:
        ref._link().reason_hook = home.reason
    except ActorDeadError:  # it stopped already (on_start stopped it): the watcher will see
        pass
    return ref


def _forked() -> None:
    """In a child started by fork: the parent's children are not ours. Close our copies of
    their control pipes, or a sibling would never see its spawner's end close."""
    _HOMES.clear()
    for home in _LIVE:
        home.ctrl.close()
    _LIVE.clear()


def _stop_all_at_exit() -> None:
    """At interpreter exit: stop the process actors this process spawned, and reap them."""
    homes = list(_LIVE)
    for home in homes:
        link = existing_link(home.address)
        if link is not None:
            link.stop(True)
    lifecycle.stop_processes([home.process for home in homes], grace=2.0)


os.register_at_fork(after_in_child=_forked)
atexit.register(_stop_all_at_exit)  # runs before multiprocessing's own (atexit is LIFO)
