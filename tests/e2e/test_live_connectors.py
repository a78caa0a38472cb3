"""Live mode end to end: webhook -> router -> real HTTP -> the firm simulator (PostgreSQL).

Each test asserts on what the simulated firms actually received, so "no duplicate order" and
"the exit closed the same size at the same account" are checked where they matter.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from connectors.ftmo_connector import metaapi_client_id
from tests.e2e.live_support import backend, sim, ENTRY, EXIT, by_firm, live_env, post  # noqa: F401 (fixtures)
from tests.e2e.receiver import receiver  # noqa: F401 (fixture)


@pytest.fixture
def live_app(make_app, sim):
    def factory(**overrides: str):
        app = make_app(**live_env(sim.url, **overrides))
        app.extensions["execution_router"].reconcile_min_age = 0.0  # tests reconcile at once
        return app
    return factory


def opens(sim, firm):
    return [o for o in sim.orders_for(firm) if o["kind"] in ("OPEN", "ORDER")]


def closes(sim, firm):
    return [o for o in sim.orders_for(firm) if o["kind"] == "CLOSE"]


def journal(db):
    return {r.client_order_id: r for r in db.execute(text(
        "SELECT client_order_id, firm_code, action, status, reason, contracts FROM connector_orders ORDER BY id")).all()}


def positions(db):
    return {r.firm_code: r for r in db.execute(text(
        "SELECT firm_code, status, contracts_open, contracts_opened FROM trade_positions")).all()}


def test_entry_with_stop_then_exit_closes_the_same_size_at_every_firm(live_app, sim, db):
    client = live_app().test_client()
    body = post(client, ENTRY).get_json()
    results = by_firm(body["connector_results"])
    assert body["routed"] is True and body["dry_run"] is False
    assert body["firm_modes"] == {"FTMO": "LIVE", "APEX": "LIVE", "TOPSTEP": "LIVE"}
    assert {f: (r["status"], r["mode"]) for f, r in results.items()} == {
        "FTMO": ("SUCCESS", "LIVE"), "APEX": ("SUCCESS", "LIVE"), "TOPSTEP": ("SUCCESS", "LIVE")}

    ftmo, = opens(sim, "FTMO")  # 2 NQ contracts x 20 lots per contract on US100.cash, stop 25 below its fill
    assert (ftmo["account"], ftmo["side"], ftmo["quantity"], ftmo["symbol"], ftmo["stop"]) == (
        "sim-mt5-1", "BUY", 40.0, "US100.cash", 16380.0 - 25)
    assert ftmo["client_id"] == metaapi_client_id(results["FTMO"]["details"]["client_order_id"])
    apex, = opens(sim, "APEX")
    assert (apex["account"], apex["side"], apex["quantity"], apex["symbol"], apex["stop"]) == (201, "BUY", 3, "NQZ5", 16475.0)
    assert apex["body"]["isAutomated"] is True and apex["body"]["bracket1"]["orderType"] == "Stop"
    assert apex["client_id"] == results["APEX"]["details"]["client_order_id"]
    topstep, = opens(sim, "TOPSTEP")  # 25 points / 0.25 tick = 100 ticks, below a long entry
    assert (topstep["account"], topstep["side"], topstep["quantity"], topstep["symbol"], topstep["stop_ticks"]) == (
        301, "BUY", 1, "CON.F.US.ENQ.Z25", -100)
    assert topstep["body"]["type"] == 2 and topstep["body"]["side"] == 0

    exit_body = post(client, EXIT).get_json()
    assert {r["firm_code"]: r["status"] for r in exit_body["connector_results"]} == {
        "FTMO": "SUCCESS", "APEX": "SUCCESS", "TOPSTEP": "SUCCESS"}
    (fc,), (ac,), (tc,) = closes(sim, "FTMO"), closes(sim, "APEX"), closes(sim, "TOPSTEP")
    assert (fc["account"], fc["side"], fc["quantity"], fc["body"]["actionType"]) == ("sim-mt5-1", "SELL", 40.0, "POSITION_CLOSE_ID")
    assert (ac["account"], ac["side"], ac["quantity"]) == (201, "SELL", 3)
    assert (tc["account"], tc["side"], tc["quantity"]) == (301, "SELL", 1)
    assert all(p.status == "CLOSED" for p in positions(db).values())
    assert [r.status for r in journal(db).values()] == ["SUCCESS"] * 6


def test_short_entry_sells_and_exit_buys_back(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="TOPSTEP,APEX").test_client()
    short = dict(ENTRY, trade_id="T-SHORT", direction="Bearish", stop_loss=16525.0)
    assert all(r["status"] == "SUCCESS" for r in post(client, short).get_json()["connector_results"])
    assert [o["side"] for o in opens(sim, "APEX")] == ["SELL"] and opens(sim, "APEX")[0]["body"]["bracket1"]["action"] == "Buy"
    post(client, dict(EXIT, trade_id="T-SHORT"))
    assert [(o["side"], o["quantity"]) for o in closes(sim, "APEX")] == [("BUY", 3)]
    assert [(o["side"], o["quantity"]) for o in closes(sim, "TOPSTEP")] == [("BUY", 1)]


def test_hybrid_mode_sends_only_the_live_firm(make_app, sim, db):
    env = live_env(sim.url, EXECUTION_DRY_RUN="true", APEX_DRY_RUN="false")
    for name in ("FTMO_API_KEY", "FTMO_SYMBOL_MAP", "TOPSTEP_API_KEY"):  # dry firms need no credentials
        env[name] = ""
    client = make_app(**env).test_client()
    body = post(client, ENTRY).get_json()
    results = by_firm(body["connector_results"])
    assert body["firm_modes"] == {"FTMO": "DRY_RUN", "APEX": "LIVE", "TOPSTEP": "DRY_RUN"}
    assert body["dry_run"] is False and body["routed"] is True
    assert (results["APEX"]["status"], results["APEX"]["mode"]) == ("SUCCESS", "LIVE")
    for firm in ("FTMO", "TOPSTEP"):
        assert (results[firm]["status"], results[firm]["reason"], results[firm]["mode"]) == (
            "SKIPPED", "GLOBAL_DRY_RUN_ENABLED", "DRY_RUN")
    assert len(opens(sim, "APEX")) == 1 and sim.orders_for("FTMO") == [] and sim.orders_for("TOPSTEP") == []
    exit_body = post(client, EXIT).get_json()
    assert by_firm(exit_body["connector_results"])["APEX"]["status"] == "SUCCESS"
    assert len(closes(sim, "APEX")) == 1 and sim.orders_for("FTMO") == []
    assert [r.firm_code for r in journal(db).values()] == ["APEX", "APEX"]  # only live orders are journalled


def test_firm_dry_run_override_inside_live_mode(live_app, sim):
    body = post(live_app(FTMO_DRY_RUN="true").test_client(), ENTRY).get_json()
    ftmo = by_firm(body["connector_results"])["FTMO"]
    assert (ftmo["status"], ftmo["reason"], ftmo["mode"]) == ("SKIPPED", "FIRM_DRY_RUN_ENABLED", "DRY_RUN")
    assert sim.orders_for("FTMO") == [] and len(opens(sim, "APEX")) == 1


@pytest.mark.parametrize("firm", ["FTMO", "APEX", "TOPSTEP"])
def test_5xx_on_entry_is_unknown_then_reconciled_without_a_resend(live_app, sim, db, firm):
    app = live_app(ROUTE_TO_FIRMS=firm)
    client = app.test_client()
    sim.set_faults(firm, fail_5xx=1)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("UNKNOWN", "FIRM_ERROR")
    assert positions(db)[firm].status == "OPEN"  # kept until the firm says otherwise
    outcomes = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    assert [status for _, status in outcomes] == ["FAILED"]
    assert positions(db)[firm].status == "RELEASED"
    assert opens(sim, firm) == []
    again = post(client, ENTRY).get_json()  # TradingView's resend: the first answer, nothing sent
    assert again["duplicate"] is True and again["task_id"] == result["details"]["task_id"]
    assert opens(sim, firm) == []
    other = post(client, dict(ENTRY, event_type="ENTRY")).get_json()["connector_results"][0]
    assert other["reason"] == "TRADE_ALREADY_OPENED" and opens(sim, firm) == []  # a trade opens once


@pytest.mark.parametrize("firm", ["FTMO", "APEX", "TOPSTEP"])
def test_429_longer_than_the_budget_fails_the_entry_unsent_and_is_honoured(live_app, sim, db, firm):
    client = live_app(ROUTE_TO_FIRMS=firm).test_client()
    sim.set_faults(firm, rate_limit=1, retry_after=5)
    started = time.monotonic()
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert time.monotonic() - started < 2.9  # not waited out: it does not fit TradingView's 3 s
    assert (result["status"], result["reason"]) == ("FAILED", "RATE_LIMITED")
    assert positions(db)[firm].status == "RELEASED" and opens(sim, firm) == []
    second = post(client, dict(ENTRY, trade_id="T-2")).get_json()["connector_results"][0]
    assert (second["status"], second["reason"]) == ("FAILED", "RATE_LIMITED")  # Retry-After honoured:
    assert opens(sim, firm) == []  # the simulator would have accepted it, so it was never sent


@pytest.mark.parametrize("firm", ["FTMO", "APEX", "TOPSTEP"])
def test_a_short_429_is_waited_out_and_the_exit_sent_once(live_app, sim, db, firm):
    """A 429 is answered before the firm processes the request, so sending it again after the
    firm's Retry-After cannot double it; an exit that fails instead leaves the position open."""
    client = live_app(ROUTE_TO_FIRMS=firm).test_client()
    post(client, ENTRY)
    sim.set_faults(firm, rate_limit=1, retry_after=1)
    started = time.monotonic()
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert 1.0 <= time.monotonic() - started < 2.9
    assert result["status"] == "SUCCESS"
    assert len(closes(sim, firm)) == 1
    assert positions(db)[firm].status == "CLOSED"


