"""The GIL row: CPU-bound pure-Python work on one unit, then on threads and processes at once.

Every worker starts first and waits for a shared "go", so start-up never counts; the child
processes start once, before the first repeat, and serve every repeat. Each repeat times the
serial, threaded and process runs back to back, and the speed-ups are medians of the
per-repeat ratios. Children run ``_children._child_spin``; threads run the same
``workloads.burn`` in this process. The work is sized from a short run timed on the wall
clock just before, not from the cached calibration, so that a loaded machine gets a smaller
piece of work and the row takes about as long as asked; every figure is measured, whatever
the size.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import time
from dataclasses import dataclass

import psutil

from conclab import lifecycle
from conclab.workloads import burn

from ._children import Child, _child_spin, _start_child, _stop_children
from ._plans import _TIMEOUT
from ._rows import TextTable, format_seconds
from ._threads import _release

__all__ = ["GilRow", "gil_speedups"]

_MAX_WORKERS = 64
"""More would start that many processes at once for a row that two per core already shows."""


@dataclass(frozen=True)
class GilRow:
    """How much faster CPU-bound pure-Python work runs on 2 threads and on 2 processes than on 1.

    A **speed-up** is (time for ``workers`` units of work one after another) / (time for the
    same units on ``workers`` threads or processes at once): 2.0 is perfect, 1.0 is none. It
    is the number a user feels, and the one other load on the machine disturbs most. The
    **cores busy** figures are CPU seconds spent on the work over the wall seconds it took:
    the GIL caps the threads' figure at 1 whatever the load, which makes it the steadier
    witness of the GIL. Process start-up is excluded: children start first, then wait for "go".
    ``serial_cores`` is the same figure for the work done alone, the baseline both compare with.
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
    serial_cores: float = math.nan

    def explain(self) -> str:
        """What the threads' figures mean in this run, in words chosen by the numbers (Markdown)."""
        ran = (f"Here {self.workers} threads ran **{self.thread_speedup:.2f}x** as fast as one "
               f"thread doing the same work alone, and kept **{self.thread_cores:.2f}** cores "
               f"busy; the work done alone kept {self.serial_cores:.2f} busy.")
        if not self.gil_enabled:
            return (f"{ran} The GIL is off in this build, so threads can run Python code on "
                    "several cores at once: the cores-busy figure shows whether they did.")
        # speed-up = (thread cores / serial cores) x (serial CPU time / thread CPU time)
        cpu = (self.thread_cores / self.serial_cores) / self.thread_speedup
        if 0.9 <= self.thread_speedup <= 1.1:
            return (f"{ran} That is no speed-up: under the GIL one thread runs Python code at "
                    "a time, so two threads take turns on the work one thread did alone.")
        if self.thread_speedup > 1.1:
            why = ("the serial runs got less of a core per second than the threaded runs: other "
                   "programs took more from them" if self.thread_cores > self.serial_cores else
                   "the same work took less CPU time on the threads, which only noise between "
                   "repeats can do")
            return (f"{ran} A speed-up above 1 is not parallelism here: {why}. Cores busy, "
                    "which other load can only lower and the GIL keeps at one, is the figure "
                    "to trust.")
        if self.thread_cores < 0.95 * self.serial_cores:
            return (f"{ran} Slower than one, because for part of the run neither thread ran: "
                    "only the thread holding the GIL may run Python code, it must offer the "
                    f"GIL up every switch interval ({sys.getswitchinterval() * 1e3:g} ms here), "
                    "and the other thread runs only once the OS has woken it and given it a "
                    "core, which other programs may be holding.")
        return (f"{ran} Slower than one although they kept as many cores busy: the same work "
                f"took {cpu:.2f}x the CPU time on two threads, spent handing the GIL over and "
                "refilling the processor's caches after each switch.")

    def _repr_html_(self) -> str:
        return _gil_text(self)._repr_html_()

    def __str__(self) -> str:
        return str(_gil_text(self))


