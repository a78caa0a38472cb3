"""App fixtures (Flask tutorial style): a fresh app and database per test, on SQLite and PostgreSQL."""
from __future__ import annotations

from typing import Callable

import pytest

from config import Settings, parse_settings, set_settings
from database import upgrade_to_head
from tests.db_fixtures import connect_postgres_or_fail, postgres_test_url, prepare_postgres, truncate_app_tables

PG_URL = postgres_test_url()

# The guide's "Step 2: Environment Variables", verbatim.
STEP2_ENV: dict[str, str] = {
    "EXECUTION_DRY_RUN": "true",
    "ROUTE_TO_FIRMS": "FTMO,APEX",
    "FTMO_PROGRAM_IDS": "1",
    "FTMO_MAX_POSITION_SIZE": "10",
    "FTMO_MAX_DAILY_LOSS": "1000.0",
    "FTMO_MAX_TOTAL_LOSS": "5000.0",
    "FTMO_1_ACCOUNT_SIZE": "100000.0",
    "FTMO_1_RISK_PER_TRADE": "0.01",
    "FTMO_1_MAX_CONTRACTS": "5",
    "FTMO_1_MAX_DAILY_LOSS": "1000.0",
    "FTMO_1_MAX_TOTAL_LOSS": "5000.0",
    "FTMO_1_MAX_DRAWDOWN": "2000.0",
    "APEX_PROGRAM_IDS": "1",
    "APEX_MAX_POSITION_SIZE": "15",
    "APEX_MAX_DAILY_LOSS": "1500.0",
    "APEX_MAX_TOTAL_LOSS": "7500.0",
    "APEX_1_ACCOUNT_SIZE": "150000.0",
    "APEX_1_RISK_PER_TRADE": "0.01",
    "APEX_1_MAX_CONTRACTS": "10",
    "APEX_1_MAX_DAILY_LOSS": "1500.0",
    "APEX_1_MAX_TOTAL_LOSS": "7500.0",
    "APEX_1_MAX_DRAWDOWN": "3000.0",
}

# The guide's curl payload (Step 5).
GUIDE_PAYLOAD = {
    "event_type": "SIGNAL_CREATED",
    "trade_id": "20251122_143000_BULLISH",
    "direction": "Bullish",
    "entry_price": 16500.0,
    "stop_loss": 16475.0,
    "symbol": "NQ",
}

_pg_rebuilt = False


def reset_pg() -> None:
    """Empty the app's tables in the PostgreSQL test database; fail loudly if it is unreachable.

    The first call of a session drops and re-migrates the schema, so whatever an earlier run
    (or an older migration history) left in the database cannot leak into this one."""
    global _pg_rebuilt
    if not _pg_rebuilt:
        prepare_postgres(PG_URL).dispose()
        _pg_rebuilt = True
    engine = connect_postgres_or_fail(PG_URL)
    upgrade_to_head(engine)
    truncate_app_tables(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_settings(tmp_path, backend) -> Callable[..., Settings]:
    """Settings from the guide's Step 2 environment plus overrides, on the chosen backend."""

    def factory(**overrides: str) -> Settings:
        env = dict(STEP2_ENV)
        if backend == "postgresql":
            env["DATABASE_URL"] = PG_URL
        else:
            env["SQLITE_PATH"] = str(tmp_path / "router.db")
        env.update(overrides)
        return parse_settings({k: v for k, v in env.items() if v is not None})

    if backend == "postgresql":
        reset_pg()
    yield factory
    set_settings(None)


@pytest.fixture
def make_app(make_settings):
    from web_server import create_app

    apps = []

    def factory(**overrides: str):
        app = create_app(make_settings(**overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        if "task_recovery" in app.extensions:
            app.extensions["task_recovery"].stop()
        if "scheduler" in app.extensions:
            app.extensions["scheduler"].shutdown()
        app.extensions["execution_router"].close()
        app.extensions["db_engine"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


class ShortLivedConnections:
    """Runs each assertion query in its own short transaction, so a test never holds a lock
    (on SQLite an open read transaction would block the app's writes)."""

    def __init__(self, engine):
        self.engine = engine

    def execute(self, statement, params=None):
        with self.engine.begin() as conn:
            return conn.execute(statement, params or {}).freeze()()


@pytest.fixture
def db(app) -> ShortLivedConnections:
    """The app's database for assertions (tests may read tables directly)."""
    return ShortLivedConnections(app.extensions["db_engine"])
