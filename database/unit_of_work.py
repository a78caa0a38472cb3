"""One transaction shared by several repository calls, when the caller asks for it.

Each repository method is normally its own unit of work (`engine.begin()`). A signal that can
send nothing outside the service (every routed firm in dry-run, or an informational event) has
no reason to commit its steps one by one: `unit_of_work(engine)` opens one transaction and every
repository call made inside it, in the same thread/context and on the same engine, joins it
instead of committing on its own. All of it commits together or none of it does, and a request
costs two commits (the PENDING task, then everything else) instead of ten — most of a request's
time was waiting for commits (`make profile`).

Live signals never run inside one: their PROCESSING state, reservations and order journal must
be durable before an order leaves the service.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from sqlalchemy import Connection, Engine

_current: ContextVar[tuple[Engine, Connection] | None] = ContextVar("unit_of_work", default=None)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """Run the block in one transaction that repository calls on `engine` join; commit at the end."""
    shared = _current.get()
    if shared is not None and shared[0] is engine:  # already inside one: just join it
        yield shared[1]
        return
    with engine.begin() as connection:
        token = _current.set((engine, connection))
        try:
            yield connection
        finally:
            _current.reset(token)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """The repositories' `engine.begin()`: the shared unit of work if one is open, else a new one."""
    shared = _current.get()
    if shared is not None and shared[0] is engine:
        yield shared[1]
        return
    with engine.begin() as connection:
        yield connection
