"""TOPSTEP through the ProjectX Gateway API (TopstepX).

Docs: https://gateway.docs.projectx.com/docs/intro
- auth: POST /api/Auth/loginKey {userName, apiKey} -> {token}; tokens are valid 24 hours and are
  refreshed with POST /api/Auth/validate -> {newToken}
  (https://gateway.docs.projectx.com/docs/getting-started/authenticate/authenticate-api-key).
- every answer is HTTP 200 with {success, errorCode, errorMessage}: `success: false` is a refusal.
- contracts: POST /api/Contract/available {live} lists the active contracts; ids look like
  CON.F.US.ENQ.H25 — ProjectX's product code for NQ is ENQ and for ES is EP, not the CME root
  (https://gateway.docs.projectx.com/docs/getting-started/placing-your-first-order).
- orders: POST /api/Order/place with type 2 (Market), side 0 = Bid (buy) / 1 = Ask (sell), `size`,
  a `stopLossBracket` {ticks, type 4 = Stop} and `customTag`, which "must be unique across the
  account" — our client order id (https://gateway.docs.projectx.com/docs/api-reference/order/order-place).
- exits: POST /api/Position/closeContract {accountId, contractId}, or partialCloseContract with
  `size` when this trade holds only part of the account's position.
- reconciliation: POST /api/Order/search returns orders with their `customTag`
  (https://gateway.docs.projectx.com/docs/api-reference/order/order-search).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.base_connector import OrderLookup
from connectors.http_connector import HttpConnector
from connectors.http_client import Deadline, NotSent, Rejected
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus

PRODUCT_CODES = {"NQ": "ENQ", "ES": "EP"}
TOKEN_REFRESH = 20 * 60 * 60
"""Validate (refresh) the 24-hour token after 20 hours."""
MARKET, STOP = 2, 4
POSITION_SIGN = {1: 1, 2: -1}  # ProjectX position type: 1 long, 2 short


class TopstepConnector(HttpConnector):
    firm_code = "TOPSTEP"
    live_supported = True

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = threading.Lock()
        self._contracts: dict[str, dict[str, Any]] = {}

    # ---- authentication ----------------------------------------------------------------------
    def _auth(self, deadline: Deadline, force: bool = False) -> str:
        with self._lock:
            age = time.time() - self._token_at
            if self._token and not force and age < TOKEN_REFRESH:
                return self._token
            if self._token and not force:
                data = self.http.read("POST", "/api/Auth/validate", deadline=deadline,
                                      headers={"Authorization": f"Bearer {self._token}"})
                if isinstance(data, dict) and data.get("success") and data.get("newToken"):
                    return self._store(str(data["newToken"]))
            live = self.firm.live
            data = self.http.read("POST", "/api/Auth/loginKey", deadline=deadline, json={
                "userName": live.username, "apiKey": live.credential("API_KEY")})
            if not isinstance(data, dict) or not data.get("success") or not data.get("token"):
                message = data.get("errorMessage") if isinstance(data, dict) else None
                raise NotSent("AUTH_FAILED", self.http.redact(str(message or "login refused")) or "")
            return self._store(str(data["token"]))

    def _store(self, token: str) -> str:
        self._token, self._token_at = token, time.time()
        self.http.add_secret(token)
        return token

    def _read(self, path: str, body: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        data = self._authorized_read("POST", path, deadline, json=body)
        if not isinstance(data, dict) or not data.get("success"):
            message = data.get("errorMessage") if isinstance(data, dict) else None
            raise Rejected("FIRM_REFUSED", self.http.redact(str(message or f"{path} failed")) or "")
        return data

    def _submit(self, order: OrderRequest, path: str, body: dict[str, Any], deadline: Deadline) -> ConnectorResult:
        """One submission; a 401 is refused before processing, so it is re-sent once after login."""
        status, data = self._authorized_submit("POST", path, deadline, json=body)
        data = data if isinstance(data, dict) else {}
        if status < 400 and data.get("success"):
            return self._result(order, OrderStatus.SUCCESS, None, "accepted",
                                order_id=str(data["orderId"]) if data.get("orderId") is not None else None,
                                firm_request=body)
        reason = f"ERROR_CODE_{data.get('errorCode')}" if data.get("errorCode") else f"HTTP_{status}"
        return self._result(order, OrderStatus.FAILED, reason, self.http.redact(str(data.get("errorMessage") or "refused")),
                            firm_request=body)

    # ---- contracts and accounts ----------------------------------------------------------------
    def _account(self, program_id: int) -> int:
        account = self.firm.live.program(program_id).account_id
        if not account or not account.isdecimal():
            raise Rejected("NO_ACCOUNT_ID", f"TOPSTEP_{program_id}_ACCOUNT_ID is not set")
        return int(account)

    def _contract(self, root: str, deadline: Deadline) -> dict[str, Any]:
        if root in self._contracts:
            return self._contracts[root]
        code = self.firm.live.symbol_map.get(root) or PRODUCT_CODES.get(root, root)
        data = self._read("/api/Contract/available", {"live": False}, deadline)
        for contract in data.get("contracts") or []:
            parts = str(contract.get("id", "")).split(".")
            if len(parts) >= 4 and parts[3] == code and contract.get("activeContract", True):
                self._contracts[root] = contract
                return contract
        raise Rejected("UNKNOWN_CONTRACT", f"no active ProjectX contract for {root} (product {code})")

    def _exit_contract_id(self, order: OrderRequest, deadline: Deadline) -> str:
        """The contract an exit closes: the one its entry traded, else today's active one."""
        return order.contract or str(self._contract(order.symbol, deadline)["id"])

    def _net_position(self, account: int, contract_id: str, deadline: Deadline) -> int:
        """Signed contracts open on the account for the contract, long > 0 (ProjectX's position
        `type`: 1 long, 2 short). A position whose side cannot be told fails the exit unsent."""
        data = self._read("/api/Position/searchOpen", {"accountId": account}, deadline)
        net = 0
        for p in data.get("positions") or []:
            if p.get("contractId") != contract_id:
                continue
            sign = POSITION_SIGN.get(p.get("type"))
            if sign is None:
                raise Rejected("UNKNOWN_POSITION_SIDE", f"TOPSTEP position type {p.get('type')!r} is neither long nor short")
            net += sign * int(p.get("size", 0))
        return net

    # ---- protocol ------------------------------------------------------------------------------
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account = self._account(order.program_id)
        contract = self._contract(order.symbol, deadline)
        self._trading(order, str(contract["id"]))
        body: dict[str, Any] = {
            "accountId": account, "contractId": contract["id"], "type": MARKET,
            "side": 0 if order.side == "BUY" else 1, "size": order.contracts, "customTag": order.client_order_id,
        }
        if order.stop_loss is not None and order.entry_price is not None:
            tick = Decimal(str(contract.get("tickSize") or "0"))
            if tick <= 0:
                raise Rejected("UNKNOWN_TICK_SIZE", f"{contract['id']} has no tick size")
            ticks = int((abs(order.entry_price - order.stop_loss) / tick).to_integral_value(rounding=ROUND_HALF_UP))
            body["stopLossBracket"] = {"ticks": max(ticks, 1), "type": STOP}
        return self._submit(order, "/api/Order/place", body, deadline)

    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account = self._account(order.program_id)
        contract_id = self._exit_contract_id(order, deadline)
        self._trading(order, contract_id)
        net = self._net_position(account, contract_id, deadline)
        size = self._exit_size(order, net)
        if isinstance(size, ConnectorResult):
            return size
        body: dict[str, Any] = {"accountId": account, "contractId": contract_id}
        if size == abs(net):
            return self._submit(order, "/api/Position/closeContract", body, deadline)
        body["size"] = size
        return self._submit(order, "/api/Position/partialCloseContract", body, deadline)

    def _find_order(self, order: OrderRequest, deadline: Deadline) -> OrderLookup:
        account = self._account(order.program_id)
        if order.action == "EXIT":  # closeContract carries no tag: judge by the position
            held = order.held_at_firm(self._net_position(account, self._exit_contract_id(order, deadline), deadline))
            return OrderLookup(True, detail="this side flat") if held <= 0 else OrderLookup(None, detail="position still open")
        start = datetime.now(timezone.utc) - timedelta(days=3)
        data = self._read("/api/Order/search", {"accountId": account, "startTimestamp": start.isoformat()}, deadline)
        for o in data.get("orders") or []:
            if o.get("customTag") == order.client_order_id:
                return OrderLookup(True, str(o.get("id")), "order found")
        return OrderLookup(False, detail="no order with this customTag")

    def _account_status(self) -> dict[str, Any]:
        data = self._read("/api/Account/search", {"onlyActiveAccounts": True}, Deadline(2.0))
        wanted = {self._account(pid): pid for pid in self.firm.program_ids}
        accounts = {wanted[a["id"]]: {"balance": a.get("balance"), "can_trade": a.get("canTrade")}
                    for a in data.get("accounts") or [] if a.get("id") in wanted}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}
