"""The Tradovate REST subset the APEX connector speaks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator

TRADOVATE_CONTRACTS = [{"id": 4001, "name": "NQZ5"}, {"id": 4002, "name": "MNQZ5"}, {"id": 4003, "name": "ESZ5"},
                       {"id": 4004, "name": "MESZ5"}]


def register(sim: "Simulator", app: Flask) -> None:
    """Tradovate (APEX) endpoints."""
    creds = sim.credentials

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
