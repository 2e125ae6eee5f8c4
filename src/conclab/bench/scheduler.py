"""Benchmark ``scheduler.*``: what a task switch costs in the teaching scheduler, against asyncio.

Chapter 08 claims that a scheduler of a few hundred lines switches tasks faster than asyncio,
because it does less: no futures, no callbacks, no handles. This holds it to that. Two tasks
that each hand control back in a loop (a bare ``yield`` in ``conclab.scheduler``, ``await
asyncio.sleep(0)`` in asyncio) are timed per switch, alternately, in the same run and thread
(a fresh event loop on a helper thread, which also works inside a notebook's kernel); the
result is the median of the per-repeat ratios, with the goal ``<= 0.5``.

For reference, and without a goal, ``scheduler.send_switch`` times the floor under both: one
hand-over between the caller and a generator, half of a ``send()`` round trip (the course's
one definition of a switch, as in chapters 03, 04 and 08): the article's "~100 ns".
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Generator

from conclab import lifecycle
from conclab.bench import Result, median_ratio
from conclab.scheduler import Scheduler

__all__ = ["run", "measure"]

_REPEATS = 5


def _yielder(n: int) -> Generator[None, None, None]:
    """A task that hands control back ``n`` times."""
    for _ in range(n):
        yield


def _ours(n: int) -> float:
    """Seconds per switch of two teaching-scheduler tasks, each yielding ``n`` times."""
    with Scheduler() as s:
        s.spawn(_yielder(n))
        s.spawn(_yielder(n))
        start = time.perf_counter()
        s.run(timeout=60)
        return (time.perf_counter() - start) / (2 * n)


def _send(n: int) -> float:
    """Seconds per hand-over: two generators resumed alternately by hand, each ``send()`` a
    round trip (to the generator and back), so two hand-overs."""
    a, b = _yielder(n), _yielder(n)
    send_a, send_b = a.send, b.send
    start = time.perf_counter()
    for _ in range(n):
        send_a(None)
        send_b(None)
    return (time.perf_counter() - start) / (4 * n)


async def _asyncio(n: int) -> float:
    """Seconds per switch of two asyncio tasks, each awaiting ``sleep(0)`` ``n`` times."""
    async def task() -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    start = time.perf_counter()
    await asyncio.gather(task(), task())
    return (time.perf_counter() - start) / (2 * n)


async def _interleaved(n: int, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Time the three switches ``repeats`` times, one after the other, in this loop's thread."""
    ours, theirs, sends = [], [], []
    for _ in range(repeats):
        ours.append(_ours(n))
        theirs.append(await _asyncio(n))
        sends.append(_send(n))
    return ours, theirs, sends


def measure(switches: int, repeats: int = _REPEATS) -> tuple[list[float], list[float], list[float]]:
    """Seconds per switch, per repeat: (teaching scheduler, asyncio, generator send).

    Args:
        switches: switches per task per repeat.
        repeats: how many times to time each, interleaved.
    """
    return lifecycle.run_in_fresh_loop(_interleaved, switches, repeats, timeout=600).result


def run(quick: bool) -> list[Result]:
    """Time the switches (20,000 per task when quick, 200,000 otherwise), 5 repeats each."""
    ours, theirs, sends = measure(20_000 if quick else 200_000)
    ours_s, sends_s = statistics.median(ours), statistics.median(sends)
    return [
        Result("scheduler.switch_vs_asyncio", ours_s, "s",
               "asyncio switch (await asyncio.sleep(0), two tasks)", median_ratio(ours, theirs),
               goal="<= 0.5"),
        Result("scheduler.send_switch", sends_s, "s",
               "teaching scheduler switch; value: one hand-over, half a send() round trip",
               median_ratio(sends, ours)),
    ]
