"""The FTMO connector against MetaApi's own documentation examples (tests/fixtures/firm_docs/metaapi/):
it builds requests with the documented field names and reads the documented answers. No network:
the connector's session is served by a transport adapter that answers with the examples."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from config import parse_settings
from connectors import OrderRequest, client_order_id
from connectors.ftmo_connector import FtmoConnector, metaapi_client_id
from connectors.metaapi_schema import HistoryOrder, TradeAnswer, TradeOutcome
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env

DOCS = Path(__file__).parent.parent / "fixtures" / "firm_docs" / "metaapi"
BASE = "http://metaapi.test"
# https://metaapi.cloud/docs/client/models/metatraderTrade/ (field table; the fields this connector may send)
TRADE_FIELDS = {"symbol", "actionType", "volume", "openPrice", "stopLimitPrice", "stopLoss", "takeProfit", "stopLossUnits",
                "takeProfitUnits", "stopPriceBase", "positionId", "comment", "clientId", "magic", "slippage"}
Answer = tuple[int, Any, dict[str, str]]


def doc(name: str) -> Any:
    return json.loads((DOCS / name).read_text())


class DocumentedMetaApi(BaseAdapter):
    """A requests transport answering from `route(method, path, query, body)`; keeps what was sent."""

    def __init__(self, route: Callable[[str, str, dict[str, list[str]], Any], Answer]):
        super().__init__()
        self.route = route
        self.sent: list[tuple[str, str, dict[str, list[str]], Any]] = []

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' adapter signature
        url = urlparse(request.url)
        body = json.loads(request.body) if request.body else None
        query = parse_qs(url.query)
        self.sent.append((request.method, url.path, query, body))
        status, data, headers = self.route(request.method, url.path, query, body)
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response._content = json.dumps(data).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        return response

    def close(self) -> None:
        pass


def connector_answering(route: Callable[..., Answer]) -> tuple[FtmoConnector, DocumentedMetaApi]:
    settings = parse_settings({**STEP2_ENV, **live_env(BASE)})
    connector = FtmoConnector(settings.firms["FTMO"], dry_run=False)
    adapter = DocumentedMetaApi(route)
    connector.http.session.mount(BASE, adapter)
    return connector, adapter


def order(action: str = "ENTRY", direction: str = "LONG", stop: str | None = "16475") -> OrderRequest:
    from decimal import Decimal

    return OrderRequest(action=action, firm_code="FTMO", program_id=1, trade_id="T", task_id=7, symbol="NQ",
                        direction=direction, contracts=2, entry_price=Decimal("16500"),
                        stop_loss=None if stop is None else Decimal(stop),
                        client_order_id=client_order_id(7, "FTMO", 1, action))


def always(status: int, data: Any, headers: dict[str, str] | None = None) -> Callable[..., Answer]:
    return lambda *_: (status, data, headers or {})


# ---- trade: request and response ----------------------------------------------------------------

def test_the_documented_done_response_is_a_success_with_its_ids():
    connector, _ = connector_answering(always(200, doc("trade_response_done.json")))
    result = connector.send_entry_order(order())
    assert (result.status, result.order_id, result.extra["position_id"]) == ("SUCCESS", "47138322", "46648037")


def test_the_documented_market_sell_response_is_a_success_without_a_position_id():
    connector, _ = connector_answering(always(200, doc("trade_response_rest_market_sell.json")))
    result = connector.send_entry_order(order(direction="SHORT", stop=None))
    assert (result.status, result.order_id, result.extra["position_id"]) == ("SUCCESS", "47137555", None)


def test_a_market_sell_is_the_documented_request_with_our_client_id():
    connector, adapter = connector_answering(always(200, doc("trade_response_rest_market_sell.json")))
    connector.send_entry_order(order(direction="SHORT", stop=None))
    (method, path, _, body), = adapter.sent
    documented = doc("trade_request_rest_market_sell.json")
    assert (method, path) == ("POST", "/users/current/accounts/sim-mt5-1/trade")
    assert body["actionType"] == documented["actionType"] == "ORDER_TYPE_SELL"
    assert set(documented) - {"takeProfit"} <= set(body) <= TRADE_FIELDS
    assert (body["symbol"], body["volume"], body["clientId"]) == (
        "US100.cash", 40.0, metaapi_client_id(client_order_id(7, "FTMO", 1, "ENTRY")))


def test_an_entry_with_a_stop_sends_it_in_the_documented_relative_units():
    connector, adapter = connector_answering(always(200, doc("trade_response_done.json")))
    result = connector.send_entry_order(order())
    (_, _, _, body), = adapter.sent
    assert set(body) <= TRADE_FIELDS
    assert (body["stopLoss"], body["stopLossUnits"]) == (25.0, "RELATIVE_PRICE")
    assert result.extra["stop_loss_requested"] == result.order["stop_loss_requested"] == {
        "units": "RELATIVE_PRICE", "value": 25.0}


def test_a_stop_on_the_wrong_side_of_the_entry_is_refused_unsent():
    connector, adapter = connector_answering(always(200, doc("trade_response_done.json")))
    result = connector.send_entry_order(order(stop="16510"))
    assert (result.status, result.reason) == ("FAILED", "STOP_ON_WRONG_SIDE") and adapter.sent == []


SUCCESS_STRINGS = ["ERR_NO_ERROR", "TRADE_RETCODE_PLACED", "TRADE_RETCODE_DONE", "TRADE_RETCODE_DONE_PARTIAL",
                   "TRADE_RETCODE_NO_CHANGES"]


@pytest.mark.parametrize("data,outcome", [
    *[({"stringCode": code, "numericCode": 1}, TradeOutcome.SUCCESS) for code in SUCCESS_STRINGS],
    *[({"numericCode": code}, TradeOutcome.SUCCESS) for code in (0, 10008, 10009, 10010, 10025)],
    ({"numericCode": -11, "stringCode": "TRADE_RETCODE_DISCONNECTED_DURING_TRADE"}, TradeOutcome.UNKNOWN),
    ({"numericCode": -11}, TradeOutcome.UNKNOWN),
    ({"numericCode": -7, "stringCode": "ERR_TRADE_TIMED_OUT"}, TradeOutcome.UNKNOWN),
    ({}, TradeOutcome.UNKNOWN),
    ({"numericCode": 10006, "stringCode": "TRADE_RETCODE_REJECT"}, TradeOutcome.REFUSED),
    ({"numericCode": -10, "stringCode": "TRADE_RETCODE_DISCONNECTED_BEFORE_TRADE"}, TradeOutcome.REFUSED),
    ({"numericCode": 10016}, TradeOutcome.REFUSED),
])
def test_result_codes_are_read_as_the_trade_response_page_documents(data, outcome):
    assert TradeAnswer.parse(200, data).outcome is outcome


def test_a_metaapi_error_answer_is_a_refusal():
    answer = TradeAnswer.parse(400, {"id": 1, "error": "ValidationError", "message": "Validation failed"})
    assert (answer.outcome, answer.code) == (TradeOutcome.REFUSED, "HTTP_400")


def test_the_documented_429_fails_the_order_unsent_and_is_not_resent():
    connector, adapter = connector_answering(always(429, doc("too_many_requests_error.json"), {"Retry-After": "60"}))
    result = connector.send_entry_order(order())
    assert (result.status, result.reason) == ("FAILED", "RATE_LIMITED") and len(adapter.sent) == 1


# ---- history orders -----------------------------------------------------------------------------

def test_the_documented_history_order_is_read():
    found = HistoryOrder.parse(doc("history_orders_response.json")[0])
    assert (found.id, found.client_id, found.state, found.refused_unfilled) == (
        "46648037", "AS_AUDNZD_3zfxXl3RvJ", "ORDER_STATE_FILLED", False)


@pytest.mark.parametrize("state,current_volume,refused", [
    ("ORDER_STATE_REJECTED", 0.12, True), ("ORDER_STATE_CANCELED", 0.12, True),
    ("ORDER_STATE_CANCELED", 0.05, False),  # partly filled before it was cancelled: something is held
    ("ORDER_STATE_REJECTED", None, False),  # the fill cannot be read: not called refused
    ("ORDER_STATE_FILLED", 0, False)])
def test_only_an_order_ended_unfilled_is_refused(state, current_volume, refused):
    data = {**doc("history_orders_response.json")[0], "state": state, "currentVolume": current_volume}
    assert HistoryOrder.parse(data).refused_unfilled is refused


def ours(entry: OrderRequest, **changes: Any) -> dict[str, Any]:
    """The documented history order, carrying `entry`'s clientId."""
    return {**doc("history_orders_response.json")[0], "clientId": metaapi_client_id(entry.client_order_id), **changes}


