"""Measuring the cost table: pick a plan, run one probe per row, report progress on the way.

Each model's probe lives with that model (``_objects``, ``_tasks``, ``_threads``,
``_processes``) and returns a finished ``CostRow``; this module only chooses and orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conclab import lifecycle

from ._objects import _object_probe
from ._plans import _FULL, _QUICK, _TIMEOUT, ROWS
from ._processes import _process_probe
from ._rows import CostRow, CostTable
from ._tasks import _task_probe
from ._threads import _thread_probe

__all__ = ["Progress", "measure", "measure_model"]

Progress = Callable[[float, str], None]
"""A progress callback: ``progress(fraction_done, what_runs_now)``."""


def measure_model(model: str, *, start_method: str | None = None, quick: bool = True) -> CostRow:
    """Measure one model's row of the cost table.

    Args:
        model: one of ``ROWS``.
        start_method: for "process", the start method (default: the platform's default).
        quick: small populations and short sweeps (seconds) instead of the full run (minutes).

    Returns:
        A ``CostRow``, each value a median of repeats.
    """
    plan = _QUICK if quick else _FULL
    if model in ("generator", "coroutine"):
        return _object_probe(model, plan)
    if model == "asyncio task":
        # Every await inside is bounded; this bounds the whole probe.
        return lifecycle.run_in_fresh_loop(_task_probe, plan, timeout=_TIMEOUT * 10).result
    if model == "thread":
        return _thread_probe(plan)
    if model == "process":
        return _process_probe(start_method or lifecycle.default_start_method(), plan)
    raise ValueError(f"unknown model {model!r}; expected one of {ROWS}")


def measure(quick: bool = True, *, models: Sequence[str] = ROWS,
            start_methods: Sequence[str] | None = None,
            progress: Progress | None = None) -> CostTable:
    """Measure the cost table on this machine: one row per model, processes per start method.

    Args:
        quick: a run of under 20 s on two cores; False measures more (minutes): bigger
            populations, five repeats, three sweeps each of up to 20,000 threads and 300
            processes.
        models: which of ``ROWS`` to measure, in this order.
        start_methods: the start methods to measure processes with (default: all available).
        progress: called as ``progress(fraction_done, what_runs_now)`` before each row and
            with ``(1.0, "done")`` at the end.

    Returns:
        A ``CostTable`` (a sequence of ``CostRow``; displays as a table in notebooks).
    """
    methods = list(start_methods or lifecycle.start_methods())
    steps = [(m, None) for m in models if m != "process"]
    steps += [("process", s) for s in methods] if "process" in models else []
    rows = []
    for i, (model, method) in enumerate(steps):
        if progress:
            progress(i / len(steps), model if method is None else f"{model} ({method})")
        rows.append(measure_model(model, start_method=method, quick=quick))
    if progress:
        progress(1.0, "done")
    return CostTable(tuple(rows))
