"""Clients for the fused program: one request, a pipelined batch, a load mix, held connections.

Every client speaks the server's protocol (one JSON object per line) over a fresh TCP
connection to the server's loopback address, and every wait is bounded by a timeout. A reply
is matched to its request by ``id``; ``ask_many`` raises ``ProtocolError`` if any request is
answered twice, not at all, or with an id nobody sent: "every job answered exactly once" is
what it checks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from conclab.hooks import clock

__all__ = ["Reply", "ProtocolError", "request", "ask_many", "LoadReport", "hammer",
           "held_clients", "Held", "percentile"]

Address = tuple[str, int]
TEXT = "the quick brown fox jumps over the lazy dog " * 4


class ProtocolError(RuntimeError):
    """A reply was missing, duplicated, or answered a request that was never sent."""


@dataclass(frozen=True)
class Reply:
    """One answered request, as its client saw it.

    Attributes:
        client: the client's name; kind: the job's kind; ok: whether it succeeded;
        latency: seconds from sending the request to reading its reply (client side);
        where: the model that ran the step; error: the error text ("" when ok);
        result: the step's result (None when not ok);
        sent: when the request was sent (``hooks.clock()``).
    """

    client: str
    kind: str
    ok: bool
    latency: float
    where: str = ""
    error: str = ""
    result: Any = None
    sent: float = 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _line(ident: Any, kind: str, arg: Any) -> bytes:
    return json.dumps({"id": ident, "kind": kind, "arg": arg}).encode() + b"\n"


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 2.0)
    except (ConnectionError, TimeoutError):
        pass


async def request(address: Address, kind: str, arg: Any, *,
                  timeout: float = 30.0) -> dict[str, Any]:
    """Send one job on a connection of its own; return the server's reply as a dict.

    Raises:
        TimeoutError: if no reply came within ``timeout`` seconds.
        ProtocolError: if the connection closed without a reply.
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(_line(1, kind, arg))
            await writer.drain()
            line = await reader.readline()
        finally:
            await _close(writer)
    if not line:
        raise ProtocolError(f"the server closed the connection without answering {kind!r}")
    return json.loads(line)


async def ask_many(address: Address, jobs: Sequence[tuple[str, Any]], *, name: str = "client",
                   timeout: float = 60.0) -> list[Reply]:
    """Send every job on one connection at once, then read the replies as they finish.

    Returns the replies in the order the jobs were given.

    Raises:
        ProtocolError: a reply came twice, for an unknown id, or not at all.
        TimeoutError: if the replies did not all come within ``timeout`` seconds.
    """
    sent: dict[int, float] = {}
    got: dict[int, Reply] = {}
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(*address)
        try:
            for i, (kind, arg) in enumerate(jobs):
                sent[i] = clock()
                writer.write(_line(i, kind, arg))
            await writer.drain()
            while len(got) < len(jobs):
                line = await reader.readline()
                if not line:
                    raise ProtocolError(f"{name}: the server closed the connection with "
                                        f"{len(jobs) - len(got)} of {len(jobs)} jobs unanswered")
                reply = json.loads(line)
                ident = reply.get("id")
                if ident not in sent or ident in got:
                    raise ProtocolError(f"{name}: reply {reply!r} answers "
                                        f"{'a job answered already' if ident in got else 'no job sent'}")
                got[ident] = Reply(name, jobs[ident][0], reply["ok"], clock() - sent[ident],
                                   reply.get("where", ""), reply.get("error", ""),
                                   reply.get("result"), sent[ident])
        finally:
            await _close(writer)
    return [got[i] for i in range(len(jobs))]


