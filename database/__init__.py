"""Persistence for the execution router: engine, migrations and the repository (the only SQL).

PostgreSQL (``DATABASE_URL``) in production, an embedded SQLite file otherwise; the schema is
owned by the Alembic migrations in ``database/migrations`` and mirrored by the psql-runnable
``database/*_schema.sql`` files.
"""
from database.engine import create_db_engine, normalize_database_url
from database.migrate import upgrade_to_head
from database.errors import (
    DuplicateIdempotencyKeyError,
    EntryRateLimitError,
    PositionLimitError,
    PositionNotFoundError,
    RepositoryError,
    TaskAlreadyFinishedError,
    TaskNotFoundError,
)
from database.position_repository import PositionRepository
from database.records import EntryRateCap, PositionRecord
from database.repository import ExecutionRepository
from database.task_repository import TaskRepository

__all__ = [
    "DuplicateIdempotencyKeyError",
    "EntryRateCap",
    "EntryRateLimitError",
    "ExecutionRepository",
    "PositionLimitError",
    "PositionNotFoundError",
    "PositionRecord",
    "PositionRepository",
    "RepositoryError",
    "TaskRepository",
    "TaskAlreadyFinishedError",
    "TaskNotFoundError",
    "create_db_engine",
    "normalize_database_url",
    "upgrade_to_head",
]
