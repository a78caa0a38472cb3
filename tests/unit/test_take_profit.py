"""An entry's take-profit target: how the signal resolves it, and how each firm's connector sends
it, checked against the firm's own documented request examples (tests/fixtures/firm_docs/)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connectors import OrderRequest, client_order_id
from connectors.http_client import Deadline
from signals import SignalError, parse_signal
from signals.dialects import read_alert
from tests.unit import test_metaapi_fixtures as metaapi
from tests.unit import test_projectx_fixtures as projectx
from tests.unit import test_tradovate_fixtures as tradovate

ENTRY = {"event_type": "SIGNAL_CREATED", "trade_id": "T", "direction": "Bullish", "entry_price": 16500,
         "stop_loss": 16475, "symbol": "NQ1!"}
SHORT = dict(ENTRY, direction="Bearish", stop_loss=16525)


def target(**fields) -> Decimal | None:
    return parse_signal({**ENTRY, **fields}).target_price


def problems(payload: dict) -> dict[str, str]:
    with pytest.raises(SignalError) as exc:
        parse_signal(payload)
    return exc.value.fields


# ---- the signal ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fields,price", [
    ({"take_profit": 16550}, Decimal("16550")),
    ({"take_profit": "16550.5"}, Decimal("16550.5")),
    ({"take_profit_points": 40}, Decimal("16540")),
    ({"take_profit_points": "30.1"}, Decimal("16530")),  # to the nearest NQ tick (0.25)
    ({"take_profit_percent": "0.5"}, Decimal("16582.5")),
    ({"take_profit_percent": "0.33"}, Decimal("16554.5")),  # 16554.45 -> the tick grid
    ({}, None),
])
def test_a_long_target_is_a_price_or_a_distance_above_the_entry_on_the_tick_grid(fields, price):
    assert target(**fields) == price


def test_a_short_target_lies_below_the_entry():
    assert parse_signal(dict(SHORT, take_profit_points=40)).target_price == Decimal("16460")
    assert parse_signal(dict(SHORT, take_profit_percent=1)).target_price == Decimal("16335")


@pytest.mark.parametrize("payload,field,words", [
    (dict(ENTRY, take_profit=16400), "take_profit", "above entry_price"),
    (dict(ENTRY, take_profit=16500), "take_profit", "above entry_price"),
    (dict(ENTRY, take_profit="16500.1"), "take_profit", "at least one tick"),  # rounds onto the entry
    (dict(SHORT, take_profit=16600), "take_profit", "below entry_price"),
    (dict(SHORT, take_profit_points=20000), "take_profit_points", "not a price"),
    (dict(ENTRY, take_profit_points=-5), "take_profit_points", "greater than 0"),
    (dict(ENTRY, take_profit_percent=100), "take_profit_percent", "less than 100"),
    (dict(ENTRY, take_profit_percent="NaN"), "take_profit_percent", "finite"),
    (dict(ENTRY, take_profit="Infinity"), "take_profit", "finite"),
    (dict(ENTRY, take_profit=True), "take_profit", "not true/false"),
    (dict(ENTRY, take_profit=10**8), "take_profit", "less than"),
    (dict(ENTRY, take_profit=16550, take_profit_points=40), "take_profit_points", "give one of"),
    (dict(ENTRY, stop_loss=16600, take_profit=16550), "take_profit", "above stop_loss"),  # and of the stop
])
def test_a_target_that_is_not_one_price_on_the_profit_side_is_named(payload, field, words):
    assert words in problems(payload)[field]


def test_an_exit_carries_no_target():
    assert parse_signal({"event_type": "EXIT", "trade_id": "T", "take_profit": 1, "take_profit_points": 2}).target_price is None


def test_an_entry_needs_no_stop_to_be_a_signal():
    """Whether it may go without one is the program's sizing mode's call."""
    signal = parse_signal({k: v for k, v in ENTRY.items() if k != "stop_loss"} | {"take_profit_points": 40})
    assert (signal.stop_loss, signal.target_price) == (None, Decimal("16540"))
    assert "stop_loss" in problems(dict(ENTRY, stop_loss=16600))  # a stop on the wrong side still is not


def test_a_tradingview_strategy_alert_may_carry_a_target():
    alert = read_alert({"ticker": "NQ1!", "action": "buy", "market_position": "long", "contracts": 1,
                        "position_size": 1, "price": 16500, "stop_loss": 16475, "take_profit_points": "40"})
    assert parse_signal({**alert.fields, "trade_id": "X"}).target_price == Decimal("16540")
    empty = read_alert({"ticker": "NQ1!", "action": "buy", "market_position": "long", "contracts": 1,
                        "position_size": 1, "price": 16500, "take_profit": ""})  # an empty placeholder: none
    assert "take_profit" not in empty.fields


# ---- each firm's documented request ---------------------------------------------------------------

def order(firm: str, direction: str = "LONG", stop: str | None = "16475", target: str | None = "16540",
          symbol: str = "NQ") -> OrderRequest:
    return OrderRequest(action="ENTRY", firm_code=firm, program_id=1, trade_id="T", task_id=7, symbol=symbol,
                        direction=direction, contracts=1, entry_price=Decimal("16500"),
                        stop_loss=None if stop is None else Decimal(stop),
                        take_profit=None if target is None else Decimal(target),
                        client_order_id=client_order_id(7, firm, 1, "ENTRY"))


def test_tradovate_a_target_alone_is_the_documented_oso_take_profit_bracket():
    """The place-oso page's own example is exactly this: bracket1 a Limit take-profit."""
    session = tradovate.documented_session(answers=[tradovate.doc("placeoso_response")])
    result = session.send_entry_order(order("APEX", stop=None, target="4200", symbol="ES"), Deadline(2.0))
    path, body = session.sent[-1]
    documented = tradovate.doc("placeoso_request")
    assert path == "/order/placeOSO" and result.status == "SUCCESS"
    assert set(body) - {"bracket1"} <= tradovate.PLACE_ORDER_FIELDS
    assert body["bracket1"] == documented["bracket1"] == {"action": "Sell", "orderType": "Limit", "price": 4200.0}


