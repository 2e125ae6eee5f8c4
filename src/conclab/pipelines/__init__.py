"""Producers, consumers and hand-over timings for the chapter on queues (chapter 05).

A child process can only run a function it can import (under spawn and forkserver it is a
fresh interpreter that imports the function by name), so every child that chapter 05 starts
runs one of the small functions here, and the hand-over timings that need a child or a loop
of their own live here too. In a few sentences:

1. Children: ``square_jobs`` (a ``JoinableQueue`` consumer), ``answer`` (echoes, unpickles or
   counts what it gets), ``put_and_return`` and ``put_items`` (the feeder-thread pitfall),
   and ``produce_then_shut_down`` (a ``ProcessQueue`` producer that ends the stream itself).
   Every ``get`` in a child has a timeout, so a child whose parent went away ends by itself.
2. Timings: ``round_trips`` and ``stream`` time one queue of one model (``KINDS``): ping-pong
   between two workers over two queues (a message there and back, so half of it is one
   hand-over's latency) and a one-way stream through a bounded queue (throughput). Each
   starts whatever it needs (a thread, a loop in a helper thread, a child process), warms
   up with one exchange, times only the exchanges, and stops everything before returning.
3. ``compare`` runs every kind in turns, a few rounds, and keeps each kind's best time, so a
   burst of load from other programs on a busy machine hits every kind alike.

The children live in ``_children`` and the timings in ``_timings``; only the standard library
and the package's lower floors (``hooks``, ``lifecycle``, ``queues``) are imported, so a child
imports what it runs cheaply.
"""

from conclab.pipelines._children import (TIMEOUT, answer, produce_then_shut_down, put_and_return,
                                         put_items, square_jobs)
from conclab.pipelines._timings import BOUND, KINDS, Timing, compare, round_trips, stream

__all__ = ["KINDS", "TIMEOUT", "BOUND", "square_jobs", "answer", "put_and_return",
           "put_items", "produce_then_shut_down", "round_trips", "stream", "Timing", "compare"]
