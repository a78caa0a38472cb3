"""APEX (Tradovate REST API).

Docs (Tradovate's API reference now lives on NinjaTrader's partner site):
- auth: POST /auth/accesstokenrequest {name, password, appId, appVersion, cid, sec} ->
  {accessToken, expirationTime}; tokens live 90 minutes and should be renewed ~15 minutes before
  `expirationTime` with GET /auth/renewaccesstoken
  (https://partner.ninjatrader.com/api/rest-api-endpoints/authentication/access-token-request).
- time penalty: a request over the rate caps is answered {"p-ticket", "p-time", "p-captcha"}
  instead of being processed; the client waits p-time seconds and sends the same request again
  with "p-ticket" added (https://community.tradovate.com/t/understanding-tradovates-time-penalty-mechanism/2121).
  That resubmission is not a blind resend: the penalty answer states the request was NOT
  processed, and the ticket ties the resubmission to it. We only do it if p-time fits inside the
  request deadline, and never with p-captcha (a human must solve it).
- orders: POST /order/placeOSO (entry with a `bracket1` stop) or /order/placeorder, both with
  `isAutomated: true` ("must be true if this isn't an order made directly by a human") and our
  client order id as `clOrdId` (https://partner.ninjatrader.com/api/rest-api-endpoints/orders/place-oso).
- exits: POST /order/liquidateposition {accountId, contractId, admin} closes the account's
  position in that contract and cancels its working orders (the stop bracket)
  (https://partner.ninjatrader.com/eval/api/rest-api-endpoints/orders/liquidate-position); the
  contract id comes from GET /contract/find?name= (https://community.tradovate.com/t/api-json-syntax/2773).
  When the firm's position is larger than what this trade opened (another program on the same
  account), or for a partial exit, we send an opposite market order of exactly our size instead.
- after a partial exit the bracket stop still has the entry's size, so it is cut to the position
  left: GET /order/list (Order: accountId, contractId, action, ordStatus), GET /orderVersion/deps
  ?masterid= (OrderVersion: orderQty, orderType, stopPrice), POST /order/modifyorder {orderId,
  orderQty, orderType, stopPrice} (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order).
  An exit that finds the account flat (closed by hand, which leaves the bracket working) cancels
  the closing side's stops there with POST /order/cancelorder {orderId}.
- status: POST /cashBalance/getcashbalancesnapshot {accountId}.
- reconciliation: GET /command/list lists commands with their `clOrdId` and `orderId`; an exit
  sent as a liquidation is also judged by the position (flat = it happened), since we do not
  rely on Tradovate echoing `customTag50` for liquidations.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from connectors.base_connector import DEFAULT_BUDGET, OrderLookup
from connectors.http_connector import HttpConnector
from connectors.http_client import Deadline, NotSent, OutcomeUnknown, Rejected
from connectors.orders import STOP_NOT_ADJUSTED, ConnectorResult, OrderRequest, OrderStatus

log = logging.getLogger(__name__)

STOP_TYPES = ("Stop", "StopLimit", "TrailingStop", "TrailingStopLimit")
PENDING_STATES = ("PendingNew", "PendingReplace", "PendingCancel")
_KEPT_ON_MODIFY = ("price", "stopPrice", "pegDifference", "maxShow", "timeInForce", "expireTime")
"""OrderVersion fields a modification repeats (https://partner.tradovate.com/api/rest-api-endpoints/orders/modify-order)."""
STOP_CUT_MARGIN = 0.25
"""Seconds of the request's deadline the stop cut leaves unused, so its outcome is in the answer."""
STOP_CUT_MIN = 0.5
"""The least time (after the margin) the cut needs for its calls (list, versions, a position read
when flat, the change); with less it is not started."""
RENEW_MARGIN = 15 * 60
"""Renew the token this many seconds before `expirationTime` (Tradovate's advice)."""
MONTH_CODES = "FGHJKMNQUVXZ"


class ApexConnector(HttpConnector):
    firm_code = "APEX"
    live_supported = True

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._token: str | None = None
        self._expires: float = 0.0
        self._lock = threading.Lock()
        self._contracts: dict[str, tuple[str, int]] = {}
        self._contract_ids: dict[str, int] = {}  # symbol (e.g. NQZ5) -> Tradovate contract id

    # ---- authentication -------------------------------------------------------------------------
    def _with_penalty(self, send, body: dict[str, Any], deadline: Deadline, patient: bool = True) -> Any:
        """Call `send(body)`; on a time-penalty answer wait p-time and resubmit with the ticket
        (not when `patient` is False: see `_submit`)."""
        data = send(body)
        for _ in range(2):
            if not (isinstance(data, dict) and "p-ticket" in data):
                return data
            if data.get("p-captcha"):
                raise NotSent("PENALTY_CAPTCHA", "Tradovate requires a captcha; log in by hand once")
            if not patient:
                raise NotSent("PENALTY", "Tradovate time penalty on an order sized from the position just read; "
                                         "not resent after a wait")
            wait = float(data.get("p-time") or 0)
            if wait > deadline.remaining() - 0.3:
                raise NotSent("PENALTY", f"Tradovate time penalty of {wait:g}s exceeds the request deadline; not sent")
            time.sleep(wait)
            data = send({**body, "p-ticket": data["p-ticket"]})
        raise NotSent("PENALTY", "Tradovate kept answering with a time penalty")

    def _auth(self, deadline: Deadline, force: bool = False) -> str:
        with self._lock:
            now = time.time()
            if self._token and not force and now < self._expires - RENEW_MARGIN:
                return self._token
            if self._token and not force and now < self._expires:
                renewed = self.http.read("GET", "/auth/renewaccesstoken", deadline=deadline,
                                         headers={"Authorization": f"Bearer {self._token}"})
                if isinstance(renewed, dict) and renewed.get("accessToken"):
                    return self._store(renewed)
            live = self.firm.live
            body = {
                "name": live.username,
                "password": live.credential("PASSWORD"),
                "appId": live.app_id,
                "appVersion": "1.0",
                "cid": live.cid,
                "sec": live.credential("API_SECRET"),
            }
            data = self._with_penalty(
                lambda b: self.http.read("POST", "/auth/accesstokenrequest", deadline=deadline, json=b), body, deadline)
            if not isinstance(data, dict) or not data.get("accessToken"):
                text = data.get("errorText") if isinstance(data, dict) else None
                raise NotSent("AUTH_FAILED", self.http.redact(str(text or "no access token")) or "")
            return self._store(data)

    def _store(self, data: dict[str, Any]) -> str:
        self._token = str(data["accessToken"])
        self.http.add_secret(self._token)
        try:
            self._expires = datetime.fromisoformat(str(data["expirationTime"]).replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            self._expires = time.time() + 60 * 60
        return self._token

    def _read(self, method: str, path: str, deadline: Deadline, **kw: Any) -> Any:
        return self._authorized_read(method, path, deadline, **kw)

    def _submit(self, path: str, body: dict[str, Any], deadline: Deadline, patient: bool = True) -> dict[str, Any]:
        """One order submission. A 401 (expired token) is answered before anything is processed,
        so it is re-sent once with a fresh token; a penalty ticket is honoured as documented.

        `patient=False` for a partial exit: a plain market order sized from the position read
        just before. Waiting out a back-off or a penalty first could let that position change (its
        stop fill) and the order then open the other side, so it fails unsent instead.
        """
        def send(b: dict[str, Any]) -> Any:
            status, data = self._authorized_submit("POST", path, deadline, json=b, wait_back_off=patient)
            if status >= 400:
                text = data.get("errorText") if isinstance(data, dict) else None
                raise Rejected(f"HTTP_{status}", self.http.redact(str(text or "refused")) or "")
            return data
        data = self._with_penalty(send, body, deadline, patient)
        return data if isinstance(data, dict) else {}

    # ---- contracts and accounts ----------------------------------------------------------------
    def _account(self, program_id: int) -> tuple[int, str]:
        program = self.firm.live.program(program_id)
        account = program.account_id
        if not account or not account.isdecimal():
            raise Rejected("NO_ACCOUNT_ID", f"APEX_{program_id}_ACCOUNT_ID is not set")
        spec = program.account_spec or self.firm.live.username or ""
        return int(account), spec

    def _contract(self, root: str, deadline: Deadline) -> tuple[str, int]:
        """(symbol, contract id) of the contract to trade for a futures root."""
        if root in self._contracts:
            return self._contracts[root]
        symbol = self.firm.live.symbol_map.get(root)
        if symbol is None:
            found = self._read("GET", "/contract/suggest", deadline, params={"t": root, "l": 10}) or []
            pattern = re.compile(rf"^{re.escape(root)}[{MONTH_CODES}]\d{{1,2}}$")
            names = [c.get("name") for c in found if isinstance(c, dict) and pattern.match(str(c.get("name", "")))]
            if not names:
                raise Rejected("UNKNOWN_CONTRACT", f"no Tradovate contract found for {root}")
            symbol = names[0]
        self._contracts[root] = (symbol, self._contract_id(symbol, deadline))
        return self._contracts[root]

    def _contract_id(self, symbol: str, deadline: Deadline) -> int:
        """Tradovate's id for a contract symbol such as NQZ5 (cached: ids do not change)."""
        if symbol not in self._contract_ids:
            contract = self._read("GET", "/contract/find", deadline, params={"name": symbol})
            if not isinstance(contract, dict) or "id" not in contract:
                raise Rejected("UNKNOWN_CONTRACT", f"Tradovate does not know {symbol}")
            self._contract_ids[symbol] = int(contract["id"])
        return self._contract_ids[symbol]

    def _exit_contract(self, order: OrderRequest, deadline: Deadline) -> tuple[str, int]:
        """(symbol, contract id) an exit closes: the one its entry traded, else today's front."""
        if not order.contract:
            return self._contract(order.symbol, deadline)
        return order.contract, self._contract_id(order.contract, deadline)

    def _net_position(self, account: int, contract_id: int, deadline: Deadline) -> int:
        positions = self._read("GET", "/position/list", deadline) or []
        return sum(int(p.get("netPos", 0)) for p in positions
                   if isinstance(p, dict) and p.get("accountId") == account and p.get("contractId") == contract_id)

    def _order_result(self, order: OrderRequest, data: dict[str, Any], body: dict[str, Any]) -> ConnectorResult:
        if data.get("orderId") is not None and not data.get("failureReason"):
            extra = {"stop_order_id": str(data["oso1Id"])} if data.get("oso1Id") is not None else {}
            return self._result(order, OrderStatus.SUCCESS, None, "accepted", order_id=str(data["orderId"]), firm_request=body, **extra)
        return self._result(order, OrderStatus.FAILED, str(data.get("failureReason") or "REJECTED"),
                            self.http.redact(str(data.get("failureText") or data.get("errorText") or "refused")),
                            firm_request=body)

    # ---- protocol --------------------------------------------------------------------------------
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account, spec = self._account(order.program_id)
        symbol, _ = self._contract(order.symbol, deadline)
        self._trading(order, symbol)
        body: dict[str, Any] = {
            "accountSpec": spec, "accountId": account, "clOrdId": order.client_order_id,
            "action": "Buy" if order.side == "BUY" else "Sell", "symbol": symbol,
            "orderQty": order.contracts, "orderType": "Market", "isAutomated": True,
        }
        path = "/order/placeorder"
        if order.stop_loss is not None:
            path = "/order/placeOSO"
            body["bracket1"] = {"action": "Sell" if order.side == "BUY" else "Buy", "orderType": "Stop",
                                "stopPrice": float(order.stop_loss)}
        return self._order_result(order, self._submit(path, body, deadline), body)

    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult:
        account, spec = self._account(order.program_id)
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
            body: dict[str, Any] = {"accountId": account, "contractId": contract_id, "admin": False,
                                    "customTag50": order.client_order_id}
            return self._order_result(order, self._submit("/order/liquidateposition", body, deadline), body)
        body = {"accountSpec": spec, "accountId": account, "clOrdId": order.client_order_id,
                "action": action, "symbol": symbol, "orderQty": size, "orderType": "Market", "isAutomated": True}
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

        The cut ends STOP_CUT_MARGIN before the request's deadline, so its outcome is in the
        answer; with less than STOP_CUT_MIN left it is not started (and the result says so, with
        the `expected` position left).
        """
        budget = deadline.remaining() - STOP_CUT_MARGIN
        if budget < STOP_CUT_MIN:
            return _stop_not_adjusted(result, expected, [], "too little of the request's time was left to change it")
        cut_deadline = Deadline(budget)
        changes: list[dict[str, Any]] = []
        left = expected
        try:
            stops = self._closing_stops(account, contract_id, action, cut_deadline, skip=result.order_id)
            left = held(cut_deadline)
            self._cut_stops(stops, left, cut_deadline, changes)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the trader must hear of it
            log.warning("APEX stop adjustment after %s failed: %s", result.order and result.order.get("client_order_id"),
                        type(exc).__name__)
            return _stop_not_adjusted(result, left, changes, str(getattr(exc, "message", "") or type(exc).__name__))
        return replace(result, extra={**result.extra, "stop_adjustment": {
            "status": "ADJUSTED" if changes else "NOT_NEEDED", "position_left": left, "orders": changes}})

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
            account, _ = self._account(order.program_id)
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
        orders = [o for o in self._read("GET", "/order/list", deadline) or []
                  if isinstance(o, dict) and o.get("accountId") == account and o.get("contractId") == contract_id
                  and o.get("action") == action and str(o.get("id")) != skip
                  and o.get("ordStatus") in ("Working", *PENDING_STATES)]
        stops = []
        for resting in sorted(orders, key=lambda o: int(o.get("id") or 0)):
            versions = self._read("GET", "/orderVersion/deps", deadline, params={"masterid": resting["id"]}) or []
            version = max((v for v in versions if isinstance(v, dict)), key=lambda v: int(v.get("id") or 0), default=None)
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
        commands = self._read("GET", "/command/list", deadline) or []
        for c in commands:
            if isinstance(c, dict) and order.client_order_id in (c.get("clOrdId"), c.get("customTag50")):
                return OrderLookup(True, str(c.get("orderId")), "command found")
        if order.action == "EXIT":  # a liquidation may not echo our tag: judge by the position
            account, _ = self._account(order.program_id)
            _, contract_id = self._exit_contract(order, deadline)
            flat = order.held_at_firm(self._net_position(account, contract_id, deadline)) <= 0
            return OrderLookup(flat, detail="this side flat" if flat else "position still open")
        return OrderLookup(False, detail="no command with this clOrdId")

    def _account_status(self) -> dict[str, Any]:
        deadline = Deadline(2.0)
        accounts = {}
        for pid in self.firm.program_ids:
            account, _ = self._account(pid)
            snap = self._read("POST", "/cashBalance/getcashbalancesnapshot", deadline, json={"accountId": account}) or {}
            accounts[pid] = {"total_cash_value": snap.get("totalCashValue"), "realized_pnl": snap.get("realizedPnL"),
                             "open_pnl": snap.get("openPnL")}
        return {"firm_code": self.firm_code, "available": True, "accounts": accounts}


def _stop_not_adjusted(result: ConnectorResult, left: int, changes: list[dict[str, Any]], why: str) -> ConnectorResult:
    if left:
        message = (f"The bracket stop may still be larger than the {left} contract(s) left: adjust it at "
                   f"Tradovate, or a stop fill opens the other side ({why}).")
    else:
        message = (f"This trade's bracket stop may still be working on a flat account: check it at Tradovate "
                   f"and cancel it, or its fill opens a position ({why}).")
    return replace(result, extra={**result.extra, "stop_adjustment": {
        "status": STOP_NOT_ADJUSTED, "position_left": left, "orders": changes, "message": message}})
