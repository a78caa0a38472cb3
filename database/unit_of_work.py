"""Units of work, explicit: the caller decides whether repository calls commit one by one or
together, by which unit it hands them.

    with UnitOfWork(engine) as uow:          # one pooled connection for the block
        task_id = uow.tasks.create_task(...)  # its own transaction: committed now
        uow.begin(deferred=True, on_begin=lambda: uow.tasks.lock_task(task_id))
        ... uow.positions / uow.ledger / uow.safety calls join the unit ...
        uow.commit()                         # or leave the block: rolled back

`AutoCommit(engine)` has the same repositories, each call its own transaction on its own pooled
connection: what a live signal needs, since its PROCESSING state, reservations and order journal
must be durable before an order leaves the service, and its connector threads must not share a
connection. A repository built on a plain Engine is an `AutoCommit` one.

A signal that can send nothing outside the service (every routed firm in dry-run, or an
informational event) has no reason to commit its steps one by one: one `UnitOfWork` commits them
together or not at all, and a request costs two commits (the PENDING task, then everything else)
instead of ten - most of a request's time was waiting for commits (`make profile`).
`begin(deferred=True)` goes further on PostgreSQL: one-statement calls (`one_statement=True`: the
reads, and the finishing UPDATE + log INSERT) run on their own in autocommit until a write of
more than one statement needs the transaction, so a signal whose only write is its result sends
no BEGIN/COMMIT at all; `on_begin` is the first thing in the transaction once it begins.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Iterator

from sqlalchemy import Connection, Engine, RootTransaction

if TYPE_CHECKING:
    from database.ledger_repository import LedgerRepository
    from database.repository import ExecutionRepository
    from database.safety_repository import SafetyRepository


class Connections(ABC):
    """Where a repository runs its statements: each call asks for a transaction."""

    engine: Engine

    @abstractmethod
    def transaction(self, *, one_statement: bool = False) -> AbstractContextManager[Connection]:
        """A connection in a transaction for one repository call. `one_statement=True` promises
        the block changes the database with at most one statement (it may then autocommit)."""

    # -- the repositories bound to these connections ------------------------------------------------
    @cached_property
    def tasks(self) -> "ExecutionRepository":
        from database.repository import ExecutionRepository

        return ExecutionRepository(self)

    @cached_property
    def ledger(self) -> "LedgerRepository":
        from database.ledger_repository import LedgerRepository

        return LedgerRepository(self)

    @cached_property
    def safety(self) -> "SafetyRepository":
        from database.safety_repository import SafetyRepository

        return SafetyRepository(self)


class AutoCommit(Connections):
    """Each repository call its own transaction on its own pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self, *, one_statement: bool = False) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection


def connections(target: Engine | Connections) -> Connections:
    """A repository's constructor argument as `Connections` (an Engine: each call commits)."""
    return target if isinstance(target, Connections) else AutoCommit(target)


class UnitOfWork(Connections):
    """One pooled connection for a block; after `begin()`, one transaction its calls join."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._shared: RootTransaction | None = None  # the unit's transaction, once begun
        self._deferred = False  # begun with deferred=True, transaction not yet open
        self._on_begin: Callable[[], None] | None = None

    def __enter__(self) -> "UnitOfWork":
        self._connection = self.engine.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.rollback()
        finally:
            assert self._connection is not None
            self._connection.close()
            self._connection = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._connection

    def begin(self, *, deferred: bool = False, on_begin: Callable[[], None] | None = None) -> None:
        """From here on, every call joins one transaction (committed by `commit`). Deferred, on
        PostgreSQL: the transaction opens at the first call that is not one statement."""
        if self._shared is not None or self._deferred:
            raise RuntimeError("this unit of work has begun already")
        self._on_begin = on_begin
        if deferred and self.engine.dialect.name == "postgresql":
            self._deferred = True
            return
        self._open()

    def commit(self) -> None:
        if self._shared is not None:
            self._shared.commit()
        self._shared, self._deferred, self._on_begin = None, False, None

    def rollback(self) -> None:
        if self._shared is not None:
            self._shared.rollback()
        self._shared, self._deferred, self._on_begin = None, False, None

    def _open(self) -> None:
        self._shared = self.connection.begin()
        self._deferred = False
        if self._on_begin is not None:
            self._on_begin()

    @contextmanager
    def transaction(self, *, one_statement: bool = False) -> Iterator[Connection]:
        connection = self.connection
        if self._shared is not None:  # inside the unit's transaction: join it
            yield connection
            return
        if one_statement and self.engine.dialect.name == "postgresql":
            # Autocommit: one round trip instead of BEGIN, statement, COMMIT. The driver's own
            # switch, not execution_options(isolation_level=...): switching back through
            # SQLAlchemy costs a `SET default_transaction_isolation` round trip, which would eat
            # half the saving. Not on SQLite, whose BEGIN IMMEDIATE is issued by a hook.
            driver_connection = connection.connection.dbapi_connection
            driver_connection.autocommit = True
            try:
                with connection.begin():  # no BEGIN/COMMIT reach the server in autocommit
                    yield connection
            finally:
                if not driver_connection.closed:  # a lost connection raises on the switch, hiding why
                    driver_connection.autocommit = False
            return
        if self._deferred:  # the deferred unit's transaction begins here; `commit` ends it
            self._open()
            yield connection
            return
        with connection.begin():  # not begun: this call is its own transaction
            yield connection
