"""ExecutionRepository: the tasks and positions of the execution router, in one object.

Built on an Engine, every public method is its own transaction (``engine.begin()``), so callers
never hold a transaction open across a broker call, and what a method reports is committed; built
on a ``UnitOfWork`` (``uow.tasks``), its calls join that unit (database/unit_of_work.py).
Correctness across gunicorn workers and instances comes from the database, never from memory:
unique keys decide who opens a trade or records a result, row locks serialise position changes.

The SQL lives with its aggregate (``task_repository``, ``position_repository``); this class
composes them so the router holds one repository. Results are plain dicts (task, log) or frozen
``PositionRecord`` values; expected conflicts surface as the errors of ``database.errors``.
"""
from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from database.position_repository import PositionRepository
from database.task_repository import TaskRepository


class ExecutionRepository(TaskRepository, PositionRepository):
    """Tasks, their logged results and the positions trades opened; one transaction per call."""

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def backend(self) -> str:
        """`postgresql` or `sqlite`."""
        return self._engine.dialect.name

    def ping(self) -> bool:
        """True when the database answers ``SELECT 1`` (for ``/health``); never raises."""
        try:
            with self._db.transaction() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True
