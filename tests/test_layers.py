"""The folders of src/zoomwatt are layers, and imports run downward only (README, "Layout").

Every import of a zoomwatt module is checked, module-level and inside functions alike (a lazy
import is still a dependency). A module may import its own layer and the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "zoomwatt"

# Lowest first. The foundation modules import nothing of zoomwatt's but each other; the
# package root is the public API on top of everything (it imports lazily).
LAYERS = [
    {"errors", "version", "cache_dir", "atomic_write"},
    {"archs", "pipeline", "workload"},
    {"hardware"},
    {"perfmodel"},
    {"optimizer", "measurement", "evidence"},
    {"reporting"},
    {"cli"},
    {"api", "__init__", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def part_of(relative: Path) -> str:
    """The layer member a file belongs to: its top folder, or its module name at the top."""
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def zoomwatt_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported part) for every absolute import of a zoomwatt module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "zoomwatt":  # from zoomwatt import X: X may be a subpackage
                names = [f"zoomwatt.{alias.name}" for alias in node.names]
        else:
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                found.append((node.lineno, "(relative import)"))
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "zoomwatt":
                found.append((node.lineno, parts[1] if len(parts) > 1 else "__init__"))
    return found


def files():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_layer():
    parts = {part_of(p.relative_to(PACKAGE)) for p in files()}
    assert parts <= set(RANK), sorted(parts - set(RANK))


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward(path):
    here = part_of(path.relative_to(PACKAGE))
    upward = [
        f"line {line}: {here} imports {target}"
        for line, target in zoomwatt_imports(path)
        if target == "(relative import)" or RANK.get(target, 99) > RANK[here]
    ]
    assert not upward, upward


def test_the_check_can_fail(tmp_path):
    # A pipeline module importing the performance model must be caught.
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from zoomwatt.perfmodel import rollup\n")
    assert zoomwatt_imports(bad) == [(2, "perfmodel")]
    assert RANK["perfmodel"] > RANK["pipeline"]
