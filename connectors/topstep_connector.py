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
  a `stopLossBracket` {ticks, type 4 = Stop}, a `takeProfitBracket` {ticks, type 1 = Limit} for an
  entry with a target, and `customTag`, which "must be unique across the
  account" — our client order id (https://gateway.docs.projectx.com/docs/api-reference/order/order-place).
  Bracket ticks are signed (projectx_schemas.bracket_ticks), and bracket objects are accepted only
  when the account is in Auto OCO Brackets mode (POSITION_BRACKETS_MODE otherwise).
- exits: POST /api/Position/closeContract {accountId, contractId}, or partialCloseContract with
  `size` when this trade holds only part of the account's position; afterwards the entry's
  bracket legs, which a close leaves working, are fitted to what is left (projectx_brackets.py).
- contracts: the front contract is resolved again after CONTRACT_MAX_AGE, or at once after the
  gateway refuses the cached one as not active; an exit closes the contract its entry traded.
- reconciliation: POST /api/Order/search returns orders with their `customTag` and `status`
  (https://gateway.docs.projectx.com/docs/api-reference/order/order-search).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from account_engine.snapshots import AccountSnapshot, SnapshotUnavailable
from connectors.base_connector import OrderLookup
from connectors.http_client import Deadline, NotSent, Rejected
from connectors.http_connector import HttpConnector
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus
from connectors.projectx_brackets import BracketFitting
from connectors.projectx_schemas import (
    ASK, BID, CONTRACT_GONE_CODES, LIMIT, MARKET, POSITION_SIGN, STOP, Envelope, PxContract, PxOrder, PxPosition, bracket_ticks,
)

PRODUCT_CODES = {"NQ": "ENQ", "ES": "EP"}
TOKEN_REFRESH = 20 * 60 * 60
"""Validate (refresh) the 24-hour token after 20 hours."""
CONTRACT_MAX_AGE = 60 * 60
"""Seconds a resolved front contract is used for new entries before it is looked up again: a
process running across a quarterly roll trades the new front month within the hour (and at once
after the gateway refuses the old one, errorCode 9 ContractNotActive)."""
POSITION_BRACKETS_MESSAGE = (
    "TopstepX refused the stop bracket: account {account} is in Position Brackets mode, where the API "
    "accepts no bracket objects. Enable Auto OCO Brackets in TopstepX (Settings > Risk Settings); it can "
    "only be switched while the account is flat with no working orders. Nothing was opened.")
"""https://gateway.docs.projectx.com/docs/api-reference/order/order-place (bracket modes); switching
needs a flat account: https://help.topstep.com/en/articles/12267698-topstepx-auto-oco-brackets
("If you have any open positions or working orders, the new Brackets cannot be enabled")."""


class TopstepConnector(BracketFitting, HttpConnector):
    firm_code = "TOPSTEP"
    live_supported = True

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = threading.Lock()
        self._contracts: dict[str, tuple[PxContract, float]] = {}  # root -> (front contract, resolved at)

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
        if not Envelope.from_api(data).success:
            message = data.get("errorMessage") if isinstance(data, dict) else None
            raise Rejected("FIRM_REFUSED", self.http.redact(str(message or f"{path} failed")) or "")
        return data

    def _submit(self, order: OrderRequest, path: str, body: dict[str, Any], deadline: Deadline) -> ConnectorResult:
        """One submission; a 401 is refused before processing, so it is re-sent once after login."""
        status, data = self._authorized_submit("POST", path, deadline, json=body)
        answer = Envelope.from_api(data)
        if status < 400 and answer.success:
            return self._result(order, OrderStatus.SUCCESS, None, "accepted", order_id=answer.order_id, firm_request=body)
        message = self.http.redact(answer.error_message or "refused")
        reason = f"ERROR_CODE_{answer.error_code}" if answer.error_code else f"HTTP_{status}"
        if answer.position_brackets:
            reason, message = "POSITION_BRACKETS_MODE", POSITION_BRACKETS_MESSAGE.format(account=body["accountId"])
        elif order.action == "ENTRY" and answer.error_code in CONTRACT_GONE_CODES:
            self._contracts.pop(order.symbol, None)  # rolled: the next entry resolves the front contract again
            reason = "CONTRACT_NOT_ACTIVE"
        # a refused order is still created at the firm and its id returned: kept for the journal
        return self._result(order, OrderStatus.FAILED, reason, message, order_id=answer.order_id, firm_request=body)

    # ---- contracts and accounts ----------------------------------------------------------------
    def _account(self, program_id: int) -> int:
        account = self.firm.live.program(program_id).account_id
        if not account or not account.isdecimal():
            raise Rejected("NO_ACCOUNT_ID", f"TOPSTEP_{program_id}_ACCOUNT_ID is not set")
        return int(account)

    def _contract(self, root: str, deadline: Deadline) -> PxContract:
        """The root's front contract for a new entry: the active one /api/Contract/available lists
        (`activeContract`), cached for CONTRACT_MAX_AGE."""
        cached = self._contracts.get(root)
        if cached is not None and time.monotonic() - cached[1] < CONTRACT_MAX_AGE:
            return cached[0]
        code = self.firm.live.symbol_map.get(root) or PRODUCT_CODES.get(root, root)
        data = self._read("/api/Contract/available", {"live": False}, deadline)
        for raw in data.get("contracts") or []:
            contract = PxContract.from_api(raw) if isinstance(raw, dict) else None
            if contract is not None and contract.product == code and contract.active:
                self._contracts[root] = (contract, time.monotonic())
                return contract
        raise Rejected("UNKNOWN_CONTRACT", f"no active ProjectX contract for {root} (product {code})")

    def _exit_contract_id(self, order: OrderRequest, deadline: Deadline) -> str:
        """The contract an exit closes: the one its entry traded, else today's active one."""
        return order.contract or self._contract(order.symbol, deadline).id

    def _net_position(self, account: int, contract_id: str, deadline: Deadline) -> int:
        """Signed contracts open on the account for the contract, long > 0 (ProjectX's position
        `type`: 1 long, 2 short). A position whose side cannot be told fails the exit unsent."""
        data = self._read("/api/Position/searchOpen", {"accountId": account}, deadline)
        net = 0
        for p in (PxPosition.from_api(p) for p in data.get("positions") or [] if isinstance(p, dict)):
            if p.contract_id != contract_id:
                continue
            sign = POSITION_SIGN.get(p.type)
            if sign is None:
                raise Rejected("UNKNOWN_POSITION_SIDE", f"TOPSTEP position type {p.type!r} is neither long nor short")
            net += sign * p.size
        return net

    # ---- protocol ------------------------------------------------------------------------------
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account = self._account(order.program_id)
        contract = self._contract(order.symbol, deadline)
        self._trading(order, contract.id)
        side = BID if order.side == "BUY" else ASK
        body: dict[str, Any] = {
            "accountId": account, "contractId": contract.id, "type": MARKET,
            "side": side, "size": order.contracts, "customTag": order.client_order_id,
        }
        # bracket objects {ticks, type}: stopLossBracket a Stop (type 4), takeProfitBracket a Limit
        # (type 1), the entry's size, linked as OCO by the platform's Auto OCO Brackets
        # (https://gateway.docs.projectx.com/docs/api-reference/order/order-place,
        # https://help.projectx.com/settings/risk-settings/auto-oco-brackets); signed ticks: bracket_ticks
        for field, leg, price, leg_type in (("stopLossBracket", "stop", order.stop_loss, STOP),
                                            ("takeProfitBracket", "target", order.take_profit, LIMIT)):
            if price is not None and order.entry_price is not None:
                ticks = self._ticks(contract, abs(order.entry_price - price))
                body[field] = {"ticks": bracket_ticks(side, leg, ticks), "type": leg_type}
        return self._submit(order, "/api/Order/place", body, deadline)

    @staticmethod
    def _ticks(contract: PxContract, distance: Decimal) -> int:
        """A bracket's distance from the fill in the contract's whole ticks (at least one)."""
        if contract.tick_size <= 0:
            raise Rejected("UNKNOWN_TICK_SIZE", f"{contract.id} has no tick size")
        return max(int((distance / contract.tick_size).to_integral_value(rounding=ROUND_HALF_UP)), 1)

    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account = self._account(order.program_id)
        contract_id = self._exit_contract_id(order, deadline)
        self._trading(order, contract_id)
        net = self._net_position(account, contract_id, deadline)
        size = self._exit_size(order, net)
        if isinstance(size, ConnectorResult):
            if net != 0:  # the other side is held: its own brackets are on the other side, not ours to touch
                return size
            # flat, yet the exit came: the position was closed outside this router (its stop filled,
            # or a close by hand, which leaves the other legs working)
            return self._fit_brackets(size, order, account, contract_id, deadline, expected=0)
        body: dict[str, Any] = {"accountId": account, "contractId": contract_id}
        if size == abs(net):
            result = self._submit(order, "/api/Position/closeContract", body, deadline)
        else:
            result = self._submit(order, "/api/Position/partialCloseContract", {**body, "size": size}, deadline)
        if not result.success:
            return result
        return self._fit_brackets(result, order, account, contract_id, deadline, expected=abs(net) - size)

    def _find_order(self, order: OrderRequest, deadline: Deadline) -> OrderLookup:
        account = self._account(order.program_id)
        if order.action == "EXIT":  # closeContract carries no tag: judge by the position
            held = order.held_at_firm(self._net_position(account, self._exit_contract_id(order, deadline), deadline))
            return OrderLookup(True, detail="this side flat") if held <= 0 else OrderLookup(None, detail="position still open")
        start = datetime.now(timezone.utc) - timedelta(days=3)
        data = self._read("/api/Order/search", {"accountId": account, "startTimestamp": start.isoformat()}, deadline)
        ours = [o for o in (PxOrder.from_api(o) for o in data.get("orders") or [] if isinstance(o, dict))
                if o.custom_tag == order.client_order_id]
        if not ours:
            return OrderLookup(False, detail="no order with this customTag")
        found = next((o for o in ours if o.type == MARKET), ours[0])
        refused = found.refused_unfilled
        if refused is None:
            return OrderLookup(None, found.id, f"order status {found.status} without a fill volume")
        if refused:
            return OrderLookup(True, found.id, f"order status {found.status} (rejected/cancelled/expired), nothing filled",
                               refused=True)
        return OrderLookup(True, found.id, "order found")

    def _account_snapshot(self, program_id: int, deadline: Deadline) -> AccountSnapshot:
        # https://gateway.docs.projectx.com/docs/api-reference/account/search-accounts: the account's
        # `balance`; https://gateway.docs.projectx.com/docs/api-reference/positions/search-open-positions:
        # open positions carry size and averagePrice but no profit, and the REST API has no quote, so
        # the equity is known only while the account is flat; otherwise the snapshot fails and
        # {FIRM}_SNAPSHOT_POLICY decides (marks from /api/realtime-price can price it instead).
        # The positions first: an account holding one cannot be priced, so its balance is not asked for.
        account = self._account(program_id)
        positions = self._read("/api/Position/searchOpen", {"accountId": account}, deadline).get("positions") or []
        if positions:
            raise SnapshotUnavailable(f"{len(positions)} open position(s): ProjectX gives no open P&L over REST")
        found = [a for a in self._read("/api/Account/search", {"onlyActiveAccounts": True}, deadline).get("accounts") or []
                 if a.get("id") == account]
        if not found or found[0].get("balance") is None:
            raise SnapshotUnavailable(f"account {account} is not among the active accounts")
        balance = Decimal(str(found[0]["balance"]))
        return AccountSnapshot(balance=balance, equity=balance, open_pl=Decimal(0), taken_at=datetime.now(timezone.utc))

    def _account_status(self) -> dict[str, Any]:
        data = self._read("/api/Account/search", {"onlyActiveAccounts": True}, Deadline(2.0))
        wanted = {self._account(pid): pid for pid in self.firm.program_ids}
        accounts = {wanted[a["id"]]: {"balance": a.get("balance"), "can_trade": a.get("canTrade")}
                    for a in data.get("accounts") or [] if a.get("id") in wanted}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}
