"""dashboard_session_revocations: dashboard sessions ended by a logout before their expiry.

Kept identical to ``database/dashboard_sessions_schema.sql`` (tests/integration/test_schema_sql.py
compares them).

Revision ID: 0101_dashboard_sessions
Revises: 0100_position_contract
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0101_dashboard_sessions"
down_revision = "0100_position_contract"
branch_labels = None
depends_on = None

TIMESTAMP_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table("dashboard_session_revocations"):
        return  # created by database/dashboard_sessions_schema.sql: adopt as is
    op.create_table(
        "dashboard_session_revocations",
        sa.Column("session_key", sa.String(64), nullable=False),
        sa.Column("expires_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("revoked_at", TIMESTAMP_TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("session_key", name="dashboard_session_revocations_pkey"),
    )
    op.create_index(
        "idx_dashboard_session_revocations_expires_at", "dashboard_session_revocations", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("dashboard_session_revocations")