def _gil_text(row: GilRow) -> TextTable:
    """A GIL row formatted for reading."""
    load = "-" if row.load_average is None else f"{row.load_average:.1f}"
    return TextTable(
        ("workers", "unit of work", "alone: cores busy", "threads: speed-up", "cores busy",
         "processes: speed-up", "cores busy", "start method", "usable cores", "GIL on",
         "load average"),
        ((str(row.workers), format_seconds(row.unit_seconds), f"{row.serial_cores:.2f}",
          f"{row.thread_speedup:.2f}x", f"{row.thread_cores:.2f}",
          f"{row.process_speedup:.2f}x", f"{row.process_cores:.2f}", row.start_method,
          str(row.cpus_usable), "yes" if row.gil_enabled else "no", load),))


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

    Raises:
        ValueError: for ``workers`` outside 1 to ``_MAX_WORKERS``, ``repeats`` below 1, a
            negative ``seconds`` or an unknown start method.
    """
    from conclab import machine

    if not (isinstance(workers, int) and 1 <= workers <= _MAX_WORKERS):
        raise ValueError(f"workers must be an int from 1 to {_MAX_WORKERS}, not {workers!r}: "
                         "each is a process as well as a thread, and the row needs only as "
                         f"many as there are usable cores ({machine.usable_cpus()} here)")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"repeats must be an int >= 1, not {repeats!r}: the speed-ups are "
                         "medians over the repeats")
    lifecycle.check_seconds(seconds, "seconds")

    # Read the load before measuring: afterwards the 1-minute average counts our own workers.
    try:
        load: float | None = psutil.getloadavg()[0]
    except (AttributeError, OSError):  # not every platform reports one
        load = None
    ctx, n = lifecycle.get_context(start_method), _units_now(seconds)
    method = ctx.get_start_method()
    serial, threaded, parallel, expected = [], [], [], 0
    children: list[Child] = []
    try:
        for _ in range(workers):
            children.append(_start_child(ctx, _child_spin))
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(workers):
                expected = burn(n)
            serial.append((time.perf_counter() - start, time.process_time() - cpu))
            threaded.append(_threads_at_once(n, workers))
            parallel.append(_processes_at_once(children, n, expected))
    finally:
        _stop_children(children)
    # Each repeat measures serial, threads and processes back to back, so the three share the
    # machine's conditions of that moment; the speed-up is the median of the per-repeat
    # ratios. (Taking the best of each kind separately compared moments with each other: on a
    # VM whose speed drifts by 20 %, that let a fast threaded moment pass for a GIL "speed-up".)
    base = min(wall for wall, _ in serial)
    t_speedup = statistics.median(s / t for (s, _), (t, _) in zip(serial, threaded))
    p_speedup = statistics.median(s / p for (s, _), (p, _) in zip(serial, parallel))
    s_cores, t_cores, p_cores = (statistics.median(cpu / wall for wall, cpu in runs)
                                 for runs in (serial, threaded, parallel))
    return GilRow(workers, base / workers, t_speedup, p_speedup, method,
                  machine.usable_cpus(), machine.gil_enabled(), repeats, t_cores, p_cores, load,
                  s_cores)


def _units_now(seconds: float) -> int:
    """How many ``burn`` units take about ``seconds`` of wall time now, timed on the spot."""
    units, elapsed = 1_000, 0.0
    while elapsed < 0.01:  # grow a trial run until it lasts 10 ms on the wall clock
        units *= 2
        start = time.perf_counter()
        burn(units)
        elapsed = time.perf_counter() - start
    trials = [elapsed]
    for _ in range(2):  # the median of three trials: one unlucky moment does not size it
        start = time.perf_counter()
        burn(units)
        trials.append(time.perf_counter() - start)
    return max(1, round(units * seconds / statistics.median(trials)))


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


def _processes_at_once(children: list[Child], n: int, expected: int) -> tuple[float, float]:
    """Wall seconds for started children to do ``n`` steps each from "go", and their CPU sum."""
    start, cpu = time.perf_counter(), 0.0
    for child in children:
        child.conn.send(n)  # the "go": every child starts on its own core, if it has one
    for child in children:
        if not child.conn.poll(_TIMEOUT):
            raise TimeoutError("a GIL-row child did not finish")
        result, child_cpu = child.conn.recv()
        if result != expected:
            raise RuntimeError("a GIL-row child returned a wrong result")
        cpu += child_cpu
    return time.perf_counter() - start, cpu
