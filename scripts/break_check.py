"""Show that the tests can fail: break each guarded implementation once, run its test, expect red.

Usage: ``python scripts/break_check.py [NAME ...]`` (from the repository root, with the
course's virtual environment). For each break below, the package is copied to a temporary
folder, one deliberate bug is written into the copy, and the test that guards that behaviour
runs against the copy (``PYTHONPATH`` points at it). A test that still passes against the
broken code cannot fail, and this script exits non-zero. The real source is never touched.

Each break is a realistic mistake, not a syntax error: a recorder that updates its list
without the lock, a lock that is not taken, a wait that does not wait, a verdict rule with the
wrong tolerance, a falsy observer swapped for the null one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Break:
    """One deliberate bug: in which file, which text becomes which, and the test that guards it."""

    name: str
    path: str
    old: str
    new: str
    test: str


_CATALOGUE = "tests/test_bad_input.py::test_bad_input_says_what_was_wrong_and_what_to_do"
"""The bad-input catalogue's one test; a break names the row it must turn red."""

BREAKS = [
    Break("trace-without-lock", "src/conclab/trace.py",
          "        with self._lock:\n            self._spans.append(record)\n",
          # Copy-on-write without the lock, so that readers need no lock: loses updates.
          "        if True:\n            spans = list(self._spans)\n"
          "            spans.append(record)\n            self._spans = spans\n",
          "tests/test_trace.py::test_recording_from_many_threads_loses_nothing"),
    Break("counter-without-lock", "src/conclab/sharing.py",
          "        with self._lock:\n            super().increment()",
          "        super().increment()",
          "tests/test_sharing.py::test_locked_counter_keeps_the_other_thread_out_until_it_has_written"),
    Break("slot-put-does-not-wait", "src/conclab/sharing.py",
          "            if not self._changed.wait_for(lambda: not self._full, timeout):\n"
          "                raise TimeoutError(f\"the slot stayed full for {timeout} s\")",
          "            pass",
          "tests/test_sharing.py::test_slot_put_waits_until_the_slot_is_emptied"),
    Break("verdict-tolerance-3x", "src/conclab/costs/_verdicts.py",
          "    return claimed / ORDER <= measured <= claimed * ORDER",
          "    return claimed / 3 <= measured <= claimed * 3",
          "tests/test_costs.py::test_verdict_rules"),
    Break("storm-per-task-formula", "src/conclab/eventloop.py",
          "return self.create_seconds / self.n * 1e6",
          "return self.total_seconds / self.n * 1e6",
          "tests/test_eventloop.py::test_storm_figures_per_task"),
    Break("falsy-trace-dropped", "src/conclab/workloads.py",
          "Relay(observer if observer is not None else NULL_OBSERVER, ctx)",
          "Relay(observer or NULL_OBSERVER, ctx)",
          "tests/test_workloads.py::test_run_processes_fill_a_trace"),
    Break("stop-without-kill", "src/conclab/lifecycle.py",
          "            p.kill()\n",
          "            pass\n",
          "tests/test_lifecycle.py::test_stop_processes_kills_a_child_that_ignores_sigterm"),
    Break("exit-code-read-after-close", "src/conclab/costs/_children.py",
          "        code = process.exitcode  # read it now: stopping the child closes the process "
          "object\n        _stop_children([started])\n",
          "        _stop_children([started])\n        code = process.exitcode\n",
          "tests/test_costs.py::test_a_script_without_the_main_guard_gets_a_clear_error"),
    # nothing left behind, nothing listening beyond loopback (conclab.testing)
    Break("fd-check-blind", "src/conclab/testing.py",
          "    found += _fd_leftovers(base)\n", "    found += []\n",
          "tests/test_leftovers.py::test_a_leaked_pipe_is_named_by_its_descriptors_then_cleared"),
    Break("shm-check-blind", "src/conclab/testing.py",
          "    found += _shm_leftovers(base, ours)\n", "    found += []\n",
          "tests/test_leftovers.py::test_shared_memory_is_named_until_it_is_unlinked"),
    Break("process-pipes-are-leftovers", "src/conclab/testing.py",
          "    kept = _kept_fds() | _process_fds() | _kernel_fds(base)\n",
          "    kept = _kept_fds() | _kernel_fds(base)\n",
          "tests/test_leftovers.py::test_multiprocessing_objects_that_keep_pipes_are_not_leftovers"),
    # what an interrupt leaves must still close (tests/test_queues_process.py, test_pipelines.py)
    Break("close-trips-on-half-a-message", "src/conclab/queues/_process.py",
          "            except Exception:  # noqa: BLE001 - a get interrupted mid-message",
          "            except ZeroDivisionError:  # a get interrupted mid-message",
          "tests/test_queues_process.py::"
          "test_close_ends_even_when_an_interrupted_get_left_the_pipe_unreadable"),
    Break("interrupted-child-keeps-its-pipes", "src/conclab/pipelines/_timings.py",
          "            q._reader.close()\n            q._writer.close()\n", "",
          "tests/test_pipelines.py::test_a_child_interrupted_while_starting_closes_its_queues"),
    Break("another-programs-shm-is-ours", "src/conclab/testing.py",
          "        if pids and not pids & ours:\n", "        if False:\n",
          "tests/test_leftovers.py::test_a_segment_only_another_process_holds_is_not_ours"),
    Break("every-address-is-loopback", "src/conclab/testing.py",
          "        return ip.is_loopback or (mapped is not None and mapped.is_loopback)",
          "        return True",
          "tests/test_leftovers.py::test_a_server_on_every_interface_fails_the_loopback_check"),
    Break("listeners-of-this-process-only", "src/conclab/testing.py",
          "    for proc in [me, *me.children(recursive=True)]:", "    for proc in [me]:",
          "tests/test_leftovers.py::test_a_child_listening_on_every_interface_is_named"),
    # bad input says what was wrong and what to do, in bounded time (tests/test_bad_input.py)
    Break("slot-takes-a-nan-timeout", "src/conclab/sharing.py",
          "        check_seconds(timeout)\n        with self._changed:\n"
          "            if not self._changed.wait_for(lambda: self._full, timeout):",
          "        with self._changed:\n"
          "            if not self._changed.wait_for(lambda: self._full, timeout):",
          f"{_CATALOGUE}[sharing.Slot.get-nan-timeout]"),
    Break("scheduler-run-takes-a-nan-timeout", "src/conclab/scheduler.py",
          "    if timeout is not None and not (", "    if False and not (",
          f"{_CATALOGUE}[scheduler.Scheduler.run-nan-timeout]"),
    Break("stop-processes-takes-anything", "src/conclab/lifecycle.py",
          "        if not isinstance(p, BaseProcess):", "        if False:",
          f"{_CATALOGUE}[lifecycle.stop_processes-a-thread]"),
    Break("costs-checks-names-late", "src/conclab/costs/_measure.py",
          "    for model in models:\n        _check_model(model)\n", "",
          f"{_CATALOGUE}[costs.measure-unknown-model-last]"),
    Break("main-worker-without-a-hint", "src/conclab/boundary.py",
          "            value += _MAIN_HINT", "            pass",
          "tests/test_bad_input.py::test_a_worker_defined_in_main_says_to_move_it_into_a_module"),
]


