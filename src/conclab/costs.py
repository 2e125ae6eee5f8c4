"""The cost table, measured: what one process, thread or coroutine costs on this machine.

The source article gives a cost table with gaps ("thread ~8 MB, coroutine < 0.8 KB, ~100 ns per
switch, ~10 processes / ~100 threads / 1000+ coroutines"). ``measure()`` fills every cell of it
live, and ``verdicts()`` says, claim by claim, where the article was right, wrong, or right only
under a condition. Design principles:

1. One method per quantity, the same for every model that allows it. Memory is *resident* memory
   per unit (``tracemalloc`` for objects inside the interpreter, psutil RSS deltas for threads,
   each child's own USS for processes); creation runs until the unit is running; a **switch** is
   one hand-over, half of a ping-pong round trip; ``max_count`` is how many stay alive at once.
2. Every number is a median of repeats (the GIL row: best of repeats, since load only adds
   time), and every loop is bounded in count, time and memory (``_Budget``). Everything
   started is stopped in a ``finally`` block, even on error.
3. Verdict thresholds sit far from where measurements land: ten times for timings and RSS,
   which noise moves; less only for ``tracemalloc`` byte counts, which are exact for a given
   Python build. A sweep stopped by its own budget never makes a count claim "right". The
   *why* text carries the numbers, so the chapter's prose never has to.
4. Child processes run only the module-level functions ``_child_serve`` and ``_child_spin``,
   so every start method (fork, spawn, forkserver) can import them.

This module is longer than the usual 300 lines: every function a child process runs must live
here (the course's rule), and the probes, the table and the verdicts share one vocabulary
(rows, plans, formats). Sections, in order: rows and tables; bounds and plans; one section of
probes per model; ``measure``; the GIL row; verdicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import math
import multiprocessing
import statistics
import sys
import threading
import time
import tracemalloc
import types
from collections.abc import Callable, Coroutine, Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psutil

__all__ = [
    "CostRow", "CostTable", "GilRow", "Verdict", "Verdicts", "TextTable", "Progress", "Child",
    "ARTICLE", "CLAIMS", "MODELS",
    "measure", "measure_model", "gil_speedups", "verdicts", "reserved_stack_bytes", "idle_child",
    "format_bytes", "format_seconds",
]

Progress = Callable[[float, str], None]
"""A progress callback: ``progress(fraction_done, what_runs_now)``."""

MODELS = ("generator", "coroutine", "asyncio task", "thread", "process")
"""The models ``measure()`` knows; "process" gives one row per start method."""

MiB = 2**20
_TIMEOUT = 30.0   # the longest any single blocking call may wait
_LIFETIME = 120.0  # an orphaned child gives up waiting for its parent after this long


# --------------------------------------------------------------------------- rows and tables

@dataclass(frozen=True)
class CostRow:
    """What one unit of a concurrency model costs, each value a median of repeats.

    Attributes:
        model: "generator", "coroutine", "asyncio task", "thread" or "process".
        start_method: for processes, the multiprocessing start method; else None.
        memory_bytes: resident memory one more unit costs.
        memory_method: how ``memory_bytes`` was measured, in words.
        create_seconds: time to create one unit and see it running.
        switch_seconds: one hand-over between two units (half a ping-pong round trip).
        switch_method: how ``switch_seconds`` was measured, in words.
        max_count: how many stayed alive at once before ``max_count_limit`` stopped the sweep.
        max_count_limit: "cap", "time", "memory" or "error: ..." (what stopped the sweep).
        rss_bytes: for processes, each child's RSS (includes pages shared with the parent).
        virtual_bytes: address space one more unit reserves (threads: mostly the stack).
        repeats: how many repeats each median is over (processes: how many children).
    """

    model: str
    start_method: str | None
    memory_bytes: float
    memory_method: str
    create_seconds: float
    switch_seconds: float
    switch_method: str
    max_count: int
    max_count_limit: str
    rss_bytes: float | None = None
    virtual_bytes: float | None = None
    repeats: int = 1

    @property
    def name(self) -> str:
        """The row's label: the model, with the start method for processes."""
        return self.model if self.start_method is None else f"{self.model} ({self.start_method})"


@dataclass(frozen=True)
class TextTable:
    """A small table of strings that prints aligned in a terminal and as HTML in a notebook."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __str__(self) -> str:
        cells = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>"
                                        for c in row) + "</tr>" for row in self.rows)
        return f"<table class='conclab-costs'><tr>{head}</tr>{body}</table>"


@dataclass(frozen=True)
class CostTable(Sequence[CostRow]):
    """The measured cost table: a sequence of ``CostRow`` that displays as a table.

    Index it by position or by row name (``table["thread"]``, ``table["process (fork)"]``).
    """

    rows: tuple[CostRow, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[CostRow]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> Any:  # Any: Sequence's slice overload is unused
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(key)
        return self.rows[key]

    def get(self, name: str) -> CostRow | None:
        """The row called ``name``, or None."""
        return next((r for r in self.rows if r.name == name), None)

    def text(self) -> TextTable:
        """The rows formatted for reading."""
        header = ("model", "memory", "measured by", "create", "switch", "measured by", "alive",
                  "stopped by")
        return TextTable(header, tuple(
            (r.name, format_bytes(r.memory_bytes), r.memory_method,
             format_seconds(r.create_seconds), format_seconds(r.switch_seconds), r.switch_method,
             f"{r.max_count:,}", r.max_count_limit) for r in self.rows))

    def compare(self) -> TextTable:
        """The article's table beside the measured one, one line per measured row."""
        header = ("model", "memory (article)", "memory (here)", "switch (article)",
                  "switch (here)", "count (article)", "alive (here)")
        lines = []
        for r in self.rows:
            family = "coroutine" if r.model in ("generator", "coroutine", "asyncio task") else r.model
            mem, switch, count = ARTICLE[family]
            lines.append((r.name, mem, format_bytes(r.memory_bytes), switch,
                          format_seconds(r.switch_seconds), count, f"{r.max_count:,}"))
        return TextTable(header, tuple(lines))

    def __str__(self) -> str:
        return str(self.text())

    def _repr_html_(self) -> str:
        return self.text()._repr_html_()


