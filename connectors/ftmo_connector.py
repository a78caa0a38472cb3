"""FTMO (MetaTrader 5) through MetaApi's REST API.

Docs: https://metaapi.cloud/docs/client/restApi/api/trade/ (POST /users/current/accounts/:accountId/trade,
header `auth-token`), trade fields https://metaapi.cloud/docs/client/models/metatraderTrade/.
Quirks handled here:
- `clientId` + `comment` together must be at most 26 characters
  (https://metaapi.cloud/docs/client/clientIdUsage/), shorter than our client order ids, so the
  clientId is a deterministic 20-character digest of the client order id (`metaapi_client_id`).
- Result codes (connectors/metaapi_schema.py, https://metaapi.cloud/docs/client/models/metatraderTradeResponse/):
  the documented success codes are SUCCESS, -11 "the result of the trade is not known" is UNKNOWN
  (reconciled, never resent), the rest are refusals.
- The stop and the take-profit target are sent as distances (`stopLossUnits` / `takeProfitUnits`
  RELATIVE_PRICE): the signal's prices are futures prices, the order trades a cash CFD priced
  differently (connectors/metaapi_schema.py). Both belong to the MT5 position ("stopLoss | position
  stop loss price", "takeProfit | position take profit price",
  https://metaapi.cloud/docs/client/models/metatraderPosition/): closing the position removes
  them, and a partial close leaves the same position - its target, its stop - for the rest
  (its `profit` counts the "partially closed position part"), so an exit has no leg to fit here.
- Symbols are the account's CFD names (US100.cash), volume in lots: see config/live_settings.py.
- Exits close the position opened by the entry, found by its clientId in
  GET .../positions (https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readPositions/):
  POSITION_CLOSE_ID for all of it, POSITION_PARTIAL for part.
- Reconciliation reads the account's history orders page by page and their `state`.
- Balance/equity from GET .../accountInformation
  (https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readAccountInformation/).
"""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any, Iterator

from account_engine.snapshots import AccountSnapshot
from connectors.base_connector import OrderLookup
from connectors.http_client import Deadline, Rejected
from connectors.http_connector import HttpConnector
from connectors.metaapi_schema import (
    AccountInformation, HistoryOrder, TradeAnswer, TradeOutcome, relative_stop, relative_target,
)
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus

LOT_STEP = Decimal("0.01")
HISTORY_PAGE = 1000
"""https://metaapi.cloud/docs/client/restApi/api/retrieveHistoricalData/readHistoryOrdersByTimeRange/:
"limit | number | pagination limit, default: 1000, min: 1, max: 1000", "offset | pagination offset"."""
HISTORY_DAYS = 3


def metaapi_client_id(client_order_id: str) -> str:
    """20 characters, deterministic: the same order always carries the same MetaApi clientId."""
    return "ER" + hashlib.sha256(client_order_id.encode()).hexdigest()[:18]