def run_broken(brk: Break, scratch: Path) -> tuple[bool, str]:
    """Apply one break to a copy of the package and run its test; (test failed?, last line)."""
    copy = scratch / brk.name
    shutil.copytree(ROOT / "src", copy / "src")
    target = copy / brk.path
    text = target.read_text(encoding="utf-8")
    if text.count(brk.old) != 1:
        raise SystemExit(f"{brk.name}: the text to break is not in {brk.path} exactly once; "
                         "update this script to match the code")
    target.write_text(text.replace(brk.old, brk.new), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    log = copy / "pytest.log"
    # Its own session, and output to a file rather than a pipe: a broken implementation may
    # leave a child behind that would hold a pipe open; the whole group is killed at the end.
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
             "-o", "addopts=", "--timeout=120", brk.test],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return code != 0, lines[-1] if lines else "(no output)"


def main(argv: list[str] | None = None) -> int:
    """Run every break (or those named) and print what each test did against it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these breaks (default: all)")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKS if not args.names or b.name in args.names]
    stayed_green = 0
    with tempfile.TemporaryDirectory(prefix="conclab-break-") as tmp:
        for brk in chosen:
            failed, last = run_broken(brk, Path(tmp))
            stayed_green += not failed
            verdict = "fails, as it must" if failed else "STILL PASSES: this test cannot fail"
            print(f"{brk.name:28} {verdict:38} {brk.test.split('::')[-1]}\n{'':28} {last}")
    print(f"\n{len(chosen) - stayed_green} of {len(chosen)} broken implementations were caught")
    return 1 if stayed_green else 0


if __name__ == "__main__":
    raise SystemExit(main())
