"""account_guard_trips: the account guard's trips (database/tables_guard.py).

Kept identical to ``database/account_guard_schema.sql`` (tests/integration/test_schema_sql.py
compares them).

Revision ID: 0103_account_guard
Revises: 0102_market_prices
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0103_account_guard"
down_revision = "0102_market_prices"
branch_labels = None
depends_on = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 6)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("account_guard_trips"):
        return  # created by database/account_guard_schema.sql: adopt as is
    op.create_table(
        "account_guard_trips",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("firm_code", sa.String(32), nullable=False),
        sa.Column("program_id", sa.Integer, nullable=False),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("day_start", TIMESTAMP_TZ, nullable=False),
        sa.Column("tripped_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("until", TIMESTAMP_TZ, nullable=False),
        sa.Column("triggered_by", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("room", MONEY, nullable=False),
        sa.Column("buffer", MONEY, nullable=False),
        sa.Column("equity", MONEY, nullable=False),
        sa.Column("open_pl", MONEY, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("outcome", JSON_DOCUMENT, nullable=True),
        sa.Column("released_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("released_by", sa.String(128), nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="account_guard_trips_pkey"),
        sa.UniqueConstraint("firm_code", "program_id", "simulated", "day_start",
                            name="account_guard_trips_account_day_key"),
        sa.CheckConstraint("triggered_by IN ('PRICE', 'SNAPSHOT', 'FILL')", name="account_guard_trips_triggered_by_check"),
        sa.CheckConstraint("status IN ('FLATTENING', 'DONE')", name="account_guard_trips_status_check"),
    )


def downgrade() -> None:
    op.drop_table("account_guard_trips")
