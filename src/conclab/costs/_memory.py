"""How memory is read outside the interpreter: psutil's RSS and USS, and a thread's stack.

Design principle 1 asks for *resident* memory per unit, and no one instrument sees it for every
model. psutil's RSS of this process shows what threads add (and bounds every sweep); a child's
USS is the memory only that child holds. ``tracemalloc``, exact for objects inside the
interpreter, is read where the objects are made (``_objects``, ``_tasks``), since each needs
its baseline taken right before them. ``reserved_stack_bytes`` is the odd one out on purpose:
it is address space, the figure the article's "~8 MB per thread" actually describes.
"""

from __future__ import annotations

import platform
import sys
import threading

import psutil

__all__ = ["reserved_stack_bytes", "explain_first_batch"]


def reserved_stack_bytes() -> int | None:
    """The stack a new thread reserves: ``threading.stack_size()``, else ``ulimit -s`` on Linux.

    This is address space, not memory: the kernel backs a page with RAM only when the thread
    first touches it. None where the platform default cannot be read (macOS, Windows).
    """
    if size := threading.stack_size():
        return size
    if sys.platform.startswith("linux"):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
        if soft != resource.RLIM_INFINITY and soft > 0:
            return soft  # glibc sizes new thread stacks from RLIMIT_STACK
    return None


def explain_first_batch(first: float, later: float, n: int) -> str:
    """Why a first batch of ``n`` idle threads reserved more or less per thread than the next.

    Args:
        first: address space reserved per thread by the first batch, in bytes.
        later: the same for the next batch, started while the first was still alive.
        n: threads per batch.

    Returns:
        One or two sentences (Markdown) whose reason is chosen by the numbers.
    """
    from ._rows import format_bytes

    gap = abs(first - later) * n
    if platform.libc_ver()[0] != "glibc":
        return (f"The first {n} threads reserved {format_bytes(gap)} "
                f"{'more' if first > later else 'less'} in all than the next {n}: this C "
                "library sets memory aside for the first threads of a process, or reuses "
                "stacks of threads that ended. The next batch shows what one more thread "
                "costs.")
    if first > later * 1.02:
        return (f"The first {n} threads reserved {format_bytes(gap)} more in all than the next "
                f"{n}: the first threads of a process make glibc create its per-thread malloc "
                "arenas (one per thread up to eight per core, each reserving 64 MiB of address "
                "space), once for the life of the process. The next batch shows what one more "
                "thread costs.")
    if first < later / 1.02:
        return (f"The first {n} threads reserved {format_bytes(gap)} less in all than the next "
                f"{n}: glibc handed them stacks that threads which had ended left in its cache "
                "(up to 40 MiB of them), so it reserved no new address space for those. The "
                "next batch shows what one more thread costs.")
    return ("The two batches reserved about the same per thread: this process had already "
            "paid for glibc's malloc arenas, and its cache of old stacks made no visible "
            "difference.")


def _rss() -> int:
    """This process's resident set size in bytes."""
    return psutil.Process().memory_info().rss


def _memory_of(pid: int) -> tuple[int, int]:
    """USS and RSS of one process, in bytes."""
    info = psutil.Process(pid).memory_full_info()
    return info.uss, info.rss
