"""APEX against the Tradovate simulator: what Tradovate's documentation says can happen to any
call (penalty tickets, the one-hour 429 lockout), risk rejections found by reconciliation,
contract rolls while the service runs, and what every order carries (isAutomated, the account).
Each test checks what the simulated firm holds and received, through the real webhook."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from observability.notifications import CONNECTOR_FAILED, FIRM_LOCKED_OUT, events_for_result
from tests.e2e.live_support import backend, sim, ENTRY, EXIT, live_env, post  # noqa: F401 (fixtures)

ACCOUNT = 201


@pytest.fixture
def apex(make_app, sim):
    """A webhook client routing to APEX only, and its app."""
    def factory(**overrides: str):
        app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="APEX", **overrides))
        app.extensions["execution_router"].reconcile_min_age = 0.0
        return app, app.test_client()
    return factory


def kinds(sim):
    return [o["kind"] for o in sim.orders_for("APEX")]


def calls(sim, path=""):
    with sim.lock:
        return [p for f, p in sim.requests if f == "APEX" and p.endswith(path)]


def position(db, trade_id=ENTRY["trade_id"]):
    return db.execute(text("SELECT status, contracts_open FROM trade_positions WHERE trade_id = :t"),
                      {"t": trade_id}).one()


def net(sim):
    with sim.lock:
        return {c: n for (a, c), n in sim.tradovate_net.items() if a == ACCOUNT and n}


def result_of(response):
    (result,) = response.get_json()["connector_results"]
    return result


# ---- 1. penalty tickets on reads ----------------------------------------------------------------
def test_a_penalised_position_read_is_waited_out_and_the_exit_closes_once(apex, sim, db):
    _, client = apex()
    post(client, ENTRY)
    sim.set_faults("APEX", penalty=1, penalty_time=0.3, penalty_paths=["/position/list"])
    result = result_of(post(client, EXIT))
    assert result["status"] == "SUCCESS"
    assert kinds(sim) == ["OPEN", "CLOSE"] and net(sim) == {} and sim.working_stops(ACCOUNT) == []
    assert position(db).status == "CLOSED"


def test_a_penalty_on_the_position_read_longer_than_the_deadline_is_never_read_as_flat(apex, sim, db):
    """Read as "no positions", the exit would be booked closed with the position still open at
    Tradovate, and the flat-account branch would cancel its protective stop."""
    _, client = apex()
    post(client, ENTRY)
    sim.set_faults("APEX", penalty=1, penalty_time=30, penalty_paths=["/position/list"])
    result = result_of(post(client, EXIT))
    assert (result["status"], result["reason"]) == ("FAILED", "PENALTY")
    assert kinds(sim) == ["OPEN"]  # nothing closed, nothing cancelled
    assert [s["orderQty"] for s in sim.working_stops(ACCOUNT)] == [3] and list(net(sim).values()) == [3]
    assert tuple(position(db)) == ("OPEN", 3)  # the claim given back: a resent exit closes it


def test_a_captcha_penalty_is_not_retried_and_that_endpoint_is_left_alone_for_the_hour(apex, sim, db):
    _, client = apex()
    post(client, ENTRY)
    sim.set_faults("APEX", penalty=1, penalty_captcha=True, penalty_paths=["/position/list"])
    result = result_of(post(client, EXIT))
    assert (result["status"], result["reason"]) == ("FAILED", "PENALTY_CAPTCHA")
    assert result["lockout"]["notify"] is True
    reads = len(calls(sim, "/position/list"))
    again = result_of(post(client, dict(EXIT, event_type="EXIT_TAKE_PROFIT")))
    assert (again["status"], again["reason"]) == ("FAILED", "PENALTY_CAPTCHA")
    assert len(calls(sim, "/position/list")) == reads  # refused before sending
    assert kinds(sim) == ["OPEN"] and tuple(position(db)) == ("OPEN", 3)


def test_a_penalised_command_list_leaves_an_unanswered_entry_unresolved(apex, sim, db):
    """Reconciliation that read the penalty as "no command" would release a position the firm holds."""
    app, client = apex()
    sim.set_faults("APEX", hang=1, hang_seconds=3.0)
    assert result_of(post(client, ENTRY))["status"] == "UNKNOWN"
    time.sleep(3.2)
    sim.set_faults("APEX", penalty=1, penalty_time=30, penalty_paths=["/command/list"])
    reconciler = app.extensions["execution_router"].reconciler()
    assert [s for _, s in reconciler.reconcile_unresolved()] == ["UNKNOWN"]  # cannot tell: unchanged
    assert position(db).status == "OPEN"
    assert [s for _, s in reconciler.reconcile_unresolved()] == ["SUCCESS"]  # the penalty is over
    assert kinds(sim) == ["OPEN"] and list(net(sim).values()) == [3] and position(db).status == "OPEN"


# ---- 2. HTTP 429: the documented one-hour lockout ------------------------------------------------
def test_a_bare_429_locks_tradovate_out_and_nothing_more_is_sent(apex, sim, db):
    _, client = apex(APEX_SNAPSHOT_POLICY="LEDGER")  # the order path: the failed account read falls back
    sim.set_faults("APEX", lockout=1)
    started = time.monotonic()
    body = post(client, ENTRY).get_json()
    (result,) = body["connector_results"]
    assert (result["status"], result["reason"]) == ("FAILED", "FIRM_LOCKED_OUT")
    assert time.monotonic() - started < 1.0  # no back-off wait
    assert result["lockout"]["notify"] is True
    assert [e.kind for e in events_for_result(body)] == [FIRM_LOCKED_OUT]
    assert position(db).status == "RELEASED" and kinds(sim) == [] and net(sim) == {}
    sent = len(calls(sim))
    body = post(client, dict(ENTRY, trade_id="T-2")).get_json()
    (second,) = body["connector_results"]
    assert (second["status"], second["reason"]) == ("FAILED", "FIRM_LOCKED_OUT")
    assert "until" in second["message"] and second["lockout"]["notify"] is False
    assert events_for_result(body) == []  # told once
    assert len(calls(sim)) == sent and position(db, "T-2").status == "RELEASED"


def test_a_lockout_met_by_an_exits_position_read_keeps_the_position_open(apex, sim, db):
    _, client = apex()
    post(client, ENTRY)
    sim.set_faults("APEX", lockout=1)
    body = post(client, EXIT).get_json()
    (result,) = body["connector_results"]
    assert (result["status"], result["reason"]) == ("FAILED", "FIRM_LOCKED_OUT")
    assert sorted(e.kind for e in events_for_result(body)) == [CONNECTOR_FAILED, FIRM_LOCKED_OUT]
    assert kinds(sim) == ["OPEN"] and list(net(sim).values()) == [3] and len(sim.working_stops(ACCOUNT)) == 1
    assert tuple(position(db)) == ("OPEN", 3)


def test_orders_go_out_again_once_the_lockout_is_over(apex, sim, db, monkeypatch):
    from connectors.tradovate.api import TradovateApi

    monkeypatch.setattr(TradovateApi, "lockout_on_429", 1.0)
    _, client = apex(APEX_SNAPSHOT_POLICY="LEDGER")  # the order path: the failed account read falls back
    sim.set_faults("APEX", lockout=1, lockout_seconds=1.0)
    assert result_of(post(client, ENTRY))["reason"] == "FIRM_LOCKED_OUT"
    time.sleep(1.1)
    assert result_of(post(client, dict(ENTRY, trade_id="T-2")))["status"] == "SUCCESS"
    assert kinds(sim) == ["OPEN"]


# ---- 3. reconciliation reads the order's status -------------------------------------------------
def test_a_risk_rejected_entry_is_failed_and_released(apex, sim, db):
    _, client = apex()
    sim.set_faults("APEX", risk_reject=1)
    result = result_of(post(client, ENTRY))
    assert (result["status"], result["reason"]) == ("FAILED", "MaxPosLimitReached")
    assert position(db).status == "RELEASED" and net(sim) == {}


def test_a_risk_rejected_entry_whose_answer_was_lost_is_reconciled_as_refused(apex, sim, db):
    """The command is at Tradovate, but its report says RiskRejected and its order Rejected:
    nothing is held, so the reservation is given back instead of kept as an open trade."""
    app, client = apex()
    sim.set_faults("APEX", hang=1, hang_seconds=3.0, risk_reject=1)
    assert result_of(post(client, ENTRY))["status"] == "UNKNOWN"
    time.sleep(3.2)
    reconciler = app.extensions["execution_router"].reconciler()
    assert [s for _, s in reconciler.reconcile_unresolved()] == ["FAILED"]
    row = db.execute(text("SELECT status, reason, message FROM connector_orders")).one()
    assert (row.status, row.reason) == ("FAILED", "RECONCILED_REFUSED") and "RiskRejected" in row.message
    assert position(db).status == "RELEASED" and net(sim) == {} and kinds(sim) == ["REJECTED"]


def test_an_entry_cancelled_unfilled_whose_answer_was_lost_is_reconciled_as_refused(apex, sim, db):
    app, client = apex()
    sim.set_faults("APEX", hang=1, hang_seconds=3.0, orders_pending=True)
    assert result_of(post(client, ENTRY))["status"] == "UNKNOWN"
    time.sleep(3.2)
    with sim.lock:  # the market order never traded: Tradovate cancelled it, nothing held
        (order,) = [o for o in sim.tradovate_orders.values() if o["ordStatus"] == "PendingNew"]
        order["ordStatus"] = "Canceled"
        sim.tradovate_net.clear()
    reconciler = app.extensions["execution_router"].reconciler()
    assert [s for _, s in reconciler.reconcile_unresolved()] == ["FAILED"]
    assert position(db).status == "RELEASED"


# ---- 4. contract rolls while the service runs -----------------------------------------------------
def _trade_across_a_roll(client, sim, roll):
    """Entry A, `roll()`, entry B, exit A, exit B: B trades the new month, each exit its entry's."""
    assert result_of(post(client, ENTRY))["contract"] == "NQZ5"
    roll()
    later = dict(ENTRY, trade_id="T-after-roll")
    assert result_of(post(client, later))["contract"] == "NQH6"
    assert result_of(post(client, EXIT))["contract"] == "NQZ5"
    assert result_of(post(client, dict(EXIT, trade_id=later["trade_id"])))["contract"] == "NQH6"
    assert [(o["kind"], o["symbol"]) for o in sim.orders_for("APEX")] == [
        ("OPEN", "NQZ5"), ("OPEN", "NQH6"), ("CLOSE", "NQZ5"), ("CLOSE", "NQH6")]
    assert net(sim) == {} and sim.working_stops(ACCOUNT) == []


