"""The psql-runnable schema files, the Alembic migration and the guide's queries agree (PostgreSQL).

Operators create the schema either way (``psql -f database/*.sql`` as in the deployment guide, or
by letting the service migrate itself), and then run the guide's queries by hand. These tests
make sure all routes give the same tables, that the service adopts a database made by psql, and
that migrating is safe at every start-up of every worker.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

import db_fixtures
from tests.conftest import GUIDE_PAYLOAD
from tests.guide_queries import (
    GUIDE_LATEST_LOG,
    GUIDE_LATEST_TASK,
    GUIDE_RECENT_EXECUTION_SUMMARY,
    GUIDE_TASKS_BY_STATUS,
)
from alembic.script import ScriptDirectory
from database import ExecutionRepository, create_db_engine, upgrade_to_head
from database.migrate import alembic_config
from database.tables import APP_TABLES

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every feature branch's newest revision (several issues each add one on top of 0001).
HEADS = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
SCHEMA_FILES = [
    REPO_ROOT / "database" / "execution_tasks_schema.sql",
    REPO_ROOT / "database" / "execution_logs_schema.sql",
    REPO_ROOT / "database" / "trade_positions_schema.sql",
    REPO_ROOT / "database" / "trading_state_schema.sql",
    REPO_ROOT / "database" / "account_events_schema.sql",
    REPO_ROOT / "database" / "connector_orders_schema.sql",
    REPO_ROOT / "database" / "dashboard_sessions_schema.sql",
    REPO_ROOT / "database" / "market_prices_schema.sql",
    REPO_ROOT / "database" / "account_guard_schema.sql",
    REPO_ROOT / "database" / "scheduled_runs_schema.sql",
]

# The deployment guide's original tables ("DATABASE SCHEMA"), verbatim: what an operator who
# followed the guide before this service existed has in production.
GUIDE_SCHEMA = """
CREATE TABLE execution_tasks (
    id SERIAL PRIMARY KEY,
    trade_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    payload JSONB NOT NULL,
    status VARCHAR(50) DEFAULT 'PENDING',
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);

CREATE INDEX idx_execution_tasks_trade_id ON execution_tasks(trade_id);
CREATE INDEX idx_execution_tasks_status ON execution_tasks(status);
CREATE INDEX idx_execution_tasks_created_at ON execution_tasks(created_at);

CREATE TABLE execution_logs (
    id SERIAL PRIMARY KEY,
    task_id INTEGER REFERENCES execution_tasks(id),
    trade_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    response_body JSONB NOT NULL,
    created_at TIMESTAMP DEFAULT NOW()
);

CREATE INDEX idx_execution_logs_task_id ON execution_logs(task_id);
CREATE INDEX idx_execution_logs_trade_id ON execution_logs(trade_id);
CREATE INDEX idx_execution_logs_created_at ON execution_logs(created_at);
"""

SIGNAL = GUIDE_PAYLOAD
RESULT = {
    "routed": False,
    "dry_run": True,
    "event_type": "SIGNAL_CREATED",
    "trade_id": "20251122_143000_BULLISH",
    "details": "ExecutionRouter dry-run: no external order sent.",
    "risk_checks": [
        {"firm_code": "FTMO", "status": "APPROVED"},
        {"firm_code": "APEX", "status": "APPROVED"},
    ],
    "program_sizing": [
        {"firm_code": "FTMO", "program_id": 1, "status": "APPROVED", "contracts": 2}
    ],
    "account_breaches": [{"firm_code": "FTMO", "program_id": 1, "status": "APPROVED"}],
    "connector_results": [
        {"firm_code": "FTMO", "status": "SKIPPED", "reason": "GLOBAL_DRY_RUN_ENABLED"}
    ],
}


# -- helpers ---------------------------------------------------------------------------------------


def psql_command(database: str | None = None) -> tuple[list[str], dict[str, str]]:
    """``psql -h HOST -U USER -d DB -v ON_ERROR_STOP=1`` for the test database, and its env."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql (the PostgreSQL client) is required to check database/*.sql")
    url = make_url(db_fixtures.postgres_url_for(database=database))
    command = [
        psql,
        "-h", url.host or "127.0.0.1",
        "-p", str(url.port or 5432),
        "-U", url.username or "postgres",
        "-d", url.database or "postgres",
        "-v", "ON_ERROR_STOP=1",
        "-X",
    ]  # fmt: skip
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return command, env


