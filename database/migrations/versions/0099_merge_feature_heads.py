"""Join the feature migrations (each branched from 0001) into one head.

Features were developed side by side, each adding its tables on top of 0001; this empty
revision makes `alembic upgrade head` (the operators' command) unambiguous again.

Revision ID: 0099_merge_feature_heads
Revises: 0004_connector_orders, 0005_account_ledger, 0006_trading_state
"""
from __future__ import annotations

revision = "0099_merge_feature_heads"
down_revision = ("0004_connector_orders", "0005_account_ledger", "0006_trading_state")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the merge only joins the history."""


def downgrade() -> None:
    """Nothing to undo."""
