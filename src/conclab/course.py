"""The course map: the article's thesis as a picture, and the chapters that teach each part.

The article ends on one claim: a concurrent system is a **scheduler**, **tasks** and
**communication**. Each part comes in kinds (the OS's pre-emptive scheduler or an event loop's
co-operative one; a process, a thread or a coroutine as the task; a queue, an actor or pub/sub
as the communication), and each kind has a chapter. ``CHAPTERS`` is the table of contents as
data; ``draw_map`` draws the three parts with their kinds and chapter numbers.

Every exercise in the course has the same three cells, and the helpers here hold them to it:

1. a **stub** to write in: a function whose body is ``...``, decorated with ``@course.stub``
   (which keeps it, so that a reader's own answer can later replace the name);
2. a **check**: a function that asserts what a right answer does, run with
   ``course.check(check_fn, answer)``, which shows "right" or "not yet" with the reason and
   never raises, so a chapter runs from top to bottom before the reader has written anything;
3. a **solution**, collapsed, ending with ``course.verify(check_fn, solution)``, which
   asserts that the check fails on the stub and passes on the solution: nbval runs it, so a
   check that cannot fail, or a solution that does not pass, fails the build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Chapter", "CHAPTERS", "PARTS", "MAP_WIDTH_INCHES", "MAP_FONT_SIZES", "draw_map", "stub", "Outcome", "check", "verify"]

F = TypeVar("F", bound=Callable[..., Any])
_STUBS: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class Chapter:
    """One chapter of the course: its number, title, notebook file and the idea it covers."""

    number: int
    title: str
    notebook: str
    covers: str


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(0, "Start here", "00_start_here.ipynb", "the map"),
    Chapter(1, "Processes", "01_processes.ipynb", "process"),
    Chapter(2, "Threads and the GIL", "02_threads.ipynb", "thread"),
    Chapter(3, "Coroutines", "03_coroutines.ipynb", "coroutine"),
    Chapter(4, "The cost table, measured", "04_costs.ipynb", "costs"),
    Chapter(5, "Queues", "05_queues.ipynb", "queue"),
    Chapter(6, "Actors", "06_actors.ipynb", "actor"),
    Chapter(7, "Pub/sub", "07_pubsub.ipynb", "pub/sub"),
    Chapter(8, "Build a scheduler", "08_scheduler.ipynb", "event loop"),
    Chapter(9, "Fusing the three models", "09_fusion.ipynb", "all"),
    Chapter(10, "Beyond one machine", "10_beyond.ipynb", "network"),
)

# The three parts of a concurrent system, each with its kinds and the chapter that teaches it.
PARTS: dict[str, tuple[tuple[str, int], ...]] = {
    "scheduler": (("OS, pre-emptive", 2), ("event loop, co-operative", 3), ("your own", 8)),
    "tasks": (("process", 1), ("thread", 2), ("coroutine", 3)),
    "communication": (("queue", 5), ("actor", 6), ("pub/sub", 7)),
}


# Text sizes in the book: a figure is shown at most as wide as the book's column (about 700 px;
# inline figures are saved at 100 dpi, so the 7-inch map needs no shrinking), and every text in
# it must then be at least 11 px tall: 8 points is 11.1 px at 100 dpi, so 10 points keeps a
# margin for a narrower column (tests/test_skeleton.py measures the rendered picture).
MAP_WIDTH_INCHES = 7.0
MAP_FONT_SIZES = {"part": 14, "kind": 11, "chapter": 10, "arrow": 10}


def draw_map(ax: Axes | None = None) -> Axes:
    """Draw the three parts of a concurrent system, their kinds and their chapters.

    Args:
        ax: the Axes to draw on; a new figure ``MAP_WIDTH_INCHES`` wide when None.

    Returns:
        The Axes, with no title: the text around the figure is its caption.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    size = MAP_FONT_SIZES
    if ax is None:
        fig, ax = plt.subplots(figsize=(MAP_WIDTH_INCHES, 3.4))
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1)  # the boxes use the whole width
    # Three boxes 2.7 wide with gaps of 0.9 for the arrows and their labels.
    width, gap = 2.7, 0.9
    ax.set_xlim(-0.05, 3 * width + 2 * gap + 0.05)
    ax.set_ylim(0, 3.7)
    ax.set_axis_off()
    colours = {"scheduler": "#4c72b0", "tasks": "#dd8452", "communication": "#55a868"}
    for i, (part, kinds) in enumerate(PARTS.items()):
        x = (width + gap) * i
        middle = x + width / 2
        ax.add_patch(FancyBboxPatch((x + 0.05, 0.1), width - 0.1, 3.45, boxstyle="round,pad=0.05",
                                    facecolor=colours[part], alpha=0.15, edgecolor=colours[part]))
        ax.text(middle, 3.2, part, ha="center", va="center", fontsize=size["part"],
                weight="bold", color=colours[part])
        for j, (kind, chapter) in enumerate(kinds):
            y = 2.45 - 0.95 * j  # a long kind wraps after its comma, growing upwards from y
            text = kind.replace(", ", ",\n") if len(kind) > 16 else kind
            ax.text(middle, y, text, ha="center", va="bottom",
                    fontsize=size["kind"], linespacing=1.1)
            ax.text(middle, y - 0.05, f"chapter {chapter:02d}", ha="center", va="top",
                    fontsize=size["chapter"], color="0.3")
    for i, label in enumerate(("runs", "talk\nthrough")):
        x0 = (width + gap) * (i + 1) - gap
        ax.add_patch(FancyArrowPatch((x0 + 0.1, 1.45), (x0 + gap - 0.1, 1.45), arrowstyle="-|>",
                                     mutation_scale=16, color="0.3"))
        ax.text(x0 + gap / 2, 1.6, label, ha="center", va="bottom", fontsize=size["arrow"],
                color="0.25", linespacing=1.1)
    return ax


