"""The three dependency lists (pyproject, environment.yml, binder/) must name the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _requirement(spec: str) -> tuple[str, str]:
    """Split 'name>=1,<2' into a normalised (name, version spec) pair."""
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec)
    assert match, spec
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2).replace(" ", "")


def _conda(path: Path) -> dict[str, str]:
    """Packages an environment.yml installs (conda and its pip section), minus python and pip."""
    found: dict[str, str] = {}
    in_pip = False
    for line in path.read_text().splitlines():
        item = re.match(r"^(\s*)-\s+(.+?)\s*$", line)
        if not item:
            continue
        if item.group(2) == "pip:":
            in_pip = True
            continue
        if in_pip and len(item.group(1)) <= 2:
            in_pip = False
        name, spec = _requirement(item.group(2))
        if name not in {"python", "pip", "conda-forge"}:
            found[name] = spec
    return found


def _pyproject() -> dict[str, str]:
    """Packages pyproject.toml names: dependencies plus every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return dict(_requirement(s) for s in specs)


def test_environment_files_match_pyproject() -> None:
    assert _conda(ROOT / "environment.yml") == _pyproject()


def test_binder_environment_matches_pyproject() -> None:
    assert _conda(ROOT / "binder" / "environment.yml") == _pyproject()


def test_binder_pins_a_supported_python() -> None:
    text = (ROOT / "binder" / "environment.yml").read_text()
    version = re.search(r"-\s+python\s*=\s*3\.(\d+)", text)
    assert version and int(version.group(1)) >= 11


def test_postbuild_installs_the_package() -> None:
    text = (ROOT / "binder" / "postBuild").read_text()
    assert text.startswith("#!/bin/bash") and "set -euo pipefail" in text
    assert "pip install --no-deps -e ." in text


def test_parser_sees_a_drift(tmp_path: Path) -> None:
    drifted = (ROOT / "environment.yml").read_text().replace("psutil>=5.9", "psutil>=6")
    (tmp_path / "environment.yml").write_text(drifted)
    assert _conda(tmp_path / "environment.yml") != _pyproject()
