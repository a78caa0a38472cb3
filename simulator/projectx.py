"""The ProjectX Gateway subset the TOPSTEP connector speaks, with the gateway's unfriendly parts.

- Bracket ticks are signed from the entry price; the wrong sign is refused with errorCode 2
  "Invalid stop loss ticks (N). Ticks should be less than zero when longing." (not in the docs:
  observed live by public clients; the short-side and take-profit texts are the symmetric form,
  not seen verbatim).
- Bracket objects are accepted only in Auto OCO Brackets mode; an account in Position Brackets
  mode (fault `position_brackets`) refuses them with errorCode 2 "Brackets cannot be used with
  Position Brackets. You must enable Auto OCO Brackets.", and "the rejected order is still created
  and its ID is returned in `orderId`"
  (https://gateway.docs.projectx.com/docs/api-reference/order/order-place, newer revision).
- An entry's brackets rest as child orders (Stop / Limit, status Open, one cancelling the other
  when it fills: `reach` moves the market through them) that closeContract and
  partialCloseContract leave working: the API pages say nothing either way, the platform help says
  Auto OCO brackets "Must manage bracket orders manually"
  (https://help.projectx.com/settings/risk-settings/auto-oco-brackets), and public clients report
  the stop left working after a close.
- Orders carry their OrderStatus (https://gateway.docs.projectx.com/docs/realtime/); fault
  `reject_orders` records the next ones Rejected (5).
- A rolled contract (`roll`) is no longer listed by /api/Contract/available, and new orders on it
  are refused with errorCode 9 ContractNotActive; a position held in it can still be closed.
"""
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
FILL_PRICE = 16500.0
"""Where the simulated market fills every market order."""
POSITION_BRACKETS_MESSAGE = "Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets."
LEGS = {"stopLossBracket": ("stop loss", "less"), "takeProfitBracket": ("take profit", "greater")}
"""Bracket object -> (its name in the refusal, the sign a long's offset must have)."""


def contracts(sim: "Simulator") -> list[dict[str, Any]]:
    """The contracts /api/Contract/available lists now."""
    return [c for c in [*sim.projectx_listed, *PROJECTX_CONTRACTS] if c["id"] not in sim.projectx_delisted]


def roll(sim: "Simulator", old_id: str, new_contract: dict[str, Any]) -> None:
    """The front month changes: `new_contract` is listed first, `old_id` no longer listed."""
    with sim.lock:
        sim.projectx_listed.insert(0, {**new_contract, "activeContract": True})
        sim.projectx_delisted.add(old_id)


def working_orders(sim: "Simulator", account: int) -> list[dict[str, Any]]:
    """The account's resting orders (status Open), e.g. the brackets left after a close."""
    with sim.lock:
        return [dict(o) for o in sim.projectx_orders if o["accountId"] == account and o["status"] == 1]


def fire_stops(sim: "Simulator", account: int) -> None:
    """The market reaches the account's resting stops: each fills its current size."""
    with sim.lock:
        for o in sim.projectx_orders:
            if o["accountId"] == account and o["status"] == 1 and o["type"] == 4:
                _fill(sim, o)


def reach(sim: "Simulator", account: int, price: float) -> None:
    """The market trades at `price`: each of the account's resting legs it reaches fills its
    current size - a sell limit (target) at or below the price, a buy limit at or above, a sell
    stop at or above the price, a buy stop at or below - and cancels its OCO partner."""
    with sim.lock:
        for o in sim.projectx_orders:
            if o["accountId"] != account or o["status"] != 1:
                continue
            selling = o["side"] == 1
            if o["type"] == 1 and (price >= o["limitPrice"] if selling else price <= o["limitPrice"]):
                _fill(sim, o)
            elif o["type"] == 4 and (price <= o["stopPrice"] if selling else price >= o["stopPrice"]):
                _fill(sim, o)


