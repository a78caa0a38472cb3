"""Table definitions (SQLAlchemy Core) for the execution router's audit trail and positions.

The column names and types follow the deployment guide's ``execution_tasks`` / ``execution_logs``
so the guide's psql queries run unchanged on our database (JSONB on PostgreSQL, where the
``->``/``->>`` operators live). Where we are stricter than the guide it is on purpose:

- ``status``/timestamps are NOT NULL and timestamps carry a time zone, because the operator
  reading the audit trail from another time zone must not have to guess what "14:30" meant.
- ``execution_logs.task_id`` is NOT NULL and UNIQUE: exactly one result per task, enforced by the
  database so two workers can never both record a result for the same signal.
- ``trade_positions`` records what each trade opened per firm/program, so an exit closes exactly
  that (never a guessed quantity) and a trade opens at most once per firm/program (unique key).

This module is the runtime view of the schema. The schema itself is created by the Alembic
migration ``database/migrations/versions/0001_initial.py`` and, for operators following the guide,
by ``database/*_schema.sql``; ``tests/integration/test_schema_sql.py`` keeps the two in step.
Constraint names follow PostgreSQL's own defaults so a table created from the ``.sql`` files, by
the guide's original psql files or by the migration looks identical in ``\\d``.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from domain.position import PositionSide, PositionStatus
from domain.task_status import TaskStatus

PRICE_SCALE = 6
"""Decimal places kept for prices (NUMERIC(18,6)); futures ticks are at most 1e-6 apart."""



def quantize_price(value: Decimal) -> Decimal:
    """Round to the stored scale the way PostgreSQL's NUMERIC does (half away from zero)."""
    return value.quantize(Decimal(1).scaleb(-PRICE_SCALE), rounding=ROUND_HALF_UP)


def one_of(column: str, values: Iterable[str], name: str) -> CheckConstraint:
    """``CHECK (column IN ('A', 'B'))`` over a domain enum, spelled as the migrations wrote it."""
    return CheckConstraint(f"{column} IN ({', '.join(map(_literal, values))})", name=name)


def quoted(value: str) -> TextClause:
    """A string literal as a column's server default."""
    return text(_literal(value))


def _literal(value: str) -> str:
    return f"'{value}'"


class _SQLiteExactDecimal(TypeDecorator[Decimal]):
    """Exact decimals on SQLite, stored as text.

    SQLite has no decimal type; SQLAlchemy's Numeric would round-trip prices through binary
    floating point (and warns about it). Money compared against a limit must be exact, so on
    SQLite the value is stored as its quantized decimal string and read back as ``Decimal``,
    giving the same values PostgreSQL's NUMERIC(18,6) returns.
    """

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(quantize_price(Decimal(str(value))))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class _SQLiteUTCDateTime(TypeDecorator[dt.datetime]):
    """UTC-aware datetimes on SQLite.

    SQLite's CURRENT_TIMESTAMP is UTC but carries no zone, so rows would come back naive while
    PostgreSQL returns aware datetimes. Attaching UTC makes both backends return comparable
    values, and aware inputs are stored converted to UTC.
    """

    impl = DateTime()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


JsonDocument = JSON().with_variant(JSONB(), "postgresql")
"""JSON everywhere, JSONB on PostgreSQL so the guide's ``->>`` queries and jsonb functions work."""

Timestamp = DateTime(timezone=True).with_variant(_SQLiteUTCDateTime(), "sqlite")
Price = Numeric(18, PRICE_SCALE).with_variant(_SQLiteExactDecimal(), "sqlite")

metadata = MetaData()

