"""Notebooks are committed clean, named by the convention, and each ends with the clean-up check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def dirt(notebook: dict) -> list[str]:
    """What makes a notebook unclean: outputs, execution counts, saved widget state."""
    found = []
    for i, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i} has outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i} has an execution count")
    if "widgets" in notebook.get("metadata", {}):
        found.append("notebook metadata holds widget state")
    return found


def test_there_are_chapters() -> None:
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_clean(path: Path) -> None:
    assert dirt(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_named_and_closed_like_a_chapter(path: Path) -> None:
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "assert_clean()" in "".join(code[-1]["source"]), "the last code cell must check clean-up"


def test_dirt_is_seen() -> None:
    dirty = {"cells": [{"cell_type": "code", "outputs": [{"x": 1}], "execution_count": 3}],
             "metadata": {"widgets": {}}}
    assert len(dirt(dirty)) == 3
