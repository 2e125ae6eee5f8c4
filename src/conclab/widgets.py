"""Widgets for the notebooks: run a workload and watch it live, or scrub through a recorded one.

``Playground`` runs ``conclab.workloads.run`` on the model, workload and number of workers the
reader picks, and draws the trace while it fills in, with per-core CPU use beside it and the
elapsed time and speed-up at the end. ``Replay`` is a slider over a recorded trace.

Design principles:

1. Drawing must not distort what it draws. Rendering a matplotlib PNG holds the GIL for tens
   of milliseconds, which in a thread trace would show up as waits that the workload never had.
   So the live picture is an SVG string (``plots.SvgTimeline``, fed the spans as they are
   reported) in an ``HTML`` widget, rebuilt a few times a second at a cost that does not grow
   with the run; the caller's thread sleeps in ``Thread.join(timeout)`` in between, which
   releases the GIL.
2. Core ipywidgets only (no ipympl, no custom JavaScript): the book renders the saved widget
   state offline with ``@jupyter-widgets/html-manager``, and an ``HTML`` widget holding an SVG
   is part of that state, so the final picture shows with no kernel.
3. Code can drive everything a reader can click: ``Playground().run(...)`` returns the
   ``Trace``, so an executed notebook shows a real result.

The module is a little over 300 lines: the Playground, its statistics and the Replay follow
the rules above together, and read best side by side.
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

from conclab import plots
from conclab.hooks import Tee, clock
from conclab.workloads import KINDS, MODELS

if TYPE_CHECKING:
    from conclab.trace import Trace

__all__ = ["MAX_WORKERS", "SECONDS_RANGE", "Playground", "PlaygroundStatistics", "Replay",
           "cpu_svg"]

MAX_WORKERS = 16
SECONDS_RANGE = (0.01, 30.0)  # each worker's work, in seconds: what the seconds box accepts
_WORKLOAD_NAMES = {"cpu": "CPU", "io": "I/O", "mixed": "mixed"}


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
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
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

    Pick the model (process, thread, coroutine), the workload (CPU, I/O, mixed), the number of
    workers (1-16) and how many seconds of work each worker does, then press run. While the run
    happens the timeline fills in several times a second, with per-core CPU use beside it; at
    the end the status line gives the elapsed time and the speed-up.

    The speed-up is ``workers * seconds / elapsed``: each worker does work that takes
    ``seconds`` when it runs alone, so the total work takes ``workers * seconds`` on one
    worker; 1.0 means no gain from concurrency, ``workers`` is the ideal.

    ``run()`` does the same from code and returns the ``Trace``. It blocks the caller until the
    run ends: the work runs in a background thread while the caller redraws. A button press
    runs in the kernel's thread the same way, so a run never outlives its cell.

    Args:
        refresh: seconds between live redraws.
        start_method: multiprocessing start method for the process model (default: the
            platform's).
        live: redraw during the run (off, only the final picture is drawn).
    """

    def __init__(self, *, refresh: float = 0.2, start_method: str | None = None,
                 live: bool = True) -> None:
        self.model_choice = ipw.Dropdown(options=list(MODELS), value="thread",
                                             description="model")
        self.workload_choice = ipw.Dropdown(
            options=[(_WORKLOAD_NAMES[w], w) for w in KINDS], value="cpu",
            description="workload")
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
        super().__init__([
            ipw.HBox([self.model_choice, self.workload_choice, self.workers_choice]),
            ipw.HBox([self.seconds_choice, self.run_button]),
            ipw.HBox([self.timeline_view, self.cpu_view]),
            self.status_view,
        ])
        self.refresh = refresh
        self.start_method = start_method
        self.live = live
        self.trace: Trace | None = None
        self.result: Any = None
        self.cpu_samples: list[list[float]] = []
        self._frames, self._draw_seconds = 0, 0.0
        self.run_button.on_click(self._clicked)

    def run(self, model: str = "thread", workload: str = "cpu", workers: int = 2,
            seconds: float = 0.2, *, timeout: float = 60.0) -> Trace:
        """Run ``workers`` workers of ``model`` doing ``workload``, drawing live; return the trace.

        The controls are set to the arguments first, so the widget shows what ran.

        Raises:
            ValueError: for an unknown model or workload, workers outside 1-16 or seconds
                outside ``SECONDS_RANGE``.
            TimeoutError: if the run did not end within ``timeout`` seconds.
        """
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, not {model!r}")
        if workload not in KINDS:
            raise ValueError(f"workload must be one of {KINDS}, not {workload!r}")
        if not (isinstance(workers, int) and 1 <= workers <= MAX_WORKERS):
            raise ValueError(f"workers must be an int from 1 to {MAX_WORKERS}, not {workers!r}")
        if not SECONDS_RANGE[0] <= seconds <= SECONDS_RANGE[1]:
            raise ValueError(f"seconds must be from {SECONDS_RANGE[0]} to {SECONDS_RANGE[1]}, "
                             f"not {seconds!r}")
        self.model_choice.value, self.workload_choice.value = model, workload
        self.workers_choice.value, self.seconds_choice.value = workers, seconds
        self.run_button.disabled = True
        try:
            return self._execute(model, workload, workers, seconds, timeout)
        finally:
            self.run_button.disabled = False

    def _clicked(self, _: ipw.Button) -> None:
        """Run with the values in the controls (the button's handler)."""
        try:
            self.run(self.model_choice.value, self.workload_choice.value,
                     self.workers_choice.value, self.seconds_choice.value)
        except Exception as exc:  # a handler's exception would only reach the kernel log
            self.status_view.value = f'<span style="color:#b00">failed: {escape(repr(exc))}</span>'

    def _execute(self, model: str, workload: str, workers: int, seconds: float,
                 timeout: float) -> Trace:
        """Run in a background thread and redraw from this one until it ends."""
        from conclab import workloads
        from conclab.trace import Trace

        trace = Trace()
        names = [f"{model}-{i}" for i in range(workers)]
        origin = clock()
        # The live picture is fed the same spans as the trace, as they are reported, and only
        # folds in the new ones at each redraw: a frame costs the same late in a run as early.
        view = plots.SvgTimeline(origin=origin, span=seconds * 1.2, workers=names)
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = workloads.run(model, workload, workers, seconds=seconds,
                                                  observer=Tee(trace, view),
                                                  start_method=self.start_method, timeout=timeout)
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc

        self.trace, self.result, self.cpu_samples = trace, None, []
        self._frames, self._draw_seconds = 0, 0.0
        psutil.cpu_percent(percpu=True)  # the first reading only starts the interval
        runner = threading.Thread(target=work, name="conclab-playground", daemon=True)
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
        if "error" in outcome:
            self.status_view.value = (f'<span style="color:#b00">failed: '
                                      f'{escape(repr(outcome["error"]))}</span>')
            raise outcome["error"]
        self.result = result = outcome["result"]
        view.span_seconds = max(clock() - origin, result.elapsed)
        self._draw(view, None)
        speedup = result.speedup
        self.status_view.value = (
            f"<b>elapsed {result.elapsed:.3f} s, speed-up {speedup:.2f}x</b> "
            f"(speed-up = workers &times; seconds / elapsed = {workers} &times; {seconds:g} s / "
            f"{result.elapsed:.3f} s: the total work takes {workers * seconds:g} s on one "
            f"worker; 1 means no gain, {workers} is ideal)")
        return trace

    def statistics(self) -> PlaygroundStatistics:
        """How much live drawing the last run did, and what it cost (see ``playground.overhead``)."""
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


