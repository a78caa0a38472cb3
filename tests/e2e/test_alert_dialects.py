"""Alert dialects and trades without a trade_id, through the webhook on SQLite and PostgreSQL
(the guide's Step 2 configuration: FTMO program 1 sizes 2 contracts, APEX program 1 sizes 3)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

WEBHOOK = "/api/automated-signals/webhook"
LEGACY = "/api/live-signals"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traderspost"


def post(client, payload, path=WEBHOOK, **kwargs):
    return client.post(path, data=json.dumps(payload), content_type="text/plain", **kwargs)


def positions(db):
    rows = db.execute(text("SELECT trade_id, firm_code, program_id, side, contracts_opened, contracts_open, status "
                           "FROM trade_positions ORDER BY id")).all()
    return [tuple(r) for r in rows]


def count(db, table):
    return db.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def tv(action, position, time, price=16500, **extra):
    """A Pine strategy alert as the docs' template renders it."""
    body = {"strategy": "FVG Core", "ticker": "CME_MINI:NQ1!", "action": action, "market_position": position,
            "contracts": 1, "position_size": 1 if position != "flat" else 0, "price": price, "time": time}
    return {**body, **extra}


LONG = tv("buy", "long", "2026-01-05T14:30:00Z", stop_loss=16475)
FLAT_1 = tv("sell", "flat", "2026-01-05T15:00:00Z", price=16520)
SHORT = tv("sell", "short", "2026-01-05T16:00:00Z", stop_loss=16525)
REVERSAL = tv("buy", "long", "2026-01-05T17:00:00Z", price=16480, stop_loss=16455, contracts=2)
FLAT_2 = tv("sell", "flat", "2026-01-05T18:00:00Z", price=16490)
T1, T2, T3 = ("fvg_core:NQ:" + s for s in ("2026-01-05T14_30_00Z", "2026-01-05T16_00_00Z", "2026-01-05T17_00_00Z"))


def test_a_strategy_without_trade_ids_opens_closes_and_reverses_exactly_per_program(client, db):
    entry = post(client, LONG).get_json()
    assert entry["trade_id"] == T1 and entry["event_type"] == "SIGNAL_CREATED"
    assert positions(db) == [(T1, "FTMO", 1, "LONG", 2, 2, "OPEN"), (T1, "APEX", 1, "LONG", 3, 3, "OPEN")]
    flat = post(client, FLAT_1).get_json()
    assert flat["trade_id"] == T1 and flat["event_type"] == "EXIT"
    assert {c["firm_code"]: c["contracts"] for c in flat["account_closes"]} == {"FTMO": 2, "APEX": 3}
    post(client, SHORT)
    reversal = post(client, REVERSAL).get_json()
    assert reversal["reversal"] is True
    assert reversal["closed"]["trade_id"] == T2 and reversal["opened"]["trade_id"] == T3
    assert reversal["closed"]["task_id"] < reversal["opened"]["task_id"]  # closed first, then opened
    post(client, FLAT_2)
    assert positions(db) == [
        (T1, "FTMO", 1, "LONG", 2, 0, "CLOSED"), (T1, "APEX", 1, "LONG", 3, 0, "CLOSED"),
        (T2, "FTMO", 1, "SHORT", 2, 0, "CLOSED"), (T2, "APEX", 1, "SHORT", 3, 0, "CLOSED"),
        (T3, "FTMO", 1, "LONG", 2, 0, "CLOSED"), (T3, "APEX", 1, "LONG", 3, 0, "CLOSED"),
    ]
    raw = db.execute(text("SELECT payload FROM execution_tasks ORDER BY id LIMIT 1")).scalar_one()
    assert (json.loads(raw) if isinstance(raw, str) else raw)["market_position"] == "long"  # the body as sent


def test_every_tradingview_alert_sent_twice_runs_once(client, db):
    for alert in (LONG, FLAT_1, SHORT, REVERSAL, FLAT_2):
        first = post(client, alert)
        tasks, rows = count(db, "execution_tasks"), positions(db)
        again = post(client, alert)
        assert first.status_code == again.status_code == 200
        assert (count(db, "execution_tasks"), positions(db)) == (tasks, rows)
        assert again.get_json()["duplicate"] is True
    for alert in (LONG, FLAT_1, SHORT, REVERSAL, FLAT_2):  # and again, long after
        assert post(client, alert).get_json()["duplicate"] is True
    assert count(db, "execution_tasks") == 6 and len(positions(db)) == 6


