"""A local simulator of the three firm APIs the live connectors speak, for tests and for trying
live mode without real money: `python -m connectors.simulator [--port 8765]` (127.0.0.1 only).

Serves the subset the connectors use, keeping orders and positions in memory:
- MetaApi (FTMO):   /users/current/accounts/{id}/trade | positions | history-orders/time/.. | account-information
- Tradovate (APEX): /v1/auth/accesstokenrequest | renewaccesstoken, /v1/contract/suggest | find,
                    /v1/order/placeorder | placeOSO | liquidateposition | modifyorder | cancelorder | list,
                    /v1/orderVersion/deps, /v1/position/list, /v1/command/list,
                    /v1/cashBalance/getcashbalancesnapshot (an OSO's bracket stop rests as a working order;
                    `fire_stops` fills them)
- ProjectX (TOPSTEP): /api/Auth/loginKey | validate, /api/Contract/available, /api/Order/place | search,
                    /api/Position/closeContract | partialCloseContract | searchOpen, /api/Account/search

Fault switches per firm (`Simulator.set_faults(firm, ...)` or POST /_sim/faults {"firm": .., ...}):
`latency` (seconds added to every call), `fail_5xx` (next N submissions answer 500, nothing done),
`rate_limit` (next N submissions answer 429 with Retry-After: `retry_after`, default 1 s), `penalty` + `penalty_time`
(Tradovate: next N submissions/logins answer a p-ticket), `hang` (next N submissions are
executed but answered only after `hang_seconds`: "accepted, never answered in time"),
`expire_tokens` (every issued token is rejected with 401 once), `token_ttl` (Tradovate
expirationTime in seconds), `refuse_modify` (Tradovate: next N order modifications/cancels are
refused), `orders_pending` (Tradovate: market orders are listed as PendingNew, not Filled),
`open_on_order_list` (Tradovate: the next GET /order/list first adds N contracts to every
position, as if another trade filled at that moment). GET /_sim/orders lists what the firms received.
"""
from __future__ import annotations

import argparse
import itertools
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

FIRMS = ("FTMO", "APEX", "TOPSTEP")
DEFAULT_CREDENTIALS = {
    "FTMO_API_KEY": "sim-metaapi-token",
    "APEX_USERNAME": "sim-user", "APEX_PASSWORD": "sim-password", "APEX_APP_ID": "sim-app",
    "APEX_CID": "7", "APEX_API_SECRET": "sim-secret",
    "TOPSTEP_USERNAME": "sim-topstep", "TOPSTEP_API_KEY": "sim-projectx-key",
}
TRADOVATE_CONTRACTS = [{"id": 4001, "name": "NQZ5"}, {"id": 4002, "name": "MNQZ5"}, {"id": 4003, "name": "ESZ5"},
                       {"id": 4004, "name": "MESZ5"}]
PROJECTX_CONTRACTS = [
    {"id": "CON.F.US.ENQ.Z25", "name": "ENQZ25", "tickSize": 0.25, "tickValue": 5.0, "activeContract": True},
    {"id": "CON.F.US.MNQ.Z25", "name": "MNQZ25", "tickSize": 0.25, "tickValue": 0.5, "activeContract": True},
    {"id": "CON.F.US.EP.Z25", "name": "EPZ25", "tickSize": 0.25, "tickValue": 12.5, "activeContract": True},
    {"id": "CON.F.US.MES.Z25", "name": "MESZ25", "tickSize": 0.25, "tickValue": 1.25, "activeContract": True},
]