execution_tasks = Table(
    "execution_tasks",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("trade_id", String(255), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("status", String(50), nullable=False, server_default=quoted(TaskStatus.PENDING)),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    Column("updated_at", Timestamp, nullable=False, server_default=func.now()),
    # Why the task failed, readable without digging into the JSON result.
    Column("error", Text, nullable=True),
    # Set from the signal so a resent webhook (TradingView retries on 5xx) is recognised.
    Column("idempotency_key", String(255), nullable=True),
    PrimaryKeyConstraint("id", name="execution_tasks_pkey"),
    UniqueConstraint("idempotency_key", name="execution_tasks_idempotency_key_key"),
)
Index("idx_execution_tasks_trade_id", execution_tasks.c.trade_id)
Index("idx_execution_tasks_status", execution_tasks.c.status)
Index("idx_execution_tasks_created_at", execution_tasks.c.created_at)

execution_logs = Table(
    "execution_logs",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("task_id", Integer, nullable=False),
    Column("trade_id", String(255), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("response_body", JsonDocument, nullable=False),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="execution_logs_pkey"),
    ForeignKeyConstraint(
        ["task_id"], ["execution_tasks.id"], name="execution_logs_task_id_fkey"
    ),
)
# The guide's index name, made UNIQUE: one log row per task.
Index("idx_execution_logs_task_id", execution_logs.c.task_id, unique=True)
Index("idx_execution_logs_trade_id", execution_logs.c.trade_id)
Index("idx_execution_logs_created_at", execution_logs.c.created_at)

trade_positions = Table(
    "trade_positions",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("trade_id", String(255), nullable=False),
    Column("firm_code", String(32), nullable=False),
    Column("program_id", Integer, nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(5), nullable=False),
    Column("contracts_opened", Integer, nullable=False),
    Column("contracts_open", Integer, nullable=False),
    Column("entry_price", Price, nullable=True),
    Column("stop_price", Price, nullable=True),
    Column("status", String(16), nullable=False, server_default=quoted(PositionStatus.OPEN)),
    Column("dry_run", Boolean, nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("opened_task_id", Integer, nullable=True),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    Column("updated_at", Timestamp, nullable=False, server_default=func.now()),
    # The firm's contract the entry traded (revision 0100): the exit closes that one, not the
    # front contract of the day. NULL when not known.
    Column("firm_contract", String(64), nullable=True),
    PrimaryKeyConstraint("id", name="trade_positions_pkey"),
    ForeignKeyConstraint(
        ["opened_task_id"], ["execution_tasks.id"], name="trade_positions_opened_task_id_fkey"
    ),
    # A trade opens at most once per firm/program, whichever worker sees the signal first.
    UniqueConstraint(
        "trade_id",
        "firm_code",
        "program_id",
        name="trade_positions_trade_id_firm_code_program_id_key",
    ),
    CheckConstraint("contracts_opened > 0", name="trade_positions_contracts_opened_check"),
    CheckConstraint(
        "contracts_open >= 0 AND contracts_open <= contracts_opened",
        name="trade_positions_contracts_open_check",
    ),
    one_of("side", PositionSide, name="trade_positions_side_check"),
    one_of("status", PositionStatus, name="trade_positions_status_check"),
)
# Serves the per-firm "contracts already open" sum used by the max_position_size cap.
Index("idx_trade_positions_firm_code_status", trade_positions.c.firm_code, trade_positions.c.status)

APP_TABLES = (
    "scheduled_runs", "account_guard_trips", "account_equity_peaks", "market_prices", "dashboard_session_revocations",
    "trading_state", "account_events", "connector_orders", "trade_positions", "execution_logs", "execution_tasks",
)
"""The app's tables, children first (the order to drop or truncate them in)."""

import database.tables_ledger  # noqa: E402,F401  (registers account_events on metadata)
import database.tables_connector_orders  # noqa: E402,F401  (registers connector_orders on `metadata`)
import database.tables_safety  # noqa: E402,F401  (registers trading_state on metadata)
import database.tables_sessions  # noqa: E402,F401  (registers dashboard_session_revocations on metadata)
import database.tables_prices  # noqa: E402,F401  (registers market_prices, account_equity_peaks on metadata)
import database.tables_guard  # noqa: E402,F401  (registers account_guard_trips on metadata)
import database.tables_schedule  # noqa: E402,F401  (registers scheduled_runs on metadata)
