"""The router as a service: the guide's integration example, start-up refusals, the guide's psql queries."""
from __future__ import annotations

import json
import subprocess

import pytest

from config import ConfigError, parse_settings, set_settings
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV


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

    class Exploding(ExecutionRouter):
        def _get_account_metrics_for_program(self, firm_code, program_id):
            raise RuntimeError("metrics backend down")

    router = Exploding(settings=settings, repository=router.repository)
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


GUIDE_QUERIES = {
    "latest task": "SELECT * FROM execution_tasks ORDER BY created_at DESC LIMIT 1;",
    "check execution logs": """
SELECT 
    el.trade_id,
    el.event_type,
    el.response_body->>'dry_run' as dry_run,
    el.response_body->'risk_checks' as risk_checks,
    el.response_body->'program_sizing' as program_sizing,
    el.response_body->'account_breaches' as account_breaches,
    el.response_body->'connector_results' as connector_results
FROM execution_logs el
ORDER BY el.created_at DESC
LIMIT 1;""",
    "tasks by status": """
SELECT 
    status,
    COUNT(*) as count
FROM execution_tasks
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY status;""",
    "recent execution summary": """
SELECT 
    et.id,
    et.trade_id,
    et.event_type,
    et.status,
    el.response_body->>'dry_run' as dry_run,
    jsonb_array_length(el.response_body->'risk_checks') as risk_checks_count,
    jsonb_array_length(el.response_body->'program_sizing') as sizing_count,
    jsonb_array_length(el.response_body->'account_breaches') as breach_checks_count,
    jsonb_array_length(el.response_body->'connector_results') as connector_count,
    et.created_at
FROM execution_tasks et
LEFT JOIN execution_logs el ON et.id = el.task_id
ORDER BY et.created_at DESC
LIMIT 10;""",
}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_guides_psql_queries_show_the_signal_just_routed(client, backend):
    assert client.post("/api/automated-signals/webhook", json=GUIDE_PAYLOAD).status_code == 200

    def psql(sql: str) -> str:
        out = subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-F", "|", "-c", sql],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert GUIDE_PAYLOAD["trade_id"] in psql(GUIDE_QUERIES["latest task"])
    logs = psql(GUIDE_QUERIES["check execution logs"]).splitlines()[1].split("|")
    assert logs[0] == GUIDE_PAYLOAD["trade_id"] and logs[2] == "true"
    assert json.loads(logs[6])[0]["reason"] == "GLOBAL_DRY_RUN_ENABLED"
    assert "COMPLETED|1" in psql(GUIDE_QUERIES["tasks by status"])
    summary = psql(GUIDE_QUERIES["recent execution summary"]).splitlines()[1].split("|")
    assert summary[1:9] == [GUIDE_PAYLOAD["trade_id"], "SIGNAL_CREATED", "COMPLETED", "true", "2", "2", "2", "2"]
