"""Importable work of a given size, and a runner that shows how each model schedules it.

Every chapter needs the same two kinds of work: CPU-bound work that keeps an interpreter busy
(``spin``) and I/O-bound work that only waits (``pause``), each sized in seconds and usable by
threads, by processes under every start method (the functions live here, so a child can import
them) and by coroutines (``aspin``, ``apause``). ``run()`` starts N workers of one model on one
kind of work and reports what happened, live, to an observer; the Playground widget calls it.

"Running" is measured, not declared. ``spin`` does its work in **slices** of about 25 us of
pure-Python arithmetic and reads ``clock()`` after each one. Alone on a core, consecutive reads
are one slice apart; a gap much longer than a slice (more than ``slice + 100 us``) means the
worker was not executing in between: another thread held the GIL, the OS ran something else,
or the event loop's thread was descheduled. So a "run" span goes from the first read after a
gap to the last read before the next one (it always lies *inside* the time the worker really
ran, which is why two GIL-bound threads never show overlapping runs), and a "wait" span covers
the gap. The cost is one clock read per slice (well under 1 %); the observer is called only at
a gap, and every 50 ms of unbroken running so that a live picture keeps moving. Gaps shorter
than the threshold go unseen: the resolution is about a tenth of a millisecond. So with a
switch interval far below that (``sys.setswitchinterval(1e-5)``), GIL hand-overs are too short
to see, and two threads' run spans can overlap by a sliver even under the GIL.

The design, in a few sentences:

1. One clock for everyone, and one observer protocol, both from ``conclab.hooks``; this
   module never imports the recorder (``conclab.trace``), which sits in the layer above.
2. Work is sized in units of ``burn`` (``units_for(seconds)`` turns a duration into units
   with the cached ``calibrate()`` rate). Every CPU burner in the package is ``burn``.
3. Child processes send their spans through a queue from their own multiprocessing context;
   a thread in the parent drains it into the observer as they arrive (``Relay``).
4. Everything ``run()`` starts, it stops, also on timeout or error. Work takes a ``deadline``
   on the shared clock and checks it every slice, because a thread cannot be killed.

This module is longer than 300 lines because the four models of ``run()`` (threads,
processes, coroutines and the relay) only make sense side by side.
"""

from __future__ import annotations

import asyncio
import queue as stdqueue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from conclab import lifecycle
from conclab.hooks import NULL_OBSERVER, Observer, clock, observing

__all__ = [
    "Model", "Kind", "MODELS", "KINDS", "calibrate", "burn", "units_for",
    "spin", "pause", "aspin", "apause", "QueueObserver", "Relay", "Share", "RunResult",
    "check_kind", "run",
]

Model = Literal["process", "thread", "coroutine"]
Kind = Literal["cpu", "io", "mixed"]
MODELS: tuple[str, ...] = ("process", "thread", "coroutine")
KINDS: tuple[str, ...] = ("cpu", "io", "mixed")

_SLICE = 25e-6        # target length of one slice of spin(), in seconds
_GAP_FLOOR = 100e-6   # a gap must exceed one slice by this much to count as "descheduled"
_MAX_RUN = 0.05       # report a long run in pieces this long, so observers see it live
_MIXED_ROUNDS = 5     # "mixed" work alternates this many CPU slices with as many waits
_GRACE = 5.0          # seconds allowed past the deadline for stopping and joining
_SEED = 1             # where every burn starts, so equal work gives an equal checksum


_rate: float | None = None
_rate_lock = threading.Lock()


def burn(units: int, acc: int = _SEED) -> int:
    """Do ``units`` units of pure-Python CPU work and return a checksum of it.

    One unit is one step of a linear congruential generator: it holds the GIL throughout,
    so it is CPU-bound for threads too, and the result depends only on ``units`` (and the
    starting ``acc``), so a parallel run can be checked against a serial one. Every CPU
    burner in the course is this one; ``calibrate()`` says how many units a second of it is.
    """
    for _ in range(units):
        acc = (acc * 1103515245 + 12345) & 0x7FFFFFFF
    return acc


def units_for(seconds: float) -> int:
    """How many ``burn`` units take about ``seconds`` when run alone here (from ``calibrate``).

    A size, not a promise: on a busy machine the same units take longer. Anything the course
    derives from a run (a speed-up, a share) is measured, never computed from this.
    """
    if not seconds >= 0:
        raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
    return round(seconds * calibrate())


