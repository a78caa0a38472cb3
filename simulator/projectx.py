"""The ProjectX Gateway subset the TOPSTEP connector speaks."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator

PROJECTX_CONTRACTS = [
    {"id": "CON.F.US.ENQ.Z25", "name": "ENQZ25", "tickSize": 0.25, "tickValue": 5.0, "activeContract": True},
    {"id": "CON.F.US.MNQ.Z25", "name": "MNQZ25", "tickSize": 0.25, "tickValue": 0.5, "activeContract": True},
    {"id": "CON.F.US.EP.Z25", "name": "EPZ25", "tickSize": 0.25, "tickValue": 12.5, "activeContract": True},
    {"id": "CON.F.US.MES.Z25", "name": "MESZ25", "tickSize": 0.25, "tickValue": 1.25, "activeContract": True},
]


def register(sim: "Simulator", app: Flask) -> None:
    """ProjectX Gateway (TOPSTEP) endpoints."""
    creds = sim.credentials

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
