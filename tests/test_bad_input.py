"""Bad input, catalogued: every public entry point, given the wrong thing, says what and what to do.

Each row of ``CASES`` is one call with one wrong argument (a wrong name, a count of 0 or
10,000, a negative or NaN time, something that does not pickle, a callback that raises, text
that is not a trace...). One parametrized test holds every row to the same three promises:

1. it raises the expected exception, whose message matches ``what`` (what was wrong: usually
   the argument and the value it was given) and ``todo`` (what to do instead);
2. it does so within ``seconds``: a call that hangs is interrupted and fails (``deadline``);
3. it leaves nothing running or open (the autouse fixture in ``conftest.py`` checks).

A module that arrives later adds its rows to ``CASES``; a case that needs a fixture gets a
test of its own below the catalogue, checked by the same ``run_case``. Rows for the modules the
lead engineer is rewriting (``trace``, ``workloads``, ``widgets``, ``plots``) that do not pass
carry ``fix=``, the message change they need: they run as strict xfails, so the catalogue
documents them and turns red as soon as one is fixed (then drop its ``fix=``). None is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from conclab import (actors, bench, boundary, cast, check, costs, eventloop, hooks, lifecycle,
                     machine, playground, plots, scheduler, sharing, testing, trace, widgets,
                     workloads)

NAN = float("nan")
ANONYMOUS = lambda x: x  # noqa: E731 - module level, as in a cell: pickle looks it up by name


# -- the harness --------------------------------------------------------------------------------

class Overran(BaseException):
    """A case ran past its deadline. Not an ``Exception``, so no ``except Exception`` in the
    code under test can swallow it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail if the block takes longer than ``seconds``; where there is SIGALRM, interrupt it.

    The alarm turns a hang into ``Overran`` at the deadline (a blocked lock acquire or a busy
    loop in this thread is interrupted); without it the block is only timed. pytest-timeout
    uses the same timer for its per-test limit, so the remaining limit is put back afterwards.
    """
    start = time.monotonic()
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        def expire(signum: int, frame: Any) -> None:
            raise Overran(f"still running after {seconds} s")

        handler = signal.signal(signal.SIGALRM, expire)
        outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, handler)
            if outer:  # pytest-timeout's limit for the whole test, less the time spent here
                left = outer - (time.monotonic() - start)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)
    elapsed = time.monotonic() - start
    assert elapsed <= seconds, f"took {elapsed:.2f} s, more than the {seconds} s allowed"


@dataclass(frozen=True)
class Case:
    """One wrong call and what it must say.

    Attributes:
        id: ``module.entry-point-what-is-wrong``; the part before the first dot is the module.
        call: makes the wrong call (and any setup it needs, undone before it returns).
        error: the exception type it must raise.
        what: a regex the message must match: what was wrong.
        todo: a regex the message must match: what to do.
        seconds: the deadline.
        fix: for a module this branch may not edit, the message it still needs; the row then
            runs as a strict xfail.
    """

    id: str
    call: Callable[[], object] = field(repr=False)
    error: type[BaseException]
    what: str
    todo: str
    seconds: float = 10.0
    fix: str = ""

    @property
    def module(self) -> str:
        """The module the row is about."""
        return self.id.split(".", 1)[0]


def run_case(case: Case) -> None:
    """Run ``case``: the right exception, both parts of the message, before the deadline."""
    with deadline(case.seconds):
        with pytest.raises(case.error, match=case.what) as caught:
            case.call()
    caught.match(case.todo)


class Failed(Exception):
    """A ``boundary.Outcome`` that failed, raised so that its text can be checked like a row's."""


def failed(outcome: boundary.Outcome) -> boundary.Outcome:
    """Raise ``Failed`` with the outcome's text if the call failed; else return it."""
    if not outcome.ok:
        raise Failed(str(outcome))
    return outcome


def with_env(name: str, value: str, fn: Callable[[], object]) -> Callable[[], object]:
    """A call of ``fn`` with environment variable ``name`` set to ``value``, then put back."""
    def call() -> object:
        old = os.environ.get(name)
        os.environ[name] = value
        try:
            return fn()
        finally:
            if old is None:
                del os.environ[name]
            else:
                os.environ[name] = old
    return call


def with_started_thread(fn: Callable[[threading.Thread], object]) -> Callable[[], object]:
    """A call of ``fn(thread)`` on a thread that waits for an event, released and joined after."""
    def call() -> object:
        release = threading.Event()
        thread = threading.Thread(target=release.wait, args=(10,), name="waiter")
        thread.start()
        try:
            return fn(thread)
        finally:
            release.set()
            thread.join(10)
    return call


