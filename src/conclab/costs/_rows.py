"""The cost table's vocabulary: one ``CostRow`` per model, the ``CostTable`` of them, and formats.

Everything else in the package produces rows or reads them; nothing here measures. Tables print
aligned in a terminal and as HTML in a notebook, through one small ``TextTable``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ._article import ARTICLE

__all__ = ["CostRow", "CostTable", "TextTable", "format_bytes", "format_seconds"]


@dataclass(frozen=True)
class CostRow:
    """What one unit of a concurrency model costs, each value a median of repeats.

    Attributes:
        model: "generator", "coroutine", "asyncio task", "thread" or "process".
        start_method: for processes, the multiprocessing start method; else None.
        memory_bytes: resident memory one more unit costs.
        memory_method: how ``memory_bytes`` was measured, in a few words: "tracemalloc"
            (objects inside the interpreter), "RSS delta" (threads), "USS at start" (processes).
        create_seconds: time to create one unit and see it running.
        switch_seconds: one hand-over between two units (half a ping-pong round trip), through
            the least a model allows: ``send()`` for generators and coroutines, the event loop
            alone for tasks, one byte through an OS pipe for threads and processes alike.
        switch_method: how ``switch_seconds`` was measured, in a few words.
        max_count: how many stayed alive at once before ``max_count_limit`` stopped the sweep.
        max_count_limit: "cap", "time", "memory" or "error: ..." (what stopped the sweep).
        rss_bytes: for processes, each child's RSS (includes pages shared with the parent).
        virtual_bytes: address space one more unit reserves (threads: mostly the stack).
        repeats: how many repeats each median is over (processes: how many children; a
            generator's or coroutine's switch: three short bursts of ``send()`` per repeat).
        channel_seconds: one hand-over through the channel a program of this model would
            usually use (an asyncio.Queue, a queue.Queue, a pickled object through a Pipe);
            None where ``send()`` is the channel. Beside ``switch_seconds`` it shows what the
            channel itself costs.
        channel_method: that channel, in a few words.
    """

    model: str
    start_method: str | None
    memory_bytes: float
    memory_method: str
    create_seconds: float
    switch_seconds: float
    switch_method: str
    max_count: int
    max_count_limit: str
    rss_bytes: float | None = None
    virtual_bytes: float | None = None
    repeats: int = 1
    channel_seconds: float | None = None
    channel_method: str = ""

    @property
    def stopped_by_budget(self) -> bool:
        """True when the sweep stopped at its own cap or clock, not at a limit of the machine."""
        return self.max_count_limit in ("cap", "time")

    @property
    def count_text(self) -> str:
        """``max_count`` for reading: ``">= 2,000"`` when the sweep's own budget stopped it."""
        return f"{'>= ' if self.stopped_by_budget else ''}{self.max_count:,}"

    @property
    def name(self) -> str:
        """The row's label: the model, with the start method for processes."""
        return self.model if self.start_method is None else f"{self.model} ({self.start_method})"


@dataclass(frozen=True)
class TextTable:
    """A small table of strings that prints aligned in a terminal and as HTML in a notebook."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __str__(self) -> str:
        cells = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>"
                                        for c in row) + "</tr>" for row in self.rows)
        return f"<table class='conclab-costs'><tr>{head}</tr>{body}</table>"


@dataclass(frozen=True)
class CostTable(Sequence[CostRow]):
    """The measured cost table: a sequence of ``CostRow`` that displays as a table.

    Index it by position or by row name (``table["thread"]``, ``table["process (fork)"]``).
    """

    rows: tuple[CostRow, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[CostRow]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> Any:  # Any: Sequence's slice overload is unused
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(f"no row named {key!r}; use one of "
                           f"{[row.name for row in self.rows]}")
        return self.rows[key]

    def get(self, name: str) -> CostRow | None:
        """The row called ``name``, or None."""
        return next((r for r in self.rows if r.name == name), None)

    def text(self) -> TextTable:
        """The rows formatted for reading."""
        header = ("model", "memory", "measured by", "create", "switch", "measured by", "alive",
                  "stopped by")
        return TextTable(header, tuple(
            (r.name, format_bytes(r.memory_bytes), r.memory_method,
             format_seconds(r.create_seconds), format_seconds(r.switch_seconds), r.switch_method,
             r.count_text, r.max_count_limit) for r in self.rows))

    def handovers(self) -> TextTable:
        """One hand-over per row: the least the model allows, then through a usual channel."""
        header = ("model", "one hand-over", "measured by", "through a channel", "channel")
        return TextTable(header, tuple(
            (r.name, format_seconds(r.switch_seconds), r.switch_method,
             format_seconds(r.channel_seconds), r.channel_method or "-") for r in self.rows))

    def compare(self) -> TextTable:
        """The article's table beside the measured one, one line per measured row."""
        header = ("model", "memory (article)", "memory (here)", "switch (article)",
                  "switch (here)", "count (article)", "alive (here)")
        lines = []
        for r in self.rows:
            coroutines = ("generator", "coroutine", "asyncio task")
            family = "coroutine" if r.model in coroutines else r.model
            mem, switch, count = ARTICLE[family]
            lines.append((r.name, mem, format_bytes(r.memory_bytes), switch,
                          format_seconds(r.switch_seconds), count, r.count_text))
        return TextTable(header, tuple(lines))

    def __str__(self) -> str:
        return str(self.text())

    def _repr_html_(self) -> str:
        return self.text()._repr_html_()


def format_bytes(n: float | None) -> str:
    """A byte count for reading: ``"184 B"``, ``"16.2 KiB"``, ``"8.0 MiB"``."""
    if n is None or not math.isfinite(n):
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def format_seconds(s: float | None) -> str:
    """A duration for reading: ``"35 ns"``, ``"8.1 µs"``, ``"6.2 ms"``, ``"1.20 s"``."""
    if s is None or not math.isfinite(s):
        return "-"
    for unit, size in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(s) >= size:
            return f"{s / size:.2f} {unit}" if unit == "s" else f"{s / size:.1f} {unit}"
    return f"{s * 1e9:.0f} ns"
