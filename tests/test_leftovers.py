"""conclab.testing: open descriptors, sockets and /dev/shm entries are leftovers too, and
nothing may listen beyond loopback.

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


# -- nothing listens beyond loopback ------------------------------------------------------------

def _udp(host: str) -> socket.socket:
    """A UDP socket bound to ``host`` on a port the OS picks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


def _tcp_server(host: str) -> socket.socket:
    """A TCP socket listening on ``host`` on a port the OS picks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen()
    return sock


def _has_ipv6_loopback() -> bool:
    """True if ::1 can be bound here (containers often turn IPv6 off)."""
    try:
        _udp("::1").close()
    except OSError:
        return False
    return True


def test_a_server_on_every_interface_fails_the_loopback_check(loopback_only) -> None:
    exposed = _tcp_server("0.0.0.0")
    try:
        port = exposed.getsockname()[1]
        with pytest.raises(AssertionError) as caught:
            loopback_only()
        caught.match(rf"pid {os.getpid()} \([^)]+\): TCP 0\.0\.0\.0:{port}")
        caught.match(r"bind 127\.0\.0\.1 or ::1 instead")
    finally:
        exposed.close()


def test_a_udp_socket_on_every_interface_fails_too() -> None:
    exposed = _udp("0.0.0.0")
    try:
        port = exposed.getsockname()[1]
        with pytest.raises(AssertionError, match=rf"UDP 0\.0\.0\.0:{port}"):
            testing.assert_loopback_only()
    finally:
        exposed.close()


def test_loopback_servers_on_os_chosen_ports_pass(loopback_only) -> None:
    hosts = ["127.0.0.1", *(["::1"] if _has_ipv6_loopback() else [])]
    servers = [_tcp_server(h) for h in hosts] + [_udp(h) for h in hosts]
    try:
        seen = {(s.protocol, s.address, s.port) for s in loopback_only()}
        for sock in servers:
            protocol = "TCP" if sock.type == socket.SOCK_STREAM else "UDP"
            address, port = sock.getsockname()[:2]
            assert (protocol, address, port) in seen
        assert all(s.loopback for s in testing.listening_sockets())
    finally:
        for sock in servers:
            sock.close()


def test_a_connected_client_is_not_a_listener() -> None:
    with _tcp_server("127.0.0.1") as server, socket.create_connection(
            server.getsockname(), timeout=10) as client:
        accepted, _ = server.accept()
        with accepted:
            ports = {s.port for s in testing.listening_sockets()}
            assert server.getsockname()[1] in ports
            assert client.getsockname()[1] not in ports


def listen_everywhere(ready, stop) -> None:  # module level: spawn and forkserver import it
    """Child body: listen on every interface, send the port, wait until told to stop."""
    with _tcp_server("0.0.0.0") as server, ready:
        ready.send(server.getsockname()[1])
        stop.wait(60)


def test_a_child_listening_on_every_interface_is_named(start_method: str) -> None:
    ctx = lifecycle.get_context(start_method)
    (reader, writer), stop = ctx.Pipe(duplex=False), ctx.Event()
    child = ctx.Process(target=listen_everywhere, args=(writer, stop))
    child.start()
    writer.close()
    try:
        assert reader.poll(60), "the child did not start listening"
        port = reader.recv()  # sent once it listens
        with pytest.raises(AssertionError, match=rf"pid {child.pid} .*: TCP 0\.0\.0\.0:{port}"):
            testing.assert_loopback_only()
    finally:
        stop.set()
        lifecycle.stop_processes([child])
        reader.close()
    testing.assert_loopback_only()


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("fe80::1%eth0", False)])
def test_which_addresses_count_as_loopback(address: str, loopback: bool) -> None:
    assert testing.Listener(1, "p", "TCP", address, 80).loopback is loopback


def test_the_readers_skip_what_cannot_be_read(monkeypatch) -> None:
    # Elsewhere than Linux there is no /proc/self/fd and no /dev/shm: nothing to read is not
    # a leftover (descriptors then come from psutil, which sees files and sockets only).
    monkeypatch.setattr(testing, "_FD_DIR", "/nonexistent/fd")
    monkeypatch.setattr(testing, "_SHM_DIR", "/nonexistent/shm")
    assert testing._shm_entries() == frozenset()
    assert isinstance(testing._open_fds(), dict)
    testing.assert_clean(testing.snapshot(), timeout=0)
