"""Widgets that work in the book as well as in JupyterLab, and the label for those that cannot.

1. ``Frames`` shows pre-rendered pictures behind a slider (and a play button) whose values are
   ``jslink``-ed to an ``ipywidgets.Stack`` of the pictures: the browser switches frames by
   itself, so a recorded run can be scrubbed in the static book with no kernel behind it.
2. ``Replay`` is ``Frames`` over a recorded ``Trace``: the timeline up to t, and a table of
   what each worker is doing at t, both following the slider.
3. ``needs_kernel`` lays out a control that runs Python code (a run button, a step button)
   with the label that says so: in the book it cannot work, and it must not pretend to.

Core ipywidgets only (no custom JavaScript): the book renders the saved widget state offline
with ``@jupyter-widgets/html-manager``, links included.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as ipw

from conclab import plots

if TYPE_CHECKING:
    from conclab.trace import Trace

__all__ = ["NEEDS_KERNEL", "needs_kernel", "Frames", "Replay"]

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
    A play button, linked the same way, steps through them as an animation. ``Replay`` and the
    scheduler's stepper are built on it.

    Args:
        frames: the HTML of each frame, in order (at least one).
        description: the slider's label ("t", "step").
        labels: what the readout says for each frame (default: its number).
        value: the frame shown first (default: the last).
        interval: milliseconds per frame when playing.
    """

    def __init__(self, frames: Sequence[str], *, description: str = "frame",
                 labels: Sequence[str] | None = None, value: int | None = None,
                 interval: int = 300) -> None:
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
        self.play = ipw.Play(value=start, min=0, max=last, interval=interval,
                             description="play", show_repeat=False)
        self.links = [ipw.jslink((self.slider, "value"), (self.stack, "selected_index")),
                      ipw.jslink((self.play, "value"), (self.slider, "value"))]
        controls: list[ipw.Widget] = [self.play, self.slider]
        if labels is not None:  # the readout as a Stack of labels, switched in the browser too
            self.readout = ipw.Stack([ipw.HTML(f"<b>{escape(t)}</b>") for t in labels],
                                     selected_index=start)
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
        self.slider.value = self.play.value = self.stack.selected_index = index
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
        self.trace = trace
        bounds = plots.extent(trace)
        self.origin, last = bounds if bounds else (0.0, 0.0)
        self.duration_ms = (last - self.origin) * 1e3
        self.workers = plots.lanes(trace)
        self._spans = sorted(getattr(trace, "spans", trace), key=lambda s: s.start)
        view = plots.SvgTimeline(origin=self.origin, span=self.duration_ms / 1e3,
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
        return (f"<div style='display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start'>"
                f"<div style='flex:1 1 420px;min-width:0'>{view.render(t_ms / 1e3)}</div>"
                f"{table}</div>")

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
