"""The flat-by cutoff and the news flattening as timed jobs, through HTTP on SQLite and PostgreSQL,
with the scheduler driven by a scripted clock (TIMED_JOBS_ENABLED=false keeps the app's own
APScheduler thread out of it; tests/e2e/test_timed_jobs_gunicorn.py runs the real one).

FTMO program 1 (Step 2: 2 NQ contracts on a 25-point stop) with FTMO_1_FLAT_BY=16:00: the
cutoff is 16:00 Prague = 15:00 UTC on 2026-03-10 (CET); FTMO's next trading day starts at
midnight Prague = 23:00 UTC. APEX 1 (no cutoff) keeps its 3 contracts.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone


from tests.e2e.receiver import receiver  # noqa: F401 (fixture)
from tests.e2e.scripted import Clock, open_positions

WEBHOOK = "/api/automated-signals/webhook"
START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
CUTOFF = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)
NEXT_DAY = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)
FOMC = datetime(2026, 3, 10, 18, 0, tzinfo=timezone.utc)



def entry(trade_id: str) -> dict:
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": "Bullish", "entry_price": 16500,
            "stop_loss": 16475, "symbol": "NQ1!"}


def post(client, body) -> dict:
    response = client.post(WEBHOOK, data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def scripted(make_app, receiver, clock: Clock, **overrides):
    app = make_app(**{"FTMO_1_FLAT_BY": "16:00", "TIMED_JOBS_ENABLED": "false",
                      "NOTIFY_WEBHOOK_URL": f"{receiver.url}/hook", **overrides})
    app.extensions["execution_router"].clock = clock
    return app


def test_the_cutoff_closes_the_program_once_and_entries_wait_for_the_next_day(make_app, receiver):
    clock = Clock(START)
    app = scripted(make_app, receiver, clock)
    client = app.test_client()
    post(client, entry("T1"))
    scheduler = app.extensions["scheduler"]
    assert scheduler.run_due(CUTOFF - timedelta(seconds=1)) == []

    [(job, due, detail)] = scheduler.run_due(CUTOFF + timedelta(seconds=2))
    assert (job, due) == ("flat-by:FTMO.1", CUTOFF)
    [closed] = detail["closed"]
    assert (closed["trade_id"], closed["contracts"], closed["status"]) == ("T1", 2, "SKIPPED")  # dry-run exit
    assert open_positions(app) == {"APEX": 3}
    assert scheduler.run_due(CUTOFF + timedelta(minutes=5)) == []  # once

    clock.now = CUTOFF + timedelta(minutes=10)
    refused = post(client, entry("T2"))
    ftmo = next(r for r in refused["connector_results"] if r["firm_code"] == "FTMO")
    assert (ftmo["reason"], ftmo["rule"]) == ("FLAT_BY_CUTOFF", "FLAT_BY_CUTOFF")
    assert next(c for c in refused["safety_checks"] if c["firm_code"] == "FTMO")["until"] == NEXT_DAY.isoformat()

    [(path, note)] = receiver.wait_for(1)
    assert note["kind"] == "FLAT_BY" and "FTMO program 1: closed 1 position(s)" in note["text"]
    assert "T1 2 NQ" in note["text"]

    health = client.get("/health").get_json()["scheduled_jobs"]
    [flat_by] = health
    assert flat_by["id"] == "flat-by:FTMO.1" and flat_by["last_run"]["status"] == "DONE"
    assert flat_by["last_run"]["due_at"] == CUTOFF.isoformat()
    assert flat_by["next_run"] == (CUTOFF + timedelta(days=1)).isoformat()

    clock.now = NEXT_DAY + timedelta(minutes=1)
    again = next(r for r in post(client, entry("T3"))["connector_results"] if r["firm_code"] == "FTMO")
    assert again["reason"] == "GLOBAL_DRY_RUN_ENABLED"  # would have been sent


def test_a_cutoff_missed_while_down_is_applied_at_start_up_and_a_lapsed_one_is_not(make_app, receiver):
    clock = Clock(START)
    app = scripted(make_app, receiver, clock)
    post(app.test_client(), entry("T1"))
    # the service is down over the cutoff; it starts again at 15:40 UTC
    restarted = scripted(make_app, receiver, clock)
    assert [job for job, _, _ in restarted.extensions["scheduler"].run_due(CUTOFF + timedelta(minutes=40))] == [
        "flat-by:FTMO.1"]
    assert open_positions(restarted) == {"APEX": 3}

    # a position opened on the next trading day, then down over that day's cutoff and past its end
    clock.now = NEXT_DAY + timedelta(hours=10)
    post(restarted.test_client(), entry("T2"))
    late = scripted(make_app, receiver, clock)
    assert late.extensions["scheduler"].run_due(NEXT_DAY + timedelta(days=1, minutes=5)) == []
    assert open_positions(late)["FTMO"] == 2  # that day ended: nothing is closed on the next one


def test_flattening_before_news_closes_at_the_blackout_start(make_app, receiver):
    clock = Clock(START)
    app = scripted(make_app, receiver, clock, FTMO_1_FLAT_BY=None, FTMO_1_FLATTEN_BEFORE_NEWS="true",
                   NEWS_BLACKOUTS=f"{FOMC.isoformat()}/30/15/FOMC")
    client = app.test_client()
    post(client, entry("T1"))
    scheduler = app.extensions["scheduler"]
    start = FOMC - timedelta(minutes=30)
    assert scheduler.run_due(start - timedelta(seconds=1)) == []
    [(job, due, detail)] = scheduler.run_due(start + timedelta(seconds=1))
    assert (job, due, len(detail["closed"])) == ("news-flatten:FTMO.1", start, 1)
    assert "FOMC" in detail["reason"]
    assert open_positions(app) == {"APEX": 3}
    assert receiver.wait_for(1)[0][1]["kind"] == "NEWS_FLATTEN"
