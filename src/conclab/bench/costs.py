"""Benchmark ``costs.*``: the cost table's key ratios, each against the cheaper model it beats.

Every result compares two rows of one ``costs.measure()`` run, so a noisy machine moves both
sides together: a thread's resident memory against the stack it reserves (the article's
"8 MB"), each hand-over against a generator's ``send()`` (the article's "~100 ns"), a
process's USS and start time against a thread's, and the GIL row's speed-ups against 1.
"""

from __future__ import annotations

from conclab import costs, machine
from conclab.bench import Result

__all__ = ["run"]


def run(quick: bool) -> list[Result]:
    """Measure the cost table (quick or full) and the GIL row, and report their ratios."""
    table = costs.measure(quick=quick, start_methods=[machine.default_start_method()])
    gil = costs.gil_speedups(0.1 if quick else 0.3, repeats=3 if quick else 5)
    gen, task, thread = table["generator"], table["asyncio task"], table["thread"]
    proc = next(r for r in table if r.model == "process")
    reserved = thread.virtual_bytes or costs.reserved_stack_bytes()
    results = [
        Result("costs.thread.memory", thread.memory_bytes, "B", "reserved address space per thread",
               None if not reserved else thread.memory_bytes / reserved),
        Result("costs.coroutine.memory", table["coroutine"].memory_bytes, "B",
               "asyncio task", table["coroutine"].memory_bytes / task.memory_bytes),
        Result("costs.generator.switch", gen.switch_seconds, "s", "the article's 100 ns",
               gen.switch_seconds / 100e-9),
    ]
    for row in (table["coroutine"], task, thread, proc):
        key = row.model.replace(" ", "_")
        results.append(Result(f"costs.{key}.switch", row.switch_seconds, "s", "generator.send hand-over",
                              row.switch_seconds / gen.switch_seconds))
    results += [
        Result("costs.process.memory", proc.memory_bytes, "B", "thread resident memory",
               proc.memory_bytes / thread.memory_bytes),
        Result("costs.process.create", proc.create_seconds, "s", "thread start",
               proc.create_seconds / thread.create_seconds),
        Result("costs.gil.threads", gil.thread_speedup, "x", "1 thread", gil.thread_speedup),
        Result("costs.gil.thread_cores", gil.thread_cores, "cores", "1 core (the GIL's cap)",
               gil.thread_cores),
        Result("costs.gil.processes", gil.process_speedup, "x", "1 process", gil.process_speedup),
    ]
    return results
