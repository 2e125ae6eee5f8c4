"""Shared fixtures: every test must leave nothing running."""

from __future__ import annotations

import pytest

from conclab import lifecycle, testing


@pytest.fixture(autouse=True)
def _left_clean():
    """Fail any test that leaves a child process, thread, pool or loop behind."""
    baseline = testing.snapshot()
    yield
    testing.assert_clean(baseline)


@pytest.fixture(params=lifecycle.start_methods())
def start_method(request) -> str:
    """Each multiprocessing start method this platform offers; use it via get_context."""
    return request.param