def calibrate(*, refresh: bool = False) -> float:
    """Measure how many work units per second this machine does in pure Python (cached).

    The work is timed in 25 pieces of ~2 ms and the fastest piece counts: on a busy machine
    most pieces lose time to other programs, but a 2 ms piece often runs undisturbed, and
    "takes ``seconds`` when it runs alone" is what the rate must mean. Pieces are timed on the
    thread's own CPU clock where it is fine-grained, so time spent descheduled never counts.

    Args:
        refresh: measure again even if a value is cached.

    Returns:
        Work units per second; ``spin(s)`` does ``units_for(s)`` units of ``burn``.
    """
    global _rate
    with _rate_lock:
        if _rate is None or refresh:
            # Where the OS keeps per-thread CPU time finely (Linux, macOS), time the pieces on
            # it: time spent descheduled by other programs then does not count at all.
            fine = time.get_clock_info("thread_time").resolution <= 1e-6
            timer = time.thread_time if fine else clock
            n, best = 1_000, 0.0
            while best < 0.002:  # grow the piece until it takes 2 ms
                n *= 2
                t0 = timer()
                burn(n)
                best = timer() - t0
            for _ in range(25):
                t0 = timer()
                burn(n)
                best = min(best, timer() - t0)
            _rate = n / best
        return _rate


def spin(seconds: float | None = None, *, units: int | None = None, worker: str = "main",
         observer: Observer | None = None, label: str = "",
         deadline: float | None = None) -> int:
    """Do a fixed amount of CPU-bound pure-Python work, reporting when it really ran.

    The amount of work is fixed, not the time: two threads sharing the GIL each take about
    twice as long. Size it in ``units`` of ``burn`` (exact) or in ``seconds`` (a hint:
    ``units_for(seconds)``, which a busy machine throws off). Measured spans go to
    ``observer``: "run" while the work was seen executing, "wait" for each gap in which it
    was descheduled (see the module docstring).

    Args:
        seconds: size of the work, in seconds of this machine running it alone.
        units: size of the work in units; give this or ``seconds``.
        worker: the name spans are reported under.
        observer: where spans go; None reports nothing.
        label: attached to every span.
        deadline: a ``clock()`` time; past it, stop and raise ``TimeoutError``.

    Returns:
        The number of work units done.
    """
    total = _size(seconds, units)
    per = max(1, int(calibrate() * _SLICE))
    watch = _RunWatch(observer, worker, label, per / calibrate() + _GAP_FLOOR)
    acc, done = _SEED, 0
    while done < total:
        n = per if total - done > per else total - done
        for _ in range(n):  # burn() inlined: no call per slice, so the GIL check is in the loop
            acc = (acc * 1103515245 + 12345) & 0x7FFFFFFF
        done += n
        now = watch.tick()
        if deadline is not None and now > deadline:
            raise TimeoutError(f"{worker}: spin passed its deadline")
    if total:
        watch.close()
    return done


def _size(seconds: float | None, units: int | None) -> int:
    """The number of units a call asked for, by ``units`` or by ``seconds``."""
    if units is not None:
        if seconds is not None:
            raise ValueError("give the size of the work as seconds or as units, not both")
        if not (isinstance(units, int) and units >= 0):
            raise ValueError(f"units must be an int >= 0, not {units!r}")
        return units
    if seconds is None:
        raise ValueError("give the size of the work: seconds=... or units=...")
    return units_for(seconds)


class _RunWatch:
    """Turns the clock reads between slices of ``spin`` into "run" and "wait" spans.

    Without an observer it only reads the clock (for the deadline). With one, a gap longer
    than ``gap`` seconds between two reads ends a run span and makes a wait span, and an
    unbroken run is reported every ``_MAX_RUN`` seconds so that a live picture keeps moving.
    """

    def __init__(self, observer: Observer | None, worker: str, label: str, gap: float) -> None:
        self.out = observer if observing(observer) else None
        self.worker, self.label, self.gap = worker, label, gap
        self.start = self.prev = clock()

    def tick(self) -> float:
        """Read the clock after a slice; report what the gap since the last read means."""
        now = clock()
        out = self.out
        if out is None:
            return now
        if now - self.prev > self.gap:
            # Reporting may block (a contended lock releases the GIL), so it belongs to no
            # run span: the run ends at ``prev``, the wait ends after the first report.
            out.span(self.worker, "run", self.start, self.prev, self.label)
            now = clock()
            out.span(self.worker, "wait", self.prev, now, self.label)
            now = self.start = clock()
        elif now - self.start > _MAX_RUN:
            out.span(self.worker, "run", self.start, now, self.label)
            now = self.start = clock()
        self.prev = now
        return now

    def close(self) -> None:
        """Report the run in progress (none if a gap ended just as the work did: a run of no
        length after a wait would look like a turn of its own)."""
        if self.out is not None and self.prev > self.start:
            self.out.span(self.worker, "run", self.start, self.prev, self.label)