class FtmoConnector(HttpConnector):
    firm_code = "FTMO"
    live_supported = True

    # ---- helpers -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"auth-token": self.firm.live.credential("API_KEY") or ""}

    def _path(self, program_id: int, suffix: str) -> str:
        account = self.firm.live.program(program_id).account_id
        if not account:
            raise Rejected("NO_ACCOUNT_ID", f"FTMO_{program_id}_ACCOUNT_ID is not set")
        return f"/users/current/accounts/{account}/{suffix}"

    def _symbol(self, root: str) -> str:
        symbol = self.firm.live.symbol_map.get(root)
        if symbol is None:
            raise Rejected("NO_SYMBOL_MAPPING", f"FTMO_SYMBOL_MAP has no symbol for {root}")
        return symbol

    def _volume(self, order: OrderRequest, contracts: int) -> Decimal:
        lots = self.firm.live.program(order.program_id).lots_per_contract
        if lots is None:
            raise Rejected("NO_LOTS_PER_CONTRACT", f"FTMO_{order.program_id}_LOTS_PER_CONTRACT is not set")
        volume = (lots * contracts).quantize(LOT_STEP, rounding=ROUND_DOWN)
        if volume <= 0:
            raise Rejected("VOLUME_BELOW_MINIMUM", f"{contracts} contract(s) x {lots} lots rounds to 0")
        return volume

    def _trade(self, order: OrderRequest, body: dict[str, Any], deadline: Deadline, **extra: Any) -> ConnectorResult:
        status, data = self.http.submit("POST", self._path(order.program_id, "trade"), deadline=deadline,
                                        headers=self._headers(), json=body)
        answer = TradeAnswer.parse(status, data)
        message = self.http.redact(answer.message)
        if answer.outcome is TradeOutcome.SUCCESS:
            return self._result(order, OrderStatus.SUCCESS, None, message, order_id=answer.order_id or "",
                                firm_request=body, position_id=answer.position_id, result_code=answer.code, **extra)
        if answer.outcome is TradeOutcome.UNKNOWN:  # maybe executed: reconcile by clientId, never resend
            return self._result(order, OrderStatus.UNKNOWN, answer.code, message, firm_request=body, **extra)
        return self._result(order, OrderStatus.FAILED, answer.code, message, firm_request=body, **extra)

    def _position(self, order: OrderRequest, client_order_id: str, deadline: Deadline) -> dict[str, Any] | None:
        """The open position of `order`'s account carrying `client_order_id`'s MetaApi clientId
        (an exit finds its position by the id its entry was sent with)."""
        wanted = metaapi_client_id(client_order_id)
        positions = self.http.read("GET", self._path(order.program_id, "positions"), deadline=deadline,
                                   headers=self._headers()) or []
        return next((p for p in positions if isinstance(p, dict) and p.get("clientId") == wanted), None)

    # ---- protocol ------------------------------------------------------------------------------
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        body: dict[str, Any] = {
            "actionType": "ORDER_TYPE_BUY" if order.side == "BUY" else "ORDER_TYPE_SELL",
            "symbol": self._symbol(order.symbol),
            "volume": float(self._volume(order, order.contracts)),
            "clientId": metaapi_client_id(order.client_order_id),
        }
        levels = {name: level for name, level in (("stop_loss_requested", relative_stop(order)),
                                                  ("take_profit_requested", relative_target(order))) if level}
        if not levels:
            return self._trade(order, body, deadline)
        for level in levels.values():
            body.update(level.fields())
        requested = {name: level.to_dict() for name, level in levels.items()}
        result = self._trade(order, body, deadline, **requested)
        return dataclasses.replace(result, order={**(result.order or {}), **requested})

    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        position = self._position(order, order.entry_client_order_id, deadline)
        if position is None:  # its stop loss (held at the broker) may already have closed it
            return self._result(order, OrderStatus.SKIPPED, "ALREADY_FLAT_AT_FIRM",
                                "No open FTMO position for this trade; nothing to close.")
        volume = self._volume(order, order.contracts)
        body: dict[str, Any] = {"positionId": str(position.get("id")), "clientId": metaapi_client_id(order.client_order_id)}
        if volume >= Decimal(str(position.get("volume", 0))):
            body["actionType"] = "POSITION_CLOSE_ID"
        else:
            body.update(actionType="POSITION_PARTIAL", volume=float(volume))
        return self._trade(order, body, deadline)

    def _find_order(self, order: OrderRequest, deadline: Deadline) -> OrderLookup:
        """Entry: a position or history order carrying its clientId. Exit: a history order
        carrying its clientId (the only trace of a partial close, whose position stays open),
        else the position being gone. A history order rejected or cancelled unfilled is a
        refused order: nothing is held for it."""
        if order.action == "EXIT":
            found = self._history_order(order, deadline)
            if found is not None:
                return self._history_lookup(found)
            position = self._position(order, order.entry_client_order_id, deadline)
            return OrderLookup(position is None, detail="position closed" if position is None else "position still open")
        position = self._position(order, order.client_order_id, deadline)
        if position is not None:
            return OrderLookup(True, str(position.get("id")), "open position")
        found = self._history_order(order, deadline)
        if found is not None:
            return self._history_lookup(found)
        return OrderLookup(False, detail="no order with this clientId")

    @staticmethod
    def _history_lookup(found: HistoryOrder) -> OrderLookup:
        if found.refused_unfilled:
            return OrderLookup(True, found.id, f"history order {found.state}, nothing filled", refused=True)
        return OrderLookup(True, found.id, f"history order {found.state or ''}".strip())

    def _history_order(self, order: OrderRequest, deadline: Deadline) -> HistoryOrder | None:
        """The account's order of the last HISTORY_DAYS days carrying `order`'s clientId, if any."""
        client_id = metaapi_client_id(order.client_order_id)
        return next((o for o in self._history_orders(order.program_id, deadline) if o.client_id == client_id), None)

    def _history_orders(self, program_id: int, deadline: Deadline) -> Iterator[HistoryOrder]:
        """Every history order of the window, page after page until a short page: an order on a
        later page is still found, and "not found" is only said once the last page was read (a
        deadline spent first raises, which a lookup reports as "cannot tell")."""
        # https://metaapi.cloud/docs/client/restApi/api/retrieveHistoricalData/readHistoryOrdersByTimeRange/
        # startTime inclusive, endTime exclusive, ISO format; offset/limit paging.
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        start = end - timedelta(days=HISTORY_DAYS)
        path = self._path(program_id, f"history-orders/time/{start.isoformat()}/{end.isoformat()}")
        offset = 0
        while True:
            page = self.http.read("GET", path, deadline=deadline, headers=self._headers(),
                                  params={"offset": offset, "limit": HISTORY_PAGE}) or []
            if not isinstance(page, list):
                raise Rejected("BAD_HISTORY", "history-orders did not answer a list")
            for item in page:
                parsed = HistoryOrder.parse(item)
                if parsed is not None:
                    yield parsed
            if len(page) < HISTORY_PAGE:
                return
            offset += len(page)

    def _account_snapshot(self, program_id: int, deadline: Deadline) -> AccountSnapshot:
        # https://metaapi.cloud/docs/client/models/metatraderAccountInformation/: balance, and equity
        # "account liquidation value" (balance plus the open positions' floating profit).
        info = AccountInformation.parse(self.http.read("GET", self._path(program_id, "accountInformation"),
                                                       deadline=deadline, headers=self._headers()))
        if info.balance is None or info.equity is None:
            raise ValueError("accountInformation has no balance or equity")
        balance, equity = Decimal(str(info.balance)), Decimal(str(info.equity))
        return AccountSnapshot(balance=balance, equity=equity, open_pl=equity - balance,
                               taken_at=datetime.now(timezone.utc))

    def _account_status(self) -> dict[str, Any]:
        deadline = Deadline(2.0)
        accounts = {}
        for pid in self.firm.program_ids:
            # https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readAccountInformation/:
            # GET /users/current/accounts/:accountId/accountInformation
            info = AccountInformation.parse(self.http.read("GET", self._path(pid, "accountInformation"),
                                                           deadline=deadline, headers=self._headers()))
            accounts[pid] = {"balance": info.balance, "equity": info.equity, "currency": info.currency}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}
