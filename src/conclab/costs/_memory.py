"""How memory is read outside the interpreter: psutil's RSS and USS, and a thread's stack.

Design principle 1 asks for *resident* memory per unit, and no one instrument sees it for every
model. psutil's RSS of this process shows what threads add (and bounds every sweep); a child's
USS is the memory only that child holds. ``tracemalloc``, exact for objects inside the
interpreter, is read where the objects are made (``_objects``, ``_tasks``), since each needs
its baseline taken right before them. ``reserved_stack_bytes`` is the odd one out on purpose:
it is address space, the figure the article's "~8 MB per thread" actually describes.
"""

from __future__ import annotations

import sys
import threading

import psutil

__all__ = ["reserved_stack_bytes"]


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


def _rss() -> int:
    """This process's resident set size in bytes."""
    return psutil.Process().memory_info().rss


def _memory_of(pid: int) -> tuple[int, int]:
    """USS and RSS of one process, in bytes."""
    info = psutil.Process(pid).memory_full_info()
    return info.uss, info.rss