def _fill(sim: "Simulator", order: dict[str, Any]) -> None:
    """A resting leg fills: the position moves by its size, and its Auto OCO partner is cancelled
    (https://help.projectx.com/settings/risk-settings/auto-oco-brackets: the stop and the target
    of one entry are one-cancels-other)."""
    key = (order["accountId"], order["contractId"])
    size = order["size"]
    sim.projectx_positions[key] = sim.projectx_positions.get(key, 0) + (size if order["side"] == 0 else -size)
    order.update(status=2, fillVolume=size)
    partner = sim.projectx_oco.pop(order["id"], None)
    sim.projectx_oco.pop(partner, None)
    for other in sim.projectx_orders:
        if other["id"] == partner and other["status"] == 1:
            other["status"] = 3


def _tick_refusal(body: dict[str, Any]) -> str | None:
    """The gateway's refusal of a bracket whose ticks have the wrong sign for the entry's side."""
    longing = body["side"] == 0
    for field, (name, long_sign) in LEGS.items():
        leg = body.get(field)
        if not leg:
            continue
        ticks = int(leg.get("ticks") or 0)
        sign = long_sign if longing else ("greater" if long_sign == "less" else "less")
        if (ticks < 0) != (sign == "less") or ticks == 0:
            return f"Invalid {name} ticks ({ticks}). Ticks should be {sign} than zero when {'longing' if longing else 'shorting'}."
    return None


