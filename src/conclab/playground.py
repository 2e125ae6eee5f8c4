"""The Playground: run one workload on one concurrency model, watch it live, read what it did.

Pick a model (process, thread, coroutine), a workload (CPU, I/O, mixed), a number of workers
and the size of each worker's share, then press run. The timeline fills in while the run goes,
with per-core CPU use beside it; then the same work runs again in **one** worker, for
comparison, and the summary gives figures that are all measured in that one press:

1. **parallelism**: how many workers were running at once, on average: the trace's "run"
   spans summed over the workers, over the elapsed time (exact by construction: a span is
   recorded only where the worker was seen executing);
2. **speed-up**: the one-worker run's time over the N-worker run's time, for the same work;
3. **the ideal here**: what this model allows on this machine for this workload: CPU work can
   run on ``min(workers, usable cores)`` processes at once, on one thread at a time under the
   GIL, on one coroutine at a time in a loop; waits overlap in every model. For mixed work the
   CPU share (measured in the one-worker run) decides: with ``k`` able to run at once, N
   workers need at least ``max(1, N x share / k)`` times one worker's time.

Nothing shown depends on the calibration (``workloads.calibrate``): it only sizes the work.
When a figure is surprising (a speed-up below 1, above the ideal, or well below it) the summary
says in words why. Design principles:

1. Drawing must not distort what it draws. The live picture is an SVG string
   (``plots.SvgTimeline``) in an ``HTML`` widget, rebuilt a few times a second at a cost that
   does not grow with the run; between redraws the caller sleeps in ``Thread.join(timeout)``,
   which releases the GIL.
2. Core ipywidgets only: the book shows the saved final picture with no kernel. The run button
   says it needs one (``widgets.needs_kernel``).
3. Code can do everything a reader can click: ``Playground().run(...)`` returns the ``Trace``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as ipw
import psutil

from conclab import lifecycle, machine, plots, workloads
from conclab.hooks import Tee, clock
from conclab.trace import Trace
from conclab.widgets import needs_kernel
from conclab.workloads import KINDS, MODELS

if TYPE_CHECKING:
    from conclab.workloads import RunResult

__all__ = ["MAX_WORKERS", "SECONDS_RANGE", "RunSummary", "capacity", "Playground",
           "PlaygroundStatistics", "cpu_svg"]

MAX_WORKERS = 16
SECONDS_RANGE = (0.01, 30.0)  # each worker's share, in seconds: what the seconds box accepts
_NAMES = {"cpu": "CPU", "io": "I/O", "mixed": "mixed"}
_CLOSE = 0.9  # a speed-up under 0.9 of the ideal is "well below"; over 1/0.9 "above"


def capacity(model: str, workers: int, cores: int, gil: bool) -> int:
    """How many workers of ``model`` can run Python code at the same moment here."""
    if model == "process" or (model == "thread" and not gil):
        return max(1, min(workers, cores))
    return 1  # threads under the GIL, coroutines in one loop


@dataclass(frozen=True)
class RunSummary:
    """The figures under a Playground run, all measured in the same press of the button.

    Attributes:
        model, workload, workers: what ran.
        elapsed: seconds the N workers took.
        serial_elapsed: seconds one worker took for the same work.
        busy: seconds of running, summed over the N workers (from the trace).
        cpu_share: share of the one-worker run spent on CPU work (1 for CPU work, 0 for I/O,
            for mixed work the wall time of its CPU phases in the one-worker run's trace).
        capacity: how many workers can run Python code at once here (``capacity()``).
        cores: usable cores.
    """

    model: str
    workload: str
    workers: int
    elapsed: float
    serial_elapsed: float
    busy: float
    cpu_share: float
    capacity: int
    cores: int

    @property
    def parallelism(self) -> float:
        """Workers running at the same moment, on average (run spans over elapsed time)."""
        return self.busy / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def speedup(self) -> float:
        """The one-worker time over the N-worker time for the same work: 1 is no gain."""
        return self.serial_elapsed / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ideal(self) -> float:
        """The best speed-up this model allows here for this work (see the module docstring)."""
        return self.workers / max(1.0, self.workers * self.cpu_share / self.capacity)

    def why(self) -> str:
        """The ideal explained, and, if the speed-up is surprising, why it came out so."""
        return " ".join(part for part in (self._why_ideal(), self._why_surprise()) if part)

    def _why_ideal(self) -> str:
        """Why the ideal is what it is, for this model and workload."""
        n, k = self.workers, self.capacity
        at_once = {"process": f"{k} of {n} processes can run at once on {self.cores} usable "
                              f"core{'s' if self.cores != 1 else ''}",
                   "thread": (f"{k} thread{'s' if k != 1 else ''} can run Python code at once"
                              + (" (the GIL)" if k == 1 else "")),
                   "coroutine": "one coroutine runs at a time in one event loop"}[self.model]
        if self.workload == "io":
            return f"Waiting overlaps in every model, so the ideal is {n}."
        if self.workload == "cpu":
            return f"For CPU work the ideal is {self.ideal:.3g}: {at_once}."
        return (f"About {self.cpu_share:.0%} of the work is CPU (measured in the one-worker "
                f"run) and the rest waiting, which overlaps; {at_once}, so the ideal is "
                f"{self.ideal:.2f}.")

    def _why_surprise(self) -> str:
        """Words for a speed-up below 1, above the ideal, or well below it; else nothing."""
        s, ideal = self.speedup, self.ideal
        if s > ideal / _CLOSE:
            return ("The speed-up is above the ideal: the one-worker run must have been slowed "
                    "by something else (another program took the CPU while it ran); run again.")
        if s < 1 and ideal <= 1 / _CLOSE:
            return (f"Below 1 ({s:.2f}x): with nothing to gain here, {self.workers} workers did "
                    f"the same work plus the cost of starting them and switching between them.")
        if s < ideal * _CLOSE:
            cost = {"process": "starting the processes and other programs holding cores",
                    "thread": "hand-overs of the GIL and waiting for it after each sleep",
                    "coroutine": "CPU work holding the loop while others' waits had ended"}
            return (f"Below the ideal: {cost[self.model]} took the difference "
                    f"({s:.2f}x of {ideal:.2f}x).")
        return ""

    def html(self) -> str:
        """The summary as the Playground shows it."""
        return (f"<b>{self.workers} workers: {self.elapsed:.3f} s; one worker, same work: "
                f"{self.serial_elapsed:.3f} s; speed-up {self.speedup:.2f}x "
                f"(ideal here {self.ideal:.3g})</b><br>"
                f"running at once, on average: {self.parallelism:.2f} workers (time spent "
                f"running over elapsed time, from the timeline)<br>{escape(self.why())}")


def summarise(result: RunResult, trace: Trace, serial: RunResult, serial_trace: Trace,
              cores: int | None = None, gil: bool | None = None) -> RunSummary:
    """The ``RunSummary`` of an N-worker run and the one-worker run of the same work."""
    cores = machine.usable_cpus() if cores is None else cores
    gil = machine.gil_enabled() if gil is None else gil
    busy = sum(trace.busy_time(w) for w in trace.workers)
    if result.workload == "mixed":  # measured: the calibration may be off
        # The CPU phases' wall time (their run spans and the gaps between them, all labelled
        # "cpu"), not the run spans alone: on a busy machine the worker also waits for a core
        # inside a CPU phase, and that time belongs to the CPU share, not to the waiting.
        cpu_wall = sum(s.duration for s in serial_trace.spans if s.label == "cpu")
        share = min(1.0, cpu_wall / serial.elapsed) if serial.elapsed > 0 else 0.5
    else:
        share = 1.0 if result.workload == "cpu" else 0.0
    return RunSummary(result.model, result.workload, result.workers, result.elapsed,
                      serial.elapsed, busy, share,
                      capacity(result.model, result.workers, cores, gil), cores)


def cpu_svg(samples: Sequence[Sequence[float]], *, width: int = 150, height: int = 150) -> str:
    """Per-core CPU use as an SVG bar chart: the latest sample as a bar, the run's mean as a tick.

    Args:
        samples: ``psutil.cpu_percent(percpu=True)`` readings, oldest first.
        width: pixel width; height: pixel height.
    """
    cores = len(samples[-1]) if samples else psutil.cpu_count() or 1
    last = samples[-1] if samples else [0.0] * cores
    means = [statistics.fmean(s[i] for s in samples) if samples else 0.0 for i in range(cores)]
    top, bottom = 18, 32
    plot_h = height - top - bottom
    slot = (width - 10) / cores
    bar_w = min(slot * 0.6, 28)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<text x="{width / 2}" y="12" text-anchor="middle" fill="#444">cpu use per core</text>']
    for i in range(cores):
        x = 5 + slot * i + (slot - bar_w) / 2
        h = plot_h * min(last[i], 100.0) / 100
        y_mean = top + plot_h * (1 - min(means[i], 100.0) / 100)
        out.append(f'<rect x="{x:.1f}" y="{top}" width="{bar_w:.1f}" height="{plot_h}" '
                   'fill="#f2f2f2"/>'
                   f'<rect class="core" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                   f'height="{h:.1f}" fill="#1f77b4"/>'
                   f'<line x1="{x - 3:.1f}" y1="{y_mean:.1f}" x2="{x + bar_w + 3:.1f}" '
                   f'y2="{y_mean:.1f}" stroke="#d62728" stroke-width="2"/>'
                   f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 13}" text-anchor="middle">'
                   f'{i}</text>')
    out.append(f'<text x="{width / 2}" y="{height - 4}" text-anchor="middle" fill="#444">'
               'bar: now, red: mean</text></svg>')
    return "".join(out)


@dataclass(frozen=True)
class PlaygroundStatistics:
    """What live drawing did during a Playground's last run.

    Attributes:
        frames: live redraws during the run (the final picture is not counted).
        draw_seconds: time spent building and setting those frames, holding the GIL.
        elapsed: the run's elapsed time, from ``RunResult``.
    """

    frames: int
    draw_seconds: float
    elapsed: float

    @property
    def share(self) -> float:
        """Fraction of the run spent drawing: an upper bound on what drawing took from it."""
        return self.draw_seconds / self.elapsed if self.elapsed > 0 else 0.0


class Playground(ipw.VBox):
    """A control panel for running one workload on one concurrency model and watching it live.

    See the module docstring for what the summary measures. ``run()`` does from code what the
    button does and returns the N-worker run's ``Trace``; it blocks the caller until the run
    and its one-worker comparison end (the work runs in a background thread while the caller
    redraws), so a run never outlives its cell.

    Args:
        refresh: seconds between live redraws.
        start_method: multiprocessing start method for the process model (default: the
            course's, ``lifecycle.default_start_method()``).
        live: redraw during the run (off: only the final picture is drawn).
    """

    def __init__(self, *, refresh: float = 0.2, start_method: str | None = None,
                 live: bool = True) -> None:
        self.model_choice = ipw.Dropdown(options=list(MODELS), value="thread",
                                         description="model")
        self.workload_choice = ipw.Dropdown(options=[(_NAMES[w], w) for w in KINDS],
                                            value="cpu", description="workload")
        self.workers_choice = ipw.IntSlider(value=2, min=1, max=MAX_WORKERS,
                                            description="workers")
        self.seconds_choice = ipw.BoundedFloatText(value=0.2, min=SECONDS_RANGE[0],
                                                   max=SECONDS_RANGE[1], step=0.05,
                                                   description="seconds")
        self.run_button = ipw.Button(description="run", icon="play", button_style="primary")
        self.timeline_view = ipw.HTML(plots.timeline_svg([], span=0.2,
                                                         workers=["thread-0", "thread-1"]))
        self.cpu_view = ipw.HTML(cpu_svg([]))
        self.status_view = ipw.HTML("press run")
        for control in (self.model_choice, self.workload_choice, self.workers_choice,
                        self.seconds_choice):
            control.layout = ipw.Layout(width="230px")
            control.style = {"description_width": "70px"}
        wrap = ipw.Layout(flex_flow="row wrap")
        super().__init__([
            ipw.HBox([self.model_choice, self.workload_choice, self.workers_choice], layout=wrap),
            ipw.HBox([self.seconds_choice, needs_kernel(self.run_button)], layout=wrap),
            ipw.HBox([self.timeline_view, self.cpu_view], layout=wrap),
            self.status_view,
        ])
        if not (isinstance(refresh, (int, float)) and refresh > 0):
            raise ValueError(f"refresh must be a number of seconds > 0 between redraws, "
                             f"not {refresh!r}")
        if start_method is not None:
            lifecycle.get_context(start_method)  # refuses one this platform lacks, now
        self.refresh, self.start_method, self.live = refresh, start_method, live
        self.trace: Trace | None = None
        self.baseline: Trace | None = None
        self.result: RunResult | None = None
        self.summary: RunSummary | None = None
        self.cpu_samples: list[list[float]] = []
        self._frames, self._draw_seconds = 0, 0.0
        self.run_button.on_click(self._clicked)

    def run(self, model: str = "thread", workload: str = "cpu", workers: int = 2,
            seconds: float = 0.2, *, compare: bool = True, timeout: float = 60.0) -> Trace:
        """Run ``workers`` workers of ``model`` doing ``workload``, drawing live; return the trace.

        The controls are set to the arguments first, so the widget shows what ran. Then one
        worker does the same work, for the speed-up; ``summary`` holds the figures. With
        ``compare=False`` that second run is skipped (and there is no summary).

        Raises:
            ValueError: for an unknown model or workload, workers outside 1-16 or seconds
                outside ``SECONDS_RANGE``.
            TimeoutError: if a run did not end within ``timeout`` seconds.
        """
        _check(model, workload, workers, seconds)
        self.model_choice.value, self.workload_choice.value = model, workload
        self.workers_choice.value, self.seconds_choice.value = workers, seconds
        self.run_button.disabled = True
        try:
            trace = self._run_live(model, workload, workers, seconds, timeout)
            if not compare:
                assert self.result is not None
                self.status_view.value = f"<b>{workers} workers: {self.result.elapsed:.3f} s</b>"
                return trace
            self.status_view.value = "now one worker does the same work, for comparison ..."
            self.baseline = Trace()
            serial = workloads.run(model, workload, workers, seconds=seconds, serial=True,
                                   observer=self.baseline, start_method=self.start_method,
                                   timeout=timeout)
            assert self.result is not None
            self.summary = summarise(self.result, trace, serial, self.baseline)
            self.status_view.value = self.summary.html()
            return trace
        except BaseException as exc:
            self.status_view.value = (f'<span style="color:#b00">failed: '
                                      f'{escape(repr(exc))}</span>')
            raise
        finally:
            self.run_button.disabled = False

    def _clicked(self, _: ipw.Button) -> None:
        """Run with the values in the controls (the button's handler)."""
        try:
            self.run(self.model_choice.value, self.workload_choice.value,
                     self.workers_choice.value, self.seconds_choice.value)
        except Exception as exc:  # a handler's exception would only reach the kernel's log
            self.status_view.value = (f'<span style="color:#b00">failed: '
                                      f'{escape(repr(exc))}</span>')

    def _run_live(self, model: str, workload: str, workers: int, seconds: float,
                  timeout: float) -> Trace:
        """Run the N workers in a background thread and redraw from this one until they end."""
        trace, origin = Trace(), clock()
        # The live picture is fed the same spans as the trace, as they are reported, and only
        # folds in the new ones at each redraw: a frame costs the same late in a run as early.
        view = plots.SvgTimeline(origin=origin, span=seconds * 1.2,
                                 workers=[f"{model}-{i}" for i in range(workers)])
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = workloads.run(
                    model, workload, workers, seconds=seconds, observer=Tee(trace, view),
                    start_method=self.start_method, timeout=timeout)
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc

        self.trace, self.result, self.summary, self.cpu_samples = trace, None, None, []
        self._frames, self._draw_seconds = 0, 0.0
        runner = threading.Thread(target=work, name="conclab-playground", daemon=True)
        self._watch(runner, view, origin, timeout)
        if "error" in outcome:
            raise outcome["error"]
        self.result = outcome["result"]
        view.span_seconds = max(clock() - origin, self.result.elapsed)
        self._draw(view, None)
        return trace

    def _watch(self, runner: threading.Thread, view: plots.SvgTimeline, origin: float,
               timeout: float) -> None:
        """Start ``runner`` and redraw every ``refresh`` seconds until it ends."""
        psutil.cpu_percent(percpu=True)  # the first reading only starts the interval
        runner.start()
        # workloads.run stops everything on its own timeout; the margin covers its clean-up.
        deadline = origin + timeout + 10.0
        while runner.is_alive() and clock() < deadline:
            runner.join(self.refresh)  # sleeps without the GIL
            self.cpu_samples.append(psutil.cpu_percent(percpu=True))
            now = clock() - origin
            if self.live and runner.is_alive():
                while now > view.span_seconds:  # grow by half: the axis rarely jumps
                    view.span_seconds *= 1.5
                self._draw(view, now)
                self.status_view.value = f"running: {now:.2f} s"
        if runner.is_alive():
            raise TimeoutError(f"the run did not end within {timeout} s")

    def statistics(self) -> PlaygroundStatistics:
        """How much live drawing the last run did, and what it cost (see ``bench.playground``)."""
        elapsed = self.result.elapsed if self.result is not None else 0.0
        return PlaygroundStatistics(self._frames, self._draw_seconds, elapsed)

    def _draw(self, view: plots.SvgTimeline, now: float | None) -> None:
        """Redraw the timeline (with a cursor at ``now``, if live) and the CPU bars."""
        began = time.perf_counter()
        self.timeline_view.value = view.render(now)
        self.cpu_view.value = cpu_svg(self.cpu_samples)
        if now is not None:  # only live frames compete with the run; the final one follows it
            self._frames += 1
            self._draw_seconds += time.perf_counter() - began


def _check(model: str, workload: str, workers: int, seconds: float) -> None:
    """Refuse what the controls would not accept, saying what is allowed."""
    workloads.check_kind(model, workload)
    if not (isinstance(workers, int) and 1 <= workers <= MAX_WORKERS):
        raise ValueError(f"workers must be an int from 1 to {MAX_WORKERS}, not {workers!r}")
    if not SECONDS_RANGE[0] <= seconds <= SECONDS_RANGE[1]:
        raise ValueError(f"seconds must be from {SECONDS_RANGE[0]} to {SECONDS_RANGE[1]}, "
                         f"not {seconds!r}")
