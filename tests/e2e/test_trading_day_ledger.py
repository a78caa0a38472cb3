"""A scripted trading day through the webhook, with an injected clock (SQLite and PostgreSQL).

Hand calculation from the contract specs (NQ: $20 per point) and the guide's Step 2 config
(FTMO program 1: $100,000, 1% risk, MAX_DAILY_LOSS 1000; FTMO's day starts at midnight
Europe/Prague, i.e. 23:00 UTC in March before the DST change):
- trade A: long 16500, stop 16475 -> 100000 x 1% / (25 x 20) = 2 contracts;
  exit at 16480: (16480 - 16500) x 2 x 20 = -800
- trade B: short 16400, stop 16425 -> 2 contracts; exit at 16410: -(16410 - 16400) x 2 x 20 = -400
- day P&L -1200 -> next entry REJECTED: "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
  (the guide's own example text); approved again from 23:00 UTC (00:00 Prague).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import text
from tests.e2e.scripted import Clock

WEBHOOK = "/api/automated-signals/webhook"



def post(client, payload):
    resp = client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def entry(trade_id, direction, entry_price, stop):
    return {"event_type": "ENTRY", "trade_id": trade_id, "direction": direction,
            "entry_price": entry_price, "stop_loss": stop, "symbol": "NQ1!"}


def ftmo(items):
    return next(i for i in items if i["firm_code"] == "FTMO" and i.get("program_id", 1) == 1)


def scripted_day(make_app, **overrides):
    app = make_app(ROUTE_TO_FIRMS="FTMO", **overrides)
    clock = Clock(datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc))
    app.extensions["execution_router"].clock = clock
    client = app.test_client()

    a = post(client, entry("20260310_150000000_BULLISH", "Bullish", 16500, 16475))
    assert ftmo(a["program_sizing"])["contracts"] == 2
    clock.now += timedelta(minutes=30)
    a_exit = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": "20260310_150000000_BULLISH", "exit_price": 16480})
    close = ftmo(a_exit["account_closes"])
    assert (close["contracts"], close["realized_pl"], close["price_source"], close["simulated"]) == (2, -800.0, "SIGNAL_EXIT_PRICE", True)

    clock.now += timedelta(minutes=30)
    b = post(client, entry("20260310_160000000_BEARISH", "Bearish", 16400, 16425))
    assert ftmo(b["account_breaches"])["status"] == "APPROVED"
    assert ftmo(b["account_states"])["day_pl"] == -800.0
    assert ftmo(b["program_sizing"])["contracts"] == 2
    clock.now += timedelta(minutes=30)
    b_exit = post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": "20260310_160000000_BEARISH", "exit_price": 16410})
    assert ftmo(b_exit["account_closes"])["realized_pl"] == -400.0
    return app, client, clock


def test_daily_loss_blocks_the_next_entry_until_the_firms_day_boundary(make_app):
    # Firm-wide FTMO_MAX_DAILY_LOSS removed so the per-program breach rule (FTMO_1_MAX_DAILY_LOSS) decides.
    app, client, clock = scripted_day(make_app, FTMO_MAX_DAILY_LOSS=None)

    clock.now = datetime(2026, 3, 10, 22, 59, tzinfo=timezone.utc)  # 23:59 in Prague: same day
    c = post(client, entry("20260310_235900000_BULLISH", "Bullish", 16500, 16475))
    breach = ftmo(c["account_breaches"])
    assert breach["status"] == "REJECTED" and breach["rule"] == "MAX_DAILY_LOSS"
    assert breach["reason"] == "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
    assert c["connector_results"] == [] and c["routed"] is False
    state = ftmo(c["account_states"])
    assert (state["day_pl"], state["total_pl"], state["realized_pl"], state["source"]) == (-1200.0, -1200.0, -1200.0, "LEDGER")
    assert state["trading_day_start"] == "2026-03-09T23:00:00+00:00"
    assert state["next_trading_day_start"] == "2026-03-10T23:00:00+00:00"
    assert state["simulated"] is True

    clock.now = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)  # 00:00 in Prague: a new day
    d = post(client, entry("20260311_000000000_BULLISH", "Bullish", 16500, 16475))
    assert ftmo(d["account_breaches"])["status"] == "APPROVED"
    assert ftmo(d["connector_results"])["reason"] == "GLOBAL_DRY_RUN_ENABLED"
    state = ftmo(d["account_states"])
    assert (state["day_pl"], state["total_pl"], state["drawdown"]) == (0.0, -1200.0, -1200.0)


def test_firm_wide_daily_loss_rejects_in_the_risk_check(make_app, db):
    app, client, clock = scripted_day(make_app)  # the guide's FTMO_MAX_DAILY_LOSS=1000.0 is set
    clock.now += timedelta(minutes=5)
    c = post(client, entry("20260310_173500000_BULLISH", "Bullish", 16500, 16475))
    risk = ftmo(c["risk_checks"])
    assert risk["status"] == "REJECTED" and risk["rule"] == "MAX_DAILY_LOSS"
    assert risk["reason"] == "Daily loss -1200.0 exceeds max_daily_loss 1000.0."
    assert c["program_sizing"] == [] and c["connector_results"] == []
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT kind, amount, simulated, contracts, price_source FROM account_events ORDER BY id")).all()
    assert [(r.kind, float(r.amount), bool(r.simulated), r.contracts, r.price_source) for r in rows] == [
        ("CLOSE", -800.0, True, 2, "SIGNAL_EXIT_PRICE"), ("CLOSE", -400.0, True, 2, "SIGNAL_EXIT_PRICE")]


def test_exit_without_price_uses_the_stop_or_is_marked_unknown(make_app):
    app = make_app(ROUTE_TO_FIRMS="FTMO", FTMO_MAX_DAILY_LOSS=None, FTMO_1_MAX_DAILY_LOSS=None)
    client = app.test_client()
    post(client, entry("T_SL", "Bullish", 16500, 16475))
    sl = post(client, {"event_type": "EXIT_SL", "trade_id": "T_SL"})
    close = ftmo(sl["account_closes"])
    assert (close["exit_price"], close["price_source"], close["realized_pl"]) == (16475.0, "ENTRY_STOP_LOSS", -1000.0)

    post(client, entry("T_BE", "Bullish", 16500, 16475))
    be = post(client, {"event_type": "EXIT_BE", "trade_id": "T_BE"})
    assert ftmo(be["account_closes"])["realized_pl"] == 0.0 and ftmo(be["account_closes"])["price_source"] == "ENTRY_PRICE"

    post(client, entry("T_TP", "Bullish", 16500, 16475))
    tp = post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": "T_TP"})
    close = ftmo(tp["account_closes"])
    assert close["realized_pl"] is None and close["pl_status"] == "UNKNOWN"
    assert "P&L UNKNOWN for 1 close(s)" in tp["details"]
    nxt = post(client, entry("T_NEXT", "Bullish", 16500, 16475))
    state = ftmo(nxt["account_states"])
    assert state["unknown_pl_closes"] == 1 and state["realized_pl"] == -1000.0
    assert "unknown P&L" in state["notes"][0]

    # The operator records the real fill: the close is settled and its P&L counted.
    app.extensions["execution_router"].accounts.adjust("FTMO", 1, Decimal("600"), actor="ops", reason="filled at 16515",
                                                        trade_id="T_TP")
    state = app.extensions["execution_router"].accounts.view("FTMO", 1).state
    assert state.unknown_pl_closes == 0 and state.total_pl == Decimal(-400) and state.notes == ()
