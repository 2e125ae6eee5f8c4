"""Queues that cross the course's three models: threads with coroutines, processes with loops.

``BridgeQueue`` is one FIFO queue with two faces, ``sync_q`` (a ``queue.Queue`` for threads)
and ``async_q`` (an ``asyncio.Queue`` for coroutines on any number of loops, in any threads).
``ProcessQueue`` is a ``multiprocessing`` queue that coroutines can await and that shuts down
cleanly. How they work, in a few sentences:

1. One ``threading.Lock`` guards a bridge's items, counters and waiters, and it is only ever
   held for a few deque operations, never across a wait: so taking it never stalls a loop.
2. A caller that must wait parks a *waiter* in a FIFO deque that threads and coroutines share:
   a thread parks an acquired ``threading.Lock`` and blocks on it; a coroutine parks a future
   of its own loop and awaits it.
3. Whoever frees an item or a slot pops one waiter under the lock (the pop is the wake-up)
   and wakes it: a thread by releasing its lock, a coroutine by resolving its future directly
   on its own loop, or through ``loop.call_soon_threadsafe`` from any other thread.
4. The woken caller takes the item itself, under the lock, and returns it at once; a cancelled
   ``await get()`` or ``await put()`` that finds it was already woken passes the wake-up on,
   so it takes no item, adds none, and holds none back.
5. A coroutine awaits a ``ProcessQueue`` with no thread: its loop watches the pipe's read end
   (``add_reader``). Shutdown there is shared state (counts of items reserved and got, under a
   process-shared lock) plus one wake-up token that every consumer passes on, so gets drain
   everything put before the shutdown, in every process, however many consumers there are.

Shutdown follows Python 3.13 on 3.11 and newer: on 3.13+ ``ShutDown`` *is* ``queue.ShutDown``
and ``QueueShutDown`` *is* ``asyncio.QueueShutDown``; before, they are same-named stand-ins
defined here. Sync calls raise ``ShutDown``, awaited (and ``async_q``) calls ``QueueShutDown``,
two unrelated classes as in 3.13; catch either face's with
``except (queues.ShutDown, queues.QueueShutDown)``, or just iterate: ``for item in q.sync_q``
and ``async for item in q.async_q`` end at shutdown.

Observation goes through the package's one ``Observer`` (``conclab.hooks``): every item got
gives a "send" event (at put time) and a "receive" event (now), from the putter to the getter,
named by ``as_worker()``, else the asyncio task's name, else the thread's (or child process's).

Roads not taken: janus binds one loop at creation and notifies it on every put; a thread per
awaiting coroutine (``run_in_executor(q.get)``) outlives its cancellation and swallows the
next item. This module imports only ``conclab.hooks``, ``conclab.lifecycle`` and the stdlib.
"""

from conclab.queues._bridge import BridgeQueue, BridgeStatistics
from conclab.queues._faces import AsyncFace, SyncFace
from conclab.queues._common import QueueShutDown, ShutDown, as_worker
from conclab.queues._process import ProcessQueue

__all__ = ["BridgeQueue", "SyncFace", "AsyncFace", "BridgeStatistics", "ProcessQueue",
           "ShutDown", "QueueShutDown", "as_worker"]
