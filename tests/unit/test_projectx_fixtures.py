"""The TOPSTEP connector against the ProjectX documentation's own examples (no network): the
requests it builds use the documented field names, and the documented answers parse as meant.
Fixtures and their URLs: tests/fixtures/firm_docs/projectx/SOURCES.md."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config import parse_settings
from connectors import OrderRequest, client_order_id
from connectors.http_client import Deadline
from connectors.projectx_schemas import PxOrder
from connectors.topstep_connector import TopstepConnector
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "firm_docs" / "projectx"
EMPTY_POSITIONS = {"positions": [], "success": True, "errorCode": 0, "errorMessage": None}


def doc(name: str) -> Any:
    return json.loads((DOCS / f"{name}.json").read_text())


class FixtureGateway(TopstepConnector):
    """The real connector, its two HTTP seams answered from documentation examples: `answers`
    maps a path to the answers it gives in turn (the last one repeats); `sent` is what went out."""

    def __init__(self, account: str, answers: dict[str, list[Any]]):
        settings = parse_settings({**STEP2_ENV, **live_env("http://gateway.invalid", TOPSTEP_ACCOUNT_ID=account)})
        super().__init__(settings.firms["TOPSTEP"], dry_run=False)
        self.answers = answers
        self.sent: list[tuple[str, Any]] = []

    def _answer(self, path: str, body: Any) -> Any:
        self.sent.append((path, body))
        queue = self.answers[path]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _authorized_read(self, method: str, path: str, deadline: Deadline, **kw: Any) -> Any:
        return self._answer(path, kw.get("json"))

    def _authorized_submit(self, method: str, path: str, deadline: Deadline, **kw: Any) -> tuple[int, Any]:
        return 200, self._answer(path, kw.get("json"))

    def body(self, path: str) -> Any:
        (body,) = [b for p, b in self.sent if p == path]
        return body


def entry(direction: str = "LONG", stop: str = "16475") -> OrderRequest:
    return OrderRequest(action="ENTRY", firm_code="TOPSTEP", program_id=1, trade_id="T1", task_id=7, symbol="NQ",
                        direction=direction, contracts=1, entry_price=Decimal("16500"), stop_loss=Decimal(stop),
                        client_order_id=client_order_id(7, "TOPSTEP", 1, "ENTRY"))


def exit_order(contract: str, contracts: int) -> OrderRequest:
    return OrderRequest(action="EXIT", firm_code="TOPSTEP", program_id=1, trade_id="T1", task_id=8, symbol="NQ",
                        direction="LONG", contracts=contracts, client_order_id=client_order_id(8, "TOPSTEP", 1, "EXIT"),
                        contract=contract)


def placing(answer: str) -> FixtureGateway:
    return FixtureGateway("465", {"/api/Contract/available": [doc("contract_search_response")],
                                  "/api/Order/place": [doc(answer)]})


# ---- /api/Order/place ---------------------------------------------------------------------------

def test_an_entry_uses_the_documented_order_place_fields_with_a_signed_stop():
    gateway = placing("order_place_response")
    result = gateway.send_entry_order(entry())
    body, documented = gateway.body("/api/Order/place"), doc("order_place_request")
    assert set(body) <= set(documented)
    assert set(body["stopLossBracket"]) == set(documented["stopLossBracket"])
    assert body == {"accountId": 465, "contractId": "CON.F.US.ENQ.H25", "type": 2, "side": 0, "size": 1,
                    "customTag": entry().client_order_id, "stopLossBracket": {"ticks": -100, "type": 4}}
    assert (result.status, result.order_id, result.extra["contract"]) == ("SUCCESS", "9056", "CON.F.US.ENQ.H25")


def test_a_short_entry_places_its_stop_above_with_positive_ticks():
    gateway = placing("order_place_response")
    gateway.send_entry_order(entry("SHORT", stop="16525"))
    assert gateway.body("/api/Order/place")["stopLossBracket"] == {"ticks": 100, "type": 4}
    assert gateway.body("/api/Order/place")["side"] == 1


def test_the_position_brackets_refusal_reads_as_what_to_change():
    result = placing("order_place_response_position_brackets_error").send_entry_order(entry())
    assert (result.status, result.reason, result.order_id) == ("FAILED", "POSITION_BRACKETS_MODE", "9057")
    assert "Enable Auto OCO Brackets" in result.message and "flat" in result.message


def test_the_observed_tick_sign_refusal_is_a_failure_with_its_text():
    result = placing("order_place_response_tick_sign_error").send_entry_order(entry())
    assert (result.status, result.reason) == ("FAILED", "ERROR_CODE_2")
    assert result.message == "Invalid stop loss ticks (40). Ticks should be less than zero when longing."


# ---- /api/Position/* and the bracket legs afterwards --------------------------------------------

@pytest.mark.parametrize("contracts,path", [(2, "/api/Position/closeContract"), (1, "/api/Position/partialCloseContract")])
def test_an_exit_closes_with_the_documented_position_fields(contracts, path):
    gateway = FixtureGateway("536", {
        "/api/Position/searchOpen": [doc("position_search_open_response"), EMPTY_POSITIONS
                                     if contracts == 2 else _position("CON.F.US.GMET.J25", 1)],
        path: [doc("position_close_contract_response")],
        "/api/Order/searchOpen": [doc("order_search_open_response")],  # another account's stop: not ours
    })
    result = gateway.send_exit_order(exit_order("CON.F.US.GMET.J25", contracts))
    documented = doc("position_close_contract_request" if contracts == 2 else "position_partial_close_contract_request")
    assert gateway.body(path) == documented  # the doc's own example: same account and contract
    assert result.status == "SUCCESS"
    assert result.extra["stop_adjustment"] == {"status": "NOT_NEEDED", "position_left": 2 - contracts, "orders": []}


def _position(contract: str, size: int) -> dict[str, Any]:
    return {"positions": [{"id": 1, "accountId": 212, "contractId": contract, "type": 1, "size": size}],
            "success": True, "errorCode": 0, "errorMessage": None}


def test_a_documented_resting_stop_is_cancelled_with_the_documented_fields_after_a_full_exit():
    gateway = FixtureGateway("212", {
        "/api/Position/searchOpen": [_position("CON.F.US.EP.M25", 1), EMPTY_POSITIONS],
        "/api/Position/closeContract": [doc("position_close_contract_response")],
        "/api/Order/searchOpen": [doc("order_search_open_response")],
        "/api/Order/cancel": [doc("order_cancel_response")],
    })
    result = gateway.send_exit_order(exit_order("CON.F.US.EP.M25", 1))
    assert gateway.body("/api/Order/cancel") == doc("order_cancel_request") | {"accountId": 212, "orderId": 26970}
    assert set(gateway.body("/api/Order/cancel")) == set(doc("order_cancel_request"))
    assert result.extra["stop_adjustment"] == {"status": "ADJUSTED", "position_left": 0, "orders": [
        {"order_id": "26970", "leg": "STOP", "contracts_before": 1, "contracts_after": 0}]}


def test_a_documented_resting_stop_is_cut_with_the_documented_modify_fields_after_a_partial_exit():
    resting = doc("order_search_open_response")
    resting["orders"][0]["size"] = 3
    gateway = FixtureGateway("212", {
        "/api/Position/searchOpen": [_position("CON.F.US.EP.M25", 3), _position("CON.F.US.EP.M25", 2)],
        "/api/Position/partialCloseContract": [doc("position_close_contract_response")],
        "/api/Order/searchOpen": [resting],
        "/api/Order/modify": [doc("order_modify_response")],
    })
    result = gateway.send_exit_order(exit_order("CON.F.US.EP.M25", 1))
    modify = gateway.body("/api/Order/modify")
    assert set(modify) == set(doc("order_modify_request"))
    assert modify == {"accountId": 212, "orderId": 26970, "size": 2, "limitPrice": None, "stopPrice": 5138.0,
                      "trailPrice": None}
    assert result.extra["stop_adjustment"]["status"] == "ADJUSTED"


def test_a_documented_cancel_refusal_leaves_the_exit_done_and_says_so():
    gateway = FixtureGateway("212", {
        "/api/Position/searchOpen": [_position("CON.F.US.EP.M25", 1), EMPTY_POSITIONS],
        "/api/Position/closeContract": [doc("position_close_contract_response")],
        "/api/Order/searchOpen": [doc("order_search_open_response")],
        "/api/Order/cancel": [doc("order_cancel_response_follower_error")],
    })
    result = gateway.send_exit_order(exit_order("CON.F.US.EP.M25", 1))
    adjustment = result.extra["stop_adjustment"]
    assert result.status == "SUCCESS" and adjustment["status"] == "STOP_NOT_ADJUSTED"
    assert "Follower accounts cannot cancel orders" in adjustment["message"] and adjustment["orders"] == []


def test_the_documented_open_positions_give_a_signed_net():
    gateway = FixtureGateway("536", {"/api/Position/searchOpen": [doc("position_search_open_response")]})
    assert gateway._net_position(536, "CON.F.US.GMET.J25", Deadline(1.0)) == 2
    assert gateway.body("/api/Position/searchOpen") == doc("position_search_open_request")


# ---- /api/Order/search and reconciliation -------------------------------------------------------

def _searched(revision: str, **changes: Any) -> FixtureGateway:
    answer = copy.deepcopy(doc(revision))
    answer["orders"][0].update({"customTag": entry().client_order_id, **changes})
    return FixtureGateway("704", {"/api/Order/search": [answer]})


@pytest.mark.parametrize("changes,found,refused", [
    ({}, True, False),  # the documented example: Filled
    ({"status": 5, "fillVolume": 0}, True, True),  # Rejected
    ({"status": 3, "fillVolume": 0}, True, True),  # Cancelled, nothing filled
    ({"status": 4, "fillVolume": 0}, True, True),  # Expired, nothing filled
    ({"status": 3, "fillVolume": 1}, True, False),  # Cancelled after filling
    ({"customTag": "someone-else"}, False, False),
])
def test_an_order_found_by_its_custom_tag_is_judged_by_its_status(changes, found, refused):
    gateway = _searched("order_search_response", **changes)
    lookup = gateway.find_order(entry())
    assert (lookup.found, lookup.refused) == (found, refused)
    assert set(gateway.body("/api/Order/search")) <= set(doc("order_search_request"))
    if found:
        assert lookup.firm_order_id == "36598"


def test_a_cancelled_order_without_a_fill_volume_cannot_be_judged():
    """The 2025-07 page revision lists no fillVolume: a cancelled order may have filled first."""
    lookup = _searched("order_search_response_2025-07_revision", status=3).find_order(entry())
    assert (lookup.found, lookup.firm_order_id) == (None, "26060")


def test_the_documented_order_model_parses():
    (order,) = [PxOrder.from_api(o) for o in doc("order_search_response")["orders"]]
    assert (order.id, order.contract_id, order.status, order.type, order.side, order.size, order.fill_volume) == (
        "36598", "CON.F.US.EP.U25", 2, 2, 0, 1, 1)
    (old,) = [PxOrder.from_api(o) for o in doc("order_search_response_2025-07_revision")["orders"][:1]]
    assert (old.status, old.fill_volume, old.custom_tag) == (2, None, None)


# ---- /api/Account/search ------------------------------------------------------------------------

def test_the_documented_account_search_gives_balance_and_can_trade():
    gateway = FixtureGateway("1", {"/api/Account/search": [doc("account_search_response")]})
    assert gateway.get_account_status()["accounts"] == {1: {"balance": 50000, "can_trade": True}}
    assert gateway.body("/api/Account/search") == doc("account_search_request")
