"""``market_prices`` and ``account_equity_peaks``: the latest mark per futures root, and each
trailing account's highest marked equity.

A price webhook (web/realtime_price.py) keeps one row per root, replaced only by a newer price
time, so a late or repeated alert never moves a mark backwards. The open P&L an entry's loss
checks see is computed from these marks and the open positions (account_engine/marks.py); the
equity peak keeps an intraday high reached on a mark after the price has fallen back and after
a restart. Schema owners: the migration ``0102_market_prices`` and
``database/market_prices_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, String, Table, func

from database.tables import Price, Timestamp, metadata

market_prices = Table(
    "market_prices",
    metadata,
    Column("root", String(16), nullable=False),
    Column("price", Price, nullable=False),
    Column("price_time", Timestamp, nullable=False),  # the sender's time of the price
    Column("symbol", String(64), nullable=False),  # as sent (NQ1!, CME_MINI:NQZ2025)
    Column("received_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("root", name="market_prices_pkey"),
)

account_equity_peaks = Table(
    "account_equity_peaks",
    metadata,
    Column("firm_code", String(32), nullable=False),
    Column("program_id", Integer, nullable=False),
    Column("equity_peak", Price, nullable=False),
    Column("reached_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("firm_code", "program_id", name="account_equity_peaks_pkey"),
)
