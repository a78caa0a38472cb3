"""Alembic environment for the execution router.

Two ways in:
- From the service (``database.migrate.upgrade_to_head``): the caller passes an open connection,
  already inside a transaction holding the migration lock, in ``config.attributes["connection"]``.
- From the command line (``alembic upgrade head`` with the root ``alembic.ini``): the database is
  ``-x database_url=...``, else ``DATABASE_URL`` (as for the service), else ``sqlalchemy.url`` in
  the ini, else the embedded SQLite file. The same lock is taken, so an operator's manual upgrade
  cannot race a worker starting up.
"""
from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from database.engine import create_db_engine, normalize_database_url
from database.migrate import acquire_migration_lock
from database.tables import metadata

config = context.config

# Only the CLI configures logging; the service keeps its own logging set-up untouched.
if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _cli_database_url() -> str | None:
    return (
        context.get_x_argument(as_dictionary=True).get("database_url")
        or os.environ.get("DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or None
    )


def _configure_and_run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the DDL for a DBA instead of running it."""
    from database.engine import DEFAULT_SQLITE_PATH

    context.configure(
        url=normalize_database_url(_cli_database_url(), DEFAULT_SQLITE_PATH),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = create_db_engine(_cli_database_url())
    try:
        with engine.begin() as connection:
            acquire_migration_lock(connection)
            _configure_and_run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
