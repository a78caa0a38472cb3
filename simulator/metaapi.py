"""The MetaApi REST subset the FTMO connector speaks."""
from __future__ import annotations


from typing import TYPE_CHECKING

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator


def register(sim: "Simulator", app: Flask) -> None:
    """MetaApi (FTMO) endpoints."""
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
