"""PostgreSQL set-up for tests, as plain functions so any conftest can build fixtures from them.

PostgreSQL is required, never skipped: the behaviour that matters most in production (unique
keys across workers, row and advisory locks, JSONB queries) only exists there, and a suite that
quietly skips it would report green while testing nothing of it.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from database import create_db_engine, normalize_database_url, upgrade_to_head
from database.tables import APP_TABLES

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_test_url() -> str:
    """``TEST_DATABASE_URL``, or the local CI database."""
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


def connect_postgres_or_fail(url: str | None = None) -> Engine:
    """An engine for the test database, or a failed test run saying what to fix."""
    url = url or postgres_test_url()
    engine = create_db_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        pytest.fail(f"TEST_DATABASE_URL must point at PostgreSQL, got {shown}", pytrace=False)
    problem: str | None = None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        problem = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    if problem is not None:  # failed outside the except block: one message, no chained traceback
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is required for these tests and is not reachable at {shown}: {problem}\n"
            "Start it (.ci/run starts the local cluster) or set TEST_DATABASE_URL.",
            pytrace=False,
        )
    return engine


def drop_app_tables(engine: Engine) -> None:
    """Remove the app's tables and Alembic's bookkeeping, for a from-scratch migration."""
    names = ", ".join((*APP_TABLES, "alembic_version"))
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {names} CASCADE"))


def truncate_app_tables(engine: Engine) -> None:
    """Empty the app's tables (ids restart at 1) between tests; the schema stays."""
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(APP_TABLES)} RESTART IDENTITY CASCADE"))


def prepare_postgres(url: str | None = None) -> Engine:
    """Connect (or fail), drop the app's tables, migrate to head: once per test session."""
    engine = connect_postgres_or_fail(url)
    drop_app_tables(engine)
    upgrade_to_head(engine)
    return engine


def postgres_url_for(database: str | None = None, search_path: str | None = None) -> str:
    """The test URL pointed at another database and/or schema (``search_path``).

    A scratch schema reached through ``search_path`` is an empty database as far as the app,
    Alembic and psql are concerned, and cheaper than CREATE DATABASE.
    """
    url = make_url(normalize_database_url(postgres_test_url(), sqlite_path=""))
    if database is not None:
        url = url.set(database=database)
    if search_path is not None:
        url = url.update_query_dict({"options": f"-csearch_path={search_path}"})
    return url.render_as_string(hide_password=False)
