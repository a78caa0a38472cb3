"""APEX (Tradovate REST API). The session (login, penalty tickets, the 429 lockout, accounts,
contracts) is `connectors.tradovate.api`; the answers' shapes are `connectors.tradovate.schemas`.

Docs (Tradovate's API reference lives on the partner site, https://partner.tradovate.com/):
- orders: POST /order/placeOSO (entry with a `bracket1` stop) or /order/placeorder, both with
  `isAutomated: true` and our client order id as `clOrdId`
  (https://partner.tradovate.com/api/rest-api-endpoints/orders/place-oso).
- exits: POST /order/liquidateposition {accountId, contractId, admin, customTag50, isAutomated}
  cancels the account's orders in that contract and closes its position
  (https://partner.tradovate.com/api/rest-api-endpoints/orders/liquidate-position).
  When the firm's position is larger than what this trade opened (another program on the same
  account), or for a partial exit, we send an opposite market order of exactly our size instead.
- after a partial exit the bracket stop still has the entry's size, so it is cut to the position
  left: GET /order/list (Order: accountId, contractId, action, ordStatus), GET /orderVersion/deps
  ?masterid= (OrderVersion: orderQty, orderType, stopPrice), POST /order/modifyorder {orderId,
  orderQty, orderType, stopPrice} (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order).
  An exit that finds the account flat (closed by hand, which leaves the bracket working) cancels
  the closing side's stops there with POST /order/cancelorder {orderId}.
- status: POST /cashBalance/getcashbalancesnapshot {accountId}.
- reconciliation: GET /command/list lists commands with their `clOrdId` and `orderId`. A found
  command is refused when a CommandReport (GET /commandReport/deps?masterid=<command id>) says
  RiskRejected / ExecutionRejected, or its order (GET /order/item) is Rejected, or Canceled /
  Expired with no fill (GET /fill/deps?masterid=<order id>)
  (https://partner.tradovate.com/api/rest-api-endpoints/orders/command-report-items, order-list).
  An exit sent as a liquidation is also judged by the position (flat = it happened), since we do
  not rely on Tradovate echoing `customTag50` for liquidations.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from account_engine.snapshots import AccountSnapshot
from connectors.base_connector import DEFAULT_BUDGET, OrderLookup
from connectors.exit_fitting import Fitting, fit_after_exit
from connectors.http_client import Deadline, OutcomeUnknown, Rejected
from connectors.orders import STOP_NOT_ADJUSTED, ConnectorResult, OrderRequest, OrderStatus
from connectors.tradovate import schemas
from connectors.tradovate.api import TradovateApi

log = logging.getLogger(__name__)

STOP_TYPES = ("Stop", "StopLimit", "TrailingStop", "TrailingStopLimit")
PENDING_STATES = ("PendingNew", "PendingReplace", "PendingCancel")
_KEPT_ON_MODIFY = ("price", "stopPrice", "pegDifference", "maxShow", "timeInForce", "expireTime")
"""OrderVersion fields a modification repeats (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order)."""


class ApexConnector(TradovateApi):
    firm_code = "APEX"
    live_supported = True

    def _order_result(self, order: OrderRequest, data: dict[str, Any], body: dict[str, Any]) -> ConnectorResult:
        placed = schemas.Placed.of(data)
        if placed.accepted:
            extra = {"stop_order_id": placed.oso1_id} if placed.oso1_id is not None else {}
            return self._result(order, OrderStatus.SUCCESS, None, "accepted", order_id=placed.order_id, firm_request=body, **extra)
        return self._result(order, OrderStatus.FAILED, placed.failure_reason or "REJECTED",
                            self.http.redact(placed.failure_text or "refused"), firm_request=body)

    # ---- protocol --------------------------------------------------------------------------------
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        return self._unless_locked(order, self._entry, deadline)

    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        return self._unless_locked(order, self._exit, deadline)

    def _entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account, spec = self._account(order.program_id, deadline)
        symbol, _ = self._contract(order.symbol, deadline)
        self._trading(order, symbol)
        body = schemas.market_order(spec=spec, account=account, client_order_id=order.client_order_id,
                                    action="Buy" if order.side == "BUY" else "Sell", symbol=symbol,
                                    quantity=order.contracts)
        path = "/order/placeorder"
        if order.stop_loss is not None:
            path, body = "/order/placeOSO", schemas.with_stop(body, float(order.stop_loss))
        return self._order_result(order, self._submit(path, body, deadline), body)

    def _exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account, spec = self._account(order.program_id, deadline)
        symbol, contract_id = self._exit_contract(order, deadline)
        self._trading(order, symbol)
        net = self._net_position(account, contract_id, deadline)
        size = self._exit_size(order, net)
        action = "Buy" if order.side == "BUY" else "Sell"
        if isinstance(size, ConnectorResult):
            if net != 0:  # the other side is held: its own stops are on the other side, not ours to touch
                return size
            # flat, yet the exit came: the position was closed outside this router (by hand at
            # Tradovate, say), which leaves the entry's bracket stop working; its fill would open
            # a position nobody asked for.
            return self._fit_stops(size, account, contract_id, action, deadline,
                                   held=lambda d: self._still_flat(order, account, contract_id, d))
        if size == abs(net):  # the whole position: Tradovate's liquidation also cancels its bracket
            body = schemas.liquidation(account=account, contract_id=contract_id, client_order_id=order.client_order_id)
            return self._order_result(order, self._submit("/order/liquidateposition", body, deadline), body)
        body = schemas.market_order(spec=spec, account=account, client_order_id=order.client_order_id,
                                    action=action, symbol=symbol, quantity=size)
        result = self._order_result(order, self._submit("/order/placeorder", body, deadline, patient=False), body)
        if not result.success:
            return result
        left = abs(net) - size
        return self._fit_stops(result, account, contract_id, action, deadline, held=lambda _: left, expected=left)

    def _fit_stops(self, result: ConnectorResult, account: int, contract_id: int, action: str, deadline: Deadline,
                   held: Callable[[Deadline], int], expected: int = 0) -> ConnectorResult:
        """After an exit: no more stop contracts working on the closing side than the position
        left, `held` (asked after the stops are listed). The entry's bracket stop keeps the entry's
        full size at Tradovate; if it fired after a partial exit it would close the rest *and* open
        the other side by the exited quantity, and after the position was closed by hand it would
        open one. The exit stands either way, so a failure here does not change its status: the
        result says STOP_NOT_ADJUSTED (and the trader is notified) instead.

        The time, the failure and the result are connectors/exit_fitting.py's (the `expected`
        position left is what a fitting not started reports).
        """
        def fit(cut_deadline: Deadline, fitting: Fitting) -> None:
            stops = self._closing_stops(account, contract_id, action, cut_deadline, skip=result.order_id)
            fitting.left = held(cut_deadline)
            self._cut_stops(stops, fitting.left, cut_deadline, fitting.changes)

        return fit_after_exit(result, expected, deadline, "at Tradovate", fit)

    def _still_flat(self, order: OrderRequest, account: int, contract_id: int, deadline: Deadline) -> int:
        """0 when this side is still flat after the stops were listed. A position there now (a
        trade entered meanwhile) makes the listed stops ambiguous - its own bracket may or may not
        be among them - so none is touched: Rejected, and the trader is told to look."""
        held = order.held_at_firm(self._net_position(account, contract_id, deadline))
        if held > 0:
            raise Rejected("POSITION_OPENED", f"{held} contract(s) opened on this side while the stops were "
                                              f"checked, so none was changed")
        return 0

    def after_exit_found(self, order: OrderRequest) -> str | None:
        """An exit found by reconciliation: its stop was never cut, so cut the closing side's
        stops to what this side holds now (none when it is flat: a stop there would open a position).
        The stops are listed before the position is read: a stop shows as working only once its
        entry filled, so a trade entered in between is counted in the position too."""
        deadline = Deadline(DEFAULT_BUDGET)
        changes: list[dict[str, Any]] = []
        try:
            account, _ = self._account(order.program_id, deadline)
            _, contract_id = self._exit_contract(order, deadline)
            stops = self._closing_stops(account, contract_id, "Buy" if order.side == "BUY" else "Sell", deadline)
            left = max(order.held_at_firm(self._net_position(account, contract_id, deadline)), 0)
            self._cut_stops(stops, left, deadline, changes)
        except Exception as exc:  # noqa: BLE001 - reported in the journal and the log
            log.warning("APEX stop adjustment after reconciling %s failed: %s", order.client_order_id, type(exc).__name__)
            return (f"{STOP_NOT_ADJUSTED}: adjust the bracket stop at Tradovate ({type(exc).__name__}); "
                    f"changed before the failure: {changes}")
        return f"stops cut to the {left} contract(s) held: {changes}" if changes else None

    def _closing_stops(self, account: int, contract_id: int, action: str, deadline: Deadline,
                       skip: str | None = None) -> list[dict[str, Any]]:
        """The working stop orders of `action` (the closing side) in this account and contract,
        oldest first, each with its current OrderVersion (GET /order/list, GET /orderVersion/deps);
        `skip` is the exit's own order. A stop there being changed or cancelled (Pending*) has no
        settled size to fit around: Rejected."""
        orders = [o for o in schemas.entities(self._read("GET", "/order/list", deadline), "/order/list")
                  if o.get("accountId") == account and o.get("contractId") == contract_id
                  and o.get("action") == action and str(o.get("id")) != skip
                  and o.get("ordStatus") in ("Working", *PENDING_STATES)]
        stops = []
        for resting in sorted(orders, key=lambda o: int(o.get("id") or 0)):
            versions = schemas.entities(self._read("GET", "/orderVersion/deps", deadline,
                                                   params={"masterid": resting["id"]}), "/orderVersion/deps")
            version = max(versions, key=lambda v: int(v.get("id") or 0), default=None)
            if version is None or version.get("orderType") not in STOP_TYPES:
                continue
            if resting.get("ordStatus") != "Working":
                raise Rejected("STOP_PENDING", "a stop on the closing side is being changed at Tradovate; check its size")
            stops.append({**version, "id": resting["id"]})  # the order's id, not the version's
        return stops

    def _cut_stops(self, stops: list[dict[str, Any]], left: int, deadline: Deadline,
                   changes: list[dict[str, Any]]) -> None:
        """Cut `stops` down to `left` contracts in all, oldest kept first (POST /order/modifyorder,
        with the version's prices so a stop-limit or trailing stop keeps them, or /order/cancelorder
        for one with nothing left to protect), appending each change made to `changes`; a refusal
        raises Rejected, the changes before it already made."""
        for stop in stops:
            quantity = int(stop.get("orderQty") or 0)
            keep = min(quantity, left)
            left -= keep
            if keep == quantity:
                continue
            if keep == 0:
                path, body = "/order/cancelorder", {"orderId": stop["id"], "isAutomated": True}
            else:  # everything the version has, so only the size changes (a GTC stop stays GTC)
                path = "/order/modifyorder"
                body = {"orderId": stop["id"], "orderQty": keep, "orderType": stop["orderType"], "isAutomated": True,
                        **{k: stop[k] for k in _KEPT_ON_MODIFY if stop.get(k) is not None}}
            try:
                answer = self._submit(path, body, deadline, patient=False)
            except OutcomeUnknown:  # sent, unanswered: it may have taken effect; the trader must look
                changes.append({"order_id": str(stop["id"]), "contracts_before": quantity, "contracts_after": keep,
                                "outcome": "UNKNOWN"})
                raise
            if answer.get("failureReason"):
                raise Rejected(str(answer["failureReason"]), self.http.redact(str(answer.get("failureText") or "refused")) or "")
            changes.append({"order_id": str(stop["id"]), "contracts_before": quantity, "contracts_after": keep})

    def _find_order(self, order: OrderRequest, deadline: Deadline) -> OrderLookup:
        account, _ = self._account(order.program_id, deadline)
        for command in schemas.entities(self._read("GET", "/command/list", deadline), "/command/list"):
            if order.client_order_id in (command.get("clOrdId"), command.get("customTag50")):
                order_id = str(command.get("orderId")) if command.get("orderId") is not None else None
                refusal = self._refusal(command, order_id, deadline)
                if refusal is not None:
                    return OrderLookup(True, order_id, refusal, refused=True)
                return OrderLookup(True, order_id, "command found")
        if order.action == "EXIT":  # a liquidation may not echo our tag: judge by the position
            _, contract_id = self._exit_contract(order, deadline)
            flat = order.held_at_firm(self._net_position(account, contract_id, deadline)) <= 0
            return OrderLookup(flat, detail="this side flat" if flat else "position still open")
        return OrderLookup(False, detail="no command with this clOrdId")

    def _refusal(self, command: dict[str, Any], order_id: str | None, deadline: Deadline) -> str | None:
        """Why Tradovate refused a found command, or None: its CommandReports, then its order's
        ordStatus (Rejected; Canceled/Expired without a fill)."""
        if command.get("id") is not None:
            reports = schemas.entities(self._read("GET", "/commandReport/deps", deadline,
                                                  params={"masterid": command["id"]}), "/commandReport/deps")
            refusal = schemas.command_refusal(reports)
            if refusal is not None:
                return refusal
        if order_id is None:
            return None
        try:
            item = self._read("GET", "/order/item", deadline, params={"id": order_id})
        except Rejected as exc:  # no such order entity: the command and its reports are all there is
            if exc.reason != "HTTP_404":
                raise
            return None
        status = item.get("ordStatus") if isinstance(item, dict) else None
        if status == "Rejected":
            return "order Rejected"
        if status in schemas.UNFILLED_ENDS:
            fills = schemas.entities(self._read("GET", "/fill/deps", deadline, params={"masterid": order_id}), "/fill/deps")
            if not fills:
                return f"order {status} unfilled"
        return None

    def _account_snapshot(self, program_id: int, deadline: Deadline) -> AccountSnapshot:
        # https://partner.tradovate.com/api/rest-api-endpoints/accounting/get-cash-balance-snapshot:
        # {accountId} -> totalCashValue, openPnL, netLiq, ... ("double or null"); `openPnL` "May not be
        # included if you do not have an open position" (Tradovate API education, CashBalanceSnapshot),
        # so a missing one is 0; `errorText` is "Non-empty if the request failed". Calling it in quick
        # succession is "an anti-pattern": the snapshot provider caches and refreshes it.
        account, _ = self._account(program_id, deadline)
        snap = self._read("POST", "/cashBalance/getcashbalancesnapshot", deadline, json={"accountId": account})
        if not isinstance(snap, dict) or snap.get("errorText") or snap.get("totalCashValue") is None:
            text = snap.get("errorText") if isinstance(snap, dict) else type(snap).__name__
            raise ValueError(f"cash balance snapshot unusable: {self.http.redact(str(text or 'no totalCashValue'))}")
        balance = Decimal(str(snap["totalCashValue"]))
        open_pl = Decimal(str(snap.get("openPnL") or 0))
        return AccountSnapshot(balance=balance, equity=balance + open_pl, open_pl=open_pl,
                               taken_at=datetime.now(timezone.utc))

    def _account_status(self) -> dict[str, Any]:
        deadline = Deadline(2.0)
        accounts = {}
        for pid in self.firm.program_ids:
            account, _ = self._account(pid, deadline)
            snap = self._read("POST", "/cashBalance/getcashbalancesnapshot", deadline, json={"accountId": account})
            snap = snap if isinstance(snap, dict) else {}
            accounts[pid] = {"total_cash_value": snap.get("totalCashValue"), "realized_pnl": snap.get("realizedPnL"),
                             "open_pnl": snap.get("openPnL")}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}

