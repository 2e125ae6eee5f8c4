"""The three kinds of step a job can be, and where each may run: the loop, a thread, a process.

A job is one step of one kind. ``light`` is a few microseconds of Python (counting the words of
a short text): any model can run it, and the event loop runs it cheapest, on the spot.
``blocking`` is a call that waits without computing (``time.sleep`` standing for a synchronous
database driver or a library without an async API): on the loop it would stop every other task,
so it belongs in a thread. ``heavy`` is pure-Python CPU work (``workloads.burn``): under the GIL
only a process runs it beside the loop. ``StepActor`` runs any step in a process of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from conclab.actors import Actor
from conclab.workloads import burn

__all__ = ["Kind", "Model", "KINDS", "MODELS", "STEPS", "light", "blocking", "heavy",
           "check_job", "Placement", "FUSED", "CPU_ON_LOOP", "CPU_IN_THREADS",
           "ALL_IN_PROCESSES", "PLACEMENTS", "StepActor"]

Kind = Literal["light", "blocking", "heavy"]
Model = Literal["loop", "thread", "process"]
KINDS: tuple[Kind, ...] = ("light", "blocking", "heavy")
MODELS: tuple[Model, ...] = ("loop", "thread", "process")
_MAX_TEXT = 10_000       # characters a light job may carry
_MAX_SLEEP = 10.0        # seconds a blocking job may ask for
_MAX_UNITS = 10**9       # burn units a heavy job may ask for (minutes of CPU at most)


def light(text: str) -> int:
    """A light step: the number of words in ``text`` (microseconds of work)."""
    return len(text.split())


def blocking(seconds: float) -> float:
    """A blocking step: wait ``seconds`` without computing, as a synchronous I/O call does."""
    time.sleep(seconds)
    return seconds


def heavy(units: int) -> int:
    """A heavy step: ``units`` of pure-Python CPU work; returns its checksum."""
    return burn(units)


STEPS: dict[str, Callable[[Any], Any]] = {"light": light, "blocking": blocking, "heavy": heavy}


def check_job(kind: Any, arg: Any) -> None:
    """Raise ``ValueError`` saying what is wrong with a job that came off the wire."""
    if kind not in STEPS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "light" and not (isinstance(arg, str) and len(arg) <= _MAX_TEXT):
        raise ValueError(f"a light job's arg is a text of at most {_MAX_TEXT} characters")
    if kind == "blocking" and not (isinstance(arg, (int, float)) and not isinstance(arg, bool)
                                   and 0 <= arg <= _MAX_SLEEP):
        raise ValueError(f"a blocking job's arg is a number of seconds from 0 to {_MAX_SLEEP}")
    if kind == "heavy" and not (type(arg) is int and 0 <= arg <= _MAX_UNITS):
        raise ValueError(f"a heavy job's arg is a whole number of work units from 0 to "
                         f"{_MAX_UNITS}")


@dataclass(frozen=True)
class Placement:
    """Which model runs each kind of step: ``"loop"``, ``"thread"`` or ``"process"``.

    Attributes:
        name: how tables and timelines call it.
        light, blocking, heavy: the model for each kind of step.
    """

    name: str
    light: Model = "loop"
    blocking: Model = "thread"
    heavy: Model = "process"

    def __post_init__(self) -> None:
        for kind in KINDS:
            if getattr(self, kind) not in MODELS:
                raise ValueError(f"{kind}={getattr(self, kind)!r}: a step runs on one of "
                                 f"{', '.join(MODELS)}")

    def where(self, kind: str) -> Model:
        """The model that runs steps of ``kind``."""
        return getattr(self, kind)


FUSED = Placement("fused", light="loop", blocking="thread", heavy="process")
"""Each step on the model that suits it: the course's answer to the article's wish."""
CPU_ON_LOOP = Placement("cpu on the loop", light="loop", blocking="thread", heavy="loop")
"""Wrong: heavy steps run inside the event loop, and every other client waits for them."""
CPU_IN_THREADS = Placement("cpu in threads", light="loop", blocking="thread", heavy="thread")
"""Heavy steps in threads: the loop stays free, but the GIL lets one thread compute at a time."""
ALL_IN_PROCESSES = Placement("everything in processes", light="process", blocking="process",
                             heavy="process")
"""Every step crosses a process boundary: each one pays a pickle and a pipe round trip."""
PLACEMENTS: tuple[Placement, ...] = (FUSED, CPU_ON_LOOP, CPU_IN_THREADS, ALL_IN_PROCESSES)


class StepActor(Actor):
    """Runs steps in a process of its own, one at a time; ``("pid", None)`` asks its process id.

    Messages are ``(kind, arg)`` tuples: plain data, so they pickle cheaply and the class is
    importable in the child under every start method.
    """

    def on_receive(self, message: Any) -> Any:
        """Run one step (in the actor's process) and answer its result."""
        kind, arg = message
        if kind == "pid":
            return os.getpid()
        return STEPS[kind](arg)