class Simulator:
    """The state and the Flask app; `start()` serves it on 127.0.0.1 in a thread."""

    def __init__(self, credentials: dict[str, str] | None = None):
        self.credentials = {**DEFAULT_CREDENTIALS, **(credentials or {})}
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
            self.tradovate_net: dict[tuple[int, int], int] = {}
            self.tradovate_commands: list[dict[str, Any]] = []
            self.tradovate_orders: dict[int, dict[str, Any]] = {}  # resting orders (bracket stops) by id
            self.tradovate_versions: dict[int, dict[str, Any]] = {}  # order id -> its current OrderVersion
            self.projectx_positions: dict[tuple[int, str], int] = {}
            self.projectx_orders: list[dict[str, Any]] = []
            self.tickets: set[str] = set()

    @staticmethod
    def _default_faults() -> dict[str, Any]:
        return {"latency": 0.0, "fail_5xx": 0, "rate_limit": 0, "retry_after": 1, "penalty": 0, "penalty_time": 1.0,
                "hang": 0, "hang_seconds": 3.0, "expire_tokens": False, "token_ttl": 90 * 60, "refuse_modify": 0,
                "orders_pending": False, "open_on_order_list": 0}

    def set_faults(self, firm: str, **faults: Any) -> None:
        with self.lock:
            unknown = set(faults) - set(self._default_faults())
            if unknown:
                raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
            self.faults[firm.upper()].update(faults)

    def orders_for(self, firm: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(o) for o in self.orders if o["firm"] == firm]

    def working_stops(self, account: int) -> list[dict[str, Any]]:
        """Tradovate: the account's working stop orders, with their current quantity and price."""
        with self.lock:
            return [{**o, **{k: self.tradovate_versions[o["id"]][k] for k in ("orderQty", "orderType", "stopPrice")}}
                    for o in self.tradovate_orders.values() if o["accountId"] == account and o["ordStatus"] == "Working"]

    def fire_stops(self, account: int) -> None:
        """Tradovate: the market reaches the account's working stops; each fills its current size."""
        with self.lock:
            for order in self.tradovate_orders.values():
                if order["accountId"] == account and order["ordStatus"] == "Working":
                    qty = self.tradovate_versions[order["id"]]["orderQty"]
                    key = (account, order["contractId"])
                    self.tradovate_net[key] = self.tradovate_net.get(key, 0) + (qty if order["action"] == "Buy" else -qty)
                    order["ordStatus"] = "Filled"

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

    def _penalty(self, firm: str, body: dict[str, Any]) -> Any:
        with self.lock:
            ticket = body.get("p-ticket")
            if ticket is not None:
                if ticket not in self.tickets:
                    return jsonify({"errorText": "invalid p-ticket"}), 400
                self.tickets.discard(ticket)
                return None
            f = self.faults[firm]
            if f["penalty"] > 0:
                f["penalty"] -= 1
                ticket = f"ticket-{next(self.ids)}"
                self.tickets.add(ticket)
                return jsonify({"p-ticket": ticket, "p-time": f["penalty_time"], "p-captcha": False})
        return None

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

        @app.get("/_sim/orders")
        def orders():
            with sim.lock:
                return jsonify(sim.orders)

        self._metaapi_routes(app)
        self._tradovate_routes(app)
        self._projectx_routes(app)
        return app

    def _metaapi_routes(self, app: Flask) -> None:
        sim = self
        base = "/users/current/accounts/<account>"

        def authorised() -> bool:
            sim._pre("FTMO")
            return request.headers.get("auth-token") == sim.credentials["FTMO_API_KEY"]

        @app.post(base + "/trade")
        def metaapi_trade(account: str):
            if not authorised():
                return jsonify({"error": "UnauthorizedError"}), 401
            fault = sim._submission_fault("FTMO")
            if fault is not None:
                return fault
            body = request.get_json(force=True)
            with sim.lock:
                positions = sim.metaapi_positions.setdefault(account, [])
                action = body.get("actionType")
                if action in ("ORDER_TYPE_BUY", "ORDER_TYPE_SELL"):
                    pos = {"id": str(next(sim.ids)), "symbol": body["symbol"], "volume": body["volume"],
                           "type": "POSITION_TYPE_BUY" if action == "ORDER_TYPE_BUY" else "POSITION_TYPE_SELL",
                           "stopLoss": body.get("stopLoss"), "clientId": body.get("clientId")}
                    positions.append(pos)
                    order = sim._record("FTMO", account=account, kind="OPEN", side="BUY" if action == "ORDER_TYPE_BUY" else "SELL",
                                        quantity=body["volume"], symbol=body["symbol"], stop=body.get("stopLoss"),
                                        client_id=body.get("clientId"), body=body)
                    answer = {"numericCode": 10009, "stringCode": "TRADE_RETCODE_DONE", "message": "Request completed",
                              "orderId": str(order["id"]), "positionId": pos["id"]}
                elif action in ("POSITION_CLOSE_ID", "POSITION_PARTIAL"):
                    pos = next((p for p in positions if p["id"] == str(body.get("positionId"))), None)
                    if pos is None:
                        return jsonify({"numericCode": 10036, "stringCode": "TRADE_RETCODE_POSITION_CLOSED",
                                        "message": "Position not found"})
                    volume = pos["volume"] if action == "POSITION_CLOSE_ID" else body["volume"]
                    pos["volume"] = round(pos["volume"] - volume, 2)
                    if pos["volume"] <= 0:
                        positions.remove(pos)
                    order = sim._record("FTMO", account=account, kind="CLOSE", side="SELL" if pos["type"] == "POSITION_TYPE_BUY" else "BUY",
                                        quantity=volume, symbol=pos["symbol"], client_id=body.get("clientId"),
                                        position_id=pos["id"], body=body)
                    answer = {"numericCode": 10009, "stringCode": "TRADE_RETCODE_DONE", "message": "Request completed",
                              "orderId": str(order["id"]), "positionId": pos["id"]}
                else:
                    return jsonify({"error": "ValidationError", "message": f"unsupported actionType {action}"}), 400
            sim._maybe_hang("FTMO")
            return jsonify(answer)

        @app.get(base + "/positions")
        def metaapi_positions(account: str):
            if not authorised():
                return jsonify({"error": "UnauthorizedError"}), 401
            with sim.lock:
                return jsonify(sim.metaapi_positions.get(account, []))

        @app.get(base + "/history-orders/time/<start>/<end>")
        def metaapi_history(account: str, start: str, end: str):
            if not authorised():
                return jsonify({"error": "UnauthorizedError"}), 401
            with sim.lock:
                return jsonify([{"id": str(o["id"]), "clientId": o.get("client_id"), "symbol": o["symbol"]}
                                for o in sim.orders if o["firm"] == "FTMO" and o["account"] == account])

        @app.get(base + "/account-information")
        def metaapi_account(account: str):
            if not authorised():
                return jsonify({"error": "UnauthorizedError"}), 401
            return jsonify({"platform": "mt5", "broker": "FTMO S.R.O.", "currency": "USD",
                            "balance": 100000.0, "equity": 100000.0, "login": account})

    def _tradovate_routes(self, app: Flask) -> None:
        sim = self
        creds = self.credentials

        @app.post("/v1/auth/accesstokenrequest")
        def tv_auth():
            sim._pre("APEX")
            body = request.get_json(force=True)
            penalty = sim._penalty("APEX", body)
            if penalty is not None:
                return penalty
            expected = (creds["APEX_USERNAME"], creds["APEX_PASSWORD"], creds["APEX_APP_ID"],
                        str(creds["APEX_CID"]), creds["APEX_API_SECRET"])
            given = (body.get("name"), body.get("password"), body.get("appId"), str(body.get("cid")), body.get("sec"))
            if given != expected:
                return jsonify({"errorText": "Incorrect username or password"})
            with sim.lock:
                token = sim._issue("APEX")
                ttl = sim.faults["APEX"]["token_ttl"]
            expires = datetime.now(timezone.utc) + timedelta(seconds=ttl)
            return jsonify({"accessToken": token, "expirationTime": expires.isoformat().replace("+00:00", "Z"),
                            "userId": 1, "name": creds["APEX_USERNAME"], "userStatus": "Active"})

        @app.get("/v1/auth/renewaccesstoken")
        def tv_renew():
            sim._pre("APEX")
            if not sim._bearer_ok("APEX"):
                return jsonify({"errorText": "Access is denied"}), 401
            with sim.lock:
                token = sim._issue("APEX")
                ttl = sim.faults["APEX"]["token_ttl"]
                sim._record("APEX", account=None, kind="RENEW", side=None, quantity=0, symbol=None, client_id=None)
            expires = datetime.now(timezone.utc) + timedelta(seconds=ttl)
            return jsonify({"accessToken": token, "expirationTime": expires.isoformat().replace("+00:00", "Z")})

        def guarded(fn):
            def wrapper(*args, **kwargs):
                sim._pre("APEX")
                if not sim._bearer_ok("APEX"):
                    return jsonify({"errorText": "Access is denied"}), 401
                return fn(*args, **kwargs)
            wrapper.__name__ = fn.__name__
            return wrapper

        @app.get("/v1/contract/suggest")
        @guarded
        def tv_suggest():
            text = request.args.get("t", "").upper()
            return jsonify([c for c in TRADOVATE_CONTRACTS if c["name"].startswith(text)])

        @app.get("/v1/contract/find")
        @guarded
        def tv_find():
            found = next((c for c in TRADOVATE_CONTRACTS if c["name"] == request.args.get("name")), None)
            return (jsonify(found), 200) if found else (jsonify({"errorText": "not found"}), 404)

        def place(body: dict[str, Any], oso: bool):
            fault = sim._submission_fault("APEX")
            if fault is not None:
                return fault
            penalty = sim._penalty("APEX", body)
            if penalty is not None:
                return penalty
            if body.get("isAutomated") is not True:
                return jsonify({"failureReason": "UnknownReason", "failureText": "isAutomated must be true"})
            contract = next((c for c in TRADOVATE_CONTRACTS if c["name"] == body.get("symbol")), None)
            if contract is None:
                return jsonify({"failureReason": "InvalidContract", "failureText": "unknown symbol"})
            with sim.lock:
                qty = int(body["orderQty"])
                key = (int(body["accountId"]), contract["id"])
                sim.tradovate_net[key] = sim.tradovate_net.get(key, 0) + (qty if body["action"] == "Buy" else -qty)
                bracket = (body.get("bracket1") or {}) if oso else {}
                stop = bracket.get("stopPrice")
                order = sim._record("APEX", account=int(body["accountId"]), kind="OPEN" if oso or stop else "ORDER",
                                    side=body["action"].upper(), quantity=qty, symbol=body["symbol"], stop=stop,
                                    client_id=body.get("clOrdId"), body=body)
                sim.tradovate_commands.append({"id": next(sim.ids), "orderId": order["id"], "clOrdId": body.get("clOrdId"),
                                               "commandType": "New", "commandStatus": "ExecutionStopped"})
                answer = {"orderId": order["id"]}
                # the market order itself is listed too: filled, or still PendingNew when asked to
                sim.tradovate_orders[order["id"]] = {
                    "id": order["id"], "accountId": key[0], "contractId": key[1], "action": body["action"],
                    "ordStatus": "PendingNew" if sim.faults["APEX"]["orders_pending"] else "Filled"}
                sim.tradovate_versions[order["id"]] = {"id": next(sim.ids), "orderId": order["id"], "orderQty": qty,
                                                       "orderType": body.get("orderType", "Market"), "stopPrice": None}
                if oso:  # the bracket rests at the firm for the entry's full size until it fills or is changed
                    stop_id = next(sim.ids)
                    sim.tradovate_orders[stop_id] = {"id": stop_id, "accountId": key[0], "contractId": key[1],
                                                     "action": bracket.get("action"), "ordStatus": "Working"}
                    sim.tradovate_versions[stop_id] = {"id": next(sim.ids), "orderId": stop_id, "orderQty": qty,
                                                       "orderType": bracket.get("orderType"), "stopPrice": stop}
                    answer["oso1Id"] = stop_id
            sim._maybe_hang("APEX")
            return jsonify(answer)

        @app.post("/v1/order/placeorder")
        @guarded
        def tv_placeorder():
            return place(request.get_json(force=True), oso=False)

        @app.post("/v1/order/placeOSO")
        @guarded
        def tv_placeoso():
            return place(request.get_json(force=True), oso=True)

        @app.post("/v1/order/liquidateposition")
        @guarded
        def tv_liquidate():
            fault = sim._submission_fault("APEX")
            if fault is not None:
                return fault
            body = request.get_json(force=True)
            with sim.lock:
                key = (int(body["accountId"]), int(body["contractId"]))
                net = sim.tradovate_net.get(key, 0)
                sim.tradovate_net[key] = 0
                for resting in sim.tradovate_orders.values():  # a liquidation cancels the working orders too
                    if (resting["accountId"], resting["contractId"]) == key and resting["ordStatus"] == "Working":
                        resting["ordStatus"] = "Canceled"
                name = next(c["name"] for c in TRADOVATE_CONTRACTS if c["id"] == key[1])
                order = sim._record("APEX", account=key[0], kind="CLOSE", side="SELL" if net > 0 else "BUY",
                                    quantity=abs(net), symbol=name, client_id=body.get("customTag50"), body=body)
                sim.tradovate_commands.append({"id": next(sim.ids), "orderId": order["id"], "clOrdId": None,
                                               "customTag50": body.get("customTag50"), "commandType": "New"})
            sim._maybe_hang("APEX")
            return jsonify({"orderId": order["id"]})

        @app.get("/v1/position/list")
        @guarded
        def tv_positions():
            with sim.lock:
                return jsonify([{"id": i, "accountId": a, "contractId": c, "netPos": n}
                                for i, ((a, c), n) in enumerate(sim.tradovate_net.items())])

        @app.get("/v1/order/list")
        @guarded
        def tv_orders():
            with sim.lock:
                f = sim.faults["APEX"]
                if f["open_on_order_list"]:
                    for key in sim.tradovate_net:
                        sim.tradovate_net[key] += f["open_on_order_list"]
                    f["open_on_order_list"] = 0
                return jsonify([dict(o) for o in sim.tradovate_orders.values()])

        @app.get("/v1/orderVersion/deps")
        @guarded
        def tv_order_versions():
            with sim.lock:
                version = sim.tradovate_versions.get(request.args.get("masterid", type=int))
                return jsonify([dict(version)] if version else [])

        def change(body: dict[str, Any], cancel: bool):
            fault = sim._submission_fault("APEX")
            if fault is not None:
                return fault
            with sim.lock:
                f = sim.faults["APEX"]
                if f["refuse_modify"] > 0:
                    f["refuse_modify"] -= 1
                    return jsonify({"failureReason": "UnknownReason", "failureText": "modification refused"})
                order = sim.tradovate_orders.get(int(body.get("orderId") or 0))
                if order is None or order["ordStatus"] != "Working":
                    return jsonify({"failureReason": "UnknownReason", "failureText": "no working order with this id"})
                version = sim.tradovate_versions[order["id"]]
                if cancel:
                    order["ordStatus"] = "Canceled"
                else:
                    sim.tradovate_versions[order["id"]] = {**version, "id": next(sim.ids), "orderQty": int(body["orderQty"]),
                                                           "stopPrice": body.get("stopPrice", version["stopPrice"])}
                sim._record("APEX", account=order["accountId"], kind="CANCEL" if cancel else "MODIFY", side=None,
                            quantity=0 if cancel else int(body["orderQty"]), symbol=None, client_id=None, body=body)
            return jsonify({"commandId": next(sim.ids)})

        @app.post("/v1/order/modifyorder")
        @guarded
        def tv_modify():
            return change(request.get_json(force=True), cancel=False)

        @app.post("/v1/order/cancelorder")
        @guarded
        def tv_cancel():
            return change(request.get_json(force=True), cancel=True)

        @app.get("/v1/command/list")
        @guarded
        def tv_commands():
            with sim.lock:
                return jsonify(list(sim.tradovate_commands))

        @app.post("/v1/cashBalance/getcashbalancesnapshot")
        @guarded
        def tv_cash():
            return jsonify({"totalCashValue": 150000.0, "realizedPnL": 0.0, "openPnL": 0.0})

    def _projectx_routes(self, app: Flask) -> None:
        sim = self
        creds = self.credentials

        def ok(**data: Any):
            return jsonify({**data, "success": True, "errorCode": 0, "errorMessage": None})

        def fail(code: int, message: str):
            return jsonify({"success": False, "errorCode": code, "errorMessage": message})

        @app.post("/api/Auth/loginKey")
        def px_login():
            sim._pre("TOPSTEP")
            body = request.get_json(force=True)
            if (body.get("userName"), body.get("apiKey")) != (creds["TOPSTEP_USERNAME"], creds["TOPSTEP_API_KEY"]):
                return fail(3, "Invalid credentials")
            with sim.lock:
                return ok(token=sim._issue("TOPSTEP"))

        @app.post("/api/Auth/validate")
        def px_validate():
            sim._pre("TOPSTEP")
            if not sim._bearer_ok("TOPSTEP"):
                return "", 401
            with sim.lock:
                return ok(newToken=sim._issue("TOPSTEP"))

        def guarded(fn):
            def wrapper(*args, **kwargs):
                sim._pre("TOPSTEP")
                if not sim._bearer_ok("TOPSTEP"):
                    return "", 401
                return fn(request.get_json(force=True) or {})
            wrapper.__name__ = fn.__name__
            return wrapper

        @app.post("/api/Contract/available")
        @guarded
        def px_contracts(body):
            return ok(contracts=PROJECTX_CONTRACTS)

        @app.post("/api/Order/place")
        @guarded
        def px_place(body):
            fault = sim._submission_fault("TOPSTEP")
            if fault is not None:
                return fault
            with sim.lock:
                tag = body.get("customTag")
                if tag and any(o.get("customTag") == tag and o["accountId"] == body["accountId"] for o in sim.projectx_orders):
                    return fail(2, "customTag must be unique across the account")
                if body.get("type") != 2 or body.get("side") not in (0, 1) or int(body.get("size", 0)) <= 0:
                    return fail(1, "invalid order")
                key = (int(body["accountId"]), body["contractId"])
                size = int(body["size"])
                sim.projectx_positions[key] = sim.projectx_positions.get(key, 0) + (size if body["side"] == 0 else -size)
                order = sim._record("TOPSTEP", account=key[0], kind="OPEN", side="BUY" if body["side"] == 0 else "SELL",
                                    quantity=size, symbol=body["contractId"],
                                    stop_ticks=(body.get("stopLossBracket") or {}).get("ticks"),
                                    client_id=tag, body=body)
                sim.projectx_orders.append({"id": order["id"], "accountId": key[0], "contractId": key[1], "status": 2,
                                            "type": 2, "side": body["side"], "size": size, "customTag": tag})
            sim._maybe_hang("TOPSTEP")
            return ok(orderId=order["id"])

        def close(body: dict[str, Any], partial: bool):
            fault = sim._submission_fault("TOPSTEP")
            if fault is not None:
                return fault
            with sim.lock:
                key = (int(body["accountId"]), body["contractId"])
                net = sim.projectx_positions.get(key, 0)
                if net == 0:
                    return fail(2, "No open position")
                size = min(int(body["size"]), abs(net)) if partial else abs(net)
                sim.projectx_positions[key] = net - size if net > 0 else net + size
                sim._record("TOPSTEP", account=key[0], kind="CLOSE", side="SELL" if net > 0 else "BUY",
                            quantity=size, symbol=key[1], client_id=None, body=body)
            sim._maybe_hang("TOPSTEP")
            return ok()

        @app.post("/api/Position/closeContract")
        @guarded
        def px_close(body):
            return close(body, partial=False)

        @app.post("/api/Position/partialCloseContract")
        @guarded
        def px_partial(body):
            return close(body, partial=True)

        @app.post("/api/Position/searchOpen")
        @guarded
        def px_positions(body):
            with sim.lock:
                return ok(positions=[{"accountId": a, "contractId": c, "size": abs(n), "type": 1 if n > 0 else 2}
                                     for (a, c), n in sim.projectx_positions.items() if a == body.get("accountId") and n])

        @app.post("/api/Order/search")
        @guarded
        def px_orders(body):
            with sim.lock:
                return ok(orders=[o for o in sim.projectx_orders if o["accountId"] == body.get("accountId")])

        @app.post("/api/Account/search")
        @guarded
        def px_accounts(body):
            return ok(accounts=[{"id": 301, "name": "50KTC-SIM-301", "balance": 50000.0, "canTrade": True, "isVisible": True}])


def main() -> None:
    parser = argparse.ArgumentParser(description="Local simulator of the MetaApi, Tradovate and ProjectX APIs.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    sim = Simulator()
    url = sim.start(args.port)
    print(f"Firm API simulator on {url} (Ctrl-C to stop). Point the router at it with:")
    print(f"  FTMO_API_URL={url}  FTMO_API_KEY={sim.credentials['FTMO_API_KEY']}  FTMO_ACCOUNT_ID=sim-mt5-1")
    print(f"  APEX_API_URL={url}/v1  APEX_USERNAME=sim-user  APEX_PASSWORD=sim-password  APEX_APP_ID=sim-app"
          "  APEX_CID=7  APEX_API_SECRET=sim-secret  APEX_ACCOUNT_ID=201")
    print(f"  TOPSTEP_API_URL={url}  TOPSTEP_USERNAME=sim-topstep  TOPSTEP_API_KEY=sim-projectx-key  TOPSTEP_ACCOUNT_ID=301")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
