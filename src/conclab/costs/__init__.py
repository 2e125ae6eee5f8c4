"""The cost table, measured: what one process, thread or coroutine costs on this machine.

The source article gives a cost table with gaps ("thread ~8 MB, coroutine < 0.8 KB, ~100 ns per
switch, ~10 processes / ~100 threads / 1000+ coroutines"). ``measure()`` fills every cell of it
live, and ``verdicts()`` says, claim by claim, where the article was right, wrong, or right only
under a condition. Design principles:

1. One method per quantity, the same for every model that allows it. Memory is *resident* memory
   per unit, one instrument per kind (``tracemalloc`` for objects inside the interpreter, the
   RSS delta of one more batch of threads, each child's own USS right after it starts);
   creation runs until the unit is running; a **switch** is one hand-over, half of a ping-pong
   round trip, through the least each model allows and the same channel wherever two models
   can share one (one byte through an OS pipe, for threads and processes); a usual channel
   (``asyncio.Queue``, ``queue.Queue``, a pickled ``Pipe``) is timed beside it;
   ``max_count`` is how many stay alive at once.
2. Every number is a median of repeats (the GIL row: the median of back-to-back per-repeat
   ratios, so that each ratio compares runs made under the same load), and every loop is
   bounded in count, time and memory (``_Budget``). Everything started is stopped in a
   ``finally`` block, even on error.
3. One rule judges every claim (``_verdicts``): a figure is right within a factor of
   ``ORDER`` (10), a count is read as advice, parallelism is judged on cores busy against the
   halfway point, overhead as a ranking. The *why* text carries the numbers, so the chapter's
   prose never has to.
4. Child processes run only module-level functions of ``_children`` (``_child_serve``,
   ``_child_spin``, ``_child_hello``), so every start method (fork, spawn, forkserver) can
   import them by name.

The private modules, one idea each, in the order they build on one another:

- ``_plans``: the quick and full plans, and the ``_Budget`` that bounds every sweep;
- ``_article``: the article's table and claims, with its figures as numbers;
- ``_rows``: ``CostRow``, ``CostTable`` and the formats every table prints with;
- ``_memory``: the instruments that read memory, a thread's reserved stack, and why the first
  threads of a process reserve more (or less) than the next;
- ``_children``: everything a child process runs, the byte ping-pong threads share with it,
  and starting and stopping children;
- ``_objects``, ``_tasks``, ``_threads``, ``_processes``: one probe per model, each returning
  its finished row (memory, creation, switch, channel and ``max_count``); ``_processes`` also
  splits a child's start into the interpreter's part and importing this package;
- ``_measure``: ``measure`` and ``measure_model``, which order the probes;
- ``_gil``: the GIL row, CPU-bound work on threads and on processes;
- ``_verdicts``: the article's claims judged against the rows, and ``scaled`` rows to see the
  rule at work.
"""

from __future__ import annotations

__all__ = [
    "CostRow", "CostTable", "GilRow", "Verdict", "Verdicts", "TextTable", "Progress", "Child",
    "StartPart", "StartParts", "ARTICLE", "CLAIMS", "FIGURES", "ROWS", "ORDER",
    "measure", "measure_model", "gil_speedups", "verdicts", "scaled", "start_parts",
    "reserved_stack_bytes", "explain_first_batch", "idle_child", "format_bytes",
    "format_seconds",
]

from ._article import ARTICLE, CLAIMS, FIGURES
from ._children import Child, idle_child
from ._gil import GilRow, gil_speedups
from ._measure import Progress, measure, measure_model
from ._memory import explain_first_batch, reserved_stack_bytes
from ._plans import ROWS
from ._processes import StartPart, StartParts, start_parts
from ._rows import CostRow, CostTable, TextTable, format_bytes, format_seconds
from ._verdicts import ORDER, Verdict, Verdicts, scaled, verdicts
