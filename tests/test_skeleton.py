"""The skeleton's modules: machine report, leak checks, setup check, bench runner, course map."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


BOOK_COLUMN_PX = 700  # the narrow end of the book's text column
SMALLEST_TEXT_PX = 11


def test_course_map_text_is_readable_at_the_book_column_width(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    ax = course.draw_map()
    fig = ax.figure
    try:
        # Saved as the inline backend saves it (100 dpi, cropped), shown at most column-wide.
        fig.savefig(tmp_path / "map.png", dpi=100, bbox_inches="tight")
        width = Image.open(tmp_path / "map.png").size[0]
        scale = min(1.0, BOOK_COLUMN_PX / width)
        for text in ax.texts:
            px = text.get_fontsize() * 100 / 72 * scale
            assert px >= SMALLEST_TEXT_PX, f"{text.get_text()!r} is {px:.1f} px tall in the book"
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]
        page = fig.bbox
        for name, box in boxes:
            assert page.x0 <= box.x0 and box.x1 <= page.x1, f"{name!r} runs off the figure"
        for i, (a, box_a) in enumerate(boxes):
            for b, box_b in boxes[i + 1:]:
                assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    finally:
        plt.close(fig)


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


NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def exercise_format_errors(cells: list[dict]) -> list[str]:
    """Where the exercises of a chapter leave the course's five-cell format (course.py docstring)."""
    errors = []
    src = ["".join(c["source"]) for c in cells]
    tags = [c.get("metadata", {}).get("tags", []) for c in cells]
    for i, text in enumerate(src):
        m = re.match(r"### Exercise (\d+): \S", text)
        if cells[i]["cell_type"] != "markdown" or not m:
            continue
        n = m.group(1)
        if len(cells) < i + 5:
            errors.append(f"exercise {n}: fewer than five cells")
            continue
        stub, chk, prose, sol = src[i + 1:i + 5]
        name = re.search(r"@course\.stub\s+(?:async )?def (\w+)\(", stub)
        if "exercise-stub" not in tags[i + 1] or not name or not stub.rstrip().endswith("..."):
            errors.append(f"exercise {n}: the stub must be `@course.stub` on a function whose body is ...")
            continue
        fn = name.group(1)
        last = chk.strip().splitlines()[-1]
        if "exercise-check" not in tags[i + 2] or f"def check_{fn}(" not in chk \
                or last != f"course.check(check_{fn}, {fn})":
            errors.append(f"exercise {n}: the check must define check_{fn} and end with course.check")
        if not (prose.startswith(f"<details><summary>Solution {n}</summary>\n\n")
                and prose.endswith("\n\n</details>")):
            errors.append(f"exercise {n}: the solution's prose goes in <details> with blank lines")
        meta = cells[i + 4].get("metadata", {})
        if tags[i + 4] != ["exercise-solution", "hide-cell"] \
                or meta.get("jupyter") != {"source_hidden": True, "outputs_hidden": True} \
                or not re.search(rf"(?:async )?def {fn}\(", sol) \
                or sol.strip().splitlines()[-1] != f"course.verify(check_{fn}, {fn})":
            errors.append(f"exercise {n}: the solution cell must be hidden, define {fn} and end "
                          "with course.verify")
    return errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_course_format(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    tagged = {t for c in cells for t in c.get("metadata", {}).get("tags", [])}
    assert {"exercise-stub", "exercise-check", "exercise-solution"} <= tagged, (
        "every chapter has exercises in the course format (conclab.course's docstring)")
    assert exercise_format_errors(cells) == []


def test_the_exercise_format_check_sees_a_broken_exercise() -> None:
    def cell(kind, text, tags=(), **meta):
        return {"cell_type": kind, "source": [text], "metadata": {"tags": list(tags), **meta}}

    good = [cell("markdown", "### Exercise 1: t\n\nQ?"),
            cell("code", "@course.stub\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    ...", ["exercise-stub"]),
            cell("code", "def check_f(f):\n    assert f(1)\n\ncourse.check(check_f, f)", ["exercise-check"]),
            cell("markdown", "<details><summary>Solution 1</summary>\n\nA.\n\n</details>"),
            cell("code", "def f(x):\n    return 1\n\ncourse.verify(check_f, f)",
                 ["exercise-solution", "hide-cell"],
                 jupyter={"source_hidden": True, "outputs_hidden": True})]
    assert exercise_format_errors(good) == []
    shown = [*good[:4], cell("code", "def f(x):\n    return 1\n\ncourse.verify(check_f, f)",
                             ["exercise-solution", "hide-cell"])]
    assert exercise_format_errors(shown) == ["exercise 1: the solution cell must be hidden, "
                                             "define f and end with course.verify"]
    open_prose = [*good[:3], cell("markdown", "**Solution 1.** A."), good[4]]
    assert len(exercise_format_errors(open_prose)) == 1
