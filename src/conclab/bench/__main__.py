"""Command line: ``python -m conclab.bench [--json FILE] [--only PREFIX] [--full]``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict

from conclab import machine
from conclab.bench import format_table, run_all

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the machine report, run the suites and print their results as a table."""
    parser = argparse.ArgumentParser(prog="python -m conclab.bench",
                                     description="Benchmarks of conclab against the stdlib "
                                                 "and peer libraries, as ratios with goals.")
    parser.add_argument("--json", metavar="FILE", help="also write {machine, results} as JSON")
    parser.add_argument("--only", default="", metavar="PREFIX",
                        help="only results whose name starts so")
    parser.add_argument("--full", action="store_true", help="longer runs, more repeats")
    args = parser.parse_args(argv)
    report = machine.report()
    print(report, end="\n\n", flush=True)
    results = run_all(quick=not args.full, only=args.only)
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": report.as_dict(),
                       "results": [asdict(r) | {"met": r.met} for r in results]}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
