"""Vendor the JavaScript the book renders with, so its pages need no network.

Jupyter Book 1 loads its renderers from public CDNs: RequireJS and
``@jupyter-widgets/html-manager`` (through myst-nb) for saved ipywidgets, and MathJax (through
Sphinx) for pages with math. Offline, every widget stays a blank "Loading widget..." spot and
every formula stays raw TeX. This script fetches pinned releases of those packages from the
npm registry with ``npm pack`` (a tarball, no node_modules), checks each tarball against its
pinned sha512, and copies the files the browser needs into ``notebooks/_vendor/``
(``widgets/`` and ``mathjax/``). ``notebooks/_config.yml`` adds ``_vendor`` to
``html_static_path`` and points myst-nb's ``nb_ipywidgets_js`` and Sphinx's ``mathjax_path``
at the copies.

Why not ``notebooks/_static/``: Jupyter Book 1 injects every ``.js`` under the static paths
into *every* page when a ``_static`` folder exists; myst-nb adds the widget scripts only to
pages that hold widget state, and Sphinx adds MathJax only to pages with math.

Idempotent: when ``MANIFEST.json`` lists the pinned selection and every file still has its
recorded hash, it does nothing and needs no network. Usage::

    python scripts/vendor_widgets.py [--dest DIR] [--force]
"""

from __future__ import annotations

__all__ = ["PACKAGES", "Package", "is_current", "main", "provides", "vendor"]

import argparse
import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "notebooks" / "_vendor"
# The built site. Sphinx copies static files only when some page is out of date, so after an
# update its copies would stay stale; removing the HTML (not _build/.jupyter_cache, so no
# notebook runs again) makes the next build write every page and copy the new files.
DEFAULT_SITE = ROOT / "notebooks" / "_build" / "html"
NPM_TIMEOUT = 300.0  # seconds for one `npm pack`; a slow registry fails the build, not hangs it


@dataclass(frozen=True)
class Package:
    """One npm release to vendor: which of its files to copy where, and its checksum."""

    spec: str
    integrity: str  # the registry's "sha512-<base64>" for the tarball
    dest: str  # folder below the vendor root
    root: str  # folder inside the tarball, below "package/", that maps onto dest
    include: tuple[str, ...]  # glob patterns relative to root; sub-folders are kept


# html-manager 1.x renders state saved by ipywidgets 8; its embed-amd.js bundles the
# @jupyter-widgets/base, controls and output modules, so no further module is fetched.
# The font files are Font Awesome, which embed-amd.js loads relative to its own URL.
# MathJax: Sphinx 7 asks for es5/tex-mml-chtml.js; the fonts, the TeX extensions that
# \require and autoload pull in, and the menu's accessibility modules load relative to it.
# (Left out: sre/, the speech engine, 4 MB, loaded only if a reader turns speech on.)
PACKAGES: tuple[Package, ...] = (
    Package(
        spec="requirejs@2.3.7",
        integrity=(
            "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/"
            "VA8OaUhBa0JPVHJ0pyBkM1z+pDsw=="
        ),
        dest="widgets", root="", include=("require.js",),
    ),
    Package(
        spec="@jupyter-widgets/html-manager@1.0.15",
        integrity=(
            "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//"
            "SABeNz1yp47bCrJ3CQA=="
        ),
        dest="widgets", root="dist",
        include=("embed-amd.js", "*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg"),
    ),
    Package(
        spec="mathjax@3.2.2",
        integrity=(
            "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
            "FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
        ),
        dest="mathjax", root="es5",
        include=("tex-mml-chtml.js", "output/chtml/fonts/woff-v2/*.woff",
                 "input/tex/extensions/*.js", "input/mml/extensions/*", "a11y/*.js", "ui/*.js"),
    ),
)

MANIFEST = "MANIFEST.json"

# Loaded between require.js and embed-amd.js; two shims, each for a mismatch between the
# vendored files and the page Jupyter Book writes:
# 1. embed-amd.js holds named AMD modules ("@jupyter-widgets/base",
#    ".../html-manager/dist/libembed-amd", ...) and each finds its font files relative to the
#    URL RequireJS gives its module name: by default the page's folder plus the name
#    ("./@jupyter-widgets/html-manager/dist/"), where nothing is. Mapping those names onto
#    this folder makes every URL they derive land on the vendored files, from any page.
# 2. @jupyter-widgets/base typesets widget labels with the MathJax 2 call
#    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); Sphinx loads MathJax 3, which has
#    no Hub, so on a page with math every label threw. Give MathJax 3 that one call.
PATHS_JS = "widgets/paths.js"
PATHS_JS_TEXT = """\
// Written by scripts/vendor_widgets.py; see the comment on PATHS_JS there.
(function () {
  var here = document.currentScript.src.replace(/[^/]*([?#].*)?$/, "").replace(/\\/$/, "");
  window.require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": here,
      "@jupyter-widgets": here,
    },
  });
  // Widgets render on "load"; MathJax 3 (a deferred script) has started by then.
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    if (mj && mj.startup && !mj.Hub) {  // MathJax 3 defines typesetPromise once started
      mj.Hub = {
        Queue: function (command) {
          mj.startup.promise.then(function () { return mj.typesetPromise([command[2]]); });
        },
      };
    }
  });
})();
"""


