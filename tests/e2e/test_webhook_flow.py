"""End to end through the Flask client, on SQLite and PostgreSQL, with the guide's Step 2 config."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from tests.conftest import GUIDE_PAYLOAD

WEBHOOK = "/api/automated-signals/webhook"


def post(client, payload, **kwargs):
    return client.post(WEBHOOK, data=json.dumps(payload), content_type=kwargs.pop("content_type", "application/json"), **kwargs)


def count(db, table: str) -> int:
    return db.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def by_firm(items):
    return {(i["firm_code"], i.get("program_id")): i for i in items}


def test_guide_curl_example_sizes_and_skips_in_dry_run(client, db):
    resp = post(client, GUIDE_PAYLOAD)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["routed"] is False and body["dry_run"] is True
    assert body["trade_id"] == GUIDE_PAYLOAD["trade_id"] and body["event_type"] == "SIGNAL_CREATED"
    assert body["details"] == "ExecutionRouter dry-run: no external order sent."
    assert [r["status"] for r in body["risk_checks"]] == ["APPROVED", "APPROVED"]
    sizing = by_firm(body["program_sizing"])
    # 100000 x 1% / (25 points x $20) = 2; 150000 x 1% / (25 x 20) = 3
    assert sizing[("FTMO", 1)]["contracts"] == 2 and sizing[("FTMO", 1)]["details"]["point_value"] == 20.0
    assert sizing[("APEX", 1)]["contracts"] == 3
    assert all(b["status"] == "APPROVED" for b in body["account_breaches"])
    connectors = by_firm(body["connector_results"])
    for key, contracts in ((("FTMO", 1), 2), (("APEX", 1), 3)):
        result = connectors[key]
        assert result["status"] == "SKIPPED" and result["reason"] == "GLOBAL_DRY_RUN_ENABLED"
        order = result["details"]
        assert (order["symbol"], order["side"], order["contracts"], order["stop_loss"]) == ("NQ", "BUY", contracts, 16475.0)
    assert count(db, "execution_tasks") == 1 and count(db, "execution_logs") == 1
    task = db.execute(text("SELECT status, trade_id, event_type FROM execution_tasks")).one()
    assert tuple(task) == ("COMPLETED", GUIDE_PAYLOAD["trade_id"], "SIGNAL_CREATED")
    stored = db.execute(text("SELECT response_body FROM execution_logs")).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored == body


def test_text_plain_body_is_parsed_as_json(client, db):
    resp = post(client, GUIDE_PAYLOAD, content_type="text/plain")
    assert resp.status_code == 200
    assert by_firm(resp.get_json()["program_sizing"])[("FTMO", 1)]["contracts"] == 2


def test_numbers_as_strings_and_tradingview_symbols(client):
    payload = dict(GUIDE_PAYLOAD, entry_price="16500.0", stop_loss="16475", symbol="CME_MINI:NQ1!")
    body = post(client, payload).get_json()
    assert by_firm(body["program_sizing"])[("APEX", 1)]["contracts"] == 3
    assert by_firm(body["connector_results"])[("APEX", 1)]["details"]["symbol"] == "NQ"


def test_exit_closes_exactly_what_the_entry_opened(client, db):
    post(client, GUIDE_PAYLOAD)
    resp = post(client, {"event_type": "EXIT_SL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_price": 16475.0})
    body = resp.get_json()
    assert resp.status_code == 200 and body["event_type"] == "EXIT_STOP_LOSS"
    assert body["risk_checks"] == [] and body["program_sizing"] == []
    closes = by_firm(body["connector_results"])
    assert {k: (v["details"]["contracts"], v["details"]["side"]) for k, v in closes.items()} == {
        ("FTMO", 1): (2, "SELL"), ("APEX", 1): (3, "SELL")}
    assert all(v["reason"] == "GLOBAL_DRY_RUN_ENABLED" for v in closes.values())
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions")).scalar_one() == 0
    again = post(client, {"event_type": "EXIT_TAKE_PROFIT", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert again["connector_results"] == [] and "nothing left open" in again["details"]
    assert count(db, "execution_tasks") == 3 and count(db, "execution_logs") == 3


def test_short_entry_exit_buys_back(client):
    short = dict(GUIDE_PAYLOAD, trade_id="T_SHORT", direction="Bearish", entry_price=16500, stop_loss=16525)
    entry = post(client, short).get_json()
    assert by_firm(entry["connector_results"])[("FTMO", 1)]["details"]["side"] == "SELL"
    exit_ = post(client, {"event_type": "CANCELLED", "trade_id": "T_SHORT"}).get_json()
    assert by_firm(exit_["connector_results"])[("FTMO", 1)]["details"]["side"] == "BUY"


def test_partial_exit_closes_the_stated_part_then_the_rest(client, db):
    post(client, GUIDE_PAYLOAD)
    partial = post(client, {"event_type": "EXIT_PARTIAL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_contracts": "1"}).get_json()
    assert {k: v["details"]["contracts"] for k, v in by_firm(partial["connector_results"]).items()} == {("FTMO", 1): 1, ("APEX", 1): 1}
    half = post(client, {"event_type": "EXIT_PARTIAL", "trade_id": GUIDE_PAYLOAD["trade_id"], "exit_fraction": 0.5}).get_json()
    # FTMO has 1 open: half of 1 rounds down to 0 -> nothing sent there; APEX has 2 open -> 1
    results = by_firm(half["connector_results"])
    assert results[("FTMO", 1)]["reason"] == "PARTIAL_BELOW_ONE_CONTRACT"
    assert results[("APEX", 1)]["details"]["contracts"] == 1
    rest = post(client, {"event_type": "EXIT_BE", "trade_id": GUIDE_PAYLOAD["trade_id"]}).get_json()
    assert {k: v["details"]["contracts"] for k, v in by_firm(rest["connector_results"]).items()} == {("FTMO", 1): 1, ("APEX", 1): 1}
    assert db.execute(text("SELECT COUNT(*) FROM trade_positions WHERE status = 'CLOSED'")).scalar_one() == 2


def test_a_partial_exit_of_more_than_is_open_closes_what_is_open_and_says_so(client, db):
    post(client, GUIDE_PAYLOAD)  # FTMO 2, APEX 3
    body = post(client, {"event_type": "EXIT_PARTIAL", "trade_id": GUIDE_PAYLOAD["trade_id"],
                         "exit_contracts": 3, "exit_price": 16490}).get_json()
    closes = {(c["firm_code"], c["program_id"]): c for c in body["account_closes"]}
    assert closes[("FTMO", 1)]["contracts"] == 2 and closes[("FTMO", 1)]["requested_contracts"] == 3
    assert "more than the 2 open" in closes[("FTMO", 1)]["note"]
    assert closes[("APEX", 1)]["contracts"] == 3 and "requested_contracts" not in closes[("APEX", 1)]
    assert "more than was open" in body["details"]
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions")).scalar_one() == 0


def test_exit_for_a_trade_that_opened_nothing_sends_nothing(client, db):
    body = post(client, {"event_type": "EXIT_STOP_LOSS", "trade_id": "NEVER_OPENED"}).get_json()
    assert body["connector_results"] == [] and body["routed"] is False
    assert "opened no position" in body["details"]
    assert count(db, "execution_logs") == 1


def test_trade_opens_at_most_once_per_firm_program(client, db):
    first = post(client, GUIDE_PAYLOAD).get_json()
    second = post(client, dict(GUIDE_PAYLOAD, event_type="ENTRY")).get_json()
    assert all(r["reason"] == "GLOBAL_DRY_RUN_ENABLED" for r in first["connector_results"])
    assert [r["reason"] for r in second["connector_results"]] == ["TRADE_ALREADY_OPENED", "TRADE_ALREADY_OPENED"]
    assert db.execute(text("SELECT COUNT(*), SUM(contracts_open) FROM trade_positions")).one() == (2, 5)


@pytest.mark.parametrize("event", ["MFE_UPDATE", "BE_TRIGGERED"])
def test_informational_events_are_recorded_without_connector_calls(client, db, event):
    body = post(client, {"event_type": event, "trade_id": "T1", "be_mfe": "1.5"}).get_json()
    assert body["connector_results"] == [] and body["risk_checks"] == [] and body["routed"] is False
    assert db.execute(text("SELECT status FROM execution_tasks")).scalar_one() == "COMPLETED"
    assert count(db, "execution_logs") == 1


def test_mfe_batch_counts_its_items(client):
    body = post(client, {"event_type": "MFE_UPDATE_BATCH", "trade_id": "BATCH_1",
                         "signals": [{"trade_id": "A", "be_mfe": 1}, {"trade_id": "B", "be_mfe": 2}]}).get_json()
    assert body["details"] == "MFE batch of 2 update(s) recorded; no order sent."


BAD_PAYLOADS = [
    ({"trade_id": "T"}, "event_type"),
    ({"event_type": "NOPE", "trade_id": "T"}, "event_type"),
    (dict(GUIDE_PAYLOAD, trade_id=""), "trade_id"),
    (dict(GUIDE_PAYLOAD, entry_price="abc"), "entry_price"),
    (dict(GUIDE_PAYLOAD, entry_price=-5), "entry_price"),
    (dict(GUIDE_PAYLOAD, stop_loss=16500.0), "stop_loss"),
    (dict(GUIDE_PAYLOAD, stop_loss=16600.0), "stop_loss"),  # stop above a long entry
    (dict(GUIDE_PAYLOAD, symbol="DOGE"), "symbol"),
    (dict(GUIDE_PAYLOAD, direction="Sideways"), "direction"),
    (dict(GUIDE_PAYLOAD, contracts=100000), "contracts"),
    ({"event_type": "EXIT_PARTIAL", "trade_id": "T"}, "exit_contracts"),
    ({"event_type": "EXIT_PARTIAL", "trade_id": "T", "exit_fraction": 1.5}, "exit_fraction"),
    # which part is meant? neither is guessed
    ({"event_type": "EXIT_PARTIAL", "trade_id": "T", "exit_contracts": 1, "exit_fraction": 0.5}, "exit_contracts"),
    ({"event_type": "EXIT_PARTIAL", "trade_id": "T", "exit_contracts": 1, "exit_fraction": 0.5}, "exit_fraction"),
]


@pytest.mark.parametrize("payload,field", BAD_PAYLOADS)
def test_bad_payload_gets_400_naming_the_field_and_writes_nothing(client, db, payload, field):
    resp = post(client, payload)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "invalid_payload" and field in body["fields"]
    assert count(db, "execution_tasks") == 0 and count(db, "execution_logs") == 0


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'{"entry_price": NaN}', b"\xff\xfe", b""])
def test_malformed_bodies_get_400_json(client, db, raw):
    resp = client.post(WEBHOOK, data=raw, content_type="text/plain")
    assert resp.status_code == 400 and resp.get_json()["fields"]["body"]
    assert count(db, "execution_tasks") == 0


def test_oversized_body_gets_413(client, db):
    payload = dict(GUIDE_PAYLOAD, padding="x" * 70_000)
    resp = post(client, payload)
    assert resp.status_code == 413 and resp.get_json()["error"] == "payload_too_large"
    assert count(db, "execution_tasks") == 0


def test_firm_without_connector_is_skipped_with_reason(make_app):
    app = make_app(ROUTE_TO_FIRMS="FTMO,BULENOX", BULENOX_PROGRAM_IDS="1",
                   BULENOX_1_ACCOUNT_SIZE="50000", BULENOX_1_RISK_PER_TRADE="0.01")
    body = post(app.test_client(), GUIDE_PAYLOAD).get_json()
    bulenox = by_firm(body["connector_results"])[("BULENOX", 1)]
    assert bulenox["status"] == "SKIPPED" and bulenox["reason"] == "NO_CONNECTOR"
    assert "Rithmic, which has no public REST API" in bulenox["message"]


def test_position_limit_shared_by_programs_and_open_trades(make_app):
    # FTMO allows 3 contracts firm-wide; program 1 sizes 2, program 2 would size 2 but only 1 fits.
    app = make_app(FTMO_MAX_POSITION_SIZE="3", FTMO_PROGRAM_IDS="1,2",
                   FTMO_2_ACCOUNT_SIZE="100000", FTMO_2_RISK_PER_TRADE="0.01", ROUTE_TO_FIRMS="FTMO")
    client = app.test_client()
    sizing = by_firm(post(client, GUIDE_PAYLOAD).get_json()["program_sizing"])
    assert sizing[("FTMO", 1)]["contracts"] == 2 and sizing[("FTMO", 2)]["contracts"] == 1
    second = post(client, dict(GUIDE_PAYLOAD, trade_id="T2")).get_json()
    assert [s["contracts"] for s in second["program_sizing"]] == [0, 0]
    assert second["connector_results"] == []


def test_health_reports_database_mode_and_version(client, backend):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["dry_run"] is True
    assert body["database_backend"] == backend and body["version"]


def test_cli_check_config_and_init_db(app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["check-config"]).output
    assert "FTMO  mode=DRY-RUN (EXECUTION_DRY_RUN)" in out and "FTMO_1_ACCOUNT_SIZE" in out
    assert re.search(r"\n  NQ\s+20\s+exchange spec\n", out)
    assert "up to date" in runner.invoke(args=["init-db"]).output


def test_entry_types_not_configured_to_open_are_recorded_only(make_app):
    app = make_app(ENTRY_EVENT_TYPES="ENTRY")
    client = app.test_client()
    created = post(client, GUIDE_PAYLOAD).get_json()
    assert created["connector_results"] == [] and created["program_sizing"] == []
    assert "does not open trades" in created["details"]
    confirmed = post(client, dict(GUIDE_PAYLOAD, event_type="ENTRY")).get_json()
    assert [r["details"]["contracts"] for r in confirmed["connector_results"]] == [2, 3]
