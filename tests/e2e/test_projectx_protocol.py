"""TOPSTEP's ProjectX Gateway end to end: webhook -> router -> HTTP -> the simulator (PostgreSQL).

Each test checks the simulator's book: what the firm holds, which orders still rest there, and
that nothing was sent twice.
"""
from __future__ import annotations

import time

import requests
from sqlalchemy import text

from connectors import topstep_connector
from simulator import projectx
from tests.e2e.live_support import ENTRY, EXIT, backend, live_env, post, sim  # noqa: F401 (fixtures)
from tests.e2e.receiver import receiver  # noqa: F401 (fixture)
import pytest

ACCOUNT = 301
OLD, NEW = "CON.F.US.ENQ.Z25", "CON.F.US.ENQ.H26"
SHORT = dict(ENTRY, trade_id="T-SHORT", direction="Bearish", stop_loss=16525.0)


@pytest.fixture
def topstep(make_app, sim):
    """A live TOPSTEP-only app; `contracts=3` sizes 3 contracts a trade (3% of 50,000 on a 25-point NQ stop)."""
    def factory(contracts: int = 1, **overrides: str):
        env = live_env(sim.url, ROUTE_TO_FIRMS="TOPSTEP", TOPSTEP_1_RISK_PER_TRADE=str(0.01 * contracts), **overrides)
        app = make_app(**env)
        app.extensions["execution_router"].reconcile_min_age = 0.0
        return app
    return factory


def sent(sim, kind: str) -> list[dict]:
    return [o for o in sim.orders_for("TOPSTEP") if o["kind"] == kind]


def held(sim) -> dict:
    return {contract: n for (_, contract), n in sim.projectx_positions.items() if n}


def stops(sim) -> list[tuple[str, int, int, float]]:
    """(contract, side, size, stop price) of the account's resting stop orders."""
    return [(o["contractId"], o["side"], o["size"], o["stopPrice"]) for o in projectx.working_orders(sim, ACCOUNT)
            if o["type"] == 4]


def trade(db, trade_id: str = ENTRY["trade_id"]):
    return db.execute(text("SELECT status, contracts_open, firm_contract FROM trade_positions WHERE trade_id = :t"),
                      {"t": trade_id}).one()


def last_journal_message(db) -> str:
    return db.execute(text("SELECT message FROM connector_orders ORDER BY id DESC LIMIT 1")).scalar_one()


# ---- bracket ticks and bracket modes ---------------------------------------------------------

def test_a_long_entry_sends_its_stop_as_negative_ticks_and_the_stop_rests_below(topstep, sim, db):
    """The live gateway refuses a long's positive stop ticks ("Ticks should be less than zero when
    longing"): sent unsigned, every long entry with a stop would fail."""
    result = post(topstep().test_client(), ENTRY).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    (entry,) = sent(sim, "OPEN")
    assert entry["body"]["stopLossBracket"] == {"ticks": -100, "type": 4}
    assert stops(sim) == [(OLD, 1, 1, 16475.0)]  # a sell stop, 25 points below the fill
    assert held(sim) == {OLD: 1} and trade(db).status == "OPEN"


def test_a_short_entry_sends_its_stop_as_positive_ticks(topstep, sim):
    result = post(topstep().test_client(), SHORT).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert sent(sim, "OPEN")[0]["body"]["stopLossBracket"] == {"ticks": 100, "type": 4}
    assert stops(sim) == [(OLD, 0, 1, 16525.0)] and held(sim) == {OLD: -1}


def test_the_simulator_refuses_a_wrongly_signed_stop_as_the_gateway_does(sim):
    """errorCode 2 and the observed text; the rejected order is still created, with its id."""
    token = requests.post(f"{sim.url}/api/Auth/loginKey", json={"userName": "sim-topstep", "apiKey": "sim-projectx-key"},
                          timeout=5).json()["token"]
    answer = requests.post(f"{sim.url}/api/Order/place", headers={"Authorization": f"Bearer {token}"}, timeout=5, json={
        "accountId": ACCOUNT, "contractId": OLD, "type": 2, "side": 0, "size": 1, "customTag": "t-1",
        "stopLossBracket": {"ticks": 40, "type": 4}}).json()
    assert (answer["success"], answer["errorCode"], answer["errorMessage"]) == (
        False, 2, "Invalid stop loss ticks (40). Ticks should be less than zero when longing.")
    assert [(o["id"], o["status"]) for o in sim.projectx_orders] == [(answer["orderId"], 5)]
    assert held(sim) == {}


