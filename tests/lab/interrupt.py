"""Interrupt a chapter's kernel mid-way through one cell, timed from inside the kernel.

A reader presses the interrupt button while a long cell runs. The harness must do the same,
and on a busy two-core machine neither the page nor the kernel's ``execute_input`` can time it:

- the browser's main thread may be rendering earlier outputs (figures, replays) for half a
  second or more, so a timer started on the page fires late, and the interrupt lands in a
  later cell;
- ``execute_input`` is published before ipykernel and IPython have done their own work for
  the cell, which a starved kernel may still be doing 0.1 s later.

An interrupt that lands in the kernel's own code rather than the cell's is worse than a miss:
ipykernel logs "KeyboardInterrupt caught in kernel", never sends that cell's reply, and
JupyterLab shows the cell running forever (CI saw both: a class definition, then the target
cell itself, "still running after 180 s").

So ``CellInterrupter`` first registers, silently and through a kernel client of its own, an
IPython ``pre_run_cell`` hook that writes a marker file when the target cell is about to run
(and then unregisters itself; a restart removes it anyway). It starts its clock at the
marker, keeps watching the kernel's iopub channel, and ``after`` seconds later, if the cell is
not over yet, asks the server to interrupt the kernel (``POST api/kernels/<id>/interrupt``,
the request the toolbar's button makes, which also reaches the kernel's child processes). If
the cell is over by then, it does not interrupt and says so.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jupyter_client.blocking import BlockingKernelClient

from lab.server import LabServer


@dataclass
class Outcome:
    """What the interrupter saw: whether the cell started (the marker), when it interrupted
    (seconds after the marker), or why it did not."""

    seen: bool = False
    interrupted_after: float | None = None
    missed: str | None = None  # why it did not interrupt


# Run silently in the kernel before the run: a pre_run_cell hook that marks the target's start.
ARM = """def _lab_arm():
    import pathlib
    shell = get_ipython()

    def mark(info):
        if {text!r} in (info.raw_cell or ""):
            shell.events.unregister("pre_run_cell", mark)
            pathlib.Path({path!r}).write_text("started")

    shell.events.register("pre_run_cell", mark)
_lab_arm()
del _lab_arm
"""


class CellInterrupter:
    """Armed before a run; interrupts ``after`` s into the first cell whose code has ``text``.

    Args:
        server: the running ``LabServer``.
        notebook: the notebook's path on the server (its session names the kernel).
        text: a piece of the target cell's code.
        after: seconds into the cell, counted from its ``pre_run_cell`` (the marker).
    """

    def __init__(self, server: LabServer, notebook: str, text: str, after: float) -> None:
        self.server, self.text, self.after = server, text, after
        self.kernel_id = self._kernel_of(notebook)
        self.outcome = Outcome()
        self._stop = threading.Event()
        self._client = BlockingKernelClient()
        self._client.load_connection_file(
            str(server.workdir / "runtime" / f"kernel-{self.kernel_id}.json"))
        self._client.start_channels(shell=True, iopub=True, stdin=False, hb=False,
                                    control=False)
        self._subscribed()
        self.marker = server.workdir / f"started-{self.kernel_id}"
        self.marker.unlink(missing_ok=True)
        self._arm()
        self._thread = threading.Thread(target=self._watch, name="lab-interrupter", daemon=True)
        self._thread.start()

    def _kernel_of(self, notebook: str) -> str:
        for session in self.server.api("GET", "api/sessions"):
            if session.get("path") == notebook or session.get("notebook", {}).get(
                    "path") == notebook:
                return str(session["kernel"]["id"])
        raise AssertionError(f"no kernel session for {notebook}")

    def _subscribed(self, timeout: float = 30.0) -> None:
        """Return once our iopub subscription receives messages (ZeroMQ's slow joiner).

        A kernel_info request of our own makes the kernel publish busy/idle with our request
        as parent; seeing one proves the subscription is live. Repeated until seen.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ask = self._client.kernel_info()
            if self._answer(self._client.get_iopub_msg, ask, 1.0) is not None:
                while self._answer(self._client.get_shell_msg, None, 0.05) is not None:
                    pass  # drop the kernel_info replies: _arm reads this channel next
                return
        raise AssertionError(f"no iopub messages from kernel {self.kernel_id} in {timeout:.0f} s")

    def _arm(self, timeout: float = 30.0) -> None:
        """Register the kernel-side hook that writes the marker (silently: no count, no
        history, nothing on the page) and wait for the kernel's reply."""
        code = ARM.format(text=self.text, path=str(self.marker))
        ask = self._client.execute(code, silent=True, store_history=False)
        reply = self._answer(self._client.get_shell_msg, ask, timeout)
        assert reply is not None, f"kernel {self.kernel_id} did not answer in {timeout:.0f} s"
        assert reply["content"]["status"] == "ok", f"arming failed: {reply['content']}"

    @staticmethod
    def _answer(get: Callable[..., dict], ask: str | None, timeout: float) -> dict | None:
        """The first message from ``get`` whose parent is ``ask`` (any message if None)
        within ``timeout`` s, or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if ask is None or msg.get("parent_header", {}).get("msg_id") == ask:
                return msg
        return None

    def _next(self) -> dict | None:
        try:
            return self._client.get_iopub_msg(timeout=0.02)
        except queue.Empty:
            return None

    def _watch(self) -> None:
        outcome, parent, started = self.outcome, None, None
        while not self._stop.is_set():
            msg = self._next()
            if (msg and parent is None and msg["header"]["msg_type"] == "execute_input"
                    and self.text in msg["content"].get("code", "")):
                parent = msg["parent_header"]["msg_id"]
            if started is None and self.marker.exists():
                started, outcome.seen = time.monotonic(), True
            if started is None:
                continue  # the marker is written before the cell runs, so before its idle
            if (msg and parent is not None and msg["header"]["msg_type"] == "status"
                    and msg["parent_header"].get("msg_id") == parent
                    and msg["content"]["execution_state"] == "idle"):
                outcome.missed = (f"the cell was over {time.monotonic() - started:.2f} s in, "
                                  f"before the interrupt due at {self.after} s")
                return
            if time.monotonic() - started >= self.after:
                self.server.api("POST", f"api/kernels/{self.kernel_id}/interrupt")
                outcome.interrupted_after = time.monotonic() - started
                return

    def close(self, timeout: float = 10.0) -> Outcome:
        """Stop watching (if it still is) and return what happened."""
        self._stop.set()
        self._thread.join(timeout)
        self._client.stop_channels()
        self.marker.unlink(missing_ok=True)
        return self.outcome
