"""Firm rules in live mode against the firm simulator (PostgreSQL, real HTTP on 127.0.0.1):
Apex's stop-and-target requirement refuses a live entry without a target before anything reaches
the firm, and paper (dry-run) trades never count toward a live account's trades-per-day lock."""
from __future__ import annotations

from sqlalchemy import text

from tests.e2e.live_support import ENTRY, backend, by_firm, live_env, post, sim  # noqa: F401 (fixtures)


def opens(sim, firm):
    return [o for o in sim.orders_for(firm) if o["kind"] in ("OPEN", "ORDER")]


def test_an_apex_live_entry_without_a_target_is_refused_before_reaching_the_firm(make_app, sim):
    # None: the firm profile's default (required), not live_env's waiver.
    client = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="APEX", APEX_REQUIRE_STOP_AND_TARGET=None)).test_client()
    body = post(client, ENTRY).get_json()
    apex = by_firm(body["connector_results"])["APEX"]
    assert (apex["status"], apex["reason"], apex["rule"]) == ("SKIPPED", "STOP_AND_TARGET_REQUIRED", "STOP_AND_TARGET_REQUIRED")
    assert "APEX requires every order to carry a stop and a target" in apex["message"] and "no target" in apex["message"]
    assert [c["rule"] for c in body["safety_checks"]] == ["STOP_AND_TARGET_REQUIRED"]
    assert body["routed"] is False and opens(sim, "APEX") == []

    with_target = post(client, dict(ENTRY, trade_id="20251122_150000_BULLISH", take_profit=16550.0)).get_json()
    assert by_firm(with_target["connector_results"])["APEX"]["status"] == "SUCCESS"
    assert len(opens(sim, "APEX")) == 1


def test_paper_trades_do_not_count_toward_a_live_accounts_trade_limit(make_app, sim, db):
    # LEDGER: ProjectX gives no open P&L over REST, so its snapshot cannot judge a second entry.
    env = live_env(sim.url, ROUTE_TO_FIRMS="TOPSTEP", TOPSTEP_1_MAX_TRADES_PER_DAY="1", TOPSTEP_SNAPSHOT_POLICY="LEDGER")
    paper = make_app(**{**env, "TOPSTEP_DRY_RUN": "true"}).test_client()
    for n in (1, 2):  # the paper account has its own limit: the second is refused there
        post(paper, dict(ENTRY, trade_id=f"PAPER_{n}"))
    assert db.execute(text("SELECT COUNT(*) FROM trade_positions WHERE dry_run")).scalar_one() == 1

    live = make_app(**env).test_client()
    first = post(live, dict(ENTRY, trade_id="LIVE_1")).get_json()
    assert by_firm(first["connector_results"])["TOPSTEP"]["status"] == "SUCCESS"
    second = post(live, dict(ENTRY, trade_id="LIVE_2")).get_json()
    topstep = by_firm(second["connector_results"])["TOPSTEP"]
    assert (topstep["status"], topstep["reason"]) == ("SKIPPED", "MAX_TRADES_PER_DAY")
    assert "1 trade(s) opened today" in topstep["message"]
    assert len(opens(sim, "TOPSTEP")) == 1


def test_a_live_entry_the_firm_refused_does_not_count(make_app, sim, db):
    client = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="APEX", APEX_1_MAX_TRADES_PER_DAY="1")).test_client()
    sim.set_faults("APEX", risk_reject=1)  # Tradovate's risk check refuses the next order
    failed = post(client, dict(ENTRY, trade_id="REFUSED")).get_json()
    assert by_firm(failed["connector_results"])["APEX"]["status"] == "FAILED"
    assert db.execute(text("SELECT status FROM trade_positions")).scalar_one() == "RELEASED"
    sent = post(client, dict(ENTRY, trade_id="SENT")).get_json()
    assert by_firm(sent["connector_results"])["APEX"]["status"] == "SUCCESS"
    third = post(client, dict(ENTRY, trade_id="THIRD")).get_json()
    assert by_firm(third["connector_results"])["APEX"]["reason"] == "MAX_TRADES_PER_DAY"
