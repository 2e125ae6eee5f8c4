"""Widgets with a button a reader presses, and what must change on the page afterwards.

A ``Pressable`` describes one *kind* of widget (the Playground is one) by what is on the page,
not by Python names: a box (``root``) holding a button with a given text. Pressing one means:
type the given values into its labelled controls, click the button, then watch the box until
the press is over. The press passes when

1. the box showed its ``running`` text at least once (the kernel took the click),
2. the elements matching ``grows`` (inside the box) were more numerous at the end than at the
   first moment they were seen while running (the picture filled in live), and
3. the box's text finally matches ``done`` (the summary appeared; put an input's value in the
   pattern to be sure it is this press's summary, not the one the cell's own run left).
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
        button: the button's text, exactly; it tells this kind's boxes from other boxes.
        grows: CSS selector, inside the box, of elements that must multiply during a press.
        running: regex the box's text matches while the press is under way.
        done: regex the box's text matches once the press is over.
        inputs: control label -> text typed into that control before pressing.
        timeout: seconds one press may take.
    """

    root: str
    button: str
    grows: str
    running: str
    done: str
    inputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float = 60.0


@dataclass(frozen=True)
class Pressed:
    """What one press did: live samples of ``grows`` and how long it took."""

    counts: tuple[int, ...]
    final: int
    seconds: float


def _button(within: Any, kind: Pressable) -> Any:
    """The button with exactly ``kind.button`` as its text (an icon's glyph is no text)."""
    return within.locator("button", has_text=re.compile(rf"^\s*{re.escape(kind.button)}\s*$"))


def boxes(page: Any, panel: str, kind: Pressable) -> Any:
    """A Playwright locator for every box of this kind in the outputs of ``panel`` (CSS)."""
    return page.locator(f"{panel} .jp-OutputArea-output {kind.root}").filter(
        has=_button(page, kind))


def press(page: Any, box: Any, kind: Pressable,
          first_frame: Callable[[], object] | None = None) -> Pressed:
    """Fill the box's inputs, click its button and watch it; see the module docstring.

    ``first_frame`` is called once, at the first live frame (to take a screenshot, say).

    Raises:
        AssertionError: naming what did not happen.
    """
    box.scroll_into_view_if_needed()
    for label, value in kind.inputs.items():
        field_ = box.locator(".widget-inline-hbox").filter(
            has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$")))
        field_.locator("input").fill(value)
        field_.locator("input").press("Enter")  # a text box sends its value on Enter
    began = time.monotonic()
    _button(box, kind).click()
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
                return _judge(kind, counts, count, time.monotonic() - began, text)
            # A summary with no live frame first: the old one, or a press too short to watch.
            assert time.monotonic() - began < 5, (
                f"press of {kind.button!r}: never saw it running; the box shows {text[:300]!r}")
        time.sleep(0.05)
    raise AssertionError(f"press of {kind.button!r} not over after {kind.timeout:.0f} s "
                         f"(live frames seen: {len(counts)}); the box shows: {text[:300]!r}")


def _judge(kind: Pressable, counts: list[int], final: int, seconds: float,
           text: str) -> Pressed:
    """Check that the picture grew and this press's summary is shown."""
    assert final > counts[0], (
        f"press of {kind.button!r}: {kind.grows!r} did not grow while it ran "
        f"(first live frame {counts[0]}, end {final}; frames {counts})")
    assert re.search(kind.done, text), f"press of {kind.button!r}: summary {text[:300]!r}"
    return Pressed(tuple(counts), final, seconds)
