"""Checks of the rendered book: its configuration, and the built pages in headless Chromium.

Two kinds of test live here:

1. Configuration tests (no mark; `make test` runs them): the table of contents takes every
   chapter notebook, the README's Binder badge points where the book's launch buttons do, and
   the widget JavaScript the book asks for is the JavaScript `scripts/vendor_widgets.py`
   vendors.
2. Built-book tests (marked ``browser``; `make test-book` runs them after `make book`): the
   pages in ``notebooks/_build/html`` open in Debian's Chromium with the network cut off, show
   their figures and widgets, and ask for nothing but local files. They skip, saying why, when
   the book has not been built or Chromium is absent.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# CONCLAB_BOOK points the tests at another book folder (a scratch copy, say).
BOOK = Path(os.environ.get("CONCLAB_BOOK", ROOT / "notebooks")).resolve()
HTML = BOOK / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium from reaching for the network on its own (FACTS.md, Chromium).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOT = Path("/tmp/conclab-book-00_start_here.png")
# Generous: a 2-core machine under load parses the 3.6 MB widget bundle slowly.
RENDER_TIMEOUT_MS = 60_000
# A known Jupyter Book 1 bug: sphinx-thebe's inline config is emitted twice on every page.
# It is harmless (the launch button does not use thebe); any other page error fails a test.
KNOWN_PAGE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'


def _config() -> dict:
    """The book's _config.yml."""
    return yaml.safe_load((BOOK / "_config.yml").read_text())


def _chapters() -> list[Path]:
    """Every chapter notebook, NN_*.ipynb, in order."""
    return sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def _vendor_module() -> ModuleType:
    """scripts/vendor_widgets.py, imported by path (scripts/ is not a package)."""
    path = ROOT / "scripts" / "vendor_widgets.py"
    spec = importlib.util.spec_from_file_location("vendor_widgets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# --- configuration (no build needed) -------------------------------------------------------


def test_toc_lists_every_chapter_notebook():
    from sphinx.util.matching import patmatch
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(BOOK / "_toc.yml")
    assert (BOOK / f"{site_map.root.docname}.md").is_file(), "the toc's root page is missing"
    # The same matching Sphinx applies to a toc glob when it builds.
    listed = set(site_map)
    globs = site_map.globs()
    missing = [nb.name for nb in _chapters()
               if nb.stem not in listed and not any(patmatch(nb.stem, g) for g in globs)]
    assert not missing, f"chapters left out of notebooks/_toc.yml: {missing}"
    # And the glob must not sweep in anything but chapters (the root page, say).
    assert not any(patmatch(site_map.root.docname, g) for g in site_map.globs())


def test_readme_badge_matches_config():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md does not exist yet: nothing to compare the Binder badge with")
    config = _config()
    repo = urlparse(config["repository"]["url"])
    assert repo.netloc == "github.com", "Binder's gh/ provider needs a GitHub repository"
    owner, name = repo.path.strip("/").removesuffix(".git").split("/")
    binder = config["launch_buttons"]["binderhub_url"].rstrip("/")
    part = r"([^/?\s)\"'<>]+)"  # one path segment of a Markdown or HTML link
    badges = re.findall(re.escape(binder) + f"/v2/gh/{part}/{part}/{part}", readme.read_text())
    assert badges, f"README.md has no Binder badge linking to {binder}/v2/gh/..."
    for badge in badges:
        assert badge == (owner, name, config["repository"]["branch"]), (
            f"README's Binder badge points at {'/'.join(badge)}, the book at "
            f"{owner}/{name}/{config['repository']['branch']} (notebooks/_config.yml)")


def test_book_uses_only_vendored_javascript():
    vendor = _vendor_module()
    sphinx = _config()["sphinx"]["config"]
    scripts = list(sphinx["nb_ipywidgets_js"])
    # Relative to the static folder, never a URL: a CDN copy is blank offline.
    for src in [*scripts, sphinx["mathjax_path"]]:
        assert "://" not in src and not src.startswith("//"), src
        assert vendor.provides(src), f"{src} is not among the files vendor_widgets.py writes"
    # RequireJS first, then where the bundled modules live, then the bundle that renders.
    assert [Path(s).name for s in scripts] == ["require.js", "paths.js", "embed-amd.js"]
    # The static folder holding them is not _static: Jupyter Book 1 would put them on every page.
    static = sphinx["html_static_path"]
    assert vendor.DEFAULT_DEST.name in static and "_static" not in static


def test_a_failing_chapter_fails_the_build(tmp_path):
    import nbformat

    # The book's own configuration, on a one-chapter book whose chapter raises.
    for name in ("_config.yml", "_toc.yml", "intro.md"):
        shutil.copy(BOOK / name, tmp_path / name)
    chapter = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A broken chapter"),
        nbformat.v4.new_code_cell("raise RuntimeError('this chapter is broken')"),
    ])
    chapter.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}
    nbformat.write(chapter, tmp_path / "00_broken.ipynb")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(tmp_path)], capture_output=True,
                            text=True, timeout=240, check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0, "the build succeeded although a chapter raised"
    assert "00_broken.ipynb" in log and "this chapter is broken" in log


