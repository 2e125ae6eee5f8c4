"""The process row, one per start method, and what a child's start is made of.

Processes are the slow rows (a spawned child takes a tenth of a second or more), so one sweep
measures every column: each child's start time and USS/RSS right after it says it is ready,
then, with the first child, a one-byte OS-pipe ping-pong (the hand-over threads are timed
with too) and a pickled-object ``Pipe`` ping-pong (the channel's own cost), and how many were
alive when the budget ran out. The children run ``_children._child_serve``.

``start_parts`` splits a child's start in two: a child whose target is a standard-library
function against one whose target lives in this package, so the difference is what importing
``conclab.costs`` adds to every spawn or forkserver child (a forked child inherits it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from conclab import lifecycle

from ._children import (_STOP, Child, _byte_pingpong, _child_hello, _child_serve,
                        _start_child, _stop_children, _write_byte)
from ._memory import _memory_of
from ._plans import _TIMEOUT, _Budget, _median_count, _Plan
from ._rows import CostRow, TextTable, format_seconds

__all__ = ["StartPart", "StartParts", "start_parts"]


def _process_pingpong(conn: Connection, rounds: int) -> float:
    """One hand-over between this process and a child, from a pickled-object Pipe ping-pong."""
    start = time.perf_counter()
    for i in range(rounds):
        conn.send(i)
        if not conn.poll(_TIMEOUT):
            raise TimeoutError("process ping-pong got no answer")
        conn.recv()
    return (time.perf_counter() - start) / rounds / 2


@dataclass
class _Sweep:
    """What one process sweep saw: per child USS, RSS and start time; hand-overs; the count."""

    uss: list[int]
    rss: list[int]
    create: list[float]
    switch: list[float] = field(default_factory=list)
    channel: list[float] = field(default_factory=list)
    count: int = 0
    limit: str = ""


def _first_child(ctx: Any) -> tuple[Child, Connection, Connection]:
    """Start the sweep's first child with a byte pipe each way; return it and our two ends."""
    inbox, to_child = ctx.Pipe(duplex=False)     # the child reads inbox, we write to_child
    from_child, outbox = ctx.Pipe(duplex=False)  # the child writes outbox, we read from_child
    try:
        child = _start_child(ctx, _child_serve, inbox, outbox)
    except BaseException:
        to_child.close()
        from_child.close()
        raise
    finally:
        inbox.close()  # the child holds its own copies now
        outbox.close()
    return child, to_child, from_child


def _handovers(first: tuple[Child, Connection, Connection], plan: _Plan,
               seen: _Sweep) -> None:
    """Time both ping-pongs with the first child: bytes through a pipe, then pickled objects."""
    child, to_child, from_child = first
    try:
        seen.switch = [_byte_pingpong(to_child, from_child, plan.rounds["process"])
                       for _ in range(plan.repeats)]
        _write_byte(to_child, _STOP)
    finally:
        to_child.close()
        from_child.close()
    seen.channel = [_process_pingpong(child.conn, plan.rounds["process"])
                    for _ in range(plan.repeats)]


def _process_sweep(ctx: Any, plan: _Plan) -> _Sweep:
    """Start idle children until the plan's bounds stop it, measuring each child on the way.

    The USS of the children seen so far counts against the sweep's memory budget.
    """
    budget, children = _Budget(plan.cap["process"], plan.sweep_seconds["process"],
                               plan.sweep_bytes), []
    seen, first = _Sweep([], [], []), None
    try:
        while not (reason := budget.stop(len(children), sum(seen.uss))):
            try:
                if first is None:
                    first = _first_child(ctx)
                    children.append(first[0])
                else:
                    children.append(_start_child(ctx))
            except OSError as exc:  # fork/pipe limits: EAGAIN, EMFILE, ENOMEM
                reason = f"error: {exc.strerror or exc}"
                break
            uss, rss = _memory_of(children[-1].process.pid)
            seen.uss.append(uss)
            seen.rss.append(rss)
            seen.create.append(children[-1].started_in)
        seen.count, seen.limit = len(children), reason
        if first is not None:
            _handovers(first, plan, seen)
            first = None
        return seen
    finally:
        if first is not None:  # an error before the ping-pongs: close our pipe ends too
            first[1].close()
            first[2].close()
        _stop_children(children)


