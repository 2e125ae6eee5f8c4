"""conclab.widgets: the Playground runs each model from code and from its button, validates
its controls, and Replay scrubs a hand-made trace to exactly known states.

Runs are tiny (0.05 s of work per worker) and nothing asserts a duration: only which workers
ran, what the widget shows and what the controls accept.
"""

from __future__ import annotations

import re

import pytest

from conclab import widgets, workloads
from conclab.trace import Trace
from conclab.widgets import Playground, Replay

T0 = 50.0


@pytest.mark.parametrize("model", workloads.MODELS)
def test_run_returns_a_trace_of_the_expected_workers(model):
    playground = Playground()
    trace = playground.run(model=model, workload="cpu", workers=2, seconds=0.05)
    assert isinstance(trace, Trace)
    assert sorted(trace.workers) == [f"{model}-0", f"{model}-1"]
    assert {s.state for s in trace.spans} >= {"run"}
    assert playground.trace is trace
    assert (playground.result.model, playground.result.workers) == (model, 2)
    # The final picture stays in the widget: a lane per worker and the speed-up explained.
    lanes = set(re.findall(r'data-lane="([^"]+)"', playground.timeline_view.value))
    assert lanes == {f"{model}-0", f"{model}-1"}
    assert "speed-up" in playground.status_view.value
    assert "workers &times; seconds / elapsed" in playground.status_view.value
    assert playground.cpu_samples and "cpu use per core" in playground.cpu_view.value


@pytest.mark.parametrize("workload", workloads.KINDS)
def test_each_workload_runs_on_threads(workload):
    trace = Playground().run(model="thread", workload=workload, workers=1, seconds=0.05)
    assert trace.workers == ["thread-0"]
    if workload != "cpu":
        assert "wait" in {s.state for s in trace.spans}


def test_the_controls_show_what_ran_and_the_button_runs_them():
    playground = Playground(refresh=0.01)  # small refresh: the live path is exercised too
    playground.run(model="coroutine", workload="io", workers=3, seconds=0.05)
    assert (playground.model_choice.value, playground.workload_choice.value,
            playground.workers_choice.value, playground.seconds_choice.value) == (
        "coroutine", "io", 3, 0.05)
    playground.model_choice.value = "thread"
    playground.workers_choice.value = 1
    playground.run_button.click()
    assert playground.trace.workers == ["thread-0"]
    assert not playground.run_button.disabled


def test_controls_validate_their_ranges():
    playground = Playground()
    slider = playground.workers_choice
    assert (slider.min, slider.max) == (1, widgets.MAX_WORKERS) == (1, 16)
    slider.value = 40
    assert slider.value == 16  # an IntSlider clamps to its bounds
    slider.value = 0
    assert slider.value == 1
    assert list(playground.model_choice.options) == ["process", "thread", "coroutine"]
    assert [v for _, v in playground.workload_choice.options] == ["cpu", "io", "mixed"]
    for bad in ({"workers": 0}, {"workers": 17}, {"workers": 2.0}, {"model": "fiber"},
                {"workload": "disk"}, {"seconds": 0}, {"seconds": 31}):
        with pytest.raises(ValueError):
            playground.run(**bad)
    assert playground.trace is None  # nothing ran
    box = playground.seconds_choice
    assert (box.min, box.max) == widgets.SECONDS_RANGE
    box.value = 1000
    assert box.value == widgets.SECONDS_RANGE[1]


def test_a_failed_click_shows_the_error_instead_of_raising(monkeypatch):
    playground = Playground()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(playground, "run", broken)
    playground.run_button.click()
    assert "boom" in playground.status_view.value


def hand_made() -> Trace:
    """Worker a runs 0-10 ms then waits to 20; b waits 0-10 then runs to 15 and is idle after."""
    trace = Trace()
    trace.span("a", "run", T0, T0 + 0.010, "cpu")
    trace.span("a", "wait", T0 + 0.010, T0 + 0.020)
    trace.span("b", "wait", T0, T0 + 0.010)
    trace.span("b", "run", T0 + 0.010, T0 + 0.015)
    return trace


def test_replay_slider_spans_the_trace_and_starts_at_the_end():
    replay = Replay(hand_made())
    assert replay.slider.min == 0
    assert replay.slider.max == pytest.approx(20.0)
    assert replay.slider.value == replay.slider.max
    assert replay.workers == ["a", "b"]


def test_replay_state_at_a_time():
    replay = Replay(hand_made())
    assert replay.state_at(5.0) == {"a": "run", "b": "wait"}
    assert replay.state_at(10.0) == {"a": "wait", "b": "run"}  # the span starting at t wins
    assert replay.state_at(12.0) == {"a": "wait", "b": "run"}
    assert replay.state_at(17.0) == {"a": "wait", "b": "idle"}


def test_moving_the_slider_redraws_up_to_t():
    replay = Replay(hand_made())
    replay.slider.value = 5.0
    assert "at 5.0 ms" in replay.doing.value
    assert re.findall(r"<td>(\w+)</td><td><b>(\w+)</b>([^<]*)", replay.doing.value) == [
        ("a", "run", " (cpu)"), ("b", "wait", "")]
    assert replay.spans_at(5.0)["a"].label == "cpu"
    assert replay.spans_at(17.0)["b"] is None
    # Up to 5 ms only a's run and b's wait have begun.
    assert set(re.findall(r'data-lane="(\w+)" data-state="(\w+)"', replay.picture.value)) == {
        ("a", "run"), ("b", "wait")}


def test_replay_of_an_empty_trace():
    replay = Replay(Trace())
    assert (replay.slider.min, replay.slider.max) == (0, 0)
    assert replay.state_at(0) == {}
    assert "empty" in replay.picture.value


def test_overhead_benchmark_runs_and_counts_what_it_drew():
    from conclab.bench import playground as bench_playground

    o = bench_playground.measure_overhead(seconds=0.05, repeats=1, refresh=0.01)
    assert min(o.traced) > 0 and min(o.untraced) > 0 and o.ratio > 0
    assert o.draw_seconds >= 0 and o.run_seconds > 0


def test_without_live_drawing_only_the_final_picture_is_drawn():
    playground = Playground(live=False)
    playground.run(model="thread", workload="io", workers=2, seconds=0.05)
    stats = playground.statistics()
    assert (stats.frames, stats.draw_seconds) == (0, 0.0)
    assert stats.elapsed == playground.result.elapsed and stats.share == 0.0
    assert playground.timeline_view.value.count('data-state="wait"') == 2