def test_after_the_front_month_expires_a_new_entry_trades_the_next_and_the_old_trade_closes_the_old(apex, sim):
    with sim.lock:  # NQZ5's maturity ends in a second
        sim.tradovate_maturities[51]["expirationDate"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1.5))
    _, client = apex()

    def expire_and_roll():
        time.sleep(1.6)
        sim.roll_tradovate("NQ", "NQH6")
    _trade_across_a_roll(client, sim, expire_and_roll)


def test_a_roll_before_expiry_is_picked_up_once_the_front_month_is_asked_again(apex, sim, monkeypatch):
    from connectors.tradovate import api

    monkeypatch.setattr(api, "CONTRACT_TTL", 0.0)  # the age after which /contract/rollcontract is asked again
    _, client = apex()
    _trade_across_a_roll(client, sim, lambda: sim.roll_tradovate("NQ", "NQH6"))


# ---- 5. isAutomated and the account --------------------------------------------------------------
def test_every_order_is_marked_automated_and_names_the_listed_account(apex, sim):
    _, client = apex()
    post(client, ENTRY)
    post(client, dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1))
    post(client, EXIT)
    orders = sim.orders_for("APEX")
    assert [o["kind"] for o in orders] == ["OPEN", "ORDER", "MODIFY", "CLOSE"]
    assert all(o["body"]["isAutomated"] is True for o in orders)
    assert [o["body"].get("accountSpec") for o in orders if o["kind"] in ("OPEN", "ORDER")] == ["APEXSIM201"] * 2
    assert orders[-1]["body"]["accountId"] == ACCOUNT and orders[-1]["body"]["admin"] is False


def test_an_account_tradovate_does_not_list_refuses_orders_naming_the_variable(apex, sim, db):
    _, client = apex(APEX_ACCOUNT_ID="299", APEX_SNAPSHOT_POLICY="LEDGER")  # the order path: the failed account read falls back
    result = result_of(post(client, ENTRY))
    assert (result["status"], result["reason"]) == ("FAILED", "ACCOUNT_NOT_FOUND")
    assert "APEX_1_ACCOUNT_ID (or APEX_ACCOUNT_ID)=299" in result["message"]
    assert kinds(sim) == [] and not calls(sim, "/order/placeOSO") and position(db).status == "RELEASED"


def test_an_inactive_account_refuses_orders(apex, sim, db):
    with sim.lock:
        sim.tradovate_accounts[ACCOUNT]["active"] = False
    _, client = apex(APEX_SNAPSHOT_POLICY="LEDGER")  # the order path: the failed account read falls back
    result = result_of(post(client, ENTRY))
    assert (result["status"], result["reason"]) == ("FAILED", "ACCOUNT_INACTIVE")
    assert "APEXSIM201" in result["message"] and kinds(sim) == []
