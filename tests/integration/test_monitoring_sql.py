"""database/monitoring.sql: the whole file runs under psql, and every query in it returns the
right numbers for a known mix of routed signals (approved, rejected, failed, exits) on PostgreSQL."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import db_fixtures
from tests.observability_fakes import build_stub_router, live_settings, run_scenario

MONITORING_SQL = Path(__file__).resolve().parents[2] / "database" / "monitoring.sql"


def named_queries() -> dict[str, str]:
    """`-- name: x` blocks of monitoring.sql, in file order."""
    parts = re.split(r"^-- name: (\w+)\s*$", MONITORING_SQL.read_text(), flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def run_file_with_psql(search_path: str | None = None) -> subprocess.CompletedProcess[str]:
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql (the PostgreSQL client) is required to check database/monitoring.sql")
    url = make_url(db_fixtures.postgres_url_for())
    env = dict(os.environ, PGPASSWORD=url.password or "")
    if search_path is not None:
        env["PGOPTIONS"] = f"-c search_path={search_path}"
    return subprocess.run(
        [psql, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
         "-d", url.database or "postgres", "-X", "-v", "ON_ERROR_STOP=1", "-f", str(MONITORING_SQL)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture
def routed_pg(clean_pg: Engine):
    router = build_stub_router(live_settings(db_fixtures.postgres_test_url()), clean_pg)
    run_scenario(router)
    router.close()
    completed = run_file_with_psql()
    assert completed.returncode == 0, completed.stderr
    return clean_pg


D = Decimal
EXPECTED: dict[str, list[tuple]] = {
    "tasks_by_status_24h": [("COMPLETED", 4), ("FAILED", 1)],
    "risk_checks_by_firm_24h": [("APEX", "APPROVED", 2), ("FTMO", "APPROVED", 1), ("FTMO", "REJECTED", 1)],
    "avg_contracts_by_program_24h": [("APEX", 1, D(3)), ("FTMO", 1, D(2))],
    "account_breaches_24h": [
        ("APEX", 1, "APPROVED", None, 1), ("APEX", 1, "REJECTED", "MAX_DAILY_LOSS", 1), ("FTMO", 1, "APPROVED", None, 1)],
    "connector_results_24h": [("APEX", "FAILED", 1), ("FTMO", "SUCCESS", 2)],
    "firm_success_rate_7d": [("APEX", 1, 1 - 1, 1, 0, D("0.00")), ("FTMO", 2, 2, 0, 0, D("100.00"))],
    "risk_rejections_7d": [("FTMO", "MAX_DAILY_LOSS", 1)],
}


def test_every_query_in_the_file_has_an_expectation() -> None:
    assert set(named_queries()) == set(EXPECTED) | {"recent_execution_summary"}


def test_whole_file_runs_with_psql_on_error_stop(routed_pg: Engine) -> None:
    completed = run_file_with_psql()  # a second run: views are replaced, nothing fails
    assert completed.returncode == 0, completed.stderr
    assert "MAX_DAILY_LOSS" in completed.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_query_returns_expected_rows(routed_pg: Engine, name: str) -> None:
    with routed_pg.connect() as connection:
        rows = [tuple(r) for r in connection.exec_driver_sql(named_queries()[name]).all()]
    normalised = [tuple(D(v).quantize(D("0.01")) if isinstance(v, Decimal) and name.startswith("avg") else v for v in r)
                  for r in rows]
    expected = [tuple(D(v).quantize(D("0.01")) if isinstance(v, Decimal) and name.startswith("avg") else v for v in r)
                for r in EXPECTED[name]]
    assert normalised == expected


def test_recent_execution_summary_lists_the_latest_tasks_with_their_counts(routed_pg: Engine) -> None:
    with routed_pg.connect() as connection:
        rows = connection.exec_driver_sql(named_queries()["recent_execution_summary"]).mappings().all()
    assert [(r["trade_id"], r["event_type"], r["status"]) for r in rows] == [
        ("20251122_143000_BULLISH", "MFE_UPDATE", "COMPLETED"),
        ("20251122_160000_BULLISH", "SIGNAL_CREATED", "FAILED"),
        ("20251122_143000_BULLISH", "EXIT_STOP_LOSS", "COMPLETED"),
        ("20251122_150000_BULLISH", "SIGNAL_CREATED", "COMPLETED"),
        ("20251122_143000_BULLISH", "SIGNAL_CREATED", "COMPLETED"),
    ]
    first_entry = rows[-1]
    assert (first_entry["risk_checks_count"], first_entry["sizing_count"], first_entry["breach_checks_count"],
            first_entry["connector_count"], first_entry["dry_run"]) == (2, 2, 2, 2, "false")


GUIDE_RISK_REJECTIONS = """
SELECT
    jsonb_array_elements(el.response_body::jsonb->'risk_checks')->>'firm_code' as firm,
    jsonb_array_elements(el.response_body::jsonb->'risk_checks')->>'rule' as rule,
    COUNT(*) as rejection_count