def test_an_apex_partial_exit_is_not_resent_after_a_429_wait(live_app, sim, db):
    """Tradovate has no reduce-only order: a partial exit is a market order sized from the position
    read just before. A second's wait could let the stop fill first and the order then open a
    short, so it fails unsent and the contracts stay open here (resend the exit)."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)  # 3 contracts
    sim.set_faults("APEX", rate_limit=1, retry_after=1)
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "RATE_LIMITED")
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN"]  # nothing but the entry reached it
    assert (positions(db)["APEX"].status, positions(db)["APEX"].contracts_open) == ("OPEN", 3)


@pytest.mark.parametrize("firm", ["FTMO", "APEX", "TOPSTEP"])
def test_accepted_but_unanswered_entry_is_unknown_reconciled_and_closed_once(live_app, sim, db, firm):
    app = live_app()
    client = app.test_client()
    sim.set_faults(firm, hang=1, hang_seconds=4.0)
    started = time.monotonic()
    body = post(client, ENTRY).get_json()
    assert time.monotonic() - started < 2.9  # answered although the firm never did
    results = by_firm(body["connector_results"])
    assert results[firm]["status"] == "UNKNOWN"
    assert all(r["status"] == "SUCCESS" for f, r in results.items() if f != firm)
    assert len(opens(sim, firm)) == 1 and positions(db)[firm].status == "OPEN"
    exit_body = post(client, EXIT).get_json()  # reconciles the entry first, then closes it
    assert by_firm(exit_body["connector_results"])[firm]["status"] == "SUCCESS"
    assert len(opens(sim, firm)) == 1 and len(closes(sim, firm)) == 1
    assert closes(sim, firm)[0]["quantity"] == opens(sim, firm)[0]["quantity"]
    assert [r.status for r in journal(db).values() if r.firm_code == firm] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize("firm", ["FTMO", "APEX", "TOPSTEP"])
def test_unanswered_exit_keeps_its_claim_and_is_never_sent_twice(live_app, sim, db, firm):
    app = live_app(ROUTE_TO_FIRMS=firm)
    client = app.test_client()
    post(client, ENTRY)
    sim.set_faults(firm, hang=1, hang_seconds=4.0)
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert result["status"] == "UNKNOWN"
    assert positions(db)[firm].status == "CLOSED"  # the claim is kept: no second exit can double-close
    assert len(closes(sim, firm)) == 1
    assert [r.status for r in journal(db).values()] == ["SUCCESS", "UNKNOWN"]
    again = post(client, dict(EXIT, event_type="EXIT_TAKE_PROFIT")).get_json()  # reconciles first
    assert again["connector_results"] == [] and len(closes(sim, firm)) == 1
    assert [r.status for r in journal(db).values()] == ["SUCCESS", "SUCCESS"]
    assert app.extensions["execution_router"].reconciler().reconcile_unresolved() == []


def test_an_unanswered_partial_exit_that_filled_at_ftmo_is_found_by_its_client_id(live_app, sim, db):
    """A partial close leaves the position open, so "is the position gone?" cannot tell whether it
    went through; its order in the account's history, carrying our clientId, can."""
    app = live_app(ROUTE_TO_FIRMS="FTMO")
    client = app.test_client()
    post(client, ENTRY)  # 2 contracts
    sim.set_faults("FTMO", hang=1, hang_seconds=3.0)
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["status"] == "UNKNOWN"
    time.sleep(3.2)  # the simulator executed it and answers late
    resolved = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    assert [status for _, status in resolved] == ["SUCCESS"]
    assert [r.status for r in journal(db).values()] == ["SUCCESS", "SUCCESS"]
    assert (positions(db)["FTMO"].status, positions(db)["FTMO"].contracts_open) == ("OPEN", 1)  # not restored
    assert [(o["quantity"], o["body"]["actionType"]) for o in closes(sim, "FTMO")] == [(20.0, "POSITION_PARTIAL")]


