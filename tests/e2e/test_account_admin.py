"""Operator controls over HTTP (/api/admin/accounts) and the `flask account` CLI group."""
from __future__ import annotations

import json

import pytest
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

    monkeypatch.setattr(account_admin, "account_state", database_gone)
    resp = post_json(client, f"{BASE}/FTMO/1/adjustments", {"amount": -25, "by": "ops", "reason": "fees"})
    body = resp.get_json()
    assert resp.status_code == 201 and body["account"] is None and "Do not resend" in body["warning"]
    assert [(kind, float(amount)) for kind, amount, _, _ in events(app)] == [("ADJUSTMENT", -25.0)]


# -- the CLI refuses what the API refuses, in one line naming the argument --------------------------

def one_line_refusal(result, argument: str) -> str:
    """The refusal is a usage error (exit 2) printed as the single line `Error: <argument>: ...`."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith('{"ts"')]  # not logs
    assert len(lines) == 1 and lines[0].startswith(f"Error: {argument}: "), result.output
    return lines[0]


ADJUST = ["account", "adjust", "FTMO", "1", "--reason", "fees"]
SET_BALANCE = ["account", "set-balance", "FTMO", "1", "--reason", "size"]


@pytest.mark.parametrize(("args", "argument", "message"), [
    pytest.param([*ADJUST, "--", "1e400"], "amount", "between", id="amount-1e400"),
    pytest.param([*ADJUST, "--", "99999999999999999999"], "amount", "between", id="amount-20-digits"),
    pytest.param([*ADJUST, "--", "1e20"], "amount", "between", id="amount-1e20"),
    pytest.param([*ADJUST, "--", "-1000000000"], "amount", "between", id="amount-minus-a-billion"),
    pytest.param([*ADJUST, "--", "NaN"], "amount", "finite", id="amount-nan"),
    pytest.param([*ADJUST, "--", "-Infinity"], "amount", "finite", id="amount-infinity"),
    pytest.param([*ADJUST, "--", "0.0000001"], "amount", "decimal places", id="amount-7-places"),
    pytest.param([*ADJUST, "--", "ten"], "amount", "decimal", id="amount-not-a-number"),
    pytest.param([*ADJUST, "--", "0"], "amount", "non-zero", id="amount-zero-without-trade"),
    pytest.param([*SET_BALANCE, "1e400"], "balance", "between", id="balance-1e400"),
    pytest.param([*SET_BALANCE, "99999999999999999999"], "balance", "between", id="balance-20-digits"),
    pytest.param([*SET_BALANCE, "NaN"], "balance", "finite", id="balance-nan"),
    pytest.param([*SET_BALANCE, "--", "-5"], "balance", "greater than 0", id="balance-negative"),
    pytest.param([*ADJUST, "--trade-id", "T\x009", "--", "5"], "--trade-id", "letters, digits", id="trade-id-nul"),
    pytest.param([*ADJUST, "--trade-id", "T" * 256, "--", "5"], "--trade-id", "1-255", id="trade-id-too-long"),
    pytest.param([*ADJUST, "--trade-id", "T 9", "--", "5"], "--trade-id", "letters, digits", id="trade-id-space"),
    pytest.param([*ADJUST, "--trade-id", "T9;--", "--", "5"], "--trade-id", "letters, digits", id="trade-id-semicolon"),
    pytest.param([*ADJUST, "--trade-id", "", "--", "5"], "--trade-id", "letters, digits", id="trade-id-empty"),
    pytest.param(["account", "adjust", "FTMO", "1", "5", "--reason", "r" * 1001], "--reason", "1000", id="reason-too-long"),
    pytest.param(["account", "adjust", "FTMO", "1", "5", "--reason", "fees\x00"], "--reason", "NUL", id="reason-nul"),
    pytest.param(["account", "new-day", "FTMO", "1", "--reason", "   "], "--reason", "pattern", id="reason-blank"),
    pytest.param(["account", "new-day", "FTMO", "1", "--reason", "r", "--by", "b" * 129], "--by", "128", id="by-too-long"),
    pytest.param(["account", "new-day", "FTMO", "1", "--reason", "r", "--by", "ops\x00"], "--by", "NUL", id="by-nul"),
    pytest.param(["account", "adjust", "FT/MO", "1", "5", "--reason", "r"], "firm_code", "letters, digits", id="firm-slash"),
    pytest.param(["account", "new-day", "F" * 33, "1", "--reason", "r"], "firm_code", "1-32", id="firm-too-long"),
    pytest.param(["account", "new-day", "NOPE", "1", "--reason", "r"], "firm_code", "not configured", id="firm-not-routed"),
    pytest.param(["account", "adjust", "FTMO", "one", "5", "--reason", "r"], "program_id", "whole number", id="program-word"),
    pytest.param(["account", "new-day", "FTMO", "1.0", "--reason", "r"], "program_id", "whole number", id="program-decimal"),
    pytest.param(["account", "new-day", "--reason", "r", "--", "FTMO", "-1"], "program_id", "whole number",
                 id="program-negative"),
    pytest.param(["account", "new-day", "FTMO", "99999999999999999999", "--reason", "r"], "program_id", "1000000",
                 id="program-huge"),
    pytest.param(["account", "new-day", "FTMO", "9", "--reason", "r"], "program_id", "not configured", id="program-unknown"),
    pytest.param(["account", "show", "FTMO", "x"], "program_id", "whole number", id="show-program-word"),
    pytest.param(["account", "show", "FTMO", "1", "--events", "-1"], "--events", "whole number", id="show-events-negative"),
    pytest.param(["account", "show", "FTMO", "1", "--events", "501"], "--events", "500", id="show-events-too-many"),
])
def test_cli_refuses_bad_arguments_in_one_line_and_records_nothing(make_app, args, argument, message):
    app = make_app()
    result = app.test_cli_runner().invoke(args=args)
    assert message in one_line_refusal(result, argument)
    assert events(app) == []


def test_cli_accepts_the_bounds_and_a_webhook_trade_id(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    for args in ([*SET_BALANCE, "999999999.999999"], [*ADJUST, "--", "-999999999.999999"],
                 [*ADJUST, "--trade-id", " 20251209_100400000_BULLISH ", "--", "0"],
                 ["account", "new-day", "ftmo", "1", "--reason", "r" * 1000, "--by", "b" * 128]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0 and "\nRecorded " in f"\n{result.output}", (args, result.output)
    shown = runner.invoke(args=["account", "show", "ftmo", "1", "--events", "0"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["recent_events"] == []
    assert [(r.kind, float(r.amount) if r.amount is not None else None) for r in events(app)] == [
        ("SET_BALANCE", 999999999.999999), ("ADJUSTMENT", -999999999.999999), ("ADJUSTMENT", 0.0), ("NEW_DAY", None)]
    with app.extensions["db_engine"].begin() as conn:
        assert conn.execute(text("SELECT trade_id FROM account_events WHERE trade_id IS NOT NULL")).scalar_one() == (
            "20251209_100400000_BULLISH")


@pytest.mark.parametrize(("url", "body", "field"), [
    pytest.param("adjustments", {"amount": "1e400"}, "amount", id="amount-1e400-text"),
    pytest.param("adjustments", {"amount": 1e20}, "amount", id="amount-1e20"),
    pytest.param("adjustments", {"amount": 99999999999999999999}, "amount", id="amount-20-digits"),
    pytest.param("adjustments", {"amount": "NaN"}, "amount", id="amount-nan"),
    pytest.param("adjustments", {"amount": 5, "trade_id": "T 9"}, "trade_id", id="trade-id-space"),
    pytest.param("adjustments", {"amount": 5, "trade_id": "T" * 256}, "trade_id", id="trade-id-too-long"),
    pytest.param("adjustments", {"amount": 5, "reason": "r" * 1001}, "reason", id="reason-too-long"),
    pytest.param("balance", {"balance": "1e400"}, "balance", id="balance-1e400"),
])
def test_the_api_refuses_what_the_cli_refuses(make_app, url, body, field):
    app = make_app(ADMIN_TOKEN=TOKEN)
    resp = post_json(app.test_client(), f"{BASE}/FTMO/1/{url}", {"by": "ops", "reason": "r", **body})
    assert resp.status_code == 400 and field in resp.get_json()["fields"], resp.get_json()
    assert events(app) == []


def test_the_api_names_a_malformed_account_path_with_a_404(make_app):
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    resp = post_json(client, f"{BASE}/{'F' * 33}/1/new-day", {"by": "ops", "reason": "r"})
    assert resp.status_code == 404 and "firm_code" in resp.get_json()["fields"]
    resp = client.get(f"{BASE}/FTMO/0", headers=AUTH)
    assert resp.status_code == 404 and "program_id" in resp.get_json()["fields"]
    assert events(app) == []


def test_deeply_nested_admin_bodies_are_400_too_deeply_nested_and_change_nothing(make_app):
    """The admin endpoints read bodies like the webhook: nesting past the limit is refused before parsing."""
    app = make_app(ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    deep = '{"amount": -5, "by": "ops", "reason": "fees", "x": ' + "[" * 1_000 + "]" * 1_000 + "}"
    for url in (f"{BASE}/FTMO/1/adjustments", f"{BASE}/FTMO/1/balance", "/api/admin/trading-state"):
        resp = client.post(url, data=deep, content_type="application/json", headers=AUTH)
        assert resp.status_code == 400, (url, resp.get_json())
        assert resp.get_json()["error"] == "too_deeply_nested" and "body" in resp.get_json()["fields"]
    assert events(app) == []
    assert client.get("/api/admin/trading-state", headers=AUTH).get_json()["trading_state"] == "ACTIVE"
