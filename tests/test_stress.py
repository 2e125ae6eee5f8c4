"""scripts/stress.py: its plan covers the knobs, and a failure that depends on a knob is shown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stress() -> ModuleType:
    """scripts/stress.py, imported by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("stress", ROOT / "scripts" / "stress.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_plan_spans_both_intervals_and_every_method(stress: ModuleType) -> None:
    methods = ["fork", "spawn", "forkserver"]
    runs = stress.plan(2, 2, methods)
    for kind in ("package", "chapters"):
        intervals = [r.interval for r in runs if r.kind == kind]
        assert intervals == pytest.approx(list(stress.INTERVALS))
    assert {r.method for r in runs} == set(methods)
    many = [r.interval for r in stress.plan(20, 0, methods)]
    assert many == sorted(many) and len(set(many)) == 20


def test_outcomes_read_a_junit_report(stress: ModuleType, tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite><testcase classname="t" name="ok"/>'
        '<testcase classname="t" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="t" name="teardown"/><testcase classname="t" name="teardown">'
        '<error message="y"/></testcase>'
        '<testcase classname="t" name="skip"><skipped/></testcase></testsuite></testsuites>')
    assert stress.outcomes(report) == {"t::ok": "passed", "t::bad": "failed",
                                       "t::teardown": "failed", "t::skip": "skipped"}
    assert stress.outcomes(tmp_path / "missing.xml") == {}


def test_a_knob_dependent_failure_is_tabulated(stress: ModuleType, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    test_file = tmp_path / "test_knob.py"
    test_file.write_text("import os\n\ndef test_not_spawn():\n"
                         "    assert os.environ['CONCLAB_START_METHOD'] != 'spawn'\n\n"
                         "def test_fine():\n    pass\n")
    planned = stress.plan(2, 0, stress.multiprocessing.get_all_start_methods())
    spawned = sum(run.method == "spawn" for run in planned)
    if not spawned:
        pytest.skip("the first two runs do not use spawn here")
    status = stress.main(["--runs", "2", "--chapter-runs", "0", "--tests", str(test_file),
                          "--out", str(tmp_path / "out"), "--run-timeout", "120"])
    printed = capsys.readouterr().out
    assert status == 1
    # The test's id starts with its path relative to the checkout (tmp_path may be far away).
    row = next(line for line in printed.splitlines() if "test_knob::test_not_spawn" in line)
    assert f"{spawned}/2" in row and "spawn" in row
    assert "test_fine" not in printed.split("failed/runs")[1]
