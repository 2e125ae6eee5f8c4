"""Pictures of a trace: who ran, who waited, and who sent whom a message, over time.

Two renderers draw the same picture from a ``conclab.trace.Trace``:

1. ``timeline`` draws it with matplotlib, for the book's figures. One lane per worker (in the
   order workers first appeared), solid bars where the worker ran, light hatched bars where it
   waited, an arrow for each message, and a time axis in milliseconds from the trace start.
2. ``SvgTimeline`` builds the same picture as an SVG string, for live widgets: it is fed
   spans as they happen and each redraw folds in only the new ones, merged to half a pixel,
   so a frame takes about a millisecond however long the run. Rendering a matplotlib PNG
   instead holds the GIL for tens of milliseconds: long enough to show up as waits in the
   very thread trace being drawn. The SVG is plain vector text, so the saved widget state
   renders without a kernel. ``timeline_svg`` draws a recorded trace the same way.

Both accept a trace or anything with the same ``spans``/``events``/``workers`` attributes, or a
bare list of spans. Neither calls ``plt.show()``; figures follow the book's conventions (no
title inside, lowercase labels, about 8 inches wide and half an inch per lane).

The module is longer than 300 lines because the two renderers must agree on lanes, order,
styles and message pairing, which is easiest to keep true when they sit side by side.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Protocol

from conclab.hooks import Event
from conclab.trace import merge_intervals

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["STATE_STYLE", "BOOK_COLUMN_PX", "MIN_TEXT_PX", "TraceLike", "Message",
           "SvgTimeline", "timeline", "timeline_svg", "messages", "lanes", "extent",
           "smallest_text_px"]

BOOK_COLUMN_PX = 688
"""Width of the book's text column in CSS pixels, as Chromium lays it out at 1280 px wide
(tests/test_book.py measures it): figures are scaled down to it."""
MIN_TEXT_PX = 11
"""No text in a figure or timeline may render smaller than this at the book's column width."""

# How each state looks: (face colour, hatch). "run" is solid and dark, "wait" light and
# hatched, so the two read apart in greyscale print too. Unknown states get a fallback.
STATE_STYLE: dict[str, tuple[str, str]] = {
    "run": ("#1f77b4", ""),
    "wait": ("#e3e3e3", "////"),
}
_OTHER_COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_BAR_HEIGHT = 0.6  # of a lane, so neighbouring lanes never touch
_EDGE = "#9a9a9a"  # outline of hatched (waiting) bars
_MESSAGE = "#d62728"  # message arrows and the cursor
_NUMBERED = re.compile(r"\d+$")  # "thread-12" -> family "thread-", number 12