class Replay(ipw.VBox):
    """A slider that scrubs through a recorded trace: the timeline up to t, and who does what at t.

    The slider is in milliseconds from the trace's first recorded moment and starts at the end,
    so the whole run shows (which is also what the book shows, from the saved widget state).

    Args:
        trace: a ``conclab.trace.Trace`` (or anything ``plots.timeline_svg`` accepts).
        steps: how many slider positions span the trace.
    """

    def __init__(self, trace: Trace | Any, *, steps: int = 200) -> None:
        self.trace = trace
        bounds = plots.extent(trace)
        self.origin, last = bounds if bounds else (0.0, 0.0)
        self.duration_ms = (last - self.origin) * 1e3
        self.workers = plots.lanes(trace)
        self._spans = sorted(getattr(trace, "spans", trace), key=lambda s: s.start)
        self._view = plots.SvgTimeline(origin=self.origin, span=self.duration_ms / 1e3,
                                       workers=self.workers)
        for s in self._spans:
            self._view.span(s.worker, s.state, s.start, s.end, s.label)
        for e in getattr(trace, "events", []):
            self._view.event(e.kind, e.time, e.sender, e.receiver, e.label)
        self.slider = ipw.FloatSlider(
            value=self.duration_ms, min=0.0, max=self.duration_ms,
            step=self.duration_ms / steps if self.duration_ms else 0.1, description="t (ms)",
            readout_format=".1f", continuous_update=True, layout=ipw.Layout(width="640px"))
        self.picture = ipw.HTML()
        self.doing = ipw.HTML()
        super().__init__([self.slider, ipw.HBox([self.picture, self.doing])])
        self.slider.observe(self._moved, names="value")
        self._moved()

    def state_at(self, t_ms: float | None = None) -> dict[str, str]:
        """What each worker is doing at ``t_ms`` (default: the slider's): a state, or "idle".

        A worker is "idle" where none of its spans covers t. Where spans touch at t, the one
        starting at t wins: at a hand-over the new state is the one shown.
        """
        return {w: "idle" if s is None else s.state for w, s in self.spans_at(t_ms).items()}

    def spans_at(self, t_ms: float | None = None) -> dict[str, Any]:
        """The span each worker is in at ``t_ms`` (default: the slider's), or None; see state_at."""
        t = self.origin + (self.slider.value if t_ms is None else t_ms) / 1e3
        found: dict[str, Any] = dict.fromkeys(self.workers)
        for s in self._spans:  # sorted by start: a later covering span overrides an earlier one
            if s.start <= t < s.end or (s.start <= t == s.end and found[s.worker] is None):
                found[s.worker] = s
        return found

    def _moved(self, _: object = None) -> None:
        """Redraw for the slider's position."""
        t_ms = self.slider.value
        self.picture.value = self._view.render(t_ms / 1e3)
        rows = "".join(
            f"<tr><td>{escape(w)}</td><td><b>{'idle' if s is None else escape(s.state)}</b>"
            f"{escape(f' ({s.label})') if s is not None and s.label else ''}</td></tr>"
            for w, s in self.spans_at(t_ms).items())
        self.doing.value = (f"<table style='font-size:12px'><tr><th colspan=2>at {t_ms:.1f} ms"
                            f"</th></tr>{rows}</table>")
