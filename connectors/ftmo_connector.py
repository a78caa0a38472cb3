"""FTMO (MetaTrader 5) through MetaApi's REST API.

Docs: https://metaapi.cloud/docs/client/restApi/api/trade/ (POST /users/current/accounts/:accountId/trade,
header `auth-token`), trade fields https://metaapi.cloud/docs/client/models/metatraderTrade/.
Quirks handled here:
- `clientId` + `comment` together must be at most 26 characters
  (https://metaapi.cloud/docs/client/clientIdUsage/), shorter than our client order ids, so the
  clientId is a deterministic 20-character digest of the client order id (`metaapi_client_id`).
- Success is `stringCode` TRADE_RETCODE_DONE (or PLACED/DONE_PARTIAL); other codes are refusals
  (https://metaapi.cloud/docs/client/models/metatraderTradeResponse/).
- Symbols are the account's CFD names (US100.cash), volume in lots: see config/live_settings.py.
- Exits close the position opened by the entry, found by its clientId in
  GET .../positions (https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readPositions/):
  POSITION_CLOSE_ID for all of it, POSITION_PARTIAL for part.
- Balance/equity from GET .../account-information
  (https://metaapi.cloud/docs/client/restApi/api/readTradingTerminalState/readAccountInformation/).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

from connectors.base_connector import OrderLookup
from connectors.http_connector import HttpConnector
from connectors.http_client import Deadline, Rejected
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus

SUCCESS_CODES = {"TRADE_RETCODE_DONE", "TRADE_RETCODE_PLACED", "TRADE_RETCODE_DONE_PARTIAL"}
LOT_STEP = Decimal("0.01")


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

    def _trade(self, order: OrderRequest, body: dict[str, Any], deadline: Deadline) -> ConnectorResult:
        status, data = self.http.submit("POST", self._path(order.program_id, "trade"), deadline=deadline,
                                        headers=self._headers(), json=body)
        data = data if isinstance(data, dict) else {}
        code = data.get("stringCode")
        if 200 <= status < 300 and code in SUCCESS_CODES:
            return self._result(order, OrderStatus.SUCCESS, None, data.get("message"), order_id=str(data.get("orderId") or ""),
                                firm_request=body, position_id=data.get("positionId"))
        return self._result(order, OrderStatus.FAILED, code or f"HTTP_{status}",
                            self.http.redact(str(data.get("message") or "refused")), firm_request=body)

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
        if order.stop_loss is not None:
            body["stopLoss"] = float(order.stop_loss)
        return self._trade(order, body, deadline)

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
        else the position being gone."""
        if order.action == "EXIT":
            found = self._history_order(order, deadline)
            if found is not None:
                return OrderLookup(True, str(found.get("id")), "history order")
            position = self._position(order, order.entry_client_order_id, deadline)
            return OrderLookup(position is None, detail="position closed" if position is None else "position still open")
        position = self._position(order, order.client_order_id, deadline)
        if position is not None:
            return OrderLookup(True, str(position.get("id")), "open position")
        found = self._history_order(order, deadline)
        if found is not None:
            return OrderLookup(True, str(found.get("id")), "history order")
        return OrderLookup(False, detail="no order with this clientId")

    def _history_order(self, order: OrderRequest, deadline: Deadline) -> dict[str, Any] | None:
        """The account's order of the last three days carrying `order`'s clientId, if any."""
        client_id = metaapi_client_id(order.client_order_id)
        # https://metaapi.cloud/docs/client/restApi/api/retrieveHistoricalData/readHistoryOrdersByTimeRange/
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        start = end - timedelta(days=3)
        history = self.http.read(
            "GET", self._path(order.program_id, f"history-orders/time/{start.isoformat()}/{end.isoformat()}"),
            deadline=deadline, headers=self._headers()) or []
        return next((o for o in history if isinstance(o, dict) and o.get("clientId") == client_id), None)

    def _account_status(self) -> dict[str, Any]:
        deadline = Deadline(2.0)
        accounts = {}
        for pid in self.firm.program_ids:
            info = self.http.read("GET", self._path(pid, "account-information"), deadline=deadline,
                                  headers=self._headers()) or {}
            accounts[pid] = {"balance": info.get("balance"), "equity": info.get("equity"), "currency": info.get("currency")}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}
