"""FTMO through MetaApi end to end: webhook -> router -> HTTP -> the simulated MetaApi, checking
what the simulated account holds (positions, history), not only what the connector said.

MetaApi's result codes (several successes, and -11 "the result of the trade is not known"), its
paged order history, order states, and a cash CFD priced apart from the future the signal quotes.
"""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from simulator import DEFAULT_CREDENTIALS
from simulator.metaapi import add_history
from tests.e2e.live_support import backend, sim, ENTRY, EXIT, live_env, post  # noqa: F401 (fixtures)

ACCOUNT = "sim-mt5-1"
PARTIAL_EXIT = dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)


@pytest.fixture
def ftmo_app(make_app, sim):
    app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS="FTMO"))
    app.extensions["execution_router"].reconcile_min_age = 0.0  # tests reconcile at once
    return app


def opens(sim):
    return [o for o in sim.orders_for("FTMO") if o["kind"] == "OPEN"]


def closes(sim):
    return [o for o in sim.orders_for("FTMO") if o["kind"] == "CLOSE"]


def held(sim):
    """Lots the simulated account holds, by position."""
    return [p["volume"] for p in sim.metaapi_positions.get(ACCOUNT, [])]


def trades_sent(sim):
    return [path for firm, path in sim.requests if firm == "FTMO" and path.endswith("/trade")]


def position(db):
    return db.execute(text("SELECT status, contracts_open FROM trade_positions WHERE firm_code = 'FTMO'")).one()


def journal(db):
    return [tuple(r) for r in db.execute(text(
        "SELECT action, status, reason FROM connector_orders WHERE firm_code = 'FTMO' ORDER BY id")).all()]


def reconcile(app):
    return [status for _, status in app.extensions["execution_router"].reconciler().reconcile_unresolved()]


# ---- result codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ERR_NO_ERROR", "TRADE_RETCODE_NO_CHANGES"])
def test_a_documented_success_code_other_than_done_books_the_position_the_firm_holds(ftmo_app, sim, db, code):
    client = ftmo_app.test_client()
    sim.set_faults("FTMO", retcode=code)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS" and result["result_code"] == code
    assert position(db) == ("OPEN", 2) and held(sim) == [40.0]
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "SUCCESS"
    assert held(sim) == [] and len(opens(sim)) == 1 and len(closes(sim)) == 1
    assert position(db).status == "CLOSED"