class TraceLike(Protocol):
    """What the renderers read from a trace (``conclab.trace.Trace`` has all of it)."""

    @property
    def spans(self) -> Sequence[Any]: ...
    @property
    def events(self) -> Sequence[Any]: ...
    @property
    def workers(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Message:
    """One arrow: a message from ``sender`` at ``sent`` to ``receiver`` at ``received``."""

    sender: str
    receiver: str
    sent: float
    received: float
    label: str = ""


def _parts(trace: TraceLike | Iterable[Any]) -> tuple[list[Any], list[Any], list[str]]:
    """Spans (sorted by start), events and worker order of a trace or of a bare span list."""
    if isinstance(trace, (str, bytes)) or not (hasattr(trace, "spans")
                                               or isinstance(trace, Iterable)):
        raise TypeError(f"expected a Trace or a list of spans, not {trace!r}")
    # Look the attribute up on the type: hasattr() on an instance would run Trace.spans, a
    # sorted copy of every span, only to throw it away.
    if hasattr(type(trace), "spans") or "spans" in getattr(trace, "__dict__", {}):
        spans = list(trace.spans)  # type: ignore[union-attr]
        events = list(getattr(trace, "events", []))
        workers = list(getattr(trace, "workers", []))
    else:
        spans, events, workers = list(trace), [], []
    spans.sort(key=lambda s: s.start)  # already sorted for a Trace: then this is one pass
    return spans, events, workers


def messages(events: Iterable[Any]) -> list[Message]:
    """Pair each "send" event with the first later "receive" of the same sender, receiver, label.

    A send nobody received, or a receive whose send was not recorded, still gets an arrow, drawn
    straight across at the one time known: a message is never silently dropped from the picture.
    """
    pending: dict[tuple[str, str, str], deque[Any]] = defaultdict(deque)
    found: list[Message] = []
    for e in sorted(events, key=lambda e: e.time):
        key = (e.sender, e.receiver, e.label)
        if e.kind == "send":
            pending[key].append(e)
        elif e.kind == "receive":
            if pending[key]:
                s = pending[key].popleft()
                found.append(Message(e.sender, e.receiver, s.time, e.time, e.label))
            else:
                found.append(Message(e.sender, e.receiver, e.time, e.time, e.label))
    for queue in pending.values():
        found.extend(Message(s.sender, s.receiver, s.time, s.time, s.label) for s in queue)
    return sorted(found, key=lambda m: m.sent)


def lanes(trace: TraceLike | Iterable[Any]) -> list[str]:
    """Worker names in lane order: order of first appearance, numbered siblings by number.

    Workers that only differ by a trailing number ("thread-1", "thread-0") are reported in
    whichever order they happened to finish a span; they are drawn in numeric order, at the
    place where the first of them appeared, so "producer" still comes before "consumer".
    """
    spans, events, workers = _parts(trace)
    return _lane_order(_names_of(spans, events, workers))


def _names_of(spans: Iterable[Any], events: Iterable[Any], workers: Iterable[str]) -> list[str]:
    """Every worker named by the trace, its spans or its events, in order of appearance."""
    order = dict.fromkeys(workers)
    order.update(dict.fromkeys(s.worker for s in spans))
    for e in events:
        order.update(dict.fromkeys((e.sender, e.receiver)))
    return list(order)


def _lane_order(names: Iterable[str]) -> list[str]:
    """Names in appearance order, with numbered siblings ("thread-2") gathered in number order."""
    families: dict[str, int] = {}
    for name in names:
        families.setdefault(_NUMBERED.sub("", name), len(families))

    def key(name: str) -> tuple[int, int]:
        found = _NUMBERED.search(name)
        return families[_NUMBERED.sub("", name)], int(found.group()) if found else -1

    return sorted(dict.fromkeys(names), key=key)


def extent(trace: TraceLike | Iterable[Any]) -> tuple[float, float] | None:
    """The first and last recorded moment (clock seconds) of spans and events, or None if empty."""
    spans, events, _ = _parts(trace)
    times = [s.start for s in spans] + [s.end for s in spans] + [e.time for e in events]
    return (min(times), max(times)) if times else None


def _layer(state: str) -> int:
    """Drawing order of a state: waits at the bottom, runs on top, anything else between."""
    return {"wait": 0, "run": 2}.get(state, 1)


def _style(state: str) -> tuple[str, str]:
    """Face colour and hatch for a state, with a stable fallback for states not in the table."""
    if state in STATE_STYLE:
        return STATE_STYLE[state]
    return _OTHER_COLOURS[sum(map(ord, state)) % len(_OTHER_COLOURS)], ""


def timeline(trace: TraceLike | Iterable[Any], ax: Axes | None = None, *,
             until: float | None = None) -> Axes:
    """Draw a trace as one lane per worker, for a figure in the book.

    Each worker's "run" spans are solid bars, its "wait" spans light hatched bars (other states
    get colours of their own, and a legend entry); each message is an arrow from the sender's
    lane at the send to the receiver's lane at the receive. Time runs in milliseconds from the
    trace's first recorded moment. An empty trace gives empty axes that say so. There is no
    title: in the book the text around a figure is its caption.

    Args:
        trace: a ``conclab.trace.Trace``, or a list of spans.
        ax: axes to draw into; by default a new figure about 8 inches wide and half an inch
            per lane (made with pyplot, so a notebook shows it; nothing here calls ``show``).
        until: only draw what happened up to this many milliseconds after the start
            (``Replay`` scrubs with it); spans running at that moment are cut there.

    Returns:
        The axes drawn into. Bars are ``PolyCollection``s with ``gid`` ``"<state>:<worker>"``;
        arrows are patches with ``gid`` ``"message"``.
    """
    spans, events, workers = _parts(trace)
    names = _lane_order(_names_of(spans, events, workers))
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 0.5 * max(len(names), 1) + 1), layout="constrained")
    times = [s.start for s in spans] + [s.end for s in spans] + [e.time for e in events]
    if not times:
        ax.text(0.5, 0.5, "empty trace: nothing was recorded", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        ax.set_yticks([])
        ax.set_xlabel("time (ms)")
        return ax
    t0 = min(times)
    limit = float("inf") if until is None else until
    row = {name: i for i, name in enumerate(names)}
    states = _draw_bars(ax, spans, row, t0, limit)
    _draw_arrows(ax, events, row, t0, limit)
    _style_axes(ax, names, (max(times) - t0) * 1e3)
    _draw_legend(ax, states)
    return ax


def smallest_text_px(figure: Any, column_px: float = BOOK_COLUMN_PX) -> float:
    """The smallest visible text of a matplotlib figure, in CSS pixels at the book's column.

    A PNG figure ``w`` inches wide is shown at most ``column_px`` wide, so a font of ``s``
    points renders at ``s / 72 * dpi * min(1, column_px / (w * dpi))`` pixels.
    """
    width_px = figure.get_figwidth() * figure.dpi
    scale = min(1.0, column_px / width_px)
    sizes = [t.get_fontsize() / 72 * figure.dpi * scale
             for t in figure.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=float("inf"))


def _draw_bars(ax: Axes, spans: Sequence[Any], row: dict[str, int], t0: float,
               limit: float) -> list[str]:
    """One ``broken_barh`` per (worker, state), cut at ``limit`` ms; return the states drawn."""
    bars: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for s in spans:
        start, end = (s.start - t0) * 1e3, min((s.end - t0) * 1e3, limit)
        if start <= limit and end >= start:
            bars[(s.worker, s.state)].append((start, end - start))
    for (worker, state), ranges in bars.items():
        colour, hatch = _style(state)
        ax.broken_barh(ranges, (row[worker] - _BAR_HEIGHT / 2, _BAR_HEIGHT), facecolors=colour,
                       edgecolor=_EDGE if hatch else colour, linewidth=0.4 if hatch else 0,
                       hatch=hatch or None, gid=f"{state}:{worker}", zorder=1 + _layer(state))
    return list(dict.fromkeys(state for _, state in bars))


def _draw_arrows(ax: Axes, events: Sequence[Any], row: dict[str, int], t0: float,
                 limit: float) -> None:
    """An arrow for each message received by ``limit`` ms."""
    from matplotlib.patches import FancyArrowPatch

    for m in messages(events):
        sent, received = (m.sent - t0) * 1e3, (m.received - t0) * 1e3
        if received > limit:
            continue
        ax.add_patch(FancyArrowPatch((sent, row[m.sender]), (received, row[m.receiver]),
                                     arrowstyle="-|>", mutation_scale=9, color=_MESSAGE,
                                     linewidth=0.9, shrinkA=2, shrinkB=2, gid="message",
                                     zorder=3))


def _style_axes(ax: Axes, names: list[str], total_ms: float) -> None:
    """Lanes top to bottom in trace order, a millisecond axis, no frame but the bottom."""
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first worker on top, as in the trace's order
    ax.set_xlim(0, total_ms * 1.01 or 1.0)
    ax.set_xlabel("time (ms)")
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _draw_legend(ax: Axes, states: list[str]) -> None:
    """A legend above the axes in a fixed order: run, wait, then other states as first seen."""
    from matplotlib.patches import Patch

    known = list(STATE_STYLE)
    ordered = sorted(states, key=lambda s: known.index(s) if s in known else len(known))
    handles = [Patch(facecolor=_style(s)[0], hatch=_style(s)[1] or None,
                     edgecolor=_EDGE if _style(s)[1] else _style(s)[0], label=s)
               for s in ordered]
    if handles:
        ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  ncols=len(handles), frameon=False, fontsize=10, borderaxespad=0.2)


