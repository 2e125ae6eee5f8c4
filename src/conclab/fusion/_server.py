"""The fused program's front end: an asyncio server that places each step on its model.

Clients speak one JSON object per line over TCP on 127.0.0.1 (an OS-chosen port; nothing on
the wire is ever unpickled). A request is ``{"id": ..., "kind": "light"|"blocking"|"heavy",
"arg": ...}``; each gets exactly one reply, ``{"id": ..., "ok": true, "result": ...,
"where": "loop"|"thread"|"process"}`` or ``{"id": ..., "ok": false, "error": "Type: why"}``.
A client may send many requests before reading any reply: each request is a task of its own,
so replies come back in the order the jobs finish. How it holds together:

1. The loop runs in a thread the server owns, so a notebook cell or a test drives it from
   outside with ordinary clients, and a step that wrongly blocks the loop blocks only it.
2. Each kind of step goes where its ``Placement`` says: run inline on the loop, sent through a
   ``BridgeQueue`` to a ``ThreadStage``, or asked of a ``ProcessStage``'s actors.
3. Every outcome is published on the ``gateway`` (``job.<kind>.done``, ``.failed`` or
   ``.orphaned``), after the reply is written: subscribers (a dashboard, a log, a statistics
   actor) never delay a client, and a slow one only loses its own messages, counted.
4. A client that disconnects before its answer is not an error of the job: the outcome is
   still published, as ``orphaned``, and counted, so nothing is lost without a trace.
5. Every wait is bounded: a job fails with ``TimeoutError`` after ``job_timeout`` seconds,
   ``stop()`` cancels what is left, and nothing the server started outlives it.

At ~390 lines the module is over the package's ~300: the server's life (start, serve, stop)
and the path of one job through it (read, place, reply, publish) are one mechanism, and read
best together; the stages and the clients live in modules of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from conclab.hooks import Observer, as_worker, clock, observing
from conclab.pubsub import Gateway
from conclab.fusion._stages import ProcessStage, ThreadStage
from conclab.fusion._steps import FUSED, KINDS, STEPS, Placement, check_job

__all__ = ["Server", "ServerStatistics", "usable_cores", "await_chain"]

_LINE_LIMIT = 64 * 1024  # bytes a request line may take; longer ones end the connection


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells it, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def await_chain(task: asyncio.Task[Any]) -> list[str]:
    """Where a task is suspended, outermost coroutine first: ``"qualname line N"`` each.

    ``Task.get_stack()`` gives only the outermost frame of a suspended coroutine; the chain
    of ``cr_await`` links reaches down to the innermost ``await``.
    """
    chain: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            chain.append(f"{frame.f_code.co_qualname} line {frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


@dataclass(frozen=True)
class ServerStatistics:
    """Counts since the server started (``Server.statistics()``).

    Attributes:
        received: request lines read; each ends as answered or orphaned (or cancelled by
            ``stop()``).
        answered: replies written (``failed`` of them say ``"ok": false``).
        failed: replies that carry an error (bad request, timeout, dead actor...).
        orphaned: outcomes whose client had gone: published, never written.
        in_flight: jobs not finished yet (running, or publishing their outcome).
        queued_for_threads: steps waiting for a free thread of a thread stage.
        waiting_for_process: jobs waiting for an idle process actor.
        replaced: process actors started anew after their process died.
        connections: clients connected now.
    """

    received: int
    answered: int
    failed: int
    orphaned: int
    in_flight: int
    queued_for_threads: int
    waiting_for_process: int
    replaced: int
    connections: int


class _Collect(logging.Handler):
    """Keeps what the ``asyncio`` logger says from one thread (debug mode's slow steps)."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(logging.WARNING)
        self.thread_id, self.messages = thread_id, []  # type: ignore[var-annotated]

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.messages.append(record.getMessage())


class Server:
    """The fused program: an asyncio front end, thread and process stages, and a gateway.

    Use it as a context manager (``with Server(FUSED) as server:``); ``address`` is where
    clients connect. Its ``gateway`` is open for subscribers from the start.

    Args:
        placement: which model runs each kind of step (``FUSED`` by default).
        heavy_workers: threads or processes for heavy steps (default: the usable cores).
        threads: threads for blocking steps, and processes when they run in processes
            (default 8, and ``heavy_workers`` for processes).
        observer: a ``conclab.hooks.Observer`` for the stages, actors, queue and gateway.
        debug: run the loop in asyncio debug mode; its slow-step warnings land in
            ``warnings``.
        slow_callback: in debug mode, a step longer than this many seconds is reported.
        job_timeout: seconds a job may take before it fails with ``TimeoutError``.
        method: start method for process actors (default: ``lifecycle``'s).
    """

    def __init__(self, placement: Placement = FUSED, *, heavy_workers: int | None = None,
                 threads: int = 8, observer: Observer | None = None, debug: bool = False,
                 slow_callback: float = 0.1, job_timeout: float = 30.0,
                 method: str | None = None) -> None:
        if not (isinstance(job_timeout, (int, float)) and job_timeout > 0):
            raise ValueError(f"job_timeout must be a number of seconds > 0, not {job_timeout!r}")
        self.placement = placement
        self.heavy_workers = heavy_workers or usable_cores()
        self.threads, self.debug, self.slow_callback = threads, debug, slow_callback
        self.job_timeout, self.method = float(job_timeout), method
        self._observer = observer if observing(observer) else None
        self.gateway = Gateway(observer=self._observer, name="gateway")
        self.address: tuple[str, int] | None = None
        self.warnings: list[str] = []
        self._stages: dict[str, ThreadStage | ProcessStage] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._jobs: set[asyncio.Task[Any]] = set()
        self._conns: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._numbers = itertools.count()
        self._counts = dict.fromkeys(("received", "answered", "failed", "orphaned"), 0)

    # -- starting and stopping ------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Server:
        """Start the stages (process actors first: nothing else runs yet), then the loop."""
        try:
            self._make_stages()
            self._thread = threading.Thread(target=self._main, name="fusion-loop", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout):
                raise TimeoutError(f"the server did not start within {timeout} s")
            if self._error is not None:
                raise self._error
        except BaseException:
            self.stop()
            raise
        return self

    def _make_stages(self) -> None:
        """One stage per (kind, model) that is not the loop; kinds on one model share none."""
        for kind in KINDS:
            model, size = self.placement.where(kind), self._size(kind)
            if model == "thread":
                self._stages[kind] = ThreadStage(size, kind, self._observer)
            elif model == "process":
                self._stages[kind] = ProcessStage(size, kind, self._observer, self.method)

    def _size(self, kind: str) -> int:
        """How many workers a stage of ``kind`` gets."""
        if kind == "heavy":
            return self.heavy_workers
        if kind == "blocking":
            return self.threads if self.placement.blocking == "thread" else self.heavy_workers
        return 1

    def _main(self) -> None:
        """The loop's thread: serve until ``stop()``, collecting debug warnings."""
        logger, collect = logging.getLogger("asyncio"), _Collect(threading.get_ident())
        propagate = logger.propagate
        if self.debug:
            logger.addHandler(collect)
            # Otherwise debug mode's warnings also reach the root logger: red text in a
            # notebook. (While a debug server runs, other threads' asyncio warnings are only
            # kept from the root logger too: the logger is one for the whole process.)
            logger.propagate = False
        try:
            with asyncio.Runner(debug=self.debug) as runner:
                self._loop = runner.get_loop()
                self._loop.slow_callback_duration = self.slow_callback
                runner.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported by start() in the caller
            self._error = exc
        finally:
            logger.removeHandler(collect)
            logger.propagate = propagate
            self.warnings = collect.messages
            self._ready.set()

    async def _serve(self) -> None:
        """Listen on loopback until asked to stop; then cancel what is left."""
        self._stopping = asyncio.Event()
        for stage in self._stages.values():
            if isinstance(stage, ProcessStage):
                stage.start()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0, backlog=1024,
                                            limit=_LINE_LIMIT)
        self.address = server.sockets[0].getsockname()[:2]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            left = list(self._jobs | self._conns)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, then the stages and the gateway; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            if self._stopping is not None:
                try:
                    loop.call_soon_threadsafe(self._stopping.set)
                except RuntimeError:
                    pass  # the loop already closed
            thread.join(timeout)
        for stage in self._stages.values():
            if isinstance(stage, ThreadStage):
                stage.work.shutdown(immediate=True)  # queued steps are dropped: no job awaits
            stage.close()
        self.gateway.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: a job task per request line, until the client goes."""
        me = asyncio.current_task()
        assert me is not None
        self._conns.add(me)
        self._writers.add(writer)
        peer = f"client-{next(self._numbers)}"
        gone = asyncio.Event()  # set when the client can no longer hear its answers
        try:
            with as_worker("front"):  # the loop's lane on a timeline
                while line := await reader.readline():
                    self._counts["received"] += 1
                    task = asyncio.create_task(self._job(line, writer, gone, peer))
                    self._jobs.add(task)
                    task.add_done_callback(self._jobs.discard)
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass  # a reset, or a line over the limit: the client is gone either way
        except asyncio.CancelledError:
            # stop() cancelled us. On 3.11 asyncio's stream callback asks a cancelled
            # connection task for its exception and logs the CancelledError as an error: a
            # connection that ends because the server stops ends quietly instead.
            pass
        finally:
            gone.set()
            self._writers.discard(writer)
            self._conns.discard(me)
            writer.close()

    async def _job(self, line: bytes, writer: asyncio.StreamWriter, gone: asyncio.Event,
                   peer: str) -> None:
        """Run one request and write its reply (or, the client gone, count it orphaned)."""
        started = clock()
        reply, kind = await self._outcome(line)
        record = {**reply, "kind": kind, "client": peer,
                  "server_ms": round((clock() - started) * 1e3, 3)}
        outcome = "orphaned" if gone.is_set() else "done" if reply["ok"] else "failed"
        if outcome != "orphaned":
            # Counted before the drain, not after: once the reply is written the client may
            # read it and ask for the statistics while this task still waits in drain().
            self._count(outcome)
            try:
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
            except (ConnectionError, RuntimeError):
                self._counts["answered"] -= 1
                self._counts["failed"] -= outcome == "failed"
                outcome = "orphaned"
        if outcome == "orphaned":
            self._count(outcome)
        await self.gateway.apublish(f"job.{kind}.{outcome}", record)

    def _count(self, outcome: str) -> None:
        """Count one job's end: answered (failed among them) or orphaned."""
        self._counts["answered" if outcome != "orphaned" else "orphaned"] += 1
        self._counts["failed"] += outcome == "failed"

    async def _outcome(self, line: bytes) -> tuple[dict[str, Any], str]:
        """The reply to one request line, and its kind ("bad" if it could not be read)."""
        ident: Any = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            ident, kind, arg = request.get("id"), request.get("kind"), request.get("arg")
            check_job(kind, arg)
        except (ValueError, TypeError) as exc:
            return {"id": ident, "ok": False, "error": f"bad request: {exc}"}, "bad"
        where = self.placement.where(kind)
        try:
            async with asyncio.timeout(self.job_timeout):
                result = await self._run(kind, arg)
        except TimeoutError:
            error = f"TimeoutError: no result within {self.job_timeout} s"
            return {"id": ident, "ok": False, "error": error, "where": where}, kind
        except Exception as exc:  # noqa: BLE001 - every failure becomes the client's error
            error = f"{type(exc).__name__}: {exc}"
            return {"id": ident, "ok": False, "error": error, "where": where}, kind
        return {"id": ident, "ok": True, "result": result, "where": where}, kind

    async def _run(self, kind: str, arg: Any) -> Any:
        """Run one step where the placement says."""
        stage = self._stages.get(kind)
        if isinstance(stage, ThreadStage):
            return await stage.run(STEPS[kind], arg)
        if isinstance(stage, ProcessStage):
            return await stage.run(kind, arg)
        start = clock()  # on the loop itself: nothing else on the loop runs meanwhile
        try:
            return STEPS[kind](arg)
        finally:
            if self._observer is not None:
                self._observer.span("front", "run", start, clock(), kind)

    # -- reading it ---------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's event loop (running in its own thread), or None before ``start()``."""
        return self._loop

    def statistics(self) -> ServerStatistics:
        """The server's counts now (read from any thread; already stale when read)."""
        threads = sum(s.queued() for s in self._stages.values() if isinstance(s, ThreadStage))
        procs = [s for s in self._stages.values() if isinstance(s, ProcessStage)]
        c = self._counts
        return ServerStatistics(c["received"], c["answered"], c["failed"], c["orphaned"],
                                len(self._jobs), threads, sum(s.waiting() for s in procs),
                                sum(s.replaced for s in procs), len(self._conns))

    def pids(self) -> dict[str, int]:
        """Process id of every process actor, by actor name."""
        return {n: p for s in self._stages.values() if isinstance(s, ProcessStage)
                for n, p in s.pids.items()}

    def busy_pids(self) -> dict[str, int]:
        """Process id of each process actor running a job now, by actor name."""
        return {n: p for s in self._stages.values() if isinstance(s, ProcessStage)
                for n, p in dict(s.busy).items()}

    def task_stacks(self, timeout: float = 2.0) -> dict[str, list[str]]:
        """Every task on the server's loop and where it is suspended (``await_chain``).

        Asked *on* the loop, so it answers only if the loop is free to run it.

        Raises:
            TimeoutError: if the loop did not run the question within ``timeout`` seconds:
                something holds it (a CPU-bound or blocking step on the loop).
        """
        assert self._loop is not None, "start() the server first"

        async def collect() -> dict[str, list[str]]:
            me = asyncio.current_task()
            return {t.get_name(): await_chain(t) for t in asyncio.all_tasks() if t is not me}

        fut = asyncio.run_coroutine_threadsafe(collect(), self._loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"the server's loop did not answer within {timeout} s: a step "
                               f"is holding it; fusion.thread_stacks() shows where") from None

    def __repr__(self) -> str:
        state = (f"listening on {self.address[0]}:{self.address[1]}" if self.address
                 else "not started")
        return f"<fusion.Server {self.placement.name!r} {state}>"
