"""503 JSON while the database is unreachable.

TradingView resends on a 5xx; answering 503 quickly (instead of hanging until its 3 s cut-off)
lets the resend arrive after the database is back, where the idempotency key makes sure it is
processed once. Nothing is half-written: the task row is the first write and it either
committed (then the task is visible, and recovered if it stalls) or it did not.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeoutError

from web.errors import error_response

OUTAGE_MESSAGE = ("The database is unreachable. Resend the signal later: a resent signal is processed once "
                  "(idempotency key), never twice.")


def _is_outage(exc: Exception) -> bool:
    return (isinstance(exc, DBAPIError) and exc.connection_invalidated) \
        or type(exc).__name__ in ("OperationalError", "InterfaceError")  # pool timeouts: their own handler below


def register_db_error_handlers(app: Flask) -> None:
    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError):
        if not _is_outage(exc):
            app.logger.exception("database error")
            return error_response(500, "internal_error", "The request could not be processed; it was logged.")
        app.logger.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return error_response(503, "database_unavailable", OUTAGE_MESSAGE)

    @app.errorhandler(PoolTimeoutError)
    def _pool_timeout(exc: PoolTimeoutError):
        return error_response(503, "database_unavailable", OUTAGE_MESSAGE)