def test_an_entry_on_the_side_already_held_never_opens_a_second_trade(client, db):
    post(client, LONG)
    repeat = post(client, dict(LONG, time="2026-01-05T14:31:00Z", price=16510)).get_json()
    assert repeat["trade_id"] == T1 and repeat["duplicate"] is True
    assert len(positions(db)) == 2


def test_a_reduction_closes_the_part_the_strategy_sold(client, db):
    post(client, dict(LONG, contracts=2, position_size=2))
    post(client, tv("sell", "long", "2026-01-05T14:40:00Z", contracts=1, position_size=1))  # sold 1 of 2
    assert [r[5] for r in positions(db)] == [1, 2]  # FTMO 2 -> 1, APEX 3 -> 2 (half, floored)


def test_an_exit_without_an_open_trade_is_recorded_and_sends_nothing(client, db):
    body = post(client, FLAT_1).get_json()
    assert body["connector_results"] == [] and body["details"].startswith("No open trade of strategy FVG_Core on NQ")
    assert count(db, "execution_tasks") == 1 and positions(db) == []


def test_a_late_flat_never_closes_the_side_a_reversal_opened_meanwhile(client, db):
    """Pine's close and the next entry fill on one bar; their alerts may be processed in either
    order. The flat's sell closed a long: a short opened first by the entry's reversal stays."""
    post(client, LONG)
    short = post(client, dict(SHORT, time=FLAT_1["time"], order_id="Short")).get_json()
    assert short["reversal"] is True
    late_flat = post(client, dict(FLAT_1, order_id="Long")).get_json()
    assert late_flat["connector_results"] == [] and "(long)" in late_flat["details"]
    assert {(r[3], r[6]) for r in positions(db)} == {("LONG", "CLOSED"), ("SHORT", "OPEN")}


def test_entries_are_routed_as_the_entry_type_configured(make_app):
    client = make_app(ENTRY_EVENT_TYPES="ENTRY").test_client()
    body = post(client, LONG).get_json()
    assert body["event_type"] == "ENTRY" and body["program_sizing"][0]["contracts"] == 2


def test_the_legacy_endpoint_has_the_same_contract(make_app):
    app = make_app(WEBHOOK_SECRET="s3cret")
    client = app.test_client()
    assert post(client, LONG, LEGACY).status_code == 401
    first = post(client, dict(LONG, secret="s3cret"), LEGACY)
    assert first.status_code == 200 and first.get_json()["trade_id"] == T1
    assert post(client, dict(LONG, secret="s3cret"), LEGACY).get_json()["duplicate"] is True
    assert post(client, dict(LONG, secret="s3cret"), WEBHOOK).get_json()["duplicate"] is True  # one key space
    bad = post(client, {"secret": "s3cret", "event_type": "SIGNAL_CREATED", "trade_id": "X"}, LEGACY)
    assert bad.status_code == 400 and "entry_price" in bad.get_json()["fields"]
    assert "/api/live-signals" in client.get("/openapi.json").get_json()["paths"]