def _process_probe(start_method: str, plan: _Plan) -> CostRow:
    """The row for processes started with ``start_method``: medians over every child seen."""
    ctx = lifecycle.get_context(start_method)
    sweeps = [_process_sweep(ctx, plan) for _ in range(plan.sweeps)]
    count, limit = _median_count([(s.count, s.limit) for s in sweeps])
    if not any(s.uss for s in sweeps):
        raise RuntimeError(f"no {start_method} child could start: {limit}")

    def median(field: str) -> float:
        return statistics.median(x for s in sweeps for x in getattr(s, field))

    return CostRow("process", start_method, median("uss"), "USS at start", median("create"),
                   median("switch"), "OS pipe, 1 byte", count, limit, rss_bytes=median("rss"),
                   repeats=sum(len(s.uss) for s in sweeps), channel_seconds=median("channel"),
                   channel_method="Pipe, pickled object")


# --------------------------------------------------------------------------- start parts

@dataclass(frozen=True)
class StartPart:
    """How long a child takes to start with a standard-library target and with one of ours.

    Both are timed from ``start()`` until the child's first message arrives, each a median
    of repeats, the two kinds taken in turn so that they share the machine's load.

    Attributes:
        start_method: "fork", "spawn" or "forkserver".
        stdlib_seconds: a child whose target is ``Connection.send`` (nothing to import).
        package_seconds: a child whose target lives in ``conclab.costs`` (imports it first).
        repeats: children of each kind.
    """

    start_method: str
    stdlib_seconds: float
    package_seconds: float
    repeats: int

    @property
    def import_seconds(self) -> float:
        """What importing the target's package added (never below 0)."""
        return max(0.0, self.package_seconds - self.stdlib_seconds)

    @property
    def import_share(self) -> float:
        """The part of the package child's start that was importing the package (0 to 1)."""
        return self.import_seconds / self.package_seconds


class StartParts(list[StartPart]):
    """A list of ``StartPart``, one per start method, that displays as a table."""

    def text(self) -> TextTable:
        """The parts formatted for reading."""
        return TextTable(
            ("start method", "child with a stdlib target", "child with a conclab target",
             "importing conclab", "share"),
            tuple((p.start_method, format_seconds(p.stdlib_seconds),
                   format_seconds(p.package_seconds), format_seconds(p.import_seconds),
                   f"{p.import_share:.0%}") for p in self))

    def get(self, start_method: str) -> StartPart | None:
        """The part measured with ``start_method``, or None."""
        return next((p for p in self if p.start_method == start_method), None)

    def __str__(self) -> str:
        return str(self.text())

    def _repr_html_(self) -> str:
        return self.text()._repr_html_()


def _hello_target(writer: Connection, package: bool) -> tuple[Any, tuple[Any, ...]]:
    """A child's target and arguments that say "ready": from this package, or the stdlib's."""
    # Connection.send is the standard library's own: unpickling it imports nothing new.
    return (_child_hello, (writer,)) if package else (writer.send, ("ready",))


def _ready_seconds(ctx: Any, package: bool) -> float:
    """Seconds from ``start()`` to the first message of a child that only says "ready"."""
    reader, writer = ctx.Pipe(duplex=False)
    target, args = _hello_target(writer, package)
    process = ctx.Process(target=target, args=args, daemon=True, name="conclab-costs-hello")
    start = time.perf_counter()
    try:
        process.start()
        writer.close()
        if not reader.poll(_TIMEOUT):
            raise TimeoutError(f"a {ctx.get_start_method()} child did not start in {_TIMEOUT} s")
        reader.recv()
        return time.perf_counter() - start
    finally:
        writer.close()
        reader.close()
        lifecycle.stop_processes([process], grace=5.0)


def start_parts(start_methods: Sequence[str] | None = None, *, repeats: int = 3) -> StartParts:
    """Split a child's start: a standard-library target against a target from this package.

    Under *spawn* and *forkserver* a child imports the module of its target before it runs
    it; a forked child inherits every module its parent had. The difference between the two
    kinds of child is what importing ``conclab.costs`` (and what it imports) costs each child.

    Args:
        start_methods: the methods to measure (default: every one this platform offers).
        repeats: children of each kind per method; the median counts.

    Returns:
        ``StartParts``: one ``StartPart`` per method, displayed as a table.
    """
    found = StartParts()
    for method in start_methods or lifecycle.start_methods():
        ctx = lifecycle.get_context(method)
        if method == "forkserver":  # its server starts once, with the first child: not timed
            _ready_seconds(ctx, package=False)
        stdlib, package = [], []
        for _ in range(repeats):
            stdlib.append(_ready_seconds(ctx, package=False))
            package.append(_ready_seconds(ctx, package=True))
        found.append(StartPart(method, statistics.median(stdlib), statistics.median(package),
                               repeats))
    return found
