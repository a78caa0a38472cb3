"""PostgreSQL connections that died while idle in the pool are replaced without an error.

The engine pings a pooled connection only when it sat idle longer than PING_IF_IDLE_SECONDS
(database/engine.py), instead of on every checkout; these tests kill the server side of a
pooled connection with pg_terminate_backend, as a database restart or an idle timeout would.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import database.engine as engine_module
from tests.db_fixtures import connect_postgres_or_fail


def _pooled_backend_pid(engine) -> int:
    with engine.connect() as connection:  # returned to the pool afterwards
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    killer = connect_postgres_or_fail()
    try:
        with killer.begin() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        killer.dispose()


@pytest.fixture
def engine():
    engine = connect_postgres_or_fail()
    engine.pool.dispose()
    yield engine
    engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced_transparently(engine, monkeypatch):
    pid = _pooled_backend_pid(engine)
    _terminate(pid)
    monkeypatch.setattr(engine_module, "PING_IF_IDLE_SECONDS", 0.0)  # it has now been idle "long enough"
    with engine.begin() as connection:
        new_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert new_pid != pid


def test_a_recently_used_connection_is_not_pinged(engine, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_IF_IDLE_SECONDS", 3600.0)  # however slow the machine
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    for _ in range(3):
        _pooled_backend_pid(engine)
    assert pings == []
    monkeypatch.setattr(engine_module, "PING_IF_IDLE_SECONDS", 0.0)
    _pooled_backend_pid(engine)
    assert pings == [1]


def test_a_connection_that_died_while_busy_fails_once_then_the_pool_recovers(engine, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_IF_IDLE_SECONDS", 3600.0)  # however slow the machine
    pid = _pooled_backend_pid(engine)
    _terminate(pid)
    with pytest.raises(DBAPIError) as failure:  # used within the idle window: not pinged
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
    assert failure.value.connection_invalidated
    with engine.begin() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
