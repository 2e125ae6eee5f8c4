"""conclab.plots: lanes, bars and arrows drawn from a trace whose every span is known.

The traces here are made by hand, so every expected bar, lane and arrow can be counted
exactly; nothing is timed.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # the tests draw, never show

import matplotlib.pyplot as plt
import pytest

from conclab import plots
from conclab.trace import Trace

T0 = 100.0  # an arbitrary clock reading: the picture must start at 0 ms whatever it is


def known_trace() -> Trace:
    """Two threads taking turns (times in ms after T0), and one message from 0 to 1."""
    trace = Trace()
    ms = 1e-3
    # thread-1 reports first: lanes must still come out numbered in order.
    trace.span("thread-1", "wait", T0, T0 + 5 * ms)
    trace.span("thread-1", "run", T0 + 5 * ms, T0 + 10 * ms)
    trace.span("thread-0", "run", T0, T0 + 5 * ms)
    trace.span("thread-0", "wait", T0 + 5 * ms, T0 + 10 * ms)
    trace.span("thread-0", "run", T0 + 10 * ms, T0 + 20 * ms)
    trace.event("send", T0 + 4 * ms, "thread-0", "thread-1", "job")
    trace.event("receive", T0 + 6 * ms, "thread-0", "thread-1", "job")
    return trace


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test made, so none piles up across tests."""
    yield
    plt.close("all")


def bars(ax) -> dict[str, list[tuple[float, float]]]:
    """Map each bar collection's gid ("state:worker") to its (x, width) ranges, in ms."""
    found = {}
    for collection in ax.collections:
        ranges = []
        for path in collection.get_paths():
            xs = path.vertices[:, 0]
            ranges.append((round(xs.min(), 6), round(xs.max() - xs.min(), 6)))
        found[collection.get_gid()] = sorted(ranges)
    return found


def test_one_lane_per_worker_in_numbered_order():
    ax = plots.timeline(known_trace())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["thread-0", "thread-1"]
    lo, hi = ax.get_ylim()
    assert lo > hi  # inverted: the first worker's lane is on top


def test_each_span_is_one_bar_at_its_time_in_ms_from_the_start():
    ax = plots.timeline(known_trace())
    assert bars(ax) == {
        "run:thread-0": [(0.0, 5.0), (10.0, 10.0)],
        "wait:thread-0": [(5.0, 5.0)],
        "wait:thread-1": [(0.0, 5.0)],
        "run:thread-1": [(5.0, 5.0)],
    }


def test_bars_sit_on_their_worker_lane():
    ax = plots.timeline(known_trace())
    for collection in ax.collections:
        worker = collection.get_gid().split(":")[1]
        lane = {"thread-0": 0, "thread-1": 1}[worker]
        for path in collection.get_paths():
            ys = path.vertices[:, 1]
            assert (ys.min() + ys.max()) / 2 == pytest.approx(lane)


def test_run_is_solid_and_wait_is_light_and_hatched():
    ax = plots.timeline(known_trace())
    by_gid = {c.get_gid(): c for c in ax.collections}
    run, wait = by_gid["run:thread-0"], by_gid["wait:thread-0"]
    assert run.get_hatch() is None and wait.get_hatch()
    assert sum(run.get_facecolor()[0][:3]) < sum(wait.get_facecolor()[0][:3])  # darker
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["run", "wait"]


def test_conventions_lowercase_labels_no_title_page_width():
    ax = plots.timeline(known_trace())
    assert ax.get_xlabel() == "time (ms)"
    assert ax.get_title() == ""
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((8, 0.5 * 2 + 1))
    assert ax.get_xlim()[0] == 0


def test_one_arrow_per_message_from_send_to_receive():
    ax = plots.timeline(known_trace())
    arrows = [p for p in ax.patches if p.get_gid() == "message"]
    assert len(arrows) == 1
    (x1, y1), (x2, y2) = arrows[0]._posA_posB  # matplotlib keeps the end points only here
    assert (x1, y1, x2, y2) == pytest.approx((4.0, 0, 6.0, 1))


def test_messages_pairs_sends_with_receives_and_keeps_unmatched_ones():
    trace = known_trace()
    trace.event("send", T0 + 0.015, "thread-1", "thread-0", "lost")
    trace.event("receive", T0 + 0.016, "main", "thread-0", "from nowhere")
    found = plots.messages(trace.events)
    assert [(m.sender, m.receiver, m.label) for m in found] == [
        ("thread-0", "thread-1", "job"), ("thread-1", "thread-0", "lost"),
        ("main", "thread-0", "from nowhere")]
    assert found[1].sent == found[1].received == T0 + 0.015
    ax = plots.timeline(trace)
    assert sum(p.get_gid() == "message" for p in ax.patches) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == ["thread-0", "thread-1", "main"]


