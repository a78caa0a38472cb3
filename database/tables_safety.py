"""The trading-state table: the operator's kill switch, persisted so every worker and
instance obeys it and it survives restarts.

One row (``id = 1``); no row means ACTIVE, so a fresh database trades as before. The CHECK
constraints make a typo in a hand-written UPDATE fail instead of silently meaning "ACTIVE".
Schema owners: the migration ``0006_trading_state`` and ``database/trading_state_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Integer, PrimaryKeyConstraint, String, Table, Text, func

from database.tables import Timestamp, metadata, one_of, quoted
from domain.trading_state import TradingState

trading_state = Table(
    "trading_state",
    metadata,
    Column("id", Integer, autoincrement=False),
    Column("state", String(16), nullable=False, server_default=quoted(TradingState.ACTIVE)),
    Column("reason", Text, nullable=True),
    Column("changed_by", String(64), nullable=True),
    Column("updated_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="trading_state_pkey"),
    CheckConstraint("id = 1", name="trading_state_id_check"),
    one_of("state", TradingState, name="trading_state_state_check"),
)