def test_a_hanging_firm_does_not_delay_the_answer(live_app, sim):
    client = live_app(APEX_SNAPSHOT_POLICY="LEDGER").test_client()  # the order path itself: a failed account read falls back to the ledger
    sim.set_faults("APEX", latency=5.0)
    started = time.monotonic()
    body = post(client, ENTRY).get_json()
    assert time.monotonic() - started < 2.9
    results = by_firm(body["connector_results"])
    assert results["APEX"]["status"] in ("UNKNOWN", "FAILED")
    assert results["FTMO"]["status"] == "SUCCESS" and results["TOPSTEP"]["status"] == "SUCCESS"


@pytest.mark.parametrize("firm", ["APEX", "TOPSTEP"])
def test_expired_token_is_renewed_and_the_order_sent_once(live_app, sim, firm):
    client = live_app(ROUTE_TO_FIRMS=firm, **{f"{firm}_SNAPSHOT_POLICY": "LEDGER"}).test_client()  # a second open trade
    post(client, dict(ENTRY, trade_id="T-warm"))  # logs in
    sim.set_faults(firm, expire_tokens=True)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert [o["client_id"] for o in opens(sim, firm)].count(result["details"]["client_order_id"]) == 1


def test_tradovate_token_is_renewed_before_expiration_time(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    sim.set_faults("APEX", token_ttl=60)  # inside the 15-minute renewal margin
    post(client, ENTRY)
    post(client, EXIT)
    assert [o["kind"] for o in sim.orders_for("APEX")].count("RENEW") >= 1
    assert len(opens(sim, "APEX")) == 1 and len(closes(sim, "APEX")) == 1


def test_tradovate_penalty_ticket_is_honoured_once(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX", APEX_SNAPSHOT_POLICY="LEDGER").test_client()  # the order path itself: a failed account read falls back to the ledger
    sim.set_faults("APEX", penalty=1, penalty_time=0.3)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS" and len(opens(sim, "APEX")) == 1


def test_tradovate_penalty_longer_than_the_deadline_fails_unsent(live_app, sim, db):
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, dict(ENTRY, trade_id="T-warm"))  # logged in before the penalty
    sent_before = len(opens(sim, "APEX"))
    sim.set_faults("APEX", penalty=1, penalty_time=30)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "PENALTY")
    assert len(opens(sim, "APEX")) == sent_before  # the penalised order never reached the firm
    status = db.execute(text("SELECT status FROM trade_positions WHERE trade_id = :t"), {"t": ENTRY["trade_id"]}).scalar_one()
    assert status == "RELEASED"


