"""Execution tasks (one per accepted signal) and their one ``execution_logs`` result each.

A task is committed before any external call, so even a crash mid-routing leaves a trace; its
result and final status are written together, so the audit trail never shows one without the
other. The unique idempotency key and the unique log row decide races between workers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, select, update

from database.entry_inputs import EntryInputs, WindowSource, ledger_size_hint, read_entry_inputs, window_now
from database.errors import DuplicateIdempotencyKeyError, TaskAlreadyFinishedError, TaskNotFoundError
from database.json_documents import checked_document, json_text, result_json
from database.signal_statements import statements_for_dialect
from database.tables import execution_logs, execution_tasks
from database.unit_of_work import Connections, connections


class TaskRepository:
    """Tasks and their logged results; one transaction per call."""

    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine
        self._statements = statements_for_dialect(self._engine.dialect.name)

    def create_task(
        self,
        trade_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> int:
        """Record an accepted signal as a PENDING task and commit it; return the task id.

        Committed before any external call so that even a crash mid-routing leaves a trace.
        Raises ``DuplicateIdempotencyKeyError`` (carrying the existing id) when the key was used.
        """
        document = checked_document(payload, "payload")
        with self._db.transaction(one_statement=True) as connection:
            task_id = self._statements.insert_task(
                connection, trade_id=trade_id, event_type=event_type, payload=document,
                payload_json=json_text(document), idempotency_key=idempotency_key,
            )
            if task_id is None:
                raise self._duplicate(connection, idempotency_key)
        return int(task_id)

    def create_entry_task(
        self,
        trade_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        firm_codes: list[str],
        idempotency_key: str | None = None,
        ledger_window: WindowSource = None,
    ) -> tuple[int, EntryInputs]:
        """`create_task`, plus the entry's inputs (`database.entry_inputs`) for `firm_codes`,
        the ledgers summarised for `ledger_window` where the database can (PostgreSQL).

        In one round trip where the dialect can (database/signal_statements.py), which is what a
        dry-run entry's first step costs; elsewhere, the two calls in turn.
        """
        document = checked_document(payload, "payload")
        hint = ledger_size_hint(self._engine)  # summarise the ledgers once they are long
        with self._db.transaction(one_statement=True) as connection:
            window = hint.window(firm_codes, window_now(ledger_window))  # `now` with the connection in hand
            task_id, inputs = self._statements.insert_task_reading_entry_inputs(
                connection, trade_id=trade_id, event_type=event_type, payload=document,
                payload_json=json_text(document), idempotency_key=idempotency_key, firm_codes=firm_codes,
                window=window,
            )
            if task_id is None:
                raise self._duplicate(connection, idempotency_key)
        if inputs is None:
            inputs = read_entry_inputs(self._db, firm_codes, window)
        hint.note(firm_codes, inputs)
        return int(task_id), inputs

    @staticmethod
    def _duplicate(connection: Connection, idempotency_key: str | None) -> DuplicateIdempotencyKeyError:
        assert idempotency_key is not None  # only a non-NULL key can conflict
        existing = connection.execute(
            select(execution_tasks.c.id).where(execution_tasks.c.idempotency_key == idempotency_key)
        ).scalar_one()
        return DuplicateIdempotencyKeyError(idempotency_key, int(existing))

    def find_task_by_idempotency_key(self, idempotency_key: str) -> dict[str, Any] | None:
        """The task created with this idempotency key, if any (to answer a resent webhook)."""
        with self._db.transaction() as connection:
            row = connection.execute(
                select(execution_tasks).where(execution_tasks.c.idempotency_key == idempotency_key)
            ).first()
        return dict(row._mapping) if row is not None else None

    def set_task_status(self, task_id: int, status: str) -> None:
        """Move a task to ``status`` (e.g. PROCESSING) and stamp ``updated_at``."""
        with self._db.transaction() as connection:
            result = connection.execute(
                update(execution_tasks)
                .where(execution_tasks.c.id == task_id)
                .values(status=status, updated_at=func.now())
            )
            if result.rowcount == 0:
                raise TaskNotFoundError(task_id)

    def lock_task(self, task_id: int) -> None:
        """Hold the task's row lock until the caller's unit of work ends (FOR UPDATE).

        What a dry-run signal's unit of work does instead of setting PROCESSING: that status
        would only become visible together with COMPLETED, and ``execution_tasks.status`` is
        indexed, so each status UPDATE writes a new row version and an entry in every index. The
        lock alone keeps recovery (``FOR UPDATE SKIP LOCKED``) off a task that is still running.
        """
        with self._db.transaction() as connection:
            if not self._statements.lock_task(connection, task_id):
                raise TaskNotFoundError(task_id)

    def finish_task(
        self,
        task_id: int,
        status: str,
        result: Mapping[str, Any],
        error: str | None = None,
        *,
        stored_json: str | None = None,
    ) -> int:
        """Write the task's one ``execution_logs`` row and its final status; return the log id.

        ``stored_json``: ``result_json(result)`` when the caller already made it (the router
        answers the webhook with the same text), so it is serialised once.

        One transaction, so the audit trail never shows a COMPLETED task without its result or a
        result for a task still PROCESSING. A second call for the same task raises
        ``TaskAlreadyFinishedError`` and changes nothing (the unique log row decides).
        """
        body_json = stored_json if stored_json is not None else result_json(result)
        with self._db.transaction(one_statement=self._statements.finish_is_one_statement) as connection:
            log_id = self._statements.finish_task(
                connection, task_id=task_id, status=status, error=error, result=result, body_json=body_json)
            if log_id is None:  # nothing changed
                if self._task_exists(connection, task_id):
                    raise TaskAlreadyFinishedError(task_id)
                raise TaskNotFoundError(task_id)
        return int(log_id)

    @staticmethod
    def _task_exists(connection: Connection, task_id: int) -> bool:
        return bool(connection.execute(select(exists().where(execution_tasks.c.id == task_id))).scalar())

    def get_task(self, task_id: int) -> dict[str, Any] | None:
        """The task row as a dict (payload as a dict), or None."""
        with self._db.transaction() as connection:
            row = connection.execute(
                select(execution_tasks).where(execution_tasks.c.id == task_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def latest_task_id(self) -> int:
        """The newest task's id (0 when there is none): a task with a higher id was created later."""
        with self._db.transaction() as connection:
            return connection.execute(select(func.max(execution_tasks.c.id))).scalar_one() or 0

    def get_log_for_task(self, task_id: int) -> dict[str, Any] | None:
        """The task's ``execution_logs`` row as a dict (response_body as a dict), or None."""
        with self._db.transaction() as connection:
            row = connection.execute(
                select(execution_logs).where(execution_logs.c.task_id == task_id)
            ).first()
        return dict(row._mapping) if row is not None else None
