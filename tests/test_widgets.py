"""conclab.widgets: Frames switch pictures in the browser (links, not callbacks), Replay shows a
hand-made trace at exactly known moments, and controls that need a kernel say so.
"""

from __future__ import annotations

import re

import ipywidgets as ipw
import pytest

from conclab import widgets
from conclab.trace import Trace
from conclab.widgets import Frames, Replay

T0 = 50.0


def test_frames_are_linked_in_the_browser_not_by_a_callback():
    frames = Frames(["<p>one</p>", "<p>two</p>", "<p>three</p>"], labels=["a", "b", "c"])
    assert frames.stack.selected_index == frames.slider.value == 2  # the last first
    assert [f.value for f in frames.frames] == ["<p>one</p>", "<p>two</p>", "<p>three</p>"]
    links = {(l.source[0], l.source[1], l.target[0], l.target[1]) for l in frames.links}
    assert (frames.slider, "value", frames.stack, "selected_index") in links
    assert (frames.slider, "value", frames.readout, "selected_index") in links
    assert not frames.slider._trait_notifiers.get("value", {}).get("change")  # no callback
    frames.show(0)
    assert frames.index == frames.stack.selected_index == frames.readout.selected_index == 0


def test_frames_refuse_what_they_cannot_show():
    with pytest.raises(ValueError, match="at least one frame"):
        Frames([])
    with pytest.raises(ValueError, match="one label per frame"):
        Frames(["a", "b"], labels=["x"])
    with pytest.raises(ValueError, match="from 0 to 1"):
        Frames(["a", "b"], value=5)


def test_needs_kernel_labels_the_controls_it_lays_out():
    button = ipw.Button(description="go")
    box = widgets.needs_kernel(button)
    assert box.children[0] is button and button.tooltip == widgets.NEEDS_KERNEL
    assert widgets.NEEDS_KERNEL in box.children[-1].value


def hand_made() -> Trace:
    """Worker a runs 0-10 ms then waits to 20; b waits 0-10 then runs to 15 and is idle after."""
    trace = Trace()
    trace.span("a", "run", T0, T0 + 0.010, "cpu")
    trace.span("a", "wait", T0 + 0.010, T0 + 0.020)
    trace.span("b", "wait", T0, T0 + 0.010)
    trace.span("b", "run", T0 + 0.010, T0 + 0.015)
    return trace


def test_replay_frames_span_the_trace_and_start_at_the_end():
    replay = Replay(hand_made(), steps=4)
    assert replay.times_ms == pytest.approx([0.0, 5.0, 10.0, 15.0, 20.0])
    assert (replay.slider.min, replay.slider.max, replay.slider.value) == (0, 4, 4)
    assert replay.workers == ["a", "b"]
    assert replay.readout.children[1].value == "<b>5.0 ms</b>"


def test_replay_state_at_a_time():
    replay = Replay(hand_made())
    assert replay.state_at(5.0) == {"a": "run", "b": "wait"}
    assert replay.state_at(10.0) == {"a": "wait", "b": "run"}  # the span starting at t wins
    assert replay.state_at(12.0) == {"a": "wait", "b": "run"}
    assert replay.state_at(17.0) == {"a": "wait", "b": "idle"}


def test_each_frame_is_drawn_up_to_its_moment():
    replay = Replay(hand_made(), steps=4)
    frame = replay.frames[1].value  # 5 ms
    assert "at 5.0 ms" in frame
    assert re.findall(r"<td>(\w+)</td><td><b>(\w+)</b>([^<]*)", frame) == [
        ("a", "run", " (cpu)"), ("b", "wait", "")]
    # Up to 5 ms only a's run and b's wait have begun.
    assert set(re.findall(r'data-lane="(\w+)" data-state="(\w+)"', frame)) == {
        ("a", "run"), ("b", "wait")}
    assert "at 15.0 ms" in replay.frames[3].value
    assert len(set(f.value for f in replay.frames)) == 5  # every frame differs
    replay.show(1)
    assert replay.state_at() == {"a": "run", "b": "wait"}
    assert replay.spans_at(5.0)["a"].label == "cpu"
    assert replay.spans_at(17.0)["b"] is None


def test_replay_of_an_empty_trace():
    replay = Replay(Trace())
    assert (replay.slider.min, replay.slider.max) == (0, 0)
    assert replay.state_at(0) == {}
    assert "empty" in replay.frames[0].value




def _two_sleepers(s):
    from conclab import scheduler as sch

    def worker(n):
        for _ in range(n):
            yield from sch.sleep(0.01)

    s.spawn(worker(2), name="a")
    s.spawn(worker(3), name="b")


def _cells(frame) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", frame.value)


def test_stepper_records_one_frame_per_step_in_virtual_time():
    stepper = widgets.SchedulerStepper(_two_sleepers)
    assert stepper.done and len(stepper.frames) == 8 == stepper.slider.max + 1
    # time, steps, just ran, ready, sleeping, waiting, finished
    assert _cells(stepper.frames[0]) == ["0 ms", "0", "-", "a, b", "-", "-", "-"]
    assert _cells(stepper.frames[1]) == ["1 ms", "1", "a", "b", "a until 10 ms", "-", "-"]
    assert _cells(stepper.frames[-1])[-1] == "a, b"
    runs = [(s.worker, round(s.start * 1e3)) for s in stepper.trace.runs()]
    assert runs == [("a", 0), ("b", 1), ("a", 10), ("b", 11), ("a", 20), ("b", 21), ("b", 31)]
    assert stepper.readout.children[1].value == "<b>1</b>"


def test_stepper_buttons_step_reset_and_run_live():
    stepper = widgets.SchedulerStepper(_two_sleepers)
    stepper.reset_button.click()
    assert len(stepper.frames) == 1 and stepper.slider.max == 0 and not stepper.done
    stepper.step_button.click()
    stepper.step_button.click()
    assert len(stepper.frames) == 3 and stepper.index == 2 == stepper.stack.selected_index
    stepper.run_button.click()
    assert stepper.done and len(stepper.frames) == 8
    assert widgets.NEEDS_KERNEL in stepper.step_button.tooltip


def test_the_stepper_draws_a_lane_per_task_and_none_for_the_scheduler_itself():
    # The program's spawns are reported as sent by "scheduler"; drawn, that is an empty lane.
    stepper = widgets.SchedulerStepper(_two_sleepers)
    assert stepper.trace.workers == ["a", "b"]
    assert "scheduler" not in stepper.frames[-1].value
    assert ">a</text>" in stepper.frames[0].value and ">b</text>" in stepper.frames[0].value


def test_a_finished_recording_closes_its_scheduler_and_reset_opens_a_new_one():
    # The scheduler holds a selector (an OS descriptor): once every task has finished, nothing
    # can step it again, so it must not stay open for as long as the widget lives.
    stepper = widgets.SchedulerStepper(_two_sleepers)
    finished = stepper.scheduler
    with pytest.raises(RuntimeError, match="closed"):
        finished.spawn(iter_nothing())
    assert finished.state().finished == ("a", "b")  # its last state still reads
    stepper.reset_button.click()
    assert stepper.scheduler is not finished and not stepper.done
    stepper.run_button.click()
    with pytest.raises(RuntimeError, match="closed"):
        stepper.scheduler.spawn(iter_nothing())


def iter_nothing():
    yield


def test_stepper_refuses_what_it_cannot_step():
    with pytest.raises(TypeError, match="spawns tasks"):
        widgets.SchedulerStepper("not a program")
    with pytest.raises(ValueError, match="max_steps"):
        widgets.SchedulerStepper(_two_sleepers, max_steps=0)
