"""Take-profit legs at the firms, live against the simulator over HTTP (PostgreSQL): the target
rests in each firm's book after the entry, linked to the entry and to its stop; a price through
it fills it and cancels the stop; an exit cancels it (full) or fits it to what is left (partial).

Sizes (tests/e2e/live_support.py): APEX program 1 trades 3 NQ, TOPSTEP 3 (3% of 50,000 on a
25-point stop), FTMO 2 contracts = 40 lots of US100.cash (a cash CFD quoted at 16380)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from simulator import metaapi, projectx, tradovate_orders
from tests.e2e.live_support import backend, sim, ENTRY, EXIT, live_env, post  # noqa: F401 (fixtures)

TARGETED = dict(ENTRY, take_profit_points=40)  # 16540: 40 points above the long entry
PARTIAL = dict(EXIT, event_type="EXIT_PARTIAL", exit_contracts=1)
APEX_ACCOUNT, TOPSTEP_ACCOUNT, FTMO_ACCOUNT = 201, 301, "sim-mt5-1"


@pytest.fixture
def firm(make_app, sim):
    """A webhook client routing to one live firm."""
    def factory(code: str):
        app = make_app(**live_env(sim.url, ROUTE_TO_FIRMS=code, TOPSTEP_1_RISK_PER_TRADE="0.03"))
        return app.test_client()
    return factory


def result_of(response):
    (result,) = response.get_json()["connector_results"]
    return result


def trade(db):
    return tuple(db.execute(text("SELECT status, contracts_open FROM trade_positions")).one())


def legs_cut(stop: dict, target: dict, left: int) -> dict:
    """The exit's `stop_adjustment` when both 3-lot legs were cut to `left` (0: cancelled)."""
    return {"status": "ADJUSTED", "position_left": left, "orders": [
        {"order_id": str(leg["id"]), "leg": name, "contracts_before": 3, "contracts_after": left}
        for name, leg in (("STOP", stop), ("TARGET", target))]}


# ---- APEX: Tradovate placeOSO bracket2 -----------------------------------------------------------

def apex_book(sim) -> dict[str, dict]:
    """The account's working bracket orders by type (Stop / Limit)."""
    return {o["orderType"]: o for o in sim.working_stops(APEX_ACCOUNT)}


def apex_net(sim) -> int:
    with sim.lock:
        return sum(n for (a, _), n in sim.tradovate_net.items() if a == APEX_ACCOUNT)


