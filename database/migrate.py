"""Apply the Alembic migrations from code (start-up, ``init-db``, tests).

Alembic is configured here rather than through ``alembic.ini`` so the service migrates itself
from any working directory, with the engine it already has. The root ``alembic.ini`` exists only
for operators who want ``alembic upgrade head`` / ``alembic current`` by hand; both routes run the
same ``database/migrations/env.py``.
"""
from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from database.engine import without_timeouts

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# One database-wide key for "someone is migrating". The value is arbitrary but fixed: it is the
# ASCII of "exec_rtr", so it is unlikely to collide with another application's advisory locks.
MIGRATION_LOCK_KEY = 0x657865635F727472

# Alembic keeps the running migration in process-global proxies (``alembic.op``,
# ``alembic.context``), so two threads of one process must not run it at the same time, even
# against different databases. Always taken before the database lock, so the two cannot deadlock.
_PROCESS_LOCK = threading.Lock()


def alembic_config() -> Config:
    """Alembic configuration pointing at ``database/migrations``, independent of the CWD."""
    config = Config()
    # ConfigParser interpolates '%'; escape it so unusual install paths survive.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def acquire_migration_lock(connection: Connection) -> None:
    """Serialise migrations across processes on PostgreSQL (no-op elsewhere).

    Several gunicorn workers (and instances) start at once and each migrates at start-up; without
    a lock two of them would race to CREATE the same tables. The transaction-scoped advisory lock
    makes the others wait until the first commits; they then find the schema at head and do
    nothing. It is released automatically at commit/rollback, so a crash cannot leave it held.
    SQLite needs nothing: our SQLite transactions begin IMMEDIATE, which already serialises them.
    The request timeouts are lifted first (`without_timeouts`): waiting for another worker's
    migration, or rebuilding a large table, must not fail a start-up.
    """
    if connection.dialect.name == "postgresql":
        without_timeouts(connection)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema revision; safe to call repeatedly and concurrently.

    Runs in one transaction (PostgreSQL has transactional DDL: a failed migration leaves nothing
    half-applied). A database created from the guide's psql files, without an ``alembic_version``
    table, is adopted in place by the first revision rather than failing on existing tables.
    """
    config = alembic_config()
    with _PROCESS_LOCK, engine.begin() as connection:
        acquire_migration_lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")  # several feature branches may each add a head