def test_disconnected_during_trade_that_executed_is_unknown_then_found_and_never_resent(ftmo_app, sim, db):
    client = ftmo_app.test_client()
    sim.set_faults("FTMO", retcode="TRADE_RETCODE_DISCONNECTED_DURING_TRADE", retcode_executed=True)
    result = post(client, ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("UNKNOWN", "TRADE_RETCODE_DISCONNECTED_DURING_TRADE")
    assert position(db) == ("OPEN", 2) and held(sim) == [40.0]  # kept: the firm holds it
    assert reconcile(ftmo_app) == ["SUCCESS"]
    assert post(client, EXIT).get_json()["connector_results"][0]["status"] == "SUCCESS"
    assert len(opens(sim)) == 1 and len(closes(sim)) == 1 and held(sim) == []
    assert len(trades_sent(sim)) == 2  # the entry once, the exit once


def test_disconnected_during_trade_that_did_not_execute_is_reconciled_as_failed_and_released(ftmo_app, sim, db):
    client = ftmo_app.test_client()
    sim.set_faults("FTMO", retcode="TRADE_RETCODE_DISCONNECTED_DURING_TRADE", retcode_executed=False)
    assert post(client, ENTRY).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    assert position(db).status == "OPEN"  # until the firm says otherwise
    assert reconcile(ftmo_app) == ["FAILED"]
    assert position(db).status == "RELEASED" and held(sim) == [] and opens(sim) == []
    assert len(trades_sent(sim)) == 1  # never resent


def test_a_refusal_code_fails_the_entry_and_holds_nothing(ftmo_app, sim, db):
    sim.set_faults("FTMO", retcode="TRADE_RETCODE_REJECT", retcode_executed=False)
    result = post(ftmo_app.test_client(), ENTRY).get_json()["connector_results"][0]
    assert (result["status"], result["reason"]) == ("FAILED", "TRADE_RETCODE_REJECT")
    assert position(db).status == "RELEASED" and held(sim) == []


# ---- paged history ------------------------------------------------------------------------------

def test_an_unanswered_partial_exit_on_the_second_history_page_is_found(ftmo_app, sim, db):
    """A partial close leaves the position open: only its history order tells it went through,
    and with a full page of older orders in the account it is on page 2."""
    client = ftmo_app.test_client()
    add_history(sim, ACCOUNT, 1000)
    post(client, ENTRY)
    sim.set_faults("FTMO", hang=1, hang_seconds=3.0)
    assert post(client, PARTIAL_EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    assert reconcile(ftmo_app) == ["SUCCESS"]
    assert position(db) == ("OPEN", 1) and held(sim) == [20.0]  # the claim is not restored
    assert [(o["quantity"], o["body"]["actionType"]) for o in closes(sim)] == [(20.0, "POSITION_PARTIAL")]


def test_the_simulated_history_honours_the_documented_page_limit(sim):
    add_history(sim, ACCOUNT, 1001)
    url = f"{sim.url}/users/current/accounts/{ACCOUNT}/history-orders/time/2020-01-01T00:00:00Z/2100-01-01T00:00:00Z"
    headers = {"auth-token": DEFAULT_CREDENTIALS["FTMO_API_KEY"]}
    assert len(requests.get(url, headers=headers, timeout=5).json()) == 1000  # default limit
    assert len(requests.get(url, headers=headers, params={"offset": 1000}, timeout=5).json()) == 1
    assert requests.get(url, headers=headers, params={"limit": 1001}, timeout=5).status_code == 400


# ---- order states -------------------------------------------------------------------------------

def test_an_unanswered_entry_the_broker_rejected_is_reconciled_as_failed(ftmo_app, sim, db):
    client = ftmo_app.test_client()
    sim.set_faults("FTMO", reject_orders=1, hang=1, hang_seconds=3.0)
    assert post(client, ENTRY).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    assert sim.metaapi_history[ACCOUNT][0]["state"] == "ORDER_STATE_REJECTED"
    assert reconcile(ftmo_app) == ["FAILED"]
    assert position(db).status == "RELEASED" and held(sim) == [] and opens(sim) == []
    assert journal(db)[-1] == ("ENTRY", "FAILED", "RECONCILED_REFUSED")


def test_an_unanswered_partial_exit_the_broker_rejected_gives_its_contracts_back(ftmo_app, sim, db):
    client = ftmo_app.test_client()
    post(client, ENTRY)
    sim.set_faults("FTMO", reject_orders=1, hang=1, hang_seconds=3.0)
    assert post(client, PARTIAL_EXIT).get_json()["connector_results"][0]["status"] == "UNKNOWN"
    assert reconcile(ftmo_app) == ["FAILED"]
    assert position(db) == ("OPEN", 2) and held(sim) == [40.0]  # what the firm still holds
    assert closes(sim) == []


# ---- the stop is a distance on the CFD ----------------------------------------------------------

@pytest.mark.parametrize("direction,entry,stop,side,cfd_stop", [
    ("Bullish", 16500.0, 16475.0, "BUY", 16380.0 - 25), ("Bearish", 16500.0, 16525.0, "SELL", 16380.0 + 25)])
def test_the_futures_stop_is_sent_as_its_distance_from_the_cfd_fill(ftmo_app, sim, db, direction, entry, stop, side,
                                                                     cfd_stop):
    signal = dict(ENTRY, direction=direction, entry_price=entry, stop_loss=stop)
    result = post(ftmo_app.test_client(), signal).get_json()["connector_results"][0]
    assert result["status"] == "SUCCESS"
    requested = {"units": "RELATIVE_PRICE", "value": 25.0}
    assert result["stop_loss_requested"] == requested and result["details"]["stop_loss_requested"] == requested
    order, = opens(sim)
    assert (order["side"], order["body"]["stopLoss"], order["body"]["stopLossUnits"]) == (side, 25.0, "RELATIVE_PRICE")
    assert order["stop"] == cfd_stop and sim.metaapi_positions[ACCOUNT][0]["stopLoss"] == cfd_stop


def test_the_simulated_cfd_refuses_a_futures_price_as_an_absolute_stop(sim):
    """US100.cash trades at 16380 while NQ is at 16500: the future's stop 16475 is above the CFD's
    price, on the wrong side for a long."""
    response = requests.post(f"{sim.url}/users/current/accounts/{ACCOUNT}/trade", timeout=5,
                             headers={"auth-token": DEFAULT_CREDENTIALS["FTMO_API_KEY"]},
                             json={"actionType": "ORDER_TYPE_BUY", "symbol": "US100.cash", "volume": 1.0,
                                   "stopLoss": 16475.0})
    assert response.json()["stringCode"] == "TRADE_RETCODE_INVALID_STOPS"
    assert sim.metaapi_positions.get(ACCOUNT, []) == []


# ---- account information ------------------------------------------------------------------------

def test_account_status_reads_the_documented_account_information_path(ftmo_app, sim):
    status = ftmo_app.extensions["execution_router"].connectors["FTMO"].get_account_status()
    assert status["accounts"][1] == {"balance": 100000.0, "equity": 100000.0, "currency": "USD"}
    assert ("FTMO", f"/users/current/accounts/{ACCOUNT}/accountInformation") in sim.requests
