"""How much to measure and when to stop: the quick and full plans, and the budget of a sweep.

Every loop in the package is bounded in count, time and memory (design principle 2): a plan
says how large each population, ping-pong and sweep may grow, and a ``_Budget`` stops a sweep
at the first bound it reaches and says which one it was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

__all__ = ["ROWS", "MiB"]

ROWS = ("generator", "coroutine", "asyncio task", "thread", "process")
"""The kinds of row ``measure()`` knows (not ``workloads.MODELS``: a generator and a bare
coroutine are rows here); "process" gives one row per start method."""

MiB = 2**20
_TIMEOUT = 30.0   # the longest any single blocking call may wait
_LIFETIME = 120.0  # an orphaned child gives up waiting for its parent after this long


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
    """How much to measure: quick (seconds for everything) or full (minutes)."""

    repeats: int
    population: dict[str, int]  # units alive at once while memory and creation are measured
                                # (threads: this many, then this many more, measured)
    traced: int                 # objects alive at once under tracemalloc (slow, exact)
    rounds: dict[str, int]      # ping-pong round trips per repeat (per burst for send():
                                # three bursts a repeat)
    cap: dict[str, int]         # the max_count sweep stops at this count ...
    sweep_seconds: dict[str, float]  # ... or after this long ...
    sweep_bytes: int            # ... or when it holds this much memory
    sweeps: int                 # max_count is the median over this many sweeps


_QUICK = _Plan(
    repeats=3,
    population={"generator": 5_000, "coroutine": 5_000, "asyncio task": 2_000, "thread": 100},
    traced=1_000,
    # A burst of send()s lasts about a millisecond: most run between two deschedules.
    rounds={"generator": 20_000, "coroutine": 20_000, "asyncio task": 1_000, "thread": 300,
            "process": 300},
    # Caps well above the article's counts (1000+, ~100, ~10): enough for every count verdict.
    cap={"generator": 20_000, "coroutine": 20_000, "asyncio task": 10_000, "thread": 1_000,
         "process": 60},
    sweep_seconds={"generator": 0.5, "coroutine": 0.5, "asyncio task": 0.3, "thread": 0.5,
                   "process": 0.4},
    sweep_bytes=512 * MiB, sweeps=1)

_FULL = _Plan(
    repeats=5,
    population={"generator": 50_000, "coroutine": 50_000, "asyncio task": 20_000, "thread": 300},
    traced=5_000,
    rounds={"generator": 50_000, "coroutine": 50_000, "asyncio task": 5_000, "thread": 2_000,
            "process": 2_000},
    cap={"generator": 1_000_000, "coroutine": 1_000_000, "asyncio task": 300_000,
         "thread": 20_000, "process": 300},
    sweep_seconds=dict.fromkeys(ROWS, 4.0), sweep_bytes=2048 * MiB, sweeps=3)


def _median_count(counts: Sequence[tuple[int, str]]) -> tuple[int, str]:
    """The median sweep, with the reason that stopped it."""
    ordered = sorted(counts)
    return ordered[(len(ordered) - 1) // 2]