def run_psql(schema: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run psql with ``search_path`` set to ``schema``, failing the test on any SQL error."""
    command, env = psql_command()
    env["PGOPTIONS"] = f"-c search_path={schema}"
    completed = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, f"psql {' '.join(args)} failed:\n{completed.stderr}"
    return completed


def create_schema_with_psql(schema: str) -> None:
    """The guide's Step 1, with our files: each file on its own, in order."""
    for path in SCHEMA_FILES:
        run_psql(schema, "-f", str(path))


def describe(engine: Engine, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Columns (name, type, nullability, default), indexes and constraints of the app's tables."""
    params = {"schema": schema, "tables": list(APP_TABLES)}
    with engine.connect() as connection:
        columns = connection.execute(
            text(
                "SELECT table_name, ordinal_position, column_name, data_type, "
                "character_maximum_length, numeric_precision, numeric_scale, is_nullable, "
                "column_default "
                "FROM information_schema.columns "
                "WHERE table_schema = :schema AND table_name = ANY(:tables) "
                "ORDER BY table_name, ordinal_position"
            ),
            params,
        ).all()
        indexes = connection.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = :schema AND tablename = ANY(:tables) "
                "ORDER BY tablename, indexname"
            ),
            params,
        ).all()
        constraints = connection.execute(
            text(
                "SELECT cl.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) "
                "FROM pg_constraint con "
                "JOIN pg_class cl ON cl.oid = con.conrelid "
                "JOIN pg_namespace ns ON ns.oid = cl.relnamespace "
                "WHERE ns.nspname = :schema AND cl.relname = ANY(:tables) "
                "ORDER BY cl.relname, con.conname"
            ),
            params,
        ).all()

    def unqualified(rows: list[Any]) -> list[tuple[Any, ...]]:
        return [
            tuple(v.replace(f"{schema}.", "") if isinstance(v, str) else v for v in row)
            for row in rows
        ]

    return {
        "columns": unqualified(columns),
        "indexes": unqualified(indexes),
        "constraints": unqualified(constraints),
    }


def alembic_versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def task_status(engine: Engine, task_id: int) -> str | None:
    task = ExecutionRepository(engine).get_task(task_id)
    return None if task is None else task["status"]


def record_guide_example(engine: Engine) -> int:
    """The guide's Step 5 test signal, routed in dry-run: one task and its log."""
    repo = ExecutionRepository(engine)
    task_id = repo.create_task(SIGNAL["trade_id"], SIGNAL["event_type"], SIGNAL)
    repo.set_task_status(task_id, "PROCESSING")
    repo.finish_task(task_id, "COMPLETED", RESULT)
    return task_id


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def scratch_schema(pg_engine: Engine) -> Iterator[Callable[[], tuple[str, Engine]]]:
    """Factory of empty schemas (each an empty database for the app) with an engine using it."""
    created: list[tuple[str, Engine]] = []

    def make() -> tuple[str, Engine]:
        name = f"schema_check_{uuid.uuid4().hex[:10]}"
        with pg_engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        engine = create_db_engine(db_fixtures.postgres_url_for(search_path=name))
        created.append((name, engine))
        return name, engine

    yield make
    for name, engine in created:
        engine.dispose()
        with pg_engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture
