"""Benchmark ``costs.*``: the cost table's key ratios, each against the cheaper model it beats.

Every result compares two figures of one run, so a noisy machine moves both sides together: a
thread's resident memory against the stack it reserves (the article's "8 MB"), each hand-over
against a generator's ``send()`` (the article's "~100 ns"), a process's hand-over against a
thread's through the same one-byte OS pipe, each usual channel against the least hand-over of
its model, a process's USS and start time against a thread's, how much of a spawn or
forkserver child's start is importing ``conclab``, and the GIL row's speed-ups against 1.
Goals are set only where they hold on any machine (resident far below reserved; one more
thread reserving no more than its stack and a guard page).
"""

from __future__ import annotations

from conclab import costs, lifecycle, machine
from conclab.bench import Result

__all__ = ["run"]


def run(quick: bool) -> list[Result]:
    """Measure the cost table (quick or full) and the GIL row, and report their ratios."""
    table = costs.measure(quick=quick, start_methods=[machine.default_start_method()])
    gil = costs.gil_speedups(0.1 if quick else 0.3, repeats=3 if quick else 5)
    gen, task, thread = table["generator"], table["asyncio task"], table["thread"]
    proc = next(r for r in table if r.model == "process")
    reserved = costs.reserved_stack_bytes()
    results = [
        Result("costs.thread.memory", thread.memory_bytes, "B", "address space one more thread "
               "reserves", None if not thread.virtual_bytes else
               thread.memory_bytes / thread.virtual_bytes, goal="<= 0.1"),
        Result("costs.thread.reserved", thread.virtual_bytes, "B", "the stack size (ulimit -s)",
               None if not (reserved and thread.virtual_bytes) else
               thread.virtual_bytes / reserved, goal="" if reserved is None else "<= 1.1"),
        Result("costs.coroutine.memory", table["coroutine"].memory_bytes, "B",
               "asyncio task", table["coroutine"].memory_bytes / task.memory_bytes),
        Result("costs.generator.switch", gen.switch_seconds, "s", "the article's 100 ns",
               gen.switch_seconds / 100e-9),
    ]
    for row in (table["coroutine"], task, thread, proc):
        key = row.model.replace(" ", "_")
        results.append(Result(f"costs.{key}.switch", row.switch_seconds, "s",
                              "generator.send hand-over", row.switch_seconds / gen.switch_seconds))
    results.append(Result("costs.process.switch_vs_thread", proc.switch_seconds, "s",
                          "thread hand-over through the same one-byte OS pipe",
                          proc.switch_seconds / thread.switch_seconds))
    for row in (task, thread, proc):
        if row.channel_seconds is not None:
            key = row.model.replace(" ", "_")
            results.append(Result(f"costs.{key}.channel", row.channel_seconds, "s",
                                  f"least hand-over ({row.switch_method}); measured: "
                                  f"{row.channel_method}", row.channel_seconds / row.switch_seconds))
    results += [
        Result("costs.process.memory", proc.memory_bytes, "B", "thread resident memory",
               proc.memory_bytes / thread.memory_bytes),
        Result("costs.process.create", proc.create_seconds, "s", "thread start",
               proc.create_seconds / thread.create_seconds),
    ]
    importing = [m for m in ("spawn", "forkserver") if m in lifecycle.start_methods()]
    for part in costs.start_parts(importing, repeats=2 if quick else 5):
        results.append(Result(f"costs.process.import.{part.start_method}", part.import_seconds,
                              "s", "start of a child with a conclab target (ratio: its share)",
                              part.import_share))
    results += [
        Result("costs.gil.threads", gil.thread_speedup, "x", "1 thread", gil.thread_speedup),
        Result("costs.gil.thread_cores", gil.thread_cores, "cores", "1 core (the GIL's cap)",
               gil.thread_cores),
        Result("costs.gil.processes", gil.process_speedup, "x", "1 process", gil.process_speedup),
    ]
    return results