def test_vendor_check_notices_a_changed_file(tmp_path):
    vendor = _vendor_module()
    if not vendor.is_current(vendor.DEFAULT_DEST):
        pytest.skip("JavaScript not vendored yet (run scripts/vendor_widgets.py)")
    copy = tmp_path / "_vendor"
    shutil.copytree(vendor.DEFAULT_DEST, copy)
    assert vendor.is_current(copy)
    (copy / "widgets" / "embed-amd.js").write_text("/* tampered */")
    assert not vendor.is_current(copy)


# --- the built book --------------------------------------------------------------------------


@pytest.fixture
def built() -> Path:
    """The built site; skips when `make book` has not run."""
    if not (HTML / "00_start_here.html").is_file():
        pytest.skip(f"book not built ({HTML / '00_start_here.html'} missing): run `make book`")
    return HTML


@dataclass
class Visit:
    """What a browser saw while loading one page."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def remote(self) -> list[str]:
        """Requests that would have left the machine."""
        return [u for u in self.requests if urlparse(u).scheme not in ("file", "data", "blob")]


@pytest.fixture
def browser(built) -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright; skips when either is absent."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, page_file: Path, query: str = "") -> tuple[object, Visit]:
    """Load a built page with every non-file request recorded and refused."""
    visit = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(RENDER_TIMEOUT_MS)

    def route(r) -> None:
        """Let local files through; refuse (after recording) anything bound elsewhere."""
        if urlparse(r.request.url).scheme in ("file", "data", "blob"):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda r: visit.requests.append(r.url))
    page.on("requestfailed", lambda r: visit.failed.append(f"{r.url} ({r.failure})"))
    page.on("pageerror", lambda e: visit.errors.append(str(e)))
    page.goto(page_file.as_uri() + query, wait_until="load")
    return page, visit


def _wait_for_widgets(page) -> int:
    """Wait until every saved widget view on the page has been rendered; return how many."""
    # html-manager renders each view into a div.widget-subarea inserted before its script tag.
    rendered = """selector => Array.from(document.querySelectorAll(selector)).filter(v => {
            const area = v.previousElementSibling;
            return area && area.classList.contains('widget-subarea')
                && area.querySelector('.jupyter-widgets');
        }).length"""
    count = page.locator(WIDGET_VIEW).count()
    try:
        page.wait_for_function(f"([s, n]) => ({rendered})(s) === n", arg=[WIDGET_VIEW, count])
    except Exception as exc:  # playwright's TimeoutError; say what is missing instead
        done = page.evaluate(rendered, WIDGET_VIEW)
        raise AssertionError(
            f"{done} of {count} widgets rendered within {RENDER_TIMEOUT_MS / 1000:.0f} s "
            f"({type(exc).__name__}); scripts on the page: "
            f"{page.eval_on_selector_all('script[src]', 'ss => ss.map(s => s.src)')}") from None
    return count


def _box(locator) -> tuple[float, float]:
    """Rendered width and height of an element (0, 0 when it is not laid out)."""
    box = locator.bounding_box()
    return (box["width"], box["height"]) if box else (0.0, 0.0)


def _assert_offline_and_clean(visit: Visit) -> None:
    """Nothing left the machine, no local file was missing, no unexpected script error."""
    assert not visit.remote, f"requests that would leave the machine: {visit.remote}"
    assert not visit.failed, f"failed requests (missing local files?): {visit.failed}"
    errors = [e for e in visit.errors if not any(k in e for k in KNOWN_PAGE_ERRORS)]
    assert not errors, f"page errors: {errors}"


@pytest.mark.browser
def test_start_here_shows_figure_and_widgets_offline(browser, built):
    page, visit = _open(browser, built / "00_start_here.html")
    assert _wait_for_widgets(page) >= 1, "chapter 00 should show at least one widget"
    # The progress bar: rendered by the vendored html-manager, laid out with a real size.
    bar = page.locator(".jupyter-widgets.widget-hprogress, .jupyter-widgets.widget-vprogress")
    assert bar.count() >= 1, "no rendered progress bar on the page"
    width, height = _box(bar.first)
    assert width > 50 and height > 5, f"progress bar rendered at {width}x{height}"
    assert "Loading widget" not in page.inner_text("body")
    # The matplotlib figure: an <img> in a cell output that decoded to a real picture.
    figures = page.locator(".cell_output img")
    assert figures.count() >= 1, "no figure in chapter 00's outputs"
    natural = figures.first.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert natural[0] and natural[1] > 100 and natural[2] > 100, f"figure not decoded: {natural}"
    width, height = _box(figures.first)
    assert width > 100 and height > 100, f"figure shown at {width}x{height}"
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    _assert_offline_and_clean(visit)
    assert any(u.endswith("/_static/widgets/embed-amd.js") or "/_static/widgets/embed-amd.js?" in u
               for u in visit.requests), "the widgets did not come from the vendored copy"


@pytest.mark.browser
def test_every_chapter_page_renders_offline(browser, built):
    pages = [built / "intro.html"] + [built / f"{nb.stem}.html" for nb in _chapters()]
    missing = [p.name for p in pages if not p.is_file()]
    assert not missing, f"pages not built (is the toc missing them?): {missing}"
    for page_file in pages:
        page, visit = _open(browser, page_file)
        _wait_for_widgets(page)
        broken = page.evaluate(
            "() => Array.from(document.images).filter(i => !i.complete || !i.naturalWidth)"
            ".map(i => i.src)")
        assert not broken, f"{page_file.name}: images that did not load: {broken}"
        try:
            _assert_offline_and_clean(visit)
        except AssertionError as exc:
            raise AssertionError(f"{page_file.name}: {exc}") from None
        page.context.close()


@pytest.mark.browser
def test_search_finds_a_chapter(browser, built):
    page, visit = _open(browser, built / "search.html", "?q=concurrency")
    results = page.locator("#search-results li")
    results.first.wait_for()
    assert results.count() >= 1
    # Sphinx's search also fetch()es each hit's page for a summary, which Chromium refuses on
    # file:// (no CORS there): those local failures are expected, network requests are not.
    assert not visit.remote, f"requests that would leave the machine: {visit.remote}"


@pytest.mark.browser
def test_pages_have_navigation_and_launch_buttons(built):
    config = _config()
    repo, branch = config["repository"]["url"], config["repository"]["branch"]
    owner_name = urlparse(repo).path.strip("/")
    binder = config["launch_buttons"]["binderhub_url"].rstrip("/")
    for nb in _chapters():
        html = (built / f"{nb.stem}.html").read_text()
        launch = f"{binder}/v2/gh/{owner_name}/{branch}?urlpath=lab/tree/notebooks/{nb.name}"
        assert launch in html, f"{nb.stem}.html: no JupyterLab Binder button ({launch})"
        assert f'href="{repo}"' in html, f"{nb.stem}.html: no repository button"
        # The sidebar links every chapter, so a reader can move between them.
        for other in _chapters():
            assert f'href="{other.stem}.html"' in html or other == nb, (
                f"{nb.stem}.html: sidebar has no link to {other.stem}")


@pytest.mark.browser
def test_tables_that_cells_display_render_as_tables(built):
    # A Markdown table a cell displays (filled in from the run) must reach the reader as a
    # table, not as a paragraph of pipes (myst-nb parses outputs as CommonMark by default).
    raw = re.compile(r'<div class="cell_output[^"]*">\s*<p>\|')
    for nb in _chapters():
        html = (built / f"{nb.stem}.html").read_text()
        assert not raw.search(html), f"{nb.stem}.html: a displayed table shows as raw text"


@pytest.mark.browser
def test_widget_javascript_only_on_pages_with_widgets(built):
    # A page without saved widget state must not load the 3.6 MB widget bundle: guards
    # against the vendored files ending up where Jupyter Book injects scripts into every
    # page. (MathJax may be there: Sphinx adds it to a page whose toctree holds math.)
    html = (built / "intro.html").read_text()
    assert "embed-amd.js" not in html and "require.js" not in html


# --- what a reader sees: widgets that work without a kernel, readable text, nothing hidden ----

def _chapter_pages(browser, built) -> Iterator[tuple[str, object]]:
    """Each built chapter page, opened, with its widgets rendered."""
    for nb in _chapters():
        page, _ = _open(browser, built / f"{nb.stem}.html")
        _wait_for_widgets(page)
        try:
            yield nb.stem, page
        finally:
            page.context.close()


@pytest.mark.browser
def test_the_column_is_what_figures_are_sized_for(browser, built):
    from conclab import plots

    page, _ = _open(browser, built / "00_start_here.html")
    width = page.evaluate("() => document.querySelector('div.cell').getBoundingClientRect().width")
    assert abs(width - plots.BOOK_COLUMN_PX) <= 8, (
        f"the book's column is {width:.0f} px; plots.BOOK_COLUMN_PX says {plots.BOOK_COLUMN_PX}")


_VISIBLE_FRAME_TEXT = """root => Array.from(root.querySelectorAll('.widget-html'))
    .filter(e => e.offsetParent !== null).map(e => e.innerText).join('|')"""


@pytest.mark.browser
def test_a_replay_slider_changes_its_picture_and_table_without_a_kernel(browser, built):
    page, _ = _open(browser, built / "00_start_here.html")
    _wait_for_widgets(page)
    replay = page.locator(".widget-vbox:has(> .widget-hbox .conclab-frames-readout)").first
    replay.scroll_into_view_if_needed()
    before = replay.evaluate(_VISIBLE_FRAME_TEXT)
    svg_before = replay.evaluate("r => Array.from(r.querySelectorAll('svg'))"
                                 ".filter(s => s.getBoundingClientRect().width > 0)"
                                 ".map(s => s.outerHTML).join('')")
    handle = replay.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(10):  # ten frames back: a moment inside the run
        page.keyboard.press("ArrowLeft")
    after = replay.evaluate(_VISIBLE_FRAME_TEXT)
    svg_after = replay.evaluate("r => Array.from(r.querySelectorAll('svg'))"
                                ".filter(s => s.getBoundingClientRect().width > 0)"
                                ".map(s => s.outerHTML).join('')")
    assert "at " in before and after != before, f"the table did not follow: {before!r}"
    assert svg_after and svg_after != svg_before, "the picture did not follow the slider"
    page.context.close()


@pytest.mark.browser
def test_every_button_that_needs_a_kernel_says_so(browser, built):
    from conclab.widgets import NEEDS_KERNEL

    for name, page in _chapter_pages(browser, built):
        titles = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jupyter-widgets button'))
            .map(b => [b.innerText.trim(), b.title])""")
        unlabelled = [text for text, title in titles if NEEDS_KERNEL not in title]
        assert not unlabelled, f"{name}: buttons without the needs-a-kernel label: {unlabelled}"


