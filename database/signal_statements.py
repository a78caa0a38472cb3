"""The statements every signal runs - record the task, read an entry's inputs, lock the task,
finish it - behind one interface, in two implementations chosen once per dialect:

- `PortableStatements`: SQLAlchemy Core, what SQLite runs (and the reference for the other);
- `PostgresStatements` (database/pg_statements.py): PostgreSQL's own SQL, fewer round trips - the
  PENDING insert and the entry's read in one statement, the log row and the final status in one,
  and each account's ledger summarised by the database once it is long.

The repositories call `statements_for(connection)`; no other module branches on the dialect.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, String, Text, bindparam, select, text

from database.statements import insert_or_skip
from database.tables import execution_logs, execution_tasks
from domain.task_status import TaskStatus

if TYPE_CHECKING:
    from database.entry_inputs import EntryInputs, LedgerWindow


class SignalStatements(ABC):
    finish_is_one_statement: bool
    """True when `finish_task` changes the database with one statement (it may then autocommit)."""

    @abstractmethod
    def insert_task(self, connection: Connection, *, trade_id: str, event_type: str, payload: Mapping[str, Any],
                    payload_json: str, idempotency_key: str | None) -> int | None:
        """The PENDING row; None when the idempotency key is taken."""

    def insert_task_reading_entry_inputs(self, connection: Connection, *, trade_id: str, event_type: str,
                                         payload: Mapping[str, Any], payload_json: str, idempotency_key: str | None,
                                         firm_codes: Sequence[str], window: LedgerWindow | None
                                         ) -> tuple[int | None, EntryInputs | None]:
        """The PENDING row and the entry's inputs in one statement where the dialect can; inputs
        None: read them next (`entry_inputs`)."""
        return self.insert_task(connection, trade_id=trade_id, event_type=event_type, payload=payload,
                                payload_json=payload_json, idempotency_key=idempotency_key), None

    @abstractmethod
    def entry_inputs(self, connection: Connection, firm_codes: Sequence[str],
                     window: LedgerWindow | None) -> EntryInputs:
        """Trading state, open contracts and ledgers for `firm_codes` (database/entry_inputs.py)."""

    @abstractmethod
    def lock_task(self, connection: Connection, task_id: int) -> bool:
        """Row-lock the task until the transaction ends; False when there is no such task."""

    @abstractmethod
    def finish_task(self, connection: Connection, *, task_id: int, status: str, error: str | None,
                    result: Mapping[str, Any], body_json: str) -> int | None:
        """The log row and the final status; None, having changed nothing, when the task is
        missing or already has its log row."""


# The log row first, from the task's own row: the status changes only for the task whose log row
# this wrote, so a second finisher (or a late FAILED after COMPLETED) changes nothing.
_INSERT_LOG = text(
    "INSERT INTO execution_logs (task_id, trade_id, event_type, response_body) "
    "SELECT id, trade_id, event_type, :body FROM execution_tasks WHERE id = :task_id "
    "ON CONFLICT (task_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("task_id", type_=Integer), bindparam("body", type_=execution_logs.c.response_body.type),
).columns(id=Integer)
_SET_FINAL_STATUS = text(
    "UPDATE execution_tasks SET status = :status, error = :error, updated_at = CURRENT_TIMESTAMP WHERE id = :task_id"
).bindparams(bindparam("task_id", type_=Integer), bindparam("status", type_=String), bindparam("error", type_=Text))


class PortableStatements(SignalStatements):
    finish_is_one_statement = False

    def insert_task(self, connection: Connection, *, trade_id: str, event_type: str, payload: Mapping[str, Any],
                    payload_json: str, idempotency_key: str | None) -> int | None:
        values = {"trade_id": trade_id, "event_type": event_type, "payload": dict(payload),
                  "status": TaskStatus.PENDING, "idempotency_key": idempotency_key}
        return insert_or_skip(connection, execution_tasks, values, ("idempotency_key",),
                              (execution_tasks.c.id,)).scalar_one_or_none()

    def entry_inputs(self, connection: Connection, firm_codes: Sequence[str],
                     window: LedgerWindow | None) -> EntryInputs:
        from database.entry_inputs import inputs_from_rows, portable_statement

        rows = connection.execute(portable_statement(), {"firms": list(firm_codes) or [""]}).all()
        return inputs_from_rows(rows, window, summarised=False)  # the events; the engine folds them

    def lock_task(self, connection: Connection, task_id: int) -> bool:
        # SQLite serialises writers anyway and ignores FOR UPDATE.
        found = select(execution_tasks.c.id).where(execution_tasks.c.id == task_id).with_for_update()
        return connection.execute(found).first() is not None

    def finish_task(self, connection: Connection, *, task_id: int, status: str, error: str | None,
                    result: Mapping[str, Any], body_json: str) -> int | None:
        log_id = connection.execute(_INSERT_LOG, {"task_id": task_id, "body": dict(result)}).scalar_one_or_none()
        if log_id is not None:
            connection.execute(_SET_FINAL_STATUS, {"task_id": task_id, "status": status, "error": error})
        return log_id


_PORTABLE = PortableStatements()


def statements_for(connection: Connection) -> SignalStatements:
    """The connection's dialect's implementation (one instance each, stateless)."""
    return statements_for_dialect(connection.dialect.name)


def statements_for_dialect(name: str) -> SignalStatements:
    if name == "postgresql":
        from database.pg_statements import POSTGRES

        return POSTGRES
    return _PORTABLE
