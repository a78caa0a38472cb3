"""The account guard through HTTP (SQLite and PostgreSQL): a scripted trading day in which falling
prices bring FTMO program 1 within its FTMO_1_GUARD_BUFFER of the daily loss limit.

Hand calculation (NQ: $20 per point; the guide's Step 2: FTMO 1 $100,000, 1% risk, MAX_DAILY_LOSS
1000; APEX 1 $150,000, 1%): long 16500, stop 16475 -> FTMO 2 contracts, APEX 3 contracts.
With a $300 buffer the guard acts when the day's loss reaches $700 (1000 - 300):
- mark 16483: (16483 - 16500) x 2 x 20 = -680: room 320, nothing happens;
- mark 16482: -18 x 40 = -720: room 280 <= 300: FTMO 1's position is closed at 16482 (realized
  -720), FTMO 1 is REDUCING until FTMO's next trading day (midnight Prague = 23:00 UTC in March),
  and APEX 1, which has no buffer, keeps its 3 contracts.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from database.tables_guard import account_guard_trips
from tests.e2e.receiver import receiver  # noqa: F401 (fixture)
from tests.e2e.scripted import Clock, open_positions

WEBHOOK = "/api/automated-signals/webhook"
PRICES = "/api/realtime-price"
START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
NEXT_FTMO_DAY = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)  # 00:00 Europe/Prague (CET)



def entry(trade_id: str) -> dict:
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": "Bullish",
            "entry_price": 16500, "stop_loss": 16475, "symbol": "NQ1!"}


def post(client, path: str, body) -> dict:
    response = client.post(path, data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def mark(client, clock: Clock, value, minutes: int = 5) -> dict:
    clock.now += timedelta(minutes=minutes)
    return post(client, PRICES, {"symbol": "NQ1!", "price": value, "time": clock.now.isoformat()})


def account(items: list[dict], firm: str = "FTMO") -> dict:
    return next(i for i in items if i["firm_code"] == firm and i.get("program_id", 1) == 1)


def guarded_app(make_app, receiver, clock: Clock, **overrides):
    app = make_app(FTMO_1_GUARD_BUFFER="300", NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook", **overrides)
    app.extensions["execution_router"].clock = clock
    return app


def test_the_guard_flattens_at_the_buffer_and_holds_the_program_until_the_next_trading_day(make_app, receiver):
    clock = Clock(START)
    app = guarded_app(make_app, receiver, clock)
    client = app.test_client()
    opened = post(client, WEBHOOK, entry("T1"))
    assert (account(opened["program_sizing"])["contracts"], account(opened["program_sizing"], "APEX")["contracts"]) == (2, 3)

    outside = mark(client, clock, 16483)
    assert outside["guard_trips"] == [] and account(outside["accounts"])["open_pl"] == -680.0
    assert open_positions(app) == {"FTMO": 2, "APEX": 3}

    tripped = mark(client, clock, 16482)
    [trip] = tripped["guard_trips"]
    assert (trip["firm_code"], trip["program_id"], trip["rule"], trip["room"], trip["buffer"], trip["equity"]) == (
        "FTMO", 1, "MAX_DAILY_LOSS", 280.0, 300.0, 99280.0)
    assert (trip["triggered_by"], trip["mode"], trip["until"]) == ("PRICE", "DRY_RUN", NEXT_FTMO_DAY.isoformat())
    [closed] = trip["outcome"]
    assert (closed["trade_id"], closed["contracts"], closed["exit_price"], closed["status"]) == ("T1", 2, "16482", "SKIPPED")
    assert open_positions(app) == {"APEX": 3}  # the account without a buffer is left alone

    # the close is in the ledger at the mark, through an ordinary exit task of its own
    repository = app.extensions["execution_router"].repository
    logged = repository.get_log_for_task(closed["task_id"])["response_body"]
    assert (logged["event_type"], logged["trade_id"]) == ("EXIT", "T1")
    assert repository.get_task(closed["task_id"])["payload"]["flatten_account"] == "FTMO.1"
    [booked] = logged["account_closes"]
    assert (booked["firm_code"], booked["exit_price"], booked["realized_pl"], booked["simulated"]) == (
        "FTMO", 16482.0, -720.0, True)
    state = account(post(client, WEBHOOK, entry("T2"))["account_states"])
    assert (state["realized_pl"], state["open_pl"], state["day_pl"]) == (-720.0, 0.0, -720.0)

    refused = post(client, WEBHOOK, entry("T3"))
    ftmo = account(refused["connector_results"])
    assert (ftmo["status"], ftmo["reason"], ftmo["rule"]) == ("SKIPPED", "ACCOUNT_GUARD_REDUCING", "ACCOUNT_GUARD")
    assert NEXT_FTMO_DAY.isoformat() in ftmo["message"] and "MAX_DAILY_LOSS" in ftmo["message"]
    check = next(c for c in refused["safety_checks"] if c["firm_code"] == "FTMO")
    assert (check["rule"], check["until"]) == ("ACCOUNT_GUARD", NEXT_FTMO_DAY.isoformat())
    assert account(refused["risk_checks"], "APEX")["status"] == "REJECTED"  # its own loss limit, not the guard

    # exits still pass while REDUCING
    closing = post(client, WEBHOOK, {"event_type": "EXIT", "trade_id": "T1", "exit_price": 16480})
    assert account(closing["connector_results"], "APEX")["reason"] == "GLOBAL_DRY_RUN_ENABLED"

    [(path, note)] = receiver.wait_for(1)
    assert path == "/hook" and note["kind"] == "ACCOUNT_GUARD"
    assert "FTMO program 1 (paper): account guard flattened 1 position(s)" in note["text"]
    assert NEXT_FTMO_DAY.isoformat() in note["text"]

    # the next falling price finds the account already tripped today: nothing more, nothing told
    assert mark(client, clock, 16400)["guard_trips"] == []

    # a restart remembers the hold
    restarted = guarded_app(make_app, receiver, clock)
    again = post(restarted.test_client(), WEBHOOK, entry("T4"))
    assert account(again["connector_results"])["reason"] == "ACCOUNT_GUARD_REDUCING"

    # the firm's next trading day trades again
    clock.now = NEXT_FTMO_DAY + timedelta(minutes=1)
    fresh = post(restarted.test_client(), WEBHOOK, {**entry("T5"), "entry_price": 16400, "stop_loss": 16375})
    result = account(fresh["connector_results"])
    assert (result["status"], result["reason"]) == ("SKIPPED", "GLOBAL_DRY_RUN_ENABLED")
    assert account(fresh["account_breaches"])["status"] == "APPROVED"
    assert len(receiver.bodies) == 1


def test_an_account_without_a_buffer_is_never_flattened(make_app, receiver):
    clock = Clock(START)
    app = make_app(NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    app.extensions["execution_router"].clock = clock
    client = app.test_client()
    post(client, WEBHOOK, entry("T1"))
    assert mark(client, clock, 16460)["guard_trips"] == []
    assert open_positions(app) == {"FTMO": 2, "APEX": 3}


def test_a_loss_booked_by_an_exit_trips_the_guard_with_nothing_left_to_close(make_app, receiver):
    """A fill: the stop-out itself books -1000 + ... here the exit's realized loss leaves 250 of room."""
    clock = Clock(START)
    app = guarded_app(make_app, receiver, clock)
    client = app.test_client()
    post(client, WEBHOOK, entry("T1"))
    # (16481.25 - 16500) x 2 x 20 = -750: room 250 <= 300
    post(client, WEBHOOK, {"event_type": "EXIT", "trade_id": "T1", "exit_price": 16481.25})
    with app.extensions["db_engine"].connect() as connection:
        [trip] = connection.execute(select(account_guard_trips)).all()
    assert (trip.firm_code, trip.triggered_by, trip.rule, float(trip.room), trip.status) == (
        "FTMO", "FILL", "MAX_DAILY_LOSS", 250.0, "DONE")
    assert trip.outcome == []
    refused = post(client, WEBHOOK, entry("T2"))
    assert account(refused["connector_results"])["reason"] == "ACCOUNT_GUARD_REDUCING"
    assert receiver.wait_for(1)[0][1]["kind"] == "ACCOUNT_GUARD"


