"""What an APEX exit does to the entry's bracket orders at Tradovate afterwards.

An entry is a placeOSO whose `bracket1` (the stop) and `bracket2` (the Limit take-profit target)
each rest for the entry's full size, linked as an OCO ("If you specify both `bracket1` and
`bracket2` the two orders will be linked as an OCO, where filling one will cancel the other",
https://partner.tradovate.com/api/rest-api-endpoints/orders/place-oso). A full exit is a
liquidation, which cancels the account's orders in the contract itself; after a partial exit
(a plain market order) both legs still have the entry's size, and after a close by hand they
still work on a flat account: a stop's fill would open the other side, a stale target's fill a
position nobody asked for. So after such an exit the closing side's working legs in that account
and contract are fitted to the position left, each kind (stops, targets) separately: GET
/order/list (Order: accountId, contractId, action, ordStatus), GET /orderVersion/deps?masterid=
(OrderVersion: orderQty, orderType, price, stopPrice), POST /order/modifyorder {orderId,
orderQty, orderType, price, stopPrice} (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order),
POST /order/cancelorder {orderId} for a leg with nothing left to protect.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connectors.base_connector import DEFAULT_BUDGET
from connectors.exit_fitting import Fitting, fit_after_exit
from connectors.http_client import Deadline, OutcomeUnknown, Rejected
from connectors.orders import STOP_NOT_ADJUSTED, BracketLeg, ConnectorResult, OrderRequest
from connectors.tradovate import schemas

log = logging.getLogger(__name__)

LEG_TYPES = {"Stop": BracketLeg.STOP, "StopLimit": BracketLeg.STOP, "TrailingStop": BracketLeg.STOP,
             "TrailingStopLimit": BracketLeg.STOP, "Limit": BracketLeg.TARGET}
"""OrderVersion.orderType -> the bracket leg it is (a take-profit is a Limit bracket: the place-oso
page's own example, `{action: 'Sell', orderType: 'Limit', price: 4200.00}`)."""
PENDING_STATES = ("PendingNew", "PendingReplace", "PendingCancel")
_KEPT_ON_MODIFY = ("price", "stopPrice", "pegDifference", "maxShow", "timeInForce", "expireTime")
"""OrderVersion fields a modification repeats (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order)."""


class BracketLegs:
    """Mixin of the APEX connector: needs `_read`, `_submit`, `_net_position`, `_account`,
    `_exit_contract` and `http`."""

    def _fit_legs(self, result: ConnectorResult, account: int, contract_id: int, action: str, deadline: Deadline,
                  held: Callable[[Deadline], int], expected: int = 0) -> ConnectorResult:
        """After an exit: no more stop or target contracts working on the closing side than the
        position left, `held` (asked after the legs are listed). The exit stands either way, so a
        failure here does not change its status: the result says STOP_NOT_ADJUSTED (and the trader
        is notified) instead. The time, the failure and the result are connectors/exit_fitting.py's
        (the `expected` position left is what a fitting not started reports)."""
        def fit(cut_deadline: Deadline, fitting: Fitting) -> None:
            legs = self._closing_legs(account, contract_id, action, cut_deadline, skip=result.order_id)
            fitting.left = held(cut_deadline)
            self._cut_legs(legs, fitting.left, cut_deadline, fitting.changes)

        return fit_after_exit(result, expected, deadline, "at Tradovate", fit)

    def _still_flat(self, order: OrderRequest, account: int, contract_id: int, deadline: Deadline) -> int:
        """0 when this side is still flat after the legs were listed. A position there now (a
        trade entered meanwhile) makes the listed legs ambiguous - its own bracket may or may not
        be among them - so none is touched: Rejected, and the trader is told to look."""
        held = order.held_at_firm(self._net_position(account, contract_id, deadline))
        if held > 0:
            raise Rejected("POSITION_OPENED", f"{held} contract(s) opened on this side while the bracket orders "
                                              f"were checked, so none was changed")
        return 0

    def after_exit_found(self, order: OrderRequest) -> str | None:
        """An exit found by reconciliation: its bracket was never fitted, so fit the closing side's
        legs to what this side holds now (none when flat: a leg there would open a position).
        The legs are listed before the position is read: a leg shows as working only once its
        entry filled, so a trade entered in between is counted in the position too."""
        deadline = Deadline(DEFAULT_BUDGET)
        changes: list[dict[str, Any]] = []
        try:
            account, _ = self._account(order.program_id, deadline)
            _, contract_id = self._exit_contract(order, deadline)
            legs = self._closing_legs(account, contract_id, "Buy" if order.side == "BUY" else "Sell", deadline)
            left = max(order.held_at_firm(self._net_position(account, contract_id, deadline)), 0)
            self._cut_legs(legs, left, deadline, changes)
        except Exception as exc:  # noqa: BLE001 - reported in the journal and the log
            log.warning("APEX bracket fitting after reconciling %s failed: %s", order.client_order_id, type(exc).__name__)
            return (f"{STOP_NOT_ADJUSTED}: adjust the bracket orders at Tradovate ({type(exc).__name__}); "
                    f"changed before the failure: {changes}")
        return f"bracket orders cut to the {left} contract(s) held: {changes}" if changes else None

    def _closing_legs(self, account: int, contract_id: int, action: str, deadline: Deadline,
                      skip: str | None = None) -> list[dict[str, Any]]:
        """The working stop and Limit orders of `action` (the closing side) in this account and
        contract, oldest first, each with its current OrderVersion and `leg` kind; `skip` is the
        exit's own order. A leg there being changed or cancelled (Pending*) has no settled size to
        fit around: Rejected."""
        orders = [o for o in schemas.entities(self._read("GET", "/order/list", deadline), "/order/list")
                  if o.get("accountId") == account and o.get("contractId") == contract_id
                  and o.get("action") == action and str(o.get("id")) != skip
                  and o.get("ordStatus") in ("Working", *PENDING_STATES)]
        legs = []
        for resting in sorted(orders, key=lambda o: int(o.get("id") or 0)):
            versions = schemas.entities(self._read("GET", "/orderVersion/deps", deadline,
                                                   params={"masterid": resting["id"]}), "/orderVersion/deps")
            version = max(versions, key=lambda v: int(v.get("id") or 0), default=None)
            if version is None or version.get("orderType") not in LEG_TYPES:
                continue
            if resting.get("ordStatus") != "Working":
                raise Rejected("STOP_PENDING", "a bracket order on the closing side is being changed at Tradovate; "
                                               "check its size")
            legs.append({**version, "id": resting["id"], "leg": LEG_TYPES[version["orderType"]]})  # the order's id
        return legs

    def _cut_legs(self, legs: list[dict[str, Any]], left: int, deadline: Deadline,
                  changes: list[dict[str, Any]]) -> None:
        """Each kind of leg cut down to `left` contracts in all, oldest kept first (modifyorder
        with the version's prices, so a stop-limit, trailing stop or target keeps them, or
        cancelorder for one with nothing left to protect), appending each change made to
        `changes`; a refusal raises Rejected, the changes before it already made."""
        for kind in BracketLeg:
            remaining = left
            for leg in (leg for leg in legs if leg["leg"] is kind):
                quantity = int(leg.get("orderQty") or 0)
                keep = min(quantity, remaining)
                remaining -= keep
                if keep != quantity:
                    self._change_leg(leg, quantity, keep, deadline, changes)

    def _change_leg(self, leg: dict[str, Any], quantity: int, keep: int, deadline: Deadline,
                    changes: list[dict[str, Any]]) -> None:
        if keep == 0:
            path, body = "/order/cancelorder", {"orderId": leg["id"], "isAutomated": True}
        else:  # everything the version has, so only the size changes (a GTC stop stays GTC)
            path = "/order/modifyorder"
            body = {"orderId": leg["id"], "orderQty": keep, "orderType": leg["orderType"], "isAutomated": True,
                    **{k: leg[k] for k in _KEPT_ON_MODIFY if leg.get(k) is not None}}
        change = {"order_id": str(leg["id"]), "leg": str(leg["leg"]), "contracts_before": quantity,
                  "contracts_after": keep}
        try:
            answer = self._submit(path, body, deadline, patient=False)
        except OutcomeUnknown:  # sent, unanswered: it may have taken effect; the trader must look
            changes.append({**change, "outcome": "UNKNOWN"})
            raise
        if answer.get("failureReason"):
            raise Rejected(str(answer["failureReason"]), self.http.redact(str(answer.get("failureText") or "refused")) or "")
        changes.append(change)