def test_exit_after_the_firm_stopped_the_position_out_sends_nothing(live_app, sim, db):
    client = live_app(ROUTE_TO_FIRMS="FTMO").test_client()
    post(client, ENTRY)
    sim.metaapi_positions.clear()  # the broker-side stop loss closed it
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert closes(sim, "FTMO") == [] and positions(db)["FTMO"].status == "CLOSED"


def _firm_positions(sim, firm):
    return sim.tradovate_net if firm == "APEX" else sim.projectx_positions


@pytest.mark.parametrize("firm", ["APEX", "TOPSTEP"])
def test_an_exit_never_sells_into_a_short_the_account_holds_instead(live_app, sim, db, firm):
    """These firms close by account and contract, not by trade. The trade's long was stopped out
    and the account is now short (another trade, or the trader by hand): an exit sized from the
    account's position would sell into that short and double it."""
    client = live_app(ROUTE_TO_FIRMS=firm).test_client()
    post(client, ENTRY)  # long
    held = _firm_positions(sim, firm)
    with sim.lock:
        (key,) = held
        held[key] = -2
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("SKIPPED", "OPPOSITE_POSITION_AT_FIRM")
    assert "2 NQ SHORT" in result["message"]
    assert len(sim.orders_for(firm)) == 1 and held[key] == -2  # the entry only; the short untouched
    assert positions(db)[firm].status == "CLOSED"  # this trade's side is flat at the firm


@pytest.mark.parametrize("firm", ["APEX", "TOPSTEP"])
def test_an_exit_closes_no_more_than_the_account_still_holds_on_its_side(live_app, sim, firm):
    client = live_app(ROUTE_TO_FIRMS=firm).test_client()
    post(client, ENTRY)  # long: APEX 3, TOPSTEP 1 contracts
    held = _firm_positions(sim, firm)
    with sim.lock:
        (key,) = held
        held[key] = 1  # part of it was closed at the firm
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    (sent,) = [o for o in sim.orders_for(firm)[1:] if o["kind"] != "CANCEL"]  # TOPSTEP also cancels the bracket stop
    assert (sent["side"], sent["quantity"]) == ("SELL", 1) and held[key] == 0


