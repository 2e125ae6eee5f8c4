"""The fused program: every job answered exactly once, clear failures, loopback only."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import pytest

from conclab import fusion, testing, workloads
from conclab.actors import spawn
from conclab.trace import Trace

TINY = 2_000  # burn units: a heavy step that takes about a millisecond


def run(coro: Any) -> Any:
    """Run a coroutine on a fresh loop, as a test's main."""
    return asyncio.run(coro)


def assert_loopback(server: Any) -> None:
    """Every socket the process (and its children) listens on is on loopback, the server's too."""
    listening = testing.assert_loopback_only()
    assert ("127.0.0.1", server.address[1]) in {(s.address, s.port) for s in listening}


def settled(server: fusion.Server, answered: int) -> fusion.ServerStatistics:
    """The server's counts once ``answered`` replies are counted (a reply reaches its client
    a moment before the server's loop counts it)."""
    deadline = time.monotonic() + 10
    while (stats := server.statistics()).answered + stats.orphaned < answered:
        assert time.monotonic() < deadline, stats
        time.sleep(0.005)
    return stats


def test_a_few_hundred_clients_each_get_every_job_answered_exactly_once() -> None:
    jobs = [("light", "one two three"), ("blocking", 0.001), ("heavy", TINY), ("light", "x")]

    async def main(address: tuple[str, int]) -> list[list[fusion.Reply]]:
        return await asyncio.gather(*(fusion.ask_many(address, jobs, name=f"c{i}")
                                      for i in range(300)))

    with fusion.Server(fusion.FUSED, heavy_workers=2) as server:
        assert_loopback(server)
        answers = run(main(server.address))
        stats = server.statistics()
    assert len(answers) == 300
    for replies in answers:  # ask_many raises on a duplicate, missing or unknown reply
        assert [r.ok for r in replies] == [True] * 4
        assert [r.result for r in replies] == [3, 0.001, fusion.heavy(TINY), 1]
        assert [r.where for r in replies] == ["loop", "thread", "process", "loop"]
    assert stats.received == stats.answered == 1200 and stats.failed == stats.orphaned == 0


def test_a_killed_process_actor_fails_its_job_clearly_and_is_replaced() -> None:
    async def main(server: fusion.Server) -> tuple[dict[str, Any], dict[str, Any]]:
        job = asyncio.create_task(fusion.request(server.address, "heavy", 10**9, timeout=20))
        deadline = time.monotonic() + 10
        while not server.busy_pids():
            assert time.monotonic() < deadline, "the heavy job never reached an actor"
            await asyncio.sleep(0.005)
        (pid,) = server.busy_pids().values()
        os.kill(pid, signal.SIGKILL)
        failed = await asyncio.wait_for(job, 20)
        after = await fusion.request(server.address, "heavy", TINY, timeout=20)
        return failed, after

    with fusion.Server(fusion.FUSED, heavy_workers=1, job_timeout=20) as server:
        old = server.pids()
        failed, after = run(main(server))
        assert server.statistics().replaced == 1 and server.pids() != old
    assert failed["ok"] is False and failed["id"] == 1
    assert failed["error"].startswith("ActorDeadError") and "SIGKILL" in failed["error"]
    assert after == {"id": 1, "ok": True, "result": fusion.heavy(TINY), "where": "process"}


def test_a_client_that_leaves_has_its_outcome_published_as_orphaned() -> None:
    seen: list[Any] = []
    got = threading.Event()

    def log(message: Any) -> None:
        seen.append(message)
        got.set()

    async def leave(address: tuple[str, int]) -> None:
        _, writer = await asyncio.open_connection(*address)
        writer.write(b'{"id": 7, "kind": "blocking", "arg": 0.2}\n')
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    with fusion.Server(fusion.FUSED, heavy_workers=1) as server:
        server.gateway.subscribe("job.#", log)
        run(leave(server.address))
        assert got.wait(10), "the orphaned outcome was never published"
        stats = settled(server, 1)
    assert [m.topic for m in seen] == ["job.blocking.orphaned"]
    assert seen[0].payload["id"] == 7 and seen[0].payload["ok"] is True
    assert stats.orphaned == 1 and stats.answered == 0


def test_a_slow_subscriber_loses_only_its_own_messages_and_counts_them() -> None:
    fast: list[Any] = []

    def slow(message: Any) -> None:
        time.sleep(0.05)

    async def main(address: tuple[str, int]) -> list[fusion.Reply]:
        return await fusion.ask_many(address, [("light", "a")] * 40)

    with fusion.Server(fusion.FUSED, heavy_workers=1) as server:
        server.gateway.subscribe("job.#", slow, policy="drop", maxsize=2, name="slow")
        server.gateway.subscribe("job.#", fast.append, name="fast")
        started = time.monotonic()
        replies = run(main(server.address))
        took = time.monotonic() - started
        deadline = time.monotonic() + 10
        while len(fast) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        subs = {s.name: s for s in server.gateway.statistics().subscribers}
    assert all(r.ok for r in replies) and took < 40 * 0.05, "the slow subscriber held clients up"
    assert len(fast) == 40
    assert subs["slow"].dropped > 0 and subs["slow"].delivered + subs["slow"].dropped == 40


@pytest.mark.parametrize("placement", fusion.PLACEMENTS, ids=lambda p: p.name)
def test_each_placement_runs_each_step_where_it_says(placement: fusion.Placement) -> None:
    jobs = [("light", "a b"), ("blocking", 0.0), ("heavy", TINY)]
    with fusion.Server(placement, heavy_workers=1, threads=2) as server:
        replies = run(fusion.ask_many(server.address, jobs))
    assert [r.where for r in replies] == [placement.light, placement.blocking, placement.heavy]
    assert [r.result for r in replies] == [2, 0.0, fusion.heavy(TINY)]


