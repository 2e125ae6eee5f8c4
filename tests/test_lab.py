"""The chapters as a reader uses them: a real JupyterLab, driven by Playwright in Chromium.

`make test-lab` runs this (marker ``lab``; `make test` leaves it out). One JupyterLab serves
copies of every chapter (see ``lab/server.py``); each chapter then gets a fresh browser page
and kernel, and goes through what readers do:

1. **Interrupt**: Run All, and once the chapter's long cell (``Chapter.interrupt``) has run
   for ``interrupt_after`` seconds, interrupt the kernel with the request the toolbar's
   button makes (timed from a marker that a hook inside the kernel writes as the cell
   starts, never from the page, whose timers run late while it renders: see
   ``lab/interrupt.py``), so the interrupt lands inside its cell even on a busy machine, or
   is not sent and the test says the cell was over. That cell must show the
   interruption; a new cell added at the end (``CLEAN_CHECK``) must then pass
   ``testing.assert_clean()``: nothing the chapter started survives the interrupt. It also
   checks that the kernel imports the package from this worktree's ``src``.
2. **Restart mid-chapter**: Kernel > Restart Kernel and Run All Cells. No cell may show an
   error, every cell must have run and every widget must have rendered (no "Loading
   widget..." or "Error displaying widget" left).
3. **Press every button**: each widget of a kind in ``WIDGETS`` is found on the page and
   pressed once; its picture must grow while it runs and its summary must appear
   (``lab/presses.py``). ``Chapter.press`` says how many of each kind the chapter shows.
4. **Run All again** in the same kernel: the same checks again; the chapter's own last cell
   (``assert_clean()``) checks that the second run left nothing behind either.

A self-test runs a notebook broken on purpose (``BROKEN_CELLS``: an error, a cell never
reached, a widget that cannot render, a harmless warning on stderr) and expects the checks to
see each fault and nothing else, so a JupyterLab upgrade cannot blind them unnoticed.

Screenshots of each step go to ``build/lab/<chapter>/``; the folder is kept, and named in
the failure, when a chapter fails (set ``CONCLAB_LAB_KEEP=1`` to keep it always). The
server's log is ``build/lab/server.log``. Every wait has a deadline and the whole chapter a
pytest-timeout, so a hang fails the chapter; the fixtures stop page, kernel, browser and
server on any outcome. Without Chromium or Playwright the checks skip, saying why.

How to extend:

- **A new chapter**: add one line to ``CHAPTERS``: a line of text from its longest cell
  (one that runs at least ~0.5 s; the interrupt lands ``interrupt_after`` s into it) and how
  many widgets of each ``WIDGETS`` kind it shows. ``test_every_chapter_is_configured`` (run
  by `make test`) fails until the line is there.
- **A new kind of widget with a run or step button**: add a ``Pressable`` to ``WIDGETS``
  (``lab/presses.py``): the CSS of its box, the button's text, what must multiply after a
  press, the text shown when done and, for a button that starts a run, the text shown while
  it runs; optionally values for its labelled inputs and buttons to press first (a reset).
  Count it in the chapters' ``press``; until a chapter shows it, add a cell that shows one to
  ``DEMO_CELLS`` so ``test_widget_kinds_no_chapter_shows_yet`` presses it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from lab.interrupt import CellInterrupter
from lab.presses import Pressable, boxes, press

ROOT = Path(__file__).resolve().parent.parent
# CONCLAB_LAB_NOTEBOOKS points the lab at another folder of chapters (a scratch copy, say).
NOTEBOOKS = Path(os.environ.get("CONCLAB_LAB_NOTEBOOKS", ROOT / "notebooks")).resolve()
BUILD = ROOT / "build" / "lab"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, as in tests/test_book.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT = 240.0      # seconds one Run All may take (nbval: 5-50 s per chapter here)
CHAPTER_TIMEOUT = 600    # seconds for a whole chapter, all four steps


@dataclass(frozen=True)
class Chapter:
    """How the lab drives one chapter.

    Attributes:
        interrupt: text that occurs in exactly one code cell: the long cell to interrupt.
        interrupt_after: seconds that cell runs before the interrupt button is pressed.
        press: widget kind (a key of ``WIDGETS``) -> how many the chapter shows.
    """

    interrupt: str
    interrupt_after: float = 0.3
    press: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


WIDGETS: dict[str, Pressable] = {
    # conclab.playground.Playground: 0.5 s per worker, so "running" shows for 0.3 s or more
    # (the first live frame comes after 0.2 s): the watch, every 50 ms, sees it.
    "playground": Pressable(
        root=".widget-vbox", button="run", grows="g[data-lane] rect", running=r"running: \d",
        done=r"workers: [\d.]+ s; one worker, same work: [\d.]+ s; speed-up [\d.]+x",
        inputs=MappingProxyType({"seconds": "0.5"})),
    # conclab.widgets.SchedulerStepper: shows its whole run; reset, then one step draws one.
    "stepper": Pressable(
        root=".widget-vbox", button="step", grows="g[data-lane] rect",
        done=r"steps run\s+1\b", first=("reset",)),
}

CHAPTERS: dict[str, Chapter] = {
    "00_start_here": Chapter("playgrounds = {}", press={"playground": 3}),
    # Mid-way through the pools of 1, 2 and 4 workers (about a second): each pool's with
    # block must stop its worker processes.
    "01_processes": Chapter("runs = {w: pool_run(w) for w in (1, 2, 4)}", interrupt_after=0.3,
                            press={"playground": 1}),
    # No cell runs long here: this one (two CPU-bound threads, then one) takes about 0.7 s.
    "02_threads": Chapter("cpu_run, cpu_busy = timed(workloads.run", interrupt_after=0.15,
                          press={"playground": 1}),
    "03_coroutines": Chapter("task_storm(100_000)", press={"playground": 1}),
    "04_costs": Chapter("table = costs.measure(quick=True)", interrupt_after=1.0),
    # Interrupted while it times four queues (about half a second), child processes included.
    "05_queues": Chapter("rows = pipelines.compare(", interrupt_after=0.1),
    # Interrupted while the fetcher (on the loop) and the cruncher (a process) work together;
    # the with block stops both, and the interrupt reaches the cruncher's process too.
    "06_actors": Chapter("fetcher.tell((\"fetch\", page))", interrupt_after=0.1),
    # Interrupted while publishers flood a slow subscriber under each policy.
    "07_pubsub": Chapter("flooded = {policy: flood(policy)", interrupt_after=0.1),
    # No cell runs long here: the switch costs (about 0.2 s) are its longest measurement.
    "08_scheduler": Chapter("readings = collections.defaultdict(list)", interrupt_after=0.05,
                            press={"stepper": 1}),
    # Mid-way through the four placements: a server and its actors are up, clients are busy.
    "09_fusion": Chapter("results = {p.name: await measure(p)", interrupt_after=1.0),
    # Mid-way through the course's own round trips (a child started, 3,000 trips): everything
    # the chapter keeps across cells (children, the Dask cluster, ZeroMQ contexts) is closed.
    "10_beyond_one_machine": Chapter("trips[\"conclab ProcessQueue ping-pong\"]",
                                     interrupt_after=0.2),
}

# Typed into a new last cell after the interrupt. The path check proves the server's kernels
# import the package under test, not some installed copy.
CLEAN_CHECK = f"""import os, conclab
from conclab import testing
assert os.path.realpath(conclab.__file__).startswith({str((ROOT / "src").resolve()) + os.sep!r})
testing.assert_clean()"""


def _chapters() -> list[Path]:
    """Every chapter notebook, NN_*.ipynb, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