def test_the_guard_exit_field_is_reserved(client):
    response = client.post(WEBHOOK, data=json.dumps({"event_type": "EXIT", "trade_id": "T1", "flatten_account": "FTMO.1"}),
                           content_type="text/plain")
    assert response.status_code == 400
    assert "flatten_account" in response.get_json()["fields"]


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"FTMO_1_GUARD_BUFFER": "-5"}, "FTMO_1_GUARD_BUFFER"),
    ({"FTMO_1_GUARD_BUFFER": "1000"}, "must be below FTMO_1_MAX_DAILY_LOSS=1000"),
    ({"FTMO_1_GUARD_BUFFER": "100", "FTMO_1_MAX_DAILY_LOSS": None, "FTMO_1_MAX_TOTAL_LOSS": None,
      "FTMO_1_MAX_DRAWDOWN": None}, "needs a loss limit to guard"),
])
def test_a_buffer_that_cannot_work_refuses_to_start(make_settings, overrides, problem):
    from config import ConfigError

    with pytest.raises(ConfigError) as refused:
        make_settings(**overrides)
    assert problem in str(refused.value)


def test_an_operator_can_release_the_hold_and_account_show_tells_it(make_app, receiver):
    clock = Clock(START)
    app = guarded_app(make_app, receiver, clock)
    client = app.test_client()
    post(client, WEBHOOK, entry("T1"))
    assert mark(client, clock, 16482)["guard_trips"]
    runner = app.test_cli_runner()
    shown = json.loads(runner.invoke(args=["account", "show", "FTMO", "1"]).output)["guard"]
    assert (shown["buffer"], shown["holding"], shown["latest_trip"]["rule"]) == (300.0, True, "MAX_DAILY_LOSS")

    out = runner.invoke(args=["account", "release-guard", "FTMO", "1", "--by", "alice", "--reason", "checked at FTMO"])
    assert out.exit_code == 0 and "Released the account guard's hold on FTMO program 1 by alice" in out.output
    shown = json.loads(runner.invoke(args=["account", "show", "FTMO", "1"]).output)["guard"]
    assert shown["holding"] is False
    assert (shown["latest_trip"]["released_by"], shown["latest_trip"]["release_reason"]) == ("alice", "checked at FTMO")
    clock.now += timedelta(minutes=1)
    result = account(post(client, WEBHOOK, {**entry("T2"), "entry_price": 16482, "stop_loss": 16472})["connector_results"])
    assert result["reason"] == "GLOBAL_DRY_RUN_ENABLED"  # sent (dry-run), no longer held
    assert mark(client, clock, 16400)["guard_trips"] == []  # tripped once today already: not again
    again = runner.invoke(args=["account", "release-guard", "FTMO", "1", "--reason", "twice"])
    assert again.exit_code != 0 and "is not holding FTMO program 1 now" in again.output


