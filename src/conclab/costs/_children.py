"""Every function a child process runs, and how the parent starts and stops those children.

Under *spawn* and *forkserver* a child imports its target by module name, so each body here
(``_child_serve``, ``_child_spin``) stays a module-level function of this module, and the
work it does is ``workloads.burn``: never a closure, a lambda or a notebook cell. A child says "ready"
before the parent times anything, and gives up on its own after ``_LIFETIME`` seconds of
silence, so a parent that dies cannot leave it behind for long.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from conclab import lifecycle
from conclab.workloads import burn

from ._plans import _LIFETIME, _TIMEOUT

__all__ = ["Child", "idle_child"]


# --------------------------------------------------------------------------- child bodies

def _child_serve(conn: Connection) -> None:
    """Child process body: say ready, then echo every message until None, EOF or silence."""
    try:
        conn.send("ready")
        while conn.poll(_LIFETIME):
            message = conn.recv()
            if message is None:
                break
            conn.send(message)
    except (EOFError, OSError):
        pass  # the parent went away: nothing left to serve
    finally:
        conn.close()


def _child_spin(conn: Connection, n: int) -> None:
    """Child process body for the GIL row: say ready, wait for "go", work, send result and CPU."""
    try:
        conn.send("ready")
        if conn.poll(_LIFETIME) and conn.recv() == "go":
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
