"""Benchmarks of the Playground: what watching a run costs it, and what its figures show.

``playground.parallelism.<model>``: the Playground's "running at once" for 2 CPU-bound
workers, median of repeats, held to what each model allows: coroutines at most 1.05 (one at a
time in one loop), threads at most 1.10 on a GIL build (one at a time), processes at least
0.8 x min(2, cores left free by other programs during the runs, from psutil).

``playground.overhead``: what watching a run live costs the run being watched.

The Playground promises that drawing does not distort what it draws. This holds it to that:
the same CPU-bound work (2 threads of ``workloads.spin``, which share the GIL with the
drawing) runs untraced, and traced into a ``Trace`` while a ``Playground`` redraws it live,
alternately, and the median ratio of adjacent pairs is reported (1.0 = free; the course's
bound is 1.10, the goal). On a machine busy with other work, wall time moves by more than that from
run to run, so two steadier views follow: ``playground.overhead_cpu``, the same ratio for this
process's CPU time (the extra work done, which other processes hardly move), and
``playground.redraw``, the time the redraws themselves took, as a share of the run.

Outside a kernel a widget sends nothing, so each redraw here also serialises the new
picture to JSON, as the kernel would before sending it to the browser: the measured cost is
not flattered by the missing front end.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass

from conclab.bench import Result
from conclab.hooks import clock

__all__ = ["Overhead", "run", "measure_overhead"]


@dataclass(frozen=True)
class Overhead:
    """Wall times of the traced (drawn live) and untraced runs, and what the drawing cost."""

    traced: tuple[float, ...]
    untraced: tuple[float, ...]
    traced_cpu: tuple[float, ...]
    untraced_cpu: tuple[float, ...]
    frames: int
    draw_seconds: float
    run_seconds: float

    @property
    def ratio(self) -> float:
        """Median over pairs of adjacent runs of traced / untraced: 1.0 means watching was free.

        Each pair ran back to back, so a burst of load from elsewhere on the machine usually
        hits both of its runs; the median then drops the pairs that one burst split.
        """
        return statistics.median(t / u for t, u in zip(self.traced, self.untraced))

    @property
    def cpu_ratio(self) -> float:
        """The same for this process's CPU time: the extra work, which other load hardly moves."""
        return statistics.median(t / u for t, u in zip(self.traced_cpu, self.untraced_cpu))


def measure_overhead(*, seconds: float, repeats: int, refresh: float = 0.2,
                     workers: int = 2) -> Overhead:
    """Time the same work untraced and traced with live redraws, alternately.

    Args:
        seconds: each worker's work (seconds when run alone).
        repeats: how many runs of each kind; the kinds alternate, so drift hits both.
        refresh: the Playground's redraw interval.
        workers: how many threads.
    """
    from conclab import workloads
    from conclab.playground import Playground

    def serialise(change: dict) -> None:
        """Do what the kernel does with a changed widget value: make JSON of it."""
        json.dumps({"method": "update", "state": {"value": change["new"]}})

    playground = Playground(refresh=refresh)
    playground.timeline_view.observe(serialise, names="value")
    playground.cpu_view.observe(serialise, names="value")
    workloads.calibrate()
    warm_up = max(seconds / 10, 0.01)  # a short run of each first: imports, first spans
    workloads.run("thread", "cpu", workers, seconds=warm_up)
    playground.run("thread", "cpu", workers, warm_up, compare=False)
    traced: list[float] = []
    untraced: list[float] = []
    traced_cpu: list[float] = []
    untraced_cpu: list[float] = []
    frames, draw, ran = 0, 0.0, 0.0
    for i in range(repeats):
        # ABBA order: on a machine whose load drifts, neither kind always goes first.
        for kind in ("untraced", "traced") if i % 2 == 0 else ("traced", "untraced"):
            t0, cpu0 = clock(), time.process_time()
            if kind == "untraced":
                workloads.run("thread", "cpu", workers, seconds=seconds)
                untraced.append(clock() - t0)
                untraced_cpu.append(time.process_time() - cpu0)
            else:
                playground.run("thread", "cpu", workers, seconds, compare=False)
                traced.append(clock() - t0)
                traced_cpu.append(time.process_time() - cpu0)
                stats = playground.statistics()
                frames += stats.frames
                draw, ran = draw + stats.draw_seconds, ran + stats.elapsed
    return Overhead(tuple(traced), tuple(untraced), tuple(traced_cpu), tuple(untraced_cpu),
                    frames, draw, ran)


def measure_parallelism(model: str, *, seconds: float, repeats: int) -> tuple[float, float]:
    """Median Playground parallelism of 2 CPU-bound workers, and the cores others kept busy."""
    import psutil

    from conclab import machine
    from conclab.playground import Playground

    playground, found = Playground(live=False), []
    others = []
    for _ in range(repeats):
        before, wall0, cpu0 = psutil.cpu_times(), clock(), time.process_time()
        children0 = _children_cpu()
        playground.run(model, "cpu", 2, seconds)
        assert playground.summary is not None
        found.append(playground.summary.parallelism)
        wall = clock() - wall0
        ours = time.process_time() - cpu0 + _children_cpu() - children0
        after = psutil.cpu_times()
        busy = sum(after) - after.idle - (sum(before) - before.idle)
        others.append(max(0.0, (busy - ours) / wall))
    free = max(0.0, machine.usable_cpus() - statistics.median(others))
    return statistics.median(found), free


def _children_cpu() -> float:
    """CPU seconds of this process's children so far (finished ones included)."""
    import os

    t = os.times()
    return t.children_user + t.children_system


def run(quick: bool) -> list[Result]:
    """Measure the Playground's parallelism per model, its overhead and its redraw cost."""
    from conclab import machine

    results = []
    repeats = 5 if quick else 9
    for model, goal in (("coroutine", "<= 1.05"), ("thread", "<= 1.10"), ("process", None)):
        if model == "thread" and not machine.gil_enabled():
            goal = None  # free-threaded with the GIL off: threads may run at once
        p, free = measure_parallelism(model, seconds=0.15, repeats=repeats)
        if goal is None:
            goal = f">= {0.8 * min(2.0, free):.2f}"
        results.append(Result(f"playground.parallelism.{model}", p, "workers",
                              f"2 CPU-bound workers, median of {repeats}; cores left free by "
                              f"other programs: {free:.2f}", p, goal=goal))
    seconds, repeats = (0.3, 9) if quick else (1.0, 11)
    o = measure_overhead(seconds=seconds, repeats=repeats)
    traced, untraced = statistics.median(o.traced), statistics.median(o.untraced)
    return results + [
        Result("playground.overhead", traced, "s",
               f"untraced {untraced:.3f} s: 2 threads x spin({seconds}); ratio: median of "
               f"{repeats} adjacent traced/untraced pairs", o.ratio, goal="<= 1.10"),
        Result("playground.overhead_cpu", statistics.median(o.traced_cpu), "s",
               f"untraced {statistics.median(o.untraced_cpu):.3f} s of this process's CPU time; "
               "ratio: median of the same pairs", o.cpu_ratio, goal="<= 1.10"),
        Result("playground.redraw", o.draw_seconds / max(o.frames, 1), "s",
               f"share of run time spent on {o.frames} live redraws",
               o.draw_seconds / o.run_seconds, goal="<= 0.05"),
    ]
