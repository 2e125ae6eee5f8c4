"""Checks that a notebook or a test stopped everything it started and left nothing behind.

The course promises that every thread, process, pool and event loop it starts is also stopped,
and that nothing it opens stays open. ``assert_clean()`` holds it to that: it compares what is
alive and open now with a ``Snapshot`` taken earlier (by default, when this module was first
imported, which in a chapter is the imports cell) and raises ``AssertionError`` naming whatever
is left over:

1. live child processes, except ``multiprocessing``'s own forkserver and resource tracker,
   which the standard library keeps for the life of the interpreter on purpose;
2. extra non-daemon threads, and any live worker thread of a ``concurrent.futures`` thread
   pool (daemon or not: an idle pool is still a pool left running);
3. running event loops other than the one running the caller (the Jupyter kernel's own) and
   those on the kernel's helper threads;
4. file descriptors opened since the baseline and still open (pipes, sockets with their
   family and addresses, files), except those kept on purpose: ``multiprocessing``'s for
   the life of the interpreter (the resource tracker's and forkserver's pipes, the shared
   heap's arenas), the pipes a ``Process`` or ``Pool`` object keeps to its children until it
   is collected (the children themselves are checked above), installed packages' data files
   open read-only (matplotlib keeps its fonts open) and the random-number devices;
5. new entries in ``/dev/shm`` (a ``multiprocessing.shared_memory`` segment that was never
   ``unlink()``-ed) held by this process or its children, or by no process at all. Two kinds
   are left out, because they are not this program's to clean up or cannot be told apart from
   another program's: an entry that only other programs hold, and a named semaphore
   (``sem.*``), which ``multiprocessing`` unlinks itself when its lock is collected (a live
   ``Lock``, ``Event`` or ``Value`` in a notebook's variables is held, not left behind). An
   orphaned semaphore usually comes from an interpreter that was killed elsewhere on the
   machine (nbval kills a kernel's whole process group, its resource tracker included).

Only what is *new* since the baseline counts, so the interpreter's and Jupyter's own
descriptors (its ZMQ sockets, asyncio's self-pipe, pytest's capture files) never do. Things
already on their way out get a short grace period (``timeout``): a pool that was just shut
down may take a few milliseconds to reap its workers, and objects caught in a reference cycle
close their descriptors only when the garbage collector runs, which the grace period does
once. Dead children that nobody waited for (zombies) are reaped here rather than reported:
they hold no resources but a PID.

``listening_sockets()`` and ``assert_loopback_only()`` check the course's rule that servers
listen on 127.0.0.1 or ::1 only; chapters that start a server call the latter in a cell.

Platforms: descriptors and ``/dev/shm`` are read from ``/proc`` on Linux. Elsewhere the
descriptor check sees only the files and sockets psutil can list (no pipes), and the
``/dev/shm`` check is skipped (macOS has no such directory; Windows has no descriptors to
speak of). The listening-socket check works wherever psutil may read the connections of this
process and its children (on macOS that may need elevated rights; what cannot be read is
skipped).

This module is longer than the ~300 lines the package aims at because each kind of leftover
needs its own reading and its own exceptions for the interpreter's churn, and they are only
convincing side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import ipaddress
import multiprocessing
import os
import site
import socket
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from conclab.lifecycle import check_seconds

__all__ = ["Snapshot", "snapshot", "leftovers", "assert_clean", "clean", "wait_blocked",
           "Listener", "listening_sockets", "assert_loopback_only"]

# Command-line fragments of the helper processes multiprocessing starts once and keeps.
_MP_INFRASTRUCTURE = ("multiprocessing.forkserver", "multiprocessing.resource_tracker",
                      "multiprocessing.semaphore_tracker")
_FD_DIR = "/proc/self/fd"
_SHM_DIR = "/dev/shm"
# Libraries (OpenSSL, older CPythons) open these on first use and keep them for good.
_KEPT_FILES = frozenset({"/dev/urandom", "/dev/random"})
# Inside a Jupyter kernel, ZeroMQ opens an eventfd and an epoll instance for each context and
# socket the kernel makes, lazily (a figure or a widget's first message can be the trigger):
# none is the chapter's. An event loop the chapter leaves open is still seen, by its self-pipe
# sockets and as a running loop.
_KERNEL_INODES = frozenset({"anon_inode:[eventfd]", "anon_inode:[eventpoll]"})


@dataclass(frozen=True)
class Snapshot:
    """What was alive and open at one moment: the baseline that ``assert_clean`` compares with.

    ``fds`` holds ``(descriptor, what it points to)`` pairs, so that a descriptor number that
    was closed and then reused for something else counts as new; ``shm`` holds the names in
    ``/dev/shm``.
    """

    pids: frozenset[int] = field(default_factory=frozenset)
    thread_idents: frozenset[int] = field(default_factory=frozenset)
    loop_ids: frozenset[int] = field(default_factory=frozenset)
    fds: frozenset[tuple[int, str]] = field(default_factory=frozenset)
    shm: frozenset[str] = field(default_factory=frozenset)


def _children() -> list[psutil.Process]:
    """Live (non-zombie) descendants of this process, minus multiprocessing's own helpers."""
    multiprocessing.active_children()  # joins finished multiprocessing children as a side effect
    me = os.getpid()
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(child.cmdline())
            parent = child.ppid()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        # A forkserver's workers are forked from it and share its command line: only the
        # server itself (our direct child) is infrastructure.
        if parent == me and any(part in cmdline for part in _MP_INFRASTRUCTURE):
            continue
        alive.append(child)
    return alive


