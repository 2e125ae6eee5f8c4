"""conclab.engines: ZeroMQ children, Dask tasks and readers, under every start method."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time

import pytest
import zmq

from conclab import actors, engines, pubsub, queues, testing
from conclab.trace import Trace

distributed = pytest.importorskip("distributed")
# Dask keeps one helper thread for the life of the interpreter (its offload executor); start
# it now, as distributed's own tests do, so that the leak check of each test does not see it.
distributed.utils._offload_executor.submit(int).result(timeout=30)


@pytest.fixture
def context():
    """A ZeroMQ context whose sockets drop what is unsent when closed; destroyed afterwards."""
    with engines.fresh_context() as ctx:
        yield ctx


def test_fresh_context_closes_what_was_left_open() -> None:
    with engines.fresh_context() as ctx:
        forgotten = ctx.socket(zmq.PUSH)
        forgotten.connect("tcp://127.0.0.1:9")  # nobody listens: its messages can never leave
        forgotten.send(b"stuck", zmq.NOBLOCK)
    assert forgotten.closed and ctx.closed


def _socket(ctx: zmq.Context, kind: int, timeout_ms: int = 10_000) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.rcvtimeo = sock.sndtimeo = timeout_ms
    return sock


# --- children ----------------------------------------------------------------------------------

def test_square_workers_say_ready_square_and_stop(context, start_method: str) -> None:
    jobs, results = _socket(context, zmq.PUSH), _socket(context, zmq.PULL)
    jobs_at = f"{engines.LOOPBACK}:{jobs.bind_to_random_port(engines.LOOPBACK)}"
    results_at = f"{engines.LOOPBACK}:{results.bind_to_random_port(engines.LOOPBACK)}"
    workers = [engines.Child(engines.square_worker, jobs_at, results_at, method=start_method)
               for _ in range(2)]
    try:
        pids = {w.hello["pid"] for w in workers}
        assert {results.recv_json()["ready"] for _ in workers} == pids
        for n in range(6):
            jobs.send_json({"n": n})
        got = [results.recv_json() for _ in range(6)]
        assert sorted((r["n"], r["square"]) for r in got) == [(n, n * n) for n in range(6)]
        assert {r["pid"] for r in got} <= pids
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], "each worker must end by itself when its parent says stop"


def test_counter_actor_answers_dealer_and_req_clients_and_keeps_its_count(
        context, start_method: str) -> None:
    with engines.Child(engines.counter_actor, method=start_method) as actor:
        assert actor.endpoint.startswith(engines.LOOPBACK + ":")
        dealer, req = _socket(context, zmq.DEALER), _socket(context, zmq.REQ)
        dealer.connect(actor.endpoint)
        req.connect(actor.endpoint)
        dealer.send_json({"op": "add", "by": 3})
        assert dealer.recv_json() == {"count": 3}
        req.send_json({"op": "add"})
        assert req.recv_json() == {"count": 4}
        req.send_json({"op": "get"})
        assert req.recv_json() == {"count": 4}
        dealer.send_json({"op": "launch"})
        assert "unknown op 'launch'" in dealer.recv_json()["error"]
    assert actor.process.exitcode == 0


def test_a_child_that_says_nothing_is_stopped_and_named(start_method: str) -> None:
    from multiprocessing.connection import Connection  # poll(control, 30): silent until told

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="poll said nothing within 0.5 s"):
        engines.Child(Connection.poll, 30, method=start_method, timeout=0.5)
    assert time.monotonic() - started < 10, "the silent child is stopped, not waited for"


def test_a_child_that_dies_before_its_hello_says_so(start_method: str) -> None:
    with pytest.raises(ChildProcessError, match=r"getpid ended \(exit code 1\)"):
        engines.Child(os.getpid, method=start_method)  # getpid(control) raises TypeError


def test_publisher_drops_before_subscription_then_filters_by_prefix(context) -> None:
    with engines.Child(engines.publisher) as pub:
        assert pub.ask(op="publish", messages=[["weather.x", 1]]) == {"published": 1}
        sub = _socket(context, zmq.SUB, 2000)
        sub.connect(pub.endpoint)
        sub.subscribe(b"weather.")
        assert pub.ask(op="subscription", wait=10) == {"subscribed": "weather."}
        pub.ask(op="publish", messages=[["sport", 0], ["weather.y", 2], ["weatherman", 3]])
        assert sub.recv_multipart() == [b"weather.y", b"2"]
        assert sub.poll(200) == 0, "the earlier message and the unmatched ones never arrive"
        sub.close()
        # The closed subscriber's unsubscribe frame is passed over, not taken for a subscription.
        assert pub.ask(op="subscription", wait=0.3) == {"subscribed": None}


def test_flaky_echo_drops_delays_and_echoes(context) -> None:
    endpoint = "inproc://test-flaky"
    server = threading.Thread(target=engines.flaky_echo, args=(context, endpoint))
    server.start()
    client = _socket(context, zmq.DEALER, 3000)
    try:
        client.connect(endpoint)
        client.send_json({"drop": True})
        client.send_json({"late": 0.2, "n": 1})
        client.send_json({"n": 2})
        assert client.recv_json() == {"echo": {"n": 2}}, "a late answer must not hold up others"
        assert client.recv_json() == {"echo": {"late": 0.2, "n": 1}}
        assert client.poll(100) == 0, "a dropped request is never answered"
    finally:
        client.send_json({"stop": True})
        server.join(10)
        client.close()
    assert not server.is_alive()


def test_flaky_server_serves_until_the_block_ends(context) -> None:
    with engines.flaky_server(context) as endpoint:
        client = _socket(context, zmq.REQ, 3000)
        client.connect(endpoint)
        client.send_json({"n": 1})
        assert client.recv_json() == {"echo": {"n": 1}}
        client.close()
    assert not [t for t in threading.enumerate() if t.name == "flaky-echo"]


def test_prefix_delivery_reports_subscriptions_and_what_got_through(context) -> None:
    def subscribe(sub: zmq.Socket) -> str:
        sub.subscribe(b"a.")
        sub.subscribe(b"c")
        return "mine"

    prefixes, arrived, result = engines.prefix_delivery(
        context, subscribe, ["a.x", "b.x", "c", "ab", "cd.e"])
    assert (sorted(prefixes), arrived, result) == (["a.", "c"], ["a.x", "c", "cd.e"], "mine")
    assert engines.prefix_delivery(context, lambda sub: None, ["a"]) == ([], [], None)


def test_prefix_delivery_sees_the_gateways_rule_solved(context) -> None:
    topics = ["sensor", "sensor.k.t", "sensors.k.t", "sensor.k.tt"]
    prefixes, arrived, keep = engines.prefix_delivery(
        context, lambda sub: (sub.subscribe(b"sensor"), lambda t: pubsub.matches("sensor.#", t))[1],
        topics)
    assert prefixes == ["sensor"] and [t for t in arrived if keep(t)] == ["sensor", "sensor.k.t",
                                                                          "sensor.k.tt"]


# --- measuring ---------------------------------------------------------------------------------

def test_round_trips_times_each_call_after_the_warmup() -> None:
    calls = []
    times = engines.round_trips(lambda: calls.append(time.sleep(0.001)), 5, warmup=2)
    assert len(calls) == 7 and len(times) == 5 and all(t >= 0.001 for t in times)
    with pytest.raises(ValueError):
        engines.round_trips(lambda: None, 0)


def test_echo_actor_answers_each_ask_with_the_message(start_method: str) -> None:
    with actors.spawn(engines.EchoActor, backend="process", method=start_method) as ref:
        assert [ref.ask(m).result(timeout=30) for m in ("a", 2, None)] == ["a", 2, None]


def test_queue_echo_returns_each_item_until_shutdown(start_method: str) -> None:
    from conclab import lifecycle

    ctx = lifecycle.get_context(start_method)
    with queues.ProcessQueue(method=start_method) as inbox, \
            queues.ProcessQueue(method=start_method) as outbox:
        child = ctx.Process(target=engines.queue_echo, args=(inbox, outbox))
        child.start()
        try:
            for item in ("a", 2, ("x", None)):
                inbox.put(item)
                assert outbox.get(timeout=30) == item
            inbox.shutdown()
            child.join(30)
        finally:
            lifecycle.stop_processes([child])
    assert child.exitcode == 0


# --- Dask --------------------------------------------------------------------------------------

def test_tasks_and_the_actor_class_work_in_process() -> None:
    assert engines.echo([1]) == [1] and engines.nap(0.0) == 0.0 and engines.nap(0, "v") == "v"
    assert engines.add_up([1, 2, 3]) == 6
    counter = engines.Counter()
    assert (counter.add(2), counter.add(), counter.where()) == (2, 3, os.getpid())


def test_report_task_stream_makes_a_lane_per_worker_thread() -> None:
    now = time.time()
    records = [
        {"worker": "tls://127.0.0.1:2", "thread": 7, "key": "nap-abc-1",
         "startstops": ({"action": "compute", "start": now, "stop": now + 0.1},)},
        {"worker": "tls://127.0.0.1:1", "thread": 9, "key": ("sum-def", 0),
         "startstops": ({"action": "transfer", "start": now + 0.1, "stop": now + 0.2},
                        {"action": "compute", "start": now + 0.2, "stop": now + 0.3})},
        {"worker": "tls://127.0.0.1:1", "thread": 8, "key": "nap-ghi",
         "startstops": ({"action": "compute", "start": now, "stop": now + 0.05},)},
    ]
    trace = Trace()
    lanes = engines.report_task_stream(records, trace)
    assert lanes == ["worker-0", "worker-0/thread-1", "worker-1"]
    spans = {(s.worker, s.state, s.label): s for s in trace.spans}
    assert set(spans) == {("worker-1", "run", "nap"), ("worker-0/thread-1", "transfer", "sum"),
                          ("worker-0/thread-1", "run", "sum"), ("worker-0", "run", "nap")}
    run = spans["worker-1", "run", "nap"]
    assert run.duration == pytest.approx(0.1, abs=1e-6)
    assert abs(run.start - (time.perf_counter() - (time.time() - now))) < 0.05


def test_actor_queue_and_task_stream_on_a_cluster_in_this_process() -> None:
    # Without host and protocol, an in-process cluster's worker serves its metrics on every
    # interface (0.0.0.0 and ::), even with the dashboard on 127.0.0.1.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  host="127.0.0.1", protocol="tcp",
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        testing.assert_loopback_only()
        counter = client.submit(engines.Counter, actor=True).result(timeout=30)
        assert counter.add(4).result(timeout=30) == 4
        q = distributed.Queue("test-engines")
        client.gather(client.map(engines.put_square, ["test-engines"] * 3, range(3)))
        assert sorted(q.get(timeout=30) for _ in range(3)) == [0, 1, 4]
        with distributed.get_task_stream(client) as stream:
            parts = client.map(engines.nap, [0.01] * 4, pure=False)
            assert client.submit(engines.add_up, parts).result(timeout=30) == pytest.approx(0.04)
        trace = Trace()
        lanes = engines.report_task_stream(stream.data, trace)
        assert set(lanes) <= {"worker-0", "worker-0/thread-1"}
        assert sorted(s.label for s in trace.runs()) == ["add_up"] + ["nap"] * 4


# --- the kernel's ZeroMQ -----------------------------------------------------------------------

def _signed(key: bytes, content: dict) -> list[bytes]:
    parts = [json.dumps(p).encode() for p in ({"msg_type": "stream"}, {"msg_id": "p"}, {},
                                               content)]
    signature = hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode() if key else b""
    return [b"stream.stdout", engines.DELIMITER, signature, *parts]


def test_read_kernel_message_checks_the_signature() -> None:
    message = engines.read_kernel_message(_signed(b"k", {"text": "hi"}), b"k")
    assert message["topic"] == "stream.stdout" and message["content"] == {"text": "hi"}
    assert message["parent_header"] == {"msg_id": "p"}
    with pytest.raises(ValueError, match="bad signature"):
        engines.read_kernel_message(_signed(b"other", {"text": "hi"}), b"k")
    tampered = _signed(b"k", {"text": "hi"})
    tampered[-1] = b'{"text": "rm -rf"}'
    with pytest.raises(ValueError, match="bad signature"):
        engines.read_kernel_message(tampered, b"k")
    assert engines.read_kernel_message(_signed(b"", {"n": 1}), b"")["content"] == {"n": 1}
    with pytest.raises(ValueError, match="delimiter"):
        engines.read_kernel_message([b"a", b"b"], b"k")


def test_outside_a_kernel_there_is_no_connection() -> None:
    assert engines.in_kernel() is False and engines.kernel_connection() is None
    assert engines.release_thread_pipes() == 0


def test_release_thread_pipes_closes_only_those_of_finished_threads(monkeypatch) -> None:
    from types import SimpleNamespace

    from ipykernel.kernelapp import IPKernelApp

    class Pipe:
        closed = False

        def close(self) -> None:
            self.closed = True

    finished = threading.Thread(target=int)
    finished.start()
    finished.join(10)
    pipes = {finished: Pipe(), threading.current_thread(): Pipe()}
    iopub = SimpleNamespace(_event_pipes=dict(pipes), _event_pipe_gc_lock=threading.Lock())
    monkeypatch.setattr(engines._kernel, "in_kernel", lambda: True)
    monkeypatch.setattr(IPKernelApp, "instance", classmethod(lambda cls: SimpleNamespace(
        iopub_thread=iopub)))
    assert engines.release_thread_pipes() == 1
    assert pipes[finished].closed and not pipes[threading.current_thread()].closed
    assert list(iopub._event_pipes) == [threading.current_thread()]
    monkeypatch.setattr(IPKernelApp, "instance", classmethod(lambda cls: SimpleNamespace()))
    assert engines.release_thread_pipes() == 0, "a kernel without such pipes is left alone"


def test_caught_log_collects_other_threads_lines_and_then_lets_go() -> None:
    import logging

    logger = logging.getLogger("conclab.test.engines.child")
    above = logging.getLogger("conclab.test")  # as distributed's handler is above distributed.comm
    outside: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            outside.append(record.getMessage())

    keep = Keep()
    above.addHandler(keep)
    try:
        with engines.caught_log("conclab.test.engines") as lines:
            later = threading.Timer(0.1, logger.warning,
                                    args=("handshake failed: %s", "no certificate"))
            later.start()
            assert lines.wait_for("certificate", timeout=10) == (
                "WARNING: handshake failed: no certificate")
            later.join(10)
            assert lines.wait_for("never said", timeout=0.05) is None
        assert outside == [], "inside the block, records go to the list, not to the handlers above"
        logger.warning("after")
        assert outside == ["after"] and lines == ["WARNING: handshake failed: no certificate"]
    finally:
        above.removeHandler(keep)