@pytest.mark.parametrize("firm", ["APEX", "TOPSTEP"])
def test_an_exit_after_a_contract_roll_closes_the_contract_the_entry_traded(live_app, sim, db, firm, monkeypatch):
    """Held over a roll: after a restart the root's front contract is the next one. Looking it up
    again would find nothing open there, call the trade flat and leave the real position open."""
    from simulator import projectx

    body = post(live_app(ROUTE_TO_FIRMS=firm).test_client(), ENTRY).get_json()
    traded = {"APEX": "NQZ5", "TOPSTEP": "CON.F.US.ENQ.Z25"}[firm]
    assert body["connector_results"][0]["contract"] == traded
    assert db.execute(text("SELECT firm_contract FROM trade_positions")).scalar_one() == traded
    if firm == "APEX":  # the next contract is the front month now
        sim.roll_tradovate("NQ", "NQH6")
    else:
        monkeypatch.setattr(projectx, "PROJECTX_CONTRACTS", [
            {"id": "CON.F.US.ENQ.H26", "name": "ENQH26", "tickSize": 0.25, "tickValue": 5.0, "activeContract": True},
            *projectx.PROJECTX_CONTRACTS])
    restarted = live_app(ROUTE_TO_FIRMS=firm).test_client()  # a new process resolves contracts afresh
    result = post(restarted, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["contract"]) == ("SUCCESS", traded)
    assert [c["symbol"] for c in closes(sim, firm)] == [traded]
    assert not any(_firm_positions(sim, firm).values())  # flat at the firm, as recorded here
    assert positions(db)[firm].status == "CLOSED"


@pytest.mark.parametrize("firm", ["APEX", "TOPSTEP"])
def test_the_contract_of_an_entry_answered_after_the_deadline_is_still_recorded(live_app, sim, db, firm):
    client = live_app(ROUTE_TO_FIRMS=firm).test_client()
    sim.set_faults(firm, hang=1, hang_seconds=3.0)
    assert post(client, ENTRY).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    contract = {"APEX": "NQZ5", "TOPSTEP": "CON.F.US.ENQ.Z25"}[firm]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and db.execute(text("SELECT firm_contract FROM trade_positions")).scalar_one() is None:
        time.sleep(0.1)
    assert db.execute(text("SELECT firm_contract FROM trade_positions")).scalar_one() == contract


def test_partial_exit_closes_exactly_the_stated_part(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX,TOPSTEP,FTMO").test_client()
    post(client, ENTRY)
    post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1))
    assert [o["quantity"] for o in sim.orders_for("APEX") if o["kind"] == "ORDER"] == [1]
    assert [o["quantity"] for o in closes(sim, "TOPSTEP")] == [1]
    assert [(o["quantity"], o["body"]["actionType"]) for o in closes(sim, "FTMO")] == [(20.0, "POSITION_PARTIAL")]


def test_an_apex_partial_exit_cuts_the_bracket_stop_to_the_position_left(live_app, sim, db):
    """Tradovate keeps the entry's bracket stop at the entry's size. Left at 3 after selling 1 of 3,
    its fill would sell 3 into a 2-lot long: flat, then 1 short the trader never asked for."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    entry = post(client, ENTRY).get_json()["connector_results"][0]
    (stop,) = sim.working_stops(201)
    assert (stop["action"], stop["orderQty"], stop["stopPrice"]) == ("Sell", 3, 16475.0)
    assert entry["stop_order_id"] == str(stop["id"])

    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert result["stop_adjustment"] == {"status": "ADJUSTED", "position_left": 2, "orders": [
        {"order_id": str(stop["id"]), "leg": "STOP", "contracts_before": 3, "contracts_after": 2}]}
    (stop,) = sim.working_stops(201)
    assert (stop["orderQty"], stop["stopPrice"]) == (2, 16475.0)  # same price, the size left
    sim.fire_stops(201)
    assert list(sim.tradovate_net.values()) == [0]  # flat, not short
    assert positions(db)["APEX"].contracts_open == 2


def test_a_refused_stop_change_keeps_the_done_exit_and_tells_the_trader(live_app, sim, db):
    """The partial exit has filled; failing it now would restore contracts the firm no longer
    holds. It stays SUCCESS, and the result and a notification say the stop is too big."""
    from observability.notifications import STOP_NOT_ADJUSTED, events_for_result

    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    sim.set_faults("APEX", refuse_modify=1)
    body = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()
    (result,) = body["connector_results"]
    assert result["status"] == "SUCCESS" and result["stop_adjustment"]["status"] == STOP_NOT_ADJUSTED
    assert "adjust it at Tradovate" in result["stop_adjustment"]["message"]
    assert [s["orderQty"] for s in sim.working_stops(201)] == [3]
    assert positions(db)["APEX"].contracts_open == 2
    (event,) = [e for e in events_for_result(body) if e.kind == STOP_NOT_ADJUSTED]
    assert event.data["position_left"] == 2 and "APEX program 1" in event.text
    exit_message = db.execute(text("SELECT message FROM connector_orders ORDER BY id DESC LIMIT 1")).scalar_one()
    assert "STOP_NOT_ADJUSTED" in exit_message  # the journal keeps it too


def test_a_stop_being_changed_at_tradovate_is_not_guessed_at(live_app, sim):
    """A PendingReplace order has no settled size to fit: say so rather than cut around it."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    (stop,) = sim.working_stops(201)
    with sim.lock:
        sim.tradovate_orders[stop["id"]]["ordStatus"] = "PendingReplace"
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert result["stop_adjustment"]["status"] == "STOP_NOT_ADJUSTED" and "being changed" in result["stop_adjustment"]["message"]
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN", "ORDER"]  # no modification sent


