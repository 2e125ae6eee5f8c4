"""conclab.feeds: the recorder actor, the stalling queue (the sensor process: tests/test_pubsub.py)."""

from __future__ import annotations

import queue
import threading

import pytest

from conclab import actors, feeds
from conclab.pubsub import Gateway, Message

WAIT = 5.0


def test_a_recorder_keeps_messages_in_order_and_answers_seen():
    with actors.spawn(feeds.Recorder) as ref:
        for i in range(3):
            ref.tell(Message("t", i))
        assert ref.ask(feeds.SEEN).result(WAIT) == [("t", 0), ("t", 1), ("t", 2)]
        with pytest.raises(TypeError, match="takes gateway Messages"):
            ref.ask(("t", 3)).result(WAIT)


def test_a_fragile_recorder_dies_on_its_payload_when_told():
    ref = actors.spawn(feeds.Recorder, kwargs={"fail_on": "bad"})
    ref.tell(Message("t", "ok"))
    ref.tell(Message("t", "bad"))
    ref.join(WAIT)
    assert not ref.is_alive()
    with pytest.raises(actors.ActorDeadError):
        ref.tell(Message("t", "late"))


def test_a_stalling_queue_holds_one_put_until_released():
    stall = feeds.Stalling("slow")
    stall.put(Message("t", "quick"))
    putter = threading.Thread(target=stall.put, args=(Message("t", "slow"),))
    putter.start()
    assert stall.stalled.wait(WAIT)
    stall.put(Message("t", "overtakes"))
    stall.release()
    putter.join(WAIT)
    stall.put(Message("t", "slow"))  # stalls once only
    assert stall.items() == ["quick", "overtakes", "slow", "slow"]
    with pytest.raises(queue.Empty):
        stall.get_nowait()


def test_a_news_feed_publishes_while_its_history_is_read():
    early, late = queue.Queue(), queue.Queue()
    with Gateway() as gateway:
        feed = feeds.NewsFeed(gateway, during_read=2)
        gateway.subscribe("news", early)
        feed.publish_next()
        feed.publish_next(hold=True)  # in the history, not yet published
        assert feed.read() == [(0, "news 0"), (1, "news 1")]
        gateway.subscribe("news", late)  # too late for what went out during the read
        feed.publish_next()
    assert [m.payload[0] for m in (early.get_nowait() for _ in range(5))] == [0, 1, 2, 3, 4]
    assert [late.get_nowait().payload[0]] == [4] and late.empty()
    assert [seq for seq, _ in feed.items] == [0, 1, 2, 3, 4]