def test_empty_trace_gives_empty_axes_that_say_so():
    ax = plots.timeline(Trace())
    assert len(ax.collections) == 0 and len(ax.patches) == 0
    assert "empty" in ax.texts[0].get_text()
    assert ax.get_xlabel() == "time (ms)"


def test_sixteen_lanes_fit_a_page():
    trace = Trace()
    for i in reversed(range(16)):
        trace.span(f"process-{i}", "run", T0 + i * 1e-3, T0 + (i + 1) * 1e-3)
    ax = plots.timeline(trace)
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"process-{i}" for i in range(16)]
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((8, 9))
    assert len(ax.collections) == 16


def test_draws_into_given_axes_and_accepts_a_bare_span_list():
    fig, ax = plt.subplots()
    spans = known_trace().spans
    assert plots.timeline(spans, ax=ax) is ax
    assert len(ax.collections) == 4


def test_until_cuts_the_picture_at_that_moment():
    ax = plots.timeline(known_trace(), until=7.0)
    assert bars(ax) == {
        "run:thread-0": [(0.0, 5.0)],
        "wait:thread-0": [(5.0, 2.0)],
        "wait:thread-1": [(0.0, 5.0)],
        "run:thread-1": [(5.0, 2.0)],
    }
    assert sum(p.get_gid() == "message" for p in ax.patches) == 1
    ax = plots.timeline(known_trace(), until=5.5)
    assert sum(p.get_gid() == "message" for p in ax.patches) == 0  # not received yet


def test_svg_has_a_group_per_lane_and_state_and_a_line_per_message():
    svg = plots.timeline_svg(known_trace())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    groups = re.findall(r'data-lane="([^"]+)" data-state="([^"]+)"', svg)
    assert sorted(groups) == [("thread-0", "run"), ("thread-0", "wait"),
                              ("thread-1", "run"), ("thread-1", "wait")]
    assert svg.count('class="message"') == 1
    assert "time (ms)" in svg


def test_svg_merges_bars_closer_than_a_pixel_and_shows_waiting_lanes():
    trace = Trace()
    for i in range(1000):  # 1000 runs 1 us apart: one rectangle at 640 px
        trace.span("thread-0", "run", T0 + i * 1e-4, T0 + i * 1e-4 + 9e-5)
    svg = plots.timeline_svg(trace, workers=["thread-0", "thread-1"])
    assert svg.count("<rect x=") == 1
    assert ">thread-1</text>" in svg
    assert "empty" in plots.timeline_svg(Trace())


def test_ticks_are_round_numbers():
    assert plots._ticks(20) == [0, 5, 10, 15, 20]
    assert plots._ticks(120) == [0, 20, 40, 60, 80, 100, 120]
    assert plots._ticks(0.5)[-1] <= 0.5


def test_live_svg_folds_in_new_spans_and_remerges_when_the_axis_grows():
    view = plots.SvgTimeline(origin=T0, span=0.010, workers=["thread-0", "thread-1"])
    first = view.render(until=0.0)
    assert ">thread-1</text>" in first and "<rect x=" not in first  # lanes before any span
    view.span("thread-0", "run", T0, T0 + 0.004)
    view.span("thread-0", "run", T0 + 0.005, T0 + 0.009)  # 1 ms gap: 53 px at 10 ms
    assert view.render(until=0.009).count("<rect x=") == 2
    view.event("send", T0 + 0.002, "thread-0", "thread-1")
    view.event("receive", T0 + 0.003, "thread-0", "thread-1")
    assert view.render().count('class="message"') == 1
    view.span_seconds = 100.0  # now 1 ms is under half a pixel: the two runs become one bar
    assert view.render().count("<rect x=") == 1


def test_live_svg_takes_spans_out_of_order():
    view = plots.SvgTimeline(origin=T0, span=0.010)
    view.span("a", "run", T0 + 0.006, T0 + 0.008)
    view.render()
    view.span("a", "run", T0, T0 + 0.002)  # reported late
    svg = view.render()
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    assert len(xs) == 2 and xs == sorted(xs)


def test_timeline_text_is_readable_at_the_book_column():
    import matplotlib

    matplotlib.use("Agg")
    trace = Trace()
    trace.span("thread-0", "run", 0.0, 0.01)
    trace.span("thread-1", "wait", 0.0, 0.01)
    ax = plots.timeline(trace)
    try:
        assert plots.smallest_text_px(ax.figure) >= plots.MIN_TEXT_PX
        ax.legend_.get_texts()[0].set_fontsize(6)  # a label this small must be caught
        assert plots.smallest_text_px(ax.figure) < plots.MIN_TEXT_PX
    finally:
        import matplotlib.pyplot as plt

        plt.close(ax.figure)
