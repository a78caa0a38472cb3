"""Building the SQLAlchemy engine from ``DATABASE_URL`` (PostgreSQL) or an embedded SQLite file.

PostgreSQL is the production store shared by every gunicorn worker and instance; SQLite exists so
a newcomer can run the service with nothing installed. Both get settings that keep them correct
under several threads/workers; see the notes on each branch.
"""
from __future__ import annotations

import functools
import json
import select
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import make_url

from config.settings import (
    DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    DEFAULT_DATABASE_LOCK_TIMEOUT_MS,
    DEFAULT_DATABASE_POOL_TIMEOUT_MS,
    DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS,
    Settings,
)
from database import stall_guard

DEFAULT_SQLITE_PATH = "instance/execution_router.db"

STALL_MARGIN_MS = 500
"""How long past its statement_timeout a call may stay unanswered before the path counts as
stalled (database/stall_guard.py): room for the server's own timeout error to arrive."""

_POSTGRES_PREFIXES = ("postgres://", "postgresql://", "postgresql+psycopg2://")
_POSTGRES_DRIVER_PREFIX = "postgresql+psycopg://"

# NaN/Infinity are not JSON; PostgreSQL's jsonb rejects them while SQLite would store them.
# Refusing them in the serializer makes both backends fail the same way, at write time.
_json_serializer = functools.partial(json.dumps, allow_nan=False)


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the database may keep a caller waiting (DATABASE_*_TIMEOUT_MS, config/settings.py).

    TradingView gives up after 3 s, so the webhook must answer within ~2 s whatever the database
    does (docs/design.md Decision 10): a lock wait ends after `lock_ms`, a statement after
    `statement_ms` (both enforced by PostgreSQL), a checkout waiting for a free pooled connection
    after `pool_ms`, and a round trip nobody answers (a stalled network path) after
    `call_seconds`, on the client side (database/stall_guard.py). `idle_in_transaction_ms` lets
    PostgreSQL end the session of a client that vanished mid-transaction, so the locks it held
    do not block every other worker. SQLite waits at most `lock_ms` for its write lock.
    """

    statement_ms: int = DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS
    lock_ms: int = DEFAULT_DATABASE_LOCK_TIMEOUT_MS
    idle_in_transaction_ms: int = DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS
    pool_ms: int = DEFAULT_DATABASE_POOL_TIMEOUT_MS

    @classmethod
    def of(cls, settings: Settings) -> "DatabaseTimeouts":
        return cls(statement_ms=settings.database_statement_timeout_ms, lock_ms=settings.database_lock_timeout_ms,
                   idle_in_transaction_ms=settings.database_idle_in_transaction_timeout_ms,
                   pool_ms=settings.database_pool_timeout_ms)

    @property
    def call_seconds(self) -> float:
        """The client-side bound on one round trip: the server has answered by then if it can."""
        return (self.statement_ms + STALL_MARGIN_MS) / 1000

    def session_options(self) -> str:
        """libpq ``options`` setting them for every session, before its first statement."""
        return (f"-c statement_timeout={self.statement_ms} -c lock_timeout={self.lock_ms} "
                f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}")


def without_timeouts(connection: Connection) -> None:
    """Lift the session limits for the rest of `connection`'s transaction (PostgreSQL; no-op on
    SQLite): migrations may rebuild a large table or wait for another worker's migration lock,
    which must not fail a start-up. Outside a request scope no client-side bound applies either."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))


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


def create_db_engine(url: str | None, sqlite_path: str = DEFAULT_SQLITE_PATH,
                     timeouts: DatabaseTimeouts | None = None) -> Engine:
    """Create the engine for ``url`` (``None``/empty means the embedded SQLite file).

    `timeouts`: the limits that keep a request from waiting on the database; the service passes
    ``DatabaseTimeouts.of(settings)``. None (tools, tests, benchmarks) sets none: their
    statements (CREATE DATABASE, a bulk load) may legitimately run long.
    """
    normalized = normalize_database_url(url, sqlite_path)
    backend = make_url(normalized).get_backend_name()
    if backend == "postgresql":
        return _create_postgres_engine(normalized, timeouts)
    if backend == "sqlite":
        return _create_sqlite_engine(normalized, timeouts)
    raise ValueError(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://, postgresql://) or a SQLite URL; "
        f"got a {backend!r} URL"
    )


