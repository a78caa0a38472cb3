"""market_prices and account_equity_peaks: the latest mark per futures root, each trailing
account's highest marked equity.

Kept identical to ``database/market_prices_schema.sql`` (tests/integration/test_schema_sql.py
compares them).

Revision ID: 0102_market_prices
Revises: 0101_dashboard_sessions
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0102_market_prices"
down_revision = "0101_dashboard_sessions"
branch_labels = None
depends_on = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 6)


def _exists(name: str) -> bool:
    return not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _exists("market_prices"):  # else created by database/market_prices_schema.sql: adopt as is
        op.create_table(
            "market_prices",
            sa.Column("root", sa.String(16), nullable=False),
            sa.Column("price", MONEY, nullable=False),
            sa.Column("price_time", TIMESTAMP_TZ, nullable=False),
            sa.Column("symbol", sa.String(64), nullable=False),
            sa.Column("received_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("root", name="market_prices_pkey"),
        )
    if not _exists("account_equity_peaks"):
        op.create_table(
            "account_equity_peaks",
            sa.Column("firm_code", sa.String(32), nullable=False),
            sa.Column("program_id", sa.Integer, nullable=False),
            sa.Column("equity_peak", MONEY, nullable=False),
            sa.Column("reached_at", TIMESTAMP_TZ, nullable=False),
            sa.PrimaryKeyConstraint("firm_code", "program_id", name="account_equity_peaks_pkey"),
        )


def downgrade() -> None:
    op.drop_table("account_equity_peaks")
    op.drop_table("market_prices")
