"""Issue 6 through the Flask client on SQLite and PostgreSQL: authentication, source allow-list,
idempotency, trading state, velocity/streak limits, the OpenAPI document."""
from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import text

from database import ExecutionRepository
from tests.conftest import GUIDE_PAYLOAD
from web.json_body import MAX_JSON_DEPTH

WEBHOOK = "/api/automated-signals/webhook"
TRADINGVIEW_IP = "52.89.214.238"


def post(client, payload, **kwargs):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **kwargs)


def count(db, table: str) -> int:
    return db.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def by_firm(items):
    return {(i["firm_code"], i.get("program_id")): i for i in items}


def counts(app) -> tuple[int, int, int]:
    with app.extensions["db_engine"].begin() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("execution_tasks", "execution_logs", "trade_positions"))


# -- authentication --------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["secret", "passphrase", "query", "header"])
def test_secret_accepted_from_body_query_or_header_and_never_stored(make_app, how):
    app = make_app(WEBHOOK_SECRET="s3cr3t-value")
    client = app.test_client()
    payload, kwargs = dict(GUIDE_PAYLOAD), {}
    if how in ("secret", "passphrase"):
        payload[how] = "s3cr3t-value"
    elif how == "query":
        kwargs["query_string"] = {"token": "s3cr3t-value"}
    else:
        kwargs["headers"] = {"X-Webhook-Secret": "s3cr3t-value"}
    resp = post(client, payload, **kwargs)
    assert resp.status_code == 200
    assert "s3cr3t-value" not in resp.get_data(as_text=True)
    with app.extensions["db_engine"].begin() as conn:
        stored = conn.execute(text("SELECT payload FROM execution_tasks")).scalar_one()
        logged = conn.execute(text("SELECT response_body FROM execution_logs")).scalar_one()
    assert "s3cr3t-value" not in json.dumps(stored) + json.dumps(logged)


@pytest.mark.parametrize("secret", [None, "wrong", "", 12345])
def test_missing_or_wrong_secret_is_401_json_and_writes_nothing(make_app, secret):
    app = make_app(WEBHOOK_SECRET="s3cr3t-value")
    payload = dict(GUIDE_PAYLOAD) if secret is None else dict(GUIDE_PAYLOAD, secret=secret)
    resp = post(app.test_client(), payload)
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"
    assert counts(app) == (0, 0, 0)


# -- source allow-list and trusted proxies ---------------------------------------------------------

