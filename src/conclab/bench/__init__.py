"""Benchmarks: ``python -m conclab.bench [--json FILE] [--only PREFIX] [--full]``.

Speed is measured here, never in timed tests. Each result is a ratio measured in one run
against a reference (the raw stdlib primitive the package wraps, or the best-known library for
the same job), so that a noisy machine moves both sides together, and it carries the **goal**
that ratio is held to (``">= 1.2"``) and whether this run met it.

The suites are the other modules of this package: each defines ``run(quick: bool) ->
list[Result]`` and is found by name, so adding a benchmark means adding a module, not editing
this file. The suites import this module (for ``Result``); this module never imports a suite
by name, so the two never import each other. Peer libraries that only benchmarks use (janus,
culsans, pykka) come from the ``bench`` extra; a suite whose peer is missing reports a
skipped result with the reason (``skipped()``) instead of failing.

The benchmarks sit beside the layered package: they may import any floor of it.
"""

from __future__ import annotations

import importlib
import operator
import pkgutil
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Result", "skipped", "median_ratio", "suites", "run_all", "format_table"]

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Result:
    """One named measurement, how it compares with its reference, and the goal it is held to.

    Attributes:
        name: dotted name, ``area.what`` (``bridge.roundtrip_vs_janus``).
        value: the measured value, in ``unit`` (None when skipped).
        unit: unit of ``value`` (``"s"``, ``"B"``, ``"x"``, ``"1/s"``).
        reference: what ``ratio`` compares with, in words (or why it was skipped).
        ratio: value divided by the reference's value measured in the same run, or None.
        goal: what the ratio should be, as ``">= 1.2"`` or ``"<= 0.5"``; empty for none.
        skipped: why the benchmark did not run (a missing peer library); empty if it ran.
    """

    name: str
    value: float | None
    unit: str
    reference: str = ""
    ratio: float | None = None
    goal: str = ""
    skipped: str = ""

    def __post_init__(self) -> None:
        if self.goal:
            op, _, bound = self.goal.partition(" ")
            try:
                float(bound)
            except ValueError:
                op = ""  # reported below, with the shape a goal must have
            if op not in _OPS:
                raise ValueError(f"goal must look like '>= 1.2' or '<= 0.5' (an operator, a "
                                 f"space, a number), not {self.goal!r}")

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets the goal; None without a goal or a ratio."""
        if not self.goal or self.ratio is None:
            return None
        op, _, bound = self.goal.partition(" ")
        return _OPS[op](self.ratio, float(bound))


def skipped(name: str, reason: str) -> Result:
    """A result for a benchmark that could not run here, saying why."""
    return Result(name, None, "", reason, skipped=reason)


def median_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of per-repeat ratios ``ours[i] / theirs[i]`` (adjacent runs share the noise)."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"need the same number (at least one) of measurements on each side, "
                         f"not {len(ours)} and {len(theirs)}: time both sides in every repeat")
    if not all(b > 0 for b in theirs):
        raise ValueError(f"every reference measurement must be > 0, not {list(theirs)!r}: a "
                         "ratio to 0 means nothing; time more work per repeat")
    return statistics.median(a / b for a, b in zip(ours, theirs))


def suites() -> list[str]:
    """Names of the benchmark suites (the other modules of this package), sorted."""
    return sorted(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_"))


def run_all(*, quick: bool = True, only: str = "") -> list[Result]:
    """Run every suite (or those whose results start with ``only``) and collect the results.

    Raises:
        ValueError: if ``only`` matches no suite, before anything runs.
    """
    results: list[Result] = []
    areas = [name.rsplit(".", 1)[1] for name in suites()]
    chosen = [a for a in areas if not only or a.startswith(only) or only.startswith(a)]
    if not chosen:
        raise ValueError(f"only={only!r} matches no benchmark suite: give a prefix of one of "
                         f"{areas}, or of a result name such as 'scheduler.switch'")
    for name in suites():
        area = name.rsplit(".", 1)[1]
        if area not in chosen:
            continue
        print(f"running {area} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(name)
        results.extend(r for r in module.run(quick) if r.name.startswith(only))
    return results


def format_table(results: Sequence[Result]) -> str:
    """Results as an aligned text table, with each goal and whether it was met."""
    header = ("name", "value", "unit", "ratio", "goal", "met", "reference")
    rows = [header]
    for r in results:
        met = {None: "", True: "yes", False: "NO"}[r.met]
        if r.skipped:
            rows.append((r.name, "-", "", "", r.goal, "skipped", r.skipped))
            continue
        rows.append((r.name, f"{r.value:.4g}", r.unit,
                     "" if r.ratio is None else f"{r.ratio:.3f}", r.goal, met, r.reference))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)
