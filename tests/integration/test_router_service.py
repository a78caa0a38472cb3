"""The router as a service: the guide's integration example, start-up refusals, the guide's psql queries."""
from __future__ import annotations

import json
import subprocess

import pytest

from config import ConfigError, parse_settings, set_settings
from account_service import AccountService
from database.ledger_repository import LedgerRepository
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV
from tests.guide_queries import (
    GUIDE_LATEST_LOG,
    GUIDE_LATEST_TASK,
    GUIDE_RECENT_EXECUTION_SUMMARY,
    GUIDE_TASKS_BY_STATUS,
)


def test_guide_integration_example_with_a_standalone_router(tmp_path):
    """The guide's 'Test Complete Routing Flow', verbatim after the settings are installed."""
    set_settings(parse_settings(dict(STEP2_ENV, SQLITE_PATH=str(tmp_path / "r.db"))))
    try:
        router = ExecutionRouter(dry_run=True)
        result = router.handle_entry_signal({
            "trade_id": "TEST_001",
            "event_type": "SIGNAL_CREATED",
            "direction": "Bullish",
            "entry_price": 16500.0,
            "stop_loss": 16475.0,
            "symbol": "NQ"
        })
        assert "risk_checks" in result
        assert "program_sizing" in result
        assert "account_breaches" in result
        assert "connector_results" in result
        assert result["dry_run"] == True  # noqa: E712 (the guide's own assertion)
        task = router.repository.get_task(result["task_id"])
        assert task["status"] == "COMPLETED"
        assert router.repository.get_log_for_task(result["task_id"])["response_body"] == result
    finally:
        set_settings(None)


def test_explicit_dry_run_true_overrides_live_settings(tmp_path):
    settings = parse_settings(dict(STEP2_ENV, EXECUTION_DRY_RUN="false", SQLITE_PATH=str(tmp_path / "r.db")))
    router = ExecutionRouter(dry_run=True, settings=settings)
    assert router.dry_run is True and all(c.dry_run for c in router.connectors.values())


def test_wrong_handler_for_event_type_is_refused(tmp_path):
    router = ExecutionRouter(dry_run=True, settings=parse_settings(dict(STEP2_ENV, SQLITE_PATH=str(tmp_path / "r.db"))))
    with pytest.raises(ValueError):
        router.handle_entry_signal({"event_type": "EXIT_SL", "trade_id": "T"})


def test_failed_task_is_recorded_with_its_error(tmp_path):
    settings = parse_settings(dict(STEP2_ENV, SQLITE_PATH=str(tmp_path / "r.db")))
    router = ExecutionRouter(settings=settings)

    class Exploding(AccountService):
        def metrics_for_program(self, firm_code, program_id, view):
            raise RuntimeError("metrics backend down")

    router = ExecutionRouter(settings=settings, repository=router.repository,
                             accounts=Exploding(settings, LedgerRepository(router.repository.engine)))
    result = router.route(dict(GUIDE_PAYLOAD))
    task = router.repository.get_task(result["task_id"])
    assert task["status"] == "FAILED" and "metrics backend down" in task["error"]
    assert result["connector_results"] == [] and result["routed"] is False
    assert router.repository.get_log_for_task(result["task_id"])["response_body"]["error"].startswith("RuntimeError")
    assert router.repository.open_positions_for_trade(GUIDE_PAYLOAD["trade_id"]) == []


