"""``connector_orders``: a durable record of every live order submission, keyed by client order id.

Why a table of its own: a submission whose answer never arrived (timeout after sending) must be
recognised later — by the reconciler, by an exit for the same trade, by an operator in psql —
and never sent a second time. The row is written *before* the HTTP request leaves (status
PENDING), so even a crash mid-send leaves a trace that reconciliation picks up.

Statuses: PENDING (written, answer not yet in), SUCCESS, FAILED, UNKNOWN (sent, outcome not
known: reconcile by client_order_id). Secrets never go in ``request``: it holds the order as the
router built it, not the HTTP request.
"""
from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from database.tables import JsonDocument, Timestamp, metadata

ORDER_PENDING = "PENDING"
ORDER_SUCCESS = "SUCCESS"
ORDER_FAILED = "FAILED"
ORDER_UNKNOWN = "UNKNOWN"
ORDER_STATUSES = (ORDER_PENDING, ORDER_SUCCESS, ORDER_FAILED, ORDER_UNKNOWN)

connector_orders = Table(
    "connector_orders",
    metadata,
    Column("id", Integer, autoincrement=True),
    Column("client_order_id", String(64), nullable=False),
    Column("firm_code", String(32), nullable=False),
    Column("program_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("trade_id", String(255), nullable=False),
    Column("action", String(8), nullable=False),
    Column("contracts", Integer, nullable=False),
    Column("position_id", Integer, nullable=True),
    Column("status", String(16), nullable=False, server_default=text("'PENDING'")),
    Column("reason", String(64), nullable=True),
    Column("firm_order_id", String(128), nullable=True),
    Column("message", Text, nullable=True),
    Column("request", JsonDocument, nullable=False),
    Column("created_at", Timestamp, nullable=False, server_default=func.now()),
    Column("updated_at", Timestamp, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="connector_orders_pkey"),
    UniqueConstraint("client_order_id", name="connector_orders_client_order_id_key"),
    ForeignKeyConstraint(["task_id"], ["execution_tasks.id"], name="connector_orders_task_id_fkey"),
    ForeignKeyConstraint(["position_id"], ["trade_positions.id"], name="connector_orders_position_id_fkey"),
    CheckConstraint("action IN ('ENTRY', 'EXIT')", name="connector_orders_action_check"),
    CheckConstraint(
        "status IN ('PENDING', 'SUCCESS', 'FAILED', 'UNKNOWN')", name="connector_orders_status_check"
    ),
)
# Serves the reconciler's "what is still unresolved" scan.
Index("idx_connector_orders_status", connector_orders.c.status)
Index("idx_connector_orders_trade_id", connector_orders.c.trade_id)
