"""How messages reach an actor in another process, and how its answers come back.

1. A process actor's child listens on a Unix socket (``multiprocessing.connection.Listener``,
   family ``AF_UNIX``, in the spawner's private temporary folder) that checks the family's
   ``authkey`` before it reads a byte: a local process without the key cannot inject a
   pickle. Nothing listens on any network interface. Its ``Exchange`` turns the frames that
   arrive into envelopes in the actor's mailbox, one reader thread per connected process.
2. Any process that holds a ref to it keeps one ``Link``: a connection, a lock for writing
   frames, and a reader thread that routes each answer to the future waiting for it by
   number. When the connection ends (the actor stopped, or its process died), every pending
   answer fails with ``ActorDeadError``, and so does every later send.
3. A message is pickled by the sender, on its own, before it is framed: a message that cannot
   be pickled fails in the caller's thread and never reaches the actor. The child unpickles it
   in the actor's thread, as part of handling it.
4. A bounded mailbox is a ``Gate`` (``_gate``): a named pipe of tokens, one per free slot.

After a fork, the child drops the parent's links (their threads did not come along).
"""

from __future__ import annotations

import itertools
import os
import pickle
import socket
import threading
import traceback
import weakref
from multiprocessing import AuthenticationError, current_process
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from conclab.queues import ShutDown
from conclab.actors._base import ActorDeadError, settle

__all__ = ["TELL", "ASK", "STOP", "Link", "link_to", "existing_link", "Exchange", "RemoteReply",
           "dumps", "loads"]

