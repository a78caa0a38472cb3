"""The yardstick for `make bench`: the least a durable webhook can do on the same stack.

Parse the JSON body, INSERT it as one JSONB row and COMMIT on a pooled connection, answer JSON.
It runs under the same gunicorn settings and the same engine factory (pool, serializer) as the
router, so ``ours / reference`` throughput is the price of everything the router adds (validation,
risk/sizing/breach, the audit trail) rather than of Flask, gunicorn or PostgreSQL themselves.

Benchmark-only: nothing in the application imports this module.
"""
from __future__ import annotations

import json
import os

from flask import Flask, jsonify, request
from sqlalchemy import BigInteger, Column, DateTime, Engine, MetaData, Table, func, insert, text
from sqlalchemy.dialects.postgresql import JSONB

from database import create_db_engine

_metadata = MetaData()
reference_events = Table(
    "bench_reference_events",
    _metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", JSONB, nullable=False),
)


def reset_reference_table(engine: Engine) -> None:
    """Create the table (the harness does it once, before the workers start) and empty it."""
    _metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE bench_reference_events RESTART IDENTITY"))


def count_reference_rows(engine: Engine, prefix: str) -> dict[tuple[str, str], int]:
    """Rows per (trade_id, event_type) for ids ``<prefix>-...`` (nothing lost or doubled?)."""
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                "SELECT payload->>'trade_id' AS trade_id, payload->>'event_type' AS event_type, "
                "count(*) AS n FROM bench_reference_events "
                "WHERE payload->>'trade_id' LIKE :pattern GROUP BY 1, 2"
            ),
            {"pattern": prefix + "-%"},
        ).all()
    return {(row.trade_id, row.event_type): int(row.n) for row in rows}


def create_app() -> Flask:
    engine = create_db_engine(os.environ["DATABASE_URL"])
    app = Flask(__name__)

    @app.post("/api/automated-signals/webhook")
    def webhook():
        data = json.loads(request.get_data(cache=False))
        with engine.begin() as connection:
            row_id = connection.execute(
                insert(reference_events).values(payload=data).returning(reference_events.c.id)
            ).scalar_one()
        return jsonify({"id": row_id, "stored": True}), 200

    @app.get("/health")
    def health():
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
        return jsonify({"status": "ok"})

    return app
