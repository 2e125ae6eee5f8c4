"""The GIL row: CPU-bound pure-Python work on one unit, then on threads and processes at once.

Every worker starts first and waits for a shared "go", so start-up never counts; each repeat
times the serial, threaded and process runs back to back, and the speed-ups are medians of
the per-repeat ratios. Children run
``_children._child_spin``; threads run the same ``workloads.burn`` in this process.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from conclab import lifecycle
from conclab.workloads import burn, units_for

from ._children import Child, _child_spin, _start_child, _stop_children
from ._plans import _TIMEOUT
from ._rows import TextTable, format_seconds
from ._threads import _release

__all__ = ["GilRow", "gil_speedups"]


@dataclass(frozen=True)
class GilRow:
    """How much faster CPU-bound pure-Python work runs on 2 threads and on 2 processes than on 1.

    A **speed-up** is (time for ``workers`` units of work one after another) / (time for the
    same units on ``workers`` threads or processes at once): 2.0 is perfect, 1.0 is none. It
    is the number a user feels, and the one other load on the machine disturbs most. The
    **cores busy** figures are CPU seconds spent on the work over the wall seconds it took:
    the GIL caps the threads' figure at 1 whatever the load, which makes it the steadier
    witness of the GIL. Process start-up is excluded: children start first, then wait for "go".
    """

    workers: int
    unit_seconds: float
    thread_speedup: float
    process_speedup: float
    start_method: str
    cpus_usable: int
    gil_enabled: bool
    repeats: int
    thread_cores: float = math.nan
    process_cores: float = math.nan
    load_average: float | None = None  # 1-minute load average before measuring: was the machine busy?

    def _repr_html_(self) -> str:
        return _gil_text(self)._repr_html_()

    def __str__(self) -> str:
        return str(_gil_text(self))


def _gil_text(row: GilRow) -> TextTable:
    """A GIL row formatted for reading."""
    load = "-" if row.load_average is None else f"{row.load_average:.1f}"
    return TextTable(
        ("workers", "unit of work", "threads: speed-up", "cores busy", "processes: speed-up",
         "cores busy", "start method", "usable cores", "GIL on", "load average"),
        ((str(row.workers), format_seconds(row.unit_seconds), f"{row.thread_speedup:.2f}x",
          f"{row.thread_cores:.2f}", f"{row.process_speedup:.2f}x", f"{row.process_cores:.2f}",
          row.start_method, str(row.cpus_usable), "yes" if row.gil_enabled else "no", load),))


def gil_speedups(seconds: float = 0.08, *, workers: int = 2, repeats: int = 5,
                 start_method: str | None = None) -> GilRow:
    """Measure the GIL row: the speed-up of CPU-bound work on threads and on processes.

    Args:
        seconds: how long one unit of work takes alone.
        workers: how many threads or processes share the work (one unit each).
        repeats: how many back-to-back (serial, threads, processes) rounds; the median counts.
        start_method: for the processes (default: the platform's default).

    Returns:
        A ``GilRow``; under the GIL expect about 1x (and 1 core busy) for threads, and up to
        ``workers``x for processes, capped by the usable cores.
    """
    from conclab import machine

    # Read the load before measuring: afterwards the 1-minute average counts our own workers.
    try:
        load: float | None = psutil.getloadavg()[0]
    except (AttributeError, OSError):  # not every platform reports one
        load = None
    ctx, n = lifecycle.get_context(start_method), max(1, units_for(seconds))
    method = ctx.get_start_method()
    serial, threaded, parallel, expected = [], [], [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(workers):
            expected = burn(n)
        serial.append(time.perf_counter() - start)
        threaded.append(_threads_at_once(n, workers))
        parallel.append(_processes_at_once(ctx, n, workers, expected))
    # Each repeat measures serial, threads and processes back to back, so the three share the
    # machine's conditions of that moment; the speed-up is the median of the per-repeat
    # ratios. (Taking the best of each kind separately compared moments with each other: on a
    # VM whose speed drifts by 20 %, that let a fast threaded moment pass for a GIL "speed-up".)
    base = min(serial)
    t_speedup = statistics.median(s / t for s, (t, _) in zip(serial, threaded))
    p_speedup = statistics.median(s / p for s, (p, _) in zip(serial, parallel))
    t_cores = statistics.median(cpu / wall for wall, cpu in threaded)
    p_cores = statistics.median(cpu / wall for wall, cpu in parallel)
    return GilRow(workers, base / workers, t_speedup, p_speedup, method,
                  machine.usable_cpus(), machine.gil_enabled(), repeats, t_cores, p_cores, load)


def _threads_at_once(n: int, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds for ``workers`` threads to do ``n`` steps each, from a shared "go"."""
    go = threading.Event()
    threads = [threading.Thread(target=lambda: go.wait(_TIMEOUT) and burn(n),
                                name=f"conclab-costs-spin-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        start, cpu = time.perf_counter(), time.process_time()  # CPU of every thread in here
        _release(go, threads)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        _release(go, threads)


def _processes_at_once(ctx: Any, n: int, workers: int, expected: int) -> tuple[float, float]:
    """Wall seconds for started children to do ``n`` steps each from "go", and their CPU sum."""
    children: list[Child] = []
    try:
        for _ in range(workers):
            children.append(_start_child(ctx, _child_spin, n))
        start, cpu = time.perf_counter(), 0.0
        for child in children:
            child.conn.send("go")
        for child in children:
            if not child.conn.poll(_TIMEOUT):
                raise TimeoutError("a GIL-row child did not finish")
            result, child_cpu = child.conn.recv()
            if result != expected:
                raise RuntimeError("a GIL-row child returned a wrong result")
            cpu += child_cpu
        return time.perf_counter() - start, cpu
    finally:
        _stop_children(children)
