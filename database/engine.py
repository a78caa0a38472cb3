"""Building the SQLAlchemy engine from ``DATABASE_URL`` (PostgreSQL) or an embedded SQLite file.

PostgreSQL is the production store shared by every gunicorn worker and instance; SQLite exists so
a newcomer can run the service with nothing installed. Both get settings that keep them correct
under several threads/workers; see the notes on each branch.
"""
from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

DEFAULT_SQLITE_PATH = "instance/execution_router.db"

_POSTGRES_PREFIXES = ("postgres://", "postgresql://")
_POSTGRES_DRIVER_PREFIX = "postgresql+psycopg2://"

# NaN/Infinity are not JSON; PostgreSQL's jsonb rejects them while SQLite would store them.
# Refusing them in the serializer makes both backends fail the same way, at write time.
_json_serializer = functools.partial(json.dumps, allow_nan=False)

# A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
PING_IF_IDLE_SECONDS = 5.0


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
    """PostgreSQL: a small pool per worker, pinged after idling, failing fast when unreachable.

    Connections that sat idle are what a hosted database or a proxy drops (idle timeouts,
    restarts between bursts), so a connection idle for more than ``PING_IF_IDLE_SECONDS`` is
    pinged before use and silently replaced if dead. ``pool_pre_ping`` would ping on *every*
    checkout: a request checks a connection out once per unit of work (five times for an entry),
    and those pings were ~20% of a request's database round trips (`make profile`). A connection
    that dies while busy is not hidden by either: the statement fails, SQLAlchemy recognises the
    disconnect and invalidates the whole pool, so the next request reconnects.
    ``connect_timeout`` (2 s, libpq's smallest effective value), ``pool_timeout`` and
    ``tcp_user_timeout`` keep a dead or unreachable database from eating TradingView's 3 s
    answer budget: the webhook answers 503 instead (web/db_errors.py). A refused connection
    (database down, host up) fails in milliseconds.
    """
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=2,
        connect_args={"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "tcp_user_timeout": 5000},
        json_serializer=_json_serializer,
    )
    _ping_connections_after_idling(engine)
    return engine


def _ping_connections_after_idling(engine: Engine) -> None:
    """Pessimistic disconnect handling limited to idle connections, with SQLAlchemy's own ping.

    Raising ``DisconnectionError`` from a checkout listener makes the pool discard the
    connection and retry with a fresh one (https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-pessimistic
    and PoolEvents.checkout).
    """

    @event.listens_for(engine.pool, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["last_used"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get("last_used")
        if last_used is not None and time.monotonic() - last_used < PING_IF_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


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