def test_tradovate_a_stop_and_a_target_are_bracket1_and_bracket2_an_oco():
    session = tradovate.documented_session(answers=[{"orderId": 7, "oso1Id": 8, "oso2Id": 9}])
    result = session.send_entry_order(order("APEX", "SHORT", "16525", "16460", symbol="ES"), Deadline(2.0))
    _, body = session.sent[-1]
    assert set(body["bracket1"]) <= tradovate.BRACKET_FIELDS and set(body["bracket2"]) <= tradovate.BRACKET_FIELDS
    assert (body["bracket1"], body["bracket2"]) == ({"action": "Buy", "orderType": "Stop", "stopPrice": 16525.0},
                                                    {"action": "Buy", "orderType": "Limit", "price": 16460.0})
    assert (result.extra["stop_order_id"], result.extra["target_order_id"]) == ("8", "9")
    assert result.order["take_profit"] == 16460.0


@pytest.mark.parametrize("direction,stop,target,stop_ticks,target_ticks", [
    ("LONG", "16475", "16540", -100, 160), ("SHORT", "16525", "16460", 100, -160)])
def test_projectx_the_target_is_the_documented_take_profit_bracket_signed_against_the_stop(
        direction, stop, target, stop_ticks, target_ticks):
    gateway = projectx.placing("order_place_response")
    assert gateway.send_entry_order(order("TOPSTEP", direction, stop, target)).status == "SUCCESS"
    body, documented = gateway.body("/api/Order/place"), projectx.doc("order_place_request")
    assert set(body) <= set(documented) and set(body["takeProfitBracket"]) == set(documented["takeProfitBracket"])
    assert body["takeProfitBracket"] == {"ticks": target_ticks, "type": 1}  # type 1: Limit, as documented
    assert body["stopLossBracket"] == {"ticks": stop_ticks, "type": 4}


def test_metaapi_the_target_is_the_documented_take_profit_in_relative_units():
    connector, adapter = metaapi.connector_answering(metaapi.always(200, metaapi.doc("trade_response_done.json")))
    result = connector.send_entry_order(order("FTMO"))
    (_, _, _, body), = adapter.sent
    documented = metaapi.doc("trade_request_rest_market_sell.json")
    assert set(documented) <= set(body) <= metaapi.TRADE_FIELDS  # the docs' example sends `takeProfit`
    assert (body["takeProfit"], body["takeProfitUnits"], body["stopLoss"]) == (40.0, "RELATIVE_PRICE", 25.0)
    assert result.order["take_profit_requested"] == {"units": "RELATIVE_PRICE", "value": 40.0}


def test_metaapi_a_target_on_the_losing_side_is_refused_unsent():
    connector, adapter = metaapi.connector_answering(metaapi.always(200, metaapi.doc("trade_response_done.json")))
    result = connector.send_entry_order(order("FTMO", target="16490"))
    assert (result.status, result.reason) == ("FAILED", "TARGET_ON_WRONG_SIDE") and adapter.sent == []