def test_a_rejected_entry_in_the_history_is_found_refused():
    entry = order()

    def route(method, path, query, body):
        return (200, [], {}) if path.endswith("/positions") else (
            200, [ours(entry, state="ORDER_STATE_REJECTED", currentVolume=0.12)], {})

    connector, adapter = connector_answering(route)
    lookup = connector.find_order(entry)
    assert (lookup.found, lookup.refused, lookup.firm_order_id) == (True, True, "46648037")
    history_query = next(q for _, p, q, _ in adapter.sent if "/history-orders/time/" in p)
    assert history_query == {"offset": ["0"], "limit": ["1000"]}


def test_the_history_is_read_until_a_short_page():
    entry = order()
    other = doc("history_orders_response.json")[0]

    def route(method, path, query, body):
        if path.endswith("/positions"):
            return 200, [], {}
        offset = int(query["offset"][0])
        return 200, ([dict(other, id=str(n)) for n in range(1000)] if offset == 0 else [ours(entry)]), {}

    connector, adapter = connector_answering(route)
    lookup = connector.find_order(entry)
    assert (lookup.found, lookup.refused) == (True, False)
    assert [q["offset"] for _, p, q, _ in adapter.sent if "/history-orders/" in p] == [["0"], ["1000"]]


# ---- account information ------------------------------------------------------------------------

def test_the_documented_account_information_is_read_from_its_documented_path():
    connector, adapter = connector_answering(always(200, doc("account_information_response.json")))
    status = connector.get_account_status()
    assert status["accounts"][1] == {"balance": 7319.9, "equity": 7306.649913200001, "currency": "USD"}
    assert [p for _, p, _, _ in adapter.sent] == ["/users/current/accounts/sim-mt5-1/accountInformation"]
