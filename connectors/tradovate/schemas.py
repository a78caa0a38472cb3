"""Tradovate answers parsed at the edge into small typed records, and the request bodies we send.

Field names follow the partner reference (https://partner.tradovate.com/api/rest-api-endpoints/...)
and the older API Education site where the partner pages are cut; `tests/fixtures/firm_docs/tradovate/`
holds the documentation's own examples these are tested against. An answer that is not the
documented shape raises Unreadable, so it can never be read as "no positions" or "no command".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.http_client import NotSent

REJECTED_COMMANDS = ("RiskRejected", "ExecutionRejected")
"""CommandReport.commandStatus values that refuse the command
(https://partner.tradovate.com/api/rest-api-endpoints/orders/command-report-items)."""
UNFILLED_ENDS = ("Canceled", "Expired")
"""Order.ordStatus values that end an order; with no fill it never traded
(https://partner.tradovate.com/api/rest-api-endpoints/orders/order-list)."""


class Unreadable(NotSent):
    """An answer that is not what the endpoint documents: the caller cannot tell, never "none"."""

    def __init__(self, path: str, what: str):
        super().__init__("UNREADABLE_ANSWER", f"Tradovate answered {path} with no {what}")


@dataclass(frozen=True)
class Penalty:
    """A time penalty instead of the answer: HTTP 200 with `p-ticket`, `p-time` seconds to wait
    and `p-captcha` (https://partner.tradovate.com/overview/core-concepts/penalty-tickets)."""

    ticket: str
    seconds: float
    captcha: bool

    @classmethod
    def of(cls, data: Any) -> "Penalty | None":
        if not (isinstance(data, dict) and "p-ticket" in data):
            return None
        try:
            seconds = float(data.get("p-time") or 0)
        except (TypeError, ValueError):
            seconds = float("inf")
        return cls(str(data["p-ticket"]), seconds, data.get("p-captcha") is True)


def _entities(data: Any, path: str, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise Unreadable(path, what)
    return [e for e in data if isinstance(e, dict)]


def _entity(data: Any, path: str, what: str) -> dict[str, Any]:
    if not isinstance(data, dict) or "id" not in data:
        raise Unreadable(path, what)
    return data


@dataclass(frozen=True)
class Account:
    """/account/list: `name` ("Always all-caps ..."), `active` (API Education), `closed` (partner
    https://partner.tradovate.com/api/rest-api-endpoints/accounting/account-list)."""

    id: int
    name: str
    active: bool

    @classmethod
    def listed(cls, data: Any) -> list["Account"]:
        return [cls(int(a["id"]), str(a.get("name") or ""), a.get("active") is not False and a.get("closed") is not True)
                for a in _entities(data, "/account/list", "account list") if "id" in a]


@dataclass(frozen=True)
class Position:
    """/position/list: accountId, contractId, netPos (signed; no side field)
    (https://partner.tradovate.com/api/rest-api-endpoints/positions/position-list)."""

    account_id: int
    contract_id: int
    net: int

    @classmethod
    def listed(cls, data: Any) -> list["Position"]:
        return [cls(int(p["accountId"]), int(p["contractId"]), int(p.get("netPos") or 0))
                for p in _entities(data, "/position/list", "position list") if "accountId" in p and "contractId" in p]


@dataclass(frozen=True)
class Contract:
    """A Contract: id, name, contractMaturityId (entity item; /contract/rollcontract's `contract`,
    https://partner.tradovate.com/api/rest-api-endpoints/contract-library/roll-contract)."""

    id: int
    name: str
    maturity_id: int | None

    @classmethod
    def of(cls, data: Any, path: str) -> "Contract":
        item = _entity(data, path, "contract")
        maturity = item.get("contractMaturityId")
        return cls(int(item["id"]), str(item.get("name") or ""), int(maturity) if maturity is not None else None)

    @classmethod
    def rolled(cls, data: Any) -> "Contract":
        """{errorText, contract}: a non-empty errorText or no contract is no answer."""
        path = "/contract/rollcontract"
        if not isinstance(data, dict) or data.get("errorText") or not isinstance(data.get("contract"), dict):
            raise Unreadable(path, f"contract ({data.get('errorText') if isinstance(data, dict) else 'no body'})")
        return cls.of(data["contract"], path)


def maturity_expires(data: Any) -> float:
    """ContractMaturity.expirationDate as epoch seconds (docs' form "2017-12-15T22:29Z")
    (https://partner.tradovate.com/api/rest-api-endpoints/contract-library/contract-maturity-item)."""
    item = _entity(data, "/contractMaturity/item", "contract maturity")
    try:
        return datetime.fromisoformat(str(item["expirationDate"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        raise Unreadable("/contractMaturity/item", "expirationDate") from None


@dataclass(frozen=True)
class Placed:
    """PlaceOrderResult / PlaceOsoResult: orderId, failureReason, failureText, oso1Id, oso2Id ("One
    of up to two linked Order entities"; https://partner.tradovate.com/api/rest-api-endpoints/orders/place-order,
    API Education PlaceOsoResult)."""

    order_id: str | None
    failure_reason: str | None
    failure_text: str | None
    oso1_id: str | None
    oso2_id: str | None = None

    @classmethod
    def of(cls, data: Any) -> "Placed":
        data = data if isinstance(data, dict) else {}
        def text(key: str) -> str | None:
            return str(data[key]) if data.get(key) not in (None, "") else None
        return cls(text("orderId"), text("failureReason"), text("failureText") or text("errorText"), text("oso1Id"),
                   text("oso2Id"))

    @property
    def accepted(self) -> bool:
        return self.order_id is not None and self.failure_reason in (None, "Success")


def entities(data: Any, path: str) -> list[dict[str, Any]]:
    """A documented list answer (/command/list, /order/list, /commandReport/deps, ...)."""
    return _entities(data, path, "list")


def command_refusal(reports: list[dict[str, Any]]) -> str | None:
    """Why the command was refused, from its CommandReports (commandStatus, rejectReason, text)."""
    for report in reports:
        if report.get("commandStatus") in REJECTED_COMMANDS:
            why = " ".join(str(report[k]) for k in ("rejectReason", "text") if report.get(k))
            return f"command {report['commandStatus']}" + (f": {why}" if why else "")
    return None


def market_order(*, spec: str, account: int, client_order_id: str, action: str, symbol: str, quantity: int) -> dict[str, Any]:
    """/order/placeorder body: `accountSpec` ("the name of the Account placing the trade"),
    `accountId` ("in practice ... a required field"), `isAutomated` ("Must be `true` if the order
    was not placed by a human clicking a button")
    (https://partner.tradovate.com/api/rest-api-endpoints/orders/place-order)."""
    return {"accountSpec": spec, "accountId": account, "clOrdId": client_order_id, "action": action,
            "symbol": symbol, "orderQty": quantity, "orderType": "Market", "isAutomated": True}


def with_brackets(body: dict[str, Any], *, stop_price: float | None, target_price: float | None) -> dict[str, Any]:
    """/order/placeOSO: the order plus its brackets (RestrainedOrderVersion: action, orderType,
    price, stopPrice, ...), sent once it fills; prices are absolute. `bracket1` is required and
    `bracket2` optional: "Use a single bracket for only stop-loss or take-profit alone. Use both
    brackets to set up stop-loss and take-profit orders", and two are "linked as an OCO, where
    filling one will cancel the other" (https://partner.tradovate.com/api/rest-api-endpoints/orders/place-oso,
    API Education placeOSO). The stop is a Stop at `stopPrice`, the target a Limit at `price`
    (the page's own take-profit example)."""
    closing = "Sell" if body["action"] == "Buy" else "Buy"
    legs = [leg for leg in (
        {"action": closing, "orderType": "Stop", "stopPrice": stop_price} if stop_price is not None else None,
        {"action": closing, "orderType": "Limit", "price": target_price} if target_price is not None else None,
    ) if leg is not None]
    if not legs:
        raise ValueError("an OSO needs a stop or a target")
    return {**body, **{f"bracket{n}": leg for n, leg in enumerate(legs, start=1)}}


def bracket_ids(body: dict[str, Any], placed: Placed) -> dict[str, str]:
    """{"stop": id, "target": id} of an accepted OSO's brackets: oso1Id is `bracket1`'s order,
    oso2Id `bracket2`'s (PlaceOsoResult)."""
    ids = {}
    for key, leg_id in (("bracket1", placed.oso1_id), ("bracket2", placed.oso2_id)):
        leg = body.get(key)
        if leg is not None and leg_id is not None:
            ids["stop" if leg["orderType"] == "Stop" else "target"] = leg_id
    return ids


def liquidation(*, account: int, contract_id: int, client_order_id: str) -> dict[str, Any]:
    """/order/liquidateposition: accountId, contractId, admin (false: not a Tradovate admin or B2B
    partner), customTag50, isAutomated
    (https://partner.tradovate.com/api/rest-api-endpoints/orders/liquidate-position)."""
    return {"accountId": account, "contractId": contract_id, "admin": False, "customTag50": client_order_id,
            "isAutomated": True}
