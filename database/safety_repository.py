"""SQL for the safety features: trading state, stuck-task recovery, velocity, streak and
trades-per-day inputs. Like ExecutionRepository, one transaction per public method; plain values out.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from database.position_repository import entries_reserved_since
from database.tables import execution_tasks, trade_positions
from database.tables_safety import trading_state
from database.unit_of_work import Connections, connections
from domain.position import PositionStatus
from domain.task_status import TaskStatus
from domain.trading_state import TradingState

EXIT_EVENT_TYPES = ("EXIT_STOP_LOSS", "EXIT_BREAK_EVEN", "EXIT_TAKE_PROFIT", "EXIT_PARTIAL", "CANCELLED")


@dataclass(frozen=True)
class TradingStateRecord:
    state: str
    reason: str | None
    changed_by: str | None
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class StuckTask:
    id: int
    trade_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    idempotency_key: str | None


class SafetyRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)
        self._engine = self._db.engine

    # -- trading state ----------------------------------------------------------------------------

    def get_trading_state(self) -> TradingStateRecord:
        """The current state; ACTIVE when never set. One primary-key read: cheap per request."""
        with self._db.transaction(one_statement=True) as connection:
            row = connection.execute(select(trading_state).where(trading_state.c.id == 1)).first()
        if row is None:
            return TradingStateRecord("ACTIVE", None, None, None)
        return TradingStateRecord(row.state, row.reason, row.changed_by, row.updated_at)

    def set_trading_state(self, state: str, reason: str | None, changed_by: str) -> TradingStateRecord:
        """Upsert the single row; returns the previous state."""
        if state not in list(TradingState):
            raise ValueError(f"state must be one of {', '.join(TradingState)}, got {state!r}")
        values = {"id": 1, "state": state, "reason": reason, "changed_by": changed_by[:64]}
        with self._db.transaction() as connection:
            previous = connection.execute(
                select(trading_state).where(trading_state.c.id == 1).with_for_update()
            ).first()
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(trading_state).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=["id"],
                set_={"state": state, "reason": reason, "changed_by": values["changed_by"], "updated_at": func.now()},
            )
            connection.execute(statement)
        if previous is None:
            return TradingStateRecord("ACTIVE", None, None, None)
        return TradingStateRecord(previous.state, previous.reason, previous.changed_by, previous.updated_at)

    # -- crash recovery ---------------------------------------------------------------------------

    def claim_stuck_tasks(self, older_than_seconds: int, limit: int = 50) -> list[StuckTask]:
        """Tasks left PENDING/PROCESSING longer than the threshold, claimed for this caller only.

        ``FOR UPDATE SKIP LOCKED`` lets several workers run this at once without waiting on each
        other, and the claim bumps ``updated_at`` in the same transaction, so once committed no
        other worker sees the task as stuck again: each stuck task is recovered exactly once.
        (SQLite transactions are serialised, which gives the same guarantee.)
        """
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=older_than_seconds)
        with self._db.transaction() as connection:
            query = (
                select(execution_tasks)
                .where(execution_tasks.c.status.in_((TaskStatus.PENDING, TaskStatus.PROCESSING)))
                .where(execution_tasks.c.updated_at < cutoff)
                .order_by(execution_tasks.c.id)
                .limit(limit)
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            connection.execute(
                update(execution_tasks)
                .where(execution_tasks.c.id.in_(ids))
                .values(status=TaskStatus.PROCESSING, updated_at=func.now())
            )
        return [
            StuckTask(r.id, r.trade_id, r.event_type, dict(r.payload), r.status, r.idempotency_key)
            for r in rows
        ]

    def positions_touched_by_task(self, task_id: int, trade_id: str) -> list[dict[str, Any]]:
        """Positions the task reserved (entries) or, for an exit, every position of its trade:
        what a crash may have left with an unknown outcome at a firm."""
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(
                    trade_positions.c.id, trade_positions.c.firm_code, trade_positions.c.program_id,
                    trade_positions.c.dry_run, trade_positions.c.client_order_id, trade_positions.c.status,
                    trade_positions.c.opened_task_id,
                ).where(trade_positions.c.trade_id == trade_id)
            ).all()
        return [dict(r._mapping) for r in rows]

    # -- limits -----------------------------------------------------------------------------------

    def entry_orders_since(self, firm_code: str, since: dt.datetime) -> int:
        """Entry orders reserved at a firm since ``since`` (released reservations sent nothing)."""
        with self._db.transaction() as connection:
            return entries_reserved_since(connection, firm_code, since)

    def entries_opened_since(self, firm_code: str, program_id: int, since: dt.datetime, live_only: bool) -> int:
        """Entries the program opened since ``since``: reservations not given back (a released one
        sent nothing or the firm refused it); ``live_only`` leaves out simulated (dry-run) ones."""
        query = (
            select(func.count()).select_from(trade_positions)
            .where(trade_positions.c.firm_code == firm_code)
            .where(trade_positions.c.program_id == program_id)
            .where(trade_positions.c.status != PositionStatus.RELEASED)
            .where(trade_positions.c.created_at >= since)
        )
        if live_only:
            query = query.where(trade_positions.c.dry_run.is_(False))
        with self._db.transaction(one_statement=True) as connection:
            return int(connection.execute(query).scalar_one())

    def closing_events_since(self, firm_code: str, program_id: int, since: dt.datetime, limit: int = 200) -> list[str]:
        """For the program's trades closed since ``since``, newest first: the event type of the
        exit that closed each one (the last completed exit task of that trade)."""
        last_exit = (
            select(execution_tasks.c.event_type)
            .where(execution_tasks.c.trade_id == trade_positions.c.trade_id)
            .where(execution_tasks.c.event_type.in_(EXIT_EVENT_TYPES))
            .where(execution_tasks.c.status == TaskStatus.COMPLETED)
            .order_by(execution_tasks.c.id.desc())
            .limit(1)
            .correlate(trade_positions)
            .scalar_subquery()
        )
        with self._db.transaction() as connection:
            rows = connection.execute(
                select(last_exit.label("event_type"))
                .where(
                    and_(
                        trade_positions.c.firm_code == firm_code,
                        trade_positions.c.program_id == program_id,
                        trade_positions.c.status == PositionStatus.CLOSED,
                        trade_positions.c.updated_at >= since,
                    )
                )
                .order_by(trade_positions.c.updated_at.desc(), trade_positions.c.id.desc())
                .limit(limit)
            ).all()
        return [r.event_type for r in rows if r.event_type is not None]