FROM execution_logs el
WHERE el.created_at > NOW() - INTERVAL '7 days'
  AND jsonb_array_elements(el.response_body::jsonb->'risk_checks')->>'status' = 'REJECTED'
GROUP BY firm, rule
ORDER BY rejection_count DESC;
"""


def test_the_guides_original_rejection_query_is_refused_by_postgresql(routed_pg: Engine) -> None:
    """Why monitoring.sql exists: the guide's version cannot run."""
    with pytest.raises(DBAPIError, match="set-returning functions are not allowed in WHERE"):
        with routed_pg.connect() as connection:
            connection.exec_driver_sql(GUIDE_RISK_REJECTIONS)


GUIDE_TABLES = """
CREATE TABLE execution_tasks (id SERIAL PRIMARY KEY, trade_id VARCHAR(255) NOT NULL, event_type VARCHAR(50) NOT NULL,
    payload JSONB NOT NULL, status VARCHAR(50) DEFAULT 'PENDING', created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW());
CREATE TABLE execution_logs (id SERIAL PRIMARY KEY, task_id INTEGER REFERENCES execution_tasks(id),
    trade_id VARCHAR(255) NOT NULL, event_type VARCHAR(50) NOT NULL, response_body JSONB NOT NULL,
    created_at TIMESTAMP DEFAULT NOW());
"""


def test_refuses_unmigrated_guide_tables_so_the_views_never_block_the_migration(pg_engine: Engine) -> None:
    """Views on the guide's TIMESTAMP columns would make the service's first migration fail."""
    from database import create_db_engine, upgrade_to_head

    schema = "monitoring_guide_tables"
    with pg_engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    engine = create_db_engine(db_fixtures.postgres_url_for(search_path=schema))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(GUIDE_TABLES)
        refused = run_file_with_psql(search_path=schema)
        assert refused.returncode != 0 and "Migrate them first" in refused.stderr
        upgrade_to_head(engine)  # still possible: nothing was created
        completed = run_file_with_psql(search_path=schema)
        assert completed.returncode == 0, completed.stderr
    finally:
        engine.dispose()
        with pg_engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_a_dry_run_firm_has_no_success_rate_rather_than_zero(clean_pg: Engine) -> None:
    """Every order of a dry-run week is SKIPPED (never sent): the rate is NULL, not 0.00."""
    from config import parse_settings
    from database import ExecutionRepository
    from execution_router import ExecutionRouter
    from tests.conftest import GUIDE_PAYLOAD, STEP2_ENV

    settings = parse_settings(dict(STEP2_ENV, DATABASE_URL=db_fixtures.postgres_test_url()))
    router = ExecutionRouter(settings=settings, repository=ExecutionRepository(clean_pg))
    router.route(dict(GUIDE_PAYLOAD))
    router.close()
    assert run_file_with_psql().returncode == 0
    with clean_pg.connect() as connection:
        rows = [tuple(r) for r in connection.exec_driver_sql(named_queries()["firm_success_rate_7d"]).all()]
    assert rows == [("APEX", 1, 0, 0, 1, None), ("FTMO", 1, 0, 0, 1, None)]