def pause(seconds: float, *, worker: str = "main", observer: Observer | None = None,
          label: str = "", deadline: float | None = None) -> None:
    """Block for ``seconds`` as an I/O call would (``time.sleep``), reported as a "wait" span.

    The span ends when the worker runs again, so time spent waiting for the GIL after the
    sleep counts as waiting too. ``deadline`` shortens the sleep and then raises TimeoutError.
    """
    if not seconds >= 0:  # also NaN
        raise ValueError(f"seconds must be a number >= 0 (how long to wait), not {seconds!r}")
    start = clock()
    if deadline is not None and start + seconds > deadline:
        time.sleep(max(0.0, deadline - start))
        raise TimeoutError(f"{worker}: pause passed its deadline")
    time.sleep(seconds)
    if observer is not None:
        observer.span(worker, "wait", start, clock(), label)


async def aspin(seconds: float | None = None, *, units: int | None = None,
                worker: str = "main", observer: Observer | None = None, label: str = "",
                deadline: float | None = None) -> int:
    """Coroutine version of ``spin``: it never awaits, so it blocks the whole event loop.

    That is the lesson: CPU-bound work inside a coroutine stops every other coroutine on the
    loop until it is done. Arguments and result are those of ``spin``.
    """
    return spin(seconds, units=units, worker=worker, observer=observer, label=label,
                deadline=deadline)


async def apause(seconds: float, *, worker: str = "main", observer: Observer | None = None,
                 label: str = "", deadline: float | None = None) -> None:
    """Coroutine version of ``pause``: awaits ``asyncio.sleep``, so other coroutines run.

    The "wait" span starts just before the ``await`` and ends when this coroutine is resumed,
    which may be well after the sleep is over if another coroutine kept the loop busy.
    """
    start = clock()
    if deadline is not None and start + seconds > deadline:
        await asyncio.sleep(max(0.0, deadline - start))
        raise TimeoutError(f"{worker}: apause passed its deadline")
    await asyncio.sleep(seconds)
    if observer is not None:
        observer.span(worker, "wait", start, clock(), label)


