"""Frozen values the repository hands out and takes in, and the row -> record mapping.

SQLAlchemy rows never leave ``database/``: a position is read into a ``PositionRecord`` here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from database.tables import trade_positions


@dataclass(frozen=True)
class EntryRateCap:
    """At most `max_entries` reservations at a firm since `since` (MAX_ORDERS_PER_MINUTE)."""

    max_entries: int
    since: dt.datetime


@dataclass(frozen=True)
class PositionRecord:
    """What one trade opened at one firm/program, and how much of it is still open."""

    id: int
    trade_id: str
    firm_code: str
    program_id: int
    symbol: str
    side: str
    contracts_opened: int
    contracts_open: int
    entry_price: Decimal | None
    stop_price: Decimal | None
    status: str
    dry_run: bool
    client_order_id: str | None
    firm_contract: str | None = None  # the firm's contract the entry traded, when known


POSITION_COLUMNS = (
    trade_positions.c.id,
    trade_positions.c.trade_id,
    trade_positions.c.firm_code,
    trade_positions.c.program_id,
    trade_positions.c.symbol,
    trade_positions.c.side,
    trade_positions.c.contracts_opened,
    trade_positions.c.contracts_open,
    trade_positions.c.entry_price,
    trade_positions.c.stop_price,
    trade_positions.c.status,
    trade_positions.c.dry_run,
    trade_positions.c.client_order_id,
    trade_positions.c.firm_contract,
)


def position_from_row(row: Row[Any]) -> PositionRecord:
    """The record of one row selected with `POSITION_COLUMNS`."""
    m = row._mapping
    return PositionRecord(
        id=m["id"],
        trade_id=m["trade_id"],
        firm_code=m["firm_code"],
        program_id=m["program_id"],
        symbol=m["symbol"],
        side=m["side"],
        contracts_opened=m["contracts_opened"],
        contracts_open=m["contracts_open"],
        entry_price=m["entry_price"],
        stop_price=m["stop_price"],
        status=m["status"],
        dry_run=bool(m["dry_run"]),
        client_order_id=m["client_order_id"],
        firm_contract=m["firm_contract"],
    )
