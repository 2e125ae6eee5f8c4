"""The thread row: idle OS threads, measured by RSS deltas and a ``threading.Event`` ping-pong.

A thread reserves its whole stack as address space (``VMS``) but holds in RAM only the pages it
touches (``RSS``); the row keeps both, since the gap between them is what the article's
"~8 MB per thread" misses. Every thread started here is joined before a function returns.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Iterable

import psutil

from ._memory import _rss
from ._plans import _LIFETIME, _TIMEOUT, _Budget, _median_count, _Plan
from ._rows import CostRow

def _release(event: threading.Event, threads: Iterable[threading.Thread]) -> None:
    """Set the event the threads wait on, then join each of them."""
    event.set()
    for thread in threads:
        thread.join(_TIMEOUT)


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
        _release(stop, threads)


def _thread_echo(ping: threading.Event, pong: threading.Event, done: list[bool]) -> None:
    """The far side of a thread ping-pong: wait for ping, answer pong, until told to stop."""
    while ping.wait(_TIMEOUT) and not done[0]:
        ping.clear()  # cleared before answering, so the next ping cannot be missed
        pong.set()


def _thread_pingpong(rounds: int) -> float:
    """One hand-over between two threads, from a threading.Event ping-pong."""
    ping, pong, done = threading.Event(), threading.Event(), [False]
    echo = threading.Thread(target=_thread_echo, args=(ping, pong, done),
                            name="conclab-costs-echo")
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
        _release(ping, [echo])


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
    switch = [_thread_pingpong(plan.rounds["thread"]) for _ in range(plan.repeats)]
    count, limit = _median_count([_thread_sweep(plan) for _ in range(plan.sweeps)])
    return CostRow(
        "thread", None, statistics.median(p[0] for p in population), "RSS delta (psutil)",
        statistics.median(p[2] for p in population), statistics.median(switch),
        "threading.Event ping-pong / 2", count, limit,
        virtual_bytes=statistics.median(p[1] for p in population), repeats=plan.repeats)