def test_bad_requests_get_an_error_and_the_connection_goes_on() -> None:
    async def main(address: tuple[str, int]) -> list[bytes]:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"not json\n[1]\n" + b'{"id": 3, "kind": "heavy", "arg": "x"}\n'
                     + b'{"id": 4, "kind": "light", "arg": "ok"}\n')
        await writer.drain()
        lines = [await asyncio.wait_for(reader.readline(), 10) for _ in range(4)]
        writer.close()
        await writer.wait_closed()
        return lines

    with fusion.Server(fusion.FUSED, heavy_workers=1) as server:
        lines = run(main(server.address))
    import json
    replies = sorted((json.loads(x) for x in lines), key=lambda r: str(r["id"]))
    assert [r["ok"] for r in replies] == [False, True, False, False]
    assert all(r["error"].startswith("bad request") for r in replies if not r["ok"])


def test_a_job_past_its_timeout_fails_and_a_stuck_loop_cannot_list_its_tasks() -> None:
    with fusion.Server(fusion.FUSED, heavy_workers=1, job_timeout=0.2) as server:
        reply = run(fusion.request(server.address, "blocking", 1.0))
        assert reply["ok"] is False and reply["error"].startswith("TimeoutError")
    with fusion.Server(fusion.CPU_ON_LOOP) as server:
        tasks = server.task_stacks()
        assert any("Server._serve" in chain[0] for chain in tasks.values())

        async def hold() -> None:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(b'{"id": 1, "kind": "heavy", "arg": %d}\n' % workloads.units_for(1.5))
            await writer.drain()
            await asyncio.sleep(0.3)  # the loop is computing now
            with pytest.raises(TimeoutError, match="did not answer"):
                await asyncio.to_thread(server.task_stacks, 0.3)
            assert "fusion/_steps.py" in fusion.thread_stacks("heavy")
            await asyncio.wait_for(reader.readline(), 30)
            writer.close()
            await writer.wait_closed()

        run(hold())


def test_the_observer_sees_the_queue_the_actors_and_the_gateway() -> None:
    trace = Trace()
    with fusion.Server(fusion.FUSED, heavy_workers=1, threads=1, observer=trace) as server:
        run(fusion.ask_many(server.address, [("blocking", 0.0), ("heavy", TINY)]))
        deadline = time.monotonic() + 5
        while len([e for e in trace.events if e.kind == "publish"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    pairs = {(e.sender, e.receiver) for e in trace.events if e.kind == "receive"}
    assert ("front", "blocking-0") in pairs and ("front", "heavy-0") in pairs
    assert {e.label for e in trace.events if e.kind == "publish"} == {
        "job.blocking.done", "job.heavy.done"}
    assert {"blocking-0", "heavy-0"} <= {s.worker for s in trace.spans}


def test_thread_per_client_starts_a_thread_for_each_connected_client() -> None:
    async def main(address: tuple[str, int]) -> fusion.Held:
        async with fusion.held_clients(address, 50) as held:
            assert threading.active_count() >= 50
        return held

    with fusion.ThreadedServer() as server:
        held = run(main(server.address))
        assert server.threads_started == held.clients == 50 and server.start_seconds > 0


def test_monitor_samples_and_the_stats_actor_counts() -> None:
    async def main(server: fusion.Server) -> fusion.Monitor:
        async with fusion.Monitor(server, every=0.05) as monitor:
            await fusion.hammer(server.address, heavy_clients=1, heavy_jobs=2, heavy_units=TINY,
                                light_clients=2, blocking_clients=1, blocking_seconds=0.01)
        return monitor

    with fusion.Server(fusion.FUSED, heavy_workers=1) as server, \
            spawn(fusion.StatsActor) as stats:
        server.gateway.subscribe("job.#", stats)
        monitor = run(main(server))
        deadline = time.monotonic() + 5
        while (summary := stats.ask("summary").result(5)).get("job.heavy.done", 0) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        while set(monitor.sample().latency_ms) != {"light", "blocking", "heavy"}:
            assert time.monotonic() < deadline, "the dashboard missed a kind of job"
            time.sleep(0.01)
    assert len(monitor.samples) >= 2 and "core 0" in monitor.samples[-1].html()
    assert summary["job.heavy.done"] == 2


def test_py_spy_reports_why_it_cannot_read_a_process() -> None:
    ok, text = fusion.py_spy_dump(2**22 + 12345, timeout=30)
    assert ok is False and text


def test_placements_are_checked() -> None:
    with pytest.raises(ValueError, match="a step runs on one of"):
        fusion.Placement("bad", heavy="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="job_timeout"):
        fusion.Server(job_timeout=0)


def test_a_load_cancelled_mid_run_and_a_server_stopped_mid_job_leave_nothing_behind() -> None:
    async def main() -> None:
        with fusion.Server(fusion.ALL_IN_PROCESSES, heavy_workers=1) as server:
            load = asyncio.create_task(fusion.hammer(
                server.address, heavy_units=workloads.units_for(0.5), heavy_jobs=3))
            deadline = time.monotonic() + 10
            while not server.busy_pids():
                assert time.monotonic() < deadline, "no job reached a process actor"
                await asyncio.sleep(0.005)
            load.cancel()
            with pytest.raises(asyncio.CancelledError):
                await load
        # leaving the block stopped the server with jobs still running in its actors;
        # conftest's check then finds no process, thread, loop or descriptor left

    run(main())