class SvgTimeline:
    """A timeline that is fed spans as they happen and renders to SVG in time bounded by pixels.

    It is itself an observer (``span``/``event`` hooks), so it can sit beside a ``Trace`` on a
    live run: a hook only appends to a deque (thread-safe, no lock, microseconds), and
    ``render()`` folds what arrived since the last call into per-lane bars merged to half a
    pixel. A redraw therefore costs about the same after 100 spans or 100,000: what a live
    widget needs so that drawing a thread trace does not show up in it.

    Args:
        origin: the clock time drawn as 0 ms; by default the first recorded moment.
        span: seconds the time axis covers (may be changed between renders); by default up
            to the last recorded moment.
        workers: lanes to show even before they record anything (a live run's workers).
        width: pixel width of the drawing.
    """

    def __init__(self, *, origin: float | None = None, span: float | None = None,
                 workers: Sequence[str] = (), width: int = 640) -> None:
        if span is not None and not span > 0:
            raise ValueError(f"span must be a number of seconds > 0 (the time axis's length), "
                             f"not {span!r}")
        if not (isinstance(width, (int, float)) and width > 120):
            raise ValueError(f"width must be a number of pixels above 120 (640 fits the book's "
                             f"column), not {width!r}")
        self.origin, self.span_seconds, self.width = origin, span, width
        self._new_spans: deque[tuple[str, str, float, float]] = deque()
        self._new_events: deque[Any] = deque()
        self._bars: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self._events: list[Any] = []
        self._names: dict[str, None] = dict.fromkeys(workers)
        self._first, self._last = float("inf"), float("-inf")
        self._gap = 0.0  # seconds: bars closer than this are stored merged

    # -- the Observer hooks (any thread) ----------------------------------------------------

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        """Take a span; it is drawn from the next ``render()`` on."""
        self._new_spans.append((worker, state, start, end))

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        """Take a message event; it is drawn from the next ``render()`` on."""
        self._new_events.append(Event(kind, time, sender, receiver, label))

    # -- drawing (one thread) ---------------------------------------------------------------

    def _absorb(self) -> dict[tuple[str, str], list[tuple[float, float]]]:
        """Move what arrived into lanes and extent; return the new intervals per bar."""
        fresh: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        while self._new_spans:
            worker, state, start, end = self._new_spans.popleft()
            self._names.setdefault(worker)
            fresh[(worker, state)].append((start, end))
            self._first, self._last = min(self._first, start), max(self._last, end)
        while self._new_events:
            e = self._new_events.popleft()
            self._names.setdefault(e.sender)
            self._names.setdefault(e.receiver)
            self._events.append(e)
            self._first, self._last = min(self._first, e.time), max(self._last, e.time)
        return fresh

    def render(self, until: float | None = None) -> str:
        """The SVG of everything received so far, cut at ``until`` seconds after the origin.

        ``until`` also draws a dashed red cursor there (the live "now", or Replay's t).
        """
        fresh = self._absorb()
        names = _lane_order(self._names)
        empty = self._first > self._last
        t0 = self.origin if self.origin is not None else (0.0 if empty else self._first)
        total = self.span_seconds if self.span_seconds is not None else (
            0.0 if empty else self._last - t0)
        frame = _Frame(self.width, names, t0, max(total, until or 0.0, 1e-3))
        self._merge(fresh, gap=0.5 / frame.scale)  # half a pixel, at this frame's scale
        limit = float("inf") if until is None else t0 + until
        parts = [frame.head(), frame.lanes(), self._bars_svg(frame, limit),
                 self._arrows_svg(frame, limit), frame.axis()]
        if until is not None:
            parts.append(frame.cursor(until))
        return "".join(parts) + "</svg>"

    def _merge(self, fresh: dict[tuple[str, str], list[tuple[float, float]]], gap: float) -> None:
        """Fold new intervals into the stored bars, merged to ``gap`` seconds.

        The stored bars are already merged to half a pixel, so merging costs at most a few
        hundred intervals per lane, whatever the length of the run. When the axis grows, the
        gap grows with it and everything is merged again at the new scale.
        """
        if gap > self._gap * 1.01:
            self._gap = gap
            for key, stored in self._bars.items():
                self._bars[key] = merge_intervals(stored, gap=gap)
        for key, new in fresh.items():
            self._bars[key] = merge_intervals(self._bars.get(key, []) + new, gap=self._gap)

    def _bars_svg(self, frame: _Frame, limit: float) -> str:
        """One ``<g>`` of rectangles per (worker, state): waits first, so runs stay on top."""
        out = []
        for (worker, state), stored in sorted(self._bars.items(),
                                              key=lambda kv: _layer(kv[0][1])):
            rects = "".join(frame.bar(worker, a, min(b, limit)) for a, b in stored if a <= limit)
            if rects:
                fill = "url(#w)" if state == "wait" else _style(state)[0]
                out.append(f'<g fill="{fill}" data-lane="{escape(worker)}" '
                           f'data-state="{escape(state)}">{rects}</g>')
        return "".join(out)

    def _arrows_svg(self, frame: _Frame, limit: float) -> str:
        """A line with a dot at the receiving end for each message received by ``limit``."""
        return "".join(frame.arrow(m) for m in messages(self._events) if m.received <= limit)