# --- the configuration (no browser; `make test` runs these) ---------------------------------


def test_every_chapter_is_configured() -> None:
    assert sorted(CHAPTERS) == [nb.stem for nb in _chapters()], (
        "every chapter needs a line in CHAPTERS (tests/test_lab.py), and only chapters")


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_configuration_matches_the_chapter(name: str) -> None:
    import nbformat

    chapter = CHAPTERS[name]
    cells = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
    hits = [c for c in cells if c.cell_type == "code" and chapter.interrupt in c.source]
    assert len(hits) == 1, f"{len(hits)} code cells of {name} contain {chapter.interrupt!r}"
    assert set(chapter.press) <= set(WIDGETS), f"unknown widget kinds in {name}"


# --- the chapters in JupyterLab ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _left_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Overrides conftest's check, which would count Playwright's threads and Chromium's
    helper processes: after a chapter, the server must have no process left (its kernel, or
    anything the kernel started). What runs inside a kernel, CLEAN_CHECK and the chapters'
    last cells check.
    """
    yield
    if "lab_server" in request.fixturenames:
        request.getfixturevalue("lab_server").assert_no_children()


@pytest.fixture(scope="session")
def lab_browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; skips when either is absent."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One JupyterLab serving copies of every chapter; stopped at the end, whatever happens."""
    pytest.importorskip("jupyterlab")
    from lab.server import LabServer

    with LabServer(_chapters(), tmp_path_factory.mktemp("lab"), BUILD / "server.log") as server:
        yield server