def test_apex_the_target_rests_as_a_limit_linked_to_the_entry_and_oco_with_the_stop(firm, sim, db):
    client = firm("APEX")
    result = result_of(post(client, TARGETED))
    assert result["status"] == "SUCCESS" and result["details"]["take_profit"] == 16540.0
    (entry,) = [o for o in sim.orders_for("APEX") if o["kind"] == "OPEN"]
    assert entry["body"]["bracket2"] == {"action": "Sell", "orderType": "Limit", "price": 16540.0}
    book = apex_book(sim)
    stop, target = book["Stop"], book["Limit"]
    assert (target["action"], target["orderQty"], target["price"]) == ("Sell", 3, 16540.0)
    assert (target["parentId"], target["linkedId"], stop["linkedId"]) == (entry["id"], stop["id"], target["id"])
    assert (result["stop_order_id"], result["target_order_id"]) == (str(stop["id"]), str(target["id"]))

    tradovate_orders.reach(sim, APEX_ACCOUNT, 16541)  # the market trades through the target
    assert apex_net(sim) == 0 and apex_book(sim) == {}  # filled, and its OCO stop cancelled
    late = result_of(post(client, EXIT))
    assert (late["status"], late["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert trade(db) == ("CLOSED", 0)


def test_apex_a_full_exit_leaves_no_target_working(firm, sim, db):
    client = firm("APEX")
    post(client, TARGETED)
    ids = {o["id"] for o in apex_book(sim).values()}
    assert result_of(post(client, EXIT))["status"] == "SUCCESS"
    assert apex_book(sim) == {} and {sim.tradovate_orders[i]["ordStatus"] for i in ids} == {"Canceled"}
    tradovate_orders.reach(sim, APEX_ACCOUNT, 16600)  # a stale target would have sold 3 here
    assert apex_net(sim) == 0 and trade(db) == ("CLOSED", 0)


def test_apex_a_partial_exit_cuts_the_stop_and_the_target_to_the_position_left(firm, sim, db):
    client = firm("APEX")
    post(client, TARGETED)
    before = apex_book(sim)
    result = result_of(post(client, PARTIAL))
    assert result["status"] == "SUCCESS"
    assert result["stop_adjustment"] == legs_cut(before["Stop"], before["Limit"], 2)
    after = apex_book(sim)
    assert (after["Limit"]["orderQty"], after["Limit"]["price"]) == (2, 16540.0)  # the same price, the size left
    tradovate_orders.reach(sim, APEX_ACCOUNT, 16540)
    assert apex_net(sim) == 0 and apex_book(sim) == {}  # flat, not short


def test_apex_an_exit_after_a_close_by_hand_cancels_the_target_too(firm, sim, db):
    client = firm("APEX")
    post(client, TARGETED)
    with sim.lock:
        for key in sim.tradovate_net:
            sim.tradovate_net[key] = 0
    result = result_of(post(client, EXIT))
    assert (result["status"], result["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM")
    assert [(o["leg"], o["contracts_after"]) for o in result["stop_adjustment"]["orders"]] == [("STOP", 0), ("TARGET", 0)]
    assert apex_book(sim) == {}


def test_apex_a_refused_target_change_says_so_and_keeps_the_exit(firm, sim, db):
    client = firm("APEX")
    post(client, TARGETED)
    sim.set_faults("APEX", refuse_modify=1)  # the stop's cut is refused: the target is not tried after it
    result = result_of(post(client, PARTIAL))
    adjustment = result["stop_adjustment"]
    assert result["status"] == "SUCCESS" and adjustment["status"] == "STOP_NOT_ADJUSTED"
    assert "take-profit target" in adjustment["message"] and adjustment["position_left"] == 2
    assert adjustment["orders"] == [] and sorted(o["orderQty"] for o in apex_book(sim).values()) == [3, 3]
    assert trade(db) == ("OPEN", 2)


# ---- TOPSTEP: ProjectX takeProfitBracket ---------------------------------------------------------

def topstep_book(sim) -> dict[int, dict]:
    """The account's resting orders by ProjectX type (4 Stop, 1 Limit)."""
    return {o["type"]: o for o in projectx.working_orders(sim, TOPSTEP_ACCOUNT)}


def topstep_net(sim) -> int:
    with sim.lock:
        return sum(n for (a, _), n in sim.projectx_positions.items() if a == TOPSTEP_ACCOUNT)


def test_topstep_the_target_rests_as_a_limit_bracket_signed_opposite_to_the_stop(firm, sim, db):
    client = firm("TOPSTEP")
    assert result_of(post(client, TARGETED))["status"] == "SUCCESS"
    (entry,) = [o for o in sim.orders_for("TOPSTEP") if o["kind"] == "OPEN"]
    assert (entry["body"]["stopLossBracket"], entry["body"]["takeProfitBracket"]) == (
        {"ticks": -100, "type": 4}, {"ticks": 160, "type": 1})
    book = topstep_book(sim)
    assert (book[1]["side"], book[1]["size"], book[1]["limitPrice"]) == (1, 3, 16540.0)
    projectx.reach(sim, TOPSTEP_ACCOUNT, 16540)
    assert topstep_net(sim) == 0 and topstep_book(sim) == {}  # the target filled, its OCO stop cancelled
    assert [o["status"] for o in sim.projectx_orders if o["type"] == 4] == [3]


def test_topstep_a_full_exit_cancels_the_target_the_close_left_working(firm, sim, db):
    client = firm("TOPSTEP")
    post(client, TARGETED)
    book = topstep_book(sim)
    result = result_of(post(client, EXIT))
    assert result["status"] == "SUCCESS" and result["stop_adjustment"] == legs_cut(book[4], book[1], 0)
    assert topstep_book(sim) == {} and topstep_net(sim) == 0
    projectx.reach(sim, TOPSTEP_ACCOUNT, 16600)
    assert topstep_net(sim) == 0 and trade(db) == ("CLOSED", 0)  # nothing left to fill into a short


def test_topstep_a_partial_exit_cuts_the_target_to_the_size_left(firm, sim, db):
    client = firm("TOPSTEP")
    post(client, TARGETED)
    result = result_of(post(client, PARTIAL))
    assert [(o["leg"], o["contracts_after"]) for o in result["stop_adjustment"]["orders"]] == [("STOP", 2), ("TARGET", 2)]
    book = topstep_book(sim)
    assert (book[1]["size"], book[1]["limitPrice"], book[4]["size"]) == (2, 16540.0, 2)
    projectx.reach(sim, TOPSTEP_ACCOUNT, 16545)
    assert topstep_net(sim) == 0 and trade(db) == ("OPEN", 2)  # flat at the firm; the router books it on the exit


# ---- FTMO: MetaApi takeProfit -------------------------------------------------------------------

def ftmo_positions(sim) -> list[dict]:
    with sim.lock:
        return [dict(p) for p in sim.metaapi_positions.get(FTMO_ACCOUNT, [])]


def test_ftmo_the_target_is_the_positions_take_profit_at_the_distance_from_the_cfd_fill(firm, sim, db):
    client = firm("FTMO")
    result = result_of(post(client, TARGETED))
    assert result["status"] == "SUCCESS" and result["take_profit_requested"] == {"units": "RELATIVE_PRICE", "value": 40.0}
    (entry,) = [o for o in sim.orders_for("FTMO") if o["kind"] == "OPEN"]
    assert (entry["body"]["takeProfit"], entry["body"]["takeProfitUnits"]) == (40.0, "RELATIVE_PRICE")
    (position,) = ftmo_positions(sim)
    assert (position["takeProfit"], position["stopLoss"], position["volume"]) == (16420.0, 16355.0, 40.0)
    metaapi.reach(sim, FTMO_ACCOUNT, "US100.cash", 16421)
    assert ftmo_positions(sim) == []  # closed by the broker at its take-profit
    (close,) = [o for o in sim.orders_for("FTMO") if o["kind"] == "CLOSE"]
    assert (close["reason"], close["quantity"]) == ("TAKE_PROFIT", 40.0)
    late = result_of(post(client, EXIT))
    assert (late["status"], late["reason"]) == ("SKIPPED", "ALREADY_FLAT_AT_FIRM") and trade(db) == ("CLOSED", 0)


def test_ftmo_a_full_exit_takes_the_target_with_the_position(firm, sim, db):
    client = firm("FTMO")
    post(client, TARGETED)
    assert result_of(post(client, EXIT))["status"] == "SUCCESS"
    assert ftmo_positions(sim) == []
    metaapi.reach(sim, FTMO_ACCOUNT, "US100.cash", 16500)
    assert [o["kind"] for o in sim.orders_for("FTMO")] == ["OPEN", "CLOSE"]  # nothing filled afterwards


def test_ftmo_a_partial_exit_keeps_the_target_on_the_rest_of_the_position(firm, sim, db):
    client = firm("FTMO")
    post(client, TARGETED)
    result = result_of(post(client, PARTIAL))
    assert result["status"] == "SUCCESS" and "stop_adjustment" not in result  # nothing at the firm to fit
    (position,) = ftmo_positions(sim)
    assert (position["volume"], position["takeProfit"]) == (20.0, 16420.0)
    metaapi.reach(sim, FTMO_ACCOUNT, "US100.cash", 16425)
    assert ftmo_positions(sim) == [] and trade(db) == ("OPEN", 1)
