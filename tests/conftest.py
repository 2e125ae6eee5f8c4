"""Shared fixtures: every test must leave nothing running or open; servers stay on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conclab import lifecycle, testing


@pytest.fixture(autouse=True)
def _left_clean():
    """Fail any test that leaves a child process, thread, pool or loop running, or a file
    descriptor, socket or /dev/shm segment open."""
    baseline = testing.snapshot()
    yield
    testing.assert_clean(baseline)


@pytest.fixture(params=lifecycle.start_methods())
def start_method(request) -> str:
    """Each multiprocessing start method this platform offers; use it via get_context."""
    return request.param


@pytest.fixture
def loopback_only() -> Iterator[Callable[[], list[testing.Listener]]]:
    """Fail the test if this process or a child listens beyond 127.0.0.1/::1 at its end.

    A server usually stops before its test ends, so the end alone sees little: the fixture's
    value is the check itself, to call while the servers are up (it returns what listens).
    """
    yield testing.assert_loopback_only
    testing.assert_loopback_only()
