"""Tradovate order endpoints of the simulator: placing (market, OSO with a stop and a target
bracket, linked as an OCO), liquidating, modifying and cancelling, and the order / command /
report / fill entities reconciliation reads; `reach` moves the market through resting brackets."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, jsonify, request

if TYPE_CHECKING:
    from simulator.core import Simulator


def rest_brackets(sim: "Simulator", body: dict[str, Any], entry_id: int, key: tuple[int, int], qty: int) -> dict[str, int]:
    """An OSO's `bracket1` / `bracket2` as working orders of the entry's size, answered as
    oso1Id / oso2Id (PlaceOsoResult). Each names its entry as `parentId`, and two are an OCO:
    `linkedId` is the "OCO Linked Order (order to be canceled on this order's Fill)" (API
    Education, Order entity; place-oso: "filling one will cancel the other")."""
    ids = {}
    for n in (1, 2):
        bracket = body.get(f"bracket{n}")
        if not bracket:
            continue
        leg_id = next(sim.ids)
        sim.tradovate_orders[leg_id] = {"id": leg_id, "accountId": key[0], "contractId": key[1], "parentId": entry_id,
                                        "action": bracket.get("action"), "ordStatus": "Working"}
        sim.tradovate_versions[leg_id] = {"id": next(sim.ids), "orderId": leg_id, "orderQty": qty,
                                          "orderType": bracket.get("orderType"), "stopPrice": bracket.get("stopPrice"),
                                          "price": bracket.get("price")}
        ids[f"oso{n}Id"] = leg_id
    if len(ids) == 2:
        sim.tradovate_orders[ids["oso1Id"]]["linkedId"] = ids["oso2Id"]
        sim.tradovate_orders[ids["oso2Id"]]["linkedId"] = ids["oso1Id"]
    return ids


def fill_leg(sim: "Simulator", order: dict[str, Any]) -> None:
    """A working bracket order fills its current size; its OCO linked order is cancelled."""
    qty = sim.tradovate_versions[order["id"]]["orderQty"]
    key = (order["accountId"], order["contractId"])
    sim.tradovate_net[key] = sim.tradovate_net.get(key, 0) + (qty if order["action"] == "Buy" else -qty)
    order["ordStatus"] = "Filled"
    linked = sim.tradovate_orders.get(order.get("linkedId"))
    if linked is not None and linked["ordStatus"] == "Working":
        linked["ordStatus"] = "Canceled"


def reach(sim: "Simulator", account: int, price: float) -> None:
    """The market trades at `price`: each working order of the account it reaches fills - a sell
    Limit (target) at or below the price, a buy Limit at or above, a sell Stop at or above, a buy
    Stop at or below."""
    with sim.lock:
        for order in list(sim.tradovate_orders.values()):
            version = sim.tradovate_versions.get(order["id"], {})
            if order["accountId"] != account or order["ordStatus"] != "Working":
                continue
            selling = order["action"] == "Sell"
            if version.get("orderType") == "Limit":
                level = version["price"]
                reached = price >= level if selling else price <= level
            elif version.get("orderType") == "Stop":
                level = version["stopPrice"]
                reached = price <= level if selling else price >= level
            else:
                continue
            if reached:
                fill_leg(sim, order)


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
            brackets = [body[k] for k in ("bracket1", "bracket2") if oso and body.get(k)]
            stop = next((b.get("stopPrice") for b in brackets if b.get("orderType") == "Stop"), None)
            target = next((b.get("price") for b in brackets if b.get("orderType") == "Limit"), None)
            order = sim._record("APEX", account=int(body["accountId"]), kind="OPEN" if oso else "ORDER",
                                side=body["action"].upper(), quantity=qty, symbol=body["symbol"], stop=stop,
                                target=target, client_id=body.get("clOrdId"), body=body)
            sim.tradovate_commands.append({"id": next(sim.ids), "orderId": order["id"], "clOrdId": body.get("clOrdId"),
                                           "commandType": "New", "commandStatus": "ExecutionStopped"})
            answer = {"orderId": order["id"]}
            filled(order["id"], key, body["action"], qty)  # listed too: filled, or PendingNew when asked to
            sim.tradovate_versions[order["id"]] = {"id": next(sim.ids), "orderId": order["id"], "orderQty": qty,
                                                   "orderType": body.get("orderType", "Market"), "stopPrice": None}
            if oso:  # the brackets rest at the firm for the entry's full size until they fill or are changed
                answer.update(rest_brackets(sim, body, order["id"], key, qty))
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
                                                       "stopPrice": body.get("stopPrice", version["stopPrice"]),
                                                       "price": body.get("price", version.get("price"))}
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
