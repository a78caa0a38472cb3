"""What a TOPSTEP exit does to the entry's bracket orders afterwards.

Neither /api/Position/closeContract nor partialCloseContract is documented to touch the resting
bracket legs (https://gateway.docs.projectx.com/docs/api-reference/positions/close-positions is
silent). The platform help says Auto OCO brackets leave it to the trader: "Risk of Leftover Orders
... Must manage bracket orders manually" (https://help.projectx.com/settings/risk-settings/auto-oco-brackets),
and public clients report the stop left working after a close, filling into a naked position. So
after an exit the closing side's resting legs in that account and contract are fitted to the
position left: POST /api/Order/searchOpen {accountId} lists them
(https://gateway.docs.projectx.com/docs/api-reference/order/order-search-open), /api/Order/modify
{accountId, orderId, size, limitPrice, stopPrice, trailPrice} cuts one
(https://gateway.docs.projectx.com/docs/api-reference/order/order-modify) and /api/Order/cancel
{accountId, orderId} removes one with nothing left to protect
(https://gateway.docs.projectx.com/docs/api-reference/order/order-cancel). Stops and targets are
fitted separately: each kind may cover what is held, no more. The cancel page's newer revision
(read through a transcription) allows cancelling through the API only on simulated accounts that
follow no other account ("Live accounts not supported", errorCode 6): such a refusal, like any
other, leaves the exit done and says STOP_NOT_ADJUSTED.
"""
from __future__ import annotations

import logging
from typing import Any

from connectors.base_connector import DEFAULT_BUDGET
from connectors.exit_fitting import FIT_MARGIN, Fitting, fit_after_exit
from connectors.http_client import Deadline, OutcomeUnknown, Rejected
from connectors.orders import STOP_NOT_ADJUSTED, BracketLeg, ConnectorResult, OrderRequest
from connectors.projectx_schemas import ASK, BID, OPEN, STOP_LEGS, TARGET_LEGS, Envelope, PxOrder

log = logging.getLogger(__name__)


class BracketFitting:
    """Mixin of the TOPSTEP connector: needs `_read`, `_net_position`, `_account`,
    `_exit_contract_id`, `_authorized_submit` and `http`."""

    def _fit_brackets(self, result: ConnectorResult, order: OrderRequest, account: int, contract_id: str,
                      deadline: Deadline, expected: int) -> ConnectorResult:
        """After an exit (or one that found this side flat): the closing side's legs cut to the
        contracts held, `expected` at most. The exit stands either way, so a failure here does not
        change its status: the result says STOP_NOT_ADJUSTED (and the trader is notified).

        The position is read after the legs are listed: more held than `expected` means a trade
        entered meanwhile, whose own bracket may be among them, so none is touched. An exit whose
        answer came after the request's deadline has no waiting caller: it gets its own time."""
        if deadline.remaining() <= 0:
            deadline = Deadline(DEFAULT_BUDGET + FIT_MARGIN)

        def fit(cut_deadline: Deadline, fitting: Fitting) -> None:
            legs = self._bracket_legs(account, contract_id, order, cut_deadline)
            held = max(order.held_at_firm(self._net_position(account, contract_id, cut_deadline)), 0)
            if held > expected:
                raise Rejected("POSITION_OPENED", f"{held - expected} contract(s) more than expected are held, "
                                                  "so no bracket order was changed")
            fitting.left = held
            self._cut_legs(account, legs, held, cut_deadline, fitting.changes)

        return fit_after_exit(result, expected, deadline, "in TopstepX", fit)

    def after_exit_found(self, order: OrderRequest) -> str | None:
        """An exit found by reconciliation: its bracket was never fitted, so fit the closing side's
        legs to what this side holds now (none when flat: a stop there would open a position)."""
        deadline = Deadline(DEFAULT_BUDGET)
        changes: list[dict[str, Any]] = []
        try:
            account = self._account(order.program_id)
            contract_id = self._exit_contract_id(order, deadline)
            legs = self._bracket_legs(account, contract_id, order, deadline)
            left = max(order.held_at_firm(self._net_position(account, contract_id, deadline)), 0)
            self._cut_legs(account, legs, left, deadline, changes)
        except Exception as exc:  # noqa: BLE001 - reported in the journal and the log
            log.warning("TOPSTEP bracket fitting after reconciling %s failed: %s", order.client_order_id, type(exc).__name__)
            return (f"{STOP_NOT_ADJUSTED}: check the bracket orders in TopstepX ({type(exc).__name__}); "
                    f"changed before the failure: {changes}")
        return f"bracket orders cut to the {left} contract(s) held: {changes}" if changes else None

    def _bracket_legs(self, account: int, contract_id: str, order: OrderRequest, deadline: Deadline) -> list[PxOrder]:
        """The resting stop and target orders on `order`'s closing side in this account and
        contract, oldest first. searchOpen lists Open orders only (bracket children of an unfilled
        entry are Suspended and not listed: our entries are market orders, filled at once)."""
        side = ASK if order.side == "SELL" else BID
        data = self._read("/api/Order/searchOpen", {"accountId": account}, deadline)
        legs = [PxOrder.from_api(o) for o in data.get("orders") or [] if isinstance(o, dict)]
        legs = [o for o in legs if o.contract_id == contract_id and o.side == side and o.status == OPEN
                and o.type in (*STOP_LEGS, *TARGET_LEGS)]
        return sorted(legs, key=lambda o: int(o.id) if o.id.isdecimal() else 0)

    def _cut_legs(self, account: int, legs: list[PxOrder], left: int, deadline: Deadline,
                  changes: list[dict[str, Any]]) -> None:
        """Each kind of leg (stops, targets) cut down to `left` contracts in all, oldest kept
        first, appending each change made to `changes`; a refusal raises Rejected, the changes
        before it already made."""
        for name, kind in ((BracketLeg.STOP, STOP_LEGS), (BracketLeg.TARGET, TARGET_LEGS)):
            remaining = left
            for leg in (o for o in legs if o.type in kind):
                keep = min(leg.size, remaining)
                remaining -= keep
                if keep != leg.size:
                    self._change_leg(account, leg, name, keep, deadline, changes)

    def _change_leg(self, account: int, leg: PxOrder, name: BracketLeg, keep: int, deadline: Deadline,
                    changes: list[dict[str, Any]]) -> None:
        order_id = int(leg.id) if leg.id.isdecimal() else leg.id
        if keep == 0:
            path, body = "/api/Order/cancel", {"accountId": account, "orderId": order_id}
        else:  # the leg's prices repeated, so only the size changes
            path, body = "/api/Order/modify", {"accountId": account, "orderId": order_id, "size": keep,
                                               "limitPrice": leg.limit_price, "stopPrice": leg.stop_price,
                                               "trailPrice": leg.trail_price}
        change = {"order_id": leg.id, "leg": str(name), "contracts_before": leg.size, "contracts_after": keep}
        try:
            status, data = self._authorized_submit("POST", path, deadline, json=body, wait_back_off=False)
        except OutcomeUnknown:  # sent, unanswered: it may have taken effect; the trader must look
            changes.append({**change, "outcome": "UNKNOWN"})
            raise
        answer = Envelope.from_api(data)
        if status >= 400 or not answer.success:
            raise Rejected(f"ERROR_CODE_{answer.error_code}" if answer.error_code else f"HTTP_{status}",
                           self.http.redact(answer.error_message or f"{path} refused") or "")
        changes.append(change)

