"""The APEX connector against Tradovate's own documentation examples (tests/fixtures/firm_docs/
tradovate/, sources in its SOURCES.md): the requests it builds use the documented field names, and
the documented answers parse. No network: a fake subclasses the connector and answers from them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config import parse_settings
from connectors import OrderRequest
from connectors.apex_connector import ApexConnector
from connectors.http_client import Deadline
from connectors.tradovate import schemas
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env

DOCS = Path(__file__).parents[1] / "fixtures" / "firm_docs" / "tradovate"
PLACE_ORDER_FIELDS = {"accountSpec", "accountId", "clOrdId", "action", "symbol", "orderQty", "orderType", "price",
                      "stopPrice", "maxShow", "pegDifference", "timeInForce", "expireTime", "activationTime",
                      "customTag50", "isAutomated"}
"""https://partner.tradovate.com/api/rest-api-endpoints/orders/place-order"""
BRACKET_FIELDS = {"action", "clOrdId", "orderType", "price", "stopPrice", "maxShow", "pegDifference", "timeInForce",
                  "expireTime", "text"}
"""RestrainedOrderVersion (https://partner.tradovate.com/api/rest-api-endpoints/orders/place-oso)"""
LIQUIDATE_FIELDS = {"accountId", "contractId", "admin", "customTag50", "isAutomated"}
"""https://partner.tradovate.com/api/rest-api-endpoints/orders/liquidate-position"""


def doc(name: str) -> Any:
    return json.loads((DOCS / f"{name}.json").read_text())


class FixtureTradovate(ApexConnector):
    """Answers reads by path and submissions in turn from canned (documentation) bodies."""

    def __init__(self, reads: dict[str, Any], submits: list[Any], **env: str):
        settings = parse_settings({**STEP2_ENV, **live_env("http://127.0.0.1:9/v1", **env)})
        super().__init__(settings.firms["APEX"], dry_run=False)
        self.reads, self.submits = reads, list(submits)
        self.sent: list[tuple[str, Any]] = []

    def _authorized_read(self, method: str, path: str, deadline: Deadline, **kw: Any) -> Any:
        self.sent.append((path, kw.get("json") if method == "POST" else kw.get("params")))
        return self.reads[path]

    def _authorized_submit(self, method: str, path: str, deadline: Deadline, **kw: Any) -> tuple[int, Any]:
        self.sent.append((path, kw["json"]))
        return 200, self.submits.pop(0)


def entry(**kw: Any) -> OrderRequest:
    return OrderRequest(**{"action": "ENTRY", "firm_code": "APEX", "program_id": 1, "trade_id": "T", "task_id": 1,
                           "symbol": "ES", "direction": "LONG", "contracts": 1, "client_order_id": "ER-1", **kw})


def documented_session(**submits: Any) -> FixtureTradovate:
    """The docs' account (id 0, "string", active), the docs' roll (ES -> ESM24) and maturity."""
    reads = {"/account/list": doc("account_list_response"), "/contract/rollcontract": doc("rollcontract_response"),
             "/contractMaturity/item": doc("contract_maturity_deps_response")[0]}
    return FixtureTradovate(reads, submits.get("answers", [doc("placeorder_response")]), APEX_ACCOUNT_ID="0")


def test_a_market_entry_is_the_documented_placeorder_body():
    session = documented_session()
    result = session.send_entry_order(entry(), Deadline(2.0))
    assert (result.status, result.order_id, result.extra["contract"]) == ("SUCCESS", "0", "ESM24")
    path, body = session.sent[-1]
    assert path == "/order/placeorder" and set(body) <= PLACE_ORDER_FIELDS
    documented = doc("placeorder_request")
    expected = {**documented, "accountSpec": "string", "symbol": "ESM24", "action": "Buy", "orderQty": 1}
    assert {k: body[k] for k in documented} == expected  # accountSpec: the listed account's name


def test_the_front_month_is_asked_with_the_documented_rollcontract_body():
    session = documented_session()
    session.send_entry_order(entry(), Deadline(2.0))
    assert ("/contract/rollcontract", doc("rollcontract_request")) in session.sent
    assert schemas.Contract.rolled(doc("rollcontract_response")) == schemas.Contract(123456789, "ESM24", 987654321)


def test_an_entry_with_a_stop_is_an_oso_whose_bracket_has_documented_fields():
    session = documented_session(answers=[{"orderId": 7, "oso1Id": 8}])
    result = session.send_entry_order(entry(stop_loss=4990), Deadline(2.0))
    path, body = session.sent[-1]
    assert path == "/order/placeOSO" and set(body) - {"bracket1"} <= PLACE_ORDER_FIELDS
    assert set(body["bracket1"]) <= BRACKET_FIELDS
    assert body["bracket1"] == {"action": "Sell", "orderType": "Stop", "stopPrice": 4990.0}  # absolute price
    assert (result.order_id, result.extra["stop_order_id"]) == ("7", "8")


def test_a_penalty_is_resubmitted_as_the_documented_body_plus_its_ticket():
    ticket = doc("penalty_retry_request")["p-ticket"]
    penalty = {"p-ticket": ticket, "p-time": 0, "p-captcha": False}  # field names as documented; no example body exists
    session = documented_session(answers=[penalty, doc("placeorder_response")])
    assert session.send_entry_order(entry(), Deadline(2.0)).status == "SUCCESS"
    (_, first), (_, retry) = [s for s in session.sent if s[0] == "/order/placeorder"]
    assert retry == {**first, "p-ticket": ticket}
    assert set(doc("penalty_retry_request")) - set(retry) == set()  # every documented field is in ours


def test_a_liquidation_uses_the_documented_fields_and_is_automated():
    body = schemas.liquidation(account=0, contract_id=2710963, client_order_id="ER-1")
    assert set(body) <= LIQUIDATE_FIELDS and body["isAutomated"] is True and body["admin"] is False
    batch = doc("liquidatepositions_request")
    assert set(batch) <= {"positions", "admin", "customTag50", "isAutomated"} and isinstance(batch["admin"], bool)


def test_documented_answers_parse():
    assert schemas.Account.listed(doc("account_list_response")) == [schemas.Account(0, "string", True)]
    assert schemas.Contract.of(doc("contract_item_response"), "/contract/item") == schemas.Contract(2710963, "ESM2", 46104)
    maturity = doc("contract_maturity_deps_response")[0]
    assert schemas.maturity_expires(maturity) == pytest.approx(1513376940.0)  # 2017-12-15T22:29Z
    assert schemas.Placed.of(doc("placeorder_response")).accepted
    assert schemas.Placed.of({"orderId": 5, "failureReason": "MaxPosLimitReached", "failureText": "x"}).accepted is False
    assert doc("ws_props_order_event")["d"]["entity"]["ordStatus"] == "PendingNew"  # an ordStatus value we read


@pytest.mark.parametrize("answer", [{"p-ticket": "t", "p-time": 30}, {"errorText": "Access is denied"}, None, "x"])
def test_a_position_list_that_is_not_a_list_is_unreadable_never_flat(answer):
    with pytest.raises(schemas.Unreadable):
        schemas.Position.listed(answer)


def test_a_documented_429_has_no_body_to_read_a_wait_from():
    assert doc("ws_429_response") == [{"s": 429, "i": "request_id"}]  # no p-ticket, no time: the hour's lockout
