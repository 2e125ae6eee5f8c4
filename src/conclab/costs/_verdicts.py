"""The verdicts: each of the article's claims judged right, wrong or "depends" on measured rows.

One rule, the same for every claim, which chapter 04 quotes:

1. **Figures** ("~8 MB", "< 0.8 KB", "~100 ns") are orders of magnitude. A figure is *right*
   when the measurement is within a factor of ``ORDER`` of it, either way, and *wrong* when it
   is further off. Where the claim can be read two ways (address space reserved or memory
   used; a bare coroutine or an asyncio task; a generator ``send`` or an event-loop hand-over)
   and the readings get different answers, the verdict is *depends*, and the why says on what.
2. **Counts** ("~10 processes", "~100 threads", "1000+ coroutines") are read as the article
   means them: how many a program can use without trouble, not a hard limit. A count is
   *right* when at least that many stayed alive at once here (for processes, the article's
   advice is a pool no larger than the cores: at least one per usable core), *wrong* when the
   machine itself (memory, an OS error) stopped the sweep below it, and *depends* when the
   sweep's own budget stopped it first (a lower bound proves nothing either way).
3. **Parallelism** is judged on cores busy (CPU seconds over wall seconds), which load can
   only lower: the measurement is compared with the halfway point between no parallelism (1)
   and the ideal here, ``min(workers, usable cores)``. Nearer the ideal is parallel. With one
   usable core the two cannot be told apart, so the verdict is *depends*.
4. **Overhead** ("large, medium, small") is a ranking: *right* when creating a process takes
   longer than a thread, and a thread longer than an asyncio task, and the memory of one
   ranks the same way.

A verdict depends only on the rows it is given, and its *why* carries the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ._article import _COROUTINE_BYTES, _SWITCH_SECONDS, _THREAD_BYTES, CLAIMS
from ._gil import GilRow
from ._memory import reserved_stack_bytes
from ._rows import CostRow, CostTable, TextTable, format_bytes, format_seconds

__all__ = ["ORDER", "Verdict", "Verdicts", "verdicts", "scaled"]

ORDER = 10.0
"""A figure is right when the measurement is within this factor of it (rule 1)."""

_PROCESS_ADVICE = 10      # "~10 processes": a pool the size of a typical core count
_THREAD_ADVICE = 100      # "~100 threads are no problem"
_COROUTINE_ADVICE = 1000  # "1000+ coroutines"


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


def _within(measured: float, claimed: float) -> bool:
    """Rule 1: is ``measured`` within a factor of ``ORDER`` of ``claimed``?"""
    return claimed / ORDER <= measured <= claimed * ORDER


def _times(a: float, b: float) -> str:
    """How many times ``a`` is ``b``, for reading ("120x", "1.4x")."""
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def _off_by(measured: float, claimed: float) -> str:
    """``"1.4x the claim"``, ``"680x below the claim"`` or ``"about the claim (0.96x)"``."""
    if 1 / 1.1 <= measured / claimed <= 1.1:
        return f"about the claim ({measured / claimed:.2f}x)"
    if measured > claimed:
        return f"{_times(measured, claimed)} the claim"
    return f"{_times(claimed, measured)} below the claim"


def _two_readings(claim: str, first: tuple[str, bool], second: tuple[str, bool]) -> Verdict:
    """Rule 1 for a claim read two ways: each reading is (what was measured, within ORDER?)."""
    (what1, ok1), (what2, ok2) = first, second
    if ok1 == ok2:
        verdict = "right" if ok1 else "wrong"
        return Verdict(CLAIMS[claim], verdict, f"{what1}; {what2}.")
    right, wrong = (what1, what2) if ok1 else (what2, what1)
    return Verdict(CLAIMS[claim], "depends", f"right for one reading: {right}; wrong for the "
                                             f"other: {wrong}.")


def _thread_memory(t: CostRow) -> Verdict:
    """"~8 MB per thread": address space reserved, or memory actually used?"""
    reserved = t.virtual_bytes if t.virtual_bytes is not None else reserved_stack_bytes()
    used = (f"an idle thread uses {format_bytes(t.memory_bytes)} of memory ({t.memory_method}), "
            f"{_off_by(t.memory_bytes, _THREAD_BYTES)}")
    if reserved is None:  # nothing to tell the two readings apart with
        one = (used, _within(t.memory_bytes, _THREAD_BYTES))
        return _two_readings("thread memory", one, one)
    address = (f"it reserves {format_bytes(reserved)} of address space (mostly its stack), "
               f"{_off_by(reserved, _THREAD_BYTES)}; the kernel backs a stack page with memory "
               "only when the thread touches it")
    return _two_readings("thread memory", (address, _within(reserved, _THREAD_BYTES)),
                         (used, _within(t.memory_bytes, _THREAD_BYTES)))


def _coroutine_memory(c: CostRow, task: CostRow | None) -> Verdict:
    """"< 0.8 KB per coroutine": the bare coroutine object, or the asyncio task around it?"""
    bare = (f"a suspended bare coroutine takes {format_bytes(c.memory_bytes)} ({c.memory_method}),"
            f" {_off_by(c.memory_bytes, _COROUTINE_BYTES)}")
    first = (bare, _within(c.memory_bytes, _COROUTINE_BYTES))
    if task is None:
        return _two_readings("coroutine memory", first, first)
    wrapped = (f"an asyncio task waiting on an event takes {format_bytes(task.memory_bytes)}, "
               f"{_off_by(task.memory_bytes, _COROUTINE_BYTES)} (the Task, its future, the "
               "waiter)")
    return _two_readings("coroutine memory", first,
                         (wrapped, _within(task.memory_bytes, _COROUTINE_BYTES)))


def _coroutine_switch(units: Sequence[CostRow], task: CostRow | None) -> Verdict:
    """"~100 ns per switch": a generator-level send, or a hand-over through the event loop?"""
    fast = min(units, key=lambda r: r.switch_seconds)
    bare = (f"a {fast.name} hands over in {format_seconds(fast.switch_seconds)} "
            f"({fast.switch_method}), {_off_by(fast.switch_seconds, _SWITCH_SECONDS)}")
    first = (bare, _within(fast.switch_seconds, _SWITCH_SECONDS))
    if task is None:
        return _two_readings("coroutine switch", first, first)
    loop = (f"an asyncio task hands over in {format_seconds(task.switch_seconds)} "
            f"({task.switch_method}), {_off_by(task.switch_seconds, _SWITCH_SECONDS)}: "
            "each hand-over goes through the loop's ready queue")
    return _two_readings("coroutine switch", first,
                         (loop, _within(task.switch_seconds, _SWITCH_SECONDS)))


def _overhead(procs: Sequence[CostRow], t: CostRow, task: CostRow | None) -> Verdict:
    """"Overhead: process large, thread medium, coroutine small": rule 4, a ranking."""
    cheap = min(procs, key=lambda r: r.create_seconds)
    small = [task] if task is not None else []
    ranks = [cheap, t, *small]
    created = all(a.create_seconds > b.create_seconds for a, b in zip(ranks, ranks[1:]))
    held = all(a.memory_bytes > b.memory_bytes for a, b in zip(ranks, ranks[1:]))
    text = "; ".join(f"{r.name}: created in {format_seconds(r.create_seconds)}, "
                     f"{format_bytes(r.memory_bytes)} ({r.memory_method})" for r in ranks)
    if created and held:
        return Verdict(CLAIMS["overhead"], "right",
                       f"both rank as the article says: {text}. The cheapest process to start "
                       f"({cheap.name}) takes {_times(cheap.create_seconds, t.create_seconds)} a "
                       "thread's time.")
    if not (created or held):
        return Verdict(CLAIMS["overhead"], "wrong", f"neither ranks as the article says: {text}.")
    ranked, other = ("creation time", "memory") if created else ("memory", "creation time")
    return Verdict(CLAIMS["overhead"], "depends",
                   f"{ranked} ranks as the article says, {other} does not: {text}.")


def _count(claim: str, row: CostRow, needed: int, what: str, advice: str) -> Verdict:
    """Rule 2 for one count: at least ``needed`` alive, stopped by the machine, or unknown."""
    alive = (f"{row.count_text} idle {what} stayed alive at once (the sweep was stopped by "
             f"{row.max_count_limit}), each holding {format_bytes(row.memory_bytes)}")
    if row.max_count >= needed:
        return Verdict(CLAIMS[claim], "right", f"{alive}: {advice} As a hard limit it would "
                                               "be wrong: the machine allowed that many.")
    if row.stopped_by_budget:
        return Verdict(CLAIMS[claim], "depends", f"{alive}, fewer than {needed:,}, but the "
                                                 "sweep's own budget stopped it, not the "
                                                 "machine: run the full table to know.")
    return Verdict(CLAIMS[claim], "wrong", f"{alive}: the machine could not hold {needed:,}.")


def _counts(procs: Sequence[CostRow], t: CostRow, task: CostRow | None,
            cpus: int) -> list[Verdict]:
    """Rule 2 for the three counts."""
    p = max(procs, key=lambda r: r.max_count)
    out = [_count("process count", p, cpus, f"{p.name} children",
                  f"a pool of one process per usable core ({cpus} here; the article's ~"
                  f"{_PROCESS_ADVICE} is a typical core count) is what runs Python code at once."),
           _count("thread count", t, _THREAD_ADVICE, "threads",
                  f"a hundred threads cost about {format_bytes(_THREAD_ADVICE * t.memory_bytes)} "
                  f"and {format_seconds(_THREAD_ADVICE * t.create_seconds)} to start.")]
    if task is not None:
        out.append(_count("coroutine count", task, _COROUTINE_ADVICE, "asyncio tasks",
                          f"a thousand tasks cost about "
                          f"{format_bytes(_COROUTINE_ADVICE * task.memory_bytes)} and "
                          f"{format_seconds(_COROUTINE_ADVICE * task.create_seconds)} to create."))
    return out


def _parallel(gil: GilRow) -> list[Verdict]:
    """Rule 3: cores busy against the halfway point between 1 and the ideal here."""
    ideal = min(gil.workers, gil.cpus_usable)
    halfway = (1 + ideal) / 2
    reading = (f"the halfway point between no parallelism (1 core busy) and the ideal here "
               f"({ideal}) is {halfway:g}")
    threads = (f"{gil.workers} threads kept {gil.thread_cores:.2f} cores busy on CPU-bound "
               f"pure-Python work ({gil.thread_speedup:.2f}x as fast as 1; GIL on: "
               f"{'yes' if gil.gil_enabled else 'no'})")
    procs = (f"{gil.workers} {gil.start_method} processes kept {gil.process_cores:.2f} cores "
             f"busy on the same work ({gil.process_speedup:.2f}x as fast as 1)")
    if ideal < 2:
        return [Verdict(CLAIMS[c], "depends", f"{w}: with {gil.cpus_usable} usable core nothing "
                                              "can run in parallel, so this machine cannot tell.")
                for c, w in (("threads in parallel", threads), ("processes in parallel", procs))]
    tv = (Verdict(CLAIMS["threads in parallel"], "right", f"{threads}; {reading}: no parallelism.")
          if gil.thread_cores < halfway else
          Verdict(CLAIMS["threads in parallel"], "wrong", f"{threads}; {reading}: they ran in "
                                                          "parallel, as on a free-threaded build."))
    busy = ("" if gil.load_average is None else
            f" (load average {gil.load_average:.1f} on {gil.cpus_usable} usable cores before "
            "the run)")
    if gil.process_cores >= halfway:
        pv = Verdict(CLAIMS["processes in parallel"], "right", (
            f"{procs}; {reading}, and they passed it: they ran in parallel, so other programs "
            f"left them more than one core{busy}."))
    else:
        pv = Verdict(CLAIMS["processes in parallel"], "depends", (
            f"{procs}; {reading}, and they stayed below it: this run could not show "
            "parallelism, because the children did not get the CPU time of more than one "
            f"core; other programs (or the host of a virtual machine) held the cores{busy}. "
            "Rerun on a quieter machine."))
    return [tv, pv]


def verdicts(rows: Sequence[CostRow], gil: GilRow | None = None, *,
             cpus: int | None = None) -> Verdicts:
    """Judge each of the article's claims against measured rows (and the GIL row, if given).

    The verdict depends only on the rows, by the rule in this module's docstring. Claims whose
    rows are missing are skipped.

    Args:
        rows: a ``CostTable`` or any sequence of ``CostRow``.
        gil: the GIL row from ``gil_speedups()``, for the two parallelism claims.
        cpus: usable cores, for the process-count advice (default: ``machine.usable_cpus()``,
            or the GIL row's).

    Returns:
        ``Verdicts``: a list of ``Verdict(claim, verdict, why)`` that displays as a table.

    Raises:
        TypeError: if ``rows`` are not ``CostRow`` objects or ``gil`` is not a ``GilRow``.
    """
    if isinstance(rows, str) or not all(isinstance(row, CostRow) for row in rows):
        raise TypeError(f"verdicts() judges a CostTable or a list of CostRow, not {rows!r}: "
                        "pass the table that costs.measure() returned")
    by_model: dict[str, list[CostRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    if gil is not None and not isinstance(gil, GilRow):
        raise TypeError(f"gil must be the GilRow from costs.gil_speedups(), not {gil!r}")
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
        out.append(_overhead(procs, thread, task))
        out.extend(_counts(procs, thread, task, cpus))
    if gil is not None:
        out.extend(_parallel(gil))
    return out


def scaled(rows: Sequence[CostRow], factor: float) -> CostTable:
    """The rows with each measurement the article gives a figure for set to ``factor`` x it.

    For seeing rule 1 at work: every figure claim is judged the same way, so at ``factor`` 9
    (or 1/9) each is *right*, at 11 (or 1/11) each is *wrong*, whatever was measured. Both
    readings of a claim move together: a thread's resident and reserved memory, a bare
    coroutine's and a task's memory, a bare switch and an event-loop hand-over.

    Args:
        rows: a ``CostTable`` or any sequence of ``CostRow``.
        factor: how many times the article's figure each such measurement becomes.

    Returns:
        A new ``CostTable``; rows the article gives no figure for are left as they were.
    """
    out = []
    for row in rows:
        if row.model == "thread":
            row = replace(row, memory_bytes=factor * _THREAD_BYTES,
                          virtual_bytes=factor * _THREAD_BYTES)
        if row.model in ("coroutine", "asyncio task"):
            row = replace(row, memory_bytes=factor * _COROUTINE_BYTES)
        if row.model in ("generator", "coroutine", "asyncio task"):
            row = replace(row, switch_seconds=factor * _SWITCH_SECONDS)
        out.append(row)
    return CostTable(tuple(out))
