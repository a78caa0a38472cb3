"""A database that stops answering never makes a request hang: each call has a client-side bound.

Why: PostgreSQL's own limits (statement_timeout, lock_timeout; database/engine.py) only help
while the server can answer. When the network path stalls - a proxy or NAT that keeps the TCP
connection open and acknowledges our bytes but forwards nothing - the client waits for an answer
that never comes; TCP keepalives and tcp_user_timeout do not fire, because our bytes *are*
acknowledged. TradingView gives up after 3 s and resends, and a late entry is worse than none.

How: psycopg runs every round trip of a connection (execute, commit, rollback) through
``Connection.wait``. `BoundedConnection` gives that wait a time limit, `call_seconds`: the
server's statement_timeout plus a margin (engine.py), so a healthy server has always answered -
with its result or with its own timeout error - before the bound runs out. A call still
unanswered then is taken for a stalled path: its connection is closed (psycopg reports it closed,
SQLAlchemy invalidates it, the pool never hands it out again) and OperationalError is raised,
which the webhook answers with 503 database_unavailable (web/db_errors.py).

The bound applies inside `BoundedCalls` scopes only: every HTTP request (web/db_errors.py) and
every recovery round (safety/recovery.py). Migrations and CLI commands are not bounded: their
statements may legitimately run long. After one stalled call the rest of its scope does not wait
again - recording the failure, or another pooled connection over the same dead path, would each
cost a full bound - so the scope's later checkouts (engine.py's checkout hook) and connects fail
at once, and the request answers one bound after the stall began.

No watchdog thread: the bounded wait runs in the caller's own thread (psycopg polls the socket
with a timeout), so nothing can outlive its request or fire on a connection that has since gone
back to the pool and been taken by another caller.
"""
from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors
from psycopg.connection import _WAIT_INTERVAL


class DatabaseStalled(psycopg.OperationalError):
    """No answer from the database within the call bound (or the scope already stalled)."""


@dataclass
class _Scope:
    stalled: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("database_call_scope", default=None)


class BoundedCalls:
    """Scope in which database calls are bounded (``with BoundedCalls(): ...``, or `enter` and
    `exit` from request hooks). Connector threads that copy the request's context share it."""

    def __init__(self) -> None:
        self._token: Token[_Scope | None] | None = None

    def enter(self) -> "BoundedCalls":
        self._token = _scope.set(_Scope())
        return self

    def exit(self) -> None:
        if self._token is None:
            return
        try:
            _scope.reset(self._token)
        except ValueError:  # ended from another context than it began in: just end it
            _scope.set(None)
        self._token = None

    def __enter__(self) -> "BoundedCalls":
        return self.enter()

    def __exit__(self, *_exc: object) -> None:
        self.exit()


def scope_stalled() -> bool:
    """True when a call of the current scope went unanswered: do not hand it another connection."""
    scope = _scope.get()
    return scope is not None and scope.stalled


def refuse_if_stalled() -> None:
    """Called before opening a connection: a scope that already stalled does not try again."""
    if scope_stalled():
        raise DatabaseStalled("the database stopped answering earlier in this request; not connecting again")


class BoundedConnection(psycopg.Connection[Any]):
    """psycopg connection whose round trips are bounded by `call_seconds` inside a scope."""

    call_seconds: float | None = None

    def wait(self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> Any:
        scope = _scope.get()
        if scope is None or timeout is not None or self.call_seconds is None:
            return super().wait(gen, interval, timeout)  # unbounded, or psycopg's own timed wait
        try:
            return super().wait(gen, interval, self.call_seconds)
        except errors._WaitTimeout:  # psycopg's internal "wait timeout expired"
            scope.stalled = True
            self.pgconn.finish()  # mid-protocol: unusable; closed so SQLAlchemy sees it as gone
            raise DatabaseStalled(
                f"no answer from the database within {self.call_seconds:.1f} s: connection closed") from None


def connect(call_seconds: float, *args: Any, **kwargs: Any) -> BoundedConnection:
    """`psycopg.connect` returning a BoundedConnection (engine.py's ``do_connect`` hook)."""
    refuse_if_stalled()
    connection = BoundedConnection.connect(*args, **kwargs)
    connection.call_seconds = call_seconds
    return connection
