"""trade_positions.firm_contract: the firm's contract an entry traded, so its exit closes that one.

APEX (Tradovate) and TOPSTEP (ProjectX) trade dated futures contracts and close by account and
contract. The router used to look up the root's current front contract again at exit time; after a
roll (or a restart that re-resolved it) that is a different contract, the exit saw nothing open
there and reported the trade flat while the real position stayed open. NULL: not known (dry-run,
FTMO's undated CFD symbols, or positions opened before this revision), and the exit falls back to
the front contract.

Revision ID: 0100_position_contract
Revises: 0099_merge_feature_heads
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0100_position_contract"
down_revision = "0099_merge_feature_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode():  # SQL for psql: the schema file may have added it already
        op.execute("ALTER TABLE trade_positions ADD COLUMN IF NOT EXISTS firm_contract VARCHAR(64)")
        return
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("trade_positions")}
    if "firm_contract" in columns:
        return  # added by database/trade_positions_schema.sql: adopt as is
    op.add_column("trade_positions", sa.Column("firm_contract", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("trade_positions", "firm_contract")