def raises_zero_division(*args: object) -> None:
    """A callback (or observer hook) with a bug in it."""
    1 / 0  # noqa: B018 - the bug is the point


class BrokenObserver:
    """An observer whose hooks raise, as a half-written one would."""

    span = event = staticmethod(raises_zero_division)


async def nap() -> None:
    """A coroutine function, for the rows that pass its coroutine object by mistake."""


def not_yet_a_coroutine() -> Any:
    """``nap()``: a coroutine object, made only when the row runs (no "never awaited")."""
    return nap()


def run_scheduler(*tasks: Callable[[], Any], timeout: float | None = 5.0) -> None:
    """Spawn each task on a fresh real-clock scheduler and run it, then close it."""
    with scheduler.Scheduler() as s:
        for task in tasks:
            s.spawn(task())
        s.run(timeout=timeout)


def spin_forever() -> Any:
    """A scheduler task that only takes turns: with a NaN timeout, run() would never return."""
    while True:
        yield


def ends_at_once() -> Any:
    """A generator function that returns before its first yield."""
    return
    yield  # noqa: unreachable - makes this a generator function


async def enter_twice() -> None:
    """Enter one LagProbe inside itself."""
    probe = eventloop.LagProbe(0.001)
    async with probe:
        async with probe:
            pass


def relay_through(observer: Any, context: Any = None) -> None:
    """Send one span through a Relay into ``observer``, as a child process would."""
    with workloads.Relay(observer, context) as relay:
        relay.observer.span("child", "run", 0.0, 1.0)


def gil_row(**kw: Any) -> costs.GilRow:
    """The GIL row, as small as it goes."""
    return costs.gil_speedups(0.001, **{"repeats": 1, **kw})


def on_actor(cls: type[actors.Actor], fn: Callable[[actors.ActorRef], object], *,
             backend: str = "thread", stopped: bool = False) -> Callable[[], object]:
    """A call of ``fn(ref)`` on a fresh actor of ``cls`` (stopped first if ``stopped``),
    stopped and joined after, whatever ``fn`` did."""
    def call() -> object:
        ref = actors.spawn(cls, backend=backend, timeout=30)
        try:
            if stopped:
                ref.stop()
                ref.join(10)
            return fn(ref)
        finally:
            ref.stop(immediate=True)
            ref.join(10)
    return call


def ask_in_a_circle() -> object:
    """Ask actor a to ask b to ask a: in one process, the wait that closes the circle."""
    with actors.spawn(cast.Asker, name="a") as a, actors.spawn(cast.Asker, name="b") as b:
        return a.ask(("ask", b, ("ask", a, "hi", 5), 5)).result(10)


def xfail(reason: str) -> pytest.MarkDecorator:
    """Mark a row whose message the lead engineer still has to fix."""
    return pytest.mark.xfail(strict=True, reason=reason)


# -- the catalogue ------------------------------------------------------------------------------

