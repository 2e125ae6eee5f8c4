"""The Jupyter kernel speaks ZeroMQ: its connection file, its signed messages, its ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from typing import Any

__all__ = ["in_kernel", "kernel_connection", "DELIMITER", "read_kernel_message",
           "release_thread_pipes"]


def in_kernel() -> bool:
    """True when this code runs inside a Jupyter kernel (ipykernel), not a plain interpreter."""
    app = sys.modules.get("ipykernel.kernelapp")
    return app is not None and app.IPKernelApp.initialized()


def kernel_connection() -> dict[str, Any] | None:
    """The running Jupyter kernel's connection info (ports, transport, key), or None.

    None when no kernel runs this code (a plain script, pytest). The ``key`` in it signs
    every message to and from the kernel: whoever has it can make the kernel run code, so
    never show or send it.
    """
    if not in_kernel():
        return None
    from ipykernel.connect import get_connection_file

    with open(get_connection_file(), encoding="utf-8") as f:
        return json.load(f)

DELIMITER = b"<IDS|MSG>"
"""The frame that separates routing frames from a Jupyter message's signed parts."""


def read_kernel_message(frames: list[bytes], key: bytes) -> dict[str, Any]:
    """Check and decode one Jupyter message received as ZeroMQ frames.

    The wire format: routing frames (on iopub, the topic), the delimiter ``<IDS|MSG>``, the
    HMAC signature (hex), then header, parent header, metadata and content as JSON, then
    any binary buffers. The signature is HMAC-SHA256, keyed with the connection file's
    ``key``, over the four JSON frames; an empty key means messages are not signed.

    Returns:
        ``{"topic", "header", "parent_header", "metadata", "content"}``, the topic as text.

    Raises:
        ValueError: if the delimiter is missing or the signature does not match.
    """
    if DELIMITER not in frames:
        raise ValueError("not a Jupyter message: no <IDS|MSG> delimiter among its frames")
    at = frames.index(DELIMITER)
    signature, parts = frames[at + 1], frames[at + 2:at + 6]
    if key:
        expected = hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature: the message was not signed with this key")
    header, parent, metadata, content = (json.loads(p) for p in parts)
    topic = b".".join(frames[:at]).decode(errors="replace")
    return {"topic": topic, "header": header, "parent_header": parent,
            "metadata": metadata, "content": content}


def release_thread_pipes() -> int:
    """Close the kernel's output pipes of threads that have ended; return how many it closed.

    ipykernel 7 gives each thread that writes or flushes stdout or stderr (``multiprocessing``
    flushes them whenever it starts a process, as Dask's nanny threads do) a ZeroMQ socket of
    its own, to hand output to the kernel's I/O thread, and closes those of finished threads
    only every 10 seconds. A clean-up check that runs in between would see their descriptors
    as left open by the chapter; this does the kernel's own collection now. Outside a kernel,
    or in a kernel that keeps no such pipes (ipykernel 6), it does nothing.

    It reads private attributes of ipykernel's ``IOPubThread`` (``_event_pipes`` and its
    lock), so each is looked up with a fallback: a kernel that renamed them is left alone.
    """
    if not in_kernel():
        return 0
    from ipykernel.kernelapp import IPKernelApp

    iopub = getattr(IPKernelApp.instance(), "iopub_thread", None)
    pipes = getattr(iopub, "_event_pipes", None)
    lock = getattr(iopub, "_event_pipe_gc_lock", None)
    if not isinstance(pipes, dict) or lock is None:
        return 0
    closed = 0
    with lock:
        for thread, sock in list(pipes.items()):
            if not thread.is_alive():
                sock.close()
                del pipes[thread]
                closed += 1
    return closed
