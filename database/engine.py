"""Building the SQLAlchemy engine from ``DATABASE_URL`` (PostgreSQL) or an embedded SQLite file.

PostgreSQL is the production store shared by every gunicorn worker and instance; SQLite exists so
a newcomer can run the service with nothing installed. Both get settings that keep them correct
under several threads/workers; see the notes on each branch.
"""
from __future__ import annotations

import functools
import json
import select
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import make_url

DEFAULT_SQLITE_PATH = "instance/execution_router.db"

_POSTGRES_PREFIXES = ("postgres://", "postgresql://", "postgresql+psycopg2://")
_POSTGRES_DRIVER_PREFIX = "postgresql+psycopg://"

# NaN/Infinity are not JSON; PostgreSQL's jsonb rejects them while SQLite would store them.
# Refusing them in the serializer makes both backends fail the same way, at write time.
_json_serializer = functools.partial(json.dumps, allow_nan=False)



def normalize_database_url(url: str | None, sqlite_path: str) -> str:
    """Return a SQLAlchemy URL for ``DATABASE_URL``, or the SQLite fallback when it is unset.

    Hosted PostgreSQL (Railway, Heroku) hands out ``postgres://`` URLs, which SQLAlchemy 2 no
    longer accepts, and ``postgresql://`` would pick whichever driver SQLAlchemy prefers; both
    are mapped to the psycopg (3) driver we ship. So is ``postgresql+psycopg2://``, which earlier
    versions of this service used: psycopg2 is no longer installed. psycopg 3 prepares a
    statement on a connection after its 5th use, which saved about a third of PostgreSQL's CPU
    per signal (`make bench`: server-side planning). Behind PgBouncer in transaction mode that
    needs PgBouncer 1.21+ with ``max_prepared_statements`` set.
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
    """PostgreSQL: a small pool per worker, every checkout checked, failing fast when unreachable.

    A pooled connection can die while idle (a database restart, an outage, a proxy closing it);
    it must be replaced at checkout, silently, so the first signal after an outage is processed
    instead of failing on it - TradingView's resend after a 503 must succeed.
    ``pool_pre_ping`` does that with a ``SELECT 1`` round trip per checkout; under load that was
    the single most expensive statement of a signal (18% of a worker's time at concurrency 16,
    py-spy), because every round trip waits for a PostgreSQL backend to be scheduled. So the
    check is `_replace_if_dead` instead: an idle connection has nothing to say, so a socket that
    is readable (the server's goodbye, EOF, a reset) or in error is pinged for real and replaced
    if it fails. No round trip in the normal case. An earlier version pinged only connections
    idle for 5 s, and the outage test caught it missing a connection that died within that
    window; this check looks at every checkout.
    ``connect_timeout`` (2 s, libpq's smallest effective value), ``pool_timeout`` and
    ``tcp_user_timeout`` keep a dead or unreachable database from eating TradingView's 3 s
    answer budget: the webhook answers 503 instead (web/db_errors.py). A refused connection
    (database down, host up) fails in milliseconds. TCP keepalives notice a silently dropped
    path within a minute while the connection idles, which makes its socket readable too.
    """
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=2,
        connect_args={"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "tcp_user_timeout": 5000},
        json_serializer=_json_serializer,
    )
    event.listen(engine, "checkout", _replace_if_dead)
    return engine


def _replace_if_dead(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout hook: raising DisconnectionError makes the pool discard this connection and
    check out (or open) another, up to three times, before the caller sees an error."""
    if dbapi_connection.closed:
        raise DisconnectionError("connection closed by the client")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if not poller.poll(0):
        return  # the usual case: silent, so alive as far as can be known without asking
    try:  # the server spoke while we were idle: a goodbye, or (rarely) a notice; ask
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure here means "do not use this one"
        raise DisconnectionError(f"pooled connection is dead: {type(exc).__name__}") from exc


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
