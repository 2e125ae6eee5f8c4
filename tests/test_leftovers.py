"""conclab.testing: open descriptors, sockets and /dev/shm entries are leftovers too.

Each leak test takes its own baseline, leaks one thing, sees ``assert_clean`` name it, then
closes it and sees ``assert_clean`` pass. The autouse fixture in ``conftest.py`` checks again
at the end of each test.
"""

from __future__ import annotations

import os
import re
import socket
from multiprocessing import shared_memory

import pytest

from conclab import lifecycle, testing

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                                reason="descriptors are read from /proc (Linux)")
with_shm = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm here")


def _fails_naming(baseline: testing.Snapshot, *patterns: str) -> str:
    """Assert that ``assert_clean`` fails at once and its message matches every pattern."""
    with pytest.raises(AssertionError) as caught:
        testing.assert_clean(baseline, timeout=0.05)
    for pattern in patterns:
        caught.match(pattern)
    return str(caught.value)


# -- descriptors ----------------------------------------------------------------------------------

@linux_only
def test_a_leaked_pipe_is_named_by_its_descriptors_then_cleared() -> None:
    baseline = testing.snapshot()
    reader, writer = os.pipe()
    try:
        _fails_naming(baseline, rf"open file descriptors {reader}, {writer}: pipe:\[\d+\] "
                                r"\(close it\)")
    finally:
        os.close(reader)
        os.close(writer)
    testing.assert_clean(baseline)


def test_a_leaked_socket_is_named_with_its_family_and_address() -> None:
    baseline = testing.snapshot()
    server = socket.socket()
    try:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        _fails_naming(baseline, rf"open file descriptor {server.fileno()}: socket AF_INET "
                                rf"SOCK_STREAM 127\.0\.0\.1:{port} LISTEN \(close it\)")
    finally:
        server.close()
    testing.assert_clean(baseline)


@linux_only
def test_a_descriptor_number_reused_for_something_else_is_new(tmp_path) -> None:
    # The baseline holds (number, target) pairs: a file closed and a pipe opened in its place,
    # under the same number, is still a leftover.
    old = os.open(tmp_path / "before", os.O_CREAT | os.O_WRONLY)
    baseline = testing.snapshot()
    os.close(old)
    reader, writer = os.pipe()  # the lowest free number: the one just closed
    try:
        assert reader == old
        _fails_naming(baseline, rf"descriptors {reader}, {writer}: pipe:")
    finally:
        os.close(reader)
        os.close(writer)
    testing.assert_clean(baseline)


def test_multiprocessing_objects_that_keep_pipes_are_not_leftovers(start_method: str) -> None:
    # A joined Process keeps its sentinel and a terminated Pool its pipes until the object is
    # collected; a notebook variable keeps them for good. The children are what matter.
    baseline = testing.snapshot()
    ctx = lifecycle.get_context(start_method)
    child = ctx.Process(target=os.getpid)
    child.start()
    child.join(60)
    with ctx.Pool(1) as pool:
        assert pool.apply_async(os.getpid).get(60) != os.getpid()
    counter = ctx.Value("i", 0)  # a shared-heap arena, and under spawn a named semaphore
    testing.assert_clean(baseline)
    assert (child.exitcode, counter.value) == (0, 0) and pool is not None


# -- /dev/shm -------------------------------------------------------------------------------------

@with_shm
def test_shared_memory_is_named_until_it_is_unlinked() -> None:
    baseline = testing.snapshot()
    segment = shared_memory.SharedMemory(create=True, size=64)
    try:
        path = re.escape(f"/dev/shm/{segment.name}")
        _fails_naming(baseline, rf"{path} \(held by pid {os.getpid()}; unlink\(\) it",
                      rf"open file descriptors? [\d, ]+: {path} \(close it\)")
        segment.close()
        # Closed is not enough: the segment stays in /dev/shm until someone unlinks it.
        message = _fails_naming(baseline, rf"{path} \(open nowhere; unlink\(\) it")
        assert "open file descriptor" not in message
    finally:
        segment.close()
        segment.unlink()
    testing.assert_clean(baseline)


@with_shm
def test_a_segment_only_another_process_holds_is_not_ours() -> None:
    # Another program (a concurrent test run, say) may create entries at any moment.
    baseline = testing.snapshot()
    segment = shared_memory.SharedMemory(create=True, size=64)
    try:
        assert testing._shm_leftovers(baseline, ours={-1}) == []  # held, but not by "us"
        assert testing._shm_leftovers(baseline, ours={os.getpid()}) != []
    finally:
        segment.close()
        segment.unlink()


# -- the arguments ----------------------------------------------------------------------------------

def test_assert_clean_refuses_a_baseline_that_is_not_a_snapshot_and_a_bad_timeout() -> None:
    with pytest.raises(TypeError, match="testing.snapshot"):
        testing.assert_clean(frozenset())
    with pytest.raises(ValueError, match="not nan"):
        testing.assert_clean(timeout=float("nan"))


def test_the_readers_skip_what_cannot_be_read(monkeypatch) -> None:
    # Elsewhere than Linux there is no /proc/self/fd and no /dev/shm: nothing to read is not
    # a leftover (descriptors then come from psutil, which sees files and sockets only).
    monkeypatch.setattr(testing, "_FD_DIR", "/nonexistent/fd")
    monkeypatch.setattr(testing, "_SHM_DIR", "/nonexistent/shm")
    assert testing._shm_entries() == frozenset()
    assert isinstance(testing._open_fds(), dict)
    testing.assert_clean(testing.snapshot(), timeout=0)
