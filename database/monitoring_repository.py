"""Read-only queries for the dashboard and the query API (the only SQL they use).

Everything here reads; nothing writes. Results are plain dicts. Filters that look inside the
result document (which firm an execution involved) have one branch per backend: PostgreSQL's
jsonb containment (served by the JSONB column) and SQLite's json_each.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from database.tables import execution_logs, execution_tasks, trade_positions
from database.tables_connector_orders import ORDER_PENDING, connector_orders
from database.unit_of_work import Connections, connections
from domain.position import PositionStatus


@dataclass(frozen=True)
class ExecutionFilter:
    """Validated filters for listing executions (validation lives in the HTTP layer)."""

    trade_id: str | None = None
    firm: str | None = None
    status: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


def _as_dict(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class MonitoringRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    def _firm_clause(self, firm: str) -> ColumnElement[bool]:
        body = execution_logs.c.response_body
        if self._engine.dialect.name == "postgresql":
            return or_(*(
                type_coerce(body, JSONB).contains({key: [{"firm_code": firm}]})
                for key in ("risk_checks", "connector_results", "program_sizing")
            ))
        clauses = []
        for key in ("risk_checks", "connector_results", "program_sizing"):
            items = func.json_each(body, f"$.{key}").table_valued("value").alias()
            clauses.append(exists(select(1).select_from(items).where(
                func.json_extract(items.c.value, "$.firm_code") == firm)))
        return or_(*clauses)

    def list_executions(self, f: ExecutionFilter) -> tuple[list[dict[str, Any]], int]:
        """One page of tasks (newest first) with their results, and the total matching."""
        conditions: list[ColumnElement[bool]] = []
        if f.trade_id is not None:
            conditions.append(execution_tasks.c.trade_id == f.trade_id)
        if f.status is not None:
            conditions.append(execution_tasks.c.status == f.status)
        if f.event_type is not None:
            conditions.append(execution_tasks.c.event_type == f.event_type)
        if f.since is not None:
            conditions.append(execution_tasks.c.created_at >= f.since)
        if f.until is not None:
            conditions.append(execution_tasks.c.created_at < f.until)
        if f.firm is not None:
            conditions.append(self._firm_clause(f.firm))
        joined = execution_tasks.outerjoin(execution_logs, execution_logs.c.task_id == execution_tasks.c.id)
        where = and_(true(), *conditions)
        page = (
            select(
                execution_tasks.c.id, execution_tasks.c.trade_id, execution_tasks.c.event_type,
                execution_tasks.c.status, execution_tasks.c.error, execution_tasks.c.created_at,
                execution_tasks.c.updated_at, execution_logs.c.response_body,
            )
            .select_from(joined).where(where)
            .order_by(execution_tasks.c.created_at.desc(), execution_tasks.c.id.desc())
            .limit(f.limit).offset(f.offset)
        )
        with self._db.transaction() as connection:
            rows = connection.execute(page).all()
            total = connection.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
        items = []
        for row in rows:
            item = dict(row._mapping)
            item["task_id"] = item.pop("id")
            item["result"] = _as_dict(item.pop("response_body"))
            items.append(item)
        return items, int(total)

    def get_execution(self, task_id: int) -> dict[str, Any] | None:
        """The task (with its payload) and its log row, or None."""
        with self._db.transaction() as connection:
            task = connection.execute(select(execution_tasks).where(execution_tasks.c.id == task_id)).first()
            if task is None:
                return None
            log = connection.execute(select(execution_logs).where(execution_logs.c.task_id == task_id)).first()
        found = dict(task._mapping)
        found["payload"] = _as_dict(found["payload"])
        found.pop("idempotency_key", None)
        if log is not None:
            entry = dict(log._mapping)
            entry["response_body"] = _as_dict(entry["response_body"])
            found["log"] = entry
        else:
            found["log"] = None
        return found

    def result_documents(self, since: datetime | None, until: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Result documents logged in [since, until), newest first, at most `limit` (for statistics)."""
        query = select(execution_logs.c.response_body).order_by(execution_logs.c.created_at.desc()).limit(limit)
        if since is not None:
            query = query.where(execution_logs.c.created_at >= since)
        if until is not None:
            query = query.where(execution_logs.c.created_at < until)
        with self._db.transaction() as connection:
            return [_as_dict(r[0]) for r in connection.execute(query).all()]

    def order_timings(self, since: datetime | None, until: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Live orders whose signal arrived in [since, until), newest first, at most `limit`: firm,
        status, reason, when the signal's task was written and when the order's answer was."""
        o, t = connector_orders.c, execution_tasks.c
        query = (
            select(o.firm_code, o.status, o.reason, t.created_at.label("received_at"),
                   o.updated_at.label("answered_at"))
            .select_from(connector_orders.join(execution_tasks, execution_tasks.c.id == o.task_id))
            .where(o.status != ORDER_PENDING)
            .order_by(t.created_at.desc(), o.id.desc()).limit(limit)
        )
        if since is not None:
            query = query.where(t.created_at >= since)
        if until is not None:
            query = query.where(t.created_at < until)
        with self._db.transaction() as connection:
            return [dict(r._mapping) for r in connection.execute(query).all()]

    def task_status_counts(self, since: datetime | None, until: datetime | None) -> dict[str, int]:
        query = select(execution_tasks.c.status, func.count()).group_by(execution_tasks.c.status)
        if since is not None:
            query = query.where(execution_tasks.c.created_at >= since)
        if until is not None:
            query = query.where(execution_tasks.c.created_at < until)
        with self._db.transaction() as connection:
            return {status: int(n) for status, n in connection.execute(query).all()}

    def open_positions(self, limit: int = 200) -> list[dict[str, Any]]:
        """Positions with contracts still open, newest first."""
        query = (
            select(trade_positions.c.trade_id, trade_positions.c.firm_code, trade_positions.c.program_id,
                   trade_positions.c.symbol, trade_positions.c.side, trade_positions.c.contracts_open,
                   trade_positions.c.contracts_opened, trade_positions.c.entry_price, trade_positions.c.stop_price,
                   trade_positions.c.dry_run, trade_positions.c.created_at)
            .where(trade_positions.c.status == PositionStatus.OPEN).where(trade_positions.c.contracts_open > 0)
            .order_by(trade_positions.c.created_at.desc(), trade_positions.c.id.desc()).limit(limit)
        )
        with self._db.transaction() as connection:
            return [dict(r._mapping) for r in connection.execute(query).all()]

    def open_contracts_by_program(self) -> dict[tuple[str, int], int]:
        """Contracts open per (firm, program), for the account bars."""
        query = (
            select(trade_positions.c.firm_code, trade_positions.c.program_id,
                   func.coalesce(func.sum(trade_positions.c.contracts_open), 0))
            .where(trade_positions.c.status == PositionStatus.OPEN)
            .group_by(trade_positions.c.firm_code, trade_positions.c.program_id)
        )
        with self._db.transaction() as connection:
            return {(f, int(p)): int(n) for f, p, n in connection.execute(query).all()}


__all__ = ["ExecutionFilter", "MonitoringRepository"]
