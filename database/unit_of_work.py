"""One transaction shared by several repository calls, and one connection shared by several
transactions, when the caller asks for them.

Each repository method is normally its own unit of work (`engine.begin()`). A signal that can
send nothing outside the service (every routed firm in dry-run, or an informational event) has
no reason to commit its steps one by one: `unit_of_work(engine)` opens one transaction and every
repository call made inside it, in the same thread/context and on the same engine, joins it
instead of committing on its own. All of it commits together or none of it does, and a request
costs two commits (the PENDING task, then everything else) instead of ten — most of a request's
time was waiting for commits (`make profile`).

`connection_scope(engine)` keeps one pooled connection for a block: the PENDING commit and the
unit of work then share one checkout, so the pool's liveness ping (`pool_pre_ping`) is paid once
per signal instead of once per transaction.

Live signals never run inside either: their PROCESSING state, reservations and order journal must
be durable before an order leaves the service, and their connector threads must not share a
connection.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Connection, Engine


@dataclass
class _Held:
    engine: Engine
    connection: Connection
    in_transaction: bool  # True inside unit_of_work: repository calls join instead of beginning


_current: ContextVar[_Held | None] = ContextVar("unit_of_work", default=None)


def _held(engine: Engine) -> _Held | None:
    held = _current.get()
    return held if held is not None and held.engine is engine else None


@contextmanager
def _holding(held: _Held) -> Iterator[None]:
    token = _current.set(held)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def connection_scope(engine: Engine) -> Iterator[Connection]:
    """Run the block on one pooled connection; each transaction in it still commits on its own."""
    held = _held(engine)
    if held is not None:
        yield held.connection
        return
    with engine.connect() as connection, _holding(_Held(engine, connection, in_transaction=False)):
        yield connection


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """Run the block in one transaction that repository calls on `engine` join; commit at the end."""
    held = _held(engine)
    if held is not None and held.in_transaction:  # already inside one: just join it
        yield held.connection
        return
    if held is not None:  # a held connection: begin the shared transaction on it
        with held.connection.begin():
            held.in_transaction = True
            try:
                yield held.connection
            finally:
                held.in_transaction = False
        return
    with engine.begin() as connection, _holding(_Held(engine, connection, in_transaction=True)):
        yield connection


@contextmanager
def transaction(engine: Engine, *, one_statement: bool = False) -> Iterator[Connection]:
    """The repositories' `engine.begin()`: the shared unit of work if one is open, a transaction on
    the held connection if there is one, else a new connection and transaction.

    `one_statement=True` promises the block's writes are one statement, which is then its own
    transaction on a held PostgreSQL connection (autocommit: one round trip instead of BEGIN,
    statement, COMMIT - the PENDING insert of every dry-run signal). Reads after it in the
    block see what it committed. Not on SQLite, whose BEGIN IMMEDIATE is issued by a hook.
    """
    held = _held(engine)
    if held is None:
        with engine.begin() as connection:
            yield connection
        return
    if held.in_transaction:
        yield held.connection
        return
    if one_statement and engine.dialect.name == "postgresql":
        connection = held.connection
        # The driver's own switch, not execution_options(isolation_level=...): switching back
        # through SQLAlchemy costs a `SET default_transaction_isolation` round trip, which
        # would eat half the saving. The driver flips `autocommit` without talking to the server.
        driver_connection = connection.connection.dbapi_connection
        driver_connection.autocommit = True
        try:
            with connection.begin():  # no BEGIN/COMMIT reach the server in autocommit
                yield connection
        finally:
            driver_connection.autocommit = False
        return
    with unit_of_work(engine) as connection:
        yield connection