def test_the_accounts_page_shows_the_hold_and_the_times_ahead(make_app, receiver):
    import re

    clock = Clock(START)
    app = guarded_app(make_app, receiver, clock, ADMIN_TOKEN="dash-token-0123456789", FTMO_1_FLAT_BY="16:00",
                      TIMED_JOBS_ENABLED="false", NEWS_BLACKOUTS="2026-03-10T18:00Z/30/15/FOMC")
    client = app.test_client()
    auth = {"Authorization": "Bearer dash-token-0123456789"}

    def rules(firm: str) -> dict[str, str]:
        page = client.get("/dashboard/accounts", headers=auth).get_data(as_text=True)
        card = page.split(f'data-account-card="{firm}-1"', 1)[1].split("</section>", 1)[0]
        return {m[0]: re.sub(r"<[^>]+>", "", m[1]).strip() for m in
                re.findall(r'<tr data-rule="([a-z-]+)"><td>[^<]+</td><td>(.*?)</td></tr>', card, re.S)}

    before = rules("FTMO")
    assert before["guard"].startswith("on: flattens within") and "300.00" in before["guard"]
    assert "next cutoff" in before["flat-by"] and "16:00" in before["flat-by"]
    assert "FOMC" in before["news"] and rules("APEX")["guard"] == "off"
    post(client, WEBHOOK, entry("T1"))
    assert mark(client, clock, 16482)["guard_trips"]
    after = rules("FTMO")["guard"]
    assert after.startswith("REDUCING near MAX_DAILY_LOSS until") and "00:00" in after  # midnight Prague
