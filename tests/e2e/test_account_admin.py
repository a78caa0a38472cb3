"""Operator controls over HTTP (/api/admin/accounts) and the `flask account` CLI group."""
from __future__ import annotations

import json

from sqlalchemy import text

from tests.conftest import GUIDE_PAYLOAD

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/api/admin/accounts"


def events(app):
    with app.extensions["db_engine"].begin() as conn:
        return conn.execute(text("SELECT kind, amount, actor, reason FROM account_events ORDER BY id")).all()


def post_json(client, url, body, headers=AUTH):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def test_admin_endpoints_need_the_token(make_app):
    closed = make_app().test_client()
    assert closed.get(BASE, headers=AUTH).status_code == 403  # no ADMIN_TOKEN: disabled, not open
    client = make_app(ADMIN_TOKEN=TOKEN).test_client()
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer wrong"}).status_code == 401
    resp = post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": -5, "by": "x", "reason": "y"}, headers={})
    assert resp.status_code == 401


def test_set_balance_adjust_and_new_day_are_audited_and_feed_the_checks(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN, ROUTE_TO_FIRMS="FTMO", FTMO_MAX_DAILY_LOSS=None)
    client = app.test_client()
    listed = client.get(BASE, headers=AUTH).get_json()["accounts"]
    assert [(a["firm_code"], a["program_id"], a["starting_balance"]) for a in listed] == [("FTMO", 1, 100000.0)]

    resp = post_json(client, f"{BASE}/ftmo/1/balance", {"balance": "50000", "by": "alice", "reason": "funded account size"})
    assert resp.status_code == 201
    assert resp.get_json()["account"]["starting_balance"] == 50000.0
    assert resp.get_json()["account"]["starting_balance_source"] == "SET_BALANCE"

    resp = post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": -1000.5, "by": "bob", "reason": "manual trade at the broker"})
    assert resp.status_code == 201 and resp.get_json()["account"]["day_pl"] == -1000.5
    body = client.post("/api/automated-signals/webhook", data=json.dumps(GUIDE_PAYLOAD), content_type="application/json").get_json()
    assert body["account_breaches"][0]["reason"] == "Daily loss -1000.5 exceeds max_daily_loss 1000.0."

    assert post_json(client, f"{BASE}/FTMO/1/new-day", {"by": "carol", "reason": "firm reset the day"}).status_code == 201
    again = dict(GUIDE_PAYLOAD, trade_id="20251122_150000000_BULLISH")
    body = client.post("/api/automated-signals/webhook", data=json.dumps(again), content_type="application/json").get_json()
    assert body["account_breaches"][0]["status"] == "APPROVED"

    shown = client.get(f"{BASE}/FTMO/1", headers=AUTH).get_json()
    assert [(e["kind"], e["actor"]) for e in shown["recent_events"]] == [
        ("SET_BALANCE", "alice"), ("ADJUSTMENT", "bob"), ("NEW_DAY", "carol")]
    assert [(r.kind, r.actor, r.reason) for r in events(app)] == [
        ("SET_BALANCE", "alice", "funded account size"), ("ADJUSTMENT", "bob", "manual trade at the broker"),
        ("NEW_DAY", "carol", "firm reset the day")]


