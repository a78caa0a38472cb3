"""Trading state (ACTIVE / REDUCING / HALTED): the persisted kill switch.

Revision ID: 0006_trading_state
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006_trading_state"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("trading_state"):
        return  # created by database/trading_state_schema.sql: adopt as is
    op.create_table(
        "trading_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default=sa.text("'ACTIVE'")),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="trading_state_pkey"),
        sa.CheckConstraint("id = 1", name="trading_state_id_check"),
        sa.CheckConstraint(
            "state IN ('ACTIVE', 'REDUCING', 'HALTED')", name="trading_state_state_check"
        ),
    )


def downgrade() -> None:
    op.drop_table("trading_state")
