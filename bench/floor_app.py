"""The floor for `make bench`: the least a durable webhook can do, with nothing of ours in it.

Flask + psycopg 3, no SQLAlchemy: parse the JSON body, INSERT it as one JSONB row, COMMIT, answer
JSON. One connection per gunicorn thread (``threading.local``), opened on the thread's first
request and kept: no pool, no checkout, no ping. ``ours / floor`` is then the price of everything
the router adds, including its own database layer, over Flask, gunicorn and PostgreSQL themselves.

The SQLAlchemy reference (bench/reference_app.py) stays beside it as a second column: the gap
between the two is what a pooled engine costs before any routing is done.

Benchmark-only: nothing in the application imports this module.
"""
from __future__ import annotations

import json
import os
import threading

import psycopg
from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb

TABLE = "bench_floor_events"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, "
           "received_at TIMESTAMPTZ NOT NULL DEFAULT now(), payload JSONB NOT NULL)")
_INSERT = f"INSERT INTO {TABLE} (payload) VALUES (%s) RETURNING id"


def _plain_url(url: str) -> str:
    """psycopg takes libpq URLs: ``postgresql://`` without SQLAlchemy's ``+driver`` suffix."""
    scheme, sep, rest = url.partition("://")
    return ("postgresql" if scheme.startswith("postgres") else scheme) + sep + rest


def reset_floor_table(url: str) -> None:
    """Create the table (the harness does it once, before the workers start) and empty it."""
    with psycopg.connect(_plain_url(url), autocommit=True) as connection:
        connection.execute(_CREATE)
        connection.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")


def count_floor_rows(url: str, prefix: str) -> dict[tuple[str, str], int]:
    """Rows per (trade_id, event_type) for ids ``<prefix>-...`` (nothing lost or doubled?)."""
    with psycopg.connect(_plain_url(url)) as connection:
        rows = connection.execute(
            f"SELECT payload->>'trade_id', payload->>'event_type', count(*) FROM {TABLE} "
            "WHERE payload->>'trade_id' LIKE %s GROUP BY 1, 2", (prefix + "-%",)).fetchall()
    return {(trade_id, event_type): int(n) for trade_id, event_type, n in rows}


def create_app() -> Flask:
    url = _plain_url(os.environ["DATABASE_URL"])
    local = threading.local()

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(url)
        return conn

    app = Flask(__name__)

    @app.post("/api/automated-signals/webhook")
    def webhook():
        data = json.loads(request.get_data(cache=False))
        conn = connection()
        with conn.transaction():
            row_id = conn.execute(_INSERT, (Jsonb(data),)).fetchone()[0]
        return jsonify({"id": row_id, "stored": True}), 200

    @app.get("/health")
    def health():
        connection().execute("SELECT 1").fetchone()
        connection().rollback()
        return jsonify({"status": "ok"})

    return app
