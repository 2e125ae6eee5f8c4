"""conclab: the reference implementations behind the course on concurrency in Python.

The package is a house of floors; each module may import only modules on its own floor or
below it, never above (import-linter's ``layers`` contract in ``pyproject.toml`` checks it, and
``tests/test_layers.py`` checks that this map, the files and the contract agree)::

    presentation       widgets and figures: notebooks only (ipywidgets, matplotlib)
        playground     the Playground: run N workers of a model, watch, read measured figures
        widgets        Frames and Replay (they work in the book), the needs-a-kernel label
        plots          timelines of a trace: matplotlib figures and live SVG
        course         the course map and the chapter table
    observation        records and measures; changes nothing
        trace          Trace, the recorder of spans and events; watch_tasks for asyncio tasks
        costs          the article's cost table measured on this machine, and its verdicts
        machine        the machine report: cores, memory, Python build, start methods
        testing        assert_clean: nothing a chapter or test started is left running
    programs           the work the chapters run, importable by child processes
        workloads      CPU and I/O work of a known size, and run(): N workers of one model
        boundary       what crosses a process boundary: pickling, start methods, fork and locks
        sharing        threads share memory: races, locks, hand-offs, a stuck thread
        eventloop      the event loop under load: task storms, a lag probe, generator actors
        check          the setup check: one piece of work as a thread, a process, a coroutine
        pipelines      producers and consumers across processes, and timings of four queues
        feeds          chapter 07's publishers and subscribers: recorder actors, a sensor process
        cast           the actors chapter 06 runs on every backend: accounts, counters, crunchers
        fusion         the fused program: asyncio front end, thread and process stages, gateway
        engines        the patterns on ZeroMQ and Dask: children, tasks, the kernel's own sockets
    communication      the three patterns: how tasks of any model talk
        queues         BridgeQueue (threads and coroutines share one queue), ProcessQueue
        actors         Actor and spawn: one actor API on a thread, a process or an event loop
        pubsub         the Gateway: topics, wildcards, broadcast, isolated subscribers
    scheduling         the bottom floor: knows nothing above it
        scheduler      the teaching scheduler: generator tasks, traps, round-robin, selectors
        hooks          the one clock and the Observer hooks everything reports through
        lifecycle      start methods, stopping child processes, fresh and background loops

``bench`` stands beside the house: its benchmark suites may import any floor.

Import the module you need (``from conclab import machine``); this file imports nothing. One
knob is read here, because it must act before anything runs: ``CONCLAB_SWITCH_INTERVAL``
(seconds) sets ``sys.setswitchinterval`` for every interpreter that imports the package,
child processes included, so that ``make stress`` (or a curious reader) can run the whole
course with threads switching far more or less often than the default 5 ms.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

_interval = _os.environ.get("CONCLAB_SWITCH_INTERVAL", "").strip()
if _interval:
    try:
        _seconds = float(_interval)
        # sys.setswitchinterval accepts NaN, and then threads never switch on time at all.
        if not 0 < _seconds < float("inf"):
            raise ValueError(_interval)
        _sys.setswitchinterval(_seconds)
    except ValueError as _exc:
        raise ValueError(f"CONCLAB_SWITCH_INTERVAL={_interval!r} is not a positive number of "
                         "seconds (try 0.005, the default, or 1e-6); unset it to keep the "
                         "default") from _exc
