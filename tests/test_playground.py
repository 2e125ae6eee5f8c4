"""conclab.playground: the Playground runs each model from code and from its button, validates
its controls, and its summary's figures follow from what was measured.

Runs are tiny (0.05 s of work per worker) and nothing asserts a duration: only which workers
ran, what the widget shows, what the controls accept, and the summary's arithmetic on
hand-made numbers.
"""

from __future__ import annotations

import re

import pytest

from conclab import playground as pg, workloads
from conclab.playground import Playground, RunSummary, capacity
from conclab.trace import Trace



@pytest.mark.parametrize("model", workloads.MODELS)
def test_run_returns_a_trace_of_the_expected_workers(model):
    playground = Playground()
    trace = playground.run(model=model, workload="cpu", workers=2, seconds=0.05)
    assert isinstance(trace, Trace)
    assert sorted(trace.workers) == [f"{model}-0", f"{model}-1"]
    assert {s.state for s in trace.spans} >= {"run"}
    assert playground.trace is trace
    assert (playground.result.model, playground.result.workers) == (model, 2)
    # The final picture stays in the widget: a lane per worker, and the measured summary.
    lanes = set(re.findall(r'data-lane="([^"]+)"', playground.timeline_view.value))
    assert lanes == {f"{model}-0", f"{model}-1"}
    summary = playground.summary
    assert summary is not None and summary.workers == 2 and summary.elapsed > 0
    assert playground.baseline is not None and playground.baseline.workers == [f"{model}-0"]
    assert summary.serial_elapsed > 0 and f"speed-up {summary.speedup:.2f}x" in (
        playground.status_view.value)
    assert f"running at once, on average: {summary.parallelism:.2f}" in (
        playground.status_view.value)
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
    assert (slider.min, slider.max) == (1, pg.MAX_WORKERS) == (1, 16)
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
    assert (box.min, box.max) == pg.SECONDS_RANGE
    box.value = 1000
    assert box.value == pg.SECONDS_RANGE[1]


def test_a_failed_click_shows_the_error_instead_of_raising(monkeypatch):
    playground = Playground()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(playground, "run", broken)
    playground.run_button.click()
    assert "boom" in playground.status_view.value


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


def test_the_run_button_says_it_needs_a_kernel():
    playground = Playground()
    assert "needs a running kernel" in playground.run_button.tooltip
    def texts(widget):
        yield str(getattr(widget, "value", ""))
        for child in getattr(widget, "children", ()):
            yield from texts(child)

    assert any("needs a running kernel" in text for text in texts(playground))


def summary(model="thread", workload="cpu", workers=2, elapsed=1.0, serial=1.0, busy=1.0,
            share=1.0, cap=1, cores=2) -> RunSummary:
    """A hand-made summary."""
    return RunSummary(model, workload, workers, elapsed, serial, busy, share, cap, cores)


@pytest.mark.parametrize(("model", "workers", "cores", "gil", "expected"), [
    ("process", 4, 2, True, 2), ("process", 1, 8, True, 1), ("thread", 4, 2, True, 1),
    ("thread", 4, 2, False, 2), ("coroutine", 4, 8, False, 1),
])
def test_capacity_is_what_can_run_python_at_once(model, workers, cores, gil, expected):
    assert capacity(model, workers, cores, gil) == expected


def test_the_ideal_follows_the_model_and_the_measured_cpu_share():
    assert summary(workload="cpu", workers=4, share=1.0, cap=1).ideal == 1
    assert summary(workload="cpu", workers=4, share=1.0, cap=2).ideal == 2
    assert summary(workload="io", workers=4, share=0.0, cap=1).ideal == 4
    # Mixed: half CPU on one lane: 4 workers need 2 units of CPU time, so at best 2x.
    assert summary(workload="mixed", workers=4, share=0.5, cap=1).ideal == 2
    assert summary(workload="mixed", workers=2, share=0.5, cap=1).ideal == 2
    assert summary(workload="mixed", workers=4, share=0.25, cap=1).ideal == 4


def test_the_figures_are_ratios_of_the_measurements():
    s = summary(elapsed=0.5, serial=0.9, busy=0.45)
    assert s.speedup == pytest.approx(1.8) and s.parallelism == pytest.approx(0.9)


def test_a_surprising_speedup_is_explained_in_words():
    above = summary(model="process", cap=2, elapsed=0.4, serial=1.0)  # 2.5x, ideal 2
    assert "above the ideal" in above.why()
    slower = summary(model="thread", elapsed=1.1, serial=1.0)  # 0.91x, ideal 1
    assert "Below 1 (0.91x)" in slower.why()
    busy = summary(model="process", cap=2, elapsed=1.0, serial=1.2)  # 1.2x of 2
    assert "Below the ideal" in busy.why() and "other programs" in busy.why()
    fine = summary(model="process", cap=2, elapsed=0.5, serial=0.98)
    assert fine.why() == "For CPU work the ideal is 2: 2 of 2 processes can run at once on 2 usable cores."
    mixed = summary(workload="mixed", share=0.5, workers=4)
    assert "About 50% of the work is CPU" in mixed.why()
