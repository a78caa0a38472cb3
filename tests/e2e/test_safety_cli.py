"""`flask trading-state` and `flask recover-tasks` validate their arguments like the admin API."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from database import ExecutionRepository
from database.tables import execution_tasks
from tests.conftest import GUIDE_PAYLOAD
from tests.e2e.test_account_admin import AUTH, TOKEN, one_line_refusal


def trading_state(app) -> tuple[str, str | None]:
    record = app.test_client().get("/api/admin/trading-state", headers=AUTH).get_json()
    return record["trading_state"], record["reason"]


def young_stuck_task(app, age_seconds: int = 30) -> int:
    """A PROCESSING task a live worker could still be handling: only a threshold below its age recovers it."""
    engine = app.extensions["db_engine"]
    repo = ExecutionRepository(engine)
    task_id = repo.create_task(GUIDE_PAYLOAD["trade_id"], GUIDE_PAYLOAD["event_type"], GUIDE_PAYLOAD,
                               idempotency_key=f"{GUIDE_PAYLOAD['trade_id']}:{GUIDE_PAYLOAD['event_type']}")
    repo.set_task_status(task_id, "PROCESSING")
    updated = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)
    with engine.begin() as conn:
        conn.execute(update(execution_tasks).where(execution_tasks.c.id == task_id).values(updated_at=updated))
    return task_id


@pytest.mark.parametrize(("args", "argument", "message"), [
    pytest.param(["trading-state", "PAUSED"], "state", "ACTIVE, REDUCING or HALTED", id="unknown-state"),
    pytest.param(["trading-state", "HALT\x00ED"], "state", "ACTIVE, REDUCING or HALTED", id="state-nul"),
    pytest.param(["trading-state", "--reason", "news"], "state", "ACTIVE, REDUCING or HALTED", id="reason-without-state"),
    pytest.param(["trading-state", "HALTED", "--reason", "r" * 501], "--reason", "500", id="reason-too-long"),
    pytest.param(["trading-state", "HALTED", "--reason", "news\x00"], "--reason", "NUL", id="reason-nul"),
])
def test_trading_state_refuses_bad_arguments_and_changes_nothing(make_app, args, argument, message):
    app = make_app(ADMIN_TOKEN=TOKEN)
    result = app.test_cli_runner().invoke(args=args)
    assert message in one_line_refusal(result, argument)
    assert trading_state(app) == ("ACTIVE", None)


def test_trading_state_sets_and_shows_as_the_api_would(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["trading-state", " halted ", "--reason", "r" * 500])
    assert result.exit_code == 0 and "ACTIVE -> HALTED" in result.output, result.output
    assert trading_state(app) == ("HALTED", "r" * 500)
    shown = runner.invoke(args=["trading-state"])
    assert shown.exit_code == 0 and "Trading state: HALTED" in shown.output


@pytest.mark.parametrize(("value", "message"), [
    pytest.param("0", "greater than or equal to 1", id="zero"),
    pytest.param("-5", "whole number", id="negative"),
    pytest.param("abc", "whole number", id="word"),
    pytest.param("1e3", "whole number", id="exponent"),
    pytest.param("86401", "86400", id="over-a-day"),
    pytest.param("99999999999999999999", "86400", id="huge"),
])
def test_recover_tasks_refuses_a_bad_threshold_and_recovers_nothing(make_app, value, message):
    app = make_app()
    task_id = young_stuck_task(app)
    result = app.test_cli_runner().invoke(args=["recover-tasks", "--older-than", value])
    assert message in one_line_refusal(result, "--older-than")
    assert ExecutionRepository(app.extensions["db_engine"]).get_task(task_id)["status"] == "PROCESSING"


def test_recover_tasks_takes_a_threshold_in_seconds(make_app):
    app = make_app()
    task_id = young_stuck_task(app, age_seconds=30)
    runner = app.test_cli_runner()
    assert "Recovered 0 task(s)." in runner.invoke(args=["recover-tasks", "--older-than", "3600"]).output
    result = runner.invoke(args=["recover-tasks", "--older-than", "10"])
    assert result.exit_code == 0 and f"task {task_id}: " in result.output and "Recovered 1 task(s)." in result.output
    assert ExecutionRepository(app.extensions["db_engine"]).get_task(task_id)["status"] != "PROCESSING"
