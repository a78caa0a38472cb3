"""Database fixtures for integration tests: real PostgreSQL (required) and a SQLite file.

``db_engine`` runs a test on both backends, because the service must behave the same on the
embedded SQLite fallback as on production PostgreSQL.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

# tests/db_fixtures.py is shared with the app's future tests/conftest.py (pytest puts tests/ on
# sys.path for that one); from here the folder has to be added explicitly.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import db_fixtures  # noqa: E402

from database import create_db_engine, upgrade_to_head  # noqa: E402


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The migrated PostgreSQL test database; the run fails (not skips) if it is unreachable."""
    engine = db_fixtures.prepare_postgres()
    yield engine
    engine.dispose()


@pytest.fixture
def clean_pg(pg_engine: Engine) -> Engine:
    """``pg_engine`` with every app table emptied (ids restarting at 1)."""
    db_fixtures.truncate_app_tables(pg_engine)
    return pg_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite file for this test."""
    engine = create_db_engine(None, sqlite_path=str(tmp_path / "db" / "execution_router.db"))
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """A clean, migrated engine, once per backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return request.getfixturevalue("clean_pg")
