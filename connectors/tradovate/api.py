"""The Tradovate session under the APEX connector: login, penalties, lockouts, accounts, contracts.

- auth: POST /auth/accesstokenrequest {name, password, appId, appVersion, cid, sec} ->
  {accessToken, expirationTime}; tokens live 90 minutes and are renewed ~15 minutes before
  `expirationTime` with GET /auth/renewaccesstoken
  (https://partner.tradovate.com/api/rest-api-endpoints/authentication/access-token-request).
- penalty tickets: ANY endpoint with a rate limit, reads included, may answer "an `HTTP 200 OK`
  with a `p-ticket` field in the body" instead of the result; "wait the number of seconds in the
  response's `p-time`, then resend the identical request body with the `p-ticket` value added as
  an extra field"; with `p-captcha: true` "you can't answer the reCAPTCHA from a server-to-server
  integration. Wait about one hour for the endpoint's count to clear"
  (https://partner.tradovate.com/overview/core-concepts/penalty-tickets). So every call goes
  through `_with_penalty`: waited out only inside the request's deadline, else NotSent; a captcha
  locks that endpoint out for the hour. The docs describe a body only: a GET's ticket goes in its
  query string (not documented; the read is idempotent either way).
- HTTP 429: "the server stops handling requests for a period of time and responds to each new
  request with a 429 status code ... Cannot be resolved programmatically from third-party
  applications • Users must wait 1 hour before sending another request • No p-ticket is provided";
  the documented answer is `HTTP/1.1 429 Too Many Requests` / `Content-Length: 0`, no Retry-After
  (https://partner.tradovate.com/overview/core-concepts/rate-limits). So a bare 429 locks the
  firm out for LOCKOUT_SECONDS: nothing more is sent from this process, each order until then
  is refused unsent (FIRM_LOCKED_OUT), and the first such result asks for one notification. A
  429 to a submission was not handled, so that order is FAILED, nothing held. (A 429 carrying a
  Retry-After, which the docs never show, is honoured as the shorter back-off it asks for.)
- accounts: GET /account/list (Account: id, name, active, closed); the configured account must be
  listed and active, checked on first use (start-up does not wait on the firm). `accountSpec`
  is "the name of the Account placing the trade" (place-order field table; the API Education
  example: `accountSpec: yourAcctName`, while the partner example passes the user name), so the
  listed name is sent unless `APEX_ACCOUNT_SPEC` says otherwise; `accountId` binds the order.
- contracts: the front month of a root is POST /contract/rollcontract {name, forward: true}
  ("Request the best upcoming maturity date for a given contract",
  https://partner.tradovate.com/api/rest-api-endpoints/contract-library/roll-contract), kept
  until its maturity's `expirationDate` (GET /contractMaturity/item) or CONTRACT_TTL, whichever
  comes first, so a service running across a roll trades the new month; an exit closes the
  contract its entry traded, looked up by name (GET /contract/find?name=).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from connectors.http_client import Deadline, LockedOut, NotSent, Rejected
from connectors.http_connector import HttpConnector
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus
from connectors.tradovate.schemas import Account, Contract, Penalty, Position, Unreadable, maturity_expires

RENEW_MARGIN = 15 * 60
"""Renew the token this many seconds before `expirationTime` (Tradovate's advice)."""
LOCKOUT_SECONDS = 60 * 60
"""A bare 429, or a penalty with p-captcha, stops calls for the hour the docs prescribe."""
PENALTY_MARGIN = 0.3
"""Seconds of the deadline a penalty wait must leave for the resubmission itself."""
CONTRACT_TTL = 15 * 60
"""Seconds a root's front contract is trusted before /contract/rollcontract is asked again: Tradovate
may roll to the next month days before the old one expires, so expiry alone is not enough."""
MONTH_CODES = "FGHJKMNQUVXZ"


@dataclass(frozen=True)
class _Front:
    symbol: str
    contract_id: int
    until: float  # epoch seconds


class TradovateApi(HttpConnector):
    lockout_on_429 = LOCKOUT_SECONDS

    def __init__(self, firm, *, dry_run: bool):
        super().__init__(firm, dry_run=dry_run)
        self._token: str | None = None
        self._expires: float = 0.0
        self._lock = threading.Lock()
        self._fronts: dict[str, _Front] = {}  # root (NQ) -> its front contract, while valid
        self._contract_ids: dict[str, int] = {}  # symbol (NQZ5) -> Tradovate contract id (ids do not change)
        self._account_names: dict[int, str] = {}  # accounts checked listed and active
        self._lockout_told = 0.0  # the end of the last lockout a result asked to notify

    # ---- calls -----------------------------------------------------------------------------------
    def _with_penalty(self, send: Callable[[str | None], Any], deadline: Deadline, path: str,
                      patient: bool = True) -> Any:
        """`send(None)`, then on a penalty `send(ticket)` after its p-time (not when `patient` is
        False: see `_submit`). Never returns a penalty body."""
        data = send(None)
        for _ in range(2):
            penalty = Penalty.of(data)
            if penalty is None:
                return data
            if penalty.captcha:
                raise self.http.lock_out(LOCKOUT_SECONDS, "PENALTY_CAPTCHA", path)
            if not patient:
                raise NotSent("PENALTY", "Tradovate time penalty on an order sized from the position just read; "
                                         "not resent after a wait")
            if penalty.seconds > deadline.remaining() - PENALTY_MARGIN:
                raise NotSent("PENALTY", f"Tradovate time penalty of {penalty.seconds:g}s on {path} exceeds the "
                                         f"request deadline; not sent")
            time.sleep(penalty.seconds)
            data = send(penalty.ticket)
        raise NotSent("PENALTY", f"Tradovate kept answering {path} with a time penalty")

    def _read(self, method: str, path: str, deadline: Deadline, *, json: Any = None,
              params: dict[str, Any] | None = None) -> Any:
        def send(ticket: str | None) -> Any:
            body, query = json, params
            if ticket is not None and method == "GET":
                query = {**(params or {}), "p-ticket": ticket}
            elif ticket is not None:
                body = {**(json or {}), "p-ticket": ticket}
            return self._authorized_read(method, path, deadline, json=body, params=query)
        return self._with_penalty(send, deadline, path)

    def _submit(self, path: str, body: dict[str, Any], deadline: Deadline, patient: bool = True) -> dict[str, Any]:
        """One order submission. A 401 (expired token) is answered before anything is processed,
        so it is re-sent once with a fresh token; a penalty ticket is honoured as documented.

        `patient=False` for a partial exit: a plain market order sized from the position read
        just before. Waiting out a back-off or a penalty first could let that position change (its
        stop fill) and the order then open the other side, so it fails unsent instead.
        """
        def send(ticket: str | None) -> Any:
            sent = body if ticket is None else {**body, "p-ticket": ticket}
            status, data = self._authorized_submit("POST", path, deadline, json=sent, wait_back_off=patient)
            if status >= 400:
                text = data.get("errorText") if isinstance(data, dict) else None
                raise Rejected(f"HTTP_{status}", self.http.redact(str(text or "refused")) or "")
            return data
        data = self._with_penalty(send, deadline, path, patient)
        return data if isinstance(data, dict) else {}

    def _unless_locked(self, order: OrderRequest, place: Callable[[OrderRequest, Deadline], ConnectorResult],
                       deadline: Deadline) -> ConnectorResult:
        """`place`, or FAILED when Tradovate has locked us out (before or while sending: either
        way it did not handle the order); the first result of each lockout asks to notify."""
        try:
            return place(order, deadline)
        except LockedOut as exc:
            first = exc.until > self._lockout_told + 1
            self._lockout_told = max(self._lockout_told, exc.until)
            until = datetime.fromtimestamp(exc.until, timezone.utc).isoformat(timespec="seconds")
            return self._result(order, OrderStatus.FAILED, exc.reason, exc.message,
                                lockout={"until": until, "notify": first})

    # ---- authentication -------------------------------------------------------------------------
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
            body = {"name": live.username, "password": live.credential("PASSWORD"), "appId": live.app_id,
                    "appVersion": "1.0", "cid": live.cid, "sec": live.credential("API_SECRET")}
            path = "/auth/accesstokenrequest"
            data = self._with_penalty(lambda ticket: self.http.read(
                "POST", path, deadline=deadline, json=body if ticket is None else {**body, "p-ticket": ticket}),
                deadline, path)
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

    # ---- accounts and contracts -----------------------------------------------------------------
    def _account(self, program_id: int, deadline: Deadline) -> tuple[int, str]:
        """(account id, accountSpec) of a program, once Tradovate listed the account as active."""
        program = self.firm.live.program(program_id)
        account = program.account_id
        variable = f"APEX_{program_id}_ACCOUNT_ID (or APEX_ACCOUNT_ID)"
        if not account or not account.isdecimal():
            raise Rejected("NO_ACCOUNT_ID", f"{variable} is not set")
        account_id = int(account)
        if account_id not in self._account_names:
            listed = {a.id: a for a in Account.listed(self._read("GET", "/account/list", deadline))}
            found = listed.get(account_id)
            if found is None:
                raise Rejected("ACCOUNT_NOT_FOUND", f"{variable}={account_id} is not among the accounts Tradovate "
                                                    f"lists for APEX_USERNAME (ids: {sorted(listed) or 'none'})")
            if not found.active:
                raise Rejected("ACCOUNT_INACTIVE", f"{variable}={account_id} ({found.name}) is not active at Tradovate")
            self._account_names[account_id] = found.name
        return account_id, program.account_spec or self._account_names[account_id]

    def _contract(self, root: str, deadline: Deadline) -> tuple[str, int]:
        """(symbol, contract id) of the contract a new entry on `root` trades today."""
        front = self._fronts.get(root)
        if front is None or time.time() >= front.until:
            front = self._front(root, deadline)
            self._fronts[root] = front
        return front.symbol, front.contract_id

    def _front(self, root: str, deadline: Deadline) -> _Front:
        symbol = self.firm.live.symbol_map.get(root)
        if symbol is not None:  # fixed by the operator (APEX_SYMBOL_MAP): no roll
            return _Front(symbol, self._contract_id(symbol, deadline), float("inf"))
        contract = Contract.rolled(self._read("POST", "/contract/rollcontract", deadline,
                                              json={"name": root, "forward": True}))
        if not re.fullmatch(rf"{re.escape(root)}[{MONTH_CODES}]\d{{1,2}}", contract.name):
            raise Rejected("UNKNOWN_CONTRACT", f"Tradovate rolled {root} to {contract.name!r}, not a {root} month")
        until = time.time() + CONTRACT_TTL
        if contract.maturity_id is not None:
            maturity = self._read("GET", "/contractMaturity/item", deadline, params={"id": contract.maturity_id})
            until = min(until, maturity_expires(maturity))
        self._contract_ids[contract.name] = contract.id
        return _Front(contract.name, contract.id, until)

    def _contract_id(self, symbol: str, deadline: Deadline) -> int:
        """Tradovate's id for a contract symbol such as NQZ5."""
        if symbol not in self._contract_ids:
            try:
                contract = Contract.of(self._read("GET", "/contract/find", deadline, params={"name": symbol}),
                                       "/contract/find")
            except Unreadable:
                raise Rejected("UNKNOWN_CONTRACT", f"Tradovate does not know {symbol}") from None
            self._contract_ids[symbol] = contract.id
        return self._contract_ids[symbol]

    def _exit_contract(self, order: OrderRequest, deadline: Deadline) -> tuple[str, int]:
        """(symbol, contract id) an exit closes: the one its entry traded, else today's front."""
        if not order.contract:
            return self._contract(order.symbol, deadline)
        return order.contract, self._contract_id(order.contract, deadline)

    def _net_position(self, account: int, contract_id: int, deadline: Deadline) -> int:
        """The signed net position; a penalised or unreadable answer raises, never reads as flat."""
        positions = Position.listed(self._read("GET", "/position/list", deadline))
        return sum(p.net for p in positions if p.account_id == account and p.contract_id == contract_id)