def test_the_exits_own_order_still_pending_does_not_stop_the_cut(live_app, sim):
    """Tradovate may list the partial exit's market order as PendingNew for a moment: it is not a
    stop, and not one being changed."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    sim.set_faults("APEX", orders_pending=True)
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["stop_adjustment"]["status"] == "ADJUSTED"
    assert [s["orderQty"] for s in sim.working_stops(201)] == [2]


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_partial_exit_found_before_a_next_exit_that_fails_still_gets_its_stop_cut(live_app, sim, db):
    """The next exit reconciles the lost one in its request but leaves the stop to the background:
    here that exit is refused (a 429 on a partial exit is never waited out), so only the
    background follow-up cuts the stop the lost exit left at 3 on a 2-lot position."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)  # 3 contracts
    sim.set_faults("APEX", hang=1, hang_seconds=3.0)
    assert post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()[
        "connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(3.2)
    sim.set_faults("APEX", rate_limit=1, retry_after=0)  # over by the time the follow-up runs
    second = dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1, exit_price=16480.0)  # not a resend
    result = post(client, second).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "RATE_LIMITED")
    assert _wait_for(lambda: [s["orderQty"] for s in sim.working_stops(201)] == [2])
    assert list(sim.tradovate_net.values()) == [2]


def test_the_next_exit_settles_an_unanswered_partial_exit_without_a_second_stop_cut(live_app, sim, db):
    """Before a trade's next exit, its unknown orders are reconciled in the request; that exit
    liquidates (cancelling the stop) anyway, so no time is spent cutting the stop first."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    sim.set_faults("APEX", hang=1, hang_seconds=3.0)
    assert post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()[
        "connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(3.2)
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN", "ORDER", "CLOSE"]  # no MODIFY in between
    assert sim.working_stops(201) == [] and list(sim.tradovate_net.values()) == [0]
    assert [r.status for r in journal(db).values()] == ["SUCCESS"] * 3


def test_an_unanswered_apex_partial_exit_found_by_reconciliation_gets_its_stop_cut(live_app, sim, db):
    app = live_app(ROUTE_TO_FIRMS="APEX")
    client = app.test_client()
    post(client, ENTRY)  # 3 contracts
    sim.set_faults("APEX", hang=1, hang_seconds=3.0)
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["status"] == "UNKNOWN" and [s["orderQty"] for s in sim.working_stops(201)] == [3]
    time.sleep(3.2)  # the simulator executed it and answers late
    resolved = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    assert [status for _, status in resolved] == ["SUCCESS"]
    assert [s["orderQty"] for s in sim.working_stops(201)] == [2]
    exit_row = list(journal(db).values())[-1]
    assert exit_row.status == "SUCCESS" and positions(db)["APEX"].contracts_open == 2
    assert "cut to the 2 contract(s) held" in db.execute(text(
        "SELECT message FROM connector_orders ORDER BY id DESC LIMIT 1")).scalar_one()


def test_a_full_exit_after_a_partial_one_leaves_no_stop_working(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1))
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS" and "stop_adjustment" not in result  # a liquidation cancels it
    assert sim.working_stops(201) == [] and list(sim.tradovate_net.values()) == [0]


def _close_by_hand(sim) -> None:
    """The trader flattens the account in Tradovate's window with a plain market order: the
    position goes, the entry's bracket stop keeps working."""
    with sim.lock:
        for key in sim.tradovate_net:
            sim.tradovate_net[key] = 0


def test_an_exit_after_a_close_by_hand_cancels_the_stop_left_working(live_app, sim, db):
    """Left working on a flat account, the Sell stop would open a 3-lot short when the price
    falls to it: a position nobody asked for, on an account the trader believes flat."""
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    (stop,) = sim.working_stops(201)
    _close_by_hand(sim)
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert result["stop_adjustment"] == {"status": "ADJUSTED", "position_left": 0, "orders": [
        {"order_id": str(stop["id"]), "leg": "STOP", "contracts_before": 3, "contracts_after": 0}]}
    assert sim.working_stops(201) == []
    sim.fire_stops(201)
    assert list(sim.tradovate_net.values()) == [0]
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN", "CANCEL"]  # no closing order was sent
    assert positions(db)["APEX"].status == "CLOSED"