class _Frame:
    """The geometry of one SVG timeline: where lanes, bars, arrows and ticks go, in pixels."""

    LABEL_WIDTH = 92   # the lane names' column
    RIGHT_MARGIN = 12
    LANE_HEIGHT = 22
    AXIS_HEIGHT = 30   # the tick marks, their numbers and the axis label below the lanes
    TICK_LENGTH = 4

    def __init__(self, width: int, names: list[str], t0: float, total: float) -> None:
        self.width, self.names, self.t0, self.total = width, names, t0, total
        self.row = {name: i for i, name in enumerate(names)}
        self.plot_width = width - self.LABEL_WIDTH - self.RIGHT_MARGIN
        self.scale = self.plot_width / total  # pixels per second
        self.base = self.LANE_HEIGHT * max(len(names), 1)  # y of the time axis

    def x(self, t: float) -> float:
        """The x pixel of clock time ``t``."""
        return self.LABEL_WIDTH + (t - self.t0) * self.scale

    def middle(self, worker: str) -> float:
        """The y pixel of the middle of ``worker``'s lane."""
        return (self.row[worker] + 0.5) * self.LANE_HEIGHT

    def head(self) -> str:
        """The opening ``<svg>`` tag and the hatch pattern of waiting bars."""
        height = self.base + self.AXIS_HEIGHT
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
                f'height="{height}" viewBox="0 0 {self.width} {height}" font-family="sans-serif" '
                f'font-size="11" style="max-width:100%;height:auto">'
                '<defs><pattern id="w" width="4" height="4" patternUnits="userSpaceOnUse" '
                'patternTransform="rotate(45)"><rect width="4" height="4" fill="#eeeeee"/>'
                '<line x1="0" y1="0" x2="0" y2="4" stroke="#b5b5b5" stroke-width="1.2"/>'
                '</pattern></defs>')

    def lanes(self) -> str:
        """The lane names, right-aligned in their column (or a note for an empty trace)."""
        if not self.names:
            return (f'<text x="{self.width / 2}" y="{self.LANE_HEIGHT / 2 + 4}" '
                    'text-anchor="middle" fill="#777">empty trace: nothing was recorded</text>')
        return "".join(f'<text x="{self.LABEL_WIDTH - 6}" y="{self.middle(name) + 4}" '
                       f'text-anchor="end">{escape(name)}</text>' for name in self.names)

    def bar(self, worker: str, start: float, end: float) -> str:
        """One rectangle, at least a pixel wide, in ``worker``'s lane."""
        y = self.row[worker] * self.LANE_HEIGHT + self.LANE_HEIGHT * (1 - _BAR_HEIGHT) / 2
        return (f'<rect x="{self.x(start):.1f}" y="{y:.1f}" '
                f'width="{max((end - start) * self.scale, 1.0):.1f}" '
                f'height="{self.LANE_HEIGHT * _BAR_HEIGHT:.1f}"/>')

    def arrow(self, m: Message) -> str:
        """A message: a line from the send to the receive, with a dot where it arrives."""
        x1, x2 = self.x(m.sent), self.x(m.received)
        y1, y2 = self.middle(m.sender), self.middle(m.receiver)
        return (f'<line class="message" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                f'y2="{y2:.1f}" stroke="{_MESSAGE}" stroke-width="1.2"/>'
                f'<circle cx="{x2:.1f}" cy="{y2:.1f}" r="2" fill="{_MESSAGE}"/>')

    def axis(self) -> str:
        """The time axis: a line, round ticks in milliseconds, and its label."""
        left, right, base = self.LABEL_WIDTH, self.LABEL_WIDTH + self.plot_width, self.base
        out = [f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#555"/>']
        for tick in _ticks(self.total * 1e3):
            x = left + tick / 1e3 * self.scale
            out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" '
                       f'y2="{base + self.TICK_LENGTH}" stroke="#555"/>'
                       f'<text x="{x:.1f}" y="{base + 15}" text-anchor="middle">{tick:g}</text>')
        out.append(f'<text x="{right}" y="{base + 27}" text-anchor="end" fill="#444">'
                   'time (ms)</text>')
        return "".join(out)

    def cursor(self, until: float) -> str:
        """A dashed vertical line ``until`` seconds after the origin."""
        x = self.LABEL_WIDTH + until * self.scale
        return (f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{self.base}" stroke="{_MESSAGE}" '
                'stroke-dasharray="3,2"/>')


