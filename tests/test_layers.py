"""The package's floors: the module map, the files and the import contract must agree.

The map in ``conclab/__init__.py`` is what a newcomer reads; the ``layers`` contract in
``pyproject.toml`` is what import-linter enforces (``make test`` runs ``lint-imports``). A module
added without a line in the map, a floor renamed in one place only, or an import that points
up a floor makes one of these tests fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import conclab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "conclab"
BESIDE_THE_HOUSE = {"bench"}  # benchmark suites may import any floor


def _map() -> dict[str, list[str]]:
    """The module map: floor -> modules, in the order the docstring lists them."""
    floors: dict[str, list[str]] = {}
    for line in conclab.__doc__.splitlines():
        floor = re.match(r"^ {4}([a-z]+) {2,}\S", line)
        module = re.match(r"^ {8}([a-z_]+) {2,}\S", line)
        if floor:
            floors[floor.group(1)] = []
        elif module:
            floors[list(floors)[-1]].append(module.group(1))
    return floors


def _contract() -> list[list[str]]:
    """The layers of the import contract, top floor first, as lists of short module names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[m.strip().removeprefix("conclab.") for m in re.split(r"[:|]", layer)]
            for layer in contract["layers"]]


def _files() -> set[str]:
    """The package's modules and subpackages, by short name."""
    found = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    found |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    return found - BESIDE_THE_HOUSE


def test_every_module_is_on_the_map_once() -> None:
    mapped = [m for modules in _map().values() for m in modules]
    assert len(mapped) == len(set(mapped))
    assert set(mapped) == _files()


def test_the_contract_has_the_maps_floors_in_order() -> None:
    floors = [modules for modules in _map().values() if modules]
    assert [sorted(f) for f in _contract()] == [sorted(f) for f in floors]


def test_the_map_parser_sees_a_module_missing_from_it(monkeypatch) -> None:
    monkeypatch.setattr(conclab, "__doc__", conclab.__doc__.replace("        sharing ", "  "))
    assert "sharing" not in {m for modules in _map().values() for m in modules}


def _lint(package_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter over a copy of the package, with this project's contract."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(package_dir), "PATH": "/usr/bin:/bin"})


def test_the_contract_holds_and_breaks_on_an_upward_import(tmp_path: Path) -> None:
    assert _lint(PACKAGE.parent).returncode == 0
    shutil.copytree(PACKAGE, tmp_path / "conclab")
    with open(tmp_path / "conclab" / "hooks.py", "a", encoding="utf-8") as f:
        f.write("\nfrom conclab import trace  # an import that points up two floors\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "conclab.hooks -> conclab.trace" in broken.stdout