def format_bytes(n: float | None) -> str:
    """A byte count for reading: ``"184 B"``, ``"16.2 KiB"``, ``"8.0 MiB"``."""
    if n is None or not math.isfinite(n):
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def format_seconds(s: float | None) -> str:
    """A duration for reading: ``"35 ns"``, ``"8.1 µs"``, ``"6.2 ms"``, ``"1.20 s"``."""
    if s is None or not math.isfinite(s):
        return "-"
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(s) >= size:
            return f"{s / size:.2f} {unit}" if unit == "s" else f"{s / size:.1f} {unit}"
    return f"{s * 1e9:.0f} ns"


# --------------------------------------------------------------------------- bounds and plans

class _Budget:
    """Stops a sweep at a count, a deadline or a memory use, and says which."""

    def __init__(self, cap: int, seconds: float, nbytes: int) -> None:
        self.cap = cap
        self.deadline = time.perf_counter() + seconds
        # Never take more than a quarter of what is free now, whatever the plan says.
        self.nbytes = min(nbytes, psutil.virtual_memory().available // 4)

    def stop(self, count: int, used_bytes: float) -> str | None:
        """Why the sweep must stop now, or None to go on."""
        if count >= self.cap:
            return "cap"
        if time.perf_counter() >= self.deadline:
            return "time"
        if used_bytes >= self.nbytes:
            return "memory"
        return None


@dataclass(frozen=True)
class _Plan:
    """How much to measure: quick (under 20 s for everything) or full."""

    repeats: int
    population: dict[str, int]  # units alive at once while memory and creation are measured
    traced: int                 # objects alive at once under tracemalloc (slow, exact)
    rounds: dict[str, int]      # ping-pong round trips per repeat
    cap: dict[str, int]         # the max_count sweep stops at this count ...
    sweep_seconds: dict[str, float]  # ... or after this long ...
    sweep_bytes: int            # ... or when it holds this much memory
    sweeps: int                 # max_count is the median over this many sweeps


_QUICK = _Plan(
    repeats=3,
    population={"generator": 10_000, "coroutine": 10_000, "asyncio task": 5_000, "thread": 100},
    traced=2_000,
    rounds={"generator": 20_000, "coroutine": 20_000, "asyncio task": 1_000, "thread": 300,
            "process": 300},
    cap={"generator": 50_000, "coroutine": 50_000, "asyncio task": 20_000, "thread": 2_000,
         "process": 60},
    # Threads get the longest clock: their count is the one a verdict reads most closely.
    sweep_seconds={"generator": 0.5, "coroutine": 0.5, "asyncio task": 1.0, "thread": 1.5,
                   "process": 1.0},
    sweep_bytes=512 * MiB, sweeps=1)

_FULL = _Plan(
    repeats=5,
    population={"generator": 50_000, "coroutine": 50_000, "asyncio task": 20_000, "thread": 300},
    traced=5_000,
    rounds={"generator": 100_000, "coroutine": 100_000, "asyncio task": 5_000, "thread": 2_000,
            "process": 2_000},
    cap={"generator": 1_000_000, "coroutine": 1_000_000, "asyncio task": 300_000,
         "thread": 20_000, "process": 300},
    sweep_seconds=dict.fromkeys(MODELS, 4.0), sweep_bytes=2048 * MiB, sweeps=3)


def _rss() -> int:
    """This process's resident set size in bytes."""
    return psutil.Process().memory_info().rss


# --------------------------------------------------------------------------- generators, coroutines

def _echo_generator() -> Generator[Any, Any, None]:
    """A generator that yields back whatever it is sent."""
    value = None
    while True:
        value = yield value


@types.coroutine
def _suspend(value: Any) -> Generator[Any, Any, Any]:
    """The one suspension point a bare coroutine needs: hand ``value`` out, take one back."""
    return (yield value)


async def _echo_coroutine() -> None:
    """A bare coroutine (no event loop) that hands back whatever it is sent."""
    value = None
    while True:
        value = await _suspend(value)


def _make_primed(kind: str) -> Any:
    """A generator or bare coroutine, started and suspended at its first hand-over."""
    unit = _echo_generator() if kind == "generator" else _echo_coroutine()
    unit.send(None)
    return unit


def _traced_bytes(make: Callable[[], Any], n: int) -> float:
    """Bytes ``tracemalloc`` sees allocated per unit while ``n`` units are alive."""
    keep = [None] * n  # allocated before the baseline, so the list itself is not counted
    was_tracing = tracemalloc.is_tracing()
    gc.collect()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            keep[i] = make()
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        if not was_tracing:
            tracemalloc.stop()
        for unit in keep:
            if unit is not None:
                unit.close()


def _object_probe(kind: str, plan: _Plan) -> tuple[float, float, float, int, str]:
    """Memory, creation, switch and max_count of primed generators or bare coroutines."""
    n, rounds = plan.population[kind], plan.rounds[kind]
    memory, create, switch = [], [], []
    for _ in range(plan.repeats):
        memory.append(_traced_bytes(lambda: _make_primed(kind), plan.traced))
        units: list[Any] = []
        try:
            start = time.perf_counter()
            for _ in range(n):
                units.append(_make_primed(kind))
            create.append((time.perf_counter() - start) / n)
            send = units[0].send
            start = time.perf_counter()
            for i in range(rounds):
                send(i)
            # A send is a round trip: into the unit and back out, two hand-overs.
            switch.append((time.perf_counter() - start) / rounds / 2)
        finally:
            for unit in units:
                unit.close()
    counts = [_object_sweep(kind, plan) for _ in range(plan.sweeps)]
    count, limit = _median_count(counts)
    return statistics.median(memory), statistics.median(create), statistics.median(switch), count, limit


def _object_sweep(kind: str, plan: _Plan) -> tuple[int, str]:
    """How many primed units stay alive at once within the plan's bounds."""
    budget = _Budget(plan.cap[kind], plan.sweep_seconds[kind], plan.sweep_bytes)
    base, units = _rss(), []
    try:
        while True:
            # The cap is exact; time and memory are checked every thousand units (RSS costs µs).
            reason = (budget.stop(len(units), _rss() - base) if len(units) % 1000 == 0
                      else ("cap" if len(units) >= budget.cap else None))
            if reason:
                return len(units), reason
            units.append(_make_primed(kind))
    finally:
        for unit in units:
            unit.close()


def _median_count(counts: Sequence[tuple[int, str]]) -> tuple[int, str]:
    """The median sweep, with the reason that stopped it."""
    ordered = sorted(counts)
    return ordered[(len(ordered) - 1) // 2]


# --------------------------------------------------------------------------- asyncio tasks

def _in_fresh_loop(main: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    """Run ``main(*args)`` in a new event loop on a helper thread, and wait for it.

    A notebook's thread already runs the kernel's loop, where ``asyncio.run`` raises; a helper
    thread has none. The coroutine bounds itself with ``asyncio.timeout``, so the join does too.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(main(*args))
        except BaseException as exc:  # handed to the caller below
            result["error"] = exc

    helper = threading.Thread(target=target, name="conclab-costs-loop", daemon=True)
    helper.start()
    helper.join(_TIMEOUT * 10)  # every await inside is bounded; this bounds the whole run
    if helper.is_alive():
        raise TimeoutError("the asyncio probe did not finish")
    if "error" in result:
        raise result["error"]
    return result["value"]


async def _idle(event: asyncio.Event) -> None:
    """An asyncio task that only waits."""
    await event.wait()


async def _task_population(n: int, traced: bool) -> float:
    """Bytes per idle task (traced) or seconds to create and start one (not traced)."""
    event, tasks = asyncio.Event(), [None] * n
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if traced and not was_tracing:
        tracemalloc.start()
    try:
        before, start = tracemalloc.get_traced_memory()[0], time.perf_counter()
        for i in range(n):
            tasks[i] = asyncio.ensure_future(_idle(event))
        await asyncio.sleep(0)  # every task scheduled above runs to its wait() before we resume
        value = ((tracemalloc.get_traced_memory()[0] - before) if traced
                 else (time.perf_counter() - start)) / n
    finally:
        if traced and not was_tracing:
            tracemalloc.stop()
        event.set()
        async with asyncio.timeout(_TIMEOUT):
            await asyncio.gather(*(t for t in tasks if t is not None))
    return value


async def _task_pingpong(rounds: int) -> float:
    """One hand-over between two tasks, from an asyncio.Queue ping-pong."""
    ping: asyncio.Queue[int | None] = asyncio.Queue()
    pong: asyncio.Queue[int] = asyncio.Queue()

    async def echo() -> None:
        while (item := await ping.get()) is not None:
            pong.put_nowait(item)

    async with asyncio.timeout(_TIMEOUT):
        async with asyncio.TaskGroup() as group:
            group.create_task(echo())
            start = time.perf_counter()
            for i in range(rounds):
                ping.put_nowait(i)
                await pong.get()
            elapsed = time.perf_counter() - start
            ping.put_nowait(None)
    return elapsed / rounds / 2


async def _task_sweep(cap: int, seconds: float, nbytes: int) -> tuple[int, str]:
    """How many idle tasks stay alive at once within the bounds."""
    budget, event, tasks, base = _Budget(cap, seconds, nbytes), asyncio.Event(), [], _rss()
    try:
        while not (reason := budget.stop(len(tasks), _rss() - base)):
            for _ in range(min(1000, cap - len(tasks))):
                tasks.append(asyncio.ensure_future(_idle(event)))
            await asyncio.sleep(0)  # let the batch start, so each task holds its wait state
        return len(tasks), reason
    finally:
        event.set()
        async with asyncio.timeout(_TIMEOUT):
            await asyncio.gather(*tasks)


async def _task_probe(plan: _Plan) -> tuple[float, float, float, int, str]:
    """Memory, creation, switch and max_count of asyncio tasks (runs inside a fresh loop)."""
    kind = "asyncio task"
    n = plan.population[kind]
    memory = [await _task_population(plan.traced, traced=True) for _ in range(plan.repeats)]
    create = [await _task_population(n, traced=False) for _ in range(plan.repeats)]
    switch = [await _task_pingpong(plan.rounds[kind]) for _ in range(plan.repeats)]
    counts = [await _task_sweep(plan.cap[kind], plan.sweep_seconds[kind], plan.sweep_bytes)
              for _ in range(plan.sweeps)]
    count, limit = _median_count(counts)
    return statistics.median(memory), statistics.median(create), statistics.median(switch), count, limit


# --------------------------------------------------------------------------- threads

def reserved_stack_bytes() -> int | None:
    """The stack a new thread reserves: ``threading.stack_size()``, else ``ulimit -s`` on Linux.

    This is address space, not memory: the kernel backs a page with RAM only when the thread
    first touches it. None where the platform default cannot be read (macOS, Windows).
    """
    if size := threading.stack_size():
        return size
    if sys.platform.startswith("linux"):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
        if soft != resource.RLIM_INFINITY and soft > 0:
            return soft  # glibc sizes new thread stacks from RLIMIT_STACK
    return None


def _thread_population(n: int) -> tuple[float, float, float]:
    """RSS and VMS per idle thread, and seconds per ``start()``, with ``n`` threads alive."""
    stop, threads = threading.Event(), []
    me = psutil.Process()
    gc.collect()
    before = me.memory_info()
    try:
        start = time.perf_counter()
        for i in range(n):
            thread = threading.Thread(target=stop.wait, args=(_LIFETIME,), daemon=True,
                                      name=f"conclab-costs-idle-{i}")
            thread.start()  # returns once the new thread runs
            threads.append(thread)
        create = (time.perf_counter() - start) / n
        after = me.memory_info()
        return (after.rss - before.rss) / n, (after.vms - before.vms) / n, create
    finally:
        stop.set()
        for thread in threads:
            thread.join(_TIMEOUT)


def _thread_echo(ping: threading.Event, pong: threading.Event, done: list[bool]) -> None:
    """The far side of a thread ping-pong: wait for ping, answer pong, until told to stop."""
    while ping.wait(_TIMEOUT) and not done[0]:
        ping.clear()  # cleared before answering, so the next ping cannot be missed
        pong.set()


def _thread_pingpong(rounds: int) -> float:
    """One hand-over between two threads, from a threading.Event ping-pong."""
    ping, pong, done = threading.Event(), threading.Event(), [False]
    echo = threading.Thread(target=_thread_echo, args=(ping, pong, done), name="conclab-costs-echo")
    echo.start()
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            ping.set()
            if not pong.wait(_TIMEOUT):
                raise TimeoutError("thread ping-pong got no answer")
            pong.clear()
        return (time.perf_counter() - start) / rounds / 2
    finally:
        done[0] = True
        ping.set()
        echo.join(_TIMEOUT)


def _thread_sweep(plan: _Plan) -> tuple[int, str]:
    """How many idle threads stay alive at once within the plan's bounds."""
    budget, stop, threads, base = _Budget(plan.cap["thread"], plan.sweep_seconds["thread"],
                                          plan.sweep_bytes), threading.Event(), [], _rss()
    try:
        while not (reason := budget.stop(len(threads), _rss() - base)):
            thread = threading.Thread(target=stop.wait, args=(_LIFETIME,), daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:  # "can't start new thread": an OS limit was reached
                return len(threads), f"error: {exc}"
            threads.append(thread)
        return len(threads), reason
    finally:
        stop.set()
        for thread in threads:
            thread.join(_TIMEOUT)


def _thread_probe(plan: _Plan) -> CostRow:
    """The thread row."""
    population = [_thread_population(plan.population["thread"]) for _ in range(plan.repeats)]
    switch = [_thread_pingpong(plan.rounds["thread"]) for _ in range(plan.repeats)]
    count, limit = _median_count([_thread_sweep(plan) for _ in range(plan.sweeps)])
    return CostRow(
        "thread", None, statistics.median(p[0] for p in population), "RSS delta (psutil)",
        statistics.median(p[2] for p in population), statistics.median(switch),
        "threading.Event ping-pong / 2", count, limit,
        virtual_bytes=statistics.median(p[1] for p in population), repeats=plan.repeats)


# --------------------------------------------------------------------------- processes

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
        _stop_children([started])
        # Seen when the parent's main script starts processes without the __main__ guard:
        # under spawn and forkserver the child re-runs that script and dies before "ready".
        raise RuntimeError(f"a {ctx.get_start_method()} child exited before it was ready "
                           f"(exit code {process.exitcode})") from None
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
    deadline = time.monotonic() + 5.0
    for child in children:
        child.process.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.process.is_alive():
            child.process.terminate()
            child.process.join(2.0)
        if child.process.is_alive():
            child.process.kill()
            child.process.join(2.0)
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
    from conclab import machine

    child = _start_child(multiprocessing.get_context(start_method or machine.default_start_method()))
    try:
        yield child
    finally:
        _stop_children([child])


def _memory_of(pid: int) -> tuple[int, int]:
    """USS and RSS of one process, in bytes."""
    info = psutil.Process(pid).memory_full_info()
    return info.uss, info.rss


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

    Processes are the slow rows (a spawned child takes a tenth of a second or more), so one
    sweep serves every column: each child's start time and USS/RSS, a ping-pong with the
    first child, and how many were alive when the budget ran out (USS counts against it).
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


# --------------------------------------------------------------------------- measure

def measure_model(model: str, *, start_method: str | None = None, quick: bool = True) -> CostRow:
    """Measure one model's row of the cost table.

    Args:
        model: one of ``MODELS``.
        start_method: for "process", the start method (default: the platform's default).
        quick: small populations and short sweeps (seconds) instead of the full run (minutes).

    Returns:
        A ``CostRow``, each value a median of repeats.
    """
    plan = _QUICK if quick else _FULL
    if model in ("generator", "coroutine"):
        mem, create, switch, count, limit = _object_probe(model, plan)
        how = "generator.send" if model == "generator" else "coroutine.send (no loop)"
        return CostRow(model, None, mem, "tracemalloc", create, switch, f"{how} / 2", count,
                       limit, repeats=plan.repeats)
    if model == "asyncio task":
        mem, create, switch, count, limit = _in_fresh_loop(_task_probe, plan)
        return CostRow(model, None, mem, "tracemalloc", create, switch,
                       "asyncio.Queue ping-pong / 2", count, limit, repeats=plan.repeats)
    if model == "thread":
        return _thread_probe(plan)
    if model == "process":
        from conclab import machine

        return _process_probe(start_method or machine.default_start_method(), plan)
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def measure(quick: bool = True, *, models: Sequence[str] = MODELS,
            start_methods: Sequence[str] | None = None,
            progress: Progress | None = None) -> CostTable:
    """Measure the cost table on this machine: one row per model, processes per start method.

    Args:
        quick: a run of under 20 s on two cores; False measures more (minutes): bigger
            populations, five repeats, three sweeps each of up to 20,000 threads and 300
            processes.
        models: which of ``MODELS`` to measure, in this order.
        start_methods: the start methods to measure processes with (default: all available).
        progress: called as ``progress(fraction_done, what_runs_now)`` before each row and
            with ``(1.0, "done")`` at the end.

    Returns:
        A ``CostTable`` (a sequence of ``CostRow``; displays as a table in notebooks).
    """
    methods = list(start_methods or multiprocessing.get_all_start_methods())
    steps = [(m, None) for m in models if m != "process"]
    steps += [("process", s) for s in methods] if "process" in models else []
    rows = []
    for i, (model, method) in enumerate(steps):
        if progress:
            progress(i / len(steps), model if method is None else f"{model} ({method})")
        rows.append(measure_model(model, start_method=method, quick=quick))
    if progress:
        progress(1.0, "done")
    return CostTable(tuple(rows))


# --------------------------------------------------------------------------- the GIL row

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
    load_average: float | None = None  # 1-minute load average at the end: was the machine busy?

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


def _cpu_work(n: int) -> int:
    """Pure-Python CPU work: ``n`` steps that only the interpreter can run (holds the GIL)."""
    total = 0
    for i in range(n):
        total = (total + i * i) % 1_000_003
    return total


def _child_spin(conn: Connection, n: int) -> None:
    """Child process body for the GIL row: say ready, wait for "go", work, send result and CPU."""
    try:
        conn.send("ready")
        if conn.poll(_LIFETIME) and conn.recv() == "go":
            cpu = time.process_time()
            result = _cpu_work(n)
            conn.send((result, time.process_time() - cpu))
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def _steps_for(seconds: float) -> int:
    """How many ``_cpu_work`` steps take about ``seconds`` on this machine."""
    n, elapsed = 20_000, 0.0
    while elapsed < 0.02 and n < 10**8:  # grow until the timing is well above clock noise
        n *= 2
        start = time.perf_counter()
        _cpu_work(n)
        elapsed = time.perf_counter() - start
    return max(1, int(n * seconds / elapsed))


def gil_speedups(seconds: float = 0.08, *, workers: int = 2, repeats: int = 5,
                 start_method: str | None = None) -> GilRow:
    """Measure the GIL row: the speed-up of CPU-bound work on threads and on processes.

    Args:
        seconds: how long one unit of work takes alone.
        workers: how many threads or processes share the work (one unit each).
        repeats: each time is the best of this many repeats (load only adds time).
        start_method: for the processes (default: the platform's default).

    Returns:
        A ``GilRow``; under the GIL expect about 1x (and 1 core busy) for threads, and up to
        ``workers``x for processes, capped by the usable cores.
    """
    from conclab import machine

    method = start_method or machine.default_start_method()
    ctx, n = multiprocessing.get_context(method), _steps_for(seconds)
    serial, threaded, parallel, expected = [], [], [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(workers):
            expected = _cpu_work(n)
        serial.append(time.perf_counter() - start)
        threaded.append(_threads_at_once(n, workers))
        parallel.append(_processes_at_once(ctx, n, workers, expected))
    # Best of repeats, not the median: other load only ever adds time, so the fastest run of
    # each kind is the one closest to what the machine can do (timeit's rule). A median let
    # one slow serial run pass for a thread "speed-up" on a busy machine.
    base, (t_wall, t_cpu), (p_wall, p_cpu) = min(serial), min(threaded), min(parallel)
    try:
        load: float | None = psutil.getloadavg()[0]
    except (AttributeError, OSError):  # not every platform reports one
        load = None
    return GilRow(workers, base / workers, base / t_wall, base / p_wall, method,
                  machine.usable_cpus(), machine.gil_enabled(), repeats,
                  t_cpu / t_wall, p_cpu / p_wall, load)


def _threads_at_once(n: int, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds for ``workers`` threads to do ``n`` steps each, from a shared "go"."""
    go = threading.Event()
    threads = [threading.Thread(target=lambda: go.wait(_TIMEOUT) and _cpu_work(n),
                                name=f"conclab-costs-spin-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        start, cpu = time.perf_counter(), time.process_time()  # CPU of every thread in here
        go.set()
        for thread in threads:
            thread.join(_TIMEOUT)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        go.set()
        for thread in threads:
            thread.join(_TIMEOUT)


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


# --------------------------------------------------------------------------- verdicts

ARTICLE: dict[str, tuple[str, str, str]] = {
    "process": ("-", "-", "~10"),
    "thread": ("~8 MB", "-", "~100"),
    "coroutine": ("< 0.8 KB", "~100 ns", "1000+"),
}
"""The article's table as it stands: (memory, switch, count) per model, "-" where it is blank."""

_THREAD_BYTES = 8 * MiB      # "~8 MB": the Linux default stack, 8 MiB
_COROUTINE_BYTES = 800       # "< 0.8 KB"
_SWITCH_SECONDS = 100e-9     # "~100 ns"

CLAIMS: dict[str, str] = {
    "thread memory": "a thread costs ~8 MB of memory",
    "coroutine memory": "a coroutine costs < 0.8 KB of memory",
    "coroutine switch": "a coroutine switch costs ~100 ns",
    "process cost": "a process costs more than a thread",
    "process count": "use ~10 processes",
    "thread count": "use ~100 threads",
    "coroutine count": "1000+ coroutines are easy",
    "threads in parallel": "threads do not run Python code in parallel (the GIL)",
    "processes in parallel": "processes run Python code in parallel on several cores",
}
"""The article's claims that a measurement can check, by short name."""


@dataclass(frozen=True)
class Verdict:
    """One of the article's claims, judged against this machine's measurements.

    Attributes:
        claim: the claim, in words (a value of ``CLAIMS``).
        verdict: "right", "wrong" or "depends".
        why: the reason, generated from the measurements (numbers filled in).
    """

    claim: str
    verdict: str
    why: str


class Verdicts(list[Verdict]):
    """A list of ``Verdict`` that displays as a table in notebooks."""

    def text(self) -> TextTable:
        """The verdicts formatted for reading."""
        return TextTable(("claim", "verdict", "why"), tuple((v.claim, v.verdict, v.why) for v in self))

    def __str__(self) -> str:
        return str(self.text())

    def _repr_html_(self) -> str:
        return self.text()._repr_html_()


def _times(a: float, b: float) -> str:
    """How many times ``a`` is ``b``, for reading ("120x")."""
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def _thread_memory(t: CostRow) -> Verdict:
    """Judge "~8 MB per thread": reserved stack against resident memory."""
    stack = reserved_stack_bytes()
    reserved = t.virtual_bytes if t.virtual_bytes is not None else stack
    held = f"{format_bytes(t.memory_bytes)} resident per idle thread ({t.memory_method})"
    if t.memory_bytes >= _THREAD_BYTES / 3:
        return Verdict(CLAIMS["thread memory"], "right", f"{held}: close to the claim.")
    if t.memory_bytes >= _THREAD_BYTES / 10:
        return Verdict(CLAIMS["thread memory"], "depends",
                       f"{held}: well below the claim, but within 10x of it.")
    stack_text = "" if stack is None else (
        f"; the stack size (threading.stack_size(), else ulimit -s) is {format_bytes(stack)}")
    if reserved is not None and reserved >= _THREAD_BYTES / 2:
        return Verdict(CLAIMS["thread memory"], "depends", (
            f"right for reserved address space, wrong for RAM: a thread reserves "
            f"{format_bytes(reserved)} of address space{stack_text}, but only {held}, "
            f"{_times(_THREAD_BYTES, t.memory_bytes)} less than the claim; the kernel backs a "
            f"stack page with RAM only when the thread touches it."))
    return Verdict(CLAIMS["thread memory"], "wrong", (
        f"{held}, {_times(_THREAD_BYTES, t.memory_bytes)} less than the claim, and the "
        f"reserved address space is small too{stack_text}."))


def _coroutine_memory(c: CostRow, task: CostRow | None) -> Verdict:
    """Judge "< 0.8 KB per coroutine": a bare coroutine against an asyncio task."""
    bare = f"a suspended bare coroutine object takes {format_bytes(c.memory_bytes)} (tracemalloc)"
    if c.memory_bytes >= _COROUTINE_BYTES:
        return Verdict(CLAIMS["coroutine memory"], "wrong", f"{bare}, more than the claim.")
    if task is None or task.memory_bytes < _COROUTINE_BYTES:
        extra = "" if task is None else (
            f"; even as an asyncio task waiting on an event it takes {format_bytes(task.memory_bytes)}")
        return Verdict(CLAIMS["coroutine memory"], "right", f"{bare}{extra}.")
    return Verdict(CLAIMS["coroutine memory"], "depends", (
        f"right for a bare coroutine, wrong for an asyncio task: {bare}, but wrapped in an "
        f"asyncio task that waits on an event it takes {format_bytes(task.memory_bytes)}, "
        f"{_times(task.memory_bytes, c.memory_bytes)} as much (the Task, its future and "
        f"callbacks, the waiter)."))


def _coroutine_switch(units: Sequence[CostRow], task: CostRow | None) -> Verdict:
    """Judge "~100 ns per switch": a generator-level send against an event-loop hand-over."""
    fast = min(units, key=lambda r: r.switch_seconds)
    low, high = _SWITCH_SECONDS / 10, _SWITCH_SECONDS * 10
    bare = f"a {fast.name} hands over in {format_seconds(fast.switch_seconds)} ({fast.switch_method})"
    if not low <= fast.switch_seconds < high:
        return Verdict(CLAIMS["coroutine switch"], "wrong", f"{bare}, not within 10x of the claim.")
    if task is None or task.switch_seconds < high:
        extra = "" if task is None else (
            f"; an asyncio task hands over in {format_seconds(task.switch_seconds)}")
        return Verdict(CLAIMS["coroutine switch"], "right", f"{bare}, within 10x of the claim{extra}.")
    return Verdict(CLAIMS["coroutine switch"], "depends", (
        f"right for a generator-level send, wrong through an event loop: {bare}, within 10x of "
        f"the claim, but an asyncio task hands over in {format_seconds(task.switch_seconds)} "
        f"({task.switch_method}), {_times(task.switch_seconds, _SWITCH_SECONDS)} the claim: "
        f"each hand-over goes through the loop's ready queue and a future."))


def _process_cost(procs: Sequence[CostRow], t: CostRow) -> Verdict:
    """Judge "processes are expensive": a child's unique memory against a thread's."""
    cheap = min(procs, key=lambda r: r.memory_bytes)
    parts = [f"{r.name}: {format_bytes(r.memory_bytes)} USS"
             + ("" if r.rss_bytes is None else f", {format_bytes(r.rss_bytes)} RSS") for r in procs]
    rss_note = ("RSS also counts pages a forked child still shares with its parent "
                "copy-on-write, so USS (memory only that child holds) is its real cost")
    body = (f"per child, {'; '.join(parts)}; a thread holds {format_bytes(t.memory_bytes)}. "
            f"Starting one takes {format_seconds(cheap.create_seconds)} at best against "
            f"{format_seconds(t.create_seconds)} for a thread. {rss_note}.")
    if cheap.memory_bytes >= 10 * t.memory_bytes:
        return Verdict(CLAIMS["process cost"], "right",
                       f"the cheapest child ({cheap.name}) holds "
                       f"{_times(cheap.memory_bytes, t.memory_bytes)} a thread's memory: {body}")
    return Verdict(CLAIMS["process cost"], "depends",
                   f"the cheapest child ({cheap.name}) holds less than 10x a thread's memory: {body}")


def _stopped_by_budget(row: CostRow) -> bool:
    """True when the sweep ran out of its own count or time budget, not of the machine."""
    return row.max_count_limit in ("cap", "time")


def _counts(procs: Sequence[CostRow], t: CostRow, task: CostRow | None, cpus: int) -> list[Verdict]:
    """Judge "~10 processes / ~100 threads / 1000+ coroutines" against what stayed alive.

    A sweep that its own cap or clock stopped gives a lower bound, not a limit: on a loaded
    machine it reaches fewer, so such a sweep can only make a count claim "depends", never
    "right"; "right" needs the machine itself (memory, an OS error) to stop the sweep early.
    """
    out = []
    p = max(procs, key=lambda r: r.max_count)
    alive = f"{p.max_count:,} idle {p.name} children stayed alive at once (stopped by {p.max_count_limit})"
    if p.max_count >= 20 or _stopped_by_budget(p):
        out.append(Verdict(CLAIMS["process count"], "depends", (
            f"as a limit it is wrong: {alive}, and the sweep's own budget, not the machine, "
            f"stopped it. As advice it is right: only {cpus} run Python code at once on this "
            f"machine, so a pool for CPU-bound work needs about one per usable core.")))
    else:
        out.append(Verdict(CLAIMS["process count"], "right", f"only {alive}."))
    alive = (f"{t.max_count:,} idle threads stayed alive at once (stopped by {t.max_count_limit}), "
             f"each holding {format_bytes(t.memory_bytes)}")
    if t.max_count >= 500:
        out.append(Verdict(CLAIMS["thread count"], "wrong", (
            f"{alive}: five times the claim or more. Memory is not the limit; creation time "
            f"and OS limits (ulimit -u, kernel.threads-max) are.")))
    elif t.max_count < 200 and not _stopped_by_budget(t):
        out.append(Verdict(CLAIMS["thread count"], "right", f"{alive}."))
    else:
        out.append(Verdict(CLAIMS["thread count"], "depends", (
            f"{alive}: more than the claim, and the true limit may be higher still.")))
    if task is not None:
        alive = (f"{task.max_count:,} idle asyncio tasks stayed alive at once (stopped by "
                 f"{task.max_count_limit}), each holding {format_bytes(task.memory_bytes)}")
        verdict = "right" if task.max_count >= 1000 else "wrong"
        out.append(Verdict(CLAIMS["coroutine count"], verdict, f"{alive}."))
    return out


def _parallel(gil: GilRow) -> list[Verdict]:
    """Judge the CPU column: threads under the GIL, processes on several cores.

    Threads are judged on cores busy, which the GIL caps at 1 under any load; processes on
    either figure, since load can only lower both.
    """
    threads = (f"{gil.workers} threads ran CPU-bound pure-Python work {gil.thread_speedup:.2f}x "
               f"as fast as 1, keeping {gil.thread_cores:.2f} cores busy "
               f"(GIL on: {'yes' if gil.gil_enabled else 'no'})")
    if gil.thread_cores < 1.3:
        tv = Verdict(CLAIMS["threads in parallel"], "right", f"{threads}: no parallelism.")
    elif gil.thread_cores >= 1.6:
        tv = Verdict(CLAIMS["threads in parallel"], "wrong", (
            f"{threads}: they ran in parallel, as on a free-threaded build with the GIL off."))
    else:
        tv = Verdict(CLAIMS["threads in parallel"], "depends", f"{threads}: between none and full.")
    procs = (f"{gil.workers} {gil.start_method} processes ran the same work "
             f"{gil.process_speedup:.2f}x as fast as 1, keeping {gil.process_cores:.2f} cores "
             f"busy, with {gil.cpus_usable} usable cores")
    if gil.cpus_usable < 2:
        pv = Verdict(CLAIMS["processes in parallel"], "depends",
                     f"{procs}: with one usable core nothing runs in parallel.")
    elif gil.process_speedup >= 1.25 or gil.process_cores >= 1.4:
        pv = Verdict(CLAIMS["processes in parallel"], "right", f"{procs}.")
    elif gil.load_average is not None and gil.load_average >= gil.cpus_usable:
        pv = Verdict(CLAIMS["processes in parallel"], "depends", (
            f"{procs}: less than expected, because the machine was busy (load average "
            f"{gil.load_average:.1f} on {gil.cpus_usable} cores), so no core was free for the "
            f"second process; rerun on a quieter machine."))
    else:
        pv = Verdict(CLAIMS["processes in parallel"], "depends", (
            f"{procs}: less than expected; something else (another program, a CPU quota the "
            f"machine report cannot see) took the second core."))
    return [tv, pv]


def verdicts(rows: Sequence[CostRow], gil: GilRow | None = None, *,
             cpus: int | None = None) -> Verdicts:
    """Judge each of the article's claims against measured rows (and the GIL row, if given).

    The verdict depends only on the rows: the same rows always give the same verdicts, and
    the thresholds sit far from typical values (see the module docstring), so two runs on one
    machine agree. The exception is honest: whether processes ran in parallel depends on
    whether other programs left a core free, and that verdict's *why* says so. Claims whose
    rows are missing are skipped.

    Args:
        rows: a ``CostTable`` or any sequence of ``CostRow``.
        gil: the GIL row from ``gil_speedups()``, for the two parallelism claims.
        cpus: usable cores, for the process-count advice (default: ``machine.usable_cpus()``,
            or the GIL row's).

    Returns:
        ``Verdicts``: a list of ``Verdict(claim, verdict, why)`` that displays as a table.
    """
    by_model: dict[str, list[CostRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    one = {model: found[0] for model, found in by_model.items()}
    thread, task, procs = one.get("thread"), one.get("asyncio task"), by_model.get("process", [])
    units = [one[m] for m in ("generator", "coroutine") if m in one]
    if cpus is None:
        from conclab import machine

        cpus = gil.cpus_usable if gil is not None else machine.usable_cpus()
    out = Verdicts()
    if thread is not None:
        out.append(_thread_memory(thread))
    if "coroutine" in one:
        out.append(_coroutine_memory(one["coroutine"], task))
    if units:
        out.append(_coroutine_switch(units, task))
    if procs and thread is not None:
        out.append(_process_cost(procs, thread))
        out.extend(_counts(procs, thread, task, cpus))
    if gil is not None:
        out.extend(_parallel(gil))
    return out