def register(sim: "Simulator", app: Flask) -> None:
    """ProjectX Gateway (TOPSTEP) endpoints."""
    creds = sim.credentials

    def fault(name: str) -> Any:
        return sim.faults["TOPSTEP"][name]

    def ok(**data: Any):
        return jsonify({**data, "success": True, "errorCode": 0, "errorMessage": None})

    def fail(code: int, message: str, **data: Any):
        return jsonify({**data, "success": False, "errorCode": code, "errorMessage": message})

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
        with sim.lock:
            return ok(contracts=contracts(sim))

    def _refusal(body: dict[str, Any]) -> str | None:
        """Why the gateway rejects this order (it is still recorded, as Rejected), or None."""
        if (body.get("stopLossBracket") or body.get("takeProfitBracket")) and fault("position_brackets"):
            return POSITION_BRACKETS_MESSAGE
        why = _tick_refusal(body)
        if why is None and fault("reject_orders") > 0:
            sim.faults["TOPSTEP"]["reject_orders"] -= 1
            why = "Order rejected"
        return why

    def store(body: dict[str, Any], status: int) -> dict[str, Any]:
        """The order as the account's history keeps it (refused ones too)."""
        order = sim._record("TOPSTEP", account=int(body["accountId"]), kind="OPEN",
                            side="BUY" if body["side"] == 0 else "SELL", quantity=int(body["size"]),
                            symbol=body["contractId"], stop_ticks=(body.get("stopLossBracket") or {}).get("ticks"),
                            client_id=body.get("customTag"), body=body, status=status)
        sim.projectx_orders.append({"id": order["id"], "accountId": int(body["accountId"]), "contractId": body["contractId"],
                                    "status": status, "type": 2, "side": body["side"], "size": int(body["size"]),
                                    "limitPrice": None, "stopPrice": None, "fillVolume": int(body["size"]) if status == 2 else 0,
                                    "customTag": body.get("customTag")})
        return order

    def rest_brackets(body: dict[str, Any], contract: dict[str, Any]) -> None:
        """Auto OCO: each bracket object becomes a resting child order on the closing side; a stop
        and a target of one entry are linked, one cancelling the other (`_fill`)."""
        legs = []
        for field, default_type in (("stopLossBracket", 4), ("takeProfitBracket", 1)):
            leg = body.get(field)
            if not leg:
                continue
            price = FILL_PRICE + int(leg["ticks"]) * float(contract["tickSize"])
            order_type = int(leg.get("type") or default_type)
            legs.append({
                "id": next(sim.ids), "accountId": int(body["accountId"]), "contractId": body["contractId"], "status": 1,
                "type": order_type, "side": 1 - body["side"], "size": int(body["size"]),
                "limitPrice": price if order_type == 1 else None, "stopPrice": price if order_type in (3, 4) else None,
                "fillVolume": 0, "customTag": None})
        sim.projectx_orders.extend(legs)
        if len(legs) == 2:
            sim.projectx_oco.update({legs[0]["id"]: legs[1]["id"], legs[1]["id"]: legs[0]["id"]})

    @app.post("/api/Order/place")
    @guarded
    def px_place(body):
        refused = sim._submission_fault("TOPSTEP")
        if refused is not None:
            return refused
        with sim.lock:
            tag = body.get("customTag")
            if tag and any(o.get("customTag") == tag and o["accountId"] == body["accountId"] for o in sim.projectx_orders):
                return fail(2, "customTag must be unique across the account")
            if body.get("type") != 2 or body.get("side") not in (0, 1) or int(body.get("size", 0)) <= 0:
                return fail(2, "invalid order")
            contract = next((c for c in contracts(sim) if c["id"] == body.get("contractId")), None)
            if body.get("contractId") in sim.projectx_delisted:
                return fail(9, "The contract is not the currently active contract.")
            if contract is None:
                return fail(8, "Contract not found")
            why = _refusal(body)
            if why is not None:
                order = store(body, status=5)  # "the rejected order is still created"
            else:
                key = (int(body["accountId"]), body["contractId"])
                size = int(body["size"])
                sim.projectx_positions[key] = sim.projectx_positions.get(key, 0) + (size if body["side"] == 0 else -size)
                order = store(body, status=2)
                rest_brackets(body, contract)
        sim._maybe_hang("TOPSTEP")
        return fail(2, why, orderId=order["id"]) if why is not None else ok(orderId=order["id"])

    def close(body: dict[str, Any], partial: bool):
        refused = sim._submission_fault("TOPSTEP")
        if refused is not None:
            return refused
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
            return ok(orders=[dict(o) for o in sim.projectx_orders if o["accountId"] == body.get("accountId")])

    @app.post("/api/Order/searchOpen")
    @guarded
    def px_open_orders(body):
        return ok(orders=working_orders(sim, body.get("accountId")))

    def change(body: dict[str, Any], cancel: bool):
        """Order/cancel and Order/modify: errorCode 2 OrderNotFound for an order not working."""
        refused = sim._submission_fault("TOPSTEP")
        if refused is not None:
            return refused
        with sim.lock:
            order = next((o for o in sim.projectx_orders if o["id"] == body.get("orderId")
                          and o["accountId"] == body.get("accountId") and o["status"] == 1), None)
            if order is None:
                return fail(2, "Order not found")
            if fault("refuse_modify") > 0:
                sim.faults["TOPSTEP"]["refuse_modify"] -= 1
                return fail(3, "Order change rejected")
            if cancel:
                order["status"] = 3
            else:
                order.update({k: body[k] for k in ("size", "limitPrice", "stopPrice") if body.get(k) is not None})
            sim._record("TOPSTEP", account=order["accountId"], kind="CANCEL" if cancel else "MODIFY", side=None,
                        quantity=int(body.get("size") or 0), symbol=order["contractId"], client_id=None, body=body)
        return ok()

    @app.post("/api/Order/cancel")
    @guarded
    def px_cancel(body):
        return change(body, cancel=True)

    @app.post("/api/Order/modify")
    @guarded
    def px_modify(body):
        return change(body, cancel=False)

    @app.post("/api/Account/search")
    @guarded
    def px_accounts(body):
        figures = sim.account("TOPSTEP", 301, balance=50000.0)
        return ok(accounts=[{"id": 301, "name": "50KTC-SIM-301", "balance": figures["balance"], "canTrade": True,
                             "isVisible": True}])
