"""Vendor the JavaScript that renders saved ipywidgets, so the book needs no network.

Jupyter Book 1 (through myst-nb) loads RequireJS and ``@jupyter-widgets/html-manager`` from
public CDNs by default; offline, every widget in the book stays a "Loading widget..."
placeholder. This script fetches pinned releases of both packages from the npm registry with
``npm pack`` (a tarball, no node_modules), checks each tarball against its pinned sha512,
and copies the few files the browser needs into ``notebooks/_vendor/widgets/``.
``notebooks/_config.yml`` adds ``_vendor`` to ``html_static_path`` and points myst-nb's
``nb_ipywidgets_js`` at the copies.

Why not ``notebooks/_static/``: Jupyter Book 1 injects every ``.js`` under the static paths
into *every* page when a ``_static`` folder exists; myst-nb adds these two only to pages that
hold widget state.

Idempotent: when ``MANIFEST.json`` lists the pinned versions and every file still has its
recorded hash, it does nothing and needs no network. Usage::

    python scripts/vendor_widgets.py [--dest DIR] [--force]
"""

from __future__ import annotations

__all__ = ["PACKAGES", "Package", "main", "vendor"]

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "notebooks" / "_vendor" / "widgets"
NPM_TIMEOUT = 300.0  # seconds for one `npm pack`; a slow registry fails the build, not hangs it


@dataclass(frozen=True)
class Package:
    """One npm release to vendor: which files to copy out of its tarball, and its checksum."""

    spec: str
    integrity: str  # the registry's "sha512-<base64>" for the tarball
    files: tuple[str, ...]  # paths inside the tarball, below "package/"; copied flat


# html-manager 1.x renders state saved by ipywidgets 8; its embed-amd.js bundles the
# @jupyter-widgets/base, controls and output modules, so no further module is fetched.
# The font files are Font Awesome, loaded by embed-amd.js relative to its own URL.
PACKAGES: tuple[Package, ...] = (
    Package(
        spec="requirejs@2.3.7",
        integrity=(
            "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/"
            "VA8OaUhBa0JPVHJ0pyBkM1z+pDsw=="
        ),
        files=("require.js",),
    ),
    Package(
        spec="@jupyter-widgets/html-manager@1.0.15",
        integrity=(
            "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//"
            "SABeNz1yp47bCrJ3CQA=="
        ),
        files=(
            "dist/embed-amd.js",
            "dist/1551f4f60c37af51121f.woff2",
            "dist/7a3337626410ca2f4071.woff2",
            "dist/d878b0a6a1144760244f.woff2",
            "dist/2285773e6b4b172f07d9.woff",
            "dist/bb58e57c48a3e911f15f.woff",
            "dist/eeccf4f66002c6f2ba24.woff",
            "dist/491974d108fe4002b2aa.ttf",
            "dist/527940b104eb2ea366c8.ttf",
            "dist/be9ee23c0c6390141475.ttf",
            "dist/23f19bb08961f37aaf69.eot",
            "dist/77206a6bb316fa0aded5.eot",
            "dist/9bbb245e67a133f6e486.eot",
            "dist/2f517e09eb2ca6650ff5.svg",
            "dist/4689f52cc96215721344.svg",
            "dist/7a8b4f130182d19a2d7c.svg",
        ),
    ),
)

MANIFEST = "MANIFEST.json"

# Loaded between require.js and embed-amd.js. embed-amd.js holds named AMD modules
# ("@jupyter-widgets/base", ".../html-manager/dist/libembed-amd", ...) and each finds its font
# files relative to the URL RequireJS gives its module name: by default the page's folder plus
# the name ("./@jupyter-widgets/html-manager/dist/"), where nothing is. Mapping those names
# onto this folder makes every URL they derive land on the vendored files, from any page.
PATHS_JS = "paths.js"
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
})();
"""


def _sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _integrity(path: Path) -> str:
    """The npm-style "sha512-<base64>" integrity string of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _wanted_manifest() -> dict[str, str]:
    """Pinned spec -> integrity, the part of the manifest that says what should be here."""
    return {p.spec: p.integrity for p in PACKAGES}


def is_current(dest: Path) -> bool:
    """Whether ``dest`` already holds exactly the pinned files, unmodified."""
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("packages") != _wanted_manifest():
        return False
    files = manifest.get("files", {})
    expected = {Path(f).name for p in PACKAGES for f in p.files} | {PATHS_JS}
    if files.get(PATHS_JS) != hashlib.sha256(PATHS_JS_TEXT.encode()).hexdigest():
        return False
    if set(files) != expected:
        return False
    return all((dest / name).is_file() and _sha256(dest / name) == digest
               for name, digest in files.items())


def _npm_pack(spec: str, workdir: Path) -> Path:
    """Download one release tarball with `npm pack` into ``workdir``; return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("vendor_widgets: `npm` not found; install it (Debian: apt-get install npm)")
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--silent", "--pack-destination", str(workdir)],
        cwd=workdir, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"vendor_widgets: `npm pack {spec}` failed:\n{result.stderr.strip()}")
    info = json.loads(result.stdout)
    return workdir / info[0]["filename"]


def _extract(package: Package, tarball: Path, into: Path) -> dict[str, str]:
    """Copy the package's listed files out of its tarball, flat; return name -> sha256."""
    actual = _integrity(tarball)
    if actual != package.integrity:
        raise SystemExit(
            f"vendor_widgets: {package.spec} tarball checksum mismatch\n"
            f"  expected {package.integrity}\n  got      {actual}"
        )
    hashes: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for inner in package.files:
            member = tar.getmember(f"package/{inner}")
            source = tar.extractfile(member)
            if source is None:
                raise SystemExit(f"vendor_widgets: {package.spec}: {inner} is not a file")
            target = into / Path(inner).name
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            hashes[target.name] = _sha256(target)
    return hashes


def vendor(dest: Path = DEFAULT_DEST, *, force: bool = False) -> bool:
    """Make ``dest`` hold the pinned widget JavaScript. Returns True if it changed anything."""
    if not force and is_current(dest):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vendor-widgets-") as tmp:
        work = Path(tmp)
        # Fill a staging folder beside dest, then swap it in: an interrupted run never
        # leaves a half-written dest that a later run would mistake for a good one.
        staging = Path(tempfile.mkdtemp(prefix=".widgets-", dir=dest.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the site is meant to be read
        try:
            hashes: dict[str, str] = {}
            for package in PACKAGES:
                hashes.update(_extract(package, _npm_pack(package.spec, work), staging))
            (staging / PATHS_JS).write_text(PATHS_JS_TEXT)
            hashes[PATHS_JS] = _sha256(staging / PATHS_JS)
            manifest = {"packages": _wanted_manifest(), "files": dict(sorted(hashes.items()))}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder to fill")
    parser.add_argument("--force", action="store_true", help="fetch again even if current")
    args = parser.parse_args(argv)
    changed = vendor(args.dest, force=args.force)
    where = args.dest.relative_to(ROOT) if args.dest.is_relative_to(ROOT) else args.dest
    print(f"vendor_widgets: {where} {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
