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
unit of work then share one checkout. On it, `unit_of_work(deferred=True)` goes further: one-
statement calls run on their own (autocommit) until a write needs the transaction, so a signal
whose only write is its result sends no BEGIN/COMMIT at all (see `unit_of_work`).

Live signals never run inside either: their PROCESSING state, reservations and order journal must
be durable before an order leaves the service, and their connector threads must not share a
connection.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, RootTransaction


@dataclass
class _Held:
    engine: Engine
    connection: Connection
    in_transaction: bool  # a transaction is open on it: repository calls join instead of beginning
    deferred: bool = False  # inside unit_of_work(deferred=True) before its transaction began
    on_begin: Callable[[], None] | None = None  # first thing in the deferred transaction
    begun: RootTransaction | None = None  # the deferred transaction, once begun


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
def unit_of_work(engine: Engine, *, deferred: bool = False,
                 on_begin: Callable[[], None] | None = None) -> Iterator[Connection]:
    """Run the block in one transaction that repository calls on `engine` join; commit at the end.

    `deferred=True`, on a held PostgreSQL connection (`connection_scope`): the transaction begins
    only when a repository call needs one - a write of more than one statement - and `on_begin`
    runs first in it. Until then each one-statement call (`transaction(one_statement=True)`: the
    reads, and the finishing UPDATE + log INSERT) is its own transaction. Every write of more
    than one statement still commits together or not at all; a block whose only write is one
    statement never sends BEGIN or COMMIT. A dry-run entry that reserves nothing (the steady
    state of the guide's Step 2 caps) then costs the PENDING insert, one read and the finish:
    three round trips instead of six.
    """
    held = _held(engine)
    if held is not None and (held.in_transaction or held.deferred):  # already inside one: join it
        yield held.connection
        return
    if held is not None and deferred and engine.dialect.name == "postgresql":
        held.deferred, held.on_begin = True, on_begin
        try:
            yield held.connection
        except BaseException:
            if held.begun is not None:
                held.begun.rollback()
            raise
        else:
            if held.begun is not None:
                held.begun.commit()
        finally:
            held.deferred, held.on_begin, held.begun, held.in_transaction = False, None, None, False
        return
    if held is not None:  # a held connection: begin the shared transaction on it
        with held.connection.begin():
            held.in_transaction = True
            try:
                if on_begin is not None:
                    on_begin()
                yield held.connection
            finally:
                held.in_transaction = False
        return
    with engine.begin() as connection, _holding(_Held(engine, connection, in_transaction=True)):
        if on_begin is not None:
            on_begin()
        yield connection


@contextmanager
def transaction(engine: Engine, *, one_statement: bool = False) -> Iterator[Connection]:
    """The repositories' `engine.begin()`: the shared unit of work if one is open, a transaction on
    the held connection if there is one, else a new connection and transaction.

    `one_statement=True` promises the block changes the database with at most one statement,
    which is then its own transaction on a held PostgreSQL connection (autocommit: one round trip
    instead of BEGIN, statement, COMMIT - the PENDING insert of every dry-run signal). Reads after
    it in the block see what it committed. Not on SQLite, whose BEGIN IMMEDIATE is issued by a hook.
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
            if not driver_connection.closed:  # a lost connection raises on the switch, hiding why it was lost
                driver_connection.autocommit = False
        return
    if held.deferred:  # the deferred unit of work begins here; it commits when it ends
        held.begun = held.connection.begin()
        held.in_transaction = True
        if held.on_begin is not None:
            held.on_begin()
        yield held.connection
        return
    with unit_of_work(engine) as connection:
        yield connection
