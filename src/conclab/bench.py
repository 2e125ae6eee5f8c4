"""Benchmarks: ``python -m conclab.bench [--json FILE] [--only PREFIX] [--full]``.

Speed is measured here, never in timed tests. Each result is a ratio measured in one run
against a reference (the raw stdlib primitive the package wraps, or the best-known library for
the same job), so that a noisy machine moves both sides together. Results come from the
modules of ``conclab.benchmarks``: each defines ``run(quick: bool) -> list[Result]`` and is
discovered by name, so adding a benchmark means adding a module, not editing this file.

The output starts with the machine report, because every number below depends on it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from conclab import machine

__all__ = ["Result", "suites", "run_all", "format_table", "main"]


@dataclass(frozen=True)
class Result:
    """One named measurement and how it compares with its reference.

    Attributes:
        name: dotted name, ``area.what`` (``trace.overhead``).
        value: the measured value, in ``unit``.
        unit: unit of ``value`` (``"s"``, ``"B"``, ``"x"``, ``"1/s"``).
        reference: what ``ratio`` compares with, in words.
        ratio: value divided by the reference's value measured in the same run, or None.
    """

    name: str
    value: float
    unit: str
    reference: str = ""
    ratio: float | None = None


def suites() -> list[str]:
    """Names of the benchmark modules in ``conclab.benchmarks``, sorted."""
    import conclab.benchmarks as pkg

    return sorted(f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_"))


def run_all(*, quick: bool = True, only: str = "") -> list[Result]:
    """Run every suite (or those whose results start with ``only``) and collect the results."""
    results: list[Result] = []
    for name in suites():
        module = importlib.import_module(name)
        area = name.rsplit(".", 1)[1]
        if only and not (area.startswith(only) or only.startswith(area)):
            continue
        print(f"running {area} ...", file=sys.stderr, flush=True)
        results.extend(r for r in module.run(quick) if r.name.startswith(only))
    return results


def format_table(results: Sequence[Result]) -> str:
    """Results as an aligned text table."""
    header = ("name", "value", "unit", "ratio", "reference")
    rows = [header] + [
        (r.name, f"{r.value:.4g}", r.unit, "" if r.ratio is None else f"{r.ratio:.3f}", r.reference)
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m conclab.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write {machine, results} as JSON")
    parser.add_argument("--only", default="", metavar="PREFIX", help="only results whose name starts so")
    parser.add_argument("--full", action="store_true", help="longer runs, more repeats")
    args = parser.parse_args(argv)
    report = machine.report()
    print(report, end="\n\n", flush=True)
    results = run_all(quick=not args.full, only=args.only)
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": report.as_dict(), "results": [asdict(r) for r in results]}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
