"""The account ledger's table: every realized P&L, adjustment, balance correction and day reset.

One append-only table (``account_events``) is both the ledger and its audit trail: the account
state is recomputed from it (plus ``trade_positions`` for what is open), so nothing is ever
updated in place and every number can be traced to a row saying who/why. Kinds:

- ``CLOSE``           realized P&L of contracts an exit closed (amount NULL = price unknown);
- ``CLOSE_REVERSED``  the exit order FAILED, so that close did not happen (amount = -original);
- ``ADJUSTMENT``      an external P&L correction entered by an operator (fees, manual trades);
- ``SET_BALANCE``     a corrected starting balance (amount = the new starting balance);
- ``NEW_DAY``         an operator-started trading day (day P&L counts from here).

Created by migration ``0005_account_ledger`` and ``database/account_events_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    Table,
    func,
)

from database.tables import Price, Timestamp, metadata, one_of
from domain.account_event import AccountEventKind

account_events = Table(
    "account_events",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("firm_code", String(32), nullable=False),
    Column("program_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    # Dollars (P&L, adjustment, or the new starting balance); NULL only for a CLOSE whose exit
    # price was unknown, so the gap is visible instead of a silent zero.
    Column("amount", Price, nullable=True),
    Column("occurred_at", Timestamp, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("trade_id", String(255), nullable=True),
    Column("position_id", Integer, nullable=True),
    Column("task_id", Integer, nullable=True),
    Column("symbol", String(64), nullable=True),
    Column("side", String(5), nullable=True),
    Column("contracts", Integer, nullable=True),
    Column("entry_price", Price, nullable=True),
    Column("exit_price", Price, nullable=True),
    Column("price_source", String(32), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="account_events_pkey"),
    one_of("kind", AccountEventKind, name="account_events_kind_check"),
    CheckConstraint(
        "amount IS NOT NULL OR kind IN ('CLOSE', 'NEW_DAY')", name="account_events_amount_check"
    ),
)
Index(
    "idx_account_events_account",
    account_events.c.firm_code,
    account_events.c.program_id,
    account_events.c.occurred_at,
)
