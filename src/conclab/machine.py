"""What a reader must know about this machine before reading any number the course measures.

Every timing, size and speed-up in the course depends on the machine that produced it: how
many cores the process may really use (a container or Binder pod often has a CPU quota far
below the core count the OS reports), how much memory there is, the operating system, the
Python version and build (a free-threaded build, and whether the GIL is on right now), and
the start method ``multiprocessing`` uses by default. ``report()`` gathers all of it in one
object that prints as a small table, in a terminal or in a notebook.

It reads and never changes anything: in particular it asks for the default start method
without fixing it (``multiprocessing.get_start_method()`` without ``allow_none=True`` would
freeze the global choice for the rest of the process).
"""

from __future__ import annotations

import html
import math
import os
import platform
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from conclab.lifecycle import default_start_method, start_methods

__all__ = ["MachineReport", "report", "usable_cpus", "default_start_method", "gil_enabled"]


@dataclass(frozen=True)
class MachineReport:
    """The facts about this machine and interpreter that every measurement depends on."""

    cpus_logical: int
    cpus_physical: int | None
    cpus_usable: int
    cpu_quota: float | None
    memory_total_bytes: int
    memory_available_bytes: int
    os: str
    machine: str
    python_version: str
    python_implementation: str
    free_threaded_build: bool
    gil_enabled: bool
    default_start_method: str
    start_methods: tuple[str, ...]
    psutil_version: str

    def as_dict(self) -> dict[str, object]:
        """The report as plain data (for JSON)."""
        data = asdict(self)
        data["start_methods"] = list(self.start_methods)
        return data

    def rows(self) -> list[tuple[str, str]]:
        """The report as (what, value) rows, in reading order."""
        quota = "none" if self.cpu_quota is None else f"{self.cpu_quota:g} CPUs"
        build = "free-threaded" if self.free_threaded_build else "with GIL"
        return [
            ("CPU cores (logical / physical)", f"{self.cpus_logical} / {self.cpus_physical or '?'}"),
            ("CPU cores this process may use", str(self.cpus_usable)),
            ("CPU quota (cgroup)", quota),
            ("memory (total / available)",
             f"{_gib(self.memory_total_bytes)} / {_gib(self.memory_available_bytes)}"),
            ("operating system", f"{self.os} ({self.machine})"),
            ("Python", f"{self.python_implementation} {self.python_version}"),
            ("Python build", build),
            ("GIL enabled now", "yes" if self.gil_enabled else "no"),
            ("default start method", self.default_start_method),
            ("start methods available", ", ".join(self.start_methods)),
            ("psutil", self.psutil_version),
        ]

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows())

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.rows()
        )
        return f"<table class='conclab-machine'>{body}</table>"


def _gib(n: int) -> str:
    """Bytes as GiB with one decimal."""
    return f"{n / 2**30:.1f} GiB"


def _cgroup_quota() -> float | None:
    """The cgroup v2 (or v1) CPU quota in CPUs, or None where there is none."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1q, v1p = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if v1q.exists() and v1p.exists():
            quota_us = int(v1q.read_text())
            return None if quota_us < 0 else quota_us / int(v1p.read_text())
    except (OSError, ValueError):
        return None
    return None


def usable_cpus() -> int:
    """How many cores this process can keep busy at once: affinity, capped by any cgroup quota."""
    if hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:  # macOS and Windows have no affinity call in os
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def free_threaded_build() -> bool:
    """True for a free-threaded CPython build (3.13t, 3.14t), whether or not the GIL is on."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """True while the GIL is on: always on a normal build; on a free-threaded build it depends."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def report() -> MachineReport:
    """Measure nothing, read everything: the facts every number in the course depends on.

    Returns:
        A ``MachineReport``; in a notebook it displays as a table, in a terminal as text.
    """
    memory = psutil.virtual_memory()
    return MachineReport(
        cpus_logical=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        cpus_physical=psutil.cpu_count(logical=False),
        cpus_usable=usable_cpus(),
        cpu_quota=_cgroup_quota(),
        memory_total_bytes=memory.total,
        memory_available_bytes=memory.available,
        os=platform.platform(terse=True),
        machine=platform.machine(),
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        free_threaded_build=free_threaded_build(),
        gil_enabled=gil_enabled(),
        default_start_method=default_start_method(),
        start_methods=tuple(start_methods()),
        psutil_version=psutil.__version__,
    )


if __name__ == "__main__":
    print(report())