def timeline_svg(trace: TraceLike | Iterable[Any], *, origin: float | None = None,
                 span: float | None = None, until: float | None = None,
                 workers: Sequence[str] = (), width: int = 640) -> str:
    """Build the timeline of a recorded trace as an SVG string (see ``SvgTimeline``).

    Args:
        trace: a ``conclab.trace.Trace``, or a list of spans.
        origin: the clock time drawn as 0 ms; by default the trace's first recorded moment.
        span: seconds the time axis covers; by default up to the last recorded moment.
        until: seconds after ``origin`` where a red cursor is drawn and drawing stops.
        workers: lanes to show even if they recorded nothing.
        width: pixel width of the drawing.

    Returns:
        An ``<svg>`` element, ``width`` pixels wide and 22 pixels per lane plus the axis.
    """
    spans, events, recorded = _parts(trace)
    view = SvgTimeline(origin=origin, span=span, workers=[*workers, *recorded], width=width)
    for s in spans:
        view.span(s.worker, s.state, s.start, s.end)
    for e in events:
        view.event(e.kind, e.time, e.sender, e.receiver, e.label)
    return view.render(until)


def _ticks(total_ms: float, most: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 times a power of ten) from 0 to ``total_ms``."""
    step = 1e-3
    while total_ms / step > most:
        for factor in (2, 2.5, 2):
            step *= factor
            if total_ms / step <= most:
                break
    return [round(i * step, 6) for i in range(int(total_ms / step) + 1)]