def test_allow_list_preset_admits_tradingview_and_refuses_others(make_app):
    app = make_app(WEBHOOK_ALLOWED_IPS="tradingview")
    client = app.test_client()
    ok = post(client, GUIDE_PAYLOAD, environ_base={"REMOTE_ADDR": TRADINGVIEW_IP})
    assert ok.status_code == 200
    refused = post(client, dict(GUIDE_PAYLOAD, trade_id="T2"), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden_source"
    assert counts(app)[0] == 1


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    app = make_app(WEBHOOK_ALLOWED_IPS="tradingview")
    resp = post(app.test_client(), GUIDE_PAYLOAD, environ_base={"REMOTE_ADDR": "203.0.113.9"},
                headers={"X-Forwarded-For": TRADINGVIEW_IP})
    assert resp.status_code == 403  # a forged header does not get past the allow-list


def test_trusted_proxy_count_takes_the_client_from_forwarded_for(make_app):
    app = make_app(WEBHOOK_ALLOWED_IPS="tradingview,10.1.2.0/24", TRUSTED_PROXY_COUNT="1")
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.5"}  # e.g. Railway's edge, itself not allowed
    ok = post(client, GUIDE_PAYLOAD, environ_base=proxy, headers={"X-Forwarded-For": f"198.51.100.1, {TRADINGVIEW_IP}"})
    assert ok.status_code == 200
    # With one trusted proxy only the last entry counts; a spoofed first entry does not help.
    spoofed = post(client, dict(GUIDE_PAYLOAD, trade_id="T2"), environ_base=proxy,
                   headers={"X-Forwarded-For": f"{TRADINGVIEW_IP}, 198.51.100.1"})
    assert spoofed.status_code == 403


@pytest.mark.parametrize("env,variable", [
    ({"WEBHOOK_ALLOWED_IPS": "tradingveiw"}, "WEBHOOK_ALLOWED_IPS"),
    ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
    ({"STUCK_TASK_SECONDS": "0"}, "STUCK_TASK_SECONDS"),
    ({"FTMO_MAX_ORDERS_PER_MINUTE": "0"}, "FTMO_MAX_ORDERS_PER_MINUTE"),
    ({"FTMO_1_MAX_CONSECUTIVE_LOSSES": "x"}, "FTMO_1_MAX_CONSECUTIVE_LOSSES"),
])
def test_invalid_safety_settings_name_the_variable(make_settings, env, variable):
    from config import ConfigError

    with pytest.raises(ConfigError, match=variable):
        make_settings(**env)


# -- idempotency -----------------------------------------------------------------------------------

def test_resent_signal_returns_the_first_result_marked_duplicate(client, db):
    first = post(client, GUIDE_PAYLOAD).get_json()
    again = post(client, dict(GUIDE_PAYLOAD, event_type="signal_created"))
    assert again.status_code == 200
    body = again.get_json()
    assert body.pop("duplicate") is True and "duplicate" not in first
    assert body == first
    assert count(db, "execution_tasks") == 1 and count(db, "trade_positions") == 2


def _exit_fails_once(app) -> None:
    """The router's exit processing raises on its first call only (a transient failure)."""
    router = app.extensions["execution_router"]
    real = router.process_exit
    calls = []

    def flaky(task_id, signal, db, **resend):
        calls.append(task_id)
        if len(calls) == 1:
            raise RuntimeError("ledger briefly unavailable")
        return real(task_id, signal, db, **resend)

    router.process_exit = flaky


def test_resent_exit_whose_first_attempt_failed_runs_again_once(app, client, db):
    post(client, GUIDE_PAYLOAD)
    _exit_fails_once(app)
    exit_signal = {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16475.0}
    failed = post(client, exit_signal).get_json()
    assert failed["error"].startswith("RuntimeError")
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions")).scalar_one() == 5  # nothing closed
    retried = post(client, exit_signal).get_json()  # TradingView's resend: the exit is not lost
    assert "duplicate" not in retried and "error" not in retried
    assert sorted(r["details"]["contracts"] for r in retried["connector_results"]) == [2, 3]
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions")).scalar_one() == 0
    again = post(client, exit_signal).get_json()  # a further resend gets the successful retry's result
    assert again["duplicate"] is True and again["task_id"] == retried["task_id"]
    assert count(db, "execution_tasks") == 3  # entry, failed exit, its one retry


def test_resent_entry_whose_first_attempt_failed_is_not_retried(app, client, db):
    router = app.extensions["execution_router"]
    real = router.process_entry
    router.process_entry = lambda *args: (_ for _ in ()).throw(RuntimeError("boom"))
    failed = post(client, GUIDE_PAYLOAD).get_json()
    router.process_entry = real
    again = post(client, GUIDE_PAYLOAD).get_json()
    assert again["duplicate"] is True and again["task_id"] == failed["task_id"] and again["error"]
    assert count(db, "trade_positions") == 0  # a failed entry is never sent late


def test_exit_alias_is_the_same_signal(client, db):
    post(client, GUIDE_PAYLOAD)
    first = post(client, {"event_type": "EXIT_SL", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    again = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert again["duplicate"] is True and again["task_id"] == first["task_id"]
    assert count(db, "execution_tasks") == 2


def test_mfe_updates_with_new_values_are_new_signals_but_exact_resends_are_not(client, db):
    one = {"event_type": "MFE_UPDATE", "trade_id": "T1", "be_mfe": 1.0, "event_timestamp": "2025-11-22 14:31:00"}
    two = dict(one, be_mfe=1.5, event_timestamp="2025-11-22 14:32:00")
    a, b, a_again = (post(client, p).get_json() for p in (one, two, one))
    assert "duplicate" not in a and "duplicate" not in b and a["task_id"] != b["task_id"]
    assert a_again["duplicate"] is True and a_again["task_id"] == a["task_id"]
    assert count(db, "execution_tasks") == 2


def test_idempotency_key_header_decides(client, db):
    first = post(client, GUIDE_PAYLOAD, headers={"Idempotency-Key": "alert-42"}).get_json()
    # Same header, different trade: the sender said it is the same request.
    again = post(client, dict(GUIDE_PAYLOAD, trade_id="OTHER"), headers={"Idempotency-Key": "alert-42"}).get_json()
    assert again["duplicate"] is True and again["task_id"] == first["task_id"]
    assert count(db, "execution_tasks") == 1


@pytest.mark.parametrize("header", ["", " ", "x" * 201, "bad\x01key"])
def test_bad_idempotency_key_is_400_and_writes_nothing(client, db, header):
    resp = post(client, GUIDE_PAYLOAD, headers={"Idempotency-Key": header})
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["fields"]
    assert count(db, "execution_tasks") == 0


def test_copy_arriving_while_the_first_still_runs_gets_409(app, client, db, monkeypatch):
    import web.signal_flow

    monkeypatch.setattr(web.signal_flow, "DUPLICATE_WAIT_SECONDS", 0.2)
    repo = ExecutionRepository(app.extensions["db_engine"])
    key = f"{GUIDE_PAYLOAD['trade_id']}:SIGNAL_CREATED"
    task_id = repo.create_task(GUIDE_PAYLOAD["trade_id"], "SIGNAL_CREATED", GUIDE_PAYLOAD, idempotency_key=key)
    repo.set_task_status(task_id, "PROCESSING")  # the first copy, still running in another worker
    resp = post(client, GUIDE_PAYLOAD)
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "duplicate_in_progress" and resp.get_json()["task_id"] == task_id
    assert count(db, "execution_tasks") == 1 and count(db, "trade_positions") == 0


# -- trading state ---------------------------------------------------------------------------------

def set_state(app, state: str) -> None:
    result = app.test_cli_runner().invoke(args=["trading-state", state])
    assert result.exit_code == 0, result.output
    assert f"-> {state.upper()}" in result.output


def test_halted_records_the_signal_but_sends_nothing(app, client, db):
    set_state(app, "halted")
    resp = post(client, GUIDE_PAYLOAD)
    body = resp.get_json()
    assert resp.status_code == 200 and body["trading_state"] == "HALTED" and body["routed"] is False
    assert {(r["status"], r["reason"]) for r in body["connector_results"]} == {("SKIPPED", "TRADING_HALTED")}
    assert body["details"].startswith("Trading is HALTED")
    assert count(db, "execution_tasks") == 1 and count(db, "trade_positions") == 0
    assert client.get("/health").get_json()["trading_state"] == "HALTED"


def test_reducing_blocks_entries_but_lets_exits_close(app, client, db):
    post(client, GUIDE_PAYLOAD)  # opened while ACTIVE
    set_state(app, "REDUCING")
    entry = post(client, dict(GUIDE_PAYLOAD, trade_id="T2")).get_json()
    assert {r["reason"] for r in entry["connector_results"]} == {"TRADING_REDUCING"}
    exit_ = post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert exit_["trading_state"] == "REDUCING"
    assert {r["reason"] for r in exit_["connector_results"]} == {"GLOBAL_DRY_RUN_ENABLED"}
    assert db.execute(text("SELECT COUNT(*), SUM(contracts_open) FROM trade_positions")).one() == (2, 0)


def test_halted_blocks_exits_and_keeps_positions_open(app, client, db):
    post(client, GUIDE_PAYLOAD)
    set_state(app, "HALTED")
    exit_ = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert {r["reason"] for r in exit_["connector_results"]} == {"TRADING_HALTED"}
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions")).scalar_one() == 5


def test_every_result_and_health_carry_the_trading_state(client):
    assert post(client, GUIDE_PAYLOAD).get_json()["trading_state"] == "ACTIVE"
    assert post(client, {"event_type": "MFE_UPDATE", "trade_id": "X", "be_mfe": 1}).get_json()["trading_state"] == "ACTIVE"
    assert client.get("/health").get_json()["trading_state"] == "ACTIVE"


def test_admin_api_switches_state_with_bearer_token(make_app):
    app = make_app(ADMIN_TOKEN="adm1n-token")
    client = app.test_client()
    url = "/api/admin/trading-state"
    assert client.post(url, json={"state": "HALTED"}).status_code == 401
    assert client.post(url, json={"state": "HALTED"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": "Bearer adm1n-token"}
    bad = client.post(url, json={"state": "PAUSED"}, headers=auth)
    assert bad.status_code == 400 and "state" in bad.get_json()["fields"]
    ok = client.post(url, json={"state": "halted", "reason": "FOMC"}, headers=auth)
    assert ok.status_code == 200 and ok.get_json() == {"trading_state": "HALTED", "previous": "ACTIVE", "reason": "FOMC"}
    assert client.get(url, headers=auth).get_json()["reason"] == "FOMC"
    body = post(client, GUIDE_PAYLOAD).get_json()
    assert {r["reason"] for r in body["connector_results"]} == {"TRADING_HALTED"}
    assert client.post(url, json={"state": "ACTIVE"}, headers=auth).get_json()["previous"] == "HALTED"


def test_admin_api_is_closed_without_admin_token(client):
    assert client.post("/api/admin/trading-state", json={"state": "HALTED"}).status_code == 403


# -- velocity and streak limits --------------------------------------------------------------------

def test_velocity_limit_rejects_entries_over_the_per_minute_cap(make_app):
    app = make_app(FTMO_MAX_ORDERS_PER_MINUTE="1")
    client = app.test_client()
    first = post(client, GUIDE_PAYLOAD).get_json()
    assert first["safety_checks"] == []
    second = post(client, dict(GUIDE_PAYLOAD, trade_id="T2")).get_json()
    ftmo = by_firm(second["connector_results"])[("FTMO", 1)]
    assert (ftmo["status"], ftmo["reason"], ftmo["rule"]) == ("SKIPPED", "MAX_ORDERS_PER_MINUTE", "MAX_ORDERS_PER_MINUTE")
    assert [c["rule"] for c in second["safety_checks"]] == ["MAX_ORDERS_PER_MINUTE"]
    assert by_firm(second["connector_results"])[("APEX", 1)]["reason"] == "GLOBAL_DRY_RUN_ENABLED"  # off for APEX
    # Exits are never throttled.
    exit_ = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert by_firm(exit_["connector_results"])[("FTMO", 1)]["reason"] == "GLOBAL_DRY_RUN_ENABLED"


def test_velocity_counts_programs_of_the_same_signal(make_app):
    app = make_app(ROUTE_TO_FIRMS="FTMO", FTMO_PROGRAM_IDS="1,2", FTMO_2_ACCOUNT_SIZE="100000",
                   FTMO_2_RISK_PER_TRADE="0.01", FTMO_MAX_ORDERS_PER_MINUTE="1")
    body = post(app.test_client(), GUIDE_PAYLOAD).get_json()
    reasons = {k: r["reason"] for k, r in by_firm(body["connector_results"]).items()}
    assert reasons == {("FTMO", 1): "GLOBAL_DRY_RUN_ENABLED", ("FTMO", 2): "MAX_ORDERS_PER_MINUTE"}


# Small price moves, so the account ledger's daily-loss rules (issue 5) stay far from their limits
# and only the streak rule can block.
EXIT_PRICES = {"EXIT_STOP_LOSS": 16499.0, "EXIT_SL": 16499.0, "EXIT_TAKE_PROFIT": 16501.0, "EXIT_BREAK_EVEN": 16500.0}


def _trade(client, n: int, exit_event: str) -> None:
    trade = f"STREAK_{n}"
    assert post(client, dict(GUIDE_PAYLOAD, trade_id=trade)).status_code == 200
    exit_ = {"event_type": exit_event, "trade_id": trade, "exit_price": EXIT_PRICES[exit_event]}
    assert post(client, exit_).status_code == 200


def test_losing_streak_pauses_entries_for_the_program(make_app):
    app = make_app(FTMO_1_MAX_CONSECUTIVE_LOSSES="2")
    client = app.test_client()
    _trade(client, 1, "EXIT_STOP_LOSS")
    _trade(client, 2, "EXIT_BREAK_EVEN")  # neutral: neither counts nor resets
    _trade(client, 3, "EXIT_SL")
    body = post(client, dict(GUIDE_PAYLOAD, trade_id="NEXT")).get_json()
    ftmo = by_firm(body["connector_results"])[("FTMO", 1)]
    assert (ftmo["status"], ftmo["reason"]) == ("SKIPPED", "MAX_CONSECUTIVE_LOSSES")
    check = body["safety_checks"][0]
    assert check["rule"] == "MAX_CONSECUTIVE_LOSSES" and check["until"] and "next trading day" in check["details"]
    assert by_firm(body["connector_results"])[("APEX", 1)]["reason"] == "GLOBAL_DRY_RUN_ENABLED"


def test_a_win_resets_the_losing_streak(make_app):
    app = make_app(FTMO_1_MAX_CONSECUTIVE_LOSSES="2")
    client = app.test_client()
    _trade(client, 1, "EXIT_STOP_LOSS")
    _trade(client, 2, "EXIT_TAKE_PROFIT")
    _trade(client, 3, "EXIT_STOP_LOSS")
    body = post(client, dict(GUIDE_PAYLOAD, trade_id="NEXT")).get_json()
    assert body["safety_checks"] == []
    assert by_firm(body["connector_results"])[("FTMO", 1)]["reason"] == "GLOBAL_DRY_RUN_ENABLED"


# -- body limits: nesting depth and size whatever the framing -----------------------------------

def nested(depth: int, event_type: str = "MFE_UPDATE") -> str:
    """A signal whose `x` holds arrays nested so that the body has ``depth`` levels in all."""
    inner = depth - 1  # the body's own object is the first level
    return f'{{"event_type": "{event_type}", "trade_id": "DEEP", "x": ' + "[" * inner + "]" * inner + "}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 30_000])
def test_deeply_nested_body_is_400_naming_the_limit_before_authentication(make_app, caplog, depth):
    app = make_app(WEBHOOK_SECRET="s3cr3t-value")
    caplog.set_level(logging.WARNING)
    caplog.clear()  # the start-up's own warnings (the firms' compliance profiles) are not the subject
    resp = app.test_client().post(WEBHOOK, data=nested(depth), content_type="text/plain")
    body = resp.get_json()
    assert resp.status_code == 400 and body["error"] == "too_deeply_nested", body
    assert "body" in body["fields"] and str(MAX_JSON_DEPTH) in body["message"]
    assert counts(app) == (0, 0, 0)
    refusals = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refusals) == 1 and "nested deeper" in refusals[0].getMessage(), caplog.text
    assert refusals[0].exc_info is None and "Traceback" not in caplog.text


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_accepted(client, db):
    assert post(client, dict(GUIDE_PAYLOAD, event_type="MFE_UPDATE", trade_id="AT_LIMIT")).status_code == 200
    resp = client.post(WEBHOOK, data=nested(MAX_JSON_DEPTH), content_type="application/json")
    assert resp.status_code == 200, resp.get_json()
    quoted = "[{" * 500 + '\\"' + '\\' + '"' + "[" * 100  # brackets, escaped quotes and backslashes in text
    signal = dict(GUIDE_PAYLOAD, trade_id="BRACKETS_IN_TEXT", note=quoted,
                  targets={"tp1": {"price": 16550.0, "r": 2}}, setup={"zones": [{"low": 1, "high": [2, 3]}]},
                  market_state={"htf": {"trend": "up"}})
    resp = post(client, signal)
    assert resp.status_code == 200, resp.get_json()
    assert count(db, "execution_tasks") == 3


def chunked_post(client, raw: bytes):
    """A chunked request as gunicorn hands it over: no Content-Length, a server-terminated stream."""
    return client.post(WEBHOOK, input_stream=io.BytesIO(raw), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


def padded_signal(size: int, trade_id: str) -> bytes:
    """A valid signal padded with trailing spaces to exactly ``size`` bytes: cut anywhere in the
    padding it is still valid JSON, so only the size check can refuse it."""
    raw = json.dumps({"event_type": "MFE_UPDATE", "trade_id": trade_id, "be_mfe": 1}).encode()
    return raw + b" " * (size - len(raw))


def test_chunked_body_over_the_limit_is_413_and_records_nothing(app, client, db):
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = chunked_post(client, padded_signal(limit + 1, "CHUNKED_OVER"))
    assert resp.status_code == 413 and resp.get_json()["error"] == "payload_too_large"
    assert count(db, "execution_tasks") == 0
    resp = chunked_post(client, padded_signal(limit, "CHUNKED_AT_LIMIT"))
    assert resp.status_code == 200 and resp.get_json()["trade_id"] == "CHUNKED_AT_LIMIT"
    assert count(db, "execution_tasks") == 1


# -- OpenAPI ---------------------------------------------------------------------------------------

def test_openapi_document_describes_the_webhook(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    op = doc["paths"]["/api/automated-signals/webhook"]["post"]
    assert set(op["responses"]) >= {"200", "400", "401", "409", "413", "503"}
    assert "too_deeply_nested" in op["responses"]["400"]["description"]
    signal = doc["components"]["schemas"]["Signal"]
    assert {"event_type", "trade_id", "entry_price", "stop_loss", "secret"} <= set(signal["properties"])
    assert "MFE_UPDATE" in signal["properties"]["event_type"]["enum"]
    assert signal["required"] == ["event_type", "trade_id"]


def test_check_config_shows_safety_settings(make_app):
    app = make_app(FTMO_MAX_ORDERS_PER_MINUTE="3", FTMO_1_MAX_CONSECUTIVE_LOSSES="2", WEBHOOK_ALLOWED_IPS="tradingview")
    out = app.test_cli_runner().invoke(args=["check-config"]).output
    assert "FTMO_MAX_ORDERS_PER_MINUTE" in out and "FTMO_1_MAX_CONSECUTIVE_LOSSES" in out
    assert "52.89.214.238/32" in out and "TRUSTED_PROXY_COUNT" in out
