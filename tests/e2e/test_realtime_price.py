"""POST /api/realtime-price through HTTP (SQLite and PostgreSQL): marks, open P&L in the loss
checks, stale and out-of-order prices, bad bodies, the secret, the trailing high, the dashboard.

Hand calculation (NQ: $20 per point; FTMO program 1 of the guide's Step 2: $100,000, 1% risk,
MAX_DAILY_LOSS 1000, MAX_DRAWDOWN 2000, TRAILING): long 16500, stop 16475 -> 2 contracts.
- mark 16490: (16490 - 16500) x 2 x 20 = -400 open;
- mark 16470: -30 x 2 x 20 = -1200 open -> day P&L -1200: the next entry is REJECTED;
- mark 16550: +50 x 2 x 20 = +2000 -> equity 102,000, a new high: the floor trails to 100,000;
  back at 16500 equity is 100,000 = the floor: drawdown -2000, the next entry is REJECTED.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from tests.e2e.scripted import Clock

WEBHOOK = "/api/automated-signals/webhook"
PRICES = "/api/realtime-price"
START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)



def entry(trade_id: str) -> dict:
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": "Bullish",
            "entry_price": 16500, "stop_loss": 16475, "symbol": "NQ1!"}


def signal(client, payload: dict) -> dict:
    response = client.post(WEBHOOK, data=json.dumps(payload), content_type="text/plain")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def price(client, body, **kwargs):
    return client.post(PRICES, data=json.dumps(body), content_type="text/plain", **kwargs)


def tick(symbol: str, value, at: datetime) -> dict:
    return {"symbol": symbol, "price": value, "time": at.isoformat().replace("+00:00", "Z")}


def ftmo(items: list[dict]) -> dict:
    return next(i for i in items if i["firm_code"] == "FTMO" and i.get("program_id", 1) == 1)


def day(make_app, **overrides):
    app = make_app(ROUTE_TO_FIRMS="FTMO", **overrides)
    clock = Clock(START)
    app.extensions["execution_router"].clock = clock
    client = app.test_client()
    first = signal(client, entry("20260310_140000_BULLISH"))
    assert ftmo(first["program_sizing"])["contracts"] == 2
    return app, client, clock


def mark(client, clock: Clock, value, minutes: int = 5) -> dict:
    clock.now += timedelta(minutes=minutes)
    response = price(client, tick("CME_MINI:NQ1!", value, clock.now))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("limit_by", ["risk", "breach"])
def test_falling_prices_reject_the_next_entry_on_floating_loss_before_any_exit(make_app, limit_by):
    # risk: the firm-wide FTMO_MAX_DAILY_LOSS decides; breach: only the program's own limit is set
    overrides = {"FTMO_MAX_DAILY_LOSS": None} if limit_by == "breach" else {"FTMO_1_MAX_DAILY_LOSS": None}
    app, client, clock = day(make_app, **overrides)

    answer = mark(client, clock, 16490)
    assert answer["prices"] == [{"symbol": "CME_MINI:NQ1!", "root": "NQ", "price": 16490.0,
                                 "time": "2026-03-10T14:05:00+00:00", "status": "STORED"}]
    assert (ftmo(answer["accounts"])["open_pl"], ftmo(answer["accounts"])["equity"]) == (-400.0, 99600.0)
    still_room = signal(client, {**entry("20260310_140500_BULLISH"), "event_type": "SIGNAL_CREATED"})
    state = ftmo(still_room["account_states"])
    assert (state["open_pl"], state["day_pl"], state["open_pl_source"], state["marked_positions"]) == (
        -400.0, -400.0, "MARK", 1)
    signal(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": "20260310_140500_BULLISH", "exit_price": 16500})

    mark(client, clock, 16470)
    rejected = signal(client, entry("20260310_141000_BULLISH"))
    state = ftmo(rejected["account_states"])
    assert (state["open_pl"], state["day_pl"], state["equity"], state["realized_pl"]) == (-1200.0, -1200.0, 98800.0, 0.0)
    if limit_by == "risk":
        check = ftmo(rejected["risk_checks"])
    else:
        check = ftmo(rejected["account_breaches"])
        assert check["rule"] == "MAX_DAILY_LOSS"
    assert check["status"] == "REJECTED" and check["reason"] == "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
    assert rejected["connector_results"] == [] and rejected["routed"] is False


def test_stale_and_out_of_order_prices_are_ignored_and_said_so(make_app):
    app, client, clock = day(make_app, PRICE_MAX_AGE_SECONDS="120")
    mark(client, clock, 16490)
    stored_at = clock.now
    clock.now += timedelta(minutes=1)
    answer = price(client, [tick("NQ1!", 16400, stored_at - timedelta(seconds=30)),  # older than the mark
                            tick("NQ", 16400, stored_at),  # as old as the mark
                            tick("NQZ2026", 16400, clock.now - timedelta(minutes=3)),  # older than 120 s
                            tick("NQ1!", 16400, clock.now + timedelta(minutes=5)),  # from the future
                            tick("ES1!", 5000.25, clock.now)]).get_json()
    statuses = [(p["root"], p["status"]) for p in answer["prices"]]
    assert statuses == [("NQ", "IGNORED")] * 4 + [("ES", "STORED")]
    reasons = [p.get("reason", "") for p in answer["prices"]]
    assert reasons[0].startswith("out of order") and reasons[1].startswith("out of order")
    assert "2026-03-10T14:05:00+00:00" in reasons[0]
    assert reasons[2].startswith("stale: 180 s old") and "PRICE_MAX_AGE_SECONDS (120 s)" in reasons[2]
    assert "ahead of the server's clock" in reasons[3]
    assert (answer["stored"], answer["ignored"], answer["accounts"]) == (1, 4, [])  # no NQ mark moved
    state = ftmo(signal(client, entry("20260310_140700_BULLISH"))["account_states"])
    assert state["open_pl"] == -400.0  # the open position still at the 16490 mark: -10 x 2 x 20


@pytest.mark.parametrize("body, field, message", [
    ({"symbol": "NQ1!", "time": "2026-03-10T14:00:00Z"}, "price", "required"),
    ({"symbol": "NQ1!", "price": "abc", "time": "2026-03-10T14:00:00Z"}, "price", "must be a number"),
    ({"symbol": "NQ1!", "price": -5, "time": "2026-03-10T14:00:00Z"}, "price", "above 0"),
    ({"symbol": "NQ1!", "price": True, "time": "2026-03-10T14:00:00Z"}, "price", "must be a number"),
    ({"symbol": "XYZ", "price": 1, "time": "2026-03-10T14:00:00Z"}, "symbol", "unknown instrument"),
    ({"price": 1, "time": "2026-03-10T14:00:00Z"}, "symbol", "required"),
    ({"symbol": "NQ1!", "price": 1}, "time", "required"),
    ({"symbol": "NQ1!", "price": 1, "time": "yesterday"}, "time", "ISO 8601"),
    ({"symbol": "NQ1!", "price": 1, "time": "2026-03-10T14:00:00"}, "time", "time zone"),
    ([tick("NQ1!", 16490, START), {"symbol": "NQ1!", "price": 1}], "1.time", "required"),
    ([tick("NQ1!", 16490, START), "16490"], "1", "must be a JSON object"),
    ([], "body", "empty list"),
    ("16490", "body", "must be a JSON object"),
])
def test_bad_bodies_are_a_400_naming_the_field_and_store_nothing(make_app, db_of, body, field, message):
    app = make_app()
    app.extensions["execution_router"].clock = Clock(START)
    response = price(app.test_client(), body)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "invalid_payload" and message in payload["fields"][field]
    assert db_of(app)("SELECT COUNT(*) FROM market_prices") == 0


def test_bodies_that_are_not_json_are_refused_like_the_webhooks(make_app, db_of):
    app = make_app()
    client = app.test_client()
    for raw in (b"{not json", b'{"symbol": "NQ1!", "price": NaN, "time": "2026-03-10T14:00:00Z"}'):
        response = client.post(PRICES, data=raw, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"
    too_deep = client.post(PRICES, data=b"[" * 40 + b"]" * 40, content_type="application/json")
    assert too_deep.status_code == 400 and too_deep.get_json()["error"] == "too_deeply_nested"
    assert client.post(PRICES, data=b"[" + b"1," * 40_000 + b"1]").status_code == 413
    assert db_of(app)("SELECT COUNT(*) FROM market_prices") == 0


def test_the_webhook_secret_is_enforced(make_app, db_of):
    app = make_app(WEBHOOK_SECRET="s3cret")
    app.extensions["execution_router"].clock = Clock(START)
    client = app.test_client()
    one = tick("NQ1!", 16490, START)
    assert price(client, one).status_code == 401
    assert price(client, {**one, "secret": "wrong"}).status_code == 401
    assert price(client, [{**one, "secret": "s3cret"}, tick("ES1!", 5000, START)]).status_code == 401
    assert db_of(app)("SELECT COUNT(*) FROM market_prices") == 0
    ok = price(client, {**one, "secret": "s3cret"})
    assert ok.status_code == 200 and "s3cret" not in ok.get_data(as_text=True)
    assert price(client, tick("ES1!", 5000, START), headers={"X-Webhook-Secret": "s3cret"}).status_code == 200
    assert client.post(f"{PRICES}?token=s3cret", data=json.dumps([tick("GC1!", 2000, START)])).status_code == 200
    assert db_of(app)("SELECT COUNT(*) FROM market_prices") == 3


def test_prices_from_an_address_outside_the_allowed_ips_are_refused(make_app):
    app = make_app(WEBHOOK_ALLOWED_IPS="10.0.0.0/8")
    response = price(app.test_client(), tick("NQ1!", 16490, START))
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden_source"


def test_a_marked_equity_high_raises_the_trailing_floor_and_survives_a_restart(make_app):
    app, client, clock = day(make_app)
    high = ftmo(mark(client, clock, 16550)["accounts"])
    assert (high["equity"], high["high_water_mark"], high["equity_peak_raised"]) == (102000.0, 102000.0, True)
    lower = ftmo(mark(client, clock, 16540)["accounts"])
    assert (lower["equity"], lower["high_water_mark"], lower["equity_peak_raised"]) == (101600.0, 102000.0, False)

    mark(client, clock, 16500)  # back at the entry: equity 100,000, the trailed floor
    restarted = make_app(ROUTE_TO_FIRMS="FTMO")  # a new process on the same database
    restarted.extensions["execution_router"].clock = clock
    rejected = signal(restarted.test_client(), entry("20260310_142000_BULLISH"))
    state = ftmo(rejected["account_states"])
    assert (state["high_water_mark"], state["drawdown_floor"], state["drawdown"], state["open_pl"]) == (
        102000.0, 100000.0, -2000.0, 0.0)
    breach = ftmo(rejected["account_breaches"])
    assert breach["status"] == "REJECTED" and breach["rule"] == "MAX_DRAWDOWN"


def test_a_static_drawdown_does_not_trail_marked_highs(make_app):
    app, client, clock = day(make_app, FTMO_1_DRAWDOWN_MODE="STATIC")
    high = ftmo(mark(client, clock, 16550)["accounts"])
    assert high["equity_peak_raised"] is False
    mark(client, clock, 16500)
    approved = signal(client, entry("20260310_142000_BULLISH"))
    assert ftmo(approved["account_breaches"])["status"] == "APPROVED"
    assert ftmo(approved["account_states"])["drawdown"] == 0.0


TOKEN = "dash-token-for-tests"


def test_the_dashboard_bar_of_a_day_in_profit_uses_none_of_the_daily_limit(make_app):
    app, client, clock = day(make_app, ADMIN_TOKEN=TOKEN)
    mark(client, clock, 16525)  # +25 x 2 x 20 = +1000 open
    auth = {"Authorization": "Basic " + base64.b64encode(f"operator:{TOKEN}".encode()).decode()}
    html = client.get("/dashboard", headers=auth).get_data(as_text=True)
    row = re.search(r'data-account="FTMO-1">.*?</tr>', html, re.S).group(0)
    daily = re.search(r"data-daily-bar>(.*?)</td>", row, re.S).group(1)
    assert "1000.00 / 1000.00" not in daily and "0.00 / 1000.00 (0.0%)" in daily
    assert 'style="width: 0.0%"' in daily and "room 1000.00 · LEDGER + MARK open P&amp;L" in daily
    assert "<td data-day-pl>+1000.00</td>" in row and "<td data-equity>101000.00</td>" in row
    assert re.search(r"<td data-open-pl>\+1000.00 <span class=\"muted\">\(MARK\)</span>", row)
    accounts = client.get("/api/accounts", headers=auth).get_json()["accounts"]
    api = ftmo(accounts)
    assert (api["day_pl"], api["open_pl"], api["equity"], api["daily_room"], api["open_pl_source"]) == (
        1000.0, 1000.0, 101000.0, 1000.0, "MARK")


@pytest.fixture
def db_of():
    from sqlalchemy import text

    def reader(app):
        def scalar(sql: str):
            with app.extensions["db_engine"].connect() as connection:
                return connection.execute(text(sql)).scalar()
        return scalar
    return reader
