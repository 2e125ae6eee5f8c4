"""The skeleton's modules: machine report, leak checks, setup check, bench runner, course map."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conclab import bench, check, course, machine, testing


def test_report_reads_without_fixing_the_start_method() -> None:
    before = multiprocessing.get_start_method(allow_none=True)
    report = machine.report()
    assert multiprocessing.get_start_method(allow_none=True) == before
    assert report.default_start_method in report.start_methods
    assert 1 <= report.cpus_usable <= report.cpus_logical
    assert report.memory_total_bytes >= report.memory_available_bytes > 0
    assert report.free_threaded_build or report.gil_enabled
    json.dumps(report.as_dict())


def test_report_renders_as_text_and_html() -> None:
    report = machine.report()
    assert "default start method" in str(report)
    assert report._repr_html_().count("<tr>") == len(report.rows())


def test_leftover_thread_is_named_then_cleared() -> None:
    baseline = testing.snapshot()
    release = threading.Event()
    worker = threading.Thread(target=release.wait, args=(10,), name="left-behind")
    worker.start()
    try:
        with pytest.raises(AssertionError, match="left-behind"):
            testing.assert_clean(baseline, timeout=0.05)
    finally:
        release.set()
        worker.join(10)
    testing.assert_clean(baseline)


def test_idle_thread_pool_is_a_leftover() -> None:
    baseline = testing.snapshot()
    pool = ThreadPoolExecutor(1)
    pool.submit(int).result(timeout=10)
    assert any("thread-pool" in line for line in testing.leftovers(baseline))
    pool.shutdown()
    testing.assert_clean(baseline)


def test_leftover_process_is_named(start_method: str) -> None:
    baseline = testing.snapshot()
    context = multiprocessing.get_context(start_method)
    stop = context.Event()
    child = context.Process(target=stop.wait, args=(30,))
    child.start()
    try:
        assert any(f"child process {child.pid}" in line for line in testing.leftovers(baseline))
    finally:
        stop.set()
        child.join(30)
    testing.assert_clean(baseline)


def test_running_loop_in_another_thread_is_a_leftover() -> None:
    baseline = testing.snapshot()
    loop = asyncio.new_event_loop()
    worker = threading.Thread(target=loop.run_forever, daemon=True)
    worker.start()
    try:
        started = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
        started.result(timeout=10)
        assert any("event loop" in line for line in testing.leftovers(baseline))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        worker.join(10)
        loop.close()
    testing.assert_clean(baseline)


def test_setup_check_runs_each_model_where_it_should(start_method: str) -> None:
    here = check.whoami("here")
    thread = check.in_thread()
    process = check.in_process(start_method)
    coroutine = asyncio.run(check.in_coroutine())
    assert thread.pid == here.pid and thread.thread_id != here.thread_id
    assert process.pid != here.pid and process.model == f"process ({start_method})"
    assert (coroutine.pid, coroutine.thread_id) == (here.pid, here.thread_id)


def test_setup_check_reports_every_step_in_order() -> None:
    seen: list[str] = []
    results = asyncio.run(check.run_all(lambda r: seen.append(r.model)))
    assert seen == [r.model for r in results]
    assert len(results) == check.step_count()
    assert seen[0] == "thread" and seen[-1] == "coroutine"


def test_bench_writes_machine_and_results(tmp_path, monkeypatch, capsys) -> None:
    fake = [bench.Result("demo.one", 2.0, "s", "stdlib", 1.5)]
    from conclab.bench import __main__ as cli

    monkeypatch.setattr(cli, "run_all", lambda **_: fake)
    out = tmp_path / "b.json"
    assert cli.main(["--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["results"] == [{"name": "demo.one", "value": 2.0, "unit": "s",
                                "reference": "stdlib", "ratio": 1.5, "goal": "",
                                "skipped": "", "met": None}]
    assert data["machine"]["cpus_usable"] >= 1
    assert "demo.one" in capsys.readouterr().out


def test_course_map_lists_every_part_with_a_chapter() -> None:
    numbers = {c.number for c in course.CHAPTERS}
    assert all(ch in numbers for kinds in course.PARTS.values() for _, ch in kinds)
    import matplotlib

    matplotlib.use("Agg")
    ax = course.draw_map()
    texts = {t.get_text() for t in ax.texts}
    assert {"scheduler", "tasks", "communication", "process", "thread", "coroutine"} <= texts
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_an_exercise_check_fails_on_its_stub_and_passes_on_the_solution() -> None:
    @course.stub
    def double(x):
        ...

    def check_double(f):
        assert f(2) == 4, "double(2) should be 4"

    outcome = course.check(check_double, double)
    assert not outcome and outcome.reason.startswith("double(2) should be 4")
    assert "not yet" in outcome._repr_html_()

    def raises(x):
        raise NotImplementedError("write me")

    assert course.check(check_double, raises).reason == "NotImplementedError: write me"

    def double(x):  # noqa: F811 - the solution takes over the stub's name
        return 2 * x

    assert course.verify(check_double, double) and "right" in course.check(
        check_double, double)._repr_html_()


def test_verify_fails_a_check_that_cannot_fail_and_a_wrong_solution() -> None:
    @course.stub
    def triple(x):
        ...

    with pytest.raises(AssertionError, match="passed the empty stub"):
        course.verify(lambda f: None, triple)
    def check_triple(f):
        assert f(1) == 3, "3 times 1 is 3"

    def triple(x):  # noqa: F811 - a wrong solution
        return x

    with pytest.raises(AssertionError, match="failed its check: 3 times 1 is 3"):
        course.verify(check_triple, triple)
    with pytest.raises(LookupError, match="mark the exercise's stub"):
        course.verify(check_triple, lambda x: 3 * x)  # not named like any stub
