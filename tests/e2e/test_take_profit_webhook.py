"""Targets, entries without a stop and strategy names through the webhook, in dry-run, on SQLite
and PostgreSQL (the guide's Step 2 configuration: FTMO program 1 sizes 2, APEX program 1 sizes 3)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.conftest import GUIDE_PAYLOAD

WEBHOOK = "/api/automated-signals/webhook"
NO_STOP = {k: v for k, v in GUIDE_PAYLOAD.items() if k != "stop_loss"}


def post(client, payload):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json")


def count(db, table: str) -> int:
    return db.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def by_firm(items):
    return {i["firm_code"]: i for i in items}


# ---- the target -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields,price", [
    ({"take_profit": 16550}, 16550.0), ({"take_profit_points": "40"}, 16540.0), ({"take_profit_percent": 0.5}, 16582.5)])
def test_a_dry_run_entry_shows_its_resolved_target_in_each_order_it_would_have_sent(client, db, fields, price):
    body = post(client, dict(GUIDE_PAYLOAD, **fields)).get_json()
    results = by_firm(body["connector_results"])
    assert {f: (r["status"], r["details"]["take_profit"]) for f, r in results.items()} == {
        "FTMO": ("SKIPPED", price), "APEX": ("SKIPPED", price)}
    assert results["FTMO"]["details"]["stop_loss"] == 16475.0  # the stop is sent as before
    stored = db.execute(text("SELECT payload FROM execution_tasks")).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert {k: Decimal(str(stored[k])) for k in fields} == {k: Decimal(str(v)) for k, v in fields.items()}


@pytest.mark.parametrize("fields,field", [
    ({"take_profit": 16400}, "take_profit"),  # below a long entry: a second stop, not a target
    ({"take_profit": 16475}, "take_profit"),
    ({"take_profit_points": -40}, "take_profit_points"),
    ({"take_profit_percent": 250}, "take_profit_percent"),
    ({"take_profit": 16550, "take_profit_percent": 1}, "take_profit_percent"),
])
def test_a_target_on_the_wrong_side_or_not_one_is_a_400_naming_the_field_and_writes_nothing(client, db, fields, field):
    resp = post(client, dict(GUIDE_PAYLOAD, **fields))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]
    assert count(db, "execution_tasks") == 0 and count(db, "trade_positions") == 0


def test_a_short_target_below_the_entry_is_sent(client):
    short = dict(GUIDE_PAYLOAD, trade_id="T_SHORT", direction="Bearish", stop_loss=16525, take_profit_points=60)
    body = post(client, short).get_json()
    assert {r["details"]["take_profit"] for r in body["connector_results"]} == {16440.0}
    assert post(client, dict(short, trade_id="T_SHORT_2", take_profit=16560)).status_code == 400


# ---- an entry without a stop --------------------------------------------------------------------

def test_an_entry_without_a_stop_reaches_sizing_and_risk_sizing_refuses_it(client, db):
    resp = post(client, NO_STOP)
    assert resp.status_code == 200
    sizing = by_firm(resp.get_json()["program_sizing"])
    assert {f: (s["status"], s["rule"]) for f, s in sizing.items()} == {
        "FTMO": ("REJECTED", "MISSING_PRICE"), "APEX": ("REJECTED", "MISSING_PRICE")}
    assert "stop_loss" in sizing["FTMO"]["reason"]
    assert resp.get_json()["connector_results"] == [] and count(db, "trade_positions") == 0


def test_an_entry_without_a_stop_is_sent_only_by_a_program_that_allows_it(make_app, db_for):
    app = make_app(FTMO_1_SIZING_MODE="FIXED", FTMO_1_FIXED_CONTRACTS="1", FTMO_1_ALLOW_NO_STOP="true",
                   APEX_1_SIZING_MODE="ALERT")
    body = post(app.test_client(), dict(NO_STOP, contracts=2, take_profit_points=40)).get_json()
    sizing = by_firm(body["program_sizing"])
    assert (sizing["FTMO"]["status"], sizing["FTMO"]["contracts"], sizing["FTMO"]["details"]["stop_loss"]) == (
        "APPROVED", 1, None)
    assert (sizing["APEX"]["status"], sizing["APEX"]["rule"]) == ("REJECTED", "NO_STOP_LOSS")
    assert "APEX_1_ALLOW_NO_STOP=true" in sizing["APEX"]["reason"]
    (order,) = body["connector_results"]
    assert (order["firm_code"], order["details"]["stop_loss"], order["details"]["take_profit"]) == ("FTMO", None, 16540.0)
    rows = db_for(app).execute(text("SELECT firm_code, contracts_open, stop_price FROM trade_positions")).all()
    assert [tuple(r) for r in rows] == [("FTMO", 1, None)]


# ---- the strategy of an alert without a trade_id --------------------------------------------------

def tv(strategy: str, action: str, position: str, time: str, **extra):
    return {"strategy": strategy, "ticker": "NQ1!", "action": action, "market_position": position, "contracts": 1,
            "position_size": 1 if position != "flat" else 0, "price": 16500, "time": time, **extra}


def test_a_strategy_is_one_trade_whatever_the_case_of_its_name(client, db):
    """ROUTES matches strategy names case-insensitively; a trade must too, or an exit alert typed
    "FVG CORE" would leave the "FVG Core" trade open."""
    entry = post(client, tv("FVG Core", "buy", "long", "2026-01-05T14:30:00Z", stop_loss=16475)).get_json()
    assert entry["trade_id"] == "fvg_core:NQ:2026-01-05T14_30_00Z"
    repeat = post(client, tv("fvg core", "buy", "long", "2026-01-05T14:31:00Z", stop_loss=16475)).get_json()
    assert repeat["duplicate"] is True and repeat["trade_id"] == entry["trade_id"]  # no second trade
    flat = post(client, tv("FVG CORE", "sell", "flat", "2026-01-05T15:00:00Z")).get_json()
    assert flat["trade_id"] == entry["trade_id"] and flat["connector_results"]
    rows = db.execute(text("SELECT trade_id, status FROM trade_positions")).all()
    assert {tuple(r) for r in rows} == {(entry["trade_id"], "CLOSED")}


@pytest.fixture
def db_for():
    from tests.conftest import ShortLivedConnections

    return lambda app: ShortLivedConnections(app.extensions["db_engine"])
