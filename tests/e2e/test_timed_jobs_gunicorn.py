"""The flat-by job in real gunicorn workers on PostgreSQL, on real time: two workers that both find
a cutoff missed while the service was down run it once between them, and a later restart runs it
no more."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import text

from tests.conftest import reset_pg
from tests.db_fixtures import connect_postgres_or_fail
from tests.e2e.gunicorn_harness import Gunicorn

WEBHOOK = "/api/automated-signals/webhook"
PRAGUE = ZoneInfo("Europe/Prague")  # FTMO's trading-day zone; its day starts at midnight


@pytest.fixture
def pg():
    reset_pg()
    engine = connect_postgres_or_fail()
    yield engine
    engine.dispose()


def rows(engine, sql: str) -> list:
    with engine.begin() as conn:
        return conn.execute(text(sql)).all()


def a_cutoff_just_passed() -> str:
    """FTMO_1_FLAT_BY a minute ago in Prague (waiting out the first minutes of a trading day,
    when a minute ago belongs to the day before)."""
    now = datetime.now(PRAGUE)
    if now.hour == 0 and now.minute < 2:
        time.sleep(150)
        now = datetime.now(PRAGUE)
    return (now - timedelta(minutes=1)).strftime("%H:%M")


def test_two_workers_apply_a_missed_cutoff_once_and_a_restart_does_not_repeat_it(pg, tmp_path):
    entry = {"event_type": "ENTRY", "trade_id": "GUNICORN_FLAT_BY", "direction": "Bullish",
             "entry_price": 16500, "stop_loss": 16475, "symbol": "NQ1!"}
    with Gunicorn({}, workers=2, log_path=tmp_path / "first.log") as server:
        answer = requests.post(server.url + WEBHOOK, data=json.dumps(entry), timeout=30).json()
        assert {r["firm_code"] for r in answer["connector_results"]} == {"FTMO", "APEX"}

    flat_by = {"FTMO_1_FLAT_BY": a_cutoff_just_passed()}
    with Gunicorn(flat_by, workers=2, log_path=tmp_path / "second.log") as server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and rows(pg, "SELECT 1 FROM trade_positions WHERE firm_code = 'FTMO' "
                                                       "AND status = 'OPEN'"):
            time.sleep(0.2)
        time.sleep(1.0)  # the other worker's catch-up has run too by now
        health = requests.get(server.url + "/health", timeout=10).json()["scheduled_jobs"]

    runs = rows(pg, "SELECT job_id, status, worker FROM scheduled_runs")
    assert [(r.job_id, r.status) for r in runs] == [("flat-by:FTMO.1", "DONE")]
    exits = rows(pg, "SELECT payload->>'flatten_account' AS account FROM execution_tasks "
                     "WHERE payload->>'flatten_cause' = 'FLAT_BY'")
    assert [e.account for e in exits] == ["FTMO.1"]
    open_now = rows(pg, "SELECT firm_code, contracts_open FROM trade_positions WHERE status = 'OPEN'")
    assert [(r.firm_code, r.contracts_open) for r in open_now] == [("APEX", 3)]
    [job] = health
    assert job["id"] == "flat-by:FTMO.1" and job["last_run"]["status"] == "DONE" and job["next_run"]

    with Gunicorn(flat_by, workers=2, log_path=tmp_path / "third.log"):
        time.sleep(2.0)
    assert len(rows(pg, "SELECT 1 FROM scheduled_runs")) == 1
    assert len(rows(pg, "SELECT 1 FROM execution_tasks WHERE payload->>'flatten_cause' = 'FLAT_BY'")) == 1
