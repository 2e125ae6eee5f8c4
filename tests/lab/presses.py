"""Widgets with a button a reader presses, and what must change on the page afterwards.

A ``Pressable`` describes one *kind* of widget (the Playground is one) by what is on the page,
not by Python names: a box (``root``) holding a button with a given text and a label for each
of its ``inputs``. Pressing one means: type the given values into those labelled controls,
press the ``first`` buttons (each followed by a pause until the box and the kernel are quiet),
sample the box, press the button, and watch the box until the press is over. It passes when

1. for a button that starts a run (``running`` given): the box showed its ``running`` text at
   least once (the kernel took the click), and the elements matching ``grows`` were more
   numerous at the end than at the first live frame (the picture filled in while it ran);
   for a button that acts at once (``running`` None): those elements are more numerous than
   just before the press;
2. the box's text then matches ``done`` (the summary appeared). Since it must come after the
   running text (or the growth), it cannot be the summary an earlier run left.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Samples the box: how many elements match `grows`, and its text.
_SAMPLE = "(box, grows) => [box.querySelectorAll(grows).length, box.innerText]"


@dataclass(frozen=True)
class Pressable:
    """One kind of widget with a button; see the module docstring.

    Attributes:
        root: CSS selector of the box one such widget renders as.
        button: the text of the button to press, exactly (together with the labels of
            ``inputs`` it tells this kind's boxes from other boxes).
        grows: CSS selector, inside the box, of elements that must multiply.
        done: regex the box's text matches once the press is over.
        running: regex the box's text matches while a run is under way; None for a button
            whose effect is immediate (a step).
        inputs: control label -> text typed into that control before pressing.
        first: texts of buttons pressed before, in order (a reset before a step, say).
        timeout: seconds one press may take.
    """

    root: str
    button: str
    grows: str
    done: str
    running: str | None = None
    inputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    first: tuple[str, ...] = ()
    timeout: float = 60.0


@dataclass(frozen=True)
class Pressed:
    """What one press did: samples of ``grows`` (before, or live frames) and the end count."""

    counts: tuple[int, ...]
    final: int
    seconds: float


def _button(within: Any, text: str) -> Any:
    """The button with exactly ``text`` as its text (an icon's glyph is no text)."""
    return within.locator("button", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def _label(page: Any, within: Any, text: str) -> Any:
    """The labelled control (ipywidgets' description) in ``within`` labelled exactly ``text``."""
    # A `has` locator is relative to what it filters: build it from the page, not `within`.
    label = page.locator("label", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))
    return within.locator(".widget-inline-hbox").filter(has=label)


def boxes(page: Any, panel: str, kind: Pressable) -> Any:
    """A Playwright locator for every box of this kind in the outputs of ``panel`` (CSS)."""
    found = page.locator(f"{panel} .jp-OutputArea-output {kind.root}").filter(
        has=_button(page, kind.button))
    for label in kind.inputs:
        found = found.filter(has=_label(page, page, label))
    return found


def press(page: Any, box: Any, kind: Pressable, quiet: Callable[[], object],
          first_frame: Callable[[], object] | None = None) -> Pressed:
    """Fill the box's inputs, press its buttons and watch it; see the module docstring.

    ``quiet`` waits until the kernel is idle; ``first_frame`` is called once, at the first
    live frame (to take a screenshot, say).

    Raises:
        AssertionError: naming what did not happen.
    """
    box.scroll_into_view_if_needed()
    for label, value in kind.inputs.items():
        field_ = _label(page, box, label).locator("input")
        field_.fill(value)
        field_.press("Enter")  # a text box sends its value on Enter
    for text in kind.first:
        _button(box, text).click()
        _settle(box, kind, quiet)
    before = box.evaluate(_SAMPLE, kind.grows)[0]
    began = time.monotonic()
    _button(box, kind.button).click()
    if kind.running is None:
        return _watch_step(box, kind, before, began)
    return _watch_run(box, kind, began, first_frame)


def _settle(box: Any, kind: Pressable, quiet: Callable[[], object]) -> None:
    """Wait until the kernel is idle and the box unchanged for half a second."""
    time.sleep(0.3)  # let the click reach the kernel before asking whether it is idle
    quiet()
    last, since = None, time.monotonic()
    deadline = since + kind.timeout
    while time.monotonic() < deadline:
        sample = box.evaluate(_SAMPLE, kind.grows)
        if sample != last:
            last, since = sample, time.monotonic()
        elif time.monotonic() - since > 0.5:
            return
        time.sleep(0.1)
    raise AssertionError(f"the box did not settle within {kind.timeout:.0f} s")


def _watch_step(box: Any, kind: Pressable, before: int, began: float) -> Pressed:
    """Wait until the elements have multiplied and the text matches ``done``."""
    count, text = before, ""
    while time.monotonic() - began < kind.timeout:
        count, text = box.evaluate(_SAMPLE, kind.grows)
        if count > before and re.search(kind.done, text):
            return Pressed((before,), count, time.monotonic() - began)
        time.sleep(0.05)
    raise AssertionError(f"press of {kind.button!r}: {kind.grows!r} went from {before} to "
                         f"{count} and the box shows {text[:300]!r} after {kind.timeout:.0f} s")


def _watch_run(box: Any, kind: Pressable, began: float,
               first_frame: Callable[[], object] | None) -> Pressed:
    """Sample live frames until the run's summary shows; check that the picture grew."""
    assert kind.running is not None
    counts: list[int] = []
    text = ""
    while time.monotonic() - began < kind.timeout:
        count, text = box.evaluate(_SAMPLE, kind.grows)
        if re.search(kind.running, text):
            counts.append(count)
            if len(counts) == 1 and first_frame is not None:
                first_frame()
        elif re.search(kind.done, text):
            if counts:
                assert count > counts[0], (
                    f"press of {kind.button!r}: {kind.grows!r} did not grow while it ran "
                    f"(first live frame {counts[0]}, end {count}; frames {counts})")
                return Pressed(tuple(counts), count, time.monotonic() - began)
            # A summary with no live frame first: the old one, or a run too short to watch.
            assert time.monotonic() - began < 5, (
                f"press of {kind.button!r}: never saw it running; the box shows {text[:300]!r}")
        time.sleep(0.05)
    raise AssertionError(f"press of {kind.button!r} not over after {kind.timeout:.0f} s "
                         f"(live frames seen: {len(counts)}); the box shows: {text[:300]!r}")
