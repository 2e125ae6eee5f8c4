"""What Dask workers run in chapter 10, and the reader of Dask's task stream.

Dask is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from conclab.hooks import Observer, clock

__all__ = ["echo", "nap", "add_up", "put_square", "Counter", "report_task_stream", "LogLines",
           "caught_log"]


def echo(x: Any) -> Any:
    """Return ``x``: the tiniest task, to time what a task costs around its work."""
    return x


def nap(seconds: float, value: Any = None) -> Any:
    """Sleep ``seconds``, then return ``value`` (``seconds`` when None): a task of known length."""
    time.sleep(seconds)
    return seconds if value is None else value


def put_square(queue_name: str, n: int) -> int:
    """Put ``n * n`` on the ``distributed.Queue`` called ``queue_name``; return it.

    It runs on a worker, which reaches the queue (held by the scheduler) through its own
    client, so any task can be a producer.
    """
    from distributed import Queue

    Queue(queue_name).put(n * n, timeout=30)
    return n * n


def add_up(values: Iterable[float], seconds: float = 0.0) -> float:
    """Sleep ``seconds``, then return ``sum(values)``: a last step long enough to be seen."""
    time.sleep(seconds)
    return sum(values)


class Counter:
    """An object that a Dask worker holds as an actor: ``client.submit(Counter, actor=True)``.

    Each method call travels to the one worker that holds it and runs there, one at a time;
    the count lives only in that worker's memory.
    """

    def __init__(self) -> None:
        self.count = 0
        self.pid = os.getpid()

    def add(self, by: int = 1) -> int:
        """Add ``by`` to the count and return the new count."""
        self.count += by
        return self.count

    def where(self) -> int:
        """The process ID of the worker that holds this actor."""
        return self.pid


def report_task_stream(records: Iterable[Mapping[str, Any]], observer: Observer) -> list[str]:
    """Report Dask task-stream records to ``observer``: a "run" span per computation.

    ``client.get_task_stream()`` returns one record per task, with the worker's address, the
    thread that ran it and ``startstops``, the stretches it spent computing ("compute"),
    receiving its inputs ("transfer") and so on, in wall-clock seconds (``time.time()``).
    Each worker thread becomes a lane, ``worker-0``, ``worker-1``... (by address; with
    several threads per worker, ``worker-0/thread-1``...); a "compute" stretch becomes a
    "run" span labelled with the task's function name, any other a span in a state of that
    name. Times are moved onto ``hooks.clock`` (the clocks share this machine).

    Returns:
        The lane names, in order.
    """
    records = list(records)
    offset = clock() - time.time()
    lane_of: dict[tuple[str, Any], str] = {}
    for w_index, worker in enumerate(sorted({r["worker"] for r in records})):
        threads = sorted({r.get("thread", 0) for r in records if r["worker"] == worker})
        for t_index, thread in enumerate(threads):
            suffix = f"/thread-{t_index}" if t_index else ""
            lane_of[worker, thread] = f"worker-{w_index}{suffix}"
    for record in records:
        lane = lane_of[record["worker"], record.get("thread", 0)]
        label = _function_name(record.get("key", "task"))
        for part in record.get("startstops", ()):
            state = "run" if part["action"] == "compute" else part["action"]
            observer.span(lane, state, part["start"] + offset, part["stop"] + offset, label)
    return list(lane_of.values())


def _function_name(key: Any) -> str:
    """The function's name in a Dask task key: ``"nap-5f1c..."`` and ``("nap-5f1c...", 3)``."""
    first = key[0] if isinstance(key, tuple) and key else key
    return str(first).split("-")[0]


class LogLines(list[str]):
    """The lines one logger said, as they come (a list), and a way to wait for one."""

    def __init__(self) -> None:
        super().__init__()
        self._new = threading.Condition()

    def add(self, line: str) -> None:
        """Append ``line`` and wake whoever waits for one (called from any thread)."""
        with self._new:
            self.append(line)
            self._new.notify_all()

    def wait_for(self, text: str, timeout: float) -> str | None:
        """The first line containing ``text``, waiting up to ``timeout`` s for it; else None."""
        with self._new:
            self._new.wait_for(lambda: any(text in line for line in self), timeout)
            return next((line for line in self if text in line), None)


class _Collect(logging.Handler):
    """Hand every record's level and message to a ``LogLines``."""

    def __init__(self, lines: LogLines) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.add(f"{record.levelname}: {record.getMessage()}")


@contextmanager
def caught_log(name: str) -> Iterator[LogLines]:
    """Collect what logger ``name`` (and the loggers below it) say inside the block.

    Dask's scheduler and workers log from their own threads, on their own schedule: in a
    notebook a warning printed to stderr may land under a later cell. Inside the block the
    records go to the ``LogLines`` this yields, and nowhere else; ``wait_for`` waits for a
    line that another thread is about to log.

    Args:
        name: the logger, e.g. ``"distributed.comm"``.
    """
    logger = logging.getLogger(name)
    lines = LogLines()
    handler = _Collect(lines)
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
