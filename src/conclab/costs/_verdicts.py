"""The verdicts: each of the article's claims judged right, wrong or "depends" on measured rows.

A verdict depends only on the rows it is given (design principle 3): thresholds sit ten times
away from the claim for timings and RSS, which noise moves, and a sweep its own budget stopped
never makes a count claim "right". The *why* of each verdict carries the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._article import _COROUTINE_BYTES, _SWITCH_SECONDS, _THREAD_BYTES, CLAIMS
from ._gil import GilRow
from ._memory import reserved_stack_bytes
from ._rows import CostRow, TextTable, format_bytes, format_seconds

__all__ = ["Verdict", "Verdicts", "verdicts"]


@dataclass(frozen=True)
class Verdict:
    """One of the article's claims, judged against this machine's measurements.

    Attributes:
        claim: the claim, in words (a value of ``CLAIMS``).
        verdict: "right", "wrong" or "depends".
        why: the reason, generated from the measurements (numbers filled in).
    """

    claim: str
    verdict: str
    why: str


class Verdicts(list[Verdict]):
    """A list of ``Verdict`` that displays as a table in notebooks."""

    def text(self) -> TextTable:
        """The verdicts formatted for reading."""
        return TextTable(("claim", "verdict", "why"),
                         tuple((v.claim, v.verdict, v.why) for v in self))

    def __str__(self) -> str:
        return str(self.text())

    def _repr_html_(self) -> str:
        return self.text()._repr_html_()


def _times(a: float, b: float) -> str:
    """How many times ``a`` is ``b``, for reading ("120x")."""
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def _thread_memory(t: CostRow) -> Verdict:
    """Judge "~8 MB per thread": reserved stack against resident memory."""
    stack = reserved_stack_bytes()
    reserved = t.virtual_bytes if t.virtual_bytes is not None else stack
    held = f"{format_bytes(t.memory_bytes)} resident per idle thread ({t.memory_method})"
    if t.memory_bytes >= _THREAD_BYTES / 3:
        return Verdict(CLAIMS["thread memory"], "right", f"{held}: close to the claim.")
    if t.memory_bytes >= _THREAD_BYTES / 10:
        return Verdict(CLAIMS["thread memory"], "depends",
                       f"{held}: well below the claim, but within 10x of it.")
    stack_text = "" if stack is None else (
        f"; the stack size (threading.stack_size(), else ulimit -s) is {format_bytes(stack)}")
    if reserved is not None and reserved >= _THREAD_BYTES / 2:
        return Verdict(CLAIMS["thread memory"], "depends", (
            f"right for reserved address space, wrong for RAM: a thread reserves "
            f"{format_bytes(reserved)} of address space{stack_text}, but only {held}, "
            f"{_times(_THREAD_BYTES, t.memory_bytes)} less than the claim; the kernel backs a "
            f"stack page with RAM only when the thread touches it."))
    return Verdict(CLAIMS["thread memory"], "wrong", (
        f"{held}, {_times(_THREAD_BYTES, t.memory_bytes)} less than the claim, and the "
        f"reserved address space is small too{stack_text}."))


def _bare_then_task(claim: str, bare: str, bare_ok: bool, task: CostRow | None,
                    task_ok: Callable[[CostRow], bool], *, wrong: str, right: str,
                    task_note: Callable[[CostRow], str],
                    depends: Callable[[CostRow], str]) -> Verdict:
    """Judge a coroutine claim on the bare object first, then on the asyncio task around it.

    The bare object outside the claim makes it "wrong" (``bare`` + ``wrong``). Inside it, the
    claim is "right" (``bare`` + ``right`` + the task's note, if a task row was measured)
    unless the asyncio task falls outside it, which makes it "depends" on which one you mean.
    """
    if not bare_ok:
        return Verdict(CLAIMS[claim], "wrong", f"{bare}{wrong}.")
    if task is None or task_ok(task):
        note = "" if task is None else task_note(task)
        return Verdict(CLAIMS[claim], "right", f"{bare}{right}{note}.")
    return Verdict(CLAIMS[claim], "depends", depends(task))


def _coroutine_memory(c: CostRow, task: CostRow | None) -> Verdict:
    """Judge "< 0.8 KB per coroutine": a bare coroutine against an asyncio task."""
    bare = f"a suspended bare coroutine object takes {format_bytes(c.memory_bytes)} (tracemalloc)"
    return _bare_then_task(
        "coroutine memory", bare, c.memory_bytes < _COROUTINE_BYTES,
        task, lambda t: t.memory_bytes < _COROUTINE_BYTES,
        wrong=", more than the claim", right="",
        task_note=lambda t: ("; even as an asyncio task waiting on an event it takes "
                             f"{format_bytes(t.memory_bytes)}"),
        depends=lambda t: (
            f"right for a bare coroutine, wrong for an asyncio task: {bare}, but wrapped in an "
            f"asyncio task that waits on an event it takes {format_bytes(t.memory_bytes)}, "
            f"{_times(t.memory_bytes, c.memory_bytes)} as much (the Task, its future and "
            f"callbacks, the waiter)."))


def _coroutine_switch(units: Sequence[CostRow], task: CostRow | None) -> Verdict:
    """Judge "~100 ns per switch": a generator-level send against an event-loop hand-over."""
    fast = min(units, key=lambda r: r.switch_seconds)
    low, high = _SWITCH_SECONDS / 10, _SWITCH_SECONDS * 10
    bare = (f"a {fast.name} hands over in {format_seconds(fast.switch_seconds)} "
            f"({fast.switch_method})")
    return _bare_then_task(
        "coroutine switch", bare, low <= fast.switch_seconds < high,
        task, lambda t: t.switch_seconds < high,
        wrong=", not within 10x of the claim", right=", within 10x of the claim",
        task_note=lambda t: f"; an asyncio task hands over in {format_seconds(t.switch_seconds)}",
        depends=lambda t: (
            f"right for a generator-level send, wrong through an event loop: {bare}, within 10x "
            f"of the claim, but an asyncio task hands over in {format_seconds(t.switch_seconds)} "
            f"({t.switch_method}), {_times(t.switch_seconds, _SWITCH_SECONDS)} the claim: "
            f"each hand-over goes through the loop's ready queue and a future."))


def _process_cost(procs: Sequence[CostRow], t: CostRow) -> Verdict:
    """Judge "processes are expensive": a child's unique memory against a thread's."""
    cheap = min(procs, key=lambda r: r.memory_bytes)
    parts = [f"{r.name}: {format_bytes(r.memory_bytes)} USS"
             + ("" if r.rss_bytes is None else f", {format_bytes(r.rss_bytes)} RSS")
             for r in procs]
    rss_note = ("RSS also counts pages a forked child still shares with its parent "
                "copy-on-write, so USS (memory only that child holds) is its real cost")
    body = (f"per child, {'; '.join(parts)}; a thread holds {format_bytes(t.memory_bytes)}. "
            f"Starting one takes {format_seconds(cheap.create_seconds)} at best against "
            f"{format_seconds(t.create_seconds)} for a thread. {rss_note}.")
    if cheap.memory_bytes >= 10 * t.memory_bytes:
        return Verdict(CLAIMS["process cost"], "right",
                       f"the cheapest child ({cheap.name}) holds "
                       f"{_times(cheap.memory_bytes, t.memory_bytes)} a thread's memory: {body}")
    return Verdict(CLAIMS["process cost"], "depends",
                   f"the cheapest child ({cheap.name}) holds less than 10x a thread's memory: "
                   f"{body}")


def _stopped_by_budget(row: CostRow) -> bool:
    """True when the sweep ran out of its own count or time budget, not of the machine."""
    return row.max_count_limit in ("cap", "time")


def _counts(procs: Sequence[CostRow], t: CostRow, task: CostRow | None,
            cpus: int) -> list[Verdict]:
    """Judge "~10 processes / ~100 threads / 1000+ coroutines" against what stayed alive.

    A sweep that its own cap or clock stopped gives a lower bound, not a limit: on a loaded
    machine it reaches fewer, so such a sweep can only make a count claim "depends", never
    "right"; "right" needs the machine itself (memory, an OS error) to stop the sweep early.
    """
    out = []
    p = max(procs, key=lambda r: r.max_count)
    alive = (f"{p.max_count:,} idle {p.name} children stayed alive at once "
             f"(stopped by {p.max_count_limit})")
    if p.max_count >= 20 or _stopped_by_budget(p):
        out.append(Verdict(CLAIMS["process count"], "depends", (
            f"as a limit it is wrong: {alive}, and the sweep's own budget, not the machine, "
            f"stopped it. As advice it is right: only {cpus} run Python code at once on this "
            f"machine, so a pool for CPU-bound work needs about one per usable core.")))
    else:
        out.append(Verdict(CLAIMS["process count"], "right", f"only {alive}."))
    alive = (f"{t.max_count:,} idle threads stayed alive at once "
             f"(stopped by {t.max_count_limit}), each holding {format_bytes(t.memory_bytes)}")
    if t.max_count >= 500:
        out.append(Verdict(CLAIMS["thread count"], "wrong", (
            f"{alive}: at least five times the claimed ~100. Memory is not the limit; creation time "
            f"and OS limits (ulimit -u, kernel.threads-max) are.")))
    elif t.max_count < 200 and not _stopped_by_budget(t):
        out.append(Verdict(CLAIMS["thread count"], "right", f"{alive}."))
    else:
        out.append(Verdict(CLAIMS["thread count"], "depends", (
            f"{alive}: more than the claim, and the true limit may be higher still.")))
    if task is not None:
        alive = (f"{task.max_count:,} idle asyncio tasks stayed alive at once (stopped by "
                 f"{task.max_count_limit}), each holding {format_bytes(task.memory_bytes)}")
        verdict = "right" if task.max_count >= 1000 else "wrong"
        out.append(Verdict(CLAIMS["coroutine count"], verdict, f"{alive}."))
    return out


def _parallel(gil: GilRow) -> list[Verdict]:
    """Judge the CPU column: threads under the GIL, processes on several cores.

    Threads are judged on cores busy, which the GIL caps at 1 under any load; processes on
    either figure, since load can only lower both.
    """
    threads = (f"{gil.workers} threads ran CPU-bound pure-Python work {gil.thread_speedup:.2f}x "
               f"as fast as 1, keeping {gil.thread_cores:.2f} cores busy "
               f"(GIL on: {'yes' if gil.gil_enabled else 'no'})")
    if gil.thread_cores < 1.3:
        tv = Verdict(CLAIMS["threads in parallel"], "right", f"{threads}: no parallelism.")
    elif gil.thread_cores >= 1.6:
        tv = Verdict(CLAIMS["threads in parallel"], "wrong", (
            f"{threads}: they ran in parallel, as on a free-threaded build with the GIL off."))
    else:
        tv = Verdict(CLAIMS["threads in parallel"], "depends",
                     f"{threads}: between none and full.")
    procs = (f"{gil.workers} {gil.start_method} processes ran the same work "
             f"{gil.process_speedup:.2f}x as fast as 1, keeping {gil.process_cores:.2f} cores "
             f"busy, with {gil.cpus_usable} usable cores")
    if gil.cpus_usable < 2:
        pv = Verdict(CLAIMS["processes in parallel"], "depends",
                     f"{procs}: with one usable core nothing runs in parallel.")
    elif gil.process_speedup >= 1.25 or gil.process_cores >= 1.4:
        pv = Verdict(CLAIMS["processes in parallel"], "right", f"{procs}.")
    elif gil.load_average is not None and gil.load_average >= gil.cpus_usable:
        pv = Verdict(CLAIMS["processes in parallel"], "depends", (
            f"{procs}: less than expected, because the machine was busy (load average "
            f"{gil.load_average:.1f} on {gil.cpus_usable} cores), so no core was free for the "
            f"second process; rerun on a quieter machine."))
    else:
        pv = Verdict(CLAIMS["processes in parallel"], "depends", (
            f"{procs}: less than expected; something else (another program, a CPU quota the "
            f"machine report cannot see) took the second core."))
    return [tv, pv]


def verdicts(rows: Sequence[CostRow], gil: GilRow | None = None, *,
             cpus: int | None = None) -> Verdicts:
    """Judge each of the article's claims against measured rows (and the GIL row, if given).

    The verdict depends only on the rows: the same rows always give the same verdicts, and
    the thresholds sit far from typical values (see the package docstring), so two runs on one
    machine agree. The exception is honest: whether processes ran in parallel depends on
    whether other programs left a core free, and that verdict's *why* says so. Claims whose
    rows are missing are skipped.

    Args:
        rows: a ``CostTable`` or any sequence of ``CostRow``.
        gil: the GIL row from ``gil_speedups()``, for the two parallelism claims.
        cpus: usable cores, for the process-count advice (default: ``machine.usable_cpus()``,
            or the GIL row's).

    Returns:
        ``Verdicts``: a list of ``Verdict(claim, verdict, why)`` that displays as a table.
    """
    by_model: dict[str, list[CostRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    one = {model: found[0] for model, found in by_model.items()}
    thread, task, procs = one.get("thread"), one.get("asyncio task"), by_model.get("process", [])
    units = [one[m] for m in ("generator", "coroutine") if m in one]
    if cpus is None:
        from conclab import machine

        cpus = gil.cpus_usable if gil is not None else machine.usable_cpus()
    out = Verdicts()
    if thread is not None:
        out.append(_thread_memory(thread))
    if "coroutine" in one:
        out.append(_coroutine_memory(one["coroutine"], task))
    if units:
        out.append(_coroutine_switch(units, task))
    if procs and thread is not None:
        out.append(_process_cost(procs, thread))
        out.extend(_counts(procs, thread, task, cpus))
    if gil is not None:
        out.extend(_parallel(gil))
    return out