def traderspost(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize("name,field", [
    ("enter_bullish", "ticker"), ("enter_bearish", "ticker"), ("exit", "ticker"), ("exit_bullish_flat", "ticker"),
    ("exit_bearish_flat", "ticker"), ("cancel", "action"), ("add", "action"), ("signal_message", "ticker"),
    ("stop_loss_amount", "ticker"), ("stop_loss_stop_price", "ticker"), ("take_profit_limit_price", "ticker"),
    ("custom_code_mnq", "entry_price"),
])
def test_the_traderspost_documentation_examples_are_read_as_documented(client, db, name, field):
    """Their stock tickers cannot be routed here, MNQ without a price cannot be sized: 400 naming it."""
    resp = post(client, traderspost(name))
    assert resp.status_code == 400 and field in resp.get_json()["fields"], resp.get_json()
    assert count(db, "execution_tasks") == 0


def test_a_traderspost_trade_on_a_future_opens_reverses_and_closes(client, db):
    """The documented bodies with a futures ticker, a price and a stop: their stop and target
    distances are read from the entry price; no `time`, so a resend is known by its body."""
    buy = dict(traderspost("stop_loss_amount"), ticker="MNQ1!", limitPrice=21000)
    entry = post(client, buy).get_json()
    assert entry["trade_id"].startswith("traderspost:MNQ:h")
    assert {r["details"]["stop_loss"] for r in entry["connector_results"]} == {20990.0}
    assert post(client, buy).get_json()["duplicate"] is True
    sell = dict(traderspost("signal_message"), action="sell", ticker="MNQ1!", signalPrice=21010, time="1767625200",
                stopLoss={"type": "stop", "percent": 0.05})  # 10.5 points above
    reversal = post(client, sell).get_json()
    assert reversal["closed"]["trade_id"] == entry["trade_id"] and reversal["opened"]["event_type"] == "SIGNAL_CREATED"
    assert {r[3] for r in positions(db) if r[6] == "OPEN"} == {"SHORT"}
    assert post(client, dict(traderspost("exit_bullish_flat"), ticker="MNQ1!")).get_json()["connector_results"] == []
    flat = dict(traderspost("exit_bearish_flat"), ticker="MNQ1!")  # buy + flat: closes the short
    closed = post(client, flat).get_json()
    assert closed["trade_id"] == reversal["opened"]["trade_id"] and closed["connector_results"]
    again = post(client, flat).get_json()  # nothing left open: recorded, nothing sent
    assert again["connector_results"] == [] and "No open trade" in again["details"]
    assert all(r[6] == "CLOSED" for r in positions(db))


def test_traderspost_take_profit_is_read_and_kept(client, db):
    body = dict(traderspost("take_profit_limit_price"), ticker="NQ1!", limitPrice=16500, stopLoss={"stopPrice": 16475},
                takeProfit={"limitPrice": 16550})
    result = post(client, body).get_json()
    assert result["program_sizing"][0]["contracts"] == 2
    assert {r["details"]["take_profit"] for r in result["connector_results"]} == {16550.0}  # each would-be order
    stored = db.execute(text("SELECT payload FROM execution_tasks")).scalar_one()
    assert (json.loads(stored) if isinstance(stored, str) else stored)["takeProfit"] == {"limitPrice": 16550}
    below = post(client, dict(body, time="2", takeProfit={"limitPrice": 110}))  # the docs' stock target, under NQ
    assert below.status_code == 400 and "above entry_price" in below.get_json()["fields"]["take_profit"]


@pytest.mark.parametrize("body,field,expected", [
    ({"hello": "world"}, "body", "expected `event_type`"),
    ({"event_type": "SIGNAL_CREATED", "market_position": "long"}, "body", "ambiguous"),
    ({"ticker": "NQ", "action": "buy", "market_position": "long", "sentiment": "long"}, "body", "ambiguous"),
    ({"dialect": "pickmytrade", "ticker": "NQ"}, "dialect", "expected one of ours, tradingview, traderspost"),
    (tv("hold", "long", "1"), "action", "must be one of buy, sell"),
    (tv("sell", "long", "1", position_size=None), "position_size", "needs `contracts` and `position_size`"),
    ({"ticker": "NQ", "action": "buy", "sentiment": "short", "price": 1}, "sentiment", "contradicts"),
])
def test_an_ambiguous_or_unknown_body_is_a_400_naming_what_was_expected(client, db, body, field, expected):
    resp = post(client, body)
    assert resp.status_code == 400 and expected in resp.get_json()["fields"][field]
    assert count(db, "execution_tasks") == 0


def test_an_indicator_batch_without_a_trade_id_is_recorded_against_each_trade(client, db):
    batch = {"event_type": "MFE_UPDATE_BATCH", "signals": [{"trade_id": "A", "be_mfe": 1.5}, {"trade_id": "B", "be_mfe": 2}]}
    body = post(client, batch).get_json()
    assert body["batch"] == 2 and [r["trade_id"] for r in body["results"]] == ["A", "B"]
    rows = db.execute(text("SELECT trade_id, event_type FROM execution_tasks ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("A", "MFE_UPDATE"), ("B", "MFE_UPDATE")]
    assert all(r["duplicate"] for r in post(client, batch).get_json()["results"])
    assert count(db, "execution_tasks") == 2
    bad = post(client, {"event_type": "MFE_UPDATE_BATCH", "signals": [{"trade_id": "A"}, {"be_mfe": 1}]})
    assert bad.status_code == 400 and "signals.1.trade_id" in bad.get_json()["fields"]
    assert count(db, "execution_tasks") == 2