def _sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _integrity(path: Path) -> str:
    """The npm-style "sha512-<base64>" integrity string of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _selection() -> dict[str, dict[str, object]]:
    """What should be here: each pinned spec with its checksum and file selection."""
    return {p.spec: {"integrity": p.integrity, "dest": p.dest, "root": p.root,
                     "include": list(p.include)} for p in PACKAGES}


def provides(path: str) -> bool:
    """Whether ``path`` (relative to the vendor root, e.g. "widgets/require.js") is vendored."""
    if path == PATHS_JS:
        return True
    return any(
        path.startswith(p.dest + "/")
        and any(fnmatch.fnmatchcase(path[len(p.dest) + 1:], pattern) for pattern in p.include)
        for p in PACKAGES)


def is_current(dest: Path) -> bool:
    """Whether ``dest`` already holds exactly the pinned selection, unmodified."""
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("packages") != _selection():
        return False
    files = manifest.get("files", {})
    if files.get(PATHS_JS) != hashlib.sha256(PATHS_JS_TEXT.encode()).hexdigest():
        return False
    return all((dest / name).is_file() and _sha256(dest / name) == digest
               for name, digest in files.items())


def _npm_pack(spec: str, workdir: Path) -> Path:
    """Download one release tarball with `npm pack` into ``workdir``; return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("vendor_widgets: `npm` not found (Debian: apt-get install npm)")
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--silent", "--prefer-offline",  # the npm cache will do
         "--pack-destination", str(workdir)],
        cwd=workdir, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"vendor_widgets: `npm pack {spec}` failed:\n{result.stderr.strip()}")
    info = json.loads(result.stdout)
    return workdir / info[0]["filename"]


def _extract(package: Package, tarball: Path, into: Path) -> dict[str, str]:
    """Copy the package's selected files out of its tarball; return relative path -> sha256."""
    actual = _integrity(tarball)
    if actual != package.integrity:
        raise SystemExit(
            f"vendor_widgets: {package.spec} tarball checksum mismatch\n"
            f"  expected {package.integrity}\n  got      {actual}"
        )
    prefix = "/".join(part for part in ("package", package.root) if part) + "/"
    hashes: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            inner = member.name[len(prefix):]
            if (not member.isfile() or not member.name.startswith(prefix)
                    or not any(fnmatch.fnmatchcase(inner, pat) for pat in package.include)):
                continue
            relative = PurePosixPath(package.dest, inner)
            if ".." in relative.parts:  # never write outside dest, whatever the tarball says
                raise SystemExit(f"vendor_widgets: {package.spec}: unsafe path {member.name}")
            target = into.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has content
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            hashes[relative.as_posix()] = _sha256(target)
    inners = [name[len(package.dest) + 1:] for name in hashes]
    missing = [pat for pat in package.include
               if not any(fnmatch.fnmatchcase(inner, pat) for inner in inners)]
    if missing:
        raise SystemExit(f"vendor_widgets: {package.spec} has no file matching {missing}")
    return hashes


def vendor(dest: Path = DEFAULT_DEST, *, force: bool = False,
           site: Path | None = DEFAULT_SITE) -> bool:
    """Make ``dest`` hold the pinned JavaScript. Returns True if it changed anything.

    Args:
        dest: the folder to fill (the book's ``html_static_path`` entry).
        force: fetch and copy again even if ``dest`` is current.
        site: built HTML that copied an older ``dest``; removed after an update. None keeps it.
    """
    if not force and is_current(dest):
        return False
    if dest.exists() and any(dest.iterdir()) and not (dest / MANIFEST).is_file():
        # Only ever replace a folder this script filled: --dest pointed at the wrong place
        # must not cost anyone their files.
        raise SystemExit(f"vendor_widgets: {dest} is not empty and has no {MANIFEST}; "
                         "refusing to replace it")
    with tempfile.TemporaryDirectory(prefix="vendor-widgets-") as tmp:
        tarballs = [(p, _npm_pack(p.spec, Path(tmp))) for p in PACKAGES]
        # The manifest goes first and comes back last: a run cut short leaves no manifest,
        # so the next run starts over instead of trusting a half-filled folder.
        (dest / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        hashes: dict[str, str] = {}
        for package, tarball in tarballs:
            hashes.update(_extract(package, tarball, dest))
        (dest / PATHS_JS).write_text(PATHS_JS_TEXT)
        hashes[PATHS_JS] = _sha256(dest / PATHS_JS)
        manifest = {"packages": _selection(), "files": dict(sorted(hashes.items()))}
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if site is not None:
        shutil.rmtree(site, ignore_errors=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder to fill")
    parser.add_argument("--force", action="store_true", help="fetch again even if current")
    args = parser.parse_args(argv)
    changed = vendor(args.dest, force=args.force,
                     site=DEFAULT_SITE if args.dest == DEFAULT_DEST else None)
    where = args.dest.relative_to(ROOT) if args.dest.is_relative_to(ROOT) else args.dest
    print(f"vendor_widgets: {where} {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
