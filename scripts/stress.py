"""Run the package tests and the chapters again and again under changing knobs; count failures.

Usage: ``python scripts/stress.py [--runs N] [--chapter-runs M] [NOTEBOOK ...]`` from the
repository root, with the course's environment (`make stress N=20` does it). Two kinds of run:

- **package**: ``pytest -m "<marks>" tests`` (what `make test` runs but the chapters), N times;
- **chapters**: the chapter notebooks under nbval (``--nbval-lax``, as `make test`), M times
  (default 2).

Each run is a fresh pytest process with two knobs of the package in its environment, so its
kernels and child processes see them too:

- ``CONCLAB_SWITCH_INTERVAL``: log-spaced from 1e-6 s to 5e-3 s across the runs of each kind,
  so that both kinds meet both extremes;
- ``CONCLAB_START_METHOD``: cycling through ``multiprocessing.get_all_start_methods()`` across
  all runs, so that even two package and two chapter runs meet every method.

Before the runs, a fresh interpreter checks that the package honours both knobs; if it does
not, the table says so (its knob values would be a lie). Outcomes come from pytest's
``--junitxml`` report. A run longer than ``--run-timeout`` is stopped with its whole process
tree and counts as a failure of a pseudo-test named after it, as does a run that fails without
a failed test in its report (a crash, a collection error). The table at the end lists every
test that failed at least once: failures/runs and the knob values of each failing run. Exit
status 1 if anything failed. Each run's output and report stay in ``build/stress/``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
INTERVALS = (1e-6, 5e-3)  # seconds: the switch intervals the runs of each kind span
INTERVAL_ENV, METHOD_ENV = "CONCLAB_SWITCH_INTERVAL", "CONCLAB_START_METHOD"


@dataclass(frozen=True)
class Run:
    """One pytest process: which kind, and the knob values it runs under."""

    number: int
    kind: str
    interval: float
    method: str

    def knobs(self) -> str:
        """The knob values, as the table prints them."""
        return f"interval {self.interval:.1e} s, {self.method}"

    def environment(self) -> dict[str, str]:
        """Our environment plus this run's knobs."""
        return {**os.environ, INTERVAL_ENV: f"{self.interval:.3g}", METHOD_ENV: self.method}


def plan(runs: int, chapter_runs: int, methods: Sequence[str]) -> list[Run]:
    """The runs, in order: intervals log-spaced per kind, start methods cycling over all."""
    low, high = INTERVALS
    planned: list[Run] = []
    for kind, count in (("package", runs), ("chapters", chapter_runs)):
        for i in range(count):
            share = i / (count - 1) if count > 1 else 0.0
            interval = math.exp(math.log(low) + share * (math.log(high) - math.log(low)))
            planned.append(Run(len(planned) + 1, kind, interval,
                               methods[len(planned) % len(methods)]))
    return planned


def command(run: Run, args: argparse.Namespace, report: Path) -> list[str]:
    """The pytest command line for ``run``."""
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--junitxml={report}", "-m", args.marks]
    if run.kind == "package":
        return base + list(args.tests)
    return base + ["--nbval-lax", f"--nbval-cell-timeout={args.cell_timeout}",
                   *map(str, args.notebooks)]


def execute(argv: list[str], env: dict[str, str], log: Path, timeout: float) -> int | None:
    """Run ``argv`` with output to ``log``; its exit status, or None if it ran out of time."""
    with log.open("wb") as out:
        # A session of its own: on timeout (or our own interrupt) the whole tree is stopped.
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if process.poll() is None:
                _kill_tree(process)


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill a process, its group and every descendant (Jupyter kernels have their own sessions)."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(descendants, timeout=10)
    process.wait(10)


def outcomes(report: Path) -> dict[str, str]:
    """Test id -> "passed", "failed" or "skipped", from a JUnit XML report ({} if none)."""
    try:
        tree = ElementTree.parse(report)
    except (OSError, ElementTree.ParseError):
        return {}
    found: dict[str, str] = {}
    for case in tree.iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            found[test] = "failed"
        elif "skipped" in tags:
            found.setdefault(test, "skipped")
        else:
            found.setdefault(test, "passed")
    return found