def test_an_account_in_position_brackets_mode_is_refused_with_what_to_change(topstep, sim, db):
    """API brackets need Auto OCO Brackets; the trader must read that, not an error code."""
    sim.set_faults("TOPSTEP", position_brackets=True)
    result = post(topstep().test_client(), ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "POSITION_BRACKETS_MODE")
    assert "Enable Auto OCO Brackets" in result["message"] and "flat" in result["message"]
    assert [o["status"] for o in sim.projectx_orders] == [5]  # created as Rejected at the firm, nothing else
    assert held(sim) == {} and stops(sim) == []
    assert trade(db).status == "RELEASED"


# ---- the bracket after an exit -----------------------------------------------------------------

def test_a_full_exit_cancels_the_bracket_stop_the_close_left_working(topstep, sim, db):
    """closeContract leaves the Auto OCO stop working: on a flat account its fill opens a position."""
    client = topstep().test_client()
    post(client, ENTRY)
    (stop,) = projectx.working_orders(sim, ACCOUNT)
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert result["stop_adjustment"] == {"status": "ADJUSTED", "position_left": 0, "orders": [
        {"order_id": str(stop["id"]), "leg": "STOP", "contracts_before": 1, "contracts_after": 0}]}
    assert projectx.working_orders(sim, ACCOUNT) == []
    projectx.fire_stops(sim, ACCOUNT)
    assert held(sim) == {}  # nothing left to fill into a position
    assert [o["kind"] for o in sim.orders_for("TOPSTEP")] == ["OPEN", "CLOSE", "CANCEL"]
    assert trade(db).status == "CLOSED"


def test_a_partial_exit_cuts_the_bracket_stop_to_the_size_left(topstep, sim, db):
    """Left at 3 after closing 1 of 3, the stop's fill would sell 3 into a 2-lot long: 1 short."""
    client = topstep(contracts=3).test_client()
    post(client, ENTRY)
    (stop,) = projectx.working_orders(sim, ACCOUNT)
    result = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    assert result["stop_adjustment"] == {"status": "ADJUSTED", "position_left": 2, "orders": [
        {"order_id": str(stop["id"]), "leg": "STOP", "contracts_before": 3, "contracts_after": 2}]}
    assert stops(sim) == [(OLD, 1, 2, 16475.0)]  # same price, the size left
    (modify,) = sent(sim, "MODIFY")
    assert modify["body"] == {"accountId": ACCOUNT, "orderId": stop["id"], "size": 2, "limitPrice": None,
                              "stopPrice": 16475.0, "trailPrice": None}
    projectx.fire_stops(sim, ACCOUNT)
    assert held(sim) == {}  # flat, not short
    assert trade(db).contracts_open == 2


def test_a_refused_bracket_change_keeps_the_done_exit_and_tells_the_trader(topstep, sim, db):
    from observability.notifications import STOP_NOT_ADJUSTED, events_for_result

    client = topstep(contracts=3).test_client()
    post(client, ENTRY)
    sim.set_faults("TOPSTEP", refuse_modify=1)
    body = post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)).get_json()
    (result,) = body["connector_results"]
    assert result["status"] == "SUCCESS" and result["stop_adjustment"]["status"] == STOP_NOT_ADJUSTED
    assert "adjust it in TopstepX" in result["stop_adjustment"]["message"]
    assert stops(sim) == [(OLD, 1, 3, 16475.0)] and held(sim) == {OLD: 2}
    (event,) = [e for e in events_for_result(body) if e.kind == STOP_NOT_ADJUSTED]
    assert event.data["position_left"] == 2 and "TOPSTEP program 1" in event.text
    assert "STOP_NOT_ADJUSTED" in last_journal_message(db)


def test_an_exit_after_a_close_by_hand_cancels_the_stop_left_working(topstep, sim, db):
    client = topstep().test_client()
    post(client, ENTRY)
    with sim.lock:
        sim.projectx_positions[(ACCOUNT, OLD)] = 0
    result = post(client, EXIT).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert result["stop_adjustment"]["status"] == "ADJUSTED" and stops(sim) == []
    assert [o["kind"] for o in sim.orders_for("TOPSTEP")] == ["OPEN", "CANCEL"]  # no closing order


def test_an_exit_whose_answer_was_lost_gets_its_bracket_cancelled_by_reconciliation(topstep, sim, db):
    app = topstep()
    client = app.test_client()
    post(client, ENTRY)
    sim.set_faults("TOPSTEP", hang=1, hang_seconds=2.0)  # executed, answered after the read timeout
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(2.1)
    assert held(sim) == {} and len(stops(sim)) == 1
    resolved = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    assert [status for _, status in resolved] == ["SUCCESS"]
    assert stops(sim) == [] and len(sent(sim, "CLOSE")) == 1
    assert "bracket orders cut to the 0 contract(s) held" in last_journal_message(db)


