"""APEX (Tradovate REST API). The session (login, penalty tickets, the 429 lockout, accounts,
contracts) is `connectors.tradovate.api`; the answers' shapes are `connectors.tradovate.schemas`.

Docs (Tradovate's API reference lives on the partner site, https://partner.tradovate.com/):
- orders: POST /order/placeOSO (entry with a `bracket1` stop and a `bracket2` Limit take-profit,
  linked as an OCO; a target alone is `bracket1`) or /order/placeorder, both with
  `isAutomated: true` and our client order id as `clOrdId`
  (https://partner.tradovate.com/api/rest-api-endpoints/orders/place-oso).
- exits: POST /order/liquidateposition {accountId, contractId, admin, customTag50, isAutomated}
  cancels the account's orders in that contract and closes its position
  (https://partner.tradovate.com/api/rest-api-endpoints/orders/liquidate-position).
  When the firm's position is larger than what this trade opened (another program on the same
  account), or for a partial exit, we send an opposite market order of exactly our size instead.
- after a partial exit the bracket legs still have the entry's size, so they are cut to the
  position left; an exit that finds the account flat (closed by hand, which leaves the bracket
  working) cancels the closing side's legs there (connectors/tradovate/brackets.py).
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

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from account_engine.snapshots import AccountSnapshot
from connectors.base_connector import OrderLookup
from connectors.http_client import Deadline, Rejected
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus
from connectors.tradovate import schemas
from connectors.tradovate.api import TradovateApi
from connectors.tradovate.brackets import BracketLegs


class ApexConnector(BracketLegs, TradovateApi):
    firm_code = "APEX"
    live_supported = True

    def _order_result(self, order: OrderRequest, data: dict[str, Any], body: dict[str, Any]) -> ConnectorResult:
        placed = schemas.Placed.of(data)
        if placed.accepted:
            extra = {f"{leg}_order_id": leg_id for leg, leg_id in schemas.bracket_ids(body, placed).items()}
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
        if order.stop_loss is not None or order.take_profit is not None:
            path, body = "/order/placeOSO", schemas.with_brackets(
                body, stop_price=None if order.stop_loss is None else float(order.stop_loss),
                target_price=None if order.take_profit is None else float(order.take_profit))
        return self._order_result(order, self._submit(path, body, deadline), body)

    def _exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account, spec = self._account(order.program_id, deadline)
        symbol, contract_id = self._exit_contract(order, deadline)
        self._trading(order, symbol)
        net = self._net_position(account, contract_id, deadline)
        size = self._exit_size(order, net)
        action = "Buy" if order.side == "BUY" else "Sell"
        if isinstance(size, ConnectorResult):
            if net != 0:  # the other side is held: its own legs are on the other side, not ours to touch
                return size
            # flat, yet the exit came: the position was closed outside this router (by hand at
            # Tradovate, say), which leaves the entry's bracket legs working; a fill would open
            # a position nobody asked for. (A leg that filled cancelled its OCO partner itself.)
            return self._fit_legs(size, account, contract_id, action, deadline,
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
        return self._fit_legs(result, account, contract_id, action, deadline, held=lambda _: left, expected=left)

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

