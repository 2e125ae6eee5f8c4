"""The course's patterns on real engines: what chapter 10's child processes and Dask workers run.

When a program outgrows one machine it should not stretch the course's teaching code; it
should reach for an engine built for the job. This package holds what the children of chapter
10 must import (ZeroMQ peers, Dask tasks and an actor class), and the small helpers that read
what the engines report. Its rules, in a few sentences:

1. Messages between processes are JSON or bytes, never pickles: ``send_pyobj`` would unpickle
   whatever any local process that can connect sends, and unpickling runs code. Even the
   control pipe between a parent and its ``Child`` carries JSON.
2. Everything binds ``127.0.0.1`` on a port the OS chooses, and a child that binds reports
   its endpoint (``tcp://127.0.0.1:PORT``) to its parent. Moving a peer to another machine
   means changing that address, and nothing else in the code.
3. Every socket is closed with ``linger=0`` (nothing unsent keeps a process alive), every
   context is terminated, every wait has a deadline, and every child is started through
   ``lifecycle.get_context`` and stopped with ``lifecycle.stop_processes``.
4. Dask is imported by the functions that need it, never at the top: ZeroMQ children do not
   pay for it, and this package stays on the programs floor (it reports a task stream to an
   ``Observer``; ``conclab.trace`` records it).

Private modules, one per engine: ``_zmq`` (the children and ``Child``), ``_dask`` (tasks,
the actor class, the task stream), ``_kernel`` (the Jupyter kernel's own ZeroMQ), and
``_measure`` (round trips).
"""

from conclab.engines._dask import (Counter, LogLines, add_up, caught_log, echo, nap,
                                   put_square, report_task_stream)
from conclab.engines._kernel import (DELIMITER, in_kernel, kernel_connection, read_kernel_message,
                                     release_thread_pipes)
from conclab.engines._measure import EchoActor, queue_echo, round_trips
from conclab.engines._zmq import (LOOPBACK, Child, Endpoint, counter_actor, flaky_echo,
                                  flaky_server, fresh_context, into_slow_consumer,
                                  prefix_delivery, publisher, square_worker)

__all__ = ["Endpoint", "LOOPBACK", "Child", "square_worker", "counter_actor", "publisher",
           "flaky_echo", "flaky_server", "prefix_delivery", "into_slow_consumer", "round_trips",
           "queue_echo", "EchoActor", "echo", "nap", "add_up", "put_square", "Counter",
           "report_task_stream", "LogLines", "caught_log", "in_kernel", "kernel_connection",
           "DELIMITER", "read_kernel_message", "release_thread_pipes", "fresh_context"]
