"""``api/`` and ``worker/`` never import each other: they meet only through ``shared/`` over
HTTP, which is what lets the worker run on another machine or as several replicas. ``shared/``
imports neither."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO

FORBIDDEN = {"api": {"worker"}, "worker": {"api"}, "shared": {"api", "worker"}}


def _imported_packages(source: Path) -> set[str]:
    """The top-level package of every import in the module, wherever it sits in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_their_role_allows(package: str) -> None:
    modules = sorted((REPO / package).rglob("*.py"))
    assert len(modules) > 3
    crossings = {
        str(module.relative_to(REPO)): sorted(_imported_packages(module) & FORBIDDEN[package])
        for module in modules
    }
    assert {name: bad for name, bad in crossings.items() if bad} == {}


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from worker.app import create_app\n    import api.app\n")
    assert _imported_packages(module) == {"worker", "api"}