def test_an_exit_after_a_stop_out_has_no_stop_to_cancel(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    sim.fire_stops(201)  # the bracket stop filled: flat, nothing resting
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert result["stop_adjustment"] == {"status": "NOT_NEEDED", "position_left": 0, "orders": []}
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN"]  # nothing sent, nothing cancelled


def _flat_exit_with_the_stop_not_adjusted(live_app, sim, **faults):
    """Entry, closed by hand, `faults`, then the exit: SKIPPED as flat, its stop NOT adjusted.
    The result and the notification event it gives."""
    from observability.notifications import STOP_NOT_ADJUSTED, events_for_result

    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, ENTRY)
    _close_by_hand(sim)
    sim.set_faults("APEX", **faults)
    body = post(client, EXIT).get_json()
    (result,) = body["connector_results"]
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert result["stop_adjustment"]["status"] == STOP_NOT_ADJUSTED
    (event,) = [e for e in events_for_result(body) if e.kind == STOP_NOT_ADJUSTED]
    return result, event


def test_a_position_opened_while_the_stops_are_checked_leaves_them_all_alone(live_app, sim, db):
    """Another trade filled between the exit's position read and the stop list: which stop is
    whose can no longer be told, so none is changed, and the trader is asked to look."""
    result, event = _flat_exit_with_the_stop_not_adjusted(live_app, sim, open_on_order_list=2)
    assert "2 contract(s) opened on this side" in result["stop_adjustment"]["message"]
    assert [s["orderQty"] for s in sim.working_stops(201)] == [3]
    assert [o["kind"] for o in sim.orders_for("APEX")] == ["OPEN"]  # nothing cancelled or modified
    assert "exit found the account flat" in event.text


def test_a_refused_cancel_on_a_flat_account_tells_the_trader(live_app, sim, db):
    result, event = _flat_exit_with_the_stop_not_adjusted(live_app, sim, refuse_modify=1)  # covers cancels too
    assert "check it at Tradovate and cancel it" in result["stop_adjustment"]["message"]
    assert [s["orderQty"] for s in sim.working_stops(201)] == [3]
    assert event.data["position_left"] == 0 and "stop NOT adjusted" in event.text
    exit_message = db.execute(text("SELECT message FROM connector_orders ORDER BY id DESC LIMIT 1")).scalar_one()
    assert "STOP_NOT_ADJUSTED" in exit_message


def test_account_status_reads_balances(live_app):
    router = live_app().extensions["execution_router"]
    assert router.connectors["FTMO"].get_account_status()["accounts"][1]["balance"] == 100000.0
    assert router.connectors["APEX"].get_account_status()["accounts"][1]["total_cash_value"] == 150000.0
    assert router.connectors["TOPSTEP"].get_account_status()["accounts"][1]["balance"] == 50000.0


def test_reconcile_orders_cli(live_app, sim):
    app = live_app(ROUTE_TO_FIRMS="TOPSTEP")
    sim.set_faults("TOPSTEP", fail_5xx=1)
    post(app.test_client(), ENTRY)
    out = app.test_cli_runner().invoke(args=["reconcile-orders"]).output
    assert "FAILED" in out and "1 unresolved order(s) checked." in out
    assert "no order with this customTag" in out  # why, from the journal


def test_reconcile_orders_cli_sends_its_notifications_before_it_exits(live_app, sim, receiver):
    app, client = _notifying_app(live_app, receiver)  # APEX
    post(client, ENTRY)
    sim.set_faults("APEX", fail_5xx=1)
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    receiver.release.clear()  # a slow receiver: it takes the message only after 0.5 s
    threading.Timer(0.5, receiver.release.set).start()
    out = app.test_cli_runner().invoke(args=["reconcile-orders"]).output
    assert "FAILED" in out
    assert [b["kind"] for _, b in receiver.bodies] == ["EXIT_NOT_AT_FIRM"]  # delivered before the command ended


