"""conclab.pubsub: topics and wildcards, fan-out to every kind of subscriber, and isolation.

Every test synchronises on queues and events; none sleeps to wait. A "slow" subscriber is a
callable blocked on an event the test holds, so its inbox fills exactly when the test says.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from conclab import actors, feeds, lifecycle, pubsub
from conclab.hooks import as_worker
from conclab.pubsub import Gateway, Message
from conclab.queues import BridgeQueue
from conclab.trace import Trace

WAIT = 5.0


@pytest.mark.parametrize(("pattern", "topic", "expected"), [
    ("sensor.kitchen", "sensor.kitchen", True),
    ("sensor.kitchen", "sensor.hall", False),
    ("sensor.*", "sensor.kitchen", True),
    ("sensor.*", "sensor.kitchen.temp", False),
    ("sensor.*", "sensor", False),
    ("sensor.#", "sensor", True),
    ("sensor.#", "sensor.kitchen.temp", True),
    ("sensor.#", "sensors.kitchen", False),
    ("*.temp", "kitchen.temp", True),
    ("#", "anything.at.all", True),
    ("sensor.*.temp", "sensor.kitchen.temp", True),
    ("sensor.*.temp", "sensor.kitchen.hum", False),
])
def test_patterns_match_level_by_level(pattern, topic, expected):
    assert pubsub.matches(pattern, topic) is expected


@pytest.mark.parametrize("bad", ["", "a..b", "a.#.b", "a b", 7])
def test_bad_patterns_say_what_a_pattern_may_hold(bad):
    with Gateway() as gateway, pytest.raises(ValueError, match="use dotted names"):
        gateway.subscribe(bad, queue.Queue())


def test_publish_reaches_every_kind_of_subscriber_in_order():
    got: list[str] = []
    done = threading.Event()
    plain, bridge = queue.Queue(), BridgeQueue()

    def call(message: Message) -> None:
        got.append(f"{message.topic}={message.payload}")
        if len(got) == 2:
            done.set()

    with Gateway() as gateway:
        gateway.subscribe("sensor.*", plain)
        gateway.subscribe("sensor.#", bridge.async_q)  # fed through its sync twin
        gateway.subscribe("sensor.kitchen", call)
        assert gateway.publish("sensor.kitchen", 21) == 3
        assert gateway.publish("sensor.hall", 19) == 2
        assert gateway.publish("sensor.hall.door", "open") == 1
        assert gateway.publish("other", 0) == 0
        assert gateway.broadcast("bye") == 3
        assert done.wait(WAIT)
    assert [plain.get_nowait().payload for _ in range(3)] == [21, 19, "bye"]
    assert [bridge.sync_q.get_nowait().payload for _ in range(4)] == [21, 19, "open", "bye"]
    assert got == ["sensor.kitchen=21", "*=bye"]


class Slow:
    """A callable subscriber that blocks on an event until the test lets it go."""

    def __init__(self) -> None:
        self.release, self.started, self.seen = threading.Event(), threading.Event(), []

    def __call__(self, message: Message) -> None:
        self.started.set()
        assert self.release.wait(WAIT)
        self.seen.append(message.payload)


@pytest.mark.parametrize("policy", ["drop", "block"])
def test_a_slow_subscriber_drops_and_never_holds_the_publisher_past_its_timeout(policy):
    slow, fast = Slow(), queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("t", slow, policy=policy, timeout=0.05, maxsize=1, name="slow")
        gateway.subscribe("t", fast, name="fast")
        gateway.publish("t", 0)
        assert slow.started.wait(WAIT)  # the worker holds message 0; the inbox is empty
        gateway.publish("t", 1)  # fills the inbox
        assert gateway.publish("t", 2) == 1  # full: dropped at once, or after 0.05 s
        stats = {s.name: s for s in gateway.statistics().subscribers}
        assert (stats["slow"].delivered, stats["slow"].dropped) == (2, 1)
        assert stats["fast"].delivered == 3 and stats["slow"].policy == policy
        slow.release.set()
    assert slow.seen == [0, 1] and [fast.get_nowait().payload for _ in range(3)] == [0, 1, 2]


def test_a_raising_subscriber_is_counted_and_isolated():
    def broken(message: Message) -> None:
        raise RuntimeError("boom")

    good = queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("t", broken, name="broken")
        gateway.subscribe("t", good, name="good")
        assert gateway.publish("t", 1) == 2 and gateway.publish("t", 2) == 2
    stats = gateway.statistics()  # closing waited for the worker to finish its inbox
    assert stats.failed == 2 and stats.delivered == 4
    assert [good.get_nowait().payload for _ in range(2)] == [1, 2]


class DeadRef:
    """An actor ref whose actor has stopped: tell raises, is_alive says so."""

    def tell(self, message, *, block=True, timeout=None):
        raise RuntimeError("the actor is gone")

    def is_alive(self) -> bool:
        return False


class FullRef:
    """An actor ref whose mailbox is full: tell raises queue.Full (after waiting if asked)."""

    name = "full"

    def __init__(self) -> None:
        self.calls: list[tuple[bool, float | None]] = []

    def tell(self, message, *, block=True, timeout=None):
        self.calls.append((block, timeout))
        raise queue.Full


def test_a_dead_actor_is_unsubscribed_and_counted_and_a_full_one_dropped():
    full = FullRef()
    with Gateway() as gateway:
        gateway.subscribe("t", DeadRef(), name="dead")
        gateway.subscribe("t", full, policy="block", timeout=0.2)
        assert gateway.publish("t", 1) == 0 and gateway.publish("t", 2) == 0
        stats = gateway.statistics()
    assert stats.dead_removed == 1 and stats.dropped == 2
    assert [s.subscribed for s in stats.subscribers] == [True, False]  # full first, dead gone
    # each publish tries at once, then waits for room within the 0.2 s timeout
    assert full.calls[0] == (False, None) and full.calls[1][0] is True
    assert 0 < full.calls[1][1] <= 0.2


def test_a_shut_down_queue_is_unsubscribed():
    bridge = BridgeQueue()
    with Gateway() as gateway:
        gateway.subscribe("t", bridge.sync_q)
        bridge.shutdown()
        assert gateway.publish("t", 1) == 0
        assert gateway.statistics().dead_removed == 1 and gateway.publish("t", 2) == 0


def test_unsubscribe_and_strong_references():
    received: list[int] = []
    box = queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("t", lambda m: box.put(m.payload), name="lambda")  # no other reference
        gateway.subscribe("t", received.append)
        assert gateway.publish("t", 1) == 2
        assert box.get(timeout=WAIT) == 1  # the lambda was kept alive by the gateway
        assert gateway.unsubscribe("t", received.append) is False  # a new bound method
        assert gateway.unsubscribe("nope", box) is False


def test_apublish_never_blocks_the_loop_and_names_the_task():
    trace, slow = Trace(), Slow()

    async def main() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not slow.release.is_set():
                ticks += 1
                await asyncio.sleep(0)

        with Gateway(observer=trace) as gateway:
            gateway.subscribe("t", slow, policy="block", timeout=0.2, maxsize=1)
            tick = asyncio.create_task(ticker())
            await gateway.apublish("t", 0)
            assert await asyncio.to_thread(slow.started.wait, WAIT)
            await gateway.apublish("t", 1)
            before = ticks
            reached = await asyncio.create_task(gateway.apublish("t", 2), name="publisher")
            moved = ticks - before  # the loop kept turning while the publish waited
            slow.release.set()
            await tick
            return reached, moved

    reached, moved = asyncio.run(main())
    assert reached == 0 and moved > 0
    assert ("publish", "publisher", "gateway", "t") in {
        (e.kind, e.sender, e.receiver, e.label) for e in trace.events}


def test_the_fan_out_is_observed_as_arrows():
    trace = Trace()
    a, b = queue.Queue(), queue.Queue()
    with Gateway(observer=trace) as gateway, as_worker("publisher"):
        gateway.subscribe("t", a, name="a")
        gateway.subscribe("t", b, name="b")
        gateway.publish("t", 1)
    assert [(e.kind, e.sender, e.receiver, e.label) for e in trace.events] == [
        ("publish", "publisher", "gateway", "t"),  # every send at the moment of the publish
        ("send", "gateway", "a", "t"), ("send", "gateway", "b", "t"),
        ("receive", "gateway", "a", "t"), ("receive", "gateway", "b", "t")]


def test_misuse_says_what_to_do():
    with Gateway() as gateway:
        with pytest.raises(TypeError, match="actor ref .* queue .* callable"):
            gateway.subscribe("t", 42)
        with pytest.raises(TypeError, match="subscribe a BridgeQueue's sync_q"):
            gateway.subscribe("t", asyncio.Queue())
        with pytest.raises(ValueError, match="policy must be 'block'"):
            gateway.subscribe("t", queue.Queue(), policy="wait")
        with pytest.raises(ValueError, match="timeout must be"):
            gateway.subscribe("t", queue.Queue(), timeout=-1)
        with pytest.raises(ValueError, match="not a pattern"):
            gateway.publish("sensor.*", 1)
    with pytest.raises(RuntimeError, match="closed: make a new one"):
        gateway.publish("t", 1)


# --- routing is remembered, and forgotten when the subscriptions change ----------------------

def test_a_subscription_made_after_a_publish_is_reached_by_the_next_one():
    early, late = queue.Queue(), queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("a.b", early)
        assert gateway.publish("a.b", 1) == 1  # the route of "a.b" is now remembered
        gateway.subscribe("a.*", late)
        assert gateway.publish("a.b", 2) == 2  # ... and was forgotten by the subscribe
        assert gateway.unsubscribe("a.b", early)
        assert gateway.publish("a.b", 3) == 1
    assert [early.get_nowait().payload for _ in range(2)] == [1, 2] and early.empty()
    assert [late.get_nowait().payload for _ in range(2)] == [2, 3]


def test_endless_topics_keep_the_remembered_routes_bounded(monkeypatch):
    monkeypatch.setattr(pubsub, "_ROUTES_MAX", 4)
    box = queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("user.*", box)
        assert all(gateway.publish(f"user.u{i}", i) == 1 for i in range(10))
        assert len(gateway._routes) <= 4
    assert [box.get_nowait().payload for _ in range(10)] == list(range(10))


def test_a_bad_topic_is_refused_every_time():
    with Gateway() as gateway:
        gateway.subscribe("#", queue.Queue())
        for _ in range(2):  # a refused topic is never remembered as a route
            with pytest.raises(ValueError, match="bad topic pattern"):
                gateway.publish("a..b", 1)


# --- delivery semantics: copies, order, an unsubscribe that crosses a publish ----------------

def test_one_copy_per_matching_subscription():
    box = queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("a.*", box)
        gateway.subscribe("a.#", box)
        assert gateway.publish("a.b", 1) == 2
        assert gateway.broadcast(2) == 2
    assert [box.get_nowait().payload for _ in range(4)] == [1, 1, 2, 2]


def test_one_publisher_keeps_its_order_at_every_subscriber():
    boxes = [queue.Queue() for _ in range(3)]
    with Gateway() as gateway:
        for box in boxes:
            gateway.subscribe("t", box)
        for i in range(50):
            gateway.publish("t", i)
    assert all([b.get_nowait().payload for _ in range(50)] == list(range(50)) for b in boxes)


def test_threads_publish_at_once_and_each_keeps_its_order():
    box, start = queue.Queue(), threading.Barrier(4)
    with Gateway() as gateway:
        gateway.subscribe("chat.#", box)

        def chatter(n):
            start.wait(WAIT)
            for i in range(100):
                gateway.publish(f"chat.{n}", i)

        talkers = [threading.Thread(target=chatter, args=(n,)) for n in range(4)]
        for t in talkers:
            t.start()
        for t in talkers:
            t.join(WAIT)
        assert gateway.statistics().delivered == 400
    heard = [box.get_nowait() for _ in range(400)]
    assert all([m.payload for m in heard if m.topic == f"chat.{n}"] == list(range(100))
               for n in range(4))


def test_subscribers_in_one_process_share_the_payload_object():
    a, b, payload = queue.Queue(), queue.Queue(), {"temp": 21}
    with Gateway() as gateway:
        gateway.subscribe("t", a)
        gateway.subscribe("t", b)
        gateway.publish("t", payload)
    assert a.get_nowait().payload is b.get_nowait().payload is payload


def _two_publishers(publish_a, publish_b, stall: feeds.Stalling) -> None:
    """A publishes "a" and is held at the stalling subscriber; B publishes "b" meanwhile."""
    first = threading.Thread(target=publish_a, name="A")
    first.start()
    try:
        assert stall.stalled.wait(WAIT)
        publish_b()
    finally:
        stall.release()
        first.join(WAIT)


def test_two_publishers_may_reach_two_subscribers_in_different_orders():
    x, stall, z = queue.Queue(), feeds.Stalling("a"), queue.Queue()
    with Gateway() as gateway:
        for name, box in (("x", x), ("y", stall), ("z", z)):
            gateway.subscribe("t", box, name=name)
        _two_publishers(lambda: gateway.publish("t", "a"), lambda: gateway.publish("t", "b"),
                        stall)
    got = [[m.payload for m in (b.get_nowait(), b.get_nowait())] for b in (x, stall, z)]
    assert got == [["a", "b"], ["b", "a"], ["b", "a"]]


def test_a_gateway_actor_gives_every_subscriber_the_same_order():
    x, stall, z = queue.Queue(), feeds.Stalling("a"), queue.Queue()
    with Gateway() as gateway:
        for name, box in (("x", x), ("y", stall), ("z", z)):
            gateway.subscribe("t", box, name=name, timeout=WAIT)
        with actors.spawn(pubsub.GatewayActor, args=(gateway,)) as ref:
            _two_publishers(lambda: ref.tell(pubsub.Publish("t", "a")),
                            lambda: ref.tell(pubsub.Publish("t", "b")), stall)
    got = [[m.payload for m in (b.get_nowait(), b.get_nowait())] for b in (x, stall, z)]
    assert got == [["a", "b"]] * 3


def test_an_unsubscribe_that_crosses_a_publish_may_still_get_that_message():
    stall, late = feeds.Stalling("m"), queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("t", stall)
        gateway.subscribe("t", late)
        worker = threading.Thread(target=gateway.publish, args=("t", "m"))
        worker.start()
        assert stall.stalled.wait(WAIT)  # the publish is under way: its targets are fixed
        assert gateway.unsubscribe("t", late)
        stall.release()
        worker.join(WAIT)
        assert gateway.publish("t", "after") == 1
    assert late.get_nowait().payload == "m" and late.empty()  # "after" did not reach it


def test_block_deliveries_share_one_deadline():
    class SlowFull:
        """A full actor ref that waits out every timeout it is given, then says Full."""

        def __init__(self, name):
            self.name, self.waits = name, []

        def tell(self, message, *, block=True, timeout=None):
            if block:
                self.waits.append(timeout)
                time.sleep(timeout)
            raise queue.Full

    first, second = SlowFull("first"), SlowFull("second")
    with Gateway() as gateway:
        gateway.subscribe("t", first, timeout=0.1)
        gateway.subscribe("t", second, timeout=0.1)
        assert gateway.publish("t", 1) == 0
        assert gateway.statistics().dropped == 2
    assert len(first.waits) == 1 and 0 < first.waits[0] <= 0.1
    assert sum(first.waits + second.waits) <= 0.1 + 1e-9  # not 0.1 each: one deadline


# --- a real actor on every backend, and one that dies -----------------------------------------

@pytest.mark.parametrize("backend", ["thread", "asyncio", "process"])
def test_actors_of_every_backend_receive(backend):
    with Gateway() as gateway, actors.spawn(feeds.Recorder, backend=backend) as ref:
        gateway.subscribe("sensor.#", ref)
        assert gateway.publish("sensor.a", 1) == 1 and gateway.publish("other", 2) == 0
        assert gateway.broadcast(3) == 1
        assert ref.ask(feeds.SEEN).result(WAIT) == [("sensor.a", 1), ("*", 3)]


def test_an_actor_that_dies_is_unsubscribed_and_counted_and_the_others_go_on():
    fragile = actors.spawn(feeds.Recorder, kwargs={"fail_on": "bad"}, name="fragile")
    good = queue.Queue()
    with Gateway() as gateway:
        gateway.subscribe("t", fragile)
        gateway.subscribe("t", good, name="good")
        assert gateway.publish("t", "bad") == 2  # handed over; the actor dies handling it
        fragile.join(WAIT)
        assert gateway.publish("t", "after") == 1
        stats = gateway.statistics()
    assert stats.dead_removed == 1 and not fragile.is_alive()
    assert {s.name: s.subscribed for s in stats.subscribers} == {"fragile": False, "good": True}
    assert [good.get_nowait().payload for _ in range(2)] == ["bad", "after"]


# --- publishing through a GatewayActor: from a thread, a coroutine, a process ----------------

def test_a_gateway_actor_publishes_what_it_is_told_and_answers_the_reach():
    trace, box = Trace(), queue.Queue()
    with Gateway(observer=trace) as gateway:
        gateway.subscribe("t.#", box)
        with actors.spawn(pubsub.GatewayActor, args=(gateway,)) as ref:
            with as_worker("teller"):
                message = pubsub.Publish("t.x", 1)
            assert ref.ask(message).result(WAIT) == 1
            with pytest.raises(TypeError, match="takes Publish"):
                ref.ask(("t.x", 2)).result(WAIT)  # an asker hears of it; the actor lives on
            assert ref.is_alive()

            async def from_a_coroutine():
                return await ref.ask_async(pubsub.Publish("t.y", 2))

            assert asyncio.run(from_a_coroutine()) == 1
    assert [box.get_nowait().payload for _ in range(2)] == [1, 2]
    assert ("publish", "teller", "gateway", "t.x") in {
        (e.kind, e.sender, e.receiver, e.label) for e in trace.events}


def test_a_publish_message_refuses_a_wildcard_in_the_sender():
    with pytest.raises(ValueError, match="not a pattern"):
        pubsub.Publish("t.*", 1)


def test_a_process_publishes_through_an_inlet(start_method):
    trace, box = Trace(), queue.Queue()
    ctx = lifecycle.get_context(start_method)
    with Gateway(observer=trace) as gateway:
        gateway.subscribe("sensor.#", box)
        with actors.spawn(pubsub.GatewayActor, args=(gateway,)) as ref:
            inlet = pubsub.Inlet(ref, method=start_method)
            try:
                child = ctx.Process(target=feeds.sensor, args=(inlet, "sensor.cpu", 5),
                                    name="sensor-process")
                child.start()
                child.join(60)
                assert child.exitcode == 0
            finally:
                inlet.close()
            assert inlet.told == 5 and inlet.lost == 0
    assert [box.get_nowait().payload for _ in range(5)] == list(range(5))
    publishers = {e.sender for e in trace.events if e.kind == "publish"}
    assert publishers == {"sensor-process"}


def test_an_inlet_counts_what_a_stopped_actor_can_no_longer_take():
    with Gateway() as gateway:
        ref = actors.spawn(pubsub.GatewayActor, args=(gateway,))
        ref.stop()
        ref.join(WAIT)
        with pubsub.Inlet(ref) as inlet:
            inlet.publish("t", 1)
        assert (inlet.told, inlet.lost) == (0, 1)
        with pytest.raises(TypeError, match="carries Publish"):
            inlet.tell(("t", 1))
