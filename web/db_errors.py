"""503 JSON while the database is unreachable, locked up or stalled, and every request bounded.

TradingView resends on a 5xx; answering 503 quickly (instead of hanging until its 3 s cut-off)
lets the resend arrive after the database is back, where the idempotency key makes sure it is
processed once. Nothing is half-written: the task row is the first write and it either
committed (then the task is visible, and recovered if it stalls) or it did not.

What counts as "unavailable": a refused or lost connection, the server's own limits
(lock_timeout, statement_timeout: OperationalError subclasses in psycopg), a call the stall
guard cut because nobody answered (database/stall_guard.py), and a pool with no free connection
within DATABASE_POOL_TIMEOUT_MS. Every request runs in a stall-guard scope, opened here before
the view's first database call and closed when the request ends.
"""
from __future__ import annotations

import psycopg
from flask import Flask, g
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeoutError

from database.stall_guard import BoundedCalls
from web.errors import error_response

OUTAGE_MESSAGE = ("The database is unreachable. Resend the signal later: a resent signal is processed once "
                  "(idempotency key), never twice.")


def _is_outage(exc: Exception) -> bool:
    return (isinstance(exc, DBAPIError) and exc.connection_invalidated) \
        or type(exc).__name__ in ("OperationalError", "InterfaceError")  # pool timeouts: their own handler below


def _cause(exc: DBAPIError) -> str:
    """What the log line names: the driver's error class and SQLSTATE (55P03 lock timeout,
    57014 statement timeout), or DatabaseStalled for a call nobody answered."""
    orig = exc.orig
    if orig is None:
        return type(exc).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    return f"{type(orig).__name__} ({sqlstate})" if sqlstate else type(orig).__name__


def register_db_error_handlers(app: Flask) -> None:
    @app.before_request
    def _bound_database_calls() -> None:
        g.database_calls = BoundedCalls().enter()

    @app.teardown_request
    def _end_database_bound(_exc: BaseException | None) -> None:
        scope = g.pop("database_calls", None)
        if scope is not None:
            scope.exit()

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        if not _is_outage(exc):
            app.logger.exception("database error")
            return error_response(500, "internal_error", "The request could not be processed; it was logged.")
        app.logger.warning("database unavailable: %s", _cause(exc))
        return error_response(503, "database_unavailable", OUTAGE_MESSAGE)

    @app.errorhandler(psycopg.OperationalError)
    def _driver_outage(exc: psycopg.OperationalError):
        """The driver's own error where SQLAlchemy did not wrap it: a pool reconnect refused in a
        request whose database stopped answering (stall_guard.DatabaseStalled), or a lost one."""
        app.logger.warning("database unavailable: %s", type(exc).__name__)
        return error_response(503, "database_unavailable", OUTAGE_MESSAGE)

    @app.errorhandler(PoolTimeoutError)
    def _pool_timeout(exc: PoolTimeoutError):
        app.logger.warning("database unavailable: no pooled connection free in time")
        return error_response(503, "database_unavailable", OUTAGE_MESSAGE)