SPANS = [hooks.Span("a", "run", 0.0, 1.0)]
CASES: list[Case] = [
    # lifecycle
    Case("lifecycle.get_context-unknown-method", lambda: lifecycle.get_context("teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("lifecycle.default_start_method-unknown-in-env",
         with_env(lifecycle.START_METHOD_ENV, "teleport", lifecycle.default_start_method),
         ValueError, r"CONCLAB_START_METHOD='teleport' is not a start method",
         r"use one of .* or unset it"),
    Case("lifecycle.stop_processes-a-thread",
         lambda: lifecycle.stop_processes([threading.Thread(name="t")]),
         TypeError, r"stops multiprocessing processes, not <Thread\(t", r"join\(\) it instead"),
    Case("lifecycle.stop_processes-one-process-not-a-list",
         lambda: lifecycle.stop_processes(lifecycle.get_context().Process()),
         TypeError, r"takes a list of processes, not one", r"stop_processes\(\[p\]\)"),
    Case("lifecycle.stop_processes-grace-nan", lambda: lifecycle.stop_processes([], grace=NAN),
         ValueError, r"grace must be .*not nan", r"a number of seconds >= 0"),
    Case("lifecycle.run_in_fresh_loop-coroutine-object",
         lambda: lifecycle.run_in_fresh_loop(not_yet_a_coroutine()),
         TypeError, r"not a coroutine object", r"pass nap, not nap\(\.\.\.\)"),
    Case("lifecycle.run_in_fresh_loop-plain-function",
         lambda: lifecycle.run_in_fresh_loop(lambda: 3, timeout=10),
         TypeError, r"returned 3, not a coroutine", r"runs an async def function"),
    Case("lifecycle.run_in_fresh_loop-negative-timeout",
         lambda: lifecycle.run_in_fresh_loop(nap, timeout=-1),
         ValueError, r"timeout must be .*not -1", r"a number of seconds >= 0"),
    # hooks
    Case("hooks.Tee-not-an-observer", lambda: hooks.Tee(42),
         TypeError, r"not 42", r"objects with span\(\) and event\(\) methods"),
    Case("hooks.Tee-a-class-not-an-instance", lambda: hooks.Tee(trace.Trace),
         TypeError, r"not the class Trace", r"write Tee\(Trace\(\)\)"),
    # machine
    Case("machine.report-unknown-start-method-in-env",
         with_env(lifecycle.START_METHOD_ENV, "teleport", machine.report),
         ValueError, r"CONCLAB_START_METHOD='teleport'", r"use one of .* or unset it"),
    Case("machine.default_start_method-unknown-in-env",
         with_env(lifecycle.START_METHOD_ENV, "Spawn", machine.default_start_method),
         ValueError, r"CONCLAB_START_METHOD='Spawn' is not a start method",
         r"use one of .*'spawn'.* or unset it"),
    # testing
    Case("testing.assert_clean-baseline-not-a-snapshot", lambda: testing.assert_clean("x"),
         TypeError, r"baseline must be a Snapshot, not 'x'", r"testing\.snapshot\(\)"),
    Case("testing.leftovers-baseline-not-a-snapshot", lambda: testing.leftovers({"pids": ()}),
         TypeError, r"not \{'pids': \(\)\}", r"take one with testing\.snapshot\(\)"),
    Case("testing.assert_clean-negative-timeout", lambda: testing.assert_clean(timeout=-1),
         ValueError, r"timeout must be .*not -1", r"a number of seconds >= 0"),
    Case("testing.assert_clean-nan-timeout", lambda: testing.assert_clean(timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("testing.wait_blocked-thread-not-started",
         lambda: testing.wait_blocked(threading.Thread(name="lazy"), "wait"),
         ValueError, r"lazy has not been started", r"start\(\) it before waiting"),
    Case("testing.wait_blocked-nan-timeout",
         with_started_thread(lambda t: testing.wait_blocked(t, "Slot.get", timeout=NAN)),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("testing.wait_blocked-not-a-thread", lambda: testing.wait_blocked("waiter", "wait"),
         TypeError, r"not 'waiter'", r"pass the Thread object you started"),
    # boundary
    Case("boundary.call_in_child-unknown-method",
         lambda: boundary.call_in_child(boundary.square, 2, method="teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("boundary.call_in_child-nan-timeout",
         lambda: boundary.call_in_child(boundary.square, 2, method="spawn", timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("boundary.call_in_child-unpicklable-argument",
         lambda: failed(boundary.call_in_child(boundary.square, threading.Lock(),
                                               method="spawn")),
         Failed, r"cannot pickle '_thread\.lock' object", r"make locks, files and sockets in"),
    Case("boundary.call_in_child-a-lambda",
         lambda: failed(boundary.call_in_child(ANONYMOUS, 1, method="spawn")),
         Failed, r"PicklingError: .*<lambda>", r"functions defined with def at module level"),
    Case("boundary.start_times-zero-starts", lambda: boundary.start_times("spawn", 0),
         ValueError, r"n must be .*not 0", r"an int >= 1"),
    Case("boundary.thread_start_times-negative", lambda: boundary.thread_start_times(-1),
         ValueError, r"n must be .*not -1", r"an int >= 1"),
    Case("boundary.child_sees_lock_free-unknown-method",
         lambda: boundary.child_sees_lock_free("teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    # sharing
    Case("sharing.hammer-zero-threads", lambda: sharing.hammer(sharing.RacyCounter, threads=0),
         ValueError, r"threads must be .*not 0", r"an int >= 1"),
    Case("sharing.hammer-negative-increments",
         lambda: sharing.hammer(sharing.RacyCounter, increments=-5),
         ValueError, r"increments must be .*not -5", r"an int >= 0"),
    Case("sharing.hammer-a-counter-not-a-maker",
         lambda: sharing.hammer(sharing.RacyCounter(), increments=10),
         TypeError, r"must make a fresh counter for each try, not be one",
         r"pass the class \(RacyCounter\), not an instance"),
    Case("sharing.hammer-nan-timeout",  # Barrier.wait(nan) hung for ever
         lambda: sharing.hammer(sharing.RacyCounter, increments=10, timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("sharing.hammer-zero-interval",
         lambda: sharing.hammer(sharing.RacyCounter, increments=10, interval=0),
         ValueError, r"switch interval must be .*not 0", r"try 1e-6 .* the default is 0\.005"),
    Case("sharing.switch_interval-nan",  # sys.setswitchinterval takes NaN and never switches
         lambda: sharing.switch_interval(NAN).__enter__(),
         ValueError, r"switch interval must be .*not nan", r"try 1e-6"),
    Case("sharing.Slot.get-nan-timeout",  # Condition.wait_for(nan) spun for ever
         lambda: sharing.Slot().get(timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("sharing.Slot.put-negative-timeout", lambda: sharing.Slot().put(1, timeout=-1),
         ValueError, r"timeout must be .*not -1", r"a number of seconds >= 0"),
    Case("sharing.thread_traceback-thread-not-started",
         lambda: sharing.thread_traceback(threading.Thread(name="lazy")),
         ValueError, r"lazy has not been started", r"start\(\) it first"),
    # eventloop
    Case("eventloop.task_storm-zero-tasks",
         lambda: lifecycle.run_in_fresh_loop(eventloop.task_storm, 0, timeout=10),
         ValueError, r"n must be .*not 0", r"an int >= 1"),
    Case("eventloop.task_storm-fractional-tasks",
         lambda: lifecycle.run_in_fresh_loop(eventloop.task_storm, 2.5, timeout=10),
         ValueError, r"n must be .*not 2\.5", r"an int >= 1"),
    Case("eventloop.LagProbe-zero-interval", lambda: eventloop.LagProbe(0),
         ValueError, r"interval must be .*not 0", r"try 0\.005"),
    Case("eventloop.LagProbe-nan-interval",  # asyncio.sleep(nan) never wakes
         lambda: eventloop.LagProbe(NAN),
         ValueError, r"interval must be .*not nan", r"try 0\.005"),
    Case("eventloop.LagProbe-entered-twice",
         lambda: lifecycle.run_in_fresh_loop(enter_twice, timeout=10),
         RuntimeError, r"can be entered only once", r"make a new LagProbe"),
    Case("eventloop.primed-not-a-generator-function", lambda: eventloop.primed(len),
         TypeError, r"not <built-in function len>", r"a generator function \(a def with a yield"),
    Case("eventloop.primed-ends-before-its-first-yield",
         lambda: eventloop.primed(ends_at_once)(),
         RuntimeError, r"ends_at_once\(\) ended before its first yield",
         r"put the yield that receives .* inside its loop"),
    # check
    Case("check.in_thread-negative-timeout", lambda: check.in_thread(timeout=-1),
         ValueError, r"timeout must be .*not -1", r"a number of seconds >= 0"),
    Case("check.in_process-unknown-method", lambda: check.in_process("teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("check.in_process-nan-timeout", lambda: check.in_process("spawn", timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0"),
    Case("check.run_all-on_step-raises",
         lambda: lifecycle.run_in_fresh_loop(check.run_all, raises_zero_division, timeout=30),
         RuntimeError, r"on_step raised ZeroDivisionError: division by zero after the thread",
         r"fix the callback, or run without it", seconds=30),
    # costs
    Case("costs.measure_model-unknown-model", lambda: costs.measure_model("fiber"),
         ValueError, r"unknown model 'fiber'", r"use one of \('generator'"),
    Case("costs.measure_model-unknown-start-method",
         lambda: costs.measure_model("process", start_method="teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("costs.measure-unknown-model-last",  # refused before the thread row is measured:
         # a progress callback that raises would turn a late refusal into a RuntimeError
         lambda: costs.measure(models=("thread", "fiber"), progress=raises_zero_division),
         ValueError, r"unknown model 'fiber'", r"use one of", seconds=2),
    Case("costs.measure-unknown-start-method",
         lambda: costs.measure(models=("thread", "process"), start_methods=["teleport"]),
         ValueError, r"'teleport' is not available", r"use one of \[", seconds=2),
    Case("costs.measure-progress-raises",
         lambda: costs.measure(models=("generator",), progress=raises_zero_division),
         RuntimeError, r"progress callback raised ZeroDivisionError",
         r"fix it \(it is called as progress\(fraction, what\)\), or measure without it"),
    Case("costs.gil_speedups-zero-workers", lambda: gil_row(workers=0),
         ValueError, r"workers must be .*not 0", r"an int from 1 to 64"),
    Case("costs.gil_speedups-ten-thousand-workers", lambda: gil_row(workers=10_000),
         ValueError, r"workers must be .*not 10000", r"as many as there are usable cores"),
    Case("costs.gil_speedups-zero-repeats", lambda: gil_row(repeats=0),
         ValueError, r"repeats must be .*not 0", r"an int >= 1"),
    Case("costs.gil_speedups-negative-seconds", lambda: costs.gil_speedups(-1),
         ValueError, r"seconds must be .*not -1", r"a number of seconds >= 0"),
    Case("costs.idle_child-unknown-method",
         lambda: costs.idle_child("teleport").__enter__(),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("costs.verdicts-rows-not-cost-rows", lambda: costs.verdicts("rows"),
         TypeError, r"not 'rows'", r"pass the table that costs\.measure\(\) returned"),
    Case("costs.verdicts-gil-not-a-gil-row", lambda: costs.verdicts([], gil=2.0),
         TypeError, r"not 2\.0", r"the GilRow from costs\.gil_speedups\(\)"),
    Case("costs.CostTable-unknown-row", lambda: costs.CostTable(())["fiber"],
         KeyError, r"no row named 'fiber'", r"use one of \[\]"),
    # scheduler
    Case("scheduler.Scheduler.run-nan-timeout",  # it never timed out: a spinner ran for ever
         lambda: run_scheduler(spin_forever, timeout=NAN),
         ValueError, r"timeout must be .*not nan", r"a number of seconds >= 0 or None"),
    Case("scheduler.Scheduler.step-negative-timeout",
         lambda: scheduler.Scheduler().step(-1),
         ValueError, r"timeout must be .*not -1", r"a number of seconds >= 0 or None"),
    Case("scheduler.Queue-maxsize-not-an-int", lambda: scheduler.Queue("3"),
         ValueError, r"maxsize must be .*not '3'", r">= 0 \(0 for no limit\) and an int"),
    Case("scheduler.wait_readable-not-a-socket",
         lambda: run_scheduler(lambda: scheduler.wait_readable("localhost:80")),
         TypeError, r"not 'localhost:80'", r"needs a socket .* pass the socket itself"),
    Case("scheduler.Scheduler.spawn-generator-function-not-called",
         lambda: scheduler.Scheduler().spawn(spin_forever),
         TypeError, r"needs a generator object, not <function", r"call the generator function"),
    Case("scheduler.Scheduler.cancel-unknown-task", lambda: scheduler.Scheduler().cancel(99),
         KeyError, r"no task has id 99", r"use the id that spawn\(\) returned"),
    Case("scheduler.ManualClock.advance-backwards",
         lambda: scheduler.ManualClock().advance(-1),
         ValueError, r"seconds must be >= 0, not -1", r"a clock only moves forward"),
    Case("scheduler.sleep-negative",
         lambda: run_scheduler(lambda: scheduler.sleep(-1)),
         ValueError, r"needs seconds >= 0, not -1", r"cannot wake up before it fell asleep"),
    # bench
    Case("bench.Result-goal-not-a-number", lambda: bench.Result("a.b", 1.0, "s", goal=">= x"),
         ValueError, r"not '>= x'", r"look like '>= 1\.2' or '<= 0\.5'"),
    Case("bench.Result-goal-unknown-operator", lambda: bench.Result("a.b", 1.0, "s", goal="> 1"),
         ValueError, r"not '> 1'", r"look like '>= 1\.2' or '<= 0\.5'"),
    Case("bench.median_ratio-zero-reference", lambda: bench.median_ratio([1.0], [0.0]),
         ValueError, r"must be > 0, not \[0\.0\]", r"time more work per repeat"),
    Case("bench.median_ratio-unequal-lengths", lambda: bench.median_ratio([1.0, 2.0], [1.0]),
         ValueError, r"not 2 and 1", r"time both sides in every repeat"),
    Case("bench.run_all-matches-no-suite", lambda: bench.run_all(only="nothing"),
         ValueError, r"only='nothing' matches no benchmark suite", r"give a prefix of one of"),
    # trace
    Case("trace.Trace.from_json-not-json", lambda: trace.Trace.from_json("not json"),
         ValueError, r"not JSON", r"text that Trace\.to_json\(\) wrote"),
    Case("trace.Trace.from_json-another-format",
         lambda: trace.Trace.from_json('{"format": "chrome"}'),
         ValueError, r"format 'chrome'", r"Trace\.to_json\(\)"),
    Case("trace.Trace.from_json-no-spans",
         lambda: trace.Trace.from_json('{"format": "conclab.trace/1"}'),
         ValueError, r"spans", r"Trace\.to_json\(\)"),
    Case("trace.Trace.from_json-a-list", lambda: trace.Trace.from_json("[]"),
         ValueError, r"not \[\]|a list", r"Trace\.to_json\(\)"),
    # workloads
    Case("workloads.run-unknown-model", lambda: workloads.run("fiber", "cpu", 1),
         ValueError, r"not 'fiber'", r"model must be one of \('process'"),
    Case("workloads.run-unknown-workload", lambda: workloads.run("thread", "gpu", 1),
         ValueError, r"not 'gpu'", r"workload must be one of \('cpu'"),
    Case("workloads.run-unknown-start-method",
         lambda: workloads.run("process", "io", 1, seconds=0, start_method="teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    Case("workloads.spin-two-sizes", lambda: workloads.spin(1.0, units=3),
         ValueError, r"not both", r"as seconds or as units"),
    Case("workloads.spin-no-size", lambda: workloads.spin(),
         ValueError, r"give the size of the work", r"seconds=\.\.\. or units=\.\.\."),
    Case("workloads.spin-fractional-units", lambda: workloads.spin(units=2.5),
         ValueError, r"not 2\.5", r"units must be an int >= 0"),
    Case("workloads.units_for-nan", lambda: workloads.units_for(NAN),
         ValueError, r"not nan", r"seconds must be a number >= 0"),
    Case("workloads.run-zero-workers", lambda: workloads.run("thread", "cpu", 0),
         ValueError, r"workers must be .*not 0", r"at least 1"),
    Case("workloads.run-workers-as-text", lambda: workloads.run("thread", "cpu", "2"),
         ValueError, r"workers must be .*not '2'", r"an int"),
    Case("workloads.run-nan-seconds", lambda: workloads.run("thread", "cpu", 1, seconds=NAN),
         ValueError, r"seconds must be .*not nan", r">= 0"),
    Case("workloads.run-negative-timeout",
         lambda: workloads.run("thread", "io", 1, seconds=0.01, timeout=-1),
         ValueError, r"timeout must be .*not -1", r"> 0"),
    Case("workloads.pause-negative", lambda: workloads.pause(-1),
         ValueError, r"seconds must be .*not -1", r">= 0"),
    Case("workloads.Relay-context-as-a-name",
         lambda: relay_through(trace.Trace(), "spawn"),
         TypeError, r"not 'spawn'", r"lifecycle\.get_context\('spawn'\)"),
    Case("workloads.Relay-observer-raises", lambda: relay_through(BrokenObserver()),
         RuntimeError, r"observer .*ZeroDivisionError", r"fix the observer"),
    Case("workloads.run-observer-raises",
         lambda: workloads.run("thread", "io", 1, seconds=0.01, observer=BrokenObserver()),
         RuntimeError, r"observer .*ZeroDivisionError", r"fix the observer"),
    # widgets
    Case("playground.Playground.run-unknown-model", lambda: playground.Playground().run("fiber"),
         ValueError, r"not 'fiber'", r"model must be one of \('process'"),
    Case("playground.Playground.run-unknown-workload",
         lambda: playground.Playground().run(workload="gpu"),
         ValueError, r"not 'gpu'", r"workload must be one of \('cpu'"),
    Case("playground.Playground.run-zero-workers", lambda: playground.Playground().run(workers=0),
         ValueError, r"not 0", r"workers must be an int from 1 to 16"),
    Case("playground.Playground.run-ten-thousand-workers",
         lambda: playground.Playground().run(workers=10_000),
         ValueError, r"not 10000", r"workers must be an int from 1 to 16"),
    Case("playground.Playground.run-nan-seconds", lambda: playground.Playground().run(seconds=NAN),
         ValueError, r"not nan", r"seconds must be from 0\.01 to 30"),
    Case("widgets.Replay-not-a-trace", lambda: widgets.Replay("not a trace"),
         TypeError, r"not 'not a trace'", r"a Trace"),
    Case("playground.Playground-negative-refresh", lambda: playground.Playground(refresh=-1),
         ValueError, r"refresh must be .*not -1", r"> 0"),
    Case("playground.Playground-unknown-start-method",
         lambda: playground.Playground(start_method="teleport"),
         ValueError, r"'teleport' is not available", r"use one of \["),
    # plots
    Case("plots.timeline_svg-not-a-trace", lambda: plots.timeline_svg("not a trace"),
         TypeError, r"not 'not a trace'", r"a Trace or a list of spans"),
    Case("plots.timeline-not-a-trace", lambda: plots.timeline("not a trace"),
         TypeError, r"not 'not a trace'", r"a Trace or a list of spans"),
    Case("plots.timeline_svg-nan-span", lambda: plots.timeline_svg(SPANS, span=NAN),
         ValueError, r"span must be .*not nan", r"> 0"),
    Case("plots.timeline_svg-negative-span", lambda: plots.timeline_svg(SPANS, span=-1),
         ValueError, r"span must be .*not -1", r"> 0"),
    Case("plots.SvgTimeline-negative-width", lambda: plots.SvgTimeline(width=-1),
         ValueError, r"width must be .*not -1", r"pixels"),
    # actors
    Case("actors.spawn-not-an-actor", lambda: actors.spawn(dict),
         TypeError, r"not class dict", r"define `class MyActor\(Actor\)`"),
    Case("actors.spawn-an-instance", lambda: actors.spawn(cast.Account()),
         TypeError, r"not an instance of Account", r"pass the class itself"),
    Case("actors.spawn-unknown-backend", lambda: actors.spawn(cast.Account, backend="fiber"),
         ValueError, r"unknown backend 'fiber'", r"use one of thread, process, asyncio"),
    Case("actors.spawn-args-not-a-tuple", lambda: actors.spawn(cast.Account, args=5),
         TypeError, r"not int 5", r"args=\(x,\)"),
    Case("actors.spawn-nan-timeout", lambda: actors.spawn(cast.Account, timeout=NAN),
         ValueError, r"not nan", r"timeout must be >= 0 seconds"),
    Case("actors.spawn-start-method-for-a-thread",
         lambda: actors.spawn(cast.Account, method="spawn"),
         TypeError, r"not 'thread'", r"for backend='process' only"),
    Case("actors.spawn-init-raises", lambda: actors.spawn(cast.Account, args=(1, 2, 3)),
         actors.ActorStartError, r"failed to start: TypeError", r"in __init__ or on_start"),
    Case("actors.ActorRef.tell-after-stop",
         on_actor(cast.Account, lambda ref: ref.tell(("deposit", 1)), stopped=True),
         actors.ActorDeadError, r"takes no more messages: it was stopped", r"spawn a new one"),
    Case("actors.ActorRef.tell-negative-timeout",
         on_actor(cast.Account, lambda ref: ref.tell(("deposit", 1), timeout=-1)),
         ValueError, r"not -1", r"pass timeout=None"),
    Case("actors.ActorRef.ask-unpicklable-to-a-process",
         on_actor(cast.Account, lambda ref: ref.ask(("deposit", ANONYMOUS)), backend="process"),
         TypeError, r"cannot send .* to process actor .*pickling it failed",
         r"send plain data", seconds=30),
    Case("actors.ActorRef.join-still-running",
         on_actor(cast.Account, lambda ref: ref.join(0.01)),
         TimeoutError, r"still running after 0.01 s", r"call stop\(\) first"),
    Case("actors.ActorRef.ask_async-outside-a-loop",
         on_actor(cast.Account, lambda ref: ref.ask_async(("balance",)).send(None)),
         RuntimeError, r"must be awaited in an event loop",
         r"ref\.ask\(message\)\.result\(timeout\)"),
    Case("actors.Answer.result-on-the-actors-own-loop",
         on_actor(cast.Asker, lambda ref: ref.ask(("ask", ref, "hi", 5)).result(10),
                  backend="asyncio"),
         RuntimeError, r"would block the event loop", r"await ref\.ask_async\(message\)"),
    Case("actors.Answer.result-asking-in-a-circle", ask_in_a_circle,
         actors.ActorDeadlockError, r"'b' -> 'a' -> 'b'", r"answer by tell"),
    # cast
    Case("cast.Account-negative-deposit",
         on_actor(cast.Account, lambda ref: ref.ask(("deposit", -5)).result(10)),
         ValueError, r"not \[-5\]", r"one number >= 0"),
    Case("cast.Account-nan-withdrawal",
         on_actor(cast.Account, lambda ref: ref.ask(("withdraw", NAN)).result(10)),
         ValueError, r"not \[nan\]", r"one number >= 0"),
    Case("cast.Account-not-a-tuple",
         on_actor(cast.Account, lambda ref: ref.ask("balance").result(10)),
         ValueError, r"not 'balance'", r"send \(\"deposit\", amount\)"),
    Case("cast.Counter-unknown-message",
         on_actor(cast.Counter, lambda ref: ref.ask("reset").result(10)),
         ValueError, r"not 'reset'", r"takes 'increment' and 'value'"),
    Case("cast.Cruncher-negative-units", lambda: actors.spawn(cast.Cruncher, args=(-1,)),
         actors.ActorStartError, r"not -1", r"workloads\.units_for\(seconds\)"),
    Case("cast.Fragile-poison-on-a-thread",
         on_actor(cast.Fragile, lambda ref: ref.ask("poison").result(10)),
         RuntimeError, r"runs in the main process", r"backend='process'"),
    Case("cast.Fragile-not-a-number",
         on_actor(cast.Fragile, lambda ref: ref.ask("x").result(10)),
         ValueError, r"cannot double 'x'", r"send a number"),
    Case("cast.Asker-short-request",
         on_actor(cast.Asker, lambda ref: ref.ask(("ask", ref)).result(10)),
         ValueError, r"not \('ask', ", r"\(\"ask\", ref, question, timeout\)"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[xfail(c.fix)] if c.fix else [])
                                  for c in CASES])
def test_bad_input_says_what_was_wrong_and_what_to_do(case: Case) -> None:
    run_case(case)


def test_the_catalogue_covers_every_module_with_unique_ids() -> None:
    modules = {"lifecycle", "hooks", "machine", "testing", "boundary", "sharing", "eventloop",
               "check", "costs", "scheduler", "bench", "trace", "workloads", "widgets", "plots",
               "actors", "cast"}
    assert modules <= {c.module for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES)
    for c in CASES:  # a typo in a regex should fail here, not read as a bad message
        re.compile(c.what), re.compile(c.todo)


def test_a_case_that_hangs_is_interrupted_at_its_deadline() -> None:
    stuck = threading.Event()
    started = time.monotonic()
    with pytest.raises(Overran, match="still running after 0.2 s"):
        with deadline(0.2):
            stuck.wait(30)  # nothing sets it: the call hangs, as a NaN timeout made some do
    assert time.monotonic() - started < 5


# -- cases that need setup ------------------------------------------------------------------------

CELL_NAME = "conclab_bad_input_cell_worker"


def _cell_worker(x: int) -> int:
    """Stands in for a function defined in a notebook cell (see the fixture below)."""
    return x + 1


@pytest.fixture
def cell_worker(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], int]:
    """A function that lives only in this process's ``__main__``, as a notebook cell's does."""
    monkeypatch.setattr(_cell_worker, "__module__", "__main__")
    monkeypatch.setattr(_cell_worker, "__qualname__", CELL_NAME)
    monkeypatch.setattr(sys.modules["__main__"], CELL_NAME, _cell_worker, raising=False)
    return _cell_worker


@pytest.mark.parametrize("method", [m for m in lifecycle.start_methods() if m != "fork"])
def test_a_worker_defined_in_main_says_to_move_it_into_a_module(method: str,
                                                                 cell_worker: Any) -> None:
    run_case(Case(f"boundary.call_in_child-worker-in-main-under-{method}",
               lambda: failed(boundary.call_in_child(cell_worker, 1, method=method)),
               Failed, rf"AttributeError: .*{CELL_NAME}.*__main__",
               r"cannot be imported by a spawn or forkserver child: move it into a module",
               seconds=60))


@pytest.mark.parametrize("value", ["nan", "0", "-1", "fast"])
def test_a_bad_switch_interval_in_the_environment_stops_the_import(value: str) -> None:
    # In a child interpreter: the knob acts at import, and a NaN that got through would leave
    # this one's threads switching never.
    env = {**os.environ, "CONCLAB_SWITCH_INTERVAL": value}
    done = subprocess.run([sys.executable, "-c", "import conclab"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"CONCLAB_SWITCH_INTERVAL={value!r} is not a positive number" in done.stderr
    assert "try 0.005, the default, or 1e-6); unset it to keep the default" in done.stderr


ACTOR_NAME = "conclab_bad_input_cell_actor"


@pytest.mark.parametrize("method", [m for m in lifecycle.start_methods() if m != "fork"])
def test_a_process_actor_class_defined_in_main_says_to_move_it_into_a_module(
        method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A class that lives only in this process's __main__, as a notebook cell's does.
    cell_actor = type(ACTOR_NAME, (actors.Actor,), {"__module__": "__main__",
                                                    "__qualname__": ACTOR_NAME})
    monkeypatch.setattr(sys.modules["__main__"], ACTOR_NAME, cell_actor, raising=False)
    run_case(Case(f"actors.spawn-process-class-in-main-under-{method}",
                  lambda: actors.spawn(cell_actor, backend="process", method=method, timeout=60),
                  actors.ActorStartError, rf"ended .* before the actor started.*{ACTOR_NAME}",
                  r"define the class at module level in an importable module", seconds=60))
