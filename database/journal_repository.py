"""Read-only SQL for the trade journal and a trade's story (the dashboard's /dashboard/trades).

A journal row is one trade at one firm/program: its `trade_positions` row (what the entry
opened), the strategy named by the entry's stored payload, and the ledger rows booked against it
(`account_events`: each close with its realized P&L, a reversed close, an operator adjustment
naming the trade). The figures are folded in dashboard/journal.py; this module only reads.
Nothing here writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Engine, and_, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from database.tables import execution_logs, execution_tasks, trade_positions
from database.tables_connector_orders import connector_orders
from database.tables_ledger import account_events
from database.unit_of_work import Connections, connections
from domain.account_event import AccountEventKind
from domain.position import PositionStatus

MAX_TRADES = 5_000
"""The journal reads at most this many positions (newest first); the page says when it was capped."""
MAX_STORY_TASKS = 500
"""A trade's page shows at most this many of its signals (a trade has a handful; a runaway sender more)."""


@dataclass(frozen=True)
class JournalFilter:
    """Validated filters (validation lives in the HTTP layer); None = any."""

    since: datetime | None = None  # entry time, inclusive
    until: datetime | None = None  # entry time, exclusive
    firm: str | None = None
    program_id: int | None = None
    strategy: str | None = None  # case-insensitive, the entry payload's strategy_name / strategy
    symbol: str | None = None  # a futures root (trade_positions.symbol)
    live: bool | None = None  # True: live positions only, False: paper only
    opened: bool = True  # False: the entries whose order failed (RELEASED), nothing opened


def _as_dict(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _strategy_column() -> ColumnElement[Any]:
    payload = execution_tasks.c.payload
    return func.coalesce(payload["strategy_name"].as_string(), payload["strategy"].as_string())


class JournalRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)

    def positions(self, f: JournalFilter, limit: int = MAX_TRADES) -> list[dict[str, Any]]:
        """Positions matching `f`, newest entry first, with the entry's strategy (None when unnamed)."""
        p = trade_positions.c
        strategy = _strategy_column()
        released = p.status == PositionStatus.RELEASED
        conditions: list[ColumnElement[bool]] = [~released if f.opened else released]
        for column, value in ((p.firm_code, f.firm), (p.program_id, f.program_id), (p.symbol, f.symbol)):
            if value is not None:
                conditions.append(column == value)
        if f.since is not None:
            conditions.append(p.created_at >= f.since)
        if f.until is not None:
            conditions.append(p.created_at < f.until)
        if f.live is not None:
            conditions.append(p.dry_run.is_(not f.live))
        if f.strategy is not None:
            conditions.append(func.lower(strategy) == f.strategy.lower())
        query = (
            select(p.id, p.trade_id, p.firm_code, p.program_id, p.symbol, p.side, p.contracts_opened,
                   p.contracts_open, p.entry_price, p.stop_price, p.status, p.dry_run, p.created_at,
                   p.opened_task_id, strategy.label("strategy"))
            .select_from(trade_positions.outerjoin(execution_tasks, execution_tasks.c.id == p.opened_task_id))
            .where(and_(true(), *conditions))
            .order_by(p.created_at.desc(), p.id.desc())
            .limit(limit)
        )
        with self._db.transaction() as connection:
            return [dict(r._mapping) for r in connection.execute(query).all()]

    def ledger_rows(self, position_ids: Iterable[int], trade_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The closes (and reversed closes) of these positions and the adjustments naming these
        trades, oldest first."""
        ids, trades = sorted(set(position_ids)), sorted(set(trade_ids))
        if not ids:
            return []
        e = account_events.c
        closes = and_(e.position_id.in_(ids), e.kind.in_((AccountEventKind.CLOSE, AccountEventKind.CLOSE_REVERSED)))
        adjustments = and_(e.kind == AccountEventKind.ADJUSTMENT, e.trade_id.in_(trades))
        query = select(account_events).where(or_(closes, adjustments)).order_by(e.occurred_at, e.id)
        with self._db.transaction() as connection:
            return [dict(r._mapping) for r in connection.execute(query).all()]

    def story(self, trade_id: str) -> dict[str, Any]:
        """Everything recorded for one trade id: its signals with their results, its positions,
        its live orders and its ledger rows, each oldest first."""
        t, o, e = execution_tasks.c, connector_orders.c, account_events.c
        tasks = (
            select(t.id, t.event_type, t.status, t.error, t.created_at, t.payload, execution_logs.c.response_body)
            .select_from(execution_tasks.outerjoin(execution_logs, execution_logs.c.task_id == t.id))
            .where(t.trade_id == trade_id).order_by(t.created_at, t.id).limit(MAX_STORY_TASKS)
        )
        orders = (select(o.id, o.client_order_id, o.firm_code, o.program_id, o.task_id, o.action, o.contracts,
                         o.status, o.reason, o.firm_order_id, o.message, o.created_at, o.updated_at)
                  .where(o.trade_id == trade_id).order_by(o.id))
        with self._db.transaction() as connection:
            task_rows = [dict(r._mapping) for r in connection.execute(tasks).all()]
            position_rows = [dict(r._mapping) for r in connection.execute(
                select(trade_positions).where(trade_positions.c.trade_id == trade_id)
                .order_by(trade_positions.c.id)).all()]
            order_rows = [dict(r._mapping) for r in connection.execute(orders).all()]
            event_rows = [dict(r._mapping) for r in connection.execute(
                select(account_events).where(e.trade_id == trade_id).order_by(e.occurred_at, e.id)).all()]
        for row in task_rows:
            row["payload"] = _as_dict(row["payload"])
            row["result"] = _as_dict(row.pop("response_body"))
        return {"tasks": task_rows, "positions": position_rows, "orders": order_rows, "events": event_rows}


__all__ = ["JournalFilter", "JournalRepository", "MAX_TRADES"]
