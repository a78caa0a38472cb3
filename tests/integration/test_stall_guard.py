"""The database's time limits: on PostgreSQL the server's own (statement, lock, idle in transaction)
and the client-side bound on a stalled path (database/stall_guard.py), through a loopback proxy
that stops forwarding; on SQLite the wait for the write lock."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from database import create_db_engine
from database.engine import DatabaseTimeouts, without_timeouts
from database.stall_guard import BoundedCalls, DatabaseStalled
from tests.conftest import GUIDE_PAYLOAD
from tests.db_fixtures import postgres_test_url, postgres_url_for
from tests.e2e.gunicorn_harness import CuttableProxy

FAST = DatabaseTimeouts(statement_ms=600, lock_ms=300, idle_in_transaction_ms=2000, pool_ms=300)
HELD = 8.0
"""How long a test keeps a lock or a stall when nothing bounds the wait: it ends late, not never."""


@pytest.fixture
def proxy():
    proxy = CuttableProxy(postgres_test_url())
    yield proxy
    proxy.close()


def stall(proxy: CuttableProxy) -> threading.Timer:
    """Stall the path, and let it resume after HELD whatever happens (a wait nothing bounds
    then ends late instead of hanging the run)."""
    proxy.stall()
    resume = threading.Timer(HELD, proxy.resume)
    resume.daemon = True
    resume.start()
    return resume


def _engine(url: str, timeouts: DatabaseTimeouts = FAST):
    return create_db_engine(url, timeouts=timeouts)


def _setting(connection, name: str) -> str:
    return connection.execute(text(f"SHOW {name}")).scalar_one()


def test_every_session_gets_the_timeouts_and_keeps_the_urls_own_options():
    engine = _engine(postgres_url_for(search_path="h4_scratch,public"))
    try:
        with engine.connect() as connection:
            assert (_setting(connection, "statement_timeout"), _setting(connection, "lock_timeout"),
                    _setting(connection, "idle_in_transaction_session_timeout")) == ("600ms", "300ms", "2s")
            assert _setting(connection, "search_path") == "h4_scratch,public"
    finally:
        engine.dispose()


def test_a_worker_that_has_opened_hundreds_of_connections_still_connects():
    """Overflow connections come and go under load; each new one must start like the first."""
    engine = _engine(postgres_url_for(search_path="h4_scratch,public"))
    try:
        for _ in range(150):
            with engine.connect() as connection:
                connection.invalidate()  # closed: the next checkout opens a new connection
        with engine.connect() as connection:
            assert _setting(connection, "statement_timeout") == "600ms"
            assert _setting(connection, "search_path") == "h4_scratch,public"
            options = connection.connection.dbapi_connection.info.get_parameters().get("options")
            assert options is None or options.count("statement_timeout") == 1
    finally:
        engine.dispose()


def test_the_service_engine_gets_the_settings_limits(make_app, backend):
    engine = make_app().extensions["db_engine"]
    with engine.connect() as connection:
        if backend == "sqlite":
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000  # DATABASE_LOCK_TIMEOUT_MS
            return
        assert (_setting(connection, "statement_timeout"), _setting(connection, "lock_timeout"),
                _setting(connection, "idle_in_transaction_session_timeout")) == ("1500ms", "1s", "5s")
    assert engine.pool.timeout() == 1.0  # type: ignore[attr-defined]


def test_tools_and_tests_get_no_request_limits():
    engine = create_db_engine(postgres_test_url())
    try:
        with engine.connect() as connection:
            assert _setting(connection, "statement_timeout") == "0"
    finally:
        engine.dispose()


def test_migrations_lift_them_for_their_own_transaction_only():
    engine = _engine(postgres_test_url())
    try:
        with engine.begin() as connection:
            without_timeouts(connection)
            assert _setting(connection, "statement_timeout") == "0"
            connection.execute(text("SELECT pg_sleep(0.8)"))  # longer than the 600 ms limit
        with engine.connect() as connection:
            assert _setting(connection, "statement_timeout") == "600ms"
    finally:
        engine.dispose()


def test_a_slow_statement_ends_at_the_servers_limit_not_the_stall_bound():
    engine = _engine(postgres_test_url())
    try:
        with BoundedCalls(), engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(0.4)"))  # slow but inside the limit: answered
            started = time.monotonic()
            with pytest.raises(OperationalError) as raised:
                connection.execute(text("SELECT pg_sleep(3)"))
            assert isinstance(raised.value.orig, psycopg.errors.QueryCanceled)  # the server's answer
            assert time.monotonic() - started < FAST.call_seconds
            connection.rollback()
            assert connection.execute(text("SELECT 1")).scalar_one() == 1  # the connection lives on
    finally:
        engine.dispose()


def test_a_lock_wait_ends_at_the_lock_timeout():
    engine = _engine(postgres_test_url())
    holder = psycopg.connect(postgres_test_url())
    try:
        holder.execute("CREATE TABLE IF NOT EXISTS h4_lock_probe (id int)")
        holder.commit()
        holder.execute("LOCK TABLE h4_lock_probe IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with BoundedCalls(), engine.connect() as connection, pytest.raises(OperationalError) as raised:
            connection.execute(text("SELECT count(*) FROM h4_lock_probe"))
        assert isinstance(raised.value.orig, psycopg.errors.LockNotAvailable)
        assert 0.25 < time.monotonic() - started < 0.6 + 0.5
    finally:
        holder.rollback()
        holder.execute("DROP TABLE IF EXISTS h4_lock_probe")
        holder.commit()
        holder.close()
        engine.dispose()


def test_a_stalled_path_is_cut_at_the_bound_and_the_pool_drops_that_connection(proxy):
    engine = _engine(proxy.url())
    try:
        with engine.connect() as connection:  # pooled, through the proxy
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        stall(proxy)
        started = time.monotonic()
        with BoundedCalls(), engine.connect() as connection, pytest.raises(OperationalError) as raised:
            connection.execute(text("SELECT 1"))
        elapsed = time.monotonic() - started
        assert isinstance(raised.value.orig, DatabaseStalled) and raised.value.connection_invalidated
        assert FAST.call_seconds - 0.05 < elapsed < FAST.call_seconds + 0.5, elapsed
        proxy.resume()
        with engine.connect() as connection:  # a new connection: the cut one never comes back
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_after_a_stall_the_scope_gets_no_connection_over_the_dead_path(proxy):
    engine = _engine(proxy.url())
    try:
        with engine.connect() as a, engine.connect() as b:  # two pooled connections
            a.execute(text("SELECT 1"))
            b.execute(text("SELECT 1"))
        stall(proxy)
        with BoundedCalls():
            with pytest.raises(OperationalError), engine.connect() as connection:
                connection.execute(text("SELECT 1"))  # waits one bound, then is cut
            started = time.monotonic()
            with pytest.raises(OperationalError) as raised, engine.connect() as connection:
                connection.execute(text("SELECT 1"))  # the other pooled one: not handed out, no connect
            assert time.monotonic() - started < 0.1
            assert isinstance(raised.value.orig, DatabaseStalled)
        proxy.resume()
        with engine.connect() as connection:  # a new scope: connects again
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        proxy.resume()
        engine.dispose()


def test_outside_a_scope_nothing_is_cut(proxy):
    """Migrations and CLI commands are not bounded on the client side: a stall there waits
    (here until the path resumes, which the call then survives)."""
    engine = _engine(proxy.url())
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.rollback()
            proxy.stall()
            threading.Timer(FAST.call_seconds + 0.5, proxy.resume).start()
            started = time.monotonic()
            assert connection.execute(text("SELECT 42")).scalar_one() == 42
            assert time.monotonic() - started > FAST.call_seconds + 0.3
    finally:
        proxy.resume()
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_stall_after_the_task_is_recorded_still_answers_503_in_time(make_app, proxy):
    """The PENDING row is committed, then the path stalls: recording the failure must not cost a
    second bound (nor a connect over the dead path); the task stays PENDING for recovery."""
    app = make_app(DATABASE_URL=proxy.url(), DATABASE_STATEMENT_TIMEOUT_MS="600", DATABASE_LOCK_TIMEOUT_MS="300")
    router = app.extensions["execution_router"]
    begin = router.guard.trading_state

    def stall_then_begin(safety, known=None):
        stall(proxy)
        begin(safety, known)
        return safety.get_trading_state().state  # any statement of the task now: it gets no answer

    router.guard.trading_state = stall_then_begin
    client = app.test_client()
    try:
        started = time.monotonic()
        response = client.post("/api/automated-signals/webhook", json=dict(GUIDE_PAYLOAD, trade_id="STALL_MID_TASK"))
        elapsed = time.monotonic() - started
    finally:
        proxy.resume()
    assert response.status_code == 503 and response.get_json()["error"] == "database_unavailable", response.get_json()
    assert elapsed < FAST.call_seconds + 0.5, elapsed
    engine = create_db_engine(postgres_test_url())
    try:
        with engine.connect() as connection:
            statuses = connection.execute(text(
                "SELECT status FROM execution_tasks WHERE trade_id = 'STALL_MID_TASK'")).scalars().all()
            logs = connection.execute(text("SELECT COUNT(*) FROM execution_logs WHERE trade_id = 'STALL_MID_TASK'")).scalar_one()
        assert statuses == ["PENDING"] and logs == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_worker_starting_while_the_tasks_are_locked_still_boots(make_app, caplog):
    """Start-up recovery meets the lock timeout; gunicorn shuts the whole server down when a
    worker fails to boot, so the worker starts and leaves recovery to its next round."""
    holder = psycopg.connect(postgres_test_url())
    release = threading.Timer(HELD, holder.rollback)
    try:
        holder.execute("LOCK TABLE execution_tasks IN ACCESS EXCLUSIVE MODE")
        release.start()
        started = time.monotonic()
        app = make_app(DATABASE_LOCK_TIMEOUT_MS="300", DATABASE_STATEMENT_TIMEOUT_MS="600")
        assert time.monotonic() - started < 5
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
    assert "start-up task recovery could not run (OperationalError)" in caplog.text
    assert app.test_client().get("/health").status_code == 200
