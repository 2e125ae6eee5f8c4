"""ZeroMQ peers for child processes, and ``Child``, the handle that starts and stops one."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import zmq

from conclab import lifecycle

__all__ = ["Endpoint", "LOOPBACK", "Child", "square_worker", "counter_actor", "publisher",
           "flaky_echo", "flaky_server", "prefix_delivery", "into_slow_consumer",
           "fresh_context"]

Endpoint = str
"""A ZeroMQ address: ``"tcp://127.0.0.1:5555"``, ``"inproc://jobs"``."""
LOOPBACK = "tcp://127.0.0.1"
"""Where every socket of the course binds: this machine only, on a port the OS chooses."""


@contextmanager
def fresh_context() -> Iterator[zmq.Context]:
    """A ZeroMQ context whose sockets drop what is unsent when closed; destroyed on leaving.

    ``destroy`` closes every socket still open, then terminates the context: a socket that
    someone forgot to close (an exercise's wrong answer, say) cannot make the exit wait for
    ever, as ``term`` alone would.
    """
    context = zmq.Context()
    context.linger = 0
    try:
        yield context
    finally:
        context.destroy(linger=0)


def _send(conn: Connection, message: Mapping[str, Any]) -> None:
    """Send one JSON object through a control pipe."""
    conn.send_bytes(json.dumps(message).encode())


def _receive(conn: Connection, timeout: float) -> dict[str, Any] | None:
    """The next JSON object from a control pipe, or None if none came within ``timeout``."""
    if not conn.poll(timeout):
        return None
    return json.loads(conn.recv_bytes())


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds that ZeroMQ's ``poll`` takes."""
    return max(0, round(seconds * 1000))


def _stop_requested(control: Connection) -> bool:
    """True if the parent sent ``{"op": "stop"}`` (or closed its end) on the control pipe."""
    try:
        return control.poll(0) and json.loads(control.recv_bytes()).get("op") == "stop"
    except (EOFError, OSError):
        return True  # the parent has gone: so should we


def _serve(sock: zmq.Socket, control: Connection, timeout: float) -> Iterator[None]:
    """Yield each time ``sock`` has a message; stop on a stop command or ``timeout`` of silence.

    One ``zmq.Poller`` watches the socket and the control pipe's file descriptor together, so
    a child blocked waiting for messages still hears its parent ask it to stop.
    """
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(control.fileno(), zmq.POLLIN)
    while True:
        ready = dict(poller.poll(_ms(timeout)))
        if not ready or control.fileno() in ready and _stop_requested(control):
            return
        if sock in ready:
            yield


def square_worker(control: Connection, jobs: Endpoint, results: Endpoint,
                  timeout: float = 30.0) -> None:
    """A pipeline stage: PULL ``{"n": n}`` jobs, PUSH ``{"n", "square", "pid"}`` results.

    It connects to both endpoints (the parent binds them), says ``{"pid": ...}`` on the
    control pipe and ``{"ready": pid}`` through the results socket, so the parent can wait
    until the pipeline reaches it. It ends when the parent says stop, or after ``timeout``
    seconds with neither a job nor a command.
    """
    context = zmq.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    try:
        pull.connect(jobs)
        push.connect(results)
        _send(control, {"pid": os.getpid()})
        push.send_json({"ready": os.getpid()})
        for _ in _serve(pull, control, timeout):
            n = pull.recv_json()["n"]
            push.send_json({"n": n, "square": n * n, "pid": os.getpid()})
    finally:
        pull.close(linger=0)
        push.close(linger=0)
        context.term()


def counter_actor(control: Connection, timeout: float = 30.0) -> None:
    """An actor behind a ROUTER socket: it owns a count and only answers messages.

    It binds ``LOOPBACK`` on a free port and says ``{"endpoint": ..., "pid": ...}``. A
    request is the JSON ``{"op": "add", "by": k}`` or ``{"op": "get"}``, answered with
    ``{"count": n}``. The ROUTER prefixes every request with the sender's identity frame,
    and the answer goes back with the same envelope, so it serves DEALER clients
    (``[id, body]``) and REQ clients (``[id, b"", body]``) alike. It ends when the parent
    says stop, or after ``timeout`` seconds with neither a request nor a command.
    """
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    try:
        port = router.bind_to_random_port(LOOPBACK)
        _send(control, {"endpoint": f"{LOOPBACK}:{port}", "pid": os.getpid()})
        count = 0
        for _ in _serve(router, control, timeout):
            *envelope, body = router.recv_multipart()
            request = json.loads(body)
            if request.get("op") == "add":
                count += int(request.get("by", 1))
            answer = ({"count": count} if request.get("op") in ("add", "get")
                      else {"error": f"unknown op {request.get('op')!r}: use add or get"})
            router.send_multipart([*envelope, json.dumps(answer).encode()])
    finally:
        router.close(linger=0)
        context.term()


def publisher(control: Connection, timeout: float = 30.0) -> None:
    """A publisher behind an XPUB socket, driven step by step through its control pipe.

    It binds ``LOOPBACK`` on a free port and says ``{"endpoint": ..., "pid": ...}``. Then it
    obeys JSON commands, answering each: ``{"op": "publish", "messages": [[topic, payload],
    ...]}`` sends each as two frames (the topic, which subscribers filter on by prefix, and
    the JSON payload) and answers ``{"published": n}``; ``{"op": "subscription", "wait": s}``
    waits up to s seconds for a subscription to reach the publisher (an XPUB receives each
    as a frame: 1 or 0, for subscribe or unsubscribe, then the prefix) and answers
    ``{"subscribed": prefix}`` or ``{"subscribed": null}``; ``{"op": "stop"}`` ends it.
    """
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    try:
        port = xpub.bind_to_random_port(LOOPBACK)
        _send(control, {"endpoint": f"{LOOPBACK}:{port}", "pid": os.getpid()})
        while (command := _receive(control, timeout)) is not None:
            if command["op"] == "stop":
                break
            if command["op"] == "publish":
                for topic, payload in command["messages"]:
                    xpub.send_multipart([topic.encode(), json.dumps(payload).encode()])
                _send(control, {"published": len(command["messages"])})
            elif command["op"] == "subscription":
                _send(control, {"subscribed": _next_subscription(xpub, command["wait"])})
    finally:
        xpub.close(linger=0)
        context.term()


def _next_subscription(xpub: zmq.Socket, wait: float) -> str | None:
    """The prefix of the next subscribe frame an XPUB receives within ``wait`` s, else None.

    Unsubscribe frames (a closed subscriber's, say) start with 0 and are passed over.
    """
    deadline = time.monotonic() + wait
    while xpub.poll(_ms(max(0.0, deadline - time.monotonic()))):
        frame = xpub.recv()
        if frame[:1] == b"\x01":
            return frame[1:].decode(errors="replace")
    return None


def flaky_echo(context: zmq.Context, endpoint: Endpoint, timeout: float = 30.0) -> None:
    """A server that loses answers on purpose, for a thread of the kernel (exercise 2).

    It binds a ROUTER at ``endpoint`` and answers each JSON request ``r`` with
    ``{"echo": r}``, except ``{"drop": true}``, which it never answers, and ``{"late": s}``,
    which it answers s seconds later while serving others meanwhile. ``{"stop": true}``
    ends it, as do ``timeout`` seconds without a request.
    """
    router = context.socket(zmq.ROUTER)
    router.bind(endpoint)
    later: list[tuple[float, list[bytes]]] = []
    try:
        while True:
            due = min((t for t, _ in later), default=time.monotonic() + timeout)
            if router.poll(_ms(max(0.0, due - time.monotonic()))):
                *envelope, body = router.recv_multipart()
                request = json.loads(body)
                if request.get("stop"):
                    return
                if not request.get("drop"):
                    answer = [*envelope, json.dumps({"echo": request}).encode()]
                    later.append((time.monotonic() + float(request.get("late", 0)), answer))
            elif not later:
                return  # silent for ``timeout`` seconds
            for item in [i for i in later if i[0] <= time.monotonic()]:
                later.remove(item)
                router.send_multipart(item[1])
    finally:
        router.close(linger=0)


def prefix_delivery(context: zmq.Context, subscribe: Callable[[zmq.Socket], Any],
                    topics: Iterable[str], *,
                    wait: float = 2.0) -> tuple[list[str], list[str], Any]:
    """Publish each topic to a SUB socket that ``subscribe`` sets up; say what got through.

    The harness of chapter 10's first exercise. An XPUB binds ``LOOPBACK`` and a SUB connects
    to it; ``subscribe(sub)`` subscribes the SUB, and what it returns is handed back. Once the
    XPUB has received the subscriptions (the first within ``wait`` seconds, each next one
    within 50 ms of the last), each topic is published as ``[topic, topic]``, then one end
    marker per prefix, ``[prefix, b""]``: the SUB receives what its prefixes let through, in
    order, and knows it has everything once each prefix's marker came (no waiting for silence).
    When ``subscribe`` returns None (an exercise's empty stub), nothing is published.

    Returns:
        The prefixes subscribed, in the order they arrived; the topics the SUB received, in
        order; and what ``subscribe`` returned.

    Raises:
        zmq.Again: if a marker did not arrive within ``wait`` seconds.
    """
    xpub, sub = context.socket(zmq.XPUB), context.socket(zmq.SUB)
    try:
        sub.rcvtimeo = _ms(wait)
        sub.connect(f"{LOOPBACK}:{xpub.bind_to_random_port(LOOPBACK)}")
        result = subscribe(sub)
        if result is None:
            return [], [], None
        prefixes: list[str] = []
        while (prefix := _next_subscription(xpub, 0.05 if prefixes else wait)) is not None:
            prefixes.append(prefix)
        for topic in topics:
            xpub.send_multipart([topic.encode(), topic.encode()])
        for prefix in prefixes:
            xpub.send_multipart([prefix.encode(), b""])
        arrived, ended = [], set()
        while len(ended) < len(prefixes):
            topic, payload = sub.recv_multipart()
            if payload:
                arrived.append(topic.decode(errors="replace"))
            else:
                ended.add(topic)
        return prefixes, arrived, result
    finally:
        xpub.close(linger=0)
        sub.close(linger=0)


@contextmanager
def flaky_server(context: zmq.Context) -> Iterator[Endpoint]:
    """Run ``flaky_echo`` in a thread on a fresh ``inproc://`` endpoint; yield the endpoint.

    The harness of chapter 10's second exercise. On leaving, the server is told to stop
    (``{"stop": true}``, sent without waiting) and its thread is joined.
    """
    endpoint = f"inproc://flaky-{time.monotonic_ns()}"
    server = threading.Thread(target=flaky_echo, args=(context, endpoint), name="flaky-echo")
    server.start()
    try:
        yield endpoint
    finally:
        with context.socket(zmq.DEALER) as stopper:
            stopper.linger = 1000  # the stop must get out before the socket closes
            stopper.connect(endpoint)
            stopper.send_json({"stop": True}, zmq.NOBLOCK)
        server.join(10)


Sender = Callable[[zmq.Socket, list[bytes], float], Any]


def into_slow_consumer(context: zmq.Context, send: Sender, n: int = 40, timeout: float = 0.5,
                       *, pause: float = 0.05) -> tuple[Any, float, list[bytes]]:
    """Run ``send(push, messages, timeout)`` against a consumer that reads one message per pause.

    The harness of chapter 10's third exercise. A thread binds a PULL (``rcvhwm`` 2) on a
    fresh ``inproc://`` endpoint and reads one message, then sleeps ``pause`` seconds, until
    told to stop; a PUSH (``sndhwm`` 2) connects to it, and ``send`` gets it with the messages
    ``b"0"``, ``b"1"``... When ``send`` returns (or raises), the consumer stops.

    Returns:
        What ``send`` returned, the seconds it took, and the messages the consumer read.
    """
    endpoint = f"inproc://slow-consumer-{time.monotonic_ns()}"
    bound, done, got = threading.Event(), threading.Event(), []

    def consume() -> None:
        with context.socket(zmq.PULL) as pull:
            pull.linger, pull.rcvhwm = 0, 2
            pull.bind(endpoint)
            bound.set()
            while not done.is_set():
                if pull.poll(20):
                    got.append(pull.recv())
                    time.sleep(pause)

    consumer = threading.Thread(target=consume, name="slow-consumer")
    consumer.start()
    try:
        with context.socket(zmq.PUSH) as push:
            push.linger, push.sndhwm = 0, 2
            bound.wait(10)
            push.connect(endpoint)
            started = time.monotonic()
            result = send(push, [b"%d" % i for i in range(n)], timeout)
            took = time.monotonic() - started
    finally:
        done.set()
        consumer.join(10)
    return result, took, got


class Child:
    """A child process running one of the functions above, with a JSON control pipe.

    It starts ``target(control, *args)`` through ``lifecycle.get_context(method)`` and waits
    for the child's first message (its hello: an endpoint, a PID), kept as ``hello``. ``ask``
    sends a command and waits for the answer; leaving the ``with`` block (or ``stop()``) sends
    ``{"op": "stop"}``, then joins the child, terminating it if it does not end in time.

    Args:
        target: a function of this module (a fresh interpreter must be able to import it).
        *args: its arguments after the control pipe.
        method: the start method (default: ``lifecycle.default_start_method()``).
        timeout: seconds to wait for the hello and for each answer.

    Raises:
        TimeoutError: if the child said nothing within ``timeout`` (it is stopped first).
        ChildProcessError: if it ended before saying hello (a target that raised, say).
    """

    def __init__(self, target: Callable[..., None], *args: Any, method: str | None = None,
                 timeout: float = 30.0) -> None:
        ctx = lifecycle.get_context(method)
        self.timeout = timeout
        self._control, child_end = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child_end, *args), daemon=True,
                                   name=getattr(target, "__name__", "child"))
        self.process.start()
        child_end.close()  # the child holds its own copy; ours would hide the child's exit
        try:
            self.hello: dict[str, Any] = self._hear("said nothing")
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint the child bound (for children that bind one)."""
        return self.hello["endpoint"]

    def ask(self, **command: Any) -> dict[str, Any]:
        """Send ``command`` as JSON and return the child's answer.

        Raises:
            TimeoutError: if no answer came within ``timeout`` seconds.
            ChildProcessError: if the child ended instead of answering.
        """
        _send(self._control, command)
        return self._hear(f"did not answer {command}")

    def _hear(self, silence: str) -> dict[str, Any]:
        """The child's next message, or an error that says how it failed to send one."""
        try:
            message = _receive(self._control, self.timeout)
        except (EOFError, OSError):  # the child closed its end: it has ended
            self.process.join(self.timeout)
            raise ChildProcessError(f"{self.process.name} ended (exit code "
                                    f"{self.process.exitcode}) before it answered") from None
        if message is None:
            raise TimeoutError(f"{self.process.name} {silence} within {self.timeout} s")
        return message

    def stop(self, grace: float = 2.0) -> int | None:
        """Ask the child to stop, join it (terminating it if need be); return its exit code."""
        if self.process.is_alive():
            try:
                _send(self._control, {"op": "stop"})
            except (BrokenPipeError, OSError):
                pass  # it has gone already
        lifecycle.stop_processes([self.process], grace=grace)
        self._control.close()
        return self.process.exitcode

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "alive" if self.process.is_alive() else f"exit code {self.process.exitcode}"
        return f"<Child {self.process.name} pid={self.process.pid} {state} hello={self.hello}>"