def test_unreachable_firm_fails_cleanly_and_releases_the_position(make_app, sim, db):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="FTMO", FTMO_API_URL=f"http://127.0.0.1:{port}",
                              FTMO_SNAPSHOT_POLICY="LEDGER"))  # the order path: the failed account read falls back
    result = post(app.test_client(), ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"], result["mode"]) == ("FAILED", "CONNECT_ERROR", "LIVE")
    assert positions(db)["FTMO"].status == "RELEASED"
    assert [r.status for r in journal(db).values()] == ["FAILED"]


def test_tradovate_penalty_on_an_order_is_resubmitted_with_its_ticket(live_app, sim):
    client = live_app(ROUTE_TO_FIRMS="APEX").test_client()
    post(client, dict(ENTRY, trade_id="T-warm"))  # logged in: the penalty now hits the order itself
    sim.set_faults("APEX", penalty=1, penalty_time=0.3)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    mine = [o for o in opens(sim, "APEX") if o["client_id"] == result["details"]["client_order_id"]]
    assert len(mine) == 1 and "p-ticket" in mine[0]["body"]  # executed once, on the ticketed resubmission


# ---- what reconciliation finds after the request is told to the trader ---------------------------

def _notifying_app(live_app, receiver):
    app = live_app(ROUTE_TO_FIRMS="APEX", NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    return app, app.test_client()


def _lose_a_partial_exit(client, sim) -> None:
    """Entry (3 contracts), then a partial exit of 1 that the simulator executes but answers too
    late: UNKNOWN in its request, found by reconciliation afterwards."""
    post(client, ENTRY)
    sim.set_faults("APEX", hang=1, hang_seconds=3.0)
    assert post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()[
        "connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(3.2)


def _reconcile(app, receiver, expect: int) -> tuple[list[str], list[dict]]:
    """Reconcile now: the statuses, and the notification bodies once the notifier has drained."""
    try:
        statuses = [status for _, status in app.extensions["execution_router"].reconciler().reconcile_unresolved()]
        receiver.wait_for(expect)
    finally:
        app.extensions["notifier"].close()  # sends whatever was queued before returning
    return statuses, [body for _, body in receiver.bodies]


def test_an_exit_reconciled_as_not_at_the_firm_is_notified(live_app, sim, db, receiver):
    """The request answered UNKNOWN and nobody waits any more: the trader must hear that the
    position is still open at the firm, not find it in a log."""
    app, client = _notifying_app(live_app, receiver)
    post(client, ENTRY)
    sim.set_faults("APEX", fail_5xx=1)  # answered 5xx, not processed
    exit_result = post(client, EXIT).get_json()["connector_results"][0]
    assert exit_result["status"] == "UNKNOWN"
    statuses, bodies = _reconcile(app, receiver, expect=1)
    assert statuses == ["FAILED"]
    (note,) = [b for b in bodies if b["kind"] == "EXIT_NOT_AT_FIRM"]
    assert (note["firm_code"], note["program_id"], note["trade_id"]) == ("APEX", 1, ENTRY["trade_id"])
    assert note["client_order_id"] == exit_result["details"]["client_order_id"]
    assert "still open there" in note["text"]
    assert list(sim.tradovate_net.values()) == [3] and positions(db)["APEX"].status == "OPEN"


def test_a_stop_reconciliation_could_not_cut_is_notified(live_app, sim, db, receiver):
    app, client = _notifying_app(live_app, receiver)
    _lose_a_partial_exit(client, sim)
    sim.set_faults("APEX", refuse_modify=1)
    statuses, bodies = _reconcile(app, receiver, expect=1)
    assert statuses == ["SUCCESS"]
    (note,) = [b for b in bodies if b["kind"] == "STOP_NOT_ADJUSTED"]
    assert note["firm_code"] == "APEX" and "found by reconciliation" in note["text"]
    assert [s["orderQty"] for s in sim.working_stops(201)] == [3]  # still too big: hence the message


def test_a_found_exit_with_its_stop_cut_sends_nothing(live_app, sim, receiver):
    app, client = _notifying_app(live_app, receiver)
    _lose_a_partial_exit(client, sim)
    assert _reconcile(app, receiver, expect=0) == (["SUCCESS"], [])
    assert [s["orderQty"] for s in sim.working_stops(201)] == [2]


def test_a_stop_the_background_follow_up_could_not_cut_is_notified(live_app, sim, receiver):
    """The reconciliation before a trade's next exit leaves the stop to a background follow-up;
    a refusal there has no request to answer, so the message is the trader's only sign."""
    app, client = _notifying_app(live_app, receiver)
    _lose_a_partial_exit(client, sim)
    sim.set_faults("APEX", rate_limit=1, retry_after=0, refuse_modify=1)  # the next exit refused, then the cut
    second = dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1, exit_price=16480.0)
    assert post(client, second).get_json()["connector_results"][0]["reason"] == "RATE_LIMITED"
    try:
        receiver.wait_for(2)
    finally:
        app.extensions["notifier"].close()
    kinds = sorted(b["kind"] for _, b in receiver.bodies)  # after the drain: nothing sent twice
    assert kinds == ["CONNECTOR_FAILED", "STOP_NOT_ADJUSTED"]  # the refused exit, and the stop left at 3
    assert [s["orderQty"] for s in sim.working_stops(201)] == [3]


def test_a_lost_exit_the_next_exit_makes_good_is_not_reported_as_open(live_app, sim, db, receiver):
    """Reconciled inside the next exit's request, the lost exit's contracts are restored and that
    exit closes them at once: telling the trader to close the position by hand would invite a
    second close."""
    app, client = _notifying_app(live_app, receiver)
    post(client, ENTRY)
    sim.set_faults("APEX", fail_5xx=1)
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(0.1)
    second = post(client, dict(EXIT, event_type="EXIT_TAKE_PROFIT")).get_json()["connector_results"][0]
    app.extensions["notifier"].close()
    assert second["status"] == "SUCCESS" and list(sim.tradovate_net.values()) == [0]
    assert [r.status for r in journal(db).values()] == ["SUCCESS", "FAILED", "SUCCESS"]
    assert receiver.bodies == []
