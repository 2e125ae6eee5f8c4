"""What the source article says: its cost table as printed, and the claims a measurement can check.

``CostTable.compare`` prints ``ARTICLE`` beside the measured rows; ``verdicts`` judges each of
``CLAIMS`` by one rule, reading the article's own figures from ``FIGURES``.
"""

from __future__ import annotations

from ._plans import MiB

__all__ = ["ARTICLE", "CLAIMS", "FIGURES"]

ARTICLE: dict[str, tuple[str, str, str]] = {
    "process": ("-", "-", "~10"),
    "thread": ("~8 MB", "-", "~100"),
    "coroutine": ("< 0.8 KB", "~100 ns", "1000+"),
}
"""The article's table as it stands: (memory, switch, count) per model, "-" where it is blank."""

_THREAD_BYTES = 8 * MiB      # "~8 MB": the Linux default stack, 8 MiB
_COROUTINE_BYTES = 800       # "< 0.8 KB"
_SWITCH_SECONDS = 100e-9     # "~100 ns"

FIGURES: dict[str, float] = {
    "thread memory": _THREAD_BYTES,
    "coroutine memory": _COROUTINE_BYTES,
    "coroutine switch": _SWITCH_SECONDS,
}
"""The claims that give a figure, by short name: the figure in bytes or seconds (rule 1)."""

CLAIMS: dict[str, str] = {
    "thread memory": "a thread costs ~8 MB of memory",
    "coroutine memory": "a coroutine costs < 0.8 KB of memory",
    "coroutine switch": "a coroutine switch costs ~100 ns",
    "overhead": "overhead: process large, thread medium, coroutine small",
    "process count": "~10 processes (a pool no larger than the cores)",
    "thread count": "~100 threads are no problem",
    "coroutine count": "1000+ coroutines are easy",
    "threads in parallel": "threads do not run Python code in parallel (the GIL)",
    "processes in parallel": "processes run Python code in parallel on several cores",
}
"""The article's claims that a measurement can check, by short name."""
