"""Widgets that work in the book as well as in JupyterLab, and the label for those that cannot.

1. ``Frames`` shows pre-rendered pictures behind a slider (and a play button) whose values are
   ``jslink``-ed to an ``ipywidgets.Stack`` of the pictures: the browser switches frames by
   itself, so a recorded run can be scrubbed in the static book with no kernel behind it.
2. ``Replay`` is ``Frames`` over a recorded ``Trace``: the timeline up to t, and a table of
   what each worker is doing at t, both following the slider.
3. ``SchedulerStepper`` steps the teaching scheduler (``conclab.scheduler``) one task step at
   a time, recording a frame per step: live in a kernel, a recording in the book.
4. ``needs_kernel`` lays out a control that runs Python code (a run button, a step button)
   with the label that says so: in the book it cannot work, and it must not pretend to.

Core ipywidgets only (no custom JavaScript): the book renders the saved widget state offline
with ``@jupyter-widgets/html-manager``, links included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import ipywidgets as ipw

from conclab import plots
from conclab.scheduler import ManualClock, Scheduler
from conclab.trace import Trace

__all__ = ["NEEDS_KERNEL", "needs_kernel", "Frames", "Replay", "SchedulerStepper"]

NEEDS_KERNEL = "needs a running kernel: run this notebook, or launch Binder, to press this"
"""The label every control that runs Python code carries: in the static book it cannot work."""


def needs_kernel(*controls: ipw.Widget) -> ipw.HBox:
    """Lay out controls that run Python code, with the label that says they need a kernel.

    In JupyterLab they work; in the rendered book there is no kernel behind them, so the label
    (and each button's tooltip) says so rather than letting a reader press a dead button.
    """
    for control in controls:
        if isinstance(control, ipw.Button):
            control.tooltip = NEEDS_KERNEL
    note = ipw.HTML(f'<span class="conclab-needs-kernel" style="color:#666;font-size:12px">'
                    f"({NEEDS_KERNEL})</span>")
    return ipw.HBox([*controls, note], layout=ipw.Layout(align_items="center",
                                                         flex_flow="row wrap"))


class Frames(ipw.VBox):
    """Pre-rendered pictures behind a slider, linked in the browser: it works in the book too.

    Each frame is HTML (an SVG timeline, a table, or both) rendered once, in Python, into an
    ``ipywidgets.Stack``; the slider's value is ``jslink``-ed to the stack's
    ``selected_index``, so moving the slider switches frames in the browser without a kernel.
    ``Replay`` and the scheduler's stepper are built on it. (No ``Play`` widget: the book's
    theme turns icons into SVG, which breaks its view, and with it every link to it.)

    Args:
        frames: the HTML of each frame, in order (at least one).
        description: the slider's label ("t", "step").
        labels: what the readout says for each frame (default: its number).
        value: the frame shown first (default: the last).
    """

    def __init__(self, frames: Sequence[str], *, description: str = "frame",
                 labels: Sequence[str] | None = None, value: int | None = None) -> None:
        if not frames:
            raise ValueError("Frames needs at least one frame of HTML to show")
        if labels is not None and len(labels) != len(frames):
            raise ValueError(f"got {len(labels)} labels for {len(frames)} frames; give one "
                             "label per frame, or none")
        last = len(frames) - 1
        start = last if value is None else value
        if not 0 <= start <= last:
            raise ValueError(f"value must be a frame number from 0 to {last}, not {value!r}")
        self.frames = [ipw.HTML(f) for f in frames]
        self.stack = ipw.Stack(self.frames, selected_index=start)
        self.slider = ipw.IntSlider(value=start, min=0, max=last, description=description,
                                    readout=labels is None, continuous_update=True,
                                    layout=ipw.Layout(width="420px"))
        self.links = [ipw.jslink((self.slider, "value"), (self.stack, "selected_index"))]
        controls: list[ipw.Widget] = [self.slider]
        if labels is not None:  # the readout as a Stack of labels, switched in the browser too
            self.readout = ipw.Stack([ipw.HTML(f"<b>{escape(t)}</b>") for t in labels],
                                     selected_index=start)
            self.readout.add_class("conclab-frames-readout")
            self.links.append(ipw.jslink((self.slider, "value"),
                                         (self.readout, "selected_index")))
            controls.append(self.readout)
        super().__init__([ipw.HBox(controls, layout=ipw.Layout(align_items="center")),
                          self.stack])

    @property
    def index(self) -> int:
        """The frame shown now (in a kernel; the book moves it in the browser)."""
        return int(self.slider.value)

    def show(self, index: int) -> None:
        """Show frame ``index`` (from code: the links only act in the browser)."""
        self.slider.value = self.stack.selected_index = index
        if hasattr(self, "readout"):
            self.readout.selected_index = index


class Replay(Frames):
    """A recorded trace, frame by frame: the timeline up to t, and who does what at t.

    Built on ``Frames``: the pictures are rendered once, so the slider works in the book as
    well as in JupyterLab. The frames are evenly spaced in time from the trace's first
    recorded moment to its last, and the last frame (the whole run) shows first.

    Args:
        trace: a ``conclab.trace.Trace`` (or anything ``plots.timeline_svg`` accepts).
        steps: how many frames; 1 to 200.
    """

    def __init__(self, trace: Trace | Any, *, steps: int = 40) -> None:
        if not (isinstance(steps, int) and 1 <= steps <= 200):
            raise ValueError(f"steps must be an int from 1 to 200, not {steps!r}")
        if isinstance(trace, (str, bytes)) or not (hasattr(trace, "spans")
                                                   or isinstance(trace, (list, tuple))):
            raise TypeError(f"Replay shows a recorded run: pass a Trace (or a list of spans), "
                            f"not {trace!r}")
        self.trace = trace
        bounds = plots.extent(trace)
        self.origin, last = bounds if bounds else (0.0, 0.0)
        self.duration_ms = (last - self.origin) * 1e3
        self.workers = plots.lanes(trace)
        self._spans = sorted(getattr(trace, "spans", trace), key=lambda s: s.start)
        view = plots.SvgTimeline(origin=self.origin, span=self.duration_ms / 1e3 or None,
                                 workers=self.workers)
        for s in self._spans:
            view.span(s.worker, s.state, s.start, s.end, s.label)
        for e in getattr(trace, "events", []):
            view.event(e.kind, e.time, e.sender, e.receiver, e.label)
        self.times_ms = [self.duration_ms * i / steps for i in range(steps + 1)] \
            if self.duration_ms else [0.0]
        frames = [self._frame(view, t) for t in self.times_ms]
        super().__init__(frames, description="t", labels=[f"{t:.1f} ms" for t in self.times_ms])

    def _frame(self, view: plots.SvgTimeline, t_ms: float) -> str:
        """The timeline up to ``t_ms`` and the table of who does what then, side by side."""
        rows = "".join(
            f"<tr><td>{escape(w)}</td><td><b>{'idle' if s is None else escape(s.state)}</b>"
            f"{escape(f' ({s.label})') if s is not None and s.label else ''}</td></tr>"
            for w, s in self.spans_at(t_ms).items())
        table = (f"<table class='conclab-replay' style='font-size:13px'><tr><th colspan=2>"
                 f"at {t_ms:.1f} ms</th></tr>{rows}</table>")
        # The picture keeps its width (its text stays readable) and the table wraps below it
        # where the column is too narrow for both.
        return (f"<div style='display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start'>"
                f"<div style='flex:0 0 auto'>{view.render(t_ms / 1e3)}</div>{table}</div>")

    def state_at(self, t_ms: float | None = None) -> dict[str, str]:
        """What each worker is doing at ``t_ms`` (default: the shown frame's): a state, or "idle".

        A worker is "idle" where none of its spans covers t. Where spans touch at t, the one
        starting at t wins: at a hand-over the new state is the one shown.
        """
        return {w: "idle" if s is None else s.state for w, s in self.spans_at(t_ms).items()}

    def spans_at(self, t_ms: float | None = None) -> dict[str, Any]:
        """The span each worker is in at ``t_ms`` (default: the shown frame's), or None."""
        t = self.origin + (self.times_ms[self.index] if t_ms is None else t_ms) / 1e3
        found: dict[str, Any] = dict.fromkeys(self.workers)
        for s in self._spans:  # sorted by start: a later covering span overrides an earlier one
            if s.start <= t < s.end or (s.start <= t == s.end and found[s.worker] is None):
                found[s.worker] = s
        return found


class _WithoutRuns:
    """Passes a scheduler's reports on to a trace, except its "run" spans (under a manual
    clock a step takes no time, so the stepper draws each step itself, ``tick`` wide) and the
    spawns the program made (sent by "scheduler", they would draw an empty lane for it). It
    keeps the name of every task spawned, so that each has its lane from the first frame."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.tasks: list[str] = []

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        """Record a span, unless it is a zero-length "run"."""
        if state != "run":
            self.trace.span(worker, state, start, end, label)

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        """Record an event, unless it is the program's own spawn of a task; note spawns."""
        if kind == "spawn":
            self.tasks.append(receiver)
        if not (kind == "spawn" and sender == "scheduler"):
            self.trace.event(kind, time, sender, receiver, label)


class SchedulerStepper(Frames):
    """Step the teaching scheduler one task step at a time: its queues, and its timeline.

    ``program(scheduler)`` spawns the tasks. The stepper records the whole run when it is made
    (one frame per step: the ready queue, the sleeping and waiting tasks, the task that just
    ran, and the timeline so far), so in the book the slider scrubs the recording. In a
    kernel, *reset* starts the program again, *step* runs one step and shows it, *run* runs
    the rest. Once every task has finished, the scheduler is closed (its state still reads). Code can do the same: ``stepper.reset()``, ``stepper.step()``, ``stepper.run()``.
    Virtual time: a ``ManualClock`` that the scheduler moves on to each sleeper's wake time and
    the stepper moves on by ``tick`` after each step, so steps are visible on the timeline and
    sleeps take no real time.

    Args:
        program: called with a fresh ``Scheduler``; spawns the tasks to step through.
        max_steps: the most steps recorded (a program that runs for ever is cut there).
        tick: virtual seconds each step takes (its width on the timeline).
    """

    def __init__(self, program: Callable[[Scheduler], object], *, max_steps: int = 200,
                 tick: float = 0.001) -> None:
        if not callable(program):
            raise TypeError(f"program must be a function that spawns tasks into the scheduler "
                            f"it is given, not {program!r}")
        if not (isinstance(max_steps, int) and 1 <= max_steps <= 10_000):
            raise ValueError(f"max_steps must be an int from 1 to 10,000, not {max_steps!r}")
        self.program, self.max_steps, self.tick = program, max_steps, tick
        self.scheduler: Scheduler | None = None
        self.trace = Trace()
        self.reset()
        self.run()
        super().__init__([f.value for f in self._pending], description="step",
                         labels=self._labels)
        self.step_button = ipw.Button(description="step", icon="step-forward")
        self.run_button = ipw.Button(description="run", icon="forward")
        self.reset_button = ipw.Button(description="reset", icon="undo")
        self.step_button.on_click(lambda _: self.step())
        self.run_button.on_click(lambda _: self.run())
        self.reset_button.on_click(lambda _: self.reset())
        self.children = (*self.children, needs_kernel(self.step_button, self.run_button,
                                                      self.reset_button))

    def reset(self) -> None:
        """Start the program again on a fresh scheduler (the recording starts over)."""
        if self.scheduler is not None:
            self.scheduler.close()
        self.trace, self.clock = Trace(), ManualClock()
        self._observer = _WithoutRuns(self.trace)
        self.scheduler = Scheduler(clock=self.clock, observer=self._observer)
        self.program(self.scheduler)
        self._pending = [ipw.HTML(self._frame())]
        self._labels = ["start"]
        self._publish()

    def step(self) -> bool:
        """Run one step and show it; return whether any task remains."""
        assert self.scheduler is not None
        if self.done:
            return False
        before = self.scheduler.state().steps
        alive = self.scheduler.step(timeout=1.0)
        state = self.scheduler.state()
        if state.steps > before and state.last is not None:  # a task ran: draw its step
            self.trace.span(state.last, "run", self.clock(), self.clock() + self.tick, "step")
            self.clock.advance(self.tick)
        self._pending.append(ipw.HTML(self._frame()))
        self._labels.append(f"{len(self._labels)}")
        self._publish()
        if self.done:  # nothing can step it again: give its selector back (reset makes anew)
            self.scheduler.close()
        return alive

    def run(self) -> None:
        """Run the remaining steps (up to ``max_steps`` in all), showing the last."""
        while not self.done and len(self._labels) <= self.max_steps:
            self.step()

    @property
    def done(self) -> bool:
        """True when every task has finished."""
        if self.scheduler is None:
            return True
        state = self.scheduler.state()
        return not (state.ready or state.sleeping or state.waiting)

    def _publish(self) -> None:
        """Show the frames recorded so far, the newest selected (once the widget exists)."""
        if not hasattr(self, "stack"):
            return  # still recording in __init__; Frames takes the list once it is done
        self.frames = list(self._pending)
        last = len(self.frames) - 1
        self.stack.children = self.frames
        self.readout.children = [ipw.HTML(f"<b>{escape(t)}</b>") for t in self._labels]
        self.slider.max = last
        self.show(last)

    def _frame(self) -> str:
        """The state table and the timeline so far, side by side."""
        assert self.scheduler is not None
        s = self.scheduler.state()
        rows = [("virtual time", f"{s.time * 1e3:.0f} ms"), ("steps run", str(s.steps)),
                ("just ran", s.last or "-"), ("ready", ", ".join(s.ready) or "-"),
                ("sleeping", ", ".join(f"{n} until {t * 1e3:.0f} ms" for n, t in s.sleeping)
                 or "-"),
                ("waiting", ", ".join(f"{n} on {what}" for n, what in s.waiting) or "-"),
                ("finished", ", ".join(s.finished) or "-")]
        table = ("<table class='conclab-stepper' style='font-size:13px'>" + "".join(
            f"<tr><th style='text-align:left;padding-right:8px'>{escape(k)}</th>"
            f"<td>{escape(v)}</td></tr>" for k, v in rows) + "</table>")
        picture = plots.timeline_svg(self.trace, origin=0.0, width=480,
                                     workers=self._observer.tasks)
        return (f"<div style='display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start'>"
                f"<div style='flex:0 0 auto'>{table}</div>"
                f"<div style='flex:0 0 auto'>{picture}</div></div>")
