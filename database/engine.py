"""Building the SQLAlchemy engine from ``DATABASE_URL`` (PostgreSQL) or an embedded SQLite file.

PostgreSQL is the production store shared by every gunicorn worker and instance; SQLite exists so
a newcomer can run the service with nothing installed. Both get settings that keep them correct
under several threads/workers; see the notes on each branch.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_SQLITE_PATH = "instance/execution_router.db"

_POSTGRES_PREFIXES = ("postgres://", "postgresql://")
_POSTGRES_DRIVER_PREFIX = "postgresql+psycopg2://"

# NaN/Infinity are not JSON; PostgreSQL's jsonb rejects them while SQLite would store them.
# Refusing them in the serializer makes both backends fail the same way, at write time.
_json_serializer = functools.partial(json.dumps, allow_nan=False)



def normalize_database_url(url: str | None, sqlite_path: str) -> str:
    """Return a SQLAlchemy URL for ``DATABASE_URL``, or the SQLite fallback when it is unset.

    Hosted PostgreSQL (Railway, Heroku) hands out ``postgres://`` URLs, which SQLAlchemy 2 no
    longer accepts, and ``postgresql://`` would pick whichever driver SQLAlchemy prefers; both
    are mapped to the psycopg2 driver we ship.
    """
    if url is None or not url.strip():
        return f"sqlite:///{sqlite_path}"
    url = url.strip()
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return _POSTGRES_DRIVER_PREFIX + url[len(prefix) :]
    return url


def create_db_engine(url: str | None, sqlite_path: str = DEFAULT_SQLITE_PATH) -> Engine:
    """Create the engine for ``url`` (``None``/empty means the embedded SQLite file)."""
    normalized = normalize_database_url(url, sqlite_path)
    backend = make_url(normalized).get_backend_name()
    if backend == "postgresql":
        return _create_postgres_engine(normalized)
    if backend == "sqlite":
        return _create_sqlite_engine(normalized)
    raise ValueError(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://, postgresql://) or a SQLite URL; "
        f"got a {backend!r} URL"
    )


def _create_postgres_engine(url: str) -> Engine:
    """PostgreSQL: a small pool per worker, every checkout pinged, failing fast when unreachable.

    ``pool_pre_ping`` checks a pooled connection before each use and silently replaces a dead one
    (a database restart, an outage, a proxy's idle timeout), so the first signal after an outage
    is processed instead of failing on a stale connection — TradingView's resend after a 503
    must succeed. A dry-run signal holds one connection for its two transactions
    (database/unit_of_work.py `connection_scope`), so this costs one short round trip. An earlier version pinged only connections idle for 5 s; the
    outage test showed the first request after the database came back failing on a connection
    that had died within that window.
    ``connect_timeout`` (2 s, libpq's smallest effective value), ``pool_timeout`` and
    ``tcp_user_timeout`` keep a dead or unreachable database from eating TradingView's 3 s
    answer budget: the webhook answers 503 instead (web/db_errors.py). A refused connection
    (database down, host up) fails in milliseconds.
    """
    return create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=2,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "tcp_user_timeout": 5000},
        json_serializer=_json_serializer,
    )


def _create_sqlite_engine(url: str) -> Engine:
    """SQLite: one file shared by threads (and workers), with real transactions.

    - ``check_same_thread=False``: Flask serves requests on several threads from one pool.
    - ``foreign_keys=ON``: SQLite ignores REFERENCES unless asked, and PostgreSQL enforces them.
    - ``journal_mode=WAL`` lets readers proceed while one connection writes.
    - ``busy_timeout`` makes a writer wait for the lock instead of failing at once.
    - Every transaction starts with ``BEGIN IMMEDIATE`` (taking the write lock up front, as
      Django's and Rails' SQLite "immediate" mode do). pysqlite by default starts transactions
      lazily at the first write, so a read-then-write unit of work (reduce a position) could see
      stale data or fail with "database is locked" instead of waiting. Serialising units of work
      is the price, and fine for the single-user fallback; PostgreSQL is for real concurrency.
    """
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        json_serializer=_json_serializer,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