@dataclass
class LoadReport:
    """What a load run saw: every reply, and how long the run took."""

    replies: list[Reply] = field(default_factory=list)
    elapsed: float = 0.0

    def latencies(self, kind: str) -> list[float]:
        """Latencies, in seconds, of the successful replies of ``kind``."""
        return [r.latency for r in self.replies if r.kind == kind and r.ok]

    def percentile_ms(self, kind: str, q: float) -> float:
        """The ``q``-th percentile latency of ``kind``, in milliseconds."""
        return percentile(self.latencies(kind), q) * 1e3

    def throughput(self, kind: str) -> float:
        """Successful jobs of ``kind`` per second, from the first one sent to the last answered.

        Measured over the jobs' own span, not the whole run's: the run also waits for the
        other clients' last requests, which says nothing about how fast ``kind`` went.
        """
        done = [r for r in self.replies if r.kind == kind and r.ok]
        if not done:
            return 0.0
        span = max(r.sent + r.latency for r in done) - min(r.sent for r in done)
        return len(done) / span if span > 0 else 0.0

    def errors(self) -> list[str]:
        """The error text of every failed reply."""
        return [r.error for r in self.replies if not r.ok]


async def _closed_loop(address: Address, name: str, kind: str, arg: Any, *, jobs: int | None,
                       until: asyncio.Event | None, gap: float, out: list[Reply]) -> None:
    """One client: a request, its reply, a pause of ``gap``; ``jobs`` times or ``until`` set."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        for i in itertools.count():
            if (jobs is not None and i >= jobs) or (until is not None and until.is_set() and i):
                break
            start = clock()
            writer.write(_line(i, kind, arg))
            await writer.drain()
            reply = json.loads(await reader.readline() or b'{"ok": false, "error": "closed"}')
            out.append(Reply(name, kind, reply["ok"], clock() - start, reply.get("where", ""),
                             reply.get("error", ""), reply.get("result"), start))
            if gap:
                await asyncio.sleep(gap)
    finally:
        await _close(writer)


async def hammer(address: Address, *, heavy_clients: int = 2, heavy_jobs: int = 3,
                 heavy_units: int = 100_000, light_clients: int = 8, light_gap: float = 0.005,
                 blocking_clients: int = 2, blocking_seconds: float = 0.02,
                 text: str = TEXT, timeout: float = 60.0) -> LoadReport:
    """A load mix: heavy clients send ``heavy_jobs`` each; the others go on until they finish.

    Each client is closed-loop (one request at a time on its own connection). Light and
    blocking clients keep sending while any heavy client is still working, so their latency
    is measured while heavy jobs run.
    """
    report, heavy_done = LoadReport(), asyncio.Event()
    start = clock()

    async def heavy_side() -> None:
        await asyncio.gather(*(_closed_loop(address, f"heavy-{i}", "heavy", heavy_units,
                                            jobs=heavy_jobs, until=None, gap=0,
                                            out=report.replies)
                               for i in range(heavy_clients)))
        heavy_done.set()

    others = [_closed_loop(address, f"light-{i}", "light", text, jobs=None, until=heavy_done,
                           gap=light_gap, out=report.replies) for i in range(light_clients)]
    others += [_closed_loop(address, f"blocking-{i}", "blocking", blocking_seconds, jobs=None,
                            until=heavy_done, gap=0, out=report.replies)
               for i in range(blocking_clients)]
    if not heavy_clients:
        heavy_done.set()
    async with asyncio.timeout(timeout):
        await asyncio.gather(heavy_side(), *others)
    report.elapsed = clock() - start
    return report


@dataclass(frozen=True)
class Held:
    """Clients connected at once: how many, and the seconds it took to connect and answer all."""

    clients: int
    seconds: float


@asynccontextmanager
async def held_clients(address: Address, n: int, *, batch: int = 100,
                       timeout: float = 60.0) -> AsyncIterator[Held]:
    """Connect ``n`` clients, each sends a light job and reads its answer; hold them open.

    Inside the ``async with`` all ``n`` connections are open (measure the server then); at
    its end they close. At most ``batch`` connections are being opened at any moment, so the
    server's listen backlog never overflows.
    """
    writers: list[asyncio.StreamWriter] = []
    gate = asyncio.Semaphore(batch)

    async def one(i: int) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection(*address)
            writers.append(writer)
            writer.write(_line(i, "light", "hello"))
            await writer.drain()
            if not await reader.readline():
                raise ProtocolError(f"held client {i}: the server closed without answering")

    start = clock()
    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one(i) for i in range(n)))
        yield Held(len(writers), clock() - start)
    finally:
        await asyncio.gather(*(_close(w) for w in writers), return_exceptions=True)
