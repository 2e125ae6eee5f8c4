"""The generator and bare-coroutine rows: units that are plain objects, switched by ``send()``.

No event loop and no thread is involved: a unit is primed (started and suspended at its first
hand-over), its memory is what ``tracemalloc`` sees allocated for it, and one ``send()`` is a
round trip into the unit and back out, two hand-overs. The bare coroutine awaits one
generator-based awaitable for its whole life, so a round trip allocates nothing: each
``send()`` passes through the coroutine's ``await`` into that awaitable's ``yield`` and back,
exactly as an asyncio task's step passes through its chain of awaits.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
import types
from collections.abc import Callable, Generator
from typing import Any

from ._memory import _rss
from ._plans import _Budget, _median_count, _Plan
from ._rows import CostRow

def _echo_generator() -> Generator[Any, Any, None]:
    """A generator that yields back whatever it is sent."""
    value = None
    while True:
        value = yield value


@types.coroutine
def _hand_back() -> Generator[Any, Any, None]:
    """An awaitable that hands back whatever it is sent, for as long as it is awaited."""
    value = None
    while True:
        value = yield value


async def _echo_coroutine() -> None:
    """A bare coroutine (no event loop), suspended in one ``await`` for its whole life."""
    await _hand_back()


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


def _object_probe(kind: str, plan: _Plan) -> CostRow:
    """The row of primed generators (``kind="generator"``) or bare coroutines ("coroutine")."""
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
            # Three short bursts per repeat, each well under an OS time slice: on a busy
            # machine a burst that spans a deschedule is slower, and the median leaves it out.
            send = units[0].send
            for _ in range(3):
                start = time.perf_counter()
                for i in range(rounds):
                    send(i)
                # A send is a round trip: into the unit and back out, two hand-overs.
                switch.append((time.perf_counter() - start) / rounds / 2)
        finally:
            for unit in units:
                unit.close()
    count, limit = _median_count([_object_sweep(kind, plan) for _ in range(plan.sweeps)])
    return CostRow(kind, None, statistics.median(memory), "tracemalloc", statistics.median(create),
                   statistics.median(switch), "send() / 2", count, limit, repeats=plan.repeats)


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