def run_once(run: Run, args: argparse.Namespace, total: int) -> dict[str, str]:
    """Execute one run, print its line, and return its outcomes (pseudo-tests included)."""
    report = args.out / f"run-{run.number:02d}-{run.kind}.xml"
    log = report.with_suffix(".log")
    report.unlink(missing_ok=True)
    began = time.monotonic()
    status = execute(command(run, args, report), run.environment(), log, args.run_timeout)
    found = outcomes(report)
    if status is None:
        found[f"<{run.kind} run stopped after {args.run_timeout:.0f} s>"] = "failed"
    elif status != 0 and "failed" not in found.values():
        found[f"<{run.kind} run exited {status} with no failed test: see {log.name}>"] = "failed"
    counts = {o: sum(1 for v in found.values() if v == o) for o in ("passed", "failed", "skipped")}
    print(f"run {run.number:>2}/{total} {run.kind:<8} {run.knobs():<32} "
          f"{counts['passed']:>4} passed {counts['failed']:>3} failed {counts['skipped']:>3} "
          f"skipped  {time.monotonic() - began:5.0f} s", flush=True)
    return found


def knobs_honoured(methods: Sequence[str]) -> list[str]:
    """Problems with the knobs: a fresh interpreter must report the values it was given."""
    probe = ("import sys, conclab\nfrom conclab import lifecycle\n"
             "print(sys.getswitchinterval(), lifecycle.default_start_method())")
    env = {**os.environ, INTERVAL_ENV: "0.00123", METHOD_ENV: methods[-1]}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    if done.returncode != 0:
        return [f"the knob probe failed: {done.stderr.strip().splitlines()[-1:]}"]
    interval, method = done.stdout.split()
    problems = []
    if not math.isclose(float(interval), 0.00123):
        problems.append(f"{INTERVAL_ENV} is ignored by this conclab (interval {interval})")
    if method != methods[-1]:
        problems.append(f"{METHOD_ENV} is ignored by this conclab (method {method})")
    return problems


def table(runs: list[Run], results: list[dict[str, str]]) -> list[str]:
    """Lines of the failure table: test, failures/runs, knobs of each failing run."""
    seen: dict[str, list[tuple[Run, str]]] = defaultdict(list)
    for run, found in zip(runs, results, strict=True):
        for test, outcome in found.items():
            if outcome != "skipped":
                seen[test].append((run, outcome))
    failing = {t: r for t, r in seen.items() if any(o == "failed" for _, o in r)}
    if not failing:
        return [f"no failures: {len(seen)} tests, {len(runs)} runs"]
    width = max(len(t) for t in failing)
    lines = [f"{'test':<{width}}  failed/runs  knobs of each failing run"]
    for test, rows in sorted(failing.items()):
        bad = [r for r, o in rows if o == "failed"]
        where = "; ".join(f"run {r.number}: {r.knobs()}" for r in bad)
        lines.append(f"{test:<{width}}  {len(bad):>6}/{len(rows):<4}  {where}")
    return lines


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    parser.add_argument("--runs", type=int, default=20, help="package test runs")
    parser.add_argument("--chapter-runs", type=int, default=2, help="notebook runs")
    parser.add_argument("--marks", default="not browser and not lab", help="pytest -m")
    parser.add_argument("--tests", nargs="+", default=["tests"], help="package test paths")
    parser.add_argument("--cell-timeout", type=float, default=180, help="nbval, per cell")
    parser.add_argument("--run-timeout", type=float, default=1200, help="seconds per run")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "stress")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Plan, run, tabulate; 1 if any test failed in any run (or the knobs are ignored)."""
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    methods = multiprocessing.get_all_start_methods()
    runs = plan(args.runs, args.chapter_runs if args.notebooks else 0, methods)
    problems = knobs_honoured(methods)
    began = time.monotonic()
    results = [run_once(run, args, len(runs)) for run in runs]
    print(f"\n{len(runs)} runs in {time.monotonic() - began:.0f} s; start methods {methods}; "
          f"switch intervals {INTERVALS[0]:g}-{INTERVALS[1]:g} s; logs in {args.out}")
    lines = [f"WARNING: {p}" for p in problems] + table(runs, results)
    print("\n".join(lines))
    return 1 if problems or any("failed" in r.values() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
