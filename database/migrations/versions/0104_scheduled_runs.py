"""scheduled_runs: one row per run of a timed job (database/tables_schedule.py).

Kept identical to ``database/scheduled_runs_schema.sql`` (tests/integration/test_schema_sql.py
compares them).

Revision ID: 0104_scheduled_runs
Revises: 0103_account_guard
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0104_scheduled_runs"
down_revision = "0103_account_guard"
branch_labels = None
depends_on = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("scheduled_runs"):
        return  # created by database/scheduled_runs_schema.sql: adopt as is
    op.create_table(
        "scheduled_runs",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("due_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("claimed_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("detail", JSON_DOCUMENT, nullable=True),
        sa.PrimaryKeyConstraint("job_id", "due_at", name="scheduled_runs_pkey"),
        sa.CheckConstraint("status IN ('RUNNING', 'DONE', 'FAILED')", name="scheduled_runs_status_check"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