TELL, ASK, STOP, ANSWER, DEAD = range(5)  # frame kinds
_PROTOCOL = pickle.HIGHEST_PROTOCOL
loads = pickle.loads


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` for the wire."""
    return pickle.dumps(obj, _PROTOCOL)


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in an actor's process, as text."""

    def __str__(self) -> str:
        return self.args[0]


def _shut(conn: Connection) -> None:
    """Wake a thread blocked reading ``conn`` (closing the fd alone does not, on Linux)."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
    except OSError:
        pass


class Link:
    """This process's connection to one process actor: frames out, answers back.

    Raises:
        ActorDeadError: if the actor's process cannot be reached (it has ended).
    """

    def __init__(self, address: str, name: str) -> None:
        self.address, self.name = address, name
        try:
            self.conn = Client(address, family="AF_UNIX", authkey=current_process().authkey)
        except (OSError, EOFError) as exc:
            raise ActorDeadError(f"actor {name!r} cannot be reached: its process has ended "
                                 f"({exc.__class__.__name__}); spawn a new one") from None
        self.lock = threading.Lock()
        self.pending: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self.refusing = ""  # once set: why no more frames may go out
        self.closed = threading.Event()
        self.reason_hook: Any = None  # the spawner's: waits for the exit code, says how it ended
        self._reader = threading.Thread(target=self._read, name=f"conclab link to {name}",
                                        daemon=True)
        self._reader.start()

    def dead(self, what: str = "takes no more messages") -> ActorDeadError:
        """The error for a message this actor will not handle."""
        return ActorDeadError(f"actor {self.name!r} {what}: {self.refusing}; spawn a new one "
                              f"to go on")

    def post(self, payload: bytes, asker: str | None, note: Any, reply: Any) -> None:
        """Send one told (``reply`` None) or asked message, already pickled."""
        if self.refusing:
            raise self.dead()
        if reply is None:
            frame: tuple[Any, ...] = (TELL, 0, payload, asker, note)
        else:
            ident = next(self._ids)
            self.pending[ident] = reply
            if self.refusing:  # died between the check and the entry: nobody would answer
                self.pending.pop(ident, None)
                raise self.dead()
            frame = (ASK, ident, payload, asker, note)
        data = dumps(frame)
        try:
            with self.lock:
                self.conn.send_bytes(data)
        except (OSError, ValueError):  # the connection is gone: its reader says why
            self.closed.wait(5.0)
            raise self.dead() from None

    def stop(self, immediate: bool) -> None:
        """Ask the actor to stop; from now on this process sends it nothing else."""
        if self.refusing:
            return
        try:
            with self.lock:
                self.conn.send_bytes(dumps((STOP, immediate)))
        except (OSError, ValueError):
            pass
        self.refusing = self.refusing or "it was stopped"

    def die(self, reason: str) -> None:
        """The actor is gone: fail every pending answer and every later send."""
        self.refusing = self.refusing or reason
        for ident in list(self.pending):
            reply = self.pending.pop(ident, None)
            if reply is not None:
                settle(reply, False, self.dead("ended before answering"))
        if threading.current_thread() is not self._reader:
            _shut(self.conn)

    def _read(self) -> None:
        """Route answers to their futures until the connection ends."""
        reason = ""
        try:
            while True:
                frame = loads(self.conn.recv_bytes())
                if frame[0] == ANSWER:
                    self._answer(*frame[1:])
                elif frame[0] == DEAD:
                    reason = frame[1]
                    break
        except (EOFError, OSError):
            pass
        if not reason:
            hook = self.reason_hook
            reason = hook() if hook is not None else ("its process ended (the connection to "
                                                     "it closed)")
        self.die(reason)
        self.conn.close()
        self.closed.set()

    def _answer(self, ident: int, ok: bool, payload: bytes, tb: str) -> None:
        """Settle the future waiting for answer ``ident``."""
        reply = self.pending.pop(ident, None)
        if reply is None:
            return
        try:
            value = loads(payload)
        except Exception as exc:
            ok, value = False, RuntimeError(
                f"the answer of actor {self.name!r} cannot be unpickled in this process: "
                f"{exc!r}; answer with plain data, or classes this process can import")
        if not ok and tb:
            value.__cause__ = _RemoteTraceback(f"\n\nin the process of actor {self.name!r}:"
                                               f"\n{tb}")
        try:
            settle(reply, ok, value)
        except Exception:  # the asker cancelled its future just now: nobody is waiting
            pass


_LINKS: dict[str, Link] = {}
_LINKS_LOCK = threading.Lock()


def link_to(address: str, name: str) -> Link:
    """This process's link to the actor at ``address`` (connecting on first use)."""
    link = _LINKS.get(address)
    if link is None:
        with _LINKS_LOCK:
            link = _LINKS.get(address)
            if link is None:
                link = _LINKS[address] = Link(address, name)
    return link


def existing_link(address: str) -> Link | None:
    """This process's link to ``address`` if it has one."""
    return _LINKS.get(address)


def _forked() -> None:
    """In a child started by fork: the parent's links, listener and their threads are not
    ours. Close our copies of their sockets (the parent's stay open): a copy left open here
    would hide the end of the parent's actor from whoever is connected to it."""
    global _LINKS_LOCK
    _LINKS_LOCK = threading.Lock()
    for link in _LINKS.values():
        link.conn.close()
    _LINKS.clear()
    for exchange in list(_EXCHANGES):
        exchange.forget()


os.register_at_fork(after_in_child=_forked)


class RemoteReply:
    """Where the answer to one remote ask goes: a connection, its write lock, the ask's number."""

    __slots__ = ("conn", "lock", "ident", "name")

    def __init__(self, conn: Connection, lock: threading.Lock, ident: int, name: str) -> None:
        self.conn, self.lock, self.ident, self.name = conn, lock, ident, name

    def settle(self, ok: bool, value: Any) -> None:
        """Send the outcome back, pickled; what cannot be pickled becomes a clear error."""
        tb = "" if ok else "".join(traceback.format_exception(value))
        try:
            payload = dumps(value)
        except Exception as exc:
            if ok:
                value = TypeError(f"the answer of actor {self.name!r} cannot be pickled to go "
                                  f"back to the asker's process ({exc}); answer with plain "
                                  f"data (numbers, strings, tuples, lists, dicts)")
            else:
                value = RuntimeError(f"{type(value).__name__}: {value} (raised in actor "
                                     f"{self.name!r}; the exception itself cannot be pickled: "
                                     f"{exc})")
            ok, payload = False, dumps(value)
        try:
            with self.lock:
                self.conn.send_bytes(dumps((ANSWER, self.ident, ok, payload, tb)))
        except (OSError, ValueError):
            pass  # the asker's process has ended: nobody is left to hear it


class Exchange:
    """An actor process's door: accepts authenticated connections, turns frames into envelopes.

    Args:
        address: the Unix socket's path (in the spawner's private temporary folder).
        cell: the actor's cell, whose mailbox the messages go to.
    """

    def __init__(self, address: str, cell: Any) -> None:
        self.cell = cell
        self.listener = Listener(address, family="AF_UNIX", authkey=current_process().authkey)
        self.peers: list[tuple[Connection, threading.Lock]] = []
        self.closing = False
        _EXCHANGES.add(self)
        threading.Thread(target=self._accept, name="conclab exchange", daemon=True).start()

    def _accept(self) -> None:
        """Accept connections (a caller without the authkey is refused) and serve each."""
        while not self.closing:
            try:
                conn = self.listener.accept()
            except (OSError, EOFError, AuthenticationError):  # closed, or refused: no authkey
                continue
            lock = threading.Lock()
            self.peers.append((conn, lock))
            threading.Thread(target=self._serve, args=(conn, lock), daemon=True,
                             name="conclab exchange reader").start()

    def _serve(self, conn: Connection, lock: threading.Lock) -> None:
        """Read one connected process's frames into the mailbox, in order."""
        cell, name = self.cell, self.cell.name
        try:
            while True:
                frame = loads(conn.recv_bytes())
                if frame[0] == STOP:
                    cell.stop(frame[1])
                    continue
                kind, ident, payload, asker, note = frame
                reply = None if kind == TELL else RemoteReply(conn, lock, ident, name)
                try:
                    cell.put((payload, reply, asker, note))
                except ShutDown:  # it stopped meanwhile: say so (a tell goes unheard)
                    if cell.taken is not None:
                        cell.taken()
                    if reply is not None:
                        reply.settle(False, cell.dead())
        except (EOFError, OSError):
            conn.close()

    def close(self, reason: str) -> None:
        """Tell every connected process that the actor is gone, and stop listening."""
        self.closing = True
        for conn, lock in list(self.peers):
            try:
                with lock:
                    conn.send_bytes(dumps((DEAD, reason)))
            except (OSError, ValueError):
                pass
        self.listener.close()

    def forget(self) -> None:
        """In a child forked from the actor's process: close the copies of its sockets."""
        self.closing = True
        os.close(self.listener._listener._socket.detach())  # no Listener.close(): it unlinks
        for conn, _ in self.peers:
            conn.close()


_EXCHANGES: weakref.WeakSet[Exchange] = weakref.WeakSet()
