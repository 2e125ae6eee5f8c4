"""What chapter 05's child processes run: each is a module-level function a child can import.

Every ``get`` here has a timeout (``TIMEOUT``), so a child whose parent went away ends by itself.
"""

from __future__ import annotations

import pickle
import time
from typing import Any

from conclab.hooks import clock
from conclab.queues import ProcessQueue

__all__ = ["TIMEOUT", "square_jobs", "answer", "put_and_return", "put_items",
           "produce_then_shut_down"]

TIMEOUT = 10.0
"""Seconds any one blocking call here may wait (children included) before giving up."""


def square_jobs(tasks: Any, results: Any) -> None:
    """Child: square each number from ``tasks`` into ``results`` until a ``None`` comes.

    ``tasks`` is a ``multiprocessing.JoinableQueue``: every item got, the ``None`` included,
    is marked done with ``task_done()``, so the parent's ``tasks.join()`` returns once all
    of them were handled.
    """
    while True:
        number = tasks.get(timeout=TIMEOUT)
        try:
            if number is None:
                return
            results.put((number, number * number))
        finally:
            tasks.task_done()


def answer(inbox: Any, outbox: Any, reply: str) -> None:
    """Child: read ``inbox`` until a ``None`` comes, and answer on ``outbox`` as ``reply`` says.

    Args:
        inbox, outbox: ``multiprocessing`` queues.
        reply: ``"echo"`` sends each item back as it came; ``"unpickle"`` takes each item as
            the bytes of a pickle, unpickles it, and sends back only the object's ``len()``
            and the seconds unpickling took (so a big item crosses once, and the sender can
            tell the pickling apart from the rest of the crossing); ``"count"`` answers nothing
            per item and, at each ``...`` (Ellipsis), sends how many items came since the
            last one.
    """
    if reply not in ("echo", "unpickle", "count"):
        raise ValueError(f"reply must be 'echo', 'unpickle' or 'count', not {reply!r}")
    count = 0
    while (item := inbox.get(timeout=TIMEOUT)) is not None:
        if reply == "echo":
            outbox.put(item)
        elif reply == "unpickle":
            start = clock()
            obj = pickle.loads(item)
            outbox.put((len(obj), clock() - start))
        elif item is ...:
            outbox.put(count)
            count = 0
        else:
            count += 1


def put_and_return(q: Any, nbytes: int, returned: Any, *, cancel_join: bool = False) -> None:
    """Child: put one item of ``nbytes`` bytes on ``q``, set ``returned``, and return.

    The function returns at once, but the process may not end: ``put`` only handed the item
    to the queue's feeder thread, and a process joins its feeder threads as it exits, which
    waits until the whole item is in the pipe. A pipe holds 64 KiB on Linux, so a bigger item
    nobody reads keeps the child alive. ``cancel_join=True`` calls ``q.cancel_join_thread()``
    first: the child exits anyway, and what was not written yet is lost.
    """
    q.put(b"x" * nbytes)
    if cancel_join:
        q.cancel_join_thread()
    returned.set()


def put_items(q: Any, n: int, nbytes: int) -> None:
    """Child: put ``n`` items of ``nbytes`` bytes each on ``q``, then return.

    Like ``put_and_return``, the process ends only once its feeder thread has written every
    item into the pipe: someone must read them first (the chapter's second exercise).
    """
    for _ in range(n):
        q.put(b"x" * nbytes)


def produce_then_shut_down(q: ProcessQueue[int], n: int, every: float) -> None:
    """Child: put 0, 1, ... n-1 on a ``ProcessQueue``, one every ``every`` s, then shut it down.

    The shutdown is the end of the stream, for every consumer in every process: they get
    what was put, then their iteration ends. Nobody needs to count sentinels.
    """
    for i in range(n):
        q.put(i)
        time.sleep(every)
    q.shutdown()