# --- exercises ---------------------------------------------------------------------------------

def stub(fn: F) -> F:
    """Mark ``fn`` as an exercise's stub (the function the reader completes); return it as is.

    The stub is kept under its name, so ``verify`` can check it after the reader's own answer
    (or the solution) has taken the name over.
    """
    _STUBS[fn.__name__] = fn
    return fn


@dataclass(frozen=True)
class Outcome:
    """What a check said of an answer: passed or not, and why not."""

    passed: bool
    reason: str = ""

    def _repr_html_(self) -> str:
        if self.passed:
            return '<span style="color:#1a7f37"><b>&#10003; right</b></span>'
        return (f'<span style="color:#9a6700"><b>&#10007; not yet</b>: '
                f"{escape(self.reason)}</span>")

    def __bool__(self) -> bool:
        return self.passed


def check(check_fn: Callable[[Callable[..., Any]], object], answer: Callable[..., Any]) -> Outcome:
    """Run an exercise's check on an answer and say whether it is right; never raise.

    A stub's ``...`` body returns None, which the check's asserts reject; an answer that
    raises (``NotImplementedError``, a bug) is "not yet" too, with the error as the reason.
    """
    try:
        check_fn(answer)
    except AssertionError as exc:
        return Outcome(False, str(exc) or "an assertion in the check failed")
    except Exception as exc:  # noqa: BLE001 - any error in the answer means "not yet"
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    return Outcome(True)


def verify(check_fn: Callable[[Callable[..., Any]], object], solution: Callable[..., Any]) -> Outcome:
    """Assert that ``check_fn`` fails on the stub of the same name and passes on ``solution``.

    Called at the end of each collapsed solution, so executing the chapter proves that every
    exercise's check can fail and that its solution is right.

    Raises:
        LookupError: no stub of that name was marked with ``@course.stub``.
        AssertionError: the check passed the stub, or failed the solution.
    """
    if solution.__name__ not in _STUBS:
        raise LookupError(f"no stub named {solution.__name__!r}: mark the exercise's stub "
                          "with @course.stub, and give the solution the same name")
    on_stub = check(check_fn, _STUBS[solution.__name__])
    assert not on_stub, f"the check of {solution.__name__} passed the empty stub: it cannot fail"
    outcome = check(check_fn, solution)
    assert outcome, f"the solution of {solution.__name__} failed its check: {outcome.reason}"
    return outcome
