"""ConnectorOrderRepository: SQL for ``connector_orders`` (the journal of live submissions).

Each method is its own transaction, like ExecutionRepository: a row is committed *before* the
order leaves, so no crash or timeout can make a submission invisible.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, Engine, func, select, update

from database.json_documents import checked_document
from database.position_repository import note_position_contract
from database.statements import insert_or_skip
from database.tables_connector_orders import (
    ORDER_PENDING,
    ORDER_STATUSES,
    ORDER_UNKNOWN,
    connector_orders,
)
from database.unit_of_work import Connections, connections

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectorOrderRecord:
    """One live submission and what we know of its outcome."""

    id: int
    client_order_id: str
    firm_code: str
    program_id: int
    task_id: int
    trade_id: str
    action: str
    contracts: int
    position_id: int | None
    status: str
    reason: str | None
    firm_order_id: str | None
    message: str | None
    request: dict[str, Any]
    created_at: datetime


def _record(row: Any) -> ConnectorOrderRecord:
    m = row._mapping
    return ConnectorOrderRecord(
        **{name: m[name] for name in ConnectorOrderRecord.__dataclass_fields__ if name not in ("request", "created_at")},
        created_at=m["created_at"],
        request=dict(m["request"]),
    )


class ConnectorOrderRepository:
    """Insert-before-send, then record the outcome; find what is unresolved."""

    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    def record_submission(
        self,
        *,
        client_order_id: str,
        firm_code: str,
        program_id: int,
        task_id: int,
        trade_id: str,
        action: str,
        contracts: int,
        position_id: int | None,
        request: Mapping[str, Any],
    ) -> bool:
        """Write the PENDING row; False when this client order id was already submitted (a
        replay), in which case the caller must not send it again."""
        return self.record_submissions([{
            "client_order_id": client_order_id, "firm_code": firm_code, "program_id": program_id,
            "task_id": task_id, "trade_id": trade_id, "action": action, "contracts": contracts,
            "position_id": position_id, "request": request,
        }])[0]

    def record_submissions(self, submissions: Sequence[Mapping[str, Any]]) -> list[bool]:
        """`record_submission` for a batch (each item its keyword arguments), in one transaction:
        every row is written or, on an error, none is, and a batch of many accounts costs one
        commit instead of one each."""
        with self._db.transaction() as connection:
            return [
                insert_or_skip(
                    connection, connector_orders,
                    {**fields, "status": ORDER_PENDING, "request": checked_document(fields["request"], "request")},
                    ("client_order_id",), (connector_orders.c.id,),
                ).scalar_one_or_none() is not None
                for fields in submissions
            ]

    def set_outcome(
        self,
        client_order_id: str,
        status: str,
        *,
        reason: str | None = None,
        firm_order_id: str | None = None,
        message: str | None = None,
        only_if: tuple[str, ...] | None = None,
        position_contract: tuple[int, str] | None = None,
    ) -> bool:
        """Record a status; with ``only_if`` only from those statuses (so a late answer never
        overwrites a reconciled result). True when the row changed.

        `position_contract`: (position id, firm contract) of an entry, noted on its position in
        the same transaction (`note_position_contract`), whether or not the status changed: one
        commit per order instead of two. A contract too long to record is logged and skipped."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"status must be one of {ORDER_STATUSES}, got {status!r}")
        values: dict[str, Any] = {"status": status, "reason": reason, "message": message, "updated_at": func.now()}
        if firm_order_id is not None:
            values["firm_order_id"] = firm_order_id
        statement = update(connector_orders).where(connector_orders.c.client_order_id == client_order_id)
        if only_if is not None:
            statement = statement.where(connector_orders.c.status.in_(only_if))
        with self._db.transaction() as connection:
            changed = connection.execute(statement.values(**values)).rowcount > 0
            if position_contract is not None:
                self._note_contract(connection, *position_contract)
            return changed

    def record_contract(self, position_id: int, contract: str) -> None:
        """The contract of an entry whose journal row is left as it is (a late failure)."""
        with self._db.transaction() as connection:
            self._note_contract(connection, position_id, contract)

    @staticmethod
    def _note_contract(connection: Connection, position_id: int, contract: str) -> None:
        try:
            note_position_contract(connection, position_id, contract)
        except ValueError as exc:  # the exit falls back to the front contract of its day
            log.error("position %s: %s", position_id, exc)

    def get(self, client_order_id: str) -> ConnectorOrderRecord | None:
        with self._db.transaction() as connection:
            row = connection.execute(
                select(connector_orders).where(connector_orders.c.client_order_id == client_order_id)
            ).first()
        return _record(row) if row is not None else None

    def unresolved(self, trade_id: str | None = None) -> list[ConnectorOrderRecord]:
        """PENDING or UNKNOWN submissions (oldest first), optionally of one trade."""
        statement = select(connector_orders).where(
            connector_orders.c.status.in_((ORDER_PENDING, ORDER_UNKNOWN))
        )
        if trade_id is not None:
            statement = statement.where(connector_orders.c.trade_id == trade_id)
        with self._db.transaction() as connection:
            rows = connection.execute(statement.order_by(connector_orders.c.id)).all()
        return [_record(row) for row in rows]

    def for_task(self, task_id: int) -> list[ConnectorOrderRecord]:
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(connector_orders).where(connector_orders.c.task_id == task_id).order_by(connector_orders.c.id)
            ).all()
        return [_record(row) for row in rows]
