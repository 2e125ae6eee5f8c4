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
    _check_model(model)
    plan = _QUICK if quick else _FULL
    if model in ("generator", "coroutine"):
        return _object_probe(model, plan)
    if model == "asyncio task":
        # Every await inside is bounded; this bounds the whole probe.
        return lifecycle.run_in_fresh_loop(_task_probe, plan, timeout=_TIMEOUT * 10).result
    if model == "thread":
        return _thread_probe(plan)
    # lifecycle names the platform's start methods when one is unknown
    method = lifecycle.get_context(start_method).get_start_method()
    return _process_probe(method, plan)


def _check_model(model: str) -> None:
    """Refuse a row name that ``measure_model`` does not know, naming the ones it does."""
    if model not in ROWS:
        raise ValueError(f"unknown model {model!r}; use one of {ROWS}")


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

    Raises:
        ValueError: for an unknown model or start method, before anything is measured.
        RuntimeError: if ``progress`` raises (its error is the cause).
    """
    methods = list(start_methods or lifecycle.start_methods())
    # Check every name first: a typo in the last one should not cost a minute of measuring.
    for model in models:
        _check_model(model)
    for method in methods if "process" in models else []:
        lifecycle.get_context(method)
    steps = [(m, None) for m in models if m != "process"]
    steps += [("process", s) for s in methods] if "process" in models else []
    rows = []
    for i, (model, method) in enumerate(steps):
        _report(progress, i / len(steps), model if method is None else f"{model} ({method})")
        rows.append(measure_model(model, start_method=method, quick=quick))
    _report(progress, 1.0, "done")
    return CostTable(tuple(rows))


def _report(progress: Progress | None, fraction: float, what: str) -> None:
    """Call the progress callback, saying so if it fails (not a failure of the measuring)."""
    if progress is None:
        return
    try:
        progress(fraction, what)
    except Exception as exc:
        raise RuntimeError(f"the progress callback raised {type(exc).__name__}: {exc} at "
                           f"{what!r}: fix it (it is called as progress(fraction, what)), "
                           "or measure without it") from exc