def test_a_bracket_reconciliation_could_not_cancel_is_notified(topstep, sim, db, receiver):
    app = topstep(NOTIFY_WEBHOOK_URL=f"{receiver.url}/hook")
    client = app.test_client()
    post(client, ENTRY)
    sim.set_faults("TOPSTEP", hang=1, hang_seconds=2.0)
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(2.1)
    sim.set_faults("TOPSTEP", refuse_modify=1)
    try:
        statuses = [s for _, s in app.extensions["execution_router"].reconciler().reconcile_unresolved()]
        receiver.wait_for(1)
    finally:
        app.extensions["notifier"].close()
    assert statuses == ["SUCCESS"]
    (note,) = [b for _, b in receiver.bodies if b["kind"] == "STOP_NOT_ADJUSTED"]
    assert note["firm_code"] == "TOPSTEP" and "found by reconciliation" in note["text"]
    assert len(stops(sim)) == 1  # still working: hence the message


# ---- reconciliation reads the order's status ---------------------------------------------------

def test_an_entry_the_firm_recorded_as_rejected_is_released_by_reconciliation(topstep, sim, db):
    """Found by its customTag but Rejected (status 5): nothing is held, so nothing stays booked."""
    app = topstep()
    client = app.test_client()
    sim.set_faults("TOPSTEP", reject_orders=1, hang=1, hang_seconds=2.0)
    assert post(client, ENTRY).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    time.sleep(2.1)
    resolved = app.extensions["execution_router"].reconciler().reconcile_unresolved()
    assert [status for _, status in resolved] == ["FAILED"]
    assert db.execute(text("SELECT reason FROM connector_orders")).scalar_one() == "RECONCILED_REFUSED"
    assert trade(db).status == "RELEASED"
    assert held(sim) == {} and [o["status"] for o in sim.projectx_orders] == [5] and len(sent(sim, "OPEN")) == 1


# ---- contract rolls ----------------------------------------------------------------------------

def _roll(sim) -> None:
    projectx.roll(sim, OLD, {"id": NEW, "name": "ENQH26", "tickSize": 0.25, "tickValue": 5.0})


def test_after_a_roll_a_new_entry_trades_the_new_front_month_and_the_old_trade_closes_the_old(topstep, sim, db,
                                                                                               monkeypatch):
    client = topstep(TOPSTEP_SNAPSHOT_POLICY="LEDGER").test_client()  # a second trade while one is open
    post(client, ENTRY)
    _roll(sim)
    monkeypatch.setattr(topstep_connector, "CONTRACT_MAX_AGE", 0.0)  # the process has run past the cache's age
    second = post(client, dict(ENTRY, trade_id="T-2")).get_json()["connector_results"][0]
    assert (second["status"], second["contract"]) == ("SUCCESS", NEW)
    assert held(sim) == {OLD: 1, NEW: 1}
    first_exit = post(client, EXIT).get_json()["connector_results"][0]
    assert (first_exit["status"], first_exit["contract"]) == ("SUCCESS", OLD)
    assert held(sim) == {NEW: 1} and stops(sim) == [(NEW, 1, 1, 16475.0)]  # the new trade's stop untouched
    post(client, dict(EXIT, trade_id="T-2"))
    assert [c["symbol"] for c in sent(sim, "CLOSE")] == [OLD, NEW]
    assert held(sim) == {} and stops(sim) == []
    assert (trade(db).firm_contract, trade(db, "T-2").firm_contract) == (OLD, NEW)


def test_an_entry_refused_as_not_active_makes_the_next_one_resolve_the_front_month(topstep, sim, db):
    client = topstep(TOPSTEP_SNAPSHOT_POLICY="LEDGER").test_client()  # a second trade while one is open
    post(client, ENTRY)
    _roll(sim)
    refused = post(client, dict(ENTRY, trade_id="T-2")).get_json()["connector_results"][0]
    assert (refused["status"], refused["reason"]) == ("FAILED", "CONTRACT_NOT_ACTIVE")
    assert trade(db, "T-2").status == "RELEASED"
    third = post(client, dict(ENTRY, trade_id="T-3")).get_json()["connector_results"][0]
    assert (third["status"], third["contract"]) == ("SUCCESS", NEW)
    assert held(sim) == {OLD: 1, NEW: 1} and len(sent(sim, "OPEN")) == 2