def test_bad_input_names_the_field_and_changes_nothing(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    cases = [
        (f"{BASE}/FTMO/1/adjustments", {"amount": "abc", "by": "a", "reason": "r"}, "amount"),
        (f"{BASE}/FTMO/1/adjustments", {"amount": 10, "by": "a"}, "reason"),
        (f"{BASE}/FTMO/1/adjustments", {"amount": 10, "by": " ", "reason": "r"}, "by"),
        (f"{BASE}/FTMO/1/adjustments", {"amount": True, "by": "a", "reason": "r"}, "amount"),
        (f"{BASE}/FTMO/1/balance", {"balance": -5, "by": "a", "reason": "r"}, "balance"),
        (f"{BASE}/FTMO/1/balance", {"balance": 5, "by": "a", "reason": "r", "extra": 1}, "extra"),
    ]
    for url, body, field in cases:
        resp = post_json(client, url, body)
        assert resp.status_code == 400, (body, resp.get_json())
        assert field in resp.get_json()["fields"], (body, resp.get_json())
    assert post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": 0, "by": "a", "reason": "r"}).status_code == 400
    resp = client.post(f"{BASE}/FTMO/1/adjustments", data="not json", headers=AUTH)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_json"
    assert post_json(client, f"{BASE}/FTMO/7/adjustments", {"amount": 1, "by": "a", "reason": "r"}).status_code == 404
    assert client.get(f"{BASE}/NOPE/1", headers=AUTH).status_code == 404
    assert events(app) == []


def test_cli_account_commands(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["account", "set-balance", "FTMO", "1", "150000", "--by", "alice", "--reason", "upgrade"])
    assert out.exit_code == 0, out.output
    assert "Recorded SET_BALANCE" in out.output and "alice" in out.output
    out = runner.invoke(args=["account", "adjust", "FTMO", "1", "--reason", "fees", "--", "-42.5"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["account", "new-day", "FTMO", "1", "--reason", "manual reset"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["account", "show", "FTMO", "1"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["starting_balance"] == 150000.0 and shown["adjustments"] == -42.5 and shown["total_pl"] == -42.5
    assert shown["recent_events"][1]["actor"].startswith("cli")
    out = runner.invoke(args=["account", "adjust", "FTMO", "1", "5"])  # no --reason
    assert out.exit_code != 0 and "--reason" in out.output
    out = runner.invoke(args=["account", "show", "FTMO", "9"])
    assert out.exit_code != 0 and "not configured" in out.output
    out = runner.invoke(args=["account", "adjust", "FTMO", "1", "0", "--reason", "flat"])
    assert out.exit_code != 0 and "non-zero" in out.output
    out = runner.invoke(args=["account", "adjust", "FTMO", "1", "0", "--trade-id", "T9", "--reason", "exit was flat"])
    assert out.exit_code == 0, out.output
    assert [(r.kind, r.reason) for r in events(app)][1:] == [
        ("ADJUSTMENT", "fees"), ("NEW_DAY", "manual reset"), ("ADJUSTMENT", "exit was flat")]
    with app.extensions["db_engine"].begin() as conn:
        assert conn.execute(text("SELECT trade_id FROM account_events ORDER BY id DESC LIMIT 1")).scalar_one() == "T9"


def test_text_postgresql_cannot_store_is_a_400_naming_it_not_a_500(make_app):
    """A NUL character passes the field patterns but PostgreSQL refuses it: answered 400 up front."""
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    resp = post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": -5, "by": "ops", "reason": "fees\u0000"})
    assert resp.status_code == 400 and "reason" in resp.get_json()["fields"]["body"]
    resp = post_json(client, "/api/admin/trading-state", {"state": "HALTED", "reason": "news\u0000"})
    assert resp.status_code == 400 and "reason" in resp.get_json()["fields"]["body"]
    assert events(app) == []
    assert client.get("/api/admin/trading-state", headers=AUTH).get_json()["trading_state"] == "ACTIVE"


def test_a_change_whose_account_cannot_be_read_back_is_201_and_says_not_to_resend(make_app, monkeypatch):
    """The event is committed before the account is read back: if that read fails, a 503 ("resend")
    would book the change twice."""
    from sqlalchemy.exc import OperationalError

    import web.account_admin as account_admin

    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT ...", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(account_admin, "_state", database_gone)
    resp = post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": -25, "by": "ops", "reason": "fees"})
    body = resp.get_json()
    assert resp.status_code == 201 and body["account"] is None and "Do not resend" in body["warning"]
    assert [(kind, float(amount)) for kind, amount, _, _ in events(app)] == [("ADJUSTMENT", -25.0)]
