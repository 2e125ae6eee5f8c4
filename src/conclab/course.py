"""The course map: the article's thesis as a picture, and the chapters that teach each part.

The article ends on one claim: a concurrent system is a **scheduler**, **tasks** and
**communication**. Each part comes in kinds (the OS's pre-emptive scheduler or an event loop's
co-operative one; a process, a thread or a coroutine as the task; a queue, an actor or pub/sub
as the communication), and each kind has a chapter. ``CHAPTERS`` is the table of contents as
data; ``draw_map`` draws the three parts with their kinds and chapter numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Chapter", "CHAPTERS", "PARTS", "draw_map"]


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


def draw_map(ax: Axes | None = None) -> Axes:
    """Draw the three parts of a concurrent system, their kinds and their chapters.

    Args:
        ax: the Axes to draw on; a new figure of page width when None.

    Returns:
        The Axes, with no title: the text around the figure is its caption.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    ax.set_xlim(0, 9)
    ax.set_ylim(0, 3.6)
    ax.set_axis_off()
    colours = {"scheduler": "#4c72b0", "tasks": "#dd8452", "communication": "#55a868"}
    for i, (part, kinds) in enumerate(PARTS.items()):
        x = 0.2 + 3.0 * i
        ax.add_patch(FancyBboxPatch((x, 0.2), 2.6, 3.1, boxstyle="round,pad=0.05",
                                    facecolor=colours[part], alpha=0.15, edgecolor=colours[part]))
        ax.text(x + 1.3, 2.95, part, ha="center", va="center", fontsize=13, weight="bold",
                color=colours[part])
        for j, (kind, chapter) in enumerate(kinds):
            y = 2.25 - 0.75 * j
            ax.text(x + 1.3, y, kind, ha="center", va="center", fontsize=11)
            ax.text(x + 1.3, y - 0.28, f"chapter {chapter:02d}", ha="center", va="center",
                    fontsize=8, color="0.35")
    for x0, label in ((2.85, "runs"), (5.85, "talk\nthrough")):
        ax.add_patch(FancyArrowPatch((x0, 1.55), (x0 + 0.3, 1.55), arrowstyle="-|>",
                                     mutation_scale=14, color="0.3"))
        ax.text(x0 + 0.15, 1.7, label, ha="center", va="bottom", fontsize=7, color="0.3")
    return ax
