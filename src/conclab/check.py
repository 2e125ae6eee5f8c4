"""The setup check: proof that this machine can run all three kinds of concurrent work.

Chapter 00 runs one unit of work as a thread, as a process under every start method the
platform offers, and as a coroutine, and shows that each ran where it should: a thread in this
process but on another OS thread, a process in another PID, a coroutine in this very thread.
The worker, ``whoami``, lives here rather than in a notebook cell because a child started by
*spawn* or *forkserver* imports its target by module name, and a cell's ``__main__`` cannot be
imported (see chapter 01).

Every step has a timeout and stops what it started, so a broken machine gives an error message
instead of a hung notebook.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from conclab import lifecycle

__all__ = ["Identity", "whoami", "in_thread", "in_process", "in_coroutine", "run_all", "step_count"]


@dataclass(frozen=True)
class Identity:
    """Where a piece of work ran: which model, process and OS thread."""

    model: str
    pid: int
    thread_id: int
    thread_name: str


def whoami(model: str) -> Identity:
    """Report where the caller is running; the work every setup-check step does."""
    return Identity(model, os.getpid(), threading.get_native_id(), threading.current_thread().name)


def in_thread(*, timeout: float = 10.0) -> Identity:
    """Run ``whoami`` on a new OS thread and return what it saw."""
    lifecycle.check_seconds(timeout)
    result: list[Identity] = []
    worker = threading.Thread(target=lambda: result.append(whoami("thread")), name="setup-check")
    worker.start()
    worker.join(timeout)
    if worker.is_alive() or not result:
        raise TimeoutError(f"the thread did not finish within {timeout} s")
    return result[0]


def in_process(method: str | None = None, *, timeout: float = 30.0) -> Identity:
    """Run ``whoami`` in a child process started with ``method`` (default: the platform's)."""
    lifecycle.check_seconds(timeout)
    context = lifecycle.get_context(method)
    # Pool.apply_async(...).get(timeout) fails on a broken child where a bare Pool.map would
    # wait forever; terminate() then stops the child whatever state it is in.
    pool = context.Pool(1)
    try:
        identity: Identity = pool.apply_async(whoami, (f"process ({context.get_start_method()})",)).get(timeout)
    finally:
        pool.terminate()
        pool.join()
    return identity


async def in_coroutine() -> Identity:
    """Run ``whoami`` as a coroutine in the running event loop, after yielding to it once."""
    await asyncio.sleep(0)
    return whoami("coroutine")


async def run_all(on_step: Callable[[Identity], None] | None = None) -> list[Identity]:
    """Run every step (a thread, a process per start method, a coroutine) and return them.

    Args:
        on_step: called with each step's result as soon as it is in (a progress bar, say).

    Raises:
        RuntimeError: if ``on_step`` raises (the error it raised is the cause): the step
            itself worked, so the message says so.
    """
    results: list[Identity] = []

    def record(identity: Identity) -> None:
        results.append(identity)
        if on_step:
            try:
                on_step(identity)
            except Exception as exc:
                # Without this, a typo in a progress-bar lambda reads like a broken machine.
                raise RuntimeError(
                    f"on_step raised {type(exc).__name__}: {exc} after the {identity.model} "
                    "step, which itself worked: fix the callback, or run without it"
                ) from exc

    record(in_thread())
    for method in lifecycle.start_methods():
        record(in_process(method))
    record(await in_coroutine())
    return results


def step_count() -> int:
    """How many steps ``run_all`` takes on this platform."""
    return 2 + len(lifecycle.start_methods())
