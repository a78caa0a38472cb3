"""The database package's boundary: other layers use its public names only, so its internals
can be rearranged without breaking them."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _python_files_outside_database() -> list[Path]:
    return [
        path for path in ROOT.rglob("*.py")
        if (parts := path.relative_to(ROOT).parts)[0] != "database" and not {".venv", ".git"}.intersection(parts)
    ]


def _is_database(module: str) -> bool:
    return module == "database" or module.startswith("database.")


def _private_database_imports(source: str) -> list[str]:
    """Each ``import``/``from ... import`` of a database module or name that starts with ``_``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_database(node.module):
            private_module = any(part.startswith("_") for part in node.module.split("."))
            found += [f"from {node.module} import {alias.name}" for alias in node.names
                      if private_module or alias.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"import {alias.name}" for alias in node.names
                      if _is_database(alias.name) and any(part.startswith("_") for part in alias.name.split("."))]
    return found


def test_the_check_sees_a_private_import() -> None:
    assert _private_database_imports("from database.repository import _document, insert_or_skip\n") == [
        "from database.repository import _document"]
    assert _private_database_imports("import database._internals\n") == ["import database._internals"]
    assert _private_database_imports("from database.json_documents import json_text\nimport databases\n") == []


def test_no_module_outside_database_imports_a_private_database_name() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in _python_files_outside_database()
        if (found := _private_database_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