@pytest.mark.lab
@pytest.mark.timeout(CHAPTER_TIMEOUT)
@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_chapter_in_jupyterlab(lab_browser: Any, lab_server: Any, name: str) -> None:
    chapter, shots = CHAPTERS[name], BUILD / name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with _opened(lab_browser, lab_server, name, shots) as notebook:
        _interrupt_then_check(notebook, chapter)
        notebook.restart_and_run_all(RUN_TIMEOUT)
        notebook.log("restarted the kernel mid-chapter and ran all cells")
        notebook.check_run("Run All after a restart")
        notebook.screenshot("after-restart-and-run-all")
        _press_every_button(notebook, chapter)
        notebook.run_all(RUN_TIMEOUT)
        notebook.log("ran all cells a second time in the same kernel")
        notebook.check_run("second Run All in the same kernel")
        notebook.screenshot("after-second-run-all")
    if not os.environ.get("CONCLAB_LAB_KEEP"):
        shutil.rmtree(shots)


# A notebook broken in each way the checks look for; the self-test below must see each one.
BROKEN_CELLS = (
    "import ipywidgets\nipywidgets.IntSlider(description='fine')",
    "from IPython.display import display\n"
    "view = {'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}\n"
    "display({'application/vnd.jupyter.widget-view+json': view}, raw=True)",
    "import warnings\nwarnings.warn('output on stderr is no error')",
    "raise RuntimeError('broken on purpose')",
    "print('never runs')",
)


@pytest.mark.lab
@pytest.mark.timeout(CHAPTER_TIMEOUT)
def test_the_checks_see_a_broken_notebook(lab_browser: Any, lab_server: Any) -> None:
    name = "zz_broken"
    shots = _scratch_notebook(lab_server, name, BROKEN_CELLS)
    with _opened(lab_browser, lab_server, name, shots) as broken:
        # An interrupt due after a cell has ended is not sent, and says so (a late interrupt
        # lands in the kernel's own code and loses a cell's reply: lab/interrupt.py).
        late = CellInterrupter(lab_server, broken.path, "warnings.warn(", after=5.0)
        try:
            broken.run_all(RUN_TIMEOUT)
        finally:
            outcome = late.close()
        assert outcome.seen and outcome.interrupted_after is None, outcome
        assert outcome.missed and outcome.missed.startswith("the cell was over"), outcome
        assert broken.errors() == ["cell 4 `raise RuntimeError('broken on purpose')` raised "
                                   "RuntimeError: broken on purpose"]
        assert broken.unrun() == ["cell 5 `print('never runs')`"]
        problems = broken.widget_problems(timeout=5)
        assert len(problems) == 1 and "widget" in problems[0], problems
        with pytest.raises(AssertionError, match="broken on purpose"):
            broken.check_run("self-test")
    shutil.rmtree(shots)


# A notebook showing a widget of each kind no chapter shows yet, pressed like a chapter's.
DEMO_CELLS = (
    "from conclab import scheduler\nfrom conclab.widgets import SchedulerStepper\n\n"
    "def two_sleepers(s):\n    def worker(n):\n        for _ in range(n):\n"
    "            yield from scheduler.sleep(0.01)\n"
    "    s.spawn(worker(2), name='a')\n    s.spawn(worker(3), name='b')\n\n"
    "SchedulerStepper(two_sleepers)",
)
DEMO = Chapter(interrupt="", press={"stepper": 1})


@pytest.mark.lab
@pytest.mark.timeout(CHAPTER_TIMEOUT)
def test_widget_kinds_no_chapter_shows_yet(lab_browser: Any, lab_server: Any) -> None:
    name = "zz_demo"
    shots = _scratch_notebook(lab_server, name, DEMO_CELLS)
    with _opened(lab_browser, lab_server, name, shots) as demo:
        demo.run_all(RUN_TIMEOUT)
        demo.check_run("Run All")
        _press_every_button(demo, DEMO)
    shutil.rmtree(shots)


def _scratch_notebook(server: Any, name: str, cells: tuple[str, ...]) -> Path:
    """Write a notebook of ``cells`` into the server's folder; return its screenshot folder."""
    import nbformat

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(notebook, server.root / f"{name}.ipynb")
    shots = BUILD / name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    return shots