class QueueObserver:
    """A picklable observer for a child process: it forwards every call through a queue.

    Create it through ``Relay``, which drains the queue in the parent. ``put`` on a
    multiprocessing queue only appends to a buffer (a feeder thread does the writing), so
    reporting costs the worker a few microseconds.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        """Forward a span."""
        self.queue.put(("span", worker, state, start, end, label))

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        """Forward an event."""
        self.queue.put(("event", kind, time, sender, receiver, label))


class Relay:
    """Carries spans and events from child processes to an observer in the parent, live.

    Use it as a context manager around the children's lives; pass ``relay.observer`` to each
    child. A parent thread drains the queue into ``observer`` as records arrive. Leaving the
    block sends a sentinel and joins that thread: leave it only after the children have
    exited (a child's queue is flushed at exit, so every record is in before the sentinel).

    Args:
        observer: receives the records, from the relay's thread.
        context: the multiprocessing context the children are started from.
        timeout: how long leaving the block may wait for the drain to finish.
    """

    def __init__(self, observer: Observer, context: Any = None, *, timeout: float = 5.0) -> None:
        self._target = observer
        if context is None:  # get_context(None) would fix the global start method: name it
            context = lifecycle.get_context()
        elif not hasattr(context, "Queue"):
            raise TypeError(f"context must be a multiprocessing context, not {context!r}: "
                            f"pass lifecycle.get_context({context!r})" if isinstance(context, str)
                            else f"context must be a multiprocessing context, not {context!r}: "
                                 "pass lifecycle.get_context(method)")
        self._queue = context.Queue()
        self._timeout = timeout
        self._thread = threading.Thread(target=self._drain, name="conclab-relay", daemon=True)
        self.observer = QueueObserver(self._queue)
        self.received = 0
        self._error: BaseException | None = None

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join(self._timeout)
        stuck = self._thread.is_alive()  # e.g. on half a record from a terminated child
        if stuck:
            self._queue.cancel_join_thread()  # our sentinel may never be read: don't wait
        self._queue.close()
        self._queue.join_thread()
        if stuck and exc[0] is None:  # the (daemon) thread is left to the interpreter's exit
            raise TimeoutError("relay: the drain thread did not finish")
        if self._error is not None and exc[0] is None:
            raise RuntimeError(f"relay: the observer raised {type(self._error).__name__}: "
                               f"{self._error}; fix the observer (it must not raise): the "
                               f"work itself did not fail") from self._error

    def _drain(self) -> None:
        """Move records from the queue to the observer until the sentinel comes."""
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except stdqueue.Empty:
                continue
            except (EOFError, OSError):  # the pipe was closed under us: nothing more to read
                return
            if item is None:
                return
            self.received += 1
            try:
                if item[0] == "span":
                    self._target.span(*item[1:])
                else:
                    self._target.event(*item[1:])
            except Exception as exc:  # noqa: BLE001 - keep draining, or the children block
                self._error = self._error or exc

    def __repr__(self) -> str:
        state = "draining" if self._thread.is_alive() else "stopped"
        return f"<Relay {state}, {self.received} records received>"


@dataclass(frozen=True)
class Share:
    """One worker's share of a run, in units that do not depend on the clock: picklable.

    Attributes:
        workload: "cpu", "io" or "mixed".
        cpu_units: ``burn`` units of CPU work ("mixed": in ``_MIXED_ROUNDS`` slices).
        io_seconds: seconds of waiting ("mixed": in as many slices, between the CPU ones).
        repeat: how many times the worker does all of it, one after another (the serial
            baseline does every worker's share in one worker).
    """

    workload: str
    cpu_units: int
    io_seconds: float
    repeat: int = 1

    @classmethod
    def of(cls, workload: str, seconds: float | None, units: int | None) -> Share:
        """The share of ``workload`` sized by ``seconds`` (a hint) or exact CPU ``units``."""
        if workload == "io":
            if units is not None:
                raise ValueError("io work is only waiting: size it in seconds, not units")
            if seconds is None or not seconds >= 0:
                raise ValueError(f"seconds must be a number >= 0, not {seconds!r}")
            return cls("io", 0, seconds)
        cpu = _size(seconds / 2 if workload == "mixed" and seconds is not None else seconds,
                    units)
        io = 0.0 if workload == "cpu" else (seconds / 2 if seconds is not None else
                                            cpu / calibrate())
        return cls(workload, cpu, io)


@dataclass(frozen=True)
class RunResult:
    """What ``run()`` did: which model, which work, how many workers, and how long it took.

    Nothing here is derived from the calibration: ``elapsed`` is measured and ``share`` is
    the exact amount of work each worker did. Compare runs of the same share (``serial=True``
    gives one worker doing every share) to get a speed-up.

    Attributes:
        model: "process", "thread" or "coroutine".
        workload: "cpu", "io" or "mixed".
        workers: how many workers' shares were done.
        share: one worker's share (``share.repeat`` is ``workers`` for a serial run).
        elapsed: wall-clock seconds from the common start to the last worker's end.
        serial: True when one worker did all the shares one after another.
        start_method: the multiprocessing start method, for "process"; else None.
    """

    model: str
    workload: str
    workers: int
    share: Share
    elapsed: float
    serial: bool = False
    start_method: str | None = None


def _work(share: Share, name: str, observer: Observer | None, deadline: float | None) -> None:
    """Do one worker's share (the body of a thread or process worker)."""
    rounds = 1 if share.workload != "mixed" else _MIXED_ROUNDS
    cpu, io = share.cpu_units // rounds, share.io_seconds / rounds
    for _ in range(share.repeat * rounds):
        if share.workload != "io":
            spin(units=cpu, worker=name, observer=observer, label="cpu", deadline=deadline)
        if share.workload != "cpu":
            pause(io, worker=name, observer=observer, label="io", deadline=deadline)


async def _awork(share: Share, name: str, observer: Observer | None,
                 deadline: float | None) -> None:
    """Do one coroutine worker's share: the CPU part blocks the loop, the waits do not."""
    rounds = 1 if share.workload != "mixed" else _MIXED_ROUNDS
    cpu, io = share.cpu_units // rounds, share.io_seconds / rounds
    for _ in range(share.repeat * rounds):
        if share.workload != "io":
            await aspin(units=cpu, worker=name, observer=observer, label="cpu",
                        deadline=deadline)
        if share.workload != "cpu":
            await apause(io, worker=name, observer=observer, label="io", deadline=deadline)


def _process_main(name: str, share: Share, rate: float, observer: Observer | None,
                  ready: Any, go: Any, deadline: float) -> None:
    """Entry point of a child process: adopt the parent's calibration, say ready, wait, work."""
    global _rate
    _rate = rate  # calibrating again here would measure while the siblings compete
    ready.release()
    if go.wait(max(0.0, deadline - clock())):
        _work(share, name, observer, deadline)


def _thread_main(name: str, share: Share, observer: Observer | None,
                 barrier: threading.Barrier, deadline: float, errors: list[BaseException]) -> None:
    """Body of a worker thread: line up, work, keep any exception for the parent."""
    try:
        barrier.wait(max(0.0, deadline - clock()))
        _work(share, name, observer, deadline)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises
        errors.append(exc)
        barrier.abort()


def _run_threads(names: list[str], share: Share, observer: Observer | None,
                 deadline: float) -> float:
    """Run one thread per name; return the elapsed time from the common start."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(names) + 1)
    threads = [threading.Thread(target=_thread_main, name=n,
                                args=(n, share, observer, barrier, deadline, errors))
               for n in names]
    try:
        for t in threads:
            t.start()
    except BaseException:
        barrier.abort()  # the threads already started stop waiting and end at once
        for t in threads:
            if t.ident is not None:
                t.join(_GRACE)
        raise
    try:
        barrier.wait(max(0.0, deadline - clock()))
    except threading.BrokenBarrierError:
        pass  # a worker failed before the start; its error is in ``errors``
    t0 = clock()
    for t in threads:  # each one stops by itself at the latest at the deadline
        t.join(max(0.0, deadline - clock()) + _GRACE)
    elapsed = clock() - t0
    if errors:
        if isinstance(errors[0], threading.BrokenBarrierError):
            raise TimeoutError("run: the worker threads did not all start in time")
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise TimeoutError("run: a worker thread did not stop")
    return elapsed


def _run_coroutines(names: list[str], share: Share, observer: Observer | None,
                    deadline: float) -> float:
    """Run one coroutine per name on a fresh loop in a helper thread; return the elapsed time.

    A helper thread because the caller may already be inside a running loop (a notebook).
    """
    async def main() -> float:
        t0 = clock()
        async with asyncio.TaskGroup() as group:
            for n in names:
                group.create_task(_awork(share, n, observer, deadline), name=n)
        return clock() - t0

    try:
        fresh = lifecycle.run_in_fresh_loop(main, timeout=max(0.0, deadline - clock()) + _GRACE)
    except BaseExceptionGroup as group:  # the TaskGroup's: re-raise the first cause
        raise group.exceptions[0] from group
    except TimeoutError as exc:
        raise TimeoutError("run: the event loop did not stop") from exc
    return float(fresh.result)


def _run_processes(names: list[str], share: Share, observer: Observer | None,
                   deadline: float, start_method: str | None) -> float:
    """Run one process per name, relaying spans live; return the elapsed time."""
    ctx = lifecycle.get_context(start_method)
    rate = calibrate()
    ready, go = ctx.Semaphore(0), ctx.Event()
    with Relay(observer if observer is not None else NULL_OBSERVER, ctx) as relay:
        forward = relay.observer if observing(observer) else None
        procs = [ctx.Process(target=_process_main, name=n,
                             args=(n, share, rate, forward, ready, go, deadline))
                 for n in names]
        try:
            for p in procs:
                p.start()
            _wait_ready(procs, ready, deadline)
            go.set()
            t0 = clock()
            for p in procs:
                p.join(max(0.0, deadline - clock()) + _GRACE)
            elapsed = clock() - t0
            if any(p.is_alive() for p in procs) or clock() > deadline:
                raise TimeoutError("run: the worker processes passed the deadline")
            failed = [f"{p.name} (exit code {p.exitcode})" for p in procs if p.exitcode != 0]
            if failed:
                raise RuntimeError("run: worker failed: " + ", ".join(failed))
        finally:
            lifecycle.stop_processes(procs)
    return elapsed


def _wait_ready(procs: list[Any], ready: Any, deadline: float) -> None:
    """Wait until every child has said it is ready; fail fast if one died on the way.

    A barrier would wait for a dead child until the deadline (a minute, a kernel interrupt
    that reached the children too, a child that could not import its target): this checks
    the children between short waits.
    """
    for _ in procs:
        while not ready.acquire(timeout=0.1):
            dead = [f"{p.name} (exit code {p.exitcode})" for p in procs if p.exitcode is not None]
            if dead:
                raise RuntimeError("run: a worker process ended before it started working: "
                                   + ", ".join(dead))
            if clock() > deadline:
                raise TimeoutError("run: the worker processes did not all start in time")


class _Guarded:
    """An observer that turns its observer's exceptions into one saying whose fault it is.

    An observer that raises inside a worker would otherwise arrive as the worker's error, as
    if the work itself had failed.
    """

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    def _failed(self, exc: Exception) -> RuntimeError:
        return RuntimeError(f"the observer raised {type(exc).__name__}: {exc}; fix the "
                            "observer (it must not raise): the work itself did not fail")

    def span(self, worker: str, state: str, start: float, end: float, label: str = "") -> None:
        """Forward a span."""
        try:
            self._observer.span(worker, state, start, end, label)
        except Exception as exc:
            raise self._failed(exc) from exc

    def event(self, kind: str, time: float, sender: str, receiver: str, label: str = "") -> None:
        """Forward an event."""
        try:
            self._observer.event(kind, time, sender, receiver, label)
        except Exception as exc:
            raise self._failed(exc) from exc


def check_kind(model: str, workload: str) -> None:
    """Raise ``ValueError`` naming the choices unless ``model`` and ``workload`` are known."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    if workload not in KINDS:
        raise ValueError(f"workload must be one of {KINDS}, not {workload!r}")


def run(model: Model, workload: Kind, workers: int, *, seconds: float | None = 0.2,
        units: int | None = None, serial: bool = False, observer: Observer | None = None,
        start_method: str | None = None, timeout: float = 60.0) -> RunResult:
    """Run ``workers`` workers of one model on one kind of work, reporting spans live.

    Workers are named "process-0", "thread-1", "coroutine-2", ...; they line up and start
    together. Each does one ``Share``: "cpu" is ``spin``, "io" is ``pause``, "mixed"
    alternates five CPU slices with five waits (half the size each). With ``serial=True`` one
    worker does all ``workers`` shares one after another: the same work, done alone, which is
    what a speed-up compares with. Spans reach ``observer`` while the run goes on, from worker
    threads, the loop's thread or (for processes) a relay thread.

    Args:
        model: "process", "thread" or "coroutine".
        workload: "cpu", "io" or "mixed".
        workers: how many workers (1 to 10,000).
        seconds: each worker's share, in seconds of running alone (a hint for CPU work:
            ``units_for`` turns it into units).
        units: each worker's CPU work in exact units instead ("cpu" and "mixed").
        serial: one worker does every share, one after another.
        observer: receives the spans (thread-safe, e.g. ``conclab.trace.Trace()``).
        start_method: for "process": the multiprocessing start method (default: the course's,
            ``lifecycle.default_start_method()``).
        timeout: seconds before the run is stopped and ``TimeoutError`` raised.

    Returns:
        A ``RunResult``; everything started has been stopped, also when this raises.
    """
    check_kind(model, workload)
    if isinstance(workers, bool) or not (isinstance(workers, int) and 1 <= workers <= 10_000):
        raise ValueError(f"workers must be an int, at least 1 and at most 10,000, "
                         f"not {workers!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, not {timeout!r}")
    calibrate()  # before the deadline starts: the first call measures for ~0.1 s
    share = Share.of(workload, None if units is not None and workload != "io" else seconds,
                     units)
    if serial:
        share, names = replace(share, repeat=workers), [f"{model}-0"]
    else:
        names = [f"{model}-{i}" for i in range(workers)]
    deadline = clock() + timeout
    if observing(observer) and model != "process":  # a child's reports fail in the Relay
        observer = _Guarded(observer)  # type: ignore[arg-type]
    if model == "thread":
        elapsed = _run_threads(names, share, observer, deadline)
    elif model == "coroutine":
        elapsed = _run_coroutines(names, share, observer, deadline)
    else:
        elapsed = _run_processes(names, share, observer, deadline, start_method)
        start_method = start_method or lifecycle.default_start_method()
    return RunResult(model, workload, workers, share, elapsed, serial,
                     start_method if model == "process" else None)