def test_create_app_refuses_invalid_configuration(tmp_path, capsys):
    from web_server import create_app

    with pytest.raises(ConfigError):
        create_app(parse_settings(dict(STEP2_ENV, SQLITE_PATH=str(tmp_path / "r.db"), EXECUTION_DRY_RUN="false")))
    err = capsys.readouterr().err
    assert "WEBHOOK_SECRET: required" in err
    assert "FTMO_API_KEY: required to route FTMO live" in err and "FTMO_SYMBOL_MAP: required" in err


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_guides_psql_queries_show_the_signal_just_routed(client, backend):
    assert client.post("/api/automated-signals/webhook", json=GUIDE_PAYLOAD).status_code == 200

    def psql(sql: str) -> str:
        out = subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-F", "|", "-c", sql],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert GUIDE_PAYLOAD["trade_id"] in psql(GUIDE_LATEST_TASK)
    logs = psql(GUIDE_LATEST_LOG).splitlines()[1].split("|")
    assert logs[0] == GUIDE_PAYLOAD["trade_id"] and logs[2] == "true"
    assert json.loads(logs[6])[0]["reason"] == "GLOBAL_DRY_RUN_ENABLED"
    assert "COMPLETED|1" in psql(GUIDE_TASKS_BY_STATUS)
    summary = psql(GUIDE_RECENT_EXECUTION_SUMMARY).splitlines()[1].split("|")
    assert summary[1:9] == [GUIDE_PAYLOAD["trade_id"], "SIGNAL_CREATED", "COMPLETED", "true", "2", "2", "2", "2"]


def test_live_orders_leave_only_after_processing_and_reservation_are_committed(tmp_path):
    """A live connector sees, from another connection, the task PROCESSING and its position
    reserved before its order goes out; dry-run work may commit in one unit, live work may not."""
    from sqlalchemy import text

    from connectors import BaseConnector, ConnectorResult
    from connectors.orders import SUCCESS

    settings = parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", EXECUTION_DRY_RUN="false",
                                   SQLITE_PATH=str(tmp_path / "r.db")))
    seen: list[tuple[str, int]] = []

    class Observing(BaseConnector):
        firm_code = "FTMO"
        live_supported = True

        def _place_entry(self, order, deadline):
            with router.repository.engine.connect() as conn:  # a separate connection: committed data only
                status = conn.execute(text("SELECT status FROM execution_tasks WHERE id = :i"), {"i": order.task_id}).scalar_one()
                reserved = conn.execute(text("SELECT COUNT(*) FROM trade_positions WHERE status = 'OPEN'")).scalar_one()
            seen.append((status, reserved))
            return ConnectorResult("FTMO", order.program_id, SUCCESS, False, order_id="X1", order=order.to_dict())

        _place_exit = _place_entry

        def _account_status(self):
            return {}

    router = ExecutionRouter(settings=settings, connectors={"FTMO": Observing(settings.firms["FTMO"], dry_run=False)})
    result = router.route(dict(GUIDE_PAYLOAD))
    assert result["routed"] is True and seen == [("PROCESSING", 1)]
    assert router.repository.get_task(result["task_id"])["status"] == "COMPLETED"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_dry_run_signal_holds_one_connection_and_begins_a_transaction_only_to_reserve(app, client):
    """The PENDING insert, the reads and the finish each run on their own (autocommit) on one
    pooled connection; BEGIN/COMMIT are sent only when positions are reserved, and then the
    reservations and the finish commit together (database/unit_of_work.py, deferred)."""
    from sqlalchemy import event

    engine = app.extensions["db_engine"]
    seen = {"checkout": 0, "transactions": 0}
    event.listen(engine.pool, "checkout", lambda *_: seen.__setitem__("checkout", seen["checkout"] + 1))

    def count_transaction(conn) -> None:
        if not conn.connection.dbapi_connection.autocommit:  # a real BEGIN ... COMMIT
            seen["transactions"] += 1

    event.listen(engine, "commit", count_transaction)
    reserving = client.post("/api/automated-signals/webhook", json=GUIDE_PAYLOAD).get_json()
    assert [r["contracts"] for r in reserving["program_sizing"]] == [2, 3]
    assert seen == {"checkout": 1, "transactions": 1}
    seen.update(checkout=0, transactions=0)
    update = client.post("/api/automated-signals/webhook", json=dict(GUIDE_PAYLOAD, event_type="MFE_UPDATE")).get_json()
    assert seen == {"checkout": 1, "transactions": 0}
    repo = app.extensions["execution_router"].repository
    assert [repo.get_task(body["task_id"])["status"] for body in (reserving, update)] == ["COMPLETED", "COMPLETED"]
    assert repo.get_log_for_task(reserving["task_id"])["response_body"] == reserving
