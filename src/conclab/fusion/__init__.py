"""The fused program: each part of one realistic service on the model that suits it.

The article ends with a wish: fuse processes, threads and coroutines under one API. This
package is that wish made into one program, built only from the course's own parts:

1. An **asyncio front end** (``Server``) accepts jobs from many clients on 127.0.0.1, one JSON
   object per line (never pickles on a socket), and answers each job exactly once.
2. **Blocking steps run in threads**: a ``conclab.queues.BridgeQueue`` carries them from the
   loop to a pool of threads the server owns and stops (``ThreadStage``).
3. **CPU-heavy steps run in process actors** (``conclab.actors.spawn(..., backend="process")``,
   ``ProcessStage``); a process that dies fails its job with a clear error and is replaced.
4. **Results are published through the gateway** (``conclab.pubsub.Gateway``) to subscribers:
   a live dashboard (``Monitor``), a log, a statistics actor (``StatsActor``).
5. A ``Placement`` says which model runs which kind of step, so the wrong placements (CPU on
   the loop, CPU in threads, everything in processes) run through the same code and can be
   measured against ``FUSED``; ``ThreadedServer`` is the thread-per-client alternative.

Clients (``request``, ``ask_many``, ``hammer``, ``held_clients``) and the tools for a stuck
program (``Server.task_stacks``, ``thread_stacks``, ``py_spy_dump``) come with it. Everything
it starts stops with it; everything that runs in a child process lives here, importable.
"""

from conclab.fusion._clients import (Held, LoadReport, ProtocolError, Reply, ask_many, hammer,
                                     held_clients, percentile, request)
from conclab.fusion._server import Server, ServerStatistics, await_chain, usable_cores
from conclab.fusion._stages import ProcessStage, ThreadStage
from conclab.fusion._steps import (ALL_IN_PROCESSES, CPU_IN_THREADS, CPU_ON_LOOP, FUSED, KINDS,
                                   MODELS, PLACEMENTS, STEPS, Placement, StepActor, blocking,
                                   check_job, heavy, light)
from conclab.fusion._threaded import Footprint, ThreadedServer, footprint
from conclab.fusion._watch import Monitor, Sample, StatsActor, py_spy_dump, thread_stacks

__all__ = ["Server", "ServerStatistics", "Placement", "FUSED", "CPU_ON_LOOP", "CPU_IN_THREADS",
           "ALL_IN_PROCESSES", "PLACEMENTS", "KINDS", "MODELS", "STEPS", "light", "blocking",
           "heavy", "check_job", "StepActor", "ThreadStage", "ProcessStage", "request",
           "ask_many", "hammer", "held_clients", "Held", "LoadReport", "Reply",
           "ProtocolError", "percentile", "ThreadedServer", "Footprint", "footprint", "Monitor", "Sample", "StatsActor", "thread_stacks",
           "py_spy_dump", "await_chain", "usable_cores"]
