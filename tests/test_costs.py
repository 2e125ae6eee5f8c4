"""Tests of conclab.costs: bands that hold on any machine, and verdicts computed exactly.

Measured values are only compared in bands ten times (or more) wide, or with each other where
the order of magnitude is the lesson (a generator switch is far cheaper than a thread
hand-over); the verdict logic is tested exactly on rows built by hand.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import platform
import subprocess
import sys
import threading

import psutil
import pytest

from conclab import costs, machine
from conclab.costs import CostRow, CostTable, GilRow, _plans, _processes, _threads
from conclab.costs._plans import MiB

KiB = 1024


@pytest.fixture(scope="module")
def quick() -> tuple[CostTable, list[tuple[float, str]]]:
    """One quick measurement of the whole table, shared by the band tests, and its progress."""
    seen: list[tuple[float, str]] = []
    table = costs.measure(quick=True, progress=lambda f, what: seen.append((f, what)))
    return table, seen


# --------------------------------------------------------------------------- measured bands

def test_quick_rows_are_complete_and_finite(quick):
    table, _ = quick
    expected = ["generator", "coroutine", "asyncio task", "thread"] + [
        f"process ({m})" for m in machine.report().start_methods]
    assert [r.name for r in table] == expected
    for row in table:
        for value in (row.memory_bytes, row.create_seconds, row.switch_seconds):
            assert math.isfinite(value) and value > 0, row
        assert row.max_count >= 1, row
        assert row.max_count_limit in ("cap", "time", "memory") or row.max_count_limit.startswith("error")
        # Processes: medians over every child of the one quick sweep; others: over 3 repeats.
        assert row.repeats == (row.max_count if row.model == "process" else 3), row
        # A channel is timed beside the least hand-over wherever send() is not the channel.
        if row.model in ("generator", "coroutine"):
            assert (row.channel_seconds, row.channel_method) == (None, ""), row
        else:
            assert row.channel_seconds is not None and row.channel_seconds > 0, row
            assert row.channel_method, row


def test_one_method_per_kind_and_one_channel_for_threads_and_processes(quick):
    table, _ = quick
    methods = {row.name: (row.memory_method, row.switch_method) for row in table}
    assert methods["generator"] == methods["coroutine"] == ("tracemalloc", "send() / 2")
    assert methods["asyncio task"] == ("tracemalloc", "sleep(0) in turn")
    assert methods["thread"] == ("RSS delta", "OS pipe, 1 byte")
    assert {methods[r.name] for r in table if r.model == "process"} == {
        ("USS at start", "OS pipe, 1 byte")}
    assert "asyncio.Queue" in str(table.handovers()) and "queue.Queue" in str(table.handovers())


def test_progress_reports_every_row_then_done(quick):
    table, seen = quick
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [what for _, what in seen] == [r.name for r in table] + ["done"]


def test_thread_resident_cost_is_far_below_its_reserved_stack(quick):
    thread = quick[0]["thread"]
    assert thread.virtual_bytes is not None and thread.memory_bytes * 10 < thread.virtual_bytes
    reserved = costs.reserved_stack_bytes()
    if reserved is not None:
        assert thread.memory_bytes * 10 < reserved


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's arenas and stack cache")
def test_one_more_thread_reserves_its_stack_and_a_guard_page_no_arena():
    # Measured past the first batch, one more thread reserves its stack and a guard page:
    # neither a new malloc arena (64 MiB) nor a stack reused from glibc's cache (0) moves it.
    reserved = costs.reserved_stack_bytes()
    assert reserved is not None
    for _ in range(2):  # the first call may meet glibc's cache of stacks from earlier tests
        _, vms, _ = _threads._thread_population(50)
        assert reserved <= vms <= reserved + 256 * KiB, costs.format_bytes(vms)


def test_generator_switch_is_far_cheaper_than_a_thread_handover(quick):
    table = quick[0]
    assert table["generator"].switch_seconds * 10 < table["thread"].switch_seconds
    assert table["generator"].switch_seconds * 10 < table["asyncio task"].switch_seconds
    assert table["coroutine"].switch_seconds * 10 < table["asyncio task"].switch_seconds


def test_a_bare_coroutine_round_trip_allocates_nothing():
    from conclab.costs import _objects

    unit = _objects._make_primed("coroutine")
    try:
        awaited = unit.cr_await  # the one awaitable it stays suspended in
        for i in range(100):
            assert unit.send(i) == i
            assert unit.cr_await is awaited, "a new awaitable each round: the row would time it"
    finally:
        unit.close()


def test_byte_pingpong_with_a_thread_echo_stops_and_joins():
    assert 0 < _threads._thread_switch(50) < 1.0
    assert 0 < _threads._thread_channel(50) < 1.0  # the autouse fixture checks the joins


def test_coroutine_object_is_smaller_than_a_thread_and_a_task(quick):
    table = quick[0]
    assert table["coroutine"].memory_bytes * 5 < table["thread"].memory_bytes
    assert table["coroutine"].memory_bytes < table["asyncio task"].memory_bytes
    assert table["generator"].memory_bytes < 1 * KiB  # a primed generator is a few hundred bytes


def test_processes_cost_more_than_threads_and_fork_shares_pages(quick):
    table = quick[0]
    for row in table:
        if row.model == "process":
            assert row.memory_bytes > 10 * table["thread"].memory_bytes, row
            assert row.rss_bytes is not None and row.memory_bytes <= row.rss_bytes, row
    fork = table.get("process (fork)")
    if fork is not None:  # copy-on-write: most of a forked child's RSS is its parent's pages
        assert fork.memory_bytes * 2 < fork.rss_bytes


def test_process_probe_under_each_start_method(start_method):
    tiny = dataclasses.replace(_plans._QUICK, repeats=2, rounds={"process": 50},
                               cap={"process": 3}, sweep_seconds={"process": 60.0}, sweeps=1)
    row = _processes._process_probe(start_method, tiny)
    assert row.name == f"process ({start_method})"
    assert 0 < row.memory_bytes <= row.rss_bytes
    assert row.create_seconds > 0 and row.switch_seconds > 0 and row.channel_seconds > 0
    assert (row.max_count, row.max_count_limit, row.repeats) == (3, "cap", 3)


def test_a_forked_childs_uss_grows_when_it_collects_garbage():
    # Copy-on-write: the collector writes to every object it tracks, most of them on pages
    # the child still shares with this process, so those pages become the child's own.
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork here")
    with costs.idle_child("fork") as child:
        me = psutil.Process(child.process.pid)
        before = me.memory_full_info().uss
        child.collect()
        after = me.memory_full_info()
        child.conn.send("still there")
        assert child.conn.poll(30) and child.conn.recv() == "still there"
    assert after.uss > before + MiB and after.uss <= after.rss


def test_start_parts_split_a_childs_start(start_method):
    parts = costs.start_parts([start_method], repeats=1)
    (part,) = parts
    assert part.start_method == start_method and part.repeats == 1
    assert part.stdlib_seconds > 0 and part.package_seconds > 0
    assert 0 <= part.import_seconds < part.package_seconds and 0 <= part.import_share < 1
    assert parts.get(start_method) is part and parts.get("nonesuch") is None
    assert start_method in str(parts) and "<table" in parts._repr_html_()


def test_start_parts_compare_a_stdlib_target_with_one_from_the_package():
    reader, writer = multiprocessing.Pipe(duplex=False)
    try:
        stdlib, _ = _processes._hello_target(writer, package=False)
        ours, _ = _processes._hello_target(writer, package=True)
        assert stdlib.__module__ == "multiprocessing.connection"  # imports nothing new
        assert ours.__module__.startswith("conclab.costs")         # imports the package
    finally:
        reader.close()
        writer.close()


def test_start_parts_name_the_import():
    part = costs.StartPart("spawn", 0.1, 0.4, 3)
    assert part.import_seconds == pytest.approx(0.3) and part.import_share == pytest.approx(0.75)
    assert costs.StartPart("fork", 0.02, 0.01, 3).import_seconds == 0.0  # noise, not a saving


def test_idle_child_echoes_then_is_stopped(start_method):
    with costs.idle_child(start_method) as child:
        pid = child.process.pid
        assert child.process.is_alive() and child.started_in > 0
        child.conn.send(("ping", 1))
        assert child.conn.poll(30) and child.conn.recv() == ("ping", 1)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_gil_row_under_each_start_method(start_method):
    gil = costs.gil_speedups(0.04, repeats=3, start_method=start_method)
    assert gil.start_method == start_method and gil.workers == 2
    assert math.isfinite(gil.process_speedup) and gil.process_speedup > 0
    assert 0 < gil.process_cores <= gil.cpus_usable + 0.2, gil
    assert 0 < gil.serial_cores <= 1.2, gil  # one thread alone: at most one core
    if gil.gil_enabled:  # under the GIL two threads never keep more than one core busy
        assert gil.thread_cores < 1.3, gil
    assert gil.explain().startswith(f"Here 2 threads ran **{gil.thread_speedup:.2f}x**")


def test_gil_row_is_sized_from_a_run_timed_now(monkeypatch):
    from conclab.costs import _gil

    # A stand-in machine: each unit of work takes 2 µs of wall time, read off a fake clock.
    now = [0.0]
    monkeypatch.setattr(_gil.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(_gil, "burn", lambda units: now.__setitem__(0, now[0] + units * 2e-6))
    assert _gil._units_now(0.05) == 25_000  # 50 ms of work at 2 µs a unit


@pytest.mark.parametrize(("changes", "reason"), [
    ({"thread_speedup": 1.02}, "That is no speed-up"),
    ({"thread_speedup": 0.7, "thread_cores": 0.7, "serial_cores": 1.0}, "neither thread ran"),
    ({"thread_speedup": 0.7, "thread_cores": 1.0, "serial_cores": 1.0}, "1.43x the CPU time"),
    ({"thread_speedup": 1.3, "thread_cores": 0.9, "serial_cores": 0.6}, "took more from them"),
    ({"thread_speedup": 1.3, "thread_cores": 0.9, "serial_cores": 0.95}, "only noise"),
    ({"thread_speedup": 1.9, "thread_cores": 1.95, "gil_enabled": False}, "The GIL is off"),
])
def test_gil_row_explains_the_threads_with_the_reason_its_numbers_choose(changes, reason):
    text = dataclasses.replace(GIL, **changes).explain()
    assert reason in text and text.count("Here 2 threads ran") == 1


# --------------------------------------------------------------------------- bounds

def test_budget_stops_at_cap_then_time_then_memory():
    assert _plans._Budget(3, 60.0, 2**30).stop(3, 0) == "cap"
    assert _plans._Budget(3, 60.0, 2**30).stop(2, 0) is None
    assert _plans._Budget(3, -1.0, 2**30).stop(2, 0) == "time"
    assert _plans._Budget(3, 60.0, 1000).stop(2, 1000) == "memory"


def test_thread_sweep_stops_at_its_cap_and_joins_everything():
    plan = dataclasses.replace(_plans._QUICK, cap={"thread": 7},
                               sweep_seconds={"thread": 60.0})
    assert _threads._thread_sweep(plan) == (7, "cap")  # the autouse fixture checks the joins


def _fail_on_call(n: int, value: object):
    """A stand-in that returns ``value`` and raises on its ``n``-th call."""
    calls = []

    def stand_in(*args: object) -> object:
        calls.append(args)
        if len(calls) == n:
            raise RuntimeError("probe failed")
        return value
    return stand_in


def test_a_failing_process_sweep_still_stops_its_children(monkeypatch):
    monkeypatch.setattr(_processes, "_memory_of", _fail_on_call(3, (MiB, 2 * MiB)))
    plan = dataclasses.replace(_plans._QUICK, cap={"process": 10}, sweep_seconds={"process": 60.0})
    ctx = multiprocessing.get_context(machine.default_start_method())
    with pytest.raises(RuntimeError, match="probe failed"):
        _processes._process_sweep(ctx, plan)
    assert not multiprocessing.active_children()  # and the autouse fixture checks the rest


def test_a_failing_thread_sweep_still_joins_its_threads(monkeypatch):
    monkeypatch.setattr(_threads, "_rss", _fail_on_call(6, 0))
    plan = dataclasses.replace(_plans._QUICK, cap={"thread": 100}, sweep_seconds={"thread": 60.0})
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="probe failed"):
        _threads._thread_sweep(plan)
    assert threading.active_count() == before


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        costs.measure_model("fiber")


# --------------------------------------------------------------------------- verdicts, exactly

def _rows(thread_bytes: float = 12 * KiB, thread_virtual: float = 8 * MiB,
          coroutine_bytes: float = 384, task_bytes: float = 1100,
          generator_switch: float = 35e-9, coroutine_switch: float = 2e-7,
          task_switch: float = 8e-6,
          threads: int = 2000, thread_limit: str = "time", processes: int = 60,
          process_limit: str = "cap", thread_create: float = 3e-4) -> list[CostRow]:
    """A hand-made table shaped like a typical Linux measurement."""
    return [
        CostRow("generator", None, 184, "tracemalloc", 3e-7, generator_switch, "send", 50_000, "cap"),
        CostRow("coroutine", None, coroutine_bytes, "tracemalloc", 1e-6, coroutine_switch, "send", 50_000, "cap"),
        CostRow("asyncio task", None, task_bytes, "tracemalloc", 1e-5, task_switch,
                "sleep(0) in turn", 20_000, "cap", channel_seconds=2e-5,
                channel_method="asyncio.Queue"),
        CostRow("thread", None, thread_bytes, "RSS delta", thread_create, 2e-5, "OS pipe, 1 byte",
                threads, thread_limit, virtual_bytes=thread_virtual, channel_seconds=3e-5,
                channel_method="queue.Queue"),
        CostRow("process", "fork", 2 * MiB, "USS at start", 5e-3, 4e-5, "OS pipe, 1 byte",
                processes, process_limit, rss_bytes=30 * MiB, channel_seconds=6e-5,
                channel_method="Pipe, pickled object"),
        CostRow("process", "spawn", 14 * MiB, "USS at start", 0.15, 5e-5, "OS pipe, 1 byte",
                min(processes, 10), process_limit, rss_bytes=24 * MiB, channel_seconds=9e-5,
                channel_method="Pipe, pickled object"),
    ]


GIL = GilRow(2, 0.1, 0.95, 1.8, "fork", 2, True, 3, thread_cores=1.0, process_cores=1.9,
             serial_cores=1.0)


def _labels(rows: list[CostRow], gil: GilRow | None = GIL) -> dict[str, str]:
    """Claim short name -> verdict."""
    by_text = {text: name for name, text in costs.CLAIMS.items()}
    return {by_text[v.claim]: v.verdict for v in costs.verdicts(rows, gil, cpus=2)}


def test_verdicts_on_a_typical_table():
    assert _labels(_rows()) == {
        "thread memory": "depends", "coroutine memory": "right", "coroutine switch": "depends",
        "overhead": "right", "process count": "right", "thread count": "right",
        "coroutine count": "right", "threads in parallel": "right", "processes in parallel": "right",
    }


def test_verdicts_do_not_depend_on_row_order_and_carry_the_numbers():
    rows = _rows()
    assert costs.verdicts(rows, GIL, cpus=2) == costs.verdicts(rows[::-1], GIL, cpus=2)
    why = {v.claim: v.why for v in costs.verdicts(rows, GIL, cpus=2)}
    assert "12.0 KiB" in why[costs.CLAIMS["thread memory"]]
    assert "8.0 MiB" in why[costs.CLAIMS["thread memory"]]
    assert "683x below the claim" in why[costs.CLAIMS["thread memory"]]
    assert "about the claim (1.00x)" in why[costs.CLAIMS["thread memory"]]
    assert "384 B" in why[costs.CLAIMS["coroutine memory"]]
    assert "35 ns" in why[costs.CLAIMS["coroutine switch"]]
    assert ">= 2,000" in why[costs.CLAIMS["thread count"]]
    assert "0.95x" in why[costs.CLAIMS["threads in parallel"]]
    assert "halfway point" in why[costs.CLAIMS["threads in parallel"]] and " 1.5" in why[
        costs.CLAIMS["threads in parallel"]]


@pytest.mark.parametrize(("kwargs", "claim", "expected"), [
    # Rule 1: a figure within ORDER (10x) either way is right; two readings that differ depend.
    ({"thread_bytes": 6 * MiB}, "thread memory", "right"),
    ({"thread_bytes": 0.9 * MiB}, "thread memory", "right"),  # 8.9x less: still within 10x
    ({"thread_bytes": 0.7 * MiB}, "thread memory", "depends"),  # 11.4x less: outside
    ({"thread_virtual": 64 * KiB}, "thread memory", "wrong"),  # neither reading is near 8 MB
    ({"coroutine_bytes": 9_000}, "coroutine memory", "depends"),  # bare 11x over, task inside
    ({"coroutine_bytes": 9_000, "task_bytes": 9_000}, "coroutine memory", "wrong"),
    ({"task_switch": 500e-9}, "coroutine switch", "right"),
    ({"task_switch": 1.1e-6}, "coroutine switch", "depends"),  # the loop: 11x the claim
    ({"generator_switch": 5e-6, "coroutine_switch": 6e-6}, "coroutine switch", "wrong"),
    ({"generator_switch": 5e-9, "coroutine_switch": 6e-9}, "coroutine switch", "wrong"),
    # Rule 2: counts as advice: enough alive is right, the machine stopping short is wrong,
    # the sweep's own budget stopping short proves nothing.
    ({"threads": 100, "thread_limit": "memory"}, "thread count", "right"),
    ({"threads": 99, "thread_limit": "error: can't start new thread"}, "thread count", "wrong"),
    ({"threads": 99}, "thread count", "depends"),  # stopped by its own clock
    ({"processes": 2, "process_limit": "memory"}, "process count", "right"),  # = usable cores
    ({"processes": 1, "process_limit": "memory"}, "process count", "wrong"),
    ({"processes": 1, "process_limit": "cap"}, "process count", "depends"),
    # Rule 4: overhead is a ranking of creation time and memory.
    ({"thread_create": 2e-2}, "overhead", "depends"),  # a thread slower to start than fork
    ({"thread_create": 2e-2, "thread_bytes": 20 * MiB}, "overhead", "wrong"),
])
def test_verdict_rules(kwargs, claim, expected):
    assert _labels(_rows(**kwargs))[claim] == expected


def test_gil_verdicts_compare_cores_busy_with_the_halfway_point():
    def labels(gil: GilRow) -> tuple[str, str]:
        found = _labels(_rows(), gil)
        return found["threads in parallel"], found["processes in parallel"]

    assert labels(GIL) == ("right", "right")
    free = dataclasses.replace(GIL, thread_speedup=1.9, thread_cores=1.95, gil_enabled=False)
    assert labels(free)[0] == "wrong"
    # A lucky speed-up under the GIL (a slow serial run) does not fool the cores-busy check.
    assert labels(dataclasses.replace(GIL, thread_speedup=1.5))[0] == "right"
    assert labels(dataclasses.replace(GIL, thread_cores=1.49))[0] == "right"
    assert labels(dataclasses.replace(GIL, thread_cores=1.5))[0] == "wrong"
    assert labels(dataclasses.replace(GIL, cpus_usable=1, process_speedup=1.0)) == (
        "depends", "depends")
    assert labels(dataclasses.replace(GIL, process_speedup=1.1, process_cores=1.5))[1] == "right"
    busy = dataclasses.replace(GIL, process_speedup=1.05, process_cores=1.1, load_average=9.0)
    assert labels(busy)[1] == "depends"
    assert "load average 9.0" in costs.verdicts(_rows(), busy, cpus=2)[-1].why
    # Either way, the why says how busy the machine was.
    quiet = dataclasses.replace(GIL, load_average=0.2)
    assert labels(quiet)[1] == "right"
    assert "load average 0.2" in costs.verdicts(_rows(), quiet, cpus=2)[-1].why
    # Four workers on four cores: halfway is 2.5, so 2.4 cores busy is not yet parallel.
    four = dataclasses.replace(GIL, workers=4, cpus_usable=4, process_cores=2.4)
    assert labels(four)[1] == "depends"


@pytest.mark.parametrize(("factor", "expected"), [
    (1 / 11, "wrong"), (1 / 9, "right"), (1.0, "right"), (9, "right"), (11, "wrong")])
def test_one_rule_for_every_figure(factor, expected):
    scaled = costs.scaled(_rows(), factor)
    assert [r.name for r in scaled] == [r.name for r in _rows()]
    judged = {v.claim: v.verdict for v in costs.verdicts(scaled, GIL, cpus=2)}
    assert {claim: judged[costs.CLAIMS[claim]] for claim in costs.FIGURES} == dict.fromkeys(
        costs.FIGURES, expected)
    assert scaled["process (fork)"] == _rows()[4]  # rows without a figure are left alone


def test_verdicts_skip_claims_without_rows():
    only_threads = [r for r in _rows() if r.model == "thread"]
    assert [v.claim for v in costs.verdicts(only_threads, cpus=2)] == [costs.CLAIMS["thread memory"]]


# --------------------------------------------------------------------------- display

def test_table_indexes_by_name_and_displays():
    table = CostTable(tuple(_rows()))
    assert table["process (fork)"].start_method == "fork" and table[0].model == "generator"
    with pytest.raises(KeyError):
        table["process (nonesuch)"]
    assert table.get("nonesuch") is None
    assert "<table" in table._repr_html_() and str(table).startswith("model")
    assert "~8 MB" in str(table.compare())
    handovers = table.handovers()
    assert handovers.header[:2] == ("model", "one hand-over")
    assert [row[0] for row in handovers.rows] == [r.name for r in table]
    assert handovers.rows[0][3:] == ("-", "-")  # a generator's send() is its own channel
    assert "<table" in costs.verdicts(table, GIL, cpus=2)._repr_html_()


def test_formats():
    assert costs.format_bytes(184) == "184 B"
    assert costs.format_bytes(12 * KiB) == "12.0 KiB"
    assert costs.format_bytes(8 * MiB) == "8.0 MiB"
    assert costs.format_seconds(35e-9) == "35 ns"
    assert costs.format_seconds(8.1e-6) == "8.1 µs"
    assert costs.format_seconds(0.0062) == "6.2 ms"
    assert costs.format_bytes(None) == costs.format_seconds(float("nan")) == "-"


def test_bench_suite_reports_ratios_of_one_run(monkeypatch):
    from conclab.bench import costs as bench_costs

    rows = [r for r in _rows() if r.name != "process (spawn)"]
    monkeypatch.setattr(costs, "measure", lambda **_: CostTable(tuple(rows)))
    monkeypatch.setattr(costs, "gil_speedups", lambda *a, **k: GIL)
    monkeypatch.setattr(costs, "start_parts", lambda methods, **_: costs.StartParts(
        costs.StartPart(m, 0.1, 0.4, 2) for m in methods))
    results = {r.name: r for r in bench_costs.run(quick=True)}
    assert results["costs.thread.memory"].ratio == pytest.approx(12 * KiB / (8 * MiB))
    assert results["costs.thread.memory"].met is True
    assert results["costs.thread.switch"].ratio == pytest.approx(2e-5 / 35e-9)
    assert results["costs.process.switch_vs_thread"].ratio == pytest.approx(4e-5 / 2e-5)
    assert results["costs.asyncio_task.channel"].ratio == pytest.approx(2e-5 / 8e-6)
    assert results["costs.process.memory"].ratio == pytest.approx(2 * MiB / (12 * KiB))
    if "spawn" in multiprocessing.get_all_start_methods():
        assert results["costs.process.import.spawn"].ratio == pytest.approx(0.75)
    assert results["costs.gil.threads"].value == 0.95
    assert results["costs.gil.thread_cores"].value == 1.0
    assert all(r.unit in ("B", "s", "x", "cores") for r in results.values())


@pytest.mark.parametrize("method", [m for m in ("spawn", "forkserver")
                                    if m in multiprocessing.get_all_start_methods()])
def test_a_script_without_the_main_guard_gets_a_clear_error(tmp_path, method):
    # Under spawn and forkserver the child imports the main script again; without the guard
    # the child starts measuring too, and dies before it says "ready".
    script = tmp_path / "unguarded.py"
    script.write_text("from conclab import costs\n"
                      f"costs.idle_child({method!r}).__enter__()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "exited before it was ready" in done.stderr
    assert "if __name__ == \"__main__\":" in done.stderr
    assert "process object is closed" not in done.stderr


@pytest.mark.parametrize(("first", "later", "glibc", "reason"), [
    (12 * MiB, 8 * MiB, "malloc arenas", "400.0 MiB more"),
    (7.6 * MiB, 8 * MiB, "cache", "40.0 MiB less"),
    (8.01 * MiB, 8 * MiB, "about the same", "about the same"),
])
def test_first_batch_of_threads_is_explained_by_its_numbers(first, later, glibc, reason):
    text = costs.explain_first_batch(first, later, 100)
    if platform.libc_ver()[0] == "glibc":
        assert glibc in text and reason in text
    else:
        assert text.startswith("The first 100 threads") or "about the same" in text
