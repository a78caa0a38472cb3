"""Account ledger: the account_events table (realized P&L, adjustments, balance corrections).

Created only when missing, so a database made from ``database/account_events_schema.sql`` with
psql is adopted in place. Must stay in step with that file (tests/integration/test_schema_sql.py).

Revision ID: 0005_account_ledger
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005_account_ledger"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)
PRICE = sa.Numeric(18, 6).with_variant(sa.String(40), "sqlite")


def upgrade() -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("account_events"):
        return
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("firm_code", sa.String(32), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", PRICE, nullable=True),
        sa.Column("occurred_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("trade_id", sa.String(255), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("side", sa.String(5), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=True),
        sa.Column("entry_price", PRICE, nullable=True),
        sa.Column("exit_price", PRICE, nullable=True),
        sa.Column("price_source", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="account_events_pkey"),
        sa.CheckConstraint(
            "kind IN ('CLOSE', 'CLOSE_REVERSED', 'ADJUSTMENT', 'SET_BALANCE', 'NEW_DAY')",
            name="account_events_kind_check",
        ),
        sa.CheckConstraint(
            "amount IS NOT NULL OR kind IN ('CLOSE', 'NEW_DAY')", name="account_events_amount_check"
        ),
    )
    op.create_index(
        "idx_account_events_account", "account_events", ["firm_code", "program_id", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("idx_account_events_account", table_name="account_events")
    op.drop_table("account_events")
