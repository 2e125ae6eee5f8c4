"""Benchmark suites for ``python -m conclab.bench``: one module per area, each with ``run(quick)``."""
