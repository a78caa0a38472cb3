"""ROUTES and sizing modes through the webhook, on SQLite and PostgreSQL: each entry reaches only
the firm/programs its rule names, says which rule that was, and is sized by each program's mode."""
from __future__ import annotations

import json

from sqlalchemy import text

from tests.conftest import GUIDE_PAYLOAD, ShortLivedConnections
from tests.e2e.test_webhook_flow import by_firm, post

THREE_PROGRAMS = {"FTMO_PROGRAM_IDS": "1,2", "FTMO_2_ACCOUNT_SIZE": "50000", "FTMO_2_RISK_PER_TRADE": "0.01"}
ROUTES = "strategy:NQ_FVG_CORE=FTMO.1,APEX.1; symbol:ES=FTMO.2"
ES_PAYLOAD = dict(GUIDE_PAYLOAD, symbol="CME_MINI:ES1!", entry_price=5000, stop_loss=4990)


def db_of(app) -> ShortLivedConnections:
    return ShortLivedConnections(app.extensions["db_engine"])


def positions(db):
    rows = db.execute(text("SELECT trade_id, firm_code, program_id, contracts_open FROM trade_positions"))
    return sorted(tuple(row) for row in rows)


def test_each_entry_goes_only_where_its_rule_sends_it_and_says_which_rule(make_app):
    app = make_app(ROUTES=ROUTES, **THREE_PROGRAMS)
    client, db = app.test_client(), db_of(app)

    core = post(client, dict(GUIDE_PAYLOAD, trade_id="CORE", strategy_name="nq_fvg_core")).get_json()
    assert core["route"] == {"rule": "strategy:NQ_FVG_CORE", "targets": ["FTMO.1", "APEX.1"]}
    assert [r["firm_code"] for r in core["risk_checks"]] == ["FTMO", "APEX"]
    for part in ("program_sizing", "account_breaches", "connector_results", "account_states"):
        assert list(by_firm(core[part])) == [("FTMO", 1), ("APEX", 1)], part

    es = post(client, dict(ES_PAYLOAD, trade_id="ES", strategy_name="OTHER")).get_json()
    assert es["route"] == {"rule": "symbol:ES", "targets": ["FTMO.2"]}
    assert [r["firm_code"] for r in es["risk_checks"]] == ["FTMO"]
    assert list(by_firm(es["connector_results"])) == [("FTMO", 2)]
    assert by_firm(es["program_sizing"])[("FTMO", 2)]["contracts"] == 1  # $500 / (10 points x $50)

    default = post(client, dict(GUIDE_PAYLOAD, trade_id="DEFAULT")).get_json()
    assert default["route"] == {"rule": None, "targets": ["FTMO.1", "FTMO.2", "APEX.1"]}
    assert list(by_firm(default["connector_results"])) == [("FTMO", 1), ("FTMO", 2), ("APEX", 1)]

    assert positions(db) == [("CORE", "APEX", 1, 3), ("CORE", "FTMO", 1, 2), ("DEFAULT", "APEX", 1, 3),
                             ("DEFAULT", "FTMO", 1, 2), ("DEFAULT", "FTMO", 2, 1), ("ES", "FTMO", 2, 1)]
    stored = db.execute(text("SELECT response_body FROM execution_logs ORDER BY id LIMIT 1")).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["route"] == core["route"]

    # exits close what the trade opened, wherever it went; they have no route of their own
    closed = post(client, {"event_type": "EXIT_SL", "trade_id": "CORE", "exit_price": 16475}).get_json()
    assert {k: v["details"]["contracts"] for k, v in by_firm(closed["connector_results"]).items()} == {
        ("FTMO", 1): 2, ("APEX", 1): 3}
    assert "route" not in closed
    assert db.execute(text("SELECT SUM(contracts_open) FROM trade_positions WHERE trade_id = 'CORE'")).scalar_one() == 0


def test_fixed_mode_trades_the_configured_count_under_the_caps(make_app):
    app = make_app(FTMO_1_SIZING_MODE="FIXED", FTMO_1_FIXED_CONTRACTS="4", APEX_1_SIZING_MODE="FIXED",
                   APEX_1_FIXED_CONTRACTS="12")
    body = post(app.test_client(), GUIDE_PAYLOAD).get_json()
    sizing = by_firm(body["program_sizing"])
    assert sizing[("FTMO", 1)]["contracts"] == 4 and sizing[("FTMO", 1)]["details"]["sizing_mode"] == "FIXED"
    assert sizing[("APEX", 1)]["contracts"] == 10 and sizing[("APEX", 1)]["details"]["capped_by"] == "max_contracts"
    assert positions(db_of(app)) == [(GUIDE_PAYLOAD["trade_id"], "APEX", 1, 10), (GUIDE_PAYLOAD["trade_id"], "FTMO", 1, 4)]


def test_alert_mode_trades_the_alerts_quantity_times_the_multiplier(make_app):
    app = make_app(APEX_1_SIZING_MODE="ALERT", APEX_1_QUANTITY_MULTIPLIER="1.5")
    client = app.test_client()
    body = post(client, dict(GUIDE_PAYLOAD, contracts="3")).get_json()
    sizing = by_firm(body["program_sizing"])
    assert sizing[("APEX", 1)]["contracts"] == 4  # 3 x 1.5 = 4.5, floored
    assert sizing[("APEX", 1)]["details"]["sizing_mode"] == "ALERT"
    assert sizing[("FTMO", 1)]["contracts"] == 2 and sizing[("FTMO", 1)]["details"]["sizing_mode"] == "RISK"
    assert by_firm(body["connector_results"])[("APEX", 1)]["details"]["contracts"] == 4

    missing = post(client, dict(GUIDE_PAYLOAD, trade_id="NO_QTY")).get_json()
    apex = by_firm(missing["program_sizing"])[("APEX", 1)]
    assert (apex["status"], apex["rule"], apex["contracts"]) == ("REJECTED", "NO_ALERT_QUANTITY", 0)
    assert list(by_firm(missing["connector_results"])) == [("FTMO", 1)]
    assert ("NO_QTY", "APEX", 1, 4) not in positions(db_of(app))


def test_risk_mode_is_the_default_and_is_named(client):
    body = post(client, GUIDE_PAYLOAD).get_json()
    assert [s["details"]["sizing_mode"] for s in body["program_sizing"]] == ["RISK", "RISK"]
    assert [s["contracts"] for s in body["program_sizing"]] == [2, 3]
    assert body["route"] == {"rule": None, "targets": ["FTMO.1", "APEX.1"]}
