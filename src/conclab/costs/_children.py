"""Every function a child process runs, and how the parent starts and stops those children.

Under *spawn* and *forkserver* a child imports its target by module name, so each body here
(``_child_serve``, ``_child_spin``, ``_child_hello``) stays a module-level function of this
module, and the work it does is ``workloads.burn``: never a closure, a lambda or a notebook
cell. A child says "ready" before the parent times anything, and gives up on its own after
``_LIFETIME`` seconds of silence, so a parent that dies cannot leave it behind for long.

The byte ping-pong (``_echo_bytes`` and ``_byte_pingpong``) is the one hand-over that threads
and processes share: one byte each way through an OS pipe, the same code on both sides,
whether the far side is a thread of this process or a child.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from conclab import lifecycle
from conclab.workloads import burn

from ._plans import _LIFETIME, _TIMEOUT

__all__ = ["Child", "idle_child"]

_STOP = b"\x00"              # ends a byte echo (EOF cannot: a forked child holds our copies)
_COLLECT = "conclab:collect"  # asks a serving child for a full garbage collection
_POSIX = sys.platform != "win32"  # there a pipe end is a file descriptor that select() takes


# --------------------------------------------------------------------------- the byte channel

def _read_byte(end: Connection, timeout: float) -> bytes:
    """One byte from a pipe end (b"" at EOF), waiting at most ``timeout`` seconds for it."""
    if _POSIX:
        fd = end.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError(f"no byte came through the pipe in {timeout} s")
        return os.read(fd, 1)
    if not end.poll(timeout):  # Windows: a named pipe, read through its Connection
        raise TimeoutError(f"no byte came through the pipe in {timeout} s")
    return end.recv_bytes()


def _write_byte(end: Connection, byte: bytes) -> None:
    """Write one byte to a pipe end."""
    if _POSIX:
        os.write(end.fileno(), byte)
    else:
        end.send_bytes(byte)


def _echo_bytes(inbox: Connection, outbox: Connection) -> None:
    """The far side of a byte ping-pong: send back every byte until ``_STOP``, EOF or silence."""
    with contextlib.suppress(TimeoutError, OSError):
        while (byte := _read_byte(inbox, _LIFETIME)) not in (b"", _STOP):
            _write_byte(outbox, byte)


def _byte_pingpong(outbox: Connection, inbox: Connection, rounds: int) -> float:
    """One hand-over through a pipe: ``rounds`` one-byte round trips to an echo, halved."""
    start = time.perf_counter()
    for _ in range(rounds):
        _write_byte(outbox, b"x")
        _read_byte(inbox, _TIMEOUT)
    return (time.perf_counter() - start) / rounds / 2


# --------------------------------------------------------------------------- child bodies

def _child_serve(conn: Connection, inbox: Connection | None = None,
                 outbox: Connection | None = None) -> None:
    """Child process body: ready; echo bytes (given pipes) until stopped; echo messages until None."""
    try:
        conn.send("ready")
        if inbox is not None and outbox is not None:
            _echo_bytes(inbox, outbox)
            inbox.close()
            outbox.close()
        while conn.poll(_LIFETIME):
            message = conn.recv()
            if message is None:
                break
            if message == _COLLECT:
                gc.collect()
            conn.send(message)
    except (EOFError, OSError):
        pass  # the parent went away: nothing left to serve
    finally:
        conn.close()


def _child_hello(conn: Connection) -> None:
    """Child process body that only says "ready": importing it imports ``conclab.costs``."""
    conn.send("ready")
    conn.close()


def _child_spin(conn: Connection) -> None:
    """Child process body for the GIL row: ready; for each ``n`` sent, burn it, send result, CPU."""
    try:
        conn.send("ready")
        while conn.poll(_LIFETIME) and (n := conn.recv()) is not None:
            cpu = time.process_time()
            result = burn(n)
            conn.send((result, time.process_time() - cpu))
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


# --------------------------------------------------------------------------- the parent's side

@dataclass
class Child:
    """A started child process, the parent's end of its pipe, and how long it took to start.

    The child runs ``_child_serve``: it echoes back whatever ``conn.send()`` sends it.
    """

    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    started_in: float

    def collect(self, timeout: float = _TIMEOUT) -> None:
        """Make the child run a full garbage collection (``gc.collect()``), and wait for it.

        The collector writes to the header of every object it tracks. In a forked child most
        of those objects still sit on pages shared with the parent, so each page it writes
        becomes the child's own copy (copy-on-write): the child's USS grows.

        Raises:
            TimeoutError: if the child did not answer within ``timeout`` seconds.
        """
        self.conn.send(_COLLECT)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"the child did not finish collecting in {timeout} s")
        self.conn.recv()


def _start_child(ctx: Any, target: Callable[..., None] = _child_serve, *args: Any) -> Child:
    """Start one child, wait until it says it is ready, and return it."""
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, *args), daemon=True,
                          name="conclab-costs-child")
    start = time.perf_counter()
    try:
        process.start()
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()  # the child holds its own copy now; ours would hide the child's exit
    started = Child(process, parent, 0.0)
    try:
        if not parent.poll(_TIMEOUT):
            raise TimeoutError(f"a {ctx.get_start_method()} child did not start in {_TIMEOUT} s")
        if parent.recv() != "ready":
            raise RuntimeError("a child process sent something other than 'ready'")
    except EOFError:
        process.join(_TIMEOUT)
        code = process.exitcode  # read it now: stopping the child closes the process object
        _stop_children([started])
        # Seen when the parent's main script starts processes without the __main__ guard:
        # under spawn and forkserver the child re-runs that script and dies before "ready".
        raise RuntimeError(
            f"a {ctx.get_start_method()} child exited before it was ready (exit code {code}). "
            "If this runs from a script, put the code that measures under "
            "'if __name__ == \"__main__\":': a spawn or forkserver child imports the main "
            "script again, and without the guard it starts measuring (and dies) itself."
        ) from None
    except BaseException:
        _stop_children([started])
        raise
    started.started_in = time.perf_counter() - start
    return started


def _stop_children(children: Sequence[Child]) -> None:
    """Ask every child to exit, then join it; terminate, then kill, any that will not."""
    for child in children:
        try:
            child.conn.send(None)
        except OSError:
            pass  # already gone
    lifecycle.stop_processes([c.process for c in children], grace=5.0)
    for child in children:
        child.conn.close()
        if child.process.exitcode is not None:
            child.process.close()  # frees its sentinel now: a long sweep would run out of fds


@contextlib.contextmanager
def idle_child(start_method: str | None = None) -> Iterator[Child]:
    """Start one idle child process that echoes messages, for measuring it; stop it on exit.

    Args:
        start_method: "fork", "spawn" or "forkserver" (default: the platform's default).

    Yields:
        A ``Child``, already running (it has said "ready"): ``child.process.pid`` for psutil,
        ``child.conn`` for a ping-pong, ``child.started_in`` for its start time in seconds.
    """
    child = _start_child(lifecycle.get_context(start_method))
    try:
        yield child
    finally:
        _stop_children([child])
