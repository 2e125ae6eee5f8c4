"""The asyncio task row: idle tasks on a fresh event loop, handing over through the loop.

Unlike a bare coroutine, a task costs its ``Task`` object, a future and a waiter on top of the
coroutine, and each hand-over goes through the loop's ready queue. The least a hand-over can
be is two tasks taking turns with ``await asyncio.sleep(0)``; an ``asyncio.Queue`` ping-pong
adds the queue's futures and waiters, the channel's own cost. The whole probe runs in a new
loop on a helper thread (``lifecycle.run_in_fresh_loop``), so it works the same from a script
and from a notebook.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc

from ._memory import _rss
from ._plans import _TIMEOUT, _Budget, _median_count, _Plan
from ._rows import CostRow

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


async def _take_turns(rounds: int) -> None:
    """Give the loop up ``rounds`` times: with two of these, each yield hands over to the other."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def _task_switch(rounds: int) -> float:
    """One hand-over between two tasks taking turns with ``sleep(0)``: nothing but the loop."""
    async with asyncio.timeout(_TIMEOUT):
        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            group.create_task(_take_turns(rounds))
            group.create_task(_take_turns(rounds))
        return (time.perf_counter() - start) / (2 * rounds)


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


async def _task_probe(plan: _Plan) -> CostRow:
    """The asyncio task row (run it on a fresh loop: ``run_in_fresh_loop(_task_probe, plan)``)."""
    kind = "asyncio task"
    n = plan.population[kind]
    memory = [await _task_population(plan.traced, traced=True) for _ in range(plan.repeats)]
    create = [await _task_population(n, traced=False) for _ in range(plan.repeats)]
    switch = [await _task_switch(plan.rounds[kind]) for _ in range(plan.repeats)]
    channel = [await _task_pingpong(plan.rounds[kind]) for _ in range(plan.repeats)]
    counts = [await _task_sweep(plan.cap[kind], plan.sweep_seconds[kind], plan.sweep_bytes)
              for _ in range(plan.sweeps)]
    count, limit = _median_count(counts)
    return CostRow(kind, None, statistics.median(memory), "tracemalloc", statistics.median(create),
                   statistics.median(switch), "sleep(0) in turn", count, limit,
                   repeats=plan.repeats, channel_seconds=statistics.median(channel),
                   channel_method="asyncio.Queue")
