"""``dashboard_session_revocations``: dashboard sessions ended by a logout before their expiry.

Sessions themselves are signed cookies checked without the database (web/browser_session.py);
only a logout needs shared state, because every gunicorn worker and instance must refuse a
copy of the cookie afterwards. A row holds a digest of the session id (never the id or the
cookie) and when the row may go: the session's own expiry (after which the signature check
refuses the cookie anyway) plus a margin for instances whose clocks lag; then it is pruned. Schema owners: the migration ``0101_dashboard_sessions`` and
``database/dashboard_sessions_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table, func

from database.tables import Timestamp, metadata

dashboard_session_revocations = Table(
    "dashboard_session_revocations",
    metadata,
    Column("session_key", String(64), nullable=False),  # sha256 hex of the session id
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("session_key", name="dashboard_session_revocations_pkey"),
)
# Serves the pruning of rows whose session has expired anyway.
Index("idx_dashboard_session_revocations_expires_at", dashboard_session_revocations.c.expires_at)
