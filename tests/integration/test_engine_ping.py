"""PostgreSQL connections that died while idle in the pool are replaced without an error.

The engine pings every pooled connection at checkout (database/engine.py); this test kills the
server side of a pooled connection with pg_terminate_backend, as a database restart would.
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
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
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
    with engine.begin() as connection:  # pre-ping notices and reconnects: no error reaches the caller
        new_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert new_pid != pid
