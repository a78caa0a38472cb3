"""Persistence for the execution router: engine, migrations and the repository (the only SQL).

PostgreSQL (``DATABASE_URL``) in production, an embedded SQLite file otherwise; the schema is
owned by the Alembic migrations in ``database/migrations`` and mirrored by the psql-runnable
``database/*_schema.sql`` files.
"""
from database.engine import create_db_engine, normalize_database_url
from database.migrate import upgrade_to_head
from database.repository import (
    DuplicateIdempotencyKeyError,
    EntryRateLimitError,
    ExecutionRepository,
    PositionLimitError,
    PositionNotFoundError,
    PositionRecord,
    RepositoryError,
    TaskAlreadyFinishedError,
    TaskNotFoundError,
)

__all__ = [
    "DuplicateIdempotencyKeyError",
    "EntryRateLimitError",
    "ExecutionRepository",
    "PositionLimitError",
    "PositionNotFoundError",
    "PositionRecord",
    "RepositoryError",
    "TaskAlreadyFinishedError",
    "TaskNotFoundError",
    "create_db_engine",
    "normalize_database_url",
    "upgrade_to_head",
]
