"""Watching the fused program: a dashboard's samples, a statistics actor, stuck-program dumps.

1. ``Monitor`` subscribes to the server's gateway (it is one of the program's subscribers)
   and, from a task on the caller's loop, samples every ``every`` seconds: per-core CPU
   (psutil), the queue lengths the server reports, and latency percentiles of the jobs done
   so far. Each ``Sample`` renders itself as a small HTML panel, so a live widget and a
   recording (one frame per sample) show the same thing.
2. ``StatsActor`` is the statistics subscriber: an actor that counts outcomes per topic.
3. ``thread_stacks`` is ``faulthandler.dump_traceback`` into a string; ``py_spy_dump`` runs
   ``py-spy dump --pid`` on another process, and says why when the platform forbids it.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import psutil

from conclab.actors import Actor
from conclab.hooks import clock
from conclab.pubsub import Message
from conclab.fusion._clients import percentile
from conclab.fusion._server import Server

__all__ = ["Sample", "Monitor", "StatsActor", "thread_stacks", "py_spy_dump"]


@dataclass(frozen=True)
class Sample:
    """One look at the running program.

    Attributes:
        t: when (``hooks.clock()``); cpu: percent busy of each core since the last sample;
        in_flight, queued_for_threads, waiting_for_process, failed: from
        ``Server.statistics()``; done: outcomes published so far; latency_ms: kind -> (p50,
        p99) of their server-side time, in milliseconds.
    """

    t: float
    cpu: tuple[float, ...]
    in_flight: int
    queued_for_threads: int
    waiting_for_process: int
    done: int
    latency_ms: dict[str, tuple[float, float]]
    failed: int = 0

    def html(self, t0: float | None = None) -> str:
        """A small panel: a bar per core, the queues, and the latency percentiles."""
        at = f" at {(self.t - t0) * 1e3:.0f} ms" if t0 is not None else ""
        bars = "".join(
            f"<div style='display:flex;align-items:center;gap:4px'><span>core {i}</span>"
            f"<div style='width:100px;height:10px;background:#eee'><div style='width:"
            f"{min(c, 100):.0f}px;height:10px;background:#4c72b0'></div></div>"
            f"<span>{c:.0f}%</span></div>" for i, c in enumerate(self.cpu))
        lat = "".join(f"<tr><td>{escape(k)}</td><td>{p50:.1f}</td><td>{p99:.1f}</td></tr>"
                      for k, (p50, p99) in sorted(self.latency_ms.items()))
        return (f"<div style='font-size:12px;font-family:sans-serif'><b>dashboard{at}</b>"
                f"{bars}<div>in flight {self.in_flight}, waiting for a thread "
                f"{self.queued_for_threads}, for a process {self.waiting_for_process}, "
                f"done {self.done}, failed {self.failed}</div><table><tr><th>kind</th><th>p50 ms</th>"
                f"<th>p99 ms</th></tr>{lat}</table></div>")


class Monitor:
    """Samples a running ``Server`` from the caller's event loop; a subscriber of its gateway.

    ``async with Monitor(server) as monitor:`` samples until the block ends; ``samples``
    holds every ``Sample`` and ``on_sample`` (if given) is called with each as it is taken.
    """

    def __init__(self, server: Server, *, every: float = 0.2,
                 on_sample: Callable[[Sample], object] | None = None) -> None:
        if not every > 0:
            raise ValueError(f"every must be a number of seconds > 0, not {every!r}")
        self.server, self.every, self.on_sample = server, every, on_sample
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = defaultdict(list)
        self._done = 0
        self._task: asyncio.Task[None] | None = None
        server.gateway.subscribe("job.#", self._record, policy="drop", name="dashboard",
                                 maxsize=100_000)

    def _record(self, message: Message) -> None:
        """The subscriber: keep each outcome's server-side time (in the gateway's thread)."""
        record = message.payload
        with self._lock:
            self._done += 1
            self._times[record["kind"]].append(record["server_ms"])

    def sample(self) -> Sample:
        """Take one sample now."""
        s = self.server.statistics()
        with self._lock:
            lat = {k: (percentile(v, 50), percentile(v, 99)) for k, v in self._times.items()}
            done = self._done
        taken = Sample(clock(), tuple(psutil.cpu_percent(percpu=True)), s.in_flight,
                       s.queued_for_threads, s.waiting_for_process, done, lat, s.failed)
        self.samples.append(taken)
        if self.on_sample is not None:
            self.on_sample(taken)
        return taken

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.sample()

    async def __aenter__(self) -> Monitor:
        psutil.cpu_percent(percpu=True)  # the first call only starts psutil's interval
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.sample()


class StatsActor(Actor):
    """The statistics subscriber: counts each topic's messages; ask ``"summary"`` for them."""

    def on_start(self) -> None:
        self.counts: Counter[str] = Counter()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Message):
            self.counts[message.topic] += 1
            return None
        if message == "summary":
            return dict(self.counts)
        raise ValueError(f"StatsActor takes gateway messages or 'summary', not {message!r}")


def thread_stacks(match: str | None = None) -> str:
    """Every thread's Python stack, as ``faulthandler.dump_traceback`` writes it.

    faulthandler writes to a file descriptor, with no Python code of its own running (which
    is why it works when the program is stuck): here, a temporary file read back.

    Args:
        match: keep only the threads whose stack mentions this text.
    """
    with tempfile.TemporaryFile(mode="w+") as f:
        faulthandler.dump_traceback(file=f, all_threads=True)
        f.seek(0)
        text = f.read()
    if match is None:
        return text
    blocks = text.strip().split("\n\n")
    return "\n\n".join(b for b in blocks if match in b)


def _py_spy() -> str | None:
    """The py-spy executable beside this interpreter, else on PATH."""
    here = Path(sys.executable).parent / ("py-spy.exe" if os.name == "nt" else "py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def py_spy_dump(pid: int, *, timeout: float = 30.0) -> tuple[bool, str]:
    """``py-spy dump --pid pid``: (True, the stacks) or (False, why it could not run).

    The stacks come back without py-spy's terminal colours. Reading another process's
    memory needs ptrace rights: Linux containers without
    ``CAP_SYS_PTRACE``, a strict Yama setting, and macOS without root all refuse; the
    reason comes back instead of an exception.
    """
    exe = _py_spy()
    if exe is None:
        return False, "py-spy is not installed here (pip install py-spy)"
    try:
        done = subprocess.run([exe, "dump", "--pid", str(pid)], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False, f"py-spy did not finish within {timeout} s"
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return False, f"py-spy could not read process {pid}: {why[-1] if why else 'no reason given'}"
    return True, _ANSI.sub("", done.stdout)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # py-spy colours its output even into a pipe
