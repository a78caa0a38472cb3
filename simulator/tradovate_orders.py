"""Tradovate order endpoints of the simulator: placing (market, OSO), liquidating, modifying and
cancelling, and the order / command / report / fill entities reconciliation reads."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator


def register(sim: "Simulator", app: Flask, guarded: Callable) -> None:
    def contract_named(name: Any) -> dict[str, Any] | None:
        return next((c for c in sim.tradovate_contracts if c["name"] == name), None)

    def filled(order_id: int, key: tuple[int, int], action: str, qty: int) -> None:
        pending = sim.faults["APEX"]["orders_pending"]
        sim.tradovate_orders[order_id] = {"id": order_id, "accountId": key[0], "contractId": key[1], "action": action,
                                          "ordStatus": "PendingNew" if pending else "Filled"}
        if not pending:
            sim.tradovate_fills.append({"id": next(sim.ids), "orderId": order_id, "qty": qty})

    def risk_rejected(body: dict[str, Any], key: tuple[int, int]):
        """The next order fails the risk check: PlaceOrderResult `failureReason`/`failureText`
        ("Non-empty if the request passed at the HTTP level, but failed a check on the server",
        https://partner.tradovate.com/api/rest-api-endpoints/orders/place-order), the order
        Rejected and its CommandReport RiskRejected with a `rejectReason`
        (https://partner.tradovate.com/api/rest-api-endpoints/orders/command-report-items)."""
        order = sim._record("APEX", account=key[0], kind="REJECTED", side=body["action"].upper(),
                            quantity=int(body["orderQty"]), symbol=body["symbol"], client_id=body.get("clOrdId"), body=body)
        command = {"id": next(sim.ids), "orderId": order["id"], "clOrdId": body.get("clOrdId"), "commandType": "New",
                   "commandStatus": "RiskRejected"}
        sim.tradovate_commands.append(command)
        sim.tradovate_reports.append({"id": next(sim.ids), "commandId": command["id"], "commandStatus": "RiskRejected",
                                      "rejectReason": "MaxPosLimitReached", "ordStatus": "Rejected",
                                      "text": "Max position limit reached"})
        sim.tradovate_orders[order["id"]] = {"id": order["id"], "accountId": key[0], "contractId": key[1],
                                             "action": body["action"], "ordStatus": "Rejected"}
        return {"orderId": order["id"], "failureReason": "MaxPosLimitReached", "failureText": "Max position limit reached"}

    def place(body: dict[str, Any], oso: bool):
        fault = sim._submission_fault("APEX")
        if fault is not None:
            return fault
        if body.get("isAutomated") is not True:
            return jsonify({"failureReason": "UnknownReason", "failureText": "isAutomated must be true"})
        contract = contract_named(body.get("symbol"))
        if contract is None:
            return jsonify({"failureReason": "InvalidContract", "failureText": "unknown symbol"})
        with sim.lock:
            qty = int(body["orderQty"])
            key = (int(body["accountId"]), contract["id"])
            f = sim.faults["APEX"]
            if f["risk_reject"] > 0:
                f["risk_reject"] -= 1
                answer = risk_rejected(body, key)
                sim._maybe_hang("APEX")
                return jsonify(answer)
            sim.tradovate_net[key] = sim.tradovate_net.get(key, 0) + (qty if body["action"] == "Buy" else -qty)
            bracket = (body.get("bracket1") or {}) if oso else {}
            stop = bracket.get("stopPrice")
            order = sim._record("APEX", account=int(body["accountId"]), kind="OPEN" if oso or stop else "ORDER",
                                side=body["action"].upper(), quantity=qty, symbol=body["symbol"], stop=stop,
                                client_id=body.get("clOrdId"), body=body)
            sim.tradovate_commands.append({"id": next(sim.ids), "orderId": order["id"], "clOrdId": body.get("clOrdId"),
                                           "commandType": "New", "commandStatus": "ExecutionStopped"})
            answer = {"orderId": order["id"]}
            filled(order["id"], key, body["action"], qty)  # listed too: filled, or PendingNew when asked to
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
            name = next(c["name"] for c in sim.tradovate_contracts if c["id"] == key[1])
            order = sim._record("APEX", account=key[0], kind="CLOSE", side="SELL" if net > 0 else "BUY",
                                quantity=abs(net), symbol=name, client_id=body.get("customTag50"), body=body)
            sim.tradovate_commands.append({"id": next(sim.ids), "orderId": order["id"], "clOrdId": None,
                                           "customTag50": body.get("customTag50"), "commandType": "New"})
            filled(order["id"], key, "Sell" if net > 0 else "Buy", abs(net))
        sim._maybe_hang("APEX")
        return jsonify({"orderId": order["id"]})

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

    @app.get("/v1/order/item")
    @guarded
    def tv_order():
        with sim.lock:
            order = sim.tradovate_orders.get(request.args.get("id", type=int))
        return (jsonify(order), 200) if order else (jsonify({"errorText": "not found"}), 404)

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

    def deps(items: list[dict[str, Any]], master: str):
        masterid = request.args.get("masterid", type=int)
        with sim.lock:
            return jsonify([dict(i) for i in items if i[master] == masterid])

    @app.get("/v1/commandReport/deps")
    @guarded
    def tv_command_reports():
        return deps(sim.tradovate_reports, "commandId")

    @app.get("/v1/fill/deps")
    @guarded
    def tv_fills():
        return deps(sim.tradovate_fills, "orderId")
