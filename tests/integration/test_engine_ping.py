"""PostgreSQL connections that died while idle in the pool are replaced without an error.

The engine checks every pooled connection at checkout (database/engine.py `_replace_if_dead`);
these tests kill the server side of a pooled connection with pg_terminate_backend, as a database
restart would.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.db_fixtures import connect_postgres_or_fail


def _pooled_backend_pid(engine) -> int:
    with engine.connect() as connection:  # returned to the pool afterwards
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    killer = connect_postgres_or_fail()
    try:
        with killer.begin() as connection:
            # with a timeout it returns once the backend has exited (its socket closed), like a
            # connection that died while idle; without one it would race the checkout below
            assert connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()
    finally:
        killer.dispose()


@pytest.fixture
def engine():
    engine = connect_postgres_or_fail()
    engine.pool.dispose()
    yield engine
    engine.dispose()


def test_a_connection_that_died_in_the_pool_is_replaced_transparently(engine):
    pid = _pooled_backend_pid(engine)
    _terminate(pid)  # as a database restart or an outage would
    with engine.begin() as connection:  # the checkout notices and reconnects: no error reaches the caller
        new_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert new_pid != pid


def test_a_live_pooled_connection_is_reused_without_a_round_trip(engine, monkeypatch):
    pid = _pooled_backend_pid(engine)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi_connection: pings.append(dbapi_connection) or True)
    with engine.begin() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
    assert pings == []  # pool_pre_ping's SELECT 1 would have gone first


def test_a_connection_that_dies_mid_signal_fails_as_sqlalchemy_would_and_is_not_reused(engine):
    """The signal statements (database/pg_statements.py) on a dead connection
    must still surface as SQLAlchemy's OperationalError flagged as a disconnect (the webhook's 503)
    and leave the pool, not come back to fail the next signal."""
    from sqlalchemy.exc import OperationalError

    from database.pg_statements import POSTGRES

    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.rollback()
        _terminate(pid)  # dies while held: no checkout check can see it
        with pytest.raises(OperationalError) as raised:
            POSTGRES.lock_task(connection, 1)
        assert raised.value.connection_invalidated
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_a_hot_statement_the_database_refuses_is_sqlalchemys_error_and_writes_nothing(engine):
    from sqlalchemy.exc import DataError

    from database.pg_statements import POSTGRES
    from tests.db_fixtures import truncate_app_tables

    truncate_app_tables(engine)
    with pytest.raises(DataError, match="too long"):
        with engine.begin() as connection:
            POSTGRES.insert_task(connection, trade_id="T" * 300, event_type="SIGNAL_CREATED", payload={},
                                 payload_json="{}", idempotency_key="k-1")
    with engine.begin() as connection:  # the same pooled connection, usable again; nothing written
        assert connection.execute(text("SELECT count(*) FROM execution_tasks")).scalar_one() == 0
        assert POSTGRES.insert_task(connection, trade_id="T-1", event_type="SIGNAL_CREATED", payload={"a": 1},
                                    payload_json='{"a": 1}', idempotency_key="k-1") is not None