@pytest.mark.browser
def test_text_in_timelines_is_readable_at_the_column_width(browser, built):
    from conclab import plots

    for name, page in _chapter_pages(browser, built):
        small = page.evaluate("""() => Array.from(document.querySelectorAll('svg text'))
            .filter(t => t.getBoundingClientRect().width > 0 && t.textContent.trim())
            .map(t => [parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement
                .getScreenCTM().a, t.textContent.trim().slice(0, 20)])""")
        tiny = [(round(px, 1), text) for px, text in small if px < plots.MIN_TEXT_PX - 0.05]
        assert not tiny, f"{name}: text smaller than {plots.MIN_TEXT_PX} px: {tiny[:5]}"


@pytest.mark.browser
def test_code_and_outputs_are_not_clipped(browser, built):
    for name, page in _chapter_pages(browser, built):
        clipped = page.evaluate("""() => Array.from(document.querySelectorAll('div.cell pre'))
            .filter(p => p.offsetParent !== null && p.scrollWidth > p.clientWidth + 1)
            .map(p => p.textContent.slice(0, 40))""")
        assert not clipped, f"{name}: code or output wider than the column: {clipped[:3]}"


@pytest.mark.browser
def test_solutions_are_collapsed_and_tracebacks_only_where_they_are_the_lesson(browser, built):
    for name, page in _chapter_pages(browser, built):
        shown = page.evaluate("""() => {
            const open = Array.from(document.querySelectorAll('details[open]'))
                .map(d => d.innerText.slice(0, 40));
            // checkVisibility: a closed <details> hides its content with content-visibility,
            // which keeps the boxes' sizes, so sizes alone would call it visible.
            const cells = Array.from(document.querySelectorAll('div.cell.tag_hide-cell'))
                .filter(c => Array.from(c.querySelectorAll('.cell_input, .cell_output'))
                    .some(e => e.checkVisibility({visibilityProperty: true})))
                .map(c => c.innerText.slice(0, 40));
            return open.concat(cells); }""")
        assert not shown, f"{name}: solutions shown before the reader asks: {shown[:3]}"
        tracebacks = page.evaluate("""() => Array.from(document.querySelectorAll(
            'div.cell_output .traceback, div.cell_output .stderr'))
            .filter(e => /Traceback \\(most recent call last\\)|Error:/.test(e.innerText))
            .filter(e => !e.closest('div.cell.tag_raises-exception'))
            .map(e => e.innerText.slice(0, 60))""")
        assert not tracebacks, f"{name}: tracebacks outside a lesson about them: {tracebacks[:3]}"
