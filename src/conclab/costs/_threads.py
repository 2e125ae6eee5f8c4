"""The thread row: idle OS threads, measured by RSS deltas and a one-byte OS-pipe ping-pong.

A thread reserves its whole stack as address space (``VMS``) but holds in RAM only the pages it
touches (``RSS``); the row keeps both, since the gap between them is what the article's
"~8 MB per thread" misses. Memory is the cost of *one more* thread: a first batch of idle
threads absorbs what only the first threads of a process cost (on Linux, glibc creates its
per-thread malloc arenas, up to eight per core and 64 MiB of address space each, and reuses
up to 40 MiB of stacks that ended threads left cached), so it is at least eight threads per
core; the next batch is measured.

A hand-over is timed through the same channel as a process's, one byte each way through an OS
pipe (``_children._echo_bytes`` on the far side); a ``queue.Queue`` ping-pong, the channel a
threaded program would usually use, is timed beside it. Every thread started here is joined
before a function returns.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import statistics
import threading
import time
from collections.abc import Iterable

import psutil

from ._children import _STOP, _byte_pingpong, _echo_bytes, _write_byte
from ._memory import _rss
from ._plans import _LIFETIME, _TIMEOUT, _Budget, _median_count, _Plan
from ._rows import CostRow

def _release(event: threading.Event, threads: Iterable[threading.Thread]) -> None:
    """Set the event the threads wait on, then join each of them."""
    event.set()
    for thread in threads:
        thread.join(_TIMEOUT)


def _start_idle(n: int, stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Start ``n`` threads that wait on ``stop``, appending each to ``threads`` once running."""
    for _ in range(n):
        thread = threading.Thread(target=stop.wait, args=(_LIFETIME,), daemon=True,
                                  name=f"conclab-costs-idle-{len(threads)}")
        thread.start()  # returns once the new thread runs
        threads.append(thread)


def _thread_population(n: int) -> tuple[float, float, float]:
    """RSS and VMS per idle thread, and seconds per ``start()``, of ``n`` more beside a first batch."""
    stop, threads = threading.Event(), []
    me = psutil.Process()
    gc.collect()
    try:
        # The first batch takes the one-time costs (module docstring): one arena per thread
        # until glibc's limit of eight per core, so it must be at least that large.
        _start_idle(max(n, 8 * (os.cpu_count() or 1)), stop, threads)
        before = me.memory_info()
        start = time.perf_counter()
        _start_idle(n, stop, threads)
        create = (time.perf_counter() - start) / n
        after = me.memory_info()
        return (after.rss - before.rss) / n, (after.vms - before.vms) / n, create
    finally:
        _release(stop, threads)


def _thread_switch(rounds: int) -> float:
    """One hand-over between two threads: one byte each way through an OS pipe."""
    inbox, to_echo = multiprocessing.Pipe(duplex=False)    # the echo reads inbox
    from_echo, outbox = multiprocessing.Pipe(duplex=False)  # the echo writes outbox
    echo = threading.Thread(target=_echo_bytes, args=(inbox, outbox), name="conclab-costs-echo")
    echo.start()
    try:
        return _byte_pingpong(to_echo, from_echo, rounds)
    finally:
        _write_byte(to_echo, _STOP)
        echo.join(_TIMEOUT)
        for end in (inbox, to_echo, from_echo, outbox):
            end.close()


def _queue_echo(ping: queue.Queue[int | None], pong: queue.Queue[int]) -> None:
    """The far side of a queue ping-pong: answer every item until None or silence."""
    try:
        while (item := ping.get(timeout=_LIFETIME)) is not None:
            pong.put(item)
    except queue.Empty:
        pass


def _thread_channel(rounds: int) -> float:
    """One hand-over between two threads through a pair of ``queue.Queue``."""
    ping: queue.Queue[int | None] = queue.Queue()
    pong: queue.Queue[int] = queue.Queue()
    echo = threading.Thread(target=_queue_echo, args=(ping, pong), name="conclab-costs-queue")
    echo.start()
    try:
        start = time.perf_counter()
        for i in range(rounds):
            ping.put(i)
            pong.get(timeout=_TIMEOUT)
        return (time.perf_counter() - start) / rounds / 2
    finally:
        ping.put(None)
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
        _release(stop, threads)


def _thread_probe(plan: _Plan) -> CostRow:
    """The thread row."""
    population = [_thread_population(plan.population["thread"]) for _ in range(plan.repeats)]
    switch = [_thread_switch(plan.rounds["thread"]) for _ in range(plan.repeats)]
    channel = [_thread_channel(plan.rounds["thread"]) for _ in range(plan.repeats)]
    count, limit = _median_count([_thread_sweep(plan) for _ in range(plan.sweeps)])
    return CostRow(
        "thread", None, statistics.median(p[0] for p in population), "RSS delta",
        statistics.median(p[2] for p in population), statistics.median(switch),
        "OS pipe, 1 byte", count, limit,
        virtual_bytes=statistics.median(p[1] for p in population), repeats=plan.repeats,
        channel_seconds=statistics.median(channel), channel_method="queue.Queue")
