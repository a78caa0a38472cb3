"""A local simulator of the three firm APIs the live connectors speak, for tests and for trying
live mode without real money: `python -m simulator [--port 8765]` (127.0.0.1 only).

Serves the subset the connectors use, keeping orders and positions in memory:
- MetaApi (FTMO):   /users/current/accounts/{id}/trade | positions | history-orders/time/.. (paged) | accountInformation
- Tradovate (APEX): /v1/auth/accesstokenrequest | renewaccesstoken, /v1/account/list,
                    /v1/contract/rollcontract | find, /v1/contractMaturity/item,
                    /v1/order/placeorder | placeOSO | liquidateposition | modifyorder | cancelorder | list | item,
                    /v1/orderVersion/deps, /v1/position/list, /v1/command/list, /v1/commandReport/deps, /v1/fill/deps,
                    /v1/cashBalance/getcashbalancesnapshot (an OSO's bracket stop and target rest as working
                    orders linked as an OCO; `fire_stops` fills the stops, `tradovate_orders.reach` any leg the price reaches)
- ProjectX (TOPSTEP): /api/Auth/loginKey | validate, /api/Contract/available,
                    /api/Order/place | search | searchOpen | cancel | modify,
                    /api/Position/closeContract | partialCloseContract | searchOpen, /api/Account/search
                    (an entry's brackets rest as child orders a close leaves working; `projectx.fire_stops`
                    fills them, `projectx.roll` moves the front month)

Fault switches per firm (`Simulator.set_faults(firm, ...)` or POST /_sim/faults {"firm": .., ...}):
`latency` (seconds added to every call), `fail_5xx` (next N submissions answer 500, nothing done),
`rate_limit` (next N submissions answer 429 with Retry-After: `retry_after`, default 1 s), `penalty` + `penalty_time`
(Tradovate: the next N calls to `penalty_paths` - default logins and order placements; any path, reads
included - answer a p-ticket, https://partner.tradovate.com/overview/core-concepts/penalty-tickets;
`penalty_captcha` makes it a p-captcha), `lockout` (Tradovate: the next call answers a bare 429 and
every call for `lockout_seconds` after it too, https://partner.tradovate.com/overview/core-concepts/rate-limits),
`risk_reject` (Tradovate: the next N orders fail the risk check: failureReason, order Rejected, CommandReport
RiskRejected), `hang` (next N submissions are
executed but answered only after `hang_seconds`: "accepted, never answered in time"),
`expire_tokens` (every issued token is rejected with 401 once), `token_ttl` (Tradovate
expirationTime in seconds), `refuse_modify` (Tradovate, ProjectX: next N order modifications/cancels are
refused), `orders_pending` (Tradovate: market orders are listed as PendingNew, not Filled),
`open_on_order_list` (Tradovate: the next GET /order/list first adds N contracts to every
position, as if another trade filled at that moment), `retcode` (MetaApi: the next trade is answered
with this stringCode) + `retcode_executed` (whether that trade is executed anyway), `reject_orders`
(MetaApi: the next N orders are rejected, in the history as ORDER_STATE_REJECTED; ProjectX: the next
N orders are recorded Rejected), `position_brackets` (ProjectX: the accounts are in Position
Brackets mode, so orders with bracket objects are rejected). GET /_sim/orders lists what the firms
received.

Timing (a development tool for bench/live_overhead.py, off unless `Simulator(record_timings=True)` or
`python -m simulator --record-timings`): every request's path, arrival and departure (wall clock) and
the client order id its body carries (`customTag`, `clOrdId`, `clientId`), at GET /_sim/timings
(`?clear=1` empties the list after reading it).
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.serving import make_server

from simulator import metaapi, projectx, tradovate, tradovate_orders

FIRMS = ("FTMO", "APEX", "TOPSTEP")
DEFAULT_CREDENTIALS = {
    "FTMO_API_KEY": "sim-metaapi-token",
    "APEX_USERNAME": "sim-user", "APEX_PASSWORD": "sim-password", "APEX_APP_ID": "sim-app",
    "APEX_CID": "7", "APEX_API_SECRET": "sim-secret",
    "TOPSTEP_USERNAME": "sim-topstep", "TOPSTEP_API_KEY": "sim-projectx-key",
}


class Simulator:
    """The state and the Flask app; `start()` serves it on 127.0.0.1 in a thread."""

    def __init__(self, credentials: dict[str, str] | None = None, record_timings: bool = False):
        self.credentials = {**DEFAULT_CREDENTIALS, **(credentials or {})}
        self.timings: list[dict[str, Any]] | None = [] if record_timings else None
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.reset()
        self.app = self._build_app()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ---- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with getattr(self, "lock", threading.RLock()):
            self.orders: list[dict[str, Any]] = []
            self.requests: list[tuple[str, str]] = []
            self.faults: dict[str, dict[str, Any]] = {f: self._default_faults() for f in FIRMS}
            self.tokens: dict[str, str] = {}  # valid token -> firm
            self.issued: list[str] = []  # every token ever issued (tests check none leaks)
            self.metaapi_positions: dict[str, list[dict[str, Any]]] = {}
            self.metaapi_history: dict[str, list[dict[str, Any]]] = {}  # account -> MetatraderOrder, oldest first
            self.metaapi_prices: dict[str, float] = dict(metaapi.CFD_PRICES)
            self.tradovate_net: dict[tuple[int, int], int] = {}
            self.tradovate_commands: list[dict[str, Any]] = []
            self.tradovate_orders: dict[int, dict[str, Any]] = {}  # resting orders (bracket stops) by id
            self.tradovate_versions: dict[int, dict[str, Any]] = {}  # order id -> its current OrderVersion
            self.projectx_positions: dict[tuple[int, str], int] = {}
            self.projectx_orders: list[dict[str, Any]] = []  # every order, bracket children included, with its status
            self.projectx_oco: dict[int, int] = {}  # a bracket child -> its OCO partner (stop <-> target)
            self.projectx_listed: list[dict[str, Any]] = []  # contracts listed after a roll (projectx.roll)
            self.projectx_delisted: set[str] = set()  # contract ids rolled away from
            self.tickets: set[str] = set()
            # (firm, account) -> balance / equity / open_pl the account reads answer (`set_account`)
            self.account_figures: dict[tuple[str, str], dict[str, float]] = {}
            tradovate.reset(self)

    @staticmethod
    def _default_faults() -> dict[str, Any]:
        return {"latency": 0.0, "fail_5xx": 0, "rate_limit": 0, "retry_after": 1, "penalty": 0, "penalty_time": 1.0,
                "hang": 0, "hang_seconds": 3.0, "expire_tokens": False, "token_ttl": 90 * 60, "refuse_modify": 0,
                "orders_pending": False, "open_on_order_list": 0,
                "retcode": None, "retcode_executed": True, "reject_orders": 0, "position_brackets": False,
                "penalty_paths": None, "penalty_captcha": False,  # Tradovate: penalised paths (None: logins, placements)
                "lockout": 0, "lockout_seconds": 3600,  # Tradovate: a bare 429 starting the documented one-hour lockout
                "risk_reject": 0}  # Tradovate: the next N orders risk-rejected

    def set_faults(self, firm: str, **faults: Any) -> None:
        with self.lock:
            unknown = set(faults) - set(self._default_faults())
            if unknown:
                raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
            self.faults[firm.upper()].update(faults)

    def set_account(self, firm: str, account: str | int, **figures: float) -> None:
        """What the firm's account read reports for `account` (balance, equity, open_pl)."""
        with self.lock:
            self.account_figures[(firm.upper(), str(account))] = dict(figures)

    def account(self, firm: str, account: str | int, **defaults: float) -> dict[str, float]:
        """The account's figures: what `set_account` set, over `defaults`."""
        with self.lock:
            return {**defaults, **self.account_figures.get((firm.upper(), str(account)), {})}

    def orders_for(self, firm: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(o) for o in self.orders if o["firm"] == firm]

    def working_stops(self, account: int) -> list[dict[str, Any]]:
        """Tradovate: the account's working orders (bracket stops and targets), with their current
        quantity, type and prices."""
        with self.lock:
            return [{**o, **{k: self.tradovate_versions[o["id"]].get(k) for k in ("orderQty", "orderType", "stopPrice", "price")}}
                    for o in self.tradovate_orders.values() if o["accountId"] == account and o["ordStatus"] == "Working"]

    def fire_stops(self, account: int) -> None:
        """Tradovate: the market reaches the account's working stops; each fills its current size
        (and cancels its OCO target)."""
        with self.lock:
            for order in list(self.tradovate_orders.values()):
                if (order["accountId"] == account and order["ordStatus"] == "Working"
                        and self.tradovate_versions[order["id"]].get("orderType") != "Limit"):
                    tradovate_orders.fill_leg(self, order)

    def roll_tradovate(self, root: str, name: str) -> None:
        """Tradovate: `name` becomes `root`'s front month (its old month expires now)."""
        tradovate.roll(self, root, name)

    # ---- serving -------------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        self._server = make_server("127.0.0.1", port, self.app, threaded=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- helpers -------------------------------------------------------------------------------
    def _record(self, firm: str, **order: Any) -> dict[str, Any]:
        order.update(firm=firm, id=next(self.ids), at=time.time())
        self.orders.append(order)
        return order

    def _pre(self, firm: str) -> None:
        self.requests.append((firm, request.path))
        latency = self.faults[firm]["latency"]
        if latency:
            time.sleep(latency)

    def _submission_fault(self, firm: str) -> Any:
        """A canned failure answer for a submission, or None to process it."""
        with self.lock:
            f = self.faults[firm]
            if f["rate_limit"] > 0:
                f["rate_limit"] -= 1
                return jsonify({"error": "TooManyRequests"}), 429, {"Retry-After": str(f["retry_after"])}
            if f["fail_5xx"] > 0:
                f["fail_5xx"] -= 1
                return jsonify({"error": "InternalError"}), 500
        return None

    def _maybe_hang(self, firm: str) -> None:
        with self.lock:
            f = self.faults[firm]
            hang = f["hang"] > 0
            if hang:
                f["hang"] -= 1
        if hang:
            time.sleep(f["hang_seconds"])

    def _issue(self, firm: str) -> str:
        token = f"{firm.lower()}-token-{next(self.ids)}"
        self.tokens[token] = firm
        self.issued.append(token)
        return token

    def _bearer_ok(self, firm: str) -> bool:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.lock:
            if self.tokens.get(token) != firm:
                return False
            if self.faults[firm]["expire_tokens"]:
                self.faults[firm]["expire_tokens"] = False
                self.tokens = {t: f for t, f in self.tokens.items() if f != firm}
                return False
        return True

    # ---- the app -------------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("firm_simulator")
        sim = self

        @app.post("/_sim/faults")
        def faults():
            body = request.get_json(force=True)
            sim.set_faults(body.pop("firm"), **body)
            return jsonify(sim.faults)

        @app.post("/_sim/reset")
        def reset():
            sim.reset()
            return jsonify({"ok": True})

        if sim.timings is not None:
            @app.before_request
            def _arrived():
                g.sim_arrived = time.time()

            @app.after_request
            def _left(response):
                body = request.get_json(silent=True) if request.is_json else None
                tag = next((body.get(k) for k in ("customTag", "clOrdId", "clientId") if body.get(k)), None) \
                    if isinstance(body, dict) else None
                if not request.path.startswith("/_sim/"):
                    sim.timings.append({"path": request.path, "arrived": g.sim_arrived, "left": time.time(),
                                        "tag": tag})  # list.append is atomic under the GIL
                return response

            @app.get("/_sim/timings")
            def timings():
                out = list(sim.timings)
                if request.args.get("clear"):
                    del sim.timings[:len(out)]
                return jsonify(out)

        @app.get("/_sim/orders")
        def orders():
            with sim.lock:
                return jsonify(sim.orders)

        metaapi.register(self, app)
        tradovate.register(self, app)
        projectx.register(self, app)
        return app