def scratch_database(pg_engine: Engine) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database; its URL."""
    name = f"router_scratch_{uuid.uuid4().hex[:10]}"
    admin = pg_engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield db_fixtures.postgres_url_for(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["migration", "sql_files"])
def guide_db(request: pytest.FixtureRequest) -> Engine:
    """A clean database made by the migration (the test database) or by ``psql -f``."""
    if request.param == "migration":
        return request.getfixturevalue("clean_pg")
    schema, engine = request.getfixturevalue("scratch_schema")()
    create_schema_with_psql(schema)
    return engine


# -- the .sql files and the migration agree --------------------------------------------------------


def test_sql_files_create_the_same_schema_as_the_migration(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    migrated_schema, migrated = scratch_schema()
    upgrade_to_head(migrated)
    psql_schema, _ = scratch_schema()
    create_schema_with_psql(psql_schema)

    expected = describe(pg_engine, migrated_schema)
    actual = describe(pg_engine, psql_schema)
    assert {row[0] for row in expected["columns"]} == set(APP_TABLES)
    assert actual["columns"] == expected["columns"]
    assert actual["indexes"] == expected["indexes"]
    assert actual["constraints"] == expected["constraints"]


def test_sql_files_can_be_run_again(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    schema, engine = scratch_schema()
    create_schema_with_psql(schema)
    task_id = record_guide_example(engine)
    before = describe(pg_engine, schema)

    create_schema_with_psql(schema)

    assert describe(pg_engine, schema) == before
    assert ExecutionRepository(engine).get_task(task_id) is not None


# -- the guide's queries -----------------------------------------------------------------------


def test_guide_queries_run_unchanged(guide_db: Engine) -> None:
    task_id = record_guide_example(guide_db)

    with guide_db.connect() as connection:
        latest_task = connection.exec_driver_sql(GUIDE_LATEST_TASK).mappings().one()
        latest_log = connection.exec_driver_sql(GUIDE_LATEST_LOG).mappings().one()
        by_status = connection.exec_driver_sql(GUIDE_TASKS_BY_STATUS).all()
        summary = connection.exec_driver_sql(GUIDE_RECENT_EXECUTION_SUMMARY).mappings().all()

    assert latest_task["id"] == task_id
    assert latest_task["trade_id"] == SIGNAL["trade_id"]
    assert latest_task["status"] == "COMPLETED"
    assert latest_task["payload"] == SIGNAL

    assert dict(latest_log) == {
        "trade_id": SIGNAL["trade_id"],
        "event_type": "SIGNAL_CREATED",
        "dry_run": "true",
        "risk_checks": RESULT["risk_checks"],
        "program_sizing": RESULT["program_sizing"],
        "account_breaches": RESULT["account_breaches"],
        "connector_results": RESULT["connector_results"],
    }

    assert [tuple(row) for row in by_status] == [("COMPLETED", 1)]

    assert len(summary) == 1
    row = summary[0]
    assert (row["id"], row["trade_id"], row["event_type"], row["status"]) == (
        task_id,
        SIGNAL["trade_id"],
        "SIGNAL_CREATED",
        "COMPLETED",
    )
    assert row["dry_run"] == "true"
    assert (
        row["risk_checks_count"],
        row["sizing_count"],
        row["breach_checks_count"],
        row["connector_count"],
    ) == (2, 1, 1, 1)
    assert row["created_at"] == latest_task["created_at"]


def test_guide_queries_run_in_psql(
    scratch_schema: Callable[[], tuple[str, Engine]], tmp_path: Path
) -> None:
    """What the operator does: paste the guide's queries into psql."""
    schema, engine = scratch_schema()
    upgrade_to_head(engine)
    record_guide_example(engine)
    script = tmp_path / "guide_queries.sql"
    queries = [
        GUIDE_LATEST_TASK,
        GUIDE_LATEST_LOG,
        GUIDE_TASKS_BY_STATUS,
        GUIDE_RECENT_EXECUTION_SUMMARY,
    ]
    script.write_text("\n".join(queries))
    output = run_psql(schema, "-f", str(script)).stdout
    assert output.count(SIGNAL["trade_id"]) >= 3
    assert "GLOBAL_DRY_RUN_ENABLED" in output
    assert "COMPLETED" in output


# -- migrating existing databases --------------------------------------------------------------


