"""connector_orders: the durable record of every live order submission.

Written by hand and kept identical to ``database/connector_orders_schema.sql``
(tests/integration/test_schema_sql.py compares them).

Revision ID: 0004_connector_orders
Revises: 0001
Create Date: 2026-11-26
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0004_connector_orders"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A database made with `psql -f database/connector_orders_schema.sql` already has the table
    # (same columns, constraints and indexes): adopt it rather than fail.
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("connector_orders"):
        return
    op.create_table(
        "connector_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("firm_code", sa.String(32), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'PENDING'")),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("firm_order_id", sa.String(128), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("request", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="connector_orders_pkey"),
        sa.UniqueConstraint("client_order_id", name="connector_orders_client_order_id_key"),
        sa.ForeignKeyConstraint(["task_id"], ["execution_tasks.id"], name="connector_orders_task_id_fkey"),
        sa.ForeignKeyConstraint(
            ["position_id"], ["trade_positions.id"], name="connector_orders_position_id_fkey"
        ),
        sa.CheckConstraint("action IN ('ENTRY', 'EXIT')", name="connector_orders_action_check"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SUCCESS', 'FAILED', 'UNKNOWN')", name="connector_orders_status_check"
        ),
    )
    op.create_index("idx_connector_orders_status", "connector_orders", ["status"])
    op.create_index("idx_connector_orders_trade_id", "connector_orders", ["trade_id"])


def downgrade() -> None:
    op.drop_table("connector_orders")
