"""One chapter open in JupyterLab, driven the way a reader drives it.

Actions go through what a reader uses: the Run and Kernel menus, the restart dialog, the
keyboard to add and run a cell (the interrupt, timed from inside the kernel, is in
``lab/interrupt.py``). What the cells *show* is read from JupyterLab's own notebook model
(``window.jupyterapp``; the server exposes it): each code cell's execution state and count
and each output's type, so an error is told apart from a warning on stderr (the page renders
both alike) and a cell that never ran is noticed.

Every wait has a deadline and fails with what it was waiting for. A run is over when the
kernel is idle and no cell is queued or running, twice in a row; it has *started* once a cell
is queued or the kernel has received a new ``execute_input`` (counted on the page), so a wait
that begins before JupyterLab has queued anything cannot mistake the quiet for the end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.server import LabServer, redact

POLL = 0.2  # seconds between looks at the page while waiting
# Finds the notebook panel by path; every script below starts with it.
_PANEL = """const panel = (path) => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
        if (w.context && w.context.path === path) return w;
    }
    return null;
};"""
_READY = _PANEL + """ return (path) => {
    const p = panel(path), kernel = p?.sessionContext.session?.kernel;
    if (!kernel || kernel.status !== 'idle' || !p.content.widgets.length) return false;
    if (window.__labExecuted === undefined) {  // count execute_input, across restarts
        window.__labExecuted = 0;
        p.sessionContext.iopubMessage.connect((_, msg) => {
            if (msg.header.msg_type === 'execute_input') window.__labExecuted += 1;
        });
    }
    return true;
};"""
_STATE = _PANEL + r""" return (path) => {
    const p = panel(path), kernel = p.sessionContext.session?.kernel;
    const cells = p.content.widgets.map((cell, index) => {
        const m = cell.model, source = m.sharedModel.getSource();
        const view = {index, code: m.type === 'code', head: source.split('\n')[0],
                      source, running: false, count: null, errors: []};
        if (!view.code) return view;
        view.running = m.executionState === 'running';
        view.count = m.executionCount;
        for (let i = 0; i < m.outputs.length; i++) {
            const o = m.outputs.get(i).toJSON();
            if (o.output_type === 'error') view.errors.push({ename: o.ename, evalue: o.evalue});
        }
        return view;
    });
    return {kernel: kernel ? kernel.status : 'none', executed: window.__labExecuted || 0,
            cells};
};"""
_WIDGETS = _PANEL + """ return (path) => {
    // Each widget view the kernel sent, and what its place on the page shows.
    const mime = 'application/vnd.jupyter.widget-view+json';
    const seen = {sent: 0, shown: 0, loading: 0, failed: []};
    for (const cell of panel(path).content.widgets) {
        if (cell.model.type !== 'code') continue;
        const children = cell.outputArea.widgets;  // one per output, in the model's order
        for (let i = 0; i < cell.model.outputs.length; i++) {
            if (!cell.model.outputs.get(i).data[mime]) continue;
            seen.sent += 1;
            const node = children[i]?.node.querySelector('.jp-OutputArea-output');
            const text = node ? node.textContent.trim() : '';
            if (!node) continue;
            const hidden = node.classList.contains('lm-mod-hidden');  // an empty model id
            if (text.startsWith('Loading widget')) seen.loading += 1;
            else if (text.startsWith('Error displaying')) seen.failed.push(text.slice(0, 200));
            else if (node.querySelector('.jupyter-widgets') || hidden) seen.shown += 1;
        }
    }
    return seen;
};"""
_SCROLL = _PANEL + """ return ([path, index]) => {
    panel(path).content.widgets[index].node.scrollIntoView({block: 'center'});
};"""


def _script(body: str) -> str:
    """A page function from a script that returns one (so helpers stay out of the global scope)."""
    return f"(arg) => (() => {{ {body} }})()(arg)"


@dataclass(frozen=True)
class Cell:
    """What one cell shows now."""

    index: int
    code: bool
    head: str
    source: str
    running: bool
    count: int | None
    errors: tuple[str, ...]

    def describe(self) -> str:
        """'cell 12 `first line`' (1-based, as JupyterLab's status bar counts)."""
        return f"cell {self.index + 1} `{self.head[:70]}`"


class Notebook:
    """A chapter open in a browser page, with the server that serves it.

    Args:
        page: a Playwright page (sync API).
        server: the running ``LabServer``.
        path: the notebook's file name in the server's root.
        shots: folder for screenshots; each is numbered in the order taken.
        log: where progress lines go (with seconds since the chapter opened).
    """

    def __init__(self, page: Any, server: LabServer, path: str, shots: Path,
                 log: Callable[[str], None]) -> None:
        self.page, self.server, self.path = page, server, path
        self.shots, self.log = shots, log
        self._shot = 0
        self.css = ".jp-NotebookPanel"  # narrowed to this notebook's panel by open()

    def _eval(self, script: str, arg: Any = None) -> Any:
        """Run one of the page functions above with this notebook's path (or ``arg``)."""
        return self.page.evaluate(_script(script), self.path if arg is None else arg)

    def open(self, timeout: float = 120.0) -> None:
        """Open the chapter and wait until its kernel is idle."""
        self.page.goto(self.server.page_url(self.path), timeout=timeout * 1000)
        self.page.wait_for_function(
            f"(path) => window.jupyterapp && ({_script(_READY)})(path)", arg=self.path,
            timeout=timeout * 1000, polling=200)
        self.css = "#" + self._eval(_PANEL + " return (path) => panel(path).id;")
        # More room for the chapter in the screenshots (a reader can fold the sidebar too).
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

    def state(self) -> tuple[str, int, list[Cell]]:
        """The kernel's status, how many cells it has started, and every cell."""
        raw = self._eval(_STATE)
        cells = [Cell(c["index"], c["code"], c["head"], c["source"], c["running"], c["count"],
                      tuple(f"{e['ename']}: {e['evalue']}" for e in c["errors"]))
                 for c in raw["cells"]]
        return raw["kernel"], raw["executed"], cells

    def cells(self) -> list[Cell]:
        """Every cell, as it shows now."""
        return self.state()[2]

    # --- what a reader does --------------------------------------------------------------

    def menu(self, top: str, command: str) -> None:
        """Pick a menu entry: ``top`` in the menu bar, then the entry for ``command``."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{top}$")).click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').click()

    def run_all(self, timeout: float) -> None:
        """Run > Run All Cells, and wait until the run is over."""
        executed = self.state()[1]
        self.menu("Run", "runmenu:run-all")
        self.wait_run(executed, timeout)

    def restart_and_run_all(self, timeout: float) -> None:
        """Kernel > Restart Kernel and Run All Cells..., confirm, and wait until it is over."""
        executed = self.state()[1]
        self.menu("Kernel", "runmenu:restart-and-run-all")
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        self.wait_run(executed, timeout)

    def append_and_run(self, code: str, timeout: float) -> Cell:
        """Add a code cell after the last one, type ``code``, run it (Ctrl+Enter); return it."""
        executed, count = self.state()[1], len(self.cells())
        last = self.page.locator(f"{self.css} .jp-Notebook .jp-Cell").last
        last.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Escape")  # command mode
        self.page.keyboard.press("b")  # insert a cell below
        self._until(lambda: len(self.cells()) == count + 1, "a new cell below the last")
        self.page.keyboard.press("Enter")  # edit it
        self.page.keyboard.insert_text(code)  # as pasted: no auto-indent or bracket closing
        self._until(lambda: self.cells()[-1].source == code, "the code typed into the new cell")
        self.page.keyboard.press("Control+Enter")  # run; stay put (no new empty cell)
        self.wait_run(executed, timeout)
        return self.cells()[-1]

    def _until(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds; fail naming ``what`` did not happen."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{self.path}: no {what} after {timeout:.0f} s"
            time.sleep(0.1)

    # --- waiting ---------------------------------------------------------------------------

    def wait_run(self, executed: int, timeout: float, cell_timeout: float = 180.0) -> None:
        """Wait until a run that started after ``executed`` inputs is over.

        Raises:
            AssertionError: if it does not start within 60 s, a cell runs longer than
                ``cell_timeout``, the whole run exceeds ``timeout`` or the kernel dies.
        """
        began = time.monotonic()
        started, quiet, current, since = False, 0, None, began
        while True:
            kernel, count, cells = self.state()
            running = [c for c in cells if c.running]
            started = started or bool(running) or count > executed
            if kernel == "dead":
                raise AssertionError(f"{self.path}: the kernel died")
            quiet = quiet + 1 if started and kernel == "idle" and not running else 0
            if quiet >= 2:
                return
            if running and running[0].index != current:
                current, since = running[0].index, time.monotonic()
            now = time.monotonic()
            if not started and now - began > 60:
                raise AssertionError(f"{self.path}: the run did not start within 60 s")
            if running and now - since > cell_timeout:
                raise AssertionError(f"{self.path}: {running[0].describe()} still running after "
                                     f"{cell_timeout:.0f} s")
            if now - began > timeout:
                where = running[0].describe() if running else f"kernel {kernel}"
                raise AssertionError(f"{self.path}: run not over after {timeout:.0f} s ({where})")
            time.sleep(POLL)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the kernel is idle, twice in a row a poll apart (after a button press)."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:
            kernel = self.state()[0]
            assert kernel != "dead", f"{self.path}: the kernel died"
            quiet = quiet + 1 if kernel == "idle" else 0
            assert time.monotonic() < deadline, f"{self.path}: kernel {kernel} after {timeout} s"
            time.sleep(POLL)

    # --- what the cells show ---------------------------------------------------------------

    def find(self, text: str) -> int:
        """Index of the one code cell whose source contains ``text``."""
        found = [c.index for c in self.cells() if c.code and text in c.source]
        assert len(found) == 1, f"{self.path}: {len(found)} code cells contain {text!r}"
        return found[0]

    def errors(self) -> list[str]:
        """One line per error output: the cell and the exception."""
        return [f"{c.describe()} raised {e}" for c in self.cells() for e in c.errors]

    def unrun(self) -> list[str]:
        """Code cells with source that have no execution count (not run, or aborted)."""
        return [c.describe() for c in self.cells()
                if c.code and c.source.strip() and c.count is None]

    def widget_problems(self, timeout: float = 30.0) -> list[str]:
        """Wait for every widget view to render; describe those that did not."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._eval(_WIDGETS)
            settled = not seen["loading"] and seen["shown"] + len(seen["failed"]) >= seen["sent"]
            if settled or time.monotonic() > deadline:
                break
            time.sleep(POLL)
        problems = [f"'{text}'" for text in seen["failed"]]
        if seen["loading"]:
            problems.append(f"{seen['loading']} widget(s) still 'Loading widget...' "
                            f"after {timeout:.0f} s")
        if seen["shown"] + seen["loading"] + len(seen["failed"]) < seen["sent"]:
            problems.append(f"{seen['sent']} widget views sent, {seen['shown']} rendered")
        return problems

    def check_run(self, what: str) -> None:
        """Assert that the last run raised nothing, ran every cell and rendered every widget."""
        errors = self.errors()
        if errors:
            self.show(errors[0])
        assert not errors, f"{self.path}, {what}: " + "; ".join(errors)
        unrun = self.unrun()
        assert not unrun, f"{self.path}, {what}: cells not run: {', '.join(unrun)}"
        problems = self.widget_problems()
        assert not problems, f"{self.path}, {what}: widgets: " + "; ".join(problems)

    # --- pictures --------------------------------------------------------------------------

    def show(self, error: str) -> None:
        """Scroll the cell an error line names into view (for the failure screenshot)."""
        match = re.match(r"cell (\d+) ", error)
        if match:
            self.scroll_to(int(match.group(1)) - 1)

    def scroll_to(self, index: int) -> None:
        """Scroll cell ``index`` (0-based) to the middle of the notebook's view."""
        self._eval(_SCROLL, [self.path, index])

    def screenshot(self, step: str) -> Path:
        """Save what the browser shows now as ``NN-step.png`` in the screenshot folder."""
        self._shot += 1
        path = self.shots / f"{self._shot:02d}-{step}.png"
        self.page.screenshot(path=str(path), timeout=30_000)
        return path

    def redacted(self, text: str) -> str:
        """``text`` without the server's token."""
        return redact(text, self.server)