def test_upgrade_adopts_a_database_created_from_the_sql_files(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    migrated_schema, migrated = scratch_schema()
    upgrade_to_head(migrated)
    schema, engine = scratch_schema()
    create_schema_with_psql(schema)
    task_id = record_guide_example(engine)

    upgrade_to_head(engine)

    assert sorted(alembic_versions(engine)) == HEADS
    assert describe(pg_engine, schema) == describe(pg_engine, migrated_schema)
    log = ExecutionRepository(engine).get_log_for_task(task_id)
    assert log is not None and log["response_body"] == RESULT


def test_upgrade_adopts_the_guides_original_tables(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    """Nullable status, timestamps without time zone, a non-unique task_id index: tightened in
    place, rows kept, so existing installs get the new schema without losing history."""
    migrated_schema, migrated = scratch_schema()
    upgrade_to_head(migrated)
    schema, engine = scratch_schema()
    with engine.begin() as connection:
        connection.exec_driver_sql(GUIDE_SCHEMA)
        connection.exec_driver_sql(
            "INSERT INTO execution_tasks (trade_id, event_type, payload, status) "
            "VALUES ('T-old', 'ENTRY_SIGNAL', '{\"symbol\": \"NQ\"}', 'COMPLETED'), "
            "       ('T-null', 'MFE_UPDATE', '{}', NULL)"
        )
        connection.exec_driver_sql(
            "INSERT INTO execution_logs (task_id, trade_id, event_type, response_body) "
            "VALUES (1, 'T-old', 'ENTRY_SIGNAL', '{\"routed\": false, \"dry_run\": true}')"
        )

    upgrade_to_head(engine)

    assert sorted(alembic_versions(engine)) == HEADS
    assert describe(pg_engine, schema) == describe(pg_engine, migrated_schema)
    repo = ExecutionRepository(engine)
    old = repo.get_task(1)
    assert old is not None
    assert old["trade_id"] == "T-old"
    assert old["status"] == "COMPLETED"
    assert old["payload"] == {"symbol": "NQ"}
    assert old["created_at"].tzinfo is not None
    assert repo.get_task(2)["status"] == "PENDING"  # type: ignore[index]
    old_log = repo.get_log_for_task(1)
    assert old_log is not None
    assert old_log["response_body"] == {"routed": False, "dry_run": True}
    # The tightened schema works for new rows (ids continue after the old ones).
    assert record_guide_example(engine) == 3


def test_upgrade_refuses_guide_tables_with_several_logs_per_task(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    schema, engine = scratch_schema()
    with engine.begin() as connection:
        connection.exec_driver_sql(GUIDE_SCHEMA)
        connection.exec_driver_sql(
            "INSERT INTO execution_tasks (trade_id, event_type, payload) VALUES ('T', 'E', '{}')"
        )
        connection.exec_driver_sql(
            "INSERT INTO execution_logs (task_id, trade_id, event_type, response_body) "
            "VALUES (1, 'T', 'E', '{}'), (1, 'T', 'E', '{}')"
        )
    before = describe(pg_engine, schema)

    with pytest.raises(RuntimeError, match="several rows: 1"):
        upgrade_to_head(engine)

    assert describe(pg_engine, schema) == before  # transactional DDL: nothing half-applied
    with engine.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None


def test_upgrade_twice_is_a_no_op(
    scratch_schema: Callable[[], tuple[str, Engine]], pg_engine: Engine
) -> None:
    schema, engine = scratch_schema()
    upgrade_to_head(engine)
    task_id = record_guide_example(engine)
    before = describe(pg_engine, schema)

    upgrade_to_head(engine)

    assert sorted(alembic_versions(engine)) == HEADS
    assert describe(pg_engine, schema) == before
    assert task_status(engine, task_id) == "COMPLETED"


def test_upgrade_twice_is_a_no_op_on_sqlite(tmp_path: Path) -> None:
    engine = create_db_engine(None, sqlite_path=str(tmp_path / "router.db"))
    try:
        upgrade_to_head(engine)
        task_id = record_guide_example(engine)
        upgrade_to_head(engine)
        assert sorted(alembic_versions(engine)) == HEADS
        assert task_status(engine, task_id) == "COMPLETED"
    finally:
        engine.dispose()


def test_concurrent_upgrades_on_an_empty_database_all_succeed(scratch_database: str) -> None:
    """Several gunicorn workers booting at once, each migrating with its own engine."""
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def boot() -> None:
        engine = create_db_engine(scratch_database)
        try:
            barrier.wait(timeout=10)
            upgrade_to_head(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=boot) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))

    assert not any(thread.is_alive() for thread in threads), "upgrade_to_head hung"
    assert errors == []
    engine = create_db_engine(scratch_database)
    try:
        assert sorted(alembic_versions(engine)) == HEADS
        assert ExecutionRepository(engine).ping()
        record_guide_example(engine)
    finally:
        engine.dispose()


def test_concurrent_upgrades_from_several_processes_all_succeed(scratch_database: str) -> None:
    """Gunicorn workers are processes: only the database lock can serialise them."""
    start_at = time.time() + 3  # after every process has finished importing
    boot = (
        "import sys, time\n"
        "from database import create_db_engine, upgrade_to_head\n"
        "engine = create_db_engine(sys.argv[1])\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "upgrade_to_head(engine)\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", boot, scratch_database, repr(start_at)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    failures = []
    for worker in workers:
        try:
            _, stderr = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, stderr = worker.communicate()
            stderr = "timed out\n" + stderr
        if worker.returncode != 0:
            failures.append(stderr)
    assert failures == []
    engine = create_db_engine(scratch_database)
    try:
        assert sorted(alembic_versions(engine)) == HEADS
    finally:
        engine.dispose()


def test_alembic_command_line_uses_database_url(
    scratch_schema: Callable[[], tuple[str, Engine]], tmp_path: Path
) -> None:
    """``DATABASE_URL=postgres://... alembic -c alembic.ini upgrade head`` from any directory
    (``heads``: each feature adds its own branch off 0001)."""
    schema, engine = scratch_schema()
    url = make_url(db_fixtures.postgres_url_for(search_path=schema))
    env = dict(os.environ)
    env["DATABASE_URL"] = url.render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgres://", 1
    )
    completed = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO_ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert sorted(alembic_versions(engine)) == HEADS