def _pool_threads() -> set[threading.Thread]:
    """Worker threads of every live concurrent.futures thread pool."""
    from concurrent.futures import thread as cf_thread

    return {t for t in getattr(cf_thread, "_threads_queues", {}) if t.is_alive()}


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    """Every event loop object that is running now (found through the garbage collector)."""
    return [o for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]


def _own_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in the calling thread, if any (in Jupyter: the kernel's)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# --- file descriptors, sockets and /dev/shm ----------------------------------------------------

def _connections(proc: psutil.Process, kind: str) -> list[Any]:
    """``proc``'s sockets as psutil lists them (``net_connections`` from psutil 6 on)."""
    listing = getattr(proc, "net_connections", None) or proc.connections
    return list(listing(kind=kind))


def _open_fds() -> dict[int, str]:
    """This process's open file descriptors and what each points to."""
    if os.path.isdir(_FD_DIR):
        found = {}
        for name in os.listdir(_FD_DIR):
            try:
                found[int(name)] = os.readlink(f"{_FD_DIR}/{name}")
            except OSError:  # the listing's own descriptor, closed by the time we read it
                continue
        return found
    try:  # no /proc: only the files and sockets psutil can list (pipes stay unseen)
        proc = psutil.Process()
        found = {f.fd: f.path for f in proc.open_files() if f.fd >= 0}
        found.update({c.fd: f"socket:{c.family.name}" for c in _connections(proc, "all")
                      if c.fd >= 0})
        return found
    except (psutil.Error, OSError, NotImplementedError):
        return {}


def _kept_fds() -> set[int]:
    """Descriptors that multiprocessing opens once and keeps for the life of the interpreter.

    The resource tracker's pipe and the forkserver's "alive" pipe are opened by the first
    child that needs them; the shared heap behind ``Value`` and ``Array`` keeps every arena
    smaller than 4 MiB even when it is empty (``multiprocessing.heap``). Only modules that are
    already imported are read: a module nobody imported holds no descriptor.
    """
    kept: set[Any] = set()
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    if tracker is not None:
        kept.add(getattr(getattr(tracker, "_resource_tracker", None), "_fd", None))
    server = sys.modules.get("multiprocessing.forkserver")
    if server is not None:
        kept.add(getattr(getattr(server, "_forkserver", None), "_forkserver_alive_fd", None))
    heap = sys.modules.get("multiprocessing.heap")
    if heap is not None:
        arenas = getattr(getattr(heap.BufferWrapper, "_heap", None), "_arenas", [])
        kept.update(getattr(arena, "fd", None) for arena in arenas)
    return {fd for fd in kept if isinstance(fd, int) and fd >= 0}


def _process_fds() -> set[int]:
    """Descriptors that multiprocessing ``Process`` and ``Pool`` objects hold for their children.

    A ``Process`` keeps a pipe to its child (its ``sentinel``) and a ``Pool`` its task and
    result pipes until the object is collected or closed, long after the children have been
    joined; a notebook variable keeps the object for the life of the kernel. What these
    objects can leave running, their children and threads, is checked as such.
    """
    process_type = sys.modules.get("multiprocessing.process")
    pool_module = sys.modules.get("multiprocessing.pool")
    if process_type is None:
        return set()
    kinds: tuple[type, ...] = (process_type.BaseProcess,)
    if pool_module is not None:
        kinds += (pool_module.Pool,)
    fds: set[Any] = set()
    for obj in gc.get_objects():
        if not isinstance(obj, kinds):
            continue
        if isinstance(obj, process_type.BaseProcess):
            popen = getattr(obj, "_popen", None)
            fds.add(getattr(popen, "sentinel", None))
            # util.close_fds(*args) closes them when the object goes: the same descriptors.
            fds.update(getattr(getattr(popen, "finalizer", None), "_args", None) or ())
        else:
            for queue_name in ("_inqueue", "_outqueue", "_change_notifier"):
                queue = getattr(obj, queue_name, None)
                for end in ("_reader", "_writer"):
                    fds.add(getattr(getattr(queue, end, None), "_handle", None))
    return {fd for fd in fds if isinstance(fd, int) and fd >= 0}


@functools.cache
def _installed_prefixes() -> tuple[str, ...]:
    """Where the interpreter and its packages live (real paths), to recognise their data files."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *sysconfig.get_paths().values()}
    with contextlib.suppress(AttributeError):
        paths.add(site.getusersitepackages())
    return tuple(sorted({os.path.join(os.path.realpath(p), "") for p in paths if p}))


def _kernel_fds(base: Snapshot) -> set[int]:
    """Descriptors of the event loops the kernel runs on threads of its own, and of IPython's
    history database: JupyterLab makes a kernel open these lazily (a "subshell" thread with
    its own loop, the history writer), so they can appear after the chapter's baseline.

    A loop counts as the kernel's when its thread is an ipykernel thread or was alive at the
    baseline, the same rule ``leftovers`` applies to running loops.
    """
    if "ipykernel" not in sys.modules:
        return set()
    kernel = {t.ident for t in threading.enumerate()
              if type(t).__module__.startswith("ipykernel")} | set(base.thread_idents)
    fds: set[Any] = set()
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_closed() and (
                getattr(obj, "_thread_id", None) in kernel or obj is _own_loop()):
            selector = getattr(obj, "_selector", None)
            fds.add(getattr(selector, "fileno", lambda: None)())
            fds.update(getattr(getattr(obj, name, None), "fileno", lambda: None)()
                       for name in ("_ssock", "_csock"))
    shell = sys.modules.get("IPython.core.history")
    if shell is not None:
        for obj in gc.get_objects():
            if isinstance(obj, shell.HistoryManager):
                fds.update(_sqlite_fds(str(getattr(obj, "hist_file", ""))))
    return {fd for fd in fds if isinstance(fd, int) and fd >= 0}


def _sqlite_fds(path: str) -> set[int]:
    """This process's descriptors open on an SQLite database file (and its journal)."""
    if not path:
        return set()
    found = set()
    for fd, target in _open_fds().items():
        if target == path or target.startswith(path + "-"):
            found.add(fd)
    return found


def _library_file(fd: int, target: str) -> bool:
    """True for an installed package's data file open read-only (matplotlib keeps its fonts)."""
    if not target.startswith(_installed_prefixes()):
        return False
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
            flags = next((int(line.split()[1], 8) for line in info
                          if line.startswith("flags:")), None)
    except (OSError, ValueError):
        return True  # no fdinfo to read (not Linux): the location alone decides
    return flags is not None and flags & os.O_ACCMODE == os.O_RDONLY


def _describe_sockets(fds: set[int]) -> dict[int, str]:
    """``"AF_INET SOCK_STREAM 127.0.0.1:5000 LISTEN"`` for each socket descriptor in ``fds``."""
    try:
        conns = _connections(psutil.Process(), "all")
    except (psutil.Error, OSError, NotImplementedError):
        return {}
    return {c.fd: " ".join(part for part in (
        c.family.name, c.type.name, _address(c.laddr),
        f"-> {_address(c.raddr)}" if c.raddr else "", "" if c.status == "NONE" else c.status)
        if part) for c in conns if c.fd in fds}


def _address(addr: Any) -> str:
    """An address as psutil gives it: ``(ip, port)``, a path, or empty for an unnamed socket."""
    if isinstance(addr, tuple) and len(addr) == 2:
        ip, port = addr
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    return repr(addr) if addr else "(unnamed)"


def _fd_leftovers(base: Snapshot) -> list[str]:
    """One line per thing opened since ``base`` and still open, with its descriptor numbers."""
    now = _open_fds()
    kernel = "ipykernel" in sys.modules
    new = {fd: target for fd, target in now.items()
           if (fd, target) not in base.fds and target not in _KEPT_FILES
           and not (kernel and target in _KERNEL_INODES)}
    if not new:
        return []
    kept = _kept_fds() | _process_fds() | _kernel_fds(base)
    # mmap keeps a duplicate of the descriptor it maps (a heap arena, a SharedMemory): what
    # points at the same object as a kept descriptor is kept too.
    kept_targets = {now[fd] for fd in kept if fd in now}
    new = {fd: target for fd, target in new.items()
           if fd not in kept and target not in kept_targets and not _library_file(fd, target)}
    sockets = _describe_sockets({fd for fd, t in new.items() if t.startswith("socket:")})
    by_target: dict[str, list[int]] = {}
    for fd, target in sorted(new.items()):
        by_target.setdefault(target, []).append(fd)
    found = []
    for target, fds in by_target.items():
        what = f"socket {sockets[fds[0]]}" if fds[0] in sockets else target
        numbers = ", ".join(map(str, fds))
        found.append(f"open file descriptor{'s' if len(fds) > 1 else ''} {numbers}: {what} "
                     "(close it)")
    return found


def _shm_entries() -> frozenset[str]:
    """The names in ``/dev/shm`` (empty where there is no such directory)."""
    try:
        return frozenset(os.listdir(_SHM_DIR))
    except OSError:
        return frozenset()


def _holders(paths: set[str]) -> dict[str, set[int]]:
    """Which processes have each of ``paths`` open or mapped (those of other users unread)."""
    held: dict[str, set[int]] = {path: set() for path in paths}
    try:
        entries = os.listdir("/proc")
    except OSError:  # a /dev/shm without /proc (a BSD): nobody can be seen holding anything
        return held
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):  # closed since the listing
                    target = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if target in held:
                        held[target].add(int(entry))
            with open(f"/proc/{entry}/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    path = line.rstrip("\n").split(maxsplit=5)[5:]
                    if path and path[0] in held:
                        held[path[0]].add(int(entry))
        except OSError:  # it ended, or it is not ours to read
            continue
    return held


def _shm_leftovers(base: Snapshot, ours: set[int]) -> list[str]:
    """One line per new ``/dev/shm`` entry held by ``ours`` (pids) or by nobody."""
    # Named semaphores are multiprocessing's to unlink, and orphaned ones are most often a
    # killed kernel's from elsewhere on the machine (see the module docstring).
    new = {name for name in _shm_entries() - base.shm if not name.startswith("sem.")}
    mine = set()
    for name in new:
        try:
            if os.stat(f"{_SHM_DIR}/{name}").st_uid == os.getuid():
                mine.add(name)
        except OSError:  # unlinked meanwhile
            continue
    if not mine:
        return []
    holders = _holders({f"{_SHM_DIR}/{name}" for name in mine})
    found = []
    for name in sorted(mine):
        pids = holders[f"{_SHM_DIR}/{name}"]
        if pids and not pids & ours:
            continue  # another program's, still in use
        by = f"held by pid {', '.join(map(str, sorted(pids)))}" if pids else "open nowhere"
        found.append(f"{_SHM_DIR}/{name} ({by}; unlink() it, e.g. SharedMemory.unlink())")
    return found


# --- the check ---------------------------------------------------------------------------------

def snapshot() -> Snapshot:
    """Record what is alive and open now, to compare with later."""
    return Snapshot(
        pids=frozenset(p.pid for p in _children()),
        thread_idents=frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
        loop_ids=frozenset(id(loop) for loop in _running_loops()),
        fds=frozenset(_open_fds().items()),
        shm=_shm_entries(),
    )


def leftovers(baseline: Snapshot | None = None) -> list[str]:
    """Describe, one line each, what is alive or open now that was not at ``baseline``.

    Raises:
        TypeError: if ``baseline`` is not a ``Snapshot``.
    """
    base = _BASELINE if baseline is None else _checked(baseline)
    found: list[str] = []
    children = _children()
    for child in children:
        if child.pid in base.pids:
            continue
        try:
            what = " ".join(child.cmdline())[:100] or child.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.append(f"child process {child.pid}: {what}")
    pool = _pool_threads()
    for t in threading.enumerate():
        if (t is threading.main_thread() or t.ident in base.thread_idents or not t.is_alive()
                or type(t).__module__.startswith("ipykernel")):
            continue
        if t in pool:
            found.append(f"thread-pool worker {t.name!r} (shut the executor down)")
        elif not t.daemon:
            found.append(f"non-daemon thread {t.name!r}")
    kernel = {t.ident for t in threading.enumerate() if type(t).__module__.startswith("ipykernel")}
    own = _own_loop()
    for loop in _running_loops():
        # A kernel (ipykernel 7) runs loops on its own helper threads, some started lazily
        # after the baseline (JupyterLab opens a "subshell" thread for widgets): a loop on a
        # thread that was already alive, or on one of the kernel's threads, is not ours.
        thread_id = getattr(loop, "_thread_id", None)
        if (loop is own or id(loop) in base.loop_ids or thread_id in base.thread_idents
                or thread_id in kernel):
            continue
        found.append(f"running event loop {loop!r}")
    found += _fd_leftovers(base)
    ours = {os.getpid(), *(c.pid for c in children)}
    found += _shm_leftovers(base, ours)
    return found


def _checked(baseline: object) -> Snapshot:
    """``baseline`` if it is a Snapshot; else a TypeError that says where one comes from."""
    if not isinstance(baseline, Snapshot):
        raise TypeError(f"baseline must be a Snapshot, not {baseline!r}: take one with "
                        "testing.snapshot() before the code under test runs")
    return baseline


def assert_clean(baseline: Snapshot | None = None, *, timeout: float = 5.0) -> None:
    """Raise ``AssertionError`` naming everything started or opened since ``baseline`` and
    still alive or open.

    Args:
        baseline: what was alive before; by default, what was alive when this module was
            first imported.
        timeout: how long, in seconds, things that are shutting down may take to go.

    Raises:
        AssertionError: one line per leftover (see the module docstring).
        TypeError: if ``baseline`` is not a ``Snapshot``.
        ValueError: if ``timeout`` is negative or NaN.
    """
    if baseline is not None:
        _checked(baseline)
    deadline = time.monotonic() + check_seconds(timeout)
    collected = False
    while True:
        found = leftovers(baseline)
        if not found or time.monotonic() >= deadline:
            break
        if not collected:
            # A pool, socket or pipe caught in a reference cycle closes its descriptors only
            # when the cyclic collector frees it: run it once rather than wait for it.
            gc.collect()
            collected = True
        time.sleep(0.02)
    if found:
        raise AssertionError("left running or open:\n  " + "\n  ".join(found))


def wait_blocked(thread: threading.Thread, function: str, *, timeout: float = 5.0) -> list[str]:
    """Wait until ``thread``'s stack shows it inside ``function``; return that stack.

    The positive way to check that a thread is blocked where it should be (a producer in
    ``Condition.wait`` under ``put``, a getter in ``get``): asserting that an event was *not*
    set within some time also passes when the other thread was merely not scheduled yet. The
    stack is read from ``sys._current_frames()`` until a frame of ``function`` (a code name,
    or ``"Class.method"`` for a qualified name) is on it.

    Args:
        thread: a started thread.
        function: the function the thread must be in, e.g. ``"wait"`` or ``"Slot.put"``.
        timeout: how long to wait, in seconds.

    Returns:
        The thread's stack, innermost frame last, as ``"qualname:line"`` strings.

    Raises:
        TimeoutError: if the thread was not seen inside ``function`` in time, with its stack.
        ValueError: if the thread was never started, or ``timeout`` is negative or NaN.
        TypeError: if ``thread`` is not a ``threading.Thread``.
    """
    if not isinstance(thread, threading.Thread):
        raise TypeError(f"wait_blocked() watches a threading.Thread, not {thread!r}: pass the "
                        "Thread object you started")
    if thread.ident is None:
        # Its stack would be empty until it starts: without this, the wait would time out
        # and blame a thread that was simply never started.
        raise ValueError(f"{thread.name} has not been started: start() it before waiting "
                         "for it to block")
    deadline = time.monotonic() + check_seconds(timeout)
    stack: list[str] = []
    while True:
        frame = sys._current_frames().get(thread.ident or -1)
        stack = []
        while frame is not None:
            stack.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
            frame = frame.f_back
        stack.reverse()
        names = {entry.rsplit(":", 1)[0] for entry in stack}
        if function in names or any(n.rsplit(".", 1)[-1] == function for n in names):
            return stack
        if time.monotonic() >= deadline or not thread.is_alive():
            raise TimeoutError(f"{thread.name} was not seen in {function} within {timeout} s; "
                               f"its stack: {stack or 'none (it has ended)'}")
        time.sleep(0.001)  # a poll of the stack, not a guess at how long anything takes


class clean:
    """Context manager: ``with clean(): ...`` asserts the block left nothing running."""

    def __enter__(self) -> Snapshot:
        self.baseline = snapshot()
        return self.baseline

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert_clean(self.baseline)


# --- nothing listens beyond loopback -----------------------------------------------------------

@dataclass(frozen=True)
class Listener:
    """A socket that waits for others to reach it: a listening TCP socket or a bound UDP one.

    Attributes:
        pid: the process that holds it.
        process: that process's name.
        protocol: ``"TCP"`` or ``"UDP"``.
        address: the local IP address it is bound to (``"0.0.0.0"`` and ``"::"`` mean every
            interface).
        port: the local port.
    """

    pid: int
    process: str
    protocol: str
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach it: 127.0.0.0/8 or ::1 (also IPv4-mapped)."""
        try:
            ip = ipaddress.ip_address(self.address.split("%", 1)[0])
        except ValueError:
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or (mapped is not None and mapped.is_loopback)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"pid {self.pid} ({self.process}): {self.protocol} {host}:{self.port}"


def listening_sockets() -> list[Listener]:
    """Every TCP socket listening and UDP socket bound, in this process and all its descendants.

    A UDP socket counts when it has a local port and no fixed peer (it takes datagrams from
    anyone). Processes that end, or whose sockets may not be read, while this looks are
    skipped. In a notebook the list includes the kernel's own ZMQ sockets, which Jupyter binds
    to 127.0.0.1 unless told otherwise.
    """
    me = psutil.Process()
    found = []
    for proc in [me, *me.children(recursive=True)]:
        try:
            name = proc.name()
            conns = _connections(proc, "inet")
        except (psutil.Error, OSError, NotImplementedError):
            continue
        for c in conns:
            if not c.laddr or not c.laddr[1]:
                continue  # not bound yet
            if c.type == socket.SOCK_STREAM and c.status == psutil.CONN_LISTEN:
                protocol = "TCP"
            elif c.type == socket.SOCK_DGRAM and not c.raddr:
                protocol = "UDP"
            else:
                continue
            found.append(Listener(proc.pid, name, protocol, c.laddr[0], c.laddr[1]))
    return sorted(found, key=lambda s: (s.pid, s.protocol, s.port))


def assert_loopback_only() -> list[Listener]:
    """Raise ``AssertionError`` if this process or a descendant listens beyond loopback.

    The course's servers bind 127.0.0.1 (or ::1) on a port the OS picks, so that nothing on
    the network can reach them. Call this in a cell (or a test) while the servers run.

    Returns:
        The listening sockets, all on loopback.

    Raises:
        AssertionError: naming each process, address and port that other machines could reach.
    """
    listening = listening_sockets()
    exposed = [s for s in listening if not s.loopback]
    if exposed:
        raise AssertionError(
            "listening beyond loopback (bind 127.0.0.1 or ::1 instead, e.g. "
            "sock.bind((\"127.0.0.1\", 0)), or pass host=\"127.0.0.1\"):\n  "
            + "\n  ".join(map(str, exposed)))
    return listening


_BASELINE = snapshot()
