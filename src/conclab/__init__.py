"""conclab: the reference implementations behind the course on concurrency in Python.

The package is layered; each module knows only the layers below it::

    presentation   widgets   plots                (notebooks only)
    observation    trace     costs     machine    (records and measures; changes nothing)
    communication  queues    actors    pubsub     (the three patterns)
    scheduling     scheduler workloads            (the teaching scheduler; importable work)

``testing`` sits beside them: it checks that a notebook or a test stopped what it started.
Import the module you need (``from conclab import machine``); this file imports nothing heavy.
"""

__version__ = "0.1.0"
