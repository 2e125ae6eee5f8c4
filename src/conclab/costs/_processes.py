"""The process row, one per start method: idle children, measured as one sweep serves them all.

Processes are the slow rows (a spawned child takes a tenth of a second or more), so one sweep
measures every column: each child's start time and USS/RSS on the way up, a ``Pipe`` ping-pong
with the first child, and how many were alive when the budget ran out. The children themselves
run ``_children._child_serve``.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ._children import _start_child, _stop_children
from ._memory import _memory_of
from ._plans import _TIMEOUT, _Budget, _median_count, _Plan
from ._rows import CostRow

def _process_pingpong(conn: Connection, rounds: int) -> float:
    """One hand-over between this process and a child, from a Pipe ping-pong."""
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
    switch: list[float]
    count: int = 0
    limit: str = ""


def _process_sweep(ctx: Any, plan: _Plan) -> _Sweep:
    """Start idle children until the plan's bounds stop it, measuring each child on the way.

    The USS of the children seen so far counts against the sweep's memory budget.
    """
    budget, children = _Budget(plan.cap["process"], plan.sweep_seconds["process"],
                               plan.sweep_bytes), []
    seen = _Sweep([], [], [], [])
    try:
        while not (reason := budget.stop(len(children), sum(seen.uss))):
            try:
                children.append(_start_child(ctx))
            except OSError as exc:  # fork/pipe limits: EAGAIN, EMFILE, ENOMEM
                reason = f"error: {exc.strerror or exc}"
                break
            uss, rss = _memory_of(children[-1].process.pid)
            seen.uss.append(uss)
            seen.rss.append(rss)
            seen.create.append(children[-1].started_in)
        seen.count, seen.limit = len(children), reason
        if children:
            seen.switch = [_process_pingpong(children[0].conn, plan.rounds["process"])
                           for _ in range(plan.repeats)]
        return seen
    finally:
        _stop_children(children)


def _process_probe(start_method: str, plan: _Plan) -> CostRow:
    """The row for processes started with ``start_method``: medians over every child seen."""
    ctx = multiprocessing.get_context(start_method)
    sweeps = [_process_sweep(ctx, plan) for _ in range(plan.sweeps)]
    count, limit = _median_count([(s.count, s.limit) for s in sweeps])
    if not any(s.uss for s in sweeps):
        raise RuntimeError(f"no {start_method} child could start: {limit}")

    def median(field: str) -> float:
        return statistics.median(x for s in sweeps for x in getattr(s, field))

    return CostRow("process", start_method, median("uss"), "child USS (psutil)",
                   median("create"), median("switch"), "multiprocessing.Pipe ping-pong / 2",
                   count, limit, rss_bytes=median("rss"),
                   repeats=sum(len(s.uss) for s in sweeps))
