"""The Jupyter kernel speaks ZeroMQ: its connection file, its signed messages, its ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from typing import Any

__all__ = ["in_kernel", "kernel_connection", "DELIMITER", "read_kernel_message",
           "listening_sockets"]


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


def listening_sockets() -> list[tuple[int, str, str, int]]:
    """Every TCP socket this process and its descendants listen on: (pid, name, host, port)."""
    import psutil

    found = []
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            name = proc.name()
            connections = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        for c in connections:
            if c.status == psutil.CONN_LISTEN:
                found.append((proc.pid, name, c.laddr.ip, c.laddr.port))
    return sorted(found)
