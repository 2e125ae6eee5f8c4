"""Pictures of a trace: who ran, who waited, and who sent whom a message, over time.

Two renderers draw the same picture from a ``conclab.trace.Trace``:

1. ``timeline`` draws it with matplotlib, for the book's figures. One lane per worker (in the
   order workers first appeared), solid bars where the worker ran, light hatched bars where it
   waited, an arrow for each message, and a time axis in milliseconds from the trace start.
2. ``timeline_svg`` builds the same picture as an SVG string, for live widgets. Building a
   string is cheap and never holds the GIL for long, whereas rendering a matplotlib PNG holds it
   for tens of milliseconds: long enough to show up as waits in the very thread trace being
   drawn. The SVG is plain vector text, so the saved widget state renders without a kernel.

Both accept a trace or anything with the same ``spans``/``events``/``workers`` attributes, or a
bare list of spans. Neither calls ``plt.show()``; figures follow the book's conventions (no
title inside, lowercase labels, about 8 inches wide and half an inch per lane).

The module is a little over 300 lines because the two renderers must agree on lanes, order,
styles and message pairing, which is easiest to keep true when they sit side by side.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["STATE_STYLE", "TraceLike", "Message", "timeline", "timeline_svg", "messages",
           "lanes", "extent"]

# How each state looks: (face colour, hatch). "run" is solid and dark, "wait" light and
# hatched, so the two read apart in greyscale print too. Unknown states get a fallback.
STATE_STYLE: dict[str, tuple[str, str]] = {
    "run": ("#1f77b4", ""),
    "wait": ("#e3e3e3", "////"),
}
_OTHER_COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_BAR_HEIGHT = 0.6  # of a lane, so neighbouring lanes never touch
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
    """Spans, events and worker order of a trace or a bare iterable of spans."""
    if hasattr(trace, "spans"):
        spans = list(trace.spans)  # type: ignore[union-attr]
        events = list(getattr(trace, "events", []))
        workers = list(getattr(trace, "workers", []))
    else:
        spans, events, workers = list(trace), [], []
    spans.sort(key=lambda s: s.start)
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
    order = dict.fromkeys(workers)
    order.update(dict.fromkeys(s.worker for s in spans))
    for e in events:
        order.update(dict.fromkeys((e.sender, e.receiver)))
    families: dict[str, int] = {}
    for name in order:
        families.setdefault(_NUMBERED.sub("", name), len(families))

    def key(name: str) -> tuple[int, int]:
        found = _NUMBERED.search(name)
        return families[_NUMBERED.sub("", name)], int(found.group()) if found else -1

    return sorted(order, key=key)


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
             title: str | None = None, until: float | None = None) -> Axes:
    """Draw a trace as one lane per worker, for a figure in the book.

    Each worker's "run" spans are solid bars, its "wait" spans light hatched bars (other states
    get colours of their own, and a legend entry); each message is an arrow from the sender's
    lane at the send to the receiver's lane at the receive. Time runs in milliseconds from the
    trace's first recorded moment. An empty trace gives empty axes that say so.

    Args:
        trace: a ``conclab.trace.Trace``, or a list of spans.
        ax: axes to draw into; by default a new figure about 8 inches wide and half an inch
            per lane (made with pyplot, so a notebook shows it; nothing here calls ``show``).
        title: kept for the agreed API; the book leaves titles to the caption, so leave it None.
        until: only draw what happened up to this many milliseconds after the start
            (``Replay`` scrubs with it); spans running at that moment are cut there.

    Returns:
        The axes drawn into. Bars are ``PolyCollection``s with ``gid`` ``"<state>:<worker>"``;
        arrows are patches with ``gid`` ``"message"``.
    """
    from matplotlib.patches import FancyArrowPatch, Patch

    spans, events, _ = _parts(trace)
    names = lanes(trace)
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

    bars: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for s in spans:
        start, end = (s.start - t0) * 1e3, min((s.end - t0) * 1e3, limit)
        if start <= limit and end >= start:
            bars[(s.worker, s.state)].append((start, end - start))
    for (worker, state), ranges in bars.items():
        colour, hatch = _style(state)
        ax.broken_barh(ranges, (row[worker] - _BAR_HEIGHT / 2, _BAR_HEIGHT), facecolors=colour,
                       edgecolor="#9a9a9a" if hatch else colour, linewidth=0.4 if hatch else 0,
                       hatch=hatch or None, gid=f"{state}:{worker}", zorder=1 + _layer(state))

    for m in messages(events):
        sent, received = (m.sent - t0) * 1e3, (m.received - t0) * 1e3
        if received > limit:
            continue
        ax.add_patch(FancyArrowPatch((sent, row[m.sender]), (received, row[m.receiver]),
                                     arrowstyle="-|>", mutation_scale=9, color="#d62728",
                                     linewidth=0.9, shrinkA=2, shrinkB=2, gid="message",
                                     zorder=3))

    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first worker on top, as in the trace's order
    ax.set_xlim(0, (max(times) - t0) * 1e3 * 1.01 or 1.0)
    ax.set_xlabel("time (ms)")
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    # Legend in a fixed order: run, wait, then any other state as first seen.
    states = sorted(dict.fromkeys(state for _, state in bars),
                    key=lambda s: (s not in STATE_STYLE, list(STATE_STYLE).index(s) if s in STATE_STYLE else 0))
    handles = [Patch(facecolor=_style(s)[0], hatch=_style(s)[1] or None,
                     edgecolor="#9a9a9a" if _style(s)[1] else _style(s)[0], label=s)
               for s in states]
    if handles:
        ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(handles),
                  frameon=False, fontsize="small", borderaxespad=0.2)
    if title:
        ax.set_title(title)
    return ax


def _merged(ranges: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Join (start, end) pixel ranges closer than ``tolerance``: fewer, never-invisible rects."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(ranges):
        if out and start - out[-1][1] <= tolerance:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def timeline_svg(trace: TraceLike | Iterable[Any], *, origin: float | None = None,
                 span: float | None = None, until: float | None = None,
                 workers: Sequence[str] = (), width: int = 640) -> str:
    """Build the timeline as an SVG string: cheap enough to redraw several times a second.

    Args:
        trace: a ``conclab.trace.Trace``, or a list of spans.
        origin: the clock time drawn as 0 ms; by default the trace's first recorded moment.
        span: seconds the time axis covers; by default up to the last recorded moment.
        until: seconds after ``origin`` where a red cursor is drawn and drawing stops.
        workers: lanes to show even before they record anything (a live run's workers).
        width: pixel width of the drawing.

    Returns:
        An ``<svg>`` element, ``width`` pixels wide and 22 pixels per lane plus the axis.
    """
    spans, events, _ = _parts(trace)
    names = list(dict.fromkeys([*workers, *lanes(trace)]))
    times = [s.start for s in spans] + [s.end for s in spans] + [e.time for e in events]
    t0 = origin if origin is not None else (min(times) if times else 0.0)
    total = span if span is not None else (max(times) - t0 if times else 0.0)
    if until is not None:
        total = max(total, until)
    total = max(total, 1e-3)
    label_w, lane_h, axis_h = 92, 22, 30
    plot_w = width - label_w - 12
    height = lane_h * max(len(names), 1) + axis_h
    scale = plot_w / total  # pixels per second
    limit = float("inf") if until is None else until
    row = {name: i for i, name in enumerate(names)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" '
           f'style="max-width:100%;height:auto">',
           '<defs><pattern id="w" width="4" height="4" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="4" height="4" fill="#eeeeee"/>'
           '<line x1="0" y1="0" x2="0" y2="4" stroke="#b5b5b5" stroke-width="1.2"/>'
           '</pattern></defs>']
    if not names:
        out.append(f'<text x="{width / 2}" y="{lane_h / 2 + 4}" text-anchor="middle" '
                   'fill="#777">empty trace: nothing was recorded</text>')
    bars: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for s in spans:
        start = (s.start - t0) * scale
        end = (min(s.end - t0, limit)) * scale
        if s.start - t0 <= limit and end >= start:
            bars[(s.worker, s.state)].append((max(start, 0.0), end))
    for i, name in enumerate(names):
        y = i * lane_h
        out.append(f'<text x="{label_w - 6}" y="{y + lane_h / 2 + 4}" text-anchor="end">'
                   f'{escape(name)}</text>')
    # Waits first, runs last: a run of a few pixels must stay visible on top of its neighbours.
    for (worker, state), ranges in sorted(bars.items(), key=lambda kv: _layer(kv[0][1])):
        fill = "url(#w)" if state == "wait" else _style(state)[0]
        y = row[worker] * lane_h + lane_h * (1 - _BAR_HEIGHT) / 2
        h = lane_h * _BAR_HEIGHT
        rects = "".join(f'<rect x="{label_w + a:.1f}" y="{y:.1f}" width="{max(b - a, 1.0):.1f}" '
                        f'height="{h:.1f}"/>' for a, b in _merged(ranges, 0.5))
        out.append(f'<g fill="{fill}" data-lane="{escape(worker)}" data-state="{escape(state)}">'
                   f'{rects}</g>')
    for m in messages(events):
        if m.received - t0 > limit or m.sender not in row or m.receiver not in row:
            continue
        x1, x2 = label_w + (m.sent - t0) * scale, label_w + (m.received - t0) * scale
        y1, y2 = (row[m.sender] + 0.5) * lane_h, (row[m.receiver] + 0.5) * lane_h
        out.append(f'<line class="message" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                   f'y2="{y2:.1f}" stroke="#d62728" stroke-width="1.2"/>'
                   f'<circle cx="{x2:.1f}" cy="{y2:.1f}" r="2" fill="#d62728"/>')
    base = lane_h * max(len(names), 1)
    out.append(f'<line x1="{label_w}" y1="{base}" x2="{label_w + plot_w}" y2="{base}" '
               'stroke="#555"/>')
    for tick in _ticks(total * 1e3):
        x = label_w + tick / 1e3 * scale
        out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#555"/>'
                   f'<text x="{x:.1f}" y="{base + 15}" text-anchor="middle">{tick:g}</text>')
    out.append(f'<text x="{label_w + plot_w}" y="{base + 27}" text-anchor="end" '
               'fill="#444">time (ms)</text>')
    if until is not None:
        x = label_w + until * scale
        out.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{base}" stroke="#d62728" '
                   'stroke-dasharray="3,2"/>')
    out.append("</svg>")
    return "".join(out)


def _ticks(total_ms: float, most: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 times a power of ten) from 0 to ``total_ms``."""
    step = 1e-3
    while total_ms / step > most:
        for factor in (2, 2.5, 2):
            step *= factor
            if total_ms / step <= most:
                break
    return [round(i * step, 6) for i in range(int(total_ms / step) + 1)]
