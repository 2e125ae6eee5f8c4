"""Tests for conclab.lifecycle: start methods, stopping children, and a fresh event loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import time

import pytest

from conclab import lifecycle


# --- start methods -----------------------------------------------------------------------------

def test_default_start_method_is_the_platforms_unless_overridden(monkeypatch) -> None:
    monkeypatch.delenv(lifecycle.START_METHOD_ENV, raising=False)
    expected = (multiprocessing.get_start_method(allow_none=True)
                or multiprocessing.get_all_start_methods()[0])
    assert lifecycle.default_start_method() == expected
    assert multiprocessing.get_start_method(allow_none=True) in (None, expected)  # not fixed
    for method in lifecycle.start_methods():
        monkeypatch.setenv(lifecycle.START_METHOD_ENV, method)
        assert lifecycle.default_start_method() == method
        assert lifecycle.get_context().get_start_method() == method


def test_a_start_method_that_does_not_exist_is_refused_with_the_choices(monkeypatch) -> None:
    monkeypatch.setenv(lifecycle.START_METHOD_ENV, "teleport")
    with pytest.raises(ValueError, match="CONCLAB_START_METHOD='teleport'.*unset it"):
        lifecycle.default_start_method()
    monkeypatch.delenv(lifecycle.START_METHOD_ENV)
    with pytest.raises(ValueError, match="'teleport' is not available here; use one of"):
        lifecycle.get_context("teleport")


# --- stopping children -------------------------------------------------------------------------

def test_stop_processes_kills_a_child_that_ignores_sigterm(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    ready = ctx.Event()
    child = ctx.Process(target=lifecycle_child_ignoring_sigterm, args=(ready,))
    never_started = ctx.Process(target=time.sleep, args=(0,))
    child.start()
    try:
        assert ready.wait(60)
        lifecycle.stop_processes([child, never_started], grace=0.2)
        assert child.exitcode == -9  # SIGTERM was ignored, so it took SIGKILL
        assert never_started.exitcode is None
    finally:
        if child.is_alive():  # only if stop_processes is broken: do not leave it behind
            child.kill()
            child.join(10)


def lifecycle_child_ignoring_sigterm(ready) -> None:  # module level: spawn must import it
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(600)


# --- run_in_fresh_loop -------------------------------------------------------------------------

async def _blocks_then_answers(seconds: float) -> int:
    time.sleep(seconds)
    await asyncio.sleep(0)
    return 42


def test_fresh_loop_returns_the_result_and_runs_in_another_thread() -> None:
    async def where() -> tuple[str, bool]:
        return threading.current_thread().name, asyncio.get_running_loop().get_debug()

    assert lifecycle.run_in_fresh_loop(where).result == ("conclab-fresh-loop", False)
    assert lifecycle.run_in_fresh_loop(where, debug=True).result == ("conclab-fresh-loop", True)


def test_fresh_loop_works_from_inside_a_running_loop() -> None:
    async def main() -> int:
        return lifecycle.run_in_fresh_loop(_blocks_then_answers, 0.0).result

    assert asyncio.run(main()) == 42


def test_debug_mode_reports_the_slow_step() -> None:
    logger = logging.getLogger("asyncio")
    before = (logger.propagate, list(logger.handlers))
    run = lifecycle.run_in_fresh_loop(_blocks_then_answers, 0.05, debug=True,
                                      slow_callback_duration=0.01)
    assert run.result == 42
    assert len(run.warnings) == 1 and run.warnings[0].startswith("Executing <Task")
    assert "_blocks_then_answers" in run.warnings[0]
    assert len(run.slow_steps) == 1 and run.slow_steps[0] >= 0.05
    assert (logger.propagate, list(logger.handlers)) == before


def test_without_debug_mode_nothing_is_reported() -> None:
    run = lifecycle.run_in_fresh_loop(_blocks_then_answers, 0.05, slow_callback_duration=0.01)
    assert run.result == 42 and run.warnings == [] and run.slow_steps == []


def test_fresh_loop_reraises_and_shuts_down_to_thread_workers() -> None:
    async def uses_to_thread() -> None:
        await asyncio.to_thread(time.sleep, 0)
        raise LookupError("after to_thread")

    with pytest.raises(LookupError, match="after to_thread"):
        lifecycle.run_in_fresh_loop(uses_to_thread)
    # the autouse fixture then checks that the default executor's thread is gone


def test_fresh_loop_times_out() -> None:
    async def sleepy(stop: threading.Event) -> None:
        stop.wait(5)

    stop = threading.Event()
    try:
        with pytest.raises(TimeoutError):
            lifecycle.run_in_fresh_loop(sleepy, stop, timeout=0.05)
    finally:
        stop.set()
        for t in threading.enumerate():
            if t.name == "conclab-fresh-loop":
                t.join(5)


def test_fresh_loop_keeps_only_its_own_threads_warnings() -> None:
    def other() -> None:
        logging.getLogger("asyncio").warning("from another thread")

    async def main() -> str:
        elsewhere = threading.Thread(target=other)
        elsewhere.start()
        elsewhere.join(5)
        logging.getLogger("asyncio").warning("from the fresh loop's thread")
        return "ok"

    run = lifecycle.run_in_fresh_loop(main)
    assert run.result == "ok"
    assert run.warnings == ["from the fresh loop's thread"]


# --- a background loop -------------------------------------------------------------------------

def test_background_loop_runs_while_held_and_stops_with_its_last_holder() -> None:
    background = lifecycle.BackgroundLoop("test-loop")
    assert (background.loop, background.holders) == (None, 0)
    loop = background.acquire()
    assert background.acquire() is loop and background.holders == 2
    thread_names = asyncio.run_coroutine_threadsafe(_thread_name(), loop).result(10)
    assert thread_names == "test-loop" and loop.is_running()
    background.release()
    assert loop.is_running()  # one holder left
    background.release()
    assert loop.is_closed() and background.loop is None and "stopped" in repr(background)
    again = background.acquire()  # a later holder gets a fresh loop
    assert again is not loop and again.is_running()
    background.release()
    assert again.is_closed()


async def _thread_name() -> str:
    return threading.current_thread().name


def test_background_loop_cancels_what_is_left_and_can_be_released_from_its_own_task() -> None:
    background = lifecycle.BackgroundLoop()
    loop = background.acquire()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    async def release_from_inside() -> None:
        background.release()  # only schedules the stop: the loop cannot wait for itself

    asyncio.run_coroutine_threadsafe(forever(), loop)
    asyncio.run_coroutine_threadsafe(release_from_inside(), loop).result(10)
    assert cancelled.wait(10)  # the stop cancelled the task still waiting
    with pytest.raises(RuntimeError, match="release\\(\\) without acquire\\(\\).*once"):
        background.release()


def test_close_queue_closes_a_queue_this_process_only_read(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    q = ctx.Queue()
    child = ctx.Process(target=q.put, args=("hello",))
    child.start()
    try:
        assert q.get(timeout=60) == "hello"
    finally:
        lifecycle.stop_processes([child])
    lifecycle.close_queue(q)
    assert q._reader.closed and q._writer.closed  # the autouse check then finds no pipe open


def test_close_queue_also_closes_one_this_process_put_to() -> None:
    q = lifecycle.get_context().Queue()
    q.put(1)
    assert q.get(timeout=10) == 1
    lifecycle.close_queue(q)
    assert q._reader.closed and q._writer.closed