class _opened:
    """Context manager: a chapter open in a new page; on failure a screenshot and a note."""

    def __init__(self, browser: Any, server: Any, name: str, shots: Path) -> None:
        self.browser, self.server, self.name, self.shots = browser, server, name, shots
        self.errors: list[str] = []

    def __enter__(self) -> Any:
        from lab.notebook import Notebook

        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(30_000)
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)[:300]))
        began = time.monotonic()
        self.notebook = Notebook(page, self.server, f"{self.name}.ipynb", self.shots,
                                 _logger(self.name, began))
        self.notebook.open()
        self.notebook.log("opened; kernel idle")
        return self.notebook

    def __exit__(self, kind: type | None, error: BaseException | None, _: object) -> None:
        try:
            if error is not None:
                self._keep_evidence(error)
        finally:
            self.context.close()
            self.server.shutdown_kernels()

    def _keep_evidence(self, error: BaseException) -> None:
        """Screenshot the failure and say where the pictures and the server log are."""
        try:
            shown = self.notebook.errors()
            if shown:  # the first error output, rather than wherever the page was scrolled
                self.notebook.show(shown[0])
            self.notebook.screenshot("failure")
        except Exception as exc:  # a dead page must not hide the real failure
            error.add_note(f"(no failure screenshot: {type(exc).__name__})")
        error.add_note(f"screenshots of {self.name}: {self.shots}/")
        error.add_note(f"JupyterLab's log: {BUILD / 'server.log'}")
        if self.errors:
            error.add_note("page errors: " + self.notebook.redacted("; ".join(self.errors[:5])))


def _logger(name: str, began: float) -> Callable[[str], None]:
    """Print progress lines with seconds since the chapter opened (pytest shows them)."""
    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {name}: {line}", flush=True)
    return log


def _interrupt_then_check(notebook: Any, chapter: Chapter) -> None:
    """Run All, interrupt the long cell, then check in a new cell that nothing survived."""
    target = notebook.find(chapter.interrupt)
    executed = notebook.state()[1]
    interrupter = CellInterrupter(notebook.server, notebook.path, chapter.interrupt,
                                  chapter.interrupt_after)
    try:
        notebook.menu("Run", "runmenu:run-all")
        notebook.wait_run(executed, RUN_TIMEOUT)
    finally:
        outcome = interrupter.close()
    assert outcome.seen, f"{notebook.path}: the kernel never announced the cell to interrupt"
    assert outcome.missed is None, (
        f"{notebook.path}: not interrupted: {outcome.missed}; pick a longer cell or delay")
    cell = notebook.cells()[target]
    assert any(e.startswith(("KeyboardInterrupt", "CancelledError")) for e in cell.errors), (
        f"{cell.describe()} was not interrupted (errors: {list(cell.errors)}); it ended "
        f"before the interrupt {chapter.interrupt_after} s in? pick a longer cell or delay")
    notebook.log(f"interrupted {cell.describe()} {outcome.interrupted_after:.2f} s in "
                 f"({cell.errors[0].split(':')[0]})")
    notebook.scroll_to(target)
    notebook.screenshot("interrupted")
    check = notebook.append_and_run(CLEAN_CHECK, timeout=60)
    assert check.count is not None and not check.errors, (
        f"after interrupting {cell.describe()}: {'; '.join(check.errors) or 'check not run'}")
    notebook.log("assert_clean() passed after the interrupt")


def _press_every_button(notebook: Any, chapter: Chapter) -> None:
    """Press each widget of every kind once; the chapter shows ``chapter.press`` of each."""
    for kind_name, kind in WIDGETS.items():
        found = boxes(notebook.page, notebook.css, kind)
        expected = chapter.press.get(kind_name, 0)
        assert found.count() == expected, (
            f"{notebook.path}: {found.count()} {kind_name} widgets on the page, CHAPTERS says "
            f"{expected}")
        for i in range(expected):
            pressed = press(notebook.page, found.nth(i), kind, quiet=notebook.wait_idle,
                            first_frame=partial(notebook.screenshot, f"{kind_name}-running"))
            notebook.log(f"pressed {kind_name} {i + 1}: {pressed.counts[0]} -> {pressed.final} "
                         f"{kind.grows!r} ({len(pressed.counts)} samples), "
                         f"{pressed.seconds:.1f} s")
        if expected:
            notebook.wait_idle()