def _create_postgres_engine(url: str, timeouts: DatabaseTimeouts | None) -> Engine:
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
    A database that is up but slow or locked is bounded by `DatabaseTimeouts`: set on every
    session at connect (libpq ``options``, so no extra round trip), which covers the raw driver
    statements of pg_statements.py too; a path that stalls is bounded by the connection class
    (stall_guard.py).
    The pool keeps 12 connections: a live worker's request threads (4 on the Procfile's settings)
    each hold one for their signal while its connector threads (8, connectors/dispatch.py)
    journal their orders. With fewer, every busy live entry opened and closed overflow
    connections (hundreds a minute, a process fork each on the server); idle ones cost the
    server memory only.
    """
    engine = create_engine(
        url,
        pool_size=12,
        max_overflow=10,
        pool_timeout=timeouts.pool_ms / 1000 if timeouts is not None else 2,
        connect_args={"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 30, "tcp_user_timeout": 5000},
        json_serializer=_json_serializer,
    )
    if timeouts is not None:
        event.listen(engine, "do_connect", functools.partial(_connect_bounded, timeouts))
    event.listen(engine, "checkout", _replace_if_dead)
    return engine


def _connect_bounded(timeouts: DatabaseTimeouts, _dialect: Any, _record: Any, cargs: Any,
                     cparams: dict[str, Any]) -> Any:
    """``do_connect`` hook: a BoundedConnection whose sessions carry the timeouts. Options from
    the URL (``?options=-csearch_path=...``) are kept; these come after them, so they win.

    `cparams` is the engine's own dict, the same for every connect: the options go to a copy.
    Appended to it in place they would grow with each connection the pool opens until the
    startup packet passes PostgreSQL's 10,000-byte limit and every further connect is refused
    ("invalid length of startup packet").
    """
    options = " ".join(filter(None, (cparams.get("options"), timeouts.session_options())))
    return stall_guard.connect(timeouts.call_seconds, *cargs, **{**cparams, "options": options})


def _replace_if_dead(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout hook: raising DisconnectionError makes the pool discard this connection and
    check out (or open) another, up to three times, before the caller sees an error. In a
    request whose database already stopped answering, no connection is handed out (and opening
    one is refused at once, stall_guard.py): the request answers now instead of waiting again."""
    if dbapi_connection.closed:
        raise DisconnectionError("connection closed by the client")
    if stall_guard.scope_stalled():
        raise DisconnectionError("the database stopped answering earlier in this request")
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


def _create_sqlite_engine(url: str, timeouts: DatabaseTimeouts | None) -> Engine:
    """SQLite: one file shared by threads (and workers), with real transactions.

    - ``check_same_thread=False``: Flask serves requests on several threads from one pool.
    - ``foreign_keys=ON``: SQLite ignores REFERENCES unless asked, and PostgreSQL enforces them.
    - ``journal_mode=WAL`` lets readers proceed while one connection writes.
    - ``busy_timeout`` makes a writer wait for the lock instead of failing at once: the service's
      lock timeout (DATABASE_LOCK_TIMEOUT_MS), so a request still answers in time; 5 s for tools.
    - Every transaction starts with ``BEGIN IMMEDIATE`` (taking the write lock up front, as
      Django's and Rails' SQLite "immediate" mode do). pysqlite by default starts transactions
      lazily at the first write, so a read-then-write unit of work (reduce a position) could see
      stale data or fail with "database is locked" instead of waiting. Serialising units of work
      is the price, and fine for the single-user fallback; PostgreSQL is for real concurrency.
    """
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    busy_ms = int(timeouts.lock_ms) if timeouts is not None else 5000
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
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
