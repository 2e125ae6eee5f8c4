"""The classic alternative to the fused front end: one thread per client (``socketserver``).

``ThreadedServer`` speaks the same protocol as ``Server``, but every connection gets a thread
of its own that reads a request, runs its step right there, and writes the reply. It is simple
and pre-emptive; its price is a thread per connected client, paid while the client stays
connected: creation time, a stack's worth of reserved address space, and real memory. It
counts the threads it started and the time ``Thread.start`` took for them.
"""

from __future__ import annotations

import json
import socketserver
import threading
from typing import Any

import psutil

from conclab.hooks import clock
from conclab.fusion._steps import STEPS, check_job

__all__ = ["ThreadedServer", "Footprint", "footprint"]


class _Handler(socketserver.StreamRequestHandler):
    """One client's thread: answer each request line until the client closes."""

    timeout = 60.0  # seconds a client may stay silent before its thread gives up on it

    def handle(self) -> None:
        for line in self.rfile:
            ident: Any = None
            try:
                request = json.loads(line)
                ident, kind, arg = request.get("id"), request.get("kind"), request.get("arg")
                check_job(kind, arg)
                reply = {"id": ident, "ok": True, "result": STEPS[kind](arg), "where": "thread"}
            except Exception as exc:  # noqa: BLE001 - every failure becomes the client's error
                reply = {"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(reply).encode() + b"\n")


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True        # a client that never closes cannot keep the interpreter up
    block_on_close = True        # but server_close() still joins every client's thread
    allow_reuse_address = True
    request_queue_size = 1024    # socketserver's default backlog of 5 drops bursts of connects

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.started, self.start_seconds = 0, 0.0

    def process_request(self, request: Any, client_address: Any) -> None:
        t0 = clock()
        super().process_request(request, client_address)  # creates and starts the thread
        self.start_seconds += clock() - t0
        self.started += 1


class ThreadedServer:
    """A thread-per-client server on 127.0.0.1 (an OS-chosen port), as a context manager.

    Attributes:
        address: (host, port) to connect to, once started.
        threads_started: client threads started so far.
        start_seconds: total seconds spent creating and starting them.
    """

    def __init__(self) -> None:
        self._server: _TCPServer | None = None
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] | None = None

    def start(self) -> ThreadedServer:
        """Bind and serve in a thread of its own."""
        self._server = _TCPServer()
        self.address = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="threaded-accept", daemon=True)
        self._thread.start()
        return self

    @property
    def threads_started(self) -> int:
        """Client threads started so far."""
        return self._server.started if self._server else 0

    @property
    def start_seconds(self) -> float:
        """Seconds the accepting thread spent creating and starting client threads."""
        return self._server.start_seconds if self._server else 0.0

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, then join every client thread (clients must have closed)."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server.server_close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Footprint:
    """This process's resident and virtual memory (bytes) and thread count, at one moment."""

    def __init__(self) -> None:
        info = psutil.Process().memory_info()
        self.rss, self.vms, self.threads = info.rss, info.vms, threading.active_count()

    def __sub__(self, other: Footprint) -> dict[str, int]:
        """What grew between ``other`` and this one: bytes of rss and vms, and threads."""
        return {"rss": self.rss - other.rss, "vms": self.vms - other.vms,
                "threads": self.threads - other.threads}

    def __repr__(self) -> str:
        return (f"<Footprint rss={self.rss / 2**20:.1f} MiB vms={self.vms / 2**20:.1f} MiB "
                f"threads={self.threads}>")


def footprint() -> Footprint:
    """This process's memory and thread count now."""
    return Footprint()
